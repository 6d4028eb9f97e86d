"""The event loop the TUI shares with the engine: what holds it up in a long conversation."""

from __future__ import annotations

import contextlib
import gc
import weakref
from pathlib import Path
from typing import Any

import pytest
import textual.content
from test_tui import (  # shared fixtures and helpers of the TUI tests
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    sim_args,
    started,
    started_fake,
    wait_until,
)
from test_typing_only import _no_portaudio
from textual._compositor import Compositor
from textual.pilot import Pilot
from textual.visual import Visual
from textual.widgets import Static, TextArea

from voicedesk import events as ev
from voicedesk.audio import sounddevice_backend
from voicedesk.commands import tui
from voicedesk.config import Settings
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.screens import ToolDetailScreen
from voicedesk.tui.widgets.conversation import MAX_TURNS_SHOWN, AssistantTurn
from voicedesk.tui.widgets.status import level_meter


async def test_what_was_there_when_the_conversation_began_is_kept_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every few turns Python's full garbage collection walked every object in the process,
    the SDKs' and models' from start-up included, and held the event loop the engine and
    the screen share for 0.16–0.24 s (40 typed turns on the simulated cloud: 7 such pauses,
    median 160 ms). Once the conversation has started those objects are frozen (set aside
    for good): the same run measured a median of 20 ms."""
    monkeypatch.setattr(sounddevice_backend, "import_sounddevice", _no_portaudio)
    args = sim_args(None, None, sim_ttft=0.05)
    settings = Settings()
    try:
        async with contextlib.AsyncExitStack() as stack:
            app = VoiceDeskApp(
                settings,
                tui.session_factory(args, settings, stack),
                simulated=True,
                log_path=tmp_path / "tui.log",
                freeze_heap=True,
            )
            async with app.run_test(size=(100, 30)) as pilot:
                await started(pilot)
                await wait_until(pilot, lambda: app.typing_only)
                frozen = gc.get_freeze_count()
                assert frozen > 0
                app.text_input.value = "Tell me about the sea."
                await pilot.press("enter")
                await wait_until(pilot, lambda: bool(app.timings.records))
                # a full collection now walks what the conversation made, not the start-up
                assert len(gc.get_objects()) < frozen
                await pilot.press("ctrl+q")
    finally:
        gc.unfreeze()


# Words of every kind a wrap meets: short and long, wide (CJK, emoji), right-to-left, a word
# longer than the pane (folded), paragraphs; some tokens continue the word before them.
TOKENS = [
    "The",
    " quick",
    " brown",
    " fox",
    " jumps",
    " over",
    " the",
    " lazy",
    " dog",
    ".",
    " 東京の",
    "天気は",
    "晴れです",
    "。",
    " 🌊",
    " waves",
    " שלום",
    " עולם",
    "\n\n",
    " Supercalifragilisticexpialidocious" * 2,
    " and",
    " un",
    "believ",
    "able",
    " things",
]


@pytest.fixture
def wraps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of each text Textual wraps into lines (``divide_line``), from now on."""
    wrapped: list[int] = []
    divide_line = textual.content.divide_line

    def counting(text: str, width: int, fold: bool = True) -> list[int]:
        wrapped.append(len(text))
        return divide_line(text, width, fold)

    monkeypatch.setattr(textual.content, "divide_line", counting)
    return wrapped


@pytest.fixture
def layouts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A 1 for each layout of the whole screen (every widget shown arranged again)."""
    arranged: list[int] = []
    arrange = Compositor._arrange_root

    def counting(self: Compositor, *args: Any, **kwargs: Any) -> Any:
        arranged.append(1)
        return arrange(self, *args, **kwargs)

    monkeypatch.setattr(Compositor, "_arrange_root", counting)
    return arranged


async def until_no_layout(pilot: Pilot, arranged: list[int]) -> None:
    """Until a pause goes by without a layout of the whole screen: the ones the start set
    going (the footer's keys after the focus moved, the status bar's devices) come a frame
    or more apart, and on a loaded machine (two CPU hogs beside the tests) a single pause
    left three of them to be counted as the meter's."""

    def quiet() -> bool:
        was_quiet = not arranged
        arranged.clear()
        return was_quiet

    arranged.clear()
    await pilot.pause()
    await wait_until(pilot, quiet)


async def test_a_streaming_answer_wraps_only_its_last_line_and_lays_out_only_for_a_new_one(
    tmp_path: Path, wraps: list[int], layouts: list[int]
) -> None:
    """Every token of a streaming answer re-wrapped the whole answer, twice (its height and
    its lines), on the event loop the engine shares: the frames of a 1500-word answer held
    it for 17 ms each (4.8 ms now). The
    lines already final are kept now; only the last one is wrapped again, and the answer
    looks exactly as it did. Each token also laid the whole screen out again (every turn
    shown); now only one that takes the answer to another line does."""
    wrapped, arranged = wraps, layouts
    app = fake_app(tmp_path)
    async with app.run_test(size=(60, 40)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.TranscriptFinal(turn_id=1, text="Tell me everything."))
        shape, needless = (0, 0), []
        for i in range(300):
            arranged.clear()
            app.bus.publish(ev.AssistantDelta(turn_id=1, text=TOKENS[i % len(TOKENS)]))
            if i == 100:  # the lines kept are for one width and one theme
                await pilot.resize_terminal(90, 40)
            if i == 200:
                app.theme = "textual-light"
            await pilot.pause()
            (answer,) = app.conversation.query(AssistantTurn)
            width = answer.content_region.width
            # drawn as the whole text would be, token after token
            style = answer.visual_style
            growing = Visual.to_strips(answer, answer.visual, width, None, style)
            whole = Visual.to_strips(answer, answer.render_content(), width, None, style)
            assert [s.text for s in growing] == [s.text for s in whole]
            assert growing == whole
            assert answer.content_region.height == len(whole)  # laid out to its last line
            # the whole screen is laid out again only when the answer takes another line
            # (or another width: 101, the first token after the resize, or once a scrollbar
            # comes); 1: it was just mounted
            if i > 1 and i not in (100, 101, 200) and (width, len(whole)) == shape and arranged:
                needless.append(i)
            shape = (width, len(whole))
        # (some for other reasons: the scroll to a new last line can come a token late;
        # before, every token laid it out: 239 of these 300)
        assert len(needless) < 30, needless
        wrapped.clear()
        app.bus.publish(ev.AssistantDelta(turn_id=1, text=" end"))
        await pilot.pause()
        assert len(answer.display_text) > 2000
        assert wrapped and sum(wrapped) < 3 * width  # a line or two, not the whole answer
        await pilot.press("q")


async def test_a_word_longer_than_the_pane_that_fills_its_last_line_streams_as_it_ends(
    tmp_path: Path, wraps: list[int]
) -> None:
    """A word longer than the pane (a link, a path, a run of Japanese without spaces) is
    folded with the space after it: when its last piece fills the line, that space goes on
    a line of its own, so the next word begins with it and a next long word comes after a
    blank line. The streaming answer kept the piece as a final line and wrapped the rest
    alone: no space, no blank line, until the answer was heard and jumped to how it is
    drawn whole. It keeps only the lines before the one the last word begins on now, or
    the pieces of a long word with more of it after them: a paragraph of Japanese is one
    word, and a token wraps a line or two of it, not all of it."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(60, 40)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.TranscriptFinal(turn_id=1, text="Where is it?"))
        app.bus.publish(ev.AssistantDelta(turn_id=1, text="See"))
        await pilot.pause()
        (answer,) = app.conversation.query(AssistantTurn)
        width = answer.content_region.width
        link = "https://example.com/" + "a" * (2 * width - len("https://example.com/"))
        japanese = "東京" * width  # two cells each: it folds at the pane's edge too
        text = f" {link} and then {link} {link}\n\n{japanese} OK {japanese * 3}"
        tokens = [text[at : at + 4] for at in range(0, len(text), 4)]
        for token in tokens:
            app.bus.publish(ev.AssistantDelta(turn_id=1, text=token))
            await pilot.pause()
            assert answer.content_region.width == width
            style = answer.visual_style
            growing = Visual.to_strips(answer, answer.visual, width, None, style)
            whole = Visual.to_strips(answer, answer.render_content(), width, None, style)
            assert [s.text for s in growing] == [s.text for s in whole], token
            assert answer.content_region.height == len(whole)
        wraps.clear()
        app.bus.publish(ev.AssistantDelta(turn_id=1, text="東京"))
        await pilot.pause()
        assert wraps and sum(wraps) < 4 * width  # not its 6 × width characters
        await pilot.press("q")


async def test_a_streaming_answer_can_be_selected_and_copied(tmp_path: Path) -> None:
    """An answer is drawn by ``GrowingText`` until it has been heard, all the time it is
    spoken, and Textual takes the selected text only from a ``Content``: a double click
    on it highlighted it, and ctrl+c copied nothing. It copies the answer as shown."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.TranscriptFinal(turn_id=1, text="Where is it?"))
        for token in ("The", " memo", " is", " in", " the", " budget", " folder."):
            app.bus.publish(ev.AssistantDelta(turn_id=1, text=token))
        await pilot.pause()
        (answer,) = app.conversation.query(AssistantTurn)
        assert answer.heard_text is None  # still streaming, or being spoken
        await pilot.click(answer, times=2)  # selects the whole answer
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert app.clipboard == "assistant › The memo is in the budget folder."
        assert app.return_code is None  # it copied: it did not quit


async def test_a_long_tool_result_is_not_wrapped_whole_to_open_or_resize_its_dialog(
    tmp_path: Path, wraps: list[int]
) -> None:
    """A tool's result is shown in full in its dialog, up to 50,000 characters. As one
    ``Static`` it was wrapped whole again and again as the dialog was laid out (20 times to
    open it), and again at every resize, on the loop the engine shares: opening it cost
    ~150 ms more CPU than a short result's, each resize ~100-140 ms more. A read-only text
    area lays out only the lines in view; the whole result is still there to read, to the
    end, and to select."""
    wrapped = wraps
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. 東京の天気 🌊 שלום עולם\n"
    result = (line * (50_000 // len(line) + 1))[:50_000]
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(
            ev.ToolCallStarted(turn_id=1, call_id="c1", name="docs__read", arguments={})
        )
        app.bus.publish(
            ev.ToolCallFinished(
                call_id="c1",
                name="docs__read",
                result_text=result,
                spoken_summary="",
                is_error=False,
                duration_s=0.1,
            )
        )
        await pilot.pause()
        wrapped.clear()
        app.push_screen(ToolDetailScreen(app.tool_pane.calls["c1"]))
        await pilot.pause()
        for size in ((160, 50), (60, 20), (100, 30)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert sum(wrapped) < len(result)  # not once whole, let alone at each layout
        shown = app.screen.query_one("#tool-result", TextArea)
        assert shown.text == result
        assert shown.has_focus  # the keys scroll it
        await pilot.press("end")  # the end of the result, as in the other dialogs
        await pilot.pause()
        assert shown.scroll_y == shown.max_scroll_y > 0
        await pilot.press("up", "pageup")
        await pilot.pause()
        assert 0 < shown.scroll_y < shown.max_scroll_y - 1
        await pilot.press("q")  # the dialog's keys still reach it: q quits
        await pilot.pause()
        assert app.return_code == 0


async def test_the_level_meter_moving_does_not_lay_out_the_whole_screen(
    tmp_path: Path, layouts: list[int]
) -> None:
    """The microphone's level comes about 20 times a second, and each one laid the whole
    screen out again, every turn in the conversation pane included: with 50 resumed turns
    that was 60 layouts and ~0.3 s of the loop's time in 3 s of silence. The meter keeps
    its width, so it is only drawn again; a change of width still lays the bar out."""
    arranged = layouts
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.InputLevel(rms_dbfs=-60.0, zero_input=False))
        await pilot.pause()
        meter = app.status_bar.query_one("#status-level", Static)
        await until_no_layout(pilot, arranged)
        for level in range(-60, 0, 3):
            app.bus.publish(ev.InputLevel(rms_dbfs=float(level), zero_input=False))
            await pilot.pause()
        assert str(meter.render()) == str(level_meter(-3.0))  # drawn at each level, to the last
        assert not arranged
        app.bus.publish(ev.InputLevel(rms_dbfs=-90.0, zero_input=True))  # "mic 0 !"
        await pilot.pause()
        assert arranged and meter.region.width == len("mic 0 !") + 2
        await pilot.press("q")


async def test_a_steady_level_does_not_draw_the_screen_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Left open in a quiet room the microphone's level comes about 20 times a second and
    shows the same bar each time, yet each one drew the status bar and sent the screen
    update to the terminal again: `voicedesk run --sim` over 60 s of silence in tmux took
    8–9 % of a core, most of it Textual's refresh of an unchanged meter. The same bar is
    not drawn again; a level that changes the bar still is."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.InputLevel(rms_dbfs=-60.0, zero_input=False))
        await pilot.pause()
        meter = app.status_bar.query_one("#status-level", Static)
        refreshed: list[int] = []
        refresh = meter.refresh

        def counting(*args: Any, **kwargs: Any) -> Any:
            refreshed.append(1)
            return refresh(*args, **kwargs)

        monkeypatch.setattr(meter, "refresh", counting)
        for _ in range(20):  # a second of a quiet room: the same bar each time
            app.bus.publish(ev.InputLevel(rms_dbfs=-60.0, zero_input=False))
            await pilot.pause()
        assert not refreshed
        app.bus.publish(ev.InputLevel(rms_dbfs=-20.0, zero_input=False))
        await pilot.pause()
        assert refreshed and str(meter.render()) == str(level_meter(-20.0))
        await pilot.press("q")


async def test_a_turn_gone_from_the_conversation_takes_what_it_drew_with_it(
    tmp_path: Path,
) -> None:
    """Past MAX_TURNS_SHOWN the oldest turns leave the conversation, but Textual's cache of
    background styles (Textualize/textual#6665) held the last 1024 removed widgets' drawn
    lines: each turn left ~500 objects behind, and by 300 turns every full garbage
    collection, on the loop the engine shares, took 116–280 ms instead of 45–76. A removed
    turn's drawing is freed with it."""
    app = fake_app(tmp_path)
    async with app.run_test(size=(80, 30)) as pilot:
        await started_fake(pilot)
        first: list[weakref.ref[Any]] = []
        for turn in range(1, MAX_TURNS_SHOWN + 6):
            app.bus.publish(ev.TranscriptFinal(turn_id=turn, text=f"Question {turn}?"))
            app.bus.publish(ev.AssistantDelta(turn_id=turn, text=f"Answer {turn}."))
            app.bus.publish(
                ev.PlaybackEnded(
                    turn_id=turn, audio_s=1.0, interrupted=False, heard_text=f"Answer {turn}."
                )
            )
            app.bus.publish(ev.TurnMetrics(turn_id=turn, record={"turn_id": turn, "t": {}}))
            await pilot.pause()
            if turn == 1:  # drawn on screen, so its styles were cached
                first = [weakref.ref(w._styles_cache) for w in app.conversation.children]
        assert not app.conversation.users.get(1)  # pruned
        gc.collect()
        assert first and not [ref for ref in first if ref() is not None]
        await pilot.press("q")
