"""The request parameters a chat model refused, learnt from its refusals.

OpenAI's reasoning models (the o-series, the GPT-5 family) refuse two of the parameters every
other chat server takes, each with HTTP 400 before any token:

* ``max_tokens``: "Unsupported parameter: 'max_tokens' is not supported with this model. Use
  'max_completion_tokens' instead." (param ``max_tokens``, code ``unsupported_parameter``);
* a ``temperature`` other than 1: "Unsupported value: 'temperature' does not support 0.7 with
  this model. Only the default (1) value is supported." (param ``temperature``, code
  ``unsupported_value``).

(The bodies as quoted in many clients' issues, e.g. griptape-ai/ComfyUI-Griptape#312 and
OpenHands/OpenHands#4131; the API reference marks ``max_tokens`` deprecated and "not
compatible with o-series models".) Every turn failed with "The language model failed (HTTP
400)". No list of model names can say which models do this (new ones come, and proxies and
Azure deployments rename them), and the local servers (llama.cpp, Ollama, vLLM) all read
``max_tokens`` while not all of them read ``max_completion_tokens``: so ``max_tokens`` is
what is sent, and a refusal naming one of these parameters is learnt, for the session, and
the request sent again as the model takes it. It is safe to send again: the refusal comes
before any token.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class RefusedParameters:
    """What this model refused so far, and the requests reshaped to match."""

    def __init__(self) -> None:
        self.completion_cap = False  # the cap goes as max_completion_tokens
        self.default_temperature = False  # no temperature is sent (the model's own, 1)

    def shape(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` as this model takes them."""
        shaped = dict(kwargs)
        if self.completion_cap and "max_tokens" in shaped:
            shaped["max_completion_tokens"] = shaped.pop("max_tokens")
        if self.default_temperature:
            shaped.pop("temperature", None)
        return shaped

    def learn(self, exc: BaseException, kwargs: dict[str, Any]) -> bool:
        """Whether ``exc`` refused a parameter of ``kwargs`` that can be sent otherwise (now
        learnt: ``shape`` sends it so); False for any other error."""
        if getattr(exc, "status_code", None) != 400:
            return False
        param = _refused_param(exc)
        if param == "max_tokens" and not self.completion_cap and "max_tokens" in kwargs:
            self.completion_cap = True
            log.info("the model refuses max_tokens; sending max_completion_tokens")
            return True
        if param == "temperature" and not self.default_temperature and "temperature" in kwargs:
            self.default_temperature = True
            log.info("the model refuses temperature %s; sending none", kwargs["temperature"])
            return True
        return False


def _refused_param(exc: BaseException) -> str | None:
    """The parameter a 400 says is unsupported (its ``param``, or named in its message)."""
    body = getattr(exc, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    fields = err if isinstance(err, dict) else {}
    code = str(fields.get("code") or getattr(exc, "code", None) or "")
    param = fields.get("param") or getattr(exc, "param", None)
    message = str(fields.get("message") or getattr(exc, "message", "") or "")
    if code in ("unsupported_parameter", "unsupported_value") and isinstance(param, str):
        return param
    for name in ("max_tokens", "temperature"):  # a proxy that keeps the words only
        if message.startswith(("Unsupported parameter: ", "Unsupported value: ")) and (
            f"'{name}'" in message
        ):
            return name
    return None
