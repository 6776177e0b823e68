"""What a connector can do, as protocols. A connector class declares the ones it offers in
`capabilities`; callers ask `writes_tasks(connector)`, `doctor_of(connector)`, never probe for methods."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, cast

from sms_conformance.connectors.base import Connector, TaskPort
from sms_conformance.model.records import Process, Record, Ref
from sms_conformance.rules.matrices import Lookup
from sms_conformance.rules.model import Rule

Level = Literal["ok", "warn", "fail"]


class Reads(Connector, Protocol):
    """Reads records (every connector): fetch, resolve references by kind, count referrers."""

    capabilities: ClassVar[frozenset[type]]


class WritesTasks(Protocol):
    """Writes remediation tasks, never the scanned records, through a port for the run."""

    def task_port(self, settings: Mapping[str, Any]) -> TaskPort:
        """The port for this run, from the whole settings (its own write-back part checked:
        a ConfigError when wrong)."""
        ...


@dataclass(frozen=True)
class Finding:
    """One line of `doctor`: ok, warn or fail, with how to fix it."""

    level: Level
    message: str
    fix: str = ""


class Doctor(Protocol):
    """Checks that the source can serve a scan and write-back, before one runs."""

    def doctor(self, rules: Sequence[Rule], settings: Mapping[str, Any]) -> list[Finding]:
        """Findings in order: reachability, auth, what the rules read, write-back targets."""
        ...

    def check_task_targets(self, targets: Iterable[str]) -> list[Finding]:
        """Whether each write-back target (a declared custom one) may receive tasks."""
        ...


class Traces(Protocol):
    """Finds a record by its number and a record's referrers where the generic reading
    (`fetch` with a scope on `number` or on the link) cannot say them exactly (Jira: issue
    keys of every process share one prefix, and links are not searchable fields)."""

    def record_by_number(self, number: str,
                         fields: Callable[[Process], AbstractSet[str]]) -> Record | None:
        """The record with this number, read with `fields(its process)`; None if none."""
        ...

    def referrers(self, process: Process, field: str, record_id: str) -> list[Ref]:
        """The `process` records whose canonical reference `field` points at `record_id`."""
        ...


class LooksUpPriority(Protocol):
    """Reads the platform's own priority lookup (ServiceNow dl_u_priority), once per scan."""

    def priority_lookup(self) -> Lookup:
        """Its table, or None with why not (no read access, no rows): never raised for that."""
        ...


# Protocol classes cannot be passed where a type[T] is expected (mypy: type-abstract): one
# accessor per capability.
def writes_tasks(connector: Reads) -> WritesTasks | None:
    """`connector` as a task writer when its class declares it, else None."""
    return cast(WritesTasks, connector) if WritesTasks in connector.capabilities else None


def doctor_of(connector: Reads) -> Doctor | None:
    """`connector` as a doctor when its class declares it, else None."""
    return cast(Doctor, connector) if Doctor in connector.capabilities else None


def tracer_of(connector: Reads) -> Traces | None:
    """`connector` as Traces when its class declares it, else None."""
    return cast(Traces, connector) if Traces in connector.capabilities else None


def priority_lookup_of(connector: Reads) -> LooksUpPriority | None:
    """`connector` as a reader of the platform's priority lookup when its class declares it."""
    return cast(LooksUpPriority, connector) if LooksUpPriority in connector.capabilities else None
