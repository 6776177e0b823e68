"""Text for people at a terminal: severities in colour (rich), plain text anywhere else.

Colour only when the stream is a terminal and NO_COLOR is not set (https://no-color.org): a
pipe, a file, cron or CI gets the same lines byte for byte. The lines are printed as literal
text (never as rich markup), so a record's text cannot style the output, and rich is imported
only when colour is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import IO

from sms_conformance.support.printable import printable

STYLES = {
    r"\bcritical\b": "bold red", r"\bhigh\b": "red", r"\bmedium\b": "yellow", r"\blow\b": "cyan",
    r"\b(FAIL|ERROR|INCOMPLETE|OVERDUE)\b": "bold red", r"\bWAIVED\b": "dim",
    r"^(Clause|Findings|Scan|Failure rates|Findings of) .*": "bold",
}


def colour_wanted(out: IO[str]) -> bool:
    isatty = getattr(out, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def write_lines(lines: Iterable[str], out: IO[str]) -> None:
    """`lines`, one per line, coloured by severity on a terminal; escape sequences and control
    characters from sites and records removed either way (printable)."""
    lines = [printable(line) for line in lines]
    if not colour_wanted(out):
        out.write("".join(f"{line}\n" for line in lines))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, force_terminal=True, highlight=False, soft_wrap=True,
                      emoji=False, markup=False)
    for line in lines:
        text = Text(line)
        for pattern, style in STYLES.items():
            text.highlight_regex(pattern, style)
        console.print(text)
