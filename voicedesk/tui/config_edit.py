"""Editing the config file from the settings screen: validate first, then write atomically.

A value is only written if the whole file, with the change, passes
:func:`voicedesk.config.load_settings`; a half-written or invalid config would stop the
next start. tomlkit keeps the person's comments and layout. The file is written private
(it may hold keys) and durably, and a config that is a link stays one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import Any

import tomlkit

from voicedesk.config import Settings, load_settings, read_config_text
from voicedesk.config_secrets import is_secret_name, mask_secret, mask_text
from voicedesk.errors import ConfigError
from voicedesk.files import atomic_write

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)+$")
_PAIR = re.compile(
    r"(?P<key>[A-Za-z0-9_-]+|\"[^\"\n]*\"|'[^'\n]*')(?P<eq>[ \t]*=[ \t]*)"
    r"(?P<value>\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*')"
)


def mask_secrets(text: str) -> str:
    """The config file's text with every secret string replaced as ``config show`` does."""

    def mask(match: re.Match[str]) -> str:
        if not is_secret_name(match["key"].strip("\"'")):
            return mask_text(match[0])  # a password in a URL, a token=… in an argument
        value = match["value"]
        inner = value[3:-3] if value[:3] in ('"""', "'''") else value[1:-1]
        return f'{match["key"]}{match["eq"]}"{mask_secret(inner)}"'

    return _PAIR.sub(mask, text)


def parse_pair(line: str) -> tuple[str, Any]:
    """``section.key = value`` → key and a TOML value (bare words are taken as strings)."""
    if "=" not in line:
        raise ConfigError(
            f"'{line.strip()}' is not a key=value pair", "write it like llm.model = gpt-4o-mini"
        )
    key, raw = (part.strip() for part in line.split("=", 1))
    if not _KEY.match(key):
        raise ConfigError(
            f"'{key}' is not a setting name", "use section.key, e.g. turn.mode or llm.base_url"
        )
    if not raw:
        raise ConfigError(f"No value given for {key}", "write key = value")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        # a bare word, or a quoted one TOML refuses: only a pair of quotes around the whole
        # value goes (a quote that ends or starts the text, as in: Say "hi", is kept)
        quoted = len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'"
        value = raw[1:-1] if quoted else raw
    return key, value


def apply_pair(
    path: Path, line: str, *, themes: Collection[str] | None = None
) -> tuple[str, Settings]:
    """Validate ``line`` against the file at ``path`` and write it; returns the key and result.

    ``themes``: the UI's theme names, to check ``ui.theme`` (the config model only knows it
    is a string, and an unknown theme would only be noticed, and ignored, at the next start).
    """
    key, value = parse_pair(line)
    if key == "ui.theme" and themes is not None and value not in themes:
        raise ConfigError(
            f"There is no theme '{value}'",
            f"use one of {', '.join(sorted(themes))}; {key} was not saved",
        )
    if key == "ui.global_hotkey" and isinstance(value, str) and value.strip():
        # The config model only knows it is a string; the key names are checked here so a
        # typo is caught now rather than as a notice at the next start.
        from voicedesk.tui.global_hotkey import HotkeyError, parse_hotkey

        try:
            parse_hotkey(value)
        except HotkeyError as exc:
            raise ConfigError(exc.message, f"{exc.hint}; {key} was not saved") from None
    text = read_config_text(path) if path.exists() else ""
    try:
        doc = tomlkit.parse(text)
    except Exception as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    node: Any = doc
    parts = key.split(".")
    for part in parts[:-1]:
        if part not in node:
            node[part] = tomlkit.table()
        node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"Cannot set {key}: {part} is not a table in {path}")
    node[parts[-1]] = value
    checked: list[Settings] = []

    def validate(tmp: Path) -> None:
        try:
            checked.append(load_settings(tmp))
        except ConfigError as exc:
            message = exc.message.replace(str(tmp), str(path))
            raise ConfigError(message, f"{key} was not saved; {path} is unchanged") from None

    atomic_write(path, tomlkit.dumps(doc).encode("utf-8"), check=validate, mode=0o600)
    settings = checked[0]
    settings.source = path
    return key, settings
