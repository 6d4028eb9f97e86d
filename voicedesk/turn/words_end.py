"""Where the person's words ended, for the timings: not where the VAD heard silence.

Silero's probability stays above the stop threshold for a window or three after the last
sound (a trailing consonant, the room), so the VAD's end of speech (``end_s``) comes a
median 51–73 ms after the labelled end of the words on the Piper fixture sets. The turn
policy's waits are tuned from that end and stay there; the metrics, which say how long the
person waited, start from the words.
Written by hand: a frame-energy scan over the last quarter second, no library does this
one small thing on audio we already hold.
"""

from __future__ import annotations

import numpy as np

# numpy 2's percentile goes through ``np.unique``, which imports ``numpy.ma`` on first use:
# ~20 ms on the event loop at the first end of speech, on the way to the request. Imported
# with this module instead, at start.
import numpy.ma

from voicedesk.audio.wavio import to_float32

FRAME_S = 0.010
LOOKBACK_S = 0.25  # the VAD's end is never later than this after the words
SPEECH_DB = -35.0  # a frame this far below the turn's loud frames is no longer speech
NOISE_FACTOR = 3.0  # …nor one less than ~10 dB above the silence after the words


def words_end_s(pcm: np.ndarray, pcm_end_s: float, vad_end_s: float, rate: int = 16_000) -> float:
    """The end of the last 10 ms frame of speech-like energy before ``vad_end_s`` (at most
    ``LOOKBACK_S`` before it), on the timeline where ``pcm``'s last sample ends at
    ``pcm_end_s``; ``vad_end_s`` itself when the audio does not show an earlier end."""
    x = to_float32(pcm).astype(np.float32, copy=False)
    n = int(FRAME_S * rate)
    frames = x.size // n
    if frames < 4:
        return vad_end_s
    start_s = pcm_end_s - frames * n / rate  # frame k spans start_s + k·FRAME_S
    rms = np.sqrt(np.mean(x[x.size - frames * n :].reshape(frames, n) ** 2, axis=1) + 1e-12)
    ends = start_s + (np.arange(frames) + 1) * FRAME_S
    before, after = rms[ends <= vad_end_s + 1e-9], rms[ends > vad_end_s + FRAME_S]
    if before.size < 4:
        return vad_end_s
    loud = float(np.percentile(before, 90))
    quiet = float(np.median(after)) if after.size >= 3 else float(np.percentile(before, 10))
    threshold = max(loud * 10 ** (SPEECH_DB / 20), quiet * NOISE_FACTOR)
    window = (ends > vad_end_s - LOOKBACK_S) & (ends <= vad_end_s + 1e-9)
    speech = np.flatnonzero(window & (rms >= threshold))
    if speech.size == 0:
        return vad_end_s
    return min(vad_end_s, float(ends[speech[-1]]))
