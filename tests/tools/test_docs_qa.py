"""Problems found by trying every documents tool the way a model would on someone's behalf.

Each test calls :class:`DocsTools` (what the MCP tools call) on real files, or starts the real
command, and failed before its fix.
"""

from __future__ import annotations

import difflib
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import docx
import pytest
from pypdf import PdfWriter

import voicedesk
from voicedesk.tools import formats
from voicedesk.tools.docs_diff import describe_changes, diff_opcodes
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.formats import FormatError
from voicedesk.tools.workspace import WorkspaceError


def long_markdown(sections: int) -> str:
    parts = []
    for s in range(sections):
        parts.append(f"## Part {s}\n\nThe budget of part {s}.\n\n")
        parts += [f"Filler paragraph {s}.{k} about nothing much.\n\n" for k in range(9)]
    return "".join(parts)


class _WholeDocumentMatched(Exception):
    """difflib's matcher was handed a whole long document (see the test below)."""


def test_undo_and_compare_of_a_change_spread_over_a_long_document_are_quick(
    tools: DocsTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    # difflib's SequenceMatcher is quadratic when changes are spread out: describing this
    # undo took minutes, long after the person gave up waiting. What made it slow is
    # checked, not the time (a loaded machine's): no difflib matcher is given the
    # document's 6,600 paragraphs (stopped at once if one is). So the document needs to be
    # long only beyond difflib's share (2,000 lines), not so long that difflib takes
    # minutes: 3,000 sections took 9-14 s to write, edit and compare, 600 take under 2 s.
    real = difflib.SequenceMatcher

    class Watched(real):  # type: ignore[misc, valid-type]
        def set_seqs(self, a: Any, b: Any) -> None:
            if len(a) + len(b) > 10_000:  # the two versions: 13,200
                raise _WholeDocumentMatched(f"{len(a)} and {len(b)} lines")
            super().set_seqs(a, b)

    (tools.ws.root / "long.md").write_text(long_markdown(600), encoding="utf-8")
    tools.read_document("long.md")
    assert "600 occurrences" in tools.edit_document(
        "long.md", "find_replace", find="budget", replace_with="money"
    )
    monkeypatch.setattr(difflib, "SequenceMatcher", Watched)
    compared = tools.compare_documents("long.md")
    undone = tools.undo("long.md")
    assert compared.startswith("Compared long.md (1 edit ago) with long.md (now): 600 paragraphs")
    assert compared.splitlines()[-1].endswith("more diff lines)")
    assert undone.startswith("Undid the last change to long.md: 600 paragraphs changed.")


def test_fast_diff_still_turns_one_list_into_the_other() -> None:
    rng = random.Random(7)
    for _ in range(20):
        old = [f"line {rng.randrange(3_000)}" for _ in range(2_500)]
        new = list(old)
        for _ in range(200):
            at = rng.randrange(len(new))
            if rng.random() < 0.5:
                new[at] = f"changed {rng.randrange(50)}"
            elif rng.random() < 0.5:
                new.insert(at, rng.choice(old))
            else:
                del new[at]
        rebuilt: list[str] = []
        last = (0, 0)
        for tag, i1, i2, j1, j2 in diff_opcodes(old, new):
            assert (i1, j1) == last
            if tag == "equal":
                assert old[i1:i2] == new[j1:j2]
            rebuilt += new[j1:j2]
            last = (i2, j2)
        assert rebuilt == new and last == (len(old), len(new))
    assert describe_changes(["a", "b", "c"], ["x", "y", "c", "d"]) == (
        "2 paragraphs changed, 1 added"
    )


def test_undoing_the_overwrite_of_a_damaged_word_file_says_it_was_done(tools: DocsTools) -> None:
    # The undo restored the damaged file, then failed to describe it and reported an error,
    # so the model would try again and undo one step more.
    damaged = b"PK\x03\x04 not really a zip"
    path = tools.ws.root / "broken.docx"
    path.write_bytes(damaged)
    tools.create_document("broken.docx", "# Fresh start", overwrite=True)  # the question
    tools.create_document("broken.docx", "# Fresh start", overwrite=True, confirmed=True)
    undone = tools.undo("broken.docx")
    assert path.read_bytes() == damaged
    assert undone.startswith(
        "Undid the last change to broken.docx; it is back to a version that is not a readable "
        "Word file."
    )
    redone = tools.redo("broken.docx")
    assert redone.startswith(
        "Redid the change to broken.docx; the version it replaced was not a readable Word file."
    )
    assert "Fresh start" in tools.read_document("broken.docx")


def run_docs_server(*args: str) -> subprocess.CompletedProcess[str]:
    package_root = str(Path(voicedesk.__file__).resolve().parents[1])
    return subprocess.run(
        [sys.executable, "-m", "voicedesk", "docs-server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,  # a server that starts ends at once: its client is gone
        env={**os.environ, "PYTHONPATH": package_root},
    )


def test_a_history_folder_that_cannot_be_used_is_refused_at_start(tmp_path: Path) -> None:
    # It used to start fine, and the person's first edit then failed.
    root = tmp_path / "ws"
    root.mkdir()
    (tmp_path / "notes.txt").write_text("not a folder", encoding="utf-8")
    for history, says in (
        (tmp_path / "notes.txt", "is a file, not a folder"),
        (tmp_path / "notes.txt" / "history", "Cannot keep the undo history in"),
        (root, "it is the workspace folder"),
        (tmp_path, "it is a folder holding the workspace"),
        # it would hide the documents under it from every tool
        (root / "notes", "it is inside the workspace folder"),
    ):
        done = run_docs_server("--root", str(root), "--history", str(history))
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert says in done.stderr and "--history" in done.stderr and "Traceback" not in done.stderr
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "not a folder"
    fine = run_docs_server("--root", str(root), "--history", str(tmp_path / "new" / "history"))
    assert fine.returncode == 0, fine.stderr
    assert (tmp_path / "new" / "history").is_dir()


def test_a_scanned_pdf_is_not_called_empty(tools: DocsTools) -> None:
    # Pages without a text layer read as "scan.pdf is empty", which the person knows is wrong.
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_blank_page(612, 792)
    writer.write(tools.ws.root / "scan.pdf")
    for tool in (tools.read_document, tools.outline, tools.count):
        with pytest.raises(FormatError, match=r"scan\.pdf: It has 2 pages but no text") as err:
            tool("scan.pdf")
        assert "probably scanned" in str(err.value) and "OCR" in str(err.value)
    found = tools.search("anything")
    assert "(Could not read scan.pdf (not readable as PDF); read_document says more.)" in found


def test_a_password_protected_word_file_says_so(tools: DocsTools) -> None:
    # Word keeps a password-protected .docx in an OLE container, like an old .doc; it read as
    # "not a valid Word .docx document (File is not a zip file)".
    locked = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)
    (tools.ws.root / "locked.docx").write_bytes(locked)
    with pytest.raises(FormatError, match=r"password-protected, or an old Word \.doc") as err:
        tools.read_document("locked.docx")
    assert "save it as a .docx without a password" in str(err.value)
    assert (tools.ws.root / "locked.docx").read_bytes() == locked


def test_an_edit_that_changes_a_legacy_encoding_says_so(tools: DocsTools) -> None:
    # A Windows-1252 file given a letter it cannot hold was silently rewritten as UTF-8, so
    # the person's old editor showed "cafÃ©" where it had shown "café".
    path = tools.ws.root / "old.txt"
    original = "café crème\r\n\r\nsecond\r\n".encode("cp1252")
    path.write_bytes(original)
    tools.read_document("old.txt")
    kept = tools.edit_document("old.txt", "find_replace", find="second", replace_with="deux")
    assert "encoding" not in kept
    assert path.read_bytes() == "café crème\r\n\r\ndeux\r\n".encode("cp1252")
    changed = tools.edit_document("old.txt", "find_replace", find="deux", replace_with="Łódź")
    assert path.read_bytes() == "café crème\r\n\r\nŁódź\r\n".encode()
    assert "older Windows-1252 encoding, which cannot hold “Ł”, “ź”, so I saved it as UTF-8" in (
        changed
    )
    tools.undo("old.txt")
    tools.undo("old.txt")
    assert path.read_bytes() == original


def test_a_size_or_a_delay_that_is_not_a_finite_number_is_refused_at_start(
    tmp_path: Path,
) -> None:
    # "inf" passed the check and crashed with OverflowError; "nan" slept forever or crashed.
    for args, says in (
        (("--max-size", "inf"), "is not a size in MB"),
        (("--max-size", "nan"), "is not a size in MB"),
        (("--max-size", "0"), "is not a size in MB"),
        (("--slow", "search=nan"), "--slow 'search=nan': SECONDS must be 0 to 3600"),
        (("--slow", "search=inf"), "--slow 'search=inf': SECONDS must be 0 to 3600"),
        # -1 was "not TOOL=SECONDS", which it is; 1e9 was taken, a call never answered
        (("--slow", "search=-1"), "--slow 'search=-1': SECONDS must be 0 to 3600"),
        (("--slow", "search=1e9"), "--slow 'search=1e9': SECONDS must be 0 to 3600"),
        (("--slow", "search"), "--slow 'search' is not TOOL=SECONDS"),
    ):
        done = run_docs_server("--root", str(tmp_path), *args)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert says in done.stderr and "Traceback" not in done.stderr


def test_a_named_pipe_is_not_called_a_folder(tools: DocsTools) -> None:
    os.mkfifo(tools.ws.root / "fifo.md")
    for call in (
        lambda: tools.read_document("fifo.md"),
        lambda: tools.create_document("fifo.md", "x", overwrite=True),
    ):
        with pytest.raises(WorkspaceError, match=r"fifo\.md is not a regular file"):
            call()


def _hidden_words_docx(path: Path) -> None:
    """A Word file whose words sit where python-docx's Paragraph.text does not look: a
    content control around a paragraph, a tracked insertion (and deletion), a simple field,
    a smart tag; the kinds Word writes for track changes, templates and forms."""
    import docx
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    d = docx.Document()
    d.add_heading("Alpha", 1)
    body = d.element.body
    body.insert(
        len(body) - 1,
        parse_xml(
            f"<w:sdt {nsdecls('w')}><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>in a content "
            f"control</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        ),
    )
    when = 'w:author="me" w:date="2026-01-01T00:00:00Z"'
    tracked = d.add_paragraph("Tracked ")
    tracked._p.append(
        parse_xml(f'<w:ins {nsdecls("w")} w:id="1" {when}><w:r><w:t>new</w:t></w:r></w:ins>')
    )
    tracked._p.append(
        parse_xml(
            f'<w:del {nsdecls("w")} w:id="2" {when}><w:r><w:delText>old</w:delText></w:r></w:del>'
        )
    )
    tracked.add_run(" words.")
    field = d.add_paragraph("Page ")
    field._p.append(
        parse_xml(
            f'<w:fldSimple {nsdecls("w")} w:instr="PAGE"><w:r><w:t>1</w:t></w:r></w:fldSimple>'
        )
    )
    smart = d.add_paragraph("Meet in ")
    smart._p.append(
        parse_xml(
            f'<w:smartTag {nsdecls("w")} w:uri="u" w:element="place"><w:r><w:t>Paris</w:t></w:r>'
            f"</w:smartTag>"
        )
    )
    d.add_paragraph("Plain words.")
    d.save(path)


def test_word_text_in_tracked_changes_fields_and_content_controls_is_read_and_kept(
    tools: DocsTools,
) -> None:
    # Such words were neither read nor searched, and an edit of their paragraph left them in
    # the file: "Meet in Rome" written over "Meet in Paris" was saved as "Meet in RomeParis".
    path = tools.ws.root / "forms.docx"
    _hidden_words_docx(path)
    read = tools.read_document("forms.docx")
    for line in (
        "[2] in a content control",
        "[3] Tracked new words.",
        "[4] Page 1",
        "[5] Meet in Paris",
        "[6] Plain words.",
    ):
        assert line in read, read
    assert "forms.docx, paragraph 3" in tools.search("tracked new")
    before = path.read_bytes()
    for edit in (
        {"action": "replace_paragraph", "paragraph": 5, "text": "Meet in Rome"},
        {"action": "find_replace", "find": "Tracked", "replace_with": "Marked"},
        {"action": "replace_paragraph", "paragraph": 4, "text": "Page 2"},
    ):
        with pytest.raises(FormatError, match="nothing was changed") as err:
            tools.edit_document("forms.docx", **edit)  # type: ignore[arg-type]
        assert "accept the tracked changes in Word" in str(err.value)
        assert path.read_bytes() == before
    # The content control's paragraph is the body's: edited in place, deleted with its box.
    tools.edit_document("forms.docx", "replace_paragraph", paragraph=2, text="Filled in.")
    assert "[2] Filled in." in tools.read_document("forms.docx")
    assert "<w:sdt>" in _document_xml(path)
    tools.edit_document("forms.docx", "delete_paragraph", paragraph=2)  # the question first
    tools.edit_document("forms.docx", "delete_paragraph", paragraph=2, confirmed=True)
    assert "<w:sdt>" not in _document_xml(path) and "Filled in" not in _document_xml(path)
    tools.edit_document("forms.docx", "delete_paragraph", paragraph=4)
    tools.edit_document("forms.docx", "delete_paragraph", paragraph=4, confirmed=True)
    assert "[4] Plain words." in tools.read_document("forms.docx")
    assert "Paris" not in _document_xml(path)


def _document_xml(path: Path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return z.read("word/document.xml").decode("utf-8")


def test_a_diff_marks_every_line_of_a_paragraph_of_several_lines(tools: DocsTools) -> None:
    # The continuation lines had no mark, so "- item two" read as a removed line.
    root = tools.ws.root
    (root / "a.md").write_text("Intro.\n\nKeep this line\n- item two\n\nEnd.\n", encoding="utf-8")
    (root / "b.md").write_text("Intro.\n\nChanged line\n- item two\n\nEnd.\n", encoding="utf-8")
    diff = tools.compare_documents("a.md", "b.md").splitlines()
    assert diff[diff.index("-Keep this line") + 1] == "-- item two"
    assert diff[diff.index("+Changed line") + 1] == "+- item two"
    assert " Intro." in diff and " End." in diff


def test_a_paragraph_too_long_for_one_result_is_read_in_parts(tools: DocsTools) -> None:
    # A plain-text file with single line breaks is one paragraph; past ~12,000 characters
    # no argument reached the rest of it.
    import re

    text = "".join(f"line {i}: some text here\n" for i in range(3000))
    (tools.ws.root / "lines.txt").write_text(text, encoding="utf-8")
    parts, from_char = [], None
    for _ in range(20):
        result = tools.read_document("lines.txt", start_paragraph=1, from_char=from_char)
        body = "\n".join(result.splitlines()[1:])
        more = re.search(r"start_paragraph=1 and from_char=(\d+) for the rest", body)
        body = re.sub(r"\n\(Paragraph 1 goes on: .*\)$", "", body)
        body = re.sub(r"^\[1\] (\(from character \d+\) …)?", "", body)
        parts.append(re.sub(r"… \(\d+ more characters\)$", "", body))
        if more is None:
            break
        from_char = int(more.group(1))
    assert len(parts) > 1 and "".join(parts) == text.rstrip("\n")
    with pytest.raises(FormatError, match="from_char must be from 0 to"):
        tools.read_document("lines.txt", from_char=len(text) + 5)


def test_a_utf8_file_with_a_stray_windows_byte_keeps_its_accents(tools: DocsTools) -> None:
    # One cp1252 apostrophe made the whole file read as cp1252: "Café" showed as "CafÃ©",
    # search for "Café" found nothing, and an edit saved the garbled letters as UTF-8.
    path = tools.ws.root / "menu.txt"
    original = "Café crème brûlée\n\nIt".encode() + b"\x92" + b"s fine\n"
    path.write_bytes(original)
    assert "[1] Café crème brûlée" in tools.read_document("menu.txt")
    assert "[2] It’s fine" in tools.read_document("menu.txt")
    assert "paragraph 1" in tools.search("Café")
    done = tools.edit_document("menu.txt", "insert_paragraph", text="Added: 日本")
    assert path.read_bytes() == "Café crème brûlée\n\nIt’s fine\n\nAdded: 日本\n".encode()
    assert "older Windows-1252 encoding, which I saved as UTF-8 too" in done
    tools.undo("menu.txt")
    assert path.read_bytes() == original


def test_a_windows_1252_file_whose_letters_pair_up_as_utf8_is_still_read_as_1252(
    tools: DocsTools,
) -> None:
    # French puts a no-break space before "»": "É" and that space are, by chance, the two
    # bytes of the UTF-8 letter "ɠ". Read as "UTF-8 but for a few stray bytes", the file
    # showed "CAFɠ»", and an edit saved the whole file as UTF-8 with the "ɠ" in it.
    path = tools.ws.root / "menu.txt"
    original = "« BIENVENUE AU CAFÉ\u00a0»\n\nLe café est prêt à servir.\n".encode("cp1252")
    path.write_bytes(original)
    assert "[1] « BIENVENUE AU CAFÉ\u00a0»" in tools.read_document("menu.txt")
    done = tools.edit_document("menu.txt", "find_replace", find="prêt", replace_with="chaud")
    assert "Windows-1252" not in done
    assert path.read_bytes() == original.replace("prêt".encode("cp1252"), b"chaud")


def test_search_names_the_sections_of_the_hits_it_shows_only(
    tools: DocsTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every hit walked back to its heading: 20,000 hits of a long file took 13 s, while
    # only 25 are shown, and every other tool waited behind it.
    body = "".join(f"Paragraph number {i} with some text.\n\n" for i in range(2_000))
    (tools.ws.root / "many.md").write_text("# Notes\n\n" + body, encoding="utf-8")
    calls = []
    section_of = DocsTools._section_of
    monkeypatch.setattr(
        DocsTools, "_section_of", staticmethod(lambda *a: calls.append(1) or section_of(*a))
    )
    found = tools.search("text")
    assert found.startswith("Found “text” in 2000 places in 1 document.")
    assert "- many.md, paragraph 2 (section “Notes”): Paragraph number 0" in found
    assert len(calls) == len(found.splitlines()) - 2  # the hits shown, not the 2,000


def test_plain_quotes_dashes_and_spaces_find_typographic_ones(tools: DocsTools) -> None:
    # Word writes curly quotes, en dashes and no-break spaces; speech-to-text and models
    # write straight ones. Search found none of these, and search found the no-break space
    # that find_replace then said was not there.
    d = docx.Document()
    d.add_paragraph("It’s the team’s “best” plan for 2024–2025.")
    d.add_paragraph("Price:\u00a0100\u00a0EUR")
    path = tools.ws.root / "plan.docx"
    d.save(str(path))
    tools.read_document("plan.docx")
    for query in ("it's the team's", '"best" plan', "2024-2025", "Price: 100 EUR"):
        assert tools.search(query).startswith(f"Found “{query}” in 1 place"), query
    done = tools.edit_document("plan.docx", "find_replace", find="100 EUR", replace_with="200 EUR")
    assert done.startswith("Replaced 1 occurrence of “100 EUR” with “200 EUR”")
    tools.edit_document("plan.docx", "find_replace", find="team's", replace_with="group’s")
    assert [p.text for p in docx.Document(str(path)).paragraphs] == [
        "It’s the group’s “best” plan for 2024–2025.",
        "Price:\u00a0200 EUR",
    ]


def test_undoing_a_change_made_outside_says_whose_change_it_took_back(tools: DocsTools) -> None:
    # It said "Undid the last change" as if it were the assistant's, while it removed the
    # person's own typing and left the assistant's edit in place.
    path = tools.ws.root / "plan.md"
    path.write_text("Alpha.\n\nBeta.\n", encoding="utf-8")
    tools.read_document("plan.md")
    tools.edit_document("plan.md", "find_replace", find="Beta", replace_with="BETA")
    path.write_text("Alpha.\n\nBETA.\n\nEpsilon typed.\n", encoding="utf-8")
    tools.read_document("plan.md")
    undone = tools.undo("plan.md")
    assert path.read_text(encoding="utf-8") == "Alpha.\n\nBETA.\n"
    assert "That change was made outside, after my last one" in undone
    assert "undo again takes back my own last change" in undone
    assert "made outside" not in tools.undo("plan.md")
    assert path.read_text(encoding="utf-8") == "Alpha.\n\nBeta.\n"


def test_a_word_paragraph_split_in_two_keeps_its_style(tools: DocsTools) -> None:
    # The second half of a split quote became a Normal paragraph: new paragraphs now get the
    # style Word gives a paragraph typed after the one before (Enter at its end).
    d = docx.Document()
    d.add_paragraph("Intro.")
    d.add_paragraph("Quoted.", style="Quote")
    d.add_heading("Next", level=1)
    d.add_paragraph("- not a list", style="List Bullet")
    path = tools.ws.root / "q.docx"
    d.save(str(path))
    tools.read_document("q.docx")
    tools.edit_document("q.docx", "replace_paragraph", paragraph=2, text="One.\n\nTwo.")
    tools.edit_document("q.docx", "insert_paragraph", paragraph=4, text="Body.")
    tools.edit_document("q.docx", "insert_paragraph", text="After the list.")
    styles = [(p.text, p.style.name) for p in docx.Document(str(path)).paragraphs]
    assert styles[:5] == [
        ("Intro.", "Normal"),
        ("One.", "Quote"),
        ("Two.", "Quote"),
        ("Next", "Heading 1"),
        ("Body.", "Normal"),
    ]
    assert styles[-1] == ("After the list.", "Normal")


def test_a_refused_read_does_not_unlock_edits_by_number(tools: DocsTools) -> None:
    (tools.ws.root / "plan.md").write_text("# Plan\n\nAlpha.\n", encoding="utf-8")
    for bad in ({"start_paragraph": 99}, {"section": "Nowhere"}):
        with pytest.raises(FormatError):
            tools.read_document("plan.md", **bad)
    with pytest.raises(FormatError, match=r"have not read plan\.md"):
        tools.edit_document("plan.md", "replace_paragraph", paragraph=2, text="Beta.")


def test_a_renamed_heading_of_any_length_gives_a_short_result(tools: DocsTools) -> None:
    (tools.ws.root / "long.md").write_text("# " + "word " * 1_000 + "\n\nBody.\n", encoding="utf-8")
    tools.read_document("long.md")
    done = tools.edit_document("long.md", "rename_heading", section="word " * 1_000, text="Short")
    assert len(done.splitlines()[0]) < 300


def test_markdown_emphasis_becomes_bold_and_italic_words_in_word(tools: DocsTools) -> None:
    # The asterisks were written into the Word file as characters.
    tools.create_document(
        "a.docx",
        "# **Plan**\n\nSome **bold**, *italic* and ***both***; snake_case_name and 2*3*4.\n\n"
        "- an item with __strong__ words\n\nPlain words here.",
    )
    path = tools.ws.root / "a.docx"
    runs = [
        [(r.text, r.bold, r.italic) for r in p.runs] for p in docx.Document(str(path)).paragraphs
    ]
    assert runs[1] == [
        ("Some ", None, None),
        ("bold", True, None),
        (", ", None, None),
        ("italic", None, True),
        (" and ", None, None),
        ("both", True, True),
        ("; snake_case_name and 2*3*4.", None, None),
    ]
    assert ("strong", True, None) in runs[2]
    tools.read_document("a.docx")
    tools.edit_document("a.docx", "replace_paragraph", paragraph=4, text="Plain **bold** here.")
    assert "[4] Plain bold here." in tools.read_document("a.docx")
    fourth = docx.Document(str(path)).paragraphs[3]
    assert [r.text for r in fourth.runs if r.bold] == ["bold"]


def test_escaped_asterisks_in_text_for_a_word_file_make_no_italic(tools: DocsTools) -> None:
    # "\\*" is Markdown's literal asterisk: it opened an italic span, so "5 \\* 3 \\* 2" came
    # out as "5 \\" and an italic " 3 \\".
    tools.create_document("sum.docx", r"Work out 5 \* 3 \* 2 and \*\*not bold\*\* here.")
    runs = docx.Document(str(tools.ws.root / "sum.docx")).paragraphs[0].runs
    assert [(r.bold, r.italic) for r in runs] == [(None, None)]


def test_find_documents_takes_a_number_in_the_name_as_it_is_said(tools: DocsTools) -> None:
    """ "Find invoice 2024" answered "Found 3 documents matching; the best is invoice
    2024.md", counting invoice 2023 and invoice 2025 as near misses of the number (in a
    folder of numbered notes, "note 2999" found 2,040 documents). A number names one
    document, not a slip of another: only names with that number are found."""
    root = tools.ws.root
    for year in (2023, 2024, 2025):
        (root / f"invoice {year}.md").write_text(f"Invoice for {year}.\n")
    (root / "meeting 3.md").write_text("Third.\n")
    (root / "meeting 30.md").write_text("Thirtieth.\n")
    (root / "meeting 3 notes.md").write_text("Notes of the third.\n")
    assert tools.find_documents("invoice 2024").splitlines() == [
        "Found one document matching “invoice 2024”: invoice 2024.md.",
        "- invoice 2024.md",
    ]
    assert tools.find_documents("invoce 2024").splitlines()[0] == (  # a slip in a word
        "Found one document matching “invoce 2024”: invoice 2024.md."
    )
    assert tools.find_documents("meeting 3").splitlines() == [
        "Found 2 documents matching “meeting 3”; the best is meeting 3.md.",
        "- meeting 3.md",
        "- meeting 3 notes.md",
    ]
    assert tools.find_documents("invoice").splitlines()[0] == (
        "Found 3 documents matching “invoice”; the best is invoice 2023.md."
    )
    (root / "report2024-q1.md").write_text("Q1.\n")
    assert "report2024-q1.md" in tools.find_documents("2024 report")


def test_find_documents_takes_a_number_with_leading_zeros_as_the_same_number(
    tools: DocsTools,
) -> None:
    """Numbered files are often padded ("Chapter 03.docx", "invoice 007"), and a person
    says "chapter 3": taking the number as written, find_documents answered "No document
    names match", and the model told the person there was no such chapter. The same
    number with leading zeros is that number; "chapter 13" is still not "chapter 3"."""
    root = tools.ws.root
    for name in ("Chapter 03.md", "Chapter 13.md", "invoice 007.md", "invoice 070.md"):
        (root / name).write_text("Text.\n")
    assert tools.find_documents("chapter 3").splitlines() == [
        "Found one document matching “chapter 3”: Chapter 03.md.",
        "- Chapter 03.md",
    ]
    assert tools.find_documents("invoice 7").splitlines()[1:] == ["- invoice 007.md"]
    assert tools.find_documents("invoice 07").splitlines()[1:] == ["- invoice 007.md"]


def test_a_long_listing_stays_within_one_result_and_says_how_many_are_left(
    tools: DocsTools,
) -> None:
    """Two hundred documents with long names listed 30,000 characters, over twice what any
    other result may be: the context then clipped the list to fit, its last line ("…and
    100 more; narrow it down with a pattern") with it, so the model took the list for all
    there was. The listing is cut to MAX_RESULT_CHARS and its last line counts the rest."""
    from voicedesk.tools.docs_server import MAX_RESULT_CHARS

    folder = tools.ws.root / "Projects 2026" / "Client Acme Corporation" / "Meeting notes"
    folder.mkdir(parents=True)
    for n in range(300):
        (folder / f"{n:03d} weekly sync with the steering committee and the team.md").write_text(
            "Notes.\n"
        )
    listing = tools.list_documents()
    lines = listing.splitlines()
    assert len(listing) <= MAX_RESULT_CHARS
    assert lines[0] == "300 documents in the workspace."
    shown = len(lines) - 2
    assert lines[1].startswith("- Projects 2026/Client Acme Corporation/Meeting notes/000 weekly")
    assert lines[-1] == f"…and {300 - shown} more; narrow it down with a pattern."


def test_search_under_a_very_long_heading_stays_within_one_result(tools: DocsTools) -> None:
    """A whole pasted paragraph made a heading (2,900 characters) was repeated in full as
    the section of each of 25 hits: 73,000 characters, which the context clipped, the line
    saying there were more hits with it. The section is shown as outline shows a heading,
    and the result is cut to MAX_RESULT_CHARS, its last line counting the rest."""
    from voicedesk.tools.docs_server import MAX_HEADING_CHARS, MAX_RESULT_CHARS

    heading = " ".join(["This heading is really a whole pasted paragraph"] * 60)
    body = "\n\n".join(f"Budget line {n} is fine." for n in range(30))
    (tools.ws.root / "a.md").write_text(f"# {heading}\n\n{body}\n")
    found = tools.search("budget")
    lines = found.splitlines()
    assert len(found) <= MAX_RESULT_CHARS
    assert lines[0] == "Found “budget” in 30 places in 1 document."
    assert len(lines[1]) < MAX_HEADING_CHARS + 100
    assert lines[1].endswith("…”): Budget line 0 is fine.")
    assert lines[-1] == "…and 5 more; use a longer phrase."


def test_search_names_a_few_of_many_documents_it_could_not_read(tmp_path: Path) -> None:
    """Every document search could not read was named after the hits, however many: a
    folder of 2,000 exports too large to open added 90,000 characters to the answer."""
    from voicedesk.tools.docs_server import MAX_RESULT_CHARS
    from voicedesk.tools.workspace import Workspace

    root = tmp_path / "ws"
    (root / "exports").mkdir(parents=True)
    for n in range(2000):
        (root / "exports" / f"export {n:04d}.txt").write_text("budget " * 400)
    (root / "note.md").write_text("The budget.\n")
    tools = DocsTools(Workspace(root, tmp_path / "history"), max_mb=0.001)
    found = tools.search("budget")
    assert len(found) <= MAX_RESULT_CHARS
    assert found.splitlines()[-1] == (
        "(Could not read exports/export 0000.txt (too large to open), exports/export 0001.txt "
        "(too large to open), exports/export 0002.txt (too large to open) and 1,997 more; "
        "read_document says more.)"
    )


def test_a_long_comparison_is_cut_between_lines_saying_how_many_are_left(
    tools: DocsTools,
) -> None:
    """Comparing two versions of a long document with long paragraphs was cut at a fixed
    number of characters: mid-paragraph, mid-word, and with it the line counting the diff
    lines left out, so the model took the comparison for complete."""
    from voicedesk.tools.docs_server import MAX_RESULT_CHARS

    root = tools.ws.root
    old = [f"Paragraph {n} says the old thing" + " and more" * 60 for n in range(120)]
    new = [f"Paragraph {n} says the new thing" + " and more" * 60 for n in range(120)]
    (root / "v1.md").write_text("\n\n".join(old) + "\n")
    (root / "v2.md").write_text("\n\n".join(new) + "\n")
    said = tools.compare_documents("v1.md", "v2.md")
    lines = said.splitlines()
    assert lines[0] == "Compared v1.md with v2.md: 120 paragraphs changed."
    assert len(said) <= 2 * MAX_RESULT_CHARS
    assert all(line.endswith("and more") for line in lines[4:-1])  # whole paragraphs only
    shown = len(lines) - 2  # the summary and the last line
    left = 3 + 240 - shown  # the header's and the hunk's lines, and one per paragraph each way
    assert lines[-1] == f"… ({left} more diff lines)"


def test_a_full_path_inside_the_workspace_is_taken_as_its_name_there(
    tools: DocsTools, tmp_path: Path
) -> None:
    """A path typed or dropped into the conversation comes whole ("/home/me/Documents/
    plan.md"): inside the workspace, it was refused as "absolute; only paths inside the
    workspace are allowed", though it was inside. It is taken as the name it has there; a
    full path outside is still refused."""
    root = tools.ws.root
    (root / "notes").mkdir()
    (root / "notes" / "plan.md").write_text("# Plan\n\nShip it.\n")
    assert tools.read_document(str(root / "notes" / "plan.md")).splitlines()[0] == (
        "notes/plan.md: 2 paragraphs, 3 words."
    )
    said = tools.create_document(str(root / "notes" / "new.md"), "Hello.")
    assert said.startswith("Created notes/new.md: 1 paragraph")
    assert (root / "notes" / "new.md").read_text() == "Hello.\n"
    (tmp_path / "outside.md").write_text("Secret.\n")
    with pytest.raises(WorkspaceError, match="absolute or starts at a home folder"):
        tools.read_document(str(tmp_path / "outside.md"))
    with pytest.raises(WorkspaceError, match="absolute or starts at a home folder"):
        tools.read_document(str(root / "notes" / ".." / ".." / "outside.md"))


def test_a_name_with_another_extension_or_none_names_the_document_it_may_mean(
    tools: DocsTools,
) -> None:
    """ "Read me the budget" came as "budget" for a budget.docx: the answer was only
    "budget has no extension", and the model listed the whole workspace to look. The
    documents with that name and a document's extension are named now."""
    root = tools.ws.root
    (root / "notes").mkdir()
    (root / "notes" / "plan.md").write_text("# Plan\n")
    (root / "Budget.docx").write_bytes((root / "notes" / "plan.md").read_bytes())
    (root / "report.md").write_text("R.\n")
    (root / "report.txt").write_text("R.\n")
    (root / "photo.jpg").write_text("not a document")
    with pytest.raises(WorkspaceError) as info:
        tools.read_document("budget")
    assert str(info.value) == (
        "There is no document called budget; there is Budget.docx. Call the tool again "
        "with that name if it is the one meant."
    )
    with pytest.raises(WorkspaceError, match=r"; there is notes/plan\.md\. Call"):
        tools.outline("notes/plan")
    with pytest.raises(WorkspaceError, match=r"; there is report\.md and report\.txt\. Call"):
        tools.read_document("report")
    with pytest.raises(FormatError, match="has no extension; I can only work with"):
        tools.read_document("photo")  # not a document: nothing to suggest
    with pytest.raises(WorkspaceError, match=r"; there is Budget\.docx\. Call"):
        tools.edit_document("budget", "find_replace", find="a", replace_with="b")


def test_a_name_with_an_extension_no_document_has_names_the_document_it_may_mean(
    tools: DocsTools,
) -> None:
    """ "Read me the budget doc" came as "budget.doc" for a Budget.docx: the answer was
    "budget.doc has .doc; I can only work with documents ending in .docx, ...", and the
    model told the person it could not open that kind of file. A name whose extension no
    document has names the documents called so with a document's extension, as a name
    without one does; with none there, the kinds it can open are said as before."""
    root = tools.ws.root
    (root / "plan.md").write_text("# Plan\n")
    (root / "Budget.docx").write_bytes((root / "plan.md").read_bytes())
    with pytest.raises(WorkspaceError) as info:
        tools.read_document("budget.doc")
    assert str(info.value) == (
        "There is no document called budget.doc; there is Budget.docx. Call the tool again "
        "with that name if it is the one meant."
    )
    with pytest.raises(WorkspaceError, match=r"; there is plan\.md\. Call"):
        tools.outline("plan.rtf")
    with pytest.raises(FormatError, match=r"has \.doc; I can only work with"):
        tools.read_document("minutes.doc")  # nothing called so: nothing to suggest


def test_a_workspace_folder_that_is_gone_is_said_to_be_gone(tools: DocsTools) -> None:
    """The workspace folder deleted, moved or on a drive that was unplugged: the listing
    said "There are no documents in the workspace" (the model told the person their
    documents were gone), and create_document made the folder again and wrote there. Every
    tool now says the folder is not there, and nothing is created."""
    import shutil

    root = tools.ws.root
    (root / "a.md").write_text("# Hi\n")
    assert tools.list_documents().startswith("1 document")
    shutil.rmtree(root)
    calls = [
        lambda: tools.list_documents(),
        lambda: tools.search("hi"),
        lambda: tools.find_documents("a"),
        lambda: tools.read_document("a.md"),
        lambda: tools.create_document("b.md", "Hello."),
    ]
    for call in calls:
        with pytest.raises(WorkspaceError) as info:
            call()
        assert str(info.value) == (
            f"The workspace folder {root} is not there (deleted, moved, or on a drive that "
            f"is not connected), so I cannot use any document. Tell the person; once the "
            f"folder is back, ask again."
        )
    assert not root.exists()


def test_a_first_search_of_many_slow_documents_goes_on_where_it_left_off(
    tmp_path: Path,
) -> None:
    """A folder of PDFs (a 36-page one takes a second to read): the first search read every
    one before answering, past the 30 s the tool is given, so the person heard it had
    taken too long and been stopped, and the calls after it waited for it to end. Search
    now stops reading new documents once its time is spent, says how many it has not read
    yet, and the next search goes on from there (what it read is kept)."""
    from test_docs_server import make_pdf

    from voicedesk.tools.workspace import Workspace

    root = tmp_path / "ws"
    root.mkdir()
    for n in range(3):
        (root / f"paper {n}.pdf").write_bytes(make_pdf([f"Paper {n} is about budgets."]))
    (root / "a damaged one.pdf").write_bytes(b"%PDF-1.4 cut off")  # read once, not again
    tools = DocsTools(Workspace(root, tmp_path / "history"), search_budget_s=0.0)
    assert tools.search("budgets").splitlines()[0] == (
        "Found no “budgets” in the 1 of 4 documents I have read so far."
    )
    first = tools.search("budgets")  # reads one new document a search with no time at all
    assert first.splitlines() == [
        "Found “budgets” in 1 place in 1 document, in the 2 of 4 documents I have read so far.",
        "- paper 0.pdf, paragraph 1: Paper 0 is about budgets.",
        "(Could not read a damaged one.pdf (not readable as PDF); read_document says more.)",
        "(2 documents are still to be read for the first time, which takes long; search "
        "again to go on.)",
    ]
    assert tools.search("nothing like it").splitlines() == [
        "Found no “nothing like it” in the 3 of 4 documents I have read so far.",
        "(Could not read a damaged one.pdf (not readable as PDF); read_document says more.)",
        "(1 document is still to be read for the first time, which takes long; search "
        "again to go on.)",
    ]
    assert tools.search("budgets").splitlines()[0] == (
        "Found “budgets” in 3 places in 3 documents."
    )


def test_documents_are_listed_in_the_order_a_person_counts_them(tools: DocsTools) -> None:
    """ "note 10" came before "note 2", and "Zebra" before "apple": read out, a list of
    numbered notes jumped about, and the first ones shown were not the first ones."""
    root = tools.ws.root
    for name in ("note 10.md", "note 2.md", "note 1.md", "Zebra.md", "apple.md"):
        (root / name).write_text("x\n", encoding="utf-8")
    (root / "week 10").mkdir()
    (root / "week 9").mkdir()
    (root / "week 10" / "plan.md").write_text("x\n", encoding="utf-8")
    (root / "week 9" / "plan.md").write_text("x\n", encoding="utf-8")
    listed = [
        line[2:].split(" (")[0]
        for line in tools.list_documents().splitlines()
        if line.startswith("- ")
    ]
    assert listed == [
        "apple.md",
        "note 1.md",
        "note 2.md",
        "note 10.md",
        "Zebra.md",
        "week 9/plan.md",
        "week 10/plan.md",
    ]


def test_a_damaged_document_replaced_keeping_its_time_and_size_is_read_again(
    tmp_path: Path,
) -> None:
    """Search keeps why a document could not be read until the file changes, known by its
    time and size. A damaged Word file put right by a copy that keeps the time (``cp -p``,
    a sync or backup tool) and happens to have the same size was still "could not be
    read", search after search, and its text was never found. A file replaced or written
    since is read again, whatever its time says."""
    from voicedesk.tools.workspace import Workspace

    root = tmp_path / "ws"
    root.mkdir()
    good = tmp_path / "good.docx"
    document = docx.Document()
    document.add_paragraph("The budget is settled.")
    document.save(str(good))
    size = good.stat().st_size
    target = root / "budget.docx"
    target.write_bytes(b"PK\x03\x04" + b"\x00" * (size - 4))  # a damaged copy, same size
    tools = DocsTools(Workspace(root, tmp_path / "history"))
    assert "Could not read budget.docx" in tools.search("settled")
    when = target.stat().st_mtime_ns
    target.write_bytes(good.read_bytes())
    os.utime(target, ns=(when, when))
    assert target.stat().st_size == size and target.stat().st_mtime_ns == when
    assert tools.search("settled").splitlines()[:2] == [
        "Found “settled” in 1 place in 1 document.",
        "- budget.docx, paragraph 1: The budget is settled.",
    ]


def test_listing_by_the_full_path_of_the_workspace_or_a_folder_in_it(tmp_path: Path) -> None:
    """ "What is in /home/me/Documents/notes?": the documents tools take a full path to a
    document in the workspace as its name, but list_documents took one as a pattern and
    answered "There are no documents matching “/home/me/Documents/notes”", and the model
    told the person the folder was empty. The full path of the workspace lists it all, of
    a folder in it that folder, and a pattern after it matches there."""
    from voicedesk.tools.workspace import Workspace

    root = tmp_path / "ws"
    (root / "notes").mkdir(parents=True)
    (root / "notes" / "plan.md").write_text("P.\n")
    (root / "footnotes.md").write_text("F.\n")
    tools = DocsTools(Workspace(root, tmp_path / "history"))
    for pattern in (str(root), f"{root}/"):
        listed = tools.list_documents(pattern)
        assert listed.startswith("2 documents in the workspace."), listed
    listed = tools.list_documents(str(root / "notes"))
    assert listed.splitlines()[0] == "1 document matching “notes/”.", listed
    assert "- notes/plan.md" in listed
    listed = tools.list_documents(f"{root}/notes/*.md")
    assert listed.splitlines()[0] == "1 document matching “notes/*.md”.", listed
    outside = tools.list_documents(str(tmp_path / "other"))
    assert outside.startswith("There are no documents matching"), outside


def test_a_search_finding_nothing_reads_each_paragraph_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A search that finds nothing tries the phrase, then its words, then its letters with
    other separators: each pass normalised and folded every paragraph of every document
    again, and looked at each file twice, so a miss in 2,000 documents of 50 paragraphs
    took 1.6 s, two thirds of it doing again what was done. Each paragraph is made ready
    for searching once a search now."""
    from voicedesk.tools import formats
    from voicedesk.tools.workspace import Workspace

    root = tmp_path / "ws"
    root.mkdir()
    for n in range(5):
        (root / f"notes {n}.md").write_text("\n\n".join(f"Point {p} of {n}." for p in range(4)))
    tools = DocsTools(Workspace(root, tmp_path / "history"))
    folded: list[str] = []
    real = formats.fold_for_search

    def counted(text: str) -> str:
        folded.append(text)
        return real(text)

    monkeypatch.setattr(formats, "fold_for_search", counted)
    assert tools.search("zebra crossing") == "Found no “zebra crossing” in any document."
    assert len(folded) == 5 * 4 + 1  # each paragraph, and the query


def test_a_search_does_not_fold_unchanged_documents_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each search normalised and folded every paragraph of every document again, though
    the parses were kept: 0.4 s of each search of 400 documents (13 MB) went on doing what
    the last search had done. A document's folded paragraphs are kept with its parse now,
    and made again only for a document that changed."""
    from voicedesk.tools import formats
    from voicedesk.tools.workspace import Workspace

    root = tmp_path / "ws"
    root.mkdir()
    for n in range(5):
        (root / f"notes {n}.md").write_text("\n\n".join(f"Point {p} of {n}." for p in range(4)))
    tools = DocsTools(Workspace(root, tmp_path / "history"))
    assert tools.search("zebra crossing").startswith("Found no")
    folded: list[str] = []
    real = formats.fold_for_search

    def counted(text: str) -> str:
        folded.append(text)
        return real(text)

    monkeypatch.setattr(formats, "fold_for_search", counted)
    assert tools.search("zebra crossing") == "Found no “zebra crossing” in any document."
    assert folded == ["zebra crossing"]  # the query only
    # a document changed is made ready again, and found as it is now
    (root / "notes 3.md").write_text("A zebra\n\ncrossing, then a Zebra-Crossing.\n")
    folded.clear()
    found = tools.search("zebra crossing")
    assert len(folded) == 1 + 2
    assert found.splitlines()[1] == "- notes 3.md, paragraph 2: crossing, then a Zebra-Crossing."


def test_find_documents_takes_plurals_and_the_words_around_a_name(tools: DocsTools) -> None:
    """ "Open the invoices" found nothing for invoice-2024.pdf ("the" is in no name, so half
    the words missed), "the budget document" nothing for budget.docx, and "my notes" put
    meeting-note-march.md before note.md (both were near misses of "notes", tied, and sorted
    by name). Words are now compared by their stems, without the words said around a name."""
    root = tools.ws.root
    for name in ("invoice-2024.md", "note.md", "meeting-note-march.md", "budget.docx"):
        (root / name).write_bytes(formats.new_document("Text.", formats.kind_for(name)))
    (root / "Quarterly Reports.md").write_text("Text.\n")
    assert tools.find_documents("the invoices").splitlines()[1:] == ["- invoice-2024.md"]
    assert tools.find_documents("the budget document").splitlines()[1:] == ["- budget.docx"]
    assert tools.find_documents("my notes").splitlines()[1] == "- note.md"
    assert tools.find_documents("notes").splitlines()[1] == "- note.md"
    assert tools.find_documents("meeting notes").splitlines()[1] == "- meeting-note-march.md"
    assert tools.find_documents("quarterly report").splitlines()[1:] == ["- Quarterly Reports.md"]
    # a name made of such words is still found by them
    (root / "the file.md").write_text("Text.\n")
    assert tools.find_documents("the file").splitlines()[1] == "- the file.md"


@pytest.fixture
def case_blind(tools: DocsTools, monkeypatch: pytest.MonkeyPatch) -> DocsTools:
    """``tools`` on a disk that ignores case, as macOS's and Windows' do: this disk minds
    case, so its existence check is made to ignore case, as those disks' does."""
    root = tools.ws.root
    real_lexists = os.path.lexists

    def lexists_ignoring_case(path: str | os.PathLike[str]) -> bool:
        path = Path(path)
        if real_lexists(path) or not path.is_relative_to(root):
            return real_lexists(path)
        here = root
        for part in path.relative_to(root).parts:
            listed = {e.casefold(): e for e in os.listdir(here)} if here.is_dir() else {}
            if part.casefold() not in listed:
                return False
            here = here / listed[part.casefold()]
        return True

    monkeypatch.setattr(os.path, "lexists", lexists_ignoring_case)
    tools.ws.folds_case = True
    return tools


def test_a_name_in_other_capitals_on_a_disk_that_ignores_case_is_the_file_s_own(
    case_blind: DocsTools,
) -> None:
    """On macOS and Windows "notes.md" opens Notes.md, but the tools went on calling it
    notes.md: read as "Notes.md" and edited as "notes.md", the edit by number was refused
    ("I have not read notes.md"), its undo step was kept apart from Notes.md's, and a
    create_document of "notes.md" named a notes.md the person does not have.
    Any spelling now stands for the name as the folder lists it."""
    tools = case_blind
    root = tools.ws.root
    (root / "Plans").mkdir()
    (root / "Plans" / "Notes.md").write_text("# Notes\n\nFirst.\n")
    assert tools.read_document("plans/notes.md").splitlines()[0] == (
        "Plans/Notes.md: 2 paragraphs, 2 words."
    )
    done = tools.edit_document("PLANS/NOTES.md", "replace_paragraph", paragraph=2, text="One.")
    assert done.startswith("Replaced paragraph 2 of Plans/Notes.md.")
    assert tools.undo("Plans/Notes.md").startswith("Undid the last change to Plans/Notes.md")
    assert (root / "Plans" / "Notes.md").read_text() == "# Notes\n\nFirst.\n"
    with pytest.raises(WorkspaceError, match=r"^Plans/Notes\.md already exists"):
        tools.create_document("plans/notes.md", "New.")
    assert sorted(p.name for p in (root / "Plans").iterdir()) == ["Notes.md"]


def test_find_documents_puts_the_name_said_before_names_that_only_share_its_stems(
    tools: DocsTools,
) -> None:
    """With note.md and notes.md, "notes" named note.md the best match, "invoices" named
    Invoice.md beside Invoices.md, and "plan" named Plan A.md beside Plan.md: compared by
    their stems, without "a", the names tied, and the tie went by alphabetical order. A
    name whose words are the words said (or those left without "the", "my"...) now comes
    first."""
    root = tools.ws.root
    for name in ("note.md", "notes.md", "Invoice.md", "Invoices.md", "Plan.md", "Plan A.md"):
        (root / name).write_text("Text.\n")
    (root / "My Budget.md").write_text("Text.\n")
    (root / "Budget.md").write_text("Text.\n")

    def best(query: str) -> str:
        return tools.find_documents(query).splitlines()[1]

    assert best("notes") == "- notes.md"
    assert best("my notes") == "- notes.md"
    assert best("note") == "- note.md"
    assert best("invoices") == "- Invoices.md"
    assert best("the invoice") == "- Invoice.md"
    assert best("plan") == "- Plan.md"
    assert best("plan a") == "- Plan A.md"
    assert best("my budget") == "- My Budget.md"
    assert best("budget") == "- Budget.md"


def test_a_new_document_in_a_folder_named_in_other_capitals_takes_the_folder_s_name(
    case_blind: DocsTools,
) -> None:
    """On a disk that ignores case, create_document("plans/new.md") made Plans/new.md but
    called it plans/new.md, the name its undo step and its numbers shown were kept under,
    while list_documents and every later call name it Plans/new.md. Only a name that
    existed was spelt as its folder lists it; a new one now takes its folders' spelling."""
    tools = case_blind
    root = tools.ws.root
    (root / "Plans").mkdir()
    created = tools.create_document("plans/new.md", "# New\n\nFirst.")
    assert "Plans/new.md" in created and "plans/new.md" not in created, created
    assert sorted(p.name for p in root.iterdir()) == ["Plans"]
    assert tools.list_documents().splitlines()[1].startswith("- Plans/new.md (")
    done = tools.edit_document("Plans/new.md", "replace_paragraph", paragraph=2, text="One.")
    assert done.startswith("Replaced paragraph 2 of Plans/new.md."), done
    tools.undo("Plans/new.md")
    assert tools.undo("Plans/new.md").startswith("Undid Plans/new.md: it no longer exists")
    assert sorted(p.name for p in root.iterdir()) == ["Plans"]
    assert list((root / "Plans").iterdir()) == []
