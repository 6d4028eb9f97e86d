"""Conversations built from the bundled speech, for ``voicedesk demo`` and the benchmarks.

The person's side is real synthesized speech (Piper, see packaging/make_demo_speech.py) laid
out on one timeline with known speech end times, so latency can be measured from audio.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

RATE = 16_000


@dataclass
class PlacedTurn:
    name: str
    text: str
    start_s: float
    end_s: float  # last audible sample of the person's speech


@dataclass
class Scenario:
    pcm: np.ndarray
    rate: int = RATE
    turns: list[PlacedTurn] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / self.rate

    def write(self, path: Path) -> None:
        from voicedesk.audio.wavio import write_wav

        write_wav(path, self.pcm, self.rate)


def _demo_dir() -> resources.abc.Traversable:
    return resources.files("voicedesk") / "assets" / "demo"


def utterance_names() -> list[str]:
    return list(json.loads((_demo_dir() / "utterances.json").read_text()).keys())


def load_utterance(name: str) -> tuple[np.ndarray, str]:
    import soundfile as sf

    labels = json.loads((_demo_dir() / "utterances.json").read_text())
    with resources.as_file(_demo_dir() / f"{name}.wav") as path:
        pcm, rate = sf.read(path, dtype="int16")
    assert rate == RATE
    return pcm, labels[name]["text"]


def _speech_bounds(pcm: np.ndarray) -> tuple[int, int]:
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > 328)  # −40 dBFS
    return (int(loud[0]), int(loud[-1]) + 1) if loud.size else (0, len(pcm))


def compose(
    names: list[str],
    *,
    lead_s: float = 0.8,
    gaps_s: list[float] | float = 7.0,
    tail_s: float = 1.0,
) -> Scenario:
    """Place utterances one after another; ``gaps_s`` is silence from one turn's end to the next."""
    gaps = gaps_s if isinstance(gaps_s, list) else [gaps_s] * len(names)
    parts: list[np.ndarray] = [np.zeros(int(lead_s * RATE), np.int16)]
    pos = len(parts[0])
    turns = []
    for i, name in enumerate(names):
        pcm, text = load_utterance(name)
        a, b = _speech_bounds(pcm)
        turns.append(PlacedTurn(name, text, (pos + a) / RATE, (pos + b) / RATE))
        parts.append(pcm)
        pos += len(pcm)
        gap = gaps[i] if i < len(names) - 1 else tail_s
        parts.append(np.zeros(int(gap * RATE), np.int16))
        pos += int(gap * RATE)
    return Scenario(np.concatenate(parts), RATE, turns)


def overlap(first: str, second: str, *, after_s: float, lead_s: float = 0.8) -> Scenario:
    """``second`` starts ``after_s`` seconds after ``first`` ends: talking over the answer."""
    return compose([first, second], lead_s=lead_s, gaps_s=[after_s], tail_s=6.0)
