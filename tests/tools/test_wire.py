"""tools/wire.py: a url server's answer mended where the SDK's parser refuses it."""

from __future__ import annotations

import json

import pytest

from voicedesk.tools.wire import mended_json


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (rb'"sun \ud83c"', "sun \ufffd"),  # a first half alone
        (rb'"\ude00 moon"', "\ufffd moon"),  # a second half alone
        (rb'"\ud83d\ude00"', "\U0001f600"),  # a pair: the emoji
        (rb'"\uD83D\uDE00\uDE00"', "\U0001f600\ufffd"),  # a pair, then a half
        (rb'"\ud83c\ud83c\ude00"', "\ufffd\U0001f200"),  # a half, then a pair
        (rb'"C:\\ud83c"', "C:\\ud83c"),  # no escape: a backslash, then text
        (rb'"C:\\\ud83c"', "C:\\\ufffd"),  # a backslash, then a half
        ('"café €"'.encode("cp1252"), "caf\ufffd \ufffd"),  # no UTF-8
    ],
)
def test_what_the_parser_refuses_is_read_and_the_rest_kept(sent: bytes, read: str) -> None:
    assert json.loads(mended_json(sent)) == read


def test_an_answer_the_parser_takes_is_left_as_it_is() -> None:
    sent = json.dumps({"text": "Café \U0001f600 \\ud83c"}).encode()
    assert mended_json(sent) == sent
