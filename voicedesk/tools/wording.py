"""How the documents tools word counts and quotes in the sentences they return: "1 paragraph", “the Budget”."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def quote(text: str, limit: int = 80) -> str:
    """``text`` on one line in quotation marks, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"
