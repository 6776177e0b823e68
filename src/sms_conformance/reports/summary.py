"""Per-rule and per-clause figures of a scan, shared by every report format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CLAUSE_TITLES = {
    "4.4": "Service management system: process interactions",
    "8.5.1": "Change management",
    "8.6.1": "Incident management",
    "8.6.2": "Service request management",
    "8.6.3": "Problem management",
}


class Decided:
    """What a line of counts (one rule, a clause, a scan of a trend) says once unknowns are set
    aside: mixed into the dataclasses that carry `evaluated`, `unknown` and `failed`."""

    evaluated: int
    failed: int
    unknown: int

    @property
    def decided(self) -> int:
        """Evaluated records that could be decided (unknown ones could not)."""
        return self.evaluated - self.unknown

    @property
    def failure_rate(self) -> float | None:
        """Share of the decided records that failed; None when no record was in scope or none
        could be decided: no evidence either way, never "100% conformant"."""
        return self.failed / self.decided if self.decided else None


@dataclass(frozen=True)
class RuleLine(Decided):
    rule_id: str
    clause: str
    process: str
    severity: str
    title: str
    evaluated: int
    passed: int
    failed: int
    errors: int
    waived: int
    unknown: int

    @property
    def in_scope(self) -> bool:
        return self.evaluated > 0

    def as_dict(self) -> dict[str, Any]:
        rate = self.failure_rate
        return {
            "rule_id": self.rule_id, "clause": self.clause, "process": self.process,
            "severity": self.severity, "title": self.title, "evaluated": self.evaluated,
            "passed": self.passed, "failed": self.failed, "errors": self.errors,
            "waived": self.waived, "unknown": self.unknown,
            "failure_rate": None if rate is None else round(rate, 4),
            "no_records_in_scope": not self.in_scope,
            "no_evidence": self.decided == 0,
        }


def rule_lines(rows: Iterable[Mapping[str, Any]]) -> list[RuleLine]:
    return [
        RuleLine(**{k: row[k] for k in RuleLine.__dataclass_fields__}) for row in rows
    ]


def by_clause(lines: Iterable[RuleLine]) -> dict[str, list[RuleLine]]:
    groups: dict[str, list[RuleLine]] = {}
    for line in sorted(lines, key=lambda x: (_clause_key(x.clause), x.rule_id)):
        groups.setdefault(line.clause, []).append(line)
    return groups


def _clause_key(clause: str) -> tuple[int, ...]:
    return tuple(int(p) for p in clause.split(".") if p.isdigit())
