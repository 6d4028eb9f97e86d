"""The documents MCP server, driven the way real clients drive it: the official MCP client
over stdio, launching ``python -m voicedesk docs-server --root WORKSPACE``.

Each test starts one server process (about a second) and does as much as it can through it,
so the whole file stays fast. A few pure helpers are also tested directly.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import docx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from pypdf import PdfReader

import voicedesk
from voicedesk.tools import formats
from voicedesk.tools.docs_server import TOOL_NAMES, describe_changes
from voicedesk.tools.workspace import WorkspaceError, clean_relative_name

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


@asynccontextmanager
async def docs_server(root: Path) -> AsyncIterator[Docs]:
    # The server must run the voicedesk these tests import (a git worktree, say), not whichever
    # one the virtualenv has installed; the SDK passes the child only a few variables.
    package_root = str(Path(voicedesk.__file__).resolve().parents[1])
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "voicedesk", "docs-server", "--root", str(root)],
        cwd=str(root.parent),
        env={
            "PYTHONPATH": os.pathsep.join(
                filter(None, [package_root, os.environ.get("PYTHONPATH")])
            )
        },
    )
    log = root.parent / "server-stderr.log"
    with open(log, "w") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield Docs(session)
    # Expected failures are ToolErrors; a traceback on stderr means a tool crashed.
    assert "Traceback" not in log.read_text(), log.read_text()


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
        assert "confirmed=true" in ask and "spoken confirmation" in ask
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
            ("Heading 3", "Mitigation"),
            ("Normal", "Keep two suppliers."),
            ("Normal", ""),
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
        assert "changed by another program" in await d.fail("undo", path="notes/plan.md")
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
    done = _run_cli(
        ["--config", str(tmp_path / "absent.toml"), "docs-server"], {"HOME": str(tmp_path)}
    )
    assert done.returncode == 2 and done.stdout == ""
    assert f"Workspace folder not found: {tmp_path / 'Documents'}" in done.stderr
