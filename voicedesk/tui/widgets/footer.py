"""Textual's footer, with every key marked by its action so a narrow layout can drop some.

Below a width where even the compact footer overflows, Textual cuts the last keys off (Quit
first) and leaves a stray letter. The app's stylesheet hides the keys that matter least
instead (``.-narrow .-key-…``); the keys keep working and the help screen lists them all.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # not re-exported by textual.widgets


def key_class(action: str) -> str:
    """The CSS class of a footer key for ``action`` (``app.quit`` → ``-key-app-quit``)."""
    return "-key-" + action.replace(".", "-")


class AppFooter(Footer):
    """A :class:`Footer` whose keys carry a ``-key-<action>`` class."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, FooterKey):
                widget.add_class(key_class(widget.action))
            yield widget
