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
import contextlib
import contextvars
import json
import logging
import os
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TextIO

import anyio
import jiter
import mcp.client.stdio as mcp_stdio
import mcp_types as mt
from mcp import ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

from voicedesk import events as ev
from voicedesk.config import McpServer, Settings
from voicedesk.config_secrets import mask_text
from voicedesk.daemon_thread import on_daemon_thread
from voicedesk.files import make_private_folder
from voicedesk.loopback import direct_mounts
from voicedesk.tools import ANSWER_META, TURN_META, server_setting
from voicedesk.tools.listing import mend_listing
from voicedesk.tools.results import (
    ToolResult,
    bounded,
    result_texts,
    spoken_summary,
)
from voicedesk.tools.schemas import (
    TOO_DEEP,
    ArgumentChecks,
    converted,
    made_checker,
    openai_description,
    schema_refused,
)
from voicedesk.tools.wire import (
    MCP_READ_DEPTH,
    WholeLines,
    deep_message,
    mend_answer,
    mended_message,
    refused_line,
    too_deep_to_read,
)

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
# A call that keeps reporting progress is given its server's timeout_s again at each
# report, up to this many times it in all.
PROGRESS_MAX_FACTOR = 10
PROGRESS_MAX_FACTOR_WORD = "ten"
MAX_TOOL_PAGES = 20
MAX_TOOLS = 128  # the most tools OpenAI takes in one request; more and it refuses it
LOG_MAX_BYTES = 1_000_000  # a server log bigger than this is started afresh
# A server's stderr goes straight from its process to its log file, unread: one that
# flooded it (a debug loop) filled the drive, 2 GB in 8 s, the session log and the
# documents' writes with it. The file is looked at this often and, past LOG_MAX_BYTES,
# cut to its last LOG_KEEP_BYTES (where the last words a crash is told with are).
LOG_LOOK_S = 0.5
LOG_KEEP_BYTES = 64_000
LOG_CUT_LINE = "[voicedesk: earlier output of this server left out; the log passed 1 MB]\n"

_NAME_OK = re.compile(r"[^a-zA-Z0-9_-]")

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
        # bytes that are no UTF-8, half an emoji: what the SDK's parser refused, and it
        # told the model a call had failed that had run
        event_hooks={"response": [mend_answer]},
    )


# The server whose task (and the SDK's reader tasks it starts, which copy its context)
# is running: the SDK's log records do not say which server.
_SERVER: contextvars.ContextVar[_Server | None] = contextvars.ContextVar(
    "voicedesk_mcp_server", default=None
)


def _said_as_warning(record: logging.LogRecord, message: str) -> bool:
    """``record``, an SDK's error with its traceback, made the one warning line ``message``
    (the log filters below): kept, for the filter to return."""
    record.msg = message
    record.args = ()
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    record.exc_info = record.exc_text = None
    return True


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
        exc = record.exc_info[1] if record.exc_info else None
        line = refused_line(exc) if exc is not None else ""
        if line and mended_message(line) is not None:
            return False  # read after all (_Server._arrived): a message, not a stray line
        server = _SERVER.get()
        if exc is not None and too_deep_to_read(exc):
            return self._too_deep(record, server, line)
        if server is not None:
            server.stray_lines += 1
            if server.stray_lines > 1:
                return False
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
        return _said_as_warning(
            record,
            f"{who} wrote a line that is not an MCP message to its stdout{shown}; "
            f"it was skipped{later}. Tool servers must keep stdout for MCP and log to stderr.",
        )

    @staticmethod
    def _too_deep(record: logging.LogRecord, server: _Server | None, line: str) -> bool:
        """A line the SDK refused for nesting deeper than it reads: no stray line, but a
        message (a tool listing with a schema nested hundreds deep). Read after all
        (:meth:`_Server._arrived`), what came of it is said there; if not, one line
        says what it was."""
        if server is not None and line and server.read_deep(line) is not None:
            return False
        who = f"tool server “{server.name}”" if server is not None else "a tool server"
        return _said_as_warning(
            record,
            f"{who} sent a message nesting more than {MCP_READ_DEPTH} levels deep (counting "
            f"each JSON object and array), deeper than the MCP SDK reads; it was skipped.",
        )


logging.getLogger("mcp.client.stdio").addFilter(_StrayStdoutFilter())
# The SDK's stdio reader copied a long answer over and over (``wire.WholeLines``): it is
# given its text a line at a time. (It looks the class up by this name as it starts.)
mcp_stdio.TextReceiveStream = WholeLines  # type: ignore[misc]


class _UnreadableAnswerFilter(logging.Filter):
    """The SDK logs a url server's answer it cannot read (no JSON: cut short, say) with its
    traceback, forty lines on our stderr for one answer; the call is told what it needs
    (:func:`_unreadable`). One line naming the server and why is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() not in ("Error parsing JSON response", "Error parsing SSE message"):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        why = str(exc).splitlines()[0] if exc is not None and str(exc) else "no reason given"
        errors = getattr(exc, "errors", None)
        with contextlib.suppress(Exception):  # only the wording depends on it
            why = str(errors()[0]["msg"]) if callable(errors) else why
        server = _SERVER.get()
        name = server.name if server is not None else None
        who = f"tool server “{name}” ({server_setting(name)})" if name else "a tool server"
        return _said_as_warning(
            record, f"{who} sent an answer that could not be read ({why}); its call was told so."
        )


logging.getLogger("mcp.client.streamable_http").addFilter(_UnreadableAnswerFilter())


@dataclass(frozen=True)
class _ToolRef:
    server: str
    tool: mt.Tool
    parameters: dict[str, Any] = field(default_factory=dict)  # as the model is offered them
    description: str = ""  # as the model is offered it
    # the validator of its arguments made by the listing's check of its schema, if that
    # was the schema's own (``schemas.converted``); else made at its first call
    checker: Any = None


def llm_tool_name(server: str, tool: str) -> str:
    """``server__tool`` squeezed into what the OpenAI API accepts: ``^[a-zA-Z0-9_-]{1,64}$``."""
    name = _NAME_OK.sub("_", f"{server}__{tool}")
    return name[:64] or "tool"


def _arguments(arguments: Mapping[str, Any] | str | None) -> tuple[dict[str, Any], str]:
    """(the arguments as a dict, what is wrong with them or "")."""
    if isinstance(arguments, str):
        text = arguments
        try:
            arguments = json.loads(text.strip() or "{}")
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
    if wrong.startswith("unfinished"):
        return (
            f"The arguments of this call to {name} are unfinished JSON: they stop before "
            f"the object is closed {wrong.removeprefix('unfinished ')}, so it was not run. "
            f"Call it again with the arguments as one complete JSON object."
        )
    return (
        f"The arguments of this call to {name} are {wrong}, so it was not run. Call it "
        f"again with the arguments as one JSON object."
    )


_NPM_ERROR = re.compile(r"^npm (?:error|ERR!)\s+(.*)$")
# npm's error lines that name the error but do not say what it is
_NPM_BARE = re.compile(r"^(?:code|syscall|errno|path|\d{3})\b\s*\S*$")


def _reads_only(tool: mt.Tool) -> bool:
    """Whether ``tool`` only reads, as its server declares (MCP's readOnlyHint); a tool
    that does not say is taken to change things."""
    hints = tool.annotations
    return hints is not None and hints.read_only_hint is True


def _may_repeat(tool: mt.Tool) -> bool:
    """Whether calling ``tool`` again is harmless, as its server declares: it only reads,
    or a repeat with the same arguments has no further effect (MCP's idempotentHint)."""
    hints = tool.annotations
    return _reads_only(tool) or (hints is not None and hints.idempotent_hint is True)


# Told of a call that may have done its work unseen (its server died, or it was stopped
# at its timeout): told only to try again, the model could send the same invoice twice.
_CHECK_FIRST = "check (or ask the person) before calling it again."


def _died_during(server: str, again: str, ref: _ToolRef) -> str:
    """What the model is told of a call whose server died before it answered. A tool that
    may change things (not declared read-only or idempotent) may have done its work
    before: told to try again, the model could send the same invoice twice."""
    name = ref.tool.name
    said = f"The {server} tool server stopped while running {name}; it is {again}."
    if _may_repeat(ref.tool):
        return f"{said} Try again in a few seconds."
    return (
        f"{said} It stopped before answering, so whether {name} did anything is not "
        f"known: {_CHECK_FIRST}"
    )


def _unreadable(server: str, ref: _ToolRef, message: str) -> str:
    """What the model is told of a call whose answer could not be read (the MCP SDK's
    ``message`` says why, a pydantic report a dozen lines long with a part of the answer
    in it): the reason in a line and, the tool having run, that what it did is not known
    unless repeating it is harmless."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    found = next((line for line in lines if line.startswith("Invalid JSON:")), "")
    reason = found.split(" [type=", 1)[0] if found else (lines[0] if lines else "no reason")
    said = f"The {server} tool server's answer to {ref.tool.name} could not be read ({reason})."
    if _may_repeat(ref.tool):
        return said
    return f"{said} It ran, but what it did is not known: {_CHECK_FIRST}"


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

    def __init__(
        self, inner: Any, on_end: Callable[[], None], on_item: Callable[[Any], Any]
    ) -> None:
        self._inner = inner
        self._on_end = on_end
        self._on_item = on_item  # sees each message before the SDK: what it returns is read

    @property
    def last_context(self) -> Any:  # the dispatcher reads this duck-typed attribute
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            item = await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise
        return self._on_item(item)

    def __aiter__(self) -> _WatchedRead:
        return self

    async def __anext__(self) -> Any:
        try:
            item = await self._inner.__anext__()
        except (StopAsyncIteration, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise
        return self._on_item(item)

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


class _Session(ClientSession):
    """The SDK's client session, except that a tool's result is kept when it does not match
    the output schema the tool declared (or the schema is no valid JSON Schema).

    The SDK checks that after the tool has run, and raised instead of returning the
    result: the model was told the call failed, though its action was done (an invoice
    sent), and could make it again. Many servers declare a schema and answer in text only
    (bricks-mcp#45, evoila/meho#2774). voicedesk reads a result's content, its structured
    content only when it has no other, so the tool's own words are passed on as they came.
    """

    async def validate_tool_result(self, name: str, result: mt.CallToolResult) -> None:
        try:
            await super().validate_tool_result(name, result)
        except Exception as exc:  # the check is advisory here, whatever made it fail
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.info("tool %s: its result is kept though %s", name, why)


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
        convert: Callable[[list[mt.Tool]], Awaitable[None]],
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
        self._convert = convert
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
        # the person was told it is slow to start (by the manager or a waiting answer):
        # they are told when it is ready, as its tools then join the answers
        self.said_slow = False
        self._refreshes: set[asyncio.Task[None]] = set()  # tool lists asked for again
        # Listings asked for, and the latest put in place, by number: each is converted on
        # a worker thread for as long as its schemas take, so two in flight (two
        # tools/list_changed at once) end in any order, and the older one, ending last,
        # put the older tools back in place.
        self._listings_asked = 0
        self._listing_in_place = 0
        # a tools/list_changed came while connecting, after the listing taken then: the
        # tools are listed again once up (it was dropped, the older list offered meanwhile)
        self._changed_while_connecting = False
        self.stray_lines = 0  # lines its processes wrote to stdout that were no MCP message
        self._version = ""  # the protocol version this connection's handshake agreed
        # tools its listing had that the protocol does not allow, left out: name, why
        self.refused: dict[str, str] = {}
        # tools its listing had whose input schema nested too deep for the SDK to read
        # the listing (``wire.deep_message``), left out
        self.too_deep: list[str] = []
        # an answer of this connection nested too deep to read came, unread or read only
        # as an error (not as a listing without its deepest tools): its handshake failing
        # so, restarting cannot help. Which answer it was: "start" (the answer to
        # ``initialize``, before the protocol version is agreed), else "tools" (the
        # listing): a start answer too deep was said to be a tool list nesting too deep
        self._deep_seen: Literal["", "start", "tools"] = ""
        self._deep_read: tuple[str, tuple[Any, list[str]] | None] | None = None

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
        watch = asyncio.create_task(self._keep_log_small()) if self.kind == "stdio" else None
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
            if watch is not None:
                watch.cancel()
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
        if self._connected_at is None and self._deep_seen == "start":
            # its answer to the handshake itself nests too deep (its capabilities or
            # server info): told it was its tool list, the person looked for a schema
            self._fail(
                f"its start answer (to MCP's initialize request) nests more than "
                f"{MCP_READ_DEPTH} levels deep (counting each JSON object and array: its "
                f"capabilities or server info), deeper than the MCP SDK reads",
                fix=f"Its maker can make that answer shallower; until then, set enabled = "
                f"false in {server_setting(self.name)}.",
            )
            return False
        if self._connected_at is None and self._deep_seen:
            # its listing nests too deep to read: each restart lists it the same, and the
            # person was told it "wrote a line that is not an MCP message" and "could not
            # start: no answer in time", again every 30 s
            self._fail(
                f"its tool list nests more than {MCP_READ_DEPTH} levels deep (counting each "
                f"JSON object and array: a tool's input schema, most likely), deeper than "
                f"the MCP SDK reads",
                fix=f"Its maker can make the schema shallower; until then, set enabled = "
                f"false in {server_setting(self.name)}.",
            )
            return False
        if self.kind == "stdio" and isinstance(leaf, FileNotFoundError | PermissionError):
            # retrying cannot help until the config changes: say which key to change
            # (the server's name alone left the person searching the config for it)
            self._fail(
                self.reason,
                fix=f"Fix {server_setting(self.name)}.command in the config (a program on "
                f"PATH, or its full path) or set enabled = false there.",
            )
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
        self._version = ""
        self.refused = {}
        self.too_deep = []
        self._deep_seen = ""
        self._changed_while_connecting = False
        async with contextlib.AsyncExitStack() as stack:
            if self.kind == "stdio":
                assert self.spec.command
                # "replace": a byte that is no UTF-8 in one answer (a server printing in
                # its system's code page) ended the SDK's reading of stdout for good, the
                # process alive: every later call waited out its timeout_s, untold why
                params = StdioServerParameters(
                    command=self.spec.command,
                    args=list(self.spec.args),
                    env=dict(self.spec.env),
                    encoding_error_handler="replace",
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
                _Session(
                    _WatchedRead(read, self._connection_ended, self._arrived),
                    write,
                    message_handler=self._on_message,
                )
            )
            try:
                with anyio.CancelScope() as scope:  # stop() cancels a handshake in progress
                    self._connect_scope = scope
                    if self._stop.is_set():
                        # stopped while the process was being spawned, before this scope
                        # was there to cancel: the handshake with a server that never
                        # answers held the quit until it gave up (8 s), or the stop's own
                        # wait ran out (7 s)
                        scope.cancel()
                    # A server may take long to come up the first time (npx or uvx fetch
                    # it): its own timeout_s, if longer, is given to the handshake too;
                    # 8 s killed and restarted such a server forever.
                    with anyio.fail_after(max(CONNECT_TIMEOUT_S, self.spec.timeout_s)):
                        await session.initialize()
                        tools = await self._list_tools(session)
                    # after the handshake's time limit, which a huge schema's conversion
                    # (seconds on a busy machine) would count against, but stop() cancels it
                    await self._convert(tools)
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
            self._listings_asked += 1
            self._listing_in_place = self._listings_asked
            self.state = "up"
            self.failure = ""
            self._on_tools_changed()
            self.ready.set()
            log.info("MCP server %s is up with %d tools", self.name, len(tools))
            if self._changed_while_connecting:
                self._changed_while_connecting = False
                self._ask_listing()
            if self._attempt > 1 and self._quick_stops < QUIET_AFTER_STOPS:
                again = "available again" if self.was_up else "ready after all"
                self._notice("info", f"Tool server “{self.name}” is {again}.")
            elif self.said_slow and not self.was_up:
                self._notice("info", f"Tool server “{self.name}” is ready; its tools are in use.")
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

    def _arrived(self, item: Any) -> Any:
        """A message from the server, before the SDK reads it; returns what it reads. A
        line its parser refused for half an emoji is read after all
        (:func:`~voicedesk.tools.wire.mended_message`); the protocol version the handshake
        agrees is noted, and each tool listing mended tool by tool
        (:func:`~voicedesk.tools.listing.mend_listing`), so one tool the protocol does not
        allow is left out, not every tool of the server. A line read after all goes on
        through the rest: half an emoji in the handshake left the version unnoted, and
        one in a listing left it unmended (the whole server refused again)."""
        if isinstance(item, Exception):
            line = refused_line(item)
            mended = mended_message(line) if line else None
            if mended is None and too_deep_to_read(item):
                read = self.read_deep(line) if line else None
                if read is None or not read[1]:  # unreadable, or answered as an error
                    self._deep_seen = "tools" if self._version else "start"
                if read is None:
                    return item
                mended, left_out = read
                self.too_deep = [*self.too_deep, *left_out]
            if mended is None:
                return item
            item = mended
        result = getattr(getattr(item, "message", None), "result", None)
        if not isinstance(result, dict):
            return item
        if isinstance(result.get("protocolVersion"), str) and "serverInfo" in result:
            self._version = result["protocolVersion"]
        elif self._version and isinstance(result.get("tools"), list):
            self.refused.update(mend_listing(result, self._version))
        return item

    def read_deep(self, line: str) -> tuple[Any, list[str]] | None:
        """:func:`~voicedesk.tools.wire.deep_message` of ``line``, kept for the one line:
        the log filter reads it first, then :meth:`_arrived` (megabytes, read once)."""
        kept = self._deep_read
        if kept is None or kept[0] != line:
            kept = self._deep_read = (line, deep_message(line))
        return kept[1]

    async def _on_message(self, message: Any) -> None:
        """A server whose tools change says so (tools/list_changed): the model is offered
        the new list. Asked for in a task of its own: the SDK calls this from its read
        loop, which the answer has to come through."""
        if isinstance(message, mt.ToolListChangedNotification):
            self._ask_listing()

    def _ask_listing(self) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh_tools())
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _refresh_tools(self) -> None:
        session = self.session
        if session is None:
            # Connecting: the listing taken may be from before the change (its conversion
            # takes seconds for a big schema); listed again once up.
            self._changed_while_connecting = True
            return
        self._listings_asked += 1
        listing = self._listings_asked
        refused, self.refused = self.refused, {}  # the new listing says which now
        too_deep, self.too_deep = self.too_deep, []
        try:
            tools = await self._list_tools(session)
        except MCPError as exc:
            self.refused = refused
            self.too_deep = too_deep
            if exc.code != mt.PARSE_ERROR:  # a broken connection says so itself
                log.warning("MCP server %s: listing its changed tools failed: %s", self.name, exc)
                return
            # an answer it wrote that cannot be read (nested too deep, ``wire.deep_message``):
            # the tools the model is offered are no longer the server's, so the person hears it
            self._notice(
                "warning",
                f"Tool server “{self.name}” changed its tools, but their new list could not "
                f"be read ({exc.message}); its earlier tools are still offered.",
            )
            return
        except Exception as exc:  # the old list stays; a broken connection says so itself
            log.warning("MCP server %s: listing its changed tools failed: %s", self.name, exc)
            self.refused = refused
            self.too_deep = too_deep
            return
        await self._convert(tools)
        if listing < self._listing_in_place:
            log.info("MCP server %s: a newer listing of its tools came first", self.name)
            return
        if session is self.session:
            self._listing_in_place = listing
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

    def _fail(self, why: str, fix: str = "") -> None:
        """``fix``: what to change, for the notice only (`doctor` says its own)."""
        self.state = "failed"
        self.reason = self.failure = why
        self.ready.set()
        said = f"Tool server “{self.name}” could not start: {why}."
        self._notice("warning", f"{said} {fix}" if fix else said)

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
                # O_APPEND however it is opened: the process writes at the file's end even
                # after ``_cut_log`` has shortened it (else on past a hole as long as before)
                fd = os.open(
                    path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if big else 0), 0o600
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

    async def _keep_log_small(self) -> None:
        """Cut the log whenever it has passed LOG_MAX_BYTES, for as long as the server runs."""
        while True:
            await asyncio.sleep(LOG_LOOK_S)
            path = self._log_path
            try:
                if path is not None and path.stat().st_size > LOG_MAX_BYTES:
                    self._cut_log(path)
            except OSError as exc:  # gone or unreadable: nothing to keep small
                log.debug("cannot look at %s: %s", path, exc)

    def _cut_log(self, path: Path) -> None:
        """Keep only the log's last LOG_KEEP_BYTES, from a line's start, after a line
        saying so. Appended, as the process's own writes are: what it writes meanwhile
        is kept too, if out of order."""
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
        with open(fd, "r+b") as fh:
            size = os.fstat(fd).st_size
            fh.seek(max(0, size - LOG_KEEP_BYTES))
            kept = fh.read(LOG_KEEP_BYTES)
            if size > LOG_KEEP_BYTES:
                kept = kept[kept.find(b"\n") + 1 :] if b"\n" in kept else b""
            os.ftruncate(fd, 0)
            fh.write(LOG_CUT_LINE.encode() + kept)
        # this attempt's output started before the cut: what is kept is all of it now
        self._offset = 0

    def _stderr_tail(self, offset: int) -> str:
        """The last line the server wrote to stderr during this attempt: often the real reason."""
        if self._log_path is None:
            return ""
        try:
            with open(self._log_path, "rb") as fh:
                if offset > os.fstat(fh.fileno()).st_size:  # cut since (``_cut_log``)
                    offset = 0
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


def _not_allowed(wrong: str, others: bool) -> str:
    """Why a tool its server listed as the MCP protocol does not allow (``wrong``) is
    left out; ``others``: whether its server lists other tools (one whose only tool
    this was was said to have its "other tools available")."""
    then = (
        "Its other tools are available; the server's maker can fix the listing."
        if others
        else "The server offers no other tool; its maker can fix the listing."
    )
    return f"the MCP protocol does not allow it as its server lists it ({wrong}). {then}"


# Why a tool that runs only as an MCP task (``execution.taskSupport: "required"``) is left
# out: the client has to start it as a task, then poll and fetch its result, and voicedesk
# calls tools directly, so each call of it only failed ("requires task augmentation").
_TASK_ONLY = (
    "it runs only as an MCP task, which voicedesk does not start, so every call of it "
    "would fail. Its other tools are available."
)


def _schema_key(schema: Any) -> str | None:
    """A schema's JSON text, by which its conversion is kept; None if it has none."""
    try:
        return json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError, RecursionError):  # nested past what json writes
        return None


# A schema as the model is offered it (None if it is left out), what is wrong with it, and
# its arguments' validator when the listing's check made one (``schemas.converted``).
_Conversion = tuple[dict[str, Any] | None, str, Any]


def _conversions(schemas: list[Any], known: Mapping[str, _Conversion]) -> dict[str, _Conversion]:
    """:func:`~voicedesk.tools.schemas.converted` of each of ``schemas`` not in ``known``,
    by its text: run in a worker thread, reading only what it is given."""
    found: dict[str, _Conversion] = {}
    for schema in schemas:
        key = _schema_key(schema)
        if key is not None and key not in known and key not in found:
            found[key] = converted(schema)
    return found


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
        # What the person is shown of a call's result, by call id, while it is handed from
        # _call to call: it differs from the model's text only for a result with an image,
        # a sound or a file in it.
        self._shown: dict[str, str] = {}
        self._servers: dict[str, _Server] = {}
        self._names: dict[str, _ToolRef] = {}
        self._left_out_said: set[tuple[str, str, str]] = set()  # server, tool, reason
        # each schema offered, by its JSON text: what schemas.converted made of it
        self._checked: dict[str, _Conversion] = {}
        # the validators of the tools' arguments, and what the log was told of schemas
        # that cannot check them: this manager's, said again by another one
        self._checks = ArgumentChecks()
        # the argument checkers being made, by schema id, with the schema (an id is reused
        # once its schema is gone): the calls of a tool that wait for one share it
        self._making: dict[int, tuple[dict[str, Any], asyncio.Task[Any]]] = {}
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
            convert=self._convert_new,
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect every server concurrently; return once all answered or START_WAIT_S passed.
        The session runs this beside its microphone: a request waits for it, not the start."""
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
        try:
            await asyncio.wait(waits, timeout=START_WAIT_S)
        finally:  # cancelled too: the session's start failed, and stops the servers
            for task in waits:
                task.cancel()
        for name in self.unsaid_slow(self.starting()):
            self._notice(
                "warning",
                f"Tool server “{name}” is slow to start; its tools will appear when it is ready.",
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
            if not _reads_only(ref.tool):
                return False
        return True

    def starting(self) -> list[str]:
        """The servers whose first connection has neither come up nor failed yet."""
        return [s.name for s in self._servers.values() if not s.ready.is_set()]

    def unsaid_slow(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` (servers still starting) the person has not yet been told are
        slow to start, now taken as told: a hung server was said three times (the answer
        waits for it, answers go without it, it is slow to start), and never when it came
        up. Said once, by whichever notices it first, and once more when it is ready."""
        unsaid = []
        for name in names:
            server = self._servers.get(name)
            if server is not None and not server.said_slow:
                server.said_slow = True
                unsaid.append(name)
        return unsaid

    async def one_start_ended(self) -> None:
        """Return once one more server's first connection has come up or failed (at once
        if none is still starting): what an answer waits for (:meth:`starting`) changes."""
        waits = [
            asyncio.create_task(s.ready.wait())
            for s in self._servers.values()
            if not s.ready.is_set()
        ]
        if not waits:
            return
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()

    def server_of(self, name: str) -> str | None:
        """The configured name of the server offering the tool the model knows as ``name``:
        "my.srv" for my_srv__echo, which a person cannot find in the config as written."""
        ref = self._names.get(name)
        return ref.server if ref is not None else None

    def _rebuild_names(self) -> None:
        names: dict[str, _ToolRef] = {}
        checked: dict[str, _Conversion] = {}  # the schemas listed now
        # Servers whose own name is valid first, then in name order, whichever came up
        # first: "my_srv" keeps my_srv__echo, and "my.srv", up later, gets my_srv__echo_2
        # (it took the name while my_srv was starting, and the name then moved).
        servers = sorted(
            self._servers.values(), key=lambda s: (_NAME_OK.search(s.name) is not None, s.name)
        )
        for server in servers:
            for tool_name, wrong in server.refused.items():
                why = _not_allowed(wrong, bool(server.tools))
                self._leave_out(server.name, tool_name, "listing", why)
            for tool_name in server.too_deep:  # as one under the limit it is deeper than
                self._leave_out(server.name, tool_name, "schema", schema_refused(TOO_DEEP))
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
                params, wrong, checker = self._parameters_of(tool.input_schema, checked)
                # Said once per tool, not per problem: a schema relisted with another
                # problem each time (an enum of files) was said again at each relisting.
                # Offered again, it is said again should it break once more.
                if params is None:
                    self._leave_out(server.name, tool.name, "schema", schema_refused(wrong))
                    continue
                self._left_out_said.discard((server.name, tool.name, "schema"))
                name = llm_tool_name(server.name, tool.name)
                n = 2
                while name in names:  # two names that sanitise alike: keep both, distinctly
                    suffix = f"_{n}"
                    name = llm_tool_name(server.name, tool.name)[: 64 - len(suffix)] + suffix
                    n += 1
                names[name] = _ToolRef(server.name, tool, params, openai_description(tool), checker)
        self._names = names
        self._checked = checked

    def _parameters_of(self, schema: Any, checked: dict[str, _Conversion]) -> _Conversion:
        """:func:`~voicedesk.tools.schemas.converted` of ``schema``, kept by its text (in
        ``checked``) for the next listing: every tool list that came (a server up, tools/list_changed)
        checked every tool of every server again, 1.2 ms a tool on the event loop that
        runs the conversation too (150 ms for 128 tools). A listed schema is found here
        already converted (:meth:`_convert_new`); one that is not is converted now."""
        key = _schema_key(schema)
        if key is None:
            return converted(schema)
        found = checked.get(key) or self._checked.get(key)
        if found is None:
            found = converted(schema)
        checked[key] = found
        return found

    async def _convert_new(self, tools: list[mt.Tool]) -> None:
        """Convert the input schemas of a server's new listing that are not converted yet,
        in a worker thread, for :meth:`_rebuild_names` to find. On the event loop, a
        2 MB schema (20,000 properties) held the conversation, the screen and the sound
        for 5 s on a quiet machine and up to 20 s on a busy one, nearly all of it jsonschema
        checking that the schema is one; the rebuild that follows on the loop at once
        only looks them up."""
        known = self._checked
        schemas = [tool.input_schema for tool in tools]
        if not schemas:
            return
        found = await on_daemon_thread(
            lambda: _conversions(schemas, known), name="voicedesk-schema"
        )
        self._checked = {**self._checked, **found}

    async def _checker_made(self, schema: dict[str, Any]) -> tuple[Any, Exception | None]:
        """:func:`made_checker` of ``schema`` on a thread, once however many calls wait
        for it: the model's calls of one tool in one round (run at once) each made it,
        seconds of both cores each for a 2 MB schema. Shielded: a call cancelled (Esc)
        leaves it to the others, as the thread cannot be stopped anyway."""
        key = id(schema)
        making = self._making.get(key)
        if making is None or making[0] is not schema:
            task = asyncio.ensure_future(
                on_daemon_thread(lambda: made_checker(schema), name="voicedesk-schema")
            )
            making = (schema, task)
            self._making[key] = making

            def forget(_: asyncio.Task[Any], mine: tuple[Any, Any] = making) -> None:
                if self._making.get(key) is mine:
                    del self._making[key]

            task.add_done_callback(forget)
        made: tuple[Any, Exception | None] = await asyncio.shield(making[1])
        return made

    def _leave_out(self, server: str, tool: str, reason: str, why: str) -> None:
        """Say once (per server, tool and ``reason``) that a tool is left out, and ``why``."""
        key = (server, tool, reason)
        if key in self._left_out_said:
            return
        self._left_out_said.add(key)
        self._notice("warning", f"The tool {tool} of tool server “{server}” is left out: {why}")

    def _starting_server_of(self, name: str) -> str | None:
        """The server still starting whose tools' names ``name`` has the form of, if any."""
        for server in self._servers.values():
            if not server.ready.is_set() and name.startswith(llm_tool_name(server.name, "")):
                return server.name
        return None

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

        ``arguments`` may be the model's JSON text: if it is no JSON object, the call is
        not run, and the result says so: run with no arguments, the tool only said they
        were missing, and the model tried the same call again. ``cut_off``: the answer
        reached its length limit in this call (finish_reason "length"): arguments that
        stop short, or none at all, were cut there. Without it, arguments that stop short
        are told as unfinished, not as cut at a limit the answer never reached: the model
        was told to make a call shorter that was not too long. ``answer_id``:
        the same for every call of one answer of the model, told to the documents server,
        which refuses an edit by a paragraph number another call of it has moved.
        ``person_turn``: the last turn the person spoke or typed (default ``turn_id``), told
        to it too: a confirmation counts only in a later one than its question, and an
        answer to background results is a turn nobody spoke."""
        args, wrong = _arguments(arguments)
        blank = arguments is None or (isinstance(arguments, str) and not arguments.strip())
        if cut_off and blank:
            wrong = "cut off (before they began)"
        elif not cut_off and wrong.startswith("cut off"):
            wrong = "unfinished" + wrong.removeprefix("cut off")
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
            self._shown.pop(call_id, None)
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
            # The tool's name: "The tool failed." told neither the model, after a round of
            # several calls, nor the person which one, nor that no reason had been given.
            text = (
                f"The tool {name} failed and gave no reason (its result was empty)."
                if is_error
                else f"The tool {name} returned nothing."
            )
        text = bounded(text)
        shown = self._shown.pop(call_id, "")
        shown = bounded(shown) if shown and shown != text else ""
        result = ToolResult(
            text=text,
            spoken=spoken_summary(shown or text),
            is_error=is_error,
            duration_s=time.monotonic() - t0,
            shown=shown,
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
            # A call for a server not up yet (say, a resumed conversation's model calling
            # what it used before): "Available tools: none" left the model only to tell
            # the person there were no tools, when they were seconds away.
            starting = self._starting_server_of(name)
            if starting is not None:
                return (
                    f"{name} cannot be called yet: tool server “{starting}” is still "
                    "starting. Its tools are offered once it is ready.",
                    True,
                )
            known = ", ".join(list(self._names)[:20]) or "none"
            return f"There is no tool called {name}. Available tools: {known}.", True
        # Checked before the call: a server that does not check its own inputs ran one
        # with a required field left out, or a number as text, as it was. The documents
        # server checks its own (pydantic, lax: "2" is a paragraph number), and says so
        # field by field: it is left to do so, so nothing it takes is refused here.
        problems: list[str] = []
        if ref.server != DOCS_SERVER:
            schema = ref.tool.input_schema
            # the first call's validator is the one the listing's check made, or else is
            # made on a worker thread: checking that a 2 MB schema is one held the event
            # loop 5-12 s, the screen and the sound with it, and the listing had done it
            made: tuple[Any, Exception | None] | None = None
            if self._checks.kept(schema):
                pass
            elif ref.checker is not None:
                made = (ref.checker, None)
            else:
                made = await self._checker_made(schema)
            problems = self._checks.problems(schema, args, name, made)
        if problems:
            return (
                f"The arguments of this call to {name} do not fit what {ref.tool.name} takes, "
                f"so it was not run: {'; '.join(problems)}. Call it again with them corrected.",
                True,
            )
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

        # The name the model knows the tool by, with its server's: two servers offering a
        # tool of the same name ("search") had a timeout or failure of either told alike.
        called = next((full for full, r in self._names.items() if r is ref), name)

        def took_too_long() -> str:
            name = called
            # the limit that stopped it, not the time it took: the cancel sent to a server
            # that stopped reading waits up to 5 s more, past a short timeout_s's ten times
            deadline = limit.when() if limit is not None else None
            if deadline is not None and deadline >= started + longest:
                said = (
                    f"The tool {name} took longer than {longest:g} seconds, the most it is "
                    f"given however it reports progress ({PROGRESS_MAX_FACTOR_WORD} times its "
                    f"server's timeout_s), and was stopped."
                )
            else:
                quiet = " without reporting progress" if reported else ""
                said = (
                    f"The tool {name} took longer than {timeout:g} seconds{quiet} and was stopped."
                )
            if _may_repeat(ref.tool):
                return said
            # the stop is a request to the server, no undo: the work may be done already
            return f"{said} Whether it did anything before that is not known: {_CHECK_FIRST}"

        # RequestParamsMeta is open (PEP 728 extra_items=Any), which mypy does not read yet:
        # it takes any key beyond progress_token for an unknown one
        meta: mt.RequestParamsMeta | None = (
            {ANSWER_META: answer_id, TURN_META: turn_id}  # type: ignore[assignment]
            if answer_id and ref.server == DOCS_SERVER
            else None
        )
        # a url server's request is sent in this task's context: the SDK's log records of
        # it name the server so (_UnreadableAnswerFilter)
        named = _SERVER.set(server)
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
                return _died_during(server.name, server.again, ref), True
            if exc.code == mt.PARSE_ERROR:  # a url server's answer that is no JSON
                return _unreadable(server.name, ref, exc.message), True
            return f"The tool {called} failed: {exc.message}", True
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError) as exc:
            server.mark_broken(session, _describe(exc))
            return (
                f"The {server.name} tool server could not be reached ({_describe(exc)}); it "
                f"is {server.again}. Try again in a few seconds.",
                True,
            )
        except Exception as exc:
            return f"The tool {called} failed: {_describe(exc)}.", True
        finally:
            _SERVER.reset(named)
        text, self._shown[call_id] = result_texts(result)
        return text, bool(result.is_error)

    # ------------------------------------------------------------------ events
    def _finished(self, call_id: str, name: str, result: ToolResult) -> None:
        self._publish(
            ev.ToolCallFinished(
                call_id=call_id,
                name=name,
                result_text=result.text,
                spoken_summary=result.spoken,
                shown_text=result.shown,
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
