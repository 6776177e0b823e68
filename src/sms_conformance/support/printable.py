"""Text from a site or a record made safe to print on a terminal.

Record values and error messages are untrusted: an escape sequence in them would retitle the
window, clear the screen or hide a hyperlink behind harmless text. `printable` removes escape
sequences (CSI, OSC, DCS and the like, 7- and 8-bit), every other control character but newline
and tab, and the Unicode controls that reorder what a reader sees (bidirectional overrides).
It is the one function every path to the terminal calls, whatever draws the text.
"""

from __future__ import annotations

import re

# ESC [ ... final (CSI), ESC ] ... BEL/ST (OSC, hyperlinks and titles), ESC P/X/^/_ ... ST
# (DCS, SOS, PM, APC), then any other two-character escape; the same with 8-bit introducers.
_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")


def printable(text: str) -> str:
    """`text` without escape sequences or control characters (newline and tab kept)."""
    if text.isprintable():  # the common case: nothing to remove
        return text
    return _CONTROL.sub("", _SEQUENCE.sub("", text))


def one_line(text: str) -> str:
    """`printable` text on one line: line breaks and tabs become single spaces."""
    return _LINE_BREAKS.sub(" ", printable(text))
