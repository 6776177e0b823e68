"""Remediation tasks in ServiceNow task tables, keyed by fingerprint in `correlation_id`.

Only the configured task tables can be written; source records (incident, problem,
change_request) can never be modified through this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

from sms_conformance.connectors.base import TaskRef
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.paging import KeysetScan, text
from sms_conformance.connectors.servicenow.query import check_field, check_value, condition
from sms_conformance.connectors.servicenow.retry import AmbiguousWriteError
from sms_conformance.errors import ConfigError, SourceError

_SYS_ID = re.compile(r"[A-Za-z0-9_-]+")
DEFAULT_TASK_TABLES = frozenset({"incident_task", "problem_task", "change_task"})
SOURCE_TABLES = frozenset({"incident", "problem", "change_request", "task"})
TASK_FIELDS = (
    "sys_id", "number", "correlation_id", "state", "active", "short_description",
    "assignment_group", "priority", "due_date", "parent", "sys_updated_on",
)
# Closed state per out-of-the-box task table (incident_task numbers are unverified).
CLOSED_STATE = {"incident_task": "3", "problem_task": "157", "change_task": "3"}


def batched(items: Iterable[str], size: int) -> Iterable[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def task_ref(table: str, row: Mapping[str, object]) -> TaskRef:
    active = text(row.get("active")).lower()
    state = text(row.get("state"))
    is_open = active == "true" if active else state != CLOSED_STATE.get(table)
    return TaskRef(
        fingerprint=text(row.get("correlation_id")),
        table=table,
        id=text(row.get("sys_id")),
        number=text(row.get("number")),
        open=is_open,
        fields=dict(row),
    )


class TaskTables:
    """Find, create and update remediation tasks in an allow-list of tables."""

    def __init__(
        self,
        client: TableClient,
        write_tables: frozenset[str] = DEFAULT_TASK_TABLES,
        *,
        batch: int = 100,
        page_size: int = 1000,
        protected: frozenset[str] = SOURCE_TABLES,
        notices: list[str] | None = None,
    ) -> None:
        forbidden = write_tables & protected
        if forbidden:
            raise ConfigError(
                f"write-back tables must not include source tables: {', '.join(sorted(forbidden))}"
            )
        self.client = client
        self.write_tables = frozenset(check_field(t) for t in write_tables)
        self.batch = batch
        self.page_size = page_size
        self.notices = notices if notices is not None else []

    def allowed(self, table: str) -> str:
        if table not in self.write_tables:
            raise ConfigError(
                f"refusing to write to {table!r}: write-back tables are "
                f"{', '.join(sorted(self.write_tables))}"
            )
        return table

    def find(self, table: str, fingerprints: Iterable[str]) -> dict[str, TaskRef]:
        """Tasks by fingerprint; with duplicates an open task wins, then the newest."""
        self.allowed(table)
        found: dict[str, TaskRef] = {}
        wanted = sorted({check_value(f, "correlation_id") for f in fingerprints if f})
        for chunk in batched(wanted, self.batch):
            scan = KeysetScan(
                self.client, table, ((condition("correlation_id", chunk),),), TASK_FIELDS,
                self.page_size,
            )
            for row in scan.rows():
                task = task_ref(table, row)
                if task.fingerprint not in chunk:
                    continue  # the server ignored part of the query
                if task.fingerprint in found:
                    self.notices.append(f"{table}: several tasks carry fingerprint "
                                        f"{task.fingerprint}")
                    if not _better(task, found[task.fingerprint]):
                        continue
                found[task.fingerprint] = task
        return found

    def create(self, table: str, fields: Mapping[str, str]) -> TaskRef:
        """POST a task; if the outcome is unknown, look for it by fingerprint before resending."""
        self.allowed(table)
        try:
            return task_ref(table, self.client.create(table, fields))
        except AmbiguousWriteError:
            fingerprint = fields.get("correlation_id")
            if not fingerprint:
                raise
            existing = self.find(table, [fingerprint]).get(fingerprint)
            if existing is not None:
                return existing
            return task_ref(table, self.client.create(table, fields))

    def update(self, table: str, sys_id: str, fields: Mapping[str, str]) -> TaskRef:
        self.allowed(table)
        if not _SYS_ID.fullmatch(sys_id):
            raise ConfigError(f"invalid sys_id {sys_id!r}")
        return task_ref(table, self.client.update(table, sys_id, fields))

    def close(self, table: str, sys_id: str, note: str, state: str | None = None) -> TaskRef:
        """Close a task with a work note (state: the table's closed value unless given)."""
        closed = state or CLOSED_STATE.get(table)
        if closed is None:
            raise ConfigError(f"{table}: no closed state known; configure one")
        return self.update(table, sys_id, {"state": closed, "work_notes": note})

    def create_many(
        self, table: str, items: Sequence[Mapping[str, str]], max_workers: int = 8
    ) -> list[TaskRef | SourceError]:
        """Create tasks concurrently; results in input order, a failure as its SourceError."""
        self.allowed(table)

        def one(fields: Mapping[str, str]) -> TaskRef | SourceError:
            try:
                return self.create(table, fields)
            except SourceError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            return list(pool.map(one, items))


def _better(candidate: TaskRef, current: TaskRef) -> bool:
    if candidate.open != current.open:
        return candidate.open
    return text(candidate.fields.get("sys_updated_on")) > text(current.fields.get("sys_updated_on"))

