"""The Textual work-arounds leave a Textual they were not written for alone."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from textual._styles_cache import StylesCache

from voicedesk.tui.textual_fixes import release_removed_widgets_drawing


def test_a_changed_get_inner_outer_is_left_as_textual_wrote_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``textual>=8.0,<9`` may bring a ``get_inner_outer`` still cached per instance but
    taking another argument (or reading its instance): replaced by one that calls it with
    two colours, every widget's drawing raised TypeError, a screen that never draws. The
    leak it works around is the lesser harm: such a method is left alone."""

    @functools.lru_cache(1024)
    def get_inner_outer(self: Any, base_background: Any, background: Any, tint: Any) -> Any:
        return (self, base_background, background, tint)

    monkeypatch.setattr(StylesCache, "get_inner_outer", get_inner_outer)
    release_removed_widgets_drawing()
    assert StylesCache.__dict__["get_inner_outer"] is get_inner_outer


def test_a_get_inner_outer_reading_its_instance_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same arguments, but the instance read: called without one, it raised."""

    @functools.lru_cache(1024)
    def get_inner_outer(cls: Any, base_background: Any, background: Any) -> Any:
        return (cls.opacity, base_background, background)

    monkeypatch.setattr(StylesCache, "get_inner_outer", get_inner_outer)
    release_removed_widgets_drawing()
    assert StylesCache.__dict__["get_inner_outer"] is get_inner_outer


def test_a_textual_without_its_styles_cache_module_still_opens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The work-around reaches into a private module: a later Textual 8 that moves it must
    not stop the TUI from opening (an ImportError as the app's module is imported), only
    leave the leak."""
    import importlib
    import sys

    before = StylesCache.__dict__["get_inner_outer"]
    monkeypatch.setitem(sys.modules, "textual._styles_cache", None)  # its import raises
    monkeypatch.delitem(sys.modules, "voicedesk.tui.textual_fixes")
    fixes = importlib.import_module("voicedesk.tui.textual_fixes")
    fixes.release_removed_widgets_drawing()
    assert StylesCache.__dict__["get_inner_outer"] is before
