"""Issue 25, point 4: no record is dropped, live (ServiceNow sandbox) or from files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.connectors.base import Partial
from sms_conformance.engine.links import LinkResolver
from sms_conformance.model.records import Ref
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.store.history import History

AS_OF = "2026-11-01"
DANGLING = "0123456789abcdef0123456789abcdef"
LINK_RULES = ("incident.links.problem_exists", "incident.links.caused_by_exists")


def _evaluated(history: Path, number: str) -> set[tuple[str, str]]:
    store = History(history)
    scan = store.scan_ids()[-1]
    return {(f.rule_id, f.status) for f in store.findings(scan) if f.number == number}


def _scan(source: list[str], history: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["scan", *source, "--as-of", AS_OF, "--history",
                                      str(history), "--format", "json"])
    return result.exit_code, result.output


def test_one_dangling_id_in_two_link_fields_of_a_live_record(
    sandbox: Sandbox, tmp_path: Path,
) -> None:
    """fault: an incident's problem_id and caused_by hold the same id, which is neither a
    problem nor a change (ServiceNow sandbox); outcome: both links are looked up as their own
    kind, the incident is evaluated (both link rules fail on it) and the scan is complete."""
    row = sandbox.store.tables["incident"].rows[3]
    schema = sandbox.store.tables["incident"].schema
    number = schema.get(row, "number")
    sandbox.store.update("incident", schema.get(row, "sys_id"),
                         {"problem_id": DANGLING, "caused_by": DANGLING})
    history = tmp_path / "h.sqlite"
    code, output = _scan(["--source", "servicenow", "--instance", sandbox.url], history)
    assert code in (0, 1), output
    found = _evaluated(history, number)
    assert {(rule, "fail") for rule in LINK_RULES} <= found, found


def test_one_dangling_id_in_two_link_fields_of_an_exported_record(tmp_path: Path) -> None:
    """fault: in a Table API export, an incident's problem_id and caused_by hold the same id,
    which is neither a problem nor a change; outcome: the incident is evaluated, both link
    rules fail on it, the scan is complete."""
    directory = tmp_path / "export"
    export(generate(30, 5), directory)
    path = directory / "incident.json"
    rows = json.loads(path.read_text())["result"]
    rows[3]["problem_id"] = rows[3]["caused_by"] = {"link": "x", "value": DANGLING}
    path.write_text(json.dumps({"result": rows}))
    history = tmp_path / "h.sqlite"
    code, output = _scan(["--source", f"file:{directory}"], history)
    assert code in (0, 1), output
    found = _evaluated(history, rows[3]["number"])
    assert {(rule, "fail") for rule in LINK_RULES} <= found, found


class _Answers:
    """A connector that answers every look-up with nothing found (only `resolve` is used)."""

    platform, instance = "servicenow", "https://example.test"

    def resolve(self, refs: object, fields: object = None) -> Partial[Ref, None]:
        return Partial()


def test_a_missing_problem_and_a_missing_change_of_one_id_are_both_known(rules: object) -> None:
    """bad input: one id looked up as a problem and as a change, neither exists; outcome: both
    are known missing (the cache is keyed by kind and id), neither waits again."""
    links = LinkResolver(_Answers(), [], local=False)  # type: ignore[arg-type]
    problem, change = Ref("problem", DANGLING), Ref("change", DANGLING)
    links._resolve([problem, change])
    assert problem in links.known and change in links.known
    assert links.get(problem) is None and links.get(change) is None


@pytest.mark.parametrize("count", [1, 7])
def test_records_still_waiting_at_the_end_make_the_scan_incomplete(
    count: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """fault: records still wait for look-ups when the scan ends (a resolver defect); outcome:
    the scan is incomplete and names them, never complete without their results."""
    monkeypatch.setattr(LinkResolver, "ready", lambda self, record: False)
    monkeypatch.setattr(LinkResolver, "register", lambda self, record: True)
    directory = tmp_path / "export"
    export(generate(count, 5), directory)
    code, output = _scan(["--source", f"file:{directory}"], tmp_path / "h.sqlite")
    assert code == 3, output
    assert "read but never evaluated" in output
