"""The Jira connector against recorded answers (vcrpy cassettes in tests/cassettes/jira/).

Two are recorded from this directory's fake site, one from the JSM sandbox
(sms_conformance.sandbox.jira, records=60, seed=42). Re-record with
`pytest tests/connectors/jira/test_cassettes.py --record-mode=rewrite`; against a real site, set
JIRA_SITE, JIRA_EMAIL and JIRA_API_TOKEN (the assertions on counts then need that site's data).
Authorization headers, e-mail addresses and the host are scrubbed before anything is written.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.base import FetchRequest, TaskDraft
from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.jira.auth import CloudAuth
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap
from sms_conformance.connectors.jira.tasks import JiraTasks
from sms_conformance.model.records import Process, Ref, Unknown
from tests.connectors.jira.conftest import populate
from tests.connectors.jira.fake import EMAIL, TOKEN, FakeJira
from tests.connectors.snow_fakes import StubServer

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes" / "jira"
REPLAY_URL = "http://127.0.0.1:9"  # nothing listens: every answer comes from the cassette
_HOST = re.compile(r"https?://[^/\s\"'>]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def _scrub(text: Any) -> Any:
    if not text:
        return text
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    raw = _EMAIL.sub("user@scrubbed.invalid", _HOST.sub("https://site.invalid", raw))
    return raw.encode() if isinstance(text, bytes) else raw


def _scrub_request(request: Any) -> Any:
    request.body = _scrub(request.body)
    request.uri = _HOST.sub("https://site.invalid", request.uri)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "cookie", "authorization"):
            del headers[name]
    body = response.get("body", {})
    if body.get("string"):
        body["string"] = _scrub(body["string"])
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "match_on": ["method", "path", "query", "body"],
        "filter_headers": ["authorization", "cookie", "set-cookie"],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)


@pytest.fixture
def target(record_mode: str) -> Iterator[tuple[str, str, str]]:
    if record_mode == "none":
        yield REPLAY_URL, EMAIL, "replayed"
        return
    if os.environ.get("JIRA_SITE"):
        yield os.environ["JIRA_SITE"], os.environ["JIRA_EMAIL"], os.environ["JIRA_API_TOKEN"]
        return
    fake = FakeJira()
    populate(fake)
    with StubServer(fake.handle) as server:
        yield server.url, EMAIL, TOKEN


def connector_for(target: tuple[str, str, str], fieldmap: JiraFieldMap, **kw: Any
                  ) -> JiraConnector:
    url, email, token = target
    client = JiraClient(url, CloudAuth(email, SecretStr(token)),
                        policy=RetryPolicy(budget=5, initial=0.001, maximum=0.001))
    return JiraConnector(url, client, fieldmap, **kw)


@pytest.mark.vcr
def test_scoped_scan_and_links_replayed(target: tuple[str, str, str], jira_map: JiraFieldMap,
                                        vcr: Any, record_mode: str) -> None:
    connector = connector_for(target, jira_map, page_size=2)
    records = list(connector.fetch(FetchRequest(
        Process.INCIDENT, ({"state": ("in_progress", "on_hold", "resolved", "closed")},),
        frozenset({"state", "impact", "problem"}))))
    assert [r.fields["state"] for r in records] == ["closed", "in_progress", "on_hold",
                                                    "resolved"]
    assert records[0].url == f"{connector.instance}/browse/{records[0].number}"
    problems = {v for r in records if isinstance(v := r.fields["problem"], Ref)}
    found = connector.resolve(problems, {"state"})
    assert {r.fields["state"] for r in found.values()} == {"root_cause_analysis"}
    counts = connector.count_referrers(Process.INCIDENT, "problem", [p.id for p in problems])
    assert list(counts.values()) == [2]
    paths = [(r.method, r.path) for r in vcr.requests]
    assert paths == [
        ("GET", "/rest/api/3/myself"), ("GET", "/rest/api/3/field"),
        ("GET", "/rest/api/3/status"), ("GET", "/rest/api/3/project/ITSM"),
    ] + [("POST", "/rest/api/3/search/jql")] * 2 + [("POST", "/rest/api/3/issue/bulkfetch")] * 2
    assert record_mode != "none" or vcr.all_played


@pytest.mark.vcr
def test_task_write_back_replayed(target: tuple[str, str, str], jira_map: JiraFieldMap,
                                  vcr: Any, record_mode: str) -> None:
    connector = connector_for(target, jira_map)
    tasks = JiraTasks(connector)
    fingerprint = hashlib.sha1(b"cassette").hexdigest()
    draft = TaskDraft(fingerprint, "incident", "record", "Record the cause",
                      "Problem rule failed.\nSee the report.", 3,
                      datetime(2026, 12, 1, tzinfo=timezone.utc))
    [task] = tasks.create_tasks([draft])
    assert (task.title, task.body, task.priority, task.open) == (
        draft.title, draft.body, 3, True)
    found = JiraTasks(connector).find_tasks("incident", [fingerprint])
    assert [t.id for t in found] == [task.id]
    tasks.close_task(found[0], "conforms now")
    assert JiraTasks(connector).open_tasks("incident") == []
    methods = [(r.method, re.sub(r"/[0-9]{3,}", "/N", r.path)) for r in vcr.requests]
    assert methods == [
        ("GET", "/rest/api/3/myself"),
        ("POST", "/rest/api/3/issue"), ("GET", "/rest/api/3/issue/N"),
        ("POST", "/rest/api/3/search/jql"),
        ("GET", "/rest/api/3/issue/N"), ("GET", "/rest/api/3/issue/N/transitions"),
        # the comment after the transition went through: one comment per close
        ("POST", "/rest/api/3/issue/N/transitions"), ("POST", "/rest/api/3/issue/N/comment"),
        ("POST", "/rest/api/3/search/jql"),
    ]


@pytest.fixture
def sandbox_target(record_mode: str) -> Iterator[tuple[str, str, str]]:
    if record_mode == "none":
        yield REPLAY_URL, EMAIL, "replayed"
        return
    from sms_conformance.sandbox.jira import JiraSandbox  # type: ignore[import-not-found]

    with JiraSandbox(records=60, seed=42) as sandbox:
        yield sandbox.url, sandbox.user, sandbox.password


@pytest.mark.vcr
def test_jsm_sandbox_scan_replayed(sandbox_target: tuple[str, str, str],
                                   jira_map: JiraFieldMap, vcr: Any, record_mode: str) -> None:
    """The JSM sandbox's records read through the test map: every state and impact known,
    links to problems found, referrers counted."""
    connector = connector_for(sandbox_target, jira_map)
    wanted = frozenset({"state", "impact", "priority", "opened_at", "problem", "description"})
    records = list(connector.fetch(FetchRequest(Process.INCIDENT, (), wanted)))
    assert len(records) == 60 and len({r.id for r in records}) == 60
    assert not [r for r in records for k in ("state", "impact", "priority", "opened_at")
                if isinstance(r.fields[k], Unknown)]
    assert all(r.fields["opened_at"].tzinfo is timezone.utc for r in records)  # type: ignore
    problems = {v for r in records if isinstance(v := r.fields["problem"], Ref)}
    found = connector.resolve(problems, {"state"})
    assert found and set(found) <= problems
    counts = connector.count_referrers(Process.INCIDENT, "problem", [r.id for r in found])
    linked = sum(1 for r in records if r.fields["problem"] in found)
    assert sum(counts.values()) >= linked > 0
    assert record_mode != "none" or vcr.all_played


def test_cassettes_hold_no_credentials() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text()
        assert "authorization" not in text.lower() and TOKEN not in text
        assert EMAIL not in text and "127.0.0.1" not in text
