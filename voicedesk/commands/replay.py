"""``voicedesk replay FILE.wav``: the on-device turn detector over a recording.

Prints where each turn started, where the speech ended (VAD), where the turn was declared
over and why (model, transcript, timeout, ptt), plus every end-of-turn model check. A
check's verdict is the model's alone (P(complete) ≥ turn.eou_threshold); what the words say
so far can still hold the turn past it. Times are seconds on the file's timeline; by default
on a virtual clock (compute time does not move the audio), with ``--realtime`` paced like a
live microphone. The file is followed by turn.max_wait_ms of silence, so that speech running
to its end is still decided: such a turn's decided_s falls after duration_s. A file of ten
minutes or more is announced on stderr first: nothing else is shown until it has been read.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

from voicedesk.commands import DocHelpFormatter, path_arg


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        description=__doc__,
        formatter_class=DocHelpFormatter,
    )
    p.add_argument("file", type=path_arg, metavar="FILE.wav")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--realtime", action="store_true", help="pace the file in real time")
    p.add_argument(
        "--stt",
        choices=["auto", "local", "none"],
        default="auto",
        help="transcript cues: local faster-whisper, none (audio only); auto = as a "
        "conversation reads them (turn.local_cues: faster-whisper with stt.local_model or "
        "the packaged model)",
    )
    p.add_argument("--stt-model", type=path_arg, metavar="PATH", help="faster-whisper model folder")
    p.add_argument("--mode", choices=["hands-free", "push-to-talk"], help="turn-taking mode")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicedesk.audio.wavio import count_frames
    from voicedesk.config import cli_settings
    from voicedesk.engine.builder import local_cues_wanted
    from voicedesk.errors import UserError
    from voicedesk.providers import local_stt
    from voicedesk.turn.replay import replay

    settings = cli_settings(args.config)
    count_frames(args.file)  # before a model loads, or a line is said, for a file not audio
    if args.stt == "none" and args.stt_model is not None:
        raise UserError(
            "--stt-model has no use with --stt none (audio only)",
            "drop --stt-model, or pass --stt local to read the transcript cues with it",
        )
    transcriber = None
    choice = args.stt
    if choice == "auto":  # the pauses read as a live conversation would read them
        choice = "local" if (args.stt_model or local_cues_wanted(settings)) else "none"
    if choice == "local":
        try:
            transcriber = local_stt.cue_reader(
                args.stt_model or settings.stt.local_model, language=settings.stt.language
            )
        except UserError as exc:
            if args.stt_model is None or importlib.util.find_spec("faster_whisper") is None:
                raise  # not about the flag's path: faster-whisper is missing
            # the path was this command's flag: the config key the general advice names
            # was never in play, and pointing there sent the person to edit the wrong thing
            fix = "check the --stt-model path: it must be a CTranslate2 Whisper model folder"
            fix += " (the one holding model.bin)"
            if settings.stt.local_model or local_stt.default_model_path():
                fix += ", or leave --stt-model out to use " + (
                    f"stt.local_model ({settings.stt.local_model})"
                    if settings.stt.local_model
                    else "the packaged model"
                )
            raise UserError(exc.message, fix) from None
    if args.stt == "auto":  # said once the model loaded: a bad --stt-model is the only line
        source = "local faster-whisper" if transcriber else "nothing (audio only)"
        print(f"replay: transcript cues from {source}", file=sys.stderr)
    say_if_long(args.file, realtime=args.realtime)
    result = replay(
        args.file,
        settings,
        transcriber=transcriber,
        realtime=args.realtime,
        mode=args.mode,
        transcribe=transcriber.transcribe if transcriber else None,
    )
    if result.duration_s == 0:  # the JSON stays the contract's; the person hears why
        print(f"replay: {args.file} holds no audio (0 samples): no turns to find", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(f"{result.file}: {result.duration_s:.2f} s at {result.sample_rate} Hz")
    if not result.turns:
        print("no turns")
    for i, t in enumerate(result.turns, 1):
        wait = t["decided_s"] - t["end_s"]
        p = "–" if t["eou_probability"] is None else f"{t['eou_probability']:.2f}"
        print(
            f"turn {i}: {t['start_s']:.2f}–{t['end_s']:.2f} s, decided at {t['decided_s']:.2f} s "
            f"(+{wait * 1000:.0f} ms, {t['reason']}, p={p})"
            + (f" {t['text']!r}" if t["text"] else "")  # no words without transcript cues
        )
    return 0


# From this length on, the wait is said before it begins: a two-hour file was read for
# over three minutes (on a busy 2-core machine) without a line, like a command that hung.
LONG_S = 600.0


def say_if_long(path: Path, *, realtime: bool) -> None:
    """One line on stderr, before a long file is read, saying the wait is expected."""
    from voicedesk.audio.wavio import duration_s

    length = duration_s(path)
    if length < LONG_S:
        return
    minutes, seconds = divmod(round(length), 60)
    hours, minutes = divmod(minutes, 60)
    clock = f"{hours}:{minutes:02d}:{seconds:02d}"
    wait = (
        "paced in real time (--realtime), it takes as long to read"
        if realtime
        else "reading it takes a while, with nothing shown until the end"
    )
    print(f"replay: {path} is {clock} long; {wait} (Ctrl-C stops)", file=sys.stderr)
