"""The argument checkers kept for the tools' input schemas."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from voicedesk.tools.schemas import argument_problems


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
