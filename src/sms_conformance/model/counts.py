"""The one set of counts every part uses: what a scan counted for one rule, summed for a
clause, a process or one scan of a trend, and stored per rule in the history store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from sms_conformance.model.findings import Status

NAMES = ("evaluated", "passed", "failed", "errors", "waived", "unknown")
_OF_STATUS = {Status.FAIL: "failed", Status.ERROR: "errors", Status.WAIVED: "waived",
              Status.UNKNOWN: "unknown"}


@dataclass
class Counts:
    """Records evaluated (in scope) and how they ended; passed + failed + errors + waived +
    unknown = evaluated."""

    evaluated: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    waived: int = 0
    unknown: int = 0

    def add(self, status: Status) -> None:
        """Count a non-passing result of a record already counted as evaluated."""
        attr = _OF_STATUS[status]
        setattr(self, attr, getattr(self, attr) + 1)

    def blind(self) -> None:
        """Every result of the rule becomes unknown (it read a field that was hidden)."""
        self.unknown, self.passed, self.failed, self.errors, self.waived = (
            self.evaluated, 0, 0, 0, 0)

    @property
    def decided(self) -> int:
        """Evaluated records that could be decided (unknown ones could not)."""
        return self.evaluated - self.unknown

    @property
    def failure_rate(self) -> float | None:
        """Share of the decided records that failed; None when no record was in scope or none
        could be decided: no evidence either way, never "100% conformant"."""
        return self.failed / self.decided if self.decided else None

    def numbers(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in NAMES}

    @staticmethod
    def summed(lines: Iterable[Counts]) -> dict[str, int]:
        """The six numbers summed over `lines` (keyword arguments of a Counts)."""
        totals = dict.fromkeys(NAMES, 0)
        for line in lines:
            for name in NAMES:
                totals[name] += getattr(line, name)
        return totals


@dataclass(kw_only=True)
class RuleLine(Counts):
    """One rule's counts in one scan, as the history store keeps them."""

    rule_id: str
    clause: str
    process: str
    severity: str
    title: str

    @property
    def in_scope(self) -> bool:
        return self.evaluated > 0

    def as_dict(self) -> dict[str, Any]:
        rate = self.failure_rate
        return {
            "rule_id": self.rule_id, "clause": self.clause, "process": self.process,
            "severity": self.severity, "title": self.title, **self.numbers(),
            "failure_rate": None if rate is None else round(rate, 4),
            "no_records_in_scope": not self.in_scope,
            "no_evidence": self.decided == 0,
        }


def rule_lines(rows: Iterable[Mapping[str, Any]]) -> list[RuleLine]:
    """Rule lines from stored rows (mappings with at least RuleLine's fields)."""
    names = [f.name for f in fields(RuleLine)]
    return [RuleLine(**{k: row[k] for k in names}) for row in rows]
