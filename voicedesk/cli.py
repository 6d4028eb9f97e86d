"""The ``voicedesk`` command line.

Each sub-command lives in ``voicedesk/commands/<name>.py``, is listed in :data:`COMMANDS`
with its ``--help`` line, and exposes ``add_parser(subparsers) -> None`` (setting
``func=run`` via ``set_defaults``) and ``run(args) -> int``. Only the chosen command's module
is imported, and it imports its heavy dependencies inside ``run``, so that ``voicedesk
--version`` and ``--help`` stay instant. User errors (:class:`UserError`) become one
readable message and an exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import codecs
import contextlib
import errno
import importlib
import io
import logging
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from voicedesk import __version__
from voicedesk.exit_status import (
    BROKEN_PIPE,
    INTERRUPTED,
    OUTPUT_FAILED,
    SIGNALLED,
    USER_ERROR,
)

# Each command: its module and its line in `voicedesk --help`, in that order. The line is
# here, not in the module, so that `--help` and `--version` import no command module: all
# of them (asyncio, the simulator's scripts, the metrics) were 85 ms of a 140 ms `--version`.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "talk: on the sound devices, or over WAV files with --input/--output"),
    "demo": ("demo", "try voicedesk with no keys: bundled speech against the simulated cloud"),
    "replay": ("replay", "run the turn detector over a WAV file"),
    "devices": ("devices", "list microphones and speakers with their default rates"),
    "doctor": ("doctor", "check audio, model files, config, keys, tools and providers"),
    "config": ("config", "where the config lives, what it says (secrets masked), write a template"),
    "sim": ("sim", "run the simulated cloud (OpenAI + ElevenLabs protocols) on 127.0.0.1"),
    "bench": ("bench", "measure latency, turn detection, context and echo"),
    "docs-server": ("docs_server", "run the built-in MCP documents server over stdio"),
}


class _Choice(argparse._SubParsersAction):
    """A choice of command or action, which notes whose ``--help`` an unrecognized
    argument after it is to be looked up in (``voicedesk config init``'s, not voicedesk's)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        chosen = self._name_parser_map.get(values[0])
        if chosen is not None:  # (a nested choice's own call overwrites it: the innermost)
            setattr(namespace, _CHOSEN_PROG, chosen.prog)
        super().__call__(parser, namespace, values, option_string)


_CHOSEN_PROG = "_voicedesk_chosen_prog"  # the namespace's note of it, taken out once parsed


class _Commands(_Choice):
    """The commands, each module imported only once its command is chosen (or its parser
    is asked for): until then a command is a placeholder that holds its ``--help`` line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._modules: dict[str, str] = {}

    def add_command(self, name: str, module: str, help: str) -> None:
        super().add_parser(name, help=help)
        self._modules[name] = module

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if name in self._modules:  # the module's own parser replaces its placeholder
            del self._name_parser_map[name]
            kwargs.pop("help", None)  # its line is already listed
        return super().add_parser(name, **kwargs)

    def load(self, name: str) -> None:
        module = self._modules.pop(name, None)
        if module is not None:
            self._modules[name] = module  # until its add_parser has replaced the placeholder
            importlib.import_module(f"voicedesk.commands.{module}").add_parser(self)
            del self._modules[name]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        self.load(values[0])
        super().__call__(parser, namespace, values, option_string)


# Options of `voicedesk` itself, which argparse takes only before the command.
_GLOBAL_OPTIONS = ("--config", "--verbose", "--resume", "--version")


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint when a global option follows the command: "unrecognized
    arguments: --config x" after `voicedesk doctor --config x` did not say where it goes.

    A usage error is its one line (and any hint) and where the flags are listed, as a
    :class:`UserError` is said: argparse's usage block came first, 8 lines of every flag
    of `run` above the line that said what was wrong."""

    # whose ``--help`` lists the flags an error is about: this parser's own, or, for the
    # top-level parser's "unrecognized arguments", the chosen command's
    help_prog: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("action", "parsers", _Choice)  # its commands' actions too (config's)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            self.help_prog = getattr(parsed, _CHOSEN_PROG, None)
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        with contextlib.suppress(AttributeError):
            delattr(parsed, _CHOSEN_PROG)
        return parsed

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            extra = message.split(":", 1)[1].split()
            misplaced = [
                a.split("=")[0]
                for a in extra
                if a.split("=")[0] in _GLOBAL_OPTIONS or re.fullmatch(r"-v+", a)
            ]
            # Only a conversation can be continued: `voicedesk doctor --resume` was told to
            # put it before the command, where doctor ignored it (and the demo refuses it).
            if "--resume" in misplaced:
                misplaced.remove("--resume")
                message += (
                    "\n  → --resume continues a conversation, so only the terminal UI and "
                    "`run` take it: `voicedesk --resume` or `voicedesk run --resume`"
                )
            if misplaced:
                message += (
                    f"\n  → {', '.join(dict.fromkeys(misplaced))} belong(s) to voicedesk "
                    f"itself: put it before the command, like `voicedesk --config FILE "
                    f"doctor` or `voicedesk -v run …`"
                )
        # "invalid float value: '1,5'" is argparse's name of a type: say what was meant
        message = re.sub(
            r"invalid (float|int) value: ('.*')$",
            lambda m: f"{m[2]} is not a {'number' if m[1] == 'float' else 'whole number'}",
            message,
        )
        prog = self.help_prog or self.prog
        listed = "the commands and options" if prog == "voicedesk" else "its flags and values"
        # the command's error is said as its own: `voicedesk run: unrecognized …`
        self.exit(USER_ERROR, f"{prog}: {message}\n  → `{prog} --help` lists {listed}\n")


def build_parser(*, lazy: bool = False) -> argparse.ArgumentParser:
    """The whole command line; ``lazy``: a command's module is imported only if it is the
    one given (what `voicedesk` itself does), so ``--help`` and ``--version`` import none."""
    parser = _Parser(
        prog="voicedesk",
        description="A desktop voice assistant. With no command, opens the terminal UI.",
    )
    parser.add_argument("--version", action="version", version=f"voicedesk {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file, which must exist except for `config init` and `config path` "
        "(default: the user config dir; VOICEDESK_CONFIG)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the last conversation (with --sim, or against `voicedesk sim`: the last "
        "simulated one)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=_Commands)
    assert isinstance(sub, _Commands)
    for name, (module, line) in COMMANDS.items():
        sub.add_command(name, module, line)
    if not lazy:
        for name in COMMANDS:
            sub.load(name)
    return parser


class _NoticeFormatter(logging.Formatter):
    """ "[warning] …", as the conversation's notices are printed."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # other handlers see it unchanged
        record.levelname = record.levelname.lower()
        return super().format(record)


def _nearest_ascii(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: what the output's encoding lacks, written as its nearest ASCII
    ("→" as ">", "…" as "...", "é" as "e" where even that is missing)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    from anyascii import anyascii

    return anyascii(exc.object[exc.start : exc.end]), exc.end


def _output_never_fails() -> None:
    """Make stdout and stderr write what their encoding lacks as ASCII instead of raising.

    On a terminal or a redirect that is not UTF-8 (a Latin-1 locale, Windows' cp1252 when
    piped to a file) the first "→" or "…" of `doctor` or `config show` ended the command
    with a UnicodeEncodeError traceback, half its lines printed."""
    codecs.register_error("voicedesk-ascii", _nearest_ascii)
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, io.TextIOWrapper):
            continue
        try:
            utf8 = codecs.lookup(stream.encoding).name == "utf-8"
        except LookupError:
            utf8 = False
        if not utf8:
            stream.reconfigure(errors="voicedesk-ascii")


class StdoutError(OSError):
    """Standard output took no more: a full disk or ``/dev/full``, a closed descriptor."""


@contextlib.contextmanager
def _as_stdout_error() -> Iterator[None]:
    """An ``OSError`` out of a write to stdout, said to be stdout's; a reader that left
    (``BrokenPipeError``) is let through, for ``main`` to end quietly as on SIGPIPE."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise StdoutError(exc.errno, exc.strerror) from exc


class _GuardedStdout(io.TextIOWrapper):
    """stdout, whose write errors say they are stdout's: an ``OSError`` out of ``print`` is
    otherwise one of many, and `config path > /dev/full` ended in a traceback."""

    def write(self, s: str) -> int:
        with _as_stdout_error():
            return super().write(s)

    def flush(self) -> None:
        with _as_stdout_error():
            super().flush()


class _ClosedStdout(io.TextIOBase):
    """What a closed stdout (`voicedesk config path >&-`) becomes: Python makes it None,
    and ``print`` to None writes nothing, so the command printed nothing and said 0."""

    _tried = False

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._tried = True
        raise StdoutError(errno.EBADF, "it is closed")

    def flush(self) -> None:
        # argparse's --help and --version swallow a write's OSError: `--version >&-`
        # printed nothing and said 0. What was not written fails here, at ``entry``'s flush.
        if self._tried:
            raise StdoutError(errno.EBADF, "it is closed")


def _guard_stdout() -> None:
    """Route stdout's write errors to :func:`_stdout_failed`. A terminal is left as it is
    (it does not fill up, and the terminal UI draws on it)."""
    stdout = sys.stdout
    if stdout is None:
        sys.stdout = _ClosedStdout()
    elif type(stdout) is io.TextIOWrapper and not stdout.isatty():
        stdout.flush()
        sys.stdout = _GuardedStdout(
            stdout.buffer,
            encoding=stdout.encoding,
            errors=stdout.errors,
            line_buffering=stdout.line_buffering,
        )


def _stdout_failed(exc: OSError) -> int:
    """One line for a stdout that took no more, and exit 1 (as coreutils' "write error")."""
    try:
        # (none for a stdout closed at the start: fd 1 may be another file's by now)
        where = "" if _closed_at_start() else f" ({os.readlink('/proc/self/fd/1')})"
    except OSError:
        where = ""
    print(
        f"voicedesk: could not write to standard output{where}: {exc.strerror}; "
        + (
            "give it a terminal, a file or a pipe"
            if exc.errno == errno.EBADF
            else "redirect it to a file on a disk with room, or to a pipe"
        ),
        file=sys.stderr,
    )
    _stdout_to_devnull()
    return OUTPUT_FAILED


def _closed_at_start() -> bool:
    """Whether the process was started with stdout closed (`>&-`)."""
    return isinstance(sys.stdout, _ClosedStdout)


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so the flush at exit does not fail (and say so) again.
    fd 1 itself only when it is stdout's: a stdout closed at the start left fd 1 free, and
    whatever took it since is not ours (in a headless run, the event loop's epoll
    descriptor: replaced, the loop failed with a traceback and the run ended 120)."""
    if _closed_at_start():
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (to the end)
        return
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)


def leave_now(code: int) -> NoReturn:
    """End the process with ``code`` without waiting for its other threads: what is written
    at exit (the standard streams, the log handlers, the ``atexit`` clean-ups such as the
    demo's temporary folders) is written first. Not finalising the interpreter is also
    what keeps a native library busy on a thread from crashing as it is torn down.

    A Ctrl-C arriving while those clean-ups run (an impatient second one, its handler gone
    with the loop) raised KeyboardInterrupt inside one: "Exception ignored in atexit
    callback" and a traceback on the way out. The process is ending, so it is ignored.

    Here, not beside the other ways out in commands/termination.py: that module imports
    asyncio, and a Ctrl-C that broke off an import of asyncio during the command left it
    half-made, so importing it again on the way out failed with a NameError traceback."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
            signal.signal(sig, signal.SIG_IGN)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def entry() -> NoReturn:
    """The ``voicedesk`` command (called by :func:`voicedesk.entry.main`): ``main()``, then
    the process ends at once.

    By the time ``main()`` returns, the command has closed what it wrote (the session log
    fsync'd, the output WAV and the metrics file closed). The interpreter then still
    joined the threads whose work nobody would read (Whisper encoding its silence, not a
    daemon: a finalising interpreter crashed under it) and tore down every module and the
    models: 0.5-1.2 s after a headless run had ended, before the shell prompt came back.
    ``leave_now`` runs the ``atexit`` clean-ups and flushes the standard streams first."""
    _guard_stdout()
    code: int | None = None
    try:
        code = main()
        sys.stdout.flush()  # what is still buffered fails here, not unseen in leave_now
    except SystemExit as exit_:  # argparse's --help, --version and usage errors
        try:
            sys.stdout.flush()
        except StdoutError as exc:
            code = _stdout_failed(exc)
        except BrokenPipeError as exc:  # `voicedesk --help | true`
            code = stdout_lost(exc)
        else:
            raise exit_ from None
    except StdoutError as exc:
        code = _stdout_failed(exc)
    except BrokenPipeError as exc:
        # The reader left before what was still buffered could go (`voicedesk config path
        # | true`): a BrokenPipeError traceback and 1. Quiet and 141, as SIGPIPE ends a
        # command; a signal's status stands (a Ctrl-C that took the reader with it).
        lost = stdout_lost(exc)
        code = code if code is not None and code > SIGNALLED else lost
    except KeyboardInterrupt:
        # Ctrl-C before ``main`` handles it: while the parser is built and its command's
        # modules imported (the first 0.4 s of `bench latency`), it was a traceback
        code = INTERRUPTED
    leave_now(code)


def unknown_env_warnings(config_flag: str | os.PathLike[str] | None = None) -> list[str]:
    """One warning per VOICEDESK_ variable voicedesk does not read: a misspelt one was
    ignored without a word. The settings module (pydantic) is imported only when there is
    such a name to look up. ``config_flag``: ``--config``, whose file may name one of them
    as the key's variable (``llm.api_key_env``), read and so no warning's."""
    names = [
        var
        for var in os.environ
        if var.startswith("VOICEDESK_") and "__" not in var and var != "VOICEDESK_CONFIG"
    ]
    if not names:
        return []
    from voicedesk.config import chosen_config_path, key_env_names, unknown_env_names
    from voicedesk.errors import ConfigError

    try:
        in_use = key_env_names(os.environ, chosen_config_path(config_flag)[0])
    except ConfigError:  # (`--config ""`: refused with its fix when the settings load)
        in_use = key_env_names(os.environ, None)
    return [
        f"{var} is not a voicedesk variable and sets nothing: "
        + (
            f"did you mean {near}? (set that one instead)"
            if near
            else "unset it; settings are VOICEDESK_<SECTION>__<KEY>, two underscores "
            "(`voicedesk config init` writes a template naming every key)"
        )
        for var, near in unknown_env_names({var: os.environ[var] for var in names}, in_use)
    ]


def _warn_of_unknown_env_names(config_flag: str | None) -> None:
    """At the start of every command. The terminal UI says them again on its screen
    (``unknown_env_warnings``): said here alone, they were under it, read after quitting."""
    for warning in unknown_env_warnings(config_flag):
        logging.getLogger("voicedesk").warning("%s", warning)


def main(argv: Sequence[str] | None = None) -> int:
    _output_never_fails()
    parser = build_parser(lazy=True)
    args = parser.parse_args(argv)
    # past --help and --version, which need neither
    from voicedesk.config_secrets import SecretsLogFilter
    from voicedesk.errors import UserError, interrupted_import, note_ctrl_c

    note_ctrl_c()

    handler = logging.StreamHandler(sys.stderr)
    # -v is for digging: when and where. Without it a warning is read between the
    # conversation's own lines (`run --headless`), as its notices are, where a time stamp
    # and a module path were noise.
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.verbose
        else _NoticeFormatter("[%(levelname)s] %(message)s")
    )
    handler.addFilter(SecretsLogFilter())
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), handlers=[handler])
    if args.verbose < 2:  # its INFO lines quote every request's url, a password in it too
        # httpx2 is the openai SDK's own copy of httpx, with a logger of its own name
        for http_library in ("httpx", "httpx2"):
            logging.getLogger(http_library).setLevel(logging.WARNING)
    _warn_of_unknown_env_names(args.config)
    func = getattr(args, "func", None)
    try:
        if func is None:
            from voicedesk.commands import tui

            return tui.run(args)
        return int(func(args) or 0)
    except UserError as exc:
        print(f"voicedesk: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return INTERRUPTED
    except ImportError as exc:
        if interrupted_import(exc):
            return INTERRUPTED
        raise
    except BrokenPipeError:
        # The reader went away (`voicedesk doctor | head -1`): nothing more to say to it.
        return stdout_lost(BrokenPipeError())


def stdout_lost(exc: OSError) -> int:
    """The exit status of a command whose standard output failed with ``exc``: a reader
    that went away ends it quietly, as SIGPIPE ends a command (141); any other failure is
    said in one line (1). stdout is pointed at /dev/null (:func:`_stdout_to_devnull`), so
    the flush at exit does not fail again."""
    if not isinstance(exc, BrokenPipeError):
        return _stdout_failed(exc)
    _stdout_to_devnull()
    return BROKEN_PIPE  # as a process killed by SIGPIPE
