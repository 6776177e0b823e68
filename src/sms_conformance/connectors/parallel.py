"""Key ranges read at once, whatever the platform: a gate on requests in flight, and the items of
several sources interleaved as they come.

At most `Gate.limit` requests are in flight across the streams of a run; a 429 or 503 lowers it
by one (the client's `on_throttled`), never below one and never back up within the run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


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


def side_by_side(reads: Sequence[Callable[[], T]], at_once: int) -> list[T]:
    """The answers of `reads` in their order, at most `at_once` running at a time (one after
    another for 1); once all have ended, the first one's error (in their order) is raised."""
    if at_once <= 1 or len(reads) <= 1:
        return [read() for read in reads]
    with ThreadPoolExecutor(max_workers=min(at_once, len(reads))) as pool:
        futures = [pool.submit(read) for read in reads]
    return [future.result() for future in futures]


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
