"""A second, linear model of the speaker→microphone echo: is the microphone only echo?

AEC3 (``aec.py``) now and then passes the echo through for a few hundred milliseconds in the
middle of an answer; its output then looks exactly like a person talking over the answer,
and no measure of that output alone tells the two apart (see docs/architecture.md). The raw
microphone does: this model predicts the echo from the reference with a partitioned-block
frequency-domain adaptive filter and reports how much of the microphone's energy the
prediction explains. Echo alone is explained (the prediction removes most of it); a person
is not (their voice is not in the reference).

Two filters, as in the classic two-path scheme against double talk: a background filter
adapts on frames AEC3 shows to be echo alone (it removed ≥ 12 dB); the foreground filter,
the one that is read, takes its coefficients only when it has predicted the echo better over
the last stretch of playback. AEC3's double-talk suppression also "removes" a person's
voice, so its gate alone lets the person into the adaptation; the background then predicts
worse, is not copied, and is put back to the foreground's coefficients.
It has no non-linear stage and shapes no audio: it is a detector, not a second canceller.

Hand-written (overlap-save, one partition's gradient constraint per frame, as in the
classic multi-delay filter) because no maintained Python package offers an adaptive filter
whose state we can read; ~95 µs per 10 ms frame (≈ 1% of a core) here.
"""

from __future__ import annotations

import numpy as np

PARTITIONS = 40  # 40 × 10 ms: device delay plus the room's reverberant tail
STEP = 0.5
ADAPT_RATIO = 16.0  # AEC3 removed ≥ 12 dB of this frame: it is echo alone
# Frames summed for the explained-energy ratio (100 ms): over 30 ms a person's soft phoneme
# under a loud stretch of the answer reads as echo alone, which held real barge-ins back.
RECENT = 10
COMPARE = 20  # frames of playback over which the two filters' residuals are compared
TRAINED_FRAMES = 100  # adaptation frames before the model is believed
# Coherence between the microphone and the reference at each lag of the filter's span,
# smoothed over ~100 ms (0.9 per 10 ms frame), over the band where speech has its energy.
COHERENCE_SMOOTHING = 0.9
# The echo's lag is the one whose coherence has been highest over the last ~1 s of playback:
# read at that lag only, since the best of 40 noisy 100 ms estimates reads 0.15–0.3 even for
# a person whose voice is not in the reference at all.
LAG_SMOOTHING = 0.99
COHERENCE_BAND_HZ = (300.0, 4000.0)


class LinearEchoModel:
    def __init__(self, frame: int) -> None:
        self.n = frame
        bins = frame + 1
        self._x_prev = np.zeros(frame)
        # The reference's spectra, newest first, as a view into a mirrored ring: each frame
        # is written at ``_head`` and ``_head + PARTITIONS`` so ``_X`` is always a contiguous
        # window, without shifting 40 rows every 10 ms (hand-written: np.roll copied them).
        self._ring = np.zeros((2 * PARTITIONS, bins), complex)
        self._head = PARTITIONS
        self._X = self._ring[self._head : self._head + PARTITIONS]
        self._W = np.zeros((PARTITIONS, bins), complex)  # foreground: read
        self._B = np.zeros((PARTITIONS, bins), complex)  # background: adapts
        self._mic_e = np.zeros(RECENT)  # energies of the last RECENT frames, in ring order
        self._res_e = np.zeros(RECENT)
        self._out_e = np.zeros(RECENT)  # AEC3's output, for the double-talk cue
        self._slot = 0
        self._constrain_next = 0
        self._fg_sum = self._bg_sum = 0.0
        self._compared = 0
        self.trained_frames = 0
        self._adopted = False  # the foreground has taken a trained background's coefficients
        self._since_ref = PARTITIONS  # frames since the reference last held a sample
        # the latest frame of microphone minus the predicted echo (full scale = 1): the
        # person with the echo taken out but nothing of them suppressed, unlike AEC3's output
        self.residual = np.zeros(frame)
        # Smoothed cross- and auto-spectra of the microphone and the reference at every lag
        # (``coherence``), over the speech band only.
        hz = np.fft.rfftfreq(2 * frame, 1 / (frame * 100))
        lo, hi = COHERENCE_BAND_HZ
        self._band = slice(int(np.searchsorted(hz, lo)), int(np.searchsorted(hz, hi)))
        width = self._band.stop - self._band.start
        self._y_prev = np.zeros(frame)
        self._s_xy = np.zeros((PARTITIONS, width), complex)
        self._s_xx = np.zeros((PARTITIONS, width))
        self._s_yy = np.zeros(width)
        self._lag_score = np.zeros(PARTITIONS)
        self.coherence = 0.0
        # Off once the echo path is known (``EchoCanceller.path_learnt``): ``coherence`` is
        # read only until then, and it costs ~0.6% of a core on the audio thread.
        self.tracks_coherence = True

    def _residual(self, W: np.ndarray, y: np.ndarray) -> np.ndarray:
        return y - np.fft.irfft((W * self._X).sum(axis=0), 2 * self.n)[self.n :]

    def update(self, ref: np.ndarray, mic: np.ndarray, out: np.ndarray) -> None:
        """One frame: the reference sent to the speaker, the raw microphone, AEC3's output."""
        n = self.n
        x = ref.astype(np.float64) / 32768.0
        y = mic.astype(np.float64) / 32768.0
        self._head = (self._head - 1) % PARTITIONS
        spectrum = np.fft.rfft(np.concatenate([self._x_prev, x]))
        self._ring[self._head] = self._ring[self._head + PARTITIONS] = spectrum
        self._X = self._ring[self._head : self._head + PARTITIONS]
        self._x_prev = x
        if self.tracks_coherence:
            self._update_coherence(y)
        e_fg = self._residual(self._W, y)
        e_bg = self._residual(self._B, y)
        self.residual = e_fg
        e_mic, e_res = float(np.dot(y, y)), float(np.dot(e_fg, e_fg))
        self._slot = (self._slot + 1) % RECENT
        # AEC3's output energy on the same (full-scale = 1) scale as e_mic
        e_out = float(np.dot(out.astype(np.float64), out)) / 32768.0**2
        self._mic_e[self._slot], self._res_e[self._slot] = e_mic, e_res
        self._out_e[self._slot] = e_out
        playing = bool(np.abs(ref).max() > 0)
        self._since_ref = 0 if playing else min(self._since_ref + 1, PARTITIONS)
        if playing:
            self._compare(e_res, float(np.dot(e_bg, e_bg)))
        if not (playing and e_mic > ADAPT_RATIO * max(e_out, 1.0 / 32768.0**2)):
            return
        # normalised by the regressor's energy over every partition, so the step stays
        # stable when the speaker falls quiet while louder frames are still in memory
        power = (self._X.real**2 + self._X.imag**2).sum(axis=0)
        E = np.fft.rfft(np.concatenate([np.zeros(n), e_bg]))
        self._B += STEP * np.conj(self._X) * (E / (power + 1e-6 * 2 * n))
        # Gradient constraint, one partition per frame in turn (as the multi-delay filter
        # does): each partition's impulse response stays causal and N long. Constraining all
        # 40 every frame gave the same bench figures at ~0.5% more of a core.
        p = self._constrain_next
        w = np.fft.irfft(self._B[p], 2 * n)
        w[n:] = 0.0
        self._B[p] = np.fft.rfft(w)
        self._constrain_next = (p + 1) % PARTITIONS
        self.trained_frames += 1

    def _update_coherence(self, y: np.ndarray) -> None:
        """``coherence``: how much of the microphone is a linear function of the reference at
        the echo's lag (magnitude-squared coherence, 0–1, averaged over the speech band).

        Unlike the filter, it needs no training: it is high for echo from the first frames
        of playback (0.3–0.7 in the simulated room, reverberation and a lag between two
        partitions keep it below 1) and drops to ~0.1 when a person talks, whose voice is not
        in the reference, even 3 dB under the echo, but only 100–130 ms after they begin. It is what tells a
        fresh canceller's passed-through echo from a person while the filter cannot yet."""
        band, a = self._band, COHERENCE_SMOOTHING
        Y = np.fft.rfft(np.concatenate([self._y_prev, y]))[band]
        self._y_prev = y
        X = self._X[:, band]
        self._s_xy = a * self._s_xy + (1 - a) * X * np.conj(Y)
        self._s_xx = a * self._s_xx + (1 - a) * (X.real**2 + X.imag**2)
        self._s_yy = a * self._s_yy + (1 - a) * (Y.real**2 + Y.imag**2)
        cross = self._s_xy.real**2 + self._s_xy.imag**2
        per_lag = (cross / (self._s_xx * self._s_yy + 1e-20)).mean(axis=1)
        if self._since_ref == 0:  # the reference plays: its echo's lag can be learnt
            self._lag_score = LAG_SMOOTHING * self._lag_score + (1 - LAG_SMOOTHING) * per_lag
        lag = int(self._lag_score.argmax())
        # the echo may fall between two partitions: its neighbours too
        self.coherence = float(per_lag[max(0, lag - 1) : lag + 2].max())

    def _compare(self, fg: float, bg: float) -> None:
        self._fg_sum += fg
        self._bg_sum += bg
        self._compared += 1
        if self._compared < COMPARE:
            return
        if self._bg_sum < 0.5 * self._fg_sum:  # the background predicts the echo better
            self._W = self._B.copy()
            self._adopted = True
        elif self._bg_sum > 4.0 * self._fg_sum:  # it adapted on a person: start it again
            self._B = self._W.copy()
        self._fg_sum = self._bg_sum = 0.0
        self._compared = 0

    @property
    def removes_echo(self) -> bool:
        """The residual is the better signal for words: echo may still be in the room (the
        reference played within the filter's span) and the foreground filter is a trained
        one. AEC3's output then holds the person muffled under double talk (their first
        word, lost to the transcriber), the residual at full strength with the echo 20–40 dB
        down; an untrained filter's residual would be the whole echo."""
        return (
            self._since_ref < PARTITIONS and self._adopted and self.trained_frames >= TRAINED_FRAMES
        )

    @property
    def mic_level(self) -> float:
        """Mean energy of the last 100 ms of microphone per sample, full scale = 1."""
        return float(self._mic_e.sum()) / (self.n * RECENT)

    @property
    def residual_level(self) -> float:
        """Mean energy of the last 100 ms of residual per sample, full scale = 1."""
        return float(self._res_e.sum()) / (self.n * RECENT)

    @property
    def output_level(self) -> float:
        """Mean energy of AEC3's output over the last 100 ms per sample, full scale = 1."""
        return float(self._out_e.sum()) / (self.n * RECENT)

    @property
    def explained_db(self) -> float | None:
        """How much the prediction removes from the last 100 ms of microphone, in dB."""
        if self.trained_frames < TRAINED_FRAMES:
            return None
        mic, res = float(self._mic_e.sum()), float(self._res_e.sum())
        if mic <= 1e-9:  # below ≈ −75 dBFS: nothing to explain
            return None
        return 10.0 * np.log10(mic / max(res, 1e-15))
