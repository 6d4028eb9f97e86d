"""Locate and load the on-device ONNX models (Silero VAD, Smart Turn v3).

Both files ship inside the ``pipecat-ai`` wheel; we find them with ``find_spec`` without
importing that framework (importing it would pull in its whole dependency graph at start-up).
Config can point at other files. Sessions use one intra-op thread each: the models are tiny
and a 2-core laptop must keep a core free for audio and the UI. For the same reason numpy's
BLAS computes on one thread too (:func:`one_blas_thread`).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

from voicedesk.config import ModelSettings
from voicedesk.errors import ModelFileError
from voicedesk.turn.float_softmax import fast_model

VAD_RELPATH = "audio/vad/data/silero_vad.onnx"
SMART_TURN_RELPATH = "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"

_sessions: dict[tuple[Path, bool], Any] = {}
_lock = threading.Lock()
_blas_limited = False
log = logging.getLogger(__name__)


def one_blas_thread() -> None:
    """Make numpy's BLAS (OpenBLAS in numpy's wheels) compute on the calling thread alone.

    Its only sizeable products here are the log-mel filterbanks (Smart Turn's front end at
    every pause, faster-whisper's for every reading). OpenBLAS splits them over one thread
    per core, and its helper threads then spin for a while after each product waiting for
    the next: a Smart Turn call took ~87 ms of the process's CPU for ~42 ms of work on this
    2-core machine, the rest spun away beside the audio thread and the event loop, and its
    wall time was no shorter (docs/architecture.md, "Threads"). Process-wide and once; the
    models load before any of those products run.
    """
    global _blas_limited
    if _blas_limited:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
    _blas_limited = True


def _bundled(relpath: str) -> Path | None:
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / relpath


def _resolve(configured: Path | None, relpath: str, key: str) -> Path:
    env = "VOICEDESK_" + key.upper().replace(".", "__")
    if configured is not None:
        path = Path(configured).expanduser()
        origin = f"config key '{key}' (or {env})"
    else:
        bundled = _bundled(relpath)
        if bundled is None:
            raise ModelFileError(
                f"The bundled model file {relpath} was not found: the pipecat-ai package is not installed.",
                f"reinstall voicedesk (`pipx reinstall voicedesk`) or set '{key}' / {env} to an ONNX file",
            )
        path = bundled
        origin = "the pipecat-ai package"
    if path.is_dir():
        raise ModelFileError(
            f"Model file {path} (from {origin}) is a folder, not a file.",
            f"set '{key}' in the config file or {env} to the ONNX file in it",
        )
    if not path.is_file():
        raise ModelFileError(
            f"Model file not found: {path} (from {origin}).",
            f"set '{key}' in the config file or {env} to an existing ONNX file",
        )
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise ModelFileError(
            f"Model file {path} cannot be read: {exc.strerror}.",
            f"fix its permissions or set '{key}' / {env} to another file",
        ) from None
    if len(head) < 16:
        raise ModelFileError(
            f"Model file {path} is empty or truncated.",
            f"point '{key}' / {env} at a complete ONNX file",
        )
    return path


def vad_path(settings: ModelSettings) -> Path:
    return _resolve(settings.silero_vad, VAD_RELPATH, "models.silero_vad")


def smart_turn_path(settings: ModelSettings) -> Path:
    return _resolve(settings.smart_turn, SMART_TURN_RELPATH, "models.smart_turn")


# What each model must look like, by its config key: input names (Silero VAD is run with
# these three by name) or, for Smart Turn, one input of log-mel frames (80 bins × 800).
_EXPECTED = {
    "models.silero_vad": ("a Silero VAD model", {"input", "state", "sr"}, None),
    "models.smart_turn": ("a Smart Turn v3 model", None, (80, 800)),
}


def _describe_inputs(session: Any) -> str:
    return ", ".join(f"'{i.name}' {list(i.shape)}" for i in session.get_inputs()) or "none"


def check_signature(session: Any, path: Path, key: str) -> None:
    """Raise ModelFileError naming the file and the config key when the model's inputs are
    not those of the model ``key`` is for (e.g. the VAD file given as the turn model), so a
    wrong file is found at load time (and by `voicedesk doctor`), not mid-conversation."""
    if key not in _EXPECTED:
        return
    what, names, frames = _EXPECTED[key]
    inputs = session.get_inputs()
    ok = len(session.get_outputs()) >= 1
    if names is not None:
        ok = ok and {i.name for i in inputs} == names
    if frames is not None:
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        ok = (
            ok
            and len(shape) == 3
            and all(
                not isinstance(dim, int) or dim == want
                for dim, want in zip(shape[1:], frames, strict=True)
            )
        )
    if not ok:
        env = "VOICEDESK_" + key.upper().replace(".", "__")
        raise ModelFileError(
            f"Model file {path} is not {what}: its inputs are {_describe_inputs(session)}.",
            f"point '{key}' (or {env}) at {what} file, or remove the setting to use the "
            "bundled one",
        )


def load_session(path: Path, key: str, *, float_softmax: bool = False) -> Any:
    """A cached onnxruntime session (one per file) with one thread, checked to be the model
    ``key`` names; ``float_softmax``: run the graph as :mod:`voicedesk.turn.float_softmax`
    rewrites it (the original file when it cannot be rewritten)."""
    import onnxruntime as ort

    ort.disable_telemetry_events()  # Windows' event tracing (the rest: voicedesk/__init__.py)
    with _lock:
        one_blas_thread()
        if (path, float_softmax) in _sessions:
            session = _sessions[path, float_softmax]
            check_signature(session, path, key)  # the same file may be given for both
            return session
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        session = _fast_session(path, opts) if float_softmax else None
        if session is None:
            try:
                session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
                raise ModelFileError(
                    f"Model file {path} is not a valid ONNX model ({type(exc).__name__}).",
                    f"point '{key}' at the right file, or remove the setting to use the "
                    "bundled model",
                ) from None
        check_signature(session, path, key)
        _sessions[path, float_softmax] = session
        return session


def _fast_session(path: Path, opts: Any) -> Any | None:
    """A session of the float-softmax rewrite of ``path``, or ``None`` to run the file as it
    is: nothing to rewrite, or the rewrite failed (a file onnx cannot parse is then left for
    onnxruntime to report in its own words; a damaged cached copy is removed, so the next
    start writes it anew)."""
    import onnxruntime as ort

    source: Path | bytes | None = None
    try:
        source = fast_model(path)
        if source is None:
            return None
        model = source if isinstance(source, bytes) else str(source)
        return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnx and onnxruntime raise their own types; never worth failing
        log.info("running %s as it is: its float-softmax rewrite failed (%s)", path, exc)
        if isinstance(source, Path):
            source.unlink(missing_ok=True)
        return None
