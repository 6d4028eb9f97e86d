"""The package type-checks: ``mypy`` with the project's configuration (``[tool.mypy]`` in
pyproject.toml, pydantic's plugin) reports nothing, so the README's test command keeps the
"type hints throughout" true and a None left unhandled is caught before a user meets it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_finds_no_errors() -> None:
    # A subprocess with this interpreter: mypy sees the same installed libraries as the
    # tests, reads the configuration from the checkout's pyproject.toml, and its global state
    # stays out of the test process.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "voicedesk"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
