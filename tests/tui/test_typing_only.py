"""The TUI on a machine with no microphone: a conversation by typing, not an error dialog.

The session is the real one ``voicedesk run --sim`` builds (``commands.tui.session_factory``)
with the sound system made unavailable, as on a server reached over SSH, whatever this
machine has.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    conversation,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    sim_args,
    sim_command_app,
    started,
    status_text,
    wait_until,
)
from textual import events
from textual.app import ComposeResult
from textual.pilot import Pilot
from textual.screen import ModalScreen
from textual.widgets import Input

from voicedesk.audio import sounddevice_backend
from voicedesk.audio.devices import PORTAUDIO_MISSING
from voicedesk.config import Settings
from voicedesk.errors import AudioUnavailableError
from voicedesk.events import StateChanged
from voicedesk.tui import app as tui_app
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.screens import ErrorScreen
from voicedesk.tui.widgets.conversation import AssistantTurn, UserTurn


def _no_portaudio() -> None:
    raise AudioUnavailableError(PORTAUDIO_MISSING)


@contextlib.asynccontextmanager
async def typing_only_app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    settings: Settings | None = None,
    **sim: Any,
) -> AsyncIterator[tuple[VoiceDeskApp, Pilot]]:
    """The app `voicedesk run --sim` opens on a machine with no sound system, started and
    in typing-only mode (``settings``: the config it runs with; the defaults if None)."""
    monkeypatch.setattr(sounddevice_backend, "import_sounddevice", _no_portaudio)
    args = sim_args(None, None, **{"sim_ttft": 0.05, **sim})
    async with sim_command_app(tmp_path, args, settings) as (app, pilot):
        await wait_until(pilot, lambda: app.typing_only)
        yield app, pilot


async def test_without_sound_devices_the_conversation_goes_on_by_typing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with typing_only_app(tmp_path, monkeypatch) as (app, pilot):
        assert not isinstance(app.screen, ErrorScreen)
        # the silent clock's blocks keep time, but there is nothing for the VAD to hear
        session = app.session
        assert session is not None
        fed: list[float] = []
        monkeypatch.setattr(session.detector, "feed", lambda block, at: fed.append(at) or [])
        ticks = session._last_block_s
        await wait_until(pilot, lambda: session._last_block_s > ticks + 0.2)
        assert not fed
        hint = str(app.query_one("#conversation-hint").render())
        assert "No microphone" in hint and "answers are shown" in hint
        status = status_text(app)
        assert "typing" in status and "ready" in status and "no mic → none" in status
        assert "listening" not in status and "hands-free" not in status
        # no voice is made, whatever the config names (it named ElevenLabs' model)
        assert "TTS none" in status
        app.status_bar.set_state("speaking")  # no speaker: nothing is spoken
        assert "answering" in status_text(app) and "speaking" not in status_text(app)
        app.status_bar.set_state("listening")
        # the talk keys are gone; the text box has the focus and keeps it
        for action in ("ptt", "talk_hold", "hands_free", "mute", "audio_check"):
            assert app.check_action(action, ()) is False
        text_input = app.query_one("#text-input", Input)
        assert text_input.has_focus
        # "press t to type" in the box that had the focus typed a "t" into the message
        assert "press t" not in text_input.placeholder and "Enter sends" in text_input.placeholder
        states: list[str] = []
        session.bus.subscribe(
            lambda e: states.append(e.state) if isinstance(e, StateChanged) else None
        )
        await pilot.press(*"Hello")
        await pilot.press("enter")
        pane = conversation(app)
        await wait_until(pilot, lambda: bool(list(pane.query(AssistantTurn))))
        assert [u.text for u in pane.query(UserTurn)] == ["Hello"]
        assert text_input.has_focus and text_input.value == ""
        # With no speaker the answer is its text: it ends once its text is all shown.
        # It used to be synthesised and "played" to nobody to keep time, "answering" for
        # seconds after it was all shown, and a cut kept only what that silent playback
        # had reached.
        assert session.tts.name == "none"
        await wait_until(pilot, lambda: len(session.records) >= 1)
        first = session.records[0]
        assert not first.interrupted and first.heard_text == first.assistant_text != ""
        assert session._speaking.playing is None and "answering" not in status_text(app)
        # "answering" from its first words shown: it said "thinking" while they streamed
        assert states == ["thinking", "speaking", "listening"]
        await pilot.press(*"Thanks")
        await pilot.press("enter")
        assistant = [m for t in session.context.turns for m in t.messages][1]
        assert assistant == {"role": "assistant", "content": first.assistant_text}
        app.action_ptt()  # e.g. from the global hotkey: a word, not an open microphone
        assert not app.ptt_open
        await pilot.press("escape", "q")
    assert app.return_value == 0


class _KeysBeforeTheScreen(VoiceDeskApp):
    """Keys already waiting as the app starts, as tmux send-keys leaves them straight after
    the command: in the terminal's line mode then, its Enter is a line feed (ctrl+j)."""

    CSS_PATH = Path(tui_app.__file__).with_name("voicedesk.tcss")  # not beside this file

    def compose(self) -> ComposeResult:
        yield from super().compose()
        for key in (*"hello", "space", *"moon", "ctrl+j"):
            character = {"space": " ", "ctrl+j": "\n"}.get(key, key)
            self.post_message(events.Key(key, character))


async def test_a_line_typed_as_it_starts_is_typed_not_taken_as_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "hello moon" and Enter sent straight after the start (tmux send-keys) came in before
    the text box had the focus: its letters were the conversation's keys (h hands-free, m
    mute, each saying "still starting"), and the line was lost. It goes in the box, and is
    sent once the conversation has started."""
    import asyncio

    from voicedesk.commands import tui

    monkeypatch.setattr(sounddevice_backend, "import_sounddevice", _no_portaudio)
    args = sim_args(None, None, sim_ttft=0.05)
    settings = Settings()
    go_on = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        make = tui.session_factory(args, settings, stack)

        async def held_start(bus: Any) -> Any:  # the start takes as long as the keys need
            await go_on.wait()
            return await make(bus)

        app = _KeysBeforeTheScreen(
            settings, held_start, simulated=True, log_path=tmp_path / "tui.log"
        )
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            text_input = app.query_one("#text-input", Input)
            assert text_input.value == "hello moon"  # sent while starting: kept
            assert not isinstance(app.screen, ModalScreen)
            # typed on while it starts, after the line was sent: maybe not finished (the
            # start's end sent "hello moon ag"), so it waits for Enter
            await pilot.press(*" again")
            go_on.set()
            await started(pilot)
            pane = conversation(app)
            assert text_input.has_focus and text_input.value == "hello moon again"
            assert not list(pane.query(UserTurn))
            await pilot.press("enter")
            await wait_until(pilot, lambda: bool(list(pane.query(AssistantTurn))))
            assert [u.text for u in pane.query(UserTurn)] == ["hello moon again"]
            assert app.typing_only and text_input.has_focus and text_input.value == ""
            assert app.session is not None and not app.session.muted
            assert app.session.mode == settings.turn.mode
            await pilot.press("escape", "q")
    assert app.return_value == 0


async def test_without_sound_devices_no_voice_is_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only an OpenAI key, a machine with no speaker stopped at "No ElevenLabs API key
    is set", for a conversation that would never have spoken."""
    from voicedesk.engine.builder import SimOptions, build_session, settings_for_sim, sim_server
    from voicedesk.errors import ConfigError

    monkeypatch.setattr(sounddevice_backend, "import_sounddevice", _no_portaudio)
    async with sim_server(SimOptions(ttft_s=0.05)) as sim:
        settings = settings_for_sim(
            Settings.model_validate({"tools": {"docs_server": False}}), sim.base_url
        )
        settings.keys.elevenlabs_api_key = None
        with pytest.raises(ConfigError, match="No ElevenLabs API key"):
            build_session(settings, log_path=tmp_path / "a.jsonl")  # a voice-only session
        session = build_session(settings, log_path=tmp_path / "b.jsonl", typing_fallback=True)
        try:
            await session.start()
            assert session.tts.name == "none" and not session.audio.speaker
        finally:
            await session.stop()


async def test_quitting_while_an_answer_is_shown_keeps_the_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typing only, ctrl+q while the answer was coming in: the turn was not recorded (a
    stop keeps an answer only if some of its audio had played, and none ever does with no
    speaker), so --resume showed the question unanswered."""
    async with typing_only_app(tmp_path, monkeypatch, sim_tokens_per_s=4) as (app, pilot):
        session = app.session
        assert session is not None
        await pilot.press(*"Hello", "enter")
        speaking = session._speaking
        await wait_until(
            pilot, lambda: speaking.playing is not None and len(speaking.playing.text) > 3
        )
        await app.stop_session()
        (record,) = session.records
        assert record.interrupted and record.heard_text and record.assistant_text
        assert record.assistant_text.startswith(record.heard_text)


async def test_messages_typed_back_to_back_are_sent_as_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "one⏎two⏎" reaching the app in one burst (fast typing, a key macro) was sent as
    "onetwo", twice: Enter ran after the keys typed behind it were in the box."""
    from textual import events

    async with typing_only_app(tmp_path, monkeypatch) as (app, pilot):
        sent: list[str] = []
        session = app.session
        assert session is not None

        async def send_text(text: str) -> None:
            sent.append(text)

        monkeypatch.setattr(session, "send_text", send_text)
        for key in [*"one", "enter", *"two", "enter"]:
            character = "\r" if key == "enter" else key
            app.post_message(events.Key(key, character))  # in one burst, as the driver would
        await wait_until(pilot, lambda: len(sent) >= 2)
        await pilot.pause(0.2)
        assert sent == ["one", "two"]
        assert app.query_one("#text-input", Input).value == ""
        await pilot.press("escape", "q")


async def test_a_dialogs_stop_key_stops_the_answer_in_a_typing_only_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dialog's footer offers "i Stop", but in a typing-only session the text box keeps
    the focus under the dialog, and i took it for Esc in the box: it moved that hidden
    focus out of the box, and the answer went on. Over a dialog it stops the answer."""
    from voicedesk.tui.screens import HelpScreen

    # (a word a second: the answer is still coming when the key is pressed)
    async with typing_only_app(tmp_path, monkeypatch, sim_tokens_per_s=1.0) as (app, pilot):
        await pilot.press(*"Tell me a story.", "enter")
        pane = conversation(app)
        await wait_until(pilot, lambda: any(a.text for a in pane.assistants.values()))
        (answer,) = pane.assistants.values()
        app.action_help()  # as from the command palette: the box keeps its focus
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("i")
        await wait_until(pilot, lambda: answer.interrupted, timeout=30)
        assert "✂ cut here" in answer.display_text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        assert app.text_input.has_focus  # typing goes on where it was
