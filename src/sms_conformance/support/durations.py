"""The one duration grammar of settings, rules, options and the sandbox's faults: a number with
a unit (`250ms`, `30s`, `10m`, `4h`, `3d`, `1w`) or a bare number, in seconds unless the caller
reads bare numbers in another unit (the sandbox's `latency=300` is milliseconds)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_DURATION = timedelta(days=3653)  # ten years: longer is a typo, and would overflow dates


class DurationError(ValueError):
    """Not a duration, or one outside zero to ten years: the message says which."""


def parse_duration(value: Any, bare: str = "s") -> timedelta:
    """`4h`, `3d`, `30m`, `1w`, `250ms` or a number (of `bare` units); from zero to ten years."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) * UNITS[bare]
    else:
        match = _DURATION.match(value.strip()) if isinstance(value, str) else None
        if not match:
            raise DurationError(f"not a duration: {value!r} (use e.g. 4h, 3d, 30m)")
        seconds = float(match.group(1)) * UNITS[match.group(2) or bare]
    if not 0 <= seconds <= MAX_DURATION.total_seconds():  # also false for NaN
        raise DurationError(f"duration {value!r} is not between 0 and 10 years")
    return timedelta(seconds=seconds)
