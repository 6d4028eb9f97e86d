"""One small HTTP server on a free local port, for tests that need a server the simulated
cloud does not imitate (a speech endpoint that splits its audio at a chosen sample, a chat
endpoint that keeps the raw request). ``tests/`` is on ``sys.path`` through its conftest."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@contextlib.asynccontextmanager
async def serving(path: str, handler: Handler) -> AsyncIterator[str]:
    """Answer POSTs to ``path`` with ``handler`` over a real socket; yields the base URL
    (``http://127.0.0.1:PORT``), and stops the server however the test ends."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
