"""``app.started`` is the one point at which the conversation's start is over *and settled*:
the focus the text box held while it started is back on the conversation, and a line sent
while it started has gone. Set as the start ended (before the focus moved, a message or two
later), a test that waited on it and pressed a key or read the footer at once raced the
hand-over, and on a loaded CI machine lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from test_tui import (  # shared fixtures and helpers of the TUI tests
    FakeSession,
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    wait_until,
)

from voicedesk import events as ev
from voicedesk.config import Settings
from voicedesk.tui.app import VoiceDeskApp


class StartedSeen(asyncio.Event):
    """``started``, noting how the app stood at the moment it was set: what a waiter (a
    test, whoever presses a key next) may rely on from then on, whatever the load."""

    def __init__(self, app: VoiceDeskApp) -> None:
        super().__init__()
        self.app = app
        self.seen: dict[str, object] | None = None

    def set(self) -> None:
        if self.seen is None:
            app = self.app
            self.seen = {
                "conversation_focused": app.conversation.has_focus,
                "box_focused": app.text_input.has_focus,
                "box": app.text_input.value,
            }
        super().set()


def watched(app: VoiceDeskApp) -> StartedSeen:
    seen = StartedSeen(app)
    app.started = seen
    return seen


async def test_started_is_set_once_the_focus_is_back_on_the_conversation(
    tmp_path: Path,
) -> None:
    app = fake_app(tmp_path)
    started = watched(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(started.wait(), 10)
        assert started.seen == {"conversation_focused": True, "box_focused": False, "box": ""}
        await pilot.press("m")  # a conversation key, pressed at once, is one
        assert isinstance(app.session, FakeSession) and app.session.muted
        await pilot.press("q")


async def test_started_is_set_once_a_line_sent_while_starting_has_gone(tmp_path: Path) -> None:
    release = asyncio.Event()
    settings = Settings()
    sessions: list[FakeSession] = []

    class SlowStart(FakeSession):
        async def start(self) -> None:
            await release.wait()
            await super().start()

    async def make_session(bus: ev.EventBus) -> Any:
        sessions.append(SlowStart(bus, settings))
        return sessions[-1]

    app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")
    started = watched(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(sessions))
        assert app.text_input.has_focus
        await pilot.press(*"hello", "enter")  # kept in the box until the start is over
        assert app.text_input.value == "hello" and not started.is_set()
        release.set()
        await asyncio.wait_for(started.wait(), 10)
        assert started.seen == {"conversation_focused": True, "box_focused": False, "box": ""}
        await wait_until(pilot, lambda: "text:hello" in sessions[0].calls)
        assert sessions[0].calls.count("text:hello") == 1
        await pilot.press("q")
