"""Modal and full screens: help, errors, first-run setup, settings, devices, tool details."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, ScrollableContainer, Vertical, VerticalScroll
from textual.content import Content
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Markdown, Static, TextArea

from voicedesk.errors import ConfigError, UserError
from voicedesk.tools.results import without_sdk_prefix
from voicedesk.tui.widgets.folded_text import folded_path
from voicedesk.tui.widgets.footer import AppFooter
from voicedesk.tui.widgets.tools import EARLIER_DETAIL, NOT_LOGGED
from voicedesk.tui.widgets.visible import visible_controls

if TYPE_CHECKING:
    from voicedesk.tui.widgets.tools import ToolCallInfo

TALK_KEY_HELP = {
    "toggle": "push-to-talk: tap to talk, tap again to send",
    "hold": "push-to-talk: hold while you talk, let go to send",
}
TALK_MODE_NOTE = {
    "toggle": "This terminal does not report key release, so space is tap/tap here "
    "(ui.talk_key_mode; kitty, WezTerm, foot and Ghostty allow hold-to-talk).",
    "hold": "This terminal reports key release: hold space to talk "
    '(ui.talk_key_mode = "toggle" for tap/tap).',
}
KEY_HELP: list[tuple[str, str]] = [
    ("space", TALK_KEY_HELP["toggle"]),
    ("h", "hands-free on/off (it hears when you finish)"),
    ("m", "mute / unmute the microphone"),
    ("i / esc", "interrupt the answer being spoken"),
    ("t", "type a turn instead (Enter sends, esc leaves the box)"),
    ("ctrl+s", "settings: edit the config file"),
    ("d", "sound devices"),
    ("s", "context: prompt size, running summary, devices and models in use"),
    ("c", "microphone and speaker check (level meter, test sound)"),
    ("ctrl+p", "command palette: every action"),
    ("?", "this help"),
    ("q", "quit (ctrl+q too, anywhere; ctrl+c outside a text box, copying a selection)"),
]
# the keys of app.SESSION_ACTIONS, which do nothing without a conversation
CONVERSATION_KEYS = frozenset({"space", "h", "m", "i / esc", "t", "c"})
# the keys of app.MICROPHONE_ACTIONS, which do nothing in a typing-only conversation
MICROPHONE_KEYS = frozenset({"space", "h", "m", "c"})
# What the keys above do not do while the conversation starts (app: the box has the focus
# then, so a message typed at once is kept): README "Keys and shortcuts" says it too.
STARTING_NOTE = (
    "While the conversation starts the text box has the focus: what you type then, q and ? "
    "too, goes into your first message (ctrl+q quits; esc leaves the box, and the keys "
    "above work again)."
)
NO_MICROPHONE_NOTE = (
    "No microphone: type your messages (t, then Enter). Push-to-talk, hands-free, mute and "
    "the microphone check are there when voicedesk starts with a microphone."
)


SHORT_TERMINAL_ROWS = 20  # below this a dialog takes the whole height
# Below this many columns the help lists each key above its words (voicedesk.tcss:
# .-narrow #help-keys): beside an 8-cell key column the words had 6 to 10 cells and broke
# mid-word ("interr / upt", "instea / d").
NARROW_TERMINAL_COLUMNS = 40
# A dialog's footer ("esc Close i Stop q Quit", 23 cells) cut Quit to "q Q" below this:
# Stop gives way there (i works on, and the help lists it).
DIALOG_STOP_KEY_FROM = 24


# ctrl+c copies what is selected (a tool's result copies its own first) and else quits, as
# outside a dialog: the screen's own binding only copied, so with nothing selected the key
# did nothing (a dialog's keys stop the app's). Each binding of a key is tried in turn.
CTRL_C_IN_A_DIALOG: list[BindingType] = [
    Binding("ctrl+c", "screen.copy_text", "Copy", show=False),
    Binding("ctrl+c", "app.quit", "Quit", show=False),
]


class _Dialog(ModalScreen[None]):
    """A centred box that closes with Escape; subclasses fill the box.

    It has a footer of its own: the app's, below it, lists the conversation screen's keys,
    so over a dialog the way out (Esc) was never shown, and over the settings the footer
    offered q to quit while q went into the text box."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        # A dialog's keys stop the app's (Textual's modal binding chain): these work on.
        Binding("i", "app.interrupt", "Stop"),
        Binding("q", "app.quit", "Quit"),
        *CTRL_C_IN_A_DIALOG,
    ]
    DEFAULT_CLASSES = "dialog-screen"
    # The part that scrolls gets the focus, so the arrow keys, PageDown and End reach what a
    # short terminal cuts off (the app's own AUTO_FOCUS names no widget in a dialog).
    AUTO_FOCUS = ".dialog"

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)

    def on_mount(self) -> None:
        """Textual runs this besides a subclass's own ``on_mount``."""
        self.mount(AppFooter(compact=True, show_command_palette=False))

    def on_resize(self, event: events.Resize) -> None:
        """On a short terminal the box may use every row its footer leaves (voicedesk.tcss):
        the tenth it leaves free elsewhere cut the settings verdict's last line."""
        self.set_class(event.size.height < SHORT_TERMINAL_ROWS, "-short")
        self.set_class(event.size.width < NARROW_TERMINAL_COLUMNS, "-narrow")
        self.set_class(event.size.width < DIALOG_STOP_KEY_FROM, "-tight")


class HelpScreen(_Dialog):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(
        self,
        *,
        log_path: Path | None,
        config_path: Path | None,
        talk_mode: str = "toggle",
        conversation: bool = True,
        microphone: bool = True,
    ) -> None:
        """``conversation=False``: the setup screen, where the keys that drive a
        conversation do nothing; they are left out rather than listed. Likewise
        ``microphone=False`` (typing only) leaves out the keys that need a microphone."""
        super().__init__()
        self.log_path = log_path
        self.config_path = config_path
        self.talk_mode = talk_mode if talk_mode in TALK_KEY_HELP else "toggle"
        self.conversation = conversation
        self.microphone = microphone

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help") as box:
            box.border_title = "Help"
            rows = [
                (key, TALK_KEY_HELP[self.talk_mode] if key == "space" else text)
                for key, text in KEY_HELP
                if (self.conversation or key not in CONVERSATION_KEYS)
                and (self.microphone or key not in MICROPHONE_KEYS)
            ]
            # Two columns, so a description that wraps on a narrow terminal stays in its
            # own column instead of running back under the keys.
            with Grid(id="help-keys"):
                for key, text in rows:
                    yield Static(Content.styled(key, "bold $accent"), classes="help-key")
                    yield Static(text, classes="help-text", markup=False)
            if self.conversation:
                note = TALK_MODE_NOTE[self.talk_mode] if self.microphone else NO_MICROPHONE_NOTE
                yield Static(
                    Content.styled(note, "$foreground-muted"),
                    id="help-talk-mode",
                )
                yield Static(Content.styled(STARTING_NOTE, "$foreground-muted"), id="help-starting")
            yield Static(
                Content.assemble(
                    ("\nLog file: ", "bold"),
                    str(self.log_path) if self.log_path else "(none)",
                    ("\nConfig:   ", "bold"),
                    str(self.config_path) if self.config_path else "(defaults)",
                ),
                id="help-paths",
            )
            yield Static(Content.styled("Esc closes this help.", "$foreground-muted"))


class ErrorScreen(_Dialog):
    """A problem the person can fix, in words rather than a traceback."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, title: str, message: str, hint: str | None, log_path: Path | None) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.hint = hint
        self.log_path = log_path

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog error-dialog", id="error") as box:
            box.border_title = self.title_text
            yield Static(self.message, id="error-message", markup=False)
            if self.hint:
                yield Static(Content.assemble(("→ ", "bold $accent"), self.hint), id="error-hint")
            if self.log_path:
                yield Static(Content.styled(f"Details: {self.log_path}", "$foreground-muted"))
            yield Static(Content.styled("Esc closes · q quits", "$foreground-muted"))


SETUP_TEXT = """\
voicedesk needs somewhere to send your speech, and no API key is set. Pick one way forward:

1. **Cloud** — set both `OPENAI_API_KEY` (hearing and answering) and `ELEVENLABS_API_KEY` \
(the voice) in your environment, or run `voicedesk config init` and put the keys in the \
config file. With only an OpenAI key, set `tts.provider = "openai"` to use OpenAI's voice.
2. **Local or self-hosted** — point `llm.base_url` (and `stt`/`tts`) at OpenAI-compatible or \
on-device servers, e.g. `stt.provider = "local"`, `tts.provider = "local"`. Press **ctrl+s** \
to edit the settings here.
3. **Just try it** — `voicedesk demo` plays a recorded conversation through the whole loop against a simulated cloud, no keys; `voicedesk run --sim` opens a conversation with that simulated cloud for you to talk or type to.

Then start voicedesk again: the first time it talks to your sound devices it checks the \
microphone and speaker with a live level meter (**c** runs that check again any time).
"""


class SetupScreen(Screen[None]):
    """First run with no keys: what to do next, instead of an authentication error."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("ctrl+s", "app.settings", "Settings"),
    ]

    def __init__(self, config_path: Path | None) -> None:
        super().__init__()
        self.config_path = config_path

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="setup", classes="dialog") as box:
            box.border_title = "Welcome to voicedesk"
            yield Markdown(SETUP_TEXT, id="setup-text")
            if self.config_path:
                muted = "$foreground-muted"  # folded after a "/" on a narrow terminal
                path = folded_path(
                    "Config file: ", str(self.config_path), label_style=muted, style=muted
                )
                yield Static(path, id="setup-config")
        yield Footer()


def cannot_save(config_path: Path, exc: OSError) -> UserError:
    """A config file that could not be written, said with what to do, as `config init`
    says it: "[Errno 30] Read-only file system: '….tmp'" named a temporary file the person
    never made and left them to work out the rest. The full path is on the settings
    screen's first line: its name keeps the verdict short enough for a small terminal."""
    from voicedesk.files import cannot_write_fix

    return UserError(
        f"Cannot write {config_path.name}: {exc.strerror or exc}, not saved.",
        cannot_write_fix(
            exc, config_path, "start voicedesk with --config naming a file you can write"
        ),
    )


# The settings dialog's text box says what to type and how to save it; where that does not
# fit (at 40 columns the box has 26 cells: it showed "section.key = value, Enter", the saving
# word lost) it says only what to type, and the line under it says how to save.
PAIR_PLACEHOLDER = "section.key = value, Enter saves"
PAIR_PLACEHOLDER_SHORT = "section.key = value"
SETTINGS_HINT = "Changes apply the next time voicedesk starts."
SETTINGS_HINT_SHORT = f"Enter saves. {SETTINGS_HINT}"


class _PairInput(Input):
    """The settings dialog's text box: its placeholder as long as its width lets it be."""

    class Fitted(Message):
        """The placeholder was chosen for a new width; ``short``: it leaves out "Enter
        saves", which the dialog's hint line says instead."""

        def __init__(self, short: bool) -> None:
            super().__init__()
            self.short = short

    def on_resize(self, event: events.Resize) -> None:
        # (an Input draws its placeholder wrapped, and shows only the first line of it;
        # one cell is the cursor's)
        short = cell_len(PAIR_PLACEHOLDER) >= self.content_size.width
        self.placeholder = PAIR_PLACEHOLDER_SHORT if short else PAIR_PLACEHOLDER
        self.post_message(self.Fitted(short))


class SettingsScreen(_Dialog, inherit_bindings=False):
    """Shows the config file and sets ``key = value`` pairs, validated before writing.

    Only Esc: its text box takes i and q as letters."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss", "Close")]

    def __init__(self, config_path: Path) -> None:
        super().__init__()
        self.config_path = config_path
        self.saved: list[str] = []

    def compose(self) -> ComposeResult:
        # Scrolls as a whole, should a verdict still be too long for a short terminal.
        with VerticalScroll(classes="dialog", id="settings") as box:
            box.border_title = "Settings"
            # folded after a separator, not mid-name, on a narrow terminal
            yield Static(folded_path("Config file: ", str(self.config_path)), id="settings-path")
            # The input and its verdict come before the file: on a short terminal the dialog
            # is cut at the bottom, and the file view is what can give way (it scrolls).
            yield _PairInput(placeholder=PAIR_PLACEHOLDER, id="settings-input")
            yield Static(Content.styled(SETTINGS_HINT, "$foreground-muted"), id="settings-status")
            with VerticalScroll(id="settings-file"):
                yield Static(self._file_text(), id="settings-content", markup=False)

    def _file_text(self) -> str:
        """The file as written, API keys and other secrets masked (as ``config show`` does):
        a settings screen is often on a shared or recorded screen."""
        from voicedesk.tui.config_edit import mask_secrets

        try:
            text = self.config_path.read_text(encoding="utf-8").strip()
        except OSError:
            text = ""
        return mask_secrets(text) if text else "(no config file yet: defaults are in use)"

    def on_input_changed(self, message: Input.Changed) -> None:
        """Typing a secret (keys.openai_api_key = …): the input hides what follows."""
        from voicedesk.tui.config_edit import is_secret_name

        key = message.value.split("=", 1)[0]
        message.input.password = "=" in message.value and is_secret_name(key)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on__pair_input_fitted(self, message: _PairInput.Fitted) -> None:
        """The text box's placeholder left "Enter saves" out, or took it back: the hint
        under it says it instead (until a save or an error takes the line's place)."""
        status = self.query_one("#settings-status", Static)
        if status.has_class("ok") or status.has_class("error"):
            return
        hint = SETTINGS_HINT_SHORT if message.short else SETTINGS_HINT
        status.update(Content.styled(hint, "$foreground-muted"))

    def on_input_submitted(self, message: Input.Submitted) -> None:
        from voicedesk.tui.config_edit import apply_pair

        message.stop()
        status = self.query_one("#settings-status", Static)
        try:
            key, _ = apply_pair(self.config_path, message.value, themes=self.app.available_themes)
        except ConfigError as exc:
            status.set_classes("error")
            # the full path is on the line above: naming the file keeps the verdict short
            # enough to fit under the input on a small terminal
            verdict = str(exc).replace(str(self.config_path), self.config_path.name)
            status.update(Content.styled(verdict, "$error"))
            return
        except OSError as exc:
            status.set_classes("error")
            status.update(Content.styled(str(cannot_save(self.config_path, exc)), "$error"))
            return
        self.saved.append(key)
        message.input.value = ""
        status.set_classes("ok")
        status.update(
            Content.assemble(
                ("✓ saved ", "bold $success"), key, (" — restart to apply", "$foreground-muted")
            )
        )
        self.query_one("#settings-content", Static).update(self._file_text())


class ContextScreen(_Dialog):
    """What the model is sent besides the recent turns: the running summary."""

    def __init__(
        self, *, summary: str | None, prompt_tokens: int, budget_tokens: int, setup: str = ""
    ) -> None:
        """``setup``: the devices and models in use, as the status bar names them; below
        its STATUS_CONTEXT_FROM columns the bar leaves them out, and only this says them."""
        super().__init__()
        self.summary = summary
        self.prompt_tokens = prompt_tokens
        self.budget_tokens = budget_tokens
        self.setup = setup

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="context") as box:
            box.border_title = "Context"
            if self.setup:
                yield Static(
                    Content.assemble(("In use: ", "bold"), self.setup, "\n"), id="context-setup"
                )
            yield Static(self._prompt_text(), id="context-prompt")
            yield Static(Content.styled("\nRunning summary", "bold"))
            yield Static(self._summary_text(), id="context-summary", markup=False)
            yield Static(Content.styled("\nEsc closes this.", "$foreground-muted"))

    def show_context(self, *, summary: str | None, prompt_tokens: int, budget_tokens: int) -> None:
        """The summary is made in the background, often while this screen is open: it
        follows each update rather than keep the figures it was opened with."""
        self.summary, self.prompt_tokens, self.budget_tokens = summary, prompt_tokens, budget_tokens
        if self.is_mounted:
            self.query_one("#context-prompt", Static).update(self._prompt_text())
            self.query_one("#context-summary", Static).update(self._summary_text())

    def _prompt_text(self) -> Content:
        if self.prompt_tokens <= 0:  # none measured yet: "0 of 6000 tokens" said none was sent
            return Content.assemble(
                ("Last prompt: ", "bold"),
                f"not measured yet (the budget is {self.budget_tokens} tokens)",
            )
        return Content.assemble(
            ("Last prompt: ", "bold"), f"{self.prompt_tokens} of {self.budget_tokens} tokens"
        )

    def _summary_text(self) -> str:
        return self.summary or "No summary yet: the whole conversation still fits."


class DevicesScreen(_Dialog):
    """The sound devices PortAudio sees, or why there are none."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="devices") as box:
            box.border_title = "Sound devices"
            yield Static("Looking for sound devices…", id="devices-message")
            yield DataTable(id="devices-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).display = False
        self.run_worker(self._load(), exit_on_error=False)

    async def _load(self) -> None:
        from voicedesk.audio import devices as dev

        message = self.query_one("#devices-message", Static)
        try:
            found = await asyncio.to_thread(dev.list_devices)
        except UserError as exc:  # AudioUnavailableError and friends
            message.set_classes("error")
            message.update(Content.styled(str(exc), "$warning"))
            return
        except Exception as exc:  # PortAudio can fail in odd ways; say so, don't crash
            message.set_classes("error")
            message.update(Content.styled(f"Cannot list sound devices: {exc}", "$warning"))
            return
        if not found:
            message.update(Content.styled(dev.NO_DEVICES_REASON, "$warning"))
            return
        table = self.query_one(DataTable)
        table.add_columns("#", "name", "host API", "in", "out", "default")
        for d in found:
            default = " ".join(
                x for x, on in (("mic", d.is_default_input), ("speaker", d.is_default_output)) if on
            )
            table.add_row(
                str(d.index),
                d.name,
                d.hostapi,
                str(d.max_input_channels),
                str(d.max_output_channels),
                default,
            )
        message.update("Set audio.input_device / audio.output_device (ctrl+s) to choose.")
        table.display = True
        table.focus()


class ResultText(TextArea):
    """A tool's result, read-only: its keys scroll it as the dialogs' other text scrolls,
    not move a cursor no one sees (End went to the end of a line, not of the result)."""

    BINDINGS: ClassVar[list[BindingType]] = ScrollableContainer.BINDINGS


class ToolDetailScreen(_Dialog):
    """One tool call in full: arguments and the complete result text. Opened while the
    call runs, it follows the call (:meth:`show_call`) to its end and result.

    The result is a read-only :class:`TextArea` (:class:`ResultText`): it wraps the text
    once per width, a line at a time, and draws only the lines in view. As a ``Static`` a
    50,000-character result (the most a call returns) was wrapped whole some 20 times as
    the dialog was laid out and again at each resize, on the loop the engine shares. It
    also lets the text be selected and copied."""

    AUTO_FOCUS = "#tool-result"

    def __init__(self, info: ToolCallInfo) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        info = self.info
        with Vertical(classes="dialog", id="tool-detail") as box:
            box.border_title = f"Tool call: {info.name}"
            yield Static(self._status(), id="tool-status")
            yield Static(Content.styled("Arguments:", "bold"))
            yield Static(
                json.dumps(info.arguments, indent=2, ensure_ascii=False),
                markup=False,
                id="tool-args",
            )
            spoken = self._spoken()
            spoken_line = Static(spoken or "", id="tool-spoken")
            spoken_line.display = spoken is not None
            yield spoken_line
            yield Static(Content.styled("Result:", "bold"))
            yield ResultText(
                self._result(),
                read_only=True,
                soft_wrap=True,
                compact=True,
                show_cursor=False,
                highlight_cursor_line=False,
                id="tool-result",
            )

    def show_call(self) -> None:
        """The call reported progress or ended (``info`` is the tool pane's, updated in
        place): opened while it ran, this said "still running…" until closed and reopened.
        Pushed but not yet composed, it has nothing to update: its compose reads ``info``
        as it is then (failing here skipped the conversation pane's update of the call)."""
        try:
            status = self.query_one("#tool-status", Static)
        except NoMatches:
            return
        status.update(self._status())
        spoken = self._spoken()
        line = self.query_one("#tool-spoken", Static)
        line.update(spoken or "")
        line.display = spoken is not None
        result = self.query_one("#tool-result", ResultText)
        if result.text != (text := self._result()):
            result.load_text(text)

    def _status(self) -> Content:
        info, fin = self.info, self.info.finished
        if info.earlier:
            logged = info.earlier_result is not None
            status = EARLIER_DETAIL + ("" if logged else f" ({NOT_LOGGED})")
        else:
            status = info.status + (f" in {fin.duration_s:.2f}s" if fin else "")
        return Content.assemble(("Status: ", "bold"), status)

    def _spoken(self) -> Content | None:
        fin = self.info.finished
        if fin is None or not fin.spoken_summary:
            return None
        spoken = without_sdk_prefix(fin.spoken_summary, is_error=fin.is_error)
        return Content.assemble(("Spoken: ", "bold"), visible_controls(spoken))

    def _result(self) -> str:
        """The result as drawn: its control characters shown, not sent to the terminal."""
        info, fin = self.info, self.info.finished
        if info.earlier and info.earlier_result is not None:
            return visible_controls(info.earlier_result)
        if info.earlier:
            return "Not logged: the session log keeps only the name and arguments of this call."
        # what the person is shown: the model's text names an image to it as one
        # "neither you nor the person can see"
        return visible_controls(fin.shown if fin else (info.progress or "still running…"))
