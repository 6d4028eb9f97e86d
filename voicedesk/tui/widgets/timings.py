"""The timings pane: the latest turn as a waterfall on one time axis, and a v2v sparkline.

Time zero is where the person stopped speaking as voicedesk heard it (for a typed turn: when
it was sent), so each bar reads as "how long after you stopped did this happen". Each stage
is shown from its two marks, as the metrics record figures it: a typed turn has no end of
speech, so no turn end, STT or v2v, as its ``--metrics-out`` line has none. A sound card
adds its latencies on the person's side (``engine.metrics``): the "mic" bar before time zero
(they stopped that long before we heard it) and the "speaker" bar after the answer's start
(they hear it that long after), shown when the device has any; the v2v bar spans both, as
the record's ``voice_to_voice`` does. A stage over its target is red: those are the budgets
that add up to answering as fast as a person would. A turn the person cut (Esc, or talking
over it) says so under the pane, and a stage under way when it was cut is drawn up to the
cut, marked ✂, not as a stage that never was.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any, NamedTuple

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from voicedesk.engine.metrics import percentile


@dataclass(frozen=True)
class Stage:
    label: str
    start: str
    end: str
    target_s: float | None  # None: no budget (a tool takes what it takes)
    # the record's figure for it (``TurnRecord.derived``), shown as its value: the marks
    # subtracted here carry float noise (4.8255 − 4.71 = 0.11549999…: 115ms where the
    # metrics line of the same turn says 116ms)
    figure: str
    # shown only for turns whose record has each of these marks in ``t`` or non-zero fields
    only_if: tuple[str, ...] = ()
    lead: str | None = None  # record field: seconds the stage starts before its start mark
    lag: str | None = None  # record field: seconds the stage ends after its end mark
    # the mark it starts at in a record that lacks ``start`` (written before it was marked)
    start_else: str | None = None


STAGES = (
    # the sound card: what the person said reached us this long after they said it …
    Stage(
        "mic",
        "speech_end",
        "speech_end",
        None,
        "input_latency_s",
        only_if=("speech_end", "input_latency_s"),
        lead="input_latency_s",
    ),
    Stage("turn end", "speech_end", "eou_decided", 0.25, "eou_delay"),
    Stage("STT", "speech_end", "stt_final", 0.3, "stt_delay"),
    # the first answer waited for tool servers still starting (the session listens first)
    Stage(
        "servers",
        "servers_wait_start",
        "llm_request",
        None,
        "servers_wait",
        only_if=("servers_wait_start",),
    ),
    Stage("LLM TTFT", "llm_request", "llm_first_token", 0.8, "ttft"),
    # a tool turn: the calls, then the model's round with their results (engine metrics)
    Stage("tools", "tool_start", "tool_done", None, "tool_wait", only_if=("tool_start",)),
    Stage(
        "LLM 2nd",
        "followup_request",
        "followup_first_token",
        0.8,
        "followup_ttft",
        only_if=("tool_start",),
    ),
    # the answer's first text → the first piece the voice is given (a clause, or 40
    # characters): the model writing its first words, then the voice's own time to audio.
    # A record from before the first piece was marked has no "1st words" row, and its TTS
    # row is both, from the first text, as its "ttfb" is.
    Stage(
        "1st words",
        "tts_request",
        "tts_first_piece",
        0.2,
        "first_words",
        only_if=("tts_first_piece",),
    ),
    Stage("TTS TTFB", "tts_first_piece", "tts_first_audio", 0.4, "ttfb", start_else="tts_request"),
    # … and they hear the answer this long after we hand it over
    Stage(
        "speaker",
        "playback_start",
        "playback_start",
        None,
        "output_latency_s",
        only_if=("playback_start", "output_latency_s"),
        lag="output_latency_s",
    ),
    # end of speech → first answer audio, as the person lives it (the device included): the
    # voice-to-voice time, not playback's length
    Stage(
        "v2v",
        "speech_end",
        "playback_start",
        1.3,
        "voice_to_voice",
        lead="input_latency_s",
        lag="output_latency_s",
    ),
)
LABEL_W = 9
BACKGROUND_TOOLS = "tools→bg"  # the tools row of a turn whose call went to the background
VALUE_W = 7
VOICE_TO_VOICE_TARGET = 1.3
# Records kept: the pane shows the latest; the rest are history for a look back (tests, a
# debugger). Left open all day, the pane kept every turn's record, texts and all.
RECORDS_KEPT = 200


class Span(NamedTuple):
    stage: Stage
    start: float | None  # seconds from time zero; None: the stage is missing
    end: float | None
    cut: bool = False  # under way when the person cut the turn: it ends at the cut


def stage_spans(record: dict[str, Any]) -> list[Span]:
    """Each stage's span in seconds from time zero.

    Tool stages are listed only for turns that called a tool, device ones only for a device
    with latency."""
    t: dict[str, float] = record.get("t") or {}
    # a call gone to the background: its turn had no second round, a holding line instead
    no_second = bool(record.get("went_background")) and "followup_request" not in t
    stages = [
        stage
        for stage in STAGES
        if all(name in t or bool(record.get(name)) for name in stage.only_if)
        and not (no_second and stage.label == "LLM 2nd")
    ]
    if not t:
        return [Span(stage, None, None) for stage in stages]
    origin = t.get("speech_end", t.get("speech_start", min(t.values())))
    cut_at = t.get("interrupted_at") if record.get("interrupted") else None
    spans: list[Span] = []
    for stage in stages:
        # both marks, as the record's own figures (``TurnRecord.derived``): a typed turn
        # has no end of speech, and its v2v measured from time zero (when it was sent) was
        # a figure the metrics line never had, shown over "no spoken turns yet"
        start, end = t.get(stage.start), t.get(stage.end)
        if start is None and stage.start_else is not None:
            start = t.get(stage.start_else)
        lead = float(record.get(stage.lead) or 0.0) if stage.lead else 0.0
        if start is not None and end is None and cut_at is not None and cut_at >= start:
            # begun, never ended: the person cut the turn (Esc during the model's second
            # round). Shown as "–", it read as a stage that never happened.
            spans.append(Span(stage, start - lead - origin, cut_at - origin, cut=True))
        elif start is None or end is None:
            spans.append(Span(stage, None, None))
        else:
            lag = float(record.get(stage.lag) or 0.0) if stage.lag else 0.0
            spans.append(Span(stage, start - lead - origin, end + lag - origin))
    return spans


def fmt_s(value: float) -> str:
    return f"{value * 1000:.0f}ms" if abs(value) < 1 else f"{value:.2f}s"


class Waterfall(Widget):
    """Horizontal bars for one turn's stages; width follows the pane."""

    DEFAULT_CSS = "Waterfall { height: auto; }"  # two more rows for a tool turn

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.record: dict[str, Any] | None = None

    def set_record(self, record: dict[str, Any]) -> None:
        self.record = record
        self.refresh(layout=True)  # a tool turn has two more rows: the height must follow

    def render(self) -> Content:
        if self.record is None:
            return Content.styled("No turn measured yet.", "$foreground-muted")
        spans = stage_spans(self.record)
        bar_w = max(4, self.size.width - LABEL_W - VALUE_W - 2)
        known = [(s, e) for _, s, e, _ in spans if s is not None and e is not None]
        lo = min([0.0, *(s for s, _ in known)])
        hi = max([0.1, *(e for _, e in known)])
        scale = (bar_w - 1) / (hi - lo)
        lines = []
        for stage, start, end, cut in spans:
            label = stage.label
            if stage.label == "tools" and self.record.get("went_background"):
                # the wait until the call went on in the background, not the call's length
                # (its card has that): "tools 2.00s" read as a tool that took 2 s
                label = BACKGROUND_TOOLS
            label = label.ljust(LABEL_W)[:LABEL_W]
            if start is not None and end is not None and cut:
                a = round((start - lo) * scale)
                b = max(a + 1, round((end - lo) * scale) + 1)
                bar = " " * a + "█" * (b - a) + " " * (bar_w - b)
                lines.append(
                    Content.assemble(
                        (label, "$foreground-muted"),
                        " ",
                        (bar[:bar_w], "$foreground-muted"),
                        " ",
                        (f"✂{fmt_s(end - start)}".rjust(VALUE_W), "$warning"),
                    )
                )
                continue
            if start is None or end is None:
                lines.append(
                    Content.assemble(
                        (label, "$foreground-muted"),
                        " ",
                        ("·" * bar_w, "$foreground-muted 40%"),
                        " ",
                        ("–".rjust(VALUE_W), "$foreground-muted"),
                    )
                )
                continue
            figure = self.record.get(stage.figure)
            value = float(figure) if isinstance(figure, (int, float)) else end - start
            a = round((start - lo) * scale)
            b = max(a + 1, round((end - lo) * scale) + 1)
            over = stage.target_s is not None and value > stage.target_s
            style = "$warning" if stage.target_s is None else "$error" if over else "$success"
            bar = " " * a + "█" * (b - a) + " " * (bar_w - b)
            lines.append(
                Content.assemble(
                    label,
                    " ",
                    (bar[:bar_w], style),
                    " ",
                    (fmt_s(value).rjust(VALUE_W), f"bold {style}" if over else ""),
                )
            )
        left = "0" if lo == 0 else fmt_s(lo)
        right = fmt_s(hi)
        axis = " " * (LABEL_W + 1) + left + " " * max(1, bar_w - len(left) - len(right)) + right
        lines.append(Content.styled(axis, "$foreground-muted"))
        return Content("\n").join(lines)


class TimingsPane(Vertical):
    """Waterfall of the latest :class:`TurnMetrics` plus voice-to-voice over the session."""

    DEFAULT_CLASSES = "pane"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Timings"
        self.records: deque[dict[str, Any]] = deque(maxlen=RECORDS_KEPT)
        self.v2v: list[float] = []

    def compose(self) -> ComposeResult:
        yield Waterfall(id="waterfall")
        yield Sparkline([], id="v2v-sparkline")
        yield Static(
            Content.styled("v2v: no spoken turns yet", "$foreground-muted"), id="v2v-stats"
        )

    def on_mount(self) -> None:
        self.query_one(Sparkline).display = False

    def add_record(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        turn = record.get("turn_id", "?")
        reason = record.get("eou_reason")
        cut = " · ✂ cut" if record.get("interrupted") else ""
        self.border_subtitle = f"turn {turn}" + (f" · {reason}" if reason else "") + cut
        self.query_one(Waterfall).set_record(record)
        v2v = record.get("voice_to_voice")
        if isinstance(v2v, (int, float)):
            self.v2v.append(float(v2v))
            sparkline = self.query_one(Sparkline)
            sparkline.data = list(self.v2v)
            sparkline.display = True
            p50 = statistics.median(self.v2v)
            p95 = percentile(self.v2v, 95) or p50
            style = "$error" if p50 > VOICE_TO_VOICE_TARGET else "$success"
            self.query_one("#v2v-stats", Static).update(
                Content.assemble(
                    "v2v p50 ",
                    (fmt_s(p50), f"bold {style}"),
                    " p95 ",
                    (fmt_s(p95), "bold $error" if p95 > VOICE_TO_VOICE_TARGET else "bold"),
                    (f" n={len(self.v2v)}", "$foreground-muted"),
                )
            )
