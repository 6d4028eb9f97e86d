"""``voicedesk bench turn``: CPU cost of the on-device models and turn-decision accuracy.

Accuracy runs the real pipeline (``voicedesk.turn.replay``, virtual clock; ``--realtime``
paces each file like a microphone, so the waits include the local reading's compute time,
as live) over a labelled fixture set: a folder with WAVs and ``labels.json``, by default
the one in voicedesk's source (tests/fixtures/turns; an installed voicedesk has none, and
says how to fetch it), and scores each category the way a listener would:

- finished:   silence wait = decided − speech end (a decision before the end is a cut-off)
- unfinished: not ended within 600 ms of the last word
- paused:     the turn is not ended during the mid-sentence pause
- noise/silence: no turn at all

Unfinished sentences and pauses are also scored apart by where the words stop: after a
function word ("… called", "… to the") the words themselves say the sentence goes on; after
a content word ("Set an alarm for seven | thirty") only the voice can, and a fragment that is
a whole sentence itself is one a listener might answer too. Where the labels say how a
fragment was spoken (``style``: "cut" from a whole sentence, or "separate", on its own), they
are scored apart by that too: a fragment spoken on its own ends with the voice of a finished
sentence, so only the words can hold it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `voicedesk --help` builds this parser
    import numpy as np

from voicedesk import __version__
from voicedesk.commands import path_arg
from voicedesk.engine.metrics import percentile
from voicedesk.turn.cues import stops_on_function_word

# The checked-in set: relative to the working directory, or beside the package when run
# from a source checkout elsewhere (a wheel ships no tests, so then --fixtures is needed).
FIXTURES_IN_CHECKOUT = Path("tests/fixtures/turns")


def default_fixtures() -> Path:
    beside_package = Path(__file__).resolve().parents[2] / FIXTURES_IN_CHECKOUT
    if not (FIXTURES_IN_CHECKOUT / "labels.json").is_file() and beside_package.is_dir():
        return beside_package
    return FIXTURES_IN_CHECKOUT


def add_parser(sub: argparse._SubParsersAction) -> None:
    from voicedesk.bench import bench_parser

    p = bench_parser(
        sub, "turn", "turn-detection CPU cost and accuracy on labelled speech", __doc__
    )
    p.add_argument(
        "--fixtures",
        type=path_arg,
        default=None,
        help="folder with labels.json (default: tests/fixtures/turns of voicedesk's source, "
        "here or beside the package; installed, the accuracy is skipped and it says how to "
        "fetch them)",
    )
    p.add_argument("--split", help="only fixtures of this split (e.g. heldout)")
    p.add_argument(
        "--stt", choices=["local", "none"], default="local", help="transcript cues (local)"
    )
    p.add_argument(
        "--cpu-seconds", type=float, default=20.0, help="audio seconds for the CPU test (20)"
    )
    p.add_argument(
        "--realtime",
        action="store_true",
        help="pace each file like a microphone: the waits then include the time the local "
        "transcriber takes to read each pause, as live (takes as long as the audio)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a setting, e.g. --set turn.stop_ms=64 (repeatable); "
        "typed as its VOICEDESK_* variable is: a list or a table in JSON",
    )
    p.set_defaults(func=run)


# Where an installed voicedesk (pipx, a wheel) gets the labelled speech: the source archive
# ships it. "Run from a checkout" and "made by tests/fixtures/make_fixtures.py" named what
# such a person does not have (and the script needs Piper and espeak-ng besides).
_SOURCE = f"voicedesk-{__version__}"
GET_FIXTURES = (
    f"the labelled speech comes with voicedesk's source, not with an installed voicedesk: "
    f"fetch it with `pip download --no-deps --no-binary :all: voicedesk=={__version__}` and "
    f"`tar xzf {_SOURCE}.tar.gz`, then pass --fixtures {_SOURCE}/{FIXTURES_IN_CHECKOUT}"
    " (or a folder of your own recordings with a labels.json)"
)
NO_FIXTURES = f"no labelled speech in {FIXTURES_IN_CHECKOUT} here; {GET_FIXTURES}"
MIN_CPU_SECONDS = 0.1
MAX_CPU_SECONDS = 3600.0


EOU_CALLS = 100


def _ms_p50_p95(seconds: list[float]) -> dict[str, float]:
    p95 = percentile(seconds, 95)
    assert p95 is not None  # None only for no data, where median has raised already
    return {"p50": 1000 * statistics.median(seconds), "p95": 1000 * p95}


def cpu_costs(settings: Any, audio_s: float) -> dict[str, Any]:
    """Per-call costs on one thread, and the real-time share of VAD + resampling."""
    import numpy as np

    from voicedesk.audio.resample import StreamResampler
    from voicedesk.bench.scenarios import load_utterance
    from voicedesk.turn.smart_turn import SmartTurn
    from voicedesk.turn.vad import SileroVAD

    speech, _ = load_utterance("weather")
    reps = int(np.ceil(audio_s * 16_000 / speech.size))
    audio = np.tile(speech, reps)[: int(audio_s * 16_000)]
    # what a 48 kHz microphone costs us: resample to 16 kHz, then VAD every 32 ms
    mic48 = np.repeat(audio, 3)
    vad = SileroVAD(settings)
    rs = StreamResampler(48_000, 16_000)
    win_times = []
    t_all = time.process_time()
    for i in range(0, mic48.size - 1536 + 1, 1536):
        x = rs.process(mic48[i : i + 1536])
        t = time.perf_counter()
        vad.probability(
            x[:512].astype(np.float32) / 32768 if x.size >= 512 else np.zeros(512, np.float32)
        )
        win_times.append(time.perf_counter() - t)
    cpu = time.process_time() - t_all
    model = SmartTurn(settings)
    model.wait_warm()
    # Wall time is what the person waits; this thread's CPU time is what the call itself
    # took, so a slow tail in wall time alone is the machine's other work, and one in both
    # is the call's. 100 calls, so the p95 is not the second-worst of a handful.
    # The process's CPU time beside it counts what library threads spent on the call too
    # (numpy's BLAS helpers spun ~40 ms a call before they were limited to one thread).
    eou_times, eou_cpu, eou_process_cpu = [], [], []
    for k in range(EOU_CALLS):
        seg = audio[: 16_000 * (2 + k % 6)]
        t, c, p = time.perf_counter(), time.thread_time(), time.process_time()
        model.predict(seg)
        eou_times.append(time.perf_counter() - t)
        eou_cpu.append(time.thread_time() - c)
        eou_process_cpu.append(time.process_time() - p)
    model.close()
    return {
        "vad_window_ms": _ms_p50_p95(win_times),
        "eou_call_ms": _ms_p50_p95(eou_times),
        "eou_call_cpu_ms": _ms_p50_p95(eou_cpu),
        "eou_call_process_cpu_ms": _ms_p50_p95(eou_process_cpu),
        "eou_calls": EOU_CALLS,
        "realtime_cpu_percent_vad_resample": round(100 * cpu / audio_s, 2),
    }


class TimedReader:
    """The cue transcriber, timing each reading of a pause: in the virtual-clock replay a
    reading costs no audio time, live the decision can wait for it (``TEXT_WAIT_S``)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    def read_for_cues(self, audio16k: np.ndarray, silence_s: float = 0.0) -> Any:
        t = time.perf_counter()
        try:
            return self.inner.read_for_cues(audio16k, silence_s)
        finally:
            self.seconds.append(time.perf_counter() - t)

    def summary(self) -> dict[str, Any] | None:
        p95 = percentile(self.seconds, 95)
        if p95 is None:  # no data
            return None
        return {
            "n": len(self.seconds),
            "p50": round(1000 * statistics.median(self.seconds), 1),
            "p95": round(1000 * p95, 1),
        }


def score(label: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any]:
    cat = label["category"]
    out: dict[str, Any] = {"file": label["file"], "category": cat, "turns": turns}
    if cat in ("noise", "silence"):
        out["ok"] = not turns
        return out
    if cat == "paused":  # scored by its pause alone: speech_end_s is not asked of it
        out["ok"] = not any(t["decided_s"] < label["pause_end_s"] for t in turns)
        return out
    end = label["speech_end_s"]
    if cat == "finished":
        early = [t for t in turns if t["decided_s"] < end - 0.05]
        late = [t for t in turns if t["decided_s"] >= end - 0.05]
        out["cut_off"] = bool(early)
        out["wait_s"] = round(late[0]["decided_s"] - end, 3) if late else None
        out["ok"] = not early and out["wait_s"] is not None and out["wait_s"] <= 0.4
    elif cat == "unfinished":
        out["ok"] = not any(t["decided_s"] < end + 0.6 for t in turns)
    return out


# What score() and accuracy() read from each label, by category: a label without one would
# fail with a KeyError in the middle of the run, after the CPU test, instead of up front.
LABEL_TIMES = {
    "finished": ("speech_end_s",),
    "unfinished": ("speech_end_s",),
    "paused": ("pause_end_s",),
    "noise": (),
    "silence": (),
}
LABELS_FORMAT = (
    "labels.json is a list of objects with file, category ("
    + ", ".join(LABEL_TIMES)
    + "), text, speech_end_s (finished, unfinished) and pause_end_s (paused), "
    "as voicedesk's tests/fixtures/make_fixtures.py writes it"
)


def check_labels(labels: Any, folder: Path, labels_path: Path) -> None:
    """Every label names a readable audio file, a known category and the times it is
    scored by, within the file."""
    from voicedesk.audio.wavio import duration_s
    from voicedesk.errors import UserError

    def bad(what: str) -> UserError:
        return UserError(f"{labels_path}: {what}", f"fix the file; {LABELS_FORMAT}")

    if not isinstance(labels, list):
        raise bad("the top level must be a list of labels")
    for i, lab in enumerate(labels, 1):
        if not isinstance(lab, dict) or not isinstance(lab.get("file"), str):
            raise bad(f"label {i} has no file name")
        where = f"label {i} ({lab['file']})"
        category = lab.get("category")
        if category not in LABEL_TIMES:
            raise bad(f"{where} has category {category!r}, not one of {', '.join(LABEL_TIMES)}")
        if not isinstance(lab.get("text"), str):
            raise bad(f'{where} has no text ("" for noise and silence)')
        for key in ("style", "split"):  # optional; they group the results
            if lab.get(key) is not None and not isinstance(lab[key], str):
                raise bad(f"{where}: {key} must be text, not {lab[key]!r}")
        times: dict[str, float] = {}
        for key in LABEL_TIMES[category]:
            value = lab.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad(f"{where}: a {category} label needs {key} (seconds)")
            times[key] = value
        if not (folder / lab["file"]).is_file():
            raise bad(f"{where}: no such file in {folder}")
        try:  # read now: an unreadable file found after the CPU test wasted the wait
            duration = duration_s(folder / lab["file"])
        except UserError as exc:
            raise bad(f"{where}: {exc.message}") from None
        for key, value in times.items():
            if not 0 <= value <= duration + 0.001:  # also NaN and Infinity, which json reads
                raise bad(
                    f"{where}: {key} {value} is not a time in the file (0 to {duration:.3f} s)"
                )


def load_labels(folder: Path, split: str | None) -> list[dict[str, Any]]:
    """The fixtures' labels (only ``split``'s, if given); a bad folder or split is a UserError."""
    from voicedesk.errors import UserError

    labels_path = folder / "labels.json"
    if not labels_path.is_file():
        raise UserError(
            f"No labels.json in {folder}",
            f"pass a folder that has one; {GET_FIXTURES}. {LABELS_FORMAT}",
        )
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(
            f"{labels_path} is not valid JSON: {exc}", f"fix the file; {LABELS_FORMAT}"
        ) from None
    except OSError as exc:
        raise UserError(
            f"Cannot read {labels_path}: {exc.strerror or exc}", "check its permissions"
        ) from None
    check_labels(labels, folder, labels_path)
    if not labels:  # every figure would be "None", and the run would look like a result
        raise UserError(f"{labels_path} lists no fixtures", f"add some; {LABELS_FORMAT}")
    if split:
        splits = sorted({str(lab.get("split")) for lab in labels if lab.get("split")})
        labels = [lab for lab in labels if lab.get("split") == split]
        if not labels:
            raise UserError(
                f"No fixtures of split {split!r} in {labels_path}",
                f"use one of: {', '.join(splits)}" if splits else "leave out --split",
            )
    return labels


def _configured_cue_reader(settings: Any) -> Any:
    """The live engine's reader of pauses: ``stt.local_model`` (the packaged model was
    measured in its place), one per process (``cue_reader`` keeps it)."""
    from voicedesk.providers.local_stt import cue_reader

    return cue_reader(settings.stt.local_model, language=settings.stt.language)


def accuracy(
    settings: Any, folder: Path, split: str | None, stt: str, *, realtime: bool = False
) -> dict[str, Any]:
    from voicedesk.turn.replay import replay

    labels = load_labels(folder, split)
    transcriber = None
    if stt == "local":
        transcriber = TimedReader(_configured_cue_reader(settings))
    results = [
        score(
            lab,
            replay(
                folder / lab["file"], settings, transcriber=transcriber, realtime=realtime
            ).turns,
        )
        for lab in labels
    ]
    by = {
        c: [r for r in results if r["category"] == c]
        for c in ("finished", "unfinished", "paused", "noise", "silence")
    }
    waits = [r["wait_s"] for r in by["finished"] if r.get("wait_s") is not None]

    def rate(rs: list[dict[str, Any]]) -> float | None:
        return round(sum(r["ok"] for r in rs) / len(rs), 3) if rs else None

    def fragments(chosen: set[str]) -> dict[str, Any]:
        part = {c: [r for r in by[c] if r["file"] in chosen] for c in ("unfinished", "paused")}
        return {
            "n": {c: len(rs) for c, rs in part.items()},
            "unfinished_not_ended_600ms": rate(part["unfinished"]),
            "paused_not_ended": rate(part["paused"]),
        }

    split_by_stop = {
        name: fragments(
            {
                lab["file"]
                for lab in labels
                if stops_on_function_word(lab["text"].split("…")[0]) == wanted
            }
        )
        for name, wanted in (("after_function_word", True), ("after_content_word", False))
    }
    # How the fragment was spoken, where the labels say (make_extra_fixtures.py): "cut" from
    # a whole sentence keeps the voice of a sentence going on; "separate", spoken on its own,
    # ends like a finished sentence, and a fragment that is a whole sentence ("Send the
    # invoice") can then only be told by a doubt in the words.
    styles: dict[str, set[str]] = {
        lab["style"]: set()
        for lab in labels
        if lab["category"] in ("unfinished", "paused") and lab.get("style")
    }
    for lab in labels:
        if lab.get("style") in styles:
            styles[lab["style"]].add(lab["file"])
    split_by_style = {style: fragments(files) for style, files in sorted(styles.items())}

    return {
        "fixtures": len(results),
        "clock": "realtime" if realtime else "virtual",
        "pause_reading_ms": transcriber.summary() if transcriber else None,
        "finished": {
            "n": len(by["finished"]),
            "median_wait_s": round(statistics.median(waits), 3) if waits else None,
            "p95_wait_s": round(p95, 3) if (p95 := percentile(waits, 95)) is not None else None,
            "within_400ms": rate(by["finished"]),
            "cut_off": sum(bool(r.get("cut_off")) for r in by["finished"]),
        },
        "unfinished_not_ended_600ms": rate(by["unfinished"]),
        "paused_not_ended": rate(by["paused"]),
        "noise_silence_no_turn": rate(by["noise"] + by["silence"]),
        "cut": split_by_stop,
        "style": split_by_style,
        "failures": [r for r in results if not r["ok"]],
    }


def run(args: argparse.Namespace) -> int:
    from voicedesk.bench import parse_sets
    from voicedesk.config import cli_settings
    from voicedesk.errors import UserError
    from voicedesk.providers import local_stt

    if not args.cpu_seconds >= MIN_CPU_SECONDS:
        raise UserError(
            f"--cpu-seconds {args.cpu_seconds} is too short to time anything",
            f"use at least {MIN_CPU_SECONDS} (a VAD window is 32 ms), e.g. --cpu-seconds 5",
        )
    if not args.cpu_seconds <= MAX_CPU_SECONDS:  # the audio is made in memory up front
        raise UserError(
            f"--cpu-seconds {args.cpu_seconds} is more than the test can hold",
            f"use at most {MAX_CPU_SECONDS:g} (the default, 20, is plenty for a p95)",
        )
    settings = cli_settings(args.config, overrides=parse_sets(args.set))
    folder = args.fixtures or default_fixtures()
    # Installed from a wheel there is no labelled speech (it lives in a checkout): the CPU
    # costs need none, so they are measured and the accuracy is said to be skipped.
    labelled = args.fixtures is not None or (folder / "labels.json").is_file()
    if labelled:
        load_labels(folder, args.split)  # a bad one fails before timing
        if args.stt == "local" and not local_stt.installed():
            # The default: an installed voicedesk following the hint to fetch the labelled
            # speech was then told only to install faster-whisper, not that it can go without.
            raise UserError(
                "Scoring the turns with transcript cues (--stt local, the default) needs "
                "faster-whisper, which is not installed.",
                f"{local_stt.install_hint()}; or pass --stt none to score them on the audio alone",
            )
        if args.stt == "local":  # loaded (or refused) before timing too; accuracy() reuses it
            # and its silence encoded before, not beside, the calls timed (it is all cores'
            # CPU for ~0.5 s, which the process's CPU time and the VAD's share counted)
            _configured_cue_reader(settings).wait_cue_reading_prepared()
    report: dict[str, Any] = {
        "cpu": cpu_costs(settings, args.cpu_seconds),
        "accuracy": accuracy(settings, folder, args.split, args.stt, realtime=args.realtime)
        if labelled
        else None,
    }
    if not labelled:
        report["accuracy_skipped"] = NO_FIXTURES
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    c, a = report["cpu"], report["accuracy"]
    print(
        f"VAD window: p50 {c['vad_window_ms']['p50']:.2f} ms, p95 {c['vad_window_ms']['p95']:.2f} ms"
    )
    e, ec, ep = c["eou_call_ms"], c["eou_call_cpu_ms"], c["eou_call_process_cpu_ms"]
    print(
        f"end-of-turn call ({c['eou_calls']} calls): p50 {e['p50']:.1f} ms, p95 {e['p95']:.1f} ms"
        f" (CPU time: p50 {ec['p50']:.1f} ms, p95 {ec['p95']:.1f} ms; all threads: p50"
        f" {ep['p50']:.1f} ms, p95 {ep['p95']:.1f} ms)"
    )
    print(
        f"VAD + resampling in real time: {c['realtime_cpu_percent_vad_resample']:.2f}% of one core"
    )
    if a is None:
        print(f"accuracy: skipped: {NO_FIXTURES}")
        return 0
    if a["pause_reading_ms"]:
        r = a["pause_reading_ms"]
        print(
            f"local reading of a pause: p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms "
            f"(n {r['n']}; {a['clock']} clock"
            + ("" if a["clock"] == "realtime" else ": not in the waits below, live it can be")
            + ")"
        )
    f = a["finished"]
    print(
        f"finished ({f['n']}): median wait {f['median_wait_s']} s, p95 {f['p95_wait_s']} s, "
        f"within 400 ms {f['within_400ms']}, cut off {f['cut_off']}"
    )
    print(f"unfinished not ended within 600 ms: {a['unfinished_not_ended_600ms']}")
    print(f"mid-sentence pauses not ended: {a['paused_not_ended']}")
    for name, part in a["cut"].items():
        print(
            f"  cut {name.replace('_', ' ')}: unfinished {part['unfinished_not_ended_600ms']} "
            f"({part['n']['unfinished']}), pauses {part['paused_not_ended']} ({part['n']['paused']})"
        )
    for style, part in a["style"].items():
        print(
            f"  spoken {style}: unfinished {part['unfinished_not_ended_600ms']} "
            f"({part['n']['unfinished']}), pauses {part['paused_not_ended']} ({part['n']['paused']})"
        )
    print(f"noise/silence without a turn: {a['noise_silence_no_turn']}")
    for fail in a["failures"]:
        print(
            f"  ✗ {fail['file']}: {[(t['decided_s'], t['reason'], t['text']) for t in fail['turns']]}",
            file=sys.stderr,
        )
    return 0
