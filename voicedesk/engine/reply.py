"""One attempt at answering a turn: LLM tokens → TTS → playback, streamed end to end.

A reply may start *before* the turn is confirmed (preemptive generation). Until ``confirm()``
its audio is held, never played; ``cancel()`` drops it quietly. After ``confirm()`` audio goes
to the playback buffer the moment it lands. Each text delta is handed to TTS as it arrives:
no waiting for sentences (the TTS provider decides how much text it needs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import numpy as np

from voicedesk import events as ev
from voicedesk.engine.heard import heard_prefix
from voicedesk.engine.metrics import TurnRecord
from voicedesk.errors import ProviderError
from voicedesk.providers.base import (
    ChatRequest,
    Finished,
    LanguageModel,
    SpeechStream,
    TextDelta,
    ToolCall,
    ToolCalls,
    Usage,
)

log = logging.getLogger(__name__)

# Leading near-silence in TTS audio is latency the listener hears; trim it from the first chunk.
_SILENCE_LEVEL = 300  # int16 peak below which a sample counts as silence (≈ −40 dBFS)
_MAX_TRIM_S = 0.5
_FIRST_AUDIO_TIMEOUT_S = 5.0  # after the first text was sent
_STALL_TIMEOUT_S = 8.0  # between chunks
_MARKDOWN = re.compile(r"[*_`#>]+")


class Playback(Protocol):
    def enqueue(self, utterance_id: int, pcm: np.ndarray) -> None: ...
    def stop(self, utterance_id: int | None = None) -> int: ...
    def played_samples(self, utterance_id: int) -> int: ...


# (turn id, calls, the assistant message carrying them) -> tool messages, or None when the
# calls outlasted the patience and went on in the background (the session answers later).
ToolRunner = Callable[[int, list[ToolCall], dict[str, Any]], Awaitable[list[dict[str, Any]] | None]]
HOLDING_LINE = (
    " I'm working on that; it will take a moment. You can ask me something else meanwhile."
)


def speakable(text: str) -> str:
    """Drop markdown emphasis/heading marks a model may still emit; TTS would read them."""
    return _MARKDOWN.sub("", text)


class Reply:
    def __init__(
        self,
        *,
        turn_id: int,
        utterance_id: int,
        request: ChatRequest,
        llm: LanguageModel,
        open_tts: Callable[[], Awaitable[SpeechStream]],
        playback: Playback,
        clock: Callable[[], float],
        record: TurnRecord,
        bus: ev.EventBus,
        run_tools: ToolRunner | None = None,
        preemptive: bool = False,
    ) -> None:
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

        self.text = ""  # everything handed to TTS
        self.went_background = False  # tool calls still running after this reply ends
        self.text_sent = False
        self.tool_messages: list[dict[str, Any]] = []
        self.confirmed = False
        self.cancelled = False
        self.failed: BaseException | None = None
        self.sample_rate = 24_000
        self.samples_out = 0  # audio produced by TTS (after trimming)
        self.audio_complete = False
        self.generation_done = asyncio.Event()
        self._held: list[np.ndarray] = []
        self._trimmed = 0  # leading TTS samples dropped as silence
        self._stream: SpeechStream | None = None
        self._task: asyncio.Task[None] | None = None
        self._t_request_mono = 0.0

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"reply-{self.turn_id}")

    def confirm(self) -> None:
        """The turn is over: play what is held and everything that follows."""
        if self.confirmed or self.cancelled:
            return
        self.confirmed = True
        for chunk in self._held:
            self.playback.enqueue(self.utterance_id, chunk)
        self._held.clear()

    async def cancel(self) -> None:
        """Stop generation and drop unplayed audio; returns once sockets are released."""
        if self.cancelled:
            return
        self.cancelled = True
        self.playback.stop(self.utterance_id)
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close_stream()
        self.generation_done.set()

    def heard(self) -> str:
        played = self.playback.played_samples(self.utterance_id)
        chars = None
        if self._stream is not None and hasattr(self._stream, "chars_spoken_at"):
            with contextlib.suppress(Exception):
                # alignment times count the leading silence we trimmed and never played
                at = played + self._trimmed
                chars = self._stream.chars_spoken_at(at)  # type: ignore[attr-defined]
        return heard_prefix(
            self.text,
            played_samples=played,
            sample_rate=self.sample_rate,
            total_samples=self.samples_out if self.audio_complete else None,
            chars_at_played=chars,
        )

    @property
    def done(self) -> bool:
        return self.generation_done.is_set()

    # ------------------------------------------------------------------ work
    async def _run(self) -> None:
        audio_task: asyncio.Task[None] | None = None
        try:
            stream_task = asyncio.create_task(self._open_tts())
            request = self.request
            for _round in range(4):  # tool rounds are bounded: a model looping on tools must end
                calls = await self._stream_llm(request, stream_task)
                if not calls or self.run_tools is None:
                    break
                assistant_msg = {
                    "role": "assistant",
                    "content": self.text or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments},
                        }
                        for c in calls
                    ],
                }
                results = await self.run_tools(self.turn_id, calls, assistant_msg)
                if results is None:  # slow tools carry on in the background
                    self.went_background = True
                    await self._say(
                        HOLDING_LINE if self.text else HOLDING_LINE.strip(), stream_task
                    )
                    break
                self.tool_messages += [assistant_msg, *results]
                request = ChatRequest(
                    messages=[*request.messages, assistant_msg, *results],
                    tools=request.tools,
                    max_tokens=request.max_tokens,
                    temperature=request.temperature,
                )
            stream = await stream_task
            self._stream = stream
            audio_task = self._ensure_audio_task(stream)
            await stream.end_text()
            await audio_task
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported by the session; the conversation goes on
            self.failed = exc
            log.warning("reply for turn %d failed: %s", self.turn_id, exc)
        finally:
            if audio_task is not None and not audio_task.done():
                audio_task.cancel()
            if self.failed is not None or self.cancelled:
                await self._close_stream()
            self.generation_done.set()

    async def _say(self, text: str, stream_task: asyncio.Task[SpeechStream]) -> None:
        """Hand text (the model's, or a fixed line) to this reply's voice stream."""
        self.text += text
        self.bus.publish(ev.AssistantDelta(turn_id=self.turn_id, text=text))
        if not self.text_sent:
            # TTFB counts from the first text the TTS gets (the socket is pre-opened)
            self.text_sent = True
            self.record.mark("tts_request", self.clock(), overwrite=True)
            self.bus.publish(ev.TTSRequest(turn_id=self.turn_id))
        stream = self._stream or await stream_task
        if self._stream is None:
            self._stream = stream
            self.sample_rate = stream.sample_rate
            self._ensure_audio_task(stream)
        await stream.send_text(text)

    def _ensure_audio_task(self, stream: SpeechStream) -> asyncio.Task[None]:
        if getattr(self, "_audio_task", None) is None:
            self._audio_task: asyncio.Task[None] | None = asyncio.create_task(self._pump(stream))
        assert self._audio_task is not None
        return self._audio_task

    async def _stream_llm(
        self, request: ChatRequest, stream_task: asyncio.Task[SpeechStream]
    ) -> list[ToolCall]:
        self.record.mark("llm_request", self.clock())
        self.bus.publish(
            ev.LLMRequest(turn_id=self.turn_id, kind="turn", preemptive=self.preemptive)
        )
        t0 = time.perf_counter()
        first = True
        calls: list[ToolCall] = []
        async for item in self.llm.stream(request):
            if isinstance(item, TextDelta):
                if first:
                    first = False
                    self.record.mark("llm_first_token", self.clock())
                    self.bus.publish(ev.LLMFirstToken(turn_id=self.turn_id))
                text = speakable(item.text)
                if not text:
                    continue
                await self._say(text, stream_task)
            elif isinstance(item, ToolCalls):
                if first:
                    first = False
                    self.record.mark("llm_first_token", self.clock())
                    self.bus.publish(ev.LLMFirstToken(turn_id=self.turn_id))
                calls = item.calls
            elif isinstance(item, Usage):
                self.record.prompt_tokens = item.prompt_tokens
                self.record.completion_tokens = item.completion_tokens
            elif isinstance(item, Finished):
                pass
        self.record.mark("llm_done", self.clock(), overwrite=True)
        elapsed = time.perf_counter() - t0
        if self.record.completion_tokens and elapsed > 0:
            self.record.tokens_per_s = round(self.record.completion_tokens / elapsed, 1)
        self.bus.publish(
            ev.LLMDone(
                turn_id=self.turn_id,
                prompt_tokens=self.record.prompt_tokens,
                completion_tokens=self.record.completion_tokens,
                tokens_per_s=self.record.tokens_per_s,
            )
        )
        for call in calls:
            with contextlib.suppress(json.JSONDecodeError):
                self.record.tool_calls.append(
                    {"id": call.id, "name": call.name, "arguments": json.loads(call.arguments)}
                )
        return calls

    async def _chunks(self, stream: SpeechStream) -> Any:
        """The stream's audio, with a deadline: a TTS that stalls must not hold the turn."""
        it = stream.audio().__aiter__()
        first = True
        while True:
            limit = _FIRST_AUDIO_TIMEOUT_S if first else _STALL_TIMEOUT_S
            try:
                # the first chunk may only be due once text has been sent (LLM still thinking)
                if first and not self.text_sent:
                    chunk = await it.__anext__()
                else:
                    chunk = await asyncio.wait_for(it.__anext__(), limit)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise ProviderError(f"Text-to-speech sent no audio for {limit:.0f} s") from None
            first = False
            yield chunk

    async def _pump(self, stream: SpeechStream) -> None:
        first = True
        trim_left = int(_MAX_TRIM_S * stream.sample_rate)  # total leading silence we may drop
        async for chunk in self._chunks(stream):
            if chunk.size == 0:
                continue
            if first:
                onset = _onset(chunk, stream.sample_rate)
                if onset is None and chunk.size <= trim_left:
                    trim_left -= int(chunk.size)
                    continue
                cut = min(onset if onset is not None else 0, trim_left)
                self._trimmed = int(_MAX_TRIM_S * stream.sample_rate) - trim_left + cut
                chunk = chunk[cut:]
                first = False
                self.record.mark("tts_first_audio", self.clock())
                self.bus.publish(ev.TTSFirstAudio(turn_id=self.turn_id))
            self.samples_out += int(chunk.size)
            if self.cancelled:
                return
            if self.confirmed:
                self.playback.enqueue(self.utterance_id, chunk)
            else:
                self._held.append(chunk)
        self.audio_complete = True

    async def _close_stream(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await self._stream.aclose()


def _onset(chunk: np.ndarray, rate: int) -> int | None:
    """Index to start playing from (≈5 ms before the first audible sample), None if silent."""
    loud = np.flatnonzero(np.abs(chunk.astype(np.int32)) > _SILENCE_LEVEL)
    if loud.size == 0:
        return None
    return max(0, int(loud[0]) - rate // 200)
