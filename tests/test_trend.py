"""`report trend`: failure rates with their denominators per scan; scans whose counts do not
cover the whole population are marked, never taken for population rates."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.reports.trend import TrendQuery, trend
from sms_conformance.store.history import History
from tests.conftest import rule_lines_of

NOW = datetime.now(timezone.utc).replace(microsecond=0)
A, B = "https://a.example.test", "https://b.example.test"
# rule, clause, process -> (evaluated, failed, unknown) in each scan
RULES = [("incident.x", "8.6.1", "incident"), ("incident.y", "8.6.1", "incident"),
         ("change.z", "8.5.1", "change")]


def add_scan(history: History, days_ago: int, counts: dict[str, tuple[int, int, int]], *,
             instance: str = A, complete: bool = True, incremental: bool = False) -> int:
    moment = NOW - timedelta(days=days_ago)
    scan_id = history.start_scan(platform="servicenow", instance=instance, source="servicenow",
                                 as_of=moment, started=moment, incremental=incremental)
    history.save_counts(scan_id, rule_lines_of([
        (rule, clause, process, "medium", rule, ev, ev - failed - unknown, failed, 0, 0, unknown)
        for rule, clause, process in RULES if rule in counts
        for ev, failed, unknown in [counts[rule]]]))
    history.finish_scan(scan_id, finished=moment, complete=complete, notices=[],
                        error=None if complete else "instance unreachable")
    return scan_id


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "h.sqlite"
    history = History(path)
    add_scan(history, 200, {"incident.x": (100, 90, 0)})  # outside the 90-day window
    add_scan(history, 60, {"incident.x": (100, 10, 0), "incident.y": (50, 5, 10),
                           "change.z": (40, 4, 0)})
    add_scan(history, 50, {"incident.x": (7, 3, 0), "incident.y": (7, 0, 0),
                           "change.z": (2, 1, 0)}, incremental=True)
    add_scan(history, 40, {"incident.x": (30, 1, 0), "incident.y": (10, 0, 0)}, complete=False)
    add_scan(history, 30, {"incident.x": (100, 20, 0)})  # an --only scan: one rule of two
    add_scan(history, 20, {"incident.x": (100, 4, 0), "incident.y": (50, 2, 0),
                           "change.z": (40, 0, 40)})
    add_scan(history, 10, {"incident.x": (100, 50, 0)}, instance=B)
    history.close()
    return path


def test_clause_rates_use_decided_as_denominator_and_mark_partial_scans(store: Path) -> None:
    history = History(store)
    instance, series = trend(history, TrendQuery(since=NOW - timedelta(days=90), clause="8.6.1",
                                                 instance=A))
    assert instance == A
    [clause] = series
    points = clause.points
    assert [p.scan_id for p in points] == [2, 3, 4, 5, 6]
    first = points[0]
    assert (first.evaluated, first.unknown, first.decided, first.failed) == (150, 10, 140, 15)
    assert first.failure_rate == pytest.approx(15 / 140)
    assert first.population and not first.note
    assert [p.population for p in points] == [True, False, False, False, True]
    assert "incremental" in points[1].note and "not the whole population" in points[1].note
    assert "incomplete" in points[2].note
    assert points[3].note == "1 of 2 rules evaluated"


def test_no_decided_record_is_no_evidence_not_a_zero_rate(store: Path) -> None:
    _, series = trend(History(store), TrendQuery(since=NOW - timedelta(days=90), rule="change.z",
                                                 instance=A))
    last = series[0].points[-1]
    assert (last.evaluated, last.decided, last.failure_rate) == (40, 0, None)
    assert last.as_dict()["failure_rate"] is None


def test_default_instance_is_the_latest_scans_and_series_per_clause(store: Path) -> None:
    instance, series = trend(History(store), TrendQuery(since=NOW - timedelta(days=90)))
    assert instance == B
    assert [(s.key, len(s.points)) for s in series] == [("8.6.1", 1)]
    _, by_process = trend(History(store), TrendQuery(since=NOW - timedelta(days=90),
                                                     process="change", instance=A))
    assert [(s.key, [p.scan_id for p in s.points]) for s in by_process] == [("change", [2, 3, 6])]


def test_cli_table_and_json(store: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["report", "trend", "--history", str(store), "--clause", "8.6.1",
                                "--instance", A, "--since", "90d"])
    assert table.exit_code == 0, table.output
    assert "clause 8.6.1 (Incident management)" in table.output
    assert "10.71% (15 of 140)" in table.output
    assert "*" in table.output and "incremental: counts cover only" in table.output
    assert "90.00%" not in table.output  # the scan before the window
    as_json = runner.invoke(cli, ["report", "trend", "--history", str(store), "--rule",
                                  "incident.x", "--instance", A, "--format", "json"])
    data = json.loads(as_json.output)
    points = data["series"][0]["points"]
    assert [p["failure_rate"] for p in points] == [0.1, 0.4286, 0.0333, 0.2, 0.04]
    assert [p["whole_population"] for p in points] == [True, False, False, True, True]


def test_cli_refuses_two_filters_and_a_missing_store(store: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    both = runner.invoke(cli, ["report", "trend", "--history", str(store), "--clause", "8.6.1",
                               "--rule", "incident.x"])
    assert both.exit_code == 2 and "at most one of" in both.output
    missing = runner.invoke(cli, ["report", "trend", "--history", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no history store here" in missing.output
    assert not (tmp_path / "none.sqlite").exists()
