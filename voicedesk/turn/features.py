"""Whisper-style log-mel features for Smart Turn v3, in numpy (no torch at run time).

Smart Turn v3 was trained on the features of ``WhisperFeatureExtractor(chunk_length=8)``:
the waveform normalised to zero mean / unit variance, a centred 400-point STFT (periodic Hann,
reflect padding, hop 160), power spectrum, an 80-band Slaney mel filterbank over 0–8 kHz,
log10 with a 1e-10 floor, the last frame dropped, clamped to (max − 8), then (x + 4) / 4.
This is our own implementation of that definition, vectorised so one call is a few ms.
"""

from __future__ import annotations

from functools import cache

import numpy as np

RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
SECONDS = 8
N_SAMPLES = RATE * SECONDS
N_FRAMES = N_SAMPLES // HOP  # 800


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    # Slaney: linear below 1 kHz (3 mels per 200 Hz), logarithmic above.
    f = np.asarray(f, dtype=np.float64)
    lin = 3.0 * f / 200.0
    log = 15.0 + np.log(np.maximum(f, 1e-9) / 1000.0) * (27.0 / np.log(6.4))
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = 200.0 * m / 3.0
    log = 1000.0 * np.exp((m - 15.0) * (np.log(6.4) / 27.0))
    return np.where(m >= 15.0, log, lin)


@cache
def mel_filterbank() -> np.ndarray:
    """(n_freqs, n_mels) triangular filters with Slaney area normalisation."""
    n_freqs = N_FFT // 2 + 1
    fft_freqs = np.linspace(0.0, RATE / 2, n_freqs)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(RATE / 2), N_MELS + 2))
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (fft_freqs[:, None] - lower[None, :]) / (center - lower)[None, :]
    falling = (upper[None, :] - fft_freqs[:, None]) / (upper - center)[None, :]
    bank = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank * (2.0 / (upper - lower))[None, :]


@cache
def _window() -> np.ndarray:
    n = np.arange(N_FFT)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)  # periodic Hann


def fit_last_seconds(audio: np.ndarray) -> np.ndarray:
    """Keep the last 8 s, left-padding shorter audio with zeros (the end of the turn matters)."""
    if audio.size >= N_SAMPLES:
        return audio[-N_SAMPLES:]
    return np.concatenate([np.zeros(N_SAMPLES - audio.size, dtype=audio.dtype), audio])


def log_mel(audio: np.ndarray) -> np.ndarray:
    """float32 (80, 800) features for the last 8 s of 16 kHz float audio in [-1, 1].

    Pass the turn as it is, not already padded: the frames that lie wholly in the left zero
    padding are all the same constant, so one of them is computed and copied. Most turns are
    2–4 s, so this skips half to three quarters of the STFT (written by hand for speed; the
    result is the same as computing every frame, which a test pins).
    """
    x = np.asarray(audio, dtype=np.float32)
    n_pad = max(N_SAMPLES - x.size, 0)
    x = fit_last_seconds(x)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    # Frame i covers padded samples [HOP*i, HOP*i + N_FFT), i.e. audio [HOP*i − 200, HOP*i + 200)
    # with the left edge reflected: it is all padding while HOP*i + 200 <= n_pad.
    first = max((n_pad - N_FFT // 2) // HOP, 0)
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded[first * HOP :], N_FFT)[::HOP]
    spec = np.fft.rfft(frames * _window(), axis=-1)  # (frames, freqs)
    mel = np.log10(np.maximum((spec.real**2 + spec.imag**2) @ mel_filterbank(), 1e-10))
    logm = np.empty((N_MELS, N_FRAMES), dtype=np.float64)  # the last STFT frame is dropped
    logm[:, :first] = mel[0][:, None]
    logm[:, first:] = mel[: N_FRAMES - first].T
    np.maximum(logm, logm.max() - 8.0, out=logm)
    return ((logm + 4.0) / 4.0).astype(np.float32)
