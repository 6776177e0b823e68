"""Commands on Jira speak Jira's terms (issue 19, point 3): doctor, scan, sample, tasks list and
trace, run against the JSM sandbox, name issues, keys, projects and accountIds, never
ServiceNow's sys_ids, tables or --source servicenow."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox

PASSWORD = "jira-wording-token"
ENV = {"JIRA_EMAIL": "admin@example.com", "JIRA_API_TOKEN": PASSWORD}
AS_OF = "2026-11-01"
# What only ServiceNow says: its ids, its tables, its source and its variables.
SERVICENOW_ONLY = re.compile(r"sys_id|task table|Table API|--source servicenow|SERVICENOW_|"
                             r"\bservicenow\b|\bINC[0-9]{7}\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=120, seed=4, password=PASSWORD) as box:
        yield box


@pytest.fixture(scope="module")
def scanned(jsm: JiraSandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history store holding one full scan of the sandbox, with its tasks written."""
    where = tmp_path_factory.mktemp("wording")
    result = run("scan", "--source", "jira", "--site", jsm.url, "--history",
                 str(where / "h.sqlite"), "--as-of", AS_OF, "--full", "--write-back",
                 "--max-new-tasks", "5000", "--format", "json", "--output",
                 str(where / "report.json"))
    assert result.exit_code == 0, result.output
    assert not SERVICENOW_ONLY.search(result.stderr), result.stderr
    return where


def run(*args: str) -> Result:
    return CliRunner(env=ENV).invoke(cli, list(args))


def jira_terms(result: Result) -> str:
    """The whole output (stdout and stderr), checked for ServiceNow-only words."""
    text = result.stdout + result.stderr
    found = SERVICENOW_ONLY.findall(text)
    assert not found, f"ServiceNow's terms {sorted(set(found))} in:\n{text}"
    return text


def test_doctor_on_jira_speaks_of_projects_and_issue_types(jsm: JiraSandbox) -> None:
    result = run("doctor", "--source", "jira", "--site", jsm.url)
    assert result.exit_code == 0, result.output
    text = jira_terms(result)
    assert "project ITSM" in text and "issue type" in text


def test_sandbox_options_on_jira_name_the_jira_source(jsm: JiraSandbox, tmp_path: Path) -> None:
    """bad input: --records (a sandbox option) given to a Jira scan; outcome: a warning that it
    is ignored for --source jira, not for --source servicenow"""
    result = run("scan", "--source", "jira", "--site", jsm.url, "--history",
                 str(tmp_path / "h.sqlite"), "--as-of", AS_OF, "--records", "50", "--format",
                 "json", "--output", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    assert "ignored for --source jira" in jira_terms(result)


def test_sandbox_options_with_a_jira_profile_name_the_profile(jsm: JiraSandbox,
                                                              tmp_path: Path) -> None:
    """bad input: --seed given with a profile that connects to Jira; outcome: the warning names
    the profile, never --source servicenow"""
    config = tmp_path / "config"
    config.mkdir()
    (config / "profiles.yaml").write_text(yaml.safe_dump(
        {"profiles": {"jsm": {"source": "jira", "site": jsm.url}}}))
    result = run("scan", "--profile", "jsm", "--config", str(config), "--history",
                 str(tmp_path / "h.sqlite"), "--as-of", AS_OF, "--seed", "3", "--format",
                 "json", "--output", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    assert "ignored for --profile jsm" in jira_terms(result)


def test_sample_on_a_jira_scan_names_issue_keys_and_services(scanned: Path) -> None:
    result = run("sample", "--history", str(scanned / "h.sqlite"), "--size", "12", "--seed",
                 "1", "--by", "service")
    assert result.exit_code == 0, result.output
    text = jira_terms(result)
    assert re.search(r"^ITSM-[0-9]+ ", text, re.MULTILINE)


@pytest.mark.parametrize("listing", ["stored", "live"])
def test_tasks_list_on_jira_names_keys_projects_and_owners(jsm: JiraSandbox, scanned: Path,
                                                          listing: str) -> None:
    where = ("--stored",) if listing == "stored" else ("--site", jsm.url)
    result = run("tasks", "list", "--source", "jira", "--history", str(scanned / "h.sqlite"),
                 *where)
    assert result.exit_code == 0, result.output
    text = jira_terms(result)
    assert re.search(r"^  ITSM-[0-9]+ ", text, re.MULTILINE)
    if listing == "stored":
        assert "--site, --profile or JIRA_SITE" in text


def test_tasks_list_overdue_without_a_site_asks_for_a_jira_site(scanned: Path) -> None:
    """bad input: tasks list --overdue on Jira with no site given; outcome: exit 2 asking for
    --site or JIRA_SITE, in Jira's terms"""
    result = CliRunner(env={**ENV, "JIRA_SITE": ""}).invoke(cli, [
        "tasks", "list", "--source", "jira", "--overdue", "--history",
        str(scanned / "h.sqlite")])
    assert result.exit_code == 2, result.output
    assert "JIRA_SITE" in jira_terms(result)


def test_trace_on_jira_follows_issues_by_key(jsm: JiraSandbox, scanned: Path) -> None:
    findings = json.loads((scanned / "report.json").read_text())["findings"]
    key = next(f["number"] for f in findings if f["process"] == "incident")
    result = run("trace", key, "--source", "jira", "--site", jsm.url, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert f"incident {key}" in jira_terms(result)


def test_trace_of_an_unknown_key_on_jira_names_the_key(jsm: JiraSandbox) -> None:
    """bad input: trace of an issue key the site does not have; outcome: an error naming the
    key (no ServiceNow number or table), exit 2"""
    result = run("trace", "ITSM-999999", "--source", "jira", "--site", jsm.url)
    assert result.exit_code == 2, result.output
    assert "ITSM-999999" in jira_terms(result)
