"""A person talking over the answer, seen in the raw microphone while AEC3 muffles them.

AEC3's double-talk suppression treats a person's first syllables over a loud answer as echo
and removes much of them, so the VAD on its output starts late: that was most of the slow
barge-ins (p95 ~0.5–0.7 s in the simulated room). The raw microphone is not muffled, and the
linear echo model (``audio/linear_echo.py``) says how much of it is the answer's echo. The
person is there when, all at once:

- Silero hears speech in the raw microphone (a knock or a clatter is not speech),
- the linear model explains almost none of it (≤ ``UNEXPLAINED_DB``: it is not the echo),
- it is loud (≥ ``MIN_LEVEL_DBFS``: not the quiet tail of an answer's pause), and
- the linear model was explaining the echo well just before (≥ ``TRUSTED_DB`` within the
  last ``TRUST_WINDOW_FRAMES``), so "not explained" means a new voice, not a model that has
  not converged or an answer that has just started.

Runs on the audio thread as the echo canceller's frame observer; the session reads
``open_ms`` (how long the cue has held) on the event loop and lets it count toward
``min_speech_ms`` like the VAD's speech. Thresholds were chosen on ``bench echo`` seeds 1–8.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from voicedesk.config import Settings
from voicedesk.turn.vad import VadSegmenter

UNEXPLAINED_DB = 3.0
MIN_LEVEL_DBFS = -40.0
TRUSTED_DB = 20.0
TRUST_WINDOW_FRAMES = 50  # 0.5 s
FRAME_S = 0.010


class DoubleTalkCue:
    def __init__(self, settings: Settings) -> None:
        self._vad = VadSegmenter(settings)
        self._explained: deque[float] = deque(maxlen=TRUST_WINDOW_FRAMES)
        self._t = 0.0
        self.open_ms = 0  # how long the cue has held, 0 when it does not

    def __call__(self, mic: np.ndarray, canceller: Any) -> None:
        """One 10 ms frame of raw microphone, after ``canceller`` has processed it."""
        self._vad.feed(mic, self._t)
        self._t += FRAME_S
        linear = canceller.linear
        explained = linear.explained_db
        trusted = bool(self._explained) and max(self._explained) >= TRUSTED_DB
        self._explained.append(explained if explained is not None else -99.0)
        level = 10.0 * np.log10(linear.mic_level + 1e-12)
        person = (
            self._vad.in_speech
            and explained is not None
            and explained <= UNEXPLAINED_DB
            and level >= MIN_LEVEL_DBFS
            and trusted
        )
        self.open_ms = self.open_ms + int(FRAME_S * 1000) if person else 0
