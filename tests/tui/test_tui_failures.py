"""Provider failures as the person sees them in the TUI, on the real session `voicedesk run
--sim` builds and the simulated cloud: said where the answer is, for good, live and when the
conversation is resumed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    conversation,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    wait_until,
)
from test_typing_only import typing_only_app

from voicedesk.config import data_dir
from voicedesk.engine.context import FAILED_MARK
from voicedesk.engine.resume import restore_state
from voicedesk.tui.widgets.conversation import AssistantTurn
from voicedesk.tui.widgets.timings import TimingsPane


async def test_an_answer_a_failure_cut_off_is_marked_failed_live_and_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection dropped three words into the answer. With no speaker all that came
    was shown (with one, all of it can have been spoken), so the record's heard text equalled
    the answer's and the failure passed for a complete answer: the pane showed "Most of the"
    with no ✗ once the notice had gone, and ``--resume`` gave the model those three words as
    a whole answer and showed them so."""
    drop = [("llm", "drop", 3)]  # three, so a retry cannot get past it
    async with typing_only_app(tmp_path, monkeypatch, sim_fault=drop) as (app, pilot):
        app.text_input.value = "Tell me about the sea."
        await pilot.press("enter")
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records))
        record = timings.records[-1]
        assert record["error"] and record["heard_text"] == record["assistant_text"] != ""
        (answer,) = conversation(app).query(AssistantTurn)
        assert answer.display_text.startswith("assistant › Most of the")
        assert "✗" in answer.display_text
        await pilot.press("ctrl+q")

    (log,) = (data_dir() / "sessions").glob("*.sim.jsonl")
    snapshot, _ = restore_state(log)
    said = snapshot["turns"][-1]["messages"][-1]
    assert said == {"role": "assistant", "content": "Most of the" + FAILED_MARK}

    async with typing_only_app(tmp_path, monkeypatch, resume=True) as (again, pilot):
        (earlier,) = conversation(again).query(AssistantTurn)
        assert earlier.display_text.startswith("assistant › Most of the")
        assert "✗" in earlier.display_text
        await pilot.press("ctrl+q")
