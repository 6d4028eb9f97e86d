"""The float-softmax rewrite of Smart Turn: what onnxruntime runs, what it gives, the cache.

Real files throughout: the bundled int8 Smart Turn and Silero VAD models, onnxruntime's own
optimised graph, and the Piper fixtures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from voicedesk.audio.wavio import read_wav
from voicedesk.config import load_settings
from voicedesk.turn import float_softmax
from voicedesk.turn.features import log_mel
from voicedesk.turn.models import load_session, smart_turn_path, vad_path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "turns"
SETTINGS = load_settings(Path("/nonexistent/voicedesk-fs-tests/config.toml"), environ={})
SMART_TURN = smart_turn_path(SETTINGS.models)


def _session(model: Path | bytes, optimized: Path | None = None) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    if optimized is not None:
        opts.optimized_model_filepath = str(optimized)
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def _ops_run(model: Path | bytes, tmp_path: Path) -> Counter[str]:
    """The op types of the graph onnxruntime runs, after its fusions."""
    out = tmp_path / "optimized.onnx"
    _session(model, out)
    return Counter(node.op_type for node in onnx.load(str(out)).graph.node)


def test_onnxruntime_runs_float_softmax_instead_of_qlinear_softmax(tmp_path: Path) -> None:
    before = _ops_run(SMART_TURN, tmp_path)
    rewritten = float_softmax.rewrite(SMART_TURN.read_bytes())
    assert rewritten is not None
    after = _ops_run(rewritten, tmp_path)
    assert before["QLinearSoftmax"] == 4  # one per encoder layer: what the rewrite is for
    assert after["QLinearSoftmax"] == 0
    assert after["Softmax"] == before["Softmax"] + 4
    # the matrix products stay int8: only the softmax changed kernel
    assert after["QLinearMatMul"] == before["QLinearMatMul"]


def test_probabilities_stay_within_the_int8_models_own_noise() -> None:
    """Same quantized scores in, same quantized probabilities out: the end-of-turn
    probability barely moves (a shift of the zero point, or a wrong scale, moves it a lot)."""
    original = _session(SMART_TURN)
    rewritten = float_softmax.rewrite(SMART_TURN.read_bytes())
    assert rewritten is not None
    fast = _session(rewritten)
    name = original.get_inputs()[0].name
    diffs = []
    for wav in sorted(FIXTURES.glob("dev-*.wav"))[:12]:
        audio = read_wav(wav, 16_000)[0].astype(np.float32) / 32768.0
        for cut in (0.5, 0.8, 1.0):
            feats = log_mel(audio[: max(1600, int(cut * audio.size))])[None]
            p = float(original.run(None, {name: feats})[0].reshape(-1)[0])
            q = float(fast.run(None, {name: feats})[0].reshape(-1)[0])
            assert 0.0 <= q <= 1.0
            diffs.append(abs(p - q))
    assert np.median(diffs) < 0.02, sorted(diffs)


def test_the_rewritten_file_is_cached_and_reused(tmp_path: Path, monkeypatch) -> None:
    first = float_softmax.fast_model(SMART_TURN, tmp_path)
    assert isinstance(first, Path) and first.parent == tmp_path and first.is_file()
    assert not list(tmp_path.glob("*.tmp"))  # written whole, then renamed

    def no_rewrite(original: bytes) -> bytes | None:
        raise AssertionError("rewrote a model that was in the cache")

    monkeypatch.setattr(float_softmax, "rewrite", no_rewrite)
    assert float_softmax.fast_model(SMART_TURN, tmp_path) == first


def test_another_file_is_not_served_the_cached_rewrite(tmp_path: Path) -> None:
    """Keyed by content: another model under the same name is looked at anew."""
    copy = tmp_path / "model" / SMART_TURN.name
    copy.parent.mkdir()
    copy.write_bytes(SMART_TURN.read_bytes())
    cache = tmp_path / "cache"
    first = float_softmax.fast_model(copy, cache)
    assert isinstance(first, Path)
    copy.write_bytes(first.read_bytes())  # a valid model with no softmax left to rewrite
    assert float_softmax.fast_model(copy, cache) is None
    assert first.is_file()


def test_a_model_without_the_pattern_is_marked_and_run_as_it_is(
    tmp_path: Path, monkeypatch
) -> None:
    vad = vad_path(SETTINGS.models)
    assert float_softmax.fast_model(vad, tmp_path) is None
    assert [p.suffix for p in tmp_path.iterdir()] == [".unchanged"]
    monkeypatch.setattr(float_softmax, "rewrite", lambda original: pytest.fail("onnx loaded again"))
    assert float_softmax.fast_model(vad, tmp_path) is None


def test_an_unwritable_cache_gives_the_rewritten_bytes(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    model = float_softmax.fast_model(SMART_TURN, blocker / "models")
    assert isinstance(model, bytes)
    assert _session(model).get_inputs()[0].shape[1:] == [80, 800]


def test_a_damaged_cached_copy_falls_back_to_the_file_and_is_written_anew(
    tmp_path: Path, monkeypatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(float_softmax, "cache_dir", lambda: cache)
    model = tmp_path / "turn.onnx"  # a path of its own: load_session caches by path
    model.write_bytes(SMART_TURN.read_bytes())
    cached = float_softmax.fast_model(model, cache)
    assert isinstance(cached, Path)
    cached.write_bytes(cached.read_bytes()[:1000])  # e.g. a disk that filled up under it
    session = load_session(model, "models.smart_turn", float_softmax=True)
    assert session.get_inputs()[0].shape[1:] == [80, 800]
    assert not cached.exists()  # removed, so the next start rewrites it
    assert float_softmax.fast_model(model, cache) == cached and cached.stat().st_size > 10**6
