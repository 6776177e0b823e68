"""Issue 13's acceptance on the demo sandbox: tasks per record and corrective actions, against
one task per finding.

    python bench/owner_tasks.py [--records 2000] [--seed 7]

Runs one write-back with `granularity: finding` (the behaviour before record tasks) and one with
the default policy, each on a fresh sandbox, checks the acceptance criteria on what the second
wrote, reruns it, and prints the figures. Exit 1 when a criterion fails.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import click
import requests
import yaml
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR
from sms_conformance.sandbox.servicenow import Sandbox

TABLES = {"incident_task": ("incident", "incident"), "problem_task": ("problem", "problem"),
          "change_task": ("change_request", "change_request")}
CLOSED = {"incident": ("7", "8"), "problem": ("107",), "change_request": ("3", "4")}  # stored
TASK_CLOSED = ("3", "157")
KEY = re.compile(r"^Corrective action: (\S+ \S+ \S+ \S+)$", re.MULTILINE)


def get(box: Sandbox, table: str) -> list[dict[str, Any]]:
    response = requests.get(f"{box.url}/api/now/table/{table}", auth=("admin", box.password),
                            params={"sysparm_limit": "100000"}, timeout=60)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["result"]
    return result


def value(field: Any) -> str:
    return str(field["value"] if isinstance(field, dict) else field or "")


def scan(box: Sandbox, tmp: Path, config: Path, *extra: str) -> str:
    env = {"SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": box.password}
    result = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history",
        str(tmp / "h.sqlite"), "--config", str(config), "--as-of", DEFAULT_ANCHOR.isoformat(),
        "--full", "--write-back", "--max-new-tasks", "100000", "--format", "json", "--output",
        str(tmp / "r.json"), *extra], env=env)
    if result.exit_code not in (0, 1):
        raise SystemExit(f"scan failed ({result.exit_code}): {result.output[-2000:]}")
    return result.output


def config_dir(tmp: Path, policy: dict[str, Any]) -> Path:
    path = tmp / "config"
    path.mkdir(exist_ok=True)
    (path / "settings.yaml").write_text(yaml.safe_dump({"write_back": {"policy": policy}}))
    return path


@click.command()
@click.option("--records", default=2000, show_default=True)
@click.option("--seed", default=7, show_default=True)
def main(records: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        finding = {p: {"granularity": "finding"} for p in ("incident", "problem", "change")}
        with Sandbox(records=records, seed=seed) as box:
            scan(box, tmp / "a", config_dir(tmp / "a", finding))
            before = sum(len(get(box, t)) for t in TABLES)
        with Sandbox(records=records, seed=seed) as box:
            scan(box, tmp / "b", config_dir(tmp / "b", {}))
            ok = check(box, before, tmp / "b" / "r.json")
            again = scan(box, tmp / "b", config_dir(tmp / "b", {}))
            rerun = "write-back plan: create 0, update 0, close 0, heal 0 duplicates" in again
            print(f"rerun creates, updates and closes nothing: {rerun}")
    sys.exit(0 if ok and rerun else 1)


def check(box: Sandbox, before: int, report: Path) -> bool:
    tasks = [(t, table) for table in TABLES for t in get(box, table)]
    states = {table: {r["sys_id"]: r["state"] for r in get(box, table)}
              for table in ("incident", "problem", "change_request")}
    live_failing = live_records_failing(report, states)
    opened = [(t, table) for t, table in tasks if t["state"] not in TASK_CLOSED]
    parents = Counter((TABLES[table][1], value(t[TABLES[table][0]])) for t, table in opened
                      if value(t[TABLES[table][0]]))
    keys = Counter(m.group(1) for t, _ in tasks if (m := KEY.search(t["description"])))
    record_tasks = sum(parents.values())
    corrective = sum(keys.values())
    results = {
        "every live record with a failing rule has exactly one open task":
            all(parents.get(key) == 1 for key in live_failing),
        "no two open tasks share a parent record": max(parents.values(), default=1) == 1,
        "every task with a parent is on a live record (none on closed records)":
            all(states[t][r] not in CLOSED[t] for t, r in parents),
        "at most one corrective action per (rule, owner group, period)":
            max(keys.values(), default=1) == 1,
        "fewer than 60% of the tasks per finding": len(tasks) < 0.6 * before,
    }
    print(f"tasks per finding (granularity: finding): {before}")
    print(f"tasks now: {len(tasks)} ({100 * len(tasks) / before:.0f}%): {record_tasks} record "
          f"tasks on {len(live_failing)} live records with failures, {corrective} corrective "
          "actions")
    for what, held in results.items():
        print(f"{'ok  ' if held else 'FAIL'} {what}")
    return all(results.values())


def live_records_failing(report: Path, states: dict[str, dict[str, str]]) -> set[tuple[str, str]]:
    """(table, sys_id) of live records with a failing rule, from the scan's JSON report."""
    found: set[tuple[str, str]] = set()
    for finding in json.loads(report.read_text())["findings"]:
        table, sys_id = finding["table"], finding["record_id"]
        if finding["status"] == "fail" and states[table].get(sys_id) not in CLOSED[table]:
            found.add((table, sys_id))
    return found


if __name__ == "__main__":
    main()
