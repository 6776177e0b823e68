"""Evaluates rules on records, a page at a time. Pure: no I/O, no platform knowledge.

The one evaluator: every rule is compiled once (`compiled`) to its scope and a kernel per check
(engine.kernels), and evaluated over a page of records of its process: scopes tested once per
group of rules with the same scope, each check once over the page's columns. Only the records
that do not pass get a result object (message, detail and observed values are built for those
alone). `evaluate_one` is a page of one record; the scanner evaluates pages of up to PAGE.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import groupby

from sms_conformance.engine.kernels import Cell, Kernel, Page, compile_condition
from sms_conformance.engine.results import RuleResult
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.findings import Status
from sms_conformance.model.records import Record, Ref, Unknown
from sms_conformance.rules.checks import Context, UnknownValue, decided_by
from sms_conformance.rules.fields import condition_fields
from sms_conformance.rules.model import Rule

PAGE = 1000  # records the scanner evaluates together (a platform page)

Scope = tuple[tuple[str, frozenset[object]], ...]


@dataclass
class Outcome:
    """What the checks of one rule said about one record, short of passing."""

    failed: list[int]
    problems: list[str]  # could not be evaluated: why
    unknown: list[UnknownValue]  # needed a value the source did not provide


def _outcome(cells: Sequence[Cell]) -> Outcome:
    outcome = Outcome([], [], [])
    for index, cell in enumerate(cells):
        if cell is False:
            outcome.failed.append(index)
        elif isinstance(cell, UnknownValue):
            outcome.unknown.append(cell)
        elif cell is not True:
            outcome.problems.append(str(cell))
    return outcome


def scoped(scope: Scope, page: Page) -> tuple[list[int], list[int]]:
    """The records of `page` in scope, and those whose scope fields are unknown (neither in
    nor out of scope). Re-checked on every record: the server may have ignored part of a
    pushed-down filter. A field out of scope decides, whatever another field is."""
    if not scope:
        return list(range(len(page))), []
    state = [0] * len(page)  # 0 in scope, 1 unknown, 2 out
    for name, allowed in scope:
        for row, value in enumerate(page.column(name)):
            if state[row] == 2:
                continue
            if value.__class__ is Unknown:
                state[row] = 1
            elif (value.id if isinstance(value, Ref) else value) not in allowed:
                state[row] = 2
    inside = [row for row, s in enumerate(state) if s == 0]
    return inside, [row for row, s in enumerate(state) if s == 1]


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its scope and a kernel per check, compiled once per rule."""

    rule: Rule
    scope: Scope
    kernels: tuple[Kernel, ...]

    def judge(self, page: Page, waivers: Waivers | None) -> dict[int, RuleResult]:
        """The checks over a page of records in the rule's scope: the result of each record
        that does not pass (fail, error, unknown or waived), by its row on the page."""
        rule, records = self.rule, page.records
        if len(self.kernels) == 1:
            cells = self.kernels[0](page)
            return {row: conclude(rule, records[row], _outcome((cells[row],)), waivers)
                    for row in [i for i, c in enumerate(cells) if c is not True]}
        columns = [kernel(page) for kernel in self.kernels]
        return {row: conclude(rule, records[row], _outcome(cells), waivers)
                for row, cells in enumerate(zip(*columns, strict=True))
                if any(c is not True for c in cells)}


_COMPILED: dict[int, CompiledRule] = {}


def compiled(rule: Rule) -> CompiledRule:
    found = _COMPILED.get(id(rule))
    if found is None or found.rule is not rule:
        scope = tuple((name, frozenset(values)) for name, values in rule.scope.items())
        found = CompiledRule(rule, scope, tuple(compile_condition(c) for c in rule.check))
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
    """The result of one rule on one record, whatever it is (pass and not applicable too): a
    page of one record."""
    one = compiled(rule)
    page = Page([record], ctx)
    inside, unknown = scoped(one.scope, page)
    if unknown:
        return unscoped(rule, record)
    if not inside:
        return RuleResult(rule, record, Status.NOT_APPLICABLE)
    return one.judge(page, waivers).get(0) or RuleResult(rule, record, Status.PASS)


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


@dataclass(frozen=True)
class RuleVerdicts:
    """What one rule said of the records of a page."""

    rule: Rule
    evaluated: int  # in scope, or not known to be out of it
    passed: int
    results: dict[int, RuleResult]  # the records that did not pass, by row
    inside: Sequence[bool]  # each row: in the rule's scope


@dataclass(frozen=True)
class PageVerdicts:
    """What every rule of a process said of a page of its records."""

    records: Sequence[Record]
    lines: list[RuleVerdicts]  # the process's rules, in the order they were evaluated

    def by_record(self) -> list[list[RuleResult]]:
        """Each record's results that are not a pass, its rules in order."""
        results: list[list[RuleResult]] = [[] for _ in self.records]
        for line in self.lines:
            for row, result in line.results.items():
                results[row].append(result)
        return results

    def verdicts(self, row: int) -> list[tuple[Rule, RuleResult | Verdict]]:
        """Every rule of the process with what it said of the record at `row`."""
        return [(line.rule, line.results.get(row)
                 or (Verdict.PASSED if line.inside[row] else Verdict.OUT_OF_SCOPE))
                for line in self.lines]


class RuleSet:
    """The rules of a run compiled once and grouped by process and by identical scope, so each
    scope is tested once per page. The scanner's path; `evaluate_one` is the same evaluation on
    a page of one record."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.groups: dict[str, list[tuple[Scope, list[CompiledRule]]]] = {}
        by_scope: dict[tuple[str, object], list[CompiledRule]] = {}
        for rule in rules:
            one = compiled(rule)
            key = (rule.process.value, one.scope)
            if key not in by_scope:
                by_scope[key] = []
                self.groups.setdefault(rule.process.value, []).append((one.scope, by_scope[key]))
            by_scope[key].append(one)

    def rules_of(self, process: str) -> Iterator[Rule]:
        for _, members in self.groups.get(process, ()):
            for one in members:
                yield one.rule

    def evaluate(self, records: Sequence[Record], ctx: Context,
                 waivers: Waivers | None = None) -> PageVerdicts:
        """Every rule of the records' process over the page (records of one process)."""
        page = Page(records, ctx)
        lines: list[RuleVerdicts] = []
        if not records:
            return PageVerdicts(records, lines)
        process = records[0].process
        if any(r.process != process for r in records):
            raise ValueError("a page holds records of one process")
        for scope, members in self.groups.get(process, ()):
            inside, unknown = scoped(scope, page)
            mask = [False] * len(records)
            for row in inside:
                mask[row] = True
            sub = page.subset(inside)
            for one in members:
                results = {row: unscoped(one.rule, records[row]) for row in unknown}
                judged = one.judge(sub, waivers) if inside else {}
                results.update((inside[row], result) for row, result in judged.items())
                lines.append(RuleVerdicts(one.rule, len(inside) + len(unknown),
                                          len(inside) - len(judged), results, mask))
        return PageVerdicts(records, lines)


def evaluate(
    rules: Iterable[Rule], records: Iterable[Record], ctx: Context, waivers: Waivers | None = None
) -> Iterator[RuleResult]:
    """Every (rule, record) result, streaming: pages of consecutive records of one process."""
    rule_set = RuleSet(rules)
    page: list[Record] = []
    for _, run in groupby(records, key=lambda r: r.process):
        for record in run:
            page.append(record)
            if len(page) == PAGE:
                yield from _all_results(rule_set.evaluate(page, ctx, waivers))
                page = []
        if page:
            yield from _all_results(rule_set.evaluate(page, ctx, waivers))
            page = []


def _all_results(judged: PageVerdicts) -> Iterator[RuleResult]:
    for row, record in enumerate(judged.records):
        for rule, verdict in judged.verdicts(row):
            if verdict is Verdict.PASSED:
                yield RuleResult(rule, record, Status.PASS)
            elif verdict is Verdict.OUT_OF_SCOPE:
                yield RuleResult(rule, record, Status.NOT_APPLICABLE)
            else:
                yield verdict
