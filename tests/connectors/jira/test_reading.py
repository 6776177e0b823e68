"""Reading a Jira site: canonical records, paging, scopes pushed down to JQL, incremental
windows, linked issues and referrer counts."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from sms_conformance.connectors.base import FetchRequest, NotRead
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.model.records import Process, Ref, Unknown
from tests.connectors.jira.fake import FakeJira
from tests.connectors.snow_fakes import Resp, StubServer

Site = tuple[FakeJira, StubServer, dict[str, dict[str, Any]]]
EVERY = frozenset({
    "number", "hold_reason", "state", "short_description", "description", "opened_at",
    "resolved_at", "closed_at",
    "impact", "urgency", "priority", "assignment_group", "service", "resolution_code",
    "resolution_notes", "problem", "fixed_by_change", "caused_by_change", "parent",
})


def incidents(connector: JiraConnector, fields: frozenset[str] = EVERY, **kw: Any
              ) -> dict[str, Any]:
    request = FetchRequest(Process.INCIDENT, kw.pop("scopes", ()), fields, **kw)
    return {r.number: r for r in connector.fetch(request)}


def test_an_incident_reads_as_canonical_values(site: Site, make_jira: Callable[..., JiraConnector]
                                               ) -> None:
    fake, server, issues = site
    records = incidents(make_jira(server.url))
    assert len(records) == 6
    mail = records[issues["i1"]["key"]]
    assert (mail.platform, mail.process, mail.table) == ("jira", "incident", "incident")
    assert mail.id == issues["i1"]["id"] and mail.url == f"{server.url}/browse/{mail.number}"
    fields = mail.fields
    assert fields["state"] == "closed"
    assert fields["description"] == "Users cannot send mail.\n\nSince 9:00."
    assert fields["resolution_notes"] == "restarted"
    assert (fields["impact"], fields["urgency"], fields["priority"]) == (1, 1, 2)
    assert fields["assignment_group"] == Ref("group", "g-1")
    assert fields["service"] == Ref("service", "svc-7")
    assert fields["problem"] == Ref("problem", issues["p1"]["id"])
    assert fields["fixed_by_change"] == Ref("change", issues["c1"]["id"])
    assert fields["caused_by_change"] is None and fields["parent"] is None
    # -0800 and +0100 offsets both read as the same UTC moment
    moment = datetime(2026, 9, 30, 22, 15, 30, 250000, tzinfo=timezone.utc)
    assert fields["resolved_at"] == moment and fields["closed_at"] == moment
    assert fields["resolution_code"] == "Done"
    assert mail.raw["summary"] == "mail down"
    assert fields["number"] == mail.number  # number: {field: key}, a top-level member
    # a field the rules read that this map does not fill is unknown, never empty
    assert isinstance(fields["hold_reason"], Unknown) and "not mapped" in str(fields["hold_reason"])


def test_values_not_listed_and_statuses_not_mapped_are_unknown(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    _, server, issues = site
    records = incidents(make_jira(server.url), frozenset({"state", "impact"}))
    odd = records[issues["i5"]["key"]].fields["impact"]
    assert isinstance(odd, Unknown) and "Galactic" in odd.reason
    state = records[issues["i6"]["key"]].fields["state"]
    assert isinstance(state, Unknown) and "Awaiting triage" in state.reason
    assert records[issues["i2"]["key"]].fields["impact"] == 3  # "Minor / Localized" reads 3
    assert records[issues["i4"]["key"]].fields["impact"] is None  # empty, not unknown


def test_fields_are_projected_and_a_field_not_returned_is_unknown(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    connector = make_jira(server.url)
    list(connector.fetch(FetchRequest(Process.INCIDENT, (), frozenset({"impact", "state"}))))
    search = [r for r in server.requests if r.path.endswith("/search/jql")][0].json()
    assert sorted(search["fields"]) == ["customfield_10100", "issuetype", "status", "updated"]
    # a site that leaves a field out of its answer (screen, permission): unknown, never empty
    for issue in fake.issues.values():
        issue["fields"].pop("customfield_10100")
    records = incidents(connector, frozenset({"impact"}))
    assert all(isinstance(r.fields["impact"], Unknown) for r in records.values())


def test_paging_follows_tokens_to_the_last_page_whatever_the_page_size(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    fake.max_page = 2  # the site sends fewer than asked: a short page is not the end
    fake.omit_is_last = True  # only the missing token tells the last page
    connector = make_jira(server.url, page_size=5)
    assert len(incidents(connector, frozenset({"state"}))) == 6
    pages = [r.json() for r in server.requests if r.path.endswith("/search/jql")]
    assert len(pages) == 3 and [p.get("nextPageToken") for p in pages] == [None, "t2", "t4"]
    assert all(p["jql"] == pages[0]["jql"] and p["maxResults"] == 5 for p in pages)


def test_the_same_page_token_twice_ends_the_scan(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: the site hands out the same nextPageToken again; outcome: SourceError (exit 3)
    instead of reading the same pages without end."""
    fake, server, _ = site
    looping = Resp(200, {"issues": [], "nextPageToken": "again", "isLast": False})
    fake.faults += [("/rest/api/3/search/jql", looping), ("/rest/api/3/search/jql", looping)]
    with pytest.raises(Exception, match="same nextPageToken twice"):
        incidents(make_jira(server.url), frozenset({"state"}))


def test_pages_past_max_pages_end_the_scan(site: Site, make_jira: Callable[..., JiraConnector]
                                           ) -> None:
    """fault: a site that pages on and on (new token each time); outcome: SourceError at
    source.max_pages."""
    fake, server, _ = site
    fake.faults += [("/rest/api/3/search/jql",
                     Resp(200, {"issues": [], "nextPageToken": f"n{i}", "isLast": False}))
                    for i in range(5)]
    with pytest.raises(Exception, match="more than 3 pages"):
        incidents(make_jira(server.url, max_pages=3), frozenset({"state"}))


def test_an_issue_seen_twice_while_paging_is_read_once(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, issues = site
    one = {k: v for k, v in issues["i1"].items() if k != "fields"} | {
        "fields": {k: issues["i1"]["fields"][k] for k in ("issuetype", "status", "updated")}}
    fake.faults.append(("/rest/api/3/search/jql",
                        Resp(200, {"issues": [one], "nextPageToken": "t0", "isLast": False})))
    records = incidents(make_jira(server.url), frozenset({"state"}))
    assert len(records) == 6


def test_scopes_are_pushed_down_as_quoted_jql(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, issues = site
    connector = make_jira(server.url)
    records = incidents(connector, frozenset({"state"}),
                        scopes=({"state": ("resolved", "closed")}, {"impact": (3,)}))
    assert fake.searches[-1] == (
        'project in (ITSM) AND issuetype in ("[System] Incident") AND '
        '((status in ("Closed", "Completed")) OR '
        '(cf[10100] in ("Minor / Localized", "Moderate / Limited"))) ORDER BY key ASC')
    assert sorted(records) == sorted(issues[k]["key"] for k in ("i1", "i2", "i5"))
    # a scope field JQL cannot say exactly (free text) is left to the engine: nothing is lost
    incidents(connector, frozenset({"state"}), scopes=({"short_description": ("x",)},))
    assert fake.searches[-1].count(" AND ") == 1
    # a scope allowing no value (or none the site has) matches nothing: no request
    before = len(fake.searches)
    assert incidents(connector, frozenset({"state"}), scopes=({"state": ()},)) == {}
    assert len(fake.searches) == before


def test_incremental_window_in_the_users_zone_misses_nothing(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, issues = site
    early, late = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc), datetime(
        2026, 10, 3, 18, 30, 45, tzinfo=timezone.utc)
    fake.add("10001", "Open", updated=late)
    fake.add("10001", "Open", updated=datetime(2026, 10, 3, 18, 30, 10, tzinfo=timezone.utc))
    connector = make_jira(server.url)
    since = datetime(2026, 10, 3, 18, 30, 30, tzinfo=timezone.utc)
    records = incidents(connector, frozenset({"state"}), since=since)
    # Los Angeles is UTC-7 then: the JQL reads 11:30 there, rounded down to the minute; the
    # issue updated 20 s before `since` (inside that minute) is dropped by its exact time
    assert fake.searches[-1].endswith('AND updated >= "2026/10/03 11:30" ORDER BY key ASC')
    assert len(records) == 1
    assert len(incidents(connector, frozenset({"state"}), since=early)) == 8


def test_incremental_window_without_a_user_zone_is_widened(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, _ = site
    fake.user_zone = "UTC"
    connector = make_jira(server.url)
    connector.myself = {"accountId": "x"}  # a profile without timeZone
    incidents(connector, frozenset({"state"}), since=datetime(2026, 10, 3, 18, 30,
                                                              tzinfo=timezone.utc))
    assert fake.searches[-1].endswith('updated >= "2026/10/03 06:30" ORDER BY key ASC')


def test_linked_issues_are_fetched_in_batches_of_100(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    fake, server, issues = site
    extra = [fake.add("10002", "Open") for _ in range(150)]
    connector = make_jira(server.url)
    refs = [Ref("problem", p["id"]) for p in extra] + [
        Ref("problem", issues["p1"]["id"]), Ref("problem", "99999999"),
        Ref("problem", issues["i1"]["id"])]  # an incident is not a problem
    before = connector.request_count
    found = connector.resolve(refs, {"state"})
    calls = [r for r in server.requests if r.path.endswith("/issue/bulkfetch")]
    # + myself, field, and the project (whether the site has the problem type), once a run
    assert len(calls) == math.ceil(153 / 100) and connector.request_count - before == len(calls) + 3
    assert all(len(c.json()["issueIdsOrKeys"]) <= 100 for c in calls)
    assert set(found) == {*refs[:150], Ref("problem", issues["p1"]["id"])}
    assert found[Ref("problem", issues["p1"]["id"])].fields == {"state": "root_cause_analysis"}
    with pytest.raises(NotRead):
        connector.resolve([Ref("group", "g-1")])


def test_referrers_are_counted_from_the_other_end_of_the_links(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    _, server, issues = site
    connector = make_jira(server.url)
    ids = [issues[k]["id"] for k in ("p1", "p2")]
    assert connector.count_referrers(Process.INCIDENT, "problem", ids) == {ids[0]: 2, ids[1]: 0}
    changes = [issues[k]["id"] for k in ("c1", "c2")]
    # c1 fixes an incident and a problem: only the incident counts as an incident referrer
    assert connector.count_referrers(Process.INCIDENT, "fixed_by_change", changes) == {
        changes[0]: 1, changes[1]: 0}
    assert connector.count_referrers(Process.INCIDENT, "caused_by_change", changes) == {
        changes[0]: 0, changes[1]: 1}
    with pytest.raises(NotRead):
        connector.count_referrers(Process.INCIDENT, "assignment_group", ["1"])


def test_data_center_reads_v2_with_offset_paging(
    dc_site: Site, make_jira: Callable[..., JiraConnector], dc_auth: Any
) -> None:
    fake, server, issues = dc_site
    fake.max_page = 4
    connector = make_jira(server.url, dc_auth, page_size=4)
    records = incidents(connector, frozenset({"state", "description", "problem"}))
    assert len(records) == 6 and connector.api == "2"
    paths = [r.path for r in server.requests]
    assert paths[:2] == ["/rest/api/3/myself", "/rest/api/2/myself"]  # v3 404: Data Center
    pages = [r.json() for r in server.requests if r.path == "/rest/api/2/search"]
    assert [p["startAt"] for p in pages] == [0, 4]
    assert connector.expected_total(Process.INCIDENT) == 6
    # v2 gives wiki text: passed through as it is
    assert str(records[issues["i1"]["key"]].fields["description"]).startswith("wiki: ")
    found = connector.resolve([Ref("problem", issues["p1"]["id"])])
    assert list(found) == [Ref("problem", issues["p1"]["id"])]
    assert fake.searches[-1] == f'id in ({issues["p1"]["id"]}) ORDER BY key ASC'


def test_no_enhanced_search_falls_back_to_legacy_search(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """fault: /search/jql answers 404 on a v3 site; outcome: the legacy search is tried, and
    Cloud's 410 for it (removed) ends the scan with that reason."""
    fake, server, _ = site
    fake.faults.append(("/rest/api/3/search/jql", Resp(404, {"errorMessages": ["nope"]})))
    with pytest.raises(Exception, match="410 Gone"):
        incidents(make_jira(server.url), frozenset({"state"}))


def test_only_the_sites_issue_types_and_statuses_go_into_jql(
    site: Site, make_jira: Callable[..., JiraConnector]
) -> None:
    """The map lists alternatives ("[System] Incident", "Incident"); naming a type or status
    the site does not have would be refused (400), so only the site's go into the query."""
    fake, server, _ = site
    fake.status_names -= {"Completed"}
    incidents(make_jira(server.url), frozenset({"state"}),
              scopes=({"state": ("resolved", "closed")}, {"state": ("resolved",)}))
    assert fake.searches[-1] == ('project in (ITSM) AND issuetype in ("[System] Incident") AND '
                                 'status in ("Closed") ORDER BY key ASC')


def test_a_refused_scope_is_read_without_it(site: Site, make_jira: Callable[..., JiraConnector]
                                            ) -> None:
    """fault: the site refuses the scoped query (400: an option value it does not have);
    outcome: the process is read without the scope filter, with a notice; the engine tests
    each record's scope."""
    fake, server, _ = site
    refused = Resp(400, {"errorMessages": ["The option 'Moderate / Limited' does not exist"],
                         "errors": {}})
    fake.faults.append(("/rest/api/3/search/jql", refused))
    connector = make_jira(server.url)
    records = incidents(connector, frozenset({"state"}), scopes=({"impact": (3,)},))
    assert len(records) == 6 and "cf[" not in fake.searches[-1]
    [notice] = connector.notices
    assert "'Moderate / Limited' does not exist" in notice
    assert notice.endswith("read without the scope filter")


def test_a_data_center_page_cap_below_the_page_size_is_followed(
    dc_site: Site, make_jira: Callable[..., JiraConnector], dc_auth: Any
) -> None:
    """The site caps pages at 2 though 1000 were asked: the bounds count in its page size, and
    a total reached on a full page is confirmed by one more page (a total that lies, as 50 over
    more issues in pages of 50, would otherwise end the scan short)."""
    fake, server, _ = dc_site
    fake.max_page = 2
    for _ in range(30):
        fake.add("10001", "Open")
    connector = make_jira(server.url, dc_auth, max_pages=40)
    assert len(incidents(connector, frozenset({"state"}))) == 36
    pages = [r.json() for r in server.requests if r.path == "/rest/api/2/search"]
    assert len(pages) == 19 and pages[0]["maxResults"] == 1000
