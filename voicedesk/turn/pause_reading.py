"""Reading a pause for the end-of-turn cues: the turn so far, twice, with a local transcriber.

``voicedesk replay``, ``bench turn`` and the live engine (``turn.local_cues``) read each
pause the same way, so what the benchmark measures is what the person talks to. A cloud
transcript is text only; a local reading also says what the transcriber weighed instead of
its last word, after it, and after the words alone (``voicedesk.turn.cues.Reading``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from voicedesk.turn.cues import Reading, most_doubtful

# The pause is read twice, the second time without the last 10 ms of audio, and the doubtful
# reading wins (see ``most_doubtful``): twice the transcriber's CPU per pause, read at the
# same time so the text is not later than one reading.
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
    """What a pause reading needs of a transcriber (``LocalWhisper`` is one)."""

    def read_for_cues(self, audio16k: np.ndarray, silence_s: float = 0.0) -> CueText:
        """The verbatim reading of ``audio16k``, whose last ``silence_s`` the VAD heard as
        silence."""
        ...


class PauseReader:
    """Reads the turn so far at a pause, twice at once, and keeps the doubtful reading."""

    def __init__(self, transcriber: CueReader) -> None:
        self.transcriber = transcriber
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cue-reading")

    def read(self, turn_audio: np.ndarray, silence_s: float) -> Reading:
        """The reading of ``turn_audio`` (16 kHz int16) whose last ``silence_s`` is the
        silence the VAD heard. Blocks for the two readings (run it off the event loop)."""
        readings = self._pool.map(
            self._read,
            [turn_audio, turn_audio[:-SECOND_READING_TRIM]],
            [silence_s, max(0.0, silence_s - SECOND_READING_TRIM / 16_000)],
        )
        return most_doubtful(list(readings))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> PauseReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, pcm: np.ndarray, silence_s: float) -> Reading:
        cue = self.transcriber.read_for_cues(pcm, silence_s)
        return Reading(
            cue.text,
            tuple(cue.alternatives),
            cue.heard,
            tuple(cue.continuations),
            cue.trailing,
            weighed=True,
            words_end_odds=cue.words_end_odds,
        )
