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

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voicedesk.audio.base import CAPTURE_RATE, PLAYBACK_RATE, DuplexBackend, ProcessFn
from voicedesk.audio.resample import resample
from voicedesk.audio.wavio import (
    GrowingWav,
    partial_in_the_way,
    partial_path,
    read_wav,
    write_wav,
)
from voicedesk.errors import UserError

log = logging.getLogger(__name__)

# Blocks the audio thread queues before it writes them itself (a second at 10 ms): paced,
# the writer thread takes them every quarter second; unpaced they come far faster.
_MOST_PENDING = 100


class FileDuplex(DuplexBackend):
    """Reads ``input_path`` block by block; what is played goes to ``output_path``.

    After the input ends, silence keeps being fed (``finished`` is set) so the engine can hear
    the end of the last turn and play its answer; the output covers that tail as well.

    While the run goes on, what is played grows in ``partial_path(output_path)``
    (``answers.partial.wav``), a valid 24 kHz WAV on the person's timeline up to its last
    quarter second or so, so a run killed outright (``kill -9``, a power cut) keeps its
    audio. At stop it is converted to the input's rate and moved to ``output_path`` whole:
    a reader of ``output_path`` never sees half a file, nor an earlier output replaced by
    a run that produced nothing.
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
        # What the engine hands over, kept on disk as it comes (GrowingWav): held in memory
        # it grew by 48 kB a second (170 MB an hour), and kept in a temporary file until
        # stop() a hard kill lost all of it. The audio thread only queues blocks; the
        # writer thread puts them in the file, so no disk wait delays a block.
        self._played: GrowingWav | None = None  # from start() to stop()
        self._pending: list[np.ndarray] = []
        self._writer: threading.Thread | None = None
        self._stop_writer = threading.Event()
        self._write_lock = threading.Lock()
        self._keep_error: OSError | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._written = False
        self.written_s: float | None = None  # seconds written to output_path, once stopped
        self.blocks_done = 0
        self.late_blocks = 0  # blocks the process callback handed back after their deadline
        # Whether the person in the file talks now (``talks_when``); None: always, the file
        # is their side of the conversation from the first block (headless runs, benchmarks).
        self._talks: Callable[[], bool] | None = None
        self.blocks_heard = 0  # blocks of the file handed over so far

    def talks_when(self, talks: Callable[[], bool]) -> None:
        """The file advances only while ``talks()`` is true, silence fed meanwhile: in the
        terminal UI, while the microphone listens (hands-free, or the talk key down, and
        not muted). The file played from launch whatever the talk key did, so a person
        trying push-to-talk with it heard its words go by unheard while the key was up.
        Called from the audio thread once a block: it must be quick and never block."""
        self._talks = talks

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
            self._start_recording(partial_path(self.output_path))
        self._thread = threading.Thread(
            target=self._run, args=(process,), name="voicedesk-file-audio", daemon=True
        )
        self._thread.start()

    def _run(self, process: ProcessFn) -> None:
        n_in, n_out = self.capture_block, self.playback_block
        block_s = self.block_ms / 1000
        total_blocks = -(-self.mic.size // n_in)
        # None: silence after the file until stopped (the terminal UI, where the person quits)
        max_tail = math.inf if self.max_tail_s is None else int(self.max_tail_s / block_s)
        silence = np.zeros(n_in, dtype=np.int16)
        t0 = time.monotonic()
        k = 0
        heard = 0  # blocks of the file handed over: k, unless it waits (``talks_when``)
        tail = 0  # blocks of silence after the file's end
        try:
            while not self._stop.is_set():
                talks = self._talks
                if heard < total_blocks and (talks is None or talks()):
                    block = self.mic[heard * n_in : (heard + 1) * n_in]
                    if block.size < n_in:
                        block = np.concatenate([block, silence[: n_in - block.size]])
                    heard += 1
                    self.blocks_heard = heard
                else:
                    block = silence
                    if heard == total_blocks:
                        if tail >= max_tail:
                            break
                        self.finished.set()
                        tail += 1
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

    def _start_recording(self, path: Path) -> None:
        try:
            self._played = GrowingWav(path, PLAYBACK_RATE)
            # the simulated speaker: what is handed over is heard this much later
            self._played.append(np.zeros(self._out_delay, np.int16))
        except FileExistsError:
            assert self.output_path is not None
            raise partial_in_the_way(self.output_path) from None
        except OSError as exc:
            raise UserError(
                f"Cannot write the output WAV's recording {path}: {exc.strerror or exc}",
                "pass an --output in a folder you can write to",
            ) from None
        self._writer = threading.Thread(
            target=self._write_on, name="voicedesk-file-record", daemon=True
        )
        self._writer.start()

    def _keep(self, out: np.ndarray) -> None:
        with self._lock:
            self._pending.append(out.copy())
            behind = len(self._pending) >= _MOST_PENDING
        if behind:  # unpaced, the blocks come faster than the writer's turns
            self._write_pending()

    def _write_on(self) -> None:
        """The writer thread: the queued blocks into the file four times a second, onto the
        disk once a second (or so: the disk decides how long a sync takes)."""
        last_sync = time.monotonic()
        while not self._stop_writer.wait(0.25):
            self._write_pending()
            # not under the write lock: the audio thread may write on while the disk syncs
            # (the file is closed only once this thread has ended)
            played = self._played
            if time.monotonic() - last_sync >= 1.0 and played is not None:
                if self._keep_error is None:
                    self._guarded(played.sync)
                last_sync = time.monotonic()

    def _write_pending(self) -> None:
        with self._lock:
            blocks, self._pending = self._pending, []
        if not blocks:
            return
        with self._write_lock:
            played = self._played
            if played is not None and self._keep_error is None:
                self._guarded(lambda: played.append(np.concatenate(blocks)))

    def _guarded(self, write: Any) -> None:
        try:
            write()
        except OSError as exc:  # the disk is full: the conversation goes on, unrecorded
            self._keep_error = exc
            log.warning("cannot keep the audio for %s: %s", self.output_path, exc)

    def played_24k(self) -> np.ndarray:
        """What the engine handed over, on its timeline (before any simulated output latency);
        kept only with an output file, until ``stop`` has written it."""
        self._write_pending()
        with self._write_lock:
            if self._played is None or not self._played.path.exists():
                return np.zeros(0, np.int16)
            played, _ = read_wav(self._played.path)
        return played[self._out_delay :]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._stop_writer.set()
        if self._writer is not None:
            self._writer.join(timeout=5)
        self._write_pending()
        self._write_output()

    def _let_go(self, recording: GrowingWav) -> None:
        """The recording is no longer needed (the output holds it, or nothing was played).
        Only then: a failure, or a second Ctrl-C while the output was being written, must
        leave it where it grew."""
        self._played = None
        with contextlib.suppress(OSError):
            recording.path.unlink()

    def _write_output(self) -> None:
        if self.output_path is not None and self._played is not None and not self._written:
            self._written = True
            recording = self._played
            # an error writing was noted as it came
            with self._write_lock, contextlib.suppress(OSError):
                recording.close()
            if not self.blocks_done:
                # stopped before the first block (Ctrl-C while starting): there is nothing
                # to keep, and an empty WAV must not replace an earlier output
                log.info("no audio was produced; %s was not written", self.output_path)
                self._let_go(recording)
                return
            if self._keep_error is not None:
                kept = recording.path  # the audio up to the error stays there
                raise UserError(
                    f"Could not write the output WAV {self.output_path}: the audio could not "
                    f"be kept while the run went on ({self._keep_error.strerror or self._keep_error}).",
                    f"what was kept until then is in {kept}; make room on that disk",
                )
            # with the simulated speaker's delay: heard this much after it was handed over
            played, _ = read_wav(recording.path)
            out = resample(played, PLAYBACK_RATE, self.input_rate)
            try:
                write_wav(self.output_path, out, self.input_rate)
            except OSError as exc:  # the audio is kept where it grew
                raise UserError(
                    f"Could not write the output WAV {self.output_path}: {exc.strerror or exc}.",
                    f"the conversation's audio is in {recording.path} (at 24 kHz); pass an "
                    "--output in a folder you can write to",
                ) from None
            self.written_s = out.size / self.input_rate
            self._let_go(recording)
