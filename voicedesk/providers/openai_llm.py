"""Chat Completions streaming with the official ``openai`` client (any compatible server).

One ``AsyncOpenAI`` client per session keeps its HTTP connection pool warm; ``warm()`` opens
a connection in it and lists the models once at start-up (with a blocking client, on a
thread: ``_list_models`` says why), which checks the server and the key, so a bad key is
reported before the first turn rather than after it. An idle connection is kept for
``KEEPALIVE_S``, not httpx's 5 s: between two turns a person listens to the answer and
thinks, and with 5 s nearly every turn's request opened a new connection (TCP and TLS, two
round trips to the provider) before its first token could come.
A stream cancelled mid-answer (a preemptive answer the person spoke on over) closes its
connection, since that is how the server is told to stop generating: ``prewarm()`` then opens
another in the background, while the person speaks, for the request that replaces it.

Deadlines follow the latency budget of a spoken turn, not an HTTP client's defaults: the
first streamed chunk must come within ``first_token_s`` (15 s by default; the model list at
start-up too), then no gap between chunks may exceed ``stall_s``. A hung server is reported
after ``first_token_s``, not after a long read timeout and a retry.

A model that refuses ``max_tokens`` or a temperature (OpenAI's reasoning models) is sent
``max_completion_tokens`` and no temperature from then on, and asked to think least
(``reasoning_effort``, as ``llm.reasoning_effort`` says), and a server that refuses
``stream_options`` (Mistral, Azure through a gateway) is sent none; a model that takes no
tools (Ollama's "does not support tools", llama.cpp without ``--jinja``, vLLM without
``--enable-auto-tool-choice``) is sent none either, and a ``ToolsRefused`` says so once
(``chat_params``).

A reasoning model's ``<think>`` block, which some servers leave in the answer's text, is
not spoken (``reasoning.ThinkingFilter``), nor is one whose opener the chat template put in
the prompt (DeepSeek-R1's: only ``</think>`` is streamed; known from the model's name, or
learnt from the first such closer); one the server sends apart, as ``reasoning_content``
or ``reasoning``, is not read.

Retries are ours (the SDK's are off): one quick retry, before any byte streamed, of a failure
that came quickly (429, 5xx, connection refused or reset) — not of a timeout, which has
already spent the budget. Nothing is retried once tokens have streamed: they may have been
spoken. A stream that ends without a finish reason broke off (a proxy or server giving up
mid-answer without an error): it is a failure, not a whole answer; so is one the provider's
content filter stopped (finish reason ``content_filter``, OpenAI's and Azure's).

A request the server refuses as longer than the model's context window is never retried as
it is: it becomes a ``ContextTooLongError`` carrying the window and the server's count of
the prompt where the answer gives them, so the engine can send the conversation shorter.
Servers word it differently: OpenAI and vLLM ("maximum context length is N tokens", code
``context_length_exceeded``), llama.cpp (type ``exceed_context_size_error``, ``n_ctx`` in
the body; a 500 in older versions), Mistral, and others with no number at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from voicedesk.config_secrets import mask_text
from voicedesk.daemon_thread import on_daemon_thread
from voicedesk.errors import (
    AuthError,
    ContentFilterError,
    ContextTooLongError,
    ProviderError,
    RefusedSettingError,
)
from voicedesk.loopback import (
    OPENAI_API_BASE,
    direct_mounts,
    local_server_hint,
    openai_address,
)
from voicedesk.providers.base import (
    THOUGHT_FIELDS,
    ChatRequest,
    Finished,
    LLMEvent,
    TextDelta,
    ToolCall,
    ToolCalls,
    ToolsRefused,
    Usage,
    unreachable,
)
from voicedesk.providers.chat_params import (
    LEAST_EFFORT,
    SERVER_EFFORT,
    RefusedParameters,
    error_fields,
    validation_details,
)
from voicedesk.providers.reasoning import ThinkingFilter, begins_mid_thought

log = logging.getLogger(__name__)

# Ollama's own port. Ollama does not refuse a prompt longer than the model's context
# (`num_ctx`): it drops the start of it (older messages, at times the system prompt) and
# answers, and the prompt count it reports is the count after the cut (ollama/ollama#17427),
# so neither an error nor the usage can tell the engine to send less. Only a window the
# person gives (`llm.context_window`) keeps each request inside it.
OLLAMA_PORT = 11434

_CONNECT_S = 3.0
# How long an idle connection is kept for the next request (httpx's default is 5 s). A server
# that closed it meanwhile is noticed before reuse (the pool sees the socket readable) and a
# new one opened, as before.
KEEPALIVE_S = 120.0
# Idle this long, the connection is opened again (``warm_if_idle``) when the person starts
# speaking: our pool drops it at KEEPALIVE_S, and servers and the proxies before them often
# sooner (an nginx keeps an idle connection 75 s by default, an AWS load balancer 60 s), so
# the first turn after a pause paid a new connection (TCP and TLS) before its first token.
IDLE_REWARM_S = 45.0
_RETRY_DELAY_S = 0.25  # unless the server asks for a wait of up to _MAX_RETRY_DELAY_S
_MAX_RETRY_DELAY_S = 1.0


def kept_alive_http_client(base_url: str | None) -> Any:
    """The HTTP client for an ``AsyncOpenAI``: the SDK's own pool limits, with an idle
    connection kept ``KEEPALIVE_S`` for the next turn (see the module docstring). A server
    on this machine is reached directly, not through a proxy set in the environment."""
    import httpx2  # the HTTP library of the openai SDK (its dependency)
    from openai import DefaultAsyncHttpxClient

    limits = httpx2.Limits(
        max_connections=1000, max_keepalive_connections=100, keepalive_expiry=KEEPALIVE_S
    )
    return DefaultAsyncHttpxClient(limits=limits, mounts=direct_mounts(base_url))


def _with_ids(calls: list[ToolCall]) -> list[ToolCall]:
    """``calls`` each with an id: some OpenAI-compatible servers send none (or ""), and
    two calls sharing "" could not be told apart, nor their results matched to them."""
    for call in calls:
        if not call.id:
            call.id = f"call_{uuid.uuid4().hex[:24]}"
    return calls


def _call_for(calls: list[tuple[int, ToolCall]], index: int, call_id: str | None) -> ToolCall:
    """The call a streamed fragment at ``index`` belongs to, begun in ``calls`` if new.
    Ollama streams every call of a parallel batch at index 0, each with its own id: a
    fragment whose id is not that of the call at its index begins another call (they were
    merged into one, their names and arguments run together)."""
    for at, call in reversed(calls):
        if at == index:
            if call_id and call.id and call_id != call.id:
                break
            return call
    call = ToolCall(id="", name="", arguments="")
    calls.append((index, call))
    return call


def is_listed(model: str, listed: list[str]) -> bool:
    """Whether a server's model list has ``model``; Ollama answers "llama3.1" with the
    model it lists as "llama3.1:latest"."""
    return model in listed or f"{model}:latest" in listed


def models_shown(listed: list[str], most: int = 8) -> str:
    """A server's models for a hint: the first few, and how many more."""
    more = len(listed) - most
    return ", ".join(listed[:most]) + (f" and {more} more" if more > 0 else "")


def silent_truncation_warning(server_url: str, context_window: int | None) -> str | None:
    """What to say when the language-model server looks like Ollama (its port) and no
    context window is set: there, a conversation that outgrows the model's context loses
    its start without a word, and only ``llm.context_window`` prevents it."""
    if context_window is not None or not server_url:
        return None
    try:
        port = urlsplit(server_url).port
    except ValueError:  # a port that is not a number: the connection will say so
        return None
    if port != OLLAMA_PORT:
        return None
    return (
        f"The language-model server at {server_url.rstrip('/')} looks like Ollama, which "
        "drops the start of a conversation longer than the model's context without an "
        "error. Set llm.context_window to the model's context size (`ollama ps` shows it "
        "as CONTEXT) so that voicedesk keeps every request inside it."
    )


class OpenAIChat:
    name = "openai-chat"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        first_token_s: float = 15.0,
        stall_s: float = 10.0,
        max_retries: int = 1,
        rewarm_after_s: float | None = None,
        reasoning_effort: str = LEAST_EFFORT,
    ) -> None:
        from openai import AsyncOpenAI, Timeout

        self.model = model
        self.rewarm_after_s = IDLE_REWARM_S if rewarm_after_s is None else rewarm_after_s
        self.base_url = base_url
        self.first_token_s = first_token_s
        self.stall_s = stall_s
        self.max_retries = max_retries
        # The first chunk has its deadline (first_token_s) and each later one its own
        # (stall_s, in _rest). httpx's read timeout is only a backstop behind both: at
        # stall_s it also cut the wait for the first chunk, since a server sends its headers
        # first, and a model slower than 10 s to start failed whatever first_token_s said.
        # max_retries=0: the SDK's back-off does not fit a spoken turn.
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=openai_address(base_url) or OPENAI_API_BASE,
            timeout=Timeout(
                max(stall_s, first_token_s) + 1.0, connect=min(_CONNECT_S, first_token_s)
            ),
            max_retries=0,
            http_client=kept_alive_http_client(openai_address(base_url)),
        )
        # what the model refused (max_tokens, temperature), and the effort it thinks at
        self._refused = RefusedParameters(reasoning_effort)
        self._tools_refusal_said = False
        # the chat template opens the thought in the prompt: only </think> is streamed
        # (a guess from the name at first, then what the streams show; reasoning.py)
        self._mid_thought = begins_mid_thought(model)
        self._prewarm: asyncio.Task[None] | None = None
        self._used_at: float | None = None  # loop time the server last answered us

    def _used(self) -> None:
        self._used_at = asyncio.get_running_loop().time()

    async def warm(self) -> None:
        # The SDK imports its chat resource, and builds the pydantic models of its streamed
        # chunks, on the first use of ``client.chat``: ~85 ms on the event loop at the first
        # turn's request, between the end of speech and the request sent. Done here, at start,
        # on a worker thread.
        await asyncio.to_thread(lambda: self._client.chat.completions)
        self._used()
        # The check's connection is its own; the first turn's is opened meanwhile, in the
        # pool, where a failure of it is the first request's to report (not the check's).
        opening = asyncio.ensure_future(self._open_connection())
        try:
            listed = await on_daemon_thread(self._list_models, name="llm-start-check")
            await opening
        except BaseException:
            opening.cancel()
            raise
        if listed is not None:
            await self._check_model(listed)

    def _list_models(self) -> list[str] | None:
        """The server's models (None: it has no list), asked with a blocking client on a
        thread of its own, so that its deadlines are the kernel's socket timeouts.

        Asked on the event loop, the connect deadline (``_CONNECT_S``) was a loop timer,
        and the loop is busy for seconds at start on a loaded machine (the tool servers,
        the transcriber and the voice come up beside this check): the connection was made,
        but the timer came due before the loop saw it, and a TUI start said "Cannot reach
        the language-model server … Request timed out", with a hint that nothing ran there.
        Measured by the kernel, only the server's silence counts."""
        import httpx2
        import openai

        connect_s = min(_CONNECT_S, self.first_token_s)
        client = self._blocking_client()
        try:
            return [model.id for model in client.models.list()]
        except openai.APITimeoutError as exc:
            if isinstance(exc.__cause__, httpx2.ConnectTimeout):
                raise unreachable(
                    f"the language-model server at {self.server_url}",
                    str(self._client.base_url),
                    f"no connection within {connect_s:g} s",
                    f"check {self._url_setting()} and your network",
                ) from None
            raise ProviderError(
                f"Cannot reach the language-model server at {self.server_url}: "
                f"no answer within {self.first_token_s:g} s",
                f"check {self._url_setting()} and your network",
            ) from None
        except openai.AuthenticationError:
            raise AuthError(
                f"The language-model server rejected the API key ({self.server_url})",
                "check the key named by llm.api_key_env (OPENAI_API_KEY by default)",
            ) from None
        except openai.APIConnectionError as exc:
            raise unreachable(
                f"the language-model server at {self.server_url}",
                str(self._client.base_url),
                exc,
                self._unreachable_hint(),
            ) from None
        except openai.APIStatusError as exc:
            # Some OpenAI-compatible servers have no /models; the chat call will tell.
            log.info("model list unavailable (%s); continuing", exc.status_code)
            return None
        finally:
            client.close()

    def _blocking_client(self) -> Any:
        """A blocking client to this server, its deadlines the kernel's socket timeouts: for
        the start's checks, each on a thread of its own (``_list_models``)."""
        import httpx2
        import openai

        return openai.OpenAI(
            api_key=self._client.api_key,
            base_url=self._client.base_url,
            timeout=httpx2.Timeout(self.first_token_s, connect=min(_CONNECT_S, self.first_token_s)),
            max_retries=0,
            http_client=openai.DefaultHttpxClient(
                mounts=direct_mounts(openai_address(self.base_url))
            ),
        )

    def _try_model(self) -> None:
        """Ask for one token of the model, as ``_list_models`` asks for the list: on the
        event loop, its deadline ran out while the loop was busy at start, the failure was
        only logged, and a mistyped model started a conversation whose every answer failed."""
        client = self._blocking_client()
        try:
            client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": "hi"}], max_tokens=1
            )
        finally:
            client.close()

    async def _check_model(self, listed: list[str]) -> None:
        """Refuse, at start, a model the server does not have.

        A typo in llm.model started a conversation whose every answer then failed with an
        HTTP 404. The list alone cannot decide it: llama.cpp's server lists its one model
        under a file name and answers whatever name is asked for, and proxies route names
        they do not list. So a model missing from the list is asked for once (one token),
        and only a 404 from the server (OpenAI's ``model_not_found``) stops the start."""
        import openai

        if not listed or is_listed(self.model, listed):
            return
        try:
            await on_daemon_thread(self._try_model, name="llm-model-check")
        except openai.NotFoundError as exc:
            raise RefusedSettingError(
                f"The language-model server at {self.server_url} has no model "
                f"'{self.model}': {error_message(exc)}",
                f"set llm.model to one it offers: {models_shown(listed)}",
            ) from None
        except Exception as exc:  # any other answer: the turns will say, as before
            log.info("model %s not listed; its trial request said %r", self.model, exc)

    def prewarm(self) -> None:
        """Open a connection for the next request, in the background (see the module
        docstring); one at a time, failures left to the request itself."""
        if self._prewarm is None or self._prewarm.done():
            self._prewarm = asyncio.get_running_loop().create_task(self._open_connection())

    def warm_if_idle(self) -> None:
        """Called as the person starts speaking: after ``rewarm_after_s`` without a request
        the connection may be gone (see ``IDLE_REWARM_S``), so one is opened now, while
        they speak, rather than on the way to the answer's first token."""
        idle_since = self._used_at
        if idle_since is None:
            return
        if asyncio.get_running_loop().time() - idle_since >= self.rewarm_after_s:
            self._used()
            self.prewarm()

    async def _open_connection(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.first_token_s):
                await self._client.models.list()
        self._used()

    def _unreachable_hint(self) -> str:
        """What to check when the server refused or dropped the connection: on this
        machine, whether it runs (``local_server_hint``); elsewhere, the setting and the
        network."""
        setting = self._url_setting()
        local = local_server_hint(str(self._client.base_url), setting)
        return local or f"check {setting} and your network"

    def _url_setting(self) -> str:
        """What set the server's url, for a hint: "check llm.base_url" sent a person whose
        OPENAI_BASE_URL (set for another tool, perhaps) named the server to a setting they
        never made."""
        if self.base_url is None and openai_address(None):
            return "OPENAI_BASE_URL (from the environment; llm.base_url is not set)"
        return "llm.base_url"

    @property
    def takes_tools(self) -> bool:
        """Whether tools are sent: not once the model refused them (``chat_params``), so
        that their definitions are not counted in a budget they are no part of."""
        return self._refused.no_tools is None

    @property
    def server_url(self) -> str:
        """The server actually used (the SDK also takes it from OPENAI_BASE_URL), as the
        messages name it: a password in its address is masked, as `config show` masks it,
        so that naming the server does not print a gateway's credentials."""
        return mask_text(str(self._client.base_url).rstrip("/"))

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
        stream, chunks, first = await self._open(kwargs)
        calls: list[tuple[int, ToolCall]] = []  # (index, call), in the order begun
        thinking = ThinkingFilter(self._mid_thought)  # a thought left in the answer
        generating_since: float | None = None  # the first token, thinking included
        thought_in_sight = False  # thinking streamed apart (reasoning_content, reasoning)
        apart: dict[str, str] = {}  # that thinking, by its field, to go back with tool calls
        finished = False
        try:
            if (
                "tools" in kwargs
                and self._refused.no_tools is not None
                and not self._tools_refusal_said
            ):
                # Said once, by a stream that offered tools: the one that learnt it, or the
                # next such if that one then failed (a summary's, offering none, is read
                # for its text alone, and the person never heard of it).
                self._tools_refusal_said = True
                yield ToolsRefused(*self._refused.no_tools)
            async for chunk in self._rest(first, chunks):
                if chunk.usage is not None:
                    # thinking the stream showed was timed with the rest; unseen, its tokens
                    # (which the usage counts) are not
                    seen = thought_in_sight or bool(thinking.thought)
                    if not seen and _reasoning_tokens(chunk.usage):
                        self._refused.reasons()  # thinks unseen, as OpenAI's models do
                    yield Usage(
                        chunk.usage.prompt_tokens,
                        chunk.usage.completion_tokens,
                        generating_since,
                        0 if seen else _reasoning_tokens(chunk.usage),
                    )
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                delta = choice.delta
                if delta is not None:
                    if generating_since is None and _generated(delta):
                        generating_since = time.perf_counter()
                    if _thought(delta):
                        thought_in_sight = True
                        for name in THOUGHT_FIELDS:
                            if isinstance(piece := getattr(delta, name, None), str):
                                apart[name] = apart.get(name, "") + piece
                        if text := thinking.release():  # not begun in the prompt after all
                            yield TextDelta(text)
                    if delta.content:
                        text = thinking.feed(delta.content)
                        if thinking.bare_closer:  # learnt at once: the answer may be cut
                            self._mid_thought = True
                        if text:
                            yield TextDelta(text)
                    for tc in delta.tool_calls or []:
                        call = _call_for(calls, tc.index or 0, tc.id)
                        if tc.id:
                            call.id = tc.id
                        if tc.function is not None:
                            if tc.function.name:
                                call.name += tc.function.name
                            if tc.function.arguments:
                                call.arguments += tc.function.arguments
                if choice.finish_reason == "content_filter":
                    # OpenAI's and Azure's filters end the stream with it, the rest of the
                    # answer withheld: ended as a whole answer, it stopped mid-sentence with
                    # no word why, and was kept so in the conversation.
                    raise ContentFilterError(
                        "The language model's content filter stopped the answer "
                        "(finish_reason content_filter)",
                        "asking the same again gets the same refusal: rephrase it, or ask "
                        "something else",
                    )
                if choice.finish_reason:
                    finished = True
                    if tail := thinking.flush(cut=choice.finish_reason == "length"):
                        yield TextDelta(tail)
                    if thinking.bare_closer or thinking.contradicted:
                        self._mid_thought = thinking.bare_closer
                    if thinking.thought:
                        log.debug("the model's thinking left unspoken: %r", thinking.thought)
                    if calls:
                        ordered = sorted(calls, key=lambda entry: entry[0])  # stable
                        yield ToolCalls(_with_ids([call for _, call in ordered]), apart)
                        calls = []
                    yield Finished(choice.finish_reason)
        except TimeoutError:
            raise ProviderError(
                f"The language model stopped mid-answer (nothing for {self.stall_s:g} s)"
            ) from None
        except openai.APIError as exc:
            raise ProviderError(f"The language model stream failed: {error_message(exc)}") from None
        except Exception as exc:  # httpx read errors: socket dropped mid-stream
            if from_http_stack(exc):
                raise ProviderError(f"The language model stream broke off: {exc!r}") from None
            raise
        finally:
            self._used()
            with contextlib.suppress(Exception):
                await stream.close()
        if not finished:
            # Every answer ends with a finish reason. A body closed without one (a proxy or
            # server giving up mid-answer, no error sent) read as a whole answer: half of
            # it spoken, logged and kept in the history as what the model said.
            raise ProviderError(
                "The language model's answer broke off: the stream ended before the answer "
                "did (no finish reason)"
            )

    async def _open(self, kwargs: dict[str, Any]) -> tuple[Any, AsyncIterator[Any], Any]:
        """Start the request and wait for its first chunk, within ``first_token_s``; one
        quick retry of a quick failure. Returns the stream, its iterator and that chunk
        (None for an empty stream)."""
        import openai

        attempt = 0
        while True:
            stream = None
            sent = self._refused.shape(kwargs)
            try:
                async with asyncio.timeout(self.first_token_s):
                    stream = await self._post_chat(sent)
                    chunks = stream.__aiter__()
                    first = await anext(chunks, None)
                return stream, chunks, first
            except BaseException as exc:
                if stream is not None:
                    with contextlib.suppress(Exception):
                        await stream.close()
                if (
                    isinstance(exc, openai.APIStatusError)
                    and self._refused.learn(exc, sent)
                    and self._refused.shape(kwargs) != sent
                ):
                    continue  # a parameter the model takes otherwise: sent so, not a retry
                # (learnt, yet the request would go out as refused: sent again, it was
                # refused again, without end and without a word; it fails with the
                # server's refusal instead)
                error = self._request_error(exc)
                if error is None:
                    raise
                last = attempt == self.max_retries
                if last or isinstance(exc, TimeoutError | openai.APITimeoutError):
                    raise error from None
                if isinstance(error, ContextTooLongError):  # the same request fails the same
                    raise error from None
                if isinstance(exc, openai.APIStatusError) and not _retryable(exc):
                    raise error from None
                log.info("language model request failed (%s); retrying once", error.message)
                await asyncio.sleep(_retry_delay(exc))
                attempt += 1

    async def _post_chat(self, body: dict[str, Any]) -> Any:
        """Stream a chat completion of ``body`` as it is: the SDK's documented way to send a
        request (``client.post``), with the same endpoint, key and chunk types as
        ``chat.completions.create``, but without the type-directed copy ``create`` makes of
        every message, tool call and tool definition before anything is written. That walk
        ran on the event loop between the end of speech and the request, and grew with the
        conversation: with 8 tools, about 20 ms at turn 30 of a tool conversation and 40 ms
        at turn 60 on this 2-core machine (the copy alone, median of 15, load ~1.7); with
        other work on the cores, the request's whole client overhead was 33-60 ms at turn
        30 and 67-112 ms at turn 60 (load ~2.5), and 4-7 ms at either without the copy
        (docs/architecture.md, "Threads", has the figures at less load). For the plain JSON
        voicedesk builds it changed nothing: the request is the one ``create`` sends,
        headers and body (tests/providers/test_openai_llm_request_cost.py compares them)."""
        from openai import AsyncStream, RequestOptions
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        options: RequestOptions = {"security": {"bearer_auth": True}}  # as ``create`` sends it
        return await self._client.post(
            "/chat/completions",
            cast_to=ChatCompletion,
            body=body,
            options=options,
            stream=True,
            stream_cls=AsyncStream[ChatCompletionChunk],
        )

    def _request_error(self, exc: BaseException) -> ProviderError | None:
        """The person-facing error for a failure before the first chunk (None: not ours)."""
        import openai

        if isinstance(exc, TimeoutError | openai.APITimeoutError):
            # One that refused max_tokens for max_completion_tokens is a reasoning model of
            # OpenAI's: it sends nothing while it thinks (mezmo/aura#62), and a long thought
            # read as a server that had gone quiet, with nothing to change.
            hint = None
            if self._refused.completion_cap:
                chosen = self._refused.effort_setting
                less = (
                    "set llm.reasoning_effort to lowest"
                    if chosen == SERVER_EFFORT
                    else f"lower llm.reasoning_effort ({chosen})"
                    if chosen in ("low", "medium", "high", "xhigh")
                    else "choose a model that thinks less (llm.model)"
                )
                hint = (
                    "a reasoning model sends nothing while it thinks: raise "
                    f"llm.first_token_timeout_s, or {less}"
                )
            return ProviderError(
                f"The language model sent nothing within {self.first_token_s:g} s "
                f"({self.server_url})",
                hint,
            )
        if isinstance(exc, openai.AuthenticationError):
            return AuthError(f"The language-model server rejected the API key ({self.server_url})")
        if isinstance(exc, openai.RateLimitError):
            if _out_of_quota(exc):
                return ProviderError(
                    f"The language model's account is out of quota (HTTP 429): {error_message(exc)}",
                    "check the plan and billing of the account the API key belongs to",
                )
            return ProviderError("The language model is rate-limited (HTTP 429)")
        if isinstance(exc, openai.APIError) and (too_long := _too_long(exc)) is not None:
            return too_long
        if isinstance(exc, openai.APIStatusError):
            return ProviderError(
                f"The language model failed (HTTP {exc.status_code}): {error_message(exc)}"
            )
        if isinstance(exc, openai.APIConnectionError):
            # a server on this machine that refuses: stopped since the start said it ran
            local = local_server_hint(str(self._client.base_url), self._url_setting())
            return unreachable(
                f"the language model at {self.server_url}", str(self._client.base_url), exc, local
            )
        if isinstance(exc, openai.APIError):
            return ProviderError(f"The language model stream failed: {error_message(exc)}")
        if isinstance(exc, Exception) and from_http_stack(exc):
            return ProviderError(f"The language model stream broke off: {exc!r}")
        return None

    async def _rest(self, first: Any, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """``first``, then the stream's chunks; a gap over ``stall_s`` is a stall."""
        chunk = first
        while chunk is not None:
            yield chunk
            async with asyncio.timeout(self.stall_s):
                chunk = await anext(chunks, None)

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
        if self._prewarm is not None:
            self._prewarm.cancel()
            with contextlib.suppress(BaseException):
                await self._prewarm
        with contextlib.suppress(Exception):
            await self._client.close()


def _generated(delta: Any) -> bool:
    """Whether a streamed delta carries a generated token: of the answer, of a tool call,
    or of the thinking a server sends apart (see ``_thought``)."""
    return bool(delta.content or delta.tool_calls or _thought(delta))


def _thought(delta: Any) -> bool:
    """Whether a streamed delta carries thinking sent apart from the answer
    (``reasoning_content``: vLLM, llama.cpp, DeepSeek; ``reasoning``: Ollama, OpenRouter),
    which the SDK keeps as extra fields."""
    return any(getattr(delta, name, None) for name in THOUGHT_FIELDS)


def _reasoning_tokens(usage: Any) -> int:
    """The thinking tokens a usage names (``completion_tokens_details.reasoning_tokens``,
    OpenAI's), 0 where it names none."""
    details = getattr(usage, "completion_tokens_details", None)
    count = getattr(details, "reasoning_tokens", None)
    return count if isinstance(count, int) and count > 0 else 0


def from_http_stack(exc: Exception) -> bool:
    """httpx read errors (a socket dropped mid-stream) reach us unwrapped by the SDK."""
    return exc.__class__.__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "anyio")


def _out_of_quota(exc: BaseException) -> bool:
    """OpenAI's 429 for an account out of credit (type ``insufficient_quota``; the code is
    that too, or names the limit hit), unlike a rate limit (type ``requests``/``tokens``)."""
    marks = {getattr(exc, "type", None), getattr(exc, "code", None)}
    return getattr(exc, "status_code", None) == 429 and "insufficient_quota" in marks


def _retryable(exc: Exception) -> bool:
    status = getattr(exc, "status_code", 0)
    if _out_of_quota(exc):  # a 429, but no wait brings the credit back
        return False
    return status in (408, 409, 429) or status >= 500


def _retry_delay(exc: BaseException) -> float:
    """The server's retry-after when short, else a quick fixed pause."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    with contextlib.suppress(TypeError, ValueError):
        if "retry-after-ms" in headers:
            return min(float(headers["retry-after-ms"]) / 1000, _MAX_RETRY_DELAY_S)
        if "retry-after" in headers:
            return min(float(headers["retry-after"]), _MAX_RETRY_DELAY_S)
    return _RETRY_DELAY_S


# What marks a refusal as "longer than the context window", by code or type, or by wording.
_TOO_LONG_CODES = {"context_length_exceeded", "exceed_context_size_error"}
_TOO_LONG_WORDS = re.compile(
    r"context[ _](?:length|size|window)|maximum model length|max_model_len"
    r"|(?:prompt|input)(?: is)? too long|tokens \+ `max_new_tokens`",
    re.IGNORECASE,
)
_N = r"(\d[\d,]*)"
_WINDOW = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"maximum context length (?:is|of) {_N}",  # OpenAI, vLLM, OpenRouter
        rf"{_N} maximum context length",  # Mistral
        rf"context (?:length|size|window) (?:is|of) (?:only )?{_N}",  # LM Studio, llama-cpp-python
        rf"maximum model length (?:is |of )?{_N}",  # vLLM's prompt-only check
        rf"tokens? > {_N} maximum",  # "prompt is too long: N tokens > M maximum"
        rf"`max_new_tokens` must be <= {_N}",  # Text Generation Inference
    )
]
_PROMPT = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\({_N} in the messages",
        rf"messages resulted in {_N} tokens",
        rf"request has {_N} input tokens",
        rf"prompt is too long: {_N} tokens",
        rf"prompt contains {_N} tokens",
        rf"given: {_N} `inputs` tokens",
    )
]


def _too_long(exc: Exception) -> ContextTooLongError | None:
    """The refusal of a request as too long for the model, or None for any other error."""
    status = getattr(exc, "status_code", None)
    if status in (401, 403, 404, 429):
        return None
    body = getattr(exc, "body", None)
    fields = body if isinstance(body, dict) else {}
    message = error_message(exc)
    marks = {str(getattr(exc, "code", None) or ""), str(getattr(exc, "type", None) or "")}
    if not (marks & _TOO_LONG_CODES or _TOO_LONG_WORDS.search(message)):
        return None
    window = _first_number(_WINDOW, message) or _int_field(fields, "n_ctx")
    prompt = _first_number(_PROMPT, message) or _int_field(fields, "n_prompt_tokens")
    size = f" (its context window is {window} tokens)" if window else ""
    return ContextTooLongError(
        f"The conversation is too long for the language model{size}: {message}",
        "set llm.context_window to the model's context window, or lower context.budget_tokens",
        window=window,
        prompt_tokens=prompt,
    )


def _first_number(patterns: list[re.Pattern[str]], text: str) -> int | None:
    for pattern in patterns:
        if match := pattern.search(text):
            return int(match.group(1).replace(",", ""))
    return None


def _int_field(fields: dict[str, Any], key: str) -> int | None:
    value = fields.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def error_message(exc: Exception) -> str:
    """What an OpenAI-style server said in its error body, which says more than the status.
    A pydantic error list (Mistral's 422s, FastAPI servers) is said field by field: it was
    printed as the dict it is."""
    err = error_fields(exc)
    if err:
        if details := validation_details(err):
            return "; ".join(
                f"{'.'.join(str(part) for part in d['loc'] if part != 'body')}: {d.get('msg')}"
                for d in details
            )
        if err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", exc))
