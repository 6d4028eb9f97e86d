"""``voicedesk sim``: run the simulated cloud on 127.0.0.1 until interrupted.

Prints ``export NAME=value`` lines (base URLs and the placeholder keys it accepts), so
any OpenAI or ElevenLabs client (voicedesk itself included) can be pointed at it. With
--detach it starts in the background, prints the lines (and its process id) and returns,
so one line sets up the current shell::

    eval "$(voicedesk sim --detach --port 8765)"     # then: voicedesk run ...
    kill "$VOICEDESK_SIM_PID"                         # stop it

Without --detach it serves in the foreground until Ctrl-C, after printing the same lines.

A key of ``sk-bad`` is rejected (to try start-up key checks): with HTTP 401, except on the
realtime socket, which opens and is then closed with code 3000 as OpenAI's is; any other
key is accepted. A script file (--script) says what each user turn is heard as and what the
model answers; --fault makes requests fail. Both are described below.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import textwrap

from voicedesk.commands import DocHelpFormatter, path_arg

WIDTH = 79  # of the help text below the options


def _keys(table: dict[str, str], indent: int) -> list[str]:
    """Keys in a column with their descriptions beside them, like argparse's option list, so
    the epilog reads as part of the same help."""
    pad = " " * 22
    lines = []
    for key, what in table.items():
        head = " " * indent + key
        first = f"{head:<22}" if len(head) < 22 else f"{head}\n{pad}"
        lines.append(textwrap.fill(what, WIDTH, initial_indent=first, subsequent_indent=pad))
    return lines


def epilog() -> str:
    """The script format and the faults, from the tables the simulated cloud itself checks
    scripts and faults against, so the help says what the code does."""
    from voicedesk.sim.faults import FAULTS, ORDER, PROVIDERS
    from voicedesk.sim.script import EXAMPLE, HEARING, SCRIPT_KEYS, TOOL_CALL_KEYS, TURN_KEYS

    lines = ["script file (--script FILE: TOML; JSON with the same keys if FILE ends in .json):"]
    lines += _keys({k: v for k, v in SCRIPT_KEYS.items() if k != "turns"}, 2)
    lines += _keys({"turns": SCRIPT_KEYS["turns"]}, 2)
    lines += _keys({k: v for k, v in TURN_KEYS.items() if k != "tool_calls"}, 4)
    lines += _keys({"tool_calls": TURN_KEYS["tool_calls"]}, 4)
    lines += _keys(TOOL_CALL_KEYS, 6)
    lines.append(textwrap.fill(HEARING, WIDTH, initial_indent="  ", subsequent_indent="  "))
    lines += ["  For example:", textwrap.indent(EXAMPLE.rstrip(), "    ")]
    lines += ["", "faults (--fault PROVIDER:FAULT[:N], repeatable):"]
    lines.append(
        textwrap.fill(
            f"The next N requests (default 1) to PROVIDER ({', '.join(PROVIDERS)}) fail with "
            f"FAULT, in the order given. {ORDER}",
            WIDTH,
            initial_indent="  ",
            subsequent_indent="  ",
        )
    )
    for name, fault in FAULTS.items():
        head = f"  {name:<7}{' '.join(fault.providers):<14}"
        lines.append(
            textwrap.fill(fault.effect, WIDTH, initial_indent=head, subsequent_indent=" " * 23)
        )
    return "\n".join(lines)


MAX_TTS_INACTIVITY_S = 180.0  # the largest inactivity_timeout ElevenLabs' socket takes
MAX_FAULT_TIMES = 10_000  # far more requests than a session or a test makes


def parse_fault(value: str) -> tuple[str, str, int]:
    """``stt:late`` or ``llm:500:2`` → (provider, fault, times), checked as the server checks
    it, so a name it would not act on fails before it starts, saying what it accepts."""
    from voicedesk.sim.faults import check

    provider, _, rest = value.partition(":")
    fault, _, times = rest.partition(":")
    try:
        check(provider, fault)
        if times and not (times.isascii() and times.isdigit()):  # "²" is a digit to Python
            raise ValueError(f"N must be a whole number of requests, not {times!r}")
        n = int(times) if times else 1
        if not 1 <= n <= MAX_FAULT_TIMES:  # the server keeps one entry per failing request
            raise ValueError(f"N must be from 1 to {MAX_FAULT_TIMES} requests")
    except ValueError as exc:
        # every refusal names the accepted forms: `llm:500:0` said only what N must be
        raise argparse.ArgumentTypeError(
            f"{value!r}: {exc} (PROVIDER:FAULT[:N], like llm:500, llm:500:6 or stt:late)"
        ) from None
    return provider, fault, n


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        description=__doc__,
        epilog=epilog(),
        formatter_class=DocHelpFormatter,
    )
    p.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    p.add_argument(
        "--ttft", type=float, metavar="S", help="LLM time to first token (0.70; 0 to 60)"
    )
    p.add_argument(
        "--ttfb", type=float, metavar="S", help="TTS time to first audio (0.33; 0 to 60)"
    )
    p.add_argument("--stt", type=float, metavar="S", help="STT finalisation delay (0.10; 0 to 60)")
    p.add_argument(
        "--tokens-per-s", type=float, metavar="N", help="LLM output speed (60; 1 to 1,000,000)"
    )
    p.add_argument("--script", type=path_arg, metavar="FILE", help="turns and answers (see below)")
    p.add_argument(
        "--fault",
        type=parse_fault,
        action="append",
        default=[],
        metavar="PROVIDER:FAULT[:N]",
        help="make the next N requests to PROVIDER fail (see below); repeatable",
    )
    p.add_argument(
        "--context-window",
        type=int,
        metavar="N",
        help="refuse chat requests over N tokens (prompt + max_tokens), as a model with "
        "that context window does (default: no limit)",
    )
    p.add_argument(
        "--reasoning",
        choices=("content", "field", "prompted", "deepseek"),
        help="answer as a reasoning model does, its thinking first: in the answer's text "
        "between <think> tags (content: LM Studio, vLLM without a reasoning parser), in "
        "reasoning_content (field: vLLM with one, llama.cpp, DeepSeek), or in the answer's "
        "text with only </think> (prompted: DeepSeek-R1's template opens the thought in the "
        "prompt), or as DeepSeek's API in thinking mode (deepseek: reasoning_content, which "
        "a tool-call message must carry back)",
    )
    p.add_argument(
        "--refuse-tools",
        # sim.server.NO_TOOLS_REFUSALS' names (not imported here: 0.4 s for every --help)
        choices=("ollama", "llama.cpp", "vllm"),
        help="answer as a model that takes no tools: a chat request offering tools is "
        "refused as Ollama refuses it (HTTP 400 '… does not support tools'), llama.cpp's "
        "server without --jinja (HTTP 500 'tools param requires --jinja flag') or vLLM's "
        'without --enable-auto-tool-choice (HTTP 400 \'"auto" tool choice requires '
        "--enable-auto-tool-choice …')",
    )
    p.add_argument(
        "--voice", choices=["synthetic", "piper"], default="synthetic", help="TTS audio source"
    )
    p.add_argument(
        "--tts-inactivity",
        type=float,
        metavar="S",
        help="close an ElevenLabs stream-input socket that sent nothing for S seconds (at "
        "most 180), "
        "sooner than it asked for, as a server or proxy that closes idle sockets early does "
        "(default: at the inactivity_timeout the socket asked for, 20 s if none, as the "
        "service does)",
    )
    p.add_argument(
        "--detach",
        action="store_true",
        help="run in the background; print the export lines and its PID, then return",
    )
    p.add_argument("--quiet-after-start", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def export_lines(base_url: str) -> list[str]:
    """What a shell needs to point voicedesk (or any client) at the simulated cloud."""
    from voicedesk.engine.builder import SIM_KEY

    return [
        f"export OPENAI_BASE_URL={base_url}/v1",
        f"export ELEVENLABS_BASE_URL={base_url}",
        f"export OPENAI_API_KEY={SIM_KEY}",
        f"export ELEVENLABS_API_KEY={SIM_KEY}",
    ]


def run(args: argparse.Namespace) -> int:
    from voicedesk.errors import UserError

    # the child is started with --quiet-after-start: it serves, whatever spelling of
    # --detach it was passed on (an abbreviated "--deta" started children without end)
    if args.detach and not args.quiet_after_start:
        return _detach()
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SIM_REQUESTS_KEPT, SimLatency, SimServer

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a port number", "use 1–65535, or 0 for any")
    from voicedesk.commands.run import check_latency

    latency = SimLatency()
    for flag, attr in (("ttft", "ttft_s"), ("ttfb", "ttfb_s"), ("stt", "stt_s")):
        value = getattr(args, flag)
        check_latency(f"--{flag}", value)  # the same rule as run --sim-ttft etc.
        if value is not None:
            setattr(latency, attr, value)
    check_latency("--tokens-per-s", args.tokens_per_s, positive=True)
    if args.tokens_per_s is not None:
        latency.tokens_per_s = args.tokens_per_s
    # ElevenLabs takes an inactivity_timeout of at most 180 s: inf and 1e300 were taken
    # (and never closed a socket) while nan was refused
    if args.tts_inactivity is not None and not 0 < args.tts_inactivity <= MAX_TTS_INACTIVITY_S:
        raise UserError(
            f"--tts-inactivity {args.tts_inactivity:g} is not a number of seconds a socket "
            "is kept idle",
            f"give more than 0 and at most {MAX_TTS_INACTIVITY_S:g} seconds (the most "
            "ElevenLabs takes), e.g. --tts-inactivity 20, or leave it out",
        )
    if args.context_window is not None and args.context_window < 1:
        raise UserError(
            f"--context-window {args.context_window} is not a number of tokens",
            "give a positive number, e.g. --context-window 4096, or leave it out for no limit",
        )
    script = SimScript.load(args.script, flag="--script") if args.script else SimScript()

    async def serve() -> None:
        server = SimServer(
            script,
            latency,
            port=args.port,
            voice=args.voice,
            context_window=args.context_window,
            keep_requests=SIM_REQUESTS_KEPT,
            tts_inactivity_s=args.tts_inactivity,
            reasoning=args.reasoning,
            no_tools=args.refuse_tools,
        )
        for provider, fault, times in args.fault:
            server.inject(provider, fault, times)
        try:
            await server.start()
        except OSError as exc:
            raise UserError(
                f"Cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
                "choose another --port, or 0 for any free port",
            ) from None
        try:
            for line in export_lines(server.base_url):
                print(line, flush=True)
            faults = "".join(
                f", fault {p}:{f}" + (f":{n}" if n > 1 else "") for p, f, n in args.fault
            )
            window = f", context window {args.context_window} tokens" if args.context_window else ""
            print(
                f"# simulated cloud on {server.base_url} (ttft {latency.ttft_s}s, "
                f"ttfb {latency.ttfb_s}s, stt {latency.stt_s}s{window}{faults}); Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
            if args.quiet_after_start:  # detached: nobody reads our output any more
                _silence_output()
            await asyncio.Event().wait()
        finally:
            await server.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0


def _detach() -> int:
    """Start the server as a child in its own session, relay its export lines, return."""
    import subprocess

    argv = [a for a in sys.argv[1:] if a != "--detach"]
    child = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", *argv, "--quiet-after-start"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None and child.stderr is not None
    lines = [child.stdout.readline() for _ in range(4)]
    if not all(line.startswith("export ") for line in lines):
        child.wait(timeout=10)
        sys.stderr.write(child.stderr.read())
        return child.returncode or 1
    for line in lines:
        print(line.rstrip("\n"))
    print(f"export VOICEDESK_SIM_PID={child.pid}", flush=True)
    # what the child said on stderr before its start line (a Piper voice asked for and
    # missing): relayed, or the pipe, unread once we return, swallowed it
    for line in child.stderr:
        if line.startswith("# simulated cloud"):
            break
        sys.stderr.write(line)
    print(
        f"# simulated cloud running in the background (pid {child.pid}); "
        'stop it with: kill "$VOICEDESK_SIM_PID"',
        file=sys.stderr,
    )
    earlier = _earlier_sim()
    if earlier is not None:
        # `eval "$(voicedesk sim --detach)"` twice: the second export replaced the first
        # one's pid, and it went on serving in the background with nothing naming it
        print(
            f"# the one started before (pid {earlier}) is still running too; "
            f"stop it with: kill {earlier}",
            file=sys.stderr,
        )
    return 0


def _earlier_sim() -> int | None:
    """The process id in VOICEDESK_SIM_PID, if it is a detached simulated cloud still
    running (this shell's earlier `eval "$(voicedesk sim --detach)"`)."""
    import os

    try:
        pid = int(os.environ.get("VOICEDESK_SIM_PID", ""))
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except (ValueError, OSError):
        return None
    return pid if b"sim" in argv and b"--quiet-after-start" in argv else None


def _silence_output() -> None:
    """Point stdout and stderr at /dev/null (the parent that read them has gone)."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
