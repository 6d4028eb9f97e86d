"""The packages depend one way, as the design has it: the user interface (the TUI, the
commands and their benches) drives the engine, and the engine drives audio, turn detection,
the providers and the tools. A module below never imports one above it: the engine stays
usable without a terminal UI, and a provider stays testable without the engine.

Every import counts, also one inside a function or under ``TYPE_CHECKING``: each is a
dependency that breaks the layering the day it is needed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "voicedesk"

# Top-level parts of voicedesk by layer; a module is in the layer of the package (or
# top-level module) it belongs to.
UI = {"cli", "__main__", "tui", "commands", "bench"}
ENGINE = {"engine"}
# Below the engine: what it drives, and the shared pieces (settings, events, errors) that
# every layer reads.
BELOW = {
    "audio",
    "turn",
    "providers",
    "tools",
    "sim",
    "config",
    "config_secrets",
    "errors",
    "events",
    "files",
    "loopback",
}


def _part(path: Path) -> str:
    """The top-level part of voicedesk that ``path`` belongs to (``engine``, ``config``)."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_parts(path: Path) -> Iterator[tuple[str, int]]:
    """(top-level part of voicedesk, line) for each import of voicedesk code in ``path``."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = (
        module.rsplit(".", 1)[0] if path.name != "__init__.py" else module[: -len(".__init__")]
    )
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            if names == ["voicedesk"]:  # from voicedesk import events
                names = [f"voicedesk.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "voicedesk" and len(parts) > 1:
                yield parts[1], node.lineno


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_layer() -> None:
    """A new package must be placed in a layer, or the checks below would pass it by."""
    parts = {_part(path) for path in _modules()} - {"__init__"}
    assert parts <= UI | ENGINE | BELOW, sorted(parts - (UI | ENGINE | BELOW))


def test_imports_point_down() -> None:
    wrong = []
    for path in _modules():
        here = _part(path)
        if here in UI or here == "__init__":
            continue
        above = UI if here in ENGINE else UI | ENGINE
        wrong += [
            f"{path.relative_to(PACKAGE.parent)}:{line} imports voicedesk.{part}"
            for part, line in _imported_parts(path)
            if part in above
        ]
    assert not wrong, "a lower layer imports a higher one:\n" + "\n".join(wrong)
