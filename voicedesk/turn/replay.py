"""Run the on-device turn pipeline over a recording and report every decision.

Virtual clock by default: audio is fed in 10 ms blocks and every model call (Smart Turn, the
local transcriber for the cues) completes "instantly" in audio time, so decisions land at the
audio positions where a fast enough machine would make them, independent of this machine's
load. ``realtime=True`` paces the file instead and decisions land where this machine makes them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicedesk.config import Settings
from voicedesk.providers.local_stt import CUE_READERS
from voicedesk.turn.cues import Reading
from voicedesk.turn.detector import TurnDetector, TurnSignal
from voicedesk.turn.pause_reading import READ_S, CueReader, PauseReader

BLOCK_S = 0.010


@dataclass
class ReplayResult:
    file: str
    sample_rate: int
    duration_s: float
    turns: list[dict[str, Any]] = field(default_factory=list)
    eou_checks: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sample_rate": self.sample_rate,
            "duration_s": round(self.duration_s, 3),
            "turns": self.turns,
            "eou_checks": self.eou_checks,
        }


def replay(
    path: Path,
    settings: Settings,
    *,
    transcriber: CueReader | None = None,
    realtime: bool = False,
    mode: str | None = None,
    transcribe: Callable[[np.ndarray], str] | None = None,
) -> ReplayResult:
    """``transcribe``: the words of a whole turn, for the "text" of a turn longer than a
    pause reading's window (``READ_S``); without it such a turn's text is only what its
    last reading covered, the dictation's last seconds."""
    import soundfile as sf

    from voicedesk.audio.wavio import count_frames

    file_rate = sf.info(str(path)).samplerate
    detector = TurnDetector(
        settings,
        expects_reading=transcriber is not None,
        mode=mode,
        virtual_clock=not realtime,
    )
    # the header's length until the file has been read (a turn's end is capped by it)
    result = ReplayResult(str(path), int(file_rate), count_frames(path) / file_rate)
    block = int(BLOCK_S * 16_000)
    # trailing silence so a turn that ends with the file can still be decided
    tail = int(settings.turn.max_wait_ms / 1000 * 16_000) + block
    blocks = _blocks(path, block, tail)
    t0 = time.monotonic()
    ptt = (mode or settings.turn.mode) == "push-to-talk"
    with contextlib.ExitStack() as stack:
        reader = PauseReader(transcriber) if transcriber else None
        # Paced like a microphone, the audio must not wait for a reading: it is read on a
        # thread of its own, as the live engine reads it off its event loop, and its cue
        # arrives when it is done. (Read in the loop, a reading of ~0.7 s stopped the clock,
        # and the blocks fed after it in a burst reached the maximum wait before Smart
        # Turn's answer came: every turn ended by timeout, with no model check.)
        # As many readings at once as live (``CUE_READERS``): the latest pause is read at once,
        # beside a reading of an earlier pause that cannot be stopped. One at a time, it
        # waited for that stale reading (a comma's, 1.6-2.0 s on a loaded 2-core machine),
        # and its cues came after the detector's text wait (``TEXT_WAIT_S``) had run out.
        background = (
            stack.enter_context(ThreadPoolExecutor(CUE_READERS))
            if realtime and reader is not None
            else None
        )
        pending: list[tuple[Future[Reading], int]] = []
        read_pause = -1  # the detector's pause count last sent to be read
        for i, samples, heard_out in blocks:
            if heard_out is not None:
                result.duration_s = heard_out / 16_000
            at = i / 16_000
            if realtime:
                delay = t0 + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if ptt and i == 0:
                _record(result, detector.ptt_press(at))
            signals = detector.feed(samples, at)
            _record(result, signals)
            for done in [p for p in pending if p[0].done()]:
                pending.remove(done)
                _record(result, detector.set_reading(done[0].result(), at, pause=done[1]))
            # (with the talk key held a pause decides nothing: the whole turn is read at
            # its release)
            stopped = not ptt and any(s.kind == "speech_stop" for s in signals)
            if reader is not None and background is None and stopped:
                reading = reader.read(*detector.pause_audio())
                _record(result, detector.set_reading(reading, at + block / 16_000))
            elif (
                background is not None
                and reader is not None
                and len(pending) < CUE_READERS
                and not ptt
            ):
                # a pause that came while every reader was busy is read once one is free, if
                # the person has not spoken on since (as live)
                unread = (
                    detector.in_turn and not detector.in_speech and read_pause != detector.pauses
                )
                if unread:
                    read_pause = detector.pauses
                    future = background.submit(reader.read, *detector.pause_audio())
                    pending.append((future, read_pause))
            if ptt and heard_out is not None and i + block >= heard_out and i < heard_out:
                released = heard_out / 16_000
                if reader is not None:  # the whole held turn is read, as a pause would be
                    for future, _ in pending:
                        future.cancel()
                    _record(result, detector.set_reading(reader.read(*detector.pause_audio()), at))
                _record(result, detector.ptt_release(released))
    if transcribe is not None:
        # after the run: it moves no clock
        long_turns = [t for t in result.turns if t["end_s"] - t["start_s"] > READ_S]
        spans = [(int(t["start_s"] * 16_000), int(t["end_s"] * 16_000)) for t in long_turns]
        for turn, words in zip(long_turns, _spans(path, spans), strict=True):
            turn["text"] = transcribe(words)
    return result


def _blocks(path: Path, block: int, tail: int) -> Iterator[tuple[int, np.ndarray, int | None]]:
    """The file at 16 kHz in ``block``-sample blocks, then ``tail`` samples of silence:
    (its first sample's index, the block, the file's length in samples once it is known,
    which is from the block holding its last sample on). Only whole blocks, as the file
    read whole and padded gave them."""
    from voicedesk.audio.wavio import stream_wav

    held = np.zeros(0, np.int16)
    start = 0  # index of held[0]
    length: int | None = None
    chunks = stream_wav(path, 16_000)
    while True:
        if length is None and held.size <= block:  # a block more, to know if it is the last
            chunk = next(chunks, None)
            if chunk is None:
                length = start + held.size
                held = np.concatenate([held, np.zeros(tail, np.int16)])
            else:
                held = np.concatenate([held, chunk])
            continue
        if held.size < block:
            return
        known = length if length is not None and start + block >= length else None
        yield start, held[:block], known
        held = held[block:]
        start += block


def _spans(path: Path, spans: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """The samples of each (start, end) span of the file at 16 kHz, read again from it as
    it streams by, so only these are held."""
    from voicedesk.audio.wavio import stream_wav

    if not spans:
        return
    parts: list[list[np.ndarray]] = [[] for _ in spans]
    at = 0
    for chunk in stream_wav(path, 16_000):
        for (start, end), part in zip(spans, parts, strict=True):
            lo, hi = max(start, at), min(end, at + chunk.size)
            if lo < hi:
                part.append(chunk[lo - at : hi - at])
        at += chunk.size
        if at >= spans[-1][1] and all(at >= end for _, end in spans):
            break
    for part in parts:
        yield np.concatenate(part) if part else np.zeros(0, np.int16)


def _record(result: ReplayResult, signals: list[TurnSignal]) -> None:
    for s in signals:
        if s.kind == "eou_check":
            result.eou_checks.append(
                {
                    "at_s": round(s.audio_s, 3),
                    "probability": None if s.probability is None else round(s.probability, 4),
                    "text_so_far": s.text,
                    "verdict": s.verdict,
                }
            )
        elif s.kind == "turn_end":
            result.turns.append(
                {
                    "start_s": round(s.start_s or 0.0, 3),
                    # speech that runs to the end of the file ends there, not where the
                    # VAD heard it stop in the silence added after it
                    "end_s": round(min(s.end_s or s.audio_s, result.duration_s), 3),
                    "decided_s": round(s.audio_s, 3),
                    "reason": s.reason,
                    "eou_probability": None if s.probability is None else round(s.probability, 4),
                    "text": s.text,
                }
            )
