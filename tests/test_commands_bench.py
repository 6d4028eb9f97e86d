"""`voicedesk bench …` on the command line: a bad flag value is one message and exit code 2
before anything is measured, never a traceback."""

from __future__ import annotations

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
        (["latency", "--ttft", "-1"], ["--ttft must be ≥ 0"]),
        (["latency", "--stt", "nan"], ["--stt must be ≥ 0"]),
        (["latency", "--keep", "/proc/nope/keep"], ["Cannot keep the files in --keep"]),
        (["turn", "--cpu-seconds", "0"], ["--cpu-seconds 0.0 is too short"]),
        (["turn", "--stt", "none", "--split", "nope"], ["split 'nope'", "use one of: dev"]),
        (["echo", "--min-speech-ms", "-10"], ["--min-speech-ms -10 cannot be negative"]),
    ],
)
def test_bad_bench_flags_are_one_message(argv: list[str], needles: list[str], capsys) -> None:
    _fails(["bench", *argv], capsys, *needles)


def test_keep_that_is_a_file_says_so(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "keep"
    a_file.write_text("x")
    assert main(["bench", "latency", "--keep", str(a_file)]) == 2
    assert f"--keep {a_file} is a file" in capsys.readouterr().err
