"""The operators of the rule language, table-driven: (check, example record, expected status)."""

from __future__ import annotations

from typing import Any

import pytest

from sms_conformance.model.records import Process
from sms_conformance.rules.checks import FIELD_OPERATORS
from sms_conformance.rules.parse import CheckSyntaxError, ConditionParser

from ._support import status_of

Row = tuple[dict[str, Any], dict[str, Any], str]

def _table(check: dict[str, Any], *rows: tuple[dict[str, Any], str]) -> list[Row]:
    """Rows for one check: (example record, expected status) pairs."""
    return [(check, example, expected) for example, expected in rows]


CONFIRM = {"field": "resolution_notes", "matches": "(?i)confirm"}
NOT_FIXED = {"field": "resolution_notes", "not_matches": r"(?i)^fixed\.?$"}
MIN_10 = {"field": "short_description", "min_length": 10}
FINAL = ["resolved", "closed"]

# One table per field operator; every key of FIELD_OPERATORS must have rows (see the meta-test).
OPERATOR_CASES: dict[str, list[Row]] = {
    "present": [
        *_table(
            {"field": "category", "present": True},
            ({"category": "network"}, "pass"), ({}, "fail"), ({"category": "   "}, "fail"),
        ),
        *_table({"field": "category", "present": False}, ({}, "pass")),
        *_table(
            {"field": "problem", "present": True},
            ({"problem": "prb-1"}, "pass"), ({"problem": ""}, "fail"),
        ),
        *_table({"field": "reopen_count", "present": True}, ({"reopen_count": 0}, "pass")),
    ],
    "absent": [
        *_table(
            {"field": "closed_at", "absent": True},
            ({}, "pass"), ({"closed_at": "2026-10-01 10:00:00"}, "fail"),
        ),
        *_table(
            {"field": "closed_at", "absent": False}, ({"closed_at": "2026-10-01 10:00:00"}, "pass")
        ),
        *_table({"field": "assignment_group", "absent": True}, ({"assignment_group": ""}, "pass")),
    ],
    "equals": [
        *_table(
            {"field": "major_incident", "equals": "accepted"},
            ({"major_incident": "accepted"}, "pass"),
            ({"major_incident": "proposed"}, "fail"),
            ({}, "fail"),
        ),
        *_table(
            {"field": "priority", "equals": 1},
            ({"priority": 1}, "pass"), ({"priority": 2}, "fail"), ({"priority": "1"}, "error"),
        ),
        *_table({"field": "problem", "equals": "prb-1"}, ({"problem": "prb-1"}, "pass")),
    ],
    "not_equals": [
        *_table(
            {"field": "state", "not_equals": "closed"},
            ({"state": "resolved"}, "pass"), ({"state": "closed"}, "fail"), ({}, "pass"),
        ),
        *_table({"field": "priority", "not_equals": 1}, ({"priority": "P1"}, "error")),
    ],
    "in": [
        *_table(
            {"field": "state", "in": FINAL},
            ({"state": "closed"}, "pass"), ({"state": "new"}, "fail"), ({}, "fail"),
        ),
        *_table(
            {"field": "priority", "in": [1, 2]},
            ({"priority": 2}, "pass"), ({"priority": "2"}, "error"),
        ),
    ],
    "not_in": [
        *_table(
            {"field": "state", "not_in": ["canceled"]},
            ({"state": "new"}, "pass"), ({"state": "canceled"}, "fail"), ({}, "pass"),
        ),
        *_table({"field": "impact", "not_in": [1]}, ({"impact": "high"}, "error")),
    ],
    "matches": [
        *_table(
            CONFIRM,
            ({"resolution_notes": "User CONFIRMED"}, "pass"),
            ({"resolution_notes": "fixed"}, "fail"),
            ({}, "fail"),
        ),
        *_table({"field": "impact", "matches": "1"}, ({"impact": 1}, "error")),
    ],
    "not_matches": [
        *_table(
            NOT_FIXED,
            ({"resolution_notes": "fixed after reboot"}, "pass"),
            ({"resolution_notes": "Fixed."}, "fail"),
            ({}, "pass"),
        ),
        *_table({"field": "urgency", "not_matches": "1"}, ({"urgency": 1}, "error")),
    ],
    "min_length": [
        *_table(
            MIN_10,
            ({"short_description": "Disk full!"}, "pass"),
            ({"short_description": "VPN drops"}, "fail"),
            ({"short_description": "  help      "}, "fail"),
            ({}, "fail"),
        ),
        *_table({"field": "priority", "min_length": 1}, ({"priority": 12345}, "error")),
    ],
}

TS = "2026-10-01 08:00:00"
LATER = "2026-10-01 12:00:00"
JUST_AFTER = "2026-10-01 12:00:01"
MATRIX = {1: {1: 1, 2: 2}, 2: {1: 2, 2: 3}}
PRIORITY = {"matrix": {"field": "priority", "row": "impact", "column": "urgency", "table": MATRIX}}
RESTORE = {
    "within": {
        "start": "opened_at", "end": "resolved_at", "by": "priority",
        "targets": {1: "4h", 2: "8h"},
    }
}
ONE_DAY = {"within": {"start": "opened_at", "end": "resolved_at", "targets": "1d"}}
ORDERED = {"field": "resolved_at", "compare": {"op": "ge", "field": "opened_at"}}
AFTER = {"field": "resolved_at", "compare": {"op": "gt", "field": "opened_at"}}
AGED = {"older_than": {"field": "opened_at", "age": "30d"}}
CLOSED_PROBLEM = {"linked": {"field": "problem", "where": [{"field": "state", "equals": "closed"}]}}
LOW_RISK_FIX = {
    "linked": {
        "field": "fixed_by_change",
        "where": [{"field": "risk", "compare": {"op": "le", "value": 2}}],
    }
}
REFERENCED = {"referenced_by": {"process": "incident", "field": "problem"}}
REFERENCED_3 = {"referenced_by": {"process": "incident", "field": "problem", "min": 3}}
BOTH = {"all": [{"field": "category", "present": True}, {"field": "subcategory", "present": True}]}
EITHER = {
    "any": [{"field": "service", "present": True}, {"field": "configuration_item", "present": True}]
}
P1_HAS_PROBLEM = {"field": "problem", "present": True, "when": {"field": "priority", "equals": 1}}
NOT_REOPENED = {
    "field": "reopen_count",
    "compare": {"op": "le", "value": 0},
    "when": {"field": "reopen_count", "present": True},
}

# The other conditions of the rule language; the meta-test below keeps this complete too.
CONDITION_CASES: dict[str, list[Row]] = {
    "compare": [
        *_table(
            ORDERED,
            ({"opened_at": TS, "resolved_at": LATER}, "pass"),
            ({"opened_at": LATER, "resolved_at": TS}, "fail"),
            ({"opened_at": TS, "resolved_at": TS}, "pass"),
            ({"resolved_at": TS}, "error"),
        ),
        *_table(AFTER, ({"opened_at": TS, "resolved_at": TS}, "fail")),
        *_table(
            {"field": "reopen_count", "compare": {"op": "le", "value": 0}},
            ({"reopen_count": 0}, "pass"),
        ),
        *_table(
            {"field": "reopen_count", "compare": {"op": "lt", "value": 1}},
            ({"reopen_count": 2}, "fail"),
        ),
        *_table(
            {"field": "reopen_count", "compare": {"op": "eq", "value": 2}},
            ({"reopen_count": 2}, "pass"),
        ),
        *_table(
            {"field": "reopen_count", "compare": {"op": "ne", "value": 2}},
            ({"reopen_count": 2}, "fail"),
        ),
        *_table({"field": "reopen_count", "compare": {"op": "gt", "value": 0}}, ({}, "error")),
    ],
    "matrix": _table(
        PRIORITY,
        ({"impact": 2, "urgency": 1, "priority": 2}, "pass"),
        ({"impact": 2, "urgency": 2, "priority": 1}, "fail"),
        ({"impact": 2, "urgency": 2}, "fail"),
        ({"impact": 9, "urgency": 1, "priority": 1}, "error"),
        ({"urgency": 1, "priority": 1}, "error"),
    ),
    "within": [
        *_table(
            RESTORE,
            ({"priority": 1, "opened_at": TS, "resolved_at": LATER}, "pass"),
            ({"priority": 1, "opened_at": TS, "resolved_at": JUST_AFTER}, "fail"),
            ({"priority": 2, "opened_at": TS, "resolved_at": JUST_AFTER}, "pass"),
            ({"priority": 5, "opened_at": TS, "resolved_at": LATER}, "error"),
            ({"priority": 1, "opened_at": TS}, "error"),
        ),
        *_table(ONE_DAY, ({"opened_at": TS, "resolved_at": "2026-10-03 08:00:00"}, "fail")),
    ],
    "older_than": _table(
        AGED,
        ({"opened_at": "2026-09-01 00:00:00"}, "pass"),
        ({"opened_at": "2026-10-02 00:00:00"}, "fail"),
        ({"opened_at": "2026-10-01 23:59:59"}, "pass"),
        ({}, "error"),
    ),
    "linked": [
        *_table(
            {"linked": {"field": "problem"}},
            ({"problem": {"state": "new"}}, "pass"),
            ({"problem": "no-such-problem"}, "fail"),
            ({}, "fail"),
        ),
        *_table(
            CLOSED_PROBLEM,
            ({"problem": {"state": "closed"}}, "pass"),
            ({"problem": {"state": "assess"}}, "fail"),
        ),
        *_table(LOW_RISK_FIX, ({"fixed_by_change": {"risk": "low"}}, "error")),
    ],
    "referenced_by": [
        *_table(REFERENCED, ({"_referenced_by": {"incident.problem": 1}}, "pass"), ({}, "fail")),
        *_table(
            REFERENCED_3,
            ({"_referenced_by": {"incident.problem": 2}}, "fail"),
            ({"_referenced_by": {"incident.problem": 3}}, "pass"),
        ),
    ],
    "all": _table(BOTH, ({"category": "a", "subcategory": "b"}, "pass"), ({"category": "a"}, "fail")),
    "any": _table(EITHER, ({"configuration_item": "ci-1"}, "pass"), ({}, "fail")),
    "not": [
        *_table(
            {"not": {"field": "state", "equals": "canceled"}},
            ({"state": "new"}, "pass"), ({"state": "canceled"}, "fail"),
        ),
        *_table({"not": AGED}, ({}, "error")),
    ],
    "when": [
        *_table(
            P1_HAS_PROBLEM,
            ({"priority": 1, "problem": "p"}, "pass"),
            ({"priority": 1}, "fail"),
            ({"priority": 2}, "pass"),
        ),
        *_table(NOT_REOPENED, ({}, "pass"), ({"reopen_count": 1}, "fail")),
        *_table(
            {**PRIORITY, "when": {"field": "impact", "equals": 1}},
            ({"impact": 2, "urgency": 1, "priority": 5}, "pass"),
        ),
    ],
}

# Comparing different types is an evaluation error, never a pass or a fail.
TYPE_MISMATCHES: list[Row] = [
    ({"field": "priority", "compare": {"op": "lt", "value": "3"}}, {"priority": 2}, "error"),
    (
        {"field": "priority", "compare": {"op": "lt", "field": "opened_at"}},
        {"priority": 2, "opened_at": TS},
        "error",
    ),
    ({"field": "priority", "equals": 1}, {"priority": "1"}, "error"),
    ({"field": "priority", "in": [1, 2]}, {"priority": "high"}, "error"),
    ({"field": "impact", "matches": "^1$"}, {"impact": 1}, "error"),
    ({"field": "impact", "min_length": 1}, {"impact": 1}, "error"),
    ({"older_than": {"field": "opened_at", "age": "1d"}}, {"opened_at": 5}, "error"),
    (ONE_DAY, {"opened_at": 1, "resolved_at": 2}, "error"),
    (PRIORITY, {"impact": "1", "urgency": 1, "priority": 1}, "error"),
]


def _rows(table: dict[str, list[Row]]) -> list[Any]:
    return [
        pytest.param(check, example, expected, id=f"{name}[{i}]-{expected}")
        for name, rows in table.items()
        for i, (check, example, expected) in enumerate(rows)
    ]


@pytest.mark.parametrize(("check", "example", "expected"), _rows(OPERATOR_CASES))
def test_field_operator(check: dict[str, Any], example: dict[str, Any], expected: str) -> None:
    assert status_of(check, example) == expected


@pytest.mark.parametrize(("check", "example", "expected"), _rows(CONDITION_CASES))
def test_condition(check: dict[str, Any], example: dict[str, Any], expected: str) -> None:
    process = "problem" if "referenced_by" in check else "incident"
    assert status_of(check, example, process) == expected


@pytest.mark.parametrize(("check", "example", "expected"), _rows({"mismatch": TYPE_MISMATCHES}))
def test_type_mismatch_is_an_error_not_a_failure(
    check: dict[str, Any], example: dict[str, Any], expected: str
) -> None:
    assert status_of(check, example) == expected == "error"


def test_every_field_operator_has_cases() -> None:
    assert set(OPERATOR_CASES) == set(FIELD_OPERATORS), "add rows for every field operator"
    for name, rows in OPERATOR_CASES.items():
        outcomes = {expected for _, _, expected in rows}
        assert {"pass", "fail"} <= outcomes, f"{name} needs a passing and a failing row"


def test_every_condition_has_cases() -> None:
    composites = set(ConditionParser(Process.INCIDENT)._composites())
    assert composites | {"compare", "when"} == set(CONDITION_CASES)
    for name, rows in CONDITION_CASES.items():
        outcomes = {expected for _, _, expected in rows}
        assert {"pass", "fail"} <= outcomes, f"{name} needs a passing and a failing row"


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        ({"field": "category", "present": "yes"}, "present: expects true or false"),
        ({"field": "state", "in": []}, "in: expects a non-empty list"),
        ({"field": "state", "equals": ["a"]}, "equals: expects a single value"),
        ({"field": "resolution_notes", "matches": "("}, "matches:"),
        ({"field": "short_description", "min_length": -1}, "min_length: expects an integer from 0"),
        ({"field": "category", "matchs": "x"}, "unknown check 'matchs'"),
        ({"field": "categroy", "present": True}, "unknown field 'categroy'"),
        ({"field": "priority", "compare": {"op": "before", "value": 1}}, "op must be one of"),
        ({"older_than": {"field": "opened_at", "age": "soon"}}, "not a duration"),
        ({"linked": {"field": "category"}}, "not a reference field"),
        ({"referenced_by": {"process": "ticket", "field": "problem"}}, "unknown process"),
        ({"sometimes": []}, "unknown check 'sometimes'"),
    ],
)
def test_bad_checks_are_rejected_when_parsed(check: dict[str, Any], problem: str) -> None:
    with pytest.raises(CheckSyntaxError, match=None) as info:
        ConditionParser(Process.INCIDENT).parse(check, ("check", 0))
    assert problem in str(info.value)
