"""Acoustic echo cancellation on the capture path (WebRTC APM, through ``livekit``).

The reference is exactly what was sent to the speaker: ``AudioIO`` hands over the playback
block it returned for the previous period together with the microphone block captured in
it. WebRTC's AEC3 estimates the remaining speaker→microphone delay itself; the known device
latency is passed in as a starting point. Frames are 10 ms at 16 kHz, as the APM requires.

Runs on the audio thread: two FFI calls per 10 ms and a streaming resampler for the
reference, no allocation beyond small arrays.
"""

from __future__ import annotations

import numpy as np

from voicedesk.audio.base import CAPTURE_RATE, PLAYBACK_RATE
from voicedesk.audio.resample import StreamResampler
from voicedesk.errors import AudioUnavailableError

FRAME = CAPTURE_RATE // 100  # 10 ms
_DECAY = 0.98  # per 10 ms frame: ≈ 0.5 s memory for the health estimate


class EchoCanceller:
    def __init__(self, *, noise_suppression: bool = True, delay_ms: int = 0) -> None:
        try:
            from livekit import rtc
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise AudioUnavailableError(
                f"Echo cancellation needs the livekit package ({exc})",
                'reinstall voicedesk, or set echo.mode = "off"',
            ) from None
        self._rtc = rtc
        self._noise_suppression = noise_suppression
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=noise_suppression,
            high_pass_filter=True,
            auto_gain_control=False,
        )
        self.delay_ms = delay_ms
        self._apm.set_stream_delay_ms(delay_ms)
        # "QQ": ~1 sample of delay. MQ buffers ~30 ms, which would make the reference arrive
        # after its echo for short speaker-to-microphone paths, and AEC3 cannot cancel that.
        self._ref = StreamResampler(PLAYBACK_RATE, CAPTURE_RATE, quality="QQ")
        self._ref_pending = np.zeros(0, np.int16)
        self._mic_pending = np.zeros(0, np.int16)
        self._out_pending = np.zeros(0, np.int16)
        # Health tracking (hand-written, cheap): smoothed energies of microphone and output
        # while the speaker plays. Until the canceller shows it removes the echo, residual
        # echo can look like speech, so barge-in waits for longer speech (BargeInPolicy); if
        # it stops removing echo for seconds (AEC3 can fall into a transparent state after
        # double talk, measured in the simulated room), it is rebuilt from scratch.
        self._e_mic = 0.0
        self._e_out = 0.0
        self._active_s = 0.0
        self._bad_s = 0.0
        self.converged = False
        self.resets = 0

    def _frame(self, pcm: np.ndarray) -> object:
        return self._rtc.AudioFrame(bytearray(pcm.astype("<i2").tobytes()), CAPTURE_RATE, 1, FRAME)

    def __call__(self, mic: np.ndarray, played: np.ndarray) -> np.ndarray:
        """Clean ``mic`` (16 kHz) given the speaker block ``played`` (24 kHz) of the same period."""
        ref = self._ref.process(played)
        self._ref_pending = (
            np.concatenate([self._ref_pending, ref]) if ref.size else self._ref_pending
        )
        self._mic_pending = np.concatenate([self._mic_pending, mic])
        cleaned: list[np.ndarray] = []
        while self._mic_pending.size >= FRAME:
            if self._ref_pending.size >= FRAME:
                rframe, self._ref_pending = self._ref_pending[:FRAME], self._ref_pending[FRAME:]
            else:  # resampler warm-up: the speaker was silent as far as we know
                rframe = np.zeros(FRAME, np.int16)
            self._apm.set_stream_delay_ms(self.delay_ms)
            self._apm.process_reverse_stream(self._frame(rframe))
            self._last_mic_frame = self._mic_pending[:FRAME]
            frame = self._frame(self._last_mic_frame)
            self._mic_pending = self._mic_pending[FRAME:]
            self._apm.process_stream(frame)
            out_frame = np.frombuffer(frame.data, dtype=np.int16).copy()  # type: ignore[attr-defined]
            cleaned.append(out_frame)
            if np.abs(rframe).max() > 300:  # the speaker is playing something
                self._track(self._last_mic_frame, out_frame)
        out = np.concatenate([self._out_pending, *cleaned]) if cleaned else self._out_pending
        # hand back exactly as many samples as came in (a block that is not a whole number of
        # 10 ms frames is delayed by the remainder, consistently)
        n = mic.size
        if out.size < n:
            out = np.concatenate([np.zeros(n - out.size, np.int16), out])
        result, self._out_pending = out[:n], out[n:]
        return result

    def _track(self, mic: np.ndarray, out: np.ndarray) -> None:
        decay = _DECAY
        self._e_mic = self._e_mic * decay + float(np.dot(mic.astype(np.float64), mic))
        self._e_out = self._e_out * decay + float(np.dot(out.astype(np.float64), out))
        self._active_s += FRAME / CAPTURE_RATE
        if self._active_s < 0.3:
            return
        ratio = self._e_mic / max(self._e_out, 1.0)
        # Latched: once ≥ 12 dB of echo has been removed the canceller is trusted until it is
        # rebuilt. (Double talk also lowers the ratio, so it cannot be un-latched on that.)
        self.converged = self.converged or ratio >= 16
        self._bad_s = self._bad_s + FRAME / CAPTURE_RATE if ratio < 2 else 0.0
        if self._bad_s >= 2.0:  # two seconds of speaker audio passed through untouched
            self._apm = self._rtc.AudioProcessingModule(
                echo_cancellation=True,
                noise_suppression=self._noise_suppression,
                high_pass_filter=True,
                auto_gain_control=False,
            )
            self._e_mic = self._e_out = self._active_s = self._bad_s = 0.0
            self.converged = False
            self.resets += 1
