"""Every Jira task gets an owner (issue 19, point 2): the record's group, else its assignee
(write_back.jira.owner_first: assignee puts the assignee first), else the fallback owner, which
on Jira is a person's accountId or a group (by name or groupId), looked up on the site."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.site import ADMIN_ACCOUNT_ID
from sms_conformance.sandbox.jira.store import Issue

AS_OF = "2026-11-01"
PASSWORD = "jira-owners-token"
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD}


@pytest.fixture
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=200, seed=4, password=PASSWORD) as box:
        yield box


def write_back(box: JiraSandbox, tmp_path: Path, settings: dict[str, Any],
               fieldmap: dict[str, Any] | None = None) -> Result:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(yaml.safe_dump({"write_back": settings}))
    if fieldmap is not None:
        (config / "jira_fieldmap.yaml").write_text(yaml.safe_dump(fieldmap))
    return CliRunner(env=ENV).invoke(cli, [
        "scan", "--source", "jira", "--site", box.url, "--history", str(tmp_path / "h.sqlite"),
        "--as-of", AS_OF, "--full", "--write-back", "--max-new-tasks", "5000", "--format",
        "json", "--output", str(tmp_path / "report.json"), "--plan", str(tmp_path / "plan.json"),
        "--config", str(config)])


def tasks(box: JiraSandbox) -> list[Issue]:
    return [i for i in box.store.issues.values() if i.is_task]


def record_of(box: JiraSandbox, task: Issue) -> Issue | None:
    """The record a Task relates to (its one link to a scanned issue)."""
    return next((other for _, _, _, other in task.links
                 if isinstance(other, Issue) and other.record is not None), None)


def plan(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "plan.json").read_text())  # type: ignore[no-any-return]


def test_without_a_group_field_tasks_go_to_the_records_assignees(jsm: JiraSandbox,
                                                                tmp_path: Path) -> None:
    """bad input: a site whose incidents have no group field (assignment_group: field null);
    outcome: each incident's task is assigned to the incident's assignee, the tasks without a
    record (corrective actions) to the fallback accountId: every created task has an owner"""
    fieldmap = {"processes": {p: {"fields": {"assignment_group": {"field": None}}}
                              for p in ("incident", "problem", "change")}}
    result = write_back(jsm, tmp_path, {"fallback_owner": ADMIN_ACCOUNT_ID}, fieldmap)
    assert result.exit_code == 0, result.output
    made = tasks(jsm)
    assert made and all(t.assignee and not t.group for t in made)
    users = jsm.store.view.users
    with_record = [(t, record_of(jsm, t)) for t in made]
    assigned = [(t, r) for t, r in with_record if r is not None and r.record is not None
                and r.record.values.get("assignee")]
    assert assigned
    assert all(t.assignee == r.record.values["assignee"] for t, r in assigned
               if r.record is not None)
    assert any(t.assignee == ADMIN_ACCOUNT_ID for t in made)  # the fallback person
    planned = plan(tmp_path)
    assert planned["new"]["unassigned"] == 0
    assert planned["fallback_owner"]["kind"] == "person"
    names = {u.name for u in users.values()}
    assert all(t["owner"] in names for t in planned["tasks"])  # people by name, not accountId
    for listing in (("--stored",), ("--site", jsm.url)):
        listed = CliRunner(env=ENV).invoke(cli, [
            "tasks", "list", "--source", "jira", "--history", str(tmp_path / "h.sqlite"),
            "--format", "json", *listing])
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.stdout)["tasks"]
        assert len(rows) == len(made) and all(r["owner"] in names for r in rows), listing


def test_owner_first_assignee_gives_tasks_to_the_assignee_before_the_group(
        jsm: JiraSandbox, tmp_path: Path) -> None:
    result = write_back(jsm, tmp_path, {"jira": {"owner_first": "assignee"}})
    assert result.exit_code == 0, result.output
    made = tasks(jsm)
    by_person = [t for t in made if t.assignee]
    assert by_person and all(not t.group for t in by_person)
    for task in by_person:
        record = record_of(jsm, task)
        assert record is not None and record.record is not None
        assert task.assignee == record.record.values["assignee"]
    assert all(t.group or t.assignee for t in made)  # the rest keep a group


def test_a_fallback_group_no_record_carries_is_found_on_the_site(jsm: JiraSandbox,
                                                                tmp_path: Path) -> None:
    """bad input: write_back.fallback_owner names a group of the site no scanned record is
    assigned to; outcome: found on the site (GET /group/bulk), tasks without an owner go to it"""
    groups = {name: gid for gid, name in jsm.store.view.groups.items()}
    result = write_back(jsm, tmp_path, {"fallback_owner": "Problem Management"})
    assert result.exit_code == 0, result.output
    assert "names no" not in result.output
    fallback = plan(tmp_path)["fallback_owner"]
    assert fallback["group_id"] == groups["Problem Management"]
    assert fallback["kind"] == "group"
    assert any(t.group == groups["Problem Management"] for t in tasks(jsm))


@pytest.mark.parametrize("setting", ["No Such Team", "0123456789abcdef0123456789abcdef"])
def test_a_fallback_owner_the_site_does_not_know_is_a_notice(jsm: JiraSandbox, tmp_path: Path,
                                                            setting: str) -> None:
    """bad input: write_back.fallback_owner is neither an accountId nor a group of the site (a
    name, an id-shaped value); outcome: a notice in Jira's terms (accountId, group name or
    groupId, never a sys_id), tasks that have no other owner stay unassigned, the run goes on"""
    result = write_back(jsm, tmp_path, {"fallback_owner": setting})
    assert result.exit_code == 0, result.output
    assert f"{setting!r} names no person or group of this site" in result.output
    assert "accountId" in result.output and "sys_id" not in result.output
    assert plan(tmp_path)["fallback_owner"]["group_id"] == ""


def test_an_unknown_owner_first_is_refused_before_anything_is_written(jsm: JiraSandbox,
                                                                     tmp_path: Path) -> None:
    """bad input: write_back.jira.owner_first is neither group nor assignee; outcome: exit 2
    naming the setting, no task created"""
    result = write_back(jsm, tmp_path, {"jira": {"owner_first": "team"}})
    assert result.exit_code == 2, result.output
    assert "write_back.jira.owner_first" in result.output
    assert not tasks(jsm)


def test_owner_field_none_gives_every_task_its_records_assignee(jsm: JiraSandbox,
                                                               tmp_path: Path) -> None:
    """bad input: owner_field none (tasks hold no group) with a group as the fallback owner (the
    default Service Desk); outcome: each record's task goes to the record's assignee (its group
    cannot be written), a notice says the group fallback cannot hold tasks and asks for an
    accountId, and the plan counts the rest as unassigned rather than owned"""
    result = write_back(jsm, tmp_path, {"jira": {"owner_field": "none"}})
    assert result.exit_code == 0, result.output
    assert "'Service Desk' is a group, but the tasks have no group field" in result.output
    made = tasks(jsm)
    assert made and not any(t.group for t in made)
    for task in made:
        record = record_of(jsm, task)
        if record is not None and record.record is not None:
            assert task.assignee == record.record.values.get("assignee")
    planned = plan(tmp_path)
    owned = [t for t in planned["tasks"] if t["owner_id"]]
    assert len(owned) == sum(1 for t in made if t.assignee)
    assert planned["new"]["unassigned"] == len(made) - len(owned)
