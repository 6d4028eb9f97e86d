"""The tools of the built-in MCP documents server ("docs"): :class:`DocsTools`.

They let the assistant find, read, search, create, edit, compare and undo changes to the
documents in one workspace folder (Markdown, plain text, Word; PDF read-only). Everything they
return is plain text whose first line is short enough to be read aloud as the answer, with
details on the following lines for the model. Expected failures raise :class:`FormatError` or
:class:`WorkspaceError` (or an ``OSError``), which :mod:`voicedesk.tools.docs_mcp` (the server
itself, over stdio) turns into ``ToolError``, so the client gets ``isError`` with a message
saying what went wrong and what to do instead. Paragraph diffs are
:mod:`voicedesk.tools.docs_diff`'s.

Two rules protect the person's files beyond the path checks in
:mod:`voicedesk.tools.workspace`: a destructive edit (deleting a paragraph or a section,
overwriting a document) does nothing until it is repeated with ``confirmed=true`` after the
person said yes out loud, and an edit based on a read older than the file on disk is refused.
A third: a read-only file is left alone by every tool that would change it, before any question.
Every write is undoable, byte for byte. What a Word edit removes that its words do not show
(the links, comments, footnotes and endnotes, pictures, fields and bookmarks of removed
paragraphs) is named in the question and in the result, never dropped silently.

Documents bigger than a few megabytes are refused with a message saying so (``--max-size``):
an 80 MB text file took seconds per call and over a gigabyte of memory, and each edit of it
kept another copy in the undo history. Results longer than ``MAX_RESULT_CHARS`` are cut, with
a hint on how to ask for the rest.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import fnmatch
import os
import re
import textwrap
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from pydantic import BeforeValidator, StrictBool

from voicedesk.tools import formats
from voicedesk.tools.docs_diff import describe_changes, diff_opcodes, unified_diff
from voicedesk.tools.docs_edits import (
    ACTIONS,
    MAX_HEADING_CHARS,
    Action,
    Edit,
    paragraph_index,
    words_in,
)
from voicedesk.tools.docs_matching import AROUND_WORDS, joined_pattern, name_stems, name_words
from voicedesk.tools.formats import Block, Document, FormatError
from voicedesk.tools.formats.docx_read import unpacked_sizes
from voicedesk.tools.wording import plural, quote
from voicedesk.tools.workspace import (
    Step,
    Workspace,
    WorkspaceError,
    clean_relative_name,
    sha256,
)

MAX_RESULT_CHARS = 12_000  # keeps one tool result from swamping the model's context
MAX_LIST = 200
MAX_SEARCH_HITS = 25
MAX_DIFF_LINES = 300
# Search stops reading documents it has not read before once this is spent (a 36-page PDF
# takes a second): a folder of them took longer than the call is given (30 s).
SEARCH_BUDGET_S = 20.0
# The answer of the language model the call being run is part of (the MCP request's
# ``_meta`` ANSWER_META), when the client says; "" otherwise.
ANSWER: contextvars.ContextVar[str] = contextvars.ContextVar("answer", default="")
# The person's turn that answer is for (``_meta`` TURN_META), when the client says; 0
# otherwise.
TURN: contextvars.ContextVar[int] = contextvars.ContextVar("turn", default=0)
OPENED_KEPT = 4  # documents whose last parse _open keeps (each holds its whole text)...
# ...while their files come to at most this many bytes (the last one opened is kept however
# big): a parse holds about four times its file's size in text, and a Word file its bytes.
OPENED_KEPT_BYTES = 8_000_000
DEFAULT_MAX_MB = 5.0  # largest .md/.txt opened; Word and PDF files may be bigger:
CONTAINER_FACTOR = 5  # their pictures and zip packaging take most of the bytes
# A .docx may unpack to its limit in XML (the text with its markup), and to this many times
# its limit in all (pictures barely compress).
UNPACKED_FACTOR = 2
STYLES_BYTES = 2 * 1024 * 1024  # what any .docx unpacks to besides its text: 0.8 MB, blank

INSTRUCTIONS = """\
Documents in the person's workspace folder (Markdown, plain text, Word .docx; PDF read-only).
Paths are relative to the workspace, like 'notes/plan.md'. Paragraph numbers start at 1 and
count every block, headings included, as shown by read_document and outline; each row of a Word
table is one block shown as '| cell | cell |', readable and searchable but read-only. Read a
document before editing it by number. Deleting and overwriting need the person's confirmation,
spoken or typed: the first call only describes the change; call again with confirmed=true after
they agree.
Every change can be undone with undo. The first line of each result is a short sentence you
can say aloud.
"""


def _not_a_bool(value: Any) -> Any:
    """JSON true is no paragraph number: pydantic's lax mode took it for 1, so a call with
    paragraph=true deleted paragraph 1. Numbers written as text ("2") are still taken."""
    if isinstance(value, bool):
        raise ValueError("a whole number, not true or false")
    return value


# The tools' argument types, checked as their schemas say (the SDK validates with pydantic,
# whose lax mode also took "yes" for confirmed=true: the person's yes must be a real true).
Number = Annotated[int | None, BeforeValidator(_not_a_bool)]
Flag = StrictBool


# The edits that name a paragraph by its number (insert_paragraph only with paragraph=N).
NUMBERED_ACTIONS = ("replace_paragraph", "insert_paragraph", "delete_paragraph")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def _name_matches(name: str, pattern: str) -> bool:
    """Whether list_documents' ``pattern`` picks the document at ``name`` (relative).

    A glob matches the whole path, or the file name when it names no folder; '**/' may
    stand for no folder at all, as in a shell's globstar, so '**/*.md' finds top-level
    files too. The pattern as plain text matches any part of the path as well, so a name
    with brackets, 'report [draft].md', is found by itself (as a glob it is a character
    class)."""
    name, pattern = name.casefold(), pattern.casefold()
    if pattern in name:
        return True
    if not any(c in pattern for c in "*?["):
        return False
    globs = {pattern, pattern.replace("**/", "")}
    base = name.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(name, g) or ("/" not in g and fnmatch.fnmatchcase(base, g))
        for g in globs
    )


@dataclass
class _AnswerChanges:
    """What the calls of one answer of the language model have done to one document."""

    answer: str  # the answer's id (ANSWER)
    before: list[str]  # the paragraphs (rendered) before its first change: its numbers
    moved: int | None = None  # the first paragraph number its changes moved, if any


class DocsTools:
    """The tool implementations, independent of MCP so they can be called directly too."""

    def __init__(
        self,
        workspace: Workspace,
        max_mb: float = DEFAULT_MAX_MB,
        *,
        search_budget_s: float = SEARCH_BUDGET_S,
    ) -> None:
        self.ws = workspace
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.search_budget_s = search_budget_s
        # The last parse of each document searched (or why it failed), by its _version.
        self._parsed: dict[Path, tuple[tuple[int, ...], Document | FormatError]] = {}
        # Each searched parse's paragraphs as search compares them (one line, NFC, folded),
        # by the parse they were made from: made again at every search, they took 0.4 s of
        # each search of 400 documents (13 MB). Only the folded form: a hit's own text is
        # made again for its snippet, so this holds about one copy of the text, not two.
        self._folded: dict[Path, tuple[Document, list[str]]] = {}
        self.unusable_names: list[str] = []  # found by the last listing (``_documents``)
        # Documents whose paragraph numbers this server has shown (read_document, outline):
        # the ones an edit by number may name. Any edit opened the file, so counting that
        # as a read let numbers from a resumed conversation through after a find_replace.
        self._numbers_shown: set[str] = set()
        # By document: what the calls of the latest answer (ANSWER) that changed it did.
        # The calls of one answer were all written with the numbers the model knew before
        # it, none having seen another's result.
        self._changes: dict[str, _AnswerChanges] = {}
        # the changes a confirmation question was asked about, with the person's turn it was
        # asked in (TURN; 0: not known)
        self._asked: dict[str, int] = {}
        # The last parse of the bytes each document was opened with or written as, by their
        # sha256: "read it, change this, and that" parsed a 2 MB file three times per edit.
        self._opened: dict[Path, tuple[str, Document, int]] = {}  # and the file's size

    # ------------------------------------------------------------------ helpers

    def _open(
        self, name: str, *, remember: bool = True, check_fresh: bool = False
    ) -> tuple[Path, str, bytes, Document]:
        real = self.ws.resolve(name, must_exist=False)
        rel = self.ws.rel(real)
        if not real.exists():
            self._other_extensions(real, rel)
        kind = formats.kind_for(rel)  # an unsupported type says so, even if it does not exist
        if not real.exists():
            self.ws.resolve(name)  # raises the "no document called …" error
        self._check_size(rel, kind, real.stat().st_size)
        data = self.ws.read(real, remember=remember, check_fresh=check_fresh)
        digest = sha256(data)
        hit = self._opened.get(real)
        if hit is not None and hit[0] == digest:
            return real, rel, data, _copied(hit[1])
        self._check_unpacked(rel, kind, data)
        try:
            doc = formats.parse(data, kind)
        except FormatError as exc:
            raise FormatError(f"{rel}: {exc}") from None
        self._remember_parse(real, digest, doc, len(data))
        return real, rel, data, _copied(doc)

    def _remember_parse(self, real: Path, digest: str, doc: Document, size: int) -> None:
        """Keep ``doc``, the parse of ``size`` bytes with sha256 ``digest``, for the next
        _open of ``real``; only the last few documents', and of those only the latest
        while their files come to more than OPENED_KEPT_BYTES: four 4.9 MB Markdown files
        read once held 73 MB."""
        self._opened.pop(real, None)
        self._opened[real] = (digest, doc, size)
        while len(self._opened) > 1 and (
            len(self._opened) > OPENED_KEPT
            or sum(kept[2] for kept in self._opened.values()) > OPENED_KEPT_BYTES
        ):
            del self._opened[next(iter(self._opened))]

    def _other_extensions(self, real: Path, rel: str) -> None:
        """Raise WorkspaceError naming the documents called ``rel`` with a document's
        extension, where it has none, if there are any: "read me the budget" came as
        "budget" for a budget.docx, and the model, told only "budget has no extension",
        listed the whole workspace to look. Nor where its extension is none a document has:
        "the budget doc" came as "budget.doc", and the model, told only that .doc files
        cannot be opened, told the person so. (A name with a document's extension is
        another kind of file than the one asked for: the list is the way there.)"""
        asked = PurePosixPath(rel)
        if asked.suffix.lower() in formats.SUFFIXES:
            return
        # "v1.2 plan" has no extension; "budget.doc" has one, that no document has
        stems = {unicodedata.normalize("NFC", n).casefold() for n in (asked.name, asked.stem)}
        try:
            entries = sorted(os.listdir(real.parent))
        except OSError:
            return
        found = []
        for entry in entries:
            other = PurePosixPath(entry)
            if (
                entry.startswith(".")
                or other.suffix.lower() not in formats.SUFFIXES
                or unicodedata.normalize("NFC", other.stem).casefold() not in stems
            ):
                continue
            with contextlib.suppress(WorkspaceError):
                found.append(self.ws.rel(self.ws.resolve(self.ws.rel(real.parent / entry))))
        if found:
            names = " and ".join([", ".join(found[:-1]), found[-1]] if len(found) > 1 else found)
            raise WorkspaceError(
                f"There is no document called {rel}; there is {names}. Call the tool again "
                f"with that name if it is the one meant."
            )

    def _limit(self, kind: formats.Kind) -> int:
        return self.max_bytes * (CONTAINER_FACTOR if kind in ("docx", "pdf") else 1)

    def _check_size(self, rel: str, kind: formats.Kind, size: int) -> None:
        """Refuse before reading: a huge file costs seconds and memory on every call."""
        limit = self._limit(kind)
        if size > limit:
            raise FormatError(
                f"{rel} is {_size(size)}, more than the {_size(limit)} I open for "
                f"{formats.KIND_NAMES[kind]} documents, so I left it alone. Split it into "
                f"smaller documents, or raise the limit with docs-server --max-size MB "
                f"(tools.docs_server_args in the voicedesk config)."
            )

    def _check_unpacked(self, rel: str, kind: formats.Kind, data: bytes) -> None:
        """Refuse a Word file whose packed parts unpack to far more than its size limit."""
        if kind != "docx":
            return
        xml, total = unpacked_sizes(data)
        limit = self._limit(kind)
        if xml > limit + STYLES_BYTES or total > UNPACKED_FACTOR * limit + STYLES_BYTES:
            raise FormatError(
                f"{rel} unpacks to {_size(total)}, more than I open for Word "
                f"documents, so I left it alone: it may be damaged or built to overload a "
                f"reader. If it is a real document, save it in smaller parts, or raise the "
                f"limit with docs-server --max-size MB (tools.docs_server_args in the "
                f"voicedesk config)."
            )

    def _check_result_size(self, rel: str, kind: formats.Kind, data: bytes, doing: str) -> None:
        """Refuse a write whose result the tools would then refuse to open: the document
        would be left readable and editable by nothing but undo."""
        limit = self._limit(kind)
        if len(data) > limit:
            raise FormatError(
                f"{doing} would make {rel} {_size(len(data))}, more than the {_size(limit)} I "
                f"open for {formats.KIND_NAMES[kind]} documents, so nothing was changed. Split "
                f"the content over several documents, or raise the limit with docs-server "
                f"--max-size MB (tools.docs_server_args in the voicedesk config)."
            )

    def _why_unread(self, path: Path, exc: Exception) -> str:
        """A few words on why search skipped a document; the full reason is read_document's."""
        if isinstance(exc, OSError):
            return str(exc.strerror or "could not be read").lower()
        with contextlib.suppress(OSError):
            if path.stat().st_size > self._limit(formats.kind_for(path.name)):
                return "too large to open"
        return f"not readable as {formats.KIND_NAMES[formats.kind_for(path.name)]}"

    def _is_cached(self, path: Path) -> bool:
        """Whether ``path`` was parsed and has not changed since (searching it is quick)."""
        hit = self._parsed.get(path)
        if hit is None:
            return False
        try:
            st = path.stat()
        except OSError:
            return False
        return hit[0] == _version(st)

    def _parsed_cached(self, path: Path) -> Document:
        """Parse for listing/searching, reusing the last parse while the file is unchanged."""
        st = path.stat()
        key = _version(st)
        hit = self._parsed.get(path)
        if hit is not None and hit[0] == key:
            if isinstance(hit[1], FormatError):
                raise hit[1]  # a damaged file is not read again until it changes
            return hit[1]
        kind = formats.kind_for(path.name)
        try:
            self._check_size(self.ws.rel(path), kind, st.st_size)
            data = path.read_bytes()
            self._check_unpacked(self.ws.rel(path), kind, data)
            doc = formats.parse(data, kind)
        except FormatError as exc:
            self._parsed[path] = (key, exc)
            raise
        # Searching needs only the blocks; don't hold every file's bytes and text in memory.
        doc.original = doc.text = None
        doc.spans = []
        self._parsed[path] = (key, doc)
        return doc

    def _documents(self) -> list[Path]:
        """The documents the tools can open by name. A file whose name they refuse (a space
        at either end, a control or text-direction character) was listed and searched, then
        refused by every tool it was named to, its name printed raw (a line break in it broke
        the list, U+202E showed it reversed); ``unusable_names`` keeps those apart."""
        usable, self.unusable_names = [], []
        for path in self.ws.iter_files(set(formats.SUFFIXES)):
            rel = self.ws.rel(path)
            try:
                usable_as_is = clean_relative_name(rel, nfc=False) == rel
            except WorkspaceError:
                usable_as_is = False
            if usable_as_is:
                usable.append(path)
            else:  # refused, or taken for another name (" lead.md" as "lead.md")
                self.unusable_names.append(rel)
        return usable

    @staticmethod
    def _capped(lines: list[str], rest: Callable[[int], str], beyond: int = 0) -> list[str]:
        """``lines`` cut to MAX_RESULT_CHARS, ending with ``rest(number left out)``; with
        ``beyond``, that many more were left out before (past a count limit), which the
        last line counts too, whether or not the size cut any: the context clipped a long
        result, and the line saying there was more with it."""
        used = 0
        for n, line in enumerate(lines):
            used += len(line) + 1
            if used > MAX_RESULT_CHARS - 300 and n > 1:  # room for the last line
                return [*lines[:n], rest(len(lines) - n + beyond)]
        return [*lines, rest(beyond)] if beyond else lines

    @staticmethod
    def _numbered(
        blocks: list[Block], lo: int, hi: int, from_char: int = 0
    ) -> tuple[list[str], int, int | None]:
        """Lines "[n] text" for blocks[lo:hi], cut at MAX_RESULT_CHARS; returns (lines, end,
        where the last paragraph shown was cut, or None). ``from_char``: the first paragraph
        is shown from that character on, the rest of one too long for one result."""
        lines: list[str] = []
        used = 0
        end = lo
        cut_at: int | None = None
        for i in range(lo, hi):
            text = blocks[i].render()
            skip = from_char if i == lo else 0
            head = f"[{i + 1}] " + (f"(from character {skip}) …" if skip else "")
            line = head + text[skip:]
            if len(line) > MAX_RESULT_CHARS:
                if lines:
                    break  # it starts the next result, where it has the room
                shown = MAX_RESULT_CHARS - len(head)
                cut_at = skip + shown
                line = head + text[skip:cut_at] + f"… ({len(text) - cut_at} more characters)"
            if lines and used + len(line) > MAX_RESULT_CHARS:
                break
            lines.append(line)
            used += len(line) + 1
            end = i + 1
        return lines, end, cut_at

    @staticmethod
    def _section_of(blocks: list[Block], names: dict[int, str], index: int) -> str | None:
        """The name of the section ``index`` is in, one a section= argument can use."""
        for i in range(index, -1, -1):
            if blocks[i].is_heading:
                return names[i]
        return None

    # ------------------------------------------------------------------ finding

    def list_documents(self, pattern: str = "") -> str:
        """List the documents in the workspace.

        pattern: optional filter; a glob like 'notes/*.md' or '*.docx' (a pattern without a
        folder matches in every folder), or any part of the name, like 'budget'. Empty lists
        everything.
        """
        pattern = unicodedata.normalize("NFC", pattern.strip())
        # The full path of the workspace, or of a folder or pattern in it, as documents'
        # names take it: as a pattern it matched nothing, and the folder was said empty.
        inside = self.ws.name_inside(pattern)
        if inside is not None:
            folder = inside and (self.ws.root / inside).is_dir()
            pattern = inside + ("/" if folder and not inside.endswith("/") else "")
        docs = []
        for path in self._documents():
            rel = self.ws.rel(path)
            name = unicodedata.normalize("NFC", rel)  # "café" matches a Mac's "cafe\u0301"
            if pattern and not _name_matches(name, pattern):
                continue
            docs.append((rel, path))
        where = f" matching “{pattern}”" if pattern else " in the workspace"
        unusable = ""
        if self.unusable_names and not pattern:
            shown = ", ".join(ascii(n) for n in self.unusable_names[:3])
            more = len(self.unusable_names) - 3
            unusable = (
                f"\n{plural(len(self.unusable_names), 'more file')} ha"
                f"{'s' if len(self.unusable_names) == 1 else 've'} a name I cannot use (a "
                f"space at either end, or a control character): {shown}"
                f"{f' and {more} more' if more > 0 else ''}. Tell the person: renamed, I can "
                f"open them."
            )
        if not docs:
            return f"There are no documents{where}.{unusable}"
        lines = [f"{plural(len(docs), 'document')}{where}."]
        for rel, path in docs[:MAX_LIST]:
            st = path.stat()
            kind = formats.KIND_NAMES[formats.kind_for(rel)]
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(st.st_mtime))
            big = ", too large to open" if st.st_size > self._limit(formats.kind_for(rel)) else ""
            lines.append(f"- {rel} ({kind}, {_size(st.st_size)}{big}, modified {when})")
        # long names fill a result before MAX_LIST does
        capped = self._capped(
            lines,
            lambda left: f"…and {left} more; narrow it down with a pattern.",
            beyond=max(0, len(docs) - MAX_LIST),
        )
        return "\n".join(capped) + unusable

    def find_documents(self, query: str) -> str:
        """Find documents by name (not content): forgiving of case, accents, word order and small
        slips in words (not in numbers: "invoice 2024" finds no invoice 2023).

        query: words from the name, like 'budget plan' or 'meeting notes march'.
        """
        # Accents folded away as search folds them: "cafe notes", as speech to text writes
        # it, found no "Café notes.md" (too far from "café" for a slip).
        fold = formats.fold_for_search
        said = re.sub(r"[^\w]+", " ", fold(unicodedata.normalize("NFC", query))).split()
        if not said:
            raise FormatError("Say what the document is called: the query is empty.")
        wanted = name_stems(said)
        phrase = " ".join(wanted)
        # The name as said, before stems: "notes" is notes.md before note.md, "plan" is
        # Plan.md before Plan A.md ("a" left out, the stems of both were "plan").
        as_said = (said, name_words(said))
        # A number names one document ("invoice 2024"), not a slip of another: 2023 and
        # 2025 were found as near misses, and "note 2999" found 2,040 numbered notes.
        # Leading zeros pad a number, not change it: "chapter 3" is "Chapter 03.docx".
        numbers = [
            re.compile(rf"(?<!\d)0*{re.escape(w.lstrip('0') or '0')}(?!\d)")
            for w in said
            if w.isdigit()
        ]
        scored: list[tuple[float, str]] = []
        for path in self._documents():
            rel = self.ws.rel(path)
            # NFC: a combining accent is not a word char; folded once (a letter for a letter,
            # so the folded name's stem is the name's stem folded)
            name = fold(unicodedata.normalize("NFC", rel))
            if not all(n.search(name) for n in numbers):  # "report2024" has 2024
                continue
            words = re.sub(r"[^\w]+", " ", Path(name).stem).split()
            stem = " ".join(name_stems(words))
            full = " ".join(name_stems(re.sub(r"[^\w]+", " ", name).split()))
            if words == as_said[0]:
                score = 4.0
            elif words == as_said[1]:
                score = 3.5
            elif stem == phrase:
                score = 3.0
            elif phrase in full:
                score = 2.0
            elif all(w in full for w in wanted):
                score = 1.5
            else:
                ratio = difflib.SequenceMatcher(None, phrase, stem).ratio()
                near = sum(
                    1
                    for w in wanted
                    if difflib.get_close_matches(w, full.split(), n=1, cutoff=0.8) or w in full
                )
                score = max(ratio if ratio >= 0.6 else 0.0, near / len(wanted) if near else 0.0)
                if score < 0.6:
                    continue
            scored.append((score, rel))
        if not scored:
            return f"No document names match “{query}”. Try list_documents, or search for words inside documents."
        scored.sort(key=lambda item: (-item[0], item[1]))
        best = scored[:10]
        if len(best) == 1:
            first = f"Found one document matching “{query}”: {best[0][1]}."
        else:
            first = f"Found {len(scored)} documents matching “{query}”; the best is {best[0][1]}."
        return "\n".join([first, *(f"- {rel}" for _, rel in best)])

    def search(self, query: str) -> str:
        """Search the text of every document for a phrase (or, failing that, all its words).

        Case, accents and the punctuation around the words do not matter ("resume" finds
        "Résumé"), nor hyphens, points or blanks inside them ("follow up email" finds
        "follow-up e-mail"). Returns snippets with the document path and paragraph number, best for
        then calling read_document with start_paragraph.
        """
        query = unicodedata.normalize("NFC", " ".join(query.split()))
        if not query:
            raise FormatError("Say what to search for: the query is empty.")
        # Folded one character for one (lookalikes, accents, then case), so positions stay in
        # step with the text the snippet is cut from; find_replace folds the lookalikes too.
        # a sentence's end is the transcript's, not the document's ("call Zoe?")
        needle = formats.fold_for_search(query.rstrip(".?!,;: ") or query)
        # All the words, failing the phrase: without the punctuation that speech to text
        # and the model put around them ("call Zoe?", "cafe, notes" found nothing). Only
        # around them: "C#", "C++" and "e-mail" are words, and taken apart at their signs
        # "C#" was searched as "c", found in nearly every paragraph.
        words = [w.strip(AROUND_WORDS) or w for w in needle.split()]
        # Failing the phrase, the same letters with other separators: "follow up email" for
        # "follow-up e-mail", "5 pm" for "5 p.m.", "1200" for "$1,200".
        joined = joined_pattern(words)
        # each hit's document, paragraph, its folded text and where in that (its snippet
        # made if it is shown)
        hits: list[tuple[str, list[Block], int, str, int, int]] = []
        skipped: list[str] = []
        # Not read before, and left for the next search once the time was spent; at least
        # one new document is read each search, so searching again always gets further.
        started, read_new = time.monotonic(), 0
        unread: set[Path] = set()
        documents = self._documents()
        for gone in self._folded.keys() - set(documents):  # deleted or renamed since
            del self._folded[gone]
        # Each document's paragraphs as searched (NFC like the query: "café" finds a Mac's
        # "cafe\u0301" too; and folded), made once a search: a miss passes three times.
        ready: dict[Path, tuple[str, list[Block], list[str]] | None] = {}
        # the phrase, then written with other separators, and only then its words anywhere
        for mode in ("phrase", "joined", "words"):
            if (mode == "words" and len(words) < 2) or (mode == "joined" and joined is None):
                continue
            for path in documents:
                if path in unread:
                    continue
                if path not in ready:
                    if not self._is_cached(path):
                        if read_new and time.monotonic() - started > self.search_budget_s:
                            unread.add(path)
                            continue
                        read_new += 1
                    ready[path] = self._searchable(path, skipped)
                entry = ready[path]
                if entry is None:
                    continue
                rel, blocks, texts = entry
                for i, folded in enumerate(texts):
                    length = len(needle)
                    if mode == "phrase":
                        pos = folded.find(needle)
                    elif mode == "words":
                        pos = folded.find(words[0]) if all(w in folded for w in words) else -1
                    else:
                        found = joined.search(folded)  # type: ignore[union-attr]  # set: None skips this mode
                        pos, length = (found.start(), len(found[0])) if found else (-1, 0)
                    if pos < 0:
                        continue
                    hits.append((rel, blocks, i, folded, pos, length))
            if hits:
                break
        note = (
            f"\n(Could not read {', '.join(skipped[:3])}"
            + (f" and {len(skipped) - 3:,} more" if len(skipped) > 3 else "")
            + "; read_document says more.)"
            if skipped
            else ""
        )
        so_far = ""
        if unread:
            read = len(documents) - len(unread)
            so_far = f" the {read} of {len(documents)} documents I have read so far"
            left = len(unread)
            note += (
                f"\n({plural(left, 'document')} {'is' if left == 1 else 'are'} still to be "
                f"read for the first time, which takes long; search again to go on.)"
            )
        if not hits:
            return f"Found no “{query}” in{so_far or ' any document'}.{note}"
        files = len({h[0] for h in hits})
        first = f"Found “{query}” in {plural(len(hits), 'place')} in {plural(files, 'document')}"
        first += f", in{so_far}." if so_far else "."
        lines = [first]
        names: dict[str, dict[int, str]] = {}  # sections are named for the hits shown only
        for rel, blocks, i, folded, pos, length in hits[:MAX_SEARCH_HITS]:
            text = _searched_text(blocks[i])  # what the folded text searched was made from
            start, end = formats.unfolded_span(text, folded, pos, pos + length)
            lo = max(0, start - 70)
            hi = min(len(text), end + 70)
            snippet = ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")
            if rel not in names:
                names[rel] = formats.heading_names(blocks)
            section = self._section_of(blocks, names[rel], i)
            # as outline shows a heading: a pasted paragraph made one was repeated whole
            where = f" (section {quote(section, MAX_HEADING_CHARS)})" if section else ""
            lines.append(f"- {rel}, paragraph {i + 1}{where}: {snippet}")
        capped = self._capped(
            lines,
            lambda left: f"…and {left} more; use a longer phrase.",
            beyond=max(0, len(hits) - MAX_SEARCH_HITS),
        )
        return "\n".join(capped) + note

    def _searchable(
        self, path: Path, skipped: list[str]
    ) -> tuple[str, list[Block], list[str]] | None:
        """``path``'s name, blocks and each block's text as searched (:func:`_searched_text`)
        folded; or None, its reason added to ``skipped``, if it cannot be read."""
        rel = self.ws.rel(path)
        try:
            doc = self._parsed_cached(path)
        except (FormatError, OSError) as exc:
            self._folded.pop(path, None)
            skipped.append(f"{rel} ({self._why_unread(path, exc)})")
            return None
        kept = self._folded.get(path)
        if kept is None or kept[0] is not doc:
            kept = (doc, [formats.fold_for_search(_searched_text(b)) for b in doc.blocks])
            self._folded[path] = kept
        return rel, doc.blocks, kept[1]

    # ------------------------------------------------------------------ reading

    def read_document(
        self,
        path: str,
        section: str | None = None,
        start_paragraph: Number = None,
        end_paragraph: Number = None,
        from_char: Number = None,
    ) -> str:
        """Read a document, whole or in part, as numbered paragraphs ('[3] text').

        section: a heading to read just that section (with its sub-sections); where
          headings repeat, the name outline gives, like 'Chapter 2 › Notes' or 'Notes #2'.
        start_paragraph / end_paragraph: an inclusive range of paragraph numbers.
        from_char: where to go on in a paragraph too long for one result (the result says).
        Long documents come back in parts; the last line says how to get the rest.
        """
        _, rel, _, doc = self._open(path, remember=True)
        blocks = doc.blocks
        total = len(blocks)
        if not total:
            return f"{rel} is empty."
        lo, hi = 0, total
        if section:
            lo, hi = formats.section_range(blocks, formats.find_heading(blocks, section))
        if start_paragraph is not None:
            paragraph_index(blocks, rel, start_paragraph, "start at")
            lo = max(lo, start_paragraph - 1)
        if end_paragraph is not None:
            if end_paragraph < 1:
                raise FormatError("end_paragraph must be 1 or more.")
            hi = min(hi, end_paragraph)
        if lo >= hi:
            raise FormatError(
                f"There are no paragraphs in that range of {rel} (it has "
                f"{plural(total, 'paragraph')})."
            )
        if from_char is not None:
            size = len(blocks[lo].render())
            if not 0 <= from_char < size:
                raise FormatError(
                    f"from_char must be from 0 to {size - 1}: paragraph {lo + 1} of {rel} has "
                    f"{plural(size, 'character')}."
                )
        lines, end, cut_at = self._numbered(blocks, lo, hi, from_char or 0)
        # Only a read that showed numbers unlocks edits by number (a refused range showed none).
        self._numbers_shown.add(rel)
        if section:
            first = (
                f"Section “{formats.heading_names(blocks)[lo]}” of {rel}: {plural(hi - lo, 'paragraph')}, "
                f"{plural(words_in(blocks[lo:hi]), 'word')}."
            )
        elif (lo, hi) == (0, total):
            first = f"{rel}: {plural(total, 'paragraph')}, {plural(words_in(blocks), 'word')}."
        else:
            first = f"{rel}, paragraphs {lo + 1} to {hi} of {total}."
        out = [first, *lines]
        if cut_at is not None:
            out.append(
                f"(Paragraph {end} goes on: call read_document with start_paragraph={end} "
                f"and from_char={cut_at} for the rest.)"
            )
        elif end < hi:
            out.append(
                f"(Showing paragraphs {lo + 1} to {end} of {total}; call read_document with "
                f"start_paragraph={end + 1} for more.)"
            )
        return "\n".join(out)

    def outline(self, path: str) -> str:
        """The headings of a document with their paragraph numbers and section sizes.

        A heading whose words repeat shows the section= name that picks it.
        """
        _, rel, _, doc = self._open(path, remember=True)
        self._numbers_shown.add(rel)
        heads = formats.outline(doc.blocks)
        if not heads:
            return (
                f"{rel} has no headings; it has {plural(len(doc.blocks), 'paragraph')}, "
                f"{plural(words_in(doc.blocks), 'word')}."
            )
        names = ", ".join(quote(doc.blocks[i].text, 40) for i in heads[:5])
        more = " and more" if len(heads) > 5 else ""
        lines = [f"{rel} has {plural(len(heads), 'heading')}: {names}{more}."]
        # Headings that share their words get a name of their own, or one could not be picked.
        called = formats.heading_names(doc.blocks)
        for i in heads:
            lo, hi = formats.section_range(doc.blocks, i)
            block = doc.blocks[i]
            indent = "  " * (block.level - 1)
            name = "" if called[i] == block.text else f", section= “{called[i]}”"
            lines.append(
                f"{indent}[{i + 1}] {'#' * block.level} {quote(block.text, MAX_HEADING_CHARS)[1:-1]} "
                f"({plural(hi - lo - 1, 'paragraph')}, {plural(words_in(doc.blocks[lo:hi]), 'word')}"
                f"{name})"
            )

        def rest(left: int) -> str:
            shown = len(heads) - left
            at = heads[shown] + 1
            return (
                f"(Showing {shown} of {len(heads)} headings; the next is paragraph {at}: call "
                f"read_document with start_paragraph={at}, or with section= one heading, to "
                f"narrow it down.)"
            )

        return "\n".join(self._capped(lines, rest))

    def count(self, path: str) -> str:
        """Count the words, paragraphs and headings of a document."""
        _, rel, _, doc = self._open(path, remember=False)
        blocks = doc.blocks
        heads = formats.outline(blocks)
        words = words_in(blocks)
        paragraphs = len(blocks) - len(heads)
        first = f"{rel} has {plural(words, 'word')} in {plural(paragraphs, 'paragraph')}"
        first += f" and {plural(len(heads), 'heading')}." if heads else "."
        chars = sum(len(b.text) for b in blocks)
        lines = [first, f"Characters: {chars}. Numbered blocks (headings included): {len(blocks)}."]
        called = formats.heading_names(blocks)
        for i in heads:
            lo, hi = formats.section_range(blocks, i)
            name = quote(called[i], MAX_HEADING_CHARS)[1:-1]
            lines.append(f"- {name}: {plural(words_in(blocks[lo:hi]), 'word')}")

        def rest(left: int) -> str:
            return (
                f"(…and {plural(left, 'more section')}, left out to keep this short; call "
                f"read_document with section= one heading to narrow it down.)"
            )

        return "\n".join(self._capped(lines, rest))

    def compare_documents(
        self, path_a: str, path_b: str | None = None, version: Number = None
    ) -> str:
        """Compare two documents, or one document with an earlier version of itself.

        path_b: the other document. version: how many edits back to compare path_a with
        (1 = before the last change; the default when path_b is not given). Returns a
        plain-language summary, then a unified diff, one paragraph per line (each line of a
        paragraph of several lines keeps its mark).
        """
        if path_b and version is not None:
            raise FormatError("Give either path_b or version, not both.")
        real_a, rel_a, _, doc_a = self._open(path_a, remember=False)
        if path_b:
            _, rel_b, _, doc_b = self._open(path_b, remember=False)
            old, new, old_name, new_name = doc_a, doc_b, rel_a, rel_b
        else:
            steps = 1 if version is None else version
            data = self.ws.version(real_a, steps)
            kind = formats.kind_for(rel_a)
            old = formats.parse(data, kind) if data is not None else Document(kind)
            new = doc_a
            old_name = f"{rel_a} ({plural(steps, 'edit')} ago)"
            new_name = f"{rel_a} (now)"
        old_lines = [b.render() for b in old.blocks]
        new_lines = [b.render() for b in new.blocks]
        ops = diff_opcodes(old_lines, new_lines)
        summary = describe_changes(old_lines, new_lines, ops)
        if summary == "no differences":
            return f"{old_name} and {new_name} have the same text."
        first = f"Compared {old_name} with {new_name}: {summary}."
        room = MAX_RESULT_CHARS * 2 - len(first) - 1
        diff = unified_diff(old_lines, new_lines, old_name, new_name, MAX_DIFF_LINES, room)
        return "\n".join([first, *diff])

    # ------------------------------------------------------------------ writing

    def _agreed(self, confirmed: bool, what: str) -> bool:
        """Whether the change ``what`` describes was asked about (:meth:`_confirm`) and then
        confirmed. A confirmed=true the question never came before is not the person's yes:
        the server, not only the model's manners, keeps a deletion from going ahead unasked.
        ``what`` quotes what would go, so a yes to one paragraph is no yes to another.
        Nor is a confirmed=true in the same turn as the question (the client says which,
        TURN): the person has not spoken since it was asked, so it is the model's own yes,
        and a document that said "delete this, and confirm it" had the model ask and
        confirm in two tool rounds of one answer, the person never asked."""
        if not confirmed or what not in self._asked:
            return False
        turn = TURN.get()
        if turn and self._asked[what] == turn:
            return False
        del self._asked[what]
        return True

    def _confirm(self, what: str, call: str, also: str | None = None, *, early: bool) -> str:
        """The question for the person; ``also`` names what the change would take with it
        that its words do not show (a Word paragraph's links, comments...), so they know.
        ``early``: confirmed=true came before the question, or before the person answered
        it, so it did not count."""
        self._asked[what] = TURN.get()
        also = f" {also}" if also else ""
        unasked = (
            " (confirmed=true counts only after this question, once the person has answered it)"
            if early
            else ""
        )
        return (
            f"Not done yet: {what} needs the person's confirmation{unasked}.{also} Ask "
            f"them, and only if they say yes, call {call} again with the same arguments and "
            f"confirmed=true."
        )

    def create_document(
        self, path: str, content: str, overwrite: Flag = False, confirmed: Flag = False
    ) -> str:
        """Create a new document (.md, .txt or .docx) from Markdown-style content.

        '# Heading' lines become headings (Word heading styles in .docx), '- item' and
        '1. item' lines list items (Word bullet and numbered lists in .docx), **bold** and
        *italic* bold and italic words in .docx (edits' text too); blank lines separate
        paragraphs. Folders are created as needed. Replacing an existing document
        needs overwrite=true and, after the person agrees, confirmed=true.
        """
        real = self.ws.resolve(path, must_exist=False)
        rel = self.ws.rel(real)
        kind = formats.require_writable(rel)
        if any(part.startswith(".") for part in rel.split("/")):
            plain = "/".join(part.lstrip(".") or part for part in rel.split("/"))
            raise WorkspaceError(
                f"{rel} would be hidden: names starting with a dot are left out of "
                f"list_documents and search, so nothing was created. Use a name without the "
                f"leading dot, like {plain}."
            )
        exists = real.exists()
        if exists and not overwrite:
            raise WorkspaceError(
                f"{rel} already exists, so nothing was changed. Pick another name, or replace "
                f"it with overwrite=true once the person has confirmed."
            )
        if exists:
            self.ws.check_writable(real)  # before asking to overwrite what cannot be
        data = formats.new_document(content, kind)
        self._check_result_size(rel, kind, data, "This content")
        blocks = formats.parse(data, kind).blocks
        before = self.ws.read(real, remember=False) if exists else None
        old = None
        if before is not None and kind == "docx":
            with contextlib.suppress(FormatError):  # not a Word file: nothing in it to name
                old = formats.parse(before, kind)
        what = f"replacing the existing {rel} with new content ({plural(len(blocks), 'paragraph')})"
        if exists and not self._agreed(confirmed, what):
            return self._confirm(
                what,
                "create_document",
                formats.removal_note(old) if old is not None else None,
                early=confirmed,
            )
        self.ws.write(real, data, before=before)
        self._numbers_shown.add(rel)  # its numbers follow from the text it was given
        verb = "Replaced" if exists else "Created"
        lines = [
            f"{verb} {rel}: {plural(len(blocks), 'paragraph')}, {plural(words_in(blocks), 'word')}."
        ]
        if old is not None and (gone := formats.removal_note(old, lead="the old version")):
            lines.append(gone)
        return "\n".join([*lines, "Say undo to take it back."])

    def edit_document(
        self,
        path: str,
        action: Action,
        paragraph: Number = None,
        text: str | None = None,
        section: str | None = None,
        find: str | None = None,
        replace_with: str | None = None,
        match_case: Flag = True,
        confirmed: Flag = False,
    ) -> str:
        """Change a document. Paragraph numbers: as read_document or outline last showed.

        action: its arguments
        - replace_paragraph: paragraph, text (Markdown; blank lines split paragraphs)
        - insert_paragraph: text; after paragraph N (0 = start), or at the end of section,
          else of the document; list items after a list join it
        - delete_paragraph: paragraph
        - replace_section: section, text (the new body; the heading stays)
        - delete_section: section
        - rename_heading: section, text (the new heading)
        - find_replace: find, replace_with; optional section, match_case. Words within
          paragraphs only
        section: a heading's words, or the name outline gives ('Notes #2').
        A result that asks for confirmation changed nothing: ask the person, and only on a
        yes repeat the call with confirmed=true. Tell the person what a Word result says
        went with removed text.
        """
        real = self.ws.resolve(path, must_exist=False)
        target = self.ws.rel(real)
        if not real.exists():
            self._other_extensions(real, target)
        formats.require_writable(target)
        if paragraph and action in NUMBERED_ACTIONS and target not in self._numbers_shown:
            # Numbers from an earlier server (a resumed conversation) or from nowhere: the
            # staleness check compares with this server's last read, so it had nothing to
            # compare with, and a paragraph typed in meanwhile made "delete paragraph 3"
            # delete the one before the one meant.
            _, rel, _, _ = self._open(path, remember=False)
            raise FormatError(
                f"I have not read {rel} since I started, so paragraph {paragraph} may no "
                f"longer be the one meant (its numbers move when paragraphs are added or "
                f"removed); nothing was changed. Read it with read_document or outline, then "
                f"retry the edit with the numbers shown."
            )
        real, rel, data, doc = self._open(path, remember=True, check_fresh=True)
        moved = self._moved_in_this_answer(rel)
        if paragraph and action in NUMBERED_ACTIONS and moved is not None and paragraph >= moved:
            self._refuse_moved(rel, doc.blocks, paragraph, moved)
        self.ws.check_writable(real)  # before a deletion's question, which would be in vain
        e = Edit(
            action,
            doc,
            rel,
            paragraph=paragraph,
            text=text,
            section=section,
            find=find,
            replace_with=replace_with,
            match_case=match_case,
            confirmed=confirmed,
            agreed=self._agreed,
            confirm=self._confirm,
        )
        if action not in ACTIONS:  # pydantic validates the Literal; this guards direct calls
            raise FormatError(
                f"Unknown action {action!r}. Use one of: replace_paragraph, insert_paragraph, "
                f"delete_paragraph, replace_section, delete_section, rename_heading, find_replace."
            )
        done = ACTIONS[action](e)
        if isinstance(done, str):  # a question for the person, or nothing to change
            return done
        first, shown = done

        doc.blocks = e.new_blocks
        new_data, read_back = formats.serialize_read_back(doc)
        if new_data == data:
            return f"{rel} already says that, so nothing changed."
        self._check_result_size(rel, doc.kind, new_data, "This edit")
        self.ws.write(real, new_data, before=data)
        self._remember_parse(real, sha256(new_data), read_back, len(new_data))
        self._numbers_moved(rel, [b.render() for b in e.blocks], read_back.blocks)
        lines = [first, *doc.notes]  # links on changed words; what went with removed paragraphs
        if shown is not None:
            result = read_back.blocks
            lines += self._numbered(result, shown[0], min(shown[1], len(result)))[0]
        lines.append("Say undo to take it back.")
        return "\n".join(lines)

    def _numbers_moved(self, rel: str, old: list[str], new: list[Block] | None) -> None:
        """Note the first paragraph number of ``rel`` that going from ``old`` (rendered) to
        ``new`` (None: a document gone or back) moved, if any moved, for the other calls
        of this answer."""
        answer = ANSWER.get()
        if not answer:
            return
        record = self._changes.get(rel)
        if record is None or record.answer != answer:
            # only this answer's: the paragraphs kept are the numbers its calls were
            # written with, which an older answer's calls no longer need
            for other in [r for r, c in self._changes.items() if c.answer != answer]:
                del self._changes[other]
            record = self._changes[rel] = _AnswerChanges(answer, old)
        if new is not None and len(new) == len(old):
            return
        first = 1
        for was, now in zip(old, new or [], strict=False):
            if was != now.render():
                break
            first += 1
        record.moved = first if record.moved is None else min(first, record.moved)

    def _moved_in_this_answer(self, rel: str) -> int | None:
        """The first paragraph number of ``rel`` an earlier call of this answer moved."""
        record = self._changes.get(rel)
        return record.moved if record is not None and record.answer == ANSWER.get() else None

    def _refuse_moved(self, rel: str, blocks: list[Block], paragraph: int, moved: int) -> None:
        """Refuse an edit by ``paragraph``, which an earlier call of the same answer moved,
        saying which number the paragraph meant (as numbered before the answer) has now,
        or that the other call changed it, and showing what the numbers around hold: told
        only "retry with the number meant", the model had to read the document again."""
        before = self._changes[rel].before
        where, lo = "Those numbers now hold", max(moved, paragraph - 1) - 1
        if paragraph <= len(before):
            meant = f"What was paragraph {paragraph} before this answer (“{_short(before[paragraph - 1])}”)"
            for tag, i1, i2, j1, _ in diff_opcodes(before, [b.render() for b in blocks]):
                if i1 <= paragraph - 1 < i2:
                    if tag == "equal":
                        now = j1 + paragraph - 1 - i1 + 1
                        where, lo = f"{meant} is now paragraph {now}", now - 2
                    else:
                        where = f"{meant} was changed by that other change; those numbers now hold"
                    break
        lo = max(lo, 0)
        hi = min(len(blocks), lo + 3)
        shown = self._numbered(blocks, lo, hi)[0] if lo < hi else []
        now_hold = "\n".join(shown) if shown else f"{rel} has {plural(len(blocks), 'paragraph')}."
        raise FormatError(
            f"Paragraphs of {rel} from {moved} on were renumbered by another change in this "
            f"same answer, made first, so paragraph {paragraph} may not be the one meant; "
            f"nothing was changed. {where}:\n{now_hold}\nRetry with the number of the "
            f"paragraph meant."
        )

    def _history_result(self, verb: str, path: str, step: Callable[[Path], Step]) -> str:
        real = self.ws.resolve(path, must_exist=False)
        rel = self.ws.rel(real)
        kind = formats.kind_for(rel)
        before, after, outside = step(real)
        undo_steps, redo_steps = self.ws.history_steps(real)
        if after is None:
            first = f"{verb} {rel}: it no longer exists, as before it was created."
            self._numbers_moved(rel, [], None)
        elif before is None:
            first = f"{verb} {rel}: it exists again."
            self._numbers_moved(rel, [], None)
        else:
            # A side that is no readable document (a damaged file that was overwritten) does
            # not make the step fail: it is done, and saying it failed would invite a retry
            # that goes one step further.
            try:
                old = [b.render() for b in formats.parse(before, kind).blocks]
            except FormatError:
                old = None
            new_blocks: list[Block] | None
            try:
                new_blocks = formats.parse(after, kind).blocks
                new = [b.render() for b in new_blocks]
            except FormatError:
                new_blocks = new = None
            self._numbers_moved(rel, old or [], new_blocks)
            name = formats.KIND_NAMES[kind]
            if new is None:
                what = f"; it is back to a version that is not a readable {name} file"
            elif old is None:
                what = f"; the version it replaced was not a readable {name} file"
            else:
                what = f": {describe_changes(old, new)}"
            first = f"{verb} the last change to {rel}{what}."
            if verb == "Redid":
                first = f"Redid the change to {rel}{what}."
        if outside:
            first = (
                f"{first} That change was made outside, after my last one: the document is "
                f"back to how I last left it"
                + (", and undo again takes back my own last change." if undo_steps else ".")
            )
        return (
            f"{first}\n{plural(undo_steps, 'undo step')} and {plural(redo_steps, 'redo step')} "
            f"left."
        )

    def undo(self, path: str) -> str:
        """Undo the last change made to a document through these tools (restores it exactly)."""
        return self._history_result("Undid", path, self.ws.undo)

    def redo(self, path: str) -> str:
        """Redo the change the last undo took back."""
        return self._history_result("Redid", path, self.ws.redo)


def _searched_text(block: Block) -> str:
    """``block``'s text as search looks at it: on one line, NFC like the query ("café"
    finds a Mac's "cafe\u0301" too)."""
    return unicodedata.normalize("NFC", " ".join(block.text.split()))


def _short(text: str) -> str:
    """``text`` on one line, cut to a quote that names a paragraph."""
    return textwrap.shorten(text, 80, placeholder="…") or text[:80]


def _copied(doc: Document) -> Document:
    """A copy of ``doc`` an edit may change (its blocks, their emphasis, its notes) while
    ``doc`` stays as parsed; the bytes and text it holds are shared, being immutable."""
    blocks = [
        Block(b.text, b.level, b.source, b.table, b.split_from, list(b.emphasis))
        for b in doc.blocks
    ]
    return dataclasses.replace(doc, blocks=blocks, spans=list(doc.spans), notes=[])


def _version(st: os.stat_result) -> tuple[int, ...]:
    """What tells one version of a file from the next: its time and size, and its inode and
    change time, which a copy that keeps the time (``cp -p``, a sync or backup tool) still
    changes: a damaged file put right so, at the same size, was never read again."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


# The methods of DocsTools that the server offers as tools, in the order it lists them:
# first the ones that change nothing in the workspace (declared read-only to clients,
# which may run them for a request the person has not finished), then the ones that do.
READ_ONLY_TOOLS = (
    "list_documents",
    "find_documents",
    "read_document",
    "search",
    "outline",
    "count",
    "compare_documents",
)
TOOL_NAMES = (*READ_ONLY_TOOLS, "create_document", "edit_document", "undo", "redo")
