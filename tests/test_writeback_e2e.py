"""Write-back against the sandbox: once per finding, closed when fixed, safe on failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.runlock import holder_path, lock_path
from sms_conformance.sandbox import Sandbox

TASK_TABLES = ("incident_task", "problem_task", "change_task")


@pytest.fixture
def sandbox(monkeypatch):
    with Sandbox(records=200, seed=4) as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        yield box


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


def test_two_runs_create_each_task_once(sandbox, tmp_path: Path) -> None:
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full")
    assert code == 0, out
    first = tasks(sandbox)
    assert len(first) == failing(sandbox, tmp_path / "h2.sqlite", tmp_path) > 0
    assert all(t["correlation_display"] == "sms-conformance" for t in first)
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full")
    assert code == 0, out
    assert "create 0," in out
    assert len(tasks(sandbox)) == len(first)
    listed = CliRunner().invoke(cli, ["tasks", "list", "--history", str(tmp_path / "h.sqlite")])
    assert f"{len(first)} open remediation tasks, by owner:" in listed.output
    numbers = {t["number"] for t in first}
    assert all(line.split()[0] in numbers for line in listed.output.splitlines()
               if line.startswith("  "))


def fix_one_validated_closure(sandbox: Sandbox) -> dict:
    """PATCH the incident behind one incident.closure.validated task; return that task."""
    target = next(t for t in get(sandbox, "incident_task")
                  if "incident.closure.validated" in t["description"])
    incident = target["incident"]["value"] if isinstance(target["incident"], dict) else target["incident"]
    requests.patch(f"{sandbox.url}/api/now/table/incident/{incident}", auth=("admin", sandbox.password),
                   json={"close_notes": "User confirmed service restored"}, timeout=30).raise_for_status()
    return target


def test_fixing_a_record_closes_exactly_its_task(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    target = fix_one_validated_closure(sandbox)
    code, out = scan(sandbox, history, "--full")
    assert code == 0, out
    closed = [t for t in tasks(sandbox) if t["state"] in ("3", "157")]
    assert [t["sys_id"] for t in closed] == [target["sys_id"]]


def test_incomplete_scan_closes_nothing(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    fix_one_validated_closure(sandbox)
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
    assert code == 2
    assert "more than the cap of 3" in out
    assert tasks(sandbox) == []


def test_dry_run_prints_the_plan_and_writes_nothing(sandbox, tmp_path: Path) -> None:
    code, out = scan(sandbox, tmp_path / "h.sqlite", "--full", "--dry-run")
    assert code == 0, out
    assert "write-back plan: create " in out and "dry run: nothing written" in out
    assert tasks(sandbox) == []


def test_kill_9_during_write_back_then_rerun_leaves_no_duplicate(tmp_path: Path, monkeypatch) -> None:
    """fault: kill -9 mid write-back, its lock note left behind; outcome: rerun runs, no duplicate"""
    with Sandbox(records=300, seed=8, faults="latency=30ms") as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        env = {**os.environ, "SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": box.password}
        cmd = [sys.executable, "-m", "sms_conformance", "scan", "--source", "servicenow",
               "--instance", box.url, "--history", str(tmp_path / "h.sqlite"), "--full",
               "--as-of", "2026-11-01", "--write-back", "--max-new-tasks", "5000"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(get(box, "incident_task")) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = len(tasks(box))
        assert partial > 0
        # The OS lock died with the process; only its holder note is stale.
        assert holder_path(lock_path(tmp_path / "h.sqlite", box.url)).exists()
        rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        final = tasks(box)
        per_fingerprint = Counter(t["correlation_id"] for t in final)
        assert max(per_fingerprint.values()) == 1
        assert len(final) == failing(box, tmp_path / "h2.sqlite", tmp_path) > partial


def test_record_leaving_every_rule_scope_closes_its_task(sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    assert scan(sandbox, history, "--full")[0] == 0
    target = next(t for t in get(sandbox, "change_task") if "change.ci.named" in t["description"])
    change = target["change_request"]
    change = change["value"] if isinstance(change, dict) else change
    requests.patch(f"{sandbox.url}/api/now/table/change_request/{change}",
                   auth=("admin", sandbox.password), json={"state": "4"},  # canceled
                   timeout=30).raise_for_status()
    code, out = scan(sandbox, history, "--full")
    assert code == 0, out
    closed = [t["sys_id"] for t in tasks(sandbox) if t["state"] in ("3", "157")]
    assert target["sys_id"] in closed
