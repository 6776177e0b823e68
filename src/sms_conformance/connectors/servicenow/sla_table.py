"""task_sla read by table: every SLA record of some task classes (one, or each class a full scan
reads with the same SLA source), in parallel key ranges over task_sla's own sys_id (each range a
KeysetScan with every guard of one), projected to what the per-record summary needs, in large
pages, started in the background as the fetch starts; the rows are kept on disk (a private
temporary SQLite database: memory does not grow with the table) and looked up by task when
records are joined to them.

The class condition (`task.sys_class_nameINSTANCEOF<table>`, the task's class or one extending
it; one ^NQ group per class) is not verified against a real instance. Either way the join is by
task, so an instance that drops it as an invalid part (the default) only makes the read longer;
one that answers an invalid query with no rows (`glide.invalid_query.returns_no_rows`) counts
none, and the table is then read without it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import chain, islice

from sms_conformance.connectors.parallel import interleaved
from sms_conformance.connectors.servicenow.fieldmap import SlaSource
from sms_conformance.connectors.servicenow.paging import KeysetScan, PageSource, ScanStats, text
from sms_conformance.connectors.servicenow.query import (
    EVERYTHING,
    Filter,
    check_field,
    check_value,
)
from sms_conformance.connectors.servicenow.responses import Json
from sms_conformance.connectors.servicenow.sla_rows import (
    reason_not_returned,
    summary_record,
    task_of,
)
from sms_conformance.connectors.servicenow.streams import split_after
from sms_conformance.model.errors import SourceError
from sms_conformance.model.slas import SlaRecord

# Rows per page of the table read: a projected task_sla row is about 200 bytes, so a page is
# about 1 MB, well below the Table API's response cap (5 MB by default).
SLA_PAGE = 5_000
_KEEP = 1_000  # rows written to the database at a time
_ASK = 500  # task ids per look-up (below SQLite's oldest limit of 999 parameters)


class SlaTable:
    """One background read of the SLA records of the tasks of `task_classes`; `counted` is set
    once the read's count is known (or it failed), `wait()` returns once every row is kept."""

    def __init__(self, pages: PageSource, source: SlaSource, task_classes: Sequence[str], *,
                 streams: int, max_pages: int) -> None:
        self.pages, self.source, self.task_classes = pages, source, tuple(task_classes)
        self.streams, self.max_pages = max(1, streams), max_pages
        self.counted = threading.Event()
        self.total: int | None = None  # X-Total-Count of the read (before ACLs: an upper bound)
        self.withheld = 0  # rows counted beyond those read (hidden by read ACLs?)
        self.notices: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._db = sqlite3.connect("", check_same_thread=False)
        self._db.execute("CREATE TABLE sla (task TEXT NOT NULL, sys_id TEXT, name TEXT, "
                         "stage TEXT, breached INTEGER, reason TEXT, reason_missing INTEGER)")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="task-sla")
        self._done = self._pool.submit(self._run)

    def wait(self) -> None:
        """Until every row is kept; the read's own error raised."""
        self._done.result()

    def slas_of(self, ids: Sequence[str]) -> dict[str, list[tuple[SlaRecord, bool]]]:
        """Each task's SLA records in task_sla sys_id order, with whether a breached one did
        not return the breach reason field; tasks without any are left out."""
        found: dict[str, list[tuple[SlaRecord, bool]]] = {}
        with self._lock:
            for start in range(0, len(ids), _ASK):
                chunk = ids[start:start + _ASK]
                for task, _, name, stage, breached, reason, missing in self._db.execute(
                        "SELECT * FROM sla WHERE task IN "
                        f"({','.join('?' * len(chunk))}) ORDER BY sys_id", chunk):
                    found.setdefault(task, []).append(
                        (SlaRecord(name, stage, bool(breached), reason=reason), bool(missing)))
        return found

    def close(self) -> None:
        """Stops the read (a request in flight is waited for) and drops the kept rows."""
        self._stop.set()
        self._pool.shutdown(wait=True)
        with self._lock:
            self._db.close()

    def _run(self) -> None:
        try:
            task = check_field(self.source.task)
            self._read(tuple((f"{task}.sys_class_nameINSTANCEOF{check_value(task_class)}",)
                             for task_class in self.task_classes), final=False)
            if self.total == 0:  # nothing of the class, or the condition refused: read it all
                self._read(EVERYTHING, final=True)
            with self._lock:
                self._db.execute("CREATE INDEX sla_task ON sla (task)")
        finally:
            self.counted.set()

    def _read(self, filter_: Filter, *, final: bool) -> None:
        source = self.source
        stats: list[ScanStats] = []  # one per range; the first one's count covers the query

        def scan(start: str | None = None, below: str | None = None) -> KeysetScan:
            stats.append(ScanStats())
            return KeysetScan(self.pages, check_field(source.table), filter_,
                              source.summary_fields(), SLA_PAGE, stats=stats[-1],
                              max_pages=self.max_pages, start=start, below=below)

        first = scan()
        rows = first.rows()
        try:
            row = next(rows, None)
            self.total = first.stats.total
            if self.total or final:
                self.counted.set()
            if row is None:
                return
            bounds: list[str] = []
            if self.streams > 1 and first.after is not None and self.total is not None:
                bounds = split_after(first.after, first.stats.rows, self.total, SLA_PAGE,
                                     self.streams)
            if not bounds:
                self._keep(self._checked(first, chain((row,), rows)))
                return
            first.below = bounds[0]  # the first range reads on up to the first bound
            first.recount = True  # its first count covered every range
            others = [scan(a, b) for a, b in zip(bounds, [*bounds[1:], None], strict=True)]
            self._keep(interleaved([
                partial(self._checked, first, chain((row,), rows)),
                *(partial(self._checked, other, other.rows()) for other in others)]))
        finally:
            self.withheld += max(0, (stats[0].total or 0) - sum(one.rows for one in stats))
            for one in stats:
                self.notices.extend(one.notices)

    def _checked(self, scan: KeysetScan, rows: Iterable[Json]) -> Iterator[Json]:
        """The rows of one range, each inside it and after the one before (a row out of place
        would count an SLA twice or not at all: the read stops instead)."""
        previous = ""
        for row in rows:
            if self._stop.is_set():  # closed: no further page is asked for
                return
            sys_id = text(row.get("sys_id")) if isinstance(row, dict) else ""
            start, below = scan.start, scan.below
            if (not sys_id or sys_id <= previous or (start is not None and sys_id < start)
                    or (below is not None and sys_id >= below)):
                raise SourceError(f"{self.source.table}: a row of the table read is not a "
                                  f"record in sys_id order inside the key range asked for "
                                  f"[{start or ''}, {below or ''}) (sys_id {sys_id!r} after "
                                  f"{previous!r}); stopping")
            previous = sys_id
            yield row

    def _keep(self, rows: Iterator[Json]) -> None:
        source = self.source
        try:
            while chunk := list(islice(rows, _KEEP)):
                kept = [_kept(row, source) for row in chunk]
                with self._lock:
                    self._db.executemany("INSERT INTO sla VALUES (?, ?, ?, ?, ?, ?, ?)", kept)
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()  # ends the ranges' threads when stopped early


def _kept(row: Json, source: SlaSource) -> tuple[str, str, str, str, int, str | None, int]:
    """A row as the database keeps it (a row naming no task joins no record: kept anyway)."""
    sla = summary_record(row, source)
    return (task_of(row.get(source.task)), text(row.get("sys_id")), sla.name, sla.stage,
            int(sla.breached), sla.reason, int(reason_not_returned(row, source)))
