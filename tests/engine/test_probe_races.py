import asyncio, json
from tests.engine.test_conversation_e2e import _text, _settings, _at_first, LONG_REPLY
from voicedesk import events as ev
from voicedesk.bench.scenarios import compose
from voicedesk.engine.builder import SimOptions
from voicedesk.sim.script import SimScript, SimTurn


async def _go(tmp_path, script, setup, tail_s=14.0):
    from voicedesk.engine.builder import build_session, settings_for_sim, sim_server
    scenario = compose(["question"], tail_s=tail_s)
    scenario.write(tmp_path / "in.wav")
    options = SimOptions(ttft_s=0.2, ttfb_s=0.1, stt_s=0.05, script=script)
    async with sim_server(options) as server:
        session = build_session(
            settings_for_sim(_settings(tmp_path), server.base_url),
            input_path=tmp_path / "in.wav", output_path=tmp_path / "out.wav", with_tools=False)
        seen = []
        session.bus.subscribe(lambda e: seen.append((round(session.now_s(), 2), e)))
        setup(session, server)
        await session.start()
        try:
            await asyncio.sleep(scenario.pcm.size / scenario.rate)
            await asyncio.wait_for(session.wait_idle(), 20)
        finally:
            await session.stop()
    for t, e in seen:
        if isinstance(e, (ev.PlaybackStarted, ev.PlaybackEnded, ev.BargeIn, ev.TurnEnded, ev.TranscriptFinal, ev.Notice, ev.StateChanged)):
            print(t, type(e).__name__, {k: v for k, v in vars(e).items() if k not in ("t_ns",)})
    for r in session.records:
        print("REC", r.turn_id, r.user_text, "|", r.heard_text, r.interrupted, r.failed)
    return session


async def test_probe_no_words(tmp_path):
    typed = "Tell me a story."
    script = SimScript(turns=[SimTurn(transcript=""), SimTurn(transcript=typed, reply="It is noon, and the sun is out.")])
    def setup(session, server):
        async def type_it():
            await asyncio.sleep(0.5)
            await session.send_text(typed)
        session.bus.subscribe(_at_first(ev.SpeechStarted, lambda: asyncio.get_running_loop().create_task(type_it())))
    session = await _go(tmp_path, script, setup, tail_s=8.0)
    heard = {r.user_text: r.heard_text for r in session.records}
    assert heard[typed] == "It is noon, and the sun is out."


async def test_probe_two_typed(tmp_path):
    asked, typed, typed2 = _text("question"), "Tell me a story.", "What time is it?"
    script = SimScript(turns=[SimTurn(transcript=asked, reply="About seven minutes."),
                              SimTurn(transcript=typed, reply=LONG_REPLY),
                              SimTurn(transcript=typed2, reply="It is noon.")])
    def setup(session, server):
        async def type2():
            await asyncio.sleep(1.5)
            await session.send_text(typed2)
        session.bus.subscribe(_at_first(ev.TranscriptFinal, lambda: asyncio.get_running_loop().create_task(session.send_text(typed))))
        session.bus.subscribe(_at_first(ev.PlaybackStarted, lambda: asyncio.get_running_loop().create_task(type2())))
    session = await _go(tmp_path, script, setup)
    heard = {r.user_text: (r.heard_text, r.interrupted) for r in session.records}
    assert heard[typed2] == ("It is noon.", False)
    assert heard[asked] == ("About seven minutes.", False)
