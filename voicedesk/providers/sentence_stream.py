"""Streaming text in for TTS engines that take whole texts (OpenAI speech, Piper).

Text is cut at clause/sentence ends as it arrives; each piece is synthesised as soon as it is
complete — the first one as early as a clause allows — while audio of the earlier pieces is
already playing. A first sentence with no early clause end is cut at the last word boundary
once ``first_max_chars`` have come: the whole of a long sentence ("Most of the ocean floor
has never been mapped in any detail.") would otherwise stream in from the model, and then
be synthesised whole, before the person hears anything (ElevenLabs' first flush does the
same, at the same length). A later piece ends at a sentence's end, or at a comma once it
is long (``LONG_PIECE_CHARS``). The pieces' audio comes out strictly in order. Synthesis of piece *n+1*
overlaps playback of piece *n*, so only the first piece's latency is ever heard.

Pieces are synthesised at most ``ahead`` at a time, begun in the answer's order: a piece
is begun once any of the ``ahead`` under way is done (a semaphore, whose waiters are woken
first come, first served). Each began as it was complete, so a long answer written faster
than it was synthesised had all its sentences under way at once (31 requests in flight to
OpenAI speech for a 3-minute answer at 100 tokens/s, each a connection and a request against
the account's rate limit), and Piper, one synthesis at a time behind a lock that keeps no
order, made them in any order: the second sentence came twelfth of thirty, and the person
heard silence after the first while later ones were made.

What of the answer has played is told in letters (``letters_spoken_at``), as ElevenLabs'
alignment tells it: each piece's letters and the samples of its audio are known, so a
position at a piece's end is exact, and one inside a piece is its share of that piece's
audio. Estimated from the share of the whole answer's audio (or, its later pieces still
being made, from a typical speaking rate), a barge-in after "a year," in Piper's "The plan
costs $1,250 a year, or about $104 a month." was remembered as heard up to "$104 a": the
numbers take longer to say than their characters, and every cut landed words too late.
Inside a piece the same held: its letters were spread evenly over its audio, and a cut
just after "1,234,567" was remembered up to 3 words late; each digit weighs its share of
the number's words (:mod:`voicedesk.providers.said_length`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from voicedesk.providers.base import (
    CLAUSE_MARKS,
    SENTENCE_MARKS,
    FirstPieceSignal,
    ends_no_clause,
    sentence_goes_on,
)
from voicedesk.providers.said_length import cumulative

# Chinese and Japanese end clauses with full-width marks and no space after them; Hindi,
# Arabic and others with marks of their own, a space after them (base.SENTENCE_MARKS)
# the first may end at a comma: start early
_FIRST_CUT = re.compile(rf"[.,;:!?{SENTENCE_MARKS}{CLAUSE_MARKS}]\s|[、。，！？；：]")
# later pieces end at sentences: better prosody
_LATER_CUT = re.compile(rf"[.;:!?{SENTENCE_MARKS}؛]\s|[。！？；：]")
# A later piece with no sentence end is cut at a clause end once this long: ~6 s of speech,
# made by Piper here in ~1 s while the piece before it plays
LONG_PIECE_CHARS = 80
_CLAUSE_CUT = re.compile(rf"[,{CLAUSE_MARKS}]\s|[、，]")
# Thai and Lao write no full stops: a blank after their letters ends a clause or sentence
_THAI_BLANK = re.compile(r"(?<=[\u0e00-\u0eff])\s")
# ≈ 8 words, ~2.5 s of speech: long enough for natural prosody, and for the next piece to be
# synthesised while it plays; at 60 tokens/s it is in ~0.15 s after the first token
FIRST_MAX_CHARS = 40
# Pieces synthesised at once: the next one is under way while one streams, so its audio is in
# before the one playing ends (a sentence plays for seconds; its synthesis takes a fraction).
AHEAD = 2

# Above this (int16) a sample is voice, not a pause's silence
_VOICED = 500
# A typical voice's letters (not spaces) a second: how long a piece still being made will
# play, before any piece is whole to tell this voice's own rate
LETTERS_PER_S = 12.0

Synth = Callable[[str], AsyncIterator[np.ndarray]]


@dataclass
class _Piece:
    """A piece's letters (whitespace left out, as alignment counts them) and its audio."""

    # how long its first 1, 2, … letters take to say (said_length: a number's digits
    # say more than they show): one entry a letter
    said: list[float]
    samples: int = 0
    # All its audio is in. Not for one whose synthesis failed or was cancelled part-way:
    # taken as whole, the failed piece's first chunk was told as all its words played.
    whole: bool = False
    voiced_from: int | None = None  # its first sample above silence (``_VOICED``)
    voiced_to: int | None = None  # just after its last

    def note(self, chunk: np.ndarray) -> None:
        """Count ``chunk``, the piece's next audio, and where the voice is in it."""
        loud = np.flatnonzero((chunk > _VOICED) | (chunk < -_VOICED))
        if loud.size:
            if self.voiced_from is None:
                self.voiced_from = self.samples + int(loud[0])
            self.voiced_to = self.samples + int(loud[-1]) + 1
        self.samples += chunk.size

    def letters_at(self, played: int, length: int) -> int:
        """Its letters played after ``played`` of its samples, of ``length`` in all: over
        the voiced part alone, as a voice's pause before and after a piece holds no word
        (a cut just after "a year," in Piper's 0.3 s of silence after it was heard up to
        "a": its last word only counted as heard once the silence had played too)."""
        start = self.voiced_from or 0
        end = self.voiced_to if self.whole and self.voiced_to is not None else length
        share = (played - start) / max(1, end - start)
        # the letters said in that share of the time, each as long as it takes to say
        return min(self.letters, bisect.bisect_right(self.said, self.weight * share + 1e-9))

    @property
    def letters(self) -> int:
        return len(self.said)

    @property
    def weight(self) -> float:
        """How long it takes to say, in letters' worth (``said``)."""
        return self.said[-1] if self.said else 0.0


class SentenceStream(FirstPieceSignal):
    def __init__(
        self,
        synth: Synth,
        sample_rate: int,
        *,
        min_first_chars: int = 12,
        first_max_chars: int = FIRST_MAX_CHARS,
        ahead: int = AHEAD,
    ) -> None:
        """``ahead``: how many pieces may be synthesised at once (1: one after another)."""
        self._synth = synth
        # Pieces take these in the answer's order (asyncio's semaphore wakes its waiters
        # first come, first served): waiting for the piece ``ahead`` places back instead
        # let a later piece start first whenever an earlier one finished out of turn, and
        # the piece needed sooner waited behind it.
        self._slots = asyncio.Semaphore(max(1, ahead))
        self.sample_rate = sample_rate
        self._min_first = min_first_chars
        self._first_max = first_max_chars
        self._buffer = ""
        self._pieces: asyncio.Queue[asyncio.Queue[np.ndarray | None] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._said: list[_Piece] = []  # every piece begun, in the answer's order
        self._first = True
        self._ended = False
        self._error: BaseException | None = None
        self._coming = 0  # characters the caller holds back for now (see ``text_coming``)

    async def send_text(self, text: str) -> None:
        self._buffer += text
        while True:
            pattern = _FIRST_CUT if self._first else _LATER_CUT
            end = self._cut(pattern)
            if end == 0 and self._first:
                end = self._first_word_cut()
            elif end == 0:
                end = self._long_cut()
            if end == 0:
                return
            piece, self._buffer = self._buffer[:end], self._buffer[end:]
            self._start_piece(piece)

    def _cut(self, pattern: re.Pattern[str]) -> int:
        """Where the buffer's next piece ends at a clause or sentence end; 0 while none
        has come. A full stop is none after a title or letters with dots ("Dr.", "e.g.")
        nor before a word in lower case or a number ("etc. and", "No. 5"): a later piece
        waits for the word after it to know (it is synthesised while the one before it
        plays, so this costs no time); the first, whose every moment is heard, does not."""
        for m in pattern.finditer(self._buffer):
            if m.end() < (self._min_first if self._first else 1):
                continue
            if m.group()[0] == ".":
                before, after = self._buffer[: m.start()], self._buffer[m.start() + 1 :]
                if ends_no_clause(before) or sentence_goes_on(after, before):
                    continue
                if not self._first and not after.strip(" \t\u00a0"):
                    return 0  # the next word tells whether a sentence ended here
            return m.end()
        return 0

    def _long_cut(self) -> int:
        """Where a later piece with no sentence end yet ends once it is long: at its first
        clause end (a comma) past ``LONG_PIECE_CHARS``. A long sentence was one piece, and
        after a short one ("Sure, here is what I found.") the person heard silence while
        Piper made it (~0.3 s here idle, 1.5-2 s with the cores busy). In Thai or Lao,
        which write no full stop (a blank ends a clause or a sentence), at a blank once
        ``first_max_chars`` are in: all of such an answer after its first piece went to
        the voice as one, once the model had written it all. 0 while there is none."""
        for clause in _CLAUSE_CUT.finditer(self._buffer, LONG_PIECE_CHARS - 2):
            return clause.end()
        for blank in _THAI_BLANK.finditer(self._buffer, self._first_max - 1):
            return blank.end()
        return 0

    def text_coming(self, chars: int) -> None:
        """``chars`` more characters are on their way, held by the caller until they are
        whole (engine/spoken.py holds a word until the blank after it). They count toward
        a clause-less first piece's length, as they did when each delta came here as it
        was: counted only once sent, the first piece waited for one more word."""
        self._coming = chars

    async def flush(self) -> None:
        if not self._ended and self._buffer.strip():
            self._start_piece(self._buffer)
            self._buffer = ""
        # What comes after the tool round is the answer the person waits for: it starts as
        # early as a first piece does (a clause, or 40 characters). Taken for a later piece,
        # it went out only at its first sentence's end.
        self._first = True

    def _first_word_cut(self) -> int:
        """Where a clause-less first piece ends once it is long enough: after its last whole
        word (a word is whole once a space follows it); 0 while it is shorter."""
        if len(self._buffer) + self._coming < self._first_max:
            return 0
        cut = max(self._buffer.rfind(" "), self._buffer.rfind("\n")) + 1
        return cut if cut >= self._min_first else 0

    async def end_text(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self._buffer.strip():
            self._start_piece(self._buffer)
        self._buffer = ""
        self._pieces.put_nowait(None)

    def _start_piece(self, text: str) -> None:
        self._first = False
        out: asyncio.Queue[np.ndarray | None] = asyncio.Queue()
        self._pieces.put_nowait(out)
        piece = _Piece(said=cumulative(text))
        self._said.append(piece)
        self._tasks.append(asyncio.create_task(self._run_piece(text.strip(), out, piece)))
        self._first_piece()  # the answer's first: its synthesis begins now (a slot is free)

    async def _run_piece(
        self, text: str, out: asyncio.Queue[np.ndarray | None], piece: _Piece
    ) -> None:
        try:
            async with self._slots:
                if self._error is not None:
                    return  # the answer's audio stops at the piece that failed
                async for chunk in self._synth(text):
                    piece.note(chunk)
                    out.put_nowait(chunk)
                piece.whole = True
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._error = exc
        finally:
            out.put_nowait(None)

    def letters_spoken_at(self, played_samples: int) -> int:
        """How many of the sent text's characters other than whitespace had played after
        ``played_samples`` of the audio: every piece played whole, and of the piece playing
        its share of that piece's voiced audio (of the audio it would have, estimated,
        while it is still being made or when its synthesis broke off)."""
        left, letters = played_samples, 0
        for piece in self._said:
            if left <= 0:
                break
            if piece.whole and left >= piece.samples:
                letters += piece.letters
                left -= piece.samples
                continue
            length = piece.samples if piece.whole else max(piece.samples, self._length(piece))
            return letters + piece.letters_at(left, length)
        return letters

    def _length(self, piece: _Piece) -> int:
        """How many samples a piece still being made is likely to play for: at the rate
        of the pieces already whole, or a typical voice's."""
        whole = [p for p in self._said if p.whole and p.samples and p.letters]
        letters = sum(p.weight for p in whole)
        if letters:
            return int(piece.weight * sum(p.samples for p in whole) / letters)
        return int(piece.weight / LETTERS_PER_S * self.sample_rate)

    async def audio(self) -> AsyncIterator[np.ndarray]:
        while True:
            piece = await self._pieces.get()
            if piece is None:
                return
            while True:
                chunk = await piece.get()
                if chunk is None:
                    break
                yield chunk
            if self._error is not None:
                raise self._error

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._pieces.put_nowait(None)
