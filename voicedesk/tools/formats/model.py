"""The document model every format is read into and written from: a document is a flat list
of blocks (headings and paragraphs) numbered in reading order, and the kinds of file there are.

Kept apart so that each format's reader and writer, the section lookup and the documents
server share these types without depending on one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

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
    # .docx only: the source of the paragraph a new one was split from, whose style it takes
    # (a quote replaced by two paragraphs is two quotes).
    split_from: int | None = None
    # .docx only: (start, end, ("bold", "italic")) spans of ``text`` whose Markdown emphasis
    # marks were taken out, to be made bold or italic when written (docx_emphasis).
    emphasis: list[tuple[int, int, tuple[str, ...]]] = field(default_factory=list)

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
        if name.endswith(".") and kind_ok(name.rstrip(".")):
            # "trailing.md." has the suffix "", which read as "has no extension"
            raise FormatError(
                f"{name} ends with a dot after its extension; did you mean "
                f"{name.rstrip('.')}? (Windows cannot open names ending in a dot.)"
            )
        shown = suffix or "no extension"
        # What to do too: told only what it could not do, the model gave up on a log file
        # that a copy named .txt would have let it read.
        raise FormatError(
            f"{name} has {shown}; I can only work with documents ending in {_SUPPORTED_TEXT}. "
            f"A copy saved with one of those endings can be used here (a log or CSV file as "
            f".txt, an old Word .doc as .docx from Word)."
        )
    return kind


def kind_ok(name: str) -> bool:
    """Whether ``name`` ends in a supported extension."""
    return PurePosixPath(name).suffix.lower() in SUFFIXES


def require_writable(name: str) -> Kind:
    kind = kind_for(name)
    if kind not in WRITABLE:
        raise FormatError(f"{name} is a PDF. {PDF_READ_ONLY}")
    return kind
