"""Work-arounds for Textual bugs that cost a long session, each until Textual fixes it.

Every part of the screen that is removed (an older turn of the conversation, past
``MAX_TURNS_SHOWN``; a toast that has timed out) should go with all it drew. Textual's
``StylesCache.get_inner_outer`` is an ``lru_cache(1024)`` on an *instance* method
(Textualize/textual#6665, open): its key is the widget's ``StylesCache``, so the last 1024
of them stayed alive with every line they had drawn. A conversation removes three or four
widgets a turn, so for its first few hundred turns each turn left ~500 more objects that
Python's full garbage collections walk, on the loop the engine shares: at 300 turns a full
collection took 116–280 ms (45–76 ms with this), and the loop stalled for up to 0.3 s while
an answer streamed.
"""

from __future__ import annotations

import dis
import functools
import inspect
from typing import Any

_CACHE_SIZE = 1024  # as Textual's own


def release_removed_widgets_drawing() -> None:
    """Cache ``get_inner_outer`` on its colours alone, as it only reads them. Idempotent;
    leaves Textual alone once it no longer caches the method per instance (a classmethod or
    staticmethod, or no cache at all), or once the method is no longer the one this calls
    with two colours (:func:`_reads_colours_only`)."""
    try:  # a private module: a later Textual 8 may move it, and the screen must still open
        from textual._styles_cache import StylesCache
    except ImportError:
        return  # moved: leave Textual as it is (the leak, not a TUI that fails to open)
    method = StylesCache.__dict__.get("get_inner_outer")
    original = getattr(method, "__wrapped__", None)
    if original is None or not hasattr(method, "cache_info"):
        return  # fixed upstream, or already replaced here
    if not _reads_colours_only(original):
        return  # not the method this was written for: a leak beats a screen never drawn

    @functools.lru_cache(_CACHE_SIZE)
    def by_colours(base_background: Any, background: Any) -> Any:
        return original(None, base_background, background)  # never reads its first argument

    def get_inner_outer(self: StylesCache, base_background: Any, background: Any) -> Any:
        return by_colours(base_background, background)

    # (setattr: the class declares it an lru_cache wrapper, which this replaces)
    setattr(StylesCache, "get_inner_outer", get_inner_outer)  # noqa: B010


def _reads_colours_only(function: Any) -> bool:
    """Whether ``function`` is Textual 8's ``get_inner_outer``: (instance, base_background,
    background), never reading the instance. Another Textual 8 may change it: called with
    two colours and no instance, it raised on every widget drawn."""
    try:
        names = tuple(inspect.signature(function).parameters)
        code = function.__code__
    except (TypeError, ValueError, AttributeError):
        return False
    if names[1:] != ("base_background", "background"):
        return False
    first = names[0]
    for instruction in dis.get_instructions(code):
        value = instruction.argval
        if instruction.opname.startswith("LOAD_") and (
            value == first or (isinstance(value, tuple) and first in value)
        ):
            return False
    return True
