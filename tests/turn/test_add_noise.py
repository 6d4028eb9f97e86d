"""``tests/fixtures/add_noise.py``: the noisy copy of a fixture set has the SNR it says, the
same labels, and is the same on every run (a benchmark on it must be repeatable)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PICKED = ("dev-finished-0.wav", "dev-paused-0.wav", "dev-silence-0.wav")


def _labels(folder: Path) -> dict[str, dict]:
    return {x["file"]: x for x in json.loads((folder / "labels.json").read_text())}


def _run(src: Path, out: Path) -> None:
    script = FIXTURES / "add_noise.py"
    cmd = [sys.executable, str(script), str(src), str(out), "--snr", "20"]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


def test_noisy_copy_has_the_snr_it_says_and_the_same_labels(tmp_path: Path) -> None:
    src = tmp_path / "clean"
    src.mkdir()
    labels = _labels(FIXTURES / "turns")
    for name in PICKED:
        shutil.copy(FIXTURES / "turns" / name, src / name)
    (src / "labels.json").write_text(json.dumps([labels[n] for n in PICKED]))
    _run(src, tmp_path / "a")
    _run(src, tmp_path / "b")

    assert _labels(tmp_path / "a") == _labels(src)
    levels = {}
    for name in PICKED:
        clean, rate = sf.read(src / name, dtype="float64")
        noisy, _ = sf.read(tmp_path / "a" / name, dtype="float64")
        assert noisy.shape == clean.shape
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        noise_rms = np.sqrt(np.mean((noisy - clean) ** 2))
        label = labels[name]
        if label["category"] == "silence":
            levels[name] = noise_rms
            continue
        span = np.arange(int(label["speech_start_s"] * rate), int(label["speech_end_s"] * rate))
        if "pause_start_s" in label:
            pause = (span >= label["pause_start_s"] * rate) & (span < label["pause_end_s"] * rate)
            span = span[~pause]
        speech_rms = np.sqrt(np.mean(clean[span] ** 2))
        levels[name] = speech_rms / 10
        assert 20 * np.log10(speech_rms / noise_rms) == pytest.approx(20, abs=0.3)
    # no speech: the noise of the median speech file (of two, the mean of their levels)
    expected = (levels["dev-finished-0.wav"] + levels["dev-paused-0.wav"]) / 2
    assert levels["dev-silence-0.wav"] == pytest.approx(expected, rel=0.05)
