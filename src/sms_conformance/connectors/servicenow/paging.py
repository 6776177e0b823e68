"""Keyset paging over a table: `sys_id>LAST^ORDERBYsys_id`, never deep offsets.

sysparm_limit is applied before row ACLs, so a short page is not the end, and even an empty page
may only be a window of hidden rows: an empty page is confirmed with a count and, while rows
remain, by looking past the hidden window with an offset from the same key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sms_conformance.connectors.servicenow.client import Page, TableClient
from sms_conformance.connectors.servicenow.query import Filter, page_query
from sms_conformance.connectors.servicenow.responses import Json
from sms_conformance.connectors.servicenow.retry import QuotaError
from sms_conformance.errors import SourceError

_KEY = re.compile(r"[A-Za-z0-9_-]+")
MIN_PAGE = 100

BASE_PARAMS = {"sysparm_exclude_reference_link": "true", "sysparm_display_value": "false"}


@dataclass
class ScanStats:
    """What a scan saw: the first page's X-Total-Count, pages requested, rows yielded."""

    total: int | None = None
    pages: int = 0
    rows: int = 0
    notices: list[str] = field(default_factory=list)


def text(value: object) -> str:
    """A stored value as text (a reference left as an object reads as its sys_id)."""
    if isinstance(value, dict):
        value = value.get("value", "")
    return "" if value is None else str(value)


@dataclass
class KeysetScan:
    """One scan's state; iterate `rows()` once."""

    client: TableClient
    table: str
    filter_: Filter
    fields: Sequence[str]
    page_size: int
    since: datetime | None = None
    since_field: str = "sys_updated_on"
    stats: ScanStats = field(default_factory=ScanStats)
    after: str | None = None

    def rows(self) -> Iterator[Json]:
        """Every readable matching row, in sys_id order, each exactly once."""
        if not self.filter_:
            self.stats.total = 0
            return
        page = self._page(self.page_size, count=True)
        self.stats.total = page.total
        rows = page.rows
        if page.total is not None and len(rows) == page.total:
            # Every counted row is here (whether the count includes ACL-hidden rows or not):
            # no need for the closing empty page.
            yield from rows
            self.stats.rows += len(rows)
            return
        while True:
            if not rows:
                rows = self._past_hidden()
                if not rows:
                    return
            yield from rows
            self.stats.rows += len(rows)
            self._advance(rows)
            rows = self._page(self.page_size).rows

    def _page(self, limit: int, offset: int = 0, count: bool = False) -> Page:
        params = {
            **BASE_PARAMS,
            "sysparm_query": page_query(
                self.filter_, after=self.after, since=self.since, since_field=self.since_field
            ),
            "sysparm_fields": ",".join(sorted({*self.fields, "sys_id"})),
            "sysparm_limit": str(limit),
        }
        if offset:
            params["sysparm_offset"] = str(offset)
        if not count:
            params["sysparm_no_count"] = "true"
        self.stats.pages += 1
        try:
            return self.client.list(self.table, params)
        except QuotaError:
            # A transaction quota cancels queries that take too long: retry with half the page.
            if limit != self.page_size or limit // 2 < MIN_PAGE:
                raise
            self.page_size = limit // 2
            self.stats.notices.append(
                f"{self.table}: page size lowered to {self.page_size} after repeated HTTP 500"
            )
            return self._page(self.page_size, offset, count)

    def _advance(self, rows: list[Json]) -> None:
        last = text(rows[-1].get("sys_id"))
        if not _KEY.fullmatch(last) or (self.after is not None and last <= self.after):
            raise SourceError(
                f"{self.table}: the instance did not order the page by sys_id (got {last!r} "
                f"after {self.after!r}); stopping rather than skipping or repeating records"
            )
        self.after = last

    def _past_hidden(self) -> list[Json]:
        """After an empty page: rows beyond a window of ACL-hidden rows, or [] at the end."""
        if self.stats.total is not None and self.stats.rows >= self.stats.total:
            return []  # everything the first page counted has been read: nothing is hidden
        probe = self._page(1, count=True)
        if probe.rows:  # a row appeared meanwhile: page on normally from the same key
            return self._page(self.page_size).rows
        # Whether X-Total-Count is counted before or after ACLs is unverified: it only bounds
        # how far to look (absent = assume the end).
        remaining = probe.total or 0
        offset = self.page_size
        while offset < remaining:
            rows = self._page(self.page_size, offset=offset).rows
            if rows:
                return rows
            offset += self.page_size
        if remaining:
            self.stats.notices.append(
                f"{self.table}: {remaining} matching record(s) after sys_id {self.after} could "
                "not be read (hidden by ACLs?)"
            )
        return []
