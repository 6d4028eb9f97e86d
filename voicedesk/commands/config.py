"""``voicedesk config path|show|init``: where the config file lives, what is in effect, a template.

``show`` prints the merged result of defaults, the file and the environment as TOML, with
secrets (API keys, header values and env entries of MCP servers, anything named like a key,
token or password, passwords in URLs) reduced to "set (…last 4)" / "not set" / "***", so the
output can be pasted into a bug report. A config holding such a mask is refused on loading:
a saved ``show`` output never turns "not set" into an API key.
``init`` writes a commented template (every key, at its default) readable only by you, since
keys may be put in it; it never overwrites an existing file unless given ``--force``.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from voicedesk.commands import DocHelpFormatter
from voicedesk.errors import UserError
from voicedesk.files import atomic_write, cannot_write_fix, file_in_the_way, make_private_folder
from voicedesk.loopback import openai_address


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "config",
        description=__doc__,
        formatter_class=DocHelpFormatter,
    )
    # the actions by name, not "ACTION": `voicedesk config` alone said only "the following
    # arguments are required: ACTION", naming none of them
    actions = parser.add_subparsers(dest="action", metavar="{path,show,init}", required=True)
    p = actions.add_parser("path", help="print the config file path")
    p.set_defaults(func=run)
    p = actions.add_parser("show", help="print the effective settings as TOML (keys masked)")
    p.set_defaults(func=run)
    p = actions.add_parser("init", help="write a commented template config file")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing file (kept as .bak; .bak.1, .bak.2… when an older one is there)",
    )
    p.set_defaults(func=run)
    parser.set_defaults(func=run)


def config_path(args: argparse.Namespace) -> Path:
    """``--config FILE`` if given, else ``VOICEDESK_CONFIG``, else the user config dir."""
    from voicedesk.config import chosen_config_path

    return chosen_config_path(getattr(args, "config", None))[0]


def run(args: argparse.Namespace) -> int:
    from voicedesk.config import chosen_config_path

    action = getattr(args, "action", None)
    path, named_by = chosen_config_path(getattr(args, "config", None))
    if action == "path":  # where the file is (or would be): it need not exist yet
        print(path)
        return 0
    if action == "show":
        print(show_text(path, named_by=named_by), end="")
        return 0
    if action == "init":
        # the folder the config goes in (its own, e.g. ~/.config/voicedesk, or --config's
        # mistyped one) was made without a word
        missing = next((p for p in reversed(path.parents) if not p.is_dir()), None)
        backup = init(path, force=args.force)
        if missing is not None:
            # as a missing --output folder is said (files.make_named_folder)
            print(
                f"voicedesk: made the folder {missing} for the config (it did not exist)",
                file=sys.stderr,
            )
        # A file named by --config is checked only with --config again: a bare `voicedesk
        # doctor` checked the default file (or, with none, the defaults) and passed.
        again = f"--config {shlex.quote(str(path))} " if named_by == "--config" else ""
        print(
            f"Wrote {path} (readable only by you). Edit it, then check with "
            f"`voicedesk {again}doctor`."
        )
        if backup is not None:
            print(f"The file it replaced is kept as {backup}.")
        return 0
    raise UserError("Missing action.", "use `voicedesk config path`, `show` or `init`")


def _drop_none(value: Any) -> Any:
    """TOML has no null: unset settings are left out (their absence means the default)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value if v is not None]
    return value


def show_text(path: Path, *, named_by: str | None = None) -> str:
    """The effective settings as TOML with secrets masked; a bad config raises ConfigError."""
    import tomlkit

    from voicedesk.config import load_settings
    from voicedesk.config_secrets import masked

    settings = load_settings(path, named_by=named_by)
    doc = tomlkit.document()
    origin = str(path) if settings.source is not None else f"no file at {path}"
    doc.add(tomlkit.comment(f"Effective settings: defaults < {origin} < environment."))
    doc.add(tomlkit.comment("Secrets (keys, tokens, header values, MCP server env, passwords in"))
    doc.add(tomlkit.comment("URLs) are masked: loading this file back refuses the masks."))
    doc.add(tomlkit.nl())
    for key, value in _drop_none(masked(settings)).items():
        doc[key] = value
    _add_sdk_base_url(doc, settings)
    return tomlkit.dumps(doc)


def _add_sdk_base_url(doc: Any, settings: Any) -> None:
    """The OpenAI SDK takes OPENAI_BASE_URL (as `voicedesk sim` exports it) where no
    base_url is set: the LLM and the transcriber use that server, so it is shown."""
    import tomlkit

    from voicedesk.config_secrets import mask_text

    url = openai_address(None)
    if not url:
        return
    for section in ("llm", "stt"):
        if getattr(settings, section).base_url is None:
            item = tomlkit.item(mask_text(url))
            item.comment("from OPENAI_BASE_URL")
            doc[section]["base_url"] = item


def template_text() -> str:
    """The bundled commented template (every key at its default)."""
    return (resources.files("voicedesk") / "assets" / "config.toml").read_text(encoding="utf-8")


def init(path: Path, *, force: bool = False) -> Path | None:
    """Write the template atomically with mode 0600; an existing file needs ``force``, and
    is kept under a backup name no earlier backup has (returned; None when there was none)."""
    if path.is_dir():
        from voicedesk.config import FOLDER_IN_PLACE_HINT

        raise UserError(f"{path} is a directory, not a config file.", FOLDER_IN_PLACE_HINT)
    if path.exists() and not force:
        raise UserError(
            f"{path} already exists; not overwriting it.",
            "edit it directly, or pass --force to replace it with the template "
            "(the old file is kept as .bak)",
        )
    text = template_text()
    backup = None
    if path.is_symlink():  # a config kept elsewhere (a dotfiles repository) stays linked
        path = Path(os.path.realpath(path))
    in_the_way = file_in_the_way(path)  # mkdir would say "File exists", as if it were the config
    if in_the_way is not None:
        raise UserError(
            f"Cannot write {path}: {in_the_way} is a file, not a folder.",
            "pass a config path in a folder with --config",
        )
    try:
        make_private_folder(path.parent)  # the file is 0600, its folder too: 0700
        if path.exists() and path.read_bytes() != text.encode("utf-8"):  # the template: no copy
            backup = _backup_path(path)
            shutil.copy2(path, backup)
            os.chmod(backup, 0o600)
        atomic_write(path, text.encode("utf-8"), mode=0o600)  # it may come to hold keys
    except OSError as exc:
        raise UserError(
            f"Cannot write {path}: {exc.strerror or exc}.",
            cannot_write_fix(exc, path, "pass another file with --config"),
        ) from None
    return backup


def _backup_path(path: Path) -> Path:
    """``path.bak``, or the first free ``path.bak.N`` when an older backup holds something
    else (a second --force must not replace the first backup, perhaps the only copy of keys)."""
    current = path.read_bytes()
    backup, n = path.with_name(path.name + ".bak"), 0
    while backup.exists() and (not backup.is_file() or backup.read_bytes() != current):
        n += 1
        backup = path.with_name(f"{path.name}.bak.{n}")
    return backup
