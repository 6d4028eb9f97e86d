"""The person talks over the assistant while its tools run: what the model is told of the
calls it made, live and after ``--resume``, must be the same, and never a call without a
result (OpenAI refuses a request with one)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_conversation_e2e import _run, on_sim_start

from voicedesk.bench.scenarios import compose, load_utterance
from voicedesk.config import Settings
from voicedesk.engine.context import ContextManager
from voicedesk.engine.resume import restore_state
from voicedesk.engine.tool_jobs import INTERRUPTED_RESULT
from voicedesk.sim.script import SimScript, SimToolCall, SimTurn


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch) -> None:
    """Session logs go under the test's tmp_path, never into the real user data dir."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def sims(monkeypatch) -> list:
    """The simulated cloud of the test's conversation, to read the requests it was sent."""
    servers: list = []
    on_sim_start(monkeypatch, servers.append)
    return servers


def _text(name: str) -> str:
    return load_utterance(name)[1]


def _turns_resumed(session: Any) -> list:
    """The turns ``--resume`` rebuilds from ``session``'s log: a test compares them with the
    live ones, as what was said and called must come back the same after a restart."""
    snapshot, _ = restore_state(session.log.path)
    resumed = ContextManager(session.settings, model=session.settings.llm.model)
    resumed.restore(snapshot)
    return resumed.snapshot()["turns"]


def _asked_mentioning(sim: Any, words: str) -> list[list[dict]]:
    """The messages of every chat request ``sim`` was sent that hold ``words`` anywhere:
    what the model was asked with once those words were in the conversation."""
    return [
        r["messages"]
        for r in sim.chat_requests()
        if any(words in str(m.get("content")) for m in r["messages"])
    ]


def _asked_after(sim: Any, words: str) -> list[list[dict]]:
    """The messages of every chat request ``sim`` was sent whose last message is ``words``:
    what the model was asked with to answer them."""
    return [r["messages"] for r in sim.chat_requests() if r["messages"][-1].get("content") == words]


def _slow_create_settings(tmp_path: Path, slow_s: float) -> Settings:
    """A workspace of its own, a create that takes ``slow_s``, waited for in the foreground."""
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    return Settings.model_validate(
        {
            "tools": {
                "workspace": str(workspace),
                "docs_server_args": ["--slow", f"create_document={slow_s:g}"],
                "tool_patience_s": 30.0,
            }
        }
    )


CREATE = SimToolCall(
    name="docs__create_document", arguments={"path": "eggs.md", "content": "Seven minutes."}
)


def _soft_boiled_over_a_create() -> tuple[Any, SimScript]:
    """The person asks 'How long…', whose answer makes a create first, and goes on ("Soft
    boiled, please.") 1.2 s into it, before a word of it is heard: the answer is taken back
    and the two are one turn. The recording and the sim's script, for the tests of that."""
    from test_conversation_e2e import _say, _spoken_over_the_answer

    scenario, _ = _spoken_over_the_answer(_say("Soft boiled, please."), gap_s=0, after_s=1.2)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), tool_calls=[CREATE], reply="Done."),
            SimTurn(transcript="Soft boiled, please.", reply="Seven minutes."),
        ]
    )
    return scenario, script


async def _words_over_a_background_create(
    tmp_path: Path,
    words: str,
    after_s: float,
    preamble: str = "",
    *,
    monkeypatch: pytest.MonkeyPatch | None = None,
):
    """'How long does it take…' → (``preamble``, then) a create that takes 4 s, past the
    1 s patience: it goes on in the background; ``after_s`` into the answer the person says
    ``words``, answered "Seven minutes.". What :func:`_run` returns. The three tests of
    words over a background call each wrote this conversation out. With ``monkeypatch``,
    ``after_s`` is seconds of the answer played, not of the clock (:func:`_say_when_played`)."""
    from test_conversation_e2e import _say, _spoken_over_the_answer

    if monkeypatch is None:
        scenario, _ = _spoken_over_the_answer(_say(words), gap_s=0, after_s=after_s)
    else:
        _say_when_played(monkeypatch, _say(words), heard_whole=False, played_s=after_s)
        scenario = compose(["question"], tail_s=14.0)
    script = SimScript(
        turns=[
            SimTurn(
                transcript=_text("question"),
                preamble=preamble,
                tool_calls=[CREATE],
                reply="Done.",
            ),
            SimTurn(transcript=words, reply="Seven minutes."),
        ]
    )
    settings = _slow_create_settings(tmp_path, 4)
    settings.tools.tool_patience_s = 1.0
    return await _run(tmp_path, scenario, script, settings, with_tools=True)


async def _words_said_as_the_create_goes_on(tmp_path: Path, monkeypatch, words: str):
    """:func:`_words_over_a_background_create`'s conversation, with ``words`` put in the
    microphone's audio when the create has begun (``ToolCallStarted``): to begin 0.2 s
    before its 1 s patience ends. So they begin after the question's turn was decided
    (sooner, they continue it), are transcribed after the create has gone to the
    background (sooner, they merge with the question's turn) and begin before its holding
    line can be heard, however late a loaded machine decides the question: placed at a
    fixed time after the question, they missed that window when its decision came late."""
    from test_conversation_e2e import _say

    from voicedesk import events as ev
    from voicedesk.audio import file_backend

    microphones: list[Any] = []
    made = file_backend.FileDuplex.__init__

    def keep(self: Any, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        self.mic = self.mic.copy()  # written to as the conversation goes on
        microphones.append(self)

    monkeypatch.setattr(file_backend.FileDuplex, "__init__", keep)
    speech = _say(words)

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.ToolCallStarted) and event.turn_id == 1:
            (mic,) = microphones
            at = (mic.blocks_done + 1) * mic.capture_block + int(0.8 * 16_000)
            mic.mic[at : at + speech.size] = speech

    scenario = compose(["question"], tail_s=14.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), tool_calls=[CREATE], reply="Done."),
            SimTurn(transcript=words, reply="Seven minutes."),
        ]
    )
    settings = _slow_create_settings(tmp_path, 4)
    settings.tools.tool_patience_s = 1.0
    return await _run(tmp_path, scenario, script, settings, with_tools=True, on_event=on_event)


def _say_when_played(
    monkeypatch: pytest.MonkeyPatch, speech: np.ndarray, *, heard_whole: bool, played_s: float = 1
) -> dict[str, int]:
    """Put ``speech`` in the microphone's audio by what the speaker played, not at a time:
    once the answer has played whole (``heard_whole``: audible, then silent for 0.5 s) or
    once ``played_s`` of it has played. ``["said"]`` of what it returns is the block the
    words begin at (0: never said). Placed at a fixed time after the question, they came
    before or after the part of the answer they are meant for when a loaded machine
    answered late."""
    from voicedesk.audio import file_backend
    from voicedesk.bench.latency import AUDIBLE

    made, keep = file_backend.FileDuplex.__init__, file_backend.FileDuplex._keep
    blocks = {"audible": 0, "quiet": 0, "said": 0}

    def writable(self: Any, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        self.mic = self.mic.copy()  # written to as the conversation goes on

    def keep_and_answer(self: Any, out: Any) -> None:
        """On the audio thread, after block ``blocks_done`` played: the words go in from
        the next block the microphone gives, so none of them is skipped."""
        keep(self, out)
        if blocks["said"]:
            return
        if int(np.abs(out.astype(np.int32)).max(initial=0)) > AUDIBLE:
            blocks["audible"] += 1
            blocks["quiet"] = 0
        elif blocks["audible"]:
            blocks["quiet"] += 1
        block_s = self.block_ms / 1000
        if heard_whole:
            ready = blocks["quiet"] * block_s >= 0.5
        else:
            ready = blocks["audible"] * block_s >= played_s
        if ready:
            at = (self.blocks_done + 1) * self.capture_block
            if at + speech.size > self.mic.size:  # the question's tail ran out first
                return
            self.mic[at : at + speech.size] = speech
            blocks["said"] = self.blocks_done + 1

    monkeypatch.setattr(file_backend.FileDuplex, "__init__", writable)
    monkeypatch.setattr(file_backend.FileDuplex, "_keep", keep_and_answer)
    return blocks


async def _create_cut_by_stop(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    preamble: str = "Let me write that down.",
    *,
    heard_whole: bool = True,
):
    """'How long does it take…' → ``preamble`` and a create that takes 6 s; the person says
    "Wait, stop, tell me something else instead." while it runs. The words are put in the
    microphone's audio by what the speaker played, not at a time: once the preamble has
    played whole (``heard_whole``: the answer audible, then silent for 0.5 s, as it stays
    till the create ends) or once 1 s of it has played (a long one is then heard in part).
    Said at a fixed 2.5 s after the question, they came when only "Let" had played on a
    loaded machine that answered late."""
    blocks = _say_when_played(monkeypatch, load_utterance("stop")[0], heard_whole=heard_whole)
    script = SimScript(
        turns=[
            SimTurn(
                transcript=_text("question"),
                preamble=preamble,
                tool_calls=[CREATE],
                reply="Done, it is in eggs.md.",
            ),
            SimTurn(transcript=_text("stop"), reply="Okay."),
        ]
    )
    scenario = compose(["question"], tail_s=14.0)
    session, _, _, _ = await _run(
        tmp_path, scenario, script, _slow_create_settings(tmp_path, 6), with_tools=True
    )
    assert blocks["said"], "the preamble never played (or never fell silent)"
    assert session.records[0].interrupted
    return session


async def test_a_tool_cut_by_a_barge_in_is_told_to_the_model_live_and_resumed_alike(
    tmp_path, monkeypatch
):
    """The cancelled call never reached the live model (only finished tool rounds were
    kept), while ``--resume`` gave it with "voicedesk stopped before this tool finished":
    the call is kept now, live and resumed alike, with a result that says the person
    broke in."""
    session = await _create_cut_by_stop(tmp_path, monkeypatch)
    live = session.context.snapshot()["turns"]
    asked = live[0]["messages"]
    assert [m["role"] for m in asked[:3]] == ["user", "assistant", "tool"]
    call = asked[1]["tool_calls"][0]
    assert call["function"]["name"] == "docs__create_document"
    assert asked[2] == {"role": "tool", "tool_call_id": call["id"], "content": INTERRUPTED_RESULT}
    assert [m for m in asked if m["role"] == "tool"] == [asked[2]]  # once

    assert _turns_resumed(session) == live


async def test_words_before_a_call_cut_by_a_barge_in_are_asked_once(tmp_path, sims, monkeypatch):
    """The person broke in on the create after "Let me write that down." was heard: the
    next request carried those words twice, with the call and again as the answer as heard
    ("Let me write that down. [cut off…]"), as if said twice and cut the second time. They
    are said once, with the call, and the answer is where it was cut, live and resumed."""
    from voicedesk.engine.context import CUT_MARK

    session = await _create_cut_by_stop(tmp_path, monkeypatch)
    assert session.records[0].heard_text.strip() == "Let me write that down."
    [asked] = _asked_after(sims[0], _text("stop"))[-1:]
    said = [m.get("content") or "" for m in asked if m["role"] == "assistant"]
    assert " ".join(said).count("Let me write that down.") == 1, said
    assert [m["role"] for m in asked[1:]] == ["user", "assistant", "tool", "assistant", "user"]
    assert asked[2]["content"] == "Let me write that down."
    assert asked[4] == {"role": "assistant", "content": CUT_MARK.strip()}

    live = session.context.snapshot()["turns"]
    assert _turns_resumed(session) == live


async def test_the_answer_to_words_over_a_running_tool_knows_the_call_it_cut(
    tmp_path, sims, monkeypatch
):
    """Words said while the answer was silent, running its tool, paused nothing: the answer
    was cut only as the answer to them was confirmed, and that one had been asked without
    it (the person's two questions, and nothing of what was said or called between). The
    answer is cut as the words come now, and the answer to them asked with the call and
    its result, once."""
    session = await _create_cut_by_stop(tmp_path, monkeypatch)
    call = session.context.snapshot()["turns"][0]["messages"][1]["tool_calls"][0]
    to_stop = [
        r for r in sims[0].chat_requests() if r["messages"][-1].get("content") == _text("stop")
    ]
    assert to_stop
    for request in to_stop:
        messages = request["messages"]
        ids = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
        assert ids == [call["id"]]
        assert [m["role"] for m in messages] == [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "user",
        ]
        assert "cut off" in messages[4]["content"]


def _call(call_id: str, name: str = "docs__read_document") -> dict:
    function = {"name": name, "arguments": "{}"}
    calls = [{"id": call_id, "type": "function", "function": function}]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def _result(call_id: str, text: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def test_a_call_id_used_again_after_a_resume_is_not_taken_for_the_earlier_call(tmp_path):
    """The sim numbers its calls from call_1 in every process (llama.cpp's server, and
    others, each in their own way): a resumed session's calls take the ids of the first
    run's. A first run killed while its create ran left the call unanswered (resumed with
    NO_RESULT); the resumed run's read, answered under the same id, was taken for it, and
    the next ``--resume`` lost the create: the model no longer knew it had made it."""
    from voicedesk.engine.resume import NO_RESULT

    def pending(turn_id: int, *messages: dict) -> dict:
        return {"type": "pending_tools", "turn_id": turn_id, "messages": list(messages)}

    create = _call("call_1", "docs__create_document")
    records = [
        {"type": "user", "turn_id": 1, "text": "Write it down."},
        pending(1, create),  # killed here; resumed:
        {"type": "user", "turn_id": 2, "text": "What does the memo say?"},
        # a read made before the turn was confirmed has no pending record
        {"type": "tools", "turn_id": 2, "messages": [_call("call_1"), _result("call_1", "42")]},
        {"type": "turn", "turn_id": 2, "heard_text": "It says 42.", "interrupted": False},
        {"type": "user", "turn_id": 3, "text": "And the plan?"},
        pending(3, _call("call_2")),
        {"type": "turn", "turn_id": 3, "heard_text": "I'm on it.", "interrupted": False},
        pending(3, _call("call_2"), _result("call_2", "Q3")),
        # killed again, resumed: the background read of turn 3 is answered in a follow-up
        {"type": "user", "turn_id": 4, "text": "Read the notes."},
        pending(4, _call("call_2")),
        {"type": "tools", "turn_id": 4, "messages": [_call("call_2"), _result("call_2", "N")]},
        {"type": "turn", "turn_id": 4, "heard_text": "Noted.", "interrupted": False},
    ]
    log_file = tmp_path / "s.jsonl"
    log_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    snapshot, _ = restore_state(log_file)
    turns = {t["turn_id"]: t["messages"] for t in snapshot["turns"]}
    assert turns[1] == [
        {"role": "user", "content": "Write it down."},
        create,
        _result("call_1", NO_RESULT),
    ]
    assert turns[2][1:3] == [_call("call_1"), _result("call_1", "42")]
    assert turns[3][1:3] == [_call("call_2"), _result("call_2", "Q3")]
    assert turns[4][1:3] == [_call("call_2"), _result("call_2", "N")]
    assert all(sum(m.get("role") == "tool" for m in messages) == 1 for messages in turns.values())


def test_a_call_dropped_after_its_turn_was_folded_is_resumed_as_it_was_told(tmp_path):
    """Live, a background create dropped by "never mind" after its turn was folded is kept
    as a turn of its own (``ContextManager.add_dropped_calls``): the summary had only the
    turn's holding line. ``--resume`` left it out with the folded turn, and the model
    resumed not knowing of a create that may have written the file; folded again after the
    drop, it is in the summary, and resumed there alone."""
    from voicedesk.engine.tool_jobs import CANCELLED_RESULT

    def pending(turn_id: int, *messages: dict) -> dict:
        return {"type": "pending_tools", "turn_id": turn_id, "messages": list(messages)}

    def summary(text: str, *folded: int) -> dict:
        return {"type": "summary", "summary": text, "folded_turn_ids": list(folded)}

    create = _call("call_1", "docs__create_document")
    records = [
        {"type": "user", "turn_id": 1, "text": "Write it down."},
        pending(1, create),  # it went on in the background
        {"type": "turn", "turn_id": 1, "heard_text": "I'm on it.", "interrupted": False},
    ]
    for i in (2, 3):
        records.append({"type": "user", "turn_id": i, "text": f"Question {i}?"})
        records.append({"type": "turn", "turn_id": i, "heard_text": "Yes.", "interrupted": False})
    records += [
        summary("The person asked to write it down.", 1),
        {"type": "user", "turn_id": 4, "text": "Never mind."},
        pending(1, create, _result("call_1", CANCELLED_RESULT)),  # dropped
        {"type": "turn", "turn_id": 4, "heard_text": "Okay.", "interrupted": False},
    ]
    log_file = tmp_path / "s.jsonl"
    log_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    snapshot, _ = restore_state(log_file)
    turns = [(t["turn_id"], t["messages"]) for t in snapshot["turns"]]
    assert turns[0] == (1, [create, _result("call_1", CANCELLED_RESULT)])
    assert [t for t, _ in turns] == [1, 2, 3, 4]
    # folded again since: the summary has it, and it is not told twice
    log_file.write_text(
        "".join(json.dumps(r) + "\n" for r in [*records, summary("… create dropped.", 1, 2)])
    )
    snapshot, _ = restore_state(log_file)
    assert [t["turn_id"] for t in snapshot["turns"]] == [3, 4]


def test_a_call_dropped_after_its_turn_was_folded_is_shown_with_what_came_of_it(tmp_path):
    """The conversation pane of a resumed conversation showed such a call from its turn
    record, "outcome not logged", though the log held what came of it (cancelled, or no
    result when voicedesk was killed), and the model had it."""
    from voicedesk.engine.resume import earlier_turns
    from voicedesk.engine.tool_jobs import CANCELLED_RESULT

    create = _call("call_1", "docs__create_document")
    called = {"id": "call_1", "name": "docs__create_document", "arguments": {}}
    heard = {"heard_text": "I'm on it.", "interrupted": False, "tool_calls": [called]}
    records = [
        {"type": "user", "turn_id": 1, "text": "Write it down."},
        {"type": "pending_tools", "turn_id": 1, "messages": [create]},  # went background
        {"type": "turn", "turn_id": 1, **heard},
        {"type": "user", "turn_id": 2, "text": "Question 2?"},
        {"type": "turn", "turn_id": 2, "heard_text": "Yes.", "interrupted": False},
        {"type": "summary", "summary": "Write it down.", "folded_turn_ids": [1]},
        {"type": "user", "turn_id": 3, "text": "Never mind."},
        {
            "type": "pending_tools",
            "turn_id": 1,
            "messages": [create, _result("call_1", CANCELLED_RESULT)],
        },
    ]
    log_file = tmp_path / "s.jsonl"
    log_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    (shown, *_) = earlier_turns(log_file).turns
    assert shown.summarised
    assert [(c.name, c.result) for c in shown.tool_calls] == [
        ("docs__create_document", CANCELLED_RESULT)
    ]


async def test_a_call_running_when_its_folded_turn_was_killed_is_resumed(tmp_path):
    """A create went on in the background; its turn was folded into the summary with its
    holding line alone (a running call is not in the conversation until its result is
    told); voicedesk was killed before the result came. ``--resume`` left the call out with
    the folded turn: the model went on not knowing it had called a create that may have
    written the file. The summary record names the calls its turns carried; one it did not
    is resumed as a turn of its own, its missing result said as such."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.engine.tool_jobs import NO_RESULT
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"window_turns": 2}})
    create = _call("call_1", "docs__create_document")
    read = _call("call_2")
    logged: list[dict] = []
    latency = SimLatency(ttft_s=0.0, tokens_per_s=0, stt_s=0.0, ttfb_s=0.0)
    async with SimServer(SimScript(), latency) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))
        ctx.on_summary = lambda summary, ids, count, calls, partly: logged.append(
            {"type": "summary", "summary": summary, "folded_turn_ids": ids, "folded_calls": calls}
        )
        try:
            ctx.add_user(1, "Write down seven minutes.")
            ctx.add_assistant(1, "I'm on it.")  # its create runs on in the background
            ctx.add_user(2, "And read the memo.")
            ctx.add_tool_exchange(2, [read, _result("call_2", "Forty two.")])
            ctx.add_assistant(2, "It says forty two.")
            for i in range(3, 5):
                ctx.add_user(i, f"Question {i}?")
                ctx.add_assistant(i, f"Answer {i}.")
            ctx.maybe_summarize()
            await ctx.wait_summary()
        finally:
            await llm.aclose()
    assert logged and logged[0]["folded_turn_ids"] == [1, 2]
    records = [
        {"type": "user", "turn_id": 1, "text": "Write down seven minutes."},
        {"type": "pending_tools", "turn_id": 1, "messages": [create]},  # went background
        {"type": "turn", "turn_id": 1, "heard_text": "I'm on it.", "interrupted": False},
        {"type": "user", "turn_id": 2, "text": "And read the memo."},
        {"type": "pending_tools", "turn_id": 2, "messages": [read]},
        {"type": "tools", "turn_id": 2, "messages": [read, _result("call_2", "Forty two.")]},
        {"type": "turn", "turn_id": 2, "heard_text": "It says forty two.", "interrupted": False},
    ]
    for i in range(3, 5):
        records.append({"type": "user", "turn_id": i, "text": f"Question {i}?"})
        records.append({"type": "turn", "turn_id": i, "heard_text": "Yes.", "interrupted": False})
    records += logged  # killed here, the create still running
    log_file = tmp_path / "s.jsonl"
    log_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    snapshot, _ = restore_state(log_file)
    turns = [(t["turn_id"], t["messages"]) for t in snapshot["turns"]]
    assert turns[0] == (1, [create, _result("call_1", NO_RESULT)])
    assert [t for t, _ in turns] == [1, 3, 4]  # the read of turn 2 is in the summary


async def test_a_call_folded_into_the_summary_keeps_its_name_and_arguments():
    """A turn folded into the summary was given to the summariser as its texts alone: a
    tool call has none, so the summary read "Tool result: [interrupted: …]" (or "Created
    eggs.md") of no tool in particular, and the facts that the model had called
    create_document on eggs.md, and that the person had stopped it, were lost with the
    turn. The summariser is given each call's name and arguments now."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"window_turns": 2}})
    call = _call("call_1", "docs__create_document")
    call["tool_calls"][0]["function"]["arguments"] = '{"path": "eggs.md"}'
    latency = SimLatency(ttft_s=0.0, tokens_per_s=0, stt_s=0.0, ttfb_s=0.0)
    async with SimServer(SimScript(), latency) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))
        try:
            ctx.add_user(1, "Write down seven minutes.")
            ctx.add_tool_exchange(1, [call, _result("call_1", INTERRUPTED_RESULT)])
            ctx.add_assistant(1, "Let me write that down.", cut="interrupted")
            for i in range(2, 5):
                ctx.add_user(i, f"Question {i}?")
                ctx.add_assistant(i, f"Answer {i}.")
            ctx.maybe_summarize()
            await ctx.wait_summary()
        finally:
            await llm.aclose()
    assert 1 not in [t.turn_id for t in ctx.turns]  # folded
    assert "docs__create_document" in ctx.summary and "eggs.md" in ctx.summary
    assert "interrupted" in ctx.summary


async def test_a_background_call_dropped_by_never_mind_is_told_live_as_on_resume(tmp_path):
    """A slow read goes on in the background; "never mind" drops it. ``--resume`` gave the
    model the call, with what came of it, in the turn that made it; the live model never
    had it, and answered "never mind" (and every turn after) not knowing of the call."""
    from test_conversation_e2e import _memo_script

    script = _memo_script(
        "The memo asks for forty two thousand euros.",
        SimTurn(transcript="Never mind, forget it.", reply="Okay."),
    )
    session, live = await _memo_read_then_never_mind(tmp_path, script)
    asked = live[0]["messages"]
    assert asked[1]["tool_calls"][0]["function"]["name"] == "docs__read_document"
    assert _turns_resumed(session) == live


async def _memo_read_then_never_mind(tmp_path, script: SimScript):
    """The memo asked for, its slow read sent to the background, then "never mind" (the
    second turn's words): the session and the turns of its context, the first checked to
    hold the question, the call, its result and the answer."""
    from test_conversation_e2e import _slow_memo_settings

    scenario = compose(["budget", "question"], gaps_s=[4.0], tail_s=4.0)
    session, _, _, _ = await _run(
        tmp_path, scenario, script, _slow_memo_settings(4), with_tools=True
    )
    live = session.context.snapshot()["turns"]
    roles = [m["role"] for m in live[0]["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    return session, live


async def test_words_said_before_a_dropped_call_are_in_the_history_once(tmp_path):
    """The slow read went to the background after "Let me look at the memo."; "never mind"
    dropped it. Live, the call joined its turn with those words, before the answer that
    began with them: the model read them twice, and ``--resume`` (which keeps them once,
    with the call) gave it another history than the live one."""
    read_memo = SimToolCall(name="docs__read_document", arguments={"path": "budget-memo.md"})
    script = SimScript(
        turns=[
            SimTurn(
                transcript=_text("budget"),
                preamble="Let me look at the memo.",
                tool_calls=[read_memo],
                reply="It asks for forty two thousand euros.",
            ),
            SimTurn(transcript="Never mind, forget it.", reply="Okay."),
        ]
    )
    session, live = await _memo_read_then_never_mind(tmp_path, script)
    asked = live[0]["messages"]
    assert asked[1]["content"] == "Let me look at the memo."
    assert "Let me look" not in asked[3]["content"]  # said once, with the call
    assert _turns_resumed(session) == live


async def test_never_mind_said_twice_drops_a_waiting_result_once(tmp_path):
    """A background read whose result waits for a quiet moment stays listed until its task
    looks again (50 ms): a second "never mind" in that time (a restarted answer's) dropped
    it again, and the call would join its turn twice."""
    import asyncio

    from voicedesk.providers.base import ToolCall

    dropped: list[tuple[int, list[dict]]] = []
    # the person is talking: the result waits
    manager, jobs, spawned = await _docs_jobs(tmp_path, slow_s=1, patience_s=0.1, dropped=dropped)
    try:
        call = ToolCall(id="call_1", name="docs__read_document", arguments='{"path": "memo.md"}')
        message = _call("call_1")
        assert await jobs.run(1, [call], message) is None  # gone to the background
        (job,) = jobs.jobs
        await asyncio.gather(*job.tasks)  # its result is in, waiting for a quiet moment
        jobs.cancel_if_asked("Never mind.")
        jobs.cancel_if_asked("Never mind, forget it.")
        await asyncio.gather(*spawned)
    finally:
        await manager.aclose()
    assert len(dropped) == 1
    turn_id, messages = dropped[0]
    assert turn_id == 1 and messages[0] == message
    assert messages[1]["tool_call_id"] == "call_1" and "Forty two" in messages[1]["content"]


async def test_what_was_shown_of_a_dropped_calls_result_is_not_kept(tmp_path):
    """A picture call and a slow read go to the background together; the picture comes
    ("[image, image/png, 35 kB]" shown), then "never mind" drops the job. What was shown
    of the picture was kept by the tool jobs for the rest of the session, logged nowhere
    (a dropped job's calls are never answered): it goes with the job."""
    import asyncio
    import sys

    from mcp_servers import PICTURE_SERVER

    from voicedesk.providers.base import ToolCall

    server_py = tmp_path / "pictures.py"
    server_py.write_text(PICTURE_SERVER)
    manager, jobs, spawned = await _docs_jobs(
        tmp_path,
        slow_s=30,
        patience_s=0.1,
        servers={"pictures": {"command": sys.executable, "args": [str(server_py)]}},
    )
    chart = ToolCall(id="chart_1", name="pictures__chart", arguments="{}")
    read = ToolCall(id="read_1", name="docs__read_document", arguments='{"path": "memo.md"}')
    message = _call("chart_1", "pictures__chart")
    message["tool_calls"].append(_call("read_1")["tool_calls"][0])
    try:
        assert await jobs.run(1, [chart, read], message) is None  # gone to the background
        (job,) = jobs.jobs
        came = await asyncio.wait_for(job.tasks[0], 60)  # the picture, while the read runs
        assert came["tool_call_id"] == "chart_1" and not job.tasks[1].done()
        jobs.cancel_if_asked("Never mind.")
        await asyncio.wait_for(asyncio.gather(*spawned), 60)
    finally:
        await manager.aclose()
    assert jobs.shown_of([_result("chart_1", came["content"])]) == {}


async def test_what_was_shown_of_a_picture_is_kept_by_its_own_result_not_its_id(tmp_path):
    """A picture call, then a read in the next round and a read in a later turn, all
    call_0 (as servers that number each answer's calls from call_0 send them): what was
    shown of the picture was kept by call id, so the round's record said both results
    were the picture, and the later turn's read, logged first, took it from the picture.
    Each result is kept itself, said by its place in the messages logged."""
    import sys

    from mcp_servers import PICTURE_SERVER

    from voicedesk.providers.base import ToolCall

    server_py = tmp_path / "pictures.py"
    server_py.write_text(PICTURE_SERVER)
    servers = {"pictures": {"command": sys.executable, "args": [str(server_py)]}}
    manager, jobs, _ = await _docs_jobs(tmp_path, slow_s=0, patience_s=60, servers=servers)
    read = '{"path": "memo.md"}'
    try:
        chart = await jobs.run(
            1, [ToolCall(id="call_0", name="pictures__chart", arguments="{}")], {}
        )
        again = await jobs.run(1, [ToolCall("call_0", "docs__read_document", read)], {})
        later = await jobs.run(2, [ToolCall("call_0", "docs__read_document", read)], {})
    finally:
        await manager.aclose()
    assert chart and again and later and "Forty two" in later[0]["content"]
    rounds = [_call("call_0", "pictures__chart"), *chart, _call("call_0"), *again]
    assert jobs.shown_of([_call("call_0"), *later]) == {}  # logged first, the read's own
    assert jobs.shown_of(rounds) == {1: "[image, image/png, 35 kB]"}


async def test_a_call_of_an_answer_taken_back_unheard_goes_on_with_the_turn(tmp_path, sims):
    """The answer to 'How long…' calls a create (1 s) before saying a word; the person goes
    on ("Soft boiled, please.") before any of it was heard, so it is taken back and the two
    are one turn. The call went with the answer taken back: the turn was asked again as if
    nothing had been called, though the create may have been done (asked again, the model
    creates it a second time). The call, with what came of it, goes on with the turn."""

    from voicedesk.engine.resume import NO_RESULT

    scenario, script = _soft_boiled_over_a_create()
    session, seen, _, _ = await _run(
        tmp_path, scenario, script, _slow_create_settings(tmp_path, 1), with_tools=True
    )
    from voicedesk import events as ev

    assert [e for e in seen if isinstance(e, ev.TurnMerged)]
    (record,) = session.records
    assert record.user_text == f"{_text('question')} Soft boiled, please."
    merged = _asked_mentioning(sims[0], "Soft boiled")
    assert merged
    for messages in merged:  # asked with the create it had made, and its result
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
        assert messages[2]["tool_calls"][0]["function"]["name"] == "docs__create_document"
        came = messages[3]["content"]  # as the person went on, or before
        assert came.startswith("Created eggs.md") or came == INTERRUPTED_RESULT, came
    live = session.context.snapshot()["turns"]
    (messages,) = [t["messages"] for t in live]
    calls = [c["id"] for m in messages for c in m.get("tool_calls") or []]
    results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert calls and sorted(calls) == sorted(results)  # each call once, with its result
    assert all(m["content"] != NO_RESULT for m in messages if m["role"] == "tool")
    assert _turns_resumed(session) == live


async def test_calls_carried_through_two_answers_taken_back_are_asked_once(tmp_path, sims):
    """The answer to 'How long…' makes a create before a word; the person goes on twice,
    each time before anything was heard. The second answer taken back already held the
    first one's call (it went on with its turn), and it was carried a second time beside
    it: the third answer was asked with the same call, and its result, twice (OpenAI
    refuses such a request). The call is asked once, with its result."""
    from test_conversation_e2e import _say, _sim, _spoken_over_the_answer, converse

    from voicedesk import events as ev

    scenario, _ = _spoken_over_the_answer(
        _say("Soft boiled, please."), _say("With a pinch of salt."), gap_s=1.0, after_s=1.8
    )
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), tool_calls=[CREATE], reply="Done."),
            SimTurn(transcript="Soft boiled, please.", reply="Seven minutes."),
            SimTurn(transcript="With a pinch of salt.", reply="Seven minutes."),
        ]
    )
    inp = tmp_path / "in.wav"
    scenario.write(inp)
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    session = await converse(  # a slow model: nothing is heard before each goes on
        _slow_create_settings(tmp_path, 1),
        input_path=inp,
        output_path=tmp_path / "out.wav",
        sim=_sim(script, ttft_s=1.0),
        bus=bus,
        with_tools=True,
    )
    assert len([e for e in seen if isinstance(e, ev.TurnMerged)]) == 2
    asked = _asked_mentioning(sims[0], "pinch of salt")
    assert asked
    for messages in asked:
        calls = [c["id"] for m in messages for c in m.get("tool_calls") or []]
        results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
        assert len(calls) == 1, messages
        assert len(set(calls)) == len(calls) and sorted(results) == sorted(calls), messages
    live = session.context.snapshot()["turns"]
    (messages,) = [t["messages"] for t in live]
    calls = [c["id"] for m in messages for c in m.get("tool_calls") or []]
    results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert len(set(calls)) == len(calls) and sorted(results) == sorted(calls), messages
    assert _turns_resumed(session) == live


async def test_a_result_come_before_the_answer_was_taken_back_goes_on_with_the_turn(tmp_path, sims):
    """The answer to 'How long…' lists the documents (at once) and makes a create (3 s);
    the person goes on while the create runs. The list had answered, yet the merged turn
    was told "interrupted … what it did is not known" of it as of the create: what had come
    of the calls was known only once the cancelled answer's task had seen the cancel, after
    the merged turn had taken its calls. The list's own result goes on with the turn."""
    from test_conversation_e2e import _say, _spoken_over_the_answer

    scenario, _ = _spoken_over_the_answer(_say("Soft boiled, please."), gap_s=0, after_s=1.2)
    listing = SimToolCall(name="docs__list_documents", arguments={})
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), tool_calls=[listing, CREATE], reply="Done."),
            SimTurn(transcript="Soft boiled, please.", reply="Seven minutes."),
        ]
    )
    session, _, _, _ = await _run(
        tmp_path, scenario, script, _slow_create_settings(tmp_path, 3), with_tools=True
    )
    (record,) = session.records
    assert record.user_text == f"{_text('question')} Soft boiled, please."
    merged = _asked_mentioning(sims[0], "Soft boiled")
    assert merged
    for messages in merged:
        (asked,) = [m for m in messages if m.get("tool_calls")]
        listed, created = (c["id"] for c in asked["tool_calls"])
        results = {m["tool_call_id"]: m["content"] for m in messages if m["role"] == "tool"}
        assert results[created] == INTERRUPTED_RESULT
        assert results[listed] != INTERRUPTED_RESULT, results


@pytest.mark.parametrize(
    "words",
    # with a pause the VAD splits it at, and without: in one stretch the answer to the words
    # was prepared while the holding line began to play, asked without it (the whole suite
    # on a loaded machine split "Soft boiled, please." differently from a run of this file).
    # "Make it soft boiled." was split too (after "it"), so both cases were two stretches:
    # "Make it soft." is said in one.
    ["Soft boiled, please.", "Make it soft."],
    ids=["two-stretches", "one-stretch"],
)
async def test_an_answer_whose_call_went_on_in_the_background_is_not_taken_back(
    tmp_path, sims, monkeypatch, words
):
    """The answer to 'How long…' makes a create slower than the patience (it goes on in
    the background) and the person goes on before its holding line was heard: the answer
    was taken back, and the merged turn asked as if no call had been made (the model may
    make it again), while the create ran on and came back later as a follow-up. A call in
    the background cannot be taken back: the words are a turn of their own, asked knowing
    the holding line (as not heard: they spoke first), live and after --resume."""

    from voicedesk import events as ev
    from voicedesk.engine.context import UNHEARD_MARK
    from voicedesk.engine.reply import HOLDING_LINE

    # when the words are said is set by the create's start (see the helper): said 1.2 s
    # after the question, a question decided late under heavy load had them begin before
    # its decision, or transcribed before its call had gone to the background
    session, seen, _, _ = await _words_said_as_the_create_goes_on(tmp_path, monkeypatch, words)
    # the question's turn is not taken back (its call runs on); the words may be heard as two
    # turns at the pause in "Soft boiled, | please." and those two merge, as any would
    assert not [e for e in seen if isinstance(e, ev.TurnMerged) and e.turn_id == 1]
    assert [r.user_text for r in session.records[:2]] == [_text("question"), words]
    asked = _asked_after(sims[0], words)
    assert asked
    for messages in asked:  # every request for them, the prepared ones too
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
        assert messages[2]["content"] == HOLDING_LINE + UNHEARD_MARK
    assert session.records[0].heard_text == ""  # none of it played over the person
    assert session.records[1].heard_text == "Seven minutes."
    # the create came back and was answered, as a call in the background is
    assert [r.heard_text for r in session.records[2:]] == ["Done."]

    live = session.context.snapshot()["turns"]
    assert _turns_resumed(session) == live


@pytest.mark.parametrize(
    "after_s",
    # the person breaks in on the answer's first words (paused there before its calls went
    # on in the background): once 0.6 s of them has played, not 1.6 s after the question
    # (a loaded machine decided the question late, and the words joined its turn); and on
    # the start of its holding line
    ["played 0.6", 2.8],
    ids=["over-the-preamble", "over-the-holding-line"],
)
async def test_a_background_answer_heard_in_part_keeps_its_unheard_holding_line(
    tmp_path, sims, monkeypatch, after_s
):
    """The answer says "Let me write that down for you." and makes a create slower than
    the patience; the person breaks in on it before its holding line was heard whole. Only
    what was heard was kept ("Let me write [cut off]"): the answer to their words was asked
    not knowing of the create still running (the model could make it again), as when
    nothing at all had been heard. The rest, holding line and all, is kept after the cut,
    as said but not heard, live and after --resume. The words said with the call are not
    sent again with its result (they were, in the follow-up answering it)."""

    from voicedesk.engine.context import CUT_MARK, UNHEARD_MARK

    words = "Make it soft boiled."
    played = isinstance(after_s, str)
    session, _, _, _ = await _words_over_a_background_create(
        tmp_path,
        words,
        float(after_s.split()[-1]) if played else after_s,
        preamble="Let me write that down for you.",
        monkeypatch=monkeypatch if played else None,
    )
    first = session.records[0]
    heard, said = first.heard_text, first.assistant_text
    assert first.went_background and first.interrupted
    assert heard and said.startswith(heard) and len(heard) < len(said), (heard, said)
    kept = f"{heard}{CUT_MARK} {said[len(heard) :].strip()}{UNHEARD_MARK}"
    asked = _asked_after(sims[0], words)
    assert asked
    for messages in asked:
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
        assert messages[2]["content"] == kept
    assert [r.heard_text for r in session.records[1:]] == ["Seven minutes.", "Done."]

    live = session.context.snapshot()["turns"]
    assert live[0]["messages"][-1]["content"] == kept
    # the words said with the call are in that answer, not again with the call's result
    with_calls = [m for t in live for m in t["messages"] if m.get("tool_calls")]
    assert with_calls and not any(m.get("content") for m in with_calls), with_calls
    assert _turns_resumed(session) == live


async def test_a_background_answer_whose_voice_failed_keeps_its_unheard_holding_line(
    tmp_path, monkeypatch
):
    """The voice fails as the holding line of an answer whose create went on in the
    background is to be spoken: nothing of it was kept, and the person's next words were
    asked as if the model had never made the call still running (roles system, user,
    user); it could make it again. It is kept as said but not heard, live and resumed.
    And the line spoken for the failure asked the person to "say that again", as if nothing
    were under way: asked again, the model could make the call again. It says now that
    the work goes on, and that its answer will follow."""
    from test_conversation_e2e import on_sim_start

    from voicedesk.engine.context import UNHEARD_MARK
    from voicedesk.engine.reply import HOLDING_LINE
    from voicedesk.engine.speaking import BACKGROUND_ERROR_LINE, ERROR_LINE

    servers: list = []
    # the holding line's voice, and its one retry (the error line is spoken after them)
    on_sim_start(monkeypatch, lambda s: (servers.append(s), s.inject("tts", "500", times=2)))
    words = "Make it soft boiled."
    session, _, _, _ = await _words_over_a_background_create(tmp_path, words, after_s=4.0)
    first = session.records[0]
    assert first.went_background and first.failed and not first.heard_text
    asked = [
        r["messages"]
        for r in servers[0].chat_requests()
        if r["messages"][-1].get("content") == words
    ]
    assert asked
    for messages in asked:
        assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
        assert messages[2]["content"] == HOLDING_LINE + UNHEARD_MARK
    assert session.records[1].heard_text == "Seven minutes."
    # what the voice was given to say, joined (the client sends it in pieces)
    bodies = [r.body for r in servers[0].requests if r.provider == "tts"]
    spoken = " ".join("".join(b.get("text", "") for b in bodies if isinstance(b, dict)).split())
    assert ERROR_LINE.split(".")[0] not in spoken, spoken
    assert BACKGROUND_ERROR_LINE.split(".")[0] in spoken, spoken

    live = session.context.snapshot()["turns"]
    assert _turns_resumed(session) == live


async def test_quitting_as_the_person_goes_on_over_an_answer_taken_back_keeps_the_question(
    tmp_path,
):
    """'How long…' is answered with a create before a word; the person goes on ("Soft
    boiled, please.") before any of it was heard, and quits at once, before the merged
    turn's answer is confirmed. The turn taken back was logged as retracted and the merged
    one not at all: ``--resume`` had neither the question nor the create it made. Killed at
    the same moment (the log as it is when the two turns merge), the question and the call
    are resumed; quitting, the merged turn is logged, with the call it goes on from."""
    import asyncio
    import contextlib
    import shutil

    from test_conversation_e2e import _sim

    from voicedesk import events as ev
    from voicedesk.commands.run import converse
    from voicedesk.engine.session_log import sessions_dir

    scenario, script = _soft_boiled_over_a_create()
    inp = tmp_path / "in.wav"
    scenario.write(inp)
    bus = ev.EventBus()
    killed = tmp_path / "killed.jsonl"
    run: list[asyncio.Task] = []

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.TurnMerged) and not killed.exists():
            (path,) = sessions_dir().glob("*.jsonl")
            shutil.copy(path, killed)  # what kill -9 would leave now
            run[0].cancel()  # and what quitting now leaves

    bus.subscribe(on_event)
    run.append(
        asyncio.ensure_future(
            converse(
                _slow_create_settings(tmp_path, 1),
                input_path=inp,
                output_path=tmp_path / "out.wav",
                sim=_sim(script),
                bus=bus,
                with_tools=True,
            )
        )
    )
    with contextlib.suppress(asyncio.CancelledError):
        await run[0]
    assert killed.exists()
    (quit_log,) = sessions_dir().glob("*.jsonl")
    for path in (killed, quit_log):
        snapshot, _ = restore_state(path)
        (turn,) = snapshot["turns"]
        messages = turn["messages"]
        assert messages[0]["role"] == "user", path
        assert messages[0]["content"].startswith(_text("question")), path
        calls = [c for m in messages for c in m.get("tool_calls") or []]
        assert [c["function"]["name"] for c in calls] == ["docs__create_document"], path
        results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
        assert results == [calls[0]["id"]], path
    snapshot, _ = restore_state(quit_log)
    assert snapshot["turns"][0]["messages"][0]["content"] == (
        f"{_text('question')} Soft boiled, please."
    )


async def test_the_log_after_every_write_of_a_merge_resumes_the_call_it_goes_on_from(
    tmp_path, monkeypatch
):
    """'How long…' is answered with a create before a word; the person goes on ("Soft
    boiled, please.") before any of it was heard, and the merged turn is answered. Its
    words and the retraction were written together, but the create it goes on from came
    in a write of its own after them: killed between the two, the log had the question
    retracted (its call with it) and the merged turn without the call, and ``--resume``
    did not know the file had been created. The log as it stood after every write (what
    kill -9 would leave) resumes the create once it is in, and never loses it again."""
    from test_conversation_e2e import _sim

    from voicedesk import events as ev
    from voicedesk.commands.run import converse
    from voicedesk.engine.session_log import SessionLog

    writes: list[bytes] = []
    write_whole = SessionLog._write_whole

    def observed(self: SessionLog, lines: bytes) -> None:
        write_whole(self, lines)
        writes.append(self.path.read_bytes())  # what kill -9 would leave now

    monkeypatch.setattr(SessionLog, "_write_whole", observed)
    scenario, script = _soft_boiled_over_a_create()
    inp = tmp_path / "in.wav"
    scenario.write(inp)
    await converse(
        _slow_create_settings(tmp_path, 1),
        input_path=inp,
        output_path=tmp_path / "out.wav",
        sim=_sim(script),
        bus=ev.EventBus(),
        with_tools=True,
    )
    created = []
    for i, content in enumerate(writes):
        path = tmp_path / f"after-{i}.jsonl"
        path.write_bytes(content)
        snapshot, _ = restore_state(path)
        messages = [m for t in snapshot["turns"] for m in t["messages"]]
        calls = [c["function"]["name"] for m in messages for c in m.get("tool_calls") or []]
        created.append(calls == ["docs__create_document"])
    assert any(created)
    first = created.index(True)
    assert all(created[first:]), [(i, content.decode()) for i, content in enumerate(writes)]
    assert '"retracted"' in writes[-1].decode()  # the two turns did merge


async def test_the_stop_key_over_a_call_in_the_background_says_it_runs_on_and_how_to_drop_it(
    tmp_path,
):
    """The create (a real stdio MCP server, sleeping 8 s) went to the background and the
    person pressed the stop key over its holding line: the line stopped at "I'm", and
    nothing said the create ran on (by design) nor how to drop it; stopping looked like
    stopping it all. They are told both, once, and "never mind" then drops it."""
    import asyncio

    from typed_sessions import session_over_sim

    from voicedesk import events as ev

    script = SimScript(
        turns=[
            SimTurn(transcript="Write it down.", tool_calls=[CREATE], reply="Done."),
            SimTurn(transcript="Never mind.", reply="Okay."),
        ]
    )
    settings = _slow_create_settings(tmp_path, 8)
    settings.tools.tool_patience_s = 1.0
    notices: list[str] = []
    came = asyncio.Event()

    def heard(event: ev.Event) -> None:
        if isinstance(event, ev.Notice):
            notices.append(event.message)
            came.set()

    async def notice_with(words: str) -> str:
        while not [n for n in notices if words in n]:
            came.clear()
            await asyncio.wait_for(came.wait(), 30)
        return next(n for n in notices if words in n)

    async with session_over_sim(
        tmp_path,
        settings,
        script,
        silence_s=30.0,
        output_path=tmp_path / "out.wav",
        with_tools=True,
    ) as (_, session):
        session.bus.subscribe(heard)
        await session.start()
        try:
            await session.send_text("Write it down.")
            gone = await notice_with("is still running; its answer will follow")
            assert "never mind" in gone, gone
            session.interrupt()
            session.interrupt()  # pressed again: said once
            told = await notice_with("Stopped the answer")
            await session.send_text("Never mind.")
            await notice_with("Cancelled the tool")
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    assert "docs__create_document is still running in the background" in told, told
    assert "its answer will follow" in told and "“never mind”" in told, told
    assert len([n for n in notices if "Stopped the answer" in n]) == 1, notices
    assert [r.user_text for r in session.records] == ["Write it down.", "Never mind."]


async def test_the_stop_key_over_a_done_background_call_says_it_finished(tmp_path):
    """A background read whose result is in waits for a quiet moment (the answer playing);
    the stop key over that answer said the read was "still running in the background",
    though it was done and only its answer was to come."""
    import asyncio

    from voicedesk.providers.base import ToolCall

    told: list[str] = []
    # an answer is playing: the result waits
    manager, jobs, spawned = await _docs_jobs(tmp_path, slow_s=1, patience_s=0.1, told=told)
    try:
        call = ToolCall(id="call_1", name="docs__read_document", arguments='{"path": "memo.md"}')
        assert await jobs.run(1, [call], _call("call_1")) is None  # gone to the background
        (job,) = jobs.jobs
        await asyncio.gather(*job.tasks)  # its result is in, waiting for a quiet moment
        jobs.tell_runs_on()
        jobs.cancel_if_asked("Never mind.")
        await asyncio.gather(*spawned)
    finally:
        await manager.aclose()
    (stopped,) = [m for m in told if m.startswith("Stopped the answer")]
    assert "still running" not in stopped, stopped
    assert "docs__read_document has finished in the background" in stopped, stopped
    assert "its answer will follow" in stopped, stopped


async def test_the_stop_key_as_a_background_result_comes_says_it_finished(tmp_path):
    """The stop key pressed as a background read's result came (its card about to show
    ✓, the call's task not yet holding it: the tool manager has it, the job has not):
    the notice said the read was "still running in the background" while its card
    showed it done and its answer came. Here the key is pressed from the bus, as the
    result is published, before the job can have taken it."""
    import asyncio

    from voicedesk import events as ev
    from voicedesk.providers.base import ToolCall

    bus = ev.EventBus()
    told: list[str] = []
    # an answer is playing: the result waits
    manager, jobs, spawned = await _docs_jobs(
        tmp_path, slow_s=1, patience_s=0.1, told=told, bus=bus
    )
    pressed = asyncio.Event()

    def stop_key(event: ev.Event) -> None:
        if isinstance(event, ev.ToolCallFinished) and not pressed.is_set():
            pressed.set()
            jobs.tell_runs_on()

    bus.subscribe(stop_key)
    try:
        call = ToolCall(id="call_1", name="docs__read_document", arguments='{"path": "memo.md"}')
        assert await jobs.run(1, [call], _call("call_1")) is None  # gone to the background
        (job,) = jobs.jobs
        await asyncio.wait_for(pressed.wait(), 30)
        # its result in, and the notice of the key (if it waited for it) told
        await asyncio.wait_for(asyncio.gather(*job.tasks, *spawned[1:]), 30)
        stopped = [m for m in told if m.startswith("Stopped the answer")]
        jobs.cancel_if_asked("Never mind.")
        await asyncio.wait_for(asyncio.gather(*spawned), 30)
    finally:
        await manager.aclose()
    assert len(stopped) == 1, told
    assert "still running" not in stopped[0], stopped
    assert "docs__read_document has finished in the background" in stopped[0], stopped
    assert "its answer will follow" in stopped[0], stopped


async def test_notices_of_a_round_of_several_calls_name_the_ones_still_running(tmp_path):
    """A round of three calls: the same slow read twice, and a call that fails at once. As
    they went to the background the notice said "docs__read_document, docs__read_document,
    docs__nope is still running; its answer will follow": the failed call named as
    running, the read twice, in the singular. The stop key's notice said the same. Both
    name the calls still running, once each, in the plural, as "never mind" does."""
    import asyncio

    from voicedesk.providers.base import ToolCall

    told: list[str] = []
    manager, jobs, spawned = await _docs_jobs(
        tmp_path, slow_s=2, patience_s=0.5, quiet=True, told=told
    )
    read = '{"path": "memo.md"}'
    calls = [
        ToolCall(id="call_1", name="docs__read_document", arguments=read),
        ToolCall(id="call_2", name="docs__nope", arguments="{}"),
        ToolCall(id="call_3", name="docs__read_document", arguments=read),
    ]
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [_call(c.id, c.name)["tool_calls"][0] for c in calls],
    }
    try:
        assert await jobs.run(1, calls, message) is None  # gone to the background
        jobs.tell_runs_on()
        jobs.cancel_if_asked("Never mind.")
        await asyncio.gather(*spawned)
    finally:
        await manager.aclose()
    went, stopped, cancelled = told
    assert cancelled == "Cancelled the tools that were still running.", cancelled
    assert went.startswith(
        "docs__read_document (twice) are still running; their answers will follow."
    ), went
    assert went.endswith("to cancel them."), went
    assert "docs__nope" not in stopped, stopped
    assert stopped.startswith(
        "Stopped the answer; docs__read_document (twice) are still running in the "
        "background, and their answers will follow."
    ), stopped


async def test_words_before_a_call_heard_in_part_are_said_once_with_what_was_heard(
    tmp_path, sims, monkeypatch
):
    """The person broke in on "Let me write that down for you." before hearing it whole,
    while its create ran: the model read the whole sentence with the call, then the answer
    as heard, "Let me write [cut off…]", as if it had started the sentence again and been
    cut the second time. It reads the sentence once, with the call, and that the person
    heard only its start, live and resumed alike."""
    from voicedesk.engine.context import CUT_MARK

    said = "Let me write that down for you in a new document, so that you have it next time."
    session = await _create_cut_by_stop(tmp_path, monkeypatch, said, heard_whole=False)
    first = session.records[0]
    heard = first.heard_text.strip()
    assert first.interrupted and heard and said.startswith(heard) and heard != said, heard
    [asked] = _asked_after(sims[0], _text("stop"))[-1:]
    assert [m["role"] for m in asked[1:]] == ["user", "assistant", "tool", "assistant", "user"]
    assert asked[2]["content"] == said
    answer = asked[4]["content"]
    assert not answer.startswith(heard), answer  # not begun again
    assert f"“{heard}”" in answer and answer.endswith(CUT_MARK), answer

    live = session.context.snapshot()["turns"]
    assert _turns_resumed(session) == live


async def _docs_jobs(
    tmp_path: Path,
    *,
    slow_s: int,
    patience_s: float,
    quiet: bool = False,
    told: list[str] | None = None,
    dropped: list[tuple[int, list[dict]]] | None = None,
    bus: Any = None,
    servers: dict[str, Any] | None = None,
) -> tuple[Any, Any, list[asyncio.Task]]:
    """Background tool jobs over the real documents server (a memo in its workspace, its
    read ``slow_s`` slow), started: ``(manager, jobs, spawned)``. ``told`` collects the
    notices, ``dropped`` the jobs "never mind" dropped; ``quiet`` is whether a result may
    be delivered now (False: an answer plays, or the person talks)."""
    from voicedesk import events as ev
    from voicedesk.engine.tool_jobs import ToolJobs
    from voicedesk.tools.manager import ToolManager

    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "memo.md").write_text("# Memo\n\nForty two.\n")
    tools: dict[str, Any] = {
        "workspace": str(workspace),
        "docs_server_args": ["--slow", f"read_document={slow_s}"],
    }
    if servers:
        tools["mcpServers"] = servers
    manager = ToolManager(
        Settings.model_validate({"tools": tools}),
        bus=bus if bus is not None else ev.EventBus(),
        log_dir=tmp_path / "logs",
    )
    await manager.start()
    spawned: list[asyncio.Task] = []
    jobs = ToolJobs(
        manager,
        patience_s=patience_s,
        is_quiet=lambda: quiet,
        is_closing=lambda: False,
        deliver=lambda messages: None,
        notice=lambda level, message: None if told is None else told.append(message),
        set_state=lambda state: None,
        spawn=lambda coro: spawned.append(asyncio.ensure_future(coro)) or spawned[-1],
        dropped=lambda turn_id, messages: (
            None if dropped is None else dropped.append((turn_id, messages))
        ),
    )
    return manager, jobs, spawned


async def test_a_failed_call_is_marked_by_its_own_result_not_its_id(tmp_path: Path) -> None:
    """The session log marks which calls failed (``failed_in``). It kept them by call id:
    a call that failed and a later turn's call with the same id (a background call's, or
    a server numbering each answer's calls from call_0) took each other's mark, the one
    that succeeded after taking it off the failure. Each result is marked itself, by its
    place in the messages logged."""
    from mcp_servers import EMPTY_RESULTS_SERVER, one_server_settings

    from voicedesk.engine.tool_jobs import ToolJobs
    from voicedesk.providers.base import ToolCall
    from voicedesk.tools.manager import ToolManager

    def asked(call: ToolCall) -> dict[str, Any]:
        function = {"name": call.name, "arguments": call.arguments}
        return {"role": "assistant", "tool_calls": [{"id": call.id, "function": function}]}

    settings = one_server_settings(tmp_path, "blank", EMPTY_RESULTS_SERVER)
    async with ToolManager(settings, log_dir=tmp_path / "logs") as manager:
        jobs = ToolJobs(
            manager,
            patience_s=60,
            is_quiet=lambda: True,
            is_closing=lambda: False,
            deliver=lambda messages: None,
            notice=lambda level, message: None,
            set_state=lambda state: None,
            spawn=asyncio.ensure_future,
        )
        logged = []
        for turn_id, tool in ((3, "fail"), (4, "nothing"), (5, "fail")):
            call = ToolCall(id="call_0", name=f"blank__{tool}", arguments="{}")
            results = await jobs.run(turn_id, [call], asked(call))
            assert results is not None
            logged.append([asked(call), *results])
    assert [jobs.failed_in(messages) for messages in logged] == [[1], [], [1]]
