"""One report model: a stored scan as every format reads it.

`load_report(history, scan)` reads the scan's metadata, per-rule counts (with their
denominators), the fields the source did not provide and the provenance once; findings are read
from the store lazily, each time `findings()` is iterated, so a scan with a million findings is
never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sms_conformance.model.counts import Counts, RuleLine, rule_lines
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.summary import CLAUSE_TITLES, by_clause
from sms_conformance.rules.model import Severity
from sms_conformance.store.history import History
from sms_conformance.store.provenance import Provenance


@dataclass(frozen=True)
class ScanMeta:
    id: int
    platform: str
    instance: str
    source: str
    started_at: str
    finished_at: str | None
    as_of: str
    complete: bool
    incremental: bool
    notices: tuple[str, ...]
    error: str | None


@dataclass(kw_only=True)
class Rate(Counts):
    """Counts summed over a group of rules (a clause, a process), with their denominators."""

    key: str  # the clause ("8.6.1") or the process ("incident")
    title: str
    rules: tuple[str, ...]

    @classmethod
    def of(cls, key: str, title: str, lines: Iterable[RuleLine]) -> Rate:
        group = list(lines)
        return cls(key=key, title=title, rules=tuple(x.rule_id for x in group),
                   **Counts.summed(group))

    def as_dict(self, key_name: str) -> dict[str, Any]:
        rate = self.failure_rate
        return {
            key_name: self.key, "title": self.title, **self.numbers(),
            "decided": self.decided,
            "failure_rate": None if rate is None else round(rate, 4),
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class Unavailable:
    """A field the rules read that the source did not provide."""

    process: str
    field: str
    reason: str
    records: int
    rules: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"process": self.process, "field": self.field, "reason": self.reason,
                "records": self.records, "rules": list(self.rules)}


@dataclass(frozen=True)
class ScanReport:
    scan: ScanMeta
    provenance: Provenance
    rules: tuple[RuleLine, ...]
    unavailable: tuple[Unavailable, ...]
    history: History

    @property
    def clauses(self) -> list[Rate]:
        return [Rate.of(clause, CLAUSE_TITLES.get(clause, ""), group)
                for clause, group in by_clause(self.rules).items()]

    @property
    def processes(self) -> list[Rate]:
        groups: dict[str, list[RuleLine]] = {}
        for line in sorted(self.rules, key=lambda x: (x.process, x.rule_id)):
            groups.setdefault(line.process, []).append(line)
        return [Rate.of(process, "", group) for process, group in groups.items()]

    @property
    def service_levels(self) -> dict[str, Any]:
        """Per process, the SLA breaches by service and priority this scan measured (8.3.3)."""
        return {process: m["service_levels"] for process, m in
                sorted(self.history.metrics(self.scan.id).items()) if "service_levels" in m}

    @property
    def severity_totals(self) -> dict[str, int]:
        """Findings (failed, errors) per severity, highest first; every severity listed."""
        totals = {s.value: 0 for s in sorted(Severity, key=lambda s: -s.rank)}
        for line in self.rules:
            totals[line.severity] += line.failed + line.errors
        return totals

    def findings(self, statuses: tuple[str, ...] | None = None,
                 limit: int | None = None, by_severity: bool = False) -> Iterator[FindingRow]:
        """The stored findings, read lazily, ordered by clause, rule and record number (most
        severe first with `by_severity`)."""
        return self.history.findings(self.scan.id, limit, statuses=statuses,
                                     by_severity=by_severity)

    def findings_by_rule(self, statuses: tuple[str, ...]) -> dict[str, list[FindingRow]]:
        """The findings with these statuses, grouped by rule (held in memory: for formats
        that list a rule's records under it)."""
        grouped: dict[str, list[FindingRow]] = {}
        for f in self.findings(statuses):
            grouped.setdefault(f.rule_id, []).append(f)
        return grouped

    def unknown_reasons(self, rule_id: str) -> list[str]:
        """Why a rule's results were unknown: the fields it lacked, else its findings' details."""
        reasons = [f"{g.process}.{g.field}: {g.reason}" for g in self.unavailable
                   if rule_id in g.rules]
        if not reasons:
            reasons = sorted({f.detail for f in self.findings(("unknown",))
                              if f.rule_id == rule_id and f.detail})
        return reasons


def load_report(history: History, scan: str | int = "latest") -> ScanReport:
    """The stored scan `scan` (an id, or "latest"); a one-line error when there is none."""
    if not history.scan_ids():
        raise ConfigError(f"{history.path}: history store holds no scan yet: run "
                          "`sms-conformance scan` first (or pass --history PATH)")
    wanted = _scan_id(scan)
    row = history.scan(wanted)
    if row is None:
        ids = history.scan_ids()
        raise ConfigError(f"--scan {scan}: no such scan in {history.path} "
                          f"(it holds scans {ids[0]} to {ids[-1]})")
    meta = ScanMeta(
        id=row["id"], platform=row["platform"] or "", instance=row["instance"] or "",
        source=row["source"] or "", started_at=row["started_at"],
        finished_at=row["finished_at"], as_of=row["as_of"] or "",
        complete=bool(row["complete"]), incremental=bool(row["incremental"]),
        notices=tuple(row["notices"]), error=row["error"],
    )
    provenance = Provenance(
        tool_version=row["tool_version"] or "", filters=row["filters"],
        rules_digest=row["rules_digest"] or "", config_digest=row["config_digest"] or "",
    )
    unavailable = tuple(
        Unavailable(g["process"], g["field"], g["reason"] or "", g["records"] or 0, tuple(g["rules"]))
        for g in history.unavailable(meta.id)
    )
    return ScanReport(meta, provenance, tuple(rule_lines(history.counts(meta.id))), unavailable,
                      history)


def _scan_id(scan: str | int) -> int | None:
    if isinstance(scan, int):
        return scan
    if scan == "latest":
        return None
    if scan.isdigit() and int(scan) > 0:
        return int(scan)
    raise ConfigError(f"--scan {scan}: expected a scan id (a positive number) or 'latest'")
