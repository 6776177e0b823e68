"""Parallel key ranges: a table read as K keyset scans over disjoint sys_id ranges at once.

sys_ids are 32 lowercase hexadecimal characters, close to uniform (checked on the captures in
tests/), so K equal slices of the hex space hold about as many records each; the first range has
no lower bound and the last no upper one, so an id of any other shape is still read exactly once.
Each range is its own KeysetScan with every guard of one (count, page bound, order, repeats).
At most `Gate.limit` requests are in flight (connectors.parallel, shared with Jira's ranges).
"""

from __future__ import annotations

from collections.abc import Mapping

from sms_conformance.connectors.parallel import Gate
from sms_conformance.connectors.servicenow.client import Page
from sms_conformance.connectors.servicenow.paging import PageSource

KEY_SPACE = 16**32


def split_after(last: str, rows: int, total: int, page_size: int, limit: int) -> list[str]:
    """Bounds splitting the keys above `last` (the first page's last sys_id, `rows` rows read
    of a `total` counted) into up to `limit` ranges of about equal count; [] for one stream:
    when what is left fits a page, or the first page shows keys not spread as the count says
    (not hexadecimal, or sequential ids): equal slices would then not hold equal shares."""
    remaining = total - rows
    streams = min(limit, -(-remaining // page_size))
    try:
        key = int(last, 16)
    except ValueError:
        return []
    if streams < 2 or len(last) != 32 or key <= 0:
        return []
    estimate = rows * KEY_SPACE / (key + 1)  # the whole table, were the keys uniform
    if not total / 4 <= estimate <= total * 4:
        return []
    step = (KEY_SPACE - key) // streams
    return [format(key + i * step, "032x") for i in range(1, streams)]


class GatedClient:
    """The page source of one stream: each request waits for a slot of the gate."""

    def __init__(self, client: PageSource, gate: Gate) -> None:
        self.client, self.gate = client, gate

    def list(self, table: str, params: Mapping[str, str]) -> Page:
        with self.gate.slot():
            return self.client.list(table, params)
