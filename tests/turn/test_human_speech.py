"""The end-of-turn decision on recorded human speech, not synthetic.

Every other fixture is Piper, espeak-ng or flite. These six are a man reading "Sense and
Sensibility" for LibriVox (public domain), from the pocketsphinx sdist's test data, written
by ``tests/fixtures/make_human_fixtures.py --checked-in``: a segment that ends a sentence
and one that ends a clause the reader went on from, each whole, cut at a word boundary, and
with a 0.6–0.8 s pause spliced in, over the recording's own room tone. Each signal holds
some of them: the reading ("And mister john dashwood had then" trails off, and the words
"He was not" alone go on), while Smart Turn scores those 0.5–0.8; Smart Turn (0.08–0.22)
the clause, which the tiny Whisper reads as a long sentence with a mild doubt. The finished sentence must end
without the maximum wait (docs/turn-detection.md, "Recorded human speech").
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from voicedesk.bench.turn import score
from voicedesk.config import Settings, load_settings
from voicedesk.providers import local_stt
from voicedesk.turn.detector import WHOLE_SENTENCE_SHARE
from voicedesk.turn.replay import replay

HUMAN = Path(__file__).resolve().parents[1] / "fixtures" / "human"
NO_CONFIG = Path("/nonexistent/voicedesk-turn-tests/config.toml")

pytestmark = pytest.mark.skipif(
    not local_stt.available(), reason="needs faster-whisper and its model"
)


def settings() -> Settings:
    return load_settings(NO_CONFIG, environ={})


@cache
def labels() -> dict[str, dict[str, Any]]:
    data = json.loads((HUMAN / "labels.json").read_text(encoding="utf-8"))
    return {item["file"]: item for item in data}


def scored(name: str) -> dict[str, Any]:
    turns = replay(HUMAN / name, settings(), transcriber=local_stt.cue_reader()).turns
    return score(labels()[name], turns)


@pytest.mark.parametrize(
    "name", [n for n, lab in sorted(labels().items()) if lab["category"] != "finished"]
)
def test_a_reader_who_goes_on_is_not_answered(name: str) -> None:
    """Cut mid-sentence ("And mister john dashwood had then"), at the end of a clause ("He
    was not an ill disposed young man,"), or paused 0.6–0.8 s in it: no turn ends within
    600 ms of the last word, nor during the pause."""
    result = scored(name)
    assert result["ok"], result["turns"]


def test_a_readers_finished_sentence_ends_before_the_maximum_wait() -> None:
    """A 25-word sentence read to its full stop ends, is not cut off, and does not wait out
    the maximum wait: at most the whole sentence's share of it after the VAD's end (1.4 s;
    here ~0.9 s, held by "… for them", an object small transcribers also invent)."""
    s = settings()
    (name,) = [n for n, lab in labels().items() if lab["category"] == "finished"]
    result = scored(name)
    (turn,) = result["turns"]
    assert not result["cut_off"]
    assert turn["decided_s"] - turn["end_s"] <= WHOLE_SENTENCE_SHARE * s.turn.max_wait_ms / 1000
