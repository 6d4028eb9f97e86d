"""One Whisper encoder pass for every reader of the same audio.

With ``stt.provider = "local"`` the transcript of a pause and the turn detector's reading of
it (``turn/pause_reading.py``) were asked for the same audio at the same moment, and each ran
Whisper's encoder over its own copy of the 30 s window: most of either's work (~0.47 s of the
~0.63 s of a reading on one core), twice, side by side on the same cores, before the answer
could be asked for. The encoder's output depends on its input alone, so a second reader of
the same features is given the first one's output (waiting for it while it is computed)
instead of computing it again: the same numbers, the decodings unchanged.

Where they hear different audio (the transcript of a turn's later segment, the reading of
all of it) the transcript goes first (``first``): the answer is asked for with its words,
and two passes at once on two cores, each on its two OpenMP threads, slowed both (1.0 and
1.2 s in one live turn, where one alone took ~0.3 s), the person waiting on the transcript
all along. The reading, after the transcript's pass, may come a little later than side by
side; it is what the decision waits for, the transcript what the answer waits for.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np

# Encodings kept once done: a pause's transcript and reading are asked for within
# milliseconds of each other, so the latest two are enough (one of the tiny model's 30 s
# windows is ~2.3 MB; a large model's ~7.7 MB).
KEEP = 2
# The longest a pass waits for a transcript asked before it whose thread has not begun: a
# transcript that never came to its pass (a lost thread) must not hold readings up. Once
# its thread runs, its pass is waited for to its end, however long a loaded machine makes
# it: limited from the asking, a transcript's pass that took over 2 s on a busy machine
# (~0.3-0.5 s unloaded) had the reading's run beside it, slowing both.
FIRST_WAIT_S = 2.0
# A backstop for a pass under way that never ends (a wedged thread): the reading then runs
# anyway, long after any machine's slowest pass, so a reading can never be held for good.
UNDER_WAY_WAIT_S = 20.0


class SharedEncodings:
    """Memoises an encoder by its input: concurrent and repeated calls with equal features
    share one pass; the passes of a call made ``first`` go before the others asked after it.
    Thread-safe; ``passes`` and ``shared`` count what it did.

    It holds no encoder: each call hands its own (``encode``'s ``compute``). Kept here, the
    model's bound ``encode`` made the model hold itself (model → encodings → method →
    model), and a dropped model stayed in memory until a full garbage collection."""

    def __init__(self, keep: int = KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._done: OrderedDict[bytes, Any] = OrderedDict()
        self._running: dict[bytes, Future[Any]] = {}
        self._ahead: set[object] = set()  # calls asked to go first, their pass not yet done
        self._under_way: set[object] = set()  # those of them whose thread has begun
        self._ahead_done = threading.Condition(self._lock)
        self._local = threading.local()  # the call this thread runs first, if any
        self.passes = 0  # encoder passes run
        self.shared = 0  # calls given another call's output

    def ask_first(self) -> object:
        """Mark a call to come (a transcript) whose first pass goes before the passes of
        calls asked after this: a token for :meth:`first`, taken where the order is known
        (the event loop), before its thread runs. Done with by :meth:`done_first`."""
        token = object()
        with self._lock:
            self._ahead.add(token)
        return token

    def done_first(self, token: object) -> None:
        """``token``'s call has had its pass, or will not have one: the others go on."""
        with self._lock:
            self._ahead.discard(token)
            self._under_way.discard(token)
            self._ahead_done.notify_all()

    @contextlib.contextmanager
    def first(self, token: object | None) -> Iterator[None]:
        """Run the block (in the calling thread) as ``token``'s call: its first pass does
        not wait, and the others' wait no longer once it is done."""
        if token is None:
            yield
            return
        with self._lock:
            if token in self._ahead:
                self._under_way.add(token)
                self._ahead_done.notify_all()
        self._local.token = token
        try:
            yield
        finally:
            self._local.token = None
            self.done_first(token)

    def encode(self, features: np.ndarray, compute: Callable[[np.ndarray], Any]) -> Any:
        """The encoder's output for ``features``: ``compute(features)`` run here, or the
        output of an equal call that is done or under way; after the passes of the calls
        asked to go first."""
        token = getattr(self._local, "token", None)
        try:
            return self._encode_once(features, compute, token)
        finally:
            if token is not None:
                self._local.token = None  # a later window of a long transcript waits as any
                self.done_first(token)

    def _encode_once(
        self, features: np.ndarray, compute: Callable[[np.ndarray], Any], token: object | None
    ) -> Any:
        key = _digest(features)
        with self._lock:
            if token is None and self._ahead:
                self._wait_ahead()
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
            output = compute(features)
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

    def _wait_ahead(self) -> None:
        """(Holding the lock) until the calls asked to go first have had their passes:
        those whose thread runs, to their end (``UNDER_WAY_WAIT_S`` at most); those not yet
        begun, ``FIRST_WAIT_S`` from here at most."""
        now = time.monotonic()
        deadline, backstop = now + FIRST_WAIT_S, now + UNDER_WAY_WAIT_S
        while self._ahead:
            if self._ahead <= self._under_way:
                left = backstop - time.monotonic()
                if left <= 0:
                    return
                self._ahead_done.wait(left)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._ahead_done.wait(left)


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
            self.encodings = SharedEncodings()

        def encode(self, features: np.ndarray) -> Any:
            # the model's own pass handed per call: never kept (see SharedEncodings)
            return self.encodings.encode(features, super().encode)

    return _SharedEncoderModel(*args, **kwargs)
