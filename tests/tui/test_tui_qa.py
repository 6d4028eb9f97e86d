"""Problems found by a fresh-eyes pass over the TUI, each driven with Textual's pilot."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    PLAIN_T,
    FakeSession,
    fake_app,
    help_keys_text,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    silence_wav,  # noqa: F401  (module fixture: a WAV of silence)
    started_fake,
    status_text,
    text_of,
)
from textual import events
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static, TextArea

from voicedesk import events as ev
from voicedesk.config import Settings
from voicedesk.errors import UserError
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.audio_check import AudioCheckScreen
from voicedesk.tui.screens import HelpScreen, ToolDetailScreen
from voicedesk.tui.widgets.folded_text import PATH_BREAKS, fold_lines
from voicedesk.tui.widgets.timings import Waterfall

TOOL_T = {
    **PLAIN_T,
    "tool_start": 4.75,
    "tool_done": 5.5,
    "followup_request": 5.51,
    "followup_first_token": 5.9,
    "tts_request": 5.91,
    "tts_first_audio": 6.2,
    "playback_start": 6.21,
}


async def test_waterfall_grows_when_a_tool_turn_follows_a_plain_one(tmp_path: Path) -> None:
    """The demo: turn 1 has no tool, turn 2 does; its v2v row and axis were cut off."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        waterfall = app.query_one(Waterfall)
        app.bus.publish(ev.TurnMetrics(turn_id=1, record={"turn_id": 1, "t": PLAIN_T}))
        await pilot.pause()
        assert waterfall.region.height == len(str(waterfall.render()).splitlines())
        app.bus.publish(ev.TurnMetrics(turn_id=2, record={"turn_id": 2, "t": TOOL_T}))
        await pilot.pause()
        lines = str(waterfall.render()).splitlines()
        assert len(lines) == 8  # 7 stages and the axis
        assert waterfall.region.height == len(lines)
        # and back: a plain turn leaves no blank rows behind
        app.bus.publish(ev.TurnMetrics(turn_id=3, record={"turn_id": 3, "t": PLAIN_T}))
        await pilot.pause()
        assert waterfall.region.height == len(str(waterfall.render()).splitlines())


async def test_dialogs_scroll_with_the_keyboard(tmp_path: Path) -> None:
    """At 80×24 the help is taller than the screen, and a tool's result is often a whole
    document: nothing in a dialog had focus, so only a mouse could scroll to the rest."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_box = app.screen.query_one("#help", VerticalScroll)
        assert help_box.max_scroll_y > 0  # the config path and "Esc closes" are below
        await pilot.press("end")
        await pilot.pause()
        assert help_box.scroll_y == help_box.max_scroll_y
        await pilot.press("escape")
        await pilot.pause()

        app.bus.publish(
            ev.ToolCallStarted(turn_id=1, call_id="c1", name="docs__read_document", arguments={})
        )
        app.bus.publish(
            ev.ToolCallFinished(
                call_id="c1",
                name="docs__read_document",
                result_text="\n".join(f"line {i}" for i in range(200)),
                spoken_summary="",
                is_error=False,
                duration_s=0.1,
            )
        )
        await pilot.pause()
        app.push_screen(ToolDetailScreen(app.tool_pane.calls["c1"]))
        await pilot.pause()
        result = app.screen.query_one("#tool-result", TextArea)
        assert result.max_scroll_y > 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert result.scroll_y > 0
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is app.conversation  # back where the person was


async def test_settings_input_keeps_the_focus(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.focused, Input) and app.focused.id == "settings-input"


def _tool_call(app: VoiceDeskApp, call_id: str, arguments: dict, result: str) -> None:
    app.bus.publish(
        ev.ToolCallStarted(
            turn_id=1, call_id=call_id, name="docs__read_document", arguments=arguments
        )
    )
    app.bus.publish(
        ev.ToolCallFinished(
            call_id=call_id,
            name="docs__read_document",
            result_text=result,
            spoken_summary="",
            is_error=True,
            duration_s=0.03,
        )
    )


async def test_tool_pane_tab_then_enter_opens_the_newest_call(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        _tool_call(app, "c1", {"path": "a.md"}, "first")
        _tool_call(app, "c2", {"path": "b.md"}, "second")
        await pilot.pause()
        await pilot.press("tab")  # from the conversation to the tool list
        await pilot.pause()
        assert app.focused is app.query_one("#tool-list", OptionList)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ToolDetailScreen)
        assert app.screen.info.call_id == "c2"


async def test_tool_pane_keeps_each_call_to_three_indented_lines(tmp_path: Path) -> None:
    """Long arguments or an error message wrapped back to the pane's left edge, so the
    calls ran into each other; the card and the detail dialog have the full text."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        long = "a very long argument value that keeps going and going and going"
        error = "Error executing tool read_document: There is no document called nope.md."
        _tool_call(app, "c1", {"path": "nope.md", "extra": long}, error)
        await pilot.pause()
        options = app.query_one("#tool-list", OptionList)
        lines = ["".join(s.text for s in options.render_line(y)) for y in range(4)]
        assert lines[0].startswith("✗ docs__read_document")
        assert lines[1].startswith("  path=nope.md") and lines[1].rstrip().endswith("…")
        # (the SDK's "Error executing tool read_document: " is not shown: see test_tui_tools)
        assert lines[2].startswith("  There is no document") and lines[2].rstrip().endswith("…")
        assert not lines[3].strip()


async def test_a_failed_start_takes_back_the_just_talk_hint(tmp_path: Path) -> None:
    """`run --sim` with no sound card: after the error, the pane still said "Just talk …
    or press t to type", and every key only answered "No conversation running"."""

    async def make_session(bus: ev.EventBus) -> Any:
        raise UserError("No microphone was found", "connect a device")

    app = VoiceDeskApp(Settings(), make_session, simulated=True, log_path=tmp_path / "x.log")
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(app.started.wait(), 5)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        hint = str(app.conversation.query_one("#conversation-hint", Static).render())
        assert "did not start" in hint and "Just talk" not in hint
        # the error itself stays once its dialog is closed ("see the error above" had none)
        assert "No microphone was found. To fix it: connect a device." in hint
        # nor the text box ("press t to type a message", which t no longer did)
        assert app.text_input.disabled and "press t" not in app.text_input.placeholder
        # nor do the status and the footer offer a conversation: they said "idle" and
        # listed space, h, m, i and t, each of which only said "No conversation running"
        assert "not started" in status_text(app) and "idle" not in status_text(app)
        # nor a mode and a level meter, as if it listened hands-free
        assert "hands-free" not in status_text(app) and "mic" not in status_text(app)
        for action in ("ptt", "hands_free", "mute", "interrupt", "type"):
            assert app.check_action(action, ()) is False
        assert app.check_action("help", ()) is True


async def test_the_check_over_wav_files_gives_no_microphone_advice(tmp_path: Path) -> None:
    """`run --input a.wav --output b.wav` (and the demo): c said "speak now", then "Too
    quiet … speak closer, raise the input volume", and played "two short tones on file.
    Did you hear them?" into the output file."""
    from test_audio_check import QUIET_AFTER_REPORTS, announce_devices, audio_app, levels

    app = audio_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        session = await started_fake(pilot)
        await announce_devices(pilot, "file", "file", echo_cancellation=False)
        await pilot.press("c")
        await levels(pilot, *([-120.0] * QUIET_AFTER_REPORTS))
        mic = str(app.screen.query_one("#check-mic", Static).render())
        assert "WAV file" in mic and "speak" not in mic.lower()
        await pilot.press("p")
        speaker = str(app.screen.query_one("#check-speaker", Static).render())
        assert "No sound device to test" in speaker
        assert session.audio.playback.queued == []  # type: ignore[attr-defined]


async def test_help_over_the_setup_screen_lists_only_keys_that_work_there(
    tmp_path: Path,
) -> None:
    async def make_session(bus: ev.EventBus) -> Any:
        raise AssertionError("no session without keys")

    app = VoiceDeskApp(Settings(), make_session, config_path=tmp_path / "c.toml")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = help_keys_text(app.screen)
        assert "settings" in keys and "quit" in keys and "sound devices" in keys
        assert "push-to-talk" not in keys and "hands-free" not in keys and "mute" not in keys
        assert not app.screen.query("#help-talk-mode")


async def test_palette_over_the_setup_screen_offers_no_conversation_commands(
    tmp_path: Path,
) -> None:
    """The footer and help already hide them there; the palette still offered Push-to-talk,
    Mute, Type a message … each answering only "No conversation running"."""

    async def make_session(bus: ev.EventBus) -> Any:
        raise AssertionError("no session without keys")

    app = VoiceDeskApp(Settings(), make_session, config_path=tmp_path / "c.toml")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        titles = {cmd.title for cmd in app.get_system_commands(app.screen)}
        assert {"Settings", "Sound devices", "Help"} <= titles
        assert not titles & {"Push-to-talk", "Mute / unmute", "Type a message", "Interrupt"}
        assert "Microphone and speaker check" not in titles


@contextlib.asynccontextmanager
async def _failed_answer(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> AsyncIterator[tuple[VoiceDeskApp, Pilot]]:
    """A real session whose model fails every answer (`run --sim --sim-fault llm:500:6`),
    "hello there" typed; quits when the test is done with it."""
    from test_tui import sim_app

    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    async with SimServer(SimScript(turns=[]), SimLatency(ttft_s=0.05, ttfb_s=0.05)) as sim:
        sim.inject("llm", "500", 6)
        app = sim_app(sim.base_url, silence_wav, tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await asyncio.wait_for(app.started.wait(), 15)
            assert app.session is not None
            await app.session.send_text("hello there")
            yield app, pilot
            await pilot.press("q")


async def test_a_failed_answer_does_not_leave_the_status_on_thinking(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`run --sim --sim-fault llm:500:6`, type a message: the notice said "No answer for
    turn 1", and the status bar said "◌ thinking" until the person spoke again."""
    from test_tui import status_text, wait_until

    async with _failed_answer(silence_wav, tmp_path) as (app, pilot):
        await wait_until(pilot, lambda: any("No answer" in n.message for n in app._notifications))
        await wait_until(pilot, lambda: app.session.state == "listening", timeout=5)
        assert "listening" in status_text(app) and "thinking" not in status_text(app)


def test_settings_keep_a_quote_that_ends_or_starts_the_value(tmp_path: Path) -> None:
    """ctrl+s, `llm.system_prompt = Say "hi"` was saved as `Say "hi` (every quote at either
    end was stripped); a pair of quotes around the whole value still goes."""
    import tomllib

    from voicedesk.tui.config_edit import apply_pair

    config = tmp_path / "config.toml"
    saved = {
        'llm.system_prompt = Say "hi"': 'Say "hi"',
        "llm.system_prompt = 'Tis the season": "'Tis the season",
        'llm.system_prompt = "Be brief"': "Be brief",
        "llm.model = gpt-4o-mini": "gpt-4o-mini",
    }
    for line, value in saved.items():
        key, _ = apply_pair(config, line)
        section, name = key.split(".")
        assert tomllib.loads(config.read_text(encoding="utf-8"))[section][name] == value, line


async def test_a_pasted_paragraph_is_sent_whole(tmp_path: Path) -> None:
    """t, paste a few lines (an e-mail to ask about), Enter: only the first line was sent,
    the rest dropped without a word (Textual's Input keeps a paste's first line)."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        session = await started_fake(pilot)
        await pilot.press("t", *"About this: ")
        app.text_input.post_message(
            events.Paste("Dear team,\n\n  the budget is 42k.\r\nBest, Ann\n")
        )
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert session.calls[-1] == "text:About this: Dear team, the budget is 42k. Best, Ann"


# what the session reports on a machine with no sound devices: the app goes typing-only
NO_SOUND_DEVICES = ev.AudioInfo(
    input_device=ev.NO_DEVICE, output_device=ev.NO_DEVICE, echo_cancellation=False
)


async def test_help_without_a_microphone_lists_only_keys_that_work(tmp_path: Path) -> None:
    """`run --sim` on a machine with no sound card, Esc, ?: the help listed space, h, m and
    c, which do nothing there (the footer and the palette leave them out), and explained
    tap/tap push-to-talk. The hint that sends the person there forgot the Esc first."""
    from test_tui import text_of, wait_until

    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(NO_SOUND_DEVICES)
        await wait_until(pilot, lambda: app.typing_only and app.text_input.has_focus)
        # the hint said "? has the rest", but ? typed in the focused box is a question mark
        hint = str(app.query_one("#conversation-hint").render())
        assert "Esc" in hint and hint.index("Esc") < hint.index("?")
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = [line.split()[0] for line in help_keys_text(app.screen).splitlines()]
        assert not {"space", "h", "m", "c"} & set(keys)
        assert {"t", "i", "d", "s", "ctrl+s", "ctrl+p", "?", "q"} <= set(keys)
        note = text_of(app.screen.query_one("#help-talk-mode", Static))
        assert "No microphone" in note and "tap" not in note


async def test_a_failed_answer_stays_said_in_the_conversation(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`run --sim --sim-fault llm:500:6`, type "hello": a notice said "No answer for turn
    1" for ten seconds, then the conversation showed "you › hello" and nothing after it, as
    if the answer were still to come (typing only, there is no spoken error line either)."""
    from test_tui import conversation, wait_until

    async with _failed_answer(silence_wav, tmp_path) as (app, pilot):
        await wait_until(pilot, lambda: bool(conversation(app).assistants))
        (answer,) = conversation(app).assistants.values()
        await wait_until(pilot, lambda: "✗" in answer.display_text)
        assert "The language model failed (HTTP 500)" in answer.display_text


def test_only_a_turn_without_its_whole_answer_is_shown_as_failed() -> None:
    from voicedesk.tui.widgets.conversation import _failure

    answered = {"assistant_text": "Hi.", "heard_text": "Hi.", "interrupted": False}
    assert _failure(answered) is None
    # speech-to-text failed on one pause, the next one's words were answered in full
    assert _failure({**answered, "error": "stt: timeout"}) is None
    assert _failure({**answered, "error": "stt: timeout", "interrupted": True}) is None
    llm = "The language model failed (HTTP 500)"
    assert _failure({"assistant_text": "", "heard_text": "", "error": llm}) == llm
    cut = {"assistant_text": "Hi. And", "heard_text": "Hi.", "error": llm}
    assert _failure(cut) == llm


async def test_ctrl_c_quits_outside_the_text_box_and_copies_inside_it(tmp_path: Path) -> None:
    """Textual only said "press ctrl+q to quit"; a terminal program quits on ctrl+c."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        session = await started_fake(pilot)
        await pilot.press("t", *"hi", "ctrl+c")  # in the box: the box's copy, no quit
        await pilot.pause()
        assert app.is_running and app.text_input.value == "hi"
        await pilot.press("escape", "ctrl+c")
        await pilot.pause()
    assert app.return_value == 0 and session.calls[-1] == "stop"


async def test_a_tool_card_wraps_between_words(tmp_path: Path) -> None:
    """At 80 columns the card's name and arguments were one token, "name(args…)", so the
    line folded inside it: "(query=renovati" / "on of the north wing …". A path longer than
    the card may still fold; a word that fits must not be split."""
    from test_tui import conversation

    from voicedesk.tui.widgets.conversation import ToolCard

    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.ToolCallStarted(
                turn_id=1,
                call_id="c1",
                name="docs__search_documents",
                arguments={"query": "renovation of the north wing budget", "folder": "projects"},
            )
        )
        app.bus.publish(
            ev.ToolCallFinished(
                call_id="c1",
                name="docs__search_documents",
                result_text="…",
                spoken_summary="Three documents mention the renovation budget.",
                is_error=False,
                duration_s=0.02,
            )
        )
        await pilot.pause()
        card = conversation(app).query_one(ToolCard)
        lines = [
            "".join(s.text for s in card.render_line(y)).strip(" ▌")
            for y in range(card.size.height)
        ]
        assert len(lines) > 1  # the card wraps at this width: the case under test
        # no token here is wider than the card, so each word stays whole on its line
        words = re.findall(r"\w+", card.render().plain)
        assert re.findall(r"\w+", " ".join(lines)) == words
        assert lines[0].startswith("✓ docs__search_documents")  # not an icon on its own


async def test_the_footer_says_how_to_send_leave_and_quit_from_the_text_box(
    tmp_path: Path,
) -> None:
    """Typing only (no microphone) keeps the focus in the text box, where Textual leaves the
    letter keys out of the footer: it showed only "^p palette". ctrl+c copies there, so
    ctrl+q is the quit key offered."""
    from textual.widgets._footer import FooterKey

    def footer() -> list[tuple[str, str]]:
        return [(k.key, k.description) for k in app.footer.query(FooterKey) if k.display]

    from test_tui import wait_until

    in_the_box = [("enter", "Send"), ("escape", "Leave box"), ("ctrl+q", "Quit")]
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        app.bus.publish(NO_SOUND_DEVICES)
        # the footer follows the focus a refresh later (on a loaded machine, after a pause)
        await wait_until(pilot, lambda: app.text_input.has_focus and footer()[:3] == in_the_box)
        assert app.typing_only
        await pilot.press("escape")  # leaves the box, as the footer says
        await wait_until(pilot, lambda: ("q", "Quit") in footer())
        assert not app.text_input.has_focus
        assert ("enter", "Send") not in footer()
        await pilot.press("t", *"hi", "ctrl+q")
        await pilot.pause()
    assert app.return_value == 0


async def test_while_starting_the_status_bar_claims_no_mode_or_microphone(tmp_path: Path) -> None:
    """For the seconds the providers warm up, the bar said "hands-free · idle · mic ·····",
    then, on a machine without one, "typing · ready · no mic"."""
    go_on = asyncio.Event()

    async def make_session(bus: ev.EventBus) -> Any:
        await go_on.wait()
        raise UserError("No microphone was found", "connect a device")

    app = VoiceDeskApp(Settings(), make_session, simulated=True, log_path=tmp_path / "x.log")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        status = status_text(app)
        assert "starting" in status
        assert "hands-free" not in status and "idle" not in status and "mic" not in status
        # nor the conversation pane: it said "Just talk (hands-free)" meanwhile
        hint = str(app.conversation.query_one("#conversation-hint", Static).render())
        assert hint.startswith("Starting the conversation") and "talk" not in hint.lower()
        go_on.set()
        await asyncio.wait_for(app.started.wait(), 5)


def _finished_turn(turn_id: int) -> list[ev.Event]:
    """One whole turn as the engine reports it: words, answer, playback and its timings."""
    answer = f"Answer number {turn_id}."
    return [
        ev.TranscriptFinal(turn_id=turn_id, text=f"Question number {turn_id}?"),
        ev.AssistantDelta(turn_id=turn_id, text=answer),
        ev.PlaybackEnded(turn_id=turn_id, heard_text=answer, interrupted=False, audio_s=1.0),
        ev.TurnMetrics(turn_id=turn_id, record={"turn_id": turn_id, "t": PLAIN_T}),
    ]


async def test_a_long_conversation_keeps_a_bounded_pane(tmp_path: Path) -> None:
    """Every turn stayed mounted: Textual lays out all of them each frame an answer streams,
    and after some hundred turns that took seconds of the event loop (the engine's too) for
    each second of answer. The last MAX_TURNS_SHOWN turns stay, older ones folded in blocks
    of text above them, a widget for FOLDED_PER_BLOCK turns."""
    from voicedesk.tui.widgets.conversation import (
        FOLDED_PER_BLOCK,
        MAX_TURNS_SHOWN,
        AssistantTurn,
        UserTurn,
    )

    app = fake_app(tmp_path)
    folded = FOLDED_PER_BLOCK + 30
    total = MAX_TURNS_SHOWN + folded
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        pane = app.conversation
        for turn_id in range(1, total + 1):
            for event in _finished_turn(turn_id):
                # every other answer as one typed with no audio: never heard, drawn growing
                if turn_id % 2 or not isinstance(event, ev.PlaybackEnded):
                    app.bus.publish(event)
            if turn_id % 10 == 0:
                await pilot.pause()
        await pilot.pause()
        users = list(pane.query(UserTurn))
        assert [u.turn_id for u in users] == list(range(folded + 1, total + 1))
        assert len(pane.query(AssistantTurn)) == MAX_TURNS_SHOWN
        assert len(pane.users) == len(pane.assistants) == MAX_TURNS_SHOWN
        blocks = list(pane.query(".earlier-turns").results(Static))
        assert blocks == pane.children[:2]  # above the live turns
        assert len(pane.children) == 2 + MAX_TURNS_SHOWN * 3  # words, answer, timings
        earlier = "\n".join(str(block.render()) for block in blocks)
        for turn_id in range(1, folded + 1):
            said = f"you › Question number {turn_id}?\nassistant › Answer number {turn_id}."
            assert said in earlier
        # the newest turn is in view, and the next one still streams in below it
        app.bus.publish(ev.AssistantDelta(turn_id=total + 1, text="Still here."))
        await pilot.pause()
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y
        assert "Still here." in pane.assistants[total + 1].display_text


async def test_a_reader_scrolled_up_keeps_the_old_turns(tmp_path: Path) -> None:
    """Turns are let go only while the pane follows the newest: the lines being read stay."""
    from voicedesk.tui.widgets.conversation import MAX_TURNS_SHOWN, UserTurn

    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        pane = app.conversation
        for turn_id in range(1, MAX_TURNS_SHOWN + 1):
            for event in _finished_turn(turn_id):
                app.bus.publish(event)
        await pilot.pause()
        await pilot.pause()
        pane.scroll_home(animate=False)
        await pilot.pause()
        for event in _finished_turn(MAX_TURNS_SHOWN + 1):
            app.bus.publish(event)
        await pilot.pause()
        assert pane.query(UserTurn).first().turn_id == 1 and pane.scroll_y == 0


async def test_every_dialogs_footer_says_how_to_close_it(tmp_path: Path) -> None:
    """Over a dialog the footer was the conversation's: Esc, the way out, was never listed,
    and over the settings it offered q to quit while q went into the text box."""
    from textual.widgets._footer import FooterKey

    def footer_on_top() -> list[tuple[str, str]]:
        """The footer keys a person sees: the dialog's own footer covers the app's."""
        own = [(k.key, k.description) for k in app.screen.query(FooterKey) if k.display]
        return own or [(k.key, k.description) for k in app.footer.query(FooterKey) if k.display]

    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        for key in ("question_mark", "d", "s"):
            await pilot.press(key)
            await pilot.pause()
            assert footer_on_top() == [("escape", "Close"), ("i", "Stop"), ("q", "Quit")]
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert footer_on_top() == [("escape", "Close")]
        await pilot.press("q")
        assert app.focused is not None and app.focused.value == "q"  # a letter, as listed
        await pilot.press("escape")
        await pilot.pause()
        assert ("q", "Quit") in footer_on_top()  # the conversation's footer is back
        await pilot.press("c")  # the microphone check
        await pilot.pause()
        assert footer_on_top() == [
            ("escape", "Close"),
            ("p", "Play test sound"),
            ("d", "Devices"),
            ("i", "Stop"),
            ("q", "Quit"),
        ]
        session = app.session
        assert isinstance(session, FakeSession)
        await pilot.press("i")  # listed, so it works here too
        assert session.calls[-1] == "interrupt"
        await pilot.press("escape")
        await pilot.pause()
        app.push_screen(AudioCheckScreen(play_sound=None, output_device="file"))
        await pilot.pause()
        assert ("p", "Play test sound") not in footer_on_top()  # nothing to play it on


def test_a_key_saved_in_the_settings_goes_to_a_private_folder(tmp_path: Path) -> None:
    """The settings screen writes the config 0600 (it may hold keys), but the folder it
    made for a first config was 0755 under the usual umask, as `config init`'s was."""
    import os
    import stat
    import sys

    import pytest

    from voicedesk.tui.config_edit import apply_pair

    if sys.platform == "win32":
        pytest.skip("no POSIX modes")
    config = tmp_path / "config" / "voicedesk" / "config.toml"
    old = os.umask(0o022)
    try:
        apply_pair(config, "keys.openai_api_key = sk-proj-Saved0123456789")
    finally:
        os.umask(old)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    for folder in (config.parent, config.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def _pane_notes(pane: Any) -> list[str]:
    return [str(w.render()) for w in pane.query(".earlier-note")]


async def test_a_warning_before_the_first_turn_is_not_counted_as_a_turn(tmp_path: Path) -> None:
    """A warning said at the start (the documents tools off, no sound devices) was kept as
    if it were a turn of its own: with the last MAX_TURNS_SHOWN turns on screen the pane
    said "1 earlier turn not shown" though none had gone, and every count after was one
    too many. It goes with the first turn, and is let go with it."""
    from voicedesk.tui.widgets.conversation import MAX_TURNS_SHOWN, UserTurn

    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        pane = app.conversation
        app.bus.publish(ev.Notice(level="warning", message="The documents tools are off."))
        for turn_id in range(1, MAX_TURNS_SHOWN + 1):
            for event in _finished_turn(turn_id):
                app.bus.publish(event)
        await pilot.pause()
        await pilot.pause()
        assert [u.turn_id for u in pane.query(UserTurn)] == list(range(1, MAX_TURNS_SHOWN + 1))
        assert _pane_notes(pane) == [], _pane_notes(pane)
        assert len(pane.query(".notice-line")) == 1
        for event in _finished_turn(MAX_TURNS_SHOWN + 1):
            app.bus.publish(event)
        await pilot.pause()
        await pilot.pause()
        assert pane.query(UserTurn).first().turn_id == 2
        assert _pane_notes(pane) == []
        assert len(pane.query(".notice-line")) == 0  # folded with the first turn
        (block,) = pane.query(".earlier-turns").results(Static)
        assert str(block.render()).startswith("⚠ The documents tools are off.\nyou › Question")


async def test_a_turn_taken_back_after_a_warning_is_not_counted_as_a_turn(
    tmp_path: Path,
) -> None:
    """A warning kept with a turn the engine then took back (the person went on talking)
    left that turn counted, as if it were still shown: one turn too many was let go."""
    from voicedesk.tui.widgets.conversation import MAX_TURNS_SHOWN, UserTurn

    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        pane = app.conversation
        app.bus.publish(ev.TranscriptInterim(turn_id=1, text="Question"))
        app.bus.publish(ev.Notice(level="warning", message="Sound was lost."))
        app.bus.publish(ev.TurnMerged(turn_id=1, into=2))
        for turn_id in range(2, MAX_TURNS_SHOWN + 2):
            for event in _finished_turn(turn_id):
                app.bus.publish(event)
        await pilot.pause()
        await pilot.pause()
        assert [u.turn_id for u in pane.query(UserTurn)] == list(range(2, MAX_TURNS_SHOWN + 2))
        assert _pane_notes(pane) == [], _pane_notes(pane)
        assert len(pane.query(".notice-line")) == 1


async def test_a_warning_said_again_is_not_a_second_line_in_the_conversation(
    tmp_path: Path,
) -> None:
    """A warning that comes back (the microphone delivering only zeros each time its mute
    switch is on again, between turns) added a line to the conversation each time: the
    same words, over and over, between the turns. It stays one line, moved to where it
    was said last."""
    from voicedesk.tui.widgets.conversation import UserTurn

    zeros = "The microphone delivers only silence (all zeros): check the input device."
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        pane = app.conversation
        for turn_id in range(1, 4):
            app.bus.publish(ev.Notice(level="warning", message=zeros))
            for event in _finished_turn(turn_id):
                app.bus.publish(event)
        app.bus.publish(ev.Notice(level="warning", message=zeros))
        await pilot.pause()
        await pilot.pause()
        lines = list(pane.query(".notice-line"))
        assert len(lines) == 1, [str(w.render()) for w in lines]
        last_turn = list(pane.query(UserTurn))[-1]
        assert pane.children.index(lines[0]) > pane.children.index(last_turn)
        # a different warning is a line of its own
        app.bus.publish(ev.Notice(level="error", message="The sound devices stopped."))
        await pilot.pause()
        assert len(pane.query(".notice-line")) == 2


def test_a_turn_not_understood_says_so_in_words_not_with_the_records_tag() -> None:
    """A turn whose speech-to-text failed showed "assistant › ✗ stt: OpenAI realtime
    transcription … refused the connection (HTTP 500)": the turn record's tag, where its
    notice (a toast, gone in 10 s) said "Speech-to-text failed: …". The turn says it as
    the notice did, with what fixes it."""
    from voicedesk.tui.widgets.conversation import _failure

    record = {
        "assistant_text": "",
        "heard_text": "",
        "error": "stt: the connection was refused (HTTP 500)",
        "error_fix": "check stt.base_url",
    }
    said = "Speech-to-text failed: the connection was refused (HTTP 500) → check stt.base_url"
    assert _failure(record) == said
    assert _failure({**record, "error_fix": None}) == said.split(" →")[0]


async def test_a_warning_said_again_leaves_the_lines_being_read_in_place(
    tmp_path: Path,
) -> None:
    """While the person has scrolled up to read, the earlier copy of a warning said again
    stays where it is (taken away, the lines under it moved up under the reader): the
    new one is added at the end, as any line is."""
    from test_tui import wait_until

    from voicedesk.tui.widgets.conversation import AssistantTurn

    zeros = "The microphone delivers only silence (all zeros): check the input device."
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        pane = app.conversation
        app.bus.publish(ev.Notice(level="warning", message=zeros))
        for turn_id in range(1, 20):
            for event in _finished_turn(turn_id):
                app.bus.publish(event)
        # every turn drawn and the pane settled at its end before the person scrolls up: a
        # turn still arriving on a loaded machine followed the end, after the scroll home
        await wait_until(pilot, lambda: len(pane.query(AssistantTurn)) == 19)
        await wait_until(
            pilot, lambda: pane.max_scroll_y > 0 and pane.scroll_y == pane.max_scroll_y
        )
        pane.scroll_home(animate=False)
        await wait_until(pilot, lambda: pane.scroll_y == 0)
        first = pane.query(".notice-line").first()
        app.bus.publish(ev.Notice(level="warning", message=zeros))
        await wait_until(pilot, lambda: len(pane.query(".notice-line")) == 2)
        await pilot.pause()
        assert first.is_attached
        assert pane.scroll_y == 0


@pytest.mark.parametrize("width", [20, 25, 30, 40])
async def test_a_dead_microphone_is_said_at_every_width(tmp_path: Path, width: int) -> None:
    """Below about 30 columns the level meter was dropped to leave the state its room, and
    "mic 0 !" with it: a microphone delivering only zeros went unsaid. The state (then the
    mode) gives way instead, and a live meter still goes first as before."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(width, 15)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.StateChanged(state="listening"))
        app.bus.publish(ev.InputLevel(rms_dbfs=-120.0, zero_input=True))
        await pilot.pause()
        await pilot.pause()
        level = app.status_bar.query_one("#status-level", Static)
        assert level.display and level.region.width and level.region.right <= width
        assert "mic 0 !" in "".join(s.text for s in level.render_line(0))
        # and beside it what the bar has room for: the mode, else the state (at 20 columns
        # the mode gave way and the state's slot stood empty)
        shown = [app.status_bar.query_one(f"#status-{slot}", Static) for slot in ("mode", "state")]
        assert any(w.display and w.region.width > 2 for w in shown)

        # the microphone comes back: the state has its room again, and a meter too narrow
        # for it goes as before
        app.bus.publish(ev.InputLevel(rms_dbfs=-30.0, zero_input=False))
        await pilot.pause()
        await pilot.pause()
        state = app.status_bar.query_one("#status-state", Static)
        assert state.display and "●" in text_of(state)


def _long_tool_call(app: VoiceDeskApp) -> None:
    """A search whose name and a path argument are each wider than a 30-column card."""
    app.bus.publish(
        ev.ToolCallStarted(
            turn_id=1,
            call_id="c1",
            name="docs__search_documents",
            arguments={"query": "renovation budget", "folder": "projects/north-wing"},
        )
    )
    app.bus.publish(
        ev.ToolCallFinished(
            call_id="c1",
            name="docs__search_documents",
            result_text="…",
            spoken_summary="Three documents mention the renovation budget.",
            is_error=False,
            duration_s=0.02,
        )
    )


async def test_a_tool_card_at_30_columns_breaks_long_words_at_their_joints(
    tmp_path: Path,
) -> None:
    """At 30 columns the card read "✓" / "docs__search_document" / "s (query=renovation"
    and "folder=projects/north" / "-…)": Textual folds a word wider than its line at
    whatever cell it reaches. The icon stays with the name, a word that fits is whole on
    its line, and one that does not is broken after a "__", "/", "=" or the like, its first
    piece on the line before it where one fits."""
    from test_tui import conversation

    from voicedesk.tui.widgets.conversation import ToolCard

    app = fake_app(tmp_path)
    async with app.run_test(size=(30, 30)) as pilot:
        await started_fake(pilot)
        _long_tool_call(app)
        await pilot.pause()
        await pilot.pause()
        card = conversation(app).query_one(ToolCard)
        lines = [
            "".join(s.text for s in card.render_line(y)).strip(" ▌")
            for y in range(card.size.height)
        ]
        assert lines[:2] == ["✓ docs__", "search_documents"], lines
        assert "(query=renovation" in lines
        # a word too wide for its line begins beside the words before it, broken at a joint
        assert "budget, folder=" in lines and lines[lines.index("budget, folder=") + 1].startswith(
            "projects/north-…)"
        ), lines
        # every other word is whole on one line
        words = card.render().plain.split()
        assert sum(1 for w in words if w in " ".join(lines).split()) >= len(words) - 3


@pytest.mark.parametrize("width", [30, 80])
def test_snapshot_tool_card(snap_compare: Any, tmp_path: Path, width: int) -> None:
    """A tool card with a long name and a path, at 30 and 80 columns (see above)."""

    async def run_before(pilot: Pilot) -> None:
        await started_fake(pilot)
        assert isinstance(pilot.app, VoiceDeskApp)
        pilot.app.bus.publish(ev.StateChanged(state="listening"))
        _long_tool_call(pilot.app)
        await pilot.pause()

    assert snap_compare(fake_app(tmp_path), terminal_size=(width, 24), run_before=run_before)


async def test_a_tool_card_without_arguments_shows_no_empty_brackets(tmp_path: Path) -> None:
    """A call with no arguments (the demo's list_documents) read "✓ docs__list_documents ()"
    in the conversation, while the Tools pane said "no arguments"."""
    from test_tui import conversation

    from voicedesk.tui.widgets.conversation import ToolCard

    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.ToolCallStarted(turn_id=1, call_id="c1", name="docs__list_documents", arguments={})
        )
        await pilot.pause()
        card = conversation(app).query_one(ToolCard)
        assert text_of(card) == "⚙ docs__list_documents  running…"
        app.bus.publish(
            ev.ToolCallFinished(
                call_id="c1",
                name="docs__list_documents",
                result_text="a.md",
                spoken_summary="1 document in the workspace.",
                is_error=False,
                duration_s=0.03,
            )
        )
        await pilot.pause()
        assert text_of(card) == "✓ docs__list_documents  0.03s · 1 document in the workspace."


# a config file's path as long as a real one, the same on every machine (never read here)
LONG_CONFIG = Path("/home/robin-alexander/.config/voicedesk-settings/config.toml")


async def _settings_open(pilot: Pilot) -> None:
    await started_fake(pilot)
    await pilot.press("ctrl+s")
    await pilot.pause()


async def test_the_settings_dialog_folds_the_config_path_after_a_separator(
    tmp_path: Path,
) -> None:
    """At 40 columns the settings dialog's first line folded the config file's path where
    the line ran out, mid-name (".config/vo" / "icedesk-settings/config.toml"): each line
    of it now ends after a "/", and no folder's name is cut."""
    said = "File: /a/long-folder-name/b.toml"
    assert [said[a:b] for a, b in fold_lines(said, 10, breaks=PATH_BREAKS)] == [
        "File: /a/",
        "long-folde",  # a name longer than the line is still folded: nothing else shows it
        "r-name/",
        "b.toml",
    ]
    app = fake_app(tmp_path)
    app.config_path = LONG_CONFIG
    async with app.run_test(size=(40, 24)) as pilot:
        await _settings_open(pilot)
        label = app.screen.query_one("#settings-path", Static)
        lines = [
            "".join(s.text for s in label.render_line(y)).rstrip() for y in range(label.size.height)
        ]
        assert len(lines) > 1, lines
        assert all(line.endswith("/") for line in lines[:-1]), lines
        assert lines[-1].endswith("/config.toml")  # its folder beside it, if it fits
        assert "".join(lines) == f"Config file: {LONG_CONFIG}"


async def test_a_notice_quoting_a_long_path_folds_it_after_a_separator(tmp_path: Path) -> None:
    """The demo's notice ("they grow in /home/…/answers.partial.wav, which becomes …")
    folded its paths wherever the line ran out: mid-name (".partial" / ".wav"), or with
    the "," after the path starting the next line (", which becomes"). A line that ends
    within a path now ends after a "/", the punctuation after it kept with its name."""
    from voicedesk.tui.widgets.conversation import NoticeLine

    # a name longer than its line is still cut, but not just before the "," after it
    said = "ℹ in answers.wav, ok"
    assert [said[a:b] for a, b in fold_lines(said, 11, 2, PATH_BREAKS)] == [
        "ℹ in",
        "answers.wa",
        "v, ok",
    ]
    part = "/home/robin-alexander/.local/share/voicedesk/demo/answers.partial.wav"
    message = f"The answers grow in {part}, which becomes answers.wav when you quit."
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.Notice(level="info", message=message, kept=True))
        await pilot.pause()
        line = app.conversation.query_one(NoticeLine)
        for width in range(100, 39, -1):  # (Textual put "," first on a line at 69 cells)
            await pilot.resize_terminal(width, 30)
            await pilot.pause()
            shown = [
                "".join(s.text for s in line.render_line(y)).strip()
                for y in range(line.size.height)
            ]
            assert "".join(shown).replace(" ", "") == f"ℹ{message}".replace(" ", ""), shown
            for text in shown:
                assert not text.startswith(","), (width, shown)
                last = text.split(" ")[-1]
                if last != part and part.startswith(last):  # a line ending within the path
                    assert last.endswith("/"), (width, shown)


@pytest.mark.parametrize("width", [40, 100])
async def test_the_settings_text_box_says_how_to_save_at_every_width(
    tmp_path: Path, width: int
) -> None:
    """At 40 columns the settings box's placeholder, "section.key = value, Enter saves",
    had 26 cells and lost its last word ("…, Enter"): it is shorter there, whole, and the
    line under the box says "Enter saves" instead. Wide, the placeholder says it."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(width, 24)) as pilot:
        await _settings_open(pilot)
        box = app.screen.query_one(Input)
        status = app.screen.query_one("#settings-status", Static)
        shown = "".join(s.text for s in box.render_line(0)).strip()
        assert shown == box.placeholder, (shown, box.placeholder)  # not cut
        assert shown.startswith("section.key = value")
        assert ("Enter saves" in shown) == (width == 100), shown
        assert ("Enter saves" in text_of(status)) == (width == 40), text_of(status)
        box.value = "ui.theme = nord"  # a save takes the hint line's place, and stays
        await pilot.press("enter")
        await pilot.resize_terminal(width + 10, 24)
        await pilot.pause()
        assert "saved" in text_of(status), text_of(status)


@pytest.mark.parametrize("width", [40, 100])
def test_snapshot_settings_dialog(snap_compare: Any, tmp_path: Path, width: int) -> None:
    """The settings dialog with a long config path, at 40 and 100 columns (see above)."""
    app = fake_app(tmp_path)
    app.config_path = LONG_CONFIG
    assert snap_compare(app, terminal_size=(width, 24), run_before=_settings_open)


@pytest.mark.parametrize("size", [(40, 24), (100, 30)])
async def test_a_toast_leaves_the_text_box_in_view(tmp_path: Path, size: tuple[int, int]) -> None:
    """Below 60 columns a toast is the terminal's width, and it was drawn over the text box
    (a conversation's "Older turns were summarised…" every few turns of typing): for its
    5-10 s what the person typed could not be seen. Wider, it hid the box's right end.
    Toasts stand above the text box now."""
    from textual.widgets._toast import Toast

    app = fake_app(tmp_path)
    async with app.run_test(size=size, notifications=True) as pilot:
        await started_fake(pilot)
        await pilot.press("t", *"hello")
        app.notify("Older turns were summarised to keep the context small.")
        await pilot.pause()
        toast = app.screen.query_one(Toast)
        box = app.text_input
        assert toast.region and box.region.height == 1
        assert not toast.region.overlaps(box.region), (toast.region, box.region)


async def test_the_welcome_screen_folds_the_config_path_after_a_separator(
    tmp_path: Path,
) -> None:
    """The first-run screen (no API keys) names the config file too, and folded it
    mid-name at 40 columns as the settings dialog did."""
    from voicedesk.tui.screens import SetupScreen

    settings = Settings()

    async def make_session(bus: ev.EventBus) -> Any:
        return FakeSession(bus, settings)

    app = VoiceDeskApp(settings, make_session, config_path=LONG_CONFIG)
    async with app.run_test(size=(40, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        label = app.screen.query_one("#setup-config", Static)
        lines = [
            "".join(s.text for s in label.render_line(y)).rstrip() for y in range(label.size.height)
        ]
        assert len(lines) > 1 and all(line.endswith("/") for line in lines[:-1]), lines
        assert "".join(lines) == f"Config file: {LONG_CONFIG}"
