"""Tool calls in the TUI on a real session: the documents server (the official MCP client
over stdio) on the demo workspace, the model on the simulated cloud."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcp_servers import LOG_SERVER, PICTURE_SERVER
from test_tui import (  # shared fixtures and helpers of the TUI tests
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    silence_wav,  # noqa: F401  (module fixture: a WAV of silence)
    started,
    started_fake,
    text_of,
    wait_until,
)
from textual.widgets import OptionList, Static, TextArea

from voicedesk import events as ev
from voicedesk.commands.demo import demo_workspace
from voicedesk.config import Settings
from voicedesk.engine.builder import build_session, settings_for_sim
from voicedesk.sim.script import SimScript, SimToolCall, SimTurn
from voicedesk.sim.server import SimLatency, SimServer
from voicedesk.tools.results import spoken_summary
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.screens import HelpScreen, ToolDetailScreen
from voicedesk.tui.widgets.conversation import ToolCard

READ_MEMO = "Read me the budget memo."


def _slow_reading_app(
    base_url: str, wav: Path, tmp_path: Path, *, slow: bool = True
) -> VoiceDeskApp:
    """The app on a real session whose documents server takes 8 s to read a document (time
    to open its detail while it runs, on a busy machine too), with the patience to wait for
    it (the call stays in the answer); ``slow`` False: at its own pace."""
    settings = Settings.model_validate(
        {
            "tools": {
                "workspace": str(demo_workspace()),
                "docs_server_args": ["--slow", "read_document=8"] if slow else [],
                "tool_patience_s": 30.0,
            }
        }
    )

    async def make_session(bus: ev.EventBus) -> Any:
        return build_session(
            settings_for_sim(settings, base_url),
            input_path=wav,
            bus=bus,
            with_tools=True,
            log_path=tmp_path / "session.jsonl",
        )

    return VoiceDeskApp(
        settings, make_session, simulated=True, log_path=tmp_path / "tui.log", config_path=None
    )


async def test_a_tool_call_opened_while_it_runs_shows_its_result_when_it_ends(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Opened while the call ran, the detail said "running" and "still running…" for as long
    as it stayed open: the result came only by closing it and opening it again."""
    memo = SimToolCall(name="docs__read_document", arguments={"path": "budget-memo.md"})
    script = SimScript(turns=[SimTurn(transcript=READ_MEMO, reply="It asks for money.")])
    script.turns[0].tool_calls = [memo]
    async with SimServer(script, SimLatency(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05)) as sim:
        app = _slow_reading_app(sim.base_url, silence_wav, tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot)
            await pilot.press("t")
            app.text_input.value = READ_MEMO
            await pilot.press("enter")
            await wait_until(pilot, lambda: bool(app.tool_pane.calls))
            (info,) = app.tool_pane.calls.values()
            assert info.status == "running"
            app.tool_pane.query_one(OptionList).focus()
            await pilot.press("enter")  # opens the newest call
            await wait_until(pilot, lambda: isinstance(app.screen, ToolDetailScreen))
            screen = app.screen
            assert "running" in text_of(screen.query_one("#tool-status", Static))

            await wait_until(pilot, lambda: info.finished is not None, timeout=30)
            await pilot.pause()
            assert app.screen is screen
            assert "done in" in text_of(screen.query_one("#tool-status", Static))
            result = screen.query_one("#tool-result", TextArea).text
            assert "budget-memo.md" in result and "still running" not in result
            await pilot.press("q")


async def test_the_tools_pane_keeps_the_newest_call_in_view(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Past the pane's height, new calls were added below the fold: the pane went on showing
    the first calls of the session, never the one running now."""
    listing = SimToolCall(name="docs__list_documents", arguments={})
    script = SimScript(turns=[SimTurn(transcript=READ_MEMO, reply="Three documents.")])
    script.turns[0].tool_calls = [listing] * 8
    async with SimServer(script, SimLatency(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05)) as sim:
        app = _slow_reading_app(sim.base_url, silence_wav, tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await started(pilot)
            await pilot.press("t")
            app.text_input.value = READ_MEMO
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(app.tool_pane.calls) == 8)
            await pilot.pause()
            options = app.tool_pane.query_one(OptionList)
            assert options.max_scroll_y > 0  # more calls than fit
            assert options.scroll_y == options.max_scroll_y
            await pilot.press("q")


async def test_a_call_ending_as_its_detail_opens_ends_in_the_conversation_too(
    tmp_path: Path,
) -> None:
    """The call ended while its detail, just opened, was not yet built: following the call
    failed there (no status line yet), which skipped the conversation pane's update, and
    the call's card said "running" for the rest of the session."""
    from test_tui import fake_app, started_fake

    from voicedesk.tui.app import EngineEvent

    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.ToolCallStarted(
                turn_id=1, call_id="c1", name="docs__read_document", arguments={"path": "b.md"}
            )
        )
        await pilot.pause()
        card = app.conversation.cards["c1"]
        assert card.status == "running"
        finished = ev.ToolCallFinished(
            call_id="c1",
            name="docs__read_document",
            result_text="BUDGET MEMO",
            spoken_summary="Read the budget memo.",
            is_error=False,
            duration_s=0.42,
        )
        # the person opens the call, and its end is handled before the detail is composed
        app.push_screen(ToolDetailScreen(app.tool_pane.calls["c1"]))
        app.on_engine_event(EngineEvent(finished))
        await pilot.pause()
        assert card.status == "done"
        screen = app.screen
        assert isinstance(screen, ToolDetailScreen)
        assert "done in" in text_of(screen.query_one("#tool-status", Static))
        assert screen.query_one("#tool-result", TextArea).text == "BUDGET MEMO"


async def test_terminal_escapes_in_a_tool_result_are_shown_not_sent_to_the_terminal(
    tmp_path: Path,
) -> None:
    """A tool's result can hold what a program wrote for a terminal (colours, a title, a
    clear screen): drawn as it was, the escape went out to the terminal with the screen,
    which coloured the dialog, cleared it or shifted its lines. Such characters are shown
    as the symbols Unicode has for them (␛), in the dialog and in the tools pane."""
    result = "\x1b[31mred\x1b[0m and \x1b]0;title\x07 then\x1b[2J\r\nnext\rline\x00\x7f\x9b5m"
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.ToolCallStarted(turn_id=1, call_id="c1", name="run", arguments={"cmd": "ls"})
        )
        app.bus.publish(
            ev.ToolCallFinished(
                call_id="c1",
                name="run",
                result_text=result,
                spoken_summary=spoken_summary(result),  # its first line
                is_error=False,
                duration_s=0.1,
            )
        )
        await pilot.pause()
        (tool_card,) = app.conversation.query(ToolCard)
        in_conversation = tool_card.render_line(0).text
        assert "␛[31mred" in in_conversation
        options = app.tool_pane.query_one(OptionList)
        card = "".join(options.render_line(y).text for y in range(options.size.height))
        assert "␛[31mred" in card
        app.push_screen(ToolDetailScreen(app.tool_pane.calls["c1"]))
        await pilot.pause()
        shown = app.screen.query_one("#tool-result", TextArea)
        drawn = [shown.render_line(y).text for y in range(shown.size.height)]
        assert drawn[0].startswith("␛[31mred␛[0m and ␛]0;title␇ then␛[2J"), drawn
        assert drawn[1].startswith("next"), drawn  # line ends, as any text's
        assert drawn[2].startswith("line␀␡"), drawn
        spoken = app.screen.query_one("#tool-spoken", Static).render_line(0).text
        assert "Spoken: ␛[31mred" in spoken
        for line in [in_conversation, card, spoken, *drawn]:
            assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in line), line
        await pilot.press("q")


async def test_ctrl_c_in_a_dialog_copies_what_is_selected_and_else_quits(tmp_path: Path) -> None:
    """The help says ctrl+c quits outside the text box, and in a tool's result copies. In
    every dialog it did nothing at all unless text was selected: a dialog's keys stop the
    app's, and its screen's "copy the selection" gave way to nothing. It quits there now
    when nothing is selected, as q does."""
    result = "The budget memo: 42 items."
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.ToolCallStarted(turn_id=1, call_id="c1", name="read", arguments={}))
        app.bus.publish(
            ev.ToolCallFinished(
                call_id="c1",
                name="read",
                result_text=result,
                spoken_summary="",
                is_error=False,
                duration_s=0.1,
            )
        )
        await pilot.pause()
        app.push_screen(ToolDetailScreen(app.tool_pane.calls["c1"]))
        await pilot.pause()
        await pilot.press("f7", "ctrl+c")  # select all, copy
        await pilot.pause()
        assert app.clipboard == result
        assert isinstance(app.screen, ToolDetailScreen) and app.return_code is None
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.return_code == 0


# A tool that reports every step of its work, as a copy or a download reports each file.
CHATTY_SERVER = """\
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("files")


@server.tool()
async def copy(ctx: Context) -> str:
    \"\"\"Copy 3,000 files, reporting each.\"\"\"
    for n in range(1, 3001):
        await ctx.report_progress(n, 3000, f"file {n}")
    return "Copied 3000 files."


server.run("stdio")
"""


async def test_a_tool_reporting_every_step_is_not_drawn_at_every_step(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A tool that reports its progress at every step (3,000 files copied) had each report
    drawn in the tools pane and the conversation, in turn, on the loop that also reads
    the tool server and runs the voice: the call took several times as long in the
    terminal UI as without it, and the conversation waited behind the drawing. Progress is
    shown at most ten times a second, its latest report; the end shows the result."""
    import sys

    server = tmp_path / "files.py"
    server.write_text(CHATTY_SERVER)
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {"files": {"command": sys.executable, "args": [str(server)]}},
            }
        }
    )
    script = SimScript(turns=[SimTurn(transcript="Copy my files.", reply="All copied.")])
    script.turns[0].tool_calls = [SimToolCall(name="files__copy")]
    async with SimServer(script, SimLatency(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05)) as sim:

        async def make_session(bus: ev.EventBus) -> Any:
            return build_session(
                settings_for_sim(settings, sim.base_url),
                input_path=silence_wav,
                bus=bus,
                with_tools=True,
                log_path=tmp_path / "session.jsonl",
            )

        app = VoiceDeskApp(
            settings, make_session, simulated=True, log_path=tmp_path / "tui.log", config_path=None
        )
        reported, shown = [], []
        app.bus.subscribe(
            lambda e: reported.append(e) if isinstance(e, ev.ToolCallProgress) else None
        )
        draw = app.apply_event

        def drawing(event: ev.Event) -> None:  # the app's own, counted
            if isinstance(event, ev.ToolCallProgress):
                shown.append(event)
            draw(event)

        app.apply_event = drawing  # type: ignore[method-assign]
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot)
            await wait_until(pilot, lambda: app.session.tools.status() == {"files": "up"}, 15)
            await pilot.press("t")
            app.text_input.value = "Copy my files."
            await pilot.press("enter")
            await wait_until(
                pilot, lambda: any(i.finished for i in app.tool_pane.calls.values()), 30
            )
            (info,) = app.tool_pane.calls.values()
            assert info.finished is not None and info.finished.result_text == "Copied 3000 files."
            await pilot.press("ctrl+q")
    assert len(reported) == 3000
    assert 1 <= len(shown) < 300, len(shown)  # at most ten a second, however they came
    assert shown[0].message == "file 1"  # the first at once


async def test_a_picture_a_tool_returns_is_shown_to_the_person_as_a_picture_not_as_the_models_note(
    tmp_path: Path,
) -> None:
    """A tool answering with an image had the person read, in the conversation, the tools
    pane and the call's detail, the sentence written for the model: "[an image
    (image/png): voicedesk passes on only text, so neither you nor the person can see
    it]". They are shown what it is ("[image, image/png, 35 kB]"); the model is still
    told nobody can see it."""
    import sys

    from voicedesk.tools.manager import ToolManager

    script = tmp_path / "pictures.py"
    script.write_text(PICTURE_SERVER)
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {"pictures": {"command": sys.executable, "args": [str(script)]}},
            }
        }
    )
    app = fake_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await started_fake(pilot)
        manager = ToolManager(settings, bus=app.bus, log_dir=tmp_path / "logs")
        await manager.start()
        try:
            result = await manager.call("pictures__chart", {}, call_id="c1", turn_id=1)
        finally:
            await manager.aclose()
        assert "neither you nor the person can see it" in result.text  # the model's, as it was
        await wait_until(pilot, lambda: app.conversation.cards["c1"].status == "done")
        await pilot.pause()
        said = "[image, image/png, 35 kB]"
        (tool_card,) = app.conversation.query(ToolCard)
        in_conversation = tool_card.render_line(0).text
        options = app.tool_pane.query_one(OptionList)
        in_pane = "".join(options.render_line(y).text for y in range(options.size.height))
        app.push_screen(ToolDetailScreen(app.tool_pane.calls["c1"]))
        await pilot.pause()
        in_detail = app.screen.query_one("#tool-result", TextArea).text
        spoken = text_of(app.screen.query_one("#tool-spoken", Static))
        for shown in (in_conversation, in_pane, in_detail, spoken):
            assert said in shown and "neither" not in shown, shown


async def test_a_failed_call_shows_why_it_failed_not_the_sdks_prefix(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The documents server's refusals come as "Error executing tool read_document: There
    is no document called …" (the MCP SDK's prefix). In the tools pane's one line of result
    that prefix was all there was room for ("Error executing tool read_document:…"): the
    person saw that the call failed, never why. The card, the pane and the detail's "Spoken"
    line say why; the detail keeps the result as it came."""
    missing = SimToolCall(name="docs__read_document", arguments={"path": "no-such-file.md"})
    script = SimScript(turns=[SimTurn(transcript=READ_MEMO, reply="There is no such file.")])
    script.turns[0].tool_calls = [missing]
    async with SimServer(script, SimLatency(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05)) as sim:
        app = _slow_reading_app(sim.base_url, silence_wav, tmp_path, slow=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await started(pilot)
            await pilot.press("t")
            app.text_input.value = READ_MEMO
            await pilot.press("enter")
            await wait_until(pilot, lambda: bool(app.tool_pane.calls))
            (info,) = app.tool_pane.calls.values()
            await wait_until(pilot, lambda: info.finished is not None, timeout=30)
            await pilot.pause()
            assert info.status == "error"
            assert info.finished is not None
            assert info.finished.result_text.startswith("Error executing tool read_document: ")
            options = app.tool_pane.query_one(OptionList)
            lines = ["".join(s.text for s in options.render_line(y)) for y in range(3)]
            assert lines[2].startswith("  There is no document called"), lines
            (card,) = app.conversation.query(ToolCard)
            shown = str(card.render())
            assert "There is no document called no-such-file.md" in shown
            assert "Error executing" not in shown
            # the detail's "Spoken" line is its summary, read the same way; the result whole
            app.push_screen(ToolDetailScreen(info))
            await pilot.pause()
            spoken = text_of(app.screen.query_one("#tool-spoken", Static))
            assert spoken.startswith("Spoken: There is no document called no-such-file"), spoken
            result = app.screen.query_one("#tool-result", TextArea).text
            assert result.startswith("Error executing tool read_document: "), result
            app.pop_screen()
            await pilot.pause()
            await pilot.press("q")


async def test_a_result_that_begins_as_the_sdks_error_prefix_is_shown_whole(
    tmp_path: Path,
) -> None:
    """A tool that did not fail answered with a log line of its own, "Error executing tool
    backup: the disk was full at 03:00". The SDK's error prefix was taken off every result
    alike, so the card, the pane and the detail's "Spoken" line said "the disk was full at
    03:00" under a call marked done: the part that said what had failed was gone. Only a
    failed call's reason has the prefix taken off."""
    import sys

    from voicedesk.tools.manager import ToolManager

    script = tmp_path / "logs.py"
    script.write_text(LOG_SERVER)
    settings = Settings.model_validate(
        {
            "tools": {
                "docs_server": False,
                "mcpServers": {"logs": {"command": sys.executable, "args": [str(script)]}},
            }
        }
    )
    app = fake_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await started_fake(pilot)
        manager = ToolManager(settings, bus=app.bus, log_dir=tmp_path / "logs")
        await manager.start()
        try:
            result = await manager.call("logs__last_error", {}, call_id="c1", turn_id=1)
        finally:
            await manager.aclose()
        assert not result.is_error
        await wait_until(pilot, lambda: app.conversation.cards["c1"].status == "done")
        await pilot.pause()
        said = "Error executing tool backup: the disk was full"
        (tool_card,) = app.conversation.query(ToolCard)
        in_conversation = str(tool_card.render())
        options = app.tool_pane.query_one(OptionList)
        in_pane = "".join(options.render_line(y).text for y in range(options.size.height))
        app.push_screen(ToolDetailScreen(app.tool_pane.calls["c1"]))
        await pilot.pause()
        spoken = text_of(app.screen.query_one("#tool-spoken", Static))
        for shown in (in_conversation, in_pane, spoken):
            assert said in shown, shown
