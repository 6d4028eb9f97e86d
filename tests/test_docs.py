"""The documentation names what the code has. A new engineer finds a module through
docs/architecture.md's "Where the code lives", and a user learns the simulated cloud's
options from the README's synopsis of ``voicedesk sim``: a module or an option added
without its line there is one nobody finds, so these checks fail until it is written in."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from voicedesk.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "voicedesk"


def _module_map() -> str:
    """The text of architecture.md's "Where the code lives" section."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("\n## Where the code lives\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _bullets_by_package(section: str) -> dict[str, str]:
    """Each package's bullets joined, keyed by the package a bullet starts with
    ("* `audio/`: …" → ``audio``); a bullet is its first line and the indented ones after."""
    bullets: dict[str, str] = {}
    for bullet in re.split(r"\n(?=\* )", section):
        if not bullet.startswith("* "):
            continue
        first = re.match(r"\* `(\w+)/`", bullet)
        if first is not None:
            bullets[first.group(1)] = bullets.get(first.group(1), "") + bullet
    return bullets


def test_every_module_is_listed_under_its_package_in_the_architecture_map() -> None:
    """Eighteen modules (``audio/io.py``, ``tui/screens.py``, ``providers/null_stt.py`` …)
    had their file named nowhere in architecture.md; the map lists every one, in the bullets
    of its own package (``bench/context.py`` is not ``engine/context.py``)."""
    section = _module_map()
    bullets = _bullets_by_package(section)
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(PACKAGE)
        named = f"`{path.name}`"
        where = section if len(rel.parts) == 1 else bullets.get(rel.parts[0], "")
        if named not in where:
            missing.append(str(rel))
    assert not missing, f"not in architecture.md's 'Where the code lives': {missing}"


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The long options a parser takes and its --help shows (not --help itself)."""
    return {
        option
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def test_the_readme_synopsis_of_sim_has_every_option() -> None:
    """The README's ``voicedesk sim [...]`` line is its usage; it left out --tokens-per-s
    and --voice (the latter named in the install section as ``sim --voice piper``)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    synopsis = re.search(r"^\| `voicedesk sim (\[.*?)` \|", readme, re.MULTILINE)
    assert synopsis is not None, "the README's commands table has no `voicedesk sim …` row"
    listed = set(re.findall(r"\[(--[a-z-]+)", synopsis.group(1)))
    subparsers = next(
        a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)
    )
    assert _options(subparsers.choices["sim"]) - listed == set()


def test_the_readme_test_section_and_ci_run_agree() -> None:
    """.ci/run runs the README's test command, installs every package the README says a
    test is skipped without, and installs none the README does not name. `strace`, which
    two session-log tests are skipped without, was neither installed nor named, and four
    packages .ci/run installs were not named."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n## Test\n") :]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = re.search(r"```sh\n(.+?)\n```", section, re.DOTALL)
    assert command is not None
    assert command.group(1).strip() in ci.splitlines()
    apt = re.search(r"^for pkg in (.+); do$", ci, re.MULTILINE)
    assert apt is not None
    installed = set(apt.group(1).split())
    prose = re.sub(r"```.*?```", "", section, flags=re.DOTALL)
    needed = {
        name
        for span in re.findall(
            r"skipped without\s+`([^`]+)`|with\s+`([a-z0-9.+-]+)`\s+and are", prose
        )
        for words in span
        for name in words.split()
    }
    assert needed and needed <= installed, f"needed, not installed by .ci/run: {needed - installed}"
    named = {name for span in re.findall(r"`([^`]+)`", prose) for name in span.split()}
    assert installed <= named, f"installed by .ci/run, not named in the README: {installed - named}"
