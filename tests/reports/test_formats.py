"""Every format renders the same stored scan: what each must hold, checked by parsing it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.reports.conftest import show


def stored_findings(history: Path) -> int:
    with sqlite3.connect(history) as db:
        return int(db.execute("SELECT COUNT(*) FROM findings WHERE scan_id=1").fetchone()[0])


def test_the_stored_scan_has_failures_unknowns_and_rules_without_evidence(report_json) -> None:
    rules = report_json["summary"]["rules"]
    assert any(r["failed"] for r in rules)
    assert any(r["no_evidence"] and r["evaluated"] for r in rules)  # every result unknown
    assert any(r["no_records_in_scope"] for r in rules)
    assert report_json["summary"]["unavailable"]


def test_json_rendered_again_from_the_store_is_what_the_scan_wrote(stored, report_json) -> None:
    result = show(stored, "--scan", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == report_json


def test_json_2_0_names_record_ids_and_gives_rates_per_clause_and_process(report_json) -> None:
    assert report_json["schema_version"] == "2.0"
    assert all("record_id" in f and "sys_id" not in f for f in report_json["findings"])
    rules = report_json["summary"]["rules"]
    for key, name in (("clause", "clauses"), ("process", "processes")):
        assert {rate[key] for rate in report_json["summary"][name]} == {r[key] for r in rules}
        for rate in report_json["summary"][name]:
            group = [r for r in rules if r[key] == rate[key]]
            assert set(rate["rules"]) == {r["rule_id"] for r in group}
            assert rate["evaluated"] == sum(r["evaluated"] for r in group)
            assert rate["failed"] == sum(r["failed"] for r in group)
            assert rate["decided"] == rate["evaluated"] - rate["unknown"]
            if rate["decided"]:
                assert rate["failure_rate"] == round(rate["failed"] / rate["decided"], 4)
    severities = report_json["summary"]["severities"]
    assert list(severities) == ["critical", "high", "medium", "low", "info"]
    assert sum(severities.values()) == sum(r["failed"] + r["errors"] for r in rules)


def test_csv_has_one_row_per_finding(stored, report_json) -> None:
    result = show(stored, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output, newline="")))
    assert len(rows) == len(report_json["findings"]) == stored_findings(stored)
    assert [r["fingerprint"] for r in rows] == [f["fingerprint"] for f in report_json["findings"]]
    first, expected = rows[0], report_json["findings"][0]
    assert (first["record_id"], first["number"], first["status"]) == (
        expected["record_id"], expected["number"], expected["status"])
    assert result.stdout_bytes.count(b"\r\n") == len(rows) + 1  # RFC 4180 line ends


def test_junit_parses_with_a_testcase_per_rule(stored, report_json) -> None:
    result = show(stored, "--format", "junit")
    assert result.exit_code == 0, result.output
    root = ET.fromstring(result.output.encode())
    rules = {r["rule_id"]: r for r in report_json["summary"]["rules"]}
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == set(rules) and len(list(root.iter("testcase"))) == len(rules)
    for rule_id, rule in rules.items():
        case = cases[rule_id]
        assert (case.find("failure") is not None) == (rule["failed"] > 0), rule_id
        skipped = case.find("skipped")
        assert (skipped is not None) == (rule["no_evidence"] and not rule["failed"] and not rule["errors"])
        if skipped is not None and rule["evaluated"]:
            assert "every result unknown" in skipped.get("message", "")
            assert "was not" in skipped.get("message", "")  # the reason, e.g. not exported
    assert int(root.get("tests")) == len(rules)
    assert int(root.get("failures")) == sum(1 for r in rules.values() if r["failed"])
    assert sum(int(s.get("tests")) for s in root.iter("testsuite")) == len(rules)
    failing = next(r for r in rules.values() if r["failed"])
    text = cases[failing["rule_id"]].find("failure").text
    numbers = [f["number"] for f in report_json["findings"]
               if f["rule_id"] == failing["rule_id"] and f["status"] == "fail"]
    assert all(n in text for n in numbers)


def test_oscal_loads_in_trestle_assessment_results_with_findings(stored, report_json) -> None:
    from trestle.oscal.assessment_results import AssessmentResults

    result = show(stored, "--format", "oscal")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    model = AssessmentResults.model_validate(doc["assessment-results"])
    (assessed,) = model.results
    rules = report_json["summary"]["rules"]
    decided = [r for r in rules if r["evaluated"] > r["unknown"]]
    assert assessed.findings and len(assessed.findings) == len(decided)
    not_satisfied = {f.target.target_id for f in assessed.findings
                     if f.target.status.state.value == "not-satisfied"}
    assert not_satisfied == {r["rule_id"] for r in rules if r["failed"] or r["errors"]}
    assert len(assessed.observations) == len(rules)
    controls = [c.control_id for s in assessed.reviewed_controls.control_selections
                for c in s.include_controls]
    assert {c.removeprefix("iso20000-1_") for c in controls} == {r["clause"] for r in rules}
    # the same stored scan renders to the same document (uuids derived, not random)
    assert show(stored, "--format", "oscal").output == result.output


def test_sarif_has_a_result_per_finding_on_the_rules_it_declares(stored, report_json) -> None:
    result = show(stored, "--format", "sarif")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [r["rule_id"] for r in report_json["summary"]["rules"]]
    assert len(run["results"]) == len(report_json["findings"])
    for res, finding in zip(run["results"], report_json["findings"], strict=True):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"] == finding["rule_id"]
        assert res["partialFingerprints"]["smsConformanceFingerprint/v1"] == finding["fingerprint"]
        assert res["level"] in {"none", "note", "warning", "error"}
        assert res["kind"] == ("fail" if finding["status"] in ("fail", "waived") else "open")
        assert res["message"]["text"] and res["locations"][0]["logicalLocations"][0]["name"]
    assert run["invocations"][0]["executionSuccessful"] is True


def test_table_is_the_default(stored) -> None:
    result = show(stored)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Scan 1 of ") and "Findings (" in result.output


def test_scan_offers_every_format(tmp_path: Path) -> None:
    """`scan --format` renders from the stored scan through the same registry."""
    from tests.reports.conftest import run

    out = tmp_path / "scan.xml"
    result = run("scan", "--source", "sandbox", "--records", "50", "--as-of", "2026-11-01",
                 "--history", str(tmp_path / "h.sqlite"), "--format", "junit", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert ET.parse(out).getroot().tag == "testsuites"
    assert f"wrote the junit report of scan 1 to {out}" in result.output


def test_table_totals_findings_by_severity(stored, report_json) -> None:
    totals = report_json["summary"]["severities"]
    line = next(x for x in show(stored).output.splitlines() if x.startswith("Findings by severity: "))
    assert line == "Findings by severity: " + ", ".join(f"{n} {s}" for s, n in totals.items())
    assert sum(totals.values()) > 0
