"""The engine's side of MCP: start the tool servers, list their tools, run tool calls.

A voice conversation must never stop because a tool did. So every failure here becomes data,
not an exception: a server that cannot start is reported with a :class:`~voicedesk.events.Notice`
and left out; a tool call that fails, times out or hits a crashed server returns a
:class:`ToolResult` with ``is_error=True`` and a sentence the model can relay; a server whose
process dies is restarted in the background with exponential back-off.

Each server lives in its own long-lived asyncio task that enters *and* exits the transport and
``ClientSession`` context managers (anyio task groups must be exited by the task that entered
them). Tool calls from other tasks only send requests through the live session, which the SDK
allows. Server stderr goes to one log file per server, never to our stdout/stderr, which belong
to the terminal UI.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import contextvars
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TextIO

import anyio
import jiter
import jsonschema
import mcp_types as mt
from mcp import ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

from voicedesk import events as ev
from voicedesk.config import McpServer, Settings
from voicedesk.config_secrets import mask_text
from voicedesk.files import make_private_folder
from voicedesk.loopback import direct_mounts
from voicedesk.tools import ANSWER_META, TURN_META, server_setting

log = logging.getLogger(__name__)

DOCS_SERVER = "docs"
DOCS_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 8.0  # spawn + initialize + list tools, per attempt
START_WAIT_S = 10.0  # start() returns after this even if a server is still connecting
STOP_WAIT_S = 7.0  # the SDK's own stdio shutdown escalates within ~6 s (stdin, TERM, KILL)
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 30.0  # a connection that lasted this long resets the back-off
# A server that keeps dying soon after it starts is restarted quietly after this many such
# stops: a notice pair ("stopped", "available again") every 30 s for as long as the
# conversation lasts buried everything else the person was told.
QUIET_AFTER_STOPS = 3
SPOKEN_MAX = 200
# A call that keeps reporting progress is given its server's timeout_s again at each
# report, up to this many times it in all.
PROGRESS_MAX_FACTOR = 10
PROGRESS_MAX_FACTOR_WORD = "ten"
MAX_TOOL_PAGES = 20
MAX_TOOLS = 128  # the most tools OpenAI takes in one request; more and it refuses it
# The longest tool description OpenAI takes; one longer and it refuses the whole request.
MAX_DESCRIPTION = 1024
# A tool result longer than this is cut: 5 MB froze the TUI for 13 s when its detail was
# opened, and the context would clip it to a few thousand tokens anyway.
MAX_RESULT_CHARS = 50_000
LOG_MAX_BYTES = 1_000_000  # a server log bigger than this is started afresh

_NAME_OK = re.compile(r"[^a-zA-Z0-9_-]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s")

ServerState = Literal["starting", "up", "restarting", "failed", "stopped"]


def mcp_http_client(url: str, headers: dict[str, str]) -> Any:
    """The HTTP client of a url server: made as the MCP SDK makes its own (its timeouts: a
    server may hold an event stream open for minutes), except that a server on this
    machine is reached directly, not through a proxy set in the environment;
    the SDK's factory takes no such option."""
    import httpx2  # the MCP SDK's HTTP library (its dependency)

    return httpx2.AsyncClient(
        headers=headers or None,
        timeout=httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
        mounts=direct_mounts(url),
    )


# The server whose task (and the SDK's reader tasks it starts, which copy its context)
# is running: the SDK's log records do not say which server.
_SERVER: contextvars.ContextVar[_Server | None] = contextvars.ContextVar(
    "voicedesk_mcp_server", default=None
)


class _StrayStdoutFilter(logging.Filter):
    """The SDK logs each line a stdio server prints that is no MCP message (a stray
    ``print`` in the server) with a full pydantic traceback, several per line, on our
    stderr. One line saying what it was, which configured server wrote it and what the
    server should do instead is enough; the SDK skips the line and the session goes on.
    Only a server's first such line is reported: one that logs to its stdout (`yes` as a
    server gave 71,625 warnings in 12 s) buried everything else. Its first, not its
    process's: one that prints a banner and exits is started again and again, quietly,
    and its banner came back at each start, a line every 30 s all conversation long."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.getMessage().startswith("Failed to parse JSONRPC message"):
            return True
        server = _SERVER.get()
        if server is not None:
            server.stray_lines += 1
            if server.stray_lines > 1:
                return False
        exc = record.exc_info[1] if record.exc_info else None
        errors = getattr(exc, "errors", None)
        try:
            line = str(errors()[0].get("input", "")) if callable(errors) else ""
        except Exception:  # only the wording depends on it
            line = ""
        shown = f" ({line[:80]!r})" if line else ""
        name = server.name if server is not None else None
        if name == DOCS_SERVER:
            who = "the built-in documents server"
        else:
            who = f"tool server “{name}” ({server_setting(name)})" if name else "a tool server"
        later = " (later ones are skipped unreported)" if server is not None else ""
        record.msg = (
            f"{who} wrote a line that is not an MCP message to its stdout{shown}; "
            f"it was skipped{later}. Tool servers must keep stdout for MCP and log to stderr."
        )
        record.args = ()
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info = record.exc_text = None
        return True


logging.getLogger("mcp.client.stdio").addFilter(_StrayStdoutFilter())


@dataclass
class ToolResult:
    """One tool call's outcome: ``text`` goes to the model, ``spoken`` may be read aloud."""

    text: str
    spoken: str
    is_error: bool = False
    duration_s: float = 0.0
    cancelled: bool = False


@dataclass(frozen=True)
class _ToolRef:
    server: str
    tool: mt.Tool
    parameters: dict[str, Any] = field(default_factory=dict)  # as the model is offered them
    description: str = ""  # as the model is offered it


def spoken_summary(text: str, limit: int = SPOKEN_MAX) -> str:
    """The first line, or its first sentence when the line is long: what the ear can take."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= limit:
        return line
    for match in _SENTENCE_END.finditer(line):
        if match.start() > limit:
            break
        if match.start() >= 20:  # a sentence that short is probably an abbreviation
            return line[: match.start()]
    cut = line[: limit - 1].rsplit(" ", 1)[0] if " " in line[: limit - 1] else line[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


def llm_tool_name(server: str, tool: str) -> str:
    """``server__tool`` squeezed into what the OpenAI API accepts: ``^[a-zA-Z0-9_-]{1,64}$``."""
    name = _NAME_OK.sub("_", f"{server}__{tool}")
    return name[:64] or "tool"


def openai_description(tool: mt.Tool) -> str:
    """A tool's description as OpenAI takes it: at most MAX_DESCRIPTION characters.

    OpenAI refuses the whole request, not the one tool, when a description is longer
    ("string too long"), and MCP servers write long ones (the official sequential-thinking
    server's is 2,781 characters): no answer came at all, whatever was asked. A longer one
    is cut at the end of a line (else of a sentence, else of a word), saying so: its start
    says what the tool is for, the rest is mostly detail."""
    text = tool.description or tool.title or tool.name
    if len(text) <= MAX_DESCRIPTION:
        return text
    note = f"[… cut: the full description is {len(text):,} characters]"
    room = MAX_DESCRIPTION - len(note) - 1
    kept = text[:room]
    line_end = kept.rfind("\n")
    sentence_ends = [m.start() for m in _SENTENCE_END.finditer(kept)]
    if line_end >= room // 2:
        kept = kept[:line_end]
    elif sentence_ends and sentence_ends[-1] >= room // 2:
        kept = kept[: sentence_ends[-1]]
    elif " " in kept[room // 2 :]:
        kept = kept.rsplit(" ", 1)[0]
    return f"{kept.rstrip()}\n{note}"


def openai_parameters(schema: Any) -> tuple[dict[str, Any] | None, str]:
    """A tool's input schema as OpenAI takes it, or (None, what is wrong with it).

    OpenAI refuses the whole request, not the one tool, when a tool's parameters are no
    JSON Schema or hold an array that does not say what it holds ("array schema missing
    items", a draft 4 habit many MCP servers keep): no answer at all came, whatever was
    asked. Such an array takes anything (``items: {}``), as it meant; a schema that is
    still not one is for the caller to leave out."""
    params = {"type": "object", "properties": {}, **(schema if isinstance(schema, dict) else {})}
    params = _items_given(_todays_form(_one_object(params)))
    try:
        jsonschema.validators.validator_for(params).check_schema(params)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return None, f"{exc.message}" + (f" (at {where})" if where else "")
    return params, ""


# What OpenAI refuses at the top of a tool's parameters ("schema must have type 'object'
# and not have 'oneOf'/'anyOf'/'allOf'/'enum'/'not' at the top level"), whole request and all.
_TOP_REFUSED = ("oneOf", "anyOf", "allOf", "enum", "not")


def _one_object(schema: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """``schema`` without a choice of shapes at its top, which OpenAI refuses: the shapes
    (``oneOf``/``anyOf``/``allOf``, local ``$ref``s followed) made one object of every
    property of every shape, requiring what every shape requires (each, for ``allOf``).
    A server listing a union of argument shapes offered them so, and no answer came at
    all; the server still checks the arguments against its own schema. ``enum`` and
    ``not`` at the top only narrow it, and go."""
    if not any(key in schema for key in _TOP_REFUSED):
        return schema
    out = {key: value for key, value in schema.items() if key not in _TOP_REFUSED}
    properties = out.get("properties")
    if not isinstance(properties, dict):
        return out  # no JSON Schema: for the check to name
    properties = dict(properties)
    required = [r for r in out.get("required") or [] if isinstance(r, str)]
    for key in ("allOf", "oneOf", "anyOf"):
        shapes = schema.get(key)
        if not isinstance(shapes, list) or depth > 5:
            continue
        flat = [
            _one_object(shape, depth + 1)
            for shape in (_local(schema, s) for s in shapes)
            if isinstance(shape, dict)
        ]
        needs: list[list[str]] = []
        for shape in flat:
            for name, sub in (shape.get("properties") or {}).items():
                properties.setdefault(name, sub)
            needs.append([r for r in shape.get("required") or [] if isinstance(r, str)])
        if key == "allOf":
            needed = [name for need in needs for name in need]
        else:
            needed = [name for name in (needs[0] if needs else []) if all(name in n for n in needs)]
        required += [name for name in dict.fromkeys(needed) if name not in required]
    out["properties"] = properties
    if required:
        out["required"] = required
    return out


def _local(root: dict[str, Any], schema: Any) -> Any:
    """``schema``, or what its ``$ref`` names in ``root``'s ``$defs``/``definitions``."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not isinstance(ref, str) or not ref.startswith(("#/$defs/", "#/definitions/")):
        return schema
    where, _, name = ref[2:].partition("/")
    found = (root.get(where) or {}).get(name) if isinstance(root.get(where), dict) else None
    return found if isinstance(found, dict) else schema


# Keywords whose values are data, not schemas: an example list is no array schema.
_DATA_KEYWORDS = frozenset({"const", "default", "enum", "examples"})
# Keywords whose values map names to schemas ("properties": {"default": {...}}).
_NAMED_SCHEMAS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)


# Draft 4's ``$schema`` addresses (and draft 3's): a schema so marked is checked by that
# draft's rules, and would be sent in them, after _todays_form rewrote it in today's.
_OLD_DRAFTS = ("draft-03", "draft-04")


def _todays_form(schema: Any) -> Any:
    """``schema`` (copied) with JSON Schema draft 4's forms in today's, which OpenAI reads:
    a boolean ``exclusiveMinimum``/``exclusiveMaximum`` becomes the bound itself (true) or
    goes (false), and draft 4's ``id`` and ``$schema`` go. Checked as today's JSON Schema,
    ``exclusiveMinimum: true`` left the tool out ("True is not of type 'number'"), and
    many servers still write draft 4."""
    if isinstance(schema, list):
        return [_todays_form(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NAMED_SCHEMAS and isinstance(value, dict):  # keys are names, not keywords
            out[key] = {name: _todays_form(sub) for name, sub in value.items()}
        elif key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "id" and isinstance(value, str):
            continue  # draft 4's name for $id: a URI nothing here refers to
        elif key == "$schema" and isinstance(value, str) and any(d in value for d in _OLD_DRAFTS):
            continue
        else:
            out[key] = _todays_form(value)
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = out.get(exclusive)
        if not isinstance(flag, bool):
            continue
        del out[exclusive]
        limit = out.get(bound)
        if flag and isinstance(limit, (int, float)) and not isinstance(limit, bool):
            out[exclusive] = out.pop(bound)
    return out


def _items_given(schema: Any) -> Any:
    """``schema`` (copied) with ``items: {}`` in every array schema that has no items."""
    if isinstance(schema, list):
        return [_items_given(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _NAMED_SCHEMAS and isinstance(value, dict):  # keys are names, not keywords
            out[key] = {name: _items_given(sub) for name, sub in value.items()}
        else:
            out[key] = value if key in _DATA_KEYWORDS else _items_given(value)
    kind = out.get("type")
    is_array = kind == "array" or (isinstance(kind, list) and "array" in kind)
    if is_array and "items" not in out and "prefixItems" not in out:
        out["items"] = {}
    return out


def _arguments(arguments: Mapping[str, Any] | str | None) -> tuple[dict[str, Any], str]:
    """(the arguments as a dict, what is wrong with them or "")."""
    if isinstance(arguments, str):
        text = arguments
        try:
            arguments = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            how = "cut off" if _cut_short(text, exc) else "not valid JSON"
            return {}, f"{how} ({exc.msg}: character {exc.pos})"
    if arguments is None:
        return {}, ""
    if not isinstance(arguments, Mapping):
        kind = {list: "an array", str: "a string", bool: "true or false"}.get(
            type(arguments), "a number"
        )
        return {}, f"{kind}, not a JSON object"
    return dict(arguments), ""


def _cut_short(text: str, exc: json.JSONDecodeError) -> bool:
    """Whether ``text``, which ``exc`` says is no JSON, is the start of a JSON object that
    stopped short (the answer reached its length limit mid-call). Wherever it stopped:
    inside an escape (French text travels as \\u00e9), a number or true, and not only
    inside a string or before the object closed, else the model was told its call was
    no JSON, sent the same call again, and it was cut off again. jiter's partial mode
    reads exactly the starts of valid JSON."""
    if exc.msg.startswith("Extra data") or not text.lstrip().startswith("{"):
        return False
    try:
        jiter.from_json(text.encode(), partial_mode="trailing-strings")
    except ValueError:
        return False
    return True


def _not_run(name: str, wrong: str) -> str:
    """The result of a call whose arguments ``wrong`` describes: it was not run."""
    if wrong.startswith("cut off"):
        return (
            f"The arguments of this call to {name} were cut off at the answer's length limit "
            f"{wrong.removeprefix('cut off ')}, so it was not run. Make the call shorter: "
            f"write long text in parts, a first part in this call and the rest in later "
            f"ones (for a document, insert_paragraph with edit_document adds to it)."
        )
    return (
        f"The arguments of this call to {name} are {wrong}, so it was not run. Call it "
        f"again with the arguments as one JSON object."
    )


def _bounded(text: str) -> str:
    """``text`` cut to MAX_RESULT_CHARS (at a line's end, if one is near), saying so."""
    if len(text) <= MAX_RESULT_CHARS:
        return text
    kept = text[:MAX_RESULT_CHARS]
    line_end = kept.rfind("\n")
    if line_end > MAX_RESULT_CHARS * 0.8:
        kept = kept[:line_end]
    return (
        f"{kept}\n[Cut: the tool returned {len(text):,} characters; only the first "
        f"{len(kept):,} are here. Ask it for less: a narrower query, or a part at a time.]"
    )


# What becomes of a part of a tool result that is no text: voicedesk shows no images and
# plays no tool's sounds. Named "[image, image/png]", the model answered "Here is the
# image", and the person saw and heard nothing of it.
_NOT_SHOWN = "voicedesk passes on only text, so neither you nor the person can {how} it"


# Types of file that are text though not text/*: a blob of one is passed on as text.
_TEXT_TYPES = ("application/json", "application/xml", "application/yaml", "application/toml")
# A blob of text longer than this (base64) is not decoded: it would be cut to
# MAX_RESULT_CHARS anyway, and decoding a large one holds up the event loop.
_MAX_TEXT_BLOB = 4 * MAX_RESULT_CHARS


def _blob_part(res: mt.BlobResourceContents) -> str:
    """What the model is told of a file a tool sent as a blob (base64): its text, when it
    is a file of text (a text/* or JSON-like type, valid in the character set its type
    names, else UTF-8), else what it is. Servers that read files as bytes send text
    files so; named as a file nobody can open, their words were lost to the model."""
    kind, *params = (res.mime_type or "").lower().split(";")
    kind = kind.strip()
    # the character set it names (text/plain; charset=utf-16), else UTF-8, JSON's own
    charset = next(
        (p.split("=", 1)[1].strip(' "') for p in params if p.strip().startswith("charset=")), ""
    )
    named = f"{res.uri} ({res.mime_type})" if res.mime_type else str(res.uri)
    if kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith(("+json", "+xml")):
        if len(res.blob) > _MAX_TEXT_BLOB:
            size = len(res.blob) * 3 // 4
            return (
                f"[a file of text, {named}, about {size:,} bytes: too long to pass on; "
                f"ask the tool for a part of it]"
            )
        try:
            return base64.b64decode(res.blob, validate=True).decode(charset or "utf-8")
        except (binascii.Error, ValueError, LookupError):  # ValueError: UnicodeDecodeError
            pass  # no text after all, whatever its type says
    return f"[a file, {named}: {_NOT_SHOWN.format(how='open')}]"


def result_text(result: mt.CallToolResult) -> str:
    """All the text in a tool result; non-text parts are named so the model knows they
    exist, and that nobody can see or hear them."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, mt.TextContent):
            parts.append(block.text)
        elif isinstance(block, mt.EmbeddedResource):
            res = block.resource
            if isinstance(res, mt.TextResourceContents):
                parts.append(res.text)
            else:
                parts.append(_blob_part(res))
        elif isinstance(block, mt.ResourceLink):
            parts.append(f"[resource {block.name}: {block.uri}]")
        elif isinstance(block, mt.ImageContent):
            parts.append(f"[an image ({block.mime_type}): {_NOT_SHOWN.format(how='see')}]")
        elif isinstance(block, mt.AudioContent):
            parts.append(f"[a sound ({block.mime_type}): {_NOT_SHOWN.format(how='hear')}]")
        else:
            parts.append(f"[{getattr(block, 'type', 'content')}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts).strip()


_NPM_ERROR = re.compile(r"^npm (?:error|ERR!)\s+(.*)$")
# npm's error lines that name the error but do not say what it is
_NPM_BARE = re.compile(r"^(?:code|syscall|errno|path|\d{3})\b\s*\S*$")


def _npm_reason(lines: list[str]) -> str:
    """npm's own summary of why it failed, from a server started with npx (as the config
    template shows): its first error line that says something, such as "404 Not Found -
    GET https://registry.npmjs.org/…" or "network request to … failed". Its last line,
    quoted before, is only where its log is ("A complete log of this run can be found
    in: …"). "" when npm said no such thing."""
    for line in lines:
        match = _NPM_ERROR.match(line)
        said = match.group(1).strip() if match else ""
        if said and not _NPM_BARE.match(said) and not said.startswith("A complete log"):
            return f"npm error {said}"
    return ""


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups from anyio task groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException, command: str | None = None) -> str:
    exc = _leaf(exc)
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {command or exc.filename}"
    if isinstance(exc, PermissionError):
        return f"not allowed to run {command or exc.filename}"
    if type(exc) is ConnectionError and str(exc):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "no answer in time (timeout_s)"
    if type(exc).__name__ in ("ConnectError", "ConnectTimeout"):  # httpx, for a url server
        return "cannot connect (nothing answers there, or the connection was refused)"
    if isinstance(exc, MCPError):
        if exc.code == mt.CONNECTION_CLOSED:
            return "the server closed the connection"
        return exc.message or f"MCP error {exc.code}"
    if type(exc).__name__ == "ValidationError" and hasattr(exc, "errors"):  # pydantic's
        # A listing or result the protocol does not allow (one tool with a schema that is
        # no object): its first problem on one line, not pydantic's page of them.
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return f"it sent a {getattr(exc, 'title', 'message')} the MCP protocol does not allow" + (
            f" ({where}: {first.get('msg', '')})" if where else ""
        )
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _WatchedRead:
    """Wraps the transport's read stream to notice the moment it ends.

    The end of that stream is the only prompt sign that a stdio server process died while idle
    (its stdout closed); without it a crash would go unnoticed until the next call failed.
    """

    def __init__(self, inner: Any, on_end: Callable[[], None]) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> Any:  # the dispatcher reads this duck-typed attribute
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> _WatchedRead:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._inner.__anext__()
        except (StopAsyncIteration, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def close(self) -> None:
        self._inner.close()

    async def __aenter__(self) -> _WatchedRead:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        return await self._inner.__aexit__(exc_type, exc_val, exc_tb)


class _Server:
    """One MCP server: its config, its current session and the task that keeps it running."""

    def __init__(
        self,
        name: str,
        spec: McpServer,
        *,
        log_dir: Path | None,
        notice: Callable[[ev.NoticeLevel, str], None],
        on_tools_changed: Callable[[], None],
    ) -> None:
        self.name = name
        self.spec = spec
        self.kind: Literal["stdio", "http"] = "http" if spec.url and not spec.command else "stdio"
        self.state: ServerState = "starting"
        self.reason = ""  # why it is not up, for notices and call errors
        # why its last try failed or its connection ended: kept while it is tried again,
        # which clears ``reason`` for that try
        self.failure = ""
        self.session: ClientSession | None = None
        self.tools: list[mt.Tool] = []
        self.ready = asyncio.Event()  # the first connection attempt has ended, either way
        self.task: asyncio.Task[None] | None = None
        self._notice = notice
        self._on_tools_changed = on_tools_changed
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # ends the current connection: stop, crash or broken call
        self._log_dir = log_dir
        self._errlog: TextIO | None = None
        self._log_path: Path | None = None
        self._connect_scope: anyio.CancelScope | None = None
        self._connected_at: float | None = None
        self._attempt = 0
        self._delay = BACKOFF_FIRST_S
        self._offset = 0  # where this attempt's stderr starts in the log file
        self._reported = False
        self._quick_stops = 0  # stops in a row, each before STABLE_AFTER_S of being up
        self.was_up = False
        self._refreshes: set[asyncio.Task[None]] = set()  # tool lists asked for again
        self.stray_lines = 0  # lines its processes wrote to stdout that were no MCP message

    # ------------------------------------------------------------------ public
    @property
    def timeout_s(self) -> float:
        return self.spec.timeout_s

    @property
    def why_down(self) -> str:
        """Why it is not up: this try's reason, else the last failed one's ("" if up)."""
        return "" if self.state == "up" else self.reason or self.failure

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"mcp-server-{self.name}")

    def mark_broken(self, session: ClientSession | None, why: str) -> None:
        """A call found the connection dead; restart, unless a newer session already replaced it."""
        if session is not None and session is self.session and self.state == "up":
            self.reason = self.reason or why
            self._wake.set()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._connect_scope is not None:
            self._connect_scope.cancel()
        task = self.task
        if task is None or task.done():
            self._close_log()
            return
        done, _ = await asyncio.wait({task}, timeout=STOP_WAIT_S)
        if not done:  # should not happen: every wait in the SDK's shutdown is bounded
            log.warning("MCP server %s did not stop in time; cancelling its task", self.name)
            task.cancel()
            await asyncio.wait({task}, timeout=3.0)
        self._close_log()

    # ------------------------------------------------------------------ the server task
    async def _run(self) -> None:
        _SERVER.set(self)  # this task's own context: its log records name it
        try:
            while not self._stop.is_set():
                self._attempt += 1
                self._wake.clear()
                self._offset = self._log_offset()
                self._connected_at = None
                self._reported = False
                error: BaseException | None = None
                try:
                    await self._connect_and_serve()
                except Exception as exc:
                    error = exc
                if self._connected_at is not None and error is not None:
                    # It was up; the error is the transport complaining while it wound down.
                    log.debug("MCP server %s: error on disconnect", self.name, exc_info=error)
                    error = None
                self.session = None
                if self._stop.is_set():
                    break
                if not self._report_down(error):
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self._delay)
                self._delay = min(self._delay * 2, BACKOFF_MAX_S)
        finally:
            self.session = None
            if self.state != "failed":
                self.state = "stopped"
            self.ready.set()

    def _report_down(self, error: BaseException | None) -> bool:
        """Say why the server is down, once per attempt; False when retrying cannot help.

        Called as soon as a handshake fails (before the slow process shutdown, so start() hears
        of it in time) or after a live connection ended.
        """
        if self._reported:
            return self.state != "failed"
        self._reported = True
        up_for = time.monotonic() - self._connected_at if self._connected_at is not None else 0.0
        if up_for >= STABLE_AFTER_S:
            self._delay = BACKOFF_FIRST_S
            self._quick_stops = 0
        elif self._connected_at is not None:
            self._quick_stops += 1
        why = self.reason if error is None else _describe(error, self.spec.command)
        tail = self._stderr_tail(self._offset)
        if tail and tail not in why:
            why = f"{why} (it said: {tail})" if why else tail
        # a url's password or token, quoted in an error, must not reach the screen or logs
        self.reason = mask_text(why) if why else "the connection closed"
        if self.kind != "stdio" and self.reason == "Server returned an error response":
            self.reason += (  # the SDK keeps the HTTP status to itself; doctor shows it
                f"; check {server_setting(self.name)}.url and .headers "
                f"(`voicedesk doctor --online` shows the HTTP status)"
            )
        self.failure = self.reason
        leaf = _leaf(error) if error is not None else None
        if self.kind == "stdio" and isinstance(leaf, FileNotFoundError | PermissionError):
            self._fail(self.reason)  # retrying cannot help until the config changes
            return False
        self.state = "restarting"
        self.ready.set()
        if self._connected_at is not None and self._quick_stops < QUIET_AFTER_STOPS:
            self._notice(
                "warning",
                f"Tool server “{self.label}” stopped: {self.reason}. "
                f"{self.again.capitalize()} in {self._delay:g} s.",
            )
        elif self._connected_at is not None and self._quick_stops == QUIET_AFTER_STOPS:
            where = f" Its log: {self._log_path}." if self._log_path else ""
            self._notice(
                "warning",
                f"Tool server “{self.label}” keeps stopping soon after it comes up "
                f"({self._quick_stops} times in a row): {self.reason}. {self.again.capitalize()} "
                f"it in the background without saying so each time; I will say when it "
                f"stays up.{where}",
            )
        elif self._attempt == 1:
            self._notice(
                "warning",
                f"Tool server “{self.label}” could not start: {self.reason}. "
                f"Retrying in the background.",
            )
        else:  # said once (above); the retries are quiet, as the notice promised
            log.info(
                "MCP server %s still down (%s); next try in %g s",
                self.name,
                self.reason,
                self._delay,
            )
        return True

    async def _connect_and_serve(self) -> None:
        """One connection, from spawn to break: every context is entered and exited here.

        Returns when the connection has ended (crash, broken call or stop); ``_connected_at``
        says whether (and when) it came up.
        """
        self.reason = ""
        async with contextlib.AsyncExitStack() as stack:
            if self.kind == "stdio":
                assert self.spec.command
                params = StdioServerParameters(
                    command=self.spec.command, args=list(self.spec.args), env=dict(self.spec.env)
                )
                read, write = await stack.enter_async_context(
                    stdio_client(params, errlog=self._open_log())
                )
            else:
                assert self.spec.url
                http = mcp_http_client(self.spec.url, dict(self.spec.headers))
                await stack.enter_async_context(http)
                read, write = await stack.enter_async_context(
                    streamable_http_client(self.spec.url, http_client=http)
                )
            session = await stack.enter_async_context(
                ClientSession(
                    _WatchedRead(read, self._connection_ended),
                    write,
                    message_handler=self._on_message,
                )
            )
            try:
                with anyio.CancelScope() as scope:  # stop() cancels a handshake in progress
                    self._connect_scope = scope
                    # A server may take long to come up the first time (npx or uvx fetch
                    # it): its own timeout_s, if longer, is given to the handshake too;
                    # 8 s killed and restarted such a server forever.
                    with anyio.fail_after(max(CONNECT_TIMEOUT_S, self.spec.timeout_s)):
                        await session.initialize()
                        tools = await self._list_tools(session)
            except Exception as exc:
                if not self._stop.is_set():
                    self._report_down(exc)
                raise
            finally:
                self._connect_scope = None
            if scope.cancelled_caught or self._stop.is_set():
                return
            if self._wake.is_set():  # the process died right after answering
                raise ConnectionError(self.reason or "the server exited right after starting")
            self._connected_at = time.monotonic()
            self.session = session
            self.tools = tools
            self.state = "up"
            self.failure = ""
            self._on_tools_changed()
            self.ready.set()
            log.info("MCP server %s is up with %d tools", self.name, len(tools))
            if self._attempt > 1 and self._quick_stops < QUIET_AFTER_STOPS:
                again = "available again" if self.was_up else "ready after all"
                self._notice("info", f"Tool server “{self.name}” is {again}.")
            self.was_up = True
            if self._quick_stops >= QUIET_AFTER_STOPS:  # restarted quietly: say it once it holds
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), STABLE_AFTER_S)
                if not self._wake.is_set():
                    self._quick_stops = 0
                    self._notice("info", f"Tool server “{self.name}” has stayed up this time.")
            await self._wake.wait()
            self.session = None
            if not self._stop.is_set():
                self.state = "restarting"
                self.reason = self.reason or "the connection closed"

    async def _on_message(self, message: Any) -> None:
        """A server whose tools change says so (tools/list_changed): the model is offered
        the new list. Asked for in a task of its own: the SDK calls this from its read
        loop, which the answer has to come through."""
        if isinstance(message, mt.ToolListChangedNotification):
            task = asyncio.get_running_loop().create_task(self._refresh_tools())
            self._refreshes.add(task)
            task.add_done_callback(self._refreshes.discard)

    async def _refresh_tools(self) -> None:
        session = self.session
        if session is None:
            return  # not up yet: the list taken when it comes up is the new one
        try:
            tools = await self._list_tools(session)
        except Exception as exc:  # the old list stays; a broken connection says so itself
            log.warning("MCP server %s: listing its changed tools failed: %s", self.name, exc)
            return
        if session is self.session:
            self.tools = tools
            self._on_tools_changed()
            log.info("MCP server %s now has %d tools", self.name, len(tools))

    @staticmethod
    async def _list_tools(session: ClientSession) -> list[mt.Tool]:
        tools: list[mt.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_TOOL_PAGES):
            params = mt.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    @property
    def label(self) -> str:
        """The name, and for a remote server where it is: what to check when it is down."""
        return (
            self.name
            if self.kind == "stdio"
            else f"{self.name}” at “{mask_text(self.spec.url or '')}"
        )

    @property
    def again(self) -> str:
        """What is done about it: a process is started again, a remote server reconnected."""
        return "restarting" if self.kind == "stdio" else "reconnecting"

    def _connection_ended(self) -> None:
        if not self._stop.is_set() and not self.reason:
            self.reason = (
                "the server process exited" if self.kind == "stdio" else "the connection closed"
            )
        self._wake.set()

    def _fail(self, why: str) -> None:
        self.state = "failed"
        self.reason = self.failure = why
        self.ready.set()
        self._notice("warning", f"Tool server “{self.name}” could not start: {why}.")

    # ------------------------------------------------------------------ stderr log
    def _open_log(self) -> TextIO:
        """The server's stderr sink: a per-server file, so it never lands on the terminal UI."""
        if self._errlog is not None:
            return self._errlog
        if self._log_dir is not None:
            safe = _NAME_OK.sub("_", self.name)
            path = self._log_dir / f"mcp-{safe}.log"
            try:
                make_private_folder(self._log_dir)
                big = path.exists() and path.stat().st_size > LOG_MAX_BYTES
                # 0600: a server's stderr may quote its environment's secrets
                fd = os.open(
                    path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if big else os.O_APPEND), 0o600
                )
                self._errlog = open(fd, "w", encoding="utf-8")  # noqa: SIM115
                self._log_path = path
                return self._errlog
            except OSError as exc:
                log.warning("cannot open %s (%s); discarding %s's stderr", path, exc, self.name)
        self._errlog = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        return self._errlog

    def _log_offset(self) -> int:
        if self.kind != "stdio":
            return 0
        self._open_log()
        try:
            return self._log_path.stat().st_size if self._log_path else 0
        except OSError:
            return 0

    def _stderr_tail(self, offset: int) -> str:
        """The last line the server wrote to stderr during this attempt: often the real reason."""
        if self._log_path is None:
            return ""
        try:
            with open(self._log_path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""
        # pydantic's last line is a link to its docs, not the error it follows
        lines = [
            ln.strip()
            for ln in data.splitlines()
            if ln.strip() and not ln.strip().startswith("For further information visit")
        ]
        return (_npm_reason(lines) or (lines[-1] if lines else ""))[:160]

    def _close_log(self) -> None:
        if self._errlog is not None:
            with contextlib.suppress(OSError):
                self._errlog.close()
            self._errlog = None


def _schema_refused(wrong: str) -> str:
    """Why a tool whose input schema the language model refuses (``wrong``) is left out."""
    return (
        f"its input schema is not one the language model accepts ({wrong}). Offered, it "
        f"would make every answer fail. Its other tools are available; the server's maker "
        f"can fix the schema."
    )


# Why a tool that runs only as an MCP task (``execution.taskSupport: "required"``) is left
# out: the client has to start it as a task, then poll and fetch its result, and voicedesk
# calls tools directly, so each call of it only failed ("requires task augmentation").
_TASK_ONLY = (
    "it runs only as an MCP task, which voicedesk does not start, so every call of it "
    "would fail. Its other tools are available."
)


class ToolManager:
    """Every configured MCP server, presented to the model as one flat list of tools."""

    def __init__(
        self,
        settings: Settings,
        *,
        bus: ev.EventBus | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        if log_dir is None:
            from voicedesk.config import data_dir

            log_dir = data_dir() / "logs"
        self._log_dir = log_dir
        self._pending_notices: list[tuple[ev.NoticeLevel, str]] = []
        self._servers: dict[str, _Server] = {}
        self._names: dict[str, _ToolRef] = {}
        self._left_out_said: set[tuple[str, str, str]] = set()  # server, tool, reason
        # each schema offered, by its JSON text: what openai_parameters made of it
        self._checked: dict[str, tuple[dict[str, Any] | None, str]] = {}
        self._said_left_out: set[frozenset[tuple[str, str]]] = set()
        self._started = False
        self._closed = False

        tools = settings.tools
        if tools.docs_server:
            root = tools.workspace_dir
            if root.is_dir():
                self._add(DOCS_SERVER, self._docs_spec(root, settings.tools.docs_server_args))
            else:
                self._pending_notices.append(
                    (
                        "warning",
                        f"The documents tools are off: the workspace folder {root} does not "
                        f"exist. Create it or set tools.workspace.",
                    )
                )
        for name, spec in tools.mcpServers.items():
            if not spec.enabled:
                continue
            if name in self._servers:
                self._pending_notices.append(
                    ("warning", f"Tool server “{name}” clashes with the built-in one; skipped.")
                )
                continue
            if not spec.command and not spec.url:
                self._pending_notices.append(
                    ("warning", f"Tool server “{name}” has neither a command nor a url; skipped.")
                )
                continue
            self._add(name, spec)

    @staticmethod
    def _docs_spec(root: Path, extra: list[str] | None = None) -> McpServer:
        env = {}
        # The SDK passes only a safe subset of our environment. XDG_DATA_HOME: the undo
        # history of a workspace in a folder that cannot be written goes to the data folder,
        # which must be the one the session's own logs use.
        for name in ("PYTHONPATH", "XDG_DATA_HOME"):
            if os.environ.get(name):
                env[name] = os.environ[name]
        return McpServer(
            command=sys.executable,
            args=["-m", "voicedesk", "docs-server", "--root", str(root), *(extra or [])],
            env=env,
            timeout_s=DOCS_TIMEOUT_S,
        )

    def _add(self, name: str, spec: McpServer) -> None:
        self._servers[name] = _Server(
            name,
            spec,
            log_dir=self._log_dir,
            notice=self._notice,
            on_tools_changed=self._rebuild_names,
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect every server concurrently; return once all answered or START_WAIT_S passed."""
        if self._started:
            return
        self._started = True
        for level, message in self._pending_notices:
            self._notice(level, message)
        self._pending_notices.clear()
        for server in self._servers.values():
            server.start()
        waits = [asyncio.create_task(s.ready.wait()) for s in self._servers.values()]
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=START_WAIT_S)
        for task in pending:
            task.cancel()
        for server in self._servers.values():
            if not server.ready.is_set():
                self._notice(
                    "warning",
                    f"Tool server “{server.name}” is slow to start; its tools will appear when "
                    f"it is ready.",
                )

    async def aclose(self) -> None:
        """Stop every server and wait for its process to be gone."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(s.stop() for s in self._servers.values()), return_exceptions=True)
        self._names.clear()

    async def __aenter__(self) -> ToolManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def first_attempts_take(self) -> float:
        """The longest :meth:`first_attempts` waits, in seconds: `doctor` says so first."""
        longest = max(
            (max(CONNECT_TIMEOUT_S, s.timeout_s) for s in self._servers.values()), default=0
        )
        return longest + 2.0

    async def first_attempts(self) -> None:
        """Wait until each server's first connection has come up or failed, however long
        its handshake may take (``timeout_s``, for a server npx fetches first): for
        `doctor`, which reports each as it is, where start() returns after START_WAIT_S."""
        waits = [asyncio.create_task(s.ready.wait()) for s in self._servers.values()]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self.first_attempts_take())
            for task in pending:
                task.cancel()

    # ------------------------------------------------------------------ tools for the model
    def status(self) -> dict[str, str]:
        """Each server's state ("up", "restarting", …), for the UI and `doctor`."""
        return {name: s.state for name, s in self._servers.items()}

    def why_down(self, server: str) -> str:
        """Why ``server`` is not up (its last words on stderr included), or ""."""
        found = self._servers.get(server)
        return found.why_down if found is not None else ""

    def llm_tools(self) -> list[dict[str, Any]]:
        """OpenAI Chat Completions ``tools``: every known tool of every server not given up on.

        Tools of a server that is restarting stay listed, so a call gets a "restarting, try
        again" answer the model can relay instead of the tool vanishing mid-conversation.
        """
        out = []
        offered = [
            (name, ref)
            for name, ref in self._names.items()
            if self._servers[ref.server].state not in ("failed", "stopped")
        ]
        # The documents tools first, so they are never the ones a long list leaves out.
        offered.sort(key=lambda item: item[1].server != DOCS_SERVER)
        self._say_left_out([ref for _, ref in offered[MAX_TOOLS:]])
        for name, ref in offered[:MAX_TOOLS]:
            out.append(
                {
                    "type": "function",
                    "function": {
                        "name": name,
                        "description": ref.description,
                        "parameters": ref.parameters,
                    },
                }
            )
        return out

    def _say_left_out(self, refs: list[_ToolRef]) -> None:
        """Say once (per set of tools) which servers' tools a list too long left out."""
        key = frozenset((r.server, r.tool.name) for r in refs)
        if not refs or key in self._said_left_out:
            return
        self._said_left_out.add(key)
        counts: dict[str, int] = {}
        for ref in refs:
            counts[ref.server] = counts.get(ref.server, 0) + 1
        which = ", ".join(f"{n} of tool server “{server}”" for server, n in counts.items())
        self._notice(
            "warning",
            f"Some tools are left out: {which}. The language model takes at most {MAX_TOOLS} "
            f"tools, and more made every answer fail. Turn off a tool server you do not need "
            f"(enabled = false in tools.mcpServers).",
        )

    def reads_only(self, names: Iterable[str]) -> bool:
        """Whether every tool named only reads, as its server declares (MCP's readOnlyHint).

        The engine may run such calls for an answer it prepares before the person has
        finished; anything else waits for the end of their turn. A tool that does not say
        is taken to change things. A name no server offers runs nothing (the call is
        answered "no such tool"), so it may go early."""
        for name in names:
            ref = self._names.get(name)
            if ref is None:
                continue
            hints = ref.tool.annotations
            if hints is None or hints.read_only_hint is not True:
                return False
        return True

    def server_of(self, name: str) -> str | None:
        """The configured name of the server offering the tool the model knows as ``name``:
        "my.srv" for my_srv__echo, which a person cannot find in the config as written."""
        ref = self._names.get(name)
        return ref.server if ref is not None else None

    def _rebuild_names(self) -> None:
        names: dict[str, _ToolRef] = {}
        checked: dict[str, tuple[dict[str, Any] | None, str]] = {}  # the schemas listed now
        # Servers whose own name is valid first, then in name order, whichever came up
        # first: "my_srv" keeps my_srv__echo, and "my.srv", up later, gets my_srv__echo_2
        # (it took the name while my_srv was starting, and the name then moved).
        servers = sorted(
            self._servers.values(), key=lambda s: (_NAME_OK.search(s.name) is not None, s.name)
        )
        for server in servers:
            # A tool whose name is already valid keeps it; the others are suffixed in the
            # order of their own names. In the server's listing order "read.file" took
            # "read_file" from the tool really called that, and a restart that listed them
            # otherwise moved a name the conversation had used onto another tool.
            tools = sorted(
                server.tools,
                key=lambda t: (
                    llm_tool_name(server.name, t.name) != f"{server.name}__{t.name}",
                    t.name,
                ),
            )
            for tool in tools:
                if tool.execution is not None and tool.execution.task_support == "required":
                    self._leave_out(server.name, tool.name, "task", _TASK_ONLY)
                    continue
                params, wrong = self._parameters_of(tool.input_schema, checked)
                if params is None:
                    self._leave_out(server.name, tool.name, wrong, _schema_refused(wrong))
                    continue
                name = llm_tool_name(server.name, tool.name)
                n = 2
                while name in names:  # two names that sanitise alike: keep both, distinctly
                    suffix = f"_{n}"
                    name = llm_tool_name(server.name, tool.name)[: 64 - len(suffix)] + suffix
                    n += 1
                names[name] = _ToolRef(server.name, tool, params, openai_description(tool))
        self._names = names
        self._checked = checked

    def _parameters_of(
        self, schema: Any, checked: dict[str, tuple[dict[str, Any] | None, str]]
    ) -> tuple[dict[str, Any] | None, str]:
        """:func:`openai_parameters` of ``schema``, kept by its text (in ``checked``) for
        the next listing: every tool list that came (a server up, tools/list_changed)
        checked every tool of every server again, 1.2 ms a tool on the event loop that
        runs the conversation too (150 ms for 128 tools)."""
        try:
            key = json.dumps(schema, sort_keys=True)
        except (TypeError, ValueError):
            return openai_parameters(schema)
        found = checked.get(key) or self._checked.get(key)
        if found is None:
            found = openai_parameters(schema)
        checked[key] = found
        return found

    def _leave_out(self, server: str, tool: str, reason: str, why: str) -> None:
        """Say once (per server, tool and ``reason``) that a tool is left out, and ``why``."""
        key = (server, tool, reason)
        if key in self._left_out_said:
            return
        self._left_out_said.add(key)
        self._notice("warning", f"The tool {tool} of tool server “{server}” is left out: {why}")

    def _resolve(self, name: str) -> _ToolRef | None:
        ref = self._names.get(name)
        if ref is not None:
            return ref
        # Models sometimes drop the namespace; accept a bare tool name when it is unambiguous.
        bare = [r for r in self._names.values() if r.tool.name == name]
        return bare[0] if len(bare) == 1 else None

    # ------------------------------------------------------------------ calling
    async def call(
        self,
        name: str,
        arguments: Mapping[str, Any] | str | None,
        *,
        call_id: str,
        turn_id: int = 0,
        cut_off: bool = False,
        answer_id: str = "",
        person_turn: int | None = None,
    ) -> ToolResult:
        """Run one tool call; never raises (except CancelledError, after reporting it).

        ``arguments`` may be the model's JSON text: if it is no JSON object (the model's
        answer reached its length limit mid-call), the call is not run, and the result
        says so: run with no arguments, the tool only said they were missing, and the
        model tried the same call again. ``cut_off``: the answer stopped before the
        arguments began (none came at all), which no JSON text can show. ``answer_id``:
        the same for every call of one answer of the model, told to the documents server,
        which refuses an edit by a paragraph number another call of it has moved.
        ``person_turn``: the last turn the person spoke or typed (default ``turn_id``), told
        to it too: a confirmation counts only in a later one than its question, and an
        answer to background results is a turn nobody spoke."""
        args, wrong = _arguments(arguments)
        if cut_off and not wrong:
            wrong = "cut off (before they began)"
        t0 = time.monotonic()
        self._publish(
            ev.ToolCallStarted(turn_id=turn_id, call_id=call_id, name=name, arguments=args)
        )
        try:
            if wrong:
                text, is_error = _not_run(name, wrong), True
            else:
                person = turn_id if person_turn is None else person_turn
                text, is_error = await self._call(name, args, call_id, answer_id, person)
        except asyncio.CancelledError:
            result = ToolResult(
                text="The tool call was cancelled.",
                spoken="Cancelled.",
                is_error=True,
                duration_s=time.monotonic() - t0,
                cancelled=True,
            )
            self._finished(call_id, name, result)
            raise
        except Exception as exc:  # a bug here must not end the conversation
            log.exception("tool call %s failed unexpectedly", name)
            text, is_error = f"The tool {name} failed: {_describe(exc)}.", True
        if not text:
            text = "The tool returned nothing." if not is_error else "The tool failed."
        text = _bounded(text)
        result = ToolResult(
            text=text,
            spoken=spoken_summary(text),
            is_error=is_error,
            duration_s=time.monotonic() - t0,
        )
        self._finished(call_id, name, result)
        return result

    async def _call(
        self,
        name: str,
        args: dict[str, Any],
        call_id: str,
        answer_id: str = "",
        turn_id: int = 0,
    ) -> tuple[str, bool]:
        ref = self._resolve(name)
        if ref is None:
            same = [full for full, r in self._names.items() if r.tool.name == name]
            if len(same) > 1:  # a bare name several servers offer: say which to choose from
                return (
                    f"Several tool servers have a tool called {name}: call one of "
                    f"{', '.join(same)}.",
                    True,
                )
            known = ", ".join(list(self._names)[:20]) or "none"
            return f"There is no tool called {name}. Available tools: {known}.", True
        server = self._servers[ref.server]
        session = server.session
        if server.state == "failed":
            return f"The {server.name} tools are not available: {server.reason}.", True
        if server.state == "stopped" or self._closed:
            return f"The {server.name} tools have been shut down.", True
        if session is None or server.state != "up":
            return (
                f"The {server.name} tool server is down ({server.why_down or 'starting up'}); "
                f"{server.again} in the background. Tell the person; try again later.",
                True,
            )

        timeout = server.timeout_s
        # A call is given timeout_s from its start or its last progress report, up to
        # `longest` in all: the MCP specification lets a client reset its clock on
        # progress ("work is actually happening") and asks for a maximum regardless.
        longest = timeout * PROGRESS_MAX_FACTOR
        loop = asyncio.get_running_loop()
        started = loop.time()
        limit: asyncio.Timeout | None = None
        reported = False

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            nonlocal reported
            reported = True
            if limit is not None:
                with contextlib.suppress(RuntimeError):  # it has already run out
                    limit.reschedule(min(loop.time() + timeout, started + longest))
            self._publish(
                ev.ToolCallProgress(
                    call_id=call_id, progress=progress, total=total, message=message
                )
            )

        def took_too_long() -> str:
            name = ref.tool.name
            # the limit that stopped it, not the time it took: the cancel sent to a server
            # that stopped reading waits up to 5 s more, past a short timeout_s's ten times
            deadline = limit.when() if limit is not None else None
            if deadline is not None and deadline >= started + longest:
                return (
                    f"The tool {name} took longer than {longest:g} seconds, the most it is "
                    f"given however it reports progress ({PROGRESS_MAX_FACTOR_WORD} times its "
                    f"server's timeout_s), and was stopped."
                )
            quiet = " without reporting progress" if reported else ""
            return f"The tool {name} took longer than {timeout:g} seconds{quiet} and was stopped."

        # RequestParamsMeta is open (PEP 728 extra_items=Any), which mypy does not read yet:
        # it takes any key beyond progress_token for an unknown one
        meta: mt.RequestParamsMeta | None = (
            {ANSWER_META: answer_id, TURN_META: turn_id}  # type: ignore[assignment]
            if answer_id and ref.server == DOCS_SERVER
            else None
        )
        try:
            # Cancelled by this timeout, the SDK sends the server a courtesy cancel (bounded,
            # should the server have stopped reading its input); its own clock, at the
            # longest, is a backstop.
            async with asyncio.timeout_at(started + timeout) as limit:
                result = await session.call_tool(
                    ref.tool.name,
                    args,
                    read_timeout_seconds=longest + 1.0,
                    progress_callback=on_progress,
                    meta=meta,
                )
        except TimeoutError:
            return took_too_long(), True
        except MCPError as exc:
            if exc.code == mt.REQUEST_TIMEOUT:
                return took_too_long(), True
            if exc.code == mt.CONNECTION_CLOSED:
                server.mark_broken(session, "the connection closed during a call")
                return (
                    f"The {server.name} tool server stopped while running {ref.tool.name}; it "
                    f"is {server.again}. Try again in a few seconds.",
                    True,
                )
            return f"The tool {ref.tool.name} failed: {exc.message}", True
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError) as exc:
            server.mark_broken(session, _describe(exc))
            return (
                f"The {server.name} tool server could not be reached ({_describe(exc)}); it "
                f"is {server.again}. Try again in a few seconds.",
                True,
            )
        except Exception as exc:
            return f"The tool {ref.tool.name} failed: {_describe(exc)}.", True
        return result_text(result), bool(result.is_error)

    # ------------------------------------------------------------------ events
    def _finished(self, call_id: str, name: str, result: ToolResult) -> None:
        self._publish(
            ev.ToolCallFinished(
                call_id=call_id,
                name=name,
                result_text=result.text,
                spoken_summary=result.spoken,
                is_error=result.is_error,
                duration_s=result.duration_s,
                cancelled=result.cancelled,
            )
        )

    def _notice(self, level: ev.NoticeLevel, message: str) -> None:
        # With a bus the notice reaches the person (UI or headless console); the log then
        # keeps it for -v only, so it is not printed twice.
        shown = self.bus is not None
        getattr(log, "info" if level == "info" or shown else "warning")("%s", message)
        self._publish(ev.Notice(level=level, message=message))

    def _publish(self, event: ev.Event) -> None:
        if self.bus is not None:
            self.bus.publish(event)
