"""How a Jira site's refusals and failures reach the user: one line, the right exit code."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.jira.auth import CloudAuth, TokenAuth
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.fieldmap import load_jira_field_map
from sms_conformance.model.errors import AuthError, ConfigError, SourceError
from sms_conformance.model.records import Process, Unknown
from tests.connectors.jira.conftest import FIELDMAP, SAMPLES
from tests.connectors.jira.fake import EMAIL, FakeJira
from tests.connectors.snow_fakes import Resp, StubServer

Site = tuple[FakeJira, StubServer, dict[str, dict[str, Any]]]


def read(connector: JiraConnector) -> list[Any]:
    return list(connector.fetch(FetchRequest(Process.INCIDENT, (), frozenset({"state"}))))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_a_bad_cloud_token_is_a_clear_auth_error(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """bad input: a wrong JIRA_API_TOKEN; outcome: exit 3 naming the user, the site, Cloud's
    message and what to check; the token appears nowhere."""
    _, server, _ = site
    connector = make_jira(server.url, CloudAuth(EMAIL, SecretStr("wrong-token-123")))
    with pytest.raises(AuthError) as caught:
        read(connector)
    text = str(caught.value)
    assert caught.value.exit_code == 3
    assert f"authentication failed for user {EMAIL} at {server.url}" in text
    assert "Client must be authenticated" in text and "JIRA_API_TOKEN" in text
    assert "wrong-token-123" not in text and "wrong-token-123" not in repr(connector.client)
    assert len(server.requests) == 1  # not retried


def test_a_bad_data_center_token_reads_the_html_page_and_login_reason(
    dc_site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    _, server, _ = dc_site
    connector = make_jira(server.url, TokenAuth(SecretStr("stale")), deployment="datacenter")
    with pytest.raises(AuthError, match=r"Unauthorized \(401\).*AUTHENTICATED_FAILED.*JIRA_PAT"):
        read(connector)


@pytest.mark.parametrize("body,content_type,expected", [
    (sample("cloud-error-401.json"), "application/json", "Client must be authenticated"),
    (b"Basic authentication with passwords is deprecated.", "text/plain",
     "passwords is deprecated"),
])
def test_cloud_401_shapes(site: Site, make_jira: Callable[..., JiraConnector], body: bytes,
                          content_type: str, expected: str) -> None:
    fake, server, _ = site
    fake.faults.append(("/rest/api/3/myself", Resp(401, body, {"Content-Type": content_type})))
    with pytest.raises(AuthError, match=expected):
        read(make_jira(server.url))


def test_credentials_served_as_anonymous_are_refused(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: a site answers GET myself without a user (bad credentials served as anonymous);
    outcome: AuthError before anything is read."""
    fake, server, _ = site
    fake.faults.append(("/rest/api/3/myself", Resp(200, {"displayName": "Anonymous"})))
    with pytest.raises(AuthError, match="anonymous"):
        read(make_jira(server.url))
    assert [r.path for r in server.requests] == ["/rest/api/3/myself"]


def test_a_site_that_is_not_jira(make_jira: Callable[..., JiraConnector]) -> None:
    """bad input: a site URL that is not a Jira site (404 everywhere); outcome: exit 3 saying
    to check the URL."""
    with StubServer(lambda req: Resp(404, b"")) as server, \
            pytest.raises(SourceError, match="no Jira REST API.*check the site URL"):
        read(make_jira(server.url))


def test_rejected_jql_names_jiras_reason(site: Site, make_jira: Callable[..., JiraConnector]
                                         ) -> None:
    """bad input: JQL the site refuses (a real Cloud 400 body); outcome: exit 2 with Jira's
    errorMessages text and the query."""
    fake, server, _ = site
    fake.faults.append(("/rest/api/3/search/jql", Resp(400, sample("cloud-error-400-bad-jql.json"),
                                                       {"Content-Type": "application/json"})))
    with pytest.raises(ConfigError, match="'SET' is a reserved JQL word") as caught:
        read(make_jira(server.url))
    assert caught.value.exit_code == 2 and "project in (ITSM)" in str(caught.value)


def test_an_unknown_custom_field_name_is_unknown_with_a_notice(
    site: Site, make_jira: Callable[..., JiraConnector], tmp_path: Path
) -> None:
    """bad input: a field map naming a custom field the site does not have; outcome: the
    issues are read, that field is unknown with the reason, and a notice names it."""
    _, server, _ = site
    override = tmp_path / "jira_fieldmap.yaml"
    override.write_text("processes:\n  incident:\n    fields:\n"
                        "      impact: {name: Impactt, type: int}\n")
    connector = make_jira(server.url, fieldmap=load_jira_field_map(FIELDMAP, override))
    records = list(connector.fetch(FetchRequest(Process.INCIDENT, (), frozenset({"impact"}))))
    assert records
    impact = records[0].fields["impact"]
    assert isinstance(impact, Unknown) and "no field named 'Impactt'" in impact.reason
    assert any("incident.impact: no field named 'Impactt'" in n for n in connector.notices)


def test_candidate_names_take_the_first_the_site_has(
    site: Site, make_jira: Callable[..., JiraConnector], tmp_path: Path
) -> None:
    """`name: [Impactt, Impact]`: the site lacks the first, so the second is read; a field
    declared absent (`field: null`) is unknown saying so."""
    _, server, _ = site
    override = tmp_path / "jira_fieldmap.yaml"
    override.write_text("processes:\n  incident:\n    fields:\n"
                        "      impact: {name: [Impactt, Impact], type: int}\n"
                        "      urgency: {field: null}\n")
    connector = make_jira(server.url, fieldmap=load_jira_field_map(FIELDMAP, override))
    wanted = frozenset({"impact", "urgency"})
    records = list(connector.fetch(FetchRequest(Process.INCIDENT, (), wanted)))
    assert any(isinstance(r.fields["impact"], int) for r in records)
    urgency = records[0].fields["urgency"]
    assert isinstance(urgency, Unknown) and "declared absent" in urgency.reason
    assert not any("Impact" in n for n in connector.notices)


def test_a_pinned_field_id_needs_no_name(site: Site, make_jira: Callable[..., JiraConnector],
                                         tmp_path: Path) -> None:
    _, server, _ = site
    override = tmp_path / "jira_fieldmap.yaml"
    override.write_text("processes:\n  incident:\n    fields:\n"
                        "      impact: {id: customfield_10101, values: {Critical: 1}}\n")
    fieldmap = load_jira_field_map(FIELDMAP, override)
    spec = fieldmap.for_process("incident").fields["impact"]
    assert (spec.id, spec.name, spec.type) == ("customfield_10101", None, "int")
    records = list(make_jira(server.url, fieldmap=fieldmap).fetch(
        FetchRequest(Process.INCIDENT, (), frozenset({"impact"}))))
    assert sorted(str(r.fields["impact"]) for r in records) == ["1"] + ["None"] * 5


def test_429_with_retry_after_zero_and_an_html_body_waits_a_minimum(
    site: Site, make_jira: Callable[..., JiraConnector], sleeps: list[float]
) -> None:
    """fault: 429 with `Retry-After: 0` and a Tomcat HTML body, then 503; outcome: retried
    after at least a second, then read completely."""
    fake, server, _ = site
    html = b"<html><head><title>HTTP Status 429 - Too Many Requests</title></head></html>"
    fake.faults += [
        ("/rest/api/3/search/jql", Resp(429, html, {"Content-Type": "text/html",
                                                    "Retry-After": "0"})),
        ("/rest/api/3/search/jql", Resp(503, b"", {"Retry-After": "7"})),
    ]
    assert len(read(make_jira(server.url))) == 6
    assert sleeps[:2] == [1.0, 7.0]


def test_retries_end_within_the_budget(site: Site, make_jira: Callable[..., JiraConnector]
                                       ) -> None:
    """fault: a site answering 502 to every search; outcome: SourceError once the retry budget
    is spent."""
    fake, server, _ = site
    fake.faults += [("/rest/api/3/search/jql", Resp(502, b"bad gateway"))] * 200
    # tenacity measures the budget on the real clock: sleep for real, briefly
    options = {"policy": RetryPolicy(budget=0.3, initial=0.02, maximum=0.05),
               "sleep": time.sleep, "clock": time.monotonic}
    with pytest.raises(SourceError, match=r"gave up after \d+ attempts.*502"):
        read(make_jira(server.url, client_kw=options))
    assert len(server.requests) < 40


def test_a_config_value_cannot_widen_the_query(
    site: Site, make_jira: Callable[..., JiraConnector], tmp_path: Path
) -> None:
    """bad input: an option text in config crafted to close the quote and OR everything in;
    outcome: it stays one quoted value and selects nothing more."""
    fake, server, _ = site
    hostile = 'X" OR project is not EMPTY OR "'
    override = tmp_path / "jira_fieldmap.yaml"
    values = {"processes": {"incident": {"fields": {"impact": {"values": {hostile: 9}}}}}}
    override.write_text(orjson.dumps(values).decode())
    connector = make_jira(server.url, fieldmap=load_jira_field_map(FIELDMAP, override))
    records = list(connector.fetch(FetchRequest(
        Process.INCIDENT, ({"impact": (9,)},), frozenset({"state"}))))
    assert records == []
    assert r'cf[10100] in ("X\" OR project is not EMPTY OR \"")' in fake.searches[-1]


def test_project_keys_are_validated(tmp_path: Path) -> None:
    """bad input: a project key that is not [A-Z][A-Z0-9_]+; outcome: exit 2 at load."""
    override = tmp_path / "jira_fieldmap.yaml"
    override.write_text('projects: ["ITSM) OR (project = X"]\n')
    with pytest.raises(ConfigError, match="projects"):
        load_jira_field_map(FIELDMAP, override)
