"""The configuration-item rules (clause 8.2.6) where the CIs cannot be read: unknown with the
reason, never a failure, and no task written on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.servicenow import Sandbox
from tests.test_jira_e2e import ENV, PASSWORD
from tests.test_service_levels import jira_scan, servicenow_scan
from tests.test_service_requests import doctor_before_and_after_forbidding

CI_RULES = {"incident.ci.exists", "incident.ci.not_retired", "incident.ci.support_group"}


def ci_lines(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["rule_id"]: line for line in report["summary"]["rules"]
            if line["rule_id"] in CI_RULES}


def assert_unknown_not_failed(report: dict[str, Any], reason: str) -> None:
    lines = ci_lines(report)
    assert set(lines) == CI_RULES
    assert all(line["failed"] == 0 and line["unknown"] > line["passed"]
               for line in lines.values()), lines
    details = {f["detail"] for f in report["findings"] if f["status"] == "unknown"}
    assert details and all(reason in d for d in details), details


def test_cmdb_ci_forbidden_makes_the_ci_rules_unknown_and_writes_no_task(tmp_path: Path) -> None:
    """fault: the integration user may not read cmdb_ci (403); outcome: the CI rules fail
    nothing, unknown with the reason naming cmdb_ci wherever a CI decides, and a write-back run
    writes no task for them."""
    with Sandbox(records=150, seed=2) as box:
        box.store.forbidden.add("cmdb_ci")
        report = servicenow_scan(box, tmp_path, "--only", "incident.ci.*", "--write-back")
        tasks = box.store.tables["incident_task"].rows
    assert_unknown_not_failed(report, "Not authorized to read cmdb_ci")
    assert tasks == []


def test_the_ci_rules_fail_records_on_a_readable_cmdb(tmp_path: Path) -> None:
    """The same scan with cmdb_ci readable fails the planted CI defects (so the test above
    cannot pass on a data set without any)."""
    with Sandbox(records=150, seed=2) as box:
        report = servicenow_scan(box, tmp_path, "--only", "incident.ci.*")
    lines = ci_lines(report)
    assert sum(line["failed"] for line in lines.values()) > 0, lines


@pytest.mark.parametrize("exposure", ["off", "forbidden"])
def test_a_site_without_or_refusing_assets_leaves_the_ci_rules_unknown(
        exposure: str, tmp_path: Path) -> None:
    """fault: the JSM site has no Assets (404), or refuses them to the user (403); outcome: the
    CI rules fail nothing, unknown with the reason, and write-back writes no task."""
    with JiraSandbox(records=120, seed=2, password=PASSWORD, assets=exposure) as jsm:
        before = sum(1 for i in jsm.store.issues.values() if i.is_task)
        report = jira_scan(jsm, tmp_path, "--only", "incident.ci.*", "--write-back")
        after = sum(1 for i in jsm.store.issues.values() if i.is_task)
    assert_unknown_not_failed(report, "configuration_item")
    assert after == before


def test_doctor_checks_read_access_to_the_cis_on_servicenow() -> None:
    """fault: cmdb_ci forbidden (403) to the integration user; outcome: doctor fails that table
    with the fix (read access) where the CI rules run, checks the fields their `where` reads,
    and does not check cmdb_ci without CI rules."""
    readable, forbidden, others = doctor_before_and_after_forbidding(
        "cmdb_ci", "incident.ci.*", "incident.priority.*")
    assert "ok    cmdb_ci: readable" in readable, readable
    assert "cmdb_ci: unknown field" not in readable, readable
    assert "FAIL  cmdb_ci: no read access" in forbidden, forbidden
    assert "grant the integration user a role that reads cmdb_ci" in forbidden
    assert "cmdb_ci" not in others, others


@pytest.mark.parametrize(("exposure", "said"), [
    ("on", "ok    Assets workspace"),
    ("off", "does not expose Assets"),
    ("forbidden", "no permission to read Assets")])
def test_doctor_says_whether_the_site_s_assets_can_be_read(exposure: str, said: str) -> None:
    """fault: the JSM site has no Assets (404) or refuses them (403); outcome: doctor warns
    that the CI rules it names will be unknown, with the fix; a site with Assets is ok."""
    with JiraSandbox(records=40, seed=2, password=PASSWORD, assets=exposure) as jsm:
        result = CliRunner(env=ENV).invoke(cli, [
            "doctor", "--source", "jira", "--site", jsm.url, "--only", "incident.ci.*"])
        without = CliRunner(env=ENV).invoke(cli, [
            "doctor", "--source", "jira", "--site", jsm.url, "--only", "incident.priority.*"])
    assert said in result.output, result.output
    if exposure != "on":
        assert "incident.ci.exists" in result.output and "will be unknown" in result.output
    assert "Assets" not in without.output, without.output
