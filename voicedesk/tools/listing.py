"""A tool server's listing, tool by tool: one tool the MCP protocol does not allow is left
out, not the whole server.

The MCP SDK checks a ``tools/list`` result whole against the protocol version agreed, and
refuses all of it for one tool in it the protocol does not allow: an input schema without
``"type": "object"`` (``{}`` for a tool that takes no arguments, as many servers write
it), an output schema that is no object, annotations of the wrong shape. Every tool of such
a server was unavailable all conversation long, its start tried again every 30 s for
nothing. :func:`mend_listing` runs on the listing as it arrives, before that check.
"""

from __future__ import annotations

from typing import Any

import pydantic
from mcp_types import methods

LISTING = "tools/list"


# What only describes a tool, and is dropped when the protocol does not allow it as
# listed: the tool does the same without it (with no hints it counts as changing things,
# the safe side). Its name, input schema and how it runs (execution) are kept or refused.
DESCRIBING = frozenset({"annotations", "icons", "title", "outputSchema", "_meta"})


def mend_listing(result: dict[str, Any], version: str) -> dict[str, str]:
    """Mend ``result`` (a ``tools/list`` result, in place) so the SDK's check of it passes:
    an input schema with no ``type``, or none at all, becomes an object (what the server
    meant, a tool taking no arguments, and what the language model is offered anyway);
    an output schema that is no object is dropped (voicedesk reads a result's content,
    not its schema), as is whatever else only describes the tool (:data:`DESCRIBING`)
    in a shape the protocol does not allow; a tool still not allowed in ``version`` is
    taken out. Returns those taken out: name, what is wrong. Nothing is changed for a
    version or a listing this cannot check tool by tool: the SDK's own check then says
    what it says."""
    tools = result.get("tools")
    if not isinstance(tools, list) or _allowed(result, version) is not False:
        return {}
    rest = {key: value for key, value in result.items() if key != "tools"}
    refused: dict[str, str] = {}
    kept: list[Any] = []
    for tool in tools:
        if isinstance(tool, dict):
            _mend(tool)
        wrong = _wrong(tool, rest, version)
        while wrong and isinstance(tool, dict) and wrong[0] in DESCRIBING and wrong[0] in tool:
            del tool[wrong[0]]
            wrong = _wrong(tool, rest, version)
        if wrong:
            name = tool.get("name") if isinstance(tool, dict) else None
            refused[str(name) if name else f"number {len(kept) + len(refused) + 1}"] = wrong[1]
        else:
            kept.append(tool)
    result["tools"] = kept
    return refused


def _mend(tool: dict[str, Any]) -> None:
    schema = tool.get("inputSchema")
    if schema is None:
        tool["inputSchema"] = {"type": "object"}
    elif isinstance(schema, dict) and "type" not in schema:
        tool["inputSchema"] = {"type": "object", **schema}
    output = tool.get("outputSchema")
    if "outputSchema" in tool and not (isinstance(output, dict) and output.get("type") == "object"):
        del tool["outputSchema"]


def _allowed(result: dict[str, Any], version: str) -> bool | None:
    """Whether the protocol ``version`` allows ``result``; None if this cannot tell."""
    try:
        methods.validate_server_result(LISTING, version, result)
    except pydantic.ValidationError:
        return False
    except (KeyError, ValueError):  # a version unknown to this SDK: its own check decides
        return None
    return True


def _wrong(tool: Any, rest: dict[str, Any], version: str) -> tuple[str, str] | None:
    """What the protocol finds wrong with ``tool`` in a listing of its own beside the
    listing's other fields, ``rest`` (None if nothing): the field of the tool its first
    problem is in ("" if the tool itself), and that problem, on one line, where it is in
    the tool. What is wrong with the listing itself is no tool's: the SDK's check says it."""
    try:
        methods.validate_server_result(LISTING, version, {**rest, "tools": [tool]})
    except pydantic.ValidationError as exc:
        errors = [error for error in exc.errors() if tuple(error["loc"][:2]) == ("tools", 0)]
        if not errors:
            return None
        loc = [str(part) for part in errors[0]["loc"][2:]]
        said = errors[0]["msg"]
        return (loc[0] if loc else ""), (f"{'.'.join(loc)}: {said}" if loc else said)
    except (KeyError, ValueError):
        return None
    return None
