"""Markdown marks out of a streamed answer, before it is spoken, shown and remembered.

A model asked for plain speech still writes "**bold**", "`code`", "## Heading" or "> quote"
at times, and a voice would read the marks aloud. But the same characters belong to words:
a file called q3_budget.md, C#, "x > 3". Dropping every ``*_`#>`` (as a single regex did)
turned q3_budget.md into q3budget.md in the answer shown and in the conversation the model
reads back, so its next tool call could name a file that does not exist. The answer arrives
in small deltas, and whether an underscore is inside a word depends on the character after
it, which may be in the next delta: a trailing underscore is held until that comes.
Written by hand because it must work on a stream, one delta at a time, with no delay.
"""

from __future__ import annotations

import re

_MARKS = re.compile(r"[*_`#>]+")
# only an underscore depends on what follows; \Z, not $, which matches before a final line
# end too: a delta ending "__\n" was cut before the run and its line end lost
_TRAILING = re.compile(r"_+\Z")


class SpeakableText:
    """Feed it an answer's text deltas in order; it returns what to say and show of each."""

    def __init__(self) -> None:
        self._before = "\n"  # the raw character before what comes next: a line start at first
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        held = _TRAILING.search(text)
        self._held = held.group() if held else ""
        return self._clean(text[: held.start()] if held else text)

    def flush(self) -> str:
        """What was held back at the end of the answer."""
        text, self._held = self._held, ""
        return self._clean(text)

    def _clean(self, text: str) -> str:
        if not text:
            return ""
        before = self._before

        def keep_or_drop(m: re.Match[str]) -> str:
            run, start, end = m.group(), m.start(), m.end()
            prev = text[start - 1] if start else before
            nxt = text[end] if end < len(text) else ""
            kind = run[0]
            if len(set(run)) == 1:
                if kind == "_" and prev.isalnum() and nxt.isalnum():
                    return run  # snake_case
                if kind == "#" and prev.isalnum():
                    return run  # C#, F#
                if kind == ">" and prev != "\n":
                    return run  # a comparison, not a quote
            return ""

        out = _MARKS.sub(keep_or_drop, text)
        self._before = text[-1]
        return out
