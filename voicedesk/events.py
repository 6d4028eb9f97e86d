"""Typed engine events and the bus that carries them.

The engine publishes; the TUI, metrics recorder, session log and tests subscribe. Every event
is stamped with ``time.monotonic_ns()`` at creation (one clock for the whole session). Events
that describe a position in the audio also carry ``audio_s``: seconds on the input timeline,
converted once at the audio boundary.

``publish`` must be called on the event-loop thread; audio callbacks hop over with
``loop.call_soon_threadsafe``. Subscribers must not block: the bus calls them inline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from voicedesk.config_secrets import hide_in_message

log = logging.getLogger(__name__)

EngineState = Literal["idle", "listening", "hearing", "thinking", "speaking", "tool", "muted"]
# "muted" and "mode": the person muted the microphone or switched the talk mode mid-turn
# (``Session.set_muted``/``set_mode``); live only, never in a replay.
EouReason = Literal["model", "transcript", "timeout", "ptt", "muted", "mode"]


def now_ns() -> int:
    return time.monotonic_ns()


# How much a Notice matters: the TUI shows each with its severity, the console its prefix.
NoticeLevel = Literal["info", "warning", "error"]


@dataclass(frozen=True, kw_only=True)
class Event:
    t_ns: int = field(default_factory=now_ns)


# ---- audio and turn detection -------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class InputLevel(Event):
    """Input level for meters, published at most ~20 times a second."""

    rms_dbfs: float
    zero_input: bool = False


NO_DEVICE = "none"


@dataclass(frozen=True, kw_only=True)
class AudioInfo(Event):
    """Which devices are in use and whether echo cancellation runs (published at start).

    ``NO_DEVICE`` for a device the machine does not have (typing only, or answers unheard)."""

    input_device: str
    output_device: str
    echo_cancellation: bool


@dataclass(frozen=True, kw_only=True)
class MicrophoneEnded(Event):
    """The WAV file that stands for the microphone (the demo's recording, ``--input``) has
    been heard to its end, its last turn answered: nothing more will come from it. The
    terminal UI then offers typing only, as without a microphone: its talk, hands-free,
    mute and microphone-check keys had nothing left to act on."""


@dataclass(frozen=True, kw_only=True)
class TalkKeyLetGo(Event):
    """The engine let go of the push-to-talk key itself: the WAV microphone was heard to
    its end with the key's turn open, and that turn was ended as a release ends it. The
    terminal UI showed the key held (its mic open) until the answer had ended, though
    nothing more was being heard."""


@dataclass(frozen=True, kw_only=True)
class SpeechStarted(Event):
    audio_s: float


@dataclass(frozen=True, kw_only=True)
class SpeechStopped(Event):
    """VAD heard enough silence; ``end_s`` is where the speech ended on the input timeline."""

    audio_s: float
    end_s: float


@dataclass(frozen=True, kw_only=True)
class EouCheck(Event):
    audio_s: float
    probability: float | None
    text_so_far: str
    verdict: Literal["complete", "incomplete", "wait"]


@dataclass(frozen=True, kw_only=True)
class TurnEnded(Event):
    """The turn is confirmed over (``decided_s``); playback of the answer may start.

    ``text`` is empty when the turn said nothing that counts: a noise, or a backchannel
    over the answer (``BargeIn.text``)."""

    turn_id: int
    start_s: float
    end_s: float
    decided_s: float
    reason: EouReason
    probability: float | None
    text: str


# ---- transcription ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TurnMerged(Event):
    """The person went on before hearing any of the answer to ``turn_id``: that turn (and
    its unheard answer) is withdrawn and continues as turn ``into``."""

    turn_id: int
    into: int


@dataclass(frozen=True, kw_only=True)
class TranscriptInterim(Event):
    turn_id: int
    text: str


@dataclass(frozen=True, kw_only=True)
class TranscriptFinal(Event):
    turn_id: int
    text: str


# ---- generation ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class LLMRequest(Event):
    turn_id: int
    kind: Literal["turn", "summary", "tool_followup"] = "turn"
    prompt_tokens: int | None = None
    preemptive: bool = False


@dataclass(frozen=True, kw_only=True)
class LLMFirstToken(Event):
    turn_id: int


@dataclass(frozen=True, kw_only=True)
class AssistantDelta(Event):
    """Text of the answer as it streams (not yet spoken)."""

    turn_id: int
    text: str


@dataclass(frozen=True, kw_only=True)
class LLMDone(Event):
    turn_id: int
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    cancelled: bool = False


@dataclass(frozen=True, kw_only=True)
class ToolCallStarted(Event):
    turn_id: int
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ToolCallProgress(Event):
    call_id: str
    progress: float | None
    total: float | None = None
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class ToolCallFinished(Event):
    call_id: str
    name: str
    result_text: str
    spoken_summary: str
    is_error: bool
    duration_s: float
    cancelled: bool = False
    # the result as the person is shown it, when not ``result_text`` (written for the
    # model): an image in it is "[image, image/png, 34 kB]", not a sentence to the model
    shown_text: str = ""

    @property
    def shown(self) -> str:
        return self.shown_text or self.result_text


@dataclass(frozen=True, kw_only=True)
class TTSRequest(Event):
    turn_id: int


@dataclass(frozen=True, kw_only=True)
class TTSFirstAudio(Event):
    turn_id: int


# ---- playback -----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PlaybackStarted(Event):
    turn_id: int
    audio_s: float


@dataclass(frozen=True, kw_only=True)
class PlaybackEnded(Event):
    turn_id: int
    audio_s: float
    interrupted: bool
    heard_text: str


@dataclass(frozen=True, kw_only=True)
class BargeIn(Event):
    """Speech over answer ``turn_id`` paused it, or (``resumed``) it turned out not to be an
    interruption: a noise, or a backchannel ("mm-hm" alone, or fewer than
    ``barge_in.min_words`` words; ``text``, its words). A backchannel is not a user turn: it gets no
    ``TranscriptFinal``, no answer, no place in the history or the session log."""

    turn_id: int
    audio_s: float
    resumed: bool = False
    text: str = ""


# ---- session ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class StateChanged(Event):
    state: EngineState


@dataclass(frozen=True, kw_only=True)
class ToolServersWait(Event):
    """The tool servers still starting that answers' requests wait for (by name), once
    they have waited past a moment, published again each time that changes (one came up:
    only those left are named); empty: no answer waits any more (the request goes, or the
    answer was dropped). The engine state stays "thinking" all along: a display says what
    is awaited, which a one-off notice said only for seconds."""

    servers: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    """Something the person should read (provider error, tool failure, hint). A message
    made from an error that quotes a secret this process holds (a server's echo of the key
    it was sent) is shown without it."""

    level: NoticeLevel
    message: str
    # The turn whose own display says this (its answer marked failed or cut at the length
    # limit): the terminal UI keeps other warnings and errors in the conversation, not these.
    turn_id: int | None = None
    # Information the terminal UI keeps in the conversation as it keeps a warning, where a
    # toast alone was gone in 5 s: what stays true (a WAV microphone heard to its end).
    kept: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", hide_in_message(self.message))


@dataclass(frozen=True)
class PastToolCall:
    """A tool call of a resumed conversation."""

    name: str
    arguments: dict[str, Any]
    result: str | None = None  # what it answered, as the log kept it; None: not kept
    # whether the call failed (its server said isError); None: the log does not say (one
    # written before it did, or a call with no result)
    failed: bool | None = None


@dataclass(frozen=True)
class PastTurn:
    """One turn of a resumed conversation, as its session log kept it."""

    turn_id: int
    user_text: str  # "" for a follow-up answering background tool results
    heard_text: str | None  # None: no answer was heard (it never finished, or failed)
    assistant_text: str = ""  # the whole answer written, longer than heard_text when cut
    interrupted: bool = False
    tool_calls: tuple[PastToolCall, ...] = ()
    summarised: bool = False  # folded into the summary the model now has instead
    failed: str | None = None  # the error that cut the answer off (None: it was not)
    capped: bool = False  # the model stopped the answer at llm.max_tokens, mid-sentence


@dataclass(frozen=True, kw_only=True)
class ConversationResumed(Event):
    """``--resume`` took up an earlier conversation: its last turns, for the person to see
    what they are continuing (the model has them, or their summary, already)."""

    turns: tuple[PastTurn, ...]
    not_shown: int = 0  # earlier turns left out to keep the pane short
    summarised: int = 0  # turns, shown or not, the model now has only as a summary


@dataclass(frozen=True, kw_only=True)
class ContextUpdated(Event):
    prompt_tokens: int
    budget_tokens: int
    summary_made: bool = False
    summary: str | None = None


@dataclass(frozen=True, kw_only=True)
class TurnMetrics(Event):
    """The per-turn metrics record (DESIGN §7), as written to the session log."""

    turn_id: int
    record: dict[str, Any]


Subscriber = Callable[[Event], None]


class EventBus:
    """A tiny synchronous fan-out; cheap enough to sit on the audio→engine hot path."""

    def __init__(self) -> None:
        self._subs: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        self._subs.append(fn)

        def unsubscribe() -> None:
            if fn in self._subs:
                self._subs.remove(fn)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for fn in tuple(self._subs):
            try:
                fn(event)
            except Exception:  # a broken subscriber must never stop the engine
                log.exception("event subscriber %r failed on %s", fn, type(event).__name__)

    async def stream(self, maxsize: int = 10_000) -> AsyncIterator[Event]:
        """Iterate events through a queue (for consumers that await between events)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)

        def put(ev: Event) -> None:
            if queue.full():  # drop the oldest rather than block the publisher
                queue.get_nowait()
            queue.put_nowait(ev)

        unsubscribe = self.subscribe(put)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()
