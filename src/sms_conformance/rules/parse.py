"""Turns the `check:` YAML of a rule into typed conditions, with precise errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sms_conformance.model.schema import KIND_SCHEMA, LINKS, Process, field_of, kind_field, target
from sms_conformance.rules.checks import FIELD_OPERATORS
from sms_conformance.rules.model import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    FieldCheck,
    Linked,
    Matrix,
    Not,
    OlderThan,
    ReferencedBy,
    SettingIs,
    Within,
)
from sms_conformance.support import durations
from sms_conformance.support.durations import DurationError

Location = tuple[str | int, ...]
MAX_REFERRERS = 10_000
COMPARE_OPS = ("lt", "le", "gt", "ge", "eq", "ne")


class CheckSyntaxError(ValueError):
    """A problem in a check, with the YAML path to it."""

    def __init__(self, problem: str, location: Location) -> None:
        super().__init__(problem)
        self.location = location


def parse_duration(value: Any, location: Location = ()) -> timedelta:
    """A duration of a rule (support.durations' grammar), its error placed at `location`."""
    try:
        return durations.parse_duration(value)
    except DurationError as exc:
        raise CheckSyntaxError(str(exc), location) from None


@dataclass(frozen=True)
class ConditionParser:
    """Parses conditions for one process, checking every field name against the canonical
    schema (whatever platform the rules will run on); `settings` decide `setting:` tests."""

    process: Process | None
    settings: Mapping[str, Any] = field(default_factory=dict)
    kind: str = ""  # a referenced kind (CI, service) whose fields `where` reads, process None

    def parse(self, data: Any, loc: Location) -> Condition:
        if not isinstance(data, Mapping):
            raise CheckSyntaxError("a check must be a mapping", loc)
        when = self.parse(data["when"], (*loc, "when")) if "when" in data else None
        body = {k: v for k, v in data.items() if k != "when"}
        if "field" in body:
            return self._field_condition(body, loc, when)
        if "setting" in body:
            return self._setting(body, loc, when)
        if len(body) != 1:
            raise CheckSyntaxError(
                f"expected one check, got {sorted(body) or 'none'}", loc
            )
        name, arg = next(iter(body.items()))
        parser = self._composites().get(name)
        if parser is None:
            raise CheckSyntaxError(f"unknown check {name!r}", (*loc, name))
        return parser(arg, (*loc, name), when)

    def _composites(self) -> dict[str, Callable[[Any, Location, Condition | None], Condition]]:
        return {
            "all": lambda arg, loc, when: AllOf(self._items(arg, loc), when),
            "any": lambda arg, loc, when: AnyOf(self._items(arg, loc), when),
            "not": lambda arg, loc, when: Not(self.parse(arg, loc), when),
            "matrix": self._matrix,
            "within": self._within,
            "older_than": self._older_than,
            "linked": self._linked,
            "referenced_by": self._referenced_by,
        }

    def field_name(self, name: Any, loc: Location) -> str:
        if not isinstance(name, str) or not name:
            raise CheckSyntaxError("field must be a non-empty string", loc)
        if self.kind in KIND_SCHEMA and kind_field(self.kind, name) is None:
            raise CheckSyntaxError(
                f"unknown field {name!r} for a linked {self.kind} (it has "
                f"{', '.join(KIND_SCHEMA[self.kind])})", loc)
        if name.startswith("raw.") or name == "number" or self.process is None:
            return name
        if field_of(self.process, name) is None:
            raise CheckSyntaxError(
                f"unknown field {name!r} for {self.process.value} (not in the canonical schema)",
                loc)
        return name

    def _items(self, arg: Any, loc: Location) -> tuple[Condition, ...]:
        if not isinstance(arg, list) or not arg:
            raise CheckSyntaxError("expects a non-empty list of checks", loc)
        return tuple(self.parse(item, (*loc, i)) for i, item in enumerate(arg))

    def _mapping(self, arg: Any, loc: Location, required: set[str], allowed: set[str]) -> dict[str, Any]:
        if not isinstance(arg, Mapping):
            raise CheckSyntaxError("expects a mapping", loc)
        missing = required - set(arg)
        unknown = set(arg) - required - allowed
        if missing:
            raise CheckSyntaxError(f"missing {sorted(missing)}", loc)
        if unknown:
            raise CheckSyntaxError(f"unknown keys {sorted(unknown)}", (*loc, sorted(unknown)[0]))
        return dict(arg)

    def _field_condition(self, body: dict[str, Any], loc: Location, when: Condition | None) -> Condition:
        name = self.field_name(body.pop("field"), (*loc, "field"))
        if len(body) != 1:
            raise CheckSyntaxError(
                f"field {name!r} needs exactly one operator, got {sorted(body) or 'none'}", loc
            )
        op, arg = next(iter(body.items()))
        if op == "compare":
            return self._compare(name, arg, (*loc, op), when)
        if op not in FIELD_OPERATORS:
            raise CheckSyntaxError(f"unknown check {op!r}", (*loc, op))
        operator = FIELD_OPERATORS[op]
        try:
            arg = operator.prepare(arg)
        except (TypeError, ValueError, re.error) as exc:
            raise CheckSyntaxError(f"{op}: {exc}", (*loc, op)) from None
        return FieldCheck(name, op, arg, when)

    def _setting(self, body: dict[str, Any], loc: Location, when: Condition | None) -> SettingIs:
        spec = self._mapping(body, loc, {"setting", "in"}, set())
        name, values = spec["setting"], spec["in"]
        if not isinstance(name, str) or name not in self.settings:
            raise CheckSyntaxError(f"unknown setting {name!r}", (*loc, "setting"))
        if not isinstance(values, list) or not values \
                or not all(isinstance(v, (str, int, float, bool)) for v in values):
            raise CheckSyntaxError("in: expects a non-empty list of plain values", (*loc, "in"))
        return SettingIs(name, tuple(values), self.settings[name] in values, when)

    def _compare(self, name: str, arg: Any, loc: Location, when: Condition | None) -> Compare:
        spec = self._mapping(arg, loc, {"op"}, {"field", "value"})
        if spec["op"] not in COMPARE_OPS:
            raise CheckSyntaxError(f"op must be one of {', '.join(COMPARE_OPS)}", (*loc, "op"))
        if ("field" in spec) == ("value" in spec):
            raise CheckSyntaxError("compare needs exactly one of field or value", loc)
        if isinstance(spec.get("value"), (list, dict)):
            raise CheckSyntaxError("value must be a single value", (*loc, "value"))
        other = self.field_name(spec["field"], (*loc, "field")) if "field" in spec else None
        return Compare(name, spec["op"], other, spec.get("value"), when)

    def _matrix(self, arg: Any, loc: Location, when: Condition | None) -> Matrix:
        spec = self._mapping(arg, loc, {"field", "row", "column", "table"}, {"lookup"})
        if spec.get("lookup", "priority") != "priority":
            raise CheckSyntaxError("lookup must be priority (the platform's priority lookup)",
                                   (*loc, "lookup"))
        table = spec["table"]
        if not isinstance(table, Mapping) or not all(isinstance(r, Mapping) for r in table.values()):
            raise CheckSyntaxError("table must map row value -> column value -> result", (*loc, "table"))
        try:
            lookup = {int(r): {int(c): int(v) for c, v in cols.items()} for r, cols in table.items()}
        except (TypeError, ValueError):
            raise CheckSyntaxError("table keys and values must be integers", (*loc, "table")) from None
        return Matrix(
            self.field_name(spec["field"], (*loc, "field")),
            self.field_name(spec["row"], (*loc, "row")),
            self.field_name(spec["column"], (*loc, "column")),
            lookup,
            when,
            spec.get("lookup", ""),
        )

    def _within(self, arg: Any, loc: Location, when: Condition | None) -> Within:
        spec = self._mapping(arg, loc, {"start", "end", "targets"}, {"by", "outcome"})
        targets_raw = spec["targets"]
        by = self.field_name(spec["by"], (*loc, "by")) if "by" in spec else None
        if by is None:
            targets = {None: parse_duration(targets_raw, (*loc, "targets"))}
        elif isinstance(targets_raw, Mapping):
            targets = {
                key: parse_duration(value, (*loc, "targets", key))
                for key, value in targets_raw.items()
            }
        else:
            raise CheckSyntaxError("targets must map each `by` value to a duration", (*loc, "targets"))
        return Within(
            self.field_name(spec["start"], (*loc, "start")),
            self.field_name(spec["end"], (*loc, "end")),
            by,
            targets,
            when,
            self.field_name(spec["outcome"], (*loc, "outcome")) if "outcome" in spec else None,
        )

    def _older_than(self, arg: Any, loc: Location, when: Condition | None) -> OlderThan:
        spec = self._mapping(arg, loc, {"field", "age"}, set())
        return OlderThan(
            self.field_name(spec["field"], (*loc, "field")),
            parse_duration(spec["age"], (*loc, "age")),
            when,
        )

    def _linked(self, arg: Any, loc: Location, when: Condition | None) -> Linked:
        spec = self._mapping(arg, loc, {"field"}, {"where"})
        name = self.field_name(spec["field"], (*loc, "field"))
        linked = self._ref_target(name, (*loc, "field"))
        where: tuple[Condition, ...] = ()
        if "where" in spec:
            kind = (target(self.process, name) or "") if self.process is not None else ""
            inner = ConditionParser(linked, self.settings, kind)
            where = inner._items(spec["where"], (*loc, "where"))
        return Linked(name, linked, where, when)

    def _ref_target(self, name: str, loc: Location) -> Process | None:
        if self.process is None or name.startswith("raw."):
            return None
        spec = field_of(self.process, name)
        if spec is None or spec.type != "ref":
            raise CheckSyntaxError(f"{name!r} is not a reference field", loc)
        return LINKS.get((self.process, name))

    def _referenced_by(self, arg: Any, loc: Location, when: Condition | None) -> ReferencedBy:
        spec = self._mapping(arg, loc, {"process", "field"}, {"min"})
        try:
            process = Process(spec["process"])
        except ValueError:
            raise CheckSyntaxError(f"unknown process {spec['process']!r}", (*loc, "process")) from None
        field = ConditionParser(process).field_name(spec["field"], (*loc, "field"))
        minimum = spec.get("min", 1)
        if not isinstance(minimum, int) or isinstance(minimum, bool) or not 1 <= minimum <= MAX_REFERRERS:
            raise CheckSyntaxError(f"min must be an integer from 1 to {MAX_REFERRERS}", (*loc, "min"))
        return ReferencedBy(process, field, minimum, when)
