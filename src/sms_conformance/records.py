"""The canonical record model every rule reads, whatever platform it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class Process(str, Enum):
    INCIDENT = "incident"
    PROBLEM = "problem"
    CHANGE = "change"


LIFECYCLE_STATES: dict[Process, tuple[str, ...]] = {
    Process.INCIDENT: ("new", "in_progress", "on_hold", "resolved", "closed", "canceled"),
    Process.PROBLEM: (
        "new", "assess", "root_cause_analysis", "fix_in_progress", "resolved", "closed",
    ),
    Process.CHANGE: (
        "new", "assess", "authorize", "scheduled", "implement", "review", "closed", "canceled",
    ),
}


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to another record: platform table and record id."""

    table: str
    id: str

    def __str__(self) -> str:
        return f"{self.table}:{self.id}"


Value = str | int | bool | datetime | Ref | None


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
        """Canonical field value, or `raw.<platform field>`; missing reads as None."""
        if name in self.fields:
            return self.fields[name]
        if name.startswith("raw."):
            raw = self.raw.get(name[4:])
            if isinstance(raw, Mapping):
                return str(raw.get("value", "")) or None
            return raw if raw not in ("", None) else None
        return self.number if name == "number" else None


def is_absent(value: Value) -> bool:
    """Empty is one thing: None, "", and a reference without id all read as absent."""
    if value is None:
        return True
    kind = value.__class__
    if kind is str:
        return not value or value.isspace()  # type: ignore[union-attr]
    if kind is Ref:
        return not value.id  # type: ignore[union-attr]
    return False
