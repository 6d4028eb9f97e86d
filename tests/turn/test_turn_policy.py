"""End-of-turn policy: transcript cues and how the detector weighs them against Smart Turn.

The detector is driven directly in its "pause" state with a fixed model probability, so these
tests pin the policy (which signal may end a turn, and after how much silence) without audio.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from voicedesk.config import load_settings
from voicedesk.turn import detector as det
from voicedesk.turn.cues import (
    Reading,
    combined_cue,
    reading_cue,
    transcript_cue,
)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("Can you open the file called", "incomplete"),
        ("The main problem with the", "incomplete"),
        ("I would like to book a table for", "incomplete"),
        ("Set a timer for it.", "hesitant"),  # what a small Whisper makes of "… for"
        ("Could you set a timer for it?", "hesitant"),  # … with a question's "?"
        ("Schedule a call with them.", "hesitant"),  # … of "… with", in noise
        ("Can you do that for me?", "complete"),  # "for me" is how requests end
        ("What time does the sun set in?", "hesitant"),  # stranded preposition, doubtful
        ("Remind me to buy some.", "hesitant"),
        ("Forward this message to...", "incomplete"),  # dangling word wins over the dots
        ("Make the font a bit bigger, we got...", "hesitant"),  # trails off
        ("What's the weather like in Umm?", "incomplete"),  # a filler however it is spelt
        ("Send a message to my brother, uhh.", "incomplete"),
        ("Hmm", "incomplete"),
        ("Mm-hmm.", "complete"),  # yes
        ("Book a taxi, too.", "hesitant"),  # a cut-off "to" as a small Whisper writes it
        ("Is it cold there too?", "complete"),
        # a word that may open a noun phrase or be a pronoun: a pause, not the maximum wait
        # ("what is this?" and "call her." used to wait 2 s like "… the")
        ("What is this?", "hesitant"),
        ("Summarize these.", "hesitant"),
        ("Save this", "hesitant"),
        ("Call her.", "hesitant"),
        ("Call her mother.", "complete"),
        ("What's this song called?", "complete"),  # "what" is the name it asks for
        ("Can you open the file called?", "incomplete"),  # the name is still to come
        # answers to a yes/no question end on words that dangle anywhere else
        ("Yes, I do.", "complete"),
        ("No, it isn't.", "complete"),
        ("I think so.", "complete"),
        ("Yes, please do.", "complete"),
        ("Yes, let's.", "complete"),
        ("Let's", "incomplete"),
        ("Yes, and", "incomplete"),
        ("No.", "hesitant"),  # may go on after a comma: "No, it isn't."
        # a word a turn opens with before a comma, alone so far ("Sure, | send it …")
        ("Sure.", "hesitant"),
        ("Hi.", "hesitant"),
        ("Okay", "hesitant"),
        ("Right.", "hesitant"),
        ("And", "incomplete"),  # an opener that dangles stays incomplete
        ("Sure, send it to the whole team.", "complete"),
        ("Hi, can you check the weather in Paris?", "complete"),
        ("I did.", "hesitant"),  # an answer, or "I did | the dishes"
        ("Open this document.", "complete"),
        ("What time is my next meeting?", "complete"),
        ("Turn the volume down a little.", "complete"),
        # a number or a compound is a word: these end on it, not on a dangling "to" or "in"
        ("Set the volume to 30%.", "complete"),
        ("Wake me up at 7.", "complete"),
        ("Call me at 5:30.", "complete"),
        ("The total is $20.", "complete"),
        ("Move it to the 3rd.", "complete"),
        ("Add a check-in.", "complete"),
        ("Write a to-do.", "complete"),
        ("Is it going to-", "incomplete"),  # a cut-off word, not a compound
        ("Can you open th-the", "incomplete"),  # a stutter is the word it stopped on
        # a phrasal verb's particle is not a preposition waiting for its object
        ("Sign in.", "complete"),
        ("Zoom in.", "complete"),
        ("Check me in.", "complete"),
        ("Turn it on.", "complete"),
        ("What's going on?", "complete"),
        ("Turn on.", "hesitant"),  # "turn on | the lights": wants its object
        ("Put it in.", "hesitant"),  # "put it in | the drawer"
        ("Turn the lights on.", "complete"),
        ("Switch lights on.", "complete"),
        ("Turn lights on.", "complete"),
        ("Put the book on.", "hesitant"),  # "put the book on | the shelf"
        # prepositions that take an object in nearly every use
        ("Is there a pharmacy near?", "hesitant"),  # "… near | the hotel?"
        ("How many days are left until?", "hesitant"),
        ("Close all the windows except.", "hesitant"),
        # a clause that ends on its verb, not on an auxiliary still to go on
        ("Show me what you have.", "complete"),
        ("Keep it as it is.", "complete"),
        ("Leave it as is.", "complete"),
        ("The report is", "hesitant"),
        # "May" and "Will" inside a clause are a name or the month, not the modal
        ("Text May.", "complete"),
        ("Call Will.", "complete"),
        ("I will.", "hesitant"),
        ("Sign in to", "incomplete"),
        # a quantifier's "of them" is not an object a transcriber invented
        ("All of them.", "complete"),
        ("Send it to all of them.", "complete"),
        ("Give me some of it.", "complete"),
        # a naming verb after whoever did it is a past tense, not "a file called | …"
        ("Who called?", "complete"),
        ("Someone called.", "complete"),
        ("Open the file called.", "incomplete"),
        ("I was wondering when are you called", "incomplete"),  # an alternative Whisper weighs
        ("", "unknown"),
    ],
)
def test_transcript_cue(text: str, verdict: str) -> None:
    assert transcript_cue(text).verdict == verdict


@pytest.mark.parametrize(
    "text",
    [
        "Why does the kettle?",
        "When does the library.",
        "How many pages does?",
        "How do I?",
        "Okay, so how long will the meeting?",
        "Can my phone?",
        "Can you tell me?",  # what?
        "Could you please send us.",
        "Where can I buy?",
        "How do I use?",
        "Find the paragraph that mentions.",  # a relative clause with no object
        "Forward me the email which said.",
        "Reply to the colleague who sent.",
        "What does the word?",  # "what" is not the subject: the verb is still to come
        "Which of these files?",  # the question about the files is still to come
        "Which one of the reports?",
        "Why is my laptop?",  # "be" still wants its predicate
        "Is the printer?",
        "Okay, why are the lights?",
    ],
)
def test_a_question_stopped_before_its_verb_or_object_is_hesitant(text: str) -> None:
    assert transcript_cue(text).verdict == "hesitant"


@pytest.mark.parametrize(
    "text",
    [
        "Why does the kettle whistle?",
        "When does the store open?",
        "How much does it cost?",
        "Who can help?",  # the wh-word is the subject, "help" the verb
        "Who does the dishes?",  # "does" is the main verb
        "Why does that matter?",  # "that" is the subject
        "Do you?",
        "Who does?",
        "Do the dishes.",
        "Do you know what time it is?",
        "Where is the station?",  # "be" is a main verb
        "How is your mother?",  # "how" is the predicate
        "Why is that?",  # a pronoun subject: a whole question
        "Is it?",
        "Is the museum open?",
        "Why is the sky blue?",
        "Can you call me?",
        "Tell me.",  # an answer to the assistant's offer
        "Can you tell me a joke?",
        "Where can I park?",
        "How do I reset?",  # devices reset themselves
        "How can I tell?",
        "What do you need?",  # "what" is the object
        "Where can I buy stamps?",
        "Find the paragraph that mentions the deadline.",
        "Find the file that I need.",  # the object came first
        "Show me what that means.",  # "that" is a demonstrative
        "Open the one that works.",
        "Which of these is newer?",
        "Which of these files is newer?",
        "Which of your plans did you like?",
    ],
)
def test_a_question_with_its_verb_and_object_stays_complete(text: str) -> None:
    assert transcript_cue(text).verdict == "complete"


@pytest.mark.parametrize(
    ("alternatives", "verdict"),
    [
        ((), "complete"),
        ((("Add a paragraph about", 0.48),), "hesitant"),  # nearly wrote a dangling word
        ((("Add a paragraph about", 0.05),), "complete"),  # weighed, but hardly
        ((("Add a paragraph abode", 0.9),), "complete"),  # another word, not dangling
    ],
)
def test_a_nearly_dangling_last_word_makes_the_reading_hesitant(
    alternatives: tuple[tuple[str, float], ...], verdict: str
) -> None:
    assert reading_cue(Reading("Add a paragraph above.", alternatives)).verdict == verdict


@pytest.mark.parametrize(
    ("continuations", "verdict"),
    [
        ((("Move my appointment to", 0.47),), "hesitant"),  # may have dropped a last "to"
        ((("Move my appointment to", 0.02),), "complete"),  # weighed, but hardly
        ((("Move my appointment now", 0.06), ("Move my appointment for", 0.05)), "hesitant"),
        ((("Move my appointment now", 0.05),), "complete"),
    ],
)
def test_the_words_weighed_for_going_on_make_the_reading_hesitant_together(
    continuations: tuple[tuple[str, float], ...], verdict: str
) -> None:
    """ "How do I reset?" with " it" and " me" beside its "?" was cut before the object."""
    reading = Reading("Move my appointment.", continuations=continuations)
    assert reading_cue(reading).verdict == verdict


# Short turns: a long one read with a mild doubt is left to Smart Turn instead (below).
STATEMENT = "Email the land board."
QUESTION = "Is the land board open?"


@pytest.mark.parametrize("text", [STATEMENT, QUESTION])
@pytest.mark.parametrize(
    ("odds", "verdict", "firm"),
    [
        ({}, "complete", True),  # ended without a doubt
        ({"trailing": 0.05, "alternatives": (("{stem} of", 0.03),)}, "complete", True),
        # doubts each under a threshold of their own, together over FIRM_ODDS: the model's
        # "complete" no longer ends it within an in-sentence pause ("Order more coffee.")
        ({"trailing": 0.06, "alternatives": (("{stem} of", 0.05),)}, "hesitant", False),
        (
            {
                "alternatives": (("{stem} of", 0.2),),
                "continuations": (("{stem} board and", 0.05),),
                "trailing": 0.1,
            },
            "hesitant",
            False,
        ),
        # another last word that ends a sentence too is no doubt that the person is done
        ({"alternatives": (("{stem} border", 0.9),)}, "complete", True),
    ],
)
def test_a_sentence_read_with_doubts_that_add_up_waits_out_a_pause(
    text: str, odds: dict[str, Any], verdict: str, firm: bool
) -> None:
    stem = text.rstrip(".?").rsplit(" ", 1)[0]  # "Email the land"
    odds = {
        key: tuple((t.format(stem=stem), o) for t, o in value) if key != "trailing" else value
        for key, value in odds.items()
    }
    cue = reading_cue(Reading(text, weighed=True, **odds))
    assert (cue.verdict, cue.firm) == (verdict, firm)


LONG = "I need a summary of the quarterly report."


@pytest.mark.parametrize(
    ("text", "odds", "verdict"),
    [
        (LONG, {"trailing": 0.13}, "complete"),  # six words or more, doubts under 0.2
        (LONG, {"trailing": 0.08, "alternatives": ((f"{LONG[:-8]} the", 0.1),)}, "complete"),
        (LONG, {"trailing": 0.25}, "hesitant"),  # more than a mild doubt
        ("Order more coffee.", {"trailing": 0.13}, "hesitant"),  # a short turn
        ("Remind me to call my mother.", {"trailing": 0.13}, "complete"),
        ("Remind me to call her.", {"trailing": 0.13}, "hesitant"),  # five words
        # the other doubts still hold it whatever its length
        (LONG, {"trailing": 0.05, "words_end_odds": 0.03}, "hesitant"),
        (LONG, {"alternatives": ((f"{LONG[:-8]} the", 0.3),)}, "hesitant"),
    ],
)
def test_a_long_sentence_read_with_a_mild_doubt_is_left_to_smart_turn(
    text: str, odds: dict[str, Any], verdict: str
) -> None:
    cue = reading_cue(Reading(text, weighed=True, **odds))
    assert cue.verdict == verdict
    assert not cue.firm


def test_smart_turn_decides_a_long_sentence_read_with_a_mild_doubt(
    detector: det.TurnDetector,
) -> None:
    mild = Reading(LONG, trailing=0.13, weighed=True)
    silence, reason = _ended_at(detector, 0.97, mild)
    assert silence <= 0.02 and reason == "model"
    # not firm: a model that doubts it holds it, as for any complete text without odds,
    # until its last look; a firm one ends after the firm wait
    held = _ended_at(detector, 0.02, mild)
    assert held == (detector.whole_sentence_wait_s, "transcript")
    firm = _ended_at(detector, 0.02, Reading(LONG, trailing=0.05, weighed=True))
    assert firm is not None and firm[1] == "transcript" and firm[0] < det.HESITANT_WAIT_S


@pytest.mark.parametrize("text", [STATEMENT, QUESTION])
def test_a_cloud_text_has_no_odds_and_its_own_cue_stands(text: str) -> None:
    cue = reading_cue(Reading(text, trailing=0.2))
    assert cue.verdict == "complete"
    assert cue.firm is text.endswith("?")  # a complete question is firm by its words


STEM = "I was wondering if you could help"
HELP = f"{STEM} me."


@pytest.mark.parametrize(
    ("text", "odds", "firm"),
    [
        (HELP, {"weighed": True}, True),
        (HELP, {}, False),  # odds not known
        (HELP, {"trailing": 0.2, "weighed": True}, False),
        (  # another word and a trailing mark, together 0.11
            HELP,
            {"continuations": ((f"{STEM} me with", 0.05),), "trailing": 0.06, "weighed": True},
            False,
        ),
        (  # a dangling last word instead ("… help the") and a trailing mark
            HELP,
            {"alternatives": ((f"{STEM} the", 0.06),), "trailing": 0.05, "weighed": True},
            False,
        ),
        (  # another last word that ends a sentence too does not count
            HELP,
            {"alternatives": ((f"{STEM} Mia", 0.5),), "weighed": True},
            True,
        ),
        ("Set a timer for it.", {"weighed": True}, False),  # a doubtful text stays so
        ("Why is the sky blue?", {}, True),  # a complete question needs no odds
    ],
)
def test_a_sentence_the_transcriber_ended_without_a_doubt_is_firm(
    text: str, odds: dict[str, Any], firm: bool
) -> None:
    assert reading_cue(Reading(text, **odds)).firm is firm


@pytest.mark.parametrize(
    ("text", "end_odds", "verdict"),
    [
        ("How much would a new battery?", 0.03, "hesitant"),  # "… cost for this phone?"
        ("When does the post office?", 0.06, "hesitant"),
        ("What time is my next meeting?", 4.0, "complete"),
        ("How much would a new battery?", None, "complete"),  # not known: the text decides
        ("Open the document called", 3.0, "incomplete"),  # the words say it first
    ],
)
def test_words_that_go_on_by_themselves_make_the_reading_hesitant(
    text: str, end_odds: float | None, verdict: str
) -> None:
    """A phrase can be a whole question to the grammar and still plainly not all of it."""
    cue = reading_cue(Reading(text, weighed=True, words_end_odds=end_odds))
    assert cue.verdict == verdict
    assert not (verdict == "hesitant" and cue.firm)


@pytest.mark.parametrize(
    ("trailing", "verdict"), [(0.0, "complete"), (0.2, "complete"), (0.6, "hesitant")]
)
def test_a_reading_that_nearly_trailed_off_is_hesitant(trailing: float, verdict: str) -> None:
    """Whisper wrote "?" where it weighed "…" too: the odds of the trailing mark decide."""
    assert reading_cue(Reading("Can I ask you?", trailing=trailing)).verdict == verdict


@pytest.fixture(scope="module")
def detector() -> det.TurnDetector:
    return det.TurnDetector(load_settings(None), expects_text=True, virtual_clock=True)


def _pause(d: det.TurnDetector, prob: float, text: str | Reading, fresh: bool = True) -> None:
    """Put the detector in a pause that began at 1.0 s with a known verdict and text;
    ``fresh``: the text covers all the speech (not read before a resumption)."""
    d._end_turn_state()
    reading = text if isinstance(text, Reading) else Reading(text)
    d.set_reading(reading, 1.1)  # outside a pause: only stored (and its cue read)
    d._state = "pause"
    d._end_s, d._stop_at = 1.0, 1.1
    d._prob, d._text_fresh = prob, fresh
    d._rechecks_done = len(det.RECHECK_AT_S)  # no new model calls in these tests


def _ended_at(
    d: det.TurnDetector,
    prob: float,
    text: str | Reading,
    fresh: bool = True,
    *,
    horizon_s: float = 4.0,
) -> tuple[float, str] | None:
    _pause(d, prob, text, fresh)
    for k in range(1, round(horizon_s * 100)):
        now = 1.0 + k * 0.01
        for s in d._evaluate(now):
            if s.kind == "turn_end":
                return round(now - 1.0, 2), s.reason or ""
    return None


def test_confident_model_and_finished_text_end_at_once(detector: det.TurnDetector) -> None:
    silence, reason = _ended_at(detector, 0.97, "What time is my next meeting?")
    assert silence <= 0.02 and reason == "model"


def test_a_doubtful_model_does_not_end_the_turn_in_a_short_gap(
    detector: det.TurnDetector,
) -> None:
    # 0.6 right at the stop may be a gap between two words ("product … launch"); the same
    # verdict after the early window is enough.
    silence, reason = _ended_at(detector, 0.6, "Let's go over the plan for the product.")
    assert reason == "model"
    assert det.EARLY_SILENCE_S <= silence <= det.EARLY_SILENCE_S + 0.02


def test_dangling_word_waits_for_the_maximum(detector: det.TurnDetector) -> None:
    silence, reason = _ended_at(detector, 0.99, "Open the document called")
    assert reason == "timeout"
    assert silence == pytest.approx(detector.turn_settings.max_wait_ms / 1000, abs=0.02)


def test_hesitant_text_outlasts_an_in_sentence_pause(detector: det.TurnDetector) -> None:
    # Smart Turn says ~0.97 for a fragment spoken with final intonation; a 0.6–0.8 s pause
    # inside the sentence must not end the turn, a longer silence does.
    silence, reason = _ended_at(detector, 0.97, "Set a timer for it.")
    assert reason == "model"
    assert 0.8 < silence <= det.HESITANT_WAIT_S + 0.02


def test_finished_text_with_a_doubtful_model_waits_out_a_pause(
    detector: det.TurnDetector,
) -> None:
    silence, reason = _ended_at(detector, 0.3, "Delete the last paragraph.")
    assert reason == "transcript"
    assert 0.8 < silence <= det.TRANSCRIPT_MIN_SILENCE_S + 0.02


def test_low_probability_without_text_cue_times_out(detector: det.TurnDetector) -> None:
    _, reason = _ended_at(detector, 0.1, "")
    assert reason == "timeout"


@pytest.mark.parametrize(
    "text",
    [
        "Why is the sky blue?",  # Smart Turn scored it 0.02 for 1.4 s of silence
        Reading("I was wondering if you could help me.", weighed=True),  # 0.01–0.1
    ],
)
def test_a_firm_transcript_ends_the_turn_whatever_the_model_says(
    detector: det.TurnDetector, text: str | Reading
) -> None:
    silence, reason = _ended_at(detector, 0.02, text)
    assert reason == "transcript"
    assert det.FIRM_WAIT_S <= silence <= det.FIRM_WAIT_S + 0.02


def test_a_transcript_that_is_not_firm_waits_for_the_model(detector: det.TurnDetector) -> None:
    assert transcript_cue("Why is the sky blue?").firm
    # a statement without the transcriber's odds is not enough to end the turn early, nor
    # is a doubtful question: past an in-sentence pause, and until Smart Turn's last look
    nearly_trailed = Reading("The sky is blue.", trailing=0.2, weighed=True)
    for text in ("The sky is blue.", nearly_trailed):
        silence, reason = _ended_at(detector, 0.02, text)
        assert reason == "transcript"
        assert detector.whole_sentence_wait_s <= silence <= detector.whole_sentence_wait_s + 0.02
    assert _ended_at(detector, 0.02, "What time does the sun set in?")[1] == "timeout"


@pytest.mark.parametrize(
    "text",
    [
        # flite's "awb": read with other endings weighed together at 0.24, Smart Turn
        # 0.01-0.12 for 1.4 s of silence; it waited the maximum wait (2 s)
        Reading("Let me know if it starts to snow.", trailing=0.24, weighed=True),
        # a long turn with a mild doubt, left to Smart Turn, which scored it 0.02-0.14
        Reading("Move the paragraph about hiring to the end.", trailing=0.11, weighed=True),
        "The sky is blue.",  # a cloud transcript: no odds, a whole sentence all the same
    ],
)
def test_a_whole_sentence_ends_at_smart_turns_last_look_whatever_it_says(
    detector: det.TurnDetector, text: str | Reading
) -> None:
    silence, reason = _ended_at(detector, 0.02, text)
    assert reason == "transcript"
    assert det.HESITANT_WAIT_S < detector.whole_sentence_wait_s <= silence
    assert silence <= detector.whole_sentence_wait_s + 0.02


def _detector_waiting_at_most(max_wait_ms: int) -> det.TurnDetector:
    settings = load_settings(
        Path("/nonexistent/voicedesk-policy-tests/config.toml"),
        environ={},
        overrides={"turn": {"max_wait_ms": max_wait_ms}},
    )
    return det.TurnDetector(settings, expects_text=True, virtual_clock=True)


@pytest.mark.parametrize("max_wait_ms", [1000, 1500, 2000, 3000, 5000])
def test_a_whole_sentence_waits_a_share_of_the_configured_maximum_wait(max_wait_ms: int) -> None:
    """turn.max_wait_ms is the patience a person sets: raised to 5 s because they think
    aloud, a whole sentence Smart Turn doubts still ended at 1.4 s, so the knob no longer
    held the commonest cut-off ("I'd like to book a table. | For four."). It waits the same
    share of the maximum as at the default (1.4 of 2 s), never less than an in-sentence
    pause (``HESITANT_WAIT_S``), never more than the maximum."""
    detector = _detector_waiting_at_most(max_wait_ms)
    max_wait = max_wait_ms / 1000
    expected = min(max_wait, max(det.HESITANT_WAIT_S, max_wait * det.WHOLE_SENTENCE_SHARE))
    assert detector.whole_sentence_wait_s == pytest.approx(expected)
    for text in ("The sky is blue.", Reading("Let me know.", trailing=0.24, weighed=True)):
        ended = _ended_at(detector, 0.02, text, horizon_s=max_wait + 0.5)
        assert ended is not None
        silence, _ = ended
        assert det.HESITANT_WAIT_S <= silence <= expected + 0.02, (max_wait_ms, text)
        assert silence >= expected - 0.001, (max_wait_ms, text)
    # words that need more still wait the whole maximum
    dangling = _ended_at(detector, 0.02, "Set a timer for it.", horizon_s=max_wait + 0.5)
    assert dangling == (pytest.approx(max_wait, abs=0.02), "timeout")


@pytest.mark.parametrize(
    "text",
    [
        "Set a timer for it.",  # the words dangle
        Reading("Set a timer for me.", trailing=0.5, weighed=True),  # nearly trailed off
        Reading("Let me know if it starts.", continuations=(("… starts to", 0.2),), weighed=True),
        Reading("Can you open the file call.", alternatives=(("… called", 0.4),), weighed=True),
        Reading("When does the post office?", words_end_odds=0.02, weighed=True),
    ],
)
def test_words_that_may_need_more_still_wait_for_the_maximum(
    detector: det.TurnDetector, text: str | Reading
) -> None:
    """Only the summed doubts give way to a long silence; a doubt past a threshold of its
    own is a fragment's mark, and Smart Turn's "not yet" holds it to the maximum wait."""
    _, reason = _ended_at(detector, 0.02, text)
    assert reason == "timeout"


def test_a_cloud_text_that_dangles_holds_a_reading_with_summed_doubts() -> None:
    """Of two hesitant cues the words' doubt wins: it does not give way to a long silence."""
    reading = Reading("Sort the names in this list.", trailing=0.3, weighed=True)
    assert reading_cue(reading).held_by_odds
    both = combined_cue(reading, "Sort the names in this list by it.")
    assert both is not None and both.verdict == "hesitant" and not both.held_by_odds


def test_a_question_read_before_the_latest_speech_does_not_end_the_turn(
    detector: det.TurnDetector,
) -> None:
    # The text arrived for the speech before a resumption; what followed is not transcribed.
    silence, reason = _ended_at(detector, 0.02, "Can you read me the report?", fresh=False)
    assert reason == "timeout"
    assert silence == pytest.approx(detector.turn_settings.max_wait_ms / 1000, abs=0.02)


@pytest.mark.parametrize(
    ("heard", "verdict"),
    [
        (None, "complete"),  # not known
        ("Is there a train to me?", "complete"),  # every word was heard
        ("Is there a train to", "hesitant"),  # "me?" was written for the silence
        ("Is there a train", "complete"),  # what was heard ends a sentence too
        ("", "complete"),  # all of it invented: says nothing either way
    ],
)
def test_words_written_for_the_silence_make_the_reading_hesitant(
    heard: str | None, verdict: str
) -> None:
    cue = reading_cue(Reading("Is there a train to me?", heard=heard))
    assert cue.verdict == verdict
    if verdict == "hesitant":
        assert "'me?'" in cue.reason


@pytest.mark.parametrize(
    ("reading", "streamed", "verdict", "firm"),
    [
        # the cloud heard the dangling word the small local model misread
        (Reading("My flight leaves it.", weighed=True), "My flight leaves at", "incomplete", False),
        # the local odds doubt a phrase the cloud text shows as a whole sentence
        (
            Reading("Pause the music.", words_end_odds=0.02, weighed=True),
            "Pause the music.",
            "hesitant",
            False,
        ),
        # both say done: the reading's cue, which alone can be firm
        (
            Reading("That's everything for today.", weighed=True),
            "That's everything for today.",
            "complete",
            True,
        ),
        (None, "Delete the last paragraph.", "complete", False),
        (Reading("Open the document called", weighed=True), None, "incomplete", False),
    ],
)
def test_the_local_reading_and_the_streamed_text_give_the_more_doubtful_cue(
    reading: Reading | None, streamed: str | None, verdict: str, firm: bool
) -> None:
    cue = combined_cue(reading, streamed)
    assert cue is not None and (cue.verdict, cue.firm) == (verdict, firm)


def test_no_words_from_either_transcriber_is_no_cue() -> None:
    assert combined_cue(None, None) is None
    assert combined_cue(Reading(""), "") is None


@pytest.fixture
def two_transcribers() -> det.TurnDetector:
    """A detector fed by a streaming transcriber and a local reading of each pause, as the
    live engine is with ``turn.local_cues`` on."""
    d = det.TurnDetector(
        load_settings(None), expects_text=True, expects_reading=True, virtual_clock=True
    )
    d._state = "pause"
    d._end_s, d._stop_at, d.pauses = 1.0, 1.1, 1
    d._prob = 0.97  # Smart Turn is sure: only the words can hold the turn
    d._rechecks_done = len(det.RECHECK_AT_S)
    return d


def _turn_end(d: det.TurnDetector, signals: list[det.TurnSignal]) -> det.TurnSignal | None:
    return next((s for s in signals if s.kind == "turn_end"), None)


def test_with_both_transcribers_the_model_waits_for_the_reading_too(
    two_transcribers: det.TurnDetector,
) -> None:
    d = two_transcribers
    # the cloud's text looks whole, but the local reading has not come yet: no end
    assert _turn_end(d, d.set_text("Open the document.", 1.15)) is None
    assert _turn_end(d, d._evaluate(1.3)) is None
    # the reading heard the dangling word: the turn waits for the person, not the model
    reading = Reading("Open the document called", weighed=True)
    assert _turn_end(d, d.set_reading(reading, 1.35, pause=d.pauses)) is None
    assert d._cue is not None and d._cue.verdict == "incomplete"
    assert all(_turn_end(d, d._evaluate(1.0 + k * 0.01)) is None for k in range(40, 190))
    assert d._text == "Open the document."  # what the LLM gets is the streamed text


def test_a_reading_of_an_earlier_pause_is_dropped(two_transcribers: det.TurnDetector) -> None:
    d = two_transcribers
    d.set_text("Set a timer.", 1.15)
    stale = Reading("Set a timer for", weighed=True)
    assert d.set_reading(stale, 1.2, pause=d.pauses - 1) == []
    assert d._reading is None and not d._reading_fresh


def test_a_reading_that_comes_after_its_turn_ended_is_dropped(
    two_transcribers: det.TurnDetector,
) -> None:
    d = two_transcribers
    read_at = d.pauses
    d.set_text("Play some jazz.", 1.15)
    ended = None
    for k in range(16, 200):  # the reading is slow: the turn ends on the cloud's text
        ended = ended or _turn_end(d, d._evaluate(1.0 + k * 0.01))
    assert ended is not None and not d.in_turn
    late = Reading("Play some jazz.", weighed=True)
    assert d.set_reading(late, 2.1, pause=read_at) == []
    assert d._reading is None  # the next turn does not start with these words
    assert d._text == ""


def test_a_reading_that_never_comes_holds_the_turn_only_for_the_text_wait(
    two_transcribers: det.TurnDetector,
) -> None:
    d = two_transcribers
    d.set_text("What time is my next meeting?", 1.15)
    ended = None
    for k in range(16, 200):
        ended = ended or _turn_end(d, d._evaluate(1.0 + k * 0.01))
    assert ended is not None and ended.reason == "model"
    assert ended.audio_s == pytest.approx(1.1 + det.TEXT_WAIT_S, abs=0.011)  # from the stop


def test_the_words_of_an_earlier_pause_give_way_to_those_of_the_latest(
    two_transcribers: det.TurnDetector,
) -> None:
    d = two_transcribers
    d._state = "speech"  # the cloud's text of the pause before arrives while the person talks
    d.set_text("Open the document called", 0.9)
    d._state = "pause"
    reading = Reading("Open the document called budget notes.", weighed=True)
    d.set_reading(reading, 1.2, pause=d.pauses)
    assert d._cue is not None and d._cue.verdict == "complete"
    # both of this pause now, both whole: Smart Turn's 0.97 ends the turn, with the cloud's text
    ended = _turn_end(d, d.set_text("Open the document called budget notes", 1.25))
    assert ended is not None and ended.text == "Open the document called budget notes"
