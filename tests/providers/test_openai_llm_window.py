"""The warning for a language-model server that cuts a long conversation silently."""

from __future__ import annotations

import pytest

from voicedesk.providers.openai_llm import silent_truncation_warning


@pytest.mark.parametrize(
    "url",
    ["http://localhost:11434/v1", "http://127.0.0.1:11434/v1/", "https://gpu-box.lan:11434/v1"],
)
def test_ollamas_port_with_no_window_is_warned_about(url: str) -> None:
    warning = silent_truncation_warning(url, None)
    assert warning is not None
    assert url.rstrip("/") in warning
    assert "llm.context_window" in warning and "ollama ps" in warning


@pytest.mark.parametrize(
    ("url", "window"),
    [
        ("http://localhost:11434/v1", 8192),  # the window is known: requests keep inside it
        ("https://api.openai.com/v1", None),  # refuses a long prompt, which the engine handles
        ("http://localhost:8080/v1", None),  # llama.cpp's server refuses too
        ("http://localhost/v1", None),  # no port
        ("http://localhost:port/v1", None),  # not a port: the connection says what is wrong
        ("", None),
    ],
)
def test_other_servers_or_a_known_window_need_no_warning(url: str, window: int | None) -> None:
    assert silent_truncation_warning(url, window) is None


async def test_a_local_server_that_is_not_running_is_named_as_such() -> None:
    """With llm.base_url on this machine (Ollama, LM Studio, llama.cpp) and the server not
    started, the start failed with "Cannot reach the language-model server at
    http://127.0.0.1:…/v1: Connection error. → check llm.base_url and your network": on a
    plane, with no network at all, the network was not the thing to check. A server on
    this machine that refuses the connection is said to be not running."""
    import socket

    from voicedesk.errors import ProviderError
    from voicedesk.providers.openai_llm import OpenAIChat

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    llm = OpenAIChat(api_key="x", model="llama3", base_url=f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(ProviderError) as exc:
            await llm.warm()
    finally:
        await llm.aclose()
    hint = exc.value.hint or ""
    assert "network" not in hint and "llm.base_url" in hint
    assert "running" in hint and f"127.0.0.1:{port}" in hint, hint


async def test_a_local_server_stopped_during_the_conversation_is_said_to_be_not_running() -> None:
    """The start said a local server that refused the connection was not running, but an
    answer asked of one stopped later (Ollama quit, llama.cpp's server crashed) failed with
    "Cannot reach the language model at http://127.0.0.1:…/v1: Connection error." and no
    hint at all. The answer's failure says it too."""
    import socket

    from voicedesk.errors import ProviderError
    from voicedesk.providers.base import ChatRequest
    from voicedesk.providers.openai_llm import OpenAIChat

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    llm = OpenAIChat(api_key="x", model="llama3", base_url=f"http://127.0.0.1:{port}/v1")
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=5)
    try:
        with pytest.raises(ProviderError) as exc:
            async for _ in llm.stream(request):
                pass
    finally:
        await llm.aclose()
    hint = exc.value.hint or ""
    assert "start the local language-model server" in hint and f"127.0.0.1:{port}" in hint, hint
    assert "llm.base_url" in hint
