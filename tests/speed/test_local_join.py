"""Links answered from the scan itself: the same findings as look-ups, with fewer requests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.base import ConnectorDefaults, NotRead
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine import links as links_module
from sms_conformance.engine.links import LinkResolver
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.records import NamedRef, Process, Record, Ref
from sms_conformance.rules.checks import UnknownValue
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.scan.scanner import OWNER_FIELD, Scanner, ScanOptions
from sms_conformance.store.history import History
from tests.conftest import FROZEN_NOW, make_record

LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)


def scan(box: Sandbox, history: History, *, local_join: bool) -> tuple[Any, ...]:
    config = ConfigDir(None)
    fieldmap = config.fieldmap()
    connector = sandbox_connector(box.url, box.password, fieldmap)
    # The SLA records (task_sla) are read in the same batches with or without the local join.
    rules = [r for r in config.rules() if ".sla." not in r.id]
    scanner = Scanner(connector, rules, history, local_join=local_join)
    outcome = scanner.run(ScanOptions(now=FROZEN_NOW, waivers=Waivers([], FROZEN_NOW.date())),
                          lambda p: fieldmap.for_process(p).table)
    findings = {(f.rule_id, f.number, f.status, f.detail, f.message, f.owner)
                for f in history.findings(outcome.scan_id)}
    counts = {rule: vars(c) for rule, c in outcome.counts.items()}
    return outcome, findings, counts, connector.request_count


@pytest.mark.parametrize("dict_records", [10_000, 0], ids=["dict", "compact"])
def test_local_join_finds_what_look_ups_find_with_fewer_requests(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dict_records: int) -> None:
    # compact: every index past its first record held in sorted arrays, not in a dict
    monkeypatch.setattr(links_module, "DICT_RECORDS", dict_records)
    with Sandbox(records=1500, seed=7) as box:
        # Names of services and CIs are read once and cached in the history store, whichever
        # way links are joined: both stores start with them, so only the links' requests differ.
        warm = History(tmp_path / "names.sqlite")
        scan(box, warm, local_join=True)
        names = warm.names(box.url)
        assert names
        stores = [History(tmp_path / f"{n}.sqlite") for n in "ab"]
        for store in stores:
            store.save_names(box.url, names)
        looked, looked_findings, looked_counts, looked_requests = scan(
            box, stores[0], local_join=False)
        joined, joined_findings, joined_counts, joined_requests = scan(
            box, stores[1], local_join=True)
    assert looked.complete and joined.complete
    assert looked.lookups > 0 and joined.lookups == 0
    # The planted dangling links and unlinked problems/changes are among the findings.
    rules = {f[0] for f in joined_findings}
    assert {"incident.links.problem_exists", "problem.links.incidents"} <= rules
    assert joined_findings == looked_findings
    assert joined_counts == looked_counts
    assert joined_requests < looked_requests / 2


class FakeConnector(ConnectorDefaults):
    """Incidents linking problems; `read_table` as configured."""

    platform, instance = "servicenow", "https://example.test"

    def __init__(self, table_reader: Any) -> None:
        self.notices: list[str] = []
        self.table_reader = table_reader  # None: the connector offers no whole read
        self.resolved: list[list[Ref]] = []

    def read_table(self, kind: str, fields: Set[str], max_requests: int) -> Any:
        return None if self.table_reader is None else self.table_reader(kind, fields,
                                                                        max_requests)

    def fetch(self, request: Any) -> Iterator[Record]:
        return iter(())

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> dict[Ref, Record]:
        refs = list(refs)
        self.resolved.append(refs)
        return {r: make_record("problem", "PRB1", r.id) for r in refs if r.id == "p1"}

    def count_referrers(self, process: Process, field: str, ids: Iterable[str]) -> dict[str, int]:
        return dict.fromkeys(ids, 0)


def resolver(connector: FakeConnector) -> LinkResolver:
    links = LinkResolver(connector, ConfigDir(None).rules(), extra_refs=(OWNER_FIELD,))
    links.expect("incident", 10_000)  # a table large enough for an index to pay off
    return links


def test_a_referenced_table_that_cannot_be_read_stays_unknown_with_a_local_join() -> None:
    def forbidden(table: str, fields: Set[str], max_requests: int) -> None:
        raise NotRead(table, "no read access (HTTP 403)")

    links = resolver(FakeConnector(forbidden))
    incident = make_record("incident", problem=Ref("problem", "p9"))
    assert not links.register(incident)
    with pytest.raises(UnknownValue):
        links.get(Ref("problem", "p9"))


def test_an_index_holds_what_exists_and_answers_missing_without_a_look_up() -> None:
    def whole(table: str, fields: Set[str], max_requests: int) -> Iterator[Record]:
        return iter([make_record("problem", "PRB1", "p1", state="closed")])

    connector = FakeConnector(whole)
    links = resolver(connector)
    assert not links.register(make_record("incident", problem=Ref("problem", "p9"),
                                          updated_at=LONG_AGO))
    found = links.get(Ref("problem", "p1"))
    assert found is not None and found.fields["state"] == "closed"
    assert links.get(Ref("problem", "p9")) is None
    assert connector.resolved == []


def test_a_link_from_a_record_changed_after_the_pass_is_looked_up_before_called_missing() -> None:
    """A problem created while the scan runs is not in the index; the incident linking it was
    changed after the pass began, so the link is looked up, not called "does not exist"."""
    def before_p1_existed(table: str, fields: Set[str], max_requests: int) -> Iterator[Record]:
        return iter([make_record("problem", "PRB0", "p0")])

    connector = FakeConnector(before_p1_existed)
    links = resolver(connector)
    fresh = make_record("incident", problem=Ref("problem", "p1"),
                        updated_at=datetime.now(timezone.utc))
    assert links.register(fresh)  # waits for a look-up
    links.flush(everything=True)
    assert links.ready(fresh)
    assert links.get(Ref("problem", "p1")) is not None  # found by the look-up
    assert connector.resolved == [[Ref("problem", "p1")]]
    unknown_time = make_record("incident", problem=Ref("problem", "p7"))
    assert links.register(unknown_time)  # no change time: looked up too, never guessed


def test_a_table_too_large_for_an_index_is_looked_up() -> None:
    connector = FakeConnector(lambda table, fields, max_requests: None)
    links = resolver(connector)
    incident = make_record("incident", problem=Ref("problem", "p1"))
    assert links.register(incident)  # waits for a look-up batch
    links.flush(everything=True)
    assert links.ready(incident) and links.get(Ref("problem", "p1")) is not None
    assert connector.resolved == [[Ref("problem", "p1")]]


def test_referrers_are_counted_from_the_referring_pages_of_a_whole_read() -> None:
    links = resolver(FakeConnector(None))
    for number in range(3):
        links.tally(make_record("incident", f"INC{number}", f"i{number}",
                                problem=Ref("problem", "p1")))
    links.tallied_all("incident")
    problem = make_record("problem", "PRB1", "p1")
    assert not links.register(problem)
    assert links.referrers(Process.INCIDENT, "problem", "p1") == 3
    assert links.referrers(Process.INCIDENT, "problem", "p2") == 0


def test_a_reference_given_by_name_leaves_the_count_to_the_source() -> None:
    links = resolver(FakeConnector(None))
    links.tally(make_record("incident", "INC1", "i1", problem=Ref("problem", "p1")))
    links.tally(make_record("incident", "INC2", "i2", problem=NamedRef("problem", "PRB1")))
    links.tallied_all("incident")
    problem = make_record("problem", "PRB1", "p1")
    assert links.register(problem)  # waits for the source's count, not the partial tally
