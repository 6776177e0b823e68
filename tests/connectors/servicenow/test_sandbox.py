"""The connector end to end against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.servicenow.auth import BasicAuth, OAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.doctor import diagnose
from sms_conformance.connectors.servicenow.fieldmap import FieldMap
from sms_conformance.model.errors import SourceError
from sms_conformance.model.records import Process, Record, Ref
from sms_conformance.sandbox.servicenow import Sandbox

FAST = RetryPolicy(budget=60, initial=0.001, maximum=0.01)


def connect(sb: object, fieldmap: FieldMap, page_size: int = 1000, **kw: object
            ) -> ServiceNowConnector:
    url = sb.url  # type: ignore[attr-defined]
    auth = kw.pop("auth", None) or BasicAuth("admin", SecretStr(sb.password))  # type: ignore
    client = TableClient(url, auth, policy=FAST)  # type: ignore[arg-type]
    return ServiceNowConnector(url, client, fieldmap, page_size=page_size, **kw)  # type: ignore


def everything(fieldmap: FieldMap, process: Process) -> FetchRequest:
    return FetchRequest(process, (), frozenset(fieldmap.for_process(process).fields))


def visible_ids(sb: object, table: str) -> list[str]:
    store = sb.store  # type: ignore[attr-defined]
    return [row[0] for row in store.tables[table].rows if not store.is_hidden(row)]


@pytest.fixture(scope="module")
def sb() -> Iterator[object]:
    with Sandbox(records=1200, seed=7) as sandbox:
        yield sandbox


def test_full_scan_reads_every_record_once(sb: object, fieldmap: FieldMap) -> None:
    connector = connect(sb, fieldmap, page_size=500)
    for process in Process:
        table = fieldmap.for_process(process).table
        records = list(connector.fetch(everything(fieldmap, process)))
        assert [r.id for r in records] == visible_ids(sb, table)
        assert connector.expected_total(process) == len(records)
    incident = next(r for r in connector.fetch(everything(fieldmap, Process.INCIDENT)))
    assert incident.url == f"{sb.url}/nav_to.do?uri=incident.do?sys_id={incident.id}"  # type: ignore[attr-defined]
    assert incident.number.startswith("INC")
    assert incident.fields["state"] in {"new", "in_progress", "on_hold", "resolved", "closed",
                                        "canceled"}


def test_scoped_scan_matches_the_scope(sb: object, fieldmap: FieldMap) -> None:
    connector = connect(sb, fieldmap, page_size=100)
    scopes = ({"state": ("resolved", "closed"), "priority": (1, 2)}, {"state": ("on_hold",)})
    request = FetchRequest(Process.INCIDENT, scopes, frozenset({"state", "priority"}))
    records = list(connector.fetch(request))
    assert records
    for record in records:
        state, priority = record.fields["state"], record.fields["priority"]
        assert state == "on_hold" or (state in ("resolved", "closed") and priority in (1, 2))
    everything_ = list(connector.fetch(FetchRequest(
        Process.INCIDENT, (), frozenset({"state", "priority"}))))
    expected = [r.id for r in everything_ if r.fields["state"] == "on_hold" or (
        r.fields["state"] in ("resolved", "closed") and r.fields["priority"] in (1, 2))]
    assert [r.id for r in records] == expected


def test_mutations_between_pages_never_skip_or_repeat(fieldmap: FieldMap) -> None:
    with Sandbox(records=600, seed=11) as sandbox:
        store = sandbox.store
        initial = visible_ids(sandbox, "incident")
        connector = connect(sandbox, fieldmap, page_size=100)
        seen: list[Record] = []
        deleted_ahead: set[str] = set()
        inserted_ahead: list[str] = []
        for record in connector.fetch(everything(fieldmap, Process.INCIDENT)):
            seen.append(record)
            if len(seen) % 100 == 0 and len(seen) < len(initial):  # between two pages
                k = len(seen)
                store.delete("incident", initial[k - 50])  # already read
                store.delete("incident", initial[k + 30])  # not read yet
                deleted_ahead.add(initial[k + 30])
                store.update("incident", initial[k + 10], {"close_notes": f"edited {k}"})
                store.insert("incident", {"sys_id": "0" * 28 + f"{k:04d}"})  # behind
                ahead = "f" * 28 + f"{k:04d}"
                store.insert("incident", {"sys_id": ahead, "short_description": "late"})
                inserted_ahead.append(ahead)
        ids = [r.id for r in seen]
        assert len(ids) == len(set(ids))
        assert ids == sorted(ids)
        assert ids == [i for i in initial if i not in deleted_ahead] + inserted_ahead
        edited = [r for r in seen if str(r.raw.get("close_notes", "")).startswith("edited")]
        assert len(edited) == len(initial) // 100 - 1


@pytest.mark.parametrize(("rate", "page_size"), [(0.3, 50), (0.95, 20)])
def test_acl_hidden_rows_short_and_empty_pages(
    fieldmap: FieldMap, rate: float, page_size: int
) -> None:
    with Sandbox(records=400, seed=3, acl_hidden_rate=rate) as sandbox:
        connector = connect(sandbox, fieldmap, page_size=page_size)
        for process in Process:
            table = fieldmap.for_process(process).table
            ids = [r.id for r in connector.fetch(everything(fieldmap, process))]
            assert ids == visible_ids(sandbox, table)
            assert len(ids) < len(sandbox.store.tables[table].rows)


@pytest.mark.parametrize("faults", [
    "429:0.33,503:0.33,retry-after=0",
    "reset:0.1,truncate:0.1,502:0.1,504:0.1,429:0.1,retry-after=0,seed=5",
])
def test_faulty_scan_equals_clean_scan(sb: object, fieldmap: FieldMap, faults: str) -> None:
    clean_connector = connect(sb, fieldmap, page_size=250)
    clean = {p: list(clean_connector.fetch(everything(fieldmap, p))) for p in Process}
    faulty_connector = connect(sb, fieldmap, page_size=250)
    before = sum(sb.stats.faults.values())  # type: ignore[attr-defined]
    sb.faults = faults  # type: ignore[attr-defined]
    try:
        faulty = {p: list(faulty_connector.fetch(everything(fieldmap, p))) for p in Process}
        injected = sum(sb.stats.faults.values()) - before  # type: ignore[attr-defined]
    finally:
        sb.faults = None  # type: ignore[attr-defined]
    assert faulty == clean
    assert injected > 0
    assert faulty_connector.request_count == clean_connector.request_count + injected


def test_resolve_batches_by_table(sb: object, fieldmap: FieldMap) -> None:
    connector = connect(sb, fieldmap, ref_batch=100)
    incidents = list(connector.fetch(FetchRequest(
        Process.INCIDENT, (), frozenset({"problem", "configuration_item", "assignment_group"}))))
    refs = {v for r in incidents for v in r.fields.values() if isinstance(v, Ref)}
    per_table = Counter(ref.kind for ref in refs)
    before = connector.request_count
    found = connector.resolve(refs)
    assert connector.request_count - before == sum(
        math.ceil(n / 100) for n in per_table.values())
    assert set(found) <= refs and len(found) >= 0.9 * len(refs)
    for ref, record in found.items():
        assert record.id == ref.id and record.table == fieldmap.table_of(ref.kind)
        if ref.kind == "problem":
            assert record.process == "problem" and "root_cause" in record.fields
        else:
            assert record.fields == {}


def test_resolve_with_streams_reads_its_batches_side_by_side(
    sb: object, fieldmap: FieldMap, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With parallel streams the batches of a look-up are read at once (two of them meet at a
    barrier, which one batch after another never reaches); the same records as one stream."""
    one = connect(sb, fieldmap, ref_batch=20)
    many = connect(sb, fieldmap, ref_batch=20, streams=4)
    refs = {Ref("problem", i) for i in visible_ids(sb, "problem")[:100]}
    meet, calls = threading.Barrier(2, timeout=10), iter(range(1000))
    list_page = many.client.list

    def meeting(table: str, params: Any) -> Any:
        if next(calls) < 2:  # the first two batches wait for each other
            with contextlib.suppress(threading.BrokenBarrierError):
                meet.wait()
        return list_page(table, params)

    monkeypatch.setattr(many.client, "list", meeting)
    found = many.resolve(refs)
    assert not meet.broken  # two batches were in flight together
    assert found == one.resolve(refs) and len(found) == 100
    assert many.request_count == one.request_count == 5


def test_count_referrers_matches_the_store(sb: object, fieldmap: FieldMap) -> None:
    connector = connect(sb, fieldmap, page_size=300)
    incidents = list(connector.fetch(FetchRequest(Process.INCIDENT, (), frozenset({"problem"}))))
    expected = Counter(r.fields["problem"].id for r in incidents  # type: ignore[union-attr]
                       if r.fields["problem"] is not None)
    ids = list(expected)[:150] + ["0" * 32]
    counts = connector.count_referrers(Process.INCIDENT, "problem", ids)
    assert counts == {i: expected.get(i, 0) for i in ids}


def test_write_back_never_touches_source_tables(fieldmap: FieldMap) -> None:
    with Sandbox(records=200, seed=5, faults="429:0.3@incident_task,retry-after=0") as sandbox:
        connector = connect(sandbox, fieldmap)
        [incident, *_] = connector.fetch(everything(fieldmap, Process.INCIDENT))
        items = [{"correlation_id": f"fp-{i}", "short_description": f"Fix {incident.number}",
                  "incident": incident.id} for i in range(40)]
        started = time.perf_counter()
        results = connector.create_tasks_concurrently("incident_task", items, max_workers=8)
        elapsed = time.perf_counter() - started
        assert [r.fingerprint for r in results if not isinstance(r, Exception)] == [
            f"fp-{i}" for i in range(40)]
        found = connector.find_tasks("incident_task", [f"fp-{i}" for i in range(45)])
        assert sorted(t.fingerprint for t in found) == sorted(f"fp-{i}" for i in range(40))
        assert all(t.open and t.parent == incident.id for t in found)
        by_fp = {t.fingerprint: t for t in found}
        closed = connector.close_task("incident_task", by_fp["fp-0"].id, "conforms now")
        assert not closed.open
        counts = sandbox.stats.counts
        assert counts[("POST", "incident_task")] >= 40
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for table in ("incident", "problem", "change_request"):
                assert counts[(method, table)] == 0
        assert elapsed < 10


def test_oauth_grants_and_refresh_against_sandbox(fieldmap: FieldMap) -> None:
    now = [0.0]
    with Sandbox(records=50, seed=1, token_ttl=1) as sandbox:
        token_url = f"{sandbox.url}/oauth_token.do"
        password = OAuth(token_url, sandbox.client_id, SecretStr(sandbox.client_secret),
                         "password", username="admin", password=SecretStr(sandbox.password),
                         clock=lambda: now[0])
        connector = connect(sandbox, fieldmap, auth=password)
        assert len(list(connector.fetch(everything(fieldmap, Process.PROBLEM)))) > 0
        time.sleep(1.1)  # the sandbox expires the token; our clock says it is still fresh
        assert list(connector.fetch(everything(fieldmap, Process.PROBLEM)))
        assert password.token_requests == 2  # 401 -> refreshed once
        now[0] += 10  # past expiry: renewed before the request
        assert list(connector.fetch(everything(fieldmap, Process.PROBLEM)))
        assert password.token_requests == 3
        client_credentials = OAuth(token_url, sandbox.client_id,
                                   SecretStr(sandbox.client_secret), "client_credentials")
        connector = connect(sandbox, fieldmap, auth=client_credentials)
        assert list(connector.fetch(everything(fieldmap, Process.CHANGE)))
        assert ("POST", "oauth_token.do") in sandbox.stats.counts


def test_hibernating_instance_is_a_clear_error(fieldmap: FieldMap) -> None:
    with Sandbox(records=20, seed=1, faults="html:1") as sandbox:
        connector = connect(sandbox, fieldmap)
        with pytest.raises(SourceError, match="hibernating or behind SSO"):
            list(connector.fetch(everything(fieldmap, Process.INCIDENT)))


def test_doctor_against_sandbox(fieldmap: FieldMap) -> None:
    with Sandbox(records=100, seed=1, hidden_fields=["incident.close_notes"]) as sandbox:
        connector = connect(sandbox, fieldmap)
        findings = diagnose(connector, {"incident": ["state", "close_notes", "u_nope"],
                                        "problem": ["cause_notes"]})
    fails = [f.message for f in findings if f.level == "fail"]
    assert len(fails) == 2 and "u_nope" in fails[0]
    assert "close_notes hidden from the integration user" in fails[1]  # proved, not guessed
