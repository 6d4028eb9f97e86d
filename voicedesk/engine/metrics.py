"""Per-turn timing records (DESIGN §7) on one timeline.

All stage times are seconds on the session timeline, which *is* the input audio timeline:
audio positions (speech end, playback start) are exact block positions, and loop-side
moments (first token, first TTS audio) are converted from ``time.monotonic_ns`` with the audio
clock's anchor. Every stage is therefore the moment audio reached or left voicedesk, and the
differences between stages are voicedesk's and its providers' delays.

``speech_end`` is where the person's words ended (``turn/words_end.py``), not where the VAD
heard silence, a median 51–73 ms later on Piper speech: the waits they sat through start there.
Replay's ``end_s`` and the ``TurnEnded`` event keep the VAD's end, from which the turn
policy counts its waits.

``now_s`` counts from the audio's start as the earliest-delivered block puts it, so a loop
stamp is never before an audio stamp of a block already in: the derived stages are never
negative (a transcript final before the speech end, the talk key held past a pause, is
final at it: ``stt_delay`` 0). An audio stamp minus a loop stamp (``playback_start`` −
``tts_first_audio``, bench latency's ``to_speaker``) can read negative when the audio
thread ran behind the loop on a loaded machine.

The person is further out. A sound card hands us what they say ``input_latency_s`` after
they say it, and plays what we hand it ``output_latency_s`` later (the backend's estimates,
recorded when the answer starts playing; 0 for WAV files). So the person said
``speech_start``/``speech_end`` ``input_latency_s`` before those stamps, and hears
``playback_start``/``playback_end`` (and the stop at ``interrupted_at``) ``output_latency_s``
after them. The stamps stay on the one timeline, so they still subtract; what the person
lives through adds the device: ``voice_to_voice = playback_start − speech_end +
device_latency``, with ``device_latency = input_latency_s + output_latency_s``.
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# The stages one answering attempt stamps (``Reply``): a restarted attempt starts them
# afresh, so TTFT and TTFB are the answer's own, never a cancelled attempt's; once an
# attempt has begun to play, they stay its own (an attempt after it is only counted).
REPLY_STAGES = (
    # the first request waited from here for tool servers still starting (the session
    # listens before they are up): its tools would be missing otherwise
    "servers_wait_start",
    "llm_request",
    "llm_first_token",
    "llm_done",
    # a turn with tool calls: first call sent → last result back (or the answer's patience
    # with slow tools over: they go on in the background), then the model's next round
    "tool_start",
    "tool_done",
    "followup_request",
    "followup_first_token",
    # the answer's first text reaches the voice pipeline; the voice is handed its first piece
    # (a clause or 40 characters later: ``FirstPieceSignal``); its first audio comes
    "tts_request",
    "tts_first_piece",
    "tts_first_audio",
)
STAGES = (
    "speech_start",
    "speech_end",
    "eou_decided",
    "stt_final",
    *REPLY_STAGES,
    "playback_start",
    "playback_end",
    "interrupted_at",
)


@dataclass
class TurnRecord:
    turn_id: int
    user_text: str = ""
    assistant_text: str = ""
    heard_text: str = ""
    interrupted: bool = False
    eou_reason: str | None = None
    eou_probability: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    preemptive_restarts: int = 0
    # attempts at the answer begun after an earlier one began to play: their times are not
    # in ``t``, whose reply stages stay those of the attempt heard first, the one
    # voice-to-voice is timed to
    restarts_after_heard: int = 0
    # requests of this turn the model refused as longer than its context window, each sent
    # again shorter (the context budget lowered for the rest of the session)
    too_long_retries: int = 0
    # the model stopped the answer at llm.max_tokens (finish_reason "length"), mid-sentence
    reached_max_tokens: bool = False
    # the answer's tool calls were slower than its patience and went on in the background:
    # its words so far (the holding line) are what the model said of them
    went_background: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    # what fixes ``error`` (the check a provider's error names: the account's billing, a
    # key): the turn shows it with the error, where the notice saying both is gone in 10 s
    error_fix: str | None = None
    # a provider failure ended the answer: what was heard of it is not all of it, even when
    # it is all that came (with no speaker, or spoken to its end before the stream dropped),
    # which the heard and written texts alone cannot tell from a complete answer
    failed: bool = False
    # of a ``failed`` answer: the provider's content filter withheld it (or its rest), the
    # provider's refusal rather than a service failing; a headless run does not count it
    filtered: bool = False
    # the sound card's latencies when the answer started playing (None: nothing played)
    input_latency_s: float | None = None
    output_latency_s: float | None = None
    t: dict[str, float] = field(default_factory=dict)

    def mark(self, stage: str, at_s: float, *, overwrite: bool = False) -> None:
        if overwrite or stage not in self.t:
            self.t[stage] = round(at_s, 4)

    def set_device_latency(self, input_s: float, output_s: float) -> None:
        self.input_latency_s = round(input_s, 4)
        self.output_latency_s = round(output_s, 4)

    @property
    def device_latency_s(self) -> float | None:
        if self.input_latency_s is None or self.output_latency_s is None:
            return None
        return round(self.input_latency_s + self.output_latency_s, 4)

    def derived(self) -> dict[str, float | None]:
        t = self.t

        def diff(a: str, b: str) -> float | None:
            return round(t[a] - t[b], 4) if a in t and b in t else None

        gap = diff("playback_start", "speech_end")
        device = self.device_latency_s
        return {
            "eou_delay": diff("eou_decided", "speech_end"),
            "stt_delay": diff("stt_final", "speech_end"),
            "servers_wait": diff("llm_request", "servers_wait_start"),
            "ttft": diff("llm_first_token", "llm_request"),
            "tool_wait": diff("tool_done", "tool_start"),
            "followup_ttft": diff("followup_first_token", "followup_request"),
            # first text → the voice's first piece: the model writing its first clause (or
            # 40 characters) and our cutting, not the voice's delay
            "first_words": diff("tts_first_piece", "tts_request"),
            # the voice's own time to first audio; a record from before the first piece was
            # marked has only the two together, the wait for the words in it
            "ttfb": diff(
                "tts_first_audio", "tts_first_piece" if "tts_first_piece" in t else "tts_request"
            ),
            "device_latency": device,
            # from the person's last word to the first sound of the answer they hear
            "voice_to_voice": None if gap is None else round(gap + (device or 0.0), 4),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = "turn"
        data.update(self.derived())
        return data


def timings_line(record: dict[str, Any], *, compact: bool = False) -> str:
    """A turn's stage timings on one line, for the headless printout; ``compact``, the few
    that add up to voice-to-voice, short enough for a narrow terminal, where the terminal
    UI has no room for its timings pane, without the stages the turn has no figure for
    (a typed turn has no voice-to-voice or turn end). A tool turn's also has the tools' wait and the
    model's second round (its time to first token), without which it did not add up; an
    answer that waited for tool servers still starting, that wait (before its request). The
    wait for the answer's first words (its first text → the voice's first piece) stands
    before the voice's own time to first audio; a record from before it was marked has
    none, its "ttfb" both together."""

    def fmt(key: str) -> str:
        v = record.get(key)
        if not isinstance(v, (int, float)):
            return "–"
        return f"{v:.2f}s" if compact and v >= 1 else f"{v * 1000:.0f}ms"

    tools = record.get("tool_wait") is not None
    has_words = record.get("first_words") is not None
    waited = record.get("servers_wait") is not None
    if compact:
        servers = f"servers {fmt('servers_wait')} · " if waited else ""
        if record.get("went_background") and record.get("followup_ttft") is None:
            # the wait until the call went on in the background; a holding line, no 2nd round
            second = f"tools→bg {fmt('tool_wait')} · " if tools else ""
        else:
            second = (
                f"tools {fmt('tool_wait')} · LLM 2nd {fmt('followup_ttft')} · " if tools else ""
            )
        words = f"words {fmt('first_words')} · " if has_words else ""
        line = (
            f"v2v {fmt('voice_to_voice')} · turn end {fmt('eou_delay')} · {servers}"
            f"LLM {fmt('ttft')} · "
            f"{second}{words}TTS {fmt('ttfb')}"
        )
        # without the stages the turn had none of: a typed turn's line began "v2v – · turn
        # end – ·" and, on a 40×10 terminal, took half the conversation's rows
        return " · ".join(part for part in line.split(" · ") if not part.endswith(" –")) or "–"

    second = f"tools {fmt('tool_wait')} · 2nd ttft {fmt('followup_ttft')} · " if tools else ""
    words = f"first words {fmt('first_words')} · " if has_words else ""
    servers = f"tool servers {fmt('servers_wait')} · " if waited else ""
    # the sound card's share of voice-to-voice, where it has one (not for WAV files)
    device = f" (of which device {fmt('device_latency')})" if record.get("device_latency") else ""
    return (
        f"end-of-turn {fmt('eou_delay')} · stt {fmt('stt_delay')} · {servers}"
        f"ttft {fmt('ttft')} · "
        f"{second}{words}ttfb {fmt('ttfb')} · voice-to-voice {fmt('voice_to_voice')}{device}"
    )


def new_run_id() -> str:
    """One run's mark on its metrics records, e.g. ``2025-06-01T12:30:05.123Z-3f9a1c``.

    Turn ids start at 1 in every run and ``--metrics-out`` appends, so without it two runs
    in one file cannot be told apart. UTC and fixed width, so the ids sort as the runs
    started (to the millisecond); the random suffix keeps two runs started in the same
    millisecond (two processes) apart."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return f"{stamp}Z-{secrets.token_hex(3)}"


def run_record(record: dict[str, Any], run_id: str) -> dict[str, Any]:
    """``record`` as a metrics file keeps it: ``run_id`` first, so a line says whose it is."""
    return {"run_id": run_id, **record}


# the tag a turn record's error has when speech-to-text failed (as engine/session.py writes it)
STT_ERROR_TAG = "stt: "


def error_said(record: dict[str, Any]) -> str:
    """A turn record's error as its turn shows it: in words, as its notice said it (not
    with the record's "stt: " tag), with what fixes it when known."""
    error = str(record.get("error"))
    if error.startswith(STT_ERROR_TAG):
        error = f"Speech-to-text failed: {error.removeprefix(STT_ERROR_TAG)}"
    fix = record.get("error_fix")
    return error + (f" → {fix}" if fix else "")


def answer_cut(record: dict[str, Any]) -> str | None:
    """Why a turn record's answer was not heard whole: "interrupted" (the person broke in),
    "failed" (a provider failure stopped it partway: heard less than was written) or
    "length" (the model stopped it at llm.max_tokens); None when it was heard to its end.
    The live history marks each as cut off, so a resumed one and the printed conversation
    must too."""
    if record.get("interrupted"):
        return "interrupted"
    heard = str(record.get("heard_text") or "").strip()
    if record.get("failed"):
        return "failed"
    # a log written before records said "failed": heard less than was written
    if record.get("error") and heard != str(record.get("assistant_text") or "").strip():
        return "failed"
    # an error need not have cut it (speech-to-text failing on one pause of a turn whose
    # next pause's words were answered), and the engine never records a failed answer as
    # stopped at the length limit: the live history has it cut there, whatever the error
    if record.get("reached_max_tokens"):
        return "length"
    return None


def unheard_holding_line(record: dict[str, Any]) -> str:
    """What the person did not hear of the turn's answer, when that answer said its calls
    went on in the background and was cut before its holding line was heard whole (they
    went on, spoke or typed, or the voice failed); else "". The history keeps only what
    was heard of a cut answer, but this rest is the model's only trace of calls still
    running (their results come later): left out, it was asked the next words not knowing
    of them, and could make them again, whether nothing of the answer had been heard or
    only its first words ("Let me write—"). The live history and ``--resume`` keep it
    after the heard part, marked as not heard."""
    if not record.get("went_background") or answer_cut(record) not in ("interrupted", "failed"):
        return ""
    said = str(record.get("assistant_text") or "")
    heard = str(record.get("heard_text") or "").strip()
    if not said.startswith(heard):  # not a prefix (a hand-edited log): nothing to go by
        return ""
    return said[len(heard) :].strip()


def percentile(values: list[float], q: float) -> float | None:
    """The sorted value at rank ``q/100 × (n − 1)`` rounded, with no interpolation (a time
    that was measured, not one between two); None for no data. Benchmarks report medians
    with ``statistics.median`` and p95s with this."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    if len(vals) == 1:
        return vals[0]
    k = max(0, min(len(vals) - 1, round(q / 100 * (len(vals) - 1))))
    return vals[k]


def summarize(values: list[float]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None]
    return {
        "n": len(vals),
        "p50": statistics.median(vals) if vals else None,
        "p90": percentile(vals, 90),
        "p95": percentile(vals, 95),
    }
