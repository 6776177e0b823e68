"""The SLA rules (8.3.3) on real records (see SOURCES.md): the 67 demo incidents of a developer
instance, captured with all their fields but without task_sla (no real task_sla row was found
publicly). What the incidents themselves decide must come out as worked out by hand from them;
what needs the SLA records must be unknown with the reason, never a failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.realdata._reports import counts, scan

INCIDENTS = Path(__file__).parent / "pdi_dev197215"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return scan(INCIDENTS, tmp_path_factory.mktemp("sla"))


def test_without_task_sla_no_sla_rule_fails_and_the_gap_is_named(report: dict[str, Any]) -> None:
    assert counts(report, "incident.sla.recorded") == (67, 0, 0, 67)
    gaps = {(g["field"], g["records"]): g["reason"] for g in report["summary"]["unavailable"]
            if g["field"].startswith("sla_")}
    assert set(gaps) == {("sla_count", 67), ("sla_breached", 24), ("sla_paused", 60)}
    assert all("task_sla.json was not exported" in reason for reason in gaps.values())
    assert not [f for f in report["findings"]
                if f["rule_id"].startswith("incident.sla.") and f["status"] == "fail"]


def test_what_the_incidents_decide_alone_holds(report: dict[str, Any]) -> None:
    """By hand from the capture: the 27 resolved or closed incidents are in the breach-reason
    rule's scope, and the 3 with a problem linked (INC0000001, INC0000006, INC0000601) have a
    reason whether or not they breached; the 7 on hold (state 3) all give a hold_reason, so
    their pause, if any, is explained; the other 60 need task_sla to tell whether one paused."""
    rows = json.loads((INCIDENTS / "incident.json").read_text(encoding="utf-8"))["result"]
    closed_with_problem = sorted(r["number"] for r in rows
                                 if r["state"] in ("6", "7") and r["problem_id"])
    assert closed_with_problem == ["INC0000001", "INC0000006", "INC0000601"]
    assert counts(report, "incident.sla.breach_reason") == (27, 3, 0, 24)
    on_hold = [r for r in rows if r["state"] == "3"]
    assert len(on_hold) == 7 and all(r["hold_reason"] for r in on_hold)
    assert counts(report, "incident.sla.pause_reason") == (67, 7, 0, 60)
