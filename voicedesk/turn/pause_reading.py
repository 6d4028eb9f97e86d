"""Reading a pause for the end-of-turn cues: the turn so far, once, with a local transcriber.

``voicedesk replay``, ``bench turn`` and the live engine (``turn.local_cues``) read each
pause the same way, so what the benchmark measures is what the person talks to. A cloud
transcript is text only; a local reading also says what the transcriber weighed instead of
its last word, after it, and after the words alone (``voicedesk.turn.cues.Reading``).

Each pause is read once. It used to be read twice at once, the second time without the last
10 ms of audio, the more doubtful reading winning, since the tiny model's last word is
fragile there. Since the reading's odds were added (``cues.reading_cue``), the second
reading alone doubted 5 of the 864 finished, unfinished and paused turns of six seeded
sets (3 fragments it held, 2 finished sentences it delayed), and ``bench turn`` with one
reading scores within one turn of two on every set; but it doubled the CPU of every pause,
~0.6 s of one core each on a 2-core machine, and live the decision waited for the slower
pair to the 0.8 s the detector gives the words (``TEXT_WAIT_S``), then went on without the
reading's cues (docs/turn-detection.md, "Reading a pause once").
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from voicedesk.turn.cues import Reading

RATE = 16_000
# The turn's last seconds a pause is read from: the cues are about how it ends. Read whole
# (up to Whisper's 30 s), a dictation's reading grew with its words: 0.43 s at 3 s of turn,
# 1.0-1.4 s from 30 s on (median of 5, this 2-core machine), past the 0.8 s the detector gives
# the words (``TEXT_WAIT_S``): every pause of a long turn cost a core-second for a reading
# that came too late to count. The recorded turns the cues were tuned on are all shorter
# (6.8 s at most), so their readings are unchanged.
READ_S = 12.0
# ...begun at the quietest 20 ms of their first seconds, between words: cut wherever they
# fell, often in a word, the tiny Whisper at times stopped its reading a sentence or two
# before the end (4 of 36 fragments at the end of a 26 s turn, "… That was really helpful."
# for "… The main problem with the") and the turn ended on the words it left out.
QUIET_SEARCH_S = 2.0
_FRAME = int(0.02 * RATE)


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
    """What a pause reading needs of a transcriber (``LocalWhisper`` is one)."""

    def read_for_cues(self, audio16k: np.ndarray, silence_s: float = 0.0) -> CueText:
        """The verbatim reading of ``audio16k``, whose last ``silence_s`` the VAD heard as
        silence."""
        ...


class PauseReader:
    """Reads the turn so far at a pause."""

    def __init__(self, transcriber: CueReader) -> None:
        self.transcriber = transcriber

    def read(self, turn_audio: np.ndarray, silence_s: float) -> Reading:
        """The reading of ``turn_audio`` (16 kHz int16) whose last ``silence_s`` is the
        silence the VAD heard: of its last ``READ_S`` seconds. Blocks for the reading (run
        it off the event loop)."""
        cue = self.transcriber.read_for_cues(read_window(turn_audio), silence_s)
        return Reading(
            cue.text,
            tuple(cue.alternatives),
            cue.heard,
            tuple(cue.continuations),
            cue.trailing,
            weighed=True,
            words_end_odds=cue.words_end_odds,
        )


def read_window(turn_audio: np.ndarray) -> np.ndarray:
    """The end of ``turn_audio`` a pause is read from: all of a turn up to ``READ_S`` long,
    else its last ``READ_S`` seconds from their quietest 20 ms frame (10 ms steps) in the
    first ``QUIET_SEARCH_S``, so that the reading does not begin in a word."""
    start = turn_audio.size - int(READ_S * RATE)
    if start <= 0:
        return turn_audio
    head = turn_audio[start : start + int(QUIET_SEARCH_S * RATE)].astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(head**2, _FRAME)[:: _FRAME // 2]
    return turn_audio[start + int(np.argmin(frames.sum(axis=1))) * (_FRAME // 2) :]
