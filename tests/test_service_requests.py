"""Service requests (clause 8.6.2): what doctor checks for them on ServiceNow, and a request
table or work type the scan cannot read, on both platforms: that process not read, the others
scanned."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.jira import JiraSandbox, server
from sms_conformance.sandbox.jira.site import ISSUE_TYPES
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export
from tests.test_jira_e2e import ENV, PASSWORD


def doctor_before_and_after_forbidding(table: str, rules: str, other_rules: str
                                       ) -> tuple[str, str, str]:
    """`doctor --only RULES` on a ServiceNow sandbox, then again with `table` forbidden (403),
    then `--only OTHER_RULES`: the three outputs."""
    env = {"SERVICENOW_USERNAME": "admin"}
    with Sandbox(records=60, seed=2) as box:
        env["SERVICENOW_PASSWORD"] = box.password
        args = ["doctor", "--source", "servicenow", "--instance", box.url]
        readable = CliRunner(env=env).invoke(cli, [*args, "--only", rules]).output
        box.store.forbidden.add(table)
        forbidden = CliRunner(env=env).invoke(cli, [*args, "--only", rules]).output
        others = CliRunner(env=env).invoke(cli, [*args, "--only", other_rules]).output
    return readable, forbidden, others


def test_doctor_checks_read_access_to_sc_request() -> None:
    """fault: sc_request (the table requested items' requester is dot-walked through) forbidden
    (403) to the integration user; outcome: doctor fails that table with the fix (read access),
    which it reads fine otherwise; without request rules it is not checked."""
    readable, forbidden, incidents = doctor_before_and_after_forbidding(
        "sc_request", "request.*", "incident.*")
    assert "ok    sc_request: readable" in readable, readable
    assert "FAIL  sc_request: no read access" in forbidden, forbidden
    assert "grant the integration user a role that reads sc_request" in forbidden
    assert "sc_request" not in incidents, incidents


def _scan(args: list[str], env: dict[str, str], out: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner(env=env).invoke(cli, [
        *args, "--as-of", "2026-11-01", "--full", "--format", "json", "--output", str(out),
        "--write-back", "--max-new-tasks", "5000"])
    assert out.exists(), result.output
    report: dict[str, Any] = json.loads(out.read_text())
    return result.exit_code, report


OLD_MARK = "2000-01-01T00:00:00Z"


def _age_watermarks(history: Path) -> None:
    """Every watermark set far back, so that one the next scan moves is seen to move."""
    with closing(sqlite3.connect(history)) as db, db:
        db.execute("UPDATE watermarks SET updated_since = ?", (OLD_MARK,))


def _watermark(history: Path, table: str) -> str:
    with closing(sqlite3.connect(history)) as db:
        marks = db.execute("SELECT updated_since FROM watermarks WHERE tbl = ?",
                           (f"{table}@write-back",)).fetchall()
    assert len(marks) == 1, marks
    return str(marks[0][0])


def _request_rules_not_read(report: dict[str, Any], *said: str) -> None:
    """The request rules evaluated nothing, failed nothing, and are listed as not read with the
    reason; the other processes were scanned; the scan is complete."""
    assert report["scan"]["complete"], report["scan"]
    lines = {r["rule_id"]: r for r in report["summary"]["rules"]}
    requests = {k: v for k, v in lines.items() if k.startswith("request.")}
    assert len(requests) == 10 and all(
        v["evaluated"] == 0 and v["failed"] == 0 and v["no_evidence"] for v in requests.values())
    assert lines["incident.logging.priority"]["evaluated"] > 0
    assert lines["problem.rca.root_cause"]["evaluated"] > 0
    gaps = [g for g in report["summary"]["unavailable"] if g["process"] == "request"]
    assert len(gaps) == 1 and set(gaps[0]["rules"]) == set(requests), gaps
    assert gaps[0]["field"] == "*" and all(s in gaps[0]["reason"] for s in said), gaps
    assert any("request skipped" in n and all(s in n for s in said)
               for n in report["scan"]["notices"]), report["scan"]["notices"]
    assert not any(f["process"] == "request" for f in report["findings"])


def test_sc_req_item_forbidden_leaves_requests_not_read_and_their_tasks_as_they_are(
        tmp_path: Path) -> None:
    """fault: the integration user may not read sc_req_item (403) on a scan after one that
    tasked request findings; outcome: the scan completes (exit as Jira's without request work
    types), the request rules not read with the reason naming sc_req_item and the grant, a
    notice, the other processes scanned, no request task written or closed, and the table's
    watermark left where it was (its records are read in full once readable again)."""
    env = {"SERVICENOW_USERNAME": "admin"}
    history = tmp_path / "h.sqlite"
    with Sandbox(records=150, seed=2) as box:
        env["SERVICENOW_PASSWORD"] = box.password
        args = ["scan", "--source", "servicenow", "--instance", box.url, "--history",
                str(history)]
        _, first = _scan(args, env, tmp_path / "first.json")
        tasks = [list(row) for row in box.store.tables["sc_task"].rows]
        _age_watermarks(history)
        box.store.forbidden.add("sc_req_item")
        code, report = _scan(args, env, tmp_path / "second.json")
        after = [list(row) for row in box.store.tables["sc_task"].rows]
    assert any(f["process"] == "request" for f in first["findings"]) and tasks
    assert code in (0, 1), report["scan"]
    _request_rules_not_read(report, "sc_req_item may not be read", "403",
                            "grant the integration user a role that reads sc_req_item")
    assert after == tasks
    assert _watermark(history, "sc_req_item") == OLD_MARK
    assert _watermark(history, "incident") != OLD_MARK  # the tables read moved theirs


def test_a_jsm_project_without_request_types_leaves_requests_not_read_and_their_tasks(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """fault: the project no longer has the Service request work types, on a scan after one
    that tasked request findings; outcome: as on ServiceNow with sc_req_item forbidden: the
    scan completes, the request rules not read with the reason naming the work types, a
    notice, the other processes scanned, no request task written or closed, the watermark
    left where it was."""
    history = tmp_path / "h.sqlite"
    with JiraSandbox(records=150, seed=2, password=PASSWORD) as jsm:
        args = ["scan", "--source", "jira", "--site", jsm.url, "--history", str(history)]
        _, first = _scan(args, ENV, tmp_path / "first.json")
        tasks = sorted((i.key, i.status, str(i.description)) for i in jsm.store.issues.values()
                       if i.is_task)
        _age_watermarks(history)
        monkeypatch.setattr(server, "ISSUE_TYPES", tuple(
            t for t in ISSUE_TYPES if t.process != "request"))
        code, report = _scan(args, ENV, tmp_path / "second.json")
        after = sorted((i.key, i.status, str(i.description)) for i in jsm.store.issues.values()
                       if i.is_task)
    assert any(f["process"] == "request" for f in first["findings"]) and tasks
    assert code in (0, 1), report["scan"]
    _request_rules_not_read(report, "no request issue type", "[System] Service request")
    assert after == tasks
    assert _watermark(history, "ITSM:request") == OLD_MARK
    assert _watermark(history, "ITSM:incident") != OLD_MARK  # the tables read moved theirs


def _file_scan(directory: Path, tmp_path: Path, name: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{directory}", "--history", str(tmp_path / f"{name}.sqlite"),
        "--only", "request.*", "--only", "problem.*", "--format", "json", "--output", str(out)])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(out.read_text())
    return report


@pytest.mark.parametrize(("fmt", "display"), [("json", "false"), ("csv", "true")])
def test_an_export_carries_requests_their_requester_read_from_sc_request(
        fmt: str, display: str, tmp_path: Path) -> None:
    """sc_req_item exported as the other tables (Table API JSON, the list view's CSV in display
    values): its requester is its request's requested_for, read from sc_request beside it, so
    the scan fails exactly the planted requests; without sc_request the requester is unknown."""
    dataset = generate(records=300, seed=3)
    export(dataset, tmp_path / "x", fmt=fmt, display=display)
    report = _file_scan(tmp_path / "x", tmp_path, "with")
    planted = {n for n, rules in dataset.planted.items() if "request.logging.requester" in rules}
    failed = {f["number"] for f in report["findings"]
              if f["rule_id"] == "request.logging.requester" and f["status"] == "fail"}
    assert failed == planted and planted
    (tmp_path / "x" / f"sc_request.{fmt}").unlink()
    alone = _file_scan(tmp_path / "x", tmp_path, "alone")
    line = next(r for r in alone["summary"]["rules"] if r["rule_id"] == "request.logging.requester")
    assert line["failed"] == 0 and line["unknown"] == line["evaluated"] > 0, line


def test_an_export_without_sc_req_item_leaves_requests_not_read_as_one_without_problem(
        tmp_path: Path) -> None:
    """bad input: an export directory without sc_req_item.json (then without problem.json);
    outcome: that process not read, alike for both: a notice naming the file, its rules
    evaluating nothing and listed as not read, the other processes scanned."""
    export(generate(records=200, seed=3), tmp_path / "x")
    (tmp_path / "x" / "sc_req_item.json").unlink()
    no_requests = _file_scan(tmp_path / "x", tmp_path, "requests")
    export(generate(records=200, seed=3), tmp_path / "x")
    (tmp_path / "x" / "problem.json").unlink()
    no_problems = _file_scan(tmp_path / "x", tmp_path, "problems")
    for report, process, table, other in ((no_requests, "request", "sc_req_item", "problem"),
                                          (no_problems, "problem", "problem", "request")):
        assert any(f"{table}.json not found" in n and f"{process} skipped" in n
                   for n in report["scan"]["notices"]), report["scan"]["notices"]
        lines = [r for r in report["summary"]["rules"] if r["process"] == process]
        assert lines and all(r["evaluated"] == 0 for r in lines)
        assert any(r["evaluated"] > 0 for r in report["summary"]["rules"]
                   if r["process"] == other)
        (gap,) = [g for g in report["summary"]["unavailable"] if g["field"] == "*"]
        assert gap["process"] == process and f"{table}.json was not exported" in gap["reason"]
        assert set(gap["rules"]) == {r["rule_id"] for r in lines}


REQUEST_SLA_RULES = ("request.sla.recorded", "request.sla.breach_reason",
                     "request.sla.pause_reason")


def _sla_scan(args: list[str], env: dict[str, str], out: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner(env=env).invoke(cli, [
        *args, "--as-of", "2026-11-01", "--full", "--format", "json", "--output", str(out),
        "--only", "request.sla.*", *extra])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def test_both_sandboxes_fail_exactly_the_planted_request_sla_defects(tmp_path: Path) -> None:
    """The one logical data set: the requested items' task_sla rows and the JSM SLA fields of
    the same SLA records; each platform's scan fails the planted request SLA defects, record for
    record, with the same counts per rule."""
    env = {"SERVICENOW_USERNAME": "admin"}
    with Sandbox(records=1200, seed=11) as box:
        env["SERVICENOW_PASSWORD"] = box.password
        planted = {n for n, rules in box.dataset.planted.items()
                   for r in rules if r in REQUEST_SLA_RULES}
        on_servicenow = _sla_scan(["scan", "--source", "servicenow", "--instance", box.url,
                                   "--history", str(tmp_path / "sn.sqlite")], env,
                                  tmp_path / "sn.json")
    with JiraSandbox(records=1200, seed=11, password=PASSWORD) as jsm:
        on_jira = _sla_scan(["scan", "--source", "jira", "--site", jsm.url, "--history",
                             str(tmp_path / "j.sqlite")], ENV, tmp_path / "j.json")
        keys = {i.key: i.record.number for i in jsm.store.issues.values() if i.record}
    failed_sn = {f["number"] for f in on_servicenow["findings"] if f["status"] == "fail"}
    failed_jira = {keys[f["number"]] for f in on_jira["findings"] if f["status"] == "fail"}
    assert failed_sn == planted == failed_jira
    lines = [{r["rule_id"]: (r["evaluated"], r["failed"], r["unknown"])
              for r in report["summary"]["rules"] if r["rule_id"] in REQUEST_SLA_RULES}
             for report in (on_servicenow, on_jira)]
    assert lines[0] == lines[1] and len(lines[0]) == 3
    assert all(evaluated and failed for evaluated, failed, _ in lines[0].values()), lines[0]


def test_task_sla_forbidden_leaves_the_request_sla_rules_unknown(tmp_path: Path) -> None:
    """fault: the integration user may not read task_sla (403); outcome: the request SLA rules
    fail nothing, unknown with the reason wherever the SLA records decide, and write-back
    writes no task for them."""
    env = {"SERVICENOW_USERNAME": "admin"}
    with Sandbox(records=300, seed=2) as box:
        env["SERVICENOW_PASSWORD"] = box.password
        box.store.forbidden.add("task_sla")
        report = _sla_scan(["scan", "--source", "servicenow", "--instance", box.url,
                            "--history", str(tmp_path / "h.sqlite")], env, tmp_path / "r.json",
                           "--write-back")
        tasks = box.store.tables["sc_task"].rows
    lines = {r["rule_id"]: r for r in report["summary"]["rules"]
             if r["rule_id"] in REQUEST_SLA_RULES}
    assert len(lines) == 3 and all(
        line["failed"] == 0 and line["unknown"] > 0 for line in lines.values()), lines
    assert lines["request.sla.recorded"]["passed"] == 0
    details = {f["detail"] for f in report["findings"] if f["status"] == "unknown"}
    assert details and all("task_sla may not be read" in d for d in details), details
    assert tasks == []


def test_a_breach_reason_the_map_names_explains_a_request_breach(tmp_path: Path) -> None:
    """slas.breach_reason names a task_sla field: the breached requests whose SLA records carry
    a reason pass (a stock map names none, so every breach fails there)."""
    env = {"SERVICENOW_USERNAME": "admin"}
    with Sandbox(records=1200, seed=11) as box:
        env["SERVICENOW_PASSWORD"] = box.password
        args = ["scan", "--source", "servicenow", "--instance", box.url]
        stock = _sla_scan([*args, "--history", str(tmp_path / "a.sqlite")], env,
                          tmp_path / "a.json", "--only", "request.sla.breach_reason")
        table = box.store.tables["task_sla"]
        for row in table.rows:
            if row[table.schema.col("has_breached")] == "true":
                table.schema.set(row, "u_breach_reason", "Supplier delivered the item late")
        table.bump()
        config = tmp_path / "config"
        config.mkdir()
        (config / "fieldmap.yaml").write_text(
            "request:\n  slas: {breach_reason: u_breach_reason}\n")
        mapped = _sla_scan([*args, "--history", str(tmp_path / "b.sqlite")], env,
                           tmp_path / "b.json", "--only", "request.sla.breach_reason",
                           "--config", str(config))
    before, after = (next(r for r in report["summary"]["rules"]
                          if r["rule_id"] == "request.sla.breach_reason")
                     for report in (stock, mapped))
    assert before["failed"] > 0 and after["failed"] == 0 == after["unknown"], (before, after)
    assert after["evaluated"] == before["evaluated"]
