"""The OSCAL assessment results (OSCAL 1.1.2, JSON): the scan as one assessment result.

Each rule is an observation (its counts, and the records that failed as relevant evidence,
linked by URL) and, when it could decide at least one record, a finding on the objective the
rule tests, satisfied or not, under the ISO/IEC 20000-1 clause it belongs to. A rule with no
evidence (no record in scope, every result unknown) has an observation and no finding: no
evidence is neither satisfied nor not. UUIDs are derived from the instance, scan and rule, so
rendering the same stored scan twice gives the same document.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import IO, Any

import orjson

from sms_conformance import __version__
from sms_conformance.model.counts import RuleLine
from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.model import ScanReport

OSCAL_VERSION = "1.1.2"
NAMESPACE = "urn:sms-conformance:oscal"
_EVIDENCE = ("fail", "error", "waived")
_TOKEN_START = re.compile(r"^[_A-Za-z]")


def control_id(clause: str) -> str:
    """The clause as an OSCAL token (a token cannot start with a digit)."""
    return f"iso20000-1_{clause}"


def token(text: str) -> str:
    return text if _TOKEN_START.match(text) else "_" + text


def write_oscal(report: ScanReport, out: IO[str]) -> None:
    out.write(orjson.dumps(assessment_results(report), option=orjson.OPT_INDENT_2).decode() + "\n")


def assessment_results(report: ScanReport) -> dict[str, Any]:
    scan, made = report.scan, report.provenance

    def uid(*parts: object) -> str:
        name = "/".join(map(str, (NAMESPACE, scan.instance, scan.id, *parts)))
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))

    evidence = report.findings_by_rule(_EVIDENCE)
    collected = scan.finished_at or scan.started_at
    observations, findings = [], []
    for line in report.rules:
        observation = _observation(line, evidence.get(line.rule_id, []), uid("observation", line.rule_id),
                                   collected, report)
        observations.append(observation)
        if line.decided > 0:
            findings.append(_finding(line, uid("finding", line.rule_id), observation["uuid"]))
    result: dict[str, Any] = {
        "uuid": uid("result"),
        "title": f"Conformance scan {scan.id} of {scan.instance}",
        "description": (f"Automated ISO/IEC 20000-1 conformance scan of {scan.platform} records "
                        f"({scan.source}), as of {scan.as_of}"
                        + ("" if scan.complete else f"; INCOMPLETE: {scan.error or 'reason unknown'}")),
        "start": scan.started_at,
        **({"end": scan.finished_at} if scan.finished_at else {}),
        "props": _props(complete=str(scan.complete).lower(), incremental=str(scan.incremental).lower(),
                        platform=scan.platform, source=scan.source, as_of=scan.as_of),
        "reviewed-controls": {"control-selections": [{"include-controls": [
            {"control-id": control_id(rate.key)} for rate in report.clauses]}]},
        "observations": observations,
    }
    if findings:
        result["findings"] = findings
    if scan.notices:
        result["remarks"] = "\n".join(scan.notices)
    return {"assessment-results": {
        "uuid": uid("assessment-results"),
        "metadata": {
            "title": f"sms-conformance assessment results: scan {scan.id} of {scan.instance}",
            "last-modified": collected,
            "version": f"scan-{scan.id}",
            "oscal-version": OSCAL_VERSION,
            "props": _props(generator=f"sms-conformance {__version__}", tool_version=made.tool_version,
                            rules_digest=made.rules_digest, config_digest=made.config_digest,
                            filters=json.dumps(dict(made.filters), sort_keys=True) if made.filters else ""),
        },
        # No assessment plan document exists: the plan is the rule pack, named by its digest.
        "import-ap": {"href": f"urn:sms-conformance:rule-pack:sha256:{made.rules_digest or 'unknown'}"},
        "results": [result],
    }}


def _observation(line: RuleLine, failing: list[FindingRow], observation_uuid: str, collected: str,
                 report: ScanReport) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "uuid": observation_uuid,
        "title": line.rule_id,
        "description": (f"{line.title}: {line.failed} failed, {line.errors} errors, "
                        f"{line.unknown} unknown, {line.waived} waived, {line.passed} passed "
                        f"of {line.evaluated} records evaluated"),
        "props": _props(clause=line.clause, process=line.process, severity=line.severity,
                        evaluated=line.evaluated, passed=line.passed, failed=line.failed,
                        errors=line.errors, waived=line.waived, unknown=line.unknown),
        "methods": ["TEST"],
        "types": ["finding"] if line.failed or line.errors else ["control-objective"],
        "collected": collected,
    }
    if failing:
        observation["relevant-evidence"] = [
            {**({"href": f.url} if f.url else {}),
             "description": f"{f.number or f.record_id} ({f.status}): {f.message}"
                            + (f" ({f.detail})" if f.detail else "")}
            for f in failing
        ]
    if not line.in_scope:
        observation["remarks"] = "No records in scope: no evidence either way."
    elif line.decided == 0:
        reasons = "; ".join(report.unknown_reasons(line.rule_id)) or "reason not recorded"
        observation["remarks"] = f"No evidence: every result unknown ({reasons})."
    return observation


def _finding(line: RuleLine, finding_uuid: str, observation_uuid: str) -> dict[str, Any]:
    satisfied = not (line.failed or line.errors)
    return {
        "uuid": finding_uuid,
        "title": line.title,
        "description": (f"{line.failed} of {line.decided} decided records failed"
                        + (f", {line.errors} could not be evaluated" if line.errors else "")),
        "props": _props(clause=line.clause, severity=line.severity),
        "target": {
            "type": "objective-id",
            "target-id": token(line.rule_id),
            "title": f"ISO/IEC 20000-1 {line.clause}: {line.title}",
            "status": {"state": "satisfied" if satisfied else "not-satisfied",
                       "reason": "pass" if satisfied else "fail"},
        },
        "related-observations": [{"observation-uuid": observation_uuid}],
    }


def _props(**values: object) -> list[dict[str, str]]:
    """Properties in our namespace; empty values left out (OSCAL forbids them)."""
    return [{"name": name.replace("_", "-"), "ns": NAMESPACE, "value": str(value).strip()}
            for name, value in values.items() if str(value).strip()]

