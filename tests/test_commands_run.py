"""`run`, `demo` and `replay` on the command line: every bad path or number is one message and
exit code 2 before anything starts, the output WAV is never silently lost, and demo or
simulated conversations stay out of `--resume`. No sound card and no network are needed."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess
from types import SimpleNamespace

import numpy as np
import pytest

from voicedesk.audio.file_backend import FileDuplex
from voicedesk.audio.wavio import read_wav, write_wav
from voicedesk.cli import main
from voicedesk.errors import UserError


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config and session logs in a temporary folder, never the developer's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("VOICEDESK_CONFIG", raising=False)
    return tmp_path


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "in.wav"
    write_wav(path, np.zeros(16_000, np.int16), 16_000)
    return path


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    for needle in needles:
        assert needle in captured.err


# ---- checked before the run starts ----------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["docs-server", "--root", ""],
        ["replay", " "],
        ["run", "--headless", "--sim", "--input", ""],
        ["demo", "--output", ""],
        ["bench", "turn", "--fixtures", ""],
    ],
)
def test_an_empty_path_is_refused(argv: list[str], capsys) -> None:
    """An unset shell variable passed as a path was the current folder: `docs-server
    --root ""` served (and let the tools edit) wherever it was started."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "an empty path was given" in capsys.readouterr().err


def test_unwritable_output_is_refused_up_front(wav: Path, tmp_path: Path, capsys) -> None:
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    _fails([*run, "--output", "/proc/nope/o.wav"], capsys, "--output /proc/nope/o.wav")
    _fails([*run, "--output", str(tmp_path)], capsys, "is a directory")
    _fails(["demo", "--headless", "--output", str(tmp_path)], capsys, "is a directory")
    # under a file: mkdir said "File exists", as if the output were there already
    (tmp_path / "notes.wav").write_bytes(b"x")
    for flag in ("--output", "--metrics-out"):
        _fails(
            [*run, flag, str(tmp_path / "notes.wav" / "o.wav")],
            capsys,
            f"{tmp_path / 'notes.wav'} is a file, not a folder",
        )


def test_a_missing_output_folder_is_made_and_said(wav: Path, tmp_path: Path, capsys) -> None:
    """A missing --output (or --metrics-out) folder was made without a word: a mistyped one
    (~/Desktp/a.wav) took the answers somewhere the person never looked."""
    out = tmp_path / "new" / "deeper" / "a.wav"
    metrics = tmp_path / "other" / "m.jsonl"
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    assert main([*run, "--output", str(out), "--metrics-out", str(metrics)]) == 0
    err = capsys.readouterr().err
    assert f"made the folder {out.parent} for --output (it did not exist)" in err
    assert f"made the folder {metrics.parent} for --metrics-out (it did not exist)" in err
    assert out.read_bytes()[:4] == b"RIFF"
    out.unlink()
    assert main([*run, "--output", str(out)]) == 0  # there now: nothing to say
    assert "made the folder" not in capsys.readouterr().err


def test_a_refused_run_makes_no_folder(wav: Path, tmp_path: Path, capsys) -> None:
    """The --output folder was made, and said to be made, before a later check refused the
    run: the person was left an empty folder and told of it for a run that never was."""
    (tmp_path / "afile").write_text("a file where a folder should be")
    (tmp_path / "adir").mkdir()
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    for metrics, said in (
        (tmp_path / "afile" / "m.jsonl", "afile is a file, not a folder"),
        (tmp_path / "adir", "is a directory"),
    ):
        out = tmp_path / "new" / "sub" / "a.wav"
        _fails([*run, "--output", str(out), "--metrics-out", str(metrics)], capsys, said)
        assert not (tmp_path / "new").exists()
    out = tmp_path / "new" / "a.wav"
    _fails([*run, "--output", str(out), "--metrics-out", str(out)], capsys, "the same file")
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile", "in.wav"]  # no probe


def test_an_existing_output_is_replaced_only_with_force(wav: Path, tmp_path: Path, capsys) -> None:
    """A second `demo --output d.wav` (or run) wrote over the first one's answers without a
    word; `config init` already refused to overwrite without --force."""
    out = tmp_path / "d.wav"
    out.write_bytes(b"the first run's answers")
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav), "--output", str(out)]
    for argv in (run, ["demo", "--headless", "--no-tools", "--output", str(out)]):
        _fails(argv, capsys, f"--output {out} already exists", "add --force to replace it")
        assert out.read_bytes() == b"the first run's answers"
    assert main([*run, "--force"]) == 0
    assert out.read_bytes()[:4] == b"RIFF"  # replaced by this run's audio
    for command in ("run", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "refused unless --force" in " ".join(capsys.readouterr().out.split())


def test_input_and_output_that_are_no_wav_files_are_named_so(
    wav: Path, tmp_path: Path, capsys
) -> None:
    """ "-" and /dev/null were "Input file not found"; a .flac output got a WAV inside."""
    run = ["run", "--headless", "--sim", "--no-tools"]
    out = ["--output", str(tmp_path / "o.wav")]
    _fails([*run, "--input", "-", *out], capsys, "standard input is not supported")
    _fails([*run, "--input", "/dev/null", *out], capsys, "not a regular file")
    flac = ["--input", str(wav), "--output", str(tmp_path / "o.flac")]
    _fails([*run, *flac], capsys, "written as a WAV file", f"--output {tmp_path / 'o.wav'}")
    assert not (tmp_path / "o.flac").exists()


def test_a_dash_for_output_or_metrics_is_no_file_and_said_so(
    wav: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--output - suggested "--output -.wav"; --metrics-out - wrote a file called "-" in the
    current folder, where the person looked for the metrics on the screen."""
    monkeypatch.chdir(tmp_path)
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    _fails([*run, "--output", "-"], capsys, "--output -: writing to standard output is not")
    _fails([*run, "--metrics-out", "-"], capsys, "--metrics-out -: writing to standard output")
    assert not (tmp_path / "-").exists()


def test_bad_metrics_out_is_refused_up_front(wav: Path, tmp_path: Path, capsys) -> None:
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    _fails([*run, "--metrics-out", str(tmp_path)], capsys, "--metrics-out", "is a directory")
    _fails([*run, "--metrics-out", "/proc/nope/m.jsonl"], capsys, "Cannot write --metrics-out")
    _fails(["demo", "--headless", "--metrics-out", str(tmp_path)], capsys, "is a directory")


def test_unreadable_or_empty_input_is_refused_before_any_file_is_made(
    tmp_path: Path, capsys
) -> None:
    """A file that is not audio failed only once the run read it, after --metrics-out had
    been created empty; one of no samples (a recording cut to its header) ran, said "No
    speech was heard" and wrote seconds of silence as the output."""
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wave file" * 20)
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.int16), 16_000)
    out, metrics = tmp_path / "out.wav", tmp_path / "m.jsonl"
    for bad, needle in ((garbage, "Cannot read"), (empty, "holds no audio (0 samples)")):
        run = ["run", "--headless", "--sim", "--no-tools", "--input", str(bad)]
        _fails([*run, "--output", str(out), "--metrics-out", str(metrics)], capsys, needle)
        assert not out.exists() and not metrics.exists()


def test_headless_run_over_a_file_without_speech_says_so(wav: Path, capsys) -> None:
    """It printed nothing at all and exited 0, as if it had not run."""
    assert main(["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]) == 0
    err = capsys.readouterr().err
    assert f"No speech was heard in {wav}, so no turn was sent" in err and "replay" in err


def test_a_headless_run_ends_without_waiting_for_work_left_on_other_threads(
    tmp_path: Path,
) -> None:
    """A headless run that ended normally still waited, at exit, for threads whose work
    nobody would read (Whisper encoding its silence, a model warming up), then for the
    interpreter's teardown of the models. Here a thread left busy for two minutes stands
    for them: the run ends as soon as its own work is done, its session log and output
    WAV whole."""
    from voicedesk.bench.scenarios import compose

    inp, out = tmp_path / "in.wav", tmp_path / "out.wav"
    compose(["question"], tail_s=3.0).write(inp)
    argv = ["run", "--headless", "--sim", "--no-tools", "--input", str(inp), "--output", str(out)]
    left_busy = (
        "import threading, time, runpy, sys; "
        "threading.Thread(target=time.sleep, args=(120,), name='left-busy').start(); "
        f"sys.argv = ['voicedesk', *{argv!r}]; "
        "runpy.run_module('voicedesk', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", left_busy],
        capture_output=True,
        text=True,
        timeout=90,  # a hang only: the busy thread would hold it for 120 s
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    played, _ = read_wav(out)  # its header written: a WAV whole
    assert np.abs(played).max() > 0  # the answer in it
    (log,) = (tmp_path / "data").rglob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    (turn,) = [r for r in records if r.get("type") == "turn"]
    assert turn, records


def test_a_headless_run_over_a_file_without_output_says_the_answers_are_not_kept(
    wav: Path, tmp_path: Path, capsys
) -> None:
    """`--input` is "WAV file as the microphone", so `run --input IN.wav` read as: the
    speaker as usual. A WAV microphone has no speaker but --output, and with none the
    answers went nowhere, played nor written, without a word."""
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    assert main(run) == 0
    err = capsys.readouterr().err
    assert "no --output, so the answers are shown, not played or kept" in err
    assert "add --output OUT.wav" in err
    assert main([*run, "--output", str(tmp_path / "o.wav")]) == 0
    assert "no --output" not in capsys.readouterr().err


def test_a_headless_run_keeps_its_start_up_objects_out_of_full_collections(wav: Path) -> None:
    """Only the terminal UI froze them, so a headless session (a live one on the microphone
    too) still stalled its event loop 0.16–0.24 s at every full collection (engine.heap)."""
    assert gc.get_freeze_count() == 0
    assert main(["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]) == 0
    assert gc.get_freeze_count() > 0


def test_headless_push_to_talk_is_refused(wav: Path, tmp_path: Path, capsys) -> None:
    """No key can be pressed without the TUI: a push-to-talk run over a file sent nothing and
    exited 0."""
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    _fails([*run, "--mode", "push-to-talk"], capsys, "--mode push-to-talk needs a key")
    config = tmp_path / "ptt.toml"
    config.write_text('[turn]\nmode = "push-to-talk"\n', encoding="utf-8")
    _fails(["--config", str(config), *run], capsys, "from the config", "--mode hands-free")


def test_output_or_metrics_over_the_input_is_refused(wav: Path, tmp_path: Path, capsys) -> None:
    before = wav.read_bytes()
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    _fails([*run, "--output", str(wav)], capsys, "--input and --output are the same file")
    same = tmp_path / "link.wav"  # another name for the same file
    same.symlink_to(wav)
    _fails([*run, "--metrics-out", str(same)], capsys, "--input and --metrics-out")
    out = tmp_path / "out.wav"
    _fails([*run, "--output", str(out), "--metrics-out", str(out)], capsys, "--output and")
    assert wav.read_bytes() == before


def test_input_where_the_output_grows_is_refused(wav: Path, tmp_path: Path, capsys) -> None:
    """The output grows in OUT.partial.wav until the run ends: an --input of that name
    (a killed run's audio, played back) would be overwritten by the run it feeds."""
    recovered = tmp_path / "answers.partial.wav"
    recovered.write_bytes(wav.read_bytes())
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(recovered)]
    _fails([*run, "--output", str(tmp_path / "answers.wav")], capsys, "would be overwritten")
    assert recovered.read_bytes() == wav.read_bytes()


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--sim-ttft", "-1", "--sim-ttft must be 0 to 60 seconds, got -1"),
        ("--sim-ttfb", "nan", "--sim-ttfb must be 0 to 60 seconds, got nan"),
        ("--sim-stt", "-0.5", "--sim-stt must be 0 to 60 seconds, got -0.5"),
        ("--sim-tokens-per-s", "0", "--sim-tokens-per-s must be 1 to 1,000,000 tokens a"),
        # taken, and every turn then failed on the engine's timeouts (exit 3)
        ("--sim-ttft", "1e9", "--sim-ttft must be 0 to 60 seconds, got 1e+09"),
        ("--sim-stt", "inf", "--sim-stt must be 0 to 60 seconds, got inf"),
        ("--sim-tokens-per-s", "1e-9", "--sim-tokens-per-s must be 1 to 1,000,000"),
        ("--sim-tokens-per-s", "nan", "got nan"),
    ],
)
def test_sim_flags_are_checked_like_sim(flag: str, value: str, needle: str, capsys) -> None:
    _fails(["run", "--headless", "--sim", flag, value], capsys, needle)
    if flag != "--sim-tokens-per-s":
        _fails(["demo", "--headless", flag, value], capsys, needle)


def test_sim_fault_without_sim_says_to_add_sim(capsys) -> None:
    """Only the simulated cloud can be made to fail: without --sim the flag would do nothing."""
    _fails(["run", "--headless", "--sim-fault", "llm:500"], capsys, "--sim-fault needs --sim")
    _fails(["run", "--sim-fault", "llm:500"], capsys, "add --sim")


def test_other_sim_flags_without_sim_say_to_add_sim(tmp_path: Path, capsys) -> None:
    """Without --sim they were ignored, and the run went to the real providers."""
    _fails(["run", "--headless", "--sim-ttft", "0.1"], capsys, "--sim-ttft needs --sim")
    script = tmp_path / "s.toml"
    script.write_text('[[turns]]\ntranscript = "hi"\n', encoding="utf-8")
    argv = ["run", "--sim-script", str(script), "--sim-stt", "0"]
    _fails(argv, capsys, "--sim-stt, --sim-script need --sim", "add --sim")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("missing.toml", None, "cannot be read (No such file or directory)"),
        ("folder", "", "cannot be read (Is a directory)"),
        ("bad.toml", "[[turns]\n", "not valid TOML"),
        ("keys.toml", '[[turns]]\nsaid = "hi"\n', "turn 1 has no transcript string"),
    ],
)
def test_an_unreadable_sim_script_names_its_flag(
    tmp_path: Path, name: str, content: str | None, needle: str, capsys
) -> None:
    """ "Cannot read the simulation script …: check the path" named no flag; the refusal
    now comes before the run starts, with the flag, the path and where the format is."""
    script = tmp_path / name
    if name == "folder":
        script.mkdir()
    elif content is not None:
        script.write_text(content, encoding="utf-8")
    out = tmp_path / "new" / "out.wav"
    run = ["run", "--headless", "--sim", "--no-tools", "--output", str(out)]
    _fails([*run, "--sim-script", str(script)], capsys, f"--sim-script {script}: {needle}")
    assert not out.parent.exists()  # refused before --output's folder was made
    _fails(["sim", "--script", str(script)], capsys, f"--script {script}: {needle}")


def _argparse_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What argparse says about ``argv`` after ``argument --FLAG: ``: a usage error, exit 2."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "usage:" not in err
    first, *_ = err.strip().splitlines()  # its line first, then where --help is
    return first.split(": ", 2)[-1]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("llm:lose", "'lose' is a fault of stt only, not of llm"),
        ("llm:crash", "unknown fault 'crash': use 429, 500"),
        ("gpu:500", "unknown provider 'gpu': use stt, llm, tts"),
        ("llm:500:0", "N must be from 1 to 10000 requests"),
        # a MemoryError traceback: the server kept a list entry per request
        ("llm:500:1000000000000", "N must be from 1 to 10000 requests"),
        ("llm:500:x", "N must be a whole number of requests, not 'x'"),
        ("llm:500:²", "N must be a whole number of requests, not '²'"),  # int() refused it
        ("llm", "no fault after 'llm': use 429, 500"),
        ("llm:", "no fault after 'llm': use 429, 500"),
    ],
)
def test_bad_sim_fault_says_what_sim_fault_says(value: str, needle: str, capsys) -> None:
    """The same check and words as ``voicedesk sim --fault``, before anything starts."""
    expected = _argparse_error(["sim", "--fault", value], capsys)
    assert expected.startswith(f"{value!r}: ") and needle in expected
    # each names the accepted forms (`llm:500:0` said only what N must be)
    assert expected.endswith("(PROVIDER:FAULT[:N], like llm:500, llm:500:6 or stt:late)")
    assert _argparse_error(["run", "--sim", "--sim-fault", value], capsys) == expected
    assert _argparse_error(["demo", "--headless", "--sim-fault", value], capsys) == expected


def test_replay_of_a_file_that_is_no_audio_says_only_that(tmp_path: Path, capsys) -> None:
    """ "replay: transcript cues from nothing (audio only)" came first, as if it had begun."""
    text = tmp_path / "notes.wav"
    text.write_text("not audio\n", encoding="utf-8")
    assert main(["replay", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"voicedesk: Cannot read {text} as audio") and "cues" not in err


def test_replay_of_a_long_file_says_the_wait_is_expected(tmp_path: Path) -> None:
    """A two-hour recording was read for over three minutes without a line, like a command
    that hung. The line comes before the reading; Ctrl-C after it ends the replay."""
    import signal

    long = tmp_path / "long.wav"
    write_wav(long, np.zeros(16_000 * 601, np.int16), 16_000)
    package_root = str(Path(__file__).resolve().parents[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "replay", "--stt", "none", str(long)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": package_root},
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
    assert line.startswith(f"replay: {long} is 0:10:01 long; reading it takes a while"), line
    assert "(Ctrl-C stops)" in line
    assert proc.returncode == 130 and "Traceback" not in rest, rest


def test_replay_of_a_directory_says_so(tmp_path: Path, capsys) -> None:
    _fails(["replay", str(tmp_path), "--stt", "none"], capsys, "is a directory")


def test_replay_of_what_is_no_file_says_what_it_is(tmp_path: Path, capsys) -> None:
    """A pipe was "not found", and standard input ("-") too."""
    fifo = tmp_path / "turn.wav"
    os.mkfifo(fifo)
    _fails(["replay", str(fifo), "--stt", "none"], capsys, "not a regular file", "save")
    _fails(["replay", "-", "--stt", "none"], capsys, "standard input")


def test_an_empty_or_cut_short_recording_says_so(
    tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty file was "Format not recognised"; one cut short (a copy that stopped) read
    as a file with no speech in it, without a word."""
    import numpy as np
    import soundfile as sf

    empty = tmp_path / "empty.wav"
    empty.touch()
    _fails(["replay", str(empty), "--stt", "none"], capsys, "empty.wav is empty (0 bytes)")
    whole = tmp_path / "whole.wav"
    sf.write(whole, np.zeros(160_000, np.int16), 16_000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:16_044])  # the header and 0.5 s of the 10 s
    assert main(["replay", str(cut), "--stt", "none", "--json"]) == 0
    assert '"duration_s": 0.5' in capsys.readouterr().out
    assert "cut.wav is cut short: its header says 10.00 s of audio, the file holds 0.50 s" in (
        caplog.text
    )
    caplog.clear()
    assert main(["replay", str(whole), "--stt", "none", "--json"]) == 0
    assert "cut short" not in caplog.text


def test_stereo_channels_in_opposite_phase_are_not_mixed_to_silence(
    tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    import soundfile as sf

    speech = read_wav(Path(__file__).parent / "fixtures/turns/dev-finished-0.wav")[0]
    inverted, same = tmp_path / "inverted.wav", tmp_path / "same.wav"
    sf.write(inverted, np.stack([speech, -speech], axis=1), 16_000)
    sf.write(same, np.stack([speech, speech], axis=1), 16_000)
    for path in (inverted, same):
        assert main(["replay", str(path), "--stt", "none", "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)["turns"]) == 1, path
    assert caplog.text.count("channels cancel out when mixed") == 1


def test_a_recording_whose_header_was_never_finished_is_read_whole(
    tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    """Python's wave module writes the length on close: a recorder killed after 0.1 s of its
    header left 8 s of speech that read as 0.1 s, "No speech was heard", without a word.
    Tags after the audio (a LIST chunk) are no audio, and no warning."""
    import wave

    speech = np.concatenate(
        [np.zeros(8_000), np.sin(np.arange(32_000) / 5) * 8_000, np.zeros(8_000)]
    ).astype("<i2")
    killed = tmp_path / "killed.wav"
    with wave.open(str(killed), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
        w.writeframes(speech[:1_600].tobytes())  # the header now says 0.1 s
    with open(killed, "ab") as fh:
        fh.write(speech[1_600:].tobytes())  # what the recorder wrote before it died
    assert main(["replay", str(killed), "--stt", "none", "--json"]) == 0
    assert '"duration_s": 3.0' in capsys.readouterr().out
    assert "its header says 0.10 s of audio, but the file holds 3.00 s" in caplog.text
    caplog.clear()
    tagged = tmp_path / "tagged.wav"
    tags = b"LIST" + (26).to_bytes(4, "little") + b"INFOINAM" + (14).to_bytes(4, "little")
    tagged.write_bytes(killed.read_bytes()[:44] + speech[:1_600].tobytes() + tags + b"x" * 14)
    assert main(["replay", str(tagged), "--stt", "none", "--json"]) == 0
    assert '"duration_s": 0.1' in capsys.readouterr().out
    assert "header" not in caplog.text


def test_run_reads_a_recording_whose_header_gives_no_audio_at_all(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A recorder killed before its first write back to the header (Python's wave with no
    frames given) leaves a header of 0 samples: replay read the audio after it, but run
    refused the file as one that "holds no audio (0 samples)"."""
    import wave

    speech = (np.sin(np.arange(16_000) / 5) * 8_000).astype("<i2")
    killed = tmp_path / "killed.wav"
    with wave.open(str(killed), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
    with open(killed, "ab") as fh:
        fh.write(speech.tobytes())
    from voicedesk.commands.run import check_input_audio

    check_input_audio(killed)  # refused before the run, though it holds 1 s
    assert read_wav(killed)[0].shape == (16_000,)
    assert "its header says 0.00 s of audio, but the file holds 1.00 s" in caplog.text


def test_a_float_recording_with_nan_samples_reads_as_silence_there(tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "nan.wav"
    samples = np.full(1600, 0.5, np.float32)
    samples[10:20] = np.nan
    samples[20] = np.inf
    sf.write(path, samples, 16_000, subtype="FLOAT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "invalid value encountered in cast"
        pcm, _ = read_wav(path)
    assert (pcm[10:20] == 0).all() and pcm[20] == 32767 and pcm[0] == 16384


def test_replay_auto_reads_pauses_as_a_conversation_would(
    wav: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``--stt auto`` took the local reading only with the packaged model, so a model set
    as ``stt.local_model`` (and ``turn.local_cues = "off"``) was not what a conversation did."""
    from voicedesk.providers import local_stt

    model = local_stt.default_model_path()
    if model is None or not local_stt.installed():
        pytest.skip("needs faster-whisper and the packaged model")
    monkeypatch.setattr(local_stt, "default_model_path", lambda: None)  # only the config's
    monkeypatch.setenv("VOICEDESK_STT__LOCAL_MODEL", str(model))
    assert main(["replay", str(wav), "--json"]) == 0
    assert "transcript cues from local faster-whisper" in capsys.readouterr().err
    monkeypatch.setenv("VOICEDESK_TURN__LOCAL_CUES", "off")
    assert main(["replay", str(wav), "--json"]) == 0
    assert "transcript cues from nothing (audio only)" in capsys.readouterr().err


# ---- the output WAV ----------------------------------------------------------------------------
def test_output_wav_has_the_usual_file_mode(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("no POSIX modes")
    old = os.umask(0o022)
    try:
        write_wav(tmp_path / "o.wav", np.zeros(100, np.int16), 16_000)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o.wav").stat().st_mode) == 0o644


def test_output_wav_write_failure_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "o.wav"
    duplex = FileDuplex(
        None, out, input_pcm=np.zeros(1600, np.int16), input_rate=16_000, realtime=False
    )
    duplex.start(lambda block: np.zeros(duplex.playback_block, np.int16))
    duplex.finished.wait(5)
    out.mkdir()  # the file can no longer be put there
    with pytest.raises(UserError, match="Could not write the output WAV"):
        duplex.stop()


async def test_session_stop_reports_the_failed_write() -> None:
    """Session.stop used to swallow it: exit 0 and no WAV."""
    from voicedesk.config import Settings
    from voicedesk.engine.session import Session

    async def aclose() -> None:
        return None

    def fail() -> None:
        raise UserError("Could not write the output WAV x.wav")

    provider = SimpleNamespace(aclose=aclose)
    session = Session(
        Settings(),
        audio=SimpleNamespace(stop=fail),
        stt=provider,  # type: ignore[arg-type]
        llm=provider,  # type: ignore[arg-type]
        tts=provider,  # type: ignore[arg-type]
        detector=SimpleNamespace(),
        context=SimpleNamespace(),
    )
    with pytest.raises(UserError, match=r"x\.wav"):
        await session.stop()
    assert session.state == "idle"  # everything else was still closed


def test_stopping_early_keeps_what_was_played(tmp_path: Path) -> None:
    """Ctrl-C mid-run: the audio up to the stop is written; before any audio, an earlier
    output is not replaced by an empty WAV."""
    out = tmp_path / "o.wav"
    pcm = np.zeros(16_000 * 10, np.int16)
    duplex = FileDuplex(None, out, input_pcm=pcm, input_rate=16_000, realtime=True)
    duplex.start(lambda block: np.full(duplex.playback_block, 1000, np.int16))
    # stopped once 0.3 s of blocks were played, not after 0.4 s of the wall clock: a
    # loaded machine that began the audio thread late had played under 0.2 s by then
    deadline = time.monotonic() + 60
    while duplex.blocks_done < 30:
        assert time.monotonic() < deadline, "the audio thread never played 30 blocks"
        time.sleep(0.01)
    duplex.stop()
    played_s = duplex.blocks_done * duplex.block_ms / 1000  # all the blocks, to the stop
    samples, rate = read_wav(out)
    assert rate == 16_000 and np.abs(samples).max() > 0
    assert samples.size / rate == pytest.approx(played_s, abs=0.02), (samples.size, played_s)

    out.write_bytes(b"earlier output")
    never_started = FileDuplex(None, out, input_pcm=pcm, input_rate=16_000)
    never_started.stop()
    assert out.read_bytes() == b"earlier output"


# ---- demo and simulated runs -----------------------------------------------------------------
def test_demo_is_hands_free_whatever_the_config(tmp_path: Path, monkeypatch) -> None:
    from voicedesk.commands.demo import prepare
    from voicedesk.commands.run import load_run_settings

    config = tmp_path / "c.toml"
    config.write_text('[turn]\nmode = "push-to-talk"\n', encoding="utf-8")
    args = argparse.Namespace(
        config=str(config),
        no_tools=True,
        output=None,
        sim_ttft=None,
        sim_ttfb=None,
        sim_stt=None,
        demo=True,
    )
    assert load_run_settings(args).turn.mode == "hands-free"  # what the TUI shows
    settings, *_ = prepare(args)
    assert settings.turn.mode == "hands-free"  # what the engine does


def test_demo_follows_its_script_without_local_cues(tmp_path: Path, monkeypatch, capsys) -> None:
    """On a plain install (no tiny Whisper to read the pauses) the simulated service gave
    "Hi there, can you hear me okay?" at the comma's pause: a firm question, so the turn
    ended at the comma, the rest joined the next question and every answer came one late."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = tmp_path / "c.toml"
    config.write_text('[turn]\nlocal_cues = "off"\n', encoding="utf-8")
    argv = ["--config", str(config), "demo", "--headless", "--no-tools"]
    assert main([*argv, "--output", str(tmp_path / "o.wav")]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if "›" in line]
    assert said[:2] == [
        "you       › Hi there, can you hear me okay?",
        "assistant › Loud and clear. I'm ready whenever you are. What shall we work on?",
    ]
    assert said[-2:] == [
        "you       › Thanks, that's all for now.",
        "assistant › You're welcome. Talk to you later.",
    ]


def _sim_conversation(tmp_path: Path, names: list[str]) -> tuple[list[str], Path]:
    """``run --sim --headless`` over the bundled utterances ``names``, each answered "Answer
    to NAME."; and the output WAV's path."""
    from voicedesk.bench.scenarios import compose, load_utterance

    inp, out, script = tmp_path / "in.wav", tmp_path / "out.wav", tmp_path / "script.json"
    compose(names, gaps_s=6.0, tail_s=1.0).write(inp)
    turns = [{"transcript": load_utterance(n)[1], "reply": f"Answer to {n}."} for n in names]
    script.write_text(json.dumps({"turns": turns}), encoding="utf-8")
    argv = ["run", "--sim", "--headless", "--no-tools", "--input", str(inp), "--output"]
    argv += [str(out), "--sim-script", str(script), "--sim-ttft", "0.2", "--sim-ttfb", "0.1"]
    return argv, out


def test_run_sim_fault_is_reported_and_the_conversation_goes_on(tmp_path: Path, capsys) -> None:
    """--sim-fault llm:500:4 reaches the in-process simulated cloud: the first answer fails,
    the run says so, and the conversation goes on to answer the last turn. One fault would
    be absorbed by the client's retry; four fail the first turn whether or not an answer was
    started early at its pause (each attempt retried once: four requests, or two, and then
    the second turn takes the other two), and leave the third turn untouched either way."""
    argv, out = _sim_conversation(tmp_path, ["question", "weather", "thanks"])
    # a turn left unanswered: the exit status says so, as a provider failing at the start does
    assert main([*argv, "--sim-fault", "llm:500:4"]) == 3
    captured = capsys.readouterr()
    assert "run: 1 of 3 turns failed (the errors above say why)" in captured.err
    assert "Traceback" not in captured.err
    assert "[error] No answer for turn 1: The language model failed (HTTP 500)" in captured.err
    assert "assistant › Answer to thanks." in captured.out  # the session went on
    assert "Answer to question." not in captured.out
    samples, rate = read_wav(out)
    assert samples.size / rate > 10 and np.abs(samples).max() > 0  # the error line, the answer


def test_a_transcriber_failing_at_start_is_reported_and_the_first_words_kept(
    tmp_path: Path, capsys
) -> None:
    """Speech-to-text refusing the first connection (an HTTP 500, a network coming up) does
    not stop the start: the run says so, the transcriber dials again with the first speech,
    and that speech is transcribed and answered whole. A rejected key still stops it
    (tests/engine/test_conversation_e2e.py::test_bad_key_is_named_at_start)."""
    argv, _ = _sim_conversation(tmp_path, ["question", "weather"])
    assert main([*argv, "--sim-fault", "stt:500"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "Speech-to-text is not reachable yet" in captured.err
    assert "HTTP 500" in captured.err
    assert "you       › How long does it take to boil an egg?" in captured.out
    assert "assistant › Answer to question." in captured.out
    assert "assistant › Answer to weather." in captured.out


def test_a_turn_lost_to_speech_to_text_says_so_in_the_transcript(tmp_path: Path, capsys) -> None:
    """A turn whose words were lost printed only "assistant › –", as if the assistant had
    had nothing to say; it now says the words were not understood."""
    argv, _ = _sim_conversation(tmp_path, ["question", "weather"])
    # The first turn's commit is dropped; then two sockets open, in an order the machine's
    # load decides: the warm socket again (it streams on) and the resend's. Each takes the
    # next fault as it opens, so with only two drops the resend got none on a busy machine
    # and the first turn was transcribed after all. Three lose the first turn whichever
    # opens first; the warm socket's drop then falls on the second turn, whose resend hears it.
    assert main([*argv, "--sim-fault", "stt:drop:3"]) == 3
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Speech-to-text failed" in captured.err
    assert "you       › (not understood: speech-to-text failed)" in captured.out
    # the next turn was heard and answered, with its own words: the simulated STT's script
    # stayed a turn behind after a drop, and it was answered as the lost one
    assert "you       › What's the weather going to be like this afternoon?" in captured.out
    assert "assistant › Answer to weather." in captured.out


def test_a_turn_answered_though_part_of_it_was_not_understood_is_no_failure(
    tmp_path: Path, capsys
) -> None:
    """Speech-to-text failing on one pause of a turn whose next words were answered made
    the run exit 3, "1 of 2 turns failed", as if the person had gone unanswered: a script
    took it for an outage. The turn was answered: it is no failure, and the transcript says
    part of it was not understood. The simulated service fails "Hi there,", the first
    pause of the first turn, each time it is sent (the script's stt_fails): a fault on the
    n-th request (stt:fail:2) went under load to a resend of another, and the test made
    the run up to three times."""
    from voicedesk.bench.scenarios import compose, load_utterance

    inp, script = tmp_path / "in.wav", tmp_path / "script.json"
    compose(["hello", "thanks"], gaps_s=6.0, tail_s=1.0).write(inp)
    head, _, rest = load_utterance("hello")[1].partition(", ")
    turns = [
        {
            "transcript": f"{head},",
            "continued": [rest],
            "stt_fails": [1],
            "reply": "Answer to hello.",
        },
        {"transcript": load_utterance("thanks")[1], "reply": "Answer to thanks."},
    ]
    script.write_text(json.dumps({"turns": turns}), encoding="utf-8")
    metrics = tmp_path / "metrics.jsonl"
    argv = ["run", "--sim", "--headless", "--no-tools", "--input", str(inp)]
    argv += ["--sim-script", str(script), "--sim-ttft", "0.2", "--sim-ttfb", "0.1"]
    assert main([*argv, "--metrics-out", str(metrics)]) == 0
    captured = capsys.readouterr()
    records = _metrics_lines(metrics)
    assert [r["user_text"] for r in records] == [rest, load_utterance("thanks")[1]], records
    assert str(records[0]["error"]).startswith("stt: ") and not records[0]["failed"], records
    assert not records[1]["error"], records
    assert "Speech-to-text failed: Speech-to-text failed" not in captured.err  # said once
    line = f"you       › {rest}  (in part: speech-to-text failed on some of it)"
    assert line in captured.out, captured.out
    assert "turns failed" not in captured.err and "Traceback" not in captured.err


def test_an_answer_the_content_filter_withheld_is_said_so_and_no_failure(
    tmp_path: Path, capsys
) -> None:
    """An answer the provider's content filter stopped counted as a failed turn (exit 3),
    and its transcript line read as any answer cut by an error. The service worked: the
    refusal is its answer. The line says the content filter withheld it, the run says how
    many it withheld, and exits 0. Two faults filter the first turn's answer whether or
    not it was begun early at its pause (begun again, that attempt takes the second)."""
    argv, _ = _sim_conversation(tmp_path, ["question", "weather", "thanks"])
    assert main([*argv, "--sim-fault", "llm:filter:2"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "turns failed" not in captured.err
    assert "[warning] The provider's content filter withheld the answer to turn 1" in (captured.err)
    assert "content filter withheld the answer to 1 of 3 turns" in captured.err or (
        "content filter withheld the answer to 2 of 3 turns" in captured.err
    )
    said = [line for line in captured.out.splitlines() if line.startswith("assistant ›")]
    assert said[0].endswith("  ✂ (withheld by the provider's content filter)"), said
    assert said[-1] == "assistant › Answer to thanks."


def _metrics_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_runs_appended_to_one_metrics_file_are_told_apart(tmp_path: Path, capsys) -> None:
    """--metrics-out appends, and turn ids start at 1 in every run: two runs in one file
    were indistinguishable. Each line now carries its run's ``run_id``, later runs' ids sort
    after earlier ones', and the first run's lines are left as they were written."""
    argv, _ = _sim_conversation(tmp_path, ["hello", "thanks"])
    metrics = tmp_path / "m.jsonl"
    assert main([*argv, "--metrics-out", str(metrics)]) == 0
    first = metrics.read_text(encoding="utf-8")
    assert main([*argv, "--metrics-out", str(metrics), "--force"]) == 0  # the same --output
    assert "Traceback" not in capsys.readouterr().err
    text = metrics.read_text(encoding="utf-8")
    assert text.startswith(first)  # appended, never rewritten
    records = _metrics_lines(metrics)
    assert all(next(iter(r)) == "run_id" and r["type"] == "turn" for r in records)
    runs: dict[str, list[int]] = {}
    for r in records:
        runs.setdefault(r["run_id"], []).append(r["turn_id"])
    assert list(runs.values()) == [[1, 2], [1, 2]]
    assert list(runs) == sorted(runs)  # in the order the runs were made


def test_a_new_metrics_file_is_readable_only_by_its_owner(tmp_path: Path) -> None:
    """Each --metrics-out line holds what was said in its turn, as the session log does,
    and the umask made the new file readable by every local user (0644)."""
    if sys.platform == "win32":
        pytest.skip("no POSIX modes")
    argv, _ = _sim_conversation(tmp_path, ["hello"])
    metrics = tmp_path / "m.jsonl"
    old = os.umask(0o022)
    try:
        assert main([*argv, "--metrics-out", str(metrics)]) == 0
    finally:
        os.umask(old)
    assert _metrics_lines(metrics)[0]["user_text"]  # the conversation is in it
    assert stat.S_IMODE(metrics.stat().st_mode) == 0o600
    metrics.chmod(0o640)  # a mode the person chose for the file is theirs
    assert main([*argv, "--metrics-out", str(metrics), "--force"]) == 0  # the same --output
    assert stat.S_IMODE(metrics.stat().st_mode) == 0o640


def test_the_folders_made_for_conversations_and_the_config_are_private(tmp_path: Path) -> None:
    """The session log is 0600, but its folders were made with the umask's 0755: every
    local user could list when each conversation was held. voicedesk's folders are made
    0700, as the XDG base-directory spec asks; so is the config file's, by `config init`."""
    if sys.platform == "win32":
        pytest.skip("no POSIX modes")
    argv, _ = _sim_conversation(tmp_path, ["hello"])
    config = tmp_path / "config" / "voicedesk" / "config.toml"
    old = os.umask(0o022)
    try:
        assert main(argv) == 0
        assert main(["--config", str(config), "config", "init"]) == 0
    finally:
        os.umask(old)
    sessions = tmp_path / "data" / "voicedesk" / "sessions"
    assert len(list(sessions.iterdir())) == 1
    for folder in (sessions, sessions.parent, config.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_new_run_ids_sort_in_the_order_they_were_made() -> None:
    from voicedesk.engine.metrics import new_run_id

    made = []
    for _ in range(3):
        made.append(new_run_id())
        time.sleep(0.002)
    assert made == sorted(made) and len(set(made)) == 3
    stamp, suffix = made[0].rsplit("-", 1)
    assert stamp.endswith("Z") and len(stamp) == len("2025-06-01T12:30:05.123Z")
    assert len(suffix) == 6 and int(suffix, 16) >= 0
    # two processes starting in the same millisecond still differ
    assert len({new_run_id() for _ in range(50)}) == 50


def test_demo_metrics_carry_a_run_id_like_run(tmp_path: Path, monkeypatch) -> None:
    """`demo --headless` writes its metrics through the same writer: each run its own id."""
    from voicedesk import events as ev
    from voicedesk.commands import run as run_command

    async def two_turns(settings, *, bus, **_kwargs):  # the demo's conversation, at once
        for turn_id in (1, 2):
            bus.publish(ev.TurnMetrics(turn_id=turn_id, record={"turn_id": turn_id}))

    monkeypatch.setattr(run_command, "converse", two_turns)
    metrics = tmp_path / "m.jsonl"
    argv = ["demo", "--headless", "--no-tools", "--output", str(tmp_path / "o.wav")]
    for _ in range(2):
        assert main([*argv, "--metrics-out", str(metrics)]) == 0
    records = _metrics_lines(metrics)
    assert [r["turn_id"] for r in records] == [1, 2, 1, 2]
    first, second = records[0]["run_id"], records[2]["run_id"]
    assert records[1]["run_id"] == first and records[3]["run_id"] == second != first


def test_demo_sim_fault_reaches_its_simulated_cloud(tmp_path: Path) -> None:
    """demo builds its own sim options (its script, its delays): the faults go with them, in
    the order given, for the TUI as for --headless (both call prepare)."""
    from voicedesk.cli import build_parser
    from voicedesk.commands.demo import prepare

    argv = ["demo", "--headless", "--no-tools", "--sim-fault", "tts:500:2"]
    args = build_parser().parse_args([*argv, "--sim-fault", "stt:late"])
    *_, sim = prepare(args)
    assert sim.faults == [("tts", "500", 2), ("stt", "late", 1)]


def test_resume_never_continues_a_demo_or_simulated_log(tmp_path: Path) -> None:
    from voicedesk.engine.session_log import SessionLog, latest_log, log_kind

    with SessionLog() as real:
        real.append({"type": "user", "turn_id": 1, "text": "mine"})
    time.sleep(0.01)
    for kind in ("sim", "demo"):
        with SessionLog(kind=kind) as log:
            log.append({"type": "user", "turn_id": 1, "text": kind})
            assert log_kind(log.path) == kind
            assert log.path.parent == real.path.parent
    assert latest_log() == real.path
    assert log_kind(latest_log("demo")) == "demo"  # type: ignore[arg-type]
    assert log_kind(latest_log("sim")) == "sim"  # type: ignore[arg-type]


def test_a_conversation_going_on_in_another_voicedesk_is_not_resumed_into_it(
    tmp_path: Path,
) -> None:
    """`voicedesk --resume` in a second terminal while the first still talks continued the
    same log: both wrote their turns into it under the same turn ids, and the next
    --resume kept one of each pair, the other conversation's turns lost. The second start
    is refused, saying why, and the log is left to the voicedesk that is writing it."""
    import subprocess

    env = _isolated_env(tmp_path)
    speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
    sessions = tmp_path / "data/voicedesk/sessions"
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(speech)]
    # the first answer takes 10 s: the first voicedesk is still talking meanwhile
    first = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", *run, "--sim-ttft", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(b'"user"' in p.read_bytes() for p in sessions.glob("*.sim.jsonl")):
            assert first.poll() is None and time.monotonic() < deadline, "no turn was logged"
            time.sleep(0.1)
        (log,) = sessions.glob("*.sim.jsonl")
        before = log.read_bytes()
        second = _voicedesk(env, "--resume", *run)
        assert first.poll() is None, "the first voicedesk ended before the second started"
        assert log.read_bytes()[: len(before)] == before
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert second.returncode == 2, second.stdout + second.stderr[-2000:]
    assert "going on in another voicedesk" in second.stderr, second.stderr
    assert "Resuming" not in second.stdout + second.stderr and "Traceback" not in second.stderr
    assert len(list(sessions.glob("*.jsonl"))) == 1


def test_resume_with_nothing_to_resume_says_how_to_start_one(wav: Path, capsys) -> None:
    run = ["run", "--headless", "--no-tools", "--input", str(wav)]
    _fails(["--resume", *run, "--sim"], capsys, "no earlier simulated", "`voicedesk run --sim`")
    _fails(["--resume", "demo", "--headless"], capsys, "--resume does not apply to the demo")


def test_resume_is_taken_before_or_after_run() -> None:
    from voicedesk.cli import build_parser

    parse = build_parser().parse_args
    assert parse(["run", "--resume", "--sim"]).resume
    assert parse(["--resume", "run", "--sim"]).resume
    assert not parse(["run", "--sim"]).resume


# ---- local model paths -------------------------------------------------------------------------
def test_stt_model_that_is_not_a_model_folder(tmp_path: Path) -> None:
    pytest.importorskip("faster_whisper")
    from voicedesk.providers.local_stt import LocalWhisper

    a_file = tmp_path / "model.wav"
    a_file.write_bytes(b"RIFF")
    with pytest.raises(UserError, match="is a file, not a Whisper model folder") as err:
        LocalWhisper(a_file)
    assert str(a_file) in str(err.value) and "--stt-model" not in err.value.message
    with pytest.raises(UserError, match=r"no model\.bin"):
        LocalWhisper(tmp_path)


def test_an_interrupted_run_does_not_call_an_older_output_its_own(tmp_path: Path, capsys) -> None:
    """A file copied to the --output path just before the run had a modification time within
    the run's first second, and an early Ctrl-C said "the audio so far is in" it."""
    from voicedesk.commands.run import file_state, report_interrupted

    out = tmp_path / "o.wav"
    write_wav(out, np.zeros(1_600, np.int16), 16_000)  # the older file, made just now
    before = file_state(out)
    report_interrupted(out, before)
    assert f"{out} was not written" in capsys.readouterr().err
    write_wav(out, np.ones(1_600, np.int16), 16_000)  # the run's own
    report_interrupted(out, before)
    assert f"the audio so far is in {out}" in capsys.readouterr().err


def _headless_demo(
    tmp_path: Path, out: Path | None, ignored: tuple[int, ...] = (), **env: str
) -> subprocess.Popen[str]:
    """A headless demo in a process of its own, once it has begun (it said where the
    answers go), with its data and config in ``tmp_path``; its answers to ``out``, or
    else to its temporary folder; ``ignored``: signals it is started with ignored (as
    `nohup` and a non-interactive shell's background jobs start commands); ``env``: more
    of its environment (``TMPDIR``)."""
    import signal

    def ignore() -> None:  # in the child, before it runs Python: inherited as nohup does it
        # the others at their defaults, as from a terminal: a suite run under `nohup` had
        # SIGHUP ignored in every child, and the SIGHUP test's demo rightly talked on
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), **env}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.pop("VOICEDESK_CONFIG", None)
    argv = ["demo", "--headless", "--no-tools"] + (["--output", str(out)] if out else [])
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=ignore,
    )
    assert proc.stdout is not None
    said = proc.stdout.readline()  # where the answers go; the person speaks first
    assert f"answers go to {out or env.get('TMPDIR', '')}" in said, said
    return proc


def _signalled(proc: subprocess.Popen[str], *steps: int | float) -> str:
    """Send the demo ``proc`` each of ``steps`` in turn: a signal (an int), or a pause of
    that many seconds (a float; not a measure: what the next signal finds under way); then
    wait for it to end (a minute at most: a hang guard) and give its standard error. It
    is killed whatever happened, so no demo outlives its test. The signal tests each
    wrote this out."""
    try:
        for step in steps:
            if isinstance(step, float):
                time.sleep(step)
            else:
                proc.send_signal(step)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return err


@pytest.mark.parametrize(("signame", "code"), [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_ctrl_c_during_the_demo_says_where_the_answers_went(
    signame: str, code: int, tmp_path: Path
) -> None:
    """Ctrl-C in a headless demo ends it without a traceback and says what became of the
    answers' file, as `run` does. So do SIGTERM (`kill`, a logout) and SIGHUP (its terminal
    closed): they killed the process on the spot, and the answers' file was never written."""
    import signal

    out = tmp_path / "answers.wav"
    proc = _headless_demo(tmp_path, out)
    err = _signalled(proc, 2.0, getattr(signal, signame))
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert "interrupted" in err and str(out) in err
    if "the audio so far is in" in err:
        assert read_wav(out)[0].size > 0


@pytest.mark.parametrize("signame", ["SIGINT", "SIGHUP"])
def test_a_signal_the_run_was_started_with_ignored_stays_ignored(
    signame: str, tmp_path: Path
) -> None:
    """`nohup` starts a command with SIGHUP ignored, a non-interactive shell its background
    jobs with SIGINT ignored: the run took both over as it started and ended on them (the
    Ctrl-C meant for the shell's foreground command, the terminal closing under nohup). The
    signal is sent once the run is under way, then SIGTERM: the run ends on SIGTERM (143),
    the one it was not told to ignore, not on the ignored one (130, 129)."""
    import signal

    proc = _headless_demo(tmp_path, tmp_path / "answers.wav", (getattr(signal, signame),))
    # (the pause: the ignored signal has come and gone before SIGTERM)
    err = _signalled(proc, getattr(signal, signame), 1.0, signal.SIGTERM)
    assert proc.returncode == 143, err
    assert "Traceback" not in err


def test_a_second_ctrl_c_during_the_demo_s_clean_up_ends_it_at_once(tmp_path: Path) -> None:
    """An impatient person's second Ctrl-C ends the run then and there (it was ignored
    while the first one's clean-up ran), with no traceback."""
    import signal

    out = tmp_path / "answers.wav"
    proc = _headless_demo(tmp_path, out)
    err = _signalled(proc, 2.0, signal.SIGINT, 0.01, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_a_demo_stopped_before_its_first_answer_leaves_no_folder_behind(tmp_path: Path) -> None:
    """The demo writes the person's side into a temporary folder for its answers to go
    beside. Stopped before the first answer (Ctrl-C during the start), it said
    "assistant.wav was not written" and left the folder with the person's side alone,
    1.7 MB named nowhere as worth keeping, in the temporary folder after each such try."""
    import signal

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _headless_demo(tmp_path, None, TMPDIR=str(tmp))
    err = _signalled(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    folders = list(tmp.glob("voicedesk-demo-audio-*"))
    if "was not written" in err:
        assert folders == []
    else:  # the machine was slow to deliver the signal: what was heard is kept
        assert [f.name for f in folders[0].iterdir() if f.name.startswith("assistant")]


async def test_ctrl_c_while_the_session_is_built_takes_effect_before_the_build_ends(
    wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The headless run built its session on the event loop: imports and model loads,
    seconds on a loaded machine, during which Ctrl-C (the loop's cancellation of the run)
    could not land; it took effect 5-13 s late. Here a step of the build takes as long as
    the test says (a model load on a busy machine): the run is cancelled while it lasts."""
    import asyncio
    import threading

    from voicedesk import events as ev
    from voicedesk.audio.io import AudioIO
    from voicedesk.commands.run import converse
    from voicedesk.config import Settings
    from voicedesk.engine.builder import SimOptions

    building, go_on, step_over = threading.Event(), threading.Event(), threading.Event()
    real = AudioIO.from_settings

    def slow_step(*args: object, **kwargs: object) -> AudioIO:
        building.set()
        go_on.wait(20)  # (released by the test; the limit: a build on the loop blocks it)
        step_over.set()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(AudioIO, "from_settings", staticmethod(slow_step))
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    run = asyncio.ensure_future(
        converse(
            settings,
            input_path=wav,
            output_path=tmp_path / "out.wav",
            sim=SimOptions(),
            bus=ev.EventBus(),
        )
    )
    try:
        while not building.is_set():
            await asyncio.sleep(0.01)
        run.cancel()  # what Ctrl-C does to the run (until_terminated)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(run, 60)
        assert not step_over.is_set()  # it ended while the build still went on
    finally:
        go_on.set()


def test_a_metrics_line_torn_by_a_full_disk_does_not_swallow_the_next_runs_first(
    tmp_path: Path,
) -> None:
    """A run that hit a full disk mid-line left the file without its last newline: the next
    run's first record was glued to the torn line, and lost with it to every JSON reader."""
    from voicedesk.commands.run import open_metrics

    metrics = tmp_path / "m.jsonl"
    metrics.write_text('{"run_id": "a", "turn_id": 1}\n{"run_id": "a", "tu', encoding="utf-8")
    with open_metrics(metrics) as fh:
        fh.write('{"run_id": "b", "turn_id": 1}\n')
    lines = metrics.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["run_id"] == "a"
    assert json.loads(lines[-1]) == {"run_id": "b", "turn_id": 1}
    with open_metrics(metrics) as fh:  # a whole file gets no blank line
        fh.write("{}\n")
    assert metrics.read_text(encoding="utf-8").count("\n\n") == 0


@contextlib.contextmanager
def _standalone_sim(env: dict[str, str], *sim_args: str) -> Iterator[None]:
    """`voicedesk sim` in its own process, its export lines (the URLs and the placeholder
    keys) put in ``env``, as `eval "$(voicedesk sim --detach)"` puts them in a shell.
    ``sim_args``: more of its flags (``--fault llm:echo``)."""
    import subprocess

    sim = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "sim", "--port", "0", *sim_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert sim.stdout is not None
        for _ in range(4):  # export NAME=value
            name, _, value = sim.stdout.readline().removeprefix("export ").strip().partition("=")
            env[name] = value
        yield
    finally:
        sim.terminate()
        sim.wait(timeout=30)


def _voicedesk(env: dict[str, str], *argv: str, timeout: float = 180) -> CompletedProcess[str]:
    """`voicedesk ARGV…` in its own process with ``env``, as a person types it."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "voicedesk", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _isolated_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.pop("VOICEDESK_CONFIG", None)
    return env


def test_a_key_pasted_with_a_line_end_reaches_the_language_model_without_it(
    tmp_path: Path,
) -> None:
    """A key read from a file with its line end (or pasted with a blank after it) went to
    the language model as it was: httpx refuses such a header, and the run stopped with
    "Cannot reach the language-model server … nothing is running" while the server was up
    and `doctor`, which drops the blanks, said the key was set. The blanks are not the key."""

    env = _isolated_env(tmp_path)
    with _standalone_sim(env):
        env["OPENAI_API_KEY"] += "\n"
        speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
        done = _voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech))
        env.update(VOICEDESK_LLM__API_KEY_ENV="GATEWAY_KEY", GATEWAY_KEY=" sk-gateway-1 ")
        other = _voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech))
    for run in (done, other):
        assert run.returncode == 0, run.stderr[-2000:]
        assert "assistant › " in run.stdout and "Cannot reach" not in run.stderr


def test_a_key_copied_with_invisible_or_typographic_marks_is_cleaned_or_said_plainly(
    tmp_path: Path,
) -> None:
    """A key in a file Notepad saved (a byte-order mark before it, read by `$(cat key.txt)`),
    with a zero-width space after it (copied from a web page) or in the curly quotes a chat
    or a document put around it stopped the run with a traceback (httpx: "'ascii' codec
    can't encode character '\\ufeff'") while `doctor` said the key was set. Around the key
    they are dropped, as blanks are; inside it, the run refuses it saying which character,
    never the key."""
    env = _isolated_env(tmp_path)
    speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
    with _standalone_sim(env):
        key = env["OPENAI_API_KEY"]
        runs = []
        for pasted in (f"\ufeff{key}", f"{key}\u200b\n", f"\u201c{key}\u201d"):
            env["OPENAI_API_KEY"] = pasted
            runs.append(_voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech)))
        env["OPENAI_API_KEY"] = f"{key[:4]}\u2019{key[4:]}"  # a quote inside: no key has one
        inside = _voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech))
        doctor = _voicedesk(env, "doctor")
        env["OPENAI_API_KEY"] = key
        env.update(VOICEDESK_LLM__API_KEY_ENV="GATEWAY_KEY", GATEWAY_KEY=f"{key}\u00a0\u2060")
        runs.append(_voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech)))
        env["GATEWAY_KEY"] = f"{key}\u00e9"
        gateway = _voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech))
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        assert "assistant › " in run.stdout and "Traceback" not in run.stderr
    for refused, where in ((inside, "OPENAI_API_KEY"), (gateway, "GATEWAY_KEY")):
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert "Traceback" not in refused.stderr and where in refused.stderr, refused.stderr
        assert "U+2019" in refused.stderr or "U+00E9" in refused.stderr
        assert key[4:] not in refused.stderr
    assert "Traceback" not in doctor.stdout + doctor.stderr and "U+2019" in doctor.stdout


def test_verbose_logs_never_show_the_api_keys(tmp_path: Path) -> None:
    """`-vv` is what a bug report asks for, and it printed both keys in clear: the
    websockets library logs every handshake header ("> xi-api-key: …", "> Authorization:
    Bearer sk-…")."""

    env = _isolated_env(tmp_path)
    with _standalone_sim(env):
        openai_key, elevenlabs_key = "sk-proj-Secret0123456789abcdef", "el-Secret9876543210zyx"
        env.update(OPENAI_API_KEY=openai_key, ELEVENLABS_API_KEY=elevenlabs_key)
        speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
        argv = ["-vv", "run", "--headless", "--no-tools", "--input", str(speech)]
        done = _voicedesk(env, *argv)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "> xi-api-key: ***" in done.stderr  # the header is logged, its value is not
    assert "> Authorization: ***" in done.stderr
    for key in (openai_key, elevenlabs_key):
        assert key not in done.stderr and key[-8:] not in done.stderr
        assert key not in done.stdout


def test_a_server_quoting_the_key_in_its_error_never_gets_it_shown_or_kept(
    tmp_path: Path,
) -> None:
    """A proxy or self-hosted server may quote the key it was sent in its error message,
    and voicedesk printed that message whole ("[error] No answer for turn 1: … sk-proj-…"),
    kept it in the session log and the --metrics-out file, and logged it: the key is hidden
    by its value wherever the error goes, and the rest of the error is still said."""

    env = _isolated_env(tmp_path)
    with _standalone_sim(env, "--fault", "llm:echo:4"):
        openai_key, elevenlabs_key = "sk-proj-Secret0123456789abcdef", "el-Secret9876543210zyx"
        env.update(OPENAI_API_KEY=openai_key, ELEVENLABS_API_KEY=elevenlabs_key)
        speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
        metrics = tmp_path / "m.jsonl"
        argv = ["-vv", "run", "--headless", "--no-tools", "--input", str(speech)]
        done = _voicedesk(env, *argv, "--metrics-out", str(metrics))
    # its one turn went unanswered: a headless run says so and exits 3
    assert done.returncode == 3, done.stderr[-2000:]
    assert "run: 1 of 1 turns failed" in done.stderr
    said = "[error] No answer for turn 1: The language model failed (HTTP 500): Upstream"
    assert said in done.stderr
    assert "made with the key *** (simulated)" in done.stderr
    (log,) = (tmp_path / "data" / "voicedesk" / "sessions").iterdir()
    kept = {"stdout": done.stdout, "stderr": done.stderr, "session log": log.read_text()}
    kept["metrics"] = metrics.read_text(encoding="utf-8")
    assert "Upstream refused" in kept["session log"] and "Upstream refused" in kept["metrics"]
    for where, text in kept.items():
        assert openai_key not in text, where


def test_a_speech_socket_closed_as_it_opens_is_an_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    """ElevenLabs closing the socket as it opened (before the first text was sent) escaped
    as websockets' own error: the run ended in a traceback whose last line quoted the close
    reason, the key in it. Now the start stops with a sentence naming the close, key hidden."""

    env = _isolated_env(tmp_path)
    with _standalone_sim(env, "--fault", "tts:echo"):
        elevenlabs_key = "el-Secret9876543210zyx"
        env.update(
            OPENAI_API_KEY="sk-proj-Secret0123456789abcdef", ELEVENLABS_API_KEY=elevenlabs_key
        )
        speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
        argv = ["run", "--headless", "--no-tools", "--input", str(speech)]
        done = _voicedesk(env, *argv)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert elevenlabs_key not in done.stderr + done.stdout
    # Which way it goes is a race on a loaded machine: the close usually arrives with the
    # handshake and the first message fails on it; when it arrives after that message went
    # out, the closed spare is replaced by a good socket and the conversation goes on.
    if done.returncode != 0:
        assert done.returncode == 3, done.stderr[-3000:]
        said = (
            "ElevenLabs closed the speech connection as it opened (code 1008: refused the key ***)"
        )
        assert said in done.stderr
        # and what to do about it: a 1008 is a refused key, permission or credit
        assert "  → check ELEVENLABS_API_KEY (or keys.elevenlabs_api_key" in done.stderr


def test_a_password_in_a_server_address_is_never_printed(tmp_path: Path) -> None:
    """`config show` hides the user:password of llm.base_url, but the errors naming the
    server printed the address whole ("Cannot reach the language-model server at
    http://me:pw@host/v1", "rejected the API key (http://me:pw@host/v1)"), and `doctor
    --online`'s line for it did too."""
    import socket

    with socket.socket() as closed:  # a port nothing listens on: the server is not there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    env = _isolated_env(tmp_path)
    with _standalone_sim(env):
        env["VOICEDESK_LLM__BASE_URL"] = f"http://me:Hunter2Pass@127.0.0.1:{port}/v1"
        speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"

        done = _voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech))
        doctor = _voicedesk(env, "doctor", "--online")
    said = f"Cannot reach the language-model server at http://***@127.0.0.1:{port}/v1"
    assert said in done.stderr
    assert f"llm http://***@127.0.0.1:{port}/v1/models: unreachable" in doctor.stdout
    for text in (done.stdout, done.stderr, doctor.stdout, doctor.stderr):
        assert "Hunter2Pass" not in text


def test_the_turn_models_send_nothing_to_microsoft(tmp_path: Path) -> None:
    """onnxruntime 1.32 reports to Microsoft from Linux and macOS too: the first model
    voicedesk loaded wrote a lasting device id and a queue of events to send under
    ~/.cache/Microsoft, on every run. voicedesk turns its telemetry off before it starts."""

    home = tmp_path / "home"
    home.mkdir()
    env = {**_isolated_env(tmp_path), "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    # what onnxruntime takes for a test or CI run, where it would stay quiet anyway
    for name in ("ORT_DISABLE_TELEMETRY", "ORT_RUNNING_UNIT_TESTS", "CI", "GITHUB_ACTIONS"):
        env.pop(name, None)
    env.pop("TF_BUILD", None)
    speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
    done = _voicedesk(env, "replay", "--stt", "none", "--json", str(speech))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["turns"]  # the models ran
    assert (home / ".cache" / "voicedesk").is_dir()  # the cache the models use is there
    assert not (home / ".cache" / "Microsoft").exists()


def test_a_path_flag_after_an_equals_sign_may_start_with_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The shell leaves `~` as it is after `=`: `run --input=~/in.wav` said "Input file not
    found: ~/in.wav", while `--config=~/c.toml` was found."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
    (home / "in.wav").write_bytes(speech.read_bytes())
    assert main(["replay", "--stt", "none", "--json", "~/in.wav"]) == 0
    assert len(json.loads(capsys.readouterr().out)["turns"]) == 1
    argv = ["run", "--headless", "--sim", "--no-tools", "--input=~/in.wav"]
    assert main([*argv, "--output=~/out.wav", "--metrics-out=~/m.jsonl"]) == 0
    assert read_wav(home / "out.wav")[0].size > 0
    assert (home / "m.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_a_server_named_by_openai_base_url_needs_no_openai_key(tmp_path: Path) -> None:
    """The SDK takes OPENAI_BASE_URL where llm.base_url is unset, and `config show` names
    it as the server; a local server there (Ollama, LM Studio) takes any key, yet with no
    OPENAI_API_KEY the conversation refused to start: "No OpenAI API key is set"."""

    env = _isolated_env(tmp_path)
    with _standalone_sim(env):
        del env["OPENAI_API_KEY"]  # ElevenLabs keeps the placeholder key the sim printed
        speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"

        doctor = _voicedesk(env, "doctor")
        done = _voicedesk(env, "run", "--headless", "--no-tools", "--input", str(speech))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "you       › " in done.stdout and "assistant › " in done.stdout
    assert "OPENAI_API_KEY (stt, llm): not set (fine if the custom server needs no key)" in (
        doctor.stdout
    )


def test_a_missing_openai_key_names_what_needs_it(
    wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """With no key the advice was to "point llm.base_url at a local OpenAI-compatible
    server"; followed, it came back word for word, because speech-to-text on OpenAI's
    service still needed the key. The message says what needs it and what else to do."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ELEVENLABS_API_KEY", "sk-elevenlabs-test")
    run = ["run", "--headless", "--no-tools", "--input", str(wav)]
    run += ["--output", str(tmp_path / "out.wav")]
    _fails(run, capsys, "No OpenAI API key is set", "speech-to-text", "point llm.base_url")
    monkeypatch.setenv("VOICEDESK_LLM__BASE_URL", "http://127.0.0.1:9/v1")  # as advised
    assert main(run) == 2
    err = capsys.readouterr().err
    assert 'speech-to-text (stt.provider = "openai") needs one' in err
    assert "point llm.base_url" not in err and 'stt.provider = "local"' in err
    monkeypatch.setenv("VOICEDESK_STT__PROVIDER", "none")
    monkeypatch.setenv("VOICEDESK_TTS__PROVIDER", "openai")
    monkeypatch.delenv("VOICEDESK_LLM__BASE_URL")
    _fails(run, capsys, "No OpenAI API key is set", "language model")


def test_a_room_needs_a_wav_microphone_and_well_formed_keys(wav: Path, capsys) -> None:
    run = ["run", "--headless", "--sim", "--no-tools"]
    _fails([*run, "--room"], capsys, "--room needs --input")
    for spec, needle in (
        ("delay=60", "'delay=60' is not KEY=VALUE with a KEY of delay_ms"),
        ("echo_db=loud", "echo_db='loud': not a number"),
        ("rt60_s=0", "rt60_s > 0"),
    ):
        with pytest.raises(SystemExit) as exit_:  # argparse's own usage error
            main([*run, "--input", str(wav), "--room", spec])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "argument --room" in err and needle in err and "Traceback" not in err


def test_a_room_refuses_a_seed_numpy_cannot_take_and_levels_out_of_range(wav: Path, capsys) -> None:
    """``--room seed=-1`` ended in a traceback from numpy ("expected non-negative
    integer"), ``seed=1.5`` was quietly taken as another seed, and an echo 100 dB over the
    person or noise above full scale (``echo_db=100``, ``noise_dbfs=20``) ran as a room, a
    clipped square wave at the microphone, where `bench echo --echo-db` takes −40 … 10."""
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    for spec, needle in (
        ("seed=-1", "seed=-1: the seed is a whole number ≥ 0"),
        ("seed=1.5", "seed=1.5: the seed is a whole number ≥ 0"),
        ("echo_db=100", "echo_db=100: use −40 … 10 dB"),
        ("noise_dbfs=20", "noise_dbfs=20: use −120 … 0 dBFS"),
        # no upper bound: 64 GB of delay line, a 96-million-sample impulse response
        ("delay_ms=1e9", "delay_ms=1e9: use 0 … 1000 ms"),
        ("delay_ms=-1", "delay_ms=-1: use 0 … 1000 ms"),
        ("rt60_s=6000", "rt60_s=6000: use rt60_s > 0 and at most 2 s"),
    ):
        with pytest.raises(SystemExit) as exit_:  # argparse's own usage error
            main([*run, "--room", spec])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "argument --room" in err and needle in err and "Traceback" not in err


def test_a_room_makes_the_wav_microphone_hear_what_is_played(wav: Path) -> None:
    # --room wraps the WAV microphone in the simulated room and turns echo cancellation on,
    # which a WAV run otherwise leaves off (nothing played can reach a file).
    from voicedesk.audio.io import AudioIO
    from voicedesk.commands.run import room_arg
    from voicedesk.config import Settings

    plain = AudioIO.from_settings(Settings(), input=wav, realtime=False)
    roomy = AudioIO.from_settings(
        Settings(), input=wav, realtime=False, room=room_arg("delay_ms=90,echo_db=0")
    )
    assert plain.backend.name == "file" and plain.echo_mode == "off"
    assert roomy.backend.name == "room" and roomy.echo_mode == "auto"
    assert roomy.backend.delay_ms == 90 and roomy.backend.echo_db == 0


def test_a_room_with_a_reverberation_time_under_one_sample_still_opens(wav: Path) -> None:
    """``--room rt60_s=0.00001`` passes the ``rt60_s > 0`` check, but the impulse response
    was built with ``int(rt60_s * 16000)`` = 0 samples: a traceback from numpy ("a cannot
    be empty") instead of a room. It is now the direct path alone."""
    from voicedesk.audio.io import AudioIO
    from voicedesk.commands.run import room_arg
    from voicedesk.config import Settings

    io = AudioIO.from_settings(
        Settings(), input=wav, realtime=False, room=room_arg("rt60_s=0.00001")
    )
    assert io.backend.name == "room"
    ir = io.backend._ir
    assert ir[0] == 1.0 and not ir[1:].any()  # the direct sound, no reflections


def test_verbose_run_does_not_log_every_http_request(tmp_path: Path) -> None:
    """`-v` keeps the HTTP library's per-request INFO lines out (they quote every request's
    URL): the openai SDK sends through httpx2, whose logger is not "httpx", so each model
    list, background prewarm and chat request was logged, on stderr and in the TUI's log."""

    speech = Path(__file__).parent / "fixtures" / "turns" / "dev-finished-0.wav"
    argv = ["-v", "run", "--headless", "--sim", "--no-tools", "--input", str(speech)]
    run = _voicedesk({**os.environ}, *argv, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "INFO voicedesk" in run.stderr  # -v logs what it should
    assert "HTTP Request:" not in run.stderr


def test_a_run_killed_outright_keeps_its_audio_so_far(tmp_path: Path) -> None:
    """``kill -9`` (or a power cut) mid-run lost the whole output WAV: what was played was
    kept in a temporary file until the run ended. Now it grows in ``out.partial.wav``, a
    valid WAV at every moment, and ``out.wav`` itself is never a torn file."""
    import signal
    import subprocess

    import soundfile as sf

    argv, out = _sim_conversation(tmp_path, ["question", "thanks", "hello"])
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.pop("VOICEDESK_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the first answer has played
            if line.startswith("assistant"):
                break
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "Answer to question." in line, err
    assert not out.exists()  # no half file where the whole one goes
    partial = tmp_path / "out.partial.wav"
    info = sf.info(str(partial))
    assert info.samplerate == 24_000
    assert 44 + 2 * info.frames == partial.stat().st_size  # its header tells all it holds
    played, _ = read_wav(partial)
    assert np.abs(played).max() > 1000  # the answer is in it


def test_a_second_ctrl_c_while_the_output_is_written_keeps_the_audio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C stops a run and the output WAV is written; a second Ctrl-C (an impatient
    person) while it was being written deleted the recording it was written from, and
    the run's audio was gone. The recording stays until the output holds it."""
    import signal

    from voicedesk.audio import file_backend

    out = tmp_path / "o.wav"
    pcm = np.zeros(16_000 * 10, np.int16)
    duplex = FileDuplex(None, out, input_pcm=pcm, input_rate=16_000, realtime=False)
    duplex.start(lambda block: np.full(duplex.playback_block, 1000, np.int16))
    assert duplex.finished.wait(30)

    def interrupted_write(*args: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # Python's own handler: KeyboardInterrupt here
        write_wav(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(file_backend, "write_wav", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        duplex.stop()
    kept, rate = read_wav(tmp_path / "o.partial.wav")
    assert rate == 24_000 and kept.size >= 10 * rate and np.all(kept[: 10 * rate] == 1000)


def test_a_killed_runs_audio_is_not_overwritten_by_the_next_run(
    wav: Path, tmp_path: Path, capsys
) -> None:
    """What a killed run left in OUT.partial.wav is its only audio: the next run with the
    same --output would start its own recording over it. It is refused, saying why."""
    out = tmp_path / "answers.wav"
    survivor = tmp_path / "answers.partial.wav"
    write_wav(survivor, np.full(24_000, 1000, np.int16), 24_000)
    before = survivor.read_bytes()
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav), "--output", str(out)]
    _fails(run, capsys, "did not end", "holds that run's audio")
    assert survivor.read_bytes() == before

    duplex = FileDuplex(None, out, input_pcm=np.zeros(1_600, np.int16), input_rate=16_000)
    with pytest.raises(UserError, match="holds that run's audio"):  # the demo, the TUI
        duplex.start(lambda block: np.zeros(duplex.playback_block, np.int16))
    assert survivor.read_bytes() == before


def test_a_run_with_the_output_of_a_run_still_going_is_told_so(
    wav: Path, tmp_path: Path, capsys
) -> None:
    """A second run given the --output of one still going (another terminal) was told that
    OUT.partial.wav was left by a run that was killed, and to move or delete it: done, the
    run still going lost its audio. It is told that a run is writing there now."""
    out = tmp_path / "answers.wav"
    going = FileDuplex(None, out, input_pcm=np.zeros(16_000, np.int16), input_rate=16_000)
    going.start(lambda block: np.full(going.playback_block, 1000, np.int16))
    try:
        run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
        assert main([*run, "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert "is being written by a run still going" in err and "another --output" in err
        assert "did not end" not in err and "delete" not in err
    finally:
        going.stop()
    assert read_wav(out)[0].size and not (tmp_path / "answers.partial.wav").exists()
    # once it has ended, nothing is in the way but its output, replaced when asked
    assert main([*run, "--output", str(out), "--force"]) == 0


def test_the_command_offered_to_keep_a_killed_runs_audio_works_in_a_folder_with_spaces(
    wav: Path, tmp_path: Path, capsys
) -> None:
    """The hint's "e.g. mv A B" named the paths unquoted: in a folder such as "My Music",
    pasted into a shell it moved nothing ("target is not a directory")."""
    import re
    import subprocess

    folder = tmp_path / "My Music"
    folder.mkdir()
    out = folder / "answers.wav"
    survivor = folder / "answers.partial.wav"
    write_wav(survivor, np.full(24_000, 1000, np.int16), 24_000)
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav), "--output", str(out)]
    assert main(run) == 2
    err = capsys.readouterr().err
    offered = re.search(r"e\.g\. (mv .*)\)$", err.strip())
    assert offered is not None, err
    subprocess.run(["sh", "-c", offered.group(1)], check=True)
    assert not survivor.exists() and (folder / "answers.partial-kept.wav").exists()


def test_a_headless_run_ends_when_its_last_answer_has_played(tmp_path: Path, capsys) -> None:
    """The run waited turn.max_wait_ms + 0.5 s after the end of the input whatever had
    happened before it: with the last answer long over, ~2.5 s more of silence was run
    (and written to the output). It now ends once the input is heard and the answer out."""
    from voicedesk.bench.scenarios import compose, load_utterance

    inp, out, script = tmp_path / "in.wav", tmp_path / "out.wav", tmp_path / "script.json"
    compose(["question"], gaps_s=0.0, tail_s=8.0).write(inp)  # the answer ends before it
    turn = {"transcript": load_utterance("question")[1], "reply": "Four minutes."}
    script.write_text(json.dumps({"turns": [turn]}), encoding="utf-8")
    argv = ["run", "--sim", "--headless", "--no-tools", "--input", str(inp), "--output"]
    argv += [str(out), "--sim-script", str(script), "--sim-ttft", "0.2", "--sim-ttfb", "0.1"]
    assert main(argv) == 0
    assert "assistant › Four minutes." in capsys.readouterr().out
    heard, rate = read_wav(inp)
    played, out_rate = read_wav(out)
    # the output is on the input's timeline: it runs on past the input only by the blocks
    # it takes to see that nothing is left to do
    assert played.size / out_rate < heard.size / rate + 0.5


def test_a_turn_still_undecided_when_the_input_ends_is_answered(tmp_path: Path, capsys) -> None:
    """The input ends 0.13 s into the pause after "… appointment to": the turn waits out
    the maximum wait after the end of the input, and is answered before the run ends."""
    inp = Path(__file__).parent / "fixtures" / "cues" / "dropped-to.wav"
    out, script = tmp_path / "out.wav", tmp_path / "script.json"
    turn = {"transcript": "Please move my dentist appointment to", "reply": "To when?"}
    script.write_text(json.dumps({"turns": [turn]}), encoding="utf-8")
    argv = ["run", "--sim", "--headless", "--no-tools", "--input", str(inp), "--output"]
    argv += [str(out), "--sim-script", str(script), "--sim-ttft", "0.2", "--sim-ttfb", "0.1"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "assistant › To when?" in captured.out
    assert np.abs(read_wav(out)[0]).max() > 0  # the answer was played into the output


def test_a_headless_run_in_a_room_ends_without_leak_warnings(tmp_path: Path) -> None:
    """Its start-up objects are kept out of garbage collection (engine.heap), and left so at
    exit they were never freed: the echo canceller's binding printed a screen of nanobind
    "leaked function" warnings after every run with echo cancellation."""

    speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
    argv = ["run", "--headless", "--sim", "--no-tools", "--room", "--input", str(speech)]
    done = _voicedesk(_isolated_env(tmp_path), *argv)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "assistant › " in done.stdout
    assert "leaked" not in done.stderr, done.stderr[-2000:]


def test_a_run_against_a_detached_sim_is_logged_and_resumed_as_a_simulated_one(
    tmp_path: Path,
) -> None:
    """With `eval "$(voicedesk sim --detach)"`'s keys, a run was logged as the person's own
    conversation, and a later `voicedesk --resume` with a real key would continue that
    scripted one. It is kept apart as an in-process --sim run is, and said to be."""
    env = _isolated_env(tmp_path)
    speech = Path(__file__).parent / "fixtures/turns/dev-finished-0.wav"
    run = ["run", "--headless", "--no-tools", "--input", str(speech)]
    with _standalone_sim(env):
        first = _voicedesk(env, *run)
        again = _voicedesk(env, *run, "--resume")
    assert first.returncode == 0, first.stderr[-2000:]
    said = first.stdout + first.stderr
    assert "logged as a simulated one" in said and "assistant › " in first.stdout
    logs = list((tmp_path / "data").rglob("*.jsonl"))
    assert logs and all(p.name.endswith(".sim.jsonl") for p in logs), logs
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Resuming the simulated conversation" in again.stdout + again.stderr
    env.pop("OPENAI_API_KEY")
    env.update(OPENAI_API_KEY="sk-real-person", ELEVENLABS_API_KEY="real")
    mine = _voicedesk(env, *run, "--resume")  # refused before any request is made
    assert mine.returncode == 2 and "no earlier conversation to resume" in mine.stderr


def test_a_run_refused_at_its_start_says_only_what_is_wrong(
    wav: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The session log's folder in the way (a file): the refusal came after "run: no
    --output, so the answers are shown …", a notice about a run that never began, read
    first as if it were part of what was wrong."""
    in_the_way = tmp_path / "not-a-folder"
    in_the_way.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_DATA_HOME", str(in_the_way))
    assert main(["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]) == 2
    err = capsys.readouterr().err
    assert "The session log cannot be written" in err and "Traceback" not in err
    assert "is a file, not a folder" in err and "move or delete that file" in err
    assert "no --output" not in err, err


async def test_the_console_prints_a_result_that_begins_as_the_sdks_error_prefix_whole(
    tmp_path: Path,
) -> None:
    """A tool that did not fail answered with a log line of its own, "Error executing tool
    backup: …": `run --headless` printed "tool logs__last_error (…s): the disk was full at
    03:00", the SDK's error prefix taken off a result that had none, and with it what had
    failed. Only a failed call's reason loses the prefix."""
    import io

    from mcp_servers import LOG_SERVER, one_server_settings

    from voicedesk import events as ev
    from voicedesk.commands.run import ConsolePrinter
    from voicedesk.tools.manager import ToolManager

    out = io.StringIO()
    bus = ev.EventBus()
    bus.subscribe(ConsolePrinter(stream=out))
    settings = one_server_settings(tmp_path, "logs", LOG_SERVER)
    manager = ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")
    await manager.start()
    try:
        result = await manager.call("logs__last_error", {}, call_id="c1", turn_id=1)
    finally:
        await manager.aclose()
    assert not result.is_error
    (line,) = [ln for ln in out.getvalue().splitlines() if ln.startswith("  tool ")]
    assert line.endswith("s): Error executing tool backup: the disk was full at 03:00"), line


def test_a_headless_run_whose_reader_goes_away_stops_as_a_piped_command_does(
    tmp_path: Path,
) -> None:
    """`run --headless … | head -1`: each later line of the transcript failed inside the
    event bus, logged with a traceback, the run went on to its end and exited 0. It stops
    now as a command whose reader went away stops (141, no traceback), its audio so far
    kept; a standard output that takes no more (/dev/full) ends it with one line and 1."""
    argv, out = _sim_conversation(tmp_path, ["question", "weather", "thanks"])
    command = [sys.executable, "-m", "voicedesk", *argv]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_isolated_env(tmp_path),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("you       › ")
        proc.stdout.close()  # as `head -1` leaves
        err = proc.stderr.read() if proc.stderr is not None else ""
        proc.wait(timeout=180)
    finally:
        proc.kill()
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "interrupted" not in err  # not by the person
    said = f"stopped, as the reader of standard output went away: the audio so far is in {out}"
    assert said in err, err
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*command, "--force"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=_isolated_env(tmp_path),
            timeout=180,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "could not write to standard output (/dev/full): No space left" in done.stderr
    said = f"stopped, as standard output could not be written: the audio so far is in {out}"
    assert said in done.stderr, done.stderr


def test_ctrl_c_as_the_outputs_reader_goes_ends_130_said_as_interrupted(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in a terminal reaches every process of `voicedesk run --headless … | head`:
    head went with it, the run found its reader gone too, and ended 141 (at times 1),
    saying it was interrupted or not as the two fell. The person's Ctrl-C wins: 130, one
    line, no traceback. Standard output is a real pipe whose reader has gone; the write
    that finds it so comes with the SIGINT, as the two come together from the terminal."""
    import asyncio
    import io
    import signal

    from voicedesk.cli import build_parser
    from voicedesk.commands.run import run_headless
    from voicedesk.commands.termination import until_terminated

    class PipeToAGoneHead(io.TextIOWrapper):
        def _with_ctrl_c(self, write: Callable[[], int | None]) -> int | None:
            try:
                return write()
            except BrokenPipeError:
                os.kill(os.getpid(), signal.SIGINT)  # handled by the run's event loop
                raise

        def write(self, s: str) -> int:
            return self._with_ctrl_c(lambda: super(PipeToAGoneHead, self).write(s)) or 0

        def flush(self) -> None:
            self._with_ctrl_c(lambda: super(PipeToAGoneHead, self).flush())

    argv, out = _sim_conversation(tmp_path, ["question", "thanks"])
    read_end, write_end = os.pipe()
    os.close(read_end)
    pipe = PipeToAGoneHead(io.FileIO(write_end, "w"), encoding="utf-8", line_buffering=True)
    monkeypatch.setattr(sys, "stdout", pipe)
    args = build_parser().parse_args(argv)
    # Ctrl-C as in a terminal: pytest run as a shell's background job inherits it ignored,
    # and the run then leaves it so (as it must), ending 141 for want of the signal
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        status = asyncio.run(until_terminated(run_headless(args)))
    finally:
        signal.signal(signal.SIGINT, previous)
        with contextlib.suppress(OSError):
            pipe.close()
    err = capsys.readouterr().err
    assert status == 130, err
    assert "Traceback" not in err and "reader" not in err, err
    assert err.count("interrupted") == 1 and f"{out}" in err, err


def test_a_headless_run_started_with_stdout_closed_stops_with_one_line_and_1(
    tmp_path: Path,
) -> None:
    """`run --headless … >&-`: fd 1 was free, the event loop's epoll descriptor took it,
    and the first transcript line that failed pointed fd 1 at /dev/null to quiet the exit:
    the loop's own descriptor replaced, it failed with two tracebacks and the run ended
    120. It stops as a full disk does now: one line, status 1, its audio so far kept."""
    argv, out = _sim_conversation(tmp_path, ["question", "thanks"])
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "voicedesk", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=_isolated_env(tmp_path),
        timeout=180,
    )
    assert done.returncode == 1, done.stderr
    said = f"stopped, as standard output could not be written: the audio so far is in {out}"
    assert "Traceback" not in done.stderr and said in done.stderr, done.stderr
    said = "voicedesk: could not write to standard output: it is closed; give it a terminal"
    assert done.stderr.count(said) == 1, done.stderr


def test_a_resumed_call_loses_the_sdks_error_prefix_only_if_it_failed(tmp_path: Path) -> None:
    """The session log did not say whether a tool call had failed, so a resumed
    conversation took the MCP SDK's "Error executing tool …" off every earlier result: a
    tool's own log line that begins so (a call that did not fail) lost what had failed.
    The log says which calls failed now; resumed, only those lose it, and a log written
    before it said so is read as before. Real servers over stdio: the documents server
    refusing a document that is not there, a server answering with such a log line."""
    from mcp_servers import LOG_SERVER

    from voicedesk.bench.scenarios import compose, load_utterance
    from voicedesk.engine.resume import earlier_turns
    from voicedesk.engine.session_log import read_log
    from voicedesk.tui.widgets.tools import ToolCallInfo, ToolPane

    server, workspace = tmp_path / "logs.py", tmp_path / "docs"
    server.write_text(LOG_SERVER)
    workspace.mkdir()
    config = tmp_path / "c.toml"
    config.write_text(
        f"[tools]\nworkspace = {json.dumps(str(workspace))}\n"
        f"[tools.mcpServers.logs]\ncommand = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(server))}]\n",
        encoding="utf-8",
    )
    inp, script = tmp_path / "in.wav", tmp_path / "script.json"
    compose(["docs"], gaps_s=6.0, tail_s=1.0).write(inp)
    calls = [
        {"name": "logs__last_error"},
        {"name": "docs__read_document", "arguments": {"path": "nope.md"}},
    ]
    turn = {"transcript": load_utterance("docs")[1], "reply": "Done.", "tool_calls": calls}
    script.write_text(json.dumps({"turns": [turn]}), encoding="utf-8")
    argv = ["--config", str(config), "run", "--sim", "--headless", "--input", str(inp)]
    assert main([*argv, "--sim-script", str(script)]) == 0
    (log,) = (tmp_path / "data" / "voicedesk" / "sessions").glob("*.jsonl")

    def resumed() -> dict[str, tuple[str, str | None]]:
        (past,) = earlier_turns(log).turns
        return {
            call.name: (
                str(
                    ToolPane.line(
                        ToolCallInfo(
                            call_id="c",
                            name=call.name,
                            arguments={},
                            turn_id=1,
                            started_ns=0,
                            earlier=True,
                            earlier_result=call.result,
                            earlier_failed=call.failed,
                        )
                    ).plain
                )
                .splitlines()[-1]
                .strip(),
                call.result,
            )
            for call in past.tool_calls
        }

    now = resumed()
    assert now["logs__last_error"][0] == "Error executing tool backup: the disk was full at 03:00"
    read_line, read_result = now["docs__read_document"]
    assert read_result is not None and read_result.startswith("Error executing tool read_doc")
    assert not read_line.startswith("Error executing tool") and "nope.md" in read_line
    # a log from before: no "failed_at" (nor "failed") in its tools records, every result
    # read as a failure's
    records = [
        {k: v for k, v in r.items() if k not in ("failed_at", "failed")} for r in read_log(log)
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    before = resumed()
    assert before["logs__last_error"][0] == "the disk was full at 03:00"
    assert before["docs__read_document"][0] == read_line


def test_a_headless_runs_tool_lines_come_under_the_words_that_asked_for_them(
    tmp_path: Path, capsys
) -> None:
    """`run --headless` prints a turn's words once the turn is over (with its answer), but
    its tool calls finish before that: "tool docs__list_documents …: 2 documents" came
    above "you › Which documents do I have…", the result before the question. They are
    held until their turn's words are printed now. The built-in documents server, real
    speech from a WAV file, the simulated cloud."""
    from voicedesk.bench.scenarios import compose, load_utterance

    workspace = tmp_path / "docs"
    workspace.mkdir()
    (workspace / "plan.md").write_text("# Plan\n\nFly on March 14.\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    config.write_text(f"[tools]\nworkspace = {json.dumps(str(workspace))}\n", encoding="utf-8")
    inp, script = tmp_path / "in.wav", tmp_path / "script.json"
    compose(["hello", "docs"], gaps_s=6.0, tail_s=1.0).write(inp)
    turns = [
        {"transcript": load_utterance("hello")[1], "reply": "Yes, I hear you."},
        {
            "transcript": load_utterance("docs")[1],
            "reply": "You have a plan.",
            "tool_calls": [{"name": "docs__list_documents"}],
        },
    ]
    script.write_text(json.dumps({"turns": turns}), encoding="utf-8")
    argv = ["--config", str(config), "run", "--sim", "--headless", "--input", str(inp)]
    assert main([*argv, "--sim-script", str(script)]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = [
        line.split(" (")[0] if line.startswith("  tool ") else line
        for line in lines
        if line.startswith(("you ", "assistant ", "  tool "))
    ]
    assert said == [
        f"you       › {load_utterance('hello')[1]}",
        "assistant › Yes, I hear you.",
        f"you       › {load_utterance('docs')[1]}",
        "  tool docs__list_documents",
        "assistant › You have a plan.",
    ], lines


def test_replay_of_a_44_1_khz_recording_of_any_length_is_read_to_its_end(
    tmp_path: Path, capsys
) -> None:
    """`voicedesk replay` of a 44.1 kHz WAV (what most recorders write) ended in a
    MemoryError traceback for about one length in four: the resampler, flushed with an
    empty block at the end, asks soxr for an output of negative size at those lengths
    (188,114 samples: 4.27 s). The flush now comes with the file's last block."""
    import soundfile as sf

    for frames in (188_114, 133_829, 49_309):
        path = tmp_path / f"{frames}.wav"
        t = np.arange(frames) / 44_100
        sf.write(path, (np.sin(2 * np.pi * 220 * t) * 0.3).astype(np.float32), 44_100)
        assert main(["replay", str(path), "--stt", "none", "--json"]) == 0, frames
        assert json.loads(capsys.readouterr().out)["duration_s"] == pytest.approx(
            frames / 44_100, abs=0.01
        )


def _voicedesk_with_import_hook(finder: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``voicedesk *argv`` in a process of its own whose imports first pass through
    ``finder``, the body of a ``find_spec(self, name, path, target)`` (indented 8 spaces;
    ``os``, ``signal``, ``sys`` and ``traceback`` imported): a moment inside an import, such
    as Ctrl-C as the on-device models load, that no signal sent from outside can hit."""
    hook = (
        "import os, signal, sys, traceback\n"
        "class Hook:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"{finder}"
        "        return None\n"
        "sys.meta_path.insert(0, Hook())\n"
        f"sys.argv = {['voicedesk', *argv]!r}\n"
        "from voicedesk.entry import main\n"
        "main()\n"
    )
    package_root = str(Path(__file__).resolve().parents[1])
    return subprocess.run(
        [sys.executable, "-c", hook],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": package_root},
    )


def test_ctrl_c_while_the_models_load_ends_quietly_with_130(tmp_path: Path, wav: Path) -> None:
    """onnxruntime turns a KeyboardInterrupt that breaks off its native module's import into
    "ImportError: initialization failed": Ctrl-C as `replay` loaded the models was that
    traceback and status 1 (it also failed the long-file test above at random). The moment
    cannot be hit on purpose (a SIGINT sent from Python is raised at the next bytecode, never
    inside the native module's initialisation), so an import hook raises what pybind11 then
    raises, and onnxruntime's own ``__init__`` takes it from there as it does on Ctrl-C."""
    done = _voicedesk_with_import_hook(
        "        if name.endswith('onnxruntime_pybind11_state'):\n"
        "            raise ImportError('initialization failed') from KeyboardInterrupt()\n",
        "replay",
        "--stt",
        "none",
        str(wav),
    )
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr


def test_ctrl_c_as_doctor_loads_the_models_ends_it_without_a_false_diagnosis(
    tmp_path: Path,
) -> None:
    """A real Ctrl-C (SIGINT) lands as onnxruntime's native module imports numpy, which
    pybind11 turns into "ImportError: import numpy failed" with no trace of it, and numpy
    prints the KeyboardInterrupt's traceback itself: doctor then said "onnxruntime cannot be
    imported (import numpy failed); reinstall voicedesk", went on with its checks and ended
    with 1. The signal is sent by an import hook the moment that import asks for numpy."""
    done = _voicedesk_with_import_hook(
        "        stack = ''.join(f.filename for f in traceback.extract_stack())\n"
        "        if name == 'numpy' and 'onnxruntime' in stack:\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n",
        "doctor",
    )
    assert "onnxruntime cannot be imported" not in done.stdout, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 130, (done.stdout, done.stderr)
