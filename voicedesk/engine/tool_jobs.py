"""Tool calls for a reply, and the ones that outlast the person's patience.

A reply waits for its tools up to ``tools.tool_patience_s``. Past that, the calls keep
running here in the background: the reply says it is working on it and ends, the person can
go on talking, and when the results arrive they are handed back to the session, which
answers with them at the next quiet moment. "Never mind" / "cancel that" drops them.

The session is told of such calls as they go to the background, as their results arrive
and as they are cancelled (``keep``), to keep them in its log: handed over only at the
next quiet moment, a process killed or quit before it lost every trace of what its tools
had done.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from voicedesk.events import NoticeLevel
from voicedesk.providers.base import ToolCall

CANCEL_WORDS = re.compile(
    r"\b(never ?mind|forget (it|that|about it)|cancel (it|that|this)|stop (it|that|this))\b", re.I
)
QUIET_POLL_S = 0.05
# How long the stop key's notice waits for results already on their way (``tell_runs_on``)
SETTLE_S = 0.25
# How many tool messages' marks (a failed call, what was shown of a picture) are kept for
# the session log (``ToolJobs.failed_in``, ``shown_of``): each is logged within its answer,
# or its background job's follow-up.
MAX_FAILED_KEPT = 256
_V = TypeVar("_V")
CANCELLED_RESULT = "[cancelled: the person asked to drop it before it finished]"
# A call the person broke in on (spoke, typed, or pressed the interrupt key): the answer was
# cut, and the call with it, before its result came. What it did is not known (a create may
# have finished server-side).
INTERRUPTED_RESULT = (
    "[interrupted: the person broke in before this tool finished; "
    "it was stopped, and what it did is not known]"
)
# A call cut by the process itself: quit while it ran, or killed (``--resume`` finds it in
# the log with no result).
NO_RESULT = "[no result: voicedesk stopped before this tool finished; what it did is not known]"


class _ByMessage(Generic[_V]):
    """A value for each of the latest ``MAX_FAILED_KEPT`` tool messages, by the message
    itself: by call id, two calls of one id (a server that numbers every answer's calls
    from call_0) took each other's marks. The message is kept beside its value, so its
    ``id`` is not reused while the entry stands."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[dict[str, Any], _V]] = {}

    def put(self, message: dict[str, Any], value: _V) -> None:
        self._kept[id(message)] = (message, value)
        while len(self._kept) > MAX_FAILED_KEPT:  # logged long since, or never logged
            del self._kept[next(iter(self._kept))]

    def get(self, message: dict[str, Any]) -> _V | None:
        kept = self._kept.get(id(message))
        return kept[1] if kept is not None and kept[0] is message else None

    def pop(self, message: dict[str, Any]) -> None:
        if self.get(message) is not None:
            del self._kept[id(message)]

    def places(self, messages: list[dict[str, Any]]) -> dict[int, _V]:
        """The value of each tool message in ``messages`` that has one, by its place."""
        return {
            at: value
            for at, message in enumerate(messages)
            if message.get("role") == "tool" and (value := self.get(message)) is not None
        }


@dataclass
class ToolJob:
    """Tool calls that outlasted the patience and run on in the background."""

    turn_id: int
    assistant_msg: dict[str, Any]
    tasks: list[asyncio.Task[dict[str, Any]]]
    cancelled: bool = False
    # the person was told, as they stopped the answer, that it runs on (once a job)
    told_runs_on: bool = False


# How to drop a call in the background, said wherever it is said to run on: the stop key
# stops only the answer, and nothing told the person that words were the way.
HOW_TO_CANCEL = "Say or type “never mind” to cancel it."
HOW_TO_CANCEL_THEM = "Say or type “never mind” to cancel them."


def _how_to_cancel(many: bool) -> str:
    return HOW_TO_CANCEL_THEM if many else HOW_TO_CANCEL


class ToolJobs:
    """Runs a reply's tool calls; keeps the slow ones going after the reply has ended.

    The session supplies what this needs to know about it as callables, so this module
    does not depend on the session: ``is_quiet`` (nobody is talking or being answered),
    ``is_closing``, ``deliver`` (answer with these tool messages), ``notice``, ``set_state``
    and ``spawn`` (a task the session tracks and cancels on stop).
    """

    def __init__(
        self,
        tools: Any,
        *,
        patience_s: float,
        is_quiet: Callable[[], bool],
        is_closing: Callable[[], bool],
        deliver: Callable[[list[dict[str, Any]]], None],
        notice: Callable[[NoticeLevel, str], None],
        set_state: Callable[[Any], None],
        spawn: Callable[[Any], asyncio.Task[Any]],
        keep: Callable[[int, list[dict[str, Any]]], None] = lambda turn_id, messages: None,
        dropped: Callable[[int, list[dict[str, Any]]], None] = lambda turn_id, messages: None,
    ) -> None:
        """``keep(turn_id, messages)``: a background job's assistant message, with the tool
        messages it has so far (none while it runs), each time that changes.
        ``dropped(turn_id, messages)``: a job the person cancelled, with a tool message for
        each call (its result if it came, else :data:`CANCELLED_RESULT`): never answered,
        it is for the conversation to keep in the turn that called it."""
        self.tools = tools
        self.patience_s = patience_s
        self._is_quiet = is_quiet
        self._is_closing = is_closing
        self._deliver = deliver
        self._notice = notice
        self._set_state = set_state
        self._spawn = spawn
        self._keep = keep
        self._dropped = dropped
        self.jobs: list[ToolJob] = []
        # What the person was shown of a call's result where that is not its text for the
        # model (an image: "[image, image/png, 34 kB]"), until the session logs it beside
        # the call's messages (``shown_of``) for ``--resume`` to show again; dropped with a
        # job the person cancelled. By call id, a later call of the same id (call_0 again,
        # in the next round or turn) was logged as shown the picture.
        self._shown: _ByMessage[str] = _ByMessage()
        # The tool messages of the calls that failed (the server's isError), for the
        # session log to say so (``failed_in``): resumed, a result is shown without the
        # MCP SDK's "Error executing tool …" only if its call failed. By call id, a
        # background call and a later turn's call with the same id took each other's mark.
        self._failed: _ByMessage[bool] = _ByMessage()
        # jobs the stop key was pressed over whose notice waits for results on their way
        self._untold: list[ToolJob] = []

    async def run(
        self,
        turn_id: int,
        calls: list[ToolCall],
        assistant_msg: dict[str, Any],
        *,
        on_results: Callable[[list[dict[str, Any]]], None] | None = None,
        person_turn: int | None = None,
    ) -> list[dict[str, Any]] | None:
        """The tool messages, or None when the calls were left running in the background.

        ``on_results``: handed the tool messages of the calls finished so far each time
        one finishes, and once more when the reply is cut while they run (the person
        spoke over it), before the calls still running are cancelled: the answer keeps
        what its tools did (a result that came just as the person broke in is the real
        one, not a guess). As each finishes, not only at the cut: an answer taken back
        (``Session._went_on``) hands its calls over before its task has seen the cancel,
        and a result that had come was told to the model as "interrupted".
        ``person_turn``: the last turn the person spoke or typed, for the tools (see
        :meth:`ToolManager.call`); by default ``turn_id``."""
        self._set_state("tool")
        # One answer's calls share an id: the documents server refuses an edit by a
        # paragraph number that another of them has moved (all used the same numbers).
        # Not a call's id: some servers number every answer's calls from call_0.
        answer = uuid.uuid4().hex
        person = turn_id if person_turn is None else person_turn
        tasks = [asyncio.create_task(self._call(turn_id, call, answer, person)) for call in calls]

        def came(_: object = None) -> None:
            if on_results is not None:
                on_results([t.result() for t in tasks if _finished(t)])

        for task in tasks:
            task.add_done_callback(came)
        try:
            _, pending = await asyncio.wait(tasks, timeout=self.patience_s)
        except asyncio.CancelledError:  # the reply was cut: the person moved on
            came()
            for task in tasks:
                task.cancel()
            raise
        self._set_state("thinking")
        if pending:
            job = ToolJob(turn_id=turn_id, assistant_msg=assistant_msg, tasks=tasks)
            self.jobs.append(job)
            self._keep(turn_id, [assistant_msg])
            self._spawn(self._finish(job))
            running = [c.name for c, t in zip(calls, tasks, strict=True) if t in pending]
            names, many = _named(running)
            self._notice(
                "info",
                f"{names} {'are' if many else 'is'} still running; "
                f"{'their answers' if many else 'its answer'} will follow. {_how_to_cancel(many)}",
            )
            return None
        return [t.result() for t in tasks]

    def tell_runs_on(self) -> None:
        """The person stopped the answer (the stop key): calls in the background run on,
        by design, and come back answered. Said once a job, with how to drop them: cut,
        the holding line had said nothing, and stopping looked like stopping it all."""
        jobs = [job for job in self.jobs if not job.cancelled and not job.told_runs_on]
        if not jobs:
            return
        for job in jobs:
            job.told_runs_on = True
        self._untold += jobs
        running = [task for job in jobs for task in job.tasks if not task.done()]
        if not running:
            self._tell_stopped()
            return
        # A result can be on its way: the server has answered, its card is about to show
        # ✓, but the call's task has not yet taken it (the MCP client reads it a few steps
        # of the loop later). Told at once, the notice said "still running" of a call whose
        # card showed it done and whose answer came as it was read. Its result is waited
        # for a moment: a call still running then is one.
        self._spawn(self._tell_when_settled(running))

    async def _tell_when_settled(self, running: list[asyncio.Task[dict[str, Any]]]) -> None:
        await asyncio.wait(running, timeout=SETTLE_S)
        self._tell_stopped()

    def _tell_stopped(self) -> None:
        """The stop key's notice of the jobs it has not yet told of (``tell_runs_on``), as
        their calls are now; told before "never mind" drops them, as it was pressed."""
        jobs, self._untold = [job for job in self._untold if not job.cancelled], []
        if not jobs:
            return
        calls = [
            (str(call.get("function", {}).get("name")), task.done())
            for job in jobs
            for call, task in zip(job.assistant_msg.get("tool_calls") or [], job.tasks, strict=True)
        ]
        # Their results may all be in already, waiting only for this answer to end: "still
        # running" then sent the person looking for a call that was done. Some done, only
        # the others run on: named with them, a call that had failed at once read as running.
        done = all(finished for _, finished in calls)
        names, many = _named([name for name, finished in calls if done or not finished])
        running = (
            f"{'have' if many else 'has'} finished in the background"
            if done
            else f"{'are' if many else 'is'} still running in the background"
        )
        self._notice(
            "info",
            f"Stopped the answer; {names} {running}, and "
            f"{'their answers' if many else 'its answer'} will follow. {_how_to_cancel(many)}",
        )

    def cancel_if_asked(self, text: str) -> None:
        """ "Never mind" / "cancel that" drops tools still running in the background."""
        # a job already dropped stays listed until its task has seen it: dropped once
        jobs = [job for job in self.jobs if not job.cancelled]
        if jobs and CANCEL_WORDS.search(text):
            self._tell_stopped()  # the stop key pressed before these words, told before them
            tasks = [task for job in jobs for task in job.tasks]
            many = len([t for t in tasks if not t.done()] or tasks) > 1
            for job in jobs:
                job.cancelled = True
                messages = [job.assistant_msg, *_cancelled(job)]
                if not all(task.done() for task in job.tasks):  # done, their results are kept
                    self._keep(job.turn_id, messages)
                self._dropped(job.turn_id, messages)
                for task in job.tasks:
                    task.cancel()
                # Never answered, its calls' messages are logged only as pending, never
                # through ``shown_of``: kept, what was shown of a result stayed for the
                # rest of the session.
                for task in job.tasks:
                    if _finished(task):
                        self._shown.pop(task.result())
            self._notice(
                "info",
                "Cancelled the tools that were still running."
                if many
                else "Cancelled the tool that was still running.",
            )

    async def _call(
        self, turn_id: int, call: ToolCall, answer: str = "", person_turn: int | None = None
    ) -> dict[str, Any]:
        # As the model wrote them: arguments that are no JSON object (unfinished, or cut
        # off at the answer's length limit) are the tool manager's to refuse, not to run
        # as none; it tells which from ``cut_off``, not from the text's shape alone.
        result = await self.tools.call(
            call.name,
            call.arguments,
            call_id=call.id,
            turn_id=turn_id,
            cut_off=call.cut_off,
            answer_id=answer,
            person_turn=person_turn,
        )
        message = {"role": "tool", "tool_call_id": call.id, "content": result.text}
        if result.shown:
            self._shown.put(message, result.shown)
        if result.is_error:
            self._failed.put(message, True)
        return message

    def failed_in(self, messages: list[dict[str, Any]]) -> list[int]:
        """Where in ``messages`` the results of the calls that failed are (each a tool
        message this made, the session log's ``failed_at``): by place, as a record may
        hold two calls of one id (two rounds of an answer, from a server that numbers
        each answer's calls from call_0)."""
        return list(self._failed.places(messages))

    def shown_of(self, messages: list[dict[str, Any]]) -> dict[int, str]:
        """What the person was shown of the results among ``messages`` where it was not
        the text the model was given, by the result's place in ``messages`` (the session
        log's ``shown_at``, as ``failed_in``: two rounds of one answer may both have a
        call_0); taken: each is logged once."""
        shown = self.shown_in(messages)
        for at in shown:
            self._shown.pop(messages[at])
        return shown

    def shown_in(self, messages: list[dict[str, Any]]) -> dict[int, str]:
        """:meth:`shown_of`, left in place: a background call's pending record has it, for
        ``--resume`` to show a call the person then dropped as they were shown it (never
        answered, it is logged in no other record); the answer's record takes it later."""
        return self._shown.places(messages)

    async def _finish(self, job: ToolJob) -> None:
        """Wait for a background job, then hand its results over when nobody is talking."""
        # The job stays listed until its answer is handed over, so a "never mind" said
        # while the results wait for a quiet moment still drops them.
        try:
            results = await asyncio.gather(*job.tasks)
            self._keep(job.turn_id, [job.assistant_msg, *results])
            while not self._is_closing() and not job.cancelled and not self._is_quiet():
                await asyncio.sleep(QUIET_POLL_S)
        except asyncio.CancelledError:
            for task in job.tasks:
                task.cancel()
            if job.cancelled:
                return  # "never mind": cancelling its tasks is how it was dropped
            raise
        finally:
            if job in self.jobs:
                self.jobs.remove(job)
        if self._is_closing() or job.cancelled:
            return
        # The words said with the calls ("Let me write that down.") are in the answer that
        # made them, heard or kept as unheard with its holding line: sent again with the
        # calls in the turn answering their results, the model read them said twice.
        self._deliver([{**job.assistant_msg, "content": None}, *results])


def _named(names: list[str]) -> tuple[str, bool]:
    """Tool names as a notice says them, and whether they are several calls: a round of
    two calls was told as "a, b is still running", and one calling the same tool twice
    named it twice."""
    if not names:
        return "the tool", False
    counts = dict.fromkeys(names, 0)
    for name in names:
        counts[name] += 1
    said = [
        name if n == 1 else f"{name} ({'twice' if n == 2 else f'{n} calls'})"
        for name, n in counts.items()
    ]
    joined = said[0] if len(said) == 1 else f"{', '.join(said[:-1])} and {said[-1]}"
    return joined, len(names) > 1


def _finished(task: asyncio.Task[dict[str, Any]]) -> bool:
    """The call's tool message has come."""
    return task.done() and not task.cancelled() and task.exception() is None


def _cancelled(job: ToolJob) -> list[dict[str, Any]]:
    """The job's tool messages as it is dropped: the results that came, else the mark."""
    out = []
    for call, task in zip(job.assistant_msg["tool_calls"], job.tasks, strict=True):
        if _finished(task):  # the message itself: ``failed_in`` knows it
            out.append(task.result())
        else:
            out.append({"role": "tool", "tool_call_id": call["id"], "content": CANCELLED_RESULT})
    return out


def call_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The ids of the tool calls the assistant messages among ``messages`` make."""
    ids = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                ids.append(call["id"])
    return ids


def with_every_result(messages: list[dict[str, Any]], missing: str) -> list[dict[str, Any]]:
    """``messages`` with a tool message saying ``missing`` for each call that has none: the
    model's API refuses an assistant message whose tool calls are not all answered."""
    answered = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    unanswered = [
        {"role": "tool", "tool_call_id": call_id, "content": missing}
        for call_id in call_ids(messages)
        if call_id not in answered
    ]
    return [*messages, *unanswered]
