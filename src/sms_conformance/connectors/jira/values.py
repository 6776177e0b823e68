"""Reading Jira field values by their JSON shape into canonical values.

A string is text (or, for a datetime, a timestamp with an offset, read as UTC); an ADF document
is flattened to plain text; an option `{"value"}` reads as its value, a named object (priority,
resolution, status, group) as its name, and for a reference the id (`accountId`, `groupId`,
`id`, DC's user `key`); a list reads as its first element; null and [] are empty. JSM's
Request Type `{requestType: {id, name}, currentStatus}` reads as its request type, and its
Approvals (a list of `{finalDecision}`) as one decision: pending while any is, else declined
once any is, else approved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from sms_conformance.connectors.jira.adf import AdfError, flatten
from sms_conformance.model.records import Unknown, Value
from sms_conformance.model.slas import SlaRecord

# 2025-02-17T09:05:31.290-0800 (Jira), also +01:00, Z, no fraction, and a bare date.
_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?)?"
)
# objectId first: an Assets object's value also has `id`, "<workspace id>:<object id>".
_REF_KEYS = ("accountId", "groupId", "objectId", "id", "key", "name")
_TEXT_KEYS = ("value", "name", "label", "displayName")
# A reference's display name: a user's, a group's or service's, an Assets object's label.
_NAME_KEYS = ("displayName", "name", "label", "value")

Reader = Callable[[Any], Value]


def parse_timestamp(text: str) -> datetime | Unknown:
    """A Jira timestamp as an aware UTC datetime; a bare date is midnight UTC. A time without
    an offset is unknown: its zone cannot be told."""
    if len(text) == 28 and text[10] == "T" and text[23] in "+-":  # Jira's own form, fast
        try:
            return datetime.fromisoformat(f"{text[:26]}:{text[26:]}").astimezone(timezone.utc)
        except ValueError:
            pass
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return Unknown(f"unreadable timestamp {text!r}")
    day, clock, fraction, offset = match.groups()
    if clock is None:
        return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    if offset is None:
        return Unknown(f"timestamp {text!r} has no UTC offset")
    if offset == "Z":
        offset = "+00:00"
    elif ":" not in offset:
        offset = f"{offset[:3]}:{offset[3:]}"
    micros = (fraction or ".0")[1:7].ljust(6, "0")
    seconds = clock if clock.count(":") == 2 else f"{clock}:00"
    try:
        moment = datetime.fromisoformat(f"{day}T{seconds}.{micros}{offset}")
    except ValueError:
        return Unknown(f"unreadable timestamp {text!r}")
    return moment.astimezone(timezone.utc)


def element(raw: Any) -> Any:
    """The first element of a list (multi-value fields read as their first value); a JSM
    Request Type value its request type."""
    if type(raw) is list:
        raw = raw[0] if raw else None
    if type(raw) is dict and type(raw.get("requestType")) is dict:
        return raw["requestType"]
    return raw


_DECISIONS = ("pending", "declined", "approved")  # the first any approval has decides


def decision(approvals: list[Any]) -> str | None:
    """One decision of a JSM Approvals value, or None when it holds no decision."""
    found = {a.get("finalDecision") for a in approvals if type(a) is dict}
    return next((d for d in _DECISIONS if d in found), None)


def text_of(raw: Any) -> str | None:
    """A value's text: strings as they are, ADF flattened, objects by value or name (AdfError
    for a document too deep or too large to read)."""
    kind = type(raw)
    if kind is str:
        return raw  # type: ignore[no-any-return]
    if kind is list:
        if raw and type(raw[0]) is dict and "finalDecision" in raw[0]:
            return decision(raw)
        raw = element(raw)
        kind = type(raw)
    if raw is None:
        return None
    if kind is dict:
        if raw.get("type") == "doc":
            return flatten(raw)
        raw = element(raw)
        for key in _TEXT_KEYS:
            value = raw.get(key)
            if type(value) in (str, int):
                return str(value)
        return None
    if kind is str:
        return raw  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if raw else "false"
    if kind in (int, float):
        return str(int(raw)) if float(raw).is_integer() else str(raw)
    return None


def ref_id(raw: Any) -> str | None:
    """The platform id a reference value carries (user, group, service, CI ...)."""
    raw = element(raw)
    if raw is None or raw == "":
        return None
    if type(raw) is dict:
        for key in _REF_KEYS:
            value = raw.get(key)
            if type(value) in (str, int) and value != "":
                return str(value)
        return None
    return str(raw) if type(raw) in (str, int) else None


def ref_name(raw: Any) -> str:
    """The display name a reference value carries beside its id ("" when none)."""
    raw = element(raw)
    if type(raw) is dict:
        for key in _NAME_KEYS:
            value = raw.get(key)
            if type(value) is str and value.strip():
                return value.strip()
    return ""


def reader(kind: str, field_id: str, values: Mapping[str, Any],
           make_ref: Callable[[str, str], Value]) -> Reader:
    """The reader of one mapped field: shape -> text -> the canonical type (through `values`
    when given: a text it does not list is unknown, as a strict choice on ServiceNow)."""
    if kind == "sla":
        return lambda raw: sla_verdict(raw, field_id)
    if kind == "ref":
        def read_ref(raw: Any) -> Value:
            found = ref_id(raw)
            return None if found is None else make_ref(found, ref_name(raw))
        return read_ref
    by_text = {str(k).casefold(): v for k, v in values.items()}

    def read(raw: Any) -> Value:
        try:
            text = text_of(raw)
        except AdfError as exc:  # sent, but not readable: an error for the rules reading it
            return Unknown(f"{field_id}: {exc}", unreadable=True)
        if not text:
            return None
        if by_text:
            found = by_text.get(text.strip().casefold(), _MISSING)
            if found is _MISSING:
                return Unknown(f"{field_id} {text!r} is not listed under values: in the Jira "
                               "field map")
            return found  # type: ignore[no-any-return]
        if kind == "datetime":
            return parse_timestamp(text)
        if kind == "int":
            return _integer(text, field_id)
        if kind == "bool":
            return _BOOLEANS.get(text.casefold(), Unknown(f"{field_id} {text!r} is not yes/no"))
        return text

    return read


def _cycles(raw: Any, field_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]] | Unknown | None:
    """A JSM SLA field's completed cycles and its ongoing one ({} when none runs: the key is
    absent then); None for no value, Unknown for a value of another shape."""
    if raw is None:
        return None
    if type(raw) is not dict:
        return Unknown(f"{field_id} is not an SLA value (a CSV export shows SLAs as text)")
    completed = raw.get("completedCycles") or []
    ongoing = raw.get("ongoingCycle") or {}
    if type(completed) is not list or type(ongoing) is not dict \
            or not all(type(c) is dict for c in completed):
        return Unknown(f"{field_id}: SLA cycles of an unknown shape")
    return completed, ongoing


def sla_verdict(raw: Any, field_id: str) -> Value:
    """A JSM SLA field's own verdict (reference §3: `completedCycles[].breached`,
    `ongoingCycle.breached`): False once any cycle breached, True when cycles completed
    without a breach, empty while no cycle has completed (nothing decided yet, or no SLA)."""
    cycles = _cycles(raw, field_id)
    if not isinstance(cycles, tuple):
        return cycles
    completed, ongoing = cycles
    if any(c.get("breached") is True for c in (*completed, ongoing)):
        return False
    return True if completed and not ongoing else None


def sla_record(raw: Any, field_id: str, name: str) -> SlaRecord | Unknown | None:
    """One JSM SLA field as an SLA record (reference §3): breached once any cycle breached,
    paused or running while it has an ongoing cycle, completed otherwise; None for a field
    with no cycle (no SLA applies), Unknown for a value of another shape (a CSV export)."""
    cycles = _cycles(raw, field_id)
    if not isinstance(cycles, tuple):
        return cycles
    completed, ongoing = cycles
    if not completed and not ongoing:
        return None
    stage = ("paused" if ongoing.get("paused") is True else "in_progress") if ongoing \
        else "completed"
    shown = raw.get("name")
    last = ongoing or completed[-1]  # the cycle that says where the SLA stands
    goal, elapsed = (_millis(last.get(k)) for k in ("goalDuration", "elapsedTime"))
    breach = _millis(last.get("breachTime"), "epochMillis")
    return SlaRecord(
        name=shown if isinstance(shown, str) and shown else name, stage=stage,
        breached=any(c.get("breached") is True for c in (*completed, ongoing)),
        planned_end=(datetime.fromtimestamp(breach / 1000, tz=timezone.utc)
                     if breach is not None else None),
        business_percentage=(100 * elapsed / goal if goal and elapsed is not None else None))


def _millis(value: Any, key: str = "millis") -> int | None:
    """A duration's `millis` (a time's `epochMillis`), when the value has a whole number."""
    number = value.get(key) if type(value) is dict else None
    return number if type(number) is int else None


def _integer(text: str, field_id: str) -> Value:
    """A whole number; `4.0` too (number fields: a CSV export writes them so)."""
    digits = text.strip()
    whole, dot, fraction = digits.partition(".")
    if whole.lstrip("-").isdigit() and (not dot or fraction.strip("0") == ""):
        return int(whole)
    return Unknown(f"{field_id} {text!r} is not a number")


_MISSING: Any = object()
_BOOLEANS: dict[str, Value] = {"true": True, "false": False, "yes": True, "no": False}
