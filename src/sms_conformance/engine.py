"""Evaluates rules on records. Pure: no I/O, no platform knowledge."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sms_conformance.findings import RuleResult, Status
from sms_conformance.records import Record, Ref
from sms_conformance.rules.checks import Compiled, Context, EvaluationError, compile_condition
from sms_conformance.rules.fields import condition_fields
from sms_conformance.rules.model import Rule
from sms_conformance.waivers import Waivers

CHECK_ERRORS = (EvaluationError, TypeError, ValueError, re.error)


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its scope and checks turned into closures, compiled once per rule."""

    rule: Rule
    scope: tuple[tuple[str, frozenset[object]], ...]
    checks: tuple[Compiled, ...]
    single: Compiled | None  # the only check of a one-check rule (most rules): a fast path

    def in_scope(self, record: Record) -> bool:
        """Re-checked on every record: the server may have ignored part of a pushed-down filter."""
        fields = record.fields
        for name, allowed in self.scope:
            value = fields.get(name) if name in fields else record.get(name)
            if (value.id if isinstance(value, Ref) else value) not in allowed:
                return False
        return True

    def run(self, record: Record, ctx: Context) -> tuple[list[int], list[str]]:
        """Indexes of failed checks, and what could not be evaluated."""
        if len(self.checks) == 1:  # most rules: skip the loop and the list building
            try:
                return ([] if self.checks[0](record, ctx) else [0]), []
            except CHECK_ERRORS as exc:
                return [], [str(exc)]
        failed: list[int] = []
        problems: list[str] = []
        for index, check in enumerate(self.checks):
            try:
                if not check(record, ctx):
                    failed.append(index)
            except CHECK_ERRORS as exc:
                problems.append(str(exc))
        return failed, problems


_COMPILED: dict[int, CompiledRule] = {}


def compiled(rule: Rule) -> CompiledRule:
    found = _COMPILED.get(id(rule))
    if found is None or found.rule is not rule:
        scope = tuple((name, frozenset(values)) for name, values in rule.scope.items())
        checks = tuple(compile_condition(c) for c in rule.check)
        found = CompiledRule(rule, scope, checks, checks[0] if len(checks) == 1 else None)
        _COMPILED[id(rule)] = found
    return found


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
    compiled_rule = compiled(rule)
    if not compiled_rule.in_scope(record):
        return RuleResult(rule, record, Status.NOT_APPLICABLE)
    failed, problems = compiled_rule.run(record, ctx)
    if not failed and not problems:
        return RuleResult(rule, record, Status.PASS)
    return conclude(rule, record, failed, problems, waivers)


def conclude(rule: Rule, record: Record, failed: list[int], problems: list[str],
             waivers: Waivers | None) -> RuleResult:
    """The result of a record that did not pass: fail, error or waived."""
    if failed:
        # A failed check establishes the nonconformity even if another could not be evaluated.
        status, observed = Status.FAIL, _observed(rule, record, failed)
        detail = f"also could not evaluate: {'; '.join(problems)}" if problems else ""
    else:
        status, detail, observed = Status.ERROR, f"could not evaluate: {'; '.join(problems)}", {}
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
