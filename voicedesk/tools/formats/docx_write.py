"""Writing Word .docx files: a new document, or an edit of the original file in place.

Untouched paragraphs keep their formatting, and tables, images and empty spacer paragraphs
survive; a changed paragraph keeps its style and is rewritten only where its words changed
(:mod:`voicedesk.tools.formats.docx_runs`), and what removed paragraphs took with them is
said (:mod:`voicedesk.tools.formats.docx_notes`).
"""

from __future__ import annotations

import copy
import difflib
import io
import re
import unicodedata
from typing import Any

from voicedesk.tools.formats.docx_emphasis import apply_emphasis
from voicedesk.tools.formats.docx_lists import (
    MAX_DEPTH,
    ListItem,
    Numbering,
    Typed,
    heading_level,
    list_item,
    make_item,
    num_pr,
    split_item,
    unlist,
)
from voicedesk.tools.formats.docx_notes import (
    check_links,
    drop_orphans,
    gone_note,
    held_in,
    keep_reaching_comments,
    marks_of,
    paragraph_links,
)
from voicedesk.tools.formats.docx_read import (
    body_items,
    has_unreachable_text,
    item_blocks,
    open_docx,
)
from voicedesk.tools.formats.docx_runs import host_run, splice_run, text_changes
from voicedesk.tools.formats.model import TABLE_READ_ONLY, Block, Document, FormatError


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


def _new_paragraph(d: Any, block: Block) -> tuple[Any, Typed | None]:
    """A paragraph for ``block`` at the end of the body, and the list item it is to be.

    A list item's marker is not written: Word draws it once the paragraph is made an item
    with :func:`make_item`, which needs the paragraph in its place, beside the list it joins.
    """
    typed = None if block.level else split_item(block.text)
    if typed is not None and typed.depth < MAX_DEPTH:  # deeper would read back less deep
        return d.add_paragraph(typed.content), typed
    style = _heading_style(d, block.level) if block.level else None
    return d.add_paragraph(block.text, style=style), None


def _continue_style(previous: Any | None, paragraph: Any, *, split: bool) -> None:
    """Give a new body paragraph the style Word would: a paragraph split from ``previous``
    (Enter inside it) has its style, so a quote replaced by two paragraphs is two quotes;
    one added after it (Enter at its end) has its style's next-paragraph style. A list
    item's style is not continued (the new paragraph is no item), nor a heading's, nor a
    style in a broken styles part."""
    if previous is None:
        return
    try:
        style = previous.style
        if not split and style is not None:
            style = style.next_paragraph_style
    except (KeyError, ValueError, AttributeError):
        return
    if style is None or style.name == "List Paragraph":
        return
    if heading_level((style.name or "").strip()) or num_pr(style.element)[0]:
        return  # it would read back as a heading or a list item, not as the text given
    paragraph.style = style


def _list_text(d: Any, paragraph: Any, old: Block | None, new: Block, was: ListItem | None) -> str:
    """The text an edited paragraph is to hold, making it a list item or an ordinary
    paragraph as ``new``'s marker says.

    A list item keeps its list (a changed marker kind or depth restyles it) and its marker
    stays out of the runs; an item written without a marker becomes an ordinary paragraph.
    An ordinary paragraph becomes an item only when a marker was added: one that already
    said "- " in its words (typed so, or written before lists were) keeps them.
    """
    typed = split_item(new.text)
    if typed is not None and typed.depth >= MAX_DEPTH and (was is None or typed.depth != was.depth):
        typed = None  # written at the deepest level, it would read back less deep: as typed
    if was is not None:
        if typed is None:
            unlist(paragraph)
            return new.text
        if (typed.numbered, typed.depth) != (was.numbered, was.depth):
            make_item(d, paragraph, typed)
        return typed.content
    if typed is not None and old is not None and split_item(old.text) is None:
        make_item(d, paragraph, typed)
        return typed.content
    return new.text


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


def _set_paragraph_text(paragraph: Any, text: str, notes: list[str]) -> None:
    """Change a paragraph's text, touching as little of it as possible.

    Only what differs is rewritten (see :func:`text_changes`), inside the runs that held it,
    so replacing "2023" by "2024" keeps the bold phrase next to it bold. The paragraph's own
    runs and those inside hyperlinks make up its text; everything else stays as it is:
    hyperlinks (new words inside a link stay linked), bookmarks, comment ranges, fields,
    pictures. What happened to links whose words changed goes into ``notes``.
    """
    from docx.oxml.ns import qn

    p = paragraph._p
    links = paragraph_links(p, paragraph.part)
    old = paragraph.text
    if old:  # its runs' text, links' included
        touched = []
        for change in reversed(text_changes(old, text)):
            runs, pos = [], 0
            for run in p.xpath("w:r | w:hyperlink/w:r"):
                n = len(run.text)
                if n:
                    runs.append((run, pos, pos + n))
                pos += n
            host, at = host_run(runs, change, old)
            for run, s, e in runs:
                overlap = max(0, min(change.end, e) - max(change.start, s))
                if run is host:
                    splice_run(run, at, at + overlap, change.new)
                elif overlap:
                    splice_run(run, max(change.start, s) - s, min(change.end, e) - s, "")
                else:
                    continue
                touched.append(run)
        for run in touched:  # a run the edit emptied is clutter, and would keep a link alive
            if run.getparent() is not None and all(c.tag == qn("w:rPr") for c in run):
                run.getparent().remove(run)
        if paragraph.text == text:
            check_links(paragraph, links, notes)
            return
    held = held_in([p], paragraph.part)
    held.links = []  # check_links tells of those
    _replace_paragraph_text(paragraph, text)
    check_links(paragraph, links, notes)
    lead = "the old wording of a rewritten paragraph"
    note = gone_note(held, [p.getroottree().getroot()], paragraph.part, lead)
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


def _unreachable(text: str) -> str:
    """Why a paragraph's words cannot be changed here, and what the person can do."""
    shown = " ".join(text.split())
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    return (
        f"The paragraph “{shown}” has words in a tracked change, a field, a smart tag or a "
        f"content control, which I cannot change without leaving the old words behind, so "
        f"nothing was changed. Ask the person to accept the tracked changes in Word (Review, "
        f"Accept) or to change it there; deleting the whole paragraph works."
    )


def _drop_if_empty(parent: Any) -> None:
    """A content control (or custom XML) whose last paragraph was removed goes with it: an
    empty one is an invisible box left in the body, and Word may refuse an empty sdtContent."""
    from docx.oxml.ns import qn

    block = (qn("w:p"), qn("w:tbl"), qn("w:sdt"), qn("w:customXml"))
    while parent.tag in (qn("w:sdtContent"), qn("w:customXml")):
        if any(child.tag in block for child in parent):
            return
        holder = parent.getparent() if parent.tag == qn("w:sdtContent") else parent
        above = holder.getparent()
        above.remove(holder)
        parent = above


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


def write_docx(doc: Document) -> bytes:
    import docx

    if doc.original is None:
        d = docx.Document()
        for block in doc.blocks:
            paragraph, typed = _new_paragraph(d, block)
            if typed is not None:
                make_item(d, paragraph, typed)
            apply_emphasis(paragraph, block)
    else:
        doc.notes.clear()
        d = open_docx(doc.original)
        marks = marks_of(d)
        items = body_items(d)
        numbering = Numbering(d.part)
        before = {b.source: b for b in item_blocks(items, numbering)}
        lists: dict[int, ListItem] = {}  # the list paragraphs, as they were
        for source, old_block in before.items():
            p_of = items[source].paragraph if source is not None else None
            found = list_item(p_of, numbering) if p_of is not None and not old_block.level else None
            if found is not None and source is not None:
                lists[source] = found
        _check_rows(doc.blocks, before)
        kept = {b.source for b in doc.blocks if b.source is not None}
        first_kept = next((b.source for b in doc.blocks if b.source is not None), None)
        anchor = None  # the element the next new paragraph goes after
        previous = None  # ...and the paragraph that is, if it is one and no list item
        added: list[Any] = []
        for block in doc.blocks:
            if block.source is not None:
                item = items[block.source]
                paragraph = item.paragraph
                if paragraph is not None:
                    old = before.get(block.source)
                    was = lists.get(block.source)
                    if old is None or old.level != block.level:
                        if was is not None:
                            unlist(paragraph)  # a heading with a bullet is no heading
                            was = None
                        paragraph.style = (
                            d.styles[_heading_style(d, block.level)] if block.level else None
                        )
                    if old is None or old.text != block.text:
                        if has_unreachable_text(paragraph._p):
                            raise FormatError(_unreachable(old.text if old else block.text))
                        text = block.text
                        if not block.level:
                            text = _list_text(d, paragraph, old, block, was)
                        if old is None or paragraph.text != text:
                            _set_paragraph_text(paragraph, text, doc.notes)
                        apply_emphasis(paragraph, block)
                    elif block.emphasis:
                        # the same words, made bold or italic ("budget" → "**budget**")
                        apply_emphasis(paragraph, block)
                anchor = item.element  # after a row: after its table (no new rows inside)
                previous = paragraph if paragraph is not None and not block.level else None
                if block.source in lists or split_item(block.text) is not None:
                    previous = None
                continue
            paragraph, typed = _new_paragraph(d, block)  # appended at the end of the body...
            element = paragraph._p
            if anchor is not None:
                anchor.addnext(element)  # ...then moved after the previous block
            elif first_kept is not None:
                items[first_kept].element.addprevious(element)
            if typed is not None:
                make_item(d, paragraph, typed)
            elif not block.level:
                split = block.split_from is not None and previous is not None
                _continue_style(previous, paragraph, split=split)
            apply_emphasis(paragraph, block)
            anchor = element
            previous = paragraph if typed is None and not block.level else None
            added.append(element)
        gone_tables = {b.table for s, b in before.items() if b.is_row and s not in kept}
        removed = [
            items[s].element
            for s, old in before.items()
            if s is not None and s not in kept and not old.is_row
        ]
        paragraphs = len(removed)
        tables = {id(i.element): i.element for i in items if i.table in gone_tables}
        removed += tables.values()
        keep_reaching_comments(removed, added)  # not onto new words: on the kept ones
        held = held_in(removed, d.part)
        for element in removed:
            parent = element.getparent()
            parent.remove(element)
            _drop_if_empty(parent)
        what = [
            f"{noun}{'s' if n > 1 else ''}"
            for noun, n in (("paragraph", paragraphs), ("table", len(tables)))
            if n
        ]
        lead = f"the removed {' and '.join(what)}"
        note = gone_note(held, [d.element.body], d.part, lead) if removed else None
        if note is not None:
            doc.notes.append(note)
        drop_orphans(d, marks)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()
