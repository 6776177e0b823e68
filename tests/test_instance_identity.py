"""One instance whatever its URL: identity from the platform, tasks and history keyed by it, and
the upgrade from fingerprints that held the URL."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli import cli
from sms_conformance.connectors.base import ConnectorDefaults
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap
from sms_conformance.connectors.jira.settings import connector_from_env
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.model.findings import record_fingerprint
from sms_conformance.model.identity import Told, resolve_identity
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.site import ISSUE_TYPES
from sms_conformance.sandbox.jira.store import ZONES, Issue
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.store import Table
from sms_conformance.store.history import History
from tests.proxy import Proxy
from tests.test_jira_e2e import ENV, PASSWORD, is_open
from tests.test_jira_e2e import tasks as jira_tasks
from tests.test_writeback_e2e import TASK_TABLES, tasks

UPGRADE = Path(__file__).parent / "fixtures" / "upgrade" / "servicenow.json"


def scan(url: str, history: Path, *extra: str, as_of: str = "2026-11-01",
         config: Path | None = None) -> Result:
    args = ["scan", "--source", "servicenow", "--instance", url, "--history", str(history),
            "--as-of", as_of, "--full", "--write-back", "--max-new-tasks", "5000", *extra]
    return CliRunner().invoke(cli, [*args, *(["--config", str(config)] if config else [])])


def open_by_fingerprint(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(r["correlation_id"] for r in rows if r["active"] == "true")


def other_url(box: Sandbox | JiraSandbox) -> str:
    """The same sandbox by another name: localhost for 127.0.0.1 (another host, as a proxy or
    a custom domain would be)."""
    assert "127.0.0.1" in box.url
    return box.url.replace("127.0.0.1", "localhost")


@pytest.mark.parametrize("stores", ["same", "different"])
def test_a_second_url_of_one_instance_creates_and_closes_nothing(
        sandbox: Sandbox, tmp_path: Path, stores: str) -> None:
    """bad input: a write-back through URL A, then one through URL B of the same instance
    (same or another history store); outcome: zero tasks created, zero closed, no open
    duplicate, the same identity in both scans."""
    first = tmp_path / "a.sqlite"
    assert scan(sandbox.url, first).exit_code in (0, 1)
    before = tasks(sandbox)
    assert before
    second = first if stores == "same" else tmp_path / "b.sqlite"
    result = scan(other_url(sandbox), second)
    assert result.exit_code in (0, 1), result.output
    after = tasks(sandbox)
    assert len(after) == len(before), "tasks created through the second URL"
    assert sum(r["active"] == "true" for r in after) == sum(r["active"] == "true" for r in before)
    assert max(open_by_fingerprint(after).values()) == 1
    assert "create 0," in result.output and "close 0," in result.output
    history = History(second)
    try:
        assert {s["instance_id"] for s in history.scans()} == {sandbox.identity}
    finally:
        history.close()


SHAPES = [(20, 4, 0.2), (20, 4, 0.2), (20, 5, 0.2), (30, 4, 0.2), (20, 4, 0.5)]


def test_the_same_data_is_the_same_instance_on_another_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two sandboxes of one seed, size and defect rate (another port, another run) answer one
    identity; another seed, another size or another defect rate another: trends across demo
    runs follow the instance, and a smaller sandbox is not a shrunken scan of a larger one."""
    identities = []
    for records, seed, rate in SHAPES:
        with Sandbox(records=records, seed=seed, defect_rate=rate) as box:
            monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
            monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
            conn = sandbox_connector(box.url, box.password, ConfigDir(None).fieldmap())
            identities.append((resolve_identity(conn, {}).key, box.identity))
    assert all(told == own for told, own in identities)
    keys = [told for told, _ in identities]
    assert keys[0] == keys[1] and len(set(keys)) == 4


def test_the_same_data_is_the_same_jira_site_on_another_port() -> None:
    """Jira: the site's cloudId follows seed, size and defect rate as the ServiceNow
    sandbox's instance_id does."""
    fieldmap = ConfigDir(None).fieldmap("jira")
    assert isinstance(fieldmap, JiraFieldMap)
    identities = []
    for records, seed, rate in SHAPES:
        with JiraSandbox(records=records, seed=seed, defect_rate=rate, password=PASSWORD) as box:
            conn = connector_from_env(box.url, fieldmap, ENV)
            identities.append((resolve_identity(conn, {}).key, box.identity))
    assert all(told == own for told, own in identities)
    keys = [told for told, _ in identities]
    assert keys[0] == keys[1] and len(set(keys)) == 4


def test_a_withheld_identity_falls_back_to_the_url_and_says_so(
        sandbox: Sandbox, tmp_path: Path) -> None:
    """fault: the integration user may not read sys_properties (rows withheld); outcome: the
    run keys history by the URL and says so; `instance_id:` in settings pins the identity."""
    sandbox.store.identity_withheld()
    history = tmp_path / "h.sqlite"
    result = scan(sandbox.url, history)
    assert result.exit_code in (0, 1), result.output
    assert "did not say which instance it is" in result.output
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text('instance_id: "prod-1"\n')
    for url in (sandbox.url, other_url(sandbox)):
        pinned = scan(url, history, config=config)
        assert pinned.exit_code in (0, 1), pinned.output
        assert "did not say" not in pinned.output
        assert "create 0," in pinned.output and "close 0," in pinned.output
    with sqlite3.connect(history) as db:
        keys = [row[0] for row in db.execute("SELECT instance_id FROM scans ORDER BY id")]
    # Pinned (or told) at last, the identity claims what its URL stood in for.
    assert keys == ["servicenow:prod-1"] * 3


def test_a_pinned_identity_another_instance_contradicts_is_refused(
        sandbox: Sandbox, tmp_path: Path) -> None:
    """bad input: instance_id pinned in settings, the URL reaching an instance that says it is
    another; outcome: exit 2 before anything is read or written."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text('instance_id: "prod-1"\n')
    result = scan(sandbox.url, tmp_path / "h.sqlite", config=config)
    assert result.exit_code == 2
    assert "another instance (a clone?)" in result.output
    assert tasks(sandbox) == []


def test_doctor_shows_the_identity_or_why_there_is_none(sandbox: Sandbox) -> None:
    told = CliRunner().invoke(cli, ["doctor", "--source", "servicenow", "--instance", sandbox.url])
    assert f"ok    instance identity {sandbox.identity} (its instance_id property)" in told.output
    sandbox.store.identity_withheld()
    withheld = CliRunner().invoke(cli, ["doctor", "--source", "servicenow", "--instance",
                                        sandbox.url])
    assert f"WARN  instance identity servicenow:url:{sandbox.url}" in withheld.output
    assert "set instance_id:" in withheld.output


def test_told_takes_only_plain_ids() -> None:
    assert Told.first({"a": "<script>", "b": "dev12345"}, "none").value == "dev12345"
    assert Told.first({"a": None}, "refused") == Told(None, "refused")


def test_a_second_url_of_one_jira_site_creates_and_closes_nothing(tmp_path: Path) -> None:
    """bad input: a write-back through URL A, then one through URL B of the same Jira site;
    outcome: zero tasks created, zero closed, no open duplicate."""
    with JiraSandbox(records=150, seed=4, password=PASSWORD) as box:
        for url in (box.url, other_url(box)):
            result = CliRunner(env=ENV).invoke(cli, [
                "scan", "--source", "jira", "--site", url, "--history",
                str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01", "--full", "--write-back",
                "--max-new-tasks", "5000"])
            assert result.exit_code in (0, 1), result.output
            if url == box.url:
                before = [(t.id, is_open(t)) for t in jira_tasks(box)]
                assert before
        assert [(t.id, is_open(t)) for t in jira_tasks(box)] == before
        labels = Counter(label for t in jira_tasks(box) if is_open(t) for label in t.labels
                         if label.startswith("smsc-fp-"))
        assert max(labels.values()) == 1
        assert "create 0," in result.output and "close 0," in result.output


@pytest.mark.parametrize(("stores", "prefix"), [("same", ""), ("different", "/gateway/itsm")])
def test_a_write_back_through_a_proxy_of_the_instance_creates_and_closes_nothing(
        sandbox: Sandbox, tmp_path: Path, stores: str, prefix: str) -> None:
    """bad input: a write-back through the instance's URL, then one through a forwarding proxy
    in front of it (another port, or an API gateway's path prefix), same or another history
    store; outcome: zero tasks created, zero closed, no open duplicate, one identity."""
    first = tmp_path / "a.sqlite"
    assert scan(sandbox.url, first).exit_code in (0, 1)
    before = tasks(sandbox)
    assert before
    second = first if stores == "same" else tmp_path / "b.sqlite"
    with Proxy(sandbox.url, prefix) as proxy:
        result = scan(proxy.url, second)
        assert proxy.forwarded > 0  # the run went through the proxy
    assert result.exit_code in (0, 1), result.output
    after = tasks(sandbox)
    assert len(after) == len(before), "tasks created through the proxy"
    assert sum(r["active"] == "true" for r in after) == sum(r["active"] == "true" for r in before)
    assert max(open_by_fingerprint(after).values()) == 1
    assert "create 0," in result.output and "close 0," in result.output
    history = History(second)
    try:
        scans = history.scans()
    finally:
        history.close()
    assert {s["instance_id"] for s in scans} == {sandbox.identity}
    assert scans[-1]["instance"] == proxy.url


@pytest.mark.parametrize(("stores", "prefix"), [("same", "/gateway/jira"), ("different", "")])
def test_a_write_back_through_a_proxy_of_the_jira_site_creates_and_closes_nothing(
        tmp_path: Path, stores: str, prefix: str) -> None:
    """bad input: a write-back through the site's URL, then one through a forwarding proxy in
    front of it (another port, or an API gateway's path prefix), same or another history store;
    outcome: zero issues created, zero closed, no open duplicate, one identity."""
    def write_back(url: str, history: Path) -> Result:
        return CliRunner(env=ENV).invoke(cli, [
            "scan", "--source", "jira", "--site", url, "--history", str(history), "--as-of",
            "2026-11-01", "--full", "--write-back", "--max-new-tasks", "5000"])

    first = tmp_path / "a.sqlite"
    second = first if stores == "same" else tmp_path / "b.sqlite"
    with JiraSandbox(records=150, seed=4, password=PASSWORD) as box:
        assert write_back(box.url, first).exit_code in (0, 1)
        before = [(t.id, is_open(t)) for t in jira_tasks(box)]
        assert before
        with Proxy(box.url, prefix) as proxy:
            result = write_back(proxy.url, second)
            assert proxy.forwarded > 0
        assert result.exit_code in (0, 1), result.output
        assert [(t.id, is_open(t)) for t in jira_tasks(box)] == before
        labels = Counter(label for t in jira_tasks(box) if is_open(t) for label in t.labels
                         if label.startswith("smsc-fp-"))
        assert max(labels.values()) == 1
        identity = box.identity
    assert "create 0," in result.output and "close 0," in result.output
    history = History(second)
    try:
        assert {s["instance_id"] for s in history.scans()} == {identity}
    finally:
        history.close()


def restore(box: Sandbox, fixture: dict[str, Any], history: Path) -> None:
    """The fixture's task rows into the sandbox, its history dump into `history`."""
    for table in TASK_TABLES:  # the release had no service requests: no sc_task rows
        schema = box.store.tables[table].schema
        box.store.tables[table] = Table(schema, sorted(fixture["tasks"].get(table, []),
                                                       key=lambda r: r[0]))
    with sqlite3.connect(history) as db:
        db.executescript(";\n".join(fixture["history"]))


def parent(row: dict[str, Any]) -> str:
    """The incident an incident_task is about ("" for other task tables)."""
    ref = row.get("incident")
    return ref.get("value", "") if isinstance(ref, dict) else ""


def first_seen(history: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(history) as db:
        return {(record, rule): seen for record, rule, seen in db.execute(
            "SELECT DISTINCT f.record_id, f.rule_id, s.first_seen FROM findings f "
            "JOIN finding_seen s USING (fingerprint) WHERE f.status='fail'")}


def test_upgrading_from_the_last_release_keeps_every_task_and_first_seen_date(
        tmp_path: Path, monkeypatch) -> None:
    """bad input: tasks and a history store written by the release before instance identity
    (fixtures/upgrade/build.py, the URL in every fingerprint); outcome: the first run re-keys
    them: zero created, zero closed, no open duplicate, first-seen dates unchanged."""
    fixture = json.loads(UPGRADE.read_text())
    history = tmp_path / "h.sqlite"
    with Sandbox(records=fixture["records"], seed=fixture["seed"]) as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        restore(box, fixture, history)
        old_seen = first_seen(history)
        before = tasks(box)
        assert before and not any(
            r["correlation_id"] == record_fingerprint("servicenow", "incident", parent(r))
            for r in before if parent(r)), "the fixture holds today's fingerprints"
        # This sandbox listens on another port than the one the fixture was written through:
        # aliases says it is the same instance, as it would for a changed URL.
        config = tmp_path / "config"
        config.mkdir()
        # The release had no service requests nor CI rules, and its sandbox no incident worded
        # as a request: those rules, which would task failures for the first time, are left
        # out of the upgrade run.
        (config / "settings.yaml").write_text(f'aliases: ["{fixture["url"]}"]\n'
                                              'disabled_rules: ["request.*", "incident.ci.*", '
                                              '"change.ci.exists", "change.ci.not_retired", '
                                              '"change.ci.support_group", '
                                              '"incident.classification.not_request"]\n')
        result = scan(box.url, history, as_of="2026-11-02", config=config)
        assert result.exit_code in (0, 1), result.output
        after = tasks(box)
        assert len(after) == len(before), result.output
        assert [r["active"] for r in sorted(after, key=lambda r: r["sys_id"])] == [
            r["active"] for r in sorted(before, key=lambda r: r["sys_id"])]
        assert max(open_by_fingerprint(after).values()) == 1
        rekeyed = [r for r in after if parent(r) and r["active"] == "true"]
        assert rekeyed and all(r["correlation_id"] == record_fingerprint(
            "servicenow", "incident", parent(r)) for r in rekeyed)
        assert f"re-key {sum(r['active'] == 'true' for r in before)} tasks" in result.output
        new_seen = first_seen(history)
        kept = {k: v for k, v in new_seen.items() if k in old_seen}
        assert kept and kept == {k: old_seen[k] for k in kept}
        again = scan(box.url, history, as_of="2026-11-02", config=config)
        assert "create 0, update 0, close 0" in again.output, again.output


def restore_jira(box: JiraSandbox, fixture: dict[str, Any], history: Path) -> None:
    """The fixture's task issues into the site (links mirrored on their records), its history
    dump into `history`."""
    store = box.store
    types = {t.id: t for t in ISSUE_TYPES}
    made: dict[int, Issue] = {}
    for data in fixture["issues"]:
        issue = Issue(data["id"], data["key"], types[data["type"]], data["status"],
                      ZONES[data["id"] % len(ZONES)], datetime.fromisoformat(data["created"]),
                      datetime.fromisoformat(data["updated"]), labels=data["labels"],
                      summary=data["summary"], description=data["description"],
                      priority=data["priority"], duedate=data["duedate"],
                      resolution=data["resolution"], group=data["group"],
                      comments=data["comments"],
                      resolved=datetime.fromisoformat(data["resolved"]) if data["resolved"] else None)
        made[issue.id] = store.issues[issue.id] = store.by_key[issue.key] = issue
    for data in fixture["issues"]:
        issue = made[data["id"]]
        if data["parent"] is not None:
            issue.parent = store.issues[data["parent"]]
            issue.parent.subtasks.append(issue)
        for link_id, kind, direction, other_id in data["links"]:
            other = store.issues[other_id]
            issue.links.append((link_id, kind, direction, other))
            if other_id not in made:
                other.links.append((link_id, kind, "inward" if direction == "outward"
                                    else "outward", issue))
    store.touch()
    with sqlite3.connect(history) as db:
        db.executescript(";\n".join(fixture["history"]))


def test_upgrading_from_the_last_release_on_jira_keeps_every_task(tmp_path: Path) -> None:
    """bad input: task issues and a history store written by the release before instance
    identity (the URL in every smsc-fp label); outcome: the first run re-keys them: zero
    created, zero closed, no open duplicate, first-seen dates unchanged."""
    fixture = json.loads(UPGRADE.with_name("jira.json").read_text())
    history = tmp_path / "h.sqlite"
    config = tmp_path / "config"
    config.mkdir()
    # The release had no service requests nor CI rules, and its sandbox no incident worded as
    # a request: those rules, which would task failures for the first time, are left out of
    # the upgrade run.
    (config / "settings.yaml").write_text(f'aliases: ["{fixture["url"]}"]\n'
                                          'disabled_rules: ["request.*", "incident.ci.*", '
                                          '"change.ci.exists", "change.ci.not_retired", '
                                          '"change.ci.support_group", '
                                          '"incident.classification.not_request"]\n')
    with JiraSandbox(records=fixture["records"], seed=fixture["seed"], password=PASSWORD) as box:
        restore_jira(box, fixture, history)
        old_seen = first_seen(history)
        before = {t.id: (is_open(t), t.labels) for t in jira_tasks(box)}
        assert before
        result = CliRunner(env=ENV).invoke(cli, [
            "scan", "--source", "jira", "--site", box.url, "--history", str(history),
            "--as-of", "2026-11-02", "--full", "--write-back", "--max-new-tasks", "5000",
            "--config", str(config)])
        assert result.exit_code in (0, 1), result.output
        after = {t.id: (is_open(t), t.labels) for t in jira_tasks(box)}
        assert set(after) == set(before), result.output  # none created
        assert {i: s[0] for i, s in after.items()} == {i: s[0] for i, s in before.items()}
        assert all(after[i][1] != before[i][1] for i in after if after[i][0]), "not re-keyed"
        labels = Counter(label for is_live, ls in after.values() if is_live for label in ls
                         if label.startswith("smsc-fp-"))
        assert max(labels.values()) == 1
        new_seen = first_seen(history)
        kept = {k: v for k, v in new_seen.items() if k in old_seen}
        assert kept and kept == {k: old_seen[k] for k in kept}


def test_an_export_directory_is_keyed_by_its_location_without_a_notice() -> None:
    class Files(ConnectorDefaults):  # an export reader has no identity to ask
        platform, instance = "servicenow", "file:/exports/nightly"

    identity = resolve_identity(Files(), {})
    assert identity.key == "servicenow:url:file:/exports/nightly" and identity.notice == ""
