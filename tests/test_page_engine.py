"""The engine evaluates a page of records at a time: every record of a page gets the result it
gets alone (a page of one, evaluate_one), whatever the other records of the page hold. Each
kernel of `all` / `any` / `when` / `where` runs only on the records still undecided, so a page
mixing records that decide at different items is what these tests hold to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sms_conformance.engine.evaluate import PAGE, RuleSet, Verdict, evaluate, evaluate_one
from sms_conformance.engine.results import RuleResult
from sms_conformance.model.findings import Status
from sms_conformance.model.records import Process, Record, Ref, Unknown, not_returned
from sms_conformance.rules.checks import Context
from sms_conformance.rules.examples import ExampleLinks, build_example
from sms_conformance.rules.model import Rule

from .rules._support import FROZEN_NOW, make_rule, pack, rule_for

STATUS = {Verdict.PASSED: "pass", Verdict.OUT_OF_SCOPE: "not_applicable"}


def _shown(result: RuleResult) -> tuple[Any, ...]:
    return result.status, result.detail, result.observed, result.unknown


def _examples_page(process: Process) -> tuple[list[Record], list[tuple[Rule, str]], Context]:
    """Every example of every rule of `process` (those run with the shipped settings) as one
    page, with one link view holding all their linked records."""
    records, expected, links = [], [], ExampleLinks()
    for rule in (r for r in pack() if r.process == process):
        for kind, examples in (("pass", rule.examples.pass_), ("fail", rule.examples.fail)):
            for example in examples:
                if rule_for(rule, example) is not rule:
                    continue
                record, own = build_example(rule, example, f"{rule.id}:{kind}:{len(records)}")
                links.records.update(own.records)
                links.counts.update(own.counts)
                records.append(record)
                expected.append((rule, kind))
    return records, expected, Context(now=FROZEN_NOW, links=links)


@pytest.mark.parametrize("process", [p for p in Process if any(r.process == p for r in pack())])
def test_every_example_of_a_process_on_one_page(process: Process) -> None:
    records, expected, ctx = _examples_page(process)
    assert len(records) > 5
    judged = RuleSet(pack()).evaluate(records, ctx)
    for row, (record, (rule, kind)) in enumerate(zip(records, expected, strict=True)):
        said = {each.id: (each, verdict) for each, verdict in judged.verdicts(row)}
        alone = evaluate_one(rule, record, ctx)
        got = said[rule.id][1]
        status = STATUS[got] if isinstance(got, Verdict) else got.status.value
        assert status == kind, f"{rule.id}: {kind} example {record.fields} gave {status}"
        assert status == alone.status.value
        for other, verdict in said.values():  # every rule of the pack, not only the example's
            one = evaluate_one(other, record, ctx)
            if isinstance(verdict, Verdict):
                assert STATUS[verdict] == one.status.value, other.id
            else:
                assert _shown(verdict) == _shown(one), other.id


def _incident(n: int, **fields: Any) -> Record:
    return Record("example", "example", "incident", "incident", f"i{n}", f"INC{n}", "", fields)


def test_junctions_when_and_links_decide_row_by_row() -> None:
    """Records deciding at different items of `any`, `all`, `when` and `where` on one page:
    unknown, errors (text where a number is compared), passes and failures side by side."""
    checks: list[dict[str, Any]] = [
        {"any": [{"field": "priority", "in": [1, 2]},
                 {"field": "short_description", "min_length": 10}]},
        {"all": [{"field": "reporter", "present": True},
                 {"field": "reopen_count", "compare": {"op": "le", "value": 2}}]},
        {"field": "resolution_notes", "present": True,
         "when": {"field": "state", "in": ["resolved", "closed"]}},
        {"linked": {"field": "problem", "where": [{"field": "state", "not_in": ["new"]},
                                                   {"field": "root_cause", "present": True}]}},
    ]
    rules = [*(make_rule([check]) for check in checks), make_rule(checks)]
    links = ExampleLinks({Ref("problem", "p1"): Record("example", "example", "problem", "problem",
                                                      "p1", "PRB1", "", {"state": "new"}),
                          Ref("problem", "p2"): Record("example", "example", "problem", "problem",
                                                      "p2", "PRB2", "",
                                                      {"state": "resolved", "root_cause": "x"}),
                          Ref("problem", "p3"): Record("example", "example", "problem", "problem",
                                                      "p3", "PRB3", "",
                                                      {"state": not_returned("state")})})
    ctx = Context(now=FROZEN_NOW, links=links)
    gone = Unknown("not exported")
    pools: list[dict[str, Any]] = [
        {"priority": 1}, {"priority": 5, "short_description": "long enough text"},
        {"priority": gone, "short_description": "short"}, {"priority": "1"},
        {"priority": gone, "short_description": "a long description"},
        {"reporter": Ref("user", "u1"), "reopen_count": 3},
        {"reporter": Ref("user", "u2"), "reopen_count": 1}, {"reporter": gone, "reopen_count": 0},
        {"reporter": Ref("user", ""), "reopen_count": "x"}, {"reopen_count": gone},
        {"state": "resolved"}, {"state": gone, "resolution_notes": "done"}, {"state": gone},
        {"state": "new"}, {"state": Unknown("unreadable", unreadable=True)},
        {"problem": Ref("problem", "p1")}, {"problem": Ref("problem", "p2")},
        {"problem": Ref("problem", "p3")}, {"problem": Ref("problem", "missing")},
        {"problem": gone}, {"problem": Ref("problem", "")},
    ]
    records = [_incident(n, **{**a, **b}) for n, (a, b) in
               enumerate((a, b) for a in pools for b in pools[::3])]
    judged = RuleSet(rules).evaluate(records, ctx)
    statuses: list[set[Status]] = [set() for _ in rules]
    for row, record in enumerate(records):
        verdicts = judged.verdicts(row)
        assert [rule for rule, _ in verdicts] == rules
        for seen, (rule, verdict) in zip(statuses, verdicts, strict=True):
            one = evaluate_one(rule, record, ctx)
            seen.add(one.status)
            if isinstance(verdict, Verdict):
                assert STATUS[verdict] == one.status.value
            else:
                assert _shown(verdict) == _shown(one), record.fields
    assert all(seen >= {Status.PASS, Status.FAIL, Status.UNKNOWN} for seen in statuses[:4])
    assert Status.ERROR in statuses[0] and Status.ERROR in statuses[2]


def test_a_page_holds_records_of_one_process() -> None:
    """bad input: a page mixing incidents and problems; outcome: ValueError, nothing judged"""
    problem = Record("example", "example", "problem", "problem", "p", "PRB", "", {})
    with pytest.raises(ValueError, match="one process"):
        RuleSet(pack()).evaluate([_incident(1), problem], Context(FROZEN_NOW, ExampleLinks()))


def test_evaluate_streams_pages_in_record_order() -> None:
    """Results come in the records' order across page boundaries and processes."""
    rule = make_rule([{"field": "short_description", "present": True}])
    records = [_incident(n, short_description="x" if n % 3 else "") for n in range(PAGE + 5)]
    ctx = Context(FROZEN_NOW - timedelta(0), ExampleLinks())
    results = list(evaluate([rule], records, ctx))
    assert [r.record.id for r in results] == [r.id for r in records]
    assert [r.status for r in results] == [Status.FAIL if n % 3 == 0 else Status.PASS
                                           for n in range(PAGE + 5)]
