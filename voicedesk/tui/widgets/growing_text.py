"""Text that grows at its end (a streaming answer), wrapped a line at a time.

A :class:`~textual.content.Content` given to a ``Static`` is wrapped whole every time the
widget is laid out and drawn: for its height and again for its lines. A streaming answer is
updated for every token, so a 400-word answer was wrapped twice per frame, more each word,
on the event loop the engine shares for audio, turn detection and barge-in.

Wrapping is greedy: the lines before the one where the last word begins never change as
text is appended. So :class:`GrowingText` keeps the lines already final (for the width and
styles they were made for) in a :class:`WrapCache` the widget holds across updates, and
wraps only from there on (in a word longer than the width, from its last two pieces: a
paragraph of Japanese is one word). Not from the last line: a word longer than the width
is folded with the spaces after it, so the last piece of one that fills its line puts
those spaces on a line of their own (a blank line before the next long word, a space
before the next word) where the piece wrapped alone would not. Anything else (a revised text, another width or theme, a selection, a
layout it does not know) is wrapped whole, as ``Content`` itself would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual


@dataclass
class _Settled:
    """Lines that text appended later cannot change, and where the rest begins."""

    key: tuple[Any, ...] | None = None
    head: str = ""  # the text before ``start``: a revision that changes it starts again
    strips: list[Strip] = field(default_factory=list)  # rendered lines (render_strips)
    lines: int = 0  # how many lines (get_height, which wraps without styles)

    @property
    def start(self) -> int:
        return len(self.head)


@dataclass
class WrapCache:
    """Kept by the widget for the life of its text: one for drawing, one for its height."""

    drawn: _Settled = field(default_factory=_Settled)
    height: _Settled = field(default_factory=_Settled)


def _line_starts(text: str) -> list[int]:
    """Where each ``\\n``-separated line of ``text`` begins (Content wraps each on its own)."""
    starts = [0]
    at = text.find("\n")
    while at != -1:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return starts


class GrowingText(Visual):
    """``content`` drawn as ``Content`` would, reusing the final lines kept in ``cache``."""

    def __init__(self, content: Content, cache: WrapCache) -> None:
        self.content = content
        self.cache = cache

    def __str__(self) -> str:
        return str(self.content)

    def _settled_for(self, settled: _Settled, key: tuple[Any, ...]) -> _Settled:
        plain = self.content.plain
        if settled.key != key or not plain.startswith(settled.head) or "\t" in plain:
            settled.key, settled.head, settled.strips, settled.lines = key, "", [], 0
        return settled

    @staticmethod
    def _settle(settled: _Settled, plain: str, tail_lines: list[Any]) -> int:
        """How many of the lines just wrapped are final, keeping where the next begins: all
        before the last that begins a word or a line of the text, or a piece of a word
        longer than the width that goes on past the piece's end (it is folded alike from
        there on). Not the last piece of a long word: folded with the spaces after it, it
        can put them on a line of their own where the piece wrapped alone would not (the
        spaces that begin a line of the text are part of its first word)."""
        if "\t" in plain:  # the lines' offsets are in the text with its tabs expanded
            return 0
        begins = _line_starts(plain[settled.start :])
        starts = [settled.start + begins[line.y] + line.x for line in tail_lines]
        for kept in range(len(tail_lines) - 1, 0, -1):
            at = starts[kept]
            if tail_lines[kept].x == 0 or (
                plain[at - 1].isspace()
                and not plain[at].isspace()
                and not plain[plain.rfind("\n", 0, at) + 1 : at].isspace()
            ):
                break
            if kept + 1 < len(starts) and tail_lines[kept + 1].x > 0:
                then = starts[kept + 1]  # a fold inside the word's letters: more follow
                if not plain[then - 1].isspace() and not plain[then].isspace():
                    break
        else:
            return 0
        settled.head = plain[:at]
        return kept

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        rules = options.rules
        if (
            not width
            or options.selection is not None
            or options.post_style is not None
            or rules.get("text_wrap", "wrap") != "wrap"
            or rules.get("text_overflow", "fold") != "fold"
        ):
            return self.content.render_strips(width, height, style, options)
        line_pad, align = rules.get("line_pad", 0), rules.get("text_align", "left")
        # the theme's colours are resolved as lines are drawn: kept lines are for one theme
        key = (width, line_pad, align, style, options.get_style("$text-primary"))
        settled = self._settled_for(self.cache.drawn, key)
        # (a line is justified unless it is the last: the one wrapped again each time)
        tail = self.content[settled.start :]._wrap_and_format(
            width, align=align, line_pad=line_pad, get_style=options.get_style
        )
        # each cell carries its place in the text (line, offset) for selecting with the
        # mouse: the tail's lines are placed where they are in the whole text
        before = self.content.plain[: settled.start]
        line_at = before.count("\n")
        offset_at = settled.start - (before.rfind("\n") + 1)
        kept = self._settle(settled, self.content.plain, tail)
        for line in tail:
            if line.y == 0:
                line.x += offset_at
            line.y += line_at
        strips = settled.strips + [Strip(*line.to_strip(style)) for line in tail]
        settled.strips = strips[: len(strips) - len(tail) + kept]
        return strips if height is None else strips[:height]

    def get_height(self, rules: RulesMap, width: int) -> int:
        if rules.get("text_wrap", "wrap") != "wrap" or rules.get("text_overflow", "fold") != "fold":
            return self.content.get_height(rules, width)
        wrap_width = width - rules.get("line_pad", 0) * 2
        settled = self._settled_for(self.cache.height, (wrap_width,))
        tail = self.content.without_spans[settled.start :]._wrap_and_format(wrap_width)
        lines = settled.lines + len(tail)
        settled.lines += self._settle(settled, self.content.plain, tail)
        return lines

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.content.get_optimal_width(rules, container_width)

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.content.get_minimal_width(rules)
