"""Append-only JSONL session log that survives a crash mid-turn.

One JSON object per line. Each line is written with a single ``os.write`` on an ``O_APPEND``
descriptor and fsync'd, so a crash can at worst lose the line being written, never corrupt
earlier ones; a torn last line is skipped on reading. The log is what ``--resume`` rebuilds a
conversation from.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voicedesk.config import data_dir

log = logging.getLogger(__name__)


# Conversations that are not the person's own: `voicedesk demo` and simulated (`--sim`) runs.
# Their logs carry the kind in the name (``….demo.jsonl``) so `--resume` never continues one
# of them as if it were the person's last conversation.
LOG_KINDS = ("", "sim", "demo")


def sessions_dir() -> Path:
    return data_dir() / "sessions"


def log_kind(path: Path) -> str:
    """ "" for a conversation with the real providers, else "sim" or "demo"."""
    stem = path.name.removesuffix(".jsonl")
    return stem.rpartition(".")[2] if "." in stem else ""


class SessionLog:
    def __init__(self, path: Path | None = None, *, kind: str = "") -> None:
        if kind not in LOG_KINDS:
            raise ValueError(f"unknown session log kind {kind!r}")
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            suffix = f".{kind}" if kind else ""
            path = sessions_dir() / f"{stamp}-{os.getpid()}{suffix}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # A crash mid-write leaves a torn last line; start on a fresh line so the next record
        # is not glued to it (and lost with it).
        size = os.fstat(self._fd).st_size
        if size:
            with path.open("rb") as fh:
                fh.seek(size - 1)
                if fh.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode()
        os.write(self._fd, line)
        # Some filesystems refuse fsync; the write itself still stands.
        with contextlib.suppress(OSError):
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_log(path: Path) -> Iterator[dict[str, Any]]:
    """Yield records; a torn or corrupt line (crash mid-write) is skipped with a warning."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                log.warning(
                    "%s:%d: skipping a torn line (the process died mid-write)", path, lineno
                )


def latest_log(kind: str = "") -> Path | None:
    """The newest log of this kind: a real conversation never resumes a demo or a simulated
    one (nor the other way round)."""
    folder = sessions_dir()
    if not folder.is_dir():
        return None
    logs = sorted(
        (p for p in folder.glob("*.jsonl") if log_kind(p) == kind), key=lambda p: p.stat().st_mtime
    )
    return logs[-1] if logs else None
