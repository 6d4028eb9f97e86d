"""Documents as a flat list of blocks (headings and paragraphs), read from and written to bytes.

The assistant talks about documents the way people do, "paragraph 3", "the Budget section", so
every format is reduced to the same shape: a list of :class:`Block`, each a heading (level 1-6)
or a paragraph, numbered from 1 in reading order. The functions here are pure (bytes in,
bytes out); file access and undo live in :mod:`voicedesk.tools.workspace`.

* Markdown: ``#`` headings and setext ones (a paragraph underlined with ``===`` or ``---``,
  CommonMark's rules: not under a list, quote, table or after a blank line; YAML front matter
  is one block); other blocks are separated by blank lines, fenced code stays whole.
* Plain text: blank-line separated paragraphs, no headings.
* Both text formats remember where each block sat in the file, and a write splices the changed
  blocks into the original text: people keep their own layout (extra blank lines, closing
  ``##`` of headings, a missing final newline, CRLF), and an edit changes only what it says.
  UTF-8 (with or without BOM), UTF-16/32 with a BOM and cp1252 are read and written back in
  the encoding they came in.
* Word .docx (python-docx): paragraphs styled "Heading N" (or "Title") are headings; each table
  row is one block, its cells joined by " | ", in document order so search and read_document
  see tables too. Rows are read-only (a row can only go with its whole table, when a section
  is deleted or replaced). Writing edits the original file in place, so untouched paragraphs
  keep their formatting, and tables, images and empty spacer paragraphs survive; a changed
  paragraph keeps its style, and only its changed words are rewritten, in the runs that held
  them: the rest keeps its formatting, hyperlinks, bookmarks, comments, fields and pictures.
  New words that replace linked ones stay linked; a link whose words all went is removed
  and the edit's result says so (:attr:`Document.notes`). Removing whole paragraphs
  (deleting them, replacing a section's body, overwriting the document) takes their links,
  comments, footnotes and endnotes, pictures, fields and bookmarks too: the question before
  a deletion (:func:`removal_note`) and the result after name each one, and a link
  elsewhere left leading to a bookmark that went. The words of a comment or a note that
  went leave the file too (:func:`_drop_orphans`); a comment that reaches kept words stays
  on them. A new section body's paragraph that mostly says what an old one said is an edit
  of it (:func:`reuse_paragraphs`), so what it holds stays.
* Searching text (:func:`find_all`) matches whatever the Unicode normalisation form
  ("café" finds a Mac's "cafe\u0301") and reports spans of the original text.
* PDF (pypdf): read-only; text is split into paragraphs by blank lines and line shapes.
"""

from __future__ import annotations

import collections
import copy
import difflib
import functools
import io
import itertools
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal

Kind = Literal["markdown", "text", "docx", "pdf"]

SUFFIXES: dict[str, Kind] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".docx": "docx",
    ".pdf": "pdf",
}
WRITABLE: set[Kind] = {"markdown", "text", "docx"}
KIND_NAMES: dict[Kind, str] = {
    "markdown": "Markdown",
    "text": "plain text",
    "docx": "Word",
    "pdf": "PDF",
}
_SUPPORTED_TEXT = ", ".join(sorted(SUFFIXES))
TABLE_READ_ONLY = (
    "Rows of Word tables (shown as '| cell | cell |') are read-only here: I can read and "
    "search them, and a table goes only with its whole section, but I cannot change, delete "
    "or add rows, or put paragraphs inside a table. Change the paragraphs around it instead."
)
PDF_READ_ONLY = (
    "PDF files are read-only here: I can read and search them but not change them. "
    "To edit one, create a copy as .docx or .md with create_document."
)


class FormatError(ValueError):
    """A document cannot be read or written in its format; the message says why."""


@dataclass
class Block:
    """One heading (``level`` 1-6) or paragraph (``level`` 0)."""

    text: str
    level: int = 0
    # Where this block came from (None: new), so a write can change just this block and leave
    # the rest of the file alone: the index of the original block in text formats, of the
    # body item (paragraph or table row) in .docx.
    source: int | None = None
    # .docx only: the number of the table this block is a row of. Rows are read-only.
    table: int | None = None

    @property
    def is_heading(self) -> bool:
        return self.level > 0

    @property
    def is_row(self) -> bool:
        return self.table is not None

    def render(self) -> str:
        """Markdown-style text: what read_document shows and what diffs compare."""
        if self.is_row:
            return f"| {self.text} |"
        return f"{'#' * self.level} {self.text}" if self.level else self.text


@dataclass(frozen=True)
class Span:
    """Where an original block of a text file sits in its decoded text, and what it said."""

    start: int
    end: int
    text: str
    level: int


@dataclass
class Document:
    kind: Kind
    blocks: list[Block] = field(default_factory=list)
    newline: str = "\n"  # text formats keep their line endings
    bom: bool = False  # ...and their byte-order mark
    encoding: str = "utf-8"  # ...and their encoding (old Windows files are cp1252)
    original: bytes | None = None  # .docx: the file the blocks were read from
    text: str | None = None  # text formats: the decoded file, line endings as they were...
    spans: list[Span] = field(default_factory=list)  # ...and where each original block sat
    # .docx: what a write did beyond the text it was asked for (a link on changed words; the
    # links, comments, notes, pictures, fields and bookmarks of removed paragraphs), to tell
    # the person; filled by serialize.
    notes: list[str] = field(default_factory=list)


def kind_for(name: str) -> Kind:
    """The format for a file name, or FormatError listing what is supported."""
    suffix = PurePosixPath(name).suffix.lower()
    kind = SUFFIXES.get(suffix)
    if kind is None:
        shown = suffix or "no extension"
        raise FormatError(
            f"{name} has {shown}; I can only work with documents ending in {_SUPPORTED_TEXT}."
        )
    return kind


def require_writable(name: str) -> Kind:
    kind = kind_for(name)
    if kind not in WRITABLE:
        raise FormatError(f"{name} is a PDF. {PDF_READ_ONLY}")
    return kind


# ------------------------------------------------------------------------- text cleanup

# Lone surrogates come from JSON escapes like "\\ud800" and no encoding can write them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """NFC, ``\\n`` line ends, no control characters (they are invalid in .docx XML)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", unicodedata.normalize("NFC", text))


def _cluster_starts(text: str) -> list[int]:
    """Offsets in ``text`` where Unicode normalisation cannot join a character to the one
    before it.

    Between two of them lies a letter with the accents that belong to it ("e" + U+0301, a
    Hangul syllable spelt as jamo): NFC and NFD spell only these pieces differently, so each
    can be normalised on its own and the pieces still line up with the original text.
    """
    starts = [0] if text else []
    for i in range(1, len(text)):
        ch = text[i]
        if ord(ch) >= 0x300:  # below U+0300 nothing combines or composes with what precedes it
            if unicodedata.combining(unicodedata.normalize("NFD", ch)[0]):
                continue  # an accent (or a letter that starts with one)
            piece = text[starts[-1] : i]
            joined = unicodedata.normalize("NFC", piece + ch)
            if len(joined) < len(unicodedata.normalize("NFC", piece)) + len(
                unicodedata.normalize("NFC", ch)
            ):
                continue  # composes with the letter before it (Hangul jamo)
        starts.append(i)
    return starts


def find_all(text: str, needle: str, *, ignore_case: bool = False) -> list[tuple[int, int]]:
    """Where ``needle`` occurs in ``text``, as [start, end) spans of ``text`` itself.

    Text written on a Mac often spells "café" with a combining accent ("cafe\\u0301") where
    the person's query has the single letter "é", or the other way round. Both are compared
    in NFC, a letter with its accents at a time, so the form does not matter, while "cafe"
    still does not match the start of "café". The spans are in the original text: replacing
    them changes exactly what matched and leaves the rest of the text as it was spelt.
    """
    needle = unicodedata.normalize("NFC", needle)
    if not needle:
        return []
    pattern = re.compile(re.escape(needle), re.IGNORECASE if ignore_case else 0)
    if text.isascii():  # every character is a piece of its own and already in NFC
        return [m.span() for m in pattern.finditer(text)]
    starts = _cluster_starts(text)
    origin: dict[int, int] = {}  # offset in the normalised text of each piece → in ``text``
    pieces: list[str] = []
    at = 0
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        origin[at] = start
        pieces.append(unicodedata.normalize("NFC", text[start:end]))
        at += len(pieces[-1])
    origin[at] = len(text)
    joined = "".join(pieces)
    spans: list[tuple[int, int]] = []
    at = 0
    while (m := pattern.search(joined, at)) is not None:
        if m.start() in origin and m.end() in origin:  # whole letters, accents included
            spans.append((origin[m.start()], origin[m.end()]))
            at = m.end()
        else:
            at = m.start() + 1
    return spans


def replace_all(
    text: str, needle: str, replacement: str, *, ignore_case: bool = False
) -> tuple[str, int]:
    """``text`` with every :func:`find_all` match of ``needle`` replaced, and how many there were."""
    spans = find_all(text, needle, ignore_case=ignore_case)
    out: list[str] = []
    last = 0
    for start, end in spans:
        out += [text[last:start], replacement]
        last = end
    out.append(text[last:])
    return "".join(out), len(spans)


def word_count(text: str) -> int:
    """Whitespace-separated words; the bars between table cells are not words."""
    return sum(1 for word in text.split() if word.strip("|"))


# ------------------------------------------------------------------------- markdown / text

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# A setext underline: a paragraph followed by a line of only "=" (level 1) or "-" (level 2).
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines after which an underline is no heading's (CommonMark: it needs a paragraph above it):
# list items, block quotes, thematic breaks ("***", "- - -") and table delimiter rows. The
# line "---" under "- item" is a thematic break; under a table, the end of the table.
_NOT_PARAGRAPH = re.compile(
    r"^ {0,3}(?:[-+*](?:[ \t]|$)|\d{1,9}[.)](?:[ \t]|$)|>"
    r"|(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$"
    r"|\|?[ \t]*:?-+:?[ \t]*\|[-:| \t]*$)"
)
# ...and first lines that open no paragraph at all: indented code, an HTML block.
_NOT_PARAGRAPH_START = re.compile(r"^(?: {0,3}\t| {4}| {0,3}<[A-Za-z!?/])")
# YAML front matter: "---" as the file's first line, up to a closing "---" or "...".
_FRONT_MATTER_OPEN = re.compile(r"^---[ \t]*$")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$")


_LINE_END = re.compile(r"\r\n|\r|\n")


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, line) of each line; ``end`` leaves out the line ending.

    A lone CR ends a line too, as in files from old Macs: read as part of a line, a whole
    CR-only file was one block, and renaming its first heading dropped everything after it.
    """
    pos = 0
    for m in _LINE_END.finditer(text):
        yield pos, m.start(), text[pos : m.start()]
        pos = m.end()
    yield pos, len(text), text[pos:]


def _block_of(lines: list[tuple[int, int, str]], level: int = 0) -> tuple[Block, int, int]:
    while lines and not lines[0][2]:
        lines = lines[1:]
    while lines and not lines[-1][2]:
        lines = lines[:-1]
    return Block("\n".join(line for _, _, line in lines), level), lines[0][0], lines[-1][1]


def _setext_level(buf: list[tuple[int, int, str]], line: str) -> int:
    """The level ``line`` underlines the paragraph ``buf`` with (0: it is no underline).

    Only a plain paragraph can be underlined; where CommonMark would read anything else
    above the line (see :data:`_NOT_PARAGRAPH`), it stays a line of that block, as before
    setext headings were read: a wrong guess here would cut a list or a table in two.
    """
    m = _SETEXT.match(line)
    if m is None or not buf or _NOT_PARAGRAPH_START.match(buf[0][2]):
        return 0
    if any(_NOT_PARAGRAPH.match(text) for _, _, text in buf):
        return 0
    return 1 if m.group(1)[0] == "=" else 2


def _front_matter_end(lines: list[tuple[int, int, str]]) -> int:
    """How many lines of ``lines`` (a whole file's) are YAML front matter (0: none).

    Front matter is one block, blank lines and all: read as Markdown, its closing "---"
    would make the line above it a heading.
    """
    if not lines or not _FRONT_MATTER_OPEN.match(lines[0][2]):
        return 0
    for n, (_, _, line) in enumerate(lines[1:], 2):
        if _FRONT_MATTER_CLOSE.match(line):
            return n
    return 0


def _markdown_spans(text: str) -> list[tuple[Block, int, int]]:
    """Headings (ATX and setext) and blank-line separated blocks, each with its place in
    ``text``.

    A setext heading of several lines is one heading, as in CommonMark, its lines joined by
    spaces ("Annual" and "report" over "===" is "Annual report"): the file keeps its lines
    until the heading is renamed, and then it is written on one line.
    """
    out: list[tuple[Block, int, int]] = []
    buf: list[tuple[int, int, str]] = []
    fence: str | None = None
    lines = list(_lines(text))
    if front := _front_matter_end(lines):
        out.append(_block_of(lines[:front]))

    def flush() -> None:
        if buf and any(line.strip() for _, _, line in buf):
            out.append(_block_of(buf))
        buf.clear()

    for start, end, line in lines[front:]:
        if fence is not None:
            buf.append((start, end, line))
            if line.strip().startswith(fence):
                fence = None
                flush()
            continue
        if m := _FENCE.match(line):
            flush()
            buf.append((start, end, line))
            fence = m.group(1)[0] * len(m.group(1))
            continue
        if not line.strip():
            flush()
            continue
        if m := _HEADING.match(line):
            flush()
            out.append((Block((m.group(2) or "").strip(), level=len(m.group(1))), start, end))
            continue
        if level := _setext_level(buf, line):
            title = " ".join(text.strip() for _, _, text in buf)
            out.append((Block(title, level), buf[0][0], end))
            buf.clear()
            continue
        buf.append((start, end, line))
    flush()
    return out


def _plain_spans(text: str) -> list[tuple[Block, int, int]]:
    """Paragraphs separated by lines holding nothing but spaces and tabs."""
    out: list[tuple[Block, int, int]] = []
    buf: list[tuple[int, int, str]] = []
    for start, end, line in [*_lines(text), (len(text), len(text), "")]:
        if line.strip(" \t"):
            buf.append((start, end, line))
            continue
        if buf and any(ln.strip() for _, _, ln in buf):
            out.append(_block_of(buf))
        buf = []
    return out


def _open_fence(text: str) -> str | None:
    """The marker of a code fence ``text`` leaves open at its end (None: all are closed)."""
    fence: str | None = None
    for _, _, line in _lines(text):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
        elif m := _FENCE.match(line):
            fence = m.group(1)[0] * len(m.group(1))
    return fence


def _heading_line(block: Block) -> str:
    """A Markdown heading line that reads back as exactly ``block``'s text.

    Text ending in ``#`` ("Step #", "C #") would be taken for the optional closing sequence
    and lost, so such a line gets a closing ``#`` of its own, as CommonMark does.
    """
    line = f"{'#' * block.level} {block.text}"
    m = _HEADING.match(line)
    if m is None or (m.group(2) or "").strip() != block.text:
        line += " #"
    return line


def _setext_line(block: Block, original: str) -> str | None:
    """``block`` underlined as its original heading ``original`` was, if that reads back.

    A renamed setext heading stays setext, so the file keeps its author's style; text that
    would read differently underlined ("- item", "# x") is written as a ``#`` line instead.
    """
    last = original.rsplit("\n", 1)[-1].rsplit("\r", 1)[-1]
    m = _SETEXT.match(last)
    if m is None or not block.level or "\n" in block.text:
        return None
    line = block.text + "\n" + m.group(1)[0] * max(3, len(block.text))
    found = [(b.text, b.level) for b, _, _ in _markdown_spans(line)]
    return line if found == [(block.text, block.level)] else None


def heading_text(text: str) -> str:
    """What a Markdown heading saying ``text`` reads back as: a closing ``##`` is layout."""
    m = _HEADING.match("# " + text)
    return (m.group(2) or "").strip() if m else text.strip()


def parse_markdown(text: str) -> list[Block]:
    """Split Markdown into headings (ATX and setext) and blank-line separated blocks."""
    return [block for block, _, _ in _markdown_spans(text)]


def parse_plain(text: str) -> list[Block]:
    """Blank-line separated paragraphs; plain text has no headings."""
    return [block for block, _, _ in _plain_spans(text)]


def text_to_blocks(text: str, kind: Kind) -> list[Block]:
    """Blocks for new content: Markdown syntax for .md and .docx, paragraphs for .txt."""
    text = clean_text(text)
    if kind == "text":
        return parse_plain(text)
    if fence := _open_fence(text):
        # A fence left open runs to the end of the file and swallows every paragraph after
        # it, so later edits by number would hit the wrong text: close it where the text ends.
        text = text.rstrip("\n") + "\n" + fence
    return parse_markdown(text)


def settle(block: Block, kind: Kind, *, first: bool = False) -> list[Block] | None:
    """The blocks ``block`` reads back as once written among others (none: it is empty).

    None when it would also swallow the paragraphs after it (a code fence left open; as the
    ``first`` block of a file, front matter whose closing "---" went, which a later "---"
    would close). An edit that changes a block's text in place (find_replace) checks this
    first: a replacement can empty a paragraph, split it at a blank line, or make a line start
    with ``#`` or a fence.
    """
    if kind in ("docx", "pdf"):
        return (
            [Block(block.text, block.level, block.source, block.table)]
            if block.text.strip()
            else []
        )
    shown = _heading_line(block) if kind == "markdown" and block.level else block.text
    if kind == "markdown" and first:
        lines = list(_lines(shown))
        if _FRONT_MATTER_OPEN.match(lines[0][2]) and not _front_matter_end(lines):
            return None
    spans = _plain_spans if kind == "text" else _markdown_spans
    found = [b for b, _, _ in spans(shown + "\n\nx")]
    if not found or (found[-1].text, found[-1].level) != ("x", 0):
        return None
    return found[:-1]


# A byte-order mark says the encoding for sure (UTF-32 first: its LE mark starts like UTF-16's).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_BOM_OF = {encoding: bom for bom, encoding in _BOMS}


def _decode(data: bytes) -> tuple[str, bool, str]:
    """Text, whether it had a BOM, and its encoding: by BOM, else UTF-8, else cp1252.

    Windows Notepad's "Unicode" is UTF-16 with a BOM; reading it as UTF-8 or cp1252 would show
    every other character as NUL and an edit would append single-byte text to it.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), True, encoding
            except UnicodeDecodeError:
                name = encoding.upper().replace("-LE", "").replace("-BE", "")
                raise FormatError(
                    f"The file starts with a {name} byte-order mark but is not valid {name} "
                    f"text, so I cannot read it safely."
                ) from None
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            raise FormatError("The file is not UTF-8 text, so I cannot read it safely.") from None
    if "\x00" in text:
        raise FormatError(
            "The file contains NUL bytes, so it is not plain text (it may be binary, or UTF-16 "
            "without a byte-order mark); I leave it alone rather than damage it. Saving it as "
            "UTF-8 makes it readable here."
        )
    return text, False, encoding


_UNCLOSED = (
    "A code block in this document is never closed (a line starting with ``` or ~~~ has no "
    "closing line), so everything after it counts as part of it and anything added after "
    "it would disappear into it. Close that code block first (replace its paragraph with "
    "the closing line added), then try again."
)


def _separates(before: str, gap: str, after: str, kind: Kind) -> bool:
    """Whether ``gap`` keeps ``before`` and ``after`` apart as blocks (so numbering holds)."""
    spans = _plain_spans if kind == "text" else _markdown_spans
    return len(spans(before + gap + after)) == len(spans(before)) + len(spans(after))


def _splice_text(doc: Document) -> str:
    """The original text with only the changed blocks rewritten.

    Unchanged blocks and the gaps between them are copied byte for byte; a changed block is
    rendered in place; a new one gets a blank line before it. A gap is reused where it still
    separates its neighbours, so paragraph numbers read back as the edit said they would.
    """
    assert doc.text is not None
    text, spans, nl = doc.text, doc.spans, doc.newline

    def rendered(block: Block) -> str:
        shown = block.text
        if doc.kind == "markdown" and block.level:
            span = spans[block.source] if block.source is not None else None
            setext = (
                _setext_line(block, text[span.start : span.end]) if span and span.level else None
            )
            shown = setext or _heading_line(block)
        return shown.replace("\n", nl)

    pieces: list[str] = []
    prev: tuple[str, int | None, bool] | None = None  # last piece, its source, unchanged?
    for block in doc.blocks:
        src = block.source
        gap: str | None = None
        same = False
        if src is not None:
            span = spans[src]
            same = (block.text, block.level) == (span.text, span.level)
            piece = text[span.start : span.end] if same else rendered(block)
            if src > 0:
                gap = text[spans[src - 1].end : span.start]
        else:
            piece = rendered(block)
        if prev is not None:
            adjacent = src is not None and prev[1] == src - 1 and prev[2] and same
            if gap is None or not (adjacent or _separates(prev[0], gap, piece, doc.kind)):
                gap = nl * 2
                if not _separates(prev[0], gap, piece, doc.kind):
                    raise FormatError(_UNCLOSED)
            pieces.append(gap)
        pieces.append(piece)
        prev = (piece, src, same)
    if not pieces:
        return ""
    lead = text[: spans[0].start] if spans else ""
    tail = text[spans[-1].end :] if spans else nl
    return lead + "".join(pieces) + tail


_ENCODING_NAMES = {"cp1252": "Windows-1252"}


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _encode_text(doc: Document) -> bytes:
    if doc.text is not None:
        body = _splice_text(doc)
    else:
        sep = "\n\n"
        if doc.kind == "markdown":
            body = sep.join(_heading_line(b) if b.level else b.text for b in doc.blocks)
        else:
            body = sep.join(b.text for b in doc.blocks)
        body = (body + "\n") if body else ""
        if doc.newline != "\n":
            body = body.replace("\n", doc.newline)
    if doc.encoding.startswith("utf-") and doc.encoding != "utf-8":
        return _BOM_OF[doc.encoding] + body.encode(doc.encoding)  # UTF-16/32 hold everything
    if doc.encoding != "utf-8":
        try:
            return body.encode(doc.encoding)
        except UnicodeEncodeError:
            # New text the legacy encoding cannot hold; UTF-8 holds everything, but the
            # program the person opens it with may keep reading it the old way.
            missing = sorted({ch for ch in body if not _encodable(ch, doc.encoding)})
            shown = ", ".join(f"“{ch}”" for ch in missing[:5])
            name = _ENCODING_NAMES.get(doc.encoding, doc.encoding)
            doc.notes.append(
                f"The document was saved in the older {name} encoding, which "
                f"cannot hold {shown}, so I saved it as UTF-8: an old program may now show "
                f"its accented letters wrongly. Undo puts back the old file."
            )
    return (b"\xef\xbb\xbf" if doc.bom else b"") + body.encode("utf-8")


# ------------------------------------------------------------------------- docx

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)


def _docx_level(paragraph: Any) -> int:
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, AttributeError, ValueError):
        return 0
    name = (name or "").strip()
    if m := _HEADING_STYLE.match(name):
        return min(int(m.group(1)), 6)
    return 1 if name.lower() == "title" else 0


_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _open_docx(data: bytes) -> Any:
    import docx
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.exceptions import PackageNotFoundError
    from docx.opc.part import PartFactory, XmlPart

    # python-docx keeps footnotes and endnotes as opaque bytes; read as XML (its own way of
    # choosing a part's class), a removal can name the notes it takes and drop their text.
    for content_type in (CT.WML_FOOTNOTES, CT.WML_ENDNOTES):
        PartFactory.part_type_for.setdefault(content_type, XmlPart)
    if data.startswith(_OLE_MAGIC):
        # Word saves a password-protected .docx, and every old .doc, as an OLE container.
        raise FormatError(
            "The file is password-protected, or an old Word .doc file renamed to .docx, so I "
            "cannot open it. Ask the person to open it in Word and save it as a .docx without "
            "a password."
        )
    try:
        return docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise FormatError(f"The file is not a valid Word .docx document ({exc}).") from None
    except Exception as exc:  # zipfile.BadZipFile, lxml errors: a damaged file, not a bug
        raise FormatError(f"The file is not a valid Word .docx document ({exc}).") from None


@dataclass
class _Item:
    """One body paragraph or one table row of a .docx, in document order."""

    element: Any  # the w:p element, or the w:tbl element a row belongs to
    paragraph: Any | None = None  # python-docx Paragraph, for paragraphs
    table: int | None = None  # for rows: the number of the table in the body
    cells: list[str] = field(default_factory=list)  # for rows: the text of each cell


def _body_items(d: Any) -> list[_Item]:
    """Body paragraphs and table rows in reading order (``Document.paragraphs`` skips tables)."""
    from docx.oxml.ns import qn
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

    items: list[_Item] = []
    tables = 0
    for child in d.element.body.iterchildren():
        if child.tag == qn("w:p"):
            items.append(_Item(child, paragraph=Paragraph(child, d._body)))
        elif child.tag == qn("w:tbl"):
            table = Table(child, d._body)
            for tr in child.tr_lst:
                # Each w:tc once: a merged cell is one cell, not repeated per grid column.
                cells = [" ".join(_Cell(tc, table).text.split()) for tc in tr.tc_lst]
                items.append(_Item(child, table=tables, cells=cells))
            tables += 1
    return items


def _item_blocks(items: list[_Item]) -> list[Block]:
    blocks = []
    for i, item in enumerate(items):
        if item.paragraph is not None:
            text = item.paragraph.text
            if text.strip():
                blocks.append(Block(text, _docx_level(item.paragraph), source=i))
        elif any(item.cells):
            blocks.append(Block(" | ".join(item.cells), source=i, table=item.table))
    return blocks


def parse_docx(data: bytes) -> list[Block]:
    return _item_blocks(_body_items(_open_docx(data)))


def _heading_style(d: Any, level: int) -> str:
    """Name of the "Heading N" style, adding it when the file lacks one (so it reads back)."""
    from docx.enum.style import WD_STYLE_TYPE

    name = f"Heading {level}"
    try:
        d.styles[name]
    except KeyError:
        style = d.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.font.bold = True
    return name


def _new_paragraph(d: Any, block: Block) -> Any:
    style = _heading_style(d, block.level) if block.level else None
    return d.add_paragraph(block.text, style=style)


# What python-docx reads as a run's text (Run.text). Everything else in a run (a picture, a
# field code, a footnote or comment mark, a symbol) reads as nothing and is left where it is.
_RUN_TEXT = ("w:t", "w:tab", "w:br", "w:cr", "w:noBreakHyphen", "w:ptab")
# Words and punctuation, each with the spaces after it: spaces alone would anchor a diff of
# two unrelated sentences everywhere.
_TOKEN = re.compile(r"\s+|(?:\w+|[^\w\s])\s*")


@dataclass(frozen=True)
class _Change:
    """``old[start:end]`` becomes ``new``."""

    start: int
    end: int
    new: str


def _text_changes(old: str, new: str) -> list[_Change]:
    """What turns ``old`` into ``new``, left to right, each change as small as it can be.

    Words that stay the same anchor a word-level diff, so text outside the changes keeps its
    runs; changed words are taken one by one when there are as many on both sides ("our site"
    → "the portal"), and each change shrinks to the characters that differ ("2023" → "2024"
    changes the "3").
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    a_at = list(itertools.accumulate(map(len, a), initial=0))
    b_at = list(itertools.accumulate(map(len, b), initial=0))
    changes: list[_Change] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        pairs = [(i1, i2, j1, j2)]
        if tag == "replace" and i2 - i1 == j2 - j1:
            pairs = [
                (i, i + 1, j, j + 1) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
        for k1, k2, m1, m2 in pairs:
            start, end = a_at[k1], a_at[k2]
            was, now = old[start:end], new[b_at[m1] : b_at[m2]]
            if was == now:
                continue
            pre = 0
            while pre < min(len(was), len(now)) and was[pre] == now[pre]:
                pre += 1
            suf = 0
            while suf < min(len(was), len(now)) - pre and was[-1 - suf] == now[-1 - suf]:
                suf += 1
            changes.append(_Change(start + pre, end - suf, now[pre : len(now) - suf]))
    return changes


def _in_link(run: Any) -> bool:
    from docx.oxml.ns import qn

    return run.getparent().tag == qn("w:hyperlink")


def _wordy(ch: str) -> bool:
    """A letter, digit or accent: text that joins the word beside it."""
    return ch == "_" or unicodedata.category(ch)[0] in "LMN"


def _host(runs: list[tuple[Any, int, int]], change: _Change, old: str) -> tuple[Any, int]:
    """The run a change's new text goes into, and where in that run's text.

    Replaced text hands its place to the new text, in the run where it started; but when it
    runs out of the link it started in, which of the new words should carry the link is
    anyone's guess, so they go outside it. Text inserted between two runs continues the run
    before it, as typing does; between a link and other text it goes with the word it
    extends ("site" → "sites" or "website" inside the link), and anything else (a new word,
    a comma) goes outside the link.
    """
    a, b = change.start, change.end
    if a < b:
        over = [(r, s, e) for r, s, e in runs if s < b and e > a]
        run, start, _ = over[0]
        parent = run.getparent()
        if not _in_link(run) or all(r.getparent() is parent for r, _, _ in over):
            return run, a - start
        for r, s, _ in over:
            if not _in_link(r):
                return r, max(a, s) - s
        before = next(((r, e - s) for r, s, e in runs if e == a and not _in_link(r)), None)
        after = next(((r, 0) for r, s, _ in runs if s == b and not _in_link(r)), None)
        return before or after or (run, a - start)
    inside = next(((r, a - s) for r, s, e in runs if s < a < e), None)
    if inside is not None:
        return inside
    before = next(((r, e - s) for r, s, e in reversed(runs) if e == a), None)
    after = next(((r, 0) for r, s, _ in runs if s == a), None)
    if before is None or after is None:
        found = before or after
        assert found is not None  # the paragraph has text, so some run ends or starts here
        return found
    extends_before = _wordy(old[a - 1]) and _wordy(change.new[0])
    extends_after = _wordy(old[a]) and _wordy(change.new[-1])
    if before[0].getparent() is after[0].getparent() or extends_before:
        return before
    if extends_after or (_in_link(before[0]) and not _in_link(after[0])):
        return after
    return before


def _preserve(t: Any) -> None:
    """Keep a w:t's spaces at its ends: XML readers drop them without xml:space."""
    from docx.oxml.ns import qn

    text = t.text or ""
    if text != text.strip():
        t.set(qn("xml:space"), "preserve")


def _run_content(text: str) -> list[Any]:
    """Run elements for ``text``: w:t, with w:tab for tabs and w:br for line breaks."""
    from docx.oxml.parser import OxmlElement

    out = []
    for part in re.split(r"([\t\n\r])", text):
        if part == "\t":
            out.append(OxmlElement("w:tab"))
        elif part in ("\n", "\r"):
            out.append(OxmlElement("w:br"))
        elif part:
            t = OxmlElement("w:t")
            t.text = part
            _preserve(t)
            out.append(t)
    return out


def _splice_run(run: Any, a: int, b: int, new: str) -> None:
    """Replace ``run``'s text [a, b) by ``new``, keeping everything else the run holds.

    Setting python-docx's ``Run.text`` empties the whole run: a picture, a field code or a
    comment mark in it would go with the old text. Here only the text elements that held
    the replaced text go (a w:t cut at ``a`` or ``b`` is split first), and the new text takes
    their place.
    """
    from docx.oxml.ns import qn

    text_tags = {qn(tag) for tag in _RUN_TEXT}

    def pieces() -> list[tuple[Any, int, int]]:
        out, pos = [], 0
        for child in run:
            n = len(str(child)) if child.tag in text_tags else 0
            out.append((child, pos, pos + n))
            pos += n
        return out

    for cut in (a, b):
        for child, s, e in pieces():
            if s < cut < e:  # only a w:t holds more than one character
                rest = copy.deepcopy(child)
                child.text, rest.text = child.text[: cut - s], child.text[cut - s :]
                _preserve(child)
                _preserve(rest)
                child.addnext(rest)
                break
    current = [(child, s, e) for child, s, e in pieces() if s < e]
    gone = [child for child, s, e in current if a <= s and e <= b]
    content = _run_content(new)
    if gone:
        for element in content:
            gone[0].addprevious(element)
    else:
        before = [child for child, _, e in current if e <= a]
        after = [child for child, s, _ in current if s >= a]
        if before:
            at = before[-1]
            for element in content:
                at.addnext(element)
                at = element
        elif after:
            for element in content:
                after[0].addprevious(element)
        else:
            run.extend(content)
    for child in gone:
        run.remove(child)
    previous = None
    for child in list(run):  # one w:t where the edit left two side by side
        if child.tag == qn("w:t") and previous is not None and previous.tag == qn("w:t"):
            previous.text = (previous.text or "") + (child.text or "")
            _preserve(previous)
            run.remove(child)
        else:
            previous = child


def _links(p: Any, part: Any) -> dict[Any, tuple[str, str]]:
    """The links in the w:p ``p`` of ``part``: element → (the text it is on, where it leads).

    A link is a w:hyperlink, or a HYPERLINK field (keyed by the w:fldChar that begins it),
    whose shown text is ordinary runs between its field characters.
    """
    from docx.oxml.ns import qn

    out: dict[Any, tuple[str, str]] = {}
    for link in p.xpath("w:hyperlink"):
        rid, anchor = link.get(qn("r:id")), link.get(qn("w:anchor"))
        target = f"the bookmark “{anchor}” in this document" if anchor else ""
        rel = part.rels.get(rid) if rid else None
        if rel is not None:
            target = rel.target_ref
        out[link] = (link.text, target)
    text_tags = {qn(tag) for tag in _RUN_TEXT}
    fields: list[list[Any]] = []  # open fields: [begin, instruction, shown text, showing?]
    for run in p.xpath("w:r | w:hyperlink/w:r"):
        for child in run:
            if child.tag == qn("w:fldChar"):
                kind = child.get(qn("w:fldCharType"))
                if kind == "begin":
                    fields.append([child, "", "", False])
                elif kind == "separate" and fields:
                    fields[-1][3] = True
                elif kind == "end" and fields:
                    begin, code, shown, _ = fields.pop()
                    if code.split()[:1] == ["HYPERLINK"]:
                        m = re.search(r'"([^"]*)"', code)
                        out[begin] = (shown, m.group(1) if m else "")
            elif child.tag == qn("w:instrText") and fields and not fields[-1][3]:
                fields[-1][1] += child.text or ""
            elif child.tag in text_tags:
                for field_ in fields:
                    if field_[3]:
                        field_[2] += str(child)
    return out


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Namespaces python-docx's ``qn`` does not know: a picture Word also writes the old way, as
# a fallback inside mc:AlternateContent, and the VML picture of that old way.
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_VML_IMAGE = "{urn:schemas-microsoft-com:vml}imagedata"
_MAX_NAMED = 12  # things named in one note; the rest are counted


@dataclass
class _Held:
    """What part of a .docx body holds beyond its words: what an edit that removes that part
    must name, because nothing in the text shows it is there."""

    links: list[tuple[str, str]] = field(default_factory=list)  # (text, where it leads)
    comments: list[str] = field(default_factory=list)  # ids of the comments' marks
    notes: list[tuple[str, str]] = field(default_factory=list)  # ("footnote"/"endnote", id)
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (kind, alt text or "")
    fields: list[str] = field(default_factory=list)  # kinds: "PAGE", "DATE", "TOC"...
    bookmarks: list[str] = field(default_factory=list)  # names


_NOTE_KINDS = ("footnote", "endnote")
_COMMENT_MARKS = ("commentRangeStart", "commentRangeEnd", "commentReference")


def _in_fallback(node: Any) -> bool:
    """Whether ``node`` is in the copy Word writes again for programs that cannot read the
    original (a text box's paragraphs are in the document twice)."""
    return any(a.tag == _MC_FALLBACK for a in node.iterancestors())


def _fields(element: Any) -> list[tuple[str, Any | None]]:
    """The fields that begin in ``element``: (their code, the w:fldSimple holding a simple
    field or None for a complex one).

    A field inside another (a table of contents' page numbers) is part of it and not
    listed: a person knows the table of contents, not the fields it is made of.
    """
    from docx.oxml.ns import qn

    found: list[tuple[str, Any | None]] = []
    depth, code = 0, None  # how many complex fields are open; the outermost one's code
    for node in element.iter(qn("w:fldSimple"), qn("w:fldChar"), qn("w:instrText")):
        if _in_fallback(node):
            continue
        if node.tag == qn("w:fldSimple"):
            inner = any(a.tag == qn("w:fldSimple") for a in node.iterancestors())
            if depth == 0 and not inner:
                found.append((node.get(qn("w:instr")) or "", node))
        elif node.tag == qn("w:instrText"):
            if depth == 1 and code is not None:
                code += node.text or ""
        else:
            kind = node.get(qn("w:fldCharType"))
            if kind == "begin":
                depth += 1
                code = "" if depth == 1 else code
            elif depth == 1 and code is not None:  # its code ends where its result begins
                found.append((code, None))
                code = None
            if kind == "end":
                depth = max(0, depth - 1)
    if code is not None:  # its result goes on in a paragraph after ``element``
        found.append((code, None))
    return found


def _held(elements: list[Any], part: Any) -> _Held:
    """The links, comments, footnotes and endnotes, pictures, fields and bookmarks in
    ``elements`` (w:p and w:tbl of ``part``)."""
    from docx.oxml.ns import qn

    held = _Held()
    for element in elements:
        for p in element.iter(qn("w:p")):  # the element itself, table cells, text boxes
            held.links += _links(p, part).values()
        for mark in element.iter(qn("w:commentReference")):
            held.comments.append(mark.get(qn("w:id")) or "")
        for mark in element.iter(*(qn(f"w:{kind}Reference") for kind in _NOTE_KINDS)):
            if not _in_fallback(mark):
                kind = "footnote" if mark.tag == qn("w:footnoteReference") else "endnote"
                held.notes.append((kind, mark.get(qn("w:id")) or ""))
        for picture in element.iter(qn("w:drawing"), qn("w:pict")):
            if _in_fallback(picture):
                continue  # the same picture again, for programs that cannot read w:drawing
            if picture.tag == qn("w:pict"):
                kind = "picture" if picture.find(".//" + _VML_IMAGE) is not None else "drawing"
                held.pictures.append((kind, ""))
                continue
            data = picture.find(".//" + qn("a:graphicData"))
            uri = data.get("uri", "") if data is not None else ""
            kind = {"picture": "picture", "chart": "chart"}.get(uri.rsplit("/", 1)[-1], "drawing")
            about = picture.find(".//" + qn("wp:docPr"))
            alt = (about.get("descr") or about.get("title") or "") if about is not None else ""
            held.pictures.append((kind, _short(alt)))
        for code, simple in _fields(element):
            name = code.split()[0].upper() if code.split() else ""
            if name != "HYPERLINK":
                held.fields.append(name)
            elif simple is not None:  # a complex one is among the links already
                m = re.search(r'"([^"]*)"', code)
                shown = "".join(t.text or "" for t in simple.iter(qn("w:t")))
                held.links.append((shown, m.group(1) if m else ""))
        for start in element.iter(qn("w:bookmarkStart")):
            held.bookmarks.append(start.get(qn("w:name")) or "")
    return held


def _story(part: Any, reltype: str) -> Any | None:
    """The root element of the part ``part`` relates to by ``reltype`` (its footnotes,
    comments...), or None if it has none, or one that could not be read as XML."""
    try:
        return part.part_related_by(reltype).element
    except (KeyError, ValueError, AttributeError):
        return None


def _notes_root(part: Any, kind: str) -> Any | None:
    """The w:footnotes (``kind`` "footnote") or w:endnotes element of ``part``'s document."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    return _story(part, RT.FOOTNOTES if kind == "footnote" else RT.ENDNOTES)


def _comment(part: Any, mark: str) -> str:
    """ "the comment “Which room?” by Ben", read from the comments part of ``part``."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    try:
        comment = part.part_related_by(RT.COMMENTS).comments.get(int(mark))
    except (KeyError, ValueError, AttributeError):  # no comments part, or a damaged one
        comment = None
    text = _short(comment.text) if comment is not None else ""
    author = comment.author if comment is not None else ""
    return (f"the comment “{text}”" if text else "a comment") + (f" by {author}" if author else "")


def _note(part: Any, kind: str, mark: str) -> str:
    """ "the footnote “Source: the 2023 census.”", read from the notes part of ``part``."""
    from docx.oxml.ns import qn

    root = _notes_root(part, kind)
    notes = root.iterchildren(qn(f"w:{kind}")) if root is not None else ()
    note = next((n for n in notes if n.get(qn("w:id")) == mark), None)
    paragraphs = note.iter(qn("w:p")) if note is not None else ()
    text = _short(" ".join("".join(t.text or "" for t in p.iter(qn("w:t"))) for p in paragraphs))
    return f"the {kind} “{text}”" if text else f"a {kind}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _gone_note(held: _Held, left: list[Any], part: Any, lead: str | None) -> str | None:
    """One sentence naming what ``held`` had that is not among the ``left`` elements, or
    None when nothing is lost.

    Links, pictures and fields in ``held`` go with it; a comment, a note or a bookmark only
    when no mark of it is left (a comment reaching kept words stays on them, see
    :func:`_keep_reaching_comments`).
    A link left elsewhere that leads to a bookmark that went is named too: it now leads
    nowhere. ``lead`` says what they went with ("the removed paragraphs"), for an edit's
    result; None words it as what an edit waiting for confirmation would also remove.
    """
    from docx.oxml.ns import qn

    kept_marks = {m.get(qn("w:id")) for e in left for m in e.iter(qn("w:commentReference"))}
    kept_notes = {
        (kind, m.get(qn("w:id")))
        for e in left
        for kind in _NOTE_KINDS
        for m in e.iter(qn(f"w:{kind}Reference"))
    }
    kept_names = {b.get(qn("w:name")) for e in left for b in e.iter(qn("w:bookmarkStart"))}
    marks = [m for m in dict.fromkeys(held.comments) if m not in kept_marks]
    names = [n for n in dict.fromkeys(held.bookmarks) if n and n not in kept_names]
    shown = [n for n in names if not n.startswith("_")]  # "_GoBack", "_Toc…" are Word's own
    items = [
        f"the link on “{_short(text)}”{f' (to {target})' if target else ''}"
        if text.strip()
        else f"a link{f' to {target}' if target else ''}"
        for text, target in held.links
    ]
    items += [_comment(part, mark) for mark in marks]
    items += [_note(part, *n) for n in dict.fromkeys(held.notes) if n not in kept_notes]
    unnamed: dict[str, int] = {}
    for kind, alt in held.pictures:
        if alt:
            items.append(f"the {kind} “{alt}”")
        else:
            unnamed[kind] = unnamed.get(kind, 0) + 1
    items += [f"a {kind}" if n == 1 else f"{n} {kind}s" for kind, n in unnamed.items()]
    for kind, n in collections.Counter(held.fields).items():
        name = f"{kind} field" if kind else "field"
        a = "an" if name[0] in "AEIOU" else "a"
        items.append(f"{a} {name}" if n == 1 else f"{n} {name}s")
    items += [f"the bookmark “{name}”" for name in shown]
    if len(items) > _MAX_NAMED:
        items = [*items[: _MAX_NAMED - 1], f"{len(items) - _MAX_NAMED + 1} more"]
    dangling: list[str] = []
    gone = set(names)
    for element in left:
        for link in element.iter(qn("w:hyperlink")):
            name = link.get(qn("w:anchor"))
            if name not in gone or len(dangling) >= 5:
                continue
            if name in shown:
                where = "that bookmark" if len(shown) == 1 else f"the bookmark “{name}”"
            else:
                where = f"a place in what {'was' if lead else 'would be'} removed"
            dangling.append(
                f"the link on “{_short(link.text)}” leads to {where} and "
                f"{'now leads' if lead else 'would lead'} nowhere"
            )
    if not items and not dangling:
        return None
    if items:
        said = f"Gone with {lead}: " if lead else "It would also remove "
        said += "; ".join([_and(items), *dangling]) + "."
    else:
        said = "; ".join(dangling) + "."
        said = said[0].upper() + said[1:]
    if lead:
        said += f" Undo brings {'it' if len(items) == 1 else 'them'} back."
    return said


def _kept_paragraph(element: Any, skip: set[int], forward: bool) -> Any | None:
    """The first w:p after (``forward``) or the last before the body child ``element`` that
    is not in one of the body children ``skip`` (by id()), or None."""
    from docx.oxml.ns import qn

    sibling = element
    while (sibling := sibling.getnext() if forward else sibling.getprevious()) is not None:
        if id(sibling) in skip:
            continue
        found = [sibling] if sibling.tag == qn("w:p") else sibling.findall(".//" + qn("w:p"))
        if found:
            return found[0] if forward else found[-1]
    return None


def _keep_reaching_comments(removed: list[Any], new: list[Any] | None = None) -> None:
    """Move the marks a comment has in the ``removed`` body children to the nearest kept
    paragraph that is not one of the ``new`` ones, when it has marks outside them too.

    Such a comment is on kept words as well, so it stays, on what is left of its range.
    Left where they were, its marks would go with the paragraph: a range end without its
    start, or a range without the reference Word shows the comment at, and the comment would
    be gone while part of it stays. A start goes to the beginning of the next kept paragraph,
    an end and the reference after it to the end of the previous one.
    """
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    if not removed:
        return
    gone = {id(e) for e in removed}
    tags = [qn(f"w:{tag}") for tag in _COMMENT_MARKS]
    body = removed[0].getparent()
    kept = {m.get(qn("w:id")) for e in body if id(e) not in gone for m in e.iter(*tags)}
    for element in removed:
        for mark in list(element.iter(*tags)):
            if mark.get(qn("w:id")) not in kept:
                continue
            start = mark.tag == qn("w:commentRangeStart")
            p = _kept_paragraph(element, gone | {id(e) for e in new or ()}, forward=start)
            if p is None:  # its marks were out of order; it goes as a whole
                continue
            if start:
                p.insert(1 if p.pPr is not None else 0, mark)
            elif mark.tag == qn("w:commentRangeEnd"):
                p.append(mark)
            else:  # the reference, in a run of its own (its run may hold words that go)
                run = OxmlElement("w:r")
                rpr = mark.getparent().find(qn("w:rPr"))
                if rpr is not None:
                    run.append(copy.deepcopy(rpr))
                run.append(mark)
                p.append(run)


def _marks(d: Any) -> dict[tuple[str, str], list[Any]]:
    """The comment marks and note references of the document ``d`` by (tag, id): those in
    its body, and in its footnotes and endnotes (a note can hold a comment)."""
    from docx.oxml.ns import qn

    roots = [d.element.body, *(_notes_root(d.part, kind) for kind in _NOTE_KINDS)]
    tags = [*_COMMENT_MARKS, *(f"{kind}Reference" for kind in _NOTE_KINDS)]
    out: dict[tuple[str, str], list[Any]] = {}
    for root in roots:
        for mark in root.iter(*(qn(f"w:{tag}") for tag in tags)) if root is not None else ():
            key = (mark.tag.rsplit("}", 1)[-1], mark.get(qn("w:id")) or "")
            out.setdefault(key, []).append(mark)
    return out


def _drop_orphans(d: Any, before: dict[tuple[str, str], list[Any]]) -> None:
    """Take out of the notes and comments parts of ``d`` what an edit left nothing in the
    text pointing to (``before``: :func:`_marks` before the edit).

    Word no longer shows a note or a comment whose marks went with their paragraph, but it
    keeps its words in the file: someone who deleted a paragraph to be rid of a remark
    would still be sending it. A comment goes with its reference (Word shows it there);
    what is left of its range goes too, and a kept comment whose range lost one end becomes
    a comment on its reference alone, rather than a range Word cannot close. python-docx
    can read and add comments but not remove one, so its w:comment is taken out of the part.
    """
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.ns import qn

    after = _marks(d)
    for kind in _NOTE_KINDS:
        root = _notes_root(d.part, kind)
        tag = f"{kind}Reference"
        gone = {i for t, i in before if t == tag and (t, i) not in after}
        for note in list(root.iterchildren(qn(f"w:{kind}")) if root is not None else ()):
            if note.get(qn("w:id")) in gone:
                root.remove(note)
    after = _marks(d)  # the notes that went took their comment marks
    comments = _story(d.part, RT.COMMENTS)
    for t, i in before:
        if t != "commentReference" or all(
            len(before.get((m, i), [])) == len(after.get((m, i), [])) for m in _COMMENT_MARKS
        ):
            continue  # not a comment, or one this edit left alone
        ranged = [*after.get(("commentRangeStart", i), []), *after.get(("commentRangeEnd", i), [])]
        referenced = bool(after.get((t, i)))
        if referenced and len({m.tag for m in ranged}) != 1:
            continue  # its range is whole, or it had none
        for mark in ranged:
            mark.getparent().remove(mark)
        comment = (
            comments.get_comment_by_id(int(i)) if comments is not None and i.isdigit() else None
        )
        if not referenced and comment is not None:
            comments.remove(comment)


def removal_note(
    doc: Document, blocks: list[Block] | None = None, lead: str | None = None
) -> str | None:
    """What removing ``blocks`` of ``doc`` (None: the whole document) would take with it
    that their words do not show, as :func:`_gone_note` words it; None if nothing.

    A Word paragraph can hold links, comments, footnotes, pictures, fields and bookmarks,
    and a person who agrees to "delete the Budget section" hears only its words: this is for
    the question that asks them, and for the result of overwriting a whole document.
    """
    if doc.kind != "docx" or doc.original is None:
        return None
    from docx.oxml.ns import qn

    d = _open_docx(doc.original)
    body = d.element.body
    if blocks is None:
        removed = [e for e in body if e.tag != qn("w:sectPr")]
    else:
        items = _body_items(d)
        elements = (items[b.source].element for b in blocks if b.source is not None)
        removed = list({id(e): e for e in elements}.values())  # a table once, for all its rows
    _keep_reaching_comments(removed)  # as the edit would
    ids = {id(e) for e in removed}
    return _gone_note(_held(removed, d.part), [e for e in body if id(e) not in ids], d.part, lead)


def reuse_paragraphs(old: list[Block], new: list[Block]) -> None:
    """Make each of the ``new`` blocks that mostly says what one of the ``old`` (.docx)
    paragraphs said an edit of that paragraph: it takes the old block's source.

    Replacing a section's body wrote every new paragraph afresh, so a link, a comment, a
    picture or bold words in a paragraph the new text only touched up went with the old
    one. As an edit, only its changed words are rewritten (see :func:`_set_paragraph_text`),
    like replace_paragraph's, and what is lost is said. Pairs keep their order (the writer
    keeps a kept paragraph where it is) and their kind (heading or not); paragraphs with
    the same text pair first, then each new one with the next old one sharing at least half
    its words.
    """
    olds = [b for b in old if not b.is_row and b.source is not None]

    def words(block: Block) -> list[str]:
        return re.findall(r"\w+", unicodedata.normalize("NFC", block.text).casefold())

    a, b = [words(o) for o in olds], [words(n) for n in new]
    pairs: list[tuple[int, int]] = []
    matcher = difflib.SequenceMatcher(None, [" ".join(w) for w in a], [" ".join(w) for w in b])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs += zip(range(i1, i2), range(j1, j2), strict=True)
        elif tag == "replace" and (i2 - i1) * (j2 - j1) <= 2500:  # a few hundred at most
            i = i1
            for j in range(j1, j2):
                for k in range(i, i2):
                    ratio = difflib.SequenceMatcher(None, a[k], b[j], autojunk=False).ratio()
                    if ratio >= 0.5 and olds[k].is_heading == new[j].is_heading:
                        pairs.append((k, j))
                        i = k + 1
                        break
    for i, j in pairs:
        if olds[i].is_heading == new[j].is_heading:
            new[j].source = olds[i].source


def _drop_field(begin: Any) -> None:
    """Remove the runs of the field that the w:fldChar ``begin`` starts, through its end,
    when they are side by side and show no text."""
    from docx.oxml.ns import qn

    runs: list[Any] = []
    depth = 0
    node = begin.getparent()
    while node is not None:
        if node.tag == qn("w:r"):
            if node.text:  # CT_R.text
                return
            runs.append(node)
            for char in node.iter(qn("w:fldChar")):
                kind = char.get(qn("w:fldCharType"))
                depth += (kind == "begin") - (kind == "end")
            if depth == 0:
                for run in runs:
                    run.getparent().remove(run)
                return
        node = node.getnext()


def _check_links(paragraph: Any, before: dict[Any, tuple[str, str]], notes: list[str]) -> None:
    """Say what an edit did to the paragraph's links; take out a link left with no text.

    A link whose words changed keeps covering the new words, and a note says so; one whose
    words all went (the new text replaced more than the link, see :func:`_host`) is removed,
    never silently: the note says where it led and how to get it back.
    """
    from docx.oxml.ns import qn

    after = _links(paragraph._p, paragraph.part)
    for element, (old, target) in before.items():
        new = after[element][0] if element in after else ""
        if new == old:
            continue
        to = f" (to {target})" if target else ""
        if new:
            notes.append(f"The link on “{_short(old)}”{to} now covers “{_short(new)}”.")
            continue
        if element.tag == qn("w:hyperlink") and element.getparent() is not None:
            rid = element.get(qn("r:id"))
            if rid:
                paragraph.part.drop_rel(rid)  # unless another link uses it too
            for child in list(element):
                if child.tag != qn("w:r") or any(c.tag != qn("w:rPr") for c in child):
                    element.addprevious(child)  # a bookmark or a picture stays, unlinked
            element.getparent().remove(element)
        elif element.tag == qn("w:fldChar") and element.getparent() is not None:
            _drop_field(element)
        notes.append(
            f"The link on “{_short(old)}”{to} is gone: the new text replaced more than the "
            f"linked words, so I could not tell which of them should carry it. Undo brings it "
            f"back; then change only the words inside the link."
        )


def _set_paragraph_text(paragraph: Any, text: str, notes: list[str]) -> None:
    """Change a paragraph's text, touching as little of it as possible.

    Only what differs is rewritten (see :func:`_text_changes`), inside the runs that held it,
    so replacing "2023" by "2024" keeps the bold phrase next to it bold. The paragraph's own
    runs and those inside hyperlinks make up its text; everything else stays as it is:
    hyperlinks (new words inside a link stay linked), bookmarks, comment ranges, fields,
    pictures. What happened to links whose words changed goes into ``notes``.
    """
    from docx.oxml.ns import qn

    p = paragraph._p
    links = _links(p, paragraph.part)
    old = paragraph.text
    if old:  # its runs' text, links' included
        touched = []
        for change in reversed(_text_changes(old, text)):
            runs, pos = [], 0
            for run in p.xpath("w:r | w:hyperlink/w:r"):
                n = len(run.text)
                if n:
                    runs.append((run, pos, pos + n))
                pos += n
            host, at = _host(runs, change, old)
            for run, s, e in runs:
                overlap = max(0, min(change.end, e) - max(change.start, s))
                if run is host:
                    _splice_run(run, at, at + overlap, change.new)
                elif overlap:
                    _splice_run(run, max(change.start, s) - s, min(change.end, e) - s, "")
                else:
                    continue
                touched.append(run)
        for run in touched:  # a run the edit emptied is clutter, and would keep a link alive
            if run.getparent() is not None and all(c.tag == qn("w:rPr") for c in run):
                run.getparent().remove(run)
        if paragraph.text == text:
            _check_links(paragraph, links, notes)
            return
    held = _held([p], paragraph.part)
    held.links = []  # _check_links tells of those
    _replace_paragraph_text(paragraph, text)
    _check_links(paragraph, links, notes)
    lead = "the old wording of a rewritten paragraph"
    note = _gone_note(held, [p.getroottree().getroot()], paragraph.part, lead)
    if note is not None:
        notes.append(note)


def _replace_paragraph_text(paragraph: Any, text: str) -> None:
    """Replace a paragraph's text, keeping its style and its first run's character format.

    The last resort of :func:`_set_paragraph_text`, should its edit not read back as ``text``.
    """
    from docx.oxml.ns import qn

    p = paragraph._p
    first_run = p.find(".//" + qn("w:r"))
    rpr = first_run.find(qn("w:rPr")) if first_run is not None else None
    for child in list(p):
        if child.tag != qn("w:pPr"):
            p.remove(child)
    run = paragraph.add_run(text)
    if rpr is not None:
        run._r.insert(0, copy.deepcopy(rpr))


def _check_rows(blocks: list[Block], before: dict[int | None, Block]) -> None:
    """Table rows are read-only: one goes only with its whole table, and nothing goes inside.

    The edit tools refuse such edits with a friendlier message first; this keeps the file
    from ever being written with numbering that no longer matches what was shown.
    """
    kept: dict[int | None, int] = {}
    for block in blocks:
        if block.is_row and block.source is not None:
            old = before.get(block.source)
            if old is None or (old.text, old.table) != (block.text, block.table):
                raise FormatError(TABLE_READ_ONLY)
            kept[block.table] = kept.get(block.table, 0) + 1
    for table, count in kept.items():
        if count != sum(1 for b in before.values() if b.table == table):
            raise FormatError(TABLE_READ_ONLY)
    for i, block in enumerate(blocks[1:-1], 1):
        if block.source is None and blocks[i - 1].is_row:
            after = next((b for b in blocks[i + 1 :] if b.source is not None), None)
            if after is not None and after.table == blocks[i - 1].table:
                raise FormatError(TABLE_READ_ONLY)


def _write_docx(doc: Document) -> bytes:
    import docx

    if doc.original is None:
        d = docx.Document()
        for block in doc.blocks:
            _new_paragraph(d, block)
    else:
        doc.notes.clear()
        d = _open_docx(doc.original)
        marks = _marks(d)
        items = _body_items(d)
        before = {b.source: b for b in _item_blocks(items)}
        _check_rows(doc.blocks, before)
        kept = {b.source for b in doc.blocks if b.source is not None}
        first_kept = next((b.source for b in doc.blocks if b.source is not None), None)
        anchor = None  # the element the next new paragraph goes after
        added: list[Any] = []
        for block in doc.blocks:
            if block.source is not None:
                item = items[block.source]
                paragraph = item.paragraph
                if paragraph is not None:
                    old = before.get(block.source)
                    if old is None or old.text != block.text:
                        _set_paragraph_text(paragraph, block.text, doc.notes)
                    if old is None or old.level != block.level:
                        paragraph.style = (
                            d.styles[_heading_style(d, block.level)] if block.level else None
                        )
                anchor = item.element  # after a row: after its table (no new rows inside)
                continue
            element = _new_paragraph(d, block)._p  # appended at the end of the body...
            if anchor is not None:
                anchor.addnext(element)  # ...then moved after the previous block
            elif first_kept is not None:
                items[first_kept].element.addprevious(element)
            anchor = element
            added.append(element)
        gone_tables = {b.table for s, b in before.items() if b.is_row and s not in kept}
        removed = [
            items[s].element for s, old in before.items() if s not in kept and not old.is_row
        ]
        paragraphs = len(removed)
        tables = {id(i.element): i.element for i in items if i.table in gone_tables}
        removed += tables.values()
        _keep_reaching_comments(removed, added)  # not onto new words: on the kept ones
        held = _held(removed, d.part)
        for element in removed:
            element.getparent().remove(element)
        what = [
            f"{noun}{'s' if n > 1 else ''}"
            for noun, n in (("paragraph", paragraphs), ("table", len(tables)))
            if n
        ]
        lead = f"the removed {' and '.join(what)}"
        note = _gone_note(held, [d.element.body], d.part, lead) if removed else None
        if note is not None:
            doc.notes.append(note)
        _drop_orphans(d, marks)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------- pdf


def _pdf_paragraphs(page_text: str) -> list[str]:
    """Rebuild paragraphs from extracted lines: blank lines, or a short line ending a sentence."""
    out: list[str] = []
    for chunk in re.split(r"\n[ \t]*\n", page_text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        long_lines = [len(line) for line in lines if len(line) > 20]
        typical = statistics.median(long_lines) if long_lines else 0
        current = ""
        for line in lines:
            if current.endswith("-") and line[:1].islower():
                current = current[:-1] + line
            else:
                current = f"{current} {line}" if current else line
            ends_sentence = line.endswith((".", "!", "?", ":", "\u201d", '"'))
            if typical and ends_sentence and len(line) < 0.7 * typical:
                out.append(current)
                current = ""
        if current:
            out.append(current)
    return out


def parse_pdf(data: bytes) -> list[Block]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FormatError("The PDF is password-protected, so I cannot read it.")
        blocks: list[Block] = []
        for page in reader.pages:
            blocks.extend(Block(text) for text in _pdf_paragraphs(page.extract_text() or ""))
        if not blocks and len(reader.pages):
            # "is empty" would be wrong: its pages are most likely pictures of text.
            pages = len(reader.pages)
            raise FormatError(
                f"It has {pages} page{'s' if pages != 1 else ''} but no text I can read: it is "
                f"probably scanned, and I cannot read the words in pictures. A copy with a "
                f"text layer (run it through OCR, or export it again from the original) would "
                f"work."
            )
    except FormatError:
        raise
    except (PyPdfError, ValueError, KeyError, OSError, TypeError) as exc:
        raise FormatError(f"The PDF could not be read ({exc}).") from None
    return blocks


# ------------------------------------------------------------------------- entry points


def parse(data: bytes, kind: Kind) -> Document:
    """Bytes of a file in ``kind`` format → Document."""
    if kind == "docx":
        return Document(kind, parse_docx(data), original=data)
    if kind == "pdf":
        return Document(kind, parse_pdf(data))
    text, bom, encoding = _decode(data)
    newline = "\r\n" if "\r\n" in text else "\r" if "\r" in text and "\n" not in text else "\n"
    found = _markdown_spans(text) if kind == "markdown" else _plain_spans(text)
    blocks = [Block(b.text, b.level, source=i) for i, (b, _, _) in enumerate(found)]
    spans = [Span(start, end, b.text, b.level) for b, start, end in found]
    return Document(
        kind, blocks, newline=newline, bom=bom, encoding=encoding, text=text, spans=spans
    )


def serialize(doc: Document) -> bytes:
    """Document → bytes in its own format; PDF is refused."""
    if doc.kind == "pdf":
        raise FormatError(PDF_READ_ONLY)
    if doc.kind == "text" and any(b.is_heading for b in doc.blocks):
        for block in doc.blocks:
            block.level = 0  # plain text has no headings; keep the words
    data = _write_docx(doc) if doc.kind == "docx" else _encode_text(doc)
    _check_reads_back(doc, data)
    return data


def _check_reads_back(doc: Document, data: bytes) -> None:
    """Refuse bytes that would not read back as ``doc.blocks``.

    Every edit announces paragraph numbers, and the next edit picks a paragraph by its number:
    a write whose blocks merged, split or moved would send that edit to the wrong text. The
    edit tools avoid such writes; this is the last check that they did, before the file is
    touched.
    """
    got = parse(data, doc.kind).blocks
    for n, (want, have) in enumerate(zip(doc.blocks, [*got, None], strict=False), 1):
        # Rows are compared as rows, not by table number: deleting a section with a table
        # in it renumbers the tables after it.
        if have is None or (want.text, want.level, want.is_row) != (
            have.text,
            have.level,
            have.is_row,
        ):
            shown = f"“{have.render()[:60]}”" if have is not None else "nothing"
            raise FormatError(
                f"This edit would not read back as intended: paragraph {n} would read {shown} "
                f"instead of “{want.render()[:60]}”, and the paragraph numbers would no longer "
                f"match. Nothing was changed; try rewording the text, or replace whole "
                f"paragraphs instead."
            )
    if len(got) != len(doc.blocks):
        raise FormatError(
            f"This edit would not read back as intended: the document would have "
            f"{len(got)} paragraphs instead of {len(doc.blocks)}, and the paragraph numbers "
            f"would no longer match. Nothing was changed; try rewording the text, or replace "
            f"whole paragraphs instead."
        )


def new_document(content: str, kind: Kind) -> bytes:
    """Bytes for a new document from Markdown-ish ``content``.

    Text formats are written as given (people and models both write Markdown already); .docx
    turns ``#`` lines into Heading styles and blank-line blocks into paragraphs.
    """
    if kind == "pdf":
        raise FormatError(PDF_READ_ONLY)
    content = clean_text(content)
    if kind == "docx":
        return _write_docx(Document("docx", text_to_blocks(content, kind)))
    body = content.strip("\n")
    return (body + "\n").encode("utf-8") if body else b""


# ------------------------------------------------------------------------- sections


def outline(blocks: list[Block]) -> list[int]:
    """Indexes of heading blocks."""
    return [i for i, b in enumerate(blocks) if b.is_heading]


def section_range(blocks: list[Block], heading: int) -> tuple[int, int]:
    """[start, end) of the section that starts at heading index ``heading``.

    A section runs to the next heading of the same or a higher level, so it includes its
    sub-sections.
    """
    level = blocks[heading].level
    end = heading + 1
    while end < len(blocks) and not (blocks[end].is_heading and blocks[end].level <= level):
        end += 1
    return heading, end


@functools.lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    folded = " ".join(text.split())
    text = re.sub(r"^\s*(\d+(\.\d+)*\.?|[ivx]+\.)\s+", "", text)  # "2. Costs" matches "costs"
    # A heading of only symbols ("✅", "—") has no words; it is matched as written, else
    # its section could not be named at all.
    return " ".join(re.sub(r"[^\w\s]", " ", text).split()) or folded


PATH_SEPARATOR = " › "
# What a path may be typed with: the outline's "›", or ">" when that is easier to type.
_PATH_SPLIT = re.compile(r"\s*[›>]\s*")
_OCCURRENCE = re.compile(r"^(.*\S)\s*#\s*(\d+)\s*$")  # "Notes #2": the second "Notes"
_TIERS: tuple[Callable[[str, str], bool], ...] = (
    lambda have, want: have == want,
    lambda have, want: have.startswith(want),
    lambda have, want: want in have,
)


def _parents(blocks: list[Block], headings: list[int]) -> dict[int, list[int]]:
    """For each heading, the headings of the sections it sits in, outermost first."""
    stack: list[int] = []
    out: dict[int, list[int]] = {}
    for i in headings:
        while stack and blocks[stack[-1]].level >= blocks[i].level:
            stack.pop()
        out[i] = list(stack)
        stack.append(i)
    return out


def _under(blocks: list[Block], parents: list[int], wanted: list[str], loose: bool) -> bool:
    """Whether ``wanted`` names some of ``parents``, in order (a path may skip levels)."""
    it = iter(parents)
    match = _TIERS[2] if loose else _TIERS[0]
    return all(any(match(_norm(blocks[p].text), want) for p in it) for want in wanted)


def _by_path(blocks: list[Block], tree: dict[int, list[int]], parts: list[str]) -> list[int]:
    """Headings the path ``parts`` names, at the closest match that names any.

    The last part is the heading, matched exactly, then by its start, then anywhere; the
    parts before it name sections it sits in, exactly where that narrows it down.
    """
    *above, last = [_norm(part) for part in parts]
    for loose in (False, True):
        for tier in _TIERS:
            found = [
                i
                for i, parents in tree.items()
                if tier(_norm(blocks[i].text), last) and _under(blocks, parents, above, loose)
            ]
            if found:
                return found
    return []


def _named(blocks: list[Block], tree: dict[int, list[int]], name: str) -> list[int]:
    """Headings ``name`` may mean: one when it says which, else the candidates.

    A name is first taken as a whole heading, so every name that picked a heading before
    paths and numbers existed picks the same one; only a name that picks none or several
    is read as a path ("Chapter 2 › Notes") and then as a numbered one ("Notes #2").
    """
    found = _by_path(blocks, tree, [name])
    if len(found) == 1:
        return found
    parts = _PATH_SPLIT.split(name)
    if len(parts) > 1 and all(_norm(part) for part in parts):
        by_path = _by_path(blocks, tree, parts)
        if len(by_path) == 1 or not found:
            found = by_path
        if len(found) == 1:
            return found
    if m := _OCCURRENCE.match(name):
        same = _named(blocks, tree, m.group(1))
        n = int(m.group(2))
        if 1 <= n <= len(same):
            return [same[n - 1]]
        if same:
            raise FormatError(
                f"There {'is' if len(same) == 1 else 'are'} only {len(same)} "
                f"section{'' if len(same) == 1 else 's'} called “{m.group(1)}”, so there is "
                f"no number {n}."
            )
    return found


def heading_names(blocks: list[Block]) -> dict[int, str]:
    """For each heading, a name that picks it and no other: its text when that is unique, else
    its path ("Chapter 2 › Notes"), else its number among those so called ("Notes #2").

    Two "Notes" under different chapters could not both be reached by name; this is what
    the outline shows and what a section= argument may say.
    """
    headings = outline(blocks)
    tree = _parents(blocks, headings)
    alike = collections.Counter(_norm(blocks[i].text) for i in headings)
    out: dict[int, str] = {}
    for i in headings:
        text = blocks[i].text
        if alike[_norm(text)] == 1:  # the text alone picks it: the first match is exact
            out[i] = text
            continue
        path = PATH_SEPARATOR.join([*(blocks[p].text for p in tree[i]), text])
        tries = [text, path]
        for base in (text, path):
            same = _named(blocks, tree, base)
            if i in same:
                tries.append(f"{base} #{same.index(i) + 1}")
        out[i] = next((t for t in tries if _picks(blocks, tree, t) == [i]), text)
    return out


def _picks(blocks: list[Block], tree: dict[int, list[int]], name: str) -> list[int]:
    try:
        return _named(blocks, tree, name)
    except FormatError:
        return []


def find_heading(blocks: list[Block], name: str) -> int:
    """Index of the heading called ``name``: exact, then unique prefix or substring match; a
    path ("Chapter 2 › Notes") or a number ("Notes #2") picks one of several so called."""
    headings = outline(blocks)
    if not headings:
        raise FormatError("This document has no headings, so it has no sections to pick from.")
    if not _norm(name):
        raise FormatError("The section name is empty.")
    found = _named(blocks, _parents(blocks, headings), name)
    if len(found) == 1:
        return found[0]
    if found:
        names = heading_names(blocks)
        listed = "; ".join(f"“{names[i]}” (paragraph {i + 1})" for i in found[:8])
        raise FormatError(
            f"More than one section matches “{name}”: {listed}. Say which one by the name "
            f"shown for it here."
        )
    names = "; ".join(f"“{blocks[i].text}”" for i in headings[:20])
    raise FormatError(f"There is no section called “{name}”. The headings are: {names}.")
