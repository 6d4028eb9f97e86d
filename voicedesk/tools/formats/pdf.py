"""Reading PDF files (pypdf), which are read-only here.

PDF keeps no paragraphs, only positioned lines: each page's text is split into paragraphs by
blank lines and line shapes.
"""

from __future__ import annotations

import io
import re
import statistics

from voicedesk.tools.formats.model import Block, FormatError


def _pdf_paragraphs(page_text: str) -> list[str]:
    """Rebuild paragraphs from extracted lines: blank lines, or a short line ending a sentence."""
    out: list[str] = []
    for chunk in re.split(r"\n[ \t]*\n", page_text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line.strip() for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        long_lines = [len(line) for line in lines if len(line) > 20]
        typical = statistics.median(long_lines) if long_lines else 0
        current = ""
        for line in lines:
            if current.endswith("-") and line[:1].islower():
                current = current[:-1] + line
            else:
                current = f"{current} {line}" if current else line
            ends_sentence = line.endswith((".", "!", "?", ":", "\u201d", '"'))
            if typical and ends_sentence and len(line) < 0.7 * typical:
                out.append(current)
                current = ""
        if current:
            out.append(current)
    return out


def parse_pdf(data: bytes) -> list[Block]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise FormatError("The PDF is password-protected, so I cannot read it.")
        blocks: list[Block] = []
        for page in reader.pages:
            blocks.extend(Block(text) for text in _pdf_paragraphs(page.extract_text() or ""))
        if not blocks and len(reader.pages):
            # "is empty" would be wrong: its pages are most likely pictures of text.
            pages = len(reader.pages)
            raise FormatError(
                f"It has {pages} page{'s' if pages != 1 else ''} but no text I can read: it is "
                f"probably scanned, and I cannot read the words in pictures. A copy with a "
                f"text layer (run it through OCR, or export it again from the original) would "
                f"work."
            )
    except FormatError:
        raise
    except (PyPdfError, ValueError, KeyError, OSError, TypeError) as exc:
        raise FormatError(f"The PDF could not be read ({exc}).") from None
    return blocks
