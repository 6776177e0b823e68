"""Service levels (ISO/IEC 20000-1 clause 8.3.3): a record's SLA records, as the platform keeps
them (ServiceNow `task_sla` rows, the cycles of JSM's SLA fields), summed up into canonical
fields of the record itself, so SLA rules stay rules about one record with the usual checks.

What the fields say (incident, and any process whose schema holds them):
- `sla_count`: the SLA records the record carries (a cancelled ServiceNow SLA, one whose start
  condition stopped holding, is not counted; nor is a JSM SLA field with no cycle);
- `sla_breached`: how many of them breached; `sla_breached_names` their definitions' names;
- `sla_paused`: how many are paused now;
- `sla_breach_reason`: why the breached ones breached. Where each SLA record carries its own
  reason (a `task_sla` field the ServiceNow field map names), the reasons of the breached ones,
  and empty as soon as one of them has none: a record with several SLAs fails when any breached
  one lacks a reason. Otherwise a field of the record itself that the field map names.

A source that cannot read the SLA records (no read access to task_sla, an SLA field withheld or
not returned) gives each derived field as Unknown with its reason: the rules reading them are
unknown, never passed or failed, and no task is written on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sms_conformance.model.records import Unknown, Value

# Filled from the SLA records (the connector derives them); `sla_breach_reason` only where each
# SLA record carries its reason, otherwise it is a plain field of the record.
DERIVED = ("sla_count", "sla_breached", "sla_paused", "sla_breached_names")
REASON = "sla_breach_reason"
FIELDS = (*DERIVED, REASON)


@dataclass(frozen=True, slots=True)
class SlaRecord:
    """One SLA of a record, in no platform's terms."""

    name: str  # the SLA definition's name (ServiceNow contract_sla.name, the JSM field's name)
    stage: str  # in_progress | paused | completed | cancelled (a platform's other stages as given)
    breached: bool
    planned_end: datetime | None = None
    business_percentage: float | None = None
    pause_seconds: int | None = None
    reason: str | None = None  # None: the platform keeps no reason per SLA record

    @property
    def counted(self) -> bool:
        return self.stage != "cancelled"


def derived_fields(slas: Iterable[SlaRecord], per_record_reason: bool) -> dict[str, Value]:
    """The canonical fields a record's SLA records give (`per_record_reason`: each SLA record
    carries its own breach reason, so `sla_breach_reason` comes from them too)."""
    counted = [s for s in slas if s.counted]
    breached = [s for s in counted if s.breached]
    fields: dict[str, Value] = {
        "sla_count": len(counted),
        "sla_breached": len(breached),
        "sla_paused": sum(1 for s in counted if s.stage == "paused"),
        "sla_breached_names": ", ".join(sorted({s.name for s in breached})) or None,
    }
    if per_record_reason:
        reasons = [(s.reason or "").strip() for s in breached]
        fields[REASON] = ("; ".join(f"{s.name}: {r}" for s, r in zip(breached, reasons,
                                                                   strict=True))
                          if breached and all(reasons) else None)
    return fields


def unknown_fields(reason: str, per_record_reason: bool) -> dict[str, Value]:
    """The derived fields of a record whose SLA records could not be read, each unknown."""
    unknown = Unknown(reason)
    names = FIELDS if per_record_reason else DERIVED
    return dict.fromkeys(names, unknown)


def reads_slas(fields: Iterable[str]) -> bool:
    """Whether any of these canonical fields comes from the SLA records."""
    return any(name in DERIVED or name == REASON for name in fields)
