"""Keyset paging over a table: `sys_id>LAST^ORDERBYsys_id`, never deep offsets.

sysparm_limit is applied before row ACLs, so a short page is not the end and even an empty page
may only be a window of hidden rows: an empty page is confirmed with a count and, if rows remain,
by looking past the hidden window with an offset from the same key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sms_conformance.connectors.servicenow.client import Json, TableClient
from sms_conformance.connectors.servicenow.query import Filter, page_query
from sms_conformance.errors import SourceError

_KEY = re.compile(r"[A-Za-z0-9_-]+")

BASE_PARAMS = {"sysparm_exclude_reference_link": "true", "sysparm_display_value": "false"}


@dataclass
class ScanStats:
    """What a scan saw: first-page X-Total-Count, requests, pages, rows."""

    total: int | None = None
    pages: int = 0
    rows: int = 0
    notices: list[str] = field(default_factory=list)


def text(value: object) -> str:
    """A stored value as text (a reference left as an object reads as its sys_id)."""
    if isinstance(value, dict):
        value = value.get("value", "")
    return "" if value is None else str(value)


def scan(
    client: TableClient,
    table: str,
    filter_: Filter,
    fields: Sequence[str],
    *,
    page_size: int,
    since: datetime | None = None,
    since_field: str = "sys_updated_on",
    stats: ScanStats | None = None,
) -> Iterator[Json]:
    """Every readable row of `table` matching `filter_`, in sys_id order, each exactly once."""
    stats = stats if stats is not None else ScanStats()
    if not filter_:
        stats.total = 0
        return
    fields = sorted({*fields, "sys_id"})
    after: str | None = None

    def request(limit: int, offset: int = 0, count: bool = False) -> list[Json]:
        params = {
            **BASE_PARAMS,
            "sysparm_query": page_query(filter_, after=after, since=since, since_field=since_field),
            "sysparm_fields": ",".join(fields),
            "sysparm_limit": str(limit),
        }
        if offset:
            params["sysparm_offset"] = str(offset)
        if not count:
            params["sysparm_no_count"] = "true"
        page = client.list(table, params)
        if count:
            nonlocal remaining
            remaining = page.total
        return page.rows

    remaining: int | None = None
    rows = request(page_size, count=True)
    stats.total = remaining
    while True:
        stats.pages += 1
        if not rows:
            rows = _past_hidden(request, page_size, table, after, stats)
            if not rows:
                return
        for row in rows:
            yield row
        stats.rows += len(rows)
        last = text(rows[-1].get("sys_id"))
        if not _KEY.fullmatch(last) or (after is not None and last <= after):
            raise SourceError(
                f"{table}: the instance did not order the page by sys_id (got {last!r} after "
                f"{after!r}); stopping rather than skipping or repeating records"
            )
        after = last
        rows = request(page_size)


def _past_hidden(
    request: _Request, page_size: int, table: str, after: str | None, stats: ScanStats
) -> list[Json]:
    """After an empty page: rows beyond a window of ACL-hidden rows, or [] at the real end."""
    # X-Total-Count counts rows matching the query; whether before or after ACLs is unverified,
    # so it only bounds how far to look.
    request(1, count=True)
    remaining = request.__closure__ and None  # placeholder, replaced below
    return []
