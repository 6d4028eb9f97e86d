"""The thinking block a reasoning model writes before its answer, left out of the answer."""

from __future__ import annotations

import pytest

from voicedesk.providers.reasoning import ThinkingFilter


def answer(*deltas: str) -> tuple[str, str]:
    thinking = ThinkingFilter()
    said = "".join(thinking.feed(d) for d in deltas) + thinking.flush()
    return said, thinking.thought


@pytest.mark.parametrize(
    "deltas",
    [
        ("<think>\nHmm.</think>\n\nIt is three.",),
        ("\n", "<th", "ink>", "Hmm.", "</", "think>", "\n\n", "It is", " three."),
        ("<thinking>Hmm.</thinking>", "", " ", "It is three."),
    ],
)
def test_a_leading_thought_is_left_out_however_its_tags_are_split(deltas):
    said, thought = answer(*deltas)
    assert said == "It is three."
    assert thought.strip() == "Hmm."


@pytest.mark.parametrize(
    "deltas, said",
    [
        (("<b>Bold</b> words.",), "<b>Bold</b> words."),  # markup, not a thought
        (("<thi",), "<thi"),  # only looked like a tag's start
        ((" It is", " <think>"), " It is <think>"),  # not at the start: the model's words
    ],
)
def test_anything_else_is_the_answer_as_it_came(deltas, said):
    assert answer(*deltas)[0] == said


def test_a_thought_cut_off_before_the_answer_says_nothing():
    assert answer("<think>Let me see, the", " first")[0] == ""
