"""The playback queue between the event loop (TTS audio in) and the audio thread (blocks out).

Written by hand rather than taken from a library because it is on the barge-in path: a stop
or pause must take effect at the very next block (≤ one block of latency), and the session
needs to know exactly how many samples of each answer were handed to the device, to keep in the
history only what the person heard. A ``queue.Queue`` of chunks would give neither.

The loop calls ``enqueue``/``stop``/``pause``/``resume``; the audio thread calls ``pull``
once per block. A short lock guards the deque; the audio thread holds it for a few list
operations only, never across I/O.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np

PLAYBACK_RATE = 24_000
# After an answer drains, the "drained" mark is repeated this often (in blocks) until a new
# answer starts: a reply that finishes generating just after its audio ran out still sees one.
_DRAIN_REPEAT_BLOCKS = 10


@dataclass(frozen=True, slots=True)
class Mark:
    """Something that happened inside a playback block.

    ``offset`` is in 24 kHz samples from the start of the block in which the mark is
    delivered (negative for a repeated "drained" mark pointing back to the real moment).
    """

    utterance_id: int
    kind: Literal["start", "drained"]
    offset: int


class PlaybackBuffer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._head_pos = 0  # samples of the first chunk already played
        self._played: dict[int, int] = {}
        self._started: set[int] = set()
        self._paused = False
        self._last_uid: int | None = None  # utterance that last produced sound
        self._drained_uid: int | None = None  # repeat its "drained" mark while idle
        self._drained_ago = 0  # samples since the drain moment
        self._blocks_since_drain = 0

    # ------------------------------------------------------------------ loop side
    def enqueue(self, utterance_id: int, pcm: np.ndarray) -> None:
        if pcm.size == 0:
            return
        with self._lock:
            self._chunks.append((utterance_id, pcm.astype(np.int16, copy=False)))
            self._played.setdefault(utterance_id, 0)
            if self._drained_uid == utterance_id:
                self._drained_uid = None  # more audio came: it did not really end

    def stop(self, utterance_id: int | None = None) -> int:
        """Drop unplayed audio (of one utterance, or all); returns the samples dropped."""
        with self._lock:
            dropped = 0
            kept: deque[tuple[int, np.ndarray]] = deque()
            for i, (uid, chunk) in enumerate(self._chunks):
                if utterance_id is None or uid == utterance_id:
                    dropped += chunk.size - (self._head_pos if i == 0 else 0)
                else:
                    kept.append((uid, chunk))
            if self._chunks and (utterance_id is None or self._chunks[0][0] == utterance_id):
                self._head_pos = 0
            self._chunks = kept
            if utterance_id is None or self._drained_uid == utterance_id:
                self._drained_uid = None
            return dropped

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    @property
    def paused(self) -> bool:
        return self._paused

    def played_samples(self, utterance_id: int) -> int:
        """Samples of the utterance handed to the backend: all of them reach the speaker.

        A device plays a block ``output_latency_s`` after it is handed over, but a stop or
        pause only changes the blocks that follow; nothing recalls what the device already
        holds, so it still comes out after the cut. The count is therefore what the person
        hears, with no latency taken off.
        """
        with self._lock:
            return self._played.get(utterance_id, 0)

    def is_playing(self) -> bool:
        """Audio is queued (paused or not): an answer is in the air or about to be."""
        with self._lock:
            return bool(self._chunks)

    def queued_samples(self) -> int:
        with self._lock:
            return sum(c.size for _, c in self._chunks) - self._head_pos

    # ------------------------------------------------------------------ audio thread
    def pull(self, n: int) -> tuple[np.ndarray, list[Mark]]:
        """The next ``n`` samples to play (silence-padded) and the marks inside them."""
        out = np.zeros(n, dtype=np.int16)
        marks: list[Mark] = []
        with self._lock:
            if self._paused:
                return out, marks
            pos = 0
            while pos < n and self._chunks:
                uid, chunk = self._chunks[0]
                if self._drained_uid is not None and self._drained_uid != uid:
                    self._drained_uid = None  # another answer is playing now
                if uid not in self._started:
                    self._started.add(uid)
                    marks.append(Mark(uid, "start", pos))
                take = min(n - pos, chunk.size - self._head_pos)
                out[pos : pos + take] = chunk[self._head_pos : self._head_pos + take]
                self._head_pos += take
                pos += take
                self._played[uid] = self._played.get(uid, 0) + take
                self._last_uid = uid
                if self._head_pos >= chunk.size:
                    self._chunks.popleft()
                    self._head_pos = 0
                    if not self._chunks or self._chunks[0][0] != uid:
                        marks.append(Mark(uid, "drained", pos))
                        self._drained_uid = uid
                        self._drained_ago = -pos
                        self._blocks_since_drain = 0
            if pos == 0 and self._drained_uid is not None:
                self._blocks_since_drain += 1
                self._drained_ago += n
                if self._blocks_since_drain % _DRAIN_REPEAT_BLOCKS == 0:
                    marks.append(Mark(self._drained_uid, "drained", -self._drained_ago))
        return out, marks
