"""OpenAI realtime transcription over one warm WebSocket (GA API, ``intent=transcription``).

Audio streams while the person speaks (resampled 16 → 24 kHz: ``audio/pcm`` accepts only
24 kHz) and is sent in ~60 ms batches, so at the end of the turn only the last few blocks are
in flight. Turn detection is ours (``turn_detection: null``): ``commit`` is called by our
detector and answers with that segment's transcript.

Safe retries: the audio of the current segment is kept locally, and a commit takes that audio
with it until its transcript is in (or has definitively failed). ``clear`` (the engine calls
it when the turn ends, often while the transcript is still on its way) drops only audio no
commit has taken, so a late transcript can still be retried.

A lost transcript must not cost the person seconds of silence, but a slow one is no failure:
when the transcript has not come ``resend_after_s`` after the commit (plus a little per second
of audio: a long turn takes longer to transcribe) and no ``delta`` of it has come for that
long either (deltas mean the service is working on it), the segment is sent again over a
fresh, separate socket, and whichever transcript comes first is taken. The first request is
not given up, so a transcript that was only slow still counts; the price of a needless
resend is a second transcription of the same audio. A dropped socket or a refused commit is
resent at once. Deltas push the resend back no further than ``commit_timeout_s`` (plus the
same allowance per second of audio), and the resend is given that long too; only when
neither request has answered by then is the turn reported as failed.

Every client event carries an ``event_id``, and an ``error`` event is matched to the event it
names: only a commit's own refusal fails that commit.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicedesk.audio.resample import StreamResampler
from voicedesk.config_secrets import mask_text
from voicedesk.errors import AuthError, ProviderError, RefusedSettingError
from voicedesk.loopback import (
    OPENAI_API_BASE,
    local_server_hint,
    openai_address,
    websocket_proxy,
)
from voicedesk.providers.base import (
    connect_failed_said,
    handshake_said,
    proxy_refusal,
    running_timeout,
    unreachable,
)

log = logging.getLogger(__name__)

WIRE_RATE = 24_000
_BATCH_BYTES = WIRE_RATE * 2 * 60 // 1000  # 60 ms of 24 kHz s16le
_MIN_COMMIT_BYTES = WIRE_RATE * 2 * 100 // 1000  # the server rejects commits under 100 ms
# Extra patience per second of committed audio, for both deadlines: transcription time grows
# with the audio (an assumption: OpenAI publishes no figures), so a 20 s turn waits 1 s more.
_PER_AUDIO_S = 0.05
REDIAL_FIRST_S = 0.5  # a flush waits this long after a refused dial, doubling up to
REDIAL_MAX_S = 4.0  # this; a commit dials at once whatever the wait
_MIN_LIFE_S = 1.0  # a socket closed between turns after this long is reopened at once
# ...this many times in a row at most with no turn committed between: a server or proxy
# that closes every idle socket soon after it opens was dialled again each time, all day
_REOPENED_MAX = 3
# Audio per append when much is sent at once (a reopened socket's catch-up, a resend): 10 s
# each, far below the 15 MiB an append may carry. Sent whole, a push-to-talk turn of over
# four minutes was one append over the cap, and its audio was not in the buffer it committed.
_APPEND_BYTES = WIRE_RATE * 2 * 10


@dataclass
class _Segment:
    """One commit's audio, kept until its transcript is in so a resend can send it again."""

    seconds: float
    audio: list[bytes]
    heard_at: float = 0.0  # loop time of its last delta: the service is still working on it


def _ws_url(server: str) -> str:
    """The realtime socket's address for an OpenAI-compatible ``server`` (http → ws)."""
    scheme, _, rest = server.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.rstrip('/')}/realtime"


def _auth_error(how: str) -> AuthError:
    return AuthError(
        f"OpenAI rejected the API key for speech-to-text ({how})",
        "check OPENAI_API_KEY (or keys.openai_api_key in the config file)",
    )


def _refusal(code: str, message: str) -> ProviderError:
    """A new socket's refusal, from its error event's code or its close reason."""
    if "invalid_api_key" in code:
        return _auth_error(message or code)
    return ProviderError(f"OpenAI realtime transcription refused the session: {message}")


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
        resend_after_s: float = 1.0,
    ) -> None:
        from openai import AsyncOpenAI

        self._server = openai_address(base_url) or OPENAI_API_BASE
        # how the server is named in messages: a gateway's password in its address is not
        # said with it (they reach the terminal and the bug reports pasted from it)
        self._shown_server = mask_text(self._server)
        self._client = AsyncOpenAI(api_key=api_key, base_url=self._server, max_retries=0)
        # passed on to websockets.connect (``proxy`` is not in the SDK's type, hence Any)
        # open_timeout None: the dial's deadline is ours (``connect_timeout_s``), one that
        # leaves out the loop's own stalls; websockets' own 10 s would count them.
        self._websocket_options: Any = {
            "proxy": websocket_proxy(openai_address(base_url) or ""),
            "open_timeout": None,
        }
        self.model = model
        self.language = language
        self.commit_timeout_s = commit_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.resend_after_s = resend_after_s
        self.on_interim: Callable[[str], None] | None = None
        self._conn: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._resampler = StreamResampler(self.input_rate, WIRE_RATE)
        self._outbox = bytearray()  # resampled audio not yet sent
        self._segment: list[bytes] = []  # audio since the last commit/clear (not yet committed)
        self._segment_bytes = 0
        # commits not yet acknowledged ("committed"), in order, each with its event_id
        self._commits: deque[tuple[str, asyncio.Future[str], _Segment]] = deque()
        self._event_ids = itertools.count(1)
        self._items: dict[str, tuple[asyncio.Future[str], _Segment]] = {}  # "completed"?
        self._resends: set[asyncio.Task[Any]] = set()
        self._interim: dict[str, str] = {}
        self._send_lock = asyncio.Lock()
        self._flushing: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._reopen: asyncio.Task[None] | None = None  # after the service closed it idle
        self._reopened = 0  # sockets reopened at once since the last commit
        self._closed = False
        # While the service refuses connections, the flushes of a stream of speech (every
        # ~60 ms) each dialled again: five refused dials in 40 ms, a rate limit made worse.
        self._redial_at = 0.0  # loop time before which a flush does not dial again
        # A turn ended (``clear``) while there was no socket: the next one is told first.
        self._clear_missed = False
        self._redial_wait_s = REDIAL_FIRST_S

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        if self._conn is not None:
            return
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(self._open())
        await asyncio.shield(self._connecting)

    async def _open(self) -> None:
        conn = await self._dial(confirm=True)
        self._conn = conn
        if self._redial_wait_s != REDIAL_FIRST_S:
            log.info("speech-to-text reconnected")
        # open again (a flush's dial, or the commit's): the next outage is a new one
        self._redial_at, self._redial_wait_s = 0.0, REDIAL_FIRST_S
        self._reader = asyncio.create_task(self._read(conn), name="stt-reader")

    async def _dial(self, *, confirm: bool = False) -> Any:
        """A new socket with its session set up (the warm one, or one for a resend).

        ``confirm``: wait for the service to take the session's settings. It refuses ones it
        does not support (a language that is no ISO-639-1 code it knows, say) with an error
        event, and the session then keeps its defaults: server VAD on, no transcription, so
        no transcript ever comes. The warm socket waits, so such a setting is named when
        speech-to-text starts; a resend does not (its own loop reads the refusal)."""
        import websockets

        conn = ready = None
        try:
            async with running_timeout(self.connect_timeout_s):
                conn = await self._client.realtime.connect(
                    extra_query={"intent": "transcription"},
                    websocket_connection_options=self._websocket_options,
                ).enter()
                # The service accepts the socket whatever the key and says no after it:
                # with an error event, or by closing with code 3000 and a reason such as
                # "invalid_request_error.invalid_api_key". Its first event on a good key is
                # session.created, sent at once, so waiting for it costs next to nothing.
                first = json.loads(await conn.recv_bytes())
                if first.get("type") == "error":
                    err = first.get("error") or {}
                    raise _refusal(str(err.get("code") or ""), str(err.get("message") or ""))
                await conn.send_raw(self._wire(self._session_update()))
                while confirm:
                    event = json.loads(await conn.recv_bytes())
                    # the beta interface's name for the same reply (PROTOCOLS §1)
                    if event.get("type") in ("session.updated", "transcription_session.updated"):
                        break
                    if event.get("type") == "error":
                        err = event.get("error") or {}
                        raise RefusedSettingError(
                            f"OpenAI refused the speech-to-text settings: {err.get('message')}",
                            "check stt.model and stt.language (a two-letter code such as en)",
                        )
                ready = conn
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise _auth_error(f"HTTP {status}") from None
            # the server named: with OPENAI_BASE_URL at a chat-only server (Ollama), a bare
            # "refused the connection (HTTP 404)" did not say that speech-to-text went there
            no_such_service = status in (404, 405, 501) and self._server != OPENAI_API_BASE
            raise ProviderError(
                f"OpenAI realtime transcription at {self._shown_server} refused the connection "
                f"(HTTP {status})",
                "check stt.base_url (or OPENAI_BASE_URL): the server must offer OpenAI's "
                "realtime transcription"
                if no_such_service
                else None,
            ) from None
        except websockets.ConnectionClosed as exc:
            frame = exc.rcvd
            code, reason = (frame.code, frame.reason) if frame is not None else (None, "")
            raise _refusal(reason, reason or f"closed with code {code}") from None
        except websockets.ProxyError as exc:  # the proxy, not the server, said no
            raise proxy_refusal(
                "OpenAI realtime transcription", _ws_url(self._server), exc
            ) from None
        except websockets.InvalidHandshake as exc:
            # Answered, but not as a WebSocket server does (an HTTP/1.0 server, another
            # protocol on that port): this was a traceback out of the session's start.
            raise ProviderError(
                f"OpenAI realtime transcription got no WebSocket answer from "
                f"{self._shown_server}: {handshake_said(exc)}",
                "check stt.base_url (or OPENAI_BASE_URL): the server must offer OpenAI's "
                "realtime transcription",
            ) from None
        except TimeoutError:
            raise ProviderError(
                f"OpenAI realtime transcription did not answer within {self.connect_timeout_s:.0f} s"
            ) from None
        except OSError as exc:
            raise unreachable(
                f"OpenAI realtime transcription at {self._shown_server}",
                _ws_url(self._server),
                connect_failed_said(exc),
                # a server on this machine: not started (the network is not the matter)
                local_server_hint(
                    self._server, "stt.base_url (or OPENAI_BASE_URL)", "speech-to-text"
                )
                or "check the network connection, and stt.base_url (or OPENAI_BASE_URL) if set",
            ) from None
        finally:
            if conn is not None and ready is None:  # opened, then refused (or cancelled)
                with contextlib.suppress(Exception):
                    await conn.close()
        return ready

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
        from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

        opened = asyncio.get_running_loop().time()
        closed_idle = False
        try:
            while True:
                event = json.loads(await conn.recv_bytes())
                self._on_event(event)
        except ConnectionClosed as exc:
            if not self._closed:
                closed_idle = not (self._commits or self._items)
                # Between turns (the session's maximum duration, a proxy's idle limit) it
                # is opened again below and nothing is lost: no warning for the person. Nor
                # for a clean close by the service (1000, 1001: the session's maximum
                # duration reached mid-turn): what was pending on it is resent.
                log.log(
                    logging.INFO
                    if closed_idle or isinstance(exc, ConnectionClosedOK)
                    else logging.WARNING,
                    "realtime transcription socket closed: %s",
                    exc,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("realtime transcription reader failed")
        finally:
            if self._conn is conn:
                self._conn = None
            self._fail_pending(ProviderError("the speech-to-text connection was lost"))
        lived = asyncio.get_running_loop().time() - opened
        if closed_idle and lived >= _MIN_LIFE_S and not self._closed:
            if self._reopened >= _REOPENED_MAX:
                log.info(
                    "realtime transcription socket closed %d times in a row between turns: "
                    "the next turn's speech opens it again",
                    self._reopened + 1,
                )
                return
            self._reopened += 1
            self._reopen = asyncio.create_task(self._reopen_now(), name="stt-reopen")

    async def _reopen_now(self) -> None:
        """Open the socket again as soon as the service closed it between turns: opened
        when the next turn's speech was flushed instead, its handshake and session set-up
        raced that speech to its commit. A socket that lived less than ``_MIN_LIFE_S`` is
        left to the next flush, so a server that closes every socket is not redialled in a
        loop, and so are closes past ``_REOPENED_MAX`` in a row; a failed dial too (the
        flush's back-off takes over)."""
        async with self._send_lock:
            if self._conn is not None or self._closed:
                return
            with contextlib.suppress(ProviderError):
                await self._reconnect()

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "input_audio_buffer.committed":
            if self._commits:
                _, fut, segment = self._commits.popleft()
                self._items[event["item_id"]] = (fut, segment)
        elif kind == "conversation.item.input_audio_transcription.delta":
            item = event.get("item_id", "")
            if item in self._items:
                self._items[item][1].heard_at = asyncio.get_running_loop().time()
            self._interim[item] = self._interim.get(item, "") + (event.get("delta") or "")
            if self.on_interim is not None:
                self.on_interim(self._interim[item].strip())
        elif kind == "conversation.item.input_audio_transcription.completed":
            item = event.get("item_id", "")
            self._interim.pop(item, None)
            done, _ = self._items.pop(item, (None, None))
            if done is not None and not done.done():
                done.set_result(event.get("transcript") or "")
        elif kind == "conversation.item.input_audio_transcription.failed":
            failed, _ = self._items.pop(event.get("item_id", ""), (None, None))
            err = (event.get("error") or {}).get("message", "transcription failed")
            if failed is not None and not failed.done():
                failed.set_exception(ProviderError(f"Speech-to-text failed: {err}"))
        elif kind == "error":
            err = event.get("error") or {}
            if err.get("code") == "session_expired":
                # The session's maximum duration (60 minutes): routine. The service closes
                # the socket next, which fails what is pending there, to be resent, and
                # opens it again; warned, it read as a fault in a headless run's output.
                log.info("realtime transcription session ended: %s", err.get("message"))
                return
            empty = err.get("code") == "input_audio_buffer_commit_empty"
            if not empty:
                log.warning("realtime transcription error: %s", err.get("message"))
            refused = self._refused_commit(err.get("event_id"))
            if refused is None or refused.done():
                return
            if empty:
                refused.set_result("")
            else:
                refused.set_exception(ProviderError(f"Speech-to-text failed: {err.get('message')}"))

    def _refused_commit(self, about: str | None) -> asyncio.Future[str] | None:
        """The waiting commit an error event is about, taken out of the queue: the one its
        ``event_id`` names. An error about another event (an append, say) is no commit's:
        taken as the oldest commit's, it failed that one, which was then sent again for a
        second transcription. An error that names no event may be the oldest commit's."""
        if about is None:
            return self._commits.popleft()[1] if self._commits else None
        for entry in self._commits:
            if entry[0] == about:
                self._commits.remove(entry)
                return entry[1]
        return None

    def _event_id(self) -> str:
        """An id for a client event: the service names the event an error is about by it."""
        return f"vd_{next(self._event_ids)}"

    def _wire(self, event: dict[str, Any]) -> str:
        """A client event as sent, with an ``event_id`` unless it has one already."""
        event.setdefault("event_id", self._event_id())
        return json.dumps(event)

    def _fail_pending(self, exc: Exception) -> None:
        for fut in [*(f for _, f, _ in self._commits), *(f for f, _ in self._items.values())]:
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
                now = asyncio.get_running_loop().time()
                if now < self._redial_at:
                    return  # kept for a later flush, or the commit, which always dials
                try:
                    await self._reconnect()
                except ProviderError as exc:
                    # Warned once an outage: each redial's warning (every 4 s at most, for as
                    # long as the person spoke) was printed between a headless run's turns,
                    # beside the turns' own errors. The later ones are for the log.
                    # Its fix is left to the turn's error, which follows if the next try
                    # fails too: said here as well, it was given twice in a row.
                    first = self._redial_wait_s == REDIAL_FIRST_S
                    log.log(
                        logging.WARNING if first else logging.INFO,
                        "speech-to-text reconnect failed (next try in %.1f s): %s",
                        self._redial_wait_s,
                        exc.message,
                    )
                    self._redial_at = now + self._redial_wait_s
                    self._redial_wait_s = min(self._redial_wait_s * 2, REDIAL_MAX_S)
                    return  # the segment is kept; the next flush or the commit tries again
                self._redial_at, self._redial_wait_s = 0.0, REDIAL_FIRST_S
                return
            data = bytes(self._outbox)
            self._outbox.clear()
            await self._send_append(data)

    async def _reconnect(self) -> None:
        """Open the warm socket again (under the send lock). Its server buffer starts empty,
        so it gets all the audio no commit has taken yet, not only what was still unsent:
        what went to the lost socket is gone with it."""
        await self.connect()
        self._outbox.clear()
        if self._clear_missed:
            # Its buffer is empty anyway; the clear marks where the last turn ended, which
            # the service may use to tell turns apart (the simulated cloud does: without it
            # the next turn's first commit read as more of the last one, and got no words).
            self._clear_missed = False
            with contextlib.suppress(Exception):  # a socket lost again: the append says so
                await self._conn.send_raw(self._wire({"type": "input_audio_buffer.clear"}))
        if self._segment:
            await self._send_append(b"".join(self._segment))

    async def _send_append(self, data: bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self._appends(data):
                await self._conn.send_raw(message)
        except (ConnectionClosed, AttributeError):
            self._conn = None

    def _appends(self, data: bytes) -> list[str]:
        """``data`` as append events of at most ``_APPEND_BYTES`` of audio each."""
        return [
            self._wire(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(data[at : at + _APPEND_BYTES]).decode(),
                }
            )
            for at in range(0, len(data), _APPEND_BYTES)
        ]

    async def commit(self) -> str:
        if self._segment_bytes < _MIN_COMMIT_BYTES:
            # Too short for the service to accept: keep it in the buffer, so a brief bit
            # of speech after a short pause joins the next segment instead of being lost.
            # (The engine clears the buffer when the turn ends.)
            return ""
        loop = asyncio.get_running_loop()
        self._reopened = 0  # a turn used the socket: one closed after it is reopened again
        # The audio is this commit's from the call on, before any await: a ``clear`` that
        # comes while the commit waits for the socket must not take it away.
        segment = _Segment(seconds=self._segment_bytes / (WIRE_RATE * 2), audio=self._segment)
        unsent = bytes(self._outbox)
        holder = self._conn  # the socket the rest of it went to (None: lost)
        self._segment, self._segment_bytes = [], 0
        self._outbox.clear()
        started = loop.time()
        first: asyncio.Future[str] = loop.create_future()
        try:
            # awaited, not a task: it queues for the send lock ahead of that ``clear``,
            # whose wire message would otherwise empty the server's buffer first
            await self._send_commit((first, segment), unsent, holder)
        except ProviderError as exc:
            first.set_exception(exc)
        try:
            return await self._first_transcript(first, segment, started)
        finally:  # a transcript that comes after the resend won (or never) is not awaited
            self._forget(first)

    async def _first_transcript(
        self, first: asyncio.Future[str], segment: _Segment, started: float
    ) -> str:
        """Wait for the warm socket's transcript; resend when it is overdue or failed."""
        loop = asyncio.get_running_loop()
        allowance = segment.seconds * _PER_AUDIO_S
        patience = self.commit_timeout_s + allowance  # the longest wait for one request
        attempts: list[asyncio.Future[str]] = [first]
        give_up_at: float | None = None  # set when the segment is resent
        try:
            while True:
                # deltas push the resend back, but not past the first request's patience
                resend_at = min(
                    max(
                        started + self.resend_after_s + allowance,
                        segment.heard_at + self.resend_after_s,
                    ),
                    started + patience,
                )
                wake = resend_at if give_up_at is None else give_up_at
                waiting = [a for a in attempts if not a.done()]
                if waiting:
                    await asyncio.wait(
                        waiting,
                        timeout=max(0.0, wake - loop.time()),
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                done = [a for a in attempts if a.done()]
                errors = [
                    ProviderError("speech-to-text was closed") if a.cancelled() else a.exception()
                    for a in done
                ]
                for attempt, exc in zip(done, errors, strict=True):
                    if exc is None:
                        return attempt.result()  # the first transcript in wins
                for exc in errors:
                    if exc is not None and not isinstance(exc, ProviderError):
                        raise exc
                now = loop.time()
                if len(done) == len(attempts):
                    if give_up_at is not None or self._closed:
                        raise errors[-1] or ProviderError("speech-to-text failed")
                    log.info("speech-to-text commit failed (%s); resending the segment", errors[-1])
                elif give_up_at is not None:
                    if now >= give_up_at:
                        raise ProviderError(
                            f"speech-to-text gave no transcript within {now - started:.0f} s"
                        )
                    continue
                elif now < resend_at:
                    continue  # a delta came meanwhile: the service is still at it
                else:
                    log.info(
                        "no transcript %.1f s after the commit; resending the segment",
                        now - started,
                    )
                give_up_at = now + patience
                attempts.append(asyncio.ensure_future(self._resend(segment)))
        finally:
            for attempt in attempts[1:]:
                if not attempt.done():
                    attempt.cancel()

    async def _send_commit(
        self, entry: tuple[asyncio.Future[str], _Segment], unsent: bytes, holder: Any
    ) -> None:
        """Commit the segment on the warm socket, which has all of it but ``unsent`` if it
        is still ``holder``, the socket when the commit was made. One opened since (the
        commit waited for a reopening after a close mid-speech) has none of it: that
        reopening sent what was in the buffer then, which the commit had already taken, and
        only ``unsent``, the last few milliseconds, were committed."""
        from websockets.exceptions import ConnectionClosed

        async with self._send_lock:
            if self._conn is not None and self._conn is not holder:
                await self._send_append(b"".join(entry[1].audio))
            elif unsent and self._conn is not None:
                await self._send_append(unsent)
            if self._conn is None:  # the socket has lost (part of) the segment
                raise ProviderError("the speech-to-text connection was lost")
            commit_id = self._event_id()
            self._commits.append((commit_id, *entry))
            try:
                await self._conn.send_raw(
                    self._wire({"type": "input_audio_buffer.commit", "event_id": commit_id})
                )
            except (ConnectionClosed, OSError):
                self._conn = None
                raise ProviderError("the speech-to-text connection was lost") from None

    def _forget(self, fut: asyncio.Future[str]) -> None:
        """Stop waiting for ``fut``. One still awaiting "committed" keeps its place in the
        queue, cancelled: the server acknowledges commits in order, and taking it out would
        hand its acknowledgement (and transcript) to the next segment's commit."""
        for item, (pending, _) in list(self._items.items()):
            if pending is fut:
                del self._items[item]
        if not fut.done():
            fut.cancel()

    async def _resend(self, segment: _Segment) -> str:
        """The segment again, over a socket of its own: the warm one stays, with the first
        request on it, which may yet answer, and keeps taking the next segment's audio."""
        from websockets.exceptions import ConnectionClosed

        task = asyncio.current_task()
        if task is not None:
            self._resends.add(task)
        conn = None
        try:
            conn = await self._dial()
            for message in self._appends(b"".join(segment.audio)):
                await conn.send_raw(message)
            await conn.send_raw(self._wire({"type": "input_audio_buffer.commit"}))
            while True:
                event = json.loads(await conn.recv_bytes())
                kind = event.get("type")
                if kind == "conversation.item.input_audio_transcription.completed":
                    return event.get("transcript") or ""
                if kind == "conversation.item.input_audio_transcription.failed":
                    err = (event.get("error") or {}).get("message", "transcription failed")
                    raise ProviderError(f"Speech-to-text failed: {err}")
                if kind == "error":
                    err = event.get("error") or {}
                    if err.get("code") == "input_audio_buffer_commit_empty":
                        return ""
                    raise ProviderError(f"Speech-to-text failed: {err.get('message')}")
        except (ConnectionClosed, OSError) as exc:
            raise ProviderError(f"the speech-to-text connection was lost: {exc}") from None
        finally:
            if task is not None:
                self._resends.discard(task)
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _drop_connection(self) -> None:
        """Close the warm socket and its reader (at the end of the session)."""
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
        self._clear_missed = self._conn is None
        if self._conn is not None:
            async with self._send_lock:
                with contextlib.suppress(Exception):
                    await self._conn.send_raw(self._wire({"type": "input_audio_buffer.clear"}))

    async def aclose(self) -> None:
        self._closed = True
        for task in (self._flushing, self._connecting, self._reopen, *self._resends):
            if task is not None and not task.done():
                task.cancel()
        await self._drop_connection()
        self._fail_pending(ProviderError("closed"))
        with contextlib.suppress(Exception):
            await self._client.close()
