"""Benchmarks (``voicedesk bench …``) and what they share."""

from __future__ import annotations

from typing import Any


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``section.key=value`` strings to an overrides tree (values validated by Settings)."""
    from voicedesk.errors import UserError

    tree: dict[str, Any] = {}
    for item in items or []:
        dotted, sep, value = item.partition("=")
        parts = dotted.strip().split(".")
        if not sep or len(parts) != 2 or not all(parts):
            raise UserError(
                f"--set {item!r} is not SECTION.KEY=VALUE", "e.g. --set turn.stop_ms=64"
            )
        tree.setdefault(parts[0], {})[parts[1]] = value.strip()
    return tree
