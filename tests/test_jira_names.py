"""People and groups by name on Jira (issue 19, point 2): findings, task lists and tasks name
owners as the site shows them, and a task created in Jira has an owner by default."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.store import Issue

AS_OF = "2026-11-01"
PASSWORD = "jira-names-token"
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD}
AN_ID = re.compile(r"[0-9a-f]{32}|[0-9a-f-]{36}")


@pytest.fixture
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=200, seed=4, password=PASSWORD) as box:
        yield box


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(cli, list(args))


def write_back(box: JiraSandbox, tmp_path: Path, *extra: str) -> Result:
    return run("scan", "--source", "jira", "--site", box.url, "--history",
               str(tmp_path / "h.sqlite"), "--as-of", AS_OF, "--full", "--write-back",
               "--max-new-tasks", "5000", "--format", "json", "--output",
               str(tmp_path / "report.json"), "--plan", str(tmp_path / "plan.json"), *extra)


def tasks(box: JiraSandbox) -> list[Issue]:
    return [i for i in box.store.issues.values() if i.is_task]


def config_dir(tmp_path: Path, **write_back: Any) -> str:
    path = tmp_path / "config"
    path.mkdir()
    (path / "settings.yaml").write_text(yaml.safe_dump({"write_back": write_back}))
    return str(path)


def test_findings_plan_and_task_lists_name_owners_and_tasks_get_one(jsm: JiraSandbox,
                                                                    tmp_path: Path) -> None:
    result = write_back(jsm, tmp_path)
    assert result.exit_code == 0, result.output
    groups = jsm.store.view.groups
    findings = json.loads((tmp_path / "report.json").read_text())["findings"]
    owned = [f for f in findings if f["owner_id"]]
    assert owned and all(f["owner"] == groups[f["owner_id"]] for f in owned)
    plan = json.loads((tmp_path / "plan.json").read_text())["tasks"]
    assert plan and all(t["owner"] in groups.values() for t in plan)
    made = tasks(jsm)
    assert len(made) == len(plan)
    assert all(t.group in groups for t in made)  # every task has an owner group
    for listing in (("--stored",), ("--source", "jira", "--site", jsm.url)):
        listed = run("tasks", "list", "--history", str(tmp_path / "h.sqlite"), "--format",
                     "json", *listing)
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.stdout)["tasks"]
        assert len(rows) == len(made)
        assert all(r["owner"] in groups.values() and not AN_ID.fullmatch(r["owner"])
                   for r in rows), listing


def test_owner_field_none_leaves_tasks_unowned(jsm: JiraSandbox, tmp_path: Path) -> None:
    result = write_back(jsm, tmp_path, "--config",
                        config_dir(tmp_path, jira={"owner_field": "none"}))
    assert result.exit_code == 0, result.output
    assert tasks(jsm) and not any(t.group for t in tasks(jsm))
