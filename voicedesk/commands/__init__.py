"""The ``voicedesk`` subcommands, one module each."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_BLOCK_INTRO = re.compile(r"::$", re.MULTILINE)  # "…the shell::" before an indented example


class DocHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """A command's ``--help`` shows its module docstring, whose line breaks are kept; the
    docstring's reStructuredText marks (````literal````, ``::`` before an example) are for
    readers of the code and would show in a terminal around every command and flag."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(_BLOCK_INTRO.sub(":", _LITERAL.sub(r"\1", text)))


def path_arg(text: str) -> Path:
    """A flag's path. An empty one (an unset shell variable) is refused: ``Path("")`` is
    the current folder, which ``docs-server --root ""`` made the workspace its tools edit.
    A leading ``~`` is the home folder, as it is for ``--config``: the shell leaves it as it
    is after ``=`` (``--input=~/in.wav``), and the file was then "not found: ~/in.wav"."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path was given; pass a path")
    return Path(text).expanduser()
