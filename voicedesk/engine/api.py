"""What a front end (TUI, CLI) may ask of a running session. The engine implements it."""

from __future__ import annotations

from typing import Literal, Protocol

from voicedesk.config import Settings
from voicedesk.events import EngineState, EventBus

Mode = Literal["hands-free", "push-to-talk"]


class SessionControl(Protocol):
    bus: EventBus
    settings: Settings
    state: EngineState
    mode: Mode
    muted: bool

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def set_mode(self, mode: Mode) -> None: ...

    def ptt_press(self) -> None:
        """Open the microphone for a push-to-talk turn."""

    def ptt_release(self) -> None:
        """Close the push-to-talk turn: it ends now, with no end-of-turn wait."""

    def set_muted(self, muted: bool) -> None: ...

    def interrupt(self) -> None:
        """Stop the answer being spoken (as a barge-in would) and cancel its generation."""

    async def send_text(self, text: str) -> None:
        """A typed turn instead of a spoken one."""
