"""The terminal UI, driven with Textual's pilot.

Most tests run a REAL engine session (``build_session``) over a WAV of silence against the
simulated cloud, so a typed turn, push-to-talk and interruption go through the whole
pipeline. Screens that do not need the engine use a do-nothing fake session; snapshots use
the fake plus events published on the bus, so they are deterministic (no clocks, no levels).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import tomllib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Markdown, OptionList, Static, TextArea

from voicedesk import events as ev
from voicedesk.audio.wavio import write_wav
from voicedesk.config import Settings
from voicedesk.engine.builder import build_session, settings_for_sim
from voicedesk.errors import AudioUnavailableError, UserError
from voicedesk.sim.script import SimScript, SimTurn
from voicedesk.sim.server import SimLatency, SimServer
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.screens import (
    ContextScreen,
    DevicesScreen,
    ErrorScreen,
    HelpScreen,
    SettingsScreen,
    SetupScreen,
    ToolDetailScreen,
)
from voicedesk.tui.widgets.conversation import (
    CUT_MARKER,
    AssistantTurn,
    ConversationPane,
    NoticeLine,
    ToolCard,
    UserTurn,
)
from voicedesk.tui.widgets.status import StatusBar
from voicedesk.tui.widgets.timings import RECORDS_KEPT, TimingsPane, Waterfall
from voicedesk.tui.widgets.tools import CALLS_KEPT, ToolPane

QUESTION = "What is the capital of France?"
ANSWER = "Paris is the capital of France."
LONG_ANSWER = " ".join(
    f"Sentence number {i} of a long answer that keeps the assistant talking for a while."
    for i in range(1, 9)
)


# A plain turn's stages (no tools), as a turn record's "t" holds them.
PLAIN_T = {
    "speech_end": 4.0,
    "eou_decided": 4.2,
    "stt_final": 4.15,
    "llm_request": 4.16,
    "llm_first_token": 4.7,
    "tts_request": 4.71,
    "tts_first_audio": 5.0,
    "playback_start": 5.01,
}


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Session logs and config go to a temporary folder, never the developer's home."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("VOICEDESK_CONFIG", str(tmp_path / "config" / "config.toml"))
    # a server there (`eval "$(voicedesk sim --detach)"` in the developer's shell) is the
    # LLM's, and a setup screen would not be shown
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def silence_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audio") / "silence.wav"
    write_wav(path, np.zeros(16_000 * 30, np.int16), 16_000)
    return path


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    script = SimScript(
        turns=[
            SimTurn(transcript=QUESTION, reply=ANSWER),
            SimTurn(transcript="Tell me a long story.", reply=LONG_ANSWER),
        ]
    )
    async with SimServer(script, SimLatency(ttft_s=0.1, ttfb_s=0.05, stt_s=0.05)) as server:
        yield server


def sim_app(
    base_url: str, silence_wav: Path, tmp_path: Path, *, resume: bool = False
) -> VoiceDeskApp:
    """The app with a factory that builds a real engine session on the simulated cloud at
    ``base_url``, hearing ``silence_wav``; its log is ``tmp_path / "session.jsonl"``, which
    ``resume`` continues (as ``voicedesk --resume``)."""
    settings = Settings()

    async def make_session(bus: ev.EventBus) -> Any:
        return build_session(
            settings_for_sim(settings, base_url),
            input_path=silence_wav,
            bus=bus,
            with_tools=False,
            log_path=tmp_path / "session.jsonl",
            resume=resume,
        )

    return VoiceDeskApp(
        settings,
        make_session,
        simulated=True,
        log_path=tmp_path / "tui.log",
        config_path=tmp_path / "config.toml",
    )


@pytest.fixture
def real_app(sim: SimServer, silence_wav: Path, tmp_path: Path) -> VoiceDeskApp:
    """The app on a real engine session on the simulated cloud."""
    return sim_app(sim.base_url, silence_wav, tmp_path)


class FakeSession:
    """A SessionControl that does nothing but remember what it was asked."""

    def __init__(self, bus: ev.EventBus, settings: Settings) -> None:
        self.bus = bus
        self.settings = settings
        self.state: ev.EngineState = "idle"
        self.mode = "hands-free"
        self.muted = False
        self.talk_key_down = False
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")

    def set_mode(self, mode: str, *, talk_key: bool = False) -> None:
        self.calls.append(f"mode:{mode}")
        self.mode = mode

    def ptt_press(self) -> None:
        self.calls.append("ptt_press")
        self.talk_key_down = True

    def ptt_release(self) -> None:
        self.calls.append("ptt_release")
        self.talk_key_down = False

    def set_muted(self, muted: bool) -> None:
        self.calls.append(f"muted:{muted}")
        self.muted = muted

    def interrupt(self) -> None:
        self.calls.append("interrupt")

    async def send_text(self, text: str) -> None:
        self.calls.append(f"text:{text}")

    def play_check_sound(self) -> float | None:
        self.calls.append("check_sound")
        return None  # no speaker here


def fake_app(tmp_path: Path, *, theme: str | None = None) -> VoiceDeskApp:
    settings = Settings()
    if theme:
        settings.ui.theme = theme

    async def make_session(bus: ev.EventBus) -> Any:
        return FakeSession(bus, settings)

    return VoiceDeskApp(
        settings,
        make_session,
        simulated=True,
        log_path=Path("/var/log/voicedesk/tui.log"),
        config_path=tmp_path / "config.toml",
    )


# ---------------------------------------------------------------------------- helpers
async def wait_until(pilot: Pilot, cond: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


async def started(pilot: Pilot) -> VoiceDeskApp:
    app = pilot.app
    assert isinstance(app, VoiceDeskApp)
    await asyncio.wait_for(app.started.wait(), 15)
    assert app.start_error is None, app.start_error
    await wait_until(pilot, lambda: app.session is not None and app.session.state != "idle")
    # the text box held the focus while it started and gives it back to the conversation
    # (whose keys a test presses next) just after: a CI run pressed "m" into the box
    box = app.text_input
    await wait_until(pilot, lambda: app.typing_only or not box.has_focus or bool(box.value.strip()))
    return app


def text_of(widget: Static) -> str:
    return str(widget.render())


def help_keys_text(screen: Any) -> str:
    """The help's key table, a line per key: "key  what it does"."""
    cells = [text_of(cell) for cell in screen.query_one("#help-keys").query(Static)]
    return "\n".join(f"{key}  {text}" for key, text in zip(cells[::2], cells[1::2], strict=True))


def status_text(app: VoiceDeskApp) -> str:
    bar = app.query_one(StatusBar)
    return " ".join(text_of(w) for w in bar.query(Static))


def conversation(app: VoiceDeskApp) -> ConversationPane:
    return app.query_one(ConversationPane)


# ---------------------------------------------------------------------------- real session
async def test_typed_turn_goes_through_the_engine(real_app: VoiceDeskApp) -> None:
    async with real_app.run_test(size=(80, 24)) as pilot:
        app = await started(pilot)
        # the status bar follows the session's state a message later (on a loaded machine,
        # still "starting mic" when the session already listened)
        await wait_until(pilot, lambda: "listening" in status_text(app))
        await pilot.press("t")
        assert app.query_one("#text-input", Input).has_focus
        await pilot.press(*"What ")  # real key presses land in the input…
        assert app.text_input.value == "What "
        app.text_input.value = QUESTION  # …the rest is set directly (pilot types slowly)
        await pilot.press("enter")
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records))

        users = list(conversation(app).query(UserTurn))
        assistants = list(conversation(app).query(AssistantTurn))
        assert [u.text for u in users] == [QUESTION]
        assert not users[0].has_class("provisional")
        assert assistants[0].display_text == f"assistant › {ANSWER}"

        record = timings.records[-1]
        assert record["user_text"] == QUESTION and record["ttft"] is not None
        waterfall = str(app.query_one(Waterfall).render())
        assert "LLM TTFT" in waterfall and "TTS TTFB" in waterfall and "ms" in waterfall
        assert "turn 1" in str(timings.border_subtitle)
        assert "ctx" in status_text(app)  # ContextUpdated reached the status bar
        # focus went back to the conversation: keys act again
        assert not app.query_one("#text-input", Input).has_focus
        await pilot.press("q")
    assert real_app.return_value == 0


async def test_push_to_talk_toggle_and_quit(real_app: VoiceDeskApp) -> None:
    async with real_app.run_test(size=(80, 24)) as pilot:
        app = await started(pilot)
        session = app.session
        assert session is not None and session.mode == "hands-free"
        notices: list[str] = []
        app.bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else 0)

        await pilot.press("space")  # opens the mic: switches to push-to-talk
        assert session.mode == "push-to-talk"
        await wait_until(pilot, lambda: app.query_one(StatusBar).state == "hearing")
        assert "push-to-talk" in status_text(app) and "hearing you" in status_text(app)
        assert app.query_one(StatusBar).mode_text == "push-to-talk (mic open)"

        await pilot.press("space")  # ends the turn now (silence: no words, turn dropped)
        assert app.query_one(StatusBar).mode_text == "push-to-talk"
        await wait_until(pilot, lambda: app.query_one(StatusBar).state != "hearing")
        assert session.mode == "push-to-talk"
        # the person sent it: that nothing was heard is said, once
        await wait_until(pilot, lambda: any("No words were heard" in n for n in notices))
        await pilot.pause(0.3)
        assert sum("No words were heard" in n for n in notices) == 1

        await pilot.press("q")
        assert session.state == "idle"  # stopped by quit
    assert real_app.return_value == 0
    assert real_app.session is None


async def test_hands_free_mute_and_interrupt(real_app: VoiceDeskApp) -> None:
    async with real_app.run_test(size=(80, 24)) as pilot:
        app = await started(pilot)
        session = app.session
        assert session is not None
        bar = app.query_one(StatusBar)

        await pilot.press("h")
        assert session.mode == "push-to-talk" and bar.mode_text == "push-to-talk"
        await pilot.press("h")
        assert session.mode == "hands-free" and bar.mode_text == "hands-free"

        await pilot.press("m")
        assert session.muted
        await wait_until(pilot, lambda: bar.state == "muted")
        assert bar.mode_text == "muted" and "muted" in status_text(app)
        await pilot.press("space")  # refused while muted, with a notice
        assert session.mode == "hands-free"
        await pilot.press("m")
        assert not session.muted
        await wait_until(pilot, lambda: bar.state == "listening")

        # a long answer, cut while it is being spoken
        playing: list[ev.PlaybackStarted] = []
        app.bus.subscribe(
            lambda e: playing.append(e) if isinstance(e, ev.PlaybackStarted) else None
        )
        await pilot.press("t")
        app.text_input.value = "Tell me a long story."
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(playing))
        await pilot.pause(0.5)
        await pilot.press("t", "escape")  # Esc in the text box only leaves it…
        assert not app.text_input.has_focus
        await pilot.pause(0.3)
        assert app.session is not None and app.session.state == "speaking"
        await pilot.press("i")  # …i (or Esc outside it) stops the answer
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records))
        assert timings.records[-1]["interrupted"] is True
        answer = conversation(app).assistants[1]
        assert answer.interrupted
        assert CUT_MARKER.strip() in answer.display_text
        heard = timings.records[-1]["heard_text"]
        assert answer.display_text.startswith(f"assistant › {heard.rstrip()}")

        await pilot.press("escape")  # nothing playing: harmless
        await pilot.press("q")
    assert real_app.return_value == 0


# ---------------------------------------------------------------------------- synthetic events
async def test_every_engine_state_in_the_status_bar(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        expected = {
            "listening": "listening",
            "hearing": "hearing you",
            "thinking": "thinking",
            "speaking": "speaking",
            "tool": "tool running",
            "muted": "muted",
            "idle": "idle",
        }
        for state, label in expected.items():
            app.bus.publish(ev.StateChanged(state=state))  # type: ignore[arg-type]
            await pilot.pause()
            assert label in text_of(app.query_one("#status-state", Static)), state
            assert app.query_one("#status-state").has_class(f"state-{state}")

        app.bus.publish(ev.InputLevel(rms_dbfs=-20.0))
        app.bus.publish(ev.ContextUpdated(prompt_tokens=1500, budget_tokens=6000))
        await pilot.pause()
        assert "ctx 1.5k/6.0k" in status_text(app)
        assert "mic" in text_of(app.query_one("#status-level", Static))
        app.bus.publish(ev.InputLevel(rms_dbfs=-120.0, zero_input=True))
        await pilot.pause()
        assert "mic 0" in text_of(app.query_one("#status-level", Static))
        assert "gpt-4o-mini" in status_text(app)


async def started_fake(pilot: Pilot) -> FakeSession:
    app = pilot.app
    assert isinstance(app, VoiceDeskApp)
    await asyncio.wait_for(app.started.wait(), 5)
    assert isinstance(app.session, FakeSession)
    return app.session


async def test_keys_call_the_session(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        session = await started_fake(pilot)
        await pilot.press("space", "space", "h", "m", "m", "i", "escape")
        await pilot.press("t", "q", "escape")  # typing "q" in the input does not quit
        assert not app.text_input.has_focus and app.is_running
        app.text_input.value = ""
        await pilot.press("t", *"hi there", "enter")
        await pilot.pause()
        assert session.calls == [
            "start",
            "mode:push-to-talk",
            "ptt_press",
            "ptt_release",
            "mode:hands-free",
            "muted:True",
            "muted:False",
            "interrupt",
            "interrupt",  # (the Esc that left the text box stopped nothing)
            "text:hi there",
        ]
        await pilot.press("q")
    assert session.calls[-1] == "stop"


async def test_command_palette_lists_the_actions(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        titles = {cmd.title for cmd in app.get_system_commands(app.screen)}
        for title in ("Push-to-talk", "Hands-free on/off", "Mute / unmute", "Interrupt"):
            assert title in titles
        for title in ("Type a message", "Settings", "Sound devices", "Help"):
            assert title in titles


async def test_transcripts_answers_and_tool_cards(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        bus = app.bus
        bus.publish(ev.TranscriptInterim(turn_id=1, text="read me the"))
        await pilot.pause()
        user = conversation(app).users[1]
        assert user.has_class("provisional") and user.text == "read me the"
        bus.publish(ev.TranscriptFinal(turn_id=1, text="Read me the budget memo."))
        bus.publish(ev.TranscriptInterim(turn_id=1, text="stale interim"))  # never undoes final
        await pilot.pause()
        assert not user.has_class("provisional") and user.text == "Read me the budget memo."

        bus.publish(ev.LLMRequest(turn_id=1))
        bus.publish(
            ev.ToolCallStarted(
                turn_id=1, call_id="c1", name="docs__read_document", arguments={"path": "b.md"}
            )
        )
        bus.publish(ev.ToolCallProgress(call_id="c1", progress=1, total=2, message="reading"))
        await pilot.pause()
        card = conversation(app).cards["c1"]
        assert card.status == "running" and "50% reading" in text_of(card)
        full = "BUDGET MEMO\n" + "line of the memo\n" * 50
        bus.publish(
            ev.ToolCallFinished(
                call_id="c1",
                name="docs__read_document",
                result_text=full,
                spoken_summary="Read the budget memo.",
                is_error=False,
                duration_s=0.42,
            )
        )
        bus.publish(ev.LLMRequest(turn_id=1))  # the follow-up request keeps the text
        bus.publish(ev.AssistantDelta(turn_id=1, text="The memo asks for "))
        bus.publish(ev.AssistantDelta(turn_id=1, text="forty two thousand euros."))
        await pilot.pause()
        assert card.status == "done" and "0.42s" in text_of(card)
        assert isinstance(list(conversation(app).children)[1], ToolCard)  # card before answer
        answer = conversation(app).assistants[1]
        assert answer.text == "The memo asks for forty two thousand euros."

        # a restarted (preemptive) answer replaces, not appends
        bus.publish(ev.TranscriptFinal(turn_id=2, text="And the notes?"))
        bus.publish(ev.AssistantDelta(turn_id=2, text="First try."))
        bus.publish(ev.LLMRequest(turn_id=2, preemptive=True))
        bus.publish(ev.AssistantDelta(turn_id=2, text="The notes say hi."))
        bus.publish(
            ev.PlaybackEnded(turn_id=2, audio_s=1.0, interrupted=True, heard_text="The notes")
        )
        await pilot.pause()
        cut = conversation(app).assistants[2]
        assert cut.display_text == "assistant › The notes ✂ cut here say hi."

        # the person went on before hearing turn 3's answer: the engine retracts it and
        # continues under turn 4; the shorter copy disappears
        bus.publish(ev.TranscriptFinal(turn_id=3, text="Open the"))
        bus.publish(ev.AssistantDelta(turn_id=3, text="Which one?"))
        bus.publish(ev.TranscriptFinal(turn_id=4, text="Open the offsite plan."))
        await pilot.pause()
        assert 3 not in conversation(app).users and 3 not in conversation(app).assistants
        assert conversation(app).users[4].text == "Open the offsite plan."
        # the engine says so explicitly when it takes a turn back
        bus.publish(ev.TranscriptFinal(turn_id=5, text="Thanks."))
        bus.publish(ev.TurnMerged(turn_id=5, into=6))
        bus.publish(ev.TranscriptFinal(turn_id=6, text="Thanks. That is all for now."))
        await pilot.pause()
        assert 5 not in conversation(app).users and 6 in conversation(app).users
        assert not list(conversation(app).query(UserTurn).filter(".provisional"))

        # tool pane: select the call → modal with the full result
        pane = app.query_one(ToolPane)
        assert pane.calls["c1"].status == "done"
        options = app.query_one("#tool-list", OptionList)
        options.focus()
        options.highlighted = 0
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ToolDetailScreen)
        assert app.screen.query_one("#tool-result", TextArea).text == full
        await pilot.press("escape")
        assert not isinstance(app.screen, ToolDetailScreen)

        bus.publish(ev.Notice(level="error", message="TTS failed [badly]"))
        await pilot.pause()
        assert any("TTS failed [badly]" in n.message for n in app._notifications)


# ---------------------------------------------------------------------------- screens
async def test_help_says_q_and_question_mark_type_while_it_starts(tmp_path: Path) -> None:
    """While the conversation starts the text box has the focus, and q and ? are letters of
    the first message there: the README said so, the help (open from the palette or after
    esc meanwhile) listed q as quit and ? as help with no word of it."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        note = text_of(app.screen.query_one("#help-starting", Static))
        assert "While the conversation starts" in note and "q and ? too" in note
        assert "ctrl+q quits" in note and "esc leaves the box" in note


async def test_help_screen(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = help_keys_text(app.screen)
        assert "push-to-talk" in keys and "hands-free" in keys and "ctrl+s" in keys
        assert "/var/log/voicedesk/tui.log" in text_of(app.screen.query_one("#help-paths", Static))
        # the footer shows the dialog's keys: space, h, m and t do nothing over it (they
        # were listed all the same); i still stops the answer
        for action in ("ptt", "hands_free", "mute", "type"):
            assert app.check_action(action, ()) is False
        assert app.check_action("interrupt", ()) is True
        # ... and does: the dialog's keys came first, and i and q, listed, did nothing
        session = app.session
        assert isinstance(session, FakeSession)
        await pilot.press("i")
        assert session.calls[-1] == "interrupt" and isinstance(app.screen, HelpScreen)
        assert app.check_action("help", ()) is False  # ? closes help; elsewhere it did nothing
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        assert app.check_action("hands_free", ()) is True and app.check_action("help", ())
        await pilot.press("d")
        assert isinstance(app.screen, DevicesScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0 and "stop" in session.calls


async def test_a_theme_picked_in_the_palette_is_kept(tmp_path: Path) -> None:
    """ctrl+p → theme changed the look for this run only: the next start was back to the
    old theme, with no word that it would be."""
    app = fake_app(tmp_path)
    config = tmp_path / "config.toml"
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        assert not config.exists()  # the configured theme, applied at start, is not written
        app.theme = "nord"
        await wait_until(pilot, lambda: config.exists())
    assert 'theme = "nord"' in config.read_text(encoding="utf-8")
    again = fake_app(tmp_path, theme="nord")
    async with again.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        assert again.theme == "nord"


async def test_devices_screen_without_sound_card(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicedesk.audio import devices

    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        # whatever this machine has: a table of devices or a readable message
        await pilot.press("d")
        assert isinstance(app.screen, DevicesScreen)
        message = app.screen.query_one("#devices-message", Static)
        await wait_until(pilot, lambda: "Looking" not in text_of(message))
        table = app.screen.query_one(DataTable)
        assert table.row_count > 0 if table.display else len(text_of(message)) > 20
        await pilot.press("escape")

        def no_portaudio() -> list[Any]:
            raise AudioUnavailableError(devices.PORTAUDIO_MISSING)

        monkeypatch.setattr(devices, "list_devices", no_portaudio)
        await pilot.press("d")
        message = app.screen.query_one("#devices-message", Static)
        await wait_until(pilot, lambda: "PortAudio is not installed" in text_of(message))
        assert not app.screen.query_one(DataTable).display
        await pilot.press("escape")

        monkeypatch.setattr(devices, "list_devices", lambda: [])
        await pilot.press("d")
        message = app.screen.query_one("#devices-message", Static)
        await wait_until(pilot, lambda: "no sound devices" in text_of(message))


async def test_settings_screen_validates_before_writing(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text('# my settings\n[llm]\nmodel = "gpt-4o-mini"\n', encoding="utf-8")
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("ctrl+s")
        # (the dialog is pushed, and its box focused, a message or two after the key: on a
        # loaded machine, after the press had returned)
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        assert str(config) in text_of(screen.query_one("#settings-path", Static))
        await wait_until(pilot, lambda: screen.query_one(Input).has_focus)
        status = screen.query_one("#settings-status", Static)

        await pilot.press(*"turn.")  # real keys reach the input
        screen.query_one(Input).value = "turn.mode = sideways"
        await pilot.press("enter")
        await wait_until(pilot, lambda: status.has_class("error"))
        assert "turn.mode" in text_of(status) and "sideways" in text_of(status)
        assert "not saved" in text_of(status) and "config.toml" in text_of(status)
        assert "sideways" not in config.read_text(encoding="utf-8")

        screen.query_one(Input).value = "no pair here"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "key=value" in text_of(status))
        assert status.has_class("error")

        screen.query_one(Input).value = "turn.mode = push-to-talk"
        await pilot.press("enter")
        await wait_until(pilot, lambda: status.has_class("ok"))
        saved = config.read_text(encoding="utf-8")
        assert "# my settings" in saved and 'mode = "push-to-talk"' in saved
        assert "push-to-talk" in text_of(screen.query_one("#settings-content", Static))
        assert not list(tmp_path.glob(".config.toml.*"))  # no temp files left behind
        await pilot.press("escape")
        assert not isinstance(app.screen, SettingsScreen)


def _app_counting_sessions(tmp_path: Path) -> tuple[VoiceDeskApp, list[str]]:
    """An app on default settings whose every session made is counted."""
    settings = Settings()
    calls: list[str] = []

    async def make_session(bus: ev.EventBus) -> Any:
        calls.append("made")
        return FakeSession(bus, settings)

    return VoiceDeskApp(settings, make_session, config_path=tmp_path / "c.toml"), calls


async def test_first_run_without_keys_shows_setup(tmp_path: Path) -> None:
    app, calls = _app_counting_sessions(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        text = app.screen.query_one("#setup-text", Markdown).source
        assert "OPENAI_API_KEY" in text and "llm.base_url" in text and "voicedesk demo" in text
        # the ElevenLabs key is not optional with the default voice: say so, and the way out
        assert "both `OPENAI_API_KEY`" in text and "`ELEVENLABS_API_KEY`" in text
        assert 'tts.provider = "openai"' in text
        # the demo only plays a recording: the way to talk or type to voicedesk with no key
        assert "`voicedesk run --sim`" in text and "type" in text
        assert calls == []  # no doomed connection attempt
        await pilot.press("space")  # no conversation to talk to: the key is off here
        assert app.check_action("ptt", ()) is False
        await pilot.press("q")
    assert app.return_value == 0


async def test_a_local_server_in_openai_base_url_needs_no_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK talks to OPENAI_BASE_URL where llm.base_url is unset: a local server named
    there (Ollama, LM Studio) needs no OpenAI key, yet the setup screen asked for one and
    the conversation never started."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")
    app, calls = _app_counting_sessions(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not isinstance(app.screen, SetupScreen)
        assert calls == ["made"]
        await pilot.press("q")


async def test_start_failure_is_a_readable_screen(tmp_path: Path) -> None:
    async def make_session(bus: ev.EventBus) -> Any:
        raise UserError("Input file not found: nope.wav", "pass an existing WAV file")

    app = VoiceDeskApp(Settings(), make_session, simulated=True, log_path=tmp_path / "x.log")
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(app.started.wait(), 5)
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        assert "nope.wav" in text_of(app.screen.query_one("#error-message", Static))
        assert "existing WAV" in text_of(app.screen.query_one("#error-hint", Static))
        await pilot.press("space")  # no session: a notice, not a crash
        await pilot.press("escape")
        assert not isinstance(app.screen, ErrorScreen)


async def test_an_unexpected_start_failure_quoting_a_key_is_shown_without_it(
    tmp_path: Path,
) -> None:
    """A start that failed with an error voicedesk did not expect showed the exception's
    text whole in the error dialog and under the conversation: a library's error quoting
    the key it was refused with (a close reason, a server's answer) put the key on the
    screen, which every other message hides. It is hidden there too."""
    from voicedesk.config import load_settings

    key = "sk-proj-StartFailure0123456789"
    load_settings(tmp_path / "none.toml", environ={"OPENAI_API_KEY": key})

    async def make_session(bus: ev.EventBus) -> Any:
        raise RuntimeError(f"received 1008 (policy violation) refused the key {key}")

    app = VoiceDeskApp(Settings(), make_session, simulated=True, log_path=tmp_path / "x.log")
    async with app.run_test(size=(100, 30)) as pilot:
        await asyncio.wait_for(app.started.wait(), 5)
        await pilot.pause()
        assert isinstance(app.screen, ErrorScreen)
        shown = text_of(app.screen.query_one("#error-message", Static))
        assert shown == "RuntimeError: received 1008 (policy violation) refused the key ***"
        await pilot.press("escape")
        await pilot.pause()
        hint = text_of(app.conversation.query_one("#conversation-hint", Static))
        assert "refused the key ***" in hint and key not in hint, hint


# ---------------------------------------------------------------------------- command module
def sim_args(input_wav: Path | None, output_wav: Path | None, **over: Any) -> argparse.Namespace:
    """The arguments `voicedesk run --sim` gives ``commands.tui.session_factory``."""
    args = {
        "config": None,
        "sim": True,
        "input": input_wav,
        "output": output_wav,
        "sim_ttft": 0.1,
        "sim_ttfb": 0.05,
        "sim_stt": 0.05,
        "sim_tokens_per_s": None,
        "sim_script": None,
        "no_tools": True,
        "metrics_out": None,
        "mode": "push-to-talk",
    }
    return argparse.Namespace(**{**args, **over})


# a recorded person's finished question: a WAV microphone heard to its end within seconds
FINISHED_SPEECH = Path(__file__).parents[1] / "fixtures/turns/dev-finished-0.wav"


@contextlib.asynccontextmanager
async def sim_command_app(
    tmp_path: Path,
    args: argparse.Namespace,
    settings: Settings | None = None,
    *,
    start: bool = True,
) -> AsyncIterator[tuple[VoiceDeskApp, Pilot]]:
    """The app `voicedesk run --sim` opens with ``args`` (``sim_args``), on the session its
    own factory builds; started unless ``start`` is False (a test that holds the build)."""
    from voicedesk.commands import tui

    settings = settings or Settings()
    async with contextlib.AsyncExitStack() as stack:
        app = VoiceDeskApp(
            settings,
            tui.session_factory(args, settings, stack),
            simulated=True,
            log_path=tmp_path / "tui.log",
        )
        async with app.run_test(size=(100, 30)) as pilot:
            if start:
                await started(pilot)
            yield app, pilot


async def test_command_factory_runs_a_sim_session(silence_wav: Path, tmp_path: Path) -> None:
    from voicedesk.commands import tui

    args = sim_args(silence_wav, tmp_path / "out.wav", metrics_out=tmp_path / "m.jsonl")
    settings = Settings()
    async with contextlib.AsyncExitStack() as stack:
        make_session = tui.session_factory(args, settings, stack)
        bus = ev.EventBus()
        session = await make_session(bus)
        assert session.bus is bus
        assert session.settings.llm.base_url.startswith("http://127.0.0.1:")
        await session.start()
        await session.stop()
        # the TUI's metrics lines are run's: marked with the run they belong to
        bus.publish(ev.TurnMetrics(turn_id=1, record={"turn_id": 1}))
    (line,) = (tmp_path / "m.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["turn_id"] == 1 and record["run_id"]
    missing = argparse.Namespace(**{**vars(args), "input": tmp_path / "missing.wav"})
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(UserError, match=r"missing\.wav"):
            await tui.session_factory(missing, settings, stack)(ev.EventBus())


async def test_keys_work_while_the_conversation_is_being_built(
    silence_wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building the session (the SDKs' imports, the on-device models: seconds) ran on the
    app's event loop: the screen was drawn but a key pressed then waited 5–10 s. Also, in
    push-to-talk the opening hint and the state no longer say to just talk, "listening"."""
    import threading

    from voicedesk.engine import builder

    real, release = builder.build_session, threading.Event()

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)  # a slow machine's imports and model loads
        return real(*args, **kwargs)

    monkeypatch.setattr(builder, "build_session", slow_build)
    args = sim_args(silence_wav, tmp_path / "out.wav")
    settings = Settings.model_validate({"turn": {"mode": "push-to-talk"}})
    async with sim_command_app(tmp_path, args, settings, start=False) as (app, pilot):
        try:
            # (Esc: while it starts the text box has the focus, and ? is typed there)
            await pilot.press("escape", "question_mark")
            await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 3.0)
            assert not app.started.is_set()  # still building
        finally:
            release.set()
        await wait_until(pilot, lambda: app.session is not None and app.started.is_set())
        await pilot.press("escape")
        # push-to-talk: the opening hint and the state say space opens the microphone
        # (they said "just talk" and "listening" with the microphone closed)
        hint = str(app.query_one("#conversation-hint").render())
        assert hint.startswith("Press space to talk"), hint
        await wait_until(pilot, lambda: app.status_bar.state == "listening")
        # (the microphone here is a WAV file, which waits while the key is up)
        assert "recording waits" in status_text(app) and "listening" not in status_text(app)
        await pilot.press("q")


def test_the_terminal_ui_on_a_dumb_terminal_says_so_and_ends(tmp_path: Path) -> None:
    """With TERM=dumb (Emacs' shell) it drew its colours and screen modes as escape codes
    all the same: a screenful of them, shown as text, until killed."""
    import pty
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEDESK_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path), TERM="dumb")
    leader, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "voicedesk", "run", "--sim"],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            timeout=60,
            env=env,
        )
        said = b""
        while True:
            os.set_blocking(leader, False)
            try:
                chunk = os.read(leader, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            said += chunk
    finally:
        os.close(follower)
        os.close(leader)
    text = said.decode("utf-8", "replace")
    assert done.returncode == 2, text[:300]
    assert "TERM=dumb" in text and "--headless" in text and "Traceback" not in text
    assert "\x1b[" not in text  # nothing drawn


def test_the_terminal_ui_without_a_terminal_says_so_and_ends(tmp_path: Path) -> None:
    """With stdin from /dev/null it drew escape codes into a pipe and never ended."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEDESK_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    for argv in (["run", "--sim"], [], ["demo"]):
        done = subprocess.run(
            [sys.executable, "-m", "voicedesk", *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 2 and done.stdout == "", done.stdout[:300]
        assert "The terminal UI needs a terminal" in done.stderr and "--headless" in done.stderr
        assert "Traceback" not in done.stderr
        # the demo needs no input file: it was pointed to `run --headless --input IN.wav …`
        assert ("voicedesk demo --headless" in done.stderr) == (argv == ["demo"])
    # refused before the run's files are checked: it made their folders, left behind empty
    wav = tmp_path / "in.wav"
    write_wav(wav, np.zeros(1600, dtype=np.int16), 16000)
    out = ["--output", str(tmp_path / "answers" / "o.wav")]
    metrics = ["--metrics-out", str(tmp_path / "timings" / "m.jsonl")]
    for argv in (["run", "--sim", "--input", str(wav), *out, *metrics], ["demo", *out]):
        done = subprocess.run(
            [sys.executable, "-m", "voicedesk", *argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 2 and "needs a terminal" in done.stderr, done.stderr
        assert not (tmp_path / "answers").exists() and not (tmp_path / "timings").exists()


def test_stderr_goes_to_the_log_file(tmp_path: Path) -> None:
    from voicedesk.commands import tui

    log_path = tmp_path / "tui.log"
    before = sys.__stderr__
    with tui.stderr_to_log(log_path):
        os.write(2, b"ALSA lib pcm.c: noise from C\n")
        logging.getLogger("voicedesk.test").warning("logged to the file")
        assert sys.__stderr__ is not before  # Textual draws on a private copy of the terminal
    assert sys.__stderr__ is before
    text = log_path.read_text(encoding="utf-8")
    assert "noise from C" in text and "logged to the file" in text


def test_the_log_file_never_holds_the_api_keys(tmp_path: Path) -> None:
    """`voicedesk -vv` logs each websocket handshake header at DEBUG: the terminal UI's
    log file held both API keys in clear, and it is what a bug report attaches."""
    from voicedesk.commands import tui

    log_path = tmp_path / "tui.log"
    with tui.stderr_to_log(log_path, verbose=2):
        ws = logging.getLogger("websockets.client")
        ws.debug("> %s: %s", "xi-api-key", "el-Secret9876543210zyx")
        ws.debug("> %s: %s", "Authorization", "Bearer sk-proj-Secret0123456789abcdef")
    text = log_path.read_text(encoding="utf-8")
    assert "> xi-api-key: ***" in text and "> Authorization: ***" in text
    assert "Secret" not in text


def test_tui_exit_skips_teardown_but_not_threads_or_logs(tmp_path: Path) -> None:
    """Quitting ends the process once the work is saved: non-daemon threads are waited for,
    logging is flushed, the exit code kept, and the clean-ups registered while the app ran
    (the demo's temporary folders: they were left behind) run; the slow interpreter
    teardown is skipped. An exception on the way out ends the process as usual."""
    import subprocess
    import textwrap

    def run(quit_code: str) -> int:
        script = textwrap.dedent(
            f"""
            import atexit, logging, sys, threading, time
            from pathlib import Path
            from voicedesk.commands import tui
            logging.basicConfig(filename={str(tmp_path / "t.log")!r}, level=logging.INFO)
            def encode():  # like the local Whisper reader's silence encoding
                time.sleep(0.3)
                Path({str(tmp_path / "thread-done")!r}).write_text("done")
            threading.Thread(target=encode).start()
            atexit.register(lambda: Path({str(tmp_path / "teardown")!r}).write_text("ran"))
            done = []
            atexit.register(tui._exit_without_teardown, done)
            atexit.register(lambda: Path({str(tmp_path / "cleanup")!r}).write_text("ran"))
            logging.getLogger("x").info("last words")
            {quit_code}
            """
        )
        return subprocess.run(
            [sys.executable, "-c", script], cwd=Path(__file__).parents[2]
        ).returncode

    assert run("done.append(3)") == 3
    assert (tmp_path / "thread-done").exists() and (tmp_path / "cleanup").exists()
    assert "last words" in (tmp_path / "t.log").read_text(encoding="utf-8")
    assert not (tmp_path / "teardown").exists()  # handlers registered before it are skipped
    assert run("sys.exit(5)") == 5  # the app never closed: nothing skipped
    assert (tmp_path / "teardown").exists()


# ---------------------------------------------------------------------------- snapshots
async def _conversation_state(pilot: Pilot) -> None:
    """A fixed conversation: two answered turns, a tool call, a cut answer, metrics."""
    app = pilot.app
    assert isinstance(app, VoiceDeskApp)
    await asyncio.wait_for(app.started.wait(), 5)
    bus = app.bus
    events: list[ev.Event] = [
        ev.StateChanged(state="listening"),
        ev.ContextUpdated(prompt_tokens=1840, budget_tokens=6000),
        ev.TranscriptFinal(turn_id=1, text="What's in my documents folder?"),
        ev.LLMRequest(turn_id=1),
        ev.ToolCallStarted(
            turn_id=1, call_id="c1", name="docs__list_documents", arguments={"folder": "."}
        ),
        ev.ToolCallFinished(
            call_id="c1",
            name="docs__list_documents",
            result_text="budget-memo.md\nmeeting-notes.md\noffsite-plan.md",
            spoken_summary="Found 3 documents.",
            is_error=False,
            duration_s=0.12,
        ),
        ev.LLMRequest(turn_id=1),
        ev.AssistantDelta(
            turn_id=1, text="You have three documents: the budget memo, the meeting notes "
        ),
        ev.AssistantDelta(turn_id=1, text="and a plan for the winter offsite."),
        ev.PlaybackEnded(
            turn_id=1,
            audio_s=9.0,
            interrupted=False,
            heard_text="You have three documents: the budget memo, the meeting notes and a "
            "plan for the winter offsite.",
        ),
        ev.TranscriptFinal(turn_id=2, text="How long should I boil an egg?"),
        ev.AssistantDelta(
            turn_id=2, text="About seven minutes for a firm yolk, and nine for hard boiled."
        ),
        ev.PlaybackEnded(
            turn_id=2, audio_s=15.0, interrupted=True, heard_text="About seven minutes"
        ),
        ev.TranscriptInterim(turn_id=3, text="and for a soft"),
    ]
    # earlier turns only feed the sparkline; the last two are the ones on screen
    history = [(1, 0.95), (1, 1.05), (1, 0.88), (1, 1.12), (1, 0.92), (2, 1.45)]
    for turn_id, v2v in history:
        speech_end = 10.0 * turn_id
        events.append(
            ev.TurnMetrics(
                turn_id=turn_id,
                record={
                    "turn_id": turn_id,
                    "eou_reason": "model",
                    "interrupted": turn_id == 2,
                    "t": {
                        "speech_start": speech_end - 2,
                        "speech_end": speech_end,
                        "eou_decided": speech_end + 0.21,
                        "stt_final": speech_end + 0.18,
                        "llm_request": speech_end + 0.19,
                        "llm_first_token": speech_end + (0.55 if turn_id == 1 else 0.95),
                        "tts_request": speech_end + (0.56 if turn_id == 1 else 0.96),
                        "tts_first_audio": speech_end + (0.84 if turn_id == 1 else 1.4),
                        "playback_start": speech_end + v2v,
                        # the voice's first piece: the last turn's record has it, the
                        # first's was written before it was marked (and still reads)
                        **({"tts_first_piece": speech_end + 1.08} if turn_id == 2 else {}),
                    },
                    # derived, as TurnRecord.to_json gives them
                    "eou_delay": 0.21,
                    "stt_delay": 0.18,
                    "ttft": 0.36 if turn_id == 1 else 0.76,
                    "first_words": None if turn_id == 1 else 0.12,
                    "ttfb": 0.28 if turn_id == 1 else 0.32,
                    "voice_to_voice": v2v,
                },
            )
        )
    events.append(ev.StateChanged(state="hearing"))
    for event in events:
        bus.publish(event)
    await pilot.pause()
    await pilot.pause()


def test_snapshot_80x24(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(fake_app(tmp_path), terminal_size=(80, 24), run_before=_conversation_state)


def test_snapshot_120x40(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(fake_app(tmp_path), terminal_size=(120, 40), run_before=_conversation_state)


def test_snapshot_160x50_light(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(
        fake_app(tmp_path, theme="textual-light"),
        terminal_size=(160, 50),
        run_before=_conversation_state,
    )


async def test_context_screen_shows_prompt_size_and_summary(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.ContextUpdated(
                prompt_tokens=1234,
                budget_tokens=6000,
                summary_made=True,
                summary="The person's locker code is 4711.",
            )
        )
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert type(screen).__name__ == "ContextScreen"
        assert "4711" in text_of(screen.query_one("#context-summary", Static))
        await pilot.press("escape")


async def test_a_narrow_status_bar_leaves_the_setup_to_the_context_dialog(
    tmp_path: Path,
) -> None:
    """Below 60 columns the status bar leaves out the context size and the models, and
    with them the devices in use and echo cancellation: `s` showed the context size but
    nothing showed those. The context dialog names them, as the wide bar does."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(50, 20)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.AudioInfo(
                input_device="MacBook Mic", output_device="Speakers", echo_cancellation=True
            )
        )
        await pilot.pause()
        assert not app.status_bar.query_one("#status-models", Static).display
        await pilot.press("s")
        await pilot.pause()
        assert type(app.screen).__name__ == "ContextScreen"
        shown = text_of(app.screen.query_one("#context-setup", Static))
        assert "MacBook Mic" in shown and "AEC on" in shown
        assert f"LLM {app.settings.llm.model}" in shown
        await pilot.press("escape")


async def test_status_bar_shows_devices_and_echo_cancellation(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.AudioInfo(
                input_device="MacBook Mic", output_device="Speakers", echo_cancellation=True
            )
        )
        await pilot.pause()
        assert "AEC on" in app.status_bar.audio_text
        assert "MacBook Mic" in text_of(app.status_bar.query_one("#status-models", Static))


# ---------------------------------------------------------------------------- layout
def _many_turns(first: int, count: int) -> list[ev.Event]:
    events: list[ev.Event] = []
    for turn_id in range(first, first + count):
        events.append(ev.TranscriptFinal(turn_id=turn_id, text=f"Question number {turn_id}?"))
        events.append(
            ev.AssistantDelta(
                turn_id=turn_id,
                text=f"Answer number {turn_id}, long enough to wrap again when the pane narrows.",
            )
        )
    return events


async def test_conversation_follows_new_turns_after_a_resize(tmp_path: Path) -> None:
    """Re-wrapping on a resize is not the person scrolling up: keep following the newest."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        pane = conversation(app)
        for event in _many_turns(1, 12):
            app.bus.publish(event)
        await pilot.pause()
        await pilot.pause()
        assert pane.max_scroll_y > 0 and pane.scroll_y == pane.max_scroll_y

        await pilot.resize_terminal(60, 15)
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        for event in _many_turns(13, 1):
            app.bus.publish(event)
        await pilot.pause()
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y  # the newest answer is on screen

        pane.scroll_home(animate=False)  # the person scrolls up to read: stay put
        await pilot.pause()
        for event in _many_turns(14, 1):
            app.bus.publish(event)
        await pilot.pause()
        await pilot.pause()
        assert pane.scroll_y == 0


async def test_small_terminal_keeps_quit_help_and_the_conversation(tmp_path: Path) -> None:
    """At 60×15 the side panel and the least needed keys give way, never Quit or Help."""
    from textual.widgets._footer import FooterKey

    def shown() -> list[FooterKey]:
        return [key for key in app.footer.query(FooterKey) if key.display]

    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        for size in ((60, 15), (120, 40), (60, 15)):  # as started, and resized both ways
            await pilot.resize_terminal(*size)
            await pilot.pause()
            if size[0] == 60:
                assert not app.query_one("#side").display
                assert conversation(app).region.width == 60
                actions = {key.action for key in shown()}
                assert actions >= {"ptt", "mute", "type", "help", "quit"}
                assert "command_palette" not in actions
                assert all(key.region.right <= 60 and key.region.width > 0 for key in shown())
            else:
                assert app.query_one("#side").display
                assert len(shown()) == len(app.footer.query(FooterKey))


async def test_a_40x10_terminal_keeps_quit_and_help_and_its_notices_readable(
    tmp_path: Path,
) -> None:
    """At 40 columns Quit was cut to "q Q" off the footer's edge, and a notice's toast (half
    the width, as tall as its words) covered the conversation from top to bottom for its
    5 s, the demo's opening one unreadable in 20-column lines. The keys shed give way to
    Quit and Help; a toast there is a few full-width lines, and its whole text stays in the
    conversation, where the pane's width is."""
    from textual.widgets._footer import FooterKey
    from textual.widgets._toast import Toast

    from voicedesk.tui.widgets.conversation import NoticeLine

    said = (
        "The demo: a recorded person (/tmp/voicedesk-demo-audio-x/person.wav) talks to "
        "voicedesk for about 50 s and the simulated cloud answers. The answers are not "
        "played: they grow in /tmp/voicedesk-demo-audio-x/assistant.partial.wav."
    )
    for size in ((40, 10), (40, 24), (80, 10)):
        app = fake_app(tmp_path)
        async with app.run_test(size=size, notifications=True) as pilot:
            await _conversation_state(pilot)
            keys = {key.action: key for key in app.footer.query(FooterKey) if key.display}
            for action in ("help", "quit"):
                assert keys[action].region.width > 0, size
                assert keys[action].region.right <= size[0], size
            app.bus.publish(ev.Notice(level="info", message=said))
            await pilot.pause()
            await pilot.pause()
            (toast,) = app.screen.query(Toast)
            assert toast.region.height <= 4, size  # the conversation stays in view
            lines = [text_of(line) for line in app.query(NoticeLine)]
            assert any("assistant.partial.wav" in line for line in lines), size
            await pilot.press("q")


async def test_the_text_boxs_footer_keeps_quit_from_20_columns(tmp_path: Path) -> None:
    """In the text box its footer ("⏎ Send esc Leave box ^q Quit") lost Quit off the edge
    below 30 columns: "^q Q" at 25, nothing at 20. Send goes first (the box's hint says
    "Enter sends"), then Leave box; Quit stays whole."""
    from textual.widgets._footer import FooterKey

    app = fake_app(tmp_path)
    async with app.run_test(size=(40, 15)) as pilot:
        await started_fake(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert app.text_input.has_focus
        for width in range(40, 19, -1):
            await pilot.resize_terminal(width, 15)
            await pilot.pause()
            keys = {k.action: k for k in app.footer.query(FooterKey) if k.display}
            assert "app.quit" in keys, width
            quit_key = keys["app.quit"]
            assert quit_key.region.width > 0 and quit_key.region.right <= width, width
            assert ("submit" in keys) == (width >= 30), width
            assert all(k.region.right <= width for k in keys.values()), width


async def test_the_help_breaks_no_word_in_a_narrow_terminal(tmp_path: Path) -> None:
    """Below 40 columns the help's words, beside an 8-cell key column, had 6 to 10 cells
    and broke mid-word ("interr" / "upt", "instea" / "d"). There each key is above its
    words, which then wrap between words only."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        texts = list(screen.query(".help-text").results(Static))
        for width in (80, 39, 30, 25, 20):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            for text in texts:
                words = set(str(text.render()).split())
                for y in range(text.size.height):
                    line = text.render_line(y).text.split()
                    broken = [w for w in line if w not in words]
                    assert not broken, (width, str(text.render()), broken)


async def test_a_dialogs_footer_keeps_quit_from_20_columns(tmp_path: Path) -> None:
    """A dialog's footer ("esc Close i Stop q Quit", 23 cells) cut Quit to "q Q" in a
    20- to 22-column terminal. Stop gives way there; Close and Quit stay whole."""
    from textual.widgets._footer import FooterKey

    app = fake_app(tmp_path)
    async with app.run_test(size=(40, 15)) as pilot:
        await started_fake(pilot)
        for key in ("question_mark", "s"):
            await pilot.press(key)
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, HelpScreen | ContextScreen)
            for width in range(26, 19, -1):
                await pilot.resize_terminal(width, 15)
                await pilot.pause()
                keys = {k.action: k for k in screen.query(FooterKey) if k.display}
                for action in ("app.quit", "dismiss"):
                    assert keys[action].region.width > 0, (key, width, action)
                    assert keys[action].region.right <= width, (key, width, action)
                assert ("app.interrupt" in keys) == (width >= 24), (key, width)
            await pilot.press("escape")
            await pilot.resize_terminal(40, 15)
            await pilot.pause()


async def test_the_status_bar_shows_the_context_size_whole_or_not_at_all(
    tmp_path: Path,
) -> None:
    """Between 41 and 54 columns the status bar's context size ran off the screen's edge,
    cut to "ct" or "ctx 1.8k/6" (at 40, in a typing-only session, " ct"): a number
    that read as another. Below 60 columns it goes (the s dialog has it), the mode, state
    and level stay."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await _conversation_state(pilot)
        context = app.status_bar.query_one("#status-context", Static)
        assert context.region.width > 0  # roomy: shown
        for width in range(80, 39, -1):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            if context.region.width:
                assert context.region.right <= width, width
            for part in ("#status-mode", "#status-state", "#status-level"):
                region = app.status_bar.query_one(part, Static).region
                assert region.width > 0 and region.right <= width, (part, width)


async def test_a_toast_shown_roomy_is_cut_once_the_terminal_shrinks(tmp_path: Path) -> None:
    """A toast shown at 100x30 stayed half the width and as tall as its words after the
    terminal was shrunk to 40x10 (the layout read the size from before the resize), so it
    covered the conversation; grown back, it is drawn roomy again."""
    from textual.widgets._toast import Toast

    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await started_fake(pilot)
        # shown for as long as the test takes: a notice's 5 s ran out on a loaded machine
        # before the last resize, and there was no toast left to look at
        app.notify("A notice of many words. " * 4, timeout=600)

        def toast() -> Any:
            """The one toast, as laid out now (None before it is; a frame or more after
            the notice or the resize, on a loaded machine two pauses were not enough)."""
            toasts = app.screen.query(Toast)
            return toasts.first().region if len(toasts) == 1 else None

        def toast_is(fits: Callable[[Any], bool]) -> Callable[[], bool]:
            return lambda: (region := toast()) is not None and fits(region)

        # roomy: beside the conversation
        await wait_until(pilot, toast_is(lambda r: r.width > 0 and r.width < 60))
        await pilot.resize_terminal(40, 10)
        # the terminal's width, less the scrollbar, and a few lines high
        await wait_until(pilot, toast_is(lambda r: r.height <= 4 and r.width >= 36))
        await pilot.resize_terminal(100, 30)
        await wait_until(pilot, toast_is(lambda r: r.width > 0 and r.width < 60))


async def test_a_40x10_terminal_draws_no_toast_over_a_dialog(tmp_path: Path) -> None:
    """At 40×10 a toast is the terminal's width, and a notice arriving while the help was
    open was drawn over the help's lines (as was one shown just before it opened). It waits
    for the dialog to close; the notice is in the conversation meanwhile."""
    from textual.widgets._toast import Toast, ToastRack

    from voicedesk.tui.widgets.conversation import NoticeLine

    app = fake_app(tmp_path)
    async with app.run_test(size=(40, 10), notifications=True) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.Notice(level="info", message="Before the help opened."))
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        app.bus.publish(ev.Notice(level="warning", message="While the help was open."))
        await pilot.pause()
        await pilot.pause()
        racks = list(app.screen.query(ToastRack))
        assert not any(
            toast.display and rack.display for rack in racks for toast in rack.query(Toast)
        )
        lines = [text_of(line) for line in app.query(NoticeLine)]
        assert any("While the help was open." in line for line in lines)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        shown = [str(toast.render()) for toast in app.screen.query(Toast)]
        assert any("While the help was open." in text for text in shown), shown
    roomy = fake_app(tmp_path)  # where a toast leaves a dialog readable, it shows at once
    async with roomy.run_test(size=(100, 30), notifications=True) as pilot:
        await started_fake(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        roomy.bus.publish(ev.Notice(level="warning", message="While the help was open."))
        await pilot.pause()
        await pilot.pause()
        assert any(
            "While the help was open." in str(toast.render()) for toast in roomy.screen.query(Toast)
        )


async def test_the_text_box_hint_fits_a_40_column_terminal(tmp_path: Path) -> None:
    """At 40 columns the empty text box said "press t to type a message · Enter send": its
    hint is the longest of its wordings that fits, focused or not."""
    from rich.cells import cell_len

    for columns in (40, 100):
        app = fake_app(tmp_path)
        async with app.run_test(size=(columns, 24)) as pilot:
            await started_fake(pilot)
            await pilot.pause()
            box = app.text_input
            width = box.content_size.width
            assert "t" in box.placeholder.split()[0] or "press t" in box.placeholder
            assert "Enter sends" in box.placeholder and cell_len(box.placeholder) <= width
            await pilot.press("t")
            await pilot.pause()
            assert box.has_focus
            assert box.placeholder.startswith(("type a message", "Enter sends"))
            assert cell_len(box.placeholder) <= width, (columns, box.placeholder)
            if columns == 100:  # room for the whole of it
                assert box.placeholder == "type a message · Enter sends · Esc leaves"
            await pilot.press("escape")
            await pilot.pause()
            assert not box.has_focus and "Esc leaves" in box.placeholder


async def test_settings_verdict_visible_on_a_small_terminal() -> None:
    """At 60×15 the verdict under the input stays inside the dialog; the file view gives way."""
    import shutil
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="home-"))  # a path as long as a real one, not pytest's
    config = home / ".config" / "voicedesk" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('# my settings\n[llm]\nmodel = "gpt-4o-mini"\n' + "# a note\n" * 12)
    app = fake_app(home)
    app.config_path = config
    try:
        async with app.run_test(size=(60, 15)) as pilot:
            await started_fake(pilot)
            await pilot.press("ctrl+s")
            screen = app.screen
            assert isinstance(screen, SettingsScreen)
            dialog = screen.query_one("#settings")
            status = screen.query_one("#settings-status", Static)
            screen.query_one(Input).value = "turn.mode = banana"
            await pilot.press("enter")
            await pilot.pause()
            assert status.has_class("error") and "banana" in text_of(status)
            assert status.region.bottom <= dialog.region.bottom - 1  # inside the border
            screen.query_one(Input).value = "turn.mode = push-to-talk"
            await pilot.press("enter")
            await pilot.pause()
            assert "saved" in text_of(status)
            assert status.region.height > 0 and status.region.bottom <= dialog.region.bottom - 1
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def test_each_turns_timings_show_under_its_answer_where_the_pane_has_no_room(
    tmp_path: Path,
) -> None:
    """Below 72 columns the side panel (tools, timings) is hidden, and nothing showed a
    turn's timings: a line under each answer does, there only."""
    for width, shown in ((60, True), (100, False)):
        app = fake_app(tmp_path)
        async with app.run_test(size=(width, 30)) as pilot:
            await _conversation_state(pilot)
            lines = list(app.query(".timing-line").results(Static))
            assert len(lines) == 6  # one per turn measured
            assert all(line.display == shown for line in lines)
            assert all(bool(line.region.height) == shown for line in lines)
            shown_texts = {text_of(line) for line in lines}
            # the wait for the answer's first words, then the voice's own time
            assert (
                "⏱ v2v 1.45s · turn end 210ms · LLM 760ms · words 120ms · TTS 320ms" in shown_texts
            )
            # a record from before the first piece was marked: the two together, as then
            assert "⏱ v2v 950ms · turn end 210ms · LLM 360ms · TTS 280ms" in shown_texts
            await pilot.press("q")


def test_snapshot_60x15(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(fake_app(tmp_path), terminal_size=(60, 15), run_before=_conversation_state)


async def _waiting_for_tool_servers(pilot: Pilot) -> None:
    """The fixed conversation, an answer waiting for two tool servers: the longest state."""
    await _conversation_state(pilot)
    app = pilot.app
    assert isinstance(app, VoiceDeskApp)
    app.bus.publish(ev.StateChanged(state="thinking"))
    app.bus.publish(ev.ToolServersWait(servers=("notes [work]", "documents")))
    await pilot.pause()


def test_snapshot_48x15_long_state(snap_compare: Any, tmp_path: Path) -> None:
    """The state cut with an ellipsis between the mode and the level meter, at 48 columns."""
    assert snap_compare(
        fake_app(tmp_path), terminal_size=(48, 15), run_before=_waiting_for_tool_servers
    )


async def _typing_only(pilot: Pilot) -> None:
    """The fixed conversation on a machine with no microphone: the mode says "typing"."""
    await _conversation_state(pilot)
    app = pilot.app
    assert isinstance(app, VoiceDeskApp)
    app.bus.publish(
        ev.AudioInfo(input_device=ev.NO_DEVICE, output_device="file", echo_cancellation=False)
    )
    app.bus.publish(ev.StateChanged(state="listening"))
    await pilot.pause()


@pytest.mark.parametrize("width", [20, 25, 30])
@pytest.mark.parametrize(
    "run_before", [_conversation_state, _typing_only], ids=["hands-free", "typing"]
)
def test_snapshot_status_bar_narrow(
    snap_compare: Any, tmp_path: Path, width: int, run_before: Callable[[Pilot], Any]
) -> None:
    """At 20 to 30 columns the mode's 14-cell slot took the bar ("typing …  no"): the mode
    is as wide as its word, the state is cut first ("◉ heari…") and the level meter goes
    before the state is cut to less than its icon and a few letters."""
    assert snap_compare(fake_app(tmp_path), terminal_size=(width, 15), run_before=run_before)


async def test_status_bar_cuts_the_models_with_an_ellipsis(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.AudioInfo(input_device="file", output_device="file", echo_cancellation=False)
        )
        await pilot.pause()
        models = app.status_bar.query_one("#status-models", Static)
        assert models.region.right <= 120
        shown = models.render_line(0).text.rstrip()
        assert shown.endswith("…") and "STT" in shown, shown


async def test_the_footer_says_unmute_while_muted(real_app: VoiceDeskApp) -> None:
    """Muted, the footer still said "m Mute": the key unmutes then, and the person who
    read it as "press to mute" pressed it and turned the microphone back on."""
    from textual.widgets._footer import FooterKey

    def footer() -> dict[str, str]:
        return {k.action: k.description for k in app.footer.query(FooterKey) if k.display}

    async with real_app.run_test(size=(100, 30)) as pilot:
        app = await started(pilot)
        session = app.session
        assert session is not None
        # the footer is redrawn a frame or more after the focus or the bindings change
        await wait_until(pilot, lambda: footer().get("mute") == "Mute" and "unmute" not in footer())
        await pilot.press("m")
        await wait_until(pilot, lambda: session.muted)
        await wait_until(
            pilot, lambda: footer().get("unmute") == "Unmute" and "mute" not in footer()
        )
        await pilot.press("m")  # the key named "Unmute" unmutes
        await wait_until(pilot, lambda: not session.muted)
        await wait_until(pilot, lambda: footer().get("mute") == "Mute" and "unmute" not in footer())
        await pilot.press("q")


async def test_muted_is_said_once(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        await pilot.press("m")
        app.bus.publish(ev.StateChanged(state="muted"))  # what the engine says when muted
        await pilot.pause()
        assert status_text(app).count("muted") == 1, status_text(app)
        assert "not listening" in text_of(app.query_one("#status-state", Static))
        await pilot.press("m")
        app.bus.publish(ev.StateChanged(state="listening"))
        await pilot.pause()
        assert "muted" not in status_text(app) and "listening" in status_text(app)


async def test_waterfall_shows_the_tool_wait_and_the_second_llm_round(tmp_path: Path) -> None:
    """Demo turn 3 spent 2 s between the first token and the speech request: a tool call."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        t = {
            "speech_end": 24.0,
            "eou_decided": 24.3,
            "stt_final": 24.2,
            "llm_request": 24.3,
            "llm_first_token": 25.84,
            "tool_start": 25.9,
            "tool_done": 27.3,
            "followup_request": 27.31,
            "followup_first_token": 27.84,
            "tts_request": 27.85,
            "tts_first_audio": 28.2,
            "playback_start": 28.25,
        }
        record = {"turn_id": 3, "t": t, "voice_to_voice": 4.25}
        app.bus.publish(ev.TurnMetrics(turn_id=3, record=record))
        await pilot.pause()
        waterfall = app.query_one(Waterfall)
        lines = str(waterfall.render()).splitlines()
        labels = [line[:9].strip() for line in lines[:-1]]
        assert labels == ["turn end", "STT", "LLM TTFT", "tools", "LLM 2nd", "TTS TTFB", "v2v"]
        assert lines[3].endswith("1.40s") and lines[4].endswith("530ms")
        assert lines[6].endswith("4.25s")  # end of speech → playback start
        assert waterfall.region.height == len(lines)

        plain = {"turn_id": 4, "t": {k: v + 10 for k, v in t.items() if "tool" not in k}}
        del plain["t"]["followup_request"], plain["t"]["followup_first_token"]
        app.bus.publish(ev.TurnMetrics(turn_id=4, record=plain))
        await pilot.pause()
        text = str(waterfall.render())
        assert "tools" not in text and "LLM 2nd" not in text and "playback" not in text


async def test_waterfall_puts_the_sound_cards_latency_on_the_persons_side(tmp_path: Path) -> None:
    """The v2v bar and the record's voice_to_voice agree: both hold the device's latency."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        record = {
            "turn_id": 2,
            "t": PLAIN_T,
            "input_latency_s": 0.03,
            "output_latency_s": 0.2,
            "device_latency": 0.23,
            "voice_to_voice": 1.24,  # 1.01 between the stages + 0.23 of the device
        }
        app.bus.publish(ev.TurnMetrics(turn_id=2, record=record))
        await pilot.pause()
        lines = str(app.query_one(Waterfall).render()).splitlines()
        labels = [line[:9].strip() for line in lines[:-1]]
        assert labels == ["mic", "turn end", "STT", "LLM TTFT", "TTS TTFB", "speaker", "v2v"]
        assert lines[0].endswith("30ms") and lines[5].endswith("200ms")
        assert lines[6].endswith("1.24s")
        assert lines[-1].split()[0] == "-30ms"  # the person stopped before we heard it
        stats = text_of(app.query_one("#v2v-stats", Static))
        assert "p50 1.24s" in stats

        # a device with no latency (WAV files): no device rows, v2v as between the stages
        plain = {"turn_id": 3, "t": PLAIN_T, "input_latency_s": 0.0, "output_latency_s": 0.0}
        app.bus.publish(ev.TurnMetrics(turn_id=3, record=plain))
        await pilot.pause()
        text = str(app.query_one(Waterfall).render())
        assert "mic" not in text and "speaker" not in text and "1.01s" in text


async def test_settings_screen_masks_api_keys(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        '[llm]\napi_key_env = "OPENAI_API_KEY"\n[keys]\nopenai_api_key = "sk-secret-123456"\n',
        encoding="utf-8",
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("ctrl+s")
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        shown = text_of(screen.query_one("#settings-content", Static))
        assert "sk-secret" not in shown and 'openai_api_key = "set (…3456)"' in shown
        assert 'api_key_env = "OPENAI_API_KEY"' in shown  # names a variable: not a secret

        field = screen.query_one(Input)
        await pilot.press(*"keys.elevenlabs_api_key = ")
        assert field.password  # the key being typed is not echoed
        field.value = "keys.elevenlabs_api_key = xi-another-secret-987"
        await pilot.press("enter")
        assert "saved" in text_of(screen.query_one("#settings-status", Static))
        assert "xi-another-secret-987" in config.read_text(encoding="utf-8")
        shown = text_of(screen.query_one("#settings-content", Static))
        assert "xi-another" not in shown and "set (…-987)" in shown
        assert not field.password  # cleared after saving
        await pilot.press(*"turn.mode = ")
        assert not field.password


async def test_dialogs_over_the_setup_screen_offer_no_session_keys(tmp_path: Path) -> None:
    from textual.widgets._footer import FooterKey

    async def make_session(bus: ev.EventBus) -> Any:
        raise AssertionError("no session without keys")

    app = VoiceDeskApp(Settings(), make_session, config_path=tmp_path / "c.toml")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for key, screen_type in (("ctrl+s", SettingsScreen), ("question_mark", HelpScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen_type)
            footer_actions = {k.action for k in app.query(FooterKey)}  # the setup's footer
            assert not footer_actions & {"ptt", "talk_hold", "mute", "hands_free", "interrupt"}
            assert app.check_action("mute", ()) is False
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, SetupScreen)


async def test_settings_refuse_an_unknown_theme(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    config = tmp_path / "config.toml"
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("ctrl+s")
        screen = app.screen
        status = screen.query_one("#settings-status", Static)
        screen.query_one(Input).value = "ui.theme = bogus"
        await pilot.press("enter")
        assert status.has_class("error") and "bogus" in text_of(status)
        assert "nord" in text_of(status) and "not saved" in text_of(status)
        assert not config.exists() or "bogus" not in config.read_text(encoding="utf-8")
        screen.query_one(Input).value = "ui.theme = nord"
        await pilot.press("enter")
        assert status.has_class("ok") and 'theme = "nord"' in config.read_text(encoding="utf-8")


def test_an_answer_stopped_before_any_of_it_came_says_so() -> None:
    """A message typed before the answer to the last one had a word: the pane showed
    "assistant ›  ✂ cut here", a cut with nothing either side of it."""
    answer = AssistantTurn(1)
    answer.set_played("", True)
    assert answer.display_text == "assistant › (stopped before it began)"
    answer = AssistantTurn(2)
    answer.text = "It is"
    answer.set_played("", True)  # its words had come, none heard: they are shown struck
    assert answer.display_text == f"assistant › {CUT_MARKER}It is"


async def test_a_cut_answer_keeps_its_mark_on_one_line_at_every_width() -> None:
    """At 48 to 55 columns "Once upon a time there was a fox. ✂" ended a line and "cut here
    It lived in a wood." began the next: the mark read as words of the answer. Textual
    wraps at every space, a no-break one too; the mark starts a line instead, found again
    after each resize."""
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    class OneAnswer(App[None]):
        def compose(self) -> ComposeResult:
            self.answer = AssistantTurn(1)
            yield self.answer

    app = OneAnswer()
    async with app.run_test(size=(60, 12)) as pilot:
        answer = app.answer
        answer.text = "Once upon a time there was a fox. It lived in a wood."
        answer.set_played("Once upon a time there was a fox. ", True)
        for width in range(60, 19, -1):
            await pilot.resize_terminal(width, 12)
            await pilot.pause()
            strips = answer.render_lines(Region(0, 0, *answer.size))
            lines = ["".join(segment.text for segment in strip).rstrip() for strip in strips]
            assert any(CUT_MARKER.strip() in line for line in lines), (width, lines)
        # copied, the answer reads as one paragraph still
        assert answer.display_text.startswith("assistant › Once upon a time there was a fox. ✂")


async def test_a_resize_lays_out_a_cut_answer_once() -> None:
    """Every cut answer was drawn again at each new width to place its mark, and the
    screen laid out once more after the resize's own pass: with 300 of them a resize took
    ~0.9 s against ~0.6 s uncut. The answer's text places its mark for the width it is
    laid out at, so a resize draws no answer again, and the mark stays whole."""
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    drawn: list[int] = []

    class Counted(AssistantTurn):
        def _render_text(self) -> None:
            drawn.append(self.content_region.width)
            super()._render_text()

    class OneAnswer(App[None]):
        def compose(self) -> ComposeResult:
            self.answer = Counted(1)
            yield self.answer

    heard = "Once upon a time there was a fox. "
    app = OneAnswer()
    async with app.run_test(size=(80, 12)) as pilot:
        answer = app.answer
        answer.text = heard + "It lived in a wood."
        answer.set_played(heard, True)
        await pilot.pause()
        drawn.clear()
        for width in (79, 70, 61, 55, 50, 48, 40, 30):
            await pilot.resize_terminal(width, 12)
            await pilot.pause()
            strips = answer.render_lines(Region(0, 0, *answer.size))
            lines = ["".join(segment.text for segment in strip).rstrip() for strip in strips]
            assert any(CUT_MARKER.strip() in line for line in lines), (width, lines)
        assert drawn == []


async def test_a_folded_cut_answer_keeps_its_mark_on_one_line_at_every_width() -> None:
    """Past MAX_TURNS_SHOWN the oldest turns are folded into a block of text, drawn as it
    was at width 0: the cut answer's mark, kept on one line while its turn was live, was
    split again ("… a fox. ✂" / "cut here It lived …") at 48 to 55 columns."""
    from textual.app import App, ComposeResult
    from textual.geometry import Region

    from voicedesk.tui.widgets.conversation import MAX_TURNS_SHOWN

    class OnePane(App[None]):
        def compose(self) -> ComposeResult:
            self.pane = ConversationPane()
            yield self.pane

    app = OnePane()
    async with app.run_test(size=(60, 20)) as pilot:
        pane = app.pane
        heard = "Once upon a time there was a fox. "
        for turn_id in range(1, MAX_TURNS_SHOWN + 2):
            answer = heard + "It lived in a wood." if turn_id == 1 else f"Answer {turn_id}."
            for event in (
                ev.TranscriptFinal(turn_id=turn_id, text=f"Question {turn_id}?"),
                ev.AssistantDelta(turn_id=turn_id, text=answer),
                ev.PlaybackEnded(
                    turn_id=turn_id,
                    heard_text=heard if turn_id == 1 else answer,
                    interrupted=turn_id == 1,
                    audio_s=1.0,
                ),
                ev.TurnMetrics(turn_id=turn_id, record={"turn_id": turn_id, "t": PLAIN_T}),
            ):
                pane.handle(event)
            await pilot.pause()
        block = pane.query_one(".earlier-turns", Static)
        assert "Once upon a time" in text_of(block)
        for width in range(60, 19, -1):
            await pilot.resize_terminal(width, 20)
            await pilot.pause()
            strips = block.render_lines(Region(0, 0, *block.size))
            lines = ["".join(segment.text for segment in strip).rstrip() for strip in strips]
            assert any(CUT_MARKER.strip() in line for line in lines), (width, lines)


async def test_context_screen_follows_a_summary_made_while_it_is_open(tmp_path: Path) -> None:
    """A summary made in the background while the person reads the screen used to show only
    after closing and opening it again; the screen read the figures once, when opened."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert "No summary yet" in text_of(screen.query_one("#context-summary", Static))
        app.bus.publish(
            ev.ContextUpdated(
                prompt_tokens=2345,
                budget_tokens=6000,
                summary_made=True,
                summary="The person's locker code is 4711.",
            )
        )
        await pilot.pause()
        await pilot.pause()
        assert "4711" in text_of(screen.query_one("#context-summary", Static))
        assert "2345 of 6000" in text_of(screen.query_one("#context-prompt", Static))
        await pilot.press("escape")


async def test_the_timings_pane_keeps_a_bounded_history_of_records(tmp_path: Path) -> None:
    """Left open all day the pane kept every turn's whole record (its texts, marks and
    counts), though it shows only the latest: 450 turns kept 450 records. It keeps the
    last ``RECORDS_KEPT`` now; the v2v figures still count every spoken turn."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        timings = app.query_one(TimingsPane)
        turns = RECORDS_KEPT + 20  # past the bound; each is drawn, so no more than needed
        for n in range(1, turns + 1):
            t = {"speech_end": 10.0 * n, "playback_start": 10.0 * n + 1.0}
            record = {"turn_id": n, "t": t, "voice_to_voice": 1.0, "user_text": "x" * 200}
            app.bus.publish(ev.TurnMetrics(turn_id=n, record=record))
        # each is a message on the app's queue: on a loaded machine a pause saw some left
        await wait_until(
            pilot, lambda: bool(timings.records) and timings.records[-1]["turn_id"] == turns
        )
        assert len(timings.records) == RECORDS_KEPT
        assert timings.records[-1]["turn_id"] == turns
        assert timings.records[0]["turn_id"] == turns - RECORDS_KEPT + 1
        assert app.query_one(Waterfall).record is timings.records[-1]
        assert f"n={turns}" in text_of(app.query_one("#v2v-stats", Static))


async def test_the_tools_pane_keeps_a_bounded_history_of_calls(tmp_path: Path) -> None:
    """Each tool call stayed in the tools pane, its whole result with it (a document read
    is its whole text), for as long as the window was open: a day of "read me the memo"
    kept every copy. The pane keeps the latest ``CALLS_KEPT`` now, the newest in view,
    each still opening with its full result."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        pane = app.query_one(ToolPane)
        made = CALLS_KEPT + 30
        for n in range(made):
            call = f"c{n}"
            app.bus.publish(
                ev.ToolCallStarted(turn_id=n, call_id=call, name="read", arguments={"n": n})
            )
            app.bus.publish(
                ev.ToolCallFinished(
                    call_id=call,
                    name="read",
                    result_text=f"document {n} " + "x" * 5000,
                    spoken_summary="",
                    is_error=False,
                    duration_s=0.1,
                )
            )
        await pilot.pause()
        options = app.query_one("#tool-list", OptionList)
        assert len(pane.calls) == options.option_count == CALLS_KEPT
        assert f"c{made - 1}" in pane.calls and "c0" not in pane.calls
        options.focus()
        options.highlighted = options.option_count - 1
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ToolDetailScreen)
        shown = app.screen.query_one("#tool-result", TextArea).text
        assert shown.startswith(f"document {made - 1} ")


async def test_a_resumed_conversation_with_more_tool_calls_than_the_pane_keeps(
    tmp_path: Path,
) -> None:
    """A resumed conversation's calls were named ``earlier-N`` after how many calls the pane
    held; with the pane keeping only ``CALLS_KEPT``, that count stopped rising once it was
    full, the next earlier call got the name of the one before it, and the terminal UI
    failed with Textual's DuplicateID as a conversation with many tool calls was resumed."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        pane = app.query_one(ToolPane)
        per_turn = 3
        turns = tuple(
            ev.PastTurn(
                turn_id=n,
                user_text=f"question {n}",
                heard_text=f"answer {n}",
                tool_calls=tuple(
                    ev.PastToolCall(name="read", arguments={"n": n, "k": k}, result=f"r{n}.{k}")
                    for k in range(per_turn)
                ),
            )
            for n in range(1, 51)
        )
        app.bus.publish(ev.ConversationResumed(turns=turns))
        await pilot.pause()
        options = app.query_one("#tool-list", OptionList)
        assert len(pane.calls) == options.option_count == CALLS_KEPT
        newest = list(pane.calls.values())[-1]
        assert newest.earlier_result == f"r50.{per_turn - 1}"
        assert app.is_running


async def test_a_call_still_running_is_not_dropped_from_the_tools_pane(tmp_path: Path) -> None:
    """The pane drops its oldest calls past ``CALLS_KEPT``; one still running went too, and
    its result, when it came, was shown nowhere: not in the pane, and not in its detail,
    left open on "still running…" for good. Only finished calls are dropped now."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        pane = app.query_one(ToolPane)
        app.bus.publish(
            ev.ToolCallStarted(turn_id=1, call_id="slow", name="search", arguments={"q": "x"})
        )
        await pilot.pause()
        options = app.query_one("#tool-list", OptionList)
        options.focus()
        options.highlighted = 0
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ToolDetailScreen)
        for n in range(CALLS_KEPT + 5):
            call = f"c{n}"
            app.bus.publish(
                ev.ToolCallStarted(turn_id=2, call_id=call, name="read", arguments={"n": n})
            )
            app.bus.publish(
                ev.ToolCallFinished(
                    call_id=call,
                    name="read",
                    result_text=f"document {n}",
                    spoken_summary="",
                    is_error=False,
                    duration_s=0.1,
                )
            )
        app.bus.publish(
            ev.ToolCallFinished(
                call_id="slow",
                name="search",
                result_text="found it at last",
                spoken_summary="",
                is_error=False,
                duration_s=30.0,
            )
        )
        await pilot.pause()
        assert "slow" in pane.calls and len(pane.calls) == CALLS_KEPT
        assert app.screen.query_one("#tool-result", TextArea).text == "found it at last"


def test_the_oldest_logs_go_as_a_new_start_makes_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each start of the terminal UI writes a log, and none was ever removed: they piled up
    in the data folder for good. A start keeps the newest ones, at most 20 with its own (as
    docs/architecture.md says), and leaves the other files there alone."""
    from voicedesk.commands import tui

    limit = 20

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    logs = tmp_path / "data" / "voicedesk" / "logs"
    logs.mkdir(parents=True)
    made = []
    for day in range(limit + 5):
        old = logs / f"tui-202601{day + 1:02d}-120000-{100 + day}.log"
        old.write_text("a start\n", encoding="utf-8")
        os.utime(old, (1_770_000_000 + day * 86_400,) * 2)
        made.append(old)
    (logs / "mcp-docs.log").write_text("a tool server's\n", encoding="utf-8")
    new = tui.log_file_path()
    new.write_text("this start\n", encoding="utf-8")
    kept = sorted(p for p in logs.glob("tui-*.log") if p != new)
    assert kept == made[-(limit - 1) :]  # the newest, with this one: the limit
    assert (logs / "mcp-docs.log").exists()


def test_a_file_where_the_logs_folder_goes_is_named_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named ``logs`` in the data folder ended the start of the terminal UI in a
    traceback ("NotADirectoryError: … tui-….log"; before the logs were kept private,
    "FileExistsError: … logs"). The start now stops with a sentence naming the file."""
    from voicedesk.commands import tui
    from voicedesk.errors import UserError

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    logs = tmp_path / "data" / "voicedesk" / "logs"
    logs.parent.mkdir(parents=True)
    logs.write_text("not a folder\n", encoding="utf-8")
    with pytest.raises(UserError) as caught:
        tui.log_file_path()
    assert f"{logs} is a file, not a folder" in str(caught.value)
    assert logs.read_text(encoding="utf-8") == "not a folder\n"


async def test_the_tool_servers_awaited_fit_the_status_bar_however_wide_their_letters(
    tmp_path: Path,
) -> None:
    """The names of the tool servers an answer waits for are cut to 20 cells: cut at 20
    characters, two Chinese names took 38 cells and pushed the level and context off an
    80-column bar."""
    from rich.cells import cell_len

    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.StateChanged(state="thinking"))
        app.bus.publish(ev.ToolServersWait(servers=("笔记服务器一号", "文档服务器二号")))
        await pilot.pause()
        shown = text_of(app.query_one("#status-state", Static))
        prefix = "◌ waiting for tool servers "
        assert shown.startswith(prefix + "笔记") and shown.endswith("…")
        assert cell_len(shown) - cell_len(prefix) <= 20
        app.bus.publish(ev.ToolServersWait(servers=()))
        await pilot.pause()
        assert text_of(app.query_one("#status-state", Static)) == "◌ thinking"


async def test_a_long_state_is_cut_to_the_status_bar_on_a_narrow_terminal(
    tmp_path: Path,
) -> None:
    """ "◌ waiting for tool servers notes [work], docum…" took 47 cells: at 40 to 60
    columns it ran past the edge uncut, and pushed the level meter off the bar. It is cut
    with an ellipsis to what the mode and the meter leave it, at every width."""
    from rich.cells import cell_len

    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.StateChanged(state="thinking"))
        app.bus.publish(ev.ToolServersWait(servers=("notes [work]", "documents", "calendar")))
        await pilot.pause()
        state = app.query_one("#status-state", Static)
        level = app.query_one("#status-level", Static)
        assert text_of(state).startswith("◌ waiting for tool servers notes [work]")
        for width in (60, 55, 50, 45, 40):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            shown = text_of(state)
            assert shown.startswith("◌ waiting") and shown.endswith("…"), (width, shown)
            assert cell_len(shown) + 2 <= state.region.width, (width, shown)
            assert level.region.right <= width and "mic" in text_of(level), width
        await pilot.resize_terminal(100, 24)  # room again: said whole
        await pilot.pause()
        assert text_of(state) == "◌ waiting for tool servers notes [work], docum…"


async def test_a_wav_microphone_heard_to_its_end_says_so_and_where_the_answers_are(
    tmp_path: Path,
) -> None:
    """`voicedesk demo` (and `run --input a.wav --output b.wav`) in the terminal UI: the
    answers go to a WAV file, never played, and nothing said where; once the recording
    was over the screen sat at "listening" for good, the person left to guess whether
    more was coming. The demo says at start what it is and where its answers go, and
    any WAV microphone says when it has been heard to its end."""
    from voicedesk.commands import tui
    from voicedesk.tui.widgets.conversation import NoticeLine

    out = tmp_path / "answers.wav"
    args = sim_args(FINISHED_SPEECH, out, mode="hands-free")
    settings = Settings()
    async with sim_command_app(tmp_path, args, settings) as (app, pilot):

        def said() -> str:
            return " ".join(str(n.render()) for n in conversation(app).query(NoticeLine))

        await wait_until(pilot, lambda: "heard to its end" in said(), timeout=60)
        assert conversation(app).query(AssistantTurn)  # after the answer, not before
        assert str(out) in said() and "q quits" in said()
        # the file said to hold the answers now is there: they grow in the partial
        # file until the person quits ("the answers are in answers.wav" named a file
        # that was not there yet)
        (now,) = re.findall(r"the answers so far are in (\S+), ", said())
        assert Path(now).is_file() and Path(now).stat().st_size > 44
        assert f"which becomes {out} when you quit" in said()

    demo = argparse.Namespace(**{**vars(sim_args(None, None)), "sim": False, "demo": True})
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config/config.toml").write_text("", encoding="utf-8")  # VOICEDESK_CONFIG
    async with contextlib.AsyncExitStack() as stack:
        bus = ev.EventBus()
        notices: list[str] = []
        bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)
        session = await tui.session_factory(demo, settings, stack)(bus)
        await asyncio.sleep(0)
        (intro,) = [n for n in notices if n.startswith("The demo")]
        assert "recorded person" in intro and "not played" in intro
        assert "person.wav" in intro and f"{demo.output} when you quit" in intro
        assert demo.output.name == "assistant.wav"  # named when the terminal is back
        assert session.audio.backend.name == "file"


async def test_a_wav_microphone_ending_with_the_talk_key_open_is_answered_then(
    tmp_path: Path,
) -> None:
    """`voicedesk run --input a.wav` in push-to-talk, the talk key opened and the file
    heard to its end: the turn stayed open, the wait for the end of the input gave up
    120 s later, and only then was it sent and answered. It is sent as the file ends."""
    from voicedesk.bench.scenarios import compose
    from voicedesk.commands import tui
    from voicedesk.tui.widgets.conversation import NoticeLine

    speech = tmp_path / "question.wav"
    compose(["question"], lead_s=2.0, tail_s=0.5).write(speech)
    args = sim_args(speech, tmp_path / "answers.wav", mode="push-to-talk")
    settings = Settings()
    async with contextlib.AsyncExitStack() as stack:
        app = VoiceDeskApp(
            settings,
            tui.session_factory(args, settings, stack),
            simulated=True,
            log_path=tmp_path / "tui.log",
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await started(pilot)
            app.action_ptt()  # opened, never closed: the file ends with it open
            assert app.ptt_open

            def said() -> str:
                return " ".join(str(n.render()) for n in conversation(app).query(NoticeLine))

            # (a bound for a hang only; the file lasts a few seconds)
            await wait_until(pilot, lambda: "heard to its end" in said(), timeout=60)
            (asked,) = conversation(app).query(UserTurn)
            assert asked.text.strip() and not asked.provisional
            assert conversation(app).query(AssistantTurn)
            assert not app.ptt_open and app.typing_only


async def test_a_wav_microphone_ending_the_talk_keys_turn_shows_the_key_released(
    tmp_path: Path,
) -> None:
    """The file heard to its end ends the talk key's turn as a release would, but the
    status bar went on showing the key held ("● push-to-talk", its mic open) all the time
    the answer came, until the answer had ended. It shows the key up before the answer."""
    from voicedesk.bench.scenarios import compose

    speech = tmp_path / "question.wav"
    compose(["question"], lead_s=2.0, tail_s=0.5).write(speech)
    args = sim_args(speech, tmp_path / "answers.wav", mode="push-to-talk")
    async with sim_command_app(tmp_path, args) as (app, pilot):
        # (what the app shows as the answer ends, played after the turn ended and before
        # the file is said to be over: no clock involved; its words may come before, an
        # answer prepared in a pause)
        seen: list[tuple[bool, str]] = []
        handle = app.conversation.handle

        def spy(event: ev.Event) -> None:
            if isinstance(event, ev.PlaybackEnded | ev.TurnMetrics):
                seen.append((app.ptt_open, app.status_bar.mode_text))
            handle(event)

        app.conversation.handle = spy  # type: ignore[method-assign]
        app.action_ptt()  # opened, never closed: the file ends with it open
        assert app.status_bar.mode_text == "push-to-talk (mic open)"
        await wait_until(pilot, lambda: app.typing_only, timeout=60)
        assert seen, "no answer came"
        assert set(seen) == {(False, "push-to-talk")}, seen[:3]


async def test_the_talk_key_pressed_again_as_the_engine_lets_go_stays_shown_held(
    tmp_path: Path,
) -> None:
    """The engine lets go of the held key at the file's end (TalkKeyLetGo) and the person
    lets go and presses again before the app has that event: applied after the new press,
    it showed the key released while it was held, and the key's release then found nothing
    held to send. The status follows the last key event: held, then released."""
    from voicedesk.bench.scenarios import compose
    from voicedesk.tui.keyboard import TalkKeyReleased

    speech = tmp_path / "question.wav"
    compose(["question"], lead_s=2.0, tail_s=0.5).write(speech)
    args = sim_args(speech, tmp_path / "answers.wav", mode="push-to-talk")
    async with sim_command_app(tmp_path, args) as (app, pilot):
        assert app.session is not None
        app.set_talk_mode("hold")
        let_go_shown: list[tuple[bool, str]] = []
        handle = app.conversation.handle

        def spy(event: ev.Event) -> None:
            handle(event)
            if isinstance(event, ev.TalkKeyLetGo):  # as the app has applied it
                let_go_shown.append((app.ptt_open, app.status_bar.mode_text))

        app.conversation.handle = spy  # type: ignore[method-assign]

        def release_and_press_again(event: ev.Event) -> None:
            # on the bus, inline: the let-go's message is posted to the app, not yet
            # handled, and the key's up and down come in before it
            if isinstance(event, ev.TalkKeyLetGo):
                app.on_talk_key_released(TalkKeyReleased("space"))
                app.action_talk_hold()

        app.session.bus.subscribe(release_and_press_again)
        app.action_talk_hold()  # held down until the file ends
        await wait_until(pilot, lambda: bool(let_go_shown), timeout=60)
        assert let_go_shown == [(True, "push-to-talk (mic open)")]
        app.on_talk_key_released(TalkKeyReleased("space"))  # the key comes up: sent
        assert not app.ptt_open and not app.session.talk_key_down
        assert app.status_bar.mode_text == "push-to-talk"


async def test_once_a_wav_microphone_is_over_the_keys_offer_typing_not_talking(
    tmp_path: Path,
) -> None:
    """After the demo's recording (or any `run --input a.wav`) had been heard to its end,
    the footer still offered "space Talk/send  h Hands-free  m Mute": space opened a
    microphone with nothing left in it and then said "No words were heard … check the
    microphone (c)", and c checked the demo's files. Once it is over the terminal UI is
    as without a microphone: typing keys, the text box ready, "no mic" in the status bar."""

    args = sim_args(FINISHED_SPEECH, tmp_path / "answers.wav", mode="hands-free")
    async with sim_command_app(tmp_path, args) as (app, pilot):
        await wait_until(pilot, lambda: app.input_device == "file")
        assert app.check_action("ptt", ()) and app.check_action("hands_free", ())
        await wait_until(pilot, lambda: app.typing_only, timeout=60)
        await pilot.pause()
        assert conversation(app).query(AssistantTurn)  # after the answer, not before
        for action in ("ptt", "hands_free", "mute", "audio_check"):
            assert app.check_action(action, ()) is False, action
        assert app.check_action("type", ()) and app.check_action("quit", ())
        assert app.text_input.has_focus
        assert "no mic" in status_text(app)
        # what the notice says to do works there: it said "t types more; q quits",
        # and in the text box t and q are letters
        (over,) = [text_of(n) for n in app.query(NoticeLine) if "heard to its end" in text_of(n)]
        assert "ctrl+q quits" in over and "t types" not in over, over
        await pilot.press(*"Thanks.", "enter")  # typing goes on
        await wait_until(pilot, lambda: len(conversation(app).users) == 2, timeout=30)
        await pilot.press("ctrl+q")


async def test_a_wav_microphone_over_under_a_dialog_leaves_the_text_box_ready(
    tmp_path: Path,
) -> None:
    """The demo's recording ended while the help was open: closing it gave the focus back to
    the conversation, not the text box, with the talk keys gone, and the line typed next
    went nowhere."""

    args = sim_args(FINISHED_SPEECH, tmp_path / "answers.wav", mode="hands-free")
    async with sim_command_app(tmp_path, args) as (app, pilot):
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await wait_until(pilot, lambda: app.typing_only, timeout=60)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        assert app.text_input.has_focus
        await pilot.press(*"Thanks.", "enter")
        await wait_until(pilot, lambda: len(conversation(app).users) == 2, timeout=30)
        await pilot.press("ctrl+q")


async def test_a_wav_microphone_without_output_says_at_start_the_answers_are_not_kept(
    tmp_path: Path,
) -> None:
    """`voicedesk run --input a.wav` (no --output) in the terminal UI said that the
    answers were not kept only once the recording was heard to its end; `run --headless`
    says it at start."""
    from voicedesk.commands import tui

    args = sim_args(FINISHED_SPEECH, None, mode="hands-free")
    async with contextlib.AsyncExitStack() as stack:
        bus = ev.EventBus()
        notices: list[ev.Notice] = []
        bus.subscribe(lambda e: notices.append(e) if isinstance(e, ev.Notice) else None)
        await tui.session_factory(args, Settings(), stack)(bus)
        await asyncio.sleep(0)
        (said,) = [n for n in notices if "--output" in n.message]
        assert "dev-finished-0.wav" in said.message and "not played or kept" in said.message
        assert "--output OUT.wav" in said.message and said.kept


async def test_an_unknown_theme_at_start_says_the_key_and_the_nearest(tmp_path: Path) -> None:
    """It said "Unknown theme 'dracula2'; using the default" for 5 s: neither the key to
    change nor the theme meant."""
    app = fake_app(tmp_path, theme="dracula2")
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        (toast,) = [n for n in app._notifications if "dracula2" in n.message]
        assert 'ui.theme = "dracula2"' in toast.message and "did you mean dracula?" in toast.message
        assert toast.severity == "warning" and app.theme == "textual-dark"


async def test_the_theme_in_use_picked_after_an_unknown_one_is_kept(tmp_path: Path) -> None:
    """With `ui.theme = "dracula2"` the toast says the terminal UI uses textual-dark and
    that picking a theme (ctrl+p, then Theme) keeps it; picking that same textual-dark,
    the one on screen, kept nothing (the theme did not change, so nothing was told of the
    pick), and the warning came back at every start."""
    from textual.command import CommandList

    app = fake_app(tmp_path, theme="dracula2")
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        assert app.theme == "textual-dark"
        app.action_change_theme()
        await pilot.pause()
        await pilot.press(*"textual-dark")
        hits = app.screen.query_one(CommandList)
        await wait_until(pilot, lambda: hits.option_count > 0)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.settings.ui.theme == "textual-dark")
    config = tomllib.loads((tmp_path / "config.toml").read_text(encoding="utf-8"))
    assert config["ui"]["theme"] == "textual-dark"


@contextlib.contextmanager
def read_only_folder(folder: Path) -> Iterator[str]:
    """``folder``, made, that cannot be written to: mode 0555, or for root (whom no mode
    stops) a file system mounted read-only. Yields the errno name a write there gets."""
    import subprocess

    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield "EACCES"
        finally:
            folder.chmod(0o755)
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"root, and no read-only mount to be had: {mounted.stderr.strip()}")
    try:
        yield "EROFS"
    finally:
        subprocess.run(["umount", str(folder)], check=True, timeout=30)


async def test_settings_saved_on_a_read_only_folder_say_what_to_do(tmp_path: Path) -> None:
    """A config folder that cannot be written to: the settings screen said "Cannot write
    …: [Errno 30] Read-only file system: …", with no word of what to do about it."""
    with read_only_folder(tmp_path / "ro") as errno_name:
        config = tmp_path / "ro" / "config.toml"
        settings = Settings()

        async def make_session(bus: ev.EventBus) -> Any:
            return FakeSession(bus, settings)

        app = VoiceDeskApp(settings, make_session, simulated=True, config_path=config)
        async with app.run_test(size=(100, 30)) as pilot:
            await started_fake(pilot)
            await pilot.press("ctrl+s")
            screen = app.screen
            assert isinstance(screen, SettingsScreen)
            screen.query_one(Input).value = "turn.mode = push-to-talk"
            await pilot.press("enter")
            status = screen.query_one("#settings-status", Static)
            said = " ".join(text_of(status).split())
            assert status.has_class("error"), said
            assert "Cannot write config.toml" in said and "[Errno" not in said, said
            if errno_name == "EROFS":
                assert "mounted read-only" in said, said
            else:
                assert "chmod u+w" in said, said
            assert "--config" in said, said  # the other way: a config file elsewhere
        assert not config.exists()


async def test_an_unknown_voicedesk_variable_is_warned_of_on_the_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`VOICEDESK_TTS_VOICEE=… voicedesk`: the warning that it sets nothing was written on
    the terminal just before the terminal UI took it, and was read only after quitting,
    the voice meanwhile not the one asked for."""
    from voicedesk.cli import unknown_env_warnings
    from voicedesk.tui.widgets.conversation import NoticeLine

    monkeypatch.setenv("VOICEDESK_TTS_VOICEE", "alloy")
    settings = Settings()

    async def make_session(bus: ev.EventBus) -> Any:
        return FakeSession(bus, settings)

    # as the command makes the app (voicedesk/commands/tui.py)
    app = VoiceDeskApp(
        settings,
        make_session,
        simulated=True,
        config_path=tmp_path / "config.toml",
        start_warnings=unknown_env_warnings(),
    )
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await started_fake(pilot)
        await pilot.pause()
        (toast,) = [n for n in app._notifications if "VOICEDESK_TTS_VOICEE" in n.message]
        assert toast.severity == "warning" and "VOICEDESK_TTS__VOICE" in toast.message
        lines = " ".join(text_of(line) for line in app.query(NoticeLine))
        assert "VOICEDESK_TTS_VOICEE is not a voicedesk variable" in lines, lines


async def test_a_theme_that_cannot_be_saved_says_what_to_do(tmp_path: Path) -> None:
    """ctrl+p → theme, the config folder not writable: the toast quoted "[Errno 30]
    Read-only file system: '….config.toml.XXXX.tmp'", with no word of what to do."""
    with read_only_folder(tmp_path / "ro") as errno_name:
        settings = Settings()

        async def make_session(bus: ev.EventBus) -> Any:
            return FakeSession(bus, settings)

        config = tmp_path / "ro" / "config.toml"
        app = VoiceDeskApp(settings, make_session, simulated=True, config_path=config)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await started_fake(pilot)
            app.theme = "nord"
            await wait_until(pilot, lambda: any("nord" in n.message for n in app._notifications))
            (toast,) = [n for n in app._notifications if "nord" in n.message]
            said = " ".join(toast.message.split())
            assert "for this run only" in said and "[Errno" not in said, said
            fix = "mounted read-only" if errno_name == "EROFS" else "chmod u+w"
            assert fix in said and "--config" in said, said
