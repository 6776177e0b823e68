"""Progress on long scans: a live line on a terminal, silence under cron."""

from __future__ import annotations

import time
from typing import TextIO

from sms_conformance.scan import Progress


def progress_printer(stream: TextIO) -> Progress | None:
    if not stream.isatty():
        return None
    last = [0.0]

    def show(process: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2:
            return
        last[0] = now
        of = f"/{total}" if total else ""
        stream.write(f"\r  scanning {process}: {done}{of} records ")
        stream.flush()

    return show
