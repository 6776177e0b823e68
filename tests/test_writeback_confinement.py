"""Write-back confinement: allowed tables only, the tool's own fields kept, record values checked."""

from __future__ import annotations

from pathlib import Path

import requests
import yaml
from click.testing import CliRunner

from sms_conformance.cli import EXIT_CONFIG, EXIT_SOURCE, cli
from tests.test_writeback_e2e import get, scan, tasks


def config_dir(tmp_path: Path, write_back: dict) -> Path:
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "settings.yaml").write_text(yaml.safe_dump({"write_back": write_back}))
    return directory


def test_sys_user_target_is_refused_before_any_write(sandbox, tmp_path: Path) -> None:
    """fault: write-back pointed at sys_user; outcome: exit 2 naming the allowed tables, nothing written"""
    config = config_dir(tmp_path, {"targets": {"incident": {"table": "sys_user",
                                                            "parent_field": "manager"}}})
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--config", str(config))
    assert code == EXIT_CONFIG, out
    assert "error: settings write_back.targets.incident.table: 'sys_user' is not a task table" in out
    assert "(allowed: change_task, incident_task, problem_task, sc_task;" in out
    assert not [m for (m, _) in sandbox.stats.counts if m in ("POST", "PATCH", "PUT", "DELETE")]


def test_sys_user_declared_a_custom_task_table_is_refused_too(sandbox, tmp_path: Path) -> None:
    """fault: sys_user declared in custom_task_tables; outcome: exit 2 (it does not extend task), no write"""
    config = config_dir(tmp_path, {"custom_task_tables": ["sys_user"],
                                   "targets": {"incident": {"table": "sys_user",
                                                            "parent_field": "u_incident"}}})
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--config", str(config))
    assert code == EXIT_CONFIG, out
    assert "error: write-back table sys_user does not extend task (sys_user)" in out
    assert not [m for (m, _) in sandbox.stats.counts if m in ("POST", "PATCH", "PUT", "DELETE")]


def test_parent_field_cannot_overwrite_the_fingerprint(sandbox, tmp_path: Path) -> None:
    """fault: `parent_field: correlation_id`; outcome: exit 2 before any request, no task written"""
    config = config_dir(tmp_path, {"targets": {"incident": {"table": "incident_task",
                                                            "parent_field": "correlation_id"}}})
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--config", str(config))
    assert code == EXIT_CONFIG, out
    assert "parent_field: 'correlation_id' cannot name the record" in out
    assert tasks(sandbox) == []


def test_builtin_task_table_keeps_its_own_parent_field(sandbox, tmp_path: Path) -> None:
    """fault: incident tasks aimed at change_task's change_request field; outcome: exit 2, nothing written"""
    config = config_dir(tmp_path, {"targets": {"incident": {"table": "change_task",
                                                            "parent_field": "change_request"}}})
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--config", str(config))
    assert code == EXIT_CONFIG, out
    assert "change_task.change_request references change_request, but incident records" in out
    assert tasks(sandbox) == []


def test_hostile_record_values_are_checked_before_they_reach_a_task(sandbox, tmp_path: Path) -> None:
    """fault: script as a record's group, 100 kB HTML notes; outcome: the task goes to the
    fallback owner (never the script), notes capped+escaped"""
    incident = next(r for r in get(sandbox, "incident", sysparm_query="state=6")  # resolved: live
                    if r["close_notes"] and "confirm" not in r["close_notes"].lower())
    html = "<script>alert(1)</script><b>fixed</b> & done. " * 2200
    requests.patch(f"{sandbox.url}/api/now/table/incident/{incident['sys_id']}", auth=sandbox.auth,
                   json={"assignment_group": "javascript:gs.getUserID()^ORsys_idISNOTEMPTY",
                         "close_notes": html}, timeout=30).raise_for_status()
    # Notes the organisation's pattern takes for boilerplate: incident.closure.validated fails
    # the record, so the notes reach its task.
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(yaml.safe_dump(
        {"closure_boilerplate_pattern": "(?s)<script>"}))
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full", "--config", str(config))
    assert code == 0, out
    task = next(t for t in get(sandbox, "incident_task")
                if incident["number"] in t["short_description"]
                and "incident.closure.validated" in t["description"])
    desk = get(sandbox, "sys_user_group", sysparm_query="name=Service Desk")[0]["sys_id"]
    assert task["assignment_group"]["value"] == desk  # the default fallback owner
    assert "assignment group is not a valid reference, so this task went to the process owner " \
        "group" in task["description"]
    assert len(html) > 100_000 and len(task["description"]) <= 4000
    assert "<" not in task["description"] and "&lt;script&gt;alert(1)&lt;/script&gt;" in task["description"]
    assert "more characters cut]" in task["description"]


def test_doctor_checks_that_write_back_tables_extend_task(sandbox, tmp_path: Path) -> None:
    """fault: sys_user declared a custom task table; outcome: doctor fails it, passes one extending task"""
    task_row = get(sandbox, "sys_db_object", sysparm_query="name=task")[0]
    requests.post(f"{sandbox.url}/api/now/table/sys_db_object", auth=sandbox.auth, timeout=30,
                  json={"name": "u_audit_task", "super_class": task_row["sys_id"]}).raise_for_status()
    config = config_dir(tmp_path, {
        "custom_task_tables": ["u_audit_task", "sys_user"],
        "targets": {"incident": {"table": "u_audit_task", "parent_field": "u_incident"},
                    "problem": {"table": "sys_user", "parent_field": "u_problem"}},
    })
    result = CliRunner().invoke(cli, ["doctor", "--source", "servicenow", "--instance", sandbox.url,
                                      "--config", str(config)])
    assert result.exit_code == EXIT_SOURCE, result.output
    assert "ok    write-back table u_audit_task extends task (u_audit_task -> task)" in result.output
    assert "ok    write-back table change_task extends task" in result.output
    assert "FAIL  write-back table sys_user does not extend task (sys_user)" in result.output
