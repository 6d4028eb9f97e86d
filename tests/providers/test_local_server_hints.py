"""A speech-to-text or voice server on this machine that is not running is said to be so."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest

from voicedesk.errors import ProviderError


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: the connection is refused."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        return closed.getsockname()[1]


async def _refusal_hint(
    start: Callable[[], Awaitable[object]], close: Callable[[], Awaitable[None]]
) -> str:
    """The hint of the error a provider's first connection to a closed port ends in
    (``start``), the provider closed after it either way (``close``)."""
    try:
        with pytest.raises(ProviderError) as exc:
            await start()
    finally:
        await close()
    return exc.value.hint or ""


async def test_a_local_speech_to_text_server_that_is_not_running_is_said_to_be() -> None:
    """With stt.base_url on this machine (a local realtime transcription server) and the
    server not started, the start said "connection refused (nothing answers there) → check
    the network connection, and stt.base_url": the language-model server in the same spot
    was said to be not running, this one sent the person to the network."""
    from voicedesk.providers.openai_stt import OpenAIRealtimeSTT

    port = _closed_port()
    stt = OpenAIRealtimeSTT(api_key="sk-x", base_url=f"http://127.0.0.1:{port}/v1")
    hint = await _refusal_hint(stt.connect, stt.aclose)
    assert "start the local speech-to-text server" in hint and f"127.0.0.1:{port}" in hint, hint
    assert "stt.base_url" in hint and "network" not in hint and "Ollama" not in hint


async def test_a_local_voice_server_that_is_not_running_is_said_to_be() -> None:
    """The same for tts.elevenlabs_base_url on this machine (`voicedesk sim`, another
    ElevenLabs-protocol server): "check the network connection" for a server not started."""
    from voicedesk.providers.elevenlabs_tts import ElevenLabsTTS

    port = _closed_port()
    tts = ElevenLabsTTS(api_key="xi-x", voice_id="v", base_url=f"http://127.0.0.1:{port}")
    hint = await _refusal_hint(tts.warm, tts.aclose)
    assert "start the local voice server" in hint and f"127.0.0.1:{port}" in hint, hint
    assert "tts.elevenlabs_base_url" in hint and "network" not in hint


async def test_a_stopped_detached_simulated_cloud_is_said_to_be(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After `eval "$(voicedesk sim --detach)"` and the simulated cloud stopped (killed, a
    logout), its exports stay in the shell: the start said to "start the local
    language-model server (Ollama, LM Studio, llama.cpp's server)" and the speech-to-text
    server, for what `voicedesk sim` had served."""
    from voicedesk.providers.openai_stt import OpenAIRealtimeSTT

    port = _closed_port()
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    monkeypatch.setenv("ELEVENLABS_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("VOICEDESK_SIM_PID", "4242")
    stt = OpenAIRealtimeSTT(api_key="sk-sim-local", base_url=f"http://127.0.0.1:{port}/v1")
    hint = await _refusal_hint(stt.connect, stt.aclose)
    assert f"the simulated cloud at 127.0.0.1:{port} (`voicedesk sim --detach`, pid 4242)" in hint
    assert 'start it again with eval "$(voicedesk sim --detach)"' in hint, hint
    assert "unset OPENAI_BASE_URL" in hint and "Ollama" not in hint
