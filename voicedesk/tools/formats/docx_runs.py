"""Changing a .docx paragraph's words in the runs that held them.

The smallest word-level changes from the old text to the new, the run each change's new text
goes into, and the splice into a run that leaves everything else in it (a picture, a field,
a comment mark) where it is. This is why the words an edit did not change keep their
formatting, links and bookmarks.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from voicedesk.tools.formats.docx_read import RUN_TEXT

# Words and punctuation, each with the spaces after it: spaces alone would anchor a diff of
# two unrelated sentences everywhere.
_TOKEN = re.compile(r"\s+|(?:\w+|[^\w\s])\s*")


@dataclass(frozen=True)
class Change:
    """``old[start:end]`` becomes ``new``."""

    start: int
    end: int
    new: str


def text_changes(old: str, new: str) -> list[Change]:
    """What turns ``old`` into ``new``, left to right, each change as small as it can be.

    Words that stay the same anchor a word-level diff, so text outside the changes keeps its
    runs; changed words are taken one by one when there are as many on both sides ("our site"
    → "the portal"), and each change shrinks to the characters that differ ("2023" → "2024"
    changes the "3").
    """
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    a_at = list(itertools.accumulate(map(len, a), initial=0))
    b_at = list(itertools.accumulate(map(len, b), initial=0))
    changes: list[Change] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        pairs = [(i1, i2, j1, j2)]
        if tag == "replace" and i2 - i1 == j2 - j1:
            pairs = [
                (i, i + 1, j, j + 1) for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
        for k1, k2, m1, m2 in pairs:
            start, end = a_at[k1], a_at[k2]
            was, now = old[start:end], new[b_at[m1] : b_at[m2]]
            if was == now:
                continue
            pre = 0
            while pre < min(len(was), len(now)) and was[pre] == now[pre]:
                pre += 1
            suf = 0
            while suf < min(len(was), len(now)) - pre and was[-1 - suf] == now[-1 - suf]:
                suf += 1
            changes.append(Change(start + pre, end - suf, now[pre : len(now) - suf]))
    return changes


def _in_link(run: Any) -> bool:
    from docx.oxml.ns import qn

    return run.getparent().tag == qn("w:hyperlink")


def _wordy(ch: str) -> bool:
    """A letter, digit or accent: text that joins the word beside it."""
    return ch == "_" or unicodedata.category(ch)[0] in "LMN"


def host_run(runs: list[tuple[Any, int, int]], change: Change, old: str) -> tuple[Any, int]:
    """The run a change's new text goes into, and where in that run's text.

    Replaced text hands its place to the new text, in the run where it started; but when it
    runs out of the link it started in, which of the new words should carry the link is
    anyone's guess, so they go outside it. Text inserted between two runs continues the run
    before it, as typing does; between a link and other text it goes with the word it
    extends ("site" → "sites" or "website" inside the link), and anything else (a new word,
    a comma) goes outside the link.
    """
    a, b = change.start, change.end
    if a < b:
        over = [(r, s, e) for r, s, e in runs if s < b and e > a]
        run, start, _ = over[0]
        parent = run.getparent()
        if not _in_link(run) or all(r.getparent() is parent for r, _, _ in over):
            return run, a - start
        for r, s, _ in over:
            if not _in_link(r):
                return r, max(a, s) - s
        before = next(((r, e - s) for r, s, e in runs if e == a and not _in_link(r)), None)
        after = next(((r, 0) for r, s, _ in runs if s == b and not _in_link(r)), None)
        return before or after or (run, a - start)
    inside = next(((r, a - s) for r, s, e in runs if s < a < e), None)
    if inside is not None:
        return inside
    before = next(((r, e - s) for r, s, e in reversed(runs) if e == a), None)
    after = next(((r, 0) for r, s, _ in runs if s == a), None)
    if before is None or after is None:
        found = before or after
        assert found is not None  # the paragraph has text, so some run ends or starts here
        return found
    extends_before = _wordy(old[a - 1]) and _wordy(change.new[0])
    extends_after = _wordy(old[a]) and _wordy(change.new[-1])
    if before[0].getparent() is after[0].getparent() or extends_before:
        return before
    if extends_after or (_in_link(before[0]) and not _in_link(after[0])):
        return after
    return before


def _preserve(t: Any) -> None:
    """Keep a w:t's spaces at its ends: XML readers drop them without xml:space."""
    from docx.oxml.ns import qn

    text = t.text or ""
    if text != text.strip():
        t.set(qn("xml:space"), "preserve")


def _run_content(text: str) -> list[Any]:
    """Run elements for ``text``: w:t, with w:tab for tabs and w:br for line breaks."""
    from docx.oxml.parser import OxmlElement

    out = []
    for part in re.split(r"([\t\n\r])", text):
        if part == "\t":
            out.append(OxmlElement("w:tab"))
        elif part in ("\n", "\r"):
            out.append(OxmlElement("w:br"))
        elif part:
            t = OxmlElement("w:t")
            t.text = part
            _preserve(t)
            out.append(t)
    return out


def splice_run(run: Any, a: int, b: int, new: str) -> None:
    """Replace ``run``'s text [a, b) by ``new``, keeping everything else the run holds.

    Setting python-docx's ``Run.text`` empties the whole run: a picture, a field code or a
    comment mark in it would go with the old text. Here only the text elements that held
    the replaced text go (a w:t cut at ``a`` or ``b`` is split first), and the new text takes
    their place.
    """
    from docx.oxml.ns import qn

    text_tags = {qn(tag) for tag in RUN_TEXT}

    def pieces() -> list[tuple[Any, int, int]]:
        out, pos = [], 0
        for child in run:
            n = len(str(child)) if child.tag in text_tags else 0
            out.append((child, pos, pos + n))
            pos += n
        return out

    for cut in (a, b):
        for child, s, e in pieces():
            if s < cut < e:  # only a w:t holds more than one character
                rest = copy.deepcopy(child)
                child.text, rest.text = child.text[: cut - s], child.text[cut - s :]
                _preserve(child)
                _preserve(rest)
                child.addnext(rest)
                break
    current = [(child, s, e) for child, s, e in pieces() if s < e]
    gone = [child for child, s, e in current if a <= s and e <= b]
    content = _run_content(new)
    if gone:
        for element in content:
            gone[0].addprevious(element)
    else:
        before = [child for child, _, e in current if e <= a]
        after = [child for child, s, _ in current if s >= a]
        if before:
            at = before[-1]
            for element in content:
                at.addnext(element)
                at = element
        elif after:
            for element in content:
                after[0].addprevious(element)
        else:
            run.extend(content)
    for child in gone:
        run.remove(child)
    previous = None
    for child in list(run):  # one w:t where the edit left two side by side
        if child.tag == qn("w:t") and previous is not None and previous.tag == qn("w:t"):
            previous.text = (previous.text or "") + (child.text or "")
            _preserve(previous)
            run.remove(child)
        else:
            previous = child
