"""The three provider protocols the engine talks to. No vendor SDK is imported here.

Every call is an async stream that can be cancelled: cancelling the awaiting task (or calling
``aclose``) must release its socket/thread at once and leak nothing. Audio crossing these
interfaces is mono signed 16-bit PCM (``numpy.int16`` arrays) at the rate the object states.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from voicedesk.errors import ProviderError

# Chinese and Japanese put no spaces between words: their full-width punctuation (no space
# after it either) is where such text may be cut into clauses, or an answer went to the voice
# only at its end, and where a clause of it has been heard.
CJK_PUNCTUATION = "、。，！？；："
# Other scripts' marks that end a sentence or a clause, a space after them as after ours:
# Hindi's danda ("।", "॥"), Arabic's question mark, comma and semicolon ("؟", "،", "؛"),
# Urdu's full stop ("۔"), Armenian's ("։"), Ethiopic's ("።", "፣"), Greek's question mark
# (";"), Myanmar's and Khmer's full stops ("။", "។"). Not known, a Hindi answer was cut
# only once: its first 40 characters, then all the rest as one piece, synthesised once the
# model had written it all (seconds of silence).
SENTENCE_MARKS = "।॥؟۔։።\u037e။។"
CLAUSE_MARKS = "،؛፣"
# Every mark after which a clause has ended, in any script: where a voice may be flushed
# (ElevenLabs) and where what the person heard has passed a clause (the session's log)
CLAUSE_END_MARKS = ".,;:!?" + CJK_PUNCTUATION + SENTENCE_MARKS + CLAUSE_MARKS

# A full stop that ends no clause: a list item's number at a line start ("1. "), letters
# with dots ("e.g. ", "U.S. ", "p.m. "), a title ("Dr. "). Cut there, each piece was said as
# a sentence of its own: "Dr." with a falling voice and a pause, then "Smith and Mr.", then
# "Lee agree"; "1." alone before each step of a list.
_NO_CLAUSE_BEFORE = re.compile(
    r"(?:(?:\A|\n)[ \t]*\d{1,3}|(?<![\w.])(?:[A-Za-z]\.)+[A-Za-z]"
    r"|(?<![\w.])(?:Mr|Mrs|Ms|Dr|Prof|Jr|Sr|St|Mt|vs|approx|Fig|Figs|Vol|pp|Eq"
    # German's "ca." (about), "bzw." (or), "Nr." (number), "vgl." (compare): they stand
    # before what they name, never at a sentence's end, and a noun after them has a capital
    # ("ca. Fünf", "bzw. Online"): a first piece was cut there, "Es kostet ca." said alone
    # (a count's "Mio." is said "million" before it comes here: engine/spoken.py)
    r"|ca|bzw|Nr|vgl))\Z"
)


# a list's step number after a sentence on the same line: "Boil it. 2. Cool it.", "3) Bake"
_STEP_NUMBER = re.compile(r"\d{1,3}[.)](?:\s|\Z)")
# a word written short before the number it names: "No. 4.", "p. 12."
_BEFORE_A_NUMBER = re.compile(r"(?<![\w.])(?:No|Nos|Nr|p|Ch|Sec|Art|ca)\Z")


def ends_no_clause(before: str) -> bool:
    """Whether a full stop after ``before`` ends no clause (``_NO_CLAUSE_BEFORE``): a voice
    must not be given what comes up to it as a clause or sentence of its own."""
    return _NO_CLAUSE_BEFORE.search(before) is not None


def sentence_goes_on(after: str, before: str = "") -> bool:
    """Whether the text ``after`` a full stop shows that it ended no sentence: a word in
    lower case or a number comes next ("etc. and", "Inc. has", "No. 5", "p. 12"). Cut
    there, the voice said a sentence's end, a falling voice and a pause, in the middle of
    one. Unknown yet (nothing but blanks after it) is no, and so is a line's end: a list's
    next item ("- eggs.\n- milk.", "1. Boil it.\n2. Cool it.") is a sentence of its own,
    and so is a step's number on the same line ("Boil it. 2. Cool it."): taken for "No.
    5", the piece before it was cut after that number, "Boil it. 2." said as a sentence.
    ``before``: the text up to the full stop: after "No" or "p" a number goes on ("in No.
    4. Then")."""
    rest = after.lstrip(" \t\u00a0")
    if len(rest) == len(after) or not rest:
        return False
    if rest[0].isdigit():
        return _BEFORE_A_NUMBER.search(before) is not None or not _STEP_NUMBER.match(rest)
    return rest[0].islower()


def handshake_said(exc: BaseException) -> str:
    """What a WebSocket handshake that got no WebSocket answer was told, with its cause:
    "did not receive a valid HTTP response" alone does not show the "HTTP/1.0 404 File not
    found" or other protocol that came instead."""
    said = str(exc)
    cause = exc.__cause__
    if cause is not None and str(cause) and str(cause) not in said:
        said += f" ({cause})"
    return said


# The errno of each address asyncio tried, in the one error it raises when a name resolved
# to several (localhost: ::1 and 127.0.0.1) and every connection failed: "Multiple
# exceptions: [Errno 111] Connect call failed ('::1', …), [Errno 111] …", with no errno of
# its own (Python 3.11's asyncio keeps only the text; websockets asks for no more).
_TRIED = re.compile(r"\[Errno (\d+)\]")


def connect_failed_said(exc: OSError) -> str:
    """Why a server could not be connected to, in words: asyncio's own for a refused
    connection ("[Errno 111] Connect call failed ('127.0.0.1', 41327)") named neither the
    server set nor what happened, and with a name of several addresses (localhost on a
    dual-stack machine) it was one line of them all."""
    if exc.errno is None:  # several addresses tried, or no errno at all
        codes = dict.fromkeys(int(code) for code in _TRIED.findall(str(exc)))
        return "; ".join(map(_errno_said, codes)) if codes else str(exc)
    if isinstance(exc, ConnectionError):
        return _errno_said(exc.errno)
    return exc.strerror or str(exc)  # a name not found, a network unreachable: their words


def _errno_said(code: int) -> str:
    if code == errno.ECONNREFUSED:
        return "connection refused (nothing answers there)"
    return os.strerror(code).lower()


PROXY_HINT = (
    "check the proxy set by HTTPS_PROXY (or ALL_PROXY, HTTP_PROXY) and that it is running, "
    "or name this host in NO_PROXY to connect directly"
)


# How often ``running_timeout`` looks at the clock, and how late a look may be before the
# rest of the wait counts as time our own loop could not run.
_TICK_S = 0.05
_LATE_S = 0.05


@contextlib.asynccontextmanager
async def running_timeout(seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout(seconds)``, counting only the time the event loop was free to run.

    A wait measured by the loop's clock expired while the loop itself was busy (a start on
    a loaded machine: the tool servers, the models and the other services coming up):
    the server had answered, the deadline came due before the loop saw it, and a service
    that was there was reported out of reach. Here a look at the clock that comes late
    counts as one on time: a stall of the loop is not the server's."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as deadline:

        async def count() -> None:
            left = seconds
            while left > 0:
                step = min(_TICK_S, left)
                before = loop.time()
                await asyncio.sleep(step)
                left -= min(loop.time() - before, step + _LATE_S)
            deadline.reschedule(loop.time())  # asyncio cancels the wait: TimeoutError

        counting = asyncio.ensure_future(count())
        try:
            yield
        finally:
            counting.cancel()


def unreachable(what: str, url: str, said: object, hint: str | None = None) -> ProviderError:
    """ "Cannot reach ``what``: ``said``", naming the proxy the connection went through when
    the environment sets one for ``url``: a proxy that is not running refused the
    connection ("[Errno 111]" from the proxy's own port), which read as the server being
    out of reach, and the hint sent the person to the server's address."""
    from voicedesk.config_secrets import mask_text
    from voicedesk.loopback import environment_proxy

    proxy = environment_proxy(url)
    if proxy is None:
        return ProviderError(f"Cannot reach {what}: {said}", hint)
    return ProviderError(
        f"Cannot reach {what} through the proxy {mask_text(proxy)}: {said}", PROXY_HINT
    )


def proxy_refusal(service: str, ws_url: str, exc: BaseException) -> ProviderError:
    """The error for a proxy that would not tunnel ``service``'s socket to ``ws_url``
    (websockets' ProxyError: a refused CONNECT, a SOCKS proxy out of reach). Taken for the
    server's "no WebSocket answer", it was told to check the server's address, where
    nothing was wrong; the proxy is named (its login masked), with the variables that
    choose it."""
    from urllib.parse import urlsplit

    from voicedesk.config_secrets import mask_text
    from voicedesk.loopback import environment_proxy

    proxy = environment_proxy(ws_url) or "in the environment"
    return ProviderError(
        f"{service}: the proxy {mask_text(proxy)} refused the connection to "
        f"{urlsplit(ws_url).netloc.rpartition('@')[2]} ({handshake_said(exc)})",
        "check the proxy set by HTTPS_PROXY (or ALL_PROXY, HTTP_PROXY) and its login, "
        "or name this host in NO_PROXY to connect directly",
    )


# ---------------------------------------------------------------- speech to text


@runtime_checkable
class SpeechToText(Protocol):
    """A streaming transcriber for one session (one warm connection, many turns).

    Audio is pushed while the person speaks; our turn detector decides when to ``commit``.
    ``commit`` returns the final text of the audio pushed since the previous commit/clear
    (one *segment*; a turn may span several segments when preemptive commits were followed
    by more speech). Interim text, if the provider has any, goes to ``on_interim``.
    """

    name: str
    input_rate: int  # rate push_audio expects (16000: the engine's internal rate)
    on_interim: Callable[[str], None] | None

    async def connect(self) -> None:
        """Open (or re-open) the connection ahead of need; raises AuthError on a bad key."""

    def push_audio(self, pcm: np.ndarray) -> None:
        """Queue int16 mono audio at ``input_rate``; never blocks."""

    async def commit(self) -> str:
        """Finalise the pending segment and return its transcript ('' for no words)."""

    async def clear(self) -> None:
        """Drop audio pushed since the last commit."""

    async def aclose(self) -> None: ...


# ---------------------------------------------------------------- language model


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text as the model produced it
    # the answer reached its length limit in this call (finish_reason "length"): its
    # arguments may have stopped anywhere, even before they began
    cut_off: bool = False


@dataclass(slots=True)
class TextDelta:
    text: str


# The fields servers stream thinking apart in, and that carry it back in an assistant
# message with its tool calls (``ToolCalls.thought``).
THOUGHT_FIELDS = ("reasoning_content", "reasoning")


@dataclass(slots=True)
class ToolCalls:
    calls: list[ToolCall]
    # The thinking the server streamed apart before these calls, by the field it came in
    # ({"reasoning_content": "…"}): DeepSeek's API refuses the request with their results
    # unless the calls' assistant message carries it back (its thinking mode's tool calls).
    thought: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    # When (time.perf_counter) the model's first generated token came, thinking included:
    # the completion tokens count a reasoning model's thinking, which no TextDelta carries,
    # so its speed is timed from here, not from the answer's first words (None: unseen).
    generating_since: float | None = None
    # Of completion_tokens, those of thinking the stream never showed (OpenAI's reasoning
    # models send nothing while they think: completion_tokens_details.reasoning_tokens):
    # untimed, they are left out of the speed.
    unseen_tokens: int = 0


@dataclass(slots=True)
class Finished:
    reason: str  # "stop", "tool_calls", "length", ...


@dataclass(slots=True)
class ToolsRefused:
    """The server refused the request's tools (the model takes none); it was sent again
    without them, as the session's later ones are. Said once, for the person to read."""

    said: str  # the server's words
    fix: str  # how to have tools: another model, or the server started otherwise


LLMEvent = TextDelta | ToolCalls | Usage | Finished | ToolsRefused


@dataclass(slots=True)
class ChatRequest:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None


@runtime_checkable
class LanguageModel(Protocol):
    name: str
    model: str

    async def warm(self) -> None:
        """Open the keep-alive connection; raise AuthError if the key is rejected."""

    def stream(self, request: ChatRequest) -> AsyncIterator[LLMEvent]:
        """Stream one completion; breaking out of / cancelling the iteration aborts it."""
        ...

    async def aclose(self) -> None: ...


# ---------------------------------------------------------------- text to speech


class FirstPieceSignal:
    """Tells, once, when a speech stream hands the first piece of an answer's text to its
    voice to be synthesised (``on_first_piece``, set by the one who times the answer).

    A voice is given the model's text as it streams, but starts on it only at a first
    clause or 40 characters (``SentenceStream``; ElevenLabs' first flush): timed from the
    first text, the voice's time to first audio included the model writing those words
    (~150 ms at 60 tokens/s, more the slower it writes), and the timings blamed the voice.
    Each stream says when it really hands a piece over; the wait before is the answer's
    "first words" stage, the time after it the voice's own."""

    on_first_piece: Callable[[], None] | None = None
    _first_piece_handed = False

    def _first_piece(self) -> None:
        """Call when text has just been handed to the voice: only the first call counts."""
        if self._first_piece_handed:
            return
        self._first_piece_handed = True
        if self.on_first_piece is not None:
            self.on_first_piece()


@runtime_checkable
class SpeechStream(Protocol):
    """One answer being spoken: text goes in as it arrives, audio comes out as it lands.

    ``on_first_piece``: called once, as the first piece of text is handed to the voice to
    be synthesised (``FirstPieceSignal``), which can be well after the first text came."""

    sample_rate: int
    on_first_piece: Callable[[], None] | None

    async def send_text(self, text: str) -> None: ...

    async def end_text(self) -> None:
        """No more text: flush the rest and finish the audio."""

    async def flush(self) -> None:
        """Say the text sent so far now, without waiting for more to make a clause or a
        chunk: more comes only after a tool round, which may take seconds."""

    def audio(self) -> AsyncIterator[np.ndarray]:
        """int16 mono chunks at ``sample_rate`` until the answer is complete."""
        ...

    async def aclose(self) -> None:
        """Cancel: stop generation now and release the connection."""


@runtime_checkable
class TextToSpeech(Protocol):
    name: str
    sample_rate: int

    async def warm(self) -> None:
        """Check the key / pre-open what can be pre-opened."""

    async def open_stream(self) -> SpeechStream:
        """Open a stream when the turn starts, before the first token (keeps TTFB low)."""
        ...

    async def aclose(self) -> None: ...
