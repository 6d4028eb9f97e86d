"""The documents MCP server, driven the way real clients drive it: the official MCP client
over stdio, launching ``python -m voicedesk docs-server --root WORKSPACE``.

Each test starts one server process (about a second) and does as much as it can through it,
so the whole file stays fast. A few pure helpers are also tested directly.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from docx.oxml.parser import OxmlElement
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pypdf import PdfReader
from test_docs_edits import add_link, png_1x1  # shared helpers of the documents tests

import voicedesk
from voicedesk.tools import formats
from voicedesk.tools.docs_diff import describe_changes
from voicedesk.tools.docs_server import MAX_RESULT_CHARS, TOOL_NAMES, DocsTools
from voicedesk.tools.workspace import (
    ReadOnlyDocumentError,
    StaleDocumentError,
    Workspace,
    WorkspaceError,
    clean_relative_name,
)

PLAN_MD = """\
# Plan

We ship the voice assistant in spring.

## Costs

The budget is 10 euros.

Hosting is free.

## Risks

Nobody reads the manual.
"""

TODO_TXT = "Buy milk.\n\nCall Anna about the budget.\n\nWater the plants.\n"


def make_pdf(lines: list[str]) -> bytes:
    """A minimal valid one-page PDF showing ``lines`` in Helvetica (offsets computed exactly)."""
    ops = ["BT /F1 12 Tf 72 720 Td 16 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    content = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def make_docx() -> bytes:
    d = docx.Document()
    d.add_heading("Quarterly Report", level=1)
    p = d.add_paragraph("Revenue grew ")
    p.add_run("strongly").bold = True
    p.add_run(" in 2023.")
    d.add_heading("Risks", level=2)
    d.add_paragraph("Supply chains remain fragile.")
    d.add_paragraph("")  # an empty spacer paragraph: not a block, must survive edits
    table = d.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "cell text"
    d.add_heading("Outlook", level=2)
    d.add_paragraph("Closing remarks.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with one document of each format, plus a folder outside it with bait."""
    root = tmp_path / "ws"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "plan.md").write_text(PLAN_MD, encoding="utf-8")
    (root / "todo.txt").write_text(TODO_TXT, encoding="utf-8")
    (root / "report.docx").write_bytes(make_docx())
    (root / "scan.pdf").write_bytes(
        make_pdf(["Quarterly revenue grew strongly.", "The budget doubled in March."])
    )
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nDo not touch.\n", encoding="utf-8")
    (root / "link.md").symlink_to(outside / "secret.md")
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    return root


def folder_with(tmp_path: Path, files: dict[str, str]) -> Path:
    """A workspace (``tmp_path``/ws) holding only ``files`` (name: text)."""
    root = tmp_path / "ws"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


class Docs:
    """Thin wrapper over a ClientSession: call a tool, get its text, check isError."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def call(self, tool: str, **args: object) -> str:
        result = await self.session.call_tool(tool, args)
        text = "\n".join(c.text for c in result.content if getattr(c, "text", None))
        assert not result.is_error, f"{tool}({args}) failed: {text}"
        return text

    async def fail(self, tool: str, **args: object) -> str:
        result = await self.session.call_tool(tool, args)
        text = "\n".join(c.text for c in result.content if getattr(c, "text", None))
        assert result.is_error, f"{tool}({args}) should have failed but said: {text}"
        assert text != f"Error executing tool {tool}", "a crash, not an explained refusal"
        return text


def _this_voicedesk_path() -> str:
    """PYTHONPATH for a server process: it must run the voicedesk these tests import (a git
    worktree, say), not whichever one the virtualenv has installed; the SDK passes the child
    only a few variables."""
    package_root = str(Path(voicedesk.__file__).resolve().parents[1])
    return os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))


@asynccontextmanager
async def _connected(params: StdioServerParameters, log: Path) -> AsyncIterator[Docs]:
    """The official client over stdio to the server ``params`` starts, its stderr in
    ``log``. Expected failures are ToolErrors; a traceback on stderr means a tool crashed,
    and fails the test once the server is gone."""
    with open(log, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield Docs(session)
    assert "Traceback" not in log.read_text(), log.read_text()


@asynccontextmanager
async def docs_server(root: Path, *extra: str) -> AsyncIterator[Docs]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "voicedesk", "docs-server", "--root", str(root), *extra],
        cwd=str(root.parent),
        env={"PYTHONPATH": _this_voicedesk_path()},
    )
    async with _connected(params, root.parent / "server-stderr.log") as docs:
        yield docs


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def docx_paragraphs(path: Path) -> list[tuple[str, str]]:
    return [(p.style.name, p.text) for p in docx.Document(str(path)).paragraphs]


# ---------------------------------------------------------------------------- pure helpers


def test_pdf_fixture_is_valid() -> None:
    reader = PdfReader(io.BytesIO(make_pdf(["Hello PDF world."])))
    assert "Hello PDF world." in reader.pages[0].extract_text()


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("../x.md", "'..'"),
        ("notes/../../x.md", "'..'"),
        ("..\\x.md", "'..'"),
        ("/etc/passwd", "absolute"),
        ("~/x.md", "absolute"),
        ("C:\\x.md", "absolute"),
        ("a\x00b.md", "NUL"),
        ("a\u202eb.md", "RIGHT-TO-LEFT OVERRIDE"),
        ("a\u200bb.md", "ZERO WIDTH SPACE"),
        ("a\x1bb.md", "control"),
        ("", "empty"),
        ("./", "workspace folder itself"),
    ],
)
def test_bad_names_refused_with_reason(name: str, complaint: str) -> None:
    with pytest.raises(WorkspaceError) as info:
        clean_relative_name(name)
    assert complaint in str(info.value)
    if complaint not in ("empty",):
        assert "relative to the workspace" in str(info.value) or "longer" in str(info.value)


def test_names_are_nfc_normalised() -> None:
    assert clean_relative_name("./notes//cafe\u0301.md") == "notes/caf\u00e9.md"


def test_describe_changes_reads_naturally() -> None:
    assert describe_changes(["a", "b", "c"], ["a", "B", "c", "d"]) == (
        "1 paragraph changed, 1 added"
    )
    assert describe_changes(["a", "b"], ["a"]) == "1 paragraph removed"
    assert describe_changes(["a", "b", "c"], ["x", "y", "c", "d"]) == (
        "2 paragraphs changed, 1 added"
    )
    assert describe_changes(["a"], ["a"]) == "no differences"


def test_markdown_blocks_round_trip() -> None:
    doc = formats.parse(PLAN_MD.encode(), "markdown")
    assert [(b.level, b.text) for b in doc.blocks][:3] == [
        (1, "Plan"),
        (0, "We ship the voice assistant in spring."),
        (2, "Costs"),
    ]
    assert formats.serialize(doc) == PLAN_MD.encode()


# ---------------------------------------------------------------------------- over stdio


async def test_finding_and_reading_every_format(ws: Path) -> None:
    async with docs_server(ws) as d:
        tools = await d.session.list_tools()
        assert {t.name for t in tools.tools} == set(TOOL_NAMES)

        listing = await d.call("list_documents")
        assert listing.splitlines()[0] == "4 documents in the workspace."
        for name in ("notes/plan.md", "todo.txt", "report.docx", "scan.pdf"):
            assert name in listing
        assert "secret" not in listing and "link" not in listing  # links out are not listed
        assert "report.docx (Word" in listing
        only_docx = await d.call("list_documents", pattern="*.docx")
        assert only_docx.startswith("1 document matching") and "report.docx" in only_docx
        assert "todo.txt" in await d.call("list_documents", pattern="TODO")
        assert (await d.call("list_documents", pattern="*.xls")).startswith("There are no")

        assert "notes/plan.md" in (await d.call("find_documents", query="plan")).splitlines()[0]
        assert "report.docx" in await d.call("find_documents", query="reprot")  # a slip
        assert (await d.call("find_documents", query="zebra")).startswith("No document names")

        plan = await d.call("read_document", path="notes/plan.md")
        lines = plan.splitlines()
        assert lines[0] == "notes/plan.md: 7 paragraphs, 22 words."
        assert lines[1:4] == [
            "[1] # Plan",
            "[2] We ship the voice assistant in spring.",
            "[3] ## Costs",
        ]
        costs = await d.call("read_document", path="notes/plan.md", section="costs")
        assert costs.splitlines()[0].startswith("Section “Costs” of notes/plan.md: 3 paragraphs")
        assert "[5] Hosting is free." in costs and "Risks" not in costs
        part = await d.call("read_document", path="notes/plan.md", start_paragraph=6)
        assert part.splitlines() == [
            "notes/plan.md, paragraphs 6 to 7 of 7.",
            "[6] ## Risks",
            "[7] Nobody reads the manual.",
        ]
        middle = await d.call(
            "read_document", path="notes/plan.md", start_paragraph=2, end_paragraph=2
        )
        assert middle.splitlines()[1:] == ["[2] We ship the voice assistant in spring."]
        assert "3 paragraphs" in await d.fail("read_document", path="todo.txt", start_paragraph=9)
        assert "no section called" in await d.fail(
            "read_document", path="notes/plan.md", section="Zebras"
        )

        report = await d.call("read_document", path="report.docx")
        assert "[1] # Quarterly Report" in report
        assert "[2] Revenue grew strongly in 2023." in report
        assert "[3] ## Risks" in report

        todo = await d.call("read_document", path="todo.txt")
        assert "[2] Call Anna about the budget." in todo

        scan = await d.call("read_document", path="scan.pdf")
        assert "Quarterly revenue grew strongly." in scan and "doubled in March" in scan

        outline = await d.call("outline", path="report.docx")
        assert outline.splitlines()[0].startswith("report.docx has 3 headings")
        assert "[1] # Quarterly Report" in outline and "  [3] ## Risks" in outline
        assert "has no headings" in await d.call("outline", path="todo.txt")

        count = await d.call("count", path="notes/plan.md")
        assert count.splitlines()[0] == (
            "notes/plan.md has 22 words in 4 paragraphs and 3 headings."
        )
        assert (await d.call("count", path="todo.txt")).startswith(
            "todo.txt has 10 words in 3 paragraphs."
        )

        found = await d.call("search", query="budget")
        assert found.splitlines()[0] == "Found “budget” in 3 places in 3 documents."
        assert "notes/plan.md, paragraph 4 (section “Costs”): The budget is 10 euros." in found
        assert "todo.txt, paragraph 2: Call Anna about the budget." in found
        assert "scan.pdf, paragraph" in found
        words = await d.call("search", query="manual nobody")  # all words, any order
        assert "notes/plan.md, paragraph 7" in words
        assert "Found no" in await d.call("search", query="zebra crossing")
        assert "in report.docx" not in found
        assert "report.docx, paragraph 2" in await d.call("search", query="STRONGLY in 2023")

        assert "only work with documents ending in" in await d.fail(
            "read_document", path="image.png"
        )
        assert "no document called" in await d.fail("read_document", path="nope.md")


async def test_every_edit_action_on_markdown(ws: Path) -> None:
    plan = ws / "notes" / "plan.md"
    async with docs_server(ws) as d:
        await d.call("read_document", path="notes/plan.md")

        out = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="replace_paragraph",
            paragraph=2,
            text="We ship in summer.",
        )
        assert out.splitlines()[:2] == [
            "Replaced paragraph 2 of notes/plan.md.",
            "[2] We ship in summer.",
        ]
        assert "We ship in summer.\n\n## Costs" in plan.read_text()

        out = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="insert_paragraph",
            section="Costs",
            text="Travel is extra.",
        )
        assert out.splitlines()[0] == (
            "Added a paragraph at the end of section “Costs” of notes/plan.md; "
            "it is now paragraph 6."
        )
        assert "Hosting is free.\n\nTravel is extra.\n\n## Risks" in plan.read_text()
        await d.call(
            "edit_document",
            path="notes/plan.md",
            action="insert_paragraph",
            paragraph=0,
            text="Draft.",
        )
        assert plan.read_text().startswith("Draft.\n\n# Plan\n")
        await d.call(
            "edit_document", path="notes/plan.md", action="insert_paragraph", text="The end."
        )
        assert plan.read_text().endswith("Nobody reads the manual.\n\nThe end.\n")

        out = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="rename_heading",
            section="risks",
            text="Known risks",
        )
        assert out.startswith("Renamed heading “Risks” to “Known risks”")
        assert "\n## Known risks\n" in plan.read_text()

        out = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="replace_section",
            section="Costs",
            text="## Costs\n\nEverything is free.\n\nReally.",
        )
        assert "with 2 paragraphs" in out.splitlines()[0]
        assert "## Costs\n\nEverything is free.\n\nReally.\n\n## Known risks" in plan.read_text()

        out = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="find_replace",
            find="free",
            replace_with="cheap",
        )
        assert out.startswith("Replaced 1 occurrence of “free” with “cheap”")
        nothing = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="find_replace",
            find="EVERYTHING",
            replace_with="x",
        )
        assert "nothing changed" in nothing and "match_case=false" in nothing
        await d.call(
            "edit_document",
            path="notes/plan.md",
            action="find_replace",
            find="EVERYTHING",
            replace_with="Nearly everything",
            match_case=False,
        )
        assert "Nearly everything is cheap." in plan.read_text()

        # Destructive edits: the first call only describes them.
        before = plan.read_bytes()
        ask = await d.call(
            "edit_document", path="notes/plan.md", action="delete_section", section="Costs"
        )
        assert ask.startswith("Not done yet: deleting section “Costs”")
        assert "confirmed=true" in ask and "needs the person's confirmation" in ask
        ask = await d.call(
            "edit_document", path="notes/plan.md", action="delete_paragraph", paragraph=1
        )
        assert ask.startswith("Not done yet: deleting paragraph 1")
        assert plan.read_bytes() == before

        out = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="delete_section",
            section="Costs",
            confirmed=True,
        )
        assert out.startswith("Deleted section “Costs” (3 paragraphs)")
        out = await d.call(
            "edit_document",
            path="notes/plan.md",
            action="delete_paragraph",
            paragraph=1,
            confirmed=True,
        )
        assert out.startswith("Deleted paragraph 1")
        assert plan.read_text() == (
            "# Plan\n\nWe ship in summer.\n\n## Known risks\n\nNobody reads the manual.\n\n"
            "The end.\n"
        )

        # Bad requests are errors that say what to do.
        assert "pass paragraph=N" in await d.fail(
            "edit_document", path="notes/plan.md", action="replace_paragraph", text="x"
        )
        assert "paragraph 99 does not exist" in await d.fail(
            "edit_document",
            path="notes/plan.md",
            action="replace_paragraph",
            paragraph=99,
            text="x",
        )
        assert "needs text" in await d.fail(
            "edit_document", path="notes/plan.md", action="replace_paragraph", paragraph=1
        )
        assert "no headings" in await d.fail(
            "edit_document", path="todo.txt", action="delete_section", section="x"
        )
        await d.fail("edit_document", path="notes/plan.md", action="explode")

        # compare with the previous version and with another document
        diff = await d.call("compare_documents", path_a="notes/plan.md")
        assert diff.splitlines()[0] == (
            "Compared notes/plan.md (1 edit ago) with notes/plan.md (now): 1 paragraph removed."
        )
        assert "-Draft." in diff
        older = await d.call("compare_documents", path_a="notes/plan.md", version=2)
        assert "2 edits ago" in older.splitlines()[0]
        assert "only" in await d.fail("compare_documents", path_a="notes/plan.md", version=99)
        (ws / "copy.md").write_text(
            "# Plan\n\nWe ship in autumn.\n\n## Known risks\n\nNobody reads the manual.\n\n"
            "The end.\n\nP.S.\n"
        )
        both = await d.call("compare_documents", path_a="notes/plan.md", path_b="copy.md")
        assert both.splitlines()[0] == (
            "Compared notes/plan.md with copy.md: 1 paragraph changed, 1 added."
        )
        assert "-We ship in summer." in both and "+We ship in autumn." in both
        assert "+P.S." in both


async def test_edit_undo_redo_round_trips_byte_for_byte(ws: Path) -> None:
    plan = ws / "notes" / "plan.md"
    report = ws / "report.docx"
    original_md = plan.read_bytes()
    original_docx = report.read_bytes()
    async with docs_server(ws) as d:
        assert "nothing to undo" in await d.fail("undo", path="notes/plan.md")

        await d.call(
            "edit_document",
            path="notes/plan.md",
            action="find_replace",
            find="10 euros",
            replace_with="12 euros",
        )
        edited_md = plan.read_bytes()
        assert edited_md == original_md.replace(b"10 euros", b"12 euros")
        out = await d.call("undo", path="notes/plan.md")
        assert out.splitlines()[0] == (
            "Undid the last change to notes/plan.md: 1 paragraph changed."
        )
        assert plan.read_bytes() == original_md
        out = await d.call("redo", path="notes/plan.md")
        assert out.startswith("Redid the change to notes/plan.md")
        assert plan.read_bytes() == edited_md
        assert "nothing to redo" in await d.fail("redo", path="notes/plan.md")

        # .docx: edits keep formatting, spacer paragraphs and tables; undo restores the bytes.
        await d.call("read_document", path="report.docx")
        await d.call(
            "edit_document",
            path="report.docx",
            action="find_replace",
            find="2023",
            replace_with="2024",
        )
        await d.call(
            "edit_document",
            path="report.docx",
            action="insert_paragraph",
            section="Risks",
            text="### Mitigation\n\nKeep two suppliers.",
        )
        await d.call(
            "edit_document",
            path="report.docx",
            action="rename_heading",
            section="Outlook",
            text="Next year",
        )
        edited_docx = report.read_bytes()
        document = docx.Document(str(report))
        paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
        assert paragraphs == [
            ("Heading 1", "Quarterly Report"),
            ("Normal", "Revenue grew strongly in 2024."),
            ("Heading 2", "Risks"),
            ("Normal", "Supply chains remain fragile."),
            ("Normal", ""),
            # The table is the last block of "Risks", so the section ends after it.
            ("Heading 3", "Mitigation"),
            ("Normal", "Keep two suppliers."),
            ("Heading 2", "Next year"),
            ("Normal", "Closing remarks."),
        ]
        bold = [r.text for r in document.paragraphs[1].runs if r.bold]
        assert bold == ["strongly"]
        assert document.tables[0].cell(0, 0).text == "cell text"

        for _ in range(3):
            await d.call("undo", path="report.docx")
        assert report.read_bytes() == original_docx
        for _ in range(3):
            await d.call("redo", path="report.docx")
        assert report.read_bytes() == edited_docx
        await d.call("undo", path="report.docx")
        await d.call("undo", path="report.docx")
        mid = report.read_bytes()
        await d.call("redo", path="report.docx")
        await d.call("undo", path="report.docx")
        assert report.read_bytes() == mid

        # A new edit after undo drops the redo branch.
        await d.call(
            "edit_document",
            path="report.docx",
            action="replace_paragraph",
            paragraph=1,
            text="Annual Report",
        )
        assert ("Heading 1", "Annual Report") in docx_paragraphs(report)
        assert "nothing to redo" in await d.fail("redo", path="report.docx")

    history = ws.parent / ".ws.voicedesk-history"
    assert history.is_dir()  # beside the workspace, never inside it
    assert not any(p.name.endswith(".tmp") for p in ws.rglob("*"))


async def test_create_document(ws: Path) -> None:
    async with docs_server(ws) as d:
        out = await d.call(
            "create_document",
            path="drafts/letter.docx",
            content="# Dear Anna\n\nThanks for the call.\n\n## Next steps\n\nMeet on Friday.",
        )
        assert out.splitlines()[0] == "Created drafts/letter.docx: 4 paragraphs, 11 words."
        assert docx_paragraphs(ws / "drafts" / "letter.docx") == [
            ("Heading 1", "Dear Anna"),
            ("Normal", "Thanks for the call."),
            ("Heading 2", "Next steps"),
            ("Normal", "Meet on Friday."),
        ]
        await d.call("create_document", path="new.md", content="# Title\n\nBody.")
        assert (ws / "new.md").read_text() == "# Title\n\nBody.\n"
        await d.call("create_document", path="list.txt", content="one\n\ntwo\n")
        assert (ws / "list.txt").read_text() == "one\n\ntwo\n"

        assert "already exists" in await d.fail("create_document", path="new.md", content="x")
        ask = await d.call("create_document", path="new.md", content="x", overwrite=True)
        assert ask.startswith("Not done yet: replacing the existing new.md")
        assert (ws / "new.md").read_text() == "# Title\n\nBody.\n"
        out = await d.call(
            "create_document", path="new.md", content="x", overwrite=True, confirmed=True
        )
        assert out.startswith("Replaced new.md")
        assert (ws / "new.md").read_text() == "x\n"
        await d.call("undo", path="new.md")
        assert (ws / "new.md").read_text() == "# Title\n\nBody.\n"

        # Undoing a creation removes the file again; redo brings it back.
        out = await d.call("undo", path="list.txt")
        assert "no longer exists" in out and not (ws / "list.txt").exists()
        await d.call("redo", path="list.txt")
        assert (ws / "list.txt").read_text() == "one\n\ntwo\n"

        assert "read-only" in await d.fail("create_document", path="out.pdf", content="x")
        assert "only work with documents ending in" in await d.fail(
            "create_document", path="run.sh", content="x"
        )


async def test_path_escapes_refused_and_nothing_outside_changes(ws: Path) -> None:
    outside = ws.parent / "outside"
    before_outside = snapshot(outside)
    before_ws = snapshot(ws)
    bad = {
        "../x.md": "'..'",
        "notes/../../outside/secret.md": "'..'",
        "/etc/passwd": "absolute",
        str(outside / "secret.md"): "absolute",
        "link.md": "symbolic link",
        "linkdir/secret.md": "symbolic link",
        "linkdir/new.md": "symbolic link",
        "a\u202eb.md": "RIGHT-TO-LEFT OVERRIDE",
        "a\u200db.md": "ZERO WIDTH JOINER",
        "a\x00b.md": "NUL byte",
        "a\nb.md": "control",
    }
    async with docs_server(ws) as d:
        for name, complaint in bad.items():
            for tool, args in (
                ("read_document", {"path": name}),
                (
                    "create_document",
                    {"path": name, "content": "pwned", "overwrite": True, "confirmed": True},
                ),
                ("edit_document", {"path": name, "action": "insert_paragraph", "text": "pwned"}),
                ("undo", {"path": name}),
                ("count", {"path": name}),
            ):
                message = await d.fail(tool, **args)
                assert complaint in message, (tool, name, message)
                assert "pwned" not in message
        msg = await d.fail("read_document", path="../x.md")
        assert "relative to the workspace" in msg  # says what is allowed, too
        msg = await d.fail("compare_documents", path_a="notes/plan.md", path_b="../../etc/passwd")
        assert "'..'" in msg
    assert snapshot(outside) == before_outside
    assert snapshot(ws) == before_ws
    assert not (ws.parent / "x.md").exists()


async def test_stale_document_is_refused_until_read_again(ws: Path) -> None:
    plan = ws / "notes" / "plan.md"
    async with docs_server(ws) as d:
        await d.call("read_document", path="notes/plan.md")
        # Another program changes the file (keep the mtime moving even on coarse clocks).
        time.sleep(0.01)
        plan.write_text(PLAN_MD.replace("spring", "winter"), encoding="utf-8")
        os.utime(plan, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
        message = await d.fail(
            "edit_document",
            path="notes/plan.md",
            action="replace_paragraph",
            paragraph=2,
            text="Overwritten.",
        )
        assert "changed by another program" in message
        assert "read_document" in message and "again" in message
        assert "winter" in plan.read_text() and "Overwritten" not in plan.read_text()

        await d.call("read_document", path="notes/plan.md")
        await d.call(
            "edit_document",
            path="notes/plan.md",
            action="replace_paragraph",
            paragraph=2,
            text="Edited after reading.",
        )
        assert "Edited after reading." in plan.read_text()

        # Changed outside again after our edit: undo refuses too, then works after a read
        # and goes back to exactly what the other program wrote.
        outside_version = PLAN_MD.replace("spring", "autumn").encode()
        plan.write_bytes(outside_version)
        refused = await d.fail("undo", path="notes/plan.md")
        assert "changed by another program" in refused
        assert "nothing was undone" in refused and "retry the edit" not in refused
        assert "redo" not in refused.split(".")[0]
        await d.call("read_document", path="notes/plan.md")
        await d.call("undo", path="notes/plan.md")
        assert "Edited after reading." in plan.read_text()
        await d.call("redo", path="notes/plan.md")
        assert plan.read_bytes() == outside_version


async def test_pdf_is_read_only(ws: Path) -> None:
    pdf = ws / "scan.pdf"
    before = pdf.read_bytes()
    async with docs_server(ws) as d:
        message = await d.fail(
            "edit_document",
            path="scan.pdf",
            action="find_replace",
            find="budget",
            replace_with="x",
        )
        assert "read-only" in message and ".docx or .md" in message
        assert "nothing to undo" in await d.fail("undo", path="scan.pdf")
        assert "has 9 words" in await d.call("count", path="scan.pdf")
    assert pdf.read_bytes() == before


def test_missing_root_is_a_clear_error_with_nothing_on_stdout(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voicedesk", "docs-server", "--root", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Workspace folder not found" in done.stderr and "--root DIR" in done.stderr


def test_root_that_is_a_file_says_so(tmp_path: Path) -> None:
    doc = tmp_path / "notes.md"
    doc.write_text("# Notes\n", encoding="utf-8")
    done = _run_cli(["docs-server", "--root", str(doc)], {"HOME": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert f"{doc} is a file" in done.stderr and "not found" not in done.stderr


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VOICEDESK_")}
    return subprocess.run(
        [sys.executable, "-m", "voicedesk", *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env=clean | env,
    )


def test_root_defaults_to_configured_workspace(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[tools]\nworkspace = "{(tmp_path / "configured").as_posix()}"\n')
    done = _run_cli(["--config", str(config), "docs-server"], {"HOME": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert f"Workspace folder not found: {tmp_path / 'configured'}" in done.stderr


def test_root_falls_back_to_documents_folder(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# no workspace set\n")
    done = _run_cli(["--config", str(config), "docs-server"], {"HOME": str(tmp_path)})
    assert done.returncode == 2 and done.stdout == ""
    assert f"Workspace folder not found: {tmp_path / 'Documents'}" in done.stderr


def test_a_missing_workspace_from_the_config_names_where_it_came_from(tmp_path: Path) -> None:
    """With no --root, a missing workspace said only "create it or pass --root DIR": the
    folder came from tools.workspace, or from its default, and neither was named."""
    config = tmp_path / "config.toml"
    config.write_text(f'[tools]\nworkspace = "{(tmp_path / "configured").as_posix()}"\n')
    done = _run_cli(["--config", str(config), "docs-server"], {"HOME": str(tmp_path)})
    assert "set tools.workspace, or pass --root DIR (this one is tools.workspace)" in done.stderr
    config.write_text("# no workspace set\n")
    done = _run_cli(["--config", str(config), "docs-server"], {"HOME": str(tmp_path)})
    assert (
        "set tools.workspace" in done.stderr and "the default, your documents folder" in done.stderr
    )


# ---------------------------------------------------------------------------- review fixes


async def test_long_outline_and_count_are_cut_with_a_hint(ws: Path) -> None:
    (ws / "heads.md").write_text(
        "".join(f"# Heading number {i}\n\nBody {i}.\n\n" for i in range(2000)), encoding="utf-8"
    )
    async with docs_server(ws) as d:
        outline = await d.call("outline", path="heads.md")
        assert len(outline) <= MAX_RESULT_CHARS
        assert outline.splitlines()[0].startswith("heads.md has 2000 headings")
        last = outline.splitlines()[-1]
        assert last.startswith("(Showing ") and "of 2000 headings" in last
        shown = len(outline.splitlines()) - 2
        assert f"start_paragraph={2 * shown + 1})" not in last  # the hint names the next one
        assert f"start_paragraph={2 * shown + 1}" in last and "narrow it down" in last
        count = await d.call("count", path="heads.md")
        assert len(count) <= MAX_RESULT_CHARS
        assert (
            count.splitlines()[0]
            == "heads.md has 10000 words in 2000 paragraphs and 2000 headings."
        )
        assert "more sections" in count.splitlines()[-1] and "narrow it down" in count


async def test_names_in_nfd_open_under_either_form(ws: Path) -> None:
    nfd = unicodedata.normalize("NFD", "café notes.md")
    (ws / "notes" / nfd).write_text("# Café\n\nHello.\n", encoding="utf-8")
    async with docs_server(ws) as d:
        listing = await d.call("list_documents", pattern="café")
        listed = next(
            line[2:].split(" (")[0] for line in listing.splitlines() if "notes.md" in line
        )
        assert "notes/" in listed
        found = await d.call("find_documents", query="cafe notes")
        assert "café notes.md" in unicodedata.normalize("NFC", found)
        for name in (listed, "notes/café notes.md", f"notes/{nfd}"):
            assert "[2] Hello." in await d.call("read_document", path=name)
        await d.call(
            "edit_document",
            path="notes/café notes.md",
            action="replace_paragraph",
            paragraph=2,
            text="Bonjour.",
        )
        assert "already exists" in await d.fail(
            "create_document", path="notes/café notes.md", content="x"
        )
    assert sorted(p.name for p in (ws / "notes").iterdir()) == sorted([nfd, "plan.md"])
    assert (ws / "notes" / nfd).read_text(encoding="utf-8") == "# Café\n\nBonjour.\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
async def test_utf16_text_is_read_and_written_back_in_utf16(ws: Path, encoding: str) -> None:
    text = "Grüße aus Köln.\r\n\r\nZweiter Absatz.\r\n"
    bom = b"\xfe\xff" if encoding == "utf-16-be" else b""  # "utf-16" writes its own BOM
    (ws / "notepad.txt").write_bytes(bom + text.encode(encoding))
    async with docs_server(ws) as d:
        read = await d.call("read_document", path="notepad.txt")
        assert "[1] Grüße aus Köln." in read and "[2] Zweiter Absatz." in read
        assert "notepad.txt, paragraph 2" in await d.call("search", query="zweiter")
        await d.call(
            "edit_document", path="notepad.txt", action="insert_paragraph", text="Dritter – €."
        )
    expected = text + "\r\nDritter – €.\r\n"
    assert (ws / "notepad.txt").read_bytes() == bom + expected.encode(encoding)


def test_outside_change_during_a_slow_edit_is_refused(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program saves while the edit is being worked out (a big file takes seconds):
    the check right before the replace catches it, and the history stays as it was."""
    tools = DocsTools(Workspace(ws, tmp_path / "history"))
    plan = ws / "notes" / "plan.md"
    tools.read_document("notes/plan.md")
    real_serialize = formats.serialize_read_back

    def slow_serialize(doc: formats.Document) -> tuple[bytes, formats.Document]:
        plan.write_text(PLAN_MD + "\nSaved by another program.\n", encoding="utf-8")
        return real_serialize(doc)

    monkeypatch.setattr(formats, "serialize_read_back", slow_serialize)
    with pytest.raises(StaleDocumentError, match="changed by another program") as info:
        tools.edit_document("notes/plan.md", "insert_paragraph", text="Mine.")
    assert "nothing was changed" in str(info.value) and "read_document" in str(info.value)
    assert plan.read_text(encoding="utf-8").endswith("Saved by another program.\n")
    assert not [p for p in ws.rglob("*") if p.name.endswith(".tmp")]
    assert tools.ws.history_steps(plan) == (0, 0)  # no undo step for an edit never made


def test_list_patterns_work_as_a_shell_glob_or_as_plain_text(ws: Path, tmp_path: Path) -> None:
    """'**/*.md' found only files in a folder, not those at the top, and a name with
    brackets could not be asked for by itself (the brackets made it a glob)."""
    (ws / "top.md").write_text("Top.\n", encoding="utf-8")
    (ws / "report [draft].md").write_text("Draft.\n", encoding="utf-8")
    tools = DocsTools(Workspace(ws, tmp_path / "history"))

    def listed(pattern: str) -> set[str]:
        lines = tools.list_documents(pattern).splitlines()[1:]
        return {line[2:].split(" (")[0] for line in lines}

    assert listed("**/*.md") == {"top.md", "report [draft].md", "notes/plan.md"}
    assert listed("notes/**/*.md") == {"notes/plan.md"}
    assert listed("*.md") == {"top.md", "report [draft].md", "notes/plan.md"}  # every folder
    assert listed("report [draft].md") == {"report [draft].md"}
    assert listed("[rt]*.txt") == {"todo.txt"}


def test_undo_in_a_new_session_keeps_a_change_made_outside(ws: Path, tmp_path: Path) -> None:
    """An edit, then the person adds a line in their editor, then (the server restarted, as
    with a new conversation) "undo that": the check against the last read had nothing to go
    on, so undo took the person's line away, kept the edit and said it had undone it. It is
    refused as within one session; after a read it goes back as designed."""
    plan = ws / "notes" / "plan.md"
    first = DocsTools(Workspace(ws, tmp_path / "history"))
    first.read_document("notes/plan.md")
    first.edit_document("notes/plan.md", "replace_paragraph", paragraph=2, text="Mine.")
    theirs = plan.read_text(encoding="utf-8") + "\nTyped by the person.\n"
    plan.write_text(theirs, encoding="utf-8")

    later = DocsTools(Workspace(ws, tmp_path / "history"))
    with pytest.raises(StaleDocumentError, match="changed by another program") as info:
        later.undo("notes/plan.md")
    assert "nothing was undone" in str(info.value) and "read_document" in str(info.value)
    assert plan.read_text(encoding="utf-8") == theirs
    later.read_document("notes/plan.md")
    later.undo("notes/plan.md")  # back to how the edit left it, as the refusal said
    assert plan.read_text(encoding="utf-8") == theirs.removesuffix("\nTyped by the person.\n")
    later.redo("notes/plan.md")
    assert plan.read_text(encoding="utf-8") == theirs


async def test_read_only_documents_are_left_alone_by_every_tool_that_writes(ws: Path) -> None:
    """A read-only file was replaced all the same (the rename needs only the folder's
    permission). Every tool that writes now refuses, saying how to fix it, before asking any
    question, with no undo step recorded; even as root, which may write anything (CI is root).
    """
    plan, todo, new = ws / "notes" / "plan.md", ws / "todo.txt", ws / "new.md"
    history = ws.parent / ".ws.voicedesk-history"
    async with docs_server(ws) as d:
        await d.call("read_document", path="todo.txt")
        for milk in ("oat", "soy"):
            await d.call(
                "edit_document",
                path="todo.txt",
                action="replace_paragraph",
                paragraph=1,
                text=f"Buy {milk} milk.",
            )
        await d.call("undo", path="todo.txt")  # one step to undo and one to redo
        await d.call("create_document", path="new.md", content="# New")  # undo would delete it
        await d.call("read_document", path="notes/plan.md")
        await d.call("read_document", path="report.docx")
        for path in (plan, todo, new, ws / "report.docx"):
            path.chmod(0o444)
        before_ws, before_history = snapshot(ws), snapshot(history)

        plan_edit = {"path": "notes/plan.md", "action": "replace_paragraph", "paragraph": 2}
        overwrite = {"path": "notes/plan.md", "content": "x", "overwrite": True}
        for tool, args, not_done in (
            ("edit_document", {**plan_edit, "text": "Changed."}, "nothing was changed"),
            (
                "edit_document",
                {"path": "notes/plan.md", "action": "delete_section", "section": "Risks"},
                "nothing was changed",
            ),
            (
                "edit_document",
                {"path": "report.docx", "action": "find_replace", "find": "a", "replace_with": "b"},
                "nothing was changed",
            ),
            ("create_document", overwrite, "nothing was changed"),
            ("create_document", {**overwrite, "confirmed": True}, "nothing was changed"),
            ("undo", {"path": "todo.txt"}, "nothing was undone"),
            ("redo", {"path": "todo.txt"}, "nothing was redone"),
            ("undo", {"path": "new.md"}, "nothing was undone"),
        ):
            message = await d.fail(tool, **args)
            name = args["path"]
            assert message.splitlines()[0].startswith(
                f"Error executing tool {tool}: {name} is read-only, so {not_done}. "
                f"It is marked read-only."
            ), (tool, message)
            assert f"chmod u+w {name}" in message and "create_document" in message
        assert snapshot(ws) == before_ws
        assert snapshot(history) == before_history
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o444 for p in (plan, todo, new))

        # Writable again, the same steps work: the refusals left the history where it was.
        for path in (plan, todo, new):
            path.chmod(0o644)
        await d.call("redo", path="todo.txt")
        assert todo.read_text().startswith("Buy soy milk.")
        await d.call("undo", path="todo.txt")
        await d.call("undo", path="todo.txt")
        assert todo.read_text() == TODO_TXT
        await d.call("undo", path="new.md")
        assert not new.exists()
        await d.call("edit_document", **plan_edit, text="Changed.")
        assert "Changed." in plan.read_text()


def test_made_read_only_during_a_slow_edit_is_refused(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The person protects the file while a long edit is worked out: the check right before
    the replace catches it, and the history stays as it was."""
    tools = DocsTools(Workspace(ws, tmp_path / "history"))
    plan = ws / "notes" / "plan.md"
    tools.read_document("notes/plan.md")
    real_serialize = formats.serialize_read_back

    def slow_serialize(doc: formats.Document) -> tuple[bytes, formats.Document]:
        plan.chmod(0o444)
        return real_serialize(doc)

    monkeypatch.setattr(formats, "serialize_read_back", slow_serialize)
    with pytest.raises(ReadOnlyDocumentError, match="is read-only, so nothing was changed"):
        tools.edit_document("notes/plan.md", "insert_paragraph", text="Mine.")
    assert plan.read_text(encoding="utf-8") == PLAN_MD
    assert not [p for p in ws.rglob("*") if p.name.endswith(".tmp")]
    assert tools.ws.history_steps(plan) == (0, 0)  # no undo step for an edit never made


def test_a_document_this_user_may_not_write_is_refused(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's file in a folder we may write has write bits (its owner's), but
    os.access says they are not ours. Faked, since root (as CI runs) may write any file."""
    tools = DocsTools(Workspace(ws, tmp_path / "history"))
    plan = ws / "notes" / "plan.md"
    real_access = os.access

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        if mode & os.W_OK and Path(path).name == "plan.md":
            return False
        return real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", access)
    tools.read_document("notes/plan.md")
    with pytest.raises(ReadOnlyDocumentError) as info:
        tools.edit_document("notes/plan.md", "insert_paragraph", text="Mine.")
    assert str(info.value).startswith(
        "notes/plan.md is read-only, so nothing was changed. Its permissions do not let me "
        "write it."
    )
    assert plan.read_text(encoding="utf-8") == PLAN_MD
    assert not (tmp_path / "history").exists()


async def test_edits_keep_the_files_permissions_and_owner(ws: Path) -> None:
    """The new file is written by this process: it must take over the old one's mode and, as
    root may (root edited the person's file and made it root's), its owner and group."""
    plan = ws / "notes" / "plan.md"
    plan.chmod(0o640)
    owner = (os.getuid(), os.getgid())
    if os.geteuid() == 0:
        owner = (65534, 65534)  # nobody
        os.chown(plan, *owner)
    async with docs_server(ws) as d:
        await d.call("read_document", path="notes/plan.md")
        await d.call("edit_document", path="notes/plan.md", action="insert_paragraph", text="Mine.")
        assert plan.read_text().endswith("Mine.\n")
        st = plan.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, *owner)
        await d.call("undo", path="notes/plan.md")
        assert plan.read_text() == PLAN_MD
        st = plan.stat()
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, *owner)


async def test_the_undo_history_of_a_private_document_is_private(ws: Path) -> None:
    """The undo history keeps whole copies of each version: those of a document only its
    owner may read (0600) were written with the umask's 0644, for every local user to read
    beside the workspace. A copy now has the document's own mode; a new document's versions
    get the umask's, as the document does."""
    if sys.platform == "win32":
        pytest.skip("no POSIX modes")
    plan = ws / "notes" / "plan.md"
    plan.chmod(0o600)
    old = os.umask(0o022)  # the server started below inherits it
    try:
        async with docs_server(ws) as d:
            await d.call("read_document", path="notes/plan.md")
            await d.call(
                "edit_document", path="notes/plan.md", action="insert_paragraph", text="Mine."
            )
            await d.call("create_document", path="open.md", content="# Open\n", confirmed=True)
    finally:
        os.umask(old)
    history = ws.parent / ".ws.voicedesk-history"

    def modes(name: str) -> dict[str, int]:
        folder = history / hashlib.sha256(name.encode()).hexdigest()[:24]
        files = [p for p in folder.rglob("*") if p.is_file()]
        return {p.read_text(): stat.S_IMODE(p.stat().st_mode) for p in files}

    plan_kept = modes("notes/plan.md")
    assert len(plan_kept) == 3  # its index and both versions
    assert any("Mine." in text for text in plan_kept) and PLAN_MD in plan_kept
    assert set(plan_kept.values()) == {0o600}
    assert set(modes("open.md").values()) == {0o644}
    assert stat.S_IMODE(plan.stat().st_mode) == 0o600  # the document itself keeps its own


async def test_wrong_or_missing_arguments_are_named_one_short_line_each(ws: Path) -> None:
    """The SDK answered a wrong argument with pydantic's dump (model names, error codes,
    links); the model now reads which argument, what it takes and what it got."""
    before = snapshot(ws)
    async with docs_server(ws) as d:
        message = await d.fail(
            "edit_document",
            path="notes/plan.md",
            action="replace_paragraph",
            paragraph="two",
            text=["a"],
        )
        assert message.splitlines() == [
            "Error executing tool edit_document: 2 arguments of edit_document are wrong, so "
            "nothing was done. Correct them and call edit_document again:",
            '- paragraph: expected a whole number; got the text "two".',
            '- text: expected text; got a list ["a"].',
        ]
        message = await d.fail("edit_document", action="explode")
        assert message.splitlines()[1:] == [
            "- path: missing; it is required (text).",
            "- action: expected one of replace_paragraph, insert_paragraph, delete_paragraph, "
            "replace_section, delete_section, rename_heading, find_replace; got the text "
            '"explode".',
        ]
        message = await d.fail("read_document", path="notes/plan.md", start_paragraph=1.5)
        assert message.splitlines()[1:] == [
            "- start_paragraph: expected a whole number; got the number 1.5."
        ]
        message = await d.fail(
            "create_document", path="x.md", content={"text": "x" * 500}, overwrite="maybe"
        )
        assert message.splitlines()[1:] == [
            '- content: expected text; got an object {"text": "' + "x" * 49 + "….",  # 60 chars
            '- overwrite: expected true or false; got the text "maybe".',
        ]
        message = await d.fail("count")
        assert message.splitlines()[0].startswith("Error executing tool count: 1 argument of ")
        assert "validation error" not in message and "pydantic" not in message
        # What pydantic accepts loosely is still accepted: a number sent as text.
        assert "paragraphs 2 to 3" in await d.call(
            "read_document", path="notes/plan.md", start_paragraph="2", end_paragraph=3
        )
        # But not true for a paragraph number (it was paragraph 1), nor "yes" for a
        # confirmation (a deletion went ahead on it): they are not what the schema says.
        await d.call("read_document", path="notes/plan.md")
        message = await d.fail(
            "edit_document",
            path="notes/plan.md",
            action="delete_paragraph",
            paragraph=True,
            confirmed="yes",
        )
        assert message.splitlines()[1:] == [
            "- paragraph: expected a whole number; got true.",
            '- confirmed: expected true or false; got the text "yes".',
        ]
        # An argument the tool does not take was dropped, and the call ran without it:
        # "after_paragraph" added the paragraph at the end and said it had.
        message = await d.fail(
            "edit_document",
            path="notes/plan.md",
            action="insert_paragraph",
            after_paragraph=1,
            text="Inserted.",
        )
        assert message.startswith(
            "Error executing tool edit_document: edit_document has no argument "
            "after_paragraph, so nothing was done. It takes: path, action, paragraph,"
        )
        message = await d.fail("read_document", path="notes/plan.md", start=2, end=2)
        assert "has no arguments start, end, so nothing was done" in message
    assert snapshot(ws) == before


async def test_find_of_only_control_characters_is_refused(ws: Path) -> None:
    plan = ws / "notes" / "plan.md"
    before = plan.read_bytes()
    async with docs_server(ws) as d:
        await d.call("read_document", path="notes/plan.md")
        message = await d.fail(
            "edit_document",
            path="notes/plan.md",
            action="find_replace",
            find="\u0007\x1b",
            replace_with="X",
        )
        assert "needs find" in message and "control characters" in message
    assert plan.read_bytes() == before


async def test_markdown_edits_leave_the_rest_of_the_file_byte_for_byte(ws: Path) -> None:
    layout = (
        "# Title\nRight under the title.\n\n\n\nSecond   paragraph,\nwrapped.\n\n"
        "## Timeline ##\n\n- one\n- two\n\n```\ncode\n\nmore code\n```\nAfter the fence."
    )
    doc = ws / "layout.md"
    doc.write_text(layout, encoding="utf-8")
    crlf = ws / "crlf.md"
    crlf.write_bytes(b"# A\r\n\r\nOne.\r\n\r\n\r\nTwo.\r\n")
    async with docs_server(ws) as d:
        before = await d.call("read_document", path="layout.md")
        assert before.splitlines()[1:] == [
            "[1] # Title",
            "[2] Right under the title.",
            "[3] Second   paragraph,",
            "wrapped.",
            "[4] ## Timeline",
            "[5] - one",
            "- two",
            "[6] ```",
            "code",
            "",
            "more code",
            "```",
            "[7] After the fence.",
        ]

        async def edit(**args: object) -> str:
            return await d.call("edit_document", path="layout.md", **args)

        await edit(action="replace_paragraph", paragraph=2, text="Under it.")
        layout = layout.replace("Right under the title.", "Under it.")
        assert doc.read_text(encoding="utf-8") == layout
        await edit(action="find_replace", find="two", replace_with="three")
        layout = layout.replace("- two", "- three")
        assert doc.read_text(encoding="utf-8") == layout
        out = await edit(action="insert_paragraph", paragraph=1, text="Inserted.")
        assert "now paragraph 2" in out
        layout = layout.replace("# Title\n", "# Title\n\nInserted.\n\n")
        assert doc.read_text(encoding="utf-8") == layout
        await edit(action="delete_paragraph", paragraph=3)  # the question first
        await edit(action="delete_paragraph", paragraph=3, confirmed=True)
        layout = layout.replace("\n\nUnder it.", "")  # and the gap before it
        assert doc.read_text(encoding="utf-8") == layout
        await edit(action="insert_paragraph", text="The end.")
        layout += "\n\nThe end."  # no final newline before, none after
        assert doc.read_text(encoding="utf-8") == layout
        # Numbering read back matches the numbers the edits announced.
        after = await d.call("read_document", path="layout.md")
        assert "[2] Inserted." in after and "[7] After the fence." in after
        assert "[8] The end." in after

        await d.call("read_document", path="crlf.md")
        await d.call(
            "edit_document", path="crlf.md", action="replace_paragraph", paragraph=3, text="2."
        )
    assert crlf.read_bytes() == b"# A\r\n\r\nOne.\r\n\r\n\r\n2.\r\n"


def make_table_docx() -> bytes:
    d = docx.Document()
    d.add_heading("Team", level=1)
    d.add_paragraph("Who does what.")
    table = d.add_table(rows=3, cols=2)
    for r, (name, job) in enumerate([("Name", "Job"), ("Anna", "budget zebra"), ("", "")]):
        table.cell(r, 0).text = name
        table.cell(r, 1).text = job
    d.add_paragraph("After the table.")
    d.add_heading("Other", level=1)
    d.add_paragraph("The end.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


async def test_docx_tables_are_read_and_searched_but_stay_read_only(ws: Path) -> None:
    team = ws / "team.docx"
    team.write_bytes(make_table_docx())
    async with docs_server(ws) as d:
        read = await d.call("read_document", path="team.docx")
        assert read.splitlines() == [
            "team.docx: 7 paragraphs, 15 words.",
            "[1] # Team",
            "[2] Who does what.",
            "[3] | Name | Job |",
            "[4] | Anna | budget zebra |",  # the empty last row is no block, like empty paragraphs
            "[5] After the table.",
            "[6] # Other",
            "[7] The end.",
        ]
        found = await d.call("search", query="zebra")
        assert "team.docx, paragraph 4 (section “Team”): Anna | budget zebra" in found

        for args in (
            {"action": "replace_paragraph", "paragraph": 4, "text": "x"},
            {"action": "delete_paragraph", "paragraph": 3, "confirmed": True},
        ):
            assert "table row" in await d.fail("edit_document", path="team.docx", **args)
        inside = await d.fail(
            "edit_document", path="team.docx", action="insert_paragraph", paragraph=3, text="x"
        )
        assert "inside a table" in inside and "paragraph=4" in inside
        out = await d.call(
            "edit_document", path="team.docx", action="find_replace", find="zebra", replace_with="z"
        )
        assert out.startswith("Found no “zebra” in team.docx outside tables")
        assert "read-only" in out
        out = await d.call(
            "edit_document", path="team.docx", action="insert_paragraph", paragraph=4, text="New."
        )
        assert "now paragraph 5" in out
        assert "[5] New." in await d.call("read_document", path="team.docx", start_paragraph=5)
        kept = docx.Document(str(team))
        assert [c.text for c in kept.tables[0].rows[1].cells] == ["Anna", "budget zebra"]
        body = [child.tag.rsplit("}", 1)[1] for child in kept.element.body.iterchildren()]
        assert body[:5] == ["p", "p", "tbl", "p", "p"]  # the new paragraph after the table

        # A deleted section takes its table with it, so the numbering holds.
        delete = {"path": "team.docx", "action": "delete_section", "section": "Team"}
        assert (await d.call("edit_document", **delete)).startswith("Not done yet")
        await d.call("edit_document", **delete, confirmed=True)
        assert (await d.call("read_document", path="team.docx")).splitlines()[1:] == [
            "[1] # Other",
            "[2] The end.",
        ]
    assert docx.Document(str(team)).tables == []


async def test_hidden_names_are_not_created(ws: Path) -> None:
    async with docs_server(ws) as d:
        for name, plain in (
            (".hidden.md", "hidden.md"),
            ("notes/.drafts/a.md", "notes/drafts/a.md"),
        ):
            message = await d.fail("create_document", path=name, content="x")
            assert "hidden" in message and f"like {plain}" in message
    assert not (ws / ".hidden.md").exists() and not (ws / "notes" / ".drafts").exists()


async def test_big_documents_are_refused_with_a_clear_message(ws: Path) -> None:
    (ws / "big.txt").write_text("word " * 30_000, encoding="utf-8")  # 150 KB
    async with docs_server(ws, "--max-size", "0.1") as d:
        for tool in ("read_document", "outline", "count"):
            message = await d.fail(tool, path="big.txt")
            assert "big.txt is 146 KB, more than the 102 KB" in message and "--max-size" in message
        assert "big.txt (plain text, 146 KB, too large to open" in await d.call("list_documents")
        assert "todo.txt" in await d.call("search", query="milk")
        assert "Could not read big.txt (too large to open)" in await d.call("search", query="word")
        assert "[1] Buy milk." in await d.call("read_document", path="todo.txt")


async def test_a_word_file_that_unpacks_far_past_its_size_is_refused(ws: Path) -> None:
    """A zip bomb: 146 KB of .docx that unpacked to 28 MB of XML took 14 s and 560 MB to
    read, while every other tool call waited. Its zip directory gives the size first."""
    import zipfile

    packed = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_docx())) as src,
        zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("customXml/item9.xml", b"<a>" + b" " * 4_000_000 + b"</a>")
    (ws / "bomb.docx").write_bytes(packed.getvalue())
    assert (ws / "bomb.docx").stat().st_size < 100_000  # well under its limit of 512 KB
    async with docs_server(ws, "--max-size", "0.1") as d:
        message = await d.fail("read_document", path="bomb.docx")
        assert "bomb.docx unpacks to 4.6 MB, more than I open" in message
        assert "--max-size" in message
        assert "Could not read bomb.docx" in await d.call("search", query="word")
        assert "Quarterly" in await d.call("read_document", path="report.docx")


async def test_a_write_that_would_make_a_document_too_big_to_open_is_refused(ws: Path) -> None:
    # It used to be written, and then no tool but undo could open the document again.
    (ws / "grow.txt").write_text("word " * 15_000, encoding="utf-8")  # 73 KB
    before = (ws / "grow.txt").read_bytes()
    async with docs_server(ws, "--max-size", "0.1") as d:
        message = await d.fail("create_document", path="huge.md", content="y" * 150_000)
        assert "would make huge.md 146 KB, more than the 102 KB" in message
        assert "nothing was changed" in message and "--max-size" in message
        await d.call("read_document", path="grow.txt")
        message = await d.fail(
            "edit_document",
            path="grow.txt",
            action="find_replace",
            find="word",
            replace_with="longer words",
        )
        assert "would make grow.txt" in message and "nothing was changed" in message
    assert not (ws / "huge.md").exists() and (ws / "grow.txt").read_bytes() == before


def test_undo_history_is_bounded_by_bytes_as_well_as_count(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    history = tmp_path / "history"
    ws = Workspace(root, history, max_versions=100, max_history_bytes=50_000)
    path = root / "a.txt"
    before = None
    for i in range(20):
        data = bytes([65 + i]) * 10_000
        ws.write(path, data, before=before)
        before = data
    blobs = list(history.rglob("blobs/*"))
    assert sum(b.stat().st_size for b in blobs) <= 50_000
    assert ws.history_steps(path) == (4, 0)  # 5 versions of 10 KB fit
    assert ws.version(path, 4) == bytes([65 + 15]) * 10_000


def make_linked_docx() -> bytes:
    d = docx.Document()
    d.add_heading("Sources", level=1)
    p = d.add_paragraph("Read ")
    add_link(p, "the annual report", url="https://example.com/report")
    p.add_run(" before the 2023 meeting.")
    p = d.add_paragraph("Questions go to ")
    add_link(p, "Anna", url="mailto:anna@example.com")
    p.add_run(".")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def word_links(path: Path) -> list[list[tuple[str, str]]]:
    """(text, address) of each hyperlink, paragraph by paragraph, read back by python-docx."""
    return [[(h.text, h.url) for h in p.hyperlinks] for p in docx.Document(str(path)).paragraphs]


async def test_word_links_survive_edits(ws: Path) -> None:
    """Any edit of a paragraph holding a hyperlink rewrote the paragraph whole: the links went.
    Now a link stays, its relationship too; one on changed words covers the new words, and
    one whose words all went is named in the result."""
    path = ws / "sources.docx"
    original = make_linked_docx()
    path.write_bytes(original)
    report = ("the annual report", "https://example.com/report")
    anna = ("Anna", "mailto:anna@example.com")
    async with docs_server(ws) as d:

        async def edit(**args: object) -> str:
            return await d.call("edit_document", path="sources.docx", **args)

        await d.call("read_document", path="sources.docx")
        out = await edit(action="find_replace", find="2023", replace_with="2024")
        assert "link" not in out
        out = await edit(
            action="replace_paragraph",
            paragraph=2,
            text="Please read the annual report before the 2024 meeting in March.",
        )
        assert "link" not in out
        await edit(action="rename_heading", section="Sources", text="Reading")
        assert word_links(path) == [[], [report], [anna]]
        kept = docx.Document(str(path))
        rid = kept.paragraphs[1].hyperlinks[0]._hyperlink.rId
        assert kept.part.rels[rid].reltype == RT.HYPERLINK
        assert kept.part.rels[rid].target_ref == "https://example.com/report"

        out = await edit(action="find_replace", find="annual", replace_with="yearly")
        assert out.splitlines()[1] == (
            "The link on “the annual report” (to https://example.com/report) now covers "
            "“the yearly report”."
        )
        assert word_links(path)[1] == [("the yearly report", "https://example.com/report")]

        out = await edit(action="replace_paragraph", paragraph=3, text="Questions go to Ben.")
        assert out.splitlines()[1].startswith(
            "The link on “Anna” (to mailto:anna@example.com) now covers “Ben”."
        )
        out = await edit(
            action="find_replace", find="read the yearly report before", replace_with="skip"
        )
        assert "The link on “the yearly report” (to https://example.com/report) is gone" in out
        assert "Undo brings it back" in out
        assert (await d.call("read_document", path="sources.docx")).splitlines()[1:] == [
            "[1] # Reading",
            "[2] Please skip the 2024 meeting in March.",
            "[3] Questions go to Ben.",
        ]
        assert word_links(path) == [[], [], [("Ben", "mailto:anna@example.com")]]
        targets = [
            r.target_ref for r in docx.Document(str(path)).part.rels.values() if r.is_external
        ]
        assert targets == ["mailto:anna@example.com"]  # the removed link's relationship went too

        for _ in range(6):
            await d.call("undo", path="sources.docx")
    assert path.read_bytes() == original


async def test_find_replace_matches_text_in_either_unicode_form(ws: Path) -> None:
    """A Mac writes "café" as "cafe" + a combining accent (NFD); the person's query comes in
    NFC, or the other way round. find_replace and search match either way, and only the
    matched characters change: the rest of the file keeps the form it was written in."""
    nfd = unicodedata.normalize("NFD", "# Café\n\nThe café in Köln opens at nine.\n")
    (ws / "mac.md").write_text(nfd, encoding="utf-8")
    nfc = "Meet at the café.\n\nKöln, then Zürich.\n"
    (ws / "pc.txt").write_text(nfc, encoding="utf-8")
    d_nfd, d_nfc = docx.Document(), docx.Document()
    for document, form in ((d_nfd, "NFD"), (d_nfc, "NFC")):
        p = document.add_paragraph(unicodedata.normalize(form, "Lunch at the "))
        p.add_run(unicodedata.normalize(form, "café")).bold = True
        p.add_run(unicodedata.normalize(form, " in Köln."))
        document.save(str(ws / f"{form.lower()}.docx"))
    async with docs_server(ws) as d:
        found = await d.call("search", query="café in köln")
        assert "mac.md, paragraph 2" in found and "nfd.docx, paragraph 1" in found

        for name in ("mac.md", "pc.txt", "nfd.docx", "nfc.docx"):
            await d.call("read_document", path=name)
        out = await d.call(  # NFC query, NFD text
            "edit_document",
            path="mac.md",
            action="find_replace",
            find="café",
            replace_with="bistro",
        )
        assert out.startswith("Replaced 1 occurrence")
        out = await d.call(  # NFD query, NFC text
            "edit_document",
            path="pc.txt",
            action="find_replace",
            find=unicodedata.normalize("NFD", "Köln"),
            replace_with="Bonn",
        )
        assert out.startswith("Replaced 1 occurrence")
        out = await d.call(  # either way, any case
            "edit_document",
            path="mac.md",
            action="find_replace",
            find="CAFÉ",
            replace_with="Bistro",
            match_case=False,
        )
        assert "paragraph 1)" in out
        for name, find in (
            ("nfd.docx", "café"),
            ("nfc.docx", unicodedata.normalize("NFD", "café")),
        ):
            out = await d.call(
                "edit_document", path=name, action="find_replace", find=find, replace_with="bistro"
            )
            assert out.startswith("Replaced 1 occurrence"), out
    # The rest of the text keeps its form: "Köln" is still NFD.
    assert (ws / "mac.md").read_text(encoding="utf-8") == (
        nfd.replace(unicodedata.normalize("NFD", "Café"), "Bistro").replace(
            unicodedata.normalize("NFD", "café"), "bistro"
        )
    )
    assert unicodedata.normalize("NFD", "Köln") in (ws / "mac.md").read_text(encoding="utf-8")
    assert (ws / "pc.txt").read_text(encoding="utf-8") == nfc.replace("Köln", "Bonn")
    for form in ("NFD", "NFC"):
        p = docx.Document(str(ws / f"{form.lower()}.docx")).paragraphs[0]
        assert [(r.text, r.bold) for r in p.runs] == [
            (unicodedata.normalize(form, "Lunch at the "), None),
            ("bistro", True),
            (unicodedata.normalize(form, " in Köln."), None),
        ]


def add_bookmark(paragraph: Any, name: str, number: int) -> None:
    """A bookmark around the whole paragraph, as Word writes one (python-docx has no API)."""
    start = OxmlElement("w:bookmarkStart")
    start.set(qn("w:id"), str(number))
    start.set(qn("w:name"), name)
    end = OxmlElement("w:bookmarkEnd")
    end.set(qn("w:id"), str(number))
    paragraph._p.insert(1 if paragraph._p.pPr is not None else 0, start)
    paragraph._p.append(end)


def make_annotated_docx() -> bytes:
    """Sections whose paragraphs hold a link, a comment, a picture and bookmarks."""
    d = docx.Document()
    d.add_heading("Plan", level=1)
    d.add_heading("Sources", level=2)
    p = d.add_paragraph("Read ")
    add_link(p, "the annual report", url="https://example.com/report")
    p.add_run(" first.")
    p = d.add_paragraph("The team ")
    d.add_comment([p.add_run("met on Monday")], text="Which room?", author="Ben")
    p.add_run(".")
    shape = d.add_paragraph("Photo: ").add_run().add_picture(io.BytesIO(png_1x1()))
    shape._inline.docPr.set("descr", "Team photo")
    budget = d.add_heading("Budget", level=2)
    add_bookmark(budget, "budget", 1)
    p = d.add_paragraph("Ask ")
    add_link(p, "Anna", url="mailto:anna@example.com")
    p.add_run(" for the numbers.")
    d.add_heading("Next", level=2)
    p = d.add_paragraph("See ")
    add_link(p, "the budget", anchor="budget")
    p.add_run(" above.")
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


async def test_word_removals_say_which_links_comments_pictures_and_bookmarks_went(
    ws: Path,
) -> None:
    """Deleting or replacing whole Word paragraphs took their links, comments, pictures and
    bookmarks with them without a word: now the confirmation says what would go, and the
    result what went, so the person can undo it."""
    path = ws / "plan.docx"
    original = make_annotated_docx()
    path.write_bytes(original)
    async with docs_server(ws) as d:

        async def edit(**args: object) -> str:
            return await d.call("edit_document", path="plan.docx", **args)

        await d.call("read_document", path="plan.docx")
        ask = await edit(action="delete_paragraph", paragraph=3)
        assert ask.startswith("Not done yet")
        assert (
            "It would also remove the link on “the annual report” (to "
            "https://example.com/report)." in ask
        )
        out = await edit(action="delete_paragraph", paragraph=3, confirmed=True)
        assert out.splitlines()[1] == (
            "Gone with the removed paragraph: the link on “the annual report” (to "
            "https://example.com/report). Undo brings it back."
        )

        ask = await edit(action="delete_section", section="Budget")
        assert (
            "It would also remove the link on “Anna” (to mailto:anna@example.com) and the "
            "bookmark “budget”; the link on “the budget” leads to that bookmark and would "
            "lead nowhere." in ask
        )
        out = await edit(action="delete_section", section="Budget", confirmed=True)
        assert out.splitlines()[1:] == [
            "Gone with the removed paragraphs: the link on “Anna” (to "
            "mailto:anna@example.com) and the bookmark “budget”; the link on “the budget” "
            "leads to that bookmark and now leads nowhere. Undo brings them back.",
            "Say undo to take it back.",
        ]

        out = await edit(action="replace_section", section="Sources", text="Nothing to read yet.")
        assert out.splitlines()[1] == (
            "Gone with the removed paragraphs: the comment “Which room?” by Ben and the "
            "picture “Team photo”. Undo brings them back."
        )
        assert not docx.Document(str(path)).inline_shapes

        for _ in range(3):
            await d.call("undo", path="plan.docx")
    assert path.read_bytes() == original


async def test_word_replace_section_keeps_what_its_new_body_keeps(ws: Path) -> None:
    """replace_section wrote every paragraph of the new body afresh, so a link, a comment
    or bold words in a paragraph the new body only touched up went with the old one. A new
    paragraph that mostly says what an old one said is now an edit of it, word by word,
    as replace_paragraph is; only what is really gone is named."""
    path = ws / "plan.docx"
    path.write_bytes(make_annotated_docx())
    async with docs_server(ws) as d:
        await d.call("read_document", path="plan.docx")
        out = await d.call(
            "edit_document",
            path="plan.docx",
            action="replace_section",
            section="Sources",
            text=(
                "Please read the annual report first.\n\nThe whole team met on Monday.\n\n"
                "Also read the minutes."
            ),
        )
        assert out.splitlines()[1] == (
            "Gone with the removed paragraph: the picture “Team photo”. Undo brings it back."
        )
        assert (await d.call("read_document", path="plan.docx", section="Sources")).splitlines()[
            1:
        ] == [
            "[2] ## Sources",
            "[3] Please read the annual report first.",
            "[4] The whole team met on Monday.",
            "[5] Also read the minutes.",
        ]
    kept = docx.Document(str(path))
    assert word_links(path)[2] == [("the annual report", "https://example.com/report")]
    assert [(c.author, c.text) for c in kept.comments] == [("Ben", "Which room?")]
    body = kept.element.body
    assert len(body.findall(".//" + qn("w:commentReference"))) == 1
    assert not kept.inline_shapes


async def test_overwriting_a_word_document_says_what_went_with_it(ws: Path) -> None:
    path = ws / "sources.docx"
    path.write_bytes(make_linked_docx())
    async with docs_server(ws) as d:
        args = {"path": "sources.docx", "content": "# Sources\n\nNone yet.", "overwrite": True}
        ask = await d.call("create_document", **args)
        assert ask.startswith("Not done yet")
        also = (
            "the link on “the annual report” (to https://example.com/report) and the link on "
            "“Anna” (to mailto:anna@example.com)"
        )
        assert f"It would also remove {also}." in ask
        out = await d.call("create_document", **args, confirmed=True)
        assert out.splitlines()[1] == (f"Gone with the old version: {also}. Undo brings them back.")
    assert word_links(path) == [[], []]


# Dies as kill -9 would, right before the document is replaced: the history is saved by then.
_DIE_BEFORE_RENAME = """
import os, sys
from pathlib import Path
import voicedesk.files as files
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.workspace import Workspace

ws, history, last = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
tools = DocsTools(Workspace(ws, history))
tools.read_document("notes/plan.md")
tools.edit_document("notes/plan.md", "insert_paragraph", text="First.")
if last != "edit":
    tools.edit_document("notes/plan.md", "insert_paragraph", text="Second.")
    tools.undo("notes/plan.md")
real_replace = os.replace

def replace(src, dst):
    if Path(dst).name == "plan.md":
        os._exit(9)
    real_replace(src, dst)

files.os.replace = replace
if last == "edit":
    tools.edit_document("notes/plan.md", "insert_paragraph", text="Second.")
else:
    tools.redo("notes/plan.md")
"""


@pytest.mark.parametrize("last", ["edit", "redo"])
def test_undo_after_a_crash_mid_edit_never_puts_in_the_change_that_was_not_made(
    ws: Path, tmp_path: Path, last: str
) -> None:
    """Killed between saving the undo history and replacing the document (kill -9, a power
    cut): the history said the document held the edit (or redo) it never got, so after the
    restart undo called the document "changed outside" and put that edit in, text the person
    never had, instead of taking back the last edit they saw."""
    plan = ws / "notes" / "plan.md"
    history = tmp_path / "history"
    died = subprocess.run(
        [sys.executable, "-c", _DIE_BEFORE_RENAME, str(ws), str(history), last],
        capture_output=True,
        text=True,
    )
    assert died.returncode == 9, died.stderr
    text = plan.read_text(encoding="utf-8")
    assert "First." in text and "Second." not in text  # the document is whole, as before

    later = DocsTools(Workspace(ws, history))
    assert later.ws.history_steps(plan)[0] == 1
    later.read_document("notes/plan.md")
    later.undo("notes/plan.md")
    assert plan.read_text(encoding="utf-8") == PLAN_MD
    later.redo("notes/plan.md")
    assert plan.read_text(encoding="utf-8") == text


async def test_a_document_with_other_names_is_edited_under_all_of_them(
    ws: Path, tmp_path: Path
) -> None:
    """A document hard-linked under another name (the same file in two folders) was
    replaced by a new file at each edit: the other name kept the old text, and undo there
    had nothing to go back to. It is now written in place, one file under both names, with
    its mode kept; a symbolic link inside the workspace stays a link, its target edited."""
    plan = ws / "notes" / "plan.md"
    shared = tmp_path / "shared-plan.md"  # its other name, outside the workspace
    os.link(plan, shared)
    plan.chmod(0o640)
    (ws / "current.md").symlink_to(Path("notes") / "plan.md")
    async with docs_server(ws) as d:
        await d.call("read_document", path="notes/plan.md")
        await d.call(
            "edit_document", path="notes/plan.md", action="insert_paragraph", text="Call Anna."
        )
        assert shared.read_text(encoding="utf-8") == PLAN_MD + "\nCall Anna.\n"
        assert plan.stat().st_ino == shared.stat().st_ino and plan.stat().st_nlink == 2
        assert stat.S_IMODE(plan.stat().st_mode) == 0o640
        await d.call("read_document", path="current.md")
        await d.call(
            "edit_document",
            path="current.md",
            action="find_replace",
            find="Call Anna",
            replace_with="Call Ben",
        )
        assert (ws / "current.md").is_symlink()
        assert shared.read_text(encoding="utf-8") == PLAN_MD + "\nCall Ben.\n"
        for _ in range(2):
            await d.call("undo", path="notes/plan.md")
        assert shared.read_text(encoding="utf-8") == PLAN_MD
        assert plan.stat().st_ino == shared.stat().st_ino


_DIE_WRITING_IN_PLACE = """
import os, sys
from pathlib import Path
import voicedesk.tools.workspace as workspace
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.workspace import Workspace

ws, history = Path(sys.argv[1]), Path(sys.argv[2])
tools = DocsTools(Workspace(ws, history))
tools.read_document("notes/plan.md")

def truncate(fd, size):
    os._exit(9)  # the new text written over the old, the old's tail not yet cut

workspace.os.ftruncate = truncate
tools.edit_document("notes/plan.md", "replace_paragraph", paragraph=2, text="Short.")
"""


def test_a_crash_while_a_linked_document_is_written_in_place_loses_nothing(
    ws: Path, tmp_path: Path
) -> None:
    """Written in place, a hard-linked document is torn if the process dies halfway; the
    undo history holds it whole from before the write began, and one undo puts it back."""
    plan = ws / "notes" / "plan.md"
    os.link(plan, tmp_path / "other-name.md")
    history = tmp_path / "history"
    died = subprocess.run(
        [sys.executable, "-c", _DIE_WRITING_IN_PLACE, str(ws), str(history)],
        capture_output=True,
        text=True,
    )
    assert died.returncode == 9, died.stderr
    assert plan.read_text(encoding="utf-8") != PLAN_MD  # torn: "Short." over the old text

    later = DocsTools(Workspace(ws, history))
    later.read_document("notes/plan.md")
    later.undo("notes/plan.md")
    assert plan.read_text(encoding="utf-8") == PLAN_MD
    assert (tmp_path / "other-name.md").read_text(encoding="utf-8") == PLAN_MD


async def test_nested_markdown_emphasis_is_nested_in_word(ws: Path) -> None:
    """ "**bold and *italic* inside**" was one bold run with the asterisks of the italic in
    it as characters ("bold and *italic* inside"); ***a** b* lost its italic altogether."""
    async with docs_server(ws) as d:
        await d.call(
            "create_document",
            path="nested.docx",
            content="**bold and *italic* inside**, *it **bold** it*, ***bold** italic* "
            "and __strong _em_ end__; 2*3*4 and a_b_c stay.\n\nPlain words here.",
        )
        path = ws / "nested.docx"
        runs = [(r.text, r.bold, r.italic) for r in docx.Document(str(path)).paragraphs[0].runs]
        assert runs == [
            ("bold and ", True, None),
            ("italic", True, True),
            (" inside", True, None),
            (", ", None, None),
            ("it ", None, True),
            ("bold", True, True),
            (" it", None, True),
            (", ", None, None),
            ("bold", True, True),
            (" italic", None, True),
            (" and ", None, None),
            ("strong ", True, None),
            ("em", True, True),
            (" end", True, None),
            ("; 2*3*4 and a_b_c stay.", None, None),
        ]
        assert "*" not in (await d.call("read_document", path="nested.docx")).split("2*3*4")[0]
        await d.call(
            "edit_document",
            path="nested.docx",
            action="replace_paragraph",
            paragraph=2,
            text="Now **all *of* it**.",
        )
        runs = [(r.text, r.bold, r.italic) for r in docx.Document(str(path)).paragraphs[1].runs]
        assert runs == [
            ("Now ", None, None),
            ("all ", True, None),
            ("of", True, True),
            (" it", True, None),
            (".", None, None),
        ]


async def test_search_finds_words_said_without_their_accents(ws: Path) -> None:
    """Speech to text writes "resume" and "Zoe" for the document's "résumé" and "Zoë":
    the search found nothing, and the person heard that the word was not there."""
    (ws / "cv.md").write_text("# My résumé\n\nReferences: Zoë Ñúñez, café owner.\n")
    d = docx.Document()
    d.add_paragraph("Call ZOË about the CAFE\u0301 on Monday.")  # decomposed: e + U+0301
    d.add_paragraph("ひらがな です")
    d.save(str(ws / "calls.docx"))
    async with docs_server(ws) as docs:
        found = await docs.call("search", query="resume")
        assert found.splitlines()[1] == "- cv.md, paragraph 1 (section “My résumé”): My résumé"
        found = await docs.call("search", query="zoe")
        assert found.startswith("Found “zoe” in 2 places in 2 documents.")
        assert "- calls.docx, paragraph 1: Call ZOË about the CAFÉ on Monday." in found
        assert "- cv.md, paragraph 2 (section “My résumé”): References: Zoë Ñúñez" in found
        assert "Found “Nunez cafe” in 1 place" in await docs.call("search", query="Nunez cafe")
        assert "café owner" in await docs.call("search", query="CAFÉ OWNER")
        # kana voicing marks are no accents: か is not が
        assert (await docs.call("search", query="ひらか")).startswith("Found no")


async def test_a_search_snippet_shows_the_hit_after_letters_folded_longer(ws: Path) -> None:
    """Search compares the text case folded, where "ß" is "ss" and a PDF's "ﬁ" ligature
    "fi": the place found in the folded text was used as a place in the text itself, so
    after many of them the snippet was cut further along than the hit, and a German
    paragraph's snippet showed its streets but not the word asked for."""
    (ws / "stadt.md").write_text(
        "Große Straße, " * 40 + "dort steht das Rathaus am Markt. " + "Mehr Text hier. " * 10 + "\n"
    )
    (ws / "offer.md").write_text("The ﬁrst ﬂoor oﬃce " * 30 + "has a view of the harbour.\n")
    async with docs_server(ws) as docs:
        found = (await docs.call("search", query="Rathaus")).splitlines()[1]
        assert found.startswith("- stadt.md, paragraph 1: …"), found
        assert "Große Straße, dort steht das Rathaus am Markt. Mehr Text" in found, found
        found = (await docs.call("search", query="the harbour")).splitlines()[1]
        assert "oﬃce has a view of the harbour." in found, found
        # a hit that folds longer itself is shown whole
        found = (await docs.call("search", query="Strasse dort")).splitlines()[1]
        assert "Straße, dort steht" in found, found


async def test_a_name_said_in_another_case_or_with_a_slip_is_offered(ws: Path) -> None:
    """A spoken name rarely has the file's capitals ("Plan.MD" for plan.md): the answer was
    only "use list_documents", so the model listed the whole workspace, one more round trip
    before the person heard anything."""
    (ws / "Q3 Budget.docx").write_bytes(make_docx())
    async with docs_server(ws) as d:
        said = await d.fail("read_document", path="Notes/Plan.MD")
        assert "There is no document called Notes/Plan.MD in the workspace; did you mean " in said
        assert "notes/plan.md?" in said
        assert "did you mean Q3 Budget.docx?" in await d.fail(
            "read_document", path="q3 budgets.docx"
        )
        assert "did you mean todo.txt?" in await d.fail(
            "edit_document", path="TODO.txt", action="find_replace", find="a", replace_with="b"
        )
        # nothing near, or another kind of file: the list is the way, as before
        for name in ("nope.md", "todo.md", "link.md.txt"):
            said = await d.fail("read_document", path=name)
            assert "did you mean" not in said and "Use list_documents" in said
        assert "linkdir" not in await d.fail("read_document", path="LINKDIR/secret.md")


async def test_find_replace_in_word_makes_marked_words_bold_not_asterisks(ws: Path) -> None:
    """ "Make budget bold" came as replace_with="**budget**": the asterisks were written into
    the Word document as characters, where create_document and replace_paragraph make the
    words bold."""
    d = docx.Document()
    d.add_paragraph("The budget is 10 euros; the budget grows to 10 euros.")
    d.save(str(ws / "money.docx"))
    path = ws / "money.docx"

    def runs() -> list[tuple[str, bool | None, bool | None]]:
        return [(r.text, r.bold, r.italic) for r in docx.Document(str(path)).paragraphs[0].runs]

    async with docs_server(ws) as docs:
        await docs.call("read_document", path="money.docx")
        said = await docs.call(
            "edit_document",
            path="money.docx",
            action="find_replace",
            find="budget",
            replace_with="**budget**",
        )
        assert said.startswith("Replaced 2 occurrences of “budget” with “**budget**”")
        assert runs() == [
            ("The ", None, None),
            ("budget", True, None),
            (" is 10 euros; the ", None, None),
            ("budget", True, None),
            (" grows to 10 euros.", None, None),
        ]
        await docs.call(
            "edit_document",
            path="money.docx",
            action="find_replace",
            find="10 euros",
            replace_with="*only* 12 €",
        )
        assert "".join(text for text, _, _ in runs()) == (
            "The budget is only 12 €; the budget grows to only 12 €."
        )
        assert [text for text, _, italic in runs() if italic] == ["only", "only"]
        assert [text for text, bold, _ in runs() if bold] == ["budget", "budget"]
        assert "*" not in await docs.call("read_document", path="money.docx")
        await docs.call("undo", path="money.docx")
        await docs.call("undo", path="money.docx")
        assert runs() == [("The budget is 10 euros; the budget grows to 10 euros.", None, None)]
        # Markdown keeps its marks: they are the formatting there
        await docs.call("read_document", path="notes/plan.md")
        await docs.call(
            "edit_document",
            path="notes/plan.md",
            action="find_replace",
            find="10 euros",
            replace_with="**12 euros**",
        )
        assert "The budget is **12 euros**." in (ws / "notes" / "plan.md").read_text()


async def test_search_ignores_the_punctuation_a_transcript_puts_around_words(ws: Path) -> None:
    """A query as speech to text writes it ("call Anna?", "budget, hosting") found nothing:
    the question mark and the comma had to be in the document too."""
    async with docs_server(ws) as d:
        found = await d.call("search", query="Call Anna?")
        assert found.splitlines()[1] == "- todo.txt, paragraph 2: Call Anna about the budget."
        found = await d.call("search", query="hosting, free.")
        assert (
            found.splitlines()[1]
            == "- notes/plan.md, paragraph 5 (section “Costs”): Hosting is free."
        )
        assert "todo.txt, paragraph 1" in await d.call("search", query="milk.")
        assert (await d.call("search", query="milk?!")).startswith("Found “milk?!” in 1 place")
        assert (await d.call("search", query="Anna budget milk.")).startswith("Found no")


async def test_find_replace_of_a_word_said_without_accents_names_its_spelling(ws: Path) -> None:
    """ "Replace resume with CV" came as find="resume": the answer was only "Found no
    resume", though search finds it; the model gave up or read the whole text to look."""
    (ws / "cv.md").write_text("# My résumé\n\nAsk Zoë for the résumé.\n")
    async with docs_server(ws) as d:
        await d.call("read_document", path="cv.md")
        said = await d.call(
            "edit_document", path="cv.md", action="find_replace", find="resume", replace_with="CV"
        )
        assert said == (
            "Found no “resume” in cv.md, so nothing changed. It does appear as “résumé”; "
            "use find=“résumé”."
        )
        said = await d.call(
            "edit_document", path="cv.md", action="find_replace", find="zoe", replace_with="Z"
        )
        assert said.endswith("It does appear as “Zoë”; use find=“Zoë”.")
        assert (ws / "cv.md").read_text() == "# My résumé\n\nAsk Zoë for the résumé.\n"
        said = await d.call(
            "edit_document", path="cv.md", action="find_replace", find="résumé", replace_with="CV"
        )
        assert said.startswith("Replaced 2 occurrences of “résumé” with “CV”")


async def test_search_for_a_word_with_signs_in_it_finds_that_word_not_its_letters(ws: Path) -> None:
    """ "C#", "C++" and "e-mail" are one word each. Taken apart at their signs for the
    all-the-words fallback, "C#" was searched as "c" when no document had it, and every
    paragraph with a c in it was found: a page of snippets with nothing asked for."""
    async with docs_server(ws) as d:
        for query in ("C#", "C++", "e-mail", "C# notes"):
            assert (await d.call("search", query=query)).startswith(f"Found no “{query}”")
        (ws / "langs.md").write_text("# Languages\n\nWe write C# and C++.\n")
        found = await d.call("search", query="C++?")
        assert found.splitlines() == [
            "Found “C++?” in 1 place in 1 document.",
            "- langs.md, paragraph 2 (section “Languages”): We write C# and C++.",
        ]
        # the punctuation a transcript puts around words still goes
        assert "todo.txt, paragraph 2" in await d.call("search", query="call, budget?")


async def test_search_finds_words_written_with_other_hyphens_points_or_spaces(ws: Path) -> None:
    """Speech to text writes "follow up email", "5 pm" and "1200" for a document's
    "follow-up e-mail", "5 p.m." and "$1,200": search found none of them, and the model
    told the person the words were not there. The same letters with other separators
    between them are found now, as whole words only ("hem" is not found in "the many")."""
    (ws / "mail.md").write_text(
        "# Mail\n\nSend the follow-up e-mail to Zoë by 5 p.m.\n\n"
        "The budget grew to $1,200 for the many guests.\n"
    )
    async with docs_server(ws) as d:
        for query in ("follow up email", "followup", "Email?", "5 pm", "1200"):
            found = await d.call("search", query=query)
            assert found.startswith(f"Found “{query}” in 1 place in 1 document."), found
        found = await d.call("search", query="follow up email")
        assert found.splitlines()[1] == (
            "- mail.md, paragraph 2 (section “Mail”): Send the follow-up e-mail to Zoë by 5 p.m."
        )
        for query in ("hem", "do llar", "e mails"):
            assert (await d.call("search", query=query)).startswith(f"Found no “{query}”")
        # find_replace changes the letters as given, and names the spelling search found
        await d.call("read_document", path="mail.md")
        said = await d.call(
            "edit_document", path="mail.md", action="find_replace", find="email", replace_with="x"
        )
        assert said == (
            "Found no “email” in mail.md, so nothing changed. It does appear as “e-mail”; "
            "use find=“e-mail”."
        )


async def test_search_across_separators_does_not_split_a_word_into_others(ws: Path) -> None:
    """Searching across blanks too, "therapist" was found in "call the rapist hotline",
    "together" in "to get her", "nowhere" in "now here" and "1200" in "12.00 today": a
    word split at a blank is other words, and a point in a number is no thousands mark,
    and the model told the person what they asked for was there. A blank is matched only
    where the query had a separator, and a number only across a thousands mark; a
    hyphen or point inside a word still is."""
    (ws / "calls.md").write_text(
        "# Calls\n\nCall the rapist hotline.\n\nWe go to get her, now here.\n\n"
        "The price is 12.00 today.\n\nA follow-up e-mail at 5 p.m. for $1,200, 1 200 000 in all.\n"
    )
    async with docs_server(ws) as d:
        for query in ("therapist", "together", "nowhere", "1200", "1200 today"):
            said = await d.call("search", query=query)
            if query == "1200":
                assert said.startswith("Found “1200” in 1 place in 1 document."), said
                assert "12.00" not in said, said
            else:
                assert said.startswith(f"Found no “{query}”"), said
        for query in ("follow up email", "followup", "email", "5 pm", "5pm", "1 200", "1200000"):
            found = await d.call("search", query=query)
            assert found.startswith(f"Found “{query}” in 1 place in 1 document."), found


async def test_the_phrase_with_other_separators_comes_before_its_words_anywhere(
    ws: Path,
) -> None:
    """Search tried the words of a phrase anywhere in a paragraph before the phrase with
    other hyphens or blanks: "follow up email" found "Follow the steps below: sign up,
    then email us" and stopped there, so "Send the follow-up e-mail" was never found, and
    "plan b" found every paragraph with "plan" and a b in it. The phrase written
    otherwise is tried first now; the words anywhere only when it is nowhere."""
    (ws / "mail.md").write_text("# Mail\n\nSend the follow-up e-mail to Zoë by Friday.\n")
    (ws / "howto.md").write_text("# Steps\n\nFollow the steps below: sign up, then email us.\n")
    (ws / "plans.md").write_text("# Plans\n\nOr we go to plan-B.\n\nThe plan is about it.\n")
    async with docs_server(ws) as d:
        found = await d.call("search", query="follow up email")
        assert found.splitlines() == [
            "Found “follow up email” in 1 place in 1 document.",
            "- mail.md, paragraph 2 (section “Mail”): Send the follow-up e-mail to Zoë by Friday.",
        ]
        found = await d.call("search", query="plan b")
        assert found.splitlines() == [
            "Found “plan b” in 1 place in 1 document.",
            "- plans.md, paragraph 2 (section “Plans”): Or we go to plan-B.",
        ]
        found = await d.call("search", query="steps email")  # words apart: still found
        assert found.startswith("Found “steps email” in 1 place in 1 document."), found


@asynccontextmanager
async def _server_beside_an_unwritable_folder(
    tmp_path: Path, *, workspace_too: bool = False
) -> AsyncIterator[Docs]:
    """The documents server on a workspace that can be written, in a folder that cannot:
    the top of a drive, say (/media/me/USB, the folder above it belonging to root). Not as
    root, a folder's mode makes it so; as root (which ignores modes), a read-only mount in a
    mount namespace of its own. ``workspace_too``: the workspace cannot be written either
    (a read-only mount, as root)."""
    env = {
        "PYTHONPATH": _this_voicedesk_path(),
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    drive = tmp_path / "drive"
    drive.mkdir()
    serve = [sys.executable, "-m", "voicedesk", "docs-server", "--root", str(drive / "docs")]
    if os.geteuid() != 0:
        if workspace_too:
            pytest.skip("a read-only drive needs root (a mount) to make")
        (drive / "docs").mkdir()
        (drive / "docs" / "notes.md").write_text("# Notes\n", encoding="utf-8")
        drive.chmod(0o555)
        command, args = serve[0], serve[1:]
    else:
        probe = subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs tmpfs {drive}"], capture_output=True
        )
        if probe.returncode != 0:
            pytest.skip("as root, needs `unshare -m` and mount to make a read-only folder")
        script = (
            f"mount -t tmpfs tmpfs {drive} && mkdir {drive}/docs && "
            + ("" if workspace_too else f"mount -t tmpfs tmpfs {drive}/docs && ")
            + f"printf '# Notes\\n' > {drive}/docs/notes.md && "
            f"mount -o remount,ro {drive} && exec " + " ".join(serve)
        )
        command, args = "unshare", ["-m", "sh", "-c", script]
    params = StdioServerParameters(command=command, args=args, cwd=str(tmp_path), env=env)
    try:
        async with _connected(params, tmp_path / "server-stderr.log") as docs:
            yield docs
    finally:
        drive.chmod(0o755)


async def test_a_workspace_in_a_folder_that_cannot_be_written_takes_edits(tmp_path: Path) -> None:
    # Its undo history goes beside it by default, and every edit was refused with "Could not
    # save undo history in …: Permission denied. Nothing was changed": a workspace that
    # could be written, and no way to change a document in it.
    async with _server_beside_an_unwritable_folder(tmp_path) as d:
        await d.call("create_document", path="plan.md", content="We ship in spring.")
        await d.call(
            "edit_document",
            path="notes.md",
            action="find_replace",
            find="Notes",
            replace_with="Plans",
        )
        assert "# Plans" in await d.call("read_document", path="notes.md")
        assert (await d.call("undo", path="notes.md")).startswith("Undid the last change")
        assert "# Notes" in await d.call("read_document", path="notes.md")
    # the history went to the person's own data folder instead
    assert any((tmp_path / "data" / "voicedesk").rglob("index.json"))


async def test_a_workspace_on_a_read_only_drive_says_so_and_what_to_do(tmp_path: Path) -> None:
    # A new document failed with "Could not use .plan.md.k2x9_a.tmp: Read-only file
    # system." (a file the person never made), and an edit told them to chmod u+w the
    # document, which a read-only drive refuses too.
    async with _server_beside_an_unwritable_folder(tmp_path, workspace_too=True) as d:
        made = await d.fail("create_document", path="plan.md", content="We ship in spring.")
        edited = await d.fail(
            "edit_document", path="notes.md", action="find_replace", find="Notes", replace_with="x"
        )
        assert "# Notes" in await d.call("read_document", path="notes.md")
    for said in (made, edited):
        assert "read-only" in said and "nothing was changed" in said, said
        assert "tools.workspace" in said, said
        assert ".tmp" not in said and "chmod" not in said, said


async def test_a_name_starting_with_a_tilde_is_a_name_in_the_workspace(ws: Path) -> None:
    """A document called "~notes.md" (a tilde marks a backup or a draft to many people)
    is listed, but reading it failed with "Could not determine home directory": the name
    was taken for "the home folder of user notes.md". Only "~/" is the home folder now."""
    (ws / "~notes.md").write_text("# Old\n\nThe old notes.\n")
    async with docs_server(ws) as d:
        assert "~notes.md" in await d.call("list_documents")
        said = await d.call("read_document", path="~notes.md")
        assert "The old notes." in said, said
        said = await d.call("create_document", path="~draft.md", content="A draft.")
        assert (ws / "~draft.md").read_text().strip() == "A draft.", said


@pytest.mark.parametrize("history", ["beside", "elsewhere"])
async def test_a_full_drive_is_said_with_the_document_and_what_to_do(
    small_drive: Path, fill_drive: Callable[[Path], Path], tmp_path: Path, history: str
) -> None:
    """A workspace whose drive filled up: an edit, a new document and an undo each failed
    with "Could not use the file: No space left on device." The model could tell the person
    neither which document, nor whether it was changed, nor what to do. Each now names the
    document, says the drive is full and nothing was done, and that space must be freed;
    the document is left whole, and once there is room the same steps work. ``history``:
    the undo history beside the workspace, on the same full drive (the default; its write
    fails first), or on another drive (the document's own write fails)."""
    ws = small_drive / "ws"
    ws.mkdir()
    todo = ws / "todo.txt"
    todo.write_text(TODO_TXT, encoding="utf-8")
    elsewhere = ["--history", str(tmp_path / "history")] if history == "elsewhere" else []
    async with docs_server(ws, *elsewhere) as d:
        await d.call("read_document", path="todo.txt")
        edit = {"path": "todo.txt", "action": "replace_paragraph", "paragraph": 1}
        await d.call("edit_document", **edit, text="Buy oat milk.")
        edited = todo.read_text(encoding="utf-8")
        filler = fill_drive(small_drive)
        for tool, args, not_done in (
            ("edit_document", {**edit, "text": "Buy soy milk. " * 40}, "nothing was changed"),
            (
                "create_document",
                {"path": "new.md", "content": "# New " * 400},
                "nothing was changed",
            ),
            ("undo", {"path": "todo.txt"}, "nothing was undone"),
        ):
            said = await d.fail(tool, **args)
            name = args["path"]
            if history == "beside":  # refused as its undo history is saved, before a change
                not_done = "nothing was changed"
            assert name in said and "full" in said and not_done in said, (tool, said)
            assert "free" in said and "space" in said, (tool, said)
            assert "Could not use the file" not in said, (tool, said)
        assert todo.read_text(encoding="utf-8") == edited
        assert sorted(p.name for p in ws.iterdir()) == ["todo.txt"]  # no new.md, no temp file
        filler.unlink()
        await d.call("undo", path="todo.txt")
        assert todo.read_text(encoding="utf-8") == TODO_TXT
        await d.call("create_document", path="new.md", content="# New")
        assert (ws / "new.md").read_text(encoding="utf-8").startswith("# New")


async def test_a_full_drive_of_the_undo_history_alone_is_said_as_such(
    small_drive: Path, fill_drive: Callable[[Path], Path], tmp_path: Path
) -> None:
    """The undo history kept on another drive (--history, or voicedesk's data folder when
    the folder above the workspace cannot be written), and that drive full: the edit was
    refused saying "The drive holding todo.txt is full", so the person freed space on the
    workspace's drive, which had plenty, and the edit failed again. The history's drive is
    named now: that is where space is needed."""
    ws = tmp_path / "ws"
    ws.mkdir()
    todo = ws / "todo.txt"
    todo.write_text(TODO_TXT, encoding="utf-8")
    history = small_drive / "history"
    async with docs_server(ws, "--history", str(history)) as d:
        await d.call("read_document", path="todo.txt")
        fill_drive(small_drive)
        edit = {"path": "todo.txt", "action": "replace_paragraph", "paragraph": 1}
        said = await d.fail("edit_document", **edit, text="Buy soy milk. " * 40)
    assert "The drive holding todo.txt is full" not in said, said
    assert str(history) in said and "full" in said and "nothing was changed" in said, said
    assert "free" in said and "space" in said, said
    assert todo.read_text(encoding="utf-8") == TODO_TXT


async def test_an_item_added_after_a_markdown_list_joins_it(tmp_path: Path) -> None:
    """ "Add butter to the shopping list" added "- butter" as a paragraph of its own, a
    blank line after the list: "* eggs\\n* bread\\n\\n- butter", which Markdown shows as a
    list with a gap before butter (or two lists, its marker being another), every later item
    added further apart, and read back as a paragraph apart from the list. An item added
    right after a list now joins it, in the list's own markers, and nothing else moves."""
    root = folder_with(
        tmp_path,
        {
            "shopping.md": "# Shopping\n\n* eggs\n* bread\n\n# Later\n\nMaybe cake.\n",
            "steps.md": "Steps:\n\n1) Mix\n2) Bake\n\nEnjoy.\n",
        },
    )
    shopping = root / "shopping.md"
    steps = root / "steps.md"
    async with docs_server(root) as docs:
        said = await docs.call(
            "edit_document",
            path="shopping.md",
            action="insert_paragraph",
            section="Shopping",
            text="- butter\n- jam",
        )
        assert said.splitlines()[0] == (
            "Added 2 list items at the end of section “Shopping” of shopping.md, to the list "
            "in paragraph 2."
        )
        assert shopping.read_text() == (
            "# Shopping\n\n* eggs\n* bread\n* butter\n* jam\n\n# Later\n\nMaybe cake.\n"
        )
        read = await docs.call("read_document", path="shopping.md")
        assert "[2] * eggs\n* bread\n* butter\n* jam\n[3] # Later" in read
        # numbered on from the list's last number, with its delimiter
        await docs.call("read_document", path="steps.md")
        said = await docs.call(
            "edit_document", path="steps.md", action="insert_paragraph", paragraph=2, text="1. Eat"
        )
        assert (
            said.splitlines()[0]
            == "Added a list item after paragraph 2 of steps.md, to the list in paragraph 2."
        )
        assert steps.read_text() == "Steps:\n\n1) Mix\n2) Bake\n3) Eat\n\nEnjoy.\n"
        # what is no item of that list stays a paragraph of its own
        await docs.call(
            "edit_document", path="steps.md", action="insert_paragraph", paragraph=2, text="- Tip"
        )
        await docs.call(
            "edit_document",
            path="steps.md",
            action="insert_paragraph",
            paragraph=3,
            text="Then rest.",
        )
        assert steps.read_text() == (
            "Steps:\n\n1) Mix\n2) Bake\n3) Eat\n\n- Tip\n\nThen rest.\n\nEnjoy.\n"
        )
        # a plain text file's list written with markers too
        (root / "todo.txt").write_text("Today\n\n- call Anna\n- water the plants\n")
        said = await docs.call(
            "edit_document", path="todo.txt", action="insert_paragraph", text="- buy milk"
        )
        assert said.splitlines()[0] == (
            "Added a list item at the end of todo.txt, to the list in paragraph 2."
        )
        assert (root / "todo.txt").read_text() == (
            "Today\n\n- call Anna\n- water the plants\n- buy milk\n"
        )
        # and undo takes the item back out exactly
        for _ in range(3):
            await docs.call("undo", path="steps.md")
        assert steps.read_text() == "Steps:\n\n1) Mix\n2) Bake\n\nEnjoy.\n"
        await docs.call("undo", path="shopping.md")
        assert shopping.read_text() == "# Shopping\n\n* eggs\n* bread\n\n# Later\n\nMaybe cake.\n"


async def test_a_stanza_or_a_salutation_added_after_short_lines_stays_a_paragraph(
    tmp_path: Path,
) -> None:
    """Short lines that go on after commas are a poem's or a letter's, no list: a stanza
    added after a stanza joined it ("Added 2 list items"), and "Dear Bob," joined the
    address above it, each a blank line short of the paragraph the person asked for."""
    root = folder_with(
        tmp_path,
        {
            "poem.md": "Roses are red,\nViolets are blue\n\nThe end\n",
            "letter.txt": "Alice Smith\n12 Main Street\nSpringfield\n",
        },
    )
    async with docs_server(root) as docs:
        for name, text in (
            ("poem.md", "Sugar is sweet,\nAnd so are you"),
            ("letter.txt", "Dear Bob,"),
        ):
            await docs.call("read_document", path=name)
            said = await docs.call(
                "edit_document", path=name, action="insert_paragraph", paragraph=1, text=text
            )
            assert "list item" not in said
    assert (root / "poem.md").read_text() == (
        "Roses are red,\nViolets are blue\n\nSugar is sweet,\nAnd so are you\n\nThe end\n"
    )
    assert (root / "letter.txt").read_text() == (
        "Alice Smith\n12 Main Street\nSpringfield\n\nDear Bob,\n"
    )


async def test_an_item_added_after_a_list_written_without_markers_joins_it(
    tmp_path: Path,
) -> None:
    """A shopping list written one item a line, no "- ", got "butter" as a paragraph of its
    own, a blank line after it ("milk\\neggs\\n\\nbutter"): out of the list, and each
    later item further apart. It now goes on the list's next line, in .txt and Markdown;
    a sentence after it, or after a wrapped paragraph, stays a paragraph of its own."""
    wrapped = "We met at ten and talked about\nthe budget for next year, and\nagreed on it.\n"
    root = folder_with(
        tmp_path,
        {
            "shopping.txt": "Shopping list:\nmilk\neggs\n\nRecipes below.\n",
            "home.md": "# Shopping\n\nmilk\neggs\nbread\n\n# Later\n\nSoon.\n",
            "notes.txt": wrapped,
        },
    )
    async with docs_server(root) as docs:
        await docs.call("read_document", path="shopping.txt")
        said = await docs.call(
            "edit_document",
            path="shopping.txt",
            action="insert_paragraph",
            paragraph=1,
            text="butter",
        )
        assert said.splitlines()[0] == (
            "Added a list item after paragraph 1 of shopping.txt, to the list in paragraph 1."
        )
        assert (root / "shopping.txt").read_text() == (
            "Shopping list:\nmilk\neggs\nbutter\n\nRecipes below.\n"
        )
        # named by its first line as a section, which a file without headings has none of,
        # the model hears how to add it instead
        message = await docs.fail(
            "edit_document",
            path="shopping.txt",
            action="insert_paragraph",
            section="Shopping list",
            text="cheese",
        )
        assert "has no section called “Shopping list”. Leave section out" in message, message
        # "take eggs off the list" left a blank line, which split the paragraph, and was
        # refused; the emptied line goes now
        said = await docs.call(
            "edit_document",
            path="shopping.txt",
            action="find_replace",
            find="eggs",
            replace_with="",
        )
        assert "The list item it left empty was removed from the list." in said
        assert (root / "shopping.txt").read_text() == (
            "Shopping list:\nmilk\nbutter\n\nRecipes below.\n"
        )
        # a bullet the model gave is left off, the list having none
        await docs.call(
            "edit_document",
            path="home.md",
            action="insert_paragraph",
            section="Shopping",
            text="- olive oil",
        )
        assert (root / "home.md").read_text() == (
            "# Shopping\n\nmilk\neggs\nbread\nolive oil\n\n# Later\n\nSoon.\n"
        )
        # a sentence after the list is no item of it
        await docs.call(
            "edit_document",
            path="home.md",
            action="insert_paragraph",
            section="Shopping",
            text="Ask Anna what else we need.",
        )
        assert (root / "home.md").read_text() == (
            "# Shopping\n\nmilk\neggs\nbread\nolive oil\n\nAsk Anna what else we need.\n\n"
            "# Later\n\nSoon.\n"
        )
        # nor is anything added after a wrapped paragraph
        await docs.call(
            "edit_document", path="notes.txt", action="insert_paragraph", text="Next steps"
        )
        assert (root / "notes.txt").read_text() == wrapped + "\nNext steps\n"


async def test_a_list_item_emptied_by_find_replace_goes(tmp_path: Path) -> None:
    """ "Take bread off the shopping list", done as find_replace("bread", ""), left "* " on
    its own line: an empty bullet the person saw in the list, and read it back as one. The
    item left with nothing but its marker now goes, and the result says so; an item with
    others nested in it, or a list that had an empty item already, is left as it was."""
    root = folder_with(
        tmp_path,
        {
            "shopping.md": "# Shopping\n\n* eggs\n* bread\n* butter\n\n1. bread\n2. jam\n3. tea\n",
            "todo.txt": "- call Anna\n- bread\n  - brown\n-\n- bread\n",
        },
    )
    shopping = root / "shopping.md"
    todo = root / "todo.txt"
    async with docs_server(root) as docs:
        said = await docs.call(
            "edit_document",
            path="shopping.md",
            action="find_replace",
            find="bread",
            replace_with="",
        )
        assert said.splitlines()[0] == (
            "Replaced 2 occurrences of “bread” with “” in shopping.md (paragraphs 2, 3). "
            "The 2 list items it left empty were removed from the list."
        )
        assert shopping.read_text() == "# Shopping\n\n* eggs\n* butter\n\n1. jam\n2. tea\n"
        read = await docs.call("read_document", path="shopping.md")
        assert "[2] * eggs\n* butter\n[3] 1. jam\n2. tea" in read
        await docs.call("undo", path="shopping.md")
        assert (
            shopping.read_text()
            == "# Shopping\n\n* eggs\n* bread\n* butter\n\n1. bread\n2. jam\n3. tea\n"
        )
        # words taken out of an item, not all of it: the item stays
        said = await docs.call(
            "edit_document", path="shopping.md", action="find_replace", find="but", replace_with=""
        )
        assert "removed" not in said
        assert (
            shopping.read_text()
            == "# Shopping\n\n* eggs\n* bread\n* ter\n\n1. bread\n2. jam\n3. tea\n"
        )
        # a list with an empty item already keeps what it had
        said = await docs.call(
            "edit_document", path="todo.txt", action="find_replace", find="bread", replace_with=""
        )
        assert "removed" not in said
        assert todo.read_text() == "- call Anna\n- \n  - brown\n-\n- \n"


async def test_find_replace_removes_only_list_items_really_left_empty(tmp_path: Path) -> None:
    """The empty-item removal took lines of fenced code for list items ("- bread" in a
    YAML example lost its line, said as "a list item removed"), took an item whose words
    went on the next line without an indent for empty (those words then read as the item
    above's), and left a task list's "- [ ] " box behind as before. Only an item left with
    nothing, or with only its box, goes now; code keeps its lines."""
    root = folder_with(
        tmp_path,
        {
            "readme.md": "# Setup\n\n```yaml\nitems:\n- bread\n- milk\n```\n\n* eggs\n* bread\n",
            "wrapped.txt": "- eggs\n- bread\nfrom the corner shop\n- tea\n",
            "tasks.md": "# To do\n\n- [ ] call Anna\n- [ ] buy bread\n- [x] pay rent\n",
        },
    )
    readme = root / "readme.md"
    wrapped = root / "wrapped.txt"
    tasks = root / "tasks.md"
    async with docs_server(root) as docs:
        said = await docs.call(
            "edit_document", path="readme.md", action="find_replace", find="bread", replace_with=""
        )
        assert said.splitlines()[0] == (
            "Replaced 2 occurrences of “bread” with “” in readme.md (paragraphs 2, 3). "
            "The list item it left empty was removed from the list."
        )
        assert readme.read_text() == "# Setup\n\n```yaml\nitems:\n- \n- milk\n```\n\n* eggs\n"
        said = await docs.call(
            "edit_document",
            path="wrapped.txt",
            action="find_replace",
            find="bread",
            replace_with="",
        )
        assert "removed" not in said
        assert wrapped.read_text() == "- eggs\n- \nfrom the corner shop\n- tea\n"
        said = await docs.call(
            "edit_document",
            path="tasks.md",
            action="find_replace",
            find="buy bread",
            replace_with="",
        )
        assert said.splitlines()[0].endswith(
            "The list item it left empty was removed from the list."
        )
        assert tasks.read_text() == "# To do\n\n- [ ] call Anna\n- [x] pay rent\n"
        # the item named with its marker, taken whole: it left a blank line, which split
        # the list in two, and the edit was refused
        said = await docs.call(
            "edit_document",
            path="tasks.md",
            action="find_replace",
            find="- [ ] call Anna",
            replace_with="",
        )
        assert said.splitlines()[0].endswith(
            "The list item it left empty was removed from the list."
        )
        assert tasks.read_text() == "# To do\n\n- [x] pay rent\n"


async def test_an_item_added_to_a_list_numbered_one_each_time_is_one_too(tmp_path: Path) -> None:
    """Many people number every item of a Markdown list "1." (Markdown counts them, and
    an item moved needs no renumbering): an item added to such a list came as "2.", after
    three "1." items. It follows the list's way now."""
    root = folder_with(tmp_path, {"steps.md": "# Steps\n\n1. mix\n1. bake\n1. cool\n"})
    steps = root / "steps.md"
    async with docs_server(root) as docs:
        await docs.call(
            "edit_document", path="steps.md", action="insert_paragraph", text="1. serve"
        )
        assert steps.read_text() == "# Steps\n\n1. mix\n1. bake\n1. cool\n1. serve\n"


async def test_an_item_added_after_a_list_of_items_apart_comes_apart_too(tmp_path: Path) -> None:
    """A list whose items stand a blank line apart (a "loose" list in Markdown; clauses of
    a plain text file, each a paragraph) had an item added at its end written into the last
    item's paragraph: clause 3 became part of paragraph 2, read back as clause 2, and the
    list's layout lost its gap there. Such a list gets the item as a paragraph of its own,
    as before; a list written line by line still takes it in."""
    root = folder_with(
        tmp_path,
        {
            "plan.md": "# Plan\n\n1. First point, explained.\n\n2. Second point.\n",
            "terms.txt": "1. Scope\nThe work covers the garden.\n\n2. Payment\nDue in 30 days.\n",
        },
    )
    plan = root / "plan.md"
    terms = root / "terms.txt"
    async with docs_server(root) as docs:
        said = await docs.call(
            "edit_document", path="plan.md", action="insert_paragraph", text="3. Third point."
        )
        assert said.splitlines()[0] == (
            "Added a paragraph at the end of plan.md; it is now paragraph 4."
        )
        assert plan.read_text() == (
            "# Plan\n\n1. First point, explained.\n\n2. Second point.\n\n3. Third point.\n"
        )
        said = await docs.call(
            "edit_document",
            path="terms.txt",
            action="insert_paragraph",
            text="3. Termination\nEither party may end it.",
        )
        assert said.splitlines()[0] == (
            "Added a paragraph at the end of terms.txt; it is now paragraph 3."
        )
        assert terms.read_text() == (
            "1. Scope\nThe work covers the garden.\n\n2. Payment\nDue in 30 days.\n\n"
            "3. Termination\nEither party may end it.\n"
        )


async def test_find_replace_says_how_a_paragraph_with_an_eszett_spells_the_words(
    tmp_path: Path,
) -> None:
    """find_replace tells the model how the document spells what it asked for ("Cafe" is
    written "Café" here), but it passed over every paragraph with a "ß" or a ligature in it
    (their folded text is longer), so in a German document the model heard only "Found no
    Cafe am Markt" and gave up, as for "Hauptstrasse" written "Hauptstraße"."""
    root = folder_with(
        tmp_path,
        {"treffen.md": "Die große Hauptstraße ist lang. Wir treffen uns im Café am Markt.\n"},
    )
    async with docs_server(root) as docs:
        said = await docs.call(
            "edit_document",
            path="treffen.md",
            action="find_replace",
            find="Cafe am Markt",
            replace_with="Bistro",
        )
        assert said.endswith("It does appear as “Café am Markt”; use find=“Café am Markt”."), said
        said = await docs.call(
            "edit_document",
            path="treffen.md",
            action="find_replace",
            find="Hauptstrasse",
            replace_with="Allee",
        )
        assert said.endswith("It does appear as “Hauptstraße”; use find=“Hauptstraße”."), said


async def test_a_binary_file_under_a_text_name_is_called_binary_and_left_alone(
    tmp_path: Path,
) -> None:
    """A picture saved as photo.txt was refused as "The file is not UTF-8 text, so I cannot
    read it safely.": untrue of a picture, and no word on what to do. Its NUL bytes say it
    is binary whatever byte comes first; a text file with a byte that is no letter in UTF-8
    or Windows-1252 is named by that byte, with how to make it readable."""
    root = tmp_path / "ws"
    root.mkdir()
    picture = b"\x89PNG\r\n\x1a\n\x81\x8d" + bytes(range(256)) * 8
    (root / "photo.txt").write_bytes(picture)
    odd = b"Plain text with one odd byte \x81 in it.\n"
    (root / "odd.txt").write_bytes(odd)
    async with docs_server(root) as docs:
        said = await docs.fail("read_document", path="photo.txt")
        assert "contains NUL bytes, so it is not plain text (it may be binary" in said, said
        said = await docs.fail(
            "edit_document", path="odd.txt", action="find_replace", find="odd", replace_with="x"
        )
        assert (
            "neither UTF-8 nor Windows-1252 text (byte 0x81 at position 29 is no letter in "
            "either), so it may be a binary file under a text name" in said
        ), said
        assert "saving it as UTF-8 makes it readable here" in said, said
    assert (root / "photo.txt").read_bytes() == picture
    assert (root / "odd.txt").read_bytes() == odd


async def test_a_file_of_a_kind_not_handled_says_how_to_use_it(tmp_path: Path) -> None:
    """Asked to read server.log, the model heard only "server.log has .log; I can only work
    with documents ending in .docx, ..." and told the person it could not help; a copy
    named .txt would do, and the answer now says so (for a new document's name too)."""
    root = folder_with(tmp_path, {"server.log": "12:00 started\n"})
    async with docs_server(root) as docs:
        said = await docs.fail("read_document", path="server.log")
        assert said.endswith(
            "A copy saved with one of those endings can be used here (a log or CSV file as "
            ".txt, an old Word .doc as .docx from Word)."
        ), said
        said = await docs.fail("create_document", path="notes.log", content="hi")
        assert "a log or CSV file as .txt" in said, said
    assert not (root / "notes.log").exists()


async def test_a_paragraph_added_at_the_start_goes_below_the_front_matter(
    tmp_path: Path,
) -> None:
    """ "Add a line at the top of my trip note" (paragraph=0) put it above the note's YAML
    front matter: its "---" lines then read as a rule and a heading, and the notes app or
    site generator lost the title and tags. It goes just below the front matter now (YAML,
    or Hugo's TOML between "+++" lines); a file whose first block only looks like a rule
    keeps the start as the start."""
    root = folder_with(
        tmp_path,
        {
            "trip.md": "---\ntitle: Trip\ntags: [travel]\n---\n\n# Trip\n\nPack bags.\n",
            "rule.md": "---\n\nNot front matter.\n",
            "hugo.md": "+++\ntitle = 'Trip'\n+++\n\nPack bags.\n",
        },
    )
    async with docs_server(root) as docs:
        await docs.call("read_document", path="trip.md")
        said = await docs.call(
            "edit_document", path="trip.md", action="insert_paragraph", paragraph=0, text="Hi."
        )
        assert said.splitlines()[0] == (
            "Added a paragraph below the front matter at the start of trip.md; it is now "
            "paragraph 2."
        ), said
        assert (root / "trip.md").read_text() == (
            "---\ntitle: Trip\ntags: [travel]\n---\n\nHi.\n\n# Trip\n\nPack bags.\n"
        )
        assert "[1] ---\ntitle: Trip" in await docs.call("read_document", path="trip.md")
        await docs.call("read_document", path="rule.md")
        await docs.call(
            "edit_document", path="rule.md", action="insert_paragraph", paragraph=0, text="Hi."
        )
        assert (root / "rule.md").read_text() == "Hi.\n\n---\n\nNot front matter.\n"
        await docs.call("read_document", path="hugo.md")  # Hugo's TOML front matter
        await docs.call(
            "edit_document", path="hugo.md", action="insert_paragraph", paragraph=0, text="Hi."
        )
        assert (root / "hugo.md").read_text() == "+++\ntitle = 'Trip'\n+++\n\nHi.\n\nPack bags.\n"


async def test_find_documents_takes_a_name_said_without_its_accents(tmp_path: Path) -> None:
    """ "Open my cafe notes": speech to text writes no accents, and find_documents found no
    "my notes ✨ café.md" (in another order, "cafe" is too far from "café" for a slip),
    while search, given the same words, finds "Café" in the text. Names are compared with
    accents folded away too."""
    root = folder_with(
        tmp_path,
        {"my notes ✨ café.md": "# Menu\n", "Résumé, Anna Nuñez.md": "# CV\n", "cake.md": "x\n"},
    )
    async with docs_server(root) as docs:
        said = await docs.call("find_documents", query="cafe notes")
        assert said.startswith("Found one document matching “cafe notes”: my notes ✨ café.md"), (
            said
        )
        said = await docs.call("find_documents", query="anna nunez resume")
        assert said.startswith("Found one document matching “anna nunez resume”: Résumé, "), said
