"""Rules decided as the instance decides: the priority matrix from the instance's own lookup
(ServiceNow dl_u_priority) with the configured and default matrices as fallbacks, and restore
targets from the platform's own SLA verdict (made_sla, JSM SLA cycles), each finding naming
what decided it."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sms_conformance.app.settings import load_settings
from sms_conformance.cli import cli
from sms_conformance.connectors.jira.fieldmap import load_field_map as jira_map
from sms_conformance.connectors.jira.values import sla_verdict
from sms_conformance.connectors.servicenow.fieldmap import load_field_map as servicenow_map
from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.model.records import Unknown
from sms_conformance.rules.checks import Context
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from sms_conformance.rules.matrices import Lookup, lookup_table
from sms_conformance.rules.model import Rule
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.schema import PRIORITY_MATRIX, SCHEMAS
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export
from tests.conftest import make_record
from tests.rules._support import FROZEN_NOW, pack, run_example
from tests.test_jira_e2e import ENV, PASSWORD

MATRIX_RULE = "incident.priority.matrix"
# The UCI log's instance (tests/realdata/SOURCES.md): impact 3 x urgency 3 -> priority 4.
UCI_LOOKUP = {**PRIORITY_MATRIX, ("3", "3"): "4"}


def scan(box: Sandbox, tmp_path: Path, settings: str = "") -> dict[str, Any]:
    tmp_path.mkdir(exist_ok=True)
    args = ["scan", "--source", "servicenow", "--instance", box.url,
            "--history", str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01", "--full",
            "--format", "json", "--output", str(tmp_path / "r.json"), "--only", MATRIX_RULE]
    if settings:
        config = tmp_path / "config"
        config.mkdir(exist_ok=True)
        (config / "settings.yaml").write_text(settings)
        args += ["--config", str(config)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads((tmp_path / "r.json").read_text())
    return report


def fails(report: dict[str, Any]) -> dict[str, str]:
    return {f["number"]: f["detail"] for f in report["findings"] if f["status"] == "fail"}


def matrix_notice(report: dict[str, Any]) -> str:
    found = [n for n in report["scan"]["notices"] if n.startswith("priority matrix:")]
    assert len(found) == 1, report["scan"]["notices"]
    return str(found[0])


def impact_urgency(box: Sandbox, priority: str) -> list[str]:
    """Numbers of the sandbox's impact 3 x urgency 3 incidents with this priority (in the
    rule's scope: not canceled)."""
    table = box.store.tables["incident"]
    get = table.schema.index
    return [str(r[get["number"]]) for r in table.rows if r[get["state"]] != "8"
            and (r[get["impact"]], r[get["urgency"]], r[get["priority"]]) == ("3", "3", priority)]


def test_the_instances_own_priority_lookup_decides(sandbox: Sandbox, tmp_path: Path) -> None:
    """An instance whose dl_u_priority gives impact 3 x urgency 3 -> 4 (the UCI log's): its
    4s pass, its 5s fail, and the finding and the notice name the lookup."""
    assert impact_urgency(sandbox, "5")
    default = fails(scan(sandbox, tmp_path / "a"))
    sandbox.store.set_priority_lookup(UCI_LOOKUP)
    report = scan(sandbox, tmp_path / "b")
    own = fails(report)
    assert set(impact_urgency(sandbox, "5")) <= set(own)
    assert not set(impact_urgency(sandbox, "5")) & set(default)
    assert "the instance's priority lookup, dl_u_priority (9 entries)" in matrix_notice(report)
    assert set(own.values()) == {
        "decided by the instance's priority lookup, dl_u_priority (9 entries)"}


def test_an_unreadable_lookup_falls_back_to_the_configured_then_the_default_matrix(
        sandbox: Sandbox, tmp_path: Path) -> None:
    """fault: the integration user may not read dl_u_priority (403); outcome: the configured
    matrix decides where settings give one, else the default, the notice saying which and
    why the lookup was not used."""
    sandbox.store.forbidden.add("dl_u_priority")
    default = scan(sandbox, tmp_path / "a")
    assert "the default matrix" in matrix_notice(default)
    assert "dl_u_priority may not be read" in matrix_notice(default)
    configured = scan(sandbox, tmp_path / "b", "priority_matrix: {3: {3: 4}}\n")
    assert "the configured matrix (settings priority_matrix)" in matrix_notice(configured)
    assert set(fails(configured).values()) == {
        "decided by the configured matrix (settings priority_matrix)"}
    assert set(impact_urgency(sandbox, "5")) <= set(fails(configured))


def test_a_withheld_lookup_falls_back_to_the_default(sandbox: Sandbox, tmp_path: Path) -> None:
    """fault: dl_u_priority answers no rows (withheld by ACL); outcome: the default matrix
    decides, the notice saying the lookup returned no rows."""
    sandbox.store.set_priority_lookup({})
    report = scan(sandbox, tmp_path)
    assert "the default matrix" in matrix_notice(report)
    assert "dl_u_priority returned no rows" in matrix_notice(report)


def file_scan(export_dir: Path, tmp_path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{export_dir}", "--history", str(tmp_path / "f.sqlite"),
        "--as-of", "2026-11-01", "--format", "json", "--output", str(tmp_path / "f.json"),
        "--only", MATRIX_RULE])
    assert result.exit_code in (0, 1), result.output
    report: dict[str, Any] = json.loads((tmp_path / "f.json").read_text())
    return report


LABELS = {"1": "1 - High", "2": "2 - Medium", "3": "3 - Low", "4": "4 - Low", "5": "5 - Planning"}


def test_an_exported_priority_lookup_decides_a_file_scan(tmp_path: Path) -> None:
    """The instance's dl_u_priority exported beside the records (a list export as CSV, display
    values such as "3 - Low") decides as the live lookup does; not exported, the default
    matrix decides and the notice says to export it."""
    data = generate(300, 4)
    export(data, tmp_path / "export", tables=("incident",))
    number, impact, urgency, priority, state = (
        SCHEMAS["incident"].col(f) for f in ("number", "impact", "urgency", "priority", "state"))
    fives = {str(r[number]) for r in data.tables["incident"] if r[state] != "8"
             and (r[impact], r[urgency], r[priority]) == ("3", "3", "5")}
    assert fives
    without = file_scan(tmp_path / "export", tmp_path)
    assert "the default matrix" in matrix_notice(without)
    assert "dl_u_priority.json was not exported" in matrix_notice(without)
    assert not fives & set(fails(without))
    with (tmp_path / "export" / "dl_u_priority.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["impact", "urgency", "priority"])
        for (i, u), p in UCI_LOOKUP.items():
            writer.writerow([LABELS[i], LABELS[u], LABELS[p]])
    own = file_scan(tmp_path / "export", tmp_path)
    assert "the instance's priority lookup, dl_u_priority.csv (9 entries)" in matrix_notice(own)
    assert fives <= set(fails(own))
    (tmp_path / "export" / "dl_u_priority.csv").write_text(
        "impact,urgency,priority\nHigh,High,Critical\n")
    unlabelled = file_scan(tmp_path / "export", tmp_path)
    assert "the default matrix" in matrix_notice(unlabelled)
    assert "not impact, urgency and priority numbers" in matrix_notice(unlabelled)


def test_a_contradictory_or_unreadable_lookup_is_not_used() -> None:
    """bad input: lookup rows giving one impact x urgency two priorities, or text where a
    number belongs; outcome: no table, saying why (the scan falls back)."""
    twice = lookup_table([{"impact": "1", "urgency": "1", "priority": "1"},
                          {"impact": "1", "urgency": "1", "priority": "2"}], "dl_u_priority")
    assert twice == Lookup(None, "dl_u_priority gives impact 1 x urgency 1 two priorities")
    text = lookup_table([{"impact": "High", "urgency": "1", "priority": "1"}], "dl_u_priority")
    assert text.table is None and "not impact, urgency and priority numbers" in text.how
    read = lookup_table([{"impact": "3", "urgency": "3", "priority": "4"}], "dl_u_priority")
    assert read.table == {3: {3: 4}}


# The "Time to resolution" value of reference §3 (jira.js getSlaInformationById; times and
# durations trimmed to the members the verdict reads beside).
def _cycle(breached: bool) -> dict[str, Any]:
    return {"startTime": {"epochMillis": 1730000000000, "iso8601": "2024-10-27T03:33:20+0000"},
            "stopTime": {"epochMillis": 1730014400000, "iso8601": "2024-10-27T07:33:20+0000"},
            "breachTime": {"epochMillis": 1730014400000}, "breached": breached,
            "goalDuration": {"millis": 14400000, "friendly": "4h"},
            "elapsedTime": {"millis": 14400000, "friendly": "4h"},
            "remainingTime": {"millis": -60000 if breached else 0, "friendly": "0m"}}


def _sla(completed: list[dict[str, Any]], ongoing: dict[str, Any] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"id": "1", "name": "Time to resolution", "_links": {"self": "x"},
                             "completedCycles": completed, "slaDisplayFormat": "NEW_SLA_FORMAT"}
    if ongoing is not None:
        value["ongoingCycle"] = ongoing
    return value


def test_a_jsm_sla_field_reads_as_its_own_verdict() -> None:
    assert sla_verdict(_sla([_cycle(False)]), "customfield_10071") is True
    assert sla_verdict(_sla([_cycle(False), _cycle(True)]), "customfield_10071") is False
    assert sla_verdict(_sla([], {**_cycle(True), "paused": False}), "customfield_10071") is False
    # still running, not breached: nothing decided yet, the calendar targets are the fallback
    assert sla_verdict(_sla([], {**_cycle(False), "paused": True}), "customfield_10071") is None
    assert sla_verdict(None, "customfield_10071") is None


def test_an_sla_value_of_another_shape_is_unknown() -> None:
    """bad input: an SLA field as text (a CSV export) or with cycles not a list; outcome:
    unknown, so the calendar targets decide."""
    assert isinstance(sla_verdict("-2h 30m", "Time to resolution"), Unknown)
    assert isinstance(sla_verdict({"completedCycles": "x"}, "customfield_10071"), Unknown)


RESTORE = {"state": "closed", "priority": 1, "opened_at": "2026-10-01 08:00:00",
           "resolved_at": "2026-10-01 13:30:00"}


def test_a_restore_finding_names_what_decided_it() -> None:
    rule = next(r for r in pack() if r.id == "incident.restore.within_target")
    calendar = run_example(rule, RESTORE)
    assert calendar.detail == "decided by the calendar target 4h (took 5h 30m)"
    verdict = run_example(rule, {**RESTORE, "resolved_at": "2026-10-01 09:00:00",
                                 "made_sla": False})
    assert verdict.status.value == "fail"
    assert verdict.detail == "decided by the record's SLA (made_sla=false)"


def test_a_jsm_sla_field_named_in_the_field_map_decides_restore_targets(tmp_path: Path) -> None:
    """The JSM sandbox's "Time to resolution" (completed cycles, breached or not) mapped as
    made_sla: every restore finding is decided by the record's SLA; unmapped, by the calendar
    target, with the same records failing (the sandbox's goals are the calendar targets)."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "jira_fieldmap.yaml").write_text(
        "processes:\n  incident:\n    fields:\n"
        "      made_sla: {name: Time to resolution, type: sla}\n")
    with JiraSandbox(records=150, seed=4, password=PASSWORD) as box:
        reports = {}
        for name, extra in (("calendar", []), ("sla", ["--config", str(config)])):
            result = CliRunner(env=ENV).invoke(cli, [
                "scan", "--source", "jira", "--site", box.url, "--history",
                str(tmp_path / f"{name}.sqlite"), "--as-of", "2026-11-01", "--full",
                "--only", "incident.restore.within_target", "--format", "json",
                "--output", str(tmp_path / f"{name}.json"), *extra])
            assert result.exit_code in (0, 1), result.output
            reports[name] = fails(json.loads((tmp_path / f"{name}.json").read_text()))
    assert reports["calendar"] and set(reports["calendar"]) == set(reports["sla"])
    assert all(d.startswith("decided by the calendar target ") for d in reports["calendar"].values())
    assert set(reports["sla"].values()) == {"decided by the record's SLA (made_sla=false)"}


def test_a_major_incident_flag_the_field_map_declares_absent_reads_empty(tmp_path: Path) -> None:
    """Jira: `unmapped: [major_incident]` in config/jira_fieldmap.yaml (a site without a major
    incident field): the rule stays on and decides by priority 1 alone."""
    from sms_conformance.app.settings import load_settings
    from sms_conformance.connectors.jira.fieldmap import load_field_map
    from sms_conformance.rules.loader import builtin_pack_dir, load_rules

    override = tmp_path / "jira_fieldmap.yaml"
    override.write_text("processes:\n  incident:\n    unmapped: [major_incident]\n")
    jira = load_field_map(override)
    assert not jira.maps("incident", "major_incident")
    assert "vendor_reference" in jira.for_process("incident").unmapped
    rules = load_rules([builtin_pack_dir()], jira, load_settings())
    rule = next(r for r in rules if r.id == "incident.major.problem_linked")
    from sms_conformance.engine.evaluate import evaluate_one
    from sms_conformance.rules.checks import Context
    from tests.conftest import make_record
    from tests.rules._support import FROZEN_NOW

    lacking = Unknown("incident.major_incident is not mapped in the Jira field map")
    ctx = Context(now=FROZEN_NOW, links=None)  # type: ignore[arg-type]
    for priority, status in ((3, "pass"), (1, "fail")):
        record = make_record("incident", state="closed", priority=priority, problem=None,
                             major_incident=lacking)
        assert evaluate_one(rule, record, ctx).status.value == status
    shipped = next(r for r in pack() if r.id == rule.id)
    record = make_record("incident", state="closed", priority=3, problem=None,
                         major_incident=lacking)
    assert evaluate_one(shipped, record, ctx).status.value == "unknown"


def _major_rule(platform_map: Any, by: str) -> Rule:
    rules = load_rules([builtin_pack_dir()], platform_map, {**load_settings(),
                       "major_incident_by": by}, include_off=True)
    return next(r for r in rules if r.id == "incident.major.problem_linked")


def test_major_incident_by_on_both_platforms(tmp_path: Path) -> None:
    """`major_incident_by` with each platform's shipped map (its major incident field mapped):
    flag counts the flag alone, priority P1 alone, either both; with the field declared
    absent, flag switches the rule off naming that platform's fix, either is P1 alone."""
    ctx = Context(now=FROZEN_NOW, links=None)  # type: ignore[arg-type]
    cases = {"p1": (1, "rejected"), "flagged": (3, "accepted")}
    want = {"either": {"p1": "fail", "flagged": "fail"}, "flag": {"p1": "pass", "flagged": "fail"},
            "priority": {"p1": "fail", "flagged": "pass"}}
    (tmp_path / "fieldmap.yaml").write_text("incident:\n  unmapped: [major_incident]\n")
    (tmp_path / "jira_fieldmap.yaml").write_text(
        "processes:\n  incident:\n    unmapped: [major_incident]\n")
    for load, absent, fix in (
            (servicenow_map, tmp_path / "fieldmap.yaml",
             "off until major_incident is mapped to a field of incident in config/fieldmap.yaml"),
            (jira_map, tmp_path / "jira_fieldmap.yaml",
             "major_incident not mapped for incident in the Jira field map")):
        for by, expected in want.items():
            rule = _major_rule(load(), by)
            assert not rule.off_reason
            got = {name: evaluate_one(rule, make_record(
                "incident", state="closed", priority=priority, problem=None,
                major_incident=flag), ctx).status.value for name, (priority, flag) in cases.items()}
            assert got == expected, (load, by)
        assert _major_rule(load(absent), "flag").off_reason.startswith(fix)
        either = _major_rule(load(absent), "either")
        assert not either.off_reason
        p1 = make_record("incident", state="closed", priority=1, problem=None,
                         major_incident=Unknown("not mapped"))
        assert evaluate_one(either, p1, ctx).status.value == "fail"


def test_a_misspelt_major_incident_by_is_refused_at_its_line(tmp_path: Path) -> None:
    """bad input: `major_incident_by: flags` in settings.yaml; outcome: exit 2 naming the file,
    line and the values it takes."""
    (tmp_path / "settings.yaml").write_text("backlog_max_age: 30d\nmajor_incident_by: flags\n")
    result = CliRunner().invoke(cli, ["rules", "list", "--config", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert f"{tmp_path / 'settings.yaml'}:2: major_incident_by: " in result.output
    assert "'either', 'priority' or 'flag'" in result.output


def test_rules_test_holds_under_every_major_incident_by(tmp_path: Path) -> None:
    """`rules test` with `major_incident_by` set to each value: every example of the pack still
    gets what it expects (the examples that depend on it name the value they assume)."""
    for by in ("either", "priority", "flag"):
        (tmp_path / "settings.yaml").write_text(f"major_incident_by: {by}\n")
        result = CliRunner().invoke(cli, ["rules", "test", "--config", str(tmp_path)])
        assert result.exit_code == 0, (by, result.output)
        assert " 0 failed" in result.output
