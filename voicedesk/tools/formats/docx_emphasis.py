"""Markdown emphasis in text written to a Word document: bold and italic runs, not asterisks.

Models write "**Bold**" and "*italic*" in any text, and the tools take Markdown, so a Word
paragraph got the asterisks as characters. The marks are taken out of the block's text
(:func:`strip_emphasis`, so the paragraph reads back as written and its numbering holds)
and the words they wrapped are made bold or italic once the paragraph is written
(:func:`apply_emphasis`). The marks are found by markdown-it's CommonMark emphasis rules
alone, so nested emphasis ("**bold and *italic* inside**") is bold with an italic word in it,
not bold around literal asterisks as a pattern per mark made it; everything else (links,
HTML, a backslash before a mark) is kept as written.
"""

from __future__ import annotations

import copy
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from voicedesk.tools.formats.model import Block

# Emphasis and backslash escapes only: a backslash makes the mark after it ("\*") no mark,
# and both stay as written. text_join is off so an escape keeps its token and its markup.
_PARSER = MarkdownIt("zero").enable(["emphasis", "escape"]).disable("text_join")
_OPEN = {"em_open": "italic", "strong_open": "bold"}
_CLOSE = {"em_close": "italic", "strong_close": "bold"}


def strip_emphasis(block: Block) -> None:
    """Take ``block``'s emphasis marks out of its text, noting the spans they wrapped."""
    tokens = _PARSER.parseInline(block.text)[0].children or []
    pieces = _literal_in_words(tokens)
    plain: list[str] = []
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    styles: list[str] = []
    length = 0
    for kind, value in pieces:
        if kind == "open":
            styles.append(value)
        elif kind == "close":
            styles.remove(value)
        elif value:
            now = tuple(sorted(set(styles)))
            if now and spans and spans[-1][1] == length and spans[-1][2] == now:
                spans[-1] = (spans[-1][0], length + len(value), now)
            elif now:
                spans.append((length, length + len(value), now))
            plain.append(value)
            length += len(value)
    if spans or any(kind != "text" for kind, _ in pieces):
        block.text = "".join(plain)
        block.emphasis = spans


def _literal_in_words(tokens: list[Token]) -> list[tuple[str, str]]:
    """The tokens as ("text", its source) and ("open"/"close", a style); a single ``*``
    pair between letters or digits ("2*3*4") is kept as text: a product, not an italic
    digit, though CommonMark allows emphasis inside a word."""
    pieces: list[tuple[str, str]] = []
    opened: list[int] = []
    for at, token in enumerate(tokens):
        if token.type in _OPEN:
            opened.append(len(pieces))
            pieces.append(("open", _OPEN[token.type]))
            continue
        if token.type in _CLOSE:
            start = opened.pop()
            before = "".join(v for k, v in pieces[:start] if k == "text")[-1:]
            after = _next_text(tokens[at + 1 :])
            if token.markup == "*" and before.isalnum() and after.isalnum():
                pieces[start] = ("text", "*")
                pieces.append(("text", "*"))
            else:
                pieces.append(("close", _CLOSE[token.type]))
            continue
        pieces.append(("text", token.markup if token.type == "text_special" else token.content))
    return pieces


def _next_text(tokens: list[Token]) -> str:
    """The first character of the text ``tokens`` start with (after closing marks)."""
    for later in tokens:
        text = later.markup if later.type == "text_special" else later.content
        if later.type in ("text", "text_special") and text:
            return text[0]
        if later.type not in _CLOSE:
            return ""
    return ""


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
