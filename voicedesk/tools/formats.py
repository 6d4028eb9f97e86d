"""Documents as a flat list of blocks (headings and paragraphs), read from and written to bytes.

The assistant talks about documents the way people do, "paragraph 3", "the Budget section", so
every format is reduced to the same shape: a list of :class:`Block`, each a heading (level 1-6)
or a paragraph, numbered from 1 in reading order. The functions here are pure (bytes in,
bytes out); file access and undo live in :mod:`voicedesk.tools.workspace`.

* Markdown: ``#`` headings; other blocks are separated by blank lines, fenced code stays whole.
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
  paragraph keeps its style and the character formatting of its first run.
* PDF (pypdf): read-only; text is split into paragraphs by blank lines and line shapes.
"""

from __future__ import annotations

import copy
import io
import re
import statistics
import unicodedata
from collections.abc import Iterator
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


def word_count(text: str) -> int:
    """Whitespace-separated words; the bars between table cells are not words."""
    return sum(1 for word in text.split() if word.strip("|"))


# ------------------------------------------------------------------------- markdown / text

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


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


def _markdown_spans(text: str) -> list[tuple[Block, int, int]]:
    """ATX headings and blank-line separated blocks, each with its place in ``text``."""
    out: list[tuple[Block, int, int]] = []
    buf: list[tuple[int, int, str]] = []
    fence: str | None = None

    def flush() -> None:
        if buf and any(line.strip() for _, _, line in buf):
            out.append(_block_of(buf))
        buf.clear()

    for start, end, line in _lines(text):
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


def heading_text(text: str) -> str:
    """What a Markdown heading saying ``text`` reads back as: a closing ``##`` is layout."""
    m = _HEADING.match("# " + text)
    return (m.group(2) or "").strip() if m else text.strip()


def parse_markdown(text: str) -> list[Block]:
    """Split Markdown into ATX headings and blank-line separated blocks."""
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


def settle(block: Block, kind: Kind) -> list[Block] | None:
    """The blocks ``block`` reads back as once written among others (none: it is empty).

    None when it would also swallow the paragraphs after it (a code fence left open). An edit
    that changes a block's text in place (find_replace) checks this first: a replacement can
    empty a paragraph, split it at a blank line, or make a line start with ``#`` or a fence.
    """
    if kind in ("docx", "pdf"):
        return (
            [Block(block.text, block.level, block.source, block.table)]
            if block.text.strip()
            else []
        )
    shown = _heading_line(block) if kind == "markdown" and block.level else block.text
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
        shown = _heading_line(block) if doc.kind == "markdown" and block.level else block.text
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
            pass  # new text the legacy encoding cannot hold; UTF-8 holds everything
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


def _open_docx(data: bytes) -> Any:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

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


def _set_paragraph_text(paragraph: Any, text: str) -> None:
    """Change a paragraph's text, touching as few runs as possible.

    Only the span that differs (after the common prefix and suffix) is rewritten, inside the
    run where it starts, so replacing "2023" by "2024" keeps the bold phrase next to it bold.
    Paragraphs whose text is not plain runs (hyperlinks, fields) are rewritten whole, keeping
    the first run's character format.
    """
    runs = list(paragraph.runs)
    old = paragraph.text
    if runs and "".join(r.text for r in runs) == old:
        pre = 0
        limit = min(len(old), len(text))
        while pre < limit and old[pre] == text[pre]:
            pre += 1
        suf = 0
        while suf < limit - pre and old[-1 - suf] == text[-1 - suf]:
            suf += 1
        a, b = pre, len(old) - suf
        middle = text[pre : len(text) - suf]
        pos = 0
        placed = False
        for run in runs:
            chunk = run.text
            start, end = pos, pos + len(chunk)
            pos = end
            if placed:
                if start >= b:
                    break
                new = chunk[min(b, end) - start :]
            elif a <= end:
                new = chunk[: a - start] + middle + chunk[min(b, end) - start :]
                placed = True
            else:
                continue
            # Setting a run's text clears all its content: a picture in a run with no text
            # of its own would go with it, so runs whose text stays the same are left alone.
            if new != chunk:
                run.text = new
        if placed and paragraph.text == text:
            return
    _replace_paragraph_text(paragraph, text)


def _replace_paragraph_text(paragraph: Any, text: str) -> None:
    """Replace a paragraph's text, keeping its style and its first run's character format."""
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
        d = _open_docx(doc.original)
        items = _body_items(d)
        before = {b.source: b for b in _item_blocks(items)}
        _check_rows(doc.blocks, before)
        kept = {b.source for b in doc.blocks if b.source is not None}
        first_kept = next((b.source for b in doc.blocks if b.source is not None), None)
        anchor = None  # the element the next new paragraph goes after
        for block in doc.blocks:
            if block.source is not None:
                item = items[block.source]
                paragraph = item.paragraph
                if paragraph is not None:
                    old = before.get(block.source)
                    if old is None or old.text != block.text:
                        _set_paragraph_text(paragraph, block.text)
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
        gone_tables = {b.table for s, b in before.items() if b.is_row and s not in kept}
        for source, old in before.items():
            if source not in kept and not old.is_row:
                element = items[source].paragraph._p
                element.getparent().remove(element)
        for item in items:
            if item.table in gone_tables and item.element.getparent() is not None:
                item.element.getparent().remove(item.element)
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


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    folded = " ".join(text.split())
    text = re.sub(r"^\s*(\d+(\.\d+)*\.?|[ivx]+\.)\s+", "", text)  # "2. Costs" matches "costs"
    # A heading of only symbols ("✅", "—") has no words; it is matched as written, else
    # its section could not be named at all.
    return " ".join(re.sub(r"[^\w\s]", " ", text).split()) or folded


def find_heading(blocks: list[Block], name: str) -> int:
    """Index of the heading called ``name``: exact, then unique prefix or substring match."""
    headings = outline(blocks)
    if not headings:
        raise FormatError("This document has no headings, so it has no sections to pick from.")
    wanted = _norm(name)
    if not wanted:
        raise FormatError("The section name is empty.")
    for match in (
        lambda h: _norm(h) == wanted,
        lambda h: _norm(h).startswith(wanted),
        lambda h: wanted in _norm(h),
    ):
        found = [i for i in headings if match(blocks[i].text)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = "; ".join(f"“{blocks[i].text}” (paragraph {i + 1})" for i in found[:8])
            raise FormatError(
                f"More than one section matches “{name}”: {names}. Say which one by its full "
                f"heading."
            )
    names = "; ".join(f"“{blocks[i].text}”" for i in headings[:20])
    raise FormatError(f"There is no section called “{name}”. The headings are: {names}.")
