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


@pytest.mark.parametrize("cuts", [1, 3, 7])
def test_a_thought_begun_in_the_prompt_ends_at_its_closer_however_split(cuts):
    """DeepSeek-R1's template opens the thought in the prompt: only the closer comes. Once
    known (``mid_thought``), nothing before it is said; unknown, what follows it is the
    answer and the filter says it saw one (``bare_closer``), however the deltas split it."""
    text = "Okay, the user asks the time.</think>\n\nIt is three."
    deltas = [text[i : i + cuts] for i in range(0, len(text), cuts)]
    known = ThinkingFilter(mid_thought=True)
    said = "".join(known.feed(d) for d in deltas) + known.flush()
    assert said == "It is three."
    assert known.thought == "Okay, the user asks the time."
    unknown = ThinkingFilter()
    said = "".join(unknown.feed(d) for d in deltas) + unknown.flush()
    assert said == "Okay, the user asks the time.It is three."
    assert unknown.bare_closer and unknown.thought == "Okay, the user asks the time."


def test_an_answer_with_a_lone_angle_bracket_is_said_whole():
    """Text that only looked like the start of a closing tag is answer."""
    thinking = ThinkingFilter()
    said = "".join(thinking.feed(d) for d in ["It is 3 <", "/ 4 of it", " <"]) + thinking.flush()
    assert said == "It is 3 </ 4 of it <"
    assert not thinking.bare_closer


def test_a_thought_only_assumed_is_the_answer_when_it_never_closes():
    """A model taken (by its name) to begin mid-thought that did not: its whole answer is
    said at its end, not lost; cut at its token cap, it was a thought."""
    thinking = ThinkingFilter(mid_thought=True)
    said = thinking.feed("It is ") + thinking.feed("three.") + thinking.flush()
    assert said == "It is three." and thinking.contradicted
    cut = ThinkingFilter(mid_thought=True)
    assert cut.feed("Okay, let me") + cut.flush(cut=True) == ""


def test_an_answer_of_only_tool_calls_says_nothing_of_where_thinking_begins():
    """No text at all (the model only called tools): no sign the guess was wrong."""
    thinking = ThinkingFilter(mid_thought=True)
    assert thinking.flush() == "" and not thinking.contradicted
