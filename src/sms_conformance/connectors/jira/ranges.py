"""Parallel key ranges of a JQL search: what the first page leaves, read as K searches at once.

A search ordered by key returns the lowest keys first, so its first page holds exactly the
issues up to its last key. The rest is split into K ranges of issue numbers up to the project's
highest key (one search, `ORDER BY key DESC`, once per run), each its own search with its own
`nextPageToken` chain: `issuekey > LAST AND issuekey < B1`, ..., `issuekey >= B(K-1)` (JQL's
`issuekey`, alias `key`, `id`, takes <, <=, >, >=; a key compares with the issue numbers of its
project). Every bound is a key an issue has: Cloud's enhanced search answers a comparison with
a key no issue has with no issues at all rather than an error, so a made-up bound could lose a
range. Bounds are chosen among candidates read in one bulk fetch; a bound with no issue near it
is dropped (its range joins the one below). The last range has no upper bound, so an issue
created during the scan is still read. Each issue a range returns must lie in it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_KEY = re.compile(r"([A-Z][A-Z0-9_]*)-([0-9]+)")
CANDIDATES = 100  # keys a bulk fetch takes


def key_number(key: object) -> tuple[str, int] | None:
    """(project key, issue number) of an issue key; None for anything else."""
    match = _KEY.fullmatch(key) if isinstance(key, str) else None
    return (match.group(1), int(match.group(2))) if match else None


def estimated(first: int, last: int, issues: int, highest: int) -> int:
    """Issues above `last` up to `highest`, were they as dense as on the first page (`issues`
    issues numbered `first` to `last`)."""
    return round((highest - last) * issues / max(1, last - first + 1))


def candidates(last: int, highest: int, streams: int) -> list[list[int]]:
    """Per bound between `last` and `highest` (K-1 of them, evenly spaced), the numbers tried
    for it, lowest first."""
    step = (highest - last) / streams
    width = max(1, min(CANDIDATES // max(1, streams - 1), int(step) // 2))
    starts = [last + 1 + round(i * step) for i in range(1, streams)]
    return [list(range(start, min(start + width, highest + 1))) for start in starts]


def chosen(tried: Sequence[Sequence[int]], exists: Callable[[int], bool]) -> list[int]:
    """Per bound the lowest number an issue has, increasing; bounds with none are dropped."""
    bounds: list[int] = []
    for numbers in tried:
        found = next((n for n in numbers if exists(n)), None)
        if found is not None and (not bounds or found > bounds[-1]):
            bounds.append(found)
    return bounds


def within(number: int, low: int, high: int | None, low_inclusive: bool) -> bool:
    """Whether an issue number lies in a range: above `low` (or at it), below `high`."""
    above = number >= low if low_inclusive else number > low
    return above and (high is None or number < high)
