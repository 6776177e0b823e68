"""The connector contract: the only way the rest of the tool reaches a platform."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sms_conformance.model.errors import SourceError
from sms_conformance.model.identity import Told
from sms_conformance.model.records import Process, Record, Ref

# One rule scope: canonical field -> allowed canonical values (ANDed fields, ORed values).
Scope = Mapping[str, tuple[Any, ...]]


class TaskNotWritten(SourceError):
    """One task could not be written (a transition refused or failing, a task a person retyped
    or moved): that task is reported and left for the next run, the rest of the plan goes on.
    `left_alone`: a person changed the task so that it is no longer this tool's to write (not
    a failure of the run)."""

    def __init__(self, message: str, *, left_alone: bool = False) -> None:
        super().__init__(message)
        self.left_alone = left_alone


class NotRead(Exception):
    """The source holds no readable copy of a table (not exported, no read access): what it
    would say about a linked record is unknown, neither "exists" nor "does not exist"."""

    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"{table}: {reason}")
        self.table = table
        self.reason = reason


K = TypeVar("K")
V = TypeVar("V")


class Partial(dict[K, V]):
    """A connector's answer (`resolve`, `count_referrers`) plus the keys it cannot vouch for:
    the source withheld records of their batch (read ACLs?), so a ref not found may exist and
    a count may be short. Those are unknown, neither missing nor complete."""

    def __init__(self) -> None:
        super().__init__()
        self.withheld: dict[K, str] = {}  # key -> why its answer is unknown


class TableRows:
    """The records of a pass over a whole kind (a connector's optional `read_table`); once they
    are exhausted, `withheld` is how many more the source counted but did not return."""

    def __init__(self, records: Iterable[Record], withheld: Callable[[], int]) -> None:
        self.records, self._withheld = records, withheld

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    @property
    def withheld(self) -> int:
        return self._withheld()


def withheld_reason(kind: str, record_id: str, count: int) -> str:
    """Why a record not returned is unknown when the source counted `count` it did not return."""
    return (f"{kind} {record_id} was not returned: the instance withheld {count} {kind} "
            "record(s) from this user (read ACLs?)")


def referrers_withheld(table: str, count: int) -> str:
    """Why a referrer count may be short when the source withheld `count` referring records."""
    return (f"the instance withheld {count} {table} record(s) from this user (read ACLs?): "
            "some may refer to it")


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


def matches_scope(fields: Mapping[str, Any], scope: Scope) -> bool:
    """Whether a record's canonical values fall in one scope (a file source filters itself)."""
    for name, allowed in scope.items():
        value = fields.get(name)
        if (value.id if isinstance(value, Ref) else value) not in allowed:
            return False
    return True


@dataclass(frozen=True)
class TaskDraft:
    """A remediation task as the plan wants it, in no platform's terms: each connector renders
    it (ServiceNow: a row of the process's task table; Jira: an issue linked to the record)."""

    fingerprint: str  # 40 hex characters: names the task across runs
    process: str  # incident | problem | change | request: which of the platform's targets applies
    kind: str  # record | corrective | finding
    title: str  # one line, already capped and neutralised
    body: str  # plain text, lines joined by "\n", capped and neutralised
    priority: int  # 1 (highest) .. 5
    due: datetime  # aware, UTC
    owner_id: str = ""  # platform id of the owner (a group, or a person), "" = none
    owner_kind: str = "group"  # group | person (a Jira accountId: the task's assignee)
    parent_id: str = ""  # platform id of the record it is about, "" for a corrective action
    attachment: tuple[str, bytes] | None = None  # (file name, content): the full list, CSV


# What an owner puts on a task to dispute it (a Jira label; a word of ServiceNow close notes).
DISPUTE_MARKER = "sms-disputed"


def says_disputed(text: str) -> bool:
    """Whether free text (close notes) carries DISPUTE_MARKER as a word, in any case."""
    return re.search(rf"(?<![\w-]){re.escape(DISPUTE_MARKER)}(?![\w-])", text,
                     re.IGNORECASE) is not None


@dataclass(frozen=True)
class TaskRef:
    """A remediation task as found on the platform, read back in the terms of a TaskDraft."""

    fingerprint: str
    where: str  # ServiceNow task table, Jira project key
    id: str  # the platform's id of the task
    number: str  # what people call it: ServiceNow number, Jira key
    open: bool
    parent: str = ""  # platform id of the record it is about
    title: str = ""
    body: str = ""
    priority: int = 0  # 0 when the platform gave none that reads as 1..5
    created: str = ""  # "YYYY-MM-DD hh:mm:ss" UTC: orders duplicates
    owner: str = ""  # platform id of the group (or person) it is assigned to
    owner_kind: str = "group"  # group | person (Jira: read back from the task's assignee)
    due: str = ""  # "YYYY-MM-DD hh:mm:ss" UTC, "" when the task has none
    # False when read by id (read_task) and found without the marker its fingerprint is known
    # by (Jira labels, ServiceNow correlation fields) or moved: a person changed it.
    marked: bool = True
    # Its owner disputes what it lists: DISPUTE_MARKER on it (a Jira label, a word of the
    # ServiceNow close notes). Closed so, it is not recreated for those findings.
    disputed: bool = False


class Connector(Protocol):
    """What the core reads through. Beyond fetch, resolve and count_referrers, the optional
    abilities of ConnectorDefaults: a connector that lacks one inherits its default answer."""

    platform: str
    instance: str
    notices: list[str]

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        """Records in scope, streaming; raises SourceError if any page cannot be read."""
        ...

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> dict[Ref, Record]:
        """Referenced records that exist (missing ones are absent from the result), with at
        least the canonical `fields` (all mapped fields when None). Raises NotRead when the
        table of the refs cannot be read at all; a `Partial` names refs that are unknown."""
        ...

    def count_referrers(
        self, process: Process, field: str, ids: Iterable[str]
    ) -> dict[str, int]:
        """How many `process` records reference each id through canonical `field`; NotRead
        when that table or field cannot be read; a `Partial` names counts that may be short."""
        ...

    def read_table(self, kind: str, fields: Set[str], max_requests: int) -> TableRows | None:
        ...

    def withheld(self, process: Process | str) -> int:
        ...

    def not_read(self, process: Process) -> str | None:
        ...

    def expected_total(self, process: Process | str) -> int | None:
        ...

    def export_moment(self) -> tuple[datetime, str] | None:
        ...

    def identify(self) -> Told | None:
        ...

    def reads_at_once(self) -> int:
        ...

    def start_up(self, scopes: Mapping[Process, tuple[Scope, ...]]) -> None:
        ...

    def end_reads(self) -> None:
        ...


class ConnectorDefaults:
    """The optional abilities of a connector, answered as a connector that lacks them answers;
    every connector class derives from it and overrides what it offers."""

    def read_table(self, kind: str, fields: Set[str], max_requests: int) -> TableRows | None:
        """A whole kind read in one projected pass (the local join), within `max_requests`;
        None when not offered or dearer than the look-ups it would save."""
        return None

    def withheld(self, process: Process | str) -> int:
        """How many records of `process` the source counted but did not return (read ACLs)."""
        return 0

    def not_read(self, process: Process) -> str | None:
        """Why the records of `process` were not read at all (not exported, no such work type),
        else None: counts of its records are then unknown, not zero."""
        return None

    def expected_total(self, process: Process | str) -> int | None:
        """How many records the read of `process` will give, when the source says."""
        return None

    def export_moment(self) -> tuple[datetime, str] | None:
        """When an export was taken and how that was told; None for a live source."""
        return None

    def identify(self) -> Told | None:
        """What the platform says the instance is; None for a source with no one to ask
        (export files)."""
        return None

    def reads_at_once(self) -> int:
        """How many requests the source may have in flight at once (its streams, as lowered
        by 429/503 so far); 1 for a source read one request after another."""
        return 1

    def start_up(self, scopes: Mapping[Process, tuple[Scope, ...]]) -> None:
        """The reads a fetch of each process (with these scopes) makes before its first page,
        made now, while the scan's other start requests are out. Nothing is raised here: a
        failure is kept for the fetch that needs the read, and raised there."""

    def end_reads(self) -> None:
        """The scan's fetches are over: what start_up began for them ends."""


class TaskPort(Protocol):
    """Writing remediation tasks, keyed by process: the connector knows where each goes and
    never writes anything but its tasks."""

    def where(self, process: str) -> str:
        """Where tasks about `process` records go (a ServiceNow task table, a Jira project)."""
        ...

    def find_tasks(self, process: str, fingerprints: Iterable[str]) -> list[TaskRef]:
        """Every task, open or closed, carrying one of the fingerprints."""
        ...

    def open_tasks(self, process: str) -> list[TaskRef]:
        """Every open task this tool created for that process."""
        ...

    def read_task(self, task: TaskRef) -> TaskRef | None:
        """The task read again by its id, not through a search; None when it is gone (deleted);
        `marked` False (with `task`'s fingerprint) when it is there but a person removed or
        changed what marks it as this tool's task for that fingerprint, or moved it."""
        ...

    def create_tasks(self, drafts: Sequence[TaskDraft]) -> list[TaskRef]:
        """Creates every draft (with its attachment); results in input order. Raises
        SourceError after trying all when any failed (a rerun finds the others)."""
        ...

    def rekey_task(self, task: TaskRef, fingerprint: str) -> TaskRef:
        """Gives a task of an earlier release today's fingerprint, nothing else changed."""
        ...

    def update_task(self, task: TaskRef, draft: TaskDraft, note: str) -> TaskRef:
        """Title, body and priority become the draft's (its attachment is there after); a
        non-empty `note` is added as an internal note."""
        ...

    def close_task(self, task: TaskRef, note: str) -> None:
        """Closes the task, saying why in `note`."""
        ...

    def list_url(self, process: str, ids: Sequence[str]) -> str:
        """A link to the list of exactly these records, "" when the platform cannot give one."""
        ...
