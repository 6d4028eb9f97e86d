"""ElevenLabs WebSocket input streaming: text goes in as the LLM writes it, pcm comes out.

The official SDK offers this only synchronously and only over ``wss``, so we speak the
protocol with ``websockets`` directly (PROTOCOLS §4b). Latency choices:

* a *spare* socket is kept connected and initialised, so an answer starts with no TCP/TLS/
  WebSocket handshake on its critical path; a new spare is opened once the answer that took
  one has its first audio (or is let go before it), and one that ages unused is replaced
  before the service's inactivity timeout closes it. Opened as the spare was taken, the new
  one's dial ran on the event loop while the answer's own request went out: the same
  moment, on the way to the first token;
* text is sent word by word (never a half word; text with no spaces between words, Chinese
  or Japanese, clause by clause at its full-width punctuation) and the first clause is sent with
  ``flush: true`` so generation starts at once instead of waiting for the 120-character
  default schedule; after that a short schedule keeps audio ahead of playback; what was
  said before a tool round is flushed too (``flush()``): more text comes only after it;
* ``pcm_24000`` output, so no decoding and no resampling before playback.

Alignment messages give character timings, so after a barge-in we know how much of the
text the person actually heard.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np

from voicedesk.config_secrets import mask_text
from voicedesk.errors import AuthError, ProviderError
from voicedesk.loopback import local_server_hint, websocket_proxy
from voicedesk.providers.base import (
    CJK_PUNCTUATION,
    CLAUSE_END_MARKS,
    FirstPieceSignal,
    connect_failed_said,
    ends_no_clause,
    handshake_said,
    proxy_refusal,
    running_timeout,
    unreachable,
)

log = logging.getLogger(__name__)

DEFAULT_BASE = "https://api.elevenlabs.io"
_SPARE_MAX_AGE_S = 150.0  # below the 180 s inactivity timeout we ask for
# A spare the service closed after at least this long is replaced at once (one closed
# sooner is left to the next answer: a server that closes every socket at once is not
# dialled again and again).
_SPARE_MIN_LIFE_S = 0.5
# At most this many closed spares are replaced in a row with no answer taking one: a server
# or proxy that closes every idle socket after a second or two was dialled again that often
# for as long as the window stayed open. Past them the next answer dials its own, as
# before, and a spare is kept again from then.
_SPARE_REPLACED_MAX = 3
_CLAUSE_END = re.compile(rf"[{CLAUSE_END_MARKS}]\s*$")
_CUT_AFTER = re.compile(rf"[\s{CJK_PUNCTUATION}]")  # a whole word (or clause) ends here
_FIRST_FLUSH_CHARS = 40  # ≈ 8 words: enough for natural prosody, ~0.15 s of LLM output
# How long a socket we let go may take to close before it is aborted. A server that does
# not answer the close held every close for websockets' own 10 s: each cut answer, and the
# quit (the spare). Aborted, the server sees the connection drop, which is all a close
# tells it anyway.
CLOSE_LIMIT_S = 1.0


class ElevenLabsTTS:
    name = "elevenlabs"
    sample_rate = 24_000

    def __init__(
        self,
        *,
        api_key: str,
        voice_id: str,
        model: str = "eleven_flash_v2_5",
        base_url: str | None = None,
        language: str | None = None,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.api_key = api_key
        self.voice_id = voice_id
        self.model = model
        self.base_url = (base_url or DEFAULT_BASE).rstrip("/")
        self.language = language
        self.connect_timeout_s = connect_timeout_s
        self._spare: asyncio.Task[tuple[Any, float]] | None = None
        self._renewal: asyncio.TimerHandle | None = None  # replaces the spare as it ages
        self._retiring: set[asyncio.Task[None]] = set()  # aged spares being closed
        self._watching: set[asyncio.Task[None]] = set()  # spares watched for a close
        self._replaced = 0  # spares the service closed, replaced since an answer took one
        self._own_dials = 0  # answers dialling a socket of their own (no spare was ready)
        self._key_accepted = False  # a spare has opened: a refusal later is news
        self._closed = False

    # ------------------------------------------------------------------ connections
    def _ws_url(self) -> str:
        parts = urlsplit(self.base_url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        query = {
            "model_id": self.model,
            "output_format": f"pcm_{self.sample_rate}",
            "inactivity_timeout": 180,
            "sync_alignment": "true",
        }
        if self.language:
            query["language_code"] = self.language
        path = f"{parts.path}/v1/text-to-speech/{self.voice_id}/stream-input"
        return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))

    async def _connect(self) -> tuple[Any, float]:
        import websockets

        try:
            async with running_timeout(self.connect_timeout_s):
                url = self._ws_url()
                ws = await websockets.connect(
                    url,
                    proxy=websocket_proxy(url),
                    additional_headers={"xi-api-key": self.api_key},
                    compression=None,
                    max_size=None,
                    open_timeout=None,
                )
                init = {
                    "text": " ",
                    "voice_settings": {"stability": 0.5, "similarity_boost": 0.8, "speed": 1.0},
                    "generation_config": {"chunk_length_schedule": [50, 90, 140, 200]},
                }
                await ws.send(json.dumps(init))
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                fix = "check ELEVENLABS_API_KEY (or keys.elevenlabs_api_key in the config file)"
                if status == 403:  # a restricted key without the right to speak
                    fix += " and that the key has the Text to Speech permission"
                raise AuthError(f"ElevenLabs rejected the API key (HTTP {status})", fix) from None
            raise ProviderError(
                f"ElevenLabs refused the speech connection (HTTP {status})"
            ) from None
        except websockets.ConnectionClosed as exc:
            # closed as it opened (a refusal, a server at capacity): before the first text
            # was sent, this escaped as websockets' own error and ended the run with a
            # traceback quoting the close reason
            raise ProviderError(
                f"ElevenLabs closed the speech connection as it opened ({_closing(exc)})",
                _refused_at_open_fix(exc),
            ) from None
        except TimeoutError:
            raise ProviderError("ElevenLabs did not answer in time") from None
        except websockets.ProxyError as exc:  # the proxy, not ElevenLabs, said no
            raise proxy_refusal("ElevenLabs", self._ws_url(), exc) from None
        except websockets.InvalidHandshake as exc:  # answered, not as a WebSocket server
            raise ProviderError(
                # masked: a gateway's password in the address is not said with it
                f"ElevenLabs got no WebSocket answer from {mask_text(self.base_url)}: "
                f"{handshake_said(exc)}",
                "check tts.elevenlabs_base_url (or ELEVENLABS_BASE_URL)",
            ) from None
        except OSError as exc:
            raise unreachable(
                f"ElevenLabs at {mask_text(self.base_url)}",
                self._ws_url(),
                connect_failed_said(exc),
                # a server on this machine (`voicedesk sim`, another one): not started
                local_server_hint(
                    self.base_url, "tts.elevenlabs_base_url (or ELEVENLABS_BASE_URL)", "voice"
                )
                or "check the network connection, and tts.elevenlabs_base_url (or "
                "ELEVENLABS_BASE_URL) if set",
            ) from None
        return ws, time.monotonic()

    def _prepare_spare(self) -> None:
        if self._closed:
            return
        spare = asyncio.create_task(self._connect(), name="elevenlabs-spare")
        spare.add_done_callback(self._spare_done)
        self._spare = spare
        watch = asyncio.create_task(self._replace_when_closed(spare), name="elevenlabs-watch")
        self._watching.add(watch)
        watch.add_done_callback(self._watching.discard)
        if self._renewal is not None:
            self._renewal.cancel()
        loop = asyncio.get_running_loop()
        self._renewal = loop.call_later(_SPARE_MAX_AGE_S, self._renew, spare)

    def _spare_done(self, spare: asyncio.Task[tuple[Any, float]]) -> None:
        """End the renewals once the service refuses the key (revoked, or its plan ended
        mid-session): each renewal was a refused handshake, silently, every 150 s for as
        long as the window stayed open. The next answer dials its own and says the error."""
        if spare.cancelled():
            return
        exc = spare.exception()
        if exc is None:
            self._key_accepted = True
        if not isinstance(exc, AuthError) or self._spare is not spare:
            return
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None
        if self._key_accepted:  # at the start, ``warm`` raises it to the person instead
            log.warning("%s mid-session: no spare socket is kept now", exc.message)

    async def _replace_when_closed(self, spare: asyncio.Task[tuple[Any, float]]) -> None:
        """Open a new spare once the service closes this one unused: at its inactivity
        timeout (20 s unless asked otherwise; a server may give less than we ask for) or a
        proxy's idle limit. Found closed only when the next answer took it, it was dialled
        again then, a handshake on the way to that answer's first audio."""
        with contextlib.suppress(Exception):
            ws, opened = await asyncio.shield(spare)
            await ws.wait_closed()
            lived = time.monotonic() - opened
            if self._spare is not spare or self._closed or lived < _SPARE_MIN_LIFE_S:
                return
            if self._replaced >= _SPARE_REPLACED_MAX:
                log.info(
                    "the speech service closed %d spare sockets in a row (the last after "
                    "%.0f s): the next answer opens its own",
                    self._replaced + 1,
                    lived,
                )
                return
            log.info("the speech service closed the spare socket after %.0f s", lived)
            self._replaced += 1
            self._prepare_spare()

    def _renew(self, spare: asyncio.Task[tuple[Any, float]]) -> None:
        """Replace a spare that aged unused: taken when the next answer came, it was found
        too old and a new socket was opened then, a handshake on the way to the first audio
        of every answer after a pause of a few minutes."""
        if self._spare is not spare or self._closed:
            return
        self._prepare_spare()
        retiring = asyncio.create_task(_close_spare(spare), name="elevenlabs-old-spare")
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)

    async def _take_socket(self) -> Any:
        spare, self._spare = self._spare, None
        self._replaced = 0  # an answer came: spares are worth keeping again
        ws = None
        if spare is not None:
            with contextlib.suppress(Exception):
                ws, opened = await spare
                if time.monotonic() - opened > _SPARE_MAX_AGE_S or _is_closed(ws):
                    await close_socket(ws)
                    ws = None
        if ws is None:
            self._own_dials += 1
            try:
                ws, _ = await self._connect()
            finally:
                self._own_dials -= 1
        return ws

    def _replace_spare(self) -> None:
        """Open the next spare, unless one is there already (another answer's stream
        asked first, or the service's close of an idle one had it replaced), or an answer
        is dialling its own socket: a preemptive answer restarted at once found no spare
        (the cancelled attempt had it), and the cancelled stream's close dialled one beside
        the new attempt's own dial and chat request, two handshakes on the loop at the
        moment the request went out. That answer's stream asks for the next spare at its
        first audio (or its close), as every answer's does."""
        if self._spare is None and not self._own_dials:
            self._prepare_spare()

    async def warm(self) -> None:
        """Check the key and open the first spare socket (its handshake fails on a bad key)."""
        self._prepare_spare()
        if self._spare is None:
            return
        try:
            await asyncio.shield(self._spare)
        except Exception:
            if self._renewal is not None:  # no spare to renew: the next answer dials itself
                self._renewal.cancel()
            raise

    async def open_stream(self) -> ElevenLabsStream:
        """A stream on the spare socket (or a new one); the next spare is dialled once this
        stream's first audio has come or it is closed (``ElevenLabsStream.spare_due``):
        dialled now, its TCP and WebSocket handshakes shared the event loop with the
        answer's request, sent at this moment, and held it up (on a loaded two-core
        machine, tens of milliseconds between the request and the server)."""
        return ElevenLabsStream(
            await self._take_socket(), self.sample_rate, spare_due=self._replace_spare
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._renewal is not None:
            self._renewal.cancel()
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.cancel()
            await _close_spare(spare)
        for retiring in list(self._retiring):
            with contextlib.suppress(BaseException):
                await retiring
        for watch in list(self._watching):
            watch.cancel()
            with contextlib.suppress(BaseException):
                await watch


async def _close_spare(spare: asyncio.Task[tuple[Any, float]]) -> None:
    """Close a spare's socket once it is open (nothing if it failed or was cancelled)."""
    with contextlib.suppress(BaseException):
        ws, _ = await spare
        await close_socket(ws)


async def close_socket(ws: Any) -> None:
    """Close ``ws``, aborting it once ``CLOSE_LIMIT_S`` has passed without the server's
    answer. Loop-timed, unlike the dial: a limit that ran out early on a busy loop only
    drops a socket we had let go a little less politely."""
    try:
        async with asyncio.timeout(CLOSE_LIMIT_S):
            await ws.close()
    except TimeoutError:
        log.info("the speech server did not answer the close in %.1f s: aborted", CLOSE_LIMIT_S)
        ws.transport.abort()
    except Exception:  # closed already, or broken: nothing left to let go
        log.debug("closing a speech socket failed", exc_info=True)


def _refused_at_open_fix(exc: Any) -> str:
    """What to do about a speech socket closed as it opened. 1008 (a policy violation) is
    how ElevenLabs refuses a key, a key without the Text to Speech permission, or an
    account out of credit; said with no fix, the person was left to guess which."""
    frame = getattr(exc, "rcvd", None)
    if frame is not None and frame.code == 1008:
        return (
            "check ELEVENLABS_API_KEY (or keys.elevenlabs_api_key in the config file), "
            "that the key has the Text to Speech permission, and the account's credit"
        )
    return "try again in a moment: the service may be at capacity or restarting"


def _closing(exc: Any) -> str:
    """A closed socket in a few words: "code 1011: quota exceeded" rather than websockets'
    "received 1011 (internal error); then sent 1011 (internal error)"."""
    frame = getattr(exc, "rcvd", None)
    if frame is None:
        return "the connection dropped"
    return f"code {frame.code}: {frame.reason}" if frame.reason else f"code {frame.code}"


def _last_cut(text: str) -> int:
    """Where ``text`` may be cut after its last whole word: after its last space or CJK
    punctuation mark; 0 when there is none."""
    ends = [m.end() for m in _CUT_AFTER.finditer(text)]
    return ends[-1] if ends else 0


def _is_closed(ws: Any) -> bool:
    from websockets.protocol import State

    return ws.state is not State.OPEN


class ElevenLabsStream(FirstPieceSignal):
    def __init__(
        self, ws: Any, sample_rate: int, spare_due: Callable[[], None] | None = None
    ) -> None:
        """``spare_due``: called once, at this stream's first audio or its close, whichever
        comes first: the provider's next spare socket is dialled then, off the way to this
        answer's first token and first audio."""
        self._ws = ws
        self.sample_rate = sample_rate
        self._spare_due = spare_due
        self._pending = ""  # text not yet sent (a partial word)
        self._sent = ""
        self._flushed_first = False  # the first clause since the start (or a flush) went
        self._flushed_at = 0  # len(self._sent) at the last flush(): a new start from there
        self._ended = False
        # (absolute start sample of the chunk, [(char start ms within chunk)...]) per chunk
        self._letter_times_ms: list[float] = []
        self._audio_samples = 0
        self._said: str | None = None  # the service's error message, once read

    async def send_text(self, text: str) -> None:
        self._pending += text
        cut = _last_cut(self._pending)
        if not self._pending[:cut].strip():
            return
        piece, self._pending = self._pending[:cut], self._pending[cut:]
        if not piece.endswith(" "):
            piece += " "  # each chunk ends with a space (PROTOCOLS §4b), after CJK punctuation too
        msg: dict[str, Any] = {"text": piece, "try_trigger_generation": True}
        total = len(self._sent) - self._flushed_at + len(piece)
        if not self._flushed_first and (
            (total > 8 and self._ends_clause(piece)) or total >= _FIRST_FLUSH_CHARS
        ):
            # First clause (or a long clause-less start): generate now rather than wait for
            # the service's character schedule; the rest follows the schedule.
            msg["flush"] = True
            self._flushed_first = True
        await self._send(msg)
        self._sent += piece

    def _ends_clause(self, piece: str) -> bool:
        """Whether the text since the last flush ends a clause with ``piece``: not at the
        full stop of "I asked Dr." (see ``ends_no_clause``)."""
        if _CLAUSE_END.search(piece.rstrip()) is None:
            return False
        said = (self._sent[self._flushed_at :] + piece).rstrip()
        return not (said.endswith(".") and ends_no_clause(said[:-1]))

    async def flush(self) -> None:
        if self._ended or not self._sent + self._pending:
            return
        # the partial word too: nothing more comes until the tool round is done
        await self._send({"text": self._pending + " ", "flush": True})
        self._sent += self._pending + " "
        self._pending = ""
        # What comes after the tool round is the answer the person waits for: its first
        # clause is flushed as an answer's first is. Counted as that first flush, it was
        # left to the service's chunk schedule (90 to 140 more characters, or the end).
        self._flushed_first = False
        self._flushed_at = len(self._sent)

    async def end_text(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self._pending.strip():
            await self._send({"text": self._pending + " ", "flush": True})
            self._sent += self._pending + " "
        self._pending = ""
        await self._send({"text": ""})

    async def _send(self, msg: dict[str, Any]) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._ws.send(json.dumps(msg))
            if msg.get("flush") or not msg["text"]:
                # the service generates a segment once it is flushed or the text ends (the
                # chunk schedule's first step, 50 characters, never comes before the first
                # flush at 40): text sent before that only waits in its buffer
                self._first_piece()
        except ConnectionClosed as exc:
            # The service says why in a message before it closes (a rate limit, a bad
            # voice); the closed socket alone said only "received 1011 (internal error)".
            said = await self._last_words()
            for _ in range(10):  # or the reader (audio()) has just taken the message
                if said or self._said:
                    break
                await asyncio.sleep(0.01)
            said = said or self._said
            if said:
                raise ProviderError(f"ElevenLabs error: {said}") from None
            raise ProviderError(f"ElevenLabs closed the speech stream ({_closing(exc)})") from None

    async def _last_words(self) -> str | None:
        """The error message the service sent before closing, if it is still unread and no
        reader (``audio()``) is at the socket: that one takes it itself (``_said``)."""
        from websockets.exceptions import ConcurrencyError, ConnectionClosed

        for _ in range(100):  # the few messages left on a closed socket, not a stream
            try:
                raw = await asyncio.wait_for(self._ws.recv(), 0.05)
            except (ConnectionClosed, ConcurrencyError, TimeoutError):
                return None
            with contextlib.suppress(ValueError, AttributeError):
                msg = json.loads(raw)
                if msg.get("error") or (msg.get("message") and not msg.get("isFinal")):
                    return str(msg.get("message") or msg.get("error"))
        return None

    async def audio(self) -> AsyncIterator[np.ndarray]:
        from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                if msg.get("audio"):
                    pcm = np.frombuffer(base64.b64decode(msg["audio"]), dtype="<i2").astype(
                        np.int16
                    )
                    self._note_alignment(msg.get("alignment") or msg.get("normalizedAlignment"))
                    self._audio_samples += pcm.size
                    self._ask_for_spare()
                    yield pcm
                elif msg.get("error") or (msg.get("message") and not msg.get("isFinal")):
                    self._said = str(msg.get("message") or msg.get("error"))
                    raise ProviderError(f"ElevenLabs error: {self._said}")
                if msg.get("isFinal"):
                    return
        except ConnectionClosedOK:
            return
        except ConnectionClosed as exc:
            raise ProviderError(
                f"The ElevenLabs speech stream broke off ({_closing(exc)})"
            ) from None
        finally:
            self._ask_for_spare()  # ended with no audio, and maybe never closed

    def _note_alignment(self, alignment: dict[str, Any] | None) -> None:
        if not alignment:
            return
        base_ms = self._audio_samples * 1000 / self.sample_rate
        chars = alignment.get("chars") or []
        for i, start in enumerate(alignment.get("charStartTimesMs") or []):
            # only letters count: the aligned text's spaces differ from the text sent (a
            # chunk's leading or trailing one dropped), and counted they fell one short
            # per chunk, so a word heard whole was left out of what was heard
            if i >= len(chars) or not str(chars[i]).isspace():
                self._letter_times_ms.append(base_ms + float(start))

    def letters_spoken_at(self, played_samples: int) -> int | None:
        """How many of the sent text's characters other than whitespace had started
        playing after ``played_samples``."""
        if not self._letter_times_ms:
            return None
        played_ms = played_samples * 1000 / self.sample_rate
        return sum(1 for t in self._letter_times_ms if t <= played_ms)

    def _ask_for_spare(self) -> None:
        due, self._spare_due = self._spare_due, None
        if due is not None:
            due()

    async def aclose(self) -> None:
        self._ask_for_spare()  # let go before its first audio (a cut answer)
        await close_socket(self._ws)
