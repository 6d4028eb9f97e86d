"""Sections and headings of a document's blocks, whatever its format.

Edits and reads are aimed at sections by name: a section runs from a heading to the next of
its level or higher, and a name the person says ("Budget", "Chapter 2 › Notes", "Notes #2")
picks one heading, or the error lists the candidates.
"""

from __future__ import annotations

import collections
import functools
import re
import unicodedata
from collections.abc import Callable

from voicedesk.tools.formats.model import Block, FormatError


def outline(blocks: list[Block]) -> list[int]:
    """Indexes of heading blocks."""
    return [i for i, b in enumerate(blocks) if b.is_heading]


def section_range(blocks: list[Block], heading: int) -> tuple[int, int]:
    """[start, end) of the section that starts at heading index ``heading``.

    A section runs to the next heading of the same or a higher level, so it includes its
    sub-sections.
    """
    level = blocks[heading].level
    end = heading + 1
    while end < len(blocks) and not (blocks[end].is_heading and blocks[end].level <= level):
        end += 1
    return heading, end


@functools.lru_cache(maxsize=4096)
def norm_heading(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    folded = " ".join(text.split())
    text = re.sub(r"^\s*(\d+(\.\d+)*\.?|[ivx]+\.)\s+", "", text)  # "2. Costs" matches "costs"
    # A heading of only symbols ("✅", "—") has no words; it is matched as written, else
    # its section could not be named at all.
    return " ".join(re.sub(r"[^\w\s]", " ", text).split()) or folded


PATH_SEPARATOR = " › "
# What a path may be typed with: the outline's "›", or ">" when that is easier to type.
_PATH_SPLIT = re.compile(r"\s*[›>]\s*")
_OCCURRENCE = re.compile(r"^(.*\S)\s*#\s*(\d+)\s*$")  # "Notes #2": the second "Notes"
_TIERS: tuple[Callable[[str, str], bool], ...] = (
    lambda have, want: have == want,
    lambda have, want: have.startswith(want),
    lambda have, want: want in have,
)


def _parents(blocks: list[Block], headings: list[int]) -> dict[int, list[int]]:
    """For each heading, the headings of the sections it sits in, outermost first."""
    stack: list[int] = []
    out: dict[int, list[int]] = {}
    for i in headings:
        while stack and blocks[stack[-1]].level >= blocks[i].level:
            stack.pop()
        out[i] = list(stack)
        stack.append(i)
    return out


def _under(blocks: list[Block], parents: list[int], wanted: list[str], loose: bool) -> bool:
    """Whether ``wanted`` names some of ``parents``, in order (a path may skip levels)."""
    it = iter(parents)
    match = _TIERS[2] if loose else _TIERS[0]
    return all(any(match(norm_heading(blocks[p].text), want) for p in it) for want in wanted)


def _by_path(blocks: list[Block], tree: dict[int, list[int]], parts: list[str]) -> list[int]:
    """Headings the path ``parts`` names, at the closest match that names any.

    The last part is the heading, matched exactly, then by its start, then anywhere; the
    parts before it name sections it sits in, exactly where that narrows it down.
    """
    *above, last = [norm_heading(part) for part in parts]
    for loose in (False, True):
        for tier in _TIERS:
            found = [
                i
                for i, parents in tree.items()
                if tier(norm_heading(blocks[i].text), last)
                and _under(blocks, parents, above, loose)
            ]
            if found:
                return found
    return []


def _named(blocks: list[Block], tree: dict[int, list[int]], name: str) -> list[int]:
    """Headings ``name`` may mean: one when it says which, else the candidates.

    A name is first taken as a whole heading, so every name that picked a heading before
    paths and numbers existed picks the same one; only a name that picks none or several
    is read as a path ("Chapter 2 › Notes") and then as a numbered one ("Notes #2").
    """
    found = _by_path(blocks, tree, [name])
    if len(found) == 1:
        return found
    parts = _PATH_SPLIT.split(name)
    if len(parts) > 1 and all(norm_heading(part) for part in parts):
        by_path = _by_path(blocks, tree, parts)
        if len(by_path) == 1 or not found:
            found = by_path
        if len(found) == 1:
            return found
    if m := _OCCURRENCE.match(name):
        same = _named(blocks, tree, m.group(1))
        n = int(m.group(2))
        if 1 <= n <= len(same):
            return [same[n - 1]]
        if same:
            raise FormatError(
                f"There {'is' if len(same) == 1 else 'are'} only {len(same)} "
                f"section{'' if len(same) == 1 else 's'} called “{m.group(1)}”, so there is "
                f"no number {n}."
            )
    return found


def heading_names(blocks: list[Block]) -> dict[int, str]:
    """For each heading, a name that picks it and no other: its text when that is unique, else
    its path ("Chapter 2 › Notes"), else its number among those so called ("Notes #2").

    Two "Notes" under different chapters could not both be reached by name; this is what
    the outline shows and what a section= argument may say.
    """
    headings = outline(blocks)
    tree = _parents(blocks, headings)
    alike = collections.Counter(norm_heading(blocks[i].text) for i in headings)
    out: dict[int, str] = {}
    for i in headings:
        text = blocks[i].text
        if alike[norm_heading(text)] == 1:  # the text alone picks it: the first match is exact
            out[i] = text
            continue
        path = PATH_SEPARATOR.join([*(blocks[p].text for p in tree[i]), text])
        tries = [text, path]
        for base in (text, path):
            same = _named(blocks, tree, base)
            if i in same:
                tries.append(f"{base} #{same.index(i) + 1}")
        out[i] = next((t for t in tries if _picks(blocks, tree, t) == [i]), text)
    return out


def _picks(blocks: list[Block], tree: dict[int, list[int]], name: str) -> list[int]:
    try:
        return _named(blocks, tree, name)
    except FormatError:
        return []


def find_heading(blocks: list[Block], name: str) -> int:
    """Index of the heading called ``name``: exact, then unique prefix or substring match; a
    path ("Chapter 2 › Notes") or a number ("Notes #2") picks one of several so called."""
    headings = outline(blocks)
    if not headings:
        # "add cheese to the shopping list" came with section="Shopping list" for a text
        # file whose first line says so: the model must hear what to do instead
        raise FormatError(
            f"This document has no headings, so it has no section called “{name}”. Leave "
            f"section out: read_document then reads all of it, and insert_paragraph adds at "
            f"the end (or after the paragraph given)."
        )
    if not norm_heading(name):
        raise FormatError("The section name is empty.")
    found = _named(blocks, _parents(blocks, headings), name)
    if len(found) == 1:
        return found[0]
    if found:
        names = heading_names(blocks)
        listed = "; ".join(f"“{names[i]}” (paragraph {i + 1})" for i in found[:8])
        raise FormatError(
            f"More than one section matches “{name}”: {listed}. Say which one by the name "
            f"shown for it here."
        )
    listed = "; ".join(f"“{blocks[i].text}”" for i in headings[:20])
    raise FormatError(f"There is no section called “{name}”. The headings are: {listed}.")
