"""The reader against real captures from the reference (samples/INDEX.md): ADF, wiki text,
issue links, timestamps with colon-less offsets, error bodies, transitions."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
import requests

from sms_conformance.connectors.jira.adf import document, flatten
from sms_conformance.connectors.jira.fieldmap import (
    FieldCatalog,
    JiraFieldMap,
    linked_issues,
)
from sms_conformance.connectors.jira.responses import JiraRequestError, decode, message
from sms_conformance.connectors.jira.tasks import _done_transition
from sms_conformance.connectors.jira.values import parse_timestamp
from sms_conformance.model.records import Process, Ref, Unknown
from tests.connectors.jira.conftest import SAMPLES


def load(name: str) -> Any:
    return orjson.loads((SAMPLES / name).read_bytes())


def answer(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, body
    response.headers["Content-Type"] = content_type
    response.reason = "Reason"
    return response


SAMPLE_MAP = JiraFieldMap.model_validate({
    "projects": ["INGSVC"],
    "processes": {"incident": {
        "issue_types": ["Story"], "states": {"Issue Closed": "closed"},
        "fields": {
            "description": {"field": "description"},
            "priority": {"field": "priority", "type": "int", "values": {"High": 2}},
            "opened_at": {"field": "created", "type": "datetime"},
            "updated_at": {"field": "updated", "type": "datetime"},
            "resolved_at": {"field": "resolutiondate", "type": "datetime"},
            "resolution_code": {"field": "resolution"},
            "assignee": {"field": "assignee", "type": "ref"},
            "reporter": {"field": "reporter", "type": "ref"},
            "problem": {"link": "Problem/Incident", "direction": "inward", "type": "ref"},
        }}},
})


def test_a_real_cloud_v3_issue_reads_as_canonical_values() -> None:
    issue = load("cloud-v3-issue-get-adf.json")
    binding = SAMPLE_MAP.bind(FieldCatalog.from_fields("x", []))[Process.INCIDENT]
    fields = binding.to_canonical(issue["fields"], None)
    assert fields["description"] == "More Details in the Epic"
    assert fields["state"] == "closed" and fields["priority"] == 2
    assert fields["resolution_code"] == "Done"
    assert fields["opened_at"] == datetime(2025, 2, 17, 17, 5, 31, 290000, tzinfo=timezone.utc)
    assert fields["updated_at"] == datetime(2025, 4, 15, 18, 6, 23, 544000, tzinfo=timezone.utc)
    assert fields["resolved_at"] == datetime(2025, 3, 28, 23, 17, 1, 144000, tzinfo=timezone.utc)
    assert fields["assignee"] is None  # null: empty
    reporter = fields["reporter"]
    assert isinstance(reporter, Ref) and reporter.id == issue["fields"]["reporter"]["accountId"]
    assert fields["problem"] is None  # no links
    assert "customfield_10000" not in fields


def test_comments_in_adf_flatten_too() -> None:
    issue = load("cloud-v3-issue-get-adf.json")
    body = issue["fields"]["comment"]["comments"][0]["body"]
    text = flatten(body)
    assert text and "{" not in text and "type" not in text


def test_issue_links_read_by_direction() -> None:
    """ITAPP-5040 has {Cloners, outwardIssue: ITAPP-5835}: ITAPP-5040 clones ITAPP-5835."""
    issue = load("dc-v2-issue-with-issuelinks-trimmed.json")
    links = issue["fields"]["issuelinks"]
    assert [x["key"] for x in linked_issues(links, "cloners", "outwardIssue")] == ["ITAPP-5835"]
    assert linked_issues(links, "cloners", "inwardIssue") == []
    assert linked_issues(links, "relates", "outwardIssue") == []
    assert parse_timestamp(issue["fields"]["updated"]) == datetime(
        2023, 7, 3, 23, 59, 10, 986000, tzinfo=timezone.utc)


def test_wiki_text_from_data_center_passes_through() -> None:
    issue = load("dc-v2-issue-get-teamsinspace.json")
    binding = SAMPLE_MAP.bind(FieldCatalog.from_fields("x", []))[Process.INCIDENT]
    fields = binding.to_canonical(issue["fields"], frozenset({"description", "state"}))
    assert fields["description"] == issue["fields"]["description"]
    assert isinstance(fields["state"], Unknown)  # "open" is not in this map's states


@pytest.mark.parametrize("text,expected", [
    ("2025-02-17T09:05:31.290-0800", datetime(2025, 2, 17, 17, 5, 31, 290000, tzinfo=timezone.utc)),
    ("2025-02-17T09:05:31.290+0530", datetime(2025, 2, 17, 3, 35, 31, 290000, tzinfo=timezone.utc)),
    ("2025-02-17T16:56:45.400Z", datetime(2025, 2, 17, 16, 56, 45, 400000, tzinfo=timezone.utc)),
    ("2025-02-17T09:05:31+01:00", datetime(2025, 2, 17, 8, 5, 31, tzinfo=timezone.utc)),
    ("2025-02-17", datetime(2025, 2, 17, tzinfo=timezone.utc)),
])
def test_timestamps_with_offsets_become_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["2025-02-17T09:05:31.290", "yesterday", "2025-13-45T00:00:00Z"])
def test_unreadable_or_zoneless_timestamps_are_unknown(text: str) -> None:
    assert isinstance(parse_timestamp(text), Unknown)


@pytest.mark.parametrize("name,status,expected", [
    ("error-400-bad-jql-operator.json", 400, "Expecting operator but got '&'"),
    ("error-400-create-unknown-project.json", 400, "The value 'FACILITIES' does not exist"),
    ("cloud-error-400-bad-jql.json", 400, "'SET' is a reserved JQL word"),
])
def test_error_bodies_give_their_message(name: str, status: int, expected: str) -> None:
    with pytest.raises(JiraRequestError) as caught:
        decode("POST", "https://x/rest/api/3/search/jql", answer(status, (SAMPLES / name).read_bytes()))
    assert expected in caught.value.detail and caught.value.status == status


def test_a_404_is_none_and_its_text_is_readable() -> None:
    body = (SAMPLES / "error-404-issue.json").read_bytes()
    assert decode("GET", "https://x/rest/api/3/issue/1", answer(404, body)) is None
    assert message(answer(404, body)) == "Issue does not exist or you do not have permission to see it."


def test_the_done_transition_is_chosen_by_status_category() -> None:
    real = load("dc-v2-transitions-get-teamsinspace.json")
    assert _done_transition(real, None) is None  # only "Start Progress" (indeterminate) there
    spec = load("spec-transitions-get-200.json")
    done = [t["id"] for t in spec["transitions"]
            if t["to"].get("statusCategory", {}).get("key") == "done"]
    assert _done_transition(spec, None) == (done[0] if done else None)
    assert _done_transition(real, "start progress") == "11"


@pytest.mark.parametrize("text", ["", "one line", "a\n\nb", "trailing\n", "\nleading",
                                  "tabs\tand \"quotes\" and \\ back"])
def test_plain_text_written_as_adf_flattens_back_identically(text: str) -> None:
    assert flatten(document(text)) == text
