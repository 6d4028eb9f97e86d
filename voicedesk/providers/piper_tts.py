"""Local Piper TTS (``local`` extra): offline speech, piece by piece, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicedesk.errors import ModelFileError, install_command

if TYPE_CHECKING:  # piper is optional (the ``local`` extra): imported where it is used
    import piper
from voicedesk.providers.sentence_stream import SentenceStream


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
        if self._voice is not None:
            return self._voice
        try:
            from piper import PiperVoice
        except ImportError:
            raise ModelFileError(
                "Local TTS needs the piper-tts package", install_command("piper-tts")
            ) from None
        path = self.voice_path
        if path is None or not Path(path).is_file():
            raise ModelFileError(
                f"Piper voice file not found: {path}" if path else "No Piper voice is set",
                "set tts.local_voice to a Piper .onnx voice (its .onnx.json beside it)",
            )
        self._voice = PiperVoice.load(str(path))
        return self._voice

    def _speak(self, text: str) -> np.ndarray:
        from voicedesk.audio.resample import resample

        voice = self._load()
        with self._lock:
            chunks = [c.audio_int16_array for c in voice.synthesize(text)]
            rate = voice.config.sample_rate
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return resample(pcm, rate, self.sample_rate)

    async def _synth(self, text: str) -> AsyncIterator[np.ndarray]:
        yield await asyncio.to_thread(self._speak, text)

    async def open_stream(self) -> SentenceStream:
        # one piece at a time, in order: Piper makes one at a time anyway (``_lock``), and
        # its lock would let the pieces waiting for it through in any order
        return SentenceStream(self._synth, self.sample_rate, ahead=1)

    async def aclose(self) -> None:
        return None
