"""A run ended by SIGTERM (``kill``, a logout, a service manager) or, headless, by SIGHUP (its
terminal closed) ends as Ctrl-C ends it: the answer being played is cut where it was heard
and logged, the output WAV so far is written and said where it is. Without this the
process died on the spot, and the WAV and the answer's record were lost."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from voicedesk.cli import leave_now
from voicedesk.exit_status import SIGNALLED

_T = TypeVar("_T")

# The signals :func:`until_terminated` got, for the run it is awaiting (the same task, so the
# same context): that run tells a stop of the person's from one of its own (its output lost)
_GOT: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "voicedesk_signals_got", default=None
)


def stopping_signal() -> int | None:
    """The signal (Ctrl-C's SIGINT, SIGTERM, SIGHUP) that is stopping the run
    :func:`until_terminated` awaits in this task, if one has come. A headless run whose
    output's reader went away as the person pressed Ctrl-C (in a terminal it reaches
    every process of `voicedesk run … | head`, so head goes with it) is said and ended as
    interrupted: ended as a lost output, it exited 141, at times 1."""
    got = _GOT.get()
    return got[0] if got else None


@contextlib.contextmanager
def on_termination(
    callback: Callable[[int], None], signals: tuple[int, ...] = (signal.SIGTERM,)
) -> Iterator[None]:
    """Call ``callback(signum)`` on the running loop when one of ``signals`` comes.

    A signal the process was started with ignored is left ignored: `nohup` ignores SIGHUP
    (and its person expects the run to outlive the terminal), a non-interactive shell starts
    its background jobs with SIGINT ignored (the Ctrl-C meant for the foreground command
    must not stop them). Taken over here, ~0.5 s after the start, both ended the run."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in signals:
        if _ignored(signum):
            continue
        try:
            loop.add_signal_handler(signum, callback, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # no such signal here
            continue
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def _ignored(signum: int) -> bool:
    """Whether ``signum`` is ignored now. Nothing of ours ignores a signal before the way
    out (``leave_now``), so during a run that is what the process inherited: Python keeps
    an inherited SIG_IGN for SIGINT rather than raising KeyboardInterrupt on it."""
    try:
        return signal.getsignal(signum) is signal.SIG_IGN
    except ValueError:  # no such signal here
        return False


async def until_terminated(run: Awaitable[int], *, leave: bool = False) -> int:
    """``run``'s exit code, or 128 + the signal's number when Ctrl-C, SIGTERM or SIGHUP
    cancelled it (its own clean-up, closing the session log and the output WAV, has run
    by then). A second signal does not cancel that clean-up again; with ``leave``, a
    second one ends the process at once (an impatient person's second Ctrl-C: the session
    log is written as things happen, and what a clean-up cut short leaves is kept, as a
    killed run's ``OUT.partial.wav`` is).

    ``leave``: the process ends right after that clean-up (``leave_now``), for a command
    whose process exists for this run. It waited before for work left on other threads,
    whose results nobody would read: a model warming up in the loop's executor (joined
    by ``asyncio.run``), Whisper encoding its silence (``local_stt``, not a daemon: a
    finalising interpreter crashed under it), a session still being built. Under load
    that was 5-13 s after Ctrl-C."""
    task = asyncio.current_task()
    assert task is not None
    got: list[int] = []

    def stop(signum: int) -> None:
        got.append(signum)
        if len(got) == 1:
            task.cancel()
        elif leave:
            print("voicedesk: stopping now, without waiting for the clean-up", file=sys.stderr)
            leave_now(SIGNALLED + got[0])

    token = _GOT.set(got)
    with on_termination(stop, (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
        try:
            code = await run
        except asyncio.CancelledError:
            if not got:
                raise
            task.uncancel()
            code = SIGNALLED + got[0]
        else:
            if not got:
                return code
            # The run ended on its own as the signal came (its output's reader gone with
            # the Ctrl-C, it stopped for that): the person's signal says why it ended. The
            # signal's cancel, if still to be delivered, would cancel the finished task.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0)
            if task.cancelling():
                task.uncancel()
            code = SIGNALLED + got[0]
        finally:
            _GOT.reset(token)
    if leave:
        leave_now(code)
    return code


async def exiting_on_termination(work: Awaitable[_T]) -> _T:
    """``work``'s result; SIGTERM or SIGHUP cancel it as Ctrl-C does (its own clean-up
    runs: `doctor --online` stops the tool servers it started), then end the process
    with 128 + the signal's number. For work that has no exit code to give instead."""
    done: list[_T] = []

    async def run() -> int:
        done.append(await work)
        return 0

    code = await until_terminated(run())
    if not done:
        raise SystemExit(code)
    return done[0]
