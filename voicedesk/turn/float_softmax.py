"""Smart Turn's attention softmax, run in float: ~10% off every end-of-turn call.

The int8 Smart Turn file is in QDQ form, and onnxruntime fuses each attention
``DequantizeLinear → Softmax → QuantizeLinear`` into ``QLinearSoftmax``. That kernel is
scalar: on an AVX2 core its four calls take ~18 ms of a ~100 ms run, while the float
``Softmax`` that replaces it, vectorised, takes ~7 ms with the cast and scale. So the
graph is rewritten to feed the softmax ``Cast(q) × scale`` instead of the
``DequantizeLinear`` the fusion matches: the same quantized scores (the zero point only
shifts every score of a row alike, which a softmax ignores) and the same quantized
probabilities after it, through a kernel without the table lookups.

The probability moves a little (median 0.004 over 300 calls on our fixtures), no more
than adding 1e-3 of noise to the log-mel features moves it: the int8 model is that
sensitive to its input (`voicedesk bench turn` gave the same accuracy with either graph).

Importing ``onnx`` takes over a second, so the rewritten file is kept in the user cache
folder under the source file's hash and later starts load it directly.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from voicedesk.files import atomic_write

log = logging.getLogger(__name__)

# Bump when the rewrite changes, so files rewritten by an older one are not reused.
REWRITE_VERSION = 1


def cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("voicedesk", appauthor=False) / "models"


def fast_model(path: Path, cache: Path | None = None) -> Path | bytes | None:
    """The rewritten model for ``path``: a cached file, or bytes when the cache folder
    cannot be written; ``None`` when the graph has no softmax to rewrite (or ``onnx`` is
    missing), so the file is run as it is."""
    cache = cache_dir() if cache is None else cache
    original = path.read_bytes()
    digest = hashlib.sha256(original).hexdigest()[:20]
    target = cache / f"{path.stem}-{digest}-float-softmax-v{REWRITE_VERSION}.onnx"
    unchanged = target.with_suffix(".unchanged")  # nothing to rewrite: skip `onnx` next time
    if target.is_file():
        return target
    if unchanged.is_file():
        return None
    data = rewrite(original)
    try:
        atomic_write(unchanged if data is None else target, data or b"")
    except OSError as exc:
        log.info("cannot keep the rewritten model in %s (%s); rewriting each start", cache, exc)
        return data
    return None if data is None else target


def rewrite(original: bytes) -> bytes | None:
    """The model file ``original`` with each per-tensor ``DequantizeLinear → Softmax``
    replaced by ``Cast → Mul``; ``None`` when there is none (or ``onnx`` is not installed)."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    model = onnx.load_from_string(original)
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    scalars = {init.name for init in graph.initializer if numpy_helper.to_array(init).size == 1}
    nodes = []
    rewritten = 0
    for node in graph.node:
        dq = producer.get(node.input[0]) if node.op_type == "Softmax" else None
        if (
            dq is not None
            and dq.op_type == "DequantizeLinear"
            and dq.domain in ("", "ai.onnx")
            and dq.input[1] in scalars
            and (len(dq.input) < 3 or dq.input[2] in scalars)
        ):
            cast, scaled = f"{node.name}/float_softmax_cast", f"{node.name}/float_softmax_scaled"
            nodes.append(
                helper.make_node("Cast", [dq.input[0]], [cast], name=cast, to=TensorProto.FLOAT)
            )
            nodes.append(helper.make_node("Mul", [cast, dq.input[1]], [scaled], name=scaled))
            node.input[0] = scaled
            rewritten += 1
        nodes.append(node)
    if not rewritten:
        return None
    used = {name for node in nodes for name in node.input} | {out.name for out in graph.output}
    kept = [n for n in nodes if n.op_type != "DequantizeLinear" or n.output[0] in used]
    del graph.node[:]
    graph.node.extend(kept)
    return model.SerializeToString()
