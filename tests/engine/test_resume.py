"""``--resume`` after the process was killed mid-conversation: no confirmed turn is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from voicedesk.bench.scenarios import compose, load_utterance
from voicedesk.config import Settings
from voicedesk.engine.builder import build_session, settings_for_sim
from voicedesk.engine.resume import restore_state


def _turn_records(folder: Path) -> list[dict]:
    out = []
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("type") == "turn":
                out.append(record)
    return out


def test_killed_conversation_resumes_with_every_turn(tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    inp = tmp_path / "in.wav"
    compose(["question", "thanks", "hello"], gaps_s=6.0, tail_s=1.0).write(inp)
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps(
            {
                "turns": [
                    {"transcript": load_utterance(n)[1], "reply": f"Answer to {n}."}
                    for n in ("question", "thanks", "hello")
                ]
            }
        )
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voicedesk",
            "run",
            "--headless",
            "--sim",
            "--no-tools",
            "--input",
            str(inp),
            "--sim-ttft",
            "0.2",
            "--sim-ttfb",
            "0.1",
            "--sim-script",
            str(script),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sessions = tmp_path / "data" / "voicedesk" / "sessions"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_turn_records(sessions)) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # mid-conversation: the third turn never completes
    proc.wait(10)
    records = _turn_records(sessions)
    assert len(records) >= 2, proc.stderr.read().decode() if proc.stderr else ""
    log_file = next(sessions.glob("*.jsonl"))
    with log_file.open("ab") as fh:
        fh.write(b'{"type": "turn", "turn_id": 99, "heard')  # a torn last line

    snapshot, last_id = restore_state(log_file)
    users = [m["content"] for t in snapshot["turns"] for m in t["messages"] if m["role"] == "user"]
    assert users[:2] == [load_utterance("question")[1], load_utterance("thanks")[1]]
    answers = [
        m["content"] for t in snapshot["turns"] for m in t["messages"] if m["role"] == "assistant"
    ]
    assert answers[:2] == ["Answer to question.", "Answer to thanks."]
    assert last_id >= 2

    os.environ["XDG_DATA_HOME"] = str(tmp_path / "data")
    try:
        settings = settings_for_sim(
            Settings.model_validate({"tools": {"docs_server": False}}), "http://127.0.0.1:9"
        )
        # a --sim run's log is marked as one: only a simulated session resumes it
        session = build_session(
            settings, input_path=inp, resume=True, with_tools=False, log_kind="sim"
        )
    finally:
        del os.environ["XDG_DATA_HOME"]
    assert session.log.path == log_file
    messages, _ = session.context.build_for("and one more thing")
    texts = [m["content"] for m in messages]
    assert load_utterance("question")[1] in texts and load_utterance("thanks")[1] in texts
    assert next(session._turn_ids) == last_id + 1
    session.log.close()


async def test_a_follow_up_with_background_tool_results_is_resumed(tmp_path, monkeypatch):
    """The answer to a slow tool comes in a turn nobody spoke (no user line in the log):
    resuming must bring back its tool result and answer, in their place."""
    from test_conversation_e2e import _memo_script, _run, _slow_memo_settings

    from voicedesk.engine.context import ContextManager
    from voicedesk.sim.script import SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    memo = "The memo asks for forty two thousand euros."
    script = _memo_script(
        memo, SimTurn(transcript=load_utterance("question")[1], reply="About seven minutes.")
    )
    scenario = compose(["budget", "question"], gaps_s=[5.0], tail_s=1.0)
    settings = _slow_memo_settings(6)
    session, _, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    assert any(r.eou_reason == "tool_result" for r in session.records)
    live = session.context.snapshot()["turns"]

    snapshot, _ = restore_state(session.log.path)
    resumed = ContextManager(settings, model=settings.llm.model)
    resumed.restore(snapshot)
    assert resumed.snapshot()["turns"] == live
    assert memo in [m["content"] for m in live[-1]["messages"]]
