"""Encoded queries (``sysparm_query``): parser and evaluator, as the Table API reads them.

Grammar: conditions ``<field><OP><value>`` joined by ``^`` (AND), ``^OR`` (OR with the previous
condition), ``^NQ`` (a new OR-ed group: ``a^b^NQc`` = ``(a AND b) OR c``), plus ``ORDERBY<f>`` /
``ORDERBYDESC<f>`` (several, applied in order) and ``EQ`` (end marker, ignored).

Operators: ``=`` ``!=`` ``IN`` ``NOT IN`` ``LIKE`` ``NOT LIKE`` ``STARTSWITH`` ``ENDSWITH``
``ISEMPTY`` ``ISNOTEMPTY`` ``ANYTHING`` ``EMPTYSTRING`` ``<`` ``<=`` ``>`` ``>=`` ``BETWEEN``
(``a@b``, inclusive).

Semantics, as on a default instance:
- A condition on an unknown field, or with an unknown operator, is silently dropped and the rest
  of the query still runs (``glide.invalid_query.returns_no_rows`` is false by default).
- Reference fields hold sys_ids, so they compare by sys_id.
- ``LIKE``/``STARTSWITH``/``ENDSWITH`` are case-insensitive (the database collation); ``=``,
  ``!=`` and ``IN`` compare exactly.
- ``<`` ``<=`` ``>`` ``>=`` ``BETWEEN`` compare numerically when both sides are integers
  (``reopen_count>0``, ``priority<=2``), lexically otherwise (datetimes ``YYYY-MM-DD HH:MM:SS``
  and 32-hex sys_ids order correctly that way); an empty field never matches them.
- There is no escape for ``^``: a value cannot contain it (ServiceNow has none either). Any other
  character, including ``=``, ``,`` and ``@`` outside IN/BETWEEN, may appear in a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Row = list[Any]
Predicate = Callable[[Row], bool]
GetterFactory = Callable[[str], "Callable[[Row], str] | None"]

# Longest first, so "NOT IN" wins over "IN", "<=" over "<", "ISNOTEMPTY" over "ISEMPTY".
OPERATORS: tuple[str, ...] = (
    "NOT LIKE", "NOT IN", "ISNOTEMPTY", "ISEMPTY", "STARTSWITH", "ENDSWITH", "EMPTYSTRING",
    "ANYTHING", "BETWEEN", "LIKE", "IN", "!=", "<=", ">=", "=", "<", ">",
)
NO_VALUE = frozenset({"ISEMPTY", "ISNOTEMPTY", "ANYTHING", "EMPTYSTRING"})
_FIELD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: str = ""


@dataclass
class Query:
    """``groups`` are OR-ed; a group is an AND of clauses; a clause is an OR of conditions."""

    groups: list[list[list[Condition]]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    invalid: list[str] = field(default_factory=list)  # terms that could not be parsed

    def key(self) -> tuple[Any, ...]:
        """A hashable form (for caches)."""
        return (tuple(tuple(tuple(clause) for clause in g) for g in self.groups),
                tuple(self.order))

    def conditions(self) -> list[Condition]:
        return [c for g in self.groups for clause in g for c in clause]


def parse_condition(term: str) -> Condition | None:
    """``"stateIN1,2"`` -> Condition("state", "IN", "1,2"); None if no operator is found."""
    i = 0
    while i < len(term) and term[i] in _FIELD_CHARS:
        i += 1
    name, rest = term[:i], term[i:]
    if not name:
        return None
    for op in OPERATORS:
        if rest.startswith(op):
            value = rest[len(op):]
            if op in NO_VALUE:
                value = ""
            return Condition(name, op, value)
    return None


def parse(text: str | None) -> Query:
    """Parse an encoded query; unparseable terms are recorded in ``invalid`` and ignored."""
    query = Query()
    if not text:
        return query
    group: list[list[Condition]] = []
    for raw in text.split("^"):
        term = raw
        if not term or term == "EQ":
            continue
        if term.startswith("ORDERBYDESC"):
            query.order.append((term[len("ORDERBYDESC"):], True))
            continue
        if term.startswith("ORDERBY"):
            query.order.append((term[len("ORDERBY"):], False))
            continue
        new_group = or_previous = False
        if term.startswith("NQ"):
            new_group, term = True, term[2:]
        elif term.startswith("OR"):
            or_previous, term = True, term[2:]
        if new_group and group:
            query.groups.append(group)
            group = []
        cond = parse_condition(term)
        if cond is None:
            query.invalid.append(raw)
            continue
        if or_previous and group:
            group[-1].append(cond)
        else:
            group.append([cond])
    if group:
        query.groups.append(group)
    return query


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _compare(op: str, value: str) -> Callable[[str], bool]:
    number = _int(value)
    if op == "<":
        def test(v: str) -> bool:
            if not v:
                return False
            n = _int(v) if number is not None else None
            return n < number if n is not None and number is not None else v < value
    elif op == "<=":
        def test(v: str) -> bool:
            if not v:
                return False
            n = _int(v) if number is not None else None
            return n <= number if n is not None and number is not None else v <= value
    elif op == ">":
        def test(v: str) -> bool:
            if not v:
                return False
            n = _int(v) if number is not None else None
            return n > number if n is not None and number is not None else v > value
    else:
        def test(v: str) -> bool:
            if not v:
                return False
            n = _int(v) if number is not None else None
            return n >= number if n is not None and number is not None else v >= value
    return test


def value_test(op: str, value: str) -> Callable[[str], bool] | None:
    """The test one condition applies to a stored field value; None for an unknown operator."""
    if op == "=":
        return lambda v: v == value
    if op == "!=":
        return lambda v: v != value
    if op in ("IN", "NOT IN"):
        options = frozenset(value.split(","))
        if op == "IN":
            return lambda v: v in options
        return lambda v: v not in options
    low = value.lower()
    if op == "LIKE":
        return lambda v: low in v.lower()
    if op == "NOT LIKE":
        return lambda v: low not in v.lower()
    if op == "STARTSWITH":
        return lambda v: v.lower().startswith(low)
    if op == "ENDSWITH":
        return lambda v: v.lower().endswith(low)
    if op in ("ISEMPTY", "EMPTYSTRING"):
        return lambda v: v == ""
    if op == "ISNOTEMPTY":
        return lambda v: v != ""
    if op == "ANYTHING":
        return lambda v: True
    if op in ("<", "<=", ">", ">="):
        return _compare(op, value)
    if op == "BETWEEN":
        lo, _, hi = value.partition("@")
        above, below = _compare(">=", lo), _compare("<=", hi)
        return lambda v: above(v) and below(v)
    return None


def compile_condition(cond: Condition, getter_for: GetterFactory) -> Predicate | None:
    get = getter_for(cond.field)
    test = value_test(cond.op, cond.value)
    if get is None or test is None:
        return None  # unknown field or operator: dropped, as the real API does
    if cond.op == "=":
        value = cond.value
        return lambda row: get(row) == value
    return lambda row: test(get(row))


def compile_query(query: Query, getter_for: GetterFactory) -> Predicate | None:
    """One predicate for the whole query; None when it matches every row."""
    groups: list[list[list[Predicate]]] = []
    for group in query.groups:
        clauses: list[list[Predicate]] = []
        for clause in group:
            preds = [p for p in (compile_condition(c, getter_for) for c in clause)
                     if p is not None]
            if preds:
                clauses.append(preds)
        if not clauses:
            return None  # an OR-ed group that matches everything
        groups.append(clauses)
    if not groups:
        return None

    def and_clauses(clauses: list[list[Predicate]]) -> Predicate:
        parts: list[Predicate] = [
            c[0] if len(c) == 1 else (lambda row, c=c: any(p(row) for p in c))  # type: ignore[misc]
            for c in clauses
        ]
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            a, b = parts
            return lambda row: a(row) and b(row)
        return lambda row: all(p(row) for p in parts)

    compiled = [and_clauses(g) for g in groups]
    if len(compiled) == 1:
        return compiled[0]
    return lambda row: any(p(row) for p in compiled)


def extract_keyset(query: Query) -> tuple[Query, Condition | None]:
    """Split off a top-level ``sys_id>X`` / ``sys_id>=X`` condition (keyset paging).

    Only when the condition is not OR-ed with another, in the one AND group or the same in
    every ^NQ group (``a^k^NQb^k`` = ``(a OR b) AND k``); the rest of the query is returned so
    its matches can be cached independently of X.
    """
    found: list[tuple[int, Condition]] = []
    for group in query.groups:
        at = next((i for i, clause in enumerate(group) if len(clause) == 1
                   and clause[0].field == "sys_id" and clause[0].op in (">", ">=")), None)
        if at is None:
            return query, None
        found.append((at, group[at][0]))
    if not found or any(c != found[0][1] for _, c in found):
        return query, None
    groups = [group[:i] + group[i + 1:] for group, (i, _) in zip(query.groups, found, strict=True)]
    if any(not group for group in groups):  # a group of the keyset alone: every row matches
        groups = []
    return Query(groups=groups, order=query.order, invalid=query.invalid), found[0][1]
