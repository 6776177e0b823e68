"""Rich text from a hostile site: flattened without recursion, within limits of depth and size."""

from __future__ import annotations

import tracemalloc

import pytest

from sms_conformance.connectors.jira.adf import AdfError, flatten
from sms_conformance.connectors.jira.values import reader
from sms_conformance.model.records import Unknown
from sms_conformance.sandbox.jira.hostile import deep_document


def _nested(depth: int) -> dict[str, object]:
    node: dict[str, object] = {"type": "text", "text": "x"}
    for _ in range(depth):
        node = {"type": "bulletList", "content": [node]}
    return {"type": "doc", "content": [node]}


@pytest.mark.parametrize("depth", [101, 500, 50_000])
def test_a_document_too_deep_is_refused_without_recursion(depth: int) -> None:
    """bad input: ADF nested `depth` levels (50,000 is far past Python's recursion limit);
    outcome: AdfError naming the limit, never RecursionError."""
    with pytest.raises(AdfError, match="nested deeper than 100 levels"):
        flatten(_nested(depth))


def test_a_document_within_the_depth_limit_is_read() -> None:
    """bad input: ADF nested 99 levels (deep, but within the limit); outcome: its text."""
    assert flatten(_nested(99)) == "x"


def test_a_document_of_too_many_nodes_stops_early_in_bounded_memory() -> None:
    """bad input: one paragraph of 300,000 text nodes; outcome: AdfError after 100,000 nodes,
    with at most a few MB allocated while flattening (no list per node kept)."""
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "a"} for _ in range(300_000)]}]}
    tracemalloc.start()
    try:
        with pytest.raises(AdfError, match="more than 100,000 nodes"):
            flatten(doc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, peak


def test_a_document_of_too_much_text_is_refused() -> None:
    """bad input: 3 text nodes of 400,000 characters each; outcome: AdfError past 1,000,000."""
    doc = {"type": "doc", "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "a" * 400_000} for _ in range(3)]}]}
    with pytest.raises(AdfError, match="more than 1,000,000 characters"):
        flatten(doc)


def test_an_unreadable_document_reads_as_an_unreadable_value() -> None:
    """bad input: a field holding ADF 500 deep; outcome: an Unknown marked unreadable (a rule
    reading it gives an error result), not an exception."""
    import orjson

    value = reader("str", "description", {}, lambda i: i)(orjson.loads(deep_document(500)))
    assert isinstance(value, Unknown) and value.unreadable
    assert "nested deeper than 100 levels" in value.reason
