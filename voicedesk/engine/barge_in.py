"""Barge-in policy: when speech over the answer stops it, and when it was only a noise.

Kept apart from the session so the rule can be tested and tuned on its own. The sequence:

1. Speech is detected while an answer is playing → once it has lasted ``min_speech_ms`` the
   playback is *paused* (silent at the next audio block), generation keeps running. Blocks
   the echo canceller shows to be the speaker's echo alone do not count. While the
   canceller is untrusted (its longer minimum), stretches of speech close together add up.
2. The interruption's transcript decides: words (at least ``min_words``, 1 when it is 0) →
   the answer is cut for good, the history keeps what was heard, and the interruption is the
   next turn. Fewer → the answer resumes where it stopped: no words (a cough, a door), or a
   backchannel ("mm-hm" always, "okay" when ``min_words`` is above 1), which is then no
   turn at all (the session prepares no answer to it and keeps it out of the history and
   the log).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from voicedesk.config import BargeInSettings

Verdict = Literal["none", "pause", "cut", "resume"]
# A fresh AEC3 passes echo through while its delay estimate settles, and the VAD may take it
# for speech: for 0.42 s in bench echo's seed 13 (which barged in with 350 ms, the value
# before), 0.41 s in `voicedesk bench echo --fresh-cancellers 100 --path-ms 120 --seed 3`,
# at most 0.34 s over `--fresh-cancellers 300` (20–120 ms paths), bar one AEC3 that turned
# transparent and stayed so (no minimum helps there; see docs/architecture.md).
UNCONVERGED_MIN_SPEECH_MS = 500


# Speech resuming after a gap this short is one stretch for the minimum-speech count (the
# gaps inside and between words), and the gap counts as speech. The turn's stop
# (``turn.stop_ms``, 128 ms) waits longer, for a comma or the hush before an "um"; joining
# across gaps that long counted up to 128 ms of silence between residual echo blips as
# speech over the answer: a false barge-in on a fresh canceller and a reaction of 0.55 s
# instead of 0.19 s (``bench echo`` seeds 13 and 6, where 64 ms, the stop's value when the
# barge-in figures were taken, had neither).
JOIN_GAP_S = 0.064


# Until the echo canceller has converged the minimum (``UNCONVERGED_MIN_SPEECH_MS``) is
# longer than most words, and a person who talks over an answer says them in stretches the
# VAD ends at each comma ("Wait, | stop, | tell me something else instead": 0.41, 0.44 and
# 0.5 s of speech, 0.13 and 0.26 s apart). Counted one stretch at a time, none reached it
# and the first answer went on for 1.8 s over them. So while cautious, a stretch that
# begins this soon after the last one ended adds to what that one counted; the gap itself
# does not count, nor do blocks shown to be echo. Not when the canceller is trusted: its
# 100 ms minimum is shorter than any word, and carrying could add up residual echo blips.
CARRY_GAP_S = 0.4


# Sounds that say only "go on" — "mm-hm", "mhm", "uh-huh" however the transcriber spells
# them — are a backchannel whatever ``min_words`` asks: at its default 0 (any word
# interrupts) they were a word, and cut the answer to be answered. Not words that can
# answer or object ("okay", "yeah", "right", "no", "hmm"): those still interrupt at 0.
# The two halves may be joined by a hyphen, a space or nothing ("mm-hmm", "mm hmm",
# "mhm"; "uh-huh", "uh huh"), as transcribers write them.
_GO_ON = re.compile(r"(?:\s*(?:m+(?:[- ]?h+m+|m)|u[hm][- ]?h[uo]h?m?)[\s.,!…]*)+", re.IGNORECASE)


def only_go_on(text: str) -> bool:
    """Whether ``text`` holds nothing but sounds that ask the answer to go on."""
    return bool(text.strip()) and _GO_ON.fullmatch(text.strip()) is not None


def joins_stretch(gap_s: float) -> bool:
    """Whether speech resuming ``gap_s`` after it paused continues the same stretch."""
    return gap_s <= JOIN_GAP_S + 1e-9


@dataclass
class BargeInPolicy:
    settings: BargeInSettings
    paused: bool = False
    _counted_s: float = 0.0  # speech since the edge that was not the speaker's echo
    _last_s: float | None = None  # the last block counted; None before this stretch began
    _from_s: float = 0.0  # where this stretch's count began
    _carried_s: float = 0.0  # counted by the stretches just before this one (CARRY_GAP_S)
    _ended_s: float | None = None  # where the last stretch counted ended

    @property
    def counted_s(self) -> float:
        """Speech counted toward the cautious minimum: the current stretch's and what the
        stretches just before it carried (the trusted minimum takes the first alone)."""
        return self._counted_s + self._carried_s

    def on_block(
        self,
        now_s: float,
        *,
        speech_start_s: float | None,
        double_talk_ms: int,
        answer_playing: bool,
        converged: bool = True,
        echo_possible: bool = True,
        echo_only: bool = False,
    ) -> Verdict:
        """One audio block: the VAD's speech (its edge, or None when it hears none) or else
        the double-talk cue (how long it has held), as the session and ``bench echo`` see it.

        The cue stands in for the VAD when AEC3 muffles the person; its speech began
        ``double_talk_ms`` ago. ``converged``: the echo canceller's; only the VAD's speech
        waits longer before it has converged (the cue does its own trust check).
        """
        heard = speech_start_s is not None
        if not heard and double_talk_ms <= 0:
            return "none"
        return self.on_speech(
            speech_start_s if speech_start_s is not None else now_s - double_talk_ms / 1000,
            now_s,
            answer_playing=answer_playing,
            cautious=heard and not converged,
            echo_possible=echo_possible,
            echo_only=echo_only,
        )

    def on_speech(
        self,
        speech_start_s: float,
        now_s: float,
        *,
        answer_playing: bool,
        cautious: bool = False,
        echo_possible: bool = True,
        echo_only: bool = False,
    ) -> Verdict:
        """Called for every block while the person is speaking.

        ``cautious``: the echo canceller has not converged yet, so residual echo may pass for
        speech; wait for longer speech (``UNCONVERGED_MIN_SPEECH_MS``) before pausing.
        ``echo_possible``: False when no speaker echo can reach the microphone (headset, WAV
        files); the answer then pauses after the shorter ``min_speech_ms_no_echo``.
        ``echo_only``: the raw microphone holds nothing but the speaker's echo (the canceller
        passed it through): this block does not count as the person's speech. Only the
        speech that is not echo counts toward the minimum, so a burst of passed-through echo
        never adds up, and the quiet gaps of a real interruption only delay it a little.
        """
        if not self.settings.enabled or not answer_playing or self.paused:
            return "none"
        if self._last_s is None:  # the VAD's edge is already behind us: count from it
            if self._ended_s is None or speech_start_s - self._ended_s > CARRY_GAP_S + 1e-9:
                self._carried_s = 0.0
            self._last_s = self._from_s = speech_start_s
            self._counted_s = 0.0
        elif speech_start_s < self._from_s:
            # the double-talk cue began the stretch, then the VAD placed the person's start
            # earlier: whichever heard them first sets the start, or the cue would delay the VAD
            self._counted_s += self._from_s - speech_start_s
            self._from_s = speech_start_s
        step = now_s - self._last_s
        self._last_s = now_s
        if echo_only:
            return "none"
        self._counted_s += step
        needed = (
            self.settings.min_speech_ms if echo_possible else self.settings.min_speech_ms_no_echo
        )
        counted = self._counted_s
        if cautious:
            needed = max(needed, UNCONVERGED_MIN_SPEECH_MS)
            counted += self._carried_s
        if counted * 1000 >= needed - 1e-6:
            self.paused = True
            return "pause"
        return "none"

    def enough_words(self, text: str) -> bool:
        """Whether speech over the answer says enough to interrupt it. Fewer words are a
        noise or a backchannel, which the answer talks on through; so is "mm-hm" alone,
        whatever ``min_words`` asks (``only_go_on``)."""
        if only_go_on(text):
            return False
        return len(text.split()) >= max(1, self.settings.min_words)

    def on_transcript(self, text: str) -> Verdict:
        """The interruption's words are known: cut the answer or resume it."""
        if not self.paused:
            return "none"
        if self.enough_words(text):
            self.reset()
            return "cut"
        if self.settings.resume_after_noise:
            self.reset()
            return "resume"
        self.reset()
        return "cut"

    def next_stretch(self, ended_s: float | None = None) -> None:
        """Speech begins again after a pause longer than the join gap: its count starts
        again, and takes what the stretches before counted if it begins within
        ``CARRY_GAP_S`` of the last one's end (``on_speech`` checks, knowing its start).

        ``ended_s``: where the VAD heard the last stretch's silence begin. The blocks
        counted after it were the VAD's wait to be sure of that silence (a window, ~40 ms
        a stretch): nothing, and added up over a run of short blips of echo residue they
        made up a fifth of the cautious minimum, so they are not carried."""
        if self.paused:
            return
        if self._last_s is not None:
            waited = max(0.0, self._last_s - ended_s) if ended_s is not None else 0.0
            self._carried_s += max(0.0, self._counted_s - waited)
            self._ended_s = self._last_s
        self._counted_s = 0.0
        self._last_s = None

    def reset(self) -> None:
        """Forget all speech counted: the answer was decided on, or it begins afresh."""
        self.paused = False
        self._counted_s = self._carried_s = 0.0
        self._last_s = self._ended_s = None
