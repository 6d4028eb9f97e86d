"""Which settings hold secrets, and how every view of the settings hides them.

`voicedesk config show` output is meant to be pasted into a bug report, and the settings
screen shows the file: both must hide API keys, but also what MCP servers get in their
environment or headers, tokens passed as arguments and passwords in URLs. The masks are
recognisable, so a config that was saved from `config show` is refused rather than loaded
with "set (…1234)" as the key (``masks_in``).
"""

from __future__ import annotations

import contextlib
import logging
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from voicedesk.config import Settings

# A setting (or header, env entry, flag) named like this holds a secret: a name whose last
# word is one of these (``openai_api_key``, ``GITHUB_TOKEN``, ``Authorization``; not
# ``talk_key_mode``, ``max_tokens`` or ``global_hotkey``), or any name with one of
# ``_STRONG_SECRET_WORDS`` in it.
_SECRET_LAST_WORDS = {
    "key",
    "apikey",
    "token",
    "accesstoken",
    "authtoken",
    "secret",
    "password",
    "passwd",
    "pwd",
    "pass",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "cookie",
    "bearer",
}
_STRONG_SECRET_WORDS = ("secret", "password", "passwd")
# In any text: the user:password part of a URL, and secret-named query parameters or flags.
# It ends at the last "@" before the path: a raw "@" is not allowed in it, but people paste
# passwords with one (https://u:p@ss@host showed "***@ss@host").
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s]+@")
_SECRET_ASSIGNMENT = re.compile(
    r"(?i)((?:^|[?&;\s]|--?)[\w.\-]*?(?:key|token|secret|passw(?:or)?d|auth\w*|credential\w*)=)"
    r"[^&\s]+"
)
HIDDEN = "***"
# What `config show` prints instead of a secret; loading one of these is refused.
_MASK = re.compile(r"not set|set|set \(…[^)]{0,4}\)")
_MASKED_FRAGMENT = re.compile(r"(?:://|=)\*\*\*(?:@|&|$|\s)|^\*\*\*$")


def is_secret_name(name: str) -> bool:
    """Does a setting, header, env entry or flag with this name hold a secret?"""
    words = [w for w in re.split(r"[_\-.\s]+", name.strip().lower()) if w]
    if not words:
        return False
    return words[-1] in _SECRET_LAST_WORDS or any(
        strong in name.lower() for strong in _STRONG_SECRET_WORDS
    )


def is_secret_path(loc: tuple[Any, ...] | list[Any]) -> bool:
    """Whether the value at this place in the settings is a secret."""
    parts = [str(p) for p in loc]
    if parts[:1] == ["keys"]:
        return True
    if len(parts) >= 5 and parts[:2] == ["tools", "mcpServers"] and parts[3] in ("env", "headers"):
        return True  # anything an MCP server gets in its environment or its requests
    names = [p for p in loc if isinstance(p, str)]
    return bool(names) and is_secret_name(names[-1])


def mask_secret(value: str) -> str:
    """How a secret is shown: whether it is there and, if long, its last four characters."""
    if not value:
        return "not set"
    return f"set (…{value[-4:]})" if len(value) > 12 else "set"


def mask_text(text: str) -> str:
    """A URL's user:password and secret-named ``name=value`` parts hidden in any text."""
    text = _URL_USERINFO.sub(rf"\1{HIDDEN}@", text)
    return _SECRET_ASSIGNMENT.sub(rf"\1{HIDDEN}", text)


# A header as libraries log it ("> xi-api-key: …", "Authorization: Bearer …"), or a
# "name": value pair of JSON: the name, then the value to the end of the line.
_NAMED_VALUE = re.compile(r"(?<![\w-])([A-Za-z][\w-]*)[\"']?\s*:\s*(?=\S)")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[^\s\"',]+")


# The secrets this process holds (API keys, what MCP servers get in their env or headers),
# by value. A server may quote the key it was sent in its error ("Incorrect API key
# provided: sk-…", a proxy's 401 page, a close reason), and that error reaches the
# console, the terminal UI, the session log and the metrics file: found by name, as the
# masks above find them, it was printed whole when nothing named it.
_KNOWN: set[str] = set()
# Shorter values are not hidden by value: "none" or "local" as a local server's key would
# blank those words out of every message.
_MIN_KNOWN_CHARS = 8
# Nor are values without a digit shorter than this: the keys local servers' docs tell people
# to set ("anything", "lm-studio", "not-needed") were blanked out of the person's own words
# in every notice and session-log line ("Is there *** in my notes?"). Real keys and tokens
# have digits, or are long.
_WORDLIKE_MAX_CHARS = 15


def remember_secrets(values: Any) -> None:
    """Hide these values (strings; others are skipped) wherever :func:`hide_secrets` runs."""
    for value in values:
        if isinstance(value, str) and _is_hideable(value.strip()):
            _KNOWN.add(value.strip())


def _is_hideable(value: str) -> bool:
    """Whether ``value`` may be hidden wherever it appears without blanking ordinary words."""
    if len(value) < _MIN_KNOWN_CHARS:
        return False
    return len(value) > _WORDLIKE_MAX_CHARS or any(c.isdigit() for c in value)


def hide_secrets(text: str) -> str:
    """``text`` with every secret this process holds (see :func:`remember_secrets`)
    replaced by ``***``: the last word on a message before it is shown or written."""
    if not _KNOWN or not isinstance(text, str):
        return text
    for value in sorted(_KNOWN, key=len, reverse=True):  # a key containing another
        if value in text:
            text = text.replace(value, HIDDEN)
    return text


def hide_in_message(text: str) -> str:
    """:func:`hide_secrets`, and the user:password part of any URL: what an error, a notice
    or a `doctor` line shows of an address ("rejected the API key (https://me:pw@host/v1)"
    printed the password `config show` hides)."""
    return _URL_USERINFO.sub(rf"\1{HIDDEN}@", hide_secrets(text))


# Quotes a pasted key may come in: a shell line's, a .env file's, and the curly ones a chat,
# a document or a web page puts around it. No provider's key starts or ends with one.
_KEY_QUOTES = frozenset(
    "\"'`\u201c\u201d\u201e\u201f\u2018\u2019\u201a\u201b\u00ab\u00bb\u2039\u203a"
)


def _around_a_key(char: str) -> bool:
    """Blanks, line ends and invisible marks: a byte-order mark (a file Notepad saved), a
    zero-width or no-break space (copied from a web page), a direction mark."""
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


def clean_key(value: str) -> str:
    """A pasted API key without what came with it: blanks, line ends and invisible marks
    around it (a key read from a file, copied from a page), and quotes around it (copied
    from a shell line, a chat or a document, or from a .env file read by a tool that keeps
    them, as docker's ``--env-file`` does). No provider's key holds a blank or a quote;
    sent with them, a key is refused as wrong, a line end in a header stops the request
    before it leaves (httpx), said as an unreachable server, and a character outside ASCII
    stopped it with a traceback (``key_problem`` says what is left inside)."""
    key = value
    while True:
        start, end = 0, len(key)
        while start < end and _around_a_key(key[start]):
            start += 1
        while end > start and _around_a_key(key[end - 1]):
            end -= 1
        key = key[start:end]
        if len(key) < 2 or key[0] not in _KEY_QUOTES or key[-1] not in _KEY_QUOTES:
            return key
        key = key[1:-1]


def key_problem(key: str) -> str | None:
    """What in a key (cleaned: ``clean_key``) no API key holds, said without the key: a
    character outside printable ASCII (a curly quote, an accent, an invisible mark, a line
    end) that a request header cannot carry. None for a key that can be sent."""
    for place, char in enumerate(key, 1):
        if not " " <= char <= "~":  # a blank inside goes (a local server may take "any key")
            name = unicodedata.name(char, "a control character").lower()
            return (
                f"holds a character no API key has, {name} (U+{ord(char):04X}), as its "
                f"character {place} of {len(key)}: copy the key again as plain text, from "
                "the provider's page"
            )
    return None


def secret_values(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """Every secret in ``settings``: the API keys, the language model's key from the
    variable ``llm.api_key_env`` names, each secret in the MCP servers' settings, and the
    password of any URL (a server's address with user:password in it)."""
    values = [
        secret.get_secret_value()
        for secret in (settings.keys.openai_api_key, settings.keys.elevenlabs_api_key)
        if secret is not None
    ]
    raw = environ.get(settings.llm.api_key_env, "")
    values += [raw, clean_key(raw)]  # what a message may quote: what was sent, or was set
    data = settings.model_dump(mode="json", exclude={"source", "keys"})
    for loc, value in _leaves(data, ()):
        if _is_held_secret(loc):
            values.append(value)
            if isinstance(value, str) and (scheme := _AUTH_SCHEME.match(value.strip())):
                values.append(scheme.group(1))  # a server echoes the token, not "Bearer …"
        elif isinstance(value, str) and "@" in value:
            with contextlib.suppress(ValueError):
                if password := urlsplit(value).password:
                    values.append(password)
    for server in data["tools"]["mcpServers"].values():
        values += _flag_secrets(server.get("args") or [])
    return values


# "Bearer <token>" and the like, in a header's value.
_AUTH_SCHEME = re.compile(r"(?i)^(?:bearer|basic|token|bot|digest)\s+(\S+)$")


def _is_held_secret(loc: tuple[Any, ...]) -> bool:
    """Whether the value at ``loc`` is hidden by value. ``config show`` masks every env and
    header value of an MCP server, but blanked out of every message and session-log line
    by value, a notes folder, a time zone or the word "production" (``NODE_ENV``) became
    "***" in the person's own words: of those, only the secret-named ones are."""
    if len(loc) >= 5 and loc[:2] == ("tools", "mcpServers") and loc[3] in ("env", "headers"):
        return is_secret_name(str(loc[-1]))
    return is_secret_path(loc)


def _flag_secrets(args: list[Any]) -> list[str]:
    """The values of secret-named flags among an MCP server's arguments (``--token VALUE``,
    ``--api-key=VALUE``), which ``config show`` masks too (:func:`mask_tree`)."""
    found = []
    for before, arg in zip([None, *args], args, strict=False):
        if not isinstance(arg, str):
            continue
        flag, eq, value = arg.partition("=")
        if eq and flag.startswith("-") and is_secret_name(flag):
            found.append(value)
        elif (
            isinstance(before, str)
            and before.startswith("-")
            and "=" not in before
            and is_secret_name(before)
        ):
            found.append(arg)
    return found


def _leaves(node: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*loc, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _leaves(item, (*loc, i))
    else:
        yield loc, node


def mask_log_text(text: str) -> str:
    """:func:`mask_text`, and also the value of a secret-named header and any bearer
    token: what a log line may quote of a request; and every secret held, by value."""
    lines = mask_text(hide_secrets(text)).split("\n")
    for i, line in enumerate(lines):
        for match in _NAMED_VALUE.finditer(line):
            if is_secret_name(match.group(1)):
                lines[i] = line[: match.end()] + HIDDEN
                break
    return _BEARER.sub(rf"\1{HIDDEN}", "\n".join(lines))


class SecretsLogFilter(logging.Filter):
    """Hides secrets in every log record a handler writes. ``-vv`` is what a bug report
    asks for, and the websockets library logs each handshake header at DEBUG: both API
    keys were printed in clear ("> xi-api-key: …", "> Authorization: Bearer sk-…")."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            # a traceback's last line is the exception's text, which may quote a key: the
            # formatter uses this text as it is, instead of formatting the exception again
            record.exc_text = mask_log_text(_TRACEBACKS.formatException(record.exc_info))
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself
            return True
        hidden = mask_log_text(message)
        if hidden != message:
            record.msg, record.args = hidden, None
        return True


_TRACEBACKS = logging.Formatter()


def mask_tree(node: Any, loc: tuple[Any, ...] = ()) -> Any:
    """Plain data (tables, lists, text) found at ``loc`` in the settings, with every secret
    in it masked as `config show` masks it."""
    if isinstance(node, dict):
        return {k: mask_tree(v, (*loc, k)) for k, v in node.items()}
    if isinstance(node, list):
        out = []
        for i, item in enumerate(node):
            before = node[i - 1] if i else None
            flag = before if isinstance(before, str) and before.startswith("-") else None
            if flag and "=" not in flag and isinstance(item, str) and is_secret_name(flag):
                # --token VALUE
                out.append(HIDDEN)
            else:
                out.append(mask_tree(item, (*loc, i)))
        return out
    if isinstance(node, str):
        return mask_secret(node) if is_secret_path(loc) else mask_text(node)
    return node


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with every secret shown as present/absent only: API keys,
    header values and env entries of MCP servers, anything named like a key, token or
    password, and passwords in URLs. Loading these masks back is refused (:func:`masks_in`)."""
    data = settings.model_dump(mode="json", exclude={"source"})
    keys = {
        name: mask_secret(secret.get_secret_value() if secret is not None else "")
        for name, secret in ((n, getattr(settings.keys, n)) for n in data["keys"])
    }
    data = mask_tree({k: v for k, v in data.items() if k != "keys"}, ())
    data["keys"] = keys
    return data


def masks_in(node: Any, loc: tuple[Any, ...] = ()) -> list[tuple[str, str]]:
    """(dotted key, value) for every masked value from `config show` found in a layer."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += masks_in(value, (*loc, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += masks_in(item, (*loc, i))
    elif isinstance(node, str) and (
        (is_secret_path(loc) and _MASK.fullmatch(node.strip())) or _MASKED_FRAGMENT.search(node)
    ):
        found.append((".".join(str(p) for p in loc), node))
    return found
