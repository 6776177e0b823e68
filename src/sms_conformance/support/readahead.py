"""Reads the next pages while the current ones are evaluated: network and CPU overlap."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from itertools import islice
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class ReadAhead(Generic[T]):
    """Iterates `items`, produced by a background thread at most `depth` chunks ahead, from
    the moment `start()` says so (polled): a table's pages can come while the previous table's
    last ones are evaluated. An exception in the producer is raised at the point the consumer
    reached. close() ends the producer."""

    def __init__(self, items: Iterator[T], chunk: int = 500, depth: int = 4,
                 start: Callable[[], bool] | None = None) -> None:
        self._items, self._chunk = items, chunk
        self._slots: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self.produced = threading.Event()  # every item is read (none failed)
        self.count = 0  # items read so far
        self._start = start
        self._worker = threading.Thread(target=self._produce, name="read-ahead", daemon=True)
        self._worker.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        while self._start is not None and not self._start():
            if self._stop.wait(0.02):
                return
        try:
            while batch := list(islice(self._items, self._chunk)):
                self.count += len(batch)
                if not self._put(batch):
                    return
        except BaseException as exc:  # handed to the consumer, not lost
            self._put(exc)
        else:
            self.produced.set()
            self._put(_DONE)

    def __iter__(self) -> Iterator[T]:
        while (item := self._slots.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield from item  # type: ignore[misc]

    def close(self) -> None:
        self._stop.set()
        self._worker.join(timeout=5)

