"""``voicedesk bench <what>``: benchmarks that report figures as a table and as JSON.

Each benchmark lives in ``voicedesk/bench/<name>.py`` with ``add_parser(sub)`` and ``run(args)``.
"""

from __future__ import annotations

import argparse
import importlib

BENCHES = ["turn", "latency", "context", "echo"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench")
    # named, not "WHAT": `voicedesk bench` alone said only "required: WHAT" (see config)
    bench_sub = parser.add_subparsers(
        dest="bench", metavar="{" + ",".join(BENCHES) + "}", required=True
    )
    for name in BENCHES:
        try:
            module = importlib.import_module(f"voicedesk.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"voicedesk.bench.{name}":
                continue
            raise
        module.add_parser(bench_sub)


def run(args: argparse.Namespace) -> int:  # pragma: no cover - sub-benches set their own func
    return 2
