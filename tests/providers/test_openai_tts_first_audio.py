"""OpenAI speech's first audio is played as it arrives, over a real socket with the SDK.

A server that streams speech as it makes it (OpenAI's speech endpoint with chunked transfer,
an OpenAI-compatible local one) sends its first audio in pieces smaller than a tenth of a
second. The body was read in 4,800-byte chunks (0.1 s of 24 kHz audio): the first audio was
held until that much had come, up to 0.1 s more silence before the answer on a server that
makes speech at the pace it is heard.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import numpy as np
from aiohttp import web
from local_http import serving

from voicedesk.providers.openai_tts import OpenAITTS

RATE = 24_000
FIRST_MS = 20  # the server's first piece: 20 ms of audio, 960 bytes


def _tone(ms: int) -> np.ndarray:
    t = np.arange(RATE * ms // 1000) / RATE
    return (8000 * np.sin(2 * np.pi * 220 * t)).astype("<i2")


async def _speech_server(first_played: asyncio.Event) -> AsyncIterator[str]:
    """A speech endpoint that sends its first 20 ms, then the rest only once the client
    has played those (``first_played``), as a server making speech in real time would
    still be making it."""

    async def speech(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await resp.prepare(request)
        await resp.write(_tone(FIRST_MS).tobytes())
        # the rest comes anyway after 5 s: the client gets the whole answer either way
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first_played.wait(), 5)
        await resp.write(_tone(500).tobytes())
        await resp.write_eof()
        return resp

    async with serving("/v1/audio/speech", speech) as url:
        yield f"{url}/v1"


async def test_the_first_audio_comes_as_the_server_sends_it_not_once_a_tenth_of_a_second_is_in():
    first_played = asyncio.Event()
    servers = _speech_server(first_played)
    base_url = await anext(servers)
    tts = OpenAITTS(api_key="sk-test", base_url=base_url, model="gpt-4o-mini-tts", voice="alloy")
    try:
        stream = await tts.open_stream()
        await stream.send_text("Hello there.")
        await stream.end_text()
        chunks = []
        loop = asyncio.get_running_loop()
        began = loop.time()
        first_at = None
        async for chunk in stream.audio():
            if first_at is None:
                first_at = loop.time()
                first_played.set()  # the server sends the rest only now
            chunks.append(chunk)
        await stream.aclose()
    finally:
        await tts.aclose()
        await servers.aclose()
    assert first_at is not None
    # it came before the server sent any more: not after the server gave up waiting (5 s)
    assert first_at - began < 4
    assert chunks[0].size == RATE * FIRST_MS // 1000
    # and nothing was lost or changed on the way
    assert np.array_equal(np.concatenate(chunks), np.concatenate([_tone(FIRST_MS), _tone(500)]))
