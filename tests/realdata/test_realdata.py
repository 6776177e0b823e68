"""Real exports nobody here wrote (see SOURCES.md): findings worked out by hand must hold."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli

HERE = Path(__file__).parent
PDI = HERE / "pdi_dev144612"
LIST_EXPORT = HERE / "list_export_yilmazetl" / "incident.json"
# The 18 fields of the dev144612 capture: what a narrower export of the same table provides.
NARROW = set(orjson.loads((PDI / "incident.json").read_bytes())["result"][0])


def scan(directory: Path, tmp_path: Path, name: str) -> dict:
    out = tmp_path / f"{name}.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{directory}", "--history", str(tmp_path / f"{name}.sqlite"),
        "--as-of", "2026-11-01", "--format", "json", "--output", str(out),
    ])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def failing(report: dict, rule_id: str) -> list[str]:
    return sorted(f["number"] for f in report["findings"]
                  if f["rule_id"] == rule_id and f["status"] == "fail")


@pytest.fixture(scope="module")
def pdi(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return scan(PDI, tmp_path_factory.mktemp("pdi"), "pdi")


def test_hand_worked_failures_on_the_developer_instance_capture(pdi: dict) -> None:
    # In progress / on hold / closed (states 2, 3, 7) with assignment_group "".
    assert failing(pdi, "incident.logging.assignment_group") == [
        "INC0000007", "INC0000014", "INC0000018", "INC0000019", "INC0000020", "INC0000021",
        "INC0000025", "INC0000027", "INC0000031", "INC0000040", "INC0000041", "INC0000044",
        "INC0000048", "INC0000601", "INC0001990", "INC0009002", "INC0009003", "INC0009004"]
    assert failing(pdi, "incident.logging.category") == [
        "INC0000018", "INC0000044", "INC0000048", "INC0000055"]
    # Closed before resolved: the demo data's resolved_at was rewritten on 2023-06-24.
    ordered = failing(pdi, "incident.resolution.timestamps_ordered")
    assert ordered[:3] == ["INC0000001", "INC0000004", "INC0000006"] and len(ordered) == 20
    assert failing(pdi, "incident.closure.closed_at") == []


def test_columns_the_capture_lacks_are_unknown_never_failures(pdi: dict) -> None:
    rules = {r["rule_id"]: r for r in pdi["summary"]["rules"]}
    for rule_id in ("incident.closure.validated", "incident.logging.reporter", "change.ci.named",
                    "change.plan.backout"):
        assert rules[rule_id]["failed"] == 0, rule_id
        assert rules[rule_id]["unknown"] == rules[rule_id]["evaluated"] > 0, rule_id
    gaps = {(g["process"], g["field"]) for g in pdi["summary"]["unavailable"]}
    assert {("incident", "reporter"), ("incident", "resolution_notes"),
            ("change", "configuration_item")} <= gaps
    # No problem export: links into it are unknown, never "does not exist".
    assert not [f for f in pdi["findings"] if f["status"] == "fail" and "exist" in f["rule_id"]]


def test_a_narrow_export_of_real_records_adds_no_failure(tmp_path: Path) -> None:
    rows = orjson.loads(LIST_EXPORT.read_bytes())["records"]
    full_dir, narrow_dir = tmp_path / "full", tmp_path / "narrow"
    full_dir.mkdir()
    narrow_dir.mkdir()
    (full_dir / "incident.json").write_bytes(orjson.dumps({"result": rows}))
    narrow = [{k: v for k, v in row.items() if k in NARROW} for row in rows]
    (narrow_dir / "incident.json").write_bytes(orjson.dumps({"result": narrow}))
    full, part = scan(full_dir, tmp_path, "full"), scan(narrow_dir, tmp_path, "narrow")
    fails = {(f["rule_id"], f["number"]) for f in full["findings"] if f["status"] == "fail"}
    part_fails = {(f["rule_id"], f["number"]) for f in part["findings"] if f["status"] == "fail"}
    assert part_fails <= fails
    assert len(fails - part_fails) > 50  # what the narrow export cannot show: unknown instead
    reporter = {r["rule_id"]: r for r in part["summary"]["rules"]}["incident.logging.reporter"]
    assert reporter["failed"] == 0 and reporter["unknown"] == reporter["evaluated"]


CSV_EXPORT = HERE / "list_export_csv_priyaroy"
EVENT_LOG = HERE / "uci_event_log"


def test_a_display_value_csv_of_the_same_demo_records_gives_the_same_failures(tmp_path: Path,
                                                                              pdi: dict) -> None:
    """Two real exports of the stock demo incidents, taken years apart in different shapes (raw
    Table API JSON, a display-value list CSV): the rule both can decide agrees record for record."""
    csv = scan(CSV_EXPORT, tmp_path, "csv")
    rule = "incident.logging.assignment_group"
    assert failing(csv, rule) == failing(pdi, rule)
    assert len(failing(csv, rule)) == 18
    links = {r["rule_id"]: r for r in csv["summary"]["rules"]}["incident.links.problem_exists"]
    assert links["failed"] == 0 and links["no_evidence"] is True  # names, not sys_ids


def test_the_event_log_is_refused_not_misread(tmp_path: Path) -> None:
    """bad input: the UCI event log (one row per update) given as an incident export; outcome:
    exit 2 naming the file and the repeated number, nothing scanned."""
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{EVENT_LOG}", "--history", str(tmp_path / "h.sqlite"),
    ])
    assert result.exit_code == 2, result.output
    assert "incident.csv: line 3 repeats number INC0000045 of line 2" in result.output
    assert "Traceback" not in result.output


def test_closure_notes_in_a_persons_words_are_not_boilerplate(tmp_path: Path) -> None:
    """The list export's 28 resolved or closed incidents: 21 boilerplate or junk notes ("Closed
    before close notes were made mandatory" 17 times, "Done", "Fixed", "asdasdasdsad", "This
    incident is resolved.") fail; the 7 in a person's words pass, though none names a
    validation step."""
    directory = tmp_path / "export"
    directory.mkdir()
    (directory / "incident.json").write_bytes(LIST_EXPORT.read_bytes())
    report = scan(directory, tmp_path, "notes")
    counts = {r["rule_id"]: r for r in report["summary"]["rules"]}["incident.closure.validated"]
    assert (counts["passed"], counts["failed"]) == (7, 21)
