"""Local Piper TTS (``local`` extra): offline speech, piece by piece, off the event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicedesk.errors import ModelFileError, install_command

if TYPE_CHECKING:  # piper is optional (the ``local`` extra): imported where it is used
    import onnxruntime
    import piper
from voicedesk.providers.sentence_stream import SentenceStream

VOICE_HINT = "set tts.local_voice to a Piper .onnx voice (its .onnx.json beside it)"


def load_voice(path: Path | None) -> piper.PiperVoice:
    """The Piper voice at ``path``, or a :class:`ModelFileError` that says what is wrong with
    the file and names ``tts.local_voice``. A voice is two downloads, the .onnx and its
    .onnx.json, and one of them missing or not a voice ended `voicedesk run` in piper's or
    onnxruntime's traceback (FileNotFoundError, INVALID_PROTOBUF, JSONDecodeError) while
    `voicedesk doctor`, which only looked for the .onnx, said "ok"."""
    try:
        from piper import PiperVoice
    except ImportError:
        raise ModelFileError(
            "Local TTS needs the piper-tts package", install_command("piper-tts")
        ) from None
    if path is None:
        raise ModelFileError("No Piper voice is set", VOICE_HINT)
    path = Path(path)
    misnamed = _voice_meant(path)
    if misnamed is not None:
        raise misnamed
    if not path.is_file():
        raise ModelFileError(f"Piper voice file not found: {path}", VOICE_HINT)
    config = Path(f"{path}.json")  # where piper looks for the voice's settings
    if not config.is_file():
        raise ModelFileError(
            f"The Piper voice {path} has no {config.name} beside it (its sample rate, "
            "phonemes and speakers are there; it is downloaded separately from the .onnx)",
            f"put {config.name} from the voice's download next to {Path(path).name}, or "
            "set tts.local_voice to a voice that has it",
        )
    try:
        return PiperVoice.load(str(path))
    except Exception as exc:  # onnxruntime's and json's errors, all a file that is no voice
        raise ModelFileError(
            f"Cannot load the Piper voice {path} ({type(exc).__name__}: {exc}); the .onnx "
            f"or its {config.name} is damaged or not a Piper voice",
            "download the voice's .onnx and .onnx.json again, or " + VOICE_HINT,
        ) from None


def _voice_meant(path: Path) -> ModelFileError | None:
    """The error for ``tts.local_voice`` naming the voice's settings file (its .onnx.json,
    which sits beside the .onnx) or the folder the voice is in, with the .onnx to name
    instead; None for anything else. The first was told to put "voice.onnx.json.json" next
    to it, the second that the folder was "not found"."""
    if path.is_dir():
        voices = sorted(path.glob("*.onnx"))
        if len(voices) == 1:
            fix = f"set tts.local_voice to {voices[0]}"
        elif voices:
            names = ", ".join(v.name for v in voices[:5]) + (", …" if len(voices) > 5 else "")
            fix = f"set tts.local_voice to one of its voices: {names}"
        else:
            fix = VOICE_HINT
        return ModelFileError(f"{path} is a folder, not a Piper voice", fix)
    voice = path.with_suffix("")  # voice.onnx.json → voice.onnx
    if path.name.endswith(".onnx.json") and voice.is_file():
        return ModelFileError(
            f"{path} is the voice's settings, not the voice: tts.local_voice names the .onnx "
            "beside them",
            f"set tts.local_voice to {voice}",
        )
    return None


def language_mismatch(path: Path | None, language: str) -> str | None:
    """What to say when the Piper voice at ``path`` speaks another language than the
    conversation's (``stt.language``, which the model answers in); None when it is the
    same, or not known. A Piper voice speaks one language: the English one read Japanese as
    "Chinese letter, Japanese letter, …" and German with English sounds, and nothing said
    why. Read from the voice's .onnx.json alone (its ``language.family``, else its espeak
    voice), so it costs no loading."""
    if path is None:
        return None
    try:
        config = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
        named = config.get("language") or {}
        family = str(named.get("family") or config["espeak"]["voice"]).split("-")[0].lower()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no readable voice settings: load_voice says so
    if not family or family == language:
        return None
    spoken = named.get("name_english") or family
    code = named.get("code") or family
    return (
        f"The Piper voice {Path(path).name} speaks {spoken} ({code}), but stt.language is "
        f'"{language}": answers in that language would be read with {spoken} sounds, or '
        f'letter by letter. Set tts.local_voice to a Piper voice for "{language}", or '
        f'stt.language to "{family}".'
    )


class _StoppableSession:
    """Piper's onnxruntime session, run with the run options of the synthesis under way, so
    that setting their ``terminate`` stops it within milliseconds (11 ms measured, against
    ~2 s for a long sentence on a 2-core machine). Piper calls ``session.run`` without
    options of its own."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.options: Any = None  # the current synthesis's RunOptions (one at a time)

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self.options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class PiperTTS:
    name = "piper"
    sample_rate = 24_000

    def __init__(self, voice_path: Path | None) -> None:
        self.voice_path = voice_path
        self._voice: piper.PiperVoice | None = None
        self._lock = threading.Lock()  # one synthesis at a time: Piper is not re-entrant

    async def warm(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> piper.PiperVoice:
        if self._voice is None:
            voice = load_voice(self.voice_path)
            voice.session = _StoppableSession(voice.session)
            self._voice = voice
        return self._voice

    def _speak(self, text: str, options: onnxruntime.RunOptions) -> np.ndarray:
        """``text`` spoken, or nothing once ``options.terminate`` is set (the piece was
        dropped: the answer was interrupted or replaced)."""
        from voicedesk.audio.resample import resample

        voice = self._load()
        session = voice.session
        assert isinstance(session, _StoppableSession)
        with self._lock:
            if options.terminate:  # dropped while it waited for the lock
                return np.zeros(0, np.int16)
            session.options = options
            try:
                chunks = [c.audio_int16_array for c in voice.synthesize(text)]
            except Exception:
                if options.terminate:
                    return np.zeros(0, np.int16)
                raise
            finally:
                session.options = None
            rate = voice.config.sample_rate
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return resample(pcm, rate, self.sample_rate)

    async def _synth(self, text: str) -> AsyncIterator[np.ndarray]:
        """The piece's audio. Cancelled (the stream closed at a barge-in), the synthesis
        still running in its thread is stopped: it went on to its end, holding Piper's lock,
        and the next answer's first words waited for it (up to ~2 s here)."""
        import onnxruntime

        options = onnxruntime.RunOptions()
        try:
            yield await asyncio.to_thread(self._speak, text, options)
        except asyncio.CancelledError:
            options.terminate = True
            raise

    async def open_stream(self) -> SentenceStream:
        # one piece at a time, in order: Piper makes one at a time anyway (``_lock``), and
        # its lock would let the pieces waiting for it through in any order
        return SentenceStream(self._synth, self.sample_rate, ahead=1)

    async def aclose(self) -> None:
        return None
