"""Per-rule and per-clause figures of a scan, shared by every report format."""

from __future__ import annotations

from collections.abc import Iterable

from sms_conformance.model.counts import RuleLine

CLAUSE_TITLES = {
    "4.4": "Service management system: process interactions",
    "8.2.6": "Configuration management",
    "8.3.3": "Service level management",
    "8.5.1": "Change management",
    "8.6.1": "Incident management",
    "8.6.2": "Service request management",
    "8.6.3": "Problem management",
}


def by_clause(lines: Iterable[RuleLine]) -> dict[str, list[RuleLine]]:
    groups: dict[str, list[RuleLine]] = {}
    for line in sorted(lines, key=lambda x: (_clause_key(x.clause), x.rule_id)):
        groups.setdefault(line.clause, []).append(line)
    return groups


def _clause_key(clause: str) -> tuple[int, ...]:
    return tuple(int(p) for p in clause.split(".") if p.isdigit())
