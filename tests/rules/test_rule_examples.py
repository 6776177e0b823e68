"""Every example of every built-in rule, each its own test: `incident.closure.validated:fail[0]`."""

from __future__ import annotations

from typing import Any

import pytest

from sms_conformance.rules.model import Rule

from ._support import pack, run_example


def _cases() -> list[Any]:
    cases = []
    for rule in pack():
        for kind, examples in (("pass", rule.examples.pass_), ("fail", rule.examples.fail)):
            for index, example in enumerate(examples):
                cases.append(pytest.param(rule, kind, example, id=f"{rule.id}:{kind}[{index}]"))
    return cases


@pytest.mark.parametrize(("rule", "expected", "example"), _cases())
def test_example(rule: Rule, expected: str, example: dict[str, Any]) -> None:
    result = run_example(rule, example)
    assert result.status.value == expected, (
        f"{rule.id}: expected {expected}, got {result.status.value} "
        f"{result.detail or ''} observed={result.observed} for {example}"
    )
