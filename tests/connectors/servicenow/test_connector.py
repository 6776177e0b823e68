"""ServiceNowConnector against the loopback fake Table API: records, paging, refs, tasks."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from sms_conformance.connectors.base import FetchRequest, NotRead
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.fieldmap import FieldMap
from sms_conformance.model.errors import ConfigError, SourceError
from sms_conformance.model.records import Process, Record, Ref
from tests.connectors.snow_fakes import FakeInstance, Req, Resp, StubServer, envelope

Fake = tuple[FakeInstance, StubServer]
ALL = FetchRequest(Process.INCIDENT, (), frozenset({"state"}))


def incidents(instance: FakeInstance, n: int) -> list[dict[str, str]]:
    return [
        instance.add("incident", state=str(1 + i % 8), priority=str(1 + i % 5),
                     close_notes=f"note {i}", problem_id="")
        for i in range(n)
    ]


def test_fetch_maps_rows_to_records(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, server = fake
    prb = instance.add("problem", state="107")
    inc = instance.add("incident", state="7", priority="1", close_notes="User confirmed",
                       problem_id=prb["sys_id"], opened_at="2024-04-16 17:16:31", secret="x")
    request = FetchRequest(
        Process.INCIDENT, ({"state": ("closed",)},),
        frozenset({"state", "priority", "problem", "resolution_notes", "opened_at"}),
    )
    [record] = connector.fetch(request)
    assert record == Record(
        platform="servicenow", instance=server.url, process="incident", table="incident",
        id=inc["sys_id"], number=inc["number"],
        url=f"{server.url}/nav_to.do?uri=incident.do?sys_id={inc['sys_id']}",
        fields={
            "state": "closed", "priority": 1, "problem": Ref("problem", prb["sys_id"]),
            "resolution_notes": "User confirmed",
            "opened_at": datetime(2024, 4, 16, 17, 16, 31, tzinfo=timezone.utc),
        },
        raw={k: v for k, v in inc.items() if k != "secret"},
    )
    first = server.requests[0].query
    assert first == {
        "sysparm_query": "state=7^ORDERBYsys_id",
        "sysparm_fields": "close_notes,number,opened_at,priority,problem_id,state,sys_id",
        "sysparm_limit": "10",
        "sysparm_exclude_reference_link": "true",
        "sysparm_display_value": "false",
    }
    assert len(server.requests) == 1  # X-Total-Count says every matching row is on this page
    assert connector.expected_total(Process.INCIDENT) == 1


def test_pages_by_key_until_a_short_page_ends_the_count(
    connector: ServiceNowConnector, fake: Fake
) -> None:
    instance, server = fake
    rows = incidents(instance, 35)
    records = list(connector.fetch(ALL))
    assert [r.id for r in records] == [r["sys_id"] for r in rows]
    queries = [r.query for r in server.requests]
    assert len(queries) == 4  # 10 + 10 + 10 + 5: all 35 counted rows read, no closing page
    assert all("sysparm_offset" not in q for q in queries)
    assert queries[3]["sysparm_query"] == f"sys_id>{rows[29]['sys_id']}^ORDERBYsys_id"
    assert "sysparm_no_count" not in queries[0]
    assert all(q["sysparm_no_count"] == "true" for q in queries[1:])


def test_since_is_sent_on_every_group(connector: ServiceNowConnector, fake: Fake) -> None:
    _, server = fake
    request = FetchRequest(
        Process.INCIDENT, ({"state": ("closed",)}, {"priority": (1,)}), frozenset({"state"}),
        since=datetime(2024, 5, 1, tzinfo=timezone.utc),
    )
    assert list(connector.fetch(request)) == []
    assert server.requests[0].query["sysparm_query"] == (
        "state=7^sys_updated_on>=2024-05-01 00:00:00^NQpriority=1"
        "^sys_updated_on>=2024-05-01 00:00:00^ORDERBYsys_id"
    )


def test_no_request_when_no_scope_can_match(connector: ServiceNowConnector, fake: Fake) -> None:
    request = FetchRequest(Process.INCIDENT, ({"state": ()},), frozenset({"state"}))
    assert list(connector.fetch(request)) == []
    assert fake[1].requests == []


def test_changes_between_pages_never_skip_or_repeat(
    connector: ServiceNowConnector, fake: Fake
) -> None:
    instance, server = fake
    rows = incidents(instance, 40)
    table = instance.tables["incident"]
    pages = 0
    late_ids: list[str] = []

    def mutate(req: Req) -> None:
        nonlocal pages
        if req.method != "GET":
            return None
        pages += 1
        if pages == 3:  # two pages (20 rows) read
            del table[rows[5]["sys_id"]]  # already read
            del table[rows[25]["sys_id"]]  # not read yet: must not appear
            table[rows[30]["sys_id"]]["state"] = "7"  # not read yet: read once, updated
            late_ids.append(instance.add("incident", sys_id="f" * 32, state="1")["sys_id"])
            instance.add("incident", sys_id="0" * 32, state="1")  # behind the cursor
        return None

    instance.before = mutate
    records = list(connector.fetch(ALL))
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))
    expected = [r["sys_id"] for i, r in enumerate(rows) if i != 25] + late_ids
    assert ids == expected
    assert next(r for r in records if r.id == rows[30]["sys_id"]).fields["state"] == "closed"


@pytest.mark.parametrize("hidden", [
    set(range(0, 40, 3)),  # scattered: short pages
    set(range(10, 30)),  # two whole pages hidden: empty pages in the middle
    set(range(30, 40)),  # the tail hidden
    set(range(0, 40)),  # everything hidden
])
def test_acl_hidden_rows_make_short_or_empty_pages(
    connector: ServiceNowConnector, fake: Fake, hidden: set[int]
) -> None:
    instance, server = fake
    rows = incidents(instance, 40)
    instance.hidden = {rows[i]["sys_id"] for i in hidden}
    ids = [r.id for r in connector.fetch(ALL)]
    assert ids == [r["sys_id"] for i, r in enumerate(rows) if i not in hidden]
    assert len(server.requests) < 20


def test_hidden_tail_is_noted(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, _ = fake
    rows = incidents(instance, 25)
    instance.hidden = {r["sys_id"] for r in rows[20:]}
    assert len(list(connector.fetch(ALL))) == 20
    assert connector.notices == [
        f"incident: 5 matching record(s) after sys_id {rows[19]['sys_id']} could not be read "
        "(hidden by ACLs?)"
    ]


def test_resolve_batches_by_table(
    fake: Fake, make_client: Callable[..., TableClient], fieldmap: FieldMap
) -> None:
    instance, server = fake
    problems = [instance.add("problem", state="107", cause_notes=f"cause {i}") for i in range(140)]
    cis = [instance.add("cmdb_ci", name=f"srv{i}", number="") for i in range(30)]
    connector = ServiceNowConnector(server.url, make_client(server.url), fieldmap, ref_batch=100)
    refs = [Ref("problem", p["sys_id"]) for p in problems]
    refs += [Ref("problem", f"{i:032x}abc") for i in range(10)]  # missing
    refs += [Ref("configuration_item", c["sys_id"]) for c in cis]
    found = connector.resolve(refs)
    assert len(server.requests) == math.ceil(150 / 100) + math.ceil(30 / 100)
    assert {r.kind for r in found} == {"problem", "configuration_item"} and len(found) == 170
    problem_ids = sorted(r.id for r in refs if r.kind == "problem")
    first = server.requests[0]
    assert first.path == "/api/now/table/cmdb_ci"  # tables in order, ids sorted: stable requests
    assert server.requests[1].query["sysparm_query"] == "sys_idIN" + ",".join(problem_ids[:100])
    assert server.requests[1].query["sysparm_limit"] == "100"
    prb = found[refs[0]]
    assert prb.process == "problem" and prb.fields["state"] == "closed"
    assert prb.fields["root_cause"] == "cause 0" and "workaround" in prb.fields
    ci = found[Ref("configuration_item", cis[0]["sys_id"])]
    assert ci.fields == {} and ci.number == "srv0" and ci.process == ""


def test_references_are_resolved_by_kind_in_the_table_the_field_map_names(
    fake: Fake, make_client: Callable[..., TableClient], fieldmap: FieldMap
) -> None:
    instance, server = fake
    change = instance.add("change_request", state="3")
    connector = ServiceNowConnector(server.url, make_client(server.url), fieldmap)
    found = connector.resolve([Ref("change", change["sys_id"])])
    assert [r.path for r in server.requests] == ["/api/now/table/change_request"]
    record = found[Ref("change", change["sys_id"])]
    assert record.process == "change" and record.table == "change_request"
    assert record.fields["state"] == "closed"
    with pytest.raises(NotRead, match="names no table"):
        connector.resolve([Ref("vendor", "a" * 32)])


def test_count_referrers(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, server = fake
    a, b = instance.add("problem")["sys_id"], instance.add("problem")["sys_id"]
    for target in [a] * 12 + [b] * 3:
        instance.add("incident", problem_id=target)
    counts = connector.count_referrers(Process.INCIDENT, "problem", [a, b, "c" * 32])
    assert counts == {a: 12, b: 3, "c" * 32: 0}
    assert server.requests[0].query["sysparm_query"].startswith(f"problem_idIN{a},{b},")
    assert server.requests[0].query["sysparm_fields"] == "problem_id,sys_id"


def test_find_create_update_tasks(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, server = fake
    closed = instance.add("incident_task", correlation_id="fp-1", active="false", state="3",
                          correlation_display="sms-conformance", incident="i1")
    reopened = instance.add("incident_task", correlation_id="fp-1", active="true", state="1",
                            correlation_display="sms-conformance", incident="i1")
    instance.add("incident_task", correlation_id="other", active="true", state="1",
                 correlation_display="another-tool")
    created = connector.create_task("incident_task", {
        "correlation_id": "fp-2", "correlation_display": "sms-conformance",
        "short_description": "Fix INC1", "active": "true", "incident": "i2",
        "assignment_group": {"link": "https://x/api/now/table/sys_user_group/g1", "value": "g1"},
    })  # type: ignore[dict-item]
    assert created.fingerprint == "fp-2" and created.open and created.number
    assert created.parent == "i2" and created.fields["assignment_group"] == "g1"
    server.requests.clear()
    found = connector.find_tasks("incident_task", ["fp-1", "fp-2", "fp-3"])
    assert [(t.id, t.fingerprint, t.open, t.parent) for t in found] == [
        (closed["sys_id"], "fp-1", False, "i1"), (reopened["sys_id"], "fp-1", True, "i1"),
        (created.id, "fp-2", True, "i2"),
    ]
    query = server.requests[0].query
    assert query["sysparm_query"] == "correlation_idINfp-1,fp-2,fp-3^ORDERBYsys_id"
    assert {"active", "incident", "description"} <= set(query["sysparm_fields"].split(","))
    opened = connector.open_tasks("incident_task")
    assert [t.id for t in opened] == [reopened["sys_id"], created.id]
    assert server.requests[1].query["sysparm_query"] == (
        "correlation_display=sms-conformance^active=true^ORDERBYsys_id"
    )
    updated = connector.update_task("incident_task", created.id, {"active": "false"})
    assert not updated.open
    closed_task = connector.close_task("incident_task", created.id, "record now conforms")
    assert closed_task.fields["state"] == "3"


def test_create_tasks_raises_after_trying_all(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, _ = fake

    def refuse(req: Req) -> Resp | None:
        if req.method == "POST" and req.json().get("short_description") == "bad":
            return envelope(403, "Operation Failed", "ACL Exception Insert Failed")
        return None

    instance.before = refuse
    rows = [{"correlation_id": f"fp-{i}", "short_description": "bad" if i == 2 else "ok"}
            for i in range(5)]
    with pytest.raises(SourceError, match="1 of 5 tasks could not be created"):
        connector.create_tasks("change_task", rows, max_workers=2)
    assert len(instance.tables["change_task"]) == 4
    ok = connector.create_tasks("change_task", [rows[0]])
    assert [t.fingerprint for t in ok] == ["fp-0"]


@pytest.mark.parametrize("table", ["incident", "problem", "change_request", "sys_user"])
def test_writes_to_other_tables_are_refused(
    connector: ServiceNowConnector, fake: Fake, table: str
) -> None:
    with pytest.raises(ConfigError, match="refusing to write"):
        connector.create_task(table, {"short_description": "x"})
    with pytest.raises(ConfigError, match="refusing to write"):
        connector.update_task(table, "a" * 32, {"state": "7"})
    with pytest.raises(ConfigError):
        connector.find_tasks(table, ["fp"])
    assert fake[1].requests == []


def test_source_tables_cannot_be_configured_for_write_back(
    fake: Fake, make_client: Callable[..., TableClient], fieldmap: FieldMap
) -> None:
    url = fake[1].url
    with pytest.raises(ConfigError, match="must not include source tables"):
        ServiceNowConnector(url, make_client(url), fieldmap,
                            write_tables=frozenset({"incident_task", "change_request"}))


def test_a_whole_run_never_modifies_source_records(
    connector: ServiceNowConnector, fake: Fake
) -> None:
    instance, server = fake
    rows = incidents(instance, 15)
    for process in Process:
        list(connector.fetch(FetchRequest(process, (), frozenset({"state", "problem"}))))
    connector.resolve([Ref("incident", r["sys_id"]) for r in rows])
    connector.count_referrers(Process.INCIDENT, "parent", [rows[0]["sys_id"]])
    tasks = connector.create_tasks_concurrently(
        "incident_task", [{"correlation_id": f"fp-{i}"} for i in range(5)], max_workers=3
    )
    connector.find_tasks("incident_task", [f"fp-{i}" for i in range(5)])
    for task in tasks:
        assert not isinstance(task, Exception)
        connector.update_task("incident_task", task.id, {"state": "3"})
        connector.close_task("incident_task", task.id, "done")
    for table in ("incident", "problem", "change_request"):
        for bad in ({"state": "7"}, {}):
            with pytest.raises(ConfigError):
                connector.update_task(table, rows[0]["sys_id"], bad)
    writes = [r for r in server.requests if r.method != "GET"]
    assert writes and all(r.path.startswith("/api/now/table/incident_task") for r in writes)
    assert not [r for r in server.requests if r.method in ("PUT", "DELETE")]


def test_concurrent_creation_honours_429(
    fake: Fake, make_client: Callable[..., TableClient], fieldmap: FieldMap, sleeps: list[float]
) -> None:
    instance, server = fake
    posts = 0

    def limit(req: Req) -> Resp | None:
        nonlocal posts
        if req.method == "POST":
            posts += 1
            if posts % 3 == 0:
                return Resp(429, {"error": {"message": "Rate limit exceeded"}},
                            {"Retry-After": "0"})
        return None

    instance.before = limit
    connector = ServiceNowConnector(server.url, make_client(server.url), fieldmap)
    items = [{"correlation_id": f"fp-{i}", "short_description": f"task {i}"} for i in range(30)]
    results = connector.create_tasks_concurrently("change_task", items, max_workers=8)
    assert [r.fingerprint for r in results if not isinstance(r, Exception)] == [
        f"fp-{i}" for i in range(30)
    ]
    stored = Counter(r["correlation_id"] for r in instance.tables["change_task"].values())
    assert stored == Counter(f"fp-{i}" for i in range(30))
    assert sleeps and set(sleeps) == {0.0}


def test_post_with_unknown_outcome_finds_the_task_instead_of_duplicating(
    connector: ServiceNowConnector, fake: Fake
) -> None:
    instance, server = fake
    failed = False

    def lose_answer(req: Req) -> Resp | None:
        nonlocal failed
        if req.method == "POST" and not failed:
            failed = True
            instance.add("problem_task", **req.json())  # processed, answer lost
            return envelope(502, "Bad Gateway")
        return None

    instance.before = lose_answer
    task = connector.create_task("problem_task", {"correlation_id": "fp-9", "active": "true"})
    assert task.fingerprint == "fp-9"
    assert len(instance.tables["problem_task"]) == 1
    assert [r.method for r in server.requests] == ["POST", "GET"]  # no second POST


def test_repeated_500_halves_the_page(
    fake: Fake, make_client: Callable[..., TableClient], fieldmap: FieldMap
) -> None:
    instance, server = fake
    rows = incidents(instance, 250)

    def quota(req: Req) -> Resp | None:
        if int(req.query.get("sysparm_limit", "0")) > 150:
            return envelope(500, "Transaction cancelled: maximum execution time exceeded")
        return None

    instance.before = quota
    connector = ServiceNowConnector(server.url, make_client(server.url), fieldmap, page_size=400)
    assert [r.id for r in connector.fetch(ALL)] == [r["sys_id"] for r in rows]
    limits = [r.query["sysparm_limit"] for r in server.requests]
    assert limits[:4] == ["400", "400", "200", "200"] and set(limits[4:]) == {"100"}
    assert connector.notices == [
        "incident: page size lowered to 200 after repeated HTTP 500",
        "incident: page size lowered to 100 after repeated HTTP 500",
    ]


def test_hidden_windows_stay_within_the_page_bound(
    connector: ServiceNowConnector, fake: Fake
) -> None:
    """fault: every other page of rows hidden by ACLs; outcome: all visible rows read, no guard trips"""
    instance, server = fake
    rows = incidents(instance, 1200)
    instance.hidden = {r["sys_id"] for i, r in enumerate(rows) if (i // 10) % 2}
    ids = [r.id for r in connector.fetch(ALL)]
    assert ids == [r["sys_id"] for i, r in enumerate(rows) if not (i // 10) % 2]
    (stats,) = connector.scans["incident"]
    # an empty page, a probe and an offset page for each hidden window: well inside the bound
    assert stats.pages == len(server.requests) < 2 * math.ceil(2200 / 10) + 10
