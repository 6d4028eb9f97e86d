"""User-facing errors.

Anything a person can fix (a bad config value, a missing model file, no PortAudio) is raised
as a :class:`UserError`; the CLI prints its message and hint and exits with its code instead
of showing a traceback. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from voicedesk.config_secrets import hide_in_message
from voicedesk.exit_status import SERVICE_FAILED, USER_ERROR


class UserError(Exception):
    """An error the person can fix; ``hint`` says how. Both are shown, logged and kept in
    the session log, and may quote a server's answer, which may quote the API key it was
    sent, or a server's address with a password in it: every secret this process holds,
    and any URL's user:password, is hidden in them."""

    exit_code: int = USER_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        message = hide_in_message(message)
        hint = hide_in_message(hint) if hint is not None else None
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class ConfigError(UserError):
    """A configuration file or value is wrong."""


class ModelFileError(UserError):
    """An on-device model file is missing or unreadable."""


class AudioUnavailableError(UserError):
    """The sound system (PortAudio) or a device cannot be used."""


class ProviderError(UserError):
    """A cloud or local provider failed in a way worth telling the person about."""

    exit_code = SERVICE_FAILED


class AuthError(ProviderError):
    """An API key was rejected."""


class ContentFilterError(ProviderError):
    """The provider's content filter withheld the answer, or its rest (finish reason
    ``content_filter``). The service worked: this is its answer, a refusal, and asking the
    same again gets the same. A headless run does not count it as a failed turn."""


class RefusedSettingError(ProviderError):
    """A service refused a setting we sent (a model or language it does not offer): unlike
    a server that is down, asking again cannot help, so it stops the start as a rejected key
    does."""


class ContextTooLongError(ProviderError):
    """The language model refused a request as longer than its context window.

    Unlike other provider failures this one is ours to fix: the engine sends the
    conversation again, shorter. ``window`` (the model's context window) and
    ``prompt_tokens`` (the refused prompt, as the server counted it) are None where the
    server's answer does not say."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        window: int | None = None,
        prompt_tokens: int | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.window = window
        self.prompt_tokens = prompt_tokens


def install_command(*packages: str, prefix: Path | None = None) -> str:
    """The command that adds ``packages`` to the environment voicedesk runs in.

    In a pipx install (its venv holds pipx_metadata.json) that is ``pipx inject``: the
    advice `pipx install 'voicedesk[local]'` did nothing there ("already seems to be
    installed. Not modifying existing installation"), and `pip install` puts a package
    where voicedesk never looks. pipx names the venv by its folder in ``venvs``
    (``--suffix=@2``: voicedesk@2, where `pipx inject voicedesk` found nothing); `pipx
    run` keeps a cached one under no name at all, so there voicedesk is installed for
    good first. A venv of `pipx install --global` (under ``PIPX_GLOBAL_HOME``, /opt/pipx by
    default) is injected into with ``--global`` (plain `pipx inject` looked for it in the
    person's own pipx home and found nothing), as root when the person cannot write there.
    ``prefix``: the environment (default: this one)."""
    names = " ".join(packages)
    where = Path(sys.prefix) if prefix is None else prefix
    metadata = where / "pipx_metadata.json"
    if not metadata.is_file():
        return f"pip install {names}"
    if where.parent.name == "venvs":
        global_home = Path(os.environ.get("PIPX_GLOBAL_HOME") or "/opt/pipx")
        if where.parent.parent == global_home:
            sudo = "" if os.access(where, os.W_OK) else "sudo "
            return f"{sudo}pipx inject --global {where.name} {names}"
        return f"pipx inject {where.name} {names}"
    return f"pipx install {shlex.quote(_pipx_spec(metadata))} && pipx inject voicedesk {names}"


def _pipx_spec(metadata: Path) -> str:
    """What `pipx run` was given for voicedesk (a checkout's folder, say), else its name."""
    try:
        main = json.loads(metadata.read_text(encoding="utf-8")).get("main_package") or {}
        spec = main.get("package_or_url")
    except (OSError, ValueError, AttributeError):
        spec = None
    return spec if isinstance(spec, str) and spec else "voicedesk"


_ctrl_c_pressed = False


def _on_ctrl_c(signum: int, frame: object) -> None:
    """Python's own SIGINT handler, which also notes that Ctrl-C was pressed."""
    global _ctrl_c_pressed
    _ctrl_c_pressed = True
    raise KeyboardInterrupt


def note_ctrl_c() -> None:
    """Have Ctrl-C noted as well as raised (:func:`interrupted_import` asks), where Python's
    own handler is in place: one inherited as ignored, or a command's own, is left alone.

    Also keeps a KeyboardInterrupt that native code reports itself quiet: numpy's C import
    (from onnxruntime's module) prints the error it swallows through ``sys.excepthook``, a
    KeyboardInterrupt traceback above a Ctrl-C that otherwise ends quietly."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_ctrl_c)
    shown = sys.excepthook

    def quiet_ctrl_c(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if not issubclass(kind, KeyboardInterrupt):
            shown(kind, value, tb)

    if getattr(shown, "__name__", "") != quiet_ctrl_c.__name__:
        sys.excepthook = quiet_ctrl_c


def interrupted_import(exc: BaseException) -> bool:
    """Whether the ImportError ``exc`` is a Ctrl-C in disguise. onnxruntime's native module
    imports numpy from C++ (pybind11), which turns a KeyboardInterrupt raised in there into
    "ImportError: import numpy failed", with no trace of it, or "initialization failed"
    from it; onnxruntime's ``__init__`` then raises that. Ctrl-C while a command loaded
    the on-device models (`replay`, `run`, `doctor`) was then an ImportError traceback and
    status 1, or doctor's "onnxruntime cannot be imported; reinstall voicedesk" and the
    checks going on, where every other moment ends quietly with 130."""
    if _ctrl_c_pressed:
        return True
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
