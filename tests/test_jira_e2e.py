"""Issue 10's acceptance through the command line, against the JSM sandbox (and the ServiceNow
sandbox for comparison): the built-in pack unchanged on Jira, write-back to JSM, and the ways a
Jira run can be set up wrong."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.site import CUSTOM_FIELDS
from sms_conformance.sandbox.jira.store import Issue, flatten

AS_OF = "2026-11-01"
PASSWORD = "jira-e2e-token"
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD}
CLOSED = {"incident": {"closed", "canceled"}, "problem": {"closed"},  # the shipped
          "change": {"closed", "canceled"},  # write_back.policy closed_states
          "request": {"resolved", "closed", "canceled"}}


@pytest.fixture
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=300, seed=4, password=PASSWORD) as box:
        yield box


def run(*args: str, **env: str) -> Result:
    return CliRunner(env={**ENV, **env}).invoke(cli, list(args))


def scan(box: JiraSandbox, history: Path, *extra: str) -> Result:
    return run("scan", "--source", "jira", "--site", box.url, "--history", str(history),
               "--as-of", AS_OF, "--full", *extra)


def write_back(box: JiraSandbox, history: Path, *extra: str) -> Result:
    result = scan(box, history, "--write-back", "--max-new-tasks", "5000", *extra)
    assert result.exit_code == 0, result.output
    return result


def tasks(box: JiraSandbox) -> list[Issue]:
    return [i for i in box.store.issues.values() if i.is_task]


def record_of(task: Issue) -> Issue | None:
    """The record a task is about: its Relates link (or its parent, for a sub-task)."""
    linked = [other for _, kind, _, other in task.links if kind == "Relates"]
    found = linked[0] if linked else task.parent
    return found if isinstance(found, Issue) else None


def is_open(task: Issue) -> bool:
    return task.status != "Done"


def text(task: Issue) -> str:
    return flatten(task.description) or ""


def change_record(box: JiraSandbox, issue: Issue, **values: Any) -> None:
    """Edit an issue's data in the sandbox's store, as a person fixing it in Jira would."""
    assert issue.record is not None
    with box.store.lock:
        issue.record = replace(issue.record, values={**issue.record.values, **values})
        issue.updated = datetime.now(timezone.utc)
        box.store.touch()


def report_rules(path: Path) -> dict[str, tuple[int, int]]:
    return {r["rule_id"]: (r["evaluated"], r["failed"])
            for r in json.loads(path.read_text())["summary"]["rules"]}


def test_jira_scan_gives_the_servicenow_counts_per_rule(tmp_path: Path) -> None:
    """Acceptance: `scan --source jira` runs the built-in pack unchanged and gives, per rule,
    the evaluated and failed counts of the ServiceNow scan of the same records and seed."""
    records, seed = 400, 11
    with JiraSandbox(records=records, seed=seed, password=PASSWORD) as box:
        jira = run("scan", "--source", "jira", "--site", box.url, "--as-of", AS_OF,
                   "--history", str(tmp_path / "j.sqlite"), "--format", "json",
                   "--output", str(tmp_path / "jira.json"))
    assert jira.exit_code == 0, jira.output
    servicenow = run("scan", "--source", "sandbox", "--records", str(records), "--seed", str(seed),
                     "--as-of", AS_OF, "--history", str(tmp_path / "s.sqlite"), "--format",
                     "json", "--output", str(tmp_path / "servicenow.json"))
    assert servicenow.exit_code == 0, servicenow.output
    on_jira, on_servicenow = report_rules(tmp_path / "jira.json"), report_rules(
        tmp_path / "servicenow.json")
    assert on_jira == on_servicenow
    assert sum(failed for _, failed in on_jira.values()) > 50  # the planted defects were seen
    assert sum(1 for evaluated, _ in on_jira.values() if evaluated) > 30
    # the SLA rules (8.3.3) too: task_sla rows and the JSM SLA fields of the same SLA records
    slas = {r: on_jira[r] for r in on_jira if r.startswith("incident.sla.")}
    assert len(slas) == 3 and all(failed > 0 for _, failed in slas.values()), slas
    # service requests (8.6.2, and their SLAs, 8.3.3): requested items and JSM's Service request
    # work types, the planted defects of each request rule seen on both
    requests = {rule: counts for rule, counts in on_jira.items() if rule.startswith("request.")}
    assert len(requests) == 10 and len([r for r in requests if r.startswith("request.sla.")]) == 3
    assert all(evaluated and failed for evaluated, failed in requests.values()), requests
    # misclassification both ways (8.6.2): incidents worded as asks, requests as disruptions
    misfiled = {r: on_jira[r] for r in ("incident.classification.not_request",
                                        "request.classification.not_incident")}
    assert all(failed for _, failed in misfiled.values()), misfiled


def test_write_back_to_jsm_twice_creates_each_task_once(jsm: JiraSandbox, tmp_path: Path) -> None:
    """Acceptance: write-back to JSM twice creates each task once; and issue 13's on the JSM
    sandbox: every live record with a failing rule has exactly one open task linked to it, no
    two open tasks share a record, at most one corrective action per (rule, group, period)."""
    history = tmp_path / "h.sqlite"
    first = write_back(jsm, history, "--format", "json", "--output", str(tmp_path / "r.json"))
    created = tasks(jsm)
    assert created and f"create {len(created)}," in first.output
    assert all({"sms-conformance"} <= set(t.labels) and t.type.name == "Task" for t in created)
    assert all(t.duedate and t.priority in range(1, 6) for t in created)  # due, Highest..Lowest

    failing_live = {f["record_id"] for f in json.loads((tmp_path / "r.json").read_text())[
        "findings"] if f["status"] == "fail" and _live(jsm, f["record_id"])}
    open_record_tasks = [t for t in created if is_open(t) and record_of(t) is not None]
    linked = Counter(str(record_of(t).id) for t in open_record_tasks)  # type: ignore[union-attr]
    assert set(linked) == failing_live
    assert max(linked.values()) == 1  # no two open tasks share a record
    corrective = [t for t in created if record_of(t) is None]
    assert corrective
    keys = [t.summary.split(": ", 1)[1] for t in corrective]  # rule title (group, period)
    assert len(keys) == len(set(keys))

    second = write_back(jsm, history)
    assert "write-back plan: create 0, update 0, close 0, heal 0 duplicates" in second.output
    assert len(tasks(jsm)) == len(created)


def _live(box: JiraSandbox, issue_id: str) -> bool:
    issue = box.store.get(issue_id)
    state = box.store.value(issue, "state")
    return state not in CLOSED[issue.process]


def _record_task(box: JiraSandbox, rules: str) -> Issue:
    """An open record task whose incident fails exactly `rules` (its first line lists them)."""
    return next(t for t in tasks(box) if is_open(t) and text(t).startswith(f"Rules: {rules}\n")
                and record_of(t) is not None and record_of(t).process == "incident")  # type: ignore[union-attr]


def test_a_fixed_issue_closes_its_task_through_a_transition(jsm: JiraSandbox,
                                                            tmp_path: Path) -> None:
    """Acceptance: a fixed issue closes its task through a transition (Done, with a comment),
    and no other task."""
    history = tmp_path / "h.sqlite"
    write_back(jsm, history)
    target = _record_task(jsm, "incident.logging.category")
    change_record(jsm, record_of(target), category="network")  # type: ignore[arg-type]
    result = write_back(jsm, history)
    assert "create 0, update 0, close 1" in result.output
    assert [t.key for t in tasks(jsm) if not is_open(t)] == [target.key]
    assert target.status == "Done"
    assert "now conforms" in json.dumps(target.comments)


def test_a_record_task_follows_its_three_findings_then_closes(jsm: JiraSandbox,
                                                              tmp_path: Path) -> None:
    """Acceptance (issue 13 on JSM): a rerun creates nothing; fixing one of a record's three
    findings updates its task, fixing all three closes it."""
    history = tmp_path / "h.sqlite"
    write_back(jsm, history)
    target = _record_task(jsm, "incident.logging.category")
    record = record_of(target)
    assert record is not None
    change_record(jsm, record, short_description="x", service=None, configuration_item=None)
    three = ("incident.logging.category, incident.logging.description, "
             "incident.logging.service_or_ci")
    assert "create 0, update 1, close 0" in write_back(jsm, history).output
    assert text(target).startswith(f"Rules: {three}\n") and is_open(target)
    assert [t for t in tasks(jsm) if record_of(t) is record] == [target]

    change_record(jsm, record, category="network")
    assert "create 0, update 1, close 0" in write_back(jsm, history).output
    assert text(target).startswith(
        "Rules: incident.logging.description, incident.logging.service_or_ci\n")
    assert "fixed: incident.logging.category" in json.dumps(target.comments) and is_open(target)

    service = next(v for i in jsm.store.issues.values() if i.record is not None
                   for v in [jsm.store.value(i, "service")] if v)
    change_record(jsm, record, short_description="Mail server unreachable for the floor",
                  service=service)
    assert "create 0, update 0, close 1" in write_back(jsm, history).output
    assert target.status == "Done"
    assert "create 0, update 0, close 0" in write_back(jsm, history).output


def test_sub_tasks_of_their_records_with_the_owner_group(jsm: JiraSandbox,
                                                        tmp_path: Path) -> None:
    """write_back.jira issue_type Sub-task: a record's task is its sub-task (a corrective
    action, about no one record, a Task); owner_field gets the owner group; a rerun creates
    and updates nothing."""
    fields = {f.name: f"customfield_{10100 + i}" for i, f in enumerate(CUSTOM_FIELDS)}
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(yaml.safe_dump({"write_back": {"jira": {
        "issue_type": "Sub-task", "owner_field": fields["Assignment group"]}}}))
    history = tmp_path / "h.sqlite"
    write_back(jsm, history, "--config", str(config))
    created = tasks(jsm)
    subtasks = [t for t in created if t.type.name == "Sub-task"]
    assert subtasks and all(t.parent is not None and t.parent.record is not None
                            and t.parent.key in text(t) for t in subtasks)
    assert all(t.type.name == "Task" and t.parent is None and text(t).startswith("Corrective")
               for t in created if t not in subtasks)
    assert all(t.group == jsm.store.value(t.parent, "assignment_group")  # type: ignore[arg-type]
               for t in subtasks if jsm.store.value(t.parent, "assignment_group"))  # type: ignore[arg-type]
    again = write_back(jsm, history, "--config", str(config))
    assert "write-back plan: create 0, update 0, close 0" in again.output


def test_tasks_list_reads_the_jira_tasks_live(jsm: JiraSandbox, tmp_path: Path) -> None:
    """`tasks list --source jira --site URL` lists the tasks as the site has them."""
    history = tmp_path / "h.sqlite"
    write_back(jsm, history)
    listed = run("tasks", "list", "--source", "jira", "--site", jsm.url, "--history",
                 str(history), "--format", "json")
    assert listed.exit_code == 0, listed.output
    keys = {t["number"] for t in json.loads(listed.stdout)["tasks"]}
    assert keys == {t.key for t in tasks(jsm)}


def test_doctor_checks_a_jira_site(jsm: JiraSandbox, tmp_path: Path) -> None:
    """`doctor --source jira` (the Doctor capability): auth, the project, custom fields found
    by name, link types; each problem as a FAIL line with its fix, exit 3."""
    result = run("doctor", "--source", "jira", "--site", jsm.url)
    assert result.exit_code == 0, result.output
    assert "authenticated at" in result.output and "custom fields found by name" in result.output
    assert "FAIL" not in result.output
    bad = run("doctor", "--source", "jira", "--site", jsm.url, JIRA_API_TOKEN="wrong")
    assert bad.exit_code == 3 and "FAIL  authentication refused" in bad.output
    config = tmp_path / "config"
    config.mkdir()
    (config / "jira_fieldmap.yaml").write_text(yaml.safe_dump({"processes": {"incident": {
        "fields": {"urgency": {"name": "Urgencyy", "type": "int"}}}}}))
    unknown = run("doctor", "--source", "jira", "--site", jsm.url, "--config", str(config))
    assert unknown.exit_code == 0  # as the scan: it goes on, those results unknown
    assert "WARN  incident.urgency: no field named 'Urgencyy'" in unknown.output
    assert "unknown results for incident.priority.matrix" in unknown.output


# -- set up wrong: one line, exit 2 or 3, nothing written ------------------------------------


class _NotJira(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>not here</html>")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def not_jira() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotJira)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scans(history: Path) -> int:
    """Scans holding evidence: a refused run is stored as a failed start only."""
    if not history.exists():
        return 0
    with sqlite3.connect(history) as db:
        return int(db.execute("SELECT count(*) FROM scans WHERE failed_start=0").fetchone()[0])


def _refused(result: Result, code: int, history: Path, box: JiraSandbox | None = None) -> str:
    lines = result.output.strip().splitlines()
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    assert _scans(history) == 0
    if box is not None:
        assert tasks(box) == []
    return lines[0]


def test_nothing_listening_at_the_site(tmp_path: Path) -> None:
    """fault: nothing listens at --site; outcome: one line naming the site, exit 3, stored as
    a failed start only."""
    url = f"http://127.0.0.1:{_free_port()}"
    history = tmp_path / "h.sqlite"
    line = _refused(run("scan", "--source", "jira", "--site", url, "--history", str(history)),
                    3, history)
    assert "cannot reach" in line and url in line


def test_a_site_that_is_not_jira(not_jira: str, tmp_path: Path) -> None:
    """fault: --site answers, but not as Jira (404 on the REST API); outcome: one line saying to
    check the site URL, exit 3, stored as a failed start only."""
    history = tmp_path / "h.sqlite"
    line = _refused(run("scan", "--source", "jira", "--site", not_jira, "--history",
                        str(history)), 3, history)
    assert "no Jira REST API" in line and "check the site URL" in line


def test_a_bad_token(jsm: JiraSandbox, tmp_path: Path) -> None:
    """fault: the site refuses JIRA_API_TOKEN (Cloud's 401); outcome: one line naming the
    credentials to check, exit 3, stored as a failed start only, no task written."""
    history = tmp_path / "h.sqlite"
    line = _refused(run("scan", "--source", "jira", "--site", jsm.url, "--history", str(history),
                        "--write-back", JIRA_API_TOKEN="not-the-token"), 3, history, jsm)
    assert "authentication failed" in line and "JIRA_API_TOKEN" in line
    assert "not-the-token" not in line


@pytest.mark.parametrize(("files", "says"), [
    ({"jira_fieldmap.yaml": {"projects": ["NOPE"]}}, "Jira project NOPE not found"),
    ({"settings.yaml": {"write_back": {"jira": {"project": "NOPE"}}}},
     "Jira refused the JQL query: The value 'NOPE' does not exist for the field 'project'"),
    ({"settings.yaml": {"write_back": {"jira": {"link_type": "Blocks"}}}},
     "write_back.jira.link_type: no link type 'Blocks'"),
    ({"settings.yaml": {"write_back": {"jira": {"issue_type": "Story"}}}},
     "write_back.jira.issue_type: Input should be 'Task' or 'Sub-task'"),
], ids=["unknown-project",
        "jql-refused-for-the-task-project", "unknown-link-type", "bad-task-issue-type"])
def test_jira_config_refused_before_anything_is_written(
        jsm: JiraSandbox, tmp_path: Path, files: dict[str, Any], says: str) -> None:
    """bad input: a Jira field map or write_back.jira setting the site cannot serve; outcome:
    one line naming it, exit 2, no scan stored, no task written."""
    config = tmp_path / "config"
    config.mkdir()
    for name, content in files.items():
        (config / name).write_text(yaml.safe_dump(content))
    history = tmp_path / "h.sqlite"
    line = _refused(scan(jsm, history, "--config", str(config), "--write-back"), 2, history, jsm)
    assert says in line
