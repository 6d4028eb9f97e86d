"""The conversation: user turns, streaming answers, cut answers and inline tool cards.

Turns are keyed by ``turn_id`` because the engine revises them: an interim transcript is
replaced by the final one, a preemptive answer may be restarted (a new ``LLMRequest`` for the
same turn), and an interrupted answer is rewritten as what the person actually heard.

A resumed conversation (``ConversationResumed``) first shows the earlier turns it continues,
above a "resumed" divider. They are drawn with the same widgets but kept out of the live
turns' bookkeeping: nothing the engine says now revises them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich._wrap import divide_line  # how Content itself breaks a line (its wrap uses it)
from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.selection import Selection
from textual.widgets import Static

from voicedesk import events as ev
from voicedesk.engine.metrics import answer_cut, error_said, timings_line
from voicedesk.tools.results import without_sdk_prefix
from voicedesk.tui.widgets.folded_text import PATH_BREAKS, FoldedText
from voicedesk.tui.widgets.growing_text import GrowingText, WrapCache
from voicedesk.tui.widgets.visible import visible_controls
from voicedesk.tui.widgets.width_text import WidthText

CUT_MARKER = " ✂ cut here "
PREFIX = "assistant › "  # before every answer
STOPPED_BEFORE_IT_BEGAN = "(stopped before it began)"
# after an answer the model stopped at llm.max_tokens, mid-sentence
LENGTH_NOTE = " … (stopped at the length limit, llm.max_tokens)"
RESUMED_DIVIDER = "— resumed —"
# Under a resumed conversation's last question when no answer to it was heard (the app was
# quit, or died, while it was awaited): it looked answered-in-waiting like any other line,
# and nothing will answer it unless it is asked again.
# How to ask it again depends on the way in: "say it" was shown on a machine with no
# microphone too, and in push-to-talk, where saying it does nothing until space is pressed.
# Where the terminal reports key releases space is held while talking (talk_key_mode
# "hold"): "press space and say it" there closed the microphone before a word was said.
ASK_AGAIN = {
    "starting": "",  # no way in is known until the conversation runs
    "hands-free": " (say it, or press t to type it)",
    "push-to-talk": " (press space and say it, or press t to type it)",
    "push-to-talk-hold": " (hold space while you say it, or press t to type it)",
    "muted": " (press m to unmute and say it, or press t to type it)",
    "typing": " (type it in the box below and press Enter)",
}


def unanswered_note(way_in: str = "starting") -> str:
    """The note under a resumed question nothing answered, ``way_in`` one of ASK_AGAIN's."""
    return (
        "↳ not answered: the conversation ended first. Ask it again to have it "
        f"answered{ASK_AGAIN.get(way_in, '')}."
    )


# Live turns kept on screen. Textual lays out every child of a scrolling container each time
# one of them changes height, which a streaming answer does every frame: with hundreds of
# turns that held the event loop, which the engine shares, for a tenth of a second at a time.
# Older turns are folded, FOLDED_PER_BLOCK to a block of plain text that never changes once
# full: scrolling back still shows all that was said, at a widget per block, not five a turn.
MAX_TURNS_SHOWN = 50
FOLDED_PER_BLOCK = 50
CARD_LOOK = {  # a tool card's status: (icon, its style)
    "running": ("⚙", "bold $warning"),
    "done": ("✓", "bold $success"),
    "error": ("✗", "bold $error"),
    "cancelled": ("⊘", "$foreground-muted"),
    "earlier": ("·", "$foreground-muted"),  # from before: the log keeps no success or failure
}


def short_args(arguments: dict[str, Any], limit: int = 48) -> str:
    """Arguments as ``key=value`` pairs, shortened: a card is a glance, the modal has the rest."""
    parts = []
    for key, value in arguments.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}={text}")
    out = ", ".join(parts)
    return out if len(out) <= limit else out[: limit - 1] + "…"


class UserTurn(Static):
    """What the person said; provisional (dim, italic) until the transcript is final."""

    def __init__(self, turn_id: int, text: str, *, provisional: bool) -> None:
        super().__init__(classes="turn user-turn")
        self.turn_id = turn_id
        self.text = ""
        self.provisional = provisional
        self.set_text(text, provisional=provisional)

    def set_text(self, text: str, *, provisional: bool) -> None:
        self.text = text
        self.provisional = provisional
        self.set_class(provisional, "provisional")
        self.update(Content.assemble(("you › ", "bold $text-accent"), text))


class AssistantTurn(Static):
    """The answer as it streams, then as it was heard."""

    def __init__(self, turn_id: int) -> None:
        super().__init__(classes="turn assistant-turn")
        self.turn_id = turn_id
        self.text = ""
        self.heard_text: str | None = None
        self.interrupted = False
        self.cancelled = False
        self.failed: str | None = None  # why there is no (whole) answer
        self.capped = False  # the model stopped it at llm.max_tokens
        # the lines of the answer already final, so a token re-wraps only the last one
        self._wrap = WrapCache()
        # (width, height) when last laid out; None: not known
        self._lines: tuple[int, int] | None = None
        # a cut answer: whether its mark, drawn on one line with the answer, would split,
        # by width, for the text it was found for (``_mark_splits``)
        self._splits_at: dict[int, bool] = {}
        self._splits_for = ""
        self.update(self.render_content())

    def reset(self) -> None:
        """A restarted (preemptive) answer replaces the old one rather than appending to it."""
        self.text = ""
        self.cancelled = False
        self.heard_text = None
        self.interrupted = False
        self._render_text()

    def append(self, text: str) -> None:
        self.text += text
        self._render_text()

    def set_cancelled(self) -> None:
        self.cancelled = True
        self._render_text()

    def set_failed(self, message: str) -> None:
        """The answer failed: said here for good, since the notice goes after seconds and a
        typing-only session has no spoken error line."""
        self.failed = message
        self._render_text()

    def set_capped(self) -> None:
        """The model stopped the answer at llm.max_tokens: said where it stops, since the
        notice goes after seconds and the answer then read as whole, mid-sentence."""
        self.capped = True
        self._render_text()

    def set_played(self, heard_text: str, interrupted: bool) -> None:
        self.heard_text = heard_text
        self.interrupted = interrupted
        self._render_text()

    @property
    def display_text(self) -> str:
        """Plain text as shown (tests and copy/paste)."""
        return self.render_content().plain

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text: Textual takes it only from a ``Content``, and a streaming
        answer is drawn by ``GrowingText`` until it has been heard (all the time it is
        spoken), so a selection in it copied nothing."""
        return selection.extract(self.display_text), "\n"

    def _cut_parts(self) -> tuple[str, str] | None:
        """A cut answer's words heard and those struck after the mark; None if not cut."""
        if not self.interrupted or self.heard_text is None:
            return None
        heard = self.heard_text.rstrip()
        rest = self.text[len(self.heard_text) :] if self.text.startswith(heard) else ""
        return heard, rest.strip()

    def _mark_splits(self, width: int) -> bool:
        """Whether the cut answer drawn at ``width`` on one line with its mark would break
        "✂ cut here" between two lines; kept by width while the text stays the same, so a
        window dragged back and forth finds each width once."""
        parts = self._cut_parts()
        if parts is None or not width:
            return False
        plain = PREFIX + parts[0] + CUT_MARKER + parts[1]
        if plain != self._splits_for:
            self._splits_for, self._splits_at = plain, {}
        split = self._splits_at.get(width)
        if split is None:
            split = self._splits_at[width] = _splits_the_cut_marker(plain, width)
        return split

    def render_content(self, width: int = 0, *, folded: bool = False) -> Content:
        """The answer as shown; given the ``width`` it is drawn at, a cut answer keeps its
        "✂ cut here" on one line. ``folded``: the mark starts a line whatever the width,
        as among the folded turns (``ConversationPane._fold``), drawn at every width to
        come, and as a cut answer is drawn where its mark would split (``_CutAnswerText``)."""
        prefix = (PREFIX, "bold $text-primary")
        if (parts := self._cut_parts()) is not None:
            heard, rest = parts
            if not heard and not rest:  # a new message came before any of it: a
                # "✂ cut here" with nothing either side of it said nothing
                return Content.assemble(prefix, (STOPPED_BEFORE_IT_BEGAN, "$foreground-muted"))
            content = Content.assemble(
                prefix,
                heard,
                (CUT_MARKER, "bold $warning"),
                (rest, "$foreground-muted strike"),
            )
            if folded or self._mark_splits(width):
                # Textual wraps at every space, a no-break one too, and has no span kept
                # whole: "✂" ended one line and "cut here" began the next, read as words of
                # the answer. The mark starts a line instead.
                content = Content.assemble(
                    prefix,
                    heard,
                    ("\n" + CUT_MARKER.lstrip(), "bold $warning"),
                    (rest, "$foreground-muted strike"),
                )
            return content
        text = self.heard_text if self.heard_text else self.text
        if self.failed is not None:
            gap = " " if text else ""
            return Content.assemble(prefix, text, (f"{gap}✗ {self.failed}", "$error"))
        if self.cancelled and not self.heard_text:
            return Content.assemble(
                prefix, (text, "$foreground-muted"), (" (cancelled)", "$foreground-muted")
            )
        if self.capped:
            return Content.assemble(prefix, text.rstrip(), (LENGTH_NOTE, "$warning"))
        return Content.assemble(prefix, text or ("…", "$foreground-muted"))

    def _render_text(self) -> None:
        self.set_class(self.cancelled and not self.heard_text, "cancelled")
        growing = (
            self.heard_text is None
            and self.failed is None
            and not self.cancelled
            and not self.capped
        )
        if not growing:
            # drawn as any other text (an earlier turn of a resumed conversation never
            # grows: nothing kept would be used again)
            self._lines = None
            inline = self.render_content()
            own_line = self.render_content(folded=True)
            if own_line.plain == inline.plain:  # not cut, or nothing of it came
                self.update(inline)
            else:
                self.update(_CutAnswerText(inline, own_line, self._mark_splits))
            return
        content = self.render_content()
        # A layout pass arranges every widget on the screen, each turn of the conversation,
        # on the loop the engine shares: a token asks for one only when it adds a line.
        # (the height is for a width: a resize between two tokens lays it out again)
        visual = GrowingText(content, self._wrap)
        width = self.content_region.width
        # self.styles answers get() as the RulesMap it stands for: Textual's own Widget
        # passes it to Visual.get_height the same way
        height = visual.get_height(self.styles, width) if width > 0 else 0  # type: ignore[arg-type]
        lines = (width, height) if width > 0 else None
        self.update(visual, layout=lines is None or lines != self._lines)
        self._lines = lines


class _CutAnswerText(WidthText):
    """A cut answer, its mark on one line at every width it is laid out at.

    Where "✂ cut here" may start a line depends on the width. Placed by the widget at each
    resize, every cut answer was drawn again and the screen laid out once more after the
    resize's own pass (300 of them: ~0.9 s a resize against ~0.6 s uncut, a busy 2-core
    machine). The text picks its form for the width it is asked for, in the resize's own
    layout pass (``get_height``) and drawing: nothing is drawn twice."""

    def __init__(self, inline: Content, own_line: Content, splits: Callable[[int], bool]) -> None:
        super().__init__(inline)  # the mark within its line
        self.own_line = own_line  # the mark starting a line
        self.splits = splits  # whether the inline form breaks the mark at a wrap width

    def _at(self, width: int) -> Content:
        return self.own_line if self.splits(width) else self.content


def _splits_the_cut_marker(plain: str, width: int) -> bool:
    """Whether ``plain`` wrapped to ``width`` breaks "✂ cut here" between two lines,
    where a line of its own would hold it (0: the width is not known yet).

    Only the paragraph the mark is in is broken into lines, as Content breaks it, and no
    styled lines are made of it: this runs for every cut answer at each new width."""
    mark = CUT_MARKER.strip()
    at = plain.find(mark)
    if width < len(mark) or at < 0:
        return False
    start = plain.rfind("\n", 0, at) + 1
    end = plain.find("\n", at)
    line = plain[start : len(plain) if end < 0 else end]
    if "\t" in line:  # Content breaks it with its tabs expanded: as it does, then
        return not any(mark in part.plain for part in Content(plain).wrap(width))
    at -= start
    return any(at < cut < at + len(mark) for cut in divide_line(line, width, fold=True))


class NoticeLine(Static):
    """A warning, an error or kept information in the conversation (see
    ``ConversationPane._keep_notice``)."""

    def __init__(self, notice: ev.Notice) -> None:
        mark, colour = {"error": ("✖", "$error"), "info": ("ℹ", "$primary")}.get(
            notice.level, ("⚠", "$warning")
        )
        super().__init__(
            # a path quoted wider than the line is folded after a "/" (``PATH_BREAKS``), as
            # the settings dialog folds its own: Textual folded it wherever the line ran out,
            # mid-name, or with the "," after it starting the next line
            FoldedText(
                # a tool server's stderr, quoted in its warning, may hold a terminal's codes
                Content.assemble(
                    (f"{mark} ", colour), (visible_controls(notice.message), "$foreground-muted")
                ),
                glued=len(mark) + 1,
                breaks=PATH_BREAKS,
            ),
            classes="turn notice-line",
        )
        self.said = (notice.level, notice.message)


class ToolCard(Static):
    """A compact inline card for one tool call; the tool pane has the details.

    ``status`` "earlier": a call of a resumed conversation; the tool pane has its result."""

    def __init__(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        call_id: str = "",
        status: str = "running",
        turn_id: int | None = None,
    ) -> None:
        super().__init__(classes=f"tool-card {status}")
        self.call_id = call_id
        self.turn_id = turn_id
        self.name_ = name
        self.arguments = arguments
        self.status = status
        self.detail = ""
        self._show()

    def progress(self, event: ev.ToolCallProgress) -> None:
        bits = []
        if event.progress is not None and event.total:
            bits.append(f"{event.progress / event.total:.0%}")
        if event.message:
            bits.append(event.message)
        self.detail = " ".join(bits)
        self._show()

    def finish(self, event: ev.ToolCallFinished) -> None:
        self.status = "cancelled" if event.cancelled else "error" if event.is_error else "done"
        # (the summary is the result's first line: what a program wrote for a terminal too)
        spoken = visible_controls(without_sdk_prefix(event.spoken_summary, is_error=event.is_error))
        self.detail = f"{event.duration_s:.2f}s · {spoken}".rstrip(" ·")
        self.set_classes(f"tool-card {self.status}")
        self._show()

    def _show(self) -> None:
        icon, style = CARD_LOOK[self.status]
        args = short_args(self.arguments)
        running = ("  running…", "italic $foreground-muted") if self.status == "running" else ""
        content = Content.assemble(
            (f"{icon} ", style),
            (self.name_, "bold"),
            # a space, not "name(args)": lines wrap only at spaces, so as one token the
            # two were folded mid-word wherever they did not fit on a line together
            # no "()" for a call without arguments: the Tools pane says "no arguments"
            (f" ({args})" if args else "", "$foreground-muted"),
            f"  {self.detail}" if self.detail else running,
        )
        self.update(FoldedText(content, glued=len(icon) + 1))


def _failure(record: dict[str, Any]) -> str | None:
    """Why a finished turn got no whole answer, from its metrics record; None when it got
    one. An error alone is not enough: speech-to-text can fail on one pause of a turn that
    the next pause's words still got answered in full, or that the person cut short."""
    error = record.get("error")
    if not error or record.get("interrupted"):
        return None
    if record.get("failed"):  # cut off, though all that came of it may have been heard
        return error_said(record)
    whole = record.get("assistant_text") or ""
    return None if whole and record.get("heard_text") == whole else error_said(record)


def _earlier_turns(count: int) -> str:
    return f"{count} earlier turn{'s' if count != 1 else ''}"


def _note(text: str, *, classes: str = "") -> Static:
    return Static(
        Content.styled(text, "$foreground-muted italic"), classes=f"turn earlier-note {classes}"
    )


def _past_turn(turn: ev.PastTurn) -> list[Static]:
    """One earlier turn as the live one looked when it was over: the person's words, the
    tools called, and the answer as heard (cut where it was cut); words alone when no
    answer was heard."""
    shown: list[Static] = []
    if turn.user_text:  # a follow-up with background tool results has none
        shown.append(UserTurn(turn.turn_id, turn.user_text, provisional=False))
    shown += [ToolCard(call.name, call.arguments, status="earlier") for call in turn.tool_calls]
    if turn.heard_text is not None:
        answer = AssistantTurn(turn.turn_id)
        answer.text = turn.assistant_text
        answer.set_played(turn.heard_text, turn.interrupted)
        if turn.failed is not None:  # as the live turn said it
            answer.set_failed(turn.failed)
        elif turn.capped:
            answer.set_capped()
        shown.append(answer)
    return shown


STARTING_HINT = "Starting the conversation: connecting and loading the speech models…"


def opening_hint(mode: str) -> Content:
    """What to do first, in the mode the conversation is in: "just talk" was shown in
    push-to-talk too, where talking does nothing until space opens the microphone."""
    text = (
        "Press space to talk (push-to-talk), h for hands-free, or t to type."
        if mode == "push-to-talk"
        else "Just talk (hands-free), tap space for push-to-talk, or press t to type."
    )
    return Content.styled(text, "$foreground-muted italic")


class ConversationPane(VerticalScroll):
    """The scrolling transcript of the conversation."""

    DEFAULT_CLASSES = "pane"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Conversation"
        self.users: dict[int, UserTurn] = {}
        self.assistants: dict[int, AssistantTurn] = {}
        self.cards: dict[str, ToolCard] = {}
        self._tools_since_request: set[int] = set()
        self._following = True  # the newest text is kept in view (see release_anchor)
        # live turns in the order they were first shown, each with its widgets (pruned
        # beyond MAX_TURNS_SHOWN); the note above them counts the ones no longer shown
        self._live: dict[int, list[Static]] = {}
        # warnings shown while no live turn is (at the start): they go with the next turn
        # to be shown, as a turn of their own they were counted among the turns shown
        self._unplaced: list[Static] = []
        # turns folded out of the live ones (see _fold): the last block's text, turn by turn
        self._folded: list[Content] = []
        self._fold_block: Static | None = None
        self._way_in = "starting"  # how a question is asked: see set_way_in

    def set_way_in(self, way_in: str) -> None:
        """How the person asks now (a key of ASK_AGAIN): the note under a resumed question
        nothing answered says how to ask it again, and follows the mode as it changes."""
        if way_in == self._way_in:
            return
        self._way_in = way_in
        for note in self.query(".unanswered-note").results(Static):
            note.update(Content.styled(unanswered_note(way_in), "$foreground-muted italic"))

    # ---------------------------------------------------------------- event handling
    def handle(self, event: ev.Event) -> None:
        """Apply one engine event (events this pane does not show are ignored)."""
        if isinstance(event, ev.TranscriptInterim):
            self._user(event.turn_id, event.text, provisional=True)
        elif isinstance(event, ev.TranscriptFinal):
            self._user(event.turn_id, event.text, provisional=False)
        elif isinstance(event, ev.TurnEnded):
            if event.text:
                self._user(event.turn_id, event.text, provisional=False)
        elif isinstance(event, ev.TurnMerged):
            self._withdraw(event.turn_id)
        elif isinstance(event, ev.ConversationResumed):
            self._show_earlier(event)
        elif isinstance(event, ev.LLMRequest):
            if event.kind == "turn" and event.turn_id not in self._tools_since_request:
                turn = self.assistants.get(event.turn_id)
                if turn is not None:
                    turn.reset()
            self._tools_since_request.discard(event.turn_id)
        elif isinstance(event, ev.AssistantDelta):
            self._assistant(event.turn_id).append(event.text)
        elif isinstance(event, ev.LLMDone):
            turn = self.assistants.get(event.turn_id)
            if event.cancelled and turn is not None and turn.heard_text is None:
                turn.set_cancelled()
        elif isinstance(event, ev.PlaybackEnded):
            turn = self.assistants.get(event.turn_id)
            if turn is None and (event.heard_text or event.interrupted):
                turn = self._assistant(event.turn_id)
            if turn is not None:
                turn.set_played(event.heard_text, event.interrupted)
        elif isinstance(event, ev.TurnMetrics):
            if failure := _failure(event.record):
                self._assistant(event.turn_id).set_failed(failure)
            elif answer_cut(event.record) == "length" and event.turn_id in self.assistants:
                self.assistants[event.turn_id].set_capped()
            # shown only where the timings pane has no room (voicedesk.tcss: #main.-narrow)
            line = Content.styled(
                f"⏱ {timings_line(event.record, compact=True)}", "$foreground-muted"
            )
            self._mount(Static(line, classes="turn timing-line"), event.turn_id)
            self._prune()
        elif isinstance(event, ev.ToolCallStarted):
            self._tools_since_request.add(event.turn_id)
            card = ToolCard(
                event.name, event.arguments, call_id=event.call_id, turn_id=event.turn_id
            )
            self.cards[event.call_id] = card
            self._mount(card, event.turn_id)
        elif isinstance(event, ev.ToolCallProgress):
            if event.call_id in self.cards:
                self.cards[event.call_id].progress(event)
        elif isinstance(event, ev.ToolCallFinished) and event.call_id in self.cards:
            self.cards[event.call_id].finish(event)
        elif isinstance(event, ev.Notice):
            if not self._keep_notice(event):
                return
        else:
            return
        self._follow()

    def _keep_notice(self, notice: ev.Notice) -> bool:
        """A warning or an error stays in the conversation where it came: as a toast alone
        it was gone in 5 or 10 s, and a person who looked away never read that the session
        log had stopped being written or that a tool server had failed. Not one the turn it
        is about shows itself (its answer marked failed, or cut at the length limit), nor
        mere information. Kept with the latest turn, and pruned with it. One said again
        (the microphone's zeros each time its mute switch is on again) is moved to where
        it was said last: added each time, the same words stood between turn after turn.
        Not while the person has scrolled up to read: the lines they read would move."""
        if (notice.level == "info" and not notice.kept) or notice.turn_id is not None:
            return False
        line = NoticeLine(notice)
        for earlier in self.query(NoticeLine) if self._following else ():
            if earlier.said == line.said:
                self._forget_notice(earlier)
        # the opening hint stays: a warning at the start is no turn begun
        self._place_notices([line])
        self.mount(line)
        return True

    def _forget_notice(self, line: NoticeLine) -> None:
        line.remove()
        for shown in [self._unplaced, *self._live.values()]:
            if line in shown:
                shown.remove(line)

    def _place_notices(self, lines: list[Static]) -> None:
        """Keep notice ``lines`` with the latest live turn (pruned with it), or until the
        next turn is shown when there is none."""
        latest = next(reversed(self._live), None)
        (self._unplaced if latest is None else self._live[latest]).extend(lines)

    def _user(self, turn_id: int, text: str, *, provisional: bool) -> None:
        turn = self.users.get(turn_id)
        if turn is None:
            turn = UserTurn(turn_id, text, provisional=provisional)
            self.users[turn_id] = turn
            self._mount(turn, turn_id)
        elif not (provisional and not turn.provisional):  # an interim never undoes a final
            turn.set_text(text, provisional=provisional)
        if not provisional:
            self._drop_taken_back(turn)

    def _drop_taken_back(self, turn: UserTurn) -> None:
        """The person went on before hearing any answer: the engine continues the turn under
        a new id, so the earlier, shorter copy and its unheard answer are removed."""
        earlier = [t for t in self.users if t < turn.turn_id]
        if not earlier:
            return
        prev = self.users[max(earlier)]
        answer = self.assistants.get(prev.turn_id)
        unheard = answer is None or answer.heard_text is None  # never played
        if unheard and prev.text and turn.text.startswith(prev.text) and turn.text != prev.text:
            del self.users[prev.turn_id]
            self._unmount(prev)
            if answer is not None:
                del self.assistants[prev.turn_id]
                self._unmount(answer)

    def _withdraw(self, turn_id: int) -> None:
        """The engine took a turn back (the person went on talking): drop it and its answer."""
        user = self.users.pop(turn_id, None)
        if user is not None:
            self._unmount(user)
        answer = self.assistants.pop(turn_id, None)
        if answer is not None:
            self._unmount(answer)

    def _show_earlier(self, event: ev.ConversationResumed) -> None:
        """The turns a resumed conversation continues, so the person sees what they said
        before; above the opening hint, which still holds for what comes next."""
        shown: list[Static] = []
        if event.not_shown:
            shown.append(_note(f"… {_earlier_turns(event.not_shown)} not shown"))
        folded_end = len(shown)  # the summary note goes after the last summarised turn
        for turn in event.turns:
            shown += _past_turn(turn)
            if turn.summarised:
                folded_end = len(shown)
        last = event.turns[-1] if event.turns else None
        if last is not None and last.user_text and last.heard_text is None:
            shown.append(_note(unanswered_note(self._way_in), classes="unanswered-note"))
        if event.summarised:
            note = f"↑ {_earlier_turns(event.summarised)} summarised for the assistant"
            shown.insert(folded_end, _note(note))
        shown.append(Static(RESUMED_DIVIDER, classes="resumed-divider"))
        hints = self.query("#conversation-hint")
        self.mount_all(shown, before=hints.first() if hints else None)

    def _assistant(self, turn_id: int) -> AssistantTurn:
        turn = self.assistants.get(turn_id)
        if turn is None:
            turn = AssistantTurn(turn_id)
            self.assistants[turn_id] = turn
            self._mount(turn, turn_id)
        return turn

    def compose(self) -> ComposeResult:
        # Until the session has started no mode is in effect, and on a machine without a
        # microphone it never will be: "Just talk (hands-free)" stood here for those seconds.
        # The app puts the mode's own hint in once the conversation runs.
        yield Static(
            Content.styled(STARTING_HINT, "$foreground-muted italic"), id="conversation-hint"
        )

    def set_hint(self, content: Content) -> None:
        """Replace the opening hint (while no turn has been shown), e.g. when the
        conversation could not start and "just talk" would be wrong."""
        for hint in self.query("#conversation-hint").results(Static):
            hint.update(content)

    def _mount(self, widget: Static, turn_id: int) -> None:
        for hint in self.query("#conversation-hint"):
            hint.remove()
        if turn_id not in self._live:
            self._live[turn_id], self._unplaced = self._unplaced, []
        self._live[turn_id].append(widget)
        self.mount(widget)

    def _unmount(self, widget: UserTurn | AssistantTurn) -> None:
        """Remove a live turn's widget, and the turn from the count once nothing of it is
        left but notices: those stay on screen, kept with the turn before (or the next)."""
        widget.remove()
        shown = self._live.get(widget.turn_id, [])
        if widget in shown:
            shown.remove(widget)
        if all(w.has_class("notice-line") for w in shown):
            self._live.pop(widget.turn_id, None)
            self._place_notices(shown)

    def _prune(self) -> None:
        """Keep the last :data:`MAX_TURNS_SHOWN` turns live, folding older ones (:meth:`_fold`).

        Not while the person has scrolled up to read: the lines they read would move."""
        if not self._following:
            return
        while len(self._live) > MAX_TURNS_SHOWN:
            turn_id = next(iter(self._live))
            widgets = self._live.pop(turn_id)
            self._fold(widgets)
            for widget in widgets:
                widget.remove()
            if self.users.get(turn_id) in widgets:
                del self.users[turn_id]
            if self.assistants.get(turn_id) in widgets:
                del self.assistants[turn_id]
            for call_id in [c for c, card in self.cards.items() if card in widgets]:
                del self.cards[call_id]

    def _fold(self, widgets: list[Static]) -> None:
        """Add one turn, as it was drawn, to the block of folded turns above the live ones.

        Turns beyond MAX_TURNS_SHOWN were dropped, with a note that the session log had
        them: after an hour's talk, what the assistant said at its start could not be
        scrolled back to. A block is replaced by a new one when full, so a turn costs the
        same at the thousandth as at the fiftieth: one block's text, not the whole day's."""
        parts = []
        for widget in widgets:
            if widget.has_class("timing-line"):
                continue  # drawn only in a narrow window; the timings pane has them
            # an answer never heard (typed, no audio) is drawn by GrowingText still
            if isinstance(widget, AssistantTurn):
                # The block is one text re-wrapped at every width to come: a cut answer's
                # mark found whole at the width it was folded at split at another, "✂"
                # ending a line and "cut here" read as the next line's first words.
                text = widget.render_content(folded=True)
            else:
                content = widget.content
                text = content if isinstance(content, Content) else Content(str(content))
            parts.append(Content("  ").append(text) if isinstance(widget, ToolCard) else text)
        if not parts:
            return
        if self._fold_block is None or len(self._folded) >= FOLDED_PER_BLOCK:
            self._folded = []
            block = Static(classes="turn earlier-turns")
            # after the blocks before it (or the resumed turns), before the live turns
            self.mount(block, before=widgets[0])
            self._fold_block = block
        self._folded.append(Content("\n").join(parts))
        self._fold_block.update(Content("\n\n").join(self._folded))

    # ---------------------------------------------------------------- following the end
    # Whether the newest text is followed is decided by what the person did, never by the
    # scroll position alone: a resize re-wraps every turn and moves the bottom away from an
    # unchanged offset, which looked like scrolling up and stopped the pane following.
    def release_anchor(self) -> None:
        """Textual calls this for every scroll the person makes (keys, wheel, scrollbar)."""
        super().release_anchor()
        self._following = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value >= self.max_scroll_y:  # back at the bottom (End, or scrolled down)
            self._following = True

    def on_resize(self, event: events.Resize) -> None:
        """Turns re-wrap to the new width: stay at the bottom if that is where the person was."""
        if self._following:
            self.call_after_refresh(self.scroll_end, animate=False)

    def _follow(self) -> None:
        """Keep the newest text in view unless the person has scrolled up to read."""
        if self._following or self.max_scroll_y <= 0:  # all of it fit: nothing was scrolled
            self._following = True
            self.call_after_refresh(self.scroll_end, animate=False)
