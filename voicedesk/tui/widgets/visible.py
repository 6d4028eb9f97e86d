"""Text from outside (a tool's result) made safe to draw in the terminal."""

from __future__ import annotations

# Control characters as Unicode's symbols for them (U+2400 on): a tool's result can hold
# what a program wrote for a terminal, and an escape drawn as it is goes out to the terminal
# with the screen (colours the dialog, clears it, shifts its lines). Tabs and line ends
# stay; the C1 controls, which some terminals obey too, have no symbols.
_CONTROL_SYMBOLS: dict[int, str] = {
    **{code: chr(0x2400 + code) for code in range(32) if chr(code) not in "\t\n"},
    0x7F: "\u2421",  # ␡
    **{code: "\ufffd" for code in range(0x80, 0xA0)},
}


def visible_controls(text: str) -> str:
    """``text`` safe to draw: line ends as ``\\n``, other control characters as symbols."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_SYMBOLS)
