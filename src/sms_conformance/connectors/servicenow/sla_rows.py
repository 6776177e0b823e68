"""One task_sla row read as an SLA record (model/slas.py), whichever way it was read: a batch of
records' rows, the table read, or an export's file."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timezone

from sms_conformance.connectors.servicenow.fieldmap import SlaSource
from sms_conformance.connectors.servicenow.paging import text
from sms_conformance.connectors.servicenow.responses import Json
from sms_conformance.model.dates import parse_datetime
from sms_conformance.model.records import Value, not_returned
from sms_conformance.model.slas import SlaRecord

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def task_of(value: object) -> str:
    """The task a row names: its stored value, else its link's sys_id, else what it shows."""
    if isinstance(value, dict):
        link = str(value.get("link") or "")
        return (text(value.get("value")) or link.split("?", 1)[0].rsplit("/", 1)[-1]
                or text(value.get("display_value")))
    return text(value)


def shown(value: object) -> str:
    """A value as stored, or as displayed where the export shows only that."""
    if isinstance(value, dict):
        return text(value.get("value")) or text(value.get("display_value"))
    return text(value)


def sla_record(row: Json, source: SlaSource) -> SlaRecord:
    planned = parse_datetime(shown(row.get(source.planned_end)))
    return replace(
        summary_record(row, source),
        planned_end=planned if isinstance(planned, datetime) else None,
        business_percentage=_number(shown(row.get(source.business_percentage))),
        pause_seconds=_seconds(shown(row.get(source.pause_duration))),
    )


def summary_record(row: Json, source: SlaSource) -> SlaRecord:
    """What the per-record summary reads of a row (SlaSource.summary_fields): its definition's
    name, stage, whether it breached and why."""
    name = shown(row.get(source.name)) or shown(row.get(source.name.split(".", 1)[0]))
    return SlaRecord(
        name=name, stage=shown(row.get(source.stage)).strip().lower().replace(" ", "_"),
        breached=shown(row.get(source.breached)).lower() == "true",
        reason=shown(row.get(source.breach_reason)) if source.breach_reason else None,
    )


def reason_not_returned(row: Json, source: SlaSource) -> bool:
    """A breached row without the breach reason field (not on the table?)."""
    return (source.breach_reason is not None and source.breach_reason not in row
            and shown(row.get(source.breached)).lower() == "true")


def reason_missing(rows: Iterable[Json], source: SlaSource) -> Value:
    """Unknown when a breached row did not return the reason field (not on the table?)."""
    if any(reason_not_returned(row, source) for row in rows):
        return not_returned(f"{source.table}.{source.breach_reason}")
    return None


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _seconds(value: str) -> int | None:
    """A ServiceNow duration as stored ("1970-01-01 02:30:00": time since the epoch)."""
    moment = parse_datetime(value) if value else None
    if not isinstance(moment, datetime):
        return None
    return int((moment - _EPOCH).total_seconds())
