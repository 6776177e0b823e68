"""JQL search paging: the enhanced search (Cloud) and the legacy offset search (Data Center).

Enhanced search pages with an opaque `nextPageToken` and has no total: the scan ends on
`isLast` or a page without a token, never on a short page (the site may send fewer issues than
asked). The same token twice, or more pages than `max_pages`, ends the scan as incomplete.
Legacy search pages with `startAt` against the first page's `total`: more issues than it allows
(plus a margin for issues created meanwhile) or more pages than it explains end the scan.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sms_conformance.errors import SourceError

MAX_PAGES = 20_000
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
    notices: list[str] = field(default_factory=list)


def _issues(page: Any, path: str) -> list[Json]:
    if not isinstance(page, dict) or not isinstance(page.get("issues"), list):
        raise SourceError(f"POST {path}: expected a page with a list of issues")
    return page["issues"]  # type: ignore[no-any-return]


def enhanced(client: Poster, jql: str, fields: Sequence[str], *, page_size: int,
             max_pages: int = MAX_PAGES, stats: SearchStats | None = None) -> Iterator[Json]:
    """POST /rest/api/3/search/jql, page after page."""
    path = "/rest/api/3/search/jql"
    stats = stats if stats is not None else SearchStats()
    token: str | None = None
    seen: set[str] = set()
    while True:
        stats.pages += 1
        if stats.pages > max_pages:
            raise SourceError(f"search: more than {max_pages} pages (source.max_pages); "
                              "stopping rather than paging without end")
        body: Json = {"jql": jql, "fields": list(fields), "maxResults": page_size}
        if token is not None:
            body["nextPageToken"] = token
        page = client.post(path, body)
        if page is None:
            raise SearchNotFound(f"POST {path}: not found (404)")
        issues = _issues(page, path)
        stats.issues += len(issues)
        yield from issues
        next_token = page.get("nextPageToken")
        if page.get("isLast") is True or not next_token:
            return
        if not isinstance(next_token, str) or next_token in seen:
            raise SourceError(f"search: Jira sent the same nextPageToken twice ({len(seen)} "
                              "pages read); stopping rather than reading pages again")
        seen.add(next_token)
        token = next_token


def legacy(client: Poster, api: str, jql: str, fields: Sequence[str], *, page_size: int,
           max_pages: int = MAX_PAGES, stats: SearchStats | None = None) -> Iterator[Json]:
    """POST /rest/api/{api}/search with startAt, bounded by the first page's total."""
    path = f"/rest/api/{api}/search"
    stats = stats if stats is not None else SearchStats()
    start = 0
    allowed = 0
    bound = max_pages
    while True:
        stats.pages += 1
        if stats.pages > bound:
            raise SourceError(f"search: more than {bound} pages of {page_size} for a total of "
                              f"{stats.total} (cap: source.max_pages {max_pages}); stopping")
        page = client.post(path, {"jql": jql, "fields": list(fields), "startAt": start,
                                  "maxResults": page_size})
        if page is None:
            raise SearchNotFound(f"POST {path}: not found (404)")
        issues = _issues(page, path)
        total = page.get("total")
        if not isinstance(total, int) or isinstance(total, bool):
            raise SourceError(f"POST {path}: the page has no total, so the scan cannot be bounded")
        if stats.total is None:
            stats.total = total
            # The site may cap the page below what was asked (jira.search.views.default.max):
            # its echoed maxResults is the page size the bounds are counted in.
            echoed = page.get("maxResults")
            size = echoed if isinstance(echoed, int) and 0 < echoed < page_size else page_size
            if math.ceil(total / size) > max_pages:
                raise SourceError(f"search: a total of {total} would take more than {max_pages} "
                                  f"pages of {size} (source.max_pages)")
            allowed = total + max(1000, total // 10)
            bound = min(max_pages, 2 * math.ceil(allowed / size) + _SPARE_PAGES)
        stats.issues += len(issues)
        if stats.issues > allowed:
            raise SourceError(f"search: Jira returned more issues than its total of "
                              f"{stats.total} allows ({stats.issues} read); stopping")
        yield from issues
        start += len(issues)
        if start >= total:
            return
        if not issues:
            stats.notices.append(f"search: {total - start} issue(s) counted but not returned "
                                 "(deleted during the scan, or hidden)")
            return
