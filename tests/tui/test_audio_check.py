"""The microphone and speaker check: verdicts from level reports, the screen, first run.

The screen is driven with synthetic ``InputLevel`` events on the bus, as the engine's audio
front end publishes them (including ``zero_input`` for an all-zero microphone); the speaker
test against a recording playback queue, and once against a real engine session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    FakeSession,
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    real_app,  # noqa: F401  (fixture)
    silence_wav,  # noqa: F401  (fixture)
    sim,  # noqa: F401  (fixture)
    started,
    started_fake,
    text_of,
    wait_until,
)
from textual.widgets import Static

from voicedesk import events as ev
from voicedesk.config import Settings, data_dir
from voicedesk.engine.api import CHECK_SOUND_UTTERANCE, check_sound
from voicedesk.events import NO_DEVICE
from voicedesk.tui import audio_check
from voicedesk.tui.app import AUDIO_CHECK_MARKER, VoiceDeskApp
from voicedesk.tui.audio_check import (
    QUIET_AFTER_REPORTS,
    SPEECH_REPORTS,
    AudioCheckScreen,
    MicCheck,
    meter_bar,
)
from voicedesk.tui.screens import DevicesScreen, SettingsScreen


# ---------------------------------------------------------------------------- verdicts
def test_mic_check_hears_speech_not_clicks() -> None:
    check = MicCheck()
    assert check.verdict == "waiting"
    assert check.feed(-65.0, False) == "waiting"  # a quiet room
    for _ in range(SPEECH_REPORTS - 1):
        assert check.feed(-25.0, False) == "waiting"  # a click or a knock: too short
    assert check.feed(-65.0, False) == "waiting"
    for _ in range(SPEECH_REPORTS - 1):
        check.feed(-30.0, False)
    assert check.feed(-30.0, False) == "heard"  # ~150 ms of voice
    assert check.feed(-70.0, False) == "heard"  # stays heard in the pause after
    assert check.peak_dbfs == -25.0


def test_mic_check_silent_and_quiet() -> None:
    check = MicCheck()
    assert check.feed(-120.0, True) == "silent"  # all zeros
    assert check.feed(-120.0, True) == "silent"
    assert check.feed(-50.0, False) == "waiting"  # the mute switch went off
    quiet = MicCheck()
    for _ in range(QUIET_AFTER_REPORTS - 1):
        assert quiet.feed(-55.0, False) == "waiting"
    assert quiet.feed(-55.0, False) == "quiet"
    for _ in range(SPEECH_REPORTS):
        quiet.feed(-35.0, False)
    assert quiet.verdict == "heard"
    heard = MicCheck()
    for _ in range(SPEECH_REPORTS):
        heard.feed(-30.0, False)
    assert heard.feed(-120.0, True) == "silent"  # a later dead mic is not hidden


def test_meter_bar() -> None:
    assert "·" in str(meter_bar(None))
    loud, faint = str(meter_bar(-10.0)), str(meter_bar(-60.0))
    assert loud.count("█") > faint.count("█") > 0
    assert "-10.0 dBFS" in loud and "–∞" in str(meter_bar(-120.0))


# ---------------------------------------------------------------------------- speaker sound
class RecordingPlayback:
    def __init__(self) -> None:
        self.queued: list[tuple[int, np.ndarray]] = []

    def enqueue(self, utterance_id: int, pcm: np.ndarray) -> None:
        self.queued.append((utterance_id, pcm))


class AudioFakeSession(FakeSession):
    """A fake session with a playback queue, as the engine's Session has in ``audio``."""

    def __init__(self, bus: ev.EventBus, settings: Settings) -> None:
        super().__init__(bus, settings)
        self.audio = type("Audio", (), {"playback": RecordingPlayback()})()

    def play_check_sound(self) -> float | None:
        pcm = check_sound()
        self.audio.playback.enqueue(CHECK_SOUND_UTTERANCE, pcm)
        return pcm.size / 24_000


def test_check_sound_is_short_soft_and_reaches_the_playback_queue() -> None:
    pcm = check_sound()
    assert pcm.dtype == np.int16 and 0.5 < pcm.size / 24_000 < 1.0
    assert 0.2 * 32767 < np.abs(pcm).max() <= 0.26 * 32767  # audible, not loud
    assert abs(int(pcm[0])) < 200 and abs(int(pcm[-1])) < 200  # faded: no click


async def test_check_sound_plays_in_a_real_session_without_a_turn(
    real_app: VoiceDeskApp,  # noqa: F811
) -> None:
    async with real_app.run_test(size=(80, 24)) as pilot:
        app = await started(pilot)
        seen: list[ev.Event] = []
        app.bus.subscribe(seen.append)
        assert app.session is not None
        playback = app.session.audio.playback  # type: ignore[attr-defined]
        length = app.session.play_check_sound()
        assert length == check_sound().size / 24_000 and playback.queued_samples() > 0
        await wait_until(pilot, lambda: playback.queued_samples() == 0, timeout=5)
        assert not [e for e in seen if isinstance(e, ev.PlaybackStarted | ev.TurnEnded)]
        assert app.session.state == "listening"
        await pilot.press("q")


# ---------------------------------------------------------------------------- the screen
async def announce_devices(
    pilot: Any,
    input_device: str = "USB Mic",
    output_device: str = "Speakers",
    *,
    echo_cancellation: bool = True,
) -> None:
    """The session reports its devices, as it does once audio starts: what the first-run
    check and the check's device lines wait for."""
    pilot.app.bus.publish(
        ev.AudioInfo(
            input_device=input_device,
            output_device=output_device,
            echo_cancellation=echo_cancellation,
        )
    )
    await pilot.pause()


def audio_app(tmp_path: Path, *, simulated: bool = True) -> VoiceDeskApp:
    settings = Settings()
    settings.keys.openai_api_key = "sk-test-key-for-the-check"  # type: ignore[assignment]

    async def make_session(bus: ev.EventBus) -> Any:
        return AudioFakeSession(bus, settings)

    return VoiceDeskApp(
        settings, make_session, simulated=simulated, config_path=tmp_path / "config.toml"
    )


def mic_text(app: VoiceDeskApp) -> str:
    return text_of(app.screen.query_one("#check-mic", Static))


async def levels(pilot: Any, *values: float, zero: bool = False) -> None:
    for value in values:
        pilot.app.bus.publish(ev.InputLevel(rms_dbfs=value, zero_input=zero))
    await pilot.pause()


async def test_check_hears_you_and_restores_the_mic(tmp_path: Path) -> None:
    marker = data_dir() / AUDIO_CHECK_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("closed\n")  # the first-run check was shown before; c runs it again
    app = audio_app(tmp_path, simulated=False)
    async with app.run_test(size=(80, 24)) as pilot:
        session = await started_fake(pilot)
        await announce_devices(pilot)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, AudioCheckScreen) and not screen.first_run
        assert session.muted and "muted:True" in session.calls  # speech here is no turn
        assert "speak now" in mic_text(app)
        await levels(pilot, -62.0, -61.0)
        assert "speak now" in mic_text(app)
        meter = text_of(screen.query_one("#check-meter", Static))
        assert "-61.0 dBFS" in meter and "█" in meter
        await levels(pilot, -28.0, -24.0, -26.0)
        assert "Heard you" in mic_text(app) and "-24 dBFS" in mic_text(app)
        assert screen.query_one("#check-mic").has_class("check-heard")
        # the advice names ctrl+s for audio.input_device: it opens the settings from here
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, SettingsScreen)
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert not isinstance(app.screen, AudioCheckScreen)
        assert not session.muted and session.calls[-1] == "muted:False"
        assert marker.read_text() == "heard\n"


async def test_check_catches_an_all_zero_microphone(tmp_path: Path) -> None:
    app = audio_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("c")
        await levels(pilot, -120.0, -120.0)  # zeros, not yet long enough to be sure
        assert "speak now" in mic_text(app)
        await levels(pilot, -120.0, zero=True)  # the engine's zero_input verdict
        text = mic_text(app)
        assert "Silent microphone" in text and "all zeros" in text
        assert "Privacy & Security → Microphone" in text and "mute switch" in text
        assert "press d" in text and "audio.input_device" in text
        assert app.screen.query_one("#check-mic").has_class("check-silent")
        await pilot.press("d")  # wrong device? the device list is one key away
        assert isinstance(app.screen, DevicesScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, AudioCheckScreen)
        await levels(pilot, -30.0, -30.0, -30.0)  # unmuted: heard after all
        assert "Heard you" in mic_text(app)


async def test_check_too_quiet_and_no_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audio_check, "NO_SIGNAL_AFTER_S", 0.1)
    app = audio_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("c")
        await wait_until(pilot, lambda: "No signal" in mic_text(app), timeout=3)
        await levels(pilot, *([-56.0] * QUIET_AFTER_REPORTS))
        assert "Too quiet" in mic_text(app) and "-56 dBFS" in mic_text(app)


async def test_speaker_test_plays_and_asks(tmp_path: Path) -> None:
    app = audio_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        session = await started_fake(pilot)
        assert isinstance(session, AudioFakeSession)
        await announce_devices(pilot, "file", "Desk Speakers", echo_cancellation=False)
        await pilot.press("c")
        speaker = app.screen.query_one("#check-speaker", Static)
        assert "Press p" in text_of(speaker) and "Desk Speakers" in text_of(speaker)
        await pilot.press("y")  # nothing played yet: no answer to give
        assert "Press p" in text_of(speaker)
        await pilot.press("p")
        assert [uid for uid, _ in session.audio.playback.queued] == [CHECK_SOUND_UTTERANCE]
        assert "Did you hear" in text_of(speaker)
        await pilot.press("n")
        assert "Not heard" in text_of(speaker) and "output device" in text_of(speaker)
        await pilot.press("p", "y")
        assert "Speaker works" in text_of(speaker) and len(session.audio.playback.queued) == 2


async def test_speaker_test_unavailable_without_a_sound_device(tmp_path: Path) -> None:
    app = fake_app(tmp_path)  # its session has no speaker to play to
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await pilot.press("c")
        speaker = app.screen.query_one("#check-speaker", Static)
        await pilot.press("p")  # a readable line, no crash
        assert isinstance(app.screen, AudioCheckScreen)
        assert "No sound device to test" in text_of(speaker)

    # With no sound device announced, or a WAV file as the speaker, the keys line offers no
    # test sound ("p plays a test sound" did nothing); a WAV file as the microphone is not
    # asked to be spoken into.
    for output in (NO_DEVICE, "file"):
        app = fake_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await started_fake(pilot)
            await announce_devices(pilot, "file", output, echo_cancellation=False)
            await pilot.press("c")
            keys = text_of(app.screen.query_one("#check-keys", Static))
            assert "p plays" not in keys and "d devices" in keys
            shown = " ".join(text_of(w) for w in app.screen.query(Static))
            assert "Microphone" in shown and "say something" not in shown


async def test_first_run_opens_the_check_once(tmp_path: Path) -> None:
    app = audio_app(tmp_path, simulated=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        assert not isinstance(app.screen, AudioCheckScreen)
        await announce_devices(pilot)
        screen = app.screen
        assert isinstance(screen, AudioCheckScreen) and screen.first_run
        assert "First start" in text_of(screen.query_one("#check-intro", Static))
        await pilot.press("escape")
    assert (data_dir() / AUDIO_CHECK_MARKER).read_text() == "closed\n"

    again = audio_app(tmp_path, simulated=False)
    async with again.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await announce_devices(pilot)
        assert not isinstance(again.screen, AudioCheckScreen)  # shown once; c runs it again


async def test_no_first_run_check_for_wav_files_or_the_simulator(tmp_path: Path) -> None:
    for simulated, device in ((False, "file"), (True, "USB Mic")):
        app = audio_app(tmp_path, simulated=simulated)
        async with app.run_test(size=(80, 24)) as pilot:
            await started_fake(pilot)
            await announce_devices(pilot, device, device, echo_cancellation=False)
            assert not isinstance(app.screen, AudioCheckScreen)
    assert not (data_dir() / AUDIO_CHECK_MARKER).exists()


async def test_check_in_the_command_palette(tmp_path: Path) -> None:
    app = audio_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Microphone and speaker check"].callback()
        await pilot.pause()
        assert isinstance(app.screen, AudioCheckScreen)


async def test_a_check_in_the_demo_does_not_count_as_the_first_run_check(
    tmp_path: Path,
) -> None:
    """Running c in `voicedesk demo` (file devices) must not hide the real first-run check."""
    for simulated, device in ((True, "USB Mic"), (False, "file")):
        app = audio_app(tmp_path, simulated=simulated)
        async with app.run_test(size=(80, 24)) as pilot:
            await started_fake(pilot)
            await announce_devices(pilot, device, device, echo_cancellation=False)
            await pilot.press("c")
            assert isinstance(app.screen, AudioCheckScreen)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, AudioCheckScreen)
    assert not (data_dir() / AUDIO_CHECK_MARKER).exists()

    real = audio_app(tmp_path, simulated=False)
    async with real.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await announce_devices(pilot)
        assert isinstance(real.screen, AudioCheckScreen) and real.screen.first_run


async def test_a_level_reported_as_the_check_opens_is_not_an_error(tmp_path: Path) -> None:
    """A level report (about 20 a second) reaching the check between its push and its
    compose found no meter to update: "UI failed to show InputLevel" and a NoMatches
    traceback in the log, each time the check was opened while the microphone ran. The
    check takes the reports once its widgets are there."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.action_audio_check()
        app.apply_event(ev.InputLevel(rms_dbfs=-30.0))  # before the dialog is composed
        await wait_until(pilot, lambda: isinstance(app.screen, AudioCheckScreen))
        await pilot.pause()
        app.apply_event(ev.InputLevel(rms_dbfs=-30.0))  # and once it is: the meter moves
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AudioCheckScreen) and screen.check.reports >= 1
        await pilot.press("escape")
