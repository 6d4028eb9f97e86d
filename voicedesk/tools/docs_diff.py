"""Paragraph diffs for the documents server: which paragraphs changed between two versions,
said in plain words ("2 paragraphs changed, 1 added") or as a unified diff.

Each version is a list of paragraphs, one rendered block per line. Short documents go through
difflib; long ones through patiencediff, as difflib is quadratic on them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from voicedesk.tools.wording import plural

_SMALL_DIFF = 2_000  # lines SequenceMatcher may compare at once; it is quadratic beyond


def _matcher(old: list[str], new: list[str]) -> difflib.SequenceMatcher:
    """The matcher for two versions' paragraphs.

    difflib's is quadratic when changes are spread out: describing a find_replace that
    touched 6,000 paragraphs of a 4 MB file took two minutes, on every undo. Beyond a few
    thousand paragraphs patiencediff's (the same interface: lines found once on both sides
    anchor the rest) takes a fraction of a second; below, difflib's results stay as they
    were.
    """
    if len(old) + len(new) <= _SMALL_DIFF:
        return difflib.SequenceMatcher(None, old, new, autojunk=False)
    from patiencediff import PatienceSequenceMatcher

    return PatienceSequenceMatcher(None, old, new)


def diff_opcodes(old: list[str], new: list[str]) -> list[tuple[str, int, int, int, int]]:
    """SequenceMatcher-style opcodes turning ``old`` into ``new``, fast on long documents."""
    return list(_matcher(old, new).get_opcodes())


def unified_diff(
    old: list[str], new: list[str], old_name: str, new_name: str, limit: int, chars: int
) -> list[str]:
    """The unified diff's lines (one line of context), at most ``limit`` of them and
    ``chars`` characters in all, then a line counting the ones left out (counted, not kept:
    a long document's diff can be huge). Cut between lines: a diff cut by characters ended
    mid-paragraph, without that count."""
    if len(old) + len(new) <= _SMALL_DIFF:
        lines = difflib.unified_diff(old, new, old_name, new_name, lineterm="", n=1)
    else:
        import patiencediff

        lines = patiencediff.unified_diff(
            old,
            new,
            old_name,
            new_name,
            lineterm="",
            n=1,
            sequencematcher=patiencediff.PatienceSequenceMatcher,
        )
    kept: list[str] = []
    left_out = 0
    room = chars - 40  # for the count
    for line in _marked_lines(lines):
        room -= len(line) + 1
        if len(kept) < limit and (room >= 0 or not kept):
            kept.append(line)
        else:
            left_out += 1
    if left_out:
        kept.append(f"… ({left_out} more diff lines)")
    return kept


def _marked_lines(lines: Iterable[str]) -> Iterator[str]:
    """The diff's lines with a paragraph of several lines (a Markdown list, a poem) split,
    each of its lines keeping the paragraph's mark: unmarked, a continuation such as
    "- item two" would read as a removed line."""
    for line in lines:
        if "\n" not in line or line.startswith(("---", "+++", "@@")):
            yield line
            continue
        mark, body = line[:1], line[1:]
        for part in body.split("\n"):
            yield mark + part


def describe_changes(
    old: list[str], new: list[str], ops: list[tuple[str, int, int, int, int]] | None = None
) -> str:
    """A plain-language count of paragraph changes, like "2 paragraphs changed, 1 added"."""
    changed = added = removed = 0
    for tag, i1, i2, j1, j2 in diff_opcodes(old, new) if ops is None else ops:
        if tag == "replace":
            both = min(i2 - i1, j2 - j1)
            changed += both
            added += (j2 - j1) - both
            removed += (i2 - i1) - both
        elif tag == "insert":
            added += j2 - j1
        elif tag == "delete":
            removed += i2 - i1
    parts: list[str] = []
    for n, verb in ((changed, "changed"), (added, "added"), (removed, "removed")):
        if n:
            # The first part names the noun, the rest lean on it: "2 paragraphs changed, 1 added".
            parts.append(f"{plural(n, 'paragraph') if not parts else n} {verb}")
    return ", ".join(parts) if parts else "no differences"
