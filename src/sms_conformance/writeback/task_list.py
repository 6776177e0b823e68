"""`tasks list`: remediation tasks as their owners see them, filtered, as a table or JSON.

The state comes from the platform where one is given (a task its owner closed shows as closed,
whatever the history store last recorded); what a task is about (kind, rules, record) comes from
the history store, or from the task's own first line for tasks the store does not know. A
task its owner marked `sms-disputed` is flagged disputed (from the platform only).
"""

from __future__ import annotations

import fnmatch
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sms_conformance.connectors.base import TaskPort, TaskRef
from sms_conformance.store.history import iso, parse_iso
from sms_conformance.writeback.apply import KINDS, kinds_text
from sms_conformance.writeback.corrective import KEY_LINE
from sms_conformance.writeback.records import RULES_LINE

UNASSIGNED = "(unassigned)"
STATES = ("open", "closed", "all")


@dataclass(frozen=True)
class TaskRow:
    number: str
    table: str
    state: str  # open | closed
    kind: str  # record | corrective | finding
    owner: str  # group name, its sys_id when the name is unknown, or "(unassigned)"
    owner_id: str
    rule_ids: tuple[str, ...]
    record: str  # record number, or "<period> (<n> records)" for a corrective action
    clause: str
    created: datetime | None
    due: datetime | None  # None: not known (the history store does not keep it)
    disputed: bool = False  # its owner marked it sms-disputed (live only: the store keeps no mark)

    def overdue(self, now: datetime) -> bool:
        return self.state == "open" and self.due is not None and self.due < now

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {"number": self.number, "table": self.table, "state": self.state,
                "kind": self.kind, "owner": self.owner, "owner_id": self.owner_id,
                "rule_ids": list(self.rule_ids), "record": self.record, "clause": self.clause,
                "created": iso(self.created) if self.created else None,
                "due": iso(self.due) if self.due else None, "overdue": self.overdue(now),
                "disputed": self.disputed}


@dataclass(frozen=True)
class Filters:
    owner: str | None = None  # name or sys_id, case-insensitive; "(unassigned)" or "none"
    rule: str | None = None  # rule id or glob
    overdue: bool = False
    kind: str | None = None
    state: str = "open"

    def keep(self, row: TaskRow, now: datetime) -> bool:
        if self.state != "all" and row.state != self.state:
            return False
        if self.kind and row.kind != self.kind:
            return False
        if self.rule and not any(fnmatch.fnmatchcase(r, self.rule) for r in row.rule_ids):
            return False
        if self.overdue and not row.overdue(now):
            return False
        if self.owner:
            wanted = self.owner.casefold()
            if wanted in ("none", UNASSIGNED):
                return row.owner == UNASSIGNED
            return wanted in (row.owner.casefold(), row.owner_id.casefold())
        return True

    def as_json(self) -> dict[str, Any]:
        return {"owner": self.owner, "rule": self.rule, "overdue": self.overdue,
                "kind": self.kind, "state": self.state}


def live_tasks(port: TaskPort, processes: Iterable[str],
               known: Mapping[str, Iterable[str]]) -> list[TaskRef]:
    """Every task of this tool on the platform that is open, or that the history store knows
    (`known`: process -> fingerprints), in its live state. The one place `tasks list` reads
    the platform."""
    found: dict[tuple[str, str], TaskRef] = {}
    for process in processes:
        for task in (*port.open_tasks(process), *port.find_tasks(process, known.get(process, ()))):
            found.setdefault((task.where, task.id), task)
    return list(found.values())


def _time(text: str | None, platform: bool = False) -> datetime | None:
    if not text:
        return None
    try:
        if platform:  # "YYYY-MM-DD hh:mm:ss", UTC
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        return parse_iso(text)
    except ValueError:
        return None


def stored_row(row: Mapping[str, Any]) -> TaskRow:
    """A task as the history store last recorded it (no due date: the store does not keep it)."""
    return TaskRow(
        row["number"] or "", row["tbl"], row["state"], row["kind"],
        row["owner"] or UNASSIGNED, "", tuple((row["rule_id"] or "").split(", ")),
        row["record_number"] or "", row["clause"] or "", _time(row["created_at"]), None)


def live_row(task: TaskRef, stored: Mapping[str, Any] | None, groups: Mapping[str, str]) -> TaskRow:
    """A task as the platform holds it now, described by its stored row where there is one."""
    group = task.owner
    base = stored_row(stored) if stored is not None else _described(task)
    owner = groups.get(group) or (base.owner if base.owner != UNASSIGNED else "") or group
    return TaskRow(
        task.number, task.where, "open" if task.open else "closed", base.kind,
        owner or UNASSIGNED, group, base.rule_ids, base.record, base.clause,
        _time(task.created, platform=True) or base.created,
        _time(task.due, platform=True), task.disputed)


def first_line(task: TaskRef) -> tuple[str, tuple[str, ...], str]:
    """(kind, rule ids, period) from a task's first line: a record task lists its rules, a
    corrective action names its key; anything else is taken for a per-finding task (kind
    "finding", its rule not written on it)."""
    first = task.body.split("\n", 1)[0]
    if first.startswith(RULES_LINE):
        return "record", tuple(first[len(RULES_LINE):].split(", ")), ""
    if first.startswith(KEY_LINE):
        parts = first[len(KEY_LINE):].split(" ")
        return "corrective", tuple(parts[1:2]), parts[-1]
    return "finding", (), ""


def _described(task: TaskRef) -> TaskRow:
    """What a task the history store does not know is about, from its first line."""
    kind, rules, period = first_line(task)
    record = period or (f"(record id {task.parent})" if task.parent else "")
    return TaskRow(task.number, task.where, "open", kind, UNASSIGNED, "", rules, record, "",
                   None, None)


def render_table(rows: Sequence[TaskRow], now: datetime, state: str = "open",
                 per_owner: int | None = None) -> list[str]:
    """Tasks grouped by owner, largest queue first, split by kind; `per_owner` caps the lines
    each."""
    label = "" if state == "all" else f"{state} "
    if not rows:
        return [f"No {label}remediation tasks."]
    by_owner: dict[str, list[TaskRow]] = defaultdict(list)
    for row in rows:
        by_owner[row.owner].append(row)
    noun = "task" if len(rows) == 1 else "tasks"
    out = [f"{len(rows)} {label}remediation {noun} ({_split(rows)}), by owner; age: days since "
           "the task was created (real time, whatever --as-of the scan had)",
           "", f"  {'task':<14} {'age':>5}  {'clause':<6} {'record':<12} rules"]
    for owner, items in sorted(by_owner.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append(f"\n{owner} ({len(items)}: {_split(items)})")
        ordered = sorted(items, key=lambda r: (list(KINDS).index(r.kind), r.created or now))
        for row in ordered[:per_owner]:
            age = f"{(now - row.created).days:>4}d" if row.created else "    ?"
            due = ((" OVERDUE" if row.overdue(now) else "")
                   + (" closed" if row.state != "open" else "")
                   + (" disputed" if row.disputed else ""))
            out.append(f"  {row.number:<14} {age}  {row.clause:<6} {row.record:<12} "
                       f"{', '.join(row.rule_ids)}{due}")
        if per_owner is not None and len(items) > per_owner:
            out.append(f"  ... and {len(items) - per_owner} more")
    return out


def _split(rows: Sequence[TaskRow]) -> str:
    return kinds_text(Counter(row.kind for row in rows))
