"""Builds records from a rule's `examples`, so every rule can be tested with no Python code.

An example is a mapping of canonical fields. A reference given as a mapping is a linked record
that exists (with those fields); given as a string it points at a record that does not exist.
`_referenced_by: {incident.problem: 2}` says how many records reference this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sms_conformance.fieldmap import FieldMap, parse_datetime
from sms_conformance.records import Process, Record, Ref, Value
from sms_conformance.rules.model import Rule

REFERENCED_BY = "_referenced_by"


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


def build_example(
    rule: Rule, example: Mapping[str, Any], fieldmap: FieldMap
) -> tuple[Record, ExampleLinks]:
    links = ExampleLinks()
    record = _record(rule.process, example, fieldmap, links, f"example-{rule.process.value}")
    return record, links


def _record(
    process: Process | None, example: Mapping[str, Any], fieldmap: FieldMap,
    links: ExampleLinks, record_id: str,
) -> Record:
    pmap = fieldmap.for_process(process) if process is not None else None
    values: dict[str, Value] = {}
    for name, raw in example.items():
        if name == REFERENCED_BY:
            for key, count in dict(raw).items():
                source_process, _, source_field = str(key).partition(".")
                links.counts[(source_process, source_field, record_id)] = int(count)
            continue
        spec = pmap.fields.get(name) if pmap is not None else None
        if pmap is not None and spec is None and name != "number" and not pmap.is_unmapped(name):
            raise ExampleError(f"unknown field {name!r} in example")
        if spec is not None and spec.type == "ref":
            table = spec.table or ""
            if isinstance(raw, Mapping):
                linked_id = f"{record_id}.{name}"
                target = fieldmap.process_of_table(table)
                links.records[Ref(table, linked_id)] = _record(target, raw, fieldmap, links, linked_id)
                values[name] = Ref(table, linked_id)
            else:
                values[name] = Ref(table, "") if raw in (None, "") else Ref(table, str(raw))
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
    table = pmap.table if pmap is not None else "example"
    number = str(example.get("number", f"EX-{record_id}"))
    return Record(
        platform="example", instance="example", process=process.value if process else table,
        table=table, id=record_id, number=number, url="", fields=values,
    )
