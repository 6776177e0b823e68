"""Parallel key ranges: a table read as K keyset scans over disjoint sys_id ranges at once.

sys_ids are 32 lowercase hexadecimal characters, close to uniform (checked on the captures in
tests/), so a slice of the hex space holds records in proportion to its width; the first range has
no lower bound and the last no upper one, so an id of any other shape is still read exactly once.
Each range is its own KeysetScan with every guard of one (count, page bound, order, repeats).
At most `Gate.limit` requests are in flight (connectors.parallel, shared with Jira's ranges).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sms_conformance.connectors.parallel import Gate
from sms_conformance.connectors.servicenow.client import Page
from sms_conformance.connectors.servicenow.paging import PageSource

KEY_SPACE = 16**32


def split_after(last: str, rows: int, total: int, page_size: int, limit: int) -> list[str]:
    """Bounds splitting the keys above `last` (the first page's last sys_id, `rows` rows read
    of a `total` counted) into up to `limit` ranges sized in pages (range_pages); [] for one
    stream: when what is left fits a page, or the first page shows keys not spread as the
    count says (not hexadecimal, or sequential ids): equal slices would then not hold equal
    shares."""
    remaining = total - rows
    try:
        key = int(last, 16)
    except ValueError:
        return []
    if remaining <= page_size or len(last) != 32 or key <= 0:
        return []
    estimate = rows * KEY_SPACE / (key + 1)  # the whole table, were the keys uniform
    if not total / 4 <= estimate <= total * 4:
        return []
    pages = range_pages(remaining, page_size, limit)
    if len(pages) < 2:
        return []
    span, whole = KEY_SPACE - key, sum(pages)
    bounds, before = [], 0
    for share in pages[:-1]:
        before += share
        bounds.append(format(key + span * before // whole, "032x"))
    return bounds


def range_pages(remaining: int, page_size: int, limit: int) -> list[int]:
    """Pages per range for `remaining` rows, in up to `limit` ranges: the fewest pages in all
    for which each range, given keys in proportion to its pages, holds no more rows than its
    pages take, with three standard deviations to spare (a range of uniform keys holds a
    binomial count, spread about its square root). Equal ranges of exactly a page each would
    take a second page half the time: 4,000 rows in 4 ranges take 5 pages (2, 1, 1, 1), not
    about 6."""
    pages = -(-remaining // page_size)
    while True:
        ranges = min(limit, pages)
        shares = [pages // ranges + (i < pages % ranges) for i in range(ranges)]
        if all((rows := remaining * share / pages) + 3 * math.sqrt(rows) <= share * page_size
               for share in shares):
            return shares
        pages += 1


class GatedClient:
    """The page source of one stream: each request waits for a slot of the gate."""

    def __init__(self, client: PageSource, gate: Gate) -> None:
        self.client, self.gate = client, gate

    def list(self, table: str, params: Mapping[str, str]) -> Page:
        with self.gate.slot():
            return self.client.list(table, params)
