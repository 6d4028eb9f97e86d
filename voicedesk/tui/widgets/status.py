"""The one-line status bar: mode, engine state, input level, context size, models.

Kept to one line so the conversation keeps the screen at 80×24; the model names take the
remaining width and are cut with an ellipsis rather than wrapping. The state is cut too
(``_fit_state``) when it alone would run past the edge: "waiting for tool servers …" took
49 cells and pushed the level meter off a 40- to 60-column bar, uncut.

Below 60 columns the bar keeps, most important first: the mode (as wide as its word), the
state (cut first), then the level meter, which goes where it would leave the state fewer
than ``STATE_MIN_CELLS`` (the state's icon says "hearing you" as the meter would). The
mode's 14-cell slot took a 20-column bar ("typing …  no"). A dead microphone ("mic 0 !")
is never the part that goes: nothing the person says is heard, and no other slot tells
them, so the state is cut (to nothing if need be) instead; where even the mode does not
fit beside it (20 columns), the mode goes and the state has its room.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from voicedesk.config import Settings
from voicedesk.events import NO_DEVICE

STATE_LABELS = {
    "idle": ("○", "idle"),
    "listening": ("●", "listening"),
    "hearing": ("◉", "hearing you"),
    "thinking": ("◌", "thinking"),
    "speaking": ("♪", "speaking"),
    "tool": ("⚙", "tool running"),
    "muted": ("✕", "muted"),
    "stopped": ("✕", "not started"),  # the conversation failed to start
    # until the conversation has started: no mode or microphone is in effect yet (a machine
    # with none showed "hands-free" and a mic meter for seconds before "typing")
    "starting": ("◌", "starting"),
}
# The engine's "muted" state while the mode slot already says muted: not said twice.
MUTED_STATE_WHEN_SHOWN = ("○", "not listening")
# With no microphone, or push-to-talk with it closed, nothing is listened to: the engine's
# idle "listening" means ready.
READY_STATE = ("○", "ready")
# A WAV file standing for the microphone (the demo, --input) talks only while the microphone
# listens: muted, or in push-to-talk with the key up, it waits where it is. "not listening"
# and "ready" left the person wondering why the demo had stopped.
RECORDING_WAITS_STATE = ("○", "recording waits")
# With no speaker the answer "plays" on a silent clock while its text is shown.
SPEAKING_NO_SPEAKER = ("♪", "answering")
CONTEXT_UNKNOWN = "ctx –"  # until the first turn has measured the prompt
# The names of the tool servers an answer waits for, as the state says them: at most this
# many cells.
WAITED_NAMES_WIDTH = 20
METER = "▁▂▃▄▅▆▇█"
METER_WIDTH = 5
FLOOR_DB = -60.0
# The mode and the state slots' least widths (voicedesk.tcss: #status-mode, #status-state;
# the mode's is dropped below 60 columns, #status.-narrow), and the one cell of padding each
# side of every slot.
MODE_MIN_CELLS = 14
SLOT_PADDING = 2
# Below 60 columns: the fewest cells the state is cut to before the level meter gives it
# its room ("◉ heari…", "♪ speak…": the icon and the start of the word).
STATE_MIN_CELLS = 8


def level_meter(rms_dbfs: float | None, zero_input: bool = False) -> Content:
    """A short bar graph of the input level; a dead microphone says so instead of a flat bar."""
    if zero_input:
        return Content.styled("mic 0 !", "bold $warning")
    if rms_dbfs is None:
        return Content.styled("mic " + "·" * METER_WIDTH, "$foreground-muted")
    frac = max(0.0, min(1.0, (rms_dbfs - FLOOR_DB) / -FLOOR_DB))
    cells = []
    for i in range(METER_WIDTH):
        cell = max(0.0, min(1.0, frac * METER_WIDTH - i))
        cells.append(METER[round(cell * (len(METER) - 1))] if cell > 0 else " ")
    style = "$error" if rms_dbfs > -3 else "$success"
    return Content.assemble("mic ", ("".join(cells), style))


def format_tokens(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def models_label(settings: Settings, *, spoken: bool = True) -> str:
    """Which providers answer, so a person can tell a local setup from the cloud at a glance."""
    stt = settings.stt.model if settings.stt.provider == "openai" else settings.stt.provider
    tts = {
        "elevenlabs": settings.tts.model,
        "openai": settings.tts.openai_model,
        "local": settings.tts.local_voice.stem if settings.tts.local_voice else "piper",
    }[settings.tts.provider]
    if not spoken:  # no speaker: no voice is made (``NoSpeechTTS``), whatever is configured
        tts = "none"
    return f"STT {stt} · LLM {settings.llm.model} · TTS {tts}"


class StatusBar(Horizontal):
    """Shows what the assistant is doing right now; updated from engine events."""

    def __init__(self, settings: Settings, *, tag: str = "", id: str | None = None) -> None:
        super().__init__(id=id)
        self._settings = settings
        self._tag = tag  # "demo" / "sim": say plainly that no real cloud is answering
        self.mode_text = ""
        self.muted = False
        self.state = "idle"
        self.context_text = ""
        self.audio_text = ""  # devices and echo cancellation, once the audio has started
        self.typing_only = False  # the machine has no microphone
        self.mic_closed = False  # push-to-talk with the microphone closed: nothing is heard
        self.speaker = True  # ...and none of this either: nothing is heard
        self.file_mic = False  # a WAV file is the microphone (see RECORDING_WAITS_STATE)
        self._metered = False  # the level meter has been shown (it waits for a mode)
        # the conversation failed to start (not_started): what its sound sent still comes in
        # (a level reported by a block queued before the sound stopped), and is not shown
        self.not_running = False
        self._meter_cells = 0  # the width of the level last shown
        self._dead_mic = False  # the meter says "mic 0 !": it stays at every width
        self._mode_cells = 0  # the width of the mode last shown
        self._meter_shown: tuple[str, tuple[Any, ...]] | None = None  # text, styles drawn
        # the tool servers answers wait for, said while "thinking" (set_tools_wait)
        self._tools_wait: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(id="status-mode")
        yield Static(id="status-state")
        yield Static(id="status-level")  # the meter, once a mode is in effect (set_mode)
        yield Static(Content.styled(CONTEXT_UNKNOWN, "$foreground-muted"), id="status-context")
        yield Static(self._models(), id="status-models", markup=False)

    @property
    def setup_text(self) -> str:
        """The devices and models in use, as the bar shows them when it is wide enough."""
        return self._models()

    def _models(self) -> str:
        label = models_label(self._settings, spoken=self.speaker)
        if self.audio_text:
            label = f"{self.audio_text} · {label}"
        return f"{self._tag} · {label}" if self._tag else label

    def set_audio(self, input_device: str, output_device: str, echo_cancellation: bool) -> None:
        if self.not_running:
            return
        aec = "AEC on" if echo_cancellation else "AEC off"
        self.audio_text = f"mic {input_device} → {output_device} · {aec}"
        self.typing_only = input_device == NO_DEVICE
        self.file_mic = input_device == "file"
        self.speaker = output_device != NO_DEVICE
        if self.typing_only:
            self.audio_text = f"no mic → {output_device}"
            no_mic = Content.styled("no mic", "$foreground-muted")
            self._show_level(no_mic)
            self.set_mode("", muted=False, ptt_open=False)
        self.query_one("#status-models", Static).update(self._models())

    def not_started(self) -> None:
        """The conversation failed to start: no mode, level or devices are in effect, so
        none is shown (a "hands-free" and a mic meter said it was listening), not even by
        the events its sound sent before it stopped, handled after this."""
        self.not_running = True
        self.mode_text = ""
        self.audio_text = ""
        self._mode_cells = 0
        self.query_one("#status-mode", Static).update("")
        self._show_level(Content(""))
        self.query_one("#status-models", Static).update(self._models())
        self.set_state("stopped")

    def on_mount(self) -> None:
        self.set_state("starting")

    def set_settings(self, settings: Settings) -> None:
        self._settings = settings
        self.query_one("#status-models", Static).update(self._models())

    def set_mode(self, mode: str, *, muted: bool, ptt_open: bool) -> None:
        """The mode slot; "✕ muted" while muted, whatever the engine is doing meanwhile (an
        answer may still be playing), so the state slot need not repeat it."""
        self.muted = muted
        self.mic_closed = mode == "push-to-talk" and not ptt_open
        if self.typing_only:
            content = Content.styled("typing", "bold")
            self.mode_text = "typing only"
        elif muted:
            content = Content.styled("✕ muted", "bold $error")
            self.mode_text = "muted"
        elif mode == "push-to-talk":
            if ptt_open:
                content = Content.assemble(("● ", "bold $error"), ("push-to-talk", "bold"))
                self.mode_text = "push-to-talk (mic open)"
            else:
                content = Content.styled("push-to-talk", "bold")
                self.mode_text = "push-to-talk"
        else:
            content = Content.styled("hands-free", "bold $success")
            self.mode_text = "hands-free"
        self._mode_cells = content.cell_length
        self.query_one("#status-mode", Static).update(content)
        if not self.typing_only and not self._metered:
            self._metered = True
            self._show_level(level_meter(None))
        self.set_state(self.state)

    def set_state(self, state: str) -> None:
        self.state = state
        icon, label = self._state_label(state)
        widget = self.query_one("#status-state", Static)
        widget.set_classes(f"state-{state}")
        # as written: a tool server's name is the person's own ("notes [work]"), no markup
        widget.update(self._fit_state(Content(f"{icon} {label}")))

    def _fit_state(self, content: Content) -> Content:
        """The state, cut with an ellipsis to the cells the bar's other slots leave it.

        The slots are as wide as their text (their CSS width is ``auto``) and Textual
        shrinks none of them to fit, so the state's own length decided whether the level
        meter stayed on screen. The models' label (``1fr``) gets what is left, or nothing.
        Until the bar has been laid out its width is not known: nothing is cut then, and
        ``on_resize`` cuts it."""
        width = self.size.width
        if not width:
            return content
        narrow = self.has_class("-narrow")  # voicedesk.tcss: below 60 columns
        taken = self._mode_cells + SLOT_PADDING
        if not narrow:
            taken = max(MODE_MIN_CELLS, taken)
            # the context shows from 60 columns
            taken += Content(self.context_text or CONTEXT_UNKNOWN).cell_length + SLOT_PADDING
        meter = self._meter_cells + SLOT_PADDING
        room = width - taken - SLOT_PADDING
        # the meter goes before the state is cut to less than its icon and a few letters,
        # unless it says the microphone is dead: below ~30 columns that went unsaid
        show_meter = not narrow or self._dead_mic or room - meter >= STATE_MIN_CELLS
        self.query_one("#status-level", Static).display = show_meter
        if show_meter:
            room -= meter
        # with a dead mic the state gives way whole, then the mode, so "mic 0 !" fits
        dead_and_tight = narrow and self._dead_mic and room < 1
        # (the state's slot gone, its padding is room too)
        mode_goes = dead_and_tight and room + SLOT_PADDING < 0
        if mode_goes:  # the state has the mode's room instead
            room += self._mode_cells + SLOT_PADDING
        self.query_one("#status-mode", Static).display = not mode_goes
        self.query_one("#status-state", Static).display = room >= 1 or not dead_and_tight
        room = max(1, room)
        if content.cell_length <= room:
            return content
        # "◉ hearing…", not "◉ hearing …": a word cut at its end leaves no space before the …
        return Content.assemble(content.truncate(room - 1).rstrip(), "…")

    def on_resize(self) -> None:
        """The bar's width changed (the terminal's, or the narrow layout's slots): the
        state is cut again for it (``_fit_state``)."""
        self.set_state(self.state)

    def set_tools_wait(self, servers: tuple[str, ...]) -> None:
        """The tool servers answers wait for now (none: no answer waits): "thinking" said
        nothing of it for up to 9 s, the model blamed."""
        self._tools_wait = servers
        self.set_state(self.state)

    def _state_label(self, state: str) -> tuple[str, str]:
        if state == "thinking" and self._tools_wait:
            # the bar is one line, at 80 columns too; cut by cells (a CJK name is two each)
            names = Content(", ".join(self._tools_wait))
            names = names.truncate(WAITED_NAMES_WIDTH, ellipsis=True)
            plural = "s" if len(self._tools_wait) > 1 else ""
            return "◌", f"waiting for tool server{plural} {names.plain}"
        if self.recording_waits and state in ("muted", "listening"):
            return RECORDING_WAITS_STATE
        if state == "muted" and self.muted:
            return MUTED_STATE_WHEN_SHOWN
        if state == "listening" and (self.typing_only or self.mic_closed):
            return READY_STATE
        if state == "speaking" and not self.speaker:
            return SPEAKING_NO_SPEAKER
        return STATE_LABELS.get(state, ("?", state))

    @property
    def recording_waits(self) -> bool:
        """A WAV microphone that is not being listened to, so it does not play on."""
        return self.file_mic and not self.typing_only and (self.muted or self.mic_closed)

    @property
    def state_label(self) -> str:
        return self._state_label(self.state)[1]

    def set_level(self, rms_dbfs: float, zero_input: bool) -> None:
        """About 20 times a second. A layout pass arranges every widget on the screen (each
        turn in the conversation) on the loop the engine shares: the meter asks for one
        only when its width changes ("mic 0 !"), else it is only drawn again."""
        if self.typing_only or self.not_running:
            return
        self._dead_mic = zero_input
        self._show_level(level_meter(rms_dbfs, zero_input))

    def _show_level(self, content: Content) -> None:
        """Draw the meter only when the bar changes: a quiet room sends the same bar about
        20 times a second, and each update redrew the screen (8–9 % of a core while idle)."""
        shown = (content.plain, tuple(content.spans))  # Content's == compares text only
        if shown == self._meter_shown:
            return
        self._meter_shown = shown
        widget = self.query_one("#status-level", Static)
        resized = content.cell_length != self._meter_cells
        widget.update(content, layout=resized)
        self._meter_cells = content.cell_length
        if resized:  # ("mic 0 !" is two cells shorter than the meter) the state fits anew
            self.set_state(self.state)

    def set_context(self, prompt_tokens: int, budget_tokens: int) -> None:
        """The last prompt's size against the budget. A size of 0 is none measured (a
        conversation resumed whose last question was never answered): it said "ctx 0/6.0k",
        as if the model had been sent nothing of the earlier turns."""
        if prompt_tokens <= 0:
            self.context_text = CONTEXT_UNKNOWN
            self.query_one("#status-context", Static).update(
                Content.styled(CONTEXT_UNKNOWN, "$foreground-muted")
            )
            self.set_state(self.state)
            return
        self.context_text = f"ctx {format_tokens(prompt_tokens)}/{format_tokens(budget_tokens)}"
        full = budget_tokens and prompt_tokens / budget_tokens
        style = "$error" if full > 0.9 else "$warning" if full > 0.7 else ""
        self.query_one("#status-context", Static).update(Content.styled(self.context_text, style))
        self.set_state(self.state)
