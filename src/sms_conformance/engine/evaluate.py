"""Evaluates rules on records. Pure: no I/O, no platform knowledge."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from sms_conformance.engine.results import RuleResult
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.findings import Status
from sms_conformance.model.records import Record, Ref, Unknown
from sms_conformance.rules.checks import (
    Compiled,
    Context,
    EvaluationError,
    UnknownValue,
    compile_condition,
    decided_by,
)
from sms_conformance.rules.fields import condition_fields
from sms_conformance.rules.model import Rule

CHECK_ERRORS = (EvaluationError, TypeError, ValueError, re.error)


@dataclass
class Outcome:
    """What the checks of one rule said about one record, short of passing."""

    failed: list[int]
    problems: list[str]  # could not be evaluated: why
    unknown: list[UnknownValue]  # needed a value the source did not provide

    def __bool__(self) -> bool:
        return bool(self.failed or self.problems or self.unknown)



@dataclass(frozen=True)
class CompiledRule:
    """A rule with its scope and checks turned into closures, compiled once per rule."""

    rule: Rule
    scope: tuple[tuple[str, frozenset[object]], ...]
    checks: tuple[Compiled, ...]
    single: Compiled | None  # the only check of a one-check rule (most rules): a fast path

    def in_scope(self, record: Record) -> bool | None:
        """Re-checked on every record: the server may have ignored part of a pushed-down filter.
        None when a scope field is unknown: the record is neither in nor out of scope."""
        fields = record.fields
        unknown = False
        for name, allowed in self.scope:
            value = fields.get(name) if name in fields else record.get(name)
            if value.__class__ is Unknown:
                unknown = True
            elif (value.id if isinstance(value, Ref) else value) not in allowed:
                return False
        return None if unknown else True

    def run(self, record: Record, ctx: Context) -> Outcome:
        """Which checks failed, which could not be evaluated, which needed unknown values."""
        outcome = Outcome([], [], [])
        for index, check in enumerate(self.checks):
            try:
                if not check(record, ctx):
                    outcome.failed.append(index)
            except UnknownValue as exc:
                outcome.unknown.append(exc)
            except CHECK_ERRORS as exc:
                outcome.problems.append(str(exc))
        return outcome

    def judge(self, record: Record, ctx: Context, waivers: Waivers | None) -> RuleResult | None:
        """The one evaluation of this rule on a record in its scope: None when it passes, else
        its result (fail, error, unknown or waived). One-check rules (most) build no lists."""
        single = self.single
        if single is not None:
            try:
                if single(record, ctx):
                    return None
                outcome = Outcome([0], [], [])
            except UnknownValue as exc:
                outcome = Outcome([], [], [exc])
            except CHECK_ERRORS as exc:
                outcome = Outcome([], [str(exc)], [])
        else:
            outcome = self.run(record, ctx)
            if not outcome:
                return None
        return conclude(self.rule, record, outcome, waivers)


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


def unscoped(rule: Rule, record: Record) -> RuleResult:
    """A record whose scope fields are unknown: not known to be in scope, nor out of it."""
    unknown = tuple((n, v.reason) for n, _ in compiled(rule).scope
                    if isinstance(v := record.get(n), Unknown))
    reasons = "; ".join(f"{n}: {r}" for n, r in unknown)
    return RuleResult(rule, record, Status.UNKNOWN, f"could not tell whether in scope: {reasons}",
                      unknown=unknown)


def evaluate_one(
    rule: Rule, record: Record, ctx: Context, waivers: Waivers | None = None
) -> RuleResult:
    """The result of one rule on one record, whatever it is (pass and not applicable too)."""
    compiled_rule = compiled(rule)
    scoped = compiled_rule.in_scope(record)
    if scoped is None:
        return unscoped(rule, record)
    if not scoped:
        return RuleResult(rule, record, Status.NOT_APPLICABLE)
    return (compiled_rule.judge(record, ctx, waivers)
            or RuleResult(rule, record, Status.PASS))


def _unknown_detail(unknown: list[UnknownValue]) -> str:
    return "; ".join(dict.fromkeys(str(u) for u in unknown))


def conclude(rule: Rule, record: Record, outcome: Outcome, waivers: Waivers | None) -> RuleResult:
    """The result of a record that did not pass: fail, error, unknown or waived."""
    failed, problems, unknown = outcome.failed, outcome.problems, outcome.unknown
    if failed:
        # A failed check establishes the nonconformity even if another could not be evaluated.
        status, observed = Status.FAIL, _observed(rule, record, failed)
        also = [*problems, *(str(u) for u in unknown)]
        said = [s for i in failed for s in decided_by(rule.check[i], record)]
        detail = "; ".join([*said, *([f"also could not evaluate: {'; '.join(also)}"]
                                     if also else [])])
    elif problems:
        status, observed = Status.ERROR, {}
        detail = f"could not evaluate: {'; '.join([*problems, *(str(u) for u in unknown)])}"
    else:  # unknown is not a nonconformity: no waiver applies to it
        return RuleResult(rule, record, Status.UNKNOWN,
                          f"could not evaluate, not provided by the source: {_unknown_detail(unknown)}",
                          unknown=tuple(dict.fromkeys(p for u in unknown for p in u.pairs)))
    waiver = waivers.find(rule, record) if waivers is not None else None
    if waiver is not None:
        detail = f"waived until {waiver.expires} by {waiver.approver}: {waiver.reason}"
        return RuleResult(rule, record, Status.WAIVED, detail, observed)
    # A waiver whose scope reads a value the source did not provide may cover it: not a failure.
    fields = waivers.open_fields(rule, record) if waivers is not None else []
    if fields:
        reason = "not provided by the source, and a waiver's scope reads it"
        return RuleResult(rule, record, Status.UNKNOWN,
                          f"could not tell whether a waiver covers it: {', '.join(fields)} {reason}",
                          unknown=tuple((f, reason) for f in fields))
    return RuleResult(rule, record, status, detail, observed)


class Verdict(Enum):
    """What a rule said of a record when no result object is built for it."""

    PASSED = "passed"
    OUT_OF_SCOPE = "out of scope"


class RuleSet:
    """The rules of a run compiled once and grouped by process and by identical scope, so each
    scope is tested once per record. The scanner's path: `evaluate_one` gives the same result
    for each rule (both go through CompiledRule.in_scope and judge)."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.groups: dict[str, list[tuple[CompiledRule, list[CompiledRule]]]] = {}
        by_scope: dict[tuple[str, object], list[CompiledRule]] = {}
        for rule in rules:
            one = compiled(rule)
            key = (rule.process.value, one.scope)
            if key not in by_scope:
                by_scope[key] = []
                self.groups.setdefault(rule.process.value, []).append((one, by_scope[key]))
            by_scope[key].append(one)

    def rules_of(self, process: str) -> Iterator[Rule]:
        for _, members in self.groups.get(process, ()):
            for one in members:
                yield one.rule

    def evaluate(self, record: Record, ctx: Context,
                 waivers: Waivers | None = None) -> Iterator[tuple[Rule, RuleResult | Verdict]]:
        """Each rule of the record's process with its result, or PASSED / OUT_OF_SCOPE where no
        result object is needed (most pairs)."""
        for scope, members in self.groups.get(record.process, ()):
            scoped = scope.in_scope(record)
            if scoped is None:  # a scope field is unknown: in or out cannot be told
                for one in members:
                    yield one.rule, unscoped(one.rule, record)
            elif not scoped:
                for one in members:
                    yield one.rule, Verdict.OUT_OF_SCOPE
            else:
                for one in members:
                    yield one.rule, one.judge(record, ctx, waivers) or Verdict.PASSED


def evaluate(
    rules: Iterable[Rule], records: Iterable[Record], ctx: Context, waivers: Waivers | None = None
) -> Iterator[RuleResult]:
    """Every (rule, record) result, streaming: records are consumed one at a time."""
    rule_set = RuleSet(rules)
    for record in records:
        for rule, result in rule_set.evaluate(record, ctx, waivers):
            if result is Verdict.PASSED:
                yield RuleResult(rule, record, Status.PASS)
            elif result is Verdict.OUT_OF_SCOPE:
                yield RuleResult(rule, record, Status.NOT_APPLICABLE)
            else:
                yield result
