"""`run`, `demo` and `replay` on the command line: every bad path or number is one message and
exit code 2 before anything starts, the output WAV is never silently lost, and demo or
simulated conversations stay out of `--resume`. No sound card and no network are needed."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
from pathlib import Path
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
def test_unwritable_output_is_refused_up_front(wav: Path, tmp_path: Path, capsys) -> None:
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    _fails([*run, "--output", "/proc/nope/o.wav"], capsys, "--output /proc/nope/o.wav")
    _fails([*run, "--output", str(tmp_path)], capsys, "is a directory")
    _fails(["demo", "--headless", "--output", str(tmp_path)], capsys, "is a directory")


def test_bad_metrics_out_is_refused_up_front(wav: Path, tmp_path: Path, capsys) -> None:
    run = ["run", "--headless", "--sim", "--no-tools", "--input", str(wav)]
    _fails([*run, "--metrics-out", str(tmp_path)], capsys, "--metrics-out", "is a directory")
    _fails([*run, "--metrics-out", "/proc/nope/m.jsonl"], capsys, "Cannot write --metrics-out")
    _fails(["demo", "--headless", "--metrics-out", str(tmp_path)], capsys, "is a directory")


@pytest.mark.parametrize(
    ("flag", "value", "needle"),
    [
        ("--sim-ttft", "-1", "--sim-ttft must be ≥ 0"),
        ("--sim-ttfb", "nan", "--sim-ttfb must be ≥ 0"),
        ("--sim-stt", "-0.5", "--sim-stt must be ≥ 0"),
        ("--sim-tokens-per-s", "0", "--sim-tokens-per-s must be > 0"),
    ],
)
def test_sim_flags_are_checked_like_sim(flag: str, value: str, needle: str, capsys) -> None:
    _fails(["run", "--headless", "--sim", flag, value], capsys, needle)
    if flag != "--sim-tokens-per-s":
        _fails(["demo", "--headless", flag, value], capsys, needle)


def test_replay_of_a_directory_says_so(tmp_path: Path, capsys) -> None:
    _fails(["replay", str(tmp_path), "--stt", "none"], capsys, "is a directory")


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
    time.sleep(0.4)
    duplex.stop()
    samples, rate = read_wav(out)
    assert rate == 16_000 and 0.2 < samples.size / rate < 2 and np.abs(samples).max() > 0

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
