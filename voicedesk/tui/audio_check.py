"""The microphone and speaker check: a live level meter, "heard you", a silent-mic diagnosis.

It shows on the first start with real sound devices (afterwards: key ``c`` or the command
palette). It needs nothing new from the engine for the microphone: the engine already
publishes :class:`~voicedesk.events.InputLevel` about 20 times a second (measured on the
audio thread, after echo cancellation), including ``zero_input`` when the device has
delivered nothing but zeros for ``audio.zero_input_timeout_s``. The app forwards those
events here. The session is muted while the check is open, so "testing, one two three" does
not become a turn; the level is measured before the mute, so the meter keeps moving.

The verdict logic is :class:`MicCheck`, a small state machine fed with levels and no clock
(it counts level reports), so tests drive it exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from voicedesk.tui.screens import CTRL_C_IN_A_DIALOG
from voicedesk.tui.widgets.footer import AppFooter

Verdict = Literal["waiting", "heard", "silent", "quiet", "no-signal"]

SPEECH_DBFS = -42.0  # a voice at arm's length; a quiet room is -60 dBFS or lower
SPEECH_REPORTS = 3  # consecutive reports above it (~150 ms): a voice, not a click
QUIET_AFTER_REPORTS = 160  # ~8 s of levels without speech: say the microphone is too faint
NO_SIGNAL_AFTER_S = 3.0  # no level at all by then: the audio is not running
METER_CELLS = 32
METER_FLOOR_DB = -70.0

SILENT_HELP = (
    "The microphone delivers only silence (all zeros). Things to check:\n"
    "  • permission — macOS: System Settings → Privacy & Security → Microphone, allow your "
    "terminal app; Linux: the input is not muted in your sound settings (pavucontrol);\n"
    "  • a mute switch or mute key on the laptop or headset;\n"
    "  • the device — press d to list them, then set audio.input_device (ctrl+s)."
)
QUIET_HELP = (
    "Only faint sound reaches voicedesk (loudest {peak:.0f} dBFS). Speak closer, raise the "
    "input volume in your sound settings, or choose another microphone: d lists the devices, "
    "ctrl+s sets audio.input_device."
)
NO_SIGNAL_HELP = (
    "No level from the microphone yet: the audio has not started. If the conversation "
    "failed to start, the notice says why; d lists the sound devices."
)
FILE_INPUT_NOTE = (
    "The input is a WAV file (--input, or the demo's recording), not a microphone: the "
    "meter shows the file's level. Start without --input to check a microphone."
)
SPEAKER_HELP = (
    "Heard nothing? Check the volume and the output device (d lists them, ctrl+s sets "
    "audio.output_device). With headphones unplugged, the sound goes to the speakers."
)


@dataclass
class MicCheck:
    """Turns a stream of level reports into a verdict (no clock: it counts reports)."""

    reports: int = 0
    loud_run: int = 0
    peak_dbfs: float = -120.0
    heard: bool = False
    silent: bool = False

    def feed(self, rms_dbfs: float, zero_input: bool) -> Verdict:
        self.reports += 1
        self.silent = zero_input
        if zero_input:
            self.loud_run = 0
            return "silent"
        self.peak_dbfs = max(self.peak_dbfs, rms_dbfs)
        self.loud_run = self.loud_run + 1 if rms_dbfs >= SPEECH_DBFS else 0
        if self.loud_run >= SPEECH_REPORTS:
            self.heard = True
        return self.verdict

    @property
    def verdict(self) -> Verdict:
        if self.silent:
            return "silent"
        if self.heard:
            return "heard"
        if self.reports == 0:
            return "waiting"
        return "quiet" if self.reports >= QUIET_AFTER_REPORTS else "waiting"


def meter_bar(rms_dbfs: float | None, cells: int = METER_CELLS) -> Content:
    """A wide bar for the check screen, with the speech threshold marked."""
    mark = round((SPEECH_DBFS - METER_FLOOR_DB) / -METER_FLOOR_DB * cells)
    if rms_dbfs is None:
        return Content.styled("·" * cells, "$foreground-muted")
    filled = round(max(0.0, min(1.0, (rms_dbfs - METER_FLOOR_DB) / -METER_FLOOR_DB)) * cells)
    style = "$error" if rms_dbfs > -3 else "$success" if rms_dbfs >= SPEECH_DBFS else "$warning"
    parts: list[tuple[str, str] | str] = []
    for i in range(cells):
        if i < filled:
            parts.append(("█", style))
        else:
            parts.append(("┆" if i == mark else "░", "$foreground-muted"))
    level = f" {rms_dbfs:6.1f} dBFS" if rms_dbfs > -120 else "   –∞ dBFS"
    return Content.assemble(*parts, level)


class AudioCheckScreen(ModalScreen[bool]):
    """Live input meter, the microphone verdict and a speaker test; dismisses with ``heard``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("c", "close", "Close", show=False),
        Binding("p", "play", "Play test sound"),
        Binding("y", "heard_sound(True)", "Heard it", show=False),
        Binding("n", "heard_sound(False)", "Heard nothing", show=False),
        Binding("d", "app.devices", "Devices"),
        # the check's advice names ctrl+s for audio.input_device: it must work from here
        Binding("ctrl+s", "app.settings", "Settings", show=False),
        # as over the other dialogs (screens._Dialog), listed in its own footer
        Binding("i", "app.interrupt", "Stop"),
        Binding("q", "app.quit", "Quit"),
        *CTRL_C_IN_A_DIALOG,
    ]
    DEFAULT_CLASSES = "dialog-screen"

    def __init__(
        self,
        *,
        play_sound: Callable[[], float | None] | None,
        output_device: str | None = None,
        input_device: str | None = None,
        first_run: bool = False,
    ) -> None:
        super().__init__()
        self.play_sound = play_sound  # returns the sound's length, None = cannot play here
        self.output_device = output_device
        # "file": a WAV (--input, the demo) stands in for the microphone; nothing to diagnose
        self.input_is_file = input_device == "file"
        self.first_run = first_run
        self.check = MicCheck()
        self.verdict: Verdict = "waiting"
        self.speaker: Literal["untested", "playing", "ok", "not-heard", "unavailable"] = (
            "untested" if play_sound is not None else "unavailable"
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="audio-check") as box:
            box.border_title = "Microphone and speaker check"
            if self.first_run:
                yield Static(
                    "First start: a quick check that voicedesk can hear you and you can hear it.",
                    id="check-intro",
                )
            # a WAV file stands in for the microphone: nothing to say into (FILE_INPUT_NOTE)
            ask = "" if self.input_is_file else "say something, e.g. “testing, one two three”"
            yield Static(Content.assemble(("Microphone  ", "bold"), ask))
            yield Static(meter_bar(None), id="check-meter")
            yield Static(id="check-mic")
            yield Static(Content.styled("Speaker", "bold"), id="check-speaker-title")
            yield Static(id="check-speaker")
            play = "p plays a test sound · " if self.play_sound is not None else ""
            yield Static(
                Content.styled(
                    f"{play}d devices · Esc closes (c runs this check again)",
                    "$foreground-muted",
                ),
                id="check-keys",
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """No "Play test sound" in the footer where there is no speaker to play it on."""
        return self.play_sound is not None if action == "play" else True

    def on_mount(self) -> None:
        # the app's footer, below a dialog, lists the conversation's keys, not these
        self.mount(AppFooter(compact=True, show_command_palette=False))
        self._show_mic()
        self._show_speaker()
        self.set_timer(NO_SIGNAL_AFTER_S, self._no_signal_yet)

    # ------------------------------------------------------------------ microphone
    def on_level(self, rms_dbfs: float, zero_input: bool) -> None:
        """One InputLevel report from the engine (the app forwards them while we are open)."""
        self.verdict = self.check.feed(rms_dbfs, zero_input)
        self.query_one("#check-meter", Static).update(meter_bar(None if zero_input else rms_dbfs))
        self._show_mic()

    def _no_signal_yet(self) -> None:
        if self.check.reports == 0:
            self.verdict = "no-signal"
            self._show_mic()

    def _show_mic(self) -> None:
        widget = self.query_one("#check-mic", Static)
        widget.set_classes(f"check-{self.verdict}")
        text: Content
        if self.input_is_file:
            text = Content.styled(FILE_INPUT_NOTE, "$foreground-muted")
        elif self.verdict == "heard":
            text = Content.assemble(
                ("✓ Heard you", "bold $success"),
                f" (loudest {self.check.peak_dbfs:.0f} dBFS). The microphone works.",
            )
        elif self.verdict == "silent":
            text = Content.assemble(("✕ Silent microphone. ", "bold $error"), SILENT_HELP)
        elif self.verdict == "quiet":
            text = Content.assemble(
                ("? Too quiet. ", "bold $warning"), QUIET_HELP.format(peak=self.check.peak_dbfs)
            )
        elif self.verdict == "no-signal":
            text = Content.assemble(("? No signal. ", "bold $warning"), NO_SIGNAL_HELP)
        else:
            text = Content.styled("Listening… speak now.", "$foreground-muted")
        widget.update(text)

    # ------------------------------------------------------------------ speaker
    def action_play(self) -> None:
        if self.play_sound is None:
            self.notify("No speaker to test: this session does not play to a sound device.")
            return
        try:
            length = self.play_sound()
        except Exception as exc:  # a readable line, never a traceback over the screen
            self.speaker = "unavailable"
            self._show_speaker(f"Could not play the test sound: {exc}")
            return
        if length is None:
            self.speaker = "unavailable"
        else:
            self.speaker = "playing"
        self._show_speaker()

    def action_heard_sound(self, heard: bool) -> None:
        if self.speaker not in ("playing", "ok", "not-heard"):
            return
        self.speaker = "ok" if heard else "not-heard"
        self._show_speaker()

    def _show_speaker(self, error: str | None = None) -> None:
        widget = self.query_one("#check-speaker", Static)
        widget.set_classes(f"speaker-{self.speaker}")
        device = f" on {self.output_device}" if self.output_device else ""
        if error:
            text = Content.styled(error, "$warning")
        elif self.speaker == "playing":
            text = Content.assemble(
                f"♪ Playing two short tones{device}. Did you hear them? ",
                ("y", "bold $accent"),
                " yes · ",
                ("n", "bold $accent"),
                " no",
            )
        elif self.speaker == "ok":
            text = Content.assemble(("✓ Speaker works", "bold $success"), device + ".")
        elif self.speaker == "not-heard":
            text = Content.assemble(("✕ Not heard. ", "bold $error"), SPEAKER_HELP)
        elif self.speaker == "unavailable":
            text = Content.styled(
                "No sound device to test here (the answer goes to a file or nowhere).",
                "$foreground-muted",
            )
        else:
            text = Content.assemble(
                "Press ", ("p", "bold $accent"), f" to play a test sound{device}."
            )
        widget.update(text)

    async def action_close(self) -> None:
        self.dismiss(self.check.heard)
