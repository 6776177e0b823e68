"""What a sandbox served: request counters per (method, table), status and fault, and a short
log. Every platform's sandbox counts with it; tests and benchmarks read it."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any


class Stats:
    """Thread-safe request counters per (method, table), status and fault, plus a short log."""

    def __init__(self, log_size: int = 10000) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self.statuses: Counter[int] = Counter()
        self.faults: Counter[str] = Counter()
        self.total = 0
        self.bytes_out = 0
        self.rows_out = 0
        self.log: deque[tuple[float, str, str, int, float]] = deque(maxlen=log_size)

    def record(self, method: str, table: str, status: int, nbytes: int, rows: int,
               duration: float, path: str, fault: str | None = None) -> None:
        with self._lock:
            self.counts[(method, table)] += 1
            self.statuses[status] += 1
            if fault:
                self.faults[fault] += 1
            self.total += 1
            self.bytes_out += nbytes
            self.rows_out += rows
            self.log.append((time.time(), method, path, status, duration))

    def count(self, method: str | None = None, table: str | None = None) -> int:
        with self._lock:
            return sum(n for (m, t), n in self.counts.items()
                       if (method is None or m == method) and (table is None or t == table))

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.statuses.clear()
            self.faults.clear()
            self.total = self.bytes_out = self.rows_out = 0
            self.log.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "bytes_out": self.bytes_out,
                "rows_out": self.rows_out,
                "by_method_table": {f"{m} {t}": n for (m, t), n in sorted(self.counts.items())},
                "by_status": {str(s): n for s, n in sorted(self.statuses.items())},
                "faults": dict(self.faults),
            }
