"""Evaluates rules on records. Pure: no I/O, no platform knowledge."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from sms_conformance.findings import RuleResult, Status
from sms_conformance.records import Record, Ref
from sms_conformance.rules.checks import Context, EvaluationError, holds
from sms_conformance.rules.fields import condition_fields
from sms_conformance.rules.model import Rule
from sms_conformance.waivers import Waivers


def in_scope(rule: Rule, record: Record) -> bool:
    """Re-checked on every record: the server may have ignored part of a pushed-down filter."""
    for name, allowed in rule.scope.items():
        value = record.get(name)
        if (value.id if isinstance(value, Ref) else value) not in allowed:
            return False
    return True


def _observed(rule: Rule, record: Record, failed: list[int]) -> dict[str, str]:
    names: set[str] = set()
    for index in failed:
        names |= condition_fields(rule.check[index])
    return {name: _show(record.get(name)) for name in sorted(names)}


def _show(value: object) -> str:
    if value is None or value == "":
        return ""
    return value.id if isinstance(value, Ref) else str(value)


def evaluate_one(
    rule: Rule, record: Record, ctx: Context, waivers: Waivers | None = None
) -> RuleResult:
    if not in_scope(rule, record):
        return RuleResult(rule, record, Status.NOT_APPLICABLE)
    failed: list[int] = []
    problems: list[str] = []
    for index, condition in enumerate(rule.check):
        try:
            if not holds(condition, record, ctx):
                failed.append(index)
        except (EvaluationError, TypeError, ValueError, re.error) as exc:
            problems.append(str(exc))
    if failed:
        # A failed check establishes the nonconformity even if another could not be evaluated.
        status, observed = Status.FAIL, _observed(rule, record, failed)
        detail = f"also could not evaluate: {'; '.join(problems)}" if problems else ""
    elif problems:
        status, detail, observed = Status.ERROR, f"could not evaluate: {'; '.join(problems)}", {}
    else:
        return RuleResult(rule, record, Status.PASS)
    waiver = waivers.find(rule, record) if waivers is not None else None
    if waiver is not None:
        detail = f"waived until {waiver.expires} by {waiver.approver}: {waiver.reason}"
        return RuleResult(rule, record, Status.WAIVED, detail, observed)
    return RuleResult(rule, record, status, detail, observed)


def evaluate(
    rules: Iterable[Rule], records: Iterable[Record], ctx: Context, waivers: Waivers | None = None
) -> Iterator[RuleResult]:
    """Every (rule, record) result, streaming: records are consumed one at a time."""
    rule_list = list(rules)
    for record in records:
        for rule in rule_list:
            if rule.process == record.process:
                yield evaluate_one(rule, record, ctx, waivers)
