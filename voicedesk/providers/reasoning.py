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
"""

from __future__ import annotations

# The tags reasoning models open their thinking with; Open WebUI's defaults, without the
# bracketed forms no served model writes into a chat stream.
_TAGS = ("think", "thinking", "thought", "reasoning")
_OPENERS = tuple(f"<{tag}>" for tag in _TAGS)

_START, _THINKING, _AFTER, _ANSWER = range(4)


class ThinkingFilter:
    """The answer's text, fed delta by delta, with a leading thinking block left out."""

    def __init__(self) -> None:
        self._state = _START
        self._held = ""  # text not yet known to be answer or thinking
        self._closer = ""  # while thinking: the tag that ends it
        self._searched = 0  # how much of ``_held`` is known to hold no closer
        self.thought = ""  # what was left out (for the log)

    def feed(self, text: str) -> str:
        """What of ``text`` is answer, as soon as it is known to be."""
        if self._state == _ANSWER:
            return text
        self._held += text
        if self._state == _START:
            start = self._held.lstrip()
            opener = next((o for o in _OPENERS if start.startswith(o)), None)
            if opener is None:
                if any(o.startswith(start) for o in _OPENERS):
                    return ""  # "", " " or "<thi": not known yet
                return self._answer(self._held)
            self._state, self._closer = _THINKING, "</" + opener[1:]
            self._held, self._searched = start[len(opener) :], 0
        if self._state == _THINKING:
            end = self._held.find(self._closer, self._searched)
            if end < 0:  # still thinking; a closer split across deltas is found next time
                self._searched = max(0, len(self._held) - len(self._closer) + 1)
                return ""
            self.thought = self._held[:end]
            self._state, self._held = _AFTER, self._held[end + len(self._closer) :]
        rest = self._held.lstrip()  # after the thought: the white space before the answer
        if not rest:
            self._held = ""
            return ""
        return self._answer(rest)

    def _answer(self, text: str) -> str:
        self._state, self._held = _ANSWER, ""
        return text

    def flush(self) -> str:
        """What is held when the stream ends: text that only looked like the start of a
        tag is answer; an unfinished thought is not."""
        held, self._held = self._held, ""
        return held if self._state == _START else ""
