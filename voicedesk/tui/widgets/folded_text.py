"""Text folded at its spaces, and a word wider than its line after a character that ends a
part of it (a path's "/", a tool's "__", "key="), never mid-name where that can be helped.

Textual's ``Content`` folds a word wider than its line wherever the line runs out: at 30
columns a tool card read "docs__search_document" / "s (query=…", a notice's path
".partial" / ".wav" with its "," starting the next line, and the settings dialog's config
path ".config/vo" / "icedesk-settings/config.toml". Written by hand because no wrapping
Textual or Rich offers breaks a word at chosen characters.
"""

from __future__ import annotations

import re

from textual.content import Content

from voicedesk.tui.widgets.width_text import WidthText

# Where a word too long for its line is broken, after the last of these that fits: a path
# at a "/", a tool's name after its server's "__", "key=" before its value.
WORD_BREAKS = "/_-.,=:"
# ...in a path, or a text quoting one: its separators only ("answers." / "partial.wav" was
# a name cut)
PATH_BREAKS = "/\\"
# Never alone at the start of a line: the punctuation after a word folded at the line's end
_TRAILING = ",.;:!?)]}'\""


def _piece_end(plain: str, start: int, end: int, room: int, breaks: str, *, forced: bool) -> int:
    """Where the piece of the word ``plain[start:end]`` that fits in ``room`` characters
    ends: after its last ``breaks`` character (a namespaced tool's name after its "__"), or
    with none, at ``room`` if ``forced`` (else 0: no piece)."""
    if room <= 0:
        return 0
    fits = plain[start : start + room]
    at = fits.rfind("__") + 2 if "_" in breaks and "__" in fits[1:] else 0
    at = at or max((i + 1 for i, c in enumerate(fits) if c in breaks), default=0)
    if not at:
        if not forced:
            return 0
        at = room
    cut = start + at
    if cut - start > 1 and all(c in _TRAILING for c in plain[cut:end]):
        cut -= 1  # "…/answers.wa" / "v," rather than "…/answers.wav" / ","
    return cut


def fold_lines(
    plain: str, width: int, glued: int = 0, breaks: str = WORD_BREAKS
) -> list[tuple[int, int]]:
    """``plain`` broken into lines of at most ``width`` characters at its spaces, as
    (start, end) offsets. A word wider than a line (a long path, a namespaced tool name at
    30 columns) is broken after its last ``breaks`` character that fits, and only with none
    mid-word, its first piece on the line before it where one fits ("Config file: /home/"),
    the punctuation ending it ("path,") kept with a character of it. Nothing breaks in the
    first ``glued`` characters (an icon and its space): "✓" stood alone on a line above the
    name. A line end in ``plain`` (a notice quoting a program's output) ends a line too."""
    words = [[m.start(), m.end()] for m in re.finditer(r"[^\s]+|\n", plain)]
    if len(words) > 1 and words[0][1] < glued and plain[words[1][0]] != "\n":
        icon = words.pop(0)
        words[0][0] = icon[0]
    lines: list[tuple[int, int]] = []
    start = end = -1  # the line being filled (none yet)
    for w_start, w_end in words:
        if plain[w_start] == "\n":
            lines.append((start, end) if start >= 0 else (w_start, w_start))  # (an empty one)
            start = end = -1
            continue
        if start >= 0 and w_end - start <= width:
            end = w_end
            continue
        if start >= 0:
            room = width - (w_start - start)
            cut = _piece_end(plain, w_start, w_end, room, breaks, forced=False)
            if w_end - w_start > width and cut:
                lines.append((start, cut))  # the wide word begins on this line
                w_start = cut
            else:
                lines.append((start, end))
        while w_end - w_start > width:  # wider than a line: a piece at a time
            cut = _piece_end(plain, w_start, w_end, width, breaks, forced=True)
            lines.append((w_start, cut))
            w_start = cut
        start, end = w_start, w_end
    if start >= 0:
        lines.append((start, end))
    return lines


class FoldedText(WidthText):
    """``content`` laid out by :func:`fold_lines` for the width it is drawn at (a tool
    card's text, a notice, a labelled path); ``glued`` and ``breaks`` as there."""

    def __init__(self, content: Content, *, glued: int = 0, breaks: str = WORD_BREAKS) -> None:
        super().__init__(content)
        self.glued = glued
        self.breaks = breaks
        self._at_width: dict[int, Content] = {}

    def _at(self, width: int) -> Content:
        laid = self._at_width.get(width)
        if laid is None:
            if width <= 0:
                return self.content
            lines = fold_lines(self.content.plain, width, self.glued, self.breaks)
            laid = Content("\n").join([self.content[a:b] for a, b in lines])
            self._at_width[width] = laid
        return laid


def folded_path(label: str, path: str, *, label_style: str = "bold", style: str = "") -> FoldedText:
    """``label`` and the file ``path`` after it, the path folded after its separators."""
    return FoldedText(Content.assemble((label, label_style), (path, style)), breaks=PATH_BREAKS)
