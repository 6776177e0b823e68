"""Records withheld by read ACLs: a link to one, or a referrer count missing some, is unknown."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Set
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli import cli
from sms_conformance.connectors.base import ConnectorDefaults, Partial, TableRows
from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.engine.links import LinkResolver
from sms_conformance.model.findings import Status
from sms_conformance.model.records import Process, Record, Ref
from sms_conformance.rules.checks import Context, UnknownValue
from sms_conformance.rules.model import Rule, Severity
from sms_conformance.rules.parse import ConditionParser
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.scan.scanner import OWNER_FIELD
from sms_conformance.store.history import History
from tests.conftest import FROZEN_NOW, make_record
from tests.speed.test_local_join import scan
from tests.test_writeback_e2e import get, parent

WITHHELD = "the instance withheld"


def hidden_ids(box: Sandbox) -> set[str]:
    return {tab.schema.get(row, "sys_id") for tab in box.store.tables.values()
            for row in tab.rows if box.store.is_hidden(row)}


def statuses(rate: float, tmp_path: Path, local_join: bool) -> dict[tuple[str, str], tuple[str, str]]:
    """(rule, number) -> (status, detail) of a full scan of the same instance at `rate`."""
    with Sandbox(records=600, seed=4, acl_hidden_rate=rate) as box:
        _, findings, _, _ = scan(box, History(tmp_path / f"{rate}-{local_join}.sqlite"),
                                 local_join=local_join)
    return {(rule, number): (status, detail) for rule, number, status, detail, _, _ in findings}


@pytest.mark.parametrize("local_join", [True, False], ids=["index-pass", "look-ups"])
def test_records_withheld_by_read_acls_add_no_failure(local_join: bool, tmp_path: Path) -> None:
    """fault: read ACLs withhold a tenth of the records (X-Total-Count still counts them);
    outcome: no finding fails that does not fail with every record readable, links to withheld
    records and referrer counts that may miss some are unknown, naming the withheld records."""
    readable = statuses(0.0, tmp_path, local_join)
    withheld = statuses(0.1, tmp_path, local_join)
    failing = {key for key, (status, _) in readable.items() if status == "fail"}
    assert {key for key, (status, _) in withheld.items() if status == "fail"} <= failing
    turned = {key[0] for key in failing
              if withheld.get(key, ("", ""))[0] == "unknown" and WITHHELD in withheld[key][1]}
    # Links into each kind and both referrer counts read withheld records.
    assert {"incident.links.problem_exists", "incident.links.caused_by_exists",
            "problem.links.incidents", "change.failed.incidents_linked"} <= turned
    assert all("read ACLs?" in detail for status, detail in withheld.values()
               if WITHHELD in detail)


def links_to_hidden(box: Sandbox) -> dict[str, str]:
    """Readable incident sys_id -> the rule its link to a withheld record decides."""
    hidden, tab = hidden_ids(box), box.store.tables["incident"]
    rules = {"problem_id": "incident.links.problem_exists",
             "caused_by": "incident.links.caused_by_exists"}
    return {tab.schema.get(row, "sys_id"): rule for row in tab.rows if not box.store.is_hidden(row)
            for field, rule in rules.items() if tab.schema.get(row, field) in hidden}


def test_write_back_creates_no_task_for_a_link_to_a_withheld_record(tmp_path: Path,
                                                                    monkeypatch) -> None:
    """fault: read ACLs withhold linked records during a write-back run; outcome: no task
    names a link that cannot be checked, its finding is unknown naming the withheld records."""
    with Sandbox(records=600, seed=4, acl_hidden_rate=0.1) as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        out = tmp_path / "r.json"
        result = CliRunner().invoke(cli, [
            "scan", "--source", "servicenow", "--instance", box.url, "--history",
            str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01", "--full", "--write-back",
            "--max-new-tasks", "5000", "--format", "json", "--output", str(out)])
        assert result.exit_code == 0, result.output
        findings = {(f["record_id"], f["rule_id"]): f
                    for f in json.loads(out.read_text())["findings"]}
        hidden_links = links_to_hidden(box)
        tasks = get(box, "incident_task")
    assert hidden_links and tasks  # write-back ran and acted on the real failures
    for record_id, rule_id in hidden_links.items():
        finding = findings[(record_id, rule_id)]
        assert finding["status"] == "unknown" and WITHHELD in finding["message"], finding
        named = [t for t in tasks if parent(t, "incident") == record_id
                 and rule_id in t["description"]]
        assert not named, (rule_id, named)


# LinkResolver with a fake connector: each way a link or a count is read ------------------

LONG_AGO = datetime(2020, 1, 1, tzinfo=timezone.utc)
REASON = "the instance withheld 3 problem record(s) from this user (read ACLs?)"


class WithholdingConnector(ConnectorDefaults):
    """Problem p1 exists, p9 is withheld (counted, not returned), p5 does not exist."""

    platform, instance = "servicenow", "https://example.test"

    def __init__(self, pass_withheld: int | None = None, fetch_withheld: int = 0) -> None:
        self.notices: list[str] = []
        self.pass_withheld = pass_withheld  # None: no index pass, look-ups only
        self.fetch_withheld = fetch_withheld

    def fetch(self, request: Any) -> Iterator[Record]:
        return iter(())

    def read_table(self, kind: str, fields: Set[str], max_requests: int) -> TableRows | None:
        if self.pass_withheld is None:
            return None
        withheld = self.pass_withheld
        return TableRows([make_record("problem", "PRB1", "p1")], lambda: withheld)

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> Partial[Ref, Record]:
        found: Partial[Ref, Record] = Partial()
        for ref in refs:
            if ref.id == "p1":
                found[ref] = make_record("problem", "PRB1", "p1")
            elif ref.id == "p9":
                found.withheld[ref] = f"problem p9 was not returned: {REASON}"
        return found

    def count_referrers(self, process: Process, field: str, ids: Iterable[str]
                        ) -> Partial[str, int]:
        counts: Partial[str, int] = Partial()
        counts.update({i: 2 if i == "p1" else 0 for i in ids})
        counts.withheld.update(dict.fromkeys(counts, REASON))
        return counts

    def withheld(self, process: Process | str) -> int:
        return self.fetch_withheld


def resolver(connector: WithholdingConnector, expected: int = 10_000) -> LinkResolver:
    links = LinkResolver(connector, ConfigDir(None).rules(), extra_refs=(OWNER_FIELD,))
    links.expect("incident", expected)  # large enough for an index pass to pay off
    return links


def linking(problem_id: str) -> Record:
    return make_record("incident", problem=Ref("problem", problem_id), updated_at=LONG_AGO)


def test_an_id_missing_from_a_pass_that_withheld_records_is_unknown() -> None:
    """fault: the index pass over problems withheld 3 records; outcome: a link to a problem
    not in the pass is unknown naming the withheld count, one in the pass still resolves."""
    links = resolver(WithholdingConnector(pass_withheld=3))
    assert not links.register(linking("p9"))
    with pytest.raises(UnknownValue, match="problem p9 was not returned: " + re.escape(REASON)):
        links.get(Ref("problem", "p9"))
    assert links.get(Ref("problem", "p1")) is not None
    complete = resolver(WithholdingConnector(pass_withheld=0))
    assert not complete.register(linking("p9"))
    assert complete.get(Ref("problem", "p9")) is None  # nothing withheld: it does not exist


def test_a_look_up_that_withheld_records_leaves_those_unknown() -> None:
    """fault: a look-up batch counted a problem it did not return; outcome: that link is
    unknown, a record found still resolves and one neither found nor withheld is missing."""
    links = resolver(WithholdingConnector(pass_withheld=None))
    records = [linking(i) for i in ("p1", "p9", "p5")]
    assert all(links.register(r) for r in records)
    links.flush(everything=True)
    assert all(links.ready(r) for r in records)
    with pytest.raises(UnknownValue, match=re.escape(REASON)):
        links.get(Ref("problem", "p9"))
    assert links.get(Ref("problem", "p1")) is not None
    assert links.get(Ref("problem", "p5")) is None


def referenced(minimum: int) -> Rule:
    parser = ConditionParser(Process.PROBLEM)
    check = {"referenced_by": {"process": "incident", "field": "problem", "min": minimum}}
    return Rule(id="problem.test.referenced", title="t", clause="8.6.3", process=Process.PROBLEM,
                severity=Severity.LOW, scope={}, check=(parser.parse(check, ("check", 0)),),
                message="{number}", remediation="fix")


def test_a_tally_of_a_referring_table_that_withheld_records_decides_only_enough() -> None:
    """fault: reading the incidents whole withheld 2 of them; outcome: a problem counted below
    the rule's minimum is unknown (not a failure), one counted at the minimum passes."""
    links = resolver(WithholdingConnector(fetch_withheld=2))
    for number in range(2):
        links.tally(make_record("incident", f"INC{number}", f"i{number}",
                                problem=Ref("problem", "p1")))
    links.tallied_all("incident")
    ctx = Context(FROZEN_NOW, links)
    p1, p2 = make_record("problem", "PRB1", "p1"), make_record("problem", "PRB2", "p2")
    assert not links.register(p1) and not links.register(p2)
    assert evaluate_one(referenced(2), p1, ctx).status is Status.PASS
    assert evaluate_one(referenced(3), p1, ctx).status is Status.UNKNOWN
    unknown = evaluate_one(referenced(1), p2, ctx)
    assert unknown.status is Status.UNKNOWN and "withheld 2 incident" in unknown.detail
    complete = resolver(WithholdingConnector(fetch_withheld=0))
    complete.tallied_all("incident")
    assert not complete.register(p2)
    assert evaluate_one(referenced(1), p2, Context(FROZEN_NOW, complete)).status is Status.FAIL


def test_a_count_look_up_that_withheld_records_decides_only_enough() -> None:
    """fault: counting referrers by look-up withheld incidents; outcome: a count below the
    minimum is unknown naming the withheld records, a count at the minimum passes."""
    links = resolver(WithholdingConnector(), expected=0)  # the incidents were not read whole
    p1, p2 = make_record("problem", "PRB1", "p1"), make_record("problem", "PRB2", "p2")
    assert links.register(p1) and links.register(p2)
    links.flush(everything=True)
    ctx = Context(FROZEN_NOW, links)
    assert evaluate_one(referenced(2), p1, ctx).status is Status.PASS
    unknown = evaluate_one(referenced(1), p2, ctx)
    assert unknown.status is Status.UNKNOWN and REASON in unknown.detail
