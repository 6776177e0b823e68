"""trace (a record's chain, read live) and sample (a stratified sample of a stored scan)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import SCHEMAS, generate
from sms_conformance.store.history import History
from sms_conformance.store.sampling import Scanned, allocate, draw

RECORDS, SEED, AS_OF = 400, 5, "2026-11-01"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def planted_chain() -> tuple[str, str, str, set[str]]:
    """An incident whose problem has a fix change with a configuration item, in the sandbox's
    data; with the numbers of every incident that references that problem."""
    data = generate(records=RECORDS, seed=SEED)
    inc, prb, chg = SCHEMAS["incident"], SCHEMAS["problem"], SCHEMAS["change_request"]
    problems = {prb.get(r, "sys_id"): r for r in data.tables["problem"]}
    changes = {chg.get(r, "sys_id"): r for r in data.tables["change_request"]}
    for row in data.tables["incident"]:
        problem = problems.get(inc.get(row, "problem_id"))
        change = changes.get(prb.get(problem, "rfc")) if problem is not None else None
        if problem is not None and change is not None and chg.get(change, "cmdb_ci"):
            referrers = {inc.get(r, "number") for r in data.tables["incident"]
                         if inc.get(r, "problem_id") == prb.get(problem, "sys_id")}
            return (inc.get(row, "number"), prb.get(problem, "number"),
                    chg.get(change, "number"), referrers)
    raise AssertionError("the sandbox plants incident -> problem -> change chains")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scan of the sandbox, stored."""
    path = tmp_path_factory.mktemp("sample") / "h.sqlite"
    result = invoke("scan", "--source", "sandbox", "--records", str(RECORDS), "--seed",
                    str(SEED), "--as-of", AS_OF, "--history", str(path))
    assert result.exit_code == 0, result.output
    return path


def linked(node: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [child for child in node["linked"] if child["kind"] == kind]


def test_trace_follows_incident_problem_change_ci_and_the_problems_incidents(
        store: Path) -> None:
    incident, problem, change, referrers = planted_chain()
    result = invoke("trace", incident, "--source", "sandbox", "--records", str(RECORDS),
                    "--seed", str(SEED), "--as-of", AS_OF, "--format", "json")
    assert result.exit_code == 0, result.output
    root = json.loads(result.stdout)
    assert (root["kind"], root["number"], root["relation"]) == ("incident", incident, "traced")
    [prb] = linked(root, "problem")
    assert (prb["number"], prb["relation"]) == (problem, f"problem of {incident}")
    [chg] = [c for c in linked(prb, "change") if c["relation"].startswith("fixed by change")]
    assert chg["number"] == change
    [ci] = linked(chg, "configuration_item")
    assert ci["number"] and ci["id"] and not ci["note"]
    # The problem lists the other incidents that reference it, each evaluated.
    others = {c["number"] for c in linked(prb, "incident")}
    assert others == referrers - {incident}
    # Each record's results are those of a scan as of the same moment.
    history = History(store)
    scan_id = history.scan_ids()[-1]
    assert history.has_scanned(scan_id)
    stored: dict[str, set[tuple[str, str]]] = {}
    for f in history.findings(scan_id):
        stored.setdefault(f.number, set()).add((f.rule_id, f.status))
    for node in (root, prb, chg, *linked(prb, "incident")):
        assert node["results"] or node["not_applicable"], node["number"]
        shown = {(r["rule_id"], r["status"]) for r in node["results"] if r["status"] != "pass"}
        assert shown == stored.get(node["number"], set()), node["number"]
        assert all(r["message"] for r in node["results"])


def test_trace_table_shows_the_chain_with_statuses() -> None:
    incident, problem, change, _ = planted_chain()
    result = invoke("trace", incident, "--source", "sandbox", "--records", str(RECORDS),
                    "--seed", str(SEED), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index(f"incident {incident}") < out.index(f"problem {problem}") < out.index(
        f"change {change}")
    assert "  pass " in out and f"(problem of {incident})" in out


def test_trace_of_an_unknown_number_is_one_line_exit_2() -> None:
    """bad input: trace of a number no record has; outcome: one error line naming it, exit 2"""
    result = invoke("trace", "INC9999999", "--source", "sandbox", "--records", "50")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("sandbox:")]
    assert errors == [f"error: INC9999999: no incident, problem, change or request with this number at "
                      f"{errors[0].rsplit(' ', 1)[-1]}"]
    assert "Traceback" not in result.output


# sample -------------------------------------------------------------------------------------

def sample(store: Path, *args: str) -> dict[str, Any]:
    result = invoke("sample", "--history", str(store), "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_same_seed_same_records_different_seed_different(store: Path) -> None:
    one = sample(store, "--size", "25", "--by", "priority,service", "--seed", "42")
    again = sample(store, "--size", "25", "--by", "priority,service", "--seed", "42")
    other = sample(store, "--size", "25", "--by", "priority,service", "--seed", "43")
    numbers = [r["number"] for r in one["records"]]
    assert len(numbers) == 25 == len(set(numbers))
    assert numbers == [r["number"] for r in again["records"]]
    assert set(numbers) != {r["number"] for r in other["records"]}


def test_sample_covers_every_priority_in_proportion_with_results(store: Path) -> None:
    report = sample(store, "--size", "60", "--by", "priority", "--seed", "1",
                    "--process", "incident")
    history = History(store)
    scan_id = report["scan"]["id"]
    population = Counter(row[3] for row in history.scanned(scan_id) if row[0] == "incident")
    assert report["population"] == sum(population.values()) == RECORDS
    drawn = Counter(r["priority"] for r in report["records"])
    assert set(drawn) == set(population), "at least one record of every priority"
    for priority, n in population.items():
        assert abs(drawn[priority] - 60 * n / RECORDS) <= 1.5, priority
    # Results: a drawn record's findings are the stored ones; records with none passed.
    stored: dict[str, set[str]] = {}
    for f in history.findings(scan_id):
        stored.setdefault(f.number, set()).add(f.rule_id)
    assert any(r["result"] == "pass" for r in report["records"])
    assert any(r["result"] == "fail" for r in report["records"])
    for record in report["records"]:
        assert {f["rule_id"] for f in record["findings"]} == stored.get(record["number"], set())
        assert (record["result"] == "pass") == (not record["findings"])


def test_allocation_is_proportional_with_one_per_stratum() -> None:
    sizes = {("1",): 10, ("2",): 90, ("3",): 900}
    assert allocate(sizes, 20) == {("1",): 1, ("2",): 1, ("3",): 18}
    assert allocate(sizes, 100) == {("1",): 1, ("2",): 9, ("3",): 90}
    assert allocate(sizes, 2) == {("3",): 1, ("2",): 1}, "fewer than strata: the largest"
    assert allocate(sizes, 5000) == sizes, "more than the population: everything"
    assert sum(allocate({("a",): 1, ("b",): 1, ("c",): 50}, 10).values()) == 10


def test_draw_does_not_depend_on_the_order_records_come_in() -> None:
    records = [Scanned("incident", f"id{i}", f"INC{i:07}", i % 4 + 1, None, None)
               for i in range(200)]
    forward, _ = draw(records, ("priority",), 12, seed=9)
    backward, _ = draw(list(reversed(records)), ("priority",), 12, seed=9)
    assert forward == backward


@pytest.mark.parametrize(("args", "expected"), [
    (("--size", "0", "--seed", "1"), "--size 0: draw at least 1 record"),
    (("--size", "5", "--seed", "1", "--by", "priority,colour"), "--by 'priority,colour'"),
    (("--size", "5", "--seed", "1", "--scan", "9999"), "--scan 9999: no such scan"),
], ids=["size 0", "unknown --by field", "unknown scan"])
def test_sample_bad_input_is_one_line_exit_2(store: Path, args: tuple[str, ...],
                                             expected: str) -> None:
    """bad input: sample with a size of 0, an unknown --by field or scan; outcome: one error
    line, exit 2"""
    result = invoke("sample", "--history", str(store), *args)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {expected}")


def test_sample_without_a_history_store_is_one_line_exit_2(tmp_path: Path) -> None:
    """bad input: sample from a history store that does not exist; outcome: one error line,
    exit 2, and no store created"""
    missing = tmp_path / "none.sqlite"
    result = invoke("sample", "--history", str(missing), "--size", "5", "--seed", "1")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line == f"error: {missing}: no history store there: run a scan first, or pass --history PATH"
    assert not missing.exists()


def test_scanned_records_round_trip_whatever_their_ids(tmp_path: Path) -> None:
    """sys_ids are stored as 16 bytes, other ids (a file export's numbers, Jira ids) as text:
    both read back as written."""
    from datetime import datetime, timezone

    history = History(tmp_path / "h.sqlite")
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    scan_id = history.start_scan(platform="servicenow", instance="i", source="s", as_of=now,
                                 started=now, incremental=False)
    rows = [("incident", "0123456789abcdef0123456789abcdef", "INC1", 1, "fedcba98" * 4, 5),
            ("incident", "0123456789ABCDEF0123456789ABCDEF", "INC2", None, None, None),
            ("problem", "PRB0040001", "PRB0040001", 3, "Email", 7)]
    history.add_scanned(scan_id, rows[:2])
    history.add_scanned(scan_id, rows[2:])
    history.commit()
    assert sorted(history.scanned(scan_id)) == sorted(rows)
