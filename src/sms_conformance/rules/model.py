"""Typed rules and the condition variants of the rule language."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from sms_conformance.model.records import Process

Scalar = str | int | float | bool
CompareOp = Literal["lt", "le", "gt", "ge", "eq", "ne"]


# Configuration models are strict (a string is not a list, "5" is not 5), except that an enum
# accepts its value: YAML has no enum instances to give.
Lax = Strict(False)


class Severity(str, Enum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


@dataclass(frozen=True)
class FieldCheck:
    """`field: X` plus one field operator (present, matches, in ...)."""

    field: str
    op: str
    arg: Any
    when: Condition | None = None
    # The field is one of the rule's `optional` fields and this platform's map does not fill
    # it: the check reads it as empty (the site has no such field), not as unknown.
    absent: bool = False


@dataclass(frozen=True)
class Compare:
    """`field` compared with another field or a value."""

    field: str
    op: CompareOp
    other_field: str | None
    value: Scalar | None
    when: Condition | None = None


@dataclass(frozen=True)
class Matrix:
    """`field` equals table[row field][column field] (priority = impact x urgency)."""

    field: str
    row: str
    column: str
    table: dict[int, dict[int, int]]
    when: Condition | None = None
    # `lookup: priority`: the platform's own priority lookup replaces `table` where the scan
    # can read it (rules.matrices), and `source` says which matrix it is in a finding's detail.
    lookup: str = ""
    source: str = ""


@dataclass(frozen=True)
class Within:
    """Duration from `start` to `end` is within the target for the record's `by` value."""

    start: str
    end: str
    by: str | None
    targets: dict[Any, timedelta]
    when: Condition | None = None
    # A boolean field holding the platform's own verdict (made_sla): decides where the record
    # carries it; the calendar targets are the fallback. Optional: a platform without it
    # keeps the rule on.
    outcome: str | None = None


@dataclass(frozen=True)
class OlderThan:
    """`field` (a timestamp) is further in the past than `age`."""

    field: str
    age: timedelta
    when: Condition | None = None


@dataclass(frozen=True)
class Linked:
    """`field` references a record that exists and satisfies every `where` condition."""

    field: str
    target_process: Process | None
    where: tuple[Condition, ...] = ()
    when: Condition | None = None


@dataclass(frozen=True)
class ReferencedBy:
    """At least `min` records of `process` reference this one through `field`."""

    process: Process
    field: str
    min: int = 1
    when: Condition | None = None


@dataclass(frozen=True)
class SettingIs:
    """`setting: NAME` with `in: [values]`: whether an organisation setting has one of the
    values. Decided when the rule loads (`holds`); the loader folds it out of junctions."""

    name: str
    values: tuple[Scalar, ...]
    holds: bool
    when: Condition | None = None


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]
    when: Condition | None = None


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    when: Condition | None = None


@dataclass(frozen=True)
class Not:
    item: Condition
    when: Condition | None = None


Condition = (
    FieldCheck | Compare | Matrix | Within | OlderThan | Linked | ReferencedBy | SettingIs | AllOf
    | AnyOf | Not
)


class Examples(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    pass_: list[dict[str, Any]] = Field(default_factory=list, alias="pass")
    fail: list[dict[str, Any]] = Field(default_factory=list)


class RuleSpec(BaseModel):
    """The YAML shape of a rule, before its check is parsed into conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$", max_length=200)
    title: str = Field(min_length=3, max_length=120)
    clause: str = Field(pattern=r"^\d+(\.\d+)*$", max_length=20)
    process: Annotated[Process, Lax]
    severity: Annotated[Severity, Lax]
    scope: dict[str, Scalar | list[Scalar]] = {}
    check: list[dict[str, Any]] = Field(min_length=1)
    message: str
    remediation: str
    why: str = ""
    aliases: list[str] = []
    enabled: bool = True
    examples: Examples = Examples()
    # Fields the rule does without where the field map does not fill them (read as empty)
    optional: list[str] = []


@dataclass(frozen=True)
class Rule:
    """A loaded, validated rule."""

    id: str
    title: str
    clause: str
    process: Process
    severity: Severity
    scope: dict[str, tuple[Any, ...]]
    check: tuple[Condition, ...]
    message: str
    remediation: str
    why: str = ""
    aliases: tuple[str, ...] = ()
    enabled: bool = True
    examples: Examples = field(default_factory=Examples)
    source: Path | None = None
    optional: tuple[str, ...] = ()
    off_reason: str = ""  # why a rule is off though enabled (a field it reads is not mapped)

    def matches_id(self, pattern: str) -> bool:
        """Glob match on the id or any alias (`incident.*`)."""
        return any(fnmatch.fnmatchcase(name, pattern) for name in (self.id, *self.aliases))
