"""Connector tests replaying cassettes recorded from the sandbox (no server needed in CI).

Re-record from the sandbox: pytest tests/connectors/servicenow/test_cassettes.py --record-mode=rewrite
Re-record from a developer instance: set SERVICENOW_INSTANCE, SERVICENOW_USERNAME and
SERVICENOW_PASSWORD (and SERVICENOW_CLIENT_ID / SERVICENOW_CLIENT_SECRET for the OAuth cassette)
as well. Credentials, cookies, tokens and the host are scrubbed before anything is written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.servicenow.auth import BasicAuth, OAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.fieldmap import FieldMap
from sms_conformance.model.records import Process, Ref

REPLAY_URL = "http://127.0.0.1:9"  # nothing listens: every answer comes from the cassette
CLIENT_ID, CLIENT_SECRET = "sms-conformance-sandbox", "sandbox-client-secret"


class Target:
    def __init__(self, url: str, password: str, username: str = "admin") -> None:
        self.url = url
        self.password = password
        self.username = username


@pytest.fixture
def target(record_mode: str) -> Iterator[Target]:
    if record_mode == "none":
        yield Target(REPLAY_URL, "replayed")
        return
    if os.environ.get("SERVICENOW_INSTANCE"):
        yield Target(os.environ["SERVICENOW_INSTANCE"], os.environ["SERVICENOW_PASSWORD"],
                     os.environ["SERVICENOW_USERNAME"])
        return
    from sms_conformance.sandbox.servicenow import Sandbox

    with Sandbox(records=60, seed=42, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sb:
        yield Target(sb.url, sb.password)


def connector_for(target: Target, fieldmap: FieldMap, auth: object = None, **kw: int
                  ) -> ServiceNowConnector:
    client = TableClient(
        target.url, auth or BasicAuth(target.username, SecretStr(target.password)),  # type: ignore
        policy=RetryPolicy(budget=5, initial=0.001, maximum=0.001),
    )
    return ServiceNowConnector(target.url, client, fieldmap, **kw)


def sent(cassette: object) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (r.method, urlsplit(r.uri).path, dict(parse_qsl(urlsplit(r.uri).query)))
        for r in cassette.requests  # type: ignore[attr-defined]
    ]


@pytest.mark.vcr
def test_scoped_scan_replayed(
    target: Target, fieldmap: FieldMap, vcr: object, record_mode: str
) -> None:
    connector = connector_for(target, fieldmap, page_size=5)
    request = FetchRequest(
        Process.INCIDENT, ({"state": ("resolved", "closed")},),
        frozenset({"state", "priority", "resolution_notes", "problem"}),
    )
    records = list(connector.fetch(request))
    assert len(records) == 39
    assert [r.id for r in records] == sorted(r.id for r in records)
    assert {r.fields["state"] for r in records} == {"resolved", "closed"}
    first = records[0]
    assert (first.number, first.fields["priority"]) == ("INC0010008", 3)
    assert first.url == f"{target.url}/nav_to.do?uri=incident.do?sys_id={first.id}"
    assert set(first.fields) == {"state", "priority", "resolution_notes", "problem"}
    assert all(p is None or isinstance(p, Ref) for p in (r.fields["problem"] for r in records))
    calls = sent(vcr)
    # 7 full pages and a short one holding the last of the 39 counted rows: no closing page
    assert [c[:2] for c in calls] == [("GET", "/api/now/table/incident")] * 8
    assert calls[0][2] == {
        "sysparm_query": "stateIN6,7^ORDERBYsys_id",
        "sysparm_fields": "close_notes,number,priority,problem_id,state,sys_id",
        "sysparm_limit": "5",
        "sysparm_exclude_reference_link": "true",
        "sysparm_display_value": "false",
    }
    assert calls[1][2]["sysparm_query"] == f"stateIN6,7^sys_id>{records[4].id}^ORDERBYsys_id"
    assert calls[7][2]["sysparm_query"] == f"stateIN6,7^sys_id>{records[-5].id}^ORDERBYsys_id"
    assert connector.expected_total(Process.INCIDENT) == 39
    assert record_mode != "none" or vcr.all_played  # type: ignore[attr-defined]


@pytest.mark.vcr
def test_resolve_replayed(target: Target, fieldmap: FieldMap, vcr: object) -> None:
    connector = connector_for(target, fieldmap, ref_batch=10)
    incidents = list(connector.fetch(FetchRequest(
        Process.INCIDENT, (), frozenset({"problem", "configuration_item"}))))
    refs = {v for r in incidents for v in r.fields.values() if isinstance(v, Ref)}
    by_table = {t: sum(1 for r in refs if r.kind == t) for t in {r.kind for r in refs}}
    before = connector.request_count
    found = connector.resolve(refs)
    assert connector.request_count - before == sum(math.ceil(n / 10) for n in by_table.values())
    assert set(found) == refs
    problems = [r for r in found.values() if r.table == "problem"]
    assert problems and all(p.process == "problem" and p.number.startswith("PRB")
                            for p in problems)
    assert all(r.fields == {} for r in found.values() if r.table == "cmdb_ci")
    queries = [c[2]["sysparm_query"] for c in sent(vcr)[-(connector.request_count - before):]]
    assert all(q.startswith("sys_idIN") and q.count(",") < 10 for q in queries)


@pytest.mark.vcr
def test_oauth_password_grant_replayed(target: Target, fieldmap: FieldMap, vcr: object) -> None:
    auth = OAuth(f"{target.url}/oauth_token.do", CLIENT_ID, SecretStr(CLIENT_SECRET), "password",
                 username=target.username, password=SecretStr(target.password))
    connector = connector_for(target, fieldmap, auth=auth)
    problems = list(connector.fetch(FetchRequest(Process.PROBLEM, (), frozenset({"state"}))))
    assert len(problems) == 9 and auth.token_requests == 1
    token_call = vcr.requests[0]  # type: ignore[attr-defined]
    assert urlsplit(token_call.uri).path == "/oauth_token.do"
    form = dict(parse_qsl(token_call.body.decode() if isinstance(token_call.body, bytes)
                          else token_call.body))
    assert form["grant_type"] == "password" and form["password"] == "**scrubbed**"
    assert "Authorization" not in vcr.requests[1].headers  # type: ignore[attr-defined]


@pytest.mark.vcr
def test_task_write_back_replayed(target: Target, fieldmap: FieldMap, vcr: object) -> None:
    connector = connector_for(target, fieldmap)
    task = connector.create_task("problem_task", {
        "correlation_id": "fp-cassette-1", "short_description": "Record the root cause",
    })
    assert task.fingerprint == "fp-cassette-1" and task.number.startswith("PTASK") and task.open
    found = connector.find_tasks("problem_task", ["fp-cassette-1", "fp-absent"])
    assert [(t.fingerprint, t.id, t.open) for t in found] == [("fp-cassette-1", task.id, True)]
    closed = connector.close_task("problem_task", task.id, "conforms now")
    assert closed.fields["state"] == "157"
    methods = [(c[0], c[1].rsplit("/", 1)[0] if c[0] == "PATCH" else c[1]) for c in sent(vcr)]
    assert methods == [
        ("POST", "/api/now/table/problem_task"),
        ("GET", "/api/now/table/problem_task"),  # one page: X-Total-Count says it is all
        ("PATCH", "/api/now/table/problem_task"),
    ]
