"""Write-back people can steer, against the sandbox: the dry-run plan as counts and as JSON, the
cap warning, the fallback owner, and `tasks list` reading the tasks' live state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.servicenow import Sandbox

TABLES = ("incident_task", "problem_task", "change_task")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def scan(box: Sandbox, history: Path, *extra: str) -> Result:
    return run("scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
               "--as-of", "2026-11-01", "--full", "--write-back", *extra)


def get(box: Sandbox, table: str) -> list[dict]:
    response = requests.get(f"{box.url}/api/now/table/{table}", auth=("admin", box.password),
                            params={"sysparm_limit": "10000"}, timeout=30)
    response.raise_for_status()
    return response.json()["result"]


def value(field: object) -> str:
    return field["value"] if isinstance(field, dict) else str(field or "")


def test_dry_run_counts_the_whole_plan_writes_it_as_json_and_warns_of_the_cap(
        sandbox, tmp_path: Path) -> None:
    plan_path = tmp_path / "plan.json"
    result = scan(sandbox, tmp_path / "h.sqlite", "--dry-run", "--max-new-tasks", "3",
                  "--plan", str(plan_path))
    assert result.exit_code == 0, result.output
    created = int(re.search(r"write-back plan: create (\d+),", result.output).group(1))
    assert created > 3
    by_table = re.search(r"new by destination: (.+)", result.output).group(1)
    assert sum(int(n) for n in re.findall(r" (\d+)", " " + by_table)) == created
    assert f"would create {created} new tasks, more than the cap of 3" in result.output
    assert f"--max-new-tasks {created}" in result.output
    doc = json.loads(plan_path.read_text())
    assert len(doc["tasks"]) == doc["totals"]["create"] == created
    assert doc["cap"]["stops_run"] is True
    assert all(t["rule_ids"] and t["records"] and t["owner"] and t["subject"]
               for t in doc["tasks"])
    assert sum(doc["new"]["by_owner"].values()) == created
    assert doc["new"]["unassigned"] == doc["new"]["by_owner"].get("(unassigned)", 0)
    assert all(get(sandbox, t) == [] for t in TABLES)  # a dry run writes nothing


def test_no_cap_warning_when_the_real_run_would_go_ahead(sandbox, tmp_path: Path) -> None:
    result = scan(sandbox, tmp_path / "h.sqlite", "--dry-run", "--max-new-tasks", "5000")
    assert result.exit_code == 0, result.output
    assert "more than the cap" not in result.output


def test_a_fallback_owner_named_in_settings_gets_the_tasks_without_one(
        sandbox, tmp_path: Path) -> None:
    """The default fallback owner (Service Desk) takes the tasks without one; with it set to
    "" they stay unassigned and the plan counts them."""
    plan_path = tmp_path / "before.json"
    unset = tmp_path / "unset"
    unset.mkdir()
    (unset / "settings.yaml").write_text('write_back:\n  fallback_owner: ""\n')
    assert scan(sandbox, tmp_path / "dry.sqlite", "--config", str(unset), "--dry-run", "--plan",
                str(plan_path)).exit_code == 0
    before = json.loads(plan_path.read_text())
    unassigned = before["new"]["unassigned"]
    assert unassigned > 0
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text("write_back:\n  fallback_owner: Service Desk\n")
    result = scan(sandbox, tmp_path / "h.sqlite", "--config", str(config), "--max-new-tasks",
                  "5000", "--plan", str(tmp_path / "after.json"))
    assert result.exit_code == 0, result.output
    assert "new without an owner: 0; tasks without an owner are assigned to the fallback owner " \
           "Service Desk" in result.output
    after = json.loads((tmp_path / "after.json").read_text())
    desk = after["fallback_owner"]["group_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", desk)
    assert after["new"]["by_owner"]["Service Desk"] == \
        before["new"]["by_owner"]["Service Desk"] + unassigned
    written = [t for table in TABLES for t in get(sandbox, table)]
    assert written and all(value(t.get("assignment_group")) for t in written)


def test_tasks_list_shows_a_task_closed_in_the_platform_as_closed(sandbox, tmp_path: Path) -> None:
    history = str(tmp_path / "h.sqlite")
    assert scan(sandbox, Path(history), "--max-new-tasks", "5000").exit_code == 0
    target = get(sandbox, "incident_task")[0]
    requests.patch(f"{sandbox.url}/api/now/table/incident_task/{target['sys_id']}",
                   auth=("admin", sandbox.password), json={"state": "3"},
                   timeout=30).raise_for_status()
    stored = run("tasks", "list", "--history", history, "--stored", "--format", "json")
    assert target["number"] in {t["number"] for t in json.loads(stored.stdout)["tasks"]}
    live = run("tasks", "list", "--history", history, "--instance", sandbox.url, "--format", "json")
    assert live.exit_code == 0, live.output
    listed = json.loads(live.stdout)
    assert listed["source"] == "platform"
    assert target["number"] not in {t["number"] for t in listed["tasks"]}
    assert all(t["state"] == "open" for t in listed["tasks"])
    assert "1 tasks the history store has as open are closed in the platform" in live.stderr
    closed = run("tasks", "list", "--history", history, "--instance", sandbox.url, "--state",
                 "closed", "--format", "json")
    assert [t["number"] for t in json.loads(closed.stdout)["tasks"]] == [target["number"]]


def test_tasks_list_filters_by_owner_rule_kind_and_overdue(sandbox, tmp_path: Path) -> None:
    history = str(tmp_path / "h.sqlite")
    assert scan(sandbox, Path(history), "--max-new-tasks", "5000").exit_code == 0
    live = ["tasks", "list", "--history", history, "--instance", sandbox.url, "--format", "json"]
    every = json.loads(run(*live).stdout)["tasks"]
    owner = every[0]["owner"]
    for extra, keep in (
        (["--owner", owner.upper()], lambda t: t["owner"] == owner),
        (["--rule", "incident.logging.*"],
         lambda t: any(r.startswith("incident.logging.") for r in t["rule_ids"])),
        (["--kind", "corrective"], lambda t: t["kind"] == "corrective"),
    ):
        got = json.loads(run(*live, *extra).stdout)["tasks"]
        assert got and [t["number"] for t in got] == [t["number"] for t in every if keep(t)], extra
    # Due dates count from the clock, not from --as-of 2026-11-01: tasks minutes old are not
    # overdue, however old the records they are about.
    assert every and not any(t["overdue"] for t in every)
    assert json.loads(run(*live, "--overdue").stdout)["tasks"] == []
    assert len(json.loads(run(*live, "--kind", "record").stdout)["tasks"]) < len(every)


def test_steering_errors_are_one_line(sandbox, tmp_path: Path) -> None:
    """bad input: --plan without write-back, an unwritable --plan, --overdue without a platform;
    outcome: exit 2, one error line."""
    for result, message in (
        (run("scan", "--source", "sandbox", "--records", "50", "--plan", str(tmp_path / "p.json")),
         "error: --plan needs --write-back or --dry-run"),
        (scan(sandbox, tmp_path / "h.sqlite", "--dry-run", "--plan", str(tmp_path / "no" / "p.json")),
         f"error: {tmp_path / 'no' / 'p.json'}: cannot write the plan:"),
        (run("tasks", "list", "--history", str(tmp_path / "h2.sqlite"), "--stored", "--overdue"),
         "error: --overdue needs the tasks' live state"),
    ):
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith(message), result.stderr
        assert "Traceback" not in result.output
