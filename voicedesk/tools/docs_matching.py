"""How the documents tools match what was said with what is written: a document's name
said with words around it ("my budget document"), words cut to their stems, and a phrase
written with other hyphens, points, blanks or accents than the query's ("e-mail", "résumé").

Written here rather than taken from a library: the rules are about how speech to text
writes what a person says, against how documents spell it, and no fuzzy-matching library
keeps matches to whole words while allowing exactly these joiners.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

import snowballstemmer

from voicedesk.tools import formats
from voicedesk.tools.formats import Block

# what a transcript or the model puts around a query's words, not part of them
AROUND_WORDS = ".,;:?!\"'()[]“”‘’«»¿¡"


# Words said around a document's name, not part of it: "the invoices", "my budget document".
_NOT_NAME_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "my",
        "our",
        "your",
        "his",
        "her",
        "their",
        "this",
        "that",
        "these",
        "those",
        "doc",
        "docs",
        "document",
        "documents",
        "file",
        "files",
    ]
)


_ENGLISH_STEMMER = snowballstemmer.stemmer("english")


def name_words(words: list[str]) -> list[str]:
    """``words`` (casefolded) without the words said around a name, unless nothing else is
    left ("the file.md" is called "the file")."""
    return [w for w in words if w not in _NOT_NAME_WORDS] or words


def name_stems(words: list[str]) -> list[str]:
    """``words`` (casefolded) as find_documents compares them: the words said around a name
    left out (unless nothing else is left), each cut to its stem, so that "the invoices"
    finds invoice-2024.pdf and "notes" finds note.md before meeting-note-march.md."""
    return [_stem(w) for w in name_words(words)]


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """``word``'s stem. Kept: the words of a folder's names repeat, and the stemmer is pure
    Python; a search of 5,000 names took 2 s stemming each word of each name again."""
    return word if word.isdigit() else _ENGLISH_STEMMER.stemWord(word)


# What may stand between the letters of one phrase, written one way or another: blanks,
# hyphens and dashes, points, commas, apostrophes, slashes and underscores.
_JOINERS = " \u2010\u2011\u2012\u2013\u2014.,'\u2019\u00b7/_-"
# The marks among them that may stand inside one word ("e-mail", "p.m."): not a blank.
_MARKS = f"[{re.escape(_JOINERS.replace(' ', ''))}]*"
# Between two digits the query wrote together, only a thousands mark ("1,200", "1 200").
_THOUSANDS = r"(?:[ ,.'\u2019](?=\d{3}(?!\d)))?"


def joined_pattern(words: list[str]) -> re.Pattern[str] | None:
    """A pattern finding ``words`` (folded) with other joiners, or none, between their
    letters, as whole words only: "hem" is no match in "the many", which without its
    blanks reads "themany". A blank in the text stands only where the query had a
    joiner, or between a number and letters ("5pm", "5 p.m."): a word split at a blank
    is other words ("therapist" is not "the rapist", "together" not "to get her"). Two
    digits the query wrote together stand across a thousands mark only ("1200" is
    "1,200", not "12.00"). None when nothing but joiners was asked for."""
    letters: list[tuple[str, bool]] = []  # each letter, and whether a joiner came before it
    apart = False
    for c in " ".join(words):
        if c in _JOINERS:
            apart = bool(letters)
            continue
        letters.append((c, apart))
        apart = False
    if not letters:
        return None
    between = f"[{re.escape(_JOINERS)}]*"
    parts = [re.escape(letters[0][0])]
    for (before, _), (c, apart) in itertools.pairwise(letters):
        if apart or before.isdigit() != c.isdigit():
            parts.append(between)
        elif c.isdigit():
            parts.append(_THOUSANDS)
        else:
            parts.append(_MARKS)
        parts.append(re.escape(c))
    # Not just after a letter or digit, checked once the first letter is found: opening on
    # the letter, the regular expression engine skips to where it is; opening on a look
    # behind, it tried that at every character (a miss in 13 MB took 0.68 s, now 22 ms).
    # (?<![^\W_][\s\S]) looks back past that letter; (?![^\W_]): not just before one.
    parts.insert(1, r"(?<![^\W_][\s\S])")
    return re.compile("".join(parts) + r"(?![^\W_])")


def spelt_otherwise(needle: str, blocks: list[Block]) -> str | None:
    """How the document spells ``needle`` where it has it with other accents ("résumé" for
    "resume", as speech to text writes it), or else with other hyphens, points or blanks
    ("e-mail" for "email", as search finds it), or None. find_replace changes only the letters
    as given; the model was told only "Found no resume" and gave up, or listed the text."""
    wanted = formats.fold_for_search(unicodedata.normalize("NFC", needle))
    pattern = joined_pattern(wanted.split())

    def same_letters(folded: str) -> tuple[int, int]:
        found = pattern.search(folded) if pattern is not None else None
        return (found.start(), len(found[0])) if found else (-1, 0)

    # the accents first, then the hyphens and blanks too (search's order)
    for find in (lambda folded: (folded.find(wanted), len(wanted)), same_letters):
        for block in blocks:
            if block.is_row:
                continue
            text = unicodedata.normalize("NFC", block.text)
            folded = formats.fold_for_search(text)
            at, length = find(folded)
            if at >= 0:  # ("ß" folds as "ss": the place in the text is found again)
                start, end = formats.unfolded_span(text, folded, at, at + length)
                return text[start:end]
    return None
