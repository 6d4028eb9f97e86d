"""Rebuild a conversation from its session log (``voicedesk --resume``).

The log is append-only and fsynced per record, so after a crash it holds every turn the
person confirmed: the user line is written the moment the turn is confirmed, the turn record
when its answer ends, tool exchanges with it (a follow-up answering background tool results
has no user line; its tools record comes first), a summary record whenever the
background summariser folds turns, and a context_window record whenever the model refused a
request as too long and the budget was lowered to fit its window. Replaying it gives the
same summary + window the model saw, within the budget it last took; a turn whose answer
never finished (the process died) comes back as the person's words alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from voicedesk.engine.context import CUT_MARK
from voicedesk.engine.session_log import read_log


def restore_state(path: Path) -> tuple[dict[str, Any], int]:
    """(ContextManager snapshot, highest turn id) from a session log."""
    summary, folded = "", set()
    summary_turns = 0
    retracted: set[int] = set()
    order: list[int] = []
    seen: set[int] = set()
    users: dict[int, str] = {}
    assistants: dict[int, dict[str, Any]] = {}
    tools: dict[int, list[dict[str, Any]]] = {}
    learnt: dict[str, Any] | None = None  # the last refusal's lesson (older logs: none)
    last_id = 0
    for record in read_log(path):
        kind = record.get("type")
        turn_id = int(record.get("turn_id") or 0)
        last_id = max(last_id, turn_id)
        if kind in ("user", "tools") and turn_id not in seen:
            # A follow-up with background tool results has no user line: its tools record
            # opens it (dropping it lost the tool result and the answer built on it).
            seen.add(turn_id)
            order.append(turn_id)
        if kind == "user":
            users[turn_id] = str(record.get("text", ""))
        elif kind == "turn":
            heard = str(record.get("heard_text") or "")
            if record.get("interrupted"):
                if heard:
                    assistants[turn_id] = {"role": "assistant", "content": heard.strip() + CUT_MARK}
            elif heard or not record.get("error"):
                assistants[turn_id] = {"role": "assistant", "content": heard}
        elif kind == "tools":  # a follow-up may call tools again: a second record adds to it
            tools.setdefault(turn_id, []).extend(record.get("messages") or [])
        elif kind == "retracted":
            retracted.add(turn_id)
        elif kind == "summary":
            summary = str(record.get("summary", ""))
            summary_turns = int(record.get("summary_turns", summary_turns))
            folded |= {int(t) for t in record.get("folded_turn_ids", [])}
        elif kind == "context_window":  # each refusal lowers the budget: the last one holds
            learnt = {k: record.get(k) for k in ("window", "budget_tokens", "model")}
    turns = []
    for turn_id in order:
        if turn_id in retracted or turn_id in folded:
            continue
        messages = [{"role": "user", "content": users[turn_id]}] if turn_id in users else []
        messages += tools.get(turn_id, [])
        if turn_id in assistants:
            messages.append(assistants[turn_id])
        turns.append({"turn_id": turn_id, "messages": messages})
    snapshot: dict[str, Any] = {"summary": summary, "summary_turns": summary_turns, "turns": turns}
    if learnt is not None:
        snapshot["context_window"] = learnt
    return snapshot, last_id
