"""Acoustic echo cancellation on the capture path (WebRTC APM, through ``livekit``).

The reference is exactly what was sent to the speaker: ``AudioIO`` hands over the playback
block it returned for the previous period together with the microphone block captured in
it. WebRTC's AEC3 estimates the remaining speaker→microphone delay itself; the known device
latency is passed in as a starting point. Frames are 10 ms at 16 kHz, as the APM requires.

Runs on the audio thread: two FFI calls per 10 ms and a streaming resampler for the
reference, no allocation beyond small arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicedesk.audio.base import CAPTURE_RATE, PLAYBACK_RATE
from voicedesk.audio.linear_echo import LinearEchoModel
from voicedesk.audio.resample import StreamResampler
from voicedesk.errors import AudioUnavailableError

FRAME = CAPTURE_RATE // 100  # 10 ms
_DECAY = 0.98  # per 10 ms frame: ≈ 0.5 s memory for the health estimate
# AEC3 has an initial phase: in the simulated room a fresh instance cancels within ~0.2 s
# but then often passes a burst of echo ~1 s in (as its delay estimate settles), which the
# old 0.3 s latch trusted and which barged in. Trust it only after this much playback.
SETTLE_S = 1.5
# AEC3's first second also alternates between suppressing everything (its output 50+ dB
# below the microphone) and passing bursts of echo 100–250 ms long at 0–12 dB: the 0.5 s
# average above is dominated by the suppression and passed 12 dB while a burst was still to
# come, which the VAD heard as speech and barged in on with the short minimum (the first
# answer of `voicedesk run --sim --room seed=3`, cut 0.2 s after the latch). So the latch
# also asks that no 100 ms window of loud playback has passed a burst for CLEAN_S.
CLEAN_S = 1.0
LEAK_WINDOW_FRAMES = 10  # 100 ms, as the VAD's shortest speech
# Answer-start probe. AEC3 sometimes falls into a state where it passes the echo untouched
# (seen after a pause in the reference, not only after double talk); each following answer
# then barged in on itself ~0.2 s in, and the 2 s rebuild rule never fired because every
# answer was cut first. So when the speaker starts again after a silence, with the
# microphone quiet beforehand (nobody talking), the first loud frames are mostly echo: if
# the canceller removes less than PROBE_RATIO of their energy, it is rebuilt at once.
PROBE_AFTER_SILENCE_FRAMES = 50  # 0.5 s of speaker silence: the start of an answer
PROBE_QUIET_MIC_FRAMES = 3  # microphone quiet just before: the person is not talking
PROBE_FRAMES = 8  # loud microphone frames judged (80 ms of echo)
PROBE_GIVE_UP_FRAMES = 30  # no echo within 300 ms: nothing to judge
PROBE_RATIO = 4.0  # 6 dB; healthy AEC3 removes 40+ dB here, a stuck one 0–3 dB
MIC_FLOOR = FRAME * 100.0**2  # frame energy of ≈ −50 dBFS: above room noise
# The transcriber's signal goes back from the linear model's residual to AEC3's output only
# after this much quiet microphone: longer than the pauses between a person's words
# (≤ 60 ms in the test speech), so one utterance is never spliced from the two (_for_words).
WORDS_SWITCH_QUIET_FRAMES = 30
# The linear echo model explains this much of the microphone: it is the speaker's echo, not
# a person (a person talking over the answer leaves ~0–3 dB explained; echo alone, 20–40 dB
# in the simulated room). A linear model explains less of a real laptop speaker's echo
# (it distorts): there the veto simply holds back less often, as before it existed.
ECHO_ONLY_DB = 15.0
# Until the linear model has learnt the echo path (it needs seconds of answers), nothing
# here can say what is echo: AEC3's "converged" latch is no proof, as a fresh AEC3 mutes the
# echo for a second or more and then passes bursts of it (seed 6 of the tests' first answer).
# The microphone's coherence with the reference can, more coarsely: echo a fresh AEC3 passes
# through is at 0.3–0.7, dipping to 0.22 for a few blocks now and then; a person talking
# over it brings it to 0.07–0.2, 100–130 ms after they begin, but their soft phonemes under
# the echo read as echo too, so it is used only until the linear model knows the path.
COHERENT_ECHO = 0.25


@dataclass(frozen=True, slots=True)
class EchoVerdict:
    """What the canceller said about one capture block, taken on the audio thread as the
    block leaves it. Barge-in judges each block by its own verdict: read on the event loop
    when it gets to the block, ``echo_only``, ``converged`` and the double-talk cue were
    those of a later block whenever the loop ran behind (a held loop read the canceller
    0.3–0.4 s on), and a worker judging the block on time would disagree with it."""

    echo_only: bool
    converged: bool
    double_talk_ms: int  # how long the double-talk cue (the frame observer) has held


@dataclass
class _Probe:
    """Energy before and after the canceller over the first loud frames of an answer."""

    mic_energy: float = 0.0
    out_energy: float = 0.0
    loud_frames: int = 0
    frames: int = 0


class EchoCanceller:
    def __init__(self, *, noise_suppression: bool = True, delay_ms: int = 0) -> None:
        try:
            from livekit import rtc
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise AudioUnavailableError(
                f"Echo cancellation needs the livekit package ({exc})",
                'reinstall voicedesk, or set echo.mode = "off"',
            ) from None
        self._rtc = rtc
        self._noise_suppression = noise_suppression
        self._apm = self._new_apm()
        self.delay_ms = delay_ms
        self._apm.set_stream_delay_ms(delay_ms)
        # "QQ": ~1 sample of delay. MQ buffers ~30 ms, which would make the reference arrive
        # after its echo for short speaker-to-microphone paths, and AEC3 cannot cancel that.
        self._ref = StreamResampler(PLAYBACK_RATE, CAPTURE_RATE, quality="QQ")
        self._ref_pending = np.zeros(0, np.int16)
        self._mic_pending = np.zeros(0, np.int16)
        self._out_pending = np.zeros(0, np.int16)
        self._words_pending = np.zeros(0, np.int16)
        # What the transcriber gets of the block last returned (``for_words``).
        self.words = np.zeros(0, np.int16)
        # Health tracking (hand-written, cheap): smoothed energies of microphone and output
        # while the speaker plays. Until the canceller shows it removes the echo, residual
        # echo can look like speech, so barge-in waits for longer speech (BargeInPolicy); if
        # it stops removing echo for seconds (AEC3 can fall into a transparent state after
        # double talk, measured in the simulated room), it is rebuilt from scratch.
        self._e_mic = 0.0
        self._e_out = 0.0
        self._active_s = 0.0
        self._bad_s = 0.0
        self._clean_s = 0.0  # playback since the canceller last passed a burst of echo
        self._window_mic = np.zeros(LEAK_WINDOW_FRAMES)  # the last frames' energies, a ring
        self._window_out = np.zeros(LEAK_WINDOW_FRAMES)
        self._window_slot = 0
        self.converged = False
        self.resets = 0
        self.probe_resets = 0  # of which the answer-start probe asked for
        self._ref_quiet = 0  # frames since the speaker last played something
        self._mic_quiet = 0  # frames the microphone has been below MIC_FLOOR
        self._words_from_residual = False  # the transcriber is being handed the residual
        self._probe: _Probe | None = None
        self.linear = LinearEchoModel(FRAME)
        # The linear model has explained the echo (``ECHO_ONLY_DB``) at least once: it knows
        # the path, and AEC3 rebuilt later does not make the echo unknown again.
        self.path_learnt = False
        # Called on the audio thread with each raw 10 ms microphone frame once this canceller
        # has processed it (the engine's double-talk cue reads the linear model here).
        self.frame_observer: Callable[[np.ndarray, EchoCanceller], None] | None = None

    @property
    def echo_only(self) -> bool:
        """The microphone's last 100 ms hold nothing of a person: echo alone, or room noise.

        Room noise is the microphone below ``MIC_FLOOR``, or what is left of it once the
        linear model's predicted echo is taken out (a linear filter of the reference cannot
        take out any of a person). The first case is the tail of a burst of passed-through
        echo: the speaker has stopped but the VAD still holds "speech" for its hangover. The
        second is a quiet echo (−20 dB) that AEC3 passed through: the room's noise floor
        caps how much of it the model can explain below ``ECHO_ONLY_DB``, yet what it
        leaves is noise. Neither must add up to a barge-in.
        """
        quietest = min(self.linear.mic_level, self.linear.residual_level)
        if quietest * 32768.0**2 * FRAME < MIC_FLOOR:
            return True
        if not self.path_learnt and self.linear.coherence >= COHERENT_ECHO:
            return True
        explained = self.linear.explained_db
        return explained is not None and explained >= ECHO_ONLY_DB

    def verdict(self) -> EchoVerdict:
        """This block's verdict (call right after ``__call__``, on the audio thread)."""
        cue_ms = getattr(self.frame_observer, "open_ms", 0)
        return EchoVerdict(self.echo_only, self.converged, int(cue_ms or 0))

    def _new_apm(self) -> Any:
        return self._rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=self._noise_suppression,
            high_pass_filter=True,
            auto_gain_control=False,
        )

    def _frame(self, pcm: np.ndarray) -> object:
        return self._rtc.AudioFrame(bytearray(pcm.astype("<i2").tobytes()), CAPTURE_RATE, 1, FRAME)

    def __call__(self, mic: np.ndarray, played: np.ndarray) -> np.ndarray:
        """Clean ``mic`` (16 kHz) given the speaker block ``played`` (24 kHz) of the same period."""
        ref = self._ref.process(played)
        self._ref_pending = (
            np.concatenate([self._ref_pending, ref]) if ref.size else self._ref_pending
        )
        self._mic_pending = np.concatenate([self._mic_pending, mic])
        cleaned: list[np.ndarray] = []
        for_words: list[np.ndarray] = []
        while self._mic_pending.size >= FRAME:
            if self._ref_pending.size >= FRAME:
                rframe, self._ref_pending = self._ref_pending[:FRAME], self._ref_pending[FRAME:]
            else:  # resampler warm-up: the speaker was silent as far as we know
                rframe = np.zeros(FRAME, np.int16)
            self._apm.set_stream_delay_ms(self.delay_ms)
            self._apm.process_reverse_stream(self._frame(rframe))
            self._last_mic_frame = self._mic_pending[:FRAME]
            frame = self._frame(self._last_mic_frame)
            self._mic_pending = self._mic_pending[FRAME:]
            self._apm.process_stream(frame)
            out_frame = np.frombuffer(frame.data, dtype=np.int16).copy()  # type: ignore[attr-defined]
            cleaned.append(out_frame)
            self._health(rframe, self._last_mic_frame, out_frame)
            self.linear.update(rframe, self._last_mic_frame, out_frame)
            self._learn_path()
            for_words.append(self._for_words(out_frame))
            if self.frame_observer is not None:
                self.frame_observer(self._last_mic_frame, self)
        out = np.concatenate([self._out_pending, *cleaned]) if cleaned else self._out_pending
        # hand back exactly as many samples as came in (a block that is not a whole number of
        # 10 ms frames is delayed by the remainder, consistently)
        n = mic.size
        if out.size < n:
            out = np.concatenate([np.zeros(n - out.size, np.int16), out])
        result, self._out_pending = out[:n], out[n:]
        words = (
            np.concatenate([self._words_pending, *for_words]) if for_words else self._words_pending
        )
        if words.size < n:
            words = np.concatenate([np.zeros(n - words.size, np.int16), words])
        self.words, self._words_pending = words[:n], words[n:]
        return result

    def _learn_path(self) -> None:
        if self.path_learnt or not self.linear.removes_echo:
            return
        explained = self.linear.explained_db
        self.path_learnt = explained is not None and explained >= ECHO_ONLY_DB
        if self.path_learnt:  # ``echo_only`` no longer reads the coherence: stop computing it
            self.linear.tracks_coherence = False
            self.linear.coherence = 0.0

    def _for_words(self, out_frame: np.ndarray) -> np.ndarray:
        """The frame the transcriber gets: while the speaker's echo may be in the room and
        the linear model predicts it, its residual (the microphone minus the predicted echo),
        else AEC3's output. AEC3's double-talk suppression muffles a person's first syllables
        over the answer, and the transcriber lost their first word ("How long does it take…"
        heard as "along does it take…" in 4 of 5 interruptions, ``bench echo --seed 1``);
        the residual suppresses nothing of them. The VAD and the turn model keep AEC3's
        output, which their thresholds were tuned on.

        The switch back to AEC3's output waits for 0.3 s of quiet microphone: AEC3's output runs
        ~14 ms behind the microphone and is high-passed, so a person answering within
        the echo's span (a question the assistant just asked) had their words spliced
        from two signals mid-syllable. Once the reference has been silent for the model's
        span, the residual is the microphone itself."""
        if self.linear.removes_echo:
            self._words_from_residual = True
        elif self._mic_quiet >= WORDS_SWITCH_QUIET_FRAMES:  # nobody talking: switch here
            self._words_from_residual = False
        if not self._words_from_residual:
            return out_frame
        return np.clip(self.linear.residual * 32768.0, -32768, 32767).astype(np.int16)

    def _health(self, ref: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        """Per-frame bookkeeping: the convergence latch, the rebuild rule, the answer probe."""
        e_mic = float(np.dot(mic.astype(np.float64), mic))
        if np.abs(ref).max() > 300:  # the speaker is playing something
            if (
                self._ref_quiet >= PROBE_AFTER_SILENCE_FRAMES
                and self._mic_quiet >= PROBE_QUIET_MIC_FRAMES
                and self.converged  # an unconverged canceller is distrusted already
            ):
                self._probe = _Probe()
            self._ref_quiet = 0
            self._track(e_mic, out)
        else:
            self._ref_quiet += 1
        self._mic_quiet = self._mic_quiet + 1 if e_mic <= MIC_FLOOR else 0
        if self._probe is None:
            return
        probe = self._probe
        probe.frames += 1
        if e_mic > MIC_FLOOR:
            probe.mic_energy += e_mic
            probe.out_energy += float(np.dot(out.astype(np.float64), out))
            probe.loud_frames += 1
        if probe.loud_frames >= PROBE_FRAMES:
            removed = probe.mic_energy / max(probe.out_energy, 1.0)
            self._probe = None
            if removed < PROBE_RATIO:
                self.probe_resets += 1
                self._rebuild()
        elif probe.frames > PROBE_GIVE_UP_FRAMES:
            self._probe = None

    def _track(self, e_mic: float, out: np.ndarray) -> None:
        decay = _DECAY
        e_out = float(np.dot(out.astype(np.float64), out))
        self._e_mic = self._e_mic * decay + e_mic
        self._e_out = self._e_out * decay + e_out
        self._active_s += FRAME / CAPTURE_RATE
        self._track_bursts(e_mic, e_out)
        if self._active_s < 0.3:
            return
        ratio = self._e_mic / max(self._e_out, 1.0)
        # Latched: once ≥ 12 dB of echo has been removed, past AEC3's initial phase, with no
        # burst passed for CLEAN_S, the canceller is trusted until it is rebuilt. (Double
        # talk also lowers the ratio, so it cannot be un-latched on that.)
        self.converged = self.converged or (
            ratio >= 16 and self._active_s >= SETTLE_S and self._clean_s >= CLEAN_S
        )
        self._bad_s = self._bad_s + FRAME / CAPTURE_RATE if ratio < 2 else 0.0
        if self._bad_s >= 2.0:  # two seconds of speaker audio passed through untouched
            self._rebuild()

    def _track_bursts(self, e_mic: float, e_out: float) -> None:
        """``_clean_s``: playback since a 100 ms window of loud microphone last had less than
        12 dB removed (a burst of echo passed through, or a person talking)."""
        self._window_slot = (self._window_slot + 1) % LEAK_WINDOW_FRAMES
        self._window_mic[self._window_slot] = e_mic
        self._window_out[self._window_slot] = e_out
        mic = float(self._window_mic.sum())
        loud = mic > MIC_FLOOR * LEAK_WINDOW_FRAMES
        passed = loud and mic < 16 * float(self._window_out.sum())
        self._clean_s = 0.0 if passed else self._clean_s + FRAME / CAPTURE_RATE

    def _rebuild(self) -> None:
        """A fresh AEC3: it converges within ~0.2 s; until it has settled, it is distrusted."""
        self._apm = self._new_apm()
        self._e_mic = self._e_out = self._active_s = self._bad_s = self._clean_s = 0.0
        self._window_mic[:] = self._window_out[:] = 0.0
        self._probe = None
        self.converged = False
        self.resets += 1
