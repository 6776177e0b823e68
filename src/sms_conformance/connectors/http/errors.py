"""Network failures and auth refusals as typed errors, whatever the platform.

A platform's own answers (error bodies, envelopes, its words for them) are decoded in its
package; this is what the transport and every platform's decoder share.
"""

from __future__ import annotations

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
)

from sms_conformance.connectors.http.retry import RetryableError
from sms_conformance.model.errors import AuthError, SourceError

# Connection lost, read timeout, truncated or undecodable body (urllib3's while reading a body).
_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    HTTPError,
)


class HTTPAuthError(AuthError):
    """401 or 403 from the site; `status` tells which."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def network_error(method: str, url: str, exc: Exception) -> SourceError:
    """The error for a failed request or body read (requests' or urllib3's exceptions).

    A site that cannot be reached at all (unknown host, refused, connect timeout) fails at
    once: retrying would only delay the report. A connection lost mid-way, a read timeout or a
    truncated body is transient and retried.
    """
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceError(f"{method} {url}: TLS verification failed")
    cause = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
    if isinstance(cause, ConnectTimeoutError):  # also refused and unresolved (subclasses)
        return SourceError(f"{method} {url}: cannot reach the server: {_unreachable(cause)}")
    if isinstance(exc, _TRANSIENT):
        return RetryableError(f"{method} {url}: {_reason(exc)}")
    return SourceError(f"{method} {url}: {type(exc).__name__}")


def _unreachable(cause: ConnectTimeoutError) -> str:
    if isinstance(cause, NameResolutionError):
        return "host not found"
    if isinstance(cause, NewConnectionError):
        error = cause.__cause__
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        return f"cannot connect ({error.strerror if isinstance(error, OSError) else cause})"
    return "connection timed out"


def _reason(exc: BaseException) -> str:
    """A short cause for a network failure, without URLs, headers or credentials."""
    text = repr(exc).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("timed out", "timed out"),
        ("incompleteread", "response truncated"),
        ("remotedisconnected", "connection closed by the server"),
        ("name or service not known", "host not found"),
        ("nodename nor servname", "host not found"),
        ("failed to resolve", "host not found"),
    ):
        if needle in text:
            return reason
    return f"network error ({type(exc).__name__})"
