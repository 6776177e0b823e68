"""Compile rule scopes into ServiceNow encoded queries, and build keyset page queries.

Encoded queries have no escape for `^`, so values that could change the query's structure are
rejected rather than quoted: a value may never widen what a scan reads or writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from sms_conformance.connectors.base import Scope
from sms_conformance.connectors.servicenow.fieldmap import FieldSpec, ProcessMap, format_datetime
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import Ref

# ANDed conditions; a filter is a tuple of groups ORed with ^NQ.
Group = tuple[str, ...]
Filter = tuple[Group, ...]

EVERYTHING: Filter = ((),)
NOTHING: Filter = ()

_FIELD = re.compile(r"[a-z0-9_.]+")
_FORBIDDEN = ("^", "\n", "\r", "\x00")


def check_field(name: str) -> str:
    """A platform field name safe to put into an encoded query."""
    if not _FIELD.fullmatch(name):
        raise ConfigError(f"invalid ServiceNow field name {name!r}: expected [a-z0-9_.]+")
    return name


def check_value(value: str, field: str = "") -> str:
    """A value safe to put into an encoded query: no `^`, no line breaks, no script."""
    where = f" for {field}" if field else ""
    if any(char in value for char in _FORBIDDEN):
        raise ConfigError(
            f"value {value!r}{where} cannot be sent to ServiceNow: encoded queries have no "
            "escape for '^' or line breaks"
        )
    if value.lstrip().lower().startswith("javascript:"):
        # The instance evaluates such values as server-side script, not as literals.
        raise ConfigError(f"value {value!r}{where}: script values are not allowed in queries")
    return value


def condition(field: str, values: Sequence[str | None]) -> str:
    """`field` equals any of `values` (None or "" = empty), as one ORed condition chain."""
    check_field(field)
    if not values:
        raise ValueError(f"no values for {field}")
    present = [check_value(v, field) for v in dict.fromkeys(values) if v not in (None, "")]
    parts: list[str] = []
    if len(present) == 1:
        parts.append(f"{field}={present[0]}")
    elif present and any("," in v for v in present):
        # IN splits on commas and has no quoting: fall back to ORed equalities.
        parts.extend(f"{field}={v}" for v in present)
    elif present:
        parts.append(f"{field}IN{','.join(present)}")
    if any(v in (None, "") for v in values):
        parts.append(f"{field}ISEMPTY")
    return "^OR".join(parts)


def _stored(spec: FieldSpec, value: object) -> list[str | None]:
    """Every stored value of a canonical one (a state of an older model has its own code)."""
    if value is None:
        return [None]
    if isinstance(value, Ref):
        return [value.id]
    if isinstance(value, datetime):
        return [format_datetime(value)]
    return list(spec.stored_values(value))


def compile_scope(scope: Scope, pmap: ProcessMap) -> Group | None:
    """One scope -> ANDed conditions; None when it can match nothing (a field with no values)."""
    conditions: list[str] = []
    for name in sorted(scope):
        allowed = tuple(scope[name])
        if not allowed:
            return None
        spec = pmap.spec(name)
        conditions.append(condition(spec.field, [s for v in allowed for s in _stored(spec, v)]))
    return tuple(conditions)


def compile_scopes(scopes: Iterable[Scope], pmap: ProcessMap) -> Filter:
    """Scopes ORed: EVERYTHING if none is given or any is empty, NOTHING if none can match."""
    scopes = tuple(scopes)
    if not scopes:
        return EVERYTHING
    groups: list[Group] = []
    for scope in scopes:
        group = compile_scope(scope, pmap)
        if group == ():
            return EVERYTHING
        if group is not None and group not in groups:
            groups.append(group)
    return tuple(groups)


def encode(filter_: Filter, extra: Sequence[str] = (), order_by: str | None = None) -> str:
    """The encoded query: `extra` conditions are ANDed into EVERY ^NQ group.

    ^NQ groups are ORed at the top level, so a condition appended only once would bind to the
    last group and leave the others unrestricted.
    """
    if not filter_:
        raise ValueError("an empty filter matches nothing; do not send it")
    for item in extra:
        check_value(item)
    groups = ["^".join((*group, *extra)) for group in filter_]
    query = "^NQ".join(groups)
    if order_by is not None:
        order = f"ORDERBY{check_field(order_by)}"
        query = f"{query}^{order}" if query else order
    return query


def page_query(
    filter_: Filter,
    *,
    after: str | None = None,
    since: datetime | None = None,
    since_field: str = "sys_updated_on",
    start: str | None = None,
    below: str | None = None,
) -> str:
    """Keyset page query: (filter) AND sys_id>after AND since, ordered by sys_id; within the
    key range [start, below) when given (the lower bound is implied once `after` is set)."""
    extra: list[str] = []
    if since is not None:
        extra.append(f"{check_field(since_field)}>={format_datetime(since)}")
    if after is not None:
        extra.append(f"sys_id>{check_value(after, 'sys_id')}")
    elif start is not None:
        extra.append(f"sys_id>={check_value(start, 'sys_id')}")
    if below is not None:
        extra.append(f"sys_id<{check_value(below, 'sys_id')}")
    return encode(filter_, extra, order_by="sys_id")
