"""What part of an answer the person actually heard.

When an answer is cut, the history must hold only what was played. Providers that return
character alignment (ElevenLabs) tell us exactly, and a voice given whole pieces (OpenAI
speech, Piper) tells it from each piece's letters and audio; otherwise we estimate from the
share of the answer's audio that was played, and as a last resort from a typical speaking
rate. The result is
always cut back to a whole word: a half word in the history would read as a typo to the model.
In text written without spaces between words (Japanese, Chinese) it is cut back to a whole
character.
"""

from __future__ import annotations

SPEAKING_CHARS_PER_S = 14.0  # typical TTS English rate; only used when nothing better is known


def heard_prefix(
    text: str,
    *,
    played_samples: int,
    sample_rate: int,
    total_samples: int | None = None,
    letters_at_played: int | None = None,
) -> str:
    """``letters_at_played``: the characters other than whitespace that had begun to play
    (alignment): whitespace is left out of the count, as the aligned text's differs."""
    if played_samples <= 0 or not text:
        return ""
    if letters_at_played is not None:
        n = _index_after_letters(text, letters_at_played)
    elif total_samples:
        n = round(len(text) * min(1.0, played_samples / total_samples))
    else:
        n = round(played_samples / sample_rate * SPEAKING_CHARS_PER_S)
    n = max(0, min(len(text), n))
    if n >= len(text):
        return text
    # A word counts as heard once it has been played completely: drop the partial last word.
    # Text written without spaces (Japanese, Chinese) has no word ends to find: there a
    # character played is heard, or an answer in it cut short was heard as nothing.
    while n > 0 and not text[n].isspace() and not _written_without_spaces(text[n - 1]):
        n -= 1
    return text[:n].rstrip()


def _written_without_spaces(ch: str) -> bool:
    """Whether ``ch`` is of a script written with no spaces between words (CJK ideographs,
    kana, their punctuation and full-width forms), so that a word may end after it."""
    code = ord(ch)
    return (
        0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0xFF00 <= code <= 0xFFEF  # full-width and half-width forms
        or 0x20000 <= code <= 0x3FFFF  # CJK extensions B and later
    )


def _index_after_letters(text: str, letters: int) -> int:
    """Where in ``text`` its first ``letters`` characters other than whitespace end."""
    if letters <= 0:
        return 0
    seen = 0
    for i, ch in enumerate(text):
        if not ch.isspace():
            seen += 1
            if seen == letters:
                return i + 1
    return len(text)
