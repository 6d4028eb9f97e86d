"""What .docx paragraphs hold beyond their words, and what an edit does to them.

Links, comments, footnotes and endnotes, pictures, fields and bookmarks do not show in the
text, so an edit that removes or rewrites paragraphs must name what goes with them
(:func:`gone_note`, :func:`removal_note`, :func:`check_links`), keep a comment that reaches
kept words on them (:func:`keep_reaching_comments`), and take out of the file the words of
comments and notes nothing points to any more (:func:`drop_orphans`).
"""

from __future__ import annotations

import collections
import copy
import re
from dataclasses import dataclass, field
from typing import Any

from voicedesk.tools.formats.docx_read import RUN_TEXT, body_items, open_docx
from voicedesk.tools.formats.model import Block, Document


def paragraph_links(p: Any, part: Any) -> dict[Any, tuple[str, str]]:
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
    text_tags = {qn(tag) for tag in RUN_TEXT}
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
class Held:
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


def held_in(elements: list[Any], part: Any) -> Held:
    """The links, comments, footnotes and endnotes, pictures, fields and bookmarks in
    ``elements`` (w:p and w:tbl of ``part``)."""
    from docx.oxml.ns import qn

    held = Held()
    for element in elements:
        for p in element.iter(qn("w:p")):  # the element itself, table cells, text boxes
            held.links += paragraph_links(p, part).values()
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


def gone_note(held: Held, left: list[Any], part: Any, lead: str | None) -> str | None:
    """One sentence naming what ``held`` had that is not among the ``left`` elements, or
    None when nothing is lost.

    Links, pictures and fields in ``held`` go with it; a comment, a note or a bookmark only
    when no mark of it is left (a comment reaching kept words stays on them, see
    :func:`keep_reaching_comments`).
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


def keep_reaching_comments(removed: list[Any], new: list[Any] | None = None) -> None:
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


def marks_of(d: Any) -> dict[tuple[str, str], list[Any]]:
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


def drop_orphans(d: Any, before: dict[tuple[str, str], list[Any]]) -> None:
    """Take out of the notes and comments parts of ``d`` what an edit left nothing in the
    text pointing to (``before``: :func:`marks_of` before the edit).

    Word no longer shows a note or a comment whose marks went with their paragraph, but it
    keeps its words in the file: someone who deleted a paragraph to be rid of a remark
    would still be sending it. A comment goes with its reference (Word shows it there);
    what is left of its range goes too, and a kept comment whose range lost one end becomes
    a comment on its reference alone, rather than a range Word cannot close. python-docx
    can read and add comments but not remove one, so its w:comment is taken out of the part.
    """
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.ns import qn

    after = marks_of(d)
    for kind in _NOTE_KINDS:
        root = _notes_root(d.part, kind)
        tag = f"{kind}Reference"
        gone = {i for t, i in before if t == tag and (t, i) not in after}
        if root is None:
            continue
        for note in list(root.iterchildren(qn(f"w:{kind}"))):
            if note.get(qn("w:id")) in gone:
                root.remove(note)
    after = marks_of(d)  # the notes that went took their comment marks
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
        if not referenced and comments is not None and comment is not None:
            comments.remove(comment)


def removal_note(
    doc: Document, blocks: list[Block] | None = None, lead: str | None = None
) -> str | None:
    """What removing ``blocks`` of ``doc`` (None: the whole document) would take with it
    that their words do not show, as :func:`gone_note` words it; None if nothing.

    A Word paragraph can hold links, comments, footnotes, pictures, fields and bookmarks,
    and a person who agrees to "delete the Budget section" hears only its words: this is for
    the question that asks them, and for the result of overwriting a whole document.
    """
    if doc.kind != "docx" or doc.original is None:
        return None
    from docx.oxml.ns import qn

    d = open_docx(doc.original)
    body = d.element.body
    if blocks is None:
        removed = [e for e in body if e.tag != qn("w:sectPr")]
    else:
        items = body_items(d)
        elements = (items[b.source].element for b in blocks if b.source is not None)
        removed = list({id(e): e for e in elements}.values())  # a table once, for all its rows
    keep_reaching_comments(removed)  # as the edit would
    ids = {id(e) for e in removed}
    return gone_note(held_in(removed, d.part), [e for e in body if id(e) not in ids], d.part, lead)


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


def check_links(paragraph: Any, before: dict[Any, tuple[str, str]], notes: list[str]) -> None:
    """Say what an edit did to the paragraph's links; take out a link left with no text.

    A link whose words changed keeps covering the new words, and a note says so; one whose
    words all went (the new text replaced more than the link, see :func:`host_run`) is removed,
    never silently: the note says where it led and how to get it back.
    """
    from docx.oxml.ns import qn

    after = paragraph_links(paragraph._p, paragraph.part)
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
