"""What comes back from a tool call: the text the model reads, the line the person may
hear, and what becomes of the parts of a result that are not text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

import mcp_types as mt

from voicedesk.tools.wording import SENTENCE_END

SPOKEN_MAX = 200


# A tool result longer than this is cut: 5 MB froze the TUI for 13 s when its detail was
# opened, and the context would clip it to a few thousand tokens anyway.
MAX_RESULT_CHARS = 50_000


@dataclass
class ToolResult:
    """One tool call's outcome: ``text`` goes to the model, ``spoken`` may be read aloud,
    ``shown`` is the whole result as the person is shown it (empty: ``text``)."""

    text: str
    spoken: str
    is_error: bool = False
    duration_s: float = 0.0
    cancelled: bool = False
    shown: str = ""


# What the MCP SDK's FastMCP puts before every error a tool raises ("Error executing tool
# read_document: There is no document called …"). The person is shown the call failed, under
# the tool's name, already: in one line of result the prefix was all that fit ("Error
# executing tool read_document:…"), the reason cut off after it. The model is sent it as is.
_SDK_ERROR_PREFIX = re.compile(r"^\s*Error executing tool \S+: ")


def without_sdk_prefix(text: str, *, is_error: bool) -> str:
    """A tool result as the person reads it: a failed call's without the SDK's error prefix.

    Only a failed call's: a result that merely begins so (a tool's own log line, "Error
    executing tool backup: the disk was full") lost what had failed, under a call marked
    done."""
    return _SDK_ERROR_PREFIX.sub("", text, count=1) if is_error else text


def spoken_summary(text: str, limit: int = SPOKEN_MAX) -> str:
    """The first line, or its first sentence when the line is long: what the ear can take."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= limit:
        return line
    for match in SENTENCE_END.finditer(line):
        if match.start() > limit:
            break
        if match.start() >= 20:  # a sentence that short is probably an abbreviation
            return line[: match.start()]
    cut = line[: limit - 1].rsplit(" ", 1)[0] if " " in line[: limit - 1] else line[: limit - 1]
    return cut.rstrip(" ,;:") + "…"


def bounded(text: str) -> str:
    """``text`` cut to MAX_RESULT_CHARS (at a line's end, if one is near), saying so."""
    if len(text) <= MAX_RESULT_CHARS:
        return text
    kept = text[:MAX_RESULT_CHARS]
    line_end = kept.rfind("\n")
    if line_end > MAX_RESULT_CHARS * 0.8:
        kept = kept[:line_end]
    return (
        f"{kept}\n[Cut: the tool returned {len(text):,} characters; only the first "
        f"{len(kept):,} are here. Ask it for less: a narrower query, or a part at a time.]"
    )


# What becomes of a part of a tool result that is no text: voicedesk shows no images and
# plays no tool's sounds. Named "[image, image/png]", the model answered "Here is the
# image", and the person saw and heard nothing of it.
_NOT_SHOWN = "voicedesk passes on only text, so neither you nor the person can {how} it"


# Types of file that are text though not text/*: a blob of one is passed on as text.
_TEXT_TYPES = ("application/json", "application/xml", "application/yaml", "application/toml")


# A blob of text longer than this (base64) is not decoded: it would be cut to
# MAX_RESULT_CHARS anyway, and decoding a large one holds up the event loop.
_MAX_TEXT_BLOB = 4 * MAX_RESULT_CHARS


def _size(b64: str) -> str:
    """The size of what ``b64`` encodes, as a person reads it ("34 kB")."""
    size = len(b64.strip().rstrip("=")) * 3 // 4
    return f"{size} bytes" if size < 1000 else f"{size / 1000:,.0f} kB"


def _blob_part(res: mt.BlobResourceContents) -> tuple[str, str]:
    """What the model is told of a file a tool sent as a blob (base64): its text, when it
    is a file of text (a text/* or JSON-like type, valid in the character set its type
    names, else UTF-8), else what it is. Servers that read files as bytes send text
    files so; named as a file nobody can open, their words were lost to the model.
    Second, what the person is shown of it (the model's text, or the file named)."""
    kind, *params = (res.mime_type or "").lower().split(";")
    kind = kind.strip()
    # the character set it names (text/plain; charset=utf-16), else UTF-8, JSON's own
    charset = next(
        (p.split("=", 1)[1].strip(' "') for p in params if p.strip().startswith("charset=")), ""
    )
    named = f"{res.uri} ({res.mime_type})" if res.mime_type else str(res.uri)
    if kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith(("+json", "+xml")):
        if len(res.blob) > _MAX_TEXT_BLOB:
            size = len(res.blob) * 3 // 4
            return (
                f"[a file of text, {named}, about {size:,} bytes: too long to pass on; "
                f"ask the tool for a part of it]",
                f"[file of text, {named}, {_size(res.blob)}: too long to pass on]",
            )
        try:
            text = base64.b64decode(res.blob, validate=True).decode(charset or "utf-8")
            return text, text
        except (binascii.Error, ValueError, LookupError):  # ValueError: UnicodeDecodeError
            pass  # no text after all, whatever its type says
    return (
        f"[a file, {named}: {_NOT_SHOWN.format(how='open')}]",
        f"[file, {named}, {_size(res.blob)}]",
    )


def result_texts(result: mt.CallToolResult) -> tuple[str, str]:
    """All the text in a tool result, twice: for the model, non-text parts named so it
    knows they exist and that nobody can see or hear them; for the person, named by kind,
    type and size ("[image, image/png, 34 kB]"). Shown the model's sentence ("neither you
    nor the person can see it"), the person read words not meant for them."""
    model: list[str] = []
    person: list[str] = []
    for block in result.content:
        if isinstance(block, mt.TextContent):
            told = shown = block.text
        elif isinstance(block, mt.EmbeddedResource):
            res = block.resource
            if isinstance(res, mt.TextResourceContents):
                told = shown = res.text
            else:
                told, shown = _blob_part(res)
        elif isinstance(block, mt.ResourceLink):
            told = f"[resource {block.name}: {block.uri}]"
            shown = f"[link, {block.name}: {block.uri}]"
        elif isinstance(block, mt.ImageContent):
            told = f"[an image ({block.mime_type}): {_NOT_SHOWN.format(how='see')}]"
            shown = f"[image, {block.mime_type}, {_size(block.data)}]"
        elif isinstance(block, mt.AudioContent):
            told = f"[a sound ({block.mime_type}): {_NOT_SHOWN.format(how='hear')}]"
            shown = f"[sound, {block.mime_type}, {_size(block.data)}]"
        else:
            told = shown = f"[{getattr(block, 'type', 'content')}]"
        model.append(told)
        person.append(shown)
    if not model and result.structured_content is not None:
        model.append(json.dumps(result.structured_content, ensure_ascii=False))
        person.append(model[-1])
    return "\n".join(model).strip(), "\n".join(person).strip()
