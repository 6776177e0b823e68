"""Owners counted as they are written (issue 20, point 3): a task assigned to the fallback
owner is counted under the fallback owner, by name, in the plan, the live and stored task lists,
the demo summary and the evidence pack."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli

FALLBACK = "Service Desk"  # the shipped write_back.fallback_owner


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def listed(history: Path, *extra: str) -> list[dict[str, Any]]:
    result = invoke("tasks", "list", "--history", str(history), "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout)["tasks"])


def test_fallback_owned_tasks_are_listed_under_the_fallback_owner(sandbox: Any,
                                                                  tmp_path: Path) -> None:
    history, plan_path = tmp_path / "h.sqlite", tmp_path / "plan.json"
    result = invoke("scan", "--source", "servicenow", "--instance", sandbox.url, "--history",
                    str(history), "--as-of", "2026-11-01", "--full", "--write-back",
                    "--max-new-tasks", "5000", "--plan", str(plan_path))
    assert result.exit_code == 0, result.output
    plan = json.loads(plan_path.read_text())
    fallback_id = plan["fallback_owner"]["group_id"]
    created = [t for t in plan["tasks"] if t["action"] == "create"]
    by_fallback = [t for t in created if t["owner_id"] == fallback_id]
    assert by_fallback and all(t["owner"] == FALLBACK for t in by_fallback)
    held = sum(1 for t in created if t["owner"] == FALLBACK)  # the fallback's and its own records'

    stored = listed(history, "--stored")
    live = listed(history, "--instance", sandbox.url)
    for rows in (stored, live):
        assert len(rows) == len(created)
        assert not [r for r in rows if r["owner"] in ("(unassigned)", fallback_id)]
        assert Counter(r["owner"] for r in rows)[FALLBACK] == held
    assert len(listed(history, "--stored", "--owner", FALLBACK)) == held
    assert len(listed(history, "--instance", sandbox.url, "--owner", FALLBACK)) == held
    assert len(listed(history, "--stored", "--owner", "none")) == 0

    pack = invoke("report", "evidence", "--history", str(history), "--output",
                  str(tmp_path / "pack"))
    assert pack.exit_code == 0, pack.output
    html = (tmp_path / "pack" / "index.html").read_text()
    assert "(unassigned)" not in html and f"<td>{FALLBACK}</td>" in html


def test_the_demo_summary_shows_no_fallback_owned_task_as_unassigned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # its history store (.demo/) there, not in the checkout
    result = invoke("demo", "--records", "300")
    assert result.exit_code == 0, result.output
    summary = result.output[result.output.index("open remediation tasks"):]
    assert "(unassigned)" not in summary
    assert f"\n{FALLBACK} (" in summary
