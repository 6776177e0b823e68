"""Process metrics: computed from the records read, unknown never counted as zero or a miss, and
in agreement with the rules that judge the same thing."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.records import Ref, Unknown
from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.scan.metrics import (
    MAX_SERVICES,
    OTHER,
    MetricSettings,
    ProcessMetrics,
    Sample,
)
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History
from tests.conftest import FROZEN_NOW, make_record

H = timedelta(hours=1)
GONE = Unknown("resolved_at was not returned by the source")


@pytest.fixture
def metrics(settings: dict[str, Any]) -> ProcessMetrics:
    return ProcessMetrics(MetricSettings.from_settings(settings), FROZEN_NOW)


def incident(n: int, **fields: Any) -> Any:
    return make_record("incident", f"INC{n:07d}", f"i{n}", **fields)


def restored(priority: int, hours: float, n: int, **more: Any) -> Any:
    opened = FROZEN_NOW - timedelta(days=10)
    return incident(n, state="closed", priority=priority, opened_at=opened,
                    resolved_at=opened + hours * H, reopen_count=0, **more)


def test_time_to_restore_by_priority_against_the_settings_targets(metrics: ProcessMetrics) -> None:
    for n, hours in enumerate([1, 2, 3, 5, 6]):  # P1 target 4h: three within, two beyond
        metrics.observe(restored(1, hours, n))
    metrics.observe(restored(2, 9, 10))  # P2 target 8h: beyond
    p1 = metrics.result()["incident"]["time_to_restore"]["1"]
    assert p1["target_seconds"] == 4 * 3600
    assert p1["time_to_restore_seconds"]["count"] == 5
    assert p1["time_to_restore_seconds"]["median"] == 3 * 3600
    assert p1["time_to_restore_seconds"]["p90"] == 6 * 3600
    assert (p1["within_target"], p1["within_target_share"]) == (3, 0.6)
    assert metrics.result()["incident"]["time_to_restore"]["2"]["within_target"] == 0


def test_unknown_and_empty_times_are_counted_apart_never_as_a_miss(metrics: ProcessMetrics) -> None:
    metrics.observe(restored(1, 1, 1))
    metrics.observe(restored(1, 1, 2))
    opened = FROZEN_NOW - timedelta(days=3)
    metrics.observe(incident(3, state="resolved", priority=1, opened_at=opened, resolved_at=GONE,
                             reopen_count=Unknown("not exported")))
    metrics.observe(incident(4, state="closed", priority=1, opened_at=opened, resolved_at=None,
                             reopen_count=None))
    metrics.observe(incident(5, state="closed", priority=Unknown("x"), opened_at=opened,
                             resolved_at=opened + H, reopen_count=2))
    data = metrics.result()["incident"]
    p1 = data["time_to_restore"]["1"]
    assert (p1["time_to_restore_seconds"]["count"], p1["within_target"]) == (2, 2)
    assert p1["within_target_share"] == 1.0, "an unknown time is not a miss"
    assert (p1["unknown"], p1["missing"]) == (1, 1)
    assert data["time_to_restore_priority_gaps"] == {"unknown": 1, "missing": 0}
    reopen = data["reopen"]
    assert (reopen["reopened"], reopen["base"], reopen["unknown"], reopen["missing"]) == (1, 3, 1, 1)


def test_reopen_rate_counts_incidents_resolved_at_least_once(metrics: ProcessMetrics) -> None:
    metrics.observe(incident(1, state="closed", reopen_count=0))
    metrics.observe(incident(2, state="closed", reopen_count=1))
    metrics.observe(incident(3, state="in_progress", reopen_count=2))  # reopened, being worked
    metrics.observe(incident(4, state="new", reopen_count=0))  # never resolved: not in the base
    reopen = metrics.result()["incident"]["reopen"]
    assert (reopen["reopened"], reopen["base"]) == (2, 3)
    assert reopen["rate"] == pytest.approx(2 / 3)


def test_backlog_age_of_open_incidents_with_buckets_and_the_age_limit(
        metrics: ProcessMetrics) -> None:
    for n, days in enumerate([1, 8, 31, 100]):
        metrics.observe(incident(n, state="on_hold", opened_at=FROZEN_NOW - timedelta(days=days)))
    metrics.observe(incident(9, state="new", opened_at=Unknown("not exported")))
    metrics.observe(incident(10, state="closed", opened_at=FROZEN_NOW - timedelta(days=400)))
    backlog = metrics.result()["incident"]["backlog"]
    assert [b["count"] for b in backlog["buckets"]] == [1, 1, 1, 1]
    assert backlog["age_seconds"]["count"] == 4
    assert backlog["over_limit"] == 2  # backlog_max_age 30d
    assert backlog["unknown"] == 1


def test_volume_by_service_is_bounded(metrics: ProcessMetrics) -> None:
    for n in range(MAX_SERVICES + 5):
        metrics.observe(incident(n, service=Ref("cmdb_ci_service", f"svc{n}")))
    metrics.observe(incident(99999, service=None))
    metrics.observe(incident(99998, service=Unknown("hidden")))
    volume = metrics.result()["incident"]["volume_by_service"]
    counts = {s["service"]: s["count"] for s in volume["services"]}
    assert len(counts) == MAX_SERVICES + 1  # the first ones, then one line for the rest
    assert counts[OTHER] == 6  # five services past the cap and "(no service)"
    assert volume["unknown"] == 1


def test_problems_age_and_known_errors_without_workaround(metrics: ProcessMetrics) -> None:
    def problem(n: int, **fields: Any) -> Any:
        return make_record("problem", f"PRB{n:07d}", f"p{n}", **fields)

    metrics.observe(problem(1, state="root_cause_analysis", known_error=True, workaround="",
                            opened_at=FROZEN_NOW - timedelta(days=40)))
    metrics.observe(problem(2, state="closed", known_error=True, workaround="restart"))
    metrics.observe(problem(3, state="closed", known_error=True, workaround=Unknown("acl")))
    metrics.observe(problem(4, state="new", known_error=Unknown("not exported"),
                            opened_at=FROZEN_NOW - timedelta(days=2)))
    metrics.observe(problem(5, state="new", known_error=False, opened_at=None))
    metrics.observe(problem(6, state="assess", known_error=False))  # opened_at not carried at all
    data = metrics.result()["problem"]
    known = data["known_errors"]
    assert (known["count"], known["open"], known["without_workaround"]) == (3, 1, 1)
    assert (known["workaround_unknown"], known["unknown"]) == (1, 1)
    assert data["open_age"]["age_seconds"]["count"] == 2
    assert data["open_age"]["missing"] == 1  # problem 5 has no opening date
    assert data["open_age"]["unknown"] == 1  # problem 6's source did not give one: unknown


def test_change_success_rate_and_emergency_share(metrics: ProcessMetrics) -> None:
    def change(n: int, **fields: Any) -> Any:
        return make_record("change", f"CHG{n:07d}", f"c{n}", **fields)

    metrics.observe(change(1, state="closed", type="normal", resolution_code="successful"))
    metrics.observe(change(2, state="closed", type="emergency",
                           resolution_code="successful_issues"))
    metrics.observe(change(3, state="closed", type="normal", resolution_code="unsuccessful"))
    metrics.observe(change(4, state="closed", type=Unknown("x"), resolution_code=""))
    metrics.observe(change(5, state="implement", type="emergency", resolution_code="successful"))
    data = metrics.result()["change"]
    success, emergency = data["success"], data["emergency"]
    assert (success["successful"], success["closed_with_code"], success["missing"]) == (2, 3, 1)
    assert success["rate"] == pytest.approx(2 / 3)
    assert (emergency["emergency"], emergency["typed"], emergency["unknown"]) == (2, 4, 1)


def test_quantiles_are_exact_and_independent_of_record_order() -> None:
    """Parallel key ranges deliver records in no fixed order: the figures must not depend on it,
    however many durations a line holds."""
    values = [float((v * 7919) % 100_003) for v in range(100_000)]
    forward, shuffled = Sample(), Sample()
    for value in values:
        forward.add(value)
    for value in random.Random(5).sample(values, len(values)):
        shuffled.add(value)
    ordered = sorted(values)
    expected = {"count": 100_000, "median": ordered[49_999], "p90": ordered[89_999],
                "max": ordered[-1], "exact": True}
    assert forward.summary() == shuffled.summary() == expected
    small = Sample()
    for value in range(1, 101):
        small.add(float(value))
    assert small.summary() == {"count": 100, "median": 50.0, "p90": 90.0, "max": 100.0,
                               "exact": True}


def test_scan_stores_metrics_that_agree_with_the_rules_on_the_sandbox(tmp_path: Path) -> None:
    """The metrics and the rules judge the same records with the same settings: the misses
    the metrics count are exactly the rules' failures."""
    config = ConfigDir(None)
    fieldmap = config.fieldmap()
    history = History(tmp_path / "h.sqlite")
    with Sandbox(records=600, seed=3) as box:
        outcome = Scanner(sandbox_connector(box.url, box.password, fieldmap), config.rules(),
                          history).run(
            ScanOptions(now=DEFAULT_ANCHOR, waivers=Waivers([], DEFAULT_ANCHOR.date())),
            lambda p: fieldmap.for_process(p).table)
    failed = {c["rule_id"]: c["failed"] for c in history.counts(outcome.scan_id)}
    stored = history.metrics(outcome.scan_id)
    incident, problem, change = stored["incident"], stored["problem"], stored["change"]
    assert incident["records"] == outcome.records["incident"]
    assert incident["population"] == "all records"
    beyond = sum(line["time_to_restore_seconds"]["count"] - line["within_target"]
                 for line in incident["time_to_restore"].values())
    assert beyond == failed["incident.restore.within_target"] > 0
    assert incident["backlog"]["over_limit"] == failed["incident.backlog.aging"] > 0
    assert incident["reopen"]["reopened"] == failed["incident.reopen.none"] > 0
    assert (problem["known_errors"]["without_workaround"]
            == failed["problem.known_error.workaround"] > 0)
    assert change["success"]["missing"] == failed["change.closure.code"] > 0
