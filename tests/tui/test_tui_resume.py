"""``voicedesk --resume`` in the TUI: the conversation pane shows the turns being continued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    ANSWER,
    QUESTION,
    conversation,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    silence_wav,  # noqa: F401  (module fixture: a WAV of silence)
    sim,  # noqa: F401  (fixture: the simulated cloud)
    sim_app,
    started,
    text_of,
    wait_until,
)
from test_typing_only import typing_only_app
from textual.widgets import OptionList, Static, TextArea

from voicedesk import events as ev
from voicedesk.config import data_dir
from voicedesk.sim.server import SimServer
from voicedesk.tui.screens import ToolDetailScreen
from voicedesk.tui.widgets.conversation import (
    CUT_MARKER,
    AssistantTurn,
    ToolCard,
    UserTurn,
    unanswered_note,
)

DIVIDER = "— resumed —"


def _earlier_log(path: Path) -> None:
    """55 turns: 1-40 summarised, 52 cut off, 53 merged into 54, 55 never answered."""
    records: list[dict] = []
    for n in range(1, 52):
        records.append({"type": "user", "turn_id": n, "text": f"Question {n}"})
        calls = [{"id": "c", "name": "find", "arguments": {"q": n}}] if n == 51 else []
        records.append(
            {"type": "turn", "turn_id": n, "heard_text": f"Answer {n}.", "tool_calls": calls}
        )
    records += [
        {"type": "summary", "summary": "Questions.", "folded_turn_ids": list(range(1, 41))},
        {"type": "user", "turn_id": 52, "text": "Tell me a story."},
        {
            "type": "turn",
            "turn_id": 52,
            "assistant_text": "Once upon a time there was a fox.",
            "heard_text": "Once upon a time",
            "interrupted": True,
        },
        {"type": "user", "turn_id": 53, "text": "And then"},
        {"type": "retracted", "turn_id": 53},
        {"type": "user", "turn_id": 54, "text": "And then what happened?"},
        {"type": "turn", "turn_id": 54, "heard_text": "The fox ran.", "interrupted": False},
        {"type": "user", "turn_id": 55, "text": "Was it fast?"},  # the process died here
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def _lines(widget: Static) -> str:
    if isinstance(widget, UserTurn | AssistantTurn):
        return f"{widget.__class__.__name__}:{text_of(widget)}"
    return text_of(widget)


async def test_resume_shows_the_earlier_turns_above_a_divider(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """`voicedesk --resume` restored the context but the pane showed only a notice: the
    person could not see what they were continuing."""
    _earlier_log(tmp_path / "session.jsonl")
    app = sim_app(sim.base_url, silence_wav, tmp_path, resume=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        pane = conversation(app)
        shown = [_lines(w) for w in pane.query(Static) if w.parent is pane]
        assert shown[0] == "… 4 earlier turns not shown"  # 50 of the 54 turns (53 merged)
        assert shown[1:3] == ["UserTurn:you › Question 5", "AssistantTurn:assistant › Answer 5."]
        summarised = shown.index("↑ 40 earlier turns summarised for the assistant")
        assert shown[summarised - 2 : summarised] == [
            "UserTurn:you › Question 40",
            "AssistantTurn:assistant › Answer 40.",
        ]
        assert shown.index("· find (q=51)") == shown.index("UserTurn:you › Question 51") + 1
        divider = shown.index(DIVIDER)
        assert shown[divider - 6 : divider] == [
            "UserTurn:you › Tell me a story.",
            f"AssistantTurn:assistant › Once upon a time{CUT_MARKER}there was a fox.",
            "UserTurn:you › And then what happened?",  # the merged turn once, not twice
            "AssistantTurn:assistant › The fox ran.",
            "UserTurn:you › Was it fast?",
            # no answer was heard, and nothing will answer it now: said as it is asked here
            unanswered_note("hands-free"),
        ]
        assert "UserTurn:you › And then" not in shown
        note = pane.query_one(".unanswered-note", Static)
        await pilot.press("m")  # muted, saying it asks nothing: the note says so
        await wait_until(pilot, lambda: "unmute" in text_of(note))
        assert text_of(note) == unanswered_note("muted")
        await pilot.press("m")
        await wait_until(pilot, lambda: text_of(note) == unanswered_note("hands-free"))
        assert all(card.status == "earlier" for card in pane.query(ToolCard))
        assert pane.query_one("#conversation-hint")  # still true of what comes next

        # the conversation goes on below the divider, under the next turn id
        app.text_input.value = QUESTION
        await pilot.press("t", "enter")
        await wait_until(pilot, lambda: any(ANSWER in a.text for a in pane.assistants.values()))
        children = [w for w in pane.children if isinstance(w, Static)]
        divider = next(i for i, w in enumerate(children) if text_of(w) == DIVIDER)
        assert [text_of(w) for w in children[divider + 1 :]] == [
            f"you › {QUESTION}",
            f"assistant › {ANSWER}",
        ]
        assert list(pane.users) == [56]
        await pilot.press("q")


async def test_resume_lists_the_earlier_tool_calls_in_the_tools_pane(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The conversation pane showed the earlier call's card while the Tools pane said "No
    tool calls yet." The log keeps no success or failure, so a call is marked "·" as in the
    card; its result shows where the log has it (it read "outcome not logged" all the same)."""
    log_file = tmp_path / "session.jsonl"
    _earlier_log(log_file)
    call = {"id": "call_9", "type": "function"}
    call["function"] = {"name": "read", "arguments": '{"path": "a.md"}'}
    read = [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_9", "content": "Alpha is the first letter."},
    ]
    with log_file.open("a") as fh:  # as the engine logs a tool round, for turn 51
        fh.write(json.dumps({"type": "tools", "turn_id": 51, "messages": read}) + "\n")
    app = sim_app(sim.base_url, silence_wav, tmp_path, resume=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        await wait_until(pilot, lambda: bool(app.tool_pane.calls))
        assert not app.tool_pane.query_one("#tools-empty").display
        options = app.tool_pane.query_one("#tool-list", OptionList)
        lines = ["".join(s.text for s in options.render_line(y)).rstrip() for y in range(3)]
        assert lines == ["· read earlier", "  path=a.md", "  Alpha is the first letter."]
        (info,) = app.tool_pane.calls.values()
        assert info.status == "earlier" and info.turn_id == 51

        # a call of this session follows it, with its own outcome
        app.bus.publish(ev.ToolCallStarted(turn_id=56, call_id="c", name="find", arguments={}))
        await pilot.pause()
        assert options.option_count == 2
        assert [i.status for i in app.tool_pane.calls.values()] == ["earlier", "running"]

        options.focus()
        options.highlighted = 0
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ToolDetailScreen)
        assert text_of(app.screen.query_one("#tool-status", Static)) == "Status: earlier session"
        result = app.screen.query_one("#tool-result", TextArea).text
        assert result == "Alpha is the first letter."
        await pilot.press("escape", "q")


async def test_resume_shows_the_context_it_continues_before_the_first_turn(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Resumed, the status bar said "ctx –" and the context screen (s) "Last prompt: 0 of
    6000 tokens" and "No summary yet: the whole conversation still fits", while the model
    had the earlier turns and their summary: both held only once a new turn was asked."""
    records: list[dict] = []
    for n in range(1, 31):
        records.append({"type": "user", "turn_id": n, "text": f"Question {n}"})
        records.append(
            {"type": "turn", "turn_id": n, "heard_text": f"Answer {n}.", "prompt_tokens": 900 + n}
        )
        if n == 20:
            summary = "The person's locker code is 4711."
            records.append({"type": "summary", "summary": summary, "folded_turn_ids": [1, 2]})
    (tmp_path / "session.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    app = sim_app(sim.base_url, silence_wav, tmp_path, resume=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        await pilot.pause()
        assert "ctx 930/" in text_of(app.status_bar.query_one("#status-context", Static))
        # its last question was answered: nothing says otherwise
        assert not conversation(app).query(".unanswered-note")
        await pilot.press("s")
        await pilot.pause()
        assert "930 of" in text_of(app.screen.query_one("#context-prompt", Static))
        assert "4711" in text_of(app.screen.query_one("#context-summary", Static))
        await pilot.press("q")


async def test_resume_of_a_question_never_answered_shows_no_prompt_size_of_zero(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Quit while the first answer was awaited, the log holds the question and no turn
    record, so no prompt size: resumed, the status bar said "ctx 0/6.0k" and the context
    screen (s) "Last prompt: 0 of 6000 tokens", as if the model had been sent nothing."""
    record = {"type": "user", "turn_id": 1, "text": "Tell me a long story please"}
    (tmp_path / "session.jsonl").write_text(json.dumps(record) + "\n")
    app = sim_app(sim.base_url, silence_wav, tmp_path, resume=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        await pilot.pause()
        assert text_of(app.status_bar.query_one("#status-context", Static)) == "ctx –"
        await pilot.press("s")
        await pilot.pause()
        prompt = text_of(app.screen.query_one("#context-prompt", Static))
        assert "not measured yet" in prompt and "0 of" not in prompt, prompt
        await pilot.press("q")


async def test_a_question_never_answered_says_how_to_ask_it_again_without_a_microphone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resumed on a machine with no microphone, the note under the question nothing
    answered said "say it, or press t to type it": there is nothing to say it into, and
    the text box already has the focus. It says to type it."""
    sessions = data_dir() / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    records = [
        {"type": "user", "turn_id": 1, "text": "Hello"},
        {"type": "turn", "turn_id": 1, "heard_text": "Hi there."},
        {"type": "user", "turn_id": 2, "text": "Was it fast?"},  # the app was quit here
    ]
    log = sessions / "20260101-000000.sim.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    async with typing_only_app(tmp_path, monkeypatch, resume=True) as (app, pilot):
        note = conversation(app).query_one(".unanswered-note", Static)
        await wait_until(pilot, lambda: text_of(note) == unanswered_note("typing"))
        assert "say it" not in text_of(note)
        await pilot.press("ctrl+q")


async def test_a_question_never_answered_says_hold_space_where_space_is_held(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """In push-to-talk the note under the question nothing answered said "press space and
    say it": where the terminal reports key releases space is held while talking, and a
    press let go of before a word was said sent nothing. It says "hold space" there, and
    "press space" where space is tapped."""
    from voicedesk.tui.keyboard import KeyReleaseSupport

    _earlier_log(tmp_path / "session.jsonl")
    app = sim_app(sim.base_url, silence_wav, tmp_path, resume=True)
    async with app.run_test(size=(100, 40)) as pilot:
        await started(pilot)
        note = conversation(app).query_one(".unanswered-note", Static)
        await pilot.press("h")  # push-to-talk, space tapped (no release reported yet)
        await wait_until(pilot, lambda: text_of(note) == unanswered_note("push-to-talk"))
        assert "press space" in text_of(note)
        app._driver.push_key_release = lambda flags: None  # type: ignore[union-attr]
        app.post_message(KeyReleaseSupport(25))  # the terminal reports releases: hold
        await wait_until(pilot, lambda: app.talk_mode == "hold")
        await wait_until(pilot, lambda: text_of(note) == unanswered_note("push-to-talk-hold"))
        assert "hold space while you say it" in text_of(note)
        await pilot.press("q")
