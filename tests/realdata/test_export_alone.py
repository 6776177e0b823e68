"""One table exported alone: counts of records of a table not exported are unknown, not zero."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from click.testing import CliRunner

from sms_conformance.cli import cli

HERE = Path(__file__).parent
CHANGES = HERE / "pdi_dev144612" / "change_request.json"


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def scan(directory: Path, tmp_path: Path, expect: int = 0) -> dict:
    tmp_path.mkdir(exist_ok=True)
    out = tmp_path / "report.json"
    code, output = run(["scan", "--source", f"file:{directory}", "--history",
                        str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01", "--format", "json",
                        "--output", str(out), "--fail-on", "medium"])
    assert code == expect, output  # 0: no failure of medium severity or above
    return json.loads(out.read_text())


def rule(report: dict, rule_id: str) -> dict:
    return next(r for r in report["summary"]["rules"] if r["rule_id"] == rule_id)


def test_unsuccessful_changes_exported_without_incidents_are_unknown(tmp_path: Path) -> None:
    """bad input: a change export alone, two changes closed unsuccessful (real rows of the
    dev144612 capture, close_code added); outcome: change.failed.incidents_linked 0 failures,
    2 unknown naming the missing incident export, exit 0 with --fail-on medium."""
    rows = orjson.loads(CHANGES.read_bytes())["result"]
    for row in rows:
        row["close_code"] = "successful"
        row["close_notes"] = "Implemented as planned, verified by the requester."
    for row in rows[:2]:
        row["close_code"] = "unsuccessful"
    (tmp_path / "change_request.json").write_bytes(orjson.dumps({"result": rows}))
    report = scan(tmp_path, tmp_path)
    counts = rule(report, "change.failed.incidents_linked")
    assert (counts["failed"], counts["unknown"]) == (0, 2)
    details = {f["detail"] for f in report["findings"]
               if f["rule_id"] == "change.failed.incidents_linked"}
    assert details and all("incident.json was not exported" in d for d in details), details


def test_problems_exported_without_incidents_are_unknown(tmp_path: Path) -> None:
    """bad input: a problem export alone, three problems under investigation; outcome:
    problem.links.incidents 0 failures, 3 unknown naming the missing incident export; the
    same directory with an incident export linking none of them: 3 failures."""
    rows = [{"sys_id": f"{i:032x}", "number": f"PRB00000{i}", "state": "103",
             "opened_at": "2024-05-0{i} 10:00:00", "sys_updated_on": "2024-05-0{i} 11:00:00",
             "short_description": "Disk latency", "assignment_group": "a" * 32,
             "resolution_code": ""}
            for i in range(1, 4)]
    (tmp_path / "problem.json").write_bytes(orjson.dumps({"result": rows}))
    report = scan(tmp_path, tmp_path / "alone")
    counts = rule(report, "problem.links.incidents")
    assert (counts["failed"], counts["unknown"]) == (0, 3)
    assert all("incident.json was not exported" in f["detail"] for f in report["findings"]
               if f["rule_id"] == "problem.links.incidents")
    incident = {"sys_id": "f" * 32, "number": "INC0000001", "state": "1", "problem_id": "",
                "opened_at": "2024-05-01 09:00:00", "sys_updated_on": "2024-05-01 09:00:00"}
    (tmp_path / "incident.json").write_bytes(orjson.dumps({"result": [incident]}))
    assert rule(scan(tmp_path, tmp_path / "both", 1), "problem.links.incidents")["failed"] == 3
