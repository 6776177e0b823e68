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
import threading
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
        self._lock = threading.Lock()  # parallel streams share the reader

    def attach(self, records: Iterable[Record]) -> Iterator[Record]:
        """The records, each with its SLA fields, in their order."""
        iterator = iter(records)
        while chunk := list(islice(iterator, self.batch * self.streams)):
            yield from self._with_slas(chunk)

    def _with_slas(self, records: list[Record]) -> list[Record]:
        if self.denied is None:
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
        with self._lock:
            self.requests += stats.pages
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
        by_task.setdefault(_task_of(row.get(source.task)), []).append(row)
    out = []
    for record in records:
        own = by_task.get(record.id) or by_task.get(record.number) or []
        fields = derived_fields([_sla(row, source) for row in own], per_reason)
        if per_reason and (missing := _reason_missing(own, source)) is not None:
            fields[REASON] = missing
        out.append(replace(record, fields={**record.fields, **fields}))
    return out


def _task_of(value: object) -> str:
    """The task a row names: its stored value, else its link's sys_id, else what it shows."""
    if isinstance(value, dict):
        link = str(value.get("link") or "")
        return (text(value.get("value")) or link.split("?", 1)[0].rsplit("/", 1)[-1]
                or text(value.get("display_value")))
    return text(value)


def _shown(value: object) -> str:
    """A value as stored, or as displayed where the export shows only that."""
    if isinstance(value, dict):
        return text(value.get("value")) or text(value.get("display_value"))
    return text(value)


def _sla(row: Json, source: SlaSource) -> SlaRecord:
    name = _shown(row.get(source.name)) or _shown(row.get(source.name.split(".", 1)[0]))
    planned = parse_datetime(_shown(row.get(source.planned_end)))
    return SlaRecord(
        name=name, stage=_shown(row.get(source.stage)).strip().lower().replace(" ", "_"),
        breached=_shown(row.get(source.breached)).lower() == "true",
        planned_end=planned if isinstance(planned, datetime) else None,
        business_percentage=_number(_shown(row.get(source.business_percentage))),
        pause_seconds=_seconds(_shown(row.get(source.pause_duration))),
        reason=_shown(row.get(source.breach_reason)) if source.breach_reason else None,
    )


def _reason_missing(rows: list[Json], source: SlaSource) -> Value:
    """Unknown when a breached row did not return the reason field (not on the table?)."""
    field = source.breach_reason or ""
    for row in rows:
        if _shown(row.get(source.breached)).lower() == "true" and field not in row:
            return not_returned(f"{source.table}.{field}")
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
