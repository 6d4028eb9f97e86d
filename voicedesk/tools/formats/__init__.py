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
  is deleted or replaced). List paragraphs (a "List Bullet"/"List Number" style, or
  numbering whose format numbering.xml gives) read behind a Markdown marker, "- " or "N. "
  (N counted within a run of items of one list; two spaces of indent per nesting level),
  and a new or edited paragraph written with one is made a list item with the marker left
  out of its words (:mod:`.docx_lists`); an item written without one becomes an ordinary
  paragraph. Writing edits the original file in place, so untouched paragraphs
  keep their formatting, and tables, images and empty spacer paragraphs survive; a changed
  paragraph keeps its style, and only its changed words are rewritten, in the runs that held
  them: the rest keeps its formatting, hyperlinks, bookmarks, comments, fields and pictures.
  New words that replace linked ones stay linked; a link whose words all went is removed
  and the edit's result says so (:attr:`Document.notes`). Removing whole paragraphs
  (deleting them, replacing a section's body, overwriting the document) takes their links,
  comments, footnotes and endnotes, pictures, fields and bookmarks too: the question before
  a deletion (:func:`removal_note`) and the result after name each one, and a link
  elsewhere left leading to a bookmark that went. The words of a comment or a note that
  went leave the file too (:func:`drop_orphans`); a comment that reaches kept words stays
  on them. A new section body's paragraph that mostly says what an old one said is an edit
  of it (:func:`reuse_paragraphs`), so what it holds stays.
* Searching text (:func:`find_all`) matches whatever the Unicode normalisation form
  ("café" finds a Mac's "cafe\u0301") and reports spans of the original text.
* PDF (pypdf): read-only; text is split into paragraphs by blank lines and line shapes.

The package has one module per job, and its dependencies point one way: these entry points
(:func:`parse`, :func:`serialize`, :func:`new_document`) use the formats, which use the model.

* :mod:`.model`: :class:`Block`, :class:`Document`, the kinds of file, :class:`FormatError`.
* :mod:`.text`: cleanup and Unicode-aware search.
* :mod:`.markdown`: Markdown and plain text, their encodings and the splice.
* :mod:`.docx_read`, :mod:`.docx_runs` (changing words in their runs), :mod:`.docx_notes`
  (links, comments, notes, pictures, fields and bookmarks), :mod:`.docx_lists` (bullet and
  numbered lists), :mod:`.docx_write`: Word.
* :mod:`.pdf`: PDF.
* :mod:`.sections`: sections and the names that pick their headings.

Callers use the names this package exports (``formats.parse``, ``formats.find_heading``...).
"""

from __future__ import annotations

from voicedesk.tools.formats.docx_lists import unnumbered
from voicedesk.tools.formats.docx_notes import removal_note
from voicedesk.tools.formats.docx_read import parse_docx
from voicedesk.tools.formats.docx_write import reuse_paragraphs, write_docx
from voicedesk.tools.formats.markdown import (
    decode_text,
    encode_text,
    heading_text,
    is_front_matter,
    markdown_spans,
    open_fence,
    parse_markdown,
    parse_plain,
    plain_spans,
    settle,
    text_to_blocks,
)
from voicedesk.tools.formats.model import (
    KIND_NAMES,
    PDF_READ_ONLY,
    SUFFIXES,
    TABLE_READ_ONLY,
    WRITABLE,
    Block,
    Document,
    FormatError,
    Kind,
    Span,
    kind_for,
    require_writable,
)
from voicedesk.tools.formats.pdf import parse_pdf
from voicedesk.tools.formats.sections import (
    PATH_SEPARATOR,
    find_heading,
    heading_names,
    norm_heading,
    outline,
    section_range,
)
from voicedesk.tools.formats.text import (
    clean_text,
    find_all,
    fold_for_search,
    fold_lookalikes,
    replace_all,
    unfolded_span,
    word_count,
)

__all__ = [
    "KIND_NAMES",
    "PATH_SEPARATOR",
    "PDF_READ_ONLY",
    "SUFFIXES",
    "TABLE_READ_ONLY",
    "WRITABLE",
    "Block",
    "Document",
    "FormatError",
    "Kind",
    "Span",
    "clean_text",
    "find_all",
    "find_heading",
    "fold_for_search",
    "fold_lookalikes",
    "heading_names",
    "heading_text",
    "is_front_matter",
    "kind_for",
    "new_document",
    "norm_heading",
    "open_fence",
    "outline",
    "parse",
    "parse_docx",
    "parse_markdown",
    "parse_pdf",
    "parse_plain",
    "removal_note",
    "replace_all",
    "require_writable",
    "reuse_paragraphs",
    "section_range",
    "serialize",
    "serialize_read_back",
    "settle",
    "text_to_blocks",
    "unfolded_span",
    "unnumbered",
    "word_count",
]


def parse(data: bytes, kind: Kind) -> Document:
    """Bytes of a file in ``kind`` format → Document."""
    if kind == "docx":
        return Document(kind, parse_docx(data), original=data)
    if kind == "pdf":
        return Document(kind, parse_pdf(data))
    text, bom, encoding = decode_text(data)
    newline = "\r\n" if "\r\n" in text else "\r" if "\r" in text and "\n" not in text else "\n"
    found = markdown_spans(text) if kind == "markdown" else plain_spans(text)
    blocks = [Block(b.text, b.level, source=i) for i, (b, _, _) in enumerate(found)]
    spans = [Span(start, end, b.text, b.level) for b, start, end in found]
    return Document(
        kind, blocks, newline=newline, bom=bom, encoding=encoding, text=text, spans=spans
    )


def serialize(doc: Document) -> bytes:
    """Document → bytes in its own format; PDF is refused."""
    return serialize_read_back(doc)[0]


def serialize_read_back(doc: Document) -> tuple[bytes, Document]:
    """Document → bytes in its own format, and those bytes parsed back; PDF is refused.

    The check that the bytes read back as ``doc.blocks`` parses them anyway; the editor
    shows the new paragraphs and opens the next edit from that parse rather than parsing
    the file twice more (a third of a second each on a 2 MB Markdown file). A text file's
    check reads again only the part the edit rewrote (:func:`_parse_spliced`).
    """
    if doc.kind == "pdf":
        raise FormatError(PDF_READ_ONLY)
    if doc.kind == "text" and any(b.is_heading for b in doc.blocks):
        for block in doc.blocks:
            block.level = 0  # plain text has no headings; keep the words
    data = write_docx(doc) if doc.kind == "docx" else encode_text(doc)
    return data, _check_reads_back(doc, data)


def _check_reads_back(doc: Document, data: bytes) -> Document:
    """``data`` parsed, or FormatError if it would not read back as ``doc.blocks``.

    Every edit announces paragraph numbers, and the next edit picks a paragraph by its number:
    a write whose blocks merged, split or moved would send that edit to the wrong text. The
    edit tools avoid such writes; this is the last check that they did, before the file is
    touched.
    """
    parsed = _parse_spliced(doc, data) or parse(data, doc.kind)
    got = parsed.blocks
    # Word numbers its list items itself: one inserted into a list renumbers those after it.
    same = unnumbered if doc.kind == "docx" else str
    for n, (want, have) in enumerate(zip(doc.blocks, [*got, None], strict=False), 1):
        # Rows are compared as rows, not by table number: deleting a section with a table
        # in it renumbers the tables after it.
        if have is None or (same(want.text), want.level, want.is_row) != (
            same(have.text),
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
    return parsed


def _parse_spliced(doc: Document, data: bytes) -> Document | None:
    """``data`` parsed as :func:`parse` would, reading again only the part an edit of a
    text file rewrote (:func:`.markdown._splice_text` copies the blocks before and after
    the change byte for byte); None where that cannot be told, for a whole parse.

    Reading back all of a 5 MB file took four fifths of an edit's half second. A block
    starts with nothing carried over from the lines before it (no paragraph or code fence
    open), so the text from the start of the last block kept before the change, to the
    end of the first kept after it, reads as it would in the whole file, and the rest is
    the blocks it was, moved by the change in length: provided that piece reads back with
    those two blocks where they were, which is checked.
    """
    if doc.kind not in ("markdown", "text") or doc.text is None or not doc.spans:
        return None
    old, spans = doc.text, doc.spans
    kept = [
        b.source is not None and (b.text, b.level) == (spans[b.source].text, spans[b.source].level)
        for b in doc.blocks
    ]
    head = 0  # blocks kept as they were at the start, each its own number
    while head < len(doc.blocks) and kept[head] and doc.blocks[head].source == head:
        head += 1
    tail = 0  # ...and at the end
    while (
        tail < len(doc.blocks) - head
        and kept[-1 - tail]
        and doc.blocks[-1 - tail].source == len(spans) - 1 - tail
    ):
        tail += 1
    if head == 0 and tail == 0:
        return None
    try:
        text, bom, encoding = decode_text(data)
    except FormatError:
        return None
    if (bom, encoding) != (doc.bom, doc.encoding) or len(spans) - tail < head:
        return None
    delta = len(text) - len(old)
    first = head - 1 if head else 0  # read again from the last block kept before the change
    after = len(spans) - tail  # the first kept after it (len(spans): none)
    start = spans[first].start if head else 0
    end = spans[after].end + delta if tail else len(text)
    if start > end or not text.startswith(old[: spans[first].end if head else 0]):
        return None
    if tail and not text.endswith(old[spans[after].start :]):
        return None
    piece = text[start:end]
    found = (
        markdown_spans(piece, front_matter=start == 0)
        if doc.kind == "markdown"
        else plain_spans(piece)
    )
    middle = [Span(s + start, e + start, b.text, b.level) for b, s, e in found]
    if head and (not middle or middle[0] != spans[first]):
        return None  # the block before the change did not read back where it was
    if tail and (not middle or middle[-1] != _moved(spans[after], delta)):
        return None
    moved = spans[after + 1 :]
    if delta:
        moved = [_moved(sp, delta) for sp in moved]
    # the spans kept before the change are the very ones (they are never changed)
    new_spans = [*spans[:first], *middle, *moved]
    newline = "\r\n" if "\r\n" in text else "\r" if "\r" in text and "\n" not in text else "\n"
    return Document(
        doc.kind,
        [Block(sp.text, sp.level, source=i) for i, sp in enumerate(new_spans)],
        newline=newline,
        bom=bom,
        encoding=encoding,
        text=text,
        spans=new_spans,
    )


def _moved(span: Span, delta: int) -> Span:
    return Span(span.start + delta, span.end + delta, span.text, span.level)


def new_document(content: str, kind: Kind) -> bytes:
    """Bytes for a new document from Markdown-ish ``content``.

    Text formats are written as given (people and models both write Markdown already); .docx
    turns ``#`` lines into Heading styles and blank-line blocks into paragraphs.
    """
    if kind == "pdf":
        raise FormatError(PDF_READ_ONLY)
    content = clean_text(content)
    if kind == "docx":
        return write_docx(Document("docx", text_to_blocks(content, kind)))
    body = content.strip("\n")
    return (body + "\n").encode("utf-8") if body else b""
