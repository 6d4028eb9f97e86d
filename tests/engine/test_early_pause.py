"""The early pause's worker (``engine/early_pause.py``) on its own, over real speech."""

from __future__ import annotations

import time

import numpy as np

from voicedesk.audio.playback import PlaybackBuffer
from voicedesk.bench.scenarios import load_utterance
from voicedesk.config import Settings
from voicedesk.engine.early_pause import RECENT_BLOCKS, EarlyPause
from voicedesk.turn.vad import WINDOW, VadSegmenter


def _blocks(pcm: np.ndarray, size: int) -> list[np.ndarray]:
    pcm = np.concatenate([pcm, np.zeros(-pcm.size % size, np.int16)])
    return [pcm[i : i + size] for i in range(0, pcm.size, size)]


def _judged(pause: EarlyPause, n: int) -> None:
    """Wait (on the worker's own progress, not a time) until it has judged ``n`` blocks."""
    assert pause.trace is not None
    deadline = time.monotonic() + 60
    while len(pause.trace) < n:
        assert time.monotonic() < deadline, "the worker stopped judging blocks"
        time.sleep(0.01)


def test_a_realign_further_back_than_the_worker_keeps_falls_on_the_detectors_windows() -> None:
    """The loop held 3 s as the person unmuted: the detector's VAD starts afresh at a block
    the worker, ahead, no longer keeps (it keeps ``RECENT_BLOCKS``). It heard again from
    the oldest block it kept instead, and its 32 ms windows (3.2 blocks each) fell between
    the detector's for the rest of the session, so the two heard the person's words at
    different moments. It starts on the detector's window grid now, and hears what the
    detector hears: the same speech at the same windows."""
    settings = Settings()
    size = settings.audio.block_ms * 16  # samples a block, at 16 kHz
    speech, _ = load_utterance("question")
    silence = np.zeros((RECENT_BLOCKS + 100) * size, np.int16)  # the loop held 4 s
    blocks = _blocks(np.concatenate([silence, speech, np.zeros(16_000, np.int16)]), size)
    held = RECENT_BLOCKS + 100
    realigned_at = 7  # the first block the detector hears after the unmute

    pause = EarlyPause(settings, PlaybackBuffer())
    pause.trace = []
    try:
        for i in range(held):
            pause.observe(blocks[i], i, None)
        _judged(pause, held)  # the worker is a whole RECENT_BLOCKS and more ahead
        pause.realign(realigned_at)
        heard: list[tuple[str, float]] = []
        real_feed = pause._vad.feed

        def feed(block: np.ndarray, start_s: float) -> list:
            events = real_feed(block, start_s)
            heard.extend((e.kind, round(e.at_s, 4)) for e in events)
            return events

        pause._vad.feed = feed  # type: ignore[method-assign]
        for i in range(held, len(blocks)):
            pause.observe(blocks[i], i, None)
        _judged(pause, len(blocks))
    finally:
        pause.close()

    # the detector: its VAD started at the realigned block and fed every block since
    detector = VadSegmenter(settings)
    expected = []
    for i in range(realigned_at, len(blocks)):
        events = detector.feed(blocks[i], i * size / 16_000)
        expected += [(e.kind, round(e.at_s, 4)) for e in events]
    assert (pause._vad._pos - realigned_at * size) % WINDOW == 0  # the same window grid
    speech_s = held * size / 16_000
    assert any(kind == "start" for kind, _ in expected)
    assert [e for e in heard if e[1] > speech_s] == [e for e in expected if e[1] > speech_s]
