"""Which task a failure belongs to: a live record's task, a corrective action, or none.

A record that is not closed (per process: `write_back.policy.<process>.closed_states`) gets one
task listing every rule it fails. Failures on records closed within the lookback become one
corrective action per (rule, owner group, period); older closed records are reported, never
tasked. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sms_conformance.model.records import Record, Ref
from sms_conformance.writeback.plan import Policy

LIVE = "live"
OLD = "old"  # closed before the lookback, or closed without a closing date: reported only
UNPLACED = "unplaced"  # the state was not read (hidden, not exported): reported only
CLOSED_PREFIX = "closed:"  # closed within the lookback: "closed:2026-11"
CLOSING_FIELDS = ("closed_at", "resolved_at")


def is_closed(phase: str) -> bool:
    return phase == OLD or phase.startswith(CLOSED_PREFIX)


def period_of(moment: datetime, period: str) -> str:
    """"2026-11" for a month, "2026-Q4" for a quarter."""
    if period == "quarter":
        return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"
    return f"{moment.year}-{moment.month:02d}"


def period_start(key: str) -> datetime:
    year, part = key.split("-")
    month = (int(part[1:]) - 1) * 3 + 1 if part.startswith("Q") else int(part)
    return datetime(int(year), month, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Phases:
    """Places records by their state and closing date as of `now`, per the write-back policy."""

    policies: Mapping[str, Policy]
    now: datetime

    def policy(self, process: str) -> Policy:
        return self.policies.get(process, Policy())

    def of(self, record: Record) -> str:
        """LIVE, OLD, UNPLACED or "closed:<period>"."""
        policy = self.policy(record.process)
        state = record.get("state")
        if not isinstance(state, str) or not state:
            return UNPLACED  # neither known live nor known closed: no task either way
        if state not in policy.closed_states:
            return LIVE
        closed = next((v for name in CLOSING_FIELDS
                       if isinstance(v := record.get(name), datetime)), None)
        if closed is None:
            return OLD
        if closed.tzinfo is None:
            closed = closed.replace(tzinfo=timezone.utc)
        if closed < self.now - timedelta(days=policy.lookback_days):
            return OLD
        return CLOSED_PREFIX + period_of(closed, policy.period)

    def cohort(self, record: Record, phase: str | None = None) -> tuple[str, str] | None:
        """(owner group id, period) of a record closed within the lookback, else None; `phase`:
        the record's `of`, when the caller has it already."""
        phase = self.of(record) if phase is None else phase
        if not phase.startswith(CLOSED_PREFIX):
            return None
        group = record.get("assignment_group")
        return (group.id if isinstance(group, Ref) else ""), phase[len(CLOSED_PREFIX):]
