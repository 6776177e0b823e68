"""What the source did not provide: fields never returned, and fields that went blank.

Unknown is not empty. A field the source did not return gives `unknown` results, counted and
listed here per table with the rules it blinds. A field an ACL hides comes back as "" on every
record, which looks like empty: a field that was non-empty in the last complete scan and is
empty on every record now is taken for hidden, and every rule reading it is blinded for the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sms_conformance.engine.results import RuleResult
from sms_conformance.model.records import Record, Unknown, is_absent


@dataclass
class Gap:
    """One field (or linked table) of one process that the source did not provide."""

    process: str
    field: str
    reason: str
    records: int = 0
    rules: set[str] = dataclasses.field(default_factory=set)

    def line(self) -> str:
        rules = ", ".join(sorted(self.rules))
        return (f"{self.process}.{self.field}: {self.reason} ({self.records} results unknown; "
                f"blinds {rules})")


class Unavailable:
    """Gaps by (process, field), filled from the unknown results of a scan."""

    def __init__(self) -> None:
        self.gaps: dict[tuple[str, str], Gap] = {}

    def note(self, result: RuleResult) -> None:
        record = result.record
        for name, reason in result.unknown:
            gap = self.gaps.get((record.process, name))
            if gap is None:
                gap = self.gaps[(record.process, name)] = Gap(record.process, name, reason)
            gap.records += 1
            gap.rules.add(result.rule.id)

    def add(self, gap: Gap) -> None:
        self.gaps[(gap.process, gap.field)] = gap

    def sorted(self) -> list[Gap]:
        return [self.gaps[k] for k in sorted(self.gaps)]


class Presence:
    """Per process, which of the fields the rules read were non-empty on at least one record.
    Only fields not yet seen non-empty are tested, so the cost per record shrinks to nothing."""

    def __init__(self) -> None:
        self.pending: dict[str, set[str]] = {}
        self.tracked: dict[str, frozenset[str]] = {}

    def start(self, process: str, fields: Iterable[str]) -> None:
        self.tracked[process] = frozenset(fields)
        self.pending[process] = set(self.tracked[process])

    def observe(self, record: Record) -> None:
        pending = self.pending.get(record.process)
        if pending:
            fields = record.fields
            seen = [n for n in pending
                    if not is_absent(v := fields.get(n)) and v.__class__ is not Unknown]
            pending.difference_update(seen)

    def nonempty(self) -> dict[str, set[str]]:
        return {p: set(self.tracked[p] - self.pending[p]) for p in self.tracked}

    def empty(self, process: str) -> set[str]:
        return set(self.pending.get(process, ()))


def hidden_fields(previous: Mapping[str, set[str]], presence: Presence,
                  records: Mapping[str, int]) -> dict[str, set[str]]:
    """Fields non-empty in the last complete scan and empty on every record read now."""
    hidden: dict[str, set[str]] = {}
    for process, before in previous.items():
        if records.get(process, 0) > 0:
            now_empty = before & presence.empty(process)
            if now_empty:
                hidden[process] = now_empty
    return hidden
