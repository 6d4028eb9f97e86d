"""Context management: bounded prompts, background summaries, facts that survive."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
from typing import Any

import pytest
from typed_sessions import (
    converse_in_text,
    long_notes,
    session_over_sim,
    typed_and_answered,
    typed_over_sim,
)

from voicedesk.bench.context import run_context_bench
from voicedesk.config import Settings
from voicedesk.engine.context import CLIPPED_MARK, CUT_MARK, FAILED_MARK, ContextManager
from voicedesk.engine.tokens import as_json
from voicedesk.errors import UserError


async def test_200_turns_stay_within_budget_flat_and_remember_turn_3():
    # Eight words a streamed chunk, sent as often as one word was: the same prompts and
    # summaries, an eighth of the chunks to parse (the test took 85-105 s, most of it the
    # SDK parsing one-word chunks; about 30 s so).
    result = await run_context_bench(200, budget=3000, window=6, words_per_chunk=8)
    turns = [c for c in result["calls"] if c["kind"] == "turn"]
    summaries = [c for c in result["calls"] if c["kind"] == "summary"]
    assert len(turns) == 200
    assert all(c["prompt_tokens"] <= result["budget_tokens"] for c in result["calls"])
    # flat once the window has filled: without summaries the prompt grows turn by turn
    # until the budget clips it, so the second half's median sits at the budget (3000);
    # with them it stays near the window's size (~1900 here, ~2300 with a parallel test
    # process beside it, where a summary that runs longer lets more turns through). A
    # bound on the first half's median (×1.1) or peak (×1.25) timed the machine: how many
    # turns a running summary lets through is the load's to decide.
    sizes = [c["prompt_tokens"] for c in turns]
    assert statistics.median(sizes[100:]) <= 0.85 * result["budget_tokens"], sizes[100:]
    assert len(summaries) >= 10
    # the summaries ran beside the turns, not in their way: turns were answered while the
    # summary begun beside them still ran (a turn that waited for it never could be). The
    # calls' "blocking" also compares the median waits of turns with and without a summary
    # running, a timing a loaded machine can stretch, so it is `voicedesk bench context`'s.
    assert result["turns_overtook_summary"] > 0
    assert result["fact_in_summary_request"]  # the folded turn went to the summariser
    assert result["fact_reached_model"]  # and still reaches the model at turn 200


def _ctx(budget: int = 500) -> ContextManager:
    settings = Settings.model_validate({"context": {"budget_tokens": budget, "window_turns": 4}})
    return ContextManager(settings, model="gpt-4o-mini")


def test_a_huge_typed_turn_is_clipped_never_over_budget():
    ctx = _ctx(500)
    for i in range(1, 4):
        ctx.add_user(i, "hello " * 50)
        ctx.add_assistant(i, "hi " * 50)
    messages, tokens = ctx.build_for("word " * 5000)
    assert tokens <= 500
    assert ctx.counter.messages(messages) <= 500
    assert messages[-1]["role"] == "user" and len(messages[-1]["content"]) < 5000 * 5


def test_after_a_pasted_text_the_turns_before_it_stay_in_the_window():
    """The pasted turn did not fit whole, so it and every turn before it were left out of
    the next requests (not yet in the summary either: the model had none of them)."""
    ctx = _ctx(2000)
    for i in range(1, 4):
        ctx.add_user(i, f"Question {i} about the zebra number {i}")
        ctx.add_assistant(i, f"Answer {i}")
    pasted = "Please summarise: " + " ".join(f"word{j}" for j in range(50_000))
    ctx.add_user(4, pasted)
    ctx.add_assistant(4, "It is a list of numbered words.")
    messages, tokens = ctx.build_for("Make it shorter.")
    assert tokens <= 2000 and ctx.counter.messages(messages) <= 2000
    contents = [m["content"] for m in messages[1:]]
    assert contents[0] == "Question 1 about the zebra number 1"
    assert contents[-3].startswith("Please summarise: word0") and contents[-3].endswith(
        CLIPPED_MARK
    )
    assert contents[-2:] == ["It is a list of numbered words.", "Make it shorter."]


def test_interrupted_answers_are_marked_and_tool_results_compacted():
    ctx = _ctx(4000)
    ctx.add_user(1, "read the memo")
    ctx.add_tool_exchange(
        1,
        [
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "x" * 5000},
        ],
    )
    ctx.add_assistant(1, "The memo says forty", cut="interrupted")
    messages, _ = ctx.build_for("go on")
    tool = next(m for m in messages if m["role"] == "tool")
    assert len(tool["content"]) < 600
    assert messages[-2]["content"] == "The memo says forty" + CUT_MARK
    # a failure that stopped the answer is no interruption (it was marked as the person's)
    ctx.add_assistant(1, "The memo says forty", cut="failed")
    assert ctx.build_for("go on")[0][-2]["content"] == "The memo says forty" + FAILED_MARK
    ctx.drop_turn(1)
    assert ctx.build_for("x")[0][1:] == [{"role": "user", "content": "x"}]


class _Answers:
    """A summariser whose model answers with the given texts in turn (garbage included)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)

    async def summarize(self, previous: str, messages: list, *, max_tokens: int, fits) -> str:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def _fold(ctx: ContextManager, first: int, last: int) -> None:
    for i in range(first, last + 1):
        ctx.add_user(i, f"question {i}")
        ctx.add_assistant(i, f"answer {i}")
        ctx.maybe_summarize()
        await ctx.wait_summary()


async def test_an_empty_summary_keeps_the_previous_one_and_the_turns():
    settings = Settings.model_validate({"context": {"budget_tokens": 1000, "window_turns": 2}})
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=_Answers("Locker code 4711."))
    await _fold(ctx, 1, 4)
    assert ctx.summary == "Locker code 4711." and ctx.summary_turns == 2
    ctx.summarizer = _Answers("  \n ")
    await _fold(ctx, 5, 7)
    assert ctx.summary == "Locker code 4711." and ctx.summary_turns == 2
    assert [t.turn_id for t in ctx.turns] == [3, 4, 5, 6, 7]  # nothing folded into nothing


class _Held:
    """A summariser whose model takes its time: it answers once ``release`` is set."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.given: list[list[dict]] = []

    async def summarize(self, previous: str, messages: list, *, max_tokens: int, fits) -> str:
        self.given.append(messages)
        self.asked.set()
        await self.release.wait()
        return self.answer


def _four_crates(summariser: Any) -> ContextManager:
    """Four turns about crates, a window of two: a summary folds the first two."""
    settings = Settings.model_validate({"context": {"budget_tokens": 2000, "window_turns": 2}})
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=summariser)
    for i in range(1, 5):
        ctx.add_user(i, f"What about crate {i}?")
        ctx.add_assistant(i, f"Crate {i} is on its way.")
    return ctx


def _dropped_create() -> list[dict[str, Any]]:
    """Turn 2's create of crates.md, dropped by "never mind" while it ran on."""
    call = {"id": "call_9", "type": "function"}
    call["function"] = {"name": "create_document", "arguments": '{"path": "crates.md"}'}
    return [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_9", "content": "[cancelled: …]"},
    ]


async def _create_dropped_while_folding(ctx: ContextManager, summariser: Any) -> list[dict]:
    """Start folding turns 1 and 2, and while ``summariser`` holds them, drop turn 2's
    create into it (``_dropped_create``); the summary is then let go, not waited for. What
    becomes of the turn gaining a call mid-fold is what each caller checks."""
    ctx.maybe_summarize()  # folds turns 1 and 2
    await summariser.asked.wait()
    dropped = _dropped_create()
    ctx.add_dropped_calls(2, dropped)
    summariser.release.set()
    return dropped


async def test_what_a_turn_gains_while_it_is_being_folded_is_kept():
    """A background call of turn 2, dropped by "never mind" while a summary was folding
    turn 2, was added to that turn after the summariser had been given it: the summary
    landed, the turn left the window, and the call (a create that may have been done) with
    it; the log, marking the turn folded, lost it on --resume too."""
    summariser = _Held("The person asked about crates one to three.")
    ctx = _four_crates(summariser)
    folded: list[list[int]] = []
    ctx.on_summary = lambda summary, ids, count, calls, partly: folded.append(ids)
    dropped = await _create_dropped_while_folding(ctx, summariser)
    await ctx.wait_summary()
    assert folded[0] == [1]  # the log kept turn 2 then: --resume had the call
    # turn 2 is folded again, the call given to the summariser with it this time
    assert folded[1:] == [[2]] and dropped[0] in summariser.given[1]


async def test_a_call_dropped_after_its_turn_was_folded_is_told_to_the_model():
    """Turn 2's create ran on in the background while turn 2 was folded into the summary
    (which had only its holding line: the call was not in the conversation yet); "never
    mind" then dropped it, and the call, which may have written the file, was left out
    of the conversation altogether: the model answered "never mind", and every turn
    after, not knowing it had made it. It is kept as a turn of its own, where turn 2 was,
    call and result together (OpenAI refuses a call with no result), and folded next."""
    summariser = _Answers("The person asked about crates one and two.")
    ctx = _four_crates(summariser)
    ctx.maybe_summarize()
    await ctx.wait_summary()
    assert [t.turn_id for t in ctx.turns] == [3, 4]  # turn 2 folded
    dropped = _dropped_create()
    ctx.add_dropped_calls(2, dropped)
    messages, _ = ctx.build_for("Never mind.", turn_id=5)
    assert messages[1:3] == dropped  # before turns 3 and 4, as it was made before them
    assert [t.turn_id for t in ctx.turns] == [2, 3, 4]
    ctx.add_user(5, "Never mind.")
    ctx.add_assistant(5, "Okay.")
    summariser.answers = ["Crates one and two; a create of crates.md was dropped."]
    ctx.maybe_summarize()
    await ctx.wait_summary()
    assert 2 not in [t.turn_id for t in ctx.turns]  # folded with what it now holds


async def test_a_turn_kept_because_it_changed_while_folded_is_not_summarised_twice():
    """Turn 2, kept in the window because a dropped call joined it while it was being
    folded, was given to the next summary whole: its question and answer, in the summary
    already, were summarised again, and the summary said the same fact twice (a summary
    rewritten whole each time, within a quarter of the budget, keeps fewer facts the more
    it repeats). The next summary is given only what the last one was not."""
    summariser = _Held("The person asked about crates one and two.")
    ctx = _four_crates(summariser)
    dropped = await _create_dropped_while_folding(ctx, summariser)
    await ctx.wait_summary()
    first, second = summariser.given[:2]
    assert {"role": "user", "content": "What about crate 2?"} in first
    assert second == dropped  # turn 2's question and answer were in the first summary
    # the model still has the whole turn until it is folded
    assert 2 not in [t.turn_id for t in ctx.turns]


class _HeldOnce:
    """A summariser that answers its first request once ``release`` is set, and never
    answers a later one: voicedesk is killed while it is made."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def summarize(self, previous: str, messages: list, *, max_tokens: int, fits) -> str:
        if self.asked.is_set():
            await asyncio.Event().wait()
        self.asked.set()
        await self.release.wait()
        return self.answer


class _Given:
    """A summariser that keeps what it is given and answers at once."""

    def __init__(self) -> None:
        self.given: list[list[dict]] = []

    async def summarize(self, previous: str, messages: list, *, max_tokens: int, fits) -> str:
        self.given.append(messages)
        return previous + " And more."


def _summary_record(summary: str, ids: list, count: int, calls: list, partly=()) -> dict:
    """A summary record as the session logs it (``Session._log_summary``)."""
    record = {"type": "summary", "summary": summary, "folded_turn_ids": ids}
    record |= {"summary_turns": count, "folded_calls": calls}
    return record | ({"partly_folded": partly} if partly else {})


def _crates_log(path, dropped: list[dict], summaries: list[dict]):
    """The four crate turns as the session logs them, turn 2's create dropped after them
    (a pending_tools record with its cancelled result), then ``summaries``."""
    records: list[dict] = []
    for i in range(1, 5):
        records.append({"type": "user", "turn_id": i, "text": f"What about crate {i}?"})
        heard = f"Crate {i} is on its way."
        records.append({"type": "turn", "turn_id": i, "heard_text": heard, "interrupted": False})
    records.append({"type": "pending_tools", "turn_id": 2, "messages": dropped})
    path.write_text("".join(json.dumps(r) + "\n" for r in [*records, *summaries]))
    return path


async def test_what_a_summary_has_of_a_turn_kept_in_the_window_is_not_summarised_on_resume(
    tmp_path,
):
    """Turn 2, kept in the window because a dropped call joined it while it was folded, is
    given to the next summary without its question and answer, which the last one has.
    The session log did not say which of its messages the summary had: killed before the
    next summary, ``--resume`` gave turn 2 whole to it, and its facts were summarised
    twice. The summary record names them now (``partly_folded``)."""
    from voicedesk.engine.resume import restore_state

    summariser = _HeldOnce("The person asked about crates one and two.")
    ctx = _four_crates(summariser)
    logged: list[dict] = []
    ctx.on_summary = lambda *said: logged.append(_summary_record(*said))
    dropped = await _create_dropped_while_folding(ctx, summariser)
    async with asyncio.timeout(30):
        while not logged:
            await asyncio.sleep(0.01)
    ctx.cancel()  # killed while the next summary is made
    assert logged[0]["folded_turn_ids"] == [1]
    snapshot, _ = restore_state(_crates_log(tmp_path / "s.jsonl", dropped, logged))
    resumed = _four_crates(_Given())
    resumed.restore(snapshot)
    assert [t.turn_id for t in resumed.turns] == [2, 3, 4]
    resumed.maybe_summarize()
    await resumed.wait_summary()
    (given, *_) = resumed.summarizer.given
    assert given[: len(dropped)] == dropped  # the call the summary was never given
    assert {"role": "user", "content": "What about crate 2?"} not in given
    assert {"role": "assistant", "content": "Crate 2 is on its way."} not in given
    # a log from before the record: the whole turn, as before
    del logged[0]["partly_folded"]
    snapshot, _ = restore_state(_crates_log(tmp_path / "old.jsonl", dropped, logged))
    assert "summarised" not in snapshot["turns"][0]


async def test_a_turn_back_for_calls_dropped_after_it_was_folded_is_counted_once(tmp_path):
    """A turn folded into the summary, back in the window for a call the person dropped
    after that, was counted again in ``summary_turns`` (which the session log keeps) when
    folded again, live and after ``--resume``."""
    from voicedesk.engine.resume import restore_state

    ctx = _four_crates(_Answers("Crates one and two."))
    logged: list[dict] = []
    ctx.on_summary = lambda *said: logged.append(_summary_record(*said))
    ctx.maybe_summarize()
    await ctx.wait_summary()
    assert ctx.summary_turns == 2  # turns 1 and 2
    dropped = _dropped_create()
    log_file = _crates_log(tmp_path / "s.jsonl", [], logged)  # the call still running
    with log_file.open("a") as out:
        out.write(json.dumps({"type": "pending_tools", "turn_id": 2, "messages": dropped}) + "\n")
    snapshot, _ = restore_state(log_file)
    resumed = _four_crates(_Answers("Crates one and two, a create dropped, three."))
    resumed.restore(snapshot)
    ctx.add_dropped_calls(2, dropped)
    for context in (ctx, resumed):
        assert [t.turn_id for t in context.turns] == [2, 3, 4]
        context.add_user(5, "Never mind.")
        context.add_assistant(5, "Okay.")
        context.maybe_summarize()  # folds turn 2 again, and turn 3
        await context.wait_summary()
        assert [t.turn_id for t in context.turns] == [4, 5]
        assert context.summary_turns == 3  # turns 1, 2 and 3


class _CappedModel:
    """A model that runs into max_tokens (finish_reason "length") the first ``cut`` times."""

    def __init__(self, cut: int, text: str = "Locker 4711; the dentist moved to Friday.") -> None:
        self.cut, self.text, self.requests = cut, text, []

    async def stream(self, request):
        from voicedesk.providers.base import Finished, TextDelta

        self.requests.append(request)
        capped = len(self.requests) <= self.cut
        yield TextDelta(self.text[:12] if capped else self.text)
        yield Finished("length" if capped else "stop")


async def test_a_summary_cut_off_at_its_cap_is_compressed_or_leaves_the_turns_in_place():
    """A summary the model cut off at max_tokens was taken as it was, and the turns it
    folded left the window: the end of an "oldest first" summary, their facts, was lost.
    It is asked for once more, compressed; cut off again, the turns stay."""
    from voicedesk.engine.summarizer import Summarizer

    settings = Settings.model_validate({"context": {"budget_tokens": 1000, "window_turns": 2}})
    model = _CappedModel(cut=1)
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(model))
    await _fold(ctx, 1, 3)
    assert ctx.summary == model.text and ctx.summary_turns == 1
    first, again = (r.messages[0]["content"] for r in model.requests[:2])
    assert "Use at most 175 words." in first and "compress the older facts" in again
    stuck = _CappedModel(cut=99)
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(stuck))
    await _fold(ctx, 1, 3)
    assert ctx.summary == "" and [t.turn_id for t in ctx.turns] == [1, 2, 3]


async def test_text_without_spaces_is_clipped_not_emptied():
    # Chinese has no spaces to cut at: clipping by words gave an empty turn and summary
    ctx = _ctx(500)
    messages, tokens = ctx.build_for("这是一段很长的中文文本" * 2000)
    assert tokens <= 500 and messages[-1]["content"].startswith("这是一段很长的中文文本")
    settings = Settings.model_validate({"context": {"budget_tokens": 1000, "window_turns": 2}})
    long_summary = "记住储物柜密码是四七一一。" * 200 + "🙂" * 300
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=_Answers(long_summary))
    await _fold(ctx, 1, 3)
    assert ctx.summary.startswith("记住储物柜密码是四七一一。")
    assert ctx.counter.count(ctx.summary) <= 250


def test_a_budget_smaller_than_the_system_prompt_is_refused_with_the_size_to_use():
    settings = Settings.model_validate(
        {"context": {"budget_tokens": 500}, "llm": {"system_prompt": "Be kind. " * 300}}
    )
    with pytest.raises(UserError) as caught:
        ContextManager(settings, model="gpt-4o-mini")
    assert "context.budget_tokens (500) is too small" in caught.value.message
    least = int(caught.value.hint.split("at least ")[1].split()[0])
    settings.context.budget_tokens = least
    ctx = ContextManager(settings, model="gpt-4o-mini")  # the size it names is enough
    assert ctx.build_for("hello")[1] <= least


async def _read_a_long_report(tmp_path, monkeypatch, budget: int):
    """One turn whose answer reads a 600-paragraph document with a tool: (session, the
    simulated cloud)."""
    from test_conversation_e2e import _run, on_sim_start

    from voicedesk.bench.scenarios import compose, load_utterance
    from voicedesk.engine import session as session_module
    from voicedesk.sim.script import SimScript, SimToolCall, SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    # The request waits for the documents server however long its start takes: within the
    # product's bound (TOOLS_WAIT_MAX_S, 3 s) a loaded machine (-n 3 at a load of 19) had
    # not started it, the first request went without the tools, as it should, and the
    # check of what it sent met no "tools" (KeyError). The tools' start is not the subject.
    monkeypatch.setattr(session_module, "TOOLS_WAIT_MAX_S", 60.0)
    servers = []
    on_sim_start(monkeypatch, servers.append)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "report.md").write_text(
        "\n\n".join(f"Paragraph {i}: region {i} grew by {i} percent." for i in range(600))
    )
    read = SimToolCall(name="docs__read_document", arguments={"path": "report.md"})
    script = SimScript(
        turns=[SimTurn(transcript=load_utterance("budget")[1], reply="It grew.", tool_calls=[read])]
    )
    settings = Settings.model_validate(
        {"tools": {"workspace": str(workspace)}, "context": {"budget_tokens": budget}}
    )
    session, _, _, _ = await _run(
        tmp_path, compose(["budget"], tail_s=2.0), script, settings, with_tools=True
    )
    assert [r.heard_text for r in session.records] == ["It grew."]
    return session, servers[0]


async def test_a_long_document_from_a_tool_keeps_every_request_within_budget(tmp_path, monkeypatch):
    """The round after a tool result used to append the whole document to the first
    request, and the tool definitions were never counted: 5600 tokens sent on a 1000 budget.
    (The tool definitions alone take over 2000 tokens now: 3500 leaves 1000 or so.)"""
    budget = 3500
    session, server = await _read_a_long_report(tmp_path, monkeypatch, budget)
    counter = session.context.counter
    requests = server.chat_requests()
    assert len(requests) == 2 and requests[1]["messages"][-1]["role"] == "tool"
    for body in requests:
        # the definitions' letters as the model reads them, not JSON-escaped
        sent = counter.messages(body["messages"]) + counter.count(as_json(body["tools"]))
        assert sent <= budget
    assert "Paragraph 1:" in requests[1]["messages"][-1]["content"]  # clipped, not dropped


async def test_a_document_read_by_a_tool_is_logged_and_kept_as_its_gist(tmp_path, monkeypatch):
    """The session log kept every tool result whole (a document of megabytes, each time it
    was read), though resuming keeps only its gist: the log grew without bound."""
    from voicedesk.engine.resume import restore_state

    session, _ = await _read_a_long_report(tmp_path, monkeypatch, 20_000)
    path = session.log.path
    tools = [r for r in map(json.loads, path.read_text().splitlines()) if r["type"] == "tools"]
    result = tools[0]["messages"][-1]
    assert result["role"] == "tool" and "Paragraph 0:" in result["content"]
    assert len(result["content"]) < 600 and path.stat().st_size < 20_000
    live = session.context.snapshot()["turns"]
    resumed = ContextManager(session.settings, model=session.settings.llm.model)
    resumed.restore(restore_state(path)[0])
    assert resumed.snapshot()["turns"] == live


async def test_a_typed_text_over_the_budget_is_answered(tmp_path, monkeypatch):
    """Its request carries it clipped, which the session took for a stale transcript:
    the answer was never confirmed, the turn neither answered nor logged."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.model_validate(
        {"tools": {"docs_server": False}, "context": {"budget_tokens": 800}}
    )
    pasted = ("Please summarise this: " + "lorem ipsum dolor sit amet " * 600).strip()
    async with session_over_sim(
        tmp_path, settings, sim={"ttft_s": 0.1}, output_path=tmp_path / "out.wav", with_tools=False
    ) as (server, session):
        await session.start()
        try:
            await typed_and_answered(session, pasted)
        finally:
            await session.stop()
    assert [r.user_text for r in session.records] == [pasted]
    assert session.records[0].heard_text and not session.records[0].error
    from voicedesk.sim.server import _is_summary

    turn_requests = [
        b["messages"] for b in server.chat_requests() if not _is_summary(b["messages"])
    ]
    assert session.context.counter.messages(turn_requests[-1]) <= 800


async def test_a_backlog_of_turns_is_folded_in_requests_within_budget():
    """Summaries failing for a while leave many turns waiting; the next summary folded
    them all in one request (5000+ tokens on a 1000 budget), which a model may refuse."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 1000, "window_turns": 4}})
    async with SimServer(SimScript(), SimLatency(ttft_s=0.0, tokens_per_s=0)) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini")
        for i in range(1, 61):  # no summary yet: as if every attempt had failed
            ctx.add_user(i, f"Question {i}: what about the shipment number {i * 7}?")
            ctx.add_assistant(i, f"Shipment {i * 7} left the warehouse on day {i}.")
        ctx.summarizer = Summarizer(llm)
        ctx.maybe_summarize()
        await ctx.wait_summary()
        await llm.aclose()
        requests = [b["messages"] for b in sim.chat_requests()]
    assert len(requests) >= 2
    assert all(ctx.counter.messages(m) <= 1000 for m in requests)
    assert len(ctx.turns) <= 4 + 2  # the backlog was folded, in several requests
    assert ctx.summary_turns == 60 - len(ctx.turns)


async def test_a_backlog_summary_fits_the_models_window_beside_its_reply():
    """The summary asks for a reply of up to a quarter of the budget (1500 tokens), far
    more than a turn's llm.max_tokens (400): a backlog folded in a prompt as big as the
    budget came to 6000 + 1500 tokens against a window of 6400 that every turn request
    fits, was refused as too long, and every later attempt too, while the turns it was to
    fold left the window unsummarised. The warning told the person to set
    llm.context_window, which was set right."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate(
        {"context": {"budget_tokens": 6000}, "llm": {"context_window": 6400}}
    )
    # The server counts this text (characters / 4) some 7% over our count: its window of
    # 7000 holds every turn request the budget allows (6000 + 400 in our count).
    async with SimServer(
        SimScript(), SimLatency(ttft_s=0.0, tokens_per_s=0), context_window=7000
    ) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini")
        for i in range(1, 31):  # no summary yet: as if every attempt had failed
            ctx.add_user(i, f"Shipment {i * 7}? " + "Spare parts and manuals for the office. " * 25)
            ctx.add_assistant(
                i, f"It left on day {i}. " + "Checked and signed for at the dock. " * 25
            )
        ctx.summarizer = Summarizer(llm)
        ctx.maybe_summarize()
        await ctx.wait_summary()
        await llm.aclose()
        requests = sim.chat_requests()
    assert not sim.too_long
    assert ctx.summaries_made >= 2 and len(ctx.turns) <= 8
    assert all(
        ctx.counter.messages(b["messages"]) + b["max_tokens"] <= 6000 + 400 for b in requests
    )


async def test_a_summary_made_for_a_larger_budget_lands_within_the_lowered_one():
    """A refusal lowered the budget (6000 to ~1400) while a summary was being made for the
    old one: it landed at its old share, nearly the whole new budget, and the person's next
    question was cut to a few words to make room for it ("Your turn is too long")."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.errors import ContextTooLongError
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 6000, "window_turns": 2}})
    async with SimServer(SimScript(), SimLatency(ttft_s=0.3, tokens_per_s=0)) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))
        for i in range(1, 9):
            ctx.add_user(i, f"Note {i}: order {i * 111}. " + "Parts, cables and manuals. " * 40)
            ctx.add_assistant(i, f"Noted, order {i * 111}.")
        ctx.maybe_summarize()  # folds turns 1-6, some 1600 tokens, for a 6000 budget
        await asyncio.sleep(0.1)  # asked: the model is writing it
        messages, _ = ctx.build_for("And the next one?")
        ctx.fit_refused(ContextTooLongError("too long", window=2000), messages)
        await ctx.wait_summary()
        await llm.aclose()
    assert ctx.summaries_made and ctx.budget < 2000
    assert ctx.counter.count(ctx.summary) <= ctx._summary_room()
    question = "What was the order in note 8?"
    messages, tokens = ctx.build_for(question)
    assert messages[-1]["content"] == question and tokens <= ctx.budget


async def test_a_summary_refused_as_too_long_is_made_again_once_the_budget_fits():
    """With the model's window unknown and smaller than the budget, the summary (sent as
    the turn ended, before the next turn's request) was refused as too long first; the
    turn's own refusal then lowered the budget, but the summary counted as a failure and
    waited half the window's turns before trying again: the oldest turns, left out of the
    requests by the lower budget, were in no summary all that while."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.errors import ContextTooLongError
    from voicedesk.providers.base import ChatRequest
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 6000, "window_turns": 8}})
    latency = SimLatency(ttft_s=0.0, tokens_per_s=0)
    async with SimServer(SimScript(), latency, context_window=2000) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))

        async def turn(i: int, text: str) -> list[dict]:
            messages, _ = ctx.build_for(text, turn_id=i)
            try:
                async for _ in llm.stream(ChatRequest(messages=messages, max_tokens=400)):
                    pass
            except ContextTooLongError as error:
                ctx.fit_refused(error, messages)
                messages, _ = ctx.build_for(text, turn_id=i)
                async for _ in llm.stream(ChatRequest(messages=messages, max_tokens=400)):
                    pass
            ctx.add_user(i, text)
            ctx.add_assistant(i, "Noted.")
            ctx.maybe_summarize()
            await ctx.wait_summary()
            return messages

        for i in range(1, 13):  # short turns: every request fits the window
            await turn(i, f"Note {i}: order {i * 111}. " + "Parts and cables. " * 20)
        # the summary (6000's) was refused, and taught the window (see the test below)
        assert sim.too_long and ctx.budget < 2000
        await turn(13, "And the order after that? " + "Parts and cables. " * 60)
        assert ctx.budget < 2000  # the turn's own refusal lowered the budget
        sent = json.dumps(await turn(14, "Which orders have I noted?"))
        await llm.aclose()
    unsent = [t.turn_id for t in ctx.turns if f"order {t.turn_id * 111}." not in sent]
    assert ctx.summaries_made and not [t for t in unsent if t < 13]


@pytest.mark.parametrize("says_window", [True, False])
async def test_a_summary_refused_as_too_long_teaches_the_window_without_a_failure(says_window):
    """With the model's window unknown, the summary (a quarter of the budget of reply room)
    is refused as too long before any turn is: the person read "Summary failed: The
    conversation is too long for the language model…" first, a failure of something they
    never asked for, and the turns it was to fold waited half the window's turns. The
    summary's refusal teaches the window as a turn's does: the budget is lowered, the
    person told so once, and the summary made again within it at once."""
    from voicedesk import events as ev
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.errors import ContextTooLongError
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 6000, "window_turns": 8}})
    bus = ev.EventBus()
    notices: list[str] = []
    bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)
    latency = SimLatency(ttft_s=0.0, tokens_per_s=0)
    async with SimServer(SimScript(), latency, context_window=2000) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        if not says_window:  # a server whose refusal names no window (the plain wording)
            stream = llm.stream

            async def plain(request):
                try:
                    async for item in stream(request):
                        yield item
                except ContextTooLongError as error:
                    raise ContextTooLongError(error.message) from error

            llm.stream = plain  # type: ignore[method-assign]
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm), bus=bus)
        try:
            for i in range(1, 13):  # short turns: every turn request fits the window
                ctx.add_user(i, f"Note {i}: order {i * 111}. " + "Parts and cables. " * 20)
                ctx.add_assistant(i, "Noted.")
                ctx.maybe_summarize()
                await ctx.wait_summary()
        finally:
            await llm.aclose()
    assert sim.too_long  # the first summary was refused
    assert not [n for n in notices if n.startswith("Summary failed")], notices
    told = [n for n in notices if "too long for the model" in n]
    assert len(told) == 1 and "summary" in told[0], notices
    # within the window's room beside a reply (1600), not cut to the least a turn needs;
    # a refusal that names no window halves the budget, as a turn's does
    assert 1000 < ctx.budget < 1600 if says_window else ctx.budget <= 3000
    assert ctx.summaries_made and "order 111" in ctx.summary


class _RefusedOnce(_Held):
    """A model that refuses the first summary request as too long, once ``release`` is set
    (a server slow to answer), and answers the next."""

    async def summarize(self, previous: str, messages: list, *, max_tokens: int, fits) -> str:
        from voicedesk.errors import ContextTooLongError

        self.given.append(messages)
        if len(self.given) == 1:
            self.asked.set()
            await self.release.wait()
            raise ContextTooLongError("too long", window=2000)
        return self.answer


async def test_a_summary_refused_after_the_budget_was_lowered_is_made_again_at_once():
    """The summary, sized for the budget before a refusal lowered it, was refused in turn:
    counted as a failure, the person was warned "Summary failed" and the turns it was to
    fold, left out of the requests by the lower budget, waited half the window's turns."""
    from voicedesk import events as ev
    from voicedesk.errors import ContextTooLongError

    settings = Settings.model_validate({"context": {"budget_tokens": 6000, "window_turns": 2}})
    summariser = _RefusedOnce("The person noted orders one to six.")
    bus = ev.EventBus()
    notices: list[str] = []
    bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=summariser, bus=bus)
    for i in range(1, 9):
        ctx.add_user(i, f"Note {i}: order {i * 111}. " + "Parts, cables and manuals. " * 40)
        ctx.add_assistant(i, f"Noted, order {i * 111}.")
    ctx.maybe_summarize()
    await summariser.asked.wait()
    messages, _ = ctx.build_for("And the next one?")
    ctx.fit_refused(ContextTooLongError("too long", window=2000), messages)
    summariser.release.set()
    await ctx.wait_summary()
    assert ctx.summaries_made and len(summariser.given) >= 2
    assert not [n for n in notices if n.startswith("Summary failed")]


@pytest.mark.parametrize("wording", ["openai", "plain"])
async def test_a_request_the_model_refuses_as_too_long_is_sent_shorter_and_answered(
    tmp_path, monkeypatch, wording
):
    """The budget (6000) is far over the model's window (2000 as the server counts): the
    fifth turn's request was refused with HTTP 400 and the turn failed. Now it is sent
    again shorter, answered, and the conversation stays within what the model takes —
    the window learnt from the error when it says it, half the size otherwise."""
    from voicedesk import events as ev
    from voicedesk.sim.script import SimScript

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    notes = long_notes(1, 6)
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    # the echoing sim never fits a note (~230 tokens) into the summary's cap (180 at the
    # halved budget), so each of its 4 folds comes back cut and is asked again: streamed at
    # 60 tokens a second, those 8 summaries took some 20 s of the test's 30, and the test
    # is about the turns (tokens_per_s)
    sim = {"context_window": 2000, "context_error": wording, "tokens_per_s": 2000}
    async with session_over_sim(
        tmp_path,
        settings,
        SimScript(default_reply="Noted."),
        sim=sim,
        output_path=tmp_path / "out.wav",
        with_tools=False,
        bus=bus,
    ) as (server, session):
        await converse_in_text(session, notes)
    records = session.records
    assert [r.heard_text for r in records] == ["Noted."] * 6
    assert not [r.error for r in records if r.error]
    assert len(server.too_long) == 1  # refused once, then never again: the size is kept
    refused = server.too_long[0]
    assert refused["messages"][-1]["content"] == notes[4]
    assert records[4].too_long_retries == 1
    sent = [b for b in server.chat_requests() if b is not refused]
    assert all(server.request_tokens(b) + b["max_tokens"] <= 2000 for b in sent)
    retry = next(b for b in sent if b["messages"][-1]["content"] == notes[4])
    assert len(retry["messages"]) < len(refused["messages"])  # older turns left out, the new
    # words whole
    warnings = [e.message for e in seen if isinstance(e, ev.Notice) and e.level == "warning"]
    assert len(warnings) == 1 and "too long" in warnings[0]
    budgets = [e.budget_tokens for e in seen if isinstance(e, ev.ContextUpdated)]
    assert budgets[0] == 6000 and budgets[-1] == session.context.budget < 2000
    if wording == "openai":
        assert session.context.window == 2000 and "2000 tokens" in warnings[0]
    else:
        assert session.context.window is None


def test_a_refusal_within_a_known_window_halves_and_a_window_too_small_is_named():
    from voicedesk.errors import ContextTooLongError

    settings = Settings.model_validate(
        {"context": {"budget_tokens": 3000}, "llm": {"context_window": 4096}}
    )
    ctx = ContextManager(settings, model="gpt-4o-mini")
    for i in range(1, 9):
        ctx.add_user(i, f"Question {i}: " + "about the shipment and its papers " * 20)
        ctx.add_assistant(i, "Noted.")
    messages, sent = ctx.build_for("And the last one?")
    # within the configured window as we count, refused all the same (the server's
    # tokenizer counts more): half of what was sent, not the window's room again
    ctx.fit_refused(ContextTooLongError("too long"), messages)
    assert ctx.budget == sent // 2 and ctx.window == 4096
    assert ctx.build_for("And the last one?")[1] <= sent // 2

    # the refusal names a window that cannot hold the system prompt beside the reply
    with pytest.raises(UserError) as caught:
        ctx.fit_refused(ContextTooLongError("too long", window=500), messages)
    assert "context window (500 tokens) cannot hold" in caught.value.message
    assert "llm.max_tokens (400)" in caught.value.message


def test_a_configured_window_larger_than_the_models_is_named(caplog) -> None:
    """llm.context_window 4096 against a model of 2000: the warning was the one for no
    window set, and every start (and --resume) was refused and learnt it again."""
    from voicedesk import events as ev
    from voicedesk.errors import ContextTooLongError

    settings = Settings.model_validate(
        {"context": {"budget_tokens": 3000}, "llm": {"context_window": 4096}}
    )
    bus = ev.EventBus()
    notices: list[str] = []
    bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)
    ctx = ContextManager(settings, model="gpt-4o-mini", bus=bus)
    for i in range(1, 9):
        ctx.add_user(i, f"Question {i}: " + "about the shipment and its papers " * 20)
        ctx.add_assistant(i, "Noted.")
    messages, _ = ctx.build_for("And the last one?")
    ctx.fit_refused(ContextTooLongError("too long", window=2000), messages)
    (notice,) = notices
    assert "not the 4096 that llm.context_window says" in notice
    assert notice.endswith("Set llm.context_window to 2000.")
    assert "llm.context_window" not in caplog.text  # shown once, as the notice


def test_a_window_learnt_through_openai_base_url_is_that_servers(monkeypatch):
    """With the server set by OPENAI_BASE_URL (how `voicedesk sim` and local servers are
    reached) the lesson was logged with no endpoint and applied to any such server."""
    learnt = {"window": 2000, "budget_tokens": 1200, "model": "gpt-4o-mini"}
    settings = Settings.model_validate({"context": {"budget_tokens": 1500}})
    snapshot = {"summary": "", "summary_turns": 0, "turns": []}
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8001/v1/")
    ctx = ContextManager(settings, model="gpt-4o-mini")
    assert ctx.endpoint == "http://127.0.0.1:8001/v1"
    here = {**learnt, "endpoint": "http://127.0.0.1:8001/v1"}
    ctx.restore({**snapshot, "context_window": here})
    assert (ctx.window, ctx.budget) == (2000, 1200)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9002/v1")  # another server now
    ctx = ContextManager(settings, model="gpt-4o-mini")
    ctx.restore({**snapshot, "context_window": here})
    assert (ctx.window, ctx.budget) == (None, 1500)


def test_a_learnt_window_is_restored_unless_configured_otherwise_or_for_another_model():
    """What a refusal taught (from the session log on --resume) is kept to; a configured
    llm.context_window that says otherwise wins, and another model's window, or the same
    model's from another server, is not its. A record without an endpoint (written before
    endpoints were) counts for the model wherever it is served."""
    learnt = {"window": 2000, "budget_tokens": 1200, "model": "gpt-4o-mini"}

    def restored(llm: dict, lesson: dict | None = learnt) -> ContextManager:
        settings = Settings.model_validate({"context": {"budget_tokens": 1500}, "llm": llm})
        ctx = ContextManager(settings, model="gpt-4o-mini")
        snapshot = {"summary": "", "summary_turns": 0, "turns": []}
        ctx.restore({**snapshot, "context_window": lesson} if lesson else snapshot)
        return ctx

    ctx = restored({})
    assert (ctx.window, ctx.budget) == (2000, 1200)
    assert ctx.snapshot()["context_window"] == {**learnt, "endpoint": None}
    ctx = restored({"context_window": 2000})  # the same window: the budget learnt holds
    assert (ctx.window, ctx.budget) == (2000, 1200)
    ctx = restored({"context_window": 4096})  # raised since, perhaps for a larger model
    assert (ctx.window, ctx.budget, ctx.learnt) == (4096, 1500, None)
    ctx = restored({}, {**learnt, "model": "llama3.1:8b"})
    assert (ctx.window, ctx.budget) == (None, 1500)
    served_elsewhere = {**learnt, "endpoint": "http://localhost:11434/v1"}
    ctx = restored({}, served_elsewhere)  # the same name from another server since
    assert (ctx.window, ctx.budget) == (None, 1500)
    ctx = restored({"base_url": "http://localhost:11434/v1"}, served_elsewhere)
    assert (ctx.window, ctx.budget) == (2000, 1200)
    ctx = restored({}, {**learnt, "window": None, "budget_tokens": 9000})  # never raised
    assert (ctx.window, ctx.budget) == (None, 1500)
    ctx = restored({}, {**learnt, "budget_tokens": 10})  # a longer system prompt since
    assert ctx.budget == ctx._least_budget(None)[0]


def test_clipping_megabytes_counts_little_more_than_what_is_kept():
    """Clipping a tool result of megabytes probed half of it, a quarter of it…: seconds
    of tokenizing on the critical path, before the next request could be sent."""
    from voicedesk.engine.context import _clip_tokens
    from voicedesk.engine.tokens import TokenCounter

    class Spy(TokenCounter):
        counted = 0

        def count(self, text: str) -> int:
            Spy.counted += len(text)
            return super().count(text)

    text = "line of a log file with the number 12345 and some text\n" * 100_000
    counter = Spy("gpt-4o-mini")
    kept = _clip_tokens(counter, text, 2000)
    assert 2000 * 0.8 <= counter.count(kept) <= 2000 and text.startswith(kept)
    assert Spy.counted < len(text) // 10


def _tool(name: str, words: int) -> dict:
    schema = {
        "type": "object",
        "properties": {"q": {"type": "string", "description": "x " * words}},
    }
    return {
        "type": "function",
        "function": {"name": name, "description": name, "parameters": schema},
    }


async def test_turns_leave_the_request_only_once_folded_when_tools_take_room():
    """The fold began once the window's turns came to 60% of the budget, as if the tool
    definitions (the documents tools: some 1900 tokens) took none of it: beside them and a
    full summary the window holds far less, and the oldest turns were left out of every
    request while not yet in the summary. The model no longer had what the person had
    said a few turns back, until enough turns had passed for the count to start a fold."""
    settings = Settings.model_validate({"context": {"budget_tokens": 6000, "window_turns": 8}})
    summary = "The person keeps notes on their crates. " * 150  # ~1300 tokens, under its share
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=_Answers(summary))
    ctx.summary = summary
    tools = [_tool("read_document", 900), _tool("edit_document", 900)]
    assert 1700 < ctx.tools_tokens(tools) < 2100
    for i in range(1, 16):
        text = f"Note {i}: crate {i} code ZX{i * 37}Q. " + "Spare parts and manuals. " * 45
        messages, _ = ctx.build_for(text, tools=tools, turn_id=i)
        sent = json.dumps(messages)
        unsent = [t.turn_id for t in ctx.turns if f"ZX{t.turn_id * 37}Q" not in sent]
        assert not unsent, f"turn {i}: turns {unsent} are neither sent nor in the summary"
        ctx.add_user(i, text)
        ctx.add_assistant(i, f"Noted, crate {i}.")
        ctx.maybe_summarize()
        await ctx.wait_summary()


class _Slower:
    """A summariser slower than the conversation: each summary lands only once the person
    has had ``turns`` more turns (a live model writes a whole summary, up to a quarter of
    the budget, while the person goes on talking)."""

    def __init__(self, turns: int) -> None:
        self.turns = turns
        self.turn = 0
        self.moved = asyncio.Condition()

    async def next_turn(self) -> None:
        async with self.moved:
            self.turn += 1
            self.moved.notify_all()
        for _ in range(5):  # a summary released lands before the next turn is built
            await asyncio.sleep(0)

    async def summarize(self, previous: str, messages: list, *, max_tokens: int, fits) -> str:
        start = self.turn
        async with self.moved:
            await self.moved.wait_for(lambda: self.turn >= start + self.turns)
        codes = re.findall(r"ZX\d+Q", json.dumps(messages))
        return f"{previous} The person noted the codes {', '.join(codes)}.".strip()


async def test_turns_leave_the_request_only_once_folded_while_summaries_take_turns():
    """With the documents tools on, the fold began in time but took one turn a summary
    (past the token mark, as many as the turn count was over: none): a summary taking two
    turns to come, the turns came faster than they were folded, and the oldest of them
    were left out of every request, in no summary, more of them each turn."""
    settings = Settings.model_validate({"context": {"budget_tokens": 6000, "window_turns": 8}})
    summariser = _Slower(turns=2)
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=summariser)
    ctx.summary = "The person keeps notes on their crates. " * 160  # an hour's: ~1350 tokens
    tools = [_tool("read_document", 900), _tool("edit_document", 900)]
    unsent: dict[int, list[int]] = {}
    for i in range(1, 31):
        text = f"Note {i}: crate {i} code ZX{i * 37}Q. " + "Spare parts and manuals. " * 30
        messages, _ = ctx.build_for(text, tools=tools, turn_id=i)
        sent = json.dumps(messages)
        missing = [t.turn_id for t in ctx.turns if f"ZX{t.turn_id * 37}Q" not in sent]
        if missing:
            unsent[i] = missing
        ctx.add_user(i, text)
        ctx.add_assistant(i, f"Noted, crate {i}. " + "It goes with the others on the shelf. " * 4)
        ctx.maybe_summarize()
        await summariser.next_turn()
    ctx.cancel()
    assert not unsent, f"turns neither sent nor in the summary: {unsent}"


def test_tools_too_big_for_the_budget_are_left_out_biggest_first():
    """A tool server listing huge schemas refused the start (the budget could not hold its
    definitions) or, up after the check, sent every request over the budget."""
    ctx = _ctx(budget=2_000)
    small = [_tool(f"docs__t{i}", 10) for i in range(5)]
    huge = _tool("big__everything", 50_000)
    kept, left_out = ctx.fit_tools([small[0], huge, *small[1:]])
    assert kept == small and left_out == ["big__everything"]
    assert ctx.tools_tokens(kept) <= 1_000  # TOOLS_SHARE of the budget
    ctx.check_room(kept)  # what the session checks at start: no refusal
    assert ctx.fit_tools(small) == (small, [])


def test_tool_definitions_in_other_scripts_are_counted_as_written():
    """A tool server describing its tools in Japanese or Russian had them counted escaped
    (東 as ``\\u6771``), at two to three times their size, so they were left out of the
    budget's tool share while they fitted."""
    ctx = _ctx(budget=2_000)
    description = "東京の天気予報を調べて、今日と明日の最高気温と最低気温を答えます。" * 8
    tool = {
        "type": "function",
        "function": {
            "name": "weather__forecast",
            "description": description,
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    as_written = ctx.counter.count(json.dumps([tool], ensure_ascii=False))
    assert ctx.tools_tokens([tool]) == as_written
    assert ctx.fit_tools([tool]) == ([tool], [])


async def test_a_summary_over_its_share_as_we_count_it_loses_no_fact():
    """The model keeps its summary within max_tokens in its own tokens, and ours (the
    offline tokenizer, with its 10% margin) count more: a summary that nearly filled its
    cap was clipped at its end, which in an "oldest first" summary holds the turns just
    folded, and those turns left the window. Their facts were in neither."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 4000, "window_turns": 2}})
    # 17 tokens a turn in the summary: the model's cap (1000) holds 58 of them
    facts = [f"Drawer {4172 + 37 * i} holds key {9035 - 53 * i}." for i in range(1, 57)]
    latency = SimLatency(ttft_s=0.0, tokens_per_s=0, stt_s=0.0, ttfb_s=0.0)
    async with SimServer(SimScript(), latency) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))
        try:
            for i, fact in enumerate(facts, 1):
                ctx.add_user(i, fact)
                ctx.add_assistant(i, "Noted.")
                ctx.maybe_summarize()
                await ctx.wait_summary()
                messages, tokens = ctx.build_for("What do you know?")
                known = json.dumps(messages)
                assert [f for f in facts[:i] if f not in known] == [], i
                assert tokens <= ctx.budget
        finally:
            await llm.aclose()
    assert ctx.summary_turns >= 50  # folded, not left waiting in the window


class _ShorterWhenAsked:
    """A model whose tokenizer counts fewer tokens than ours (o200k, Japanese): its first
    summary is within its cap but over the share as we count it; asked again, it
    compresses."""

    def __init__(self, long: str, short: str) -> None:
        self.answers, self.requests = [long, short], []

    async def stream(self, request):
        from voicedesk.providers.base import Finished, TextDelta

        self.requests.append(request)
        yield TextDelta(self.answers[min(len(self.requests), 2) - 1])
        yield Finished("stop")


async def test_a_summary_over_its_share_in_our_count_is_asked_for_compressed():
    """Clipped to fit, it lost its end, the facts of the turns just folded."""
    from voicedesk.engine.summarizer import Summarizer

    settings = Settings.model_validate({"context": {"budget_tokens": 1000, "window_turns": 2}})
    newest = "ロッカーの番号は四七一一です。"
    long = "会議は木曜日の十時に始まります。" * 30 + newest
    short = "会議は木曜日の十時。" + newest
    model = _ShorterWhenAsked(long, short)
    ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(model))
    await _fold(ctx, 1, 3)
    assert ctx.summary == short
    assert "compress the older facts" in model.requests[1].messages[0]["content"]


def test_text_in_tool_calls_is_counted_as_written_in_any_language():
    """Tool calls and messages in parts were counted as JSON with every non-ASCII letter
    escaped (東 as \\u6771): a search in Japanese or Russian counted two to three times its
    tokens, and the turns around it left the window early."""
    ctx = _ctx(4000)
    counter = ctx.counter
    for query in ("東京の会議の議事録", "протокол совещания в Москве", "Größe der Büroräume"):
        arguments = json.dumps({"query": query}, ensure_ascii=False)
        call = {"id": "call_1", "type": "function"}
        call["function"] = {"name": "docs__search", "arguments": arguments}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        as_written = json.dumps([call], ensure_ascii=False)
        assert counter.message(message) <= 4 + counter.count(as_written), query
        parts = [{"type": "text", "text": query}]
        as_written = json.dumps(parts, ensure_ascii=False)
        assert counter.message({"role": "user", "content": parts}) <= 4 + counter.count(as_written)


async def test_an_answer_whose_stream_ends_unfinished_is_not_kept_as_whole(tmp_path, monkeypatch):
    """A stream that stops after three words with its body closed properly (no finish
    reason, no [DONE]: a proxy giving up) read as a whole answer: "Noted, that is" was
    spoken, logged and kept in the history as the model's answer, and nothing was said
    of a failure. It is a failure now: said once, and kept as cut off by it."""
    from voicedesk import events as ev
    from voicedesk.engine.resume import restore_state
    from voicedesk.sim.script import SimScript

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.model_validate({"tools": {"docs_server": False}})
    script = SimScript(default_reply="Noted, that is the third drawer from the left.")
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    async with session_over_sim(tmp_path, settings, script, with_tools=False, bus=bus) as (
        server,
        session,
    ):
        server.inject("llm", "end")
        await converse_in_text(session, ["Where do I keep the spare keys?"])
    [record] = session.records
    assert record.error
    assert [e for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    [turn] = session.context.snapshot()["turns"]
    kept = [m["content"] for m in turn["messages"] if m["role"] == "assistant"]
    assert kept in ([], [record.heard_text.strip() + FAILED_MARK])
    assert restore_state(session.log.path)[0]["turns"] == [turn]


async def test_a_summary_whose_stream_ends_unfinished_keeps_the_last_one():
    """Broken off after three words with no error, "Person: My locker" replaced the
    running summary: every code the person had said was forgotten."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 1000, "window_turns": 2}})
    async with SimServer(SimScript(), SimLatency(ttft_s=0.0, tokens_per_s=0)) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))
        try:
            for i in range(1, 7):
                if i == 6:
                    sim.inject("llm", "end")
                ctx.add_user(i, f"My locker code number {i} is {i * 1111}.")
                ctx.add_assistant(i, "Noted.")
                ctx.maybe_summarize()
                await ctx.wait_summary()
        finally:
            await llm.aclose()
    assert "1111" in ctx.summary and "3333" in ctx.summary
    assert [t.turn_id for t in ctx.turns] == [4, 5, 6]  # still in the window


async def test_an_answer_stopped_at_max_tokens_is_kept_and_said_as_cut_off(tmp_path, monkeypatch):
    """The model ran into llm.max_tokens mid-sentence (finish_reason "length"): the person
    heard the answer stop with no word of why, and the history kept it as the model's
    whole answer. It is said now (with the setting to raise), and kept as cut off there,
    live and resumed alike."""
    from voicedesk import events as ev
    from voicedesk.engine.context import CUT_MARKS
    from voicedesk.engine.resume import restore_state
    from voicedesk.sim.script import SimScript

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.model_validate({"tools": {"docs_server": False}, "llm": {"max_tokens": 16}})
    long = " ".join(f"Step {i} is to check the drawer." for i in range(1, 9))
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    session = await typed_over_sim(
        tmp_path,
        settings,
        SimScript(default_reply=long),
        ["How do I find the spare keys?"],
        with_tools=False,
        bus=bus,
    )
    [record] = session.records
    assert record.reached_max_tokens and record.heard_text and long.startswith(record.heard_text)
    notices = [e.message for e in seen if isinstance(e, ev.Notice)]
    assert any("llm.max_tokens" in n for n in notices), notices
    [turn] = session.context.snapshot()["turns"]
    assert turn["messages"][-1]["content"] == record.heard_text.strip() + CUT_MARKS["length"]
    assert restore_state(session.log.path)[0]["turns"] == [turn]


async def test_failing_summaries_are_said_once_and_tried_again_less_often():
    """Rate-limited (HTTP 429), every turn started a summary, two requests with the
    client's retry, each refused and each shown as a warning: fifteen in twenty turns, and
    all of them taken from the limit the person's own turns were waiting on. Failed, the
    next attempt waits for more turns each time; the person is told once."""
    from voicedesk import events as ev
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 3000, "window_turns": 4}})
    bus = ev.EventBus()
    notices: list[str] = []
    bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)
    async with SimServer(SimScript(), SimLatency(ttft_s=0.0, tokens_per_s=0)) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        summarizer = Summarizer(llm, bus)
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=summarizer, bus=bus)
        sim.inject("llm", "429", times=1000)
        try:
            for i in range(1, 41):
                ctx.add_user(i, f"Note {i}: item {i} costs {i * 3} euros.")
                ctx.add_assistant(i, "Noted.")
                ctx.maybe_summarize()
                await ctx.wait_summary()
                if i == 20:
                    assert len(sim.chat_requests()) <= 8  # 30 before
                    sim._faults["llm"].clear()  # the limit is lifted
        finally:
            await llm.aclose()
    assert len([n for n in notices if n.startswith("Summary failed")]) == 1
    assert "Note 1:" in ctx.summary and len(ctx.turns) <= 8  # summaries again since


async def test_what_was_said_before_a_tool_call_is_in_the_history_once(tmp_path, monkeypatch):
    """'Let me look.' before a tool call went into the history twice: as the tool call's
    own words and again at the head of the answer as heard, so the model read itself
    saying it twice (and paid for it every turn, once more for each tool round)."""
    from voicedesk.engine.resume import restore_state
    from voicedesk.sim.script import SimScript, SimToolCall, SimTurn

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "report.md").write_text("Region north grew by four percent.\n")
    read = SimToolCall(name="docs__read_document", arguments={"path": "report.md"})
    asked = "How did the north do?"
    script = SimScript(
        turns=[
            SimTurn(transcript=asked, preamble="Let me look.", reply="It grew.", tool_calls=[read])
        ]
    )
    settings = Settings.model_validate({"tools": {"workspace": str(workspace)}})
    session = await typed_over_sim(tmp_path, settings, script, [asked], with_tools=True)
    [record] = session.records
    assert record.heard_text == "Let me look. It grew."
    [turn] = session.context.snapshot()["turns"]
    said = [m.get("content") or "" for m in turn["messages"] if m["role"] == "assistant"]
    assert " ".join(said).count("Let me look.") == 1, said
    assert "It grew." in said[-1]
    assert restore_state(session.log.path)[0]["turns"] == [turn]


def test_an_answer_that_is_only_what_was_said_before_its_tools_is_kept_as_heard():
    """Left out whole, such an answer was an empty assistant message, which some
    OpenAI-compatible servers refuse. Cut, it is the cut mark alone, where it was cut: kept
    as heard, the model read "Let me look." twice, the second time cut."""
    from voicedesk.engine.context import CUT_MARKS, PART_HEARD, answer_message

    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    earlier = [
        {"role": "user", "content": "How did the north do?"},
        {"role": "assistant", "content": "Let me look.", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "It grew."},
    ]
    assert answer_message(earlier, "Let me look. It grew.", None)["content"] == "It grew."
    assert answer_message(earlier, "Let me look.", None)["content"] == "Let me look."
    cut = answer_message(earlier, "Let me look.", "interrupted")["content"]
    assert cut == CUT_MARKS["interrupted"].strip()
    # cut partway through them, the mark says how far the person heard: "Let me [cut off]"
    # read as the sentence begun again after the call that had it whole
    cut = answer_message(earlier, "Let me", "interrupted")["content"]
    assert cut == PART_HEARD.format(heard="Let me") + CUT_MARKS["interrupted"]


def test_token_counting_starts_where_the_network_never_answers(tmp_path) -> None:
    """tiktoken downloads an encoding it has not cached with no timeout: behind a firewall
    that drops packets, or a proxy that never answers, the session hung at start for good
    (SIGTERM and Ctrl-C included). It now counts with the bundled encoding instead."""
    import os
    import socket
    import subprocess
    import sys

    import voicedesk

    with socket.socket() as silent:  # takes connections (the kernel does) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        proxy = f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
        env.update(
            HTTPS_PROXY=proxy,
            https_proxy=proxy,
            TIKTOKEN_CACHE_DIR=str(tmp_path / "no-cache-yet"),
            PYTHONPATH=os.path.dirname(os.path.dirname(os.path.realpath(voicedesk.__file__))),
        )
        code = "from voicedesk.engine.tokens import TokenCounter; print(TokenCounter('gpt-4o-mini').source)"
        # the timeout only keeps a regression from hanging the suite
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cl100k_base (offline) +10%"


@pytest.mark.parametrize(
    "language, said",
    [
        (
            "russian",
            "Встреча с Анной переносится на четверг в три часа, а в записке о бюджете "
            "нужно добавить ещё две цифры до пятницы.",
        ),
        (
            "japanese",
            "アンナとの会議は木曜日の三時に変わり、予算メモには金曜日までに数字が二つ要る。",
        ),
    ],
)
async def test_the_summary_room_is_asked_for_in_the_conversations_own_words(language, said):
    """The summariser was told its room as 0.7 English words a token: a Russian word is
    about three tokens as we count it, so a Russian summary of that many words was over
    its cap twice (asked again, compressed, and over again) and every summary failed; in
    Japanese, which has no spaces, "words" meant nothing. The room is asked for in this
    conversation's own words per token, or in characters where it has no spaces, and
    that much of its text fits the summary's share."""
    import re

    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer, _is_summary

    settings = Settings.model_validate({"context": {"budget_tokens": 2000, "window_turns": 2}})
    latency = SimLatency(ttft_s=0.0, tokens_per_s=0, stt_s=0.0, ttfb_s=0.0)
    async with SimServer(SimScript(), latency) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))
        try:
            for i in range(1, 5):
                ctx.add_user(i, f"{i}. {said}")
                ctx.add_assistant(i, said)
                ctx.maybe_summarize()
                await ctx.wait_summary()
        finally:
            await llm.aclose()
        (request, *_) = [b for b in sim.chat_requests() if _is_summary(b["messages"])]
    share = int(ctx.budget * 0.25)
    instruction = request["messages"][0]["content"]
    if language == "japanese":
        (chars,) = re.findall(r"at most (\d+) characters", instruction)
        text = (said * 100)[: int(chars)]
    else:
        (words,) = re.findall(r"at most (\d+) words", instruction)
        text = " ".join((said.split() * 100)[: int(words)])
    assert ctx.counter.count(text) <= share, instruction


async def test_the_turn_being_answered_is_never_folded_under_its_answer():
    """A long text typed (pasted) while summaries run: the turn is in the history from its
    confirmation, its answer still to come, and the summaries folded the turns before it
    one by one, as over the budget, and then the pasted turn itself. Its answer then
    opened a turn of its own, an answer to no question in the window, and the session
    log's summary record had the turn folded: ``--resume`` left the answer out."""
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SimLatency, SimServer

    settings = Settings.model_validate({"context": {"budget_tokens": 3000, "window_turns": 4}})
    pasted = "Keep this report in mind. " + " ".join(
        f"Dock {i} ships order {i * 111} on day {i}." for i in range(200)
    )
    latency = SimLatency(ttft_s=0.0, tokens_per_s=0, stt_s=0.0, ttfb_s=0.0)
    async with SimServer(SimScript(), latency) as sim:
        llm = OpenAIChat(api_key="sk-sim", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        ctx = ContextManager(settings, model="gpt-4o-mini", summarizer=Summarizer(llm))
        folded: list[int] = []
        ctx.on_summary = lambda summary, ids, turns, calls, partly: folded.extend(ids)
        try:
            for i in range(1, 4):
                ctx.add_user(i, f"Question {i}?")
                ctx.add_assistant(i, f"Answer {i}.")
            ctx.add_user(4, pasted)  # confirmed: its answer is being made
            assert ctx.counter.count(pasted) > ctx.budget * 0.6
            ctx.maybe_summarize()  # as a summary finishing meanwhile chains the next
            await ctx.wait_summary()
            ctx.add_assistant(4, "I have it in mind.")
        finally:
            await llm.aclose()
    assert 4 not in folded
    (turn,) = [t for t in ctx.turns if t.turn_id == 4]
    assert [m["role"] for m in turn.messages] == ["user", "assistant"]


def test_a_tool_results_call_id_is_counted():
    """A tool result is sent with the id of the call it answers ("call_" and 24 random
    letters and digits, some 15 tokens as OpenAI issues them), and was counted as its text
    alone: a window of tool results ran that much over the budget, which can be the
    model's whole window less the reply."""
    counter = _ctx(4000).counter
    call_id = "call_Jx8ZH3kx0QmV7bTq2LwPe9Rs"
    result = {"role": "tool", "tool_call_id": call_id, "content": "Created eggs.md."}
    assert counter.count(call_id) >= 10
    assert counter.message(result) >= 4 + counter.count(call_id) + counter.count("Created eggs.md.")


def test_the_thinking_sent_back_with_tool_calls_is_kept_and_counted():
    """DeepSeek's thinking mode refuses every later request whose tool-call messages lack
    the thought they came of ("must be fully passed back to the API in all subsequent
    requests"): it was dropped once the answer was done, and the next turn failed with
    HTTP 400. Kept, it is sent, so it is counted: often longer than the calls."""
    from voicedesk.engine.context import compact_tool_results

    thought = "Let me look at the plan before I answer, it should say whose it is. " * 20
    call = {
        "role": "assistant",
        "content": None,
        "reasoning_content": thought,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "docs__read_document", "arguments": '{"path": "plan.md"}'},
            }
        ],
    }
    result = {"role": "tool", "tool_call_id": "call_1", "content": "x" * 10_000}
    kept = compact_tool_results([call, result])
    assert kept[0]["reasoning_content"] == thought
    counter = _ctx(4000).counter
    bare = {k: v for k, v in call.items() if k != "reasoning_content"}
    assert counter.message(call) >= counter.message(bare) + counter.count(thought)


async def test_a_typed_text_cut_to_fit_the_budget_is_said_to_be_cut(tmp_path, monkeypatch):
    """A text typed (or pasted) over the whole budget is sent cut to what fits: the model
    was given its beginning as if that were all of it, and the person was not told, so a
    question at its end went unanswered with no word of why. The model now reads that it
    was cut, and the person is told once what was sent and what to raise."""
    from voicedesk import events as ev
    from voicedesk.sim.server import _is_summary

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = Settings.model_validate(
        {"tools": {"docs_server": False}, "context": {"budget_tokens": 800}}
    )
    pasted = "lorem ipsum dolor sit amet " * 600 + "When is the deadline?"
    async with session_over_sim(
        tmp_path, settings, sim={"ttft_s": 0.1}, output_path=tmp_path / "out.wav", with_tools=False
    ) as (server, session):
        notices: list[ev.Notice] = []
        session.bus.subscribe(lambda e: notices.append(e) if isinstance(e, ev.Notice) else None)
        await session.start()
        try:
            await typed_and_answered(session, pasted)
        finally:
            await session.stop()
    (request,) = [b["messages"] for b in server.chat_requests() if not _is_summary(b["messages"])]
    sent = request[-1]["content"]
    assert sent.startswith("lorem ipsum") and sent.endswith(CLIPPED_MARK)
    assert session.context.counter.messages(request) <= 800
    cut = [n for n in notices if "context.budget_tokens" in n.message]
    assert len(cut) == 1 and cut[0].level == "warning", notices


def test_a_local_language_model_counts_tokens_without_reaching_the_internet(tmp_path) -> None:
    """With llm.base_url on a local server (Ollama, LM Studio, llama.cpp), every start
    still looked up openaipublic.blob.core.windows.net and fetched OpenAI's tokenizer file
    for tiktoken (strace: a DNS query at each start, then an HTTPS request where there is a
    network): a conversation meant to stay on the machine told the network it ran, and
    waited up to 5 s at start where the network dropped packets. A local server's model is
    not OpenAI's, so its own tiktoken encoding means nothing: the bundled one counts."""
    import os
    import socket
    import subprocess
    import sys

    import voicedesk

    with socket.socket() as proxy_socket:  # any request for the tokenizer file comes here
        proxy_socket.bind(("127.0.0.1", 0))
        proxy_socket.listen(16)
        proxy = f"http://127.0.0.1:{proxy_socket.getsockname()[1]}"
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy",)}
        env.pop("OPENAI_BASE_URL", None)
        env.update(
            HTTPS_PROXY=proxy,
            https_proxy=proxy,
            HTTP_PROXY=proxy,
            http_proxy=proxy,
            TIKTOKEN_CACHE_DIR=str(tmp_path / "no-cache-yet"),
            PYTHONPATH=os.path.dirname(os.path.dirname(os.path.realpath(voicedesk.__file__))),
        )
        code = (
            "from voicedesk.config import Settings\n"
            "from voicedesk.engine.context import ContextManager\n"
            "from voicedesk.engine.summarizer import Summarizer\n"
            "from voicedesk.providers.openai_llm import OpenAIChat\n"
            "s = Settings.model_validate({'llm': {'base_url': 'http://127.0.0.1:11434/v1'}})\n"
            "llm = OpenAIChat(api_key='x', model=s.llm.model, base_url=s.llm.base_url)\n"
            "ctx = ContextManager(s, model=s.llm.model, summarizer=Summarizer(llm))\n"
            "print(ctx.counter.source, '|', ctx.summarizer.counter.source)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
        )
        proxy_socket.settimeout(0.2)
        try:
            proxy_socket.accept()[0].close()
            reached = True
        except TimeoutError:
            reached = False
    assert done.returncode == 0, done.stderr
    assert not reached, "the tokenizer file was asked for over the network"
    assert done.stdout.strip() == "cl100k_base (offline) +10% | cl100k_base (offline) +10%"


async def test_a_summary_cut_at_its_cap_is_seen_and_the_bench_counts_the_turns_it_lost():
    """The simulated model cut a summary at its cap without a word (``finish_reason``
    "stop"): the end of an "oldest first" summary, the turns just folded, was lost unseen,
    and ``bench context`` could not show it (at 200 turns its summary ended at turn 30).
    The cut now says "length", as a model does, the summary is asked for once more, and
    the bench counts the cuts and the folded turns the summary has no trace of."""
    result = await run_context_bench(30, budget=1000, window=4)
    assert result["summaries_cut"] >= 1 and result["summaries_failed"] == 0
    assert result["turns_lost_from_summary"] >= 1
    summaries = [c for c in result["calls"] if c["kind"] == "summary"]
    assert len(summaries) >= 2 * result["summaries_cut"]  # each cut one asked for again
