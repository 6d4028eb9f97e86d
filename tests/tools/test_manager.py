"""ToolManager against real MCP server processes: the built-in documents server, and a small
server written here that can crash, hang or report progress on demand. No mocks: what matters
is how real processes, pipes and the SDK behave when things go wrong.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import mcp_types as mt
import pytest
from mcp_servers import one_server_settings

from voicedesk import events as ev
from voicedesk.config import Settings
from voicedesk.tools import manager as manager_module
from voicedesk.tools.manager import ToolManager, llm_tool_name
from voicedesk.tools.results import result_texts, spoken_summary

# The tools two of the servers below offer: one that answers, one that crashes the server.
PING_AND_BOOM_TOOLS = """

@server.tool()
def ping() -> str:
    \"\"\"Answer pong.\"\"\"
    return "pong"


@server.tool()
def boom() -> str:
    \"\"\"Crash the whole server process.\"\"\"
    sys.stderr.write("about to crash\\n")
    sys.stderr.flush()
    os._exit(1)
"""

FLAKY_SERVER = (
    """\
import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer

with open(sys.argv[1], "a") as fh:  # lets the test check that every process it started is gone
    fh.write(f"{os.getpid()}\\n")

server = MCPServer("flaky")
"""
    + PING_AND_BOOM_TOOLS
    + """

@server.tool()
async def slow(ctx: Context) -> str:
    \"\"\"Report progress, then take thirty seconds.\"\"\"
    await ctx.report_progress(1, 2, "halfway")
    await asyncio.sleep(30)
    return "done"


server.run("stdio")
"""
)


def children() -> set[int]:
    """Live child processes of this test process (Linux /proc; zombies count as leaks too)."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[1] == me:  # fields: state, ppid, ...
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


class Recorder:
    def __init__(self, bus: ev.EventBus) -> None:
        self.events: list[ev.Event] = []
        bus.subscribe(self.events.append)

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def flaky_settings(tmp_path: Path, timeout_s: float = 10.0) -> Settings:
    script = tmp_path / "flaky_server.py"
    script.write_text(FLAKY_SERVER)
    return Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "flaky": {
                        "command": sys.executable,
                        "args": [str(script), str(tmp_path / "pids.txt")],
                        "timeout_s": timeout_s,
                    },
                    "off": {"command": "never-started", "enabled": False},
                },
            }
        }
    )


def pids(tmp_path: Path) -> list[int]:
    path = tmp_path / "pids.txt"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@contextlib.asynccontextmanager
async def running(manager: ToolManager) -> AsyncIterator[ToolManager]:
    """``manager`` started, and closed however the block ends: every test that runs server
    processes must stop them, or they outlive it (and the leak checks of the others)."""
    await manager.start()
    try:
        yield manager
    finally:
        await manager.aclose()


async def _started_as_all_answered(manager: ToolManager, monkeypatch: pytest.MonkeyPatch) -> None:
    """Start ``manager`` with its bound on the start (START_WAIT_S) made an hour: the start
    returns only because every server answered, up or failed, which is what is checked. A
    bound of 10 s on the start's wall time timed a loaded machine instead (the documents
    server's start alone can take seconds there); the 120 s here only stop a hang."""
    monkeypatch.setattr(manager_module, "START_WAIT_S", 3600.0)
    async with asyncio.timeout(120):
        await manager.start()
    assert not manager.starting()


@needs_proc
async def test_docs_server_tools_and_events(
    tmp_path: Path, capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "a.md").write_text("# Title\n\nHello world.\n")
    settings = Settings.model_validate({"tools": {"workspace": str(workspace)}})
    bus = ev.EventBus()
    rec = Recorder(bus)
    before = children()
    manager = ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")
    await _started_as_all_answered(manager, monkeypatch)
    try:
        names = {t["function"]["name"] for t in manager.llm_tools()}
        assert {"docs__list_documents", "docs__read_document"} <= names
        spec = next(
            t for t in manager.llm_tools() if t["function"]["name"] == "docs__read_document"
        )
        assert spec["type"] == "function"
        assert spec["function"]["parameters"]["type"] == "object"
        assert "path" in spec["function"]["parameters"]["properties"]
        assert spec["function"]["description"]

        result = await manager.call("docs__list_documents", {}, call_id="c1", turn_id=3)
        assert not result.is_error
        assert "a.md" in result.text
        assert result.spoken == "1 document in the workspace."
        assert result.duration_s > 0

        read = await manager.call("docs__read_document", {"path": "a.md"}, call_id="c2")
        assert "Hello world." in read.text

        missing = await manager.call("docs__read_document", {"path": "nope.md"}, call_id="c3")
        assert missing.is_error and "nope.md" in missing.text

        unknown = await manager.call("docs__fly", {}, call_id="c4")
        assert unknown.is_error and "no tool called docs__fly" in unknown.text

        # A wrong argument reaches the model (and the tools pane) as one short line, not
        # pydantic's dump.
        wrong = await manager.call("docs__read_document", {"path": 5}, call_id="c5")
        assert wrong.is_error
        assert wrong.text.splitlines()[1:] == ["- path: expected text; got the number 5."]
        assert wrong.spoken == (
            "Error executing tool read_document: 1 argument of read_document is wrong, so "
            "nothing was done. Correct it and call read_document again:"
        )
    finally:
        await manager.aclose()

    started = rec.of(ev.ToolCallStarted)
    assert [(e.call_id, e.turn_id, e.name) for e in started][:1] == [
        ("c1", 3, "docs__list_documents")
    ]
    finished = {e.call_id: e for e in rec.of(ev.ToolCallFinished)}
    assert set(finished) == {"c1", "c2", "c3", "c4", "c5"}
    assert finished["c5"].result_text == wrong.text
    assert "a.md" in finished["c1"].result_text and not finished["c1"].is_error
    assert finished["c1"].spoken_summary == "1 document in the workspace."
    assert finished["c3"].is_error and finished["c4"].is_error
    assert not rec.of(ev.Notice)
    assert children() <= before  # the server process is gone
    assert capfd.readouterr().out == ""  # nothing leaked onto the terminal


async def test_the_documents_tools_cost_few_tokens_in_every_request(tmp_path: Path) -> None:
    """Every request to the language model carries the tools, before its first word: the
    documents tools took 2,127 tokens, 633 of them edit_document's (a 1,373-character
    description, and pydantic's titles such as "Start Paragraph" on every argument)."""
    from voicedesk.engine.tokens import _offline_encoding, as_json

    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = Settings.model_validate({"tools": {"workspace": str(workspace)}})
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:
        tools = manager.llm_tools()
    encoding = _offline_encoding()
    tokens = {t["function"]["name"]: len(encoding.encode(as_json(t))) for t in tools}
    assert len(tokens) == 11
    assert sum(tokens.values()) < 1_800, tokens
    assert tokens["docs__edit_document"] < 450, tokens
    assert '"title"' not in as_json(tools)
    edit = next(t for t in tools if t["function"]["name"] == "docs__edit_document")
    # what the model must still know before its first edit
    for needed in ("read_document or outline", "confirmed=true", "'Notes #2'", "Word"):
        assert needed in edit["function"]["description"]


def _plan(tmp_path: Path) -> Path:
    """A workspace holding plan.md: a heading and four paragraphs, "Two." to "Five."."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    plan = workspace / "plan.md"
    plan.write_text("# Plan\n\nTwo.\n\nThree.\n\nFour.\n\nFive.\n")
    return plan


@contextlib.asynccontextmanager
async def _plan_tools(tmp_path: Path) -> AsyncIterator[tuple[ToolManager, Any]]:
    """The tools on ``_plan``'s workspace, and ``edit(answer, call_id, **args)``: a
    replace_paragraph of plan.md as a call of the answer ``answer``."""
    settings = Settings.model_validate({"tools": {"workspace": str(tmp_path / "ws")}})
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:

        async def edit(answer: str, call_id: str, **args: Any) -> Any:
            args = {"path": "plan.md", "action": "replace_paragraph", **args}
            return await manager.call(
                "docs__edit_document", args, call_id=call_id, answer_id=answer
            )

        yield manager, edit


async def test_an_edit_by_a_number_another_call_of_the_answer_moved_is_refused(
    tmp_path: Path,
) -> None:
    """The calls of one answer are all written with the numbers the model knew before it:
    "split paragraph 2 in two, and change paragraph 4" changed what had been paragraph 3,
    and said it had done as asked. The manager tells the documents server which answer a
    call is part of; an edit by a number another call of it moved is refused, showing what
    the numbers hold now, and the next answer's retry goes through."""
    plan = _plan(tmp_path)
    async with _plan_tools(tmp_path) as (manager, edit):
        await manager.call("docs__read_document", {"path": "plan.md"}, call_id="r")
        split = await edit("a1", "c1", paragraph=2, text="Two a.\n\nTwo b.")
        assert not split.is_error
        moved = await edit("a1", "c2", paragraph=4, text="Four new.")
        assert moved.is_error and "paragraph 4 may not be the one meant" in moved.text
        assert "[4] Three.\n[5] Four." in moved.text
        assert plan.read_text() == "# Plan\n\nTwo a.\n\nTwo b.\n\nThree.\n\nFour.\n\nFive.\n"
        before = await edit("a1", "c3", paragraph=1, text="# The plan")  # not moved
        assert not before.is_error, before.text
        again = await edit("a2", "c4", paragraph=5, text="Four new.")  # the next answer
        assert not again.is_error, again.text
        # an undo in an answer moves numbers for its other calls too
        await manager.call("docs__undo", {"path": "plan.md"}, call_id="u", answer_id="a3")
        await manager.call("docs__undo", {"path": "plan.md"}, call_id="v", answer_id="a3")
        await manager.call("docs__undo", {"path": "plan.md"}, call_id="w", answer_id="a3")
        gone = await edit("a3", "c5", paragraph=3, text="Three new.")
        assert gone.is_error and "may not be the one meant" in gone.text
    assert plan.read_text() == "# Plan\n\nTwo.\n\nThree.\n\nFour.\n\nFive.\n"


async def test_unfinished_arguments_are_said_cut_at_the_length_limit_only_when_they_were(
    tmp_path: Path,
) -> None:
    """Arguments with an unclosed ``{`` were always told as "cut off at the answer's length
    limit ... Make the call shorter", even from an answer whose finish_reason was "stop":
    the model was told to shorten a call that was not too long. Only a call of an answer
    that reached the limit (``cut_off``) is said to have been cut there."""
    plan = _plan(tmp_path)
    broken = '{"path": "plan.md", "action": "replace_paragraph", "paragraph": 2, "text": "X"'
    async with _plan_tools(tmp_path) as (manager, _):
        unfinished = await manager.call("docs__edit_document", broken, call_id="a")
        cut = await manager.call("docs__edit_document", broken, call_id="b", cut_off=True)
        blank = await manager.call("docs__edit_document", "", call_id="c", cut_off=True)
        whole = await manager.call("docs__read_document", '{"path": "plan.md"}', call_id="d")
        read_at_limit = await manager.call(
            "docs__read_document", '{"path": "plan.md"}', call_id="e", cut_off=True
        )
    assert unfinished.is_error
    assert "length limit" not in unfinished.text and "shorter" not in unfinished.text
    assert unfinished.text.startswith(
        "The arguments of this call to docs__edit_document are unfinished JSON"
    ), unfinished.text
    assert "complete JSON object" in unfinished.text
    assert cut.is_error and "cut off at the answer's length limit" in cut.text
    assert blank.is_error and "cut off at the answer's length limit" in blank.text
    # whole arguments run, also when the answer stopped at its limit just after them
    assert not whole.is_error and "Two." in whole.text
    assert not read_at_limit.is_error, read_at_limit.text
    assert plan.read_text() == "# Plan\n\nTwo.\n\nThree.\n\nFour.\n\nFive.\n"


async def test_a_deletion_is_confirmed_only_in_a_later_turn_than_its_question(
    tmp_path: Path,
) -> None:
    """A document the assistant read may say "delete paragraph 2, and confirm it": the
    model asked, then called again with confirmed=true in the next tool round of the same
    answer, and the paragraph went without the person ever hearing the question. The
    manager tells the documents server which turn a call is for; a confirmation counts
    only in a later turn than its question, once the person has spoken."""
    plan = _plan(tmp_path)
    original = plan.read_text()
    async with _plan_tools(tmp_path) as (manager, _):

        async def delete(turn: int, answer: str, confirmed: bool) -> Any:
            args = {"path": "plan.md", "action": "delete_paragraph", "paragraph": 2}
            return await manager.call(
                "docs__edit_document",
                {**args, "confirmed": confirmed},
                call_id=f"{answer}-call",
                turn_id=turn,
                answer_id=answer,
            )

        await manager.call("docs__read_document", {"path": "plan.md"}, call_id="r", turn_id=1)
        asked = await delete(1, "a1", confirmed=False)
        assert "needs the person's confirmation" in asked.text
        own_yes = await delete(1, "a2", confirmed=True)  # the same answer's next round
        assert "once the person has answered it" in own_yes.text
        assert plan.read_text() == original
        done = await delete(2, "a3", confirmed=True)  # the person said yes: their turn
        assert not done.is_error and "needs the person's confirmation" not in done.text
    assert plan.read_text() == original.replace("Two.\n\n", "")


async def test_a_refused_edit_says_where_the_paragraph_meant_is_now(tmp_path: Path) -> None:
    """ "Make paragraph 2 four points, and change paragraph 4": the first call made
    paragraph 4 ("Four.") paragraph 7, and the refusal of the second showed only paragraphs
    3 to 5, all new points, with "Retry with the number of the paragraph meant": the model
    could not tell that number without reading the document again. The refusal now says
    which paragraph the one meant (as numbered before the answer) is now, and a retry by
    that number changes it."""
    plan = _plan(tmp_path)
    async with _plan_tools(tmp_path) as (manager, edit):
        await manager.call("docs__read_document", {"path": "plan.md"}, call_id="r")
        points = "Point A.\n\nPoint B.\n\nPoint C.\n\nPoint D."
        assert not (await edit("a1", "c1", paragraph=2, text=points)).is_error
        moved = await edit("a1", "c2", paragraph=4, text="Four new.")
        assert moved.is_error and "may not be the one meant" in moved.text
        assert "paragraph 4 before this answer (“Four.”) is now paragraph 7" in moved.text
        assert "[7] Four." in moved.text
        # what another call of the answer changed itself is said to be gone, not guessed at
        gone = await edit("a1", "c3", paragraph=2, text="Two new.")
        assert gone.is_error and "paragraph 2 before this answer" in gone.text
        assert "was changed by that other change" in gone.text
        again = await edit("a2", "c4", paragraph=7, text="Four new.")
        assert not again.is_error, again.text
    assert plan.read_text() == (
        "# Plan\n\nPoint A.\n\nPoint B.\n\nPoint C.\n\nPoint D.\n\nThree.\n\nFour new.\n\nFive.\n"
    )


async def test_missing_workspace_is_skipped_with_a_warning(tmp_path: Path) -> None:
    settings = Settings.model_validate({"tools": {"workspace": str(tmp_path / "absent")}})
    bus = ev.EventBus()
    rec = Recorder(bus)
    manager = ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")
    await manager.start()
    await manager.aclose()
    assert manager.llm_tools() == []
    notices = rec.of(ev.Notice)
    assert len(notices) == 1 and notices[0].level == "warning"
    assert "absent" in notices[0].message


@needs_proc
async def test_crashed_server_is_restarted(tmp_path: Path) -> None:
    bus = ev.EventBus()
    rec = Recorder(bus)
    before = children()
    async with running(
        ToolManager(flaky_settings(tmp_path), bus=bus, log_dir=tmp_path / "logs")
    ) as manager:
        assert {t["function"]["name"] for t in manager.llm_tools()} == {
            "flaky__ping",
            "flaky__boom",
            "flaky__slow",
        }
        assert (await manager.call("flaky__ping", {}, call_id="p0")).text == "pong"

        crashed = await manager.call("flaky__boom", {}, call_id="b1")
        assert crashed.is_error
        assert "restarting" in crashed.text

        deadline = time.monotonic() + 10
        answers = []
        while time.monotonic() < deadline:
            result = await manager.call("flaky__ping", {}, call_id=f"p{len(answers) + 1}")
            answers.append(result)
            if not result.is_error:
                break
            assert "restarting" in result.text  # down: a clear answer, not an exception
            await asyncio.sleep(0.1)
        assert answers[-1].text == "pong" and not answers[-1].is_error
        assert manager.status() == {"flaky": "up"}
        assert len(pids(tmp_path)) == 2  # the first process died, a second one answers

    levels = [(n.level, n.message) for n in rec.of(ev.Notice)]
    assert any(
        level == "warning" and "flaky" in msg and "Restarting" in msg for level, msg in levels
    )
    assert any(level == "info" and "flaky" in msg for level, msg in levels)
    assert "about to crash" in (tmp_path / "logs" / "mcp-flaky.log").read_text()
    assert not any(alive(pid) for pid in pids(tmp_path))
    assert children() <= before


CHATTY_SERVER = (
    """\
import os
import sys

from mcp.server.mcpserver import MCPServer

line = "debug: " + "x" * 200 + "\\n"
for _ in range(15_000):  # about 3 MB of chatter on stderr before it serves
    sys.stderr.write(line)
sys.stderr.flush()
server = MCPServer("chatty")
"""
    + PING_AND_BOOM_TOOLS
    + """

server.run("stdio")
"""
)


async def test_a_server_flooding_its_stderr_does_not_fill_the_drive(tmp_path: Path) -> None:
    """A server's stderr went straight to its log file, which was started afresh only at
    the next launch: one that flooded it (a debug loop) wrote 2 GB in 8 s, on the drive the
    session log and the documents are written to. The log is cut to its last part while
    the server runs, and a crash is still told with the server's last words."""
    bus = ev.EventBus()
    rec = Recorder(bus)
    log_file = tmp_path / "logs" / "mcp-chatty.log"
    async with running(
        ToolManager(
            one_server_settings(tmp_path, "chatty", CHATTY_SERVER),
            bus=bus,
            log_dir=tmp_path / "logs",
        )
    ) as manager:
        assert (await manager.call("chatty__ping", {}, call_id="p1")).text == "pong"
        deadline = time.monotonic() + 30  # only catches a log never cut
        while log_file.stat().st_size > manager_module.LOG_MAX_BYTES:
            assert time.monotonic() < deadline, log_file.stat().st_size
            await asyncio.sleep(0.1)
        text = log_file.read_text()
        assert text.startswith(manager_module.LOG_CUT_LINE)
        assert text.splitlines()[1] == "debug: " + "x" * 200  # whole lines kept
        crashed = await manager.call("chatty__boom", {}, call_id="b1")
        assert crashed.is_error
        deadline = time.monotonic() + 10
        while not [n for n in rec.of(ev.Notice) if "stopped" in n.message]:
            assert time.monotonic() < deadline, [n.message for n in rec.of(ev.Notice)]
            await asyncio.sleep(0.1)
    (said,) = [n.message for n in rec.of(ev.Notice) if "stopped" in n.message]
    assert "“chatty”" in said and "about to crash" in said, said


async def test_a_call_while_a_crashed_server_is_tried_again_says_why_it_is_down(
    tmp_path: Path,
) -> None:
    """A server that crashed is started again after a back-off, and each try cleared
    the reason it was down: a call made while the new process had not yet answered was
    told it was "down (starting up)", as if it had never run, and the model relayed that
    instead of the crash. The reason of the last stop is kept until it is up again."""
    settings = flaky_settings(tmp_path)
    script = tmp_path / "flaky_server.py"
    hang_when_restarted = (
        "import pathlib, sys, time\n"
        "if pathlib.Path(sys.argv[1]).exists():\n"
        "    time.sleep(60)  # its handshake never ends\n"
    )
    script.write_text(hang_when_restarted + FLAKY_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        assert (await manager.call("flaky__boom", {}, call_id="b")).is_error
        # the back-off (0.5 s) is over: the second process runs, not yet answering. Waited
        # for by its process (one that has not written its pid: it hangs before that),
        # not 1.5 s: a loaded machine still in the back-off asked while nothing was tried
        first = (tmp_path / "pids.txt").read_text().split()
        deadline = time.monotonic() + 60
        while not {str(pid) for pid in children()} - set(first):
            assert time.monotonic() < deadline, "the server was never started again"
            await asyncio.sleep(0.05)
        down = await manager.call("flaky__ping", {}, call_id="p")
        assert down.is_error and "starting up" not in down.text, down.text
        assert "about to crash" in down.text, down.text
        assert "about to crash" in manager.why_down("flaky")


async def _stray_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, before: str
) -> list[logging.LogRecord]:
    """The warnings of stray stdout lines from the flaky server run with ``before`` first
    (which it still serves: a ping is answered)."""
    settings = flaky_settings(tmp_path)  # (writes the plain server)
    (tmp_path / "flaky_server.py").write_text(before + FLAKY_SERVER)
    manager = ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    with caplog.at_level(logging.WARNING):
        await manager.start()
        try:
            assert (await manager.call("flaky__ping", {}, call_id="p0")).text == "pong"
        finally:
            await manager.aclose()
    return [r for r in caplog.records if "not an MCP message" in r.getMessage()]


async def test_a_stray_print_in_a_server_is_one_line_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that prints to stdout before it serves: the SDK skips the line and logged
    it with a pydantic traceback on our stderr. One warning line says what it was, and
    which configured server wrote it ("a tool server" left the person to guess among
    all of theirs)."""
    (stray,) = await _stray_lines(tmp_path, caplog, 'print("Loading settings...", flush=True)\n')
    assert "'Loading settings...'" in stray.getMessage() and "stderr" in stray.getMessage()
    assert "tool server “flaky” (tools.mcpServers.flaky) wrote" in stray.getMessage()
    assert stray.levelno == logging.WARNING and stray.exc_info is None
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_server_that_floods_its_stdout_is_reported_once_per_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server printing its own log to stdout (a progress bar, debug lines) had every
    line reported: `yes` as a server gave 71,625 warnings in 12 s, which buried the
    console (headless) and the log. The first line is reported, with a word that the
    rest are skipped without one; the server goes on being used."""
    flood = 'for n in range(500):\n    print(f"debug line {n}", flush=True)\n'
    strays = [r.getMessage() for r in await _stray_lines(tmp_path, caplog, flood)]
    assert len(strays) == 1, len(strays)
    assert "'debug line 0'" in strays[0] and "later ones are skipped unreported" in strays[0]


async def test_a_stray_line_is_reported_once_however_often_its_server_is_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that prints a banner to stdout and then exits (a key it needs is not
    set) is started again and again in the background, quietly after the one notice
    that says so. Its banner was reported at every start, though the warning itself
    said later ones are skipped: a line every 30 s for as long as the conversation
    lasted, on the console (headless) and in the log."""
    starts = tmp_path / "starts.txt"
    banner_then_exit = (
        "import sys\n"
        "with open(sys.argv[1], 'a') as fh:\n"
        "    fh.write('started\\n')\n"
        "print('my-server v1.2 starting on stdio', flush=True)\n"
        "sys.exit('error: MY_API_KEY is not set')\n"
    )
    script = tmp_path / "weather.py"
    script.write_text(banner_then_exit)
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "weather": {"command": sys.executable, "args": [str(script), str(starts)]}
                },
            }
        }
    )
    manager = ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    with caplog.at_level(logging.WARNING):
        await manager.start()
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and starts.read_text().count("started") < 3:
                await asyncio.sleep(0.1)  # tried again after 0.5 s, then after 1 s
        finally:
            await manager.aclose()
    assert starts.read_text().count("started") >= 3
    strays = [r.getMessage() for r in caplog.records if "not an MCP message" in r.getMessage()]
    assert len(strays) == 1, strays
    assert "“weather”" in strays[0] and "later ones are skipped unreported" in strays[0]


NPX_404 = """\
import sys

sys.stderr.write(
    "npm error code E404\\n"
    "npm error 404 Not Found - GET https://registry.npmjs.org/@acme%2fmcp-notes - Not found\\n"
    "npm error 404\\n"
    "npm error 404  The requested resource '@acme/mcp-notes@*' could not be found or you do "
    "not have permission to access it.\\n"
    "npm error 404\\n"
    "npm error 404 Note that you can also install from a\\n"
    "npm error 404 tarball, folder, http url, or git url.\\n"
    "npm error A complete log of this run can be found in: /home/me/.npm/_logs/debug-0.log\\n"
)
sys.exit(1)
"""


async def test_a_server_npx_cannot_fetch_is_reported_with_npms_reason(tmp_path: Path) -> None:
    """A server given as `npx -y <package>` (as the config template shows) whose package
    npm could not fetch (a name mistyped, no network) was reported with npm's last line,
    "could not start: … (it said: npm error A complete log of this run can be found in:
    …)", which says nothing of why. npm's own summary of the error is quoted now."""
    bus = ev.EventBus()
    seen = Recorder(bus)
    manager = ToolManager(
        one_server_settings(tmp_path, "notes", NPX_404), bus=bus, log_dir=tmp_path / "l"
    )
    await manager.start()
    await manager.aclose()
    (said,) = [n.message for n in seen.of(ev.Notice) if "could not start" in n.message]
    assert "404 Not Found - GET https://registry.npmjs.org/@acme%2fmcp-notes" in said, said
    assert "A complete log" not in said


async def test_missing_command_warns_and_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = Settings.model_validate(
        {
            "tools": {
                "workspace": str(workspace),
                "mcpServers": {"ghost": {"command": "voicedesk-no-such-server-xyz"}},
            }
        }
    )
    bus = ev.EventBus()
    rec = Recorder(bus)
    manager = ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")
    try:
        # the missing command's failure ends its start: it does not hold the others' up
        await _started_as_all_answered(manager, monkeypatch)
        names = [t["function"]["name"] for t in manager.llm_tools()]
        assert names and not any(n.startswith("ghost") for n in names)
        assert "docs__list_documents" in names
        assert manager.status()["ghost"] == "failed"
        warnings = [n for n in rec.of(ev.Notice) if n.level == "warning"]
        assert len(warnings) == 1
        assert "ghost" in warnings[0].message
        assert "voicedesk-no-such-server-xyz" in warnings[0].message
    finally:
        await manager.aclose()


async def test_a_bad_command_path_names_the_key_to_fix(tmp_path: Path) -> None:
    """A tool server whose command is no program (a path mistyped, a folder) said only
    "could not start: command not found: …", leaving the person to find where it was set.
    The notice names the config key to fix, and how, as `doctor` does."""
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "notes": {"command": str(tmp_path / "no" / "notes-mcp")},
                    "my.repo": {"command": str(tmp_path)},  # a folder: not allowed to run
                },
            }
        }
    )
    bus = ev.EventBus()
    rec = Recorder(bus)
    manager = ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")
    await manager.start()
    await manager.aclose()
    said = sorted(n.message for n in rec.of(ev.Notice) if n.level == "warning")
    assert len(said) == 2, said
    folder, missing = said
    assert "command not found" in missing
    assert "Fix tools.mcpServers.notes.command in the config" in missing, missing
    assert "not allowed to run" in folder
    assert 'Fix tools.mcpServers."my.repo".command in the config' in folder, folder
    # `doctor` adds its own fix to the reason: not said twice there
    assert "Fix" not in manager.why_down("notes")


@needs_proc
async def test_a_server_slow_to_start_is_given_its_timeout_not_killed(tmp_path: Path) -> None:
    """A server taking 9 s to come up (npx or uvx fetching it the first time) was killed at
    8 s and started again, forever; with timeout_s = 20 it now comes up, once."""
    script = tmp_path / "slow_start.py"
    script.write_text(
        "import time\n"
        "time.sleep(9)\n" + FLAKY_SERVER.replace('MCPServer("flaky")', 'MCPServer("slowstart")')
    )
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "late": {
                        "command": sys.executable,
                        "args": [str(script), str(tmp_path / "pids.txt")],
                        "timeout_s": 20,
                    }
                },
            }
        }
    )
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        deadline = time.monotonic() + 20
        while "late__ping" not in [t["function"]["name"] for t in manager.llm_tools()]:
            assert time.monotonic() < deadline, manager.status()
            await asyncio.sleep(0.2)
        assert len(pids(tmp_path)) == 1  # started once, not killed and started again
        assert (await manager.call("late__ping", {}, call_id="p")).spoken == "pong"


async def test_a_server_said_slow_to_start_is_said_ready_when_it_comes_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server still starting when the start's wait ended was said slow to start, and
    then nothing when it came up on that same first try: the person was left to guess
    whether its tools ever came. It is said ready too, once."""
    monkeypatch.setattr(manager_module, "START_WAIT_S", 0.2)
    go = tmp_path / "go"
    source = (
        f"import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.02)\n" + FLAKY_SERVER
    )
    settings = one_server_settings(tmp_path, "late", source)
    settings.tools.mcpServers["late"].args.append(str(tmp_path / "pids.txt"))
    bus = ev.EventBus()
    rec = Recorder(bus)
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        go.touch()  # after the start's wait: it comes up on its first try, later
        deadline = time.monotonic() + 30
        while manager.status() != {"late": "up"}:
            assert time.monotonic() < deadline, manager.status()
            await asyncio.sleep(0.05)
    said = [e.message for e in rec.of(ev.Notice)]
    assert said == [
        "Tool server “late” is slow to start; its tools will appear when it is ready.",
        "Tool server “late” is ready; its tools are in use.",
    ], said
    assert len(pids(tmp_path)) == 1


@needs_proc
async def test_timeout_progress_and_cancel(tmp_path: Path) -> None:
    bus = ev.EventBus()
    rec = Recorder(bus)
    halfway = asyncio.Event()  # the second slow call has reported: it is in its sleep
    bus.subscribe(
        lambda e: (
            halfway.set() if isinstance(e, ev.ToolCallProgress) and e.call_id == "s2" else None
        )
    )
    before = children()
    async with running(
        ToolManager(flaky_settings(tmp_path, 0.5), bus=bus, log_dir=tmp_path / "logs")
    ) as manager:
        # The tool sleeps 30 s: cut at its 0.5 s timeout, it is back well before the SDK's
        # own clock, at ten times that, would have stopped it (the bound leaves a busy
        # machine 4.5 s to stop it, and still tells the timeout from that backstop).
        t0 = time.monotonic()
        result = await manager.call("flaky__slow", {}, call_id="s1")
        assert time.monotonic() - t0 < 5
        assert result.is_error and result.duration_s < 5
        assert "0.5 seconds" in result.text
        assert result.spoken.startswith("The tool flaky__slow took longer")
        assert (await manager.call("flaky__ping", {}, call_id="p1")).text == "pong"

        task = asyncio.create_task(manager.call("flaky__slow", {}, call_id="s2"))
        await asyncio.wait_for(halfway.wait(), 20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the bare tool name also resolves when it is unambiguous
        assert (await manager.call("ping", {}, call_id="p2")).text == "pong"

    progress = [e for e in rec.of(ev.ToolCallProgress) if e.call_id == "s1"]
    assert progress and progress[0].progress == 1 and progress[0].total == 2
    assert progress[0].message == "halfway"
    finished = {e.call_id: e for e in rec.of(ev.ToolCallFinished)}
    assert finished["s1"].is_error and not finished["s1"].cancelled
    assert finished["s2"].cancelled
    assert len(pids(tmp_path)) == 1  # neither the timeout nor the cancel cost a restart
    assert not any(alive(pid) for pid in pids(tmp_path))
    assert children() <= before
    assert manager.status() == {"flaky": "stopped"}
    late = await manager.call("flaky__ping", {}, call_id="p3")
    assert late.is_error


def test_names_and_spoken_summary() -> None:
    assert llm_tool_name("my server", "read.doc") == "my_server__read_doc"
    assert len(llm_tool_name("s" * 40, "t" * 40)) == 64
    text = "Found 3 documents.\n- a.md\n- b.md"
    assert spoken_summary(text) == "Found 3 documents."
    long = "This is the first sentence of a long answer. " + "word " * 80
    assert spoken_summary(long) == "This is the first sentence of a long answer."
    blob = "x" * 500
    assert len(spoken_summary(blob)) <= 200
    assert spoken_summary(textwrap.dedent("\n\n  hi\n")) == "hi"


def test_tool_names_that_clash_are_given_out_the_same_way_whatever_the_listing_order() -> None:
    """ "read.file", "read file" and "read_file" all squeeze to names__read_file: which one
    got it followed the server's listing order, so the tool really called read_file could
    lose its name, and a restart listing them otherwise moved a name onto another tool."""
    from types import SimpleNamespace

    import mcp_types as mt

    def tool(name: str) -> mt.Tool:
        return mt.Tool(name=name, input_schema={"type": "object"})

    settings = Settings.model_validate({"tools": {"docs_server": False}})
    given = []
    for order in (["read.file", "read file", "read_file"], ["read_file", "read file", "read.file"]):
        manager = ToolManager(settings, bus=ev.EventBus())
        server = SimpleNamespace(
            name="names", tools=[tool(n) for n in order], refused={}, too_deep=[]
        )
        manager._servers = {"names": server}  # type: ignore[dict-item]
        manager._rebuild_names()
        given.append({name: ref.tool.name for name, ref in manager._names.items()})
    assert given[0] == given[1]
    assert given[0]["names__read_file"] == "read_file"  # a valid name keeps its plain form


async def test_a_clashing_tool_name_stays_with_one_server_and_a_bare_one_is_asked_about() -> None:
    """Servers "my.srv" and "my_srv" both squeeze to my_srv__echo: whichever came up first
    took it, and once the other was up the name moved to it, mid-conversation. A bare name
    two servers offer said "There is no tool called echo" and listed twenty others."""
    from types import SimpleNamespace

    import mcp_types as mt

    settings = Settings.model_validate({"tools": {"docs_server": False}})
    manager = ToolManager(settings, bus=ev.EventBus())

    def server(name: str, state: str = "up") -> SimpleNamespace:
        echo = mt.Tool(name="echo", input_schema={"type": "object"})
        return SimpleNamespace(
            name=name, tools=[echo], state=state, reason="", refused={}, too_deep=[]
        )

    manager._servers = {"my.srv": server("my.srv", "starting")}  # type: ignore[dict-item]
    manager._servers["my.srv"].tools = []  # listed nothing yet
    manager._servers["my_srv"] = server("my_srv")  # type: ignore[assignment]
    manager._rebuild_names()
    assert manager._names["my_srv__echo"].server == "my_srv"
    manager._servers["my.srv"] = server("my.srv")  # type: ignore[assignment]
    manager._rebuild_names()  # my.srv is up now
    assert manager._names["my_srv__echo"].server == "my_srv"
    assert manager._names["my_srv__echo_2"].server == "my.srv"
    said, failed = await manager._call("echo", {}, "c1")
    assert failed and said == (
        "Several tool servers have a tool called echo: call one of my_srv__echo, my_srv__echo_2."
    )


DYNAMIC_SERVER = """
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("dyn")


@server.tool()
async def enable_extra(ctx: Context) -> str:
    \"\"\"Add a tool named extra.\"\"\"

    def extra() -> str:
        return "extra ran"

    server.add_tool(extra, name="extra", description="The extra tool.")
    await ctx.session.send_tool_list_changed()
    return "extra tool enabled"


server.run("stdio")
"""


async def test_a_server_whose_tools_change_is_listed_again(tmp_path: Path) -> None:
    """tools/list_changed was ignored: the model kept the old list until a reconnection
    ("There is no tool called dyn__extra")."""
    settings = one_server_settings(tmp_path, "dyn", DYNAMIC_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        names = lambda: [t["function"]["name"] for t in manager.llm_tools()]  # noqa: E731
        assert names() == ["dyn__enable_extra"]
        await manager.call("dyn__enable_extra", {}, call_id="a")
        deadline = time.monotonic() + 10
        while "dyn__extra" not in names():
            assert time.monotonic() < deadline, names()
            await asyncio.sleep(0.05)
        assert (await manager.call("dyn__extra", {}, call_id="b")).spoken == "extra ran"


async def test_a_tool_failing_with_no_content_is_named_and_said_to_give_no_reason(
    tmp_path: Path,
) -> None:
    """A tool answering isError with no content was "The tool failed." to the model and
    the person: after a round of several calls, neither knew which, nor that it had given
    no reason (not one to read in a result they had missed)."""
    from mcp_servers import EMPTY_RESULTS_SERVER

    settings = one_server_settings(tmp_path, "blank", EMPTY_RESULTS_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        failed = await manager.call("blank__fail", {}, call_id="a")
        empty = await manager.call("blank__nothing", {}, call_id="b")
    assert failed.is_error
    assert failed.text == "The tool blank__fail failed and gave no reason (its result was empty)."
    assert "blank__fail" in failed.spoken
    assert not empty.is_error and empty.text == "The tool blank__nothing returned nothing."


async def test_arguments_not_as_the_tools_schema_says_are_refused_naming_the_field(
    tmp_path: Path,
) -> None:
    """A server that does not check its own inputs was called with a required field left
    out, or a number given as text: it ran with them as they were. The arguments are
    checked against the tool's inputSchema first; the model is told which field is wrong
    and what it takes, and the call is not run. Whole ones run as before."""
    from mcp_servers import UNCHECKED_SERVER

    settings = one_server_settings(tmp_path, "weather", UNCHECKED_SERVER)
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:
        missing = await manager.call("weather__forecast", {"days": 3}, call_id="a")
        typed = await manager.call(
            "weather__forecast", '{"city": "Oslo", "days": "three"}', call_id="b"
        )
        several = await manager.call(
            "weather__forecast", {"days": 0, "units": "kelvin"}, call_id="c"
        )
        # what servers reading their arguments with pydantic take as meant is not refused
        lax = await manager.call("weather__forecast", {"city": "Oslo", "days": "3"}, call_id="e")
        good = await manager.call(
            "weather__forecast", {"city": "Oslo", "days": 3, "units": "metric"}, call_id="d"
        )
    assert missing.is_error and not missing.text.startswith("ran with"), missing.text
    assert "“city”" in missing.text and "missing" in missing.text, missing.text
    assert typed.is_error and not typed.text.startswith("ran with"), typed.text
    assert "“days”" in typed.text and "integer" in typed.text and '"three"' in typed.text
    assert "so it was not run" in typed.text and "\n" not in typed.text
    for field in ("“city”", "“days”", "“units”"):
        assert field in several.text, several.text
    assert "metric, imperial" in several.text, several.text
    assert not good.is_error
    assert good.text == 'ran with {"city": "Oslo", "days": 3, "units": "metric"}'
    assert not lax.is_error and lax.text == 'ran with {"city": "Oslo", "days": "3"}', lax.text


async def test_a_schema_that_cannot_check_arguments_lets_calls_through_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tool whose own input schema cannot be used to check arguments (a $ref to
    nowhere, a $schema nobody knows) has its calls go to the server unchecked, not
    refused, and the log says so once per tool, not at every call; a schema in draft
    2020-12's own words still checks them. Unusable schemas were found anew at every call,
    unsaid: nothing told why a server's own schema had stopped checking its calls."""
    from mcp_servers import ODD_SCHEMAS_SERVER

    settings = one_server_settings(tmp_path, "odd", ODD_SCHEMAS_SERVER)
    with caplog.at_level(logging.WARNING, logger="voicedesk.tools.schemas"):
        async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as m:
            nowhere = [await m.call("odd__nowhere", {"a": n}, call_id=f"n{n}") for n in (1, 2)]
            meta = [await m.call("odd__meta", {"a": n}, call_id=f"m{n}") for n in (1, 2)]
            good = await m.call("odd__modern", {"pair": ["x", 2]}, call_id="g")
            extra = await m.call("odd__modern", {"pair": ["x"], "more": 1}, call_id="x")
    assert [r.text for r in nowhere] == ['ran with {"a": 1}', 'ran with {"a": 2}']
    # an unknown $schema is read as today's JSON Schema: it checks, and "a" takes a string
    assert all(r.is_error and "“a”" in r.text and "a string" in r.text for r in meta), meta
    assert good.text == 'ran with {"pair": ["x", 2]}', good.text
    assert extra.is_error and "more" in extra.text and "not run" in extra.text, extra.text
    said = [r.getMessage() for r in caplog.records if "unchecked" in r.getMessage()]
    assert len(said) == 1, said
    assert "odd__nowhere" in said[0] and "/$defs/missing" in said[0], said[0]


async def test_a_schema_that_cannot_check_arguments_is_said_by_each_manager(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """That a tool's calls go unchecked was recorded as said for the whole process: a
    second ToolManager in it never said it of its own tool of the same name. Each manager
    says it once."""
    from mcp_servers import ODD_SCHEMAS_SERVER

    settings = one_server_settings(tmp_path, "odd", ODD_SCHEMAS_SERVER)
    results = []
    with caplog.at_level(logging.WARNING, logger="voicedesk.tools.schemas"):
        for n in range(2):
            async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as m:
                for k in range(2):
                    results.append(await m.call("odd__nowhere", {"a": k}, call_id=f"n{n}{k}"))
    assert [r.text for r in results] == ['ran with {"a": 0}', 'ran with {"a": 1}'] * 2
    said = [r.getMessage() for r in caplog.records if "unchecked" in r.getMessage()]
    assert len(said) == 2 and all("odd__nowhere" in m for m in said), said


async def test_a_schema_unusable_each_relisting_anew_is_said_once_until_it_is_usable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tool whose schema cannot check its arguments, or is no JSON Schema at all, in
    another way at each relisting (tools/list_changed: a $ref to a section of a file that
    changed, a type named after a file) was said again after each: the log that its calls
    go unchecked at its next call, and the notice that it is left out at each relisting.
    Each is said once per tool now, and again only if it breaks again after a relisting
    that made it usable."""
    from mcp_servers import CHANGING_SCHEMAS_SERVER

    bus = ev.EventBus()
    notices = Recorder(bus)
    settings = one_server_settings(tmp_path, "changing", CHANGING_SCHEMAS_SERVER)
    relisted = 0

    async def relist(usable: bool) -> None:
        nonlocal relisted
        relisted += 1
        await manager.call("changing__relist", {"usable": usable}, call_id=f"r{relisted}")
        deadline = time.monotonic() + 30
        while sum("now has 3 tools" in r.getMessage() for r in caplog.records) < relisted:
            assert time.monotonic() < deadline, "the changed tools were never listed"
            await asyncio.sleep(0.05)

    with caplog.at_level(logging.INFO):
        async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
            for n, usable in enumerate([False, False, False, True, False, False]):
                if n:
                    await relist(usable)
                offered = [t["function"]["name"] for t in manager.llm_tools()]
                assert ("changing__outline" in offered) == usable, offered
                result = await manager.call("changing__files", {"path": "a.md"}, call_id=f"f{n}")
                assert result.text == "files ran", result.text
    unchecked = [r.getMessage() for r in caplog.records if "unchecked" in r.getMessage()]
    assert len(unchecked) == 2, unchecked  # at first, and once broken again
    assert "changing__files" in unchecked[0] and "gone_0" in unchecked[0], unchecked[0]
    assert "gone_4" in unchecked[1], unchecked[1]
    left_out = [e.message for e in notices.of(ev.Notice) if "left out" in e.message]
    assert len(left_out) == 2, left_out
    assert all("The tool outline of tool server “changing”" in m for m in left_out), left_out
    assert "int0" in left_out[0] and "int4" in left_out[1], left_out


async def test_a_timeout_of_a_tool_two_servers_offer_names_the_one_called(
    tmp_path: Path,
) -> None:
    """Two servers offering a tool of the same name ("hang"): a call of either that timed
    out was told "The tool hang took longer than 0.5 seconds", to the model and in the
    tool's result the person sees, not which of the two. It names the one called."""
    from mcp_servers import _stdio_server

    tools = """
import anyio


async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=[mt.Tool(name="hang", input_schema={"type": "object"})])


async def call_tool(ctx, params):
    await anyio.sleep(3600)
"""
    servers = {}
    for name in ("north", "south"):
        script = tmp_path / f"{name}.py"
        script.write_text(_stdio_server(name, tools))
        servers[name] = {"command": sys.executable, "args": [str(script)], "timeout_s": 0.5}
    settings = Settings.model_validate({"tools": {"docs_server": False, "mcpServers": servers}})
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:
        south = await manager.call("south__hang", {}, call_id="s")
    assert south.is_error and south.text.startswith(
        "The tool south__hang took longer than 0.5 seconds and was stopped."
    ), south.text


async def _unreachable_notice(url_at: Callable[[int], str]) -> tuple[str, int]:
    """The notice about a url server nothing answers at (``url_at`` a free port), and the
    port."""
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings.model_validate(
        {"tools": {"docs_server": False, "mcpServers": {"remote": {"url": url_at(port)}}}}
    )
    bus = ev.EventBus()
    rec = Recorder(bus)
    async with running(ToolManager(settings, bus=bus)):
        (notice,) = [n for n in rec.of(ev.Notice) if "remote" in n.message]
        return notice.message, port


async def test_a_remote_server_that_cannot_be_reached_is_named_with_its_url() -> None:
    """A url server that is down said "could not start: ConnectError: All connection
    attempts failed", no address, and calls said it was "restarting", back "in a few
    seconds", as for a process voicedesk runs itself."""
    said, port = await _unreachable_notice(lambda port: f"http://127.0.0.1:{port}/mcp")
    assert f"http://127.0.0.1:{port}/mcp" in said and "cannot connect" in said
    assert "ConnectError" not in said


async def test_a_password_in_a_server_url_is_not_shown() -> None:
    said, port = await _unreachable_notice(
        lambda port: f"http://me:pa55word@127.0.0.1:{port}/mcp?access_token=qs-secret-777"
    )
    assert "pa55word" not in said and "qs-secret-777" not in said
    assert f"127.0.0.1:{port}/mcp" in said


SHORT_LIVED_SERVER = """\
import os
import sys
import threading

from mcp.server.mcpserver import MCPServer

server = MCPServer("shaky")


@server.tool()
def ping() -> str:
    \"\"\"Answer pong.\"\"\"
    return "pong"


with open(sys.argv[1], "a+") as fh:  # its lives so far: the sixth one holds
    fh.write("life\\n")
    fh.seek(0)
    lives = len(fh.read().split())
if lives < 6:
    threading.Timer(0.3, lambda: (sys.stderr.write("lost my database\\n"), os._exit(3))).start()
server.run("stdio")
"""


async def test_a_server_that_keeps_dying_is_restarted_quietly(tmp_path: Path, monkeypatch) -> None:
    """Each short life used to bring a "stopped" and an "available again" notice, every
    30 s for as long as the conversation lasted; after a few it is restarted quietly."""
    from voicedesk.tools import manager as manager_module

    monkeypatch.setattr(manager_module, "BACKOFF_FIRST_S", 0.05)
    monkeypatch.setattr(manager_module, "BACKOFF_MAX_S", 0.1)
    monkeypatch.setattr(manager_module, "STABLE_AFTER_S", 2.0)
    script = tmp_path / "shaky_server.py"
    script.write_text(SHORT_LIVED_SERVER)
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "shaky": {
                        "command": sys.executable,
                        "args": [str(script), str(tmp_path / "lives.txt")],
                    }
                },
            }
        }
    )
    bus = ev.EventBus()
    rec = Recorder(bus)
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any("stayed up" in n.message for n in rec.of(ev.Notice)):
                break
            await asyncio.sleep(0.2)
        else:
            pytest.fail("the server's sixth life was not reported as holding within a minute")
        assert (await manager.call("shaky__ping", {}, call_id="p1")).text == "pong"
    messages = [n.message for n in rec.of(ev.Notice) if "shaky" in n.message]
    stopped = [m for m in messages if "stopped:" in m]
    quiet = [m for m in messages if "keeps stopping" in m]
    assert len(stopped) == manager_module.QUIET_AFTER_STOPS - 1, messages
    assert len(quiet) == 1 and "lost my database" in quiet[0] and "mcp-shaky.log" in quiet[0]
    # two "available again" between the first stops, then nothing until it held
    assert len(messages) == 2 * manager_module.QUIET_AFTER_STOPS, messages
    assert "stayed up" in messages[-1]


def test_a_listing_the_protocol_does_not_allow_is_one_line() -> None:
    """One tool whose schema is no object: the notice was pydantic's page of text, or its
    docs link, quoted from the server's stderr as what it said."""
    from typing import Literal

    import pydantic

    from voicedesk.tools.manager import _describe

    class Schema(pydantic.BaseModel):
        type: Literal["object"]

    class Tool(pydantic.BaseModel):
        inputSchema: Schema

    class ListToolsResult(pydantic.BaseModel):  # as the SDK's client checks a listing
        tools: list[Tool]

    bad = {"tools": [{"name": "x", "inputSchema": {"type": "string"}}]}
    with pytest.raises(pydantic.ValidationError) as info:
        ListToolsResult.model_validate(bad)
    said = _describe(info.value)
    assert said == (
        "it sent a ListToolsResult the MCP protocol does not allow "
        "(tools.0.inputSchema.type: Input should be 'object')"
    )


async def test_a_slow_docs_call_does_not_hold_up_the_quit(tmp_path: Path) -> None:
    """Quitting while a documents call slowed by ``--slow`` was under way took 2 s: the
    wait was slept in the tool's worker thread, which the server cannot cancel when the
    connection closes, so the server stayed up until the client gave up and killed it. It
    exits on its own now (the shell around it records how it ended; killed, it records
    nothing)."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    status = tmp_path / "status"
    server = [sys.executable, "-m", "voicedesk", "docs-server", "--root", str(workspace)]
    line = " ".join([*map(repr, server), "--slow", "list_documents=60"])
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "docs": {"command": "sh", "args": ["-c", f'{line}; echo $? > "{status}"']}
                },
            }
        }
    )
    bus = ev.EventBus()
    manager = ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")
    await manager.start()
    call = asyncio.create_task(manager.call("docs__list_documents", {}, call_id="c1"))
    await asyncio.sleep(1.0)  # the request reaches the server and its wait begins
    await manager.aclose()
    assert (await call).is_error
    assert status.read_text().strip() == "0"  # it exited, and was not killed


async def test_only_tools_their_server_declares_read_only_may_run_ahead(tmp_path: Path) -> None:
    """An answer prepared while the person may still be talking may read, not write: the
    documents server says which of its tools change nothing (MCP's readOnlyHint), and a
    server that does not say is taken to change things."""
    flaky = flaky_settings(tmp_path).tools.mcpServers
    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = Settings.model_validate(
        {
            "tools": {
                "workspace": str(workspace),
                "mcpServers": {n: s.model_dump() for n, s in flaky.items()},
            }
        }
    )
    async with running(ToolManager(settings, log_dir=tmp_path / "logs")) as manager:
        readers = ["list_documents", "find_documents", "read_document", "search", "outline"]
        readers += ["count", "compare_documents"]
        for tool in readers:
            assert manager.reads_only([f"docs__{tool}"]), tool
        for tool in ["create_document", "edit_document", "undo", "redo"]:
            assert not manager.reads_only([f"docs__{tool}"]), tool
            assert not manager.reads_only(["docs__read_document", f"docs__{tool}"]), tool
        assert not manager.reads_only(["flaky__ping"])  # it does not say
        assert manager.reads_only(["docs__no_such_tool"])  # runs nothing: answered an error


async def _listening(server: Any, port: int) -> None:
    """Wait until the server process ``server`` takes connections on ``port``: it fails the
    test if the process ends first (the 20 s bound only stops a hang)."""
    import socket

    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline and server.poll() is None
        await asyncio.sleep(0.1)


HTTP_SERVER = """
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("near")


@server.tool()
def ping() -> str:
    return "pong"


server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
"""


async def test_a_url_server_on_this_machine_is_reached_whatever_proxy_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a company proxy (HTTPS_PROXY, HTTP_PROXY in the environment) a tool server run
    on this machine could not be reached: its connection went to the proxy, which cannot
    reach this machine's loopback."""
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = tmp_path / "near.py"
    script.write_text(HTTP_SERVER)
    server = subprocess.Popen([sys.executable, str(script), str(port)], stderr=subprocess.DEVNULL)
    try:
        await _listening(server, port)
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, "http://127.0.0.1:9")  # refuses every connection
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        settings = Settings.model_validate(
            {
                "tools": {
                    "docs_server": False,
                    "mcpServers": {"near": {"url": f"http://localhost:{port}/mcp"}},
                }
            }
        )
        async with running(
            ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
        ) as manager:
            assert [t["function"]["name"] for t in manager.llm_tools()] == ["near__ping"]
            assert (await manager.call("near__ping", {}, call_id="a")).spoken == "pong"
    finally:
        server.terminate()
        server.wait(10)


def wire_server(
    name: str,
    *,
    listing: str,
    call: str,
    setup: str = "",
    greeting: str = "",
    write: str = 'out.write(json.dumps(reply).encode() + b"\\n")',
) -> str:
    """A stdio MCP server written by hand, speaking JSON-RPC line by line with no SDK: the
    SDK's own servers only write what the protocol allows, and these tests need one that
    does not. ``listing`` and ``call`` are the source of the ``tools/list`` and
    ``tools/call`` branches (each sets ``result``), ``greeting`` adds to the ``initialize``
    result, ``setup`` comes first and ``write`` sends ``reply``."""
    body = f"""\
import json
import os
import sys

{setup}
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    message = json.loads(line)
    if "id" not in message:
        continue  # a notification
    method, params = message["method"], message.get("params") or {{}}
    result = {{}}
    if method == "initialize":
        result = {{
            "protocolVersion": params["protocolVersion"],
            "capabilities": {{"tools": {{}}}},
            "serverInfo": {{"name": {name!r}, "version": "1"}},
        }}
{textwrap.indent(greeting, " " * 8)}
    elif method == "tools/list":
{textwrap.indent(listing, " " * 8)}
    elif method == "tools/call":
{textwrap.indent(call, " " * 8)}
    reply = {{"jsonrpc": "2.0", "id": message["id"], "result": result}}
    {write}
    out.flush()
"""
    return body


def lowlevel_server(name: str, tools: str) -> str:
    """A stdio MCP server on the SDK's low-level ``Server``, which lists ``tools`` (source
    defining TOOLS, a list of ``mcp_types.Tool``) as given, schemas unchecked, as a careless
    server does; a call answers its name and arguments."""
    head = (
        "import anyio\nimport mcp_types as mt\nfrom mcp.server.lowlevel import Server\n"
        "from mcp.server.stdio import stdio_server\n"
    )
    tail = f"""

async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=TOOLS)


async def call_tool(ctx, params):
    return mt.CallToolResult(content=[mt.TextContent(text=f"{{params.name}} {{params.arguments}}")])


server = Server({name!r}, on_list_tools=list_tools, on_call_tool=call_tool)


async def main():
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


anyio.run(main)
"""
    return head + tools + tail


SCHEMA_SERVER = lowlevel_server(
    "schemas",
    """

TOOLS = [
    mt.Tool(name="ping", description="Answer pong.", input_schema={"type": "object"}),
    mt.Tool(
        name="tag",
        description="Tag things.",
        input_schema={
            "type": "object",
            "properties": {
                "tags": {"type": "array", "description": "any tags"},
                "page": {"type": "object", "properties": {"ids": {"type": ["array", "null"]}}},
                "default": {"type": "array"},
                "kinds": {"type": "array", "default": {"type": "array"}},
            },
        },
    ),
    mt.Tool(
        name="count",
        description="Count to n.",
        input_schema={"type": "object", "properties": {"n": {"type": "int"}}},
    ),
]

""",
)


async def test_tool_schemas_openai_refuses_are_mended_or_left_out(tmp_path: Path) -> None:
    """One external tool with an array parameter that does not say what it holds (a JSON
    Schema draft 4 habit many servers keep), or with a type JSON Schema does not have, made
    OpenAI refuse every request ("Invalid schema for function ..."), so no answer came at
    all, whatever was asked. The bare array now takes anything (``items: {}``), and a tool
    whose schema is no JSON Schema is left out, with a notice naming it."""

    settings = one_server_settings(tmp_path, "schemas", SCHEMA_SERVER)
    bus = ev.EventBus()
    seen = Recorder(bus)
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        tools = manager.llm_tools()
        assert [t["function"]["name"] for t in tools] == ["schemas__ping", "schemas__tag"]
        tag = tools[1]["function"]["parameters"]["properties"]
        assert tag["tags"] == {"type": "array", "description": "any tags", "items": {}}
        assert tag["page"]["properties"]["ids"]["items"] == {}
        # a property named like a keyword is a schema; a default value is data, left as is
        assert tag["default"] == {"type": "array", "items": {}}
        assert tag["kinds"] == {"type": "array", "default": {"type": "array"}, "items": {}}
        notices = [n.message for n in seen.of(ev.Notice)]
        assert any("count" in m and "schemas" in m and "left out" in m for m in notices), notices
        assert (await manager.call("schemas__tag", {"tags": ["a"]}, call_id="t")).text == (
            "tag {'tags': ['a']}"
        )
        assert await _answer_offered(tools) == "Hi there."


async def _answer_offered(tools: list[dict[str, Any]]) -> str:
    """What the simulated OpenAI chat answers "Hello." with ``tools`` offered: it checks the
    tools' schemas as OpenAI does, so a schema it would refuse fails the request."""
    from voicedesk.providers.base import ChatRequest, TextDelta
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript, SimTurn
    from voicedesk.sim.server import SimLatency, SimServer

    sim_script = SimScript(turns=[SimTurn(transcript="Hello.", reply="Hi there.")])
    async with SimServer(sim_script, SimLatency(ttft_s=0.01, tokens_per_s=1000)) as sim:
        llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
        request = ChatRequest(messages=[{"role": "user", "content": "Hello."}], tools=tools)
        items = [item async for item in llm.stream(request)]
        await llm.aclose()
    return "".join(i.text for i in items if isinstance(i, TextDelta))


DRAFT4_SERVER = lowlevel_server(
    "draft4",
    """

TOOLS = [
    mt.Tool(
        name="page",
        description="Show a page.",
        input_schema={
            "id": "urn:example:page",
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "n": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
                "zoom": {"type": "number", "maximum": 4, "exclusiveMaximum": False},
            },
            "required": ["id"],
        },
    ),
    mt.Tool(
        name="size",
        description="Set a size.",
        input_schema={
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "properties": {"cm": {"type": "number", "maximum": 9, "exclusiveMaximum": True}},
        },
    ),
]

""",
)


async def test_draft_4_schemas_are_offered_in_todays_form(tmp_path: Path) -> None:
    """Many servers still write JSON Schema draft 4: ``exclusiveMinimum: true`` beside a
    ``minimum``, and ``id``. Checked as today's JSON Schema (where exclusiveMinimum is the
    bound itself), such a tool was left out ("True is not of type 'number'"), and one that
    said ``$schema: draft-04`` was sent as it was, for OpenAI to read as today's. Both are
    now offered with the bound as today's JSON Schema writes it, and work."""

    settings = one_server_settings(tmp_path, "draft4", DRAFT4_SERVER)
    bus = ev.EventBus()
    seen = Recorder(bus)
    async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
        tools = manager.llm_tools()
        assert [n.message for n in seen.of(ev.Notice) if "left out" in n.message] == []
        assert [t["function"]["name"] for t in tools] == ["draft4__page", "draft4__size"]
        page, size = (t["function"]["parameters"] for t in tools)
        assert page == {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "n": {"type": "integer", "exclusiveMinimum": 0},
                "zoom": {"type": "number", "maximum": 4},
            },
            "required": ["id"],
        }
        assert size == {
            "type": "object",
            "properties": {"cm": {"type": "number", "exclusiveMaximum": 9}},
        }
        called = await manager.call("draft4__page", {"id": "a", "n": 2}, call_id="p")
        assert called.text == "page {'id': 'a', 'n': 2}"
        assert await _answer_offered(tools) == "Hi there."


BROKEN_DRAFT4_SERVER = lowlevel_server(
    "draft4",
    """
D4 = "http://json-schema.org/draft-04/schema#"
TOOLS = [
    mt.Tool(
        name="page",
        input_schema={
            "$schema": D4,
            "type": "object",
            "properties": {"n": {"type": "integer", "minimum": 0, "exclusiveMinimum": "yes"}},
        },
    ),
    mt.Tool(
        name="pair",
        input_schema={
            "$schema": D4,
            "type": "object",
            "properties": {
                "xy": {"type": "array", "items": [{"type": "number"}] * 2},
                "x": {"$ref": "#/properties/xy/items/0"},
            },
        },
    ),
    mt.Tool(name="ping", input_schema={"$schema": D4, "type": "object"}),
]
""",
)


async def test_a_draft_4_schema_refused_says_it_by_its_own_draft(tmp_path: Path) -> None:
    """A draft 4 schema is checked in today's form (its rewrite, ``_todays_form``), and
    a refused one was told in today's terms: ``exclusiveMinimum: "yes"`` was "not of type
    'number'" (draft 4 wants a boolean there), and a valid draft 4 tuple (``items`` as a
    list) read as an invalid schema. Each is said by its own draft: what draft 4 finds
    wrong, or that it is valid draft 4 whose today's form is not one."""
    settings = one_server_settings(tmp_path, "draft4", BROKEN_DRAFT4_SERVER)
    bus = ev.EventBus()
    seen = Recorder(bus)
    async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
        assert [t["function"]["name"] for t in manager.llm_tools()] == ["draft4__ping"]
    said = " ".join(n.message for n in seen.of(ev.Notice) if "left out" in n.message)
    assert "'yes' is not of type 'boolean' (at properties/n/exclusiveMinimum), by JSON " in said
    assert "Schema draft 4, which its $schema names" in said, said
    assert "not of type 'number'" not in said, said
    assert "it is valid JSON Schema draft 4, which its $schema names, but the language" in said
    assert "its $ref '#/properties/xy/items/0' points into a tuple by its path" in said, said


TUPLES_SERVER = lowlevel_server(
    "tuples",
    """
D4 = "http://json-schema.org/draft-04/schema#"
POINT = {"type": "array", "items": [{"type": "number"}, {"type": "number"}]}
TOOLS = [
    mt.Tool(
        name="move",
        input_schema={
            "$schema": D4,
            "type": "object",
            "properties": {
                "to": POINT,
                "cell": {
                    "type": "array",
                    "items": [{"type": "string"}, {"type": "integer", "minimum": 1}],
                    "additionalItems": False,
                },
            },
            "required": ["to"],
        },
    ),
    mt.Tool(
        name="line",
        input_schema={"type": "object", "properties": {"points": {"type": "array", "items": POINT}}},
    ),
]
""",
)


async def test_a_draft_4_tuple_is_offered_as_prefix_items(tmp_path: Path) -> None:
    """A tuple in draft 4's words (``items`` as a list of each place's schema, with
    ``additionalItems`` for the rest) is no schema in today's JSON Schema, where ``items``
    is one schema: its tool was left out, though draft 2020-12 says the same with
    ``prefixItems``. It is now offered so, as exact a rewrite, in a schema naming draft 4
    or none, and its calls are checked by the tuple's places. (One whose ``$ref`` points
    into the tuple by its path is still left out: above.)"""

    settings = one_server_settings(tmp_path, "tuples", TUPLES_SERVER)
    bus = ev.EventBus()
    seen = Recorder(bus)
    async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
        tools = manager.llm_tools()
        assert [n.message for n in seen.of(ev.Notice) if "left out" in n.message] == []
        assert [t["function"]["name"] for t in tools] == ["tuples__line", "tuples__move"]
        line, move = (t["function"]["parameters"] for t in tools)
        point = {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]}
        assert move["properties"] == {
            "to": point,
            "cell": {
                "type": "array",
                "prefixItems": [{"type": "string"}, {"type": "integer", "minimum": 1}],
                "items": False,
            },
        }
        assert line["properties"] == {"points": {"type": "array", "items": point}}
        ran = await manager.call("tuples__move", {"to": [1, 2], "cell": ["B", 3]}, call_id="a")
        assert not ran.is_error, ran.text
        wrong = await manager.call(
            "tuples__move", {"to": [1, "up"], "cell": ["B", 3, 4]}, call_id="b"
        )
        assert wrong.is_error and "to[1]" in wrong.text, wrong.text
        assert "cell" in wrong.text, wrong.text
        bad_line = await manager.call("tuples__line", {"points": [[1, "x"]]}, call_id="c")
        assert bad_line.is_error and "points[0][1]" in bad_line.text, bad_line.text
        assert await _answer_offered(tools) == "Hi there."


MANY_TOOLS_SERVER = """
import anyio
import mcp_types as mt
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

TOOLS = [
    mt.Tool(name=f"t{n:03d}", description=f"Tool {n}.", input_schema={"type": "object"})
    for n in range(130)
]


async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=TOOLS)


server = Server("many", on_list_tools=list_tools)


async def main():
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


anyio.run(main)
"""


async def test_more_tools_than_openai_takes_are_cut_to_its_limit_docs_first(
    tmp_path: Path,
) -> None:
    """OpenAI takes at most 128 tools in a request ("Invalid 'tools': array too long"): a
    server with many tools (130 here) beside the documents server made every request fail,
    so nothing was ever answered. The first 128 are offered now, the documents tools among
    them, and a notice names the server whose tools were left out."""

    settings = one_server_settings(tmp_path, "many", MANY_TOOLS_SERVER, docs=True)
    bus = ev.EventBus()
    seen = Recorder(bus)
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        tools = manager.llm_tools()
        names = [t["function"]["name"] for t in tools]
        assert len(names) == 128
        assert {"docs__read_document", "docs__edit_document", "docs__undo"} <= set(names)
        manager.llm_tools()  # asked again for the next request: said once
        notices = [n.message for n in seen.of(ev.Notice) if "left out" in n.message]
        assert len(notices) == 1 and "“many”" in notices[0] and "128" in notices[0], notices
        assert await _answer_offered(tools) == "Hi there."


BIG_RESULT_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("big")


@server.tool()
def dump() -> str:
    \"\"\"Three million characters, in lines.\"\"\"
    return "".join(f"line {n:07d} of the log " + "x" * 75 + "\\n" for n in range(30_000))


server.run("stdio")
"""


async def test_a_huge_result_is_cut_to_a_size_the_app_can_show_saying_so(tmp_path: Path) -> None:
    """An external tool that answered with megabytes (a log, a database dump) had its whole
    result kept, shown and counted: opening the call's detail in the TUI froze the app for
    13 s at 5 MB (Textual laying out the text), and each request of the answer counted
    all of it again. It is cut to MAX_RESULT_CHARS, and the model is told how much was
    left out and to ask for less."""
    from voicedesk.tools.results import MAX_RESULT_CHARS

    settings = one_server_settings(tmp_path, "big", BIG_RESULT_SERVER)
    bus = ev.EventBus()
    seen = Recorder(bus)
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        result = await manager.call("big__dump", {}, call_id="d")
    assert not result.is_error
    kept, note = result.text.rsplit("\n", 1)
    assert kept.startswith("line 0000000 of the log") and len(kept) <= MAX_RESULT_CHARS
    assert kept.endswith("x")  # cut at a line's end
    assert note == (
        f"[Cut: the tool returned 2,999,999 characters; only the first {len(kept):,} are "
        f"here. Ask it for less: a narrower query, or a part at a time.]"
    )
    assert result.spoken == "line 0000000 of the log " + "x" * 75
    (finished,) = seen.of(ev.ToolCallFinished)
    assert finished.result_text == result.text


TENS_OF_MB_SERVER = """\
from mcp.server.mcpserver import MCPServer

server = MCPServer("dump")


@server.tool()
def everything() -> str:
    \"\"\"The whole table.\"\"\"
    return "row " * 7_500_000


@server.tool()
def ping() -> str:
    \"\"\"Answer pong.\"\"\"
    return "pong"


server.run("stdio")
"""


async def test_an_answer_of_tens_of_mb_is_read_within_its_timeout(tmp_path: Path) -> None:
    """A 30 MB result (60 MB on the wire: its text and its structured copy) kept the MCP
    SDK's stdio reader busy for 35 s, copying what it held at each 64 kB read: the call
    was stopped at its timeout, and a call behind it waited as long. The reader is handed
    whole lines (``wire.WholeLines``) and the result comes, cut, within the timeout."""
    settings = one_server_settings(tmp_path, "dump", TENS_OF_MB_SERVER)
    settings.tools.mcpServers["dump"].timeout_s = 20.0  # the SDK's read took 35 s here
    async with running(ToolManager(settings, log_dir=tmp_path / "logs")) as manager:
        result = await manager.call("dump__everything", {}, call_id="d")
        after = await manager.call("dump__ping", {}, call_id="p")
    assert not result.is_error, result.text
    assert (
        result.text.startswith("row row") and "the tool returned 29,999,999" in result.text
    )  # (its last blank left out)
    assert after.text == "pong"


UNION_SERVER = lowlevel_server(
    "union",
    """

MOVE = {
    "type": "object",
    "properties": {"calendar": {"type": "string"}},
    "required": ["calendar"],
    "oneOf": [
        {
            "properties": {"start": {"type": "string", "format": "date-time"}},
            "required": ["start", "event"],
        },
        {
            "properties": {"days": {"type": "integer"}, "event": {"type": "string"}},
            "required": ["days", "event"],
        },
    ],
}
TOOLS = [
    mt.Tool(name="move_event", description="Move an event.", input_schema=MOVE),
    mt.Tool(
        name="note",
        description="Note a thing.",
        input_schema={
            "type": "object",
            "allOf": [
                {"properties": {"text": {"type": "string"}}, "required": ["text"]},
                {"properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
            ],
            "not": {"required": ["secret"]},
        },
    ),
]

""",
)


async def test_a_schema_choosing_between_shapes_at_its_top_is_offered_as_one_object(
    tmp_path: Path,
) -> None:
    """OpenAI refuses every request when one tool's parameters have ``oneOf``, ``anyOf``,
    ``allOf``, ``enum`` or ``not`` at the top ("schema must have type 'object' and not have
    'oneOf'/'anyOf'/'allOf'/'enum'/'not' at the top level"), the shape a server written
    with a union of argument shapes lists. Such a tool was offered as it was, and no
    answer came at all. Its shapes are offered as one object now: every property of
    every shape, required what every shape requires; the arguments are still checked
    against the shapes themselves."""
    from voicedesk.providers.base import ChatRequest, TextDelta
    from voicedesk.providers.openai_llm import OpenAIChat
    from voicedesk.sim.script import SimScript, SimTurn
    from voicedesk.sim.server import SimLatency, SimServer

    settings = one_server_settings(tmp_path, "union", UNION_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        tools = manager.llm_tools()
        move, note = (t["function"]["parameters"] for t in tools)
        assert move == {
            "type": "object",
            "properties": {
                "calendar": {"type": "string"},
                "start": {"type": "string", "format": "date-time"},
                "days": {"type": "integer"},
                "event": {"type": "string"},
            },
            "required": ["calendar", "event"],
        }
        assert note == {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["text"],
        }
        moved = '{"calendar": "w", "days": 2, "event": "e"}'
        said = await manager.call("union__move_event", moved, call_id="m")
        assert said.text == "move_event {'calendar': 'w', 'days': 2, 'event': 'e'}"
        # with no "event", it fits neither shape: refused, naming what each lacks
        said = await manager.call("union__move_event", '{"calendar": "w", "days": 2}', call_id="n")
        assert said.is_error and "so it was not run" in said.text, said.text
        assert "shape 1: the fields “start”, “event” are missing" in said.text, said.text
        assert "shape 2: the field “event” is missing" in said.text, said.text
        sim_script = SimScript(turns=[SimTurn(transcript="Hello.", reply="Hi there.")])
        async with SimServer(sim_script, SimLatency(ttft_s=0.01, tokens_per_s=1000)) as sim:
            llm = OpenAIChat(api_key="sk-test", model="gpt-4o-mini", base_url=f"{sim.base_url}/v1")
            for offered in (tools, [*tools[:1], {**tools[1], "function": _unmended()}]):
                request = ChatRequest(
                    messages=[{"role": "user", "content": "Hello."}], tools=offered
                )
                try:
                    items = [item async for item in llm.stream(request)]
                except Exception as exc:  # the sim refuses as OpenAI does
                    assert offered is not tools, exc
                    assert "at the top level" in str(exc), exc
                else:
                    assert offered is tools
                    assert "".join(i.text for i in items if isinstance(i, TextDelta)) == "Hi there."
            await llm.aclose()


def _unmended() -> dict[str, Any]:
    """A tool as the server lists it, with ``anyOf`` at its top."""
    return {
        "name": "union__pick",
        "description": "Pick one.",
        "parameters": {"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
    }


def test_shapes_named_by_a_local_reference_are_followed() -> None:
    """A server generating its schema from types names each shape in ``$defs``."""
    from voicedesk.tools.schemas import openai_parameters

    shape = {"properties": {"a": {"type": "string"}}, "required": ["a"]}
    params, wrong = openai_parameters(
        {"type": "object", "$defs": {"A": shape}, "anyOf": [{"$ref": "#/$defs/A"}, shape]}
    )
    assert wrong == "" and params is not None
    assert params["properties"] == {"a": {"type": "string"}} and params["required"] == ["a"]
    assert "anyOf" not in params


async def test_a_tool_list_change_checks_only_the_schemas_that_are_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each tool list that came (a server up, a server's tools/list_changed) checked the
    schema of every tool of every server again, on the event loop that also runs the
    conversation: about 1.2 ms a tool, 150 ms for 128 tools, each time. A schema checked
    once is not checked again while it is offered."""
    from voicedesk.tools import manager as manager_module

    checked: list[Any] = []
    real = manager_module.converted

    def counted(schema: Any) -> tuple[dict[str, Any] | None, str, Any]:
        checked.append(schema)
        return real(schema)

    monkeypatch.setattr(manager_module, "converted", counted)
    settings = one_server_settings(tmp_path, "dyn", DYNAMIC_SERVER, docs=True)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        names = lambda: [t["function"]["name"] for t in manager.llm_tools()]  # noqa: E731
        assert "dyn__enable_extra" in names() and "docs__search" in names()
        checked.clear()
        await manager.call("dyn__enable_extra", {}, call_id="a")
        deadline = time.monotonic() + 10
        while "dyn__extra" not in names():
            assert time.monotonic() < deadline, names()
            await asyncio.sleep(0.05)
        assert len(checked) == 1, checked  # the new tool's schema only


BIG_SCHEMA_SERVER = lowlevel_server(
    "big",
    """

FIELDS = {
    f"field_{n}": {"type": "string", "description": f"field number {n} of the form, as written"}
    for n in range(8000)
}
TOOLS = [
    mt.Tool(name="ping", description="Answer pong.", input_schema={"type": "object"}),
    mt.Tool(
        name="form",
        description="Fill the form.",
        input_schema={"type": "object", "properties": FIELDS, "required": ["field_7"]},
    ),
]

""",
)


async def test_a_huge_schema_is_converted_while_the_conversation_goes_on(tmp_path: Path) -> None:
    """A tool with a 2 MB input schema (20,000 properties) took 5 s (12-14 s on a busy
    machine) to be offered, converted on the event loop: the screen and the sound stood
    still all that time, nearly all of it jsonschema checking that the schema is one. It
    is converted in a worker thread now: the loop goes on meanwhile (its worst stall is a
    small part of the time the listing takes: generous, to catch a conversion on the
    loop only), and the tool is offered whole. Its first call, which made the checker of
    its arguments by the same check, held the loop as long (10 s): the listing's check
    makes it now (:func:`test_a_huge_schema_is_checked_once_for_the_listing_and_its_calls`),
    and it still checks them."""
    settings = one_server_settings(tmp_path, "big", BIG_SCHEMA_SERVER)
    gaps: list[float] = []
    started = asyncio.Event()

    async def heartbeat() -> None:
        last = time.monotonic()
        started.set()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    beating = asyncio.create_task(heartbeat())
    await started.wait()
    began = time.monotonic()
    manager = ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    try:
        await manager.start()
        while not manager.llm_tools():  # start() waits 10 s at most: a busy machine
            assert time.monotonic() - began < 120, "the tools never came"
            await asyncio.sleep(0.05)
        took = time.monotonic() - began
        beating.cancel()
        tools = {t["function"]["name"]: t["function"] for t in manager.llm_tools()}
        assert sorted(tools) == ["big__form", "big__ping"], sorted(tools)
        form = tools["big__form"]["parameters"]
        assert len(form["properties"]) == 8000 and form["required"] == ["field_7"]
        assert form["properties"]["field_7999"]["type"] == "string"
        assert max(gaps) < took / 3, (max(gaps), took)
        result = await manager.call("big__form", {"field_7": "x"}, call_id="c1")
        assert result.text == "form {'field_7': 'x'}", result.text
        refused = await manager.call("big__form", {"field_7": 7}, call_id="c2")
        assert refused.is_error and "“field_7” is 7" in refused.text, refused.text
    finally:
        beating.cancel()
        await manager.aclose()


async def test_a_tool_whose_schema_nests_too_deep_is_left_out_and_its_server_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A schema of choices nested 92 deep (``anyOf`` in ``anyOf``…), within what the SDK
    reads, raised RecursionError out of the tool listing: the server was said to have
    closed the connection and restarted every few seconds, none of its tools offered.
    The one tool is left out now, named, saying why; the server's other tool is offered."""
    listing = """
schema = {"type": "string"}
for _ in range(92):
    schema = {"anyOf": [schema]}
nest = {"type": "object", "properties": {"x": schema}}
result = {"tools": [
    {"name": "nest", "inputSchema": nest}, {"name": "ping", "inputSchema": {"type": "object"}}
]}
"""
    call = 'result = {"content": [{"type": "text", "text": "pong"}]}'
    settings = one_server_settings(
        tmp_path, "deep", wire_server("deep", listing=listing, call=call)
    )
    with caplog.at_level(logging.INFO, logger="voicedesk.tools.manager"):
        async with ToolManager(settings, log_dir=tmp_path / "logs") as manager:
            assert manager.status() == {"deep": "up"}, manager.why_down("deep")
            assert [t["function"]["name"] for t in manager.llm_tools()] == ["deep__ping"]
            assert (await manager.call("deep__ping", {}, call_id="p")).text == "pong"
    said = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(said) == 1 and "The tool nest of tool server “deep”" in said[0], said
    assert "more than 100 levels deep, counting each object and array" in said[0], said[0]
    assert not any(r.exc_info for r in caplog.records)


# A tool listing whose tool "nest" has an input schema of OBJECTS objects nested in one
# another, beside "ping": written by hand, as json.dumps writes nothing nested past about
# a thousand levels, and the SDK's reader reads no line past 200.
DEEP_LISTING_SETUP = """
def send(reply):
    text = json.dumps(reply)
    if reply.get("result") == "NEST":
        nest = '{"type": "object", "properties": {"x": ' * OBJECTS + '{"type": "string"}'
        nest += "}}" * OBJECTS
        tools = '[{"name": "nest", "inputSchema": %s}, {"name": "ping", "inputSchema": {}}]'
        text = text.replace('"NEST"', '{"tools": %s}' % (tools % nest))
    out.write(text.encode() + b"\\n")
"""


def _deep_listing_server(objects: int) -> str:
    return wire_server(
        "deep",
        listing='result = "NEST"',
        call='result = {"content": [{"type": "text", "text": "pong"}]}',
        setup=f"OBJECTS = {objects}\n{DEEP_LISTING_SETUP}",
        write="send(reply)",
    )


async def test_a_listing_nested_deeper_than_the_sdk_reads_leaves_out_only_the_deep_tool(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A listing with a schema of 150 objects nested in one another (300 JSON levels)
    is more than the MCP SDK's reader takes (200): the line was reported as one "that is
    not an MCP message", the listing waited out its time and the server was restarted
    again and again, none of its tools offered. It is read after all: the tool too deep
    is left out, saying why, and the server's other tool offered."""
    bus = ev.EventBus()
    notices = Recorder(bus)
    settings = one_server_settings(tmp_path, "deep", _deep_listing_server(150))
    with caplog.at_level(logging.INFO):
        async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
            deadline = time.monotonic() + 60
            while manager.status() != {"deep": "up"}:
                assert time.monotonic() < deadline, manager.why_down("deep")
                await asyncio.sleep(0.05)
            assert [t["function"]["name"] for t in manager.llm_tools()] == ["deep__ping"]
            assert (await manager.call("deep__ping", {}, call_id="p")).text == "pong"
    said = [e.message for e in notices.of(ev.Notice)]
    assert len(said) == 1 and "The tool nest of tool server “deep” is left out" in said[0], said
    assert "more than 100 levels deep" in said[0], said[0]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "not an MCP message" not in logged and "could not start" not in logged, logged


async def test_a_listing_too_deep_to_read_at_all_stops_its_server_saying_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A listing nested 1,500 objects deep is past what even Python's own reader goes
    (about a thousand): it cannot be read, and it was said to be "a line that is not an
    MCP message", then "could not start: no answer in time", its server restarted every
    30 s for as long as the conversation lasted, each restart listing the same. It is said
    what it is, naming the server and what to do, and the server is not restarted; at
    once, not after the handshake's time (the server's timeout_s, ten minutes here, which
    the loop below would not wait out)."""
    bus = ev.EventBus()
    notices = Recorder(bus)
    settings = one_server_settings(tmp_path, "deep", _deep_listing_server(1500))
    settings.tools.mcpServers["deep"].timeout_s = 600
    with caplog.at_level(logging.INFO):
        async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
            deadline = time.monotonic() + 60
            while manager.status() != {"deep": "failed"}:
                assert time.monotonic() < deadline, (manager.status(), manager.why_down("deep"))
                await asyncio.sleep(0.05)
            # the first restart would come after BACKOFF_FIRST_S
            await asyncio.sleep(manager_module.BACKOFF_FIRST_S * 3)
            assert manager._servers["deep"]._attempt == 1
            assert manager.llm_tools() == []
    said = [e.message for e in notices.of(ev.Notice)]
    assert len(said) == 1, said
    assert "Tool server “deep” could not start: its tool list nests more than 200" in said[0]
    assert "set enabled = false in tools.mcpServers.deep" in said[0], said[0]
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "not an MCP message" not in logged, logged


@pytest.mark.parametrize("objects", [300, 1500])  # past the SDK's reader; past Python's
async def test_a_start_answer_too_deep_to_read_is_said_to_be_the_start_answer(
    tmp_path: Path, objects: int
) -> None:
    """A server whose answer to ``initialize`` nests 1,500 objects deep (its server info),
    past Python's own reader, or 300 (past the SDK's): the server was said to have a
    "tool list" nesting too deep, and the person went looking for a tool's schema in a
    server that had not yet been asked for its tools. It is said to be its start answer."""
    setup = f"""
def send(reply):
    text = json.dumps(reply)
    text = text.replace('"NEST"', '{{"a": ' * {objects} + "1" + "}}" * {objects})
    out.write(text.encode() + b"\\n")
"""
    server = wire_server(
        "deep",
        greeting='result["serverInfo"]["about"] = "NEST"',
        listing='result = {"tools": []}',
        call="result = {}",
        setup=setup,
        write="send(reply)",
    )
    bus = ev.EventBus()
    notices = Recorder(bus)
    settings = one_server_settings(tmp_path, "deep", server)
    async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
        deadline = time.monotonic() + 60
        while manager.status() != {"deep": "failed"}:
            assert time.monotonic() < deadline, (manager.status(), manager.why_down("deep"))
            await asyncio.sleep(0.05)
    said = [e.message for e in notices.of(ev.Notice)]
    assert len(said) == 1, said
    assert "Tool server “deep” could not start: its start answer (to MCP's initialize" in said[0]
    assert "tool list" not in said[0] and "schema" not in said[0], said[0]
    assert "set enabled = false in tools.mcpServers.deep" in said[0], said[0]


async def test_a_result_nested_deeper_than_the_sdk_reads_is_said_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tool's answer nested 300 levels deep (its structured content) is more than the
    MCP SDK's reader takes: it was skipped as "a line that is not an MCP message" and the
    call waited out its timeout, the model told it took too long. It is answered at once
    that the answer nests deeper than can be read, and the server goes on."""
    call = """
deep = "leaf"
for _ in range(300):
    deep = [deep]
if params["name"] == "tree":
    result = {"content": [{"type": "text", "text": "a tree"}], "structuredContent": {"t": deep}}
else:
    result = {"content": [{"type": "text", "text": "pong"}]}
"""
    listing = 'result = {"tools": [{"name": n, "inputSchema": {}} for n in ("tree", "ping")]}'
    settings = one_server_settings(
        tmp_path, "deep", wire_server("deep", listing=listing, call=call)
    )
    settings.tools.mcpServers["deep"].timeout_s = 60
    with caplog.at_level(logging.INFO):
        async with ToolManager(settings, log_dir=tmp_path / "logs") as manager:
            tree = await manager.call("deep__tree", {}, call_id="t")
            ping = await manager.call("deep__ping", {}, call_id="p")
    assert tree.is_error and "nests more than 200 levels deep" in tree.text, tree.text
    assert "It ran, but what it did is not known" in tree.text, tree.text
    assert ping.text == "pong", ping.text
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "not an MCP message" not in logged, logged


# A server whose tool "tree" answers with a list nested LEVELS deep, past Python's own
# reader (written by hand: json.dumps writes nothing so deep), and whose tool "change" says
# its tools changed, each listing after the first nesting a schema as deep; "ping" pongs.
TOO_DEEP_SETUP = """
listings = 0
def send(reply):
    global listings
    text = json.dumps(reply)
    if reply.get("result") == "TREE":
        tree = "[" * LEVELS + '"leaf"' + "]" * LEVELS
        text = text.replace('"TREE"', '{"content": [], "structuredContent": {"t": %s}}' % tree)
    if reply.get("result") == "CHANGE":
        changed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
        out.write(json.dumps(changed).encode() + b"\\n")
        text = text.replace('"CHANGE"', '{"content": [{"type": "text", "text": "changed"}]}')
    if reply.get("result") == "LIST":
        listings += 1
        nest = '{"type": "object", "properties": {"x": ' * LEVELS + "{}" + "}}" * LEVELS
        tools = ['{"name": "%s", "inputSchema": {}}' % n for n in ("tree", "change", "ping")]
        if listings > 1:
            tools.append('{"name": "nest", "inputSchema": %s}' % nest)
        text = text.replace('"LIST"', '{"tools": [%s]}' % ", ".join(tools))
    out.write(text.encode() + b"\\n")
"""


def _too_deep_server(levels: int) -> str:
    call = """
if params["name"] == "ping":
    result = {"content": [{"type": "text", "text": "pong"}]}
else:
    result = params["name"].upper()
"""
    return wire_server(
        "deep",
        listing='result = "LIST"',
        call=call,
        setup=f"LEVELS = {levels}\n{TOO_DEEP_SETUP}",
        write="send(reply)",
    )


async def test_a_result_too_deep_for_pythons_reader_is_said_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A tool's answer nested 1,500 levels deep, past even Python's own reader: it was
    only logged, and the call waited out its timeout (ten minutes here), the model told
    it took too long. The call is answered at once that the answer nests too deep to read,
    and the server goes on."""
    settings = one_server_settings(tmp_path, "deep", _too_deep_server(1500))
    settings.tools.mcpServers["deep"].timeout_s = 600
    with caplog.at_level(logging.INFO):
        async with ToolManager(settings, log_dir=tmp_path / "logs") as manager:
            tree = await asyncio.wait_for(manager.call("deep__tree", {}, call_id="t"), 120)
            ping = await manager.call("deep__ping", {}, call_id="p")
            assert manager.status() == {"deep": "up"}
    assert tree.is_error and "nests more than 200 levels deep" in tree.text, tree.text
    assert "It ran, but what it did is not known" in tree.text, tree.text
    assert ping.text == "pong", ping.text
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "not an MCP message" not in logged, logged


async def test_a_relisting_too_deep_for_pythons_reader_is_said_and_the_tools_kept(
    tmp_path: Path,
) -> None:
    """A server whose changed tools (tools/list_changed) list a schema nested 1,500 deep,
    past Python's own reader: the relisting was only logged, and waited for its answer for
    as long as the server lived. The person hears at once that the new list could not be
    read, and the earlier tools stay offered, the server up."""
    bus = ev.EventBus()
    notices = Recorder(bus)
    settings = one_server_settings(tmp_path, "deep", _too_deep_server(1500))
    async with ToolManager(settings, bus=bus, log_dir=tmp_path / "logs") as manager:
        offered = [t["function"]["name"] for t in manager.llm_tools()]
        assert offered == ["deep__change", "deep__ping", "deep__tree"], offered
        assert (await manager.call("deep__change", {}, call_id="c")).text == "changed"
        deadline = time.monotonic() + 60
        while not any("could not be read" in e.message for e in notices.of(ev.Notice)):
            assert time.monotonic() < deadline, [e.message for e in notices.of(ev.Notice)]
            await asyncio.sleep(0.05)
        assert [t["function"]["name"] for t in manager.llm_tools()] == offered
        assert (await manager.call("deep__ping", {}, call_id="p")).text == "pong"
        assert manager.status() == {"deep": "up"}
    said = [e.message for e in notices.of(ev.Notice) if "could not be read" in e.message]
    assert len(said) == 1, said
    assert said[0].startswith("Tool server “deep” changed its tools, but their new list"), said
    assert "nests more than 200 levels deep" in said[0], said[0]
    assert said[0].endswith("its earlier tools are still offered."), said[0]


async def _tools_offered(manager: ToolManager) -> None:
    """Until the big schema's server offers its tools: ``start()`` waits 10 s at most, and
    checking a 2 MB schema takes longer than that on a busy machine."""
    deadline = time.monotonic() + 120
    while not manager.llm_tools():
        assert time.monotonic() < deadline, "the tools never came"
        await asyncio.sleep(0.05)


async def test_a_huge_schema_is_checked_once_for_the_listing_and_its_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """jsonschema's check that a 2 MB input schema (20,000 properties) is one ran twice,
    seconds of a core each: once for the listing, and again as the tool's first call made
    the checker of its arguments. The listing's check makes that checker now: the
    schema is checked once, and its calls are checked by it."""
    import jsonschema

    checked: list[int] = []
    real = jsonschema.Draft202012Validator.check_schema.__func__  # type: ignore[attr-defined]

    def counted(cls: Any, schema: Any, *args: Any, **kwargs: Any) -> None:
        if len(schema.get("properties") or ()) >= 8000:
            checked.append(len(schema["properties"]))
        real(cls, schema, *args, **kwargs)

    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema", classmethod(counted))
    settings = one_server_settings(tmp_path, "big", BIG_SCHEMA_SERVER)
    manager = ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    try:
        await manager.start()
        await _tools_offered(manager)
        good, bad = await asyncio.gather(
            manager.call("big__form", {"field_7": "x"}, call_id="c1"),
            manager.call("big__form", {"field_7": 7}, call_id="c2"),
        )
        later = await manager.call("big__form", {}, call_id="c3")
    finally:
        await manager.aclose()
    assert good.text == "form {'field_7': 'x'}", good.text
    assert bad.is_error and "“field_7” is 7" in bad.text, bad.text
    assert later.is_error and "“field_7” is missing" in later.text, later.text
    assert checked == [8000], checked


# BIG_SCHEMA_SERVER's form in JSON Schema draft 4, which the model is offered in today's
# form: the listing checks that form, and makes the checker of the server's own.
BIG_DRAFT4_SERVER = BIG_SCHEMA_SERVER.replace(
    '{"type": "object", "properties": FIELDS',
    '{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": FIELDS',
)
# BIG_SCHEMA_SERVER's form as a choice of one shape, which the model is offered as one
# object: another schema than the server's own, whose checker its first call makes.
BIG_CHOICE_SERVER = BIG_SCHEMA_SERVER.replace(
    'input_schema={"type": "object", "properties": FIELDS, "required": ["field_7"]}',
    'input_schema={"type": "object", "anyOf": [{"properties": FIELDS, "required": ["field_7"]}]}',
)


async def test_a_huge_draft4_schema_is_checked_once_for_the_listing_and_its_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2 MB input schema in JSON Schema draft 4 was checked twice, seconds of a core
    each: in today's form for the listing, and in its own at its tool's first call. The
    listing's check of today's form makes the checker of its own (draft 4's ``exclusive
    Minimum: true`` read as draft 4 means it), and it is not checked again."""
    import jsonschema

    checked: list[str] = []
    for cls in (jsonschema.Draft4Validator, jsonschema.Draft202012Validator):
        real = cls.check_schema.__func__  # type: ignore[attr-defined]

        def counted(cls: Any, schema: Any, *args: Any, real: Any = real, **kwargs: Any) -> None:
            if len(schema.get("properties") or ()) >= 8000:
                checked.append(cls.__name__)
            real(cls, schema, *args, **kwargs)

        monkeypatch.setattr(cls, "check_schema", classmethod(counted))
    source = BIG_DRAFT4_SERVER.replace(
        "TOOLS = [",
        'FIELDS["count"] = {"type": "integer", "minimum": 0, "exclusiveMinimum": True}\nTOOLS = [',
    )
    settings = one_server_settings(tmp_path, "big", source)
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:
        await _tools_offered(manager)
        good = await manager.call("big__form", {"field_7": "x", "count": 1}, call_id="c1")
        bad = await manager.call("big__form", {"field_7": "x", "count": 0}, call_id="c2")
    assert good.text == "form {'field_7': 'x', 'count': 1}", good.text
    assert bad.is_error and "“count”: 0 is less than or equal to the minimum" in bad.text, bad.text
    assert checked == ["Draft202012Validator"], checked


async def test_two_first_calls_of_a_tool_at_once_make_its_checker_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model's calls in one round run at once: two first calls of a tool with a 2 MB
    schema each made its argument checker on a thread of its own, the same check twice,
    seconds of both cores each. It is made once, and checks both calls. (A choice of one
    shape, whose checker the listing does not make: it checked the one object it made.)"""
    made: list[Any] = []
    real = manager_module.made_checker

    def counted(schema: dict[str, Any]) -> tuple[Any, Exception | None]:
        made.append(schema)
        return real(schema)

    monkeypatch.setattr(manager_module, "made_checker", counted)
    settings = one_server_settings(tmp_path, "big", BIG_CHOICE_SERVER)
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:
        await _tools_offered(manager)
        good, bad = await asyncio.gather(
            manager.call("big__form", {"field_7": "x"}, call_id="c1"),
            manager.call("big__form", {"field_7": 7}, call_id="c2"),
        )
    assert good.text == "form {'field_7': 'x'}", good.text
    assert bad.is_error and "“field_7” is 7" in bad.text, bad.text
    assert len(made) == 1, len(made)


QUIT_WHILE_CONVERTING = """
import asyncio
import sys
import threading

from voicedesk.config import Settings
from voicedesk.tools import manager as manager_module
from voicedesk.tools.manager import ToolManager

converting = threading.Event()
real = manager_module.converted


def endless(schema):  # a schema whose conversion outlasts the session: minutes on a busy machine
    if schema.get("properties"):
        converting.set()
        threading.Event().wait()
    return real(schema)


manager_module.converted = endless


async def main():
    server = {"command": sys.executable, "args": [sys.argv[1]]}
    settings = Settings.model_validate(
        {"tools": {"docs_server": False, "mcpServers": {"big": server}}}
    )
    manager = ToolManager(settings, log_dir=None)
    starting = asyncio.create_task(manager.start())
    while not converting.is_set():
        await asyncio.sleep(0.05)
    await manager.aclose()
    starting.cancel()


asyncio.run(main())
print("closed", flush=True)
"""


def test_quitting_while_a_schema_converts_does_not_wait_for_it(tmp_path: Path) -> None:
    """Quitting (the session closed) while a tool listing's big schema was converting on
    a worker thread: the conversion cannot be stopped, and the program's end waited for
    it (7-17 s for a 2 MB schema, after everything else had closed). The program ends at
    once now. Here the conversion never ends: the process must end all the same."""
    import subprocess

    server = tmp_path / "big.py"
    server.write_text(BIG_SCHEMA_SERVER)
    script = tmp_path / "quit.py"
    script.write_text(QUIT_WHILE_CONVERTING)
    try:
        done = subprocess.run(
            [sys.executable, str(script), str(server)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the program never ended after closing: {exc.stdout!r}")
    assert done.returncode == 0 and "closed" in done.stdout, (done.stdout, done.stderr[-2000:])


async def test_two_tool_list_changes_at_once_leave_the_newer_list_offered(
    tmp_path: Path,
) -> None:
    """Two tools/list_changed at once: the first listing, with a 1 MB schema, took seconds
    to convert on its worker thread, the second none, so the first was put in place last
    and the model was offered the older list (a tool gone offered, one new missing) until
    the server's tools changed again. The newer listing stays."""
    from mcp_servers import shifting_server

    settings = one_server_settings(tmp_path, "shift", shifting_server(big=(1,)))
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:
        names = lambda: sorted(t["function"]["name"] for t in manager.llm_tools())  # noqa: E731
        assert "shift__v0" in names(), names()
        await manager.call("shift__relist", {}, call_id="r")
        refreshes = manager._servers["shift"]._refreshes
        deadline = time.monotonic() + 120
        while "shift__v0" in names() or refreshes:
            assert time.monotonic() < deadline, names()
            await asyncio.sleep(0.05)
        assert names() == ["shift__ping", "shift__relist", "shift__v2"], names()


async def test_a_tool_list_change_while_the_first_listing_converts_is_listed(
    tmp_path: Path,
) -> None:
    """A server that says its tools changed (tools/list_changed) just after its first
    listing, while that listing's 1 MB schema was converting on a worker thread: the
    change was dropped (the server not up yet), and the model was offered the first list
    until the server's tools changed again. The server is listed again once up."""
    from mcp_servers import shifting_server

    settings = one_server_settings(tmp_path, "shift", shifting_server(big=(0,), nudge=True))
    async with ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs") as manager:
        names = lambda: sorted(t["function"]["name"] for t in manager.llm_tools())  # noqa: E731
        deadline = time.monotonic() + 60
        while "shift__v1" not in names():
            assert time.monotonic() < deadline, names()
            await asyncio.sleep(0.05)
        assert names() == ["shift__ping", "shift__relist", "shift__v1"], names()


WORDY_SERVER = lowlevel_server(
    "wordy",
    """

STEPS = "\\n".join(
    f"- Step {n}: think about part {n} of the problem again, and revise it if needed."
    for n in range(1, 41)
)
TOOLS = [
    mt.Tool(
        name="think",
        description="A detailed tool for reflective problem-solving.\\n" + STEPS,
        input_schema={"type": "object", "properties": {"thought": {"type": "string"}}},
    ),
    mt.Tool(name="ping", title="Ping the server", input_schema={"type": "object"}),
]

""",
)


async def test_a_tool_described_at_length_is_offered_with_a_description_openai_takes(
    tmp_path: Path,
) -> None:
    """OpenAI refuses every request in which one tool's description is over 1024
    characters ("Invalid 'tools[0].function.description': string too long"), and MCP
    servers write long ones: the official sequential-thinking server's is 2,781. With it
    configured no answer came at all, whatever was asked. The description is cut to
    what OpenAI takes now, at the end of a line, saying so; its start is kept whole."""

    settings = one_server_settings(tmp_path, "wordy", WORDY_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        tools = manager.llm_tools()
    described = {t["function"]["name"]: t["function"]["description"] for t in tools}
    assert described["wordy__ping"] == "Ping the server"
    think = described["wordy__think"]
    assert len(think) <= 1024
    assert think.startswith("A detailed tool for reflective problem-solving.\n- Step 1: ")
    kept, note = think.rsplit("\n", 1)
    assert kept.endswith("revise it if needed.")  # whole lines only
    assert note.startswith("[…") and "cut" in note, note
    assert await _answer_offered(tools) == "Hi there."


TASKS_SERVER = lowlevel_server(
    "tasks",
    """

TOOLS = [
    mt.Tool(
        name="research",
        description="Research a topic, as a task.",
        input_schema={"type": "object", "properties": {"topic": {"type": "string"}}},
        execution=mt.ToolExecution(task_support="required"),
    ),
    mt.Tool(
        name="lookup",
        description="Look a word up, as a task or not.",
        input_schema={"type": "object"},
        execution=mt.ToolExecution(task_support="optional"),
    ),
]

""",
)


async def test_a_tool_that_runs_only_as_a_task_is_not_offered(tmp_path: Path) -> None:
    """A tool may say it runs only as an MCP task (``execution.taskSupport: "required"``,
    as the reference "everything" server's simulate-research-query does), which the
    client then has to call, poll and fetch; voicedesk calls tools directly. Such a tool
    was offered all the same, and each call of it failed ("MCP error -32601: Tool
    simulate-research-query requires task augmentation"): a round to the model lost and
    an error the model relayed. It is left out now, with a notice saying why; a tool that
    may run either way is offered."""
    settings = one_server_settings(tmp_path, "tasks", TASKS_SERVER)
    bus = ev.EventBus()
    seen = Recorder(bus)
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        names = [t["function"]["name"] for t in manager.llm_tools()]
        assert names == ["tasks__lookup"]
        notices = [n.message for n in seen.of(ev.Notice) if "left out" in n.message]
        assert len(notices) == 1, notices
        assert "research" in notices[0] and "“tasks”" in notices[0] and "task" in notices[0]
        result = await manager.call("tasks__research", {"topic": "x"}, call_id="r")
        assert result.is_error and "no tool called tasks__research" in result.text


PROGRESS_SERVER = """
import asyncio

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("busy")


@server.tool()
async def build(ctx: Context, steps: int = 8) -> str:
    \"\"\"Work for a while, reporting progress every 0.1 s; steps 0: without end.\"\"\"
    n = 0
    while steps == 0 or n < steps:
        n += 1
        await ctx.report_progress(n, steps or None, f"step {n}")
        await asyncio.sleep(0.1)
    return f"built in {n} steps"


server.run("stdio")
"""


# What a call stopped at its timeout is told when its tool is not declared harmless to
# repeat: the tool may have done its work before (test_a_call_cut_at_its_timeout_that_may_…)
NOT_KNOWN = (
    " Whether it did anything before that is not known: check (or ask the person) before "
    "calling it again."
)


async def test_a_call_that_keeps_reporting_progress_is_not_cut_at_its_timeout(
    tmp_path: Path,
) -> None:
    """A tool that works longer than its server's ``timeout_s`` and says so with progress
    reports (a build, a download, the "everything" server's long-running operation) was
    stopped at ``timeout_s`` all the same, with its progress bar at 75 %: the person
    heard it "took longer than 30 seconds and was stopped", and the work was lost. Each
    progress report now gives it ``timeout_s`` more, as the MCP specification allows,
    up to ten times ``timeout_s`` in all; a call that goes quiet is still cut."""
    script = tmp_path / "busy.py"
    script.write_text(PROGRESS_SERVER)
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "busy": {"command": sys.executable, "args": [str(script)], "timeout_s": 0.6}
                },
            }
        }
    )
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        # 12 steps of 0.1 s: twice its 0.6 s timeout, reached only by its reports
        result = await manager.call("busy__build", {"steps": 12}, call_id="b")
        assert not result.is_error, result.text
        assert result.text == "built in 12 steps" and result.duration_s >= 1.2
        endless = await manager.call("busy__build", {"steps": 0}, call_id="e")
        # not cut before its 6 s at the most (its reports kept it going); the upper bound
        # only catches a call never cut, the words say which limit stopped it
        assert endless.is_error and 5.5 < endless.duration_s < 30, endless
        assert endless.text == (
            "The tool busy__build took longer than 6 seconds, the most it is given however it "
            "reports progress (ten times its server's timeout_s), and was stopped." + NOT_KNOWN
        )
        assert (await manager.call("busy__build", {"steps": 1}, call_id="c")).text == (
            "built in 1 steps"
        )


STUCK_SERVER = lowlevel_server(
    "stuck",
    """

import time

TOOLS = [
    mt.Tool(name="stuck", input_schema={"type": "object"}),
    mt.Tool(name="echo", input_schema={"type": "object"}),
]


def blocking_call(name):
    if name == "stuck":
        open(MARKER, "w").close()  # the test waits for this: the server is in its sleep
        time.sleep(12)  # holds its event loop: it reads nothing meanwhile
    return mt.CallToolResult(content=[mt.TextContent(text="done")])

""",
)


async def test_a_call_cut_at_its_timeout_is_not_said_to_have_had_ten_times_it(
    tmp_path: Path,
) -> None:
    """A call that reported no progress and was stopped at its server's timeout_s, but
    whose stop took long (the server had stopped reading, so the cancel sent to it
    waited up to 5 s), was said to have "taken longer than ten times its timeout_s, the
    most it is given however it reports progress": the time it took, not the limit it
    hit, chose the words. Which limit stopped it says now."""
    marker = tmp_path / "sleeping"
    source = STUCK_SERVER.replace(
        "async def call_tool(ctx, params):\n",
        "async def call_tool(ctx, params):\n    return blocking_call(params.name)\n",
    ).replace("import time\n", f"import time\n\nMARKER = {str(marker)!r}\n", 1)
    settings = one_server_settings(tmp_path, "stuck", source)
    settings.tools.mcpServers["stuck"].timeout_s = 0.3
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        stuck = asyncio.create_task(manager.call("stuck__stuck", {}, call_id="s"))
        async with asyncio.timeout(20):  # the server is in its sleep, reading nothing
            while not marker.exists():
                await asyncio.sleep(0.01)
        # more than its input pipe holds (its reader takes one line in): the writes, and
        # the cancels after them, wait
        bigs = await asyncio.gather(
            *(manager.call("stuck__echo", {"text": "x" * 300_000}, call_id=f"e{n}") for n in (1, 2))
        )
        await stuck
    slowest = max(bigs, key=lambda r: r.duration_s)
    assert slowest.duration_s >= 3.0, bigs  # the 3 s of "ten times" its timeout_s passed
    for big in bigs:
        said = "The tool stuck__echo took longer than 0.3 seconds and was stopped."
        assert big.text == said + NOT_KNOWN, big


MEDIA_SERVER = """
import base64

import anyio
import mcp_types as mt
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
TOOLS = [
    mt.Tool(name=name, input_schema={"type": "object"})
    for name in ("chart", "chime", "scan", "notes", "bad")
]
# a text file sent as a blob (base64), as servers that read files as bytes send them
NOTES = base64.b64encode("# Shopping\\n- milk\\n- café au lait\\n".encode()).decode()


async def list_tools(ctx, params):
    return mt.ListToolsResult(tools=TOOLS)


async def call_tool(ctx, params):
    if params.name == "chart":
        content = [
            mt.TextContent(text="Here is the sales chart:"),
            mt.ImageContent(data=PNG, mime_type="image/png"),
        ]
    elif params.name == "chime":
        content = [mt.AudioContent(data="UklGRg==", mime_type="audio/wav")]
    elif params.name in ("notes", "bad"):
        blob = mt.BlobResourceContents(
            uri="file:///notes/list.md",
            mime_type="text/markdown",
            blob=NOTES if params.name == "notes" else PNG,  # bad: no UTF-8 text, whatever it says
        )
        content = [mt.EmbeddedResource(resource=blob)]
    else:
        blob = mt.BlobResourceContents(
            uri="file:///scans/receipt.pdf", mime_type="application/pdf", blob=PNG
        )
        content = [mt.EmbeddedResource(resource=blob)]
    return mt.CallToolResult(content=content)


async def main():
    server = Server("media", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


anyio.run(main)
"""


async def test_a_picture_or_sound_a_tool_returns_is_said_to_reach_nobody(tmp_path: Path) -> None:
    """A tool that answers with an image (the "everything" server's get-tiny-image, the
    filesystem server's read_media_file), a sound or a binary file had it named to the
    model as "[image, image/png]", and the model answered "Here is the image", though
    voicedesk shows no images and plays no tool's sounds: the person saw and heard
    nothing of it. The model is told now that neither it nor the person can see (or
    hear) it, so it does not say it is shown."""
    settings = one_server_settings(tmp_path, "media", MEDIA_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        chart = await manager.call("media__chart", {}, call_id="c")
        chime = await manager.call("media__chime", {}, call_id="a")
        scan = await manager.call("media__scan", {}, call_id="s")
    assert not chart.is_error and chart.text.startswith("Here is the sales chart:\n")
    assert chart.spoken == "Here is the sales chart:"
    for result, what in ((chart, "image/png"), (chime, "audio/wav"), (scan, "receipt.pdf")):
        said = result.text.splitlines()[-1]
        assert what in said and "neither you nor the person" in said, said
    assert "application/pdf" in scan.text
    # the person is shown what each is, not the model's sentence (the chart's caption first)
    assert chart.spoken == "Here is the sales chart:"
    assert chart.shown == "Here is the sales chart:\n[image, image/png, 70 bytes]"
    assert chime.spoken == chime.shown == "[sound, audio/wav, 4 bytes]"
    assert scan.shown == "[file, file:///scans/receipt.pdf (application/pdf), 70 bytes]"


async def test_a_text_file_a_tool_sends_as_a_blob_reaches_the_model_as_text(
    tmp_path: Path,
) -> None:
    """A file of text a tool returns as an embedded blob (base64, with a text/* type: a
    server that reads files as bytes, the "everything" server's resource references) was
    named to the model as a file that "neither you nor the person can open", and its
    words were lost, though they are text like any other. They are passed on now; a blob
    that is no text after all is still named as one nobody can open."""
    settings = one_server_settings(tmp_path, "media", MEDIA_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        notes = await manager.call("media__notes", {}, call_id="n")
        bad = await manager.call("media__bad", {}, call_id="b")
    assert not notes.is_error and notes.text == "# Shopping\n- milk\n- café au lait", notes.text
    assert "list.md" in bad.text and "neither you nor the person can open it" in bad.text
    # in the character set its type names
    latin = base64.b64encode("Grüße".encode("utf-16")).decode()
    blob = mt.BlobResourceContents(
        uri="file:///g.txt", mime_type="text/plain; charset=UTF-16", blob=latin
    )
    assert (
        result_texts(mt.CallToolResult(content=[mt.EmbeddedResource(resource=blob)]))[0] == "Grüße"
    )
    # a text too long to pass on whole is said to be one, not one nobody can open
    huge = base64.b64encode(b"x" * 300_000).decode()
    blob = mt.BlobResourceContents(uri="file:///big.log", mime_type="text/plain", blob=huge)
    said = result_texts(mt.CallToolResult(content=[mt.EmbeddedResource(resource=blob)]))[0]
    assert "big.log" in said and "300,000 bytes" in said and "a part of it" in said, said


# A server written by hand (the SDK's own servers always write UTF-8): its ``menu`` tool
# answers in Windows-1252, as a server that prints text in the system's code page does.
CP1252_SERVER = wire_server(
    "legacy",
    listing="""result = {
    "tools": [
        {"name": name, "description": name, "inputSchema": {"type": "object"}}
        for name in ("menu", "ping")
    ]
}""",
    call="""text = "Café crème: 3 €" if params["name"] == "menu" else "pong"
result = {"content": [{"type": "text", "text": text}]}""",
    write='out.write(json.dumps(reply, ensure_ascii=False).encode("cp1252") + b"\\n")',
)


async def test_a_reply_that_is_not_utf8_is_read_and_the_server_stays_usable(
    tmp_path: Path,
) -> None:
    """A tool server that answered one call in another encoding than UTF-8 (a byte such
    as Latin-1's é) ended the SDK's reading of its stdout for good, while its process and
    session looked alive: that call and every later call to any of its tools waited its
    whole timeout_s (30 s by default) and was told "took longer than … seconds", and the
    server was never restarted. Such bytes are read as U+FFFD now: the call is answered
    at once, the rest of its text intact, and the server goes on answering."""
    settings = one_server_settings(tmp_path, "legacy", CP1252_SERVER)
    settings.tools.mcpServers["legacy"].timeout_s = 5.0
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        menu = await manager.call("legacy__menu", {}, call_id="m")
        ping = await manager.call("legacy__ping", {}, call_id="p")
    assert not menu.is_error and menu.text == "Caf\ufffd cr\ufffdme: 3 \ufffd", menu.text
    assert not ping.is_error and ping.text == "pong", ping.text


# A server written by hand (the SDK's own servers check their results against their
# schemas): each tool declares an output schema its results do not keep to.
OUTPUT_SCHEMA_SERVER = wire_server(
    "billing",
    setup="""\
COUNT = {"type": "object", "properties": {"count": {"type": "integer"}}, "required": ["count"]}
TOOLS = {  # name: (output schema, structured content)
    "send": (COUNT, None),  # text only, as many servers answer
    "tally": (COUNT, {"count": "three"}),  # not as its schema says
    "odd": ({"type": "object", "properties": {"count": {"type": "bogus"}}}, {"count": 3}),
}""",
    listing="""result = {
    "tools": [
        {"name": name, "description": name, "inputSchema": {"type": "object"},
         "outputSchema": schema}
        for name, (schema, _) in TOOLS.items()
    ]
}""",
    call="""name = params["name"]
result = {"content": [{"type": "text", "text": f"Sent invoice 42 ({name})."}]}
if TOOLS[name][1] is not None:
    result["structuredContent"] = TOOLS[name][1]""",
)


async def test_a_result_not_as_its_output_schema_says_still_reaches_the_model(
    tmp_path: Path,
) -> None:
    """A tool that declares an output schema and answers without structured content, or
    with some its schema does not allow (many servers do: bricks-mcp#45, evoila/meho#2774),
    or whose schema is itself no valid JSON Schema, had its answer thrown away by the MCP
    SDK's check of it after the tool had run: the model was told "The tool send failed:
    RuntimeError: Tool send has an output schema but did not return structured content"
    (or a jsonschema report a dozen lines long), said it had failed, and could run it
    again, sending the invoice twice. voicedesk reads only the result's content (its
    structured content when it has no other), so the answer is passed on as it came."""
    settings = one_server_settings(tmp_path, "billing", OUTPUT_SCHEMA_SERVER)
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        results = [await manager.call(f"billing__{n}", {}, call_id=n) for n in TOOLS_NAMED]
    for name, result in zip(TOOLS_NAMED, results, strict=True):
        assert not result.is_error and result.text == f"Sent invoice 42 ({name}).", result.text


TOOLS_NAMED = ("send", "tally", "odd")


# A server written by hand (the SDK's own servers list only what the protocol allows):
# its tools' schemas are as some servers in the wild write them.
LOOSE_LISTING_SERVER = wire_server(
    "loose",
    setup="""\
TOOLS = {  # name: the tool as listed, beside its name
    "ping": {"inputSchema": {}},  # no "type": a tool that takes no arguments
    "add": {"inputSchema": {"properties": {"n": {"type": "integer"}}, "required": ["n"]}},
    "echo": {  # an output schema that is no object
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
        "outputSchema": {"type": "string"},
    },
    "batch": {"inputSchema": {"type": "array", "items": {"type": "string"}}},
    "undescribed": {"inputSchema": {"type": "object"}, "annotations": "read-only"},
    "bare": {},  # no input schema at all: a tool that takes no arguments
    "pictured": {"inputSchema": {"type": "object"}, "icons": "sun.png", "title": 7},
}""",
    listing="""result = {"tools": [{"name": name, **tool} for name, tool in TOOLS.items()]}""",
    call="""arguments = params.get("arguments") or {}
text = {"ping": "pong", "add": str(arguments.get("n", 0) + 1)}.get(params["name"], "ok")
if params["name"] == "echo":
    text = arguments.get("text", "")
result = {"content": [{"type": "text", "text": text}]}""",
)


async def test_one_tool_listed_as_the_protocol_does_not_allow_leaves_out_only_itself(
    tmp_path: Path,
) -> None:
    """The MCP SDK refuses a whole tool listing for one tool in it that the protocol does
    not allow: an input schema without ``"type": "object"`` (``{}`` for a tool that takes
    no arguments, as servers in the wild write it), an output schema that is no object,
    annotations of the wrong shape. Every tool of such a server was unavailable all
    conversation long, "could not start: it sent a ListToolsResult the MCP protocol does
    not allow", tried again every 30 s for nothing. An input schema without a type is an
    object (as OpenAI is offered it anyway), so is one missing, an output schema voicedesk
    does not use is dropped, and so is what only describes a tool (annotations, icons, a
    title) of the wrong shape: such a tool was left out, though it works the same without
    it. A tool still not allowed is left out, said once; its other tools serve."""
    bus = ev.EventBus()
    rec = Recorder(bus)
    settings = one_server_settings(tmp_path, "loose", LOOSE_LISTING_SERVER)
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        offered = {t["function"]["name"] for t in manager.llm_tools()}
        ping = await manager.call("loose__ping", {}, call_id="p")
        add = await manager.call("loose__add", {"n": 41}, call_id="a")
        echo = await manager.call("loose__echo", {"text": "hi"}, call_id="e")
        status = manager.status()
        changes_things = not manager.reads_only(["loose__undescribed"])
    assert status == {"loose": "up"}
    assert offered == {
        "loose__ping",
        "loose__add",
        "loose__echo",
        "loose__undescribed",
        "loose__bare",
        "loose__pictured",
    }, offered
    assert (ping.text, add.text, echo.text) == ("pong", "42", "hi")
    said = [n.message for n in rec.of(ev.Notice)]
    left_out = [m for m in said if "left out" in m]
    assert len(left_out) == 1, said
    batch = next(m for m in left_out if "batch" in m)
    assert "inputSchema.type" in batch and "Its other tools are available" in batch, batch
    # what only describes a tool (its hints, icons, title) is dropped when of the wrong
    # shape: the tool does the same without it (hints gone, it counts as changing things)
    assert changes_things
    assert not any("could not start" in m for m in said), said


# A server written by hand, answering as a Node.js server that cuts its text by
# JavaScript's string length does: in the middle of an emoji, whose first half
# JSON.stringify writes as a lone "\ud83d".
HALF_EMOJI_SERVER = wire_server(  # json.dumps writes the half as an escape, as JSON.stringify
    "news",
    listing="""result = {"tools": [{"name": "headline", "inputSchema": {"type": "object"}}]}""",
    call="""text = "Sunny all week " + chr(0xD83C)  # the first half of the sun's emoji
result = {"content": [{"type": "text", "text": text}]}""",
)


async def test_half_an_emoji_in_an_answer_is_read_not_waited_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A Node.js tool server that cut its text in the middle of an emoji (JavaScript counts
    an emoji as two characters) sends its first half alone, "\\ud83c", which JSON allows
    and the MCP SDK's parser refuses: the answer was skipped as "a line that is not an MCP
    message" (telling the server's maker to log to stderr), and the call waited out its
    timeout_s (30 s by default), then was said to have taken too long. The half is read as
    U+FFFD, and the answer arrives at once."""
    settings = one_server_settings(tmp_path, "news", HALF_EMOJI_SERVER)
    settings.tools.mcpServers["news"].timeout_s = 5.0
    manager = ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    with caplog.at_level(logging.WARNING):
        await manager.start()
        try:
            result = await manager.call("news__headline", {}, call_id="h")
        finally:
            await manager.aclose()
    assert not result.is_error and result.text == "Sunny all week \ufffd", result.text
    assert not [r for r in caplog.records if "not an MCP message" in r.getMessage()]


async def test_a_server_dying_during_a_call_that_may_change_things_is_not_retried_blindly(
    tmp_path: Path,
) -> None:
    """A server that died while running a tool that may change things (one it does not
    declare read-only: send an invoice, delete a file) may have done the work before it
    died. The model was told "Try again in a few seconds", and could do it twice. It is
    told now that whether the tool did anything is not known, and to check first; a tool
    that only reads may simply be tried again."""
    async with running(
        ToolManager(flaky_settings(tmp_path), bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        assert not manager.reads_only(["flaky__boom"])
        crashed = await manager.call("flaky__boom", {}, call_id="b")
    assert crashed.is_error and "restarting" in crashed.text, crashed.text
    assert "Try again" not in crashed.text, crashed.text
    assert "whether boom did anything is not known" in crashed.text, crashed.text


# A server written by hand, as a Node.js server that cuts text by JavaScript's length and
# lists a tool taking no arguments with an input schema of {}: its half emoji comes in its
# handshake's instructions (MODE=init) or in a tool's description (MODE=list).
HALF_EMOJI_LOOSE_SERVER = wire_server(
    "news",
    setup='MODE = os.environ["MODE"]',
    greeting="""if MODE == "init":
    result["instructions"] = "Weather news " + chr(0xD83C)""",
    listing="""cut = " " + chr(0xD83C) if MODE == "list" else ""
result = {
    "tools": [
        {"name": "headline", "description": "Today's" + cut, "inputSchema": {}},
        {"name": "ping", "inputSchema": {"type": "object"}},
    ]
}""",
    call="""result = {"content": [{"type": "text", "text": "pong"}]}""",
)


@pytest.mark.parametrize("mode", ["init", "list"])
async def test_a_listing_read_with_half_an_emoji_is_mended_tool_by_tool_too(
    tmp_path: Path, mode: str
) -> None:
    """A message read after all for half an emoji in it skipped what every other message
    goes through: half an emoji in the handshake (its instructions) left the protocol
    version unnoted, and one in the listing (a description cut short) left the listing
    unmended, so a tool listed with an input schema of ``{}`` had the whole server refused
    again: "could not start: it sent a ListToolsResult the MCP protocol does not allow",
    none of its tools offered, tried again every 30 s. Both fixes hold together now."""
    bus = ev.EventBus()
    rec = Recorder(bus)
    settings = one_server_settings(tmp_path, "news", HALF_EMOJI_LOOSE_SERVER)
    settings.tools.mcpServers["news"].env = {"MODE": mode}
    async with running(ToolManager(settings, bus=bus, log_dir=tmp_path / "logs")) as manager:
        offered = {t["function"]["name"] for t in manager.llm_tools()}
        headline = await manager.call("news__headline", {}, call_id="h")
        status = manager.status()
    said = [n.message for n in rec.of(ev.Notice)]
    assert status == {"news": "up"}, said
    assert offered == {"news__headline", "news__ping"}, said
    assert not headline.is_error and headline.text == "pong", headline.text


# Tools of each kind a retry matters to: one that changes things (undeclared), one that
# only reads, one that may be repeated to no further effect; each is slow or crashes.
ACTING_SERVER = """\
import os
import time

import mcp_types as mt
from mcp.server.mcpserver import MCPServer

server = MCPServer("billing")
READS = mt.ToolAnnotations(read_only_hint=True)
SAME = mt.ToolAnnotations(read_only_hint=False, idempotent_hint=True)


@server.tool()
def send_slowly() -> str:
    time.sleep(5)
    return "sent"


@server.tool(annotations=READS)
def balance_slowly() -> str:
    time.sleep(5)
    return "42"


@server.tool(annotations=SAME)
def set_due_date() -> str:
    os._exit(1)


server.run("stdio")
"""


async def test_a_call_cut_at_its_timeout_that_may_have_acted_is_not_retried_blindly(
    tmp_path: Path,
) -> None:
    """A call stopped at its timeout_s may have done its work before (a payment service
    that sent the invoice, then was slow to say so; the cancel sent to it is a request,
    not an undo): the model heard only that it "took longer than 30 seconds and was
    stopped", and could send the invoice twice, as it could after a crash before. It is
    told now that whether the tool did anything is not known. A tool that only reads, or
    one its server declares may be repeated to no further effect (idempotent), is still
    simply tried again after a crash."""
    settings = one_server_settings(tmp_path, "billing", ACTING_SERVER)
    settings.tools.mcpServers["billing"].timeout_s = 0.5
    async with running(
        ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    ) as manager:
        send = await manager.call("billing__send_slowly", {}, call_id="s")
        balance = await manager.call("billing__balance_slowly", {}, call_id="b")
        due = await manager.call("billing__set_due_date", {}, call_id="d")
    said = "The tool billing__send_slowly took longer than 0.5 seconds and was stopped."
    assert send.text == said + NOT_KNOWN, send.text
    assert balance.text == (
        "The tool billing__balance_slowly took longer than 0.5 seconds and was stopped."
    )
    assert due.is_error and due.text.endswith("Try again in a few seconds."), due.text


# A url server written by hand (the SDK's own servers write UTF-8, and no lone halves):
# its ``menu`` answers in Windows-1252, its ``weather`` with half an emoji (as a Node.js
# server that cut its text by JavaScript's length), as JSON or as an event stream (argv).
RAW_HTTP_SERVER = """\
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, KIND = int(sys.argv[1]), sys.argv[2]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, code, body=b"", kind="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # no stream of the server's own
        self._send(405)

    def do_DELETE(self):
        self._send(200)

    def do_POST(self):
        message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "id" not in message:
            return self._send(202)  # a notification
        method, params = message["method"], message.get("params") or {}
        result = {}
        if method == "initialize":
            result = {
                "protocolVersion": params["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "raw", "version": "1"},
            }
        elif method == "tools/list":
            names = ("menu", "weather", "ping", "send")
            result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names]}
        elif method == "tools/call":
            said = {"menu": "Café crème: 3 €", "weather": "Sunny \\\\ud83c all week \\U0001F600"}
            text = said.get(params["name"], "pong")
            result = {"content": [{"type": "text", "text": text}]}
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        body = json.dumps(reply).replace("\\\\\\\\ud83c", "\\\\ud83c")  # the half, escaped
        if params.get("name") == "menu":
            body = json.dumps(reply, ensure_ascii=False)
        data = body.encode("cp1252", "backslashreplace")
        if params.get("name") == "send":  # cut short: no JSON, whatever is mended
            data = data[: len(data) // 2]
        if KIND == "sse":
            return self._send(200, b"event: message\\ndata: " + data + b"\\n\\n", "text/event-stream")
        self._send(200, data)


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
"""


@contextlib.asynccontextmanager
async def _raw_http_server(tmp_path: Path, kind: str) -> AsyncIterator[ToolManager]:
    """RAW_HTTP_SERVER answering as ``kind`` says, up on a free port, and a tool manager
    (not yet started) with it as its one server; both closed after."""
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    script = tmp_path / "raw.py"
    script.write_text(RAW_HTTP_SERVER)
    server = subprocess.Popen([sys.executable, str(script), str(port), kind])
    try:
        await _listening(server, port)
        url = f"http://127.0.0.1:{port}/mcp"
        settings = Settings.model_validate(
            {"tools": {"docs_server": False, "mcpServers": {"raw": {"url": url}}}}
        )
        manager = ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
        try:
            yield manager
        finally:
            await manager.aclose()
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize("kind", ["json", "sse"])
async def test_a_url_servers_answer_not_utf8_or_with_half_an_emoji_is_read(
    tmp_path: Path, kind: str
) -> None:
    """What a stdio server's answers were mended for came through a url server as a
    failure, though the tool had run: the model was told "The tool menu failed: Failed to
    parse JSON response: 1 validation error for union[JSONRPCRequest, …] Invalid JSON:
    invalid unicode code point … For further information visit https://errors.pydantic…",
    a part of the answer's bytes in it. Such an answer is read as it is from a stdio
    server now: each byte that is no UTF-8, and each half emoji, as U+FFFD."""
    async with _raw_http_server(tmp_path, kind) as manager:
        await manager.start()
        menu = await manager.call("raw__menu", {}, call_id="m")
        weather = await manager.call("raw__weather", {}, call_id="w")
        ping = await manager.call("raw__ping", {}, call_id="p")
    assert not menu.is_error and menu.text == "Caf\ufffd cr\ufffdme: 3 \ufffd", menu.text
    assert not weather.is_error, weather.text
    assert weather.text == "Sunny \ufffd all week \U0001f600", weather.text
    assert not ping.is_error and ping.text == "pong", ping.text


async def test_a_servers_only_tool_left_out_is_not_said_to_leave_others(tmp_path: Path) -> None:
    """A server whose only tool was left out for its listing had the person told "Its
    other tools are available": it has none, and nothing of it is offered."""
    source = LOOSE_LISTING_SERVER.replace(
        "for name, tool in TOOLS.items()]", 'for name, tool in TOOLS.items() if name == "batch"]'
    )
    assert source != LOOSE_LISTING_SERVER
    bus = ev.EventBus()
    rec = Recorder(bus)
    async with running(
        ToolManager(
            one_server_settings(tmp_path, "loose", source), bus=bus, log_dir=tmp_path / "logs"
        )
    ) as manager:
        offered = manager.llm_tools()
    assert offered == []
    (said,) = [n.message for n in rec.of(ev.Notice) if "left out" in n.message]
    assert "other tools are available" not in said, said
    assert "offers no other tool" in said, said


async def test_a_url_servers_answer_that_cannot_be_read_is_said_in_a_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An answer of a url server that is no JSON at all (cut short) reached the model as
    "The tool send failed: Failed to parse JSON response: 1 validation error for
    union[JSONRPCRequest,JSONRPCNotification,JSONRPCResponse,JSONRPCError] Invalid JSON:
    EOF while parsing … For further information visit https://errors.pydantic.dev/…",
    part of the answer's bytes in it, and as a failure the model could simply try again,
    though the tool had run. It is told in a line that the answer could not be read, and
    that whether the tool did anything is not known. The console had the SDK's traceback
    of it, forty lines; it has a line naming the server now."""
    async with _raw_http_server(tmp_path, "json") as manager:
        with caplog.at_level(logging.WARNING):
            await manager.start()
            send = await manager.call("raw__send", {}, call_id="s")
            ping = await manager.call("raw__ping", {}, call_id="p")
    assert send.is_error and "\n" not in send.text, send.text
    assert send.text.startswith("The raw tool server's answer to send could not be read ("), send
    assert "pydantic" not in send.text and "union[" not in send.text, send.text
    assert send.text.endswith(
        "It ran, but what it did is not known: check (or ask the person) before calling it again."
    ), send.text
    assert not ping.is_error and ping.text == "pong", ping.text
    (logged,) = [r for r in caplog.records if r.name.startswith("mcp.client")]
    said = logged.getMessage()
    assert logged.exc_info is None and "\n" not in said, said
    assert said.startswith("tool server “raw” (tools.mcpServers.raw) sent an answer that "), said


async def test_a_call_for_a_server_still_starting_says_so_not_that_there_are_no_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call for a tool of a server still starting (say, a resumed conversation's model
    calling what it used before) was answered "There is no tool called hang__ping.
    Available tools: none.": all a model could tell the person was that there were no
    tools. The result says the server is still starting, and its tools come once it is."""
    monkeypatch.setattr(manager_module, "START_WAIT_S", 0.2)  # start() returns meanwhile
    monkeypatch.setattr(manager_module, "CONNECT_TIMEOUT_S", 120.0)  # and it stays starting
    hang = {"command": sys.executable, "args": ["-c", "import time; time.sleep(1000)"]}
    settings = Settings.model_validate(
        {"tools": {"docs_server": False, "mcpServers": {"hang": hang}}}
    )
    manager = ToolManager(settings, bus=ev.EventBus(), log_dir=tmp_path / "logs")
    try:
        await asyncio.wait_for(manager.start(), 30)
        assert manager.starting() == ["hang"]
        early = await asyncio.wait_for(manager.call("hang__ping", {}, call_id="c1"), 30)
        other = await asyncio.wait_for(manager.call("elsewhere__ping", {}, call_id="c2"), 30)
    finally:
        await asyncio.wait_for(manager.aclose(), 30)
    assert early.is_error and "Available tools" not in early.text, early.text
    assert "“hang” is still starting" in early.text, early.text
    assert other.is_error and "There is no tool called elsewhere__ping" in other.text
