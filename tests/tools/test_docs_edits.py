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
