"""`trace KEY --source jira`: the chain incident -> problem -> change through issue links, each
issue with its results, as on ServiceNow (issue 19, point 3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.jira.store import Issue

AS_OF = "2026-11-01"
PASSWORD = "jira-trace-token"
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD}


@pytest.fixture(scope="module")
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=300, seed=4, password=PASSWORD) as box:
        yield box


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(cli, list(args))


def trace(box: JiraSandbox, key: str, *extra: str) -> Result:
    return run("trace", key, "--source", "jira", "--site", box.url, "--as-of", AS_OF, *extra)


def linked(issue: Issue, link_type: str, direction: str) -> list[Issue]:
    return [o for _, kind, side, o in issue.links
            if kind == link_type and side == direction and isinstance(o, Issue)]


def planted_chain(box: JiraSandbox) -> tuple[Issue, Issue, Issue]:
    """An incident whose problem has a fix change, as issue links of the sandbox."""
    for issue in box.store.issues.values():
        if issue.process != "incident":
            continue
        for problem in linked(issue, "Problem/Incident", "inward"):
            changes = linked(problem, "Fixes", "inward")
            if changes:
                return issue, problem, changes[0]
    raise AssertionError("the sandbox plants incident -> problem -> change chains")


def children(node: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [c for c in node["linked"] if c["kind"] == kind]


def test_trace_on_jira_follows_issue_links_to_problem_and_change(jsm: JiraSandbox) -> None:
    incident, problem, change = planted_chain(jsm)
    result = trace(jsm, incident.key, "--format", "json")
    assert result.exit_code == 0, result.output
    root = json.loads(result.stdout)
    assert (root["kind"], root["number"], root["id"]) == ("incident", incident.key,
                                                          str(incident.id))
    [prb] = children(root, "problem")
    assert (prb["number"], prb["relation"]) == (problem.key, f"problem of {incident.key}")
    fixes = [c for c in children(prb, "change") if c["relation"].startswith("fixed by change")]
    assert [c["number"] for c in fixes] == [change.key]
    # The problem lists the other incidents linked to it, each evaluated.
    others = {i.key for i in linked(problem, "Problem/Incident", "outward")} - {incident.key}
    assert {c["number"] for c in children(prb, "incident")} == others
    for node in (root, prb, fixes[0]):
        assert node["results"], node["number"]
        assert all(r["message"] and r["status"] in ("pass", "fail", "unknown", "waived")
                   for r in node["results"])


def test_trace_on_jira_shows_the_same_results_as_a_scan(jsm: JiraSandbox, tmp_path: Any) -> None:
    incident, problem, _ = planted_chain(jsm)
    history = tmp_path / "h.sqlite"
    scanned = run("scan", "--source", "jira", "--site", jsm.url, "--as-of", AS_OF,
                  "--history", str(history), "--format", "json")
    assert scanned.exit_code in (0, 1), scanned.output
    failed: dict[str, set[str]] = {}
    for finding in json.loads(scanned.stdout)["findings"]:
        if finding["status"] == "fail":
            failed.setdefault(finding["number"], set()).add(finding["rule_id"])
    root = json.loads(trace(jsm, incident.key, "--format", "json").stdout)
    for node in (root, *children(root, "problem")):
        shown = {r["rule_id"] for r in node["results"] if r["status"] == "fail"}
        assert shown == failed.get(node["number"], set()), node["number"]


def test_trace_on_jira_table_names_the_chain(jsm: JiraSandbox) -> None:
    incident, problem, change = planted_chain(jsm)
    result = trace(jsm, incident.key)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index(f"incident {incident.key}") < out.index(f"problem {problem.key}") < out.index(
        f"change {change.key}")
    assert f"{jsm.url}/browse/{incident.key}" in out


def test_trace_on_jira_of_an_unknown_key_is_one_line_exit_2(jsm: JiraSandbox) -> None:
    """bad input: trace of an issue key no issue has; outcome: one error line naming it, exit 2"""
    result = trace(jsm, "ITSM-999999")
    assert result.exit_code == 2, result.output
    assert "ITSM-999999: no incident, problem, change or request" in result.output
    assert "Traceback" not in result.output
