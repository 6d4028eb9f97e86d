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


async def test_a_stdio_servers_output_is_handed_on_in_whole_lines() -> None:
    """``WholeLines`` gives the SDK's reader pieces ending at a line's end (one read may
    hold several lines, or half of one, or half a character), and what follows the last
    line's end once the output has ended, as it was written."""
    import anyio

    from voicedesk.tools.wire import WholeLines

    send, receive = anyio.create_memory_object_stream[bytes](10)
    written = [b'{"a": "caf', b"\xc3", b'\xa9"}\n{"b"', b": 1}\n", b'{"c": 2}\n{"d"', b": 3}"]
    for chunk in written:
        send.send_nowait(chunk)
    send.close()
    pieces = [piece async for piece in WholeLines(receive)]
    assert pieces == ['{"a": "café"}\n{"b"', ": 1}\n", '{"c": 2}\n{"d"', ": 3}"]
    assert "".join(pieces) == b"".join(written).decode()


def test_a_line_with_half_an_emoji_nested_hundreds_deep_is_left_to_the_depth_check() -> None:
    """A line with an escape in it nested 600 deep: mending its halves recursed as deep,
    and RecursionError came out of the SDK's log filter, which runs in its stdout reader.
    It is no message to mend (``deep_message`` reads it as an answer too deep)."""
    from voicedesk.tools.wire import deep_message, mended_message

    line = '{"jsonrpc": "2.0", "id": 2, "result": {"x": "\\ud83d", "t": ' + "[" * 600
    line += "]" * 600 + "}}"
    assert mended_message(line) is None
    read = deep_message(line)
    assert read is not None and read[1] == []
    error = getattr(read[0].message, "error", None)
    assert error is not None and "nests more than 200 levels deep" in error.message, read


@pytest.mark.parametrize(
    ("head", "tail", "answer_id"),
    [
        ('{"jsonrpc": "2.0", "id": 7, "result": ', "}", 7),
        ('{"result": ', ', "jsonrpc": "2.0", "id": "a\\"b"}', 'a"b'),  # the id written last
        ('{"jsonrpc": "2.0", "id": 8, "error": {"code": 1, "message": "m", "data": ', "}}", 8),
    ],
)
def test_an_answer_too_deep_for_pythons_reader_is_an_error_for_its_request(
    head: str, tail: str, answer_id: int | str
) -> None:
    """An answer nested 1,500 deep, past Python's own reader: it was left unread, and its
    request waited out its time (the handshake's 8 s, a call's timeout_s). Its id is found
    without reading the rest, and the request answered that it nests too deep to read."""
    from voicedesk.tools.wire import deep_message

    line = head + '{"a": ' * 1500 + '"leaf"' + "}" * 1500 + tail
    read = deep_message(line)
    assert read is not None and read[1] == [], read
    error = getattr(read[0].message, "error", None)
    assert read[0].message.id == answer_id, read  # type: ignore[union-attr]
    assert error is not None and "nests more than 200 levels deep" in error.message, read


def test_a_request_or_notice_of_the_server_nested_too_deep_answers_nothing() -> None:
    """A server's own request (or notification) nested too deep, for the SDK's reader
    (300 levels) or for Python's too (1,500), is no answer: made an error with its id, it
    failed a request of ours that had the same id."""
    from voicedesk.tools.wire import deep_message

    for levels in (300, 1500):
        nest = "[" * levels + "]" * levels
        line = '{"jsonrpc": "2.0", "id": 1, "method": "sampling/createMessage", "params": {"x": '
        assert deep_message(line + nest + "}}") is None, levels
        notice = '{"jsonrpc": "2.0", "method": "m", "params": {"x": ' + nest + "}}"
        assert deep_message(notice) is None, levels
