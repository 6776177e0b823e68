"""A per-process `jql:` restriction in the Jira field map: it narrows every search for its
process, can never widen one, and a restriction the site refuses (or one that could widen or
reorder) stops the run before anything is read or written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from sms_conformance.sandbox.jira import JiraSandbox
from tests.test_jira_e2e import _refused, jsm, report_rules, run, scan, tasks

__all__ = ["jsm"]  # the fixture, used by name

NARROW = "priority in (Highest, High)"


def _config(tmp_path: Path, restriction: str, process: str = "incident") -> Path:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "jira_fieldmap.yaml").write_text(
        yaml.safe_dump({"processes": {process: {"jql": restriction}}}))
    return config


def _sent(box: JiraSandbox) -> list[str]:
    """Every JQL query the sandbox is asked from now on (the list fills as it answers)."""
    assert box.server is not None
    search = box.server.search
    seen: list[str] = []

    def recording(text: str, bounded: bool) -> Any:
        seen.append(text)
        return search(text, bounded)

    box.server.search = recording  # type: ignore[method-assign]
    return seen


def _priority(box: JiraSandbox, issue_id: str) -> Any:
    return box.store.value(box.store.get(issue_id), "priority")


def _scan_json(box: JiraSandbox, tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    result = scan(box, tmp_path / f"{name}.sqlite", "--format", "json", "--output", str(out),
                  *extra)
    assert result.exit_code in (0, 1), result.output
    return dict(json.loads(out.read_text()))


def test_a_restriction_narrows_the_scan_to_its_issues(jsm: JiraSandbox, tmp_path: Path) -> None:
    """incident `jql: priority in (Highest, High)`: the same rules run, the incident rules on
    fewer records (only those of that priority), the problem and change rules on the same
    records."""
    whole = _scan_json(jsm, tmp_path, "whole")
    narrowed = _scan_json(jsm, tmp_path, "narrowed", "--config",
                          str(_config(tmp_path, NARROW)))
    before, after = report_rules(tmp_path / "whole.json"), report_rules(tmp_path / "narrowed.json")
    assert before.keys() == after.keys()
    incident = [r for r in before if r.startswith("incident.")]
    assert all(after[r][0] <= before[r][0] for r in incident)
    assert sum(after[r][0] for r in incident) < sum(before[r][0] for r in incident)
    assert sum(after[r][0] for r in incident) > 0
    # problems and changes: the same records (a rule counting their incidents counts fewer)
    assert {r: v[0] for r, v in after.items() if r not in incident} == {
        r: v[0] for r, v in before.items() if r not in incident}
    incidents_found = {f["record_id"] for f in narrowed["findings"]
                       if f["rule_id"].startswith("incident.")}
    assert incidents_found
    assert {_priority(jsm, i) for i in incidents_found} <= {1, 2}
    assert any(_priority(jsm, f["record_id"]) not in (1, 2) for f in whole["findings"]
               if f["rule_id"].startswith("incident."))


def test_an_or_in_a_restriction_stays_inside_its_parentheses(jsm: JiraSandbox,
                                                            tmp_path: Path) -> None:
    """`jql: priority = Highest OR priority = Lowest` is ANDed in parentheses onto every
    incident search: issues of other types and projects with those priorities are not read
    (without them, the scan would stop on a Lowest problem)."""
    restriction = "priority = Highest OR priority = Lowest"
    sent = _sent(jsm)
    found = _scan_json(jsm, tmp_path, "or", "--config", str(_config(tmp_path, restriction)))
    incident_searches = [q for q in sent if "Incident" in q]
    assert incident_searches
    assert all(q.endswith(f" AND ({restriction}) ORDER BY key ASC") for q in incident_searches)
    assert all(restriction not in q for q in sent if "Incident" not in q)
    incidents = {f["record_id"] for f in found["findings"] if f["rule_id"].startswith("incident.")}
    assert incidents and {_priority(jsm, i) for i in incidents} <= {1, 5}


@pytest.mark.parametrize(("restriction", "says"), [
    ("priority = = High", "Expecting either a value, list or function but got '='"),
    ('priority = "High', "The quoted string 'High"),
    ("component = Payments", "Field 'component' does not exist"),
], ids=["double-operator", "unterminated-quote", "unknown-field"])
def test_a_restriction_the_site_refuses(jsm: JiraSandbox, tmp_path: Path, restriction: str,
                                        says: str) -> None:
    """bad input: a field map `jql:` restriction that is not valid JQL on the site; outcome:
    one line naming the process and quoting Jira's errorMessages, exit 2, no scan stored, no
    task written."""
    history = tmp_path / "h.sqlite"
    line = _refused(scan(jsm, history, "--config", str(_config(tmp_path, restriction)),
                         "--write-back"), 2, history, jsm)
    assert "incident.jql: Jira refused the restriction" in line and says in line
    assert tasks(jsm) == []


@pytest.mark.parametrize(("restriction", "says"), [
    ("priority = High ORDER BY created DESC", "ORDER BY is not allowed"),
    ("priority = High) OR (priority = Low", "a ')' without its '('"),
    ("priority in (High", "a '(' without its ')'"),
    ("priority = High AND " + "labels = x AND " * 150 + "labels = y",
     "at most 2000 characters"),
], ids=["order-by", "closes-the-parentheses", "unclosed-parenthesis", "too-long"])
def test_a_restriction_that_could_widen_or_reorder_is_refused_at_load(
        jsm: JiraSandbox, tmp_path: Path, restriction: str, says: str) -> None:
    """bad input: a field map `jql:` restriction with ORDER BY, a ')' escaping its
    parentheses, or over 2,000 characters; outcome: one line with the file and line, exit 2,
    nothing asked of the site's search, no scan stored."""
    sent = _sent(jsm)
    history = tmp_path / "h.sqlite"
    line = _refused(scan(jsm, history, "--config", str(_config(tmp_path, restriction, "change"))),
                    2, history, jsm)
    assert "jira_fieldmap.yaml:" in line and says in line and "change" in line
    assert sent == []


def test_quoted_parentheses_and_order_by_are_values(jsm: JiraSandbox, tmp_path: Path) -> None:
    """Parentheses and the words ORDER BY inside a quoted value are part of the value: the
    restriction loads and the site is asked (here: no such label, so no incident is read)."""
    restriction = 'labels = "x) ORDER BY (y"'
    sent = _sent(jsm)
    found = _scan_json(jsm, tmp_path, "quoted", "--config", str(_config(tmp_path, restriction)))
    assert any(q.endswith(f"AND ({restriction}) ORDER BY key ASC") for q in sent)
    assert not [f for f in found["findings"] if f["rule_id"].startswith("incident.")]


def test_data_center_asks_the_legacy_search(jsm: JiraSandbox, tmp_path: Path) -> None:
    """bad input: a malformed `jql:` restriction on Data Center (JIRA_DEPLOYMENT=datacenter);
    outcome: the legacy search is asked once, Jira's message, exit 2, no scan stored."""
    assert jsm.server is not None
    search = jsm.server.search
    asked: list[tuple[str, bool]] = []

    def recording(text: str, bounded: bool) -> Any:
        asked.append((text, bounded))
        return search(text, bounded)

    jsm.server.search = recording  # type: ignore[method-assign]
    history = tmp_path / "h.sqlite"
    config = _config(tmp_path, "priority = = High")
    line = _refused(run("scan", "--source", "jira", "--site", jsm.url, "--history", str(history),
                        "--config", str(config), JIRA_DEPLOYMENT="datacenter"), 2, history, jsm)
    assert "incident.jql: Jira refused the restriction" in line
    assert [bounded for _, bounded in asked] == [False]  # the legacy search bounds nothing


@pytest.mark.parametrize("restriction", [
    'labels = "a\\") OR (b"', "labels = 'it''s' OR labels = x", 'summary ~ "(("',
])
def test_escaped_and_single_quotes_keep_parentheses_in_values(restriction: str) -> None:
    """The check reads quoted values as Jira does (\\" inside "...", '...' too): parentheses in
    them do not count."""
    from sms_conformance.connectors.jira.jql import check_restriction

    assert check_restriction(restriction) == restriction
    with pytest.raises(ValueError, match="without its"):
        check_restriction(restriction + ")")


@pytest.mark.parametrize(("restriction", "why"), [
    ('component = a\\") OR (project = OTHER OR summary ~ \\"x', "backslash outside"),
    ('labels = \\"x', "backslash outside"),
])
def test_an_escaped_quote_outside_quotes_is_refused(restriction: str, why: str) -> None:
    """bad input: a restriction with \\" outside a quoted string (JQL reads it as a character,
    so the site sees the ')' the check took for quoted); outcome: refused (ValueError, shown
    with file:line when the field map loads)."""
    from sms_conformance.connectors.jira.jql import check_restriction

    with pytest.raises(ValueError, match=why):
        check_restriction(restriction)
