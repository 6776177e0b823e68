"""The SLA records (task_sla) of the records a fetch reads, summed up on each record
(model/slas.py): one projected read per batch of records, `taskIN<ids>` in sys_id order with
only the fields the summary needs, side by side with parallel streams (each request through the
run's gate), while the fetch's read-ahead keeps the next pages coming. A scan thus asks for the
SLA records of exactly the records it reads (incremental and scoped scans too), about
ceil(records / batch) requests in all, and holds no more than one batch of them.

A user who may not read task_sla (403) gets every SLA field of every record as unknown, with
the reason, after one refused request; a batch the instance withheld rows of (read ACLs: its
count above the rows returned) leaves the SLA fields of that batch's records unknown.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from itertools import islice

from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.servicenow.fieldmap import SlaSource
from sms_conformance.connectors.servicenow.paging import KeysetScan, PageSource, ScanStats, text
from sms_conformance.connectors.servicenow.query import check_field, condition
from sms_conformance.connectors.servicenow.responses import Json
from sms_conformance.model.dates import parse_datetime
from sms_conformance.model.records import Record, Value, not_returned
from sms_conformance.model.slas import REASON, SlaRecord, derived_fields, unknown_fields

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SlaReader:
    """Attaches the SLA fields to records as they stream past (one reader per fetch)."""

    def __init__(self, pages: PageSource, source: SlaSource, *, batch: int, page_size: int,
                 max_pages: int, streams: int, notices: list[str]) -> None:
        self.pages, self.source = pages, source
        self.batch, self.page_size, self.max_pages = batch, page_size, max_pages
        self.streams = max(1, streams)
        self.notices = notices
        self.denied: str | None = None  # why task_sla cannot be read, once refused
        self.requests = 0

    def attach(self, records: Iterable[Record]) -> Iterator[Record]:
        """The records, each with its SLA fields, in their order."""
        iterator = iter(records)
        while chunk := list(islice(iterator, self.batch * self.streams)):
            yield from self._with_slas(chunk)

    def _with_slas(self, records: list[Record]) -> list[Record]:
        per_reason = self.source.breach_reason is not None
        if self.denied is None:
            chunks = [records[i:i + self.batch] for i in range(0, len(records), self.batch)]
            try:
                answers = self._each(chunks)
            except HTTPAuthError as exc:
                if exc.status != 403:
                    raise
                self.denied = f"{self.source.table} may not be read by this user ({exc})"
                self.notices.append(f"{self.denied}: the SLA rules are unknown, no task is "
                                    "written on them (grant the integration user read access "
                                    f"to {self.source.table})")
            else:
                out: list[Record] = []
                for chunk, (rows, withheld) in zip(chunks, answers, strict=True):
                    out += self._summed(chunk, rows, withheld)
                return out
        fields = unknown_fields(self.denied or "", per_reason)
        return [replace(r, fields={**r.fields, **fields}) for r in records]

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
        self.requests += stats.pages
        return rows, max(0, (stats.total or 0) - stats.rows)

    def _summed(self, records: list[Record], rows: list[Json], withheld: int) -> list[Record]:
        per_reason = self.source.breach_reason is not None
        if withheld:
            reason = (f"the instance withheld {withheld} {self.source.table} record(s) of this "
                      "batch from this user (read ACLs?): its SLA records may be incomplete")
            unknown = unknown_fields(reason, per_reason)
            return [replace(r, fields={**r.fields, **unknown}) for r in records]
        by_task: dict[str, list[Json]] = {}
        for row in rows:
            by_task.setdefault(text(row.get(self.source.task)), []).append(row)
        out = []
        for record in records:
            own = by_task.get(record.id, [])
            fields = derived_fields([self._sla(row) for row in own], per_reason)
            if per_reason and (missing := self._reason_missing(own)) is not None:
                fields[REASON] = missing
            out.append(replace(record, fields={**record.fields, **fields}))
        return out

    def _sla(self, row: Json) -> SlaRecord:
        source = self.source
        name = text(row.get(source.name)) or text(row.get(source.name.split(".", 1)[0]))
        planned = parse_datetime(text(row.get(source.planned_end)))
        return SlaRecord(
            name=name, stage=text(row.get(source.stage)),
            breached=text(row.get(source.breached)).lower() == "true",
            planned_end=planned if isinstance(planned, datetime) else None,
            business_percentage=_number(text(row.get(source.business_percentage))),
            pause_seconds=_seconds(text(row.get(source.pause_duration))),
            reason=text(row.get(source.breach_reason)) if source.breach_reason else None,
        )

    def _reason_missing(self, rows: list[Json]) -> Value:
        """Unknown when a breached row did not return the reason field (not on the table?)."""
        field = self.source.breach_reason or ""
        for row in rows:
            if text(row.get(self.source.breached)).lower() == "true" and field not in row:
                return not_returned(f"{self.source.table}.{field}")
        return None


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _seconds(value: str) -> int | None:
    """A ServiceNow duration as stored ("1970-01-01 02:30:00": time since the epoch)."""
    moment = parse_datetime(value) if value else None
    if not isinstance(moment, datetime):
        return None
    return int((moment - _EPOCH).total_seconds())
