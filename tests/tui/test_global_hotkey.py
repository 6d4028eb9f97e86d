"""The optional global hotkey: key-string validation and every way it can fail, loudly.

This machine is headless (no X display, pynput not installed), which is exactly where the
failure paths run; pynput itself is replaced by small fakes for the paths that need it.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_tui import (  # shared fixtures and helpers of the TUI tests
    fake_app,
    isolated_dirs,  # noqa: F401  (autouse fixture: temp config/data dirs)
    started_fake,
    wait_until,
)

from voicedesk.errors import ConfigError
from voicedesk.tui import global_hotkey as gh
from voicedesk.tui.config_edit import apply_pair
from voicedesk.tui.global_hotkey import GlobalHotkey, HotkeyError, check_platform, parse_hotkey

X11 = {"DISPLAY": ":0"}


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<ctrl>+<alt>+space", "<ctrl>+<alt>+<space>"),
        ("<ctrl>+<alt>+<space>", "<ctrl>+<alt>+<space>"),
        ("Ctrl+Shift+K", "<ctrl>+<shift>+k"),
        (" control + option + f5 ", "<ctrl>+<alt>+<f5>"),
        ("<cmd>+<shift>+.", "<cmd>+<shift>+."),
        ("super+escape", "<cmd>+<esc>"),
    ],
)
def test_parse_hotkey_accepts_and_normalises(text: str, expected: str) -> None:
    assert parse_hotkey(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("space", "at least one modifier"),  # would fire on every space typed anywhere
        ("<ctrl>+<alt>", "exactly one other key"),
        ("ctrl+a+b", "exactly one other key"),
        ("ctrl++a", "empty part"),
        ("<ctrl>+<hyperdrive>", "not a key name"),
        ("ctrl+control+a", "twice"),
        ("ctrl+alt+spacebar", "not a key name"),
    ],
)
def test_parse_hotkey_rejects_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(HotkeyError, match=why) as info:
        parse_hotkey(text)
    assert info.value.hint  # always says what to write instead


def test_settings_screen_validates_the_hotkey(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    with pytest.raises(ConfigError, match="not a key name") as info:
        apply_pair(config, "ui.global_hotkey = ctrl+alt+banana")
    assert "not saved" in str(info.value.hint) and not config.exists()
    key, settings = apply_pair(config, "ui.global_hotkey = <ctrl>+<alt>+space")
    assert key == "ui.global_hotkey" and settings.ui.global_hotkey == "<ctrl>+<alt>+space"
    apply_pair(config, 'ui.global_hotkey = ""')  # empty switches it off
    with pytest.raises(ConfigError, match="talk_key_mode"):
        apply_pair(config, "ui.talk_key_mode = sideways")
    assert apply_pair(config, "ui.talk_key_mode = toggle")[1].ui.talk_key_mode == "toggle"


# ---------------------------------------------------------------------------- platform
def test_linux_needs_an_x_display() -> None:
    with pytest.raises(HotkeyError) as info:
        check_platform("linux", {"WAYLAND_DISPLAY": "wayland-0"})
    assert "X11" in info.value.message and "Wayland" in info.value.message
    assert "space" in str(info.value.hint)  # the in-terminal key instead
    with pytest.raises(HotkeyError, match="SSH"):
        check_platform("linux", {"SSH_CONNECTION": "10.0.0.2 5555 10.0.0.1 22"})
    with pytest.raises(HotkeyError, match="DISPLAY is not set"):
        check_platform("linux", {})
    assert check_platform("linux", X11) is None
    warning = check_platform("linux", {**X11, "WAYLAND_DISPLAY": "wayland-0"})
    assert warning is not None and "XWayland" in warning  # works, partly: said once
    assert check_platform("darwin", {}) is None and check_platform("win32", {}) is None


def test_missing_extra_names_both_install_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynput", None)  # not installed, whatever this venv has
    hotkey = GlobalHotkey("<ctrl>+<alt>+space", lambda: None, platform="linux", environ=X11)
    with pytest.raises(HotkeyError) as info:
        hotkey.start()
    assert "hotkey" in info.value.message and "pynput" in info.value.message
    assert "pipx inject voicedesk pynput" in str(info.value.hint)
    assert "pip install 'voicedesk[hotkey]'" in str(info.value.hint)
    assert not hotkey.running


# ---------------------------------------------------------------------------- fake pynput
class FakeListener:
    instances: ClassVar[list[FakeListener]] = []
    trusted: ClassVar[bool] = True
    fail_with: ClassVar[Exception | None] = None

    def __init__(self, hotkeys: dict[str, Any]) -> None:
        self.hotkeys = hotkeys
        self.stopped = False
        FakeListener.instances.append(self)

    def start(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.IS_TRUSTED = self.trusted  # pynput sets it on its thread, on macOS

    def wait(self) -> None:
        pass

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def fake_pynput(monkeypatch: pytest.MonkeyPatch) -> type[FakeListener]:
    FakeListener.instances = []
    monkeypatch.setattr(FakeListener, "trusted", True)
    monkeypatch.setattr(FakeListener, "fail_with", None)
    keyboard = type("keyboard", (), {"GlobalHotKeys": FakeListener})
    monkeypatch.setattr(gh, "_import_keyboard", lambda: keyboard)
    return FakeListener


def test_macos_without_accessibility_permission(fake_pynput: type[FakeListener]) -> None:
    fake_pynput.trusted = False
    hotkey = GlobalHotkey("<cmd>+<shift>+space", lambda: None, platform="darwin", environ={})
    with pytest.raises(HotkeyError) as info:
        hotkey.start()
    assert "macOS" in info.value.message
    assert "Privacy & Security → Accessibility" in str(info.value.hint)
    assert fake_pynput.instances[0].stopped and not hotkey.running


def test_listener_failure_is_one_line(fake_pynput: type[FakeListener]) -> None:
    fake_pynput.fail_with = OSError("cannot open /dev/input")
    hotkey = GlobalHotkey("<ctrl>+<alt>+space", lambda: None, platform="linux", environ=X11)
    with pytest.raises(HotkeyError, match="could not start: OSError: cannot open"):
        hotkey.start()


def test_backend_import_error_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pynput installed, but its Linux backend cannot reach an X server at import time
    package = tmp_path / "site" / "pynput"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "keyboard.py").write_text(
        "raise ImportError('this platform is not supported: failed to acquire X connection"
        "\\n\\nTry one of the following resolutions: ...')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    for name in ("pynput", "pynput.keyboard"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(HotkeyError) as info:
        gh._import_keyboard()
    assert info.value.message == (
        "The global hotkey cannot reach the desktop's keyboard: "
        "this platform is not supported: failed to acquire X connection"
    )
    assert "space" in str(info.value.hint)


def test_working_listener_fires_and_survives_callback_errors(
    fake_pynput: type[FakeListener],
) -> None:
    fired: list[str] = []
    hotkey = GlobalHotkey("ctrl+alt+space", lambda: fired.append("x"), platform="linux",
                          environ=X11)  # fmt: skip
    hotkey.start()
    assert hotkey.running and hotkey.warning is None
    (listener,) = fake_pynput.instances
    assert list(listener.hotkeys) == ["<ctrl>+<alt>+<space>"]  # pynput's spelling
    listener.hotkeys["<ctrl>+<alt>+<space>"]()
    assert fired == ["x"]
    hotkey.on_activate = lambda: 1 / 0  # type: ignore[assignment, misc, return-value]
    listener.hotkeys["<ctrl>+<alt>+<space>"]()  # logged, not raised into pynput's thread
    hotkey.stop()
    assert listener.stopped and not hotkey.running


# ---------------------------------------------------------------------------- in the app
def notices(app: Any) -> str:
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


async def test_app_reports_no_x_display_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    app = fake_app(tmp_path)
    app.settings.ui.global_hotkey = "<ctrl>+<alt>+space"
    async with app.run_test(size=(80, 24)) as pilot:
        session = await started_fake(pilot)
        await wait_until(pilot, lambda: "Global hotkey off" in notices(app))
        assert "need an X11 desktop" in notices(app) and "space in the voicedesk" in notices(app)
        assert app.global_hotkey is None and app.is_running
        await pilot.press("space")  # the in-terminal key still works
        assert session.calls[-1] == "ptt_press"


async def test_app_reports_missing_extra_and_bad_combo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setitem(sys.modules, "pynput", None)
    app = fake_app(tmp_path)
    app.settings.ui.global_hotkey = "<ctrl>+<alt>+space"
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await wait_until(pilot, lambda: "Global hotkey off" in notices(app))
        assert "pipx inject voicedesk pynput" in notices(app)

    app = fake_app(tmp_path)
    app.settings.ui.global_hotkey = "banana"
    async with app.run_test(size=(80, 24)) as pilot:
        await started_fake(pilot)
        await wait_until(pilot, lambda: "Global hotkey off" in notices(app))
        assert "banana" in notices(app)


async def test_app_hotkey_toggles_push_to_talk_from_another_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_pynput: type[FakeListener]
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    app = fake_app(tmp_path)
    app.settings.ui.global_hotkey = "<ctrl>+<alt>+space"
    async with app.run_test(size=(80, 24)) as pilot:
        session = await started_fake(pilot)
        await wait_until(pilot, lambda: app.global_hotkey is not None)
        assert "toggles push-to-talk" in notices(app)
        (listener,) = fake_pynput.instances
        fire = listener.hotkeys["<ctrl>+<alt>+<space>"]
        thread = threading.Thread(target=fire)  # as pynput calls it: on its own thread
        thread.start()
        thread.join()
        await wait_until(pilot, lambda: "ptt_press" in session.calls)
        thread = threading.Thread(target=fire)
        thread.start()
        thread.join()
        await wait_until(pilot, lambda: "ptt_release" in session.calls)
        await pilot.press("q")
    assert listener.stopped  # stopped with the app
