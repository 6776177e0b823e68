"""The canonical record model every rule reads, whatever platform it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The process enum and lifecycle states belong to the canonical schema; re-exported here.
from sms_conformance.model.schema import LIFECYCLE_STATES as LIFECYCLE_STATES
from sms_conformance.model.schema import Process as Process


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to another record: its canonical kind (incident, problem, change, user,
    group, service, configuration_item; see canonical.KINDS) and its platform record id; where
    the source gave it beside the id, the target's display name (not part of its identity)."""

    kind: str
    id: str
    name: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class NamedRef(Ref):
    """A reference exported as its target's display value (a name, in `id`), not its record id:
    the reference is set, but the record it names cannot be looked up."""


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value the source did not provide (a column not exported, a field not returned, a date
    that does not parse): a check that needs it cannot be decided. Unknown is not empty.

    `unreadable`: the source sent the value, but it cannot be read (rich text nested too deep,
    too large): a check that needs it is an error for that record, not unknown."""

    reason: str
    unreadable: bool = False

    def __str__(self) -> str:
        return f"unknown: {self.reason}"


_NOT_RETURNED: dict[str, Unknown] = {}


def not_returned(field: str) -> Unknown:
    """The shared marker of a platform field the source did not return."""
    marker = _NOT_RETURNED.get(field)
    if marker is None:
        marker = _NOT_RETURNED[field] = Unknown(f"{field} was not returned by the source")
    return marker


def is_not_returned(value: object) -> bool:
    """Whether `value` is the marker of a field the source did not return (a column left out
    of an export), not a field the platform map leaves unfilled."""
    return isinstance(value, Unknown) and _NOT_RETURNED.get(
        value.reason.removesuffix(" was not returned by the source")) is value


Value = str | int | bool | datetime | Ref | Unknown | None


@dataclass(frozen=True, slots=True)
class Record:
    """One platform record with canonical fields and its raw payload (`raw.` access)."""

    platform: str
    instance: str
    process: str
    table: str
    id: str
    number: str
    url: str
    fields: Mapping[str, Value]
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def get(self, name: str) -> Value:
        """Canonical field value, or `raw.<platform field>`; missing reads as None, a raw field
        the source did not return as Unknown."""
        if name in self.fields:
            return self.fields[name]
        if name.startswith("raw."):
            if name[4:] not in self.raw:
                return not_returned(name[4:])
            raw = self.raw.get(name[4:])
            if isinstance(raw, Mapping):
                return str(raw.get("value", "")) or None
            return raw if raw not in ("", None) else None
        return self.number if name == "number" else None


def is_absent(value: Value) -> bool:
    """None, "", whitespace and a reference without id read as absent; Unknown does not."""
    if value is None:
        return True
    kind = value.__class__
    if kind is str:
        return not value or value.isspace()  # type: ignore[union-attr]
    if kind is Ref:
        return not value.id  # type: ignore[union-attr]
    return False
