"""JQL built only from validated pieces: project keys and field ids checked against patterns,
every other value double-quoted with `\\` and `"` escaped, so no configured value can change
the structure of a query (close a quote, add an OR) and widen what a scan reads or writes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sms_conformance.model.errors import ConfigError

PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]+$")
_SYSTEM_FIELD = re.compile(r"^[a-z][A-Za-z]*$")
_CUSTOM_FIELD = re.compile(r"^customfield_([0-9]+)$")
_ISSUE_ID = re.compile(r"^[0-9]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
MAX_RESTRICTION = 2000
# Jira's widest UTC offsets: a user zone that cannot be told may be anywhere between them.
_WIDEST_OFFSETS = (timedelta(hours=-12), timedelta(hours=14))


def project_key(key: str) -> str:
    if not PROJECT_KEY.fullmatch(key):
        raise ConfigError(f"invalid Jira project key {key!r}: expected [A-Z][A-Z0-9_]+")
    return key


def quote(value: str) -> str:
    """A JQL string literal: the value, whatever it holds, stays one value."""
    if _CONTROL.search(value):
        raise ConfigError(f"value {value!r} cannot be sent to Jira: control characters in it")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def field_clause(field_id: str) -> str:
    """How JQL names a field: `cf[10100]` for a custom field (by id: names can repeat), the
    system field id otherwise."""
    custom = _CUSTOM_FIELD.fullmatch(field_id)
    if custom:
        return f"cf[{custom.group(1)}]"
    if not _SYSTEM_FIELD.fullmatch(field_id):
        raise ConfigError(f"invalid Jira field id {field_id!r}")
    return field_id


def issue_id(value: str) -> str:
    if not _ISSUE_ID.fullmatch(value):
        raise ConfigError(f"invalid Jira issue id {value!r}: expected digits")
    return value


def one_of(field_id: str, values: Sequence[str | None]) -> str:
    """`field` is any of `values` (None: empty), each quoted."""
    name = field_clause(field_id)
    present = sorted({v for v in values if v is not None})
    parts = []
    if present:
        parts.append(f"{name} in ({', '.join(quote(v) for v in present)})")
    if any(v is None for v in values):
        parts.append(f"{name} is EMPTY")
    if not parts:
        raise ValueError(f"no values for {field_id}")
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def check_restriction(text: str) -> str:
    """An operator's JQL restriction (field map `jql:`), refused when it could do more than
    narrow once wrapped in parentheses: a `)` closing them (then `OR ...` would widen the
    query), an ORDER BY (the connector orders), or a backslash outside quotes (JQL reads `\"`
    there as a character, so the site would see other strings than this check does). Quoted
    strings are skipped; whether the rest is valid JQL only the site can say (the preflight
    asks it)."""
    depth = 0
    outside: list[str] = []
    quote_char = ""
    escaped = False
    for ch in text:
        if quote_char:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote_char:
                quote_char = ""
            continue
        if ch == "\\":  # JQL reads \" there as a character, not a quote: the quotes seen here
            # would then not be the site's, and a ')' the site sees could hide inside them
            raise ValueError("a backslash outside a quoted string: quote the value instead")
        if ch in "\"'":
            quote_char = ch
            outside.append(" ")
            continue
        outside.append(ch)
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            raise ValueError("a ')' without its '(': the restriction must stay inside its "
                             "parentheses")
    if depth and not quote_char:  # an unclosed quote: the site refuses it, saying where
        raise ValueError("a '(' without its ')'")
    if _ORDER_BY.search("".join(outside)):
        raise ValueError("ORDER BY is not allowed: the connector orders the search")
    return text


def restricted(restriction: str | None) -> str:
    """The restriction as a clause to AND on: always in parentheses, so an OR inside binds
    inside."""
    return "" if restriction is None else f"({restriction})"


def all_of(conditions: Iterable[str]) -> str:
    parts = [c for c in conditions if c]
    return " AND ".join(parts)


def any_of(groups: Sequence[str]) -> str:
    """Groups ORed; each in parentheses so an AND added around them binds to all."""
    if len(groups) == 1:
        return groups[0]
    return "(" + " OR ".join(f"({g})" for g in groups) + ")"


def since_literal(since: datetime, user_zone: str | None) -> str:
    """A date literal for `updated >= ...` that misses nothing updated at or after `since`.

    JQL dates have minute precision and are read in the calling user's profile zone (or UTC:
    not verified), so the earliest wall-clock reading of `since` among the candidate zones is
    taken, rounded down to the minute; the caller drops what is older than `since` exactly."""
    moment = since.astimezone(timezone.utc)
    readings = [moment.replace(tzinfo=None)]
    zone = _zone(user_zone)
    if zone is not None:
        readings.append(moment.astimezone(zone).replace(tzinfo=None))
    else:  # unknown zone: the widest offsets bound every reading
        readings.extend(moment.replace(tzinfo=None) + offset for offset in _WIDEST_OFFSETS)
    earliest = min(readings).replace(second=0, microsecond=0)
    return quote(earliest.strftime("%Y/%m/%d %H:%M"))


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
