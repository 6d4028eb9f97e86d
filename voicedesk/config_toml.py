"""What to show of a config file TOML cannot read: its line, where reading stopped, and the
value as TOML writes it when the line holds a common slip.

"Invalid value (at line 2, column 9)" alone sent people hunting. The line is shown, with a
caret under where the reader stopped, and for a bare word, ``True``, a comma decimal or a
Windows path in double quotes, the value as TOML writes it, checked against the setting's
type first: "0,7" in quotes is text, which a temperature is not.

This message is pasted into bug reports, so no secret is ever shown: not a key under
``[keys]``, not what an MCP server gets in its ``env`` or ``headers`` (in a table of its
own or inline, ``env = { TOKEN = … }``), not a secret-named setting or flag, whatever the
line's shape (``key: value`` as YAML writes it, a JSON object pasted in).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from typing import Any

from rich.cells import cell_len

from voicedesk.config_secrets import HIDDEN, is_secret_name, is_secret_path, mask_text

# Whether a setting (by its place in the file) refuses a value for its type: a number
# written as text. Unknown places take anything (their own message comes once loaded).
WrongType = Callable[[tuple[str, ...], Any], bool]

_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)$")
# A TOML key: bare, or quoted, dotted (``a."b c".d``).
_KEY = r"""(?:[\w-]+|"[^"\n]*"|'[^'\n]*')(?:\s*\.\s*(?:[\w-]+|"[^"\n]*"|'[^'\n]*'))*"""
_TABLE = re.compile(rf"^\s*\[\[?\s*({_KEY})\s*\]\]?\s*(?:#.*)?$")
# A line's leading key and what follows it as its separator: "=" or, a common slip, ":".
_LEADING = re.compile(rf"^(\s*)({_KEY})(\s*[=:]?\s*)")
# Names in a line: before a separator (an inline table, a JSON object), or a flag.
_NAMES = re.compile(r"""([\w.-]+)["']?\s*[=:]|(?<![\w-])(--?[A-Za-z][\w-]*)""")
# A value, then a comment: quoted, or bare up to blanks and a "#".
_QUOTED_VALUE = re.compile(r"""^("[^"]*"|'[^']*')\s*(?:#.*)?$""")
_BARE_COMMENT = re.compile(r"\s+#.*$")
_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+")


def _key_path(key: str) -> tuple[str, ...] | None:
    """A TOML key's parts, as TOML reads them (quotes, dots); None if it is no key."""
    try:
        tree: Any = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        return None
    parts: list[str] = []
    while isinstance(tree, dict) and len(tree) == 1:
        ((name, tree),) = tree.items()
        parts.append(name)
    return tuple(parts)


def _table_of(lines: list[str]) -> tuple[str, ...] | None:
    """The table the line after ``lines`` is in: () before any; None for one that cannot be
    read (a broken header), which may be a table of secrets."""
    for line in reversed(lines):
        stripped = line.lstrip()
        if not stripped.startswith("["):
            continue
        match = _TABLE.match(line)
        return _key_path(match.group(1)) if match else None
    return ()


def _holds_secrets(loc: tuple[str, ...]) -> bool:
    """A secret itself, or a table whose every value is one (``[keys]``, an MCP server's
    ``env`` and ``headers``)."""
    return is_secret_path(loc) or is_secret_path((*loc, "_"))


def _is_secret_line(line: str, table: tuple[str, ...] | None, key: tuple[str, ...] | None) -> bool:
    if table is None or _holds_secrets(table):
        return True
    if key is not None and _holds_secrets((*table, *key)):
        return True
    return any(is_secret_name(name or flag) for name, flag in _NAMES.findall(line))


def _before_the_secret(line: str) -> str:
    """What a line that is no ``name = value`` may show of itself: up to the first secret
    name and its separator (``export OPENAI_API_KEY=``, as a shell writes it), else its
    indent."""
    for match in _NAMES.finditer(line):
        if match.group(1) and is_secret_name(match.group(1)):
            return line[: match.end()]
    return line[: len(line) - len(line.lstrip())]


def _value_alone(raw: str) -> str:
    """A line's value without a comment after it (``gpt-4o  # the default``): quoting the
    comment too made it part of the model's name."""
    quoted = _QUOTED_VALUE.match(raw)
    if quoted:
        return quoted.group(1)
    if raw[:1] in ("'", '"'):
        return raw
    return _BARE_COMMENT.sub("", raw)


def _parsed(written: str) -> tuple[bool, Any]:
    try:
        return True, tomllib.loads(f"v = {written}")["v"]
    except tomllib.TOMLDecodeError:
        return False, None


def _toml_written(raw: str, fits: Callable[[Any], bool]) -> tuple[str, str] | None:
    """``raw``, a value TOML refused, as TOML writes what was meant, with why; None when it
    is no such slip, or when what it would be is not of the setting's type (``fits``)."""
    raw = _value_alone(raw)
    candidates: list[tuple[str, str]] = []
    if raw.lower() in ("true", "false"):
        candidates.append((raw.lower(), "in lower case"))
    if _COMMA_DECIMAL.fullmatch(raw):
        candidates.append((raw.replace(",", "."), "with a point"))
    inner = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else None
    if inner is None and raw[:1] not in ("'", '"', "[", "{", ""):
        inner = raw  # a bare word: text goes in quotes
    if inner is not None:
        if "\\" not in inner:  # a backslash meant as written (C:\Users): a literal string
            candidates.append((json.dumps(inner, ensure_ascii=False), "in quotes"))
        quote = "in quotes" if "\\" not in inner else "in single quotes, which keep a backslash"
        candidates.append((f"'{inner}'", quote + (" as written" if "\\" in inner else "")))
    for written, why in candidates:
        ok, value = _parsed(written)
        if ok and fits(value):
            return written, why
    return None


def toml_error_help(
    text: str, error: str, *, wrong_type: WrongType | None = None
) -> tuple[str, str | None]:
    """The text to add to the message (from a new line): the line TOML stopped at, with a
    caret; and the fix, or None. ``wrong_type``: see ``WrongType``."""
    at = _TOML_AT.search(error)
    lines = text.split("\n")  # TOML's own lines: only "\n" ends one (splitlines: U+2028 too)
    if at is None or not 1 <= int(at.group(1)) <= len(lines):
        return "", None
    number, column = int(at.group(1)), int(at.group(2))
    line = lines[number - 1].rstrip("\r").expandtabs()
    column = len(lines[number - 1][: column - 1].expandtabs()) + 1
    table = _table_of(lines[: number - 1])
    leading = _LEADING.match(line)
    if leading is not None and not re.search("[=:]", leading.group(3)):
        leading = None  # no separator: not a "name = value" line (a list's next line)
    key = _key_path(leading.group(2)) if leading else None
    value = line[leading.end() :] if leading else line
    secret = _is_secret_line(line, table, key)
    shown_line = line
    if secret:
        # the name and its separator, never a character of the value
        kept = leading.group(0) if leading else _before_the_secret(line)
        shown_line = kept + HIDDEN if line[len(kept) :].strip() else line
        if column > len(kept) + 1:
            column = 0  # where in the secret: not said
    shown = f"\n  {number} | {mask_text(shown_line)}"
    if column and mask_text(shown_line) == shown_line:
        caret = cell_len(line[: column - 1])  # wide letters (東京) take two cells
        shown += f"\n  {' ' * len(str(number))} | {' ' * caret}^"
    if leading is None or key is None or table is None:
        return shown, None
    name = leading.group(2)
    if secret:
        leaf = is_secret_path((*table, *key)) and not value.startswith(("{", "["))
        return shown, f'write it as {name} = "…" (text goes in quotes)' if leaf else None
    place = (*table, *key)

    def fits(value: Any) -> bool:
        return wrong_type is None or not wrong_type(place, value)

    if ":" in leading.group(3):  # `name: value`, as YAML writes it
        ok, parsed = _parsed(value)
        written = value if ok and fits(parsed) else (_toml_written(value, fits) or ("", ""))[0]
        why = "TOML puts = between a name and its value"
        return shown, f"write it as {name} = {written} ({why})" if written else None
    if column and column <= leading.end():
        return shown, None  # TOML stopped at the name, not the value
    found = _toml_written(value.strip(), fits)
    if found is None:
        return shown, None
    written, why = found
    return shown, f"write it as {name} = {written} (TOML writes such a value {why})"
