"""Services and configuration items by name on ServiceNow (issue 19, point 2): looked up once
in batched projected reads, cached in the history store, shown in `sample` and the process
metrics with the id beside."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.model.records import Record, Ref
from sms_conformance.sandbox.logical import logical_view
from sms_conformance.scan.names import NameBook
from sms_conformance.store.history import History

AS_OF = "2026-11-01"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def scan(box: Any, history: Path) -> None:
    result = invoke("scan", "--source", "servicenow", "--instance", box.url, "--history",
                    str(history), "--as-of", AS_OF, "--full")
    assert result.exit_code == 0, result.output


def name_reads(box: Any, tables: tuple[str, ...] = ("cmdb_ci_service", "cmdb_ci")) -> int:
    return sum(n for (method, table), n in box.stats.counts.items()
               if method == "GET" and table in tables)


def test_services_are_named_in_sample_and_metrics_and_looked_up_once(sandbox: Any,
                                                                     tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    services = logical_view(sandbox.dataset).services
    scan(sandbox, history)
    first, cis = name_reads(sandbox), name_reads(sandbox, ("cmdb_ci",))
    assert 0 < first <= 10  # batched: a few requests for every service and CI of the scan
    scan(sandbox, history)
    # The second scan takes the services' names from the history store; the CIs are read again,
    # once, for the clause 8.2.6 rules (their status and support group), as in the first scan:
    # their names come with that read, never from a second one.
    assert name_reads(sandbox, ("cmdb_ci_service",)) == first - cis
    assert name_reads(sandbox, ("cmdb_ci",)) == 2 * cis
    sampled = invoke("sample", "--size", "40", "--by", "service", "--seed", "3", "--history",
                     str(history), "--format", "json")
    assert sampled.exit_code == 0, sampled.output
    report = json.loads(sampled.stdout)
    with_service = [r for r in report["records"] if r["service_id"]]
    assert with_service and all(r["service"] == services[r["service_id"]] for r in with_service)
    assert all(s["key"]["service"] == services[s["key"]["service_id"]]
               for s in report["strata"] if s["key"]["service_id"])
    store = History(history)
    latest = store.scan()
    assert latest is not None
    volume = store.metrics(latest["id"])["incident"]["volume_by_service"]["services"]
    named = [v for v in volume if "id" in v]
    assert named and all(v["service"] == services[v["id"]] for v in named)


def test_names_given_beside_ids_are_learned_and_others_wanted() -> None:
    book = NameBook({("service", "s1"): "Email"})
    record = Record(platform="jira", instance="https://x.test", process="incident",
                    table="incident", id="1", number="ITSM-1", url="", raw={}, fields={
                        "assignment_group": Ref("group", "g1", "Service Desk"),
                        "service": Ref("service", "s1"),
                        "configuration_item": Ref("configuration_item", "c1")})
    book.note(record)
    assert book.learned == {("group", "g1"): "Service Desk"}
    assert book.wanted == {("configuration_item", "c1")}  # s1 is named already
    assert Ref("group", "g1", "Service Desk") == Ref("group", "g1")  # a name is no identity


class _MeetingSource:
    """resolve() of each table waits for the other's at a barrier: reached only when the two
    tables are looked up side by side."""

    def __init__(self) -> None:
        self.meet = threading.Barrier(2, timeout=10)

    def resolve(self, refs: list[Ref], fields: frozenset[str]) -> dict[Ref, Any]:
        self.meet.wait()
        return {ref: SimpleNamespace(raw={"name": f"name of {ref.id}"}, number="")
                for ref in refs}


def test_the_tables_names_are_looked_up_side_by_side() -> None:
    book = NameBook({})
    book.wanted = {("service", "s1"), ("configuration_item", "c1"), ("configuration_item", "c2")}
    assert book.look_up(_MeetingSource()) == ""  # type: ignore[arg-type]
    assert book.learned == {("service", "s1"): "name of s1",
                            ("configuration_item", "c1"): "name of c1",
                            ("configuration_item", "c2"): "name of c2"}


def test_a_record_missing_from_a_table_the_scan_read_whole_is_not_looked_up() -> None:
    asked: list[list[Ref]] = []

    class Source:
        def resolve(self, refs: list[Ref], fields: frozenset[str]) -> dict[Ref, Any]:
            asked.append(list(refs))
            return {ref: SimpleNamespace(raw={"name": "Email"}, number="") for ref in refs}

    whole = {"configuration_item": {"c1"}}  # the CI table as the scan read it: c1 only
    book = NameBook({}, lambda kind, id_: "ci one" if id_ in whole.get(kind, ()) else None,
                    lambda kind, id_: kind in whole and id_ not in whole[kind])
    book.wanted = {("configuration_item", "c1"), ("configuration_item", "gone"), ("service", "s1")}
    assert book.look_up(Source()) == ""  # type: ignore[arg-type]
    assert asked == [[Ref("service", "s1")]]  # "gone" does not exist: no look-up for it
    assert book.learned == {("configuration_item", "c1"): "ci one", ("service", "s1"): "Email"}


def test_names_are_looked_up_while_the_later_tables_pages_come(
        sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the incidents want are asked for before the changes' first page is answered:
    the two meet at a barrier, which names looked up after the last table never reach."""
    from sms_conformance.connectors.servicenow.client import TableClient

    meet, first = threading.Barrier(2, timeout=10), {"change": True, "names": True}
    original = TableClient.list

    def listed(self: TableClient, table: str, params: Any) -> Any:
        kind = ("change" if table == "change_request" and params.get("sysparm_limit") == "1000"
                else "names" if table in ("cmdb_ci", "cmdb_ci_service") else "")
        if kind and first[kind]:
            first[kind] = False
            with contextlib.suppress(threading.BrokenBarrierError):
                meet.wait()
        return original(self, table, params)

    monkeypatch.setattr(TableClient, "list", listed)
    before = name_reads(sandbox)
    scan(sandbox, tmp_path / "h.sqlite")
    assert not meet.broken and not any(first.values())
    assert 0 < name_reads(sandbox) - before <= 10  # each id asked once, as at the end
