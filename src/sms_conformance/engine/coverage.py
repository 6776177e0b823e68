"""Which fields the rules read does a source provide? Read from the records themselves, so it
holds for any connector (export files of any shape included)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sms_conformance.connectors.base import Connector, FetchRequest
from sms_conformance.model.records import Process, Unknown, is_absent
from sms_conformance.rules.fields import rule_fields
from sms_conformance.rules.model import Rule


@dataclass
class TableCoverage:
    process: str
    records: int = 0
    not_provided: dict[str, str] = field(default_factory=dict)  # field -> reason
    always_empty: set[str] = field(default_factory=set)
    blinded: dict[str, set[str]] = field(default_factory=dict)  # field -> rules reading it


def coverage(connector: Connector, rules: Sequence[Rule]) -> list[TableCoverage]:
    """Per process: records read, fields unknown on every record (not provided) or empty on
    every record, and the rules each of those fields blinds."""
    out = []
    for process in Process:
        chosen = [r for r in rules if r.process == process]
        if not chosen:
            continue
        fields = frozenset(set().union(*(rule_fields(r) for r in chosen)))
        cov = TableCoverage(process.value)
        unknown: dict[str, str] = {}
        provided: set[str] = set()
        nonempty: set[str] = set()
        for record in connector.fetch(FetchRequest(process, (), fields)):
            cov.records += 1
            for name in fields:
                value = record.fields.get(name)
                if isinstance(value, Unknown):
                    unknown.setdefault(name, value.reason)
                    continue
                provided.add(name)
                if not is_absent(value):
                    nonempty.add(name)
        if cov.records:
            cov.not_provided = {n: r for n, r in unknown.items() if n not in provided}
            cov.always_empty = set(fields - nonempty - set(cov.not_provided))
        for name in [*cov.not_provided, *cov.always_empty]:
            cov.blinded[name] = {r.id for r in chosen if name in rule_fields(r)}
        out.append(cov)
    return out
