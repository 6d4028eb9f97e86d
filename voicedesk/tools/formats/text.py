"""Text cleanup and search, the same for every format.

What is written is cleaned one way (:func:`clean_text`: NFC, ``\\n`` line ends, no control
characters), and search (:func:`find_all`) matches whatever the Unicode normalisation form
("café" finds a Mac's "cafe\\u0301") and reports spans of the original text, so replacing
them changes exactly what matched.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata

# Lone surrogates come from JSON escapes like "\\ud800" and no encoding can write them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """NFC, ``\\n`` line ends, no control characters (they are invalid in .docx XML)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", unicodedata.normalize("NFC", text))


# Typographic marks and the plain ones speech-to-text and models write for them, one character
# for one so that spans found in the folded text are spans of the original: Word writes
# "It’s", “best” and "2024–2025" with a no-break space here and there, where a request
# says "It's", "best" and "2024-2025".
_LOOKALIKES = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u00a0\u2007\u202f", " "),
    }
)


def fold_lookalikes(text: str) -> str:
    """``text`` with typographic quotes, dashes and no-break spaces as their plain forms."""
    return text.translate(_LOOKALIKES)


class _Unaccented(dict[int, str]):
    """A str.translate table of the lookalikes, filled with other characters as they come:
    a Latin letter with accents (NFC) to its plain letter, anything else to itself. Kana voicing marks and Hangul jamo are
    not accents: their base letter is no ASCII letter, so they stay."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        parts = unicodedata.normalize("NFD", ch)
        plain = parts[0] if len(parts) > 1 and parts[0].isascii() and parts[0].isalpha() else ch
        if not all(unicodedata.combining(c) for c in parts[1:]):
            plain = ch
        self[code] = plain
        return plain


_SEARCH_FOLD = _Unaccented(_LOOKALIKES)  # one pass over a long text, not two


def fold_for_search(text: str) -> str:
    """``text`` (NFC) as a search compares it: lookalikes plain (:func:`fold_lookalikes`),
    Latin letters without accents, then case folded. Speech to text and a spoken query lose
    accents ("resume", "Zoe") that the document has ("résumé", "Zoë"). One character for
    one, but for the few that case folding writes as more ("ß" as "ss", a PDF's "ﬁ" as
    "fi"): :func:`unfolded_span` finds a place in the folded text in ``text``."""
    return text.translate(_SEARCH_FOLD).casefold()


def unfolded_span(text: str, folded: str, start: int, end: int) -> tuple[int, int]:
    """The span of ``text`` that [start, end) of ``folded`` (:func:`fold_for_search` of
    it) was made from. Taken as the same place, a hit after many a "ß" was shown from
    further along the text than it was, and left out of its own snippet."""
    if len(folded) == len(text):
        return start, end
    # character i was folded into [ends[i - 1], ends[i]); none folds into nothing, so the
    # first ``end`` characters hold the span
    ends = list(itertools.accumulate(len(fold_for_search(ch)) for ch in text[:end]))
    return bisect.bisect_right(ends, start), min(len(text), bisect.bisect_left(ends, end) + 1)


def _cluster_starts(text: str) -> list[int]:
    """Offsets in ``text`` where Unicode normalisation cannot join a character to the one
    before it.

    Between two of them lies a letter with the accents that belong to it ("e" + U+0301, a
    Hangul syllable spelt as jamo): NFC and NFD spell only these pieces differently, so each
    can be normalised on its own and the pieces still line up with the original text.
    """
    starts = [0] if text else []
    for i in range(1, len(text)):
        ch = text[i]
        if ord(ch) >= 0x300:  # below U+0300 nothing combines or composes with what precedes it
            if unicodedata.combining(unicodedata.normalize("NFD", ch)[0]):
                continue  # an accent (or a letter that starts with one)
            piece = text[starts[-1] : i]
            joined = unicodedata.normalize("NFC", piece + ch)
            if len(joined) < len(unicodedata.normalize("NFC", piece)) + len(
                unicodedata.normalize("NFC", ch)
            ):
                continue  # composes with the letter before it (Hangul jamo)
        starts.append(i)
    return starts


def find_all(text: str, needle: str, *, ignore_case: bool = False) -> list[tuple[int, int]]:
    """Where ``needle`` occurs in ``text``, as [start, end) spans of ``text`` itself.

    Text written on a Mac often spells "café" with a combining accent ("cafe\\u0301") where
    the person's query has the single letter "é", or the other way round. Both are compared
    in NFC, a letter with its accents at a time, so the form does not matter, while "cafe"
    still does not match the start of "café". Curly quotes, dashes and no-break spaces match
    their plain forms (:func:`fold_lookalikes`). The spans are in the original text: replacing them changes exactly what matched and leaves
    the rest of the text as it was spelt.
    """
    needle = fold_lookalikes(unicodedata.normalize("NFC", needle))
    if not needle:
        return []
    pattern = re.compile(re.escape(needle), re.IGNORECASE if ignore_case else 0)
    if text.isascii():  # every character is a piece of its own, in NFC, with no lookalikes
        return [m.span() for m in pattern.finditer(text)]
    starts = _cluster_starts(text)
    origin: dict[int, int] = {}  # offset in the normalised text of each piece → in ``text``
    pieces: list[str] = []
    at = 0
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        origin[at] = start
        pieces.append(unicodedata.normalize("NFC", text[start:end]))
        at += len(pieces[-1])
    origin[at] = len(text)
    joined = fold_lookalikes("".join(pieces))
    spans: list[tuple[int, int]] = []
    at = 0
    while (m := pattern.search(joined, at)) is not None:
        if m.start() in origin and m.end() in origin:  # whole letters, accents included
            spans.append((origin[m.start()], origin[m.end()]))
            at = m.end()
        else:
            at = m.start() + 1
    return spans


def replace_all(
    text: str, needle: str, replacement: str, *, ignore_case: bool = False
) -> tuple[str, int]:
    """``text`` with every :func:`find_all` match of ``needle`` replaced, and how many there were."""
    spans = find_all(text, needle, ignore_case=ignore_case)
    out: list[str] = []
    last = 0
    for start, end in spans:
        out += [text[last:start], replacement]
        last = end
    out.append(text[last:])
    return "".join(out), len(spans)


# A list item's marker, as CommonMark has it: a bullet ("-", "*", "+") or up to nine digits
# and "." or ")". One pattern for every module that reads list items.
LIST_MARKER = r"(?:[-*+]|\d{1,9}[.)])"
# A list item's marker at the start of a line: "- ", "* ", "+ ", "1. ", "2) ".
_LIST_MARKER = re.compile(rf"^([ \t]*){LIST_MARKER}(?=[ \t])", re.MULTILINE)


def word_count(text: str) -> int:
    """Whitespace-separated words; the bars between table cells and list items' markers
    ("- ", "1. ", which Word draws and does not count) are not words."""
    return sum(1 for word in _LIST_MARKER.sub(r"\1", text).split() if word.strip("|"))
