"""``voicedesk bench latency``: voice-to-voice and every stage, measured against the simulated cloud.

Runs real conversations (bundled Piper speech, the full engine, real sockets) in real time
and measures what a listener would: from the **output audio**, the first audible answer sample
after the person's last word. "Added" latency is what voicedesk itself costs on top of the
simulated providers' latencies on the way to the answer: voice-to-voice − STT − TTFT −
TTFB (the answer's request waits for the transcript, so the transcript's finalisation is
the provider's time, not voicedesk's). What it keeps is voicedesk's: the turn-end wait
before the transcript is committed (the VAD's hangover and ``turn.commit_ms``), the model's
words the voice waits for before its first piece (the first clause, or 40 characters),
and the client, queue and playback overheads. Stage figures come from the per-turn
metrics: ``first_words`` is that wait for the first piece (from the answer's first text),
``ttfb`` the voice's own time from that piece to its first audio. The hand-offs between
them are stages too: ``request_wait`` (the transcript → the answer's request),
``first_text`` (the first token → the voice) and ``to_speaker`` (the first audio → the
speaker; negative when a loaded machine's audio thread ran behind), so ``stt_delay`` to
``to_speaker`` add up to ``voice_to_voice`` less the sound card. CPU is this process's
CPU time over wall time (percent of one core).

WAV files have no sound card, so device latency is 0 unless ``--device-latency IN OUT``
simulates one (``FileDuplex``): the output audio then shows it, the per-turn
``device_latency`` stage reports it, and both voice-to-voice figures include it; "added"
leaves it out, as it is the hardware's, not voicedesk's.

The language model is always the simulated cloud's. Speech-to-text and the voice set to
"local" (``--set stt.provider=local``, ``--set tts.provider=local --set
tts.local_voice=VOICE.onnx``) stay on this machine, faster-whisper and Piper, and are
measured as they are; "added" then includes their work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `voicedesk --help` builds this parser
    import numpy as np

from voicedesk.commands import path_arg

FINISHED = ["hello", "weather", "question", "timer", "budget", "thanks"]
# each turn is played in real time: hours of conversation at the most
MAX_TURNS = 1000
MAX_ROUNDS = 100
AUDIBLE = 328  # int16 ≈ −40 dBFS
# (question, interruption, seconds after the question ends): the answer starts ≈1.3 s after
# the question and lasts ≈4 s, so each interruption lands at a different point inside it.
BARGE_INS = [
    ("weather", "stop", 2.6),
    ("question", "thanks", 2.1),
    ("docs", "budget", 3.4),
    ("timer", "question", 1.8),
    ("budget", "stop", 3.0),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    from voicedesk.bench import bench_parser

    p = bench_parser(sub, "latency", "voice-to-voice latency against the simulated cloud", __doc__)
    p.add_argument("--ttft", type=float, default=0.70, help="simulated LLM TTFT (s)")
    p.add_argument("--ttfb", type=float, default=0.33, help="simulated TTS TTFB (s)")
    p.add_argument("--stt", type=float, default=0.10, help="simulated STT finalisation (s)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the conversation N times (at most 100); also N barge-ins, each a "
        "different interruption",
    )
    p.add_argument(
        "--turns",
        type=int,
        default=len(FINISHED),
        help="turns in one conversation (the bundled sentences, repeated; at most 1000); long "
        "conversations show whether context summaries cost latency",
    )
    p.add_argument(
        "--device-latency",
        type=float,
        nargs=2,
        default=[0.0, 0.0],
        metavar=("IN_MS", "OUT_MS"),
        help="simulate a sound card's input and output latency (ms; default 0 0, as WAV files)",
    )
    p.add_argument("--no-barge-in", action="store_true", help="skip the barge-in scenario")
    p.add_argument(
        "--keep",
        type=path_arg,
        metavar="DIR",
        help="keep the WAVs and metrics here (made, and said so, if missing; those of an "
        "earlier run in DIR are replaced)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a setting for this run, e.g. --set turn.stop_ms=64 (repeatable); "
        "typed as its VOICEDESK_* variable is: a list or a table in JSON",
    )
    p.set_defaults(func=run)


def first_audible_after(
    out: np.ndarray, rate: int, t_s: float, until_s: float | None = None
) -> float | None:
    import numpy as np

    a = int(t_s * rate)
    b = len(out) if until_s is None else min(len(out), int(until_s * rate))
    loud = np.flatnonzero(np.abs(out[a:b].astype(np.int32)) > AUDIBLE)
    return (a + int(loud[0])) / rate if loud.size else None


# How far before the person cuts in an answer must have been audible for the cut to be timed
PLAYING_BEFORE_S = 0.5
# How long the answer must stay silent for its silence to be the stop: longer than the
# pauses within an answer (Piper's audio falls silent for 0.14-0.20 s between the pieces it
# makes), which were scored as a stop when one came just after the person cut in
STOPPED_HOLD_S = 0.4


def barge_in_reaction(out: np.ndarray, rate: int, onset_s: float) -> float | None:
    """Seconds from the person cutting in at ``onset_s`` to the answer's silence; None when
    no answer was audible in the ``PLAYING_BEFORE_S`` before it. The silence of an answer
    not yet begun (a slow local transcript: the question and "Wait, stop" heard as one
    turn) was scored as a stop in 0 ms."""
    if first_audible_after(out, rate, max(0.0, onset_s - PLAYING_BEFORE_S), onset_s) is None:
        return None
    quiet = silent_from(out, rate, onset_s, hold_s=STOPPED_HOLD_S)
    return None if quiet is None else quiet - onset_s


def silent_from(out: np.ndarray, rate: int, t_s: float, hold_s: float = 0.1) -> float | None:
    """First time ≥ t_s after which the output stays below the audible level for hold_s."""
    import numpy as np

    a = int(t_s * rate)
    hold = int(hold_s * rate)
    loud = np.abs(out[a:].astype(np.int32)) > AUDIBLE
    idx = np.flatnonzero(loud)
    if idx.size == 0:
        return t_s
    # candidate silence starts right after each loud sample; find the first gap ≥ hold
    gaps = np.diff(np.concatenate([[-1], idx, [len(loud) + hold]]))
    for i, g in enumerate(gaps):
        if g > hold:
            start = 0 if i == 0 else idx[i - 1] + 1
            return (a + int(start)) / rate
    return None


async def _one(
    scenario: Any,
    *,
    args: argparse.Namespace,
    overrides: dict[str, Any],
    workdir: Path,
    tag: str,
) -> dict[str, Any]:
    """One conversation over ``scenario`` against the simulated cloud, as ``args`` set it."""
    from voicedesk import events as ev
    from voicedesk.audio.wavio import read_wav
    from voicedesk.commands.run import converse
    from voicedesk.config import load_settings
    from voicedesk.engine.builder import SimOptions
    from voicedesk.engine.metrics import new_run_id, run_record

    inp = workdir / f"{tag}-in.wav"
    out = workdir / f"{tag}-out.wav"
    scenario.write(inp)
    bus = ev.EventBus()
    # marked as --metrics-out marks them: the report's barge_in_records gather every round,
    # each numbering its turns from 1
    run_id = new_run_id()
    records: list[dict[str, Any]] = []
    bus.subscribe(
        lambda e: (
            records.append(run_record(e.record, run_id)) if isinstance(e, ev.TurnMetrics) else None
        )
    )
    summaries: list[ev.Event] = []
    bus.subscribe(
        lambda e: (
            summaries.append(e) if isinstance(e, ev.LLMRequest) and e.kind == "summary" else None
        )
    )
    settings = load_settings(environ={}, overrides=overrides)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    await converse(
        settings,
        input_path=inp,
        output_path=out,
        sim=SimOptions(ttft_s=args.ttft, ttfb_s=args.ttfb, stt_s=args.stt, keep_local=True),
        bus=bus,
        with_tools=False,
        file_latency_s=_device_latency_s(args),
    )
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    pcm, rate = read_wav(out)
    (workdir / f"{tag}-metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return {
        "scenario": scenario,
        "summary_requests": len(summaries),
        "out": pcm,
        "rate": rate,
        "records": records,
        "cpu_s": cpu,
        "wall_s": wall,
    }


def provider_names(overrides: dict[str, Any]) -> dict[str, str]:
    """Which speech-to-text and voice a run with these ``--set`` overrides measures:
    "local" (faster-whisper, Piper: ``stt.provider``/``tts.provider`` = "local") or
    "simulated" (the simulated cloud's, every other provider)."""
    from voicedesk.config import load_settings

    settings = load_settings(environ={}, overrides=overrides)
    return {
        "stt": "local" if settings.stt.provider == "local" else "simulated",
        "tts": "local" if settings.tts.provider == "local" else "simulated",
    }


def _device_latency_s(args: argparse.Namespace) -> tuple[float, float]:
    latency_in, latency_out = args.device_latency
    return latency_in / 1000, latency_out / 1000


# The hand-offs between the providers' stages that no turn record names, each ours alone:
# (name, from stage, to stage). With them the stages on the way to the answer are the whole
# of it: stt_delay + request_wait + ttft + first_text + first_words + ttfb + to_speaker is
# voice_to_voice less the sound card, turn by turn; without them ~2-25 ms a turn (and a
# reply held for the end of turn, whole seconds) was in voice-to-voice and in no stage.
HAND_OFFS = (
    # the transcript → the answer's request (building it; a preemptive attempt started
    # again for a later transcript; an answer prepared only near the turn's maximum wait)
    ("request_wait", "stt_final", "llm_request"),
    # the model's first token → its first text for the voice (a first word still arriving)
    ("first_text", "llm_first_token", "tts_request"),
    # the voice's first audio → its first sample handed to the speaker (the playback queue
    # and the next block; an answer whose end of turn is still undecided is held meanwhile).
    # Negative when the audio thread ran behind the loop's clock (a loaded machine): it
    # stamps its block's place on the audio timeline, the loop its monotonic moment.
    ("to_speaker", "tts_first_audio", "playback_start"),
)


def _hand_off(record: dict[str, Any], start: str, end: str) -> float | None:
    t = record.get("t") or {}
    return round(t[end] - t[start], 4) if start in t and end in t else None


def _stage_stats(records: list[dict[str, Any]]) -> dict[str, Any]:
    from voicedesk.engine.metrics import summarize

    # in the order they come on the way to the answer; first_words: the answer's first text
    # → the voice's first piece; ttfb: the voice's own
    keys = [
        "eou_delay",
        "stt_delay",
        "request_wait",
        "ttft",
        "first_text",
        "first_words",
        "ttfb",
        "to_speaker",
        "device_latency",
        "voice_to_voice",
    ]
    hand_offs = {name: (start, end) for name, start, end in HAND_OFFS}

    def value(record: dict[str, Any], key: str) -> float | None:
        if key in hand_offs:
            return _hand_off(record, *hand_offs[key])
        got = record.get(key)
        return None if got is None else float(got)

    return {k: summarize([v for r in records if (v := value(r, k)) is not None]) for k in keys}


async def bench(args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run the rounds; the WAVs and metrics are kept only in ``--keep DIR``."""
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return await _bench_in(args.keep, args, overrides)
    with tempfile.TemporaryDirectory(prefix="voicedesk-bench-") as folder:
        return await _bench_in(Path(folder), args, overrides)


async def _bench_in(
    workdir: Path, args: argparse.Namespace, overrides: dict[str, Any]
) -> dict[str, Any]:
    from voicedesk.bench.scenarios import compose, overlap
    from voicedesk.engine.metrics import summarize

    added: list[float] = []
    v2v_audio: list[float] = []
    records: list[dict[str, Any]] = []
    cpu_s = wall_s = 0.0
    missing = 0
    summary_requests = 0
    latency_in, latency_out = _device_latency_s(args)
    names = provider_names(overrides)
    # a local voice or transcriber has no simulated latency: its work is on this machine
    sim_ttfb = args.ttfb if names["tts"] == "simulated" else 0.0
    sim_stt = args.stt if names["stt"] == "simulated" else 0.0
    for rnd in range(args.rounds):
        res = await _one(
            compose([FINISHED[i % len(FINISHED)] for i in range(args.turns)], gaps_s=7.0),
            args=args,
            overrides=overrides,
            workdir=workdir,
            tag=f"finished{rnd}",
        )
        records += res["records"]
        summary_requests += res["summary_requests"]
        cpu_s += res["cpu_s"]
        wall_s += res["wall_s"]
        turns = res["scenario"].turns
        for i, turn in enumerate(turns):
            nxt = turns[i + 1].start_s if i + 1 < len(turns) else None
            heard = first_audible_after(res["out"], res["rate"], turn.end_s, nxt)
            if heard is None:
                missing += 1
                continue
            v2v_audio.append(heard - turn.end_s)
            # the simulated providers' latencies and the sound card's are theirs, not ours
            providers = sim_stt + args.ttft + sim_ttfb
            added.append(heard - turn.end_s - providers - latency_in - latency_out)
    report: dict[str, Any] = {
        "providers": {"stt_s": args.stt, "ttft_s": args.ttft, "ttfb_s": args.ttfb, **names},
        "device": {"input_latency_s": latency_in, "output_latency_s": latency_out},
        "turns": len(v2v_audio),
        "unanswered_turns": missing,
        "voice_to_voice_audio_s": summarize(v2v_audio),
        "added_latency_s": summarize(added),
        "stages_s": _stage_stats(records),
        "summary_requests": summary_requests,
        "prompt_tokens_max": max((r.get("prompt_tokens") or 0 for r in records), default=0),
        "cpu_percent": round(100 * cpu_s / wall_s, 1) if wall_s else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "workdir": str(workdir) if args.keep else None,
    }
    if not args.no_barge_in:
        reactions = []
        for rnd in range(args.rounds):
            # Different words cut in at different points of the answer, round by round.
            first, second, after_s = BARGE_INS[rnd % len(BARGE_INS)]
            sc = overlap(first, second, after_s=after_s)
            res = await _one(sc, args=args, overrides=overrides, workdir=workdir, tag=f"barge{rnd}")
            reaction = barge_in_reaction(res["out"], res["rate"], sc.turns[1].start_s)
            if reaction is not None:
                reactions.append(reaction)
            else:  # no answer playing to cut (or it never stopped): said, not scored
                report["barge_ins_not_timed"] = report.get("barge_ins_not_timed", 0) + 1
            records_b = res["records"]
            report.setdefault("barge_in_records", []).extend(records_b)
        report["barge_in_silence_s"] = summarize(reactions)
    return report


def run(args: argparse.Namespace) -> int:
    from voicedesk.errors import UserError

    # no upper bound: a typo's extra zeros (`--rounds 100000`) ran for days, each turn
    # played in real time, as `bench context --turns` did before its bound
    for flag, value, most in (
        ("--turns", args.turns, MAX_TURNS),
        ("--rounds", args.rounds, MAX_ROUNDS),
    ):
        if not 1 <= value <= most:
            raise UserError(
                f"{flag} {value}: must be 1 to {most}", f"e.g. {flag} 1, or leave it out"
            )
    # nan and inf passed `< 0` and were a traceback once the first conversation began
    if not all(0 <= ms <= 2000 for ms in args.device_latency):
        given = " ".join(f"{ms:g}" for ms in args.device_latency)
        raise UserError(
            f"--device-latency {given} is out of range",
            "use 0 … 2000 ms for each of IN_MS and OUT_MS, e.g. --device-latency 20 40",
        )
    from voicedesk.commands.run import check_latency

    for flag in ("--ttft", "--ttfb", "--stt"):
        check_latency(flag, getattr(args, flag[2:]))
    from voicedesk.bench import parse_sets

    overrides = parse_sets(args.set)
    from voicedesk.config import load_settings

    if load_settings(environ={}, overrides=overrides).turn.mode == "push-to-talk":
        # the recorded person presses no key: not one turn would be sent, and the report
        # would be a row of empty figures
        raise UserError(
            "--set turn.mode=push-to-talk needs a key to press, and the benchmark's person "
            "has none: no turn would be sent",
            "drop that --set (the benchmark talks hands-free)",
        )
    if args.keep is not None:  # made last: a run refused above leaves no folder behind
        if args.keep.exists() and not args.keep.is_dir():
            raise UserError(f"--keep {args.keep} is a file", "pass --keep a folder")
        from voicedesk.files import cannot_write_fix, make_named_folder

        try:
            make_named_folder(args.keep, "--keep")
        except OSError as exc:
            raise UserError(
                f"Cannot keep the files in --keep {args.keep}: {exc.strerror or exc}",
                cannot_write_fix(exc, args.keep, "pass --keep a folder you can write to"),
            ) from None
    report = asyncio.run(bench(args, overrides))
    report["overrides"] = overrides
    if args.json:
        print(json.dumps(report, indent=2, default=float))
        return 0
    print_table(report)
    return 0


def print_table(report: dict[str, Any], out: Any = None) -> None:
    # sys.stdout as it is now, not as it was at import: a replaced stdout (the tests'
    # capture) was written past, to the old one, closed by then
    out = sys.stdout if out is None else out

    def ms(v: float | None) -> str:
        return "–" if v is None else f"{v * 1000:7.0f} ms"

    p = report["providers"]
    stt = "STT local (faster-whisper)" if p.get("stt") == "local" else f"STT {p['stt_s']:.2f}s"
    tts = "TTS local (Piper)" if p.get("tts") == "local" else f"TTFB {p['ttfb_s']:.2f}s"
    print(f"simulated providers: {stt} · TTFT {p['ttft_s']:.2f}s · {tts}", file=out)
    if "local" in (p.get("stt"), p.get("tts")):
        print("(added by voicedesk includes the local providers' work on this machine)", file=out)
    d = report.get("device") or {}
    if d.get("input_latency_s") or d.get("output_latency_s"):
        print(
            f"simulated sound card: input {d['input_latency_s'] * 1000:.0f} ms · "
            f"output {d['output_latency_s'] * 1000:.0f} ms",
            file=out,
        )
    print(f"{'stage':28} {'p50':>10} {'p90':>10} {'p95':>10}  n", file=out)
    rows = [
        ("voice-to-voice (audio)", report["voice_to_voice_audio_s"]),
        ("added by voicedesk (audio)", report["added_latency_s"]),
    ]
    rows += [(k, v) for k, v in report["stages_s"].items()]
    if "barge_in_silence_s" in report:
        rows.append(("barge-in → silence (audio)", report["barge_in_silence_s"]))
    untimed = report.get("barge_ins_not_timed", 0)
    for name, s in rows:
        print(
            f"{name:28} {ms(s['p50']):>10} {ms(s['p90']):>10} {ms(s['p95']):>10}  {s['n']}",
            file=out,
        )
    if untimed:
        print(
            f"barge-ins not timed: {untimed} (no answer was playing when the person cut in, "
            "or it never fell silent)",
            file=out,
        )
    print(
        f"CPU {report['cpu_percent']}% of one core · peak RSS {report['peak_rss_mb']} MB · "
        f"unanswered turns {report['unanswered_turns']}",
        file=out,
    )
