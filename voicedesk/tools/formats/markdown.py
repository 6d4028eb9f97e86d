"""Markdown and plain-text files: blocks read with their place in the file, and written back.

Both text formats remember where each block sat, and a write splices only the changed blocks
into the original text, in the encoding (and with the BOM and line endings) the file came
in: people keep their own layout, and an edit changes only what it says. Markdown headings
are ``#`` and setext ones, by CommonMark's rules; fenced code stays whole.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator

from voicedesk.tools.formats.docx_emphasis import strip_emphasis
from voicedesk.tools.formats.docx_lists import word_items
from voicedesk.tools.formats.model import Block, Document, FormatError, Kind
from voicedesk.tools.formats.text import LIST_MARKER, clean_text

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def code_lines(lines: list[str]) -> set[int]:
    """The numbers of ``lines`` (a block's) that are fenced code, fences included: what
    looks like a list item or a heading there is code, to be left as written. A fence
    may stand indented in a list item ("- step\\n  ```"), so any indent opens one here."""
    found: set[int] = set()
    fence: str | None = None
    for n, line in enumerate(lines):
        if fence is not None:
            found.add(n)
            if line.strip().startswith(fence):
                fence = None
        elif m := _FENCE.match(line.lstrip(" ")):
            found.add(n)
            fence = m.group(1)[0] * len(m.group(1))
    return found


# A setext underline: a paragraph followed by a line of only "=" (level 1) or "-" (level 2).
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# Lines after which an underline is no heading's (CommonMark: it needs a paragraph above it):
# list items, block quotes, thematic breaks ("***", "- - -") and table delimiter rows. The
# line "---" under "- item" is a thematic break; under a table, the end of the table.
_NOT_PARAGRAPH = re.compile(
    rf"^ {{0,3}}(?:{LIST_MARKER}(?:[ \t]|$)|>"
    r"|(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$"
    r"|\|?[ \t]*:?-+:?[ \t]*\|[-:| \t]*$)"
)
# ...and first lines that open no paragraph at all: indented code, an HTML block.
_NOT_PARAGRAPH_START = re.compile(r"^(?: {0,3}\t| {4}| {0,3}<[A-Za-z!?/])")
# YAML front matter: "---" as the file's first line, up to a closing "---" or "...".
_FRONT_MATTER_OPEN = re.compile(r"^---[ \t]*$")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$")
_TOML_FENCE = re.compile(r"^\+\+\+[ \t]*$")  # Hugo's TOML front matter


_LINE_END = re.compile(r"\r\n|\r|\n")


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, line) of each line; ``end`` leaves out the line ending.

    A lone CR ends a line too, as in files from old Macs: read as part of a line, a whole
    CR-only file was one block, and renaming its first heading dropped everything after it.
    """
    pos = 0
    for m in _LINE_END.finditer(text):
        yield pos, m.start(), text[pos : m.start()]
        pos = m.end()
    yield pos, len(text), text[pos:]


def _block_of(lines: list[tuple[int, int, str]], level: int = 0) -> tuple[Block, int, int]:
    while lines and not lines[0][2]:
        lines = lines[1:]
    while lines and not lines[-1][2]:
        lines = lines[:-1]
    return Block("\n".join(line for _, _, line in lines), level), lines[0][0], lines[-1][1]


def _setext_level(buf: list[tuple[int, int, str]], line: str) -> int:
    """The level ``line`` underlines the paragraph ``buf`` with (0: it is no underline).

    Only a plain paragraph can be underlined; where CommonMark would read anything else
    above the line (see :data:`_NOT_PARAGRAPH`), it stays a line of that block, as before
    setext headings were read: a wrong guess here would cut a list or a table in two.
    """
    m = _SETEXT.match(line)
    if m is None or not buf or _NOT_PARAGRAPH_START.match(buf[0][2]):
        return 0
    if any(_NOT_PARAGRAPH.match(text) for _, _, text in buf):
        return 0
    return 1 if m.group(1)[0] == "=" else 2


def _front_matter_end(lines: list[tuple[int, int, str]]) -> int:
    """How many lines of ``lines`` (a whole file's) are YAML front matter (0: none).

    Front matter is one block, blank lines and all: read as Markdown, its closing "---"
    would make the line above it a heading.
    """
    if not lines or not _FRONT_MATTER_OPEN.match(lines[0][2]):
        return 0
    for n, (_, _, line) in enumerate(lines[1:], 2):
        if _FRONT_MATTER_CLOSE.match(line):
            return n
    return 0


def is_front_matter(block: Block) -> bool:
    """Whether ``block``, the first of a Markdown document, is its YAML front matter (it
    is one block: :func:`markdown_spans`) or Hugo's TOML front matter between "+++" lines
    (one block when it has no blank line)."""
    lines = block.text.splitlines()
    if block.level or len(lines) < 2:
        return False
    if _TOML_FENCE.match(lines[0]):
        return bool(_TOML_FENCE.match(lines[-1]))
    return bool(_FRONT_MATTER_OPEN.match(lines[0]) and _FRONT_MATTER_CLOSE.match(lines[-1]))


def markdown_spans(text: str, *, front_matter: bool = True) -> list[tuple[Block, int, int]]:
    """Headings (ATX and setext) and blank-line separated blocks, each with its place in
    ``text``. ``front_matter=False`` for a piece from the middle of a file, whose first
    line "---" is no front matter.

    A setext heading of several lines is one heading, as in CommonMark, its lines joined by
    spaces ("Annual" and "report" over "===" is "Annual report"): the file keeps its lines
    until the heading is renamed, and then it is written on one line.
    """
    out: list[tuple[Block, int, int]] = []
    buf: list[tuple[int, int, str]] = []
    fence: str | None = None
    lines = list(_lines(text))
    if front := (_front_matter_end(lines) if front_matter else 0):
        out.append(_block_of(lines[:front]))

    def flush() -> None:
        if buf and any(line.strip() for _, _, line in buf):
            out.append(_block_of(buf))
        buf.clear()

    for start, end, line in lines[front:]:
        if fence is not None:
            buf.append((start, end, line))
            if line.strip().startswith(fence):
                fence = None
                flush()
            continue
        if m := _FENCE.match(line):
            flush()
            buf.append((start, end, line))
            fence = m.group(1)[0] * len(m.group(1))
            continue
        if not line.strip():
            flush()
            continue
        if m := _HEADING.match(line):
            flush()
            out.append((Block((m.group(2) or "").strip(), level=len(m.group(1))), start, end))
            continue
        if level := _setext_level(buf, line):
            title = " ".join(text.strip() for _, _, text in buf)
            out.append((Block(title, level), buf[0][0], end))
            buf.clear()
            continue
        buf.append((start, end, line))
    flush()
    return out


def plain_spans(text: str) -> list[tuple[Block, int, int]]:
    """Paragraphs separated by lines holding nothing but spaces and tabs."""
    out: list[tuple[Block, int, int]] = []
    buf: list[tuple[int, int, str]] = []
    for start, end, line in [*_lines(text), (len(text), len(text), "")]:
        if line.strip(" \t"):
            buf.append((start, end, line))
            continue
        if buf and any(ln.strip() for _, _, ln in buf):
            out.append(_block_of(buf))
        buf = []
    return out


def open_fence(text: str) -> str | None:
    """The marker of a code fence ``text`` leaves open at its end (None: all are closed)."""
    fence: str | None = None
    for _, _, line in _lines(text):
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
        elif m := _FENCE.match(line):
            fence = m.group(1)[0] * len(m.group(1))
    return fence


def _heading_line(block: Block) -> str:
    """A Markdown heading line that reads back as exactly ``block``'s text.

    Text ending in ``#`` ("Step #", "C #") would be taken for the optional closing sequence
    and lost, so such a line gets a closing ``#`` of its own, as CommonMark does.
    """
    line = f"{'#' * block.level} {block.text}"
    m = _HEADING.match(line)
    if m is None or (m.group(2) or "").strip() != block.text:
        line += " #"
    return line


def _setext_line(block: Block, original: str) -> str | None:
    """``block`` underlined as its original heading ``original`` was, if that reads back.

    A renamed setext heading stays setext, so the file keeps its author's style; text that
    would read differently underlined ("- item", "# x") is written as a ``#`` line instead.
    """
    last = original.rsplit("\n", 1)[-1].rsplit("\r", 1)[-1]
    m = _SETEXT.match(last)
    if m is None or not block.level or "\n" in block.text:
        return None
    line = block.text + "\n" + m.group(1)[0] * max(3, len(block.text))
    found = [(b.text, b.level) for b, _, _ in markdown_spans(line)]
    return line if found == [(block.text, block.level)] else None


def heading_text(text: str) -> str:
    """What a Markdown heading saying ``text`` reads back as: a closing ``##`` is layout."""
    m = _HEADING.match("# " + text)
    return (m.group(2) or "").strip() if m else text.strip()


def parse_markdown(text: str) -> list[Block]:
    """Split Markdown into headings (ATX and setext) and blank-line separated blocks."""
    return [block for block, _, _ in markdown_spans(text)]


def parse_plain(text: str) -> list[Block]:
    """Blank-line separated paragraphs; plain text has no headings."""
    return [block for block, _, _ in plain_spans(text)]


def text_to_blocks(text: str, kind: Kind) -> list[Block]:
    """Blocks for new content: Markdown syntax for .md and .docx, paragraphs for .txt."""
    text = clean_text(text)
    if kind == "text":
        return parse_plain(text)
    if fence := open_fence(text):
        # A fence left open runs to the end of the file and swallows every paragraph after
        # it, so later edits by number would hit the wrong text: close it where the text ends.
        text = text.rstrip("\n") + "\n" + fence
    if kind == "docx":  # each list item is a paragraph of its own in Word
        items = [item for block in parse_markdown(text) for item in word_items(block)]
        for item in items:
            strip_emphasis(item)  # Word shows bold as bold, not as asterisks
        return items
    return parse_markdown(text)


def settle(block: Block, kind: Kind, *, first: bool = False) -> list[Block] | None:
    """The blocks ``block`` reads back as once written among others (none: it is empty).

    None when it would also swallow the paragraphs after it (a code fence left open; as the
    ``first`` block of a file, front matter whose closing "---" went, which a later "---"
    would close). An edit that changes a block's text in place (find_replace) checks this
    first: a replacement can empty a paragraph, split it at a blank line, or make a line start
    with ``#`` or a fence.
    """
    if kind in ("docx", "pdf"):
        return (
            [Block(block.text, block.level, block.source, block.table)]
            if block.text.strip()
            else []
        )
    shown = _heading_line(block) if kind == "markdown" and block.level else block.text
    if kind == "markdown" and first:
        lines = list(_lines(shown))
        if _FRONT_MATTER_OPEN.match(lines[0][2]) and not _front_matter_end(lines):
            return None
    spans = plain_spans if kind == "text" else markdown_spans
    found = [b for b, _, _ in spans(shown + "\n\nx")]
    if not found or (found[-1].text, found[-1].level) != ("x", 0):
        return None
    return found[:-1]


# A byte-order mark says the encoding for sure (UTF-32 first: its LE mark starts like UTF-16's).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_BOM_OF = {encoding: bom for bom, encoding in _BOMS}


# A UTF-8 file with a few Windows-1252 bytes pasted in (a curly quote from an old program).
MIXED = "utf-8+cp1252"


def _stray_byte(err: UnicodeError) -> tuple[str, int]:
    """A byte that is not UTF-8 read as Windows-1252 (or Latin-1 where cp1252 has no letter)."""
    assert isinstance(err, UnicodeDecodeError)
    byte = err.object[err.start : err.start + 1]
    try:
        return byte.decode("cp1252"), err.start + 1
    except UnicodeDecodeError:
        return byte.decode("latin-1"), err.start + 1


codecs.register_error(MIXED, _stray_byte)


def _mostly_utf8(data: bytes) -> bool:
    """Whether ``data``, not UTF-8 as a whole, holds more UTF-8 letters than stray bytes.

    Windows-1252 text pairs up as a UTF-8 letter by chance here and there (French "É" and
    the no-break space before "»" are the two bytes of "ɠ"), while most of its accented
    letters are stray bytes: such a file is Windows-1252, not UTF-8 with a few strays."""
    lenient = data.decode("utf-8", errors="ignore")
    letters = sum(1 for ch in lenient if ord(ch) > 127) - lenient.count("\ufffd")
    stray = data.decode("utf-8", errors="replace").count("\ufffd") - lenient.count("\ufffd")
    return letters > stray


def decode_text(data: bytes) -> tuple[str, bool, str]:
    """Text, whether it had a BOM, and its encoding: by BOM, else UTF-8, else cp1252.

    Windows Notepad's "Unicode" is UTF-16 with a BOM; reading it as UTF-8 or cp1252 would show
    every other character as NUL and an edit would append single-byte text to it. A file
    that is UTF-8 but for a few stray bytes is :data:`MIXED`: read as cp1252 whole, its
    accented letters came out as "Ã©", and an edit saved them so.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding), True, encoding
            except UnicodeDecodeError:
                name = encoding.upper().replace("-LE", "").replace("-BE", "")
                raise FormatError(
                    f"The file starts with a {name} byte-order mark but is not valid {name} "
                    f"text, so I cannot read it safely."
                ) from None
    # NUL bytes first: a picture or program saved under a text name mostly has a byte no
    # Windows-1252 letter is before its first NUL, and was called "not UTF-8 text".
    if b"\x00" in data:
        raise FormatError(
            "The file contains NUL bytes, so it is not plain text (it may be binary, or UTF-16 "
            "without a byte-order mark); I leave it alone rather than damage it. Saving it as "
            "UTF-8 makes it readable here."
        )
    try:
        return data.decode("utf-8"), False, "utf-8"
    except UnicodeDecodeError:
        if _mostly_utf8(data):  # UTF-8 letters, and a few bytes that are not
            return data.decode("utf-8", errors=MIXED), False, MIXED
    try:
        return data.decode("cp1252"), False, "cp1252"
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"The file is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02x} at "
            f"position {exc.start} is no letter in either), so it may be a binary file under a "
            f"text name; I leave it alone rather than damage it. If it is text, saving it as "
            f"UTF-8 makes it readable here."
        ) from None


_UNCLOSED = (
    "A code block in this document is never closed (a line starting with ``` or ~~~ has no "
    "closing line), so everything after it counts as part of it and anything added after "
    "it would disappear into it. Close that code block first (replace its paragraph with "
    "the closing line added), then try again."
)


def _separates(before: str, gap: str, after: str, kind: Kind) -> bool:
    """Whether ``gap`` keeps ``before`` and ``after`` apart as blocks (so numbering holds)."""
    spans = plain_spans if kind == "text" else markdown_spans
    return len(spans(before + gap + after)) == len(spans(before)) + len(spans(after))


def _splice_text(doc: Document) -> str:
    """The original text with only the changed blocks rewritten.

    Unchanged blocks and the gaps between them are copied byte for byte; a changed block is
    rendered in place; a new one gets a blank line before it. A gap is reused where it still
    separates its neighbours, so paragraph numbers read back as the edit said they would.
    """
    assert doc.text is not None
    text, spans, nl = doc.text, doc.spans, doc.newline

    def rendered(block: Block) -> str:
        shown = block.text
        if doc.kind == "markdown" and block.level:
            span = spans[block.source] if block.source is not None else None
            setext = (
                _setext_line(block, text[span.start : span.end]) if span and span.level else None
            )
            shown = setext or _heading_line(block)
        return shown.replace("\n", nl)

    pieces: list[str] = []
    prev: tuple[str, int | None, bool] | None = None  # last piece, its source, unchanged?
    for block in doc.blocks:
        src = block.source
        gap: str | None = None
        same = False
        if src is not None:
            span = spans[src]
            same = (block.text, block.level) == (span.text, span.level)
            piece = text[span.start : span.end] if same else rendered(block)
            if src > 0:
                gap = text[spans[src - 1].end : span.start]
        else:
            piece = rendered(block)
        if prev is not None:
            adjacent = src is not None and prev[1] == src - 1 and prev[2] and same
            if gap is None or not (adjacent or _separates(prev[0], gap, piece, doc.kind)):
                gap = nl * 2
                if not _separates(prev[0], gap, piece, doc.kind):
                    raise FormatError(_UNCLOSED)
            pieces.append(gap)
        pieces.append(piece)
        prev = (piece, src, same)
    if not pieces:
        return ""
    lead = text[: spans[0].start] if spans else ""
    tail = text[spans[-1].end :] if spans else nl
    return lead + "".join(pieces) + tail


_ENCODING_NAMES = {"cp1252": "Windows-1252"}


def _encodable(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def encode_text(doc: Document) -> bytes:
    if doc.text is not None:
        body = _splice_text(doc)
    else:
        sep = "\n\n"
        if doc.kind == "markdown":
            body = sep.join(_heading_line(b) if b.level else b.text for b in doc.blocks)
        else:
            body = sep.join(b.text for b in doc.blocks)
        body = (body + "\n") if body else ""
        if doc.newline != "\n":
            body = body.replace("\n", doc.newline)
    if doc.encoding in _BOM_OF and doc.encoding != "utf-8":
        return _BOM_OF[doc.encoding] + body.encode(doc.encoding)  # UTF-16/32 hold everything
    if doc.encoding == MIXED:
        doc.notes.append(
            "The file was UTF-8 but for a few characters in the older Windows-1252 encoding, "
            "which I saved as UTF-8 too, so every program now shows them the same way. Undo "
            "puts back the old file."
        )
    elif doc.encoding != "utf-8":
        try:
            return body.encode(doc.encoding)
        except UnicodeEncodeError:
            # New text the legacy encoding cannot hold; UTF-8 holds everything, but the
            # program the person opens it with may keep reading it the old way.
            missing = sorted({ch for ch in body if not _encodable(ch, doc.encoding)})
            shown = ", ".join(f"“{ch}”" for ch in missing[:5])
            name = _ENCODING_NAMES.get(doc.encoding, doc.encoding)
            doc.notes.append(
                f"The document was saved in the older {name} encoding, which "
                f"cannot hold {shown}, so I saved it as UTF-8: an old program may now show "
                f"its accented letters wrongly. Undo puts back the old file."
            )
    return (b"\xef\xbb\xbf" if doc.bom else b"") + body.encode("utf-8")
