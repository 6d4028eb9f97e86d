"""The packages depend one way, as the design has it: the user interface (the TUI, the
commands and their benches) drives the engine, and the engine drives audio, turn detection,
the providers and the tools, which all read the shared settings, events and errors. A module
below never imports one above it: the engine stays usable without a terminal UI, a provider
stays testable without the engine, and the settings load without a provider.

Every import counts, also one inside a function, under ``TYPE_CHECKING`` or by its name
(``importlib.import_module("voicedesk.tui")``): each is a dependency that breaks the
layering the day it is needed."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "voicedesk"

# Top-level parts of voicedesk by layer, top first; a module is in the layer of the package
# (or top-level module) it belongs to, and imports only from its own layer and those below.
UI = {"entry", "cli", "__main__", "tui", "commands", "bench"}
ENGINE = {"engine"}
# What the engine drives (the simulated cloud too: builder.py starts it for --sim).
DRIVEN = {"audio", "turn", "providers", "tools", "sim"}
# The shared pieces (settings, events, errors) that every layer reads.
BASE = {
    "config",
    "config_secrets",
    "config_toml",
    "daemon_thread",
    "errors",
    "events",
    "exit_status",
    "files",
    "loopback",
}
LAYERS = [UI, ENGINE, DRIVEN, BASE]


def _part(package: Path, path: Path) -> str:
    """The top-level part of ``package`` that ``path`` belongs to (``engine``, ``config``)."""
    rel = path.relative_to(package)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imported_parts(package: Path, path: Path) -> Iterator[tuple[str, int]]:
    """(top-level part of voicedesk, line) for each import of voicedesk code in ``path``."""
    module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
    here = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module[: -len(".__init__")]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this module's package
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            if names == ["voicedesk"]:  # from voicedesk import events
                names = [f"voicedesk.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and (named := _imported_by_name(node)) is not None:
            names = [named]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "voicedesk" and len(parts) > 1 and parts[1]:
                yield parts[1], node.lineno


def _imported_by_name(call: ast.Call) -> str | None:
    """The module name (or its leading text, of an f-string) that an
    ``importlib.import_module(...)`` or ``__import__(...)`` call gives, if written out."""
    func = call.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in ("import_module", "__import__") or not call.args:
        return None
    name = call.args[0]
    if isinstance(name, ast.JoinedStr) and name.values:  # f"voicedesk.commands.{name}"
        name = name.values[0]
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value
    return None


def _wrong_imports(package: Path) -> list[str]:
    """Each import in ``package`` that points up a layer, as "file:line imports part"."""
    wrong = []
    for path in sorted(package.rglob("*.py")):
        here = _part(package, path)
        if here == "__init__":
            continue
        # (a part in no layer is taken as the top one: test_every_part_has_a_layer names it)
        layer = next((i for i, parts in enumerate(LAYERS) if here in parts), 0)
        above = set().union(*LAYERS[:layer])
        wrong += [
            f"{path.relative_to(package.parent)}:{line} imports voicedesk.{part}"
            for part, line in _imported_parts(package, path)
            if part in above
        ]
    return wrong


def test_every_part_has_a_layer() -> None:
    """A new package must be placed in a layer, or the checks below would pass it by."""
    parts = {_part(PACKAGE, path) for path in PACKAGE.rglob("*.py")} - {"__init__"}
    placed = set().union(*LAYERS)
    assert parts <= placed, sorted(parts - placed)


def test_each_part_has_one_layer() -> None:
    assert sum(len(parts) for parts in LAYERS) == len(set().union(*LAYERS))


def test_imports_point_down() -> None:
    wrong = _wrong_imports(PACKAGE)
    assert not wrong, "a lower layer imports a higher one:\n" + "\n".join(wrong)


# (module, its source, the part it wrongly imports): the ways an upward import is written
UPWARD = [
    ("engine/reply.py", "def later():\n    from voicedesk.tui import app\n", "tui"),
    ("engine/reply.py", "from ..tui import app\n", "tui"),
    ("engine/reply.py", "from .. import tui\n", "tui"),
    ("engine/reply.py", "import voicedesk.commands.run as r\n", "commands"),
    ("engine/__init__.py", "from voicedesk import cli\n", "cli"),
    (
        "providers/base.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from voicedesk.engine.api import Mode\n",
        "engine",
    ),
    # the shared pieces at the bottom read nothing that the engine drives
    ("config.py", "def later():\n    from voicedesk.providers import base\n", "providers"),
    ("events.py", "from .tools.manager import ToolManager\n", "tools"),
    # a module imported by its name as text is imported all the same
    ("engine/reply.py", 'import importlib\nimportlib.import_module("voicedesk.tui.app")\n', "tui"),
    (
        "tools/manager.py",
        'from importlib import import_module\nimport_module(f"voicedesk.engine.{name}")\n',
        "engine",
    ),
]


@pytest.mark.parametrize(("module", "source", "part"), UPWARD)
def test_an_upward_import_is_found(tmp_path: Path, module: str, source: str, part: str) -> None:
    package = tmp_path / "voicedesk"
    (package / module).parent.mkdir(parents=True, exist_ok=True)
    (package / module).write_text(source, encoding="utf-8")
    assert [w.rsplit(" ", 1)[1] for w in _wrong_imports(package)] == [f"voicedesk.{part}"]


def test_downward_imports_pass(tmp_path: Path) -> None:
    package = tmp_path / "voicedesk"
    sources = {
        "tui/app.py": "from voicedesk.engine import api\nfrom voicedesk import config\n",
        "engine/session.py": "from voicedesk.providers import base\nfrom ..turn import vad\n",
        "providers/openai_stt.py": "from . import base\nfrom voicedesk.audio import resample\n",
        "config.py": "from voicedesk.config_secrets import mask_text\nfrom .errors import E\n",
        "sim/server.py": 'import importlib\nimportlib.import_module("voicedesk.audio.wavio")\n',
    }
    for module, source in sources.items():
        (package / module).parent.mkdir(parents=True, exist_ok=True)
        (package / module).write_text(source, encoding="utf-8")
    assert _wrong_imports(package) == []
