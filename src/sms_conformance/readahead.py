"""Reads the next pages while the current ones are evaluated: network and CPU overlap."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterator[T], chunk: int = 500, depth: int = 4) -> Iterator[T]:
    """Yields `items`, produced by a background thread at most `depth` chunks ahead.

    An exception in the producer is raised here, at the point the consumer reached.
    """
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            while batch := list(islice(items, chunk)):
                if not put(batch):
                    return
        except BaseException as exc:  # handed to the consumer, not lost
            put(exc)
        else:
            put(_DONE)

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield from item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)
