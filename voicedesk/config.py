"""Typed settings: TOML file, then environment, then command-line flags.

Precedence (lowest to highest): defaults → ``config.toml`` in the platformdirs user config
dir (or ``--config FILE`` / ``VOICEDESK_CONFIG``) → environment (``OPENAI_API_KEY``,
``ELEVENLABS_API_KEY``, ``VOICEDESK_<SECTION>__<KEY>``) → flags (passed as ``overrides``).

A bad value raises :class:`ConfigError` naming the file, the key, what was found and what is
allowed, so the CLI can print one readable message instead of a traceback.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from voicedesk.config_secrets import (
    clean_key,
    is_secret_path,
    key_problem,
    mask_text,
    mask_tree,
    masks_in,
    remember_secrets,
    secret_values,
)
from voicedesk.config_toml import toml_error_help
from voicedesk.errors import ConfigError

APP_NAME = "voicedesk"
ENV_PREFIX = "VOICEDESK_"


def _blank_is_unset(value: Any) -> Any:
    """A path of blanks is no path: ``Path("")`` is the current folder, which a
    ``workspace = ""`` made the documents tools' workspace wherever voicedesk started."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _home_expanded(value: Path | None) -> Path | None:
    """``~/voices/x.onnx`` means the home folder wherever the path is used: expanded here,
    once, since a user of the setting that forgot to (local TTS) failed with "not found"
    after `doctor`, which expands it, had called the same path fine."""
    return value.expanduser() if value is not None else None


OptionalPath = Annotated[
    Path | None, BeforeValidator(_blank_is_unset), AfterValidator(_home_expanded)
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _base_url(value: Any) -> Any:
    """A server's base URL: blanks are unset (the provider's own server), and anything else
    must be a web address. ``base_url = ""`` was taken for a server at "": `doctor` asked for
    the OpenAI key, and the conversation then stopped with "Cannot reach the language-model
    server at : Connection error."; one without its scheme (``localhost:11434/v1``) failed
    the same way, as a connection error, with nothing said of the missing http://."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ValueError(
            "it is not a web address; a base URL starts with http:// or https://, like "
            "http://localhost:11434/v1 (unset: the provider's own server)"
        )
    return value.strip()


BaseUrl = Annotated[str | None, BeforeValidator(_base_url)]


def _a_name(value: Any) -> Any:
    """A model, voice or theme name: blanks around a pasted one are dropped, and none at all
    is refused. An empty one (``VOICEDESK_TTS__VOICE_ID=$VOICE`` with $VOICE unset) was sent
    as it was, and the service's refusal ("ElevenLabs refused the speech connection (HTTP
    404)") named neither the setting nor the cause."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        raise ValueError(
            "it must not be empty: leave the key out (or unset the variable) for the default"
        )
    return value.strip()


Name = Annotated[str, BeforeValidator(_a_name)]


def _device_spec(value: Any) -> Any:
    """A device index written as a TOML integer (``input_device = 3``) is the same as "3":
    `voicedesk devices` lists indices, so people write them as numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


DeviceSpec = Annotated[str | None, BeforeValidator(_device_spec)]


class AudioSettings(_Section):
    input_device: DeviceSpec = Field(None, description="Microphone: name substring or index")
    output_device: DeviceSpec = Field(None, description="Speaker: name substring or index")
    block_ms: int = Field(10, ge=5, le=40, description="Audio block length (ms)")
    zero_input_timeout_s: float = Field(
        1.5, gt=0, le=30, description="Report a microphone that delivers only zeros after this"
    )


class ModelSettings(_Section):
    silero_vad: OptionalPath = Field(None, description="Silero VAD ONNX file (default: bundled)")
    smart_turn: OptionalPath = Field(None, description="Smart Turn v3 ONNX file (default: bundled)")
    float_softmax: bool = Field(
        True,
        description="Run Smart Turn's attention softmax in float (~10% less CPU per "
        "end-of-turn call; false: the int8 graph exactly as shipped)",
    )


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

    @field_validator("vad_stop_threshold")
    @classmethod
    def _stop_below_start(cls, value: float, info: ValidationInfo) -> float:
        """Above the start threshold, speech would be both started and stopped by the same
        probabilities: the turn would flicker on and off."""
        start = info.data.get("vad_threshold")
        if start is not None and value > start:
            raise ValueError(f"it must be at most turn.vad_threshold ({start})")
        return value

    eou_threshold: float = Field(0.5, gt=0, lt=1, description="P(turn complete) to end the turn")
    max_wait_ms: int = Field(
        2000,
        ge=200,
        le=10000,
        description="Longest silence wait (words that make a whole sentence: 0.7 of it)",
    )
    use_transcript_cues: bool = True
    local_cues: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Also read each pause with the local Whisper model, whose doubts about "
        "the last words tell a cut-off phrase from a finished one (auto: when voicedesk[local] "
        "and a model are installed)",
    )


class STTSettings(_Section):
    provider: Literal["openai", "local", "none"] = "openai"
    model: Name = "gpt-4o-mini-transcribe"
    language: str = "en"

    @field_validator("language")
    @classmethod
    def _iso_639_1(cls, value: str) -> str:
        """OpenAI's realtime service takes only a two-letter code and refuses the whole
        session setting otherwise ("english", "en-US"); named here, before any connection."""
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise ValueError("it must be a two-letter ISO-639-1 code such as en, de or fr")
        return value.lower()

    base_url: BaseUrl = None
    local_model: OptionalPath = Field(None, description="faster-whisper model dir (local STT)")
    # A transcript this late (plus 50 ms per second of speech) is asked for again over a
    # fresh connection, and the first of the two to arrive is used: a lost one then costs
    # about this much silence instead of the 8 s after which it counts as failed. Deltas
    # of the transcript arriving mean the service is at work, and put the resend off.
    resend_after_s: float = Field(1.0, ge=0.2, le=5.0)


MIN_CONTEXT_WINDOW = 1024


class LLMSettings(_Section):
    model: Name = "gpt-4o-mini"
    base_url: BaseUrl = Field(None, description="Any OpenAI-compatible base URL")
    api_key_env: str = Field("OPENAI_API_KEY", description="Env var holding this server's key")

    @field_validator("api_key_env")
    @classmethod
    def _variable_name(cls, value: str) -> str:
        """A name no shell can set ("", "MY KEY") read as "key not set" with no reason."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "it must be an environment variable's name (letters, digits and _, like "
                "GROQ_API_KEY)"
            )
        return value

    temperature: float = Field(0.7, ge=0, le=2)
    max_tokens: int = Field(400, ge=16, le=8192)
    # OpenAI's reasoning models think at "medium" unless told: seconds before each answer.
    # "lowest" asks one that shows it reasons (it refuses max_tokens, or its usage counts
    # unseen thinking) for the least it takes; a level is sent to every model, the
    # nearest it takes if refused; "server" sends none (providers/chat_params.py).
    reasoning_effort: Literal[
        "lowest", "server", "none", "minimal", "low", "medium", "high", "xhigh"
    ] = Field(
        "lowest",
        description="How hard a reasoning model thinks before it answers: lowest (the "
        "least it takes, asked of a model known to reason), server (its own default), or "
        "a level sent to every model (none, minimal, low, medium, high, xhigh)",
    )
    # The first streamed chunk within this many seconds, then no gap between chunks longer
    # than request_timeout_s (a stall mid-answer). 15 s, not the 1–3 s a cloud model takes:
    # a local server (Ollama, LM Studio) loads the model on the first request after it went
    # idle, and a reasoning model thinks before its first token; both answer, slowly, and a
    # false failure is worse than the wait. A server that hangs is still named in 15 s, not
    # the ~40 s of the HTTP client's read timeout and retry.
    first_token_timeout_s: float = Field(15.0, gt=0, le=120)
    request_timeout_s: float = Field(10.0, gt=0, le=300)
    system_prompt: str | None = None
    # A request takes up to context.budget_tokens of prompt plus max_tokens of reply; a
    # model with a smaller window refuses the long ones, first after many turns. Known, it
    # is checked when the settings load; unknown, it is learnt from such a refusal (the
    # conversation is then sent shorter). Under 1024 no real turn fits beside the prompt.
    context_window: int | None = Field(
        None,
        le=10_000_000,
        description="The model's context window in tokens, prompt and reply (unset: learnt "
        "from the server when it refuses a request as too long)",
    )

    @field_validator("context_window")
    @classmethod
    def _window_that_holds_a_turn(cls, value: int | None) -> int | None:
        """Said in the server's terms: "greater than or equal to 1024" did not say why, nor
        where the window is set."""
        if value is not None and value < MIN_CONTEXT_WINDOW:
            raise ValueError(
                f"a window under {MIN_CONTEXT_WINDOW} tokens holds no turn beside the system "
                "prompt and a reply; give the server a larger one (llama.cpp --ctx-size 4096, "
                "Ollama num_ctx 4096) and set that here"
            )
        return value


class TTSSettings(_Section):
    provider: Literal["elevenlabs", "openai", "local"] = "elevenlabs"
    voice_id: Name = "21m00Tcm4TlvDq8ikWAM"
    model: Name = "eleven_flash_v2_5"
    elevenlabs_base_url: BaseUrl = None
    openai_model: Name = "gpt-4o-mini-tts"
    openai_voice: Name = "alloy"
    local_voice: OptionalPath = Field(None, description="Piper .onnx voice (local TTS)")
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
    min_words: int = Field(
        0,
        ge=0,
        le=10,
        description="Words speech over the answer needs to stop it (0 = any word); fewer, "
        "e.g. a backchannel like 'okay', is no turn: no reply, the answer goes on ('mm-hm', "
        "'uh-huh' alone never stop it)",
    )
    resume_after_noise: bool = Field(
        True, description="Resume the answer after a noise or too few words (else stop it)"
    )


class EchoSettings(_Section):
    mode: Literal["auto", "on", "off"] = "auto"
    noise_suppression: bool = True


MIN_BUDGET_TOKENS = 500


class ContextSettings(_Section):
    budget_tokens: int = Field(6000, ge=MIN_BUDGET_TOKENS, le=1_000_000)
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

    @model_validator(mode="after")
    def _command_or_url(self) -> McpServer:
        """One of the two says how to reach it; without either it was skipped at start, with
        a warning, after the config had been called valid."""
        has_command, has_url = bool((self.command or "").strip()), bool((self.url or "").strip())
        if not has_command and not has_url:
            raise ValueError(
                "a tool server needs command (a program to start, with args) or url (a "
                "server to connect to)"
            )
        if has_command and has_url:  # the url was ignored without a word
            raise ValueError(
                "a tool server has either command (a program to start) or url (a server to "
                "connect to), not both: keep the one you mean"
            )
        return self

    @field_validator("url")
    @classmethod
    def _web_address(cls, url: str | None) -> str | None:
        """A url that can never work was retried every 30 s for the whole conversation."""
        if url is None or not url.strip():
            return url
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "it is not a web address; a tool server's url is like "
                "http://127.0.0.1:8000/mcp (streamable HTTP)"
            )
        return url


# The documents server's folder when tools.workspace is unset, as the template writes it:
# the person's documents folder, which is ~/Documents unless the desktop names another
# (documents_dir).
DEFAULT_WORKSPACE = "~/Documents"


def documents_dir() -> Path:
    """The person's documents folder, as their desktop names it: on Linux the
    XDG_DOCUMENTS_DIR of ~/.config/user-dirs.dirs (a German desktop's ~/Dokumente), which
    ~/Documents alone missed (doctor then said it did not exist); else ~/Documents.

    Not the home folder itself: xdg-user-dirs-update points a folder it finds missing at
    $HOME, and the documents tools, which write, rename and delete, then worked on all of
    it (the downloads, the desktop, every project) where ~/Documents was meant."""
    from platformdirs import user_documents_path

    home = Path.home()
    named = user_documents_path()
    with contextlib.suppress(OSError):
        if named.resolve() == home.resolve():
            return home / "Documents"
    return named


class ToolSettings(_Section):
    workspace: OptionalPath = Field(
        None,
        description="Folder the documents server works in (unset: your documents folder, "
        f"usually {DEFAULT_WORKSPACE})",
    )
    docs_server: bool = True
    docs_server_args: list[str] = Field(
        default_factory=list, description='Extra docs-server flags, e.g. ["--slow", "search=5"]'
    )
    tool_patience_s: float = Field(
        2.0, gt=0, le=60, description="A tool slower than this runs in the background"
    )
    mcpServers: dict[str, McpServer] = {}  # the key name people already use in MCP client configs

    @property
    def workspace_dir(self) -> Path:
        """The folder the documents server works in: ``workspace``, else the documents
        folder."""
        return Path(self.workspace).expanduser() if self.workspace else documents_dir()


class UISettings(_Section):
    theme: Name = "textual-dark"
    talk_key_mode: Literal["auto", "toggle", "hold"] = Field(
        "auto",
        description="Talk key: hold where the terminal reports key release (auto), or tap/tap",
    )
    global_hotkey: str = Field(
        "", description="System-wide push-to-talk, e.g. <ctrl>+<alt>+space (voicedesk[hotkey])"
    )


def _key(value: Any) -> Any:
    """A key of blanks (or of quotes around nothing) is no key: it read as "set" in `config
    show` and `doctor`, and every request then failed with a rejected key."""
    if isinstance(value, str):
        key = clean_key(value)
        problem = key_problem(key)
        if problem is not None:  # never sent: a header cannot carry it (a traceback)
            raise ValueError(f"the key {problem}")
        return key or None
    return value


Key = Annotated[SecretStr | None, BeforeValidator(_key)]


class Keys(_Section):
    openai_api_key: Key = None
    elevenlabs_api_key: Key = None


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


def chosen_config_path(flag: str | os.PathLike[str] | None = None) -> tuple[Path, str | None]:
    """The config file to read, and what named it (``--config`` or ``VOICEDESK_CONFIG``).

    A file the person named must exist (a typo would otherwise silently mean "defaults");
    the default location may well be empty.
    """
    if flag is not None and not str(flag).strip():  # `--config ""` (an unset variable)
        raise ConfigError(
            "--config was given an empty path.",
            "pass the config file's path, or leave --config out for the default",
        )
    if flag:
        return Path(flag).expanduser(), "--config"
    env = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if env:
        return Path(env).expanduser(), f"{ENV_PREFIX}CONFIG"
    return config_dir() / "config.toml", None


def cli_settings(
    flag: str | os.PathLike[str] | None, *, overrides: dict[str, Any] | None = None
) -> Settings:
    """Settings for a command: ``--config FILE`` / ``VOICEDESK_CONFIG`` must name a file."""
    path, named_by = chosen_config_path(flag)
    return load_settings(path, overrides=overrides, named_by=named_by)


# A folder where the config file goes. "Pass the path of a TOML file" told a person who
# had passed nothing (the default location) to do what they had not done.
FOLDER_IN_PLACE_HINT = (
    "move or rename that folder, then `voicedesk config init` writes the config file there; "
    "or name another file with --config FILE"
)


def read_config_text(path: Path) -> str:
    """The file as text: UTF-8, with or without the byte-order mark Windows editors add."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(
            f"{path} is a directory, not a config file.", FOLDER_IN_PLACE_HINT
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}") from None
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if utf16 and not data.startswith(codecs.BOM_UTF32_LE):
        # Notepad's "Unicode", and what Windows PowerShell 5's `>` writes: "byte 0xff on
        # line 1" named neither the encoding nor how to change it
        raise ConfigError(
            f"{path} is saved as UTF-16 text; TOML files must be UTF-8.",
            "save it again choosing the UTF-8 encoding (Notepad: File > Save as > Encoding: "
            "UTF-8; PowerShell: Set-Content -Encoding utf8)",
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}).",
            "TOML files must be UTF-8: save it again choosing the UTF-8 encoding",
        ) from None


# ---------------------------------------------------------------------------- environment
# Variables that other tools already use, and the settings they fill.
_PLAIN_ENV = {
    "OPENAI_API_KEY": ("keys", "openai_api_key"),
    "ELEVENLABS_API_KEY": ("keys", "elevenlabs_api_key"),
    "ELEVENLABS_BASE_URL": ("tts", "elevenlabs_base_url"),  # as printed by `voicedesk sim`
}


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, type(int | None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _fields_of(annotation: Any) -> dict[str, Any] | None:
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return dict(annotation.model_fields)
    return None


def _env_target(raw_parts: list[str], file_tree: dict[str, Any]) -> tuple[list[str], Any]:
    """The setting a ``VOICEDESK_A__B__C`` variable names, and its type.

    Setting names match whatever their case (``MCPSERVERS`` is ``mcpServers``); names a
    person chose (an MCP server, an env or header name) keep the case they have in the file,
    or the variable's own when the file does not have them.
    """
    annotation: Any = Settings
    node: Any = file_tree
    parts: list[str] = []
    for raw in raw_parts:
        fields = _fields_of(annotation)
        inner = _unwrap_optional(annotation)
        if fields is not None:
            name = next((f for f in fields if f.lower() == raw.lower()), raw.lower())
            annotation = fields[name].annotation if name in fields else None
        elif get_origin(inner) is dict:
            known = node if isinstance(node, dict) else {}
            name = next((k for k in known if str(k).lower() == raw.lower()), raw)
            annotation = get_args(inner)[1]
        else:
            name, annotation = raw.lower(), None
        parts.append(name)
        node = node.get(name) if isinstance(node, dict) else None
    return parts, annotation


def _json_shape(annotation: Any) -> str | None:
    """ "list" or "table" for settings only JSON can express in a variable, else None."""
    inner = _unwrap_optional(annotation)
    if get_origin(inner) is list:
        return "list"
    if get_origin(inner) is dict or _fields_of(inner) is not None:
        return "table"
    return None


def _env_layer(
    environ: dict[str, str], file_tree: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The environment's settings, and which variable set each one (for error messages)."""
    tree: dict[str, Any] = {}
    names: dict[tuple[str, ...], str] = {}
    for var, dotted in _PLAIN_ENV.items():
        if environ.get(var):
            set_path(tree, list(dotted), environ[var], var)
            names[dotted] = var
    for var, value in sorted(environ.items()):
        if var.startswith(ENV_PREFIX) and "__" not in var:
            _check_one_underscore(var)
        if not var.startswith(ENV_PREFIX) or "__" not in var:
            continue
        raw_parts = var[len(ENV_PREFIX) :].split("__")
        parts, parsed = setting_from_text(raw_parts, value, var, file_tree)
        set_path(tree, parts, parsed, var)
        names[tuple(parts)] = var
    return tree, names


def setting_from_text(
    raw_parts: list[str],
    value: str,
    named: str,
    file_tree: dict[str, Any] | None = None,
) -> tuple[list[str], Any]:
    """The setting ``raw_parts`` name (matched whatever their case) and ``value`` typed as it
    needs before validation: JSON for a list or a table, the text as it is otherwise (lax
    validation makes numbers and true or false of it). Environment variables and the
    benchmarks' ``--set`` both come as text and go through here, so they take the same
    values. ``named`` says what gave the value in an error, and its fix is shown as
    ``named='<a JSON example>'`` (put together, not formatted: a name may hold braces,
    "tools.mcpServers.{name}.args", which as a format string raised KeyError)."""
    parts, annotation = _env_target(raw_parts, file_tree or {})
    shape = _json_shape(annotation)
    if shape is None:
        return parts, value
    sample = '["--slow", "search=5"]' if shape == "list" else '{"NAME": "value"}'
    try:
        return parts, json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{named} must be a JSON {shape} ({exc.msg} at character {exc.pos + 1}).",
            f"e.g. {named}='{sample}'",
        ) from None


def _check_one_underscore(var: str) -> None:
    """VOICEDESK_TURN_MODE (one underscore where two belong) was ignored without a word,
    and the person wondered why the setting did not take. Other VOICEDESK_ names (the
    simulator's, the tests') are not settings and are left alone."""
    rest = var[len(ENV_PREFIX) :].lower()
    whole = Settings.model_fields.get(rest)
    fields_of_whole = _fields_of(whole.annotation) if whole is not None else None
    if fields_of_whole:  # VOICEDESK_TURN='{"mode": …}': ignored without a word as well
        first = next(iter(fields_of_whole))
        raise ConfigError(
            f"{var} sets nothing: a section's keys are set one variable each.",
            f"use {ENV_PREFIX}{rest.upper()}__<KEY>, e.g. {ENV_PREFIX}{rest.upper()}__"
            f"{first.upper()}, and unset {var}",
        )
    for section, field in Settings.model_fields.items():
        fields = _fields_of(field.annotation)
        key = rest.removeprefix(f"{section}_")
        if fields is not None and key != rest and key in fields:
            raise ConfigError(
                f"{var} sets nothing: a setting's variable has two underscores between the "
                f"section and the key.",
                f"use {ENV_PREFIX}{section.upper()}__{key.upper()} instead",
            )


# VOICEDESK_ names that are not settings: the config file's, `voicedesk sim --detach`'s
# export, the simulated cloud's key variable, and the tests' fuzzing knobs.
OTHER_ENV_NAMES = frozenset(
    f"{ENV_PREFIX}{name}" for name in ("CONFIG", "SIM_PID", "SIM_KEY", "FUZZ_EXAMPLES", "FUZZ_SEED")
)


def key_env_names(environ: Mapping[str, str], config_path: Path | None) -> set[str]:
    """The variables settings name for a key (``llm.api_key_env``), in the environment or
    the config file: VOICEDESK_MYKEY as the key's variable is read, and was warned of as
    one that sets nothing. A file that cannot be read names none here; loading the
    settings says what is wrong with it."""
    names = {environ.get(f"{ENV_PREFIX}LLM__API_KEY_ENV", "").strip()}
    if config_path is not None:
        try:
            llm = tomllib.loads(read_config_text(config_path)).get("llm")
        except (ConfigError, tomllib.TOMLDecodeError, OSError):
            llm = None
        if isinstance(llm, dict) and isinstance(llm.get("api_key_env"), str):
            names.add(llm["api_key_env"].strip())
    return names - {""}


def unknown_env_names(
    environ: Mapping[str, str], in_use: Collection[str] = ()
) -> list[tuple[str, str | None]]:
    """VOICEDESK_ variables voicedesk never reads, each with the nearest name it does read.

    A misspelt one (VOICEDESK_TTS_VOICEE) was ignored without a word, and the person never
    learnt why the setting did nothing. Refused, as an unknown key in the file is, a name
    left in a shell by another version or tool would stop every command; so these are
    warned of. Names with ``__`` are settings, checked (and an unknown one refused) when the
    settings load, and so are the one-underscore slips ``_check_one_underscore`` names."""
    import difflib

    known = {
        f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
        for section, field in Settings.model_fields.items()
        for key in (_fields_of(field.annotation) or {})
    } | set(OTHER_ENV_NAMES)
    # compared as the slip is likely made: one underscore where two belong
    by_spelling = {name.replace("__", "_"): name for name in sorted(known)}
    found = []
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX) or "__" in var or var in OTHER_ENV_NAMES:
            continue
        if var in in_use:
            continue  # read as a key (``key_env_names``)
        try:
            _check_one_underscore(var)
        except ConfigError:
            continue  # refused, with its fix, when the settings load
        near = difflib.get_close_matches(var.upper(), list(by_spelling), n=1, cutoff=0.8)
        found.append((var, by_spelling[near[0]] if near else None))
    return found


def set_path(tree: dict[str, Any], dotted: list[str], value: Any, var: str) -> None:
    """Put ``value`` at ``dotted`` in ``tree``; ``var`` (what set it) is named if a table is
    in the way."""
    node = tree
    for part in dotted[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(
                f"{var}: cannot set {'.'.join(dotted)}, {part} is not a table.",
                f"unset {var} or the variable that sets {part}",
            )
    node[dotted[-1]] = value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------- loading
def _shown(loc: tuple[Any, ...], found: Any) -> str:
    """A bad value as it may be echoed, written as in TOML (true, "text", nan): never a
    secret."""
    if is_secret_path(loc):
        return "(a secret, not shown)"
    if isinstance(found, bool):
        return "true" if found else "false"
    if isinstance(found, str):
        return json.dumps(mask_text(found), ensure_ascii=False)
    if isinstance(found, float) and not math.isfinite(found):
        return "nan" if math.isnan(found) else ("inf" if found > 0 else "-inf")
    if isinstance(found, dict | list):
        # A table written as a list (``[[tools.mcpServers]]``) was echoed whole, with the
        # tokens in its servers' headers and env: masked as `config show` masks them.
        return json.dumps(mask_tree(found, loc), ensure_ascii=False, default=str)
    if isinstance(found, datetime.date | datetime.time):
        return found.isoformat()  # as written in the file, not datetime.date(1979, 5, 27)
    return repr(found)


# Types a value from the config file must have as written: pydantic's lax mode, which the
# environment's strings need, turned `temperature = true` into 1.0 and `enabled = "yes"`
# into true without a word.
_STRICT_TYPE_ERRORS = {"bool_type", "int_type", "float_type", "string_type", "int_from_float"}


def _file_type_errors(file_tree: dict[str, Any]) -> list[ErrorDetails]:
    """The file's values of the wrong TOML type, checked as JSON in strict mode (where a
    string is still a path and an integer still a float)."""
    try:
        Settings.model_validate_json(json.dumps(file_tree, default=str), strict=True)
    except ValidationError as exc:
        return [e for e in exc.errors() if e["type"] in _STRICT_TYPE_ERRORS]
    return []


def _describe(err: Mapping[str, Any], origin: str, var: str | None = None) -> str:
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc)
    where = f"environment variable {var}" if var else origin
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}' ({_known_keys(loc)})"
    if err["type"] == "missing":
        return f"{where}: '{key}' is required"
    msg = _PLAIN.get(err["type"], str(err["msg"]).removeprefix("Value error, "))
    if err["type"] in _RANGE_ERRORS or _is_nan(err.get("input")):
        msg = _allowed_range(loc) or msg
    found = err.get("input")
    shown = _shown(loc, found)
    if err["type"] == "string_type" and isinstance(found, int | float) and not var:
        # `PORT = 8080` in an env table: TOML's number (or true) is not the text a process
        # is given, and "it must be text" did not say that quotes make it so
        kind = _TOML_KIND[type(found)]
        if is_secret_path(loc):  # not even a secret's digits are echoed
            msg += f", in quotes: TOML reads the value as {kind} without them"
        else:
            msg += f', in quotes: TOML reads {shown} as {kind}, "{shown}" as text'
    return f"{where}: '{key}' = {shown} is not allowed: {msg}"


_TOML_KIND = {bool: "a yes or no", int: "a number", float: "a number"}


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _is_nan(value: Any) -> bool:
    if isinstance(value, str):
        value = value.strip().lower()
        return value in ("nan", "+nan", "-nan")
    return isinstance(value, float) and math.isnan(value)


def _type_at(loc: tuple[Any, ...]) -> Any:
    """The type of the setting a place names, through tables of names the person chose
    (``tools.mcpServers.NAME`` is an entry of the server type); None where no setting is."""
    annotation: Any = Settings
    for part in loc:
        inner = _unwrap_optional(annotation)
        if get_origin(inner) is dict:  # ``part`` is a name the person chose
            annotation = get_args(inner)[1]
            continue
        fields = _fields_of(annotation)
        field = fields.get(str(part)) if fields is not None else None
        if field is None:
            return None
        annotation = field.annotation
    return annotation


def _field_at(loc: tuple[Any, ...]) -> Any:
    """The pydantic field a setting's place names (see ``_type_at``); None where there is none."""
    fields = _fields_of(_type_at(loc[:-1])) if loc else None
    return fields.get(str(loc[-1])) if fields is not None else None


def _allowed_range(loc: tuple[Any, ...]) -> str | None:
    """ "it must be from 5 to 40": both ends of a number's range. pydantic named only the
    end that was crossed ("less than or equal to 40"), and of `temperature = nan` it said
    "less than or equal to 2", as if nan were too big."""
    field = _field_at(loc)
    if field is None:
        return None
    low = high = None
    low_open = high_open = False
    for rule in field.metadata:
        for name, is_low, is_open in (
            ("ge", True, False),
            ("gt", True, True),
            ("le", False, False),
            ("lt", False, True),
        ):
            bound = getattr(rule, name, None)
            if bound is None:
                continue
            if is_low:
                low, low_open = bound, is_open
            else:
                high, high_open = bound, is_open
    if low is None and high is None:
        return None
    number = "a whole number" if _unwrap_optional(field.annotation) is int else "a number"
    if low is not None and high is not None:
        if not low_open and not high_open:
            return f"it must be {number} from {low} to {high}"
        low_word = "above" if low_open else "at least"
        high_word = "below" if high_open else "at most"
        return f"it must be {number} {low_word} {low} and {high_word} {high}"
    if low is not None:
        return f"it must be {number} {'above' if low_open else 'at least'} {low}"
    return f"it must be {number} {'below' if high_open else 'at most'} {high}"


# pydantic's words where they name Python types ("a valid dictionary or instance of
# AudioSettings"), in the config file's terms.
_PLAIN = {
    "model_type": "it must be a table: a [section] of keys, or { key = value, … }",
    "model_attributes_type": "it must be a table: a [section] of keys, or { key = value, … }",
    "dict_type": "it must be a table: a [section] of keys, or { key = value, … }",
    "path_type": 'it must be a path, as a string (like "~/Documents")',
    "bool_type": "it must be true or false",
    "bool_parsing": "it must be true or false",
    "int_type": "it must be a whole number",
    "int_parsing": "it must be a whole number",
    "int_from_float": "it must be a whole number",
    "float_type": "it must be a number",
    "float_parsing": "it must be a number",
    "string_type": "it must be text",
    "list_type": 'it must be a list in brackets, like ["--slow", "search=5"] or []',
}


def _known_keys(loc: tuple[Any, ...]) -> str:
    """The keys allowed where an unknown one was found, nearest spelling first. Pointing to
    `config show` did not help: it fails on the same unknown key. Inside a table of names
    the person chose (``tools.mcpServers.NAME``) they are the keys each entry may have."""
    import difflib

    fields = _fields_of(_type_at(loc[:-1]))
    if fields is None:
        return "check the spelling; `voicedesk config init` writes a template of every key"
    names = [n for n, f in fields.items() if not f.exclude]
    found = str(loc[-1])
    # case first: difflib finds nothing near "LLM" among lower-case names, and a table
    # written as [LLM] or [Turn] is the commonest slip of someone used to INI files
    same = [n for n in names if n.casefold() == found.casefold()]
    known = f"known here: {', '.join(names)}"
    if same:
        return f"did you mean '{same[0]}'? (keys are case-sensitive) {known}"
    near = difflib.get_close_matches(found, names, n=1)
    return f"did you mean '{near[0]}'? {known}" if near else known


def _env_var_for(names: dict[tuple[str, ...], str], loc: tuple[Any, ...]) -> str | None:
    key = tuple(str(p) for p in loc)
    for n in range(len(key), 0, -1):
        var = names.get(key[:n])
        if var is not None:
            return var
    # a problem with a whole table (an unknown section): the variable that set a key inside it
    return next((var for dotted, var in names.items() if dotted[: len(key)] == key), None)


def _wrong_type(place: tuple[str, ...], value: Any) -> bool:
    """Whether the setting at ``place`` in the file refuses ``value`` for its TOML type
    (as the file is checked: ``_file_type_errors``)."""
    tree: Any = value
    for part in reversed(place):
        tree = {part: tree}
    return any(tuple(e["loc"]) == place for e in _file_type_errors(tree))


def load_settings(
    path: Path | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    named_by: str | None = None,
) -> Settings:
    """Load and validate settings; raise ConfigError with every problem listed.

    ``named_by`` (``--config``, ``VOICEDESK_CONFIG``): the person named ``path``, so it must
    exist; otherwise a missing file simply means the defaults.
    """
    environ = dict(os.environ if environ is None else environ)
    path = path or default_config_path()
    file_tree: dict[str, Any] = {}
    if path.exists():
        try:
            file_tree = tomllib.loads(read_config_text(path))
        except tomllib.TOMLDecodeError as exc:
            # --config must be repeated, or the template goes to the default file instead
            flag = f"--config {path} " if named_by == "--config" else ""
            shown, fix = toml_error_help(read_config_text(path), str(exc), wrong_type=_wrong_type)
            raise ConfigError(
                f"{path} is not valid TOML: {exc}{shown}",
                f"{fix or 'fix the line shown'}, or run `voicedesk {flag}config init --force` "
                f"(the old file is kept as a .bak)",
            ) from None
    elif named_by is not None:
        raise ConfigError(
            f"Config file not found: {path} (named by {named_by}).",
            f"check the path, create the file with `voicedesk config init` (it honours "
            f"{named_by}), or drop {named_by} to use {config_dir() / 'config.toml'}",
        )
    env_tree, env_names = _env_layer(environ, file_tree)
    layers = [(str(path), file_tree), ("environment", env_tree)]
    if overrides:
        layers.append(("command line", overrides))
    masks = [(origin, key) for origin, tree in layers for key, _ in masks_in(tree)]
    if masks:
        raise ConfigError(
            "These values are the masks `voicedesk config show` prints, not the secrets:\n  "
            + "\n  ".join(
                f"{_env_var_for(env_names, tuple(k.split('.'))) or origin}: '{k}'"
                for origin, k in masks
            ),
            "`config show` hides secrets, so its output cannot be used as a config as it is: "
            "put the real value there, or remove the line (keys can come from OPENAI_API_KEY "
            "and ELEVENLABS_API_KEY)",
        )
    merged: dict[str, Any] = {}
    for _, tree in layers:
        merged = _merge(merged, tree)
    try:
        settings = Settings.model_validate(merged)
        lax: list[Any] = []
    except ValidationError as exc:
        lax = list(exc.errors())
    # Where both complain, lax mode's words say more ("greater than 0"), except of true or
    # false where a number belongs: lax mode read it as 1 or 0 and complained of the range.
    strict = _file_type_errors(file_tree)
    truths = {tuple(e["loc"]) for e in strict if isinstance(e.get("input"), bool)}
    lax = [e for e in lax if tuple(e["loc"]) not in truths]
    seen = {tuple(e["loc"]) for e in lax}
    wrong_types = [e for e in strict if tuple(e["loc"]) not in seen]
    if lax or wrong_types:
        # the file's wrong types are the file's, whatever overrides them
        problems = [_describe(err, str(path)) for err in wrong_types]
        fixes = []
        if wrong_types:
            fixes.append(
                f"edit {path}: numbers and true or false without quotes (block_ms = 20), "
                'text in quotes (mode = "hands-free")'
            )
        for err in lax:
            loc = tuple(err["loc"])
            origin = next(
                (name for name, tree in reversed(layers) if _has_path(tree, loc)), str(path)
            )
            var = _env_var_for(env_names, loc) if origin == "environment" else None
            problems.append(_describe(err, origin, var))
            fix = f"change or unset {var}" if var else f"edit {origin}"
            if fix == f"edit {path}" and wrong_types:
                continue  # the fix for the wrong types already says to edit the file
            if origin == "environment" and var is None:
                fix = "change or unset the environment variable"
            if origin == "command line":
                fix = "change the value given on the command line"
            if fix not in fixes:
                fixes.append(fix)
        raise ConfigError(
            "Invalid configuration:\n  " + "\n  ".join(problems),
            "; ".join(fixes) + "; once it loads, `voicedesk config show` prints the result",
        )

    def origin_of(loc: tuple[str, ...]) -> str | None:
        origin = next((name for name, tree in reversed(layers) if _has_path(tree, loc)), None)
        if origin == "environment":
            return f"environment variable {_env_var_for(env_names, loc)}"
        return origin

    _check_sdk_base_url(settings, environ)
    check_context_window(settings, origin_of, config_path=path)
    settings.source = path if path.exists() else None
    # a server that quotes the key it was sent in an error must not get it shown or kept
    remember_secrets(secret_values(settings, environ))
    return settings


def _check_sdk_base_url(settings: Settings, environ: Mapping[str, str]) -> None:
    """OPENAI_BASE_URL is the server of every OpenAI client without a base_url of its own
    (``loopback.openai_address``), so it is held to the base_url settings' rule where one
    reads it. Written without its scheme ("localhost:11434/v1") it passed `config show` and
    `doctor`, and `run` then ended in a traceback from the websocket library ("… isn't a
    valid URI: scheme isn't ws or wss")."""
    value = environ.get("OPENAI_BASE_URL", "").strip()
    read = settings.llm.base_url is None or (
        settings.stt.provider == "openai" and settings.stt.base_url is None
    )
    if not value or not read:
        return
    try:
        _base_url(value)
    except ValueError as exc:
        raise ConfigError(
            f"Invalid configuration:\n  environment variable OPENAI_BASE_URL = "
            f"{json.dumps(value)} is not allowed: {exc}",
            "change or unset OPENAI_BASE_URL, or set llm.base_url (and stt.base_url) in the "
            "config; once it loads, `voicedesk config show` prints the result",
        ) from None


def check_context_window(
    settings: Settings,
    origin_of: Callable[[tuple[str, ...]], str | None] | None = None,
    *,
    config_path: Path | None = None,
) -> None:
    """Refuse a context budget that, with the reply, does not fit ``llm.context_window``.

    Said when the settings load rather than found out after many turns, when the
    conversation has grown to the budget and the model refuses it. ``origin_of`` names
    where a key's value came from (None: the default)."""
    window = settings.llm.context_window
    budget, reply = settings.context.budget_tokens, settings.llm.max_tokens
    if window is None or budget + reply <= window:
        return

    def shown(section: str, key: str, value: int) -> str:
        where = origin_of((section, key)) if origin_of else None
        return (
            f"{where}: '{section}.{key}' = {value}"
            if where
            else (f"'{section}.{key}' = {value}" + (" (the default)" if origin_of else ""))
        )

    fits = window - reply
    if fits >= MIN_BUDGET_TOKENS:
        fix = f"set context.budget_tokens to at most {fits} (or lower llm.max_tokens)"
    else:
        fix = (
            f"lower llm.max_tokens to at most {window - MIN_BUDGET_TOKENS} and "
            f"context.budget_tokens to {MIN_BUDGET_TOKENS}"
        )
    places: list[str] = []
    for loc in (("context", "budget_tokens"), ("llm", "max_tokens"), ("llm", "context_window")):
        where = origin_of(loc) if origin_of else None
        if where is None or where == str(config_path):
            place = f"edit {config_path}" if config_path else "edit the config"
        elif where.startswith("environment variable "):
            place = f"change or unset {where.removeprefix('environment variable ')}"
        else:
            place = f"change the {where} setting"
        if place not in places:
            places.append(place)
    raise ConfigError(
        "The context budget and the reply do not fit the model's context window:\n  "
        + "\n  ".join(
            [
                shown("llm", "context_window", window),
                shown("context", "budget_tokens", budget),
                shown("llm", "max_tokens", reply),
            ]
        )
        + f"\n  a request may take {budget} + {reply} = {budget + reply} tokens, "
        f"{budget + reply - window} more than the window",
        f"{fix}, or raise llm.context_window if the model takes more; " + "; ".join(places),
    )


def _has_path(tree: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = tree
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            return False
        node = node[part]
    return True
