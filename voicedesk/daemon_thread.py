"""Work awaited from the event loop on a daemon thread of its own.

Not the loop's executor (``asyncio.to_thread``): ``asyncio.run`` joins the executor's
threads at exit, and a thread cannot be stopped, so work given up on (the person quit while
the session was built, a Ctrl-C while a model check waited on a server, a cancelled check
of a 2 MB tool schema) held the exit for as long as it still ran, 5-17 s here. A daemon
thread is left to end with the process. Standard library only: the terminal UI imports it
before anything heavy.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")


async def on_daemon_thread(work: Callable[[], _T], *, name: str) -> _T:
    """``work()``'s result (or its exception), computed on a daemon thread named ``name``.
    Cancelled, the awaiting task stops waiting at once; the thread runs on, unjoined."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[_T] = loop.create_future()

    def settle(result: _T | None, error: BaseException | None) -> None:
        if done.done():  # given up on (cancelled): nobody waits for it
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = work(), None
        except BaseException as exc:  # handed to the awaiting task
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed: the program is ending
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await done
