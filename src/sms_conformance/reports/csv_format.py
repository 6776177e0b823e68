"""The CSV report: one row per stored finding (RFC 4180, through the csv module)."""

from __future__ import annotations

import csv
import json
from typing import IO

from sms_conformance.reports.model import ScanReport

COLUMNS = (
    "scan_id", "fingerprint", "rule_id", "clause", "severity", "process", "table", "record_id",
    "number", "status", "message", "detail", "observed", "owner", "owner_id", "first_seen", "url",
)

# A cell starting with one of these is read as a formula by spreadsheets; record text is
# untrusted, so such a cell gets a leading apostrophe (OWASP's advice on CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_csv(report: ScanReport, out: IO[str]) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for f in report.findings():
        writer.writerow([cell(v) for v in (
            report.scan.id, f.fingerprint, f.rule_id, f.clause, f.severity, f.process, f.table,
            f.record_id, f.number, f.status, f.message, f.detail,
            json.dumps(f.observed, sort_keys=True, ensure_ascii=False) if f.observed else "",
            f.owner, f.owner_id, f.first_seen, f.url,
        )])
