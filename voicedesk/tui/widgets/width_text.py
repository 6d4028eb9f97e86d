"""A text drawn in the form it takes at the width it is laid out at.

Textual lays a Visual out (``get_height``) and draws it (``render_strips``) in two passes;
a text whose line breaks depend on the width (a cut answer's mark kept on one line, a tool
card's long words, a path folded after its separators) must give both passes the same form,
or the height laid out is not the height drawn. One base for them, each saying only how it
looks at a width (``_at``).
"""

from __future__ import annotations

from abc import abstractmethod

from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual


class WidthText(Visual):
    """A Content drawn in the form it takes at the width it is laid out at (``_at``, given
    the width inside the line pad): the layout pass (``get_height``) and the drawing
    (``render_strips``) ask the same form, so the height laid out is the height drawn.

    ``content`` is the form whatever the width: its text, and the widths it asks for."""

    def __init__(self, content: Content) -> None:
        self.content = content

    def __str__(self) -> str:
        return str(self.content)

    @property
    def plain(self) -> str:
        """The text as one paragraph, whatever the width (as a Content has it)."""
        return self.content.plain

    @abstractmethod
    def _at(self, width: int) -> Content:
        """The text as drawn at a wrap ``width`` (the line pad already taken off)."""

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        wrap_width = width - options.rules.get("line_pad", 0) * 2
        return self._at(wrap_width).render_strips(width, height, style, options)

    def get_height(self, rules: RulesMap, width: int) -> int:
        wrap_width = width - rules.get("line_pad", 0) * 2
        return self._at(wrap_width).get_height(rules, width)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.content.get_optimal_width(rules, container_width)

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.content.get_minimal_width(rules)
