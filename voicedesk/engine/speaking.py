"""What the person hears of voicedesk, and speech over it.

The session decides *what* to say (turns, replies); this module follows what is being said
— the confirmed answer and the spoken error line — from the playback queue's marks, and
acts on speech over it: ``barge_in.BargeInPolicy`` (fed by the VAD's speech edges and the
``double_talk`` cue) says when to pause, and the interruption's words whether to cut or
resume. Kept apart so the session holds the turn logic alone; the session tells it about
speech edges and new answers and hears back, through callbacks, when an answer starts and
ends, since recording a turn and the engine state are the session's.

``check`` runs for every audio block: it must stay cheap (no allocation beyond what the
policy needs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from voicedesk import events as ev
from voicedesk.audio.base import PLAYBACK_RATE
from voicedesk.config import Settings
from voicedesk.engine.api import CHECK_SOUND_UTTERANCE
from voicedesk.engine.barge_in import BargeInPolicy, joins_stretch
from voicedesk.engine.double_talk import DoubleTalkCue
from voicedesk.engine.early_pause import SETTLE_S as EARLY_SETTLE_S
from voicedesk.engine.early_pause import EarlyPause
from voicedesk.engine.metrics import TurnRecord
from voicedesk.engine.reply import Reply
from voicedesk.providers.base import SpeechStream, TextToSpeech

if TYPE_CHECKING:
    from voicedesk.audio.aec import EchoVerdict

log = logging.getLogger(__name__)

ERROR_LINE = "Sorry, I couldn't get an answer just now. Please say that again."
# A failed answer to words typed, or to background tool results (a turn nobody spoke): "say
# that again" asked the person to repeat what they had never said. The results stay in the
# conversation, so asking for them again gets the answer.
TYPED_ERROR_LINE = "Sorry, I couldn't get an answer just now. Please try again."
RESULT_ERROR_LINE = "Sorry, I couldn't tell you what I found just now. Ask me for it again."
# A failed answer whose tools had already run: asked again, an edit is made twice (a
# paragraph appended twice). What the tools did is kept in the conversation, so asking
# about it gets the answer.
ACTED_ERROR_LINE = (
    "Sorry, my answer broke off after I had used your tools. "
    "So nothing is done twice, ask me what I did."
)


# A failed answer whose calls went on in the background (its holding line could not be
# spoken): "say that again" asked for the question whose calls were still running, and the
# model, asked it again, could make them again. Their answer follows on its own.
BACKGROUND_ERROR_LINE = (
    "Sorry, I couldn't say that just now. I'm still working on it, "
    "and I'll tell you when it's done."
)


# An answer the provider's content filter withheld (``ContentFilterError``): "say that
# again" asked for the same words, which got the same refusal. The service worked; what it
# refused may be put another way, or left for something else.
FILTERED_ERROR_LINE = (
    "Sorry, the provider's content filter withheld that answer. "
    "Please put it another way, or ask something else."
)


def error_line(
    *,
    typed: bool,
    followup: bool,
    tools_ran: bool = False,
    background: bool = False,
    filtered: bool = False,
) -> str:
    """The line spoken when the answer to a turn failed, for how the turn came: spoken,
    typed, or background tool results coming back (``followup``); ``tools_ran``: a tool
    call of this answer that may change something (not declared read-only) had run;
    ``background``: its calls went on in the background, and their answer will follow;
    ``filtered``: the provider's content filter withheld it, so asking the same again gets
    the same refusal (what the background and tool lines say stays true, and comes first)."""
    if followup and not filtered:
        return RESULT_ERROR_LINE
    if background:
        return BACKGROUND_ERROR_LINE
    if tools_ran:
        return ACTED_ERROR_LINE
    if filtered:
        return FILTERED_ERROR_LINE
    return TYPED_ERROR_LINE if typed else ERROR_LINE


# The double-talk cue paused the answer but the VAD heard no speech within this long (the
# canceller stops muffling the person within ~0.1 s of the answer pausing): resume.
DOUBLE_TALK_RESUME_S = 1.0


def _words(text: str) -> list[str]:
    """Lower-case words without punctuation, so "Water." and "water," compare equal."""
    return re.findall(r"[\w']+", text.lower().replace("\u2019", "'"))


class AnswerTurn(Protocol):
    """The little of the session's turn an answer's playback needs: its id and record."""

    @property
    def turn_id(self) -> int: ...

    @property
    def record(self) -> TurnRecord: ...


class Hearing(Protocol):
    """The turn detector as barge-in sees it: whether the VAD hears speech now."""

    @property
    def in_speech(self) -> bool: ...


TurnT = TypeVar("TurnT", bound=AnswerTurn)


@dataclass
class _Line:
    """The spoken error line while it plays: interruptible, and a headless run waits for it."""

    utterance_id: int
    complete: bool = False  # all its audio is queued


class _Tail(NamedTuple):
    """The answer or error line whose queue last ran dry: until ``until_s`` on the timeline,
    speech reaching us was said while its last sample could still be heard."""

    utterance_id: int
    until_s: float
    answer: bool  # False: the error line


class Speaking(Generic[TurnT]):
    """Follows what the person hears — the answer (``playing``, ``playing_turn``) and the
    error line (``line``) — since whether speech is over it, and what a cut keeps, turn on
    that alone, not on the turn in progress.

    ``answer_started`` is called when an answer's first sample is handed to the device;
    ``answer_ended(turn, reply, heard, interrupted)`` when it played out or was cut, after
    its ``PlaybackEnded``; ``update_idle`` whenever the error line stops, since a headless
    run waits for it.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        audio: Any,
        detector: Hearing,
        bus: ev.EventBus,
        clock: Callable[[], float],
        tts: TextToSpeech,
        fallback_tts: TextToSpeech | None,
        utterance_ids: Iterator[int],
        answer_started: Callable[[], None],
        answer_ended: Callable[[TurnT, Reply, str, bool], None],
        update_idle: Callable[[], None],
        key_held: Callable[[], bool] = lambda: False,
    ) -> None:
        """``utterance_ids``: the session's, shared with its replies, so the error line
        never takes an answer's id. ``key_held``: whether the talk key is down now."""
        self._settings = settings
        self._audio = audio
        self._detector = detector
        self._bus = bus
        self._clock = clock
        self._tts = tts
        self._fallback_tts = fallback_tts
        self._utterance_ids = utterance_ids
        self._answer_started = answer_started
        self._answer_ended = answer_ended
        self._update_idle = update_idle
        self._key_held = key_held
        self._block_s = settings.audio.block_ms / 1000
        self.playing: Reply | None = None  # confirmed reply whose audio is (or will be) playing
        self.playing_turn: TurnT | None = None
        self.line: _Line | None = None  # the error line playing
        self.barge = BargeInPolicy(settings.barge_in)
        self._double_talk: DoubleTalkCue | None = None
        self.early: EarlyPause | None = None  # the worker's early pause (``pause_early``)
        self._double_talk_paused_at: float | None = None
        self._answer_tail: _Tail | None = None
        self._speech_start_s: float | None = None
        self._paused_speech_start_s: float | None = None
        # the answer paused before it began, for speech already under way (the talk key)
        self._paused_unbegun: Reply | None = None
        self._paused_end_s = 0.0  # where the speech before the latest pause ended
        # The latest block in which the VAD heard speech that was not the answer's echo
        # (the canceller's ``echo_only``), by time; see ``only_echo_since``.
        self._person_at = -math.inf
        # The answer has not begun and the person spoke again right after their turn: it
        # waits, silent, until their words say whether they went on (``hold``).
        self.held = False

    def use_voice(self, tts: TextToSpeech) -> None:
        """The voice for the error line from now on, and no fallback (no speaker)."""
        self._tts, self._fallback_tts = tts, None

    def watch_double_talk(self) -> None:
        """Listen behind the echo canceller's linear model, when the capture filter has one,
        for a person AEC3 muffles (``double_talk``)."""
        aec = getattr(self._audio, "capture_filter", None)
        if aec is not None and hasattr(aec, "frame_observer"):
            self._double_talk = DoubleTalkCue(self._settings)
            aec.frame_observer = self._double_talk

    # ------------------------------------------------------------------ the answer
    def play(self, reply: Reply, turn: TurnT) -> None:
        """``reply`` is confirmed: its audio is what the person hears next."""
        self.playing, self.playing_turn = reply, turn

    def forget(self) -> None:
        """The answer is no longer this module's to follow (taken back, or failed)."""
        if self.held and self.playing is not None:  # none of it may play once the hold lifts
            self._audio.playback.stop(self.playing.utterance_id)
        if self.playing is not None and self._paused_unbegun is self.playing:
            # Its pause for the talk key (``pause_before_it_begins``) goes with it, as a
            # hold does: one that ended with no sound (only an emoji) left the playback
            # paused, and every later answer was made and never heard.
            self._audio.playback.resume()
        self.playing = self.playing_turn = None
        self._paused_unbegun = None
        self.release()
        # Speech over it paused it: that pause went with it. Kept, barge-in took itself
        # for paused over the next answer (the stop key cut this one mid-interruption, a
        # typed line's answer began), which then played on over the person speaking.
        self.barge.reset()

    def hold(self) -> None:
        """Keep the answer, not begun yet, from beginning while speech that came right after
        its turn shows whether the person went on (take it back) or it was a cough, a click
        or a breath (``release``: play it). Its audio keeps coming meanwhile, queued."""
        if self.playing is not None and not self.held:
            self.held = True
            self._audio.playback.pause()

    def release(self) -> None:
        """The held answer may begin (or, forgotten, no longer holds the queue)."""
        if self.held:
            self.held = False
            self._audio.playback.resume()
            self.barge.reset()

    def release_to_the_key(self, at_s: float) -> bool:
        """The held answer may begin, but the talk key is down for a later turn: it passes
        from the hold to the key's pause (``pause_before_it_begins``) with the playback
        paused throughout. Released, it began over the held key, and barge-in paused it
        only after a block or more. Whether the key's pause took it (else it is released)."""
        if not self.held:
            return False
        self.held = False
        self.barge.reset()
        if self.pause_before_it_begins(at_s):
            return True
        self._audio.playback.resume()
        return False

    def drop_failed(self, reply: Reply) -> str:
        """A synthesis failure mid-answer: stop it where it is, with no end of its own (the
        session records the failure); returns what was heard of it."""
        heard = reply.heard()
        self.forget()
        self._audio.playback.stop(reply.utterance_id)
        self._audio.playback.resume()
        return heard

    def on_mark(self, mark: Any, index: int) -> None:
        """A playback mark from audio block ``index``: an answer started, or a queue ran dry."""
        at = index * self._block_s + mark.offset / PLAYBACK_RATE
        if mark.kind == "drained" and mark.utterance_id in self._speaking_ids():
            # its last sample so far leaves the speaker output_latency_s after `at`, and
            # speech said before then reaches us input_latency_s later still
            until = at + self._audio.output_latency_s + self._audio.input_latency_s
            answer = self.playing is not None and mark.utterance_id == self.playing.utterance_id
            self._answer_tail = _Tail(mark.utterance_id, until, answer)
        line = self.line
        if line is not None and mark.utterance_id == line.utterance_id:
            if mark.kind == "drained" and line.complete:
                self.line = None
                self._update_idle()
            return
        reply = self.playing
        if reply is None or mark.utterance_id != reply.utterance_id:
            return
        turn = self.playing_turn
        assert turn is not None
        if mark.kind == "start":
            if "playback_start" not in turn.record.t:
                # what the answer's first sample met, for the person's voice-to-voice
                turn.record.set_device_latency(
                    self._audio.input_latency_s, self._audio.output_latency_s
                )
            turn.record.mark("playback_start", at)
            self._bus.publish(ev.PlaybackStarted(turn_id=turn.turn_id, audio_s=at))
            self._answer_started()
        elif mark.kind == "drained" and reply.done and reply.audio_complete:
            turn.record.mark("playback_end", at, overwrite=True)
            self.forget()
            self._bus.publish(
                ev.PlaybackEnded(
                    turn_id=turn.turn_id, audio_s=at, interrupted=False, heard_text=reply.text
                )
            )
            self._answer_ended(turn, reply, reply.text, False)

    def _speaking_ids(self) -> set[int]:
        """The utterances of the answer and the error line that are playing or queued."""
        return {r.utterance_id for r in (self.playing, self.line) if r is not None}

    def _answer_audible(self, now: float) -> bool:
        """An answer (or the error line) the person hears and voicedesk could still pause.

        Queued audio (paused or not) is audible; once the queue runs dry, what was handed
        last still plays for the device's output latency, and speech reaching us at ``now``
        was said its input latency earlier: until both have passed, speech over the last
        words is speech over the answer (``heard_over``). ``is_playing`` alone went false
        that long before the speaker stopped.
        """
        uids = self._speaking_ids()
        if not uids:
            return False
        if self._audio.playback.is_playing():
            return True
        tail = self._answer_tail
        return tail is not None and tail.utterance_id in uids and now < tail.until_s

    def audible(self, now: float) -> bool:
        """Whether the answer (or the error line) can be heard at ``now``: an answer
        running its tools, or waiting for the model's words after them, is silent."""
        return self._answer_audible(now)

    def heard_over(self, at_s: float) -> bool:
        """Whether speech reaching us at ``at_s`` was said while an answer could be heard,
        including the last of one already handed over in full (no longer ``playing``)."""
        if self.playing is not None:
            return True
        tail = self._answer_tail
        return tail is not None and tail.answer and at_s < tail.until_s

    # ------------------------------------------------------------------ speech over it
    def echoes_the_answer(self, text: str) -> bool:
        """Whether ``text``, heard over the answer, is a stretch of the answer's own words:
        its echo, which the canceller let through (a fresh AEC3 does for a second or so, and
        the VAD can hear it for longer than barge-in's cautious minimum) and the transcriber
        wrote down. Taken for the person, it cut the answer and was answered ("Put the egg
        in boiling water" → "Yes, that is what I said"), and a short answer's echo could
        start a conversation with itself. A person who talks over an answer says something
        else; the odd one who repeats its words back verbatim is told apart by nothing the
        microphone offers. One word alone ("no", "wait") is the person's unless it is the
        whole answer ("Okay."): a command often is a word the answer also holds.

        Only what has played can come back as echo: the stretch is looked for in the words
        handed to the speaker (``Reply.heard``) and the one word it was in the middle of,
        never in the rest of the answer, which the person may well say first ("tell me
        something else instead" before the answer offers it) and which must then cut it.
        Where no echo can reach the microphone (a headset, WAV files: ``echo_possible``)
        nothing is echo, and words of the answer said back ("About seven minutes?") are the
        person's."""
        reply = self.playing
        said = _words(text)
        if reply is None or not said or not getattr(self._audio, "echo_possible", True):
            return False
        # the words the voice said ("the report"), not the ones shown ("[the report](https://…)")
        answer = _words(reply.spoken)
        n = len(said)
        if n < 2 and len(answer) > n:
            return False
        played = answer[: len(_words(reply.heard_spoken())) + 1]  # + the word cut mid-way
        return any(played[i : i + n] == said for i in range(len(played) - n + 1))

    def only_echo_since(self, start_s: float) -> bool:
        """Whether the echo canceller showed every block of the speech the VAD heard from
        ``start_s`` on to be the answer's echo alone (``EchoCanceller.echo_only``). Such a
        stretch is no turn whatever its transcript says: a burst of echo a fresh canceller
        passed through was transcribed as a fragment no stretch of the answer matched (on
        the simulated cloud, its scripted words), and the answer was cut for it and the
        fragment answered, although barge-in had rightly not paused for it.

        Every block, not all but a few: before the echo path is learnt the canceller tells
        echo by its coherence with the answer, which falls only 100–130 ms after a person
        begins and rises again in the VAD's hangover, so most of a short "Stop." over a
        first answer is marked echo. Allowing 100 ms of unmarked blocks dropped a real
        "Stop." or "No." in 6 of 48 rooms at −20 and −23 dBFS; allowing none, in 1 (a
        30 ms stretch). With no canceller (a headset, WAV files, ``echo.mode = off``)
        nothing shows any speech to be echo: none of it is."""
        if getattr(self._audio, "capture_filter", None) is None:
            return False
        return self._person_at < start_s

    def speech_started(self, at_s: float) -> None:
        """The VAD heard a new stretch of speech begin at ``at_s``: where it began, not where
        the VAD declared it (``turn.start_ms`` later), so that the answer pauses once the
        person has spoken ``min_speech_ms`` over it, not that plus ``start_ms``."""
        self._speech_start_s = at_s
        self._double_talk_paused_at = None  # the person the cue heard is now a turn
        # speech before a real stop is no part of this stretch (``next_stretch`` says when
        # its count still adds to this one's)
        self.barge.next_stretch(self._paused_end_s)

    def speech_resumed(self, at_s: float, start_s: float | None, *, continues: bool) -> None:
        """Speech came back after a pause; ``continues``: the turn detector's own reason
        says it carries on the same words."""
        # Speech that carries on after a short gap (barge_in.JOIN_GAP_S, shorter than the
        # stop) is one stretch for barge-in's minimum-speech count; else the count restarts.
        gap = (start_s if start_s is not None else at_s) - self._paused_end_s
        joined = continues and joins_stretch(gap)
        carried = self._paused_speech_start_s if joined else None
        began = start_s if start_s is not None else at_s  # where, as in ``speech_started``
        self._speech_start_s = carried if carried is not None else began
        self._double_talk_paused_at = None
        if carried is None:
            self.barge.next_stretch(self._paused_end_s)

    def speech_stopped(self, end_s: float) -> None:
        """The VAD's speech stopped at ``end_s``; kept so a quick resume can join it."""
        self._paused_speech_start_s = self._speech_start_s
        self._paused_end_s = end_s
        self._speech_start_s = None

    def check(self, now: float, echo: EchoVerdict | None = None) -> None:
        """Does speech over the answer pause it? The VAD on the cleaned signal, or else the
        double-talk cue: the person behind the linear echo model while the canceller muffles
        them. ``echo``: the canceller's verdict on this very block (``AudioIO`` takes it on
        the audio thread); without it, the canceller's state now, which is a later block's
        whenever the loop runs behind."""
        heard = self._detector.in_speech and self._speech_start_s is not None
        aec = getattr(self._audio, "capture_filter", None)
        if echo is not None:
            echo_only, converged, cue_ms = echo.echo_only, echo.converged, echo.double_talk_ms
        else:
            echo_only = aec is not None and getattr(aec, "echo_only", False)
            converged = aec is None or getattr(aec, "converged", True)
            cue_ms = self._double_talk.open_ms if self._double_talk is not None else 0
        if heard and not echo_only:
            self._person_at = now
        if self.held:  # not begun: the speech's words decide, not barge-in
            return
        if self._double_talk_paused_at is not None and self.barge.paused:
            if now - self._double_talk_paused_at >= DOUBLE_TALK_RESUME_S:
                # the cue paused the answer but no speech followed: it was not a person
                self._double_talk_paused_at = None
                self.barge.reset()
                self.resume()
            return
        verdict = self.barge.on_block(
            now,
            speech_start_s=self._speech_start_s if heard else None,
            double_talk_ms=cue_ms,
            answer_playing=self._answer_audible(now),
            converged=converged,
            echo_possible=getattr(self._audio, "echo_possible", True),
            echo_only=echo_only,
        )
        if verdict == "pause":
            self.pause(now)  # an early pause of the same speech is confirmed: the loop's now
            if not heard:
                self._double_talk_paused_at = now
            return
        self._judge_early_pause(now)

    def pause_early(self) -> EarlyPause | None:
        """Let a worker pause the answer on the audio's time, ahead of a loop that runs
        behind (``early_pause``); this loop confirms or lifts each such pause (``check``).
        Only in hands-free with barge-in on; returns the worker, for the session to arm,
        feed and close."""
        if not self._settings.barge_in.enabled:
            return None
        # The check sound is no answer: speech over it is the person testing the
        # microphone (or talking to the assistant), and a pause of it only a gap the loop
        # lifted 0.15 s later (nothing of this module follows it).
        spare = frozenset({CHECK_SOUND_UTTERANCE})
        self.early = EarlyPause(self._settings, self._audio.playback, spare=spare)
        return self.early

    def _judge_early_pause(self, now: float) -> None:
        """The loop has got to ``now`` without its own rule pausing: an early pause made
        ``early_pause.SETTLE_S`` or more before it was not the person, by this rule (the
        echo verdict, the double-talk cue, the minimum speech): lift it."""
        early = self.early
        playback = self._audio.playback
        if early is None or early.paused_at_s is None or not playback.early_paused:
            return
        if now >= early.paused_at_s + EARLY_SETTLE_S - 1e-9 and playback.lift_early():
            early.lifted()
            log.info("lifted an early barge-in pause from %.2f s at %.2f s", early.paused_at_s, now)

    def pause(self, at_s: float) -> None:
        """Silence what is playing at the next block: the error line for good (the person is
        talking), the answer until the interruption's words decide."""
        self.stop_line()  # the error line is not resumed: the person is talking
        if self.playing is None:
            return
        self._audio.playback.pause()
        turn = self.playing_turn
        if turn is not None:
            turn.record.mark("interrupted_at", at_s, overwrite=True)
            self._bus.publish(ev.BargeIn(turn_id=turn.turn_id, audio_s=at_s))

    def pause_before_it_begins(self, at_s: float) -> bool:
        """Pause the confirmed answer for speech already under way before its audio (or,
        begun and silent now, its next words) is handed over (barge-in's own pause lets a
        first block through): paused for
        barge-in, so the speech's words decide (``decide``). Whether it was paused."""
        if self.playing is None or self.held or self._paused_unbegun is self.playing:
            return False
        # barge-in may still be paused over the answer this one replaces (cut in the
        # background): that pause is this answer's now
        self.barge.paused = True
        self._paused_unbegun = self.playing
        self.pause(at_s)
        return True

    def stop_line(self) -> None:
        """Stop the error line for good, or keep it from beginning if it is being made: the
        person has moved on (spoke over it, or typed)."""
        line = self.line
        if line is not None:
            self.line = None
            self._audio.playback.stop(line.utterance_id)
            self.barge.reset()
            self._update_idle()

    def resume(self, words: str = "") -> None:
        """``words``: the backchannel the answer resumes past ('' for a noise)."""
        if self.playing is None:
            return
        turn = self.playing_turn
        turn_id = turn.turn_id if turn else 0
        if turn is not None:
            turn.record.t.pop("interrupted_at", None)
        self._paused_unbegun = None
        self._audio.playback.resume()
        self._bus.publish(
            ev.BargeIn(turn_id=turn_id, audio_s=self._clock(), resumed=True, text=words)
        )

    async def decide(self, words: str, said_at_s: float, *, hands_free: bool = True) -> None:
        """The paused answer is cut for the interruption (``words``, begun at
        ``said_at_s``), or resumed past a noise, a backchannel or (``hands_free``: not
        push-to-talk, where the person chose to speak) the answer's own echo."""
        # its own echo is a noise, not words: the transcript, or the canceller's evidence
        own = hands_free and (self.echoes_the_answer(words) or self.only_echo_since(said_at_s))
        verdict = self.barge.on_transcript("" if own else words)
        if verdict == "cut":
            await self.cut(said_at_s)
        elif verdict == "resume":
            self.resume("" if own else words)

    async def cut(self, at_s: float, reply: Reply | None = None, turn: TurnT | None = None) -> None:
        """Stop the playing answer for good, or ``reply`` (``turn``'s answer), one that a
        newly confirmed answer replaces and has already taken the place of."""
        if reply is None:
            reply, turn = self.playing, self.playing_turn
        if reply is None or turn is None:
            return
        # Paused for a barge-in, the answer fell silent at that pause, not now that its
        # interruption's words have come in (0.5–1.5 s later): playback_end says when the
        # person stopped hearing it. (Read before ``forget``, which lifts a talk key's pause;
        # a hold is no barge-in's pause.)
        paused = self._audio.playback.paused and not (self.held and self.playing is reply)
        silent_since = turn.record.t.get("interrupted_at") if paused else None
        if silent_since is not None:
            # The pause was decided at ``interrupted_at``, but the audio thread plays on until
            # the loop gets to it: on a busy machine the loop runs behind, and an answer
            # paused 0.12 s into a barge-in was heard for 0.4 s (a soak's 0.54 s outlier).
            # The first block the pause silenced says when the person stopped hearing it.
            pull = self._audio.playback.silent_from_pull
            if pull is not None:
                silent_since = max(silent_since, pull * self._block_s)
        # dropped before ``forget`` lifts a talk key's pause: the audio thread could take
        # a block of it in between, a blip of an answer never begun
        self._audio.playback.stop(reply.utterance_id)
        if self.playing is reply:
            self.forget()
        if self.playing is None or self._paused_unbegun is not self.playing:
            # (the answer that replaced this one, paused before it began, stays paused:
            # resumed here, it played over the talk key held for the words that decide it)
            self._audio.playback.resume()
        heard = reply.heard()
        # Every word of it had played (the person spoke into the voice's trailing silence):
        # heard whole, not cut off, or the model was told its answer was broken into.
        interrupted = not (reply.done and reply.audio_complete and heard == reply.text)
        if interrupted:
            turn.record.mark("interrupted_at", at_s)
        else:  # the pause for the barge-in marked it
            turn.record.t.pop("interrupted_at", None)
        end_at = silent_since if silent_since is not None else self._clock()
        turn.record.mark("playback_end", end_at, overwrite=True)
        await reply.cancel()
        self._bus.publish(
            ev.PlaybackEnded(
                turn_id=turn.turn_id, audio_s=end_at, interrupted=interrupted, heard_text=heard
            )
        )
        self._answer_ended(turn, reply, heard, interrupted)

    def end_silent(self, reply: Reply) -> None:
        """The confirmed answer ended with no audio at all: it ends now, heard whole."""
        turn = self.playing_turn
        if self.playing is not reply or turn is None:
            return
        self.forget()
        at = self._clock()
        turn.record.mark("playback_end", at, overwrite=True)
        self._bus.publish(
            ev.PlaybackEnded(
                turn_id=turn.turn_id, audio_s=at, interrupted=False, heard_text=reply.text
            )
        )
        self._answer_ended(turn, reply, reply.text, False)

    async def end_unspoken(self, at_s: float) -> None:
        """With no speaker the answer is read, not heard: the next message ends it as read,
        whole if all of it has come (it was only playing to keep time), else cut where
        the text stopped. ``cut`` would record it as interrupted where the silent playback
        had got to, and the model would be told the person broke in."""
        reply, turn = self.playing, self.playing_turn
        if reply is None or turn is None:
            return
        if not reply.done:
            await self.cut(at_s)
            return
        self.forget()
        end_at = self._clock()
        turn.record.mark("playback_end", end_at, overwrite=True)
        await reply.cancel()  # the speech still being made for nobody
        self._bus.publish(
            ev.PlaybackEnded(
                turn_id=turn.turn_id, audio_s=end_at, interrupted=False, heard_text=reply.text
            )
        )
        self._answer_ended(turn, reply, reply.text, False)

    async def cut_heard_answer(self) -> None:
        """An answer the person has begun to hear when the session stops (quit, Ctrl-C) is
        cut there, as a barge-in cuts it: its turn is recorded with what was heard, so the
        metrics account for the audio played and ``--resume`` gives the model its words
        rather than a question left unanswered. Before the audio stops, so the output file
        ends the answer where the record says. One not heard at all stays the person's
        words alone, as when the process dies."""
        reply = self.playing
        if reply is None:
            return
        # with no speaker, what was shown is what was heard (no sample is ever played)
        if not (reply.shown_only and reply.text) and not self._audio.playback.played_samples(
            reply.utterance_id
        ):
            return
        try:
            await self.cut(self._clock())
        except Exception:  # stopping must go on: the rest still has to be released
            log.warning("recording the answer cut by the stop failed", exc_info=True)

    # ------------------------------------------------------------------ the error line
    async def speak_error_line(self, text: str = ERROR_LINE) -> None:
        """Say a short line so a voice-only user knows the turn failed (``text``: see
        :func:`error_line`). Speech over it stops it (``pause``); a headless run waits for
        it to play out.

        Not with the talk key held: the person is talking, as speech over the line stops
        it for good, and begun then it played over the key until barge-in paused it (the
        notice still says the turn failed)."""
        if self._key_held():
            return
        for tts in (self._tts, self._fallback_tts):
            if tts is None:
                continue
            # the line from the start, so that what stops it (``stop_line``) while its
            # voice is still opening keeps it from beginning at all
            line = self.line = _Line(next(self._utterance_ids))
            try:
                stream: SpeechStream = await asyncio.wait_for(tts.open_stream(), 3)
            except Exception as exc:  # the UI notice already carries the error
                log.info("could not speak the error line with %s: %s", tts.name, exc)
                if self.line is not line:
                    return  # stopped meanwhile: no other voice either
                self.line = None
                continue
            try:
                if self.line is not line:
                    return  # the person moved on while the voice opened
                await stream.send_text(text)
                await stream.end_text()
                async with asyncio.timeout(10):
                    async for chunk in stream.audio():
                        if self.line is not line:
                            return  # the person spoke over it
                        self._audio.playback.enqueue(line.utterance_id, chunk)
                line.complete = True
                return
            except Exception as exc:
                log.info("could not speak the error line with %s: %s", tts.name, exc)
                if self.line is line and not self._audio.playback.played_samples(line.utterance_id):
                    # nothing of it handed to the device: a second voice will not be heard
                    # after part of the first
                    self.line = None  # try the fallback voice
                    continue
                line.complete = True
                return
            finally:
                with contextlib.suppress(Exception):
                    await stream.aclose()
                if self.line is line and line.complete and not self._audio.playback.is_playing():
                    self.line = None
                self._update_idle()
