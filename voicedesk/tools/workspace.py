"""Safe file access inside one workspace folder, with undo history and stale-read detection.

The documents server takes paths from a language model, which takes them from speech
recognition, so every name is untrusted: :meth:`Workspace.resolve` turns a relative name into
a real path that is guaranteed to lie inside the workspace (no ``..``, no absolute paths, no
symlink leading out, no control or invisible characters that would make a name look like
another one), or raises :class:`WorkspaceError` saying what was wrong and what is allowed.

Writes are atomic (temp file in the same folder, fsync, ``os.replace``) so a crash never leaves
half a document; a document with other hard links is written in place instead, keeping it
one file under all its names, its versions in the undo history first (:func:`_put`). Every write keeps full byte snapshots in a history folder *beside* the
workspace (in the person's data folder when the one above the workspace cannot be written),
so undo and redo restore documents byte for byte and the history never shows up as
documents. Each read remembers the file's mtime and SHA-256, so an edit based on an old read
of a document someone changed in another program is refused instead of silently clobbering
their work; every write checks once more, right before the rename, that the file still holds
what the edit was based on (a slow edit of a big file leaves time for another program).
The history of one document is bounded by a number of versions and by their total size.

The rename needs only the folder's permission, so the file's own is checked first: a read-only
document (see :meth:`Workspace.check_writable`) is refused, and nothing is written or recorded.
A replaced file keeps its permission bits and, where the system allows, its owner and group.

Names are matched as Unicode NFC, but files keep whatever form they have on disk: a file
copied from a Mac is often named in NFD ("cafe" + combining accent), and it opens under the
name the tools list as well as under its NFC spelling.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shlex
import stat
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import NamedTuple

from natsort import natsorted, ns

from voicedesk.files import atomic_write, fsync_dir

ALLOWED = (
    "Use a path relative to the workspace folder, like 'notes/plan.md', "
    "made of ordinary visible characters."
)

# Characters that reorder or hide text: a name containing them can look like a different
# name on screen ("invoice\u202efdp.exe"), so they are refused with a specific message.
_BIDI = {
    "\u061c": "ARABIC LETTER MARK",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
}
_ZERO_WIDTH = {
    "\u180e": "MONGOLIAN VOWEL SEPARATOR",
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u2060": "WORD JOINER",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
}
# Control, format, surrogate, private-use, unassigned, line/paragraph separator.
_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_MAX_NAME_BYTES = 255
_MAX_PATH_CHARS = 1024
MAX_VERSIONS = 100
MAX_HISTORY_BYTES = 50 * 1024 * 1024  # per document; the newest two versions always stay

# What a refusal because of an outside change says was not done, and what to do instead.
_NOT_DONE = {
    "edit": (
        "nothing was changed",
        "Read it again with read_document, then retry the edit.",
    ),
    "undo": (
        "nothing was undone",
        "Tell the person. To undo anyway, read it again with read_document and call undo: it "
        "first goes back to how I last left it, which drops that other change.",
    ),
    "redo": (
        "nothing was redone",
        "Read it again with read_document to see what changed; redo works only straight after "
        "an undo.",
    ),
}


class WorkspaceError(ValueError):
    """A path or file operation the documents server refuses; the message says why."""


class StaleDocumentError(WorkspaceError):
    """The document changed on disk since the server last read it."""


class ReadOnlyDocumentError(WorkspaceError):
    """The document's permissions say it must not be changed."""


class Step(NamedTuple):
    """What an undo or redo did: the file before and after it (None: no file), and whether
    what it took back was a change made outside (undo goes back to the last version of its
    own first), which the person must hear was not the assistant's edit."""

    before: bytes | None
    after: bytes | None
    outside: bool = False


@dataclass(frozen=True)
class Fingerprint:
    """What a document looked like when the server last read or wrote it."""

    mtime_ns: int
    size: int
    sha256: str


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _describe_char(ch: str) -> str:
    name = unicodedata.name(ch, "unnamed character")
    return f"U+{ord(ch):04X} ({name})"


def clean_relative_name(name: str, *, nfc: bool = True) -> str:
    """Check an untrusted relative name and return it NFC-normalised with ``/`` separators.

    Pure string checks only; :meth:`Workspace.resolve` adds the file-system checks (symlinks).
    ``nfc=False`` keeps the characters as given, to find a file named in another form.
    """
    if not isinstance(name, str):
        raise WorkspaceError(f"A path must be text, not {type(name).__name__}. {ALLOWED}")
    if "\x00" in name:
        raise WorkspaceError(
            f"The path contains a NUL byte, which no file name may contain. {ALLOWED}"
        )
    for ch in name:
        if ch in _BIDI:
            raise WorkspaceError(
                f"The path {name!r} contains the text-direction control {_describe_char(ch)}, "
                f"which can make a name look like a different one, so it is refused. {ALLOWED}"
            )
        if ch in _ZERO_WIDTH:
            raise WorkspaceError(
                f"The path {name!r} contains the invisible character {_describe_char(ch)}, "
                f"so it is refused. {ALLOWED}"
            )
        if unicodedata.category(ch) in _BAD_CATEGORIES:
            raise WorkspaceError(
                f"The path {name!r} contains the control or invisible character "
                f"{_describe_char(ch)}, so it is refused. {ALLOWED}"
            )
    name = (unicodedata.normalize("NFC", name) if nfc else name).strip()
    if not name:
        raise WorkspaceError(f"The path is empty. {ALLOWED}")
    if len(name) > _MAX_PATH_CHARS:
        raise WorkspaceError(
            f"The path is {len(name)} characters long; the limit is {_MAX_PATH_CHARS}."
        )
    # Backslashes count as separators everywhere, so "..\\x" cannot slip past the ".." check.
    posix = name.replace("\\", "/")
    win = PureWindowsPath(name)
    home = posix == "~" or posix.startswith("~/")  # "~$draft.docx" is an ordinary name
    if posix.startswith("/") or home or win.drive or win.root:
        raise WorkspaceError(
            f"The path {name!r} is absolute or starts at a home folder; only paths inside "
            f"the workspace are allowed. {ALLOWED}"
        )
    parts = [p for p in posix.split("/") if p not in ("", ".")]
    if not parts:
        raise WorkspaceError(f"The path {name!r} names the workspace folder itself. {ALLOWED}")
    for part in parts:
        if part == "..":
            raise WorkspaceError(
                f"The path {name!r} uses '..' to step out of the workspace, which is not "
                f"allowed. {ALLOWED}"
            )
        if len(part.encode("utf-8")) > _MAX_NAME_BYTES:
            raise WorkspaceError(f"The name {part[:40]!r}… is longer than {_MAX_NAME_BYTES} bytes.")
        if part != part.strip():
            raise WorkspaceError(
                f"The name {part!r} starts or ends with a space, which is usually a "
                f"transcription slip. {ALLOWED}"
            )
    return str(PurePosixPath(*parts))


# Whether os.access can ask as the effective user (who the file system checks), not the real one.
_EFFECTIVE_IDS = os.access in os.supports_effective_ids


@dataclass
class _Version:
    sha: str | None  # None: the document did not exist in this version
    time: float
    size: int = 0  # bytes of the blob


@dataclass
class _History:
    path: str
    versions: list[_Version]
    cursor: int


def on_read_only_drive(path: Path) -> bool:
    """Whether ``path`` is on a file system mounted read-only (a locked SD card, a CD, a
    share mounted ro), where no permission change makes it writable."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # statvfs is not on Windows
        return False


def read_only_drive(not_done: str) -> str:
    """What a tool says when the workspace's drive cannot be written at all."""
    return (
        f"The workspace is on a read-only drive or mount, so {not_done}. Tell the person: "
        "its documents can be read but not changed or added to; to change them, copy them "
        "to a folder that can be written and set tools.workspace to it."
    )


# A drive with no room left, or the person's quota on it reached: the new version was not
# written. Said as such, with the document's name: the OSError has no file name (the write
# of a temporary file failed), and "Could not use the file" told nobody what to do.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def drive_full(rel: str, not_done: str) -> str:
    """What a tool says when the drive holding ``rel`` has no room for its new version."""
    return (
        f"The drive holding {rel} is full, so {not_done}: {rel} is as it was. Tell the "
        "person: free some space on that drive (or move the workspace to one with room), "
        "then ask again."
    )


def _history_unsaved(folder: Path, root: Path, rel: str, exc: OSError) -> WorkspaceError:
    """The undo history of ``rel`` could not be written in ``folder`` (it is written before
    the document, so nothing was done), and why. A full drive is named as the document's
    when the history is on it (beside the workspace ``root``, the default), else as the
    history's own: told the document's drive was full, the person freed space where there
    was plenty, and the edit failed again."""
    if exc.errno not in _FULL:
        return WorkspaceError(
            f"Could not save undo history in {folder}: {exc.strerror or exc}. Nothing was changed."
        )
    if _same_drive(folder, root):
        return WorkspaceError(drive_full(rel, "nothing was changed"))
    return WorkspaceError(
        f"The drive holding the undo history ({folder}) is full, so nothing was changed: "
        f"{rel} is as it was. Tell the person: free some space on that drive, then ask "
        "again."
    )


def _same_drive(path: Path, other: Path) -> bool:
    """Whether ``path`` (or the nearest folder of it that exists) is on ``other``'s drive."""
    for place in (path, *path.parents):
        try:
            return os.stat(place).st_dev == os.stat(other).st_dev
        except FileNotFoundError:
            continue
        except OSError:
            break
    return True  # unknown: the drive most often filled, the workspace's own


def history_beside(root: Path) -> Path:
    """The undo history's own place: a hidden folder beside the workspace."""
    return root.parent / f".{root.name or 'root'}.voicedesk-history"


def default_history_dir(root: Path) -> Path:
    """Where ``root``'s undo history goes unless told: a hidden folder beside it, so it
    moves with the workspace; else, where that cannot be written (a workspace at the top of
    a drive, /media/me/USB, whose folder above belongs to root), a folder of its own in the
    person's data folder. Beside it was the only place, and every edit in such a workspace
    was refused for want of somewhere to keep the history."""
    beside = history_beside(root)
    if can_write_in(beside if beside.is_dir() else root.parent):
        return beside
    from voicedesk.config import data_dir

    tag = hashlib.sha256(os.fsencode(root)).hexdigest()[:12]
    return data_dir() / "history" / f"{root.name or 'root'}-{tag}"


def _folds_case(root: Path) -> bool:
    """Whether the disk ``root`` is on takes a name in other capitals for the same file: the
    nearest folder of ``root`` with letters in its name, found under its name with their
    case swapped. True when there is none to tell by: listing costs little."""
    for folder in (root, *root.parents):
        swapped = folder.name.swapcase()
        if swapped != folder.name:
            other = folder.with_name(swapped)
            try:
                return os.path.lexists(other) and os.path.samefile(folder, other)
            except OSError:
                return False
    return True


def can_write_in(folder: Path) -> bool:
    """Whether a file can be made in ``folder`` (tried, not read from its mode: a read-only
    mount and an access list say no where the mode says yes)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


class Workspace:
    """One workspace root: path checks, reads with fingerprints, atomic writes, undo/redo."""

    def __init__(
        self,
        root: Path,
        history_dir: Path | None = None,
        *,
        max_versions: int = MAX_VERSIONS,
        max_history_bytes: int = MAX_HISTORY_BYTES,
    ) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise WorkspaceError(f"Workspace folder not found: {root}")
        self.root = Path(os.path.realpath(root))
        if history_dir is None:
            history_dir = default_history_dir(self.root)
        self.history_root = Path(os.path.realpath(Path(history_dir).expanduser()))
        self.max_versions = max(2, max_versions)
        self.max_history_bytes = max_history_bytes
        self._seen: dict[str, Fingerprint] = {}
        # Whether the disk takes "notes.md" for Notes.md (macOS and Windows do).
        self.folds_case = _folds_case(self.root)

    # ----------------------------------------------------------------- paths

    def check_root(self) -> None:
        """Raise WorkspaceError if the workspace folder is not there any more. Gone (deleted,
        moved, its drive unplugged), it was listed as "no documents in the workspace", and a
        new document made the folder again and was written there."""
        if not self.root.is_dir():
            raise WorkspaceError(
                f"The workspace folder {self.root} is not there (deleted, moved, or on a "
                f"drive that is not connected), so I cannot use any document. Tell the "
                f"person; once the folder is back, ask again."
            )

    def resolve(self, name: str, *, must_exist: bool = True) -> Path:
        """Return the real path for ``name`` inside the workspace or raise WorkspaceError."""
        self.check_root()
        name = self._relative_if_inside(name)
        rel = clean_relative_name(name)
        candidate = self._on_disk(rel, clean_relative_name(name, nfc=False))
        real = Path(os.path.realpath(candidate))
        if not real.is_relative_to(self.root):
            raise WorkspaceError(
                f"The path {name!r} leads outside the workspace through a symbolic link, "
                f"which is not allowed. {ALLOWED}"
            )
        if real == self.root:
            raise WorkspaceError(f"The path {name!r} names the workspace folder itself. {ALLOWED}")
        if self._in_history(real):
            raise WorkspaceError(
                f"The path {name!r} is inside the undo-history folder, which is not a document."
            )
        if real.is_dir():
            raise WorkspaceError(f"{rel} is a folder, not a document.")
        if real.exists() and not real.is_file():
            raise WorkspaceError(
                f"{rel} is not a regular file (a pipe, socket or device), so it is not a "
                f"document I can read or write."
            )
        if must_exist and not real.exists():
            near = self._near_name(rel)
            if near is not None:
                raise WorkspaceError(
                    f"There is no document called {rel} in the workspace; did you mean "
                    f"{near}? Call the tool again with that name if so."
                )
            raise WorkspaceError(
                f"There is no document called {rel} in the workspace. Use list_documents or "
                f"find_documents to see the names."
            )
        return real

    def _relative_if_inside(self, name: str) -> str:
        """A full path (or one from the home folder) to somewhere in the workspace, as the
        name it has there; anything else as given, for :func:`clean_relative_name` to
        check. A path typed or dropped into the conversation comes whole, and was refused
        as "only paths inside the workspace are allowed" though it was inside."""
        return self.name_inside(name) or name

    def name_inside(self, name: str) -> str | None:
        """``name``, a full path (or one from the home folder), as the name it has in the
        workspace ("" for the workspace itself), or None when it is no path into the
        workspace. Its folder is resolved as the workspace's own path is (symbolic links,
        ".."); its last part is not, so a link there is checked as any other."""
        if not isinstance(name, str) or not name.strip().startswith(("/", "~")):
            return None
        try:
            path = Path(name.strip()).expanduser()
        except RuntimeError:  # "~notes.md" as the home of a user "notes.md", who is none
            return None
        if not path.is_absolute() or "\x00" in name:
            return None  # "~$draft.docx" is an ordinary name; NUL is clean_relative_name's
        try:
            if Path(os.path.realpath(path)) == self.root:
                return ""
            rel = (Path(os.path.realpath(path.parent)) / path.name).relative_to(self.root)
        except (ValueError, OSError):
            return None
        return rel.as_posix() if rel.parts else ""

    def _near_name(self, rel: str) -> str | None:
        """The one document whose name differs from ``rel`` only in case or by a slip in a
        part ("Notes.MD", "meting notes.md"), or None. A voice request rarely spells a name
        as the file does, and the model then listed the whole workspace to find it: one more
        round trip, and a long result, before the person heard anything."""
        import difflib

        folder = self.root
        for part in PurePosixPath(rel).parts:
            try:
                entries = [e for e in os.listdir(folder) if not e.startswith(".")]
            except OSError:
                return None
            by_case = {unicodedata.normalize("NFC", e).casefold(): e for e in entries}
            found = by_case.get(part.casefold())
            if found is None:
                close = difflib.get_close_matches(part.casefold(), list(by_case), n=2, cutoff=0.85)
                if len(close) != 1:
                    return None
                found = by_case[close[0]]
            folder = folder / found
        if folder.suffix.casefold() != PurePosixPath(rel).suffix.casefold():
            return None  # another kind of file: not what was asked for
        real = Path(os.path.realpath(folder))
        if not real.is_file() or not real.is_relative_to(self.root) or self._in_history(real):
            return None
        return self.rel(folder)

    def _on_disk(self, rel: str, as_given: str) -> Path:
        """The path a checked name means: as given if that exists, else each part matched to
        an existing entry whose NFC form is the same (else the name as it would be created)."""
        exact = self.root / as_given
        if os.path.lexists(exact):
            return self._as_listed(as_given) if self.folds_case else exact
        if self.folds_case:
            # a new name too: "plans/new.md" is made in Plans, and must be called so
            return self._as_listed(rel)
        folder = self.root
        for part in PurePosixPath(rel).parts:
            here = folder / part
            if not os.path.lexists(here):
                try:
                    same = sorted(
                        e for e in os.listdir(folder) if unicodedata.normalize("NFC", e) == part
                    )
                except OSError:
                    same = []
                if same:
                    here = folder / same[0]
            folder = here
        return folder

    def _as_listed(self, name: str) -> Path:
        """``name``, on a disk that ignores case, spelt as its folders list it (the parts
        that do not exist yet as given).

        There "notes.md" opens Notes.md, and the path keeps the spelling asked for: read as
        one and edited as the other, the edit by number was refused as unread, the undo
        steps went to two histories, and a create named a notes.md the person
        does not have."""
        folder = self.root
        for part in PurePosixPath(name).parts:
            here = folder / part
            try:
                entries = os.listdir(folder)
            except OSError:
                entries = []
            if part not in entries:
                folded = unicodedata.normalize("NFC", part).casefold()
                same = sorted(
                    e for e in entries if unicodedata.normalize("NFC", e).casefold() == folded
                )
                if same:
                    here = folder / same[0]
            folder = here
        return folder

    def rel(self, path: Path) -> str:
        """The workspace-relative name of a resolved path, with ``/`` separators."""
        return Path(path).relative_to(self.root).as_posix()

    def _in_history(self, real: Path) -> bool:
        return real == self.history_root or real.is_relative_to(self.history_root)

    def iter_files(self, suffixes: set[str]) -> Iterator[Path]:
        """Every document below the root, skipping hidden names and links leading outside.

        Only a link is resolved to see where it leads: below the (real) root, a file or
        folder that is none is where its name says. Resolving each one looked at every
        folder of its path again: a listing of 5,000 documents took 0.35 s, now 0.21 s.
        """
        self.check_root()
        yield from self._files_in(self.root, suffixes)

    def _files_in(self, folder: Path, suffixes: set[str]) -> Iterator[Path]:
        """The documents in ``folder`` (real, inside the root), then in its folders: in the
        order a person counts ("note 2" before "note 10", "apple" before "Zebra")."""
        try:
            with os.scandir(folder) as it:
                entries = [e for e in it if not e.name.startswith(".")]
        except OSError:
            return  # a folder that cannot be read holds nothing to open, as os.walk had it
        files, dirs = [], []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):  # a link to a folder is not followed
                    if not self._in_history(Path(entry.path)):
                        dirs.append(entry)
                elif Path(entry.name).suffix.lower() in suffixes:
                    files.append(entry)
            except OSError:
                continue
        for entry in natsorted(files, key=lambda e: e.name, alg=ns.PATH | ns.IGNORECASE):
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    real = Path(os.path.realpath(path))
                    if not (real.is_relative_to(self.root) and real.is_file()):
                        continue
                elif not entry.is_file(follow_symlinks=False):  # a pipe, socket or device
                    continue
            except OSError:
                continue
            yield path
        for entry in natsorted(dirs, key=lambda e: e.name, alg=ns.IGNORECASE):
            yield from self._files_in(Path(entry.path), suffixes)

    # ----------------------------------------------------------------- reads

    def read(
        self, path: Path, *, remember: bool = True, check_fresh: bool = False, doing: str = "edit"
    ) -> bytes:
        """Read a document; remember its fingerprint so later edits can detect outside changes.

        With ``check_fresh`` the bytes are compared with the last remembered read first, and a
        document another program changed since then raises StaleDocumentError, worded for
        ``doing`` ("edit", "undo" or "redo").
        """
        rel = self.rel(path)
        try:
            data = path.read_bytes()
            st = path.stat()
        except FileNotFoundError:
            self._seen.pop(rel, None)
            raise WorkspaceError(f"There is no document called {rel} in the workspace.") from None
        fp = Fingerprint(st.st_mtime_ns, st.st_size, sha256(data))
        if check_fresh:
            known = self._seen.get(rel)
            if known is not None and known.sha256 != fp.sha256:
                raise _stale(rel, st.st_mtime_ns, "since I last read it", doing)
        if remember:
            self._seen[rel] = fp
        return data

    def remember_absent(self, path: Path) -> None:
        self._seen.pop(self.rel(path), None)

    def fingerprint(self, path: Path) -> Fingerprint | None:
        return self._seen.get(self.rel(path))

    # ----------------------------------------------------------------- writes

    def write(self, path: Path, data: bytes, *, before: bytes | None) -> None:
        """Atomically replace ``path`` with ``data``, recording ``before`` → ``data`` for undo.

        ``before`` is the content the edit was based on (None when the file is new). The
        history is written first, so a failed history write leaves the document untouched;
        if the file no longer holds ``before`` when it is about to be replaced (another
        program saved it meanwhile), nothing is written and the history is put back.
        """
        rel = self.rel(path)
        self.check_writable(path)
        self.check_unchanged(path, before)
        previous = self._load(rel)
        hist = self._record(rel, before, data, mode=_copy_mode(path))
        try:
            _put(path, data, before, check=lambda _tmp: self._check_replaceable(path, before))
        except BaseException as exc:
            with contextlib.suppress(WorkspaceError):
                self._save(previous)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise WorkspaceError(drive_full(rel, _NOT_DONE["edit"][0])) from None
            raise
        self._settled(hist)
        self._remember_written(path, data)

    def check_writable(self, path: Path, doing: str = "edit") -> None:
        """Raise ReadOnlyDocumentError if the document's permissions forbid changing it.

        The atomic write renames a new file over the old one, which needs only the folder's
        permission, so without this a read-only file would be replaced. Read-only means
        either no write bit at all (``chmod a-w``, a file manager's or Windows' read-only
        mark), which holds even for root, who may write anything but should respect the
        person's mark; or that ``os.access`` says this user may not write it (another
        user's file in a folder we can write). A document that does not exist is not
        protected by anything: creating it is up to the folder.
        """
        try:
            st = path.stat()
        except FileNotFoundError:
            return
        marked = not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        if not marked and os.access(path, os.W_OK, effective_ids=_EFFECTIVE_IDS):
            return
        if on_read_only_drive(path):  # no chmod helps there
            raise ReadOnlyDocumentError(read_only_drive(_NOT_DONE[doing][0]))
        rel = self.rel(path)
        why = "It is marked read-only" if marked else "Its permissions do not let me write it"
        raise ReadOnlyDocumentError(
            f"{rel} is read-only, so {_NOT_DONE[doing][0]}. {why}. Tell the person: to "
            f"change it, make it writable (chmod u+w "
            f"{shlex.quote(rel)} in the workspace folder, or untick Read-only in its properties "
            f"on Windows) and ask again, or save a copy under another name with "
            f"create_document."
        )

    def _check_replaceable(self, path: Path, expected: bytes | None, doing: str = "edit") -> None:
        """The last check before the rename: the person may have protected or changed the
        document while the new version was being written."""
        self.check_writable(path, doing)
        self.check_unchanged(path, expected, doing)

    def check_unchanged(self, path: Path, expected: bytes | None, doing: str = "edit") -> None:
        """Raise StaleDocumentError unless ``path`` holds ``expected`` (None: does not exist)."""
        rel = self.rel(path)
        try:
            st = path.stat()
        except FileNotFoundError:
            if expected is None:
                return
            raise StaleDocumentError(
                f"{rel} was deleted or renamed by another program meanwhile, so "
                f"{_NOT_DONE[doing][0]}. Use list_documents to see what is there now."
            ) from None
        if expected is not None and st.st_size == len(expected) and path.read_bytes() == expected:
            return
        raise _stale(rel, st.st_mtime_ns, "while I was working on it", doing)

    def _remember_written(self, path: Path, data: bytes) -> None:
        st = path.stat()
        self._seen[self.rel(path)] = Fingerprint(st.st_mtime_ns, st.st_size, sha256(data))

    # ----------------------------------------------------------------- history

    def _history_dir(self, rel: str) -> Path:
        return self.history_root / hashlib.sha256(rel.encode("utf-8")).hexdigest()[:24]

    def _load(self, rel: str) -> _History:
        index = self._history_dir(rel) / "index.json"
        try:
            raw = json.loads(index.read_text(encoding="utf-8"))
            versions = [
                _Version(v["sha"], float(v["time"]), int(v.get("size", 0))) for v in raw["versions"]
            ]
            cursor = int(raw["cursor"])
            if raw.get("path") == rel and versions and 0 <= cursor < len(versions):
                if isinstance(raw.get("pending"), dict):
                    versions, cursor = self._settle(rel, versions, cursor, raw["pending"])
                return _History(rel, versions, cursor)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged index means no usable history; start again rather than fail edits
        return _History(rel, [], 0)

    def _settle(
        self, rel: str, versions: list[_Version], cursor: int, pending: dict
    ) -> tuple[list[_Version], int]:
        """The history as it was before a change the process died in: saved with the change's
        new version ``pending``, the document was never written (or restored), so the version
        it was about to become is dropped (an edit) or the cursor put back (undo, redo).
        Otherwise undo after the crash put in the edit that never happened."""
        try:
            data: bytes | None = (self.root / rel).read_bytes()
        except FileNotFoundError:
            data = None
        except OSError:
            return versions, cursor
        try:
            if (sha256(data) if data is not None else None) == pending["sha"]:
                return versions, cursor  # written: only the last save was lost
            keep, back = int(pending["keep"]), int(pending["cursor"])
        except (KeyError, TypeError, ValueError):
            return versions, cursor
        if 0 <= back < keep <= len(versions):
            return versions[:keep], back
        return versions, cursor

    def _settled(self, hist: _History) -> None:
        """The document holds ``hist``'s current version: save it without its pending mark
        (if that fails, the mark is settled against the document on the next load)."""
        with contextlib.suppress(WorkspaceError):
            self._save(hist, prune=False)
        self._prune(hist)

    def _save(
        self,
        hist: _History,
        *,
        prune: bool = True,
        pending: tuple[int, int] | None = None,
        mode: int | None = None,
    ) -> None:
        """``pending`` (versions to keep, cursor): the document is about to become the
        current version, and if it never does, the history goes back to these. ``mode``:
        the document's own (:func:`_copy_mode`); None keeps the index's."""
        folder = self._history_dir(hist.path)
        payload: dict = {
            "path": hist.path,
            "cursor": hist.cursor,
            "versions": [{"sha": v.sha, "time": v.time, "size": v.size} for v in hist.versions],
        }
        if pending is not None:
            payload["pending"] = {
                "sha": hist.versions[hist.cursor].sha,
                "keep": pending[0],
                "cursor": pending[1],
            }
        try:
            index = json.dumps(payload, indent=1).encode("utf-8")
            atomic_write(folder / "index.json", index, mode=mode)
        except OSError as exc:
            raise _history_unsaved(folder, self.root, hist.path, exc) from None
        if prune:
            self._prune(hist)

    def _prune(self, hist: _History) -> None:
        """Delete the blobs no version refers to any more."""
        live = {v.sha for v in hist.versions if v.sha}
        blobs = self._history_dir(hist.path) / "blobs"
        if blobs.is_dir():
            for blob in blobs.iterdir():
                if blob.name not in live:
                    with contextlib.suppress(OSError):
                        blob.unlink()

    def _store_blob(self, rel: str, data: bytes | None, mode: int | None) -> _Version:
        """Keep ``data`` as a version of ``rel``; ``mode``: the document's own
        (:func:`_copy_mode`)."""
        if data is None:
            return _Version(None, time.time())
        digest = sha256(data)
        blob = self._history_dir(rel) / "blobs" / digest
        if not blob.exists():
            try:
                atomic_write(blob, data, mode=mode)
            except OSError as exc:
                raise _history_unsaved(blob.parent, self.root, rel, exc) from None
        return _Version(digest, time.time(), len(data))

    def _blob(self, rel: str, version: _Version) -> bytes | None:
        if version.sha is None:
            return None
        blob = self._history_dir(rel) / "blobs" / version.sha
        try:
            data = blob.read_bytes()
        except OSError:
            raise WorkspaceError(f"The saved history of {rel} is missing a version.") from None
        if sha256(data) != version.sha:
            raise WorkspaceError(f"The saved history of {rel} is damaged (a version changed).")
        return data

    def _record(
        self, rel: str, before: bytes | None, after: bytes, *, mode: int | None
    ) -> _History:
        hist = self._load(rel)
        before_sha = sha256(before) if before is not None else None
        if not hist.versions:
            hist.versions = [self._store_blob(rel, before, mode)]
            hist.cursor = 0
        else:
            hist.versions = hist.versions[: hist.cursor + 1]  # a new edit drops the redo branch
            if hist.versions[-1].sha != before_sha:
                # Changed outside the server since our last version: keep that state too, so
                # undo goes back to exactly what was on disk before this edit.
                hist.versions.append(self._store_blob(rel, before, mode))
        hist.versions.append(self._store_blob(rel, after, mode))
        # Oldest first, down to the last two (this edit's before and after), until both the
        # count and the bytes (each distinct blob once) fit.
        while len(hist.versions) > 2 and (
            len(hist.versions) > self.max_versions
            or sum({v.sha: v.size for v in hist.versions}.values()) > self.max_history_bytes
        ):
            hist.versions.pop(0)
        hist.cursor = len(hist.versions) - 1
        # blobs go once the document is written
        self._save(hist, prune=False, pending=(hist.cursor, hist.cursor - 1), mode=mode)
        return hist

    def _current(self, path: Path, *, check_fresh: bool, doing: str = "edit") -> bytes | None:
        if not path.exists():
            return None
        return self.read(path, remember=False, check_fresh=check_fresh, doing=doing)

    def _restore(
        self,
        path: Path,
        data: bytes | None,
        *,
        current: bytes | None,
        previous: _History,
        doing: str,
    ) -> None:
        """Put ``data`` back, unless the file stopped holding ``current``; then the history
        goes back to ``previous`` too (which is why the caller prunes blobs only after this:
        ``previous`` may still need the versions the new history dropped)."""

        def check(_tmp: Path | None = None) -> None:
            self._check_replaceable(path, current, doing)

        try:
            if data is None:
                check()
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                fsync_dir(path.parent)
            else:
                _put(path, data, current, check=check)
        except BaseException as exc:
            with contextlib.suppress(WorkspaceError):
                self._save(previous)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise WorkspaceError(drive_full(self.rel(path), _NOT_DONE[doing][0])) from None
            raise
        if data is None:
            self.remember_absent(path)
        else:
            self._remember_written(path, data)

    def history_steps(self, path: Path) -> tuple[int, int]:
        """(undo steps, redo steps) available for ``path``."""
        hist = self._load(self.rel(path))
        if not hist.versions:
            return 0, 0
        current = self._current(path, check_fresh=False)
        cur_sha = sha256(current) if current is not None else None
        if hist.versions[hist.cursor].sha != cur_sha:
            return hist.cursor + 1, 0
        return hist.cursor, len(hist.versions) - 1 - hist.cursor

    def undo(self, path: Path) -> Step:
        """Restore the version before the current one; return (before, after) contents."""
        rel = self.rel(path)
        current = self._current(path, check_fresh=True, doing="undo")
        previous = self._load(rel)
        hist = self._load(rel)
        if not hist.versions:
            raise WorkspaceError(f"There is nothing to undo in {rel}: I have not changed it.")
        self.check_writable(path, "undo")  # before the history changes
        cur_sha = sha256(current) if current is not None else None
        outside = hist.versions[hist.cursor].sha != cur_sha
        if outside:
            # Changed outside since our last version. Undo then first goes back to that
            # version, dropping the other change, so only once the assistant has read the
            # document as it is now: the check against the last read has nothing to go on
            # in a new session, and undo took the person's own typing away.
            known = self._seen.get(rel)
            if current is not None and (known is None or known.sha256 != cur_sha):
                raise _stale(rel, path.stat().st_mtime_ns, "since my last change to it", "undo")
            mode = _copy_mode(path)
            hist.versions = [
                *hist.versions[: hist.cursor + 1],
                self._store_blob(rel, current, mode),
            ]
            hist.cursor = len(hist.versions) - 1
        if hist.cursor == 0:
            raise WorkspaceError(f"There is nothing left to undo in {rel}.")
        target = hist.versions[hist.cursor - 1]
        data = self._blob(rel, target)
        hist.cursor -= 1
        # blobs go once the document is restored
        self._save(hist, prune=False, pending=(len(hist.versions), hist.cursor + 1))
        self._restore(path, data, current=current, previous=previous, doing="undo")
        self._settled(hist)
        return Step(current, data, outside)

    def redo(self, path: Path) -> Step:
        """Re-apply the change the last undo took back; return (before, after) contents."""
        rel = self.rel(path)
        current = self._current(path, check_fresh=True, doing="redo")
        previous = self._load(rel)
        hist = self._load(rel)
        if not hist.versions or hist.cursor >= len(hist.versions) - 1:
            raise WorkspaceError(f"There is nothing to redo in {rel}.")
        cur_sha = sha256(current) if current is not None else None
        if hist.versions[hist.cursor].sha != cur_sha:
            raise WorkspaceError(
                f"There is nothing to redo in {rel}: it has changed since the last undo."
            )
        self.check_writable(path, "redo")  # before the history changes
        target = hist.versions[hist.cursor + 1]
        data = self._blob(rel, target)
        hist.cursor += 1
        # blobs go once the document is restored
        self._save(hist, prune=False, pending=(len(hist.versions), hist.cursor - 1))
        self._restore(path, data, current=current, previous=previous, doing="redo")
        self._settled(hist)
        return Step(current, data)

    def version(self, path: Path, steps_back: int) -> bytes | None:
        """The content ``steps_back`` edits before the current one (None: did not exist)."""
        rel = self.rel(path)
        if steps_back < 1:
            raise WorkspaceError("version counts edits back from now, so it must be 1 or more.")
        hist = self._load(rel)
        current = self._current(path, check_fresh=False)
        cur_sha = sha256(current) if current is not None else None
        older = hist.versions[: hist.cursor + 1]
        if older and older[-1].sha == cur_sha:
            older = older[:-1]
        if not older:
            raise WorkspaceError(f"There is no earlier version of {rel} to compare with.")
        if steps_back > len(older):
            raise WorkspaceError(
                f"{rel} has only {len(older)} earlier version{'s' if len(older) != 1 else ''}; "
                f"version {steps_back} does not exist."
            )
        return self._blob(rel, older[-steps_back])


def _put(
    path: Path, data: bytes, old: bytes | None, *, check: Callable[[Path | None], None]
) -> None:
    """Make ``path`` hold ``data`` (it held ``old``), ``check`` last thing before.

    By rename (:func:`atomic_write`): a crash leaves the old file or the new one. But a
    document with other hard links is one file under several names, and a rename gives this
    name a new file while the others keep the old text: an edit by voice was not in the
    copy the person opened by its other name. Such a document is written in place, keeping
    the file itself (and so every name, its mode, owner, access lists and attributes). The
    undo history holds both versions on disk first (:meth:`Workspace._record`, the
    restores' own), so a crash halfway through loses nothing: one undo puts the document
    back whole. Room for the new text is taken before a byte changes (``posix_fallocate``),
    so a full drive leaves it as it was; a write that fails halfway puts ``old`` back.
    """
    try:
        links = path.stat().st_nlink
    except FileNotFoundError:
        links = 1
    if links < 2:
        atomic_write(path, data, check=check)
        return
    check(None)
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        if hasattr(os, "posix_fallocate") and data:
            try:
                os.posix_fallocate(fd, 0, len(data))  # may grow the file: cut back on failure
            except OSError as exc:
                # a file system that cannot reserve room (EOPNOTSUPP, EINVAL) just writes
                if exc.errno in _FULL:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, len(old or b""))
                    raise
        try:
            _write_at_start(fd, data)
        except OSError:
            if old is not None:
                with contextlib.suppress(OSError):
                    _write_at_start(fd, old)
            raise
    finally:
        os.close(fd)


def _write_at_start(fd: int, data: bytes) -> None:
    """The file open as ``fd`` holds ``data`` from its start, and nothing after, on disk."""
    os.lseek(fd, 0, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def _copy_mode(document: Path) -> int | None:
    """The permissions for the history's copies of ``document``: its own, so a copy is
    never readable by more people than the document (a 0600 diary's versions were kept
    0644, readable by every local user, under the usual umask); with read and write for
    the owner, who keeps the history. None for a document not made yet: its versions get
    what the umask gives, as it will."""
    try:
        return stat.S_IMODE(document.stat().st_mode) & 0o666 | 0o600
    except OSError:
        return None


def _stale(rel: str, mtime_ns: int, since: str, doing: str) -> StaleDocumentError:
    when = time.strftime("%H:%M:%S", time.localtime(mtime_ns / 1e9))
    not_done, instead = _NOT_DONE[doing]
    return StaleDocumentError(
        f"{rel} was changed by another program (at {when}) {since}, so {not_done}. {instead}"
    )
