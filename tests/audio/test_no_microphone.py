"""Audio without a microphone: typing-only sessions (the TUI) on machines that lack one.

PortAudio devices cannot be created on a machine with no sound card, so the device side is
a stand-in ``sounddevice`` module with the two calls the backend makes (``OutputStream``
and ``PortAudioError``); everything from the callback inward is the real code.
"""

from __future__ import annotations

import asyncio
import threading
import types
from typing import Any, ClassVar

import numpy as np
import pytest

from voicedesk import events as ev
from voicedesk.audio import sounddevice_backend
from voicedesk.audio.base import DuplexBackend, ProcessFn
from voicedesk.audio.devices import PORTAUDIO_MISSING, DeviceInfo
from voicedesk.audio.io import AudioIO
from voicedesk.audio.no_device import NoDeviceDuplex
from voicedesk.audio.sounddevice_backend import SoundDeviceDuplex
from voicedesk.errors import AudioUnavailableError

SPEAKER = DeviceInfo(
    index=3,
    name="Built-in Speakers",
    hostapi="ALSA",
    max_input_channels=0,
    max_output_channels=2,
    default_samplerate=48_000.0,
    is_default_output=True,
)


class _Stream:
    """What the backend reads from a PortAudio stream; keeps the callback to drive it."""

    opened: ClassVar[list[_Stream]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.latency = 0.02
        self.active = False
        _Stream.opened.append(self)

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False

    def close(self) -> None:
        pass


@pytest.fixture
def speaker_only(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """PortAudio as it looks on a desktop with speakers and no microphone."""
    _Stream.opened = []
    sd = types.SimpleNamespace(
        OutputStream=_Stream,
        InputStream=_Stream,
        Stream=_Stream,
        PortAudioError=RuntimeError,
    )
    monkeypatch.setattr(sounddevice_backend, "import_sounddevice", lambda: sd)
    monkeypatch.setattr(sounddevice_backend, "list_devices", lambda: [SPEAKER])
    return sd


def test_a_speaker_alone_drives_the_engine_with_silent_capture_blocks(speaker_only):
    backend = SoundDeviceDuplex(block_ms=10, require_microphone=False)
    seen: list[np.ndarray] = []
    tone = np.full(backend.playback_block, 1000, np.int16)

    def process(mic: np.ndarray) -> np.ndarray:
        seen.append(mic)
        return tone

    backend.start(process)
    (stream,) = _Stream.opened
    assert stream.kwargs["device"] == SPEAKER.index and stream.active
    assert backend.input_name is None and backend.output_name == SPEAKER.name
    outdata = np.zeros((480, 2), np.int16)  # 10 ms at 48 kHz, stereo
    for _ in range(5):
        stream.kwargs["callback"](outdata, 480, None, None)
    assert len(seen) == 5  # one 16 kHz block per 10 ms callback
    assert all(b.size == backend.capture_block and not b.any() for b in seen)
    assert outdata[:, 0].any() and np.array_equal(outdata[:, 0], outdata[:, 1])
    backend.stop()


def test_no_microphone_is_still_an_error_where_only_voice_gets_in(speaker_only):
    with pytest.raises(AudioUnavailableError, match="No microphone was found"):
        SoundDeviceDuplex(block_ms=10).start(lambda mic: mic)


class _Refusing(DuplexBackend):
    """A backend whose sound system is missing, as on a server reached over SSH."""

    name = "sounddevice"

    def start(self, process: ProcessFn) -> None:
        raise AudioUnavailableError(PORTAUDIO_MISSING)

    def stop(self) -> None:
        pass


async def test_no_sound_devices_fall_back_to_a_silent_clock_and_say_so():
    bus = ev.EventBus()
    published: list[ev.Event] = []
    bus.subscribe(published.append)
    audio = AudioIO(_Refusing(10), bus=bus, echo_mode="on", typing_fallback=True)
    blocks = threading.Event()
    count = 0

    def on_block(mic: np.ndarray, index: int, marks: list, words: np.ndarray, echo=None) -> None:
        nonlocal count
        count += 1
        if count >= 5:
            blocks.set()

    audio.start(asyncio.get_running_loop(), on_block)
    try:
        assert isinstance(audio.backend, NoDeviceDuplex)
        for _ in range(200):  # the clock's blocks arrive on the loop, in real time
            if blocks.is_set():
                break
            await asyncio.sleep(0.01)
        assert blocks.is_set()
    finally:
        audio.stop()
    assert not audio.microphone and not audio.echo_cancellation
    info = next(e for e in published if isinstance(e, ev.AudioInfo))
    assert info.input_device == ev.NO_DEVICE and info.output_device == ev.NO_DEVICE
    notice = next(e for e in published if isinstance(e, ev.Notice))
    assert "Typing works" in notice.message and "not spoken" in notice.message
    assert "PortAudio" in notice.message  # the reason is said
    assert not any(isinstance(e, ev.InputLevel) for e in published)  # no meter for no mic


async def test_without_the_fallback_a_missing_sound_system_stays_an_error():
    audio = AudioIO(_Refusing(10))
    with pytest.raises(AudioUnavailableError):
        audio.start(asyncio.get_running_loop(), lambda *a: None)


def _notices(backend: Any) -> list[str]:
    """The notices a typing-only start on ``backend`` publishes."""
    bus = ev.EventBus()
    published: list[ev.Event] = []
    bus.subscribe(published.append)
    audio = AudioIO(backend, bus=bus, typing_fallback=True)
    audio.start(asyncio.get_running_loop(), lambda *a: None)
    audio.stop()
    return [e.message for e in published if isinstance(e, ev.Notice)]


async def test_no_sound_devices_make_one_notice_what_is_missing_works_and_fixes_it(
    speaker_only, monkeypatch: pytest.MonkeyPatch
):
    """A machine with no sound card got "No sound devices to talk with: type instead …
    No speaker was found (PortAudio lists no output devices); file input/output … still
    works. To talk, connect a microphone …": two notices' worth, overlapping, in one, and
    the missing microphone named by neither."""
    monkeypatch.setattr(sounddevice_backend, "list_devices", lambda: [])
    (notice,) = _notices(SoundDeviceDuplex(block_ms=10, require_microphone=False))
    missing, works, fix = notice.split(". ", 2)
    assert missing == "No microphone or speaker was found (PortAudio lists no sound devices)"
    assert works == "Typing works: Enter sends; answers are shown, not spoken"
    assert fix == (
        "To talk, connect them, or run `voicedesk devices` to see why PortAudio finds none, "
        "then start voicedesk again; file input/output (--input/--output) still works."
    )


async def test_a_missing_portaudio_is_said_once_with_its_fix(monkeypatch: pytest.MonkeyPatch):
    (notice,) = _notices(_Refusing(10))
    assert notice.startswith("PortAudio is not installed: install it with")
    assert notice.count("still works") == 1 and notice.endswith("still works.")
    assert "not spoken" in notice and "start voicedesk again" in notice


async def test_a_speaker_without_a_microphone_says_answers_are_spoken(speaker_only):
    (notice,) = _notices(SoundDeviceDuplex(block_ms=10, require_microphone=False))
    assert notice == (
        "No microphone was found (PortAudio lists no input devices). Typing works: Enter "
        "sends; answers are shown and spoken. To talk, connect a microphone, then start "
        "voicedesk again."
    )
