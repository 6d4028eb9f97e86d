"""``voicedesk docs-server``: the built-in MCP documents server over stdio.

Any MCP client can start it (the voicedesk engine does, and so can other assistants). Its
stdout carries the protocol, so this command prints nothing there: errors go to stderr.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from pathlib import Path

from voicedesk.commands import DocHelpFormatter, path_arg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "docs-server",
        description=__doc__,
        formatter_class=DocHelpFormatter,
    )
    p.add_argument(
        "--root",
        type=path_arg,
        metavar="DIR",
        help="workspace folder (default: tools.workspace from the config, else your "
        "documents folder, usually ~/Documents)",
    )
    p.add_argument(
        "--history",
        type=path_arg,
        metavar="DIR",
        help="undo-history folder (default: .<root name>.voicedesk-history beside the root; "
        "where that cannot be written, a folder in voicedesk's data folder)",
    )
    p.add_argument(
        "--slow",
        action="append",
        default=[],
        metavar="TOOL=SECONDS",
        help="make TOOL take SECONDS, like a slow remote server (demos and tests); repeatable",
    )
    p.add_argument(
        "--max-size",
        type=_megabytes,
        default=None,
        metavar="MB",
        help="largest .md/.txt document opened, in MB (default 5; Word and PDF files may be "
        "5 times that); bigger ones are refused with a message",
    )
    p.set_defaults(func=run)


def workspace_root(args: argparse.Namespace) -> Path:
    """--root, else the configured workspace, else the documents folder; it must be an
    existing folder."""
    from voicedesk.errors import UserError

    root: Path | None = args.root
    origin = "--root"
    if root is None:
        from voicedesk.config import cli_settings

        tools = cli_settings(getattr(args, "config", None)).tools
        root = tools.workspace_dir
        origin = "tools.workspace" if tools.workspace else "the default, your documents folder"
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise UserError(
            f"The workspace must be a folder, and {root} is a file",
            "pass the folder holding the documents: --root DIR (or tools.workspace)",
        )
    if not root.is_dir():
        # a folder that came from the config is fixed there too: "pass --root DIR" alone
        # left tools.workspace (or the documents folder default) unnamed as where it came from
        fix = "create it or pass --root DIR"
        if origin != "--root":
            fix = f"create it, set tools.workspace, or pass --root DIR (this one is {origin})"
        raise UserError(f"Workspace folder not found: {root}", fix)
    return root


def run(args: argparse.Namespace) -> int:
    from voicedesk.tools.docs_mcp import main
    from voicedesk.tools.docs_server import DEFAULT_MAX_MB

    max_mb = getattr(args, "max_size", None) or DEFAULT_MAX_MB
    root = workspace_root(args)
    main(root, history_folder(getattr(args, "history", None), root), parse_slow(args.slow), max_mb)
    return 0


def history_folder(history: Path | None, root: Path) -> Path | None:
    """--history, checked now: a file or an unwritable place named there would otherwise
    start fine and fail the first edit, with the person waiting for it."""
    from voicedesk.errors import UserError

    if history is None:
        return None
    history = Path(history).expanduser()
    real, real_root = Path(os.path.realpath(history)), Path(os.path.realpath(root))
    instead = "pass a folder you can write to with --history DIR, or leave --history out"
    # Inside the workspace its folder would hide the documents already there from every tool.
    where = (
        "the workspace folder"
        if real == real_root
        else "a folder holding the workspace"
        if real_root.is_relative_to(real)
        else "inside the workspace folder, where it would hide the documents in it"
        if real.is_relative_to(real_root)
        else None
    )
    if where is not None:
        raise UserError(
            f"The undo history cannot go in {history}: it is {where}",
            "pass a folder outside the workspace with --history DIR, or leave --history out "
            "to keep it beside the workspace",
        )
    if history.exists() and not history.is_dir():
        raise UserError(f"--history {history} is a file, not a folder", instead)
    try:
        history.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=history):
            pass
    except OSError as exc:
        raise UserError(
            f"Cannot keep the undo history in {history}: {exc.strerror or exc}", instead
        ) from None
    return history


def parse_slow(items: list[str]) -> dict[str, float]:
    from voicedesk.errors import UserError

    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
        if not name or not sep or seconds is None:
            raise UserError(f"--slow {item!r} is not TOOL=SECONDS", "e.g. --slow search=5")
        # `search=-1` was "not TOOL=SECONDS", which it is; `search=1e9` was taken, a call
        # that never came back
        if not 0 <= seconds <= MAX_SLOW_S:
            raise UserError(
                f"--slow {item!r}: SECONDS must be 0 to {MAX_SLOW_S:g}",
                "e.g. --slow search=5",
            )
        out[name] = seconds
    return out


MAX_SLOW_S = 3600.0  # a slow remote server, for a demo or a test: an hour at most


def _megabytes(value: str) -> float:
    try:
        mb = float(value)
    except ValueError:
        mb = 0.0
    if not 0 < mb < math.inf:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size in MB, like 5 or 0.5")
    return mb


def args_problem(extra: list[str]) -> str | None:
    """What the server would refuse in ``extra`` (``tools.docs_server_args``) at start, in
    its own words, or None: for ``voicedesk doctor``, since a session only finds the tools
    off. The undo-history folder is not checked here, as checking it creates it."""
    import contextlib
    import io

    from voicedesk.errors import UserError
    from voicedesk.tools.docs_server import TOOL_NAMES

    parser = argparse.ArgumentParser(prog="voicedesk", add_help=False)
    add_parser(parser.add_subparsers())
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            args = parser.parse_args(["docs-server", *extra])
        unknown = sorted(set(parse_slow(args.slow)) - set(TOOL_NAMES))
    except SystemExit:
        lines = said.getvalue().strip().splitlines()
        return lines[-1].partition("error: ")[2] or lines[-1] if lines else "not accepted"
    except UserError as exc:
        return exc.message
    if unknown:
        return f"--slow names unknown tool(s): {', '.join(unknown)}"
    return None
