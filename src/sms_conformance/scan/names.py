"""Display names of the groups, people, services and configuration items records reference,
so people read names where the platform stores ids (the ids stay beside them for machines).

A name the source sends beside the id (Jira: `displayName`, a group's `name`, an Assets
object's `label`) is taken as it comes. Services and CIs a ServiceNow record names only by
sys_id are looked up once per scan in batched projected reads (sys_id, number, name) of the ids
not already named in the history store's cache, at most MAX_LOOKUPS ids a scan (the rest are
named by later scans). Assignment groups are not looked up here: the scan's link resolver
reads them for the findings' owners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sms_conformance.connectors.base import Connector, NotRead
from sms_conformance.model.errors import SourceError
from sms_conformance.model.records import NamedRef, Record, Ref

SHOWN = ("assignment_group", "assignee", "service", "configuration_item")
LOOKED_UP = frozenset({"service", "configuration_item"})
MAX_LOOKUPS = 2000
Key = tuple[str, str]  # (kind, id)


class NameBook:
    """(kind, id) -> display name: the cached ones, and those this scan learns."""

    def __init__(self, known: Mapping[Key, str]) -> None:
        self.known = dict(known)
        self.learned: dict[Key, str] = {}
        self.wanted: set[Key] = set()

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

    def look_up(self, connector: Connector) -> str:
        """Names of the wanted references not known yet, read from the source; a notice
        when the source failed to answer ("" otherwise: a table the source does not hold,
        such as one not exported, leaves its references named by id, silently)."""
        todo = sorted(self.wanted - self.known.keys())[:MAX_LOOKUPS]
        kinds = sorted({k for k, _ in todo})

        def read(kind: str) -> Mapping[Ref, Record] | NotRead | SourceError:
            try:
                return connector.resolve([Ref(k, i) for k, i in todo if k == kind], frozenset())
            except (NotRead, SourceError) as exc:
                return exc

        # The tables side by side (a connector's reads are thread-safe: the scan's read-ahead
        # and its look-ups already share them), so the names wait one look-up, not one a table.
        with ThreadPoolExecutor(max_workers=max(1, len(kinds))) as pool:
            answers = list(pool.map(read, kinds))
        failed: list[str] = []
        for kind, found in zip(kinds, answers, strict=True):
            if isinstance(found, NotRead):
                continue
            if isinstance(found, SourceError):
                failed.append(f"{kind} ({found})")
                continue
            for ref, linked in found.items():
                name = _name_of(linked.raw) or linked.number
                if name:
                    self.known[(kind, ref.id)] = self.learned[(kind, ref.id)] = name
        return (f"names of {'; '.join(failed)} could not be read: shown by id"
                if failed else "")

    def name(self, kind: str, record_id: str) -> str:
        return self.known.get((kind, record_id), "")


def _name_of(raw: Mapping[str, Any]) -> str:
    value = raw.get("name")
    return value.strip() if isinstance(value, str) else ""


def named_services(metrics: dict[str, dict[str, Any]], book: NameBook) -> None:
    """Each process's volume by service names its services (the id kept beside as `id`)."""
    for data in metrics.values():
        for entry in (data.get("volume_by_service") or {}).get("services") or []:
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
