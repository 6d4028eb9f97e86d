"""Randomised edits of random documents, checked against a model of what each edit promised.

Text edits splice into the original file and Word edits change the original package in place,
so a slip there corrupts someone's document. These tests build random Markdown, plain-text and
.docx documents (odd layouts, line endings, encodings, tables), apply random sequences of every
edit the documents server offers through :class:`DocsTools` (what the MCP tools call), and
after every step check that:

* the file reads back as exactly the paragraphs the edit promised (a model of the list);
* the bytes before and after the edited region are unchanged, and every untouched original
  block is still there byte for byte;
* the encoding (BOM, UTF-16/32) and the line endings are kept;
* undo restores the exact bytes from before, and redo the exact bytes from after;
* a refusal changes nothing and is an explained FormatError, never a crash;
* in Word files, hyperlinks survive edits of other words, and one that goes with the words
  it was on, or with its whole paragraph, is named in the result; no link is left empty or
  pointing nowhere.

find_replace is checked against a reference that matches whole letters with their accents
in NFC, so "café" finds the generated "cafe\u0301" and the other way round.

The seed is fixed and the number of examples modest so CI stays fast; set
``VOICEDESK_FUZZ_EXAMPLES`` (and ``VOICEDESK_FUZZ_SEED``) to run many more locally.
"""

from __future__ import annotations

import io
import os
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.oxml.ns import qn
from docx.oxml.parser import OxmlElement
from test_docs_edits import add_field, add_link  # shared helpers of the documents tests

from voicedesk.tools import formats
from voicedesk.tools.docs_server import DocsTools
from voicedesk.tools.formats import FormatError
from voicedesk.tools.formats.markdown_lists import lines_with_items
from voicedesk.tools.workspace import Workspace

EXAMPLES = int(os.environ.get("VOICEDESK_FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("VOICEDESK_FUZZ_SEED", "20261201"))
STEPS = 8

WORDS = [
    "budget",
    "plan",
    "Köln",
    "naïve",
    "cafe\u0301",  # NFD: a combining accent
    "😀",
    "👩‍👩‍👧",
    "日本語",
    "x",
    "C#",
    "a*b*",
    "`code`",
    "[link](http://x)",
    "50%",
    "—",
]


def words(rng: random.Random, lo: int = 1, hi: int = 6) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def line(rng: random.Random) -> str:
    text = words(rng)
    if rng.random() < 0.05:
        text = " ".join(words(rng, 5, 10) for _ in range(60))  # a very long line
    if rng.random() < 0.15:
        text += rng.choice(["  ", "\t", " \t "])  # trailing whitespace
    if rng.random() < 0.1:
        text = rng.choice(["\t", "  "]) + text
    return text


def markdown_chunk(rng: random.Random) -> str:
    kind = rng.choice(
        ["atx", "atx", "para", "para", "setext", "list", "fence", "quote", "table", "html"]
    )
    if kind == "atx":
        level = rng.randint(1, 6)
        close = rng.choice(["", "", " " + "#" * rng.randint(1, 4), " #  "])
        return " " * rng.randint(0, 3) + "#" * level + " " + words(rng) + close
    if kind == "para":
        return "\n".join(line(rng) for _ in range(rng.randint(1, 3)))
    if kind == "setext":
        return words(rng) + "\n" + rng.choice(["===", "---", "======"])
    if kind == "list":
        items = []
        for _ in range(rng.randint(1, 4)):
            items.append(rng.choice(["- ", "* ", "1. "]) + words(rng))
            if rng.random() < 0.4:
                items.append("  " + rng.choice(["- ", "  - "]) + words(rng))
        return "\n".join(items)
    if kind == "fence":
        mark = rng.choice(["```", "~~~", "````"])
        body = [line(rng), "", rng.choice(["# not a heading", "  ", line(rng)]), ""]
        return "\n".join([mark + rng.choice(["", "python"]), *body[: rng.randint(1, 4)], mark])
    if kind == "quote":
        return "\n".join("> " + line(rng) for _ in range(rng.randint(1, 3)))
    if kind == "table":
        return "| a | b |\n|---|---|\n| " + words(rng, 1, 2) + " | " + words(rng, 1, 2) + " |"
    return "<div>\n<p>" + words(rng) + "</p>\n</div>"


def text_chunk(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return "# looks like a heading " + words(rng)
    if rng.random() < 0.05:
        return "\u00a0"  # a line of only a no-break space
    return "\n".join(line(rng) for _ in range(rng.randint(1, 3)))


def random_text_document(rng: random.Random, kind: formats.Kind) -> str:
    if rng.random() < 0.05:
        return ""
    chunks = [
        markdown_chunk(rng) if kind == "markdown" else text_chunk(rng)
        for _ in range(rng.randint(1, 9))
    ]
    if kind == "markdown" and rng.random() < 0.15:
        chunks.insert(0, "---\ntitle: " + words(rng) + "\n---")
    if kind == "markdown" and rng.random() < 0.05:
        chunks.append("```\nnever closed")
    text = rng.choice(["", "", "\n", "\n\n"])
    for i, chunk in enumerate(chunks):
        if i:
            text += rng.choice(["\n\n", "\n\n", "\n\n\n", "\n \n", "\n\t\n", "\n"])
        text += chunk
    return text + rng.choice(["", "\n", "\n", "\n\n", "\n  "])


def with_line_endings(rng: random.Random, text: str) -> str:
    style = rng.choice(["lf", "lf", "crlf", "crlf", "mixed", "cr"])
    if style == "crlf":
        return text.replace("\n", "\r\n")
    if style == "cr":
        return text.replace("\n", "\r")
    if style == "mixed":
        return "".join(rng.choice(["\n", "\r\n"]) if c == "\n" else c for c in text)
    return text


ENCODINGS = ["utf-8", "utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le", "cp1252"]
BOMS = {
    "utf-16-le": b"\xff\xfe",
    "utf-16-be": b"\xfe\xff",
    "utf-32-le": b"\xff\xfe\x00\x00",
}


def line_style(text: str) -> str:
    """What line endings ``text`` uses: lf, crlf, cr or mixed."""
    if "\r" not in text:
        return "lf"
    if "\n" not in text:
        return "cr"
    return (
        "crlf"
        if "\n" not in text.replace("\r\n", "") and "\r" not in text.replace("\r\n", "")
        else "mixed"
    )


def encode(text: str, encoding: str) -> bytes:
    if encoding in BOMS:
        return BOMS[encoding] + text.encode(encoding)
    return text.encode(encoding)


def edit_text(rng: random.Random, kind: formats.Kind) -> str:
    """Text a model might pass to replace/insert: one or more paragraphs, odd cases included."""
    choices = [
        lambda: words(rng),
        lambda: words(rng) + "\n" + words(rng),
        lambda: words(rng) + "\n\n" + words(rng),
        lambda: "# " + words(rng),
        lambda: "## " + words(rng) + "\n\n" + words(rng),
        lambda: "```\n" + words(rng) + "\n\n" + words(rng),  # a fence left open
        lambda: "```\n" + words(rng) + "\n```",
        lambda: "- " + words(rng) + "\n- " + words(rng),
        lambda: "1. " + words(rng) + "\n   - " + words(rng) + "\n2) " + words(rng),
        lambda: words(rng) + " #",
        lambda: "\n\n" + words(rng) + "\n\n",
        lambda: words(rng) + "\r\n" + words(rng),
    ]
    return rng.choice(choices)()


def replacement(rng: random.Random) -> str:
    return rng.choice(
        ["", "X", words(rng), "\n", "\n\n", "# ", "```", " #", "😀", "a\nb", "  ", "\u00e9"]
    )


@dataclass
class Step:
    description: str
    expected: list[tuple[str, int]] | None  # None: the edit may be refused
    touched: tuple[int, int]  # [lo, hi) of original blocks the edit may change
    may_refuse: bool = False


def blocks_of(data: bytes, kind: formats.Kind) -> list[tuple[str, int]]:
    return [(b.text, b.level) for b in formats.parse(data, kind).blocks]


def parsed(text: str, kind: formats.Kind) -> list[tuple[str, int]]:
    return [(b.text, b.level) for b in formats.text_to_blocks(text, kind)]


def line_list_joined(
    blocks: list[tuple[str, int]], at: int, new: list[tuple[str, int]], kind: formats.Kind
) -> list[tuple[str, int]] | None:
    """Short lines added after short lines (random words often are) go on as lines of that
    block, a list written one item a line without markers (:func:`lines_with_items`, whose
    own cases ``test_docs_server`` checks): the block they make instead of two."""
    if at == 0 or len(new) != 1 or new[0][1] or blocks[at - 1][1]:
        return None
    joined = lines_with_items(blocks[at - 1][0], new[0][0])
    settled = formats.settle(formats.Block(joined[0]), kind) if joined is not None else None
    if joined is None or [(b.text, b.level) for b in settled or []] != [(joined[0], 0)]:
        return None
    return [(joined[0], 0)]


def plan_step(
    rng: random.Random, kind: formats.Kind, blocks: list[tuple[str, int]]
) -> tuple[dict[str, Any], Step]:
    """Pick a random edit and say what the document must read as afterwards."""
    n = len(blocks)
    heads = [i for i, (_, level) in enumerate(blocks) if level]
    actions = ["insert_paragraph", "find_replace"]
    if n:
        actions += ["replace_paragraph", "delete_paragraph"]
    if heads:
        actions += ["replace_section", "delete_section", "rename_heading", "insert_section"]
    action = rng.choice(actions)
    if action == "replace_paragraph":
        i = rng.randrange(n)
        text = edit_text(rng, kind)
        new = parsed(text, kind)
        if blocks[i][1] and len(new) == 1 and not new[0][1] and "\n" not in new[0][0]:
            new = [(new[0][0], blocks[i][1])]
        args = {"action": action, "paragraph": i + 1, "text": text}
        return args, Step(f"{args}", blocks[:i] + new + blocks[i + 1 :], (i, i + 1))
    if action == "insert_paragraph":
        at = rng.randint(0, n)
        text = edit_text(rng, kind)
        args = {"action": action, "text": text}
        if at < n or rng.random() < 0.5:
            args["paragraph"] = at
        new = parsed(text, kind)
        joined = line_list_joined(blocks, at, new, kind)
        if joined is not None:
            return args, Step(f"{args}", blocks[: at - 1] + joined + blocks[at:], (at - 1, at))
        return args, Step(f"{args}", blocks[:at] + new + blocks[at:], (at, at))
    if action == "delete_paragraph":
        i = rng.randrange(n)
        args = {"action": action, "paragraph": i + 1}
        return args, Step(f"{args}", blocks[:i] + blocks[i + 1 :], (i, i + 1))
    doc_blocks = [formats.Block(t, lv) for t, lv in blocks]
    if action in ("replace_section", "delete_section", "rename_heading", "insert_section"):
        head = rng.choice(heads)
        name_ = blocks[head][0]
        try:
            found = formats.find_heading(doc_blocks, name_)
        except FormatError:
            found = None
        lo, hi = formats.section_range(doc_blocks, head)
        if action == "replace_section":
            text = edit_text(rng, kind)
            new = parsed(text, kind)
            if new and new[0][1] and formats.norm_heading(new[0][0]) == formats.norm_heading(name_):
                new = new[1:]
            args = {"action": action, "section": name_, "text": text}
            expected = blocks[: lo + 1] + new + blocks[hi:]
            touched = (lo, hi)
        elif action == "delete_section":
            args = {"action": action, "section": name_}
            expected = blocks[:lo] + blocks[hi:]
            touched = (lo, hi)
        elif action == "rename_heading":
            new_name = words(rng) + rng.choice(["", " #", "  ", " ##"])
            args = {"action": action, "section": name_, "text": new_name}
            clean = formats.clean_text(new_name).strip().lstrip("#").strip()
            if kind == "markdown":
                clean = re.sub(r"[ \t]+#+$", "", clean).strip()  # a closing sequence
            expected = [*blocks[:lo], (clean, blocks[lo][1]), *blocks[lo + 1 :]]
            touched = (lo, lo + 1)
        else:
            text = edit_text(rng, kind)
            args = {"action": "insert_paragraph", "section": name_, "text": text}
            new = parsed(text, kind)
            joined = line_list_joined(blocks, hi, new, kind)
            if joined is not None:
                expected = blocks[: hi - 1] + joined + blocks[hi:]
                touched = (hi - 1, hi)
            else:
                expected = blocks[:hi] + new + blocks[hi:]
                touched = (hi, hi)
        step = Step(f"{args}", expected if found == head else None, touched)
        step.may_refuse = found != head  # a heading that matches several sections is refused
        return args, step
    # find_replace: a piece of some block's text, or a word
    if n and rng.random() < 0.8:
        source = blocks[rng.randrange(n)][0]
        source = formats.clean_text(source)
        if source:
            a = rng.randrange(len(source))
            needle = source[a : a + rng.randint(1, 8)]
        else:
            needle = "budget"
    else:
        needle = rng.choice(WORDS)
    repl = replacement(rng)
    args = {"action": "find_replace", "find": needle, "replace_with": repl}
    needle_c = formats.clean_text(needle)
    repl_c = formats.clean_text(repl)
    expected = []
    lo = hi = None
    for i, (text, level) in enumerate(blocks):
        new_text, found = replaced(text, needle_c, repl_c) if needle_c else (text, 0)
        if found:
            text = trimmed(new_text, level, kind)
            lo = i if lo is None else lo
            hi = i + 1
        expected.append((text, level))
    if not needle_c:
        return args, Step(f"{args}", None, (0, 0), may_refuse=True)
    # A replacement may leave a paragraph empty, split it or turn it into a heading or code:
    # the server may refuse that; if it does not, the result must read back as promised.
    step = Step(f"{args}", expected, (lo or 0, hi or 0), may_refuse=True)
    return args, step


def replaced(text: str, needle: str, repl: str) -> tuple[str, int]:
    """What find_replace makes of ``text``: ``needle`` (NFC) replaced, left to right, wherever
    whole letters, each with its accents, read as it in NFC, typographic marks as plain ones.
    Brute force, for reference."""
    needle = formats.fold_lookalikes(needle)
    letters = re.findall(r".[\u0300-\u036f]*", text, re.DOTALL)  # WORDS' accent is U+0301
    out: list[str] = []
    found = k = 0
    while k < len(letters):
        end = None
        for m in range(k + 1, len(letters) + 1):
            piece = formats.fold_lookalikes(unicodedata.normalize("NFC", "".join(letters[k:m])))
            if piece == needle:
                end = m
                break
            if not needle.startswith(piece):
                break
        if end is None:
            out.append(letters[k])
            k += 1
        else:
            out.append(repl)
            found += 1
            k = end
    return "".join(out), found


def trimmed(text: str, level: int, kind: formats.Kind) -> str:
    """What a changed block's text reads back as: without blank lines around it (headings:
    without the spaces around them)."""
    if kind == "docx":
        return text
    if level and kind == "markdown":
        return text.strip()
    lines = text.split("\n")
    while lines and not lines[0].strip(" \t"):
        lines.pop(0)
    while lines and not lines[-1].strip(" \t"):
        lines.pop()
    return "\n".join(lines)


def check_encoding(before: bytes, after: bytes, encoding: str) -> None:
    """The BOM and encoding are kept, and the line endings where the file had one kind."""

    def decode(data: bytes) -> str:
        if encoding in BOMS:
            assert data.startswith(BOMS[encoding]), "the BOM was lost"
            return data[len(BOMS[encoding]) :].decode(encoding)
        if encoding == "utf-8-sig":
            assert data.startswith(b"\xef\xbb\xbf"), "the UTF-8 BOM was lost"
            return data.decode("utf-8-sig")
        assert not data.startswith(b"\xef\xbb\xbf"), "a BOM was added"
        try:
            return data.decode("utf-8")  # new text cp1252 cannot hold switches to UTF-8
        except UnicodeDecodeError:
            assert encoding == "cp1252"
            return data.decode("cp1252")

    if before in (b"", *BOMS.values(), b"\xef\xbb\xbf"):
        return  # an empty file has no line endings to keep
    old, new = decode(before), decode(after)
    style = line_style(old)
    if style == "crlf":
        assert "\n" not in new.replace("\r\n", ""), "a bare LF in a CRLF file"
    if style == "lf" and "\n" in old:
        assert "\r" not in new, "a CR in an LF file"
    if style == "cr":
        assert "\n" not in new, "an LF in a CR file"


def decoded(data: bytes, kind: formats.Kind) -> formats.Document:
    return formats.parse(data, kind)


def check_bytes_outside(
    old: bytes, new: bytes, kind: formats.Kind, touched: tuple[int, int]
) -> None:
    """Everything before the block before the edit, and after the block after it, is kept."""
    a, b = decoded(old, kind), decoded(new, kind)
    assert a.text is not None and b.text is not None
    spans = a.spans
    if not spans:
        return
    lo, hi = touched
    start = spans[lo - 1].end if lo > 0 else 0
    end = spans[hi].start if hi < len(spans) else len(a.text)
    if lo > 0:
        assert b.text.startswith(a.text[:start]), "bytes before the edit changed"
    if hi < len(spans):
        assert b.text.endswith(a.text[end:]), "bytes after the edit changed"
    # Every untouched block is still there, byte for byte, in order.
    pos = 0
    for k, span in enumerate(spans):
        if lo <= k < hi:
            continue
        found = b.text.find(a.text[span.start : span.end], pos)
        assert found >= 0, f"original block {k + 1} was changed"
        pos = found + span.end - span.start


def run_text_example(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    kind: formats.Kind = rng.choice(["markdown", "markdown", "text"])
    text = random_text_document(rng, kind)
    text = with_line_endings(rng, text)
    encoding = rng.choice(ENCODINGS)
    try:
        data = encode(text, encoding)
    except UnicodeEncodeError:
        encoding = "utf-8"
        data = encode(text, encoding)
    style = line_style(text)
    root = tmp_path / f"ws{seed}"
    root.mkdir()
    name = "doc.md" if kind == "markdown" else "doc.txt"
    path = root / name
    path.write_bytes(data)
    tools = DocsTools(Workspace(root, tmp_path / f"history{seed}"))
    history: list[bytes] = [data]
    for step_no in range(STEPS):
        tools.read_document(name)  # what the model would do first
        blocks = blocks_of(data, kind)
        if rng.random() < 0.15 and len(history) > 1:
            tools.undo(name)
            assert path.read_bytes() == history[-2], f"seed {seed}: undo did not restore"
            tools.redo(name)
            assert path.read_bytes() == history[-1], f"seed {seed}: redo did not restore"
            continue
        args, step = plan_step(rng, kind, blocks)
        where = f"seed {seed} step {step_no} ({kind}, {encoding}, {style}): {step.description}"
        try:
            out = tools.edit_document(name, **args)
            if out.startswith("Not done yet"):
                out = tools.edit_document(name, **args, confirmed=True)
        except FormatError as exc:
            assert path.read_bytes() == data, f"{where}: refused but changed the file"
            message = str(exc)
            open_fence = kind == "markdown" and formats.open_fence(formats.parse(data, kind).text)
            assert (
                step.may_refuse
                or "needs text" in message
                or (open_fence and "never closed" in message)
            ), f"{where}: refused: {exc}"
            assert "would not read back" not in message, f"{where}: safety net: {exc}"
            continue
        after = path.read_bytes()
        if after == data:
            continue
        got = blocks_of(after, kind)
        # The edit read back only the part it rewrote (formats._parse_spliced), and the
        # next edit opens from that parse: it must be the whole file's.
        kept = tools._opened[path.resolve()][1]
        assert kept == formats.parse(after, kind), f"{where}: the parse kept is not the file's"
        if step.expected is not None:
            expected = step.expected
            if kind == "text":
                expected = [(t, 0) for t, _ in expected]
            assert got == expected, f"{where}\nwas {data!r}\nnow {after!r}"
        try:
            check_encoding(data, after, encoding)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}\nwas {data!r}\nnow {after!r}") from None
        if step.expected is not None:
            check_bytes_outside(data, after, kind, step.touched)
        tools.undo(name)
        assert path.read_bytes() == data, f"{where}: undo did not restore the bytes"
        tools.redo(name)
        assert path.read_bytes() == after, f"{where}: redo did not restore the bytes"
        history.append(after)
        data = after


@pytest.mark.parametrize("chunk", range(4))
def test_random_edits_of_text_documents(tmp_path: Path, chunk: int) -> None:
    per = max(1, EXAMPLES // 4)
    for seed in range(SEED + chunk * per, SEED + (chunk + 1) * per):
        run_text_example(tmp_path, seed)


# ---------------------------------------------------------------------------- docx


def add_linked_words(rng: random.Random, paragraph: Any, n: int) -> None:
    """Words, a link on some more words (to the web or to a bookmark, or a HYPERLINK field),
    and maybe words after."""
    if rng.random() < 0.7:
        paragraph.add_run(words(rng, 1, 3) + rng.choice([" ", ""]))
    kind = rng.random()
    if kind < 0.6:
        add_link(paragraph, words(rng, 1, 3), url=f"https://example.com/{n}")
    elif kind < 0.8:
        add_field(paragraph, f'HYPERLINK "https://example.org/{n}"', words(rng, 1, 3))
    else:
        add_link(paragraph, words(rng, 1, 2), anchor=f"_mark{n}")
        start = OxmlElement("w:bookmarkStart")  # what the link leads to
        start.set(qn("w:id"), str(n))
        start.set(qn("w:name"), f"_mark{n}")
        end = OxmlElement("w:bookmarkEnd")
        end.set(qn("w:id"), str(n))
        paragraph._p.insert(1, start)
        paragraph._p.append(end)
    if rng.random() < 0.6:
        paragraph.add_run(rng.choice([" ", ", ", ""]) + words(rng, 1, 3)).bold = rng.random() < 0.3


def links_of(data: bytes) -> Counter[str]:
    """Each link's target (a URL, or '#bookmark'), checking none is empty or dangling."""
    d = docx.Document(io.BytesIO(data))
    found: Counter[str] = Counter()
    for p in d.element.body.iter(qn("w:p")):
        field: list[str] | None = None  # [code, shown text] while in a field
        showing = False
        for node in p.iter(qn("w:fldChar"), qn("w:instrText"), qn("w:t")):
            kind = node.get(qn("w:fldCharType"))
            if kind == "begin":
                field, showing = ["", ""], False
            elif kind == "separate":
                showing = True
            elif kind == "end":
                assert field is not None and field[1], "a field showing no text was left behind"
                found[field[0].split('"')[1]] += 1
                field = None
            elif field is not None:
                field[1 if showing else 0] += node.text or ""
    for link in d.element.body.iter(qn("w:hyperlink")):
        assert "".join(link.itertext()), "a hyperlink with no text was left behind"
        rid, anchor = link.get(qn("r:id")), link.get(qn("w:anchor"))
        if rid is not None:
            rel = d.part.rels.get(rid)
            assert rel is not None and rel.is_external, f"hyperlink {rid} leads nowhere"
            found[rel.target_ref] += 1
        else:
            found["#" + anchor] += 1
    return found


def random_docx(rng: random.Random) -> bytes:
    d = docx.Document()
    for n in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.2:
            heading = d.add_heading(words(rng), level=rng.randint(1, 3))
            if rng.random() < 0.2:
                add_linked_words(rng, heading, n)
        elif r < 0.35:
            add_linked_words(rng, d.add_paragraph(), n)
        elif r < 0.45:
            rows, cols = rng.randint(1, 3), rng.randint(1, 3)
            table = d.add_table(rows=rows, cols=cols)
            for row in range(rows):
                for col in range(cols):
                    if rng.random() < 0.8:
                        table.cell(row, col).text = words(rng, 1, 2)
        elif r < 0.55:
            d.add_paragraph("")  # a spacer
        elif r < 0.65:  # a Word list: read as "- item" / "1. item"
            style = rng.choice(["List Bullet", "List Number", "List Bullet 2", "List Number 2"])
            for _ in range(rng.randint(1, 3)):
                d.add_paragraph(words(rng), style=style)
        else:
            p = d.add_paragraph(words(rng))
            if rng.random() < 0.5:
                p.add_run(" " + words(rng)).bold = True
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def docx_state(data: bytes) -> tuple[list[tuple[str, int, int | None]], list[list[list[str]]]]:
    blocks = formats.parse(data, "docx").blocks
    d = docx.Document(io.BytesIO(data))
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in d.tables]
    return [(b.text, b.level, b.table) for b in blocks], tables


def run_docx_example(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / f"wsd{seed}"
    root.mkdir()
    path = root / "doc.docx"
    data = random_docx(rng)
    path.write_bytes(data)
    tools = DocsTools(Workspace(root, tmp_path / f"historyd{seed}"))
    links = links_of(data)
    for step_no in range(STEPS):
        tools.read_document("doc.docx")
        state, tables = docx_state(data)
        blocks = [(t, lv) for t, lv, _ in state]
        rows = {i for i, (_, _, tb) in enumerate(state) if tb is not None}
        args, step = plan_step(rng, "docx", blocks)
        where = f"seed {seed} step {step_no} (docx): {step.description}"
        try:
            out = tools.edit_document("doc.docx", **args)
            if out.startswith("Not done yet"):
                out = tools.edit_document("doc.docx", **args, confirmed=True)
        except FormatError as exc:
            assert path.read_bytes() == data, f"{where}: refused but changed the file"
            message = str(exc)
            assert step.may_refuse or "table" in message or "needs text" in message, (
                f"{where}: refused: {exc}"
            )
            assert "would not read back" not in message, f"{where}: safety net: {exc}"
            continue
        after = path.read_bytes()
        if after == data:
            continue
        new_state, new_tables = docx_state(after)
        got = [(t, lv) for t, lv, _ in new_state]
        if step.expected is not None:
            # Rows read-only: find_replace leaves them alone.
            expected = step.expected
            if args["action"] == "find_replace":
                expected = [blocks[i] if i in rows else e for i, e in enumerate(expected)]
            # Word numbers list items itself: an item inserted into a numbered list reads as
            # the next number whatever was typed, and renumbers the items after it.
            expected = [(formats.unnumbered(t), lv) for t, lv in expected]
            numbered = [(formats.unnumbered(t), lv) for t, lv in got]
            assert numbered == expected, f"{where}\nwas {state}\nnow {new_state}"
        # Tables survive unless their section went; the ones left are unchanged and in order.
        old_rows = [(t, tb) for t, _, tb in state if tb is not None]
        kept_rows = [t for t, _, tb in new_state if tb is not None]
        if len(new_tables) == len(tables):
            assert new_tables == tables, f"{where}: a table changed"
            assert kept_rows == [t for t, _ in old_rows], f"{where}: rows changed"
        else:
            assert args["action"] in ("delete_section", "replace_section"), where
            it = iter(tables)
            assert all(any(t == o for o in it) for t in new_tables), f"{where}: tables changed"
        # No link goes silently, with its words or with its whole paragraph: the result
        # says which went.
        new_links = links_of(after)
        lost = links - new_links
        assert not new_links - links, f"{where}: links appeared\n{out}"
        gone = [line for line in out.splitlines() if "is gone" in line]
        with_paragraphs = [line for line in out.splitlines() if line.startswith("Gone with")]
        for target in lost.elements():
            assert any(target.lstrip("#") in line for line in gone + with_paragraphs), (
                f"{where}: the link to {target} went silently\n{out}"
            )
        for line in gone:
            assert any(target.lstrip("#") in line for target in lost), f"{where}: {line}"
        if not lost:
            assert not any("the link on" in line for line in with_paragraphs), f"{where}: {out}"
        if rng.random() < 0.3:  # Word files are slow to parse; undo is byte-level anyway
            tools.undo("doc.docx")
            assert path.read_bytes() == data, f"{where}: undo did not restore the bytes"
            tools.redo("doc.docx")
            assert path.read_bytes() == after, f"{where}: redo did not restore the bytes"
        data, links = after, new_links


def test_random_edits_of_word_documents(tmp_path: Path) -> None:
    for seed in range(SEED, SEED + max(1, EXAMPLES // 10)):  # each takes about a second
        run_docx_example(tmp_path, seed)
