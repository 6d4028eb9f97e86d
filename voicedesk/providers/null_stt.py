"""No transcription (``stt.provider = "none"``): turns end on the audio models alone and
typed text is the only way to say something the model can read."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class NoSTT:
    name = "none"
    input_rate = 16_000
    on_interim: Callable[[str], None] | None = None

    async def connect(self) -> None:
        return None

    def push_audio(self, pcm: np.ndarray) -> None:
        return None

    async def commit(self) -> str:
        return ""

    async def clear(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
