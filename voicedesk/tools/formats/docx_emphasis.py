"""Markdown emphasis in text written to a Word document: bold and italic runs, not asterisks.

Models write "**Bold**" and "*italic*" in any text, and the tools take Markdown, so a Word
paragraph got the asterisks as characters. The marks are taken out of the block's text
(:func:`strip_emphasis`, so the paragraph reads back as written and its numbering holds)
and the words they wrapped are made bold or italic once the paragraph is written
(:func:`apply_emphasis`). Hand-written: python-docx sets formatting per run only, and a
Markdown parser would also turn the rest of the text (links, escapes) into something else.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from voicedesk.tools.formats.model import Block

# ***both***, **bold**, __bold__, *italic*, _italic_: not across white space at either end,
# and underscores only around whole words, so snake_case_names and 2*3*4 stay as they are.
# A mark escaped with a backslash ("5 \* 3") is Markdown's literal character, no mark.
_EMPHASIS = re.compile(
    r"(?<!\\)\*\*\*(?=\S)(?P<both>.+?)(?<=[^\s\\])\*\*\*"
    r"|(?<!\\)\*\*(?=\S)(?P<bold>.+?)(?<=[^\s\\])\*\*"
    r"|(?<![\w\\])__(?=\S)(?P<bold_>.+?)(?<=[^\s\\])__(?!\w)"
    r"|(?<![*\w\\])\*(?=[^\s*])(?P<italic>.+?)(?<=[^\s*\\])\*(?![*\w])"
    r"|(?<![\w\\])_(?=[^\s_])(?P<italic_>.+?)(?<=[^\s_\\])_(?!\w)"
)
_STYLE = {"both": ("bold", "italic"), "bold": ("bold",), "bold_": ("bold",)}


def strip_emphasis(block: Block) -> None:
    """Take ``block``'s emphasis marks out of its text, noting the spans they wrapped."""
    plain: list[str] = []
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    at = 0  # in the original text
    length = 0  # of the plain text so far
    for m in _EMPHASIS.finditer(block.text):
        kind = m.lastgroup or "italic"
        words = m.group(kind)
        plain.append(block.text[at : m.start()])
        length += m.start() - at
        spans.append((length, length + len(words), _STYLE.get(kind, ("italic",))))
        plain.append(words)
        length += len(words)
        at = m.end()
    if spans:
        plain.append(block.text[at:])
        block.text = "".join(plain)
        block.emphasis = spans


def _text_runs(p: Any) -> list[tuple[Any, int, int]]:
    from docx.oxml.ns import qn

    runs, pos = [], 0
    for run in p.xpath("w:r | w:hyperlink/w:r"):
        n = len("".join(t.text or "" for t in run.iter(qn("w:t"))))
        if n:
            runs.append((run, pos, pos + n))
        pos += n
    return runs


def _split(p: Any, at: int) -> None:
    """Make ``at`` a boundary between runs, where the run there holds plain text alone (one
    w:t); a run with tabs, breaks or fields in it is left whole."""
    from docx.oxml.ns import qn

    for run, start, end in _text_runs(p):
        if start < at < end:
            texts = [c for c in run if c.tag != qn("w:rPr")]
            if len(texts) != 1 or texts[0].tag != qn("w:t"):
                return
            tail = copy.deepcopy(run)
            whole = texts[0].text or ""
            texts[0].text = whole[: at - start]
            tail.find(qn("w:t")).text = whole[at - start :]
            for t in (texts[0], tail.find(qn("w:t"))):
                t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            run.addnext(tail)
            return


def apply_emphasis(paragraph: Any, block: Block) -> None:
    """Make the words ``block``'s emphasis marks wrapped bold or italic in ``paragraph``,
    its written form (a list item's paragraph holds its text without the marker)."""
    from docx.text.run import Run

    text = paragraph.text
    if not block.emphasis or not block.text.endswith(text):
        return
    offset = len(block.text) - len(text)
    for start, end, styles in block.emphasis:
        lo, hi = start - offset, end - offset
        if lo < 0 or hi > len(text):
            continue
        _split(paragraph._p, lo)
        _split(paragraph._p, hi)
        for run, s, e in _text_runs(paragraph._p):
            if lo <= s and e <= hi:
                for style in styles:
                    setattr(Run(run, paragraph), style, True)
