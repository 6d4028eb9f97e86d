"""OpenAI ``/v1/audio/speech`` streaming pcm (24 kHz s16le), piece by piece.

The endpoint takes a whole text, so text is cut at clauses/sentences (``SentenceStream``) and
each piece is requested once it is complete and the piece two before it is in (two at a
time, in order: ``sentence_stream.AHEAD``); the body is read as it streams
(``with_streaming_response``: ``create()`` would buffer the whole answer).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import numpy as np

from voicedesk.errors import AuthError, ProviderError
from voicedesk.loopback import OPENAI_API_BASE, openai_address
from voicedesk.providers.openai_llm import (
    error_message,
    from_http_stack,
    kept_alive_http_client,
)
from voicedesk.providers.sentence_stream import SentenceStream


class OpenAITTS:
    name = "openai-tts"
    sample_rate = 24_000

    def __init__(
        self, *, api_key: str, base_url: str | None, model: str, voice: str, timeout_s: float = 15
    ) -> None:
        from openai import AsyncOpenAI

        self.model, self.voice = model, voice
        self._timeout_s = timeout_s
        # each answer's first sentence is a new request: its connection is kept from the
        # last answer rather than opened again on the way to the first audio
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=openai_address(base_url) or OPENAI_API_BASE,
            max_retries=1,
            timeout=timeout_s,
            http_client=kept_alive_http_client(openai_address(base_url)),
        )

    async def warm(self) -> None:
        import openai

        try:
            await self._client.models.list()
        except openai.AuthenticationError:
            raise AuthError(
                "OpenAI rejected the API key for speech (HTTP 401)", "check OPENAI_API_KEY"
            ) from None
        except openai.APIError:
            pass  # reachability shows on first use; the key is what we can check early

    async def _synth(self, text: str) -> AsyncIterator[np.ndarray]:
        import openai

        carry = b""
        try:
            async with self._client.audio.speech.with_streaming_response.create(
                model=self.model, voice=self.voice, input=text, response_format="pcm"
            ) as resp:
                # as it arrives: in 4,800-byte chunks (0.1 s of audio) the first audio
                # waited until that much had come, up to 0.1 s more silence before the
                # answer from a server that makes speech at the pace it is heard
                async for data in resp.iter_bytes():
                    data = carry + data
                    even = len(data) - len(data) % 2
                    carry = data[even:]
                    if even:
                        yield np.frombuffer(data[:even], dtype="<i2").astype(np.int16)
        except openai.AuthenticationError:
            raise AuthError("OpenAI rejected the API key for speech (HTTP 401)") from None
        except openai.APIStatusError as exc:
            raise ProviderError(
                f"OpenAI speech failed (HTTP {exc.status_code}): {error_message(exc)}"
            ) from None
        except openai.APIError as exc:
            raise ProviderError(f"OpenAI speech failed: {exc}") from None
        except Exception as exc:
            # The body is read through the HTTP library, whose errors the SDK does not wrap:
            # the person was told the library's words ("peer closed connection without
            # sending complete message body"), or nothing at all for a read timeout.
            if not from_http_stack(exc):
                raise
            if "Timeout" in type(exc).__name__:
                raise ProviderError(
                    f"OpenAI speech timed out (no audio for {self._timeout_s:g} s)"
                ) from None
            raise ProviderError(f"OpenAI speech broke off: {exc}") from None

    async def open_stream(self) -> SentenceStream:
        return SentenceStream(self._synth, self.sample_rate)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.close()
