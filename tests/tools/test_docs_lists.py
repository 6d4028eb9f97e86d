"""Word lists: Markdown list items become Word list paragraphs, and Word lists read back with
their markers, through the tools the model calls (:class:`DocsTools`) on real .docx files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import nsdecls, qn
from docx.oxml.parser import parse_xml

from voicedesk.tools import formats
from voicedesk.tools.docs_server import DocsTools


def put(tools: DocsTools, name: str, d: Any) -> Path:
    buf = io.BytesIO()
    d.save(buf)
    path = tools.ws.root / name
    path.write_bytes(buf.getvalue())
    tools.read_document(name)
    return path


def read(tools: DocsTools, name: str) -> list[str]:
    return tools.read_document(name).splitlines()[1:]


def paragraphs(path: Path) -> list[tuple[str, str]]:
    """Each body paragraph's style and text, as Word has them (no marker in the text)."""
    return [(p.style.name, p.text) for p in docx.Document(str(path)).paragraphs]


def num_id(paragraph: Any) -> str | None:
    ppr = paragraph._p.pPr
    if ppr is None or ppr.numPr is None or ppr.numPr.numId is None:
        return None
    return str(ppr.numPr.numId.val)


def test_created_lists_are_word_lists_and_read_back_with_markers(tools: DocsTools) -> None:
    content = (
        "# Shopping\n\nWe need:\n- milk\n* eggs\n  - brown ones\n+ bread\n\n"
        "1. Go out\n2) Buy it\n3. Come back\n\nThen:\n\n1. Cook"
    )
    tools.create_document("list.docx", content)
    path = tools.ws.root / "list.docx"
    assert paragraphs(path) == [
        ("Heading 1", "Shopping"),
        ("Normal", "We need:"),
        ("List Bullet", "milk"),
        ("List Bullet", "eggs"),
        ("List Bullet 2", "brown ones"),
        ("List Bullet", "bread"),
        ("List Number", "Go out"),
        ("List Number", "Buy it"),
        ("List Number", "Come back"),
        ("Normal", "Then:"),
        ("List Number", "Cook"),
    ]
    assert read(tools, "list.docx") == [
        "[1] # Shopping",
        "[2] We need:",
        "[3] - milk",
        "[4] - eggs",
        "[5]   - brown ones",
        "[6] - bread",
        "[7] 1. Go out",
        "[8] 2. Buy it",
        "[9] 3. Come back",
        "[10] Then:",
        "[11] 1. Cook",
    ]
    # The second numbered list counts from 1 in Word too, not on from the first's 3.
    ps = docx.Document(str(path)).paragraphs
    assert num_id(ps[6]) == num_id(ps[8]) != num_id(ps[10])
    # Markers are no words.
    assert tools.count("list.docx").startswith("list.docx has 16 words")


def test_lists_made_in_word_read_with_markers(tools: DocsTools) -> None:
    d = docx.Document()
    d.add_paragraph("Steps", style="Heading 1")
    for text in ("First", "Second"):
        d.add_paragraph(text, style="List Number")
    d.add_paragraph("Nested", style="List Bullet 2")
    d.add_paragraph("Third", style="List Number")
    d.add_paragraph("A note.")
    d.add_paragraph("Again", style="List Number")
    d.add_paragraph("Dot", style="List Bullet")
    # Numbering set on the paragraph (as Word's toolbar buttons do): numbering.xml says
    # whether it shows bullets or numbers, whatever the style.
    bullet = d.styles["List Bullet"].element.pPr.numPr.numId.val
    decimal = d.styles["List Number"].element.pPr.numPr.numId.val
    for text, num in (("Toolbar one", decimal), ("Toolbar two", decimal), ("Toolbar dot", bullet)):
        numbered(d, text, num)
    off = d.add_paragraph("Numbering switched off", style="List Bullet")
    off._p.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = 0
    heading = d.add_paragraph("Numbered heading", style="Heading 2")
    heading._p.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = decimal
    put(tools, "word.docx", d)
    assert read(tools, "word.docx") == [
        "[1] # Steps",
        "[2] 1. First",
        "[3] 2. Second",
        "[4]   - Nested",
        "[5] 3. Third",
        "[6] A note.",
        # Every "List Number" paragraph and the toolbar's decimal ones share one w:num: Word
        # counts them as one list, across the note and the bullets between.
        "[7] 4. Again",
        "[8] - Dot",
        "[9] 5. Toolbar one",
        "[10] 6. Toolbar two",
        "[11] - Toolbar dot",
        "[12] Numbering switched off",
        "[13] ## Numbered heading",
    ]
    # An item added beside a list the toolbar made joins that list: same style, same numbering.
    tools.edit_document("word.docx", "insert_paragraph", paragraph=11, text="- Toolbar dot two")
    ps = docx.Document(str(tools.ws.root / "word.docx")).paragraphs
    assert (ps[11].style.name, ps[11].text, num_id(ps[11])) == (
        "List Paragraph",
        "Toolbar dot two",
        str(bullet),
    )


def test_editing_a_list_item_keeps_it_a_list_item(tools: DocsTools) -> None:
    d = docx.Document()
    p = d.add_paragraph("Buy ", style="List Bullet")
    p.add_run("fresh").bold = True
    p.add_run(" milk")
    d.add_paragraph("Bake bread", style="List Number")
    d.add_paragraph("Eat", style="List Number")
    path = put(tools, "edit.docx", d)

    tools.edit_document("edit.docx", "replace_paragraph", paragraph=1, text="- Buy fresh oat milk")
    p = docx.Document(str(path)).paragraphs[0]
    assert (p.style.name, p.text) == ("List Bullet", "Buy fresh oat milk")  # no "- " in the runs
    assert [r.text for r in p.runs if r.bold] == ["fresh"]  # only the changed words rewritten
    tools.edit_document("edit.docx", "find_replace", find="bread", replace_with="a cake")
    assert paragraphs(path)[1] == ("List Number", "Bake a cake")
    # The number the model types is Word's business: "5." edits item 2 all the same.
    tools.edit_document("edit.docx", "replace_paragraph", paragraph=2, text="5. Bake a pie")
    assert read(tools, "edit.docx") == [
        "[1] - Buy fresh oat milk",
        "[2] 1. Bake a pie",
        "[3] 2. Eat",
    ]
    assert paragraphs(path)[1] == ("List Number", "Bake a pie")


def test_markers_make_and_unmake_list_items(tools: DocsTools) -> None:
    d = docx.Document()
    d.add_paragraph("Item", style="List Bullet")
    d.add_paragraph("Plain")
    d.add_paragraph("- typed by hand")  # an ordinary paragraph whose words start with "- "
    d.add_paragraph("Counted", style="List Number")
    path = put(tools, "m.docx", d)

    tools.edit_document("m.docx", "replace_paragraph", paragraph=1, text="Item, now plain")
    tools.edit_document("m.docx", "replace_paragraph", paragraph=2, text="- Plain, now a bullet")
    tools.edit_document("m.docx", "find_replace", find="hand", replace_with="a person")
    tools.edit_document("m.docx", "replace_paragraph", paragraph=4, text="- Counted, now a bullet")
    assert paragraphs(path) == [
        ("Normal", "Item, now plain"),
        ("List Bullet", "Plain, now a bullet"),
        ("Normal", "- typed by a person"),  # its own words, kept as they were
        ("List Bullet", "Counted, now a bullet"),
    ]
    assert num_id(docx.Document(str(path)).paragraphs[0]) is None
    assert read(tools, "m.docx") == [
        "[1] Item, now plain",
        "[2] - Plain, now a bullet",
        "[3] - typed by a person",
        "[4] - Counted, now a bullet",
    ]


def test_items_inserted_into_a_list_join_it(tools: DocsTools) -> None:
    tools.create_document("n.docx", "# Plan\n\n1. One\n2. Two\n3. Three\n\n- dot")
    path = tools.ws.root / "n.docx"
    out = tools.edit_document("n.docx", "insert_paragraph", paragraph=3, text="3. Two and a half")
    assert "3. Two and a half" in out
    assert read(tools, "n.docx") == [
        "[1] # Plan",
        "[2] 1. One",
        "[3] 2. Two",
        "[4] 3. Two and a half",
        "[5] 4. Three",
        "[6] - dot",
    ]
    ps = docx.Document(str(path)).paragraphs
    assert {num_id(p) for p in ps[1:5]} == {num_id(ps[1])}  # one list in Word
    tools.edit_document("n.docx", "insert_paragraph", paragraph=6, text="- more\n- and more")
    assert read(tools, "n.docx")[-2:] == ["[7] - more", "[8] - and more"]
    assert paragraphs(path)[-2:] == [("List Bullet", "more"), ("List Bullet", "and more")]


def test_a_file_without_list_styles_or_numbering_gets_them(tools: DocsTools) -> None:
    """Files Word saves hold only the styles they use: an item added there must still show
    a bullet, so the style added has numbering of its own."""
    d = docx.Document()
    d.add_paragraph("Intro")
    for name in ("List Bullet", "List Number"):
        d.styles[name].delete()
    rid = next(r for r, rel in d.part.rels.items() if rel.reltype == RT.NUMBERING)
    d.part.drop_rel(rid)
    path = put(tools, "bare.docx", d)

    tools.edit_document("bare.docx", "insert_paragraph", text="- a\n- b\n\n1. c")
    assert read(tools, "bare.docx") == ["[1] Intro", "[2] - a", "[3] - b", "[4] 1. c"]
    word = docx.Document(str(path))
    formats_of = {}
    numbering = word.part.numbering_part.element
    for num in numbering.iterchildren(qn("w:num")):
        abstract = num.find(qn("w:abstractNumId")).get(qn("w:val"))
        for a in numbering.iterchildren(qn("w:abstractNum")):
            if a.get(qn("w:abstractNumId")) == abstract:
                formats_of[num.get(qn("w:numId"))] = a.find(f"{qn('w:lvl')}/{qn('w:numFmt')}").get(
                    qn("w:val")
                )
    for name, fmt in (("List Bullet", "bullet"), ("List Number", "decimal")):
        style_num = word.styles[name].element.pPr.numPr.numId.val
        assert formats_of[str(style_num)] == fmt


def test_word_count_and_blocks_of_markdown_lists() -> None:
    assert formats.word_count("- milk and eggs\n  * bread\n12) cake\n3. -") == 6
    assert formats.word_count("a - b") == 3  # a dash inside a line is still counted
    # Markdown files keep a list as one block; Word gets a paragraph per item.
    text = "Intro\n- a\n  continued\n* b\n\n- - -"
    assert [b.text for b in formats.text_to_blocks(text, "markdown")] == [
        "Intro\n- a\n  continued\n* b",
        "- - -",
    ]
    assert [b.text for b in formats.text_to_blocks(text, "docx")] == [
        "Intro",
        "- a\ncontinued",
        "- b",
        "- - -",  # a thematic break, not an item
    ]
    # Only "1." starts a numbered list inside a paragraph, as in CommonMark.
    assert [b.text for b in formats.text_to_blocks("We met in\n1984. It rained.", "docx")] == [
        "We met in\n1984. It rained."
    ]
    assert [b.text for b in formats.text_to_blocks("Steps:\n1) go", "docx")] == ["Steps:", "1. go"]


def test_a_list_item_turned_into_a_heading_loses_its_bullet(tools: DocsTools) -> None:
    d = docx.Document()
    p = d.add_paragraph("Title to be", style="List Paragraph")  # numbered by the toolbar
    bullet = d.styles["List Bullet"].element.pPr.numPr.numId.val
    p._p.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = bullet
    d.add_paragraph("Body")
    path = put(tools, "h.docx", d)
    assert read(tools, "h.docx")[0] == "[1] - Title to be"
    tools.edit_document("h.docx", "replace_paragraph", paragraph=1, text="# Title to be")
    p = docx.Document(str(path)).paragraphs[0]
    assert (p.style.name, num_id(p)) == ("Heading 1", None)
    assert read(tools, "h.docx") == ["[1] # Title to be", "[2] Body"]


def test_a_numbered_item_after_a_nested_one_continues_its_list(tools: DocsTools) -> None:
    tools.create_document("x.docx", "# Do\n\n1. a\n   - sub\n2. b")
    assert read(tools, "x.docx") == ["[1] # Do", "[2] 1. a", "[3]   - sub", "[4] 2. b"]
    # A section body that only re-indents an item edits that paragraph into the new level.
    tools.edit_document("x.docx", "replace_section", section="Do", text="1. a\n   1. sub\n2. b")
    assert read(tools, "x.docx") == ["[1] # Do", "[2] 1. a", "[3]   1. sub", "[4] 2. b"]
    assert paragraphs(tools.ws.root / "x.docx")[2] == ("List Number 2", "sub")


def test_deep_items_are_written_at_the_third_level(tools: DocsTools) -> None:
    tools.create_document("deep.docx", "- a\n  - b\n    - c\n      - d\n\nEnd")
    path = tools.ws.root / "deep.docx"
    assert read(tools, "deep.docx") == [
        "[1] - a",
        "[2]   - b",
        "[3]     - c",
        "[4]     - d",
        "[5] End",
    ]
    assert [style for style, _ in paragraphs(path)[:4]] == [
        "List Bullet",
        "List Bullet 2",
        "List Bullet 3",
        "List Bullet 3",
    ]
    # Deeper than that as a paragraph of its own (Markdown: indented code) stays as typed.
    tools.edit_document("deep.docx", "replace_paragraph", paragraph=5, text="        - End")
    assert paragraphs(path)[4] == ("Normal", "        - End")


def test_headings_title_and_lists_read_by_style_name_only(tools: DocsTools) -> None:
    # A heading is a paragraph whose own style is named "Heading N" or "Title": a custom style
    # based on a heading style, or named after one, is body text, and one based on a list
    # style is a list item through the numbering it inherits. Each style is used more than
    # once, so a level or marker kept from an earlier paragraph of the style would show.
    d = docx.Document()
    paragraph_style = docx.enum.style.WD_STYLE_TYPE.PARAGRAPH

    def custom(name: str, base: str) -> None:
        d.styles.add_style(name, paragraph_style).base_style = d.styles[base]

    custom("Chapter", "Heading 1")
    custom("Heading 2 Copy", "Heading 2")
    custom("HEADING 4", "Normal")  # names match case-insensitively
    custom("Groceries", "List Bullet")
    for text, style in (
        ("Report", "Title"),
        ("Intro", "Heading 1"),
        ("Chapter one", "Chapter"),
        ("First", "List Number"),
        ("Second", "List Number"),
        ("Copied look", "Heading 2 Copy"),
        ("Eggs", "Groceries"),
        ("Milk", "Groceries"),
        ("Shouted", "HEADING 4"),
        ("Third", "List Number"),
        ("Deep", "Heading 9"),
        ("Chapter two", "Chapter"),
        ("Costs", "Heading 1"),
        ("Plain", "Normal"),
    ):
        d.add_paragraph(text, style=style)
    # A style id the file does not define: python-docx falls back to the default style.
    d.add_paragraph("Missing style")._p.get_or_add_pPr().style = "NoSuchStyle"
    put(tools, "styles.docx", d)
    assert read(tools, "styles.docx") == [
        "[1] # Report",
        "[2] # Intro",
        "[3] Chapter one",
        "[4] 1. First",
        "[5] 2. Second",
        "[6] Copied look",
        "[7] - Eggs",
        "[8] - Milk",
        "[9] #### Shouted",
        "[10] 3. Third",  # one w:num, counted on across what stands between, as Word does
        "[11] ###### Deep",
        "[12] Chapter two",
        "[13] # Costs",
        "[14] Plain",
        "[15] Missing style",
    ]


def test_reading_looks_each_style_up_once(monkeypatch: Any) -> None:
    # python-docx resolves Paragraph.style through the styles part on every access; done per
    # paragraph, reading a 3,000-paragraph file took seconds, not a fraction of one.
    from docx.text.paragraph import Paragraph

    d = docx.Document()
    for n in range(30):
        d.add_paragraph(f"Part {n}", style="Heading 1")
        d.add_paragraph(f"Body {n}.")
        d.add_paragraph(f"Item {n}", style="List Bullet")
    buf = io.BytesIO()
    d.save(buf)
    looked_up: list[str | None] = []
    style = Paragraph.__dict__["style"]

    def counted(paragraph: Paragraph) -> Any:
        looked_up.append(paragraph._p.style)
        return style.fget(paragraph)

    monkeypatch.setattr(Paragraph, "style", property(counted, style.fset))
    blocks = formats.parse(buf.getvalue(), "docx").blocks
    assert [b.render() for b in blocks[:3]] == ["# Part 0", "Body 0.", "- Item 0"]
    assert sorted(looked_up, key=str) == ["Heading1", "ListBullet", None]


# ------------------------------------------------------------------ the numbers Word shows


def define_list(d: Any, *fmts: str, start: int = 1, extra: str = "") -> int:
    """A new w:abstractNum in ``d``'s numbering.xml, one w:lvl per format (level 0 first),
    each starting at ``start``; ``extra`` goes into every w:lvl (a w:lvlRestart)."""
    numbering = d.part.numbering_part.element
    ids = [int(a.get(qn("w:abstractNumId"))) for a in numbering.iterchildren(qn("w:abstractNum"))]
    abstract_id = max(ids, default=-1) + 1
    levels = "".join(
        f'<w:lvl w:ilvl="{n}"><w:start w:val="{start}"/><w:numFmt w:val="{fmt}"/>{extra}'
        f'<w:lvlText w:val="%{n + 1}."/></w:lvl>'
        for n, fmt in enumerate(fmts)
    )
    abstract = parse_xml(
        f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{abstract_id}">{levels}</w:abstractNum>'
    )
    next(numbering.iterchildren(qn("w:num"))).addprevious(abstract)  # schema order
    return abstract_id


def instance(d: Any, abstract_id: int, overrides: str = "") -> int:
    """A new w:num of ``abstract_id``, with ``overrides`` (w:lvlOverride elements) in it."""
    num = d.part.numbering_part.element.add_num(abstract_id)
    for override in parse_xml(f"<w:x {nsdecls('w')}>{overrides}</w:x>"):
        num.append(override)
    return int(num.numId)


def number(paragraph: Any, num: int, ilvl: int = 0) -> None:
    """Make ``paragraph`` an item of list ``num`` at level ``ilvl`` by its own w:numPr, as
    Word's toolbar does (whatever its style: a heading or a table cell's paragraph too)."""
    numpr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    numpr.get_or_add_ilvl().val = ilvl
    numpr.get_or_add_numId().val = num


def numbered(d: Any, text: str, num: int, ilvl: int = 0) -> None:
    """A paragraph that w:numPr makes a list item, as Word's toolbar does."""
    number(d.add_paragraph(text, style="List Paragraph"), num, ilvl)


def test_numbered_lists_read_with_their_start_values(tools: DocsTools) -> None:
    d = docx.Document()
    from_three = define_list(d, "decimal", start=3)
    numbered(d, "Three", instance(d, from_three))
    numbered(d, "Four", d.paragraphs[-1]._p.pPr.numPr.numId.val)
    d.add_paragraph("Restarted at ten:")
    at_ten = '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="10"/></w:lvlOverride>'
    ten = instance(d, define_list(d, "decimal"), at_ten)
    numbered(d, "Ten", ten)
    numbered(d, "Eleven", ten)
    put(tools, "start.docx", d)
    assert read(tools, "start.docx") == [
        "[1] 3. Three",
        "[2] 4. Four",
        "[3] Restarted at ten:",
        "[4] 10. Ten",
        "[5] 11. Eleven",
    ]


def test_levels_redefined_in_the_list_instance_are_honoured(tools: DocsTools) -> None:
    # w:num may redefine a level of its abstractNum whole (w:lvlOverride/w:lvl): Word shows
    # that level's format and start, not the abstractNum's.
    d = docx.Document()
    as_numbers = (
        '<w:lvlOverride w:ilvl="0"><w:lvl w:ilvl="0"><w:start w:val="4"/>'
        '<w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl></w:lvlOverride>'
    )
    as_bullets = (
        '<w:lvlOverride w:ilvl="0"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
        '<w:numFmt w:val="bullet"/><w:lvlText w:val="o"/></w:lvl></w:lvlOverride>'
    )
    counted = instance(d, define_list(d, "bullet"), as_numbers)
    dotted = instance(d, define_list(d, "decimal"), as_bullets)
    for text, num in (("Four", counted), ("Five", counted), ("Dot", dotted), ("Dot", dotted)):
        numbered(d, text, num)
    put(tools, "override.docx", d)
    assert read(tools, "override.docx") == ["[1] 4. Four", "[2] 5. Five", "[3] - Dot", "[4] - Dot"]


def test_word_counts_a_list_on_across_other_paragraphs(tools: DocsTools) -> None:
    # Word numbers the paragraphs of one list (numId, and every w:num of the same abstractNum)
    # in document order, whatever stands between them; only a w:num's startOverride, or an
    # item of a shallower level (w:lvlRestart), starts a level again.
    d = docx.Document()
    outline = define_list(d, "decimal", "decimal", "decimal")
    never = define_list(d, "decimal", "decimal", extra='<w:lvlRestart w:val="0"/>')
    # w:lvlRestart 1: levels restart after items of level 1 (ilvl 0) only.
    by_top = define_list(d, "decimal", "decimal", "decimal", extra='<w:lvlRestart w:val="1"/>')
    num, again, kept = instance(d, outline), instance(d, outline), instance(d, never)
    top = instance(d, by_top)
    restarted = instance(
        d, outline, '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride>'
    )
    numbered(d, "a", num)
    d.add_paragraph("A note.")
    numbered(d, "b", num)
    numbered(d, "b.1", num, 1)
    numbered(d, "b.1.1", num, 2)
    d.add_paragraph("Part two", style="Heading 1")
    numbered(d, "b.2", num, 1)
    numbered(d, "b.2.1", num, 2)  # restarted by b.2, a shallower level
    d.add_table(rows=1, cols=1).cell(0, 0).text = "cell"
    numbered(d, "c", again)  # another w:num of the same list, no override: counts on
    numbered(d, "c.1", num, 1)
    d.add_paragraph("Then:")
    numbered(d, "x", kept)
    numbered(d, "x.1", kept, 1)
    numbered(d, "y", kept)
    numbered(d, "y.1", kept, 1)  # w:lvlRestart 0: never restarts
    for text in ("p", "p.1", "p.1.1", "p.2", "p.2.2", "q", "q.1.1"):
        numbered(d, text, top, text.count("."))  # p.2.2: p.2 does not restart level 3
    numbered(d, "fresh", restarted)
    numbered(d, "d", num)  # counts on from "fresh": one list
    put(tools, "cont.docx", d)
    assert read(tools, "cont.docx") == [
        "[1] 1. a",
        "[2] A note.",
        "[3] 2. b",
        "[4]   1. b.1",
        "[5]     1. b.1.1",
        "[6] # Part two",
        "[7]   2. b.2",
        "[8]     1. b.2.1",
        "[9] | cell |",
        "[10] 3. c",
        "[11]   1. c.1",
        "[12] Then:",
        "[13] 1. x",
        "[14]   1. x.1",
        "[15] 2. y",
        "[16]   2. y.1",
        "[17] 1. p",
        "[18]   1. p.1",
        "[19]     1. p.1.1",
        "[20]   2. p.2",
        "[21]     2. p.2.2",
        "[22] 2. q",
        "[23]     1. q.1.1",
        "[24] 1. fresh",
        "[25] 2. d",
    ]


def test_items_numbered_by_style_name_only_count_within_their_run(tools: DocsTools) -> None:
    # A "List Number" style without numbering shows no number in Word; read as a list, its
    # items count from 1 in each run of them, as before.
    d = docx.Document()
    d.styles["List Number"].element.pPr._remove_numPr()
    for text in ("one", "two"):
        d.add_paragraph(text, style="List Number")
    d.add_paragraph("Between")
    d.add_paragraph("again", style="List Number")
    put(tools, "names.docx", d)
    assert read(tools, "names.docx") == ["[1] 1. one", "[2] 2. two", "[3] Between", "[4] 1. again"]


def lists_of_two(count: int) -> list[formats.Block]:
    """``count`` numbered lists of two items, a paragraph after each: each list restarts,
    so the file holds a w:num per list."""
    blocks = []
    for n in range(count):
        blocks += [formats.Block("1. a"), formats.Block("2. b"), formats.Block(f"Note {n}.")]
    return blocks


def test_adding_list_items_reads_only_the_lists_they_join(monkeypatch: Any) -> None:
    # Each item added reads numbering.xml afresh (an item before it may have added a list);
    # reading every list definition each time made a file of many lists slow to write.
    from voicedesk.tools.formats import docx_lists

    read_levels = 0
    level = docx_lists._level

    def counted(*args: Any) -> Any:
        nonlocal read_levels
        read_levels += 1
        return level(*args)

    monkeypatch.setattr(docx_lists, "_level", counted)
    data = formats.serialize(formats.Document("docx", blocks=lists_of_two(20)))
    assert read_levels <= 40  # at most one list's level read per item; it was 9 and more
    assert [b.text for b in formats.parse(data, "docx").blocks[:4]] == [
        "1. a",
        "2. b",
        "Note 0.",
        "1. a",
    ]


def test_adding_list_items_sets_style_ids_without_looking_styles_up(monkeypatch: Any) -> None:
    # Setting Paragraph.style looks the style up and scans every style for the default one;
    # per item added, that was most of the seconds a 1,000-item file took to write.
    from docx.text.paragraph import Paragraph

    style = Paragraph.__dict__["style"]
    set_to: list[Any] = []

    def counted(paragraph: Paragraph, value: Any) -> None:
        set_to.append(value)
        style.fset(paragraph, value)

    monkeypatch.setattr(Paragraph, "style", property(style.fget, counted))
    blocks = [*lists_of_two(3), formats.Block("- dot"), formats.Block("- dot")]
    data = formats.serialize(formats.Document("docx", blocks=blocks))
    assert set_to == []
    word = docx.Document(io.BytesIO(data))
    assert [p.style.name for p in word.paragraphs][-5:] == [
        "List Number",
        "List Number",
        "Normal",
        "List Bullet",
        "List Bullet",
    ]


def test_numbered_headings_and_empty_items_count_in_their_list(tools: DocsTools) -> None:
    # Word numbers a heading or an empty paragraph of a list like any other item: both
    # take a number (an empty item shows it alone), and a heading at a shallower level
    # starts the deeper levels again. Neither reads as a list item.
    d = docx.Document()
    num = instance(d, define_list(d, "decimal", "decimal"))
    numbered(d, "a", num)
    numbered(d, "", num)  # shows "2." and nothing else
    numbered(d, "c", num)
    numbered(d, "c.1", num, 1)
    heading = d.add_paragraph("Part four", style="Heading 1")
    number(heading, num)
    numbered(d, "4.1", num, 1)
    numbered(d, "e", num)
    put(tools, "headed.docx", d)
    assert read(tools, "headed.docx") == [
        "[1] 1. a",
        "[2] 3. c",
        "[3]   1. c.1",
        "[4] # Part four",
        "[5]   1. 4.1",
        "[6] 5. e",
    ]


def test_list_paragraphs_in_tables_count_in_their_list(tools: DocsTools) -> None:
    # Word counts a list in document order, into table cells too: a cell holding the
    # list's second item makes the next item after the table its third.
    d = docx.Document()
    num = instance(d, define_list(d, "decimal"))
    numbered(d, "a", num)
    cell = d.add_table(rows=1, cols=2).cell(0, 1)
    number(cell.paragraphs[0], num)
    cell.paragraphs[0].text = "b"
    numbered(d, "c", num)
    put(tools, "table.docx", d)
    assert read(tools, "table.docx") == ["[1] 1. a", "[2] |  | b |", "[3] 3. c"]


def test_lists_defined_by_a_list_style_read_with_its_levels(tools: DocsTools) -> None:
    # A list made with a list style (Word's "Define New List Style") has an abstractNum
    # holding only a w:numStyleLink to the style; the levels are in the abstractNum the
    # style's own numbering names (which has a w:styleLink back).
    d = docx.Document()
    style = d.styles.add_style("Steps", docx.enum.style.WD_STYLE_TYPE.LIST)
    numbering = d.part.numbering_part.element

    def link(abstract_id: int, tag: str) -> None:
        element = numbering.xpath(f'w:abstractNum[@w:abstractNumId="{abstract_id}"]')[0]
        element.insert(0, parse_xml(f'<w:{tag} {nsdecls("w")} w:val="{style.style_id}"/>'))

    defined, linked = define_list(d, "decimal", start=2), define_list(d)  # no levels
    link(defined, "styleLink")
    link(linked, "numStyleLink")
    style.element.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = instance(d, defined)
    num = instance(d, linked)
    numbered(d, "Two", num)
    numbered(d, "Three", num)
    put(tools, "liststyle.docx", d)
    assert read(tools, "liststyle.docx") == ["[1] 2. Two", "[2] 3. Three"]


@pytest.mark.parametrize(
    ("listed", "added", "joined"),
    [
        ("* eggs\n* bread", "- butter", ("* eggs\n* bread\n* butter", 1)),
        ("1. mix\n2. bake", "1. eat\n1. rest", ("1. mix\n2. bake\n3. eat\n4. rest", 2)),
        ("1) mix", "2. eat", ("1) mix\n2) eat", 1)),
        ("- top\n  - nested", "- next", ("- top\n  - nested\n- next", 1)),
        ("- a", "- b\n  more of b", ("- a\n- b\n  more of b", 1)),
        ("1. mix", "- tip", None),  # a bullet after numbers is another list
        ("- a", "1. one", None),
        ("Shopping:\n- eggs", "- milk", None),  # a paragraph first: not taken for a list
        ("* * *", "* x", None),  # a thematic break
        ("- a", "Plain words.", None),
        ("  - indented", "- x", None),
        # a list numbered "1." at every item (Markdown counts them) goes on so
        ("1. mix\n1. bake\n1. cool", "1. serve", ("1. mix\n1. bake\n1. cool\n1. serve", 1)),
        ("1. mix\n1. bake", "2. serve\n3. eat", ("1. mix\n1. bake\n1. serve\n1. eat", 2)),
        ("1. mix", "1. eat", ("1. mix\n2. eat", 1)),  # one item: no style to follow yet
    ],
)
def test_items_added_after_a_list_take_its_markers(
    listed: str, added: str, joined: tuple[str, int] | None
) -> None:
    from voicedesk.tools.formats.markdown_lists import list_with_items

    assert list_with_items(listed, added) == joined


@pytest.mark.parametrize(
    ("before", "after", "left"),
    [
        ("* eggs\n* bread", "* eggs\n* ", ("* eggs", 1)),
        # the numbers after it close up where they counted one by one
        ("1. a\n2. b\n3. c", "1. a\n2. \n3. c", ("1. a\n2. c", 1)),
        ("3) a\n4) b\n5) c\n6) d", "3) \n4) b\n5) \n6) d", ("3) b\n4) d", 2)),
        ("1. a\n1. b\n1. c", "1. a\n1. \n1. c", ("1. a\n1. c", 1)),  # all ones: kept
        ("1. a\n   1. x\n   2. y\n2. b", "1. a\n   1. \n   2. y\n2. b", ("1. a\n   1. y\n2. b", 1)),
        ("- a\n  - b\n- c", "- a\n  - \n- c", ("- a\n- c", 1)),
        ("- a\n  - b", "- \n  - b", ("- \n  - b", 0)),  # its nested items would move up
        ("- a\n-\n- b", "- \n-\n- b", ("- \n-\n- b", 0)),  # an empty item was there before
        ("Eggs and bread", "Eggs and ", ("Eggs and ", 0)),
        # lines of a code block are no list items: the code keeps its lines
        (
            "```yaml\n- bread\n- milk\n```",
            "```yaml\n- \n- milk\n```",
            ("```yaml\n- \n- milk\n```", 0),
        ),
        (
            "* eggs\n* bread\n  ```\n  - bread\n  ```",
            "* eggs\n* \n  ```\n  - \n  ```",
            ("* eggs\n* \n  ```\n  - \n  ```", 0),
        ),
        # words of the item on its next line, not indented (a wrapped line): it is not empty,
        # and taking its marker away gave those words to the item above
        (
            "- eggs\n- bread\nfrom the shop\n- tea",
            "- eggs\n- \nfrom the shop\n- tea",
            ("- eggs\n- \nfrom the shop\n- tea", 0),
        ),
        ("- eggs\n- bread\n- tea", "- eggs\n- \n- tea", ("- eggs\n- tea", 1)),
        # a task list's item left with its box only is empty too
        (
            "- [ ] call Anna\n- [ ] buy bread\n- [x] pay",
            "- [ ] call Anna\n- [ ] \n- [x] pay",
            ("- [ ] call Anna\n- [x] pay", 1),
        ),
        ("- [ ] a\n- [ ]\n- [ ] b", "- [ ] \n- [ ]\n- [ ] b", ("- [ ] \n- [ ]\n- [ ] b", 0)),
        # an item taken whole, its marker too ("* bread" replaced with nothing)
        ("* eggs\n* bread\n* tea", "* eggs\n\n* tea", ("* eggs\n* tea", 1)),
        ("1. a\n2. b\n3. c", "1. a\n\n3. c", ("1. a\n2. c", 1)),
        ("- a\n  - b\n- c", "- a\n  \n- c", ("- a\n- c", 1)),
        ("- a\n- b\n  - b1", "- a\n\n  - b1", ("- a\n\n  - b1", 0)),  # b1 would move up
        # a line of words that was no item, left blank: not an item to take out
        ("Shopping:\nbread\n- eggs", "Shopping:\n\n- eggs", ("Shopping:\n\n- eggs", 0)),
    ],
)
def test_items_a_replacement_emptied_are_removed(
    before: str, after: str, left: tuple[str, int]
) -> None:
    from voicedesk.tools.formats.markdown_lists import without_emptied_items

    assert without_emptied_items(before, after) == left
