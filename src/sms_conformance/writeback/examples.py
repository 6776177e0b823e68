"""Which failures a corrective action shows first, and the full list it attaches. Pure.

Worst first: by the severity of what was observed where the rule reads one (the record's
priority, impact, urgency or risk: 1 is the highest), then by how long it took (the widest gap
between the dates observed: the longest overdue), then oldest first (the earliest date observed,
else when the finding was first detected), then by number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import datetime, timezone

from sms_conformance.model.rows import FindingRow

# Canonical fields whose value ranks a record, 1 the highest (priority = impact x urgency).
SEVERITY_FIELDS = ("priority", "impact", "urgency", "risk")
_DATE = re.compile(r"^\d{4}-\d\d-\d\d")
# A cell a spreadsheet would read as a formula: prefixed with ' so it stays text.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ("number", "id", "link", "finding", "observed")


def _dates(finding: FindingRow) -> list[datetime]:
    found: list[datetime] = []
    for value in finding.observed.values():
        if _DATE.match(value):
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            found.append(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
    return found


def _severity(finding: FindingRow) -> tuple[str, int] | None:
    for name in SEVERITY_FIELDS:
        value = finding.observed.get(name, "")
        if value.isdigit():
            return name, int(value)
    return None


def worst_first(findings: Sequence[FindingRow]) -> tuple[list[FindingRow], str]:
    """The findings ranked worst first, and how they were ranked, in words, for the task."""
    severity = {id(f): _severity(f) for f in findings}
    dates = {id(f): _dates(f) for f in findings}
    spans = {k: (max(v) - min(v)).total_seconds() for k, v in dates.items() if len(v) > 1}

    def key(finding: FindingRow) -> tuple[int, float, str, int, str]:
        rank = severity[id(finding)]
        seen = dates[id(finding)]
        oldest = (min(seen).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if seen
                  else finding.first_seen[:19].replace("T", " "))
        return (rank[1] if rank else 99, -spans.get(id(finding), 0.0), oldest,
                len(finding.number), finding.number)

    ranked = sorted(findings, key=key)
    used = sorted({r[0] for r in severity.values() if r}, key=SEVERITY_FIELDS.index)
    words = [*(f"highest {name} first" for name in used[:1]),
             *(["longest between the dates observed first (the most overdue)"] if spans else []),
             "oldest first", "by number"]
    return ranked, ", then ".join(words)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def full_list_csv(findings: Sequence[FindingRow]) -> bytes:
    """Every failing record of a corrective action, one row each, by number (UTF-8 CSV)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for f in sorted(findings, key=lambda f: (len(f.number), f.number)):
        observed = "; ".join(f"{k}: {v or '(empty)'}" for k, v in f.observed.items())
        writer.writerow([_cell(v) for v in (f.number, f.record_id, f.url, f.message, observed)])
    return out.getvalue().encode()
