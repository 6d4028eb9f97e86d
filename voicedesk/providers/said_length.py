"""How long each character of a piece takes to say, in letters' worth of speech.

What of a piece a voice has played is told from the share of its audio played, spread over
its letters (:meth:`SentenceStream.letters_spoken_at`). Letters say about what they show,
but a number's digits say far more: "1,250" is "one thousand two hundred fifty", 26
letters' worth for 5 characters. Spread evenly, a cut just after a number was remembered as
heard words late (up to 3 with Piper: the model was told the person had heard words they
had not), and one before a number words early. So each digit weighs its share of the
number's words, estimated from how English says it; a letter weighs 1.
"""

from __future__ import annotations

import re
from itertools import accumulate

# letters of "one" … "nine", "ten" … "nineteen", "twenty" … "ninety"
_ONES = (0, 3, 3, 5, 4, 4, 3, 5, 5, 4)
_TEENS = (3, 6, 6, 8, 8, 7, 7, 9, 8, 8)
_TENS = (0, 0, 6, 6, 5, 5, 5, 7, 6, 6)
_HUNDRED, _ZERO, _POINT = 7, 4, 5
# "thousand", "million", "billion", "trillion", … (beyond: as long as a trillion)
_SCALES = (0, 8, 7, 7, 8)
# a number as written: digits, with thousands' commas and a decimal part
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_SIGNS = {"%": 7}  # "percent"


def _below_1000(n: int) -> int:
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    said = _ONES[hundreds] + _HUNDRED if hundreds else 0
    return said + (_TEENS[ones] if tens == 1 else _TENS[tens] + _ONES[ones])


def number_letters(written: str) -> int:
    """About how many letters the words for the number ``written`` ("1,250", "2026",
    "3.5") have, as an English voice says it: "one thousand two hundred fifty"; a year
    as two pairs ("twenty twenty six"); a decimal part digit by digit ("point five")."""
    whole, _, decimals = written.partition(".")
    digits = whole.replace(",", "")
    n = int(digits)
    said = sum(_ONES[int(d)] or _ZERO for d in decimals) + (_POINT if decimals else 0)
    if n == 0:
        return said + _ZERO * len(digits)  # "0", "007": zeros said one by one
    if "," not in whole and len(digits) == 4 and 1100 <= n <= 2099 and n % 100:
        return said + _below_1000(n // 100) + _below_1000(n % 100)  # a year: "twenty twenty"
    groups = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    for scale, group in enumerate(groups):
        if group:
            said += _below_1000(group) + _SCALES[min(scale, len(_SCALES) - 1)]
    return said


def said_weights(text: str) -> list[float]:
    """Each character of ``text`` other than whitespace (as alignment counts letters), and
    how long it takes to say in letters' worth: 1 for a letter or a mark, a number's
    letters (:func:`number_letters`) spread evenly over its characters."""
    weights = [0.0 if ch.isspace() else float(_SIGNS.get(ch, 1)) for ch in text]
    for number in _NUMBER.finditer(text):
        each = number_letters(number.group()) / len(number.group())
        weights[number.start() : number.end()] = [each] * len(number.group())
    return [w for w, ch in zip(weights, text, strict=True) if not ch.isspace()]


def cumulative(text: str) -> list[float]:
    """:func:`said_weights` summed up: how long the first 1, 2, … letters take to say."""
    return list(accumulate(said_weights(text)))
