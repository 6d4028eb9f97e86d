"""Keeping the objects a session starts with out of Python's full garbage collections.

The SDKs, the on-device models and (in the terminal UI) Textual leave a few hundred thousand
objects that live as long as the process, and every full collection walked them all: every
few turns it held the event loop the engine runs on for 0.16–0.24 s (40 typed turns on the
simulated cloud: 7 such pauses, median 160 ms; 20 ms once frozen). A stall there is a stall
in whatever the engine was doing: deciding an end of turn, feeding the speaker.
"""

from __future__ import annotations

import atexit
import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    """Collect once, then move everything the process holds into the collector's permanent
    generation (:func:`gc.freeze`): never walked again, while what the conversation makes
    later still is. The price is that garbage among them is never freed, so this runs once
    the session has started, after a collection, and only in a process that exists for that
    session (the commands, not tests that go on to other things).

    They are thawed when the process exits, before the interpreter's last collection: left
    frozen they were never freed, and the echo canceller's binding (nanobind) printed a
    screen of "leaked function" warnings at every exit."""
    gc.collect()
    gc.freeze()
    atexit.register(gc.unfreeze)
    log.info("%d start-up objects kept out of garbage collection", gc.get_freeze_count())
