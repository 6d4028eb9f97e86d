"""The timings pane says what the turn's metrics record (``--metrics-out``) says, stage for
stage, driven with Textual's pilot on a real session and the simulated cloud."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from test_tui import (  # shared fixtures and helpers of the TUI tests
    PLAIN_T,
    QUESTION,
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    real_app,  # noqa: F401  (fixture: the app on a real sim session)
    silence_wav,  # noqa: F401  (module fixture: a WAV of silence)
    sim,  # noqa: F401  (fixture: the simulated cloud)
    started,
    started_fake,
    status_text,
    text_of,
    wait_until,
)
from textual.pilot import Pilot
from textual.widgets import Static

from voicedesk import events as ev
from voicedesk.commands.demo import demo_workspace
from voicedesk.config import Settings
from voicedesk.engine.builder import build_session, settings_for_sim
from voicedesk.engine.metrics import TurnRecord
from voicedesk.sim.script import SimScript, SimToolCall, SimTurn
from voicedesk.sim.server import SimLatency, SimServer
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.widgets.timings import TimingsPane, Waterfall, fmt_s

READ_MEMO = "Read me the budget memo."

# each row of the waterfall and the record's field it shows
ROW_FIELD = {
    "mic": "input_latency_s",
    "turn end": "eou_delay",
    "STT": "stt_delay",
    "servers": "servers_wait",
    "LLM TTFT": "ttft",
    "tools": "tool_wait",
    "LLM 2nd": "followup_ttft",
    "1st words": "first_words",
    "TTS TTFB": "ttfb",
    "speaker": "output_latency_s",
    "v2v": "voice_to_voice",
}


def shown_rows(app: VoiceDeskApp) -> dict[str, str]:
    """Each waterfall row's label and the value at its end."""
    lines = str(app.query_one(Waterfall).render()).splitlines()[:-1]  # the axis goes
    return {line[:9].strip(): line.split()[-1] for line in lines}


def recorded(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return fmt_s(value) if isinstance(value, (int, float)) else "–"


def metrics_line(marks: dict[str, float]) -> dict[str, Any]:
    """The metrics line (``--metrics-out``) of turn 1 with ``marks``' stages at those times."""
    record = TurnRecord(turn_id=1)
    for stage, at in marks.items():
        record.mark(stage, at)
    return record.to_json()


@contextlib.asynccontextmanager
async def showing(
    tmp_path: Path, line: dict[str, Any], size: tuple[int, int]
) -> AsyncIterator[tuple[VoiceDeskApp, Pilot]]:
    """The app on a fake session at ``size``, once it has been given ``line``'s turn."""
    app = fake_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.TurnMetrics(turn_id=1, record=line))
        await pilot.pause()
        yield app, pilot


async def typed_question(pilot: Pilot) -> tuple[VoiceDeskApp, dict[str, Any]]:
    """Type QUESTION into the app on a real sim session; its app and its turn's record,
    once the timings pane has it."""
    app = await started(pilot)
    await wait_until(pilot, lambda: "listening" in status_text(app))
    await pilot.press("t")
    app.text_input.value = QUESTION
    await pilot.press("enter")
    timings = app.query_one(TimingsPane)
    await wait_until(pilot, lambda: bool(timings.records))
    return app, timings.records[-1]


@contextlib.asynccontextmanager
async def memo_read_typed(
    microphone: Path, tmp_path: Path, tools: dict[str, Any], latency: SimLatency
) -> AsyncIterator[tuple[VoiceDeskApp, Pilot]]:
    """The app on a real session (``microphone``: its WAV input) with the demo's documents
    server (``tools``: settings over the demo workspace), the simulated cloud at
    ``latency`` scripted to read the budget memo with a tool; yields once that question
    is typed and sent."""
    memo = SimToolCall(name="docs__read_document", arguments={"path": "budget-memo.md"})
    script = SimScript(turns=[SimTurn(transcript=READ_MEMO, reply="It asks for money.")])
    script.turns[0].tool_calls = [memo]
    settings = Settings.model_validate({"tools": {"workspace": str(demo_workspace()), **tools}})
    async with SimServer(script, latency) as server:

        async def make_session(bus: ev.EventBus) -> Any:
            return build_session(
                settings_for_sim(settings, server.base_url),
                input_path=microphone,
                bus=bus,
                with_tools=True,
                log_path=tmp_path / "session.jsonl",
            )

        app = VoiceDeskApp(settings, make_session, simulated=True, log_path=tmp_path / "t.log")
        async with app.run_test(size=(120, 40)) as pilot:
            await started(pilot)
            await pilot.press("t")
            app.text_input.value = READ_MEMO
            await pilot.press("enter")
            yield app, pilot


async def test_a_typed_turn_shows_no_voice_to_voice_time_as_its_record_has_none(
    real_app: VoiceDeskApp,  # noqa: F811
) -> None:
    """A typed turn has no end of speech: its record's voice_to_voice is null and the
    headless line says "voice-to-voice –". The pane's v2v row measured from the moment
    it was sent instead and showed 1.27s over "v2v: no spoken turns yet", a figure the
    metrics file never had. Every row now shows the record's own figure."""
    async with real_app.run_test(size=(100, 30)) as pilot:
        app, record = await typed_question(pilot)
        assert record["eou_reason"] == "typed" and record["voice_to_voice"] is None
        assert record["ttfb"] is not None  # it was spoken: there was a first sound
        await pilot.pause()
        rows = shown_rows(app)
        assert rows["v2v"] == "–"
        assert rows == {label: recorded(record, ROW_FIELD[label]) for label in rows}
        assert "no spoken turns yet" in text_of(app.query_one("#v2v-stats", Static))
        await pilot.press("q")


async def test_a_typed_turns_line_in_a_narrow_terminal_has_only_its_stages(
    real_app: VoiceDeskApp,  # noqa: F811
) -> None:
    """Where there is no room for the timings pane, each turn's timings are a line under
    its answer. A typed turn's began "⏱ v2v – · turn end – · LLM …": stages a typed turn
    never has, which on a 40×10 terminal took a line of the six the conversation had. It
    has the stages its record has, the record's figures."""
    async with real_app.run_test(size=(40, 10)) as pilot:
        app, record = await typed_question(pilot)
        await pilot.pause()
        assert record["voice_to_voice"] is None and record["eou_delay"] is None
        (line,) = app.query(".timing-line").results(Static)
        assert line.region.height > 0  # shown: no side panel at this width
        shown = text_of(line)
        assert "–" not in shown and "v2v" not in shown and "turn end" not in shown

        def compact(value: float) -> str:
            return f"{value:.2f}s" if value >= 1 else f"{value * 1000:.0f}ms"

        assert shown.startswith(f"⏱ LLM {compact(record['ttft'])} · ")
        assert shown.endswith(f"TTS {compact(record['ttfb'])}")
        await pilot.press("q")


async def test_each_row_shows_the_figure_of_the_metrics_line_to_the_millisecond(
    tmp_path: Path,
) -> None:
    """The pane subtracted the marks itself: a first sound 0.1155 s after the request (as
    the record rounds it) came out as 0.11549999… and was shown as 115ms, where the
    metrics line of the same turn says 116ms. The rows show the record's own figures."""
    marks = {**PLAIN_T, "tts_request": 4.71, "tts_first_audio": 4.8255, "eou_decided": 4.2155}
    line = metrics_line(marks)
    assert fmt_s(line["ttfb"]) == "116ms"  # 0.1155, where 4.8255 - 4.71 is 0.11549999…
    async with showing(tmp_path, line, (120, 40)) as (app, pilot):
        rows = shown_rows(app)
        assert rows == {label: recorded(line, ROW_FIELD[label]) for label in rows}
        assert rows["TTS TTFB"] == "116ms"
        await pilot.press("q")


async def test_a_tool_turns_timing_line_has_its_tools_and_second_round(tmp_path: Path) -> None:
    """Where the timings pane has no room, each turn's timings are a line under its answer,
    the stages that add up to voice-to-voice. A tool turn's read "v2v 2.97s · turn end
    200ms · LLM 540ms · TTS 290ms": the 1.4 s the tools took and the model's second round
    were missing, and the line did not add up. They are there now, from the record."""
    tool_t = {
        **PLAIN_T,
        "tool_start": 4.72,
        "tool_done": 6.12,
        "followup_request": 6.13,
        "followup_first_token": 6.66,
        "tts_request": 6.67,
        "tts_first_audio": 6.96,
        "playback_start": 6.97,
    }
    line = metrics_line(tool_t)
    async with showing(tmp_path, line, (60, 30)) as (app, pilot):  # too narrow for the side panel
        (shown,) = app.query(".timing-line").results(Static)
        assert text_of(shown) == (
            "⏱ v2v 2.97s · turn end 200ms · LLM 540ms · tools 1.40s · LLM 2nd 530ms · TTS 290ms"
        )
        await pilot.press("q")


async def test_an_answer_that_waited_for_tool_servers_shows_the_wait(tmp_path: Path) -> None:
    """The session listens before its tool servers are up, and the first answer waits for
    one still starting (up to 10 s): the pane showed a quick "LLM TTFT" under a v2v seconds
    longer, the wait in no row. It has a row of its own, the record's figure."""
    waited = {
        **PLAIN_T,
        "servers_wait_start": 4.1,
        "llm_request": 7.6,
        "llm_first_token": 8.1,
        "tts_request": 8.11,
        "tts_first_audio": 8.4,
        "playback_start": 8.41,
    }
    line = metrics_line(waited)
    async with showing(tmp_path, line, (120, 40)) as (app, pilot):
        rows = shown_rows(app)
        assert rows["servers"] == "3.50s"
        assert rows == {label: recorded(line, ROW_FIELD[label]) for label in rows}
        await pilot.press("q")


async def test_a_turn_cut_during_the_models_second_round_shows_that_round_up_to_the_cut(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Esc while the model wrote its answer to a tool's result: the record has the second
    round's request and the cut (``interrupted_at``), no first token. The pane drew "LLM
    2nd", "TTS TTFB" and "v2v" as "–", stages that never were, and nothing in it said the
    turn had been cut. The round is drawn up to the cut, marked ✂ with its length, and the
    pane's title says the turn was cut."""
    # the model takes 3 s to answer each round: time to press Esc in the second
    slow_model = SimLatency(ttft_s=3.0, ttfb_s=0.05, stt_s=0.05)
    async with memo_read_typed(silence_wav, tmp_path, {}, slow_model) as (app, pilot):
        calls = app.tool_pane.calls
        await wait_until(
            pilot, lambda: any(c.finished is not None for c in calls.values()), timeout=30
        )
        assert not app.text_input.has_focus  # Esc stops the answer, not leaves the box
        await pilot.press("escape")
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records), timeout=30)
        await pilot.pause()
        record = timings.records[-1]
        t = record["t"]
        assert record["interrupted"] and "followup_first_token" not in t
        rows = shown_rows(app)
        assert rows["LLM 2nd"] == "✂" + fmt_s(t["interrupted_at"] - t["followup_request"])
        assert rows["tools"] == recorded(record, "tool_wait")  # ended before the cut
        assert rows["TTS TTFB"] == "–"  # never begun
        assert "cut" in str(timings.border_subtitle)
        await pilot.press("q")


async def test_a_call_gone_to_the_background_is_timed_as_the_wait_before_it_went(
    silence_wav: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A call slower than tools.tool_patience_s goes on in the background and the turn
    says a holding line. The pane's "tools" row showed the wait until then (the
    patience, 0.5 s here) as if it were how long the tool took, while its card said
    "running…" and later 4 s; and an "LLM 2nd" row "–" for a round that never was. The
    row is "tools→bg", the record's figure; the turn has no second-round row."""
    tools = {"docs_server_args": ["--slow", "read_document=4"], "tool_patience_s": 0.5}
    quick = SimLatency(ttft_s=0.05, ttfb_s=0.05, stt_s=0.05)
    async with memo_read_typed(silence_wav, tmp_path, tools, quick) as (app, pilot):
        timings = app.query_one(TimingsPane)
        await wait_until(pilot, lambda: bool(timings.records), timeout=30)
        await pilot.pause()
        record = timings.records[-1]
        assert record["went_background"] and record["tool_wait"] is not None
        rows = shown_rows(app)
        assert rows["tools→bg"] == recorded(record, "tool_wait")
        assert "tools" not in rows and "LLM 2nd" not in rows
        # so says the line under the answer, where a narrow terminal has no pane
        (line,) = app.query(".timing-line").results(Static)
        assert f"tools→bg {record['tool_wait'] * 1000:.0f}ms · " in text_of(line)
        assert "LLM 2nd" not in text_of(line)
        await pilot.press("q")
