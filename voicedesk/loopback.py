"""Servers on this machine are reached directly, never through a proxy.

A proxy set in the environment (``HTTPS_PROXY``, ``ALL_PROXY``; a company network's) is
used by httpx and websockets for every address not in ``NO_PROXY``, loopback included. A
proxy elsewhere cannot reach this machine's loopback, so `voicedesk demo`, ``--sim`` and a
model server run locally (llama.cpp, Ollama) all failed as unreachable behind one.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

# httpx mount patterns (any scheme, any port) for the loopback names a setting may hold
LOOPBACK_PATTERNS = ("all://localhost", "all://127.0.0.1", "all://[::1]")


def is_loopback(url: str | None) -> bool:
    """Whether ``url`` names this machine: ``localhost`` or a loopback address."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def websocket_proxy(url: str) -> bool | None:
    """The ``proxy`` argument of ``websockets.connect`` for ``url``: the environment's
    proxy (``True``, websockets' default) unless the server is on this machine."""
    return None if is_loopback(url) else True


def openai_address(base_url: str | None) -> str | None:
    """Where an OpenAI SDK client given ``base_url`` connects: with none, the SDK takes
    ``OPENAI_BASE_URL`` (which `voicedesk sim` prints for the shell)."""
    return base_url or os.environ.get("OPENAI_BASE_URL") or None
