"""ReadAhead keeps order, hands producer errors over, and stops its thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sms_conformance.model.errors import SourceError
from sms_conformance.support.readahead import ReadAhead


def read_ahead(items: Iterator[int], chunk: int = 500, depth: int = 4) -> Iterator[int]:
    """Iterates a ReadAhead and closes it, as the scan does."""
    reader = ReadAhead(items, chunk, depth)
    try:
        yield from reader
    finally:
        reader.close()


def test_yields_everything_in_order() -> None:
    assert list(read_ahead(iter(range(2345)), chunk=100, depth=2)) == list(range(2345))


def test_producer_error_is_raised_after_the_items_before_it() -> None:
    def failing() -> Iterator[int]:
        yield from range(250)
        raise SourceError("page 3 failed")

    seen: list[int] = []
    with pytest.raises(SourceError, match="page 3 failed"):
        seen.extend(read_ahead(failing(), chunk=100))
    assert seen == list(range(200))


def test_consumer_stopping_early_ends_the_producer() -> None:
    before = threading.active_count()
    for index in read_ahead(iter(range(10**6)), chunk=10, depth=1):
        if index == 5:
            break
    assert threading.active_count() == before


def test_a_reader_asks_nothing_of_its_source_before_it_may_start() -> None:
    pulled: list[int] = []
    allowed = threading.Event()

    def source() -> Iterator[int]:
        for n in range(3):
            pulled.append(n)
            yield n

    reader = ReadAhead(source(), chunk=1, start=allowed.is_set)
    try:
        assert not reader.produced.wait(0.2) and pulled == []
        allowed.set()
        assert list(reader) == [0, 1, 2] and reader.produced.is_set()
    finally:
        reader.close()
