"""Smart Turn v3: P(the speaker has finished their turn) from the last 8 s of audio.

~10–70 ms per call on one core, so it is called when the VAD hears silence, never per frame,
and always in a worker thread so the event loop (audio, UI) never waits for it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from voicedesk.audio.wavio import to_float32
from voicedesk.config import Settings
from voicedesk.turn.features import fit_last_seconds, log_mel
from voicedesk.turn.models import load_session, smart_turn_path


class SmartTurn:
    def __init__(self, settings: Settings) -> None:
        self._session = load_session(smart_turn_path(settings.models), "models.smart_turn")
        self._input = self._session.get_inputs()[0].name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smart-turn")

    def predict(self, audio: np.ndarray) -> float:
        """Blocking: ``audio`` is 16 kHz int16 or float in [-1, 1]; returns P(complete)."""
        feats = log_mel(fit_last_seconds(to_float32(audio).astype(np.float32)))[None, :, :]
        out = self._session.run(None, {self._input: feats})[0]
        return float(np.asarray(out).reshape(-1)[0])

    def submit(self, audio: np.ndarray) -> Future[float]:
        return self._pool.submit(self.predict, audio.copy())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
