"""A private PulseAudio server for tests of the real sound-device path.

The machine needs no sound card: the server has a null sink as the speaker (its
``.monitor`` is what a person would hear, recorded with ``parec``) and a virtual source as
the microphone (fed by playing speech into a second null sink with ``paplay``). PortAudio
reaches them through ALSA's pulse plugin (``libasound2-plugins``): the ALSA "default" and
"pulse" devices, plus the named devices the ``.asoundrc`` here adds (one of them,
"usbheadset", names a sink that is not there, as for a headset unplugged). Everything lives in
one temporary directory (runtime dir, cookie, ``HOME`` for ALSA's config), so the server
starts in a fresh process on a clean machine and never meets a person's own sound server.

voicedesk runs in a subprocess with :attr:`PulseServer.env`: PortAudio lists devices once,
when ``sounddevice`` is imported, so a test process that imported it earlier would not see
this server's devices.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TOOLS = ("pulseaudio", "pactl", "paplay", "parec")
SPEAKER_SINK = "spk"  # the speaker: what voicedesk plays, recorded from spk.monitor
MIC_BUS = "micbus"  # speech played here is what the microphone hears
MIC_SOURCE = "mic"

_SERVER_SCRIPT = f"""\
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name={SPEAKER_SINK} rate=48000 channels=2
load-module module-null-sink sink_name={MIC_BUS} rate=44100 channels=1
load-module module-virtual-source source_name={MIC_SOURCE} master={MIC_BUS}.monitor
set-default-sink {SPEAKER_SINK}
set-default-source {MIC_SOURCE}
"""

_ASOUNDRC = f"""\
pcm.deskmic {{
    type pulse
    device {MIC_SOURCE}
    hint {{ show on description "Desk Mic" }}
}}
pcm.deskspeaker {{
    type pulse
    device {SPEAKER_SINK}
    hint {{ show on description "Desk Speaker" }}
}}
pcm.usbheadset {{
    type pulse
    device unplugged_usb_headset
    hint {{ show on description "A headset unplugged: its sink is gone" }}
}}
"""


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


class PulseServer:
    """One ``pulseaudio`` process with its own runtime dir; :meth:`stop` ends it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        runtime = root / "run"
        runtime.mkdir(mode=0o700, parents=True)
        (root / "my.pa").write_text(_SERVER_SCRIPT)
        (root / ".asoundrc").write_text(_ASOUNDRC)
        self.socket = runtime / "native"
        self.env = {
            **os.environ,
            "HOME": str(root),  # ALSA reads ~/.asoundrc; PulseAudio keeps its cookie here
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_RUNTIME_PATH": str(runtime),
            "PULSE_SERVER": f"unix:{self.socket}",
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "XDG_STATE_HOME": str(root / "state"),
        }
        self.env.pop("PULSE_SINK", None)
        self.env.pop("PULSE_SOURCE", None)
        self.log = root / "pulseaudio.log"
        self.proc = subprocess.Popen(
            [
                "pulseaudio",
                "-n",  # no system default.pa: only this script's modules
                "-F",
                str(root / "my.pa"),
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--system=false",
                "--use-pid-file=false",
                "--disallow-exit=false",
                "--log-target=stderr",
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {self.log.read_text()[-2000:]}")
            if self.pactl("info", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"pulseaudio did not answer: {self.log.read_text()[-2000:]}")

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, check=check, timeout=60
        )

    def portaudio_names(self) -> list[str]:
        """The devices a fresh process's PortAudio lists through this server."""
        done = subprocess.run(
            [sys.executable, "-c", "import sounddevice as sd; print(repr(sd.query_devices()))"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        # none at all (no ALSA pulse plugin, no sound card) prints one empty line
        return [line.split(maxsplit=1)[-1] for line in done.stdout.splitlines() if line.strip()]

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """Say ``wav`` into the microphone (returns at once; ``wait()`` for the end)."""
        return subprocess.Popen(["paplay", "-d", MIC_BUS, str(wav)], env=self.env)

    def record(self, wav: Path) -> subprocess.Popen[bytes]:
        """Record what the speaker plays, 48 kHz mono, until the process is terminated."""
        return subprocess.Popen(
            [
                "parec",
                "-d",
                f"{SPEAKER_SINK}.monitor",
                "--rate=48000",
                "--channels=1",
                "--format=s16le",
                "--file-format=wav",
                str(wav),
            ],
            env=self.env,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def loud_seconds(wav: Path, threshold_dbfs: float = -50.0) -> float:
    """How much of a recording (in seconds) is louder than ``threshold_dbfs``, in 10 ms
    frames: parec's WAV header is never finalised, so the data is read to the file's end."""
    raw = wav.read_bytes()
    start = raw.find(b"data") + 8
    pcm = np.frombuffer(raw[start : start + (len(raw) - start) // 2 * 2], np.int16)
    frames = pcm[: pcm.size // 480 * 480].reshape(-1, 480).astype(np.float64)
    rms = np.sqrt((frames**2).mean(axis=1)) / 32768.0
    return float((rms > 10 ** (threshold_dbfs / 20)).sum() * 0.01)
