"""The voice of a machine with no speaker: answers are shown, not spoken.

With no sound devices (a server over SSH) the terminal UI takes typed turns and shows the
answers. Synthesising them anyway cost a TTS request per answer, made a missing or rejected
ElevenLabs key stop a conversation that would never have spoken, and timed the answer by
audio nobody heard: it was "answering" for seconds after its text was all shown, and a cut
kept only the words that silent playback had reached. :class:`NoSpeechTTS` makes no sound,
so the answer ends with its text (``Session``), and :class:`DeferredTTS` holds a voice
that could not be made until it is known whether one is needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from voicedesk.errors import UserError
from voicedesk.providers.base import FirstPieceSignal

RATE = 24_000


class _NoSpeech(FirstPieceSignal):
    sample_rate = RATE

    async def send_text(self, text: str) -> None:
        if text.strip():
            self._first_piece()  # taken at once: there is nothing to wait for

    async def end_text(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def audio(self) -> AsyncIterator[np.ndarray]:
        return
        yield  # an async generator that yields nothing

    async def aclose(self) -> None:
        return None


class NoSpeechTTS:
    """A voice that makes no sound: with no speaker, the answer is its text."""

    name = "none"
    sample_rate = RATE

    async def warm(self) -> None:
        return None

    async def open_stream(self) -> _NoSpeech:
        return _NoSpeech()

    async def aclose(self) -> None:
        return None


class DeferredTTS:
    """A voice whose settings were refused (no ElevenLabs key): the refusal stands once a
    speaker is there to need it (``warm`` raises it), and is moot without one."""

    name = "unavailable"
    sample_rate = RATE

    def __init__(self, error: UserError) -> None:
        self.error = error

    async def warm(self) -> None:
        raise self.error

    async def open_stream(self) -> _NoSpeech:
        raise self.error

    async def aclose(self) -> None:
        return None
