"""The voicedesk terminal UI.

The app owns no engine logic: it builds a session through a factory, subscribes to its
:class:`EventBus` and turns keys into :class:`SessionControl` calls. The bus calls
subscribers inline on the engine's hot path, so the subscriber here only posts a Textual
message; all widget work happens later in the app's own message handling (a tool call's
progress at most every PROGRESS_SHOWN_EVERY_S).

The talk key is a toggle (tap to open the mic, tap again to send) unless the terminal can
report key release: then it is hold-to-talk (see :mod:`voicedesk.tui.keyboard`). An optional
system-wide hotkey (:mod:`voicedesk.tui.global_hotkey`) toggles it from other windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult, ScreenStackError, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.constants import DEFAULT_THEME
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.driver import Driver
from textual.geometry import Size
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import Reactive
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Input

from voicedesk import events as ev
from voicedesk.config import Settings, data_dir, default_config_path
from voicedesk.config_secrets import hide_in_message
from voicedesk.engine.api import Mode, SessionControl
from voicedesk.engine.heap import freeze_startup_heap
from voicedesk.errors import UserError
from voicedesk.tui.audio_check import AudioCheckScreen
from voicedesk.tui.global_hotkey import GlobalHotkey, HotkeyError
from voicedesk.tui.keyboard import (
    TALK_KEY,
    KeyReleaseSupport,
    TalkKeyReleased,
    TalkMode,
    base_key,
    choose_talk_mode,
    driver_class_for,
)
from voicedesk.tui.screens import (
    ContextScreen,
    DevicesScreen,
    ErrorScreen,
    HelpScreen,
    SettingsScreen,
    SetupScreen,
    ToolDetailScreen,
    cannot_save,
)
from voicedesk.tui.textual_fixes import release_removed_widgets_drawing
from voicedesk.tui.themes import unknown_theme
from voicedesk.tui.widgets.conversation import ConversationPane, opening_hint
from voicedesk.tui.widgets.footer import AppFooter
from voicedesk.tui.widgets.message_input import MessageInput
from voicedesk.tui.widgets.status import StatusBar
from voicedesk.tui.widgets.timings import TimingsPane
from voicedesk.tui.widgets.tools import ToolPane
from voicedesk.tui.widgets.visible import visible_controls

log = logging.getLogger(__name__)

SessionFactory = Callable[[ev.EventBus], Awaitable[SessionControl]]
STOP_TIMEOUT_S = 5.0
# A tool call's progress is shown at most this often (App._on_bus_event): ten times a
# second reads as live, and a tool reporting every step cost a draw per step.
PROGRESS_SHOWN_EVERY_S = 0.1
SESSION_ACTIONS = frozenset(
    {"ptt", "talk_hold", "hands_free", "mute", "unmute", "interrupt", "type", "audio_check"}
)
# Over a dialog these do nothing and are not shown; interrupting the answer and quitting
# still work (``screens._Dialog``), and ? closes the help, not opens it.
DIALOG_HIDDEN = (SESSION_ACTIONS - {"interrupt"}) | {"help"}
# Without a microphone (typing only) these have nothing to act on: hidden, so the footer
# leads with typing and space goes to the text box.
MICROPHONE_ACTIONS = frozenset({"ptt", "talk_hold", "hands_free", "mute", "unmute", "audio_check"})
# Layout by terminal width (columns). At 80 everything fits with the compact footer; below
# that the command palette hint goes, then the side panel (the conversation needs the room
# more than the tools and timings, which also show as cards in it), then two footer keys,
# then Type (the text box's hint says "press t"), so Quit and Help fit in 40 columns.
COMPACT_FOOTER_BELOW = 100
FOOTER_PALETTE_FROM = 80
SIDE_PANEL_FROM = 72
FOOTER_ALL_KEYS_FROM = 70
FOOTER_TYPE_KEY_FROM = 46
# In the text box its footer ("⏎ Send esc Leave box ^q Quit", 28 cells) lost Quit off the
# edge below 30 columns ("^q Q" at 25, nothing at 20): Send goes first (the box's own hint
# says "Enter sends" at every width), then Leave box, so Quit fits in 20 columns.
# The microphone's keys, likewise: with them "space Hold to talk m Unmute ? Help q Quit" is
# 41 cells ("space Talk/send m Mute …" 36), and Quit, then Help, went off the edge below
# that (Quit at 29-35 columns, both below 29). Mute goes first, then the talk key; the
# help lists both and both keep working.
FOOTER_MUTE_KEY_FROM = 42
FOOTER_TALK_KEY_FROM = 33
FOOTER_SEND_KEY_FROM = 30
FOOTER_LEAVE_KEY_FROM = 22
# Below this the status bar keeps its mode, state and level: the context size after them
# was cut by the screen's edge, "ct" or "ctx 1.8k/6" (the `s` dialog has it whole).
STATUS_CONTEXT_FROM = 60
# Below these a toast (half the width, as tall as its words) covered the conversation: it
# is cut to a few full-width lines, and every notice is kept in the conversation whole.
ROOMY_FROM = (60, 16)  # (columns, rows)
AUDIO_CHECK_MARKER = "audio-check-done"  # in the data dir: the first-run check has been shown


def _cramped_at(size: Size) -> bool:
    columns, rows = ROOMY_FROM
    return size.width < columns or size.height < rows


def _put_back(message: Input.Submitted) -> None:
    """A line not sent goes back in the box it emptied, the cursor at its end: left at the
    start, what was typed next went before it ("hello moon" then " again" made
    "againhello moon")."""
    box = message.input
    if not box.value:  # nothing typed since it was emptied
        box.value = message.value
        box.cursor_position = len(box.value)


class GlobalHotkeyPressed(Message):
    """Posted from pynput's thread when the system-wide hotkey fires."""


class EngineEvent(Message):
    """An engine event handed from the bus to the app's message queue."""

    def __init__(self, event: ev.Event) -> None:
        super().__init__()
        self.event = event


class VoiceDeskApp(App[int]):
    """Conversation, tool activity, timings and status for one voice session."""

    CSS_PATH = "voicedesk.tcss"
    TITLE = "voicedesk"
    AUTO_FOCUS = "#conversation"
    # Every pick of a theme is told (theme_changed_signal, which ``_keep_theme`` saves),
    # the one in use too: with an unknown ui.theme the app is on its default, and picking
    # that default, as the start-up warning invites, changed nothing, so it was never
    # saved and the warning came back at every start.
    theme: Reactive[str] = Reactive(DEFAULT_THEME, always_update=True)

    # Two bindings share the talk key; check_action enables the one for the current mode,
    # so the footer reads "Hold to talk" or "Talk/send" (the palette always toggles).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(TALK_KEY, "talk_hold", "Hold to talk"),
        Binding(TALK_KEY, "ptt", "Talk/send"),
        Binding("h", "hands_free", "Hands-free"),
        # m toggles; the footer names what it does now: "Mute" stood there while muted
        Binding("m", "mute", "Mute"),
        Binding("m", "unmute", "Unmute"),
        Binding("i", "interrupt", "Stop"),
        Binding("escape", "interrupt", "Interrupt", show=False),
        Binding("t", "type", "Type"),
        Binding("ctrl+s", "settings", "Settings", show=False),
        Binding("d", "devices", "Devices", show=False),
        Binding("s", "context", "Context", show=False),
        Binding("c", "audio_check", "Mic check", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        # A terminal program quits on ctrl+c (Textual only says "press ctrl+q"); in the text
        # box ctrl+c still copies.
        Binding("ctrl+c", "copy_or_quit", "Quit", show=False),
    ]

    def __init__(
        self,
        settings: Settings,
        make_session: SessionFactory | None,
        *,
        demo: bool = False,
        log_path: Path | None = None,
        config_path: Path | None = None,
        simulated: bool = False,
        freeze_heap: bool = False,
        start_warnings: Sequence[str] = (),
    ) -> None:
        """``freeze_heap``: once the conversation has started, set what the process holds
        aside from garbage collection (:func:`freeze_startup_heap`); the command sets it,
        tests of a process that lives on do not. ``start_warnings``: what the command
        warned of before the screen was taken (an unknown VOICEDESK_ variable), shown as
        the session's start-up warnings are: written on the terminal, they were hidden
        under the screen until the person quit."""
        super().__init__()
        release_removed_widgets_drawing()  # a long conversation removes widgets all along
        self.settings = settings
        self.make_session = make_session
        self.context_state: tuple[str | None, int, int] = (
            None,
            0,
            settings.context.budget_tokens,
        )
        self.demo = demo
        self.freeze_heap = freeze_heap
        self.simulated = simulated or demo
        self.log_path = log_path
        self.config_path = config_path or settings.source or default_config_path()
        self.bus = ev.EventBus()
        self.session: SessionControl | None = None
        self.ptt_open = False
        self.start_error: BaseException | None = None
        # Set once the start is over and settled: with a running conversation, the line
        # sent while it started has gone and the focus is back on the conversation (its
        # has_focus and keys in effect); on a failure, once it is said. Whoever waits on it
        # (the tests, a key pressed next) finds the app as it stays, not half handed over:
        # set as the start ended, a key pressed at once raced the focus going back.
        self.started = asyncio.Event()
        self._start_over = False  # the start has ended (failed or not): lines go now
        self._conversation_running = False  # the session has started (a mode is in effect)
        self._unsubscribe: list[Callable[[], None]] = []
        # tool calls' progress, shown at most every PROGRESS_SHOWN_EVERY_S (_on_bus_event):
        # the latest report not yet shown, and when each call's was last shown
        self._progress_latest: dict[str, ev.ToolCallProgress] = {}
        self._progress_shown_at: dict[str, float] = {}
        self._stopped = False
        # talk key: "toggle" until the terminal proves it reports key release
        self.talk_mode: TalkMode = "toggle"
        self._held = False  # the mic was opened by a talk-key press that has not come up yet
        self._held_toasts: list[Callable[[], None]] = []  # notify(): until the dialog closes
        # typing only began under a dialog: the text box takes the focus as it closes
        self._text_box_after_dialog = False
        # the line Enter sent from the text box before the start ended; it goes once the
        # start is over if the box still holds it as sent
        self._line_sent_while_starting: str | None = None
        self._told_still_starting = False  # space, the talk key, pressed in the box at start
        # the start has given the conversation back its keys (_hand_back) and is not yet
        # settled: keys still on their way through the text box are the conversation's
        self._handing_back = False
        self._footer_muted = False  # what the footer's m key was last said to do
        # why a WAV microphone last waited ("muted", "closed"), or "" (it plays, or none)
        self._recording_waits_for = ""
        self.input_device: str | None = None  # from AudioInfo: "file" for a WAV
        self.output_device: str | None = None
        self.echo_cancellation = False
        self._audio_check: AudioCheckScreen | None = None
        self._muted_before_check = False
        self._first_run_check_done = False
        self.global_hotkey: GlobalHotkey | None = None
        self.start_warnings = tuple(start_warnings)

    # ------------------------------------------------------------------ terminal driver
    def get_driver_class(self) -> type[Driver]:
        """Textual's own driver, with the key-release probe where Textual uses LinuxDriver."""
        return driver_class_for(super().get_driver_class())

    @property
    def wants_key_release(self) -> bool:
        """Read by the driver at start: with ``toggle`` it does not even probe the terminal."""
        return self.settings.ui.talk_key_mode != "toggle"

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        # Kept as attributes: while a modal is open, App.query_one would search the modal.
        tag = "demo" if self.demo else "sim" if self.simulated else ""
        self.status_bar = StatusBar(self.settings, tag=tag, id="status")
        self.conversation = ConversationPane(id="conversation")
        self.tool_pane = ToolPane(id="tools")
        self.timings = TimingsPane(id="timings")
        self.text_input = MessageInput(id="text-input", compact=True)
        self.text_input.space_when_empty = self._talk_key_while_starting
        self.text_input.key_is_elsewhere = self._key_handed_back
        yield self.status_bar
        with Horizontal(id="main") as self.main_area:
            yield self.conversation
            with Vertical(id="side"):
                yield self.tool_pane
                yield self.timings
        self.footer = AppFooter(id="footer")
        yield self.text_input
        yield self.footer

    def on_resize(self, event: events.Resize) -> None:
        """Narrower terminals shed the least needed parts, so Quit and Help always fit."""
        footer: Footer | None = getattr(self, "footer", None)  # None until composed
        if footer is None:
            return
        width = event.size.width
        footer.compact = width < COMPACT_FOOTER_BELOW
        # classes, not Footer.show_command_palette: the footer only reads that when it
        # recomposes, which a resize does not make it do
        footer.set_class(width < FOOTER_PALETTE_FROM, "-no-palette")
        footer.set_class(width < FOOTER_ALL_KEYS_FROM, "-narrow")
        footer.set_class(width < FOOTER_TYPE_KEY_FROM, "-tight")
        footer.set_class(width < FOOTER_MUTE_KEY_FROM, "-no-mute")
        footer.set_class(width < FOOTER_TALK_KEY_FROM, "-no-talk")
        footer.set_class(width < FOOTER_SEND_KEY_FROM, "-no-send")
        footer.set_class(width < FOOTER_LEAVE_KEY_FROM, "-no-leave")
        self.main_area.set_class(width < SIDE_PANEL_FROM, "-narrow")
        self.status_bar.set_class(width < STATUS_CONTEXT_FROM, "-narrow")
        # event.size: this handler runs before App's own, so self.size is still the size
        # before the resize, and a terminal shrunk from roomy to 40x10 kept its half-width
        # toasts (as one grown back kept them cut) until the next resize
        self.set_class(_cramped_at(event.size), "-cramped")

    @property
    def cramped(self) -> bool:
        """Too narrow or too short for a toast to be read beside the conversation."""
        return _cramped_at(self.size)

    def _over_a_dialog_cramped(self) -> bool:
        """A dialog is open on a terminal too small for a toast to leave it readable."""
        try:
            return self.cramped and isinstance(self.screen, ModalScreen)
        except ScreenStackError:  # not running yet
            return False

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast; over a dialog on a cramped terminal, only once the dialog closes: there
        a toast is the terminal's width and drew over the help or the settings, whose
        lines the person had opened it to read (a notice is in the conversation too)."""
        if self._over_a_dialog_cramped():
            self._held_toasts.append(
                functools.partial(
                    super().notify,
                    message,
                    title=title,
                    severity=severity,
                    timeout=timeout,
                    markup=markup,
                )
            )
            return
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def push_screen(self, *args: Any, **kwargs: Any) -> Any:
        """Toasts shown as a dialog opens on a cramped terminal go: they were drawn over it
        (Textual shows the current ones on every screen), and were seen before it opened."""
        screen = args[0] if args else kwargs.get("screen")
        if self.cramped and isinstance(screen, ModalScreen):
            self.clear_notifications()
        return super().push_screen(*args, **kwargs)

    def pop_screen(self) -> AwaitComplete:
        done = super().pop_screen()
        self.call_later(self._show_held_toasts)  # once the screen below is the one shown
        self.call_later(self._focus_text_box_after_dialog)
        return done

    def _focus_text_box_after_dialog(self) -> None:
        if self._text_box_after_dialog and not isinstance(self.screen, ModalScreen):
            self._text_box_after_dialog = False
            self.text_input.focus()

    def _show_held_toasts(self) -> None:
        if self._over_a_dialog_cramped():  # another dialog is still open
            return
        held, self._held_toasts = self._held_toasts, []
        for show in held:
            show()

    def on_mount(self) -> None:
        theme = self.settings.ui.theme
        problem = unknown_theme(theme, self.available_themes)
        if problem is None:
            self.theme = theme
        else:
            self.notify(problem, severity="warning", timeout=10)
        self.theme_changed_signal.subscribe(self, self._keep_theme)
        self._unsubscribe.append(self.bus.subscribe(self._on_bus_event))
        for warning in self.start_warnings:  # a toast, and kept in the conversation
            self.bus.publish(ev.Notice(level="warning", message=warning))
        self._refresh_mode()
        if self.needs_setup():
            self.push_screen(SetupScreen(self.config_path))
            return
        if self.settings.ui.global_hotkey.strip():
            self.run_worker(self._start_global_hotkey(), group="hotkey", exit_on_error=False)
        if self.make_session is not None:
            # Keys typed while it starts go to the text box: the conversation's keys do
            # nothing yet but say so (or open a dialog, or quit), and a line typed straight
            # after the start (a paste, tmux send-keys) came in as commands: "hello moon"
            # said "still starting" four times and "moon" was lost. Once it has started,
            # the focus goes where the session wants it (_conversation_started). At once,
            # not as focus() does, after the keys already waiting: tmux sends its keys
            # before the screen is drawn.
            self.screen.set_focus(self.text_input)
            self.run_worker(
                self._start_session(), name="session-start", group="session", exit_on_error=False
            )

    def needs_setup(self) -> bool:
        """No key and no self-hosted LLM: explain the ways forward rather than fail to connect.
        A server named by OPENAI_BASE_URL is self-hosted too, as the providers take it."""
        from voicedesk.providers.factory import custom_openai_server

        return (
            not self.simulated
            and self.make_session is not None
            and self.settings.keys.openai_api_key is None
            and not custom_openai_server(self.settings.llm.base_url)
        )

    # ------------------------------------------------------------------ session lifecycle
    async def _start_session(self) -> None:
        assert self.make_session is not None
        try:
            session = await self.make_session(self.bus)
            if session.bus is not self.bus:
                self._unsubscribe.append(session.bus.subscribe(self._on_bus_event))
            self.session = session
            self.status_bar.set_settings(session.settings)
            self._refresh_mode()
            await session.start()
            if self.freeze_heap:
                freeze_startup_heap()
            self._conversation_running = True
            self._refresh_mode()
        except asyncio.CancelledError:
            raise
        except UserError as exc:
            # Said before the session is stopped: the tool servers start beside the voice
            # services, and stopping them takes seconds (the MCP library waits 2 s for a
            # server to end on its own), which held the dialog back.
            self.start_error = exc
            self.show_error("Cannot start the conversation", exc.message, exc.hint)
            await self._abandon_session(exc.message, exc.hint)
        except Exception as exc:  # anything else: a readable line here, the traceback in the log
            log.exception("session start failed")
            self.start_error = exc
            # a library's error may quote the key it was refused with, as UserError's may
            what = hide_in_message(f"{type(exc).__name__}: {exc}")
            self.show_error("Cannot start the conversation", what, "the log file has the details")
            await self._abandon_session(what, None, more="The log file has the details.")
        finally:
            self._start_over = True
            if not self._conversation_running:  # failed (said) or cancelled: nothing to hand
                self.started.set()
        if self._conversation_running:
            self._conversation_started()
            self._settle_start()

    def _talk_key_while_starting(self) -> bool:
        """Space in the empty text box while the conversation starts with a microphone: a
        press of the talk key (push-to-talk at once), not a blank. Typed, it said nothing,
        and held down it typed a row of blanks while the person spoke to a closed
        microphone. It says the conversation is still starting (once: a held key repeats)."""
        if self.make_session is None or self._start_over or self.typing_only:
            return False
        if not self._told_still_starting:
            self._told_still_starting = True
            self._need_session()  # says "still starting"
        return True

    def _conversation_started(self) -> None:
        """A line sent while it started goes now; with a microphone, a text box that had
        the focus only for the start gives it back to the conversation, whose keys (space
        to talk) are the way in there: with nothing in it but the spaces of a talk key
        pressed too soon, which would have kept space typing blanks after the start."""
        box = self.text_input
        sent, self._line_sent_while_starting = self._line_sent_while_starting, None
        if sent is not None and box.value.strip() == sent:
            # sent here, not by the box's submit: its message reached the app after the
            # start had been said settled (_settle_start)
            box.value = ""
            if not self.typing_only:
                self._hand_back()
            self._send_line(sent)
            return
        # a line changed since it was sent (typed on: "hello" sent, then " and" of "hello
        # and what time is it") is being typed still: it waits for Enter, not sent half done
        if not self.typing_only and box.has_focus and not box.value.strip():
            box.value = ""
            self._hand_back()

    def _hand_back(self) -> None:
        """The conversation takes the focus from the text box now, not as ``focus()`` does
        (a message later, the keys waiting before it sent to the box), and a key already
        sent to the box but not yet handled there goes on to the conversation's bindings
        (``_key_handed_back``): a space pressed in the instant the start ended was typed as
        a blank into the box the focus was leaving, the person talking to a closed
        microphone. Every key pressed once the start is over does what the conversation's
        key does, as it would a moment later. The default screen's focus, not the top
        screen's: a dialog opened during the start keeps its own."""
        self._handing_back = True
        self.conversation.screen.set_focus(self.conversation)

    def _key_handed_back(self) -> bool:
        """A key reaching the text box is the conversation's: the start has handed it the
        focus (``_hand_back``) and is not yet settled."""
        box = self.text_input
        return self._handing_back and box.screen.focused is not box

    def _settle_start(self) -> None:
        """``started`` is set once the focus moved by ``_conversation_started`` has moved:
        ``focus()`` moves it a message later (after the keys already waiting, which go to
        the box they were typed in), and each widget learns it (``has_focus``) from a Blur
        or Focus event on its own queue after that. So: a callback on the app's queue
        behind the move, from it one on the text box's queue behind its Blur (and the keys
        sent to the box before it: ``_hand_back``), and from that one on the focused
        widget's queue behind its Focus."""

        def settled() -> None:
            self._handing_back = False  # every key sent to the box before has been handled
            self.started.set()

        def behind(widget: Widget | None, then: Callable[[], None]) -> Callable[[], None]:
            def step() -> None:
                if widget is None or not widget.call_later(then):  # gone, or closing
                    then()

            return step

        def behind_the_focus_events() -> None:
            # the default screen's focus, where the conversation's is: a dialog opened
            # during the start (the top screen) has its own focused widget, whose queue
            # says nothing of the conversation's Focus event
            focused = self.conversation.screen.focused
            behind(self.text_input, behind(focused, settled))()

        if not self.call_later(behind_the_focus_events):  # the app is closing
            settled()

    async def _abandon_session(
        self, message: str, hint: str | None, *, more: str = "Fix that and start voicedesk again."
    ) -> None:
        """``message`` and ``hint``: the error and its fix, kept on screen once the dialog
        is closed; the fix as a sentence of its own, not in brackets after the error (most
        have brackets of their own: "(HTTP 401) (check X (or y in the config file))")."""
        self.refresh_bindings()  # the conversation keys go from the footer (check_action)
        self.status_bar.not_started()
        fix = f"To fix it: {hint.rstrip('.')}. Then start voicedesk again." if hint else more
        # the pane's "just talk … or press t to type" would no longer be true
        self.conversation.set_hint(
            Content.styled(
                f"The conversation did not start: {message.rstrip('.')}. {fix} "
                "? shows the log file and the config path; q quits.",
                "$warning",
            )
        )
        # nor would the text box's "press t to type": it takes nothing without a session
        self.text_input.placeholder = "no conversation: see the error above"
        self.text_input.disabled = True
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.stop(), STOP_TIMEOUT_S)

    async def stop_session(self) -> None:
        """Stop the engine once (quit, or the app closing some other way)."""
        if self._stopped:
            return
        self._stopped = True
        self.workers.cancel_group(self, "session")
        session, self.session = self.session, None
        if session is not None:
            log.info("stopping the session")
            try:
                await asyncio.wait_for(session.stop(), STOP_TIMEOUT_S)
            except Exception:
                log.exception("session stop failed")
            log.info("session stopped")
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._stop_global_hotkey()

    def show_error(self, title: str, message: str, hint: str | None = None) -> None:
        self.push_screen(ErrorScreen(title, message, hint, self.log_path))

    # ------------------------------------------------------------------ events
    def _on_bus_event(self, event: ev.Event) -> None:
        """Bus subscriber: runs inline on the engine's hot path, so it only enqueues.

        A tool call's progress is shown at most every PROGRESS_SHOWN_EVERY_S, its latest
        report then: a tool that reports every step (5,000 files copied) had each drawn in
        turn, on the loop that also reads the tool server and runs the conversation, and
        the call took 7 s in the terminal UI where it took 0.8 s without it, the voice and
        the microphone waiting behind it. A report comes with a message only when none of
        its call is waiting to be shown."""
        if isinstance(event, ev.ToolCallProgress):
            waiting = event.call_id in self._progress_latest
            self._progress_latest[event.call_id] = event
            if waiting:
                return
        self.post_message(EngineEvent(event))

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, ev.ToolCallProgress):
            last = self._progress_shown_at.get(event.call_id)
            wait = 0.0 if last is None else last + PROGRESS_SHOWN_EVERY_S - time.monotonic()
            if wait > 0:
                self.set_timer(wait, partial(self._show_progress, event.call_id))
            else:
                self._show_progress(event.call_id)
            return
        if isinstance(event, ev.ToolCallFinished):  # a report still waiting is out of date
            self._progress_latest.pop(event.call_id, None)
            self._progress_shown_at.pop(event.call_id, None)
        self._apply(event)

    def _show_progress(self, call_id: str) -> None:
        """The latest progress report of ``call_id`` not yet shown, if its call is on."""
        event = self._progress_latest.pop(call_id, None)
        if event is not None:
            self._progress_shown_at[call_id] = time.monotonic()
            self._apply(event)

    def _apply(self, event: ev.Event) -> None:
        if not self.status_bar.is_attached:  # closing down: nothing left to draw on
            return
        try:
            self.apply_event(event)
        except Exception:  # a display bug must never take the conversation down
            log.exception("UI failed to show %s", type(event).__name__)

    def apply_event(self, event: ev.Event) -> None:
        status = self.status_bar
        if isinstance(event, ev.InputLevel):
            status.set_level(event.rms_dbfs, event.zero_input)
            check = self._audio_check
            # mounted, not only attached: a report between the dialog's push and its
            # compose found no meter (NoMatches, "UI failed to show InputLevel" logged)
            if check is not None and check.is_attached and check.is_mounted:
                check.on_level(event.rms_dbfs, event.zero_input)
            return
        if isinstance(event, ev.StateChanged):
            if self.start_error is not None:  # a failed start's teardown: "not started" stays
                return
            status.set_state(event.state)
            self._refresh_mode()
        elif isinstance(event, ev.ToolServersWait):
            status.set_tools_wait(event.servers)
        elif isinstance(event, ev.AudioInfo):
            if self.start_error is not None:
                # sent as the sound started, by a start that failed after it (a voice key
                # refused): handled after the failure, it put "mic file → file" back
                return
            status.set_audio(event.input_device, event.output_device, event.echo_cancellation)
            self.input_device = event.input_device
            self.output_device = event.output_device
            self.echo_cancellation = event.echo_cancellation
            if self.typing_only:
                self._start_typing_only()
            elif self._first_run_check_due(event):
                self.action_audio_check(first_run=True)
        elif isinstance(event, ev.MicrophoneEnded):
            self._microphone_ended()
        elif isinstance(event, ev.TalkKeyLetGo):
            self._talk_key_let_go()
        elif isinstance(event, ev.ContextUpdated):
            status.set_context(event.prompt_tokens, event.budget_tokens)
            self.context_state = (event.summary, event.prompt_tokens, event.budget_tokens)
            for screen in self.screen_stack:
                if isinstance(screen, ContextScreen):
                    screen.show_context(
                        summary=event.summary,
                        prompt_tokens=event.prompt_tokens,
                        budget_tokens=event.budget_tokens,
                    )
            if event.summary_made:
                self.notify("Older turns were summarised to keep the context small.")
        elif isinstance(event, ev.Notice):
            severity: dict[str, SeverityLevel] = {
                "info": "information",
                "warning": "warning",
                "error": "error",
            }
            self.notify(
                visible_controls(event.message),  # a tool server's stderr may be quoted
                severity=severity.get(event.level, "information"),
                timeout=10 if event.level == "error" else 5,
                markup=False,
            )
            if self.cramped and not event.kept:  # its toast is cut: the conversation has it
                event = dataclasses.replace(event, kept=True)
        elif isinstance(event, ev.TurnMetrics):
            self.timings.add_record(event.record)
        if isinstance(
            event,
            ev.ToolCallStarted | ev.ToolCallProgress | ev.ToolCallFinished | ev.ConversationResumed,
        ):
            self.tool_pane.handle(event)
        if isinstance(event, ev.ToolCallProgress | ev.ToolCallFinished):
            for screen in self.screen_stack:  # its detail, opened while it runs, follows it
                if isinstance(screen, ToolDetailScreen) and screen.info.call_id == event.call_id:
                    screen.show_call()
        self.conversation.handle(event)

    @property
    def typing_only(self) -> bool:
        """The session runs without a microphone (the machine has none, or the WAV file
        standing for it has been heard to its end): typed turns only."""
        return self.input_device == ev.NO_DEVICE

    def _microphone_ended(self) -> None:
        """The WAV microphone is over: typing is the only way in now. The footer went on
        offering "space Talk/send", "h Hands-free" and "m Mute" after the demo: space opened
        a microphone with nothing left in it, and said after "No words were heard … check
        the microphone (c)", where c checked the demo's files."""
        if self.start_error is not None or self.typing_only:
            return
        session = self.session
        if self.ptt_open and session is not None:
            self._held = False
            self._close_ptt(session)
        self.input_device = ev.NO_DEVICE
        self.status_bar.set_audio(ev.NO_DEVICE, self.output_device or "", self.echo_cancellation)
        self._start_typing_only()

    def _talk_key_let_go(self) -> None:
        """The engine ended the talk key's turn itself (its WAV microphone heard out): the
        key is shown up, as a release shows it, rather than held until the answer ended.

        Not when the key was pressed again meanwhile (released and pressed while this event
        was on its way: the engine has the new press): shown up then, the key was drawn
        released while held, and its release later found nothing held to send. The engine,
        called at each press and release, knows which came last."""
        session = self.session
        if session is not None and session.talk_key_down:
            return
        if self.ptt_open:
            self._held = False
            self.ptt_open = False
            self._refresh_mode()

    def _start_typing_only(self) -> None:
        spoken = self.output_device != ev.NO_DEVICE
        self.conversation.set_way_in("typing")
        self.conversation.set_hint(
            Content.styled(
                "No microphone: type a message and press Enter to send it "
                f"({'answers are spoken and shown' if spoken else 'answers are shown'}). "
                # the box has the focus, so ? typed there is a question mark: Esc first
                "Esc leaves the text box, then ? shows the keys and t comes back.",
                "$foreground-muted italic",
            )
        )
        self.refresh_bindings()
        if isinstance(self.screen, ModalScreen):
            # the dialog gave the focus back to the conversation as it closed, and what was
            # typed next (the talk keys gone) went nowhere
            self._text_box_after_dialog = True
        else:
            self.text_input.focus()

    def _refresh_mode(self, news: str = "") -> None:
        """Show the mode in effect; ``news``, the change the person just made, is said in a
        notice (with why a WAV microphone's recording waits, when it now does: one toast)."""
        if self.start_error is not None:  # the status bar says "not started" instead
            return
        if not self._conversation_running and self.make_session is not None:
            return  # starting: no mode is in effect yet (the status bar says "starting")
        session = self.session
        mode = session.mode if session is not None else self.settings.turn.mode
        muted = session.muted if session is not None else False
        if muted != self._footer_muted:  # the footer's m says "Mute" or "Unmute"
            self._footer_muted = muted
            self.refresh_bindings()
        self.status_bar.set_mode(mode, muted=muted, ptt_open=self.ptt_open)
        if not self._say_why_the_recording_waits(news) and news:
            self.notify(news, timeout=3)
        if not self.status_bar.typing_only and self.start_error is None:
            self.conversation.set_hint(opening_hint(mode))
            held = mode == "push-to-talk" and self.talk_mode == "hold"
            self.conversation.set_way_in("muted" if muted else f"{mode}-hold" if held else mode)

    def _say_why_the_recording_waits(self, news: str = "") -> bool:
        """A WAV microphone (the demo, --input) talks only while it is listened to: muted,
        or switched to push-to-talk, the demo just stopped, the status bar saying "not
        listening" or "ready", and nothing said that the recording was waiting or how to
        let it go on. The bar says "recording waits"; this says why, once each time.

        ``news`` (the mode just switched to) leads the notice, if there is one: h with the
        demo running showed two toasts, "The recording waits…" and "Push-to-talk: …", each
        naming the talk key. True if the notice was shown."""
        bar = self.status_bar
        why = ("muted" if bar.muted else "closed") if bar.recording_waits else ""
        said = bool(why) and why != self._recording_waits_for
        if said:
            if why == "muted":
                notice = "The recording waits while muted: press m to let it go on."
            elif news:  # it names the talk key already
                notice = (
                    f"{news} The recording waits: it talks only while the microphone is "
                    "open (h: hands-free)."
                )
            else:
                notice = (
                    "The recording waits: it talks only while the microphone is open "
                    f"({self.talk_hint}; h: hands-free)."
                )
            if news and why == "muted":
                notice = f"{news} {notice}"
            self.notify(notice, timeout=8)
        self._recording_waits_for = why
        return said

    def _keep_theme(self, theme: Any) -> None:
        """A theme picked in the command palette is written to ui.theme, as ctrl+s would:
        it was lost at the next start, without a word."""
        from voicedesk.config import ConfigError
        from voicedesk.tui.config_edit import apply_pair

        name = getattr(theme, "name", str(theme))
        if name == self.settings.ui.theme:
            return
        try:
            apply_pair(self.config_path, f'ui.theme = "{name}"', themes=self.available_themes)
        except ConfigError as exc:
            self.notify(
                f"Theme {name} is for this run only: it could not be saved ({exc}).",
                severity="warning",
            )
            return
        except OSError as exc:  # with what to do, as the settings screen says it
            self.notify(
                f"Theme {name} is for this run only. {cannot_save(self.config_path, exc)}",
                severity="warning",
                timeout=10,
                markup=False,
            )
            return
        self.settings.ui.theme = name
        self.notify(f"Theme {name} saved as ui.theme in {self.config_path}.", timeout=3)

    def on_tool_pane_selected(self, message: ToolPane.Selected) -> None:
        self.push_screen(ToolDetailScreen(message.info))

    # ------------------------------------------------------------------ actions
    def _need_session(self) -> SessionControl | None:
        """The session, once its start is over; else None, said in a notice.

        Not as soon as it is built: its start (the speech services connecting, the tool
        servers coming up) takes seconds more, and a message typed then was answered
        without the tools, timed on a clock not yet running (every stage 0 ms) and shown
        as "listening" once the start ended; the talk key opened a microphone not yet
        listened to."""
        if self.session is None or not self._conversation_running:
            starting = self.make_session is not None and not self._start_over
            self.notify(
                "The conversation is still starting…" if starting else "No conversation running.",
                severity="warning",
                timeout=3,
            )
            return None
        return self.session

    def action_ptt(self) -> None:
        """Tap to open the mic, tap again to end the turn (works in every mode and terminal)."""
        session = self._need_session()
        if session is None:
            return
        if self.ptt_open:
            self._held = False
            self._close_ptt(session)
        else:
            self._open_ptt(
                session, "Push-to-talk: tap space again when you have finished (h: hands-free)."
            )

    def action_talk_hold(self) -> None:
        """The talk key went down in hold mode: open the mic until it comes up again."""
        if self._held:  # a second press before the release: nothing new to do
            return
        session = self._need_session()
        if session is None:
            return
        if not self.ptt_open and not self._open_ptt(
            session, "Push-to-talk: hold space while you talk, let go to send (h: hands-free)."
        ):
            return
        self._held = True  # (already open from the palette: the release sends it)

    def on_talk_key_released(self, message: TalkKeyReleased) -> None:
        """The terminal reported the talk key's release: send the turn it opened."""
        if self.talk_mode != "hold" or base_key(message.key) != TALK_KEY:
            return
        self._release_held()

    def on_app_blur(self, event: events.AppBlur) -> None:
        """Focus left the terminal with the key down: its release will go elsewhere."""
        if self._held:
            self._release_held()

    def _release_held(self) -> None:
        if not self._held:  # e.g. the press was typed into the text box
            return
        self._held = False
        session = self.session
        if session is not None and self.ptt_open:
            self._close_ptt(session)

    def _open_ptt(self, session: SessionControl, hint: str) -> bool:
        if self.typing_only:  # e.g. the global hotkey, which no binding check stops
            self.notify("There is no microphone: type your message instead.", timeout=3)
            return False
        if session.muted:
            self.notify("The microphone is muted: press m to unmute.", severity="warning")
            return False
        if session.mode != "push-to-talk":
            session.set_mode("push-to-talk", talk_key=True)  # words under way go on
            self.notify(hint)
        self.ptt_open = True
        session.ptt_press()
        self._refresh_mode()
        return True

    def _let_go_of_ptt(self, session: SessionControl) -> None:
        """A push-to-talk microphone left open (tapped, or held) closed before what changes
        the mode or mutes, the key no longer held: the turn it opened ends now. The caller
        refreshes the mode shown, once, when its own change is made."""
        if self.ptt_open:
            self._held = False
            self.ptt_open = False
            session.ptt_release()

    def _close_ptt(self, session: SessionControl) -> None:
        self.ptt_open = False
        session.ptt_release()
        self._refresh_mode()

    def on_key_release_support(self, message: KeyReleaseSupport) -> None:
        """The driver's probe answered: settle the talk key's behaviour for this terminal."""
        choice = choose_talk_mode(self.settings.ui.talk_key_mode, message.flags)
        push = getattr(self._driver, "push_key_release", None)
        mode = choice.mode
        if choice.push_flags is not None:
            if push is None:  # a driver that cannot ask for releases: never hold blind
                mode = "toggle"
            else:
                push(choice.push_flags)
        log.info(  # not "talk key: …", which the log's secrets filter hides as a key's value
            "talk key mode: %s (terminal kitty flags %s, setting %s)",
            mode,
            message.flags,
            self.settings.ui.talk_key_mode,
        )
        self.set_talk_mode(mode)
        if choice.warning:
            self.notify(choice.warning, severity="warning", timeout=8)

    def set_talk_mode(self, mode: TalkMode) -> None:
        if mode == self.talk_mode:
            return
        self.talk_mode = mode
        if mode == "toggle":
            self._release_held()
        self.refresh_bindings()
        self._refresh_mode()  # a resumed question's note says "hold space" or "press space"

    def action_hands_free(self) -> None:
        session = self._need_session()
        if session is None:
            return
        self._let_go_of_ptt(session)
        new: Mode = "push-to-talk" if session.mode == "hands-free" else "hands-free"
        session.set_mode(new)
        self._refresh_mode(
            "Hands-free: just talk." if new == "hands-free" else f"Push-to-talk: {self.talk_hint}."
        )

    @property
    def talk_hint(self) -> str:
        """How the talk key works right now, in the words the footer and help use."""
        if self.talk_mode == "hold":
            return "hold space to talk"
        return "space: talk/send (tap to talk, tap again to send)"

    def action_mute(self) -> None:
        session = self._need_session()
        if session is None:
            return
        self._let_go_of_ptt(session)
        session.set_muted(not session.muted)
        self._refresh_mode()

    def action_unmute(self) -> None:
        self.action_mute()

    def action_interrupt(self) -> None:
        # (the focus of the screen on top: under a dialog the text box keeps its own, and
        # a typing-only session's box has it all the time, so a dialog's "i Stop" only
        # moved that hidden focus, and stopped nothing)
        if self.focused is self.text_input:
            # Esc leaves the text box (its placeholder says so); stopping the answer too
            # would cut what the person is listening to while they write. Esc again stops.
            self.conversation.focus()
            return
        if self.session is not None:
            self.session.interrupt()

    def action_type(self) -> None:
        self.text_input.focus()

    async def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id != "text-input":
            return
        text = message.value.strip()
        if not text:
            return
        if self.make_session is not None and not self._start_over:
            # still starting: kept in the box, and sent once it has (_conversation_started)
            _put_back(message)
            self._line_sent_while_starting = text
            self.notify(
                "The conversation is still starting: your message is sent once it has "
                "(if you change it, press Enter again).",
                timeout=3,
            )
            return
        if not self._send_line(text):
            _put_back(message)

    def _send_line(self, text: str) -> bool:
        """Send a typed line to the running conversation; False (said in a notice) when
        there is none."""
        session = self._need_session()
        if session is None:
            return False
        if not self.typing_only:  # typing only: the box stays ready for the next message
            self.conversation.focus()
        self.run_worker(self._send_text(session, text), group="send", exit_on_error=False)
        return True

    async def _send_text(self, session: SessionControl, text: str) -> None:
        try:
            await session.send_text(text)
        except UserError as exc:
            self.notify(str(exc), severity="error", markup=False)
        except Exception as exc:
            log.exception("send_text failed")
            self.notify(f"Could not send the message: {exc}", severity="error", markup=False)

    def action_settings(self) -> None:
        self.push_screen(SettingsScreen(self.config_path))

    def action_devices(self) -> None:
        self.push_screen(DevicesScreen())

    def action_context(self) -> None:
        summary, prompt, budget = self.context_state
        self.push_screen(
            ContextScreen(
                summary=summary,
                prompt_tokens=prompt,
                budget_tokens=budget,
                setup=self.status_bar.setup_text,
            )
        )

    def action_help(self) -> None:
        self.push_screen(
            HelpScreen(
                log_path=self.log_path,
                config_path=self.config_path,
                talk_mode=self.talk_mode,
                conversation=not self.in_setup,
                microphone=not self.typing_only,
            )
        )

    # ------------------------------------------------------------------ microphone check
    def _check_marker(self) -> Path:
        return data_dir() / AUDIO_CHECK_MARKER

    @property
    def on_sound_devices(self) -> bool:
        """The session uses real sound devices (not WAV files, not the demo or the simulator)."""
        return not self.simulated and self.input_device not in (None, "file", ev.NO_DEVICE)

    def _first_run_check_due(self, event: ev.AudioInfo) -> bool:
        """Once per machine, when a session really uses sound devices."""
        if self._first_run_check_done or not self.on_sound_devices:
            return False
        self._first_run_check_done = True
        return self._audio_check is None and not self._check_marker().exists()

    def action_audio_check(self, first_run: bool = False) -> None:
        """Live level meter, silent-mic diagnosis and speaker test, with the mic muted."""
        session = self._need_session()
        if session is None or self._audio_check is not None:
            return
        if self.ptt_open:
            self._held = False
            self._close_ptt(session)
        self._muted_before_check = session.muted
        if not session.muted:  # "testing, one two" must not become a turn
            session.set_muted(True)
            # a WAV microphone's "press m to let it go on" is not for a mute the check made
            self._recording_waits_for = "muted"
            self._refresh_mode()
        screen = AudioCheckScreen(
            # a WAV file as the speaker (--output, the demo), or none: no one hears it there
            play_sound=None
            if self.output_device == "file" or not self.status_bar.speaker
            else session.play_check_sound,
            output_device=self.output_device,
            input_device=self.input_device,
            first_run=first_run,
        )
        self._audio_check = screen
        self.push_screen(screen, self._audio_check_closed)

    def _audio_check_closed(self, heard: bool | None) -> None:
        self._audio_check = None
        session = self.session
        if session is not None and session.muted and not self._muted_before_check:
            session.set_muted(False)
            self._refresh_mode()
        if not self.on_sound_devices:  # a check of the demo's files says nothing about the mic
            return
        try:  # shown once on its own; c runs it again any time
            marker = self._check_marker()
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("heard\n" if heard else "closed\n", encoding="utf-8")
        except OSError:
            log.warning("cannot record that the audio check was shown", exc_info=True)

    # ------------------------------------------------------------------ global hotkey
    async def _start_global_hotkey(self) -> None:
        """Start the optional system-wide hotkey; every failure is one readable notice."""
        combo = self.settings.ui.global_hotkey
        try:
            hotkey = GlobalHotkey(combo, lambda: self.post_message(GlobalHotkeyPressed()))
            await asyncio.to_thread(hotkey.start)
        except HotkeyError as exc:
            log.warning("global hotkey %r not started: %s", combo, exc)
            self.notify(
                f"{exc.message}\n→ {exc.hint}" if exc.hint else exc.message,
                title="Global hotkey off",
                severity="error",
                timeout=15,
                markup=False,
            )
            return
        except Exception as exc:  # anything unforeseen: still a notice, details in the log
            log.exception("global hotkey failed")
            self.notify(
                f"The global hotkey could not start: {exc}",
                title="Global hotkey off",
                severity="error",
                timeout=15,
                markup=False,
            )
            return
        if self._stopped:  # the app closed while the listener was starting
            hotkey.stop()
            return
        self.global_hotkey = hotkey
        log.info("global hotkey %s listening", hotkey.combo)
        self.notify(
            hotkey.warning or f"Global hotkey {hotkey.combo} toggles push-to-talk.",
            severity="warning" if hotkey.warning else "information",
            timeout=6,
            markup=False,
        )

    def on_global_hotkey_pressed(self, message: GlobalHotkeyPressed) -> None:
        """A toggle, whatever the talk key does: no release arrives from other windows."""
        self.action_ptt()

    def _stop_global_hotkey(self) -> None:
        hotkey, self.global_hotkey = self.global_hotkey, None
        if hotkey is not None:
            hotkey.stop()

    def on_unmount(self) -> None:
        self._stop_global_hotkey()

    async def action_quit(self) -> None:
        await self.stop_session()
        self.exit(0)

    async def action_copy_or_quit(self) -> None:
        if self.text_input.has_focus:  # (the app's binding is met before the box's)
            self.text_input.action_copy()
            return
        await self.action_quit()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that drive a conversation on the setup screen (and the dialogs opened
        over it: the footer shows the top screen's bindings); one talk binding."""
        if action in SESSION_ACTIONS and (self.in_setup or self.start_error is not None):
            return False  # no conversation (it failed to start): the keys would only say so
        if action in DIALOG_HIDDEN and isinstance(self.screen, ModalScreen):
            return False  # a dialog is up: its own keys, not the conversation's, in the footer
        if action in MICROPHONE_ACTIONS and self.typing_only:
            return False
        if action in ("mute", "unmute"):
            muted = self.session is not None and self.session.muted
            return muted == (action == "unmute")
        if action == "talk_hold":
            return self.talk_mode == "hold"
        if action == "ptt":
            return self.talk_mode == "toggle"
        return True

    @property
    def in_setup(self) -> bool:
        """The setup screen is up, possibly under a dialog: there is no conversation."""
        return any(isinstance(screen, SetupScreen) for screen in self.screen_stack)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not self.in_setup:  # no conversation: these would only say "No conversation"
            yield from self._conversation_commands()
        yield SystemCommand("Settings", "Edit the config file (ctrl+s)", self.action_settings)
        yield SystemCommand(
            "Sound devices", "List microphones and speakers (d)", self.action_devices
        )
        yield SystemCommand(
            "Context and summary", "Prompt size and the running summary (s)", self.action_context
        )
        yield SystemCommand("Help", "Keys, log file and config path (?)", self.action_help)

    def _conversation_commands(self) -> Iterable[SystemCommand]:
        """The palette calls the actions directly, past ``check_action``: without a
        microphone its commands are left out here."""
        mic = not self.typing_only
        if mic:
            yield SystemCommand(
                "Push-to-talk", "Open the mic, run again to send (space)", self.action_ptt
            )
            yield SystemCommand(
                "Hands-free on/off", "Switch turn-taking mode (h)", self.action_hands_free
            )
            yield SystemCommand("Mute / unmute", "Microphone on or off (m)", self.action_mute)
        yield SystemCommand(
            "Interrupt", "Stop the answer being spoken (i, esc)", self.action_interrupt
        )
        yield SystemCommand("Type a message", "Send a typed turn (t)", self.action_type)
        if mic:
            yield SystemCommand(
                "Microphone and speaker check",
                "Live input level, silent-mic check, test sound (c)",
                self.action_audio_check,
            )

    def get_key_display(self, binding: Binding) -> str:
        if binding.key == "question_mark":
            return "?"
        return super().get_key_display(binding)


def run_app(app: VoiceDeskApp) -> Any:
    """Run the app on the current loop (callers own the loop and the resources around it)."""
    return app.run_async()
