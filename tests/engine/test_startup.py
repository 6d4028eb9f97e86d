"""From launch to listening: the tool servers come up beside the microphone, not before it.

Real parts: the simulated cloud over real sockets, real speech through the real turn models,
real MCP servers over stdio (the built-in documents server, and processes that hang)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from voicedesk import events as ev
from voicedesk.bench.scenarios import compose, load_utterance
from voicedesk.commands.run import converse
from voicedesk.config import Settings
from voicedesk.engine.builder import SimOptions
from voicedesk.sim.script import SimScript, SimTurn
from voicedesk.sim.server import SimServer
from voicedesk.tools import manager

from test_conversation_e2e import on_sim_start  # the simulated cloud, once it is up

HANG = {"command": sys.executable, "args": ["-c", "import time; time.sleep(1000)"]}


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def sims(monkeypatch: pytest.MonkeyPatch) -> list[SimServer]:
    servers: list[SimServer] = []
    on_sim_start(monkeypatch, servers.append)
    return servers


def _slow_docs_server(root: Path, delay_s: float) -> dict[str, object]:
    """The built-in documents server, answering only ``delay_s`` after it was started (an
    ``npx`` server fetching its package, a server loading its index)."""
    code = (
        f"import runpy, sys, time; time.sleep({delay_s}); "
        f"sys.argv = ['voicedesk', 'docs-server', '--root', {str(root)!r}]; "
        "runpy.run_module('voicedesk', run_name='__main__')"
    )
    return {"command": sys.executable, "args": ["-c", code]}


async def _converse(tmp_path: Path, servers: dict[str, object], script: SimScript, **kw):
    scenario = compose(["question"], tail_s=kw.pop("tail_s", 3.0))
    inp = tmp_path / "in.wav"
    scenario.write(inp)
    settings = Settings.model_validate({"tools": {"docs_server": False, "mcpServers": servers}})
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    sim = SimOptions(ttft_s=0.2, ttfb_s=0.1, stt_s=0.05, script=script)
    session = await converse(
        settings, input_path=inp, output_path=None, sim=sim, bus=bus, with_tools=True
    )
    return session, seen


def _question() -> SimScript:
    text = load_utterance("question")[1]
    return SimScript(turns=[SimTurn(transcript=text, reply="About seven minutes.")])


async def test_listening_begins_while_a_tool_server_is_still_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool server that hangs kept the microphone shut for START_WAIT_S (10 s): the status
    said "starting" and what the person said meanwhile was never heard. The session now
    listens as soon as the voice services are up; the server's tools come when it does."""
    monkeypatch.setattr(manager, "START_WAIT_S", 3.0)
    session, seen = await _converse(tmp_path, {"hang": HANG}, _question())
    said = [(type(e).__name__, getattr(e, "state", getattr(e, "message", ""))) for e in seen]
    listening = said.index(("StateChanged", "listening"))
    slow = next(i for i, (_, m) in enumerate(said) if "is slow to start" in str(m))
    assert listening < slow, said
    (record,) = session.records  # the question, heard whole and answered
    assert record.user_text == load_utterance("question")[1]
    assert record.heard_text == "About seven minutes."


async def test_the_first_answer_waits_for_a_tool_server_still_in_its_start(
    tmp_path: Path, sims: list[SimServer]
) -> None:
    """Listening before the tool servers are up must not answer the first question without
    their tools: its request waits (within START_WAIT_S) for a server still starting."""
    root = tmp_path / "ws"
    root.mkdir()
    session, _ = await _converse(tmp_path, {"late": _slow_docs_server(root, 4.0)}, _question())
    (record,) = session.records
    assert record.heard_text == "About seven minutes."
    (server,) = sims
    offered = {t["function"]["name"] for t in server.chat_requests()[0].get("tools", [])}
    assert any(name.startswith("late__") for name in offered), offered
