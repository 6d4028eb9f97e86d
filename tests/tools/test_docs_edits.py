"""Edits that used to corrupt documents, each cut down to its smallest case.

Most were found by the randomised tests in ``test_docs_fuzz.py``. They call :class:`DocsTools`
directly (what the MCP tools call), so they run in milliseconds.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import docx
import pytest

from voicedesk.tools import formats
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.formats import FormatError
from voicedesk.tools.workspace import StaleDocumentError, Workspace


@pytest.fixture
def tools(tmp_path: Path) -> DocsTools:
    root = tmp_path / "ws"
    root.mkdir()
    return DocsTools(Workspace(root, tmp_path / "history"))


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
