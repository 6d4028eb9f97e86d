"""OpenAI realtime transcription over one warm WebSocket (GA API, ``intent=transcription``).

Audio streams while the person speaks (resampled 16 → 24 kHz: ``audio/pcm`` accepts only
24 kHz) and is sent in ~60 ms batches, so at the end of the turn only the last few blocks are
in flight. Turn detection is ours (``turn_detection: null``): ``commit`` is called by our
detector and answers with that segment's transcript.

Safe retries: the audio of the current segment is kept locally, and a commit takes that audio
with it until its transcript is in (or has definitively failed): if the socket drops or the
transcript does not come, we reconnect, send it again and commit once more. ``clear`` (the
engine calls it when the turn ends, often while the transcript is still on its way) drops
only audio no commit has taken, so a late transcript can still be retried.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicedesk.audio.resample import StreamResampler
from voicedesk.errors import AuthError, ProviderError

log = logging.getLogger(__name__)

WIRE_RATE = 24_000
_BATCH_BYTES = WIRE_RATE * 2 * 60 // 1000  # 60 ms of 24 kHz s16le
_MIN_COMMIT_BYTES = WIRE_RATE * 2 * 100 // 1000  # the server rejects commits under 100 ms


@dataclass
class _Segment:
    """One commit's audio, kept until its transcript is in so a retry can resend it."""

    audio: list[bytes] | None = None  # None until the commit has taken it from the buffer


class OpenAIRealtimeSTT:
    name = "openai-realtime"
    input_rate = 16_000

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        model: str = "gpt-4o-mini-transcribe",
        language: str = "en",
        commit_timeout_s: float = 8.0,
        connect_timeout_s: float = 8.0,
    ) -> None:
        from openai import AsyncOpenAI

        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0)
        self.model = model
        self.language = language
        self.commit_timeout_s = commit_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.on_interim: Callable[[str], None] | None = None
        self._conn: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._resampler = StreamResampler(self.input_rate, WIRE_RATE)
        self._outbox = bytearray()  # resampled audio not yet sent
        self._segment: list[bytes] = []  # audio since the last commit/clear (not yet committed)
        self._segment_bytes = 0
        self._commits: deque[asyncio.Future[str]] = deque()  # awaiting "committed"
        self._items: dict[str, asyncio.Future[str]] = {}  # awaiting "completed"
        self._interim: dict[str, str] = {}
        self._send_lock = asyncio.Lock()
        self._flushing: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._closed = False

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        if self._conn is not None:
            return
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(self._open())
        await asyncio.shield(self._connecting)

    async def _open(self) -> None:
        import websockets

        try:
            async with asyncio.timeout(self.connect_timeout_s):
                conn = await self._client.realtime.connect(
                    extra_query={"intent": "transcription"}
                ).enter()
                await conn.send_raw(json.dumps(self._session_update()))
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise AuthError(
                    "OpenAI rejected the API key for speech-to-text (HTTP 401)",
                    "check OPENAI_API_KEY (or keys.openai_api_key in the config file)",
                ) from None
            raise ProviderError(
                f"OpenAI realtime transcription refused the connection (HTTP {status})"
            ) from None
        except TimeoutError:
            raise ProviderError(
                f"OpenAI realtime transcription did not answer within {self.connect_timeout_s:.0f} s"
            ) from None
        except OSError as exc:
            raise ProviderError(f"Cannot reach OpenAI realtime transcription: {exc}") from None
        self._conn = conn
        self._reader = asyncio.create_task(self._read(conn), name="stt-reader")

    def _session_update(self) -> dict[str, Any]:
        return {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcm", "rate": WIRE_RATE},
                        "transcription": {"model": self.model, "language": self.language},
                        "turn_detection": None,
                        "noise_reduction": None,
                    }
                },
            },
        }

    async def _read(self, conn: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                event = json.loads(await conn.recv_bytes())
                self._on_event(event)
        except ConnectionClosed as exc:
            if not self._closed:
                log.warning("realtime transcription socket closed: %s", exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("realtime transcription reader failed")
        finally:
            if self._conn is conn:
                self._conn = None
            self._fail_pending(ProviderError("the speech-to-text connection was lost"))

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "input_audio_buffer.committed":
            if self._commits:
                self._items[event["item_id"]] = self._commits.popleft()
        elif kind == "conversation.item.input_audio_transcription.delta":
            item = event.get("item_id", "")
            self._interim[item] = self._interim.get(item, "") + (event.get("delta") or "")
            if self.on_interim is not None:
                self.on_interim(self._interim[item].strip())
        elif kind == "conversation.item.input_audio_transcription.completed":
            item = event.get("item_id", "")
            self._interim.pop(item, None)
            fut = self._items.pop(item, None)
            if fut is not None and not fut.done():
                fut.set_result(event.get("transcript") or "")
        elif kind == "conversation.item.input_audio_transcription.failed":
            fut = self._items.pop(event.get("item_id", ""), None)
            err = (event.get("error") or {}).get("message", "transcription failed")
            if fut is not None and not fut.done():
                fut.set_exception(ProviderError(f"Speech-to-text failed: {err}"))
        elif kind == "error":
            err = event.get("error") or {}
            if err.get("code") == "input_audio_buffer_commit_empty" and self._commits:
                fut = self._commits.popleft()
                if not fut.done():
                    fut.set_result("")
            else:
                log.warning("realtime transcription error: %s", err.get("message"))
                if self._commits:  # the server refused the commit we are waiting for
                    fut = self._commits.popleft()
                    if not fut.done():
                        fut.set_exception(
                            ProviderError(f"Speech-to-text failed: {err.get('message')}")
                        )

    def _fail_pending(self, exc: Exception) -> None:
        for fut in [*self._commits, *self._items.values()]:
            if not fut.done():
                fut.set_exception(exc)
        self._commits.clear()
        self._items.clear()

    # ------------------------------------------------------------------ audio
    def push_audio(self, pcm: np.ndarray) -> None:
        data = self._resampler.process(pcm).astype("<i2").tobytes()
        if not data:
            return
        self._outbox += data
        self._segment.append(data)
        self._segment_bytes += len(data)
        if len(self._outbox) >= _BATCH_BYTES and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        async with self._send_lock:
            if not self._outbox:
                return
            if self._conn is None:
                try:
                    await self.connect()
                except ProviderError as exc:
                    log.warning("speech-to-text reconnect failed: %s", exc)
                    return  # the segment is kept; commit retries
            data = bytes(self._outbox)
            self._outbox.clear()
            await self._send_append(data)

    async def _send_append(self, data: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        msg = {"type": "input_audio_buffer.append", "audio": base64.b64encode(data).decode()}
        try:
            await self._conn.send_raw(json.dumps(msg))
        except (ConnectionClosed, AttributeError):
            self._conn = None

    async def commit(self) -> str:
        if self._segment_bytes < _MIN_COMMIT_BYTES:
            # Too short for the service to accept: keep it in the buffer, so a brief bit
            # of speech after a short pause joins the next segment instead of being lost.
            # (The engine clears the buffer when the turn ends.)
            return ""
        segment = _Segment()
        for attempt in (1, 2):
            try:
                return await self._commit_once(segment, resend=attempt == 2)
            except ProviderError:
                if attempt == 2:
                    raise
                log.info("speech-to-text commit failed; reconnecting and resending the segment")
                await self._drop_connection()
        return ""

    async def _commit_once(self, segment: _Segment, *, resend: bool) -> str:
        """Send (or resend) one segment and commit it. The first attempt that sends the
        commit moves the segment's audio from the buffer into ``segment``."""
        await self.connect()
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        async with self._send_lock:
            if resend:
                self._outbox.clear()
                pieces = segment.audio if segment.audio is not None else self._segment
                for piece in pieces:
                    await self._send_append(piece)
            elif self._outbox:
                data = bytes(self._outbox)
                self._outbox.clear()
                await self._send_append(data)
            if self._conn is None:
                raise ProviderError("the speech-to-text connection was lost")
            if segment.audio is None:  # from here on the audio is this commit's, not the buffer's
                segment.audio = list(self._segment)
                self._segment.clear()
                self._segment_bytes = 0
            self._commits.append(fut)
            await self._conn.send_raw(json.dumps({"type": "input_audio_buffer.commit"}))
            if resend:
                # audio pushed since the first attempt went to the lost socket: send it
                # again, as the start of the next segment
                for piece in self._segment:
                    await self._send_append(piece)
        try:
            async with asyncio.timeout(self.commit_timeout_s):
                return await fut
        except TimeoutError:
            with contextlib.suppress(ValueError):
                self._commits.remove(fut)
            raise ProviderError(
                f"speech-to-text gave no transcript within {self.commit_timeout_s:.0f} s"
            ) from None

    async def _drop_connection(self) -> None:
        """Close the current socket and its reader (a retry opens a fresh one)."""
        conn, self._conn = self._conn, None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def clear(self) -> None:
        """Drop audio no commit has taken (a commit in flight keeps its own for a resend)."""
        self._outbox.clear()
        self._segment.clear()
        self._segment_bytes = 0
        if self._conn is not None:
            async with self._send_lock:
                with contextlib.suppress(Exception):
                    await self._conn.send_raw(json.dumps({"type": "input_audio_buffer.clear"}))

    async def aclose(self) -> None:
        self._closed = True
        for task in (self._flushing, self._connecting):
            if task is not None and not task.done():
                task.cancel()
        await self._drop_connection()
        self._fail_pending(ProviderError("closed"))
        with contextlib.suppress(Exception):
            await self._client.close()
