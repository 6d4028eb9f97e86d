"""A stdio tool server's message the MCP SDK's parser refuses for half an emoji in it, or
for nesting deeper than it reads.

A Node.js server that cuts its text by JavaScript's string length (``slice``,
``substring``) can cut an emoji, which JavaScript counts as two characters (a UTF-16
pair), in half; ``JSON.stringify`` writes the half left alone as an escape such as
``"\\ud83d"``, which JSON allows and the SDK's parser (pydantic's) refuses. The whole
answer was then skipped as "a line that is not an MCP message", and its call waited out
its timeout. :func:`mended_message` reads such a line with each lone half as U+FFFD.

The same parser reads no message nesting more than :data:`MCP_READ_DEPTH` levels (a tool
listing with an input schema nested that deep): the line was reported as one "that is not
an MCP message", and the listing waited out its time, the server restarted again and
again. :func:`deep_message` reads it with the tools too deep left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pydantic
from anyio import EndOfStream
from anyio.streams.text import TextReceiveStream
from mcp import types
from mcp.shared.message import SessionMessage

from voicedesk.tools.schemas import MAX_DEPTH, deeper_than

_LONE_HALF = re.compile("[\ud800-\udfff]")  # after json.loads, a pair is one character


def refused_line(exc: BaseException) -> str:
    """The line the SDK's parser refused as no JSON, from its error ("" if none)."""
    if not isinstance(exc, pydantic.ValidationError):
        return ""
    errors = exc.errors()
    if not errors or errors[0]["type"] != "json_invalid":
        return ""
    line = errors[0].get("input")
    return line if isinstance(line, str) else ""


def mended_message(line: str) -> SessionMessage | None:
    """The message ``line`` is, read with each lone half of a UTF-16 pair as U+FFFD; None
    when it has none, or is no MCP message even so."""
    if "\\u" not in line.lower():  # the halves come only as escapes (no UTF-8 has them)
        return None
    try:
        # _mend recurses as deep as the line nests: a line with an escape in it, nested
        # deeper than the SDK reads, raised RecursionError out of the log filter, and
        # the SDK's reading of the server with it
        mended, changed = _mend(json.loads(line))
    except (ValueError, RecursionError):  # nested deeper than Python's reader goes
        return None
    if not changed:
        return None
    try:
        message = types.jsonrpc_message_adapter.validate_python(mended, by_name=False)
    except pydantic.ValidationError:
        return None
    return SessionMessage(message)


def _mend(value: Any) -> tuple[Any, bool]:
    """``value`` with every lone half in its strings (keys too) as U+FFFD; whether any was."""
    if isinstance(value, str):
        mended = _LONE_HALF.sub("\ufffd", value)
        return mended, mended != value
    if isinstance(value, list):
        items = [_mend(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    if isinstance(value, dict):
        pairs = [(_mend(key), _mend(item)) for key, item in value.items()]
        return (
            {key: item for (key, _), (item, _) in pairs},
            any(k_changed or v_changed for (_, k_changed), (_, v_changed) in pairs),
        )
    return value, False


# The deepest the MCP SDK's reader (pydantic's JSON parser) nests a message, counting each
# JSON object and array; a line nesting deeper it refuses whole ("recursion limit
# exceeded"). A tool's input schema sits 5 levels down in a listing.
MCP_READ_DEPTH = 200
# What the SDK's refusal of such a line says.
_TOO_DEEP_TO_READ = "recursion limit exceeded"


def too_deep_to_read(exc: BaseException) -> bool:
    """Whether ``exc`` is the SDK's parser refusing a line for nesting too deep."""
    if not isinstance(exc, pydantic.ValidationError):
        return False
    errors = exc.errors()
    return bool(errors) and _TOO_DEEP_TO_READ in str(errors[0].get("msg", ""))


def too_deep_answer() -> str:
    """What is said of an answer nested too deep to read."""
    return (
        f"its answer nests more than {MCP_READ_DEPTH} levels deep (counting each JSON "
        f"object and array), deeper than the MCP SDK reads"
    )


def deep_message(line: str) -> tuple[SessionMessage, list[str]] | None:
    """The answer ``line`` is, which the SDK's parser refused as nested too deep: a tool
    listing with the tools whose input schema nests more than ``schemas.MAX_DEPTH`` levels
    left out (those are left out in any case, and their names are returned), any other
    answer (or a listing still too deep) as an error saying so, for its request not to
    wait out its time (a parse error: a call is told it ran, what it did unknown). An
    answer nested deeper than even Python's own reader goes (about a thousand levels) is
    that error too, its id found by :func:`_top_level_id`: left unread, its listing
    waited out the handshake's 8 s, its call the whole of its timeout. None when it is no
    answer to a request (a notification, or a request of the server's own)."""
    unread = False
    try:
        data = json.loads(line)
    except ValueError:
        return None
    except RecursionError:
        answer_id = _top_level_id(line)
        if answer_id is None:
            return None
        data, unread = {"id": answer_id}, True
    if not isinstance(data, dict) or not isinstance(data.get("id"), (int, str)):
        return None  # no answer to a request: nothing waits for it
    if "method" in data:
        return None  # the server's own request, whose id may be one of ours: no answer
    result = data.get("result")
    left_out: list[str] = []
    if isinstance(result, dict) and isinstance(result.get("tools"), list):
        kept: list[Any] = []
        for tool in result["tools"]:
            schema = tool.get("inputSchema") if isinstance(tool, dict) else None
            if deeper_than(schema, MAX_DEPTH):
                name = tool.get("name") if isinstance(tool, dict) else None
                left_out.append(str(name) if name else f"number {len(kept) + len(left_out) + 1}")
            else:
                kept.append(tool)
        result["tools"] = kept
    if unread or deeper_than(data, MCP_READ_DEPTH):
        left_out = []
        data = {
            "jsonrpc": "2.0",
            "id": data["id"],
            "error": {"code": types.PARSE_ERROR, "message": too_deep_answer()},
        }
    try:
        message = types.jsonrpc_message_adapter.validate_python(data, by_name=False)
    except pydantic.ValidationError:
        return None
    return SessionMessage(message), left_out


# What the top level of a JSON-RPC message is read by, without reading what it holds: a
# string (a key, or a value), or a bracket opening or closing a level.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[][{}]')
_BLANK = re.compile(r"[ \t\r\n]*")


def _top_level_id(line: str) -> int | str | None:
    """The ``id`` of the JSON-RPC answer ``line`` is, read level by level without recursing
    (the line nests deeper than Python's reader goes); None when it has none, or has a
    ``method`` (a request or notification, no answer), or is no JSON object. The scan ends
    at ``result`` or ``error`` once the id is known (the SDK's servers write the id
    first), so the megabytes nested in them are read only when the id comes after."""
    if not line.lstrip().startswith("{"):
        return None
    depth = 0
    found: int | str | None = None
    decoder = json.JSONDecoder()
    for token in _STRING_OR_BRACKET.finditer(line):
        text = token.group()
        if text in ("{", "["):
            depth += 1
            continue
        if text in ("}", "]"):
            depth -= 1
            if depth == 0:
                break  # the message's end
            continue
        if depth != 1:
            continue
        after = _BLANK.match(line, token.end()).end()  # type: ignore[union-attr]
        if line[after : after + 1] != ":":
            continue  # a value, not a key
        key = text[1:-1]
        if key == "method":
            return None
        if key == "id":
            start = _BLANK.match(line, after + 1).end()  # type: ignore[union-attr]
            try:
                value, _ = decoder.raw_decode(line, start)
            except (ValueError, RecursionError):
                return None
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                return None
            found = value
        elif key in ("result", "error") and found is not None:
            return found
    return found


# A lone half's escape in JSON text: a first half not followed by a second, or a second
# not preceded by a first. A pair is not matched (the emoji of a long answer cost nothing
# each), and the pattern begins with its literal "\\u", which the regex engine searches
# for at C speed: one with a lookbehind first took 1.2 s over an 8.5 MB answer.
_HIGH, _LOW = rb"[dD][89abAB][0-9a-fA-F]{2}", rb"[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_ESCAPE = re.compile(
    rb"\\u(?:" + _HIGH + rb"(?!\\u" + _LOW + rb")|(?<!\\u" + _HIGH + rb"\\u)" + _LOW + rb")"
)


def _lone_half(match: re.Match[bytes]) -> bytes:
    """U+FFFD's escape for ``match``, unless its backslash is itself escaped (an odd
    number of backslashes before it): then the text "\\ud83c", kept."""
    data, at = match.string, match.start()
    before = 0
    while before < at and data[at - before - 1] == ord("\\"):
        before += 1
    return match.group(0) if before % 2 else rb"\ufffd"


def mended_json(data: bytes) -> bytes:
    """``data`` (JSON text, or lines of an event stream) with each lone half of a UTF-16
    pair as U+FFFD, and each byte that is no UTF-8 as U+FFFD: what the SDK's parser
    refuses in a url server's answer, which it then reported as the call's failure."""
    if b"\\ud" in data or b"\\uD" in data:
        data = _LONE_ESCAPE.sub(_lone_half, data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = data.decode("utf-8", "replace").encode("utf-8")
    return data


class _MendedStream(httpx2.AsyncByteStream):
    """A url server's answer, line by line through :func:`mended_json` (a line is never
    cut inside an escape or a character; an event stream's events end with one)."""

    def __init__(self, inner: httpx2.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        carry: list[bytes] = []  # a line begun, not ended: joined once it ends (a JSON
        # answer is one line, megabytes long, in many chunks)
        async for chunk in self._inner:
            # the last line's end in it (an event stream's lines may end in CR alone)
            cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
            if not cut:
                carry.append(chunk)
                continue
            yield mended_json(b"".join([*carry, chunk[:cut]]))
            carry = [chunk[cut:]] if cut < len(chunk) else []
        if carry:
            yield mended_json(b"".join(carry))

    async def aclose(self) -> None:
        await self._inner.aclose()


async def mend_answer(response: httpx2.Response) -> None:
    """An HTTP client's response hook: a url server's JSON or event-stream answer is read
    through :func:`mended_json`, as a stdio server's is (``encoding_error_handler``,
    :func:`mended_message`). A compressed answer is left as it is: its bytes are not
    the text until they are decompressed, after this hook."""
    kind = response.headers.get("content-type", "").lower()
    packed = response.headers.get("content-encoding", "identity").lower() != "identity"
    if packed or not kind.startswith(("application/json", "text/event-stream")):
        return
    if isinstance(response.stream, httpx2.AsyncByteStream):
        response.stream = _MendedStream(response.stream)


class WholeLines(TextReceiveStream):
    """A stdio server's output as the MCP SDK reads it, but in pieces that each end at a
    line's end: the SDK joins what it holds with each piece it reads (64 kB) and splits the
    whole again, so one answer of tens of MB was copied over and over, 60 MB taking 35 s
    (the call timed out, and every call behind it waited). Handed whole lines, it splits
    each once. What comes after the last line's end is handed over at the output's end."""

    def __post_init__(self, encoding: str, errors: str) -> None:
        super().__post_init__(encoding, errors)
        self._ended = False

    async def receive(self) -> str:
        if self._ended:
            raise EndOfStream
        pieces: list[str] = []
        while True:
            try:
                piece = await super().receive()
            except EndOfStream:
                if not pieces:
                    raise
                self._ended = True
                return "".join(pieces)
            pieces.append(piece)
            if "\n" in piece:
                return "".join(pieces)
