"""How the tools word what they return: counts ("1 paragraph"), quotes (“the Budget”), and
where a sentence ends."""

from __future__ import annotations

import re

# a sentence's end, before the blank after it
SENTENCE_END = re.compile(r"(?<=[.!?…])\s")


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def quote(text: str, limit: int = 80) -> str:
    """``text`` on one line in quotation marks, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"
