"""Benchmarks (``voicedesk bench …``) and what they share."""

from __future__ import annotations

import argparse
from typing import Any


def bench_parser(
    sub: argparse._SubParsersAction, name: str, summary: str, doc: str | None
) -> argparse.ArgumentParser:
    """The parser of ``voicedesk bench NAME`` with the options every benchmark has (--json):
    ``doc``, its module's docstring, is its --help text, since that says what it measures
    and how; ``summary`` is its line in ``voicedesk bench --help``."""
    from voicedesk.commands import DocHelpFormatter

    p = sub.add_parser(name, help=summary, description=doc, formatter_class=DocHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``section.key=value`` strings to an overrides tree, each value typed as the same
    setting's VOICEDESK_* variable is (a list or a table in JSON), then validated by Settings
    with the rest. They were all kept as text: a list setting could not be set at all."""
    from voicedesk.config import set_path, setting_from_text
    from voicedesk.errors import UserError

    tree: dict[str, Any] = {}
    for item in items or []:
        dotted, sep, value = item.partition("=")
        dotted = dotted.strip()
        raw_parts = dotted.split(".")
        if not sep or len(raw_parts) < 2 or not all(raw_parts):
            raise UserError(
                f"--set {item!r} is not SECTION.KEY=VALUE", "e.g. --set turn.stop_ms=64"
            )
        named = f"--set {dotted}"
        parts, typed = setting_from_text(raw_parts, value.strip(), named)
        set_path(tree, parts, typed, named)
    return tree
