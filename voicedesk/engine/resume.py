"""Rebuild a conversation from its session log (``voicedesk --resume``).

The log is append-only and fsynced per record, so after a crash it holds every turn the
person confirmed: the user line is written the moment the turn is confirmed, the turn record
when its answer ends, progress records while it plays (what has been heard since the last
one, joined here; the turn record supersedes them all), tool exchanges with it (a follow-up answering background tool results
has no user line; its tools record comes first), pending_tools records for calls not yet
answered (as a confirmed answer's calls start, as they go to the background, as their
results come; those no tools record took up are resumed in the turn that called them, a
call with no result marked as such), a summary record whenever the
background summariser folds turns (naming them, and the tool calls they carried: a call of a
folded turn it does not name, never answered, is resumed as a turn of its own; and what it
has of a turn it kept in the window, which the next summary is not given again), and a context_window record whenever the model refused a
request as too long and the budget was lowered to fit its window. Replaying it gives the
same summary + window the model saw, within the budget it last took; a turn whose answer
never finished (the process died) comes back with the answer as far as its progress
records, joined, say it was heard, marked as cut off there, or as the person's words alone when none
of it was (older logs have no progress records). A retracted turn is left out only when the
turn logged beside its retraction took its words up (a merged turn begins with them).

The same reading also gives the person's view of it (:func:`earlier_turns`): the
conversation pane shows the turns they are continuing, folded ones included, since the
person never saw the summary that replaced them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicedesk import events as ev
from voicedesk.engine.context import answer_message
from voicedesk.engine.metrics import answer_cut, error_said, unheard_holding_line
from voicedesk.engine.session_log import read_numbered
from voicedesk.engine.tool_jobs import NO_RESULT, with_every_result
from voicedesk.engine.tool_jobs import call_ids as _call_ids

log = logging.getLogger(__name__)

SHOWN_TURNS = 50  # the pane shows this many earlier turns at most; older ones are counted


@dataclass
class Conversation:
    """A session log read once, turn by turn, for both the model's and the person's view."""

    order: list[int] = field(default_factory=list)  # turns in the order they were opened
    users: dict[int, str] = field(default_factory=dict)
    ended: dict[int, dict[str, Any]] = field(default_factory=dict)  # turn records
    # pending tool calls, in the order they were called: (the turn that called them, their
    # latest messages, where in the log those came); those a tools record answered are
    # taken out
    background: list[tuple[int, list[dict[str, Any]], int]] = field(default_factory=list)
    # what the progress records of each answer say was heard, joined ("heard_text", and
    # "whole" when all of it was): superseded by its turn record, if any
    progress: dict[int, dict[str, Any]] = field(default_factory=dict)
    tools: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    retracted: set[int] = field(default_factory=set)
    folded: set[int] = field(default_factory=set)
    # where in the log the last summary record that folded each turn is
    folded_at: dict[int, int] = field(default_factory=dict)
    # the tool calls the summaries were given, as (turn id, call id): None in logs from
    # before summary records named them
    summarised_calls: set[tuple[int, str]] | None = None
    # never-answered calls of a folded turn that no summary was given (still running when
    # the turn was folded, or dropped after): a turn of their own, as live (see
    # ``ContextManager.add_dropped_calls``)
    late_calls: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # what the person was shown of a result that was not the model's text (an image), by
    # turn and by its tool message (the record's own, by ``id``, kept with it, as
    # ``failed``): logs written before the field show the model's text
    shown: dict[int, dict[int, tuple[dict[str, Any], str]]] = field(default_factory=dict)
    # whether each call failed, by turn and by its tool message (the record's own, by
    # ``id``, kept with it: a superseded record's message goes, and its id may be
    # reused), as the tools and pending_tools records say (logs written before they said
    # it: nothing, and a result is read as before)
    failed: dict[int, dict[int, tuple[dict[str, Any], bool]]] = field(default_factory=dict)
    # of the turns a summary took in only part of (kept in the window: a call dropped
    # while they were folded joined them), the keys of what it has (``message_key``) and
    # where in the log that was said; older logs say nothing, and such a turn was
    # summarised whole once more
    partly: dict[int, tuple[list[str], int]] = field(default_factory=dict)
    summary: str = ""
    summary_turns: int = 0
    learnt: dict[str, Any] | None = None  # the last refusal's lesson (older logs: none)
    prompt_tokens: int = 0  # the size of the last prompt a turn record gives
    last_id: int = 0
    # the lines left out, each (its line number, what is wrong with it): the person is
    # told which, to mend them
    damaged: list[tuple[int, str]] = field(default_factory=list)
    # user records among them: words the person said that cannot be resumed
    lost_words: int = 0

    @property
    def skipped(self) -> int:
        """How many damaged lines were left out."""
        return len(self.damaged)

    def answer(self, turn_id: int) -> tuple[str | None, str | None, dict[str, Any]]:
        """(what was heard of the turn's answer, why it was cut or None, its turn record):
        its turn record's, or, when the process died while it played, its progress
        records', cut off there ("lost") unless all of it had been heard. Heard None:
        no answer to keep."""
        record = self.ended.get(turn_id)
        if record is not None:
            return _heard(record), answer_cut(record), record
        progress = self.progress.get(turn_id)
        heard = str(progress.get("heard_text") or "") if progress is not None else ""
        if not heard:
            return None, None, {}
        assert progress is not None
        return heard, None if progress.get("whole") else "lost", {}

    @property
    def kept(self) -> list[int]:
        """The turns that happened: a retracted one lives on, with its words, in the turn
        it was merged into, so it must not come back twice."""
        return [t for t in self.order if t not in self.retracted]


# Larger turn ids come from a hand edit, not a conversation: the next turn would be
# numbered from there.
MAX_TURN_ID = 10**9


def _count(value: Any, *, positive: bool = False) -> int | None:
    """An int as the log writes it (not a bool, a float or text), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if (value > 0 if positive else value >= 0) and value <= MAX_TURN_ID else None


def _is_message(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("role"), str)


# The records a session log holds; those of a turn carry its number (1 for the first).
_OF_A_TURN = frozenset(("user", "turn", "progress", "tools", "pending_tools", "retracted"))
_KINDS = _OF_A_TURN | {"summary", "context_window"}
# Kinds voicedesk wrote under another name for a while, read as the name they have now: a
# log of that time is no hand edit (its calls were called damaged and left out).
_OLDER_NAMES = {"background_tools": "pending_tools"}  # until 3e9206a


def _damage(record: dict[str, Any]) -> str | None:
    """Why a record cannot be taken as the log writes it (a hand edit, another program),
    or None. A wrong type used to crash --resume with a traceback, or slip into the
    conversation as the text "None"; a record of no kind voicedesk writes, or of a turn
    with no number, was passed over unsaid (a user line with none was turn 0)."""
    kind = record.get("type")
    if not isinstance(kind, str) or kind not in _KINDS:  # a list as its type: TypeError
        if "type" not in record:
            return "it has no type"
        return f"its type {kind!r} is not one voicedesk writes"
    if kind in _OF_A_TURN and "turn_id" not in record:
        return "it has no turn_id"
    if "turn_id" in record and _count(record["turn_id"], positive=True) is None:
        return f"turn_id {record['turn_id']!r} is not a turn number, 1 or more"
    if kind == "user" and not isinstance(record.get("text"), str):
        return "its text is not text"
    if kind in ("tools", "pending_tools"):
        messages = record.get("messages")
        if not isinstance(messages, list) or not all(_is_message(m) for m in messages):
            return "its messages are not a list of messages"
    if kind == "summary":
        if not isinstance(record.get("summary"), str):
            return "its summary is not text"
        if _count(record.get("summary_turns", 0)) is None:
            return "summary_turns is not a count"
        folded = record.get("folded_turn_ids", [])
        if not isinstance(folded, list) or any(_count(t) is None for t in folded):
            return "folded_turn_ids is not a list of turn numbers"
    if kind == "context_window":
        for key in ("window", "budget_tokens"):
            if record.get(key) is not None and _count(record[key], positive=True) is None:
                return f"{key} {record[key]!r} is not a positive number of tokens"
        for key in ("model", "endpoint"):
            if record.get(key) is not None and not isinstance(record[key], str):
                return f"{key} is not text"
    if kind in ("turn", "progress") and not isinstance(record.get("heard_text") or "", str):
        return "its heard_text is not text"
    if kind == "turn":
        for key in ("user_text", "assistant_text", "error"):
            if record.get(key) is not None and not isinstance(record[key], str):
                return f"its {key} is not text"
    if kind == "progress" and "heard_text" not in record:
        if _count(record.get("heard_at")) is None:
            return "its heard_at is not a position in the heard text"
        if not isinstance(record.get("heard_more"), str):
            return "its heard_more is not text"
    return None


def read_conversation(path: Path) -> Conversation:
    """Read once: the model's view and the person's view both come from this, so each
    damaged line is warned about once."""
    out = Conversation()
    seen: set[int] = set()
    said: list[int] = []  # the user records' turns, in the order they were logged
    retractions: list[tuple[int, int]] = []  # (retracted turn, user records logged before)
    for at, (lineno, record) in enumerate(read_numbered(path, out.damaged)):
        kind = record.get("type")
        if isinstance(kind, str) and kind in _OLDER_NAMES:
            record = {**record, "type": (kind := _OLDER_NAMES[kind])}
        damage = _damage(record)
        if damage is not None:  # the turns around it still resume
            out.damaged.append((lineno, damage))
            out.lost_words += kind == "user"
            log.warning("%s:%d: skipping a record of type %r: %s", path, lineno, kind, damage)
            continue
        turn_id = int(record.get("turn_id") or 0)
        out.last_id = max(out.last_id, turn_id)
        if kind in ("user", "tools") and turn_id not in seen:
            # A follow-up with background tool results has no user line: its tools record
            # opens it (dropping it lost the tool result and the answer built on it).
            seen.add(turn_id)
            out.order.append(turn_id)
        if kind == "user":
            out.users[turn_id] = record["text"]
            said.append(turn_id)
        elif kind == "turn":
            out.ended[turn_id] = record
            size = record.get("prompt_tokens")
            if isinstance(size, int) and not isinstance(size, bool) and size > 0:
                out.prompt_tokens = size
        elif kind == "progress":
            out.progress[turn_id] = _joined(out.progress.get(turn_id), record)
        elif kind == "pending_tools" and (ids := _call_ids(record["messages"])):
            _pending(out, turn_id, ids[0], record["messages"], at)
            _marks(out, turn_id, record)
        elif kind == "tools":  # a follow-up may call tools again: a second record adds to it
            out.tools.setdefault(turn_id, []).extend(record["messages"])
            _marks(out, turn_id, record)
            for call_id in _call_ids(record["messages"]):
                # answered: it is resumed where it was
                _answered(out, turn_id, call_id, followup=turn_id not in out.users)
        elif kind == "retracted":
            retractions.append((turn_id, len(said)))
        elif kind == "summary":
            out.summary = record["summary"]
            out.summary_turns = record.get("summary_turns", out.summary_turns)
            out.folded |= set(record.get("folded_turn_ids", []))
            out.folded_at |= dict.fromkeys(record.get("folded_turn_ids", []), at)
            for turn_id, keys in _partly_folded(record.get("partly_folded")):
                out.partly[turn_id] = (keys, at)
            if isinstance(calls := record.get("folded_calls"), list):
                out.summarised_calls = (out.summarised_calls or set()) | {
                    (c[0], c[1])
                    for c in calls
                    if isinstance(c, list) and len(c) == 2 and isinstance(c[1], str)
                }
        elif kind == "context_window":  # each refusal lowers the budget: the last one holds
            out.learnt = {
                k: record[k]
                for k in ("window", "budget_tokens", "model", "endpoint")
                if k in record
            }
    out.damaged.sort()
    out.retracted = {
        t
        for t, at in retractions
        if _taken_up(out, t, said[at - 1] if at else None)
        or _taken_up(out, t, said[at] if at < len(said) else None)
    }
    for turn_id, messages, at in out.background:  # never answered: kept where called
        if turn_id in out.folded and _not_summarised(out, turn_id, messages, at):
            out.late_calls.setdefault(turn_id, []).extend(_with_every_result(messages))
        elif turn_id in out.users or turn_id in out.tools:
            out.tools.setdefault(turn_id, []).extend(_with_every_result(messages))
    return out


def which_lines(conv: Conversation, shown: int = 3) -> str:
    """The damaged lines by number and what is wrong with each, the first ``shown`` of them,
    for the resume notice: "the warnings say which" sent the person of the terminal UI to
    a log file they did not know of, to find which line to mend."""
    said = [f"line {n} ({why})" for n, why in conv.damaged[:shown]]
    more = len(conv.damaged) - len(said)
    return ", ".join(said) + (f" and {more} more (the warnings list them)" if more > 0 else "")


def _partly_folded(value: Any) -> list[tuple[int, list[str]]]:
    """A summary record's ``partly_folded`` as [turn id, message keys] pairs, those that
    are (a hand edit's others are left out: such a turn is summarised whole again)."""
    if not isinstance(value, list):
        return []
    return [
        (item[0], item[1])
        for item in value
        if isinstance(item, list)
        and len(item) == 2
        and _count(item[0]) is not None
        and isinstance(item[1], list)
        and all(isinstance(key, str) for key in item[1])
    ]


def _summarised_part(log: Conversation, turn_id: int) -> dict[str, Any]:
    """What a summary has of the kept turn ``turn_id``, for the snapshot: said after the
    turn was last folded whole (before, it named what that fold has since taken in)."""
    keys, at = log.partly.get(turn_id, ([], -1))
    return {"summarised": keys} if keys and at > log.folded_at.get(turn_id, -1) else {}


def _not_summarised(
    conv: Conversation, turn_id: int, messages: list[dict[str, Any]], at: int
) -> bool:
    """The never-answered calls ``messages`` of the folded turn ``turn_id`` (their latest
    pending record the log's ``at``-th) are in no summary: dropped after the turn was
    folded, or, by the calls the summary records name, not in the turn when it was (a call
    still running is not in the conversation, only its holding line; killed then, its
    result never came). Older logs name no calls: there only the first is known."""
    if at > conv.folded_at.get(turn_id, at):
        return True
    if conv.summarised_calls is None:
        return False
    return all((turn_id, call_id) not in conv.summarised_calls for call_id in _call_ids(messages))


def _taken_up(conv: Conversation, turn_id: int, by: int | None) -> bool:
    """The user record ``by``, logged beside the retraction of ``turn_id``, is the turn that
    went on from it: a later turn whose words begin with the retracted turn's (a merged
    turn's do). Its retraction is written right after that turn's words (in one write),
    and was written just before them in older logs, which retracted a question the person
    went on from and then quit before the merged turn was confirmed: nothing took it up,
    and it is resumed, with its calls, rather than lost. Taken up by any later turn, a
    question asked again later in the resumed conversation ("What's the weather … in
    Paris?") took it out of the next ``--resume``, though the live conversation had it."""
    if by is None or by <= turn_id:
        return False
    return conv.users.get(by, "").startswith(conv.users.get(turn_id, ""))


def _joined(before: dict[str, Any] | None, record: dict[str, Any]) -> dict[str, Any]:
    """What an answer's progress records up to ``record`` say was heard. A record carries
    what was heard since the one before it, from ``heard_at`` in the heard text; one written
    before that (older logs) carries the whole heard text. One that goes on from past what
    is known (the record before it damaged) cannot be joined: what is known stands."""
    if "heard_text" in record:
        return record
    heard = str(before.get("heard_text") or "") if before is not None else ""
    at = record["heard_at"]
    if at > len(heard):
        return before if before is not None else {}
    return {"heard_text": heard[:at] + record["heard_more"], "whole": bool(record.get("whole"))}


def _marks(conv: Conversation, turn_id: int, record: dict[str, Any]) -> None:
    """What a tools or pending_tools record says of each of its results, for the calls of
    ``turn_id``: what the person was shown of it (a picture's "[image, image/png, 35 kB]";
    a record that says nothing of one showed the model's text) and whether its call failed
    (a record that says nothing of failures, written before they were kept, says nothing
    of them). Each is said by the result's place in its messages (``shown_at``,
    ``failed_at``); a log written before said them by call id (``shown``, ``failed``: two
    calls of one id in a record, two rounds of an answer from a server that numbers each
    answer's calls from call_0, were both marked), read so when there is no place."""
    shown = conv.shown.setdefault(turn_id, {})
    for message, text in _said_of_each(record, "shown_at", "shown", dict):
        if isinstance(text, str) and text:
            shown[id(message)] = (message, text)
    for message, mark in _said_of_each(record, "failed_at", "failed", list):
        conv.failed.setdefault(turn_id, {})[id(message)] = (message, bool(mark))


def _said_of_each(
    record: dict[str, Any], at_key: str, id_key: str, form: type
) -> Iterator[tuple[dict[str, Any], Any]]:
    """Each tool result in ``record``'s messages with what the record says of it: by its
    place (``at_key``), else by its call id (``id_key``), each of them a ``form``: a dict
    by place or id, or a list of the places or ids marked (each read as True). Nothing
    when the record has neither."""
    at, by_id = (
        v if isinstance(v, form) else None for v in (record.get(at_key), record.get(id_key))
    )
    if at is None and by_id is None:
        return
    if isinstance(at, list):
        at = {str(n): True for n in at if isinstance(n, int) and not isinstance(n, bool)}
    if isinstance(by_id, list):
        by_id = {i: True for i in by_id if isinstance(i, str)}
    for n, message in enumerate(record["messages"]):
        if not isinstance(message, dict) or message.get("role") != "tool":
            continue
        call_id = message.get("tool_call_id")
        if isinstance(at, dict):
            yield message, at.get(str(n))
        elif isinstance(by_id, dict) and isinstance(call_id, str):
            yield message, by_id.get(call_id)


def _pending(conv: Conversation, turn_id: int, first_id: str, messages: list[Any], at: int) -> None:
    """A pending_tools record (the log's ``at``-th): it supersedes the last one of the same
    calls (its turn's, with the same first call id), else the calls are new. Ids are
    unique within one run only: the sim numbers its calls from call_1 in every process
    (so do other servers), and a resumed run's call_1 is not the first run's."""
    for i in range(len(conv.background) - 1, -1, -1):
        called, earlier, _ = conv.background[i]
        if called == turn_id and _call_ids(earlier)[:1] == [first_id]:
            conv.background[i] = (turn_id, messages, at)
            return
    conv.background.append((turn_id, messages, at))


def _answered(conv: Conversation, turn_id: int, call_id: str, *, followup: bool) -> None:
    """A tools record of ``turn_id`` answered ``call_id``: the pending calls it answers are
    the turn's own; a follow-up (no user line) answers a background job of an earlier
    turn, the latest with that id (an older run's call with the same id comes before it).
    Taken by id alone, a resumed run's read answered a first run's create of the same id,
    and the next ``--resume`` lost the create."""
    for i in range(len(conv.background) - 1, -1, -1):
        called, messages, _ = conv.background[i]
        if call_id in _call_ids(messages) and (called == turn_id or followup):
            del conv.background[i]
            return


def _with_every_result(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``messages`` with a tool message for each call that has none: the process stopped
    before it came (the model's API refuses a call left unanswered)."""
    return with_every_result(messages, NO_RESULT)


def _heard(record: dict[str, Any] | None) -> str | None:
    """What the person heard of an answer; None when there is none to keep: it never
    ended (the process died), or failed, or was cut before a word was heard."""
    if record is None:
        return None
    heard = str(record.get("heard_text") or "")
    if record.get("interrupted") or record.get("error"):
        return heard or None
    return heard


def _conversation(source: Path | Conversation) -> Conversation:
    return source if isinstance(source, Conversation) else read_conversation(source)


def restore_state(source: Path | Conversation) -> tuple[dict[str, Any], int]:
    """(ContextManager snapshot, highest turn id) from a session log."""
    log = _conversation(source)
    turns = []
    for turn_id in log.kept:
        if turn_id in log.folded:
            if turn_id in log.late_calls:  # as the live conversation keeps them
                late = {"turn_id": turn_id, "messages": log.late_calls[turn_id]}
                # counted in summary_turns when it was folded
                turns.append({**late, "counted": True, **_summarised_part(log, turn_id)})
            continue
        messages = [{"role": "user", "content": log.users[turn_id]}] if turn_id in log.users else []
        messages += log.tools.get(turn_id, [])
        heard, cut, record = log.answer(turn_id)
        # an answer whose calls went on in the background keeps, as live, what of it was
        # not heard: the model's trace of those calls
        unheard = unheard_holding_line(record)
        if heard is not None or unheard:
            messages.append(answer_message(messages, heard or "", cut, unheard))
        turns.append({"turn_id": turn_id, "messages": messages, **_summarised_part(log, turn_id)})
    snapshot: dict[str, Any] = {
        "summary": log.summary,
        "summary_turns": log.summary_turns,
        "turns": turns,
        "prompt_tokens": log.prompt_tokens,
    }
    if log.learnt is not None:
        snapshot["context_window"] = log.learnt
    if log.skipped:
        snapshot["skipped_records"] = log.skipped  # for the resume notice
    return snapshot, log.last_id


def earlier_turns(source: Path | Conversation, shown: int = SHOWN_TURNS) -> ev.ConversationResumed:
    """The last ``shown`` turns of a session log as the person had them, for the
    conversation pane to show above the turns to come."""
    log = _conversation(source)
    kept = log.kept
    # calls whose messages the log keeps, in whichever turn (a background call's, in the
    # follow-up that answered it): not shown again from the turn record that started them
    logged = {call_id for messages in log.tools.values() for call_id in _call_ids(messages)}
    turns = []
    for turn_id in kept[-shown:] if shown > 0 else []:
        heard, cut, record = log.answer(turn_id)
        # a folded turn's calls dropped after it was folded are not in ``tools`` but
        # beside it: shown from the turn record alone, they read "outcome not logged"
        messages = log.tools.get(turn_id, []) + log.late_calls.get(turn_id, [])
        turns.append(
            ev.PastTurn(
                turn_id=turn_id,
                user_text=log.users.get(turn_id, ""),
                heard_text=heard or None,  # nothing heard: the person's words alone
                assistant_text=str(record.get("assistant_text") or heard or ""),
                interrupted=bool(record.get("interrupted")) or cut == "lost",
                tool_calls=tuple(
                    _tool_calls(
                        record, messages, logged, log.shown.get(turn_id), log.failed.get(turn_id)
                    )
                ),
                summarised=turn_id in log.folded,
                failed=error_said(record) if answer_cut(record) == "failed" else None,
                capped=cut == "length",
            )
        )
    return ev.ConversationResumed(
        turns=tuple(turns),
        not_shown=len(kept) - len(turns),
        summarised=sum(t in log.folded for t in kept),
    )


def _tool_calls(
    record: dict[str, Any],
    messages: list[dict[str, Any]],
    logged: Collection[str] = (),
    shown: dict[int, tuple[dict[str, Any], str]] | None = None,
    failed: dict[int, tuple[dict[str, Any], bool]] | None = None,
) -> list[ev.PastToolCall]:
    """The tools an answer called, with what each answered, from the turn's tool messages
    (the model's own record of them); else the names and arguments its turn record keeps.
    Shown from the turn record alone, every call read "outcome not logged", though the log
    held each result. ``logged``: the ids of calls whose messages the log keeps in another
    turn (a background call, answered in a follow-up), left to that turn: shown from the
    record too, such a call was listed twice. ``shown``: what the person was shown of a
    result where that was not its text for the model (an image), by its tool message's
    ``id`` (as ``failed``): shown that
    text, a resumed image read "…neither you nor the person can see it". ``failed``:
    whether each call failed, by its tool message's ``id``, where the log says. A call's
    result is the tool message of its id after it, before the next assistant message:
    two rounds of an answer may use the same ids."""
    calls = []
    for at, message in enumerate(messages):
        if message.get("role") != "assistant" or not isinstance(message.get("tool_calls"), list):
            continue
        answers: dict[Any, dict[str, Any]] = {}
        for later in messages[at + 1 :]:
            if later.get("role") == "assistant":
                break
            if later.get("role") == "tool":
                answers.setdefault(later.get("tool_call_id"), later)
        for call in message["tool_calls"]:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not function.get("name"):
                continue
            answer = answers.get(call.get("id"))
            marked = (failed or {}).get(id(answer))
            seen = (shown or {}).get(id(answer))
            content = answer.get("content") if answer is not None else None
            result = (seen[1] if seen is not None and seen[0] is answer else None) or (
                content if isinstance(content, str) else None
            )
            calls.append(
                ev.PastToolCall(
                    str(function["name"]),
                    _arguments(function.get("arguments")),
                    result,
                    marked[1] if marked is not None and marked[0] is answer else None,
                )
            )
    if calls:
        return calls
    for call in record.get("tool_calls") or []:
        if isinstance(call, dict) and call.get("name") and call.get("id") not in logged:
            calls.append(ev.PastToolCall(str(call["name"]), _arguments(call.get("arguments"))))
    return calls


def _arguments(raw: Any) -> dict[str, Any]:
    """A call's arguments: the model writes them as JSON text, the turn record as an object."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}
