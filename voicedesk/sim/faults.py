"""The faults the simulated cloud can inject, in one table.

The server accepts exactly these (:func:`check`) and ``voicedesk sim --help`` lists them from
here, so what the help promises and what the server does cannot drift apart. This module
imports nothing heavy: the CLI reads it to build its help.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS = ("stt", "llm", "tts")
STT_LATE_S = 3.0  # how late a "late" transcript comes, on top of the STT delay


@dataclass(frozen=True)
class Fault:
    providers: tuple[str, ...]  # the providers whose code acts on it
    effect: str  # what a client sees, one sentence for --help


FAULTS: dict[str, Fault] = {
    "429": Fault(
        PROVIDERS,
        "a rate-limit error: HTTP 429 (retry-after 50 ms); an open STT socket answers the "
        "commit with an error event instead, an ElevenLabs socket sends an error and closes",
    ),
    "500": Fault(
        PROVIDERS,
        "a server error: HTTP 500; an open STT socket answers the commit with an error "
        "event instead, an ElevenLabs socket sends an error and closes",
    ),
    "echo": Fault(
        PROVIDERS,
        "a server error (HTTP 500) whose message quotes the API key the request carried, as "
        "some proxies and self-hosted servers do (STT: refusing the connection); an "
        "ElevenLabs socket is closed as it opens (code 1008), the key in its reason",
    ),
    "quota": Fault(
        ("llm",),
        "the account is out of credit: HTTP 429 as OpenAI sends it, type insufficient_quota "
        "(no retry-after: waiting does not help)",
    ),
    "drop": Fault(
        PROVIDERS,
        "the connection is cut: a streamed text answer after its third word (a shorter one "
        "after its last, with no finish), a streamed tool call after its name, speech after "
        "its first audio chunk, STT at the commit",
    ),
    "end": Fault(
        ("llm",),
        "a streamed text answer ends after its third word as if it were done: the body "
        "closes properly, with no finish reason and no [DONE] (a shorter one after its last; "
        "as a proxy that gives up sends it)",
    ),
    "filter": Fault(
        ("llm",),
        "a streamed text answer stops after its third word with finish_reason "
        "content_filter, as OpenAI and Azure OpenAI end an answer their content filter "
        "stopped (a shorter one after its last)",
    ),
    "stall": Fault(
        PROVIDERS,
        "a streamed answer or speech starts (headers sent, or the socket open) and nothing "
        "more comes; STT acknowledges the commit and never transcribes it",
    ),
    "linger": Fault(
        ("tts",),
        "an ElevenLabs socket speaks as usual but never answers the client's close: no "
        "closing frame comes back and the connection stays open, as a stalled server's does",
    ),
    "lose": Fault(("stt",), "the transcript's deltas come, its final event never does"),
    "stray": Fault(
        ("stt",),
        "an error event about the client's last append (its event_id) comes before the "
        "commit is acknowledged; the commit itself is transcribed as usual",
    ),
    "expire": Fault(
        ("stt",),
        "the realtime session reaches its maximum duration at the commit: an error event "
        "session_expired (naming no event), then the socket closes with 1001 and the same "
        "reason, as OpenAI's does at 60 minutes; the commit is heard, not transcribed",
    ),
    "late": Fault(("stt",), f"the final transcript comes {STT_LATE_S:g} s later than usual"),
    "fail": Fault(
        ("stt",),
        "the commit is acknowledged and its transcription then fails: "
        "conversation.item.input_audio_transcription.failed for its item, as OpenAI reports "
        "a transcription that failed (apart from error events)",
    ),
}

# How requests take the faults queued for their provider (for --help, beside the table).
ORDER = (
    "Each provider keeps its faults in a queue and each request takes the next one. An STT "
    "socket takes one when it opens (429 and 500 refuse the connection; any other is for its "
    "first commit), and each commit without one takes the next; an ElevenLabs socket takes "
    "one at its first text (echo, next in its queue, as it opens). A chat answer that is not streamed ignores drop and stall."
)


def check(provider: str, fault: str) -> None:
    """ValueError, saying what is accepted, unless ``provider`` acts on ``fault``."""
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}: use {', '.join(PROVIDERS)}")
    if not fault:
        raise ValueError(f"no fault after {provider!r}: use {', '.join(FAULTS)}")
    known = FAULTS.get(fault)
    if known is None:
        raise ValueError(f"unknown fault {fault!r}: use {', '.join(FAULTS)}")
    if provider not in known.providers:
        only = ", ".join(known.providers)
        raise ValueError(f"{fault!r} is a fault of {only} only, not of {provider}")
