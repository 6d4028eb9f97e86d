"""One Whisper encoder pass for every reader of the same audio.

With ``stt.provider = "local"`` the transcript of a pause and the turn detector's reading of
it (``turn/pause_reading.py``) were asked for the same audio at the same moment, and each ran
Whisper's encoder over its own copy of the 30 s window: most of either's work (~0.47 s of the
~0.63 s of a reading on one core), twice, side by side on the same cores, before the answer
could be asked for. The encoder's output depends on its input alone, so a second reader of
the same features is given the first one's output (waiting for it while it is computed)
instead of computing it again: the same numbers, the decodings unchanged.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import numpy as np

# Encodings kept once done: a pause's transcript and reading are asked for within
# milliseconds of each other, so the latest two are enough (one of the tiny model's 30 s
# windows is ~2.3 MB; a large model's ~7.7 MB).
KEEP = 2


class SharedEncodings:
    """Memoises an encoder by its input: concurrent and repeated calls with equal features
    share one pass. Thread-safe; ``passes`` and ``shared`` count what it did."""

    def __init__(self, encode: Callable[[np.ndarray], Any], keep: int = KEEP) -> None:
        self._encode = encode
        self._keep = keep
        self._lock = threading.Lock()
        self._done: OrderedDict[bytes, Any] = OrderedDict()
        self._running: dict[bytes, Future[Any]] = {}
        self.passes = 0  # encoder passes run
        self.shared = 0  # calls given another call's output

    def encode(self, features: np.ndarray) -> Any:
        """The encoder's output for ``features``: computed here, or the output of an equal
        call that is done or under way."""
        key = _digest(features)
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                self.shared += 1
                return self._done[key]
            running = self._running.get(key)
            if running is None:
                mine: Future[Any] = Future()
                self._running[key] = mine
            else:
                self.shared += 1
        if running is not None:
            return running.result()  # the other call's output, or its error
        try:
            output = self._encode(features)
        except BaseException as exc:
            with self._lock:
                del self._running[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            del self._running[key]
            self.passes += 1
            self._done[key] = output
            while len(self._done) > self._keep:
                self._done.popitem(last=False)
        mine.set_result(output)
        return output


def _digest(features: np.ndarray) -> bytes:
    """A key for ``features``: their shape, type and values (~1 ms for a 30 s window)."""
    array = np.ascontiguousarray(features)
    head = f"{array.shape}{array.dtype}".encode()
    return hashlib.blake2b(head + array.tobytes(), digest_size=16).digest()


def shared_encoder_model(*args: Any, **kwargs: Any) -> Any:
    """A faster-whisper ``WhisperModel`` whose encoder passes go through
    :class:`SharedEncodings` (its ``encodings``): its own ``transcribe`` and our cue
    readings (``LocalWhisper.read_for_cues``) both encode through ``encode``."""
    from faster_whisper import WhisperModel

    class _SharedEncoderModel(WhisperModel):  # type: ignore[misc]
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.encodings = SharedEncodings(super().encode)

        def encode(self, features: np.ndarray) -> Any:
            return self.encodings.encode(features)

    return _SharedEncoderModel(*args, **kwargs)
