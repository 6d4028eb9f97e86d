"""Build a ready-to-start :class:`Session` from settings (real providers or the simulated cloud)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from voicedesk import events as ev
from voicedesk.config import Settings
from voicedesk.engine.session import Session
from voicedesk.engine.session_log import SessionLog
from voicedesk.errors import UserError

if TYPE_CHECKING:
    from voicedesk.turn.pause_reading import PauseReader

log = logging.getLogger(__name__)

SIM_KEY = "sk-sim-local"


@dataclass
class SimOptions:
    ttft_s: float | None = None
    ttfb_s: float | None = None
    stt_s: float | None = None
    tokens_per_s: float | None = None
    script: Path | Any | None = None  # a file, or a SimScript object
    context_window: int | None = None  # the simulated model refuses longer chat requests
    context_error: str = "openai"  # how it words that (voicedesk.sim.server.CONTEXT_ERRORS)
    # (provider, fault, times), armed in this order before the first request, as
    # ``voicedesk sim --fault`` arms them: so a run or demo can show a provider failing
    faults: list[tuple[str, str, int]] = field(default_factory=list)
    # speech-to-text and the voice set to "local" stay on this machine (``bench latency``
    # measuring faster-whisper and Piper); False: every provider is the simulated cloud's
    keep_local: bool = False


def settings_for_sim(settings: Settings, base_url: str, *, keep_local: bool = False) -> Settings:
    """Point every cloud provider at the simulated cloud; keys are placeholders it accepts.
    ``keep_local``: speech-to-text and the voice set to "local" are left as they are."""
    data = settings.model_dump()
    if not (keep_local and settings.stt.provider == "local"):
        data["stt"].update(provider="openai", base_url=f"{base_url}/v1")
    data["llm"].update(base_url=f"{base_url}/v1", api_key_env="VOICEDESK_SIM_KEY")
    if not (keep_local and settings.tts.provider == "local"):
        data["tts"].update(provider="elevenlabs", elevenlabs_base_url=base_url)
    data["tts"]["fallback"] = "none"
    data["keys"] = {"openai_api_key": SIM_KEY, "elevenlabs_api_key": SIM_KEY}
    out = Settings.model_validate(data)
    out.keys.openai_api_key = SecretStr(SIM_KEY)
    out.keys.elevenlabs_api_key = SecretStr(SIM_KEY)
    return out


@contextlib.asynccontextmanager
async def sim_server(options: SimOptions) -> AsyncIterator[Any]:
    from voicedesk.sim.script import SimScript
    from voicedesk.sim.server import SIM_REQUESTS_KEPT, SimLatency, SimServer

    latency = SimLatency()
    for name in ("ttft_s", "ttfb_s", "stt_s", "tokens_per_s"):
        value = getattr(options, name)
        if value is not None:
            setattr(latency, name, value)
    if isinstance(options.script, SimScript):
        script = options.script
    else:
        script = SimScript.load(options.script) if options.script else SimScript()
    server = SimServer(
        script,
        latency,
        context_window=options.context_window,
        context_error=options.context_error,
        keep_requests=SIM_REQUESTS_KEPT,
    )
    for provider, fault, times in options.faults:
        server.inject(provider, fault, times)
    async with server as sim:
        yield sim


def uses_the_simulated_cloud(settings: Settings) -> bool:
    """Whether a key the providers would send is the simulated cloud's placeholder, as
    `eval "$(voicedesk sim --detach)"` exports it: no real service takes that key."""
    keys = [settings.keys.openai_api_key, settings.keys.elevenlabs_api_key]
    given = [k.get_secret_value().strip() for k in keys if k is not None]
    given.append(os.environ.get(settings.llm.api_key_env, "").strip())
    return SIM_KEY in given


def build_session(
    settings: Settings,
    *,
    input_path: Path | None = None,
    output_path: Path | None = None,
    realtime: bool = True,
    bus: ev.EventBus | None = None,
    log_path: Path | None = None,
    with_tools: bool | None = None,
    tail_s: float | None = 300.0,
    resume: bool = False,
    log_kind: str | None = None,
    file_latency_s: tuple[float, float] = (0.0, 0.0),
    typing_fallback: bool = False,
    room: dict[str, float] | None = None,
) -> Session:
    """Construct providers, audio, detector and context; raise UserError on anything missing.

    ``log_kind`` ("sim", "demo"): the session log is kept apart from the person's own
    conversations, and ``resume`` continues only the last log of the same kind. "" is the
    person's own run (`run`, the terminal UI): "sim" if its keys are the simulated cloud's.
    None (a test, a benchmark) is "" as given, the keys not looked at.
    ``file_latency_s``: the (input, output) sound-card latency a WAV run simulates, and
    ``tail_s`` how long its microphone goes on in silence after the file (None: until the
    session stops).
    ``typing_fallback``: the caller takes typed turns, so a machine without a microphone
    gets a typing-only conversation rather than an error (``AudioIO``).
    ``room``: a simulated laptop room around the WAV files (``SimulatedRoom``'s arguments)."""
    from voicedesk.audio.io import AudioIO
    from voicedesk.engine.context import ContextManager
    from voicedesk.engine.summarizer import Summarizer
    from voicedesk.providers.factory import make_llm, make_stt, make_tts
    from voicedesk.turn.detector import TurnDetector

    bus = bus or ev.EventBus()
    if log_kind == "" and uses_the_simulated_cloud(settings):
        # Against `voicedesk sim --detach` (its exported placeholder keys) the run looked
        # like the person's own: logged as a real conversation, and `--resume` later, with
        # a real key, continued a scripted one. Kept apart as an in-process --sim run is.
        log_kind = "sim"
        bus.publish(
            ev.Notice(
                level="info",
                message="The keys are the simulated cloud's placeholder (from `voicedesk "
                "sim`): this conversation is logged as a simulated one, apart from your own. "
                "--resume continues it only with these keys (or with --sim).",
            )
        )
    log_kind = log_kind or ""
    # The providers that need a key come first: a missing one is said before the Whisper
    # model loads (~1.5 s here), not after.
    stt = None if settings.stt.provider == "local" else make_stt(settings)
    llm = make_llm(settings)
    try:
        tts = make_tts(settings)
        fallback = make_tts(settings, fallback=True) if settings.tts.fallback != "none" else None
    except UserError as exc:
        if not typing_fallback:
            raise
        # no voice can be made (no ElevenLabs key): that matters only if there is a speaker
        from voicedesk.providers.no_speech_tts import DeferredTTS

        tts, fallback = DeferredTTS(exc), None
    pause_reader = _pause_reader(settings)
    if stt is None:  # local: the pause readings' model also writes the transcripts (one load)
        reader = pause_reader.transcriber if pause_reader is not None else None
        stt = make_stt(settings, local_whisper=reader)
    stt_warning = getattr(stt, "language_warning", None)  # local: an English-only model
    if stt_warning:
        bus.publish(ev.Notice(level="warning", message=stt_warning))
    if "local" in (settings.tts.provider, settings.tts.fallback):
        from voicedesk.providers.piper_tts import language_mismatch

        mismatch = language_mismatch(settings.tts.local_voice, settings.stt.language)
        if mismatch:
            bus.publish(ev.Notice(level="warning", message=mismatch))
    detector = TurnDetector(
        settings,
        expects_text=settings.stt.provider != "none",
        expects_reading=pause_reader is not None,
    )
    audio = AudioIO.from_settings(
        settings,
        input=input_path,
        output=output_path,
        realtime=realtime,
        bus=bus,
        tail_s=tail_s,
        file_latency_s=file_latency_s,
        typing_fallback=typing_fallback,
        room=room,
    )
    context = ContextManager(
        settings, model=settings.llm.model, summarizer=Summarizer(llm, bus), bus=bus
    )
    last_turn = 0
    if not resume:
        session_log = SessionLog(log_path, kind=log_kind)
    else:
        from voicedesk.engine.resume import (
            earlier_turns,
            read_conversation,
            restore_state,
            which_lines,
        )
        from voicedesk.engine.session_log import latest_log
        from voicedesk.tools.wording import plural

        previous = log_path or latest_log(log_kind)
        if previous is None or not previous.exists():
            if log_kind == "sim":
                raise UserError(
                    "There is no earlier simulated conversation to resume.",
                    "start one with `voicedesk run --sim` (with --sim, or with the simulated "
                    "cloud's keys from `voicedesk sim`, --resume continues only the last "
                    "simulated conversation; otherwise, your last real one)",
                )
            raise UserError(
                "There is no earlier conversation to resume.",
                "start one with `voicedesk` (or `voicedesk run`); --resume then continues it",
            )
        session_log = SessionLog(previous)  # the conversation goes on in the same log
        session_log.check()  # held from here: not resumed by two voicedesks at once
        conversation = read_conversation(previous)
        if not conversation.kept and conversation.damaged:
            # "up to turn 0": nothing of it came back, though the person spoke in it
            session_log.close()  # let another run have it once it is mended
            raise UserError(
                f"The conversation log {previous} holds nothing that can be resumed: "
                f"{which_lines(conversation)}.",
                "mend those lines (each is one JSON record as voicedesk wrote it, such as "
                '{"type": "user", "turn_id": 1, "text": "…"}), or start afresh without --resume',
            )
        snapshot, last_turn = restore_state(conversation)
        context.restore(snapshot)
        when = datetime.fromtimestamp(previous.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        skipped = conversation.skipped
        lost = conversation.lost_words
        damaged = (
            f" {plural(skipped, 'damaged record')} of it left out"
            + (f", {plural(lost, 'thing')} you said among them" if lost else "")
            + f": {which_lines(conversation)}."
            if skipped
            else ""
        )
        bus.publish(
            ev.Notice(
                level="warning" if skipped else "info",
                message=f"Resuming the {'simulated ' if log_kind == 'sim' else ''}"
                f"conversation last spoken on {when} "
                f"(up to turn {last_turn}; {previous}).{damaged}",
            )
        )
        bus.publish(earlier_turns(conversation))  # for the person: what they are continuing
    session_log.check()
    tools = None
    use_tools = settings.tools.docs_server or bool(settings.tools.mcpServers)
    if with_tools if with_tools is not None else use_tools:
        from voicedesk.tools.manager import ToolManager

        tools = ToolManager(settings, bus=bus)
    session = Session(
        settings,
        audio=audio,
        stt=stt,
        llm=llm,
        tts=tts,
        detector=detector,
        context=context,
        tools=tools,
        bus=bus,
        session_log=session_log,
        fallback_tts=fallback,
        pause_reader=pause_reader,
    )
    if last_turn:
        session.continue_from(last_turn)
    return session


def _pause_reader(settings: Settings) -> PauseReader | None:
    """The local reading of each pause for the end-of-turn cues (``turn.local_cues``): what
    ``voicedesk replay`` and ``bench turn`` measure, beside the streaming transcript."""
    from voicedesk.providers import local_stt
    from voicedesk.turn.pause_reading import PauseReader

    if not local_cues_wanted(settings):
        return None
    return PauseReader(
        local_stt.cue_reader(settings.stt.local_model, language=settings.stt.language)
    )


def local_cues_wanted(settings: Settings) -> bool:
    """Whether sessions read each pause locally: "on" always (without faster-whisper or a
    model that is the clear error naming what to install or set), "auto" when both are
    there, "off" never; and never without transcript cues at all."""
    from voicedesk.providers import local_stt

    mode = settings.turn.local_cues
    if mode == "off" or not settings.turn.use_transcript_cues:
        return False
    has_model = settings.stt.local_model is not None or local_stt.default_model_path() is not None
    return mode == "on" or (local_stt.installed() and has_model)
