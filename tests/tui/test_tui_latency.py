"""The event loop the TUI shares with the engine: what holds it up in a long conversation."""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path

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
from textual.visual import Visual

from voicedesk import events as ev
from voicedesk.audio import sounddevice_backend
from voicedesk.commands import tui
from voicedesk.config import Settings
from voicedesk.tui.app import VoiceDeskApp
from voicedesk.tui.widgets.conversation import AssistantTurn


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


async def test_a_streaming_answer_wraps_only_its_last_line_per_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every token of a streaming answer re-wrapped the whole answer, twice (its height and
    its lines), on the event loop the engine shares: at 100 tokens/s the frames of a 1500-word
    answer held it for ~18 ms each (loop stalls over 20 ms: 98 and 131 in two runs). The
    lines already final are kept now; only the last one is wrapped again, and the answer
    looks exactly as it did."""
    wrapped: list[int] = []
    divide_line = textual.content.divide_line

    def counting(text: str, width: int, fold: bool = True) -> list[int]:
        wrapped.append(len(text))
        return divide_line(text, width, fold)

    monkeypatch.setattr(textual.content, "divide_line", counting)
    app = fake_app(tmp_path)
    async with app.run_test(size=(60, 40)) as pilot:
        await started_fake(pilot)
        app.bus.publish(ev.TranscriptFinal(turn_id=1, text="Tell me everything."))
        for i in range(300):
            app.bus.publish(ev.AssistantDelta(turn_id=1, text=TOKENS[i % len(TOKENS)]))
            await pilot.pause()
            (answer,) = app.conversation.query(AssistantTurn)
            width = answer.content_region.width
            # drawn as the whole text would be, token after token
            style = answer.visual_style
            growing = Visual.to_strips(answer, answer.visual, width, None, style)
            whole = Visual.to_strips(answer, answer.render_content(), width, None, style)
            assert [s.text for s in growing] == [s.text for s in whole]
            assert growing == whole
        wrapped.clear()
        app.bus.publish(ev.AssistantDelta(turn_id=1, text=" end"))
        await pilot.pause()
        assert len(answer.display_text) > 2000
        assert wrapped and sum(wrapped) < 3 * width  # a line or two, not the whole answer
        await pilot.press("q")
