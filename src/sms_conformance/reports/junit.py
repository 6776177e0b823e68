"""The JUnit XML report: a test suite per clause, a test case per rule.

A rule with failed records is a <failure>, one whose checks could not be evaluated an <error>,
one with no evidence (no record in scope, or every result unknown) is <skipped> with the reason.
CI servers read it as they read test results.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import IO

from sms_conformance.model.counts import RuleLine
from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.model import ScanReport
from sms_conformance.reports.xmltext import xml_text


def write_junit(report: ScanReport, out: IO[str]) -> None:
    scan = report.scan
    root = ET.Element("testsuites", name=f"sms-conformance scan {scan.id} of {scan.instance}")
    by_rule = report.findings_by_rule(("fail", "error"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    lines = {x.rule_id: x for x in report.rules}
    for rate in report.clauses:
        suite = ET.SubElement(root, "testsuite", name=xml_text(f"{rate.key} {rate.title}".strip()),
                              # the JUnit schema's timestamp has no zone: it is UTC
                              timestamp=scan.started_at.removesuffix("Z"))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for rule_id in rate.rules:
            outcome = _testcase(suite, lines[rule_id], by_rule.get(rule_id, []), report)
            counts["tests"] += 1
            if outcome:
                counts[outcome] += 1
        for name, value in counts.items():
            suite.set(name, str(value))
            totals[name] += value
    for name, value in totals.items():
        root.set(name, str(value))
    ET.indent(root)
    out.write(ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")


def _testcase(suite: ET.Element, line: RuleLine, findings: list[FindingRow],
              report: ScanReport) -> str:
    """Adds the rule's test case; returns its outcome (failures, errors, skipped) or ""."""
    case = ET.SubElement(suite, "testcase", classname=f"{line.clause}.{line.process}",
                         name=line.rule_id)
    summary = (f"{line.failed} failed, {line.errors} errors, {line.unknown} unknown, "
               f"{line.waived} waived of {line.evaluated} evaluated")
    listing = "\n".join(f"{f.number or f.record_id}: {f.message}" + (f" ({f.detail})" if f.detail else "")
                        for f in findings)
    if line.failed:
        element = ET.SubElement(case, "failure", type=line.severity,
                                message=xml_text(f"{line.title}: {summary}"))
        element.text = xml_text(listing)
        return "failures"
    if line.errors:
        element = ET.SubElement(case, "error", type="evaluation",
                                message=xml_text(f"{line.title}: {summary}"))
        element.text = xml_text(listing)
        return "errors"
    if not line.in_scope:
        ET.SubElement(case, "skipped", message="no records in scope")
        return "skipped"
    if line.decided == 0:
        reasons = "; ".join(report.unknown_reasons(line.rule_id)) or "reason not recorded"
        ET.SubElement(case, "skipped", message=xml_text(f"no evidence, every result unknown: {reasons}"))
        return "skipped"
    if line.unknown:
        ET.SubElement(case, "system-out").text = xml_text(summary)
    return ""

