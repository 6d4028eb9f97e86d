"""Word lists: bullet and numbered paragraphs, read with a Markdown marker and written as lists.

The model reads and writes Markdown, where a list item is "- item" or "1. item", while a Word
list item is a paragraph whose style or numbering ("List Bullet", w:numPr) draws the bullet or
number: its text holds no marker. So a list paragraph reads as its text behind a marker
("- ", "N. ", two spaces of indent per nesting level), and a block written with a marker
becomes a list paragraph with the marker taken off. The marker is never written into the
runs: Word draws it. The number is Word's count, not stored anywhere, so comparisons of
what an edit wrote with what reads back ignore it (:func:`unnumbered`).
"""

from __future__ import annotations

import contextlib
import copy
import re
from dataclasses import dataclass
from typing import Any

from voicedesk.tools.formats.model import Block
from voicedesk.tools.formats.text import LIST_MARKER

# "List Bullet", "List Number 2": the list styles of Word's own templates (and python-docx's).
_LIST_STYLE = re.compile(r"^list\s+(bullet|number)(?:\s+([2-9]))?$", re.IGNORECASE)
# "Heading 1" to "Heading 9": a heading's level (see :func:`heading_level`).
_HEADING_LEVEL = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
# A marker at the start of a block's text, with exactly the one space a read puts after it,
# so that an item whose own text starts with spaces keeps them.
_MARKER = re.compile(rf"^( *)({LIST_MARKER})[ \t]")
# A Markdown line that opens a list item (any spaces after the marker belong to it).
_ITEM_LINE = re.compile(rf"^( *)({LIST_MARKER})[ \t]+(\S.*)$")
# "- - -", "* * *": a thematic break in Markdown, not a list item.
_BREAK = re.compile(r"^ *(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_NUMBER = re.compile(r"^( *)\d{1,9}\. ")
# Nesting levels written: the styles "List Bullet" to "List Bullet 3". Deeper items are
# written at the third level (and read back so, see :func:`docx_items`).
MAX_DEPTH = 3


@dataclass(frozen=True)
class Typed:
    """A list item as a block's text says it: the marker's kind, how deep, the item's text."""

    numbered: bool
    depth: int
    content: str


@dataclass(frozen=True)
class ListItem:
    """A .docx list paragraph: its kind, nesting depth (0: top) and which list it is in."""

    numbered: bool
    depth: int
    key: tuple[str, str]  # ("num", numId), or ("style", name) when numbering says nothing


def split_item(text: str) -> Typed | None:
    """The list item a block's text starts with, or None (thematic breaks are no items)."""
    m = _MARKER.match(text)
    first = text.split("\n", 1)[0]
    if m is None or not text[m.end() :].strip() or _BREAK.match(first):
        return None
    return Typed(m.group(2)[0].isdigit(), len(m.group(1)) // 2, text[m.end() :])


def marked(item: Typed | ListItem, content: str, number: int = 1) -> str:
    """``content`` behind the marker it reads with."""
    return "  " * item.depth + (f"{number}. " if item.numbered else "- ") + content


def unnumbered(text: str) -> str:
    """``text`` with a numbered item's number left out: Word counts it, so an item inserted
    into a list renumbers the ones after it, and a typed "1." may read back as "3."."""
    return _NUMBER.sub(r"\1#. ", text)


def word_items(block: Block) -> list[Block]:
    """A Markdown block as .docx blocks: one per list item, each with a normalised marker.

    In Markdown a whole list is one blank-line separated block; in Word each item is a
    paragraph, so the block is split where items start (lines before the first item stay a
    paragraph of their own), continuation lines join their item, and markers are written
    the way a read shows them ("* x" as "- x", "2) x" as "2. x", two spaces per level), so
    the blocks read back as written. Depth follows indentation: an item indented two or more
    spaces past the one above it is nested in it.
    """
    if block.level or block.is_row:
        return [block]
    lines = block.text.split("\n")
    if lines[0].lstrip().startswith(("```", "~~~", "<", "|", ">")) or lines[0].startswith("    "):
        return [block]  # code, HTML, a table or a quote: not a list
    out: list[Block] = []
    plain: list[str] = []
    item: tuple[Typed, int, list[str]] | None = None  # kind and depth, number, its lines
    indents: list[int] = []  # the indentation of each open item, outermost first
    for line in lines:
        m = _ITEM_LINE.match(line)
        # CommonMark: an ordered list interrupts a paragraph only when it starts at 1, so
        # "We met in\n1984. It rained." stays one paragraph.
        starts = item is not None or not plain or not m or m.group(2)[:-1] in ("", "1")
        if m and not _BREAK.match(line) and starts and (item is not None or len(m.group(1)) <= 3):
            if item is not None:
                out.append(Block(marked(item[0], "\n".join(item[2]), item[1])))
            elif plain:
                out.append(Block("\n".join(plain)))
            indent = len(m.group(1))
            while indents and indent < indents[-1] + 2:
                indents.pop()
            depth = min(len(indents), MAX_DEPTH - 1)
            indents.append(indent)
            marker = m.group(2)
            numbered = marker[0].isdigit()
            item = (Typed(numbered, depth, ""), int(marker[:-1]) if numbered else 1, [m.group(3)])
        elif item is not None:
            item[2].append(line.strip())  # a continuation line of the item
        else:
            plain.append(line)
    if item is None:
        return [block]
    out.append(Block(marked(item[0], "\n".join(item[2]), item[1])))
    return out


def heading_level(style_name: str) -> int:
    """The heading level a paragraph style's name gives (0: none). Here rather than in the
    reader so that the reader can take the name from :meth:`Numbering.style_of`'s per-style
    cache: looking each paragraph's style up again is what made long documents slow to read."""
    if m := _HEADING_LEVEL.match(style_name):
        return min(int(m.group(1)), 6)  # Markdown has six levels
    return 1 if style_name.lower() == "title" else 0


def _style_chain(paragraph: Any) -> list[Any]:
    try:
        style = paragraph.style
    except (KeyError, AttributeError, ValueError):
        return []
    chain: list[Any] = []
    while style is not None and len(chain) < 10:  # basedOn may loop in a damaged file
        chain.append(style)
        try:
            style = style.base_style
        except (KeyError, AttributeError, ValueError):
            break
    return chain


@dataclass(frozen=True)
class Level:
    """One level of a Word list as numbering.xml defines it, for the number Word shows."""

    fmt: str | None  # w:numFmt: "decimal", "bullet", "none"…; None: not given
    start: int  # w:start (or a w:startOverride): the first number the level shows
    restart: int | None = None  # w:lvlRestart; None: after any shallower level's item


def _int(element: Any | None, default: int) -> int:
    """An element's w:val as a number: files from other programs may hold anything there."""
    from docx.oxml.ns import qn

    if element is None:
        return default
    try:
        return int(element.get(qn("w:val"), ""))
    except ValueError:
        return default


def _level(lvl: Any, base: Level | None = None) -> Level:
    """A w:lvl as a :class:`Level`; what a w:lvlOverride's w:lvl leaves out is ``base``'s.

    A missing w:start is 0, the standard's default. Word ignores a w:lvlRestart given in an
    override (MS-OI29500 2.1.282), so an override keeps ``base``'s.
    """
    from docx.oxml.ns import qn

    if base is None:
        restart = lvl.find(qn("w:lvlRestart"))
        base = Level(None, 0, _int(restart, -1) if restart is not None else None)
    fmt = lvl.find(qn("w:numFmt"))
    return Level(
        fmt.get(qn("w:val"), "decimal") if fmt is not None else base.fmt,
        _int(lvl.find(qn("w:start")), base.start),
        base.restart,
    )


def _levels(parent: Any) -> dict[int, Any]:
    """``parent``'s w:lvl elements by level (w:ilvl), skipping ones that give no level."""
    from docx.oxml.ns import qn

    out = {}
    for lvl in parent.iterchildren(qn("w:lvl")):
        if (ilvl := lvl.get(qn("w:ilvl"), "0")).isdigit():
            out[int(ilvl)] = lvl
    return out


@dataclass(frozen=True)
class WordList:
    """One w:num: the abstract list it counts in, its levels as its overrides leave them,
    and the levels whose overrides give a start (see :class:`Counter`)."""

    abstract_id: str
    levels: dict[int, Level]
    restarts: frozenset[int] = frozenset()


class Numbering:
    """What makes paragraphs list items in one document: numbering.xml's levels for each
    list (w:num, with its overrides), and the numbering each paragraph style gives.

    Each is read when first asked for, then kept: the writer makes one per item it adds,
    and a file may hold hundreds of w:num (one per list that restarts).
    Word counts a list per abstract definition, not per w:num: paragraphs of two w:num of
    one w:abstractNum count on as one list, and a w:num's w:lvlOverride that gives a start
    is how a list is made to start again (see :class:`Counter`).
    """

    def __init__(self, part: Any) -> None:
        from docx.opc.constants import RELATIONSHIP_TYPE as RT

        self._nums: dict[str, Any] | None = None  # w:num elements by numId, once needed
        self._abstracts: dict[str, Any] | None = None  # w:abstractNum elements by id
        self._abstract_levels: dict[str, dict[int, Level]] = {}
        self._lists: dict[str, WordList | None] = {}
        # Per style id: its name and the numbering it (or a style it is based on) gives.
        # Looking a paragraph's style up is slow in python-docx, and a document has few.
        self.styles: dict[str | None, tuple[str, str | None, int | None]] = {}
        self._part = part
        try:
            self._root = part.part_related_by(RT.NUMBERING).element
        except (KeyError, AttributeError, ValueError):
            self._root = None

    def word_list(self, num_id: str) -> WordList | None:
        """List ``num_id`` as numbering.xml defines it (None: it does not)."""
        if num_id not in self._lists:
            self._lists[num_id] = self._read_list(num_id)
        return self._lists[num_id]

    def _read_list(self, num_id: str) -> WordList | None:
        """A w:num's abstractNum levels as its w:lvlOverride elements change them (a whole
        w:lvl, then a w:startOverride, which wins where they disagree)."""
        from docx.oxml.ns import qn

        num = self._num(num_id)
        abstract_id = self._abstract_of(num)
        if num is None or abstract_id is None:
            return None
        abstract_id = self._linked(abstract_id)
        levels = dict(self._abstract(abstract_id))
        restarts = set()
        for override in num.iterchildren(qn("w:lvlOverride")):
            if not (ilvl := override.get(qn("w:ilvl"), "")).isdigit():
                continue
            n = int(ilvl)
            base = levels.get(n, Level(None, 0))
            lvl = override.find(qn("w:lvl"))
            if lvl is not None:
                base = _level(lvl, base)
            start = override.find(qn("w:startOverride"))
            if start is not None:
                base = Level(base.fmt, _int(start, base.start), base.restart)
            if lvl is not None or start is not None:
                levels[n] = base
                restarts.add(n)
        return WordList(abstract_id, levels, frozenset(restarts))

    def _num(self, num_id: str | None) -> Any | None:
        """The w:num element of ``num_id`` (None: numbering.xml has none)."""
        from docx.oxml.ns import qn

        if self._root is None or num_id is None:
            return None
        if self._nums is None:
            self._nums = {}
            for num in self._root.iterchildren(qn("w:num")):
                self._nums.setdefault(num.get(qn("w:numId")), num)
        return self._nums.get(num_id)

    @staticmethod
    def _abstract_of(num: Any | None) -> str | None:
        """The abstractNumId a w:num element names."""
        from docx.oxml.ns import qn

        ref = num.find(qn("w:abstractNumId")) if num is not None else None
        return ref.get(qn("w:val"), "") if ref is not None else None

    def _abstract_element(self, abstract_id: str) -> Any | None:
        """The w:abstractNum element of ``abstract_id`` (None: numbering.xml has none)."""
        from docx.oxml.ns import qn

        if self._abstracts is None:
            self._abstracts = {}
            for a in self._root.iterchildren(qn("w:abstractNum")) if self._root is not None else ():
                self._abstracts.setdefault(a.get(qn("w:abstractNumId"), ""), a)
        return self._abstracts.get(abstract_id)

    def _linked(self, abstract_id: str) -> str:
        """The abstractNum holding the levels of ``abstract_id``: one made for a list style
        holds only a w:numStyleLink to the style, whose own numbering names the one.

        Lists of one list style count as one list, as their abstractNum is the one.
        """
        from docx.oxml.ns import qn

        for _ in range(4):  # a damaged file may link in a loop
            element = self._abstract_element(abstract_id)
            link = element.find(qn("w:numStyleLink")) if element is not None else None
            if link is None:
                return abstract_id
            try:
                style = self._part.styles.element.get_by_id(link.get(qn("w:val"), ""))
            except (AttributeError, KeyError, ValueError):  # no styles to look in
                return abstract_id
            target = self._abstract_of(self._num(num_pr(style)[0] if style is not None else None))
            if target is None:
                return abstract_id
            abstract_id = target
        return abstract_id

    def _abstract(self, abstract_id: str) -> dict[int, Level]:
        """The levels of w:abstractNum ``abstract_id`` (none if the file lacks it)."""
        if abstract_id not in self._abstract_levels:
            found = self._abstract_element(abstract_id)
            levels = _levels(found) if found is not None else {}
            self._abstract_levels[abstract_id] = {n: _level(lvl) for n, lvl in levels.items()}
        return self._abstract_levels[abstract_id]

    def fmt(self, num_id: str, ilvl: int) -> str | None:
        """Level ``ilvl`` of list ``num_id``'s number format (None: numbering.xml does not
        say)."""
        word_list = self.word_list(num_id)
        level = word_list.levels.get(ilvl) if word_list is not None else None
        return level.fmt if level is not None else None

    def style_of(self, paragraph: Any) -> tuple[str, str | None, int | None]:
        """The name of ``paragraph``'s style, and the numId and level the style gives."""
        ppr = paragraph._p.pPr
        style_id = ppr.style if ppr is not None else None
        if style_id not in self.styles:
            chain = _style_chain(paragraph)
            num_id = ilvl = None
            for style in chain:
                s_id, s_lvl = num_pr(style.element)
                num_id = num_id if num_id is not None else s_id
                ilvl = ilvl if ilvl is not None else s_lvl
            name = ((chain[0].name or "") if chain else "").strip()
            self.styles[style_id] = (name, num_id, ilvl)
        return self.styles[style_id]


def num_pr(element: Any) -> tuple[str | None, int | None]:
    """The numId and level a w:p or w:style element's own w:numPr gives (None: not given)."""
    from docx.oxml.ns import qn

    ppr = element.find(qn("w:pPr"))
    numpr = ppr.find(qn("w:numPr")) if ppr is not None else None
    if numpr is None:
        return None, None
    num_id, ilvl = numpr.find(qn("w:numId")), numpr.find(qn("w:ilvl"))
    level = ilvl.get(qn("w:val")) if ilvl is not None else None
    return (
        num_id.get(qn("w:val")) if num_id is not None else None,
        int(level) if level is not None and level.isdigit() else None,
    )


def numbering_of(paragraph: Any, numbering: Numbering) -> tuple[str, str | None, int | None]:
    """A paragraph's style name, and the numId and level its w:numPr, or else its style's,
    gives (None: not given)."""
    num_id, ilvl = num_pr(paragraph._p)
    name, s_id, s_lvl = numbering.style_of(paragraph)
    return name, num_id if num_id is not None else s_id, ilvl if ilvl is not None else s_lvl


def list_item(paragraph: Any, numbering: Numbering) -> ListItem | None:
    """Whether a body paragraph is a list item, and of which kind, depth and list.

    Numbering set on the paragraph or by its style (following basedOn) makes it one, its
    kind read from numbering.xml's number format ("bullet" or a number); a "List Bullet" or
    "List Number" style name decides when there is no numbering to read (a style this module
    added) or it gives no format. numId 0 means numbering was switched off.
    """
    return _as_item(*numbering_of(paragraph, numbering), numbering)


def _as_item(
    name: str, num_id: str | None, ilvl: int | None, numbering: Numbering
) -> ListItem | None:
    """:func:`list_item` for a paragraph of style ``name`` given numbering ``num_id``, ``ilvl``."""
    if heading_level(name):
        return None  # numbered headings ("1.2 Costs") are headings
    m = _LIST_STYLE.match(name)
    by_name = m.group(1).lower() == "number" if m else None
    style_depth = int(m.group(2) or 1) - 1 if m else 0
    if num_id == "0":
        return None
    if num_id is None:
        if by_name is None:
            return None
        return ListItem(by_name, style_depth, ("style", name.casefold()))
    fmt = numbering.fmt(num_id, ilvl or 0)
    if fmt == "none":
        return None  # numbering that shows nothing
    numbered = fmt != "bullet" if fmt is not None else bool(by_name)
    return ListItem(numbered, style_depth + (ilvl or 0), ("num", num_id))


class Counter:
    """The numbers Word shows for the items of numbering.xml's lists, in document order.

    Word keeps one running number per level of each abstract list definition, whatever
    stands between its items (other paragraphs, headings, tables); the w:num a paragraph
    names only chooses how that list looks. A level starts again at its start value when
    an item of a shallower level of the same list comes (as w:lvlRestart says), and where a
    w:num whose override gives that level a start is first met: that is how Word writes
    "restart numbering", and how a later w:num of the same list "continues" instead.
    """

    def __init__(self, numbering: Numbering) -> None:
        self.numbering = numbering
        self.values: dict[str, dict[int, int]] = {}  # per list, per level: the last number
        self.met: set[tuple[str, int]] = set()  # (numId, level) already counted

    def count(self, num_id: str | None, ilvl: int | None) -> int | None:
        """Count a body paragraph (any, in order) given numbering ``num_id``, ``ilvl``, if
        numbering.xml defines that list: the number Word shows for it, or None."""
        if num_id is None or num_id == "0":  # no numbering, or numbering switched off
            return None
        word_list = self.numbering.word_list(num_id)
        return self.next(num_id, word_list, ilvl or 0) if word_list is not None else None

    def next(self, num_id: str, word_list: WordList, ilvl: int) -> int:
        """The number Word shows for the next item of list ``num_id`` at level ``ilvl``."""
        values = self.values.setdefault(word_list.abstract_id, {})
        restart = (num_id, ilvl) not in self.met and ilvl in word_list.restarts
        self.met.add((num_id, ilvl))
        level = word_list.levels.get(ilvl)
        n = values[ilvl] + 1 if ilvl in values and not restart else (level.start if level else 1)
        values[ilvl] = n
        for deeper in [d for d in values if d > ilvl]:
            if _restarts(word_list.levels.get(deeper), deeper, ilvl):
                del values[deeper]
        return n


def _restarts(level: Level | None, ilvl: int, after: int) -> bool:
    """Whether level ``ilvl`` starts again after an item at the shallower level ``after``.

    w:lvlRestart names (counting from 1) the deepest level whose items restart it, 0 for
    none: Word restarts after that level or any shallower one, and ignores a value that
    names no shallower level (MS-OI29500 2.1.282), as it does a missing one.
    """
    limit = level.restart if level is not None and level.restart is not None else ilvl
    if not 0 <= limit <= ilvl:
        limit = ilvl
    return after < limit


def docx_items(
    paragraphs: list[tuple[int | None, Any | None, bool]], numbering: Numbering
) -> dict[int, str]:
    """The marker of each list paragraph among a document's non-empty body items, by index.

    ``paragraphs`` holds each body item in order as (index, paragraph, reads): ``index`` is
    its block's (None for an empty paragraph or one in a table cell: Word numbers them all
    the same, but they are no block of their own); ``paragraph`` is None for a table row;
    ``reads`` is False for a heading, which counts in its list but reads as a heading.
    An item of a list numbering.xml defines reads with the number Word shows
    (:class:`Counter`); one that only its style's name makes numbered counts within its
    run of consecutive list items of the same list and depth, which a block of another kind
    ends. A shallower item ends the deeper runs under it. ``numbering`` is the document's,
    shared with the reader, whose heading levels filled its per-style cache already.
    """
    out: dict[int, str] = {}
    counter = Counter(numbering)
    counts: list[tuple[ListItem, int] | None] = []
    for i, paragraph, reads in paragraphs:
        found = numbering_of(paragraph, numbering) if paragraph is not None else None
        shown = counter.count(*found[1:]) if found is not None else None
        if i is None:
            continue
        item = _as_item(*found, numbering) if found is not None and reads else None
        if item is None:
            counts = []
            continue
        del counts[item.depth + 1 :]
        counts += [None] * (item.depth + 1 - len(counts))
        last = counts[item.depth]
        same = last is not None and (last[0].numbered, last[0].key) == (item.numbered, item.key)
        n = last[1] + 1 if same and last is not None else 1
        counts[item.depth] = (item, n)
        out[i] = marked(item, "", shown if shown is not None and item.key[0] == "num" else n)
    return out


# ------------------------------------------------------------------------------ writing


def _numbering(d: Any) -> Any:
    """numbering.xml's root, adding the part to a file that has none (python-docx cannot)."""
    from docx.opc.constants import CONTENT_TYPE as CT
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.oxml.ns import nsdecls
    from docx.oxml.parser import parse_xml
    from docx.parts.numbering import NumberingPart

    try:
        return d.part.part_related_by(RT.NUMBERING).element
    except KeyError:
        pass
    names = {str(part.partname) for part in d.part.package.iter_parts()}
    name = next(
        f"/word/numbering{n or ''}.xml"
        for n in range(len(names) + 1)
        if f"/word/numbering{n or ''}.xml" not in names
    )
    element = parse_xml(f"<w:numbering {nsdecls('w')}/>")
    part = NumberingPart(PackURI(name), CT.WML_NUMBERING, element, d.part.package)
    d.part.relate_to(part, RT.NUMBERING)
    return element


def _new_list(d: Any, numbered: bool, depth: int) -> int:
    """A new list definition in numbering.xml (made if missing), for a list style to use."""
    from docx.oxml.ns import nsdecls, qn
    from docx.oxml.parser import parse_xml

    numbering = _numbering(d)
    ids = [
        int(a.get(qn("w:abstractNumId"), "0")) for a in numbering.iterchildren(qn("w:abstractNum"))
    ]
    abstract_id = max(ids, default=-1) + 1
    fmt, text = ("decimal", "%1.") if numbered else ("bullet", "\u2022")
    left = 360 * (depth + 1)
    abstract = parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{abstract_id}">'
        '<w:multiLevelType w:val="singleLevel"/>'
        f'<w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>'
        f'<w:lvlText w:val="{text}"/><w:lvlJc w:val="left"/>'
        f'<w:pPr><w:ind w:left="{left}" w:hanging="360"/></w:pPr></w:lvl></w:abstractNum>'
    )
    # Schema order: w:numPicBullet, w:abstractNum, then w:num.
    last = list(numbering.iterchildren(qn("w:abstractNum")))
    first_num = next(numbering.iterchildren(qn("w:num")), None)
    if last:
        last[-1].addnext(abstract)
    elif first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    return int(numbering.add_num(abstract_id).numId)


def list_style(d: Any, numbered: bool, depth: int) -> str:
    """Name of the list style for an item, adding it when the file lacks one.

    Files Word saved hold only the styles they use, so "List Bullet" is often missing; the
    style added has numbering of its own, else the person would see a plain paragraph.
    """
    from docx.enum.style import WD_STYLE_TYPE

    depth = min(depth, MAX_DEPTH - 1)
    name = ("List Number" if numbered else "List Bullet") + (f" {depth + 1}" if depth else "")
    try:
        d.styles[name]
    except KeyError:
        style = d.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        with contextlib.suppress(KeyError):
            style.base_style = d.styles["Normal"]
        num_id = _new_list(d, numbered, depth)
        style.element.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = num_id
    return name


def _restart(d: Any, paragraph: Any) -> None:
    """Give a numbered paragraph a list of its own, counting from 1.

    All paragraphs of a "List Number" style share one list, so Word would count a second
    numbered list on from where the first stopped, while it reads (and the model wrote it)
    as starting at 1.
    """
    from docx.oxml.ns import qn

    num_id, ilvl = next(
        (got for s in _style_chain(paragraph) if (got := num_pr(s.element))[0] is not None),
        (None, None),
    )
    if num_id is None or not num_id.isdigit():
        return
    numbering = _numbering(d)
    try:
        abstract = numbering.num_having_numId(int(num_id)).find(qn("w:abstractNumId"))
    except KeyError:  # numbering.xml lacks the list the style names: leave it to Word
        return
    if abstract is None or not (abstract_id := abstract.get(qn("w:val"), "")).isdigit():
        return
    level = ilvl or 0
    fresh = numbering.add_num(int(abstract_id))
    fresh.add_lvlOverride(level).add_startOverride(1)
    numpr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    numpr.get_or_add_ilvl().val = level
    numpr.get_or_add_numId().val = int(fresh.numId)


def _neighbour(paragraph: Any, typed: Typed | ListItem, numbering: Numbering) -> Any | None:
    """The item of the same kind and depth that ``paragraph`` follows (else precedes) in
    its run of list paragraphs, items nested deeper in between: a new item beside it joins
    its list, looking and counting like it."""
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

    for step in ("getprevious", "getnext"):
        sibling = getattr(paragraph._p, step)()
        while sibling is not None and sibling.tag == qn("w:p"):
            other = Paragraph(sibling, paragraph._parent)
            item = list_item(other, numbering)
            if item is None or item.depth < typed.depth:
                break
            if item.depth == typed.depth:
                if item.numbered == typed.numbered:
                    return other
                break
            sibling = getattr(sibling, step)()
    return None


def make_item(d: Any, paragraph: Any, typed: Typed) -> None:
    """Make ``paragraph`` (in its place in the body) a list item of ``typed``'s kind and depth."""
    ppr = paragraph._p.get_or_add_pPr()
    if ppr.numPr is not None:
        ppr._remove_numPr()
    neighbour = _neighbour(paragraph, typed, Numbering(d.part))
    # Style ids are set as they are, not through Paragraph.style, which looks the style up
    # and scans every style for the default one: seconds for a thousand items.
    if neighbour is not None:
        theirs = neighbour._p.pPr
        ppr.style = theirs.style if theirs is not None else None
        if theirs is not None and theirs.numPr is not None:
            # an empty w:numPr first, in its place among the pPr children
            ppr.replace(ppr.get_or_add_numPr(), copy.deepcopy(theirs.numPr))
        return
    ppr.style = d.styles[list_style(d, typed.numbered, typed.depth)].style_id
    if typed.numbered:
        _restart(d, paragraph)


def unlist(paragraph: Any) -> None:
    """Make a list paragraph an ordinary one: the model wrote its text without a marker."""
    ppr = paragraph._p.pPr
    if ppr is not None and ppr.numPr is not None:
        ppr._remove_numPr()
    chain = _style_chain(paragraph)
    indented = bool(chain) and (chain[0].name or "").casefold() == "list paragraph"
    if indented or list_item(paragraph, Numbering(paragraph.part)) is not None:
        paragraph.style = None  # the numbering (or the list's indent) comes with its style
