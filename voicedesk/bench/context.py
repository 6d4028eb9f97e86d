"""``voicedesk bench context``: a long conversation against the simulated cloud, prompt sizes.

Drives the real ContextManager, Summarizer and Chat Completions client turn after turn
(typed turns: this benchmark is about what reaches the model, not about audio) and reads
back from the simulated cloud what each request carried. A fact planted in turn 3 must
still reach the model at the last turn, through the summary or the window. Summaries the
model cut at their cap (each asked for again, compressed) and those that failed even so
are counted, and the folded turns the last summary has no trace of: a cut summary has
lost its end, the turns it had just folded.

``blocking`` says whether a call sat on a turn's critical path: turn calls always do; a
summary call would only if a turn had to wait for it, which is measured (the time from the
person's text to the turn's request), not assumed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

FACT = "my locker code is 4 7 1 1"
FACT_KEY = "4 7 1 1"
MAX_TURNS = 1000  # a few minutes of simulated conversation
_BLOCKED_S = 0.05  # extra median wait (s) that would mean summaries hold turns up


def add_parser(sub: argparse._SubParsersAction) -> None:
    from voicedesk.bench import bench_parser

    p = bench_parser(sub, "context", "prompt size over a long simulated conversation", __doc__)
    p.add_argument("--turns", type=int, default=60, help="conversation length (turns)")
    p.add_argument(
        "--budget", type=int, help="context.budget_tokens (default: the built-in default)"
    )
    p.add_argument(
        "--window", type=int, help="context.window_turns (default: the built-in default)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicedesk.errors import UserError

    if args.turns < 4:
        raise UserError(f"--turns {args.turns} is too short", f"use 4 … {MAX_TURNS} turns")
    # 60 turns took 13 s here, so a typo's extra zeros (--turns 60000) ran for hours.
    if args.turns > MAX_TURNS:
        raise UserError(
            f"--turns {args.turns} is too long", f"use 4 … {MAX_TURNS} turns (default 60)"
        )
    check_context_flags(args)
    result = asyncio.run(run_context_bench(args.turns, budget=args.budget, window=args.window))
    if args.json:
        print(json.dumps(result))
    else:
        turns = [c for c in result["calls"] if c["kind"] == "turn"]
        sizes = [c["prompt_tokens"] for c in turns]
        print(f"budget {result['budget_tokens']} tokens, {len(turns)} turns")
        print(f"prompt tokens: first {sizes[0]}, max {max(sizes)}, last {sizes[-1]}")
        print(f"summary calls: {sum(c['kind'] == 'summary' for c in result['calls'])}")
        print(f"turns answered while a summary ran: {result['turns_overtook_summary']}")
        print(
            f"summaries cut at their cap: {result['summaries_cut']}, "
            f"failed even so: {result['summaries_failed']}; folded turns missing from the "
            f"summary: {result['turns_lost_from_summary']}"
        )
        print(f"fact from turn 3 reached the model at the end: {result['fact_reached_model']}")
    return 0


def check_context_flags(args: argparse.Namespace) -> None:
    """--budget and --window hold the settings' own limits (0 is a value, not "unset")."""
    from pydantic import ValidationError

    from voicedesk.config import ContextSettings
    from voicedesk.errors import UserError

    for flag, key in (("--budget", "budget_tokens"), ("--window", "window_turns")):
        value = getattr(args, flag[2:])
        if value is None:
            continue
        try:
            ContextSettings.model_validate({key: value})
        except ValidationError as exc:
            raise UserError(
                f"{flag} {value} is not allowed: {exc.errors()[0]['msg']}",
                f"leave {flag} out for the default context.{key}",
            ) from None


def _user_text(i: int) -> str:
    if i == 3:
        return f"Please remember this, {FACT}."
    return f"Turn {i}: tell me one thing about topic number {i} in a sentence or two."


def _reply(i: int) -> str:
    return (
        f"Here is something about topic {i}: it has a long history, a few surprises, and "
        "people who care about it a great deal."
    )


async def run_context_bench(
    turns: int,
    *,
    budget: int | None = None,
    window: int | None = None,
    words_per_chunk: int = 1,
) -> dict[str, Any]:
    """The run's calls and what they carried. ``words_per_chunk``: how many words each
    streamed chunk of an answer or summary carries (one, as a model streams): the prompt
    sizes do not depend on it, and a test of them over hundreds of turns spent most of its
    time parsing one-word chunks."""
    from voicedesk.config import Settings
    from voicedesk.engine.context import ContextManager
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.engine.tokens import TokenCounter
    from voicedesk.providers.base import ChatRequest, TextDelta
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript, SimTurn
    from voicedesk.sim.server import SimLatency, SimServer, _is_summary

    data: dict[str, Any] = {"context": {}}
    if budget is not None:
        data["context"]["budget_tokens"] = budget
    if window is not None:
        data["context"]["window_turns"] = window
    settings = Settings.model_validate(data)
    script = SimScript(
        turns=[SimTurn(transcript=_user_text(i), reply=_reply(i)) for i in range(1, turns + 1)]
    )
    # A chunk as often as a word came: a summary takes as many turns' time as it did,
    # which is what sets how many turns it lets through (and so the prompts' sizes).
    latency = SimLatency(
        ttft_s=0.02,
        tokens_per_s=3000 * words_per_chunk,
        stt_s=0.0,
        ttfb_s=0.0,
        words_per_chunk=words_per_chunk,
    )
    calls: list[dict[str, Any]] = []
    async with SimServer(script, latency) as sim:
        llm = OpenAIChat(api_key="sk-sim", model=settings.llm.model, base_url=f"{sim.base_url}/v1")
        summarizer = Summarizer(llm)
        ctx = ContextManager(settings, model=settings.llm.model, summarizer=summarizer)
        counter = TokenCounter(settings.llm.model)
        waits: list[float] = []
        during_summary: list[bool] = []
        overtook: list[bool] = []  # answered while the summary it started beside still ran
        seen = 0
        for i in range(1, turns + 1):
            task = ctx._summary_task
            during_summary.append(task is not None and not task.done())
            t_text = time.perf_counter()
            messages, _tokens = ctx.build_for(_user_text(i))
            request = ChatRequest(messages=messages, max_tokens=settings.llm.max_tokens)
            stream = llm.stream(request)
            first = await anext(stream)
            waits.append(time.perf_counter() - t_text)
            overtook.append(during_summary[-1] and task is not None and not task.done())
            text = first.text if isinstance(first, TextDelta) else ""
            async for item in stream:
                if isinstance(item, TextDelta):
                    text += item.text
            ctx.add_user(i, _user_text(i))
            ctx.add_assistant(i, text)
            ctx.maybe_summarize()
            # what reached the simulated cloud since the last turn, in order
            for body in sim.chat_requests()[seen:]:
                kind = "summary" if _is_summary(body["messages"]) else "turn"
                calls.append(
                    {
                        "turn": i,
                        "kind": kind,
                        "prompt_tokens": counter.messages(body["messages"]),
                        "blocking": kind == "turn",
                        "_text": json.dumps(body["messages"]),
                    }
                )
            seen = len(sim.chat_requests())
            await asyncio.sleep(0)  # let a background summary make progress, as a live loop would
        await ctx.wait_summary()
        for body in sim.chat_requests()[seen:]:
            calls.append(
                {
                    "turn": turns,
                    "kind": "summary" if _is_summary(body["messages"]) else "turn",
                    "prompt_tokens": counter.messages(body["messages"]),
                    "blocking": False,
                    "_text": json.dumps(body["messages"]),
                }
            )
        await llm.aclose()
    # Did turns that started while a summary was running wait longer than the others? Only
    # if none of them was answered before its summary ended: a slower median alone can be a
    # busy machine, and a turn that overtook the summary was not held up by it.
    busy = [w for w, d in zip(waits, during_summary, strict=True) if d]
    idle = [w for w, d in zip(waits, during_summary, strict=True) if not d]
    slower = bool(busy and idle) and statistics.median(busy) - statistics.median(idle) > _BLOCKED_S
    blocked = slower and not any(overtook)
    for call in calls:
        if call["kind"] == "summary":
            call["blocking"] = blocked
    last_turn = [c for c in calls if c["kind"] == "turn"][-1]
    folded_fact = any(c["kind"] == "summary" and FACT_KEY in c["_text"] for c in calls)
    result = {
        "budget_tokens": ctx.budget,
        "window_turns": ctx.window_turns,
        "token_counting": counter.source,
        "calls": [{k: v for k, v in c.items() if not k.startswith("_")} for c in calls],
        "fact_reached_model": FACT_KEY in last_turn["_text"],
        "fact_in_summary_request": folded_fact,
        "turn_wait_p50_ms": round(statistics.median(waits) * 1000, 1),
        # Turns whose answer began while the summary running beside them had not ended:
        # one is proof that summaries do not hold turns up, whatever the machine's load
        # (a turn that waited for its summary could never be answered before it ended).
        "turns_overtook_summary": sum(overtook),
        # Summaries the model cut at their cap (or wrote over their share), each asked
        # again once, and those that failed even so (their turns stayed in the window):
        # a cut no one saw lost the summary's end, the turns just folded.
        "summaries_cut": summarizer.cut_offs,
        "summaries_failed": ctx.summaries_failed,
        # folded turns the last summary has no trace of: what a cut at its end lost
        "turns_lost_from_summary": _lost(turns, {t.turn_id for t in ctx.turns}, ctx.summary),
        "summary": ctx.summary,
    }
    return result


def _lost(turns: int, in_window: set[int], summary: str) -> int:
    """How many turns left the window (folded) whose words the summary does not have."""
    mark = {i: f"Turn {i}:" for i in range(1, turns + 1)} | {3: FACT_KEY}
    return sum(i not in in_window and mark[i] not in summary for i in mark)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(argparse.Namespace(turns=60, budget=None, window=None, json=True)))
