"""Progress on long scans: a bar per table with records, rate and ETA on a terminal (rich),
silence elsewhere (cron, pipes, CI logs), where a line rewritten in place would only be noise.
rich is imported only when a bar is drawn: `--help` and cron runs never pay for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress

REFRESH = 0.2  # seconds between redraws


def describe(process: str, done: int, total: int | None, rate: float) -> str:
    """`scanning incident: 1,500/2,000 records, 830/s, ETA 0:00:01`: the words the bar shows."""
    text = f"scanning {process}: {done:,}" + (f"/{total:,}" if total else "") + " records"
    if rate > 0:
        text += f", {rate:,.0f}/s"
        if total and total > done:
            left = round((total - done) / rate)
            text += f", ETA {left // 3600}:{left // 60 % 60:02}:{left % 60:02}"
    return text


def _columns() -> list[Any]:
    from rich.progress import BarColumn, ProgressColumn, Task, TextColumn
    from rich.text import Text

    class Counts(ProgressColumn):
        """`1,500/10,000 records, 500/s, ETA 0:00:17` (describe), redrawn as the rate settles."""

        def render(self, task: Task) -> Text:
            total = int(task.total) if task.total else None
            return Text(describe(task.description, int(task.completed), total,
                                 task.speed or 0.0).removeprefix(f"scanning {task.description}: "),
                        no_wrap=True, overflow="ellipsis")

    return [TextColumn("scanning {task.description}"), BarColumn(bar_width=30), Counts()]


class ProgressLine:
    """The scan's progress callback: one bar per table on a terminal, redrawn in place."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic,
                 width: int | None = None) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self.stream, self.clock = stream, clock
        self.last = float("-inf")
        console = Console(file=stream, force_terminal=True, highlight=False, width=width)
        # No refresh thread and no redirection of stdout / stderr: redrawn from the callback.
        self.progress: Progress = Progress(
            *_columns(), console=console, get_time=clock, auto_refresh=False, transient=True,
            redirect_stdout=False, redirect_stderr=False)
        self.tasks: dict[str, Any] = {}
        self.started = False

    def __call__(self, process: str, done: int, total: int | None) -> None:
        if not self.started:
            self.progress.start()
            self.started = True
        if process not in self.tasks:
            self.tasks[process] = self.progress.add_task(process, total=total)
        self.progress.update(self.tasks[process], completed=done, total=total)
        now = self.clock()
        if now - self.last >= REFRESH:
            self.last = now
            self.progress.refresh()

    def clear(self) -> None:
        if self.started:
            self.progress.stop()  # transient: the bars are erased
            self.started = False


def progress_printer(stream: TextIO, quiet: bool = False) -> ProgressLine | None:
    """The progress bars for `stream`, or None when it is not a terminal (or --quiet)."""
    isatty = getattr(stream, "isatty", None)
    if quiet or isatty is None or not isatty():
        return None
    return ProgressLine(stream)
