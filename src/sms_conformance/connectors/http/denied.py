"""A 403 on a read taken as what the user may not read: the records asked for are unknown
(NotRead), not missing. Both platforms' connectors read through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sms_conformance.connectors.base import NotRead
from sms_conformance.connectors.http.errors import HTTPAuthError


@contextmanager
def not_read_on_403(kind: str, refused: str) -> Iterator[None]:
    """`kind` not read, for `refused` and the platform's answer, when the read is refused
    (403). Other errors pass through."""
    try:
        yield
    except HTTPAuthError as exc:
        if exc.status != 403:
            raise
        raise NotRead(kind, f"{refused} ({exc})") from None
