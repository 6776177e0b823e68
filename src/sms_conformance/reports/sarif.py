"""The SARIF 2.1.0 report: code-scanning dashboards read conformance findings as results.

A rule is a reportingDescriptor; a finding is a result located at its record (a logical
location: there is no source file), with the finding's fingerprint as partial fingerprint so a
dashboard tracks it across scans. Unknown and error results are kind "open" (the tool could not
tell pass from fail), waived ones carry an external suppression with the waiver.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import IO, Any

import orjson

from sms_conformance import __version__
from sms_conformance.model.counts import RuleLine
from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.model import ScanReport

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

_LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def write_sarif(report: ScanReport, out: IO[str]) -> None:
    index = {line.rule_id: i for i, line in enumerate(report.rules)}
    run = {
        "tool": {"driver": {
            "name": "sms-conformance", "version": __version__,
            "rules": [_descriptor(line) for line in report.rules],
        }},
        "automationDetails": {"id": f"sms-conformance/{report.scan.instance}/{report.scan.id}"},
        "invocations": [{
            "executionSuccessful": report.scan.complete,
            "startTimeUtc": report.scan.started_at,
            **({"endTimeUtc": report.scan.finished_at} if report.scan.finished_at else {}),
            "toolExecutionNotifications": [
                {"level": "error" if text == report.scan.error else "note", "message": {"text": text}}
                for text in ([report.scan.error] if report.scan.error else []) + list(report.scan.notices)
            ],
        }],
        "properties": {"scan": asdict(report.scan) | {"notices": list(report.scan.notices)},
                       "reproducibility": {**asdict(report.provenance),
                                           "filters": dict(report.provenance.filters)}},
    }
    head = orjson.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]},
                        option=orjson.OPT_INDENT_2).decode()
    # Results are streamed into the run: cut the document before the run's closing braces.
    tail = "\n    }\n  ]\n}"
    assert head.endswith(tail)
    out.write(head[: -len(tail)] + ',\n      "results": [')
    for count, finding in enumerate(report.findings()):
        result = orjson.dumps(_result(finding, index.get(finding.rule_id, -1))).decode()
        out.write(("," if count else "") + "\n        " + result)
    out.write("\n      ]" + tail + "\n")


def _descriptor(line: RuleLine) -> dict[str, Any]:
    return {
        "id": line.rule_id,
        "shortDescription": {"text": line.title},
        "defaultConfiguration": {"level": _LEVELS.get(line.severity, "warning")},
        "properties": {"clause": line.clause, "process": line.process, "severity": line.severity,
                       "tags": [f"ISO/IEC 20000-1 {line.clause}", line.process]},
    }


def _result(f: FindingRow, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.rule_id,
        "kind": "fail" if f.status in ("fail", "waived") else "open",
        "level": _LEVELS.get(f.severity, "warning") if f.status in ("fail", "waived") else "none",
        "message": {"text": f.message + (f" ({f.detail})" if f.detail else "")},
        "locations": [{"logicalLocations": [{
            "name": f.number or f.record_id,
            "fullyQualifiedName": f"{f.process}/{f.number or f.record_id}",
            "kind": "object",
        }]}],
        "partialFingerprints": {"smsConformanceFingerprint/v1": f.fingerprint},
        "properties": {"status": f.status, "clause": f.clause, "recordId": f.record_id,
                       "table": f.table, "owner": f.owner, "firstSeen": f.first_seen,
                       **({"url": f.url} if f.url else {}), "observed": f.observed},
    }
    if rule_index >= 0:
        result["ruleIndex"] = rule_index
    if f.status == "waived":
        result["suppressions"] = [{"kind": "external", "justification": f.detail or "waived"}]
    return result
