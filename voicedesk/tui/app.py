"""The voicedesk terminal UI.

The app owns no engine logic: it builds a session through a factory, subscribes to its
:class:`EventBus` and turns keys into :class:`SessionControl` calls. The bus calls
subscribers inline on the engine's hot path, so the subscriber here only posts a Textual
message; all widget work happens later in the app's own message handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input

from voicedesk import events as ev
from voicedesk.config import Settings, default_config_path
from voicedesk.engine.api import SessionControl
from voicedesk.errors import UserError
from voicedesk.tui.screens import (
    ContextScreen,
    DevicesScreen,
    ErrorScreen,
    HelpScreen,
    SettingsScreen,
    SetupScreen,
    ToolDetailScreen,
)
from voicedesk.tui.widgets.conversation import ConversationPane
from voicedesk.tui.widgets.status import StatusBar
from voicedesk.tui.widgets.timings import TimingsPane
from voicedesk.tui.widgets.tools import ToolPane

log = logging.getLogger(__name__)

SessionFactory = Callable[[ev.EventBus], Awaitable[SessionControl]]
STOP_TIMEOUT_S = 5.0
SESSION_ACTIONS = frozenset({"ptt", "hands_free", "mute", "interrupt", "type"})


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

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "ptt", "Talk"),
        Binding("h", "hands_free", "Hands-free"),
        Binding("m", "mute", "Mute"),
        Binding("i", "interrupt", "Stop"),
        Binding("escape", "interrupt", "Interrupt", show=False),
        Binding("t", "type", "Type"),
        Binding("ctrl+s", "settings", "Settings", show=False),
        Binding("d", "devices", "Devices", show=False),
        Binding("s", "context", "Context", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
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
    ) -> None:
        super().__init__()
        self.settings = settings
        self.make_session = make_session
        self.context_state: tuple[str | None, int, int] = (
            None,
            0,
            settings.context.budget_tokens,
        )
        self.demo = demo
        self.simulated = simulated or demo
        self.log_path = log_path
        self.config_path = config_path or settings.source or default_config_path()
        self.bus = ev.EventBus()
        self.session: SessionControl | None = None
        self.ptt_open = False
        self.start_error: BaseException | None = None
        self.started = asyncio.Event()
        self._unsubscribe: list[Callable[[], None]] = []
        self._stopped = False

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        # Kept as attributes: while a modal is open, App.query_one would search the modal.
        tag = "demo" if self.demo else "sim" if self.simulated else ""
        self.status_bar = StatusBar(self.settings, tag=tag, id="status")
        self.conversation = ConversationPane(id="conversation")
        self.tool_pane = ToolPane(id="tools")
        self.timings = TimingsPane(id="timings")
        self.text_input = Input(
            placeholder="press t to type a message · Enter sends · Esc leaves",
            id="text-input",
            compact=True,
        )
        yield self.status_bar
        with Horizontal(id="main"):
            yield self.conversation
            with Vertical(id="side"):
                yield self.tool_pane
                yield self.timings
        yield self.text_input
        yield Footer()

    def on_mount(self) -> None:
        theme = self.settings.ui.theme
        if theme in self.available_themes:
            self.theme = theme
        else:
            self.notify(f"Unknown theme '{theme}'; using the default.", severity="warning")
        self._unsubscribe.append(self.bus.subscribe(self._on_bus_event))
        self._refresh_mode()
        if self.needs_setup():
            self.push_screen(SetupScreen(self.config_path))
            return
        if self.make_session is not None:
            self.run_worker(
                self._start_session(), name="session-start", group="session", exit_on_error=False
            )

    def needs_setup(self) -> bool:
        """No key and no self-hosted LLM: explain the ways forward rather than fail to connect."""
        return (
            not self.simulated
            and self.make_session is not None
            and self.settings.keys.openai_api_key is None
            and self.settings.llm.base_url is None
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
            self._refresh_mode()
        except asyncio.CancelledError:
            raise
        except UserError as exc:
            self.start_error = exc
            await self._abandon_session()
            self.show_error("Cannot start the conversation", exc.message, exc.hint)
        except Exception as exc:  # anything else: a readable line here, the traceback in the log
            log.exception("session start failed")
            self.start_error = exc
            await self._abandon_session()
            self.show_error(
                "Cannot start the conversation",
                f"{type(exc).__name__}: {exc}",
                "the log file has the details",
            )
        finally:
            self.started.set()

    async def _abandon_session(self) -> None:
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

    def show_error(self, title: str, message: str, hint: str | None = None) -> None:
        self.push_screen(ErrorScreen(title, message, hint, self.log_path))

    # ------------------------------------------------------------------ events
    def _on_bus_event(self, event: ev.Event) -> None:
        """Bus subscriber: runs inline on the engine's hot path, so it only enqueues."""
        self.post_message(EngineEvent(event))

    def on_engine_event(self, message: EngineEvent) -> None:
        if not self.status_bar.is_attached:  # closing down: nothing left to draw on
            return
        try:
            self.apply_event(message.event)
        except Exception:  # a display bug must never take the conversation down
            log.exception("UI failed to show %s", type(message.event).__name__)

    def apply_event(self, event: ev.Event) -> None:
        status = self.status_bar
        if isinstance(event, ev.InputLevel):
            status.set_level(event.rms_dbfs, event.zero_input)
            return
        if isinstance(event, ev.StateChanged):
            status.set_state(event.state)
            self._refresh_mode()
        elif isinstance(event, ev.AudioInfo):
            status.set_audio(event.input_device, event.output_device, event.echo_cancellation)
        elif isinstance(event, ev.ContextUpdated):
            status.set_context(event.prompt_tokens, event.budget_tokens)
            self.context_state = (event.summary, event.prompt_tokens, event.budget_tokens)
            if event.summary_made:
                self.notify("Older turns were summarised to keep the context small.")
        elif isinstance(event, ev.Notice):
            severity = {"info": "information", "warning": "warning", "error": "error"}
            self.notify(
                event.message,
                severity=severity.get(event.level, "information"),  # type: ignore[arg-type]
                timeout=10 if event.level == "error" else 5,
                markup=False,
            )
        elif isinstance(event, ev.TurnMetrics):
            self.timings.add_record(event.record)
        if isinstance(event, ev.ToolCallStarted | ev.ToolCallProgress | ev.ToolCallFinished):
            self.tool_pane.handle(event)
        self.conversation.handle(event)

    def _refresh_mode(self) -> None:
        session = self.session
        mode = session.mode if session is not None else self.settings.turn.mode
        muted = session.muted if session is not None else False
        self.status_bar.set_mode(mode, muted=muted, ptt_open=self.ptt_open)

    def on_tool_pane_selected(self, message: ToolPane.Selected) -> None:
        self.push_screen(ToolDetailScreen(message.info))

    # ------------------------------------------------------------------ actions
    def _need_session(self) -> SessionControl | None:
        if self.session is None:
            starting = self.make_session is not None and not self.started.is_set()
            self.notify(
                "The conversation is still starting…" if starting else "No conversation running.",
                severity="warning",
                timeout=3,
            )
        return self.session

    def action_ptt(self) -> None:
        """Tap to open the mic, tap again to end the turn (works in every mode)."""
        session = self._need_session()
        if session is None:
            return
        if session.muted:
            self.notify("The microphone is muted: press m to unmute.", severity="warning")
            return
        if self.ptt_open:
            self.ptt_open = False
            session.ptt_release()
        else:
            if session.mode != "push-to-talk":
                session.set_mode("push-to-talk")
                self.notify("Push-to-talk: tap space again when you have finished (h: hands-free).")
            self.ptt_open = True
            session.ptt_press()
        self._refresh_mode()

    def action_hands_free(self) -> None:
        session = self._need_session()
        if session is None:
            return
        if self.ptt_open:
            self.ptt_open = False
            session.ptt_release()
        new = "push-to-talk" if session.mode == "hands-free" else "hands-free"
        session.set_mode(new)
        self._refresh_mode()
        self.notify(
            "Hands-free: just talk." if new == "hands-free" else "Push-to-talk: tap space to talk.",
            timeout=3,
        )

    def action_mute(self) -> None:
        session = self._need_session()
        if session is None:
            return
        if self.ptt_open:
            self.ptt_open = False
            session.ptt_release()
        session.set_muted(not session.muted)
        self._refresh_mode()

    def action_interrupt(self) -> None:
        text_input = self.text_input
        if text_input.has_focus:
            self.conversation.focus()
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
        session = self._need_session()
        if session is None:
            return
        message.input.value = ""
        self.conversation.focus()
        self.run_worker(self._send_text(session, text), group="send", exit_on_error=False)

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
        self.push_screen(ContextScreen(summary=summary, prompt_tokens=prompt, budget_tokens=budget))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(log_path=self.log_path, config_path=self.config_path))

    async def action_quit(self) -> None:
        await self.stop_session()
        self.exit(0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """On the setup screen there is no conversation: hide the keys that drive one."""
        return not (action in SESSION_ACTIONS and isinstance(self.screen, SetupScreen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Push-to-talk", "Tap to open the mic, again to send (space)", self.action_ptt
        )
        yield SystemCommand(
            "Hands-free on/off", "Switch turn-taking mode (h)", self.action_hands_free
        )
        yield SystemCommand("Mute / unmute", "Microphone on or off (m)", self.action_mute)
        yield SystemCommand(
            "Interrupt", "Stop the answer being spoken (i, esc)", self.action_interrupt
        )
        yield SystemCommand("Type a message", "Send a typed turn (t)", self.action_type)
        yield SystemCommand("Settings", "Edit the config file (ctrl+s)", self.action_settings)
        yield SystemCommand(
            "Sound devices", "List microphones and speakers (d)", self.action_devices
        )
        yield SystemCommand(
            "Context and summary", "Prompt size and the running summary (s)", self.action_context
        )
        yield SystemCommand("Help", "Keys, log file and config path (?)", self.action_help)

    def get_key_display(self, binding: Binding) -> str:
        if binding.key == "question_mark":
            return "?"
        return super().get_key_display(binding)


def run_app(app: VoiceDeskApp) -> Any:
    """Run the app on the current loop (callers own the loop and the resources around it)."""
    return app.run_async()
