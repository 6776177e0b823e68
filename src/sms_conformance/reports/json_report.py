"""The JSON report (schema sms-conformance/report 1.0, see docs/report-format.md), streamed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import IO, Any

import orjson

from sms_conformance import __version__
from sms_conformance.history import FindingRow
from sms_conformance.reports.summary import RuleLine, by_clause

SCHEMA = "sms-conformance/report"
SCHEMA_VERSION = "1.1"


def write_json(out: IO[bytes], scan: dict[str, Any], lines: list[RuleLine],
               findings: Iterable[FindingRow], unavailable: list[dict[str, Any]]) -> int:
    """Writes the report; findings are streamed one at a time. Returns how many."""
    head = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generator": f"sms-conformance {__version__}",
        "scan": {
            "id": scan["id"], "platform": scan["platform"], "instance": scan["instance"],
            "source": scan["source"], "started_at": scan["started_at"],
            "finished_at": scan["finished_at"], "as_of": scan["as_of"],
            "complete": bool(scan["complete"]), "incremental": bool(scan["incremental"]),
            "notices": scan["notices"], "error": scan["error"],
        },
        "summary": {
            "rules": [x.as_dict() for x in lines],
            "clauses": [
                {"clause": clause, "evaluated": sum(x.evaluated for x in group),
                 "failed": sum(x.failed for x in group),
                 "unknown": sum(x.unknown for x in group), "rules": [x.rule_id for x in group]}
                for clause, group in by_clause(lines).items()
            ],
            "unavailable": unavailable,
        },
    }
    body = orjson.dumps(head, option=orjson.OPT_INDENT_2)
    out.write(body[:-2] + b',\n  "findings": [')
    count = 0
    for row in findings:
        out.write(b"," if count else b"")
        out.write(b"\n    " + orjson.dumps(asdict(row)))
        count += 1
    out.write(b"\n  ]\n}\n")
    return count
