"""Barge-in's early pause: the answer falls silent when the person talks over it, even while
the event loop is behind.

The loop decides a barge-in block by block (``Speaking.check``) while the audio thread plays
on, so a loop held 0.4 s (a loaded machine, a big tool result being parsed) let the answer
play on over the person for 0.4 s. This worker judges the same blocks on its own thread, as
they come: the audio thread hands each one over without waiting (``observe``: a
``SimpleQueue`` put, which never blocks), and the worker runs its own Silero VAD on it with
the turn detector's thresholds and barge-in's own rule (``BargeInPolicy``, the same minimum
speech), judging each block by the echo canceller's verdict *on that block*
(``EchoVerdict``). When that rule pauses, the worker pauses the playback itself
(``PlaybackBuffer.pause_if_playing``).

The loop stays the judge. When it gets to the blocks it either confirms the pause (its own
rule pauses: the usual barge-in, the transcript then decides) or, ``SETTLE_S`` of audio past
the block the worker paused at without having paused itself, lifts it
(``PlaybackBuffer.lift_early``): the worker heard something the loop's rule does not take
for the person. Each block's speech edges are followed as the session follows the turn
detector's signals (``speech_started``/``speech_resumed``/``speech_stopped``), so the two
count the same stretches.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voicedesk.config import Settings
from voicedesk.engine.barge_in import BargeInPolicy, joins_stretch
from voicedesk.turn.vad import RATE, WINDOW, VadSegmenter

if TYPE_CHECKING:
    from voicedesk.audio.aec import EchoVerdict
    from voicedesk.audio.playback import PlaybackBuffer

log = logging.getLogger(__name__)

# How long past the block the worker paused at the loop waits for its own rule to pause
# before it lifts the early pause. The loop sees the same blocks with the same verdicts, so
# it pauses at that very block when the two agree; the settle only covers a block or two of
# disagreement at a stretch's edge.
SETTLE_S = 0.15
# How many past blocks the worker keeps (3 s of 10 ms blocks) to hear again when the turn
# detector starts its VAD afresh (a mute, a mode switch) at a block the loop gets to later.
RECENT_BLOCKS = 300


@dataclass(frozen=True, slots=True)
class Judged:
    """One block as the worker judged it (kept only when ``EarlyPause.trace`` is a list)."""

    index: int
    in_speech: bool
    speech_start_s: float | None
    echo_only: bool
    converged: bool
    double_talk_ms: int
    playing: bool
    verdict: str


class EarlyPause:
    def __init__(
        self, settings: Settings, playback: PlaybackBuffer, *, spare: frozenset[int] = frozenset()
    ) -> None:
        """``spare``: utterances that are no answer (the check sound), never paused: speech
        over one is not counted, as the loop's barge-in does not count it."""
        self._playback = playback
        self._spare = spare
        self._block_s = settings.audio.block_ms / 1000
        # the audio's (``AudioIO.echo_possible``), for the minimum speech: set by the
        # session once the devices are known
        self.echo_possible = True
        self._vad = VadSegmenter(settings)  # its own Silero state, the detector's thresholds
        self._policy = BargeInPolicy(settings.barge_in)
        # the blocks judged lately, to hear again from where the detector starts again
        self._recent: deque[tuple[np.ndarray, int, EchoVerdict | None]] = deque(
            maxlen=RECENT_BLOCKS
        )
        # Where the detector's VAD started afresh (``realign``): set on the loop, taken by
        # the worker when it gets to that block, under the lock (a block both could touch)
        self._realign_at: int | None = None
        self._realign_lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[np.ndarray, int, EchoVerdict | None] | None] = (
            queue.SimpleQueue()
        )
        # the turn detector's state as the session's barge-in sees it
        self._state = "idle"  # "idle" | "speech" | "pause"
        self._speech_start_s: float | None = None
        self._paused_speech_start_s: float | None = None
        self._paused_end_s = 0.0
        # after a pause the loop lifted: nothing more of that stretch pauses again
        self._until_next_stretch = False
        # Set by the session (hands-free, listening, not muted): only then does the loop's
        # barge-in hear the microphone at all.
        self.armed = True
        # audio time (end of the block) of the latest early pause; read on the loop
        self.paused_at_s: float | None = None
        self.pauses = 0  # early pauses made
        self.lifts = 0  # of which the loop lifted
        self.trace: list[Judged] | None = None  # per-block judgements, for diagnosis
        self._thread = threading.Thread(target=self._run, name="voicedesk-early-pause", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ audio thread
    def observe(self, block: np.ndarray, index: int, verdict: EchoVerdict | None) -> None:
        """A capture block (echo-cancelled, as the loop gets it) and its verdict: queued for
        the worker, never waited on."""
        self._queue.put_nowait((block, index, verdict))

    # ------------------------------------------------------------------ the loop
    def realign(self, index: int) -> None:
        """The turn detector's VAD starts afresh at block ``index`` (after a mute or a mode
        switch): the worker's starts there too, so that both VADs' 32 ms windows fall alike
        and their recurrent states begin together (``_judge``). Ahead of the loop (as it
        usually is) the worker hears again the blocks it has judged since; behind it (its
        thread starved), it starts afresh when it gets to ``index``."""
        with self._realign_lock:
            self._realign_at = index

    def lifted(self) -> None:
        """The loop lifted the early pause (counted; the worker sees the pause gone)."""
        self.lifts += 1

    def close(self) -> None:
        """Stop the worker (once the audio has stopped)."""
        self._queue.put_nowait(None)
        self._thread.join(timeout=2.0)

    # ------------------------------------------------------------------ the worker
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._judge(*item)
            except Exception:  # the loop still judges every block: log it and go on
                log.exception("the early barge-in pause failed on a block")

    def _judge(self, block: np.ndarray, index: int, verdict: EchoVerdict | None) -> None:
        realign = self._realign_due(index)
        if realign is not None:
            self._start_again(realign)
        self._recent.append((block, index, verdict))
        self._hear(block, index)
        now = index * self._block_s + self._block_s  # as the loop counts it
        playback = self._playback
        playing = playback.next_utterance() not in (None, *self._spare) and not playback.paused
        policy = self._policy
        if policy.paused and not playback.early_paused:
            # the loop confirmed the pause (its own now), lifted it, or the answer ended
            policy.reset()
            self._until_next_stretch = True
        if not playback.is_playing():
            policy.reset()  # no answer: as the loop's ``forget``
        heard = self._state == "speech" and self._speech_start_s is not None
        echo_only = verdict.echo_only if verdict is not None else False
        converged = verdict.converged if verdict is not None else True
        cue_ms = verdict.double_talk_ms if verdict is not None else 0
        decided = "none"
        if self.armed and not self._until_next_stretch:
            decided = policy.on_block(
                now,
                speech_start_s=self._speech_start_s if heard else None,
                double_talk_ms=cue_ms,
                answer_playing=playing,
                converged=converged,
                echo_possible=self.echo_possible,
                echo_only=echo_only,
            )
            if decided == "pause":
                self.paused_at_s = now
                if playback.pause_if_playing(self._spare):
                    self.pauses += 1
                else:
                    policy.reset()
        if self.trace is not None:
            self.trace.append(
                Judged(
                    index,
                    heard,
                    self._speech_start_s,
                    echo_only,
                    converged,
                    cue_ms,
                    playing,
                    decided,
                )
            )

    def _realign_due(self, index: int) -> int | None:
        """The block the VAD starts afresh at, once the worker has got to it (block
        ``index`` is next). Taken at once, a worker still behind the loop started its VAD
        at the block it was on, before the detector's, and its windows fell between the
        detector's from then on."""
        with self._realign_lock:
            at = self._realign_at
            if at is None or index < at:
                return None
            self._realign_at = None
            return at

    def _hear(self, block: np.ndarray, index: int) -> None:
        for event in self._vad.feed(block, index * self._block_s):
            self._follow(event.kind, event.at_s, event.edge_s)

    def _start_again(self, index: int) -> None:
        """Begin the VAD afresh at block ``index``, as the detector's did, and hear the
        blocks since again (no pause is decided on them: the loop has them still to judge,
        and the count starts with the next stretch)."""
        self._vad.reset()
        self._state = "idle"
        self._speech_start_s = self._paused_speech_start_s = None
        self._policy.reset()
        start = self._first_heard_again(index)
        for block, i, _ in self._recent:
            if i >= start:
                self._hear(block, i)

    def _first_heard_again(self, index: int) -> int:
        """The block to hear again from: ``index`` while it is kept. A worker more than
        ``RECENT_BLOCKS`` ahead (the loop held 3 s as the person unmuted) no longer has it,
        and started at the oldest block it kept, whose 32 ms windows fell between the
        detector's for the rest of the session (3.2 blocks a window: only every 16th block
        of 10 ms starts one where the detector's do). It starts at the first kept block on
        the detector's window grid instead; the Silero state, begun there, follows the
        detector's within a few windows."""
        if not self._recent or self._recent[0][1] <= index:
            return index
        samples = round(self._block_s * RATE)
        period = WINDOW // math.gcd(WINDOW, samples)  # blocks between shared window starts
        behind = self._recent[0][1] - index
        return index + -(-behind // period) * period

    def _follow(self, kind: str, at_s: float, edge_s: float) -> None:
        """The VAD's event, as the turn detector turns it into signals and the session into
        barge-in's stretches (``Session._on_speech_*``, ``Speaking.speech_*``)."""
        if kind == "start" and self._state == "idle":
            self._state = "speech"
            self._started(edge_s)
        elif kind == "start" and self._state == "pause":
            self._state = "speech"
            self._resumed(at_s, edge_s, continues=False)
        elif kind in ("pause", "stop") and self._state == "speech":
            self._state = "pause"
            self._paused_speech_start_s = self._speech_start_s
            self._paused_end_s = edge_s
            self._speech_start_s = None
        elif kind == "continue" and self._state == "pause":
            self._state = "speech"
            self._resumed(at_s, edge_s, continues=True)

    def _started(self, at_s: float) -> None:
        self._speech_start_s = at_s
        self._until_next_stretch = False
        self._policy.next_stretch(self._paused_end_s)

    def _resumed(self, at_s: float, start_s: float, *, continues: bool) -> None:
        gap = start_s - self._paused_end_s
        carried = self._paused_speech_start_s if continues and joins_stretch(gap) else None
        self._speech_start_s = carried if carried is not None else start_s
        if carried is None:
            self._until_next_stretch = False
            self._policy.next_stretch(self._paused_end_s)
