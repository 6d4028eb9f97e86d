"""Markdown sections: setext headings ("Title" over "===" or "---") and headings that repeat.

Setext headings were read as paragraphs, so their sections could not be listed, read or
edited; two "Notes" under different chapters could not both be named. Real files through
:class:`DocsTools`, and the official MCP client over stdio for what the model sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_docs_edits import put, read
from test_docs_server import docs_server

from voicedesk.tools import formats
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.formats import FormatError


def blocks(text: str) -> list[tuple[str, int]]:
    return [(b.text, b.level) for b in formats.parse_markdown(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Title\n=====\n\nBody.\n", [("Title", 1), ("Body.", 0)]),
        ("Part\n---\nBody right under it.\n", [("Part", 2), ("Body right under it.", 0)]),
        ("  Indented\n  ===  \n", [("Indented", 1)]),
        # CommonMark: the whole paragraph above the underline is the heading.
        ("Annual\nreport\n===\n", [("Annual report", 1)]),
        # After a blank line "---" is a thematic break, not an underline.
        ("Text\n\n---\n\nMore\n", [("Text", 0), ("---", 0), ("More", 0)]),
        # Under a list item, a quote or a table it ends that block; it underlines nothing.
        ("- item\n---\n", [("- item\n---", 0)]),
        ("Intro\n- item\n---\n", [("Intro\n- item\n---", 0)]),
        ("> quoted\n---\n", [("> quoted\n---", 0)]),
        ("| a | b |\n|---|---|\n| 1 | 2 |\n---\n", [("| a | b |\n|---|---|\n| 1 | 2 |\n---", 0)]),
        ("    code\n---\n", [("    code\n---", 0)]),
        # Inside a fence nothing is a heading.
        ("```\nnot\n---\n```\n", [("```\nnot\n---\n```", 0)]),
        # YAML front matter is one block, even with a blank line in it.
        (
            "---\ntitle: Plan\n\nauthor: Ann\n---\n\nIntro\n=====\n",
            [("---\ntitle: Plan\n\nauthor: Ann\n---", 0), ("Intro", 1)],
        ),
        # A "---" that closes nothing at the top is a thematic break over a paragraph.
        ("---\nJust text\n", [("---\nJust text", 0)]),
    ],
)
def test_setext_headings_are_read_where_commonmark_reads_them(
    text: str, expected: list[tuple[str, int]]
) -> None:
    assert blocks(text) == expected


def test_setext_detection_agrees_with_a_commonmark_parser() -> None:
    """markdown-it-py (Textual's Markdown parser) as the reference for top-level headings."""
    markdown_it = pytest.importorskip("markdown_it")
    docs = [
        "A\n===\n\nB\n---\nc\n",
        "para\n\n---\n\nnext\n---\n",
        "- x\n---\n\n> y\n===\n",
        "one\ntwo\n---\n\n    code\n===\n",
        "```\nx\n---\n```\n\nZ\n=\n",
        "***\ntext\n\ntext2\n-\n",
    ]
    for doc in docs:
        tokens = markdown_it.MarkdownIt("commonmark").parse(doc)
        want = [
            (tokens[n + 1].content.replace("\n", " "), int(t.tag[1]))
            for n, t in enumerate(tokens)
            if t.type == "heading_open" and t.level == 0
        ]
        assert [b for b in blocks(doc) if b[1]] == want, doc


def test_setext_sections_are_listed_read_and_edited(tools: DocsTools) -> None:
    path = put(
        tools,
        "setext.md",
        b"Plan\r\n====\r\n\r\nWe ship in spring.\r\n\r\nCosts\r\n-----\r\n\r\nTen euros.\r\n\r\n"
        b"Risks\r\n-----\r\nNobody reads the manual.\r\n",
    )
    outline = tools.outline("setext.md")
    assert "[1] # Plan" in outline and "  [3] ## Costs" in outline and "[5] ## Risks" in outline
    assert read(tools, "setext.md")[0] == "[1] # Plan"
    assert tools.read_document("setext.md", section="Costs").splitlines()[1:] == [
        "[3] ## Costs",
        "[4] Ten euros.",
    ]
    tools.edit_document("setext.md", "replace_section", section="Costs", text="Twelve euros.")
    # A renamed setext heading stays setext, in the file's line endings.
    tools.edit_document("setext.md", "rename_heading", section="Risks", text="Open risks")
    assert path.read_bytes() == (
        b"Plan\r\n====\r\n\r\nWe ship in spring.\r\n\r\nCosts\r\n-----\r\n\r\nTwelve euros.\r\n"
        b"\r\nOpen risks\r\n----------\r\nNobody reads the manual.\r\n"
    )
    tools.edit_document("setext.md", "delete_section", section="Costs")  # the question first
    tools.edit_document("setext.md", "delete_section", section="Costs", confirmed=True)
    assert path.read_bytes() == (
        b"Plan\r\n====\r\n\r\nWe ship in spring.\r\n\r\nOpen risks\r\n----------\r\n"
        b"Nobody reads the manual.\r\n"
    )
    tools.undo("setext.md")
    assert b"Costs\r\n-----" in path.read_bytes()


def test_multiline_setext_heading_is_written_on_one_line_when_renamed(
    tools: DocsTools,
) -> None:
    path = put(tools, "long.md", b"Annual\nreport\n======\n\nText.\n")
    assert read(tools, "long.md") == ["[1] # Annual report", "[2] Text."]
    tools.edit_document("long.md", "rename_heading", section="annual report", text="Report")
    assert path.read_bytes() == b"Report\n======\n\nText.\n"


def test_front_matter_closing_line_is_not_an_underline(tools: DocsTools) -> None:
    put(tools, "fm.md", b"---\ntitle: Plan\n\nauthor: Ann\n---\n\n# Plan\n\nBody.\n")
    assert "1 heading" in tools.outline("fm.md")
    # Removing the closing line would let a later "---" close it: refused, explained.
    put(tools, "fm2.md", b"---\ntitle: x\n---\nText\n\nMore\n---\n")
    with pytest.raises(FormatError, match="front matter"):
        tools.edit_document("fm2.md", "find_replace", find="\n---", replace_with="")


DUPES = b"""# Chapter 1

## Notes

One.

# Chapter 2

## Notes

Two.

## Notes

Three.

# Chapter 10

## Notes

Four.
"""


def test_repeated_headings_get_names_that_pick_them() -> None:
    doc = formats.parse(DUPES, "markdown").blocks
    names = formats.heading_names(doc)
    assert [names[i] for i in formats.outline(doc)] == [
        "Chapter 1",
        "Chapter 1 › Notes",
        "Chapter 2",
        "Notes #2",
        "Notes #3",
        "Chapter 10",
        "Chapter 10 › Notes",
    ]
    for i, name in names.items():
        assert formats.find_heading(doc, name) == i
    # ">" for "›", any case, a path that skips levels, and a number within a path.
    assert formats.find_heading(doc, "chapter 10 > notes") == 9
    assert formats.find_heading(doc, "Chapter 2 › Notes #2") == 6
    with pytest.raises(FormatError) as err:
        formats.find_heading(doc, "Notes")
    assert "“Chapter 1 › Notes” (paragraph 2)" in str(err.value)
    assert "“Chapter 10 › Notes” (paragraph 10)" in str(err.value)
    with pytest.raises(FormatError, match="only 4 sections called"):
        formats.find_heading(doc, "Notes #5")


def test_a_heading_named_like_a_path_is_still_found_by_its_words() -> None:
    doc = formats.parse_markdown("# Costs > Hosting\n\nx\n\n# Issue #2\n\ny\n")
    assert formats.find_heading(doc, "Costs > Hosting") == 0
    assert formats.find_heading(doc, "Issue #2") == 2


async def test_repeated_and_setext_headings_over_mcp(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "book.md").write_bytes(DUPES.replace(b"# Chapter 10\n", b"Chapter 10\n==========\n"))
    async with docs_server(root) as d:
        outline = await d.call("outline", path="book.md")
        assert "[9] # Chapter 10" in outline
        assert "  [2] ## Notes (1 paragraph, 2 words, section= “Chapter 1 › Notes”)" in outline
        failed = await d.fail("read_document", path="book.md", section="Notes")
        assert "More than one section matches “Notes”" in failed
        assert "“Chapter 10 › Notes”" in failed and "“Notes #2”" in failed
        part = await d.call("read_document", path="book.md", section="Chapter 10 › Notes")
        assert part.splitlines()[1:] == ["[10] ## Notes", "[11] Four."]
        await d.call(
            "edit_document",
            path="book.md",
            action="replace_section",
            section="Notes #3",
            text="Drei.",
        )
        text = (root / "book.md").read_text(encoding="utf-8")
        assert "Three." not in text and "Drei." in text
        assert text.count("## Notes") == 4 and "Chapter 10\n==========" in text
        found = await d.call("search", query="Drei")
        assert "(section “Notes #3”)" in found
