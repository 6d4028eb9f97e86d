"""``voicedesk bench echo``: hands-free on laptop speakers, in the simulated room.

The assistant's answers (Piper speech when available) play through a simulated
speaker-to-microphone path — a random 20–120 ms delay, room reflections, echo at ``--echo-db``
relative to the person, a little noise — while in some episodes the person talks over the
answer. The capture path is the engine's own: echo canceller (unless ``--no-aec``), Silero
VAD segmenter and the barge-in policy with the configured minimum speech. When a barge-in
fires, playback stops at the next block, as in the live engine.

Reported: ERLE (echo reduction while only the assistant speaks), false barge-ins (fired
while the person was silent) per minute of assistant speech, real barge-ins detected and
missed, reaction time from the person's first sound to the playback being stopped, and the
echo canceller's CPU cost as a percentage of one core. Runs as fast as the CPU allows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ANSWERS = [
    "Sure. The budget memo asks for forty two thousand euros next quarter, which is five "
    "percent less than last quarter, mostly because hosting became cheaper this year.",
    "Here is the plan for the winter offsite: two days in the mountains, a workshop on the "
    "roadmap in the morning, and free time in the afternoon for skiing or a long walk.",
    "The meeting notes say the team agreed to ship the new onboarding flow in March, to "
    "hire one more designer, and to review the support backlog every second Friday.",
    "To boil an egg, put it in boiling water for about seven minutes for a firm yolk, then "
    "cool it in cold water so that the shell comes off easily and the yolk stays bright.",
]
INTERRUPTIONS = ["stop", "question", "timer", "weather"]
DELAYS_MS = [20, 60, 90, 120]  # speaker→microphone delays (device + air) swept across rooms
EPISODES_PER_ROOM = 8


@dataclass
class Episode:
    answer: np.ndarray  # 16 kHz int16 far-end (what the speaker plays)
    person: np.ndarray  # 16 kHz int16 near-end track (zeros when silent)
    person_onset_s: float | None
    delay_ms: float


@dataclass
class Results:
    assistant_speech_s: float = 0.0
    false_barge_ins: int = 0
    barge_ins_total: int = 0
    barge_ins_detected: int = 0
    reactions: list[float] = field(default_factory=list)
    false_at: list[float] = field(default_factory=list)  # episode times of false barge-ins
    episode_erle: list[float] = field(default_factory=list)
    rooms: list[dict[str, Any]] = field(default_factory=list)
    echo_energy: float = 0.0
    residual_energy: float = 0.0
    aec_cpu_s: float = 0.0
    audio_s: float = 0.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("echo", help="echo cancellation and barge-in in the simulated room")
    p.add_argument("--echo-db", type=float, default=-6.0, help="echo level vs the person (dB)")
    p.add_argument("--no-aec", action="store_true", help="run without echo cancellation")
    p.add_argument("--minutes", type=float, default=5.0, help="assistant speech to play (min)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the room and timing")
    p.add_argument(
        "--min-speech-ms", type=int, help="barge_in.min_speech_ms (default: the built-in default)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicedesk.errors import UserError

    if not -40 <= args.echo_db <= 10:
        raise UserError(f"--echo-db {args.echo_db} is out of range", "use −40 … 10 dB")
    if args.minutes <= 0:
        raise UserError("--minutes must be > 0")
    result = run_echo_bench(
        echo_db=args.echo_db,
        aec=not args.no_aec,
        minutes=args.minutes,
        seed=args.seed,
        min_speech_ms=args.min_speech_ms,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:22} {value}")
    return 0


def _speech_level(pcm: np.ndarray) -> float:
    x = pcm.astype(np.float32)
    frames = x[: x.size // 320 * 320].reshape(-1, 320)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    active = rms[rms > rms.max() * 0.1] if rms.size else rms
    return float(np.mean(active)) if active.size else 1.0


def _voices() -> tuple[list[np.ndarray], list[np.ndarray]]:
    from voicedesk.bench.scenarios import load_utterance
    from voicedesk.sim.voice import PiperVoice

    voice = PiperVoice()
    answers = [voice.speak(text).pcm for text in ANSWERS]  # 24 kHz, as TTS delivers it
    people = [load_utterance(name)[0] for name in INTERRUPTIONS]
    return answers, people


def run_echo_bench(
    *,
    echo_db: float = -6.0,
    aec: bool = True,
    minutes: float = 5.0,
    seed: int = 1,
    noise_suppression: bool = True,
    min_speech_ms: int | None = None,
) -> dict[str, Any]:
    from voicedesk.audio.aec import EchoCanceller
    from voicedesk.audio.resample import resample
    from voicedesk.audio.room import room_impulse_response
    from voicedesk.config import Settings
    from voicedesk.engine.barge_in import BargeInPolicy
    from voicedesk.turn.vad import VadSegmenter

    settings = Settings()
    if min_speech_ms is not None:
        settings.barge_in.min_speech_ms = min_speech_ms
    rng = np.random.default_rng(seed)
    answers, people = _voices()
    # The person at a typical laptop-microphone level (≈ −26 dBFS while speaking), so person
    # plus echo stays clear of clipping as it would with the microphone's gain set sanely.
    person_level = 32768 * 10 ** (-26 / 20)
    people = [
        (p.astype(np.float32) * (person_level / _speech_level(p))).astype(np.int16) for p in people
    ]
    res = Results()
    block = 160  # 10 ms at 16 kHz, as the live engine
    episode_i = 0
    canceller = EchoCanceller(noise_suppression=noise_suppression) if aec else None
    delay, ir = 0, np.zeros(1, np.float32)
    while res.assistant_speech_s < minutes * 60:
        answer24 = answers[episode_i % len(answers)]
        # the echo path hears the speaker at 16 kHz: resampled once, cleanly
        answer = resample(answer24, 24_000, 16_000)
        scale = person_level / _speech_level(answer)
        answer = (answer.astype(np.float32) * scale).astype(np.int16)
        answer24 = (answer24.astype(np.float32) * scale).astype(np.int16)
        interrupt = episode_i % 2 == 1
        episode_i += 1
        n = answer.size + 16_000
        person = np.zeros(n, np.int16)
        onset = None
        if interrupt:
            words = people[rng.integers(len(people))]
            at = int(rng.uniform(1.0, 4.0) * 16_000)
            person[at : at + words.size] = words[: max(0, n - at)]
            loud = np.flatnonzero(np.abs(words.astype(np.int32)) > 328)
            onset = (at + (int(loud[0]) if loud.size else 0)) / 16_000
        if episode_i % EPISODES_PER_ROOM == 1:
            # a new room (another laptop, another desk): new delay and reflections, and a new
            # echo canceller that has to converge from scratch, as at the start of a session
            canceller = EchoCanceller(noise_suppression=noise_suppression) if aec else None
            room_i = (episode_i - 1) // EPISODES_PER_ROOM
            delay = int(DELAYS_MS[room_i % len(DELAYS_MS)] * 16)  # samples at 16 kHz
            rt60 = float(rng.uniform(0.15, 0.35))
            ir = room_impulse_response(rt60_s=rt60, seed=int(rng.integers(1 << 30)))
            res.rooms.append({"delay_ms": delay / 16, "rt60_s": round(rt60, 2), "peak": 0})
        gain = 10 ** (echo_db / 20)
        vad = VadSegmenter(settings)
        policy = BargeInPolicy(settings.barge_in)
        echo_buf = np.zeros(n + ir.size + delay + block, np.float32)
        noise = rng.standard_normal(n).astype(np.float32) * 32768 * 10 ** (-65 / 20)
        speech_start: float | None = None
        stopped_at: float | None = None
        played_s = 0.0
        prev_played24 = np.zeros(240, np.int16)
        ep_echo = ep_res = 0.0
        for k in range(n // block):
            a, b = k * block, (k + 1) * block
            t = b / 16_000
            playing = stopped_at is None and a < answer.size
            far = answer[a:b] if playing else np.zeros(block, np.int16)
            if far.size < block:
                far = np.concatenate([far, np.zeros(block - far.size, np.int16)])
            if playing:
                played_s += block / 16_000
                contrib = np.convolve(far.astype(np.float32) * gain, ir)
                echo_buf[a + delay : a + delay + contrib.size] += contrib
            echo = echo_buf[a:b]
            mic = np.clip(person[a:b].astype(np.float32) + echo + noise[a:b], -32768, 32767)
            mic16 = mic.astype(np.int16)
            res.rooms[-1]["peak"] = max(res.rooms[-1]["peak"], int(np.abs(mic).max()))
            if canceller is not None:
                t0 = time.process_time()
                clean = canceller(mic16, prev_played24)
                res.aec_cpu_s += time.process_time() - t0
            else:
                clean = mic16
            # the reference is exactly what the engine handed the speaker, at 24 kHz
            far24 = answer24[k * 240 : (k + 1) * 240] if playing else np.zeros(240, np.int16)
            if far24.size < 240:
                far24 = np.concatenate([far24, np.zeros(240 - far24.size, np.int16)])
            prev_played24 = far24
            if not person[a:b].any() and echo.any():
                res.echo_energy += float(np.sum(echo.astype(np.float64) ** 2))
                res.residual_energy += float(np.sum(clean.astype(np.float64) ** 2))
                ep_echo += float(np.sum(echo.astype(np.float64) ** 2))
                ep_res += float(np.sum(clean.astype(np.float64) ** 2))
            for event in vad.feed(clean, a / 16_000):
                speech_start = event.edge_s if event.kind == "start" else None
                if event.kind == "stop":
                    policy.reset()
            if vad.in_speech and speech_start is not None and stopped_at is None:
                cautious = canceller is not None and not canceller.converged
                verdict = policy.on_speech(
                    speech_start, t, answer_playing=playing, cautious=cautious
                )
                if verdict == "pause":
                    stopped_at = t
                    if onset is None or t < onset:
                        res.false_barge_ins += 1
                        res.false_at.append(round(t, 2))
            res.audio_s += block / 16_000
        res.assistant_speech_s += played_s
        res.episode_erle.append(round(10 * np.log10(ep_echo / max(ep_res, 1e-9)), 1))
        if onset is not None:
            res.barge_ins_total += 1
            if stopped_at is not None and stopped_at >= onset:
                res.barge_ins_detected += 1
                res.reactions.append(stopped_at - onset)
    reactions = sorted(res.reactions)

    def pct(q: float) -> float | None:
        if not reactions:
            return None
        return round(float(np.percentile(reactions, q)), 3)

    erle = (
        10 * np.log10(res.echo_energy / max(res.residual_energy, 1e-9)) if res.echo_energy else 0.0
    )
    return {
        "echo_db": echo_db,
        "aec": aec,
        "erle_db": round(float(erle), 1),
        "assistant_speech_s": round(res.assistant_speech_s, 1),
        "false_barge_ins": res.false_barge_ins,
        "false_barge_ins_per_min": round(res.false_barge_ins / (res.assistant_speech_s / 60), 2),
        "barge_ins_total": res.barge_ins_total,
        "barge_ins_detected": res.barge_ins_detected,
        "reaction_p50_s": pct(50),
        "reaction_p95_s": pct(95),
        "cpu_percent": round(100 * res.aec_cpu_s / max(res.audio_s, 1e-9), 2),
        "min_speech_ms": settings.barge_in.min_speech_ms,
        "false_barge_in_times_s": res.false_at,
        "reactions_s": [round(r, 3) for r in res.reactions],
        "episode_erle_db": res.episode_erle,
        "rooms": res.rooms,
    }


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(argparse.Namespace(echo_db=-6.0, no_aec=False, minutes=1.0, seed=1, json=True)))
