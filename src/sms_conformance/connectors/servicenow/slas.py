"""The SLA records (task_sla) of the records a fetch reads, summed up on each record
(model/slas.py), read one of two ways, whichever takes fewer requests:

- by table (sla_table.py): every SLA record of the process's task class, in parallel key ranges
  of large projected pages, begun beside the fetch's first page on a full scan; records are
  joined to them once the whole table is read (any row may name any record). A full scan of
  20,000 incidents asks for about 10 pages instead of 200 batches.
- by batch: `taskIN<ids>` per batch of records in sys_id order, side by side with parallel
  streams, while the fetch's read-ahead keeps the next pages coming: exactly the records read,
  about ceil(records / batch) requests, for incremental and scoped scans reading few records.
  A full scan of several task classes with the same SLA source (incidents and requested items)
  shares one table read (SharedSlaTable): the SLA records are read once, not once per class.
  The fetch's first page says how many records there are (X-Total-Count); the table read's
  first page how many SLA records: the table read goes on only where its pages are no more
  than the batches.

A user who may not read task_sla (403) gets every SLA field of every record as unknown, with
the reason, after one refused request per way; a batch the instance withheld rows of (read
ACLs: its count above the rows returned) leaves the SLA fields of that batch's records unknown.
A table read that shows withheld rows cannot say whose they are: the records are then read by
batch, so only the batches that miss some are unknown, never passed or failed on what could
not be read.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import islice

from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.servicenow.fieldmap import SlaSource
from sms_conformance.connectors.servicenow.paging import KeysetScan, PageSource, ScanStats
from sms_conformance.connectors.servicenow.query import check_field, condition
from sms_conformance.connectors.servicenow.responses import Json
from sms_conformance.connectors.servicenow.sla_rows import reason_missing, sla_record, task_of
from sms_conformance.connectors.servicenow.sla_table import SLA_PAGE, SlaTable
from sms_conformance.model.records import Record, not_returned
from sms_conformance.model.slas import REASON, derived_fields, unknown_fields


class SharedSlaTable:
    """One table read of the SLA records of every task class a full scan reads from the same
    SLA source (the rows join by task, whatever its class): begun by the first reader that
    asks for it, read once for all, closed when the scan's reads end (`close`)."""

    def __init__(self, start: Callable[[], SlaTable]) -> None:
        self._start = start
        self._table: SlaTable | None = None
        self._lock = threading.Lock()

    def table(self) -> tuple[SlaTable, bool]:
        """The read, and whether this call began it (False: begun by another reader)."""
        with self._lock:
            if self._table is None:
                self._table = self._start()
                return self._table, True
            return self._table, False

    def close(self) -> list[str]:
        """Ends the read, if begun; what it noticed."""
        with self._lock:
            table, self._table = self._table, None
        if table is None:
            return []
        table.close()
        return table.notices


class SlaReader:
    """Attaches the SLA fields to records as they stream past (one reader per fetch of
    `task_class`'s records). `whole`: a full scan, whose table read begins at once; `shared`:
    the read of the SLA records of all the scan's task classes, taken instead of one of its own
    (its owner closes it)."""

    def __init__(self, pages: PageSource, source: SlaSource, task_class: str, *, batch: int,
                 page_size: int, max_pages: int, streams: int, notices: list[str],
                 whole: bool, shared: SharedSlaTable | None = None) -> None:
        self.pages, self.source, self.task_class = pages, source, task_class
        self._shared = shared
        self._sunk = False  # the shared read was begun by another reader: it costs nothing more
        self.batch, self.page_size, self.max_pages = batch, page_size, max_pages
        self.streams = max(1, streams)
        self.notices = notices
        self.denied: str | None = None  # why task_sla cannot be read, once refused
        self._lock = threading.Lock()  # parallel streams share the reader
        self._records: int | None = None  # what the fetch's first page counted
        self._table = self._start_table() if whole else None
        self._chosen = False  # the way of reading decided (_table kept: by table)

    def expect(self, records: int | None) -> None:
        """The fetch's first page counted `records` (None: no count): a scan reading more than
        one batch begins the table read now, unless it has begun."""
        self._records = records
        if self._table is None and records is not None and records > self.batch:
            self._table = self._start_table()

    def close(self) -> None:
        """Ends the table read, if any (the fetch has ended)."""
        with self._lock:
            table, self._table = self._table, None
        if table is not None:
            self._drop(table)

    def attach(self, records: Iterable[Record]) -> Iterator[Record]:
        """The records, each with its SLA fields, in their order."""
        iterator = iter(records)
        while chunk := list(islice(iterator, self.batch * self.streams)):
            yield from self._with_slas(chunk)

    def _start_table(self) -> SlaTable:
        if self._shared is not None:
            table, begun = self._shared.table()
            self._sunk = not begun
            return table
        return SlaTable(self.pages, self.source, (self.task_class,), streams=self.streams,
                        max_pages=self.max_pages)

    def _by_table(self) -> SlaTable | None:
        """The table read, once read whole, where it is the way (decided once)."""
        with self._lock:
            if not self._chosen:
                self._chosen = True
                table = self._table
                if table is not None and not self._worth(table):
                    self._table = None
                    self._drop(table)
            return self._table

    def _worth(self, table: SlaTable) -> bool:
        """Whether the table read serves: no more pages than the batches, every counted row
        read. A refused one (403) leaves the batches to find out and say so."""
        table.counted.wait()
        pages = math.ceil((table.total or 0) / SLA_PAGE)
        if (not self._sunk and table.total is not None
                and pages > math.ceil((self._records or 0) / self.batch)):
            return False
        try:
            table.wait()
        except HTTPAuthError as exc:
            if exc.status != 403:
                raise
            return False
        return table.withheld == 0

    def _drop(self, table: SlaTable) -> None:
        if self._shared is not None:
            return  # not this reader's to end
        table.close()
        self.notices.extend(table.notices)

    def _with_slas(self, records: list[Record]) -> list[Record]:
        if self.denied is None:
            table = self._by_table()
            if table is not None:
                return joined(records, table, self.source)
            chunks = [records[i:i + self.batch] for i in range(0, len(records), self.batch)]
            try:
                answers = self._each(chunks)
            except HTTPAuthError as exc:
                if exc.status != 403:
                    raise
                with self._lock:
                    if self.denied is None:
                        self.denied = (f"{self.source.table} may not be read by this user "
                                       f"({exc})")
                        self.notices.append(
                            f"{self.denied}: the SLA rules are unknown, no task is written on "
                            f"them (grant the integration user read access to "
                            f"{self.source.table})")
            else:
                out: list[Record] = []
                for chunk, (rows, withheld) in zip(chunks, answers, strict=True):
                    out += self._summed(chunk, rows, withheld)
                return out
        return with_unknown(records, self.source, self.denied or "")

    def _each(self, chunks: Sequence[list[Record]]) -> list[tuple[list[Json], int]]:
        if self.streams <= 1 or len(chunks) <= 1:
            return [self._read(chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=min(self.streams, len(chunks)),
                                thread_name_prefix="task-sla") as pool:
            return list(pool.map(self._read, chunks))

    def _read(self, records: list[Record]) -> tuple[list[Json], int]:
        """The SLA rows of one batch of records, and how many the instance withheld."""
        source = self.source
        stats = ScanStats()
        scan = KeysetScan(self.pages, check_field(source.table),
                          ((condition(source.task, [r.id for r in records]),),),
                          source.platform_fields(), self.page_size, stats=stats,
                          max_pages=self.max_pages)
        rows = list(scan.rows())
        return rows, max(0, (stats.total or 0) - stats.rows)

    def _summed(self, records: list[Record], rows: list[Json], withheld: int) -> list[Record]:
        if withheld:
            reason = (f"the instance withheld {withheld} {self.source.table} record(s) of this "
                      "batch from this user (read ACLs?): its SLA records may be incomplete")
            return with_unknown(records, self.source, reason)
        return summed_up(records, rows, self.source)


def with_unknown(records: Iterable[Record], source: SlaSource, reason: str) -> list[Record]:
    """The records with every SLA field unknown, for `reason`."""
    unknown = unknown_fields(reason, source.breach_reason is not None)
    return [replace(r, fields={**r.fields, **unknown}) for r in records]


def summed_up(records: Iterable[Record], rows: Iterable[Json], source: SlaSource
              ) -> list[Record]:
    """The records with the SLA fields of their `rows` (task_sla rows naming them as task: by
    sys_id, or by number where an export shows the task by its display value)."""
    per_reason = source.breach_reason is not None
    by_task: dict[str, list[Json]] = {}
    for row in rows:
        by_task.setdefault(task_of(row.get(source.task)), []).append(row)
    out = []
    for record in records:
        own = by_task.get(record.id) or by_task.get(record.number) or []
        fields = derived_fields([sla_record(row, source) for row in own], per_reason)
        if per_reason and (missing := reason_missing(own, source)) is not None:
            fields[REASON] = missing
        out.append(replace(record, fields={**record.fields, **fields}))
    return out


def joined(records: Sequence[Record], table: SlaTable, source: SlaSource) -> list[Record]:
    """The records with the SLA fields of the table read's rows naming them (by sys_id)."""
    per_reason = source.breach_reason is not None
    found = table.slas_of([r.id for r in records])
    out = []
    for record in records:
        own = found.get(record.id, [])
        fields = derived_fields([sla for sla, _ in own], per_reason)
        if per_reason and any(missing for _, missing in own):
            fields[REASON] = not_returned(f"{source.table}.{source.breach_reason}")
        out.append(replace(record, fields={**record.fields, **fields}))
    return out
