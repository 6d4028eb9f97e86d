"""How the documents tools word counts in the sentences they return: "1 paragraph", "3 words"."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
