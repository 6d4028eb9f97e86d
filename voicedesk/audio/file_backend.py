"""WAV files as microphone and speaker, on one timeline.

Output sample *n* (at the input file's rate) is what the speaker played while input sample *n*
was being heard; silence where nothing played. Tests, ``replay``, ``run --headless`` and the
benchmarks measure latency on this shared timeline, so it must hold exactly: every block of
input produces exactly one block of output, with no device buffering in between.

Paced in real time by default (providers answer over real sockets, so the conversation must
unfold at the speed of speech); ``realtime=False`` runs as fast as the CPU allows, for
offline analysis where nothing waits on the network.

A sound card's latencies can be simulated (``input_latency_s``/``output_latency_s``, 0 by
default): the engine then gets each input sample that much later than it is in the input
file, and what it plays lands that much later in the output file — the files stay the
person's timeline, the engine's is shifted, as on hardware. This is how the per-turn
metrics' device latency is checked against what the output file shows, with no sound card.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from voicedesk.audio.base import CAPTURE_RATE, PLAYBACK_RATE, DuplexBackend, ProcessFn
from voicedesk.audio.resample import resample
from voicedesk.audio.wavio import read_wav, write_wav
from voicedesk.errors import UserError

log = logging.getLogger(__name__)


class FileDuplex(DuplexBackend):
    """Reads ``input_path`` block by block, writes what is played to ``output_path`` at stop.

    After the input ends, silence keeps being fed (``finished`` is set) so the engine can hear
    the end of the last turn and play its answer; the output covers that tail as well.
    """

    name = "file"

    def __init__(
        self,
        input_path: Path | None,
        output_path: Path | None,
        *,
        block_ms: int = 10,
        realtime: bool = True,
        input_pcm: np.ndarray | None = None,
        input_rate: int | None = None,
        max_tail_s: float | None = 300.0,
        input_latency_s: float = 0.0,
        output_latency_s: float = 0.0,
    ) -> None:
        super().__init__(block_ms)
        if input_latency_s < 0 or output_latency_s < 0:
            raise ValueError("simulated device latencies cannot be negative")
        if input_pcm is None:
            if input_path is None:
                raise ValueError("FileDuplex needs an input file or samples")
            pcm, rate = read_wav(input_path)
        else:
            pcm, rate = input_pcm.astype(np.int16, copy=False), int(input_rate or CAPTURE_RATE)
        self.input_path = input_path
        self.output_path = output_path
        self.input_rate = rate
        mic = resample(pcm, rate, CAPTURE_RATE) if rate != CAPTURE_RATE else pcm
        # Whole samples, so the latency reported is exactly the shift applied.
        self._in_delay = round(input_latency_s * CAPTURE_RATE)
        self._out_delay = round(output_latency_s * PLAYBACK_RATE)
        if self._in_delay:
            mic = np.concatenate([np.zeros(self._in_delay, np.int16), mic])
        self.mic = mic  # what the engine hears, on its own timeline
        self.realtime = realtime
        self.max_tail_s = max_tail_s
        # What the engine hands over, kept on disk until stop() writes the output WAV: held
        # in memory it grew by 48 kB a second (170 MB an hour), for as long as the run went
        # on. Only with an output file: nothing else reads it.
        self._played: Any = None  # an unnamed temporary file, from start() to stop()
        self._keep_error: OSError | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._written = False
        self.written_s: float | None = None  # seconds written to output_path, once stopped
        self.blocks_done = 0
        self.late_blocks = 0  # blocks the process callback handed back after their deadline

    @property
    def duration_s(self) -> float:
        return self.mic.size / CAPTURE_RATE

    @property
    def input_latency_s(self) -> float:
        return self._in_delay / CAPTURE_RATE

    @property
    def output_latency_s(self) -> float:
        return self._out_delay / PLAYBACK_RATE

    def start(self, process: ProcessFn) -> None:
        if self._thread is not None:
            raise RuntimeError("FileDuplex already started")
        if self.output_path is not None:
            # closed by stop(), after the output is written
            self._played = tempfile.TemporaryFile(prefix="voicedesk-played-")  # noqa: SIM115
        self._thread = threading.Thread(
            target=self._run, args=(process,), name="voicedesk-file-audio", daemon=True
        )
        self._thread.start()

    def _run(self, process: ProcessFn) -> None:
        n_in, n_out = self.capture_block, self.playback_block
        block_s = self.block_ms / 1000
        total_blocks = -(-self.mic.size // n_in)
        # None: silence after the file until stopped (the terminal UI, where the person quits)
        max_blocks = (
            math.inf if self.max_tail_s is None else total_blocks + int(self.max_tail_s / block_s)
        )
        silence = np.zeros(n_in, dtype=np.int16)
        t0 = time.monotonic()
        k = 0
        try:
            while not self._stop.is_set() and k < max_blocks:
                if k < total_blocks:
                    block = self.mic[k * n_in : (k + 1) * n_in]
                    if block.size < n_in:
                        block = np.concatenate([block, silence[: n_in - block.size]])
                else:
                    block = silence
                    if k == total_blocks:
                        self.finished.set()
                out = process(block)
                if out.size != n_out:  # the contract says exactly one block; be forgiving
                    out = np.resize(out, n_out) if out.size else np.zeros(n_out, np.int16)
                if self._played is not None:
                    self._keep(out)
                k += 1
                self.blocks_done = k
                if self.realtime:
                    delay = t0 + k * block_s - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    elif delay < -block_s:
                        self.late_blocks += 1
        except Exception:
            log.exception("file audio thread failed")
        finally:
            self.finished.set()

    def _keep(self, out: np.ndarray) -> None:
        with self._lock:
            if self._played.closed or self._keep_error is not None:
                return
            try:
                self._played.write(out.astype("<i2", copy=False).tobytes())
            except OSError as exc:  # the disk is full: the conversation goes on, unrecorded
                self._keep_error = exc
                log.warning("cannot keep the audio for %s: %s", self.output_path, exc)

    def played_24k(self) -> np.ndarray:
        """What the engine handed over, on its timeline (before any simulated output latency);
        kept only with an output file, until ``stop`` has written it."""
        with self._lock:
            if self._played is None or self._played.closed:
                return np.zeros(0, np.int16)
            self._played.seek(0)
            data = self._played.read()
            self._played.seek(0, 2)  # further blocks go on at the end
        return np.frombuffer(data, dtype="<i2").astype(np.int16)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            self._write_output()
        finally:
            if self._played is not None:
                with self._lock:
                    self._played.close()

    def _write_output(self) -> None:
        if self.output_path is not None and not self._written:
            self._written = True
            if not self.blocks_done:
                # stopped before the first block (Ctrl-C while starting): there is nothing
                # to keep, and an empty WAV must not replace an earlier output
                log.info("no audio was produced; %s was not written", self.output_path)
                return
            if self._keep_error is not None:
                raise UserError(
                    f"Could not write the output WAV {self.output_path}: the audio could not "
                    f"be kept while the run went on ({self._keep_error.strerror or self._keep_error}).",
                    "make room in the temporary folder, or set TMPDIR to a folder with room",
                )
            played = self.played_24k()
            if self._out_delay:  # the simulated speaker: heard this much after it was handed
                played = np.concatenate([np.zeros(self._out_delay, np.int16), played])
            out = resample(played, PLAYBACK_RATE, self.input_rate)
            try:
                write_wav(self.output_path, out, self.input_rate)
            except OSError as exc:
                raise UserError(
                    f"Could not write the output WAV {self.output_path}: {exc.strerror or exc}.",
                    "the conversation ran but its audio is lost; pass an --output in a folder "
                    "you can write to",
                ) from None
            self.written_s = out.size / self.input_rate
