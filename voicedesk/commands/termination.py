"""A run ended by SIGTERM (``kill``, a logout, a service manager) or, headless, by SIGHUP (its
terminal closed) ends as Ctrl-C ends it: the answer being played is cut where it was heard
and logged, the output WAV so far is written and said where it is. Without this the
process died on the spot, and the WAV and the answer's record were lost."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

_T = TypeVar("_T")


@contextlib.contextmanager
def on_termination(
    callback: Callable[[int], None], signals: tuple[int, ...] = (signal.SIGTERM,)
) -> Iterator[None]:
    """Call ``callback(signum)`` on the running loop when one of ``signals`` comes."""
    loop = asyncio.get_running_loop()
    installed = []
    for signum in signals:
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


async def until_terminated(run: Awaitable[int]) -> int:
    """``run``'s exit code, or 128 + the signal's number when a signal cancelled it (its
    own clean-up, as for Ctrl-C, has run by then)."""
    task = asyncio.current_task()
    assert task is not None
    got: list[int] = []

    def stop(signum: int) -> None:
        got.append(signum)
        task.cancel()

    with on_termination(stop, (signal.SIGTERM, signal.SIGHUP)):
        try:
            return await run
        except asyncio.CancelledError:
            if not got:
                raise
            task.uncancel()
            return 128 + got[0]


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
