"""Streaming Silero VAD on 16 kHz audio, with speech start/stop hysteresis and pre-roll.

Silero v5 takes 512-sample (32 ms) windows with the previous 64 samples prepended and a
(2, 1, 128) recurrent state that must be carried across windows; dropping either degrades
it badly. One window costs ~0.2 ms on one core, so this runs inline on the event loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voicedesk.audio.wavio import to_float32
from voicedesk.config import Settings
from voicedesk.turn.models import load_session, vad_path

RATE = 16_000
WINDOW = 512
CONTEXT = 64
WINDOW_S = WINDOW / RATE


class SileroVAD:
    """Speech probability per 32 ms window; state carried across calls."""

    def __init__(self, settings: Settings) -> None:
        self._session = load_session(vad_path(settings.models), "models.silero_vad")
        self._sr = np.array(RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def probability(self, window: np.ndarray) -> float:
        """``window``: 512 float32 samples in [-1, 1]."""
        x = np.concatenate([self._context, window])[None, :]
        out, self._state = self._session.run(
            None, {"input": x, "state": self._state, "sr": self._sr}
        )
        self._context = window[-CONTEXT:]
        return float(out[0, 0])


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "start" | "pause" | "continue" | "stop"
    at_s: float  # when it was declared (end of the deciding window)
    edge_s: float  # where speech actually started / ended


class VadSegmenter:
    """Turns window probabilities into speech start/stop with hysteresis.

    Start needs ``start_ms`` of windows above ``vad_threshold``; stop needs ``stop_ms`` of
    windows below ``vad_stop_threshold``. Audio is buffered in windows of any block size.

    When ``commit_ms`` < ``stop_ms`` a shorter silence first reports a ``pause`` (followed by
    ``continue`` if speech comes back before the stop, or by ``stop``): the engine uses it to
    commit the transcript early, which takes one window off every answer's critical path
    while the end-of-turn model is still only asked after ``stop_ms``.
    """

    def __init__(self, settings: Settings) -> None:
        t = settings.turn
        self.vad = SileroVAD(settings)
        self.on_threshold = t.vad_threshold
        self.off_threshold = t.vad_stop_threshold
        self.start_windows = max(1, round(t.start_ms / 1000 / WINDOW_S))
        self.stop_windows = max(1, round(t.stop_ms / 1000 / WINDOW_S))
        self.pause_windows = min(self.stop_windows, max(1, round(t.commit_ms / 1000 / WINDOW_S)))
        self.preroll: deque[np.ndarray] = deque(
            maxlen=max(1, int(t.preroll_ms / 1000 / WINDOW_S) + 1)
        )
        self._pending = np.zeros(0, dtype=np.float32)
        self._pos = 0  # samples consumed into windows
        # How many times its windows began at a block (the first block fed, and the first
        # after each ``reset``): a VAD that must hear alike (the early pause's) starts there
        # too, so its 32 ms windows fall where these do.
        self.starts = 0
        self.in_speech = False
        self._run = 0
        self._run_edge = 0.0
        self.last_probability = 0.0

    def reset(self) -> None:
        # The next block sets the clock again: after a mute the audio time has moved on,
        # and silence measured from the old position would end the next turn at once.
        self.vad.reset()
        self.in_speech = False
        self._run = 0
        self._pos = 0
        self._pending = np.zeros(0, dtype=np.float32)
        self.preroll.clear()

    def feed(self, block: np.ndarray, block_start_s: float) -> list[VadEvent]:
        """Feed int16 (or float) 16 kHz audio; returns events declared inside it."""
        x = to_float32(block).astype(np.float32, copy=False)
        if self._pos == 0 and self._pending.size == 0:
            self._pos = round(block_start_s * RATE)
            self.starts += 1
        self._pending = np.concatenate([self._pending, x]) if self._pending.size else x
        events: list[VadEvent] = []
        while self._pending.size >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            start_s = self._pos / RATE
            self._pos += WINDOW
            end_s = self._pos / RATE
            p = self.vad.probability(window)
            self.last_probability = p
            self.preroll.append(window)
            if not self.in_speech:
                if p >= self.on_threshold:
                    if self._run == 0:
                        self._run_edge = start_s
                    self._run += 1
                    if self._run >= self.start_windows:
                        self.in_speech, self._run = True, 0
                        events.append(VadEvent("start", end_s, self._run_edge))
                else:
                    self._run = 0
            else:
                if p < self.off_threshold:
                    if self._run == 0:
                        self._run_edge = start_s
                    self._run += 1
                    if self._run >= self.stop_windows:
                        self.in_speech, self._run = False, 0
                        events.append(VadEvent("stop", end_s, self._run_edge))
                    elif self._run == self.pause_windows:
                        events.append(VadEvent("pause", end_s, self._run_edge))
                else:
                    if self.pause_windows <= self._run < self.stop_windows:
                        events.append(VadEvent("continue", end_s, start_s))
                    self._run = 0
        return events

    @property
    def speech_beginning(self) -> bool:
        """Speech windows have begun a run that is not yet ``start_ms`` long: more of them
        may still declare a start (the end of a WAV input can fall there)."""
        return not self.in_speech and self._run > 0

    def preroll_audio(self) -> np.ndarray:
        return np.concatenate(list(self.preroll)) if self.preroll else np.zeros(0, np.float32)
