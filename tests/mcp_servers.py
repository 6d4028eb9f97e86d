"""Small MCP servers for tests, as stdio scripts to run with the interpreter (real
processes, the official SDK), and the settings that run one. ``tests/`` is on ``sys.path``
through its conftest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from voicedesk.config import Settings


def _stdio_server(name: str, tools: str) -> str:
    """A stdio MCP server script named ``name`` on the SDK's low-level server: ``tools``
    defines its ``list_tools`` and ``call_tool`` handlers (with what they import)."""
    return (
        "import anyio\n"
        "import mcp_types as mt\n"
        "from mcp.server.lowlevel import Server\n"
        "from mcp.server.stdio import stdio_server\n"
        f"{tools}\n\n"
        "async def main():\n"
        f"    server = Server({name!r}, on_list_tools=list_tools, on_call_tool=call_tool)\n"
        "    async with stdio_server() as (read, write):\n"
        "        await server.run(read, write, server.create_initialization_options())\n"
        "\n\n"
        "anyio.run(main)\n"
    )


# A tool server whose tool answers with a picture only, as the "everything" server's
# get-tiny-image or the filesystem server's read_media_file do.
PICTURE_SERVER = _stdio_server(
    "pictures",
    """
import base64

PNG = base64.b64encode(b"\\x89PNG" + bytes(34_996)).decode()  # 35,000 bytes


async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=[mt.Tool(name="chart", input_schema={"type": "object"})])


async def call_tool(ctx, params):
    return mt.CallToolResult(content=[mt.ImageContent(data=PNG, mime_type="image/png")])
""",
)


# A tool server whose tools answer with no content at all: one failing (isError), one not.
EMPTY_RESULTS_SERVER = _stdio_server(
    "blank",
    """

async def list_tools(ctx, params):
    tools = [mt.Tool(name=n, input_schema={"type": "object"}) for n in ("fail", "nothing")]
    return mt.ListToolsResult(tools=tools)


async def call_tool(ctx, params):
    return mt.CallToolResult(content=[], is_error=params.name == "fail")
""",
)


# A tool server that does not check its own inputs: its tool answers with the arguments it
# was given, whatever they are, as a server written without validation does.
UNCHECKED_SERVER = _stdio_server(
    "weather",
    """
import json

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer", "minimum": 1},
        "units": {"enum": ["metric", "imperial"]},
    },
    "required": ["city"],
}


async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=[mt.Tool(name="forecast", input_schema=SCHEMA)])


async def call_tool(ctx, params):
    got = json.dumps(params.arguments, sort_keys=True)
    return mt.CallToolResult(content=[mt.TextContent(text=f"ran with {got}")])
""",
)


# A tool server whose tools' input schemas are JSON Schema it cannot itself be checked by:
# a $ref to nowhere, and an unknown $schema; beside them one in draft 2020-12's own words
# (prefixItems, unevaluatedProperties), which can. Each tool answers with its arguments.
ODD_SCHEMAS_SERVER = _stdio_server(
    "odd",
    """
import json

SCHEMAS = {
    "nowhere": {
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/missing"}},
        "required": ["a"],
    },
    "meta": {
        "$schema": "https://example.com/our-own-meta-schema",
        "type": "object",
        "properties": {"a": {"type": "string"}},
    },
    "modern": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"pair": {"type": "array", "prefixItems": [{"type": "string"}]}},
        "unevaluatedProperties": False,
    },
}


async def list_tools(ctx, params):
    tools = [mt.Tool(name=name, input_schema=schema) for name, schema in SCHEMAS.items()]
    return mt.ListToolsResult(tools=tools)


async def call_tool(ctx, params):
    got = json.dumps(params.arguments, sort_keys=True)
    return mt.CallToolResult(content=[mt.TextContent(text=f"ran with {got}")])
""",
)


# A tool server whose tools' schemas change at each relisting, which its tool "relist" asks
# for (tools/list_changed): "files" checks nothing (a $ref to a section that is gone) and
# "outline" is no JSON Schema (a type no JSON Schema has), each naming the relisting's
# number, until "relist" is called with usable true.
CHANGING_SCHEMAS_SERVER = _stdio_server(
    "changing",
    """
STATE = {"n": 0, "usable": False}


def _schemas():
    if STATE["usable"]:
        return {"path": {"type": "string"}}, {"depth": {"type": "integer"}}
    n = STATE["n"]
    # a $ref to a section of a file that is gone, a type no JSON Schema has: each relisting
    # names another
    return {"path": {"$ref": f"#/$defs/gone_{n}"}}, {"depth": {"type": f"int{n}"}}


async def list_tools(ctx, params):
    files, outline = _schemas()
    relist = {"usable": {"type": "boolean"}}
    return mt.ListToolsResult(
        tools=[
            mt.Tool(name="files", input_schema={"type": "object", "properties": files}),
            mt.Tool(name="outline", input_schema={"type": "object", "properties": outline}),
            mt.Tool(name="relist", input_schema={"type": "object", "properties": relist}),
        ]
    )


async def call_tool(ctx, params):
    if params.name == "relist":
        STATE["n"] += 1
        STATE["usable"] = bool((params.arguments or {}).get("usable"))
        await ctx.session.send_tool_list_changed()
    return mt.CallToolResult(content=[mt.TextContent(text=f"{params.name} ran")])
""",
)


# A tool server whose tool answers, without failing, with the last line of a log that a
# failed job of its own wrote: it begins as the MCP SDK's error prefix does.
LOG_SERVER = _stdio_server(
    "logs",
    """
LAST = "Error executing tool backup: the disk was full at 03:00"


async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=[mt.Tool(name="last_error", input_schema={"type": "object"})])


async def call_tool(ctx, params):
    return mt.CallToolResult(content=[mt.TextContent(text=LAST)])
""",
)


# A tool server whose every listing differs: the n-th lists "ping" and a tool "v<n>" naming
# it, and, in the listings BIG names, "form" with an input schema of 8,000 properties
# (1 MB: seconds to convert). Its tool "relist" says its tools changed twice at once
# (tools/list_changed); with NUDGE, it says so once by itself just after its first listing.
def shifting_server(big: tuple[int, ...], nudge: bool = False) -> str:
    """The source of such a server, ``big`` and ``nudge`` as above."""
    return _stdio_server(
        "shifting",
        f"""
import asyncio

BIG = {big!r}
NUDGE = {nudge!r}
STATE = {{"listed": 0}}
FIELDS = {{f"field_{{n}}": {{"type": "string", "description": f"field {{n}}"}} for n in range(8000)}}


async def nudge(session):
    await asyncio.sleep(0.1)
    await session.send_tool_list_changed()


async def list_tools(ctx, params):
    n = STATE["listed"]
    STATE["listed"] += 1
    tools = [
        mt.Tool(name="ping", input_schema={{"type": "object"}}),
        mt.Tool(name=f"v{{n}}", input_schema={{"type": "object"}}),
        mt.Tool(name="relist", input_schema={{"type": "object"}}),
    ]
    if n in BIG:
        form = {{"type": "object", "properties": FIELDS}}
        tools.append(mt.Tool(name="form", input_schema=form))
    if n == 0 and NUDGE:
        asyncio.get_running_loop().create_task(nudge(ctx.session))
    return mt.ListToolsResult(tools=tools)


async def call_tool(ctx, params):
    if params.name == "relist":
        await ctx.session.send_tool_list_changed()
        await ctx.session.send_tool_list_changed()
    return mt.CallToolResult(content=[mt.TextContent(text=f"{{params.name}} ran")])
""",
    )


def one_server_settings(
    tmp_path: Path, name: str, source: str, *, docs: bool = False, **tools: Any
) -> Settings:
    """Settings with one stdio server, ``name``, running ``source`` (written to
    ``tmp_path``/name.py) under this interpreter: the set-up of most tests of a server of
    their own, written out in each before. With ``docs``, the documents server runs beside
    it on ``tmp_path``/ws (made if the test has not); else it is off. ``tools`` adds other
    ``tools`` settings (``tool_patience_s``, ``docs_server_args``)."""
    script = tmp_path / f"{name}.py"
    script.write_text(source)
    tools["mcpServers"] = {name: {"command": sys.executable, "args": [str(script)]}}
    if docs:
        (tmp_path / "ws").mkdir(exist_ok=True)
        tools["workspace"] = str(tmp_path / "ws")
    else:
        tools["docs_server"] = False
    return Settings.model_validate({"tools": tools})
