"""Audio plumbing: playback queue marks, file timeline alignment, echo cancellation."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from voicedesk.audio.aec import EchoCanceller
from voicedesk.audio.base import CAPTURE_RATE
from voicedesk.audio.file_backend import FileDuplex
from voicedesk.audio.playback import PlaybackBuffer
from voicedesk.audio.room import SimulatedRoom
from voicedesk.audio.wavio import read_wav
from voicedesk.bench.echo import run_echo_bench
from voicedesk.providers import local_stt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "turns"

# One test process makes the room run with the canceller (``with_aec``) for all the echo
# tests: split between processes, each would make its own.
pytestmark = pytest.mark.xdist_group("audio_paths")


@pytest.fixture(scope="module")
def with_aec() -> dict:
    """One short room run with the canceller, shared by the echo tests (it takes seconds)."""
    return run_echo_bench(minutes=0.75, echo_db=-6.0, aec=True, transcripts=local_stt.available())


def test_playback_marks_stop_pause_and_played_counts():
    buf = PlaybackBuffer()
    buf.enqueue(1, np.full(300, 1000, np.int16))
    out, marks = buf.pull(240)
    assert [(m.kind, m.offset) for m in marks] == [("start", 0)]
    assert buf.played_samples(1) == 240
    buf.pause()
    out, marks = buf.pull(240)
    assert not out.any() and not marks and buf.played_samples(1) == 240
    buf.resume()
    out, marks = buf.pull(240)
    assert out[:60].all() and not out[60:].any()
    assert [(m.kind, m.offset) for m in marks] == [("drained", 60)]
    # the drained mark repeats while idle, pointing back to the real moment
    repeats = [m for _ in range(10) for m in buf.pull(240)[1]]
    assert repeats and repeats[0].kind == "drained" and repeats[0].offset == 60 - 240 * 10
    buf.enqueue(2, np.full(1000, 5, np.int16))
    buf.pull(240)
    assert buf.stop(2) == 760 and not buf.is_playing()


def test_file_duplex_keeps_output_sample_aligned_with_input(tmp_path):
    rate = 16_000
    pcm = np.zeros(rate, np.int16)
    pcm[8000] = 20_000  # a click at 0.5 s
    out_path = tmp_path / "out.wav"
    backend = FileDuplex(None, out_path, input_pcm=pcm, input_rate=rate, realtime=False)
    seen: list[int] = []

    def process(block: np.ndarray) -> np.ndarray:
        k = len(seen)
        seen.append(k)
        # echo the click back in the same block: output n must line up with input n
        out = np.zeros(backend.playback_block, np.int16)
        if block.any():
            out[int(np.argmax(np.abs(block))) * 3 // 2] = 20_000
        return out

    backend.start(process)
    backend.finished.wait(5)
    time.sleep(0.05)
    backend.stop()
    played, out_rate = read_wav(out_path)
    assert out_rate == rate and len(played) >= len(pcm)
    assert abs(int(np.argmax(np.abs(played))) - 8000) <= 2


def test_file_duplex_simulates_a_sound_cards_latencies_and_reports_them(tmp_path):
    # A sound card hands us the person's words input latency late and plays what we hand it
    # output latency late: the files stay the person's timeline, the engine's is shifted.
    rate = 16_000
    pcm = np.zeros(rate, np.int16)
    pcm[8000] = 20_000  # a click at 0.5 s
    out_path = tmp_path / "out.wav"
    backend = FileDuplex(
        None,
        out_path,
        input_pcm=pcm,
        input_rate=rate,
        realtime=False,
        input_latency_s=0.03,
        output_latency_s=0.12,
    )
    assert backend.input_latency_s == 0.03 and backend.output_latency_s == 0.12
    room = SimulatedRoom(backend, delay_ms=20)  # forwards the device's latencies, not its own
    assert (room.input_latency_s, room.output_latency_s) == (0.03, 0.12)
    heard_at: list[float] = []

    def process(block: np.ndarray) -> np.ndarray:
        k = backend.blocks_done
        out = np.zeros(backend.playback_block, np.int16)
        if block.any() and not heard_at:
            at = int(np.argmax(np.abs(block)))
            heard_at.append(backend.block_start_s(k) + at / CAPTURE_RATE)
            out[at * 3 // 2] = 20_000  # played back at once, as in the test above
        return out

    backend.start(process)
    backend.finished.wait(5)
    time.sleep(0.05)
    backend.stop()
    assert heard_at[0] == pytest.approx(0.5 + 0.03, abs=1 / CAPTURE_RATE)
    played, _ = read_wav(out_path)
    click_s = int(np.argmax(np.abs(played))) / rate
    assert click_s == pytest.approx(0.5 + 0.03 + 0.12, abs=2 / rate)


def test_file_duplex_goes_on_after_its_tail_only_when_asked_to() -> None:
    """After the file and ``max_tail_s`` of silence the clock stops (a headless run ends);
    the terminal UI asks for no end: its clock stopped after 300 s, and every answer after
    that hung "thinking"."""
    pcm = np.zeros(1600, np.int16)  # 0.1 s
    for tail_s, ends in ((0.2, True), (None, False)):
        backend = FileDuplex(
            None, None, input_pcm=pcm, input_rate=16_000, realtime=False, max_tail_s=tail_s
        )
        silence = np.zeros(backend.playback_block, np.int16)
        backend.start(lambda block, out=silence: out)
        time.sleep(0.5)  # unpaced: thousands of blocks
        done = backend.blocks_done
        backend.stop()
        assert (done == 30) == ends  # 0.1 s of file and 0.2 s of tail, 10 ms blocks
        assert ends or done > 300


def test_file_duplex_keeps_what_it_plays_on_disk_not_in_memory(tmp_path):
    """What the engine hands over waits for the output WAV outside memory: kept as a list
    of blocks it grew by 48 kB a second of run (170 MB an hour, a soak run's RSS growing
    with it), and without an end in the terminal UI, which plays on until the person quits."""
    import tracemalloc

    rate = 16_000
    pcm = np.zeros(60 * rate, np.int16)  # a minute
    out_path = tmp_path / "out.wav"
    backend = FileDuplex(None, out_path, input_pcm=pcm, input_rate=rate, realtime=False)
    tone = np.full(backend.playback_block, 1000, np.int16)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        backend.start(lambda block: tone.copy())
        assert backend.finished.wait(30)
        held = tracemalloc.get_traced_memory()[0] - before
        backend.stop()
    finally:
        tracemalloc.stop()
    assert held < 500_000  # a minute at 24 kHz is 2.9 MB
    played, out_rate = read_wav(out_path)
    assert out_rate == rate and len(played) >= len(pcm)
    assert np.all(np.abs(played[rate:-rate].astype(int) - 1000) <= 2)  # all of it, whole
    assert backend.played_24k().size == 0  # the file was let go with the run


def test_simulated_room_adds_delayed_echo_of_what_is_played():
    pcm = np.zeros(16_000, np.int16)
    inner = FileDuplex(None, None, input_pcm=pcm, input_rate=16_000, realtime=False)
    room = SimulatedRoom(inner, delay_ms=50, echo_db=-6)
    heard: list[np.ndarray] = []
    done = threading.Event()

    def process(mic: np.ndarray) -> np.ndarray:
        heard.append(mic.copy())
        out = np.zeros(room.playback_block, np.int16)
        if len(heard) == 10:  # a click played in block 10 (t = 0.09 s)
            out[0] = 30_000
        if len(heard) == 60:
            done.set()
        return out

    room.start(process)
    done.wait(5)
    room.stop()
    mic = np.concatenate(heard)
    first = int(np.flatnonzero(np.abs(mic) > 1000)[0])
    assert abs(first / 16_000 - (0.09 + 0.05)) < 0.006


def test_echo_cancellation_prevents_false_barge_ins_that_happen_without_it(with_aec):
    without = run_echo_bench(minutes=0.25, echo_db=-6.0, aec=False, transcripts=False)
    # WebRTC's AEC3 occasionally stops cancelling after double talk until it is rebuilt
    # (see docs/architecture.md), so a rare false barge-in is tolerated here; without the
    # canceller nearly every answer is cut by its own echo.
    assert with_aec["false_barge_ins"] <= 1
    assert with_aec["barge_ins_detected"] >= with_aec["barge_ins_total"] - 1
    # Its CPU cost is a figure for `voicedesk bench echo` to report, not a bound for a test
    # on a shared machine: under load (average ~4 on 2 cores) it read 5.5–7.1%.
    assert without["false_barge_ins_per_min"] > 10 * max(1.0, with_aec["false_barge_ins_per_min"])


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_interruption_transcripts_carry_no_assistant_words(with_aec):
    # With the canceller, what STT gets for each interruption is the person's words only.
    assert with_aec["interruptions_transcribed"] >= 2
    assert with_aec["interruptions_with_assistant_words"] == 0, with_aec["transcripts"]
    # … and the person's words are still there (a canceller that muted everything would pass)
    assert with_aec["person_word_recall"] >= 0.5, with_aec["transcripts"]
    # Negative control, so the check can fail: no canceller and the answer kept playing over
    # the person — the assistant's own words must show up in the interruption transcripts.
    leaky = run_echo_bench(minutes=0.5, echo_db=-6.0, aec=False, pause_on_barge_in=False)
    assert leaky["interruptions_transcribed"] >= 2
    assert leaky["interruptions_with_assistant_words"] >= 1, leaky["transcripts"]
    assert leaky["assistant_words_leaked"] >= 3, leaky["transcripts"]


def _words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@pytest.mark.skipif(not local_stt.available(), reason="needs faster-whisper and its model")
def test_the_persons_first_word_over_the_answer_reaches_the_transcriber(with_aec):
    # AEC3's double-talk suppression muffles a person's first syllables over the answer:
    # streamed its output, the transcriber heard "along does it take the boil…" for "How
    # long does it take to boil…". The engine streams the linear echo model's residual
    # while the speaker plays (EchoCanceller.words), and bench echo transcribes just that.
    assert with_aec["interruptions_transcribed"] >= 2
    for item in with_aec["transcripts"]:
        said, heard = _words_of(item["said"]), _words_of(item["heard"])
        assert heard[:2] == said[:2], with_aec["transcripts"]


class _StuckApm:
    """An AEC3 that has fallen into passing the echo through untouched."""

    def set_stream_delay_ms(self, ms: int) -> None:
        pass

    def process_reverse_stream(self, frame: object) -> None:
        pass

    def process_stream(self, frame: object) -> None:
        pass


def _answer_start(canceller: EchoCanceller, *, person_before: bool) -> None:
    """0.6 s of speaker silence (optionally the person talking), then 0.3 s of answer + echo."""
    rng = np.random.default_rng(0)
    silent = np.zeros(240, np.int16)
    for k in range(60):
        mic = rng.normal(0, 3000 if person_before and k > 50 else 20, 160).astype(np.int16)
        canceller(mic, silent)
    for _ in range(30):
        canceller(rng.normal(0, 3000, 160).astype(np.int16), np.full(240, 5000, np.int16))


def test_stuck_canceller_is_rebuilt_at_the_next_answer_start():
    canceller = EchoCanceller()
    canceller._apm = _StuckApm()
    canceller.converged = True
    _answer_start(canceller, person_before=False)
    assert canceller.probe_resets == 1 and not canceller.converged


def test_answer_start_probe_leaves_the_canceller_alone_when_the_person_talks():
    # Their voice would look like echo passed through: no rebuild (a fresh AEC3 would
    # suppress them while it converges).
    canceller = EchoCanceller()
    canceller._apm = _StuckApm()
    canceller.converged = True
    _answer_start(canceller, person_before=True)
    assert canceller.probe_resets == 0 and canceller.converged


def test_echo_bench_trace_covers_every_episode_without_changing_the_run():
    # The trace is for replaying other barge-in rules on the same audio offline, so it must
    # hold every episode's windows and leave the run itself untouched.
    plain = run_echo_bench(minutes=0.25, echo_db=-6.0, transcripts=False)
    traced = run_echo_bench(minutes=0.25, echo_db=-6.0, transcripts=False, trace=True)
    assert "trace" not in plain
    for key in ("false_barge_ins", "barge_ins_detected", "reactions_s", "episode_erle_db"):
        assert traced[key] == plain[key]
    trace = traced["trace"]
    assert len(trace) == len(traced["episode_erle_db"])
    assert sum(e["kind"] == "real" for e in trace) == traced["barge_ins_detected"]
    assert sum(e["kind"] == "false" for e in trace) == traced["false_barge_ins"]
    for e in trace:
        starts = [w[0] for w in e["windows"]]
        assert starts[0] == 0.0 and e["episode_s"] - starts[-1] < 0.04
        assert all(0.0 <= w[1] <= 1.0 for w in e["windows"])


def _room_echo(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Synthesized speech as played (24 kHz) and its echo in a reverberant room (16 kHz)."""
    from voicedesk.audio.resample import resample
    from voicedesk.audio.room import room_impulse_response

    parts = []
    for i in range(5):
        pcm = read_wav(FIXTURES / f"dev-finished-{i}.wav", 16_000)[0]
        loud = np.flatnonzero(np.abs(pcm) > 300)
        parts += [pcm[loud[0] : loud[-1]], np.zeros(3200, np.int16)]  # 0.2 s between answers
    speech = np.concatenate(parts).astype(np.float32)
    speech = np.tile(speech, int(np.ceil(seconds * 16_000 / speech.size)))[: int(seconds * 16_000)]
    speech *= 3000 / np.sqrt(np.mean(speech**2))
    played = resample(speech.astype(np.int16), 16_000, 24_000)
    ir = room_impulse_response(rt60_s=0.25, seed=7)
    echo = np.convolve(speech * 0.5, ir)[: speech.size]
    echo = np.concatenate([np.zeros(640, np.float32), echo])[: speech.size]  # 40 ms path
    return played, echo


def test_linear_echo_model_tells_passed_through_echo_from_a_person():
    # AEC3 sometimes passes the echo through mid-answer; its output then looks like a person
    # talking over the answer. The linear model on the raw microphone tells them apart.
    played, echo = _room_echo(18.0)
    person = read_wav(FIXTURES / "heldout-finished-0.wav", 16_000)[0].astype(np.float32)
    person *= 3000 / np.sqrt(np.mean(person[np.abs(person) > 300] ** 2))
    rng = np.random.default_rng(3)
    canceller = EchoCanceller()
    prev = np.zeros(240, np.int16)
    echo_only: dict[str, list[bool]] = {"healthy": [], "stuck": [], "person": []}
    person_at = int(14.0 * 16_000)  # the linear model converges in ~10 s of answers
    for k in range(echo.size // 160):
        a, b = k * 160, (k + 1) * 160
        phase = "healthy" if a < int(12.0 * 16_000) else "stuck" if a < person_at else "person"
        if phase == "stuck" and not isinstance(canceller._apm, _StuckApm):
            canceller._apm = _StuckApm()  # passes the echo straight through from now on
        mic = echo[a:b] + rng.normal(0, 20, 160)
        if phase == "person" and a - person_at < person.size:
            mic = mic + person[a - person_at : b - person_at]
        canceller(np.clip(mic, -32768, 32767).astype(np.int16), prev)
        prev = played[k * 240 : (k + 1) * 240]
        loud_person = (
            phase == "person"
            and np.abs(person[a - person_at : b - person_at]).max(initial=0) > 1000
        )
        if phase != "person" or loud_person:
            echo_only[phase].append(canceller.echo_only)
    # once trained, echo alone reads as echo: passed through by a stuck AEC3 too
    assert np.mean(echo_only["stuck"]) > 0.8
    # a person speaking over it (6 dB above the echo) is not echo
    assert np.mean(echo_only["person"]) < 0.1


def test_double_talk_cue_hears_a_person_quieter_than_the_echo():
    # A person's first syllables are often quieter than a loud answer's echo: AEC3 muffles
    # them and the raw microphone is mostly echo. The linear model's residual is not muffled.
    from voicedesk.config import Settings
    from voicedesk.engine.double_talk import DoubleTalkCue

    played, echo = _room_echo(18.0)
    person = read_wav(FIXTURES / "heldout-finished-0.wav", 16_000)[0].astype(np.float32)
    loud = np.flatnonzero(np.abs(person) > 300)
    person = person[loud[0] :]
    echo_rms = np.sqrt(np.mean(echo[echo != 0] ** 2))
    # 10 dB below the echo while speaking
    person *= echo_rms * 10 ** (-10 / 20) / np.sqrt(np.mean(person[np.abs(person) > 300] ** 2))
    rng = np.random.default_rng(5)
    canceller = EchoCanceller()
    cue = DoubleTalkCue(Settings())
    canceller.frame_observer = cue
    prev = np.zeros(240, np.int16)
    person_at = int(14.0 * 16_000)  # the linear model converges in ~10 s of answers
    opened_on_echo = opened_at = None
    for k in range(echo.size // 160):
        a, b = k * 160, (k + 1) * 160
        mic = echo[a:b] + rng.normal(0, 20, 160)
        if a >= person_at and a - person_at < person.size:
            mic = mic + person[a - person_at : b - person_at]
        canceller(np.clip(mic, -32768, 32767).astype(np.int16), prev)
        prev = played[k * 240 : (k + 1) * 240]
        if cue.open_ms and a < person_at:
            opened_on_echo = a / 16_000
        if cue.open_ms and a >= person_at and opened_at is None:
            opened_at = (b - person_at) / 16_000
    assert opened_on_echo is None  # echo alone never opens it, trained model or not
    assert opened_at is not None and opened_at < 0.3  # the person does, at once (0.08 s)


def test_quiet_echo_passed_through_reads_as_echo_only():
    # At −20 dB the room's noise floor caps how much of the echo the linear model can
    # explain (below ECHO_ONLY_DB), but what it leaves of a stuck AEC3's echo is noise.
    played, echo = _room_echo(16.0)
    echo *= 10 ** (-20 / 20)
    rng = np.random.default_rng(4)
    canceller = EchoCanceller()
    prev = np.zeros(240, np.int16)
    stuck_echo_only: list[bool] = []
    for k in range(echo.size // 160):
        a, b = k * 160, (k + 1) * 160
        if a >= int(12.0 * 16_000) and not isinstance(canceller._apm, _StuckApm):
            canceller._apm = _StuckApm()  # passes the echo straight through from now on
        mic = echo[a:b] + rng.normal(0, 20, 160)
        canceller(np.clip(mic, -32768, 32767).astype(np.int16), prev)
        prev = played[k * 240 : (k + 1) * 240]
        if isinstance(canceller._apm, _StuckApm) and np.abs(echo[a:b]).max() > 100:
            stuck_echo_only.append(canceller.echo_only)
    assert np.mean(stuck_echo_only) > 0.9


def test_echo_bench_says_when_the_echo_clips_the_microphone(with_aec: dict) -> None:
    """Echo louder than the person clips the simulated microphone on its peaks: a clipped
    echo is no linear function of what was played, and the false barge-ins of `bench echo
    --echo-db 6 --rt60 0.6` (7 in seed 2) were read as the room's alone. The report says
    how much of the microphone was past full scale."""
    assert with_aec["mic_clipped_percent"] == 0.0  # −6 dB: clear of clipping
    loud = run_echo_bench(minutes=0.2, echo_db=6.0, rt60_s=0.6, transcripts=False, seed=2)
    assert loud["mic_clipped_percent"] > 1.0, loud["mic_clipped_percent"]


def test_fresh_canceller_bench_counts_echo_taken_for_speech():
    from voicedesk.bench.fresh_aec import run_fresh_cancellers

    result = run_fresh_cancellers(4, echo_db=-6.0, seed=2)  # one room per path delay
    assert result["fresh_cancellers"] == 4
    assert set(result["per_delay_longest_s"]) == {"20", "60", "90", "120"}
    assert 0 <= result["taken_for_speech"] <= 4
    # the cautious minimum outlasts what a fresh canceller lets through
    assert result["longest_s"] * 1000 < result["unconverged_min_speech_ms"]
    assert result["would_barge_in"] == 0


def test_double_talk_cue_stays_shut_when_the_echo_path_shifts_mid_answer():
    # A laptop lid moved or a playback glitch shifts the echo by a few ms: the trained linear
    # model's prediction is then wrong, and its residual is the whole echo (loud, speech),
    # but AEC3 re-tracks it and lets nothing through. Nobody is talking: the cue must not open.
    from voicedesk.config import Settings
    from voicedesk.engine.double_talk import DoubleTalkCue

    played, echo = _room_echo(20.0)
    shift_at, shift = int(14.0 * 16_000), 160  # 10 ms further, from 14 s on
    moved = np.concatenate([np.zeros(shift, np.float32), echo])[: echo.size]
    echo = np.concatenate([echo[:shift_at], moved[shift_at:]])
    rng = np.random.default_rng(6)
    canceller = EchoCanceller()
    cue = DoubleTalkCue(Settings())
    canceller.frame_observer = cue
    prev = np.zeros(240, np.int16)
    opened: list[float] = []
    for k in range(echo.size // 160):
        a, b = k * 160, (k + 1) * 160
        mic = echo[a:b] + rng.normal(0, 20, 160)
        canceller(np.clip(mic, -32768, 32767).astype(np.int16), prev)
        prev = played[k * 240 : (k + 1) * 240]
        if cue.open_ms:
            opened.append(round(a / 16_000, 2))
    assert canceller.linear.trained_frames > 1000  # the model was trained before the shift
    assert not opened, opened


def test_a_recording_is_written_without_copies_of_it_in_memory(tmp_path) -> None:
    """The output WAV of a long run (an hour is 115 MB at 16 kHz) was built whole in memory
    and copied once more before it was written: three times the recording at the end of the
    run. It is written straight to the file that replaces ``path`` now."""
    import tracemalloc

    import numpy as np

    from voicedesk.audio.wavio import read_wav, write_wav

    pcm = (np.arange(16_000 * 60) % 2000 - 1000).astype(np.int16)  # a minute: 1.9 MB
    path = tmp_path / "out.wav"
    tracemalloc.start()
    try:
        write_wav(path, pcm, 16_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < pcm.nbytes / 2, (peak, pcm.nbytes)
    back, rate = read_wav(path)
    assert rate == 16_000 and np.array_equal(back, pcm)


def _first_answer_in_a_room(seed: int, person: np.ndarray | None = None) -> list[float]:
    """A fresh canceller hears the person's question, then the first answer (the simulated
    cloud's voice) through ``SimulatedRoom``, as in ``voicedesk run --sim --room
    seed=N``; ``person`` (16 kHz) talks over it from 1.3 s into the answer. Returns the
    times at which barge-in paused the answer, the VAD and the policy fed as the session
    feeds them."""
    from voicedesk.audio.base import DuplexBackend
    from voicedesk.config import Settings
    from voicedesk.engine.barge_in import BargeInPolicy
    from voicedesk.sim.voice import SyntheticVoice
    from voicedesk.turn.vad import VadSegmenter

    question = read_wav(FIXTURES / "dev-finished-0.wav", 16_000)[0]
    text = (
        "Tomorrow will start cloudy in the morning, with a light breeze from the west and "
        "temperatures around twelve degrees."
    )
    answer = SyntheticVoice().speak(text).pcm
    lead = 370  # 10 ms blocks before the answer starts: the question, then the reply's wait
    blocks = lead + answer.size // 240 + 50
    mic = np.zeros(blocks * 160, np.float32)
    mic[: question.size] = question
    if person is not None:
        at = (lead + 130) * 160
        mic[at : at + person.size] += person[: mic.size - at]
    mic = np.clip(mic, -32768, 32767).astype(np.int16)

    class Microphone(DuplexBackend):
        def start(self, process) -> None:  # type: ignore[no-untyped-def]
            for k in range(blocks):
                process(mic[k * 160 : (k + 1) * 160])

        def stop(self) -> None:
            pass

    settings = Settings()
    canceller, vad = EchoCanceller(), VadSegmenter(settings)
    policy = BargeInPolicy(settings.barge_in)
    state: dict = {"k": 0, "played": np.zeros(240, np.int16), "edge": None}
    pauses: list[float] = []

    def process(block: np.ndarray) -> np.ndarray:
        k = state["k"]
        state["k"] += 1
        clean = canceller(block, state["played"])
        for event in vad.feed(clean, k / 100):
            if event.kind == "start":
                state["edge"] = event.edge_s
            elif event.kind == "stop":
                state["edge"] = None
                policy.next_stretch(event.edge_s)
        out = answer[(k - lead) * 240 : (k - lead + 1) * 240] if k >= lead else answer[:0]
        if vad.in_speech and state["edge"] is not None and out.size:
            verdict = policy.on_speech(
                state["edge"],
                (k + 1) / 100,
                answer_playing=True,
                cautious=not canceller.converged,
                echo_only=canceller.echo_only,
            )
            if verdict == "pause":
                pauses.append((k + 1) / 100)
                policy.reset()
        state["played"] = np.concatenate([out, np.zeros(240 - out.size, np.int16)])
        return state["played"]

    SimulatedRoom(Microphone(10), seed=seed, noise_dbfs=-65.0).start(process)
    return pauses


@pytest.mark.parametrize("seed", [3, 4, 6])
def test_a_fresh_cancellers_passed_through_echo_does_not_pause_the_first_answer(seed: int):
    # A fresh AEC3 alternates between muting the echo and passing bursts of it through; the
    # linear model needs seconds of answers to learn the path. The VAD heard the bursts as
    # speech and the first answer paused on its own echo (cut, on the simulated cloud),
    # after the convergence latch had trusted the muting. The microphone's coherence with
    # the answer shows the bursts to be echo.
    assert _first_answer_in_a_room(seed) == []


def test_a_person_over_a_fresh_cancellers_echo_still_pauses_the_answer():
    person = read_wav(FIXTURES / "heldout-finished-0.wav", 16_000)[0].astype(np.float32)
    loud = np.flatnonzero(np.abs(person) > 300)
    person = person[loud[0] : loud[-1]]
    person *= 32768 * 10 ** (-20 / 20) / np.sqrt(np.mean(person**2))  # a little over the echo
    pauses = _first_answer_in_a_room(3, person)
    onset = (370 + 130) / 100
    assert pauses and onset < pauses[0] < onset + person.size / 16_000


def test_the_coherence_check_stops_once_the_linear_model_knows_the_echo_path() -> None:
    """The microphone's coherence with what plays decides what is echo only until the
    linear model has learnt the path (``EchoCanceller.path_learnt``, which is kept for good).
    It went on being computed on the audio thread every 10 ms after that, unread: ~0.6% of
    a core of the canceller's 5% budget."""
    from voicedesk.audio.base import DuplexBackend
    from voicedesk.sim.voice import SyntheticVoice

    text = (
        "Tomorrow will start cloudy in the morning, with a light breeze from the west and "
        "temperatures around twelve degrees, then the sun comes out in the afternoon. "
    )
    answer = SyntheticVoice().speak(text * 3).pcm
    blocks = answer.size // 240
    canceller = EchoCanceller()
    after: list[float] = []

    class Silence(DuplexBackend):
        def start(self, process) -> None:  # type: ignore[no-untyped-def]
            for _ in range(blocks):
                process(np.zeros(160, np.int16))

        def stop(self) -> None:
            pass

    state = {"k": 0, "played": np.zeros(240, np.int16)}

    def process(block: np.ndarray) -> np.ndarray:
        canceller(block, state["played"])
        if canceller.path_learnt:
            after.append(canceller.linear.coherence)
        k = state["k"]
        state["k"] += 1
        state["played"] = answer[k * 240 : (k + 1) * 240]
        return state["played"]

    SimulatedRoom(Silence(10), seed=3, noise_dbfs=-65.0).start(process)
    assert len(after) > 100  # the path was learnt with the answer still playing
    assert len(set(after[1:])) == 1, sorted(set(after))[:5]  # no longer computed


def test_the_echo_cancellers_reference_is_silent_while_nothing_plays() -> None:
    """soxr's int16 stream dithers: digital silence came out of the reference's resampler as
    ±1 LSB noise, so the linear echo model took every pause for playback and adapted on
    that noise against the room's (trained_frames counted up before any answer)."""
    from voicedesk.audio.resample import StreamResampler

    resampler = StreamResampler(24_000, 16_000)
    assert not any(resampler.process(np.zeros(240, np.int16)).any() for _ in range(50))
    canceller = EchoCanceller()
    rng = np.random.default_rng(0)
    for _ in range(300):  # 3 s of room noise at −65 dBFS, nothing played
        noise = rng.standard_normal(160) * 32768 * 10 ** (-65 / 20)
        canceller(noise.astype(np.int16), np.zeros(240, np.int16))
    assert canceller.linear.trained_frames == 0


@pytest.mark.parametrize("gap_ms", [100, 300])
def test_a_person_answering_right_after_an_answer_reaches_the_transcriber_in_one_piece(
    gap_ms: int,
) -> None:
    """The transcriber gets the linear model's residual while the answer's echo may be in
    the room, AEC3's output 400 ms after the speaker fell silent. A person answering the
    question the assistant just asked is talking by then: their words switched from one
    signal to the other mid-word, and AEC3's output runs ~14 ms behind the microphone (and
    high-passed), so a piece of a syllable was heard twice, on a step in level. The residual
    of a silent reference is the microphone itself: it is kept until the person stops."""
    played, echo = _room_echo(14.0)  # the linear model is trained well within this
    person = read_wav(FIXTURES / "heldout-finished-0.wav", 16_000)[0].astype(np.float32)
    loud = np.flatnonzero(np.abs(person) > 300)
    person = person[loud[0] : loud[-1]]
    person *= 3000 / np.sqrt(np.mean(person**2))
    rng = np.random.default_rng(3)
    canceller = EchoCanceller()
    answer_blocks = echo.size // 160
    start = answer_blocks + gap_ms // 10
    blocks = start + person.size // 160
    prev, heard = np.zeros(240, np.int16), []
    for k in range(blocks):
        a = k * 160
        mic = (echo[a : a + 160] if k < answer_blocks else 0.0) + rng.normal(0, 20, 160)
        if k >= start:
            mic = mic + person[(k - start) * 160 : (k - start + 1) * 160]
        canceller(np.clip(mic, -32768, 32767).astype(np.int16), prev)
        prev = played[k * 240 : (k + 1) * 240] if k < answer_blocks else np.zeros(240, np.int16)
        if k == answer_blocks - 1:
            assert canceller.linear.removes_echo  # the residual is what the answer ends on
        if k >= start:
            heard.append(canceller.words.copy())
    said = person[: len(heard) * 160].astype(np.float64)
    got = np.concatenate(heard).astype(np.float64)
    # one signal, in time with the microphone, all through: the person and the room's noise
    assert np.corrcoef(said, got)[0, 1] > 0.99


def test_an_int16_recording_comes_back_sample_for_sample(tmp_path: Path) -> None:
    """Every path from int16 to float and back (a WAV read through libsndfile's float, the
    turn detector's pre-roll) must give the samples that went in: the pause reading and the
    transcript share a Whisper pass only when their audio is identical."""
    from voicedesk.audio.resample import resample
    from voicedesk.audio.wavio import to_float32, to_int16, write_wav

    rng = np.random.default_rng(3)
    pcm = rng.integers(-32768, 32768, 16000, dtype=np.int64).astype(np.int16)
    assert np.array_equal(to_int16(to_float32(pcm)), pcm)
    write_wav(tmp_path / "a.wav", pcm, 16000)
    assert np.array_equal(read_wav(tmp_path / "a.wav")[0], pcm)
    # a full-scale float sample stays in range, and an int16 resample keeps its scale
    assert to_int16(np.array([1.0, -1.0], np.float32)).tolist() == [32767, -32768]
    tone = (np.sin(np.arange(4800) / 3) * 20000).astype(np.int16)
    back = resample(resample(tone, 48000, 16000), 16000, 48000)
    assert abs(int(np.abs(back[100:-100]).max()) - 20000) < 400
