"""The backend for a machine with no sound devices: a clock, no microphone, no speaker.

Typed turns still need the engine's audio timeline (turn timings, playback progress that
says how much of an answer was "heard"), so this keeps time like a sound card would: one
silent capture block per ``block_ms`` in real time, and what is played is dropped. Used
when the TUI opens a conversation on a machine where PortAudio is missing or finds no
microphone and no speaker (a server over SSH, a container): typing is then the only way in.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from voicedesk.audio.base import DuplexBackend, ProcessFn
from voicedesk.events import NO_DEVICE

log = logging.getLogger(__name__)


class NoDeviceDuplex(DuplexBackend):
    name = NO_DEVICE

    def __init__(self, block_ms: int = 10) -> None:
        super().__init__(block_ms)
        self.input_name: str | None = None
        self.output_name: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self, process: ProcessFn) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(process,), name="voicedesk-no-device-clock", daemon=True
        )
        self._thread.start()

    def _run(self, process: ProcessFn) -> None:
        silence = np.zeros(self.capture_block, dtype=np.int16)
        block_s = self.block_ms / 1000
        t0 = time.monotonic()
        k = 0
        try:
            while not self._stop.is_set():
                process(silence)
                k += 1
                delay = t0 + k * block_s - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -1.0:  # the machine stalled (suspend): catch up, do not burst
                    t0, k = time.monotonic(), 0
        except Exception:
            log.exception("the no-device audio clock failed")

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
