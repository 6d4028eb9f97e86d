"""Chat Completions streaming with the official ``openai`` client (any compatible server).

One ``AsyncOpenAI`` client per session keeps its HTTP connection pool warm; ``warm()`` lists
the models once at start-up, which both opens a connection and checks the key, so a bad key
is reported before the first turn rather than after it.

Retries: the SDK retries 429/5xx/connection errors with back-off before any byte streamed;
we allow one such retry (a voice turn cannot wait through the SDK's default two with up to
8 s back-off). Nothing is retried once tokens have streamed: they may have been spoken.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from voicedesk.errors import AuthError, ProviderError
from voicedesk.providers.base import (
    ChatRequest,
    Finished,
    LLMEvent,
    TextDelta,
    ToolCall,
    ToolCalls,
    Usage,
)

log = logging.getLogger(__name__)


class OpenAIChat:
    name = "openai-chat"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 20.0,
        max_retries: int = 1,
    ) -> None:
        from openai import AsyncOpenAI, Timeout

        self.model = model
        self.base_url = base_url
        # First byte within a few seconds or it is a stall; reads then stream freely.
        timeout = Timeout(timeout_s, connect=5.0)
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    async def warm(self) -> None:
        import openai

        try:
            await self._client.models.list()
        except openai.AuthenticationError:
            raise AuthError(
                f"The language-model server rejected the API key ({self._where()})",
                "check the key named by llm.api_key_env (OPENAI_API_KEY by default)",
            ) from None
        except openai.APIConnectionError as exc:
            raise ProviderError(
                f"Cannot reach the language-model server at {self._where()}: {exc}",
                "check llm.base_url and your network",
            ) from None
        except openai.APIStatusError as exc:
            # Some OpenAI-compatible servers have no /models; the chat call will tell.
            log.info("model list unavailable (%s); continuing", exc.status_code)

    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    async def stream(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        import openai

        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.tools:
            kwargs["tools"] = request.tools
        if request.max_tokens is not None:
            kwargs["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        try:
            stream = await self._client.chat.completions.create(**kwargs)
        except openai.AuthenticationError:
            raise AuthError(
                f"The language-model server rejected the API key ({self._where()})"
            ) from None
        except openai.RateLimitError:
            raise ProviderError("The language model is rate-limited (HTTP 429)") from None
        except openai.APIStatusError as exc:
            raise ProviderError(
                f"The language model failed (HTTP {exc.status_code}): {_message(exc)}"
            ) from None
        except openai.APITimeoutError:
            raise ProviderError("The language model did not answer in time") from None
        except openai.APIConnectionError as exc:
            raise ProviderError(f"Cannot reach the language model: {exc}") from None
        calls: dict[int, ToolCall] = {}
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta
                if delta is not None:
                    if delta.content:
                        yield TextDelta(delta.content)
                    for tc in delta.tool_calls or []:
                        call = calls.setdefault(tc.index, ToolCall(id="", name="", arguments=""))
                        if tc.id:
                            call.id = tc.id
                        if tc.function is not None:
                            if tc.function.name:
                                call.name += tc.function.name
                            if tc.function.arguments:
                                call.arguments += tc.function.arguments
                if choice.finish_reason:
                    if calls:
                        yield ToolCalls([calls[i] for i in sorted(calls)])
                        calls = {}
                    yield Finished(choice.finish_reason)
        except openai.APIError as exc:
            raise ProviderError(f"The language model stream failed: {_message(exc)}") from None
        except Exception as exc:  # httpx read errors: socket dropped mid-stream
            if exc.__class__.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "anyio"):
                raise ProviderError(f"The language model stream broke off: {exc!r}") from None
            raise
        finally:
            with contextlib.suppress(Exception):
                await stream.close()
        if calls:
            yield ToolCalls([calls[i] for i in sorted(calls)])

    async def complete(self, request: ChatRequest) -> tuple[str, Usage | None]:
        """Whole answer at once (summaries): the same stream, gathered."""
        text, usage = "", None
        async for item in self.stream(request):
            if isinstance(item, TextDelta):
                text += item.text
            elif isinstance(item, Usage):
                usage = item
        return text, usage

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._client.close()


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", exc))
