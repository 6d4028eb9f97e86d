"""A person talking over the answer, heard behind the linear echo model while AEC3 muffles them.

AEC3's double-talk suppression treats a person's first syllables over a loud answer as echo
and removes much of them, so the VAD on its output starts late: that was most of the slow
barge-ins (p95 ~0.5–0.7 s in the simulated room). The linear echo model
(``audio/linear_echo.py``) suppresses nothing: its residual — the microphone minus the echo
it predicts — holds the person at full strength and the echo 20–40 dB down, so a person is
plain there even while they are quieter than the echo (a soft first syllable under a loud
stretch of the answer, where the raw microphone is still mostly echo). The person is there
when, all at once:

- Silero hears speech in the residual (a knock or a clatter is not speech),
- the residual is loud (≥ ``MIN_LEVEL_DBFS``: not the echo's remainder or the room),
- the model suddenly explains much less of the microphone than it just did (``DROP_DB``
  below its best of the last ``TRUST_WINDOW_FRAMES``, or ≤ ``UNEXPLAINED_DB`` at all):
  something that is not the echo came in, and
- that best was ≥ ``TRUSTED_DB``: the model was explaining the echo well just before, so a
  loud residual means a new voice, not a model that has not converged or an answer that
  has just started, and
- some of it has come through AEC3 since the stretch began: AEC3's output rose
  ``PASSED_DB`` above its quietest 100 ms of the last 0.5 s. AEC3 *muffles* a person's first
  syllables, it does not erase them all (measured: −20 to −46 dBFS of a −26 dBFS person
  came through when the cue opened), while an echo path that changed mid-answer (a laptop
  lid moved, a playback glitch shifting the echo by a few ms) leaves the linear model's
  prediction wrong — its residual is the whole echo, loud and speech — yet AEC3 re-tracks
  it and its output stays at the floor. Without this the cue paused the answer on its own
  echo 0.2–0.3 s after any such change, with nobody talking.

The cue is timed from the VAD's speech edge (the speech began there, ``turn.start_ms``
before the VAD could say so) as far back as the other conditions have held, as the VAD's own
speech is.
Runs on the audio thread as the echo canceller's frame observer; ``engine/speaking.py``
reads ``open_ms`` (how long the cue has held) on the event loop and lets it count toward
``min_speech_ms`` like the VAD's speech. Thresholds were chosen on ``bench echo`` seeds 1–8.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from voicedesk.config import Settings
from voicedesk.turn.vad import VadSegmenter

UNEXPLAINED_DB = 3.0
DROP_DB = 20.0
MIN_LEVEL_DBFS = -40.0
TRUSTED_DB = 20.0
TRUST_WINDOW_FRAMES = 50  # 0.5 s
PASSED_DB = 10.0
FRAME_S = 0.010
FRAME_MS = 10


class DoubleTalkCue:
    def __init__(self, settings: Settings) -> None:
        self._vad = VadSegmenter(settings)
        self._explained: deque[float] = deque(maxlen=TRUST_WINDOW_FRAMES)
        self._t = 0.0
        self._held_ms = 0  # how long the conditions other than the VAD's have held
        self._out_db: deque[float] = deque(maxlen=TRUST_WINDOW_FRAMES)  # AEC3's output, dB
        self._floor_db = 0.0  # AEC3's quietest output before the current stretch began
        self._passed = False  # something came through AEC3 in the current stretch
        self._speech_edge: float | None = None  # where the VAD's current speech began
        self.open_ms = 0  # how long the cue has held, 0 when it does not

    def __call__(self, mic: np.ndarray, canceller: Any) -> None:
        """One 10 ms frame of raw microphone, after ``canceller`` has processed it (the cue
        reads the linear model's residual of that frame, not ``mic`` itself)."""
        linear = canceller.linear
        for event in self._vad.feed(linear.residual.astype(np.float32), self._t):
            if event.kind == "start":
                self._speech_edge = event.edge_s
        self._t += FRAME_S
        explained = linear.explained_db
        best = max(self._explained, default=-99.0)
        self._explained.append(explained if explained is not None else -99.0)
        level = 10.0 * np.log10(linear.residual_level + 1e-12)
        held = (
            explained is not None
            and explained <= max(UNEXPLAINED_DB, best - DROP_DB)
            and level >= MIN_LEVEL_DBFS
            and best >= TRUSTED_DB
        )
        out_db = 10.0 * np.log10(linear.output_level + 1e-12)
        if held and not self._held_ms:
            self._floor_db = min(self._out_db, default=out_db)
            self._passed = False
        self._out_db.append(out_db)
        self._passed = held and (self._passed or out_db >= self._floor_db + PASSED_DB)
        self._held_ms = self._held_ms + FRAME_MS if held else 0
        if not self._passed or not self._vad.in_speech or self._speech_edge is None:
            self.open_ms = 0
            return
        since_edge = round((self._t - self._speech_edge) * 1000)
        self.open_ms = min(self._held_ms, since_edge)
