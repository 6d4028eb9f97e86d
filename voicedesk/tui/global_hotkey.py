"""An optional system-wide hotkey that toggles push-to-talk while another window has focus.

Off unless ``ui.global_hotkey`` is set (e.g. ``"<ctrl>+<alt>+space"``); it uses pynput, an
optional extra (``voicedesk[hotkey]``). Listening to the keyboard outside the terminal needs
things the terminal key does not, and each missing one is reported as a readable
:class:`HotkeyError` (message + what to do), never a traceback:

* the extra is not installed → how to add it (pipx or pip);
* Linux without an X display (Wayland-only desktop, SSH, a console) → pynput's Linux
  backend reads keys from the X server, so say so and point to the in-terminal key;
* macOS without the Accessibility / Input Monitoring permission → where to grant it (pynput
  starts anyway and silently sees no keys, so the check reads its ``IS_TRUSTED`` flag).

pynput calls us on its own listener thread. The callback only posts a message to the app
(``App.post_message`` is thread-safe and does not wait): ``call_from_thread`` would block
the operating system's keyboard hook until the UI got round to it, and macOS disables an
event tap whose callback is slow.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

from voicedesk.errors import UserError

log = logging.getLogger(__name__)

MODIFIERS: Final = frozenset(
    {"ctrl", "ctrl_l", "ctrl_r", "alt", "alt_l", "alt_r", "alt_gr", "shift", "shift_l"}
    | {"shift_r", "cmd", "cmd_l", "cmd_r"}
)
ALIASES: Final = {
    "control": "ctrl",
    "option": "alt",
    "opt": "alt",
    "super": "cmd",
    "win": "cmd",
    "meta": "cmd",
    "command": "cmd",
    "escape": "esc",
    "return": "enter",
    "pageup": "page_up",
    "pagedown": "page_down",
}
# pynput's named keys that make sense as the last key of a combination.
NAMED_KEYS: Final = frozenset(
    {"space", "enter", "tab", "esc", "backspace", "delete", "insert", "home", "end"}
    | {"page_up", "page_down", "up", "down", "left", "right", "menu", "pause"}
    | {"print_screen", "scroll_lock", "caps_lock", "num_lock"}
    | {f"f{i}" for i in range(1, 21)}
)
INSTALL_HINT: Final = (
    "pipx inject voicedesk pynput (or pip install 'voicedesk[hotkey]'), then restart; "
    "or clear ui.global_hotkey"
)
IN_TERMINAL_HINT: Final = "use space in the voicedesk window instead, or clear ui.global_hotkey"
MACOS_PERMISSION_HINT: Final = (
    "System Settings → Privacy & Security → Accessibility, and also Input Monitoring: turn on "
    "your terminal app (Terminal, iTerm2, …), then restart voicedesk"
)


class HotkeyError(UserError):
    """The global hotkey cannot work here; the hint says what to do."""


def parse_hotkey(text: str) -> str:
    """Validate a combination and return it in pynput's spelling (``<ctrl>+<alt>+<space>``).

    Accepts pynput's own form and bare names (``ctrl+alt+space``), case-insensitively. At
    least one modifier and exactly one other key: a lone key would fire on every keystroke
    typed anywhere on the desktop.
    """
    raw = text.strip()
    if not raw:
        raise HotkeyError("The global hotkey is empty.", "write it like <ctrl>+<alt>+space")
    parts = [p.strip() for p in raw.split("+")]
    if any(not p for p in parts):
        raise HotkeyError(
            f"Global hotkey '{raw}' has an empty part.", "write it like <ctrl>+<alt>+space"
        )
    names: list[str] = []
    for part in parts:
        name = part[1:-1] if len(part) > 2 and part[0] == "<" and part[-1] == ">" else part
        name = name.lower()
        name = ALIASES.get(name, name)
        if len(name) == 1 and name.isprintable() and not name.isspace():
            names.append(name)
        elif name in MODIFIERS or name in NAMED_KEYS:
            names.append(f"<{name}>")
        else:
            raise HotkeyError(
                f"Global hotkey '{raw}': '{part}' is not a key name.",
                "use modifiers <ctrl> <alt> <shift> <cmd> and one key: a letter, <space>, "
                "<f1>…<f20>, <enter>, <tab>, an arrow (<up>)…",
            )
    if len(set(names)) != len(names):
        raise HotkeyError(f"Global hotkey '{raw}' names a key twice.", "name each key once")
    mods = [n for n in names if n[1:-1] in MODIFIERS]
    keys = [n for n in names if n not in mods]
    if not mods or len(keys) != 1:
        raise HotkeyError(
            f"Global hotkey '{raw}' needs at least one modifier and exactly one other key.",
            "e.g. <ctrl>+<alt>+space: a key without a modifier would fire on ordinary typing",
        )
    return "+".join([*mods, *keys])


def check_platform(
    platform: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """Raise HotkeyError where a global hotkey cannot work; a warning where it half works."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return None
    if not env.get("DISPLAY"):
        if env.get("WAYLAND_DISPLAY"):
            where = "this is a Wayland session without X (no DISPLAY)"
        elif env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
            where = "over SSH there is no desktop here to listen to"
        else:
            where = "there is no X display (DISPLAY is not set)"
        raise HotkeyError(
            f"Global hotkeys need an X11 desktop on Linux: {where}.", IN_TERMINAL_HINT
        )
    if env.get("WAYLAND_DISPLAY"):
        return (
            "Wayland session: the global hotkey only works while an X11 (XWayland) window has "
            "focus; space in the voicedesk window always works."
        )
    return None


def _import_keyboard() -> Any:
    """pynput.keyboard, or a HotkeyError saying what is missing."""
    try:
        from pynput import keyboard  # type: ignore[import-not-found, import-untyped]
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "pynput":
            raise HotkeyError(
                "The global hotkey needs the optional 'hotkey' extra (pynput), which is not "
                "installed.",
                INSTALL_HINT,
            ) from None
        raise HotkeyError(  # e.g. python-xlib missing from a broken install
            f"The global hotkey cannot load pynput: {exc}", INSTALL_HINT
        ) from None
    except ImportError as exc:  # pynput found no usable backend (no X server reachable …)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HotkeyError(
            f"The global hotkey cannot reach the desktop's keyboard: {first}", IN_TERMINAL_HINT
        ) from None
    return keyboard


class GlobalHotkey:
    """One pynput listener calling ``on_activate`` (on pynput's thread) for one combination."""

    def __init__(
        self,
        combo: str,
        on_activate: Callable[[], object],
        *,
        import_keyboard: Callable[[], Any] | None = None,
        platform: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.combo = parse_hotkey(combo)
        self.on_activate = on_activate
        self._import_keyboard = import_keyboard or _import_keyboard
        self._platform = platform or sys.platform
        self._environ = environ
        self._listener: Any = None
        self.warning: str | None = None

    def start(self) -> None:
        """Start listening, or raise HotkeyError. Blocks until pynput is ready (use a thread)."""
        self.warning = check_platform(self._platform, self._environ)
        keyboard = self._import_keyboard()
        try:
            listener = keyboard.GlobalHotKeys({self.combo: self._fire})
            listener.start()
            listener.wait()  # until its thread runs: macOS sets IS_TRUSTED there
        except HotkeyError:
            raise
        except Exception as exc:  # pynput and the OS can fail in many ways: one clear line
            log.exception("global hotkey listener failed to start")
            raise HotkeyError(
                f"The global hotkey could not start: {type(exc).__name__}: {exc}",
                IN_TERMINAL_HINT,
            ) from None
        self._listener = listener
        if self._platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
            self.stop()
            raise HotkeyError(
                "macOS has not allowed this terminal to watch the keyboard, so the global "
                "hotkey cannot work.",
                MACOS_PERMISSION_HINT,
            )

    def _fire(self) -> None:
        try:
            self.on_activate()
        except Exception:  # never let an exception kill pynput's thread (and the hotkey)
            log.exception("global hotkey callback failed")

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.stop()
            except Exception:
                log.exception("global hotkey listener failed to stop")

    @property
    def running(self) -> bool:
        return self._listener is not None
