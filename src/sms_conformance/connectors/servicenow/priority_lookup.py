"""The instance's priority lookup (dl_u_priority: impact x urgency -> priority, the table its
incident form applies), from the Table API or from an export beside the records. A list export
as CSV gives display values ("1 - High"): the choice's number before its label is taken."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sms_conformance.rules.matrices import Lookup, lookup_table

PRIORITY_LOOKUP = "dl_u_priority"
COLUMNS = ("impact", "urgency", "priority")
_LABELLED = re.compile(r"\s*(\d+)\s+-\s+\S")  # "1 - High": ServiceNow's stock choice labels


def exported_lookup(rows: Iterable[Mapping[str, Any]], name: str) -> Lookup:
    """An export's lookup rows as a table: raw numbers as they are, "N - Label" as N (anything
    else stays, and lookup_table says the row is unusable)."""
    return lookup_table([{k: _number(row.get(k)) for k in COLUMNS} for row in rows], name)


def _number(value: Any) -> Any:
    if isinstance(value, Mapping):  # a display-value JSON export: {"value": ..., "display_value": ...}
        value = value.get("value", value.get("display_value"))
    if isinstance(value, str) and (labelled := _LABELLED.match(value)):
        return labelled.group(1)
    return value


__all__ = ["COLUMNS", "PRIORITY_LOOKUP", "exported_lookup"]
