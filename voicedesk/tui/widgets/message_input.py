"""The one-line box a typed turn is written in.

Textual's ``Input`` keeps only the first line of a paste, so a paragraph or an e-mail
pasted in to ask about it was sent as its first line, the rest silently gone. A turn is one
message, so the pasted lines are joined into one line instead.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


def one_line(text: str) -> str:
    """Pasted text as one line: its lines joined by a space, blank ones left out (a turn is
    read as prose; the line breaks of a paste are mostly where a window wrapped it)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


class MessageInput(Input):
    """An ``Input`` that takes a multi-line paste whole."""

    def _on_paste(self, event: events.Paste) -> None:
        text = one_line(event.text)
        if text:
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(text)
            else:
                self.replace(text, *selection)
        event.stop()
        event.prevent_default()  # Input's own handler would paste the first line again
