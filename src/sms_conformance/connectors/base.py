"""The connector contract: the only way the rest of the tool reaches a platform."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sms_conformance.records import Process, Record, Ref

# One rule scope: canonical field -> allowed canonical values (ANDed fields, ORed values).
Scope = Mapping[str, tuple[Any, ...]]


class NotRead(Exception):
    """The source holds no readable copy of a table (not exported, no read access): what it
    would say about a linked record is unknown, neither "exists" nor "does not exist"."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"{table}: {reason}")
        self.table = table
        self.reason = reason


@dataclass(frozen=True)
class FetchRequest:
    """What to read for one process.

    scopes: records matching ANY scope are wanted (an empty scope means every record);
    fields: canonical fields the rules read; since: only records updated at or after it.
    """

    process: Process
    scopes: tuple[Scope, ...]
    fields: frozenset[str]
    since: datetime | None = None


@dataclass(frozen=True)
class TaskRef:
    """A remediation task as found on the platform."""

    fingerprint: str
    table: str
    id: str
    number: str
    open: bool
    parent: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""  # sys_created_on, "YYYY-MM-DD hh:mm:ss" UTC: orders duplicates


class Connector(Protocol):
    platform: str
    instance: str
    notices: list[str]

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        """Records in scope, streaming; raises SourceError if any page cannot be read."""
        ...

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> dict[Ref, Record]:
        """Referenced records that exist (missing ones are absent from the result), with at
        least the canonical `fields` (all mapped fields when None). Raises NotRead when the
        table of the refs cannot be read at all."""
        ...

    def count_referrers(
        self, process: Process, field: str, ids: Iterable[str]
    ) -> dict[str, int]:
        """How many `process` records reference each id through canonical `field`; NotRead
        when that table or field cannot be read."""
        ...


class TaskPort(Protocol):
    """Writing remediation tasks: only to task tables, never to the scanned records."""

    def find_tasks(self, table: str, fingerprints: Iterable[str]) -> list[TaskRef]:
        """Every task (open or closed) whose correlation id is one of `fingerprints`."""
        ...

    def open_tasks(self, table: str) -> list[TaskRef]:
        """Every open task this tool created in `table`."""
        ...

    def create_tasks(self, table: str, rows: list[dict[str, str]]) -> list[TaskRef]:
        """Create tasks (concurrently where the platform allows); results in input order."""
        ...

    def update_task(self, table: str, sys_id: str, fields: Mapping[str, str]) -> TaskRef: ...
