"""Text from sites and records, made safe for a terminal (printable)."""

from __future__ import annotations

import pytest

from sms_conformance.support.printable import one_line, printable


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b]0;window title\x07b", "ab"),  # OSC: window title, BEL-terminated
    ("x\x1b[2J\x1b[Hy", "xy"),  # CSI: clear screen, cursor home
    ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),  # hidden hyperlink
    ("8bit\x9b31mred", "8bitred"),  # an 8-bit CSI
    ("\x1bPq#0;2;0;0;0\x1b\\dcs", "dcs"),  # DCS (sixel)
    ("bidi\u202eevil\u202c", "bidievil"),  # reordering controls
    ("nul\x00bs\x08del\x7f", "nulbsdel"),
    ("tab\tnew\nline", "tab\tnew\nline"),  # kept
    ("café 中文 ✓", "café 中文 ✓"),
])
def test_escape_sequences_and_controls_are_removed(raw: str, shown: str) -> None:
    """bad input: record or error text with terminal escapes; outcome: the text without them."""
    assert printable(raw) == shown


def test_one_line_joins_lines() -> None:
    """bad input: a multi-line error message with a carriage return; outcome: one line."""
    assert one_line("first\r\nsecond\tthird\x1b[2K") == "first second third"
