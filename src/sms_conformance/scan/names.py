"""Display names of the groups, people, services, configuration items and catalogue items
records reference, so people read names where the platform stores ids (the ids stay beside them
for machines).

A name the source sends beside the id (Jira: `displayName`, a group's `name`, an Assets
object's `label`, a request type's `name`) is taken as it comes. Services, CIs and catalogue
items a ServiceNow record names only by sys_id are looked up once per scan in batched projected
reads (sys_id, number, name) of the ids not already named in the history store's cache, at most
MAX_LOOKUPS ids a scan (the rest are named by later scans); with parallel streams, those wanted
by a table's records are looked up while the later tables are read and evaluated, so the names
seldom wait at the end. Assignment groups are not looked up here: the scan's link resolver reads
them for the findings' owners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sms_conformance.connectors.base import Connector, NotRead
from sms_conformance.model.errors import SourceError
from sms_conformance.model.records import NamedRef, Record, Ref

SHOWN = ("assignment_group", "assignee", "service", "configuration_item", "catalog_item")
LOOKED_UP = frozenset({"service", "configuration_item", "catalog_item"})
MAX_LOOKUPS = 2000
Key = tuple[str, str]  # (kind, id)
# Per kind: its records among the ids asked, or why the source did not give them.
Answers = list[tuple[str, "Mapping[Ref, Record] | NotRead | SourceError"]]


class NameBook:
    """(kind, id) -> display name: the cached ones, and those this scan learns."""

    def __init__(self, known: Mapping[Key, str],
                 read: Callable[[str, str], str | None] | None = None,
                 missing: Callable[[str, str], bool] | None = None) -> None:
        """`read`: the name of a record the scan already read (a CI its rules followed, from
        the link resolver), taken before any look-up so no record is read twice; `missing`:
        whether the scan read the kind's table whole without the record (it does not exist:
        nothing to look up)."""
        self.known = dict(known)
        self._read = read
        self._missing = missing
        self.learned: dict[Key, str] = {}
        self.wanted: set[Key] = set()
        self._asked: set[Key] = set()  # looked up soon, answers in _soon
        self._soon: list[Future[Answers]] = []
        self._pool: ThreadPoolExecutor | None = None

    def note(self, record: Record) -> None:
        """The references of a record shown by name: named ones learned, others wanted."""
        for field in SHOWN:
            value = record.fields.get(field)
            if not isinstance(value, Ref) or isinstance(value, NamedRef) or not value.id:
                continue
            key = (value.kind, value.id)
            if value.name:
                if self.known.get(key) != value.name:
                    self.known[key] = self.learned[key] = value.name
            elif value.kind in LOOKED_UP and key not in self.known:
                self.wanted.add(key)

    def _todo(self) -> list[Key]:
        """The wanted references neither known nor asked yet, within MAX_LOOKUPS a scan (those
        the scan already read named from there first)."""
        if self._read is not None:
            for key in sorted(self.wanted - self.known.keys() - self._asked):
                name = self._read(*key)
                if name:
                    self.known[key] = self.learned[key] = name
        if self._missing is not None:
            self.wanted -= {key for key in self.wanted - self.known.keys() - self._asked
                            if self._missing(*key)}
        left = MAX_LOOKUPS - len(self._asked)
        return sorted(self.wanted - self.known.keys() - self._asked)[:max(0, left)]

    def look_up_soon(self, connector: Connector) -> None:
        """Starts the look-up of the names wanted so far in the background (the scan reads
        and evaluates its later tables meanwhile); `look_up` takes the answers. Not for a
        source read one request at a time: its names wait for the end of the scan."""
        todo = self._todo()
        if not todo or connector.reads_at_once() <= 1:
            return
        self._asked.update(todo)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="names")
        self._soon.append(self._pool.submit(_read_names, connector, todo))

    def look_up(self, connector: Connector) -> str:
        """Names of the wanted references not known yet, read from the source (the rest read
        now, while those started soon are still out, then those waited for); a notice when the
        source failed to answer ("" otherwise: a table the source does not hold, such as one
        not exported, leaves its references named by id, silently)."""
        try:
            todo = self._todo()
            answers = _read_names(connector, todo) if todo else []
            answers += [answer for soon in self._soon for answer in soon.result()]
        finally:
            self.drop()
        failed: dict[str, str] = {}
        for kind, found in answers:
            if isinstance(found, NotRead):
                continue
            if isinstance(found, SourceError):
                failed.setdefault(kind, f"{kind} ({found})")
                continue
            for ref, linked in found.items():
                key = (kind, ref.id)
                name = _name_of(linked.raw) or linked.number
                if name and key not in self.known:  # a record may have named it meanwhile
                    self.known[key] = self.learned[key] = name
        return (f"names of {'; '.join(failed.values())} could not be read: shown by id"
                if failed else "")

    def drop(self) -> None:
        """Ends the look-ups started soon (waits for those in flight); their answers go."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def name(self, kind: str, record_id: str) -> str:
        return self.known.get((kind, record_id), "")


def _read_names(connector: Connector, todo: Sequence[Key]) -> Answers:
    """Each kind's records among `todo`, or why the source did not give them (NotRead: it does
    not hold the table; SourceError: it failed). The kinds are read side by side (a connector's
    reads are thread-safe: the scan's read-ahead and its look-ups already share them), so the
    names wait one look-up, not one a table."""
    kinds = sorted({k for k, _ in todo})

    def read(kind: str) -> Mapping[Ref, Record] | NotRead | SourceError:
        try:
            return connector.resolve([Ref(k, i) for k, i in todo if k == kind], frozenset())
        except (NotRead, SourceError) as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, len(kinds))) as pool:
        return list(zip(kinds, pool.map(read, kinds), strict=True))


def _name_of(raw: Mapping[str, Any]) -> str:
    value = raw.get("name")
    return value.strip() if isinstance(value, str) else ""


def named_services(metrics: dict[str, dict[str, Any]], book: NameBook) -> None:
    """Each process's volume by service and SLA breaches by service name their services (the
    id kept beside as `id`)."""
    for data in metrics.values():
        entries = [*((data.get("volume_by_service") or {}).get("services") or []),
                   *((data.get("service_levels") or {}).get("by_service_priority") or [])]
        for entry in entries:
            service_id = str(entry.get("service", ""))
            name = book.name("service", service_id)
            if name:
                entry["id"], entry["service"] = service_id, name


def group_names(connector: Connector, ids: Iterable[str],
                lookup: Callable[[str], tuple[str, str, str] | None] | None = None
                ) -> dict[str, str]:
    """Names of owner groups write-back was given by id (`owner_groups`, the fallback owner)
    that no scanned record carries, so the plan and the task lists name them: asked of the
    platform (Jira: `lookup`, the task port's owner look-up; else the groups' records). An id
    the platform does not answer for stays shown by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    names: dict[str, str] = {}
    if lookup is not None:
        for group_id in wanted:
            found = lookup(group_id)
            if found is not None and found[1] == group_id and found[2]:
                names[group_id] = found[2]
        return names
    try:
        records = connector.resolve([Ref("group", i) for i in wanted], frozenset())
    except (NotRead, SourceError):
        return names
    for ref, linked in records.items():
        name = _name_of(linked.raw)
        if name:
            names[ref.id] = name
    return names
