"""The seven actions of the documents tools' ``edit_document``, each a change to a copy of
a document's paragraphs (:class:`Edit`), kept apart from the server that reads the file,
checks it is fresh, writes it and records the undo step (``DocsTools.edit_document``).

An action returns what it did (:class:`Edited`), or a sentence for the model instead: a
question for the person (a deletion asks first), or why nothing changed. Expected failures
raise :class:`FormatError`, whose message the model reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

from voicedesk.tools import formats
from voicedesk.tools.docs_matching import spelt_otherwise
from voicedesk.tools.formats import TABLE_READ_ONLY, Block, Document, FormatError
from voicedesk.tools.formats.docx_emphasis import strip_emphasis
from voicedesk.tools.formats.markdown_lists import (
    lines_with_items,
    list_with_items,
    same_list,
    without_emptied_items,
)
from voicedesk.tools.wording import plural, quote

MAX_HEADING_CHARS = 200  # one absurdly long heading must not fill an outline

Action = Literal[
    "replace_paragraph",
    "insert_paragraph",
    "delete_paragraph",
    "replace_section",
    "delete_section",
    "rename_heading",
    "find_replace",
]

# A Markdown table's rule line (|---|:--:|): the table is one block of text there, with no
# ``Block.table`` as a Word table's rows have.
TABLE_RULE = re.compile(r"(?m)^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$")

# replace_section asks first when it would drop at least this many words, and most of the
# section: about a paragraph, more than a rewrite in fewer words loses.
SECTION_DROP_WORDS = 25


def words_in(blocks: list[Block]) -> int:
    """How many words ``blocks`` hold, as the results count them."""
    return sum(formats.word_count(b.text) for b in blocks)


def paragraph_index(blocks: list[Block], rel: str, paragraph: int | None, what: str) -> int:
    """The index of ``paragraph`` (numbered from 1) in ``blocks``, or the error that says
    how to name one that exists."""
    if paragraph is None:
        raise FormatError(f"Say which paragraph to {what}: pass paragraph=N.")
    if not 1 <= paragraph <= len(blocks):
        raise FormatError(
            f"{rel} has {plural(len(blocks), 'paragraph')}, so paragraph {paragraph} does not "
            f"exist. Use read_document or outline to see the numbers."
        )
    return paragraph - 1


class Ask(Protocol):
    """The server's question to the person before a change that removes text
    (``DocsTools._confirm``): what the result says instead of the change."""

    def __call__(self, what: str, call: str, also: str | None = None, *, early: bool) -> str: ...


class Edited(NamedTuple):
    """What an edit_document action did: the result's first line, and the paragraphs
    (start, end) of the new version to show after it, if any."""

    first: str
    shown: tuple[int, int] | None


@dataclass
class Edit:
    """One edit_document call: its arguments and the document it changes. An action makes
    its change in ``new_blocks``, a copy of the document's blocks."""

    action: Action
    doc: Document
    rel: str
    paragraph: int | None
    text: str | None
    section: str | None
    find: str | None
    replace_with: str | None
    match_case: bool
    confirmed: bool
    # the server's record of the questions it asked (DocsTools._agreed, _confirm)
    agreed: Callable[[bool, str], bool]
    confirm: Ask
    blocks: list[Block] = field(init=False)
    kind: formats.Kind = field(init=False)
    new_blocks: list[Block] = field(init=False)

    def __post_init__(self) -> None:
        self.blocks = self.doc.blocks
        self.kind = self.doc.kind
        self.new_blocks = list(self.blocks)

    def need_text(self, what: str) -> list[Block]:
        if self.text is None or not self.text.strip():
            raise FormatError(f"{self.action} needs text: {what}.")
        parsed = formats.text_to_blocks(self.text, self.kind)
        if not parsed:
            raise FormatError(f"{self.action} needs text: {what}.")
        return parsed

    def need_section(self, what: str) -> int:
        """The index of the heading ``section`` names."""
        if not self.section:
            raise FormatError(f"{self.action} needs section: {what}.")
        return formats.find_heading(self.blocks, self.section)

    def not_a_row(self, i: int) -> None:
        if self.blocks[i].is_row:
            raise FormatError(f"Paragraph {i + 1} of {self.rel} is a table row. {TABLE_READ_ONLY}")


def replace_paragraph(e: Edit) -> Edited | str:
    """Paragraph N becomes ``text`` (one or more paragraphs)."""
    blocks, rel, new_blocks = e.blocks, e.rel, e.new_blocks
    paragraph = e.paragraph
    i = paragraph_index(blocks, rel, paragraph, "replace")
    e.not_a_row(i)
    parsed = e.need_text("the new paragraph")
    old = blocks[i]
    if (
        old.is_heading
        and len(parsed) == 1
        and not parsed[0].is_heading
        and "\n" not in parsed[0].text  # a heading is one line
    ):
        parsed[0].level = old.level  # replacing a heading's words keeps it a heading
    parsed[0].source = old.source  # .docx: keep the paragraph and its formatting
    for block in parsed[1:]:
        block.split_from = old.source  # .docx: ...and its style in the ones split from it
    new_blocks[i : i + 1] = parsed
    first = f"Replaced paragraph {i + 1} of {rel}."
    shown = (i, i + len(parsed))
    return Edited(first, shown)


def insert_paragraph(e: Edit) -> Edited | str:
    """``text`` added after paragraph N, at the end of a section, or at the end."""
    blocks, rel, new_blocks = e.blocks, e.rel, e.new_blocks
    paragraph, section = e.paragraph, e.section
    parsed = e.need_text("the paragraph to add")
    if paragraph is not None:
        if not 0 <= paragraph <= len(blocks):
            raise FormatError(
                f"{rel} has {plural(len(blocks), 'paragraph')}; paragraph must be "
                f"between 0 (the start) and {len(blocks)}."
            )
        at = paragraph
        table = blocks[at - 1].table if at > 0 else None
        if table is not None and at < len(blocks) and blocks[at].table == table:
            last = max(n for n, b in enumerate(blocks) if b.table == table)
            raise FormatError(
                f"Paragraph {at} of {rel} is a row inside a table, and I cannot put "
                f"paragraphs inside a table. To add it after the table, use "
                f"paragraph={last + 1}."
            )
        where = "at the start" if at == 0 else f"after paragraph {at}"
        if at == 0 and e.kind == "markdown" and blocks and formats.is_front_matter(blocks[0]):
            # Before it, the front matter was front matter no more: its "---" lines read
            # as a rule and a heading, and a site generator or notes app lost the title,
            # tags and dates it held. The start of the text is just after it.
            at, where = 1, "below the front matter at the start"
    elif section:
        head = formats.find_heading(blocks, section)
        at = formats.section_range(blocks, head)[1]
        where = f"at the end of section “{formats.heading_names(blocks)[head]}”"
    else:
        at = len(blocks)
        where = "at the end"
    joined = _joined_to_list(e, at, parsed)
    if joined is not None:
        new_blocks[at - 1], items = joined
        first = (
            f"Added {plural(items, 'list item') if items > 1 else 'a list item'} {where} of "
            f"{rel}, to the list in paragraph {at}."
        )
        return Edited(first, (at - 1, at))
    new_blocks[at:at] = parsed
    if len(parsed) == 1:
        first = f"Added a paragraph {where} of {rel}; it is now paragraph {at + 1}."
    else:
        first = (
            f"Added {len(parsed)} paragraphs {where} of {rel}, now paragraphs {at + 1} "
            f"to {at + len(parsed)}."
        )
    shown = (at, at + len(parsed))
    return Edited(first, shown)


def _joined_to_list(e: Edit, at: int, parsed: list[Block]) -> tuple[Block, int] | None:
    """The list just before ``at`` (Markdown, or plain text; with markers, or one item a
    line without them) with the item(s) ``parsed`` added to it, and how many; None where
    they are no items of that list (they then go in as paragraphs)."""
    if e.kind not in ("markdown", "text") or at == 0 or len(parsed) != 1 or parsed[0].level:
        return None
    before = e.blocks[at - 1]
    if before.level or before.is_row:
        return None
    earlier = e.blocks[at - 2] if at > 1 else None
    if earlier is not None and not earlier.level and same_list(earlier.text, before.text):
        return None  # its items stand a blank line apart: the new one does too
    joined = list_with_items(before.text, parsed[0].text) or lines_with_items(
        before.text, parsed[0].text
    )
    if joined is None:
        return None
    block = Block(joined[0], 0, before.source)
    # it must read back as the one block it is shown as (numbers after it stay put)
    if [(b.text, b.level) for b in formats.settle(block, e.kind) or []] != [(block.text, 0)]:
        return None
    return block, joined[1]


def delete_paragraph(e: Edit) -> Edited | str:
    """Paragraph N removed, once confirmed."""
    blocks, rel, doc, new_blocks = e.blocks, e.rel, e.doc, e.new_blocks
    paragraph, confirmed = e.paragraph, e.confirmed
    i = paragraph_index(blocks, rel, paragraph, "delete")
    e.not_a_row(i)
    what = f"deleting paragraph {i + 1} of {rel} ({quote(blocks[i].text, 60)})"
    if not e.agreed(confirmed, what):
        return e.confirm(
            what, "edit_document", formats.removal_note(doc, blocks[i : i + 1]), early=confirmed
        )
    del new_blocks[i]
    first = f"Deleted paragraph {i + 1} of {rel}."
    shown = None
    return Edited(first, shown)


def replace_section(e: Edit) -> Edited | str:
    """A section's body becomes ``text``; its heading stays."""
    blocks, rel, kind, new_blocks = e.blocks, e.rel, e.kind, e.new_blocks
    head = e.need_section("the heading of the section")
    _, hi = formats.section_range(blocks, head)
    parsed = e.need_text("the new body of the section")
    if parsed[0].is_heading and formats.norm_heading(parsed[0].text) == formats.norm_heading(
        blocks[head].text
    ):
        parsed = parsed[1:]  # the model repeated the heading; keep the existing one
    if not parsed:
        # Only the heading again: that would empty the section without the
        # confirmation a deletion needs.
        raise FormatError(
            "replace_section needs text: the new body of the section, not just its "
            "heading. To remove the section's paragraphs, delete them (that needs "
            "the person's confirmation)."
        )
    name = formats.heading_names(blocks)[head]
    body = blocks[head + 1 : hi]
    tables = len({b.table for b in body if b.table is not None}) + sum(
        1 for b in body if b.table is None and TABLE_RULE.search(b.text)
    )
    was = f"{plural(len(body), 'paragraph')}, {plural(words_in(body), 'word')}" + (
        f", {plural(tables, 'table')}" if tables else ""
    )
    # A new body that drops most of a long one ("replace the Budget section with TBD")
    # is a deletion in all but name: it asks, as delete_section does. A rewrite about
    # as long, or of a sentence or two, goes ahead (undo takes either back).
    old_words, new_words = words_in(body), words_in(parsed)
    dropped = new_words * 2 < old_words and old_words - new_words >= SECTION_DROP_WORDS
    what = (
        f"replacing the body of section “{name}” in {rel} ({was}) with {plural(new_words, 'word')}"
    )
    if (tables or dropped) and not e.agreed(e.confirmed, what):
        return e.confirm(
            what, "edit_document", formats.removal_note(e.doc, body), early=e.confirmed
        )
    if kind == "docx":  # a paragraph the new body only touches up is edited, not redone
        formats.reuse_paragraphs(body, parsed)
    new_blocks[head + 1 : hi] = parsed
    first = (
        f"Replaced the body of section “{name}” in {rel} ({was} before) with "
        f"{plural(len(parsed), 'paragraph')}."
    )
    shown = (head, head + 1 + len(parsed))
    return Edited(first, shown)


def delete_section(e: Edit) -> Edited | str:
    """A section removed, heading and body, once confirmed."""
    blocks, rel, doc, new_blocks = e.blocks, e.rel, e.doc, e.new_blocks
    confirmed = e.confirmed
    head = e.need_section("the heading of the section")
    lo, hi = formats.section_range(blocks, head)
    name = formats.heading_names(blocks)[head]  # which of two "Notes" goes
    what = (
        f"deleting section “{name}” from {rel} ({plural(hi - lo, 'paragraph')}, "
        f"{plural(words_in(blocks[lo:hi]), 'word')}, heading included)"
    )
    if not e.agreed(confirmed, what):
        return e.confirm(
            what, "edit_document", formats.removal_note(doc, blocks[lo:hi]), early=confirmed
        )
    del new_blocks[lo:hi]
    first = f"Deleted section “{name}” ({plural(hi - lo, 'paragraph')}) from {rel}."
    shown = None
    return Edited(first, shown)


def rename_heading(e: Edit) -> Edited | str:
    """A section's heading becomes ``text``."""
    blocks, rel, kind, new_blocks = e.blocks, e.rel, e.kind, e.new_blocks
    text = e.text
    head = e.need_section("the current heading")
    new_name = formats.clean_text(text or "").strip().lstrip("#").strip()
    if kind == "markdown":
        new_name = formats.heading_text(new_name)  # "Budget ##" reads as "Budget"
    if not new_name or "\n" in new_name:
        raise FormatError("rename_heading needs text: the new heading, on one line.")
    old = blocks[head]
    new_blocks[head] = Block(new_name, old.level, old.source)
    first = (
        f"Renamed heading {quote(old.text, MAX_HEADING_CHARS)} to "
        f"{quote(new_name, MAX_HEADING_CHARS)} in {rel}."
    )
    shown = (head, head + 1)
    return Edited(first, shown)


def find_replace(e: Edit) -> Edited | str:
    """Every ``find`` (in a section, or anywhere) becomes ``replace_with``."""
    blocks, rel, kind, new_blocks = e.blocks, e.rel, e.kind, e.new_blocks
    section, find, replace_with, match_case = e.section, e.find, e.replace_with, e.match_case
    # Check what is left after cleaning: find="\u0007" would become "", which matches
    # between every two characters.
    needle = formats.clean_text(find or "")
    if not needle:
        what = " (control characters do not count; documents cannot hold them)" if find else ""
        raise FormatError(f"find_replace needs find: the exact text to look for{what}.")
    if replace_with is None:
        raise FormatError("find_replace needs replace_with: the new text (may be empty).")
    replacement = shown_replacement = formats.clean_text(replace_with)
    emphasis: list[tuple[int, int, tuple[str, ...]]] = []
    if kind == "docx":
        # "make budget bold" comes as replace_with="**budget**": Word gets bold words,
        # as create_document and replace_paragraph give them, not the asterisks
        marked = Block(replacement)
        strip_emphasis(marked)
        replacement, emphasis = marked.text, marked.emphasis
    lo, hi = 0, len(blocks)
    if section:
        lo, hi = formats.section_range(blocks, formats.find_heading(blocks, section))
    # "café" finds "cafe\u0301" too, and only the matched characters are replaced.
    ignore_case = not match_case
    total = 0
    touched: list[int] = []
    emptied = 0  # list items the replacement left with nothing but their marker, removed
    rows = 0  # matches in read-only table rows, left alone
    for i in range(lo, hi):
        if blocks[i].is_row:
            rows += len(formats.find_all(blocks[i].text, needle, ignore_case=ignore_case))
            continue
        new_text, n = formats.replace_all(
            blocks[i].text, needle, replacement, ignore_case=ignore_case
        )
        if n:
            total += n
            touched.append(i + 1)
            # (a line break put in a word's place moves the rest of the item to a line of
            # its own: that item is not emptied, and taking it out lost those words)
            if (
                kind in ("markdown", "text")
                and not blocks[i].level
                and not replacement.strip(" \t")
            ):
                new_text, gone = without_emptied_items(blocks[i].text, new_text)
                emptied += gone
            changed = Block(new_text, blocks[i].level, blocks[i].source)
            if emphasis:
                changed.emphasis = emphasis_at(
                    formats.find_all(blocks[i].text, needle, ignore_case=ignore_case),
                    len(replacement),
                    emphasis,
                )
            new_blocks[i] = settled(changed, kind, rel, i, needle)
    in_rows = (
        f" {plural(rows, 'occurrence')} in table rows stayed as they were: table rows "
        f"are read-only."
        if rows
        else ""
    )
    if not total:
        other = ""
        if match_case and any(
            formats.find_all(b.text, needle, ignore_case=True)
            for b in blocks[lo:hi]
            if not b.is_row
        ):
            other = " It does appear with different capitals; use match_case=false."
        elif spelt := spelt_otherwise(needle, blocks[lo:hi]):
            other = f" It does appear as {quote(spelt)}; use find={quote(spelt)}."
        outside = " outside tables" if rows else ""
        return f"Found no {quote(needle)} in {rel}{outside}, so nothing changed.{other}{in_rows}"
    where = ", ".join(str(n) for n in touched[:20])
    if len(touched) > 20:
        where += f" and {len(touched) - 20} more"
    first = (
        f"Replaced {plural(total, 'occurrence')} of {quote(needle)} with "
        f"{quote(shown_replacement)} "
        f"in {rel} (paragraph{'s' if len(touched) > 1 else ''} {where}).{in_rows}"
    )
    if emptied:
        first += (
            f" The {'list item it left empty was' if emptied == 1 else f'{emptied} list items it left empty were'}"
            f" removed from the list."
        )
    shown = None
    return Edited(first, shown)


def settled(block: Block, kind: formats.Kind, rel: str, i: int, needle: str) -> Block:
    """``block`` as it will read back, or FormatError if a replacement in it would change
    the paragraph numbers: every later edit by number would then hit the wrong text."""
    settled = formats.settle(block, kind, first=i == 0)
    if settled == []:
        raise FormatError(
            f"Replacing {quote(needle)} would leave paragraph {i + 1} of {rel} empty, so "
            f"nothing changed. To remove that paragraph, use delete_paragraph."
        )
    if settled is None or len(settled) > 1:
        what = (
            "a code block or front matter that swallows the rest of the document"
            if settled is None
            else f"{len(settled)} paragraphs"
        )
    elif settled[0].level != block.level:
        what = "a heading" if settled[0].level else "an ordinary paragraph"
    else:
        return Block(
            settled[0].text, block.level, block.source, block.table, emphasis=block.emphasis
        )
    raise FormatError(
        f"Replacing {quote(needle)} would turn paragraph {i + 1} of {rel} into {what}, which "
        f"changes how the document is divided, so nothing changed. Use replace_paragraph "
        f"to rewrite that paragraph as it should be."
    )


def emphasis_at(
    spans: list[tuple[int, int]], length: int, emphasis: list[tuple[int, int, tuple[str, ...]]]
) -> list[tuple[int, int, tuple[str, ...]]]:
    """The emphasis of a replacement ``length`` long, at each place it went: ``spans`` are the
    replaced text's, in the old text (each replacement shifts the ones after it)."""
    out: list[tuple[int, int, tuple[str, ...]]] = []
    shift = 0
    for start, end in spans:
        at = start + shift
        out += [(at + a, at + b, styles) for a, b, styles in emphasis]
        shift += length - (end - start)
    return out


ACTIONS: dict[str, Callable[[Edit], Edited | str]] = {
    "replace_paragraph": replace_paragraph,
    "insert_paragraph": insert_paragraph,
    "delete_paragraph": delete_paragraph,
    "replace_section": replace_section,
    "delete_section": delete_section,
    "rename_heading": rename_heading,
    "find_replace": find_replace,
}
