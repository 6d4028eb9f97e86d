"""Sample-rate conversion with soxr (one-shot for files, streaming for live audio)."""

from __future__ import annotations

import numpy as np
import soxr

from voicedesk.audio.wavio import to_float32, to_int16


def resample(x: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """Whole-signal conversion (delay-compensated); float32 or int16 in, same kind out."""
    if in_rate == out_rate or x.size == 0:
        return x
    if x.dtype == np.int16:
        y = soxr.resample(to_float32(x), in_rate, out_rate, quality="HQ")
        return to_int16(y)
    return soxr.resample(x.astype(np.float32), in_rate, out_rate, quality="HQ").astype(np.float32)


class StreamResampler:
    """Block-by-block conversion for live paths; keeps filter state between blocks.

    Defaults to soxr's "QQ" (quick cubic) quality on purpose: measured with 10 ms blocks,
    soxr's LQ/MQ/HQ streams hold back their output for the first 2-3 blocks and then release
    it in bursts (≈30 ms of added latency), which would delay end-of-turn detection and
    barge-in, and make the echo canceller's reference arrive after its echo. QQ delays by
    about one sample. The price is weaker alias rejection, harmless for VAD/STT input.

    The stream runs in float32 and is rounded back to int16 here: soxr's int16 output is
    dithered, so digital silence came out as ±1 LSB noise. The echo canceller's reference
    then never fell silent, and the linear echo model (``linear_echo.py``), which adapts
    only while the speaker plays, adapted on that noise against the room's noise in every
    pause (seconds of it before the first answer), so it started each answer from a filter
    fitted to nothing and took 6+ s to explain the echo instead of ~3 s.
    """

    def __init__(self, in_rate: int, out_rate: int, quality: str = "QQ") -> None:
        self.in_rate, self.out_rate = in_rate, out_rate
        self._rs = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=quality)
        )

    @property
    def delay_s(self) -> float:
        """Current filter delay in seconds (soxr reports it in output samples)."""
        return 0.0 if self._rs is None else float(self._rs.delay()) / self.out_rate

    def process(self, pcm: np.ndarray, last: bool = False) -> np.ndarray:
        if self._rs is None:
            return pcm
        y = self._rs.resample_chunk(pcm.astype(np.float32) * (1 / 32768.0), last=last)
        return np.clip(np.rint(y * 32768.0), -32768, 32767).astype(np.int16)
