"""Builds records from a rule's `examples`, so every rule can be tested with no Python code.

An example is a mapping of canonical fields. A reference given as a mapping is a linked record
that exists (with those fields); given as a string it points at a record that does not exist.
`_referenced_by: {incident.problem: 2}` says how many records reference this one;
`_settings: {major_incident_by: flag}` runs the example on the rule loaded with those settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sms_conformance.model.dates import parse_datetime
from sms_conformance.model.records import Process, Record, Ref, Value
from sms_conformance.model.schema import LINKS, field_of, kind_field
from sms_conformance.rules.model import Rule

REFERENCED_BY = "_referenced_by"
SETTINGS = "_settings"


def example_settings(example: Mapping[str, Any]) -> dict[str, Any]:
    """The settings an example is run with, over the run's own (`_settings`)."""
    return dict(example.get(SETTINGS) or {})


@dataclass
class ExampleLinks:
    """The LinkView of an example: the linked records it spells out, nothing else."""

    records: dict[Ref, Record] = field(default_factory=dict)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def get(self, ref: Ref) -> Record | None:
        return self.records.get(ref)

    def referrers(self, process: Process, field_name: str, record_id: str) -> int:
        return self.counts.get((Process(process).value, field_name, record_id), 0)


class ExampleError(ValueError):
    pass


def build_example(rule: Rule, example: Mapping[str, Any],
                  record_id: str = "") -> tuple[Record, ExampleLinks]:
    """The record an example spells out, in canonical fields (no platform involved);
    `record_id` tells examples evaluated on one page apart."""
    links = ExampleLinks()
    record = _record(rule.process, example, links, record_id or f"example-{rule.process.value}")
    return record, links


def _record(
    process: Process | None, example: Mapping[str, Any], links: ExampleLinks, record_id: str,
    kind: str = "",
) -> Record:
    """`kind`: of a linked record that is no process (a CI, a service), whose fields are then
    read as that kind's canonical fields (other names as given)."""
    values: dict[str, Value] = {}
    for name, raw in example.items():
        if name == SETTINGS:
            continue
        if name == REFERENCED_BY:
            for key, count in dict(raw).items():
                source_process, _, source_field = str(key).partition(".")
                links.counts[(source_process, source_field, record_id)] = int(count)
            continue
        spec = field_of(process, name) if process is not None else kind_field(kind, name)
        if process is not None and spec is None:
            raise ExampleError(f"unknown field {name!r} in example")
        if spec is not None and spec.type == "ref":
            target_kind = spec.target or ""
            if isinstance(raw, Mapping):
                linked_id = f"{record_id}.{name}"
                target = LINKS.get((process, name)) if process is not None else None
                links.records[Ref(target_kind, linked_id)] = _record(
                    target, raw, links, linked_id, target_kind)
                values[name] = Ref(target_kind, linked_id)
            else:
                values[name] = (Ref(target_kind, "") if raw in (None, "")
                                else Ref(target_kind, str(raw)))
        elif spec is not None and spec.type == "datetime" and raw in (None, ""):
            values[name] = None  # an empty timestamp, as the connectors read "" from the platform
        elif spec is not None and spec.type == "datetime" and isinstance(raw, datetime):
            values[name] = raw if raw.tzinfo else raw.replace(tzinfo=timezone.utc)
        elif spec is not None and spec.type == "datetime" and isinstance(raw, str):
            parsed = parse_datetime(raw)
            if not isinstance(parsed, datetime):
                raise ExampleError(f"{name}: not a timestamp: {raw!r}")
            values[name] = parsed
        else:
            values[name] = raw
    table = process.value if process is not None else "example"
    number = str(example.get("number", f"EX-{record_id}"))
    return Record(
        platform="example", instance="example", process=table, table=table, id=record_id,
        number=number, url="", fields=values,
    )
