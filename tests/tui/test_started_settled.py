"""``app.started`` is the one point at which the conversation's start is over *and settled*:
the focus the text box held while it started is back on the conversation, and a line sent
while it started has gone. Set as the start ended (before the focus moved, a message or two
later), a test that waited on it and pressed a key or read the footer at once raced the
hand-over, and on a loaded CI machine lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    FakeSession,
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    wait_until,
)
from textual import events

from voicedesk import events as ev
from voicedesk.config import Settings
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.screens import SettingsScreen


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


def slow_app(tmp_path: Path, release: asyncio.Event, sessions: list[FakeSession], then: Any) -> Any:
    """The app on a FakeSession whose start waits for ``release``; ``then(app)`` runs as the
    start ends, on the worker, before the app hands the keys back (no await between)."""
    settings = Settings()
    app: VoiceDeskApp

    class SlowStart(FakeSession):
        async def start(self) -> None:
            await release.wait()
            await super().start()
            then(app)

    async def make_session(bus: ev.EventBus) -> Any:
        sessions.append(SlowStart(bus, settings))
        return sessions[-1]

    app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")
    return app


@pytest.mark.parametrize(
    ("key", "character", "call"), [("space", " ", "ptt_press"), ("m", "m", "muted:True")]
)
@pytest.mark.parametrize("line", ["", "hello"])
async def test_a_key_pressed_as_the_start_ends_does_what_the_conversations_key_does(
    tmp_path: Path, key: str, character: str, call: str, line: str
) -> None:
    """A key sent to the text box (it has the focus while the session starts) and handled
    there just after the start ended, as the focus went back to the conversation: a space
    was typed into the box as a blank, the microphone left closed, and the box kept it.
    It does what the same key does a moment later (space talks, m mutes), nothing typed;
    so too after a line sent while starting has gone."""
    release = asyncio.Event()
    sessions: list[FakeSession] = []

    def key_on_its_way(app: VoiceDeskApp) -> None:
        # as the app sends a key to the focused widget: on the box's queue, not yet handled
        app.text_input._forward_event(events.Key(key, character))

    app = slow_app(tmp_path, release, sessions, key_on_its_way)
    started = watched(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(sessions))
        if line:
            await pilot.press(*line, "enter")  # kept, and sent once the start is over
        release.set()
        await asyncio.wait_for(started.wait(), 10)
        await wait_until(pilot, lambda: call in sessions[0].calls)
        assert app.text_input.value == "" and app.conversation.has_focus
        assert sessions[0].calls.count(call) == 1  # not doubled
        assert sessions[0].calls.count(f"text:{line}") == (1 if line else 0)
        await pilot.press("q")


async def test_a_dialog_opened_during_the_start_leaves_it_settled_on_the_conversation(
    tmp_path: Path,
) -> None:
    """``started`` waited behind the top screen's focused widget: a dialog's (ctrl+s opened
    during the start), whose queue says nothing of the conversation's Focus, so it could be
    set before the conversation had the focus. It waits for the conversation's Focus, and
    is set with the dialog still open; the dialog closed, the conversation's keys work."""
    release = asyncio.Event()
    gate = asyncio.Event()
    sessions: list[FakeSession] = []

    def hold_the_conversations_queue(app: VoiceDeskApp) -> None:
        async def held() -> None:
            await gate.wait()

        app.conversation.call_later(held)  # its Focus event comes behind this

    app = slow_app(tmp_path, release, sessions, hold_the_conversations_queue)
    started = watched(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: bool(sessions))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        dialog_focus = app.screen.focused
        release.set()
        await wait_until(pilot, lambda: not app.text_input.has_focus)  # its Blur handled
        # each queue a settling step went through has run past where the step was put
        for queue in (app.text_input, dialog_focus):
            if queue is not None:
                passed = asyncio.Event()
                queue.call_later(passed.set)
                await asyncio.wait_for(passed.wait(), 10)
        settled_early = started.is_set()
        gate.set()  # (before asserting: a held queue would hold the app's exit)
        assert not settled_early  # the conversation had not had its Focus yet
        await asyncio.wait_for(started.wait(), 10)
        assert started.seen == {"conversation_focused": True, "box_focused": False, "box": ""}
        assert isinstance(app.screen, SettingsScreen)  # settled under the open dialog
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, SettingsScreen))
        await pilot.press("m")
        await wait_until(pilot, lambda: "muted:True" in sessions[0].calls)
        await pilot.press("q")
