"""Typed settings: TOML file, then environment, then command-line flags.

Precedence (lowest to highest): defaults → ``config.toml`` in the platformdirs user config
dir (or ``--config FILE`` / ``VOICEDESK_CONFIG``) → environment (``OPENAI_API_KEY``,
``ELEVENLABS_API_KEY``, ``VOICEDESK_<SECTION>__<KEY>``) → flags (passed as ``overrides``).

A bad value raises :class:`ConfigError` naming the file, the key, what was found and what is
allowed, so the CLI can print one readable message instead of a traceback.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from voicedesk.errors import ConfigError

APP_NAME = "voicedesk"
ENV_PREFIX = "VOICEDESK_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class AudioSettings(_Section):
    input_device: str | None = Field(None, description="Microphone: name substring or index")
    output_device: str | None = Field(None, description="Speaker: name substring or index")
    block_ms: int = Field(10, ge=5, le=40, description="Audio block length (ms)")
    zero_input_timeout_s: float = Field(
        1.5, gt=0, le=30, description="Report a microphone that delivers only zeros after this"
    )


class ModelSettings(_Section):
    silero_vad: Path | None = Field(None, description="Silero VAD ONNX file (default: bundled)")
    smart_turn: Path | None = Field(None, description="Smart Turn v3 ONNX file (default: bundled)")


class TurnSettings(_Section):
    mode: Literal["hands-free", "push-to-talk"] = "hands-free"
    vad_threshold: float = Field(0.5, gt=0, lt=1, description="Speech probability to start")
    vad_stop_threshold: float = Field(0.35, gt=0, lt=1, description="Probability below = silence")
    start_ms: int = Field(64, ge=32, le=1000, description="Speech needed to declare a start")
    stop_ms: int = Field(128, ge=32, le=2000, description="Silence needed to declare a stop")
    commit_ms: int = Field(
        32,
        ge=32,
        le=2000,
        description="Silence after which the speech so far is transcribed and an answer "
        "prepared, unheard until the turn ends (at most stop_ms)",
    )
    preroll_ms: int = Field(320, ge=0, le=2000, description="Audio kept before speech start")
    eou_threshold: float = Field(0.5, gt=0, lt=1, description="P(turn complete) to end the turn")
    max_wait_ms: int = Field(2000, ge=200, le=10000, description="Longest silence wait")
    use_transcript_cues: bool = True
    local_cues: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Also read each pause with the local Whisper model, whose doubts about "
        "the last words tell a cut-off phrase from a finished one (auto: when voicedesk[local] "
        "and a model are installed)",
    )


class STTSettings(_Section):
    provider: Literal["openai", "local", "none"] = "openai"
    model: str = "gpt-4o-mini-transcribe"
    language: str = "en"
    base_url: str | None = None
    local_model: Path | None = Field(None, description="faster-whisper model dir (local STT)")


class LLMSettings(_Section):
    model: str = "gpt-4o-mini"
    base_url: str | None = Field(None, description="Any OpenAI-compatible base URL")
    api_key_env: str = Field("OPENAI_API_KEY", description="Env var holding this server's key")
    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(400, ge=16, le=8192)
    request_timeout_s: float = Field(20.0, gt=0, le=300)
    system_prompt: str | None = None


class TTSSettings(_Section):
    provider: Literal["elevenlabs", "openai", "local"] = "elevenlabs"
    voice_id: str = "21m00Tcm4TlvDq8ikWAM"
    model: str = "eleven_flash_v2_5"
    elevenlabs_base_url: str | None = None
    openai_model: str = "gpt-4o-mini-tts"
    openai_voice: str = "alloy"
    local_voice: Path | None = Field(None, description="Piper .onnx voice (local TTS)")
    fallback: Literal["none", "openai", "elevenlabs", "local"] = "none"


class BargeInSettings(_Section):
    enabled: bool = True
    # 100 ms since the echo-only veto and the residual double-talk cue: 16 simulated-room
    # runs (bench echo, −6 dB) gave no false barge-in at 100 ms either, 20 ms sooner.
    min_speech_ms: int = Field(
        100, ge=0, le=2000, description="Speech over the answer before it pauses (speakers)"
    )
    min_speech_ms_no_echo: int = Field(
        60,
        ge=0,
        le=2000,
        description="The same when no echo can reach the microphone (headset, WAV files)",
    )
    min_words: int = Field(0, ge=0, le=10)
    resume_after_noise: bool = True


class EchoSettings(_Section):
    mode: Literal["auto", "on", "off"] = "auto"
    noise_suppression: bool = True


class ContextSettings(_Section):
    budget_tokens: int = Field(6000, ge=500, le=1_000_000)
    window_turns: int = Field(8, ge=1, le=200)


class McpServer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    url: str | None = None
    headers: dict[str, str] = {}
    enabled: bool = True
    timeout_s: float = Field(30.0, gt=0)


class ToolSettings(_Section):
    workspace: Path | None = Field(None, description="Folder the documents server works in")
    docs_server: bool = True
    docs_server_args: list[str] = Field(
        default_factory=list, description='Extra docs-server flags, e.g. ["--slow", "search=5"]'
    )
    tool_patience_s: float = Field(
        2.0, gt=0, le=60, description="A tool slower than this runs in the background"
    )
    mcpServers: dict[str, McpServer] = {}  # the key name people already use in MCP client configs


class UISettings(_Section):
    theme: str = "textual-dark"
    talk_key_mode: Literal["auto", "toggle", "hold"] = Field(
        "auto",
        description="Talk key: hold where the terminal reports key release (auto), or tap/tap",
    )
    global_hotkey: str = Field(
        "", description="System-wide push-to-talk, e.g. <ctrl>+<alt>+space (voicedesk[hotkey])"
    )


class Keys(_Section):
    openai_api_key: SecretStr | None = None
    elevenlabs_api_key: SecretStr | None = None


class Settings(_Section):
    audio: AudioSettings = AudioSettings()
    models: ModelSettings = ModelSettings()
    turn: TurnSettings = TurnSettings()
    stt: STTSettings = STTSettings()
    llm: LLMSettings = LLMSettings()
    tts: TTSSettings = TTSSettings()
    barge_in: BargeInSettings = BargeInSettings()
    echo: EchoSettings = EchoSettings()
    context: ContextSettings = ContextSettings()
    tools: ToolSettings = ToolSettings()
    ui: UISettings = UISettings()
    keys: Keys = Keys()
    source: Path | None = Field(None, exclude=True, description="File these settings came from")


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def default_config_path() -> Path:
    env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    return Path(env).expanduser() if env else config_dir() / "config.toml"


def _set_path(tree: dict[str, Any], dotted: list[str], value: Any) -> None:
    node = tree
    for part in dotted[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"Cannot set {'.'.join(dotted)}: {part} is not a table.")
    node[dotted[-1]] = value


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    if environ.get("OPENAI_API_KEY"):
        _set_path(tree, ["keys", "openai_api_key"], environ["OPENAI_API_KEY"])
    if environ.get("ELEVENLABS_API_KEY"):
        _set_path(tree, ["keys", "elevenlabs_api_key"], environ["ELEVENLABS_API_KEY"])
    if environ.get("ELEVENLABS_BASE_URL"):  # as printed by `voicedesk sim`
        _set_path(tree, ["tts", "elevenlabs_base_url"], environ["ELEVENLABS_BASE_URL"])
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        _set_path(tree, parts, value)
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(err: dict[str, Any], origin: str) -> str:
    key = ".".join(str(p) for p in err["loc"])
    found = err.get("input")
    if err["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{key}' (check the spelling; `voicedesk config show` lists them)"
    if err["type"] == "missing":
        return f"{origin}: '{key}' is required"
    return f"{origin}: '{key}' = {found!r} is not allowed: {err['msg']}"


def load_settings(
    path: Path | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Load and validate settings; raise ConfigError with every problem listed."""
    environ = dict(os.environ if environ is None else environ)
    path = path or default_config_path()
    file_tree: dict[str, Any] = {}
    if path.exists():
        try:
            file_tree = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{path} is not valid TOML: {exc}",
                "fix the line named above or run `voicedesk config init --force`",
            ) from None
        except OSError as exc:
            raise ConfigError(f"Cannot read {path}: {exc.strerror}") from None
    layers = [(str(path), file_tree), ("environment", _env_layer(environ))]
    if overrides:
        layers.append(("command line", overrides))
    merged: dict[str, Any] = {}
    for _, tree in layers:
        merged = _merge(merged, tree)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            origin = next(
                (name for name, tree in reversed(layers) if _has_path(tree, err["loc"])), str(path)
            )
            problems.append(_describe(err, origin))
        raise ConfigError(
            "Invalid configuration:\n  " + "\n  ".join(problems),
            f"edit {path} or unset the environment variable; `voicedesk config show` prints the result",
        ) from None
    settings.source = path if path.exists() else None
    return settings


def _has_path(tree: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = tree
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with secrets shown as present/absent only."""
    data = settings.model_dump(mode="json", exclude={"source"})
    for name, value in list(data["keys"].items()):
        secret = getattr(settings.keys, name)
        data["keys"][name] = (
            f"set (…{secret.get_secret_value()[-4:]})"
            if value and len(secret.get_secret_value()) > 12
            else ("set" if value else "not set")
        )
    return data
