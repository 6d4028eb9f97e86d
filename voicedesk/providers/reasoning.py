"""A reasoning model's thinking, taken out of the answer it streams before it.

Reasoning models served by OpenAI-compatible servers (Qwen3, DeepSeek-R1 and its distills,
QwQ, GLM) write their chain of thought first, between ``<think>`` and ``</think>``. Some
servers move it out of the answer, into a ``reasoning_content`` or ``reasoning`` field of
the delta that voicedesk does not read (vLLM with a ``--reasoning-parser``, llama.cpp's
server by default, DeepSeek's API, OpenRouter, Ollama); others leave it in ``content``
(LM Studio: lmstudio-ai/lmstudio-bug-tracker#1569; vLLM without a reasoning parser;
llama.cpp with ``--reasoning-format none``). There it was spoken, aloud, a minute of
"Okay, the user is asking…" before the answer, and kept in the conversation as what the
assistant said.

``ThinkingFilter`` drops such a block where a model puts it, at the start of the answer
(after white space), however the stream splits its tags; the answer's text after it goes
on as it came. A stream that ends while still thinking (the model reached its token cap
before answering) answers nothing.

Some chat templates open the thought themselves, as the prompt's last words: DeepSeek-R1's
(and its distills', QwQ's, Qwen3's -Thinking-2507 models') ends with ``<think>\n``, so the
stream starts mid-thought and only ``</think>`` comes (ggml-org/llama.cpp#11861,
vllm-project/vllm#13125, open-webui/open-webui#9808). Every turn's thinking was spoken.
A filter made with ``mid_thought`` holds the answer's text until a closing tag (any of
those it knows: EXAONE Deep's template opens ``<thought>``) and leaves out what came before
it. The client knows to make it so from the model's name
(``begins_mid_thought``), or learns it from a first closing tag with no opener
(``bare_closer``; that turn's thought was already said, what follows it is the answer). A
stream that shows it was wrong (no closing tag by a whole answer's end, or thinking sent
apart) gives its text as the answer (``contradicted``), late but whole.
"""

from __future__ import annotations

import re

# The tags reasoning models open their thinking with; Open WebUI's defaults, without the
# bracketed forms no served model writes into a chat stream.
_TAGS = ("think", "thinking", "thought", "reasoning")
_OPENERS = tuple(f"<{tag}>" for tag in _TAGS)
_CLOSERS = tuple(f"</{tag}>" for tag in _TAGS)
# Models whose chat template opens the thought in the prompt (see the module docstring):
# the names their publishers and the servers' libraries give them. Only a first guess, for
# the first turn; what the stream shows decides from then on.
_PROMPTED = re.compile(r"deepseek[-_.]?r1|(?:^|[/_-])r1[-_:.]|qwq|thinking[-_]?2507", re.I)


def begins_mid_thought(model: str) -> bool:
    """Whether ``model``'s name is one whose template opens its thought in the prompt."""
    return bool(_PROMPTED.search(model))


def _partial_closer(text: str) -> int:
    """How many characters at the end of ``text`` may begin a closing tag."""
    for size in range(min(len(text), max(map(len, _CLOSERS)) - 1), 0, -1):
        if any(c.startswith(text[-size:]) for c in _CLOSERS):
            return size
    return 0


_START, _THINKING, _AFTER, _ANSWER = range(4)


class ThinkingFilter:
    """The answer's text, fed delta by delta, with a leading thinking block left out."""

    def __init__(self, mid_thought: bool = False) -> None:
        self._state = _START
        self._held = ""  # text not yet known to be answer or thinking
        self._closer = ""  # while thinking: the tag that ends it
        self._searched = 0  # how much of ``_held`` is known to hold no closer
        self.thought = ""  # what was left out (for the log)
        self._assumed = mid_thought  # thinking from the first token, no opener to come
        self._watching = False  # an answer begun with no opener: a closer in it ends a thought
        self._said = ""  # while watching: what was given as answer
        self.bare_closer = False  # a closer came with no opener: the template opens it
        self.contradicted = False  # assumed mid-thought, the stream showed otherwise
        if mid_thought:
            self._state, self._closer = _THINKING, "</think>"

    def feed(self, text: str) -> str:
        """What of ``text`` is answer, as soon as it is known to be."""
        if self._state == _ANSWER:
            return self._watch(text) if self._watching else text
        self._held += text
        if self._state == _START:
            start = self._held.lstrip()
            opener = next((o for o in _OPENERS if start.startswith(o)), None)
            if opener is None:
                if any(o.startswith(start) for o in _OPENERS):
                    return ""  # "", " " or "<thi": not known yet
                held, self._held = self._held, ""
                self._state, self._watching = _ANSWER, True
                return self._watch(held)
            self._state, self._closer = _THINKING, "</" + opener[1:]
            self._held, self._searched = start[len(opener) :], 0
        if self._state == _THINKING:
            # a thought begun in the prompt ends with whichever tag its template opened it
            # with (``</think>``, EXAONE Deep's ``</thought>``, …): the first learnt from
            # one stream's closer, waited for in the next, was not always the same
            closers = _CLOSERS if self._assumed else (self._closer,)
            found = [(at, c) for c in closers if (at := self._held.find(c, self._searched)) >= 0]
            if not found:  # still thinking; a closer split across deltas is found next time
                longest = max(map(len, closers))
                self._searched = max(0, len(self._held) - longest + 1)
                return ""
            end, closer = min(found)
            self.thought = self._held[:end]
            self._state, self._held = _AFTER, self._held[end + len(closer) :]
            self._assumed = False
        rest = self._held.lstrip()  # after the thought: the white space before the answer
        if not rest:
            self._held = ""
            return ""
        return self._answer(rest)

    def _watch(self, text: str) -> str:
        """An answer begun with no opener: given as it comes, but a closing tag in it
        says that all before it was a thought begun in the prompt (a tag's first
        characters at the end are held until known)."""
        self._held += text
        found = [(at, c) for c in _CLOSERS if (at := self._held.find(c)) >= 0]
        if found:
            at, closer = min(found)
            self.thought = self._said + self._held[:at]
            self.bare_closer, self._watching = True, False
            rest = self._held[at + len(closer) :].lstrip()
            self._state, self._held = (_ANSWER, "") if rest else (_AFTER, "")
            return rest
        keep = _partial_closer(self._held)
        out = self._held[: len(self._held) - keep]
        self._held = self._held[len(self._held) - keep :]
        self._said += out
        return out

    def _answer(self, text: str) -> str:
        self._state, self._held = _ANSWER, ""
        return text

    def release(self) -> str:
        """The stream sent thinking apart (``reasoning_content``): a thought assumed begun
        in the prompt was not, and the text held so far is answer."""
        if not self._assumed or self._state != _THINKING:
            return ""
        self.contradicted, self._assumed = True, False
        return self._answer(self._held.lstrip())

    def flush(self, cut: bool = False) -> str:
        """What is held when the stream ends: text that only looked like the start of a
        tag is answer; an unfinished thought is not, unless it was only assumed and the
        model ended its answer (not ``cut`` at its token cap): then it was the answer."""
        held, self._held = self._held, ""
        if self._state == _THINKING and self._assumed and not cut:
            # text and no closer: it was the answer (no text, only tool calls: no sign)
            self.contradicted = bool(held.strip())
            return held.lstrip()
        return held if self._state in (_START, _ANSWER) else ""
