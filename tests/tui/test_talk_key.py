"""Hold-to-talk where the terminal reports key release; tap/tap everywhere else.

The parser and the decision are tested directly with the bytes a kitty-protocol terminal
sends; the driver's probe and flag stack with its writes captured; the app with pilot, by
posting the messages the driver would post (the pilot's headless driver has no terminal).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    FakeSession,
    fake_app,
    help_keys_text,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    started_fake,
    text_of,
    wait_until,
)
from textual import events
from textual.widgets import Static

from voicedesk.tui import keyboard as kb
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.keyboard import (
    KeyReleaseParser,
    KeyReleaseSupport,
    TalkKeyReleased,
    choose_talk_mode,
    parse_key_event,
)
from voicedesk.tui.screens import HelpScreen


# ---------------------------------------------------------------------------- parsing
def test_parse_key_event_strips_only_the_event_type() -> None:
    assert parse_key_event("\x1b[32;1:3u") == ("\x1b[32;1u", 3)
    assert parse_key_event("\x1b[32;1:2u") == ("\x1b[32;1u", 2)
    assert parse_key_event("\x1b[32;5:1u") == ("\x1b[32;5u", 1)
    assert parse_key_event("\x1b[32;:3u") == ("\x1b[32;1u", 3)  # empty modifiers = none
    assert parse_key_event("\x1b[97;1:3;97u") == ("\x1b[97;1;97u", 3)  # associated text kept
    assert parse_key_event("\x1b[1;1:3A") == ("\x1b[1;1A", 3)  # arrow key release
    assert parse_key_event("\x1b[3;1:2~") == ("\x1b[3;1~", 2)
    # no event type: Textual's business, untouched
    assert parse_key_event("\x1b[32u") is None
    assert parse_key_event("\x1b[32;5u") is None
    assert parse_key_event("\x1b[?25u") is None


def _feed(parser: KeyReleaseParser, data: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for token in parser.feed(data):
        if isinstance(token, kb._FlagsToken):
            out.append(("flags", token.flags))
        elif isinstance(token, kb._DeviceAttributesToken):
            out.append(("da", None))
        elif isinstance(token, kb._ReleaseToken):
            out.append(("release", token.released))
        elif isinstance(token, events.Key):
            out.append(("key", token.key))
    return out


def test_parser_reads_probe_replies_and_releases() -> None:
    parser = KeyReleaseParser()
    # a supporting terminal: flags first, then the primary device attributes (sentinel)
    assert _feed(parser, "\x1b[?25u\x1b[?62;22c") == [("flags", 25), ("da", None)]
    assert _feed(parser, "\x1b[?1;2c") == [("da", None)]  # a terminal without the protocol
    # hold space: press, repeats (dropped), release; typing around it is untouched
    seq = "a\x1b[32u\x1b[32;1:2u\x1b[32;1:2u\x1b[32;1:3ub"
    assert _feed(parser, seq) == [
        ("key", "a"),
        ("key", "space"),
        ("release", "space"),
        ("key", "b"),
    ]
    # a modifier pressed meanwhile still releases the talk key
    assert _feed(parser, "\x1b[32;2:3u") == [("release", "shift+space")]
    # other keys: releases mean nothing, repeats are key presses (holding backspace deletes)
    assert _feed(parser, "\x1b[116;1:3u\x1b[127;1:2u\x1b[127;1:2u") == [
        ("key", "backspace"),
        ("key", "backspace"),
    ]
    assert _feed(parser, "\x1b[1;5:1A") == [("key", "ctrl+up")]  # explicit press type


def test_parser_handles_a_release_split_across_reads() -> None:
    parser = KeyReleaseParser()
    assert _feed(parser, "\x1b[32;1") == []
    assert _feed(parser, ":3u") == [("release", "space")]
    assert _feed(parser, "\x1b[?2") == []
    assert _feed(parser, "7u") == [("flags", 27)]


def test_choose_talk_mode() -> None:
    auto = choose_talk_mode("auto", 25)
    assert (auto.mode, auto.push_flags, auto.warning) == ("hold", 27, None)
    assert choose_talk_mode("auto", 0).push_flags == 2  # supported with no flags active yet
    assert choose_talk_mode("auto", None) == kb.TalkModeChoice("toggle", None)
    assert choose_talk_mode("toggle", 25) == kb.TalkModeChoice("toggle", None)
    hold = choose_talk_mode("hold", 25)
    assert (hold.mode, hold.push_flags) == ("hold", 27)
    refused = choose_talk_mode("hold", None)
    assert refused.mode == "toggle" and refused.push_flags is None
    assert refused.warning is not None and "key release" in refused.warning


def test_driver_class_only_replaces_textuals_linux_driver() -> None:
    from textual.drivers.headless_driver import HeadlessDriver
    from textual.drivers.linux_driver import LinuxDriver

    assert kb.driver_class_for(LinuxDriver) is kb.KeyReleaseDriver
    assert kb.driver_class_for(HeadlessDriver) is HeadlessDriver
    assert issubclass(kb.KeyReleaseDriver, LinuxDriver)


# ---------------------------------------------------------------------------- driver
class _App:
    def __init__(self, wants: bool = True) -> None:
        self.wants_key_release = wants


@pytest.fixture
def driver(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A KeyReleaseDriver with Textual's terminal set-up replaced by a recorder."""
    from textual.drivers.linux_driver import LinuxDriver

    def fake_start(self: Any) -> None:
        self._writer_thread = object()
        self.calls.append("textual start")

    def fake_stop(self: Any) -> None:
        self.written.append("\x1b[<u")  # Textual pops its own entry
        self.calls.append("textual stop")

    monkeypatch.setattr(LinuxDriver, "start_application_mode", fake_start)
    monkeypatch.setattr(LinuxDriver, "stop_application_mode", fake_stop)

    def make(wants: bool = True) -> Any:
        d = kb.KeyReleaseDriver(_App(wants))  # type: ignore[arg-type]
        d.written, d.calls, d.sent = [], [], []
        d.write = d.written.append
        d.flush = lambda: None
        d.send_message = d.sent.append
        d.input_tty = True
        return d

    return make


async def test_driver_probes_then_pushes_and_pops(driver: Any) -> None:
    d = driver()
    d.start_application_mode()
    assert d.written == ["\x1b[?u\x1b[c"]  # the query and the sentinel, after Textual's set-up
    d.process_message(kb._FlagsToken("\x1b[?25u", 25))
    d.process_message(kb._DeviceAttributesToken("\x1b[?62c"))  # later sentinel: ignored
    assert [type(m) for m in d.sent] == [KeyReleaseSupport] and d.sent[0].flags == 25
    d.push_key_release(27)
    d.push_key_release(27)  # once only: one entry of ours on the stack
    assert d.written[1:] == ["\x1b[>27u"]
    d.process_message(kb._ReleaseToken("\x1b[32;1:3u", "space"))
    assert isinstance(d.sent[-1], TalkKeyReleased) and d.sent[-1].key == "space"
    d.stop_application_mode()  # exit or suspend: ours popped before Textual's
    assert d.written[-2:] == ["\x1b[<u", "\x1b[<u"]
    d.stop_application_mode()  # nothing of ours left to pop
    assert d.written[-1:] == ["\x1b[<u"] and d.written.count("\x1b[<u") == 3
    # resume after suspend: probe again
    d.start_application_mode()
    assert d.written[-1] == "\x1b[?u\x1b[c"


async def test_driver_without_support_or_answer(
    driver: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = driver()
    d.start_application_mode()
    d.process_message(kb._DeviceAttributesToken("\x1b[?1;2c"))  # sentinel first: no support
    assert len(d.sent) == 1 and d.sent[0].flags is None
    d.stop_application_mode()
    assert "\x1b[>" not in "".join(d.written)  # nothing pushed, only Textual's pop

    monkeypatch.setattr(kb, "PROBE_TIMEOUT_S", 0.05)
    silent = driver()
    silent.start_application_mode()  # a terminal that answers nothing at all
    await asyncio.sleep(0.2)
    assert len(silent.sent) == 1 and silent.sent[0].flags is None
    silent.process_message(kb._FlagsToken("\x1b[?25u", 25))  # too late: no second verdict
    assert len(silent.sent) == 1

    toggle = driver(wants=False)  # ui.talk_key_mode = "toggle": the terminal is left alone
    toggle.start_application_mode()
    assert toggle.written == [] and toggle.sent[0].flags is None


# ---------------------------------------------------------------------------- app
def footer_text(app: VoiceDeskApp) -> str:
    return " ".join(str(w.render()) for w in app.footer.query("FooterKey"))


async def _hold_app(pilot: Any, flags: int | None = 25) -> tuple[VoiceDeskApp, FakeSession, list]:
    app = pilot.app
    session = await started_fake(pilot)
    pushes: list[int] = []
    app._driver.push_key_release = pushes.append  # the real driver writes CSI > flags u
    app.post_message(KeyReleaseSupport(flags))
    await pilot.pause()
    return app, session, pushes


async def test_hold_to_talk_press_and_release(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.talk_mode == "toggle"
        await wait_until(pilot, lambda: "Talk/send" in footer_text(app))
        app, session, pushes = await _hold_app(pilot)
        assert app.talk_mode == "hold" and pushes == [27]
        await wait_until(pilot, lambda: "Hold to talk" in footer_text(app))
        assert "Talk/send" not in footer_text(app)

        await pilot.press("space")  # key down: the mic opens
        assert session.calls[-2:] == ["mode:push-to-talk", "ptt_press"] and app.ptt_open
        await pilot.press("space")  # a second press before the release changes nothing
        assert session.calls.count("ptt_press") == 1 and app.ptt_open
        app.post_message(TalkKeyReleased("space"))  # key up: the turn is sent
        await pilot.pause()
        assert session.calls[-1] == "ptt_release" and not app.ptt_open

        app.post_message(TalkKeyReleased("space"))  # a stray release: nothing to send
        await pilot.pause()
        assert session.calls.count("ptt_release") == 1

        await pilot.press("space")
        app.post_message(TalkKeyReleased("shift+space"))  # shift went down meanwhile
        await pilot.pause()
        assert session.calls.count("ptt_release") == 2 and not app.ptt_open

        await pilot.press("space")
        app.post_message(events.AppBlur())  # focus left the terminal with the key down
        await pilot.pause()
        assert session.calls.count("ptt_release") == 3 and not app.ptt_open


async def test_hold_mode_leaves_typing_and_the_palette_alone(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app, session, _ = await _hold_app(pilot)
        await pilot.press("t", "a", "space", "b")  # space typed into the text box
        app.post_message(TalkKeyReleased("space"))
        await pilot.pause()
        assert app.text_input.value == "a b"
        assert "ptt_press" not in session.calls and "ptt_release" not in session.calls
        await pilot.press("escape")

        app.action_ptt()  # the command palette's push-to-talk is a toggle in every mode
        assert session.calls[-1] == "ptt_press"
        app.action_ptt()
        assert session.calls[-1] == "ptt_release"

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = help_keys_text(app.screen)
        assert "hold while you talk, let go to send" in keys
        assert "reports key release" in text_of(app.screen.query_one("#help-talk-mode", Static))


async def test_toggle_where_release_is_not_reported(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app, session, pushes = await _hold_app(pilot, flags=None)
        assert app.talk_mode == "toggle" and pushes == []
        await pilot.press("space")
        app.post_message(TalkKeyReleased("space"))  # (cannot happen here; ignored anyway)
        await pilot.pause()
        assert session.calls[-1] == "ptt_press" and app.ptt_open  # still open: tap/tap
        await pilot.press("space")
        assert session.calls[-1] == "ptt_release" and not app.ptt_open
        await pilot.press("question_mark")
        assert "tap to talk, tap again" in help_keys_text(app.screen)


async def test_toggle_setting_and_hold_setting_without_support(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    app.settings.ui.talk_key_mode = "toggle"
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.wants_key_release  # the driver will not even probe
        app, _, pushes = await _hold_app(pilot, flags=25)
        assert app.talk_mode == "toggle" and pushes == []

    app = fake_app(tmp_path)
    app.settings.ui.talk_key_mode = "hold"
    async with app.run_test(size=(80, 24)) as pilot:
        app, _, pushes = await _hold_app(pilot, flags=None)
        assert app.talk_mode == "toggle" and pushes == []
        assert any("does not report key release" in n.message for n in app._notifications)


async def test_never_hold_without_a_driver_that_can_ask(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        app.post_message(KeyReleaseSupport(25))  # headless driver: no push_key_release
        await pilot.pause()
        assert app.talk_mode == "toggle"


async def test_the_log_file_says_how_the_talk_key_works(tmp_path: Path) -> None:
    """The line that says whether this terminal got hold-to-talk is what a "space does not
    work" report needs, and the log file read "talk key: ***": the secrets filter took
    "key: …" for a secret's name and value."""
    from voicedesk.commands import tui

    log_path = tmp_path / "tui.log"
    with tui.stderr_to_log(log_path):
        app = fake_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await _hold_app(pilot, flags=None)
            await pilot.press("q")
    text = log_path.read_text(encoding="utf-8")
    assert "talk key" in text and "toggle" in text and "***" not in text


@pytest.mark.parametrize("hold", [False, True], ids=["toggle", "hold"])
async def test_the_footer_keeps_quit_and_help_with_a_microphone_from_20_columns(
    tmp_path: Path, hold: bool
) -> None:
    """With a microphone the footer ("space Hold to talk m Unmute ? Help q Quit", 41
    cells; "space Talk/send m Mute …", 36) lost Quit off the edge from 35 columns down
    and Help too below 29. Mute gives way below 42 columns, the talk key below 33."""
    from textual.widgets._footer import FooterKey

    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        if hold:
            await _hold_app(pilot)
            assert app.talk_mode == "hold"
        else:
            await started_fake(pilot)
        await pilot.press("m")  # muted: "Unmute", the longer word
        await pilot.pause()
        for width in range(45, 19, -1):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            keys = {k.action: k for k in app.footer.query(FooterKey) if k.display}
            for action in ("help", "quit"):
                assert keys[action].region.width > 0, (width, action)
                assert keys[action].region.right <= width, (width, action, footer_text(app))
            talk = "talk_hold" if hold else "ptt"
            assert (talk in keys) == (width >= 33), (width, list(keys))
            assert ("unmute" in keys) == (width >= 42), (width, list(keys))


async def test_a_wav_microphone_talks_only_while_the_talk_key_is_down(tmp_path: Path) -> None:
    """`voicedesk run --sim --input a.wav` in push-to-talk: the file played from launch
    whatever the talk key did, so its words went by unheard with the key up and the key
    caught only what was playing when it was pressed. The file is now a person who talks
    while the microphone listens: it waits with the key up, and goes on at the press."""
    from test_tui import sim_args, sim_command_app

    from voicedesk.bench.scenarios import compose
    from voicedesk.config import Settings

    speech = tmp_path / "question.wav"
    compose(["question"], lead_s=0.5, tail_s=0.5).write(speech)
    settings = Settings()
    settings.turn.mode = "push-to-talk"
    args = sim_args(speech, tmp_path / "answers.wav", mode="push-to-talk")
    async with sim_command_app(tmp_path, args, settings) as (app, pilot):
        session = app.session
        assert session is not None and session.mode == "push-to-talk"
        backend = session.audio.backend  # type: ignore[attr-defined]

        async def blocks_go_by(n: int) -> None:
            done = backend.blocks_done
            await wait_until(pilot, lambda: backend.blocks_done >= done + n, timeout=30)

        await blocks_go_by(100)  # a second of the key up
        assert backend.blocks_heard == 0  # the file has not begun

        app.action_ptt()  # tap: the microphone opens, and the file talks
        await wait_until(pilot, lambda: backend.blocks_heard >= 60, timeout=30)
        app.action_ptt()  # tap again: sent, and the file waits
        assert not app.ptt_open
        await blocks_go_by(2)  # (a block under way at the tap)
        heard = backend.blocks_heard
        assert heard < -(-backend.mic.size // backend.capture_block)  # not to its end yet
        await blocks_go_by(100)
        assert backend.blocks_heard == heard

        app.action_ptt()  # the key again: the file goes on where it stopped
        await wait_until(pilot, lambda: backend.blocks_heard > heard, timeout=30)
        await pilot.press("q")


async def test_a_waiting_wav_microphone_says_why_and_how_to_let_it_go_on(tmp_path: Path) -> None:
    """The demo muted (m) or switched to push-to-talk (h) just stopped: its recording talks
    only while the microphone listens, but the status bar said "not listening" or "ready"
    and nothing said the recording was waiting or what would let it go on. The bar says
    "recording waits", and a notice says why and which key lets it talk."""
    from test_tui import sim_args, sim_command_app, status_text

    from voicedesk.bench.scenarios import compose
    from voicedesk.config import Settings

    speech = tmp_path / "question.wav"
    compose(["question"], lead_s=0.5, tail_s=0.5).write(speech)
    settings = Settings()
    settings.turn.mode = "push-to-talk"  # (the recording waits from the start: no race)
    args = sim_args(speech, tmp_path / "answers.wav", mode="push-to-talk")
    async with sim_command_app(tmp_path, args, settings) as (app, pilot):

        def said(words: str) -> bool:
            return any(words in n.message for n in app._notifications)

        await wait_until(pilot, lambda: "recording waits" in status_text(app))
        closed = "The recording waits: it talks only while the microphone is open (space"
        await wait_until(pilot, lambda: said(closed))
        # the microphone check mutes it too: "press m" is not for that mute
        from voicedesk.tui.audio_check import AudioCheckScreen

        app.action_audio_check()
        await wait_until(pilot, lambda: isinstance(app.screen, AudioCheckScreen))
        await pilot.pause()
        assert not said("while muted")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, AudioCheckScreen))
        await wait_until(pilot, lambda: app.session is not None and not app.session.muted)
        app.action_mute()
        await wait_until(pilot, lambda: said("The recording waits while muted: press m"))
        assert "recording waits" in status_text(app)
        app.action_mute()
        app.action_ptt()  # the key opens the microphone: the recording talks again
        await wait_until(pilot, lambda: "recording waits" not in status_text(app))
        await pilot.press("q")


async def test_h_with_a_wav_microphone_says_push_to_talk_and_the_wait_in_one_toast(
    tmp_path: Path,
) -> None:
    """The demo in hands-free, h: two toasts came up at once, "The recording waits: it
    talks only while the microphone is open (space: …; h: hands-free)." and "Push-to-talk:
    space: …", each naming the talk key. One toast says both now; h back says its own."""
    from test_tui import sim_args, sim_command_app, status_text

    from voicedesk.bench.scenarios import compose

    speech = tmp_path / "question.wav"
    compose(["question"], lead_s=0.5, tail_s=0.5).write(speech)
    args = sim_args(speech, tmp_path / "answers.wav")
    async with sim_command_app(tmp_path, args) as (app, pilot):

        def notices() -> list[str]:
            return [str(n.message) for n in app._notifications]

        assert app.session is not None and app.session.mode == "hands-free"
        await pilot.press("h")
        await wait_until(pilot, lambda: "recording waits" in status_text(app))
        await wait_until(pilot, lambda: any("The recording waits" in n for n in notices()))
        said = [n for n in notices() if "Push-to-talk" in n or "recording waits" in n]
        assert said == [
            f"Push-to-talk: {app.talk_hint}. The recording waits: it talks only while the "
            "microphone is open (h: hands-free)."
        ], said
        await pilot.press("h")
        await wait_until(pilot, lambda: "Hands-free: just talk." in notices())
        await pilot.press("q")
