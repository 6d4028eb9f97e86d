"""A stdio tool server's message the MCP SDK's parser refuses for half an emoji in it.

A Node.js server that cuts its text by JavaScript's string length (``slice``,
``substring``) can cut an emoji, which JavaScript counts as two characters (a UTF-16
pair), in half; ``JSON.stringify`` writes the half left alone as an escape such as
``"\\ud83d"``, which JSON allows and the SDK's parser (pydantic's) refuses. The whole
answer was then skipped as "a line that is not an MCP message", and its call waited out
its timeout. :func:`mended_message` reads such a line with each lone half as U+FFFD.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic
from mcp import types
from mcp.shared.message import SessionMessage

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
        data = json.loads(line)
    except ValueError:
        return None
    mended, changed = _mend(data)
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
