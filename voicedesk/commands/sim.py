"""``voicedesk sim``: run the simulated cloud on 127.0.0.1 until interrupted.

Prints the base URLs first, as ``NAME=value`` lines ready to export, so any OpenAI or
ElevenLabs client (voicedesk itself included) can be pointed at it::

    eval "$(voicedesk sim --port 8765 | head -n 3)"   # in another shell: export the lines

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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicedesk.errors import UserError
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
            print(f"OPENAI_BASE_URL={server.base_url}/v1", flush=True)
            print(f"ELEVENLABS_BASE_URL={server.base_url}", flush=True)
            print("OPENAI_API_KEY=sk-sim-local", flush=True)
            print(
                f"# simulated cloud on {server.base_url} (ttft {latency.ttft_s}s, "
                f"ttfb {latency.ttfb_s}s, stt {latency.stt_s}s); Ctrl-C stops it",
                file=sys.stderr,
                flush=True,
            )
            await asyncio.Event().wait()
        finally:
            await server.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0
