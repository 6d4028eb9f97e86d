"""Documents as a flat list of blocks (headings and paragraphs), read from and written to bytes.

The assistant talks about documents the way people do, "paragraph 3", "the Budget section", so
every format is reduced to the same shape: a list of :class:`Block`, each a heading (level 1-6)
or a paragraph, numbered from 1 in reading order. The functions here are pure (bytes in,
bytes out); file access and undo live in :mod:`voicedesk.tools.workspace`.

* Markdown: ``#`` headings; other blocks are separated by blank lines, fenced code stays whole.
* Plain text: blank-line separated paragraphs, no headings.
* Word .docx (python-docx): paragraphs styled "Heading N" (or "Title") are headings. Writing
  edits the original file in place, so untouched paragraphs keep their formatting, and
  tables, images and empty spacer paragraphs survive; a changed paragraph keeps its style and
  the character formatting of its first run.
* PDF (pypdf): read-only; text is split into paragraphs by blank lines and line shapes.
"""

from __future__ import annotations

import copy
import io
import re
import statistics
import unicodedata
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
    # .docx only: index of the body paragraph this block came from, so a write can change
    # just that paragraph and leave the rest of the file alone.
    source: int | None = None

    @property
    def is_heading(self) -> bool:
        return self.level > 0

    def render(self) -> str:
        """Markdown-style text: what read_document shows and what diffs compare."""
        return f"{'#' * self.level} {self.text}" if self.level else self.text


@dataclass
class Document:
    kind: Kind
    blocks: list[Block] = field(default_factory=list)
    newline: str = "\n"  # text formats keep their line endings
    bom: bool = False  # ...and their byte-order mark
    encoding: str = "utf-8"  # ...and their encoding (old Windows files are cp1252)
    original: bytes | None = None  # .docx: the file the blocks were read from


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

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """NFC, ``\\n`` line ends, no control characters (they are invalid in .docx XML)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", unicodedata.normalize("NFC", text))


def word_count(text: str) -> int:
    return len(text.split())


# ------------------------------------------------------------------------- markdown / text

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def parse_markdown(text: str) -> list[Block]:
    """Split Markdown into ATX headings and blank-line separated blocks."""
    blocks: list[Block] = []
    buf: list[str] = []
    fence: str | None = None

    def flush() -> None:
        if buf and any(line.strip() for line in buf):
            blocks.append(Block("\n".join(buf).strip("\n")))
        buf.clear()

    for line in text.split("\n"):
        if fence is not None:
            buf.append(line)
            if line.strip().startswith(fence):
                fence = None
                flush()
            continue
        if m := _FENCE.match(line):
            flush()
            buf.append(line)
            fence = m.group(1)[0] * len(m.group(1))
            continue
        if not line.strip():
            flush()
            continue
        if m := _HEADING.match(line):
            flush()
            blocks.append(Block((m.group(2) or "").strip(), level=len(m.group(1))))
            continue
        buf.append(line)
    flush()
    return blocks


def parse_plain(text: str) -> list[Block]:
    """Blank-line separated paragraphs; plain text has no headings."""
    chunks = re.split(r"\n[ \t]*\n", text)
    return [Block(chunk.strip("\n")) for chunk in chunks if chunk.strip()]


def text_to_blocks(text: str, kind: Kind) -> list[Block]:
    """Blocks for new content: Markdown syntax for .md and .docx, paragraphs for .txt."""
    text = clean_text(text)
    return parse_plain(text) if kind == "text" else parse_markdown(text)


def _decode(data: bytes) -> tuple[str, bool, str]:
    """Text, whether it had a BOM, and its encoding: UTF-8, else the usual legacy Windows one."""
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8-sig"), bom, "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), False, "cp1252"
    except UnicodeDecodeError:
        raise FormatError("The file is not UTF-8 text, so I cannot read it safely.") from None


def _encode_text(doc: Document) -> bytes:
    sep = "\n\n"
    if doc.kind == "markdown":
        body = sep.join(b.render() for b in doc.blocks)
    else:
        body = sep.join(b.text for b in doc.blocks)
    body = (body + "\n") if body else ""
    if doc.newline != "\n":
        body = body.replace("\n", doc.newline)
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


def parse_docx(data: bytes) -> list[Block]:
    blocks = []
    for i, paragraph in enumerate(_open_docx(data).paragraphs):
        text = paragraph.text
        if text.strip():
            blocks.append(Block(text, _docx_level(paragraph), source=i))
    return blocks


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
                run.text = chunk[min(b, end) - start :]
            elif a <= end:
                run.text = chunk[: a - start] + middle + chunk[min(b, end) - start :]
                placed = True
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


def _write_docx(doc: Document) -> bytes:
    import docx

    if doc.original is None:
        d = docx.Document()
        for block in doc.blocks:
            _new_paragraph(d, block)
    else:
        d = _open_docx(doc.original)
        paragraphs = d.paragraphs
        before = {b.source: b for b in parse_docx(doc.original)}
        kept = {b.source for b in doc.blocks if b.source is not None}
        first_kept = next((b.source for b in doc.blocks if b.source is not None), None)
        anchor = None  # the element the next new paragraph goes after
        for block in doc.blocks:
            if block.source is not None:
                paragraph = paragraphs[block.source]
                old = before.get(block.source)
                if old is None or old.text != block.text:
                    _set_paragraph_text(paragraph, block.text)
                if old is None or old.level != block.level:
                    paragraph.style = (
                        d.styles[_heading_style(d, block.level)] if block.level else None
                    )
                anchor = paragraph._p
                continue
            element = _new_paragraph(d, block)._p  # appended at the end of the body...
            if anchor is not None:
                anchor.addnext(element)  # ...then moved after the previous block
            elif first_kept is not None:
                paragraphs[first_kept]._p.addprevious(element)
            anchor = element
        for source in before:
            if source not in kept:
                element = paragraphs[source]._p
                element.getparent().remove(element)
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
    newline = "\r\n" if "\r\n" in text else "\n"
    text = text.replace("\r\n", "\n")
    blocks = parse_markdown(text) if kind == "markdown" else parse_plain(text)
    return Document(kind, blocks, newline=newline, bom=bom, encoding=encoding)


def serialize(doc: Document) -> bytes:
    """Document → bytes in its own format; PDF is refused."""
    if doc.kind == "pdf":
        raise FormatError(PDF_READ_ONLY)
    if doc.kind == "text" and any(b.is_heading for b in doc.blocks):
        for block in doc.blocks:
            block.level = 0  # plain text has no headings; keep the words
    if doc.kind == "docx":
        return _write_docx(doc)
    return _encode_text(doc)


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
    text = re.sub(r"^\s*(\d+(\.\d+)*\.?|[ivx]+\.)\s+", "", text)  # "2. Costs" matches "costs"
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


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
