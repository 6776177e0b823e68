"""Remediation tasks in ServiceNow task tables, keyed by fingerprint in `correlation_id`.

Only the configured task tables can be written; source records (incident, problem,
change_request, sc_req_item and its sc_request) can never be modified through this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sms_conformance.connectors.http.retry import AmbiguousWriteError
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.paging import KeysetScan, text
from sms_conformance.connectors.servicenow.query import Filter, check_field, condition
from sms_conformance.model.errors import ConfigError, SourceError

_SYS_ID = re.compile(r"[A-Za-z0-9_-]+")
DEFAULT_TASK_TABLES = frozenset({"incident_task", "problem_task", "change_task", "sc_task"})
SOURCE_TABLES = frozenset({"incident", "problem", "change_request", "sc_req_item", "sc_request",
                           "task"})
# The reference from each out-of-the-box task table to the record it is about (a catalog
# task's requested item is its request_item).
DEFAULT_PARENTS = {"incident_task": "incident", "problem_task": "problem",
                   "change_task": "change_request", "sc_task": "request_item"}
# The table each of those references points at.
PARENT_TABLES = {"incident": "incident", "problem": "problem",
                 "change_request": "change_request", "request_item": "sc_req_item"}
TASK_FIELDS = (
    "sys_id", "number", "correlation_id", "correlation_display", "state", "active",
    "short_description", "description", "assignment_group", "priority", "due_date", "parent",
    "sys_created_on", "sys_updated_on",
    # A plain text field (work notes, a journal, read back as ""): where an owner who closes
    # a task writes `sms-disputed` to dispute it.
    "close_notes",
)
# Closed state per out-of-the-box task table (incident_task numbers are unverified).
CLOSED_STATE = {"incident_task": "3", "problem_task": "157", "change_task": "3", "sc_task": "3"}
TOOL_MARKER = "sms-conformance"  # correlation_display of the tasks this tool creates


@dataclass(frozen=True)
class SnTask:
    """A row of a task table as read: its fields as text."""

    fingerprint: str  # correlation_id
    table: str
    id: str
    number: str
    open: bool
    parent: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""  # sys_created_on, "YYYY-MM-DD hh:mm:ss" UTC: orders duplicates


def _checked(sys_id: str) -> str:
    if not _SYS_ID.fullmatch(sys_id):
        raise ConfigError(f"invalid sys_id {sys_id!r}")
    return sys_id


def batched(items: Iterable[str], size: int) -> Iterable[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


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
        parents: Mapping[str, str] | None = None,
        marker: str = TOOL_MARKER,
        closed_states: Mapping[str, str] | None = None,
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
        self.parents = {**DEFAULT_PARENTS, **(parents or {})}
        self.marker = marker
        self.closed_states = {**CLOSED_STATE, **(closed_states or {})}

    def allowed(self, table: str) -> str:
        if table not in self.write_tables:
            raise ConfigError(
                f"refusing to write to {table!r}: write-back tables are "
                f"{', '.join(sorted(self.write_tables))}"
            )
        return table

    def ref(self, table: str, row: Mapping[str, object]) -> SnTask:
        fields = {key: text(value) for key, value in row.items()}
        active = fields.get("active", "").lower()
        is_open = (active == "true" if active
                   else fields.get("state") != self.closed_states.get(table))
        return SnTask(
            fingerprint=fields.get("correlation_id", ""),
            table=table,
            id=fields.get("sys_id", ""),
            number=fields.get("number", ""),
            open=is_open,
            parent=fields.get(self.parents.get(table, "parent"), ""),
            fields=fields,
            created=fields.get("sys_created_on", ""),
        )

    def _scan(self, table: str, filter_: Filter) -> list[SnTask]:
        fields = (*TASK_FIELDS, self.parents.get(table, "parent"))
        scan = KeysetScan(self.client, table, filter_, fields, self.page_size)
        return [self.ref(table, row) for row in scan.rows()]

    def find(self, table: str, fingerprints: Iterable[str]) -> list[SnTask]:
        """Every task, open or closed, carrying one of `fingerprints` (duplicates included)."""
        self.allowed(table)
        wanted = sorted({f for f in fingerprints if f})
        found: list[SnTask] = []
        for chunk in batched(wanted, self.batch):
            tasks = self._scan(table, ((condition("correlation_id", chunk),),))
            found.extend(t for t in tasks if t.fingerprint in chunk)  # never trust the filter
        return found

    def open(self, table: str) -> list[SnTask]:
        """Every open task this tool created in `table`."""
        self.allowed(table)
        filter_ = ((condition("correlation_display", [self.marker]), "active=true"),)
        return [t for t in self._scan(table, filter_) if t.open]

    def read(self, table: str, sys_id: str) -> SnTask | None:
        """One row of a task table by its sys_id (a GET of the record, not a query), whatever
        its correlation fields say (`marked` tells); None when it is gone."""
        self.allowed(table)
        fields = ",".join((*TASK_FIELDS, self.parents.get(table, "parent")))
        row = self.client.get(table, _checked(sys_id), {"sysparm_fields": fields})
        return self.ref(table, row) if row else None

    def marked(self, task: SnTask) -> bool:
        """The row carries this tool's marker (correlation_display)."""
        return task.fields.get("correlation_display") == self.marker

    def create(self, table: str, fields: Mapping[str, str]) -> SnTask:
        """POST a task; if the outcome is unknown, look for it by fingerprint before resending."""
        self.allowed(table)
        try:
            return self.ref(table, self.client.create(table, fields))
        except AmbiguousWriteError:
            fingerprint = fields.get("correlation_id")
            if not fingerprint:
                raise
            existing = self.find(table, [fingerprint])
            if existing:
                return existing[0]
            return self.ref(table, self.client.create(table, fields))

    def update(self, table: str, sys_id: str, fields: Mapping[str, str]) -> SnTask:
        self.allowed(table)
        return self.ref(table, self.client.update(table, _checked(sys_id), fields))

    def attached(self, table: str, sys_id: str) -> set[str]:
        """The names of the files attached to a task."""
        self.allowed(table)
        return {text(row.get("file_name")) for row in self.client.attachments(table, _checked(sys_id))}

    def attach(self, table: str, sys_id: str, file_name: str, content: bytes,
               content_type: str = "text/csv") -> None:
        """Attaches a file to a task unless one of that name is there; an upload whose outcome
        is unknown is looked for before it is sent again."""
        if file_name in self.attached(table, sys_id):
            return
        try:
            self.client.attach(table, sys_id, file_name, content, content_type)
        except AmbiguousWriteError:
            if file_name not in self.attached(table, sys_id):
                self.client.attach(table, sys_id, file_name, content, content_type)

    def close(self, table: str, sys_id: str, note: str, state: str | None = None) -> SnTask:
        """Close a task with a work note (state: the table's closed value unless given)."""
        closed = state or self.closed_states.get(table)
        if closed is None:
            raise ConfigError(f"{table}: no closed state known; configure one")
        return self.update(table, sys_id, {"state": closed, "work_notes": note})

    def create_many(
        self, table: str, items: Sequence[Mapping[str, str]], max_workers: int = 8
    ) -> list[SnTask | SourceError]:
        """Create tasks concurrently; results in input order, a failure as its SourceError."""
        self.allowed(table)

        def one(fields: Mapping[str, str]) -> SnTask | SourceError:
            try:
                return self.create(table, fields)
            except SourceError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
            return list(pool.map(one, items))

    def create_all(
        self, table: str, items: Sequence[Mapping[str, str]], max_workers: int = 8
    ) -> list[SnTask]:
        """Like create_many, but raises after all attempts if any creation failed."""
        results = self.create_many(table, items, max_workers)
        failed = [r for r in results if isinstance(r, SourceError)]
        if failed:
            raise SourceError(
                f"{table}: {len(failed)} of {len(items)} tasks could not be created "
                f"(the others were; a rerun finds them by fingerprint): {failed[0]}"
            )
        return [r for r in results if isinstance(r, SnTask)]
