"""A scan's start requests side by side (issue 26): the instance's identity, its priority lookup
and the connector's own start-up reads go out together instead of one after another, within
the source's streams, each failure still raised where it always was, named.

Each test makes the reads meet at a barrier: one read after another never reaches it (the first
waits out the timeout alone), so these fail on code that reads them in turn."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.servicenow import Sandbox

AS_OF = "2026-11-01"
JIRA_TOKEN = "start-reads-token"


class Meeting:
    """Requests named in `groups` wait for the others of their group (a barrier each); a
    group broken means its requests were made one after another."""

    def __init__(self, *groups: frozenset[str], timeout: float = 5) -> None:
        self.barriers: dict[str, threading.Barrier] = {}
        for group in groups:
            barrier = threading.Barrier(len(group), timeout=timeout)
            self.barriers.update(dict.fromkeys(group, barrier))
        self.met: list[str] = []

    def wait(self, name: str) -> None:
        barrier = self.barriers.get(name)
        if barrier is None:
            return
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        self.met.append(name)

    @property
    def broken(self) -> list[str]:
        return sorted(n for n, b in self.barriers.items() if b.broken)


def meet_servicenow(monkeypatch: pytest.MonkeyPatch, meeting: Callable[[str, Mapping[str, str]],
                                                                       None]) -> None:
    original = TableClient.list

    def listed(self: TableClient, table: str, params: Mapping[str, str]) -> Any:
        meeting(table, params)
        return original(self, table, params)

    monkeypatch.setattr(TableClient, "list", listed)


def scan_servicenow(box: Sandbox, tmp_path: Path, settings: str = "") -> tuple[Result, dict[str, Any]]:
    args = ["scan", "--source", "servicenow", "--instance", box.url, "--history",
            str(tmp_path / "h.sqlite"), "--as-of", AS_OF, "--full", "--format", "json",
            "--output", str(tmp_path / "report.json")]
    if settings:
        config = tmp_path / "config"
        config.mkdir()
        (config / "settings.yaml").write_text(settings)
        args += ["--config", str(config)]
    result = CliRunner().invoke(cli, args)
    report = tmp_path / "report.json"
    return result, json.loads(report.read_text()) if report.exists() else {}


def test_identity_and_priority_lookup_are_read_side_by_side(
        sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meeting = Meeting(frozenset({"sys_properties", "dl_u_priority"}))
    meet_servicenow(monkeypatch, lambda table, _: meeting.wait(table))
    result, report = scan_servicenow(sandbox, tmp_path)
    assert result.exit_code == 0, result.output
    assert meeting.broken == [] and sorted(meeting.met) == ["dl_u_priority", "sys_properties"]
    # Both answers used as before: the identity the instance gave, its own lookup.
    assert any("dl_u_priority (9 entries)" in n for n in report["scan"]["notices"])
    assert not any("did not say which instance" in n for n in report["scan"]["notices"])


def test_one_stream_reads_its_start_requests_one_after_another(
        sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """source.streams 1: the start reads in turn (never two requests at once), in the order
    they were read before: the identity, then the priority lookup."""
    lock, flight, most, order = threading.Lock(), [0], [0], []

    def one_at_a_time(table: str, _: Mapping[str, str]) -> None:
        if table not in ("sys_properties", "dl_u_priority"):
            return
        with lock:
            flight[0] += 1
            most[0] = max(most[0], flight[0])
            order.append(table)
        time.sleep(0.2)  # long enough for a second read beside it to be seen
        with lock:
            flight[0] -= 1

    meet_servicenow(monkeypatch, one_at_a_time)
    result, _ = scan_servicenow(sandbox, tmp_path, "source: {streams: 1}\n")
    assert result.exit_code == 0, result.output
    assert order == ["sys_properties", "dl_u_priority"] and most == [1]


def test_a_failing_priority_lookup_beside_the_identity_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fault: dl_u_priority answers 500 to every request while the identity is read beside it;
    outcome: exit 3 naming dl_u_priority, a failed start with no report of zeros."""
    with Sandbox(records=50, seed=4, faults="500:1@dl_u_priority") as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        result, report = scan_servicenow(box, tmp_path)
        assert box.stats.count("GET", "sys_properties") == 1
    assert result.exit_code == 3, result.output
    assert "dl_u_priority" in result.output and "Traceback" not in result.output
    assert report == {}


def test_a_failing_identity_read_is_named_and_the_reads_beside_it_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fault: sys_properties answers 500 to every request while the priority lookup is read
    beside it; outcome: exit 3 naming sys_properties, nothing scanned, no read left running."""
    with Sandbox(records=50, seed=4, faults="500:1@sys_properties") as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        result, report = scan_servicenow(box, tmp_path)
        assert box.stats.count("GET", "incident") == 0
    assert result.exit_code == 3, result.output
    assert "sys_properties" in result.output and "Traceback" not in result.output
    assert not [t for t in threading.enumerate() if t.name.startswith("start-read")]


@pytest.fixture
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=100, seed=4, password=JIRA_TOKEN) as box:
        yield box


def test_jira_start_up_reads_go_in_three_rounds_not_five(jsm: JiraSandbox, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Who am I first (it decides the API version), then the field list beside the project's
    issue types, then the site's identity beside its statuses: 3 rounds, not 5 requests in a
    row, before the first page. The statuses are read only where a scope goes into JQL: the
    CI existence rules (any state) would have every incident and change read unfiltered, so
    they are off here."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(
        "disabled_rules: [incident.ci.exists, change.ci.exists]\n")
    meeting = Meeting(frozenset({"/rest/api/3/field", "/rest/api/3/project/ITSM"}),
                      frozenset({"/_edge/tenant_info", "/rest/api/3/status"}))
    original = JiraClient.get

    def got(self: JiraClient, path: str, params: Mapping[str, str] | None = None) -> Any:
        meeting.wait(path)
        return original(self, path, params)

    monkeypatch.setattr(JiraClient, "get", got)
    result = CliRunner(env={"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": JIRA_TOKEN}).invoke(
        cli, ["scan", "--source", "jira", "--site", jsm.url, "--history", str(tmp_path / "h.sqlite"),
              "--as-of", AS_OF, "--full", "--format", "json", "--output", str(tmp_path / "r.json"),
              "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert meeting.broken == [] and len(meeting.met) == 4
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["rules"] and report["findings"]
    assert jsm.stats.count("GET", "status") == 1  # asked once, as before
