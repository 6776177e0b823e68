"""Retry policy for HTTP calls: what is transient, how long to wait, when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState

from sms_conformance.model.errors import SourceError


class RetryableError(SourceError):
    """A transient failure (429, 5xx, reset, truncated body): worth another attempt."""

    def __init__(
        self, message: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class NotSentError(RetryableError):
    """The request never reached the instance (no connection, no token): safe to resend."""


class QuotaError(SourceError):
    """A request answered 500 twice: most likely a transaction quota cancelling the query."""


class ThrottledError(SourceError):
    """The site asked for a longer pause (Retry-After) than the run waits: nothing is sent to it
    until the pause is over, so the run ends what it cannot finish and leaves it for the next."""


class AmbiguousWriteError(SourceError):
    """A write whose outcome is unknown (connection lost after sending): not retried blindly."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter inside a total time budget.

    budget: seconds from the first attempt after which no retry starts;
    initial/maximum: the backoff curve (doubling, randomised to 50-100 % of its value);
    max_retry_after: the longest Retry-After waited out; a site asking for more is not waited
    for (ThrottledError).
    """

    budget: float = 120.0
    initial: float = 0.5
    maximum: float = 30.0
    max_retry_after: float = 60.0

    def wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return float(error.retry_after)
        backoff: float = min(self.maximum, self.initial * 2.0 ** (state.attempt_number - 1))
        return backoff * random.uniform(0.5, 1.0)

    def stop(self, state: RetryCallState, elapsed: float) -> bool:
        """`elapsed`: seconds since the first attempt, on the caller's clock (the one its
        sleeps advance), so a budget means the same on a loaded machine and under a fake clock."""
        return elapsed + (state.upcoming_sleep or 0.0) > self.budget
