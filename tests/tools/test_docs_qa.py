"""Problems found by trying every documents tool the way a model would on someone's behalf.

Each test calls :class:`DocsTools` (what the MCP tools call) on real files, or starts the real
command, and failed before its fix.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pypdf import PdfWriter

import voicedesk
from voicedesk.tools.docs_diff import describe_changes, diff_opcodes
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.formats import FormatError


def long_markdown(sections: int) -> str:
    parts = []
    for s in range(sections):
        parts.append(f"## Part {s}\n\nThe budget of part {s}.\n\n")
        parts += [f"Filler paragraph {s}.{k} about nothing much.\n\n" for k in range(9)]
    return "".join(parts)


def test_undo_and_compare_of_a_change_spread_over_a_long_document_are_quick(
    tools: DocsTools,
) -> None:
    # difflib's SequenceMatcher is quadratic when changes are spread out: describing this
    # undo took minutes, long after the person gave up waiting.
    (tools.ws.root / "long.md").write_text(long_markdown(3_000), encoding="utf-8")
    tools.read_document("long.md")
    assert "3000 occurrences" in tools.edit_document(
        "long.md", "find_replace", find="budget", replace_with="money"
    )
    start = time.monotonic()
    compared = tools.compare_documents("long.md")
    undone = tools.undo("long.md")
    assert time.monotonic() - start < 10
    assert compared.startswith("Compared long.md (1 edit ago) with long.md (now): 3000 paragraphs")
    assert compared.splitlines()[-1].endswith("more diff lines)")
    assert undone.startswith("Undid the last change to long.md: 3000 paragraphs changed.")


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
        (root, "it is the workspace folder or holds it"),
        (tmp_path, "it is the workspace folder or holds it"),
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
    assert "(Could not read scan.pdf.)" in tools.search("anything")


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
