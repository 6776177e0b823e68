"""Service levels (clause 8.3.3) from the platforms' own SLA records: ServiceNow task_sla rows
and JSM SLA fields summed up on each record, the SLA rules on both sandboxes, and unknown (never
a task) where the SLA records cannot be read."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.connectors.jira.values import sla_record
from sms_conformance.connectors.servicenow import slas
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.model.records import Ref, Unknown
from sms_conformance.model.slas import SlaRecord, derived_fields, unknown_fields
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.scan.metrics import MetricSettings, ProcessMetrics
from tests.conftest import make_record
from tests.test_jira_e2e import ENV, PASSWORD

AS_OF = "2026-11-01"
SLA_RULES = ("incident.sla.recorded", "incident.sla.breach_reason", "incident.sla.pause_reason")


def servicenow_scan(box: Sandbox, tmp_path: Path, *extra: str) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    result = CliRunner(env={"SERVICENOW_USERNAME": "admin",
                            "SERVICENOW_PASSWORD": box.password}).invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history",
        str(tmp_path / "h.sqlite"), "--as-of", AS_OF, "--full", "--format", "json",
        "--output", str(tmp_path / "r.json"), *extra])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads((tmp_path / "r.json").read_text())
    return report


def jira_scan(box: JiraSandbox, tmp_path: Path, *extra: str) -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    result = CliRunner(env=ENV).invoke(cli, [
        "scan", "--source", "jira", "--site", box.url, "--history", str(tmp_path / "h.sqlite"),
        "--as-of", AS_OF, "--full", "--format", "json", "--output", str(tmp_path / "r.json"),
        *extra])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads((tmp_path / "r.json").read_text())
    return report


def sla_lines(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["rule_id"]: r for r in report["summary"]["rules"] if r["rule_id"] in SLA_RULES}


def test_a_record_with_several_slas_is_summed_up() -> None:
    slas = [SlaRecord("Priority 2 response (30 minutes)", "completed", True, reason="vendor"),
            SlaRecord("Priority 2 resolution (8 hours)", "paused", False),
            SlaRecord("Priority 3 resolution (24 hours)", "cancelled", True)]
    fields = derived_fields(slas, per_record_reason=False)
    assert fields == {"sla_count": 2, "sla_breached": 1, "sla_paused": 1,
                      "sla_breached_names": "Priority 2 response (30 minutes)"}
    assert derived_fields([], per_record_reason=False)["sla_count"] == 0


def test_several_breached_slas_need_a_reason_each() -> None:
    """Per SLA record reasons: the breach reason holds them all, and is empty as soon as one
    breached SLA has none (the rule then fails)."""
    explained = [SlaRecord("A", "completed", True, reason="Vendor late"),
                 SlaRecord("B", "completed", True, reason="Caller away")]
    assert derived_fields(explained, True)["sla_breach_reason"] == "A: Vendor late; B: Caller away"
    one_missing = [*explained[:1], SlaRecord("B", "completed", True, reason=" ")]
    assert derived_fields(one_missing, True)["sla_breach_reason"] is None
    unknown = unknown_fields("task_sla: no read access", True)
    assert set(unknown) == {"sla_count", "sla_breached", "sla_paused", "sla_breached_names",
                            "sla_breach_reason"}
    assert all(isinstance(v, Unknown) for v in unknown.values())


def _time(millis: int) -> dict[str, Any]:
    return {"epochMillis": millis, "iso8601": "2026-10-01T08:00:00+0000"}


def test_a_jsm_sla_field_reads_as_an_sla_record() -> None:
    """The shape of reference §3: completed cycles and the ongoing one."""
    due = 1790000000000
    cycle = {"startTime": _time(0), "breachTime": _time(due), "breached": False,
             "goalDuration": {"millis": 14400000}, "elapsedTime": {"millis": 3600000}}
    done = {"id": "1", "name": "Time to resolution", "completedCycles": [cycle]}
    assert sla_record(done, "customfield_10071", "TTR") == SlaRecord(
        "Time to resolution", "completed", False,
        planned_end=datetime.fromtimestamp(due / 1000, tz=timezone.utc), business_percentage=25)
    paused = {"name": "Time to first response", "completedCycles": [],
              "ongoingCycle": {"breached": True, "paused": True}}
    assert sla_record(paused, "customfield_10072", "TTFR") == SlaRecord(
        "Time to first response", "paused", True)
    assert sla_record({"completedCycles": []}, "customfield_10071", "TTR") is None
    assert sla_record(None, "customfield_10071", "TTR") is None


def test_a_jsm_sla_field_of_another_shape_is_unknown() -> None:
    """bad input: an SLA field given as text (a CSV export) or with cycles of another shape;
    outcome: unknown, saying which field, never an SLA record."""
    text = sla_record("2h 30m", "customfield_10071", "TTR")
    assert isinstance(text, Unknown) and "customfield_10071" in text.reason
    odd = sla_record({"completedCycles": "none"}, "customfield_10071", "TTR")
    assert isinstance(odd, Unknown) and "unknown shape" in odd.reason


def test_both_sandboxes_fail_exactly_the_planted_sla_defects(tmp_path: Path) -> None:
    """The one logical data set: the planted SLA defects are what each platform's scan fails,
    record for record."""
    with Sandbox(records=300, seed=5) as box:
        planted = {n for n, rules in box.dataset.planted.items() for r in rules if r in SLA_RULES}
        on_servicenow = servicenow_scan(box, tmp_path / "sn", "--only", "incident.sla.*")
    with JiraSandbox(records=300, seed=5, password=PASSWORD) as jsm:
        on_jira = jira_scan(jsm, tmp_path / "jira", "--only", "incident.sla.*")
        keys = {i.key: i.record.number for i in jsm.store.issues.values() if i.record}
    failed_sn = {f["number"] for f in on_servicenow["findings"] if f["status"] == "fail"}
    failed_jira = {keys[f["number"]] for f in on_jira["findings"] if f["status"] == "fail"}
    assert failed_sn == planted == failed_jira and planted
    assert {r: (x["evaluated"], x["failed"]) for r, x in sla_lines(on_servicenow).items()} == {
        r: (x["evaluated"], x["failed"]) for r, x in sla_lines(on_jira).items()}


def test_task_sla_forbidden_makes_the_sla_rules_unknown_and_writes_no_task(
        tmp_path: Path) -> None:
    """fault: the integration user may not read task_sla (403); outcome: the SLA rules fail
    nothing: unknown with the reason wherever the SLA records decide (a record that conforms
    either way, such as one with a linked problem, passes), the notice says so, and a
    write-back run writes no task for them."""
    with Sandbox(records=150, seed=2) as box:
        box.store.forbidden.add("task_sla")
        report = servicenow_scan(box, tmp_path, "--only", "incident.sla.*", "--write-back")
        tasks = box.store.tables["incident_task"].rows
    lines = sla_lines(report)
    assert set(lines) == set(SLA_RULES)
    assert all(line["failed"] == 0 and line["unknown"] > line["passed"]
               for line in lines.values()), lines
    assert lines["incident.sla.recorded"]["passed"] == 0
    details = {f["detail"] for f in report["findings"] if f["status"] == "unknown"}
    assert details and all("task_sla may not be read" in d for d in details), details
    assert any("task_sla may not be read" in n for n in report["scan"]["notices"])
    assert tasks == []


@pytest.mark.parametrize("fault", ["hidden", "absent"])
def test_a_withheld_jsm_sla_field_makes_the_sla_rules_unknown(fault: str,
                                                               tmp_path: Path) -> None:
    """fault: the JSM SLA fields withheld from the user (not returned) or not on the site;
    outcome: the SLA rules fail nothing, unknown with the reason wherever the SLA records
    decide, and write-back writes no task."""
    fields = ["Time to resolution", "Time to first response"]
    given = {"hidden_fields": fields[:1]} if fault == "hidden" else {"absent_fields": fields}
    with JiraSandbox(records=120, seed=2, password=PASSWORD, **given) as jsm:  # type: ignore[arg-type]
        before = sum(1 for i in jsm.store.issues.values() if i.is_task)
        report = jira_scan(jsm, tmp_path, "--only", "incident.sla.*", "--write-back")
        after = sum(1 for i in jsm.store.issues.values() if i.is_task)
    lines = sla_lines(report)
    assert all(line["failed"] == 0 and line["unknown"] > line["passed"]
               for line in lines.values()), lines
    assert lines["incident.sla.recorded"]["passed"] == 0
    details = {f["detail"] for f in report["findings"] if f["status"] == "unknown"}
    expected = "was not returned" if fault == "hidden" else "no field named"
    assert details and all(expected in d for d in details), details
    assert after == before


def sla_reads(box: Sandbox) -> int:
    return sum(1 for e in box.stats.log if "/table/task_sla" in e[2])


def sla_results(report: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(f["rule_id"], f["number"], f["status"], f["detail"] or "")
            for f in report["findings"] if f["rule_id"] in SLA_RULES}


def test_task_sla_is_read_by_table_on_a_full_scan_by_batch_where_batches_are_fewer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full scan reads task_sla by table (450 incidents' SLA records: one page) and finds what
    the batches find; where the table would take more pages than the batches (pages of 10 rows
    here) and in an incremental scan of a few records, batches of 100 ids; none when no rule
    reads the SLA fields."""
    with Sandbox(records=450, seed=8) as box:
        by_table = servicenow_scan(box, tmp_path / "a", "--only", "incident.sla.*")
        table_reads = sla_reads(box)
        monkeypatch.setattr(slas, "SLA_PAGE", 10)
        by_batch = servicenow_scan(box, tmp_path / "b", "--only", "incident.sla.*")
        batch_reads = sla_reads(box) - table_reads
        servicenow_scan(box, tmp_path / "c", "--only", "incident.sla.*", "--since", "2026-10-31")
        recent = box.stats.log[-1]
        incremental_reads = sla_reads(box) - table_reads - batch_reads
        servicenow_scan(box, tmp_path / "d", "--only", "incident.logging.*")
        unread = sla_reads(box) - table_reads - batch_reads - incremental_reads
    assert table_reads == 1
    assert batch_reads == 1 + 5  # the table read's first page said it would take 88
    assert incremental_reads <= 1 and recent
    assert unread == 0
    assert sla_results(by_table) == sla_results(by_batch) and sla_results(by_table)
    assert sla_lines(by_table) == sla_lines(by_batch)


def test_a_full_scan_reads_the_sla_records_of_incidents_and_requests_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Incidents and requested items both read task_sla: a full scan of both reads it by table
    once for the two (one page here), not once a class, and finds the same."""
    rules = ("--only", "incident.sla.*", "--only", "request.sla.*")
    with Sandbox(records=450, seed=8) as box:
        shared = servicenow_scan(box, tmp_path / "a", *rules)
        shared_reads = sla_reads(box)
        monkeypatch.setattr(ServiceNowConnector, "start_up", lambda self, scopes: None)
        apart = servicenow_scan(box, tmp_path / "b", *rules)  # nothing planned: a read a class
        apart_reads = sla_reads(box) - shared_reads
    assert (shared_reads, apart_reads) == (1, 2)
    results = {(f["rule_id"], f["number"], f["status"], f["detail"] or "")
               for f in shared["findings"] if ".sla." in f["rule_id"]}
    assert {rule.split(".")[0] for rule, _, status, _ in results if status == "fail"} == {
        "incident", "request"}
    assert results == {(f["rule_id"], f["number"], f["status"], f["detail"] or "")
                       for f in apart["findings"] if ".sla." in f["rule_id"]}


def test_task_sla_rows_withheld_from_a_table_read_leave_only_their_batches_unknown(
        tmp_path: Path) -> None:
    """fault: read ACLs hide some task_sla rows from the integration user (the table read's
    count above the rows it returned); outcome: the records are read by batch instead, those of
    a batch that misses rows unknown with the reason, the others decided; no SLA rule fails a
    record for an SLA record it could not read."""
    with Sandbox(records=300, seed=5, acl_hidden_rate=0.004) as box:
        planted = {n for n, rules in box.dataset.planted.items() for r in rules if r in SLA_RULES}
        report = servicenow_scan(box, tmp_path, "--only", "incident.sla.*")
        reads = sla_reads(box)
    results = sla_results(report)
    unknown = {n for _, n, status, d in results if status == "unknown" and "withheld" in d}
    failed = {n for _, n, status, _ in results if status == "fail"}
    assert unknown and failed and failed <= planted, (unknown, failed - planted)
    assert reads >= 1 + 3  # the table read, then a batch per 100 records (and their probes)


def test_breach_reason_from_a_task_sla_field_the_map_names(tmp_path: Path) -> None:
    """slas.breach_reason names a task_sla field: a breached incident without a linked problem
    passes where every breached SLA carries a reason."""
    with Sandbox(records=200, seed=6) as box:
        table = box.store.tables["task_sla"]
        for row in table.rows:
            if row[table.schema.col("has_breached")] == "true":
                table.schema.set(row, "u_breach_reason", "Vendor delivered the part late")
        table.bump()
        config = tmp_path / "config"
        config.mkdir()
        (config / "fieldmap.yaml").write_text(
            "incident:\n  slas: {breach_reason: u_breach_reason}\n")
        report = servicenow_scan(box, tmp_path, "--only", "incident.sla.breach_reason",
                                 "--config", str(config))
    line = sla_lines(report)["incident.sla.breach_reason"]
    assert line["evaluated"] > 0 and line["failed"] == 0 and line["unknown"] == 0, line


def test_doctor_checks_read_access_to_task_sla(tmp_path: Path) -> None:
    """fault: task_sla forbidden (403) to the integration user; outcome: doctor fails that
    table with the fix (read access), where the SLA fields are read fine otherwise."""
    env = {"SERVICENOW_USERNAME": "admin"}
    with Sandbox(records=60, seed=2) as box:
        env["SERVICENOW_PASSWORD"] = box.password
        args = ["doctor", "--source", "servicenow", "--instance", box.url]
        readable = CliRunner(env=env).invoke(cli, args)
        box.store.forbidden.add("task_sla")
        forbidden = CliRunner(env=env).invoke(cli, args)
    assert "task_sla: readable" in readable.output, readable.output
    assert "FAIL  task_sla: no read access" in forbidden.output, forbidden.output
    assert "grant the integration user a role that reads task_sla" in forbidden.output


def test_doctor_names_the_jsm_sla_fields(tmp_path: Path) -> None:
    """fault: the site has none of the SLA fields the map lists; outcome: doctor warns, naming
    them and the SLA rules left unknown."""
    with JiraSandbox(records=20, seed=2, password=PASSWORD) as jsm:
        found = CliRunner(env=ENV).invoke(cli, ["doctor", "--source", "jira", "--site", jsm.url])
    with JiraSandbox(records=20, seed=2, password=PASSWORD,
                     absent_fields=["Time to resolution", "Time to first response"]) as jsm:
        absent = CliRunner(env=ENV).invoke(cli, ["doctor", "--source", "jira", "--site",
                                                 jsm.url])
    assert "incident: SLA fields Time to resolution, Time to first response found" in (
        found.output), found.output
    assert "no field named 'Time to resolution'" in absent.output, absent.output
    assert "incident.sla.recorded" in absent.output


def test_an_export_without_task_sla_leaves_the_sla_rules_unknown(tmp_path: Path) -> None:
    """fault: the ServiceNow exports hold the incidents but no task_sla file; outcome: the SLA
    rules fail nothing (unknown where the SLA records decide), a notice says to export
    task_sla; with task_sla.json beside them the planted SLA defects are found."""
    data = generate(200, 3)
    planted = {n for n, rules in data.planted.items() for r in rules if r in SLA_RULES}
    export(data, tmp_path / "without", tables=("incident", "problem", "change_request"))
    export(data, tmp_path / "with")
    reports = {}
    for name in ("without", "with"):
        out = tmp_path / f"{name}.json"
        result = CliRunner().invoke(cli, [
            "scan", "--source", f"file:{tmp_path / name}", "--history",
            str(tmp_path / f"{name}.sqlite"), "--as-of", AS_OF, "--full", "--format", "json",
            "--output", str(out), "--only", "incident.sla.*"])
        assert result.exit_code in (0, 1), result.output
        reports[name] = json.loads(out.read_text())
    lines = sla_lines(reports["without"])
    assert all(line["failed"] == 0 and line["unknown"] > 0 for line in lines.values()), lines
    assert any("task_sla.json was not exported" in n for n in reports["without"]["scan"]["notices"])
    found = {f["number"] for f in reports["with"]["findings"] if f["status"] == "fail"}
    assert found == planted and planted


def test_breach_rate_per_service_and_priority_with_its_denominator() -> None:
    """Of the incidents carrying an SLA record, those with a breached one, per service and
    priority; none carried, and SLA records not readable, counted apart."""
    metrics = ProcessMetrics(MetricSettings({}, 86400.0), datetime(2026, 11, 1,
                                                                  tzinfo=timezone.utc))
    mail = Ref("service", "mail-id")

    def observe(n: int, **fields: Any) -> None:
        metrics.observe(make_record("incident", f"INC{n}", f"r{n}", state="closed", **fields))

    observe(1, priority=2, service=mail, sla_count=2, sla_breached=1)
    observe(2, priority=2, service=mail, sla_count=2, sla_breached=0)
    observe(3, priority=2, service=mail, sla_count=1, sla_breached=0)
    observe(4, priority=4, sla_count=2, sla_breached=2)
    observe(5, priority=4, sla_count=0, sla_breached=0)
    observe(6, priority=4, sla_count=Unknown("task_sla may not be read"),
            sla_breached=Unknown("task_sla may not be read"))
    levels = metrics.result()["incident"]["service_levels"]
    assert levels["breach_rate"] == {"breached": 2, "with_sla": 4, "rate": 0.5}
    assert levels["by_service_priority"] == [
        {"service": "(no service)", "priority": "4", "with_sla": 1, "breached": 1, "rate": 1.0},
        {"service": "mail-id", "priority": "2", "with_sla": 3, "breached": 1, "rate": 1 / 3}]
    assert (levels["without_sla"], levels["unknown"]) == (1, 1)
    without = ProcessMetrics(MetricSettings({}, 86400.0), datetime(2026, 11, 1,
                                                                   tzinfo=timezone.utc))
    without.observe(make_record("incident", state="closed", priority=2))
    assert "service_levels" not in without.result()["incident"]  # no SLA rule read them


def test_breach_rates_are_named_in_the_metrics_the_report_and_the_evidence_pack(
        tmp_path: Path) -> None:
    """The scan stores the breach rates by service name; `report metrics`, the JSON report
    and the evidence pack show them with their denominators."""
    history = str(tmp_path / "h.sqlite")
    with Sandbox(records=200, seed=9) as box:
        report = servicenow_scan(box, tmp_path, "--history", history)
        services = {row[1] for row in box.dataset.tables["cmdb_ci_service"]}
    levels = report["summary"]["service_levels"]["incident"]
    named = {x["service"] for x in levels["by_service_priority"]} - {"(no service)"}
    assert named and named <= services
    rate = levels["breach_rate"]
    assert rate["with_sla"] == sum(x["with_sla"] for x in levels["by_service_priority"]) > 0
    text = CliRunner().invoke(cli, ["report", "metrics", "--history", history]).output
    assert f"SLA breach rate: {100 * rate['rate']:.1f}% ({rate['breached']:,} of " in text
    out = tmp_path / "evidence"
    result = CliRunner().invoke(cli, ["report", "evidence", "--history", history,
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "SLA breaches (8.3.3):" in (out / "index.html").read_text()
