"""``--resume`` after the process was killed mid-conversation: no confirmed turn is lost."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typed_sessions import converse_in_text, long_notes, typed_and_answered, typed_over_sim

from voicedesk import events as ev
from voicedesk.bench.scenarios import compose, load_utterance
from voicedesk.config import Settings
from voicedesk.engine.builder import build_session, settings_for_sim
from voicedesk.engine.context import FAILED_MARK
from voicedesk.engine.resume import restore_state


def _session_on(server, settings: Settings, tmp_path: Path, **kwargs):
    """A session of ``settings`` on the simulated cloud ``server``, no tools, its sound
    files in ``tmp_path`` (``kwargs``: the log's path or kind, resume, …)."""
    return build_session(
        settings_for_sim(settings, server.base_url),
        input_path=tmp_path / "in.wav",
        output_path=tmp_path / "out.wav",
        with_tools=False,
        **kwargs,
    )


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


def test_killed_conversation_resumes_with_every_turn(tmp_path, monkeypatch):
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
    # two turns logged is the cue, not a time: on a loaded machine (the suite's parallel
    # processes beside other work) they took over the 60 s this waited at first
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None and len(_turn_records(sessions)) < 2:
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

    # (monkeypatch puts back the test process's own data folder, tests/conftest.py's)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = settings_for_sim(
        Settings.model_validate({"tools": {"docs_server": False}}), "http://127.0.0.1:9"
    )
    # a --sim run's log is marked as one: only a simulated session resumes it
    session = build_session(settings, input_path=inp, resume=True, with_tools=False, log_kind="sim")
    assert session.log.path == log_file
    messages, _ = session.context.build_for("and one more thing")
    texts = [m["content"] for m in messages]
    assert load_utterance("question")[1] in texts and load_utterance("thanks")[1] in texts
    assert next(session._turn_ids) == last_id + 1
    session.log.close()


MEMO = "The memo asks for forty two thousand euros."


async def _memo_answered_in_a_follow_up(tmp_path, monkeypatch):
    """A session (ended) where the person asks for a memo read by a slow tool, which goes
    on in the background and is answered in a turn nobody spoke, after another question."""
    from test_conversation_e2e import _memo_script, _run, _slow_memo_settings

    from voicedesk.sim.script import SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    script = _memo_script(
        MEMO, SimTurn(transcript=load_utterance("question")[1], reply="About seven minutes.")
    )
    scenario = compose(["budget", "question"], gaps_s=[5.0], tail_s=1.0)
    settings = _slow_memo_settings(6)
    session, _, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    assert any(r.eou_reason == "tool_result" for r in session.records)
    return session


async def test_a_follow_up_with_background_tool_results_is_resumed(tmp_path, monkeypatch):
    """The answer to a slow tool comes in a turn nobody spoke (no user line in the log):
    resuming must bring back its tool result and answer, in their place."""
    from voicedesk.engine.context import ContextManager

    session = await _memo_answered_in_a_follow_up(tmp_path, monkeypatch)
    live = session.context.snapshot()["turns"]

    snapshot, _ = restore_state(session.log.path)
    resumed = ContextManager(session.settings, model=session.settings.llm.model)
    resumed.restore(snapshot)
    assert resumed.snapshot()["turns"] == live
    assert MEMO in [m["content"] for m in live[-1]["messages"]]


def _records(path: Path, kind: str) -> list[dict]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if r.get("type") == kind]


async def test_a_sessions_summary_records_name_the_calls_they_folded(tmp_path, monkeypatch):
    """The session logs, with each summary, the tool calls its folded turns carried
    ([turn, call id]; none here): ``--resume`` tells by them a call the summary has from
    one still running when its turn was folded (see test_interrupted_tools)."""
    from voicedesk.sim.script import SimScript

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.model_validate(
        {"tools": {"docs_server": False}, "context": {"window_turns": 2}}
    )
    session = await typed_over_sim(
        tmp_path,
        settings,
        SimScript(),
        [f"Note {i}: order {i * 111}." for i in range(1, 6)],
        output_path=tmp_path / "out.wav",
        with_tools=False,
    )
    records = [json.loads(line) for line in session.log.path.read_text().splitlines()]
    summaries = [r for r in records if r["type"] == "summary"]
    assert summaries and all(r["folded_calls"] == [] for r in summaries)


async def test_a_window_learnt_from_a_refusal_is_kept_across_resume(tmp_path, monkeypatch):
    """The model's window (2000 as the server counts) was learnt from a refusal and lost
    with the process: the resumed conversation's first request, at the configured budget
    (6000), was refused again and sent a second time. Now the log keeps what was learnt."""
    from voicedesk.bench.scenarios import compose
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.script import SimScript

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    compose([], tail_s=4.0).write(tmp_path / "in.wav")
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    options = SimOptions(
        ttft_s=0.05,
        ttfb_s=0.05,
        stt_s=0.05,
        script=SimScript(default_reply="Noted."),
        context_window=2000,
    )

    def session_for(server, **kwargs):
        return _session_on(server, settings, tmp_path, log_kind="sim", **kwargs)

    # one server for both sessions: the window learnt is the model's as served at its URL
    async with sim_server(options) as server:
        first = session_for(server)
        await converse_in_text(first, long_notes(1, 6))
        assert len(server.too_long) == 1  # learnt here, on the fifth turn
        learnt = first.context.budget
        assert first.context.window == 2000 and learnt < 2000
        log_file = first.log.path
        assert _records(log_file, "context_window") == [
            {
                "type": "context_window",
                "window": 2000,
                "budget_tokens": learnt,
                "model": "gpt-4o-mini",
                "endpoint": f"{server.base_url}/v1",
            }
        ]
        sent_before = len(server.chat_requests())

        resumed = session_for(server, resume=True, log_path=log_file)
        assert resumed.context.window == 2000 and resumed.context.budget == learnt
        await converse_in_text(resumed, long_notes(7, 8, length=20))
        assert len(server.too_long) == 1  # the first request after resuming already fits
        assert [r.heard_text for r in resumed.records] == ["Noted.", "Noted."]
        assert [r.too_long_retries for r in resumed.records] == [0, 0]
        after = server.chat_requests()[sent_before:]
        assert after and all(server.request_tokens(b) + b["max_tokens"] <= 2000 for b in after)
    assert len(_records(log_file, "user")) == 8  # the same log, appended to


def test_a_log_from_before_the_context_window_record_resumes_as_before(tmp_path):
    """Logs written before the learnt window was recorded have no such record: they resume
    with the configured budget and no window, their turns and summary as always."""
    from voicedesk.engine.context import ContextManager

    log_file = tmp_path / "old.sim.jsonl"
    lines = [
        {"type": "user", "turn_id": 1, "text": "Where is order 111?"},
        {"type": "turn", "turn_id": 1, "heard_text": "On dock one.", "interrupted": False},
        {"type": "summary", "summary": "Order 111 is on dock one.", "folded_turn_ids": [1]},
        {"type": "user", "turn_id": 2, "text": "And order 222?"},
        {"type": "turn", "turn_id": 2, "heard_text": "On dock two.", "interrupted": False},
    ]
    log_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    snapshot, last_id = restore_state(log_file)
    assert "context_window" not in snapshot and last_id == 2

    session, _ = _resume_from(tmp_path, log_file)
    fresh = ContextManager(session.settings, model=session.settings.llm.model)
    assert session.context.budget == fresh.budget == 6000
    assert session.context.window is None and session.context.learnt is None
    assert session.context.summary == "Order 111 is on dock one."
    assert session.context.snapshot()["turns"] == [
        {
            "turn_id": 2,
            "messages": [
                {"role": "user", "content": "And order 222?"},
                {"role": "assistant", "content": "On dock two."},
            ],
        }
    ]
    session.log.close()


def test_a_hand_edited_log_resumes_the_records_it_can_read(tmp_path):
    """A line that is JSON but no record, or a turn id that is no number, is skipped:
    ``--resume`` stopped with an AttributeError / ValueError traceback."""
    lines = [
        json.dumps({"type": "user", "turn_id": 1, "text": "Where is order 111?"}),
        "[1, 2]",
        json.dumps({"type": "user", "turn_id": "abc", "text": "edited by hand"}),
        '{"type": "user", "turn_id": 2, "te',  # torn by a crash
        json.dumps({"type": "turn", "turn_id": 1, "heard_text": "On dock one."}),
    ]
    log_file = tmp_path / "edited.jsonl"
    log_file.write_text("\n".join(lines) + "\n")
    snapshot, last_id = restore_state(log_file)
    assert last_id == 1
    # the notice counts each: the lines that were no record went uncounted ("1 damaged")
    assert snapshot["skipped_records"] == 3
    assert snapshot["turns"][0]["messages"] == [
        {"role": "user", "content": "Where is order 111?"},
        {"role": "assistant", "content": "On dock one."},
    ]


def test_records_of_the_wrong_types_are_left_out_not_taken_in(tmp_path, caplog):
    """Records whose fields had the wrong JSON type crashed --resume (TypeError,
    AttributeError, OverflowError) or slipped into the conversation ("None" as the summary
    or as the person's words, a window of -100 tokens, "12" read as turns 1 and 2)."""
    good = [
        {"type": "user", "turn_id": 1, "text": "Where is order 111?"},
        {"type": "turn", "turn_id": 1, "heard_text": "On dock one."},
        {"type": "user", "turn_id": 2, "text": "And order 112?"},
    ]
    bad = [
        {"type": "summary", "summary": "S", "summary_turns": None, "folded_turn_ids": [1]},
        {"type": "summary", "summary": "S", "summary_turns": "abc", "folded_turn_ids": [1]},
        {"type": "summary", "summary": "S", "summary_turns": 1, "folded_turn_ids": [None, "x"]},
        {"type": "summary", "summary": "S", "summary_turns": 1, "folded_turn_ids": "12"},
        {"type": "summary", "summary": None, "summary_turns": 1, "folded_turn_ids": []},
        {"type": "tools", "turn_id": 2, "messages": "abc"},
        {"type": "tools", "turn_id": 2, "messages": [None, 5]},
        {"type": "user", "turn_id": 11, "text": None},
        {"type": "user", "turn_id": 10**30, "text": "x"},
        {"type": "user", "turn_id": True, "text": "x"},
        {"type": "context_window", "window": -100, "budget_tokens": -100, "model": "m"},
        {"type": "context_window", "window": True, "budget_tokens": 900, "model": "m"},
    ]
    log_file = _write_log(tmp_path / "edited.jsonl", [good[0], *bad, *good[1:]])
    with_infinity = log_file.read_text() + '{"type": "user", "turn_id": Infinity, "text": "x"}\n'
    log_file.write_text(with_infinity)  # Python's json reads Infinity
    snapshot, last_id = restore_state(log_file)
    assert last_id == 2 and snapshot["skipped_records"] == len(bad) + 1
    assert snapshot["summary"] == "" and "context_window" not in snapshot
    assert [t["messages"] for t in snapshot["turns"]] == [
        [
            {"role": "user", "content": "Where is order 111?"},
            {"role": "assistant", "content": "On dock one."},
        ],
        [{"role": "user", "content": "And order 112?"}],
    ]
    caplog.clear()
    session, notices = _resume_from(tmp_path, log_file)
    assert [t.turn_id for t in session.context.turns] == [1, 2]
    (notice,) = [e for e in notices if isinstance(e, ev.Notice)]
    assert notice.level == "warning" and "13 damaged records of it left out" in notice.message
    # One warning per damaged record, as the notice counts them: the log is read once for
    # the model's view and the person's (it was read twice, and each warned twice).
    skipping = [r for r in caplog.records if "skipping a" in r.getMessage()]
    assert len(skipping) == len(bad) + 1


def _resume_from(tmp_path: Path, log_file: Path):
    """A session built to resume ``log_file`` (simulated settings, no tools, a WAV of
    silence as the microphone), and the events it published while being built."""
    settings = settings_for_sim(
        Settings.model_validate({"tools": {"docs_server": False}}), "http://127.0.0.1:9"
    )
    compose([], tail_s=1.0).write(tmp_path / "in.wav")
    bus = ev.EventBus()
    published: list[ev.Event] = []
    bus.subscribe(published.append)
    session = build_session(
        settings,
        input_path=tmp_path / "in.wav",
        resume=True,
        log_path=log_file,
        with_tools=False,
        bus=bus,
    )
    return session, published


def _write_log(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def _call_message(call_id: str, name: str = "docs__read_document", arguments: str = "{}") -> dict:
    """The model's message calling one tool, as the engine logs it (in a tools record)."""
    function = {"name": name, "arguments": arguments}
    calls = [{"id": call_id, "type": "function", "function": function}]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def _tool_result(call_id: str, text: str) -> dict:
    """A tool's result for call ``call_id``, as the engine logs it after the call."""
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def test_the_earlier_turns_are_published_for_the_person_to_see(tmp_path):
    """Resuming gave the model its context back but showed the person only a notice: the
    session now publishes the turns they are continuing, as they had them."""
    from voicedesk import events as ev

    memo = "The memo asks for forty two thousand euros, to be paid in March."
    log_file = _write_log(
        tmp_path / "earlier.sim.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Where is order 111?"},
            {
                "type": "turn",
                "turn_id": 1,
                "assistant_text": "On **dock one**.",
                "heard_text": "On dock one.",
                "interrupted": False,
                "tool_calls": [{"id": "c1", "name": "find_order", "arguments": {"id": 111}}],
            },
            {"type": "user", "turn_id": 2, "text": "Read me the memo."},
            {  # as the engine logs a tool round: the model's calls, then each result
                "type": "tools",
                "turn_id": 2,
                "messages": [
                    _call_message("call_7", "read_document", '{"path": "memo.md"}'),
                    _tool_result("call_7", memo),
                ],
            },
            {
                "type": "turn",
                "turn_id": 2,
                "assistant_text": memo,
                "heard_text": "The memo asks for",
                "interrupted": True,
            },
            {"type": "summary", "summary": "Order 111 is on dock one.", "folded_turn_ids": [1]},
            # the person went on before hearing the answer: turn 3 lives on in turn 4
            {"type": "user", "turn_id": 3, "text": "And order"},
            {"type": "retracted", "turn_id": 3},
            {"type": "user", "turn_id": 4, "text": "And order 222?"},
            {"type": "turn", "turn_id": 4, "heard_text": "", "error": "llm_failed"},
            {"type": "tools", "turn_id": 5, "messages": [{"role": "tool", "content": memo}]},
            {
                "type": "turn",
                "turn_id": 5,
                "heard_text": "The search is done.",
                "interrupted": False,
            },
            {"type": "user", "turn_id": 6, "text": "Thanks, one more thing"},  # then it died
        ],
    )
    session, published = _resume_from(tmp_path, log_file)
    session.log.close()
    [resumed] = [e for e in published if isinstance(e, ev.ConversationResumed)]
    assert resumed.turns == (
        ev.PastTurn(
            turn_id=1,
            user_text="Where is order 111?",
            heard_text="On dock one.",
            assistant_text="On **dock one**.",
            # the turn record keeps the call, not what it answered
            tool_calls=(ev.PastToolCall("find_order", {"id": 111}),),
            summarised=True,
        ),
        ev.PastTurn(
            turn_id=2,
            user_text="Read me the memo.",
            heard_text="The memo asks for",
            assistant_text=memo,
            interrupted=True,
            # its result from the tool messages: every call read "outcome not logged"
            tool_calls=(ev.PastToolCall("read_document", {"path": "memo.md"}, memo),),
        ),
        # the failed answer was never heard: the person's words alone
        ev.PastTurn(turn_id=4, user_text="And order 222?", heard_text=None),
        ev.PastTurn(
            turn_id=5,
            user_text="",  # a follow-up with a background tool's result: nobody spoke
            heard_text="The search is done.",
            assistant_text="The search is done.",
        ),
        ev.PastTurn(turn_id=6, user_text="Thanks, one more thing", heard_text=None),
    )
    assert (resumed.not_shown, resumed.summarised) == (0, 1)


def test_a_long_history_shows_its_last_turns_and_counts_the_rest(tmp_path):
    from voicedesk.engine.resume import SHOWN_TURNS, earlier_turns

    records = []
    for n in range(1, 71):
        records.append({"type": "user", "turn_id": n, "text": f"Question {n}"})
        records.append({"type": "turn", "turn_id": n, "heard_text": f"Answer {n}."})
    records.append({"type": "summary", "summary": "…", "folded_turn_ids": list(range(1, 31))})
    resumed = earlier_turns(_write_log(tmp_path / "long.jsonl", records))
    assert SHOWN_TURNS == 50
    assert [t.turn_id for t in resumed.turns] == list(range(21, 71))
    assert resumed.not_shown == 20 and resumed.summarised == 30
    assert [t.turn_id for t in resumed.turns if t.summarised] == list(range(21, 31))


def test_an_answer_a_failure_cut_short_is_resumed_as_cut_off(tmp_path):
    """The live history marks an answer a synthesis failure stopped partway as cut off;
    resumed, it read as if the model had answered only "The"."""
    records = [
        {"type": "user", "turn_id": 1, "text": "Tell me about the tides."},
        {
            "type": "turn",
            "turn_id": 1,
            "assistant_text": "The tides come from the moon's pull.",
            "heard_text": "The",
            "interrupted": False,
            "error": "The voice service failed",
        },
        {"type": "user", "turn_id": 2, "text": "And the sun?"},
        {  # a failure after the whole answer was heard (its transcript) cuts nothing
            "type": "turn",
            "turn_id": 2,
            "assistant_text": "It pulls too.",
            "heard_text": "It pulls too.",
            "interrupted": False,
            "error": "stt: lost",
        },
    ]
    snapshot, _ = restore_state(_write_log(tmp_path / "s.jsonl", records))
    answers = [t["messages"][-1]["content"] for t in snapshot["turns"]]
    # not as the person breaking in, which it was not
    assert answers == ["The" + FAILED_MARK, "It pulls too."]


def _printed_on_the_console(assistant_text: str, heard_text: str, **marks: Any) -> str:
    """What the console prints of turn 1, the person having asked about the tides and the
    answer ``assistant_text`` heard as far as ``heard_text``, with ``marks`` (how it ended)
    in its record: each console test gives only the answer and how it was cut."""
    import io

    from voicedesk.commands.run import ConsolePrinter

    out = io.StringIO()
    record = {
        "turn_id": 1,
        "user_text": "Tell me about the tides.",
        "assistant_text": assistant_text,
        "heard_text": heard_text,
        "interrupted": False,
        **marks,
    }
    ConsolePrinter(stream=out)(ev.TurnMetrics(turn_id=1, record=record))
    return out.getvalue()


def test_the_console_marks_an_answer_a_failure_cut_short() -> None:
    printed = _printed_on_the_console(
        "The tides come from the moon's pull.", "The", error="The voice service failed"
    )
    assert "assistant › The  ✂ (cut off by an error)" in printed


def test_a_tool_result_survives_a_kill_in_the_middle_of_its_answer(tmp_path):
    """The tool results of a turn were logged with its answer, once that had played: a
    process killed while the answer was being spoken lost the record that the document had
    been created, and the resumed conversation did not know it had been done (asked
    again, the model would do it again)."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["VOICEDESK_TOOLS__WORKSPACE"] = str(workspace)
    env.pop("VOICEDESK_CONFIG", None)
    inp = tmp_path / "in.wav"
    compose(["question"], gaps_s=1.0, tail_s=20.0).write(inp)
    create = {
        "name": "docs__create_document",
        "arguments": {"path": "list.md", "content": "- milk"},
    }
    long_reply = " ".join(["I have written the list, and here is what it holds."] * 6)
    turn = {"transcript": load_utterance("question")[1], "reply": long_reply}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": [{**turn, "tool_calls": [create]}]}))
    argv = ["run", "--headless", "--sim", "--input", str(inp), "--sim-script", str(script)]
    argv += ["--sim-ttft", "0.2", "--sim-ttfb", "0.1", "--sim-tokens-per-s", "4"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (workspace / "list.md").exists():
            time.sleep(0.1)
        time.sleep(1.0)  # the answer goes on after the tool (4 tokens a second)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert (workspace / "list.md").exists(), proc.stderr.read().decode() if proc.stderr else ""
    sessions = tmp_path / "data" / "voicedesk" / "sessions"
    assert not _turn_records(sessions)  # killed before the turn was over
    snapshot, _ = restore_state(next(sessions.glob("*.jsonl")))
    messages = [m for t in snapshot["turns"] for m in t["messages"]]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "docs__create_document"
    assert "list.md" in messages[2]["content"]


def test_the_console_marks_an_answer_stopped_at_max_tokens() -> None:
    printed = _printed_on_the_console(
        "The tides come from the", "The tides come from the", reached_max_tokens=True
    )
    assert "assistant › The tides come from the  ✂ (stopped at llm.max_tokens)" in printed


async def test_a_summary_over_a_smaller_budget_leaves_the_persons_words_whole(
    tmp_path, monkeypatch
):
    """Resumed with a smaller context.budget_tokens than the summary was made for, the
    whole summary went into every request: the person's words were cut to make room
    ("…invite Anna, Ben"), and the request was still over the budget. The summary is now
    held to its share of the budget, as it is when a refusal lowers the budget live."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.engine.context import SUMMARY_SHARE
    from voicedesk.sim.server import _is_summary

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    compose([], tail_s=4.0).write(tmp_path / "in.wav")
    facts = " ".join(f"The person keeps item {i} in drawer {i * 7}." for i in range(100))
    log_file = _write_log(
        tmp_path / "earlier.sim.jsonl",
        [
            *(
                {"type": k, "turn_id": n, **v}
                for n in range(1, 31)
                for k, v in (("user", {"text": f"Item {n}?"}), ("turn", {"heard_text": "Noted."}))
            ),
            {"type": "summary", "summary": facts, "folded_turn_ids": list(range(1, 31))},
        ],
    )
    budget = 1200
    settings = Settings.model_validate(
        {"tools": {"docs_server": False}, "context": {"budget_tokens": budget}}
    )
    asked = "Please book the meeting room for Thursday and invite Anna, Ben and Carla."
    async with sim_server(SimOptions(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05)) as server:
        session = _session_on(
            server, settings, tmp_path, log_kind="sim", resume=True, log_path=log_file
        )
        counter = session.context.counter
        assert counter.count(facts) > budget  # made for a larger budget
        await converse_in_text(session, [asked])
        [request] = [
            b["messages"] for b in server.chat_requests() if not _is_summary(b["messages"])
        ]
    assert request[-1] == {"role": "user", "content": asked}
    assert counter.messages(request) <= budget
    assert counter.count(session.context.summary) <= budget * SUMMARY_SHARE * counter.margin
    assert session.context.summary.startswith("The person keeps item 0 in drawer 0.")


def _log_records(folder: Path, kind: str) -> list[dict]:
    out = []
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            with_kind = json.loads(line) if line.strip().endswith("}") else {}
            if with_kind.get("type") == kind:
                out.append(with_kind)
    return out


async def test_an_answer_killed_while_it_played_is_resumed_as_far_as_it_was_heard(
    tmp_path, monkeypatch
):
    """The answer's record was written when it ended: a process killed while it played
    (kill -9, a power cut) left the question in the log and not a word of the answer, and
    after --resume the model did not know what it had said, though the person heard part
    of it. The log now keeps what was heard as it plays; the resumed model is sent that
    much, marked as cut off there."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.engine.context import LOST_MARK
    from voicedesk.sim.script import SimScript

    data = tmp_path / "data"
    env = {**os.environ, "XDG_DATA_HOME": str(data), "XDG_CONFIG_HOME": str(tmp_path / "c")}
    env.pop("VOICEDESK_CONFIG", None)
    inp = tmp_path / "in.wav"
    compose(["question"], gaps_s=1.0, tail_s=30.0).write(inp)
    answer = " ".join(["An egg takes about seven minutes, in water that is boiling."] * 5)
    script = tmp_path / "script.json"
    turn = {"transcript": load_utterance("question")[1], "reply": answer}
    script.write_text(json.dumps({"turns": [turn]}))
    argv = ["run", "--headless", "--sim", "--no-tools", "--input", str(inp)]
    argv += ["--sim-script", str(script), "--sim-ttft", "0.2", "--sim-ttfb", "0.1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sessions = data / "voicedesk" / "sessions"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _log_records(sessions, "user"):
            time.sleep(0.1)
        # the answer (about 20 s of speech) has played for a few seconds
        heard_by = time.monotonic() + 6.0
        while time.monotonic() < heard_by and len(_log_records(sessions, "progress")) < 3:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert _log_records(sessions, "user"), proc.stderr.read().decode() if proc.stderr else ""
    assert not _turn_records(sessions)  # killed before the answer was over
    log_file = next(sessions.glob("*.jsonl"))

    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    compose([], tail_s=4.0).write(tmp_path / "silence.wav")
    options = SimOptions(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=SimScript())
    async with sim_server(options) as server:
        resumed = build_session(
            settings_for_sim(
                Settings.model_validate({"tools": {"docs_server": False}}), server.base_url
            ),
            input_path=tmp_path / "silence.wav",
            with_tools=False,
            resume=True,
            log_path=log_file,
        )
        await converse_in_text(resumed, ["And a duck egg?"])
        sent = next(
            body["messages"]
            for body in server.chat_requests()
            if any(m.get("content") == "And a duck egg?" for m in body["messages"])
        )
    said = [m["content"] for m in sent if m["role"] == "assistant"]
    assert len(said) == 1 and said[0].endswith(LOST_MARK), said
    heard = said[0].removesuffix(LOST_MARK)
    assert heard.startswith("An egg takes about seven minutes,") and answer.startswith(heard)
    assert len(heard) < len(answer)  # what was heard, not all that was written


def test_an_answers_last_progress_is_what_resumes_unless_its_turn_record_came(tmp_path):
    """Progress records supersede one another, and the turn record supersedes them, in
    whatever order they were written (they are written on the log's own thread). One that
    says the whole answer was heard resumes it uncut; the person sees the cut one cut."""
    from voicedesk.engine.context import LOST_MARK

    log_file = _write_log(
        tmp_path / "s.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Tell me about tides."},
            {"type": "progress", "turn_id": 1, "heard_text": "The moon"},
            {"type": "turn", "turn_id": 1, "heard_text": "The moon pulls.", "interrupted": False},
            {"type": "progress", "turn_id": 1, "heard_text": "The moon pulls,"},  # late
            {"type": "user", "turn_id": 2, "text": "And the sun?"},
            {"type": "progress", "turn_id": 2, "heard_text": "It pulls"},
            {"type": "progress", "turn_id": 2, "heard_text": "It pulls too, but less."},
            {"type": "user", "turn_id": 3, "text": "Thanks."},
            {"type": "progress", "turn_id": 3, "heard_text": "Any time.", "whole": True},
            {"type": "user", "turn_id": 4, "text": "One more."},
        ],
    )
    snapshot, _ = restore_state(log_file)
    answers = [[m["content"] for m in t["messages"][1:]] for t in snapshot["turns"]]
    assert answers == [
        ["The moon pulls."],
        ["It pulls too, but less." + LOST_MARK],
        ["Any time."],
        [],  # nothing heard of it: the person's words alone, as before
    ]
    from voicedesk.engine.resume import earlier_turns

    shown = earlier_turns(log_file).turns
    assert [(t.heard_text, t.interrupted) for t in shown] == [
        ("The moon pulls.", False),
        ("It pulls too, but less.", True),
        ("Any time.", False),
        (None, False),
    ]


def _run_a_slow_create(tmp_path: Path, *, patience_s: float) -> tuple[subprocess.Popen, Path]:
    """`run --headless --sim` in its own process, asked a question whose answer creates a
    document with a create that takes 30 s; (the process, where its session logs go)."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["VOICEDESK_TOOLS__WORKSPACE"] = str(workspace)
    env["VOICEDESK_TOOLS__TOOL_PATIENCE_S"] = str(patience_s)
    env["VOICEDESK_TOOLS__DOCS_SERVER_ARGS"] = json.dumps(["--slow", "create_document=30"])
    env.pop("VOICEDESK_CONFIG", None)
    inp = tmp_path / "in.wav"
    compose(["question"], gaps_s=1.0, tail_s=30.0).write(inp)
    create = {"name": "docs__create_document", "arguments": {"path": "eggs.md", "content": "7"}}
    turn = {"transcript": load_utterance("question")[1], "reply": "Done.", "tool_calls": [create]}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"turns": [turn]}))
    argv = ["run", "--headless", "--sim", "--input", str(inp), "--sim-script", str(script)]
    argv += ["--sim-ttft", "0.2", "--sim-ttfb", "0.1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return proc, tmp_path / "data" / "voicedesk" / "sessions"


def test_a_tool_still_running_in_the_background_when_killed_is_resumed_as_called(tmp_path):
    """A tool slower than the patience goes on in the background, and its call and results
    were logged only when its answer came, at a quiet moment: a process killed before then
    (or quit: its task is cancelled) kept the holding line ("I'm working on that") and no
    trace of the call, and the resumed model did not know what it had set going, nor that
    it might have been done. The call is logged as it goes to the background now, and
    resumed in its turn with a result that says it never came."""
    from voicedesk.engine.resume import NO_RESULT

    proc, sessions = _run_a_slow_create(tmp_path, patience_s=1)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _turn_records(sessions):
            time.sleep(0.1)  # the holding line has been said; the tool runs on
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    (said,) = _turn_records(sessions)
    assert "working on that" in said["heard_text"]
    snapshot, _ = restore_state(next(sessions.glob("*.jsonl")))
    messages = [m for t in snapshot["turns"] for m in t["messages"]]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "docs__create_document"
    assert messages[2] == {
        "role": "tool",
        "tool_call_id": messages[1]["tool_calls"][0]["id"],
        "content": NO_RESULT,
    }
    assert "working on that" in messages[3]["content"]


def test_a_tool_killed_before_its_result_is_resumed_as_called(tmp_path):
    """A call that writes runs in the foreground for up to tools.tool_patience_s, and was
    logged only with its result: killed before it came, the log held the question alone,
    though the tool may have done what it was asked. The call is logged as it starts."""
    from voicedesk.engine.resume import NO_RESULT

    proc, sessions = _run_a_slow_create(tmp_path, patience_s=40)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _log_records(sessions, "user"):
            time.sleep(0.1)
        running = time.monotonic() + 8.0  # the tool has begun its 30 s
        while time.monotonic() < running and not _log_records(sessions, "pending_tools"):
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert _log_records(sessions, "user"), proc.stderr.read().decode() if proc.stderr else ""
    snapshot, _ = restore_state(next(sessions.glob("*.jsonl")))
    messages = [m for t in snapshot["turns"] for m in t["messages"]]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["function"]["name"] == "docs__create_document"
    assert messages[2]["content"] == NO_RESULT


def test_background_results_no_answer_took_up_are_resumed_in_the_turn_that_called(tmp_path):
    """Results that came while the person was talking wait for a quiet moment to be
    answered; quit or killed before it, they are resumed in the turn that called them. Once
    a follow-up answered them they are resumed there alone, as the live conversation had
    them; a job the person cancelled is resumed with what it had done."""
    from voicedesk.engine.tool_jobs import CANCELLED_RESULT

    def background(turn_id: int, *messages: dict) -> dict:
        return {"type": "pending_tools", "turn_id": turn_id, "messages": list(messages)}

    def holding(turn_id: int) -> dict:
        heard = "I'm working on that."
        return {"type": "turn", "turn_id": turn_id, "heard_text": heard, "interrupted": False}

    log_file = _write_log(
        tmp_path / "s.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Read the memo."},
            background(1, _call_message("a")),
            holding(1),
            background(1, _call_message("a"), _tool_result("a", "42")),
            {
                "type": "tools",
                "turn_id": 2,
                "messages": [_call_message("a"), _tool_result("a", "42")],
            },
            {"type": "turn", "turn_id": 2, "heard_text": "It says 42.", "interrupted": False},
            {"type": "user", "turn_id": 3, "text": "And the plan?"},
            background(3, _call_message("b")),
            holding(3),
            background(3, _call_message("b"), _tool_result("b", "Q3")),
            {"type": "user", "turn_id": 4, "text": "Never mind, and the notes?"},
            background(4, _call_message("c")),
            holding(4),
            background(4, _call_message("c"), _tool_result("c", CANCELLED_RESULT)),
        ],
    )
    snapshot, _ = restore_state(log_file)
    turns = {t["turn_id"]: t["messages"] for t in snapshot["turns"]}
    assert [m["role"] for m in turns[1]] == ["user", "assistant"]  # answered in turn 2
    assert turns[2][1] == _tool_result("a", "42")
    assert turns[3][1:3] == [_call_message("b"), _tool_result("b", "Q3")]
    assert turns[3][3]["content"] == "I'm working on that."
    assert turns[4][2] == _tool_result("c", CANCELLED_RESULT)


def test_progress_records_that_carry_what_was_heard_since_the_last_are_joined(tmp_path):
    """A progress record carries what was heard since the one before it, from a place in
    the heard text (before its end when the estimate went back); they are joined. One that
    goes on from past what is known (the record before it was damaged) is not joined to
    it: what is known stands, cut off there."""
    from voicedesk.engine.context import LOST_MARK

    log_file = _write_log(
        tmp_path / "s.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Tell me about tides."},
            {"type": "progress", "turn_id": 1, "heard_at": 0, "heard_more": "The moon pulls,"},
            {"type": "progress", "turn_id": 1, "heard_at": 15, "heard_more": " twice a day."},
            {"type": "progress", "turn_id": 1, "heard_at": 14, "heard_more": "."},  # went back
            {"type": "user", "turn_id": 2, "text": "And the sun?"},
            {"type": "progress", "turn_id": 2, "heard_at": 0, "heard_more": "It pulls"},
            {"type": "progress", "turn_id": 2, "heard_at": 40, "heard_more": "less."},
            {"type": "user", "turn_id": 3, "text": "Thanks."},
            {"type": "progress", "turn_id": 3, "heard_at": 0, "heard_more": "Any"},
            {
                "type": "progress",
                "turn_id": 3,
                "heard_at": 3,
                "heard_more": " time.",
                "whole": True,
            },
        ],
    )
    snapshot, _ = restore_state(log_file)
    answers = [[m["content"] for m in t["messages"][1:]] for t in snapshot["turns"]]
    assert answers == [
        ["The moon pulls." + LOST_MARK],
        ["It pulls" + LOST_MARK],
        ["Any time."],
    ]


@pytest.mark.parametrize("how", ["push-to-talk", "muted"])
async def test_an_answer_heard_with_the_microphone_closed_is_logged_as_it_plays(
    tmp_path, monkeypatch, how
):
    """What has been heard of the playing answer was logged only while the microphone was
    listening: in push-to-talk, where an answer plays with the talk key up, and with the
    microphone muted, no progress record was written, and a process killed while the
    answer played resumed it as never said. It is logged whatever the microphone does."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.script import SimScript, SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    compose([], tail_s=4.0).write(tmp_path / "in.wav")
    asked = "How long does an egg take?"
    answer = "An egg takes about seven minutes, in water that is boiling, then cold water."
    script = SimScript(turns=[SimTurn(transcript=asked, reply=answer)])
    options = SimOptions(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=script)
    log_file = tmp_path / "session.jsonl"
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    if how == "push-to-talk":
        settings = Settings.model_validate({**settings.model_dump(), "turn": {"mode": how}})
    async with sim_server(options) as server:
        session = _session_on(server, settings, tmp_path, log_path=log_file)
        await session.start()
        try:
            if how == "muted":
                session.set_muted(True)
            await typed_and_answered(session, asked, 30)
        finally:
            await session.stop()
    session.log.flush_notes()
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    (ended,) = [r for r in records if r["type"] == "turn"]
    assert ended["heard_text"] == answer and not ended["interrupted"]
    progress = _heard_as_logged(records)
    assert progress and all(answer.startswith(heard) for heard in progress), progress


def _heard_as_logged(records: list[dict]) -> list[str]:
    """What each progress record says was heard, joined with the ones before it."""
    heard: list[str] = []
    for record in records:
        if record["type"] == "progress":
            before = heard[-1] if heard else ""
            heard.append(before[: record["heard_at"]] + record["heard_more"])
    return heard


async def test_an_answers_progress_records_grow_with_it_not_with_its_square(tmp_path, monkeypatch):
    """Each progress record repeated all that had been heard of the answer: a long answer
    wrote its text over and over (a 160-character one, 7 records of 669 bytes; a minute
    of speech, tens of kilobytes, each fsync'd). Each now carries only what was heard
    since the one before; joined, they are what was heard, and --resume reads them so."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.engine.resume import read_conversation
    from voicedesk.sim.script import SimScript, SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    compose([], tail_s=4.0).write(tmp_path / "in.wav")
    asked = "How do I boil an egg?"
    answer = " ".join(f"Step {n}: wait, then stir the water gently." for n in range(1, 9))
    script = SimScript(turns=[SimTurn(transcript=asked, reply=answer)])
    options = SimOptions(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=script)
    log_file = tmp_path / "session.jsonl"
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    async with sim_server(options) as server:
        session = _session_on(server, settings, tmp_path, log_path=log_file)
        await session.start()
        try:
            await typed_and_answered(session, asked, 60)
        finally:
            await session.stop()
    session.log.flush_notes()
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    progress = [r for r in records if r["type"] == "progress"]
    assert len(progress) > 5, progress  # a clause at a time
    assert sum(len(r["heard_more"]) for r in progress) <= len(answer), progress
    heard = _heard_as_logged(records)
    assert all(answer.startswith(h) for h in heard) and heard[-1] == answer, heard
    assert progress[-1].get("whole")
    lines = log_file.read_text().splitlines()
    no_turn_record = tmp_path / "killed.jsonl"  # as if killed before the turn record
    no_turn_record.write_text("".join(f"{line}\n" for line in lines if '"turn"' not in line))
    assert read_conversation(no_turn_record).answer(1)[:2] == (answer, None)


async def test_a_background_call_answered_in_a_follow_up_is_shown_once(tmp_path, monkeypatch):
    """A slow call goes on in the background and its result is answered in a follow-up
    turn, whose tools record holds it. The turn that called it has no tool messages, and
    the person's view of a resumed conversation fell back to its turn record's calls: the
    same call was shown twice, once "outcome not logged" under the question, once with its
    result under the follow-up (and twice in the Tools pane). It is shown once, with its
    result, where the log keeps it."""
    from voicedesk.engine.resume import earlier_turns

    session = await _memo_answered_in_a_follow_up(tmp_path, monkeypatch)
    called = [r.turn_id for r in session.records if r.tool_calls]
    assert called  # the question's record names the call it set going

    shown = earlier_turns(session.log.path).turns
    calls = [(t.turn_id, c) for t in shown for c in t.tool_calls]
    assert len(calls) == 1, calls
    ((_, call),) = calls
    assert call.name == "docs__read_document" and call.result is not None


def test_a_log_that_retracted_a_turn_no_later_turn_took_up_resumes_it(tmp_path):
    """Logs written before the retraction waited for the merged turn: the person went on
    over an answer taken back unheard, and quit before the merged turn's answer was
    confirmed. The question was retracted, nothing replaced it, and ``--resume`` lost it
    with the create its answer had made. A retraction stands only when a later turn took
    its words up."""
    call = _call_message("call_2", "docs__create_document", '{"path": "eggs.md"}')
    result = _tool_result("call_2", "Created eggs.md.")
    path = _write_log(
        tmp_path / "old.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "How long does it take to boil an egg?"},
            {"type": "pending_tools", "turn_id": 1, "messages": [call]},
            {"type": "retracted", "turn_id": 1},
            {"type": "tools", "turn_id": 1, "messages": [call, result]},
            # taken up: "And" lives on in turn 3
            {"type": "user", "turn_id": 2, "text": "And"},
            {"type": "retracted", "turn_id": 2},
            {"type": "user", "turn_id": 3, "text": "And a duck egg?"},
            {"type": "turn", "turn_id": 3, "heard_text": "Nine minutes."},
        ],
    )
    snapshot, last = restore_state(path)
    turns = {t["turn_id"]: t["messages"] for t in snapshot["turns"]}
    assert sorted(turns) == [1, 3] and last == 3
    assert turns[1] == [
        {"role": "user", "content": "How long does it take to boil an egg?"},
        call,
        result,
    ]
    assert turns[3][0] == {"role": "user", "content": "And a duck egg?"}


def test_an_old_retraction_left_standing_is_not_taken_up_by_a_later_question(tmp_path):
    """An old log retracted "What's the weather" and the person quit before the merged
    turn was confirmed: ``--resume`` gives the question back, and the resumed conversation
    has it. Later in that conversation (the same log) they ask "What's the weather in
    Paris?": a retraction that stood whenever any later turn began with the retracted
    words now stood, and the next ``--resume`` lost the first question, which the live
    conversation had. Only the turn the retraction was written beside can take it up."""
    records = [
        {"type": "user", "turn_id": 1, "text": "Stop."},
        {"type": "turn", "turn_id": 1, "heard_text": "Stopped."},
        {"type": "user", "turn_id": 2, "text": "What's the weather"},
        {"type": "retracted", "turn_id": 2},  # written as it was taken back (old logs)
        # quit here; --resume, and the conversation goes on in the same log
        {"type": "user", "turn_id": 3, "text": "Tell me a joke."},
        {"type": "turn", "turn_id": 3, "heard_text": "A pun walks into a bar."},
    ]
    path = _write_log(tmp_path / "old.jsonl", records)
    first, _ = restore_state(path)
    assert [t["turn_id"] for t in first["turns"]] == [1, 2, 3]
    _write_log(
        path,
        [
            *records,
            {"type": "user", "turn_id": 4, "text": "What's the weather in Paris?"},
            {"type": "turn", "turn_id": 4, "heard_text": "Sunny."},
            {"type": "user", "turn_id": 5, "text": "Stop the music."},
            {"type": "turn", "turn_id": 5, "heard_text": "Done."},
        ],
    )
    again, _ = restore_state(path)
    assert [t["turn_id"] for t in again["turns"]] == [1, 2, 3, 4, 5]


def test_a_retraction_stands_beside_the_turn_that_took_it_up(tmp_path):
    """Both ways a retraction was written: with the merged turn's words (now: after
    them, in one write) and as it was taken back (older logs: before them)."""
    path = _write_log(
        tmp_path / "both.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "What's the weather"},
            {"type": "user", "turn_id": 2, "text": "What's the weather in Paris?"},
            {"type": "retracted", "turn_id": 1},
            {"type": "turn", "turn_id": 2, "heard_text": "Sunny."},
            {"type": "user", "turn_id": 3, "text": "And"},
            {"type": "retracted", "turn_id": 3},
            {"type": "user", "turn_id": 4, "text": "And tomorrow?"},
            {"type": "turn", "turn_id": 4, "heard_text": "Rain."},
        ],
    )
    snapshot, _ = restore_state(path)
    assert [t["turn_id"] for t in snapshot["turns"]] == [2, 4]


async def test_a_session_log_the_disk_filled_mid_conversation_is_shown_once(
    tmp_path, small_drive, fill_drive
):
    """The disk holding the session log filled up mid-conversation: the warning went to
    logging alone, which the terminal UI sends to its log file, so the person was never
    told that the rest of the conversation went unrecorded. It is a notice now (shown by
    the terminal UI, printed once by a headless run), and the conversation goes on."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.script import SimScript, SimTurn

    compose([], tail_s=3.0).write(tmp_path / "in.wav")
    # the second, pasted text, is longer than the page of the disk the first began
    asked = ["How do I boil an egg?", "And a soft one? " + "Soft. " * 1000, "Thanks."]
    script = SimScript(
        turns=[SimTurn(transcript=a, reply=f"Answer {n}.") for n, a in enumerate(asked)]
    )
    options = SimOptions(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=script)
    log_file = small_drive / "session.jsonl"
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    async with sim_server(options) as server:
        session = _session_on(server, settings, tmp_path, log_path=log_file)
        notices: list[ev.Notice] = []
        session.bus.subscribe(lambda e: notices.append(e) if isinstance(e, ev.Notice) else None)
        await session.start()
        try:
            for n, words in enumerate(asked):
                if n == 1:
                    session.log.flush_notes()
                    fill_drive(small_drive)
                await typed_and_answered(session, words, 30)
            await asyncio.sleep(0.1)  # a notice handed over from the log's thread
        finally:
            await session.stop()
    assert [r.heard_text for r in session.records] == ["Answer 0.", "Answer 1.", "Answer 2."]
    said = [n.message for n in notices if "session log" in n.message]
    assert len(said) == 1, [n.message for n in notices]
    assert "cannot be written" in said[0] and "--resume continues it up to here" in said[0]
    snapshot, _ = restore_state(log_file)
    assert snapshot["turns"][0]["messages"][0]["content"] == asked[0]


async def test_a_resumed_log_the_disk_filled_is_not_said_to_be_lost(
    tmp_path, small_drive, fill_drive
):
    """A conversation resumed on a disk that then filled up: the first record of the
    resumed part failed, and the notice said "--resume cannot continue it", judging by
    what this run had written (nothing), though the log holds the whole conversation so
    far and --resume continues it. The notice says so now, and --resume does."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.script import SimScript, SimTurn

    compose([], tail_s=3.0).write(tmp_path / "in.wav")
    asked = ["How do I boil an egg?", "And a soft one? " + "Soft. " * 1000]
    script = SimScript(
        turns=[SimTurn(transcript=a, reply=f"Answer {n}.") for n, a in enumerate(asked)]
    )
    options = SimOptions(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=script)
    log_file = small_drive / "session.jsonl"
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    notices: list[ev.Notice] = []
    async with sim_server(options) as server:
        for n, words in enumerate(asked):  # the first run, then the resumed one
            session = _session_on(server, settings, tmp_path, log_path=log_file, resume=n == 1)
            session.bus.subscribe(lambda e: notices.append(e) if isinstance(e, ev.Notice) else None)
            await session.start()
            try:
                if n == 1:
                    fill_drive(small_drive)
                await typed_and_answered(session, words, 30)
                await asyncio.sleep(0.1)  # a notice handed over from the log's thread
            finally:
                await session.stop()
            session.log.close()
    said = [n.message for n in notices if "session log" in n.message]
    assert len(said) == 1, [n.message for n in notices]
    assert "cannot continue it" not in said[0], said[0]
    assert "--resume continues it up to here" in said[0], said[0]
    snapshot, _ = restore_state(log_file)
    assert snapshot["turns"][0]["messages"][0]["content"] == asked[0]


def _open_files() -> set[str]:
    """The paths this process holds open (Linux's /proc), to see what a session leaves."""
    fds = Path("/proc/self/fd")
    out = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            out.add(os.readlink(fd))
    return out


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads Linux's /proc")
async def test_a_stopped_session_leaves_its_log_closed_and_on_the_disk(tmp_path):
    """Session.stop never closed the session log: each conversation a process held (a
    benchmark runs dozens, the terminal UI one per --resume) kept its file open for good,
    and its last records' fsync was never waited for."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.script import SimScript, SimTurn

    compose([], tail_s=1.0).write(tmp_path / "in.wav")
    script = SimScript(turns=[SimTurn(transcript="Hello there.", reply="Hi.")])
    options = SimOptions(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=script)
    log_file = tmp_path / "session.jsonl"
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    async with sim_server(options) as server:
        session = _session_on(server, settings, tmp_path, log_path=log_file)
        await session.start()
        try:
            await typed_and_answered(session, "Hello there.", 30)
            assert str(log_file) in _open_files()
        finally:
            await session.stop()
    assert str(log_file) not in _open_files()
    assert not session.log._unsynced
    snapshot, _ = restore_state(log_file)
    assert snapshot["turns"][0]["messages"][0]["content"] == "Hello there."


async def test_a_backlog_left_by_a_killed_summary_is_folded_as_the_session_resumes(
    tmp_path, monkeypatch
):
    """Killed mid-summary, a long conversation resumed with its unfolded turns in the
    window, and they were folded only once the first new turn had ended: that turn's
    request carried them all (a prompt twice the size, a slower first token). The fold
    now starts in the background as the session starts; the first answer does not wait
    for it, and a turn that ends while it runs is not folded under it."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import _is_summary

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    compose([], tail_s=4.0).write(tmp_path / "in.wav")
    facts = [f"The person keeps item {n} in drawer {n * 7}." for n in range(1, 21)]
    log_file = _write_log(
        tmp_path / "earlier.sim.jsonl",
        [
            *(
                {"type": k, "turn_id": n, **v}
                for n, fact in enumerate(facts, 1)
                for k, v in (("user", {"text": fact}), ("turn", {"heard_text": "Noted."}))
            ),
            # no summary record: the process was killed while the summary was being made
        ],
    )
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    options = SimOptions(
        ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=SimScript(default_reply="Noted.")
    )
    async with sim_server(options) as server:
        session = _session_on(
            server, settings, tmp_path, log_kind="sim", resume=True, log_path=log_file
        )
        assert len(session.context.turns) == 20  # the backlog, all in the window
        await session.start()
        try:
            # no turn yet: the backlog is folded on its own (the limit only catches "never")
            await asyncio.wait_for(_summary_asked(server, _is_summary), 20)
            await asyncio.wait_for(session.context.wait_summary(), 20)
            await typed_and_answered(session, "Where is item 3?")
            await asyncio.wait_for(session.context.wait_summary(), 20)
        finally:
            await session.stop()
        requests = [b["messages"] for b in server.chat_requests()]
    answers = [r for r in requests if not _is_summary(r)]
    [first] = answers
    # the first turn's request went out with the window, not the twenty turns of the backlog
    assert requests.index(first) > 0 and _is_summary(requests[0])
    window = session.settings.context.window_turns
    assert sum(m["role"] == "user" for m in first) <= window + 1
    # folded, not lost: the summary has every fact the window no longer holds
    kept = {m["content"] for m in first if m["role"] == "user"}
    for fact in facts:
        assert fact in kept or fact in session.context.summary
    # and the new turn is in the window, not folded
    assert session.context.turns[-1].messages[0]["content"] == "Where is item 3?"


async def test_the_first_answer_after_resume_does_not_wait_for_the_backlog_s_fold(
    tmp_path, monkeypatch
):
    """The fold started as the session resumes is housekeeping: a summary request that
    hangs (a stalled server) holds up no answer, and the turn answered meanwhile stays in
    the window, out of the fold already under way."""
    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import _is_summary

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    compose([], tail_s=4.0).write(tmp_path / "in.wav")
    log_file = _write_log(
        tmp_path / "earlier.sim.jsonl",
        [
            {"type": k, "turn_id": n, **v}
            for n in range(1, 21)
            for k, v in (("user", {"text": f"Item {n}?"}), ("turn", {"heard_text": "Noted."}))
        ],
    )
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    options = SimOptions(
        ttft_s=0.05, ttfb_s=0.05, stt_s=0.05, script=SimScript(default_reply="Noted.")
    )
    async with sim_server(options) as server:
        server.inject("llm", "stall")  # the first chat request, the fold's, never answers
        session = _session_on(
            server, settings, tmp_path, log_kind="sim", resume=True, log_path=log_file
        )
        await session.start()
        try:
            await asyncio.wait_for(_summary_asked(server, _is_summary), 20)
            await typed_and_answered(session, "Where is item 3?")
            answered = [r for r in session.records if r.turn_id == 21]
            turns = [t.turn_id for t in session.context.turns]
        finally:
            await session.stop()
    assert answered and answered[0].heard_text == "Noted."
    assert turns == list(range(1, 22))  # nothing folded yet, nothing lost


async def _summary_asked(server, is_summary) -> None:
    while not any(is_summary(b["messages"]) for b in server.chat_requests()):
        await asyncio.sleep(0.05)


def test_a_log_whose_every_word_is_damaged_is_refused_with_the_line_to_mend(tmp_path):
    """Its only user line's turn_id was "x": resumed "up to turn 0", the person's words
    gone, and the warning naming no line."""
    from voicedesk.errors import UserError

    log_file = _write_log(
        tmp_path / "edited.jsonl",
        [
            {"type": "user", "turn_id": "x", "text": "Where is order 111?"},
            {"type": "turn", "turn_id": 1, "heard_text": "On dock one."},
        ],
    )
    with pytest.raises(UserError) as refused:
        _resume_from(tmp_path, log_file)
    said = str(refused.value)
    assert "holds nothing that can be resumed" in said
    assert "line 1 (turn_id 'x' is not a turn number" in said
    assert "without --resume" in said  # the fix
    # refused before it was held for good: the mended log resumes
    _write_log(
        log_file,
        [
            {"type": "user", "turn_id": 1, "text": "Where is order 111?"},
            {"type": "turn", "turn_id": 1, "heard_text": "On dock one."},
        ],
    )
    session, _ = _resume_from(tmp_path, log_file)
    assert [t.turn_id for t in session.context.turns] == [1]
    session.log.close()


def test_records_of_no_kind_voicedesk_writes_are_named_by_their_line(tmp_path):
    """An "assistant" record with a number as its text, a user line with no turn_id (it
    was taken as turn 0) and a turn record whose assistant_text was a number passed as
    sound; the notice named no line."""
    log_file = _write_log(
        tmp_path / "edited.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Where is order 111?"},
            {"type": "assistant", "turn_id": 1, "text": 5},
            {"type": "turn", "turn_id": 1, "heard_text": "On dock one.", "assistant_text": 5},
            {"type": "user", "text": "And order 112?"},
            {"type": "user", "turn_id": 0, "text": "And order 113?"},
            {"type": "user", "turn_id": 2, "text": "And order 114?"},
        ],
    )
    session, notices = _resume_from(tmp_path, log_file)
    session.log.close()
    (notice,) = [e for e in notices if isinstance(e, ev.Notice)]
    assert notice.level == "warning"
    assert "4 damaged records of it left out, 2 things you said among them" in notice.message
    assert "line 2 (its type 'assistant' is not one voicedesk writes)" in notice.message
    assert "line 3 (its assistant_text is not text)" in notice.message
    assert "line 4 (it has no turn_id)" in notice.message
    assert "and 1 more" in notice.message  # line 5's turn 0
    assert [t.turn_id for t in session.context.turns] == [1, 2]


def test_a_log_with_the_older_background_tools_records_resumes_them_undamaged(tmp_path):
    """For a while (43c550b..3e9206a) voicedesk logged a background call as a
    ``background_tools`` record, what ``pending_tools`` is now: such a log was called
    damaged ("its type 'background_tools' is not one voicedesk writes") and the call
    left out of the turn that made it."""
    call = _call_message("a")
    answer = _tool_result("a", "It asks for 42 euros.")
    log_file = _write_log(
        tmp_path / "older.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Read the memo."},
            {"type": "background_tools", "turn_id": 1, "messages": [call]},
            {"type": "turn", "turn_id": 1, "heard_text": "I'm working on that."},
            {"type": "background_tools", "turn_id": 1, "messages": [call, answer]},
        ],
    )
    session, notices = _resume_from(tmp_path, log_file)
    session.log.close()
    assert not [e for e in notices if isinstance(e, ev.Notice) and "damaged" in e.message]
    snapshot, _ = restore_state(log_file)
    (turn,) = snapshot["turns"]
    assert turn["messages"][1:3] == [call, answer]  # resumed in the turn that called it


def test_a_record_whose_type_is_a_list_is_named_as_damaged(tmp_path):
    """A hand edit's ``"type": ["user"]`` ended --resume in a traceback (TypeError:
    unhashable type: 'list'), where any other wrong type is a damaged line named."""
    log_file = _write_log(
        tmp_path / "edited.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Where is order 111?"},
            {"type": ["user"], "turn_id": 2, "text": "And order 112?"},
            {"type": {"user": 1}, "turn_id": 3, "text": "And order 113?"},
        ],
    )
    session, notices = _resume_from(tmp_path, log_file)
    session.log.close()
    (notice,) = [e for e in notices if isinstance(e, ev.Notice)]
    assert "line 2 (its type ['user'] is not one voicedesk writes)" in notice.message
    assert "line 3 (its type {'user': 1} is not one voicedesk writes)" in notice.message
    assert [t.turn_id for t in session.context.turns] == [1]


async def test_a_picture_a_tool_returned_is_resumed_as_the_person_was_shown_it(
    tmp_path, monkeypatch
):
    """A tool answered with an image: the person was shown "[image, image/png, 35 kB]",
    and after --resume the same call read the model's note ("…neither you nor the person
    can see it"): the log kept only the model's text. It keeps what the person was shown
    beside it now; a log written before that still resumes, with the model's text."""
    from mcp_servers import PICTURE_SERVER, one_server_settings

    from voicedesk.engine.resume import earlier_turns
    from voicedesk.sim.script import SimScript, SimToolCall, SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    asked = "Draw me the chart."
    chart = SimToolCall(name="pictures__chart", arguments={})
    script = SimScript(turns=[SimTurn(transcript=asked, tool_calls=[chart], reply="There.")])
    settings = one_server_settings(tmp_path, "pictures", PICTURE_SERVER)
    session = await typed_over_sim(tmp_path, settings, script, [asked], with_tools=True)
    assert [r.heard_text for r in session.records] == ["There."]
    model_saw = "neither you nor the person can see it"
    live = session.context.snapshot()["turns"]
    assert model_saw in json.dumps(live)  # the model is told as before, resumed alike
    assert restore_state(session.log.path)[0]["turns"] == live

    (turn,) = earlier_turns(session.log.path).turns
    (call,) = turn.tool_calls
    assert call.name == "pictures__chart"
    assert call.result == "[image, image/png, 35 kB]"

    # a log written before the field: the model's text, as it was shown then
    older = tmp_path / "older.jsonl"
    lines = []
    for line in session.log.path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        record.pop("shown_at", None)
        lines.append(json.dumps(record))
    older.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (turn,) = earlier_turns(older).turns
    assert model_saw in (turn.tool_calls[0].result or "")
    assert restore_state(older)[0]["turns"] == live


async def test_a_picture_of_a_call_dropped_by_never_mind_is_resumed_as_it_was_shown(
    tmp_path, monkeypatch
):
    """A picture call and a slow read go on in the background together; the picture
    comes (the person is shown "[image, image/png, 35 kB]"), then "never mind" drops them.
    After --resume the picture call read the model's note ("…neither you nor the person
    can see it"): what was shown was logged only with results an answer took up, never
    with a dropped call's. It is resumed as it was shown."""
    from mcp_servers import PICTURE_SERVER, one_server_settings
    from typed_sessions import session_over_sim

    from voicedesk.engine.resume import earlier_turns
    from voicedesk.sim.script import SimScript, SimToolCall, SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "memo.md").write_text("# Memo\n\nForty two.\n")
    asked = "Draw me the chart and read the memo."
    chart = SimToolCall(name="pictures__chart", arguments={})
    read = SimToolCall(name="docs__read_document", arguments={"path": "memo.md"})
    script = SimScript(
        turns=[
            SimTurn(transcript=asked, tool_calls=[chart, read], reply="There."),
            SimTurn(transcript="Never mind.", reply="Okay."),
        ]
    )
    settings = one_server_settings(
        tmp_path,
        "pictures",
        PICTURE_SERVER,
        docs=True,
        docs_server_args=["--slow", "read_document=30"],
        tool_patience_s=1.0,
    )
    shown: list[str] = []
    async with session_over_sim(tmp_path, settings, script, with_tools=True) as (_, session):
        session.bus.subscribe(
            lambda e: (
                shown.append(e.shown_text or e.result_text)
                if isinstance(e, ev.ToolCallFinished) and e.name == "pictures__chart"
                else None
            )
        )

        async def until(ready: Callable[[], object]) -> None:
            while not ready():
                await asyncio.sleep(0.1)

        await session.start()
        try:
            # both servers up (the limit catches only a hang)
            await asyncio.wait_for(until(lambda: len(session.tools.llm_tools()) >= 2), 60)
            await session.send_text(asked)
            # the picture in, the holding line said, the read still running
            await asyncio.wait_for(
                until(lambda: shown and session.records and session.records[0].went_background),
                30,
            )
            await session.send_text("Never mind.")
            await asyncio.sleep(0.2)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    assert shown == ["[image, image/png, 35 kB]"], shown  # live
    live = session.context.snapshot()["turns"]
    assert restore_state(session.log.path)[0]["turns"] == live
    calls = [c for t in earlier_turns(session.log.path).turns for c in t.tool_calls]
    (picture,) = [c for c in calls if c.name == "pictures__chart"]
    assert picture.result == "[image, image/png, 35 kB]", picture.result


def _round(call_id: str, name: str, content: str) -> list[dict]:
    """One tool round as the engine logs it: the model's call, then its result."""
    return [_call_message(call_id, name), _tool_result(call_id, content)]


@pytest.mark.parametrize(
    ("marks", "failed"),
    [
        ({"failed_at": [1]}, [True, False]),  # by place: the first round's call alone
        ({"failed": ["call_0"]}, [True, True]),  # a log written before: by id, as it was
        ({}, [None, None]),  # older still: nothing said
    ],
)
def test_a_failed_call_is_resumed_by_its_place_not_its_id(
    tmp_path: Path, marks: dict, failed: list
) -> None:
    """Two rounds of one answer from a server that numbers each answer's calls from
    call_0: the log said the failed calls by id, ``failed: ["call_0"]``, and both calls
    were resumed as failed (the second's result shown as an error). It says where the
    result is, ``failed_at``; a log that says ``failed`` still resumes as before."""
    from voicedesk.engine.resume import earlier_turns

    rounds = _round("call_0", "lookup", "Error executing tool lookup: no such order")
    rounds += _round("call_0", "lookup", "Order 112 is on dock two.")
    log_file = _write_log(
        tmp_path / "rounds.sim.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Where is order 111, or else 112?"},
            {"type": "tools", "turn_id": 1, "messages": rounds, **marks},
            {
                "type": "turn",
                "turn_id": 1,
                "assistant_text": "On dock two.",
                "heard_text": "On dock two.",
            },
        ],
    )
    (turn,) = earlier_turns(log_file).turns
    assert [c.failed for c in turn.tool_calls] == failed, turn.tool_calls
    results = [c.result for c in turn.tool_calls]
    assert results == [rounds[1]["content"], rounds[3]["content"]], results


@pytest.mark.parametrize(
    ("marks", "picture"),
    [
        ({"shown_at": {"1": "[image, image/png, 35 kB]"}}, [True, False]),  # by place
        ({"shown": {"call_0": "[image, image/png, 35 kB]"}}, [True, True]),  # by id, as before
        ({}, [False, False]),  # older still: the model's text
    ],
)
def test_what_was_shown_of_a_result_is_resumed_by_its_place_not_its_id(
    tmp_path: Path, marks: dict, picture: list
) -> None:
    """A picture in the first round of an answer, a read in the second, both call_0: the
    log said what was shown of the picture by call id, and the read was resumed as the
    picture too. It says where the result is, ``shown_at``; a log that says ``shown``
    still resumes as before."""
    from voicedesk.engine.resume import earlier_turns

    rounds = _round("call_0", "chart", "[image/png, 35 kB: neither you nor the person can see it]")
    rounds += _round("call_0", "lookup", "Order 112 is on dock two.")
    log_file = _write_log(
        tmp_path / "rounds.sim.jsonl",
        [
            {"type": "user", "turn_id": 1, "text": "Chart order 111, then find 112."},
            {"type": "tools", "turn_id": 1, "messages": rounds, **marks},
            {"type": "turn", "turn_id": 1, "assistant_text": "Done.", "heard_text": "Done."},
        ],
    )
    (turn,) = earlier_turns(log_file).turns
    results = [c.result for c in turn.tool_calls]
    texts = [rounds[1]["content"], rounds[3]["content"]]
    shown = "[image, image/png, 35 kB]"
    assert results == [shown if p else t for p, t in zip(picture, texts, strict=True)], results
