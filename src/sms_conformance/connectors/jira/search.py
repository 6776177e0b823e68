"""JQL search paging: the enhanced search (Cloud) and the legacy offset search (Data Center).

Enhanced search pages with an opaque `nextPageToken` and has no total: the scan ends on
`isLast` or a page without a token, never on a short page (the site may send fewer issues than
asked). Legacy search pages with `startAt` against the first page's `total`: more issues than it
allows (plus a margin for issues created meanwhile) or more pages than it explains end the scan.

Guards on both (each ends the scan as incomplete, never as a short complete one): a page holding
more issues than `maxResults` asked for; the same token twice; more than `STALLED_PAGES` pages in
a row that bring no issue not read before (empty or repeated pages with fresh tokens); more pages
than `max_pages`; a legacy `total` that contradicts the issues returned (below them, or negative);
a page Jira refused after the first (a stale token: not the field map's fault). Each chain
returns an issue once, so memory holds one id per issue read, however the pages repeat.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sms_conformance.connectors.jira.responses import JiraRequestError
from sms_conformance.model.errors import SourceError

MAX_PAGES = 20_000
STALLED_PAGES = 3
_SPARE_PAGES = 10

Json = dict[str, Any]


class Poster(Protocol):
    def post(self, path: str, body: Any, *, write: bool = False) -> Any: ...


class SearchNotFound(SourceError):
    """The site has no such search endpoint (404): Data Center has no enhanced search."""


@dataclass
class SearchStats:
    pages: int = 0
    issues: int = 0
    total: int | None = None  # legacy search only
    estimate: int | None = None  # enhanced search: issues expected (it counts none)
    notices: list[str] = field(default_factory=list)


class PageRefused(SourceError):
    """Jira refused a page after the first of a search (400: a stale or forged page token, a
    hostile answer): the scan is incomplete; the query itself was accepted on the first page."""


class Chain:
    """What one page chain has read: ids, pages without a new issue in a row."""

    def __init__(self, path: str, page_size: int) -> None:
        self.path, self.page_size = path, page_size
        self.seen: set[int] = set()
        self.stalled = 0

    def fresh(self, page: Any) -> list[Json]:
        """The issues of a page not read before in this chain; the page guards."""
        if not isinstance(page, dict) or not isinstance(page.get("issues"), list):
            raise SourceError(f"POST {self.path}: expected a page with a list of issues")
        issues: list[Json] = page["issues"]
        if len(issues) > self.page_size:
            raise SourceError(f"POST {self.path}: a page of {len(issues)} issues, more than the "
                              f"{self.page_size} asked for; stopping")
        new = []
        for issue in issues:
            number = _number(issue)
            if number is None:
                new.append(issue)  # malformed: the connector names it and stops
            elif number not in self.seen:
                self.seen.add(number)
                new.append(issue)
        self.stalled = 0 if new else self.stalled + 1
        if self.stalled > STALLED_PAGES:
            raise SourceError(f"search: {self.stalled} pages in a row brought no issue not read "
                              f"before ({len(self.seen)} read); stopping rather than paging on")
        return new


def _number(issue: object) -> int | None:
    value = issue.get("id") if isinstance(issue, dict) else None
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _refused(exc: JiraRequestError, pages: int, path: str) -> SourceError:
    if pages > 1 and exc.status == 400:
        return PageRefused(f"POST {path}: Jira refused page {pages} of the search ({exc}); "
                           "the query was accepted on page 1: a stale page token?")
    return exc


class Enhanced:
    """POST /rest/api/3/search/jql, one `nextPageToken` chain: `page()` reads the next page
    (its issues not read before), iterating reads the rest."""

    path = "/rest/api/3/search/jql"

    def __init__(self, client: Poster, jql: str, fields: Sequence[str], *, page_size: int,
                 max_pages: int = MAX_PAGES, stats: SearchStats | None = None) -> None:
        self.client, self.jql, self.fields = client, jql, list(fields)
        self.page_size, self.max_pages = page_size, max_pages
        self.stats = stats if stats is not None else SearchStats()
        self.done = False
        self._token: str | None = None
        self._tokens: set[str] = set()
        self._chain = Chain(self.path, page_size)

    def page(self) -> list[Json]:
        stats, path = self.stats, self.path
        stats.pages += 1
        if stats.pages > self.max_pages:
            raise SourceError(f"search: more than {self.max_pages} pages (source.max_pages); "
                              "stopping rather than paging without end")
        body: Json = {"jql": self.jql, "fields": self.fields, "maxResults": self.page_size}
        if self._token is not None:
            body["nextPageToken"] = self._token
        try:
            page = self.client.post(path, body)
        except JiraRequestError as exc:
            raise _refused(exc, stats.pages, path) from None
        if page is None:
            raise SearchNotFound(f"POST {path}: not found (404)")
        issues = self._chain.fresh(page)
        stats.issues += len(issues)
        next_token = page.get("nextPageToken")
        if page.get("isLast") is True or not next_token:
            self.done = True
        elif not isinstance(next_token, str) or next_token in self._tokens:
            raise SourceError(f"search: Jira sent the same nextPageToken twice "
                              f"({len(self._tokens)} pages read); stopping rather than reading "
                              "pages again")
        else:
            self._tokens.add(next_token)
            self._token = next_token
        return issues

    def __iter__(self) -> Iterator[Json]:
        while not self.done:
            yield from self.page()


def enhanced(client: Poster, jql: str, fields: Sequence[str], *, page_size: int,
             max_pages: int = MAX_PAGES, stats: SearchStats | None = None) -> Iterator[Json]:
    """POST /rest/api/3/search/jql, page after page."""
    return iter(Enhanced(client, jql, fields, page_size=page_size, max_pages=max_pages,
                         stats=stats))


def legacy(client: Poster, api: str, jql: str, fields: Sequence[str], *, page_size: int,
           max_pages: int = MAX_PAGES, stats: SearchStats | None = None) -> Iterator[Json]:
    """POST /rest/api/{api}/search with startAt, bounded by the first page's total."""
    path = f"/rest/api/{api}/search"
    stats = stats if stats is not None else SearchStats()
    start = 0
    allowed = 0
    bound = max_pages
    size = page_size
    confirming = False  # the total was reached on a full page: one more proves it was all
    chain = Chain(path, page_size)
    while True:
        stats.pages += 1
        if stats.pages > bound:
            raise SourceError(f"search: more than {bound} pages of {page_size} for a total of "
                              f"{stats.total} (cap: source.max_pages {max_pages}); stopping")
        try:
            page = client.post(path, {"jql": jql, "fields": list(fields), "startAt": start,
                                      "maxResults": page_size})
        except JiraRequestError as exc:
            raise _refused(exc, stats.pages, path) from None
        if page is None:
            raise SearchNotFound(f"POST {path}: not found (404)")
        returned = len(page["issues"]) if isinstance(page, dict) and isinstance(
            page.get("issues"), list) else 0
        issues = chain.fresh(page)
        total = page.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise SourceError(f"POST {path}: the page has no total, so the scan cannot be bounded")
        if total < 0 or start + returned > (total if stats.total is None or confirming
                                            else max(total, stats.total) + margin(total)):
            raise SourceError(f"POST {path}: Jira counted a total of {total} issues but returned "
                              f"{start + returned} by page {stats.pages}; the count is wrong, so "
                              "the scan cannot be bounded (stopping, incomplete)")
        if stats.total is None:
            stats.total = total
            # The site may cap the page below what was asked (jira.search.views.default.max):
            # its echoed maxResults is the page size the bounds are counted in.
            echoed = page.get("maxResults")
            size = echoed if isinstance(echoed, int) and 0 < echoed < page_size else page_size
            if math.ceil(total / size) > max_pages:
                raise SourceError(f"search: a total of {total} would take more than {max_pages} "
                                  f"pages of {size} (source.max_pages)")
            allowed = total + margin(total)
            bound = min(max_pages, 2 * math.ceil(allowed / size) + _SPARE_PAGES)
        stats.issues += len(issues)
        if stats.issues > allowed:
            raise SourceError(f"search: Jira returned more issues than its total of "
                              f"{stats.total} allows ({stats.issues} read); stopping")
        yield from issues
        start += returned
        if start >= total:
            if confirming or returned < size:
                return
            confirming = True
            continue
        if not returned:
            stats.notices.append(f"search: {total - start} issue(s) counted but not returned "
                                 "(deleted during the scan, or hidden)")
            return


def margin(total: int) -> int:
    """Issues a search may return beyond its first count: created while it pages."""
    return max(1000, total // 10)
