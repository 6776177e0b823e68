"""Progress on long scans: a live line with rate and ETA on a terminal, silence elsewhere
(cron, pipes, CI logs), where a line rewritten in place would only be noise."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

REFRESH = 0.2  # seconds between redraws


def describe(process: str, done: int, total: int | None, rate: float) -> str:
    """`scanning incident: 1,500/2,000 records, 830/s, ETA 0:00:01`."""
    text = f"scanning {process}: {done:,}" + (f"/{total:,}" if total else "") + " records"
    if rate > 0:
        text += f", {rate:,.0f}/s"
        if total and total > done:
            left = round((total - done) / rate)
            text += f", ETA {left // 3600}:{left // 60 % 60:02}:{left % 60:02}"
    return text


class ProgressLine:
    """The scan's progress callback: one line on a terminal, redrawn in place."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.clock = stream, clock
        self.first: dict[str, tuple[float, int]] = {}  # process -> (time, records) first seen
        self.last = float("-inf")
        self.width = 0

    def __call__(self, process: str, done: int, total: int | None) -> None:
        now = self.clock()
        since, base = self.first.setdefault(process, (now, done))
        if now - self.last < REFRESH:
            return
        self.last = now
        rate = (done - base) / (now - since) if now > since else 0.0
        self.draw(describe(process, done, total, rate))

    def draw(self, line: str) -> None:
        # \r rewrites the line; spaces cover what a longer previous line left.
        self.stream.write(f"\r  {line}{' ' * max(0, self.width - len(line))}")
        self.stream.flush()
        self.width = len(line)

    def clear(self) -> None:
        if self.width:
            self.stream.write(f"\r{' ' * (self.width + 2)}\r")
            self.stream.flush()
            self.width = 0


def progress_printer(stream: TextIO, quiet: bool = False) -> ProgressLine | None:
    """The progress line for `stream`, or None when it is not a terminal (or --quiet)."""
    isatty = getattr(stream, "isatty", None)
    if quiet or isatty is None or not isatty():
        return None
    return ProgressLine(stream)
