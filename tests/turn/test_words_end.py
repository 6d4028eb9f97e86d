"""Where the words ended, for the timings: the VAD hears silence a few windows later."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicedesk.audio.wavio import read_wav
from voicedesk.config import load_settings
from voicedesk.turn.vad import VadSegmenter
from voicedesk.turn.words_end import LOOKBACK_S, words_end_s

FIXTURES = Path(__file__).parents[1] / "fixtures" / "turns"


def _last_stop(pcm: np.ndarray) -> tuple[float, float]:
    """(the VAD's end of the last speech, the words' end) as the session reads them."""
    seg = VadSegmenter(load_settings(None))
    block = 320
    found = None
    for i in range(0, len(pcm) - block + 1, block):
        for event in seg.feed(pcm[i : i + block], i / 16_000):
            if event.kind == "stop":
                end = (i + block) / 16_000
                found = (event.edge_s, words_end_s(pcm[: i + block], end, event.edge_s))
    assert found is not None
    return found


def test_the_words_end_where_the_labels_say_not_where_the_vad_heard_silence() -> None:
    """On the checked-in Piper speech the VAD's end came a median 51 ms after the words;
    the timings (voice-to-voice, the turn-end wait) were that much short."""
    labels = json.loads((FIXTURES / "labels.json").read_text())
    vad_late, words_late = [], []
    for label in labels:
        if label["category"] not in ("finished", "unfinished"):
            continue
        vad_end, words_end = _last_stop(read_wav(FIXTURES / label["file"], 16_000)[0])
        vad_late.append(vad_end - label["speech_end_s"])
        words_late.append(words_end - label["speech_end_s"])
    assert np.median(vad_late) > 0.03
    assert abs(np.median(words_late)) < 0.015
    assert max(abs(x) for x in words_late) < 0.03


def test_no_earlier_end_in_the_audio_leaves_the_vads() -> None:
    rate = 16_000
    tone = 0.3 * np.sin(2 * np.pi * 200 * np.arange(rate) / rate)  # loud to the very end
    pcm = (np.concatenate([tone, np.zeros(rate // 8)]) * 32767).astype(np.int16)
    end = len(pcm) / rate
    assert words_end_s(pcm, end, 1.0) == pytest.approx(1.0, abs=0.011)  # within a frame
    assert words_end_s(pcm[:100], end, 1.0) == 1.0  # too little audio to tell
    # the words' end is looked for only LOOKBACK_S back: silence before that is the VAD's
    quiet = np.zeros(2 * rate, np.int16)
    quiet[: rate // 2] = pcm[: rate // 2]
    assert words_end_s(quiet, 2.0, 1.5) == 1.5 and LOOKBACK_S < 1.0


def test_the_first_call_imports_nothing_on_the_way_to_the_answer() -> None:
    """It runs on the event loop at every end of speech. numpy's percentile imported
    ``numpy.ma`` on its first call: ~20 ms between the first turn's end and its request."""
    script = f"""
import sys
import numpy as np
import voicedesk.engine.session
from voicedesk.audio.wavio import read_wav
from voicedesk.turn.words_end import words_end_s
pcm, _ = read_wav({str(FIXTURES / "dev-finished-0.wav")!r}, 16_000)
before = set(sys.modules)
words_end_s(pcm, pcm.size / 16_000, pcm.size / 16_000 - 0.05)
print(sorted(set(sys.modules) - before))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
