"""Reading Word .docx files (python-docx) into blocks.

Paragraphs styled "Heading N" (or "Title") are headings; list paragraphs read with a Markdown
marker ("- ", "1. "); each table row is one read-only block. The writer and the removal
bookkeeping open the file and walk its body the same way, so that a block's ``source`` means
the same body item to all of them.
"""

from __future__ import annotations

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
    from docx.table import Table, _Cell
    from docx.text.paragraph import Paragraph

    items: list[BodyItem] = []
    tables = 0
    for child in d.element.body.iterchildren():
        if child.tag == qn("w:p"):
            items.append(BodyItem(child, paragraph=Paragraph(child, d._body)))
        elif child.tag == qn("w:tbl"):
            table = Table(child, d._body)
            for row, tr in enumerate(child.tr_lst):
                # Each w:tc once: a merged cell is one cell, not repeated per grid column.
                cells = [" ".join(_Cell(tc, table).text.split()) for tc in tr.tc_lst]
                items.append(BodyItem(child, table=tables, cells=cells))
                if not row:
                    items[-1].in_table = [Paragraph(p, table) for p in child.iter(qn("w:p"))]
            tables += 1
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
            text = item.paragraph.text
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
