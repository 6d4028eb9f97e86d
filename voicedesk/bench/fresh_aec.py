"""How long a fresh echo canceller's echo passes for speech: ``bench echo --fresh-cancellers N``.

A new AEC3 passes echo through while its delay estimate settles, and until it has converged
barge-in waits for ``UNCONVERGED_MIN_SPEECH_MS`` of speech instead of ``min_speech_ms``. That
minimum is set from this measurement, which needs many more fresh cancellers than a
conversation run has (one per room): each trial is a new room (path delay cycling through
``DELAYS_MS``, random reverberation), a new canceller and the first seconds of an answer
with nobody talking. It reports the longest stretch of that echo the VAD took for speech
before convergence, counted as ``BargeInPolicy`` counts (echo-only blocks left out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from voicedesk.audio.aec import EchoCanceller
from voicedesk.audio.resample import resample
from voicedesk.audio.room import room_impulse_response
from voicedesk.config import Settings
from voicedesk.engine.barge_in import UNCONVERGED_MIN_SPEECH_MS, BargeInPolicy
from voicedesk.turn.vad import VadSegmenter

PLAYED_S = 4.0  # a fresh canceller converges within ~2 s of an answer
BLOCK = 160  # 10 ms at 16 kHz


def run_fresh_cancellers(
    trials: int, *, echo_db: float, seed: int, path_ms: float | None = None
) -> dict[str, Any]:
    """``path_ms``: every room's speaker→microphone delay (default: cycle ``DELAYS_MS``)."""
    from voicedesk.bench.echo import (
        ANSWERS,
        DELAYS_MS,
        PERSON_LEVEL,
        ROOM_NOISE,
        _speak,
        _speech_level,
    )
    from voicedesk.sim.voice import PiperVoice

    rng = np.random.default_rng(seed)
    voice = PiperVoice()
    settings = Settings()
    settings.barge_in.min_speech_ms = 2000  # count the whole stretch, never fire within it
    spoken: dict[tuple[int, float], np.ndarray] = {}
    longest: list[float] = []
    for trial in range(trials):
        key = (int(rng.integers(len(ANSWERS))), round(float(rng.uniform(0.9, 1.1)), 2))
        if key not in spoken:
            spoken[key] = _speak(voice, ANSWERS[key[0]], key[1])[: int(24_000 * PLAYED_S)]
        played24 = spoken[key]
        answer = resample(played24, 24_000, 16_000).astype(np.float32)
        scale = PERSON_LEVEL / _speech_level(answer)
        played24 = (played24.astype(np.float32) * scale).astype(np.int16)
        delay = int((path_ms if path_ms is not None else DELAYS_MS[trial % len(DELAYS_MS)]) * 16)
        ir = room_impulse_response(
            rt60_s=float(rng.uniform(0.15, 0.35)), seed=int(rng.integers(1 << 30))
        )
        echo = np.convolve(answer * scale * 10 ** (echo_db / 20), ir)[: answer.size]
        echo = np.concatenate([np.zeros(delay, np.float32), echo])[: answer.size]
        noise = rng.standard_normal(answer.size).astype(np.float32) * ROOM_NOISE
        mic = np.clip(echo + noise, -32768, 32767).astype(np.int16)
        longest.append(_longest_echo_as_speech(mic, played24, settings))
    barged = sum(s * 1000 >= UNCONVERGED_MIN_SPEECH_MS for s in longest)
    return {
        "fresh_cancellers": trials,
        "echo_db": echo_db,
        "seed": seed,
        "taken_for_speech": sum(s > 0 for s in longest),
        "longest_s": round(max(longest, default=0.0), 3),
        "unconverged_min_speech_ms": UNCONVERGED_MIN_SPEECH_MS,
        "would_barge_in": barged,
        # only the delays some trial ran: fewer trials than delays leave some out, and a 0.0
        # for them would read as "measured, no echo taken for speech"
        "per_delay_longest_s": {
            str(d): round(max(longest[i :: len(DELAYS_MS)]), 3)
            for i, d in enumerate(DELAYS_MS)
            if longest[i :: len(DELAYS_MS)]
        }
        if path_ms is None
        else {f"{path_ms:g}": round(max(longest, default=0.0), 3)},
    }


def _longest_echo_as_speech(mic: np.ndarray, played24: np.ndarray, settings: Settings) -> float:
    """Seconds of echo the policy would count as speech while the canceller is unconverged."""
    canceller = EchoCanceller()
    vad = VadSegmenter(settings)
    policy = BargeInPolicy(settings.barge_in)
    prev = np.zeros(240, np.int16)
    start: float | None = None
    worst = 0.0
    for k in range(mic.size // BLOCK):
        clean = canceller(mic[k * BLOCK : (k + 1) * BLOCK], prev)
        prev = played24[k * 240 : (k + 1) * 240]
        if prev.size < 240:
            prev = np.concatenate([prev, np.zeros(240 - prev.size, np.int16)])
        for event in vad.feed(clean, k * BLOCK / 16_000):
            if event.kind == "start":
                start = event.edge_s
            elif event.kind == "stop":
                start = None
                # as the session: it may carry (CARRY_GAP_S), the wait for the stop left out
                policy.next_stretch(event.edge_s)
        if vad.in_speech and start is not None and not canceller.converged:
            now = (k + 1) * BLOCK / 16_000
            policy.on_speech(
                start, now, answer_playing=True, cautious=True, echo_only=canceller.echo_only
            )
            worst = max(worst, policy.counted_s)
    return worst
