"""The canonical schema every rule reads, whatever the platform: per process its fields with
their types (references with the kind of record they point at), lifecycle states and links.

A platform's field map translates its records to this schema; which canonical fields it can
fill is its own business (`PlatformMap`): a rule reading one it cannot fill is off, not wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol


class Process(str, Enum):
    INCIDENT = "incident"
    PROBLEM = "problem"
    CHANGE = "change"
    REQUEST = "request"  # service requests (requested items), clause 8.6.2


FieldType = Literal["str", "int", "bool", "datetime", "ref"]
# Kinds of record a reference points at: the processes, and these.
OTHER_KINDS = ("user", "group", "service", "configuration_item", "catalog_item")
KINDS = (*(p.value for p in Process), *OTHER_KINDS)

LIFECYCLE_STATES: dict[Process, tuple[str, ...]] = {
    Process.INCIDENT: ("new", "in_progress", "on_hold", "resolved", "closed", "canceled"),
    Process.PROBLEM: (
        "new", "assess", "root_cause_analysis", "fix_in_progress", "resolved", "closed",
    ),
    Process.CHANGE: (
        "new", "assess", "authorize", "scheduled", "implement", "review", "closed", "canceled",
    ),
    # Fulfilment of a requested item: awaiting its approval, fulfilled (in_progress), waiting
    # on the requester (on_hold), fulfilled (resolved, closed) or not (canceled).
    Process.REQUEST: (
        "new", "awaiting_approval", "in_progress", "on_hold", "resolved", "closed", "canceled",
    ),
}


@dataclass(frozen=True)
class CanonicalField:
    type: FieldType = "str"
    target: str | None = None  # for a reference: the kind of record it points at


_STR, _INT, _BOOL, _DATETIME = (CanonicalField(t) for t in ("str", "int", "bool", "datetime"))


def _ref(kind: str) -> CanonicalField:
    return CanonicalField("ref", kind)


# Fields every process has.
_COMMON: dict[str, CanonicalField] = {
    "number": _STR, "state": _STR, "opened_at": _DATETIME, "updated_at": _DATETIME,
    "short_description": _STR, "description": _STR, "impact": _INT, "priority": _INT,
    "assignment_group": _ref("group"), "assignee": _ref("user"), "service": _ref("service"),
    "configuration_item": _ref("configuration_item"), "resolution_code": _STR,
    "resolution_notes": _STR, "closed_at": _DATETIME,
}

# What a record's SLA records say (model/slas.py; clause 8.3.3): counts and names derived from
# them, and the recorded reason for a breach.
_SLAS: dict[str, CanonicalField] = {
    "sla_count": _INT, "sla_breached": _INT, "sla_paused": _INT, "sla_breached_names": _STR,
    "sla_breach_reason": _STR,
}

SCHEMA: dict[Process, dict[str, CanonicalField]] = {
    Process.INCIDENT: {
        **_COMMON, "reporter": _ref("user"), "category": _STR, "subcategory": _STR,
        "urgency": _INT, "resolved_at": _DATETIME, "problem": _ref("problem"),
        "fixed_by_change": _ref("change"), "caused_by_change": _ref("change"),
        "parent": _ref("incident"), "reopen_count": _INT, "hold_reason": _STR,
        "major_incident": _STR, "vendor_reference": _STR,
        # The platform's own verdict on the incident's SLA (ServiceNow task.made_sla).
        "made_sla": _BOOL,
        **_SLAS,
    },
    Process.PROBLEM: {
        **_COMMON, "category": _STR, "urgency": _INT, "root_cause": _STR, "workaround": _STR,
        "known_error": _BOOL, "fix_notes": _STR, "fixed_by_change": _ref("change"),
        "resolved_at": _DATETIME,
    },
    Process.CHANGE: {
        **_COMMON, "type": _STR, "approval": _STR, "risk": _INT, "justification": _STR,
        "implementation_plan": _STR, "backout_plan": _STR, "test_plan": _STR,
        "planned_start": _DATETIME, "planned_end": _DATETIME, "actual_start": _DATETIME,
        "actual_end": _DATETIME, "reviewed_at": _DATETIME,
    },
    Process.REQUEST: {
        # requester: who the item is for; catalog_item: what was asked for (ServiceNow's
        # catalogue item, JSM's request type); approval as on changes; approval_required: the
        # item needs one; due_date: when it is due (its item's delivery time); stage: the
        # platform's fulfilment stage. resolution_notes hold the fulfilment note.
        **_COMMON, "requester": _ref("user"), "catalog_item": _ref("catalog_item"),
        "approval": _STR, "approval_required": _BOOL, "due_date": _DATETIME, "stage": _STR,
        **_SLAS,
    },
}


# Canonical fields of the records a process record references and rules read through
# `linked` (clause 8.2.6: the configuration items and services incidents and changes rely on):
# `status` is the install status, `operational_status` the operational one, as canonical names
# (installed, retired ...; operational, retired ...): the field maps translate the platforms'.
_REFERENCED: dict[str, CanonicalField] = {
    "name": _STR, "status": _STR, "operational_status": _STR, "support_group": _ref("group"),
}
KIND_SCHEMA: dict[str, dict[str, CanonicalField]] = {
    "configuration_item": _REFERENCED, "service": _REFERENCED,
}


def kind_field(kind: str, name: str) -> CanonicalField | None:
    """The canonical field `name` of a referenced kind of record (a CI, a service), or None."""
    return KIND_SCHEMA.get(kind, {}).get(name)


def field_of(process: Process | str, name: str) -> CanonicalField | None:
    """The canonical field `name` of `process`, or None when the schema has no such field."""
    return SCHEMA[Process(process)].get(name)


def target(process: Process | str, name: str) -> str | None:
    """The kind a reference field points at (None: not a reference field)."""
    spec = field_of(process, name)
    return spec.target if spec is not None else None


def process_of_kind(kind: str) -> Process | None:
    """The process a kind of record is, or None for users, groups, services, CIs."""
    try:
        return Process(kind)
    except ValueError:
        return None


# Link kinds: which reference fields point from one process at another (incident.problem ->
# problem, incident.fixed_by_change -> change ...). A platform may store them as fields
# (ServiceNow) or as typed links between issues (Jira); the canonical link is the same.
LINKS: dict[tuple[Process, str], Process] = {
    (process, name): linked for process, fields in SCHEMA.items()
    for name, spec in fields.items()
    if spec.target is not None and (linked := process_of_kind(spec.target)) is not None
}


class PlatformMap(Protocol):
    """What the core needs of a platform's field map: which canonical fields it fills. A
    connector reads through its own map; rules, examples and config see only this."""

    platform: str

    def maps(self, process: Process, field: str) -> bool:
        """Whether this platform's map fills the canonical `field` of `process`."""
        ...

    def off_reason(self, process: Process, fields: Sequence[str]) -> str:
        """Why a rule reading these unmapped fields is off, and how to turn it on."""
        ...

    def where(self, process: Process) -> str:
        """Where the platform keeps records of `process` (a ServiceNow table, a Jira project
        and work type): incremental scans keep their watermark per this."""
        ...

    def processes_for_number(self, number: str) -> list[Process]:
        """The processes a record with this number may be of, the likeliest first (`trace`)."""
        ...


def unmapped_fields(platform_map: PlatformMap, process: Process, fields: Iterable[str]) -> list[str]:
    """The canonical ones among `fields` that `platform_map` does not fill, sorted: rules
    reading one are off (a stock platform has no such field)."""
    return sorted(n for n in fields if field_of(process, n) is not None
                  and not platform_map.maps(process, n))
