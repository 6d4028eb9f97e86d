"""Measure PortAudio streams on a device for 5 s: CPU used, callbacks, frames asked for.

Not a test: the figures in docs/architecture.md ("Testing the sound devices") come from it,
run against a PulseAudio server (e.g. the one ``pulse_server.py`` starts, with its env):

    python tests/audio/measure_streams.py duplex low default default
    python tests/audio/measure_streams.py split low default default
    python tests/audio/measure_streams.py output low default default

Arguments: mode (duplex | split | output), latency ("low", "high" or seconds), input device,
output device. Streams are 44.1 kHz mono int16 with 10 ms blocks, as voicedesk opens them.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import sounddevice as sd

RATE, BLOCK, SECONDS = 44_100, 441, 5.0


def main(mode: str, latency_arg: str, mic: str, spk: str) -> None:
    latency: Any = float(latency_arg) if latency_arg[0].isdigit() else latency_arg
    counts = {"callbacks": 0, "xruns": 0, "frames_out": 0}

    def count(frames: int, status: Any, out: Any = None) -> None:
        counts["callbacks"] += 1
        counts["xruns"] += bool(status)
        if out is not None:
            out[:] = 0
            counts["frames_out"] += frames

    common: dict[str, Any] = {
        "samplerate": RATE,
        "blocksize": BLOCK,
        "channels": 1,
        "dtype": "int16",
        "latency": latency,
    }
    if mode == "duplex":
        streams = [
            sd.Stream(device=(mic, spk), callback=lambda i, o, f, t, s: count(f, s, o), **common)
        ]
    elif mode == "split":
        streams = [
            sd.InputStream(device=mic, callback=lambda i, f, t, s: count(f, s), **common),
            sd.OutputStream(device=spk, callback=lambda o, f, t, s: o.fill(0), **common),
        ]
    else:
        streams = [
            sd.OutputStream(device=spk, callback=lambda o, f, t, s: count(f, s, o), **common)
        ]
    for stream in streams:
        stream.start()
    cpu0, wall0 = time.process_time(), time.monotonic()
    time.sleep(SECONDS)
    cpu = 100 * (time.process_time() - cpu0) / (time.monotonic() - wall0)
    for stream in streams:
        stream.stop()
        stream.close()
    print(
        f"{mode} latency={latency}: cpu {cpu:.0f}% of a core, callbacks {counts['callbacks']} "
        f"(of {SECONDS * RATE / BLOCK:.0f}), xruns {counts['xruns']}, output frames asked "
        f"for {counts['frames_out'] / SECONDS:.0f}/s (of {RATE})"
    )


if __name__ == "__main__":
    main(*sys.argv[1:5])
