"""One attempt at answering a turn: LLM tokens → TTS → playback, streamed end to end.

A reply may start *before* the turn is confirmed (preemptive generation). Until ``confirm()``
its audio is held, never played; ``cancel()`` drops it quietly. After ``confirm()`` audio goes
to the playback buffer the moment it lands. Each text delta is shown as it arrives, and its
spoken form (engine/spoken.py) handed to TTS as soon as its words are whole: no waiting for
sentences (the TTS provider decides how much text it needs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from voicedesk import events as ev
from voicedesk.engine.heard import heard_prefix
from voicedesk.engine.metrics import REPLY_STAGES, TurnRecord
from voicedesk.engine.speakable import SpeakableText
from voicedesk.engine.spoken import SpokenText
from voicedesk.engine.tool_jobs import INTERRUPTED_RESULT, NO_RESULT, with_every_result
from voicedesk.errors import ContextTooLongError, ProviderError
from voicedesk.providers.base import (
    ChatRequest,
    Finished,
    LanguageModel,
    SpeechStream,
    TextDelta,
    ToolCall,
    ToolCalls,
    ToolsRefused,
    Usage,
)

log = logging.getLogger(__name__)

# Leading near-silence in TTS audio is latency the listener hears; trim it from the first chunk.
_SILENCE_LEVEL = 300  # int16 peak below which a sample counts as silence (≈ −40 dBFS)
_MAX_TRIM_S = 0.5
# The quiet kept before the first audible sample: the start of a breathy onset ("Hello")
_LEAD_IN_S = 0.005
# The voice's deadlines, from the later of the last audio chunk and the last text sent: a
# voice waits for enough text (a clause, 40 characters, its chunk schedule) before it can
# speak, so while a slow model's words still come the silence is the model's.
_FIRST_AUDIO_TIMEOUT_S = 5.0  # before the first chunk
_STALL_TIMEOUT_S = 8.0  # between chunks
MIN_RATE_SPAN_S = 0.05  # the shortest span of tokens a generation speed is measured over
# Tool rounds one answer may make: a model looping on tools must end. After the last the
# model is asked once more with no tools offered, so it answers with what it has found; the
# last round's calls were run and their results never shown to it, and it said nothing.
MAX_TOOL_ROUNDS = 4


class Playback(Protocol):
    def enqueue(self, utterance_id: int, pcm: np.ndarray) -> None: ...
    def stop(self, utterance_id: int | None = None) -> int: ...
    def played_samples(self, utterance_id: int) -> int: ...


# (turn id, calls, the assistant message carrying them) -> tool messages, or None when the
# calls outlasted the patience and went on in the background (the session answers later).
ToolRunner = Callable[[int, list[ToolCall], dict[str, Any]], Awaitable[list[dict[str, Any]] | None]]
# (the refused request, the refusal, this answer's tool messages so far) -> the messages
# built again to fit the model's context window; raises UserError when nothing would fit.
Shrinker = Callable[[ChatRequest, ContextTooLongError, list[dict[str, Any]]], list[dict[str, Any]]]
HOLDING_LINE = (
    "I'm working on that; it will take a moment. You can ask me something else meanwhile."
)


class Reply:
    def __init__(
        self,
        *,
        turn_id: int,
        utterance_id: int,
        request: ChatRequest,
        llm: LanguageModel,
        open_tts: Callable[[], Coroutine[Any, Any, SpeechStream]],
        playback: Playback,
        clock: Callable[[], float],
        record: TurnRecord,
        bus: ev.EventBus,
        run_tools: ToolRunner | None = None,
        preemptive: bool = False,
        user_text: str | None = None,
        refit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
        shrink: Shrinker | None = None,
        shown_only: bool = False,
        answer_shown: Callable[[], None] | None = None,
        closing: Callable[[], bool] = lambda: False,
        on_tool_results: Callable[[], None] | None = None,
        reads_only: Callable[[list[ToolCall]], bool] = lambda calls: False,
        before_request: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        """``user_text``: the words this answer is for (its request may carry them clipped
        to the budget). ``refit``: the messages for a round after tool results, rebuilt
        within the context budget from this answer's tool messages so far; without it
        the results are appended to the first request as they are. ``shrink``: a round
        the model refuses as longer than its context window is sent once more, as it
        rebuilds it; without it the refusal fails the answer. ``shown_only``: there is no
        speaker, so what was shown of it is what the person got (``heard``), and the answer
        begins when its first words are shown to a confirmed turn: ``answer_shown`` is
        called then, as a first played sample calls it with a speaker. ``closing``: whether
        the session is stopping, when no request will follow a cancelled one.
        ``on_tool_results``: called as each round's tool results join ``tool_messages``.
        ``reads_only``: whether tool calls only read (they may run before the turn is
        confirmed); calls it does not vouch for wait for ``confirm()``. ``before_request``:
        awaited before the first request is sent, which it may change (tool servers still
        starting: their tools join it); the voice's stream opens meanwhile. Whether it
        waited: the wait is the record's ``servers_wait``."""
        self.turn_id = turn_id
        self.utterance_id = utterance_id
        self.request = request
        self.llm = llm
        self._open_tts = open_tts
        self.playback = playback
        self.clock = clock
        self.record = record
        self.bus = bus
        self.run_tools = run_tools
        self.preemptive = preemptive
        self.user_text = user_text
        self.refit = refit
        self.shrink = shrink
        self.shown_only = shown_only
        self._answer_shown = answer_shown if shown_only else None
        self._closing = closing
        self._on_tool_results = on_tool_results
        self._reads_only = reads_only
        self._before_request = before_request

        self.text = ""  # the answer as shown and remembered
        # what the voice was given: ``text`` said as a listener wants it (a link by its
        # label, a path by its file name: engine/spoken.py); playback positions are in it
        self.spoken = ""
        self._spoken_form = SpokenText()
        self._tts_requested = False
        self.went_background = False  # tool calls still running after this reply ends
        # the model stopped its last round at max_tokens (finish_reason "length")
        self.reached_max_tokens = False
        # the thinking the last round's tool calls came of, by field (``ToolCalls.thought``)
        self._calls_thought: dict[str, str] = {}
        self.text_sent = False
        self._text_at = -math.inf  # when the voice was last given text (time.monotonic)
        self._in_tools = False  # a tool round is running: the voice has nothing to say
        self._tools_ended = -math.inf  # when the last tool round ended (time.monotonic)
        self.emoji_dropped = False  # emoji in the model's text were left out (not said or shown)
        self.tool_messages: list[dict[str, Any]] = []
        self.tools_logged = 0  # how many of tool_messages the session log already has
        self._results_came: list[dict[str, Any]] = []  # see results_came()
        self._round_msg: dict[str, Any] | None = None  # the tool round running, if one is
        self._confirmed = asyncio.Event()  # set by confirm(): held audio and tool calls go
        self.cancelled = False
        self.failed: BaseException | None = None
        self.sample_rate = 24_000
        self.samples_out = 0  # audio produced by TTS (after trimming)
        self.audio_complete = False
        self.generation_done = asyncio.Event()
        self._held: list[np.ndarray] = []
        self._trimmed = 0  # leading TTS samples dropped as silence
        self._stream: SpeechStream | None = None
        self._stream_let_go = False  # its close has begun (``_close_stream``)
        self._task: asyncio.Task[None] | None = None
        self._audio_task: asyncio.Task[None] | None = None
        self._requesting = False  # a model round is streaming (its connection is in use)
        # this attempt's stage times go in the record: not once an earlier attempt of the
        # turn's answer has been heard (``start``)
        self._times_the_turn = True

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        rec = self.record
        if "playback_start" in rec.t:
            # An earlier attempt of this turn's answer began to play: the record's stages
            # are that attempt's, the answer voice-to-voice is timed to. Started afresh,
            # they were this attempt's, which may never play: a TTFT after the first sound
            # was heard. Counted, not timed.
            self._times_the_turn = False
            rec.restarts_after_heard += 1
        else:
            for stage in REPLY_STAGES:
                rec.t.pop(stage, None)
        rec.completion_tokens = rec.tokens_per_s = None
        rec.tool_calls = []
        self._task = asyncio.create_task(self._run(), name=f"reply-{self.turn_id}")

    def confirm(self) -> None:
        """The turn is over: play what is held and everything that follows."""
        if self.confirmed or self.cancelled:
            return
        self._confirmed.set()
        if self.text:
            self._shown()
        for chunk in self._held:
            self.playback.enqueue(self.utterance_id, chunk)
        self._held.clear()

    @property
    def confirmed(self) -> bool:
        """The turn is over: this answer is played, and its tools may change things."""
        return self._confirmed.is_set()

    def _shown(self) -> None:
        if self._answer_shown is not None and not self.cancelled:
            self._answer_shown()

    def cancel(self) -> Coroutine[Any, Any, None]:
        """Stop generation and drop unplayed audio. Takes effect at once (no more audio,
        no more timing marks, even before the caller awaits); awaiting the result returns
        once the model's request is stopped and the voice's socket let go (its close goes
        on in the background: ``streams_closed``)."""
        if self.cancelled:
            return _nothing()
        self.cancelled = True
        self.playback.stop(self.utterance_id)
        if self._requesting and not self._closing():
            # Stopping the stream closes its connection; the attempt that replaces this one
            # (the person usually stops again within a second) finds another already open
            # rather than dialling it (TCP and TLS) on the way to its first token. Not when
            # the session is stopping: nothing follows, and the dial was dropped at once.
            prewarm = getattr(self.llm, "prewarm", None)
            if prewarm is not None:
                prewarm()
        return self._release()

    async def _release(self) -> None:
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._close_stream()
        self.generation_done.set()

    def heard(self) -> str:
        """What the person heard of the answer, in the text shown and remembered."""
        if self.shown_only:
            return self.text
        # the playback position is in the spoken text: what was heard of it is carried
        # over to the text shown and remembered (a link heard whole, its address kept)
        shown = self._spoken_form.shown_offset(len(self.heard_spoken()))
        return self.text if shown >= len(self.text) else self.text[:shown].rstrip()

    def heard_spoken(self) -> str:
        """What the person heard of the answer, as the voice said it (``spoken``)."""
        if self.shown_only:
            return self.spoken
        played = self.playback.played_samples(self.utterance_id)
        letters = None
        if self._stream is not None and hasattr(self._stream, "letters_spoken_at"):
            with contextlib.suppress(Exception):
                # alignment times count the leading silence we trimmed and never played
                at = played + self._trimmed
                letters = self._stream.letters_spoken_at(at)
        return heard_prefix(
            self.spoken,
            played_samples=played,
            sample_rate=self.sample_rate,
            total_samples=self.samples_out if self.audio_complete else None,
            letters_at_played=letters,
        )

    @property
    def done(self) -> bool:
        return self.generation_done.is_set()

    # ------------------------------------------------------------------ work
    def _mark(self, stage: str, *, overwrite: bool = False) -> None:
        """Stamp a stage of this attempt; a cancelled attempt no longer touches the record
        (a restarted answer shares the turn's record), nor one begun after an earlier
        attempt was heard (``start``)."""
        if not self.cancelled and self._times_the_turn:
            self.record.mark(stage, self.clock(), overwrite=overwrite)

    async def _run(self) -> None:
        stream_task = asyncio.create_task(self._open_tts())
        try:
            if self._before_request is not None:
                began = self.clock()
                if await self._before_request() and not self.cancelled and self._times_the_turn:
                    # timed, or voice-to-voice had seconds no stage accounted for
                    self.record.mark("servers_wait_start", began)
            request = self.request
            for round_ in range(MAX_TOOL_ROUNDS + 1):
                said_before = len(self.text)
                calls = await self._round(request, stream_task, followup=round_ > 0)
                if not calls or self.run_tools is None or round_ == MAX_TOOL_ROUNDS:
                    break  # (a call in the tool-less last round is not made)
                if self.text and not self.text[-1].isspace():
                    # What the model said before its tool calls ("Let me look.") ends a
                    # word: a voice sends only whole words, so it waited, unheard while the
                    # tool ran, to be glued to the next round's first word ("look.It").
                    await self._say(" ", stream_task)
                if self.text_sent:
                    # ...and is said now, clause or not: nothing more comes to complete a
                    # clause or the voice's next chunk until the tools are done
                    await (self._stream or await stream_task).flush()
                assistant_msg = {
                    "role": "assistant",
                    # the thinking the calls came of, in the field it came in: DeepSeek's
                    # API refuses their results without it (and every later request too)
                    **self._calls_thought,
                    # this round's words only: the earlier rounds' are in their own messages
                    "content": self.text[said_before:].strip() or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments},
                        }
                        for c in calls
                    ],
                }
                self._in_tools = True
                try:
                    if not self.confirmed and not self._reads_only(calls):
                        # A preemptive answer is prepared while the person may still be
                        # talking ("Delete the second paragraph … of the draft"): a call that
                        # may change something waits until they have finished asking; one
                        # that only reads goes now, its result ready when the turn ends.
                        await self._confirmed.wait()
                    if round_ == 0:
                        self._mark("tool_start", overwrite=True)
                    self._results_came = []
                    self._round_msg = assistant_msg
                    try:
                        results = await self.run_tools(self.turn_id, calls, assistant_msg)
                    except asyncio.CancelledError:
                        self._keep_cut_round(assistant_msg)
                        raise
                    finally:
                        self._round_msg = None
                finally:
                    self._in_tools = False
                    self._tools_ended = time.monotonic()
                # the answer waited for the tools until here: their results, or the end of
                # its patience with slow ones (tool_wait was missing then, as if none)
                self._mark("tool_done", overwrite=True)
                if results is None:  # slow tools carry on in the background
                    self.went_background = True
                    await self._say(HOLDING_LINE, stream_task)
                    await self._say_held(stream_task)
                    break
                self.tool_messages += [assistant_msg, *results]
                if self._on_tool_results is not None:
                    self._on_tool_results()
                request = ChatRequest(
                    messages=(
                        self.refit(self.tool_messages)
                        if self.refit is not None
                        else [*request.messages, assistant_msg, *results]
                    ),
                    # after the last tool round, words: no tools are offered
                    tools=request.tools if round_ + 1 < MAX_TOOL_ROUNDS else [],
                    max_tokens=request.max_tokens,
                    temperature=request.temperature,
                )
            if not self.text_sent:
                # Nothing to say (an empty answer): no audio will come, and a voice that was
                # sent no text may never end its stream; the session ends the answer silent.
                self.audio_complete = True
            else:
                stream = await stream_task
                if self._stream is None:
                    self._stream = stream
                    self.sample_rate = stream.sample_rate
                audio_task = self._ensure_audio_task(stream)
                # the voice is told to finish: from now its silence is its own, also after
                # a tool round the model ended without another word
                self._text_at = time.monotonic()
                await stream.end_text()
                await audio_task
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported by the session; the conversation goes on
            self.failed = exc
            log.info("reply for turn %d failed: %s", self.turn_id, exc)
        finally:
            await self._reap(stream_task)
            if self.failed is not None or self.cancelled or not self.text_sent:
                self._close_stream()
            self.generation_done.set()

    def results_came(self, messages: list[dict[str, Any]]) -> None:
        """The tool messages of the running round's calls finished so far (handed over as
        each finishes, and as the reply is cut): kept as they are by ``_keep_cut_round``
        and ``kept_tool_messages``, the rest marked as cut."""
        self._results_came = list(messages)

    def kept_tool_messages(self) -> list[dict[str, Any]]:
        """``tool_messages`` as they are once this cancelled reply's task has stopped: with
        the round it was cut in, though the task has not yet seen the cancel: the results
        that had come, the calls still running marked as cut."""
        if not self.cancelled or self._round_msg is None:
            return list(self.tool_messages)
        cut = with_every_result([self._round_msg, *self._results_came], INTERRUPTED_RESULT)
        return [*self.tool_messages, *cut]

    def _keep_cut_round(self, assistant_msg: dict[str, Any]) -> None:
        """The tool round running when this reply was cut joins ``tool_messages``, each
        call with its result if it came, else a mark of why it has none (the person spoke
        over it, or the session stopped). Dropped, the model never learnt it had made the
        calls, though a create may have finished server-side; and ``--resume`` told it
        "voicedesk stopped" of the same calls. Never a call without a result: OpenAI
        refuses an assistant message whose tool calls are not all answered."""
        missing = NO_RESULT if self._closing() else INTERRUPTED_RESULT
        self.tool_messages += with_every_result([assistant_msg, *self._results_came], missing)
        self._results_came = []
        if self._on_tool_results is not None:
            self._on_tool_results()

    async def _reap(self, stream_task: asyncio.Task[SpeechStream]) -> None:
        """Every task this attempt started ends with it, its error read (a failing one
        must neither outlive the reply nor surface as "exception was never retrieved")."""
        for task in (self._audio_task, stream_task):
            if task is None:
                continue
            if not task.done():
                task.cancel()
            try:
                result = await task
            except asyncio.CancelledError:
                if not task.cancelled():  # this reply itself is being cancelled
                    raise
                continue
            except Exception as exc:
                if self.failed is None and not self.cancelled:
                    self.failed = exc
                    log.info("reply for turn %d failed: %s", self.turn_id, exc)
                continue
            if task is stream_task and self._stream is None and result is not None:
                self._stream = result  # opened, never used: closed below with the reply

    async def _say(
        self,
        text: str,
        stream_task: asyncio.Task[SpeechStream],
        code_lines: Sequence[int] = (),
        item_lines: Sequence[int] = (),
        said_words: Sequence[tuple[int, str]] = (),
        code_spans: Sequence[tuple[int, bool]] = (),
    ) -> None:
        """Show text (the model's, or a fixed line) and hand its spoken form to this reply's
        voice stream, as far as that is known yet (a word, a link still arriving waits).
        ``code_lines``: where in ``text`` a code block's lines begin; ``item_lines``: where
        list items whose star was dropped begin; ``said_words``: words said, not shown
        ("yes" for a check mark standing for a value); ``code_spans``: where inline code
        spans open and close."""
        first = not self.text
        self.text += text
        self.bus.publish(ev.AssistantDelta(turn_id=self.turn_id, text=text))
        if first and text and self.confirmed:
            self._shown()
        if not self._tts_requested:
            # The answer's first text for the voice pipeline (the socket is pre-opened), as
            # before a word waits in the spoken form: from here to the first piece the voice
            # is handed (``tts_first_piece``) the answer waits for its first words
            self._tts_requested = True
            self._mark("tts_request", overwrite=True)
            self.bus.publish(ev.TTSRequest(turn_id=self.turn_id))
        spoken = self._spoken_form.feed(text, code_lines, item_lines, said_words, code_spans)
        await self._speak(spoken, stream_task)

    async def _say_held(self, stream_task: asyncio.Task[SpeechStream]) -> None:
        """What the spoken form still held: the round, or the answer, has ended."""
        await self._speak(self._spoken_form.flush(), stream_task)

    async def _speak(self, said: str, stream_task: asyncio.Task[SpeechStream]) -> None:
        if not said:
            if self._stream is not None and self._tell_held(self._stream):
                await self._stream.send_text("")  # its first piece may be long enough now
            return
        self.spoken += said
        self.text_sent = True
        stream = self._stream or await stream_task
        if self._stream is None:
            self._stream = stream
            self.sample_rate = stream.sample_rate
            # the voice's own time to first audio runs from here, not from the first text
            stream.on_first_piece = self._first_piece_handed
            self._ensure_audio_task(stream)
        self._text_at = time.monotonic()
        self._tell_held(stream)
        await stream.send_text(said)

    def _first_piece_handed(self) -> None:
        """The voice has its first piece of text to synthesise (a clause, 40 characters, or
        all there is): the voice's time to first audio ("ttfb") runs from here."""
        self._mark("tts_first_piece")

    def _tell_held(self, stream: SpeechStream) -> bool:
        """Tell a voice that cuts its first piece by length (OpenAI speech, Piper: a
        ``SentenceStream``) how much text the spoken form holds back, a word until it is
        whole: counted, the first piece is cut as early as when each delta went to it."""
        coming = getattr(stream, "text_coming", None)
        if coming is None:
            return False
        coming(self._spoken_form.held)
        return True

    @property
    def in_tool_round(self) -> bool:
        """Its tools run, or the model reads their results: the voice has nothing to say
        until they are done (unlike the wait for an answer's first audio)."""
        return self._in_tools or self._model_reading_results

    @property
    def _model_reading_results(self) -> bool:
        """A tool round has ended and the model has not said a word since, nor ended the
        answer: the voice was given nothing new to say."""
        return self._tools_ended > self._text_at

    def _ensure_audio_task(self, stream: SpeechStream) -> asyncio.Task[None]:
        if self._audio_task is None:
            self._audio_task = asyncio.create_task(self._pump(stream))
        return self._audio_task

    async def _round(
        self, request: ChatRequest, stream_task: asyncio.Task[SpeechStream], *, followup: bool
    ) -> list[ToolCall]:
        """One model round; refused as too long for the model, it is built again shorter
        and sent once more. Safe to resend: the refusal comes before any token."""
        try:
            return await self._stream_llm(request, stream_task, followup=followup)
        except ContextTooLongError as exc:
            if self.shrink is None or self.cancelled:
                raise
            self.record.too_long_retries += 1
            messages = self.shrink(request, exc, self.tool_messages)
            shorter = replace(request, messages=messages)
            return await self._stream_llm(shorter, stream_task, followup=followup)

    async def _stream_llm(
        self,
        request: ChatRequest,
        stream_task: asyncio.Task[SpeechStream],
        *,
        followup: bool = False,
    ) -> list[ToolCall]:
        """One model round. A round after tool results is timed as ``followup_*`` (the last
        such round), so the first round's ``llm_request``/``llm_first_token`` stay the TTFT."""
        request_stage, first_stage = (
            ("followup_request", "followup_first_token") if followup else ("llm_request", None)
        )
        self._mark(request_stage, overwrite=followup)
        self.bus.publish(
            ev.LLMRequest(turn_id=self.turn_id, kind="turn", preemptive=self.preemptive)
        )
        t_first: float | None = None  # the token rate counts from the first token
        t_generating: float | None = None  # ... or the first thought, which it counts too
        unseen = 0  # tokens of thinking never streamed: not timed, so not in the speed
        # When the last item came, and how long of that our own hand-off to the voice held
        # the reading: a speed timed to after the hand-off made one up for a burst.
        t_last: float | None = None
        handoff = 0.0
        first = True
        calls: list[ToolCall] = []
        self._calls_thought = {}
        speakable = SpeakableText()
        self._requesting = True
        try:
            async for item in self.llm.stream(request):
                t_last = time.perf_counter()
                if isinstance(item, TextDelta):
                    if first:
                        first = False
                        t_first = t_last
                        self._mark_first_token(first_stage)
                    text = speakable.feed(item.text)
                    if not text:
                        continue
                    await self._say(
                        text,
                        stream_task,
                        speakable.code_lines,
                        speakable.item_lines,
                        speakable.said_words,
                        speakable.code_spans,
                    )
                    if t_first is not None:
                        handoff += time.perf_counter() - t_last
                elif isinstance(item, ToolCalls):
                    if first:
                        first = False
                        t_first = t_last
                        self._mark_first_token(first_stage)
                    calls, self._calls_thought = item.calls, item.thought
                elif isinstance(item, Usage):
                    self.record.prompt_tokens = item.prompt_tokens
                    self.record.completion_tokens = item.completion_tokens
                    t_generating = item.generating_since
                    unseen = item.unseen_tokens
                elif isinstance(item, Finished):
                    self.reached_max_tokens = item.reason == "length"
                elif isinstance(item, ToolsRefused):
                    self.bus.publish(
                        ev.Notice(
                            level="warning",
                            message=f"The language model takes no tools ({item.said}): it "
                            f"answers without them for the rest of the session. To use "
                            f"them, {item.fix}.",
                        )
                    )
        finally:
            self._requesting = False
        if tail := speakable.flush():
            marks = speakable.code_lines, speakable.item_lines, speakable.said_words
            await self._say(tail, stream_task, *marks, speakable.code_spans)
        await self._say_held(stream_task)  # a link cannot go on into the next round
        self.emoji_dropped = self.emoji_dropped or speakable.dropped
        self._mark("llm_done", overwrite=True)
        # tokens after the first, over the time from it to the last: the time to the first
        # token is TTFT's, not the generation speed's, and what the voice took after the
        # last is ours
        tokens = (self.record.completion_tokens or 0) - unseen
        # (a reasoning model's count has its thinking in it: timed from its first thought)
        since = t_generating if t_generating is not None else t_first
        elapsed = t_last - since if since is not None and t_last is not None else 0.0
        # Over a shorter span the tokens came in a burst (a tool call sent whole: 10 tokens
        # in 0.8 ms read as 10,000 tokens/s), which says nothing of the generation speed.
        # So is it when the span was our own hand-off to the voice, not the model: tokens
        # that came while words were handed over were read at once after it. Where the
        # hand-off, not the model, set the pace, the model's speed cannot be told: none.
        if tokens > 1 and elapsed - handoff >= MIN_RATE_SPAN_S:
            self.record.tokens_per_s = round((tokens - 1) / elapsed, 1)
        self.bus.publish(
            ev.LLMDone(
                turn_id=self.turn_id,
                prompt_tokens=self.record.prompt_tokens,
                completion_tokens=self.record.completion_tokens,
                tokens_per_s=self.record.tokens_per_s,
            )
        )
        if calls and self.reached_max_tokens:
            calls[-1].cut_off = True  # the call the answer was writing when it stopped
        for call in calls:
            with contextlib.suppress(json.JSONDecodeError):
                self.record.tool_calls.append(
                    {"id": call.id, "name": call.name, "arguments": json.loads(call.arguments)}
                )
        return calls

    def _mark_first_token(self, followup_stage: str | None) -> None:
        self._mark("llm_first_token")  # the first round's; kept after
        if followup_stage is not None:
            self._mark(followup_stage, overwrite=True)
        self.bus.publish(ev.LLMFirstToken(turn_id=self.turn_id))

    async def _chunks(self, stream: SpeechStream) -> Any:
        """The stream's audio, with a deadline: a TTS that stalls must not hold the turn.
        The deadline runs from the last chunk, or from the last text sent or the end of the
        last tool round if that is later (see ``_FIRST_AUDIO_TIMEOUT_S``); none runs before
        the first text is sent (the model is still thinking).

        Not while a tool runs: the voice has said what it was given ("Let me look.") and has
        nothing to say until the answer after the tool, so its silence is no stall (a tool
        slower than the deadline failed the reply with "sent no audio"). Nor after it,
        until the model's next words are sent: its time to a first token over the results
        (a long document, a slow model) is the model's silence, as before the first text."""
        it = stream.audio().__aiter__()
        first = True
        while True:
            limit = _FIRST_AUDIO_TIMEOUT_S if first else _STALL_TIMEOUT_S
            waiting_since = time.monotonic()
            upcoming = asyncio.ensure_future(it.__anext__())
            try:
                while True:
                    if not self.text_sent or self._in_tools or self._model_reading_results:
                        timeout = limit  # no deadline yet: look again later
                    else:
                        since = max(waiting_since, self._text_at, self._tools_ended)
                        timeout = since + limit - time.monotonic()
                        if timeout <= 0:
                            raise ProviderError(f"Text-to-speech sent no audio for {limit:.0f} s")
                    done, _ = await asyncio.wait({upcoming}, timeout=timeout)
                    if done:
                        break
                chunk = upcoming.result()
            except StopAsyncIteration:
                return
            finally:
                if not upcoming.done():
                    upcoming.cancel()
            first = False
            yield chunk

    async def _pump(self, stream: SpeechStream) -> None:
        first = True
        trim_left = int(_MAX_TRIM_S * stream.sample_rate)  # total leading silence we may drop
        # The end of the silence dropped so far: the lead-in before the first audible
        # sample may lie in it, when the voice's audio came split just before that sample
        # (OpenAI speech is read in whatever pieces the network gives).
        dropped_tail = np.zeros(0, dtype=np.int16)
        lead_in = int(_LEAD_IN_S * stream.sample_rate)
        async for chunk in self._chunks(stream):
            if chunk.size == 0:
                continue
            if first:
                onset = _onset(chunk, stream.sample_rate)
                if onset is None and chunk.size <= trim_left:
                    trim_left -= int(chunk.size)
                    dropped_tail = np.concatenate([dropped_tail, chunk])
                    dropped_tail = dropped_tail[max(0, dropped_tail.size - lead_in) :]
                    continue
                if onset == 0 and dropped_tail.size:  # its lead-in may have begun before it
                    chunk = np.concatenate([dropped_tail, chunk])  # dropped no longer
                    trim_left += int(dropped_tail.size)
                    onset = _onset(chunk, stream.sample_rate)
                cut = min(onset if onset is not None else 0, trim_left)
                self._trimmed = int(_MAX_TRIM_S * stream.sample_rate) - trim_left + cut
                chunk = chunk[cut:]
                first = False
                self._mark("tts_first_audio")
                self.bus.publish(ev.TTSFirstAudio(turn_id=self.turn_id))
            self.samples_out += int(chunk.size)
            if self.cancelled:
                return
            if self.confirmed:
                self.playback.enqueue(self.utterance_id, chunk)
            else:
                self._held.append(chunk)
        self.audio_complete = True

    def _close_stream(self) -> None:
        """Let the voice's stream go, closing it in the background: awaited, a voice
        server slow to answer the close held the cut (a typed line, a barge-in) and the
        next answer with it, for as long as the provider's own limit on closing."""
        if self._stream is None or self._stream_let_go:
            return
        self._stream_let_go = True
        closing = asyncio.create_task(_close_quietly(self._stream), name="voice-close")
        _CLOSING.add(closing)
        closing.add_done_callback(_CLOSING.discard)


# The voice streams being closed behind cut answers: held here so that they are not
# collected mid-close, and so that a stopping session can wait for them (``streams_closed``).
_CLOSING: set[asyncio.Task[None]] = set()


async def _close_quietly(stream: SpeechStream) -> None:
    with contextlib.suppress(Exception):
        await stream.aclose()


async def streams_closed() -> None:
    """Until the voice streams let go so far are closed (each bounded by its provider)."""
    loop = asyncio.get_running_loop()
    while mine := [t for t in _CLOSING if t.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)


async def _nothing() -> None:
    """What cancelling an already cancelled reply has left to await."""


def _onset(chunk: np.ndarray, rate: int) -> int | None:
    """Index to start playing from (≈5 ms before the first audible sample), None if silent."""
    loud = np.flatnonzero(np.abs(chunk.astype(np.int32)) > _SILENCE_LEVEL)
    if loud.size == 0:
        return None
    return max(0, int(loud[0]) - int(_LEAD_IN_S * rate))
