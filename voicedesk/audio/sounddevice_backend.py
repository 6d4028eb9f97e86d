"""The live duplex backend: microphone and speaker through PortAudio (``sounddevice``).

Devices are opened at their own default sample rate (forcing 16/24 kHz makes many drivers
resample badly or refuse) and converted here with streaming soxr. When both devices share a
host API (on ALSA: are both sound cards, not the "default"/"pulse" sound-server plugins) and
can run at one rate, a single duplex ``sounddevice.Stream`` drives everything:
mic and speaker then share one clock, so the echo canceller sees a fixed delay. Otherwise an
``InputStream`` drives ``process`` and the playback blocks travel to a separate
``OutputStream`` through a ``collections.deque`` (append/popleft are atomic, so neither
callback ever takes a lock). Silent blocks are queued only while less than
``max_playback_buffer_s`` (30 ms) waits; sound always is, as the engine counts every block
it hands over as heard. So an output that falls behind its input (stalled or slowed by a
sound server) plays an answer whole, later (``output_latency_s`` says how much later), and
catches up in the next pause instead of staying that late for the rest of the session.
A stop empties the queue (``drop_playback``), so a cut answer does not play on from it.

Callbacks run on PortAudio's real-time thread: they never block, never log, and allocate only
the small per-block arrays ``process`` and soxr need. Problems are recorded in attributes
(``zero_input``, ``xruns``, ``error``, ``active``, ``blocks_processed``) for a caller to
poll. ``AudioIO`` polls them (a stream that ended on its own, a failed ``process``, sound
lost to an overloaded machine are said) and does its own all-zero check.
"""

from __future__ import annotations

import collections
import contextlib
import math
from typing import Any

import numpy as np

from voicedesk.audio.base import CAPTURE_RATE, PLAYBACK_RATE, DuplexBackend, ProcessFn
from voicedesk.audio.devices import (
    FILE_IO_WORKS,
    DeviceInfo,
    Kind,
    default_device,
    import_sounddevice,
    list_devices,
    resolve_device,
)
from voicedesk.audio.resample import StreamResampler
from voicedesk.errors import AudioUnavailableError

_HINT = "run `voicedesk devices` and set audio.input_device / audio.output_device"


class _CaptureFifo:
    """Single-thread FIFO of 16 kHz samples in a preallocated buffer.

    The mic resampler returns a varying number of samples per device block; this turns that
    into exact ``capture_block`` blocks without concatenating arrays on every callback.
    """

    def __init__(self, capacity: int) -> None:
        self._buf = np.zeros(capacity, dtype=np.int16)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def push(self, x: np.ndarray) -> None:
        n = x.size
        if self._n + n > self._buf.size:  # only if the consumer fell far behind; rare
            grown = np.zeros(max(self._buf.size * 2, self._n + n), dtype=np.int16)
            grown[: self._n] = self._buf[: self._n]
            self._buf = grown
        self._buf[self._n : self._n + n] = x
        self._n += n

    def pop(self, n: int) -> np.ndarray:
        """A new array of the first ``n`` samples (the caller may keep it: it is handed on)."""
        out = self._buf[:n].copy()
        rest = self._n - n
        self._buf[:rest] = self._buf[n : self._n]  # numpy handles the overlapping copy
        self._n = rest
        return out


def _alsa_card(dev: DeviceInfo) -> bool:
    """Whether an ALSA device is a sound card itself: PortAudio names those "… (hw:0,0)"."""
    return "(hw:" in dev.name


class SoundDeviceDuplex(DuplexBackend):
    """Microphone + speaker via PortAudio, with resampling to the engine's 16k/24k blocks.

    ``input_device``/``output_device`` are config values (index or name part; ``None`` =
    system default). After :meth:`start` the resolved device *names* are kept in
    ``input_name``/``output_name`` and a pinned device is re-found by name on the next start,
    because indices shift when devices come and go.

    ``require_microphone=False`` (the TUI, where typing is another way in): a machine with a
    speaker and no microphone at all opens the speaker alone, and its clock drives
    ``process`` with silent capture blocks; ``input_name`` stays ``None``.
    """

    name = "sounddevice"

    def __init__(
        self,
        input_device: str | None = None,
        output_device: str | None = None,
        *,
        block_ms: int = 10,
        zero_input_timeout_s: float = 1.5,
        latency: str | float = "low",
        max_playback_buffer_s: float = 0.03,
        resample_quality: str = "QQ",  # low latency: see StreamResampler
        require_microphone: bool = True,
    ) -> None:
        super().__init__(block_ms)
        self.input_device = input_device
        self.output_device = output_device
        self.zero_input_timeout_s = zero_input_timeout_s
        self.latency = latency
        self.max_playback_buffer_s = max_playback_buffer_s
        self.resample_quality = resample_quality
        self.require_microphone = require_microphone
        self.input_name: str | None = None
        self.output_name: str | None = None
        self.input_rate = 0
        self.output_rate = 0
        self.duplex = False
        # Reported to the caller, written only by the audio thread.
        self.zero_input = False
        self.xruns = 0
        self.error: BaseException | None = None
        self.blocks_processed = 0
        self._process: ProcessFn | None = None
        self._streams: list[Any] = []
        self._input_latency = 0.0
        self._output_latency = 0.0
        self._zero_run = 0
        self._zero_limit = 0
        self._mic_rs: StreamResampler | None = None
        self._play_rs: StreamResampler | None = None
        self._fifo = _CaptureFifo(1)
        # (index of the ``process`` call, its resampled playback block)
        self._queue: collections.deque[tuple[int, np.ndarray]] = collections.deque()
        self._queue_max = 1
        self._cur: np.ndarray | None = None
        self._cur_pos = 0
        self._silence = np.zeros(0, dtype=np.int16)  # the missing microphone's blocks
        self._silence_due = 0.0  # 16 kHz samples owed to the engine, fractional

    # ---- public ----------------------------------------------------------------------------
    def start(self, process: ProcessFn) -> None:
        if self._streams:
            return
        sd = import_sounddevice()
        devices = list_devices()
        if not devices:  # say both are missing: "No speaker was found" left the microphone out
            raise AudioUnavailableError(
                f"No microphone or speaker was found (PortAudio lists no sound devices); "
                f"{FILE_IO_WORKS}",
                "connect them, or run `voicedesk devices` to see why PortAudio finds none",
            )
        spk = self._pick(self.output_device, "output", devices)
        no_mic = not self.require_microphone and not any(d.has("input") for d in devices)
        mic = None if no_mic else self._pick(self.input_device, "input", devices)
        if self.input_device is not None and mic is not None:
            self.input_device = mic.name
        if self.output_device is not None:
            self.output_device = spk.name
        self.input_name, self.output_name = (mic.name if mic else None), spk.name
        self._process = process
        self.zero_input, self.xruns, self.error, self.blocks_processed = False, 0, None, 0
        self._zero_run = 0
        self._queue.clear()
        self._cur, self._cur_pos = None, 0

        if mic is None:
            try:
                self._open_speaker_only(sd, spk)
            except sd.PortAudioError as exc:
                self._close()
                raise AudioUnavailableError(
                    f"Cannot open the speaker '{spk.name}': {exc}.", _HINT
                ) from None
        rate = self._shared_rate(sd, mic, spk) if mic is not None else None
        if rate is not None and mic is not None:
            try:
                self._open_duplex(sd, mic, spk, rate)
            except sd.PortAudioError:
                self._close()  # e.g. a driver refusing this combination: fall back to two streams
        if not self._streams and mic is not None:
            try:
                self._open_split(sd, mic, spk)
            except sd.PortAudioError as exc:
                self._close()
                raise AudioUnavailableError(
                    f"Cannot open the microphone '{mic.name}' / speaker '{spk.name}': {exc}.",
                    _HINT,
                ) from None
        try:
            for stream in self._streams:
                stream.start()
        except sd.PortAudioError as exc:
            self._close()
            raise AudioUnavailableError(f"Cannot start the sound devices: {exc}.", _HINT) from None

    def stop(self) -> None:
        self._close()

    @property
    def input_latency_s(self) -> float:
        """Device buffer latency (PortAudio's estimate) plus what the mic resampler holds back."""
        extra = self._mic_rs.delay_s if self._mic_rs is not None else 0.0
        return self._input_latency + extra

    @property
    def output_latency_s(self) -> float:
        """Device buffer latency plus what the playback resampler holds back, and with two
        streams the blocks still waiting in the queue between them."""
        extra = 0.0
        if self._play_rs is not None and self.output_rate:
            extra = self._play_rs.delay_s  # StreamResampler converts soxr's output samples
        if self._streams and not self.duplex:
            # each queued item is one engine block, resampled; len() of a deque is atomic
            extra += len(self._queue) * self.block_ms / 1000
        return self._output_latency + extra

    def drop_playback(self) -> list[int]:
        """Empty the queue between the two streams (any thread: ``popleft`` is atomic, so
        each block goes either to the speaker or here). The block the output callback is
        playing (one block) plays out."""
        dropped: list[int] = []
        if self.duplex:
            return dropped
        while True:
            try:
                dropped.append(self._queue.popleft()[0])
            except IndexError:
                return dropped

    @property
    def active(self) -> bool:
        """False once a stream has ended on its own (device unplugged, callback error)."""
        return bool(self._streams) and all(s.active for s in self._streams)

    # ---- opening -----------------------------------------------------------------------------
    @staticmethod
    def _pick(spec: str | None, kind: Kind, devices: list[DeviceInfo]) -> DeviceInfo:
        dev = resolve_device(spec, kind, devices)
        if dev is None:
            dev = default_device(kind, devices)
        if dev is None:
            usable = [d for d in devices if d.has(kind)]
            if not usable:
                what = "microphone" if kind == "input" else "speaker"
                raise AudioUnavailableError(
                    f"No {what} was found (PortAudio lists no {kind} devices); {FILE_IO_WORKS}",
                    "connect a device, or run `voicedesk devices` to see what PortAudio finds",
                )
            dev = usable[0]  # no system default, but something usable exists
        return dev

    @staticmethod
    def _shared_rate(sd: Any, mic: DeviceInfo, spk: DeviceInfo) -> int | None:
        """A rate both devices accept on the same host API, or None (two streams then).

        On ALSA only two sound cards (``(hw:…)`` devices) share a stream: the sound-server
        plugins ("default", "pulse", "pipewire") are two independent client streams of the
        server underneath, so a duplex stream gains no shared clock, and PortAudio's duplex
        wait loop busy-polls them: measured on PulseAudio, 10 ms blocks took 61-92% of a
        core and got as few as 3 of 500 callbacks on a loaded machine, where two streams
        took 2-30% and got 319-499 (docs/architecture.md, "Testing the sound devices").
        """
        if mic.hostapi != spk.hostapi:
            return None
        if mic.hostapi == "ALSA" and not (_alsa_card(mic) and _alsa_card(spk)):
            return None
        for rate in dict.fromkeys([int(mic.default_samplerate), int(spk.default_samplerate)]):
            try:
                sd.check_input_settings(mic.index, channels=1, dtype="int16", samplerate=rate)
                sd.check_output_settings(spk.index, channels=1, dtype="int16", samplerate=rate)
            except Exception:
                continue
            return rate
        return None

    def _prepare(self, in_rate: int, out_rate: int) -> None:
        self.input_rate, self.output_rate = in_rate, out_rate
        self._mic_rs = StreamResampler(in_rate, CAPTURE_RATE, self.resample_quality)
        self._play_rs = StreamResampler(PLAYBACK_RATE, out_rate, self.resample_quality)
        self._fifo = _CaptureFifo(self.capture_block * 8)
        self._zero_limit = max(1, int(self.zero_input_timeout_s * in_rate))
        block_out = max(1, out_rate * self.block_ms // 1000)
        self._queue_max = max(2, math.ceil(self.max_playback_buffer_s * out_rate / block_out))

    @staticmethod
    def _channel_options(dev: DeviceInfo, kind: Kind) -> list[int]:
        """Mono first; some hardware devices only open in stereo (we use channel 0 / copy)."""
        most = dev.max_input_channels if kind == "input" else dev.max_output_channels
        return [1] if most <= 1 else [1, min(2, most)]

    def _open_duplex(self, sd: Any, mic: DeviceInfo, spk: DeviceInfo, rate: int) -> None:
        self._prepare(rate, rate)
        last: Exception | None = None
        for in_ch in self._channel_options(mic, "input"):
            for out_ch in self._channel_options(spk, "output"):
                try:
                    stream = sd.Stream(
                        samplerate=rate,
                        blocksize=max(1, rate * self.block_ms // 1000),
                        device=(mic.index, spk.index),
                        channels=(in_ch, out_ch),
                        dtype="int16",
                        latency=self.latency,
                        callback=self._duplex_callback,
                    )
                except sd.PortAudioError as exc:
                    last = exc
                    continue
                self._streams = [stream]
                self._input_latency, self._output_latency = map(float, stream.latency)
                self.duplex = True
                return
        assert last is not None
        raise last

    def _open_split(self, sd: Any, mic: DeviceInfo, spk: DeviceInfo) -> None:
        in_rate, out_rate = int(mic.default_samplerate), int(spk.default_samplerate)
        self._prepare(in_rate, out_rate)
        self.duplex = False
        self._streams = [
            self._open_one(sd, sd.InputStream, mic, "input", in_rate, self._input_callback),
            self._open_one(sd, sd.OutputStream, spk, "output", out_rate, self._output_callback),
        ]
        self._input_latency = float(self._streams[0].latency)
        self._output_latency = float(self._streams[1].latency)

    def _open_speaker_only(self, sd: Any, spk: DeviceInfo) -> None:
        """No microphone: the speaker's clock paces the engine as a duplex stream's would,
        each callback turning its frames' worth of silence into capture blocks."""
        rate = int(spk.default_samplerate)
        self._prepare(rate, rate)
        self._silence = np.zeros(CAPTURE_RATE, dtype=np.int16)  # a second: more than asked
        self._silence_due = 0.0
        self.duplex = True  # one clock, nothing queued between two streams
        stream = self._open_one(sd, sd.OutputStream, spk, "output", rate, self._speaker_callback)
        self._streams = [stream]
        self._input_latency, self._output_latency = 0.0, float(stream.latency)

    def _open_one(
        self, sd: Any, cls: Any, dev: DeviceInfo, kind: Kind, rate: int, callback: Any
    ) -> Any:
        last: Exception | None = None
        for ch in self._channel_options(dev, kind):
            try:
                return cls(
                    samplerate=rate,
                    blocksize=max(1, rate * self.block_ms // 1000),
                    device=dev.index,
                    channels=ch,
                    dtype="int16",
                    latency=self.latency,
                    callback=callback,
                )
            except sd.PortAudioError as exc:
                last = exc
        assert last is not None
        raise last

    def _close(self) -> None:
        streams, self._streams = self._streams, []
        for stream in streams:
            with contextlib.suppress(Exception):  # a vanished device may fail to stop/close
                stream.stop()
            with contextlib.suppress(Exception):
                stream.close()

    # ---- audio thread ------------------------------------------------------------------------
    def _on_mic(self, mono: np.ndarray) -> None:
        """Resample one device block, run ``process`` per full engine block, queue playback."""
        mono = np.ascontiguousarray(mono)  # a view of channel 0; copies only for stereo input
        if mono.any():
            self._zero_run = 0
            self.zero_input = False
        else:
            self._zero_run += mono.size
            if self._zero_run >= self._zero_limit:
                self.zero_input = True
        assert self._mic_rs is not None
        self._fifo.push(self._mic_rs.process(mono))
        self._run_blocks()

    def _run_blocks(self) -> None:
        """``process`` each full engine block in the FIFO and queue what it returns."""
        assert self._play_rs is not None and self._process is not None
        while len(self._fifo) >= self.capture_block:
            block = self._fifo.pop(self.capture_block)
            try:
                out = self._process(block)
            except Exception as exc:  # keep the first one for the engine; play silence
                if self.error is None:
                    self.error = exc
                out = np.zeros(self.playback_block, dtype=np.int16)
            self.blocks_processed += 1
            pcm = self._play_rs.process(np.asarray(out, dtype=np.int16).reshape(-1))
            if pcm.size and (len(self._queue) < self._queue_max or pcm.any()):
                self._queue.append((self.blocks_processed - 1, pcm))

    def _fill(self, outdata: np.ndarray, frames: int) -> None:
        """Copy queued playback into channel 0 (and the others), silence on underrun."""
        out = outdata[:, 0]
        filled = 0
        while filled < frames:
            if self._cur is None:
                try:
                    self._cur = self._queue.popleft()[1]
                except IndexError:
                    break
                self._cur_pos = 0
            take = min(frames - filled, self._cur.size - self._cur_pos)
            out[filled : filled + take] = self._cur[self._cur_pos : self._cur_pos + take]
            filled += take
            self._cur_pos += take
            if self._cur_pos >= self._cur.size:
                self._cur = None
        out[filled:] = 0
        if outdata.shape[1] > 1:
            outdata[:, 1:] = outdata[:, :1]

    def _duplex_callback(
        self, indata: np.ndarray, outdata: np.ndarray, frames: int, time: Any, status: Any
    ) -> None:
        if status:
            self.xruns += 1
        self._on_mic(indata[:, 0])
        self._fill(outdata, frames)

    def _input_callback(self, indata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if status:
            self.xruns += 1
        self._on_mic(indata[:, 0])

    def _speaker_callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if status:
            self.xruns += 1
        # silence needs no resampling: the 16 kHz samples these frames stand for
        self._silence_due += frames * CAPTURE_RATE / self.output_rate
        n = int(self._silence_due)
        self._silence_due -= n
        self._fifo.push(self._silence[:n])
        self._run_blocks()
        self._fill(outdata, frames)

    def _output_callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        if status:
            self.xruns += 1
        self._fill(outdata, frames)
