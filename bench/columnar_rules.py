"""Page-wise column evaluation of the rule pack in polars: a benchmark's evaluator, not product code.

Two jobs, both compiled once from the typed models (rule data is never executed):
- `Converter`: a page of Table API rows (all columns String) -> canonical columns, as the
  ServiceNow field map reads one row (fieldmap.py `to_canonical`): choice values to their
  canonical names or ints, "YYYY-MM-DD HH:MM:SS" to UTC datetimes, references as ids, "" -> null.
  A value the field map would read as Unknown sets the column `<field>#u`; an int or bool field
  holding other text (which the field map keeps as text) sets `<field>#t`.
- `compile_rule`: a rule -> polars expressions giving, per row, its status (engine.py semantics:
  scope as `in_scope`, three-valued checks as checks.py `_junction` / `_conditional`).

A condition compiles to a pair (value, error): value is a nullable Boolean whose null is
"unknown" (polars' Kleene `&`, `|`, `~` are checks.py's three-valued all / any / not); error
is a Boolean that is true where the Python evaluator raises EvaluationError (the constant False
when the condition cannot raise). Where error is true, value is meaningless.

Linked conditions read `link:<rule>:<i>` columns and referenced_by conditions `refs:<rule>:<i>`
columns, which bench/columnar.py joins onto the page.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from sms_conformance.connectors.servicenow.fieldmap import FieldSpec, ProcessMap
from sms_conformance.model.records import Process
from sms_conformance.model.schema import field_of
from sms_conformance.rules import model as m
from sms_conformance.rules.fields import condition_fields, walk

DTYPES = {"str": pl.String, "ref": pl.String, "int": pl.Int64, "bool": pl.Boolean,
          "datetime": pl.Datetime("us", "UTC")}
KIND_OF_TYPE = {"str": "text", "ref": "text", "int": "number", "bool": "bool", "datetime": "datetime"}
STORED_DATE = "%Y-%m-%d %H:%M:%S"

# A rule's status per row, as a small int (cheaper than text on every page).
STATUSES = ("pass", "fail", "error", "unknown", "out")
CODE = {name: pl.lit(i, pl.UInt8) for i, name in enumerate(STATUSES)}


def _kind(value: Any) -> str:
    """checks.py `_kind` of a value a rule gives."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    return "text" if isinstance(value, str) else type(value).__name__


# ---------------------------------------------------------------------------------- convert


def _final(spec: FieldSpec, text: str) -> Any:
    """fieldmap.py `_converter`'s final step for a stored value listed in the field map."""
    if spec.type == "int":
        return int(text) if text.lstrip("-").isdigit() else text
    if spec.type == "bool":
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def _text(raw: pl.Expr) -> pl.Expr:
    """Not blank: text of the wrong type that is blank reads as absent (records.is_absent), so
    it is left out of `#t` and its value is null."""
    return raw.str.strip_chars() != ""


def _choice(spec: FieldSpec, raw: pl.Expr, dtype: Any) -> tuple[pl.Expr, pl.Expr, pl.Expr | None]:
    """A choice field: stored values exactly, then labels case-insensitively, then (int) digits;
    the rest is Unknown when the field map lists canonical names (strict), else kept."""
    canonical = {s: name for name, values in spec.choices.items()
                 for s in ([values] if isinstance(values, str) else values)}

    def value_of(stored: str) -> Any:
        return canonical[stored] if stored in canonical else _final(spec, stored)

    exact = {s: value_of(s) for s in [*canonical, *spec.labels.values()]}
    by_label = {label.strip().casefold(): value_of(s) for label, s in spec.labels.items()}
    # A listed value of another type than the field's (text in an int field) is left out here.
    want = {"int": int, "bool": bool}.get(spec.type, str)
    exact = {k: v for k, v in exact.items() if type(v) is want}
    by_label = {k: v for k, v in by_label.items() if type(v) is want}
    found = pl.coalesce(
        raw.replace_strict(exact, default=None, return_dtype=dtype),
        raw.str.strip_chars().str.to_lowercase().replace_strict(by_label, default=None,
                                                                 return_dtype=dtype),
    )
    if spec.type == "int":
        found = pl.coalesce(found, raw.cast(pl.Int64, strict=False))
    filled = raw.is_not_null() & (raw != "")
    unmatched = filled & found.is_null()
    if bool(spec.choices):  # strict: unmatched text is Unknown
        return found, raw.is_null() | unmatched, None
    if spec.type == "str":
        return pl.coalesce(found, pl.when(filled).then(raw)), raw.is_null(), None
    return found, raw.is_null(), unmatched & _text(raw)  # kept as text: of the wrong type


@dataclass(frozen=True)
class Converter:
    """Canonical columns of one process's pages, compiled once from its field map entries."""

    process: Process
    exprs: tuple[pl.Expr, ...]
    types: dict[str, str]  # canonical field -> canonical type (its column's kind)
    platform_fields: list[str]  # the String columns a page must have

    @classmethod
    def build(cls, process: Process, pmap: ProcessMap, wanted: set[str]) -> Converter:
        exprs: list[pl.Expr] = [pl.col("sys_id"), pl.col("number")]
        types: dict[str, str] = {}
        for name in sorted(n for n in wanted if n in pmap.fields):
            spec = pmap.fields[name]
            raw = pl.col(spec.field)
            dtype = DTYPES[spec.type]
            typed: pl.Expr | None = None
            if spec.is_choice:
                value, unknown, typed = _choice(spec, raw, dtype)
            elif spec.type in ("str", "ref"):
                value, unknown = pl.when(raw != "").then(raw), raw.is_null()
            elif spec.type == "int":
                value, unknown = raw.cast(pl.Int64, strict=False), raw.is_null()
                typed = _text(raw) & value.is_null()
            elif spec.type == "bool":
                lower = raw.str.to_lowercase()
                value = lower.replace_strict({"true": True, "false": False}, default=None,
                                             return_dtype=pl.Boolean)
                unknown, typed = raw.is_null(), _text(raw) & value.is_null()
            else:  # datetime: the stored format (other ISO 8601 forms read as unknown here)
                value = raw.str.strptime(dtype, STORED_DATE, strict=False)
                unknown = raw.is_null() | ((raw != "") & value.is_null())
            exprs += [value.alias(name), unknown.fill_null(False).alias(f"{name}#u")]
            if typed is not None:
                exprs.append(typed.fill_null(False).alias(f"{name}#t"))
            types[name] = spec.type
        fields = sorted({n for e in exprs for n in e.meta.root_names()})
        return cls(process, tuple(exprs), types, fields)

    def columns(self, page: pl.DataFrame) -> pl.DataFrame:
        """A raw page: every platform field a String column (null: not returned)."""
        missing = [pl.lit(None, pl.String).alias(c) for c in self.platform_fields
                   if c not in page.columns]
        if missing:
            page = page.with_columns(missing)
        return page.select(self.exprs)


def flagged(frame: pl.DataFrame) -> tuple[frozenset[str], frozenset[str]]:
    """The fields with an unknown value on this page, and those with text in an int or bool
    field: what a Compiler must not fold away."""
    flags = frame.select(pl.col(r"^.*#[ut]$").any()).row(0, named=True)
    return (frozenset(k[:-2] for k, v in flags.items() if v and k.endswith("#u")),
            frozenset(k[:-2] for k, v in flags.items() if v and k.endswith("#t")))


# ---------------------------------------------------------------------------------- compile
# Booleans are folded while compiling (a Python bool is a constant): polars pays per expression
# node on every page, so `False | x` must not reach it.
B = pl.Expr | bool
NULL = pl.lit(None, pl.Boolean)


def lit(x: B) -> pl.Expr:
    return pl.lit(x) if isinstance(x, bool) else x


def _fold(items: tuple[B, ...], decisive: bool, combine: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> B:
    """Kleene and (decisive False) or or (decisive True), constants folded away."""
    exprs: list[pl.Expr] = []
    for x in items:
        if x is decisive:
            return decisive
        if not isinstance(x, bool):
            exprs.append(x)
    return functools.reduce(combine, exprs) if exprs else not decisive


def all_(*items: B) -> B:
    return _fold(items, False, operator.and_)


def any_(*items: B) -> B:
    return _fold(items, True, operator.or_)


_NEGATED: dict[int, tuple[pl.Expr, pl.Expr]] = {}  # id(~x) -> (~x, x): ~~x folds to x


def not_(x: B) -> B:
    if isinstance(x, bool):
        return not x
    found = _NEGATED.get(id(x))
    if found is not None and found[0] is x:
        return found[1]
    negated = ~x
    _NEGATED[id(negated)] = (negated, x)
    return negated


def unknown_or(unknown: B, value: B) -> B:
    """null where unknown, else value."""
    if unknown is False:
        return value
    if unknown is True:
        return NULL
    return pl.when(unknown).then(NULL).otherwise(lit(value))


@dataclass(frozen=True)
class Tri:
    value: B  # Boolean, null = unknown
    error: B = False  # true: EvaluationError; where true, value is meaningless


class Unsupported(Exception):
    """A condition this evaluator does not express (the rule is left out, and said so)."""


class Compiler:
    """Conditions of one process -> Tri expressions over its canonical columns. `unknown` and
    `typed`: the fields whose `#u` / `#t` columns may be true on the page (the others are folded
    away as false)."""

    def __init__(self, types: dict[str, str], now: datetime, tag: str = "",
                 unknown: frozenset[str] = frozenset(), typed: frozenset[str] = frozenset()
                 ) -> None:
        self.types, self.now, self.tag = types, now, tag
        self.maybe_unknown, self.maybe_typed = unknown, typed
        # Values can be null (unknown) only where a field is unknown or a linked record's
        # `where` is (compile_rule sets this for the latter).
        self.nullable = bool(unknown)
        self.linked: list[m.Linked] = []  # in order: column link:<tag>:<i> of the page
        self.referenced: list[m.ReferencedBy] = []  # column refs:<tag>:<i>

    # field access -------------------------------------------------------------------------
    def col(self, name: str) -> pl.Expr:
        if name not in self.types:
            raise Unsupported(f"{name} is not a mapped field")
        return pl.col(name)

    def unknown(self, name: str) -> B:
        return pl.col(f"{name}#u") if name in self.maybe_unknown else False

    def wrong_type(self, name: str) -> B:
        return pl.col(f"{name}#t") if name in self.maybe_typed else False

    def absent(self, name: str) -> B:
        """records.is_absent: null, "" and whitespace (text); false where unknown (null) or
        text in an int / bool field."""
        col = self.col(name)
        if self.types[name] == "str":
            return col.is_null() | (col.str.strip_chars() == "")
        return all_(col.is_null(), not_(self.wrong_type(name)))

    # conditions ---------------------------------------------------------------------------
    def condition(self, c: m.Condition) -> Tri:
        if isinstance(c, m.FieldCheck):
            body = self.field_check(c)
        elif isinstance(c, (m.AllOf, m.AnyOf)):
            body = self.junction([self.condition(i) for i in c.items], isinstance(c, m.AnyOf))
        elif isinstance(c, m.Not):
            inner = self.condition(c.item)
            body = Tri(not_(inner.value), inner.error)
        elif isinstance(c, m.Compare):
            body = self.compare(c)
        elif isinstance(c, m.Matrix):
            body = self.matrix(c)
        elif isinstance(c, m.Within):
            body = self.within(c)
        elif isinstance(c, m.OlderThan):
            body = self.older_than(c)
        elif isinstance(c, m.Linked):
            body = self.linked_condition(c)
        elif isinstance(c, m.ReferencedBy):
            self.referenced.append(c)
            body = Tri(pl.col(f"refs:{self.tag}:{len(self.referenced) - 1}") >= c.min)
        else:
            raise Unsupported(type(c).__name__)
        if c.when is None:
            return body
        return self.conditional(self.condition(c.when), body)

    def is_(self, x: B, value: bool) -> B:
        """x is known and equals value."""
        if isinstance(x, bool):
            return x == value
        x = x if value else not_(x)  # type: ignore[assignment]
        return x.fill_null(False) if self.nullable else x  # type: ignore[union-attr]

    def junction(self, items: list[Tri], decisive: bool) -> Tri:
        """Kleene all/any; an error counts where no earlier item decided (items run in order)."""
        values = [i.value for i in items]
        value = any_(*values) if decisive else all_(*values)
        errors: list[B] = []
        undecided: B = True
        for item in items:
            errors.append(all_(undecided, item.error))
            undecided = all_(undecided, not_(self.is_(item.value, decisive)))
        return Tri(value, any_(*errors))

    def conditional(self, when: Tri, body: Tri) -> Tri:
        """`when` false: holds; true: the body; unknown: holds only if the body holds. An error
        of `when`, or of the body where `when` is not false, is an error."""
        return Tri(any_(not_(when.value), body.value),
                   any_(when.error, all_(not_(self.is_(when.value, False)), body.error)))

    def field_check(self, c: m.FieldCheck) -> Tri:
        if c.field.startswith("raw.") or c.field == "number":
            raise Unsupported(f"field check on {c.field}")
        unknown, absent, col = self.unknown(c.field), self.absent(c.field), self.col(c.field)
        kind = KIND_OF_TYPE[self.types[c.field]]
        error: B = False
        result: B
        if c.op in ("present", "absent"):
            result = not_(absent) if (c.op == "present") == c.arg else absent
        elif c.op in ("equals", "not_equals", "in", "not_in"):
            expected = [c.arg] if c.op in ("equals", "not_equals") else sorted(c.arg, key=repr)
            if c.op in ("equals", "not_equals") and c.arg is None:
                result = False
            elif kind not in {_kind(e) for e in expected}:  # checks.py `_comparable`
                result, error = False, not_(absent)
            else:
                result = all_(not_(absent), col.is_in([e for e in expected if _kind(e) == kind])
                              .fill_null(False))
                error = all_(self.wrong_type(c.field), not_(absent))  # text in an int field
            if c.op in ("not_equals", "not_in"):
                result = not_(result)
        elif c.op in ("matches", "not_matches", "min_length"):
            if kind != "text":
                result, error = False, not_(absent)
            elif c.op == "min_length":
                result = all_(not_(absent), col.str.strip_chars().str.len_chars() >= c.arg)
            else:  # RE2 pattern text read by Rust's regex crate (same syntax for this pack)
                result = all_(not_(absent), col.str.contains(c.arg.pattern).fill_null(False))
                if c.op == "not_matches":
                    result = not_(result)
        else:
            raise Unsupported(c.op)
        return Tri(unknown_or(unknown, result), all_(not_(unknown), error))

    def required(self, names: Sequence[str]) -> tuple[B, B]:
        """checks.py `_required` for each name in order: (unknown, error) of the first that
        is unknown or empty."""
        unknown: list[B] = []
        error: list[B] = []
        ok: B = True
        for name in names:
            unknown.append(all_(ok, self.unknown(name)))
            error.append(all_(ok, not_(self.unknown(name)), self.absent(name)))
            ok = all_(ok, not_(self.unknown(name)), not_(self.absent(name)))
        return any_(*unknown), any_(*error)

    def compare(self, c: m.Compare) -> Tri:
        names = [c.field] + ([c.other_field] if c.other_field else [])
        unknown, error = self.required(names)
        decided = all_(not_(unknown), not_(error))
        left = self.col(c.field)
        if c.other_field:
            right, right_kind = self.col(c.other_field), KIND_OF_TYPE[self.types[c.other_field]]
        else:
            right, right_kind = pl.lit(c.value), _kind(c.value)
        ordered = c.op not in ("eq", "ne")
        kinds = {KIND_OF_TYPE[self.types[c.field]], right_kind}
        if ordered and "number" in kinds:  # bool is an int to Python
            kinds = {"number" if k == "bool" else k for k in kinds}
        typed = any_(*(self.wrong_type(n) for n in names))
        result: B
        if ordered and len(kinds) > 1:  # TypeError: an evaluation error
            return Tri(unknown_or(unknown, False), any_(error, decided))
        if len(kinds) > 1:  # eq / ne across types: never equal
            result = c.op == "ne"
        else:
            op = {"lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__",
                  "eq": "__eq__", "ne": "__ne__"}[c.op]
            result = getattr(left, op)(right).fill_null(False)
        if ordered:  # text in an int field against a number: TypeError
            error = any_(error, all_(decided, typed))
        elif typed is not False:
            result = pl.when(typed).then(pl.lit(c.op == "ne")).otherwise(lit(result))
        return Tri(unknown_or(unknown, result), error)

    def matrix(self, c: m.Matrix) -> Tri:
        unknown, error = self.required([c.row, c.column])
        row, column = self.col(c.row), self.col(c.column)
        if {self.types[c.row], self.types[c.column]} != {"int"}:
            raise Unsupported("matrix on non-int fields")
        keys = {r * 1000 + k: v for r, cols in c.table.items() for k, v in cols.items()
                if abs(k) < 1000}
        expected = (row * 1000 + column).replace_strict(keys, default=None, return_dtype=pl.Int64)
        error = any_(error, all_(not_(unknown), expected.is_null()))  # no entry, or text
        unknown = any_(unknown, all_(not_(error), self.unknown(c.field)))
        value = (self.col(c.field) == expected).fill_null(False)
        return Tri(unknown_or(unknown, value), error)

    def timestamps(self, names: Sequence[str]) -> tuple[B, B]:
        for name in names:
            if self.types[name] != "datetime":
                raise Unsupported(f"{name} is not a timestamp")
        return self.required(names)

    def within(self, c: m.Within) -> Tri:
        unknown, error = self.timestamps([c.end, c.start])
        elapsed = self.col(c.end) - self.col(c.start)
        if c.by is None:
            target = pl.lit(c.targets.get(None), pl.Duration("us"))
        else:
            by_unknown, by_error = self.required([c.by])
            ok = all_(not_(unknown), not_(error))
            unknown, error = any_(unknown, all_(ok, by_unknown)), any_(error, all_(ok, by_error))
            kind = KIND_OF_TYPE[self.types[c.by]]
            targets = {k: v for k, v in c.targets.items() if _kind(k) == kind}
            target = self.col(c.by).replace_strict(targets, default=None,
                                                   return_dtype=pl.Duration("us"))
        error = any_(error, all_(not_(unknown), target.is_null()))  # no target for the value
        return Tri(unknown_or(unknown, (elapsed <= target).fill_null(False)), error)

    def older_than(self, c: m.OlderThan) -> Tri:
        unknown, error = self.timestamps([c.field])
        value = ((pl.lit(self.now) - self.col(c.field)) > pl.lit(c.age)).fill_null(False)
        return Tri(unknown_or(unknown, value), error)

    def linked_condition(self, c: m.Linked) -> Tri:
        """`link:<tag>:<i>`, joined onto the page: the outcome of the linked record's `where`
        (Int8: 1 holds, 0 fails, -1 unknown, -2 error; null: no such record)."""
        if self.types.get(c.field) != "ref":
            raise Unsupported(f"linked on {c.field}, not a reference")
        self.linked.append(c)
        found = pl.col(f"link:{self.tag}:{len(self.linked) - 1}")
        unknown = self.unknown(c.field)
        if not c.where:  # existence only: 1 or null
            return Tri(unknown_or(unknown, found.is_not_null()))
        value = pl.when(found == -1).then(NULL).otherwise((found == 1).fill_null(False))
        return Tri(unknown_or(unknown, value), all_(not_(unknown), (found == -2).fill_null(False)))


def where_outcome(compiler: Compiler, where: tuple[m.Condition, ...]) -> pl.Expr:
    """A linked record's `all(holds(w) for w in where)` in order, as Int8: 1 holds, 0 fails,
    -1 unknown (raised at once, as holds raises it), -2 error."""
    outcome: pl.Expr = pl.lit(1, pl.Int8)
    for w in reversed(where):
        tri = compiler.condition(w)
        value = lit(tri.value)
        here = pl.when(value.is_null()).then(pl.lit(-1, pl.Int8)).when(value).then(
            outcome).otherwise(pl.lit(0, pl.Int8))
        if tri.error is not False:
            here = pl.when(lit(tri.error)).then(pl.lit(-2, pl.Int8)).otherwise(here)
        outcome = here
    return outcome


@dataclass(frozen=True)
class CompiledRule:
    rule: m.Rule
    status: pl.Expr  # index in STATUSES, per row
    linked: tuple[m.Linked, ...]
    referenced: tuple[m.ReferencedBy, ...]
    observed: tuple[str, ...]  # fields shown for a failure (engine.py `_observed`, all checks)


def compile_rule(rule: m.Rule, types: dict[str, str], now: datetime,
                 unknown: frozenset[str] = frozenset(), typed: frozenset[str] = frozenset()
                 ) -> CompiledRule:
    compiler = Compiler(types, now, rule.id, unknown, typed)
    compiler.nullable |= any(isinstance(c, m.Linked) and c.where
                             for top in rule.check for c in walk(top))
    # engine.py in_scope: out if a known value is not allowed, else unknown if one is unknown.
    out: list[B] = []
    unknown_scope: list[B] = []
    for name, allowed in rule.scope.items():
        kind = KIND_OF_TYPE[types[name]]
        values = [v for v in allowed if _kind(v) == kind]
        member = compiler.col(name).is_in(values).fill_null(False) if values else False
        out.append(all_(not_(compiler.unknown(name)), not_(member)))
        unknown_scope.append(compiler.unknown(name))
    failed: list[B] = []
    error: list[B] = []
    unknown_check: list[B] = []
    for tri in (compiler.condition(c) for c in rule.check):
        failed.append(all_(not_(tri.error), compiler.is_(tri.value, False)))
        error.append(tri.error)
        if compiler.nullable and not isinstance(tri.value, bool):
            unknown_check.append(all_(not_(tri.error), tri.value.is_null()))
    chain = [(any_(*out), "out"), (any_(*unknown_scope), "unknown"), (any_(*failed), "fail"),
             (any_(*error), "error"), (any_(*unknown_check), "unknown")]
    status: Any = None
    for test, name in chain:
        if test is False:
            continue
        if test is True:
            status = CODE[name] if status is None else status.otherwise(CODE[name])
            break
        status = pl.when(test) if status is None else status.when(test)
        status = status.then(CODE[name])
    else:
        status = CODE["pass"] if status is None else status.otherwise(CODE["pass"])
    observed = tuple(sorted(set().union(*(condition_fields(c) for c in rule.check))))
    return CompiledRule(rule, status.alias(rule.id), tuple(compiler.linked),
                        tuple(compiler.referenced), observed)


def reference_kind(process: Process, field: str) -> str:
    found = field_of(process, field)
    return (found.target or "") if found is not None else ""
