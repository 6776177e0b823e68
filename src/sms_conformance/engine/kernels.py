"""Conditions compiled to operations over a page of records: the engine's one evaluator.

A kernel takes a page and gives one cell per record: True (holds), False (does not), or the
exception that says why it cannot be decided: UnknownValue (a value the source did not provide)
or an evaluation error (CHECK_ERRORS). Nothing is raised per record: a page is evaluated
condition by condition, each over the page's column of the field it reads, and `all` / `any` /
`when` / a link's `where` evaluate their next item only on the records still undecided, so what
runs on a record, and in which order, is what the rule language says (an error counts only where
no earlier item decided).

Field checks run over the column of their field, their operator once per distinct text of the
page (a pattern on resolution notes runs once per distinct note). Comparisons, matrices,
restore targets and ages run their operator on each record of the page: their work is per value
anyway. `linked` follows each record's reference (the join against the scan's indexes or the
look-ups) and evaluates its `where` over the page of linked records; `referenced_by` asks the
link view for each record's count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from sms_conformance.model.records import Record, Ref, Unknown, Value, is_absent
from sms_conformance.rules import model as m
from sms_conformance.rules.checks import (
    FIELD_OPERATORS,
    ROW_CHECKS,
    Context,
    EvaluationError,
    UnknownValue,
    combined,
    unknown_value,
)

CHECK_ERRORS = (EvaluationError, TypeError, ValueError, re.error)

Cell = bool | Exception  # True, False, or why the check cannot be decided on the record
Kernel = Callable[["Page"], list[Cell]]


class Page:
    """Records of one process evaluated together, with the columns read from them so far."""

    __slots__ = ("columns", "ctx", "records")

    def __init__(self, records: Sequence[Record], ctx: Context) -> None:
        self.records = records
        self.ctx = ctx
        self.columns: dict[str, list[Value]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def column(self, name: str) -> list[Value]:
        """The field's value on each record (Record.get: `raw.` and `number` too)."""
        found = self.columns.get(name)
        if found is None:
            if name.startswith("raw.") or name == "number":
                found = [r.get(name) for r in self.records]
            else:
                found = [r.fields.get(name) for r in self.records]
            self.columns[name] = found
        return found

    def subset(self, rows: Sequence[int]) -> Page:
        """The page of the records at `rows` (itself when that is every record)."""
        if len(rows) == len(self.records):
            return self
        records = self.records
        return Page([records[i] for i in rows], self.ctx)


def _cell(test: Callable[[Value, Any], bool], value: Value, arg: Any) -> Cell:
    try:
        return bool(test(value, arg))
    except UnknownValue as exc:
        return exc
    except CHECK_ERRORS as exc:
        return exc


def _presence(name: str, want: bool, present: bool) -> Kernel:
    """`present` / `absent`, the most common checks: is_absent inlined over the column."""
    def run(page: Page) -> list[Cell]:
        out: list[Cell] = []
        for v in page.column(name):
            kind = v.__class__
            if kind is Unknown:
                out.append(unknown_value(name, v))  # type: ignore[arg-type]
                continue
            empty = (v is None or (kind is str and (not v or v.isspace()))  # type: ignore[union-attr]
                     or (kind is Ref and not v.id))  # type: ignore[union-attr]
            out.append((not empty if present else empty) == want)
        return out
    return run


def _field(c: m.FieldCheck) -> Kernel:
    test, arg, name = FIELD_OPERATORS[c.op].test, c.arg, c.field
    if c.absent:  # a field the platform does not have: empty on every record
        empty = _cell(test, None, arg)
        return lambda page: [empty] * len(page)
    if c.op in ("present", "absent") and isinstance(arg, bool):
        return _presence(name, arg, c.op == "present")

    def run(page: Page) -> list[Cell]:
        memo: dict[str, Cell] = {}  # text only: True == 1 would mix bools and numbers
        out: list[Cell] = []
        for v in page.column(name):
            if isinstance(v, str):
                cell = memo.get(v)
                if cell is None:
                    cell = memo[v] = _cell(test, v, arg)
            elif isinstance(v, Unknown):
                cell = unknown_value(name, v)
            else:
                cell = _cell(test, v, arg)
            out.append(cell)
        return out
    return run


def _per_record(evaluate: Callable[[Any, Record, Context], bool], condition: m.Condition) -> Kernel:
    def run(page: Page) -> list[Cell]:
        ctx = page.ctx
        out: list[Cell] = []
        for record in page.records:
            try:
                out.append(bool(evaluate(condition, record, ctx)))
            except UnknownValue as exc:
                out.append(exc)
            except CHECK_ERRORS as exc:
                out.append(exc)
        return out
    return run


def _junction(items: tuple[Kernel, ...], decisive: bool) -> Kernel:
    """`all` (decisive False) or `any` (decisive True), three-valued: an item with the decisive
    outcome decides; an error decides too (where no earlier item did); otherwise an unknown item
    makes the whole unknown. Each item runs only on the records still undecided."""
    def run(page: Page) -> list[Cell]:
        out: list[Cell | None] = [None] * len(page)
        unknown: dict[int, list[UnknownValue]] = {}
        rows = list(range(len(page)))
        for item in items:
            if not rows:
                break
            undecided = []
            for row, cell in zip(rows, item(page.subset(rows)), strict=True):
                if cell is decisive:
                    out[row] = decisive
                elif cell.__class__ is bool:
                    undecided.append(row)
                elif isinstance(cell, UnknownValue):
                    unknown.setdefault(row, []).append(cell)
                    undecided.append(row)
                else:
                    out[row] = cell
            rows = undecided
        for row in rows:
            out[row] = combined(unknown[row]) if row in unknown else not decisive
        return out  # type: ignore[return-value]
    return run


def _not(inner: Kernel) -> Kernel:
    return lambda page: [(not c) if c.__class__ is bool else c for c in inner(page)]


def _conditional(when: Kernel, body: Kernel) -> Kernel:
    """`when` false: holds vacuously. `when` unknown: holds only if the body holds anyway (an
    error of the body is the result); otherwise `when`'s unknown."""
    def run(page: Page) -> list[Cell]:
        out = when(page)
        rows = [i for i, c in enumerate(out) if c is True or isinstance(c, UnknownValue)]
        for i, c in enumerate(out):
            if c is False:
                out[i] = True
        if rows:
            for row, cell in zip(rows, body(page.subset(rows)), strict=True):
                guard = out[row]
                if guard is True or cell is True or not isinstance(cell, (bool, UnknownValue)):
                    out[row] = cell
        return out
    return run


def _linked(c: m.Linked, where: tuple[Kernel, ...]) -> Kernel:
    """The referenced record exists and every `where` holds on it, in order: the first that
    does not hold, or cannot be decided, is the result (no Kleene logic across `where`)."""
    name = c.field

    def run(page: Page) -> list[Cell]:
        links = page.ctx.links
        out: list[Cell] = [False] * len(page)
        targets: list[Record] = []
        rows: list[int] = []
        for row, ref in enumerate(page.column(name)):
            if isinstance(ref, Unknown):
                out[row] = unknown_value(name, ref)
                continue
            if not isinstance(ref, Ref) or is_absent(ref):
                continue
            try:
                target = links.get(ref)
            except UnknownValue as exc:  # the linked table was not read: existence is unknown
                out[row] = UnknownValue(name, exc.reason)
                continue
            except CHECK_ERRORS as exc:
                out[row] = exc
                continue
            if target is not None:
                targets.append(target)
                rows.append(row)
        linked = Page(targets, page.ctx)
        held = list(range(len(targets)))
        for check in where:
            if not held:
                break
            still = []
            for index, cell in zip(held, check(linked.subset(held)), strict=True):
                if cell is True:
                    still.append(index)
                else:
                    out[rows[index]] = cell
            held = still
        for index in held:
            out[rows[index]] = True
        return out
    return run


def compile_condition(condition: m.Condition) -> Kernel:
    """A condition as one kernel over pages of records of its process."""
    body: Kernel
    if isinstance(condition, m.FieldCheck):
        body = _field(condition)
    elif isinstance(condition, (m.AllOf, m.AnyOf)):
        items = tuple(compile_condition(i) for i in condition.items)
        body = _junction(items, decisive=isinstance(condition, m.AnyOf))
    elif isinstance(condition, m.Not):
        body = _not(compile_condition(condition.item))
    elif isinstance(condition, m.SettingIs):
        decided = condition.holds
        body = lambda page: [decided] * len(page)  # noqa: E731
    elif isinstance(condition, m.Linked):
        body = _linked(condition, tuple(compile_condition(w) for w in condition.where))
    else:
        body = _per_record(ROW_CHECKS[type(condition)], condition)
    if condition.when is None:
        return body
    return _conditional(compile_condition(condition.when), body)
