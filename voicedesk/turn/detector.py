"""The end-of-turn state machine: VAD + Smart Turn + transcript cues + a maximum wait.

It is driven purely by audio time (seconds on the input timeline), so the same code decides
live and on a virtual clock (``voicedesk replay``). The engine reads its signals:

- ``speech_start``  a new turn begins (stream audio to STT),
- ``speech_stop``   the VAD heard a short silence (``commit_ms``): commit STT and start the
                    LLM *preemptively*; the end-of-turn model is asked after ``stop_ms``,
- ``speech_resume`` the person went on inside the same turn: cancel that generation,
- ``eou_check``     a model verdict (for the UI and replay),
- ``turn_end``      the turn is over (reason ``model``, ``transcript``, ``timeout`` or ``ptt``;
                    live also ``muted``, ``mode``: ``end_now``).

Policy, in order: a transcript that stops on a word needing a continuation ("the", "and",
"called", "um") never ends the turn before the maximum wait; a weaker dangling word ("to",
"is", "can", a preposition before a question mark) holds the turn for a pause longer than an
in-sentence one (``HESITANT_WAIT_S``) whatever the model says; otherwise the model's
P(complete) ≥ threshold ends it — within the first ``EARLY_SILENCE_S`` of silence only at
``EARLY_THRESHOLD``, since that silence may be a gap between two words. A firm transcript of
all the speech (a complete question, or a sentence the local transcriber ended without
weighing going on: ``Cue.firm``) ends it after ``FIRM_WAIT_S`` whatever the model says; any
other sentence-final transcript with a doubtful model only after an in-sentence pause, and
after ``WHOLE_SENTENCE_SHARE`` of the maximum wait whatever the model says
(``Cue.whole_sentence``).
When a transcriber is attached the model's "complete" waits for the text of the latest speech
(the LLM is already running, so this costs the listener nothing), up to a short text timeout.
The text comes from up to two places: the streaming transcriber (``set_text``, what the LLM
gets) and a local reading of the pause that also says what the transcriber weighed
(``set_reading``; ``voicedesk.turn.pause_reading``); with both, the cue is the more doubtful
of the two (``cues.combined_cue``), and the model waits for each that is attached.
A low probability is re-checked as the silence grows.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal

import numpy as np

from voicedesk.audio.wavio import to_int16
from voicedesk.config import Settings
from voicedesk.turn.cues import Cue, Reading, combined_cue
from voicedesk.turn.smart_turn import SmartTurn
from voicedesk.turn.vad import RATE, WINDOW, VadEvent, VadSegmenter
from voicedesk.turn.words_end import words_end_s

SignalKind = Literal["speech_start", "speech_stop", "speech_resume", "eou_check", "turn_end"]

TEXT_WAIT_S = 0.8  # longest we hold a model "complete" waiting for the transcript
# A weak dangling word ("… for it", "… to?") waits out an in-sentence pause (0.6–0.8 s in
# the measure, longer than the 0.4 s a finished sentence may take). It used to need
# P(complete) ≥ 0.93 instead, but Smart Turn scores a fragment spoken with final intonation
# (synthetic speech, and people who trail off) at ~0.97, so the model cannot vouch for it.
HESITANT_WAIT_S = 0.9
TRANSCRIPT_THRESHOLD = 0.25  # with a sentence-final transcript, this much suffices...
TRANSCRIPT_MIN_SILENCE_S = 0.9  # ...after a pause longer than an in-sentence one
# A firm transcript of all the speech ends the turn after this much silence whatever the
# model says. Smart Turn scores some plainly finished sentences near 0 for seconds ("Why is
# the sky blue?" 0.02 until 1.4 s, "I was wondering if you could help me." 0.01–0.1), while
# the text of a phrase cut off mid-sentence almost never reads as a question that stops on a
# content word (Whisper writes "?" from the words and the rising or wh- intonation together),
# nor as a sentence Whisper ended without weighing another word or "…". Counted from where
# the VAD heard the speech end, up to 0.14 s after it did (Piper fixtures): 0.25 s keeps
# the wait under the 0.4 s a finished sentence may take (0.3 s came to 0.41–0.45 s for
# "Put a comma after the first word." and "… because I forgot it."), and past the gaps
# inside a word or between two words.
FIRM_WAIT_S = 0.25
# Words that make a whole sentence (complete, or held only by the transcriber's summed
# doubts: ``Cue.whole_sentence``) end the turn after this share of the maximum wait
# (``turn.max_wait_ms``) whatever Smart Turn says: 1.4 s of the default 2 s, never under
# ``HESITANT_WAIT_S``. Smart Turn was trained on people, not on every voice: it scored
# finished flite sentences 0.01–0.16 for seconds, so a sentence read with a doubt waited the
# maximum wait for a "not yet" that was about the voice, not the words. At the default,
# 1.4 s is when Smart Turn would look last before the maximum wait (``RECHECK_AT_S``), past
# the 0.9 s that outlasts an in-sentence pause, so every fragment and pause is still held
# past that; the turn ends there without that look, which would only change the reason. A
# share, not a fixed 1.4 s: the maximum wait is the patience the person sets, and raised
# (someone who thinks aloud) it must hold a whole sentence longer too, as it did before
# this rule. Words that need more ("… for", "… to?") still wait for more speech or the
# maximum wait (docs/turn-detection.md, "Whole sentences wait no more than 1.4 s").
WHOLE_SENTENCE_SHARE = 0.7
# Right after the stop the silence may still be a gap inside a word or between two words
# (a stop consonant, a breath): the model must be surer then than once the silence has lasted.
EARLY_SILENCE_S = 0.2
EARLY_THRESHOLD = 0.9
RECHECK_AT_S = (0.2, 0.3, 0.9, 1.4)  # silence lengths at which a "not yet" is asked again
MAX_TURN_AUDIO_S = 30.0
WORDS_END_AUDIO_S = 3.0  # the turn's tail that words_end reads (its loud frames set the bar)


@dataclass(frozen=True)
class TurnSignal:
    kind: SignalKind
    audio_s: float
    end_s: float | None = None
    start_s: float | None = None
    reason: str | None = None
    probability: float | None = None
    text: str = ""
    verdict: str | None = None


class TurnDetector:
    def __init__(
        self,
        settings: Settings,
        *,
        expects_text: bool = False,
        expects_reading: bool = False,
        mode: str | None = None,
        virtual_clock: bool = False,
    ) -> None:
        """``expects_text``: a streaming transcriber will ``set_text`` at each pause;
        ``expects_reading``: a local reading will ``set_reading`` (a model "complete" waits
        for each that is expected, up to ``TEXT_WAIT_S``)."""
        self.settings = settings
        self.turn_settings = settings.turn
        self.mode = mode or settings.turn.mode
        self.expects_text = expects_text and settings.turn.use_transcript_cues
        self.expects_reading = expects_reading and settings.turn.use_transcript_cues
        self.virtual_clock = virtual_clock
        self.segmenter = VadSegmenter(settings)
        # the ``words`` stream's last samples, enough for the pre-roll and the window pending
        self._words_ring_size = (self.segmenter.preroll.maxlen or 1) * WINDOW + WINDOW
        self._words_ring = np.zeros(0, np.int16)
        # The microphone's last samples while the talk key is up (``listen_idle``), for the
        # next press's pre-roll; ``_unheard``: the VAD has not heard them.
        self._mic_ring = np.zeros(0, np.int16)
        self._unheard = False
        self.model = SmartTurn(settings)
        self._state: Literal["idle", "speech", "pause"] = "idle"
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._fed_s = 0.0  # audio time up to which blocks were fed
        # Pauses heard so far: a reading of an earlier pause that arrives after the person
        # went on and paused again is about words that are no longer the end of the turn.
        self.pauses = 0
        self.reset()

    # ------------------------------------------------------------------ state
    @property
    def in_speech(self) -> bool:
        return self._state == "speech"

    @property
    def in_turn(self) -> bool:
        return self._state != "idle"

    @property
    def at_rest(self) -> bool:
        """No turn is under way or being decided, and no speech is beginning: silence from
        here on can make no turn (a headless run may end once its answers are out)."""
        return self._state == "idle" and not self.segmenter.speech_beginning

    @property
    def holds_to_max_wait(self) -> bool:
        """In a pause whose words need a continuation ("… for", "… and um"): only more
        speech or the maximum wait (``max_wait_s``) can end the turn. With the talk key held
        the key ends it, but the words say the same: the person is going on, and an answer
        prepared at every such pause of a dictation was a request cancelled at the next
        word (the engine prepares it as late as hands-free, ``PREPARE_AHEAD_S``)."""
        return (
            self._state == "pause" and self._cue is not None and self._cue.verdict == "incomplete"
        )

    @property
    def max_wait_s(self) -> float:
        return self.turn_settings.max_wait_ms / 1000

    @property
    def whole_sentence_wait_s(self) -> float:
        """The silence after which a whole sentence ends the turn whatever Smart Turn says
        (``WHOLE_SENTENCE_SHARE``), never later than the maximum wait itself."""
        return min(self.max_wait_s, max(HESITANT_WAIT_S, WHOLE_SENTENCE_SHARE * self.max_wait_s))

    @property
    def vad_starts(self) -> int:
        """How many times its VAD's windows began at a block (``VadSegmenter.starts``)."""
        return self.segmenter.starts

    def reset(self) -> None:
        self.segmenter.reset()
        self._mic_ring = np.zeros(0, np.int16)  # nothing from before a mute is kept
        self._unheard = False
        self._end_turn_state()

    def _end_turn_state(self) -> None:
        # The end of a turn counts as a pause gone by: a reading of the turn's last pause
        # that arrives after the turn ended (a slow machine, `replay --realtime`) is about
        # no turn, and was taken as the start of the next one's words.
        self.pauses += 1
        self._state = "idle"
        self._blocks = []
        self._word_blocks: list[np.ndarray] = []  # the same audio, as the transcriber gets it
        self._samples = 0
        self._start_s = 0.0
        self._end_s = 0.0
        self._stop_at = 0.0
        self._streamed: str | None = None
        self._reading: Reading | None = None
        self._cue: Cue | None = None  # what the text says, read once per text, not per block
        self._text_fresh = False  # the streamed text is of the latest speech
        self._reading_fresh = False  # the reading is of the latest speech
        self._future: Future[float] | None = None
        self._prob: float | None = None
        self._rechecks_done = 0

    def turn_audio(self) -> np.ndarray:
        if not self._blocks:
            return np.zeros(0, np.int16)
        return np.concatenate(self._blocks)

    def transcript_audio(self) -> np.ndarray:
        """The turn's audio so far (pre-roll included) as the transcriber gets it: the
        ``words`` given with each block, which may differ from what the VAD hears."""
        if not self._word_blocks:
            return np.zeros(0, np.int16)
        return np.concatenate(self._word_blocks)

    def _recent_words(self, n: int) -> np.ndarray:
        """The last ``n`` samples of the ``words`` stream (the pre-roll's counterpart)."""
        return self._words_ring[max(0, self._words_ring.size - n) :]

    def words_end(self, end_s: float) -> float:
        """Where the words before the silence the VAD heard from ``end_s`` ended, for the
        timings (``words_end.py``); the waits here still count from ``end_s``."""
        tail: list[np.ndarray] = []
        size = 0
        for block in reversed(self._blocks):  # the last few seconds are enough
            tail.append(block)
            size += block.size
            if size >= WORDS_END_AUDIO_S * RATE:
                break
        if not tail:
            return end_s
        return words_end_s(np.concatenate(tail[::-1]), self._fed_s, end_s)

    def pause_audio(self) -> tuple[np.ndarray, float]:
        """The turn's audio so far and how much of its end the VAD heard as silence: what a
        reading of the pause (``set_reading``) reads."""
        return self.turn_audio(), max(0.0, self._fed_s - self._end_s)

    def _append(self, pcm: np.ndarray, words: np.ndarray) -> None:
        self._blocks.append(pcm)
        self._word_blocks.append(words)
        self._samples += pcm.size
        limit = int(MAX_TURN_AUDIO_S * RATE)
        while self._samples - self._blocks[0].size > limit:
            self._samples -= self._blocks.pop(0).size
            self._word_blocks.pop(0)

    # ------------------------------------------------------------------ input
    def feed(
        self, block: np.ndarray, audio_s: float, words: np.ndarray | None = None
    ) -> list[TurnSignal]:
        """``words``: the same block as the transcriber is to get it (``transcript_audio``),
        when that is not ``block`` (``EchoCanceller.words``)."""
        pcm = to_int16(block)
        wpcm = pcm if words is None or words.size != pcm.size else to_int16(words)
        now = audio_s + pcm.size / RATE
        self._fed_s = now
        self._unheard = False
        keep = self._words_ring_size + pcm.size
        self._words_ring = np.concatenate([self._words_ring[-keep:], wpcm])
        events = self.segmenter.feed(pcm, audio_s)
        if self.mode == "push-to-talk":
            if self._state == "idle":
                return []
            self._append(pcm, wpcm)
            return self._held_key_pauses(events)
        signals: list[TurnSignal] = []
        appended = False
        for e in events:
            if e.kind == "start":
                if self._state == "idle":
                    self._state = "speech"
                    self._start_s = e.edge_s
                    pre = self.segmenter.preroll_audio()
                    pending = self.segmenter._pending  # not yet windowed tail of this block
                    audio = np.concatenate([pre, pending]) if pending.size else pre
                    self._append(to_int16(audio), self._recent_words(audio.size))
                    appended = True
                    signals.append(TurnSignal("speech_start", audio_s=e.at_s, start_s=e.edge_s))
                elif self._state == "pause":
                    self._state = "speech"
                    self._cancel_model()
                    signals.append(TurnSignal("speech_resume", audio_s=e.at_s, start_s=e.edge_s))
            elif e.kind in ("pause", "stop") and self._state == "speech":
                # A pause (commit_ms) already hands the speech to the transcriber and the
                # LLM; the end-of-turn model waits for the stop (stop_ms) either way.
                if not appended:
                    self._append(pcm, wpcm)
                    appended = True
                self._state = "pause"
                self._end_s = e.edge_s
                self._stop_at = e.at_s
                self._text_fresh = self._reading_fresh = False
                self.pauses += 1
                self._rechecks_done = 0
                self._prob = None
                if e.kind == "stop":
                    self._submit_model()
                signals.append(TurnSignal("speech_stop", audio_s=e.at_s, end_s=e.edge_s))
            elif e.kind == "stop" and self._state == "pause" and self._future is None:
                self._submit_model()
            elif e.kind == "continue" and self._state == "pause":
                self._state = "speech"
                self._cancel_model()
                signals.append(
                    TurnSignal("speech_resume", audio_s=e.at_s, start_s=e.edge_s, reason="continue")
                )
        if self._state != "idle" and not appended:
            self._append(pcm, wpcm)
        if self._state == "pause":
            signals += self._evaluate(now)
        return signals

    def _held_key_pauses(self, events: list[VadEvent]) -> list[TurnSignal]:
        """With the talk key held, the speech's pauses and its going on again, as in
        hands-free: at a pause the engine commits the transcript and prepares the answer,
        held until the key is let go. Prepared only at the release, the answer's first
        sound waited a whole transcript and first token after it, where most people hold
        the key a moment past their last word. Never the end-of-turn model nor a wait:
        the key alone ends the turn."""
        signals: list[TurnSignal] = []
        for e in events:
            if e.kind in ("start", "continue") and self._state == "pause":
                self._state = "speech"
                signals.append(TurnSignal("speech_resume", audio_s=e.at_s, start_s=e.edge_s))
            elif e.kind in ("pause", "stop") and self._state == "speech":
                self._state = "pause"
                self._end_s = e.edge_s
                self.pauses += 1
                signals.append(TurnSignal("speech_stop", audio_s=e.at_s, end_s=e.edge_s))
        return signals

    def set_text(self, text_so_far: str, audio_s: float) -> list[TurnSignal]:
        """The streaming transcriber's text of the turn so far (what the LLM answers)."""
        self._streamed = text_so_far
        if self._state == "pause":
            self._text_fresh = True
        return self._words_arrived(audio_s)

    def set_reading(
        self, reading: Reading, audio_s: float, *, pause: int | None = None
    ) -> list[TurnSignal]:
        """A local reading of the turn so far, with what the transcriber knows of its doubts;
        ``pause``: the ``pauses`` count it was read at (an older one is dropped)."""
        if pause is not None and pause != self.pauses:
            return []
        self._reading = reading
        if self._state == "pause":
            self._reading_fresh = True
        return self._words_arrived(audio_s)

    def _words_arrived(self, audio_s: float) -> list[TurnSignal]:
        """Read the cue again from the words both transcribers gave; in a pause, decide now
        (outside one the cue is only kept for the next)."""
        self._cue = self._combined_cue()
        if self.mode == "push-to-talk":  # the key ends the turn, not what the words say
            return []
        return self._evaluate(audio_s) if self._state == "pause" else []

    @property
    def _text(self) -> str:
        """The streaming transcriber's text (what the LLM answers), or else the reading's."""
        return self._streamed or (self._reading.text if self._reading else "")

    def _combined_cue(self) -> Cue | None:
        """The cue of the streamed text and the reading; of the two, one that is of the
        latest speech while the other is not yet stands alone (a pause's earlier words must
        not hold, nor end, a turn that went on)."""
        reading, streamed = self._reading, self._streamed
        if self._text_fresh and not self._reading_fresh:
            reading = None
        elif self._reading_fresh and not self._text_fresh:
            streamed = None
        return combined_cue(reading, streamed)

    def wait_eou(self) -> None:
        if self._future is not None:
            self._future.result()

    def listen_idle(self, block: np.ndarray, words: np.ndarray | None = None) -> None:
        """The talk key is up: keep the microphone's last samples for the next press's
        pre-roll, without the VAD (nothing it hears makes a turn). Unkept, a press's
        pre-roll was the end of the previous hold (the VAD's last windows): its last words
        went into the new turn and this press's first syllable was not in it."""
        pcm = to_int16(block)
        wpcm = pcm if words is None or words.size != pcm.size else to_int16(words)
        keep = self._words_ring_size
        self._mic_ring = np.concatenate([self._mic_ring[-keep:], pcm])
        self._words_ring = np.concatenate([self._words_ring[-keep:], wpcm])
        self._unheard = True

    def ptt_press(self, audio_s: float) -> list[TurnSignal]:
        if self._state != "idle":
            return []
        self._state = "speech"
        self._start_s = audio_s
        n = int(0.1 * RATE)  # the key press itself
        if self._unheard:
            # The VAD missed the time the key was up: it starts again at the next block,
            # on the audio clock (its windows counted on from the previous hold's), and the
            # pre-roll is the microphone just before this press.
            self.segmenter.reset()
            pre = self._mic_ring[-n:]
        else:
            pre = to_int16(self.segmenter.preroll_audio()[-n:])
        self._append(pre, self._recent_words(pre.size))
        return [TurnSignal("speech_start", audio_s=audio_s, start_s=audio_s)]

    def ptt_release(self, audio_s: float) -> list[TurnSignal]:
        """The turn ends at the key's release (``end_now``)."""
        return self.end_now(audio_s, "ptt")

    def end_now(self, audio_s: float, reason: str) -> list[TurnSignal]:
        """The person ends the turn here: the talk key let go, the microphone muted, the
        mode switched. Speech still going on then stops there first, so its last words are
        committed as a pause's are (``_held_key_pauses``). So does speech begun after a
        pause that the VAD has not yet called speech (it wants ``turn.start_ms`` of it):
        ended then, those words were never committed, and the turn was answered without
        them."""
        if self._state == "idle":
            return []
        signals = []
        if self._state == "speech" or self.segmenter.speech_beginning:
            signals.append(TurnSignal("speech_stop", audio_s=audio_s, end_s=audio_s))
        self._end_s = audio_s
        return [*signals, self._finish(audio_s, reason, None)]

    # ------------------------------------------------------------------ policy
    def _submit_model(self) -> None:
        self._cancel_model()
        self._future = self.model.submit(self.turn_audio())
        if self.virtual_clock:
            self._future.result()  # compute time does not advance the audio clock

    def _cancel_model(self) -> None:
        if self._future is not None:
            self._future.cancel()
            self._future = None

    def _evaluate(self, now: float) -> list[TurnSignal]:
        signals: list[TurnSignal] = []
        t = self.turn_settings
        silence = now - self._end_s
        if self._future is not None and self._future.done():
            try:
                self._prob = self._future.result()
            except Exception:  # a failed inference must not wedge the turn: fall back to waiting
                self._prob = None
            self._future = None
            verdict = "complete" if (self._prob or 0) >= t.eou_threshold else "incomplete"
            signals.append(
                TurnSignal(
                    "eou_check",
                    audio_s=now,
                    probability=self._prob,
                    text=self._text,
                    verdict=verdict,
                )
            )
        if silence * 1000 >= t.max_wait_ms:
            return [*signals, self._finish(now, "timeout", self._prob)]
        if self._prob is None and self._future is None:
            return signals  # before the stop (``stop_ms``): Smart Turn is not asked yet
        waiting_for_text = not self._words_fresh() and now - self._stop_at < TEXT_WAIT_S
        cue = self._cue
        needed = t.eou_threshold
        if silence < EARLY_SILENCE_S:
            needed = max(needed, EARLY_THRESHOLD)
        if cue is not None and cue.verdict == "incomplete":
            needed = 2.0  # never by the model: wait for more speech or the maximum wait
        elif cue is not None and cue.verdict == "hesitant" and silence < HESITANT_WAIT_S:
            needed = 2.0  # not during what may be an in-sentence pause
        if self._prob is not None and self._prob >= needed:
            if waiting_for_text:
                return signals
            reason = "model"
            if cue is not None and cue.verdict == "complete" and self._prob < 0.5:
                reason = "transcript"
            return [*signals, self._finish(now, reason, self._prob)]
        words_read = self._words_fresh() or (  # or whichever came, once the rest are late
            (self._text_fresh or self._reading_fresh) and not waiting_for_text
        )
        # The firm rule and the whole sentence's share of the maximum wait do without Smart
        # Turn's answer: live, on a loaded machine, its first call of the pause could still
        # be running (0.3-0.5 s a call with two readings and other programs on 2 cores), and
        # a firm question read in time waited for a number it does not look at.
        if (cue is not None and cue.verdict == "complete" and words_read) and (
            (cue.firm and silence >= FIRM_WAIT_S)
            or (
                self._prob is not None
                and self._prob >= TRANSCRIPT_THRESHOLD
                and silence >= TRANSCRIPT_MIN_SILENCE_S
            )
        ):
            return [*signals, self._finish(now, "transcript", self._prob)]
        # a whole sentence: past its share of the maximum wait (at the default, Smart Turn's
        # last look) the model's "not yet" holds no longer
        whole_sentence = cue is not None and cue.whole_sentence and words_read
        if whole_sentence and silence >= self.whole_sentence_wait_s:
            return [*signals, self._finish(now, "transcript", self._prob)]
        if (
            self._future is None
            and self._rechecks_done < len(RECHECK_AT_S)
            and silence >= RECHECK_AT_S[self._rechecks_done]
            and not (cue is not None and cue.verdict == "incomplete")
        ):
            # One call for every recheck now due: live, a call that came back late (0.3-0.5 s
            # on a loaded machine) left the next ones due at once, and each was asked in turn,
            # on older silence than the audio now has. The 0.9 s look then came at 1.5 s, and
            # a question Smart Turn scored "complete" from 0.9 s ended at the maximum wait.
            # On the virtual clock each call returns at once, so one is due at a time.
            self._rechecks_done = sum(1 for at in RECHECK_AT_S if silence >= at)
            self._submit_model()
            if self.virtual_clock:
                signals += self._evaluate(now)
        return signals

    def _words_fresh(self) -> bool:
        """Every attached transcriber has read the latest speech."""
        return (self._text_fresh or not self.expects_text) and (
            self._reading_fresh or not self.expects_reading
        )

    def _finish(self, now: float, reason: str, prob: float | None) -> TurnSignal:
        sig = TurnSignal(
            "turn_end",
            audio_s=now,
            end_s=self._end_s,
            start_s=self._start_s,
            reason=reason,
            probability=prob,
            text=self._text,
        )
        self._cancel_model()
        self._end_turn_state()
        return sig
