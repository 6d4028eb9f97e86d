"""Provider code against the simulated cloud over real sockets, with the official SDKs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from local_http import serving

from voicedesk.bench.scenarios import load_utterance
from voicedesk.errors import AuthError, ProviderError, RefusedSettingError
from voicedesk.providers.base import ChatRequest, TextDelta, ToolCalls, ToolsRefused, Usage
from voicedesk.providers.elevenlabs_tts import ElevenLabsTTS
from voicedesk.providers.openai_llm import OpenAIChat
from voicedesk.providers.openai_stt import REDIAL_FIRST_S, OpenAIRealtimeSTT
from voicedesk.providers.openai_tts import OpenAITTS
from voicedesk.sim.script import SimScript, SimToolCall, SimTurn
from voicedesk.sim.server import THOUGHT, SimLatency, SimServer

FAST = SimLatency(stt_s=0.02, ttft_s=0.05, tokens_per_s=500, ttfb_s=0.05, tts_rtf=0.0)
SCRIPT = SimScript(
    turns=[
        SimTurn(transcript="What time is it?", reply="It is ten past three."),
        SimTurn(
            transcript="List my documents.",
            reply="You have two documents.",
            tool_calls=[SimToolCall(name="docs__list_documents", arguments={"pattern": "*.md"})],
        ),
    ]
)


@pytest.fixture
async def sim():
    async with SimServer(SCRIPT, SimLatency(**vars(FAST))) as server:
        yield server


def speech() -> np.ndarray:
    pcm, _ = load_utterance("question")
    return pcm


async def _answered(llm: OpenAIChat, request: ChatRequest) -> str:
    """The words of ``llm``'s whole answer to ``request``."""
    items = [item async for item in llm.stream(request)]
    return "".join(i.text for i in items if isinstance(i, TextDelta))


def _chat(sim: SimServer, **kw) -> OpenAIChat:
    return OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1", **kw)


# ---------------------------------------------------------------- speech to text
async def test_stt_commit_returns_the_turns_transcript_and_continuations_are_empty(sim):
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    await stt.connect()
    try:
        for block in np.array_split(speech(), 100):
            stt.push_audio(block)
        assert await stt.commit() == "What time is it?"
        # more speech in the same turn (no answer spoken in between): a continuation segment
        for block in np.array_split(speech(), 50):
            stt.push_audio(block)
        assert await stt.commit() == ""
        # under 100 ms of audio is never sent as a commit: it joins the next segment
        stt.push_audio(speech()[:800])
        assert await stt.commit() == ""
        stt.push_audio(speech())
        assert await stt.commit() == ""
    finally:
        await stt.aclose()
    assert len(sim.committed_audio_s) == 3
    assert sim.committed_audio_s[-1] == pytest.approx((speech().size + 800) / 16_000, abs=0.01)
    update = next(r.body for r in sim.requests if r.provider == "stt")
    fmt = update["session"]["audio"]["input"]["format"]
    assert fmt == {"type": "audio/pcm", "rate": 24000}
    assert update["session"]["audio"]["input"]["turn_detection"] is None


async def test_stt_later_commits_of_a_turn_hear_its_continued_transcripts():
    script = SimScript.from_dict(
        {"turns": [{"transcript": "Mm-hm.", "continued": ["What time is it?"], "reply": "Three."}]}
    )
    async with SimServer(script, SimLatency(**vars(FAST))) as server:
        stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{server.base_url}/v1")
        await stt.connect()
        try:
            heard = []
            for _ in range(3):  # the person paused twice in one turn
                stt.push_audio(speech())
                heard.append(await stt.commit())
        finally:
            await stt.aclose()
    assert heard == ["Mm-hm.", "What time is it?", ""]
    # the answer is the turn's, asked with all of its text or with its first words
    assert script.turn_for("Mm-hm. What time is it?") is script.turns[0]
    assert script.turn_for("mm-hm") is script.turns[0]


async def test_stt_words_that_go_on_after_a_clear_hear_what_was_left_of_the_turn():
    """ "Set an alarm" [0.7 s] "for six fifteen": the turn ended at the pause (a clear), and
    was taken back only once the words that went on were in. They were heard as the next
    scripted turn, and every turn after it was one behind."""
    script = SimScript.from_dict(
        {
            "turns": [
                {"transcript": "Set an alarm", "continued": ["for six fifteen."], "reply": "Done."},
                {"transcript": "Thanks.", "reply": "Any time."},
            ]
        }
    )
    async with SimServer(script, SimLatency(**vars(FAST))) as server:
        stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{server.base_url}/v1")
        await stt.connect()
        try:
            heard = []
            for _ in range(3):
                stt.push_audio(speech())
                heard.append(await stt.commit())
                await stt.clear()  # each ended as a turn
        finally:
            await stt.aclose()
    assert heard == ["Set an alarm", "for six fifteen.", "Thanks."]


async def test_stt_bad_key_is_named_at_connect(sim):
    stt = OpenAIRealtimeSTT(api_key="sk-bad", base_url=f"{sim.base_url}/v1")
    with pytest.raises(AuthError, match="API key"):
        await stt.connect()
    await stt.aclose()


@contextlib.contextmanager
def _http_1_0_server(version: str = "HTTP/1.0"):
    """A real web server that is no WebSocket server: the standard library's, which answers
    every request in HTTP/1.0 ("501 Unsupported method"), as a wrong port or path can;
    ``version`` "HTTP/1.1": the same error in a web server's usual HTTP."""
    import http.server
    import threading

    handler = type("Handler", (http.server.BaseHTTPRequestHandler,), {"protocol_version": version})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


async def _refusal(provider: Any, start: str = "connect") -> ProviderError:
    """The error ``provider``'s ``start`` (connect or warm) raises, the provider closed."""
    with pytest.raises(ProviderError) as said:
        await getattr(provider, start)()
    await provider.aclose()
    return said.value


async def test_a_server_that_answers_no_websocket_is_said_not_a_traceback():
    """OPENAI_BASE_URL (or stt.base_url, tts.elevenlabs_base_url) at a server that answered
    in HTTP/1.0 raised websockets' InvalidMessage out of the session's start: `voicedesk
    run` ended in a traceback. It is a provider error naming the server and the setting."""
    with _http_1_0_server() as url:
        stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{url}/v1", connect_timeout_s=5)
        said = await _refusal(stt)
        assert not isinstance(said, AuthError)
        assert f"no WebSocket answer from {url}/v1" in said.message
        assert "HTTP/1.0 501" in said.message and "stt.base_url" in str(said)
        said = await _refusal(ElevenLabsTTS(api_key="el-test", voice_id="v", base_url=url), "warm")
        assert f"no WebSocket answer from {url}" in said.message
        assert "tts.elevenlabs_base_url" in str(said)


async def test_a_proxy_that_is_not_running_is_named(monkeypatch: pytest.MonkeyPatch):
    """With HTTPS_PROXY set to a proxy that is not running, each provider said "Cannot reach
    <the service>: [Errno 111] …" and told the person to check the service's address and
    their network; the refused port was the proxy's. The proxy is named now, with the
    variables that set it."""
    import socket

    with socket.socket() as closed:  # a port nothing listens on: the proxy is not running
        closed.bind(("127.0.0.1", 0))
        proxy = f"http://user:pw@127.0.0.1:{closed.getsockname()[1]}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    remote = "https://192.0.2.1"  # TEST-NET: never reached, the proxy refuses first
    llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=f"{remote}/v1")
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{remote}/v1", connect_timeout_s=5)
    tts = ElevenLabsTTS(api_key="el-test", voice_id="v", base_url=remote)
    for said in (
        await _refusal(llm, "warm"),
        await _refusal(stt),
        await _refusal(tts, "warm"),
    ):
        assert "through the proxy http://***@127.0.0.1:" in said.message, said.message
        assert "pw" not in str(said)
        assert said.hint is not None and "HTTPS_PROXY" in said.hint


async def test_stt_a_server_that_refuses_the_socket_is_named():
    """OPENAI_BASE_URL at a chat-only server (Ollama) sends speech-to-text there too, and its
    refusal read "OpenAI realtime transcription refused the connection (HTTP 404)", naming
    neither the server nor the setting: the person took it for OpenAI's own service."""
    with _http_1_0_server("HTTP/1.1") as url:
        stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{url}/v1", connect_timeout_s=5)
        said = await _refusal(stt)
    assert f"transcription at {url}/v1 refused the connection (HTTP 501)" in said.message
    assert "OPENAI_BASE_URL" in str(said)


async def test_a_password_in_the_servers_address_is_not_said_with_it():
    """A gateway's address with its password in it (``https://me:pw@host/v1`` in
    stt.base_url, OPENAI_BASE_URL or tts.elevenlabs_base_url) was quoted whole in the
    message naming the server that gave no WebSocket answer (or refused the socket), so
    the password went to the terminal and into any bug report pasted from it. It is
    masked as `config show` and `doctor` mask it; the host is still named."""
    for version in ("HTTP/1.0", "HTTP/1.1"):  # no WebSocket answer; a refused socket
        with _http_1_0_server(version) as url:
            secret_url = url.replace("http://", "http://me:hunter2-pw@")
            stt = OpenAIRealtimeSTT(
                api_key="sk-test", base_url=f"{secret_url}/v1", connect_timeout_s=5
            )
            said = await _refusal(stt)
            assert "hunter2-pw" not in str(said), str(said)
            assert url.removeprefix("http://") in said.message
            tts = ElevenLabsTTS(api_key="el-test", voice_id="v", base_url=secret_url)
            said = await _refusal(tts, "warm")
            assert "hunter2-pw" not in str(said), str(said)
    # the language model's server, where nothing listens (the same password)
    with contextlib.closing(__import__("socket").socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = OpenAIChat(
        api_key="sk-test", model="m", base_url=f"http://me:hunter2-pw@127.0.0.1:{port}/v1"
    )
    said = await _refusal(chat, "warm")
    assert "hunter2-pw" not in str(said), str(said)
    assert f"127.0.0.1:{port}" in said.message


async def test_stt_a_language_the_service_refuses_is_named_at_connect(sim):
    """The service refuses a session setting with an error event and keeps its defaults
    (no transcription): connect() succeeded, and every turn then waited out the resends
    for a transcript that could not come, the reason only in the log."""
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1", language="english")
    with pytest.raises(ProviderError, match="english") as raised:
        await stt.connect()
    assert isinstance(raised.value, RefusedSettingError)  # stops the start: a retry cannot help
    assert "stt.language" in (raised.value.hint or "")
    await stt.aclose()


def _say(stt: OpenAIRealtimeSTT) -> None:
    """The test utterance, pushed in 60 blocks as the audio callback would."""
    for block in np.array_split(speech(), 60):
        stt.push_audio(block)


async def test_stt_dropped_socket_is_retried_with_the_segment_resent(sim):
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    await stt.connect()
    sim.inject("stt", "drop")  # applies to the next connection: reconnect once
    await stt.aclose()
    async with contextlib.aclosing(
        OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    ) as stt:
        await stt.connect()  # this socket drops on its first commit
        _say(stt)
        assert await stt.commit() == "What time is it?"


async def test_stt_a_late_transcript_is_retried_after_the_turn_cleared_the_buffer(sim):
    # The turn ends (and the engine clears the buffer) while the transcript is on its way;
    # the transcript never comes: the retry must still have the segment's audio to resend.
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1", commit_timeout_s=1)
    await stt.connect()
    try:
        _say(stt)
        sim.inject("stt", "stall")  # the next commit is acknowledged, never transcribed
        commit = asyncio.create_task(stt.commit())
        await asyncio.sleep(0.2)
        await stt.clear()
        assert await commit == "What time is it?"
    finally:
        await stt.aclose()
    assert sim.committed_audio_s[-1] == pytest.approx(speech().size / 16_000, abs=0.02)


def _resending_stt(sim: SimServer) -> OpenAIRealtimeSTT:
    """Resends after 0.3 s and gives up only after 60 s: a transcript within seconds can
    only have come from a resend."""
    return OpenAIRealtimeSTT(
        api_key="sk-test", base_url=f"{sim.base_url}/v1", commit_timeout_s=60, resend_after_s=0.3
    )


@pytest.mark.parametrize("fault", ["stall", "lose"])
async def test_stt_a_lost_transcript_is_asked_for_again_long_before_the_give_up(sim, fault):
    """The transcript never comes (no event at all, or the deltas but not the final one):
    the segment is resent over a fresh connection after resend_after_s, not after the
    commit_timeout_s at which it would count as failed."""
    stt = _resending_stt(sim)
    await stt.connect()
    try:
        _say(stt)
        sim.inject("stt", fault)
        commit = asyncio.create_task(stt.commit())
        await asyncio.sleep(0)
        await stt.clear()  # the turn ends while the transcript is on its way
        async with asyncio.timeout(30):  # half the give-up: only a resend can answer in time
            assert await commit == "What time is it?"
        _say(stt)  # the warm socket still serves the next turn, which gets its own transcript
        assert await stt.commit() == "List my documents."
    finally:
        await stt.aclose()
    connections = [r for r in sim.requests if r.body.get("type") == "session.update"]
    assert len(connections) == 2  # the warm one and the resend's


async def test_stt_a_slow_transcript_is_not_given_up_and_the_first_in_wins(sim):
    """The first transcript is only late: whichever comes first is taken, the other one is
    not mistaken for the next segment's, and the next turn gets its own transcript."""
    sim.latency.stt_late_s = 0.6
    stt = _resending_stt(sim)
    await stt.connect()
    try:
        _say(stt)
        sim.inject("stt", "late")
        assert await stt.commit() == "What time is it?"
        await stt.clear()
        await asyncio.sleep(0.8)  # the late one arrives on the warm socket meanwhile
        _say(stt)
        assert await stt.commit() == "List my documents."
    finally:
        await stt.aclose()
    assert sim.transcripts.count("What time is it?") in (1, 2)  # twice if it was resent
    assert sim.transcripts[-1] == "List my documents."


async def test_stt_an_error_about_another_event_does_not_fail_the_commit(sim):
    """An error event names the client event it is about (its event_id). One about an
    append was taken as the waiting commit's refusal: that commit failed and its segment
    was sent again over a second socket, for a second transcription of the same audio."""
    stt = _resending_stt(sim)
    await stt.connect()
    try:
        _say(stt)
        sim.inject("stt", "stray")  # an error about the last append, then the transcript
        assert await stt.commit() == "What time is it?"
    finally:
        await stt.aclose()
    connections = [r for r in sim.requests if r.body.get("type") == "session.update"]
    assert len(connections) == 1  # no resend
    assert sim.transcripts == ["What time is it?"]


async def test_stt_redials_a_refusing_service_with_backoff_while_speech_streams(sim):
    """With the service refusing connections (HTTP 429), every ~60 ms flush of speech dialled
    again: five refused dials in 40 ms, a rate limit made worse. A flush now waits 0.5 s,
    then 1 s… after a refusal; the commit still dials at once, and the speech is kept."""
    async with contextlib.aclosing(
        OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    ) as stt:
        sim.inject("stt", "429", times=30)
        blocks = np.array_split(speech(), 20)  # ~2.3 s of speech, streamed in real time
        for block in blocks:
            stt.push_audio(block)
            await asyncio.sleep(block.size / 16_000)
        refused = 30 - len(sim._faults["stt"])
        assert 1 <= refused <= 4, refused  # 0, 0.5, 1.5 s: three dials (was one a flush)
        sim._faults["stt"].clear()  # the service is back
        assert await stt.commit() == "What time is it?"


async def test_stt_a_session_at_its_maximum_duration_is_no_warning(sim, caplog):
    """OpenAI ends a realtime session at its maximum duration (60 minutes) with an error
    event, session_expired, then a close with 1001. A headless run printed "[warning]
    realtime transcription error: Your session hit the maximum duration of 60 minutes."
    for what is routine and recovered: the segment is resent, the socket opened again."""
    import logging

    caplog.set_level(logging.INFO, logger="voicedesk.providers.openai_stt")
    async with contextlib.aclosing(
        OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    ) as stt:
        await stt.connect()
        for block in np.array_split(speech(), 50):
            stt.push_audio(block)
        sim.inject("stt", "expire")
        assert await stt.commit() == "What time is it?"
        await asyncio.sleep(0.3)  # the close, and the socket opened again
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not warnings
    assert any("maximum duration" in r.getMessage() for r in caplog.records)  # logged


async def test_stt_an_outage_is_warned_about_once_not_at_every_redial(sim, caplog):
    """With the service unreachable, every redial of a flush warned: "speech-to-text
    reconnect failed (next try in 0.5 s)", then 1 s, 2 s, 4 s, and every 4 s for as long
    as the person spoke, each printed by a headless run between the turns' own errors. The
    first refusal of an outage warns; the later ones are logged, and once the socket opens
    again the next outage warns afresh."""
    import logging

    caplog.set_level(logging.INFO, logger="voicedesk.providers.openai_stt")
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")

    def warned() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.levelno >= logging.WARNING and "reconnect failed" in r.getMessage()
        ]

    try:
        sim.inject("stt", "429", times=30)
        blocks = np.array_split(speech(), 20)
        for block in blocks * 2:  # ~4.6 s of speech, in real time: dials at 0, 0.5, 1.5, 3.5
            stt.push_audio(block)
            await asyncio.sleep(block.size / 16_000)
        assert 30 - len(sim._faults["stt"]) >= 3  # redialled, and refused, all along
        sim._faults["stt"].clear()  # the service is back
        assert await stt.commit()
        assert len(warned()) == 1, warned()
        await stt.connect()  # the warm socket open again: the next outage warns afresh
        assert stt._redial_wait_s == REDIAL_FIRST_S
    finally:
        await stt.aclose()


async def test_stt_a_service_gone_mid_conversation_says_where_and_what_to_check() -> None:
    """With nothing listening any more (the network down, the server stopped), each turn
    failed with "Speech-to-text failed: Cannot reach OpenAI realtime transcription: [Errno
    111] Connect call failed ('127.0.0.1', 41327)": asyncio's words, no address the person
    set, and nothing to do. It now names the server and says the connection was refused,
    with a hint to check the network and the address (here, a server on this machine: to
    start it, at its address)."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with contextlib.aclosing(
        OpenAIRealtimeSTT(api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1")
    ) as stt:
        _say(stt)
        with pytest.raises(ProviderError) as failed:
            await stt.commit()
    said = failed.value
    assert f"127.0.0.1:{port}" in said.message and "connection refused" in said.message, said
    assert "Errno" not in said.message and "Connect call failed" not in said.message, said
    assert said.hint and "OPENAI_BASE_URL" in said.hint, said.hint
    assert "start the local speech-to-text server" in said.hint and f"127.0.0.1:{port}" in said.hint


def _free_port() -> int:
    """A port nothing listens on, on either loopback address."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_stt_a_local_server_gone_on_a_dual_stack_host_is_said_in_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """stt.base_url at a local server (http://localhost:8000/v1) that is not running, on a
    machine whose hosts file names localhost ::1 and 127.0.0.1 (Debian's and Ubuntu's
    own): both connections were refused, and asyncio joined them into one error with no
    errno, which came out whole: "Cannot reach … at http://localhost:8000/v1: Multiple
    exceptions: [Errno 111] Connect call failed ('::1', 8000, 0, 0), [Errno 111] Connect
    call failed ('127.0.0.1', 8000)". It is said in words, as for one address. (The
    resolver is given the hosts file's answer; the two connections are real, refused by
    the kernel.)"""
    import socket

    resolve = socket.getaddrinfo

    def dual_stack(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "localhost":
            return resolve(host, *args, **kwargs)
        return resolve("::1", *args, **kwargs) + resolve("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dual_stack)
    port = _free_port()
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"http://localhost:{port}/v1")
    said = await _refusal(stt)
    assert f"at http://localhost:{port}/v1: connection refused" in said.message, said.message
    assert "Errno" not in said.message and "Multiple exceptions" not in said.message, said


async def test_elevenlabs_a_server_gone_is_said_in_words_not_asyncios() -> None:
    """The voice's server not running (tts.elevenlabs_base_url at a local gateway that is
    down) said "Cannot reach ElevenLabs: [Errno 111] Connect call failed ('127.0.0.1',
    41327)", as speech-to-text did before it was put in words: no address set, no reason
    in words, nothing to check. It says them now, as speech-to-text does."""
    port = _free_port()
    tts = ElevenLabsTTS(api_key="el-test", voice_id="v", base_url=f"http://127.0.0.1:{port}")
    said = await _refusal(tts, "warm")
    assert f"127.0.0.1:{port}" in said.message and "connection refused" in said.message, said
    assert "Errno" not in said.message and "Connect call failed" not in said.message, said
    assert said.hint and "ELEVENLABS_BASE_URL" in said.hint, said.hint


async def test_stt_a_reopened_socket_gets_a_long_turns_audio_in_appends_under_the_cap(sim):
    """A socket opened mid-turn (the first refused, or the last lost) is sent all the audio
    no commit has taken. It went in one append: over four minutes of push-to-talk dictation
    made one over the 15 MiB an append may carry, refused, and the commit found the buffer
    empty: the whole turn was lost without a word. It goes in appends of 10 s now."""
    async with contextlib.aclosing(
        OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    ) as stt:
        sim.inject("stt", "500")  # the first dial is refused: the speech is kept meanwhile
        said = speech()
        times = int(270 * 16_000 / said.size) + 2  # 4.5 minutes, the last block too
        for _ in range(times - 1):  # none of it sent yet
            stt.push_audio(said)
        await asyncio.sleep(0.6)  # past the refused dial's back-off
        stt.push_audio(said)  # its flush dials again, and sends all of it
        while stt._flushing is not None and not stt._flushing.done():
            await asyncio.sleep(0.05)
        assert await stt.commit() == "What time is it?"
    assert sim.committed_audio_s == [pytest.approx(times * said.size / 16_000, abs=0.1)]


async def test_stt_a_definitive_failure_is_an_error_not_an_empty_transcript(sim):
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1", commit_timeout_s=1)
    await stt.connect()
    try:
        _say(stt)
        sim.inject("stt", "500", times=2)  # the commit, then the reconnection for the resend
        commit = asyncio.create_task(stt.commit())
        await asyncio.sleep(0)
        await stt.clear()
        with pytest.raises(ProviderError):
            await commit
    finally:
        await stt.aclose()


async def test_sim_user_turns_end_at_the_clients_clear_not_at_a_pause_or_a_spoken_line(sim):
    """A long turn (commits seconds apart) and a line spoken between two of its segments
    (the error line) keep it one scripted turn; the client's clear at the end of the turn
    is what starts the next one."""
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v", base_url=sim.base_url)
    await stt.connect()

    async def segment() -> str:
        for block in np.array_split(speech(), 30):
            stt.push_audio(block)
        return await stt.commit()

    try:
        assert await segment() == "What time is it?"
        await asyncio.sleep(3.2)  # a long monologue: its segments come seconds apart
        assert await segment() == ""
        stream = await tts.open_stream()  # a line spoken to its end, mid-turn
        await stream.send_text("Sorry, I couldn't get an answer just now.")
        await stream.end_text()
        async for _ in stream.audio():
            pass
        await stream.aclose()
        assert await segment() == ""
        await stt.clear()  # the client decided the turn was over
        assert await segment() == "List my documents."
    finally:
        await stt.aclose()
        await tts.aclose()


async def _raw_commit(sim: SimServer, pcm24: bytes, *, quiet_s: float = 0.5) -> list[dict]:
    """Commit ``pcm24`` on a fresh socket with the SDK alone; the events up to the
    transcript, or until the socket is quiet for ``quiet_s``."""
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="sk-test", base_url=f"{sim.base_url}/v1", max_retries=0)
    events: list[dict] = []
    async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
        await conn.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24).decode()}
        )
        await conn.send({"type": "input_audio_buffer.commit"})
        with contextlib.suppress(TimeoutError):
            while not events or not events[-1]["type"].endswith(".completed"):
                async with asyncio.timeout(quiet_s):
                    events.append(json.loads(await conn.recv_bytes()))
    await client.close()
    return events


async def test_sim_lost_and_late_transcripts_and_a_resend_of_the_same_audio(sim):
    """'lose' sends the deltas and no transcript, 'late' the transcript stt_late_s late; the
    same audio committed again meanwhile (on another socket) reads the same and is no new
    user turn, so the script still gives the next turn its own transcript."""
    sim.latency.stt_late_s = 0.3
    pcm24 = np.repeat(speech(), 3)[::2].astype("<i2").tobytes()  # any loud audio at 24 kHz
    kinds = lambda events: [e["type"].rsplit(".", 1)[-1] for e in events]  # noqa: E731
    sim.inject("stt", "lose")
    lost = await _raw_commit(sim, pcm24)
    assert kinds(lost) == ["created", "committed", "delta", "delta"]
    resent = await _raw_commit(sim, pcm24)
    assert resent[-1]["transcript"] == "What time is it?"
    sim.inject("stt", "late")
    started = time.monotonic()
    late = await _raw_commit(sim, pcm24[: len(pcm24) // 4 * 2], quiet_s=2.0)  # the same turn
    assert time.monotonic() - started >= 0.3 and late[-1]["transcript"] == ""
    assert sim.transcripts == ["What time is it?", "What time is it?", ""]


# ---------------------------------------------------------------- language model
async def test_llm_streams_text_and_usage(sim):
    llm = _chat(sim)
    await llm.warm()
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    items = [item async for item in llm.stream(request)]
    await llm.aclose()
    text = "".join(i.text for i in items if isinstance(i, TextDelta))
    assert text == "It is ten past three."
    assert len([i for i in items if isinstance(i, TextDelta)]) > 3  # really streamed
    usage = [i for i in items if isinstance(i, Usage)]
    body = sim.chat_requests()[-1]
    # counted as OpenAI counts it, tool definitions included (none here)
    assert usage and usage[0].prompt_tokens == sim.request_tokens(body) > 0
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_llm_tool_calls_are_assembled_from_fragments(sim):
    llm = _chat(sim)
    request = ChatRequest(
        messages=[{"role": "user", "content": "List my documents."}],
        tools=[{"type": "function", "function": {"name": "docs__list_documents"}}],
    )
    items = [item async for item in llm.stream(request)]
    await llm.aclose()
    calls = [c for i in items if isinstance(i, ToolCalls) for c in i.calls]
    assert len(calls) == 1
    assert calls[0].name == "docs__list_documents"
    assert calls[0].arguments == '{"pattern": "*.md"}'
    assert calls[0].id.startswith("call_")
    # the usage counts the tool definitions, as OpenAI's does
    (usage,) = [i for i in items if isinstance(i, Usage)]
    body = sim.chat_requests()[-1]
    assert usage.prompt_tokens == sim.request_tokens(body)
    assert usage.prompt_tokens > sim.request_tokens({**body, "tools": None})


@pytest.mark.parametrize("model", ["gpt-5-mini", "o4-mini"])
async def test_llm_a_reasoning_model_is_sent_the_parameters_it_takes(sim, model):
    """OpenAI's reasoning models refuse ``max_tokens`` (they take ``max_completion_tokens``)
    and any temperature but 1, with HTTP 400: every turn failed with "The language model
    failed (HTTP 400)". The refusal is learnt once and the request sent as the model takes it;
    later turns are sent so at once."""
    llm = OpenAIChat(api_key="sk-test", model=model, base_url=f"{sim.base_url}/v1")
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=200, temperature=0.7
    )
    try:
        for _ in range(2):
            text = await _answered(llm, request)
            assert text == "It is ten past three."
    finally:
        await llm.aclose()
    sent = sim.chat_requests()
    # the first turn: refused thrice (max_tokens, the effort "none", temperature), then
    # answered; the second at once
    assert len(sent) == 5
    for body in sent[-2:]:
        assert body["max_completion_tokens"] == 200
        assert "max_tokens" not in body and "temperature" not in body


async def test_llm_requests_refused_together_are_each_sent_as_the_model_takes_them(sim):
    """Requests in flight at once on one client (it is shared: the turns' answers, the
    context's summaries), all sent with ``max_tokens`` before any refusal came back: the
    first refusal handled was learnt and its request sent again, but the others' were
    then taken for a parameter "already learnt", nothing to resend, and failed with "The
    language model failed (HTTP 400): Unsupported parameter: 'max_tokens'". Each is sent
    again as the model takes it."""
    llm = OpenAIChat(api_key="sk-test", model="gpt-5-mini", base_url=f"{sim.base_url}/v1")
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=200, temperature=0.7
    )

    async def answer() -> str:
        return await _answered(llm, request)

    try:
        answers = await asyncio.gather(answer(), answer(), answer())
    finally:
        await llm.aclose()
    assert answers == ["It is ten past three."] * 3


@pytest.mark.parametrize("style", ["mistral", "openai", "azure"])
async def test_llm_a_server_that_refuses_stream_options_is_sent_none(style):
    """Mistral's API refuses ``stream_options`` with HTTP 422 (a pydantic error list): every
    turn failed, with the error body printed as a dict. It is learnt and left out. So it is
    in OpenAI's words, as Azure OpenAI refused it and the gateways relaying Azure pass it
    on: "Unknown parameter: 'stream_options'." (code unknown_parameter), or "Unrecognized
    request argument supplied: stream_options" (no code): every turn failed there too."""
    cloud = SimServer(SCRIPT, FAST, forbidden_fields=("stream_options",), forbidden_style=style)
    async with cloud as server:
        llm = _chat(server)
        request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
        try:
            async with asyncio.timeout(30):  # only a hang's bound: fails, not waits forever
                for _ in range(2):
                    text = await _answered(llm, request)
                    assert text == "It is ten past three."
        finally:
            await llm.aclose()
        sent = server.chat_requests()
    assert len(sent) == 3  # refused once, then answered; the second turn at once
    assert "stream_options" in sent[0] and all("stream_options" not in b for b in sent[1:])


async def test_llm_a_refusal_learnt_but_not_heeded_fails_with_the_servers_words(monkeypatch):
    """A refused parameter is learnt and the request sent again without it; with the
    learning not applied (``no_stream_options`` not heeded when the request is shaped), the
    same request went out again, was refused again, and so on without end: the person, as
    the test, waited forever on "thinking". A resend that would change nothing is not sent:
    the answer fails with the server's refusal."""
    from voicedesk.providers import chat_params

    heeded = chat_params.RefusedParameters.shape

    def heedless(self: chat_params.RefusedParameters, kwargs: dict[str, Any]) -> dict[str, Any]:
        shaped = heeded(self, kwargs)
        if "stream_options" in kwargs:
            shaped["stream_options"] = kwargs["stream_options"]
        return shaped

    monkeypatch.setattr(chat_params.RefusedParameters, "shape", heedless)
    cloud = SimServer(SCRIPT, FAST, forbidden_fields=("stream_options",), forbidden_style="openai")
    async with cloud as server:
        llm = _chat(server)
        request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
        try:
            async with asyncio.timeout(30):  # only a hang's bound
                with pytest.raises(ProviderError) as caught:
                    await _answered(llm, request)
        finally:
            await llm.aclose()
        sent = server.chat_requests()
    assert "stream_options" in caught.value.message, caught.value.message
    assert len(sent) == 1, len(sent)


async def test_llm_a_422_is_said_field_by_field_not_as_a_dict():
    async with SimServer(SCRIPT, FAST, forbidden_fields=("stream_options", "tools")) as server:
        llm = _chat(server)
        request = ChatRequest(
            messages=[{"role": "user", "content": "What time is it?"}],
            tools=[{"type": "function", "function": {"name": "docs__list_documents"}}],
        )
        try:
            with pytest.raises(ProviderError) as caught:
                [item async for item in llm.stream(request)]
        finally:
            await llm.aclose()
    # stream_options is learnt; tools cannot be left out, and the refusal says so plainly
    assert caught.value.message == (
        "The language model failed (HTTP 422): tools: Extra inputs are not permitted"
    )


@pytest.mark.parametrize(
    "server, said, fix",
    [
        ("ollama", "gpt-4o-mini does not support tools", "choose a model that supports tools"),
        ("llama.cpp", "tools param requires --jinja flag", "start llama-server with --jinja"),
        (
            "vllm",
            '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser '
            "to be set",
            "start vLLM with --enable-auto-tool-choice and the --tool-call-parser",
        ),
    ],
)
async def test_llm_a_model_that_takes_no_tools_answers_without_them(server, said, fix):
    """Ollama refuses tools to a model without tool support (HTTP 400 "... does not support
    tools"), llama.cpp's server started without --jinja too (HTTP 500), and vLLM's started
    without --enable-auto-tool-choice (HTTP 400, the default way to serve a model with it):
    with the documents tools on, every turn failed. The request is sent again without
    tools, the session's later ones too, and the person is told once, with the way to have
    them."""
    async with SimServer(SCRIPT, FAST, no_tools=server) as cloud:
        llm = _chat(cloud)
        request = ChatRequest(
            messages=[{"role": "user", "content": "What time is it?"}],
            tools=[{"type": "function", "function": {"name": "docs__list_documents"}}],
        )
        try:
            turns = [[item async for item in llm.stream(request)] for _ in range(2)]
        finally:
            await llm.aclose()
        sent = cloud.chat_requests()
    for items in turns:
        text = "".join(i.text for i in items if isinstance(i, TextDelta))
        assert text == "It is ten past three."
    (refused,) = [i for items in turns for i in items if isinstance(i, ToolsRefused)]
    assert refused.said == said and fix in refused.fix
    # refused once (not retried as a server error), then answered; the second turn at once
    assert [bool(body.get("tools")) for body in sent] == [True, False, False]


async def test_llm_a_refusal_of_tools_is_said_by_a_request_that_offered_them():
    """The refusal is said once, as an item of the stream: when the request that learnt it
    then failed (its resend too slow), the next stream said it whatever it was. A summary's
    (which offers no tools, and whose items are only read for their text) took it, and the
    person was never told why the documents tools did nothing."""
    latency = SimLatency(**{**vars(FAST), "ttft_s": 1.0})
    tools = [{"type": "function", "function": {"name": "docs__list_documents"}}]
    question = [{"role": "user", "content": "What time is it?"}]
    async with SimServer(SCRIPT, latency, no_tools="ollama") as cloud:
        llm = _chat(cloud, first_token_s=0.3)
        try:
            with pytest.raises(ProviderError, match="sent nothing within"):
                [item async for item in llm.stream(ChatRequest(messages=question, tools=tools))]
            latency.ttft_s = 0.05
            summary = [item async for item in llm.stream(ChatRequest(messages=question))]
            turn = [item async for item in llm.stream(ChatRequest(messages=question, tools=tools))]
        finally:
            await llm.aclose()
    assert not [i for i in summary if isinstance(i, ToolsRefused)]
    assert [i for i in turn if isinstance(i, ToolsRefused)]


async def past_the_deadline(model: str, request: ChatRequest, **options: Any) -> ProviderError:
    """The error of ``model`` (``options`` go on to it) asked ``request`` on a simulated
    cloud that thinks 1 s before its first token, unseen, as a reasoning model does, with
    0.4 s to its first token: the deadline tests each set this up."""
    latency = SimLatency(**{**vars(FAST), "ttft_s": 1.0})  # its thinking, unseen
    async with SimServer(SCRIPT, latency) as cloud:
        base_url = f"{cloud.base_url}/v1"
        async with contextlib.aclosing(
            OpenAIChat(
                api_key="sk-test", model=model, base_url=base_url, first_token_s=0.4, **options
            )
        ) as llm:
            with pytest.raises(ProviderError, match=r"sent nothing within 0\.4 s") as caught:
                [item async for item in llm.stream(request)]
    return caught.value


async def test_llm_a_reasoning_models_silent_thinking_past_the_deadline_says_so():
    """OpenAI's reasoning models send nothing while they think (mezmo/aura#62): one that
    thought past llm.first_token_timeout_s failed the turn with "The language model sent
    nothing within 15 s", a server that seemed down, with no word of what to change. A
    model known to be one (it refused max_tokens for max_completion_tokens) says why."""
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=200, temperature=0.7
    )
    error = await past_the_deadline("gpt-5-mini", request)
    assert error.hint is not None
    assert "reasoning model" in error.hint
    assert "llm.first_token_timeout_s" in error.hint


async def test_llm_a_model_that_takes_max_tokens_is_still_sent_max_tokens(sim):
    """Local servers (llama.cpp, Ollama, vLLM) all read ``max_tokens``, and not all of them
    ``max_completion_tokens``: it stays what is sent until a server refuses it."""
    llm = _chat(sim)
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=200, temperature=0.7
    )
    try:
        [item async for item in llm.stream(request)]
    finally:
        await llm.aclose()
    (body,) = sim.chat_requests()
    assert body["max_tokens"] == 200 and body["temperature"] == 0.7
    assert "max_completion_tokens" not in body


@pytest.mark.parametrize("style", ["content", "field"])
async def test_llm_a_reasoning_models_thinking_is_not_part_of_the_answer(style):
    """LM Studio (and vLLM without a reasoning parser) stream a reasoning model's thinking
    in the answer's text, between <think> tags: it was spoken aloud and kept as what the
    assistant said. Sent apart (reasoning_content), it was and is left out."""
    script = SimScript(
        turns=[
            SCRIPT.turns[0],
            SimTurn(
                transcript="List my documents.",
                reply="You have two documents.",
                preamble="Let me look.",
                tool_calls=[SimToolCall(name="docs__list_documents", arguments={})],
            ),
        ]
    )
    async with SimServer(script, SimLatency(**vars(FAST)), reasoning=style) as server:
        llm = _chat(server)
        try:
            for question, reply in [
                ("What time is it?", "It is ten past three."),
                ("List my documents.", "Let me look."),  # said before the call
            ]:
                request = ChatRequest(
                    messages=[{"role": "user", "content": question}],
                    tools=[{"type": "function", "function": {"name": "docs__list_documents"}}],
                )
                items = [item async for item in llm.stream(request)]
                text = "".join(i.text for i in items if isinstance(i, TextDelta))
                assert text == reply
        finally:
            await llm.aclose()
        assert [i for i in items if isinstance(i, ToolCalls)]  # the call came through


@pytest.mark.parametrize(
    "messages, said",
    [
        (
            [
                {"role": "user", "content": "List my documents."},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f"}},
                        {"id": "call_2", "type": "function", "function": {"name": "g"}},
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "done"},
                {"role": "user", "content": "And?"},
            ],
            "did not have response messages: call_2",
        ),
        (
            [
                {"role": "user", "content": "List my documents."},
                {"role": "tool", "tool_call_id": "call_1", "content": "done"},
            ],
            "must be a response to a preceeding message with 'tool_calls'",
        ),
    ],
)
async def test_sim_refuses_tool_calls_and_results_that_do_not_pair_up(sim, messages, said):
    """As OpenAI does: the simulated cloud took any conversation, so one the context's
    trimming left with a call and no result (or a result and no call) passed every test."""
    llm = _chat(sim)
    try:
        with pytest.raises(ProviderError, match=said):
            [item async for item in llm.stream(ChatRequest(messages=messages))]
    finally:
        await llm.aclose()


async def test_llm_warm_readies_the_chat_resource_before_the_first_turn(sim):
    """The SDK imports its chat resource (and builds its chunk models) on the first use of
    ``client.chat``: ~85 ms on the event loop at the first turn's request, between the end
    of speech and the request sent. warm() readies it at start."""
    llm = _chat(sim)
    await llm.warm()
    try:
        assert "chat" in vars(llm._client)  # the SDK's cached property, filled
        assert not sim.chat_requests()  # readied without a request
    finally:
        await llm.aclose()


async def _done_with_our_loop_busy(work: Awaitable[Any], busy_s: float, stretch_s: float) -> None:
    """Run ``work`` while this loop computes in ``stretch_s`` stretches (our own work on a
    loaded machine), for up to ``busy_s``; then wait for it with a limit that only catches
    a hang. A deadline timed by the loop's clock ran out in those stretches."""
    task = asyncio.ensure_future(work)
    await asyncio.sleep(0)  # (its first step: the connection is asked for)
    busy_until = time.monotonic() + busy_s
    while not task.done() and time.monotonic() < busy_until:
        stretch_end = time.monotonic() + stretch_s
        while time.monotonic() < stretch_end:  # our own work, holding the loop
            pass
        await asyncio.sleep(0)
    await asyncio.wait_for(task, 60)


async def test_llm_warm_is_not_failed_by_our_own_busy_loop(sim):
    """On a loaded machine the event loop is busy for seconds at start (the tool servers,
    the transcriber and the voice come up beside the check). The check's connect deadline
    was a loop timer: the connection was made, the timer came due before the loop saw it,
    and the start said "Cannot reach the language-model server … Request timed out" with a
    hint that nothing ran there. Here the loop computes in half-second stretches, as a busy
    one does, for up to 3 × the connect deadline while the check runs."""
    from voicedesk.providers.openai_llm import _CONNECT_S

    llm = _chat(sim)
    try:
        await _done_with_our_loop_busy(llm.warm(), 3 * _CONNECT_S, 0.5)
    finally:
        await llm.aclose()


async def test_voice_warm_is_not_failed_by_our_own_busy_loop(sim):
    """The voice's socket had the same loop-timed deadline as the language model's check:
    with the loop busy in one-second stretches at start (a loaded machine), the warm-up said
    "ElevenLabs did not answer in time" of a server that had answered. (A 2 s deadline,
    as the transcriber's below: the default 5 s held a core busy for 14 s.)"""
    async with contextlib.aclosing(
        ElevenLabsTTS(api_key="el-test", voice_id="v", base_url=sim.base_url, connect_timeout_s=2.0)
    ) as tts:
        await _done_with_our_loop_busy(tts.warm(), 3 * tts.connect_timeout_s, 1.0)


async def test_stt_connect_is_not_failed_by_our_own_busy_loop(sim):
    """The transcriber's socket too: with the loop busy in one-second stretches at start,
    the session said "Speech-to-text is not reachable yet" of a server that had answered."""
    async with contextlib.aclosing(
        OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1", connect_timeout_s=2.0)
    ) as stt:
        await _done_with_our_loop_busy(stt.connect(), 3 * stt.connect_timeout_s, 1.0)


@contextlib.contextmanager
def _never_accepting() -> Iterator[int]:
    """The port of a listener whose backlog is full: a connection to it hangs, as to a host
    that is down or behind a firewall dropping it."""
    import socket

    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        address = full.getsockname()
        filling = []
        try:
            for _ in range(8):
                extra = socket.socket()
                filling.append(extra)
                extra.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    extra.connect(address)
            yield address[1]
        finally:
            for extra in filling:
                extra.close()


async def test_llm_server_that_never_accepts_is_said_at_warm_within_the_connect_deadline():
    """A server that does not answer the connection (a firewall dropping it, a host that is
    down) is still said at start, by the connect deadline, not by the 15 s answer one."""
    with _never_accepting() as port:
        async with contextlib.aclosing(
            OpenAIChat(
                api_key="sk-test", model="gpt-4o-mini", base_url=f"http://127.0.0.1:{port}/v1"
            )
        ) as llm:
            with pytest.raises(ProviderError) as caught:
                await asyncio.wait_for(llm.warm(), 60)
    assert "Cannot reach the language-model server" in caught.value.message
    assert "no connection within 3 s" in caught.value.message


async def test_voice_server_that_never_accepts_is_still_said_at_warm():
    """The voice's deadline leaves out the loop's own stalls (above), not a server's
    silence: one that never takes the connection is still said."""
    with _never_accepting() as port:
        async with contextlib.aclosing(
            ElevenLabsTTS(
                api_key="el-test",
                voice_id="v",
                base_url=f"http://127.0.0.1:{port}",
                connect_timeout_s=1.0,
            )
        ) as tts:
            with pytest.raises(ProviderError, match="did not answer in time"):
                await asyncio.wait_for(tts.warm(), 60)


async def test_llm_bad_key_fails_at_warm(sim):
    llm = OpenAIChat(api_key="sk-bad", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
    with pytest.raises(AuthError):
        await llm.warm()
    await llm.aclose()


async def test_llm_model_the_server_does_not_have_is_named_at_warm():
    # A typo in llm.model started a conversation whose every answer then failed with an
    # HTTP 404; it is now refused at start, with the models the server does offer.
    async with (
        SimServer(SCRIPT, FAST, models=("gpt-4o-mini", "gpt-4.1")) as server,
        contextlib.aclosing(
            OpenAIChat(api_key="sk-test", model="gpt-4o-mnii", base_url=f"{server.base_url}/v1")
        ) as llm,
    ):
        with pytest.raises(RefusedSettingError) as caught:
            await llm.warm()
    assert "gpt-4o-mnii" in caught.value.message
    assert caught.value.hint is not None
    assert "llm.model" in caught.value.hint
    assert "gpt-4o-mini, gpt-4.1" in caught.value.hint


async def test_llm_model_the_server_does_not_have_is_named_with_our_loop_busy(
    sim_elsewhere,
):
    """The one-token trial of a model the server does not list had a deadline timed by
    the loop: with the loop busy at start (a loaded machine) in stretches longer than it,
    it ran out before the server's 404 was read, the failure was only logged, and a
    mistyped model started a conversation whose every answer failed. (The deadline 1 s
    and the stretches 1.5 s, longer as before: 2 s and 3 s took 21 s of a busy core.)"""
    with sim_elsewhere(SCRIPT, FAST, models=("gpt-4o-mini",)) as server:
        async with contextlib.aclosing(
            OpenAIChat(
                api_key="sk-test",
                model="gpt-4o-mnii",
                base_url=f"{server.base_url}/v1",
                first_token_s=1.0,
            )
        ) as llm:
            with pytest.raises(RefusedSettingError, match="gpt-4o-mnii"):
                await _done_with_our_loop_busy(llm.warm(), 10, 1.5)


@pytest.mark.parametrize(
    ("served", "model"),
    [
        (None, "my-local-model"),  # not listed, but answered (llama.cpp's server answers any)
        (("llama3.1:latest",), "llama3.1"),  # Ollama's name for the default tag
        (("gpt-4o-mini",), "gpt-4o-mini"),
    ],
)
async def test_llm_model_that_the_server_answers_passes_warm(served, model):
    async with (
        SimServer(SCRIPT, FAST, models=served) as server,
        contextlib.aclosing(
            OpenAIChat(api_key="sk-test", model=model, base_url=f"{server.base_url}/v1")
        ) as llm,
    ):
        await llm.warm()


@pytest.mark.parametrize("from_env", [True, False])
async def test_llm_unreachable_server_hint_names_where_its_url_was_set(from_env, monkeypatch):
    # With the url taken from OPENAI_BASE_URL (llm.base_url unset) the hint said "check
    # llm.base_url", a setting the person never made; it names the variable now.
    import socket

    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    if from_env:
        monkeypatch.setenv("OPENAI_BASE_URL", url)
    else:
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    async with contextlib.aclosing(
        OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=None if from_env else url)
    ) as llm:
        with pytest.raises(ProviderError, match="Cannot reach the language-model server") as caught:
            await llm.warm()
    assert url in caught.value.message
    assert caught.value.hint is not None
    if from_env:
        assert "OPENAI_BASE_URL" in caught.value.hint
        assert "llm.base_url" not in caught.value.hint.split("(")[0]
    else:
        assert "llm.base_url" in caught.value.hint
        assert "OPENAI_BASE_URL" not in caught.value.hint


async def test_llm_one_429_is_retried_two_500s_are_reported(sim):
    llm = _chat(sim)
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    sim.inject("llm", "429")
    text = "".join([i.text async for i in llm.stream(request) if isinstance(i, TextDelta)])
    assert text == "It is ten past three."
    sim.inject("llm", "500", times=2)
    with pytest.raises(ProviderError, match="500"):
        async for _ in llm.stream(request):
            pass
    await llm.aclose()


async def test_llm_an_account_out_of_quota_is_named_and_not_retried(sim):
    """OpenAI answers an account out of credit with the rate limit's status, 429, but type
    insufficient_quota: it was reported as "rate-limited" (wait and try again) and retried."""
    llm = _chat(sim)
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    sim.inject("llm", "quota", times=2)
    with pytest.raises(ProviderError, match="quota") as raised:
        async for _ in llm.stream(request):
            pass
    assert "rate-limited" not in raised.value.message
    assert len(sim.chat_requests()) == 1  # no retry: waiting does not bring credit back
    await llm.aclose()


async def test_llm_dropped_stream_and_stall_become_provider_errors(sim):
    # the socket's read timeout (stall_s + 1 s, a backstop) far beyond the test's hang
    # guard: only the first-token budget can end the stalled request in time
    llm = _chat(sim, first_token_s=1.0, stall_s=600.0, max_retries=0)
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    sim.inject("llm", "drop")
    with pytest.raises(ProviderError):
        async for _ in llm.stream(request):
            pass
    sim.inject("llm", "stall")
    # given up at the first-token budget, and not asked again (no bound on how long that
    # took: a loaded machine stretches it)
    with pytest.raises(ProviderError, match="sent nothing within 1 s"):
        async with asyncio.timeout(60):  # (a hang guard, not a bound on the time taken)
            async for _ in llm.stream(request):
                pass
    assert len(sim.chat_requests()) == 2  # the dropped stream's, the stalled one's
    await llm.aclose()


async def test_llm_an_answer_the_content_filter_stopped_is_a_failure_not_a_whole_answer(sim):
    """OpenAI and Azure end a stream their content filter stopped with finish_reason
    content_filter: it ended as a whole answer, cut mid-sentence with no word why, and was
    kept so in the conversation."""
    llm = _chat(sim)
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    sim.inject("llm", "filter")
    said: list[str] = []
    try:
        with pytest.raises(ProviderError, match="content filter stopped the answer"):
            async for item in llm.stream(request):
                if isinstance(item, TextDelta):
                    said.append(item.text)
    finally:
        await llm.aclose()
    assert "".join(said) == "It is ten"  # what came before the filter stopped it


async def test_llm_first_token_slower_than_the_stall_limit_is_waited_for(sim):
    """httpx's read timeout (the stall limit) ended the wait for a first token that came
    after it but within first_token_s, and the error named first_token_s."""
    llm = _chat(sim, first_token_s=3.0, stall_s=1.0, max_retries=0)
    sim.latency.ttft_s = 1.8  # the headers come at once, the first chunk after 1.8 s
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    text = "".join([i.text async for i in llm.stream(request) if isinstance(i, TextDelta)])
    assert text == "It is ten past three."
    await llm.aclose()


@pytest.fixture
async def hung_server():
    """A server that accepts connections and never answers (a hung LLM endpoint): its URL,
    and the connections it has held (one a request the client made)."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", held
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_llm_a_hung_server_is_reported_within_the_first_token_budget(hung_server):
    """Given up at the first-token budget, named in the error, and a timeout not retried:
    one connection each (how long it took is not asserted: a loaded machine stretches it)."""
    url, held = hung_server
    # (the default budget is 15 s; a short one keeps the test quick)
    llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=url, first_token_s=2.0)
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    with pytest.raises(ProviderError, match="sent nothing within 2 s"):
        async for _ in llm.stream(request):
            pass
    assert len(held) == 1  # no retry of a timeout
    with pytest.raises(ProviderError, match=r"server .* no answer within 2 s"):
        await llm.warm()
    assert len(held) == 3  # the check's own and the first turn's, opened beside it
    await llm.aclose()


async def test_llm_a_stall_mid_answer_is_reported_after_the_stall_timeout(sim):
    llm = _chat(sim, stall_s=1.0)
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    sim.latency.tokens_per_s = 0.5  # two seconds between words
    got: list[str] = []
    # given up after the first word, before the second came (2 s later): at the stall limit
    with pytest.raises(ProviderError, match="stopped mid-answer"):
        async for item in llm.stream(request):
            if isinstance(item, TextDelta):
                got.append(item.text)
    assert got == ["It"]
    await llm.aclose()


async def test_llm_key_error_names_the_server_from_the_environment(sim, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", f"{sim.base_url}/v1")
    llm = OpenAIChat(api_key="sk-bad", model="gpt-4o-mini")
    with pytest.raises(AuthError) as caught:
        await llm.warm()
    assert f"127.0.0.1:{sim.port}" in caught.value.message
    assert "api.openai.com" not in caught.value.message
    await llm.aclose()


async def test_llm_the_next_turn_after_a_pause_reuses_the_warm_connection(sim):
    """A person listens to the answer and thinks for longer than httpx's default keep-alive
    (5 s): each turn's request then opened a new connection (TCP and TLS, two round trips to
    the provider) on the way to its first token."""
    llm = _chat(sim)
    await llm.warm()
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    for pause_s in (0.0, 6.0):
        await asyncio.sleep(pause_s)
        assert [i async for i in llm.stream(request)]
    await llm.aclose()
    peers = [r.peer for r in sim.requests if r.provider == "llm"]
    assert len(peers) == 2 and peers[0] is not None
    assert peers[1] == peers[0]


async def test_llm_cancel_mid_stream_releases_the_request(sim):
    llm = _chat(sim)
    slow = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    sim.latency.tokens_per_s = 5

    async def consume() -> None:
        async for _ in llm.stream(slow):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await llm.aclose()


# ---------------------------------------------------------------- text to speech
def openai_voice(sim: SimServer, **options: float) -> OpenAITTS:
    """An OpenAI-protocol voice on the simulated cloud (a placeholder key it accepts), the
    one most speech tests here set up; ``options`` (``timeout_s``) go on to it."""
    return OpenAITTS(
        api_key="sk-test",
        base_url=f"{sim.base_url}/v1",
        model="gpt-4o-mini-tts",
        voice="alloy",
        **options,
    )


async def openai_tts_pieces(
    sim: SimServer, text: str, deltas: list[str] | None = None
) -> list[str]:
    """The pieces an OpenAI-protocol voice asks the simulated cloud to say for ``text``,
    sent a word at a time as the model writes it (or as ``deltas``, which make up
    ``text``); sorted, since they are asked for at once."""
    tts = openai_voice(sim)
    stream = await tts.open_stream()
    if deltas is None:
        deltas = [word + " " for word in text.split(" ")]
    assert "".join(deltas).strip() == text.strip()
    for delta in deltas:
        await stream.send_text(delta)
    await stream.end_text()
    assert [c async for c in stream.audio()]
    await stream.aclose()
    await tts.aclose()
    return sorted(r.body["input"] for r in sim.requests if r.provider == "tts")


async def test_elevenlabs_streams_speech_like_audio_with_alignment(sim):
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    await tts.warm()
    stream = await tts.open_stream()
    text = "Sure, here is the plan for today. First we review the budget."
    for word in text.split(" "):
        await stream.send_text(word + " ")
    await stream.end_text()
    chunks = [c async for c in stream.audio()]
    await stream.aclose()
    await tts.aclose()
    audio = np.concatenate(chunks)
    assert audio.size / 24000 > 2.0
    assert np.sqrt(np.mean(audio.astype(float) ** 2)) > 500  # speech-like, not silence
    # every letter sent, whatever became of the spaces between the chunks sent
    assert stream.letters_spoken_at(audio.size) == len(text.replace(" ", ""))
    assert 0 < stream.letters_spoken_at(audio.size // 2) < len(text.replace(" ", ""))
    sent = [r.body for r in sim.requests if r.provider == "tts"]
    assert sent[0]["text"] == " "  # the initialising message
    assert any(m.get("flush") for m in sent)  # the first clause is flushed at once
    assert {"text": ""} in sent  # end of text (a spare socket may have opened since)


async def test_a_word_the_simulated_voice_is_in_the_middle_of_is_not_heard_yet(sim):
    """The simulated voice timed every letter of a word at the word's start, so its
    alignment said a word had been spoken whole as soon as it began: an answer cut in the
    middle of "absolutely" was remembered as having said it (what the model is told it
    said before it was cut off, in every ``run --sim`` and ``demo``). ElevenLabs times each
    letter."""
    from voicedesk.engine.heard import heard_prefix

    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    stream = await tts.open_stream()
    text = "We review absolutely everything today."
    await stream.send_text(text + " ")
    await stream.end_text()
    audio = np.concatenate([c async for c in stream.audio()])
    await stream.aclose()
    await tts.aclose()
    # the words are the voiced runs between the voice's 50 ms pauses
    voiced = np.abs(audio.astype(np.int32)) > 0
    edges = np.flatnonzero(np.diff(voiced.astype(np.int8)))
    runs = [(a + 1, b + 1) for a, b in zip(edges[::2], edges[1::2], strict=False)]
    words = [r for r in runs if r[1] - r[0] > 0.1 * 24_000]  # not a syllable's dip
    third = words[2]  # "absolutely"
    for at in (third[0] + 2_400, (third[0] + third[1]) // 2, third[1] - 2_400):
        heard = heard_prefix(
            text,
            played_samples=at,
            sample_rate=24_000,
            letters_at_played=stream.letters_spoken_at(at),
        )
        assert heard == "We review", (at, heard)


async def test_elevenlabs_flushes_no_title_or_list_number_as_a_first_clause(sim):
    """The first clause is flushed at once; "I asked Dr." was taken for one, and generated
    alone, said with a falling voice before "Smith"; so was "Steps: 1." Those full stops
    end no clause: the first flush comes at the clause that does end."""
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    flushed = []
    for text in ("I asked Dr. Smith today, and he agreed.", "Steps:\n1. Boil it, then cool it."):
        stream = await tts.open_stream()
        for word in text.split(" "):
            await stream.send_text(word + " ")
        await stream.end_text()
        [c async for c in stream.audio()]
        await stream.aclose()
        sent = [r.body for r in sim.requests if r.provider == "tts"]
        first = next(i for i, m in enumerate(sent) if m.get("flush"))
        flushed.append("".join(m["text"] for m in sent[: first + 1]).strip())
        sim.requests.clear()
    await tts.aclose()
    assert flushed == ["I asked Dr. Smith today,", "Steps:\n1. Boil it,"]


async def _say_hello(tts: ElevenLabsTTS) -> None:
    """One short answer through ``tts``, heard to its end, and the next spare it asked for
    (with its first audio) open."""
    stream = await tts.open_stream()
    await stream.send_text("Hello there, friend. ")
    await stream.end_text()
    assert [c async for c in stream.audio()]
    await stream.aclose()
    if tts._spare is not None:
        with contextlib.suppress(Exception):
            await tts._spare


async def test_elevenlabs_next_spare_is_dialled_after_the_answers_first_audio(sim):
    """Taking the spare socket for an answer dialled the next one at once, and its TCP and
    WebSocket handshakes ran on the event loop at the very moment the answer's chat request
    went out (the stream is opened beside it): on a loaded machine they held the request
    tens of milliseconds on its way to the server. The next spare is dialled once the
    answer's first audio is in, or when its stream is let go before that."""
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    await tts.warm()
    assert sim.tts_sockets == 1
    stream = await tts.open_stream()
    for _ in range(50):  # time for a dial begun now to reach the server
        await asyncio.sleep(0.01)
    assert tts._spare is None and sim.tts_sockets == 1  # nothing beside the request
    await stream.send_text("Hello there, friend. ")
    await stream.end_text()
    chunks = stream.audio()
    assert (await anext(chunks)).size
    assert tts._spare is not None  # asked for with the first audio
    await tts._spare
    assert sim.tts_sockets == 2
    async for _ in chunks:
        pass
    await stream.aclose()
    assert sim.tts_sockets == 2  # once per answer

    cut = await tts.open_stream()  # an answer cut before its first audio
    await cut.aclose()
    assert tts._spare is not None
    await tts._spare
    assert sim.tts_sockets == 3
    await tts.aclose()


async def test_elevenlabs_an_answer_restarted_at_once_opens_one_socket_beside_its_request(sim):
    """A preemptive answer cancelled and begun again at once (the person went on for a
    moment): the new attempt found no spare (the cancelled one had it) and dialled its own,
    while the cancelled stream's close dialled the next spare: two TCP and WebSocket
    handshakes on the event loop beside the new attempt's chat request. The attempt's own
    dial is the one; the next spare waits for its first audio, as any answer's does."""
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    await tts.warm()
    assert sim.tts_sockets == 1
    first = await tts.open_stream()  # takes the spare
    # the restart: the new attempt opens its stream as the cancelled one's is let go
    opening = asyncio.create_task(tts.open_stream())
    await asyncio.sleep(0)  # (the new attempt asks first, as the engine's restart does)
    await first.aclose()
    second = await opening
    for _ in range(50):  # time for any other dial begun now to reach the server
        await asyncio.sleep(0.01)
    assert sim.tts_sockets == 2  # the spare taken, and the new attempt's own: nothing else
    await second.send_text("Hello there, friend. ")
    await second.end_text()
    chunks = second.audio()
    assert (await anext(chunks)).size
    assert tts._spare is not None  # the next spare: with the first audio, as ever
    await tts._spare
    assert sim.tts_sockets == 3
    async for _ in chunks:
        pass
    await second.aclose()
    await tts.aclose()


async def test_elevenlabs_an_answer_after_a_long_pause_finds_a_fresh_socket_waiting(
    sim, monkeypatch
):
    """The spare socket is kept ready so no handshake is on the way to the first audio, but
    one older than its maximum age (150 s: the service closes idle ones) was thrown away
    when the answer came and a new one opened then: after any pause that long, the answer
    paid a TCP, TLS and WebSocket handshake. The spare is renewed as it ages now."""
    from voicedesk.providers import elevenlabs_tts

    monkeypatch.setattr(elevenlabs_tts, "_SPARE_MAX_AGE_S", 0.3)
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    await tts.warm()
    await asyncio.sleep(1.0)  # the person reads, thinks: the spare has aged
    asked = time.monotonic()
    await _say_hello(tts)
    await tts.aclose()
    tts_messages = [r for r in sim.requests if r.provider == "tts"]
    used = next(r.peer for r in tts_messages if r.body.get("text", "").startswith("Hello"))
    opened = next(r.t for r in tts_messages if r.peer == used)  # its initialising message
    assert opened < asked  # opened ahead, not when the answer asked for it


async def test_stt_a_socket_the_service_closed_between_turns_is_opened_again_at_once(
    sim, monkeypatch
):
    """OpenAI ends a realtime session at its maximum duration, and a server or proxy may
    close the socket any time between turns. It was opened again only when the next turn's
    speech was flushed, the handshake and session set-up racing that speech to its commit,
    and a warning ("realtime transcription socket closed: received 1001 …") was printed
    for what needs nothing from the person. It is opened again at once now; the next
    turn is transcribed as before."""
    from voicedesk.providers import openai_stt

    monkeypatch.setattr(openai_stt, "_MIN_LIFE_S", 0.0)  # it was open for minutes
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    await stt.connect()

    def sessions() -> int:
        return sum(
            1 for r in sim.requests if r.provider == "stt" and r.body["type"] == "session.update"
        )

    assert sessions() == 1
    await sim._close_sockets(None)  # the service closes the idle socket
    for _ in range(200):  # no audio pushed: nothing of the next turn has asked for it
        if sessions() >= 2 and stt._conn is not None:
            break
        await asyncio.sleep(0.02)
    assert sessions() == 2 and stt._conn is not None
    for block in np.array_split(speech(), 30):
        stt.push_audio(block)
    assert await stt.commit()
    assert sessions() == 2  # the next turn used it: no dial on its way
    await stt.aclose()


async def test_stt_a_server_closing_every_idle_socket_is_not_redialled_for_ever(sim, monkeypatch):
    """A socket closed between turns is opened again at once; a server or proxy that closes
    every idle socket soon after it opens had it dialled again (a new realtime session)
    each time, for as long as the session ran with nobody speaking. A few are reopened in a
    row at most; after that the next turn's speech dials, and the turn is transcribed."""
    from voicedesk.providers import openai_stt

    monkeypatch.setattr(openai_stt, "_MIN_LIFE_S", 0.0)  # each lived long enough
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    await stt.connect()

    def sessions() -> int:
        return sum(
            1 for r in sim.requests if r.provider == "stt" and r.body["type"] == "session.update"
        )

    most = 1 + openai_stt._REOPENED_MAX
    for _ in range(most + 2):  # the server closes each socket it has, once it is open
        before = sessions()
        await sim._close_sockets(None)
        for _ in range(200):
            reopen = stt._reopen
            settled = stt._conn is None and (reopen is None or reopen.done())
            if (sessions() > before and stt._conn is not None) or settled:
                break
            await asyncio.sleep(0.02)
    assert sessions() == most and stt._conn is None
    for block in np.array_split(speech(), 30):
        stt.push_audio(block)
    assert await stt.commit()  # the turn's speech dialled, and was heard
    await stt.aclose()


async def test_stt_a_turn_ended_while_its_lost_socket_is_reopened_commits_all_its_audio(
    sim, monkeypatch
):
    """The socket closed in the middle of speech, before the commit, and was being opened
    again (its audio to be sent anew) when the turn ended. The commit took the turn's
    audio out of the buffer before it waited for that reopening, which then found nothing
    to send: the new socket committed only the last few milliseconds, and the words said
    before the close were never transcribed. All of it is committed now."""
    from voicedesk.providers import openai_stt

    monkeypatch.setattr(openai_stt, "_MIN_LIFE_S", 0.0)
    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    await stt.connect()
    pcm = speech()
    said = len(pcm) / stt.input_rate
    first, rest = np.array_split(pcm, 2)
    for block in np.array_split(first, 15):
        stt.push_audio(block)
        await asyncio.sleep(0)
    await sim._close_sockets(None)  # closed mid-speech: the server lost what it had

    def reopening() -> bool:  # dialling, the send lock held (a dial takes many steps)
        return stt._reopen is not None and not stt._reopen.done() and stt._send_lock.locked()

    for _ in range(100_000):
        if reopening():
            break
        await asyncio.sleep(0)
    assert reopening()
    for block in np.array_split(rest, 15):
        stt.push_audio(block)
    assert await stt.commit()
    assert sim.committed_audio_s[-1] == pytest.approx(said, abs=0.05)
    await stt.aclose()


async def test_elevenlabs_a_spare_the_service_closed_is_replaced_before_the_answer(sim):
    """The service closes a socket that sent no text for its inactivity timeout (20 s
    unless asked otherwise; a server that gives less than the 180 s asked for, or a proxy
    that drops idle connections, does the same early). The spare it closed was noticed only
    when the next answer took it, and the answer dialled a new one then: a TCP, TLS and
    WebSocket handshake before its first audio after every pause longer than that. A new
    spare is opened as soon as the service closes one."""
    sim.tts_inactivity_s = 1.0
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    await tts.warm()
    for _ in range(200):  # until the service has closed the spare and another is ready
        if sim.tts_sockets >= 2:
            break
        await asyncio.sleep(0.05)
    sim.tts_inactivity_s = None  # the new spare stays open
    opened = sim.tts_sockets
    assert opened >= 2  # the closed spare was replaced while no answer needed it
    await _say_hello(tts)
    # the answer took the waiting spare: the one connection opened since is the next spare
    assert sim.tts_sockets == opened + 1
    await tts.aclose()


async def test_elevenlabs_a_server_closing_every_spare_soon_is_not_redialled_for_ever(sim):
    """A spare the service closes unused is replaced at once; a server or proxy that closes
    every idle socket after a second had it dialled again every second for as long as the
    window stayed open, hours of handshakes for nothing. A few are replaced in a row at
    most; after that the next answer dials its own, and a spare is kept again from then."""
    from voicedesk.providers import elevenlabs_tts

    sim.tts_inactivity_s = 1.0
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    await tts.warm()
    most = 1 + elevenlabs_tts._SPARE_REPLACED_MAX
    for _ in range(400):  # until nothing is left watching (or it has clearly looped)
        if not tts._watching or sim.tts_sockets > most + 2:
            break
        await asyncio.sleep(0.05)
    assert sim.tts_sockets == most and not tts._watching
    sim.tts_inactivity_s = None
    await _say_hello(tts)  # dials its own, and keeps a spare for the next
    assert sim.tts_sockets == most + 2
    await tts.aclose()


async def test_elevenlabs_bad_key_is_named_at_warm(sim):
    tts = ElevenLabsTTS(api_key="sk-bad", voice_id="v1", base_url=sim.base_url)
    with pytest.raises(AuthError, match="ElevenLabs"):
        await tts.warm()
    await tts.aclose()


async def test_elevenlabs_a_key_without_permission_is_named_with_its_status():
    """A restricted key (or a proxy) is refused with 403, not 401: the message says which, and
    what a restricted key lacks."""
    from http import HTTPStatus

    import websockets

    def refuse(connection: Any, request: Any) -> Any:
        return connection.respond(HTTPStatus.FORBIDDEN, "missing_permissions\n")

    async with websockets.serve(
        lambda ws: ws.wait_closed(), "127.0.0.1", 0, process_request=refuse
    ) as server:
        port = server.sockets[0].getsockname()[1]
        tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=f"http://127.0.0.1:{port}")
        with pytest.raises(AuthError, match=r"HTTP 403") as refused:
            await tts.warm()
        assert "Text to Speech permission" in str(refused.value)
        await tts.aclose()


async def test_elevenlabs_a_key_refused_mid_session_is_not_dialled_for_ever(sim, monkeypatch):
    """A key revoked mid-session made every renewal of the spare socket (each 150 s) a
    refused handshake, silently, for as long as the window stayed open. The first refusal
    ends the renewals; the next answer dials its own and fails with the key named."""
    from voicedesk.providers import elevenlabs_tts

    monkeypatch.setattr(elevenlabs_tts, "_SPARE_MAX_AGE_S", 0.2)
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    await tts.warm()
    tts.api_key = "sk-bad"  # the service refuses it from now on, as a revoked key
    for _ in range(100):  # the spare ages and is renewed: that handshake is refused
        if sim.tts_refused:
            break
        await asyncio.sleep(0.02)
    assert sim.tts_refused == 1
    await asyncio.sleep(1.5)  # seven more renewals' time
    assert sim.tts_refused == 1
    with pytest.raises(AuthError, match="ElevenLabs rejected the API key"):
        await tts.open_stream()
    await tts.aclose()


async def _speech_fails(tts: Any, text: str, match: str | None = None) -> None:
    """``tts`` asked to say ``text`` fails with a ProviderError (matching ``match``); the
    stream and the voice closed after it."""
    stream = await tts.open_stream()
    await stream.send_text(text)
    await stream.end_text()
    with pytest.raises(ProviderError, match=match):
        async for _ in stream.audio():
            pass
    await stream.aclose()
    await tts.aclose()


async def test_elevenlabs_dropped_socket_is_a_provider_error(sim):
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    sim.inject("tts", "drop")
    await _speech_fails(tts, "Hello there, this will break. ")


async def test_sim_elevenlabs_times_first_audio_from_the_flush_not_the_first_text(sim):
    """The service starts generating only at a flush (or the schedule's threshold); timed
    from the first text, a first flush that waited for more text came with its audio at
    once, and `bench latency` never saw what waiting for that text costs."""
    import websockets

    sim.latency.ttfb_s = 0.3
    url = sim.base_url.replace("http", "ws", 1) + "/v1/text-to-speech/v1/stream-input"
    async with websockets.connect(url, additional_headers={"xi-api-key": "sk-test"}) as ws:
        await ws.send(json.dumps({"text": " "}))
        await ws.send(json.dumps({"text": "Most of the ocean "}))  # buffered: no flush yet
        await asyncio.sleep(0.5)  # longer than the TTFB
        flushed = time.monotonic()
        await ws.send(json.dumps({"text": "floor is unmapped. ", "flush": True}))
        while "audio" not in json.loads(await ws.recv()):
            pass
        waited = time.monotonic() - flushed
    assert waited >= 0.3  # a full TTFB from the flush (it was ~0: counted from the text)


async def test_openai_tts_streams_pcm_piece_by_piece(sim):
    tts = openai_voice(sim)
    await tts.warm()
    stream = await tts.open_stream()
    await stream.send_text("Hello there, how are you? ")
    await stream.send_text("I am fine.")
    await stream.end_text()
    audio = np.concatenate([c async for c in stream.audio()])
    await stream.aclose()
    await tts.aclose()
    bodies = [r.body for r in sim.requests if r.provider == "tts"]
    assert [b["input"] for b in bodies] == ["Hello there,", "how are you?", "I am fine."]
    assert all(b["response_format"] == "pcm" for b in bodies)
    assert audio.size / 24000 > 1.5


async def test_openai_tts_a_long_first_sentence_is_asked_for_before_it_ends(sim):
    """A first sentence with no comma was requested only once it had all come, and then
    synthesised whole: the person heard nothing for its whole length. Its first words are
    now requested at a word boundary once ~40 characters are in, the rest at its end."""
    text = "Most of the ocean floor has never been mapped in any detail. It is deep."
    pieces = await openai_tts_pieces(sim, text)
    assert pieces == [
        "It is deep.",
        "Most of the ocean floor has never been mapped",
        "in any detail.",
    ]


async def test_openai_tts_a_long_answer_is_asked_for_two_sentences_at_a_time_in_order(sim):
    """A long answer written faster than it was spoken had every sentence asked for at
    once (31 requests in flight for a 3-minute answer at 100 tokens/s, each on a connection
    of its own). Now a piece is asked for once the one two before it is in: two at a time,
    in the answer's order, on two kept-alive connections."""
    tts = openai_voice(sim)
    begun: list[str] = []
    synth = tts._synth

    def recorded(text: str):
        begun.append(text)
        return synth(text)

    tts._synth = recorded  # type: ignore[method-assign]
    stream = await tts.open_stream()
    sentences = [f"This is sentence number {i} of a long story." for i in range(12)]
    for sentence in sentences:
        await stream.send_text(sentence + " ")
    await stream.end_text()
    audio = [c async for c in stream.audio()]
    await stream.aclose()
    await tts.aclose()
    asked = [r for r in sim.requests if r.provider == "tts"]
    # asked in the answer's order; two in flight may reach the server either way round
    # (on a loaded machine 9 and 10 did), so the server's order is no measure of it
    assert begun == sentences
    assert sorted(r.body["input"] for r in asked) == sorted(sentences)
    assert len({r.peer for r in asked}) == 2
    assert sum(c.size for c in audio) / 24_000 > 12


JAPANESE = "今日はいい天気ですね。午後は少し雲が出ますが、雨は降らないでしょう。"


async def test_elevenlabs_text_without_spaces_goes_out_clause_by_clause(sim):
    """Japanese and Chinese put no spaces between words: the text was held back as one
    "half word" until the answer ended, and only then spoken. It is cut after each
    full-width punctuation mark now, the first clause flushed at once."""
    tts = ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url)
    stream = await tts.open_stream()
    for at in range(0, len(JAPANESE), 3):  # deltas of three characters, as a model's tokens
        await stream.send_text(JAPANESE[at : at + 3])
    await stream.end_text()
    audio = np.concatenate([c async for c in stream.audio()])
    await stream.aclose()
    await tts.aclose()
    sent = [r.body for r in sim.requests if r.provider == "tts" and r.body.get("text") != " "]
    assert sent[:4] == [
        {"text": "今日はいい天気ですね。 ", "try_trigger_generation": True, "flush": True},
        {"text": "午後は少し雲が出ますが、 ", "try_trigger_generation": True},
        {"text": "雨は降らないでしょう。 ", "try_trigger_generation": True},
        {"text": ""},
    ]
    assert stream.letters_spoken_at(audio.size) == len(JAPANESE)


async def test_openai_tts_text_without_spaces_is_cut_at_its_full_width_marks(sim):
    threes = [JAPANESE[at : at + 3] for at in range(0, len(JAPANESE), 3)]  # as a model's tokens
    pieces = await openai_tts_pieces(sim, JAPANESE, threes)
    assert pieces == ["今日はいい天気ですね。午後は少し雲が出ますが、", "雨は降らないでしょう。"]


async def test_openai_tts_the_next_answer_after_a_pause_reuses_the_connection(sim):
    """Each answer's first sentence is a new request; after more than httpx's default
    keep-alive (5 s) of the person talking, it opened a new connection on the way to the
    first audio."""
    tts = openai_voice(sim)
    await tts.warm()
    for pause_s in (0.0, 6.0):
        await asyncio.sleep(pause_s)
        stream = await tts.open_stream()
        await stream.send_text("Hello there.")
        await stream.end_text()
        assert [c async for c in stream.audio()]
        await stream.aclose()
    await tts.aclose()
    peers = [r.peer for r in sim.requests if r.provider == "tts"]
    assert len(peers) == 2 and peers[0] is not None
    assert peers[1] == peers[0]


async def test_openai_tts_failure_says_what_the_server_said(sim):
    """Only the status reached the person ("OpenAI speech failed (HTTP 500)"), not the
    server's reason, which is what says whether to wait, fix the voice or shorten the text."""
    tts = openai_voice(sim)
    sim.inject("tts", "500", times=5)
    await _speech_fails(tts, "Hello there.", r"HTTP 500\): The server had an error")


@pytest.mark.parametrize(("fault", "said"), [("drop", "broke off"), ("stall", "timed out")])
async def test_openai_tts_speech_cut_off_mid_answer_is_a_provider_error(sim, fault, said):
    """Speech whose connection broke, or went quiet, after its first audio failed the
    answer with the HTTP library's own error, which the SDK does not wrap: the person was
    told "No answer for turn 2: peer closed connection without sending complete message
    body (incomplete chunked read)" for a cut, and "No answer for turn 2: " for a read
    that timed out (its message is empty), with no word of OpenAI speech."""
    tts = openai_voice(sim, timeout_s=1)
    sim.inject("tts", fault)
    text = "It is ten past three, and the sun is still up over the hills."
    await _speech_fails(tts, text, rf"^OpenAI speech {said}")


async def test_sim_server_closes_at_once_with_a_socket_left_open() -> None:
    """A TTS socket a client never closed held every demo quit for a second."""
    import websockets

    server = SimServer(SCRIPT, SimLatency(**vars(FAST)))
    await server.start()
    url = server.base_url.replace("http", "ws", 1) + "/v1/text-to-speech/v/stream-input"
    ws = await websockets.connect(url, additional_headers={"xi-api-key": "k"})
    await ws.send('{"text": " "}')
    await server.close()
    # the server closed it as it went away, not the client's end nor a shutdown timeout
    # (how soon is not asserted: a loaded machine stretches it)
    with pytest.raises(websockets.ConnectionClosed):
        await ws.recv()
    assert ws.close_code == 1001, (ws.close_code, ws.close_reason)
    await ws.close()


@pytest.mark.parametrize(
    ("wording", "window", "counted"),
    [("openai", 300, True), ("llama.cpp", 300, True), ("plain", None, False)],
)
async def test_llm_a_request_over_the_models_window_is_named_as_too_long(wording, window, counted):
    """Each server words the refusal its own way; the window and the server's count of the
    prompt are read wherever it gives them, and such a request is not retried as it is."""
    from voicedesk.errors import ContextTooLongError

    async with SimServer(
        SCRIPT, SimLatency(**vars(FAST)), context_window=300, context_error=wording
    ) as sim:
        llm = _chat(sim)
        short = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
        text = "".join([i.text async for i in llm.stream(short) if isinstance(i, TextDelta)])
        assert text == "It is ten past three."
        long = ChatRequest(
            messages=[{"role": "user", "content": "What time is it? " * 200}], max_tokens=100
        )
        with pytest.raises(ContextTooLongError) as caught:
            async for _ in llm.stream(long):
                pass
        await llm.aclose()
    body = sim.too_long[0]
    assert len(sim.too_long) == 1 and len(sim.chat_requests()) == 2  # no retry
    assert caught.value.window == window
    assert caught.value.prompt_tokens == (sim.request_tokens(body) if counted else None)
    assert "too long" in caught.value.message
    if window is not None:
        assert f"{window} tokens" in caught.value.message


@contextlib.asynccontextmanager
async def _other_chat_server(handler: Any, **kw: Any) -> AsyncIterator[OpenAIChat]:
    """A chat client of a server the simulated cloud does not imitate: ``handler`` answers
    its chat completions, over a real socket."""
    async with (
        serving("/v1/chat/completions", handler) as url,
        contextlib.aclosing(
            OpenAIChat(api_key="sk-test", model="m", base_url=f"{url}/v1", **kw)
        ) as llm,
    ):
        yield llm


@pytest.mark.parametrize(
    ("status", "body", "window", "prompt"),
    [
        # vLLM, OpenRouter and OpenAI's older wording
        (
            400,
            {
                "message": "This model's maximum context length is 8192 tokens. However, your "
                "messages resulted in 9011 tokens. Please reduce the length of the messages.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            },
            8192,
            9011,
        ),
        # newer vLLM
        (
            400,
            {
                "message": "'max_tokens' or 'max_completion_tokens' is too large: 400. This "
                "model's maximum context length is 4096 tokens and your request has 3900 "
                "input tokens (400 > 4096 - 3900).",
                "type": "BadRequestError",
                "code": 400,
            },
            4096,
            3900,
        ),
        # an older llama.cpp server, as a 500
        (
            500,
            {
                "code": 500,
                "message": "the request exceeds the available context size. try increasing "
                "the context size or enable context shift",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 1407,
                "n_ctx": 256,
            },
            256,
            1407,
        ),
        # Mistral
        (
            400,
            {
                "message": "Prompt contains 40123 tokens and 400 draft tokens, too large for "
                "model with 32768 maximum context length",
                "type": "invalid_request_error",
            },
            32768,
            40123,
        ),
        # not about the context: a reply limit over the model's own
        (
            400,
            {
                "message": "max_tokens is too large: 100000. This model supports at most "
                "16384 completion tokens, whereas you provided 100000.",
                "type": "invalid_request_error",
                "code": "invalid_value",
            },
            "not too long",
            None,
        ),
    ],
)
async def test_llm_refusals_worded_by_other_servers_are_read_too(status, body, window, prompt):
    """Servers the simulated cloud does not imitate, served as they answer."""
    from aiohttp import web

    from voicedesk.errors import ContextTooLongError

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": body}, status=status)

    async with _other_chat_server(refuse, max_retries=0) as llm:
        with pytest.raises(ProviderError) as caught:
            async for _ in llm.stream(ChatRequest(messages=[{"role": "user", "content": "hi"}])):
                pass
    if window == "not too long":
        assert not isinstance(caught.value, ContextTooLongError)
        assert "max_tokens is too large" in caught.value.message
    else:
        assert isinstance(caught.value, ContextTooLongError)
        assert (caught.value.window, caught.value.prompt_tokens) == (window, prompt)


# ---------------------------------------------------------------- proxies
@pytest.fixture
def dead_proxy(monkeypatch):
    """A proxy in the environment that refuses every connection (port 9, discard, closed)."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


async def _time_answered_and_closed(llm: OpenAIChat) -> str:
    """The text ``llm`` answers "What time is it?" with; ``llm`` is closed after, however
    the request went."""
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    try:
        items = [item async for item in llm.stream(request)]
    finally:
        await llm.aclose()
    return "".join(i.text for i in items if isinstance(i, TextDelta))


async def test_a_server_on_this_machine_is_reached_directly_whatever_proxy_is_set(sim, dead_proxy):
    """Behind a company proxy, `voicedesk demo` and a model server on this machine (llama.cpp,
    Ollama) failed as unreachable: every connection, to 127.0.0.1 too, went to the proxy,
    which cannot reach this machine's loopback anyway."""
    llm = _chat(sim)
    await llm.warm()
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    items = [item async for item in llm.stream(request)]
    await llm.aclose()
    assert "".join(i.text for i in items if isinstance(i, TextDelta)) == "It is ten past three."

    stt = OpenAIRealtimeSTT(api_key="sk-test", base_url=f"{sim.base_url}/v1")
    await stt.connect()
    try:
        for block in np.array_split(speech(), 100):
            stt.push_audio(block)
        assert await stt.commit() == "What time is it?"
    finally:
        await stt.aclose()

    for tts in (
        ElevenLabsTTS(api_key="sk-test", voice_id="v1", base_url=sim.base_url),
        openai_voice(sim),
    ):
        await tts.warm()
        stream = await tts.open_stream()
        await stream.send_text("Hello there.")
        await stream.end_text()
        audio = np.concatenate([c async for c in stream.audio()])
        await stream.aclose()
        await tts.aclose()
        assert audio.size > 0


async def test_a_server_on_another_loopback_address_is_reached_directly_too(dead_proxy):
    """127.0.0.2 is this machine as much as 127.0.0.1 (websockets reached it directly), but
    the HTTP clients sent it to the proxy: a model server bound there was "unreachable"."""
    async with SimServer(SCRIPT, SimLatency(**vars(FAST)), host="127.0.0.2") as server:
        llm = _chat(server)
        answer = await _time_answered_and_closed(llm)
    assert answer == "It is ten past three."


async def test_an_ipv4_loopback_address_written_as_ipv6_is_reached_directly(sim, dead_proxy):
    """The address "::ffff:127.0.0.1" is 127.0.0.1 written as IPv6 (a server that listens on
    both families prints it), but Python's ``is_loopback`` says no: the chat went to the proxy."""
    port = urlsplit(sim.base_url).port
    url = f"http://[::ffff:127.0.0.1]:{port}/v1"
    llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=url)
    assert await _time_answered_and_closed(llm) == "It is ten past three."


async def test_openai_base_url_is_taken_as_the_rest_of_voicedesk_reads_it(sim, monkeypatch):
    """An empty ``OPENAI_BASE_URL=`` was the address "" to the SDK (every request: "Connection
    error") while voicedesk took it as unset; one with spaces around it was used with them."""
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini")
    assert llm.server_url == "https://api.openai.com/v1"
    await llm.aclose()

    monkeypatch.setenv("OPENAI_BASE_URL", f"  {sim.base_url}/v1 \n")
    llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini")
    assert await _time_answered_and_closed(llm) == "It is ten past three."


async def _streamed_tool_calls(deltas: list[dict[str, Any]]) -> list[Any]:
    """The tool calls read from a server the sim does not imitate, which streams each of
    ``deltas`` as a chunk's ``tool_calls`` and then finishes the answer with them."""
    from aiohttp import web

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        return f"data: {json.dumps({**body, 'choices': [choice]})}\n\n".encode()

    async def answer(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chunk({"role": "assistant", "content": None}))
        for delta in deltas:
            await resp.write(chunk({"tool_calls": [delta]}))
        await resp.write(chunk({}, "tool_calls"))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async with _other_chat_server(answer) as llm:
        request = ChatRequest(messages=[{"role": "user", "content": "What is in my notes?"}])
        items = [item async for item in llm.stream(request)]
    (calls,) = [i.calls for i in items if isinstance(i, ToolCalls)]
    return calls


async def test_tool_calls_a_server_sends_without_ids_are_given_distinct_ones():
    """Some OpenAI-compatible servers stream tool calls with no id (or ""): two calls then
    shared the id "", and their results could not be told apart (nor sent: the next
    request answered one call twice and the other never)."""
    deltas: list[dict[str, Any]] = []
    for i, (name, args) in enumerate((("list_documents", "{}"), ("read_document", "{}"))):
        call: dict[str, Any] = {"index": i, "type": "function", "function": {"name": name}}
        if i:
            call["id"] = ""
        deltas += [call, {"index": i, "function": {"arguments": args}}]
    calls = await _streamed_tool_calls(deltas)
    assert [c.name for c in calls] == ["list_documents", "read_document"]
    ids = [c.id for c in calls]
    assert all(ids) and len(set(ids)) == 2


async def test_parallel_tool_calls_a_server_streams_under_one_index_stay_apart():
    """Ollama streams every call of a parallel batch with index 0 (each with its own id):
    they were merged into one call, named "list_documentsread_document" with the arguments
    '{}{"name": "a.md"}', which no tool has; a new id at an index starts a new call."""
    deltas: list[dict[str, Any]] = []
    calls_made = (("call_a", "list_documents", "{}"), ("call_b", "read_document", '{"name": '))
    for call_id, name, args in calls_made:
        function = {"name": name, "arguments": args}
        deltas.append({"index": 0, "id": call_id, "type": "function", "function": function})
    # the rest of the second call's arguments, with no id: still the second call's
    deltas.append({"index": 0, "function": {"arguments": '"a.md"}'}})
    calls = await _streamed_tool_calls(deltas)
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "list_documents", "{}"),
        ("call_b", "read_document", '{"name": "a.md"}'),
    ]


@contextlib.asynccontextmanager
async def _refusing_proxy() -> AsyncIterator[str]:
    """A real HTTP proxy that refuses every tunnel, as a company proxy wanting a login does
    (407 Proxy Authentication Required)."""

    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n"
            b'Proxy-Authenticate: Basic realm="corp"\r\nContent-Length: 0\r\n\r\n'
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_proxy_that_refuses_the_tunnel_is_named_not_the_server(monkeypatch):
    """A company proxy that refused the WebSocket's tunnel (407: it wants a login) was
    reported as the server giving "no WebSocket answer", with the advice to check
    stt.base_url (or tts.elevenlabs_base_url), where nothing was wrong: the proxy is named, with
    what it said and the variables that choose it."""
    async with _refusing_proxy() as proxy:
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        stt = OpenAIRealtimeSTT(
            api_key="sk-test", base_url="http://stt.example.com/v1", connect_timeout_s=5
        )
        with pytest.raises(ProviderError) as said:
            await stt.connect()
        await stt.aclose()
        tts = ElevenLabsTTS(api_key="el-test", voice_id="v", base_url="http://tts.example.com")
        with pytest.raises(ProviderError) as tts_said:
            await tts.warm()
        await tts.aclose()
    for error in (said.value, tts_said.value):
        text = str(error)
        assert "407" in text and f"proxy {proxy}" in text, text
        assert "HTTPS_PROXY" in text and "NO_PROXY" in text, text
        assert "base_url" not in text and "no WebSocket answer" not in text, text


async def _answers(server: SimServer, model: str, questions: list[str]) -> list[str]:
    """What a chat model of ``model``'s name answers each question with, in one session."""
    llm = OpenAIChat(api_key="sk-test", model=model, base_url=f"{server.base_url}/v1")
    said = []
    try:
        for question in questions:
            request = ChatRequest(messages=[{"role": "user", "content": question}])
            said.append(await _answered(llm, request))
    finally:
        await llm.aclose()
    return said


async def test_llm_thinking_begun_in_the_prompt_is_not_spoken():
    """DeepSeek-R1's chat template (and its distills', QwQ's, Qwen3-Thinking-2507's) ends the
    prompt with ``<think>``: the stream starts mid-thought and only ``</think>`` comes
    (ggml-org/llama.cpp#11861, vllm-project/vllm#13125). With no opener seen, every turn's
    thinking was spoken aloud, then the closing tag, then the answer. A model of such a
    name is taken to begin so from its first turn."""
    async with SimServer(SCRIPT, SimLatency(**vars(FAST)), reasoning="prompted") as server:
        said = await _answers(
            server, "deepseek-r1-distill-qwen-7b", ["What time is it?", "What time is it?"]
        )
    assert said == ["It is ten past three."] * 2


async def test_llm_thinking_begun_in_the_prompt_is_learnt_from_its_closing_tag():
    """A model whose name says nothing of it: the first ``</think>`` with no opener tells;
    what followed it is the answer, and the later turns' thinking is held back whole."""
    async with SimServer(SCRIPT, SimLatency(**vars(FAST)), reasoning="prompted") as server:
        said = await _answers(server, "local-model", ["What time is it?"] * 3)
    assert said[0].endswith("It is ten past three.")
    assert "</think>" not in said[0]
    assert said[1:] == ["It is ten past three."] * 2


@pytest.mark.parametrize("tag", ["thought", "thinking", "reasoning"])
async def test_llm_thinking_begun_in_the_prompt_is_held_by_the_closing_tag_it_showed(tag):
    """EXAONE Deep's template opens ``<thought>`` in the prompt, and the model closes it with
    ``</thought>``: learnt from the first turn, the later ones were held for ``</think>``,
    which never came. The whole answer waited for the stream's end, then was said with its
    thinking and the tag, and the turn after spoke its thinking again. The tag it showed is
    the one waited for."""
    script = SimScript(
        turns=[
            SimTurn(
                transcript="What time is it?",
                reply=f"The person wants the time. </{tag}> It is ten past three.",
            )
        ]
    )
    async with SimServer(script, SimLatency(**vars(FAST))) as server:
        said = await _answers(server, "exaone-deep:7.8b", ["What time is it?"] * 3)
    # the first turn's thought was said before its tag showed what it was; not the tag
    assert said[0].endswith("It is ten past three.") and "</" not in said[0]
    assert said[1:] == ["It is ten past three."] * 2


@pytest.mark.parametrize("style", [None, "field", "content"])
async def test_llm_a_model_named_as_thinking_in_the_prompt_that_does_not_still_answers(style):
    """A model of such a name whose server sends its thinking apart, or with both tags, or
    none at all: its answer is said, whole (held back at most for the first turn)."""
    async with SimServer(SCRIPT, SimLatency(**vars(FAST)), reasoning=style) as server:
        said = await _answers(server, "deepseek-r1:8b", ["What time is it?"] * 2)
    assert said == ["It is ten past three."] * 2


@pytest.mark.parametrize(
    "model, effort, unseen",
    [("gpt-5-mini", "minimal", 0), ("gpt-5.1", "none", 0), ("o4-mini", "low", 1)],
)
async def test_llm_a_reasoning_model_is_asked_to_think_least(sim, model, effort, unseen):
    """OpenAI's reasoning models think at "medium" effort unless told otherwise: seconds of
    silence before every answer, and the 400-token cap spent thinking. A model known to
    reason (it refused max_tokens) is asked for the least its family takes (gpt-5
    "minimal", gpt-5.1 "none", the o-series "low"), learnt from its refusals of the
    others; later turns are sent so at once."""
    llm = OpenAIChat(api_key="sk-test", model=model, base_url=f"{sim.base_url}/v1")
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=400, temperature=0.7
    )
    sent = []
    try:
        for _ in range(2):
            items = [item async for item in llm.stream(request)]
            text = "".join(i.text for i in items if isinstance(i, TextDelta))
            assert text == "It is ten past three."
            sent.append(len(sim.chat_requests()))
    finally:
        await llm.aclose()
    body = sim.chat_requests()[-1]
    assert body["reasoning_effort"] == effort
    (usage,) = [i for i in items if isinstance(i, Usage)]
    assert usage.unseen_tokens == unseen * len(THOUGHT.split(" "))
    assert sent[1] == sent[0] + 1  # the second turn: one request, sent as the model takes it


async def test_llm_a_model_that_does_not_reason_is_not_sent_an_effort(sim):
    """gpt-4o-mini refuses ``reasoning_effort`` ("Unrecognized request argument supplied"):
    a model not known to reason is sent none, one request a turn as before."""
    llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=400
    )
    try:
        for _ in range(2):
            [item async for item in llm.stream(request)]
    finally:
        await llm.aclose()
    assert [b.get("reasoning_effort") for b in sim.chat_requests()] == [None, None]


@pytest.mark.parametrize(
    "model, asked, sent",
    [("gpt-5-mini", "low", "low"), ("o4-mini", "minimal", "low"), ("gpt-4o-mini", "low", None)],
)
async def test_llm_a_chosen_effort_is_sent_as_the_model_takes_it(sim, model, asked, sent):
    """``llm.reasoning_effort`` set to a level is sent from the first request; a model that
    does not take that level is sent the nearest it takes, one that takes no effort (it
    refused the parameter) none: never a turn failed with HTTP 400."""
    llm = OpenAIChat(
        api_key="sk-test", model=model, base_url=f"{sim.base_url}/v1", reasoning_effort=asked
    )
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=400
    )
    try:
        for _ in range(2):
            text = await _answered(llm, request)
            assert text == "It is ten past three."
    finally:
        await llm.aclose()
    assert sim.chat_requests()[0]["reasoning_effort"] == asked
    assert sim.chat_requests()[-1].get("reasoning_effort") == sent


@pytest.mark.parametrize(
    "model, effort", [("gpt-5.4", "low"), ("gpt-5.6", "server"), ("gpt-5.6", "lowest")]
)
async def test_llm_a_model_that_takes_tools_only_without_thinking_is_sent_them_so(
    sim, model, effort
):
    """GPT-5.2 and later refuse function tools with a reasoning effort on Chat Completions
    ("Function tools with reasoning_effort are not supported for gpt-5.4 in
    /v1/chat/completions. To use function tools, use /v1/responses or set reasoning_effort
    to 'none'."), GPT-5.6 even with none sent (its own default): with the documents tools
    on, every turn failed with HTTP 400. Its words are followed: "none" is sent."""
    llm = OpenAIChat(
        api_key="sk-test", model=model, base_url=f"{sim.base_url}/v1", reasoning_effort=effort
    )
    request = ChatRequest(
        messages=[{"role": "user", "content": "List my documents."}],
        tools=[{"type": "function", "function": {"name": "docs__list_documents"}}],
        max_tokens=400,
    )
    try:
        for _ in range(2):
            items = [item async for item in llm.stream(request)]
            assert [i for i in items if isinstance(i, ToolCalls)]
    finally:
        await llm.aclose()
    assert sim.chat_requests()[-1]["reasoning_effort"] == "none"


@pytest.mark.parametrize("effort", ["server", "high"])
async def test_llm_a_reasoning_model_thinking_past_the_deadline_names_the_effort(effort):
    """With the model left to think at its own default effort (``server``), or at a level
    above the least, the deadline's hint said to wait longer or change models, not that
    ``llm.reasoning_effort`` makes it think less."""
    request = ChatRequest(
        messages=[{"role": "user", "content": "What time is it?"}], max_tokens=200
    )
    error = await past_the_deadline("o4-mini", request, reasoning_effort=effort)
    assert error.hint is not None
    assert "llm.reasoning_effort" in error.hint


async def test_llm_a_model_whose_usage_counts_unseen_thinking_is_asked_to_think_least(sim):
    """A request with no cap nor temperature (a summary's), or one relayed by a proxy that
    takes ``max_tokens`` for the model: nothing refused, so nothing said the model reasons,
    but its usage counts thinking it never sent (``reasoning_tokens``): from the next
    request it is asked for the least effort."""
    llm = OpenAIChat(api_key="sk-test", model="gpt-5-mini", base_url=f"{sim.base_url}/v1")
    request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
    unseen = []
    try:
        for _ in range(2):
            items = [item async for item in llm.stream(request)]
            unseen += [i.unseen_tokens for i in items if isinstance(i, Usage)]
    finally:
        await llm.aclose()
    assert unseen[0] > 0 and unseen[1] == 0
    assert "reasoning_effort" not in sim.chat_requests()[0]
    assert sim.chat_requests()[-1]["reasoning_effort"] == "minimal"


async def test_llm_a_lone_closing_tag_is_learnt_by_an_answer_cut_short():
    """The person spoke over the first answer, cut after its closing tag: what it taught
    holds for the next one (it was learnt only by a stream that reached its end)."""
    async with SimServer(SCRIPT, SimLatency(**vars(FAST)), reasoning="prompted") as server:
        llm = OpenAIChat(api_key="sk-test", model="local-model", base_url=f"{server.base_url}/v1")
        request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
        try:
            stream = llm.stream(request)
            async for item in stream:
                if isinstance(item, TextDelta) and "It" in item.text:
                    break  # the answer's first word: cut here
            await stream.aclose()
            items = [item async for item in llm.stream(request)]
        finally:
            await llm.aclose()
    assert "".join(i.text for i in items if isinstance(i, TextDelta)) == "It is ten past three."


async def test_llm_a_tool_call_without_its_thought_is_sent_an_empty_one_for_deepseek():
    """DeepSeek's thinking mode refuses a request any of whose tool-call messages has no
    ``reasoning_content`` ("Missing `reasoning_content` field in the assistant message at
    message index 1"), in every later turn. A conversation resumed from a log written
    before the thought was kept (or calls made while it thought nothing) has such messages:
    every turn failed until they left the window. The refusal is learnt and such a
    message sent with an empty one, which it takes (continuedev/continue#11285)."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "docs__read_document", "arguments": '{"path": "plan.md"}'},
    }
    history = [
        {"role": "user", "content": "Whose is the plan?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "# Plan\n\nMine."},
        {"role": "assistant", "content": "It is yours."},
        {"role": "user", "content": "What time is it?"},
    ]
    async with SimServer(SCRIPT, SimLatency(**vars(FAST)), reasoning="deepseek") as server:
        async with contextlib.aclosing(
            OpenAIChat(
                api_key="sk-test", model="deepseek-reasoner", base_url=f"{server.base_url}/v1"
            )
        ) as llm:
            for _ in range(2):  # learnt: the second turn is not refused first
                request = ChatRequest(messages=[dict(m) for m in history])
                said = await _answered(llm, request)
                assert said == "It is ten past three."
        sent = [r["messages"][1] for r in server.chat_requests()]
    assert [m.get("reasoning_content") for m in sent] == [None, "", ""]


async def test_llm_an_effort_asked_unbidden_and_refused_in_other_words_is_dropped():
    """A model whose usage counts thinking it never streams is asked for the least effort
    ("none") without the person setting one. Gemini's 2.5 Pro behind a gateway that counts
    its thoughts so refuses it in its own words: HTTP 400 "Budget 0 is invalid. This model
    only works in thinking mode." (INVALID_ARGUMENT; mozilla-ai/any-llm#1294), no
    ``unsupported_value``: every turn after the first failed. An effort voicedesk chose
    itself, refused in words about thinking, is not sent again."""
    from aiohttp import web

    bodies: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        bodies.append(body)
        if "reasoning_effort" in body:
            said = "Budget 0 is invalid. This model only works in thinking mode."
            error = {"code": 400, "message": said, "status": "INVALID_ARGUMENT"}
            return web.json_response([{"error": error}], status=400)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        usage = {
            "prompt_tokens": 9,
            "completion_tokens": 140,
            "total_tokens": 149,
            "completion_tokens_details": {"reasoning_tokens": 133},
        }
        for choices, extra in (
            ([{"index": 0, "delta": {"role": "assistant", "content": "Ten past three."}}], {}),
            ([{"index": 0, "delta": {}, "finish_reason": "stop"}], {}),
            ([], {"usage": usage}),
        ):
            chunk = {**base, "choices": choices, **extra}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async with (
        _chat_server(chat) as base_url,
        contextlib.aclosing(
            OpenAIChat(api_key="sk-test", model="gemini-2.5-pro", base_url=base_url)
        ) as llm,
    ):
        said = []
        for _ in range(3):
            request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
            said.append(await _answered(llm, request))
    assert said == ["Ten past three."] * 3
    # asked once, refused, never again
    assert [b.get("reasoning_effort") for b in bodies] == [None, "none", None, None]


@contextlib.asynccontextmanager
async def _chat_server(handler: Any) -> AsyncIterator[str]:
    """A chat completions endpoint answered by ``handler``, on a real socket: the base URL."""
    from aiohttp import web

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await runner.cleanup()


async def test_llm_an_error_wrapped_in_a_list_is_said_in_the_servers_words():
    """Gemini's OpenAI-compatible endpoint wraps its error object in a list,
    ``[{"error": {"code": 400, "message": …}}]``: the person read "The language model failed
    (HTTP 400): Error code: 400", the server's words (a bad key, a refused value) lost."""
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        said = "API key not valid. Please pass a valid API key."
        error = {"code": 400, "message": said, "status": "INVALID_ARGUMENT"}
        return web.json_response([{"error": error}], status=400)

    async with (
        _chat_server(chat) as base_url,
        contextlib.aclosing(
            OpenAIChat(api_key="sk-test", model="gemini-2.5-flash", base_url=base_url)
        ) as llm,
    ):
        request = ChatRequest(messages=[{"role": "user", "content": "What time is it?"}])
        with pytest.raises(ProviderError) as caught:
            _ = [item async for item in llm.stream(request)]
    assert "API key not valid. Please pass a valid API key." in caught.value.message


HINDI = (
    "दिल्ली भारत की राजधानी है। यहाँ बहुत सारे ऐतिहासिक स्मारक हैं। "
    "लाल किला सबसे प्रसिद्ध है। आप कुतुब मीनार भी देख सकते हैं।"
)
THAI = (
    "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย มีประชากรประมาณสิบล้านคน อากาศร้อนเกือบทั้งปี "
    "นักท่องเที่ยวนิยมไปวัดพระแก้วและตลาดน้ำ อาหารริมทางอร่อยมากและราคาไม่แพง"
)
ARABIC = "القاهرة هي عاصمة مصر، وهي أكبر مدينة عربية. هل تريد أن تعرف المزيد؟ يمكنني أن أخبرك."


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        (
            HINDI,
            [
                "दिल्ली भारत की राजधानी है।",
                "यहाँ बहुत सारे ऐतिहासिक स्मारक हैं।",
                "लाल किला सबसे प्रसिद्ध है।",
                "आप कुतुब मीनार भी देख सकते हैं।",
            ],
        ),
        (
            THAI,  # no full stops: a blank ends a clause, a piece once 40 characters are in
            [
                "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย มีประชากรประมาณสิบล้านคน",
                "อากาศร้อนเกือบทั้งปี นักท่องเที่ยวนิยมไปวัดพระแก้วและตลาดน้ำ",
                "อาหารริมทางอร่อยมากและราคาไม่แพง",
            ],
        ),
        (
            ARABIC,
            [
                "القاهرة هي عاصمة مصر،",
                "وهي أكبر مدينة عربية.",
                "هل تريد أن تعرف المزيد؟",
                "يمكنني أن أخبرك.",
            ],
        ),
    ],
)
async def test_openai_tts_hindi_thai_and_arabic_are_cut_at_their_own_sentence_ends(
    sim, text, pieces
):
    """Hindi ends a sentence with "।", Arabic asks with "؟", Thai ends one with a blank:
    none was a place to cut, so a Hindi or Thai answer went to the voice as its first 40
    characters and then all the rest in one piece, asked for only once the model had
    written it all."""
    asked = await openai_tts_pieces(sim, text)
    assert asked == sorted(pieces)


async def test_openai_tts_an_abbreviation_s_full_stop_inside_a_sentence_is_no_cut(sim):
    """ "etc. and", "No. 5", "Fig. 3", "St. Louis": each full stop was taken for a
    sentence's end, and the voice said "see Fig." with a falling voice and a pause, then
    "3 and No." as a sentence of its own. A sentence's own full stop still ends a piece,
    one before a list's next line too."""
    text = (
        "Here is the plan for today. Bring pens, paper, etc. and a laptop. "
        "See Fig. 3 and No. 5 in St. Louis. Then we go.\neggs.\nmilk."
    )
    asked = await openai_tts_pieces(sim, text)
    assert asked == sorted(
        [
            "Here is the plan for today.",
            "Bring pens, paper, etc. and a laptop.",
            "See Fig. 3 and No. 5 in St. Louis.",
            "Then we go.",
            "eggs.",
            "milk.",
        ]
    )


async def test_openai_tts_a_german_abbreviation_before_a_noun_is_no_cut(sim):
    """German writes "ca." (about), "bzw." (or), "Nr." (number) and "vgl." (compare)
    before a noun, and its nouns have capitals: each full stop was taken for a sentence's
    end, and the first piece, "Es kostet ca.", went to the voice alone, said as a sentence
    with a falling voice and a pause; later ones were cut after "bzw." and "Nr." too."""
    text = (
        "Es kostet ca. Fünf Euro im Laden. Oder bzw. Zehn Euro online, vgl. Seite zwei. "
        "Nr. Drei kommt morgen."
    )
    asked = await openai_tts_pieces(sim, text)
    assert asked == sorted(
        [
            "Es kostet ca. Fünf Euro im Laden.",
            "Oder bzw. Zehn Euro online, vgl. Seite zwei.",
            "Nr. Drei kommt morgen.",
        ]
    )


async def test_openai_tts_a_long_sentence_after_the_first_piece_is_cut_at_a_comma(sim):
    """A later piece ended only at a sentence's end: a long sentence after a short first
    one was one piece, still being made by Piper when the short one had played: the
    person heard silence mid-answer (~0.3 s idle here, 1.5-2 s with the cores busy). Past
    80 characters a later
    piece ends at its next comma; a number's comma ("12,000") is none."""
    text = (
        "Sure, here is what I found. The northern route follows the river for most of the "
        "way, crosses the old stone bridge near the mill, climbs through the pine forest "
        "on a narrow gravel track of 12,000 steps, and then comes down into the valley. "
        "It takes three hours."
    )
    asked = await openai_tts_pieces(sim, text)
    assert asked == sorted(
        [
            "Sure, here is what I found.",
            "The northern route follows the river for most of the way, crosses the old stone "
            "bridge near the mill,",
            "climbs through the pine forest on a narrow gravel track of 12,000 steps, "
            "and then comes down into the valley.",
            "It takes three hours.",
        ]
    )


async def test_openai_tts_a_step_s_number_in_a_running_list_begins_its_step(sim):
    """A number after a full stop was taken for a sentence going on ("No. 5"), so a step
    list written on one line ("1. Preheat the oven to 200. 2. Mix the flour.") was cut
    after the next step's number: the voice said "to 200. 2." with a falling voice and a
    pause, then "Mix the flour. 3." A step's number ("2. ", "3) ") begins a sentence."""
    text = (
        "Here is how to do it. 1. Preheat the oven to 200. 2. Mix the flour and sugar. "
        "3) Bake for 20 minutes. Version 2. 5 bugs were fixed in No. 4."
    )
    asked = await openai_tts_pieces(sim, text)
    assert asked == sorted(
        [
            "Here is how to do it.",
            "1. Preheat the oven to 200.",
            "2. Mix the flour and sugar.",
            "3) Bake for 20 minutes.",
            "Version 2. 5 bugs were fixed in No. 4.",
        ]
    )


async def test_openai_tts_a_piece_whose_speech_broke_off_is_not_heard_whole(sim):
    """A piece whose speech broke off after its first chunk (the connection cut, the
    answer failed) ended there, and what had played of the answer was told as if it had
    all come: the whole piece, so a failure mid-sentence left its unsaid words in the
    history as heard. Its audio is only a part of it: what played is a share of the
    length it would have had."""
    from voicedesk.errors import ProviderError

    tts = openai_voice(sim)
    sim.inject("tts", "drop", 2)  # the SDK's retry too
    stream = await tts.open_stream()
    text = "We will review the quarterly budget together with the whole team on Monday."
    for word in text.split(" "):
        await stream.send_text(word + " ")
    await stream.end_text()
    chunks: list[np.ndarray] = []
    with pytest.raises(ProviderError):
        async for chunk in stream.audio():
            chunks.append(chunk)
    await stream.aclose()
    await tts.aclose()
    played = sum(c.size for c in chunks)
    assert 0 < played < 0.5 * 24_000  # one chunk of the sentence's audio came
    first = "We will review the quarterly budget together"  # the first piece
    letters = stream.letters_spoken_at(played)
    # 0.25 s of speech holds a word or two, not the first piece's seven
    assert letters < len(first.replace(" ", "")) // 2, letters


async def test_stt_server_that_never_accepts_is_still_said_at_connect():
    """The transcriber's deadline leaves out the loop's own stalls, not a server's silence."""
    with _never_accepting() as port:
        async with contextlib.aclosing(
            OpenAIRealtimeSTT(
                api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", connect_timeout_s=1.0
            )
        ) as stt:
            with pytest.raises(ProviderError, match="did not answer within 1 s"):
                await asyncio.wait_for(stt.connect(), 60)


async def test_a_speech_socket_refused_as_it_opens_says_what_to_check(sim):
    """ElevenLabs closing the speech socket as it opened with 1008 (how it refuses a key, a
    key without the Text to Speech permission, an account out of credit) stopped a run's
    start with the close alone, and no word of what to do: the keys to check are said."""
    sim.inject("tts", "echo")  # closed as it opens, code 1008, the key in the reason
    async with contextlib.aclosing(
        ElevenLabsTTS(api_key="el-test", voice_id="v", base_url=sim.base_url)
    ) as tts:
        with pytest.raises(ProviderError, match="closed the speech connection as it opened") as e:
            await tts.warm()
    assert e.value.hint is not None and "check ELEVENLABS_API_KEY" in e.value.hint, e.value.hint
