"""Smart Turn v3: P(the speaker has finished their turn) from the last 8 s of audio.

~50 ms per call on a recent laptop core, ~100 ms on an AVX2-only server core, so it is
called when the VAD hears silence, never per frame, and always in a worker thread so the
event loop (audio, UI) never waits for it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from voicedesk.audio.wavio import to_float32
from voicedesk.config import Settings
from voicedesk.turn.features import RATE, log_mel
from voicedesk.turn.models import load_session, smart_turn_path

_warmed: set[int] = set()  # ids of the (cached, shared) sessions that have run once


class SmartTurn:
    def __init__(self, settings: Settings) -> None:
        self._session = load_session(
            smart_turn_path(settings.models),
            "models.smart_turn",
            float_softmax=settings.models.float_softmax,
        )
        self._input = self._session.get_inputs()[0].name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smart-turn")
        # onnxruntime's first run of a session is ~15% slower (it sizes its memory arena):
        # spend it now, off the loop, rather than on the person's first pause.
        self._warming: Future[float] | None = None
        if id(self._session) not in _warmed:
            _warmed.add(id(self._session))
            self._warming = self._pool.submit(self.predict, np.zeros(RATE, np.float32))

    def wait_warm(self) -> None:
        """Block until the first (warm-up) run is done; for benchmarks that time calls."""
        if self._warming is not None:
            self._warming.result()

    def predict(self, audio: np.ndarray) -> float:
        """Blocking: ``audio`` is 16 kHz int16 or float in [-1, 1]; returns P(complete)."""
        feats = log_mel(to_float32(audio))[None, :, :]  # unpadded: log_mel skips the padding
        out = self._session.run(None, {self._input: feats})[0]
        return float(np.asarray(out).reshape(-1)[0])

    def submit(self, audio: np.ndarray) -> Future[float]:
        return self._pool.submit(self.predict, audio.copy())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
