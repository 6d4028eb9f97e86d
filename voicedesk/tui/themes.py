"""What to say of a ``ui.theme`` the terminal UI does not have.

Said by `voicedesk doctor` and by the app at start, in the same words: "Unknown theme
'dracula2'; using the default" alone, in a toast gone in 5 s, named neither the key nor
the theme meant, and `doctor` said the config was fine.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

# The theme the app stays on when ui.theme names none: Textual's default, which
# TEXTUAL_THEME may change ("uses textual-dark" was then untrue).
from textual.constants import DEFAULT_THEME


def builtin_themes() -> list[str]:
    """Textual's own themes: those the app offers (it registers none of its own)."""
    from textual.theme import BUILTIN_THEMES

    return sorted(BUILTIN_THEMES)


def unknown_theme(name: str, available: Collection[str]) -> str | None:
    """None for a theme there is; else what is wrong and how to put it right."""
    if name in available:
        return None
    near = difflib.get_close_matches(name, list(available), n=1)
    meant = f" (did you mean {near[0]}?)" if near else ""
    return (
        f'ui.theme = "{name}" is no theme here{meant}, so the terminal UI uses {DEFAULT_THEME}. '
        f"Set one of {', '.join(sorted(available))}, or pick one in the terminal UI "
        "(ctrl+p, then Theme), which keeps it."
    )
