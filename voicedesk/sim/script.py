"""What the simulated cloud "hears" and "says": a script of user turns and answers.

A script file is TOML (or JSON, for a name ending in .json) holding the keys of
:data:`SCRIPT_KEYS`, :data:`TURN_KEYS` and :data:`TOOL_CALL_KEYS`, as in :data:`EXAMPLE`;
``voicedesk sim --help`` lists them from those tables, and :meth:`SimScript.from_dict`
accepts exactly them.

Turns are consumed in order by the speech-to-text side (one per user turn): the first commit
of a turn hears ``transcript``, later commits of the same turn (the person paused, then went
on) hear the strings of ``continued`` in order, then "". The language model side answers
whichever scripted turn matches the last user message (``transcript``, or all of the turn's
text), so a preemptive request, a restarted one and the confirmed one all get the same answer.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicedesk.errors import UserError

DEFAULT_TRANSCRIPT = "Tell me something interesting about the ocean."
# About four seconds of speech at a normal speaking rate.
DEFAULT_REPLY = "Most of the ocean floor has never been mapped in any detail."


# Every key a script may hold, with what it does: from_dict accepts exactly these, and
# `voicedesk sim --help` describes them from here.
SCRIPT_KEYS: dict[str, str] = {
    "default_transcript": (
        f"what each user turn after the scripted ones is heard as (default: “{DEFAULT_TRANSCRIPT}”)"
    ),
    "default_reply": (
        f"the answer to words no turn matches, and the reply of a turn without one "
        f"(default: “{DEFAULT_REPLY}”)"
    ),
    "turns": "the user turns, in order: one [[turns]] table each, with",
}
TURN_KEYS: dict[str, str] = {
    "transcript": "what the turn is heard as: the transcript of its first commit (required)",
    "reply": (
        "the model's answer to that transcript, or to the whole turn's text (compared "
        "without case or punctuation)"
    ),
    "continued": (
        "what the turn's later commits are heard as, in order (the person paused, then "
        "went on); after them, nothing"
    ),
    "stt_fails": (
        "which of the turn's commits fail to be transcribed, by number (1: the one heard as "
        "transcript, 2: the first continued, …), every time one is sent: a resend too. "
        "Unlike --fault stt:fail:N, which fails the next N requests whichever they are "
        "(default: none)"
    ),
    "preamble": (
        "what the model says before its tool_calls, in the same response (\u201cLet me "
        "look.\u201d), as OpenAI models do at times (default: nothing)"
    ),
    "tool_rounds": (
        "how many responses in a row make the tool_calls, each after the results of the "
        "last, before the reply (a model that keeps looking); one offering no tools gets "
        "the reply (default: 1)"
    ),
    "then_tool_calls": (
        "the tools the model calls next on the results of tool_calls (a second tool round, "
        "or the answer to results that came in the background), one "
        "[[turns.then_tool_calls]] table each, with the keys of tool_calls; the reply then "
        "answers their results (default: none)"
    ),
    "tool_calls": (
        "the tools the model calls instead of answering at first, one [[turns.tool_calls]] "
        "table each; the reply answers their results. Each has"
    ),
}
TOOL_CALL_KEYS: dict[str, str] = {
    "name": "the tool's name as the client offers it, like docs__read_document (required)",
    "arguments": "a table of its arguments (default: none)",
}
# When the speech-to-text side takes the next turn (server.py does this).
HEARING = (
    "Each user turn takes the next [[turns]] at its first commit with sound in it, the "
    "first after the client clears the audio buffer (where voicedesk ends a turn); later "
    "commits before the next clear hear its continued (the first left of them is heard "
    "after a clear too), and silent commits hear nothing."
)
EXAMPLE = """\
default_reply = "I did not catch that."
[[turns]]
transcript = "Read me the budget memo."
reply = "The memo asks for forty two thousand euros."
[[turns.tool_calls]]
name = "docs__read_document"
arguments = { path = "budget-memo.md" }
[[turns]]
transcript = "And the"
continued = ["deadline?"]
reply = "It is due on Friday."
"""


@dataclass
class SimToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimTurn:
    transcript: str
    reply: str = DEFAULT_REPLY
    tool_calls: list[SimToolCall] = field(default_factory=list)
    continued: list[str] = field(default_factory=list)
    preamble: str = ""  # said before the tool calls, in the same response
    tool_rounds: int = 1  # responses in a row that make the tool calls, before the reply
    then_tool_calls: list[SimToolCall] = field(default_factory=list)  # on their results
    # its commits (1: transcript's, 2: the first continued's, …) whose transcription fails,
    # resent or not: a fault on a chosen segment, where one queued fails the n-th request,
    # which a resend of an earlier segment (a busy machine's) takes instead
    stt_fails: list[int] = field(default_factory=list)

    @property
    def full_text(self) -> str:
        return " ".join([self.transcript, *self.continued])


@dataclass
class SimScript:
    turns: list[SimTurn] = field(default_factory=list)
    default_transcript: str = DEFAULT_TRANSCRIPT
    default_reply: str = DEFAULT_REPLY

    @classmethod
    def load(cls, path: Path, *, flag: str | None = None) -> SimScript:
        """The script in ``path``; ``flag``: the option that named it (``--sim-script``),
        which every refusal then names, with the path: "Cannot read the simulation script"
        did not say which flag to change."""
        path = Path(path)
        where = f"{flag} {path}" if flag else f"Simulation script {path}"
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        try:
            text = path.read_text(encoding="utf-8-sig")  # Notepad starts UTF-8 with a BOM
        except OSError as exc:
            raise UserError(
                f"{where}: cannot be read ({exc.strerror or exc})",
                f"give {flag or 'it'} the path of a {kind} script file "
                "(`voicedesk sim --help` describes the format)",
            ) from None
        except UnicodeDecodeError as exc:
            raise UserError(
                f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                "save the script as UTF-8 (TOML and JSON files are UTF-8)",
            ) from None
        try:
            data = json.loads(text) if kind == "JSON" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(
                f"{where}: not valid {kind}: {exc}",
                "fix the file; see `voicedesk sim --help` for the format",
            ) from None
        return cls.from_dict(data, origin=where)

    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "script") -> SimScript:
        def bad(what: str) -> UserError:
            may = ", ".join(k for k in TURN_KEYS if k != "transcript")
            return UserError(
                f"{origin}: {what}",
                f'each [[turns]] needs transcript = "..." and may have {may}; '
                f"`voicedesk sim --help` describes the format",
            )

        if not isinstance(data, dict):
            raise bad("the top level must be a table/object")
        unknown = set(data) - set(SCRIPT_KEYS)
        if unknown:
            raise bad(
                f"unknown key(s) {sorted(unknown)} at the top level, "
                f"which takes {', '.join(SCRIPT_KEYS)}"
            )
        if not isinstance(data.get("turns", []), list):
            raise bad("turns must be a list of tables: one [[turns]] each")
        for key in ("default_transcript", "default_reply"):
            if not isinstance(data.get(key, ""), str):
                raise bad(f"{key} must be a string")
        if not data.get("default_transcript", DEFAULT_TRANSCRIPT).strip():
            raise bad("default_transcript is empty; give the words later turns are heard as")
        turns = []
        for i, raw in enumerate(data.get("turns", []), 1):
            if not isinstance(raw, dict) or not isinstance(raw.get("transcript"), str):
                raise bad(f"turn {i} has no transcript string")
            if not raw["transcript"].strip():
                # heard as no words, the speech is a noise and no turn: the run then said no
                # speech was heard in a file full of it
                raise bad(f"turn {i}: transcript is empty; give the words the turn is heard as")
            extra = set(raw) - set(TURN_KEYS)
            if extra:
                raise bad(f"turn {i}: unknown key(s) {sorted(extra)}")

            def tool_calls(key: str, i: int = i, raw: dict[str, Any] = raw) -> list[SimToolCall]:
                if not isinstance(raw.get(key, []), list):
                    # `[turns.tool_calls]` (one pair of brackets) makes a table, not a list
                    raise bad(f"turn {i}: {key} must be a list: one [[turns.{key}]] each")
                calls = []
                for call in raw.get(key, []):
                    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                        raise bad(f"turn {i}: every tool call needs a name")
                    extra = set(call) - set(TOOL_CALL_KEYS)
                    if extra:
                        raise bad(f"turn {i}: unknown tool call key(s) {sorted(extra)}")
                    args = call.get("arguments", {})
                    if not isinstance(args, dict):
                        raise bad(f"turn {i}: tool call arguments must be a table/object")
                    calls.append(SimToolCall(name=call["name"], arguments=args))
                return calls

            calls, then_calls = tool_calls("tool_calls"), tool_calls("then_tool_calls")
            reply = raw.get("reply", data.get("default_reply", DEFAULT_REPLY))
            if not isinstance(reply, str):
                raise bad(f"turn {i}: reply must be a string")
            continued = raw.get("continued", [])
            if not isinstance(continued, list) or not all(isinstance(c, str) for c in continued):
                raise bad(f"turn {i}: continued must be a list of strings")
            preamble = raw.get("preamble", "")
            if not isinstance(preamble, str):
                raise bad(f"turn {i}: preamble must be a string")
            fails = raw.get("stt_fails", [])
            commits = 1 + len(continued)
            if not isinstance(fails, list) or not all(
                type(n) is int and 1 <= n <= commits for n in fails
            ):
                numbers = (
                    "1 (its transcript; it has no continued)"
                    if commits == 1
                    else f"from 1 (its transcript) to {commits} (its last continued)"
                )
                raise bad(
                    f"turn {i}: stt_fails must be a list of commit numbers, {numbers}, "
                    "e.g. stt_fails = [1]"
                )
            rounds = raw.get("tool_rounds", 1)
            if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
                raise bad(f"turn {i}: tool_rounds must be a whole number, 1 or more")
            turns.append(
                SimTurn(
                    transcript=raw["transcript"],
                    reply=reply,
                    tool_calls=calls,
                    continued=continued,
                    preamble=preamble,
                    tool_rounds=rounds,
                    then_tool_calls=then_calls,
                    stt_fails=fails,
                )
            )
        return cls(
            turns=turns,
            default_transcript=str(data.get("default_transcript", DEFAULT_TRANSCRIPT)),
            default_reply=str(data.get("default_reply", DEFAULT_REPLY)),
        )

    def turn_for(self, user_text: str) -> SimTurn | None:
        norm = _norm(user_text)
        for turn in self.turns:
            if norm in (_norm(turn.transcript), _norm(turn.full_text)):
                return turn
        return None


def _norm(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())
