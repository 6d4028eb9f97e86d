"""Hold-to-talk: key *release* from terminals that speak the kitty keyboard protocol.

A terminal normally reports only key presses (and auto-repeats), so the talk key has to be a
toggle: tap to open the microphone, tap again to send. Terminals implementing the kitty
keyboard protocol (kitty, WezTerm, foot, Ghostty, recent iTerm2 and Alacritty …) can also
report *releases* when asked with the "report event types" flag, which makes hold-to-talk
possible. Textual 8 pushes ``CSI > 25 u`` (disambiguate, all keys as escape codes, associated
text) but never the event-types flag, and its parser cannot read an event type at all:
``CSI 32;1:3u`` makes ``int("1:3")`` fail inside the input thread and the app panics. So
voicedesk needs three small things, all in this module:

* :func:`parse_key_event` / :class:`KeyReleaseParser` — a subclass of Textual's
  ``XTermParser`` that looks at each complete escape sequence *before* Textual does. It
  swallows the answers to our support probe, drops auto-repeats of the talk key, turns
  releases into tokens and hands every other sequence (with its event type stripped) back to
  Textual unchanged.
* :class:`KeyReleaseDriver` — Textual's ``LinuxDriver`` plus the probe: after Textual has
  set the terminal up it writes ``CSI ? u`` followed by ``CSI c``. A supporting terminal
  answers the first with ``CSI ? <flags> u``; every terminal answers the second (primary
  device attributes), so the DA reply arriving first — or nothing within
  :data:`PROBE_TIMEOUT_S` — means "not supported". The driver never enables anything on its
  own: the app decides (config ``ui.talk_key_mode``) and calls
  :meth:`KeyReleaseDriver.push_key_release`, which pushes our flags on the terminal's flag
  stack; :meth:`KeyReleaseDriver.stop_application_mode` pops them again before Textual pops
  its own, on exit and on suspend (Textual runs the same method for both). Resuming runs the
  probe again.
* :func:`choose_talk_mode` — the decision, kept pure so it is tested on its own.

Nothing here guesses from key-repeat timing: without a release report, the key stays a
toggle.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from textual import events
from textual._xterm_parser import XTermParser  # private module: our only import of it
from textual.keys import Keys
from textual.message import Message

TalkKeyMode = Literal["auto", "toggle", "hold"]
TalkMode = Literal["toggle", "hold"]

TALK_KEY: Final = "space"
KITTY_QUERY: Final = "\x1b[?u"  # "which progressive-enhancement flags are active?"
PRIMARY_DA_QUERY: Final = "\x1b[c"  # answered by every terminal: the sentinel
REPORT_EVENT_TYPES: Final = 0b10  # kitty progressive enhancement flag 2
POP_FLAGS: Final = "\x1b[<u"
PROBE_TIMEOUT_S: Final = 1.0

EVENT_PRESS: Final = 1
EVENT_REPEAT: Final = 2
EVENT_RELEASE: Final = 3

_FLAGS_REPLY = re.compile(r"\x1b\[\?(\d+)u")
_DA1_REPLY = re.compile(r"\x1b\[\?[\d;]*c")
# CSI key[:alternates] ; modifiers:event-type [; text] terminator — only sequences that carry
# an explicit event type match; everything else is left to Textual as it is.
_KEY_WITH_EVENT_TYPE = re.compile(
    r"\x1b\[(?P<key>[\d:]*);(?P<mods>\d*):(?P<type>\d+)(?P<text>;[\d:]*)?(?P<end>[u~A-Z])"
)


def parse_key_event(sequence: str) -> tuple[str, int] | None:
    """``(sequence without its event type, event type)`` for a kitty key event, else None.

    ``"\\x1b[32;1:3u"`` → ``("\\x1b[32;1u", 3)``: the stripped form is what Textual's own
    parser understands, so key names and modifiers keep coming from Textual.
    """
    match = _KEY_WITH_EVENT_TYPE.fullmatch(sequence)
    if match is None:
        return None
    mods = match["mods"] or "1"
    return f"\x1b[{match['key']};{mods}{match['text'] or ''}{match['end']}", int(match["type"])


def base_key(key: str) -> str:
    """``"shift+space"`` → ``"space"``: a release counts even if a modifier went down meanwhile."""
    return key.rpartition("+")[2] or key


@dataclass(frozen=True)
class TalkModeChoice:
    mode: TalkMode
    push_flags: int | None  # flags to push on the terminal's stack, None = push nothing
    warning: str | None = None


def choose_talk_mode(setting: TalkKeyMode, flags: int | None) -> TalkModeChoice:
    """How the talk key behaves, from the setting and the probe (``flags`` None = no support).

    ``auto`` holds where the terminal can report the release, ``hold`` asks for it and says so
    when it cannot be had, ``toggle`` never changes the terminal's keyboard mode.
    """
    if setting == "toggle":
        return TalkModeChoice("toggle", None)
    if flags is None:
        warning = (
            "This terminal does not report key release, so hold-to-talk is not possible here: "
            "tap space to talk and tap again to send (kitty, WezTerm, foot and Ghostty can)."
            if setting == "hold"
            else None
        )
        return TalkModeChoice("toggle", None, warning)
    return TalkModeChoice("hold", flags | REPORT_EVENT_TYPES)


# ---------------------------------------------------------------------------- messages
class KeyReleaseSupport(Message):
    """The probe's answer: the terminal's active kitty flags, or None (no release reports)."""

    def __init__(self, flags: int | None) -> None:
        super().__init__()
        self.flags = flags


class TalkKeyReleased(Message):
    """The talk key went up (only sent once event types have been pushed)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


# Tokens travel through the parser's key path (it only passes on ``events.Key``), which keeps
# them in order with the presses around them; the driver turns them into the messages above
# before anything reaches the app, so no binding ever sees one.
class _Token(events.Key):
    def __init__(self, sequence: str) -> None:
        # Not Keys.Ignore: the parser drops those; a private name keeps the token flowing.
        super().__init__("voicedesk-token", sequence)


class _FlagsToken(_Token):
    def __init__(self, sequence: str, flags: int) -> None:
        super().__init__(sequence)
        self.flags = flags


class _DeviceAttributesToken(_Token):
    pass


class _ReleaseToken(_Token):
    def __init__(self, sequence: str, released: str) -> None:
        super().__init__(sequence)
        self.released = released


def _ignored(sequence: str) -> events.Key:
    return events.Key(Keys.Ignore, sequence)


class KeyReleaseParser(XTermParser):
    """Textual's parser, plus the probe replies and key event types (see the module docs)."""

    def __init__(self, debug: bool = False, *, talk_key: str = TALK_KEY) -> None:
        super().__init__(debug)
        self.talk_key = talk_key

    def _sequence_to_key_events(self, sequence: str, alt: bool = False) -> Iterable[events.Key]:
        # Called with the sequence so far each time it grows; only complete CSI sequences
        # ending in a final byte can be ours, so the common case returns at the first test.
        final = sequence[-1:]
        if not sequence.startswith("\x1b[") or not (final.isalpha() or final == "~"):
            yield from super()._sequence_to_key_events(sequence, alt)
            return
        if match := _FLAGS_REPLY.fullmatch(sequence):
            yield _FlagsToken(sequence, int(match[1]))
            return
        if _DA1_REPLY.fullmatch(sequence):
            yield _DeviceAttributesToken(sequence)
            return
        parsed = parse_key_event(sequence)
        if parsed is None:
            yield from super()._sequence_to_key_events(sequence, alt)
            return
        stripped, event_type = parsed
        keys = list(super()._sequence_to_key_events(stripped, alt))
        if event_type == EVENT_RELEASE:
            for key in keys:
                if base_key(key.key) == self.talk_key:
                    yield _ReleaseToken(sequence, key.key)
                else:  # other keys' releases mean nothing to the app
                    yield _ignored(sequence)
        elif event_type == EVENT_REPEAT and any(k.key == self.talk_key for k in keys):
            yield _ignored(sequence)  # holding the talk key must not toggle it over and over
        else:  # presses, and repeats of other keys (holding backspace still deletes)
            yield from keys


if sys.platform == "win32":  # pragma: no cover - Textual's Windows driver has no such parser
    from textual.driver import Driver as _BaseDriver
else:
    from textual.drivers.linux_driver import LinuxDriver as _BaseDriver


# (the ignore is for mypy on Windows, where _BaseDriver is one of two conditional bases)
class KeyReleaseDriver(_BaseDriver):  # type: ignore[misc,valid-type]
    """Textual's LinuxDriver with the kitty release probe and our pushed flags.

    Textual builds its parser inside ``run_input_thread``, so that method is ours (a small
    select/decode/feed loop) in order to parse with :class:`KeyReleaseParser`.
    """

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._probe_lock = threading.Lock()
        self._probe_pending = False
        self._pushed = False

    # ------------------------------------------------------------------ probe and flags
    def start_application_mode(self) -> None:
        super().start_application_mode()
        if self._writer_thread is None:  # Textual gave up (backgrounded): nothing to probe
            return
        from textual import constants

        wanted = getattr(self._app, "wants_key_release", True)
        if constants.DISABLE_KITTY_KEY or not self.input_tty or not wanted:
            self.send_message(KeyReleaseSupport(None))
            return
        with self._probe_lock:
            self._probe_pending = True
        self.write(KITTY_QUERY + PRIMARY_DA_QUERY)
        self.flush()
        loop = self._loop
        loop.call_soon_threadsafe(loop.call_later, PROBE_TIMEOUT_S, self._probe_answer, None)

    def _probe_answer(self, flags: int | None) -> None:
        """First answer wins: flags, the DA sentinel, or the timeout (any thread)."""
        with self._probe_lock:
            if not self._probe_pending:
                return
            self._probe_pending = False
        self.send_message(KeyReleaseSupport(flags))

    def push_key_release(self, flags: int) -> None:
        """Push ``flags`` (with event types) on the terminal's keyboard-mode stack."""
        if self._pushed:
            return
        self.write(f"\x1b[>{flags | REPORT_EVENT_TYPES}u")
        self.flush()
        self._pushed = True

    def stop_application_mode(self) -> None:
        # Pop ours first; Textual then pops its own entry before leaving the alt screen.
        if self._pushed:
            self.write(POP_FLAGS)
            self._pushed = False
        with self._probe_lock:
            self._probe_pending = False
        super().stop_application_mode()

    def process_message(self, message: Message) -> None:
        """Runs on the input thread: tokens become app messages, the rest goes on as usual."""
        if isinstance(message, _FlagsToken):
            self._probe_answer(message.flags)
        elif isinstance(message, _DeviceAttributesToken):
            self._probe_answer(None)
        elif isinstance(message, _ReleaseToken):
            self.send_message(TalkKeyReleased(message.released))
        elif not isinstance(message, _Token):
            super().process_message(message)

    # ------------------------------------------------------------------ input loop
    def run_input_thread(self) -> None:  # pragma: no cover - needs a real terminal
        """Read the terminal and parse with :class:`KeyReleaseParser`.

        Textual creates its parser inside its own input loop, so parsing release events
        means owning the loop. Ours: wait for input with a short timeout (so a set
        ``exit_event`` is seen promptly), decode UTF-8 incrementally (a character can span
        two reads), and tick the parser when idle so a lone Escape is still delivered.
        """
        import os
        import select
        from codecs import getincrementaldecoder

        from textual._parser import ParseError

        parser = KeyReleaseParser(self._debug)
        decoder = getincrementaldecoder("utf-8")()
        fd = self.fileno

        def deliver(messages: Iterable[Message]) -> None:
            for message in messages:
                self.process_message(message)

        try:
            while not self.exit_event.is_set():
                readable, _, _ = select.select([fd], [], [], 0.1)
                if readable:
                    data = os.read(fd, 4096)
                    if not data:
                        break
                    deliver(parser.feed(decoder.decode(data)))
                deliver(parser.tick())
        finally:
            with contextlib.suppress(EOFError, ParseError):
                deliver(parser.feed(decoder.decode(b"", final=True)))
                deliver(parser.feed(""))


def driver_class_for(default: type[Any]) -> type[Any]:
    """Our driver where Textual would use its LinuxDriver (not Windows, not TEXTUAL_DRIVER)."""
    return KeyReleaseDriver if default is _BaseDriver and sys.platform != "win32" else default
