"""Keyset paging over a table: `sys_id>LAST^ORDERBYsys_id`, never deep offsets.

sysparm_limit is applied before row ACLs, so a short page is not the end, and even an empty page
may only be a window of hidden rows: an empty page is confirmed with a count and, while rows
remain, by looking past the hidden window with an offset from the same key.

The first page's X-Total-Count bounds the scan: more rows than it allows (plus a margin for
records created meanwhile), more pages than it explains, or the same page twice end the scan
as incomplete instead of paging without end.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sms_conformance.connectors.http.retry import QuotaError
from sms_conformance.connectors.servicenow.client import Page
from sms_conformance.connectors.servicenow.query import Filter, page_query
from sms_conformance.connectors.servicenow.responses import Json
from sms_conformance.model.errors import SourceError

_KEY = re.compile(r"[A-Za-z0-9_-]+")
MIN_PAGE = 100
MAX_PAGES = 20_000  # absolute cap on the pages of one scan, whatever the count says
# Pages a scan may need beyond one per window of page_size rows: the count, hidden-row probes.
_SPARE_PAGES = 10

BASE_PARAMS = {"sysparm_exclude_reference_link": "true", "sysparm_display_value": "false"}


class PageSource(Protocol):
    def list(self, table: str, params: Mapping[str, str]) -> Page: ...


@dataclass
class ScanStats:
    """What a scan saw: the first page's X-Total-Count, pages requested, rows yielded."""

    total: int | None = None
    pages: int = 0
    rows: int = 0
    notices: list[str] = field(default_factory=list)


def text(value: object) -> str:
    """A stored value as text (a reference left as an object reads as its sys_id)."""
    if type(value) is str:  # the common case: one test
        return value
    if isinstance(value, dict):
        value = value.get("value", "")
    return "" if value is None else str(value)


@dataclass
class KeysetScan:
    """One scan's state; iterate `rows()` once."""

    client: PageSource
    table: str
    filter_: Filter
    fields: Sequence[str]
    page_size: int
    since: datetime | None = None
    since_field: str = "sys_updated_on"
    stats: ScanStats = field(default_factory=ScanStats)
    after: str | None = None
    max_pages: int = MAX_PAGES
    start: str | None = None  # key range [start, below) of one of parallel streams
    below: str | None = None
    # Pages after the first counted too: set when `below` is narrowed after the first page (the
    # first of parallel streams), whose count then covers more than the range. A page holding
    # every row its count says is the last: no closing empty page, no probe past it.
    recount: bool = False
    allowed: int = field(default=0, init=False)  # rows the counts allow, margin included

    def rows(self) -> Iterator[Json]:
        """Every readable matching row, in sys_id order, each exactly once."""
        if not self.filter_:
            self.stats.total = 0
            return
        page = self._page(self.page_size, count=True)
        if page.total is None:
            raise SourceError(
                f"{self.table}: the instance sent no X-Total-Count for a counted request, so "
                "the scan cannot be bounded (not the Table API, or a proxy dropping headers?)"
            )
        self._allow(page.total)
        self.stats.total = page.total
        rows = page.rows
        if len(rows) == page.total:
            # Every counted row is here (whether the count includes ACL-hidden rows or not):
            # no need for the closing empty page.
            self._accept(rows)
            yield from rows
            return
        whole = False  # the last page held every row its own count says are left
        while True:
            if not rows:
                rows = [] if whole else self._past_hidden()
                if not rows:
                    return
            self._accept(rows)
            self._advance(rows)  # checked before the rows are used
            yield from rows
            if whole or (len(rows) < self.page_size
                         and self.stats.rows >= (self.stats.total or 0)):
                # A short page (the query ran out of rows) with every counted row read: the
                # closing empty page would add a request and nothing else.
                return
            page = self._page(self.page_size, count=self.recount)
            rows = page.rows
            whole = self.recount and page.total is not None and len(rows) >= page.total

    def _allow(self, count: int) -> None:
        """A counted page's X-Total-Count (of the rows after what was read) bounds the rest."""
        if math.ceil(count / self.page_size) > self.max_pages:
            raise SourceError(
                f"{self.table}: X-Total-Count of {count} would take more than "
                f"{self.max_pages} pages of {self.page_size} (source.max_pages)"
            )
        expected = self.stats.rows + count
        self.allowed = max(self.allowed, expected + max(1000, expected // 10))

    def _accept(self, rows: list[Json]) -> None:
        """Counts a page's rows; more than the count allows means the instance pages on
        without end (or the count is wrong): stop rather than read on."""
        self.stats.rows += len(rows)
        if self.stats.rows > self.allowed:
            raise SourceError(
                f"{self.table}: the instance returned more rows than its X-Total-Count of "
                f"{self.stats.total} allows ({self.stats.rows} rows read); stopping"
            )

    def _page(self, limit: int, offset: int = 0, count: bool = False) -> Page:
        params = {
            **BASE_PARAMS,
            "sysparm_query": page_query(
                self.filter_, after=self.after, since=self.since, since_field=self.since_field,
                start=self.start, below=self.below,
            ),
            "sysparm_fields": ",".join(sorted({*self.fields, "sys_id"})),
            "sysparm_limit": str(limit),
        }
        if offset:
            params["sysparm_offset"] = str(offset)
        if not count:
            params["sysparm_no_count"] = "true"
        self.stats.pages += 1
        bound = self._page_bound()
        if self.stats.pages > bound:
            raise SourceError(
                f"{self.table}: more than {bound} pages of {self.page_size} for an "
                f"X-Total-Count of {self.stats.total} (cap: source.max_pages {self.max_pages}); "
                "stopping rather than paging without end"
            )
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

    def _page_bound(self) -> int:
        """Pages the count explains: each window of page_size rows may take a page, a probe
        and an offset page when its rows are hidden; never more than max_pages."""
        if not self.allowed:
            return self.max_pages
        windows = math.ceil(self.allowed / self.page_size)
        return min(self.max_pages, 2 * windows + _SPARE_PAGES)

    def _advance(self, rows: list[Json]) -> None:
        first, last = text(rows[0].get("sys_id")), text(rows[-1].get("sys_id"))
        if self.after is not None and first <= self.after and last == self.after:
            raise SourceError(
                f"{self.table}: the instance returned the same page twice (sys_id {first} to "
                f"{last}) although asked for the rows after it; stopping"
            )
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
        if probe.total is not None:
            self._allow(probe.total)
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
