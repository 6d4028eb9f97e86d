"""``voicedesk sim`` as a person uses it: one line in a shell points voicedesk at it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_detached_sim_exports_what_a_client_needs_and_returns():
    script = f"""
set -e
eval "$({sys.executable} -m voicedesk sim --detach --port 0)"
trap 'kill "$VOICEDESK_SIM_PID"' EXIT
{sys.executable} - <<'PY'
import os
from openai import OpenAI
client = OpenAI()  # base URL and key from the exported environment, nothing else
reply = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{{"role": "user", "content": "hello"}}]
)
assert os.environ["ELEVENLABS_API_KEY"] and os.environ["ELEVENLABS_BASE_URL"]
print("answered:", reply.choices[0].message.content)
PY
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "answered: " in done.stdout


def test_foreground_sim_prints_export_lines_with_the_keys():
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "sim", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(4)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    names = [line.split("=", 1)[0] for line in lines]
    assert names == [
        "export OPENAI_BASE_URL",
        "export ELEVENLABS_BASE_URL",
        "export OPENAI_API_KEY",
        "export ELEVENLABS_API_KEY",
    ]
