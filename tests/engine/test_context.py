"""Context management: bounded prompts, background summaries, facts that survive."""

from __future__ import annotations

from voicedesk.bench.context import run_context_bench
from voicedesk.config import Settings
from voicedesk.engine.context import CUT_MARK, ContextManager


async def test_200_turns_stay_within_budget_flat_and_remember_turn_3():
    result = await run_context_bench(200, budget=3000, window=6)
    turns = [c for c in result["calls"] if c["kind"] == "turn"]
    summaries = [c for c in result["calls"] if c["kind"] == "summary"]
    assert len(turns) == 200
    assert all(c["prompt_tokens"] <= result["budget_tokens"] for c in result["calls"])
    # flat once the window has filled: the second half is no bigger than the first half's peak
    sizes = [c["prompt_tokens"] for c in turns]
    assert max(sizes[100:]) <= max(sizes[20:100]) * 1.05
    assert len(summaries) >= 10 and not any(c["blocking"] for c in summaries)
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
    ctx.add_assistant(1, "The memo says forty", interrupted=True)
    messages, _ = ctx.build_for("go on")
    tool = next(m for m in messages if m["role"] == "tool")
    assert len(tool["content"]) < 600
    assert messages[-2]["content"] == "The memo says forty" + CUT_MARK
    ctx.drop_turn(1)
    assert ctx.build_for("x")[0][1:] == [{"role": "user", "content": "x"}]


class _Answers:
    """A summariser whose model answers with the given texts in turn (garbage included)."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)

    async def summarize(self, previous: str, messages: list, *, max_tokens: int) -> str:
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
