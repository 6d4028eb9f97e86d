"""WAV in and out: any readable file to int16 mono at the rate we need; atomic writes."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from voicedesk.errors import UserError
from voicedesk.files import atomic_write

log = logging.getLogger(__name__)
# libsndfile's note on a WAV whose data chunk is shorter than its header says
_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+) \(should be (\d+)\)", re.MULTILINE)


def read_wav(path: Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """int16 mono samples and their rate (resampled to ``rate`` when given)."""
    import soundfile as sf

    path = Path(path)
    check_readable(path)
    try:
        with sf.SoundFile(path) as fh:
            data = fh.read(dtype="float32", always_2d=True)
            file_rate, notes = fh.samplerate, fh.extra_info
            layout = (fh.format, fh.subtype, fh.channels)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError
        raise _unreadable(path, exc) from None
    _warn_if_cut_short(path, notes, data.shape[0], file_rate)
    data = _with_unheaded_audio(path, data, file_rate, *layout)
    mono = _mixed_down(path, data)
    if not np.isfinite(mono).all():  # a float file may hold NaN or Inf: silence, full scale
        mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)
    if rate is not None and rate != file_rate:
        from voicedesk.audio.resample import resample

        mono = resample(mono, file_rate, rate)
        file_rate = rate
    return to_int16(mono), int(file_rate)


def _mixed_down(path: Path, data: np.ndarray) -> np.ndarray:
    """One channel: their mean, unless that cancels what they hold (a channel wired or
    recorded in opposite phase, as some stereo microphones are): then the loudest alone."""
    if data.shape[1] == 1:
        return data[:, 0]
    with np.errstate(invalid="ignore", over="ignore"):
        powers = np.mean(np.square(data, dtype=np.float64), axis=0)
        power = float(np.mean(np.square(data.mean(axis=1), dtype=np.float64)))
    channel = _channel_to_use(path, powers, power)
    return data.mean(axis=1) if channel is None else data[:, channel]


def _channel_to_use(path: Path, powers: np.ndarray, power: float) -> int | None:
    """None: the channels' mean; else the one channel to use, the loudest, when their mean
    (of mean power ``power``; each channel's ``powers``) cancels what they hold."""
    with np.errstate(invalid="ignore", over="ignore"):
        levels = np.sqrt(powers)
        level = float(np.sqrt(power))
    loudest = int(np.nanargmax(levels)) if np.isfinite(levels).any() else 0
    if np.isfinite(level) and levels[loudest] > 1e-4 and level < 0.25 * levels[loudest]:
        log.warning(
            "%s: its channels cancel out when mixed (one in opposite phase?); using channel "
            "%d alone",
            path,
            loudest + 1,
        )
        return loudest
    return None


def stream_wav(path: Path, rate: int, *, read_s: float = 10.0) -> Iterator[np.ndarray]:
    """:func:`read_wav`'s samples (int16 mono at ``rate``) a few seconds at a time, so what
    is held does not grow with the file: `replay` of a one-hour WAV read it whole (float32
    at its own rate, then mixed, resampled and padded: 730 MB and more).

    A file with more audio than its header gives (a recording never finished) is read
    whole, as :func:`read_wav` reads it. A file with several channels is read twice: the
    first pass decides, as :func:`_mixed_down` does, whether their mean or one is used.
    Resampled as the microphone is live (:class:`StreamResampler`, about one sample's
    delay), where :func:`read_wav` resamples the whole signal at once."""
    import soundfile as sf

    from voicedesk.audio.resample import StreamResampler

    path = Path(path)
    check_readable(path)
    try:
        fh = sf.SoundFile(path)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError
        raise _unreadable(path, exc) from None
    with fh:
        file_rate, channels = fh.samplerate, fh.channels
        if _unheaded_span(path, file_rate, fh.format, fh.subtype, channels) is not None:
            yield read_wav(path, rate)[0]
            return
        per_read = max(1, int(read_s * file_rate))
        channel: int | None = None
        if channels > 1:
            powers, power, frames = np.zeros(channels), 0.0, 0
            for data in fh.blocks(per_read, dtype="float32", always_2d=True):
                with np.errstate(invalid="ignore", over="ignore"):
                    powers += np.sum(np.square(data, dtype=np.float64), axis=0)
                    power += float(np.sum(np.square(data.mean(axis=1), dtype=np.float64)))
                frames += data.shape[0]
            channel = _channel_to_use(path, powers / max(1, frames), power / max(1, frames))
            fh.seek(0)
        resampler = StreamResampler(file_rate, rate)
        frames = 0
        # Each block is resampled once the next is read, so the last one goes with
        # last=True: flushing with an empty block after it made soxr (1.0) ask for an
        # output of negative size at about one length in four of a 44.1 kHz file
        # (MemoryError: std::bad_array_new_length), a traceback from `voicedesk replay`.
        held: np.ndarray | None = None
        for data in fh.blocks(per_read, dtype="float32", always_2d=True):
            frames += data.shape[0]
            mono = data.mean(axis=1) if channel is None else data[:, channel]
            if not np.isfinite(mono).all():  # as read_wav: NaN silence, Inf full scale
                mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)
            if held is not None:
                yield resampler.process(held)
            held = to_int16(mono)
        if held is not None:
            yield resampler.process(held, last=True)
        _warn_if_cut_short(path, fh.extra_info, frames, file_rate)


def _warn_if_cut_short(path: Path, notes: str, frames: int, rate: int) -> None:
    """A WAV cut short (a copy or download that stopped) reads as its first seconds and
    then nothing, which looked like a file with no speech in it: said, not refused, since
    what it holds may still be wanted. ``notes``: libsndfile's on opening it."""
    found = _SHORT_DATA.search(notes)
    if found is None or int(found[2]) >= int(found[1]):
        return  # a header that says less (0: a recorder still writing) loses nothing
    said = frames * int(found[1]) / max(1, int(found[2]))
    log.warning(
        "%s is cut short: its header says %.2f s of audio, the file holds %.2f s "
        "(an unfinished copy or download?)",
        path,
        said / rate,
        frames / rate,
    )


# Sample formats whose bytes can be read without their header (libsndfile's RAW).
_RAW_SUBTYPES = {"PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"}


def _data_chunk(fh: Any, size: int) -> tuple[int, int] | None:
    """Where a RIFF WAVE file's data chunk starts, and the length its header gives."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= size:
        fh.seek(pos)
        chunk = fh.read(8)
        length = int.from_bytes(chunk[4:], "little")
        if chunk[:4] == b"data":
            return pos + 8, length
        pos += 8 + length + (length & 1)
    return None


def _chunks_to_end(fh: Any, pos: int, size: int) -> bool:
    """Whether the bytes from ``pos`` are whole RIFF chunks up to the end of the file (tags,
    cue points: not audio)."""
    while pos + 8 <= size:
        fh.seek(pos)
        chunk = fh.read(8)
        if not all(32 <= b < 127 for b in chunk[:4]):
            return False
        length = int.from_bytes(chunk[4:], "little")
        pos += 8 + length + (length & 1)
    return pos >= size - 1


def _unheaded_span(
    path: Path, rate: int, fmt: str, subtype: str, channels: int
) -> tuple[int, int, int] | None:
    """Where the audio starts, how many whole frames the file holds from there and the bytes
    of one, when the file holds more than its header gives (a header never finished)."""
    if fmt not in {"WAV", "WAVEX"} or subtype not in _RAW_SUBTYPES:
        return None
    size = path.stat().st_size
    with open(path, "rb") as fh:
        found = _data_chunk(fh, size)
        if found is None:
            return None
        start, length = found
        width = {"PCM_U8": 1, "ULAW": 1, "ALAW": 1, "PCM_16": 2, "PCM_24": 3}.get(subtype, 4)
        width = 8 if subtype == "DOUBLE" else width
        block = width * channels
        end = start + length
        if size - end < block * rate // 100 or _chunks_to_end(fh, end + (length & 1), size):
            return None  # under 10 ms more, or tags after the audio
    return start, (size - start) // block, block


def _with_unheaded_audio(
    path: Path, data: np.ndarray, rate: int, fmt: str, subtype: str, channels: int
) -> np.ndarray:
    """``data`` and the audio the file holds past the data chunk's length in its header.

    A WAV writer killed mid-recording (Python's ``wave`` updates the header only on close)
    leaves a header that gives its first fraction of a second, and libsndfile reads only
    that: 8 s of speech read as 0.1 s, and "No speech was heard". Read by hand here, since
    libsndfile trusts the header; said, since the file is damaged."""
    import soundfile as sf

    try:
        span = _unheaded_span(path, rate, fmt, subtype, channels)
        if span is None:
            return data
        start, frames, block = span
        with open(path, "rb") as fh:
            fh.seek(start)
            raw = fh.read(frames * block)
        whole = sf.read(
            io.BytesIO(raw),
            format="RAW",
            subtype=subtype,
            samplerate=rate,
            channels=channels,
            endian="LITTLE",
            dtype="float32",
            always_2d=True,
        )[0]
    except (OSError, RuntimeError, ValueError):
        return data
    if whole.shape[0] <= data.shape[0]:
        return data
    log.warning(
        "%s: its header says %.2f s of audio, but the file holds %.2f s (a recording stopped "
        "before it finished its header?); reading all of it",
        path,
        data.shape[0] / rate,
        whole.shape[0] / rate,
    )
    return whole


def count_frames(path: Path) -> int:
    """Samples per channel in the file, from its header: a run checks its input with this
    before it creates any file, so a file it cannot read costs nothing. A WAV header that
    gives none (a recorder killed before it wrote its length) counts what follows it, as
    :func:`read_wav` reads it."""
    info = _info(path)
    if info.frames == 0:
        with contextlib.suppress(OSError):
            span = _unheaded_span(
                Path(path), info.samplerate, info.format, info.subtype, info.channels
            )
            if span is not None:
                return span[1]
    return int(info.frames)


def duration_s(path: Path) -> float:
    """The file's length in seconds, from its header alone (as :func:`count_frames`)."""
    info = _info(path)
    return info.frames / info.samplerate


def _info(path: Path) -> Any:  # soundfile's info: frames, samplerate
    import soundfile as sf

    check_readable(Path(path))
    try:
        return sf.info(str(path))
    except Exception as exc:  # as read_wav: LibsndfileError / RuntimeError
        raise _unreadable(Path(path), exc) from None


def check_readable(path: Path) -> None:
    """What is wrong with a path that is no readable file, in words: libsndfile says only
    "System error" for a file the person may not read, and "-" or a pipe is no file."""
    if str(path) == "-":
        raise UserError(
            "Reading audio from standard input is not supported", "save it to a file first"
        )
    if not path.exists():
        raise UserError(f"Audio file not found: {path}", "check the path")
    if path.is_dir():
        raise UserError(f"{path} is a directory, not an audio file", "give one audio file")
    if not path.is_file():
        raise UserError(
            f"{path} is not a regular file (a pipe or a device)", "save the audio to a file first"
        )
    if path.stat().st_size == 0:  # libsndfile said "Format not recognised"
        raise UserError(f"{path} is empty (0 bytes)", "record or copy the audio again")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise UserError(
            f"Cannot read {path}: permission denied",
            f"give yourself read access (chmod u+r {path})",
        ) from None


def _unreadable(path: Path, exc: Exception) -> UserError:
    return UserError(
        f"Cannot read {path} as audio: {exc}",
        "use an audio file libsndfile reads: WAV, FLAC, OGG or MP3",
    )


def to_float32(pcm: np.ndarray) -> np.ndarray:
    """int16 samples as float32 in [-1, 1); float input is passed through as it is."""
    return pcm.astype(np.float32) / 32768.0 if pcm.dtype == np.int16 else pcm


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float audio (full scale = 1) as int16: the exact inverse of ``to_float32`` (×32768,
    rounded), so int16 samples that went to float and back are the samples they were. ×32767
    left them up to 1 step apart: an int16 file read through float came back changed, and
    the live pre-roll the VAD kept as float differed from the microphone's own samples."""
    if x.dtype == np.int16:
        return x
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    """Write int16 mono whole (files.atomic_write): a crash never leaves half a recording
    under ``path``, and a new file gets the mode any new file of the person's would."""
    import soundfile as sf

    samples = to_int16(np.asarray(pcm))

    def write(handle: BinaryIO) -> None:
        # libsndfile writes to the descriptor itself: through a Python file object each of
        # its writes is copied into a bytes object first (the whole recording at once)
        with sf.SoundFile(
            handle.fileno(), "w", rate, 1, subtype="PCM_16", format="WAV", closefd=False
        ) as out:
            out.write(samples)

    atomic_write(Path(path), write)


def partial_in_the_way(output: Path) -> UserError:
    """What to say of an ``output`` whose :func:`partial_path` is there before the run: a
    run still going is writing it (another terminal), or a run that did not end left it;
    either way it holds that run's audio. Told apart by the lock a run holds on it
    (:class:`GrowingWav`): told only the second, the person moved or deleted the recording
    of a run still going, as advised, and that run lost its audio."""
    partial = partial_path(output)
    if being_written(partial):
        return UserError(
            f"{partial} is being written by a run still going with --output {output}: "
            "this run would write its audio over that one's",
            "give this run another --output, or wait until that run has ended",
        )
    kept = partial.with_name(partial.stem + "-kept" + partial.suffix)
    # quoted for a shell: pasted as shown, a path with a space in it moved nothing
    move = shlex.join(["mv", str(partial), str(kept)])
    return UserError(
        f"{partial} is there from an earlier run with --output {output} that did not end "
        "(it was killed, or crashed): it holds that run's audio",
        f"keep it under another name, or delete it, then run again (e.g. {move})",
    )


def being_written(path: Path) -> bool:
    """Whether a running :class:`GrowingWav` holds ``path`` (its lock); False where there
    are no such locks (Windows)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        with Path(path).open("rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def partial_path(path: Path) -> Path:
    """Where a recording bound for ``path`` grows until it is whole (``answers.wav`` →
    ``answers.partial.wav``): beside it, so the final move is a rename on one file system,
    and visible, since after a crash it is the recording."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix or '.wav'}")


class GrowingWav:
    """An int16 mono WAV written as the audio comes, readable whole at every moment.

    Python's ``wave`` rewrites the header's lengths after each ``append``, and ``append``
    hands the bytes to the kernel at once: a process killed outright (``kill -9``, the
    out-of-memory killer) leaves a valid WAV of everything appended, and ``sync`` (at most
    once a second, by the caller) bounds what a power cut can take. libsndfile writes its
    header's lengths only on close, which is why it is not used here."""

    def __init__(self, path: Path, rate: int) -> None:
        import wave

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("xb")  # never over another: it may be a crash's survivor
        with contextlib.suppress(ImportError, OSError):
            import fcntl

            # held while it grows (released with the file, by close() or the process's
            # end): another run told that it is in use, not that a crash left it
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._wav = wave.open(self._fh, "wb")  # noqa: SIM115 (closed by close())
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(rate)
        self._wav.writeframes(b"")  # the header, so even a file of no audio is a WAV
        self._fh.flush()
        self.frames = 0

    def append(self, samples: np.ndarray) -> None:
        if not samples.size:
            return
        self._wav.writeframes(samples.astype("<i2", copy=False).tobytes())
        self._fh.flush()
        self.frames += int(samples.size)

    def sync(self) -> None:
        """Onto the disk: what a power cut would otherwise take."""
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        try:
            self._wav.close()
            self.sync()
        finally:
            self._fh.close()
