"""Providers from settings. The only place that knows which class serves which config."""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlsplit

from voicedesk.config import Settings
from voicedesk.config_secrets import clean_key, key_problem
from voicedesk.errors import ConfigError
from voicedesk.loopback import OPENAI_API_BASE, openai_address
from voicedesk.providers.base import LanguageModel, SpeechToText, TextToSpeech

NO_KEY_HINT = (
    "set OPENAI_API_KEY (or keys.openai_api_key in `voicedesk config path`), point llm.base_url "
    "at a local OpenAI-compatible server, or try `voicedesk demo` (no keys needed)"
)


def custom_openai_server(base_url: str | None) -> bool:
    """Whether an OpenAI client with this ``base_url`` talks to a server other than
    OpenAI's, which may well take no key (Ollama, LM Studio, vLLM). The SDK takes
    OPENAI_BASE_URL where no base_url is set: pointing it at a local server still asked
    for an OpenAI key, and the conversation refused to start without one. OpenAI's own
    address named there (as many shells export it) is OpenAI's: it needs the key."""
    address = openai_address(base_url)
    if address is None:
        return False
    try:
        host = urlsplit(address.strip()).hostname
    except ValueError:
        return True
    return host != urlsplit(OPENAI_API_BASE).hostname


# What needs the OpenAI key, and the ways to do without it. With one message for all, the
# advice "point llm.base_url at a local server" was repeated word for word after it was
# followed, since speech-to-text on OpenAI's service still needed the key.
_KEY_USERS = {
    "llm": ("the language model on OpenAI's server needs one", NO_KEY_HINT),
    "stt": (
        'speech-to-text (stt.provider = "openai") needs one',
        "set OPENAI_API_KEY (or keys.openai_api_key in `voicedesk config path`), point "
        'stt.base_url at a server that transcribes, use stt.provider = "local" (faster-whisper '
        "on this machine), or try `voicedesk demo` (no keys needed)",
    ),
    "stt+llm": (
        "speech-to-text and the language model, both on OpenAI's service, need one",
        "set OPENAI_API_KEY (or keys.openai_api_key in `voicedesk config path`); with no key, "
        'use stt.provider = "local" (faster-whisper on this machine) and point llm.base_url '
        "at a local OpenAI-compatible server; or try `voicedesk demo` (no keys needed)",
    ),
    "tts": (
        "OpenAI's text-to-speech needs one",
        "set OPENAI_API_KEY (or keys.openai_api_key in `voicedesk config path`), choose "
        'tts.provider (and tts.fallback) "elevenlabs" or "local", or try `voicedesk demo`',
    ),
}


def openai_key(
    settings: Settings,
    *,
    required: bool = True,
    user: Literal["stt", "stt+llm", "llm", "tts"] = "llm",
) -> str:
    """The OpenAI key; without one, ``required`` raises naming ``user`` as what needs it
    (``stt+llm``: both, the first to ask saying so, so the way round one is not given alone)."""
    key = settings.keys.openai_api_key
    if key is not None and key.get_secret_value():
        return key.get_secret_value()
    if required:
        why, hint = _KEY_USERS[user]
        raise ConfigError(f"No OpenAI API key is set, and {why}.", hint)
    return "not-needed"


def _env_llm_key(settings: Settings) -> str:
    """The key in the variable ``llm.api_key_env`` names, cleaned as the config's keys are
    (``clean_key``): read raw, a line end after it stopped every request as "Cannot reach
    the language-model server" while `doctor` said the key was set. One holding what no
    key holds (a curly quote, an accent) is refused here, saying so: sent, it stopped the
    run with a traceback."""
    name = settings.llm.api_key_env
    key = clean_key(os.environ.get(name, ""))
    problem = key_problem(key)
    if problem is not None:
        raise ConfigError(
            f"The language model's key in {name} (llm.api_key_env) {problem}.",
            f"set {name} again to the key alone",
        )
    return key


def _llm_needs_openai_key(settings: Settings) -> bool:
    """Whether the language model, too, would ask for the OpenAI key (see ``llm_key``)."""
    if _env_llm_key(settings):
        return False
    return not custom_openai_server(settings.llm.base_url)


def llm_key(settings: Settings) -> str:
    env = _env_llm_key(settings)
    if env:
        return env
    # A local server (Ollama, LM Studio, vLLM) usually takes any key.
    return openai_key(settings, required=not custom_openai_server(settings.llm.base_url))


def make_stt(settings: Settings, *, local_whisper: Any = None) -> SpeechToText:
    """``local_whisper``: for stt.provider = "local", the model already loaded for the
    pause readings (``local_stt.cue_reader``), used rather than loaded twice."""
    cfg = settings.stt
    if cfg.provider == "openai":
        from voicedesk.providers.openai_stt import OpenAIRealtimeSTT

        return OpenAIRealtimeSTT(
            api_key=openai_key(
                settings,
                required=not custom_openai_server(cfg.base_url),
                user="stt+llm" if _llm_needs_openai_key(settings) else "stt",
            ),
            base_url=cfg.base_url,
            model=cfg.model,
            language=cfg.language,
            resend_after_s=cfg.resend_after_s,
        )
    if cfg.provider == "local":
        from voicedesk.providers.local_stt import LocalWhisperSTT

        return LocalWhisperSTT(cfg.local_model, language=cfg.language, whisper=local_whisper)
    from voicedesk.providers.null_stt import NoSTT

    return NoSTT()


def make_llm(settings: Settings) -> LanguageModel:
    from voicedesk.providers.openai_llm import OpenAIChat

    cfg = settings.llm
    return OpenAIChat(
        api_key=llm_key(settings),
        model=cfg.model,
        base_url=cfg.base_url,
        first_token_s=cfg.first_token_timeout_s,
        stall_s=cfg.request_timeout_s,
        reasoning_effort=cfg.reasoning_effort,
    )


def make_tts(settings: Settings, *, fallback: bool = False) -> TextToSpeech:
    cfg = settings.tts
    kind = cfg.fallback if fallback else cfg.provider
    if kind == "elevenlabs":
        from voicedesk.providers.elevenlabs_tts import ElevenLabsTTS

        key = settings.keys.elevenlabs_api_key
        if key is None or not key.get_secret_value():
            raise ConfigError(
                "No ElevenLabs API key is set.",
                'set ELEVENLABS_API_KEY, or choose tts.provider = "openai" or "local", '
                "or try `voicedesk demo`",
            )
        return ElevenLabsTTS(
            api_key=key.get_secret_value(),
            voice_id=cfg.voice_id,
            model=cfg.model,
            base_url=cfg.elevenlabs_base_url,
            language=settings.stt.language,
        )
    if kind == "openai":
        from voicedesk.providers.openai_tts import OpenAITTS

        return OpenAITTS(
            api_key=openai_key(
                settings,
                required=not custom_openai_server(settings.llm.base_url),
                user="tts",
            ),
            base_url=settings.llm.base_url,
            model=cfg.openai_model,
            voice=cfg.openai_voice,
        )
    if kind == "local":
        from voicedesk.providers.piper_tts import PiperTTS

        return PiperTTS(cfg.local_voice)
    raise ConfigError(f"Unknown TTS provider {kind!r}", "use elevenlabs, openai or local")
