"""The operators of the rule language: small pure functions, each deciding on one value or
record (the engine's kernels apply them over pages of records).

An operator never coerces: comparing a number with text is an evaluation error, which the
engine reports as status `error`, never as pass or fail. Regular expressions run on RE2, in time
linear in the text: a pattern written in rule data cannot make a scan hang on a record.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import re2

from sms_conformance.model.records import Process, Record, Ref, Unknown, Value, is_absent, is_not_returned
from sms_conformance.rules import model as m
from sms_conformance.rules.fields import walk


class EvaluationError(Exception):
    """The check could not be evaluated on this record (say why)."""


class UnknownValue(Exception):
    """A value the check needs was not available: the result is `unknown`, never `fail`."""

    def __init__(self, field: str, reason: str,
                 more: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__("; ".join(f"{f}: {r}" for f, r in ((field, reason), *more)))
        self.field = field
        self.reason = reason
        self.pairs = tuple(dict.fromkeys(((field, reason), *more)))  # every (field, reason)


class PartialCount(UnknownValue):
    """A referrer count the source may have left short (it withheld records of the referring
    table): `at_least` referrers were seen, so only a check needing more is unknown."""

    def __init__(self, field: str, reason: str, at_least: int) -> None:
        super().__init__(field, reason)
        self.at_least = at_least


def combined(unknown: list[UnknownValue]) -> UnknownValue:
    """One unknown naming every (field, reason) of `unknown`, in order."""
    pairs = [p for u in unknown for p in u.pairs]
    return UnknownValue(*pairs[0], more=tuple(pairs[1:]))


def known(name: str, value: Value) -> Value:
    """The value itself, or UnknownValue when the source did not provide it (EvaluationError
    when it sent one that cannot be read)."""
    if isinstance(value, Unknown):
        raise unknown_value(name, value)
    return value


def unknown_value(name: str, value: Unknown) -> Exception:
    """What a check raises for an unknown value: unknown, or an error for an unreadable one."""
    if value.unreadable:
        return EvaluationError(f"{name}: {value.reason}")
    return UnknownValue(name, value.reason)


class LinkView(Protocol):
    """What the engine may know about other records: resolved references and referrer counts.
    Both raise UnknownValue when the table they need was not read (not exported, no access);
    `referrers` raises PartialCount when the source withheld records that may refer."""

    def get(self, ref: Ref) -> Record | None: ...

    def referrers(self, process: Process, field: str, record_id: str) -> int: ...


@dataclass(frozen=True)
class Context:
    now: datetime
    links: LinkView


@dataclass(frozen=True)
class Operator:
    """A field operator: `prepare` validates the YAML argument once, `test` runs per record."""

    prepare: Callable[[Any], Any]
    test: Callable[[Value, Any], bool]


def _bool(arg: Any) -> bool:
    if not isinstance(arg, bool):
        raise TypeError("expects true or false")
    return arg


def _scalar(arg: Any) -> Any:
    if isinstance(arg, (list, dict)):
        raise TypeError("expects a single value")
    return arg


def _values(arg: Any) -> frozenset[Any]:
    if not isinstance(arg, list) or not arg:
        raise TypeError("expects a non-empty list")
    return frozenset(arg)


class Pattern(Protocol):
    """A compiled RE2 pattern (google-re2 ships no type hints)."""

    pattern: str

    def search(self, text: str) -> object | None: ...


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the error is reported once, as ours, not logged to stderr
_RE2_OPTIONS.never_capture = True  # only "does it match" is asked


def compile_pattern(text: str) -> Pattern:
    """`text` as an RE2 pattern; ValueError says why RE2 refuses it."""
    try:
        pattern: Pattern = re2.compile(text, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        detail = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        raise ValueError(
            f"RE2 cannot use this pattern ({detail}); no backreferences or lookaround"
        ) from None
    return pattern


def _regex(arg: Any) -> Pattern:
    if not isinstance(arg, str):
        raise TypeError("expects a regular expression string")
    return compile_pattern(arg)


MAX_LENGTH = 100_000  # min_length above any field a platform stores


def _length(arg: Any) -> int:
    if not isinstance(arg, int) or isinstance(arg, bool) or not 0 <= arg <= MAX_LENGTH:
        raise TypeError(f"expects an integer from 0 to {MAX_LENGTH}")
    return arg


def _plain(value: Value) -> Any:
    """References compare by id; everything else as is."""
    return value.id if isinstance(value, Ref) else value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "text" if isinstance(value, str) else type(value).__name__


def _comparable(value: Value, expected: frozenset[Any] | Any, many: bool = False) -> Any:
    """The plain value, or an evaluation error when it is of another kind than the rule's."""
    plain = _plain(value)
    kinds = {_kind(e) for e in expected} if many else {_kind(expected)}
    if _kind(plain) not in kinds:
        raise EvaluationError(f"cannot compare {plain!r} with {expected!r}: different types")
    return plain


def present(value: Value, want: bool) -> bool:
    """`{field: reporter, present: true}`: the field holds a value ("" and null are empty)."""
    return (not is_absent(value)) == want


def absent(value: Value, want: bool) -> bool:
    """`{field: closed_at, absent: true}`: the field is empty."""
    return is_absent(value) == want


def equals(value: Value, expected: Any) -> bool:
    """`{field: approval, equals: approved}`."""
    if is_absent(value) or expected is None:
        return False
    return bool(_comparable(value, expected) == expected)


def not_equals(value: Value, expected: Any) -> bool:
    """`{field: approval, not_equals: rejected}`: an empty field is not equal."""
    return not equals(value, expected)


def is_in(value: Value, allowed: frozenset[Any]) -> bool:
    """`{field: type, in: [normal, emergency]}`."""
    return not is_absent(value) and _comparable(value, allowed, many=True) in allowed


def not_in(value: Value, excluded: frozenset[Any]) -> bool:
    """`{field: resolution_code, not_in: [duplicate, canceled]}`: empty is not in the list."""
    return not is_in(value, excluded)


def _text(value: Value) -> str:
    if not isinstance(value, str):
        raise EvaluationError(f"expected text, found {type(value).__name__} {value!r}")
    return value


def matches(value: Value, pattern: Pattern) -> bool:
    """`{field: resolution_notes, matches: '(?i)confirm'}`: regex search; empty never matches."""
    return not is_absent(value) and pattern.search(_text(value)) is not None


def not_matches(value: Value, pattern: Pattern) -> bool:
    """`{field: resolution_notes, not_matches: '^(?i)fixed\\.?$'}`: empty does not match."""
    return not matches(value, pattern)


def min_length(value: Value, length: int) -> bool:
    """`{field: short_description, min_length: 10}`: stripped text at least this long."""
    return not is_absent(value) and len(_text(value).strip()) >= length


FIELD_OPERATORS: dict[str, Operator] = {
    "present": Operator(_bool, present),
    "absent": Operator(_bool, absent),
    "equals": Operator(_scalar, equals),
    "not_equals": Operator(_scalar, not_equals),
    "in": Operator(_values, is_in),
    "not_in": Operator(_values, not_in),
    "matches": Operator(_regex, matches),
    "not_matches": Operator(_regex, not_matches),
    "min_length": Operator(_length, min_length),
}

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt,
    "ge": operator.ge, "eq": operator.eq, "ne": operator.ne,
}


def _required(record: Record, name: str) -> Value:
    value = known(name, record.get(name))
    if is_absent(value):
        raise EvaluationError(f"{name} is empty")
    return value


def _timestamp(record: Record, name: str) -> datetime:
    value = _required(record, name)
    if not isinstance(value, datetime):
        raise EvaluationError(f"{name} is not a timestamp: {value!r}")
    return value


def _compare(c: m.Compare, record: Record, ctx: Context) -> bool:
    left = _plain(_required(record, c.field))
    right = _plain(_required(record, c.other_field)) if c.other_field else c.value
    try:
        return _COMPARE[c.op](left, right)
    except TypeError:
        raise EvaluationError(f"cannot compare {left!r} with {right!r}") from None


def _matrix(c: m.Matrix, record: Record, ctx: Context) -> bool:
    row, column = _required(record, c.row), _required(record, c.column)
    valid = isinstance(row, int) and isinstance(column, int)
    expected = c.table.get(row, {}).get(column) if valid else None  # type: ignore[arg-type]
    if expected is None:
        raise EvaluationError(f"no matrix entry for {c.row}={row!r}, {c.column}={column!r}")
    return known(c.field, record.get(c.field)) == expected


def _within(c: m.Within, record: Record, ctx: Context) -> bool:
    verdict = record.get(c.outcome) if c.outcome is not None else None
    if isinstance(verdict, bool):  # the instance's own SLA outcome decides
        return verdict
    elapsed = _timestamp(record, c.end) - _timestamp(record, c.start)
    key = _plain(_required(record, c.by)) if c.by else None
    target: timedelta | None = c.targets.get(key)
    if target is None:
        raise EvaluationError(f"no target for {c.by}={key!r}")
    if elapsed > target and c.outcome is not None and is_not_returned(verdict):
        # The platform field that would decide was left out (a narrow export): calendar time
        # alone does not make a failure where the instance's own outcome may say otherwise.
        raise UnknownValue(c.outcome, f"{verdict}; calendar time exceeds the target, but the "
                           "platform's own SLA outcome decides where the record carries it")
    return elapsed <= target


def _span(delta: timedelta) -> str:
    """A duration as people read it: 4h, 1d, 5h 30m, 2d 3h (to the minute)."""
    minutes = int(delta.total_seconds() // 60)
    parts = [f"{n}{unit}" for n, unit in ((minutes // 1440, "d"), (minutes // 60 % 24, "h"),
                                          (minutes % 60, "m")) if n]
    return " ".join(parts) or "0m"


def decided_by(condition: m.Condition, record: Record) -> list[str]:
    """What decided the restore-target and matrix checks in `condition` on this record: the
    record's own SLA verdict or the calendar target; which priority matrix (a finding's
    detail)."""
    said: list[str] = []
    for c in walk(condition):
        if isinstance(c, m.Within):
            verdict = record.get(c.outcome) if c.outcome is not None else None
            if isinstance(verdict, bool):
                said.append(f"decided by the record's SLA ({c.outcome}={str(verdict).lower()})")
                continue
            key = record.get(c.by) if c.by else None
            target = c.targets.get(_plain(key)) if not isinstance(key, Unknown) else None
            start, end = record.get(c.start), record.get(c.end)
            if target is not None and isinstance(start, datetime) and isinstance(end, datetime):
                said.append(f"decided by the calendar target {_span(target)} "
                            f"(took {_span(end - start)})")
        elif isinstance(c, m.Matrix) and c.source:
            said.append(f"decided by {c.source}")
    return said


def _older_than(c: m.OlderThan, record: Record, ctx: Context) -> bool:
    return ctx.now - _timestamp(record, c.field) > c.age


def _referenced_by(c: m.ReferencedBy, record: Record, ctx: Context) -> bool:
    try:
        return ctx.links.referrers(c.process, c.field, record.id) >= c.min
    except PartialCount as exc:  # referrers were withheld: enough seen still passes
        if exc.at_least >= c.min:
            return True
        raise


# The checks of the language other than field checks, junctions, `not`, settings and links
# (which the engine's kernels compile themselves): what each decides on one record.
ROW_CHECKS: dict[type, Callable[[Any, Record, Context], bool]] = {
    m.Compare: _compare,
    m.Matrix: _matrix,
    m.Within: _within,
    m.OlderThan: _older_than,
    m.ReferencedBy: _referenced_by,
}
