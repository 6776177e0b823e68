"""The JSON report (schema sms-conformance/report 2.0, see docs/report-format.md), streamed."""

from __future__ import annotations

from dataclasses import asdict
from typing import IO, Any

import orjson

from sms_conformance import __version__
from sms_conformance.reports.model import ScanReport

SCHEMA = "sms-conformance/report"
SCHEMA_VERSION = "2.0"


def report_head(report: ScanReport) -> dict[str, Any]:
    """Everything but the findings: scan, reproducibility and summary."""
    scan, made = report.scan, report.provenance
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generator": f"sms-conformance {__version__}",
        "scan": {**asdict(scan), "notices": list(scan.notices)},
        "reproducibility": {
            "tool_version": made.tool_version or None, "filters": dict(made.filters),
            "rules_digest": made.rules_digest or None, "config_digest": made.config_digest or None,
        },
        "summary": {
            "rules": [x.as_dict() for x in report.rules],
            "clauses": [rate.as_dict("clause") for rate in report.clauses],
            "processes": [rate.as_dict("process") for rate in report.processes],
            "severities": report.severity_totals,
            "unavailable": [g.as_dict() for g in report.unavailable],
            "service_levels": report.service_levels,
        },
    }


def write_json(report: ScanReport, out: IO[str]) -> None:
    """Writes the report; findings are streamed one at a time."""
    body = orjson.dumps(report_head(report), option=orjson.OPT_INDENT_2)
    out.write(body[:-2].decode() + ',\n  "findings": [')
    for count, row in enumerate(report.findings()):
        # orjson writes a dataclass as asdict would, without asdict's deep copy of each field.
        out.write(("," if count else "") + "\n    " + orjson.dumps(row).decode())
    out.write("\n  ]\n}\n")
