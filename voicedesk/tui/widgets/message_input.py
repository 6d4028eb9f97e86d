"""The one-line box a typed turn is written in.

Textual's ``Input`` keeps only the first line of a paste, so a paragraph or an e-mail
pasted in to ask about it was sent as its first line, the rest silently gone. A turn is one
message, so the pasted lines are joined into one line instead.

While the box has the focus, Textual leaves every letter key out of the footer (typed, they
are text), so the footer showed only the palette: in a typing-only session, where the box
keeps the focus, nothing said how to send, leave or quit. The box shows those keys itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import Input


def one_line(text: str) -> str:
    """Pasted text as one line: its lines joined by a space, blank ones left out (a turn is
    read as prose; the line breaks of a paste are mostly where a window wrapped it)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


# What the empty box says: how to reach it from outside, and once in it only what to do
# there ("press t" in a focused box typed a stray "t" into the message). Longest first: the
# box shows the first that fits it (at 40 columns the first was cut to "… Enter send").
PLACEHOLDERS = (
    "press t to type a message · Enter sends · Esc leaves",
    "t: type · Enter sends · Esc leaves",
    "t: type a message",
)
PLACEHOLDERS_FOCUSED = (
    "type a message · Enter sends · Esc leaves",
    "Enter sends · Esc leaves",
    "Enter sends",
)
PLACEHOLDER, PLACEHOLDER_FOCUSED = PLACEHOLDERS[0], PLACEHOLDERS_FOCUSED[0]


def fitting(texts: tuple[str, ...], width: int) -> str:
    """The longest of ``texts`` (longest first) that fits ``width`` cells, else the last."""
    from rich.cells import cell_len

    return next((text for text in texts if cell_len(text) <= width), texts[-1])


class MessageInput(Input):
    """An ``Input`` that takes a multi-line paste whole and shows its keys in the footer."""

    def __init__(self, **kwargs: object) -> None:
        # the Input keywords a caller gives, passed through: Input checks them, not this
        super().__init__(placeholder=PLACEHOLDER, **kwargs)  # type: ignore[arg-type]
        # Asked when space is pressed in the empty box: True takes it as the talk key (the
        # app's, while the conversation starts and the box has the focus), not a blank.
        self.space_when_empty: Callable[[], bool] | None = None
        # Asked at each key: True when the focus has already left the box for a widget
        # whose keys this one is (the app's, as the start hands the conversation its keys):
        # the key is not typed here but goes on to the app, whose bindings follow the focus.
        self.key_is_elsewhere: Callable[[], bool] | None = None

    def _own_placeholder(self, focused: bool) -> None:
        """Its own hint for the box's state and width; one the app set (the conversation
        could not start) is left as it is."""
        if self.placeholder in PLACEHOLDERS + PLACEHOLDERS_FOCUSED:
            texts = PLACEHOLDERS_FOCUSED if focused else PLACEHOLDERS
            width = self.content_size.width  # 0 before the first layout: the longest, until
            self.placeholder = fitting(texts, width) if width else texts[0]  # the resize

    def _on_focus(self, event: events.Focus) -> None:
        self._own_placeholder(focused=True)
        super()._on_focus(event)

    def _on_blur(self, event: events.Blur) -> None:
        self._own_placeholder(focused=False)
        super()._on_blur(event)

    def on_resize(self, event: events.Resize) -> None:
        self._own_placeholder(focused=self.has_focus)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Send"),
        # the app's Esc: in the box it leaves the box, it does not stop the answer
        Binding("escape", "app.interrupt", "Leave box"),
        # The app's ctrl+q (Textual's, hidden) quits anywhere; a priority binding, so only
        # another priority one shows in its place. ctrl+c copies here, so it is not offered.
        Binding("ctrl+q", "app.quit", "Quit", priority=True),
    ]

    async def _on_key(self, event: events.Key) -> None:
        """Enter sends here, in the box's own order of keys, and empties the box at once.
        As a binding it ran only after the keys typed behind it were in the box, and the
        app emptied it later still: "one⏎two⏎" typed quickly sent "onetwo" twice.

        ctrl+j (a line feed) sends too: an Enter typed before the app had the terminal (a
        line sent by tmux send-keys as it starts) is turned into one by the terminal's line
        mode, and the message stayed in the box, unsent.

        A key sent here before the focus left, and come after it (the box handles its keys
        on its own queue), is the new focus's when ``key_is_elsewhere`` says so: it bubbles
        on to the app untyped, and the app's bindings, which follow the focus, act on it."""
        elsewhere = self.key_is_elsewhere
        if elsewhere is not None and elsewhere():
            event.prevent_default()  # not Input's handler either; not stopped: it bubbles
            return
        if event.key in ("enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            await self.action_submit()
            return
        ask = self.space_when_empty
        if event.key == "space" and not self.value.strip() and ask is not None and ask():
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    async def action_submit(self) -> None:
        """Send, and empty the box (the footer's Send comes here too): the app never
        empties it later, over what was typed since."""
        value, self.value = self.value, ""
        self.post_message(self.Submitted(self, value))

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
