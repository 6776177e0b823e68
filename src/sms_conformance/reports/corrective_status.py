"""Status of the remediation tasks write-back created (ISO/IEC 20000-1 10.1 corrective action):
open, overdue and closed, by owner, as the history store recorded them at a moment.

A task is due `write_back.due_days` after its creation by the severity of its most severe rule,
as write-back sets its due date. The history store knows what write-back runs saw: a task its
owner closed in the platform shows as open until the next write-back run reads it closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sms_conformance.rules.model import Severity
from sms_conformance.store.history import History, parse_iso

DEFAULT_DUE_DAYS = 14  # as write-back, for a severity the settings do not name


@dataclass
class OwnerStatus:
    owner: str
    open: int = 0
    overdue: int = 0
    closed: int = 0
    oldest_open_days: int | None = None
    kinds: dict[str, int] = field(default_factory=dict)  # open tasks by kind

    def as_dict(self) -> dict[str, Any]:
        return {"owner": self.owner, "open": self.open, "overdue": self.overdue,
                "closed": self.closed, "oldest_open_days": self.oldest_open_days,
                "open_by_kind": dict(sorted(self.kinds.items()))}


@dataclass
class TaskStatus:
    at: datetime
    owners: list[OwnerStatus]
    due_unknown: int = 0  # open tasks whose rules' severity is not known: not counted overdue

    @property
    def total(self) -> OwnerStatus:
        sums = OwnerStatus("all owners")
        for o in self.owners:
            sums.open += o.open
            sums.overdue += o.overdue
            sums.closed += o.closed
        return sums

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "total": self.total.as_dict(),
                "due_unknown": self.due_unknown, "owners": [o.as_dict() for o in self.owners]}


def task_status(history: History, instance: str, at: datetime, severities: Mapping[str, str],
                due_days: Mapping[str, int]) -> TaskStatus:
    """Tasks of `instance` created by `at`: open (not closed by then), overdue (open past
    their due date), closed; `severities` names each rule's severity."""
    rows = [*history.tasks("open"), *history.tasks("closed")]
    owners: dict[str, OwnerStatus] = {}
    unknown_due = 0
    for row in rows:
        if row["instance"] != instance or parse_iso(row["created_at"]) > at:
            continue
        name = row["owner"] or "(unassigned)"
        status = owners.setdefault(name, OwnerStatus(name))
        created = parse_iso(row["created_at"])
        if row["closed_at"] and parse_iso(row["closed_at"]) <= at:
            status.closed += 1
            continue
        status.open += 1
        status.kinds[row["kind"]] = status.kinds.get(row["kind"], 0) + 1
        age = (at - created).days
        status.oldest_open_days = max(age, status.oldest_open_days or 0)
        days = _due_days(row["rule_id"] or "", severities, due_days)
        if days is None:
            unknown_due += 1
        elif at > created + timedelta(days=days):
            status.overdue += 1
    ordered = sorted(owners.values(), key=lambda o: (-o.open, -o.overdue, o.owner))
    return TaskStatus(at, ordered, unknown_due)


def _due_days(rules: str, severities: Mapping[str, str], due_days: Mapping[str, int]) -> int | None:
    """Days to the due date: by the most severe of the task's rules (a record task lists
    several, joined by ', '); None when none of its rules' severity is known."""
    known = [Severity(severities[r]) for r in rules.split(", ") if r in severities]
    if not known:
        return None
    worst = max(known, key=lambda s: s.rank)
    return int(due_days.get(worst.value, DEFAULT_DUE_DAYS))
