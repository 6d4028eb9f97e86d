"""Run the on-device turn pipeline over a recording and report every decision.

Virtual clock by default: audio is fed in 10 ms blocks and every model call (Smart Turn, the
local transcriber for the cues) completes "instantly" in audio time, so decisions land at the
audio positions where a fast enough machine would make them, independent of this machine's
load. ``realtime=True`` paces the file instead and decisions land where this machine makes them.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voicedesk.config import Settings
from voicedesk.turn.cues import Reading, most_doubtful
from voicedesk.turn.detector import TurnDetector, TurnSignal

BLOCK_S = 0.010
# The cue transcript is read twice, the second time without the last 10 ms of audio, and
# the doubtful reading wins (see ``most_doubtful``): twice the transcriber's CPU per pause,
# read at the same time so the text is not later than one reading (``--realtime``).
SECOND_READING_TRIM = 160


class CueText(Protocol):
    """A transcriber's reading of a turn for the cues (``local_stt.CueReading`` is one)."""

    @property
    def text(self) -> str: ...

    @property
    def alternatives(self) -> list[tuple[str, float]]:
        """``(text with another last word, odds against the written one)``."""
        ...

    @property
    def continuations(self) -> list[tuple[str, float]]:
        """``(text with one more word, odds against ending where it did)``."""
        ...

    @property
    def trailing(self) -> float:
        """The odds of a trailing mark ("…", "-", ",") against the way the text ended."""
        ...

    @property
    def heard(self) -> str:
        """The text without the words written for the trailing silence."""
        ...

    @property
    def words_end_odds(self) -> float | None:
        """The odds of an end against another word after the words alone."""
        ...


class CueReader(Protocol):
    """What replay needs of a transcriber (``LocalWhisper`` is one)."""

    def read_for_cues(self, audio16k: np.ndarray, silence_s: float = 0.0) -> CueText:
        """The verbatim reading of ``audio16k``, whose last ``silence_s`` the VAD heard as
        silence."""
        ...


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
) -> ReplayResult:
    from voicedesk.audio.wavio import read_wav

    pcm16, _ = read_wav(path, 16_000)
    import soundfile as sf

    file_rate = sf.info(str(path)).samplerate
    detector = TurnDetector(
        settings,
        expects_text=transcriber is not None,
        mode=mode,
        virtual_clock=not realtime,
    )
    result = ReplayResult(str(path), int(file_rate), len(pcm16) / 16_000)
    block = int(BLOCK_S * 16_000)
    # trailing silence so a turn that ends with the file can still be decided
    tail = np.zeros(int(settings.turn.max_wait_ms / 1000 * 16_000) + block, np.int16)
    audio = np.concatenate([pcm16, tail])
    t0 = time.monotonic()
    ptt = (mode or settings.turn.mode) == "push-to-talk"
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cue-reading") as readers:
        for i in range(0, len(audio) - block + 1, block):
            at = i / 16_000
            if realtime:
                delay = t0 + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if ptt and i == 0:
                _record(result, detector.ptt_press(at))
            signals = detector.feed(audio[i : i + block], at)
            _record(result, signals)
            stop = next((s for s in signals if s.kind == "speech_stop"), None)
            if transcriber is not None and stop is not None:
                turn_audio = detector.turn_audio()
                now = at + block / 16_000
                silence_s = now - (stop.end_s or now)
                readings = readers.map(
                    partial(_read, transcriber),
                    [turn_audio, turn_audio[:-SECOND_READING_TRIM]],
                    [silence_s, max(0.0, silence_s - SECOND_READING_TRIM / 16_000)],
                )
                _record(result, detector.set_reading(most_doubtful(list(readings)), now))
            if ptt and i + block >= len(pcm16) and i < len(pcm16):
                _record(result, detector.ptt_release(len(pcm16) / 16_000))
    return result


def _read(transcriber: CueReader, pcm: np.ndarray, silence_s: float) -> Reading:
    cue = transcriber.read_for_cues(pcm, silence_s)
    return Reading(
        cue.text,
        tuple(cue.alternatives),
        cue.heard,
        tuple(cue.continuations),
        cue.trailing,
        weighed=True,
        words_end_odds=cue.words_end_odds,
    )


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
                    "end_s": round(s.end_s or s.audio_s, 3),
                    "decided_s": round(s.audio_s, 3),
                    "reason": s.reason,
                    "eou_probability": None if s.probability is None else round(s.probability, 4),
                    "text": s.text,
                }
            )
