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
