"""On-device turn detection with the real models and the synthesized speech fixtures.

Nothing here is mocked: Silero VAD and Smart Turn v3 run from their ONNX files on the Piper
fixtures in ``tests/fixtures/turns`` (see ``make_fixtures.py`` and ``labels.json``). Where a
test needs to know *when* the end-of-turn model was asked, it wraps the real
``SmartTurn.submit`` with a recorder that still calls it.

The assertions are contracts (event kinds and their order, positions relative to the labels,
the configured durations), not the tuned constants of the current policy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from voicedesk.audio.resample import resample
from voicedesk.audio.wavio import read_wav
from voicedesk.config import Settings, load_settings
from voicedesk.errors import ModelFileError, UserError
from voicedesk.providers import local_stt
from voicedesk.turn.cues import (
    ALTERNATIVE_ODDS,
    CONTINUATION_ODDS,
    TRAILING_ODDS,
    WORDS_END_ODDS,
    Reading,
    reading_cue,
)
from voicedesk.turn.detector import FIRM_WAIT_S, RECHECK_AT_S, TurnDetector, TurnSignal
from voicedesk.turn.features import N_FRAMES, N_MELS, N_SAMPLES, log_mel
from voicedesk.turn.models import load_session, smart_turn_path, vad_path
from voicedesk.turn.replay import replay
from voicedesk.turn.smart_turn import SmartTurn
from voicedesk.turn.vad import WINDOW, SileroVAD, VadEvent, VadSegmenter

RATE = 16_000
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "turns"
NO_CONFIG = Path("/nonexistent/voicedesk-turn-tests/config.toml")
WINDOW_S = WINDOW / RATE
FINISHED = "dev-finished-0.wav"  # "What time is my next meeting?"


# ---------------------------------------------------------------------------- helpers
def settings(**turn: Any) -> Settings:
    """Defaults (no user config file, no environment) with ``turn.*`` overrides."""
    return load_settings(NO_CONFIG, environ={}, overrides={"turn": turn} if turn else None)


@cache
def labels() -> dict[str, dict[str, Any]]:
    data = json.loads((FIXTURES / "labels.json").read_text(encoding="utf-8"))
    return {item["file"]: item for item in data}


@cache
def _load(name: str) -> np.ndarray:
    pcm, rate = read_wav(FIXTURES / name, RATE)
    assert rate == RATE
    return pcm


def fixture_pcm(name: str) -> np.ndarray:
    return _load(name).copy()


def with_silence(pcm: np.ndarray, seconds: float) -> np.ndarray:
    return np.concatenate([pcm, np.zeros(int(seconds * RATE), np.int16)])


def insert_gap(pcm: np.ndarray, at_window: int, samples: int, filler: str) -> np.ndarray:
    """Real speech with ``samples`` of digital silence or low noise inserted on the VAD grid."""
    if filler == "zeros":
        gap = np.zeros(samples, np.int16)
    else:  # about -60 dBFS of white noise, well below anything Silero calls speech
        gap = np.round(np.random.default_rng(1234).normal(0.0, 30.0, samples)).astype(np.int16)
    at = at_window * WINDOW
    return np.concatenate([pcm[:at], gap, pcm[at:]])


def vad_events(pcm: np.ndarray, s: Settings, block: int = 160) -> list[VadEvent]:
    seg = VadSegmenter(s)
    events: list[VadEvent] = []
    for i in range(0, len(pcm), block):
        events += seg.feed(pcm[i : i + block], i / RATE)
    return events


def kinds(events: list[VadEvent] | list[TurnSignal]) -> list[str]:
    return [e.kind for e in events]


@dataclass
class Drive:
    """A real TurnDetector on a virtual clock, fed in 10 ms blocks, with its model calls timed."""

    detector: TurnDetector
    block: int = 160
    signals: list[TurnSignal] = field(default_factory=list)
    model_calls: list[float] = field(default_factory=list)  # audio time of each Smart Turn ask
    _now: float = 0.0

    def __post_init__(self) -> None:
        real_submit = self.detector.model.submit

        def recording_submit(audio: np.ndarray) -> Future[float]:
            self.model_calls.append(self._now)
            return real_submit(audio)

        self.detector.model.submit = recording_submit  # type: ignore[method-assign]

    def run(
        self,
        pcm: np.ndarray,
        *,
        on_block: Callable[[TurnDetector, float, list[TurnSignal]], list[TurnSignal]] | None = None,
    ) -> list[TurnSignal]:
        for i in range(0, len(pcm) - self.block + 1, self.block):
            at = i / RATE
            self._now = at + self.block / RATE
            out = self.detector.feed(pcm[i : i + self.block], at)
            self.signals += out
            if on_block is not None:
                self.signals += on_block(self.detector, self._now, out)
        return self.signals

    def of(self, kind: str) -> list[TurnSignal]:
        return [s for s in self.signals if s.kind == kind]


@pytest.fixture
def drive() -> Iterator[Callable[..., Drive]]:
    made: list[TurnDetector] = []

    def make(s: Settings, **kwargs: Any) -> Drive:
        det = TurnDetector(s, virtual_clock=True, **kwargs)
        made.append(det)
        return Drive(det)

    yield make
    for det in made:
        det.model.close()


# ---------------------------------------------------------------------------- 1. front end
def reference_features(audio: np.ndarray) -> np.ndarray:
    """What Smart Turn v3 was trained on, built from faster-whisper's numpy extractor.

    ``WhisperFeatureExtractor(chunk_length=8, do_normalize=True)`` as Smart Turn's inference
    code uses it: the last 8 s (shorter audio zero-padded on the *left*, so the end of the turn
    sits at the end of the window), zero-mean/unit-variance normalised, then Whisper's log-mel
    without extra right padding (801 STFT frames, the last one dropped → 800).
    """
    from faster_whisper.feature_extractor import FeatureExtractor

    x = np.asarray(audio, dtype=np.float32)
    if x.size >= N_SAMPLES:
        x = x[x.size - N_SAMPLES :]
    else:
        x = np.concatenate([np.zeros(N_SAMPLES - x.size, np.float32), x])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    extractor = FeatureExtractor(feature_size=N_MELS, sampling_rate=RATE, chunk_length=8)
    return np.asarray(extractor(x.astype(np.float32), padding=0), dtype=np.float32)


FEATURE_ATOL = 1e-4  # features span about [-1.5, 2]; float32 vs float64 FFT differ by ~4e-6


def _feature_inputs() -> dict[str, Callable[[], np.ndarray]]:
    def f32(name: str) -> np.ndarray:
        return fixture_pcm(name).astype(np.float32) / 32768.0

    return {
        "speech-left-padded": lambda: f32(FINISHED),
        "speech-longer-than-8s-truncated": lambda: np.concatenate(
            [f32(FINISHED), f32("dev-finished-2.wav"), f32("dev-paused-0.wav")]
        ),
        "silence-fixture": lambda: f32("dev-silence-0.wav"),
        "noise-fixture": lambda: f32("dev-noise-0.wav"),
    }


@pytest.mark.parametrize("case", list(_feature_inputs()))
def test_log_mel_matches_faster_whisper_reference(case: str) -> None:
    audio = _feature_inputs()[case]()
    ours = log_mel(audio)
    ref = reference_features(audio)
    assert ours.shape == ref.shape == (N_MELS, N_FRAMES)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=0, atol=FEATURE_ATOL)
    if case == "silence-fixture":
        np.testing.assert_allclose(ours, -1.5, atol=1e-6)  # log10(1e-10) → (−10 + 4) / 4
    if case == "speech-left-padded":
        # the zero padding is on the left: the first ~4 s of frames are flat, the speech is at the end
        assert np.ptp(ours[:, :400], axis=1).max() < 1e-5
        assert np.ptp(ours[:, -350:], axis=1).min() > 0.5


@pytest.mark.parametrize("seconds", [0.01, 0.3, 2.5, 7.9, 8 - 100 / 16_000, 8.0, 9.0])
def test_log_mel_of_a_short_turn_equals_computing_every_padded_frame(seconds: float) -> None:
    """log_mel computes one frame of the left zero padding and copies it; the result must be
    what computing every frame of the padded 8 s gives."""
    audio = np.tile(fixture_pcm(FINISHED).astype(np.float32) / 32768.0, 3)[-int(seconds * 16_000) :]
    padded = np.concatenate([np.zeros(max(N_SAMPLES - audio.size, 0), np.float32), audio])
    padded = padded[-N_SAMPLES:]
    # the padded input takes the every-frame path (nothing to skip): the two must agree
    np.testing.assert_allclose(log_mel(audio), log_mel(padded), rtol=0, atol=1e-6)
    np.testing.assert_allclose(log_mel(audio), reference_features(audio), rtol=0, atol=FEATURE_ATOL)


def test_smart_turn_gives_the_same_probability_as_on_reference_features() -> None:
    s = settings()
    model = SmartTurn(s)
    try:
        session = load_session(
            smart_turn_path(s.models), "models.smart_turn", float_softmax=s.models.float_softmax
        )
        name = session.get_inputs()[0].name
        for fixture in (FINISHED, "dev-unfinished-3.wav"):
            pcm = fixture_pcm(fixture)
            ours = model.predict(pcm)  # int16 path
            ref_in = reference_features(pcm.astype(np.float32) / 32768.0)[None]
            ref = float(np.asarray(session.run(None, {name: ref_in})[0]).reshape(-1)[0])
            assert 0.0 <= ours <= 1.0
            assert ours == pytest.approx(ref, abs=1e-3)
    finally:
        model.close()


def test_the_models_leave_numpys_blas_on_one_thread() -> None:
    """Smart Turn's log-mel product is numpy's largest: OpenBLAS split it over every core
    and its helper spun after each call, doubling the call's CPU beside the audio thread."""
    from threadpoolctl import threadpool_info

    model = SmartTurn(settings())
    try:
        model.predict(fixture_pcm(FINISHED))
    finally:
        model.close()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "numpy's BLAS library was not found"
    assert [pool["num_threads"] for pool in blas] == [1] * len(blas)


def test_log_mel_matches_pipecats_vendored_transformers_extractor() -> None:
    """A second reference: pipecat's numpy copy of transformers' WhisperFeatureExtractor."""
    vendored = pytest.importorskip("pipecat.audio.turn.smart_turn._whisper_features")
    audio = fixture_pcm(FINISHED).astype(np.float32) / 32768.0
    window = np.concatenate([np.zeros(N_SAMPLES - audio.size, np.float32), audio])
    ref = vendored.compute_whisper_log_mel_features(window, do_normalize=True)
    np.testing.assert_allclose(log_mel(audio), ref, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------- 2. Silero streaming
def _window_probabilities(vad: SileroVAD, pcm: np.ndarray, *, reset_each: bool) -> np.ndarray:
    x = pcm.astype(np.float32) / 32768.0
    out = []
    for i in range(0, len(x) - WINDOW + 1, WINDOW):
        if reset_each:
            vad.reset()
        out.append(vad.probability(x[i : i + WINDOW]))
    return np.array(out)


def test_silero_carries_state_and_context_like_the_reference_wrapper() -> None:
    silero_ref = pytest.importorskip("pipecat.audio.vad.silero")
    s = settings()
    pcm = fixture_pcm(FINISHED)
    vad = SileroVAD(s)
    streamed = _window_probabilities(vad, pcm, reset_each=False)
    vad.reset()
    stateless = _window_probabilities(vad, pcm, reset_each=True)

    # the reference streaming wrapper (same logic as silero-vad's OnnxWrapper) on the same file
    ref_model = silero_ref.SileroOnnxModel(str(vad_path(s.models)))
    x = pcm.astype(np.float32) / 32768.0
    reference = np.array(
        [
            float(ref_model(x[i : i + WINDOW], RATE)[0, 0])
            for i in range(0, len(x) - WINDOW + 1, WINDOW)
        ]
    )
    np.testing.assert_allclose(streamed, reference, rtol=0, atol=1e-4)
    # dropping the state changes the answer a lot (the model degrades badly without it)
    assert np.abs(streamed - stateless).max() > 0.5
    assert (streamed > 0.5).sum() > (stateless > 0.5).sum()


@pytest.mark.parametrize("name", [FINISHED, "dev-paused-0.wav", "heldout-finished-3.wav"])
def test_vad_events_do_not_depend_on_block_size(name: str) -> None:
    s = settings()
    pcm = fixture_pcm(name)
    by_block = {b: vad_events(pcm, s, block=b) for b in (160, 320, 480, 512)}
    reference = by_block[512]
    assert kinds(reference)[:1] == ["start"] and kinds(reference)[-1] == "stop"
    for block, events in by_block.items():
        assert events == reference, f"{block}-sample blocks"
    # float input in [-1, 1] is the same audio as int16
    assert vad_events(pcm.astype(np.float32) / 32768.0, s, block=320) == reference


@pytest.mark.parametrize(
    "name",
    [n for n, item in labels().items() if n.startswith("dev-") and item["category"] == "finished"],
)
def test_finished_sentence_one_start_near_label_and_stop_shortly_after_end(name: str) -> None:
    s = settings()
    label = labels()[name]
    events = vad_events(fixture_pcm(name), s)
    starts = [e for e in events if e.kind == "start"]
    stops = [e for e in events if e.kind == "stop"]
    assert len(starts) == 1 and len(stops) == 1, kinds(events)
    start, stop = starts[0], stops[0]
    assert abs(start.edge_s - label["speech_start_s"]) <= 2 * WINDOW_S
    # declared once start_ms of speech is heard, not much later
    assert label["speech_start_s"] < start.at_s <= label["speech_start_s"] + 0.2
    # the stop edge is at the end of the speech, declared soon after
    assert label["speech_end_s"] - WINDOW_S <= stop.edge_s <= label["speech_end_s"] + 0.15
    assert stop.at_s - stop.edge_s == pytest.approx(s.turn.stop_ms / 1000, abs=1e-6)
    assert stop.at_s <= label["speech_end_s"] + 0.25
    assert start.at_s < stop.at_s


def test_preroll_keeps_the_audio_before_the_speech_start(drive: Callable[..., Drive]) -> None:
    """The pre-roll is the microphone's samples as they were: it went int16 → float → int16
    through the VAD and came back up to 1 apart (×32767, truncated, for ÷32768), so the
    pause reading's audio and the transcript's differed and could not share Whisper's
    encoder pass (``providers/shared_encoding.py``)."""
    s = settings()
    label = labels()[FINISHED]
    pcm = fixture_pcm(FINISHED)
    d = drive(s)
    block = d.block
    for i in range(0, len(pcm) - block + 1, block):
        out = d.detector.feed(pcm[i : i + block], i / RATE)
        if any(sig.kind == "speech_start" for sig in out):
            block_end = i + block
            break
    else:
        pytest.fail("no speech_start")
    (sig,) = out
    kept = d.detector.turn_audio()
    first = block_end - kept.size
    # exactly the input audio, ending where the feed is now
    np.testing.assert_array_equal(kept, pcm[first:block_end])
    assert first / RATE <= label["speech_start_s"] - 0.2  # the first syllable is in
    assert first / RATE <= sig.start_s - (s.turn.preroll_ms / 1000 - WINDOW_S)


def test_the_transcribers_audio_is_the_words_stream_over_the_same_samples(
    drive: Callable[..., Drive],
) -> None:
    """The VAD hears AEC3's output; the transcriber gets the ``words`` given with each block
    (the echo canceller's residual while the speaker plays), pre-roll included, sample for
    sample over the same stretch. Its pre-roll and first block had been AEC3's output, where
    the person's first word over the answer is muffled."""
    pcm = fixture_pcm(FINISHED)
    words = (pcm // 2).astype(np.int16)  # another signal, told apart from the VAD's
    d = drive(settings())
    block = d.block
    started = False
    end = 0
    for i in range(0, len(pcm) - block + 1, block):
        end = i + block
        out = d.detector.feed(pcm[i:end], i / RATE, words[i:end])
        started = started or any(sig.kind == "speech_start" for sig in out)
        if started and end >= 1.5 * RATE:
            break
    assert started
    heard, transcribed = d.detector.turn_audio(), d.detector.transcript_audio()
    first = end - heard.size
    assert first < end - 0.3 * RATE  # the pre-roll is in
    np.testing.assert_array_equal(transcribed, words[first:end])
    np.testing.assert_array_equal(heard, pcm[first:end])


@pytest.mark.parametrize(
    "name", [n for n, item in labels().items() if item["category"] in ("noise", "silence")]
)
def test_no_speech_start_on_silence_or_noise(name: str, drive: Callable[..., Drive]) -> None:
    s = settings()
    pcm = fixture_pcm(name)
    assert vad_events(pcm, s) == []
    d = drive(s)
    assert d.run(pcm) == [] and d.model_calls == []
    assert not d.detector.in_turn


def test_float64_blocks_are_accepted_like_float32() -> None:
    s = settings()
    x = fixture_pcm(FINISHED).astype(np.float64) / 32768.0
    assert vad_events(x, s, block=320) == vad_events(x.astype(np.float32), s, block=320)


def _assert_finished_turn_at(d: Drive, t0: float) -> None:
    """Feed the finished fixture (plus 1 s of silence) from ``t0``; one turn, on that clock."""
    label = labels()[FINISHED]
    pcm = with_silence(fixture_pcm(FINISHED), 1.0)
    for i in range(0, len(pcm) - d.block + 1, d.block):
        d.signals += d.detector.feed(pcm[i : i + d.block], t0 + i / RATE)
    start = d.of("speech_start")[0]
    (end,) = d.of("turn_end")
    assert start.start_s is not None and end.end_s is not None
    assert abs(start.start_s - (t0 + label["speech_start_s"])) <= 2 * WINDOW_S
    assert abs(end.end_s - (t0 + label["speech_end_s"])) <= 0.15
    assert end.reason != "timeout"


def test_detector_follows_the_audio_clock_it_is_fed(drive: Callable[..., Drive]) -> None:
    """A detector first fed at t = 10 s reports times on that timeline."""
    _assert_finished_turn_at(drive(settings()), 10.0)


def test_after_reset_the_detector_follows_the_new_audio_clock(
    drive: Callable[..., Drive],
) -> None:
    d = drive(settings())
    quiet = np.zeros(16_080, np.int16)  # 1.005 s heard before the mute
    for i in range(0, quiet.size, d.block):
        d.detector.feed(quiet[i : i + d.block], i / RATE)
    d.detector.reset()  # muted; nothing is fed until the microphone is back at t = 10 s
    _assert_finished_turn_at(d, 10.0)


# ---------------------------------------------------------------------------- 3. pause / continue / stop
DIP_AT_WINDOW = 40  # 1.28 s: inside "What time is my next meeting?" (speech 0.66–2.09 s)
PAUSE_SETTINGS = {"commit_ms": 32, "stop_ms": 64}


@pytest.mark.parametrize("filler", ["zeros", "low-noise"])
def test_short_dip_reports_pause_then_continue(filler: str) -> None:
    s = settings(**PAUSE_SETTINGS)
    pcm = insert_gap(fixture_pcm(FINISHED), DIP_AT_WINDOW, WINDOW, filler)  # one 32 ms window
    events = vad_events(pcm, s)
    assert kinds(events) == ["start", "pause", "continue", "pause", "stop"]
    pause, cont = events[1], events[2]
    dip_s = DIP_AT_WINDOW * WINDOW_S
    assert pause.edge_s == pytest.approx(dip_s) and pause.at_s == pytest.approx(dip_s + WINDOW_S)
    assert cont.at_s == pytest.approx(dip_s + 2 * WINDOW_S)
    assert cont.edge_s == pytest.approx(dip_s + WINDOW_S)  # the speech came back there


def test_short_dip_in_the_detector_resumes_without_asking_the_model(
    drive: Callable[..., Drive],
) -> None:
    s = settings(**PAUSE_SETTINGS)
    pcm = with_silence(insert_gap(fixture_pcm(FINISHED), DIP_AT_WINDOW, WINDOW, "zeros"), 1.0)
    d = drive(s)
    signals = d.run(pcm)
    assert kinds(signals)[:3] == ["speech_start", "speech_stop", "speech_resume"]
    stop, resume = signals[1], signals[2]
    assert resume.reason == "continue"
    assert stop.end_s == pytest.approx(DIP_AT_WINDOW * WINDOW_S)
    assert not [t for t in d.model_calls if stop.audio_s <= t <= resume.audio_s + 0.010]
    # one turn, decided after the real end of the sentence, from one model call at its stop
    (end,) = d.of("turn_end")
    assert end.start_s == signals[0].start_s
    assert end.end_s is not None and end.end_s > labels()[FINISHED]["speech_end_s"]
    assert len(d.model_calls) == len(d.of("eou_check")) >= 1
    assert min(d.model_calls) > end.end_s


@pytest.mark.parametrize("filler", ["zeros", "low-noise"])
def test_longer_silence_reports_pause_then_stop(filler: str) -> None:
    s = settings(**PAUSE_SETTINGS)
    pcm = insert_gap(fixture_pcm(FINISHED), DIP_AT_WINDOW, 3200, filler)  # 200 ms
    events = vad_events(pcm, s)
    assert kinds(events)[:4] == ["start", "pause", "stop", "start"]
    pause, stop = events[1], events[2]
    assert pause.edge_s == stop.edge_s == pytest.approx(DIP_AT_WINDOW * WINDOW_S)
    assert pause.at_s - pause.edge_s == pytest.approx(0.032)
    assert stop.at_s - stop.edge_s == pytest.approx(0.064)
    assert "continue" not in kinds(events)


def test_longer_silence_in_the_detector_asks_the_model_once_at_the_stop(
    drive: Callable[..., Drive],
) -> None:
    s = settings(**PAUSE_SETTINGS)
    pcm = with_silence(insert_gap(fixture_pcm(FINISHED), DIP_AT_WINDOW, 3200, "zeros"), 1.0)
    d = drive(s)
    signals = d.run(pcm)
    assert kinds(signals)[:3] == ["speech_start", "speech_stop", "eou_check"]
    stop, check = signals[1], signals[2]
    vad_stop_at = DIP_AT_WINDOW * WINDOW_S + 0.064
    assert stop.audio_s == pytest.approx(DIP_AT_WINDOW * WINDOW_S + 0.032)  # at the pause
    # asked once, in the 10 ms block where the VAD declared the stop — not at the pause
    asked = [t for t in d.model_calls if t <= check.audio_s]
    assert len(asked) == 1
    assert vad_stop_at <= asked[0] < vad_stop_at + 0.010 + 1e-9
    assert check.verdict in ("complete", "incomplete") and check.probability is not None


@pytest.mark.parametrize("gap", [WINDOW, 3200])
def test_commit_equal_to_stop_gives_no_pause_or_continue(
    gap: int, drive: Callable[..., Drive]
) -> None:
    s = settings(commit_ms=64, stop_ms=64)
    pcm = insert_gap(fixture_pcm(FINISHED), DIP_AT_WINDOW, gap, "zeros")
    events = vad_events(pcm, s)
    expected = ["start", "stop"] if gap == WINDOW else ["start", "stop", "start", "stop"]
    assert kinds(events) == expected
    # a file with natural pause/continue flicker under the defaults has none either
    flicker = vad_events(fixture_pcm("heldout-finished-3.wav"), s)
    assert not {"pause", "continue"} & set(kinds(flicker))
    if gap == WINDOW:
        d = drive(s)
        signals = d.run(with_silence(pcm, 1.0))
        assert kinds(signals)[:2] == ["speech_start", "speech_stop"]
        assert signals[1].end_s is not None and signals[1].end_s > 1.5  # the dip went unnoticed
        assert not d.of("speech_resume")


# ---------------------------------------------------------------------------- 4. detector policy
def text_after_stop(
    text: str, delay_s: float
) -> Callable[[TurnDetector, float, list[TurnSignal]], list[TurnSignal]]:
    """The transcriber: its text for the turn arrives ``delay_s`` after each speech_stop."""
    due: list[float] = []

    def on_block(det: TurnDetector, now: float, out: list[TurnSignal]) -> list[TurnSignal]:
        if any(s.kind == "speech_stop" for s in out):
            due.append(now + delay_s)
        if due and now >= due[0] - 1e-9:
            due.pop(0)
            return det.set_text(text, now)
        return []

    return on_block


@pytest.mark.parametrize("last_word", ["the", "and", "um"])
def test_dangling_last_word_never_ends_the_turn_by_the_model(
    last_word: str, drive: Callable[..., Drive]
) -> None:
    s = settings()
    max_wait = s.turn.max_wait_ms / 1000
    pcm = with_silence(fixture_pcm(FINISHED), max_wait + 0.5)
    d = drive(s, expects_text=True)
    d.run(pcm, on_block=text_after_stop(f"What time is my next {last_word}", 0.2))
    # the audio model alone calls this finished sentence complete...
    checks = d.of("eou_check")
    assert checks and max(c.probability or 0.0 for c in checks) >= s.turn.eou_threshold
    # ...but the transcript holds the turn open until the maximum wait
    (end,) = d.of("turn_end")
    assert end.reason == "timeout"
    assert end.end_s is not None
    assert max_wait <= end.audio_s - end.end_s < max_wait + 0.010 + 1e-9
    assert end.text.endswith(last_word)


def test_finished_transcript_lets_the_model_end_the_turn(drive: Callable[..., Drive]) -> None:
    """The control for the test above: same audio, same timing, a finished sentence."""
    s = settings()
    pcm = with_silence(fixture_pcm(FINISHED), 2.5)
    d = drive(s, expects_text=True)
    d.run(pcm, on_block=text_after_stop("What time is my next meeting?", 0.2))
    (end,) = d.of("turn_end")
    assert end.reason == "model"
    assert end.end_s is not None and end.audio_s - end.end_s < 0.5


def test_push_to_talk_ends_only_on_release(drive: Callable[..., Drive]) -> None:
    s = settings(mode="push-to-talk")
    speech = fixture_pcm(FINISHED)
    pcm = with_silence(speech, s.turn.max_wait_ms / 1000 + 1.0)  # silence well past max wait
    d = drive(s)
    assert kinds(d.detector.ptt_press(0.0)) == ["speech_start"]
    # no end on silence and no model: only the pause, for the engine to prepare the answer
    signals = d.run(pcm)
    assert set(kinds(signals)) <= {"speech_stop", "speech_resume"}
    assert kinds(signals)[-1] == "speech_stop"
    assert d.model_calls == [] and d.detector.in_turn and not d.detector.in_speech
    assert d.detector.turn_audio().size >= len(pcm) - d.block
    release_at = len(pcm) / RATE
    (end,) = d.detector.ptt_release(release_at)
    assert (end.kind, end.reason) == ("turn_end", "ptt")
    assert end.audio_s == end.end_s == release_at and end.start_s == 0.0
    assert not d.detector.in_turn
    # after the release, speech does not open a turn by itself, and a second release is a no-op
    assert d.detector.ptt_release(release_at + 0.1) == []
    before = len(d.signals)
    assert d.run(speech)[before:] == [] and not d.detector.in_turn


def test_push_to_talk_release_mid_speech_ends_at_once(drive: Callable[..., Drive]) -> None:
    s = settings()
    d = drive(s, mode="push-to-talk")
    pcm = fixture_pcm(FINISHED)
    d.detector.ptt_press(0.5)
    d.run(pcm[: int(1.5 * RATE)])  # still talking at 1.5 s
    assert d.detector.in_speech
    # the speech stops at the release, so its last words are committed, and the turn ends
    stop, end = d.detector.ptt_release(1.5)
    assert (stop.kind, stop.end_s) == ("speech_stop", 1.5)
    assert end.reason == "ptt" and end.audio_s == 1.5 and d.model_calls == []


def test_max_wait_ends_an_undecided_turn_with_timeout(drive: Callable[..., Drive]) -> None:
    # a model that is never confident enough: only the maximum wait can end the turn
    s = settings(eou_threshold=0.999, max_wait_ms=700)
    pcm = with_silence(fixture_pcm("dev-unfinished-3.wav"), 1.5)
    d = drive(s)
    d.run(pcm)
    (end,) = d.of("turn_end")
    assert end.reason == "timeout"
    assert end.end_s is not None
    assert 0.7 <= end.audio_s - end.end_s < 0.7 + 0.010 + 1e-9
    assert d.of("eou_check") and all(c.verdict == "incomplete" for c in d.of("eou_check"))


@pytest.mark.parametrize("key", ["silero_vad", "smart_turn"])
@pytest.mark.parametrize("problem", ["missing", "empty", "not-onnx"])
def test_bad_model_file_is_a_user_error_naming_file_and_key(
    key: str, problem: str, tmp_path: Path
) -> None:
    path = tmp_path / f"{key}-{problem}.onnx"
    if problem == "empty":
        path.write_bytes(b"")
    elif problem == "not-onnx":
        path.write_bytes(b"this is not an onnx model, just some text\n" * 4)
    s = load_settings(NO_CONFIG, environ={}, overrides={"models": {key: str(path)}})
    with pytest.raises(ModelFileError) as info:
        TurnDetector(s)
    assert isinstance(info.value, UserError)
    message = str(info.value)
    assert str(path) in message
    assert f"models.{key}" in message


def test_a_model_path_that_is_a_folder_says_so(tmp_path: Path) -> None:
    """It said "Model file not found" of a folder that was there."""
    s = load_settings(NO_CONFIG, environ={}, overrides={"models": {"smart_turn": str(tmp_path)}})
    with pytest.raises(ModelFileError, match="is a folder, not a file") as info:
        TurnDetector(s)
    assert "models.smart_turn" in str(info.value) and str(tmp_path) in str(info.value)


@pytest.mark.parametrize("key", ["silero_vad", "smart_turn"])
def test_the_other_model_file_is_refused_at_load(key: str, tmp_path: Path) -> None:
    """models.smart_turn pointing at the VAD (or the other way round) loaded fine, passed
    `doctor`, then failed mid-replay with onnxruntime's 'Required inputs … are missing'."""
    from voicedesk.commands.doctor import check_models

    other = (smart_turn_path if key == "silero_vad" else vad_path)(settings().models)
    s = load_settings(NO_CONFIG, environ={}, overrides={"models": {key: str(other)}})
    with pytest.raises(ModelFileError) as info:
        TurnDetector(s)
    assert str(other) in str(info.value) and f"models.{key}" in str(info.value)
    failed = [c for c in check_models(s) if c.status == "fail"]
    assert failed and f"models.{key}" in failed[0].detail


def test_unreadable_model_file_names_file_and_key(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = tmp_path / "vad.onnx"
    path.write_bytes(vad_path(settings().models).read_bytes())
    path.chmod(0)
    s = load_settings(NO_CONFIG, environ={}, overrides={"models": {"silero_vad": str(path)}})
    with pytest.raises(ModelFileError, match=r"models\.silero_vad") as info:
        SileroVAD(s)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------- 5. replay contract
def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("VOICEDESK_") and k not in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY")
    }
    empty = tmp_path / "empty-config.toml"  # never the user's file (a named file must exist)
    empty.write_text("", encoding="utf-8")
    env["VOICEDESK_CONFIG"] = str(empty)
    env.update(extra)
    return env


def run_replay(path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicedesk", "replay", str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


TURN_KEYS = {"start_s", "end_s", "decided_s", "reason", "eou_probability", "text"}
CHECK_KEYS = {"at_s", "probability", "text_so_far", "verdict"}


def test_replay_json_contract(tmp_path: Path) -> None:
    path = FIXTURES / FINISHED
    label = labels()[FINISHED]
    proc = run_replay(path, cli_env(tmp_path), "--json", "--stt", "none")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1  # one JSON object
    out = json.loads(lines[0])
    assert set(out) == {"file", "sample_rate", "duration_s", "turns", "eou_checks"}
    assert out["file"] == str(path) and out["sample_rate"] == RATE
    assert out["duration_s"] == pytest.approx(sf.info(str(path)).duration, abs=0.001)

    (turn,) = out["turns"]
    assert set(turn) == TURN_KEYS
    assert turn["reason"] in ("model", "transcript", "timeout", "ptt")
    assert turn["text"] == ""  # --stt none: audio only
    assert abs(turn["start_s"] - label["speech_start_s"]) <= 0.1
    assert label["speech_end_s"] - WINDOW_S <= turn["end_s"] <= label["speech_end_s"] + 0.15
    # decided on the audio clock, after the speech ended, within the maximum wait
    assert label["speech_end_s"] < turn["decided_s"]
    assert turn["end_s"] <= turn["decided_s"] <= turn["end_s"] + settings().turn.max_wait_ms / 1000
    assert out["eou_checks"]
    for check in out["eou_checks"]:
        assert set(check) == CHECK_KEYS
        assert check["verdict"] in ("complete", "incomplete")
        assert 0.0 <= check["probability"] <= 1.0
        assert label["speech_end_s"] < check["at_s"] <= turn["decided_s"]
    if turn["reason"] in ("model", "transcript"):
        assert turn["eou_probability"] == out["eou_checks"][-1]["probability"]

    # the virtual clock makes it deterministic: the same as replaying in this process
    assert replay(path, settings()).to_json() == out


def test_replay_times_stay_on_the_file_timeline_at_another_rate(tmp_path: Path) -> None:
    pcm = fixture_pcm(FINISHED)
    hi = resample(pcm, RATE, 48_000)
    path = tmp_path / "finished-48k.wav"
    sf.write(str(path), hi, 48_000, subtype="PCM_16")
    s = settings()
    native = replay(FIXTURES / FINISHED, s).to_json()
    at_48k = replay(path, s).to_json()
    assert at_48k["sample_rate"] == 48_000
    assert at_48k["duration_s"] == pytest.approx(native["duration_s"], abs=0.001)
    assert len(at_48k["turns"]) == len(native["turns"]) == 1
    for key in ("start_s", "end_s", "decided_s"):
        assert at_48k["turns"][0][key] == pytest.approx(native["turns"][0][key], abs=WINDOW_S)
    assert at_48k["turns"][0]["reason"] == native["turns"][0]["reason"]


def test_speech_to_the_end_of_the_file_ends_with_the_file(tmp_path: Path) -> None:
    """The VAD hears such speech stop in the silence added after the file, and end_s was
    given there: past duration_s, off the file's timeline."""
    pcm = fixture_pcm(FINISHED)
    voiced = np.flatnonzero(np.abs(pcm) > 300)
    path = tmp_path / "to-the-end.wav"
    sf.write(str(path), pcm[: voiced[-1] - RATE // 10], RATE, subtype="PCM_16")
    result = replay(path, settings()).to_json()
    (turn,) = result["turns"]
    assert turn["end_s"] == result["duration_s"] <= turn["decided_s"]


def _reading(
    text: str, alternatives: list[tuple[str, float]] | None = None, heard: str | None = None
) -> local_stt.CueReading:
    return local_stt.CueReading(text, alternatives or [], text if heard is None else heard)


def test_replay_reads_each_pause_once_and_a_dangling_reading_holds_the_turn() -> None:
    """Replay reads each pause once, with all of the turn's audio (a second reading 10 ms
    shorter doubled the CPU for ~5 turns in 864); a reading that says the sentence dangles
    holds the turn to the maximum wait."""
    s = settings()

    class Reads:
        def __init__(self, text: str) -> None:
            self.text = text
            self.sizes: list[int] = []

        def read_for_cues(self, audio: np.ndarray, silence_s: float = 0.0) -> local_stt.CueReading:
            self.sizes.append(audio.size)
            return _reading(self.text)

    finished = Reads("What time is my next meeting?")
    (turn,) = replay(FIXTURES / FINISHED, s, transcriber=finished).to_json()["turns"]
    assert turn["reason"] == "model" and turn["text"] == "What time is my next meeting?"
    assert len(finished.sizes) == 1
    assert finished.sizes[0] / 16_000 >= turn["end_s"] - turn["start_s"]  # all of the turn

    dangling = Reads("What time is my next meeting at")
    (turn,) = replay(FIXTURES / FINISHED, s, transcriber=dangling).to_json()["turns"]
    assert turn["reason"] == "timeout" and turn["text"].endswith("meeting at")
    assert turn["decided_s"] - turn["end_s"] >= s.turn.max_wait_ms / 1000 - 1e-6


def test_a_realtime_replay_does_not_stop_the_clock_for_a_slow_reading() -> None:
    """Paced like a microphone, the audio goes on while a pause is read, as live: a reading
    that takes longer than the maximum wait must not leave every turn to end by timeout
    with no model check (it did when the reading blocked the audio loop)."""
    s = settings()

    class Slow:
        def read_for_cues(self, audio: np.ndarray, silence_s: float = 0.0) -> local_stt.CueReading:
            time.sleep(s.turn.max_wait_ms / 1000 + 0.2)
            return _reading("What time is my next meeting?")

    result = replay(FIXTURES / FINISHED, s, transcriber=Slow(), realtime=True).to_json()
    (turn,) = result["turns"]
    assert turn["reason"] == "model" and result["eou_checks"]
    # decided by Smart Turn once the reading was overdue, not at the maximum wait
    assert turn["decided_s"] - turn["end_s"] < s.turn.max_wait_ms / 1000 - 0.5


def test_a_realtime_replay_reads_the_latest_pause_beside_a_stale_reading() -> None:
    """As live, a reading of a pause the person has spoken on since cannot be stopped, and
    the latest pause is read beside it: it used to wait for that stale reading (a comma's),
    and on a loaded machine its cues came after the detector had stopped waiting for them."""
    import threading

    s = settings()
    latest_begun = threading.Event()
    stale_outlived: list[bool] = []
    calls = iter(range(1_000))
    lock = threading.Lock()

    class StaleIsSlow:
        def read_for_cues(self, audio: np.ndarray, silence_s: float = 0.0) -> local_stt.CueReading:
            with lock:
                first = next(calls) == 0
            if first:  # the comma's pause: read until a later pause's reading has begun
                stale_outlived.append(latest_begun.wait(timeout=30))
                return _reading("Thank you,")
            latest_begun.set()
            return _reading("Thank you, that was really helpful.")

    # "Thank you, | that was really helpful.": the VAD hears a pause at the comma
    result = replay(
        FIXTURES / "heldout-finished-3.wav", s, transcriber=StaleIsSlow(), realtime=True
    )
    assert stale_outlived == [True]  # a later pause was read while the comma's still was
    (turn,) = result.to_json()["turns"]
    assert turn["text"] == "Thank you, that was really helpful."


def test_replay_waits_out_a_pause_when_the_last_word_may_have_dangled() -> None:
    """A finished-looking reading whose last word the transcriber nearly wrote as a dangling
    one ("call" / "called") holds the turn through an in-sentence pause, not to the end."""
    s = settings()

    class NearlyCalled:
        def __init__(self, odds: float) -> None:
            self.odds = odds

        def read_for_cues(self, audio: np.ndarray, silence_s: float = 0.0) -> local_stt.CueReading:
            return _reading("Open the document call.", [("Open the document called", self.odds)])

    (sure,) = replay(FIXTURES / FINISHED, s, transcriber=NearlyCalled(0.01)).to_json()["turns"]
    (doubt,) = replay(FIXTURES / FINISHED, s, transcriber=NearlyCalled(0.4)).to_json()["turns"]
    assert sure["decided_s"] - sure["end_s"] < 0.4
    assert 0.8 < doubt["decided_s"] - doubt["end_s"] < s.turn.max_wait_ms / 1000
    assert doubt["text"] == "Open the document call."


def test_replay_waits_out_a_pause_when_words_were_written_for_the_silence() -> None:
    """The reader is told how much of the audio the VAD heard as silence; a reading whose
    heard part dangles ("… for" + an invented "me?") holds the turn through an in-sentence
    pause, not to the maximum wait."""
    s = settings()
    silences: list[float] = []

    class Invents:
        def __init__(self, heard: str) -> None:
            self.heard = heard

        def read_for_cues(self, audio: np.ndarray, silence_s: float = 0.0) -> local_stt.CueReading:
            silences.append(silence_s)
            return _reading("What time is my next meeting for me?", heard=self.heard)

    (heard,) = replay(
        FIXTURES / FINISHED, s, transcriber=Invents("What time is my next meeting for me?")
    ).to_json()["turns"]
    (invented,) = replay(
        FIXTURES / FINISHED, s, transcriber=Invents("What time is my next meeting for")
    ).to_json()["turns"]
    assert heard["decided_s"] - heard["end_s"] < 0.4
    assert 0.8 < invented["decided_s"] - invented["end_s"] < s.turn.max_wait_ms / 1000
    assert invented["text"] == "What time is my next meeting for me?"
    # the VAD's trailing silence at the stop (commit_ms and a window)
    assert 0.02 <= silences[0] <= 0.15


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_replay_with_the_local_transcriber_reads_and_ends_a_finished_sentence(
    tmp_path: Path,
) -> None:
    """The real path: ``voicedesk replay --stt local`` reads the pause with faster-whisper
    and ends a finished question promptly, with its words as the text."""
    proc = run_replay(FIXTURES / FINISHED, cli_env(tmp_path), "--json", "--stt", "local")
    assert proc.returncode == 0, proc.stderr
    (turn,) = json.loads(proc.stdout)["turns"]
    assert "meeting" in turn["text"].lower()
    assert turn["reason"] in ("model", "transcript")
    assert turn["decided_s"] - turn["end_s"] <= 0.4


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_replay_holds_a_short_fragment_read_as_a_sentence_with_a_doubt(tmp_path: Path) -> None:
    """ "Order more coffee", cut from "… from the usual shop.": the tiny model reads a whole
    sentence but weighs other endings at over ``FIRM_ODDS``, and Smart Turn says 0.97 at
    once. Short and not firm, it waits out a pause."""
    path = FIXTURES.parent / "cues" / "short-fragment.wav"
    proc = run_replay(path, cli_env(tmp_path), "--json", "--stt", "local")
    assert proc.returncode == 0, proc.stderr
    turns = json.loads(proc.stdout)["turns"]
    assert all(t["decided_s"] - t["end_s"] > 0.6 for t in turns), turns


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_replay_ends_a_whole_sentence_smart_turn_doubts_before_the_maximum_wait() -> None:
    """ "Let me know if it starts to snow." in flite's "awb" voice: the tiny model reads it
    whole but weighs trailing off at ~0.24 of its full stop, and Smart Turn, trained on
    people, scores this voice 0.01-0.12 through 1.4 s of silence. It waited the maximum
    wait (2 s); a whole sentence now ends at Smart Turn's last look (1.4 s) instead. On a
    core whose int8 kernels read it firm, it ends sooner still."""
    from voicedesk.turn.detector import HESITANT_WAIT_S, WHOLE_SENTENCE_SHARE

    path = FIXTURES.parent / "cues" / "flite-doubted.wav"
    s = settings()
    (turn,) = replay(path, s, transcriber=local_stt.cue_reader()).to_json()["turns"]
    assert "snow" in turn["text"].lower()
    assert turn["reason"] in ("model", "transcript")
    wait = turn["decided_s"] - turn["end_s"]
    whole_sentence_wait = WHOLE_SENTENCE_SHARE * s.turn.max_wait_ms / 1000  # 1.4 s of 2 s
    assert wait <= whole_sentence_wait + 0.02 < s.turn.max_wait_ms / 1000
    assert whole_sentence_wait > HESITANT_WAIT_S


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_replay_leaves_a_long_sentence_read_with_a_mild_doubt_to_smart_turn() -> None:
    """ "Thank you, that was really helpful.": on an AVX2 core the tiny model weighs other
    endings at over ``FIRM_ODDS`` and under ``MILD_ODDS``; six words and more, Smart Turn
    decides (0.6 at 0.2 s) instead of the turn waiting out a pause (0.9 s). CTranslate2's
    int8 kernels differ by instruction set, and on one AVX-512 core the same reading came
    out firm (the policy itself is pinned in test_turn_policy): either way it is not held.
    On another (2026-12-05) Smart Turn said 0.16 and 0.30 at its first two looks and 0.85
    at the 0.3 s one, which falls on the block after it (0.302 s): within the 0.4 s a
    finished sentence may take, not the 0.9 s of a pause waited out."""
    path = FIXTURES / "heldout-finished-3.wav"
    (turn,) = replay(path, settings(), transcriber=local_stt.cue_reader()).to_json()["turns"]
    assert turn["text"] == "Thank you, that was really helpful."
    assert turn["reason"] in ("model", "transcript")
    assert turn["decided_s"] - turn["end_s"] < 0.4


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
@pytest.mark.parametrize("name", [FINISHED, "dev-paused-0.wav", "heldout-unfinished-3.wav"])
def test_cue_reading_is_faster_whispers_verbatim_transcript(name: str) -> None:
    """``read_for_cues`` decodes through CTranslate2 itself (for the step probabilities); it
    must read exactly what faster-whisper's own transcribe reads with the same options."""
    whisper = local_stt.LocalWhisper()
    pcm = fixture_pcm(name)
    segments, _ = whisper.model.transcribe(
        pcm.astype(np.float32) / 32768.0 if pcm.dtype == np.int16 else pcm,
        language="en",
        beam_size=1,
        vad_filter=False,
        condition_on_previous_text=False,
        without_timestamps=True,
        temperature=0.0,
        initial_prompt=local_stt.VERBATIM_PROMPT,
    )
    reading = whisper.read_for_cues(pcm)
    text = reading.text
    assert text == " ".join(seg.text.strip() for seg in segments).strip()
    assert text
    stem = text.rstrip(".?!").rsplit(" ", 1)[0]
    for other, odds in reading.alternatives:
        assert other.startswith(stem) and other != text.rstrip(".?!") and odds > 0
    for longer, odds in reading.continuations:
        assert longer.startswith(text.rstrip(".?!")) and longer != text.rstrip(".?!") and odds > 0


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_cue_reading_tells_a_dangling_word_dropped_before_the_full_stop() -> None:
    """Tiny Whisper writes "Please move my dentist appointment." for speech that stops on
    "to", but weighed " to" against that full stop: the reading must carry it, so the turn
    waits out the pause."""
    pcm, _ = read_wav(FIXTURES.parent / "cues" / "dropped-to.wav", RATE)
    reading = local_stt.LocalWhisper().read_for_cues(pcm, 0.13)
    assert reading.text == "Please move my dentist appointment."
    odds = dict(reading.continuations)
    assert odds.get("Please move my dentist appointment to", 0.0) >= CONTINUATION_ODDS
    cue = reading_cue(
        Reading(reading.text, heard=reading.heard, continuations=tuple(reading.continuations))
    )
    assert cue.verdict == "hesitant"


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_cue_reading_counts_a_fillers_opening_token_as_the_filler() -> None:
    """Tiny Whisper writes "Can you open the arm?" for "Can you open the um", but weighed
    " u" (the token its spelling of "umm" and "uhh" begins with) beside "arm", and " um"
    too: together they are the filler, and the turn waits out the pause."""
    pcm, _ = read_wav(FIXTURES.parent / "cues" / "opened-um.wav", RATE)
    reading = local_stt.LocalWhisper().read_for_cues(pcm, 0.13)
    assert reading.text == "Can you open the arm?"
    odds = dict(reading.alternatives)
    assert odds.get("Can you open the um", 0.0) >= ALTERNATIVE_ODDS
    assert "Can you open the u" not in odds
    cue = reading_cue(Reading(reading.text, alternatives=tuple(reading.alternatives)))
    assert cue.verdict == "hesitant"


def test_a_word_split_at_the_fillers_opening_token_is_not_a_filler() -> None:
    """ " u" weighed where Whisper wrote "up" is "up" spelt in two tokens, not a filler; and
    where it wrote another word, " u" and " um" are one filler whose odds add up."""
    probs = np.array([4.0, 1.0, 0.5, 0.25])
    step = local_stt._Step(probs, [(0, " up"), (1, " u"), (2, " um"), (3, " off")])
    written_up = dict(local_stt.LocalWhisper._words_weighed(step, 0, "Turn it", "up".startswith))
    assert written_up == {"Turn it um": 0.125, "Turn it off": 0.0625}  # " um" itself stays
    step = local_stt._Step(probs, [(0, " arm"), (1, " u"), (2, " um"), (3, " up")])
    other = dict(local_stt.LocalWhisper._words_weighed(step, 0, "Open the", "arm".startswith))
    assert other == {"Open the um": 0.375, "Open the up": 0.0625}


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_cue_reading_tells_how_near_whisper_came_to_trailing_off() -> None:
    """ "Can I ask you" spoken alone reads as a finished question, but Whisper weighed "…"
    beside its "?"; at the end of a finished sentence it hardly does."""
    whisper = local_stt.LocalWhisper()
    pcm, _ = read_wav(FIXTURES.parent / "cues" / "trailed-ask.wav", RATE)
    reading = whisper.read_for_cues(pcm, 0.04)
    assert reading.text == "Can I ask you?"
    assert reading.trailing >= TRAILING_ODDS
    assert reading_cue(Reading(reading.text, trailing=reading.trailing)).verdict == "hesitant"
    finished = whisper.read_for_cues(fixture_pcm(FINISHED))
    assert finished.trailing < TRAILING_ODDS / 4


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_cue_reading_on_more_threads_gives_the_same_words_and_odds() -> None:
    """The cue reader spreads a reading over the cores to make the person wait less: that
    must not change what the reading says, on which the turn decision was measured."""
    pcm = fixture_pcm("dev-paused-0.wav")
    one = local_stt.LocalWhisper(cpu_threads=1).read_for_cues(pcm, 0.13)
    two = local_stt.LocalWhisper(cpu_threads=2).read_for_cues(pcm, 0.13)
    assert (one.text, one.heard) == (two.text, two.heard)
    assert [t for t, _ in one.alternatives] == [t for t, _ in two.alternatives]
    assert [o for _, o in one.alternatives] == pytest.approx(
        [o for _, o in two.alternatives], rel=0.02
    )
    assert two.trailing == pytest.approx(one.trailing, rel=0.02, abs=1e-4)
    assert two.words_end_odds == pytest.approx(one.words_end_odds, rel=0.02)


def test_cue_threads_stay_within_the_cores_the_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for cores, threads in ((1, 1), (2, 2), (16, local_stt.CUE_THREADS)):
        monkeypatch.setattr(
            local_stt.os, "sched_getaffinity", lambda _pid, n=cores: set(range(n)), raising=False
        )
        assert local_stt.cue_threads() == threads


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_a_finished_statement_reads_as_firm() -> None:
    """Whisper weighs neither another word nor "…" where a finished sentence ends, so the turn
    may end without Smart Turn's say-so (which scores a few such sentences near 0)."""
    reading = local_stt.LocalWhisper().read_for_cues(fixture_pcm("dev-finished-3.wav"))
    assert reading.text == "I think that's everything for today."
    assert reading.words_end_odds is not None and reading.words_end_odds > 1
    cue = reading_cue(
        Reading(
            reading.text,
            continuations=tuple(reading.continuations),
            trailing=reading.trailing,
            weighed=True,
            words_end_odds=reading.words_end_odds,
        )
    )
    assert cue.verdict == "complete" and cue.firm


@pytest.mark.parametrize(
    ("pieces", "said"),
    [
        ([" Owe", " Paul", " $", "20", "."], 4),  # a number or a sign is said too
        ([" What", " time", " is", " it", "?", "..."], 4),
        ([" ..."], 0),
    ],
)
def test_the_words_alone_are_the_text_without_its_closing_marks(
    pieces: list[str], said: int
) -> None:
    assert local_stt._spoken_end(pieces) == said


def test_an_amount_is_the_last_word_of_a_text() -> None:
    """Where the text ends on "$20", the step that ended it is the full stop after "20":
    the words weighed after "Paul" (" twenty") are the amount spelt out, not one more."""
    assert local_stt._last_word([" Owe", " Paul", " $", "20", "."]) == (2, 4)
    assert local_stt._last_word([" Up", " to", " 5", "%", "?"]) == (2, 4)


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
@pytest.mark.parametrize(
    ("words", "goes_on"),
    [
        ("When does the post office", True),  # … open tomorrow?
        ("How much would a new battery", True),  # … cost for this phone?
        ("What time is my next meeting", False),
        ("Turn off the lights in the living room", False),
    ],
)
def test_the_words_alone_tell_a_phrase_that_goes_on(words: str, goes_on: bool) -> None:
    """Whisper's decoder, hearing silence, reads the words as a language model would."""
    whisper = local_stt.LocalWhisper()
    odds = whisper.words_end_odds(whisper._tokenizer().encode(" " + words))
    assert odds is not None
    assert (odds < WORDS_END_ODDS) is goes_on
    assert goes_on or odds > 4 * WORDS_END_ODDS  # far from the line, not just over it


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
@pytest.mark.parametrize("repeat", [2, 12])  # ~40 and ~250 tokens
def test_the_words_alone_are_read_however_long_the_turn(repeat: int) -> None:
    """The decoder's length limit counts the prompt and halves forced text: a long turn
    must still be read to its end, not fail or be cut short."""
    whisper = local_stt.LocalWhisper()
    sentence = " Please send the quarterly report to everyone on the design team, and"
    tokens = whisper._tokenizer().encode(sentence * repeat)
    odds = whisper.words_end_odds(tokens)
    assert odds is not None and odds < WORDS_END_ODDS  # it stops on "and"


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_a_finished_sentence_is_not_cut_at_its_comma() -> None:
    """ "Sure, | send it to the whole team.": the gap at the comma reads "Sure." and Smart
    Turn scores it 0.92, but a lone opener waits out an in-sentence pause, so the sentence
    is one turn, ended soon after its last word."""
    path = FIXTURES.parent / "cues" / "comma-sure.wav"
    (turn,) = replay(path, settings(), transcriber=local_stt.cue_reader()).to_json()["turns"]
    assert turn["text"].startswith("Sure, send it")
    assert turn["decided_s"] - 2.331 <= 0.4  # the labelled end of the speech


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_a_sentence_that_ends_on_a_number_ends_promptly() -> None:
    """ "Wake me up at seven." reads "Wake me up at 7."; the cue took "at" for its last word,
    a dangling preposition, and the turn waited the maximum wait (2 s)."""
    path = FIXTURES.parent / "cues" / "number-seven.wav"
    (turn,) = replay(path, settings(), transcriber=local_stt.cue_reader()).to_json()["turns"]
    assert turn["text"] == "Wake me up at 7."
    assert turn["decided_s"] - 1.612 <= 0.4  # the labelled end of the speech


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
@pytest.mark.parametrize(
    ("name", "heard"),
    [
        ("heldout-unfinished-0.wav", "Please move the second heading to"),  # "the..." invented
        (FINISHED, None),  # every word heard
        ("heldout-finished-0.wav", None),  # a short real last word ("… for me?") too
    ],
)
def test_cue_reading_tells_the_words_written_for_the_silence(name: str, heard: str | None) -> None:
    """Whisper's alignment places the words it invented to finish a cut-off phrase after the
    end of the speech (here 0.1 s before the end of the audio)."""
    end = int((labels()[name]["speech_end_s"] + 0.1) * RATE)
    reading = local_stt.LocalWhisper().read_for_cues(fixture_pcm(name)[:end], 0.1)
    assert reading.heard == (reading.text if heard is None else heard)
    assert reading.text.startswith(reading.heard)


def test_replay_push_to_talk_ends_on_release_only() -> None:
    out = replay(FIXTURES / FINISHED, settings(), mode="push-to-talk").to_json()
    (turn,) = out["turns"]
    assert turn["reason"] == "ptt" and turn["eou_probability"] is None
    assert turn["start_s"] == 0.0
    assert turn["decided_s"] == turn["end_s"] == out["duration_s"]  # released at the file's end
    assert out["eou_checks"] == []


def test_replay_push_to_talk_reads_the_held_turn() -> None:
    """With local cues the text was read at pauses only, and a turn released at the end of
    the file had none: "text" was "" though replay said it read the words."""
    reader = local_stt.cue_reader()
    out = replay(FIXTURES / FINISHED, settings(), transcriber=reader, mode="push-to-talk")
    (turn,) = out.to_json()["turns"]
    assert turn["reason"] == "ptt"
    assert turn["text"] == labels()[FINISHED]["text"]


def _words_of(item: dict[str, Any]) -> np.ndarray:
    """A fixture's speech, without the silence around it."""
    audio, _ = sf.read(FIXTURES / item["file"], dtype="int16")
    return audio[int(item["speech_start_s"] * 16_000) : int(item["speech_end_s"] * 16_000)]


BREATH = np.zeros(int(0.3 * 16_000), np.int16)  # between two sentences of a dictation


def _dictation() -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Every finished fixture sentence, one after another (over 20 s), and their labels."""
    said = [item for item in labels().values() if item["category"] == "finished"]
    return np.concatenate([part for item in said for part in (_words_of(item), BREATH)]), said


def test_a_long_turns_pause_is_read_from_the_turns_end() -> None:
    """A dictation's pauses were each read from up to 30 s back: the reading took 1-1.4 s
    of a core, past the 0.8 s the detector waits for the words, and came too late to count.
    Only the turn's last seconds (``pause_reading.READ_S``) are read now; the end is what
    the cues are about."""
    from voicedesk.turn.pause_reading import PauseReader

    turn, said = _dictation()
    assert turn.size / 16_000 > 20  # under Whisper's 30 s: it was all read
    reading = PauseReader(local_stt.cue_reader()).read(turn, 0.3)
    first, last = said[0]["text"], said[-1]["text"]
    assert last.lower().rstrip("?.") in reading.text.lower()
    assert first.lower().rstrip("?.") not in reading.text.lower()


def test_a_long_turns_reading_reaches_its_last_words_wherever_its_window_falls() -> None:
    """The last ``READ_S`` seconds of a long turn were cut wherever they fell, often in a
    word; read from there, the tiny Whisper at times stopped at the sentence before the
    last and left the person's last words out: "… That was really helpful." for a turn
    that went on "The main problem with the", read as a finished sentence without a
    doubt, ended the turn on the fragment (a sentence or two back, at times). The window begins at a quiet moment now."""
    from voicedesk.turn.pause_reading import PauseReader

    before, said = _dictation()

    def last_word(text: str) -> str:
        return text.rstrip("?.!…").split()[-1].lower() if text.strip() else ""

    ends_before = {last_word(item["text"]) for item in said}  # "helpful", "blue", ...
    reader = PauseReader(local_stt.cue_reader())
    missed = []
    for item in labels().values():
        if item["category"] != "unfinished":
            continue
        for shift_s in (0.0, 0.31):  # where the window begins, in the words before
            start = before[: before.size - int(shift_s * 16_000)]
            turn = np.concatenate([start, _words_of(item), BREATH])
            assert turn.size / 16_000 > 20
            reading = reader.read(turn, 0.3)
            ends = last_word(reading.text)
            if ends in ends_before and ends != last_word(item["text"]):
                missed.append((item["text"], shift_s, reading.text[-40:]))
    assert missed == []


def test_replay_gives_a_long_turns_text_whole(tmp_path: Path) -> None:
    """A pause is read from the turn's last ``READ_S`` seconds, and a long turn's "text"
    in ``replay`` was that reading: a 20 s dictation held only its last sentences."""
    turn, said = _dictation()
    path = tmp_path / "dictation.wav"
    sf.write(path, turn, 16_000)
    proc = run_replay(path, cli_env(tmp_path), "--json", "--stt", "local", "--mode", "push-to-talk")
    assert proc.returncode == 0, proc.stderr
    (turn,) = json.loads(proc.stdout)["turns"]
    assert turn["end_s"] - turn["start_s"] > 20
    words = turn["text"].lower()
    assert said[0]["text"].lower().rstrip("?.") in words
    assert said[-1]["text"].lower().rstrip("?.") in words


def _assert_one_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    # one error line, optionally followed by the project's one-line hint ("  → …")
    assert lines and lines[0].startswith("voicedesk: ")
    assert len(lines) <= 2 and all(line.lstrip().startswith("→") for line in lines[1:])
    for needle in needles:
        assert needle in lines[0] or needle in proc.stderr


@pytest.mark.parametrize("kind", ["missing", "not-audio"])
def test_replay_bad_path_is_one_error_without_traceback(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    if kind == "not-audio":
        path.write_text("not a wav file\n")
    proc = run_replay(path, cli_env(tmp_path), "--json", "--stt", "none")
    _assert_one_error(proc, str(path))


def test_replay_stt_model_errors_are_one_line(tmp_path: Path) -> None:
    """A bad --stt-model is the only thing said (not after "transcript cues from local
    faster-whisper"), and a model given with --stt none is refused rather than ignored."""
    env = cli_env(tmp_path)
    missing = tmp_path / "no-model"
    # the path is the flag's: pointing at the config key sent the person to the wrong fix
    for given in (missing, tmp_path):  # no such folder; a folder without a model
        proc = run_replay(FIXTURES / FINISHED, env, "--stt-model", str(given))
        _assert_one_error(proc, str(given), "check the --stt-model path")
        assert "stt.local_model" not in proc.stderr
    proc = run_replay(FIXTURES / FINISHED, env, "--stt", "none", "--stt-model", str(missing))
    _assert_one_error(proc, "--stt-model", "--stt local")


def test_replay_without_transcript_prints_no_empty_text(tmp_path: Path) -> None:
    proc = run_replay(FIXTURES / FINISHED, cli_env(tmp_path), "--stt", "none")
    assert proc.returncode == 0, proc.stderr
    turns = [line for line in proc.stdout.splitlines() if line.startswith("turn ")]
    assert turns and all(not line.endswith("''") for line in turns)


def test_replay_missing_model_names_the_config_key(tmp_path: Path) -> None:
    missing = tmp_path / "gone.onnx"
    env = cli_env(tmp_path, VOICEDESK_MODELS__SMART_TURN=str(missing))
    proc = run_replay(FIXTURES / FINISHED, env, "--json", "--stt", "none")
    _assert_one_error(proc, str(missing), "models.smart_turn")


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_bench_turn_realtime_counts_the_local_readings_time(tmp_path: Path) -> None:
    """``bench turn --realtime`` paces the files like a microphone, so its waits include
    the local reading's compute time, as live, and it says how long a reading took."""
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / FINISHED).write_bytes((FIXTURES / FINISHED).read_bytes())
    (folder / "labels.json").write_text(json.dumps([labels()[FINISHED]]))
    cmd = [sys.executable, "-m", "voicedesk", "bench", "turn", "--json", "--cpu-seconds", "0.5"]
    waits = {}
    for clock in ("virtual", "realtime"):
        proc = subprocess.run(
            [*cmd, "--fixtures", str(folder), *(["--realtime"] if clock == "realtime" else [])],
            capture_output=True,
            text=True,
            env=cli_env(tmp_path),
            timeout=240,
        )
        assert proc.returncode == 0, proc.stderr
        accuracy = json.loads(proc.stdout)["accuracy"]
        assert accuracy["clock"] == clock
        reading = accuracy["pause_reading_ms"]
        assert reading["n"] >= 1 and reading["p95"] >= reading["p50"] > 0
        waits[clock] = (accuracy["finished"]["median_wait_s"], reading["p50"] / 1000)
    # virtual: the reading costs no audio time; paced: the decision waited for it
    (virtual_wait, _), (paced_wait, paced_reading) = waits["virtual"], waits["realtime"]
    assert paced_wait > virtual_wait
    assert paced_wait >= min(paced_reading, 0.8)


def test_bench_turn_reports_cost_and_accuracy_from_anywhere(tmp_path: Path) -> None:
    """``voicedesk bench turn`` outside the checkout's root still finds the checked-in set;
    a folder without labels is a clear error, not a traceback."""
    cmd = [sys.executable, "-m", "voicedesk", "bench", "turn", "--json", "--stt", "none"]
    proc = subprocess.run(
        [*cmd, "--cpu-seconds", "0.5", "--split", "dev"],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
        cwd=tmp_path,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["cpu"]["eou_call_ms"]["p95"] > 0
    assert 0 < report["cpu"]["eou_call_cpu_ms"]["p50"] <= report["cpu"]["eou_call_ms"]["p95"]
    assert (
        report["cpu"]["eou_call_process_cpu_ms"]["p50"] >= report["cpu"]["eou_call_cpu_ms"]["p50"]
    )
    assert report["cpu"]["realtime_cpu_percent_vad_resample"] > 0
    accuracy = report["accuracy"]
    dev = [x for x in labels().values() if x.get("split") == "dev"]
    assert accuracy["fixtures"] == len(dev)
    assert accuracy["finished"]["n"] == sum(x["category"] == "finished" for x in dev)
    assert accuracy["noise_silence_no_turn"] == 1.0
    by_stop = accuracy["cut"]
    for category in ("unfinished", "paused"):
        total = sum(x["category"] == category for x in dev)
        counts = [by_stop[part]["n"][category] for part in by_stop]
        assert sum(counts) == total and len(counts) == 2
    for failure in accuracy["failures"]:
        assert not failure["ok"] and failure["file"] in labels()

    bad = subprocess.run(
        [*cmd, "--cpu-seconds", "0.5", "--fixtures", str(tmp_path)],
        capture_output=True,
        text=True,
        env=cli_env(tmp_path),
        timeout=120,
    )
    assert bad.returncode == 2
    assert f"No labels.json in {tmp_path}" in bad.stderr and "Traceback" not in bad.stderr


def test_bench_turn_scores_fragments_by_how_they_were_spoken(tmp_path: Path) -> None:
    """Where the labels say how a fragment was spoken (cut from a whole sentence or on its
    own), the benchmark scores the two apart; a set without that says nothing of it."""
    from voicedesk.bench.turn import accuracy

    styles = {
        "dev-unfinished-0.wav": "cut",
        "dev-unfinished-1.wav": "separate",
        "dev-paused-0.wav": "cut",
        FINISHED: "whole",
    }
    for name in styles:
        (tmp_path / name).write_bytes((FIXTURES / name).read_bytes())
    marked = [{**labels()[name], "style": style} for name, style in styles.items()]
    (tmp_path / "labels.json").write_text(json.dumps(marked))

    report = accuracy(settings(), tmp_path, None, "none")
    by_style = report["style"]
    assert set(by_style) == {"cut", "separate"}
    assert by_style["cut"]["n"] == {"unfinished": 1, "paused": 1}
    assert by_style["separate"]["n"] == {"unfinished": 1, "paused": 0}
    failed = {f["file"] for f in report["failures"]}
    assert by_style["cut"]["paused_not_ended"] == float("dev-paused-0.wav" not in failed)
    assert by_style["separate"]["unfinished_not_ended_600ms"] == float(
        "dev-unfinished-1.wav" not in failed
    )
    assert by_style["separate"]["paused_not_ended"] is None

    (tmp_path / "labels.json").write_text(json.dumps([labels()[name] for name in styles]))
    assert accuracy(settings(), tmp_path, None, "none")["style"] == {}


# ------------------------------------------------ live clock: Smart Turn's answers come late
QUESTION = "heldout-finished-5.wav"  # "Why is the sky blue?": Smart Turn says "not yet" for ~1 s


@dataclass
class LiveDrive:
    """A real TurnDetector on the live clock (``virtual_clock=False``), fed in 10 ms blocks:
    Smart Turn answers on its worker thread, and its one worker can be held busy, as a
    loaded machine holds it (``busy``), until ``free``."""

    detector: TurnDetector
    asked_at_silence: list[float] = field(default_factory=list)
    signals: list[TurnSignal] = field(default_factory=list)
    _gate: Any = None

    def __post_init__(self) -> None:
        import threading

        self._gate = threading.Event()
        real_submit = self.detector.model.submit

        def recording_submit(audio: np.ndarray) -> Future[float]:
            d = self.detector
            self.asked_at_silence.append(round(d._fed_s - d._end_s, 3))
            return real_submit(audio)

        self.detector.model.submit = recording_submit  # type: ignore[method-assign]

    def busy(self) -> None:
        self.detector.model._pool.submit(self._gate.wait, 60)

    def free(self) -> None:
        self._gate.set()

    def feed(self, pcm: np.ndarray, start: int, stop: int, *, answered: bool = False) -> None:
        """Feed ``pcm[start:stop]``; ``answered``: each Smart Turn call is over before the
        next block (a fast machine)."""
        for i in range(start, stop - 160 + 1, 160):
            self.signals += self.detector.feed(pcm[i : i + 160], i / RATE)
            if answered and self.detector._future is not None:
                self.detector._future.result(timeout=60)

    def ended(self) -> list[TurnSignal]:
        return [s for s in self.signals if s.kind == "turn_end"]


def _end_sample(pcm: np.ndarray, s: Settings) -> int:
    (stop,) = [e for e in vad_events(pcm, s) if e.kind == "stop"]
    return int(stop.edge_s * RATE)


def test_a_firm_question_ends_the_turn_while_smart_turn_has_not_answered() -> None:
    """The firm rule ends the turn after FIRM_WAIT_S whatever Smart Turn says; live, on a
    loaded machine, its first answer could still be on the way, and the question waited
    for a number it does not look at (decided only once Smart Turn answered)."""
    s = settings()
    live = LiveDrive(TurnDetector(s, expects_reading=True))
    pcm = with_silence(fixture_pcm(QUESTION), 2.5)
    end = _end_sample(pcm, s)
    try:
        live.busy()  # Smart Turn's one worker is taken: its answer for this pause waits
        live.feed(pcm, 0, end + int(0.15 * RATE))
        d = live.detector
        assert d._prob is None and d._future is not None
        live.signals += d.set_reading(
            Reading("Why is the sky blue?", weighed=True), d._fed_s, pause=d.pauses
        )
        assert d._cue is not None and d._cue.firm
        live.feed(pcm, end + int(0.15 * RATE), end + int(1.0 * RATE))
        (ended,) = live.ended()
        assert ended.reason == "transcript" and ended.probability is None
        assert FIRM_WAIT_S <= ended.audio_s - end / RATE < FIRM_WAIT_S + 0.05
    finally:
        live.free()
        live.detector.model.close()


def test_smart_turn_rechecks_that_fell_behind_are_asked_once() -> None:
    """A "not yet" is asked again as the silence reaches RECHECK_AT_S. When Smart Turn's
    answer came late (a loaded machine), every look passed meanwhile was asked in turn, one
    after the other, on silence the audio had gone past: the 0.9 s look came ~0.6 s late.
    One call now stands for all the looks that are due."""
    s = settings()
    live = LiveDrive(TurnDetector(s))
    pcm = with_silence(fixture_pcm(QUESTION), 2.5)
    end = _end_sample(pcm, s)
    late = end + int(1.0 * RATE)  # Smart Turn's answer at the stop comes at 1 s of silence
    try:
        live.busy()
        live.feed(pcm, 0, late)
        live.free()
        live.detector.wait_eou()
        live.feed(pcm, late, late + int(0.3 * RATE), answered=True)
        assert not live.ended()  # Smart Turn still says "not yet" for this question here
        first, *rechecks = live.asked_at_silence
        assert first < RECHECK_AT_S[0]  # at the stop
        assert len(rechecks) == 1  # the looks at 0.2, 0.3 and 0.9 s, asked as one
        assert rechecks[0] >= 1.0
    finally:
        live.free()
        live.detector.model.close()


def test_replay_streams_the_file_so_what_it_holds_does_not_grow_with_it(tmp_path: Path) -> None:
    """`voicedesk replay` of a one-hour WAV read it whole, as float32 at its own rate,
    then mixed, resampled and padded: 730 MB peak. Now it is read a few seconds at a time:
    what Python allocates during a replay (numpy's arrays included) is about the same for
    three minutes at 48 kHz stereo (69 MB as float32) as for twenty seconds."""
    import tracemalloc

    speech = resample(fixture_pcm(FINISHED), RATE, 48_000)

    def peak_and_turns(seconds: int) -> tuple[int, list[dict[str, Any]]]:
        audio = np.zeros(seconds * 48_000, np.int16)
        audio[: speech.size] = speech
        audio[-speech.size - 48_000 : -48_000] = speech  # a turn at each end
        path = tmp_path / f"{seconds}-s.wav"
        sf.write(str(path), np.stack([audio, audio], axis=1), 48_000, subtype="PCM_16")
        del audio
        tracemalloc.start()
        try:
            result = replay(path, settings()).to_json()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert result["duration_s"] == pytest.approx(seconds, abs=0.01)
        return peak, result["turns"]

    short, _ = peak_and_turns(20)  # the models load here, not in the measures below
    short, _ = peak_and_turns(20)
    long, (first, last) = peak_and_turns(180)
    assert long < short + 10e6, f"{short / 1e6:.0f} MB for 20 s, {long / 1e6:.0f} MB for 180 s"
    assert first["start_s"] < 1 and 175 < last["start_s"] < last["end_s"] < 180


def test_replay_reads_a_long_turns_words_again_from_the_file(tmp_path: Path) -> None:
    """A turn longer than a pause reading is transcribed after the run; its samples, no
    longer all held, are read from the file again, the same as read whole."""
    from voicedesk.turn.replay import _spans

    pcm = fixture_pcm(FINISHED)
    path = tmp_path / "twice.wav"
    sf.write(str(path), np.concatenate([pcm, pcm]), RATE, subtype="PCM_16")
    whole, _ = read_wav(path, RATE)
    spans = [(100, 2_000), (pcm.size - 10, pcm.size + 50_000), (whole.size - 5, whole.size)]
    for (start, end), got in zip(spans, _spans(path, spans), strict=True):
        assert np.array_equal(got, whole[start:end])
