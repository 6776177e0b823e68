"""doctor for Jira, and building the connector from the environment."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.jira.auth import CloudAuth
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.doctor import diagnose
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap, load_jira_field_map
from sms_conformance.connectors.jira.settings import connector_from_env
from sms_conformance.model.errors import ConfigError
from sms_conformance.support.limits import Limits
from tests.connectors.jira.conftest import FIELDMAP
from tests.connectors.jira.fake import CF, EMAIL, TOKEN, FakeJira
from tests.connectors.snow_fakes import StubServer

Site = tuple[FakeJira, StubServer, dict[str, dict[str, Any]]]
RULE_FIELDS = {"incident": {"state", "impact", "assignment_group", "problem"},
               "problem": {"state", "root_cause"}}


def levels(findings: list[Any]) -> list[tuple[str, str]]:
    return [(f.level, f.message) for f in findings]


def test_a_healthy_site(site: Site, make_jira: Callable[..., JiraConnector]) -> None:
    _, server, _ = site
    findings = diagnose(make_jira(server.url), RULE_FIELDS)
    assert [f.level for f in findings] == ["ok"] * len(findings), levels(findings)
    text = " | ".join(f.message for f in findings)
    assert f"as {EMAIL} (Cloud, REST v3)" in text and "project ITSM" in text
    assert "done status Done" in text and "custom fields found by name" in text
    assert "link types Causes, Fixes, Parent/Child, Problem/Incident, Relates present" in text


def test_bad_credentials_stop_the_checks(site: Site, make_jira: Callable[..., JiraConnector]
                                         ) -> None:
    _, server, _ = site
    findings = diagnose(make_jira(server.url, CloudAuth(EMAIL, SecretStr("nope"))), RULE_FIELDS)
    assert len(findings) == 1 and findings[0].level == "fail"
    assert "authentication refused" in findings[0].message and "nope" not in findings[0].message


def test_missing_custom_fields_are_listed(site: Site, make_jira: Callable[..., JiraConnector],
                                          tmp_path: Path) -> None:
    _, server, _ = site
    override = tmp_path / "map.yaml"
    override.write_text("processes:\n  incident:\n    fields:\n"
                        "      impact: {name: Impakt, type: int}\n      category: {name: Kategorie}\n")
    connector = make_jira(server.url, fieldmap=load_jira_field_map(FIELDMAP, override))
    findings = diagnose(connector, RULE_FIELDS,
                        readers={("incident", "impact"): ["incident.priority.matrix"]})
    assert not [f for f in findings if f.level == "fail"]  # a scan goes on: no stop here either
    warned = [f.message for f in findings if f.level == "warn"]
    assert any("incident.impact: no field named 'Impakt'" in m
               and m.endswith("unknown results for incident.priority.matrix") for m in warned)
    assert any("incident.category: no field named 'Kategorie'" in m for m in warned)


def test_a_field_never_returned_is_reported_hidden(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    for issue in fake.issues.values():
        issue["fields"].pop(CF["Assignment group"])
    [failed] = [f for f in diagnose(make_jira(server.url), RULE_FIELDS) if f.level == "fail"]
    assert failed.message.startswith(f"incident: field(s) {CF['Assignment group']} "
                                     "(assignment_group) never returned")


def test_missing_link_types_and_issue_types(site: Site, make_jira: Callable[..., JiraConnector],
                                            jira_map: JiraFieldMap) -> None:
    _, server, _ = site
    data = jira_map.model_dump()
    data["processes"]["change"]["issue_types"] = ("Normal change",)
    data["processes"]["problem"]["fields"]["fixed_by_change"]["link"] = "Solves"
    connector = make_jira(server.url, fieldmap=JiraFieldMap.model_validate(data))
    findings = levels(diagnose(connector, RULE_FIELDS))
    assert ("warn", "project ITSM: no change issue type (Normal change): a scan skips change "
            "(its rules have no evidence)") in findings
    assert ("fail", "link type(s) Solves not on the site") in findings


ENV = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}


def test_connector_from_env(jira_map: JiraFieldMap) -> None:
    connector = connector_from_env("https://acme.atlassian.net/", jira_map, ENV,
                                   Limits(max_pages=7))
    assert connector.instance == "https://acme.atlassian.net" and connector.max_pages == 7
    assert TOKEN not in repr(connector.client) and connector.deployment == "auto"
    dc = connector_from_env(None, jira_map, {"JIRA_SITE": "https://jira.example.org",
                                             "JIRA_PAT": "p"})
    assert (dc.deployment, dc.api, dc.legacy_search) == ("datacenter", "2", True)


@pytest.mark.parametrize("site,env,problem", [
    (None, ENV, "no Jira site"),
    ("https://acme.atlassian.net", {}, "credentials missing"),
    ("https://acme.atlassian.net", {"JIRA_EMAIL": EMAIL}, "set JIRA_API_TOKEN too"),
    ("https://acme.atlassian.net", {**ENV, "JIRA_PAT": "x"}, "not both"),
    ("acme.atlassian.net", ENV, "must be a URL"),
    ("https://me:pw@acme.atlassian.net", ENV, "not in the site URL"),
    ("https://acme.atlassian.net", {**ENV, "JIRA_DEPLOYMENT": "server"}, "auto, cloud or"),
])
def test_bad_settings_are_config_errors(jira_map: JiraFieldMap, site: str | None,
                                        env: dict[str, str], problem: str) -> None:
    """bad input: a missing or malformed site, missing or conflicting credentials; outcome:
    exit 2 with what to set, before any request."""
    with pytest.raises(ConfigError, match=problem) as caught:
        connector_from_env(site, jira_map, env)
    assert caught.value.exit_code == 2 and TOKEN not in str(caught.value)


def test_the_map_says_what_it_fills(jira_map: JiraFieldMap) -> None:
    assert jira_map.platform == "jira"
    assert jira_map.maps("incident", "impact") and jira_map.maps("incident", "state")
    assert not jira_map.maps("incident", "vendor_reference")
    assert "vendor_reference not mapped for incident" in jira_map.off_reason(
        "incident", ["vendor_reference"])
