"""The simulated cloud against the real services' wire protocols (PROTOCOLS.md): where it is
kinder or harsher than they are, a test built on it tells something untrue. Spoken to over
real sockets, with the providers' own clients where they exist and raw frames where what
is checked is the wire itself."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from voicedesk.bench.scenarios import load_utterance
from voicedesk.providers.elevenlabs_tts import ElevenLabsTTS
from voicedesk.providers.openai_stt import OpenAIRealtimeSTT
from voicedesk.sim.script import SimScript, SimTurn
from voicedesk.sim.server import SimLatency, SimServer

FAST = SimLatency(stt_s=0.02, ttft_s=0.05, tokens_per_s=500, ttfb_s=0.05, tts_rtf=0.0)


def speech() -> np.ndarray:
    pcm, _ = load_utterance("question")
    return pcm


async def test_speech_cut_before_its_end_changes_nothing_the_transcriber_hears():
    """A typed line's answer fails and the error line ("Sorry, … Please try again.") is
    being said when the person asks a question over it: the line's stream is closed before
    its end. The simulated transcriber took that for an answer taken back unheard and heard
    the question as the turn before going on: no words, so it was lost, in simulator runs
    only. A real transcription session knows nothing of the voice's sockets: what it hears
    depends on the audio and the client's own commits and clears alone."""
    script = SimScript(
        turns=[
            SimTurn(transcript="What time is it?", reply="Noon."),
            SimTurn(transcript="And the date?", reply="The sixth."),
        ]
    )
    slow_voice = SimLatency(**{**vars(FAST), "tts_rtf": 1.0})  # still speaking when cut
    async with SimServer(script, slow_voice) as server:
        stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{server.base_url}/v1")
        tts = ElevenLabsTTS(api_key="el-test", voice_id="v", base_url=server.base_url)
        await stt.connect()
        try:
            stt.push_audio(speech())
            first = await stt.commit()
            await stt.clear()  # the turn is over
            line = await tts.open_stream()
            await line.send_text("Sorry, I couldn't get an answer just now. Please try again.")
            await line.end_text()
            async for _chunk in line.audio():
                break  # the person speaks over its first words
            await line.aclose()
            await asyncio.sleep(0.1)  # the server has seen the socket go
            stt.push_audio(speech())
            second = await stt.commit()
        finally:
            await stt.aclose()
            await tts.aclose()
    assert (first, second) == ("What time is it?", "And the date?")


async def test_a_voice_socket_is_closed_after_the_inactivity_timeout_it_asked_for():
    """The service closes a stream-input socket that sends no text for its
    ``inactivity_timeout`` (20 s unless the URL asks for another). The simulated cloud
    kept every idle socket open for ever unless started with ``--tts-inactivity``, so a
    client that asked for no timeout, or aged its spare socket past the one it asked for,
    was never told."""
    import aiohttp

    async with SimServer(SimScript(), SimLatency(**vars(FAST))) as server:
        url = f"{server.base_url}/v1/text-to-speech/v/stream-input"
        query = {"model_id": "eleven_flash_v2_5", "inactivity_timeout": "1"}
        async with aiohttp.ClientSession() as http, http.ws_connect(url, params=query) as ws:
            await ws.send_json({"text": " ", "xi-api-key": "el-test"})
            msg = await asyncio.wait_for(ws.receive(), 20)  # only a hang is caught
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1008
            assert msg.extra.startswith("Have not received a new text input within the timeout")


async def test_a_failed_transcription_is_told_as_openai_tells_it():
    """OpenAI reports a transcription that failed after its commit was acknowledged with
    ``conversation.item.input_audio_transcription.failed`` for that item, apart from error
    events; the simulated cloud could only answer a commit with an error event, so the
    client's handling of the failed event never ran against it. Raw frames: the wire."""
    import base64
    import json

    import aiohttp

    async with SimServer(SimScript(), SimLatency(**vars(FAST))) as server:
        server.inject("stt", "fail")
        url = f"{server.base_url}/v1/realtime?intent=transcription"
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            pcm = np.repeat(speech(), 3)[:24_000]  # a second of sound at 24 kHz
            audio = base64.b64encode(pcm.astype("<i2").tobytes()).decode()
            await ws.send_json({"type": "input_audio_buffer.append", "audio": audio})
            await ws.send_json({"type": "input_audio_buffer.commit", "event_id": "c1"})
            kinds: list[dict[str, Any]] = []
            while not kinds or kinds[-1]["type"] not in (
                "conversation.item.input_audio_transcription.failed",
                "conversation.item.input_audio_transcription.completed",
                "error",
            ):
                event = json.loads(await asyncio.wait_for(ws.receive_str(), 20))
                if event["type"] != "session.created":
                    kinds.append(event)
    committed, failed = kinds
    assert committed["type"] == "input_audio_buffer.committed"
    assert failed["type"] == "conversation.item.input_audio_transcription.failed"
    assert failed["item_id"] == committed["item_id"]
    assert failed["error"]["type"] == "transcription_error"


async def test_the_transcriber_sends_again_a_segment_whose_transcription_failed():
    """The client's side of it: the segment is sent again and its words come."""
    script = SimScript(turns=[SimTurn(transcript="What time is it?", reply="Noon.")])
    async with SimServer(script, SimLatency(**vars(FAST))) as server:
        server.inject("stt", "fail")
        stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{server.base_url}/v1")
        await stt.connect()
        try:
            stt.push_audio(speech())
            heard = await asyncio.wait_for(stt.commit(), 30)
        finally:
            await stt.aclose()
    assert heard == "What time is it?"
    assert server.transcripts == ["What time is it?", "What time is it?"]  # heard twice


async def test_a_refused_voice_key_is_answered_with_elevenlabs_body():
    """ElevenLabs refuses a key with HTTP 401 and ``{"detail": {"status": "invalid_api_key",
    "message": "Invalid API key"}}`` (SillyTavern/SillyTavern#4483 quotes it); the
    simulated speech endpoints sent the status alone, so a client reading the message,
    as the SDK's ApiError shows it, got none from them."""
    import aiohttp

    async with SimServer(SimScript(), SimLatency(**vars(FAST))) as server:
        base = f"{server.base_url}/v1/text-to-speech/v"
        headers = {"xi-api-key": "sk-bad"}
        async with aiohttp.ClientSession(headers=headers) as http:
            bodies = []
            for method, path in (("GET", "/stream-input"), ("POST", "/stream")):
                async with http.request(method, base + path, json={"text": "Hi."}) as r:
                    bodies.append((r.status, await r.json()))
    refused = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
    assert bodies == [(401, refused), (401, refused)]


async def test_a_voice_socket_speaking_its_last_text_is_not_closed_as_idle():
    """After the end of its text (``{"text": ""}``) a socket sends nothing more while its
    speech is made: that is no inactivity, and its audio comes to its end."""
    import aiohttp

    slow_voice = SimLatency(**{**vars(FAST), "tts_rtf": 1.0})  # ~1.5 s to make
    async with SimServer(SimScript(), slow_voice) as server:
        url = f"{server.base_url}/v1/text-to-speech/v/stream-input"
        query = {"model_id": "eleven_flash_v2_5", "inactivity_timeout": "0.5"}
        async with aiohttp.ClientSession() as http, http.ws_connect(url, params=query) as ws:
            await ws.send_json({"text": " ", "xi-api-key": "el-test"})
            await ws.send_json({"text": "Put the egg in boiling water for seven minutes. "})
            await ws.send_json({"text": ""})
            said = []
            async for msg in ws:
                said.append(msg.json())
    assert said and said[-1] == {"isFinal": True}
    assert ws.close_code == 1000
