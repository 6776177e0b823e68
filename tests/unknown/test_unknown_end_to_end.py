"""Unknown end to end: a subset export, a table not exported, a field hidden between runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export
from tests.test_writeback_e2e import tasks

KEPT = {"sys_id", "number", "state", "short_description", "priority", "impact", "urgency",
        "opened_at", "assignment_group", "category", "sys_updated_on"}


@pytest.fixture(scope="module")
def full_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("full")
    export(generate(300, 5), out)
    return out


def report(source: str, tmp_path: Path, name: str) -> dict:
    out = tmp_path / f"{name}.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", source, "--history", str(tmp_path / f"{name}.sqlite"),
        "--as-of", "2026-11-01", "--format", "json", "--output", str(out),
    ])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def failures(rep: dict) -> set[tuple[str, str]]:
    return {(f["rule_id"], f["number"]) for f in rep["findings"] if f["status"] == "fail"}


def copy_export(src: Path, dst: Path, keep: set[str] | None, tables: tuple[str, ...]) -> Path:
    dst.mkdir()
    for table in tables:
        rows = orjson.loads((src / f"{table}.json").read_bytes())["result"]
        if keep is not None and table == "incident":
            rows = [{k: v for k, v in row.items() if k in keep} for row in rows]
        (dst / f"{table}.json").write_bytes(orjson.dumps({"result": rows}))
    return dst


def test_a_subset_export_adds_no_failure_and_names_what_it_lacks(full_export, tmp_path) -> None:
    subset = copy_export(full_export, tmp_path / "subset", KEPT,
                         ("incident", "problem", "change_request"))
    full, part = report(f"file:{full_export}", tmp_path, "full"), report(f"file:{subset}", tmp_path, "part")
    assert failures(part) <= failures(full)
    assert failures(part), "the kept columns still show real failures"
    gaps = {g["field"]: g for g in part["summary"]["unavailable"] if g["process"] == "incident"}
    assert {"resolution_notes", "reporter", "resolved_at"} <= set(gaps)
    assert "incident.closure.validated" in gaps["resolution_notes"]["rules"]
    assert "close_notes was not returned" in gaps["resolution_notes"]["reason"]
    for rule in part["summary"]["rules"]:
        assert rule["evaluated"] == (rule["passed"] + rule["failed"] + rule["unknown"]
                                     + rule["errors"] + rule["waived"])
    blinded = {r["rule_id"]: r for r in part["summary"]["rules"]}["incident.closure.validated"]
    assert blinded["unknown"] == blinded["evaluated"] > 0 and blinded["failed"] == 0
    assert blinded["failure_rate"] is None and blinded["no_evidence"] is True  # never "0% failed"
    partial = {r["rule_id"]: r for r in part["summary"]["rules"]}["incident.logging.priority"]
    assert partial["no_evidence"] is False and partial["unknown"] == 0


def test_links_into_a_table_not_exported_are_unknown_never_missing(full_export, tmp_path) -> None:
    alone = copy_export(full_export, tmp_path / "alone", None, ("incident",))
    full, part = report(f"file:{full_export}", tmp_path, "full"), report(f"file:{alone}", tmp_path, "alone")
    exists_rules = {"incident.links.problem_exists", "incident.links.caused_by_exists"}
    assert any(f["rule_id"] in exists_rules for f in full["findings"] if f["status"] == "fail")
    assert not [f for f in part["findings"] if f["status"] == "fail" and f["rule_id"] in exists_rules]
    assert not [f for f in part["findings"] if "does not exist" in f["message"]
                and f["status"] == "fail"]
    gaps = {(g["process"], g["field"]) for g in part["summary"]["unavailable"]}
    assert ("incident", "problem") in gaps
    assert failures(part) <= failures(full)


def scan(box: Sandbox, history: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
        "--as-of", "2026-11-01", "--write-back", "--max-new-tasks", "5000", "--full",
    ])
    return result.exit_code, result.output


def task_writes(box: Sandbox) -> int:
    """Writes of any kind (create, update, close) the sandbox answered on its task tables."""
    return sum(n for (method, table), n in box.stats.counts.items()
               if method in ("POST", "PUT", "PATCH", "DELETE") and table.endswith("_task"))


def task_states(box: Sandbox) -> Counter[str]:
    return Counter(t["state"] for t in tasks(box))


@pytest.mark.parametrize("hidden", ["incident.state", "incident.close_notes"])
def test_a_field_hidden_between_runs_creates_and_closes_nothing(hidden, tmp_path, monkeypatch) -> None:
    """fault: a read ACL hides a field the rules read between two runs; outcome: zero task
    writes of any kind (created, updated, closed), the scan names the field."""
    with Sandbox(records=200, seed=4) as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        history = tmp_path / "h.sqlite"
        assert scan(box, history)[0] == 0
        before = task_states(box)
        assert before
        table, field = hidden.split(".")
        box.store.hidden_fields = {table: frozenset({field})}
        writes = task_writes(box)
        code, out = scan(box, history)
        assert code == 0, out
        assert task_states(box) == before
        assert task_writes(box) == writes, "a blinded rule edited a task"
        canonical = "state" if field == "state" else "resolution_notes"
        assert f"incident.{canonical} is empty on every record" in out
        assert "read ACLs" in out
        code, out = scan(box, history)  # the ACL stays: still nothing acted on, still named
        assert code == 0, out
        assert task_states(box) == before
        assert task_writes(box) == writes
        assert f"incident.{canonical} is empty on every record" in out
        box.store.hidden_fields = {}
        code, out = scan(box, history)  # readable again: business as usual, nothing to change
        assert code == 0, out
        assert task_states(box) == before


def test_a_scan_of_fewer_rules_between_runs_keeps_the_hidden_field_baseline(tmp_path, monkeypatch) -> None:
    """fault: a read ACL hides a field, then a scan with --only that does not read it runs
    before the next full one; outcome: the full run still takes the field for hidden, zero tasks
    created or closed."""
    with Sandbox(records=200, seed=4) as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        history = tmp_path / "h.sqlite"
        assert scan(box, history)[0] == 0
        before = task_states(box)
        box.store.hidden_fields = {"incident": frozenset({"close_notes"})}
        narrow = CliRunner().invoke(cli, [
            "scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
            "--as-of", "2026-11-01", "--full", "--only", "incident.logging.category"])
        assert narrow.exit_code == 0, narrow.output
        code, out = scan(box, history)
        assert code == 0, out
        assert "incident.resolution_notes is empty on every record" in out
        assert task_states(box) == before
