"""Sound devices as PortAudio sees them, and turning a config value into one device.

``sounddevice`` loads the PortAudio shared library when it is imported and raises ``OSError``
if the library is missing (common on fresh Linux installs). Every entry point here goes
through :func:`import_sounddevice`, so that case becomes one readable
:class:`AudioUnavailableError` instead of a traceback, and file input/output keeps working.

Devices are chosen by a config string: an index ("3") or a case-insensitive part of the name
("usb"). Indices change when devices are plugged in or out, so callers should remember the
*name* of the device they resolved, not its index. A machine may also have no devices at all
(servers, containers, CI): every function here returns empty results rather than failing.
"""

from __future__ import annotations

import atexit
import ctypes
import re
import sys
from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any, Literal

from voicedesk.errors import AudioUnavailableError, UserError

Kind = Literal["input", "output"]

# The clause the sound-device errors end with; the typing-only notice (audio/io.py) takes
# it off to say it once, after its own advice.
FILE_IO_WORKS = "file input/output (--input/--output) still works."

PORTAUDIO_MISSING = (
    "PortAudio is not installed: install it with `sudo apt install libportaudio2` "
    f"(Debian/Ubuntu), `brew install portaudio` (macOS); {FILE_IO_WORKS}"
)

# Said after NO_DEVICES_REASON by `devices` and `doctor`: the terminal UI takes typed turns.
TYPING_WORKS = "So does typing in the terminal UI."
NO_DEVICES_REASON = (
    "PortAudio sees no sound devices: this machine may have no sound card (a server, VM or "
    "container), or this user cannot open them (on Linux: check that PipeWire/PulseAudio is "
    f"running and that you are in the 'audio' group); {FILE_IO_WORKS}"
)


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device; ``hostapi`` is the host API's name (ALSA, Core Audio, WASAPI…)."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    def has(self, kind: Kind) -> bool:
        """Whether the device can be used as a microphone (``input``) or speaker (``output``)."""
        channels = self.max_input_channels if kind == "input" else self.max_output_channels
        return channels > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ALSA's error callback: void (*)(const char *file, int line, const char *function, int err,
# const char *fmt, ...); the variadic rest is never read.
_AlsaErrorHandler = ctypes.CFUNCTYPE(
    None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
)
_alsa_handler: Any = None  # kept alive here: ALSA holds only the C pointer


def _drop_alsa_message(file: bytes, line: int, function: bytes, err: int, fmt: bytes) -> None:
    """Nothing: xruns are counted from PortAudio's status flags, failures are exceptions."""


def quiet_alsa() -> None:
    """Stop ALSA printing its own messages on the terminal (Linux; elsewhere a no-op).

    ALSA writes "ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred" and the like to
    stderr from inside PortAudio: through PulseAudio/PipeWire every underrun on a loaded
    machine printed a line (hundreds after a device vanished), scrolling the headless
    transcript and drawing over the TUI. Installed before PortAudio is loaded, so its
    start-up probing is quiet too; both share the one libasound in the process.
    """
    global _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    try:
        libasound = ctypes.CDLL("libasound.so.2")
        handler = _AlsaErrorHandler(_drop_alsa_message)
        libasound.snd_lib_error_set_handler(handler)
    except (OSError, AttributeError):  # no ALSA (PortAudio without it): nothing to quiet
        return
    _alsa_handler = handler
    # Registered before PortAudio's own atexit (sounddevice is imported after this), so it
    # runs after PortAudio has closed: ALSA never calls into a finalising interpreter.
    atexit.register(libasound.snd_lib_error_set_handler, None)


def import_sounddevice() -> ModuleType:
    """Import ``sounddevice``; a missing PortAudio becomes an :class:`AudioUnavailableError`."""
    quiet_alsa()
    try:
        import sounddevice
    except OSError:
        raise AudioUnavailableError(PORTAUDIO_MISSING) from None
    except ImportError:
        raise AudioUnavailableError(
            "The sounddevice package is not installed, so the microphone and speaker cannot "
            f"be used; {FILE_IO_WORKS}",
            "reinstall voicedesk (`pipx reinstall voicedesk`)",
        ) from None
    return sounddevice


def portaudio_available() -> tuple[bool, str]:
    """``(True, "PortAudio V19…")`` or ``(False, why)``; never raises, for ``doctor``."""
    try:
        sd = import_sounddevice()
    except AudioUnavailableError as exc:
        return False, exc.message
    try:
        return True, str(sd.get_portaudio_version()[1])
    except Exception as exc:  # a half-working library should still be reported, not crash
        return False, f"PortAudio cannot be queried: {exc}"


def _default_indices(sd: ModuleType) -> tuple[int, int]:
    """System default input/output indices (-1 when there is none)."""
    try:
        pair = list(sd.default.device)
    except Exception:
        return -1, -1
    out = []
    for value in pair[:2]:
        out.append(value if isinstance(value, int) else -1)
    while len(out) < 2:
        out.append(-1)
    return out[0], out[1]


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio reports, in index order; ``[]`` on a machine without any."""
    sd = import_sounddevice()
    try:
        raw = list(sd.query_devices())
        hostapis = [h["name"] for h in sd.query_hostapis()]
    except sd.PortAudioError as exc:
        raise AudioUnavailableError(
            f"PortAudio cannot list the sound devices: {exc}.",
            "check that the sound system (PipeWire/PulseAudio/Core Audio) is running",
        ) from None
    default_in, default_out = _default_indices(sd)
    devices = []
    for i, dev in enumerate(raw):
        index = int(dev.get("index", i))
        api = int(dev.get("hostapi", 0))
        devices.append(
            DeviceInfo(
                index=index,
                name=str(dev["name"]),
                hostapi=hostapis[api] if 0 <= api < len(hostapis) else str(api),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_samplerate=float(dev["default_samplerate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
            )
        )
    return devices


def default_device(kind: Kind, devices: list[DeviceInfo] | None = None) -> DeviceInfo | None:
    """The system default microphone/speaker, or ``None`` when there is none."""
    devices = list_devices() if devices is None else devices
    for dev in devices:
        if dev.has(kind) and (dev.is_default_input if kind == "input" else dev.is_default_output):
            return dev
    return None


def _describe(devices: list[DeviceInfo], kind: Kind) -> str:
    usable = [d for d in devices if d.has(kind)]
    if not usable:
        return f"no {kind} devices were found"
    names = ", ".join(f"{d.index} '{d.name}'" for d in usable)
    return f"{kind} devices: {names}"


def resolve_device(
    spec: str | None, kind: Kind, devices: list[DeviceInfo] | None = None
) -> DeviceInfo | None:
    """Turn a config value (index or name part) into a device; ``None`` means "system default".

    A name part that matches several devices is an error unless one name equals it exactly,
    or all matches carry the same name (the same device seen through several host APIs, which
    a person cannot tell apart by name): then the default host API's entry, else the first,
    is used.
    """
    if spec is None or not str(spec).strip():
        return None
    spec = str(spec).strip()
    devices = list_devices() if devices is None else devices
    what = "microphone" if kind == "input" else "speaker"
    hint = "run `voicedesk devices` to see them, then set audio.input_device/audio.output_device"
    if spec.isascii() and spec.isdigit():  # "²" is a digit to Python, not to int()
        index = int(spec)
        for dev in devices:
            if dev.index == index:
                if dev.has(kind):
                    return dev
                raise UserError(
                    f"Device {index} '{dev.name}' cannot be used as a {what} "
                    f"(it has no {kind} channels); {_describe(devices, kind)}.",
                    hint,
                )
        raise UserError(
            f"No {what} with index {index}; {_describe(devices, kind)}.",
            hint,
        )
    needle = spec.casefold()
    matches = [d for d in devices if d.has(kind) and needle in d.name.casefold()]
    if not matches:
        raise UserError(f"No {what} matches '{spec}'; {_describe(devices, kind)}.", hint)
    if len(matches) == 1:
        return matches[0]
    exact = [d for d in matches if d.name.casefold() == needle]
    if len(exact) == 1:
        return exact[0]
    names = {d.name.casefold() for d in matches}
    if len(names) == 1:
        preferred = _default_hostapi_name()
        return next((d for d in matches if d.hostapi == preferred), matches[0])
    listed = ", ".join(f"{d.index} '{d.name}'" for d in matches)
    raise UserError(
        f"'{spec}' matches several {what}s: {listed}.",
        "use a longer part of the name or the index; run `voicedesk devices` to see them",
    )


def _default_hostapi_name() -> str | None:
    try:
        sd = import_sounddevice()
        return str(sd.query_hostapis(sd.default.hostapi)["name"])
    except Exception:
        return None


_HEADSET = re.compile(
    r"head-?set|head-?phone|ear-?bud|ear-?phone|in-ear|airpods|\bbuds|"
    r"hands-?free|\bhfp\b|\bhsp\b",
    re.IGNORECASE,
)


def is_headset(name: str | None) -> bool:
    """Whether a device name looks like a headset/headphones (the speaker cannot reach the mic).

    Echo cancellation in ``auto`` mode is switched off for these: it only costs CPU and can
    clip the start of barge-in speech when there is no acoustic echo to remove.
    """
    return bool(name) and _HEADSET.search(name or "") is not None
