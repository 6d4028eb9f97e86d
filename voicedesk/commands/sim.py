"""``voicedesk sim``: run the simulated cloud on 127.0.0.1 until interrupted.

Prints ``export NAME=value`` lines (base URLs and the placeholder keys it accepts), so
any OpenAI or ElevenLabs client (voicedesk itself included) can be pointed at it. With
--detach it starts in the background, prints the lines (and its process id) and returns,
so one line sets up the current shell::

    eval "$(voicedesk sim --detach --port 8765)"     # then: voicedesk run ...
    kill "$VOICEDESK_SIM_PID"                         # stop it

Without --detach it serves in the foreground until Ctrl-C, after printing the same lines.

A key of ``sk-bad`` is rejected with HTTP 401 (to try start-up key checks); any other key
is accepted. The script file says what each user turn is heard as and what the model
answers (TOML or JSON; see ``voicedesk.sim.script``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim",
        help="run the simulated cloud (OpenAI + ElevenLabs protocols) on 127.0.0.1",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    p.add_argument("--ttft", type=float, metavar="S", help="LLM time to first token (0.70)")
    p.add_argument("--ttfb", type=float, metavar="S", help="TTS time to first audio (0.33)")
    p.add_argument("--stt", type=float, metavar="S", help="STT finalisation delay (0.10)")
    p.add_argument("--tokens-per-s", type=float, metavar="N", help="LLM output speed (60)")
    p.add_argument("--script", type=Path, metavar="FILE", help="turns and answers (TOML/JSON)")
    p.add_argument(
        "--voice", choices=["synthetic", "piper"], default="synthetic", help="TTS audio source"
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

    if args.detach:
        return _detach()
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

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
    script = SimScript.load(args.script) if args.script else SimScript()

    async def serve() -> None:
        server = SimServer(script, latency, port=args.port, voice=args.voice)
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
            print(
                f"# simulated cloud on {server.base_url} (ttft {latency.ttft_s}s, "
                f"ttfb {latency.ttfb_s}s, stt {latency.stt_s}s); Ctrl-C stops it",
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
    print(
        f"# simulated cloud running in the background (pid {child.pid}); "
        'stop it with: kill "$VOICEDESK_SIM_PID"',
        file=sys.stderr,
    )
    return 0


def _silence_output() -> None:
    """Point stdout and stderr at /dev/null (the parent that read them has gone)."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.close(null)
