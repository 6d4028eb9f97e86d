"""Edits that used to corrupt documents, each cut down to its smallest case.

Most were found by the randomised tests in ``test_docs_fuzz.py``. They call :class:`DocsTools`
directly (what the MCP tools call), so they run in milliseconds.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.opc.constants import CONTENT_TYPE as CT
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import XmlPart
from docx.oxml.ns import nsdecls, qn
from docx.oxml.parser import OxmlElement, parse_xml

from voicedesk.tools import formats
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.formats import FormatError
from voicedesk.tools.workspace import StaleDocumentError, Workspace


def put(tools: DocsTools, name: str, data: bytes) -> Path:
    path = tools.ws.root / name
    path.write_bytes(data)
    tools.read_document(name)
    return path


def read(tools: DocsTools, name: str) -> list[str]:
    return tools.read_document(name).splitlines()[1:]


def test_lone_cr_line_endings_are_line_breaks(tools: DocsTools) -> None:
    """Old Mac files end lines with CR alone: read as one line, the whole file was one
    heading, and renaming it dropped every paragraph after it."""
    path = put(tools, "mac.md", b"# Title\rFirst.\r\rSecond.\r")
    assert read(tools, "mac.md") == ["[1] # Title", "[2] First.", "[3] Second."]
    tools.edit_document("mac.md", "rename_heading", section="Title", text="New")
    assert path.read_bytes() == b"# New\rFirst.\r\rSecond.\r"
    tools.edit_document("mac.md", "insert_paragraph", text="Third.")
    assert path.read_bytes() == b"# New\rFirst.\r\rSecond.\r\rThird.\r"


def test_heading_text_ending_in_a_hash_keeps_it(tools: DocsTools) -> None:
    """ "## Step #" reads as "Step": the closing sequence is layout, so the text lost its #."""
    path = put(tools, "steps.md", b"## Step 1\n\nDo it.\n")
    tools.edit_document("steps.md", "find_replace", find="1", replace_with="#")
    assert read(tools, "steps.md")[0] == "[1] ## Step #"
    assert path.read_bytes() == b"## Step # #\n\nDo it.\n"


def test_rename_heading_to_text_with_closing_hashes(tools: DocsTools) -> None:
    path = put(tools, "a.md", b"## Costs\n\nMoney.\n")
    tools.edit_document("a.md", "rename_heading", section="Costs", text="Budget ##")
    assert path.read_bytes() == b"## Budget\n\nMoney.\n"


def test_replacing_a_heading_with_two_lines_makes_a_paragraph(tools: DocsTools) -> None:
    """Kept as a heading, "## one\\ntwo" read back as a heading and a paragraph."""
    path = put(tools, "a.md", b"## Old\n\nAfter.\n")
    tools.edit_document("a.md", "replace_paragraph", paragraph=1, text="one\ntwo")
    assert read(tools, "a.md") == ["[1] one", "two", "[2] After."]
    assert path.read_bytes() == b"one\ntwo\n\nAfter.\n"


@pytest.mark.parametrize(
    ("name", "data", "find", "replace_with", "complaint"),
    [
        ("a.txt", b"One two.\n\nThree.\n", " two", "\n\n", "into 2 paragraphs"),
        ("a.md", b"One two.\n\nThree.\n", " two", "\n\n", "into 2 paragraphs"),
        ("a.md", b"Note: x\n\nThree.\n", "Note:", "#", "into a heading"),
        ("a.md", b"## Costs\n\nThree.\n", "Costs", "Costs\n\nMore", "into 2 paragraphs"),
        ("a.md", b"'''\n\nThree.\n\n'''\n", "'''", "```", "swallows the rest"),
        ("a.md", b"Keep.\n\nDrop me\n\nThree.\n", "Drop me", "", "empty"),
        ("a.txt", b"Keep.\n\nDrop me\n", "Drop me", "  ", "empty"),
    ],
)
def test_find_replace_that_would_renumber_paragraphs_is_refused(
    tools: DocsTools, name: str, data: bytes, find: str, replace_with: str, complaint: str
) -> None:
    """A replacement that splits, empties or re-types a paragraph shifted every later number
    without saying so (an opened fence swallowed the rest of the file), so the next edit by
    number hit the wrong text."""
    path = put(tools, name, data)
    with pytest.raises(FormatError, match=complaint):
        tools.edit_document(name, "find_replace", find=find, replace_with=replace_with)
    assert path.read_bytes() == data


def test_find_replace_emptying_a_word_paragraph_is_refused(tools: DocsTools) -> None:
    d = docx.Document()
    d.add_paragraph("Keep.")
    d.add_paragraph("Drop me")
    d.add_paragraph("Last.")
    buf = io.BytesIO()
    d.save(buf)
    path = put(tools, "a.docx", buf.getvalue())
    with pytest.raises(FormatError, match="empty"):
        tools.edit_document("a.docx", "find_replace", find="Drop me", replace_with="")
    assert path.read_bytes() == buf.getvalue()


def test_find_replace_tidies_what_the_file_would_not_keep(tools: DocsTools) -> None:
    path = put(tools, "a.md", b"## Costs\n\nOne two\n")
    tools.edit_document("a.md", "find_replace", find="Costs", replace_with=" Costs ")
    tools.edit_document("a.md", "find_replace", find=" two", replace_with="\n")
    assert path.read_bytes() == b"## Costs\n\nOne\n"
    assert read(tools, "a.md") == ["[1] ## Costs", "[2] One"]


def test_new_text_with_an_open_fence_is_closed(tools: DocsTools) -> None:
    """An open fence ran to the end of the file and swallowed every paragraph after it."""
    path = put(tools, "a.md", b"First.\n\nLast.\n")
    out = tools.edit_document(
        "a.md", "insert_paragraph", paragraph=1, text="```python\nprint(1)\n\nprint(2)"
    )
    assert "now paragraph 2" in out
    assert read(tools, "a.md")[-1] == "[3] Last."
    assert path.read_bytes() == b"First.\n\n```python\nprint(1)\n\nprint(2)\n```\n\nLast.\n"


def test_adding_after_a_fence_the_file_never_closes_is_refused(tools: DocsTools) -> None:
    data = b"First.\n\n```\ncode\n"
    path = put(tools, "a.md", data)
    with pytest.raises(FormatError, match="never closed"):
        tools.edit_document("a.md", "insert_paragraph", text="After.")
    assert path.read_bytes() == data
    tools.edit_document("a.md", "replace_paragraph", paragraph=2, text="```\ncode\n```")
    tools.edit_document("a.md", "insert_paragraph", text="After.")
    assert path.read_bytes() == b"First.\n\n```\ncode\n```\n\nAfter.\n"


def test_replace_section_with_only_its_heading_is_refused(tools: DocsTools) -> None:
    """That emptied the section without the confirmation a deletion needs."""
    data = b"## Costs\n\nMoney.\n\nMore money.\n"
    path = put(tools, "a.md", data)
    with pytest.raises(FormatError, match="needs text"):
        tools.edit_document("a.md", "replace_section", section="Costs", text="## Costs")
    assert path.read_bytes() == data


def test_a_heading_of_only_symbols_names_its_section(tools: DocsTools) -> None:
    put(tools, "a.md", b"# \xe2\x9c\x85\n\nDone.\n\n# Open\n\nLater.\n")
    assert "[2] Done." in tools.read_document("a.md", section="✅")


def test_serialize_refuses_bytes_that_would_not_read_back() -> None:
    """The last check before a write: blocks that would merge or split are never written."""
    doc = formats.parse(b"One.\n\nTwo.\n", "markdown")
    doc.blocks[0] = formats.Block("One.\n\n# Sneaky", 0, source=0)
    with pytest.raises(FormatError, match="would not read back"):
        formats.serialize(doc)


def test_deleting_a_section_with_a_word_table_before_another_table(tools: DocsTools) -> None:
    """The tables after it are renumbered; the check before writing took that for damage."""
    d = docx.Document()
    d.add_heading("One", level=1)
    d.add_table(rows=1, cols=1).cell(0, 0).text = "first"
    d.add_heading("Two", level=1)
    d.add_table(rows=1, cols=1).cell(0, 0).text = "second"
    buf = io.BytesIO()
    d.save(buf)
    path = put(tools, "t.docx", buf.getvalue())
    tools.edit_document("t.docx", "delete_section", section="One")  # the question first
    tools.edit_document("t.docx", "delete_section", section="One", confirmed=True)
    assert read(tools, "t.docx") == ["[1] # Two", "[2] | second |"]
    assert [t.cell(0, 0).text for t in docx.Document(str(path)).tables] == ["second"]


def png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_word_edit_next_to_a_picture_keeps_the_picture(tools: DocsTools) -> None:
    """Setting a run's text clears the run: the picture run between "Hello " and "world" has
    no text of its own and was emptied on the way, so the picture vanished."""
    d = docx.Document()
    p = d.add_paragraph("Hello ")
    p.add_run().add_picture(io.BytesIO(png_1x1()))
    p.add_run("world")
    buf = io.BytesIO()
    d.save(buf)
    path = put(tools, "pic.docx", buf.getvalue())
    tools.edit_document("pic.docx", "find_replace", find="world", replace_with="there")
    kept = docx.Document(str(path))
    assert kept.paragraphs[0].text == "Hello there"
    assert len(kept.inline_shapes) == 1


def test_failed_undo_keeps_the_versions_its_history_goes_back_to(
    tools: DocsTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Undo pruned blobs before restoring; when the restore was then refused (the file changed
    again meanwhile) the history went back to versions whose blobs were gone."""
    ws = tools.ws
    path = ws.root / "a.txt"
    ws.write(path, b"B", before=None)
    ws.write(path, b"C", before=b"B")
    ws.undo(path)  # B; C is the redo step
    path.write_bytes(b"D")  # another program...
    ws.read(path)  # ...and the person read it again
    real_check = ws.check_unchanged

    def changed_again(*args: object, **kwargs: object) -> None:
        raise StaleDocumentError("changed again")

    monkeypatch.setattr(ws, "check_unchanged", changed_again)
    with pytest.raises(StaleDocumentError):
        ws.undo(path)
    monkeypatch.setattr(ws, "check_unchanged", real_check)
    path.write_bytes(b"B")  # the other program put it back
    ws.read(path)
    ws.redo(path)
    assert path.read_bytes() == b"C"


def add_link(paragraph: Any, text: str, url: str | None = None, anchor: str | None = None) -> Any:
    """Append a w:hyperlink to ``paragraph``, as Word writes one: python-docx can read links
    but has no API to add them."""
    link = OxmlElement("w:hyperlink")
    if url is not None:
        link.set(qn("r:id"), paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True))
    if anchor is not None:
        link.set(qn("w:anchor"), anchor)
    paragraph._p.append(link)
    run = OxmlElement("w:r")
    link.append(run)
    run.text = text  # python-docx's CT_R.text
    style = OxmlElement("w:rStyle")
    style.set(qn("w:val"), "Hyperlink")
    run.get_or_add_rPr().append(style)
    return link


def add_field(paragraph: Any, code: str, shown: str) -> None:
    """A complex field (how Word writes HYPERLINK, PAGE, REF...): code, then the shown text."""
    begin_field(paragraph, code)
    paragraph.add_run(shown)
    end_field(paragraph)


def field_char(paragraph: Any, kind: str) -> None:
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), kind)
    paragraph.add_run()._r.append(char)


def begin_field(paragraph: Any, code: str) -> None:
    """A complex field's start, up to where its shown text (or a field inside it) goes."""
    field_char(paragraph, "begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = code
    paragraph.add_run()._r.append(instr)
    field_char(paragraph, "separate")


def end_field(paragraph: Any) -> None:
    field_char(paragraph, "end")


def docx_bytes(d: Any) -> bytes:
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def links(path: Path) -> list[list[tuple[str, str]]]:
    """(text, address) of each hyperlink, paragraph by paragraph, as python-docx reads them."""
    return [[(h.text, h.url) for h in p.hyperlinks] for p in docx.Document(str(path)).paragraphs]


def test_word_edits_keep_links_bookmarks_fields_comments_and_pictures(tools: DocsTools) -> None:
    """A paragraph with a hyperlink was rewritten whole on any edit: the link, its bookmark,
    the comment on it, the field and the picture all went. And a picture in the same run as
    the changed word went even without a link: setting a run's text empties the run."""
    d = docx.Document()
    p = d.add_paragraph("Call ")
    add_link(p, "Anna Smith", url="https://example.com/anna")
    p.add_run(" about the ")
    add_field(p, 'HYPERLINK "mailto:budget@example.com"', "budget")
    p.add_run(" on ")
    p.add_run("Friday").add_picture(io.BytesIO(png_1x1()))  # text and picture in one run
    tail = p.add_run(" at noon.")
    d.add_comment([tail], text="Which room?", author="Ben")
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), "7")
    start.set(qn("w:name"), "call")
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), "7")
    p._p.insert(0, start)
    p._p.append(end)
    path = put(tools, "a.docx", docx_bytes(d))

    def structure() -> dict[str, int]:
        body = docx.Document(str(path)).element.body
        tags = ("bookmarkStart", "bookmarkEnd", "hyperlink", "fldChar", "instrText")
        tags += ("commentRangeStart", "commentRangeEnd", "commentReference", "drawing")
        return {tag: len(body.findall(".//" + qn("w:" + tag))) for tag in tags}

    kept = structure()
    assert kept["fldChar"] == 3 and kept["drawing"] == 1
    out = tools.edit_document("a.docx", "find_replace", find="Friday", replace_with="Monday")
    out += tools.edit_document("a.docx", "find_replace", find="noon", replace_with="ten")
    out += tools.edit_document(
        "a.docx",
        "replace_paragraph",
        paragraph=1,
        text="Please call Anna Smith about the budget on Monday at ten sharp.",
    )
    assert "link" not in out  # no link's words changed, so there is nothing to say
    assert read(tools, "a.docx") == [
        "[1] Please call Anna Smith about the budget on Monday at ten sharp."
    ]
    assert structure() == kept
    assert links(path) == [[("Anna Smith", "https://example.com/anna")]]
    assert len(docx.Document(str(path)).inline_shapes) == 1


def test_word_words_changed_inside_a_link_stay_linked(tools: DocsTools) -> None:
    d = docx.Document()
    p = d.add_paragraph("See ")
    add_link(p, "our site", url="https://example.com")
    p.add_run(" now.")
    path = put(tools, "a.docx", docx_bytes(d))

    def edit(find: str, replace_with: str) -> str:
        return tools.edit_document("a.docx", "find_replace", find=find, replace_with=replace_with)

    out = edit("site", "website")
    assert out.splitlines()[1] == (
        "The link on “our site” (to https://example.com) now covers “our website”."
    )
    assert edit("website", "websites").count("now covers “our websites”") == 1
    edit("our websites", "the portal")  # exactly the linked words: the link stays on the new
    edit("portal now", "portal, now")  # a comma after the link is not part of it
    edit("See", "See, in short,")  # nor a word before it
    assert read(tools, "a.docx") == ["[1] See, in short, the portal, now."]
    assert links(path) == [[("the portal", "https://example.com")]]


def test_word_link_whose_words_went_is_removed_and_said_so(tools: DocsTools) -> None:
    """When new text replaces a link's words and more, which new words should carry the link
    is anyone's guess: the link goes, and the result says so instead of keeping quiet."""
    d = docx.Document()
    p = d.add_paragraph("Read ")
    add_link(p, "the report", url="https://example.com/report")
    p.add_run(" first, then ")
    add_link(p, "the notes", anchor="notes")
    p.add_run(".")
    data = docx_bytes(d)
    path = put(tools, "a.docx", data)
    out = tools.edit_document(
        "a.docx", "find_replace", find="Read the report first", replace_with="Skip it"
    )
    first, note = out.splitlines()[:2]
    assert first.startswith("Replaced 1 occurrence")
    assert note.startswith(
        "The link on “the report” (to https://example.com/report) is gone: the new text "
        "replaced more than the linked words"
    )
    assert "Undo brings it back" in note
    assert links(path) == [[("the notes", "")]]
    kept = docx.Document(str(path))
    assert not [r for r in kept.part.rels.values() if r.reltype == RT.HYPERLINK]  # none left over
    assert kept.element.body.find(".//" + qn("w:hyperlink")).get(qn("w:anchor")) == "notes"
    out = tools.edit_document("a.docx", "replace_paragraph", paragraph=1, text="Nothing to read.")
    assert "The link on “the notes” (to the bookmark “notes” in this document) is gone" in out
    assert links(path) == [[]]
    tools.undo("a.docx")
    tools.undo("a.docx")
    assert path.read_bytes() == data


def test_word_hyperlink_fields_are_links_too(tools: DocsTools) -> None:
    """Some programs write links as HYPERLINK fields: their shown text is ordinary runs."""
    d = docx.Document()
    p = d.add_paragraph("Mail ")
    add_field(p, 'HYPERLINK "mailto:team@example.com"', "the team")
    p.add_run(" today.")
    path = put(tools, "a.docx", docx_bytes(d))

    def fields() -> int:
        return len(docx.Document(str(path)).element.body.findall(".//" + qn("w:fldChar")))

    out = tools.edit_document("a.docx", "find_replace", find="team", replace_with="staff")
    assert "The link on “the team” (to mailto:team@example.com) now covers “the staff”." in out
    assert fields() == 3
    out = tools.edit_document("a.docx", "find_replace", find="Mail the staff", replace_with="Go")
    assert "The link on “the staff” (to mailto:team@example.com) is gone" in out
    assert fields() == 0  # no empty field left behind
    assert read(tools, "a.docx") == ["[1] Go today."]


def test_word_link_sharing_a_relationship_keeps_it(tools: DocsTools) -> None:
    """Two links to one address may share one relationship: removing one keeps it for the other."""
    d = docx.Document()
    p = d.add_paragraph("A ")
    link = add_link(p, "one", url="https://example.com")
    p.add_run(" and ")
    add_link(p, "two", url="https://example.com").set(qn("r:id"), link.get(qn("r:id")))
    path = put(tools, "a.docx", docx_bytes(d))
    tools.edit_document("a.docx", "find_replace", find="A one", replace_with="Just")
    assert links(path) == [[("two", "https://example.com")]]


@pytest.mark.parametrize(
    ("text", "needle", "spans"),
    [
        ("le cafe\u0301 noir", "café", [(3, 8)]),  # NFD text, NFC query
        ("le café noir", "cafe\u0301", [(3, 7)]),  # and the other way round
        ("cafe\u0301 cafe", "cafe", [(6, 10)]),  # "cafe" is not the start of "café"
        ("x\u0301y", "x", []),  # nor is a letter without its accent
        ("\u1100\u1161\u11a8 \uac00", "\uac00", [(4, 5)]),  # Hangul jamo compose as well
        ("\u1100\u1161\u11a8", "\uac01", [(0, 3)]),
    ],
)
def test_find_all_matches_whatever_the_normalisation_form(
    text: str, needle: str, spans: list[tuple[int, int]]
) -> None:
    assert formats.find_all(text, needle) == spans
    assert formats.find_all(text.upper(), needle, ignore_case=True) == spans
    nfd = unicodedata.normalize("NFD", text)
    assert [nfd[a:b] for a, b in formats.find_all(nfd, needle)] == [
        unicodedata.normalize("NFD", text[a:b]) for a, b in spans
    ]


def add_note(paragraph: Any, text: str, kind: str = "footnote") -> None:
    """A footnote (or endnote) at the end of ``paragraph``, as Word writes one.

    python-docx cannot make notes, so this builds the minimal notes part by hand: its
    separators, the note, the document's relationship to it, and (through the part's
    content type) its entry in [Content_Types].xml.
    """
    part = paragraph.part
    reltype = RT.FOOTNOTES if kind == "footnote" else RT.ENDNOTES
    try:
        notes = part.part_related_by(reltype)
    except KeyError:
        separators = "".join(
            f'<w:{kind} w:type="{sort}" w:id="{n}"><w:p><w:r><w:{sort}/></w:r></w:p></w:{kind}>'
            for n, sort in ((-1, "separator"), (0, "continuationSeparator"))
        )
        notes = XmlPart(
            PackURI(f"/word/{kind}s.xml"),
            CT.WML_FOOTNOTES if kind == "footnote" else CT.WML_ENDNOTES,
            parse_xml(f"<w:{kind}s {nsdecls('w')}>{separators}</w:{kind}s>"),
            part.package,
        )
        part.relate_to(notes, reltype)
    number = len(notes.element) - 1  # 1, 2...: the separators are -1 and 0
    notes.element.append(
        parse_xml(
            f'<w:{kind} {nsdecls("w")} w:id="{number}"><w:p><w:r><w:{kind}Ref/></w:r>'
            f'<w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p></w:{kind}>'
        )
    )
    paragraph._p.append(
        parse_xml(
            f'<w:r {nsdecls("w")}><w:rPr><w:vertAlign w:val="superscript"/></w:rPr>'
            f'<w:{kind}Reference w:id="{number}"/></w:r>'
        )
    )


def part_text(path: Path, name: str) -> str:
    """The XML of a part of the saved file, read straight from the zip."""
    with zipfile.ZipFile(path) as z:
        return z.read(name).decode("utf-8")


def comment_marks(path: Path) -> list[list[tuple[str, str]]]:
    """(mark, comment id) of the comment marks, paragraph by paragraph, in order."""
    tags = [qn("w:" + tag) for tag in ("commentRangeStart", "commentRangeEnd", "commentReference")]
    return [
        [(m.tag.rsplit("}", 1)[-1], m.get(qn("w:id"))) for m in p._p.iter(*tags)]
        for p in docx.Document(str(path)).paragraphs
    ]


def test_word_comment_deleted_with_its_paragraph_leaves_the_file(tools: DocsTools) -> None:
    """The comment's marks went with the paragraph but its words stayed in comments.xml:
    Word no longer showed it, yet the file still carried a remark the person deleted."""
    d = docx.Document()
    d.add_paragraph("Agenda.")
    p = d.add_paragraph("The team ")
    d.add_comment([p.add_run("met on Monday")], text="Sack Jim quietly?", author="Ben")
    p = d.add_paragraph("Lunch ")
    d.add_comment([p.add_run("at noon")], text="Which room?", author="Ann")
    data = docx_bytes(d)
    path = put(tools, "a.docx", data)
    ask = tools.edit_document("a.docx", "delete_paragraph", paragraph=2)
    assert "It would also remove the comment “Sack Jim quietly?” by Ben." in ask
    out = tools.edit_document("a.docx", "delete_paragraph", paragraph=2, confirmed=True)
    assert out.splitlines()[1] == (
        "Gone with the removed paragraph: the comment “Sack Jim quietly?” by Ben. "
        "Undo brings it back."
    )
    assert [(c.author, c.text) for c in docx.Document(str(path)).comments] == [
        ("Ann", "Which room?")
    ]
    assert "Sack Jim" not in part_text(path, "word/comments.xml")
    assert comment_marks(path) == [
        [],
        [("commentRangeStart", "1"), ("commentRangeEnd", "1"), ("commentReference", "1")],
    ]
    tools.undo("a.docx")
    assert path.read_bytes() == data


def test_word_comment_reaching_into_a_kept_paragraph_stays_on_it(tools: DocsTools) -> None:
    """A comment on words running from a deleted paragraph into a kept one is about kept
    words too. It lost the marks it had in the deleted paragraph: a range end with no start,
    or a range with no reference, which Word shows no comment for."""
    d = docx.Document()
    first = d.add_paragraph("Before ")
    gone = d.add_paragraph("Dropped ")
    last = d.add_paragraph("After ")
    d.add_comment([first.add_run("this"), gone.add_run("that")], text="Up", author="Ann")
    d.add_comment([gone.add_run("here"), last.add_run("there")], text="Down", author="Ben")
    path = put(tools, "a.docx", docx_bytes(d))
    ask = tools.edit_document("a.docx", "delete_paragraph", paragraph=2)
    assert "comment" not in ask
    out = tools.edit_document("a.docx", "delete_paragraph", paragraph=2, confirmed=True)
    assert "comment" not in out
    assert read(tools, "a.docx") == ["[1] Before this", "[2] After there"]
    kept = docx.Document(str(path))
    assert [(c.author, c.text) for c in kept.comments] == [("Ann", "Up"), ("Ben", "Down")]
    assert comment_marks(path) == [
        [("commentRangeStart", "0"), ("commentRangeEnd", "0"), ("commentReference", "0")],
        [("commentRangeStart", "1"), ("commentRangeEnd", "1"), ("commentReference", "1")],
    ]
    first_kept = kept.paragraphs[0]._p
    assert first_kept[-1].find(qn("w:commentReference")) is not None  # after the words


def test_word_removals_name_notes_and_fields_and_drop_the_notes(tools: DocsTools) -> None:
    """Footnotes, endnotes and fields (a date, page numbers, a table of contents) went with
    their paragraphs without a word, and the notes' words stayed in the file."""
    d = docx.Document()
    d.add_heading("Sources", level=1)
    p = d.add_paragraph("The census")
    add_note(p, "Source: the 2023 census.")
    p.add_run(" was read on ")
    add_field(p, 'DATE \\@ "d MMMM yyyy"', "3 May 2024")
    p.add_run(".")
    p = d.add_paragraph("Contents: ")
    begin_field(p, "TOC \\o 1-3 \\h")  # a field inside it is part of it
    p.add_run("Sources ")
    add_field(p, "PAGEREF _Toc1 \\h", "1")
    end_field(p)
    p = d.add_paragraph("See the appendix")
    add_note(p, "Appendix B, page 4.", kind="endnote")
    page = OxmlElement("w:fldSimple")
    page.set(qn("w:instr"), " PAGE ")
    page.append(OxmlElement("w:r"))
    page[0].text = "2"
    p._p.append(page)
    d.add_heading("Notes", level=1)
    p = d.add_paragraph("Kept")
    add_note(p, "A note that stays.")
    data = docx_bytes(d)
    path = put(tools, "a.docx", data)
    also = (
        "the footnote “Source: the 2023 census.”, the endnote “Appendix B, page 4.”, "
        "a DATE field, a TOC field and a PAGE field"
    )
    ask = tools.edit_document("a.docx", "delete_section", section="Sources")
    assert f"It would also remove {also}." in ask
    out = tools.edit_document("a.docx", "delete_section", section="Sources", confirmed=True)
    assert out.splitlines()[1] == (
        f"Gone with the removed paragraphs: {also}. Undo brings them back."
    )
    footnotes = part_text(path, "word/footnotes.xml")
    assert "2023 census" not in footnotes
    assert "A note that stays." in footnotes
    assert footnotes.count('w:type="separator"') == 1  # never pointed to, yet Word's own
    assert "Appendix B" not in part_text(path, "word/endnotes.xml")
    assert read(tools, "a.docx") == ["[1] # Notes", "[2] Kept"]
    tools.undo("a.docx")
    assert path.read_bytes() == data


def test_an_edit_by_number_needs_a_read_by_this_server(tmp_path: Path) -> None:
    """A resumed conversation's paragraph numbers, given to a new server: the staleness
    check had no read to compare with, and a paragraph the person typed in meanwhile made
    "delete paragraph 3" delete the one before the one meant."""
    root, history = tmp_path / "ws", tmp_path / "history"
    root.mkdir()
    first = DocsTools(Workspace(root, history))
    path = put(first, "a.md", b"# Plan\n\nKeep me.\n\nDelete me.\n")
    first.edit_document("a.md", "find_replace", find="Keep", replace_with="Keep!")
    path.write_bytes(b"# Plan\n\nNew text.\n\nKeep! me.\n\nDelete me.\n")  # the person's
    before = path.read_bytes()
    second = DocsTools(Workspace(root, history))  # the next session's server
    with pytest.raises(FormatError, match=r"have not read a\.md since I started") as info:
        second.edit_document("a.md", "delete_paragraph", paragraph=3, confirmed=True)
    assert "read_document" in str(info.value) and "nothing was changed" in str(info.value)
    # refused again without a read: the refusal itself did not count as one
    with pytest.raises(FormatError, match="have not read"):
        second.edit_document("a.md", "delete_paragraph", paragraph=3, confirmed=True)
    assert path.read_bytes() == before
    # edits that name no number need no read, and are none (the file was opened, but no
    # number shown: a delete by number went through after one)
    second.edit_document("a.md", "find_replace", find="New text", replace_with="Newer text")
    with pytest.raises(FormatError, match="have not read"):
        second.edit_document("a.md", "delete_paragraph", paragraph=4, confirmed=True)
    second.outline("a.md")  # shows the numbers, as read_document does
    second.edit_document("a.md", "delete_paragraph", paragraph=4)  # the question first
    second.edit_document("a.md", "delete_paragraph", paragraph=4, confirmed=True)
    assert path.read_bytes() == b"# Plan\n\nNewer text.\n\nKeep! me.\n"


def test_replacing_most_of_a_long_section_asks_first(tools: DocsTools) -> None:
    """replace_section with "TBD" removed ten paragraphs and a table unasked, and its
    result did not say so; a rewrite of about the same length goes ahead."""
    body = "\n\n".join(f"Paragraph {n} has some words about the money we plan." for n in range(6))
    data = f"# Plan\n\n## Budget\n\n{body}\n\n## Risks\n\nNone.\n".encode()
    path = put(tools, "a.md", data)
    asked = tools.edit_document("a.md", "replace_section", section="Budget", text="TBD.")
    assert asked.startswith("Not done yet: replacing the body of section “Budget” in a.md")
    assert "(6 paragraphs, 60 words) with 1 word" in asked and "confirmed=true" in asked
    assert path.read_bytes() == data
    done = tools.edit_document(
        "a.md", "replace_section", section="Budget", text="TBD.", confirmed=True
    )
    assert done.startswith(
        "Replaced the body of section “Budget” in a.md (6 paragraphs, 60 words before) with "
        "1 paragraph."
    )
    rewrite = "\n\n".join(f"Paragraph {n} now says other things about money." for n in range(6))
    tools.edit_document("a.md", "replace_section", section="Budget", text=rewrite, confirmed=True)
    out = tools.edit_document("a.md", "replace_section", section="Budget", text=rewrite[:200])
    assert out.startswith("Replaced"), out
    # a Markdown table is one block of text, not rows as in Word: it went unasked
    table = "| a | b |\n|---|:--:|\n| 1 | 2 |"
    tools.edit_document("a.md", "replace_section", section="Risks", text=table, confirmed=True)
    asked = tools.edit_document("a.md", "replace_section", section="Risks", text="No table.")
    assert asked.startswith("Not done yet") and "1 table" in asked


def test_files_whose_names_the_tools_refuse_are_not_listed_as_documents(
    tools: DocsTools,
) -> None:
    """ " lead.md" and a name with U+202E were listed (raw: a line break in a name broke the
    list) and found by search, then refused by read_document under the listed name."""
    root = tools.ws.root
    for name in (" lead.md", "rtl\u202etxt.md", "line\nbreak.md", "fine.md"):
        (root / name).write_text("# Budget\n\nMoney.\n", encoding="utf-8")
    listing = tools.list_documents()
    assert listing.splitlines()[0] == "1 document in the workspace."
    assert "- fine.md" in listing and "\u202e" not in listing and "line\nbreak" not in listing
    assert "3 more files have a name I cannot use" in listing and "' lead.md'" in listing
    found = tools.search("Money")
    assert "fine.md" in found and "lead.md" not in found


def test_a_name_ending_in_a_dot_is_told_apart_from_one_with_no_extension(
    tools: DocsTools,
) -> None:
    with pytest.raises(FormatError, match=r"ends with a dot after its extension; did you mean"):
        tools.create_document("trailing.md.", "Text.")
    with pytest.raises(FormatError, match="has no extension"):
        tools.create_document("notes", "Text.")
    assert not list(tools.ws.root.iterdir())


@pytest.mark.parametrize("name", ["long.md", "long.docx"])
def test_an_edit_after_a_read_parses_the_document_once(
    tools: DocsTools, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """An edit parsed the file to open it, again to check the new bytes read back, and a
    third time to show the changed paragraphs: 0.2 s of each edit of a 2 MB Markdown file,
    0.9 s of a 200-page Word file. The check's parse now serves the other two, and two edits
    in one answer each see the other's result."""
    content = "\n\n".join(["# Plan", *(f"Point {n}." for n in range(1, 40))])
    (tools.ws.root / name).write_bytes(formats.new_document(content, formats.kind_for(name)))
    tools.read_document(name)
    parses: list[formats.Kind] = []
    real_parse = formats.parse

    def counted(data: bytes, kind: formats.Kind) -> formats.Document:
        parses.append(kind)
        return real_parse(data, kind)

    real_spliced = formats._parse_spliced

    def spliced(doc: formats.Document, data: bytes) -> formats.Document | None:
        # a text file's check reads again only what the edit rewrote, in place of a parse
        found = real_spliced(doc, data)
        if found is not None:
            parses.append(doc.kind)
        return found

    monkeypatch.setattr(formats, "parse", counted)
    monkeypatch.setattr(formats, "_parse_spliced", spliced)
    first = tools.edit_document(name, "replace_paragraph", paragraph=2, text="Point one.")
    second = tools.edit_document(
        name, "insert_paragraph", paragraph=2, text="Point one and a half."
    )
    assert len(parses) == 2, parses
    assert "[2] Point one." in first
    assert "[3] Point one and a half." in second
    tools.edit_document(name, "find_replace", find="Point 2.", replace_with="Point two.")
    monkeypatch.setattr(formats, "parse", real_parse)
    monkeypatch.setattr(formats, "_parse_spliced", real_spliced)
    assert read(tools, name)[:5] == [
        "[1] # Plan",
        "[2] Point one.",
        "[3] Point one and a half.",
        "[4] Point two.",
        "[5] Point 3.",
    ]
    # another program's change between the edits is still seen, and refused
    path = tools.ws.root / name
    path.write_bytes(formats.new_document("# Plan\n\nTheirs.", formats.kind_for(name)))
    with pytest.raises(StaleDocumentError):
        tools.edit_document(name, "replace_paragraph", paragraph=2, text="Mine.")
    assert read(tools, name) == ["[1] # Plan", "[2] Theirs."]


def test_the_parses_kept_for_the_next_edit_hold_a_bounded_amount_of_memory(
    tools: DocsTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each document read kept its parse for the next edit, the last four of them: four
    4.9 MB Markdown files read once held 73 MB after the reads were done (their text three
    times over), four picture-filled Word files their 25 MB each. The parses kept are now
    bounded by the size of their files; the last one opened is always kept."""
    import tracemalloc

    paragraph = " ".join(["budget"] * 40) + "."
    content = "\n\n".join([paragraph] * 12_000)  # 3.4 MB
    for n in range(4):
        (tools.ws.root / f"big{n}.md").write_text(content)
    tracemalloc.start()
    try:
        for n in range(4):
            tools.read_document(f"big{n}.md")
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 30_000_000, held
    parses: list[formats.Kind] = []
    real_parse = formats.parse

    def counted(data: bytes, kind: formats.Kind) -> formats.Document:
        parses.append(kind)
        return real_parse(data, kind)

    monkeypatch.setattr(formats, "parse", counted)
    # the document just read is still edited from its kept parse
    tools.edit_document("big3.md", "replace_paragraph", paragraph=1, text="Budget.")
    # no whole parse at all: the check that the new bytes read back reads again only the
    # paragraph the edit rewrote (formats._parse_spliced)
    assert parses == []
