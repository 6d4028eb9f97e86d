"""The conversation as the LLM sees it: system prompt, running summary, recent window.

Kept bounded so TTFT and cost stay flat however long the conversation runs:

* the last ``window_turns`` turns go verbatim;
* older turns are folded into a running summary by the LLM **in the background**
  (``maybe_summarize`` after a turn finishes); a turn never waits for it — until the new
  summary lands, the turns being folded simply stay in the window;
* tool results are compacted once the answer that used them is done;
* a hard ``budget_tokens`` is never exceeded: if needed the oldest window turns are left out
  (they are in the summary, or about to be), a past turn too big for half the room left is
  shown clipped, and, as a last resort, the new text is clipped (marked as cut, and the
  person told);
* the budget also has to fit the model's context window, which the server counts in its own
  tokens: when it refuses a request as too long anyway, ``fit_refused`` lowers the budget
  for the rest of the session (to what fits the window, when the refusal or
  ``llm.context_window`` says it) and the request is built again within it. What it learnt
  goes to the session log (``on_window``), so ``--resume`` starts within it (``restore``).

Interrupted answers are kept as what was heard, marked as cut off, so the model knows the
person did not hear the rest.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from voicedesk import events as ev
from voicedesk.config import Settings, check_context_window
from voicedesk.engine.tokens import TokenCounter, as_json
from voicedesk.errors import ContextTooLongError, UserError
from voicedesk.loopback import openai_address

log = logging.getLogger(__name__)

DEFAULT_SYSTEM_PROMPT = (
    "You are voicedesk, a voice assistant on the person's computer. Everything you write is "
    "spoken aloud, so answer the way a helpful person would talk: short sentences, the answer "
    "first, usually one to three sentences. No markdown, lists, headings, emoji or URLs; say "
    "numbers and symbols as words where it helps. If something is unclear, ask one short "
    "question. When a tool is running, say briefly what you are doing. If an answer of yours "
    "was cut off, the person heard only the part shown; do not assume they heard the rest."
)
CUT_MARK = " [cut off: the person interrupted here]"
# An answer a provider failure stopped partway: the person did not break in, and the model
# must not take it that they did (nor that they heard the rest).
FAILED_MARK = " [cut off here: a failure stopped the answer]"
# An answer the model stopped at llm.max_tokens: it ends mid-sentence, and the model must
# not take it for what it meant to say.
LENGTH_MARK = " [cut off here: the answer reached its length limit]"
# An answer voicedesk stopped playing when it was killed (kill -9, a power cut): its log
# kept what had been heard so far (``Session._log_progress``), and the rest never was.
LOST_MARK = " [cut off here: voicedesk stopped while this was being said]"
# The rest of an answer whose calls went on in the background, cut before the person heard
# it (they spoke or typed, or the voice failed; a cut mark before it says which, when some
# of it was heard): kept for what it tells the model of those calls.
UNHEARD_MARK = " [not heard: this was never played to the person]"
# The words the model said with a tool call, cut before the person heard them whole: they
# are whole in the call's message, and this says how far the person got.
PART_HEARD = "[the person heard only “{heard}” of the words said with the tool call before]"
CUT_MARKS = {
    "interrupted": CUT_MARK,
    "failed": FAILED_MARK,
    "length": LENGTH_MARK,
    "lost": LOST_MARK,
    "unheard": UNHEARD_MARK,
}
TOOL_RESULT_KEEP_CHARS = 400
SUMMARY_SHARE = 0.25  # of the budget, at most, for the running summary
TOOLS_SHARE = 0.5  # of the budget, at most, for the tool definitions
MIN_TURN_ROOM = 100  # tokens a budget must leave for a turn beside the fixed parts
SUMMARY_OVERHEAD = 120  # the summariser's instruction and headers
# Of the window's token mark, what a fold brings its turns down to: room for the turns that
# come while the summary is made (as a batch of half the window's turns is for the count).
FOLD_TO = 2 / 3
CLIPPED_MARK = " …[cut to fit the context budget]"
# The longest wait, in turns, before a summary is tried again while summaries keep failing.
SUMMARY_RETRY_MAX_TURNS = 16
# Of the room a known window leaves, what the budget takes after a refusal: the server's
# count of the same text differs from ours (another tokenizer, its chat template).
WINDOW_MARGIN = 0.9


@dataclass
class _Turn:
    turn_id: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    # Of ``messages``, those a summary has taken in already, by ``message_key``: the turn
    # stayed in the window because it changed while it was being folded
    # (``add_dropped_calls``). The next summary is given only the others. Keys rather than
    # the messages themselves, so that the summary record can name them and ``--resume``,
    # which rebuilds the turn's messages from the log, can tell them again.
    summarised: list[str] = field(default_factory=list)
    # In ``summary_turns`` already: folded once, and back in the window for calls dropped
    # after that (``add_dropped_calls``); folding it again adds nothing to the count.
    counted: bool = False
    # What ``answer_message`` made the answer of (heard, cut, unheard): calls dropped later
    # go in before it, and the words said before them are then left out of it again.
    answer_said: tuple[str, str | None, str] | None = None

    def unsummarised(self) -> list[dict[str, Any]]:
        """The messages no summary has taken in yet, in order."""
        left = list(self.summarised)
        out = []
        for message in self.messages:
            key = message_key(message)
            if key in left:
                left.remove(key)
            else:
                out.append(message)
        return out


def message_key(message: dict[str, Any]) -> str:
    """What tells a message apart within its turn, live and as ``--resume`` rebuilds it:
    the person's words, each round of tool calls and each result by their call ids, the
    answer. Not its text: the answer's is worked out again on resume (``answer_message``),
    and a tool result's is compacted once the answer that used it is done."""
    role = str(message.get("role"))
    if role == "tool":
        return f"tool:{message.get('tool_call_id')}"
    calls = message.get("tool_calls")
    if role == "assistant" and calls:
        ids = [str(c.get("id")) for c in calls if isinstance(c, dict)]
        return "calls:" + ",".join(ids)
    return "answer" if role == "assistant" else role


class ContextManager:
    def __init__(
        self,
        settings: Settings,
        *,
        model: str,
        summarizer: Any | None = None,
        bus: ev.EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.model = model  # a window learnt from a refusal is this model's: resume checks it
        # ...as served there: one model name can be a 128k cloud model and an 8k local one.
        # The server the SDK uses: llm.base_url, else OPENAI_BASE_URL (how `voicedesk sim`
        # and most local servers are reached; unset, a lesson learnt there was applied to
        # every server reached that way).
        base = openai_address(settings.llm.base_url)
        self.endpoint = base.rstrip("/") if base else None
        self.budget = settings.context.budget_tokens
        # The model's context window: configured, or learnt from a refusal (then kept for
        # the session, and across --resume). None: not known, and nothing refused so far.
        self.window = settings.llm.context_window
        self.max_tokens = settings.llm.max_tokens  # each request's room for the reply
        self.window_turns = settings.context.window_turns
        self.system_prompt = settings.llm.system_prompt or DEFAULT_SYSTEM_PROMPT
        self.counter = TokenCounter.for_server(model, settings.llm.base_url)
        self.summarizer = summarizer
        self.bus = bus
        self.summary = ""
        self.summary_turns = 0  # turns folded into the summary so far
        self.turns: list[_Turn] = []
        self._summary_task: asyncio.Task[None] | None = None
        self.summaries_made = 0
        self.summaries_failed = 0  # all told, for ``bench context`` (the log has no record)
        self._turns_added = 0  # turns the history has taken in, counted for the retry wait
        self._failed_summaries = 0  # summaries failed in a row
        self._retry_at = 0  # the next summary waits until _turns_added reaches this
        # The last summary was refused as too long for the model's window: a refusal that
        # lowers the budget (``fit_refused``) ends its wait.
        self._summary_too_long = False
        self.last_prompt_tokens = 0
        # the tool definitions the last request carried: room the window's turns do not have
        self._tools_part = 0
        self._told_clipped: set[int] = set()  # turns whose text was cut to fit, said once
        # Called with (summary, folded turn ids, turns folded so far, the tool calls the
        # folded turns carried as [turn id, call id], the turns it took in only part of as
        # [turn id, message keys]): the session logs it. ``--resume`` tells apart by
        # those ids a call the summary has from one still running when its turn was folded
        # (not in the conversation then), which it resumes as a turn of its own; and by
        # the keys what of a turn kept in the window the summary has already (a call
        # dropped while it was folded joined it), which is not summarised again.
        self.on_summary: Any = None
        # Called with what a refusal taught (``learnt``): the session logs it, so that a
        # resumed conversation does not pay the same refusal and retry on its first turn.
        self.on_window: Any = None
        self.learnt: dict[str, Any] | None = None  # window, budget_tokens, model, endpoint
        check_context_window(settings)  # loaded settings are checked already; built ones not
        self.check_room()

    # ------------------------------------------------------------------ prompt
    def _system_message(self) -> dict[str, Any]:
        text = self.system_prompt
        if self.summary:
            text += "\n\nSummary of the conversation so far:\n" + self.summary
        return {"role": "system", "content": text}

    def tools_tokens(self, tools: list[dict[str, Any]] | None) -> int:
        """Tool definitions travel with every request and are billed as prompt: they count."""
        return self.counter.count(as_json(tools)) if tools else 0

    def fit_tools(
        self, tools: list[dict[str, Any]], keep: Collection[str] = ()
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """The tools whose definitions fit in ``TOOLS_SHARE`` of the budget (the biggest left
        out first, so as many as can stay do), and the names of those left out. The tools
        named in ``keep`` (the built-in documents tools) are left out only once all the
        others are: biggest first, a second server's middling tools took out the
        documents' own edit_document and read_document instead.

        One tool server listing 150,000 tokens of schemas refused the start (the budget could
        not hold them), or, up after the check, sent every request over the budget: a server
        the person added must not take the conversation's room, nor the other tools'."""
        room = int(self.budget * TOOLS_SHARE)
        if not tools or self.tools_tokens(tools) <= room:
            return tools, []
        sizes = sorted(
            (
                (t["function"]["name"] not in keep, self.tools_tokens([t]), i)
                for i, t in enumerate(tools)
            ),
            reverse=True,
        )
        total = sum(size for _, size, _ in sizes)
        out: set[int] = set()
        for _, size, i in sizes:
            if total <= room:
                break
            out.add(i)
            total -= size
        kept = [t for i, t in enumerate(tools) if i not in out]
        return kept, [tools[i]["function"]["name"] for i in sorted(out)]

    def _least_budget(self, tools: list[dict[str, Any]] | None) -> tuple[int, str]:
        """The smallest budget that holds the fixed part of every request (system prompt,
        the summary's share, tool definitions) and a turn; and what that fixed part is."""
        system = self.counter.messages([{"role": "system", "content": self.system_prompt}])
        tools_part = self.tools_tokens(tools)
        summary_share = SUMMARY_SHARE * self.counter.margin  # as _summary_room has it
        least = math.ceil((system + tools_part + MIN_TURN_ROOM) / (1 - summary_share))
        parts = f"the system prompt takes {system} tokens"
        if tools_part:
            parts += f" and the tool definitions {tools_part}"
        return least, parts

    def check_room(self, tools: list[dict[str, Any]] | None = None) -> None:
        """Refuse a budget that cannot hold the fixed part of every request (system prompt,
        the summary's share, tool definitions) and still leave room for a turn: otherwise
        the budget would be exceeded on the first turn, or the conversation left out."""
        least, parts = self._least_budget(tools)
        if least > self.budget:
            raise UserError(
                f"context.budget_tokens ({self.budget}) is too small: {parts}, with a quarter "
                "kept for the summary and room for a turn",
                f"set context.budget_tokens to at least {least}"
                + (" or shorten llm.system_prompt" if self.settings.llm.system_prompt else ""),
            )

    def fit_refused(
        self,
        error: ContextTooLongError,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        summary: bool = False,
    ) -> None:
        """The model refused ``messages`` (with ``tools``) as longer than its context
        window: lower the budget for the rest of the session, so that the request built
        again fits, and every later one too. ``summary``: the refused request was a
        summary's (its prompt as ``messages``), which the budget holds as it holds a
        turn's (``_fold_room``): the same lesson, told as the summary's.

        With the window known (from the refusal, or ``llm.context_window``) the budget
        becomes what it leaves beside the reply, in our count of tokens (scaled by the
        server's count of the same prompt, when it gave one), less a margin; a window we
        already kept to, or none known, halves what was sent instead. Older turns then
        leave the window (and go to the summary), tool results are clipped harder.
        Raises UserError when not even the fixed part and a turn would fit."""
        if error.window:
            self.window = error.window
        sent = self.counter.messages(messages) + self.tools_tokens(tools)
        before = self.budget
        # A turn's prompt is refused for its size, near the budget's; a summary's for the
        # reply room beside it too (a quarter of the budget), its prompt often far smaller:
        # halved, or held to the window's room in what it would have taken, the summary's
        # few hundred tokens brought the budget down to its least.
        base = self.budget if summary else min(self.budget, sent)
        target = base // 2
        room: int | None = None
        if self.window is not None:
            room = self.window - self.max_tokens
            if error.prompt_tokens:  # the window's room in our tokens, not the server's
                room = room * sent // error.prompt_tokens
            fitting = int(room * WINDOW_MARGIN)
            if fitting < base:  # else a window we kept to was refused: counts differ more
                target = fitting
        least, parts = self._least_budget(tools)
        if target < least:
            if room is not None and least > room:
                hint = "use a model, or a server setting, with a larger context window"
                raise UserError(
                    f"The model's context window ({self.window} tokens) cannot hold this "
                    f"conversation: {parts}, and a turn needs room beside a reply of up to "
                    f"llm.max_tokens ({self.max_tokens})",
                    hint + self._shorter_fixed_part(tools),
                )
            if least >= base:
                raise UserError(
                    f"The language model refused the conversation as too long at {sent} "
                    f"tokens, and it cannot be made shorter: {parts}",
                    "set llm.context_window to the model's context window, or use a model "
                    "with a larger one" + self._shorter_fixed_part(tools),
                )
            target = least
        self.budget = target
        if self._summary_too_long:
            # A summary refused for the window just learnt is made within it at the next
            # turn's end: waiting half the window's turns (as for a model that failed), the
            # oldest turns, left out of the requests by the lower budget, were in no summary.
            self._retry_at = 0
        self.learnt = self._lesson()
        if self.on_window is not None:
            self.on_window(dict(self.learnt))
        self._fit_summary()
        configured = self.settings.llm.context_window
        if configured is not None and error.window and error.window < configured:
            # a window set too large is refused on every start (and every --resume)
            message = (
                f"The model's context window is {error.window} tokens, not the "
                f"{configured} that llm.context_window says: the conversation was sent again "
                f"shorter, and is kept to {self.budget} tokens from now on (was {before}). "
                f"Set llm.context_window to {error.window}."
            )
        elif summary:
            window = f" ({self.window} tokens)" if self.window is not None else ""
            message = (
                f"The conversation's summary was too long for the model's context "
                f"window{window}: the conversation is kept to {self.budget} tokens from now "
                f"on (was {before}), and the summary made again within it."
                + ("" if window else " Setting llm.context_window to it avoids this.")
            )
        elif self.window is not None:
            message = (
                f"The conversation was too long for the model's context window "
                f"({self.window} tokens): it was sent again shorter, and is kept to "
                f"{self.budget} tokens from now on (was {before})."
            )
        else:
            message = (
                "The language model refused the conversation as too long: it was sent again "
                f"shorter, and is kept to {self.budget} tokens from now on (was {before}). "
                "Setting llm.context_window to the model's context window avoids this."
            )
        if self.bus is not None:  # the notice is what the person sees: not said twice
            log.info("%s (%s)", message, error.message)
            self.bus.publish(ev.Notice(level="warning", message=message))
        else:
            log.warning("%s (%s)", message, error.message)
        self.maybe_summarize()  # the turns left out are folded into the summary

    def _shorter_fixed_part(self, tools: list[dict[str, Any]] | None) -> str:
        out = ", or lower llm.max_tokens"
        if self.settings.llm.system_prompt:
            out += " or shorten llm.system_prompt"
        if tools:
            out += " or turn tools off (tools.docs_server, tools.mcpServers)"
        return out

    def build_for(
        self,
        text: str | None,
        *,
        tools: list[dict[str, Any]] | None = None,
        pending: list[dict[str, Any]] | None = None,
        turn_id: int | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Messages for a new user turn (not yet committed to the history) and their tokens,
        tool definitions (``tools``, sent beside them) included.

        ``None``: no new words — an answer to tool results already in the newest turn, which
        is then kept whatever it costs (clipped if need be). ``pending``: this turn's tool
        calls and results so far (a later round of the same answer); they are kept too,
        their results clipped if they would break the budget. ``turn_id``: the turn being
        answered, never repeated in the window (it may be in the history by a later round).
        """
        system = self._system_message()
        if turn_id is None and text is None and self.turns:
            turn_id = self.turns[-1].turn_id
        turns = [t for t in self.turns if t.turn_id != turn_id]
        tail: list[dict[str, Any]] = []
        if text is not None:
            tail.append({"role": "user", "content": text})
        else:
            for turn in self.turns:
                if turn.turn_id == turn_id:
                    tail += [dict(m) for m in turn.messages]
        tail += [dict(m) for m in pending or []]
        extra = self.tools_tokens(tools)
        self._tools_part = extra
        fixed = extra + self.counter.messages([system, *tail])
        if fixed > self.budget:  # a document read by a tool: its result gives way first
            fixed = self._clip_tool_results(system, tail, extra)
        if text is not None and fixed > self.budget:  # a huge typed text: clip, never overflow
            room = max(16, self.budget - extra - self.counter.messages([system, *tail[1:]]) - 16)
            room = max(1, room - self.counter.count(CLIPPED_MARK))
            clipped = _clip_tokens(self.counter, text, room)
            tail[0] = {"role": "user", "content": clipped + CLIPPED_MARK}
            fixed = extra + self.counter.messages([system, *tail])
            self._tell_text_clipped(turn_id, text, clipped)
        if fixed > self.budget:
            log.warning("prompt of %d tokens over the budget of %d", fixed, self.budget)
        window: list[dict[str, Any]] = []
        used = fixed
        for turn in reversed(turns):  # newest first, stop when the budget is reached
            messages, tokens = turn.messages, turn.tokens
            if used + tokens > self.budget:
                # A turn too big for half the room left (a pasted text) is shown clipped to
                # that half: left out whole, it took every turn before it out of the window
                # with it, until the summaries had folded them all, one by one.
                half = (self.budget - used) // 2
                if tokens <= half or half < MIN_TURN_ROOM:
                    break
                messages = _clip_messages(self.counter, turn.messages, half)
                tokens = sum(self.counter.message(m) for m in messages)
                if used + tokens > self.budget:
                    break
            window[:0] = messages
            used += tokens
        messages = [system, *window, *tail]
        self.last_prompt_tokens = used
        self._publish(summary_made=False)
        return messages, used

    def _tell_text_clipped(self, turn_id: int | None, text: str, clipped: str) -> None:
        """The person's text was cut to fit the budget: said once a turn (each round and
        each attempt builds the request again). Cut silently, a question at the end of a
        pasted text went unanswered with no word of why, and the model took the beginning
        for all of it (the request now marks the cut)."""
        if turn_id is not None and turn_id in self._told_clipped:
            return
        if turn_id is not None:
            self._told_clipped.add(turn_id)
        message = (
            f"Your turn is too long for the context budget: only its first {len(clipped)} "
            f"of {len(text)} characters were sent to the model. Send it in parts, or raise "
            f"context.budget_tokens (now {self.budget})."
        )
        if self.bus is not None:
            self.bus.publish(ev.Notice(level="warning", message=message))
        else:
            log.warning("%s", message)

    def _clip_tool_results(
        self, system: dict[str, Any], tail: list[dict[str, Any]], extra: int
    ) -> int:
        """Share what the budget leaves among the tail's tool results (in place)."""
        results = [m for m in tail if m.get("role") == "tool" and isinstance(m.get("content"), str)]
        if not results:
            return extra + self.counter.messages([system, *tail])
        originals = [str(m["content"]) for m in results]
        for m in results:
            m["content"] = CLIPPED_MARK
        room = self.budget - extra - self.counter.messages([system, *tail])
        share = max(0, room // len(results))
        for m, original in zip(results, originals, strict=True):
            clipped = _clip_tokens(self.counter, original, share)
            m["content"] = clipped + (CLIPPED_MARK if clipped != original else "")
        return extra + self.counter.messages([system, *tail])

    # ------------------------------------------------------------------ history
    def _turn(self, turn_id: int) -> _Turn:
        if self.turns and self.turns[-1].turn_id == turn_id:
            return self.turns[-1]
        for turn in self.turns:
            if turn.turn_id == turn_id:
                return turn
        turn = _Turn(turn_id)
        self.turns.append(turn)
        self._turns_added += 1
        return turn

    def _add(self, turn_id: int, message: dict[str, Any]) -> None:
        turn = self._turn(turn_id)
        turn.messages.append(message)
        turn.tokens += self.counter.message(message)

    def add_user(self, turn_id: int, text: str) -> None:
        self._add(turn_id, {"role": "user", "content": text})

    def add_assistant(
        self, turn_id: int, text: str, *, cut: str | None = None, unheard: str = ""
    ) -> None:
        """The answer as heard; ``cut``: why it was not heard whole ("interrupted", "failed",
        "length": the model stopped at llm.max_tokens); ``unheard``: the rest, kept as said
        but not heard (``metrics.unheard_holding_line``)."""
        turn = self._turn(turn_id)
        self._add(turn_id, answer_message(turn.messages, text, cut, unheard))
        turn.answer_said = (text, cut, unheard)
        self._compact_tools(turn_id)

    def drop_turn(self, turn_id: int) -> None:
        """A turn taken back (the person went on before hearing the answer)."""
        self.turns = [t for t in self.turns if t.turn_id != turn_id]

    def add_tool_exchange(self, turn_id: int, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._add(turn_id, dict(message))

    def add_dropped_calls(self, turn_id: int, messages: list[dict[str, Any]]) -> None:
        """Background calls the person dropped ("never mind"), with what came of them, in
        the turn that made them, before its answer, where ``--resume`` puts them: dropped
        from the live conversation alone, the model answered "never mind" and every turn
        after it not knowing it had made them (a create may have been done). A turn folded
        into the summary meanwhile (with its holding line alone: a call still running is
        not in the conversation) gets them as a turn of its own, where it was, folded
        next: left out, the model never knew of them."""
        turn = next((t for t in self.turns if t.turn_id == turn_id), None)
        if turn is None:
            turn = _Turn(turn_id, counted=True)  # folded before: in summary_turns already
            at = next((i for i, t in enumerate(self.turns) if t.turn_id > turn_id), None)
            self.turns.insert(len(self.turns) if at is None else at, turn)
        at = len(turn.messages)
        last = turn.messages[-1] if turn.messages else {}
        answered = last.get("role") == "assistant" and not last.get("tool_calls")
        if answered:
            at -= 1  # its answer (the holding line) came after the calls were made
        turn.messages[at:at] = [dict(m) for m in messages]
        if answered and turn.answer_said is not None:
            # The words said before the calls ("Let me look.") are in their message now:
            # kept at the head of the answer too, the model read them twice, and
            # ``--resume``, which builds the answer after the calls, had them once.
            turn.messages[-1] = answer_message(turn.messages[:-1], *turn.answer_said)
        turn.tokens = sum(self.counter.message(m) for m in turn.messages)
        self._compact_tools(turn_id)

    def _compact_tools(self, turn_id: int) -> None:
        """The answer that used the tool results is done: keep only their gist."""
        turn = self._turn(turn_id)
        compacted = compact_tool_results(turn.messages)
        if compacted != turn.messages:
            turn.messages = compacted
            turn.tokens = sum(self.counter.message(m) for m in turn.messages)

    # ------------------------------------------------------------------ summary
    def maybe_summarize(self) -> None:
        """Fold turns older than the window into the summary, off the critical path."""
        if self.summarizer is None or (self._summary_task and not self._summary_task.done()):
            return
        over_window = len(self.turns) - self.window_turns
        window_tokens = sum(t.tokens for t in self.turns)
        # The tool definitions go with every request: counted as the window's, the fold
        # began only once the turns were past what the window could hold beside them and
        # the summary, and the oldest were left out of the requests before being folded.
        mark = self.budget * 0.6 - self._tools_part
        over_budget = window_tokens > mark
        batch = max(1, self.window_turns // 2)  # fold in batches: fewer summary calls
        if over_window < batch and not over_budget:
            return
        if self._turns_added < self._retry_at:
            return  # a summary failed just now: the next waits (_summary_failed)
        room = self._fold_room()
        folding: list[_Turn] = []
        used = 0
        # Never the newest turn: it may be the one being answered (in the history from its
        # confirmation). Folded under its answer (a long pasted text over the budget, the
        # turns before it folded one by one), the answer opened a turn of its own, to no
        # question, and the log had the turn folded: --resume left the answer out.
        for turn in self.turns[:-1][: self._fold_count(over_window, mark if over_budget else None)]:
            tokens = sum(self.counter.message(m) for m in turn.unsummarised())
            if folding and used + tokens > room:
                break  # the rest waits for the next summary, which follows this one
            folding.append(turn)
            used += tokens
        if not folding:
            return
        messages = [m for t in folding for m in t.unsummarised()]
        if used > room:  # one turn alone is too big: its messages share the room
            messages = _clip_messages(self.counter, messages, room)
        else:
            messages = [dict(m) for m in messages]
        self._summary_task = asyncio.create_task(
            self._summarize(self.summarizer, folding, messages)
        )

    def _fold_count(self, over_window: int, mark: float | None) -> int:
        """How many of the oldest turns a summary folds: those past ``window_turns``, and
        past the token ``mark`` (when given: the turns are over it) as many as bring the
        rest down to FOLD_TO of it, as a batch brings the count down to ``window_turns``.
        One turn a summary (the count not over), a summary taking longer than the person's
        next turn (a whole rewrite, up to a quarter of the budget) fell behind: the turns
        came faster than they were folded, and the oldest were left out of the requests,
        in no summary, more of them each turn."""
        count = max(over_window, 1)
        if mark is None:
            return count
        left = sum(t.tokens for t in self.turns)
        for n, turn in enumerate(self.turns[:-1]):
            if left <= mark * FOLD_TO:
                return max(count, n)
            left -= turn.tokens
        return max(count, len(self.turns) - 1)

    def _fold_room(self) -> int:
        """How many tokens of turns one summary request may fold: its prompt, with the
        previous summary, stays within the budget, and with the reply it may take (a
        quarter of the budget) within what every turn request is known to fit, the budget
        beside a reply of llm.max_tokens, which the model's window holds
        (``check_context_window``, ``fit_refused``). Bounded by the budget alone, the
        reply's quarter on top of a prompt of the whole budget was far more than
        llm.max_tokens: a backlog (summaries that failed for a while, a resumed
        conversation, a budget lowered by a refusal) was refused as too long at every
        attempt, while the turns it was to fold left the window unsummarised."""
        over_reply = max(0, int(self.budget * SUMMARY_SHARE) - self.max_tokens)
        room = self.budget - over_reply - self.counter.count(self.summary) - SUMMARY_OVERHEAD
        return max(room, MIN_TURN_ROOM)

    async def _summarize(
        self, summarizer: Any, folding: list[_Turn], messages: list[dict[str, Any]]
    ) -> None:
        """Fold ``folding`` into the summary with ``summarizer`` (the one that
        :meth:`maybe_summarize` checked is set)."""
        budget = self.budget
        given = {t.turn_id: list(t.messages) for t in folding}  # as the summariser has them
        limit = int(budget * SUMMARY_SHARE)
        room = self._summary_room()
        try:
            summary = await summarizer.summarize(
                self.summary,
                messages,
                max_tokens=limit,
                fits=lambda text: self.counter.count(text) <= room,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the previous summary stays; the window keeps the turns
            from voicedesk.engine.summarizer import SummaryCutOff

            if isinstance(exc, ContextTooLongError) and self.budget < budget:
                # Sized for the budget a refusal has lowered meanwhile, refused for the same
                # window: made again within the new budget, as one that lands over it is.
                log.info("a summary refused as too long is made again for %d tokens", self.budget)
                self._summary_task = None
                self.maybe_summarize()
                return
            if isinstance(exc, ContextTooLongError) and self._learn_from_summary(exc, messages):
                return
            why = (
                "the model's summary did not fit its share of the budget twice"
                if isinstance(exc, SummaryCutOff)
                else str(exc)
            )
            log.warning("summary failed: %s", why)
            self._summary_failed(f"Summary failed: {why}")
            self._summary_too_long = isinstance(exc, ContextTooLongError)
            return
        summary = summary.strip()
        if not summary:
            # An empty answer would wipe every fact folded so far: keep the previous summary,
            # and the turns stay in the window for the next attempt.
            log.warning("summary came back empty; keeping the previous one")
            self._summary_failed("Summary came back empty; kept the last one")
            return
        if self.budget < budget and self.counter.count(summary) > self._summary_room():
            # Made for the budget a refusal has lowered since: at its old share it took
            # nearly all the new budget (the person's next words were cut to make room),
            # and cut to the new share it lost its end, the turns just folded. They stay
            # in the window, and are folded again within the new share.
            log.info(
                "a summary made for a budget of %d tokens is made again for %d", budget, self.budget
            )
            self._summary_task = None
            self.maybe_summarize()
            return
        self._failed_summaries = self._retry_at = 0
        self._summary_too_long = False
        if self.counter.count(summary) > room:  # a summariser that ignored its cap
            summary = _clip_tokens(self.counter, summary, limit)
        self.summary = summary
        # A turn that gained messages while the summary was made (background calls the
        # person dropped, ``add_dropped_calls``) stays in the window whole: folded, what
        # the summariser was never given left the conversation, and the log with it.
        ids = {t.turn_id for t in folding if t.messages == given[t.turn_id]}
        kept: list[list[Any]] = []  # [turn id, keys of what the summary has of it]
        for turn in folding:  # kept: what the summary has of it is not given to it again
            if turn.turn_id not in ids:
                turn.summarised = [message_key(m) for m in given[turn.turn_id]]
                kept.append([turn.turn_id, list(turn.summarised)])
        # a turn back for calls dropped after it was folded was counted then
        self.summary_turns += sum(t.turn_id in ids and not t.counted for t in folding)
        self.turns = [t for t in self.turns if t.turn_id not in ids]
        self.summaries_made += 1
        if self.on_summary is not None:
            calls = [
                [turn.turn_id, call["id"]]
                for turn in folding
                if turn.turn_id in ids
                for message in turn.messages
                for call in message.get("tool_calls") or []
                if isinstance(call, dict) and isinstance(call.get("id"), str)
            ]
            self.on_summary(self.summary, sorted(ids), self.summary_turns, calls, kept)
        self._publish(summary_made=True)
        self._summary_task = None
        self.maybe_summarize()  # turns left waiting by the bound above

    def _learn_from_summary(
        self, error: ContextTooLongError, messages: list[dict[str, Any]]
    ) -> bool:
        """A summary refused as too long for the model's window, at the budget the turns
        are kept to: the budget is over the window. Its reply's room (a quarter of the
        budget) is more than a turn's, so with the window unknown it is refused first,
        and the person read "Summary failed: The conversation is too long…" before any
        turn was, about a request they never made, while its turns waited half the
        window's turns in no summary. Learnt from as a turn's refusal is
        (``fit_refused``, which says so), the summary is made again at once within the
        lower budget. False when the budget cannot be lowered to fit (then it failed)."""
        from voicedesk.engine.summarizer import INSTRUCTION

        # the summariser's prompt, as our count has it: its instruction and the previous
        # summary, then the turns it folds
        head = {"role": "system", "content": f"{INSTRUCTION}\n{self.summary}"}
        try:
            self.fit_refused(error, [head, *messages], summary=True)
        except UserError as refused:
            log.info("a summary refused as too long cannot be made shorter: %s", refused)
            return False
        self._summary_task = None
        self.maybe_summarize()
        return True

    def _summary_failed(self, message: str) -> None:
        """The previous summary stays and the turns wait in the window. The next attempt
        waits for more turns each time one fails in a row (a batch, then two...): tried
        after every turn, a rate-limited model (HTTP 429) got two more requests a turn (the
        client retries once), each taken from the limit the person's turns wait on, and
        the person a warning a turn. They are told once, at the first failure."""
        self._failed_summaries += 1
        self.summaries_failed += 1
        batch = max(1, self.window_turns // 2)
        wait = min(batch * 2 ** (self._failed_summaries - 1), SUMMARY_RETRY_MAX_TURNS)
        self._retry_at = self._turns_added + wait
        if self._failed_summaries == 1 and self.bus is not None:
            self.bus.publish(ev.Notice(level="warning", message=message))

    async def wait_summary(self) -> None:
        """Until no summary is running, those chained after the first included."""
        while self._summary_task is not None:
            task = self._summary_task
            await asyncio.gather(task, return_exceptions=True)
            if self._summary_task is task:
                return

    def cancel(self) -> None:
        if self._summary_task is not None and not self._summary_task.done():
            self._summary_task.cancel()

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "summary": self.summary,
            "summary_turns": self.summary_turns,
            "turns": [_turn_snapshot(t) for t in self.turns],
        }
        if self.learnt is not None:
            out["context_window"] = dict(self.learnt)
        return out

    def restore(self, data: dict[str, Any]) -> None:
        """Take up a conversation from its snapshot (``--resume``): its summary (held to
        its share of the budget, which may be smaller now than when it was made) and turns,
        and what a refusal taught about the model's window (``context_window``; absent in
        logs older than that record, or when nothing was refused), so that its first
        request after resuming fits rather than being refused and sent again.

        The summary and the last prompt's size (``prompt_tokens``) are published at once:
        until the first new request the status bar said "ctx –" and the context screen "No
        summary yet", while the model had both."""
        self._restore_learnt(data.get("context_window"))
        self.summary = str(data.get("summary", ""))
        self._fit_summary()
        self.summary_turns = int(data.get("summary_turns", 0))
        self.turns = []
        for raw in data.get("turns", []):
            turn = _Turn(int(raw["turn_id"]), list(raw.get("messages", [])))
            turn.tokens = sum(self.counter.message(m) for m in turn.messages)
            summarised = raw.get("summarised")
            if isinstance(summarised, list):
                turn.summarised = [k for k in summarised if isinstance(k, str)]
            turn.counted = raw.get("counted") is True
            self.turns.append(turn)
            self._compact_tools(turn.turn_id)
        size = data.get("prompt_tokens")
        self.last_prompt_tokens = size if isinstance(size, int) and size > 0 else 0
        self._publish(summary_made=False)

    def _summary_room(self) -> int:
        """What a summary within its share may come to in our count. The model is asked for
        at most the share (``max_tokens``), which the server keeps to in its own tokens; the
        offline tokenizer, with its margin, counts the same text up to that much more, and
        such a summary was cut at its end (the turns just folded). Past this room something
        ignored the cap, and the summary is cut to the share itself."""
        return int(self.budget * SUMMARY_SHARE * self.counter.margin)

    def _fit_summary(self) -> None:
        """Hold the summary to its share of the budget once the budget is lower than the one
        it was made for (a refusal, or a conversation resumed with a smaller
        context.budget_tokens or a budget learnt before): whole, it went into every request,
        over the budget, and the person's new words were cut to make room for it."""
        if self.summary and self.counter.count(self.summary) > self._summary_room():
            limit = int(self.budget * SUMMARY_SHARE)
            self.summary = _clip_tokens(self.counter, self.summary, limit)

    def _lesson(self) -> dict[str, Any]:
        """What a refusal taught, as logged and restored: for this model at this endpoint."""
        return {
            "window": self.window,
            "budget_tokens": self.budget,
            "model": self.model,
            "endpoint": self.endpoint,
        }

    def _restore_learnt(self, learnt: Any) -> None:
        """Keep to a window and budget learnt from a refusal before the conversation was
        resumed, when they still apply."""
        if not isinstance(learnt, dict):
            return
        window, budget = learnt.get("window"), learnt.get("budget_tokens")
        if not isinstance(budget, int) or not (window is None or isinstance(window, int)):
            return  # a record this version did not write: resume as without it
        if learnt.get("model") != self.model:
            return  # another model since: its window is its own
        if "endpoint" in learnt and learnt["endpoint"] != self.endpoint:
            return  # the same name served elsewhere (a local server's window is often set
            # smaller); a log from before endpoints were recorded is taken at its word
        configured = self.settings.llm.context_window
        # A configured window wins over a different learnt one, rather than the smaller of
        # the two: it is the person's word, perhaps raised since for a larger model or server
        # setting, and the learnt one, kept across every resume, would hold the conversation
        # short for good without saying why. A configured window that is too large only
        # costs a refusal and a retry, which learn (and log) the window again.
        if configured is not None and window != configured:
            return
        self.window = window
        # Never below what the fixed part and a turn need now (a longer system prompt than
        # when it was learnt): that budget could not even start; a refusal relearns it.
        least, _ = self._least_budget(None)
        self.budget = max(min(self.budget, budget), least)
        self.learnt = self._lesson()
        log.info(
            "resumed within the context budget learnt from a refusal: %d tokens (window %s)",
            self.budget,
            self.window,
        )

    def _publish(self, *, summary_made: bool) -> None:
        if self.bus is not None:
            self.bus.publish(
                ev.ContextUpdated(
                    prompt_tokens=self.last_prompt_tokens,
                    budget_tokens=self.budget,
                    summary_made=summary_made,
                    summary=self.summary or None,
                )
            )


def _turn_snapshot(turn: _Turn) -> dict[str, Any]:
    """A turn as ``restore`` takes it: what a summary has of it, and whether it is counted
    already, only when they say something (as ``resume.restore_state`` writes them)."""
    out: dict[str, Any] = {"turn_id": turn.turn_id, "messages": turn.messages}
    if turn.summarised:
        out["summarised"] = list(turn.summarised)
    if turn.counted:
        out["counted"] = True
    return out


def answer_message(
    earlier: list[dict[str, Any]], heard: str, cut: str | None, unheard: str = ""
) -> dict[str, Any]:
    """The answer as heard, after the turn's ``earlier`` messages, marked when ``cut``;
    then ``unheard``, the rest of it marked as said but not heard: a cut answer whose calls
    went on in the background (``metrics.unheard_holding_line``) keeps its holding line.

    What the model said before its tool calls ("Let me look.") is in their messages and
    heard at the head of the answer: kept in both, the model read itself say it twice,
    once more for every tool round. It is left out here, unless it is all that was heard:
    an empty answer is refused by some OpenAI-compatible servers. Cut when those words were
    all that was heard (the person broke in as its tools ran), the answer is the cut mark
    alone, where it was cut: the words again before it read as said twice, cut the second
    time. Cut partway through those words ("Let me wri"), the model read the whole
    sentence with the call and then its start, cut, as if begun again: the cut mark says
    instead how much of them was heard (:data:`PART_HEARD`)."""
    unheard = unheard.strip()
    if unheard and not heard.strip():  # none of it was heard: all of it is the rest
        heard, cut, unheard = unheard, "unheard", ""
    after, in_calls, part = heard, False, ""
    for message in earlier:
        said = message.get("content")
        if message.get("role") != "assistant" or not message.get("tool_calls"):
            continue
        if not isinstance(said, str) or not said.strip():
            continue
        rest = after.lstrip()
        if not rest.startswith(said.strip()):
            if cut and rest.strip() and said.strip().startswith(rest.strip()):
                after, in_calls, part = "", True, rest.strip()  # cut inside these words
                # their unheard end, kept after the cut, is in the call's message already
                unheard = unheard.removeprefix(said.strip()[len(part) :].strip()).strip()
            break
        after, in_calls = rest[len(said.strip()) :].lstrip(), True
    if after.strip():
        heard = after
    elif cut and in_calls:
        heard = PART_HEARD.format(heard=part) if part else ""
    content = (heard.strip() + CUT_MARKS[cut]).strip() if cut else heard
    if unheard:
        content += f" {unheard}{UNHEARD_MARK}"
    return {"role": "assistant", "content": content}


def compact_tool_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with each long tool result cut to its gist: what the context keeps of
    a result once its answer is done, and all the session log needs to resume it (a
    document read whole would otherwise grow the log by megabytes a call)."""
    out = []
    for message in messages:
        # The thinking a tool-call message carries (``THOUGHT_FIELDS``) is kept whole:
        # DeepSeek refuses every later request whose history lacks it ("must be fully
        # passed back to the API in all subsequent requests"); a server that takes none
        # is sent none (``chat_params``).
        content = message.get("content")
        if message.get("role") == "tool" and isinstance(content, str):
            gist = tool_result_gist(content)
            if gist is not content:
                message = {**message, "content": gist}
        out.append(message)
    return out


def tool_result_gist(text: str) -> str:
    """A tool result's text cut to its gist (:func:`compact_tool_results`); ``text``
    itself when it is short enough."""
    if len(text) > TOOL_RESULT_KEEP_CHARS:
        return text[:TOOL_RESULT_KEEP_CHARS] + " …[compacted]"
    return text


def _clip_tokens(counter: TokenCounter, text: str, limit: int) -> str:
    """Longest prefix within ``limit`` tokens, cut at a space where the text has spaces.

    Chinese, Japanese or a run of emoji have no spaces to cut at: without the cut by
    characters they would be clipped to nothing (an empty summary, an empty turn)."""
    prefix = _longest(lambda n: counter.count(text[:n]) <= limit, len(text))
    if prefix == len(text):
        return text
    space = text.rfind(" ", 0, prefix + 1)
    # a space near the cut keeps a word whole; far back (or none) would throw text away
    if space > 0 and prefix - space < 40:
        prefix = space
    return text[:prefix].rstrip()


def _clip_messages(
    counter: TokenCounter, messages: list[dict[str, Any]], room: int
) -> list[dict[str, Any]]:
    """Copies of ``messages`` whose texts share ``room`` tokens: the short ones whole, what
    they leave split evenly among the long ones, so a long text gives way rather than the
    short answer beside it. Each clipped text is marked as cut."""
    out = [dict(m) for m in messages]
    texts = sorted(
        (i for i, m in enumerate(out) if isinstance(m.get("content"), str)),
        key=lambda i: counter.message(out[i]),
    )
    left = room - sum(counter.message({**m, "content": ""}) for m in out)
    mark = counter.count(CLIPPED_MARK)
    for n, i in enumerate(texts):
        share = max(16, left // (len(texts) - n))
        original = out[i]["content"]
        if counter.count(original) > share:
            out[i]["content"] = _clip_tokens(counter, original, max(0, share - mark)) + CLIPPED_MARK
        left -= counter.count(out[i]["content"])
    return out


def _longest(fits: Any, n: int) -> int:
    """Largest ``k`` in 0..n with ``fits(k)``, for a ``fits`` true up to some point.

    Galloping up from a small prefix before halving: each probe counts the prefix's tokens,
    and a tool result of megabytes clipped to a few thousand tokens took seconds of the
    critical path when the first probes counted half of it, a quarter of it..."""
    lo, hi = 0, min(n, 1024)
    while hi < n and fits(hi):
        lo, hi = hi, min(n, hi * 4)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo
