"""Files written whole: readers see the old file or the new one, never half of it.

One writer for everything voicedesk keeps on disk that a crash must not leave torn: the
documents it edits and their history, its model cache, the config file, recordings. The
session log is append-only, so it writes its own way.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import, before any threads exist, because reading it means setting it.
_UMASK = _current_umask()


def atomic_write(
    path: Path,
    data: bytes | Callable[[BinaryIO], None],
    *,
    check: Callable[[Path], None] | None = None,
    mode: int | None = None,
) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    The temp file lives in the same folder (so ``os.replace`` is a rename on one file system)
    and starts with a dot (so listings skip it if a crash leaves it behind). A ``path`` that
    is a symbolic link (a config kept in a dotfiles repository) stays one: the file it leads
    to is replaced, not the link. ``check`` runs last thing before the rename, on the temp
    file as written, and may raise to leave ``path`` as it is. ``mode`` forces the new
    file's permissions (a file that may hold keys stays private; the folders made for a
    file only its owner may read are made so too, :func:`make_private_folder`); by default
    it keeps the old file's, or a new file gets what the umask gives. ``data`` may be a function that
    writes the content to the (seekable) temp file itself, so that a large file (a long
    run's recording) is not first built whole in memory.
    """
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if mode is not None and not mode & 0o077:
        make_private_folder(path.parent)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            old = path.stat()
        except FileNotFoundError:
            new_mode = 0o666 & ~_UMASK
        else:
            _keep_owner(tmp, old)
            new_mode = stat.S_IMODE(old.st_mode)
        os.chmod(tmp, new_mode if mode is None else mode)  # after chown, which may clear set-id
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def _keep_owner(tmp: Path, old: os.stat_result) -> None:
    """Give the new file the replaced one's owner and group, as far as we may.

    The temp file is ours: without this, root editing a person's 0640 file would leave it
    root's and unreadable to them, and anyone editing a file shared through its group would
    take it from the group. Only root may give a file away; others may still keep its group
    if they belong to it, and otherwise it stays theirs.
    """
    if not hasattr(os, "chown"):  # Windows: files have no POSIX owner to keep
        return
    mine = tmp.stat()
    if (mine.st_uid, mine.st_gid) == (old.st_uid, old.st_gid):
        return
    for uid in (old.st_uid, -1):
        try:
            os.chown(tmp, uid, old.st_gid)
            return
        except OSError:
            continue


def fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows has no directory handles)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_private_folder(folder: Path) -> None:
    """Make ``folder`` and any missing folder above it readable only by their owner (0700),
    as the XDG base-directory spec asks of the folders an application makes for its data:
    the names of conversation logs say when each conversation was held, and a folder made
    with the umask's 0755 listed them for every local user. A folder that exists keeps the
    mode it has (where the platform has no POSIX modes, the mode is ignored)."""
    missing = []
    for here in (folder, *folder.parents):
        if here.is_dir():
            break
        missing.append(here)
    for here in reversed(missing):
        try:
            here.mkdir(mode=0o700)
        except FileExistsError:
            if not here.is_dir():
                raise  # a file in the way (it was taken for a folder made meanwhile)


def cannot_write_fix(exc: OSError, path: Path, instead: str) -> str:
    """The fix for ``exc``, raised writing ``path`` (or making its folders), then ``instead``
    (what else to pass: "pass another file with --config"). "Check the folder's
    permissions" was said of every failure: on a disk mounted read-only no permission
    helps, and a full disk has nothing to do with them."""
    import errno

    folder = next((p for p in (path, *path.parents) if p.is_dir()), path.parent)
    if exc.errno == errno.EROFS:
        return f"{folder} is on a disk mounted read-only, where no permission helps: {instead}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"give yourself write access to {folder} (chmod u+w), or {instead}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"free some space on the disk holding {folder}, or {instead}"
    return instead


def make_named_folder(folder: Path, flag: str) -> None:
    """Make ``folder``, named by the person through ``flag`` (or holding the file it names),
    with any missing folder above it, and say so on stderr. Made without a word, a
    mistyped folder (``--output ~/Desktp/a.wav``) took the answers somewhere the person did
    not look; refused, ``--keep runs/today`` would need a mkdir first for nothing."""
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    print(f"voicedesk: made the folder {folder} for {flag} (it did not exist)", file=sys.stderr)


def make_data_folder(folder: Path, what: str, keeps: str) -> None:
    """Make ``folder`` for ``what`` (a file voicedesk writes there: "the session log")
    private, as :func:`make_private_folder` does, or stop the start with a sentence: a file
    where a folder goes made mkdir say "File exists" (or "Not a directory"), in a traceback
    naming neither. ``keeps``: what voicedesk keeps in the folder ("its conversations")."""
    from voicedesk.errors import UserError

    in_the_way = file_in_the_way(folder / "-")  # the folder itself, or one above it
    if in_the_way is not None:
        raise UserError(
            f"{what[0].upper()}{what[1:]} cannot be written: {in_the_way} is a file, not a folder.",
            f"move or delete that file, so voicedesk can keep {keeps} in the folder {folder}",
        )
    try:
        make_private_folder(folder)
    except OSError as exc:
        raise UserError(
            f"The folder {folder} for {what} cannot be made: {exc.strerror or exc}.",
            cannot_write_fix(exc, folder, "set XDG_DATA_HOME to a folder you own"),
        ) from None


def file_in_the_way(path: Path) -> Path | None:
    """A parent of ``path`` that is a file, not a folder: making the folders would fail
    with "File exists" (or "Not a directory"), naming neither the file nor the cause."""
    for parent in Path(path).parents:
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def open_private_log(path: Path) -> int:
    """An append-only log's fd, a new file readable only by its owner (0600: its lines hold
    what was said; one that exists keeps its mode), its next record on a fresh line even
    after a torn one (:func:`ends_mid_line`). The folder must exist."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if ends_mid_line(path):
            os.write(fd, b"\n")
    except BaseException:
        os.close(fd)
        raise
    return fd


def ends_mid_line(path: Path) -> bool:
    """Whether an append-only log's last line is torn (a crash or a full disk mid-write):
    its next record must start on a fresh line, or it is glued to the torn one and lost."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if not fh.tell():
            return False
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"
