"""What a front end (TUI, CLI) may ask of a running session. The engine implements it."""

from __future__ import annotations

from typing import Literal, Protocol

import numpy as np

from voicedesk.audio.base import PLAYBACK_RATE
from voicedesk.config import Settings
from voicedesk.events import EngineState, EventBus

Mode = Literal["hands-free", "push-to-talk"]


class SessionControl(Protocol):
    bus: EventBus
    settings: Settings
    state: EngineState
    mode: Mode
    muted: bool
    # The talk key's turn is open in the engine now (pressed, not yet released or let go):
    # what the terminal UI's status follows when the engine's own let-go (TalkKeyLetGo)
    # reaches it after a newer press.
    talk_key_down: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def set_mode(self, mode: Mode, *, talk_key: bool = False) -> None:
        """Hands-free or push-to-talk; a turn being spoken ends there, unless ``talk_key``:
        the talk key switched to push-to-talk and is pressed next, the turn going on."""

    def ptt_press(self) -> None:
        """Open the microphone for a push-to-talk turn."""

    def ptt_release(self) -> None:
        """Close the push-to-talk turn: it ends now, with no end-of-turn wait."""

    def set_muted(self, muted: bool) -> None: ...

    def interrupt(self) -> None:
        """Stop the answer being spoken (as a barge-in would) and cancel its generation."""

    async def send_text(self, text: str) -> None:
        """A typed turn instead of a spoken one."""

    def play_check_sound(self) -> float | None:
        """Queue :func:`check_sound` on the speaker; its length in seconds, or None.

        Through the session's own playback queue, so it is heard on the same device, at the
        same level and through the same echo-canceller reference as an answer. None when
        this session has no speaker to play to.
        """


# Utterance id the session never hands out (it counts up from 1): the playback queue plays it
# like any answer, and the session ignores its start/drained marks, so the sound never
# becomes part of the conversation or its timings.
CHECK_SOUND_UTTERANCE = -1


def check_sound(rate: int = PLAYBACK_RATE) -> np.ndarray:
    """Two short soft tones (660 Hz then 880 Hz), faded in and out so they do not click."""
    parts = []
    for hz in (660.0, 880.0):
        n = int(0.25 * rate)
        t = np.arange(n) / rate
        tone = 0.25 * np.sin(2 * np.pi * hz * t)
        fade = min(n // 2, int(0.01 * rate))
        ramp = np.linspace(0.0, 1.0, fade)
        tone[:fade] *= ramp
        tone[-fade:] *= ramp[::-1]
        parts += [tone, np.zeros(int(0.1 * rate))]
    return (np.concatenate(parts) * 32767).astype(np.int16)
