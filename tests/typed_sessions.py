"""Typed conversations over the simulated cloud, as the context and resume tests hold them:
a session with no microphone to speak of, lines typed one by one and each answered before
the next. ``tests/`` is on ``sys.path`` through its conftest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from voicedesk.bench.scenarios import compose
from voicedesk.config import Settings
from voicedesk.engine.builder import SimOptions, build_session, settings_for_sim, sim_server
from voicedesk.sim.script import SimScript


def long_notes(first: int, last: int, *, length: int = 14) -> list[str]:
    """Typed turns long enough to outgrow a small context window in a few turns."""
    return [
        f"Note {i}: the shipment for order {i * 111} leaves dock {i} on day {i}."
        + " It carries spare parts, cables and boxes of printed manuals for the branch." * length
        for i in range(first, last + 1)
    ]


async def typed_and_answered(session: Any, text: str, timeout_s: float = 20) -> None:
    """Type ``text`` into the started ``session`` and wait until its answer is over.

    ``send_text`` returns with the answer's task under way, which keeps the session busy,
    so ``wait_idle`` cannot end before the answer does: a pause between them (0.2 s or
    0.5 s, as the tests had) only made every typed turn that much longer."""
    await session.send_text(text)
    await asyncio.wait_for(session.wait_idle(), timeout_s)


async def converse_in_text(session: Any, texts: list[str]) -> None:
    """Start ``session``, type each text and wait for its answer, then stop it."""
    await session.start()
    try:
        for text in texts:
            await typed_and_answered(session, text)
        await session.context.wait_summary()
    finally:
        await session.stop()


@asynccontextmanager
async def session_over_sim(
    tmp_path: Path,
    settings: Settings,
    script: SimScript | None = None,
    *,
    silence_s: float | None = 4.0,
    sim: dict[str, Any] | None = None,
    **build: Any,
) -> AsyncIterator[tuple[Any, Any]]:
    """A simulated cloud answering by ``script`` quickly (50 ms to each first byte) and a
    session of ``settings`` built on it, not started: ``(server, session)``. The tests that
    watch a session mid-way (inject a fault, subscribe to its bus, wait on its tools) each
    wrote this start-up out again. ``sim`` sets other ``SimOptions`` (``ttft_s``,
    ``context_window``, ``tokens_per_s``); no ``script``: the simulated cloud's own
    default answers. Its input is ``silence_s`` of silence written to
    ``tmp_path``/in.wav (None: the test wrote that file itself), so no spoken turn comes
    between typed ones; ``build`` goes on to ``build_session`` (``with_tools``,
    ``output_path``, ``bus``; ``log_kind`` is "sim" unless given)."""
    if silence_s is not None:
        compose([], tail_s=silence_s).write(tmp_path / "in.wav")
    build.setdefault("log_kind", "sim")
    quick: dict[str, Any] = {"ttft_s": 0.05, "ttfb_s": 0.05, "stt_s": 0.05}
    options = SimOptions(**{**quick, "script": script, **(sim or {})})
    async with sim_server(options) as server:
        session = build_session(
            settings_for_sim(settings, server.base_url), input_path=tmp_path / "in.wav", **build
        )
        yield server, session


async def typed_over_sim(
    tmp_path: Path, settings: Settings, script: SimScript, texts: list[str], **build: Any
) -> Any:
    """A session of ``settings`` over a simulated cloud of its own answering by ``script``
    (:func:`session_over_sim`), ``texts`` typed and answered in turn, and the session
    stopped: what it kept is for the test to look at."""
    async with session_over_sim(tmp_path, settings, script, **build) as (_, session):
        await converse_in_text(session, texts)
    return session
