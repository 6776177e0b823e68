"""Failure rates with their denominators, per scan, over time: by clause, rule or process.

A rate is failed / decided (evaluated minus unknown), as in every report. Only a complete, full
scan of every rule of the series measures the whole population: an incremental scan's counts
cover the records it read (those changed since the last scan), an incomplete scan's those read
before it stopped, and a scan of fewer rules (--only) another rate. Such points are listed
with what they cover, and never drawn as population rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sms_conformance.model.counts import NAMES as COUNTS
from sms_conformance.model.counts import Counts
from sms_conformance.reports.summary import CLAUSE_TITLES
from sms_conformance.store.choice import instance_keys
from sms_conformance.store.history import History, instance_key


@dataclass(kw_only=True)
class Point(Counts):
    """The counts of one series in one scan."""

    scan_id: int
    as_of: str  # the moment the scan's records and ages describe (its start, unless --as-of)
    complete: bool
    incremental: bool
    rules: int  # rules of the series this scan evaluated
    all_rules: int = 0  # most rules of the series any scan in the window evaluated

    @property
    def population(self) -> bool:
        """True when the counts cover the whole population: a complete, full scan of every
        rule of the series."""
        return self.complete and not self.incremental and self.rules >= self.all_rules

    @property
    def note(self) -> str:
        notes = []
        if not self.complete:
            notes.append("incomplete: counts cover only the records read before it stopped")
        if self.incremental:
            notes.append(f"incremental: counts cover only the {self.evaluated} evaluations of "
                         "records changed since the previous scan, not the whole population")
        if self.rules < self.all_rules:
            notes.append(f"{self.rules} of {self.all_rules} rules evaluated")
        return "; ".join(notes)

    def as_dict(self) -> dict[str, Any]:
        rate = self.failure_rate
        return {
            "scan_id": self.scan_id, "as_of": self.as_of, "complete": self.complete,
            "incremental": self.incremental, "rules": self.rules,
            **{name: getattr(self, name) for name in COUNTS}, "decided": self.decided,
            "failure_rate": None if rate is None else round(rate, 4),
            "whole_population": self.population, "note": self.note,
        }


@dataclass
class Series:
    kind: str  # clause | rule | process
    key: str
    title: str
    points: list[Point] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}" + (f" ({self.title})" if self.title else "")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "title": self.title,
                "points": [p.as_dict() for p in self.points]}


@dataclass(frozen=True)
class TrendQuery:
    since: datetime | None = None
    clause: str | None = None
    rule: str | None = None
    process: str | None = None
    instance: str | None = None  # None: the instance of the latest scan
    until: int | None = None  # scans up to this id (an evidence pack of an older scan)

    @property
    def kind(self) -> str:
        return "rule" if self.rule else "process" if self.process else "clause"


def trend(history: History, query: TrendQuery) -> tuple[str | None, list[Series]]:
    """The instance (the URL its latest scan went through) and its series: one per clause (or
    the one asked for), rule or process, over every scan of the instance's identity, whatever
    URL reached it; the window (`since`) applies to the scans' as-of moment."""
    # A run that read nothing (a refused login) is no point of any trend: `history scans` lists it.
    scans = [s for s in history.scans(query.since, failed_starts=False)
             if query.until is None or s["id"] <= query.until]
    instance = query.instance or (instance_key(scans[-1]) if scans else None)
    keys = instance_keys(scans, instance) if instance else set()
    series: dict[str, Series] = {}
    shown = instance
    for scan in scans:
        if instance_key(scan) not in keys:
            continue
        shown = scan["instance"]
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for row in history.counts(scan["id"]):
            key = _key(row, query)
            if key is not None:
                groups.setdefault(key, []).append(row)
        for key, rows in groups.items():
            title = rows[0]["title"] if query.kind == "rule" else (
                CLAUSE_TITLES.get(key, "") if query.kind == "clause" else "")
            one = series.setdefault(key, Series(query.kind, key, title))
            one.points.append(_point(scan, rows))
    for one in series.values():
        most = max(p.rules for p in one.points)
        one.points = [_with_all(p, most) for p in one.points]
    ordered = sorted(series.values(), key=lambda s: (_numbers(s.key), s.key))
    return shown, ordered


def _numbers(key: str) -> tuple[int, ...]:
    """8.5.1 before 8.6.1 before 10.1 (clause keys; other keys sort by name)."""
    return tuple(int(p) for p in key.split(".") if p.isdigit())


def _key(row: Mapping[str, Any], query: TrendQuery) -> str | None:
    if query.rule:
        return row["rule_id"] if row["rule_id"] == query.rule else None
    if query.process:
        return row["process"] if row["process"] == query.process else None
    if query.clause:
        return row["clause"] if row["clause"] == query.clause else None
    return str(row["clause"])


def _point(scan: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> Point:
    rows = list(rows)
    sums = {name: sum(int(r[name] or 0) for r in rows) for name in COUNTS}
    return Point(scan_id=scan["id"], as_of=scan["as_of"], complete=bool(scan["complete"]),
                 incremental=bool(scan["incremental"]), rules=len(rows), **sums)


def _with_all(point: Point, most: int) -> Point:
    return Point(**{**{k: getattr(point, k) for k in Point.__dataclass_fields__},
                    "all_rules": most})


def rate_text(failed: int, decided: int) -> str:
    """`2.03% (612 of 30,211)`; `no evidence (0 decided)` when nothing was decided."""
    if not decided:
        return "no evidence (0 decided)"
    return f"{100 * failed / decided:.2f}% ({failed:,} of {decided:,})"


def render_trend(instance: str | None, series: list[Series], since: datetime | None) -> list[str]:
    """The console table: per series, one line per scan."""
    window = f"since {since:%Y-%m-%d %H:%M} UTC" if since else "all scans"
    if not series:
        return [f"No scans {window}" + (f" of {instance}" if instance else "") + "."]
    out = [f"Failure rates {window}, {instance}: failed of decided (evaluated minus unknown);"
           " rates marked * do not cover the whole population (see note)."]
    for one in series:
        out += ["", one.label,
                f"  {'scan':>5}  {'as of':<16}  {'evaluated':>9}  {'unknown':>7}  rate"]
        for p in one.points:
            mark = " " if p.population else "*"
            line = (f"  {p.scan_id:>5}  {p.as_of[:16].replace('T', ' '):<16}  "
                    f"{p.evaluated:>9,}  {p.unknown:>7,} {mark}{rate_text(p.failed, p.decided)}")
            out.append(line + (f"  [{p.note}]" if p.note else ""))
    return out
