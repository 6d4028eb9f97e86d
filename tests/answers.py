"""One answer (a :class:`Reply`) run to its end over real providers but no sound device, as
the reply and voice-stage tests run theirs. ``tests/`` is on ``sys.path`` through its
conftest."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from voicedesk import events as ev
from voicedesk.engine.metrics import TurnRecord
from voicedesk.engine.reply import Reply
from voicedesk.providers.base import ChatRequest


class QuietPlayback:
    """The playback queue's bookkeeping, without a sound device: the samples queued for
    each utterance; nothing ever plays, so nothing is ever heard."""

    def __init__(self) -> None:
        self.queued: dict[int, int] = {}

    def enqueue(self, utterance_id: int, pcm: np.ndarray) -> None:
        self.queued[utterance_id] = self.queued.get(utterance_id, 0) + pcm.size

    def stop(self, utterance_id: int | None = None) -> int:
        return 0

    def played_samples(self, utterance_id: int) -> int:
        return 0


def reply_to(request: ChatRequest, llm: Any, tts: Any, **given: Any) -> Reply:
    """A reply to turn 1 asking ``llm`` ``request`` and speaking through ``tts``: into a
    :class:`QuietPlayback`, with a turn record and an event bus of its own. ``given``
    replaces any of those (``playback``, ``record``) or adds to them (``run_tools``,
    ``refit``, ``shrink``, ``user_text``)."""
    fields: dict[str, Any] = {
        "turn_id": 1,
        "utterance_id": 1,
        "request": request,
        "llm": llm,
        "open_tts": tts.open_stream,
        "playback": QuietPlayback(),
        "clock": time.monotonic,
        "record": TurnRecord(turn_id=1),
        "bus": ev.EventBus(),
    }
    return Reply(**{**fields, **given})


async def run_confirmed(reply: Reply, timeout_s: float) -> Reply:
    """Start ``reply``, confirm it at once (the turn is over), and wait until it is
    generated (the limit only catches a hang); cancelled afterwards, whatever happened,
    so none of it runs on into the next test."""
    reply.start()
    reply.confirm()
    try:
        await asyncio.wait_for(reply.generation_done.wait(), timeout_s)
    finally:
        await reply.cancel()
    return reply
