"""The duplex audio contract: one clock for what the microphone hears and what is played.

A backend calls ``process(mic_block)`` once per block on its own audio thread and plays the
block it returns. Capture blocks are int16 mono at ``CAPTURE_RATE``; playback blocks are int16
mono at ``PLAYBACK_RATE``; both cover the same ``block_ms``. Block *k* starts at audio time
``k * block_ms / 1000`` s on the input timeline, for every backend, so events can be placed on
that timeline and (for file backends) output sample *n* lines up with input sample *n*.

``process`` must never block or wait on the event loop: it hands the capture block over with
``loop.call_soon_threadsafe`` and takes playback audio from a buffer the loop fills.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

CAPTURE_RATE = 16_000  # what VAD, end-of-turn model and STT providers consume
PLAYBACK_RATE = 24_000  # what TTS providers produce; backends resample to the device/file rate

ProcessFn = Callable[[np.ndarray], np.ndarray]


def block_samples(rate: int, block_ms: int) -> int:
    return rate * block_ms // 1000


class DuplexBackend(ABC):
    """A source of capture blocks and a sink of playback blocks on one clock."""

    name: str = "backend"

    def __init__(self, block_ms: int = 10) -> None:
        self.block_ms = block_ms
        self.capture_block = block_samples(CAPTURE_RATE, block_ms)
        self.playback_block = block_samples(PLAYBACK_RATE, block_ms)
        self.finished = threading.Event()  # set when a finite input (file) has been consumed

    @abstractmethod
    def start(self, process: ProcessFn) -> None:
        """Begin calling ``process`` every block on the backend's own thread."""

    @abstractmethod
    def stop(self) -> None:
        """Stop calling ``process``; flush/close outputs. Idempotent."""

    def block_start_s(self, index: int) -> float:
        return index * self.block_ms / 1000.0

    def drop_playback(self) -> list[int]:
        """Drop the playback blocks handed over but not yet playing; return their indices
        (0 = the first ``process`` call since :meth:`start`).

        Only a backend that queues blocks between ``process`` and the device (two streams)
        has any: a lagging speaker otherwise plays a cut answer on after the cut. The
        indices let the engine count what was dropped as not heard.
        """
        return []

    @property
    def input_latency_s(self) -> float:
        """Time from a sound reaching the microphone to its block reaching ``process``.

        The timeline places a capture block where it reaches us, so the person said it this
        long before its place on the timeline: per-turn metrics add it to voice-to-voice.
        """
        return 0.0

    @property
    def output_latency_s(self) -> float:
        """Time from returning a playback block to it leaving the speaker (device buffers)."""
        return 0.0
