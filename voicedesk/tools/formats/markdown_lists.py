"""Lists in Markdown (or plain text) as edits keep them: items added right after a list
written into it, and items a replacement emptied taken out.

In Markdown a whole list is one blank-line separated block (see :mod:`.markdown`), so an
item inserted after it as a paragraph of its own came a blank line later: a "loose" list
with a gap before the new item, or a second list when its marker was another ("- " after
"* " items, "1." after "1)"). Word keeps each item a paragraph, and joins a new one to its
list when it is written (:mod:`.docx_lists`); here the block itself takes the items. A
plain text file's list written with the same markers is one paragraph too, and is treated
alike. Lines without markers are taken for a list only where they are short and none
ends a sentence or a clause (:func:`lines_with_items`): the lines of a wrapped paragraph,
a poem or a letter are not.
A list whose items stand a blank line apart (:func:`same_list`) is no one block: an item
added after it comes apart too, a paragraph of its own.
"""

from __future__ import annotations

import re

from voicedesk.tools.formats.markdown import code_lines
from voicedesk.tools.formats.text import LIST_MARKER

# An unindented list item's line: its marker, then a blank or the end of the line.
_ITEM = re.compile(rf"^({LIST_MARKER})(?=[ \t]|$)")
# "- - -", "***": a thematic break, not an item.
_BREAK = re.compile(r"^ *(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")


def _items(text: str) -> list[tuple[int, str]] | None:
    """The unindented item lines of ``text`` (line number, marker), or None unless its
    first line is one: a block that starts as a list is a list to its end, every later
    line an item, nested in one or continuing one."""
    found = []
    lines = text.split("\n")
    code = code_lines(lines)
    for n, line in enumerate(lines):
        m = _ITEM.match(line)
        if m and n not in code and not _BREAK.match(line):
            found.append((n, m.group(1)))
    return found if found and found[0][0] == 0 else None


def _numbered(marker: str) -> bool:
    return marker[0].isdigit()


def same_list(first: str, then: str) -> bool:
    """Whether blocks ``first`` and ``then`` (one after the other, a blank line apart) are
    items of one list, both bullets or both numbers: in Markdown one "loose" list, whose
    items stand apart; in plain text, numbered clauses a paragraph each."""
    a, b = _items(first), _items(then)
    return a is not None and b is not None and _numbered(a[-1][1]) == _numbered(b[0][1])


def list_with_items(listed: str, added: str) -> tuple[str, int] | None:
    """``listed`` (a Markdown block) with ``added``'s items at its end in its own markers
    (its bullet, or its delimiter and the numbers after its last), and how many items
    were added; None unless both are unindented lists of one kind (bullets or numbers).
    A list written "1." at every item (Markdown counts them itself, and an item moved
    needs no renumbering) goes on so: a "4." after three "1." items read as a slip."""
    have, new = _items(listed), _items(added)
    if have is None or new is None or _numbered(have[-1][1]) != _numbered(new[0][1]):
        return None
    if any(_numbered(marker) != _numbered(have[-1][1]) for _, marker in new):
        return None
    last = have[-1][1]
    lines = added.split("\n")
    number = int(last[:-1]) if _numbered(last) else 0
    numbers = {int(marker[:-1]) for _, marker in have if _numbered(marker)}
    same = _numbered(last) and len(have) > 1 and len(numbers) == 1
    for n, marker in new:
        number += 0 if same else 1
        mark = f"{number}{last[-1]}" if _numbered(last) else last
        lines[n] = mark + lines[n][len(marker) :]
    return listed + "\n" + "\n".join(lines), len(new)


# The longest line taken for an item of a list written one item a line without markers:
# a shopping or to-do line is a few words, a line of a wrapped paragraph most of a width.
_LINE_ITEM_CHARS = 40
# A bullet item's marker, taken off an item added to a list without markers.
_BULLET = re.compile(r"^ *[-*+][ \t]+")
# A line that ends a sentence, as no item of such a list but a paragraph's last line does.
_SENTENCE_END = re.compile(r"[.!?][\"')\]”’]*$")
# ... nor a clause: a poem's lines and a letter's ("Roses are red," "Dear Bob,") go on after
# a comma, a list's items end bare. Taken for items, a stanza added after a stanza joined
# it, and a salutation joined the address above it.
_CLAUSE_END = re.compile(r"[,;][\"')\]”’]*$")
# Lines that are Markdown's own (a heading, quote, table row or code fence), not words.
_NOT_WORDS = ("#", ">", "|", "```", "~~~")


def lines_with_items(listed: str, added: str) -> tuple[str, int] | None:
    """``listed``, a list written one item a line without markers ("milk\\neggs", perhaps
    under a "Shopping:" line), with ``added``'s lines as items at its end, and how many;
    None unless both look so. Markdown shows such lines as one paragraph, but the person
    wrote them as a list, and an item added after it as a paragraph of its own came a blank
    line later, out of the list. Taken for one only where every line is short and none
    ends a sentence or a clause (a wrapped paragraph's lines are long, its last one ends a
    sentence; a poem's and a letter's go on after commas),
    and what is added is short lines too: a sentence added after it stays a paragraph. A
    bullet given with an added item is dropped, the list having none."""
    if not _line_list(listed.split("\n")):
        return None
    if any(_NUMBER.match(line) for line in added.split("\n")):
        return None  # a numbered item belongs to no list without numbers
    new = [_BULLET.sub("", line, count=1).strip() for line in added.split("\n")]
    if not all(_line_item(line) for line in new):
        return None
    return listed + "\n" + "\n".join(new), len(new)


def _line_list(lines: list[str]) -> bool:
    """Whether ``lines`` (a block's) are a list written one item a line without markers,
    perhaps under a line ending in ":" (:func:`lines_with_items`)."""
    if len(lines) < 2 or any(_ANY_ITEM.match(line) for line in lines):
        return False
    if lines[0].lstrip().startswith(_NOT_WORDS):
        return False
    items = lines[1:] if lines[0].rstrip().endswith(":") else lines
    return all(_line_item(line) for line in items)


def _line_item(line: str) -> bool:
    text = line.strip()
    return bool(
        text
        and len(text) <= _LINE_ITEM_CHARS
        and not _SENTENCE_END.search(text)
        and not _CLAUSE_END.search(text)
        and not text.startswith(_NOT_WORDS)
    )


# A numbered item's line: its indent and number (then "." or ")").
_NUMBER = re.compile(r"^( *)(\d{1,9})[.)](?=[ \t]|$)")
# A list item with nothing after its marker (and a task list's box), at any depth.
_EMPTY_ITEM = re.compile(rf"^ *{LIST_MARKER}(?:[ \t]+\[[ xX]\])?[ \t]*$")
# Any list item's line, at any depth.
_ANY_ITEM = re.compile(rf"^ *{LIST_MARKER}(?=[ \t]|$)")


def without_emptied_items(before: str, after: str) -> tuple[str, int]:
    """``after`` (``before`` with words replaced) without the list items the replacement
    left empty, and how many: "take bread off the list" as find_replace("bread", "") left
    "* " behind, an empty bullet the person sees (and "* bread" taken whole, a blank
    line that split the list in two, and the edit was refused). Kept where ``before`` had an empty item
    already (written on purpose), or where items nested in it follow (they would move up
    into the item above), or its words wrapped onto the next line (:func:`_ends_item`); a
    line of fenced code is never an item ("- bread" in a YAML example is code). Numbers
    that counted one by one close up ("1. a", "3. c" read as a gap in the text, and had
    the model speak of item 3 of two)."""
    was = before.split("\n")
    code = code_lines(was)
    if any(_EMPTY_ITEM.match(line) for n, line in enumerate(was) if n not in code):
        return after, 0
    lines = after.split("\n")
    # An item taken whole, marker and all ("* bread" replaced with nothing), leaves a blank
    # line, which split the list in two: where no line was joined or split, that is an
    # item line of ``before`` blank now.
    whole = len(was) == len(lines)
    # In a list written one item a line without markers, an item taken whole leaves a
    # blank line too: "take eggs off the list" was refused, as splitting the paragraph.
    line_list = whole and _line_list(was)
    code = code_lines(lines)
    kept: list[int] = []
    for n, line in enumerate(lines):
        if line_list and not line.strip() and was[n].strip():
            continue
        if n not in code:
            if _EMPTY_ITEM.match(line) and _ends_item(lines, n):
                continue
            if whole and not line.strip() and _ANY_ITEM.match(was[n]) and _ends_item(was, n):
                continue
        kept.append(n)
    if len(kept) == len(lines):
        return after, 0
    out = {n: lines[n] for n in kept}
    numbered: dict[int, list[tuple[int, int, int]]] = {}  # by indent: (line, number, digits)
    for n, line in enumerate(lines):
        m = _NUMBER.match(was[n] if whole and not line.strip() else line)  # as numbered
        if m and n not in code:
            numbered.setdefault(len(m.group(1)), []).append((n, int(m.group(2)), len(m.group(2))))
    for items in numbered.values():
        if [number for _, number, _ in items] != list(range(items[0][1], items[0][1] + len(items))):
            continue  # not counted one by one ("1." each, or several lists): left as written
        number = items[0][1]
        for n, _, digits in items:
            if n in out:
                indent = len(out[n]) - len(out[n].lstrip(" "))
                out[n] = f"{out[n][:indent]}{number}{out[n][indent + digits :]}"
                number += 1
    return "\n".join(out[n] for n in kept), len(lines) - len(kept)


def _ends_item(lines: list[str], n: int) -> bool:
    """Whether the item on line ``n`` ends there: the block ends, or the next line is an
    item no deeper than it (or blank: an item taken whole). A deeper line is the item's
    own (nested items, or its words wrapped); so is a line of words not indented at all,
    its text wrapped without an indent (Markdown's "lazy" line): taking the marker away
    gave them to the item above."""
    if n + 1 == len(lines) or not lines[n + 1].strip():
        return True
    line, following = lines[n], lines[n + 1]
    deeper = len(following) - len(following.lstrip(" ")) > len(line) - len(line.lstrip(" "))
    return not deeper and bool(_ANY_ITEM.match(following))
