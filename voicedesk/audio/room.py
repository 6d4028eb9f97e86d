"""A simulated laptop room: the microphone hears the person *and* the speaker.

Wraps another backend (normally :class:`FileDuplex`): what the engine plays goes through a
speaker-to-microphone path — a delay (device + air), a small room impulse response (direct
sound plus decaying reflections, darker than the source), an attenuation — and is added to
what the microphone hears, with optional noise. This is what hands-free mode must survive on
bare laptop audio, reproducibly (seeded) and with no sound card.

``echo_db`` is the echo level relative to the person's voice, assuming the assistant's voice
and the person's voice reach the room at the same level (the benchmark normalises both).
"""

from __future__ import annotations

import numpy as np

from voicedesk.audio.base import CAPTURE_RATE, PLAYBACK_RATE, DuplexBackend, ProcessFn
from voicedesk.audio.resample import StreamResampler


def room_impulse_response(
    rate: int = CAPTURE_RATE, *, rt60_s: float = 0.25, seed: int = 0
) -> np.ndarray:
    """Direct path plus exponentially decaying, low-passed reflections (unit direct gain).

    At least the direct path: a reverberation time under one sample (``--room
    rt60_s=0.00001``) left no samples at all, and numpy raised."""
    rng = np.random.default_rng(seed)
    n = max(1, int(rt60_s * rate))
    t = np.arange(n) / rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)  # −60 dB at rt60
    tail[: int(0.003 * rate)] = 0.0  # first reflection ≥ 3 ms after the direct sound
    kernel = np.ones(8) / 8  # soft walls absorb highs
    tail = np.convolve(tail, kernel, mode="same") * 0.12
    ir = tail
    ir[0] = 1.0
    return ir.astype(np.float32)


class SimulatedRoom(DuplexBackend):
    name = "room"

    def __init__(
        self,
        inner: DuplexBackend,
        *,
        delay_ms: float = 60.0,
        echo_db: float = -6.0,
        noise_dbfs: float | None = None,
        rt60_s: float = 0.25,
        seed: int = 0,
    ) -> None:
        super().__init__(inner.block_ms)
        self.inner = inner
        self.finished = inner.finished
        self.delay_ms = delay_ms
        self.echo_db = echo_db
        self.gain = 10 ** (echo_db / 20)
        self.noise = None if noise_dbfs is None else 32768 * 10 ** (noise_dbfs / 20)
        self._ir = room_impulse_response(rt60_s=rt60_s, seed=seed)
        self._rng = np.random.default_rng(seed + 1)
        self._to_mic_rate = StreamResampler(PLAYBACK_RATE, CAPTURE_RATE, quality="QQ")  # ~no delay
        delay = int(delay_ms * CAPTURE_RATE / 1000)
        # Pending echo at the microphone, starting at the next capture block.
        self._echo = np.zeros(delay + self._ir.size + 4 * self.capture_block, np.float32)
        # Block k plays during [k, k+1) blocks; the buffer's index 0 is the start of block k+1.
        self._delay = max(0, delay - self.capture_block)
        self.echo_track: list[np.ndarray] = []  # what the microphone got from the speaker

    def start(self, process: ProcessFn) -> None:
        def through_room(person: np.ndarray) -> np.ndarray:
            n = person.size
            echo = self._echo[:n].copy()
            self._echo[:-n] = self._echo[n:]
            self._echo[-n:] = 0.0
            mic = person.astype(np.float32) + echo
            if self.noise is not None:
                mic += self._rng.standard_normal(n).astype(np.float32) * self.noise
            self.echo_track.append(echo.astype(np.int16))
            out = process(np.clip(mic, -32768, 32767).astype(np.int16))
            played = self._to_mic_rate.process(out).astype(np.float32)
            if played.size and np.any(played):
                contrib = np.convolve(played * self.gain, self._ir)
                end = self._delay + contrib.size
                if end > self._echo.size:
                    self._echo = np.concatenate([self._echo, np.zeros(end, np.float32)])
                self._echo[self._delay : end] += contrib
            return out

        self.inner.start(through_room)

    def stop(self) -> None:
        self.inner.stop()

    @property
    def duration_s(self) -> float:
        """The WAV microphone's length: a headless run ends once it has been heard out."""
        return float(self.inner.duration_s)  # type: ignore[attr-defined]

    # The inner backend's latencies, not the room's: ``delay_ms`` shapes only the echo, which
    # the engine never hears as a device latency.
    @property
    def input_latency_s(self) -> float:
        return self.inner.input_latency_s

    @property
    def output_latency_s(self) -> float:
        return self.inner.output_latency_s
