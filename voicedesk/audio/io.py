"""The engine's audio front end: one backend, one playback queue, one hop to the event loop.

The backend's thread calls :meth:`AudioIO._process` once per block. It takes the next
playback block from the :class:`PlaybackBuffer` (so a stop or pause is heard at the next
block), and hands the capture block to the loop with ``call_soon_threadsafe`` — it never
waits for the loop. Level metering and the all-zero-microphone check happen here, cheaply,
so the UI gets a live meter without touching the audio thread.

Where typing is another way in (the TUI), a machine without a microphone still gets a
conversation (``typing_fallback``): a speaker alone is opened by the device backend, and
with no usable sound devices at all (no PortAudio, none found, none that opens) the
:class:`NoDeviceDuplex` keeps the engine's clock. One notice says what is missing, what
works now and how to fix it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicedesk import events as ev
from voicedesk.audio.base import DuplexBackend
from voicedesk.audio.devices import FILE_IO_WORKS
from voicedesk.audio.playback import Mark, PlaybackBuffer
from voicedesk.config import Settings
from voicedesk.errors import AudioUnavailableError, UserError

if TYPE_CHECKING:
    from voicedesk.audio.aec import EchoVerdict

log = logging.getLogger(__name__)

# (capture block, its index, playback marks, the block for the transcriber, the echo
# canceller's verdict on it): the fourth is the capture block itself unless the capture
# filter gives the words a signal of their own (``EchoCanceller.words``: the person
# unmuffled while the speaker plays); the last is None without a canceller.
BlockCallback = Callable[[np.ndarray, int, list[Mark], np.ndarray, "EchoVerdict | None"], None]
# Called on the audio thread with each capture block as the loop gets it, its index and its
# verdict (``AudioIO.block_observer``): it must hand the block on and return at once.
BlockObserver = Callable[[np.ndarray, int, "EchoVerdict | None"], None]
_LEVEL_EVERY_S = 0.05
_WATCH_EVERY_S = 0.5  # how often the loop looks whether the sound devices still run
# Audio lost to an overloaded machine is said once a session, judged over _TROUBLE_WINDOW
# watches (5 s) from when blocks first flow: _XRUNS_TO_SAY dropouts (one at a stream's
# start or after a suspend is normal; five a second lose words), or under _KEPT_UP_SHARE of
# the blocks due. Through a sound server (PulseAudio, PipeWire) PortAudio reports no xrun
# for a callback that runs late: it is just called less often and the server drops the rest.
# Only watches in which blocks flowed count: a stream that stops for a while (PulseAudio
# moving it to another device, likely a resume from suspend) is the device, not a busy
# machine.
_XRUNS_TO_SAY = 25
_KEPT_UP_SHARE = 0.75
_TROUBLE_WINDOW = 10


def no_devices_notice(exc: AudioUnavailableError) -> str:
    """One notice for a session with no sound devices: what is missing (the error's own
    words), what works now, how to fix it. The error's message already ends by saying file
    input/output still works; left in the middle, that and a second "no sound devices"
    opening made two notices' worth of overlapping advice, so it is said once, last."""
    reason = exc.message.removesuffix(FILE_IO_WORKS).rstrip(" ;.")
    fix = exc.hint or "fix that"
    return (
        f"{reason}. Typing works: Enter sends; answers are shown, not spoken. To talk, "
        f"{fix}, then start voicedesk again; {FILE_IO_WORKS}"
    )


class AudioIO:
    def __init__(
        self,
        backend: DuplexBackend,
        *,
        bus: ev.EventBus | None = None,
        zero_input_timeout_s: float | None = 1.5,
        capture_filter: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
        echo_mode: str = "off",
        noise_suppression: bool = True,
        typing_fallback: bool = False,
    ) -> None:
        self.backend = backend
        self.typing_fallback = typing_fallback
        self.microphone = True  # until start() finds there is none (typing_fallback only)
        self.speaker = True  # until start() finds no sound devices at all (typing_fallback)
        # a stop also drops what waits unplayed in the backend's own queue (two streams)
        self.playback = PlaybackBuffer(drop_unplayed=lambda: self.backend.drop_playback())
        self.bus = bus
        self.capture_filter = capture_filter  # e.g. echo cancellation: (mic, played) -> clean
        self.echo_mode = echo_mode  # "on" | "off" | "auto" (on unless the speaker is a headset)
        self.noise_suppression = noise_suppression
        self.echo_cancellation = False
        self.echo_possible = True  # until start() knows the devices: assume speakers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback: BlockCallback | None = None
        # sees each block on the audio thread, before the loop does (``BlockObserver``)
        self.block_observer: BlockObserver | None = None
        self._index = 0
        self._level_every = max(1, round(_LEVEL_EVERY_S * 1000 / backend.block_ms))
        self._sumsq = 0.0
        self._level_n = 0
        self._zero_blocks = 0
        # A WAV file may well start with digital silence; only a device gets the zero check.
        self._zero_limit = (
            max(1, round(zero_input_timeout_s * 1000 / backend.block_ms))
            if zero_input_timeout_s
            else 1 << 62
        )
        self._zero_reported = False
        self._last_played = np.zeros(backend.playback_block, np.int16)
        self._watch: asyncio.TimerHandle | None = None
        self._error_said = False
        self._xruns_said = False
        # (loop time, xruns, blocks processed) at the last watch, and (seconds, xruns,
        # blocks) in each of the last _TROUBLE_WINDOW watch intervals in which blocks flowed
        self._last_counts: tuple[float, int, int] | None = None
        self._counts: deque[tuple[float, int, int]] = deque(maxlen=_TROUBLE_WINDOW)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        input: Path | None = None,
        output: Path | None = None,
        realtime: bool = True,
        bus: ev.EventBus | None = None,
        tail_s: float | None = 300.0,
        file_latency_s: tuple[float, float] = (0.0, 0.0),
        typing_fallback: bool = False,
        room: dict[str, float] | None = None,
    ) -> AudioIO:
        """``tail_s``: how long a WAV microphone goes on in silence after the file (None: until
        stopped). ``file_latency_s``: the (input, output) latency a WAV run simulates
        (``FileDuplex``).
        ``typing_fallback``: no microphone is not an error (see the module docstring).
        ``room``: the WAV microphone also hears what is played, through ``SimulatedRoom``
        (its keyword arguments), so echo can reach it as from laptop speakers."""
        block_ms = settings.audio.block_ms
        if input is not None:
            from voicedesk.audio.file_backend import FileDuplex

            backend: DuplexBackend = FileDuplex(
                input,
                output,
                block_ms=block_ms,
                realtime=realtime,
                max_tail_s=tail_s,
                input_latency_s=file_latency_s[0],
                output_latency_s=file_latency_s[1],
            )
            if room is not None:
                from voicedesk.audio.room import SimulatedRoom

                backend = SimulatedRoom(
                    backend,
                    delay_ms=room.get("delay_ms", 60.0),
                    echo_db=room.get("echo_db", -6.0),
                    noise_dbfs=room.get("noise_dbfs"),
                    rt60_s=room.get("rt60_s", 0.25),
                    seed=int(room.get("seed", 0)),
                )
        else:
            if output is not None:
                raise UserError(
                    "--output needs --input: a WAV speaker is only offered together with a WAV "
                    "microphone, so the two share one timeline",
                    "pass --input IN.wav as well, or drop --output to use the sound devices",
                )
            from voicedesk.audio.sounddevice_backend import SoundDeviceDuplex

            backend = SoundDeviceDuplex(
                input_device=settings.audio.input_device,
                output_device=settings.audio.output_device,
                block_ms=block_ms,
                zero_input_timeout_s=settings.audio.zero_input_timeout_s,
                require_microphone=not typing_fallback,
            )
        zero_check = None if input is not None else settings.audio.zero_input_timeout_s
        # WAV files have no acoustic path from speaker to microphone, unless in a room
        echo_mode = settings.echo.mode if input is None or room is not None else "off"
        return cls(
            backend,
            bus=bus,
            zero_input_timeout_s=zero_check,
            echo_mode=echo_mode,
            noise_suppression=settings.echo.noise_suppression,
            typing_fallback=typing_fallback and input is None,
        )

    def start(self, loop: asyncio.AbstractEventLoop, callback: BlockCallback) -> None:
        self._loop = loop
        self._callback = callback
        self._start_backend()
        self.echo_possible = self._speaker_reaches_mic()  # device names are known once started
        if self.capture_filter is None and self._wants_aec():
            from voicedesk.audio.aec import EchoCanceller

            self.capture_filter = EchoCanceller(
                noise_suppression=self.noise_suppression,
                delay_ms=round(self.backend.output_latency_s * 1000),
            )
        self.echo_cancellation = self.capture_filter is not None
        self.echo_possible = self.echo_possible or self.echo_cancellation
        self._watch = loop.call_later(_WATCH_EVERY_S, self._watch_devices)
        if self.bus is not None:
            backend = self.backend
            self.bus.publish(
                ev.AudioInfo(
                    input_device=(
                        str(getattr(backend, "input_name", None) or backend.name)
                        if self.microphone
                        else ev.NO_DEVICE
                    ),
                    output_device=str(getattr(backend, "output_name", None) or backend.name),
                    echo_cancellation=self.echo_cancellation,
                )
            )

    def _start_backend(self) -> None:
        """Start the backend; without a microphone (``typing_fallback``), go on with what
        there is and say so, where a voice-only session would stop with the error."""
        try:
            self.backend.start(self._process)
        except AudioUnavailableError as exc:
            if not self.typing_fallback:
                raise
            from voicedesk.audio.no_device import NoDeviceDuplex

            log.warning("no usable sound devices, typing only: %s", exc.message)
            self.microphone = False  # before the first block: no level meter for it
            self.speaker = False  # answers are shown, not heard: playback keeps time only
            self.backend = NoDeviceDuplex(self.backend.block_ms)
            self.backend.start(self._process)
            self._typing_only(no_devices_notice(exc))
            return
        if self.typing_fallback and getattr(self.backend, "input_name", "") is None:
            self._typing_only(
                "No microphone was found (PortAudio lists no input devices). Typing works: "
                "Enter sends; answers are shown and spoken. To talk, connect a microphone, "
                "then start voicedesk again."
            )

    def _typing_only(self, message: str) -> None:
        self.microphone = False
        self._zero_limit = 1 << 62  # silence is all there is: nothing to warn about
        if self.bus is not None:
            self.bus.publish(ev.Notice(level="warning", message=message))

    def _speaker_reaches_mic(self) -> bool:
        """No acoustic path with WAV files, a headset or no microphone; anything else may
        echo."""
        if self.backend.name == "file" or not self.microphone:
            return False
        from voicedesk.audio.devices import is_headset

        return not is_headset(getattr(self.backend, "output_name", None))

    def _wants_aec(self) -> bool:
        if not self.microphone:
            return False
        if self.echo_mode in ("on", "off"):
            return self.echo_mode == "on"
        return self.echo_possible

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self.backend.stop()

    def _watch_devices(self) -> None:
        """Say so when the sound devices stop on their own (on the loop, every
        ``_WATCH_EVERY_S``).

        A device backend's streams end when the device goes or the sound server
        (PulseAudio/PipeWire) stops or restarts; the session then heard and played nothing
        with no word, while PortAudio printed "Expression … failed in pa_linux_alsa.c".
        Backends without an ``active`` flag (WAV files, no device) are never stopped so.
        """
        self._watch = None
        if getattr(self.backend, "active", True):
            self._say_audio_trouble()
            if self._loop is not None and not self._loop.is_closed():
                self._watch = self._loop.call_later(_WATCH_EVERY_S, self._watch_devices)
            return
        log.warning("the sound devices stopped: %s", getattr(self.backend, "error", None))
        if self.bus is not None:
            backend = self.backend
            names = " / ".join(
                f"{what} '{name}'"
                for what, name in (
                    ("microphone", getattr(backend, "input_name", None)),
                    ("speaker", getattr(backend, "output_name", None)),
                )
                if name
            )
            self.bus.publish(
                ev.Notice(
                    level="error",
                    message=f"The sound devices stopped ({names or backend.name}): unplugged, "
                    "or the sound server (PulseAudio/PipeWire) stopped. Nothing is heard or "
                    "played now: quit and start voicedesk again once they are back.",
                )
            )

    def _say_audio_trouble(self) -> None:
        """Say, once each, what the audio thread can only record (it never logs or waits):
        a block that processing failed on, and dropouts frequent enough to lose words.

        Both went unsaid: a failing echo canceller left the person unheard (its blocks
        dropped, silence played) with nothing in the log, and an overloaded machine's
        dropouts cut words from the turn and the answer with no hint why."""
        backend = self.backend
        error = getattr(backend, "error", None)
        if isinstance(error, BaseException) and not self._error_said:
            self._error_said = True
            log.error("audio processing failed", exc_info=error)
            self._notice(
                "error",
                f"Audio processing failed ({type(error).__name__}: {error}): the sound it "
                "fails on is neither heard nor played. This is a bug in voicedesk; please "
                "report it with the log.",
            )
        xruns = getattr(backend, "xruns", None)
        blocks = getattr(backend, "blocks_processed", None)
        if not isinstance(xruns, int) or not isinstance(blocks, int) or self._xruns_said:
            return
        if blocks == 0 or self._loop is None:  # not flowing yet: a start is not a dropout
            return
        now, last = self._loop.time(), self._last_counts
        self._last_counts = (now, xruns, blocks)
        if last is None or blocks == last[2]:  # a stalled stream is no sign of a busy machine
            return
        self._counts.append((now - last[0], xruns - last[1], blocks - last[2]))
        if len(self._counts) < _TROUBLE_WINDOW:
            return
        seconds = sum(c[0] for c in self._counts)
        dropouts = sum(c[1] for c in self._counts)
        due = seconds * 1000 / backend.block_ms
        kept = sum(c[2] for c in self._counts) / due if due else 1.0
        if dropouts < _XRUNS_TO_SAY and kept >= _KEPT_UP_SHARE:
            return
        self._xruns_said = True
        lost = f"{dropouts} dropouts" if kept >= _KEPT_UP_SHARE else f"{1 - kept:.0%}"
        log.warning("sound lost in the last %.1f s: %s", seconds, lost)
        self._notice(
            "warning",
            f"Sound was lost in the last {seconds:.0f} s ({lost}): the machine is too busy "
            "to keep up with the sound devices, so words may be missed and answers break "
            "up. Close busy programs, or set a longer audio.block_ms (now "
            f"{backend.block_ms} ms).",
        )

    def _notice(self, level: ev.NoticeLevel, message: str) -> None:
        if self.bus is not None:
            self.bus.publish(ev.Notice(level=level, message=message))

    @property
    def input_latency_s(self) -> float:
        return self.backend.input_latency_s

    @property
    def output_latency_s(self) -> float:
        return self.backend.output_latency_s

    # ------------------------------------------------------------------ audio thread
    def _process(self, mic: np.ndarray) -> np.ndarray:
        out, marks = self.playback.pull(self.backend.playback_block)
        index = self._index
        self._index += 1
        words = None
        verdict = None
        if self.capture_filter is not None:
            mic = self.capture_filter(mic, self._last_played)
            words = getattr(self.capture_filter, "words", None)
            take_verdict = getattr(self.capture_filter, "verdict", None)
            verdict = take_verdict() if take_verdict is not None else None
        self._last_played = out
        loop, callback = self._loop, self._callback
        if loop is None or callback is None or loop.is_closed():
            return out
        try:
            mic = mic.copy()
            words = words.copy() if words is not None and words.size == mic.size else mic
            observer = self.block_observer
            if observer is not None:
                observer(mic, index, verdict)
            loop.call_soon_threadsafe(callback, mic, index, marks, words, verdict)
            if self.microphone:  # no level to show for a microphone that is not there
                self._meter(mic, loop)
        except RuntimeError:  # loop closed between the check and the call: shutting down
            pass
        return out

    def _meter(self, mic: np.ndarray, loop: asyncio.AbstractEventLoop) -> None:
        if self.bus is None:
            return
        x = mic.astype(np.float32)
        self._sumsq += float(np.dot(x, x))
        self._level_n += x.size
        self._zero_blocks = self._zero_blocks + 1 if not mic.any() else 0
        zero = self._zero_blocks >= self._zero_limit
        if self._index % self._level_every and not (zero and not self._zero_reported):
            return
        rms = math.sqrt(self._sumsq / max(1, self._level_n)) / 32768.0
        self._sumsq, self._level_n = 0.0, 0
        dbfs = 20 * math.log10(rms) if rms > 1e-9 else -120.0
        if zero and not self._zero_reported:
            self._zero_reported = True
            loop.call_soon_threadsafe(
                self.bus.publish,
                ev.Notice(
                    level="warning",
                    message="The microphone delivers only silence (all zeros): check the "
                    "input device, its mute switch and the app's microphone permission.",
                ),
            )
        elif not zero:
            self._zero_reported = False
        loop.call_soon_threadsafe(
            self.bus.publish, ev.InputLevel(rms_dbfs=round(dbfs, 1), zero_input=zero)
        )
