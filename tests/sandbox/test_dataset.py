"""The generator: determinism, formats, links, and the planted-defect contract."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from sms_conformance.sandbox.dataset import Dataset, generate
from sms_conformance.sandbox.schema import PRIORITY_MATRIX, SCHEMAS
from tests.sandbox import _rules

RULE_DOC = Path(__file__).resolve().parents[2] / "docs" / "rule-ids.md"
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def records(data: Dataset, table: str) -> list[dict[str, str]]:
    return [data.record(table, row) for row in data.tables[table]]


def processes(data: Dataset) -> dict[str, list[dict[str, str]]]:
    return {t: records(data, t) for t in ("incident", "problem", "change_request", "task_sla",
                                          "sc_req_item", "sc_request", "cmdb_ci")}


@pytest.fixture(scope="module")
def data() -> Dataset:
    return generate(2000, 7)


def test_sizes_follow_records(data: Dataset) -> None:
    sizes = {t: len(rows) for t, rows in data.tables.items()}
    assert sizes["incident"] == 2000
    assert sizes["problem"] == 300
    assert sizes["change_request"] == 500
    assert sizes["sys_user"] == 200
    assert sizes["sys_user_group"] == 15
    assert sizes["cmdb_ci"] == 308  # 300 in use, 4 retired, 4 without a support group
    assert sizes["cmdb_ci_service"] == 25
    assert sizes["sc_req_item"] == sizes["sc_request"] == 600
    assert sizes["sc_cat_item"] == 10
    assert sizes["incident_task"] == sizes["problem_task"] == sizes["change_task"] == 0
    assert sizes["sc_task"] == 0


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = generate(400, 3), generate(400, 3), generate(400, 4)
    assert a.tables == b.tables
    assert a.planted == b.planted
    assert a.tables["incident"] != c.tables["incident"]


def test_group_names_are_realistic(data: Dataset) -> None:
    names = {r["name"] for r in records(data, "sys_user_group")}
    assert {"Service Desk", "Network Operations", "Database Administration",
            "Change Advisory Board"} <= names


def test_values_are_strings_ids_hex_datetimes_before_anchor(data: Dataset) -> None:
    anchor = "2026-11-01 00:00:00"
    for table in ("incident", "problem", "change_request", "sys_user", "cmdb_ci"):
        schema = SCHEMAS[table]
        for rec in records(data, table):
            assert SYS_ID.match(rec["sys_id"])
            for name, value in rec.items():
                assert isinstance(value, str), (table, name)
                if value and (name.endswith(("_at", "_on", "_date")) or name in (
                        "work_start", "work_end", "start_date", "end_date")):
                    assert DATETIME.match(value), (table, name, value)
                    assert value < anchor, (table, rec.get("number"), name, value)
                if name in schema.refs and value and value != "global":
                    assert SYS_ID.match(value), (table, name, value)


def test_numbers_are_sequential_by_opened(data: Dataset) -> None:
    for table, prefix, first in (("incident", "INC", 10001), ("problem", "PRB", 40001),
                                 ("change_request", "CHG", 30001)):
        recs = sorted(records(data, table), key=lambda r: r["number"])
        assert recs[0]["number"] == f"{prefix}{first:07d}"
        assert recs[-1]["number"] == f"{prefix}{first + len(recs) - 1:07d}"


def test_rows_are_sorted_by_sys_id(data: Dataset) -> None:
    for rows in data.tables.values():
        ids = [r[0] for r in rows]
        assert ids == sorted(ids)


def test_state_models_and_choices(data: Dataset) -> None:
    recs = processes(data)
    inc = recs["incident"]
    assert {r["state"] for r in inc} == {"1", "2", "3", "6", "7", "8"}
    assert all(r["incident_state"] == r["state"] for r in inc)
    assert {r["state"] for r in recs["problem"]} <= {"101", "102", "103", "104", "106", "107"}
    assert {r["resolution_code"] for r in recs["problem"]} <= {
        "", "fix_applied", "risk_accepted", "duplicate", "canceled"}
    assert {r["state"] for r in recs["change_request"]} == {
        "-5", "-4", "-3", "-2", "-1", "0", "3", "4"}
    assert {r["close_code"] for r in recs["change_request"]} <= {
        "", "successful", "successful_issues", "unsuccessful"}
    assert {r["approval"] for r in recs["change_request"]} <= {
        "not requested", "requested", "approved", "rejected"}
    codes = {r["close_code"] for r in inc if r["close_code"]}
    assert {"Solution provided", "Resolved by problem", "Resolved by change",
            "Workaround provided"} <= codes


def test_clean_records_follow_priority_matrix(data: Dataset) -> None:
    planted = data.planted
    for rec in records(data, "incident"):
        if rec["number"] not in planted:
            assert rec["priority"] == PRIORITY_MATRIX[(rec["impact"], rec["urgency"])]


def test_records_are_linked(data: Dataset) -> None:
    recs = processes(data)
    problems = {r["sys_id"] for r in recs["problem"]}
    changes = {r["sys_id"] for r in recs["change_request"]}
    inc = recs["incident"]
    assert sum(1 for r in inc if r["problem_id"] in problems) > 100
    assert sum(1 for r in inc if r["caused_by"] in changes) > 20
    assert sum(1 for r in inc if r["rfc"] in changes) > 20
    assert sum(1 for r in recs["problem"] if r["rfc"] in changes) > 50


def test_every_record_fails_exactly_its_planted_rules(data: Dataset) -> None:
    actual = _rules.failures(processes(data))
    assert actual == data.planted


@pytest.mark.parametrize("records,seed,rate", [(200, 1, 0.2), (1000, 2, 0.5), (57, 3, 0.3),
                                               (1300, 9, 0.05), (3, 4, 1.0), (0, 1, 0.2)])
def test_contract_holds_across_sizes_and_seeds(records: int, seed: int, rate: float) -> None:
    data = generate(records, seed, defect_rate=rate)
    assert _rules.failures(processes(data)) == data.planted


def test_no_defects_when_rate_zero() -> None:
    data = generate(1000, 5, defect_rate=0.0)
    assert data.planted == {}
    assert _rules.failures(processes(data)) == {}


def test_defect_share_close_to_rate(data: Dataset) -> None:
    # The CI defects (sandbox.cmdb) and the incidents reworded as asks (sandbox.misfiled) come
    # beside the share: a few clean records per rule.
    ci_rules = {f"{p}.ci.{r}" for p in ("incident", "change")
                for r in ("exists", "not_retired", "support_group")}
    ci_only = {n for n, rules in data.planted.items() if set(rules) <= ci_rules}
    assert Counter(n[:3] for n in ci_only) == {"INC": 24, "CHG": 6}
    misfiled = {n for n, rules in data.planted.items()
                if rules == ["incident.classification.not_request"]}
    assert len(misfiled) == round((400 + 24) / 50)
    by_table = Counter(number[:3] for number in data.planted
                       if number not in ci_only | misfiled)
    assert abs(by_table["INC"] - 400) <= 5
    assert abs(by_table["PRB"] - 60) <= 5
    assert abs(by_table["CHG"] - 100) <= 5
    assert abs(by_table["RIT"] - 120) <= 5
    assert all(1 <= len(rules) <= 2 for rules in data.planted.values())


def test_every_rule_kind_planted_at_2000(data: Dataset) -> None:
    ids = _rules.all_rule_ids(RULE_DOC.read_text())
    assert len(ids) == 63
    planted = Counter(rule for rules in data.planted.values() for rule in rules)
    assert [rule for rule in ids if rule not in planted] == []


def test_standard_change_plan_and_problem_owner_defects_are_planted(data: Dataset) -> None:
    changes = {r["number"]: r for r in records(data, "change_request")}
    standard_unplanned = [
        n for n, rules in data.planted.items()
        if n in changes and changes[n]["type"] == "standard"
        and any(rule.startswith("change.plan.") for rule in rules)
    ]
    assert standard_unplanned
    assert all(not changes[n]["implementation_plan"] or not changes[n]["backout_plan"]
               or not changes[n]["test_plan"] for n in standard_unplanned)
    problems = {r["number"]: r for r in records(data, "problem")}
    unowned = [n for n, rules in data.planted.items()
               if "problem.ownership.assignment_group" in rules]
    assert unowned and all(not problems[n]["assignment_group"] for n in unowned)
    assert all(problems[n]["state"] != "101" for n in unowned)


def test_duplicate_and_canceled_problems_are_clean_without_cause_or_incidents(
        data: Dataset) -> None:
    linked = {r["problem_id"] for r in records(data, "incident")}
    retired = [r for r in records(data, "problem")
               if r["resolution_code"] in ("duplicate", "canceled")]
    assert retired and {r["state"] for r in retired} == {"107"}
    clean = [r for r in retired if r["number"] not in data.planted]
    assert clean
    assert all(not r["cause_notes"] and r["sys_id"] not in linked for r in clean)


def test_closure_notes_of_clean_records_carry_validation(data: Dataset) -> None:
    for rec in records(data, "incident"):
        if rec["state"] in ("6", "7") and rec["number"] not in data.planted:
            assert _rules.VALIDATION.search(rec["close_notes"]), rec["close_notes"]


def test_open_incidents_are_recent_and_resolutions_within_target(data: Dataset) -> None:
    clean = [r for r in records(data, "incident") if r["number"] not in data.planted]
    assert not _rules.failures({"incident": clean, "problem": records(data, "problem"),
                                "change_request": records(data, "change_request"),
                                "cmdb_ci": records(data, "cmdb_ci")}).get(
        clean[0]["number"])
    opens = [r for r in clean if r["state"] in ("1", "2", "3")]
    assert opens and all(r["opened_at"] >= "2026-10-02 00:00:00" for r in opens)


def test_bad_defect_rate_is_refused() -> None:
    with pytest.raises(ValueError):
        generate(10, 1, defect_rate=1.5)


def test_cache_round_trip(tmp_path: Path) -> None:
    first = generate(300, 6, cache_dir=tmp_path)
    files = list(tmp_path.glob("sandbox-300-6-*.marshal"))
    assert len(files) == 1
    again = generate(300, 6, cache_dir=tmp_path)
    assert again.tables == first.tables and again.planted == first.planted
    assert generate(300, 7, cache_dir=tmp_path).tables != first.tables
    assert len(list(tmp_path.glob("*.marshal"))) == 2
