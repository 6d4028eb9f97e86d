"""The seconds between the session being built and its start being over (the speech
services connecting, the tool servers coming up), driven with Textual's pilot on the real
session `voicedesk run --sim` builds and the simulated cloud."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from test_tui import (  # shared fixtures and helpers of the TUI tests
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    silence_wav,  # noqa: F401  (module fixture: a WAV of silence)
    sim,  # noqa: F401  (fixture: the simulated cloud)
    sim_args,
    status_text,
    text_of,
    wait_until,
)
from textual.pilot import Pilot
from textual.widgets import Static

from voicedesk import events as ev
from voicedesk.config import Settings
from voicedesk.engine import session as session_module
from voicedesk.engine.builder import build_session, settings_for_sim
from voicedesk.sim.server import SimServer
from voicedesk.tools import manager as tools_manager
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.screens import ErrorScreen
from voicedesk.tui.widgets.conversation import UserTurn

REJECTED_KEY = "sk-bad"  # the key the simulated cloud refuses (voicedesk sim --help)
# How long a start (or a stop, or a tool server's start) may take before it counts as hung.
# Not a measure of speed: on a shared machine under load (2 cores, load 5-10) a start takes
# several times its usual seconds, and a fixed 10 s wait for "ready" failed there once.
HANG_S = 120.0


@pytest.fixture
def long_tool_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The answers wait for a tool server on cue for as long as the test needs: what the
    status bar says during a wait is looked at, not when the answers stop waiting. Nor is
    the server given up on while it waits for its cue: its connection's 8 s ran out on a
    loaded machine (two CPU hogs beside the tests) before the questions were asked, and
    they were answered without it ("speaking", not "waiting for tool server")."""
    monkeypatch.setattr(session_module, "TOOLS_WAIT_MAX_S", HANG_S)
    monkeypatch.setattr(tools_manager, "CONNECT_TIMEOUT_S", HANG_S)


async def until_started(pilot: Pilot, app: VoiceDeskApp) -> None:
    """The conversation's start is over and it listens: waited for on the app's own signal
    that the start ended (``started``), however long that takes short of a hang."""
    await asyncio.wait_for(app.started.wait(), HANG_S)
    assert app.start_error is None, app.start_error
    # (a WAV microphone in push-to-talk: "recording waits" while the key is up)
    said = ("listening", "ready", "recording waits")
    await wait_until(pilot, lambda: any(s in status_text(app) for s in said), HANG_S)


@contextlib.asynccontextmanager
async def slow_start_app(
    wav: Path, tmp_path: Path, *, mode: str
) -> AsyncIterator[tuple[VoiceDeskApp, Pilot, asyncio.Event]]:
    """The app on a real sim session whose start waits for the event yielded, as one does
    while its tool servers come up (seconds: the MCP servers are started then)."""
    from voicedesk.commands import tui

    args = sim_args(wav, tmp_path / "out.wav", mode=mode)
    settings = Settings()
    release = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        build = tui.session_factory(args, settings, stack)

        async def make_session(bus: ev.EventBus) -> Any:
            session = await build(bus)
            start = session.start

            async def slow_start() -> None:
                await release.wait()
                await start()

            session.start = slow_start
            return session

        app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")
        async with app.run_test(size=(100, 30)) as pilot:
            # built, not started (a build under load takes more than wait_until's 10 s)
            await wait_until(pilot, lambda: app.session is not None, HANG_S)
            assert not app.started.is_set()
            yield app, pilot, release


def test_quitting_while_the_conversation_is_built_does_not_wait_for_the_build(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ctrl+q while the conversation was being built (the providers' SDKs imported, the
    on-device models loaded: seconds on a busy machine) closed the app, and the terminal
    then sat blank 5-7 s: ``asyncio.run`` (``commands.tui.run``) joins the threads of the
    loop's executor, and the build ran on one, loading models nobody would use. Here the
    build goes on until it is released, which only the guard does once ``asyncio.run``
    has returned; had ``asyncio.run`` waited for the build, the guard (a hang's limit, not
    a measure of speed) released it, and the test says so."""
    from voicedesk.commands import tui
    from voicedesk.engine import builder

    building = threading.Event()
    release = threading.Event()
    released_by_guard: list[bool] = []

    def endless_build(*args: Any, **kwargs: Any) -> Any:
        building.set()
        release.wait()
        raise RuntimeError("the build was given up on: the app has quit")

    monkeypatch.setattr(builder, "build_session", endless_build)

    def guard() -> None:
        released_by_guard.append(True)
        release.set()

    guard_timer = threading.Timer(HANG_S / 2, guard)

    async def quit_while_building() -> None:
        settings = Settings()
        async with contextlib.AsyncExitStack() as stack:
            make_session = tui.session_factory(
                sim_args(silence_wav, tmp_path / "out.wav"), settings, stack
            )
            app = VoiceDeskApp(
                settings, make_session, simulated=True, log_path=tmp_path / "tui.log"
            )
            async with app.run_test(size=(100, 30)) as pilot:
                await wait_until(pilot, building.is_set, HANG_S)
                await pilot.press("ctrl+q")
            await app.stop_session()  # as commands.tui._run_app does once the app closed
            assert app.session is None and app.start_error is None  # given up on, not failed
        guard_timer.start()  # from here on only asyncio.run's own closing is left

    try:
        asyncio.run(quit_while_building())
        assert not released_by_guard, "asyncio.run waited for the build the app had quit"
    finally:
        guard_timer.cancel()
        release.set()


async def test_a_message_typed_while_the_conversation_starts_waits_in_the_box(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A message sent between the session being built and started went to a session not
    yet started: its answer was asked for without the tools (their servers were still
    coming up), the status bar went from "thinking" to "listening" as the start ended while
    the answer was still awaited, and its timings were on a clock not yet running. It stays
    in the box, as one sent while the session is being built does, and goes once the
    conversation has started."""
    async with slow_start_app(silence_wav, tmp_path, mode="hands-free") as (app, pilot, release):
        finals: list[str] = []
        app.bus.subscribe(
            lambda e: finals.append(e.text) if isinstance(e, ev.TranscriptFinal) else None
        )
        await pilot.press("t")
        app.text_input.value = "What is on my calendar?"
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert finals == []  # nothing went to the session that has not started
        assert app.text_input.value == "What is on my calendar?"  # nor was it lost
        assert any("still starting" in n.message for n in app._notifications)

        release.set()
        await until_started(pilot, app)
        assert "listening" in status_text(app)
        await pilot.press("enter")  # the box still has the focus and the text
        await wait_until(pilot, lambda: finals == ["What is on my calendar?"])
        await wait_until(pilot, lambda: bool(app.query(UserTurn)))
        await pilot.press("ctrl+q")


async def test_the_talk_key_waits_for_the_conversation_to_start(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Space pressed before the start was over opened the microphone of a session that
    was not listening yet, and the start then said "listening" over the open push-to-talk
    (and in hands-free, "h" switched a mode the start went on to announce otherwise).
    While it starts the text box has the focus: a space typed there is no talk key after
    the start either."""
    async with slow_start_app(silence_wav, tmp_path, mode="hands-free") as (app, pilot, release):
        session = app.session
        assert session is not None
        await pilot.press("escape", "space")  # out of the text box: the talk key
        await pilot.pause(0.1)
        assert session.mode == "hands-free" and not app.ptt_open
        assert any("still starting" in n.message for n in app._notifications)
        await pilot.press("t", "space")  # in it: a blank
        assert app.text_input.has_focus and not app.ptt_open
        release.set()
        await until_started(pilot, app)
        assert app.conversation.has_focus and app.text_input.value == ""
        await pilot.press("space")
        assert session.mode == "push-to-talk" and app.ptt_open
        await wait_until(pilot, lambda: app.status_bar.state == "hearing")
        await pilot.press("ctrl+q")


def _refused_voice_app(cloud: SimServer, wav: Path, tmp_path: Path) -> VoiceDeskApp:
    """The terminal UI on the simulated cloud, whose ElevenLabs refuses the key: the start
    fails once the sound has started (the microphone ``wav``)."""
    settings = Settings()

    async def make_session(bus: ev.EventBus) -> Any:
        on_sim = settings_for_sim(settings, cloud.base_url)
        on_sim.keys.elevenlabs_api_key = SecretStr(REJECTED_KEY)
        return build_session(
            on_sim,
            input_path=wav,
            output_path=tmp_path / "out.wav",
            bus=bus,
            with_tools=False,
            log_path=tmp_path / "session.jsonl",
        )

    return VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")


async def test_a_start_failing_after_the_audio_started_shows_no_devices(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """ElevenLabs refused the key once the sound had started (the voice is needed only
    with a speaker, known then): the error dialog said the conversation did not start, and
    the status bar went on saying "mic file → file · AEC off" beside "not started", as if
    it were listening. The devices of a conversation that did not start are not shown, nor
    is a level meter: the blocks the sound card had already sent drew "mic ▁▁" again."""
    app = _refused_voice_app(sim, silence_wav, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await asyncio.wait_for(app.started.wait(), HANG_S)
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "ElevenLabs" in text_of(app.screen.query_one("#error-message", Static))
        await pilot.pause(0.3)  # the events the failed start sent are all handled
        shown = status_text(app)
        assert "not started" in shown
        assert "mic file" not in shown and "AEC" not in shown, shown
        # a block the audio thread queued before the sound stopped, reported after it (as
        # the silence WAV's first blocks often are: it depends on the timing)
        app.bus.publish(ev.InputLevel(rms_dbfs=-30.0, zero_input=False))
        await pilot.pause(0.1)
        assert text_of(app.status_bar.query_one("#status-level", Static)) == ""
        await pilot.press("q")


async def test_a_failed_starts_hint_gives_the_fix_in_a_sentence_of_its_own(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Once the error dialog is closed the pane keeps the error. The fix was put in
    brackets after it, and most fixes have brackets of their own: "… rejected the API key
    (HTTP 401) (check ELEVENLABS_API_KEY (or keys.elevenlabs_api_key in the config
    file)). Fix that and start voicedesk again." It now reads as two sentences."""
    app = _refused_voice_app(sim, silence_wav, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await asyncio.wait_for(app.started.wait(), HANG_S)
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        await pilot.press("escape")
        await pilot.pause()
        hint = text_of(app.conversation.query_one("#conversation-hint", Static))
        assert hint.startswith(
            "The conversation did not start: ElevenLabs rejected the API key (HTTP 401). "
            "To fix it: check ELEVENLABS_API_KEY (or keys.elevenlabs_api_key in the config "
            "file). Then start voicedesk again."
        ), hint
        await pilot.press("q")


async def test_a_refused_key_is_shown_without_waiting_for_the_tool_servers_to_stop(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The tool servers start beside the voice services, so a key refused at start leaves
    servers to stop: the error dialog came only once they had (the MCP library gives one
    that does not end on its own 2 s, the documents server 1-2 s while it loads). It is
    shown at once; the servers stop behind it."""
    import os
    import signal
    import sys

    pid_file = tmp_path / "hang.pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {"hang": {"command": sys.executable, "args": ["-c", code]}},
            }
        }
    )

    async def make_session(bus: ev.EventBus) -> Any:
        on_sim = settings_for_sim(settings, sim.base_url)
        on_sim.keys.openai_api_key = SecretStr(REJECTED_KEY)
        return build_session(
            on_sim,
            input_path=silence_wav,
            bus=bus,
            with_tools=True,
            log_path=tmp_path / "session.jsonl",
        )

    app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, pid_file.exists)  # the server was started
            await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
            os.kill(int(pid_file.read_text()), 0)  # still being stopped: not waited for
            await pilot.pause()
            assert "rejected the API key" in text_of(app.screen.query_one("#error-message", Static))
            await asyncio.wait_for(app.started.wait(), HANG_S)  # the stop is over
            await pilot.press("escape")
            await pilot.press("q")
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _docs_server_on_cue(root: Path, cue: Path) -> dict[str, object]:
    """The built-in documents server, answering only once ``cue`` exists: a server whose
    start takes as long as the test says, however loaded the machine is."""
    code = (
        "import os, runpy, sys, time\n"
        f"while not os.path.exists({str(cue)!r}): time.sleep(0.05)\n"
        f"sys.argv = ['voicedesk', 'docs-server', '--root', {str(root)!r}]\n"
        "runpy.run_module('voicedesk', run_name='__main__')"
    )
    return {"command": sys.executable, "args": ["-c", code]}


def _app_asking_for_tools(
    settings: Settings, cloud: SimServer, microphone: Path, tmp_path: Path
) -> tuple[VoiceDeskApp, list[float]]:
    """The TUI over a simulated session with ``settings``' tool servers, and the times of
    the requests it sends the language model (filled as they go)."""

    async def make_session(bus: ev.EventBus) -> Any:
        return build_session(
            settings_for_sim(settings, cloud.base_url),
            input_path=microphone,
            bus=bus,
            with_tools=True,
            log_path=tmp_path / "session.jsonl",
        )

    app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")
    requests: list[float] = []
    app.bus.subscribe(lambda e: requests.append(e.t_ns) if isinstance(e, ev.LLMRequest) else None)
    return app, requests


async def _ask_about_notes(pilot: Any, app: VoiceDeskApp) -> None:
    """Type a question about the documents once the session is up."""
    await until_started(pilot, app)
    app.text_input.value = "What is in my notes?"
    app.text_input.focus()
    await pilot.press("enter")


@pytest.mark.usefixtures("long_tool_wait")
async def test_an_answer_waiting_for_a_tool_server_says_so_until_it_is_asked(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The first answer waits for a tool server still starting (TOOLS_WAIT_MAX_S, made long):
    a 5 s toast said so once, then the status bar said "thinking" for seconds more, as if
    the model were slow. The status bar says what is awaited for as long as it is, and
    goes back to the engine's own state once the request is sent. (The server answers
    when the test says: one merely slow was up before the status was looked at whenever
    the session's own start took seconds, on a loaded machine.)"""
    cue = tmp_path / "slowdocs.go"
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {"slowdocs": _docs_server_on_cue(tmp_path, cue)},
            }
        }
    )

    app, requests = _app_asking_for_tools(settings, sim, silence_wav, tmp_path)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await _ask_about_notes(pilot, app)
            # said once the wait is no longer a moment (the engine's 1 s), and still said
            # seconds later, while the server is still starting
            await wait_until(pilot, lambda: "waiting for tool server" in status_text(app), HANG_S)
            assert "slowdocs" in status_text(app)
            await pilot.pause(2)
            assert "waiting for tool server slowdocs" in status_text(app) and not requests
            cue.touch()
            await wait_until(pilot, lambda: bool(requests), HANG_S)  # its server starts
            await wait_until(
                pilot, lambda: "waiting for tool server" not in status_text(app), HANG_S
            )
            await pilot.press("ctrl+q")
    finally:
        cue.touch()


@pytest.mark.usefixtures("long_tool_wait")
async def test_the_status_bar_names_only_the_tool_servers_still_awaited(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Two tool servers starting, one up seconds before the other: the status bar went on
    saying "waiting for tool servers quick, slow" until the last was up, blaming a server
    that was ready, and a name with brackets in it ("notes [work]") was read as markup and
    shown as "notes". It names what the answer still waits for, as written."""
    quick, slow = tmp_path / "quick.go", tmp_path / "slow.go"
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {
                    "quick": _docs_server_on_cue(tmp_path, quick),
                    "notes [work]": _docs_server_on_cue(tmp_path, slow),
                },
            }
        }
    )

    app, requests = _app_asking_for_tools(settings, sim, silence_wav, tmp_path)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await _ask_about_notes(pilot, app)
            await wait_until(pilot, lambda: "waiting for tool servers" in status_text(app), HANG_S)
            assert "quick, notes [work]" in status_text(app)
            quick.touch()  # one comes up; the other is still awaited
            await wait_until(
                pilot, lambda: "waiting for tool server notes [work]" in status_text(app), HANG_S
            )
            assert "quick" not in status_text(app)
            slow.touch()
            await wait_until(pilot, lambda: bool(requests), HANG_S)  # its server starts
            await wait_until(
                pilot, lambda: "waiting for tool server" not in status_text(app), HANG_S
            )
            await pilot.press("ctrl+q")
    finally:
        quick.touch()
        slow.touch()


@pytest.mark.usefixtures("long_tool_wait")
async def test_a_second_question_waiting_for_the_same_tool_server_says_so_at_once(
    sim: SimServer,  # noqa: F811
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A question sent while the first still waited for a tool server (the first dropped):
    the status bar went back to "thinking" for a second, the new wait's own grace, as if
    the server had come up, then said "waiting" again. The start it waits for has already
    been said to take seconds: said at once. Once the first wait is said, the grace is made
    as long as the test, so a second wait that took it again says "thinking" throughout
    (what is waited on, not how long the blip lasted: a 0.5 s bound on it was flaky)."""
    cue = tmp_path / "slowdocs.go"
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {"slowdocs": _docs_server_on_cue(tmp_path, cue)},
            }
        }
    )

    async def make_session(bus: ev.EventBus) -> Any:
        return build_session(
            settings_for_sim(settings, sim.base_url),
            input_path=silence_wav,
            bus=bus,
            with_tools=True,
            log_path=tmp_path / "session.jsonl",
        )

    app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "tui.log")
    loop = asyncio.get_running_loop()
    waits: list[tuple[float, tuple[str, ...]]] = []
    app.bus.subscribe(
        lambda e: (
            waits.append((loop.time(), e.servers)) if isinstance(e, ev.ToolServersWait) else None
        )
    )
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await until_started(pilot, app)
            for question in ("What is in my notes?", "And in my docs?"):
                app.text_input.value = question
                app.text_input.focus()
                await pilot.press("enter")
                await wait_until(pilot, lambda: bool(waits) and bool(waits[-1][1]), HANG_S)
                monkeypatch.setattr(session_module, "TOOLS_WAIT_UNSAID_S", HANG_S)
            await pilot.pause(1.5)  # (past the grace a first wait had)
            assert "waiting for tool server slowdocs" in status_text(app)
            assert waits[-1][1] == ("slowdocs",), waits
            cue.touch()
            await wait_until(pilot, lambda: not waits[-1][1], HANG_S)  # its server starts
            await pilot.press("ctrl+q")
    finally:
        cue.touch()


async def test_a_line_changed_after_it_was_sent_during_the_start_waits_for_enter(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A line sent while the conversation started stays in the box; what the box held
    when the start ended went, though it was no longer what was sent: "hello" sent, then
    " and" typed on towards "hello and what time is it", sent "hello and" half typed. An
    edited line now waits for Enter, as any line being typed does."""
    async with slow_start_app(silence_wav, tmp_path, mode="hands-free") as (app, pilot, release):
        finals: list[str] = []
        app.bus.subscribe(
            lambda e: finals.append(e.text) if isinstance(e, ev.TranscriptFinal) else None
        )
        assert app.text_input.has_focus
        await pilot.press(*"hello", "enter")
        await pilot.press("space", *"and")  # typing on, not finished
        release.set()
        await until_started(pilot, app)
        await pilot.press("space", *"more", "enter")
        await wait_until(pilot, lambda: bool(finals), HANG_S)
        assert finals == ["hello and more"]
        await pilot.press("ctrl+q")


async def test_space_pressed_to_talk_while_it_starts_says_it_is_still_starting(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Space pressed to talk right at start went into the text box (it has the focus while
    the conversation starts) as a blank, and nothing was said: held down to talk, it typed
    a row of blanks while the person spoke to a microphone not yet open. In the empty box
    it says the conversation is still starting, types nothing, and once it has started
    space talks at once."""
    async with slow_start_app(silence_wav, tmp_path, mode="push-to-talk") as (
        app,
        pilot,
        release,
    ):
        assert app.text_input.has_focus
        await pilot.press("space", "space")
        await pilot.pause(0.1)
        assert app.text_input.value == "" and not app.ptt_open
        assert sum("still starting" in n.message for n in app._notifications) == 1
        await pilot.press(*"hi", "space", *"you")  # within a line a space is a blank
        assert app.text_input.value == "hi you"
        app.text_input.value = ""
        release.set()
        await until_started(pilot, app)
        assert app.conversation.has_focus
        await pilot.press("space")
        assert app.ptt_open
        await pilot.press("ctrl+q")
