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
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Literal

import numpy as np

PLAYBACK_RATE = 24_000
# After an answer drains, the "drained" mark is repeated this often (in blocks) until a new
# answer starts: a reply that finishes generating just after its audio ran out still sees one.
_DRAIN_REPEAT_BLOCKS = 10
# How many past blocks remember whose samples they carried (a minute of 10 ms blocks): a
# stop takes back what the device had not played yet, and a lagging speaker holds no more.
_HANDED_BLOCKS = 6000


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
    """``drop_unplayed``: called on a stop, returns the indices (counted in ``pull`` calls)
    of blocks handed over that the device dropped unplayed (``DuplexBackend.drop_playback``).
    """

    def __init__(self, drop_unplayed: Callable[[], list[int]] | None = None) -> None:
        self.drop_unplayed = drop_unplayed
        self._lock = threading.Lock()
        self._pulls = 0  # index of the next pull
        # (pull index, ((utterance, samples), ...)) of recent blocks that carried sound
        self._handed: deque[tuple[int, tuple[tuple[int, int], ...]]] = deque(maxlen=_HANDED_BLOCKS)
        self._chunks: deque[tuple[int, np.ndarray]] = deque()
        self._head_pos = 0  # samples of the first chunk already played
        self._played: dict[int, int] = {}
        self._started: set[int] = set()
        self._paused = False
        # The first pull the pause silenced. The pause is decided on the loop, which may be
        # behind the audio thread: the blocks it pulled meanwhile still played.
        self._paused_pull: int | None = None
        # The current pause is the early one (``pause_if_playing``, from the audio side),
        # not yet confirmed by the loop's ``pause`` nor lifted (``lift_early``).
        self._early = False
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
            if self.drop_unplayed is not None and utterance_id in (None, self._last_uid):
                self._take_back(self.drop_unplayed())
            return dropped

    def _take_back(self, indices: list[int]) -> None:
        """Count the samples of blocks the device dropped unplayed as not heard (lock held).

        The answer being cut is the one playing, so what waits in the device's queue is its
        (or, at a boundary, the one before it): a speaker lagging behind the engine (two
        streams through a sound server) played it on after the person talked over it."""
        if not indices:
            return
        gone, first = set(indices), min(indices)
        for index, takes in reversed(self._handed):  # newest first: the audio thread waits
            if index < first:
                break
            if index in gone:
                for uid, n in takes:
                    self._played[uid] = max(0, self._played.get(uid, 0) - n)

    def pause(self) -> None:
        with self._lock:
            if not self._paused:
                self._paused_pull = None
            self._paused = True
            self._early = False  # the loop's own pause now (an early one it confirms)

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._paused_pull = None
            self._early = False

    def pause_if_playing(self, spare: Container[int] = ()) -> bool:
        """Pause at the next block, from any thread, if sound is queued and nothing paused
        it: the early pause of a barge-in heard before the loop could judge it. It stays
        early (``early_paused``) until the loop confirms it (``pause``) or lifts it
        (``lift_early``). Not when the sound playing next is one of the utterances in
        ``spare`` (the check sound: no answer, so no barge-in of the loop's ever stops it,
        and an early pause of it was only a gap the loop lifted). Whether it paused."""
        with self._lock:
            if self._paused or not self._chunks or self._chunks[0][0] in spare:
                return False
            self._paused, self._paused_pull, self._early = True, None, True
            return True

    def lift_early(self) -> bool:
        """Resume, if the pause is still the early one (the loop took it for no person);
        a pause the loop made or confirmed meanwhile stays. Whether it resumed."""
        with self._lock:
            if not (self._paused and self._early):
                return False
            self._paused, self._paused_pull, self._early = False, None, False
            return True

    @property
    def early_paused(self) -> bool:
        """Paused by ``pause_if_playing`` and not yet confirmed or lifted."""
        with self._lock:
            return self._paused and self._early

    @property
    def silent_from_pull(self) -> int | None:
        """The index (in ``pull`` calls, as the audio blocks are counted) of the first block
        the current pause kept silent; None while not paused, or before a block was pulled."""
        with self._lock:
            return self._paused_pull if self._paused else None

    @property
    def paused(self) -> bool:
        return self._paused

    def played_samples(self, utterance_id: int) -> int:
        """Samples of the utterance handed to the backend and not taken back.

        A device plays a block ``output_latency_s`` after it is handed over. A stop takes
        back (``drop_unplayed``) what still waits in a backend's own queue, which a lagging
        speaker can fill with seconds of the answer; what the device itself holds (tens of
        ms) still comes out after the cut. The count is therefore what the person hears,
        with no latency taken off.
        """
        with self._lock:
            return self._played.get(utterance_id, 0)

    def next_utterance(self) -> int | None:
        """The utterance whose sound plays next (the queue's head; paused or not), or None
        when nothing is queued."""
        with self._lock:
            return self._chunks[0][0] if self._chunks else None

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
            index = self._pulls
            self._pulls += 1
            if self._paused:
                if self._paused_pull is None:
                    self._paused_pull = index
                return out, marks
            pos = 0
            takes: list[tuple[int, int]] = []
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
                takes.append((uid, take))
                self._last_uid = uid
                if self._head_pos >= chunk.size:
                    self._chunks.popleft()
                    self._head_pos = 0
                    if not self._chunks or self._chunks[0][0] != uid:
                        marks.append(Mark(uid, "drained", pos))
                        self._drained_uid = uid
                        self._drained_ago = -pos
                        self._blocks_since_drain = 0
            if takes:
                self._handed.append((index, tuple(takes)))
            if pos == 0 and self._drained_uid is not None:
                self._blocks_since_drain += 1
                self._drained_ago += n
                if self._blocks_since_drain % _DRAIN_REPEAT_BLOCKS == 0:
                    marks.append(Mark(self._drained_uid, "drained", -self._drained_ago))
        return out, marks
