"""Which priority matrix decides a scan's `matrix` checks that follow the platform's lookup
(`lookup: priority`): the instance's own (ServiceNow dl_u_priority) where the scan could read
it, else the configured one (settings priority_matrix), else the shipped default."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sms_conformance.rules import model as m
from sms_conformance.rules.fields import walk

Table = dict[int, dict[int, int]]


@dataclass(frozen=True)
class Lookup:
    """What the platform's priority lookup said: its table, or None with why not."""

    table: Table | None
    how: str  # "dl_u_priority (9 entries)", or why it could not be used


def lookup_table(rows: Sequence[Mapping[str, Any]], name: str) -> Lookup:
    """A lookup's rows (impact, urgency, priority; ServiceNow sends numbers as strings) as a
    table; unusable (None) when empty, unreadable or contradicting itself."""
    table: Table = {}
    for row in rows:
        try:
            impact, urgency, priority = (int(str(row.get(k, ""))) for k in
                                         ("impact", "urgency", "priority"))
        except ValueError:
            return Lookup(None, f"{name} has a row that is not impact, urgency and priority "
                          f"numbers: {dict(row)!r}")
        if table.setdefault(impact, {}).setdefault(urgency, priority) != priority:
            return Lookup(None, f"{name} gives impact {impact} x urgency {urgency} two "
                          "priorities")
    if not table:
        return Lookup(None, f"{name} returned no rows (withheld from this user?)")
    return Lookup(table, f"{name} ({len(rows)} entries)")


def choose(settings: Mapping[str, Any], default: Table, lookup: Lookup | None) -> tuple[Table, str]:
    """(table, what it is) by the fallback order."""
    if lookup is not None and lookup.table is not None:
        return lookup.table, f"the instance's priority lookup, {lookup.how}"
    configured = settings.get("priority_matrix")
    if isinstance(configured, Mapping) and as_table(configured) != default:
        return as_table(configured), "the configured matrix (settings priority_matrix)"
    return default, "the default matrix (ServiceNow's out-of-the-box lookup)"


def as_table(data: Mapping[Any, Any]) -> Table:
    return {int(r): {int(c): int(v) for c, v in cols.items()} for r, cols in data.items()}


def uses_lookup(rules: Sequence[m.Rule]) -> bool:
    return any(isinstance(c, m.Matrix) and c.lookup for r in rules for c in _all(r.check))


def apply(rules: Sequence[m.Rule], settings: Mapping[str, Any], default: Table,
          lookup: Lookup | None) -> tuple[list[m.Rule], str]:
    """The rules with every `lookup: priority` matrix set to the chosen table and named in
    their findings' detail, and the notice saying which decides ("" when no rule has one)."""
    if not uses_lookup(rules):
        return list(rules), ""
    table, source = choose(settings, default, lookup)
    notice = f"priority matrix: {source} decides incident priority checks"
    if lookup is not None and lookup.table is None:
        notice += f" ({lookup.how})"
    return [dataclasses.replace(r, check=tuple(_set(c, table, source) for c in r.check))
            for r in rules], notice


def _all(conditions: Sequence[m.Condition]) -> list[m.Condition]:
    return [c for top in conditions for c in walk(top)]


def _set(c: m.Condition, table: Table, source: str) -> m.Condition:
    """`c` with its lookup matrices (nested too) replaced."""
    when = _set(c.when, table, source) if c.when is not None else None
    if isinstance(c, m.Matrix) and c.lookup:
        return dataclasses.replace(c, table=table, source=source, when=when)
    if isinstance(c, (m.AllOf, m.AnyOf)):
        return dataclasses.replace(c, items=tuple(_set(i, table, source) for i in c.items),
                                   when=when)
    if isinstance(c, m.Not):
        return dataclasses.replace(c, item=_set(c.item, table, source), when=when)
    return dataclasses.replace(c, when=when) if when is not c.when else c
