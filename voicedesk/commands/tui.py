"""The terminal UI entry point (no sub-command, ``run`` and ``demo`` without ``--headless``).

Textual draws the screen on the terminal's stderr stream, while PortAudio/ALSA and native
libraries print warnings straight to file descriptor 2 — those would corrupt the screen. So
for the app's lifetime fd 2 goes to a log file, and Textual gets a private copy of the
terminal stream instead. Resources a session needs beyond itself (the simulated cloud) are
entered on an :class:`AsyncExitStack` owned here and closed after the app exits.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from voicedesk.config_secrets import SecretsLogFilter
from voicedesk.daemon_thread import on_daemon_thread

log = logging.getLogger(__name__)


# The terminal UI's logs kept: one is written per start, and none was ever removed.
TUI_LOGS_KEPT = 20


def log_file_path() -> Path:
    """This start's log file, in the data folder's logs; the oldest of the earlier starts'
    logs go, so that with this one there are at most :data:`TUI_LOGS_KEPT`. A log a day
    (each may quote a notice about the conversation) piled up there for good."""
    from voicedesk.config import data_dir
    from voicedesk.files import make_data_folder

    folder = data_dir() / "logs"
    make_data_folder(folder, "the terminal UI's log", "its logs")
    earlier = sorted(folder.glob("tui-*.log"), key=_modified)  # oldest first
    for old in earlier[: max(0, len(earlier) - (TUI_LOGS_KEPT - 1))]:
        with contextlib.suppress(OSError):  # another start took it first, or it is not ours
            old.unlink()
    return folder / f"tui-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # gone meanwhile
        return 0.0


@contextlib.contextmanager
def stderr_to_log(path: Path, verbose: int = 0) -> Iterator[None]:
    """Send fd 2 and logging to ``path``; keep the terminal for Textual via ``sys.__stderr__``."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))  # private, as the
    log_fh = path.open("a", encoding="utf-8", buffering=1)  # session log: it may quote secrets
    term_fd = os.dup(2)
    term = os.fdopen(term_fd, "w", encoding="utf-8", errors="replace", closefd=False)
    original_dunder, original_stderr = sys.__stderr__, sys.stderr
    root = logging.getLogger()
    old_handlers, old_level = list(root.handlers), root.level
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretsLogFilter())  # the log is private, and still gets pasted
    sys.stderr.flush()
    os.dup2(log_fh.fileno(), 2)
    # Textual's Linux driver writes the screen to sys.__stderr__, which typeshed marks Final
    # (a constant of the interpreter's): swapped here on purpose, and put back below
    sys.__stderr__ = term  # type: ignore[misc]
    sys.stderr = log_fh
    for old in old_handlers:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for old in old_handlers:
            root.addHandler(old)
        root.setLevel(old_level)
        with contextlib.suppress(Exception):
            term.flush()
        os.dup2(term_fd, 2)
        sys.__stderr__, sys.stderr = original_dunder, original_stderr  # type: ignore[misc]
        term.close()
        os.close(term_fd)
        log_fh.close()


def require_a_terminal(*, demo: bool = False) -> None:
    """Refuse to start without a terminal to draw on and read keys from: with stdin from
    /dev/null or a pipe Textual draws escape codes into the void and never ends, since no
    key can reach it."""
    from voicedesk.errors import UserError

    screen = sys.__stderr__  # where Textual draws
    instead = (
        "`voicedesk demo --headless` (it prints the conversation)"
        if demo
        else "`voicedesk run --headless --input IN.wav --output OUT.wav` (add --sim for "
        "the simulated cloud)"
    )
    if not (sys.stdin.isatty() and screen is not None and screen.isatty()):
        raise UserError(
            "The terminal UI needs a terminal: its input or output is a file or a pipe",
            f"run it in a terminal window, or use {instead}",
        )
    if os.environ.get("TERM") == "dumb":
        # (Emacs' shell, some IDE consoles): Textual drew its 24-bit colours, alternate
        # screen and mouse modes there all the same, a screenful of escape codes as text
        raise UserError(
            "The terminal UI cannot draw on this terminal (TERM=dumb: no cursor movement, "
            "no colours)",
            f"run it in a terminal emulator (TERM=xterm-256color or the like), or use {instead}",
        )


def run(args: argparse.Namespace) -> int:
    from voicedesk.commands.run import load_run_settings
    from voicedesk.config import chosen_config_path

    settings = load_run_settings(args)  # a bad config fails here, before the screen changes
    require_a_terminal(demo=getattr(args, "demo", False))
    config_path, _ = chosen_config_path(getattr(args, "config", None))
    path = log_file_path()
    # Registered before the app starts, so it runs after the handlers registered while it
    # ran (the demo's temporary folders are removed by those): atexit goes last-in first-out.
    done: list[int] = []
    atexit.register(_exit_without_teardown, done)
    with stderr_to_log(path, getattr(args, "verbose", 0)):
        log.info("voicedesk TUI starting; log file %s", path)
        started = time.time()
        code = asyncio.run(_run_app(args, settings, path, config_path))
    output = getattr(args, "output", None)
    if output is not None:  # the terminal is back: say where the speaker's side went
        written = Path(output).is_file() and Path(output).stat().st_mtime >= started - 1
        print(
            f"The assistant's audio is in {output}"
            if written
            else f"{output} was not written: the conversation did not start",
            file=sys.stderr,
        )
    done.append(code)
    return code


def _exit_without_teardown(done: list[int]) -> None:
    """The last step of quitting: skip the interpreter's own teardown.

    ``done`` holds the exit code once the app has closed; an exception on the way out
    leaves it empty, and the interpreter ends as usual (with its own code). By now the
    session is stopped, the session log (written and fsync'd line by line), the metrics file
    and the log file are closed. Started as the ``voicedesk`` command (``cli.entry``), the
    non-daemon threads (the local Whisper reader's silence encoding among them) are not
    waited for either; called as ``main()`` in a process of its own, the interpreter has
    waited for them before atexit handlers run. What is left is tearing down every module and collecting the models' and
    Textual's objects, 1–2 s with the terminal already given back and nothing to save. This
    handler flushes logging and the standard streams and ends the process.
    """
    if not done:
        return
    code = done[0]
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


async def _run_app(
    args: argparse.Namespace, settings: Any, log_path: Path, config_path: Path
) -> int:
    from voicedesk.cli import unknown_env_warnings
    from voicedesk.tui.app import VoiceDeskApp

    demo = bool(getattr(args, "demo", False))
    sim = bool(getattr(args, "sim", False))
    async with contextlib.AsyncExitStack() as stack:
        factory = session_factory(args, settings, stack)
        app = VoiceDeskApp(
            settings,
            factory,
            demo=demo,
            log_path=log_path,
            config_path=config_path,
            simulated=sim,
            freeze_heap=True,
            # logged on stderr before the screen was taken, where they were read only after
            # quitting: said on the screen as well
            start_warnings=unknown_env_warnings(config_path),
        )
        from voicedesk.commands.termination import on_termination
        from voicedesk.exit_status import SIGNALLED

        try:
            # SIGTERM, and SIGHUP (the terminal window closed), quit as ctrl+q does: the
            # answer cut where it was heard and logged. Left alone, SIGHUP killed the
            # process on the spot, and the turn being answered was lost from the log.
            with on_termination(
                lambda signum: app.exit(return_code=SIGNALLED + signum),
                (signal.SIGTERM, signal.SIGHUP),
            ):
                await app.run_async()
        finally:
            await app.stop_session()
            log.info("app closed; releasing resources")
    log.info("resources released")
    return app.return_code or 0


def session_factory(
    args: argparse.Namespace, settings: Any, stack: contextlib.AsyncExitStack
) -> Any:
    """``make_session(bus)`` for the app: demo, ``run --sim`` or the configured providers."""

    async def make_session(bus: Any) -> Any:
        from voicedesk.engine.builder import SimOptions, build_session, settings_for_sim, sim_server
        from voicedesk.errors import UserError

        demo = bool(getattr(args, "demo", False))
        input_path = getattr(args, "input", None)
        output_path = getattr(args, "output", None)
        no_tools = bool(getattr(args, "no_tools", False))
        use = settings
        sim: Any = None
        if demo:
            from voicedesk.commands.demo import prepare

            use, input_path, output_path, sim = prepare(args)
            args.output = output_path  # said when the terminal is back, as run's --output is
        elif getattr(args, "sim", False):
            sim = SimOptions(
                ttft_s=getattr(args, "sim_ttft", None),
                ttfb_s=getattr(args, "sim_ttfb", None),
                stt_s=getattr(args, "sim_stt", None),
                tokens_per_s=getattr(args, "sim_tokens_per_s", None),
                script=getattr(args, "sim_script", None),
                faults=getattr(args, "sim_fault", []),
            )
        if input_path is not None and not Path(input_path).is_file():
            raise UserError(
                f"Input file not found: {input_path}", "pass an existing WAV file to --input"
            )
        if sim is not None:
            server = await stack.enter_async_context(sim_server(sim))
            use = settings_for_sim(use, server.base_url)
        metrics_out = getattr(args, "metrics_out", None)
        if metrics_out:
            _write_metrics(bus, Path(metrics_out), stack)
        extra: dict[str, Any] = {"log_kind": "demo" if demo else ("sim" if sim else "")}
        if getattr(args, "resume", False) and not demo:
            extra["resume"] = True  # continue the last conversation's context
        # Off the event loop: importing the providers' SDKs and loading the on-device models
        # takes seconds (3.5 s here, more on a busy machine), during which the screen was
        # drawn but took no key. What it publishes meanwhile reaches the app through
        # post_message, which is thread-safe. On a daemon thread, not the loop's executor:
        # quitting while it built, ``asyncio.run`` joined the executor's threads, and the
        # terminal sat blank 5-7 s after ctrl+q until the models had loaded for nothing.
        session = await on_daemon_thread(
            functools.partial(
                build_session,
                use,
                input_path=input_path,
                output_path=output_path,
                bus=bus,
                with_tools=False if no_tools else (True if demo else None),
                typing_fallback=True,  # the app takes typed turns: no microphone is no dead end
                # A WAV microphone goes on in silence until the person quits: after the
                # file and 300 s its clock stopped, and every later answer hung "thinking".
                tail_s=None,
                **extra,
            ),
            name="voicedesk-build",
        )
        if input_path is not None:
            _wav_talks_while_listened_to(session)
            _tell_about_the_wav_files(
                session, bus, stack, demo=demo, heard=input_path, output=output_path
            )
        return session

    return make_session


def _wav_talks_while_listened_to(session: Any) -> None:
    """A WAV microphone in the terminal UI is a person who talks only while the microphone
    listens: hands-free, or push-to-talk with the talk key down, and not muted. It played
    from launch whatever the talk key did, so in push-to-talk its words went by while the
    key was up, and the key only ever caught whatever part was playing then."""
    from voicedesk.audio.file_backend import FileDuplex

    backend = session.audio.backend
    if isinstance(backend, FileDuplex):  # (one a simulated room wraps is left as it was)
        backend.talks_when(
            lambda: not session.muted and (session.mode == "hands-free" or session.talk_key_down)
        )


def _tell_about_the_wav_files(
    session: Any,
    bus: Any,
    stack: contextlib.AsyncExitStack,
    *,
    demo: bool,
    heard: Path,
    output: Path | None,
) -> None:
    """A WAV microphone (the demo's recording, ``--input``) in the terminal UI: the answers
    go to a file, never played, and once the recording was over the screen sat at
    "listening" for good, nothing saying where the answers went or that nothing more was
    coming. The demo says at start what it is, and any WAV microphone says when it has
    been heard to its end (its last turn answered), with where the answers are."""
    from voicedesk import events as ev
    from voicedesk.audio.wavio import partial_path

    backend = session.audio.backend
    # The answers grow in the partial file while the terminal UI is open (the person may
    # type more) and are moved to ``output`` only at the end: "the answers are in
    # answers.wav" named a file that was not there yet.
    where = (
        f"the answers so far are in {partial_path(output)}, which becomes {output} when you quit"
        if output
        else "the answers were not kept"
    )
    if demo and output is not None:
        bus.publish(
            ev.Notice(
                level="info",
                message=f"The demo: a recorded person ({heard}) talks to voicedesk "
                f"for about {round(backend.duration_s / 10) * 10} s and the simulated cloud "
                f"answers. The answers are not played: they grow in {partial_path(output)}, "
                f"which becomes {output} when you quit.",
                kept=True,
            )
        )
    elif output is None:
        # Said only at the end ("the answers were not kept"), after the person had sat
        # through the whole recording expecting to find them; `run --headless` says it
        # at start.
        bus.publish(
            ev.Notice(
                level="warning",
                message=f"The input file ({heard.name}) is the microphone and there is no "
                "--output: the answers are shown, not played or kept. To keep them, quit "
                "and start again with --output OUT.wav.",
                kept=True,
            )
        )

    async def heard_out() -> None:
        while not backend.finished.is_set():
            await asyncio.sleep(0.25)
        with contextlib.suppress(TimeoutError):  # as a headless run waits for it
            await asyncio.wait_for(session.wait_heard_out(backend.duration_s), timeout=120)
        what = (
            "The demo's conversation is over"
            if demo
            else f"The input file ({heard.name}) was heard to its end"
        )
        # the text box has the focus from now on (as without a microphone): there "t" and
        # "q" are letters of the message, and "t types more; q quits" typed "tq"
        message = f"{what}: {where}. Type to go on (Enter sends); ctrl+q quits."
        bus.publish(ev.Notice(level="info", message=message, kept=True))
        bus.publish(ev.MicrophoneEnded())

    task = asyncio.get_running_loop().create_task(heard_out())
    stack.callback(task.cancel)


def _write_metrics(bus: Any, path: Path, stack: contextlib.AsyncExitStack) -> None:
    """Append each turn's metrics record as ``run --headless`` does: the same writer, so a
    file gathering both kinds of run has one line shape and every run its own ``run_id``."""
    from voicedesk.commands.run import MetricsWriter

    metrics = MetricsWriter(path)
    stack.callback(metrics.close)
    stack.callback(bus.subscribe(metrics))
