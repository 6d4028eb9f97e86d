"""Folds old turns into a running summary with the same LLM, as a separate request.

Runs in the background (see ``ContextManager.maybe_summarize``); its requests are visible on
the bus as ``LLMRequest(kind="summary")`` so the UI and benchmarks can tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voicedesk import events as ev
from voicedesk.engine.tokens import TokenCounter
from voicedesk.providers.base import ChatRequest, Finished, LanguageModel, TextDelta

INSTRUCTION = (
    "You keep the running summary of a spoken conversation between a person and their voice "
    "assistant. Update the running summary with the new turns. Keep every fact, name, number, "
    "date, preference, decision and open task; drop small talk and wording. Write plain "
    "sentences, oldest first, no markdown."
)


# Words per token of English prose, roughly: the model is told its room in words, which it
# can keep to, rather than in tokens, which it cannot count. At most this many: the room is
# counted in the conversation's own words (``room_in_words``).
WORDS_PER_TOKEN = 0.7
# Of the words (or characters) a token holds in the text given, the share asked for: as
# 0.7 is of English's ~0.82 words a token in our count.
ROOM_SHARE = 0.85
# Characters a word of the text given may average before the room is given in characters:
# a script without spaces (Japanese, Chinese, Thai) reads as a few words of dozens.
LONGEST_WORDS = 12


class SummaryCutOff(Exception):
    """The model stopped at its token cap, or wrote more than its share as we count tokens:
    cut to fit, the summary's end, its newest facts, would be missing."""


class Summarizer:
    def __init__(self, llm: LanguageModel, bus: ev.EventBus | None = None) -> None:
        self.llm = llm
        self.bus = bus
        self.calls = 0
        # attempts that came back cut at the cap or over the share (each asked again once):
        # what ``bench context`` reports, the loss a silent cut at a summary's end hid
        self.cut_offs = 0
        model = getattr(llm, "model", None)
        # the context's own count (the same model's, cached): what the summary is held to
        self.counter = (
            TokenCounter.for_server(model, getattr(llm, "base_url", None))
            if isinstance(model, str)
            else None
        )

    async def summarize(
        self,
        previous: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        fits: Callable[[str], bool] | None = None,
    ) -> str:
        """The updated summary. A summary cut off at ``max_tokens``, or one that ``fits``
        says is over its share, is asked for once more, to be compressed; too long again,
        it raises :class:`SummaryCutOff`, and the turns stay in the window: cutting it short
        lost the turns just folded (the end of an "oldest first" summary).

        ``fits`` is the caller's own count: the server keeps to ``max_tokens`` in its own
        tokens, and the model's tokenizer can count another language in far fewer tokens
        than the caller's does."""
        try:
            return await self._ask(previous, messages, max_tokens=max_tokens, fits=fits)
        except SummaryCutOff:
            return await self._ask(previous, messages, max_tokens=max_tokens, fits=fits, again=True)

    async def _ask(
        self,
        previous: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int,
        fits: Callable[[str], bool] | None,
        again: bool = False,
    ) -> str:
        lines = []
        for m in messages:
            content = m.get("content")
            if content:
                who = {"user": "Person", "assistant": "Assistant", "tool": "Tool result"}.get(
                    m.get("role", ""), m.get("role", "")
                )
                lines.append(f"{who}: {content}")
            lines += _call_lines(m)
        prompt = f"Running summary so far:\n{previous or '(none yet)'}\n\nNew turns:\n" + "\n".join(
            lines
        )
        room = " Use at most " + room_in_words(self.counter, previous, messages, max_tokens) + "."
        if again:
            room += (
                " The last attempt was longer than that: compress the older facts into fewer "
                "words rather than leaving any fact out."
            )
        request = ChatRequest(
            messages=[
                {"role": "system", "content": INSTRUCTION + room},
                {"role": "user", "content": prompt},
            ],
            max_tokens=max_tokens,
            temperature=0.2,
        )
        self.calls += 1
        if self.bus is not None:
            self.bus.publish(ev.LLMRequest(turn_id=0, kind="summary"))
        text = ""
        async for item in self.llm.stream(request):
            if isinstance(item, TextDelta):
                text += item.text
            elif isinstance(item, Finished) and item.reason == "length":
                self.cut_offs += 1
                raise SummaryCutOff(text)
        if fits is not None and not fits(text.strip()):
            self.cut_offs += 1
            raise SummaryCutOff(text)
        return text


def room_in_words(
    counter: TokenCounter | None,
    previous: str,
    messages: list[dict[str, Any]],
    max_tokens: int,
) -> str:
    """``max_tokens`` as the model can keep to it: "N words" of the text it summarises, as
    many as fit in our count of that text, or "N characters" when its words run long (no
    spaces). Told 0.7 words a token whatever the language, a model summarising Russian
    (some three tokens a word) wrote twice its cap, was asked again, did so again, and every
    summary failed; in Japanese "words" meant nothing."""
    english = f"{int(max_tokens * WORDS_PER_TOKEN)} words"
    if counter is None:
        return english
    text = " ".join(
        [previous, *(m["content"] for m in messages if isinstance(m.get("content"), str))]
    )
    words = text.split()
    tokens = counter.count(text)
    if not words or not tokens:
        return english
    letters = sum(len(w) for w in words)
    if letters / len(words) > LONGEST_WORDS:
        return f"{int(max_tokens * ROOM_SHARE * letters / tokens)} characters"
    per_token = min(WORDS_PER_TOKEN, ROOM_SHARE * len(words) / tokens)
    return f"{int(max_tokens * per_token)} words"


def _call_lines(message: dict[str, Any]) -> list[str]:
    """The tool calls an assistant message makes, by name and arguments. A call has no
    text: given the texts alone, the summariser read a result ("Created eggs.md", "[interrupted:
    …]") of no tool in particular, and the fact that the model had called it (a create
    the person stopped, which may have been done) was lost with the folded turn."""
    lines = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict) and function.get("name"):
            arguments = function.get("arguments") or "{}"
            lines.append(f"Assistant called the tool {function['name']} with {arguments}")
    return lines
