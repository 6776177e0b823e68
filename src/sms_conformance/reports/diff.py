"""`report diff`: what changed between two scans of an instance, finding by finding.

A finding is one rule failing on one record (its fingerprint). Between an earlier and a later
scan it is:

- new: failing in the later scan, not in the earlier one;
- fixed: failing in the earlier scan, and the later one read the whole population of its rule
  (complete, full, the rule evaluated) without it failing: the record conforms now, or left the
  rule's scope (closed, deleted);
- still open: failing in both;
- not rechecked: failing in the earlier scan, and the later one cannot tell: its result is
  unknown, an error or waived, or the later scan did not read every record of the rule
  (incomplete, incremental, --only).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.csv_format import cell
from sms_conformance.store.history import History, instance_key

CHANGES = ("new", "fixed", "still open", "not rechecked")
SHOWN = 20  # findings listed per change in the table


@dataclass
class ScanDiff:
    earlier: Mapping[str, Any]
    later: Mapping[str, Any]
    findings: dict[str, list[FindingRow]] = field(default_factory=lambda: {c: [] for c in CHANGES})

    def by(self, key: str) -> dict[str, Counter[str]]:
        """Per rule (`rule_id`) or owner (`owner`): how many findings of each change."""
        table: dict[str, Counter[str]] = {}
        for change, rows in self.findings.items():
            for row in rows:
                table.setdefault(getattr(row, key) or "(unassigned)", Counter())[change] += 1
        return dict(sorted(table.items()))

    def as_dict(self) -> dict[str, Any]:
        def scan(s: Mapping[str, Any]) -> dict[str, Any]:
            return {k: s[k] for k in ("id", "instance", "started_at", "as_of")} | {
                "complete": bool(s["complete"]), "incremental": bool(s["incremental"])}

        return {
            "schema": "sms-conformance/diff", "schema_version": "1.0",
            "from": scan(self.earlier), "to": scan(self.later),
            "totals": {c: len(rows) for c, rows in self.findings.items()},
            "by_rule": {k: dict(v) for k, v in self.by("rule_id").items()},
            "by_owner": {k: dict(v) for k, v in self.by("owner").items()},
            "findings": [_finding(change, row) for change, rows in self.findings.items()
                         for row in rows],
        }


def diff_scans(history: History, earlier: Mapping[str, Any], later: Mapping[str, Any]) -> ScanDiff:
    result = ScanDiff(earlier, later)
    before = {f.fingerprint: f for f in history.findings(earlier["id"], statuses=("fail",))}
    after = {f.fingerprint: f for f in history.findings(later["id"])}
    whole = bool(later["complete"]) and not later["incremental"]
    evaluated = {row["rule_id"] for row in history.counts(later["id"])}
    for fingerprint, row in after.items():
        if row.status == "fail":
            result.findings["still open" if fingerprint in before else "new"].append(row)
    for fingerprint, row in before.items():
        now = after.get(fingerprint)
        if now is not None and now.status == "fail":
            continue
        if now is None and whole and row.rule_id in evaluated:
            result.findings["fixed"].append(row)
        else:
            result.findings["not rechecked"].append(row)
    for rows in result.findings.values():
        rows.sort(key=lambda f: (f.rule_id, f.number))
    return result


def _finding(change: str, f: FindingRow) -> dict[str, Any]:
    return {"change": change, "fingerprint": f.fingerprint, "rule_id": f.rule_id,
            "clause": f.clause, "severity": f.severity, "number": f.number,
            "owner": f.owner, "message": f.message, "url": f.url}


def render_table(d: ScanDiff) -> list[str]:
    a, b = d.earlier, d.later
    out = [f"Findings of {b['instance']} from scan {a['id']} (as of {a['as_of']}) to scan "
           f"{b['id']} (as of {b['as_of']}): "
           + ", ".join(f"{len(d.findings[c]):,} {c}" for c in CHANGES)]
    if not (b["complete"] and not b["incremental"]):
        out.append(f"note: scan {b['id']} did not read every record (incomplete or "
                   "incremental): what it did not read is 'not rechecked', never 'fixed'")
    for key, title in (("rule_id", "rule"), ("owner", "owner")):
        table = d.by(key)
        if not table:
            continue
        width = max(len(title), *(len(k) for k in table))
        out += ["", f"  {title:<{width}}  " + "  ".join(f"{c:>13}" for c in CHANGES)]
        for name, counts in table.items():
            out.append(f"  {name:<{width}}  " + "  ".join(f"{counts[c]:>13,}" for c in CHANGES))
    for change in ("new", "fixed"):
        rows = d.findings[change]
        if not rows:
            continue
        out += ["", f"{change.capitalize()} ({len(rows):,}):"]
        out += [f"  {f.severity:<8} {f.number:<12} {f.rule_id}: {f.message}" for f in rows[:SHOWN]]
        if len(rows) > SHOWN:
            out.append(f"  ... and {len(rows) - SHOWN:,} more (--format json or csv lists all)")
    return out


def write_csv(d: ScanDiff, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    columns = ("change", "fingerprint", "rule_id", "clause", "severity", "number", "owner",
               "message", "url")
    writer.writerow(("from_scan", "to_scan", *columns))
    for change, rows in d.findings.items():
        for row in rows:
            one = _finding(change, row)
            writer.writerow([d.earlier["id"], d.later["id"], *(cell(one[c]) for c in columns)])


def write(d: ScanDiff, fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        out.write(json.dumps(d.as_dict(), indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        write_csv(d, out)
    else:
        out.write("\n".join(render_table(d)) + "\n")


def previous_scan(scans: Iterable[Mapping[str, Any]],
                  later: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The latest complete scan of the same instance before `later` (else any earlier one that
    read something)."""
    earlier = [s for s in scans if s["id"] < later["id"]
               and instance_key(s) == instance_key(later) and not s.get("failed_start")]
    complete = [s for s in earlier if s["complete"]]
    candidates = complete or earlier
    return candidates[-1] if candidates else None
