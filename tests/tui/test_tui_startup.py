"""The seconds between the session being built and its start being over (the speech
services connecting, the tool servers coming up), driven with Textual's pilot on the real
session `voicedesk run --sim` builds and the simulated cloud."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from test_tui import (  # shared fixtures and helpers of the TUI tests
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    silence_wav,  # noqa: F401  (module fixture: a WAV of silence)
    sim_args,
    status_text,
    wait_until,
)
from textual.pilot import Pilot

from voicedesk import events as ev
from voicedesk.config import Settings
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.widgets.conversation import UserTurn


@contextlib.asynccontextmanager
async def slow_start_app(
    wav: Path, tmp_path: Path, *, mode: str
) -> AsyncIterator[tuple[VoiceDeskApp, Pilot, asyncio.Event]]:
    """The app on a real sim session whose start waits for the event yielded, as one does
    while its tool servers come up (seconds: the MCP servers are started then)."""
    from voicedesk.commands import tui

    args = sim_args(wav, tmp_path / "out.wav", mode=mode)
    settings = Settings()
    release = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        build = tui.session_factory(args, settings, stack)

        async def make_session(bus: ev.EventBus) -> Any:
            session = await build(bus)
            start = session.start

            async def slow_start() -> None:
                await release.wait()
                await start()

            session.start = slow_start
            return session

        app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_until(pilot, lambda: app.session is not None)  # built, not started
            assert not app.started.is_set()
            yield app, pilot, release


async def test_a_message_typed_while_the_conversation_starts_waits_in_the_box(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A message sent between the session being built and started went to a session not
    yet started: its answer was asked for without the tools (their servers were still
    coming up), the status bar went from "thinking" to "listening" as the start ended while
    the answer was still awaited, and its timings were on a clock not yet running. It stays
    in the box, as one sent while the session is being built does, and goes once the
    conversation has started."""
    async with slow_start_app(silence_wav, tmp_path, mode="hands-free") as (app, pilot, release):
        finals: list[str] = []
        app.bus.subscribe(
            lambda e: finals.append(e.text) if isinstance(e, ev.TranscriptFinal) else None
        )
        await pilot.press("t")
        app.text_input.value = "What is on my calendar?"
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert finals == []  # nothing went to the session that has not started
        assert app.text_input.value == "What is on my calendar?"  # nor was it lost
        assert any("still starting" in n.message for n in app._notifications)

        release.set()
        await wait_until(pilot, lambda: app.started.is_set())
        await wait_until(pilot, lambda: "listening" in status_text(app))
        await pilot.press("enter")  # the box still has the focus and the text
        await wait_until(pilot, lambda: finals == ["What is on my calendar?"])
        await wait_until(pilot, lambda: bool(app.query(UserTurn)))
        await pilot.press("ctrl+q")


async def test_the_talk_key_waits_for_the_conversation_to_start(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Space pressed before the start was over opened the microphone of a session that
    was not listening yet, and the start then said "listening" over the open push-to-talk
    (and in hands-free, "h" switched a mode the start went on to announce otherwise)."""
    async with slow_start_app(silence_wav, tmp_path, mode="hands-free") as (app, pilot, release):
        session = app.session
        assert session is not None
        await pilot.press("space")
        await pilot.pause(0.1)
        assert session.mode == "hands-free" and not app.ptt_open
        assert any("still starting" in n.message for n in app._notifications)
        release.set()
        await wait_until(pilot, lambda: app.started.is_set())
        await pilot.press("space")
        assert session.mode == "push-to-talk" and app.ptt_open
        await wait_until(pilot, lambda: app.status_bar.state == "hearing")
        await pilot.press("ctrl+q")
