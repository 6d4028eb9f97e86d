"""Append-only JSONL session log that survives a crash mid-turn.

One JSON object per line. Each line is written whole (a short write is finished or fails) on
an ``O_APPEND`` descriptor, so a crash can at worst lose the line being written, never corrupt
earlier ones; a torn last line is skipped on reading. The log is what ``--resume`` rebuilds a
conversation from.

A record is written where it is made, on the event loop: once ``write`` returns it is the
kernel's, and a process killed or crashing after that keeps it. The fsync that also keeps it
through a power cut is made on the log's own thread: it takes 4-8 ms on this machine's disk
and tens of ms or more on a laptop's busy disk or a network home folder, and the loop it held
is the one that hears the person and feeds the speaker (a user line is written as the turn
ends, just before its answer is let play). Records that come while one fsync runs are
synced by the next, together. The thread is one worker kept for the process, started
with the first log: a thread started per fsync made the loop wait for the new thread to
be scheduled (``Thread.start`` waits for it to run), 12 ms at a turn's end on a busy
2-core machine, and again for each progress note while an answer played.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from voicedesk.config import data_dir
from voicedesk.config_secrets import hide_secrets
from voicedesk.errors import UserError
from voicedesk.files import (
    ends_mid_line,
    make_data_folder,
    make_private_folder,
    open_private_log,
)

log = logging.getLogger(__name__)


# Conversations that are not the person's own: `voicedesk demo` and simulated (`--sim`) runs.
# Their logs carry the kind in the name (``….demo.jsonl``) so `--resume` never continues one
# of them as if it were the person's last conversation.
LOG_KINDS = ("", "sim", "demo")
_SERIAL = itertools.count()
# What fsync says on a file that cannot be synced at all (some special and network
# filesystems): the writes themselves still stand. Any other error lost what was written.
_NO_FSYNC = frozenset({errno.EINVAL, errno.EROFS, errno.ENOTSUP, errno.EOPNOTSUPP})


# What a log that cannot be written any more keeps, by whether it holds a turn (what
# ``--resume`` continues: ``holds_a_turn``). It said "--resume will not continue it" of both,
# and a person whose disk filled up mid-conversation took it for lost: --resume continues it,
# up to the failed write.
_WHAT_RESUME_KEEPS = {
    False: "this conversation goes on unrecorded, and --resume cannot continue it.",
    True: "the rest of this conversation goes on unrecorded; --resume continues it up to here.",
}


# What fixes a log that could not be written, by its error: said alike for all ("free some
# space on its disk, or give yourself write access to it"), a failing disk's EIO was sent to
# two fixes that do nothing for it.
_FIXES = {
    errno.ENOSPC: "Free some space on its disk",
    errno.EDQUOT: "Free some space on its disk (your quota there is used up)",
    errno.EFBIG: "Free some space on its disk, or raise the file size limit (ulimit -f)",
    errno.EACCES: "Give yourself write access to it",
    errno.EPERM: "Give yourself write access to it",
    errno.EIO: "Check that its disk is working (and still connected)",
    errno.EROFS: "Its disk was made read-only (often after a disk error): check that disk",
}


def _what_fixes(exc: OSError) -> str:
    """What to do about ``exc`` for the next conversation to be recorded."""
    return _FIXES.get(exc.errno or 0, "Fix that")


@functools.cache
def _syncer() -> ThreadPoolExecutor:
    """The fsyncs' thread, started now (its first task is nothing): later records are
    handed to it without waiting for a thread to start. Joined at exit, so a sync handed
    over is made."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voicedesk-session-log")
    pool.submit(lambda: None)
    return pool


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
            # a second conversation of this process within the same second gets its own log
            serial = next(_SERIAL)
            own = f"-{serial}" if serial else ""
            path = sessions_dir() / f"{stamp}-{os.getpid()}{own}{suffix}.jsonl"
        self.path = path
        # Opened on the first record: a start that fails, or a run that hears nobody, leaves
        # no empty log behind for `--resume` to take as the last conversation.
        self._fd = -1
        self._broken = False  # a write failed: said once, the conversation goes on
        # A turn's words were written whole: --resume continues from them. A log this run
        # goes on with (resumed, or named by --log) may hold earlier ones: looked for in
        # the file only if its writing fails (``_kept_a_turn``).
        self._wrote_a_turn = False
        # Where a log that breaks mid-run is said (the session's notices, called from the
        # syncing thread too); None: a logged warning. A warning alone never reached the
        # terminal UI, which sends logging to its log file: the person was not told.
        self.on_broken: Callable[[str], None] | None = None
        self._lock = threading.Lock()  # one record's line at a time, and the fd's life
        self._unsynced = False  # written since the syncing thread's last fsync began
        self._syncing: Future[None] | None = None  # this log's sync, handed over or running
        # close() was called: a record after it let the file go does not reopen it for good
        self._closed = False
        _syncer()

    def check(self) -> None:
        """Refuse at start a log that cannot be written (its folder is a file, or is not
        writable): every turn's record failed on it, and the conversation with them."""
        folder = self.path.parent
        make_data_folder(folder, "the session log", "its conversations")
        target = self.path if self.path.exists() else folder
        if not os.access(target, os.W_OK):
            raise UserError(
                f"The session log {target} is not writable (permission denied).",
                f"give yourself write access (chmod u+w {target})",
            )
        if self.path.exists():
            with self._lock:
                if self._fd < 0:
                    self._fd = self._claimed()

    def _claimed(self) -> int:
        """The descriptor of a log this run goes on with (a resumed conversation), held
        against a second voicedesk: two running at once on one log (`--resume` in another
        terminal while the first still talks) wrote their turns into it under the same turn
        ids, and the next --resume kept one of each pair. The lock goes with the descriptor,
        at ``close`` or the process's end, however it ends."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            if not _hold(fd):
                raise UserError(
                    f"This conversation is going on in another voicedesk right now "
                    f"({self.path}): two at once would mix their turns in one log.",
                    "go on with it there, or close that voicedesk and resume it again; "
                    "without --resume a new conversation starts",
                )
            if ends_mid_line(self.path):
                os.write(fd, b"\n")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _open(self) -> int:
        make_private_folder(self.path.parent)
        fd = open_private_log(self.path)
        _hold(fd)  # a new log, whose name is this run's: only a --resume may want it
        return fd

    def append(self, record: dict[str, Any]) -> None:
        """One record, durably. A log that cannot be written (a full disk, its file taken
        away) is said once, and the conversation goes on without it: it failed each turn
        that would have been recorded, and answered none."""
        self._append_lines(_line(record), turn=_is_turn(record))

    def append_all(self, records: list[dict[str, Any]]) -> None:
        """Records that stand or fall together (a merged turn's words and the retraction of
        the turn it took back), in one write and one fsync: a process killed between two
        appends kept the retraction without the turn that replaced it."""
        lines = b"".join(_line(r) for r in records)
        self._append_lines(lines, turn=any(map(_is_turn, records)))

    def _append_lines(self, lines: bytes, *, turn: bool) -> None:
        """Whole records' lines, written now and synced on the log's thread. ``turn``: they
        hold a turn's words."""
        with self._lock:
            if self._broken:
                return
            try:
                if self._closed and self._fd < 0:
                    # let go by close(); one made while close() waits for the last sync,
                    # the file still open, is written as any other: close() waits for its
                    # sync too, then closes the file (a second descriptor for it left the
                    # first open, forgotten, to the end of the process)
                    self._write_late(lines)
                    return
                if self._fd < 0:
                    self._fd = self._open()
                self._write_whole(lines)
            except OSError as exc:
                self._broken = True
                why, fix = exc.strerror or str(exc), _what_fixes(exc)
            else:
                self._wrote_a_turn = self._wrote_a_turn or turn
                self._unsynced = True
                if self._syncing is None:  # else its next fsync takes these lines too
                    self._syncing = _syncer().submit(self._sync)
                return
        self._say(
            f"The session log {self.path} cannot be written ({why}): "
            f"{_WHAT_RESUME_KEEPS[self._kept_a_turn()]} {fix} for the next conversation to "
            "be recorded."
        )

    def _write_late(self, lines: bytes) -> None:
        """Records made after the log was closed (the session stopped): written and synced
        at once, and the file let go again. Reopened as any other append, the log was
        left open, its fsync handed to the syncing thread, until the process exited."""
        log.warning("a record came after the session log %s was closed", self.path)
        self._fd = self._open()
        try:
            self._write_whole(lines)
            with contextlib.suppress(OSError):  # the writes stand where fsync cannot be made
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = -1

    def _kept_a_turn(self) -> bool:
        """Whether the log holds a turn's words, for ``--resume`` to continue: written by
        this run, or already there (a resumed conversation, whose first record after
        resuming may be the one that failed). Read only once the log is broken."""
        if self._wrote_a_turn:
            return True
        try:
            with self.path.open("rb") as fh:  # on the loop: only lines that may be one parsed
                return any(map(_is_turn, _records(line for line in fh if b'"user"' in line)))
        except OSError:
            return False

    def _say(self, message: str) -> None:
        """A log broken mid-run, said once: to ``on_broken``, else as a warning."""
        if self.on_broken is None:
            log.warning("%s", message)
            return
        log.info("%s", message)  # for the log file, beside what was said
        try:
            self.on_broken(message)
        except Exception:  # saying it must not break what the conversation is doing
            log.warning("%s", message, exc_info=True)

    def note(self, record: dict[str, Any]) -> None:
        """A record said often while an answer plays (how much has been heard). Written as
        any other now that no record waits for the disk; kept apart so that what the
        engine writes often stays visible. ``--resume`` must not rely on a note's place
        among other records."""
        self.append(record)

    def _sync(self) -> None:
        while True:
            with self._lock:
                if not self._unsynced or self._fd < 0:
                    self._syncing = None
                    return
                self._unsynced = False
                fd = self._fd
            # The fd is closed only after this sync ends (``close`` waits for it).
            try:
                os.fsync(fd)
            except OSError as exc:
                if exc.errno not in _NO_FSYNC:
                    self._lost(exc)

    def _lost(self, exc: OSError) -> None:
        """An fsync failed: the kernel took the lines and could not keep them (a failing
        disk, a network home folder past its quota). Said once, as a failed write is, and
        nothing more is written to a log with a hole in it."""
        with self._lock:
            if self._broken:
                return
            self._broken = True
        self._say(
            f"The session log {self.path} cannot be saved to the disk "
            f"({exc.strerror or exc}): its last records may be lost, and this conversation "
            "goes on unrecorded."
        )

    def flush_notes(self) -> None:
        """Wait until everything written is also on the disk."""
        with self._lock:
            syncing = self._syncing
        if syncing is not None:
            syncing.result()

    def _write_whole(self, line: bytes) -> None:
        """A disk that fills mid-record writes part of it and returns short; the rest is
        written or its failure raised, so a torn line is never taken for a whole one and the
        log never goes on after it as if the record stood."""
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            if not written:  # no progress and no error: never spin on it
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]

    def close(self) -> None:
        self._closed = True
        while True:
            self.flush_notes()
            with self._lock:
                if self._syncing is None:
                    # a write just made handed over another sync: it is waited for first,
                    # since a closed fd's number may be reused and fsynced
                    if self._fd >= 0:
                        os.close(self._fd)
                        self._fd = -1
                    return

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hold(fd: int) -> bool:
    """Lock the log open on ``fd`` for this run; False when another process holds it. True
    where there are no such locks (Windows): nothing can be checked there."""
    try:
        import fcntl
    except ImportError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks (some network mounts): as on Windows
        return True
    return True


def _line(record: dict[str, Any]) -> bytes:
    """One record's line; an error quoting a secret (a server's echo of the key it was
    sent) is kept without it."""
    return (hide_secrets(json.dumps(record, ensure_ascii=False, default=str)) + "\n").encode()


def _is_turn(record: dict[str, Any]) -> bool:
    """A record of what the person said: a log holding one is a conversation to resume."""
    return record.get("type") == "user"


def _records(lines: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """The records among ``lines``, a torn or damaged line passed over without a word."""
    for raw in lines:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def read_log(path: Path) -> Iterator[dict[str, Any]]:
    """Yield records; a torn or corrupt line (crash mid-write) is skipped with a warning."""
    for _, record in read_numbered(path):
        yield record


def read_numbered(
    path: Path, damaged: list[tuple[int, str]] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each record; a torn or corrupt line (crash mid-write) is
    skipped with a warning, and (its number, what is wrong with it) added to ``damaged``,
    so that the person can be told which line to mend."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:  # bad JSON, or bytes cut inside a UTF-8 character
                log.warning(
                    "%s:%d: skipping a line that is not JSON (a write the process died in, "
                    "or an edit)",
                    path,
                    lineno,
                )
                if damaged is not None:
                    damaged.append((lineno, "not JSON"))
                continue
            if not isinstance(record, dict):  # a hand edit: every record is an object
                log.warning("%s:%d: skipping a line that is not a record", path, lineno)
                if damaged is not None:
                    damaged.append((lineno, "not a JSON object"))
                continue
            yield lineno, record


def holds_a_turn(path: Path) -> bool:
    """The log has at least one thing the person said (not just a start that failed). One
    the person may not read is named: passed over, an older conversation was continued,
    and written to, in its place."""
    try:
        return any(_is_turn(record) for record in read_log(path))
    except PermissionError:
        raise UserError(
            f"The last conversation's log {path} cannot be read (permission denied).",
            f"give yourself access (chmod u+rw {path}), or start afresh without --resume",
        ) from None
    except OSError:
        return False


def latest_log(kind: str = "") -> Path | None:
    """The newest log of this kind that holds a conversation: a real conversation never
    resumes a demo or a simulated one (nor the other way round), nor a log left by a start
    that failed or a run that heard nobody."""
    folder = sessions_dir()
    if not folder.is_dir():
        return None
    found = []
    for p in folder.glob("*.jsonl"):
        if log_kind(p) != kind:
            continue
        try:
            found.append((p.stat().st_mtime, p))
        except OSError:  # a link to nothing: no conversation (it crashed the sort)
            continue
    return next((p for _, p in sorted(found, reverse=True) if holds_a_turn(p)), None)
