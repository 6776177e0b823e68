"""Parallel key ranges: a table read as K keyset scans over disjoint sys_id ranges at once.

sys_ids are 32 lowercase hexadecimal characters, close to uniform (checked on the captures in
tests/), so K equal slices of the hex space hold about as many records each; the first range has
no lower bound and the last no upper one, so an id of any other shape is still read exactly once.
Each range is its own KeysetScan with every guard of one (count, page bound, order, repeats).
At most `Gate.limit` requests are in flight; a 429 or 503 lowers it by one, never below one and
never back up within the run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import TypeVar

from sms_conformance.connectors.servicenow.client import Page
from sms_conformance.connectors.servicenow.paging import PageSource

T = TypeVar("T")
KEY_SPACE = 16**32
_DONE = object()


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


class Gate:
    """At most `limit` requests at once across the streams of a client."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.active = 0
        self._cond = threading.Condition()

    def lower(self) -> None:
        """The instance pushed back (429, 503): one stream fewer from now on."""
        with self._cond:
            self.limit = max(1, self.limit - 1)

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cond:
            while self.active >= self.limit:
                self._cond.wait()
            self.active += 1
        try:
            yield
        finally:
            with self._cond:
                self.active -= 1
                self._cond.notify_all()


class GatedClient:
    """The page source of one stream: each request waits for a slot of the gate."""

    def __init__(self, client: PageSource, gate: Gate) -> None:
        self.client, self.gate = client, gate

    def list(self, table: str, params: Mapping[str, str]) -> Page:
        with self.gate.slot():
            return self.client.list(table, params)


def interleaved(sources: Sequence[Callable[[], Iterator[T]]], chunk: int = 500) -> Iterator[T]:
    """Items of every source, each source produced by its own thread, chunks in arrival order.

    At most two chunks per source wait unread, so memory does not grow with a slow consumer; the
    first exception of any source is raised here and stops the others.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=2 * len(sources))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce(source: Callable[[], Iterator[T]]) -> None:
        try:
            items = source()
            while not stop.is_set() and (batch := list(islice(items, chunk))):
                if not put(batch):
                    return
        except BaseException as exc:  # handed to the consumer, not lost
            put(exc)
        else:
            put(_DONE)

    workers = [threading.Thread(target=produce, args=(s,), name=f"key-range-{i}", daemon=True)
               for i, s in enumerate(sources)]
    for worker in workers:
        worker.start()
    remaining = len(workers)
    try:
        while remaining:
            item = slots.get()
            if item is _DONE:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield from item  # type: ignore[misc]
    finally:
        stop.set()
        until = time.monotonic() + 5  # a worker inside a request ends with it (daemon threads)
        for worker in workers:
            worker.join(timeout=max(0.0, until - time.monotonic()))
