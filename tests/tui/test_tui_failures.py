"""Provider failures as the person sees them in the TUI, on the real session `voicedesk run
--sim` builds and the simulated cloud: said where the answer is, for good, live and when the
conversation is resumed."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    conversation,
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    started_fake,
    wait_until,
)
from test_typing_only import typing_only_app

from voicedesk import events as ev
from voicedesk.config import Settings, data_dir
from voicedesk.engine.context import FAILED_MARK
from voicedesk.engine.metrics import TurnRecord, answer_cut
from voicedesk.engine.resume import restore_state
from voicedesk.tui.widgets.conversation import LENGTH_NOTE, AssistantTurn, NoticeLine
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


async def test_an_answer_stopped_at_the_length_limit_says_so_live_and_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model stopped the answer at llm.max_tokens, mid-sentence: a notice said so for
    five seconds, and then the pane showed an answer ending "… Sentence number 3 of" with
    nothing to tell it from a whole one, live and when resumed (the model's own history
    marks it cut off, as the printed conversation does). It is marked where it stops."""
    script = tmp_path / "script.toml"
    long_reply = " ".join(f"Sentence number {n} of a long answer." for n in range(40))
    script.write_text(
        f'[[turns]]\ntranscript = "Tell me a long story."\nreply = "{long_reply}"\n',
        encoding="utf-8",
    )
    settings = Settings.model_validate({"llm": {"max_tokens": 24}})
    run = {"settings": settings, "sim_script": script}
    async with typing_only_app(tmp_path, monkeypatch, **run) as (app, pilot):
        app.text_input.value = "Tell me a long story."
        await pilot.press("enter")
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records))
        record = timings.records[-1]
        assert record["reached_max_tokens"] and not record["error"]
        await pilot.pause()
        (answer,) = conversation(app).query(AssistantTurn)
        shown = answer.display_text
        assert shown.startswith("assistant › Sentence number 0") and LENGTH_NOTE in shown
        assert record["heard_text"].strip() in shown
        await pilot.press("ctrl+q")

    async with typing_only_app(tmp_path, monkeypatch, resume=True) as (again, pilot):
        (earlier,) = conversation(again).query(AssistantTurn)
        assert LENGTH_NOTE in earlier.display_text
        await pilot.press("ctrl+q")


async def test_a_capped_answer_is_marked_though_a_pause_of_its_turn_went_unheard(
    tmp_path: Path,
) -> None:
    """Speech-to-text failed on one pause of a turn and the next pause's words were
    answered, up to llm.max_tokens: the model's history marked that answer cut at the
    length limit, but the pane showed it as whole ("… Sentence number" and nothing after)
    and a resumed conversation's history lost the mark, as the turn record had an error.
    An error that did not cut the answer does not hide where the model stopped."""
    record = TurnRecord(turn_id=1, user_text="Tell me a long story.")
    record.error = "stt: speech-to-text timed out"  # the first pause's, as _commit keeps it
    record.assistant_text = record.heard_text = "Sentence number 0 of a long answer. Sentence"
    record.reached_max_tokens = True  # as _finish_turn writes it: capped, not failed
    line = record.to_json()
    assert answer_cut(line) == "length"  # what --resume and the printed conversation read
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        for event in (
            ev.TranscriptFinal(turn_id=1, text=record.user_text),
            ev.AssistantDelta(turn_id=1, text=record.assistant_text),
            ev.PlaybackEnded(
                turn_id=1, audio_s=3.0, interrupted=False, heard_text=record.heard_text
            ),
            ev.TurnMetrics(turn_id=1, record=line),
        ):
            app.bus.publish(event)
        await pilot.pause()
        (answer,) = conversation(app).query(AssistantTurn)
        assert answer.display_text == f"assistant › {record.heard_text}{LENGTH_NOTE}"
        await pilot.press("q")


def _notice_lines(app) -> list[str]:
    return [str(w.render()) for w in conversation(app).query(".notice-line")]


async def test_a_warning_stays_in_the_conversation_after_its_toast_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warnings and errors were toasts alone, gone after 5 or 10 s: a person who looked away
    at the start never read that the documents tools were off (nor, later, that the session
    log had stopped being written). They stay in the conversation now, and the opening
    hint stays beside them."""
    missing = tmp_path / "no-such-folder"
    settings = Settings.model_validate({"tools": {"workspace": str(missing)}})
    run = {"settings": settings, "no_tools": False}
    async with typing_only_app(tmp_path, monkeypatch, **run) as (app, pilot):

        def off() -> list[str]:
            return [n for n in _notice_lines(app) if "documents tools are off" in n]

        await wait_until(pilot, lambda: bool(off()))
        (line,) = off()
        assert line.startswith("⚠ The documents tools are off") and str(missing) in line
        assert app.query("#conversation-hint")
        await pilot.press("ctrl+q")


async def test_a_failed_answer_is_said_once_in_the_conversation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's own line is marked failed with the reason; the error notice about it
    is a toast, not a second line in the conversation saying the same."""
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    drop = [("llm", "500", 4)]
    async with typing_only_app(tmp_path, monkeypatch, settings=settings, sim_fault=drop) as (
        app,
        pilot,
    ):
        app.text_input.value = "Tell me about the sea."
        await pilot.press("enter")
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records))
        await pilot.pause()
        (answer,) = conversation(app).query(AssistantTurn)
        assert "✗" in answer.display_text
        assert not [n for n in _notice_lines(app) if "No answer" in n], _notice_lines(app)
        await pilot.press("ctrl+q")


async def test_a_failed_answer_keeps_what_fixes_it_after_the_toast_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed answer is said on its own line alone, not again as a line of the
    conversation; that line had the error but not what fixes it ("→ check the plan and
    billing of the account"), which only the toast said, gone after 10 s. The line says
    both."""
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    async with typing_only_app(
        tmp_path, monkeypatch, settings=settings, sim_fault=[("llm", "quota", 3)]
    ) as (app, pilot):
        app.text_input.value = "Tell me about the sea."
        await pilot.press("enter")
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records))
        await pilot.pause()
        (answer,) = conversation(app).query(AssistantTurn)
        assert "✗" in answer.display_text and "quota" in answer.display_text
        assert "→ check the plan and billing" in answer.display_text, answer.display_text
        assert not [n for n in _notice_lines(app) if "No answer" in n], _notice_lines(app)
        await pilot.press("ctrl+q")


async def test_a_tool_servers_terminal_codes_in_a_warning_are_not_sent_to_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool server that failed to start with its error in colour on stderr (Node's and
    many a logging library's) had that line quoted in its warning, escape codes and all,
    and the line kept in the conversation sent them to the terminal on every redraw
    (colours running into the screen, "ESC[2J" clearing it). Shown as symbols, as a tool
    card shows a result's."""
    import sys

    script = tmp_path / "coloured.py"
    script.write_text(
        "import sys\n"
        "sys.stderr.write('\\x1b[31mError\\x1b[0m: no token given\\x1b[2J\\n')\n"
        "sys.exit(1)\n"
    )
    tools = {
        "docs_server": False,
        "mcpServers": {"coloured": {"command": sys.executable, "args": [str(script)]}},
    }
    settings = Settings.model_validate({"tools": tools})
    run = {"settings": settings, "no_tools": False}
    async with typing_only_app(tmp_path, monkeypatch, **run) as (app, pilot):

        def said() -> list[NoticeLine]:
            lines = conversation(app).query(NoticeLine)
            return [line for line in lines if "coloured" in str(line.render())]

        await wait_until(pilot, lambda: bool(said()), timeout=20)
        await pilot.pause()
        (line,) = said()
        drawn = "".join(
            s.text for strip in line.render_lines(line.region.reset_offset) for s in strip
        )
        assert "␛[31mError␛[0m: no token" in drawn, drawn  # as a tool card shows codes
        assert "\x1b" not in drawn, repr(drawn)
        toasts = [n.message for n in app._notifications if "coloured" in n.message]
        assert toasts and all("\x1b" not in t for t in toasts), toasts
        await pilot.press("ctrl+q")
