"""``voicedesk run``: a conversation on the sound devices or over WAV files.

``--headless`` runs without the TUI and prints the conversation and per-turn timings.
``--input``/``--output`` replace the microphone/speaker with WAV files on one timeline
(output sample n lines up with input sample n), paced in real time. ``--room`` puts the
WAV microphone in a simulated laptop room: it also hears a delayed, reverberant copy of
what is played, so echo cancellation and barge-in run as on laptop speakers. ``--sim``
starts the simulated cloud in-process, so no keys or network are needed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from voicedesk.commands import DocHelpFormatter, path_arg
from voicedesk.config_secrets import hide_secrets
from voicedesk.errors import ProviderError, UserError
from voicedesk.files import (
    cannot_write_fix,
    file_in_the_way,
    make_named_folder,
    open_private_log,
)

# run and demo say the same, as they write the file the same way (MetricsWriter)
METRICS_OUT_HELP = (
    "append per-turn metrics here, one JSON line per turn; each line's run_id tells this "
    "run from others in the same file. Its stages (eou_delay, stt_delay, ttft, ttfb, "
    "voice_to_voice, ...) are never negative: a transcript ready before the speech ended "
    "(the talk key held past a pause) has stt_delay 0. Only a difference between an audio "
    "block's place (playback_start) and a moment on the loop's clock (tts_first_audio), as "
    "bench latency's to_speaker, can read negative, on a loaded machine"
)


def add_sim_delays(parser: argparse.ArgumentParser) -> None:
    """The simulated cloud's delays, as `run --sim` and `demo` both take them."""
    parser.add_argument(
        "--sim-ttft", type=float, metavar="S", help="simulated LLM time to first token (0 to 60 s)"
    )
    parser.add_argument(
        "--sim-ttfb", type=float, metavar="S", help="simulated TTS time to first audio (0 to 60 s)"
    )
    parser.add_argument(
        "--sim-stt", type=float, metavar="S", help="simulated STT finalisation delay (0 to 60 s)"
    )


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--headless", action="store_true", help="no TUI; print the conversation")
    parser.add_argument("--sim", action="store_true", help="use the built-in simulated cloud")
    add_sim_delays(parser)
    parser.add_argument(
        "--sim-tokens-per-s",
        type=float,
        metavar="N",
        help="simulated LLM speed (1 to 1,000,000 tokens/s)",
    )
    parser.add_argument(
        "--sim-script",
        type=path_arg,
        metavar="FILE",
        help="what the simulated cloud hears and says (TOML/JSON; format: voicedesk sim --help)",
    )
    add_sim_fault(parser, "with --sim, make")
    parser.add_argument("--metrics-out", type=path_arg, metavar="FILE.jsonl", help=METRICS_OUT_HELP)
    parser.add_argument("--mode", choices=["hands-free", "push-to-talk"], help="turn-taking mode")
    parser.add_argument("--no-tools", action="store_true", help="do not start MCP tool servers")


def add_force(parser: argparse.ArgumentParser) -> None:
    """``--force``: replace an existing --output, as `config init --force` replaces a config."""
    parser.add_argument(
        "--force", action="store_true", help="replace the --output file if it exists"
    )


def add_sim_fault(parser: argparse.ArgumentParser, lead: str) -> None:
    """``--sim-fault``, parsed and checked by the same function as ``voicedesk sim --fault``,
    so a value one accepts the other does too, with the same message when it does not."""
    from voicedesk.commands.sim import parse_fault

    parser.add_argument(
        "--sim-fault",
        type=parse_fault,
        action="append",
        default=[],
        metavar="PROVIDER:FAULT[:N]",
        help=f"{lead} the simulated cloud fail the next N requests to PROVIDER with FAULT, "
        "to see a failure reported and the conversation go on; repeatable. The first few "
        "can go unseen (a quick failure is retried once, an answer begun before the turn "
        "ended is begun again): raise N, e.g. llm:500:6, to see an answer fail. The faults "
        "are listed in: voicedesk sim --help",
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    from voicedesk.exit_status import exit_status_help

    parser = sub.add_parser(
        "run",
        description=f"{__doc__}\n{exit_status_help()}",
        formatter_class=DocHelpFormatter,
    )
    parser.add_argument(
        "--input",
        type=path_arg,
        metavar="IN.wav",
        help="WAV file as the microphone; the answers then go to --output alone (without it "
        "they are shown, not played). In the terminal UI the file talks only while the "
        "microphone listens (in push-to-talk, while the talk key is down)",
    )
    parser.add_argument(
        "--output",
        type=path_arg,
        metavar="OUT.wav",
        help="WAV file as the speaker; until the run ends the audio grows in OUT.partial.wav "
        "beside it (a valid WAV at every moment: what a killed run leaves). An existing "
        "OUT.wav is refused unless --force is given",
    )
    add_force(parser)
    parser.add_argument(
        "--room",
        nargs="?",
        const="",
        type=room_arg,
        metavar="KEY=VALUE,…",
        help="with --input: the WAV microphone also hears what is played, through a "
        "simulated laptop room (echo cancellation on, as on speakers); keys: "
        + ", ".join(f"{k} (default {v})" for k, v in ROOM_DEFAULTS.items()),
    )
    # `voicedesk run --resume` is how many will type it; SUPPRESS keeps `voicedesk --resume
    # run` working, since a default here would overwrite the top-level flag's value
    parser.add_argument(
        "--resume",
        action="store_true",
        default=argparse.SUPPRESS,
        help="continue the last conversation (with --sim, or against `voicedesk sim`: the last "
        "simulated one); the same "
        "as `voicedesk --resume run`",
    )
    add_common(parser)
    parser.set_defaults(func=run)


# SimulatedRoom's keyword arguments (voicedesk/audio/room.py) and their defaults
ROOM_DEFAULTS: dict[str, float] = {
    "delay_ms": 60.0,
    "echo_db": -6.0,
    "noise_dbfs": -65.0,
    "rt60_s": 0.25,
    "seed": 0,
}


def _room_value_problem(key: str, number: float) -> str | None:
    """What is wrong with a --room value, if anything. numpy's generator took a negative
    seed with a traceback and a fractional one as another seed; an echo 100 dB over the
    person or noise above full scale made a clipped square wave of the microphone."""
    if key == "seed" and (number < 0 or not number.is_integer()):
        return "the seed is a whole number ≥ 0, e.g. seed=1"
    if key == "echo_db" and not -40 <= number <= 10:  # as `bench echo --echo-db`
        return "use −40 … 10 dB (the echo's level against the person's)"
    if key == "noise_dbfs" and not -120 <= number <= 0:
        return "use −120 … 0 dBFS (0 is full scale)"
    # With no upper bound a typo ran: delay_ms=1e9 asked numpy for 64 GB of delay line,
    # delay_ms=600000 moved 38 MB of it at every 10 ms block, rt60_s=6000 built a
    # 96-million-sample impulse response convolved with every block played. A laptop's
    # path is tens of ms and a bare room's reverberation under a second: `bench echo`'s
    # own ranges (--path-ms, --rt60), widened.
    if key == "delay_ms" and not 0 <= number <= 1000:
        return "use 0 … 1000 ms (the speaker-to-microphone delay)"
    if key == "rt60_s" and not 0 < number <= 2:
        return "use rt60_s > 0 and at most 2 s, e.g. rt60_s=0.3"
    return None


def room_arg(spec: str) -> dict[str, float]:
    """``--room``'s value, e.g. ``delay_ms=120,echo_db=0``: SimulatedRoom's arguments."""
    room = dict(ROOM_DEFAULTS)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in ROOM_DEFAULTS:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not KEY=VALUE with a KEY of {', '.join(ROOM_DEFAULTS)}"
            )
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{key}={value!r}: not a number") from None
        if not math.isfinite(number):
            raise argparse.ArgumentTypeError(f"{key}={value!r}: not a finite number")
        if problem := _room_value_problem(key, number):
            raise argparse.ArgumentTypeError(f"{key}={value.strip()}: {problem}")
        room[key] = number
    return room


def run(args: argparse.Namespace) -> int:
    if args.sim_fault and not args.sim:
        # only the in-process simulated cloud can be told to fail; a real provider cannot
        raise UserError(
            "--sim-fault needs --sim: faults are injected into the simulated cloud only",
            "add --sim, e.g. voicedesk run --sim --sim-fault llm:500:6",
        )
    given = [
        "--" + name.replace("_", "-")
        for name in ("sim_ttft", "sim_ttfb", "sim_stt", "sim_tokens_per_s", "sim_script")
        if getattr(args, name, None) is not None
    ]
    if given and not args.sim:
        # without --sim they would be ignored and the real providers used
        raise UserError(
            f"{', '.join(given)} {'needs' if len(given) == 1 else 'need'} --sim: "
            "they set up the simulated cloud, and without --sim the real providers are used",
            f"add --sim, e.g. voicedesk run --sim {given[0]} …",
        )
    if not args.headless:
        # before check_run_args, which makes the --output and --metrics-out folders: a run
        # refused for want of a terminal left them behind, empty
        from voicedesk.commands import tui

        tui.require_a_terminal()
    check_run_args(args)
    if not args.headless:
        return tui.run(args)
    from voicedesk.commands.termination import until_terminated

    return asyncio.run(until_terminated(run_headless(args, freeze_heap=True), leave=True))


def check_run_args(args: argparse.Namespace) -> None:
    """Every file and number the run needs, checked before anything starts: a bad --output
    found only at the end would cost the whole conversation's audio."""
    check_sim_latency(args)
    if isinstance(getattr(args, "sim_script", None), Path):
        from voicedesk.sim.script import SimScript

        # read here, so a refusal names the flag (and comes before any folder is made);
        # the simulated cloud takes the script read, as it takes a path
        args.sim_script = SimScript.load(args.sim_script, flag="--sim-script")
    inp = getattr(args, "input", None)
    if getattr(args, "room", None) is not None and inp is None:
        raise UserError(
            "--room needs --input: the simulated room wraps a WAV microphone",
            "add --input IN.wav (a recording of the person), e.g. voicedesk run --headless "
            "--sim --input in.wav --output out.wav --room",
        )
    if inp is not None:
        from voicedesk.audio.wavio import check_readable

        if inp.is_dir():
            raise UserError(f"--input {inp} is a directory", "pass a WAV file to --input")
        if not inp.exists() and str(inp) != "-":
            raise UserError(f"Input file not found: {inp}", "pass an existing WAV file to --input")
        check_readable(inp)  # "-", a pipe or a device, an empty or unreadable file: said so
        check_input_audio(inp)
    for flag, attr, example in (
        ("--output", "output", "answers.wav"),
        ("--metrics-out", "metrics_out", "metrics.jsonl"),
    ):
        if str(getattr(args, attr, None)) == "-":  # it was a file called "-" in this folder
            raise UserError(
                f"{flag} -: writing to standard output is not supported",
                f"give a file name, e.g. {flag} {example}",
            )
    output = getattr(args, "output", None)
    if output is not None:
        if not output.is_dir() and output.suffix.lower() not in {".wav", ".wave"}:
            # the answers are written as WAV whatever the name: a ".flac" would hold a WAV
            raise UserError(
                f"--output {output}: the answers are written as a WAV file",
                f"give it a .wav name, e.g. --output {output.with_suffix('.wav')}",
            )
        check_writable(output, "--output")
    if getattr(args, "metrics_out", None) is not None:
        check_writable(args.metrics_out, "--metrics-out")
    check_distinct_files(args)  # --output over the --input: said as that, not as --force's
    if output is not None:
        from voicedesk.audio.wavio import partial_in_the_way, partial_path

        if partial_path(output).exists():  # found only at the start, after the set-up
            raise partial_in_the_way(output)
        if output.is_file() and not getattr(args, "force", False):
            # a second `demo --output d.wav` wrote over the first one's answers unsaid
            raise UserError(
                f"--output {output} already exists; not overwriting it.",
                "give --output another name, or add --force to replace it",
            )
    # made only now, every check passed: a refusal (of this flag or a later one) left the
    # folder behind, announced as made for a run that never was
    for flag, attr in (("--output", "output"), ("--metrics-out", "metrics_out")):
        if getattr(args, attr, None) is not None:
            make_output_folder(Path(getattr(args, attr)), flag)


def check_input_audio(path: Path) -> None:
    """--input is audio with samples in it. Found only when the run reads it, an unreadable
    file had already created an empty --metrics-out, and a file of no samples ran on to
    "No speech was heard" and wrote seconds of silence as the output."""
    from voicedesk.audio.wavio import count_frames

    if count_frames(path) == 0:
        raise UserError(
            f"--input {path} holds no audio (0 samples)",
            "pass a recording of someone speaking to --input",
        )


def check_distinct_files(args: argparse.Namespace) -> None:
    """--input, --output and --metrics-out name three different files: writing the answers or
    the metrics over the recording being played would destroy it."""
    from voicedesk.audio.wavio import partial_path

    named = [
        (flag, path)
        for flag, path in (
            ("--input", getattr(args, "input", None)),
            ("--output", getattr(args, "output", None)),
            ("--metrics-out", getattr(args, "metrics_out", None)),
        )
        if path is not None
    ]
    for i, (flag_a, a) in enumerate(named):
        for flag_b, b in named[i + 1 :]:
            if Path(a).resolve() == Path(b).resolve():
                raise UserError(
                    f"{flag_a} and {flag_b} are the same file ({a}): it would be overwritten",
                    f"give {flag_b} a different path",
                )
    output = getattr(args, "output", None)
    if output is None:
        return
    growing = Path(partial_path(output)).resolve()  # where the output grows until the end
    for flag, path in named:
        if flag != "--output" and Path(path).resolve() == growing:
            raise UserError(
                f"{flag} {path} is where --output {output} grows while the run goes on: "
                "it would be overwritten",
                f"give {flag} or --output another name",
            )


# The simulated cloud's ranges. Above them a typo (`--sim-ttft 1e9`, `--sim-tokens-per-s
# 1e-9`) was taken, and every turn then failed on the engine's timeouts (exit 3), the flag
# unnamed. A minute's delay is far past every provider timeout (15 s to the first token by
# default, 120 s at most), so a deliberately slow server can still be simulated; at one
# token a second a 100-token answer already takes as long.
MAX_SIM_DELAY_S = 60.0
MIN_SIM_TOKENS_PER_S = 1.0
MAX_SIM_TOKENS_PER_S = 1_000_000.0


def check_latency(flag: str, value: float | None, *, positive: bool = False) -> None:
    """A simulated delay (0 … 60 s) or speed (1 … 1 000 000 tokens a second): the same
    rule for `run`, `demo` and `sim`, said with its range."""
    if value is None:
        return
    if positive:
        if not MIN_SIM_TOKENS_PER_S <= value <= MAX_SIM_TOKENS_PER_S:  # (NaN is in no range)
            raise UserError(
                f"{flag} must be {MIN_SIM_TOKENS_PER_S:g} to {MAX_SIM_TOKENS_PER_S:,.0f} "
                f"tokens a second, got {value:g}",
                f"e.g. {flag} 60 (the default), or leave it out",
            )
        return
    if not 0 <= value <= MAX_SIM_DELAY_S:
        raise UserError(
            f"{flag} must be 0 to {MAX_SIM_DELAY_S:g} seconds, got {value:g}",
            f"e.g. {flag} 0.5, or leave it out for the default",
        )


def check_sim_latency(args: argparse.Namespace) -> None:
    for name in ("sim_ttft", "sim_ttfb", "sim_stt"):
        check_latency("--" + name.replace("_", "-"), getattr(args, name, None))
    check_latency("--sim-tokens-per-s", getattr(args, "sim_tokens_per_s", None), positive=True)


def check_writable(path: Path, flag: str) -> None:
    """``path`` can be created or replaced: its folder exists and takes a new file, or the
    nearest folder above it that exists takes a new folder. Nothing is left behind:
    :func:`make_output_folder` makes the missing folders once every check has passed."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path} is a directory", f"pass a file path to {flag}")
    in_the_way = file_in_the_way(path)  # mkdir said "File exists", naming neither
    if in_the_way is not None:
        raise UserError(
            f"Cannot write {flag} {path}: {in_the_way} is a file, not a folder",
            f"pass a {flag} path in a folder",
        )
    try:
        if path.parent.is_dir():
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=path.parent)
            os.close(fd)
            os.unlink(probe)
        else:
            above = next(p for p in path.parent.parents if p.is_dir())
            os.rmdir(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".probe", dir=above))
    except OSError as exc:
        raise UserError(
            f"Cannot write {flag} {path}: {exc.strerror or exc}",
            cannot_write_fix(exc, path, f"pass a {flag} path in a folder you can write to"),
        ) from None


def make_output_folder(path: Path, flag: str) -> None:
    """Make the folder of ``path`` (checked by :func:`check_writable`), saying so."""
    try:
        make_named_folder(path.parent, flag)
    except OSError as exc:  # a name too long, a disk filled since the check
        raise UserError(
            f"Cannot write {flag} {path}: {exc.strerror or exc}",
            cannot_write_fix(exc, path, f"pass a {flag} path in a folder you can write to"),
        ) from None


def load_run_settings(args: argparse.Namespace) -> Any:
    from voicedesk.config import cli_settings

    overrides: dict[str, Any] = {}
    if getattr(args, "mode", None):
        overrides["turn"] = {"mode": args.mode}
    if getattr(args, "demo", False):
        # the demo's recorded person just talks: it needs hands-free, whatever the config says
        overrides["turn"] = {"mode": "hands-free"}
    return cli_settings(getattr(args, "config", None), overrides=overrides)


async def run_headless(
    args: argparse.Namespace,
    *,
    input_path: Path | None = None,
    quiet: bool = False,
    freeze_heap: bool = False,
) -> int:
    """``freeze_heap``: the process exists for this run (the command), so what it holds
    once the session has started is kept out of garbage collection (``engine.heap``)."""
    from voicedesk.engine.builder import SimOptions

    settings = load_run_settings(args)
    if settings.turn.mode == "push-to-talk":
        # no key to press without the terminal UI: not one turn would ever be sent
        where = (
            "--mode push-to-talk"
            if getattr(args, "mode", None)
            else 'turn.mode = "push-to-talk" (from the config or VOICEDESK_TURN__MODE)'
        )
        raise UserError(
            f"{where} needs a key to press, and --headless has none: no turn would be sent",
            "pass --mode hands-free, or drop --headless to talk in the terminal UI",
        )
    bus, printer, metrics = headless_listeners(args.metrics_out, quiet=quiet)
    sim = None
    if args.sim:
        sim = SimOptions(
            ttft_s=args.sim_ttft,
            ttfb_s=args.sim_ttfb,
            stt_s=args.sim_stt,
            tokens_per_s=getattr(args, "sim_tokens_per_s", None),
            script=args.sim_script,
            faults=args.sim_fault,
        )
    output_path = getattr(args, "output", None)
    output_before = file_state(output_path)

    def say_no_output() -> None:
        # a WAV microphone's only speaker is --output: without it the answers went nowhere,
        # without a word, where "--input: WAV file as the microphone" let one expect the
        # speaker as usual. Said once the session has started: said before, it led the
        # error of a run refused at its start (the session log's folder is a file), as if
        # it were part of what was wrong.
        if (input_path or args.input) is not None and output_path is None and not quiet:
            print(
                "run: no --output, so the answers are shown, not played or kept "
                "(add --output OUT.wav to keep them)",
                file=sys.stderr,
                flush=True,
            )

    conversation = converse(
        settings,
        input_path=input_path or args.input,
        output_path=output_path,
        sim=sim,
        bus=bus,
        with_tools=False if args.no_tools else None,
        resume=bool(getattr(args, "resume", False)),
        room=getattr(args, "room", None),
        freeze_heap=freeze_heap,
        on_started=say_no_output,
    )
    stopped = await headless_ended(conversation, printer, metrics, output_path, output_before)
    if stopped is not None:
        return stopped
    heard_from = input_path or args.input
    if heard_from is not None and printer.turns == 0 and not quiet:
        print(
            f"No speech was heard in {heard_from}, so no turn was sent "
            "(`voicedesk replay` shows what the turn detector finds in it).",
            file=sys.stderr,
        )
    return printer.exit_status("run")


def open_metrics(path: Path) -> Any:
    """The --metrics-out file, opened for appending (checked up front by check_run_args).

    A new file is made readable only by its owner, as the session log is: each line holds
    what was said in that turn (``user_text``, ``assistant_text``, tool calls), and the
    umask made it readable by every local user. A file that exists keeps its mode."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # torn by a full disk, this run's first record starts afresh
        return os.fdopen(open_private_log(path), "a", encoding="utf-8")
    except OSError as exc:
        raise UserError(
            f"Cannot write --metrics-out {path}: {exc.strerror or exc}",
            cannot_write_fix(exc, path, "pass a --metrics-out path in a folder you can write to"),
        ) from None


class MetricsWriter:
    """The --metrics-out writer that `run`, `demo` and the terminal UI share, so every line
    in the file has the same shape: one turn's record per line, appended and flushed as the
    turn ends (a crash loses no finished turn), marked with this run's ``run_id``. The file
    gathers run after run, and turn ids start again at 1 in each: ``run_id`` tells them
    apart. Subscribe it to the bus; close it when the run ends."""

    def __init__(self, path: Path) -> None:
        from voicedesk.engine.metrics import new_run_id

        self.run_id = new_run_id()
        self._fh = open_metrics(path)

    def __call__(self, event: Any) -> None:
        from voicedesk import events as ev
        from voicedesk.engine.metrics import run_record

        if isinstance(event, ev.TurnMetrics):
            line = json.dumps(run_record(event.record, self.run_id))
            self._fh.write(hide_secrets(line) + "\n")  # an error may quote an API key
            self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def file_state(path: Path | None) -> tuple[int, int, int] | None:
    """What tells a file from the one it replaced (inode, change time, size); None: none.
    An output written while the run lasted is a new file (written atomically: a new inode),
    whatever its clock says: one copied there just before the run had a modification time
    within the run's first second, and was reported as the run's audio."""
    try:
        st = path.stat() if path is not None else None
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size) if st is not None else None


def report_interrupted(
    output_path: Path | None,
    before: tuple[int, int, int] | None,
    *,
    why: str = "interrupted",
) -> None:
    """Say whether the run stopped early (``why``: by the person, unless said otherwise)
    wrote ``output_path``: ``before`` is its :func:`file_state` when the run began."""
    if output_path is None:
        return
    now = file_state(output_path)
    if now is not None and now != before:
        print(f"{why}: the audio so far is in {output_path}", file=sys.stderr, flush=True)
    else:
        print(
            f"{why} before any audio was produced: {output_path} was not written",
            file=sys.stderr,
            flush=True,
        )


async def converse(
    settings: Any,
    *,
    input_path: Path | None,
    output_path: Path | None,
    sim: Any | None,
    bus: Any,
    with_tools: bool | None = None,
    resume: bool = False,
    log_kind: str | None = None,
    file_latency_s: tuple[float, float] = (0.0, 0.0),
    room: dict[str, float] | None = None,
    freeze_heap: bool = False,
    on_started: Callable[[], None] | None = None,
) -> Any:
    """Run one conversation to the end of the input file (or until cancelled); returns the session.

    A simulated conversation's log is marked as such (``log_kind`` "sim", or "demo"), so
    ``--resume`` never takes it for the person's last conversation. ``file_latency_s``: the
    (input, output) sound-card latency the WAV files simulate (``FileDuplex``); ``room``:
    the simulated room around them (``--room``); ``freeze_heap``: see
    :func:`voicedesk.engine.heap.freeze_startup_heap`; ``on_started``: called once the
    session has started, for what is worth saying only of a run that was not refused."""
    from voicedesk.engine.builder import build_session, settings_for_sim, sim_server
    from voicedesk.engine.heap import freeze_startup_heap

    sim_ctx: Any = sim_server(sim) if sim is not None else contextlib.nullcontext()
    async with sim_ctx as server:
        if server is not None and sim is not None:
            settings = settings_for_sim(settings, server.base_url, keep_local=sim.keep_local)
        # Off the event loop, as the TUI builds it: imports and model loads take seconds
        # (more on a loaded machine), and built on the loop they held off Ctrl-C until they
        # were over, 5-13 s under load. A build given up on is left to end on its thread.
        session = await asyncio.to_thread(
            functools.partial(
                build_session,
                settings,
                input_path=input_path,
                output_path=output_path,
                bus=bus,
                with_tools=with_tools,
                resume=resume,
                log_kind=log_kind if log_kind is not None else ("sim" if sim is not None else ""),
                file_latency_s=file_latency_s,
                room=room,
            )
        )
        try:
            await session.start()
            if on_started is not None:
                on_started()
            if freeze_heap:
                freeze_startup_heap()
            if input_path is not None:
                await _wait_file_done(session)
            else:
                await asyncio.Event().wait()  # until Ctrl-C
        finally:
            await session.stop()
    return session


async def _wait_file_done(session: Any) -> None:
    """The input file has been heard to its end and the last answer has finished (or been
    cut): a turn still being decided at the end of the input is decided and answered
    first. Bounded so a stuck provider cannot hang a headless run."""
    backend = session.audio.backend
    while not backend.finished.is_set():
        await asyncio.sleep(0.05)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(session.wait_heard_out(backend.duration_s), timeout=120)


def cancel_this_task() -> Callable[[], None]:
    """What cancels the task running now (a headless run's), for the printer to stop it."""
    task = asyncio.current_task()
    assert task is not None

    def cancel() -> None:
        task.cancel()

    return cancel


def headless_listeners(
    metrics_out: Path | None, *, quiet: bool = False
) -> tuple[Any, ConsolePrinter, MetricsWriter | None]:
    """The event bus of a headless run (`run`, `demo`), with what listens to it: the
    console printer (which cancels the run when standard output fails) and, with
    --metrics-out, the metrics file (for :func:`headless_ended` to close)."""
    from voicedesk import events as ev

    bus = ev.EventBus()
    printer = ConsolePrinter(quiet=quiet, on_output_lost=cancel_this_task())
    bus.subscribe(printer)
    metrics = None
    if metrics_out:
        metrics = MetricsWriter(metrics_out)
        bus.subscribe(metrics)
    return bus, printer, metrics


async def headless_ended(
    conversation: Coroutine[Any, Any, Any],
    printer: ConsolePrinter,
    metrics: MetricsWriter | None,
    output_path: Path | None,
    output_before: tuple[int, int, int] | None,
) -> int | None:
    """A headless run's :func:`converse` (``conversation``) awaited, its metrics file closed
    however it ends: the exit status when its standard output failing stopped it (said
    with where the audio went, :func:`status_when_cancelled`), None when it ran to its end.
    A signal's cancel (Ctrl-C, SIGTERM) goes on up to ``until_terminated``, which ends
    with the signal's status. ``output_before``: the output's :func:`file_state` before."""
    try:
        await conversation
    except asyncio.CancelledError:  # Ctrl-C, or its output lost: say where the audio went
        status = status_when_cancelled(printer, output_path, output_before)
        if status is None:
            raise
        return status
    finally:
        if metrics is not None:
            metrics.close()
    if printer.output_lost is not None:  # lost as the session stopped: its cancel pending
        return await after_lost_output(printer.output_lost)
    return None


async def after_lost_output(exc: OSError) -> int:
    """:func:`ended_by_lost_output` for a run whose output failed as it ended: the cancel
    asked for has not reached it, and left pending it would cancel the finished run (a
    traceback on the way out) instead of ending it with the output's status."""
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(0)
    return ended_by_lost_output(exc)


def status_when_cancelled(
    printer: ConsolePrinter, output_path: Path | None, before: tuple[int, int, int] | None
) -> int | None:
    """A cancelled headless run (`run`, `demo`): where its audio went is said, and the exit
    status is returned when its standard output failing stopped it; None when a signal
    did (Ctrl-C, SIGTERM, SIGHUP), its output's reader gone with it or not, for the cancel
    to go on to ``until_terminated``, which ends with the signal's status. ``before``: the
    output's :func:`file_state` when the run began."""
    from voicedesk.commands.termination import stopping_signal

    lost = printer.output_lost
    if lost is None or stopping_signal() is not None:
        report_interrupted(output_path, before)
        return None
    # the person did not interrupt it: say what stopped it
    report_interrupted(output_path, before, why=output_lost_said(lost))
    return ended_by_lost_output(lost)


def output_lost_said(exc: OSError) -> str:
    """What stopped a run whose standard output failed with ``exc``, in words."""
    if isinstance(exc, BrokenPipeError):
        return "stopped, as the reader of standard output went away"
    return "stopped, as standard output could not be written"


def ended_by_lost_output(exc: OSError) -> int:
    """A headless run the printer stopped (its standard output failed): the run's clean-up
    has run, the task goes on uncancelled, and the status is the command line's for it."""
    from voicedesk.cli import stdout_lost

    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    return stdout_lost(exc)


class ConsolePrinter:
    """Prints the conversation and a one-line timing summary per turn.

    Its standard output failing (its reader gone, `| head -1`; a full disk) stops the run
    through ``on_output_lost``, as a failed write ends the other commands: the printer
    runs inside the event bus, which logged each failed line with a traceback and went on,
    and the run ended 0 with its transcript lost."""

    def __init__(
        self,
        *,
        quiet: bool = False,
        stream: Any = None,
        on_output_lost: Callable[[], None] | None = None,
    ) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.on_output_lost = on_output_lost
        self.output_lost: OSError | None = None
        self.turns = 0  # finished turns seen
        self.failed = 0  # of them, those a provider's failure left unanswered
        self.filtered = 0  # of them, those whose answer the provider's content filter withheld
        # What to do about a failure, said once a run: a service gone (the simulated
        # cloud killed) failed every turn after it alike, and each error said it again.
        self._fixes_said: set[str] = set()
        # A turn's words are printed with its answer, once it is over (a turn merged into
        # the next is never printed twice), but its tool calls finish before that: their
        # lines came above the words that asked for them. Each call's turn (by call id),
        # the turns ended but not yet printed, and the tool lines held for them.
        self._call_turns: dict[str, int] = {}
        self._open_turns: set[int] = set()
        self._held: list[tuple[int, str]] = []

    def exit_status(self, command: str) -> int:
        """The headless command's exit status, said when not 0. A failure at the start
        exits with ProviderError's code; so does one that failed turns on the way: a
        script reading the status was told all went well. Only a turn lost counts
        (:func:`turn_lost`); the content filter's refusals are said apart."""
        if self.filtered and not self.quiet:
            print(
                f"{command}: the provider's content filter withheld the answer to "
                f"{self.filtered} of {self.turns} turns (its refusal: not counted as failed)",
                file=sys.stderr,
            )
        if not self.failed:
            return 0
        if not self.quiet:
            print(
                f"{command}: {self.failed} of {self.turns} turns failed (the errors above say why)",
                file=sys.stderr,
            )
        return ProviderError.exit_code

    def __call__(self, event: Any) -> None:
        from voicedesk import events as ev
        from voicedesk.engine.metrics import answer_cut, timings_line
        from voicedesk.tools.results import without_sdk_prefix

        if isinstance(event, ev.TurnMetrics):
            self.turns += 1
            self.failed += turn_lost(event.record)
            self.filtered += bool(event.record.get("filtered"))
        if self.quiet:
            return
        if isinstance(event, ev.ToolCallStarted):
            self._call_turns[event.call_id] = event.turn_id
        elif isinstance(event, ev.TurnEnded):
            self._open_turns.add(event.turn_id)
        elif isinstance(event, ev.TurnMerged):
            self._open_turns.add(event.into)
        elif isinstance(event, ev.ToolCallFinished):
            gist = without_sdk_prefix(event.spoken_summary, is_error=event.is_error)
            line = f"  tool {event.name} ({event.duration_s:.2f}s): {gist}"
            turn = self._call_turns.pop(event.call_id, None)
            if turn in self._open_turns:
                self._held.append((turn, line))  # printed below its turn's words
            else:  # a call that went on in the background ends after its turn's lines
                self._say(line)
        elif isinstance(event, ev.Notice):
            message, arrow, fix = event.message.partition(" → ")
            if arrow and fix not in self._fixes_said:
                self._fixes_said.add(fix)
                message = event.message
            print(f"[{event.level}] {message}", file=sys.stderr, flush=True)
        elif isinstance(event, ev.TurnMetrics):
            # printed once per finished turn: a turn the person continued before hearing
            # the answer is merged into the next one and never shows twice
            r = event.record
            if r.get("user_text"):
                # words answered, though speech-to-text lost those of one of its pauses
                part = "  (in part: speech-to-text failed on some of it)" if stt_lost(r) else ""
                self._say(f"you       › {r['user_text']}{part}")
            elif str(r.get("error") or "").startswith("stt:"):
                # the turn is there, its words are not: say so, not just an empty answer
                self._say("you       › (not understood: speech-to-text failed)")
            # its tool calls (and those of the turns merged into it), as they were made
            for _, line in [held for held in self._held if held[0] <= event.turn_id]:
                self._say(line)
            self._held = [held for held in self._held if held[0] > event.turn_id]
            self._open_turns = {t for t in self._open_turns if t > event.turn_id}
            why = answer_cut(r)
            cut = "  ✂ (interrupted)" if why == "interrupted" else ""
            if r.get("filtered"):  # the provider's refusal, whatever was heard before it
                cut = "  ✂ (withheld by the provider's content filter)"
            elif why == "failed" and r.get("heard_text"):  # nothing heard: the error says it
                cut = "  ✂ (cut off by an error)"
            elif why == "length":
                cut = "  ✂ (stopped at llm.max_tokens)"
            self._say(f"assistant › {r.get('heard_text') or '–'}{cut}")
            self._say(f"  turn {event.turn_id}: {timings_line(r)}")

    def _say(self, line: str) -> None:
        """A line of the transcript; once the output has failed, none: the run is stopping."""
        if self.output_lost is not None:
            return
        try:
            print(line, file=self.stream, flush=True)
        except OSError as exc:  # BrokenPipeError, cli.StdoutError
            self.output_lost = exc
            if self.on_output_lost is not None:
                self.on_output_lost()


def stt_lost(record: dict[str, Any]) -> bool:
    """Speech-to-text failed on some of the turn's speech (its error is tagged so)."""
    from voicedesk.engine.metrics import STT_ERROR_TAG

    return str(record.get("error") or "").startswith(STT_ERROR_TAG)


def turn_lost(record: dict[str, Any]) -> bool:
    """Whether a finished turn counts as failed for a headless run's exit status: it was
    not understood (speech-to-text lost all its words), or its answer failed. A turn
    answered although speech-to-text lost the words of one of its pauses is not lost (the
    person was answered; the transcript says part was not understood), nor one whose
    answer the provider's content filter withheld: the service worked, and that refusal
    is its answer. Both counted as failed before, and a script took them for an outage."""
    if record.get("filtered"):
        return False
    if record.get("failed"):
        return True
    return bool(record.get("error")) and not record.get("user_text")
