"""Every example of every built-in rule through the scanner's path: the whole pack compiled as
one RuleSet (rules grouped by process and scope, as a scan evaluates them) gives each rule the
result its example expects, the same as evaluate_one."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pytest

from sms_conformance.engine.evaluate import RuleSet, Verdict, evaluate_one
from sms_conformance.rules.checks import Context
from sms_conformance.rules.examples import build_example, example_settings
from sms_conformance.rules.model import Rule

from ._support import FROZEN_NOW, pack, pack_with, rule_for

STATUS = {Verdict.PASSED: "pass", Verdict.OUT_OF_SCOPE: "not_applicable"}


@lru_cache(maxsize=8)
def whole_pack(given: tuple[tuple[str, Any], ...] = ()) -> RuleSet:
    return RuleSet(pack_with(given))


def _cases() -> list[Any]:
    return [pytest.param(rule, kind, example, id=f"{rule.id}:{kind}[{index}]")
            for rule in pack()
            for kind, examples in (("pass", rule.examples.pass_), ("fail", rule.examples.fail))
            for index, example in enumerate(examples)]


@pytest.mark.parametrize(("rule", "expected", "example"), _cases())
def test_example_through_the_scanner_path(rule: Rule, expected: str,
                                          example: dict[str, Any]) -> None:
    given = tuple(sorted(example_settings(example).items()))
    rule = rule_for(rule, example)
    record, links = build_example(rule, example)
    ctx = Context(now=FROZEN_NOW, links=links)
    verdicts = {each.id: got for each, got in whole_pack(given).evaluate([record], ctx).verdicts(0)}
    assert rule.id in verdicts, f"{rule.id} not evaluated on its own process's record"
    got = verdicts[rule.id]
    status = STATUS[got] if isinstance(got, Verdict) else got.status.value
    assert status == expected, f"{rule.id}: expected {expected}, got {status} for {example}"
    assert status == evaluate_one(rule, record, ctx).status.value
