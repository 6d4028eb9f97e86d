"""``voicedesk devices``: the microphones and speakers PortAudio can open.

Use the index or a part of the name with ``audio.input_device`` / ``audio.output_device``
(names are steadier: indices shift when devices are plugged in or out). ``*`` marks the system
defaults; devices that look like headsets are marked too, since echo cancellation in ``auto``
mode is switched off for them.

Exit status 0 when the devices could be asked, even if there are none (the list is then
empty, and ``--json`` prints ``[]``, with the text form's sentence on stderr): a machine
without sound still talks over WAV files and types in the terminal UI, as ``voicedesk
doctor`` warns but does not fail. 2 when PortAudio itself is missing or cannot list them.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from voicedesk.commands import DocHelpFormatter


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "devices",
        description=__doc__,
        formatter_class=DocHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicedesk.audio.devices import (
        NO_DEVICES_REASON,
        TYPING_WORKS,
        is_headset,
        list_devices,
    )

    devices = list_devices()  # no PortAudio: AudioUnavailableError, printed by the CLI
    # as doctor says it: what still works without them, typing included; one sentence for
    # both forms, which said different things
    none_found = f"No microphones or speakers found. {NO_DEVICES_REASON} {TYPING_WORKS}"
    if args.json:
        rows: list[dict[str, Any]] = [
            {**d.to_dict(), "headset": is_headset(d.name)} for d in devices
        ]
        print(json.dumps(rows, indent=2))
        if not devices:
            # The list stays a list (`[]` is the data: no device), read by scripts as one; a
            # field would need an object around it. What it means is said on stderr, as the
            # text form says it: without "typing still works" it read as "voicedesk cannot
            # be used here".
            print(f"voicedesk: {none_found}", file=sys.stderr)
        return 0
    if not devices:
        print(none_found)
        return 0
    print(format_table(devices))
    print()
    print("* = system default. Set audio.input_device / audio.output_device to an index or a")
    print("part of the name (names survive re-plugging; indices may not).")
    return 0


def format_table(devices: list[Any]) -> str:
    """A fixed-width table: index, role, default marks, channels, rate, host API, name."""
    from voicedesk.audio.devices import is_headset

    header = ("idx", "kind", "default", "in", "out", "rate", "host API", "name")
    rows = [header]
    for d in devices:
        kinds = [k for k, n in (("mic", d.max_input_channels), ("spk", d.max_output_channels)) if n]
        marks = [m for m, on in (("in*", d.is_default_input), ("out*", d.is_default_output)) if on]
        name = d.name + ("  (headset)" if is_headset(d.name) else "")
        rows.append(
            (
                str(d.index),
                "+".join(kinds) or "-",
                " ".join(marks),
                str(d.max_input_channels),
                str(d.max_output_channels),
                f"{d.default_samplerate:g}",
                d.hostapi,
                name,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        cells = [
            c.rjust(w) if i in (0, 3, 4, 5) else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=False))
        ]
        lines.append("  ".join([*cells, r[-1]]))
    return "\n".join(lines)
