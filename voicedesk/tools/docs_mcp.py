"""The built-in MCP documents server ("docs") itself, spoken to over stdio.

:func:`build_server` offers the methods of :class:`~voicedesk.tools.docs_server.DocsTools`
named in ``TOOL_NAMES`` as MCP tools, their docstrings as the descriptions the model reads.
Calls are serialised, and the failures a tool expects (:class:`FormatError`,
:class:`WorkspaceError`, a file it may not use) become ``ToolError``, so the client gets
``isError`` with a message saying what went wrong and what to do instead; wrong or missing
arguments come back one short line each. :func:`main` serves one workspace until the client
closes the connection (``voicedesk docs-server``).
"""

from __future__ import annotations

import errno
import functools
import inspect
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

import anyio
import mcp_types as mt
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from pydantic import ValidationError

from voicedesk import __version__
from voicedesk.tools import ANSWER_META, TURN_META
from voicedesk.tools.docs_server import (
    ANSWER,
    DEFAULT_MAX_MB,
    INSTRUCTIONS,
    READ_ONLY_TOOLS,
    TOOL_NAMES,
    TURN,
    DocsTools,
)
from voicedesk.tools.formats import FormatError
from voicedesk.tools.wording import plural
from voicedesk.tools.workspace import Workspace, WorkspaceError, read_only_drive

_P = ParamSpec("_P")


def _as_tool(fn: Callable[_P, str], lock: threading.Lock, root: Path) -> Callable[_P, str]:
    """Serialise calls (the SDK runs sync tools in worker threads) and turn expected failures
    into ToolError, whose message the model sees; anything else is a bug and stays generic."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> str:
        with lock:
            try:
                return fn(*args, **kwargs)
            except (WorkspaceError, FormatError) as exc:
                raise ToolError(str(exc)) from None
            except OSError as exc:
                if exc.errno == errno.EROFS:  # the write's temporary file named it before
                    raise ToolError(read_only_drive("nothing was changed")) from None
                where = _shown(exc.filename, root)
                if isinstance(exc, PermissionError):
                    raise ToolError(
                        f"Permission denied for {where}; nothing was changed."
                    ) from None
                raise ToolError(f"Could not use {where}: {exc.strerror or exc}.") from None

    return wrapper


# What a JSON schema type asks for, in the words a model reads best.
_EXPECTED = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}


def _expected(schema: dict[str, Any]) -> str:
    """What one parameter accepts, from its JSON schema: "a whole number", "one of a, b"."""
    if "enum" in schema:
        return "one of " + ", ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:  # optional parameters are "X or null"; null need not be said
        return " or ".join(_expected(a) for a in schema["anyOf"] if a.get("type") != "null")
    return _EXPECTED.get(str(schema.get("type")), "something else")


def _given(value: Any) -> str:
    """A value as the model sent it, with its JSON type and cut short: 'the text "two"'."""
    shown = json.dumps(value, ensure_ascii=False, default=repr)
    if len(shown) > 60:
        shown = shown[:59] + "…"
    if isinstance(value, bool) or value is None:
        return shown
    if isinstance(value, str):
        return f"the text {shown}"
    if isinstance(value, int | float):
        return f"the number {shown}"
    if isinstance(value, list):
        return f"a list {shown}"
    if isinstance(value, dict):
        return f"an object {shown}"
    return shown


def argument_errors(
    tool: str, schema: dict[str, Any], arguments: dict[str, Any], error: ValidationError
) -> str:
    """One line per bad argument (which, what it takes, what came), under a line saying the
    call did nothing: what a model needs to correct its call, unlike pydantic's dump."""
    props = schema.get("properties") or {}
    lines: dict[str, str] = {}
    for err in error.errors(include_url=False):
        name = str(err["loc"][0]) if err["loc"] else ""
        if name in lines:  # a union reports each branch; one line per argument is enough
            continue
        if name not in props:
            lines[name] = f"- {name or 'the arguments'}: {err['msg']}."
        elif err["type"] == "missing":
            lines[name] = f"- {name}: missing; it is required ({_expected(props[name])})."
        else:
            lines[name] = (
                f"- {name}: expected {_expected(props[name])}; got {_given(arguments.get(name))}."
            )
    one = len(lines) == 1
    head = (
        f"{plural(len(lines), 'argument')} of {tool} {'is' if one else 'are'} wrong, so "
        f"nothing was done. Correct {'it' if one else 'them'} and call {tool} again:"
    )
    return "\n".join([head, *lines.values()])


class DocsMCPServer(MCPServer):
    """The MCPServer, with wrong or missing arguments reported one short line each.

    The SDK checks the arguments before the tool function runs, so ``_as_tool`` never sees
    those errors, and reports them as pydantic's dump (model names, error codes, links,
    repeated for each branch of a union), which the model must dig through and the tools
    pane shows in full. ``call_tool`` is where they come up with the ValidationError still
    attached, so it is rewritten here, for every client and transport.

    ``slow`` (``--slow``) makes a tool's calls take that long first, as a slow remote
    server would: for demos and tests of long-running tools. The wait is awaited here, not
    slept in the tool's worker thread: the SDK cancels the calls in flight when the client
    closes the connection, and a thread cannot be cancelled, so a sleeping one kept the
    process up until the client gave up on it (2 s) and killed it, on every quit.
    """

    def __init__(self, *args: Any, slow: dict[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slow = dict(slow or {})

    async def list_tools(self) -> list[mt.Tool]:
        """The tools, their input schemas without pydantic's titles ("Start Paragraph",
        "edit_documentArguments"): they repeat the names, and every request to the language
        model carries them, a tenth of the tools' tokens, before its first word."""
        return [
            tool.model_copy(update={"input_schema": _untitled(tool.input_schema)})
            for tool in await super().list_tools()
        ]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> mt.CallToolResult | mt.InputRequiredResult:
        await self._refuse_unknown_arguments(name, arguments)
        if self.slow.get(name, 0.0) > 0:
            await anyio.sleep(self.slow[name])  # no tool work yet: a quit cancels it whole
        answer = ANSWER.set(_answer_of(context))
        turn = TURN.set(_turn_of(context))
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            tool = next((t for t in await self.list_tools() if t.name == name), None)
            schema = tool.input_schema if tool is not None else {}
            message = argument_errors(name, schema, arguments, cause)
            # The SDK's prefix, as on every other refusal; the cause stays for its log line.
            raise ToolError(f"Error executing tool {name}: {message}") from cause
        finally:
            ANSWER.reset(answer)
            TURN.reset(turn)

    async def _refuse_unknown_arguments(self, name: str, arguments: dict[str, Any]) -> None:
        """An argument the tool does not take is refused, not dropped: the SDK ignored it,
        so a misspelt one ran the call without it ("after_paragraph" inserted at the end,
        "case_sensitive" matched with case) and reported success."""
        tool = next((t for t in await self.list_tools() if t.name == name), None)
        if tool is None or not arguments:
            return
        known = list((tool.input_schema or {}).get("properties") or {})
        unknown = [key for key in arguments if key not in known]
        if not unknown:
            return
        one = len(unknown) == 1
        raise ToolError(
            f"Error executing tool {name}: {name} has no "
            f"{'argument' if one else 'arguments'} {', '.join(unknown)}, so nothing was "
            f"done. It takes: {', '.join(known)}. Call it again with those."
        )


def _answer_of(context: Context[Any, Any] | None) -> str:
    """Which answer of the language model a call is part of, as the client said in the
    request's ``_meta`` (voicedesk's tool manager does), or ""."""
    try:
        meta = context.request_context.meta if context is not None else None
    except ValueError:  # called outside a request
        return ""
    answer = meta.get(ANSWER_META) if isinstance(meta, dict) else None
    return answer if isinstance(answer, str) else ""


def _turn_of(context: Context[Any, Any] | None) -> int:
    """Which of the person's turns the call's answer is for, as voicedesk's tool manager
    says in the request's ``_meta``, or 0 (another client: not known)."""
    try:
        meta = context.request_context.meta if context is not None else None
    except ValueError:  # called outside a request
        return 0
    turn = meta.get(TURN_META) if isinstance(meta, dict) else None
    return turn if isinstance(turn, int) and not isinstance(turn, bool) else 0


def _untitled(schema: Any) -> Any:
    """``schema`` without ``title`` keywords; a property called "title" stays."""
    if isinstance(schema, list):
        return [_untitled(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: (
            {name: _untitled(sub) for name, sub in value.items()}
            if key in ("properties", "$defs") and isinstance(value, dict)
            else _untitled(value)
        )
        for key, value in schema.items()
        if key != "title"
    }


def _shown(filename: Any, root: Path) -> str:
    if not filename:
        return "the file"
    try:
        return Path(os.fsdecode(filename)).relative_to(root).as_posix()
    except ValueError:
        return "a file outside the workspace"


def build_server(
    root: Path,
    history_dir: Path | None = None,
    slow: dict[str, float] | None = None,
    max_mb: float = DEFAULT_MAX_MB,
) -> MCPServer:
    """The "docs" MCPServer with every tool bound to one workspace."""
    slow = slow or {}
    unknown = set(slow) - set(TOOL_NAMES)
    if unknown:
        from voicedesk.errors import UserError

        raise UserError(
            f"--slow names unknown tool(s): {', '.join(sorted(unknown))}",
            f"use one of: {', '.join(TOOL_NAMES)}",
        )
    workspace = Workspace(root, history_dir)
    tools = DocsTools(workspace, max_mb)
    server = DocsMCPServer("docs", instructions=INSTRUCTIONS, version=__version__, slow=slow)
    lock = threading.Lock()
    for name in TOOL_NAMES:
        method = getattr(tools, name)
        server.add_tool(
            _as_tool(method, lock, workspace.root),
            description=inspect.cleandoc(method.__doc__ or ""),  # docstrings are indented
            # what a client may run for a request the person has not finished, and what not
            annotations=mt.ToolAnnotations(
                read_only_hint=name in READ_ONLY_TOOLS,
                destructive_hint=name not in READ_ONLY_TOOLS,
                open_world_hint=False,
            ),
            structured_output=False,  # plain text results, meant to be read aloud
        )
    return server


def main(
    root: Path,
    history_dir: Path | None = None,
    slow: dict[str, float] | None = None,
    max_mb: float = DEFAULT_MAX_MB,
) -> None:
    """Serve the workspace over stdio until the client closes the connection.

    Nothing else may write to stdout: it carries the protocol.
    """
    try:
        server = build_server(root, history_dir, slow, max_mb)
    except WorkspaceError as exc:
        from voicedesk.errors import UserError

        raise UserError(str(exc), "create it or pass --root DIR") from None
    server.run("stdio")
