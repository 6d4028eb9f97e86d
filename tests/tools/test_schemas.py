"""The argument checkers kept for the tools' input schemas."""

from __future__ import annotations

import gc
import logging
import weakref
from pathlib import Path
from typing import Any

import mcp_types as mt
import pytest

from voicedesk.config import Settings
from voicedesk.tools.manager import ToolManager
from voicedesk.tools.schemas import ArgumentChecks, openai_parameters


class _Schema(dict[str, Any]):
    """A schema as a server lists it; a dict that can be watched for being let go."""


def _listed(revision: int) -> _Schema:
    return _Schema(
        type="object",
        properties={"path": {"type": "string", "enum": [f"draft-{revision}.md"]}},
        required=["path"],
    )


def test_a_tool_relisted_with_a_changed_schema_lets_the_old_one_go() -> None:
    """A server whose tool's schema changes (an enum of its files, after tools/list_changed)
    hands a new schema each time. The checker cache kept every old schema and its checker
    alive until 512 had gathered: 8 relistings of a 5,000-property schema held 15 MB, and
    512 of them about a gigabyte. The tool's old schema goes once the new one checks its calls."""
    argument_problems = ArgumentChecks().problems
    first = _listed(1)
    assert argument_problems(first, {}, "files__open") == [
        "the field “path” is missing (it is required)"
    ]
    gone = weakref.ref(first)
    del first
    second = _listed(2)
    assert argument_problems(second, {"path": "draft-2.md"}, "files__open") == []
    gc.collect()
    assert gone() is None
    # the new one is still checked by, and another tool's schema is left alone
    other = _listed(3)
    assert argument_problems(other, {"path": 3}, "files__close")
    assert argument_problems(second, {"path": "draft-1.md"}, "files__open")
    kept = weakref.ref(other)
    del other
    gc.collect()
    assert kept() is not None


def _nested(levels: int) -> dict[str, Any]:
    """An object schema whose one property is an object of one property, ``levels`` deep."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"inner": schema}}
    return schema


def test_a_schema_nested_thousands_deep_is_refused_saying_so() -> None:
    """A schema nested 3,000 deep raised RecursionError out of the conversion (the MCP SDK
    refuses such a listing first, at about 40, but a server's listing is not the only way
    in): a traceback, and no tool of any server offered. It is refused, saying why."""
    params, wrong = openai_parameters(_nested(3000))
    assert params is None
    assert "more than 100 levels deep, counting each object and array" in wrong, wrong
    # a deep but real one is still offered
    params, wrong = openai_parameters(_nested(20))
    assert params is not None and wrong == ""


def test_the_depth_a_schema_is_refused_at_is_counted_as_the_notice_says() -> None:
    """The notice said "more than 100 levels deep" of a schema of some 50 objects nested
    in one another: what was counted was each JSON object and array, two for each object
    property inside another (its schema, and the "properties" holding it). It says so."""
    assert openai_parameters(_nested(49))[0] is not None  # 49 × 2 + the string's schema: 99
    params, wrong = openai_parameters(_nested(50))  # 101
    assert params is None
    assert "its JSON nests more than 100 levels deep, counting each object and array" in wrong
    assert "an object property inside another being two levels" in wrong, wrong


def test_a_tool_with_a_schema_too_deep_is_left_out_named_and_the_others_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The tool listing of the manager: the tool too deep is left out, named with its
    server and the reason, and the server's other tools are offered."""
    settings = Settings.model_validate(
        {"tools": {"docs_server": False, "mcpServers": {"deep": {"command": "unused"}}}}
    )
    manager = ToolManager(settings, log_dir=tmp_path / "logs")
    server = manager._servers["deep"]
    server.tools = [
        mt.Tool(name="ping", input_schema={"type": "object"}),
        mt.Tool.model_construct(name="nest", input_schema=_nested(3000)),
    ]
    with caplog.at_level(logging.WARNING, logger="voicedesk.tools.manager"):
        manager._rebuild_names()
    assert [t["function"]["name"] for t in manager.llm_tools()] == ["deep__ping"]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and not any(r.exc_info for r in caplog.records), said
    assert "The tool nest of tool server “deep” is left out" in said[0], said[0]
    assert "more than 100 levels deep, counting each object and array" in said[0], said[0]


def test_arguments_too_deep_to_check_leave_the_tools_later_calls_checked() -> None:
    """A schema whose ``$ref`` refers to itself (a tree) is no deeper for it; a call whose
    arguments nested 300 deep raised RecursionError while being checked, and the schema
    was taken as unusable: every later call of the tool went unchecked, a field of the
    wrong type sent on. That call goes unchecked; the later ones are checked."""
    node = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"type": "array"}},
    }
    node["properties"]["children"]["items"] = {"$ref": "#/$defs/node"}
    schema = {"type": "object", "properties": {"tree": {"$ref": "#/$defs/node"}}}
    schema["$defs"] = {"node": node}
    assert openai_parameters(schema)[0] is not None  # offered: not taken as too deep
    argument_problems = ArgumentChecks().problems
    tree: dict[str, Any] = {"name": "leaf"}
    for n in range(300):
        tree = {"name": f"level {n}", "children": [tree]}
    assert argument_problems(schema, {"tree": tree}, "deep__tree") == []
    assert argument_problems(schema, {"tree": 5}, "deep__tree") == [
        "the field “tree” is 5, but it takes an object"
    ]
