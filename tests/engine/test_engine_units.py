"""Policies of the engine that can be checked without audio or sockets."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from voicedesk import events as ev
from voicedesk.config import BargeInSettings
from voicedesk.engine.barge_in import BargeInPolicy
from voicedesk.engine.heard import heard_prefix
from voicedesk.engine.metrics import TurnRecord, percentile, summarize
from voicedesk.engine.reply import Reply
from voicedesk.engine.session_log import SessionLog, read_log
from voicedesk.engine.speaking import DOUBLE_TALK_RESUME_S
from voicedesk.providers.base import ChatRequest, TextDelta, ToolCall, ToolCalls
from voicedesk.turn.detector import TurnSignal

TEXT = "The budget memo asks for forty two thousand euros next quarter."


def test_heard_prefix_uses_alignment_and_keeps_whole_words() -> None:
    def heard(letters: int, played: int = 1) -> str:
        return heard_prefix(
            TEXT, played_samples=played, sample_rate=24000, letters_at_played=letters
        )

    # 'The budget me' was played: the half word 'memo' is not in the history
    assert heard(11) == "The budget"
    assert heard(9) == "The budget"  # its last letter begun: a word heard
    assert heard(0, played=0) == ""
    assert heard(999, played=5) == TEXT
    # the letters of the text, whatever the aligned text's spaces: counted with them, a
    # chunk's dropped space made the last word heard whole count as half heard
    assert heard(len(TEXT.replace(" ", ""))) == TEXT


def test_heard_prefix_proportional_and_rate_estimates() -> None:
    half = heard_prefix(TEXT, played_samples=50, sample_rate=24000, total_samples=100)
    assert TEXT.startswith(half) and 0 < len(half) <= len(TEXT) // 2 + 1
    # with nothing known, ~14 chars/s: one second of audio is about two words
    est = heard_prefix(TEXT, played_samples=24000, sample_rate=24000)
    assert est in ("The budget", "The")


def test_barge_in_pauses_after_min_speech_then_cuts_on_words() -> None:
    pol = BargeInPolicy(BargeInSettings(min_speech_ms=100))
    assert pol.on_speech(1.0, 1.05, answer_playing=True) == "none"
    assert pol.on_speech(1.0, 1.10, answer_playing=True) == "pause"
    assert pol.on_speech(1.0, 1.20, answer_playing=True) == "none"  # already paused
    assert pol.on_transcript("no wait tell me more") == "cut"
    assert not pol.paused


def test_barge_in_resumes_after_a_noise_and_ignores_silence_playback() -> None:
    pol = BargeInPolicy(BargeInSettings(min_speech_ms=50))
    assert pol.on_speech(2.0, 2.5, answer_playing=False) == "none"  # nothing playing
    assert pol.on_speech(2.0, 2.1, answer_playing=True) == "pause"
    assert pol.on_transcript("") == "resume"
    strict = BargeInPolicy(BargeInSettings(min_speech_ms=0, min_words=3))
    assert strict.on_speech(0, 0, answer_playing=True) == "pause"
    assert strict.on_transcript("uh huh") == "resume"  # a backchannel, not an interruption
    assert strict.enough_words("uh huh, and then?") and not strict.enough_words("uh huh")
    assert BargeInPolicy(BargeInSettings()).enough_words("okay")  # 0: any word interrupts
    # ... but "mm-hm" asks only to go on, however it is spelt, whatever min_words says
    default = BargeInPolicy(BargeInSettings())
    for go_on in ("Mm-hm.", "mm-hmm", "Mhm.", "Uh-huh.", "uh huh", "Mm-hm, mm-hm."):
        assert not default.enough_words(go_on), go_on
    for word in ("No.", "Hmm.", "Huh?", "Yeah.", "Mm-hm. What time is it?"):
        assert default.enough_words(word), word


def test_mm_hmm_spelt_with_a_space_is_a_backchannel_too() -> None:
    # Transcribers write "mm-hmm" with a space as often as with a hyphen ("Mm hmm."), as
    # they do "uh huh"; spelt so, it was a word at the default min_words 0, and cut the
    # answer to be answered.
    default = BargeInPolicy(BargeInSettings())
    for go_on in ("Mm hmm.", "Mm hm.", "mm hmm, mm hmm", "Mm-hmm!"):
        assert not default.enough_words(go_on), go_on
    for word in ("Mm hmm, but wait.", "Mm, no, stop.", "Hm hm?", "Mm hmm?"):
        assert default.enough_words(word), word


def test_barge_in_does_not_count_echo_only_speech() -> None:
    # A burst of echo the canceller passed through: the VAD says speech, the linear echo
    # model says it is all echo. It never pauses the answer however long it lasts.
    pol = BargeInPolicy(BargeInSettings(min_speech_ms=120))
    for k in range(1, 40):
        assert pol.on_speech(1.0, 1.0 + k * 0.01, answer_playing=True, echo_only=True) == "none"
    # A person whose quiet gaps read as echo: only their own 120 ms count.
    pol.reset()
    verdicts = [
        pol.on_speech(3.0, 3.0 + k * 0.01, answer_playing=True, echo_only=k % 3 == 0)
        for k in range(1, 30)
    ]
    fired = verdicts.index("pause") + 1
    assert 17 <= fired <= 19  # 12 blocks of speech among every 3rd block of echo


def _stretches(pol: BargeInPolicy, spans: list[tuple[float, float]], *, cautious: bool) -> float:
    """Feed ``pol`` the VAD's stretches of speech (start, end) block by block, as the session
    does; returns when it paused, or -1."""
    for start, end in spans:
        pol.next_stretch()
        for k in range(1, round((end - start) * 100) + 1):
            now = round(start + k * 0.01, 2)
            if pol.on_speech(start, now, answer_playing=True, cautious=cautious) == "pause":
                return now
    return -1.0


def test_an_untrusted_cancellers_minimum_adds_up_a_persons_phrases() -> None:
    # "Wait, | stop, | tell me something else instead" over a first answer, the VAD ending
    # a stretch at each comma: 0.41, 0.44 and 0.5 s of speech. The cautious 500 ms were
    # counted one stretch at a time, and the answer played on under all three (1.8 s).
    # (The same utterance end to end, over the simulated room in real time, went quiet
    # 0.96 s after the first word on an idle machine and 1.53 s in a full CI run, and its
    # transcript went astray once in four: too load-sensitive to keep; the count is here.)
    phrases = [(5.86, 6.27), (6.40, 6.84), (7.10, 7.60)]
    assert _stretches(BargeInPolicy(BargeInSettings()), phrases, cautious=True) == 6.49
    # stretches further apart than CARRY_GAP_S are separate noises (a cough, then a knock)
    apart = [(1.0, 1.3), (1.75, 2.05)]
    assert _stretches(BargeInPolicy(BargeInSettings()), apart, cautious=True) == -1
    # a trusted canceller's 100 ms minimum counts one stretch: blips of residual echo
    # 60 ms long and 100 ms apart never add up
    blips = [(1.0 + 0.16 * i, 1.06 + 0.16 * i) for i in range(6)]
    assert _stretches(BargeInPolicy(BargeInSettings()), blips, cautious=False) == -1


def test_an_untrusted_cancellers_carry_leaves_out_the_vads_wait_for_silence() -> None:
    # The session counts every block while the turn detector is in speech, and it is
    # until the VAD has heard a window of silence (commit_ms, 32 ms): each stretch's count
    # ends some 40 ms into the silence after it. One stretch at a time that did not matter;
    # added up over six 70 ms blips of echo residue 0.2 s apart, it made 0.42 s of sound
    # count as 0.5 s and paused the first answer for nothing.
    pol = BargeInPolicy(BargeInSettings())
    fired = -1.0
    prev_end: float | None = None
    for i in range(6):
        start = 1.0 + 0.27 * i
        end = start + 0.07  # where the VAD heard the silence begin
        pol.next_stretch(ended_s=prev_end)
        for k in range(1, 12):  # 70 ms of sound, then the 40 ms the VAD waits
            now = round(start + k * 0.01, 2)
            if pol.on_speech(start, now, answer_playing=True, cautious=True) == "pause":
                fired = now
                break
        prev_end = end
    assert fired == -1.0, fired
    # a person's phrases still add up (their own sound, not the waits)
    phrases = [(5.86, 6.27), (6.40, 6.84), (7.10, 7.60)]
    pol = BargeInPolicy(BargeInSettings())
    ended: float | None = None
    for start, end in phrases:
        pol.next_stretch(ended_s=ended)
        for k in range(1, round((end + 0.04 - start) * 100) + 1):
            now = round(start + k * 0.01, 2)
            if pol.on_speech(start, now, answer_playing=True, cautious=True) == "pause":
                fired = now
                break
        if fired > 0:
            break
        ended = end
    assert 6.49 <= fired <= 6.55, fired


def test_barge_in_counts_from_whichever_source_heard_the_person_first() -> None:
    # The double-talk cue opens first (its speech began 10 ms ago), then the VAD on the
    # cleaned signal places the person's start 50 ms earlier: the count starts there.
    pol = BargeInPolicy(BargeInSettings(min_speech_ms=120))
    assert pol.on_block(1.00, speech_start_s=None, double_talk_ms=10, answer_playing=True) == (
        "none"
    )
    verdicts = {
        round(1.0 + k * 0.01, 2): pol.on_block(
            1.0 + k * 0.01, speech_start_s=0.95, double_talk_ms=0, answer_playing=True
        )
        for k in range(1, 12)
    }
    assert [t for t, v in verdicts.items() if v == "pause"] == [1.07]


def test_turn_record_derives_stage_latencies() -> None:
    rec = TurnRecord(turn_id=1)
    for stage, t in {
        "speech_end": 1.0,
        "eou_decided": 1.2,
        "stt_final": 1.1,
        "llm_request": 1.1,
        "llm_first_token": 1.8,
        "tts_request": 1.1,
        "tts_first_audio": 2.2,
        "playback_start": 2.21,
    }.items():
        rec.mark(stage, t)
    rec.mark("speech_end", 5.0)  # first mark wins unless overwrite
    d = rec.to_json()
    assert d["eou_delay"] == 0.2 and d["ttft"] == 0.7 and d["voice_to_voice"] == 1.21
    assert d["type"] == "turn"
    assert percentile([3, 1, 2], 50) == 2 and summarize([])["p50"] is None


def test_voice_to_voice_includes_the_sound_cards_latencies() -> None:
    # The stages are when audio reached and left voicedesk; the person said their last word
    # input latency earlier and hears the answer output latency later.
    rec = TurnRecord(turn_id=1)
    rec.mark("speech_end", 1.0)
    rec.mark("playback_start", 2.21)
    assert rec.to_json()["device_latency"] is None  # nothing played through a device yet
    rec.set_device_latency(0.03, 0.12)
    d = rec.to_json()
    assert d["input_latency_s"] == 0.03 and d["output_latency_s"] == 0.12
    assert d["device_latency"] == 0.15
    assert d["voice_to_voice"] == 1.36  # 1.21 on the timeline + 0.15 of device
    assert d["t"]["playback_start"] == 2.21  # the stages themselves stay on the timeline


def test_session_log_survives_a_crash_mid_write(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    with SessionLog(path) as log:
        log.append({"type": "turn", "turn_id": 1, "user_text": "hello"})
    # a process killed in the middle of its second record: write a torn line, then die
    code = textwrap.dedent(
        f"""
        import os
        fd = os.open({str(path)!r}, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b'{{"type": "turn", "turn_id": 2, "user_te')
        os._exit(9)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    with SessionLog(path) as log:
        log.append({"type": "turn", "turn_id": 3, "user_text": "after the crash"})
    records = list(read_log(path))
    assert [r["turn_id"] for r in records] == [1, 3]  # only the torn record is lost
    raw = path.read_bytes().splitlines()
    assert json.loads(raw[0])["turn_id"] == 1
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_record_never_waits_for_the_disk_and_close_waits_for_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records are written on the event loop: each one's fsync (4-8 ms on this machine, tens
    of ms on a busy laptop disk or a network home folder) held the loop that hears the
    person. A slow disk here: the record is in the file (a killed process keeps it) while
    its fsync still runs, and closing the log waits for every fsync."""
    import threading

    path = tmp_path / "s.jsonl"
    disk_free, syncing, synced = threading.Event(), threading.Event(), []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        syncing.set()
        disk_free.wait(30)
        real_fsync(fd)
        synced.append(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    log = SessionLog(path)
    writer = threading.Thread(
        target=lambda: [log.append({"type": "user", "turn_id": n}) for n in (1, 2)]
    )
    writer.start()
    assert syncing.wait(10)
    writer.join(10)
    assert not writer.is_alive(), "a record waited for the disk"
    assert [r["turn_id"] for r in read_log(path)] == [1, 2]
    closer = threading.Thread(target=log.close)
    closer.start()
    closer.join(0.5)
    assert closer.is_alive(), "closed before the disk had the records"
    disk_free.set()
    closer.join(10)
    assert not closer.is_alive() and synced  # one fsync or two: both records are synced


def test_a_record_starts_no_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each record's fsync ran on a thread started for it, and ``Thread.start`` waits for
    the new thread to run: 12 ms of the event loop at a turn's end on a busy 2-core machine,
    and again for each progress note while an answer played. The syncing thread is started
    with the log, and records are handed to it."""
    import threading

    path = tmp_path / "s.jsonl"
    log = SessionLog(path)
    started: list[str] = []
    real_start = threading.Thread.start

    def recorded_start(thread: threading.Thread) -> None:
        started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", recorded_start)
    for n in range(20):
        log.append({"type": "user", "turn_id": n})
        if n % 5 == 0:
            log.flush_notes()  # the next record finds no sync running
    log.close()
    assert started == []
    assert [r["turn_id"] for r in read_log(path)] == list(range(20))


def test_a_line_torn_inside_a_character_is_skipped(tmp_path: Path) -> None:
    # answers hold "—", "é" …: a crash can cut a record in the middle of one
    path = tmp_path / "s.jsonl"
    with SessionLog(path) as log:
        log.append({"type": "user", "turn_id": 1, "text": "près"})
    whole = path.read_bytes()
    path.write_bytes(whole + whole[: whole.index("è".encode()) + 1])
    assert [r["text"] for r in read_log(path)] == ["près"]


def _spoken_log(text: str) -> SessionLog:
    """A conversation's log in the sessions folder, with one thing the person said."""
    with SessionLog() as spoken:
        spoken.append({"type": "user", "turn_id": 1, "text": text})
    return spoken


def test_a_start_that_failed_leaves_no_log_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voicedesk.engine.session_log import latest_log

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    spoken = _spoken_log("remember this")
    with SessionLog() as failed:  # nothing was ever written
        pass
    assert not failed.path.exists()
    time.sleep(0.01)
    with SessionLog() as unheard:  # an older build wrote a start record and no turn
        unheard.append({"type": "summary", "summary": ""})
    assert latest_log() == spoken.path


def test_a_session_log_that_cannot_be_written_is_refused_at_start_or_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file where the sessions folder belongs failed every turn's record, and with it
    the turn: no answer was ever given, and a headless run never ended."""
    from voicedesk.errors import UserError

    (tmp_path / "sessions").touch()
    log = SessionLog(tmp_path / "sessions" / "s.jsonl")
    with pytest.raises(UserError, match="sessions is a file, not a folder"):
        log.check()
    for turn_id in (1, 2):  # broken while running (a full disk): said once, never raised
        log.append({"type": "user", "turn_id": turn_id, "text": "hello"})
    assert caplog.text.count("cannot be written") == 1
    assert "goes on unrecorded, and --resume cannot continue it" in caplog.text  # nothing kept


_SHORT_WRITE = """
import json, resource, signal, sys
from pathlib import Path
from voicedesk.engine.session_log import SessionLog

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
path = Path(sys.argv[1])
log = SessionLog(path)
log.append({"type": "user", "turn_id": 1, "text": "first"})
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
# room for part of the next record only: the kernel writes that much and returns short
resource.setrlimit(resource.RLIMIT_FSIZE, (path.stat().st_size + 20, hard))
log.append({"type": "user", "turn_id": 2, "text": "second " * 20})
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # the disk has room again
log.append({"type": "user", "turn_id": 3, "text": "third"})
log.close()
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_record_written_short_is_not_glued_to_the_next(tmp_path: Path) -> None:
    """A write the disk cut short returned a count nobody checked: the log went on as if the
    record stood whole, and the next one, once there was room again, was glued to the torn
    line, both lost to the reader without a word."""
    path = tmp_path / "s.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", _SHORT_WRITE, str(path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "cannot be written" in run.stderr
    for line in path.read_bytes().split(b"\n")[:-1]:  # every whole line is one record
        json.loads(line)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_log_the_disk_filled_up_is_said_to_resume_up_to_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warning said "--resume will not continue it", and the person took the
    conversation for lost and started afresh: --resume does continue it, with every turn
    written before the disk filled (the torn line skipped). The warning says so now, and
    what to do about the disk."""
    from voicedesk.engine.resume import restore_state
    from voicedesk.engine.session_log import latest_log, sessions_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = sessions_dir() / "20261205-120000-1.jsonl"
    path.parent.mkdir(parents=True)
    run = subprocess.run(
        [sys.executable, "-c", _SHORT_WRITE, str(path)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert latest_log() == path
    snapshot, _ = restore_state(path)
    assert [t["messages"] for t in snapshot["turns"]] == [[{"role": "user", "content": "first"}]]
    said = " ".join(run.stderr.split())
    assert "will not continue" not in said, said
    assert "--resume continues it up to here" in said, said
    assert "Free some space on its disk" in said, said


_FAILED_SYNC = """
import sys
from pathlib import Path
from voicedesk.engine.session_log import SessionLog

log = SessionLog(Path(sys.argv[1]))
for turn_id in (1, 2, 3):
    log.append({"type": "user", "turn_id": turn_id, "text": "hello"})
    log.flush_notes()
log.close()
"""


def _strace_can_fail_a_call() -> bool:
    """strace's fault injection (a real syscall made to fail by the kernel's tracer), where
    strace is installed and the machine lets a process trace its child."""
    import shutil

    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(
        ["strace", "-qq", "-o", os.devnull, "-e", "trace=fsync", "-e",
         "inject=fsync:error=EIO", sys.executable, "-c",
         "import os\ntry:\n    os.fsync(1)\nexcept OSError as exc:\n    print(exc.errno)"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return probe.stdout.strip() == str(errno.EIO)


@pytest.mark.skipif(not _strace_can_fail_a_call(), reason="needs strace's fault injection")
def test_a_record_the_disk_failed_to_keep_is_said(tmp_path: Path) -> None:
    """A network home folder or a failing disk takes the write and reports the loss at the
    fsync (EIO; ENOSPC or EDQUOT past an NFS quota): the syncing thread swallowed every
    fsync error, so records were lost with nothing said and ``--resume`` later continued
    a conversation with holes in it. Here each fsync fails, as the kernel reports it."""
    path = tmp_path / "s.jsonl"
    run = subprocess.run(
        ["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=fsync", "-e",
         "inject=fsync:error=EIO", sys.executable, "-c", _FAILED_SYNC, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("cannot be saved to the disk") == 1, run.stderr
    assert "Input/output error" in run.stderr


_TWO_RECORDS = """
import sys
from pathlib import Path
from voicedesk.engine.session_log import SessionLog

log = SessionLog(Path(sys.argv[1]))
for turn_id in (1, 2):
    log.append({"type": "user", "turn_id": turn_id, "text": "hello"})
log.close()
"""


@pytest.mark.skipif(not _strace_can_fail_a_call(), reason="needs strace's fault injection")
def test_a_log_write_the_disk_failed_is_not_told_to_free_space(tmp_path: Path) -> None:
    """A failing disk (a USB drive pulled, a network folder gone) refused a record with
    EIO, and the warning said what fixes a full disk or a permission: "free some space on
    its disk, or give yourself write access to it", neither of which helps. What it says
    to fix follows the error now: the disk itself, here. (The kernel fails the second
    write, the second record's, as a failing disk does; no bytecode is written.)"""
    path = tmp_path / "s.jsonl"
    run = subprocess.run(
        ["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=write", "-e",
         "inject=write:error=EIO:when=2", sys.executable, "-B", "-c", _TWO_RECORDS, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    said = " ".join(run.stderr.split())
    assert "cannot be written (Input/output error)" in said, said
    assert "--resume continues it up to here" in said, said
    assert "free some space" not in said.lower() and "write access" not in said, said
    assert "Check that its disk is working" in said, said


def test_resume_passes_over_a_link_to_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link to a log that is gone crashed `--resume` with a traceback."""
    from voicedesk.engine.session_log import latest_log, sessions_dir

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    spoken = _spoken_log("remember this")
    (sessions_dir() / "20991231-000000-1.jsonl").symlink_to(tmp_path / "gone.jsonl")
    assert latest_log() == spoken.path


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_resume_names_a_last_log_it_cannot_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was passed over: an older conversation was continued, and written to."""
    from voicedesk.engine.session_log import latest_log
    from voicedesk.errors import UserError

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    _spoken_log("older")
    time.sleep(0.01)
    newest = _spoken_log("newest")
    newest.path.chmod(0)
    with pytest.raises(UserError, match="cannot be read"):
        latest_log()


class _Playback:
    def __init__(self) -> None:
        self.paused = False

    def is_playing(self) -> bool:
        return not self.paused

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False


def _session_over_an_answer() -> tuple[Any, _Playback]:
    """A session whose answer is playing through a speaker the echo canceller listens to."""
    from types import SimpleNamespace

    from voicedesk.config import Settings
    from voicedesk.engine.double_talk import DoubleTalkCue
    from voicedesk.engine.session import Session

    playback = _Playback()
    canceller = SimpleNamespace(converged=True, echo_only=False)
    audio = SimpleNamespace(playback=playback, capture_filter=canceller, echo_possible=True)
    detector = SimpleNamespace(in_speech=False, transcript_audio=lambda: np.zeros(0, np.int16))
    stt = SimpleNamespace(push_audio=lambda pcm: None)
    session = Session(
        Settings(), audio=audio, stt=stt, llm=None, tts=None, detector=detector, context=None
    )  # type: ignore[arg-type]
    session._speaking.playing = SimpleNamespace(utterance_id=1)
    session._speaking._double_talk = DoubleTalkCue.__new__(DoubleTalkCue)
    session._speaking._double_talk.open_ms = 0
    return session, playback


def test_double_talk_cue_pauses_the_answer_and_resumes_it_if_no_speech_follows() -> None:
    # AEC3 muffles the person, so the VAD on its output hears nothing; the cue (the person
    # behind the linear echo model) pauses the answer after min_speech_ms of its own.
    session, playback = _session_over_an_answer()
    for k in range(1, 13):
        session._speaking._double_talk.open_ms = 10 * k
        session._speaking.check(1.0 + k * 0.01)
    assert playback.paused and session._speaking.barge.paused
    # nothing the VAD could call speech follows: it was not a person after all
    session._speaking._double_talk.open_ms = 0
    session._speaking.check(1.5)
    assert playback.paused
    session._speaking.check(1.12 + DOUBLE_TALK_RESUME_S)
    assert not playback.paused and not session._speaking.barge.paused


def test_a_short_blip_does_not_count_toward_the_next_barge_in() -> None:
    session, playback = _session_over_an_answer()
    session.detector.in_speech, session._speaking._speech_start_s = True, 1.0
    for k in range(1, 7):  # 60 ms of speech, then the VAD stops
        session._speaking.check(1.0 + k * 0.01)
    session.detector.in_speech, session._speaking._speech_start_s = False, None
    session._on_speech_start(TurnSignal("speech_start", audio_s=5.0))  # later, new speech
    session.detector.in_speech = True
    session._speaking.check(5.01)
    assert not playback.paused  # 10 ms of new speech, not 60 ms + 4 s


@pytest.mark.parametrize(("gap_s", "pauses"), [(0.05, True), (0.1, False)])
def test_speech_resuming_after_a_gap_longer_than_a_word_gap_counts_afresh(
    gap_s: float, pauses: bool
) -> None:
    """Two 50 ms sounds over the answer, ``gap_s`` apart, both inside the turn's stop
    (128 ms): across a gap between words they are one stretch, gap included (150 ms ≥ the
    100 ms minimum); across a longer one, such as between two blips of residual echo, the
    count starts again (50 ms)."""
    from types import SimpleNamespace

    session, playback = _session_over_an_answer()

    def sound(start_s: float) -> None:
        session.detector.in_speech = True
        for k in range(1, 6):
            session._speaking.check(start_s + k * 0.01)
        session.detector.in_speech = False

    session._speaking._speech_start_s = 1.0
    sound(1.0)
    session._on_speech_stop(SimpleNamespace(audio_s=1.082, end_s=1.05))  # commit_ms pause
    resumed = 1.05 + gap_s
    session._on_speech_resume(SimpleNamespace(audio_s=resumed, start_s=resumed, reason="continue"))
    sound(resumed)
    assert playback.paused is pauses and session._speaking.barge.paused is pauses


def _session_on_a_sound_card() -> Any:
    """A session over the real playback queue of a simulated sound card: 20 ms input
    latency, 100 ms output latency, no echo path (the answer pauses after 60 ms of speech)."""
    from types import SimpleNamespace

    from voicedesk.audio.file_backend import FileDuplex
    from voicedesk.audio.io import AudioIO
    from voicedesk.config import Settings
    from voicedesk.engine.context import ContextManager
    from voicedesk.engine.session import Session

    settings = Settings()
    backend = FileDuplex(
        None,
        None,
        input_pcm=np.zeros(160, np.int16),
        realtime=False,
        input_latency_s=0.02,
        output_latency_s=0.1,
    )
    audio = AudioIO(backend)
    audio.echo_possible = False
    detector = SimpleNamespace(in_speech=False, transcript_audio=lambda: np.zeros(0, np.int16))
    stt = SimpleNamespace(push_audio=lambda pcm: None)
    context = ContextManager(settings, model=settings.llm.model)
    return Session(
        settings, audio=audio, stt=stt, llm=None, tts=None, detector=detector, context=context
    )  # type: ignore[arg-type]


def _hand_over_an_answer(session: Any, *, finished: bool) -> Any:
    """20 ms of answer handed to the device in blocks 100 and 101: its queue runs dry at
    1.02 s, and the speaker plays that last sample until 1.12 s. ``finished``: the reply
    is done too, so the turn ends there."""
    from types import SimpleNamespace

    turn = session._new_turn(0.5)
    session._turn, turn.ended = None, True
    reply = SimpleNamespace(
        utterance_id=7, done=finished, audio_complete=finished, text="Fine.", tool_messages=[]
    )
    session._speaking.playing, session._speaking.playing_turn = reply, turn
    playback = session.audio.playback
    playback.enqueue(7, np.full(480, 1000, np.int16))
    for index in (100, 101):
        _, marks = playback.pull(session.audio.backend.playback_block)
        for mark in marks:
            session._speaking.on_mark(mark, index)
    assert not playback.is_playing()  # all of it is with the device
    return turn


@pytest.mark.parametrize(("start_s", "pauses"), [(1.06, True), (1.15, False)])
def test_speech_over_the_last_words_the_speaker_still_plays_pauses_the_answer(
    start_s: float, pauses: bool
) -> None:
    # Speech reaching us at 1.06 s was said at 1.04 s, while the speaker still played the
    # answer; speech reaching us from 1.15 s was said after it had stopped.
    session = _session_on_a_sound_card()
    turn = _hand_over_an_answer(session, finished=False)
    assert turn.record.device_latency_s == pytest.approx(0.12)
    session.detector.in_speech, session._speaking._speech_start_s = True, start_s
    for k in range(1, 11):
        session._speaking.check(start_s + k * 0.01)
    assert session.audio.playback.paused is pauses
    assert ("interrupted_at" in turn.record.t) is pauses


@pytest.mark.parametrize(("heard", "cut_off"), [("Fine.", False), ("", True)])
async def test_an_answer_heard_whole_is_not_cut_off_by_speech_after_its_words(
    heard: str, cut_off: bool
) -> None:
    """Speech into the voice's trailing silence stops that silence; every word was heard,
    yet the turn was marked cut off (✂ shown, and the model told it was broken into)."""
    session = _session_on_a_sound_card()
    turn = _hand_over_an_answer(session, finished=False)
    reply = session._speaking.playing
    reply.done = reply.audio_complete = True
    reply.heard = lambda: heard

    async def cancel() -> None:
        return None

    reply.cancel = cancel
    await session._speaking.cut(1.05)
    assert session.records == [turn.record]
    assert turn.record.interrupted is cut_off
    assert ("interrupted_at" in turn.record.t) is cut_off
    if not cut_off:
        messages = session.context.turns[0].messages
        assert messages[-1] == {"role": "assistant", "content": "Fine."}


async def test_an_answer_refused_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A context window too small failed every turn with the reason alone: the fix (a
    larger model, or a smaller llm.max_tokens) was dropped."""
    from types import SimpleNamespace

    from voicedesk import events as ev
    from voicedesk.errors import UserError

    session = _session_on_a_sound_card()
    notices: list[str] = []
    session.bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)

    async def no_error_line(text: str = "") -> None:
        return None

    monkeypatch.setattr(session._speaking, "speak_error_line", no_error_line)
    turn = session._new_turn(0.5)
    session._turn, turn.ended = None, True
    refused = UserError("The window cannot hold it.", "lower llm.max_tokens")
    reply = SimpleNamespace(failed=refused, text="", tool_messages=[], utterance_id=3)
    await session._reply_failed(reply, turn)
    assert notices == [
        f"No answer for turn {turn.turn_id}: The window cannot hold it. → lower llm.max_tokens"
    ]
    assert turn.record.error == "The window cannot hold it."


def test_speech_begun_while_the_answers_end_was_still_heard_is_over_the_answer() -> None:
    # The answer ended for voicedesk at 1.02 s (its turn recorded), not for the person: a
    # "mm-hm" begun before they heard it end is speech over the answer (barge_in.min_words
    # then makes it a backchannel, not a turn to answer).
    session = _session_on_a_sound_card()
    answered = _hand_over_an_answer(session, finished=True)
    assert session._speaking.playing is None and session.records == [answered.record]
    assert answered.record.t["playback_end"] == 1.02
    session._on_speech_start(TurnSignal("speech_start", audio_s=1.1))
    assert session._turn is not None and session._turn.barge_in
    session._turn = None
    session._on_speech_start(TurnSignal("speech_start", audio_s=1.2))
    assert session._turn is not None and not session._turn.barge_in


async def test_reply_times_the_tool_wait_and_the_followup_round() -> None:
    """A tool turn's record shows where the time between the first token and speech went.
    Its clock is the test's: the model's rounds and the tool take set times on it, so the
    record's stages are those times exactly (wall-clock bounds on them failed under load)."""
    now = [0.0]

    class Llm:
        name = model = "fake"
        rounds = 0

        async def stream(self, request: ChatRequest) -> Any:
            self.rounds += 1
            await asyncio.sleep(0)
            now[0] += 0.02 if self.rounds == 1 else 0.05  # each round's time to first token
            if self.rounds == 1:
                yield ToolCalls(calls=[ToolCall(id="c1", name="look", arguments="{}")])
            else:
                yield TextDelta(text="Found it.")

    class Stream:
        sample_rate = 16_000

        def __init__(self) -> None:
            self.ended = asyncio.Event()

        async def send_text(self, text: str) -> None:
            pass

        async def end_text(self) -> None:
            self.ended.set()

        async def flush(self) -> None:
            pass

        async def audio(self) -> Any:
            yield np.full(1600, 1000, np.int16)
            await self.ended.wait()

        async def aclose(self) -> None:
            pass

    class Playback:
        def enqueue(self, utterance_id: int, pcm: Any) -> None:
            pass

        def stop(self, utterance_id: int | None = None) -> int:
            return 0

        def played_samples(self, utterance_id: int) -> int:
            return 0

    async def open_tts() -> Any:
        return Stream()

    async def run_tools(turn_id: int, calls: Any, message: Any) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        now[0] += 0.3  # the tool's time
        return [{"role": "tool", "tool_call_id": "c1", "content": "here"}]

    record = TurnRecord(turn_id=1)
    reply = Reply(
        turn_id=1,
        utterance_id=1,
        request=ChatRequest(messages=[]),
        llm=Llm(),  # type: ignore[arg-type]
        open_tts=open_tts,
        playback=Playback(),
        clock=lambda: now[0],
        record=record,
        bus=ev.EventBus(),
        run_tools=run_tools,
    )
    reply.start()
    reply.confirm()  # the turn is over: its tool calls run
    await asyncio.wait_for(reply.generation_done.wait(), 5)
    t = record.t
    order = ["llm_request", "llm_first_token", "tool_start", "tool_done", "followup_request"]
    order += ["followup_first_token", "tts_request"]
    assert [t[s] for s in order] == sorted(t[s] for s in order)
    d = record.to_json()
    assert d["tool_wait"] == pytest.approx(0.3) and d["followup_ttft"] == pytest.approx(0.05)
    assert d["ttft"] == pytest.approx(0.02)  # still the first round's


def _spoken(deltas: list[str]) -> str:
    from voicedesk.engine.speakable import SpeakableText

    speakable = SpeakableText()
    return "".join(speakable.feed(d) for d in deltas) + speakable.flush()


@pytest.mark.parametrize(
    ("deltas", "said"),
    [
        (["**Budget** is `ready`."], "Budget is ready."),
        (["## Summary\n", "> quoted\n", "Done."], " Summary\n quoted\nDone."),
        (["_really_ sure"], "really sure"),
        (["I opened q3", "_", "budget.md"], "I opened q3_budget.md"),
        (["snake", "_case and ", "__init__"], "snake_case and init"),
        (["C#", " and x > 3"], "C# and x > 3"),
        (["ends with a mark_"], "ends with a mark"),
    ],
)
def test_markdown_marks_are_dropped_but_not_the_words_they_belong_to(
    deltas: list[str], said: str
) -> None:
    assert _spoken(deltas) == said


def test_a_delta_ending_in_a_mark_and_a_line_end_keeps_the_line_end() -> None:
    # the underscores were held together with the line end, which was then lost, and the
    # held "__" met the next line's word and was kept as snake_case
    assert _spoken(["This is __bold__\n", "Next"]) == "This is bold\nNext"
    assert _spoken(["_x_\n"]) == "x\n"


def test_words_over_the_answer_that_are_a_stretch_of_it_are_its_echo() -> None:
    """The transcribed echo of the answer is no interruption; the person's own words are,
    a one-word command too when the answer happens to hold that word."""
    from types import SimpleNamespace

    session, _ = _session_over_an_answer()
    speaking = session._speaking
    text = "No, put the egg in boiling water. Wait seven minutes."
    speaking.playing = SimpleNamespace(
        utterance_id=1, text=text, heard=lambda: text, spoken=text, heard_spoken=lambda: text
    )
    assert speaking.echoes_the_answer("Put the egg in boiling water")
    assert speaking.echoes_the_answer("water, wait seven")
    assert not speaking.echoes_the_answer("Put the egg in cold water")
    assert not speaking.echoes_the_answer("No.")
    assert not speaking.echoes_the_answer("Wait!")
    assert not speaking.echoes_the_answer("")
    speaking.playing = SimpleNamespace(
        utterance_id=1,
        text="Okay.",
        heard=lambda: "Okay.",
        spoken="Okay.",
        heard_spoken=lambda: "Okay.",
    )
    assert speaking.echoes_the_answer("okay")


def test_the_echo_of_an_answer_with_a_link_is_what_the_voice_said_of_it() -> None:
    """The voice says a link by its label; its echo was looked for in the words shown, the
    address's among them, and taken for the person breaking in."""
    from types import SimpleNamespace

    from voicedesk.engine.spoken import SpokenText

    session, _ = _session_over_an_answer()
    speaking = session._speaking
    text = "Read [the report](https://example.com/q3/report.pdf) first, then call Ann."
    form = SpokenText()
    said = form.feed(text) + form.flush()
    speaking.playing = SimpleNamespace(
        utterance_id=1, text=text, heard=lambda: text, spoken=said, heard_spoken=lambda: said
    )
    assert speaking.echoes_the_answer("the report first, then call")
    assert not speaking.echoes_the_answer("the report is late")


def test_heard_prefix_keeps_what_was_heard_of_text_written_without_spaces() -> None:
    """Japanese and Chinese put no spaces between words: a whole word was taken to end only
    at a space, so an answer in them cut anywhere but at its end was heard as nothing, and
    the history kept none of what the person had heard. A character played is heard there."""
    ja = "東京の天気は晴れです。明日は雨が降るでしょう。"

    def heard(text: str, letters: int) -> str:
        return heard_prefix(text, played_samples=1, sample_rate=24000, letters_at_played=letters)

    assert heard(ja, 12) == "東京の天気は晴れです。明"
    assert heard(ja, 11) == "東京の天気は晴れです。"
    # a Latin word among them is still heard whole or not at all
    assert heard("東京タワーは Tokyo Tower とも", 8) == "東京タワーは"
    assert heard("会議はZoomで", 5) == "会議は"


def _echo_over_the_answer(session: Any, person_blocks: int, blocks: int = 30) -> None:
    """The answer "Tomorrow will start cloudy." has begun playing ("Tomorrow" heard). The
    VAD hears ``blocks`` × 10 ms of speech over the answer from 1.0 s (its edge 64 ms before),
    of which the first ``person_blocks`` blocks the canceller does not show to be echo
    alone (a passed-through burst whose coherence with the answer dipped) and the rest
    it does."""
    session._speaking.playing = SimpleNamespace(
        utterance_id=1,
        spoken="Tomorrow will start cloudy.",
        heard_spoken=lambda: "Tomorrow",
        in_tool_round=False,
    )
    session._on_speech_start(TurnSignal("speech_start", audio_s=1.0, start_s=0.936))
    session.detector.in_speech = True
    for k in range(1, blocks + 1):
        session.audio.capture_filter.echo_only = k > person_blocks
        session._speaking.check(1.0 + k * 0.01)
    session.detector.in_speech = False


def test_speech_over_the_answer_that_was_its_echo_is_no_turn() -> None:
    """A burst of echo a fresh canceller let through, transcribed as a fragment ("More.")
    that no stretch of the answer matches: barge-in did not pause for it, and its words
    must not make a turn either (they cut the answer and were answered)."""
    session, playback = _session_over_an_answer()
    _echo_over_the_answer(session, person_blocks=0)
    assert not playback.paused
    turn = session._turn
    assert turn is not None and turn.barge_in
    assert _answered(session, turn, "More.") == []  # no turn, nothing in the history
    assert turn.backchannel
    # the person's own words over the answer are a turn, as before
    session, _ = _session_over_an_answer()
    _echo_over_the_answer(session, person_blocks=30)
    turn = session._turn
    assert _answered(session, turn, "More.") == [turn]


def test_an_answer_paused_on_a_few_blocks_is_cut_by_the_words_said() -> None:
    """Four blocks not shown to be echo paused the answer, the rest of the stretch was
    marked echo: until the echo path is learnt, most of a person's short "Stop." over a
    first answer is (the coherence with the answer falls 100-130 ms after they begin and
    rises again in the VAD's hangover). A stretch with under 100 ms of unmarked blocks
    was taken for the answer's echo and the answer resumed over the person. Any unmarked
    block makes it theirs: the words cut it."""
    session, playback = _session_over_an_answer()
    speaking = session._speaking
    _echo_over_the_answer(session, person_blocks=4, blocks=12)
    assert playback.paused and speaking.barge.paused
    asyncio.run(speaking.decide("Stop.", 1.0))
    assert playback.paused  # not resumed under the person (the turn cuts it)


def _answered(session: Any, turn: Any, transcript: str) -> list[Any]:
    """The turns the session starts an answer for once ``turn``'s last segment, heard as
    ``transcript``, is transcribed after the turn ended."""

    async def commit() -> str:
        return transcript

    started: list[Any] = []
    session.stt = SimpleNamespace(commit=commit)
    session._start_reply = lambda t, **_: started.append(t)
    turn.pending_commits, turn.ended = 1, True
    asyncio.run(session._commit(turn))
    return started
