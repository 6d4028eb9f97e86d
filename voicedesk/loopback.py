"""Servers on this machine are reached directly, never through a proxy.

A proxy set in the environment (``HTTPS_PROXY``, ``ALL_PROXY``; a company network's) is
used by httpx and websockets for every address not in ``NO_PROXY``, loopback included. A
proxy elsewhere cannot reach this machine's loopback, so `voicedesk demo`, ``--sim`` and a
model server run locally (llama.cpp, Ollama) all failed as unreachable behind one.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Literal
from urllib.parse import urlsplit

# httpx mount patterns (any scheme, any port) for the usual loopback names; "*localhost"
# is localhost and every name under it
_LOOPBACK_PATTERNS = ("all://*localhost", "all://127.0.0.1", "all://[::1]")


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
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    # "::ffff:127.0.0.1" is an IPv4 loopback address written as IPv6, which Python 3.11's
    # is_loopback does not see through
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


# Servers a person runs on their own machine for a language model: named as examples in
# the hint for one that is not running (a speech-to-text or voice server is none of them)
LOCAL_MODEL_SERVERS = "Ollama, LM Studio, llama.cpp's server"


def local_server_hint(url: str | None, setting: str, serves: str = "language-model") -> str | None:
    """What to check when the ``serves`` server at ``url`` ("language-model",
    "speech-to-text", "voice", or several joined by "and"), named by ``setting``, cannot be
    reached and is on this machine: that it is running, and where. None for a server
    elsewhere. "Check llm.base_url and your network" sent a person with no network at all,
    the point of a local model, to look at the network; and a speech-to-text or voice
    server told to start "Ollama, LM Studio, llama.cpp's server" was sent to programs that
    neither transcribe nor speak."""
    if not is_loopback(url):
        return None
    where = urlsplit(url or "").netloc.rpartition("@")[2]
    stopped_sim = _stopped_sim_hint(where)
    if stopped_sim is not None:
        return stopped_sim
    examples = f" ({LOCAL_MODEL_SERVERS})" if "language-model" in serves else ""
    return (
        f"start the local {serves} server{examples}: nothing is running at {where}, or "
        f"check {setting}"
    )


def _stopped_sim_hint(where: str) -> str | None:
    """The hint for a server at ``where`` (host:port) that this shell's
    `eval "$(voicedesk sim --detach)"` named: its exports (OPENAI_BASE_URL,
    ELEVENLABS_BASE_URL, VOICEDESK_SIM_PID) outlive the simulated cloud, and a person who
    had stopped it (or logged out) was told to start "Ollama, LM Studio, llama.cpp's
    server". None when no such export names ``where``."""
    pid = os.environ.get("VOICEDESK_SIM_PID", "").strip()
    exported = [os.environ.get(var, "") for var in ("OPENAI_BASE_URL", "ELEVENLABS_BASE_URL")]
    if not pid or not any(urlsplit(url).netloc == where for url in exported if url):
        return None
    return (
        f"the simulated cloud at {where} (`voicedesk sim --detach`, pid {pid}) is no longer "
        'running: start it again with eval "$(voicedesk sim --detach)", or unset '
        "OPENAI_BASE_URL ELEVENLABS_BASE_URL OPENAI_API_KEY ELEVENLABS_API_KEY "
        "VOICEDESK_SIM_PID to use your own services"
    )


def direct_mounts(*urls: str | None) -> dict[str, None]:
    """httpx ``mounts`` that reach this machine without the environment's proxy: the usual
    loopback names, and the host of each of ``urls`` that :func:`is_loopback` takes (a
    server on 127.0.0.2 went to the proxy while websockets reached it directly)."""
    patterns = list(_LOOPBACK_PATTERNS)
    for url in urls:
        host = urlsplit(url).hostname if url and is_loopback(url) else None
        if host:
            patterns.append(f"all://[{host}]" if ":" in host else f"all://{host}")
    return dict.fromkeys(patterns)


def websocket_proxy(url: str) -> Literal[True] | None:
    """The ``proxy`` argument of ``websockets.connect`` for ``url``: the environment's
    proxy (``True``, websockets' default) unless the server is on this machine."""
    return None if is_loopback(url) else True


def environment_proxy(url: str) -> str | None:
    """The proxy the environment sets for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``, … less
    ``NO_PROXY``), as websockets (a ws:// or wss:// url, by its own rule) or httpx would use
    it; None where they connect directly."""
    from urllib.request import getproxies, proxy_bypass

    if is_loopback(url):
        return None
    try:
        parts = urlsplit(url)
        if parts.scheme in ("ws", "wss"):
            from websockets.uri import get_proxy, parse_uri

            return get_proxy(parse_uri(url))
    except Exception:  # an address neither can parse: it goes nowhere through a proxy
        return None
    if parts.hostname is None or proxy_bypass(parts.hostname):
        return None
    proxies = getproxies()
    return proxies.get(parts.scheme) or proxies.get("all") or None


OPENAI_API_BASE = "https://api.openai.com/v1"  # where the OpenAI SDK goes by default


def openai_address(base_url: str | None) -> str | None:
    """The server an OpenAI client with ``base_url`` is to use: that, else
    ``OPENAI_BASE_URL`` (which `voicedesk sim` prints for the shell), else None (OpenAI's).

    Every OpenAI client is given this, not left to read the variable itself: the SDK takes
    an empty ``OPENAI_BASE_URL=`` as the address "" and every request failed with
    "Connection error", while the rest of voicedesk took it as unset: a client is given
    ``openai_address(url) or OPENAI_API_BASE``, never None."""
    return base_url or os.environ.get("OPENAI_BASE_URL", "").strip() or None
