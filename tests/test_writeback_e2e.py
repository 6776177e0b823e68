"""Write-back against the sandbox: one task per live record (and per corrective action), created
once, closed when fixed, safe on failure."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import yaml
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.store.lock import holder_path, lock_path

TASK_TABLES = ("incident_task", "problem_task", "change_task", "sc_task")


def get(box: Sandbox, table: str, **params: str) -> list[dict]:
    response = requests.get(f"{box.url}/api/now/table/{table}", auth=("admin", box.password),
                            params={"sysparm_limit": "10000", **params}, timeout=30)
    response.raise_for_status()
    return response.json()["result"]


def tasks(box: Sandbox) -> list[dict]:
    return [t for table in TASK_TABLES for t in get(box, table)]


def scan(box: Sandbox, history: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
        "--as-of", "2026-11-01", "--write-back", "--max-new-tasks", "5000", *extra,
    ])
    return result.exit_code, result.output


def failing(box: Sandbox, history: Path, tmp_path: Path) -> int:
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
        "--as-of", "2026-11-01", "--full", "--format", "json", "--output", str(out),
    ])
    assert result.exit_code == 0, result.output
    import json

    return sum(1 for f in json.loads(out.read_text())["findings"] if f["status"] == "fail")


def planned(box: Sandbox, history: Path) -> int:
    """How many tasks a dry run plans to create."""
    code, out = scan(box, history, "--full", "--dry-run")
    assert code == 0, out
    match = re.search(r"write-back plan: create (\d+),", out)
    assert match, out
    return int(match.group(1))


def journal(box: Sandbox, table: str, sys_id: str) -> list[dict]:
    response = requests.get(f"{box.url}/sandbox/journal/{table}/{sys_id}",
                            auth=("admin", box.password), timeout=30)
    response.raise_for_status()
    return response.json()["result"]


def parent(task: dict, field: str) -> str:
    value = task.get(field, "")
    return value["value"] if isinstance(value, dict) else value


def test_two_runs_create_each_task_once(sandbox, tmp_path: Path) -> None:
    expected = planned(sandbox, tmp_path / "dry.sqlite")
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full")
    assert code == 0, out
    first = tasks(sandbox)
    assert len(first) == expected > 0
    assert len(first) < failing(sandbox, tmp_path / "h2.sqlite", tmp_path)  # grouped
    assert all(t["correlation_display"] == "sms-conformance" for t in first)
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full")
    assert code == 0, out
    assert "create 0," in out
    assert len(tasks(sandbox)) == len(first)
    listed = CliRunner().invoke(cli, ["tasks", "list", "--history", str(tmp_path / "h.sqlite")])
    assert f"{len(first)} open remediation tasks" in listed.output
    numbers = {t["number"] for t in first}
    rows = [line for line in listed.output.splitlines() if line.startswith("  ")]
    assert rows[0].split() == ["task", "age", "clause", "record", "rules"], "the column headers"
    assert all(line.split()[0] in numbers for line in rows[1:])


def record_task(box: Sandbox, rules: str, table: str = "incident_task",
                field: str = "incident") -> dict:
    """An open record task whose record fails exactly `rules` (its first line lists them)."""
    return next(t for t in get(box, table)
                if t["description"].startswith(f"Rules: {rules}\n") and parent(t, field))


def patch(box: Sandbox, table: str, sys_id: str, **fields: str) -> None:
    requests.patch(f"{box.url}/api/now/table/{table}/{sys_id}", auth=("admin", box.password),
                   json=fields, timeout=30).raise_for_status()


def fix_one_category(sandbox: Sandbox) -> dict:
    """PATCH the live incident behind a task listing only incident.logging.category; return
    the task."""
    target = record_task(sandbox, "incident.logging.category")
    patch(sandbox, "incident", parent(target, "incident"), category="network")
    return target


def test_fixing_a_record_closes_exactly_its_task(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    target = fix_one_category(sandbox)
    code, out = scan(sandbox, history, "--full")
    assert code == 0, out
    closed = [t for t in tasks(sandbox) if t["state"] in ("3", "157")]
    assert [t["sys_id"] for t in closed] == [target["sys_id"]]


def test_record_task_follows_its_findings_then_closes(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    target = record_task(sandbox, "incident.logging.category")
    incident = parent(target, "incident")
    patch(sandbox, "incident", incident, short_description="x", business_service="", cmdb_ci="")
    three = "incident.logging.category, incident.logging.description, incident.logging.service_or_ci"

    def current() -> dict:
        return next(t for t in tasks(sandbox) if t["sys_id"] == target["sys_id"])

    def notes() -> str:
        return "\n".join(e["value"] for e in journal(sandbox, "incident_task", target["sys_id"]))

    assert scan(sandbox, history, "--full")[0] == 0
    task = current()
    assert task["description"].startswith(f"Rules: {three}\n") and task["state"] not in ("3", "157")
    assert "new findings: incident.logging.description, incident.logging.service_or_ci" in notes()
    assert [t for t in tasks(sandbox) if parent(t, "incident") == incident] == [task]

    patch(sandbox, "incident", incident, category="network")
    code, out = scan(sandbox, history, "--full")
    assert "create 0, update 1, close 0" in out, out
    task = current()
    assert task["description"].startswith(
        "Rules: incident.logging.description, incident.logging.service_or_ci\n")
    assert "fixed: incident.logging.category" in notes() and task["state"] not in ("3", "157")

    patch(sandbox, "incident", incident, short_description="Mail server unreachable for the floor",
          business_service=_any_service(sandbox))
    code, out = scan(sandbox, history, "--full")
    assert "create 0, update 0, close 1" in out, out
    assert current()["state"] in ("3", "157")
    assert "now conforms" in current()["close_notes"]


def _any_service(box: Sandbox) -> str:
    return next(r["business_service"]["value"] if isinstance(r["business_service"], dict)
                else r["business_service"] for r in get(box, "incident")
                if r.get("business_service"))


def test_incomplete_scan_closes_nothing(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    fix_one_category(sandbox)
    sandbox.faults = "500:1@change_request"
    code, out = scan(sandbox, history, "--full")
    sandbox.faults = None
    assert code == 3, out
    assert "no task is closed" in out
    assert not [t for t in tasks(sandbox) if t["state"] in ("3", "157")]


def test_no_write_ever_reaches_the_scanned_tables(sandbox, tmp_path: Path) -> None:
    assert scan(sandbox, tmp_path / "h.sqlite", "--full")[0] == 0
    writes = {(m, t) for (m, t) in sandbox.stats.counts if m in ("POST", "PUT", "PATCH", "DELETE")}
    assert writes, "write-back wrote tasks"
    assert {t for _, t in writes} <= set(TASK_TABLES)


def test_cap_aborts_before_the_first_write(sandbox, tmp_path: Path) -> None:
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full", "--max-new-tasks", "3")
    assert code == 6  # its own exit code, not a configuration error
    assert re.search(r"stopped at the cap: \d+ to create, cap 3; nothing written", out)
    assert tasks(sandbox) == []


def test_rollout_creates_the_most_severe_up_to_the_cap(sandbox, tmp_path: Path) -> None:
    """A first night (--rollout): the cap's worth of the most severe tasks, the rest reported,
    and the next run creates them."""
    history = tmp_path / "h.sqlite"
    code, out = scan(sandbox, history, "--full", "--max-new-tasks", "3", "--rollout")
    assert code in (0, 1), out
    made = tasks(sandbox)
    assert len(made) == 3
    left = int(re.search(r"created the 3 most severe of (\d+) new tasks", out).group(1)) - 3
    assert left > 0 and f"{left} left for the next runs" in out
    code, out = scan(sandbox, history, "--full")
    assert code in (0, 1), out
    everything = tasks(sandbox)
    assert len(everything) == 3 + left
    first = {t["sys_id"] for t in made}
    rest = [int(t["priority"]) for t in everything if t["sys_id"] not in first]
    assert max(int(t["priority"]) for t in made) <= min(rest)


def test_dry_run_prints_the_plan_and_writes_nothing(sandbox, tmp_path: Path) -> None:
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full", "--dry-run")
    assert code == 0, out
    assert "write-back plan: create " in out and "dry run: nothing written" in out
    split = re.search(r"\n  new: (\d+) record tasks, (\d+) corrective actions?\n", out)
    assert split, out
    owners = re.findall(r"\n    [^:\n]+: (.+)", out[split.end() - 1:].split("\n  create")[0])
    assert len(owners) > 1
    for i, kind in ((1, "record task"), (2, "corrective action")):
        assert sum(int(n) for line in owners for n in re.findall(rf"(\d+) {kind}", line)) \
            == int(split.group(i))
    assert tasks(sandbox) == []


def test_kill_9_during_write_back_then_rerun_leaves_no_duplicate(tmp_path: Path, monkeypatch) -> None:
    """fault: kill -9 mid write-back, its lock note left behind; outcome: rerun runs, no duplicate"""
    with Sandbox(records=600, seed=8, faults="latency=150ms") as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        env = {**os.environ, "SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": box.password}
        expected = planned(box, tmp_path / "dry.sqlite")
        cmd = [sys.executable, "-m", "sms_conformance", "scan", "--source", "servicenow",
               "--instance", box.url, "--history", str(tmp_path / "h.sqlite"), "--full",
               "--as-of", "2026-11-01", "--write-back", "--max-new-tasks", "5000"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(get(box, "incident_task")) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = len(tasks(box))
        assert partial > 0
        # The OS lock died with the process; only its holder note is stale.
        assert holder_path(lock_path(tmp_path / "h.sqlite", box.identity)).exists()
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        final = tasks(box)
        per_fingerprint = Counter(t["correlation_id"] for t in final)
        assert max(per_fingerprint.values()) == 1
        assert len(final) == expected > partial


def test_record_leaving_every_rule_scope_closes_its_task(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    target = next(t for t in get(sandbox, "change_task")
                  if "change.ci.named" in t["description"] and parent(t, "change_request"))
    change = parent(target, "change_request")
    requests.patch(f"{sandbox.url}/api/now/table/change_request/{change}",
                   auth=("admin", sandbox.password), json={"state": "4"},  # canceled
                   timeout=30).raise_for_status()
    code, out = scan(sandbox, history, "--full")
    assert code == 0, out
    closed = [t["sys_id"] for t in tasks(sandbox) if t["state"] in ("3", "157")]
    assert target["sys_id"] in closed


def test_per_finding_tasks_of_earlier_versions_are_replaced_once(sandbox, tmp_path: Path) -> None:
    """Today's behaviour on `granularity: finding`; switching to records closes each old task
    once, naming the task that replaces it."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(yaml.safe_dump({"write_back": {"policy": {
        p: {"granularity": "finding"} for p in ("incident", "problem", "change", "request")}}}))
    history = tmp_path / "h.sqlite"
    code, out = scan(sandbox, history, "--full", "--config", str(config))
    assert code == 0, out
    legacy = tasks(sandbox)
    assert len(legacy) == failing(sandbox, tmp_path / "h2.sqlite", tmp_path)

    code, out = scan(sandbox, history, "--full")
    assert code == 0, out
    after = {t["sys_id"]: t for t in tasks(sandbox)}
    numbers = {t["number"]: t for t in after.values()}
    open_now = [t for t in after.values() if t["state"] not in ("3", "157")]
    assert not {t["sys_id"] for t in open_now} & {t["sys_id"] for t in legacy}
    replaced = 0
    for old in legacy:
        notes = after[old["sys_id"]]["close_notes"]
        match = re.search(r"replaced by task (\w+)", notes)
        if match:
            replaced += 1
            holder = numbers[match.group(1)]
            assert holder["state"] not in ("3", "157")
            assert holder["correlation_id"] != old["correlation_id"]
        else:
            assert "closed" in notes or "conforms" in notes, notes
    assert replaced
    parents = [parent(t, f) for t in open_now
               for f in ("incident", "problem", "change_request", "request_item")
               if parent(t, f)]
    assert len(parents) == len(set(parents))  # no two open tasks share a record

    code, out = scan(sandbox, history, "--full")
    assert "create 0, update 0, close 0, heal 0 duplicates\n" in out, out


def test_back_to_per_finding_tasks_closes_the_record_tasks(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    record_tasks = {t["sys_id"] for t in tasks(sandbox) if t["description"].startswith("Rules: ")}
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(yaml.safe_dump({"write_back": {"policy": {
        p: {"granularity": "finding"} for p in ("incident", "problem", "change", "request")}}}))
    code, out = scan(sandbox, history, "--full", "--config", str(config))
    assert code == 0, out
    after = {t["sys_id"]: t for t in tasks(sandbox)}
    assert all(after[i]["state"] in ("3", "157") and "one task per finding" in after[i]["close_notes"]
               for i in record_tasks)
    per_finding = [t for t in after.values() if t["state"] not in ("3", "157")
                   and t["description"].startswith("Rule ")]
    assert len(per_finding) == failing(sandbox, tmp_path / "h2.sqlite", tmp_path)


def test_a_scan_of_fewer_rules_closes_no_task_of_the_others(sandbox, tmp_path: Path) -> None:
    """fault: a write-back run with --only, after a full one; outcome: tasks listing only rules
    it did not evaluate stay open, nothing is said fixed that was not read"""
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    before = {t["sys_id"]: t["description"] for t in tasks(sandbox)}
    assert any(not d.startswith("Rules: incident.logging.category\n") for d in before.values())
    code, out = scan(sandbox, history, "--full", "--only", "incident.logging.category")
    assert code == 0, out
    assert "close 0," in out, out
    assert not [t for t in tasks(sandbox) if t["state"] in ("3", "157")]


def test_a_window_scan_closes_no_corrective_action_on_the_few_records_it_read(
        sandbox, tmp_path: Path) -> None:
    """fault: a --since scan reads one passing record of a group's later period, whose other
    records fail; outcome: the group's corrective action stays open"""
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    rule = "incident.logging.service_or_ci"
    action = next(t for t in tasks(sandbox)
                  if t["description"].startswith(f"Corrective action: incident {rule} "))
    group = action["description"].split("\n")[0].split()[4]
    failing_one, passing_one = [i["sys_id"] for i in get(sandbox, "incident")
                                if parent(i, "assignment_group") == group][:2]
    closed = {"state": "7", "resolved_at": "2026-10-15 09:00:00", "closed_at": "2026-10-15 10:00:00"}
    patch(sandbox, "incident", failing_one, business_service="", cmdb_ci="", **closed)
    patch(sandbox, "incident", passing_one, business_service=_any_service(sandbox), **closed)
    assert scan(sandbox, history, "--full")[0] == 0  # October fails: the action stays open
    assert next(t for t in tasks(sandbox) if t["sys_id"] == action["sys_id"])["state"] == "1"
    since = datetime.now(timezone.utc).isoformat()
    time.sleep(1.1)  # sys_updated_on has whole seconds
    patch(sandbox, "incident", passing_one, work_notes="touched")
    code, out = scan(sandbox, history, "--since", since)
    assert code == 0, out
    assert next(t for t in tasks(sandbox) if t["sys_id"] == action["sys_id"])["state"] == "1"


def test_an_ad_hoc_incremental_report_does_not_move_where_write_back_starts(
        sandbox, tmp_path: Path, monkeypatch) -> None:
    """fault: between two incremental write-back runs, someone runs an incremental scan without
    --write-back; outcome: the next write-back run still reads what changed since the last
    write-back run, so a record broken in between gets its task"""
    monkeypatch.setattr("sms_conformance.scan.scanner.WATERMARK_OVERLAP", timedelta(0))
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--incremental")[0] == 0  # no watermark yet: reads everything
    with_task = {parent(t, "incident") for t in get(sandbox, "incident_task")}
    victim = next(i for i in get(sandbox, "incident", sysparm_query="stateIN1,2,3^categoryISNOTEMPTY")
                  if i["sys_id"] not in with_task)
    patch(sandbox, "incident", victim["sys_id"], category="")
    # Another change with a category: a field empty on every record read would be taken for
    # hidden by a read ACL, and nothing acted on.
    other = next(i for i in get(sandbox, "incident", sysparm_query="categoryISNOTEMPTY")
                 if i["sys_id"] != victim["sys_id"])
    patch(sandbox, "incident", other["sys_id"], category="network")
    time.sleep(1.1)  # the report's watermark lands after the change (timestamps are in seconds)
    report = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", sandbox.url, "--history", str(history),
        "--as-of", "2026-11-01", "--incremental"])
    assert report.exit_code == 0, report.output
    code, out = scan(sandbox, history, "--incremental")
    assert code == 0, out
    assert victim["sys_id"] in {parent(t, "incident") for t in get(sandbox, "incident_task")}
