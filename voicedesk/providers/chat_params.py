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

Mistral's API refuses ``stream_options`` (what asks for the token usage at the end of a
stream) with HTTP 422, a pydantic error list in the body: ``{"object": "error", "message":
{"detail": [{"type": "extra_forbidden", "loc": ["body", "stream_options", "include_usage"],
"msg": "Extra inputs are not permitted", …}]}, …}`` (openai/openai-agents-python#442,
vybestack/llxprt-code#114). Azure OpenAI refused it too, before its 2024 API versions, in
OpenAI's words, and the gateways that relay it (one-api, new-api) pass those on, at times
inside their own message: HTTP 400 "Unknown parameter: 'stream_options'." (code
``unknown_parameter``, param ``stream_options``; agno-agi/agno#1066, BoltAI/BoltAI#135) or
"Unrecognized request argument supplied: stream_options" with no code nor param
(langchain-ai/langchain#23552, songquanpeng/one-api#1423). Each is learnt the same way and
the field left out: the answers then come without the server's token counts (the turns'
metrics lack them; the context is kept within its budget by voicedesk's own count, as
always).

A model or server that takes no tools refuses any request that offers them, each in its
own words: Ollama with HTTP 400 "<model> does not support tools" (ollama/ollama#5793,
#14795), llama.cpp's server started without ``--jinja`` with HTTP 500 "tools param requires
--jinja flag" (its ``oaicompat_chat_params_parse``), vLLM's started without
``--enable-auto-tool-choice`` (as ``vllm serve`` starts by default; tools sent with no
``tool_choice`` are taken as "auto") with HTTP 400 '"auto" tool choice requires
--enable-auto-tool-choice and --tool-call-parser to be set' (vllm-project/vllm#9986,
langchain4j/langchain4j#3475), OpenRouter with HTTP 404 "No endpoints found that support
tool use". Every turn failed while the documents tools were on. Only
those explicit words count (a bare 400 may be anything): the request is sent again without
tools, and so are the session's later ones; the person is told once.

OpenAI's reasoning models think at "medium" effort unless the request says otherwise
(``reasoning_effort``): seconds of silence before each spoken answer, and much of the token
cap spent thinking. Each family takes its own levels, and refuses the others with HTTP 400
``unsupported_value`` naming those it takes: "Unsupported value: 'reasoning_effort' does
not support 'none' with this model. Supported values are: 'minimal', 'low', 'medium', and
'high'." (Kilo-Org/cloud#3807; gpt-5.1 words it "Unsupported value: 'minimal' is not
supported with the 'gpt-5.1' model. Supported values are: 'none', 'low', …",
anomalyco/opencode#4451). Its other models refuse the parameter itself: "Unrecognized
request argument supplied: reasoning_effort" (davidmigloz/langchain_dart#712). So by
default (``llm.reasoning_effort = "lowest"``) it is sent only to a model that showed it
reasons as OpenAI's do (it refused ``max_tokens`` or a temperature, or its usage counted
thinking it never sent): "none", then the least of the levels its refusal names (gpt-5
"minimal", the o-series "low"); the first refusal is the one its ``max_tokens`` cost
anyway. A level the person chose is sent from the first request, the nearest level the
model takes if it refuses that one, and none to a model that takes none. GPT-5.2 and later
take function tools on Chat Completions only at effort "none" (from GPT-5.6, only with
"none" sent: their own default is not), and refuse them otherwise: "Function tools with
reasoning_effort are not supported for gpt-5.4 in /v1/chat/completions. To use function
tools, use /v1/responses or set reasoning_effort to 'none'." (param ``reasoning_effort``,
no code; pipecat-ai/pipecat#4043, BerriAI/litellm#34569). Every turn failed while the
documents tools were on; "none" is sent from then on, whatever was chosen. An effort the
person did not ask for ("lowest") refused in other words about thinking is not sent again:
Gemini 2.5 Pro, whose thoughts a gateway counts in the usage, refuses "none" with HTTP 400
"Budget 0 is invalid. This model only works in thinking mode." (mozilla-ai/any-llm#1294).

The thinking a server streams apart goes back with the tool calls it led to (DeepSeek's
API refuses their results, and every later turn's request, without it;
``ToolCalls.thought``). Servers strict about
message fields refuse it: Groq with HTTP 400 "'messages.2' : for 'role:assistant' the
following must be satisfied[('messages.2' : property 'reasoning_content' is unsupported)]"
(or 'reasoning'; janhq/jan#8136, AstrBotDevs/AstrBot#5946), Cerebras "property
'messages.2.assistant.reasoning_content' is unsupported" (Kilo-Org/kilocode#10375). Such a
refusal naming the field is learnt, and the messages sent without it. One that wants it
with every tool call (DeepSeek's "Missing `reasoning_content` field", in any later turn too)
has a tool-call message that carries none (from a log that did not keep it) sent with an
empty one, which it takes (continuedev/continue#11285).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from voicedesk.providers.base import THOUGHT_FIELDS

log = logging.getLogger(__name__)


# What a server says when the model (or the server as started) takes no tools, with how to
# get them; matched in the error's message only.
_NO_TOOLS = (
    (re.compile(r"does not support tools", re.I), "choose a model that supports tools (llm.model)"),
    (re.compile(r"requires --jinja", re.I), "start llama-server with --jinja"),
    (
        re.compile(r"tool choice requires --enable-auto-tool-choice", re.I),
        "start vLLM with --enable-auto-tool-choice and the --tool-call-parser for the model",
    ),
    (
        re.compile(r"no endpoints found that support tool use", re.I),
        "choose a model that supports tools (llm.model)",
    ),
)
_TOOL_FIELDS = ("tools", "tool_choice", "parallel_tool_calls")
_FIELD_REFUSED = re.compile(
    r"""(?:property|field|argument)s? '?[\w.]*?(reasoning_content|reasoning)'? (?:is|are) """
    r"""(?:unsupported|not supported|not allowed|not permitted)"""
    r"""|'(reasoning_content|reasoning)' was unexpected""",
    re.I,
)
# The reasoning efforts of OpenAI's API, least first; "lowest" asks a model that reasons
# for the least it takes, "server" sends none (the model's own, "medium" at OpenAI).
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
LEAST_EFFORT, SERVER_EFFORT = "lowest", "server"
# A tool-call message sent back with no thinking, refused by DeepSeek's thinking mode
# ("Missing `reasoning_content` field in the assistant message at message index 2") and
# Moonshot's Kimi ("thinking is enabled but reasoning_content is missing in assistant tool
# call message"): every later turn's, not only the answer's (a conversation resumed from a
# log that kept none, a call made with no thought); an empty one is taken
# (continuedev/continue#11285).
_THOUGHT_MISSING = re.compile(
    r"missing `?reasoning_content`? field|reasoning_content is missing", re.I
)
# A refusal in words about thinking (not OpenAI's ``unsupported_value``), of an effort the
# person did not ask for: Gemini's "Budget 0 is invalid. This model only works in thinking
# mode." (mozilla-ai/any-llm#1294).
_ABOUT_THINKING = re.compile(r"reasoning|effort|think|budget", re.I)
_TOOLS_WANT_NO_EFFORT = re.compile(r"function tools with reasoning_effort are not supported", re.I)
_SUPPORTED = re.compile(r"Supported values are:?\s*(.*)", re.I | re.S)
# The codes of OpenAI's refusal of one parameter, which its ``param`` names.
_REFUSAL_CODES = ("unsupported_parameter", "unsupported_value", "unknown_parameter")
# The same refusals in OpenAI's (and Azure's) words, where no code or param came with them:
# a proxy kept only the message, or relayed it inside its own ("relay error (channel #1):
# Unrecognized request argument supplied: stream_options. Please contact us …").
_NAMED_IN_MESSAGE = re.compile(
    r"(?:Unsupported parameter|Unsupported value|Unknown parameter): '(\w+)'"
    r"|Unrecognized request arguments? supplied: (\w+(?:, \w+)*)"
)


class RefusedParameters:
    """What this model refused so far, and the requests reshaped to match."""

    def __init__(self, effort: str = LEAST_EFFORT) -> None:
        self.effort_setting = effort  # llm.reasoning_effort, as set
        self.effort_wanted = effort  # what is still to ask for (see ``reasons``)
        self.effort: str | None = effort if effort in EFFORTS else None  # what is sent
        self._no_effort_for_tools = False  # "none" sent, as a model with tools asked
        self.completion_cap = False  # the cap goes as max_completion_tokens
        self.default_temperature = False  # no temperature is sent (the model's own, 1)
        self.no_stream_options = False  # no stream_options (no usage at the stream's end)
        self.no_thought_back = False  # no thinking sent back in the messages
        self.thought_required = False  # a tool-call message with none is sent an empty one
        # the model takes no tools: (the server's words, how to have them), once refused
        self.no_tools: tuple[str, str] | None = None

    def shape(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` as this model takes them."""
        shaped = dict(kwargs)
        if self.completion_cap and "max_tokens" in shaped:
            shaped["max_completion_tokens"] = shaped.pop("max_tokens")
        if self.default_temperature:
            shaped.pop("temperature", None)
        if self.no_stream_options:
            shaped.pop("stream_options", None)
        if self.no_tools is not None:
            for name in _TOOL_FIELDS:
                shaped.pop(name, None)
        if self.effort is not None:
            shaped["reasoning_effort"] = self.effort
        if self.thought_required and not self.no_thought_back:
            shaped["messages"] = [_with_a_thought(m) for m in shaped.get("messages") or []]
        if self.no_thought_back and _thought_in(shaped.get("messages")):
            shaped["messages"] = [
                {k: v for k, v in m.items() if k not in THOUGHT_FIELDS}
                if isinstance(m, dict)
                else m
                for m in shaped["messages"]
            ]
        return shaped

    def reasons(self) -> None:
        """The model showed it reasons as OpenAI's do: with "lowest", it is asked for the
        least thinking (the least level it takes, learnt from its refusals)."""
        if self.effort_wanted == LEAST_EFFORT and self.effort is None:
            log.info("the model reasons; asking it for the least reasoning effort")
            self.effort = EFFORTS[0]
            self.effort_wanted = ""  # asked once: a refusal of every level is final

    def learn(self, exc: BaseException, kwargs: dict[str, Any]) -> bool:
        """Whether ``exc`` refused a parameter of ``kwargs`` that can be sent otherwise (now
        learnt: ``shape`` sends it so); False for any other error."""
        if kwargs.get("tools"):  # (sent with tools: learnt since by another request)
            said = _error_text(exc)
            for words, fix in _NO_TOOLS:
                if words.search(said):
                    if self.no_tools is None:
                        log.info("the model takes no tools (%s); answering without", said)
                        self.no_tools = (said, fix)
                    return True
        if getattr(exc, "status_code", None) not in (400, 422):
            return False
        if (
            not self.no_thought_back  # (a server that refused the field: not ours to solve)
            and _THOUGHT_MISSING.search(_error_text(exc))
            and any(_with_a_thought(m) is not m for m in kwargs.get("messages") or [])
        ):
            if not self.thought_required:
                log.info("the server wants thinking with every tool call; sending empty ones")
            self.thought_required = True
            return True
        if _thought_in(kwargs.get("messages")) and _FIELD_REFUSED.search(_error_text(exc)):
            if not self.no_thought_back:
                log.info("the server takes no thinking in messages; sending none back")
            self.no_thought_back = True
            return True
        if kwargs.get("tools") and _TOOLS_WANT_NO_EFFORT.search(_error_text(exc)):
            if self._no_effort_for_tools and self.effort == "none":
                return kwargs.get("reasoning_effort") != "none"  # (learnt meanwhile)
            if self._no_effort_for_tools:
                return False  # "none" was refused since: not ours to solve
            log.info("the model takes tools only at reasoning effort 'none'; sending it")
            self.effort, self._no_effort_for_tools = "none", True
            return True
        if "reasoning_effort" in kwargs and (levels := refused_effort(exc)) is not None:
            self._next_effort(str(kwargs["reasoning_effort"]), levels)
            return True
        if self._unbidden_effort_refused(exc, kwargs):
            return True
        # ``kwargs`` was shaped by what was known when it was sent: a refused parameter in
        # it is sent otherwise from now on, whether this refusal taught it or one of
        # another request in flight at the same time did (each resend drops one, so this
        # ends).
        learnt = False
        for param in refused_params(exc):
            if param not in kwargs:
                continue
            if param == "max_tokens":
                if not self.completion_cap:
                    log.info("the model refuses max_tokens; sending max_completion_tokens")
                self.completion_cap = learnt = True
                self.reasons()
            elif param == "temperature":
                if not self.default_temperature:
                    log.info("the model refuses temperature %s; sending none", kwargs[param])
                self.default_temperature = learnt = True
                self.reasons()
            elif param == "reasoning_effort":
                if self.effort is not None:
                    log.info("the model takes no reasoning effort; sending none")
                self.effort, learnt = None, True
            elif param == "stream_options":
                if not self.no_stream_options:
                    log.info("the server refuses stream_options; asking for no usage")
                self.no_stream_options = learnt = True
        return learnt

    def _unbidden_effort_refused(self, exc: BaseException, kwargs: dict[str, Any]) -> bool:
        """Whether ``exc`` refused, in words about thinking but not OpenAI's, an effort
        voicedesk asked for unbidden ("lowest": the person set none), which is then not
        sent again: Gemini 2.5 Pro's "Budget 0 is invalid. This model only works in
        thinking mode." failed every turn after the one whose usage showed it reasons."""
        if (
            self.effort_setting != LEAST_EFFORT
            or self._no_effort_for_tools  # (its tools want "none": not ours to drop)
            or kwargs.get("reasoning_effort") is None
            or not _ABOUT_THINKING.search(_error_text(exc))
        ):
            return False
        if self.effort == kwargs["reasoning_effort"]:  # (else learnt by another request)
            log.info(
                "the model refuses reasoning effort %r (%s); sending none",
                self.effort,
                _error_text(exc),
            )
            self.effort = None
        return True

    def _next_effort(self, sent: str, levels: list[str]) -> None:
        """The effort ``sent`` was refused, the model taking ``levels`` (or, none named,
        any other): the nearest it takes to what is wanted, least first with "lowest"."""
        if self.effort != sent:  # learnt already, by another request in flight
            return
        wanted = EFFORTS.index(sent) if sent in EFFORTS else 0
        known = [level for level in levels if level in EFFORTS]
        if not levels:  # named none: the next level up
            known = list(EFFORTS[wanted + 1 :])
        above = [level for level in known if EFFORTS.index(level) >= wanted]
        choice = min(above, key=EFFORTS.index) if above else None
        if choice is None and known:
            choice = max(known, key=EFFORTS.index)
        if choice is None or choice == sent:
            log.info("the model refuses reasoning effort %r; sending none", sent)
            self.effort = None
        else:
            log.info("the model refuses reasoning effort %r; sending %r", sent, choice)
            self.effort = choice


def _with_a_thought(message: Any) -> Any:
    """``message`` with an empty ``reasoning_content`` if it is an assistant's tool calls
    that carry no thinking back (itself otherwise)."""
    if (
        isinstance(message, dict)
        and message.get("role") == "assistant"
        and message.get("tool_calls")
        and not any(name in message for name in THOUGHT_FIELDS)
    ):
        return {**message, "reasoning_content": ""}
    return message


def _thought_in(messages: Any) -> bool:
    """Whether any of ``messages`` carries thinking back (``THOUGHT_FIELDS``)."""
    return isinstance(messages, list) and any(
        isinstance(m, dict) and any(name in m for name in THOUGHT_FIELDS) for m in messages
    )


def refused_effort(exc: BaseException) -> list[str] | None:
    """The levels a refusal of ``reasoning_effort``'s value says the model takes (empty when
    it names none); None when ``exc`` refused no effort's value."""
    fields = _error_fields(exc)
    message = _error_text(exc)
    code = str(fields.get("code") or getattr(exc, "code", None) or "")
    param = fields.get("param") or getattr(exc, "param", None)
    of_effort = (isinstance(param, str) and "effort" in param) or "reasoning_effort" in message
    if not (of_effort and (code == "unsupported_value" or "Unsupported value" in message)):
        return None
    listed = _SUPPORTED.search(message)
    return re.findall(r"'([\w-]+)'", listed.group(1)) if listed else []


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The error object of ``exc``'s body, however the server wrapped it ({} if none)."""
    return _error_fields(exc)


def _error_text(exc: BaseException) -> str:
    """The message of ``exc``'s error body (or of the exception)."""
    message = _error_fields(exc).get("message")
    return message if isinstance(message, str) else str(getattr(exc, "message", exc))


def _error_fields(exc: BaseException) -> dict[str, Any]:
    """The error object of ``exc``'s body (the SDK keeps OpenAI's ``error`` object, or the
    whole body when it has none; Gemini's OpenAI-compatible endpoint wraps it in a list,
    ``[{"error": {…}}]``, whose words were lost)."""
    body = getattr(exc, "body", None)
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    err = body.get("error", body) if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def refused_params(exc: BaseException) -> list[str]:
    """The top-level request parameters a 400 or 422 says are not accepted: OpenAI's
    ``param`` of an ``unsupported_parameter``/``unsupported_value``/``unknown_parameter``,
    the body fields of a pydantic ``extra_forbidden`` list (Mistral, FastAPI servers), or
    the names in OpenAI's or Azure's wording kept by a proxy that dropped the rest."""
    fields = _error_fields(exc)
    code = str(fields.get("code") or getattr(exc, "code", None) or "")
    param = fields.get("param") or getattr(exc, "param", None)
    if code in _REFUSAL_CODES and isinstance(param, str):
        return [param.split(".")[0]]
    found = [
        str(item["loc"][1])
        for item in validation_details(fields)
        if item.get("type") == "extra_forbidden"
        and len(item["loc"]) > 1
        and item["loc"][0] == "body"
    ]
    message = fields.get("message") or getattr(exc, "message", "")
    if isinstance(message, str) and (named := _NAMED_IN_MESSAGE.search(message)):
        quoted, listed = named.groups()
        found += [quoted] if quoted else listed.split(", ")
    return found


def validation_details(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """A pydantic error list in an error body (``detail``, or ``message.detail`` as
    Mistral nests it): the entries with a ``loc``."""
    message = fields.get("message")
    nested = message.get("detail") if isinstance(message, dict) else None
    details = fields.get("detail") if nested is None else nested
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, dict) and isinstance(d.get("loc"), list)]
