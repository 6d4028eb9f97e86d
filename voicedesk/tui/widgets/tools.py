"""The tool activity pane: every tool call with arguments, progress, duration and result.

A list rather than free text, so a call can be selected (Enter or click) to read its full
result in a modal: results are often long documents that would swamp the pane.

A resumed conversation's earlier calls (``ConversationResumed``) come first, marked "·" as
in the conversation pane: the session log keeps their name and arguments, not how they
ended, so they are listed without a duration or result.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from voicedesk import events as ev
from voicedesk.tools.results import without_sdk_prefix
from voicedesk.tui.widgets.conversation import CARD_LOOK, short_args
from voicedesk.tui.widgets.visible import visible_controls

EARLIER_DETAIL = "earlier session"  # in the detail modal's status
NOT_LOGGED = "outcome not logged"  # a call whose result the log does not hold
# Calls the pane keeps, the newest: each holds its whole result (a document read is its
# text), and a window left open all day kept every one.
CALLS_KEPT = 100


@dataclass
class ToolCallInfo:
    """Everything known about one call, for the pane line and the detail modal."""

    call_id: str
    name: str
    arguments: dict
    turn_id: int
    started_ns: int
    progress: str = ""
    finished: ev.ToolCallFinished | None = None
    earlier: bool = False  # a call of the conversation that --resume took up
    earlier_result: str | None = None  # what it answered then, when the log kept it
    earlier_failed: bool | None = None  # whether it failed then; None: the log does not say

    @property
    def status(self) -> str:
        if self.earlier:
            return "earlier"
        if self.finished is None:
            return "running"
        if self.finished.cancelled:
            return "cancelled"
        return "error" if self.finished.is_error else "done"


class ToolPane(Vertical):
    """Lists tool calls, newest last; selecting one posts :class:`ToolPane.Selected`."""

    DEFAULT_CLASSES = "pane"

    class Selected(Message):
        def __init__(self, info: ToolCallInfo) -> None:
            super().__init__()
            self.info = info

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Tools"
        self.calls: dict[str, ToolCallInfo] = {}
        # Ids for a resumed conversation's calls, never reused: counted from len(calls),
        # they repeated once the pane was full (it keeps CALLS_KEPT) and the list refused
        # the duplicate, losing the newest earlier calls.
        self._earlier_ids = itertools.count()

    def compose(self) -> ComposeResult:
        yield Static("No tool calls yet.", id="tools-empty")
        yield OptionList(id="tool-list")

    def on_mount(self) -> None:
        options = self.query_one("#tool-list")
        options.display = False
        # The newest call stays in view until the person scrolls or moves the cursor up
        # (and again once they are back at the end): past the pane's height new calls went
        # below the fold, and the pane showed the session's first calls, not the running one.
        options.anchor()

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.ToolCallStarted):
            info = ToolCallInfo(
                call_id=event.call_id,
                name=event.name,
                arguments=dict(event.arguments),
                turn_id=event.turn_id,
                started_ns=event.t_ns,
            )
            self._add(info)
        elif isinstance(event, ev.ConversationResumed):
            for turn in event.turns:
                for call in turn.tool_calls:
                    self._add(
                        ToolCallInfo(
                            call_id=f"earlier-{next(self._earlier_ids)}",  # unique in this pane
                            name=call.name,
                            arguments=dict(call.arguments),
                            turn_id=turn.turn_id,
                            started_ns=event.t_ns,
                            earlier=True,
                            earlier_result=call.result,
                            earlier_failed=call.failed,
                        )
                    )
        elif isinstance(event, ev.ToolCallProgress) and event.call_id in self.calls:
            info = self.calls[event.call_id]
            bits = []
            if event.progress is not None and event.total:
                bits.append(f"{event.progress / event.total:.0%}")
            elif event.progress is not None:
                bits.append(f"{event.progress:g}")
            if event.message:
                bits.append(event.message)
            info.progress = " ".join(bits)
            self._refresh_line(info)
        elif isinstance(event, ev.ToolCallFinished) and event.call_id in self.calls:
            info = self.calls[event.call_id]
            info.finished = event
            self._refresh_line(info)

    def _add(self, info: ToolCallInfo) -> None:
        self.calls[info.call_id] = info
        options = self.query_one("#tool-list", OptionList)
        options.add_option(Option(self.line(info), id=info.call_id))
        while len(self.calls) > CALLS_KEPT:  # the oldest ended go, results and all
            oldest = self._oldest_done()
            if oldest is None:
                break
            del self.calls[oldest]
            options.remove_option(oldest)
        options.display = True
        self.query_one("#tools-empty").display = False

    def _oldest_done(self) -> str | None:
        """The oldest call that has ended (or is an earlier session's), to be dropped: one
        still running stays, or its result, when it came, was shown nowhere (its open
        detail said "still running…" for good). None: every call is still running."""
        for call_id, info in self.calls.items():
            if info.earlier or info.finished is not None:
                return call_id
        return None

    def _refresh_line(self, info: ToolCallInfo) -> None:
        self.query_one("#tool-list", OptionList).replace_option_prompt(
            info.call_id, self.line(info)
        )

    @staticmethod
    def line(info: ToolCallInfo) -> Content:
        """Three lines: status, name and duration; arguments; progress or result."""
        icon, style = CARD_LOOK[info.status]
        # (an earlier call whose log does not say whether it failed, written before it did:
        # its result is read as a failed one's, as before)
        if info.earlier:
            failed = info.earlier_failed is not False
        else:
            failed = info.finished is not None and info.finished.is_error
        if info.earlier:
            took, detail = " earlier", info.earlier_result or NOT_LOGGED  # a 30-column pane
        elif info.finished is not None:
            took = f" {info.finished.duration_s:.2f}s"
            detail = info.finished.spoken_summary or info.finished.shown
        else:
            took = ""  # no ticking clock: the card changes when the call reports
            detail = info.progress or "running"
        detail = " ".join(visible_controls(without_sdk_prefix(detail, is_error=failed)).split())
        return Content.assemble(
            (f"{icon} ", style),
            (info.name, "bold"),
            (took, "$foreground-muted"),
            "\n  ",
            (short_args(info.arguments, 60) or "no arguments", "$foreground-muted"),
            "\n  ",
            detail[:200],
        )

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Tabbing into the list puts the cursor on the newest call, so Enter opens it
        (with no option highlighted, Enter did nothing until an arrow key was pressed)."""
        options = self.query_one("#tool-list", OptionList)
        if event.widget is options and options.highlighted is None and options.option_count:
            options.highlighted = options.option_count - 1

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        message.stop()
        info = self.calls.get(message.option_id or "")
        if info is not None:
            self.post_message(self.Selected(info))
