"""Reading Word .docx files (python-docx) into blocks.

Paragraphs styled "Heading N" (or "Title") are headings; list paragraphs read with a Markdown
marker ("- ", "1. "); each table row is one read-only block. The writer and the removal
bookkeeping open the file and walk its body the same way, so that a block's ``source`` means
the same body item to all of them.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, field
from typing import Any

from voicedesk.tools.formats.docx_lists import Numbering, docx_items, heading_level
from voicedesk.tools.formats.model import Block, FormatError

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def open_docx(data: bytes) -> Any:
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


def unpacked_sizes(data: bytes) -> tuple[int, int]:
    """(XML bytes, all bytes) a .docx unpacks to, as its zip directory declares them; (0, 0)
    when it is no zip (``open_docx`` says what is wrong). python-docx inflates every part
    into memory and parses the XML whole, so a small file can hold a bomb: 146 KB that
    unpacked to 28 MB of XML took 14 s and 560 MB. zipfile stops at the declared size, so
    the declaration bounds what is read."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0, 0
    xml = sum(i.file_size for i in infos if i.filename.lower().endswith((".xml", ".rels")))
    return xml, sum(i.file_size for i in infos)


@dataclass
class BodyItem:
    """One body paragraph or one table row of a .docx, in document order."""

    element: Any  # the w:p element, or the w:tbl element a row belongs to
    paragraph: Any | None = None  # python-docx Paragraph, for paragraphs
    table: int | None = None  # for rows: the number of the table in the body
    cells: list[str] = field(default_factory=list)  # for rows: the text of each cell
    # For a table's first row: every paragraph in the table (nested ones too), in order.
    # Word counts list paragraphs in cells with the body's, so the reader needs them.
    in_table: list[Any] = field(default_factory=list)


def body_items(d: Any) -> list[BodyItem]:
    """Body paragraphs and table rows in reading order (``Document.paragraphs`` skips tables)."""
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    items: list[BodyItem] = []
    tables = 0

    def walk(container: Any) -> None:
        nonlocal tables
        for child in container.iterchildren():
            if child.tag == qn("w:p"):
                items.append(BodyItem(child, paragraph=Paragraph(child, d._body)))
            elif child.tag == qn("w:tbl"):
                table = Table(child, d._body)
                for row, tr in enumerate(child.tr_lst):
                    # Each w:tc once: a merged cell is one cell, not repeated per grid column.
                    cells = [" ".join(_cell_text(tc).split()) for tc in tr.tc_lst]
                    items.append(BodyItem(child, table=tables, cells=cells))
                    if not row:
                        items[-1].in_table = [Paragraph(p, table) for p in child.iter(qn("w:p"))]
                tables += 1
            elif child.tag in (qn("w:sdt"), qn("w:customXml")):
                # A content control (or custom XML) around whole paragraphs, as templates
                # and forms have: Word shows its paragraphs as the body's, and so do we.
                for content in child.iterchildren(qn("w:sdtContent")):
                    walk(content)
                if child.tag == qn("w:customXml"):
                    walk(child)

    walk(d.element.body)
    return items


def item_blocks(items: list[BodyItem], numbering: Numbering) -> list[Block]:
    """The blocks of a document's body items; a list paragraph's text behind its marker
    ("- ", "N. ", see :mod:`voicedesk.tools.formats.docx_lists`).

    ``numbering`` is the document's, one for every reader of it (headings, lists, the
    writer's list bookkeeping), so that each style is looked up once between them:
    python-docx resolves a paragraph's style anew on every access, and a document has
    thousands of paragraphs but a handful of styles."""
    blocks = []
    # Each item as the list reader takes it: block index (None: no block), paragraph
    # (None: a table row), and whether it may read as a list item (not a heading).
    plain: list[tuple[int | None, Any | None, bool]] = []
    for i, item in enumerate(items):
        if item.paragraph is not None:
            text = shown_text(item.paragraph._p)
            if text.strip():
                level = heading_level(numbering.style_of(item.paragraph)[0])
                blocks.append(Block(text, level, source=i))
                plain.append((i, item.paragraph, not level))
            else:
                plain.append((None, item.paragraph, False))
            continue
        plain.extend((None, paragraph, False) for paragraph in item.in_table)
        if any(item.cells):
            blocks.append(Block(" | ".join(item.cells), source=i, table=item.table))
            plain.append((i, None, False))
    markers = docx_items(plain, numbering)
    for block in blocks:
        if block.source in markers:
            block.text = markers[block.source] + block.text
    return blocks


def parse_docx(data: bytes) -> list[Block]:
    d = open_docx(data)
    return item_blocks(body_items(d), Numbering(d.part))


# What python-docx reads as a run's text (Run.text). Everything else in a run (a picture, a
# field code, a footnote or comment mark, a symbol) reads as nothing and is left where it is.
RUN_TEXT = ("w:t", "w:tab", "w:br", "w:cr", "w:noBreakHyphen", "w:ptab")


# Where a paragraph's words sit that python-docx's Paragraph.text leaves out: a tracked
# insertion, a moved-to passage, a simple field's shown result, a smart tag, a custom-XML
# element, a content control inside the paragraph. Word shows them all. Text under a tracked
# deletion (w:del, w:moveFrom) is not shown, and a text box's paragraphs are their own.
_HIDDEN_HOSTS = ("w:ins", "w:moveTo", "w:fldSimple", "w:smartTag", "w:customXml", "w:sdt")
_NOT_SHOWN = ("w:del", "w:moveFrom")


def shown_text(p: Any) -> str:
    """A paragraph's text as Word shows it: its runs, those in links, and those that
    Paragraph.text skips (see ``_HIDDEN_HOSTS``), so reading and searching see every word.

    Hand-written because python-docx has no reader for these; a paragraph where they hold
    text is one :func:`has_unreachable_text` keeps the word-level editor away from."""
    from docx.oxml.ns import qn

    if not has_unreachable_text(p):
        return str(p.text)
    _, skip = _queries()
    out = []
    for run in p.iter(qn("w:r")):
        if _own(run, p, skip):
            out.append(run.text)
    return "".join(out)


def has_unreachable_text(p: Any) -> bool:
    """True when some of the paragraph's shown words are in runs the word-level editor does
    not reach (the paragraph's own runs and those in its links are all it changes)."""
    from docx.oxml.ns import qn

    hosts, skip = _queries()
    for host in p.xpath(hosts):
        for run in host.iter(qn("w:r")):
            if run.text and _own(run, p, skip):
                return True
    return False


@functools.cache
def _queries() -> tuple[str, frozenset[str]]:
    """The XPath to the hosts of hidden words and the tags of unshown ones, built once:
    every paragraph of every document read asks for them."""
    from docx.oxml.ns import qn

    hosts = "|".join(f".//{tag}" for tag in _HIDDEN_HOSTS)
    return hosts, frozenset(qn(tag) for tag in _NOT_SHOWN)


def _own(run: Any, p: Any, skip: frozenset[str]) -> bool:
    """The run belongs to ``p`` itself (not to a text box's paragraph inside it) and is not
    under a tracked deletion."""
    from docx.oxml.ns import qn

    node = run.getparent()
    while node is not None and node is not p:
        if node.tag in skip or node.tag == qn("w:p"):
            return False
        node = node.getparent()
    return node is p


def _cell_text(tc: Any) -> str:
    """A table cell's text as Word shows it (its paragraphs, see :func:`shown_text`)."""
    from docx.oxml.ns import qn

    return "\n".join(shown_text(p) for p in tc.iterchildren(qn("w:p")))
