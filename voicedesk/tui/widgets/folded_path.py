"""A labelled file path folded after its separators, not mid-word.

``Content`` wraps at spaces only: a path has none, so at 40 columns the settings dialog's
"Config file: /home/…/voicedesk/config.toml" was cut wherever the line ran out
("voiced" / "esk/config.toml"), and the file's name could not be read at a glance. Here a
line ends after a ``/`` (or ``\\``) where the next folder would not fit; a single name
longer than the line is still folded, as nothing else can show it whole.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from textual.content import Content
from textual.css.styles import RulesMap

from voicedesk.tui.widgets.width_text import WidthText

# a folder with the separator that ends it, or the name at the end
_PIECES = re.compile(r"[^/\\]*[/\\]|[^/\\]+")


def _cut(piece: str, width: int) -> list[str]:
    """``piece`` in runs of at most ``width`` cells (a name longer than the line)."""
    runs: list[str] = []
    run = ""
    for char in piece:
        if run and cell_len(run + char) > width:
            runs.append(run)
            run = ""
        run += char
    return [*runs, run] if run else runs


def fold_path(label: str, path: str, width: int) -> list[str]:
    """``label + path`` as lines of at most ``width`` cells, each path line ending after a
    separator where it can; the label stays on the first line (alone when the path's first
    folder does not fit beside it)."""
    lines = [label]
    for piece in _PIECES.findall(path):
        if cell_len(lines[-1] + piece) <= width:
            lines[-1] += piece
            continue
        runs = _cut(piece, width) if cell_len(piece) > width else [piece]
        if lines[-1] and runs:
            lines.append("")
        for n, run in enumerate(runs):
            if n:
                lines.append("")
            lines[-1] += run
    return [line for line in lines if line] or [""]


class FoldedPath(WidthText):
    """``label`` and ``path``, folded by :func:`fold_path` for the width drawn at; the
    label in ``label_style``, the path in ``style`` (Textual style strings)."""

    def __init__(
        self, label: str, path: str, *, label_style: str = "bold", style: str = ""
    ) -> None:
        super().__init__(Content.assemble((label, label_style), (path, style)))
        self.label = label
        self.path = path
        self.label_style = label_style
        self.style = style

    def _at(self, width: int) -> Content:
        lines = fold_path(self.label, self.path, max(width, 1))
        # the label starts the first line: the path follows it, with a line end at each fold
        body = "\n".join(lines)[len(self.label) :]
        return Content.assemble((self.label, self.label_style), (body, self.style))

    def get_minimal_width(self, rules: RulesMap) -> int:
        return 1  # folded at any width (a path has no spaces for Content to wrap at)
