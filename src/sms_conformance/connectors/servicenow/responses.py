"""Turn Table API answers and network failures into JSON bodies or typed errors."""

from __future__ import annotations

from typing import Any

import orjson
import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
)

from sms_conformance.connectors.servicenow.retry import RetryableError, parse_retry_after
from sms_conformance.errors import AuthError, SourceError

Json = dict[str, Any]
# 500 is retried too, but only once (see TableClient).
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# Connection lost, read timeout, truncated or undecodable body (urllib3's while reading a body).
_TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    HTTPError,
)


class HTTPAuthError(AuthError):
    """401 or 403 from the instance; `status` tells which."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def decode(method: str, url: str, response: requests.Response) -> Json | None:
    """The JSON body of a Table API answer; None for a 404; a typed error otherwise."""
    status = response.status_code
    where = f"({method} {url})"
    if status in RETRY_STATUS:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RetryableError(f"{_answer(response)} {where}", retry_after, status)
    if status in (401, 403):
        raise HTTPAuthError(f"{_answer(response)} {where}", status)
    if status == 404:
        if _is_json(response):  # the Table API's "No Record found"
            return None
        # Not the Table API (a wrong URL, a proxy's page): not an empty table.
        shown = ("an HTML page" if "html" in response.headers.get("Content-Type", "").lower()
                 else repr(response.headers.get("Content-Type")))
        raise SourceError(f"the instance answered 404 with {shown}, not the Table API's JSON "
                          f"{where}: check the instance URL")
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        raise SourceError(
            f"the instance redirected to {location} {where}: behind SSO, or the wrong URL?"
        )
    if status >= 400:
        raise SourceError(f"{_answer(response)} {where}")
    if status == 204:
        return {}
    if not _is_json(response):
        raise SourceError(
            f"the instance answered with an HTML page (hibernating or behind SSO?) instead of "
            f"JSON {where}: wake the instance or check the URL and the integration user"
            if "html" in response.headers.get("Content-Type", "").lower()
            else f"the instance answered with {response.headers.get('Content-Type')!r}, "
            f"not JSON {where}"
        )
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise RetryableError(f"truncated or undecodable JSON body {where}") from None
    if not isinstance(body, dict):
        raise RetryableError(f"unexpected JSON body {where}")
    if "error" in body or body.get("status") == "failure":
        # An error envelope is a failed request whatever the status, even next to a `result`.
        raise SourceError(f"ServiceNow answered {status} with an error: "
                          f"{_envelope(body) or 'status failure'} {where}")
    if "result" not in body:
        raise SourceError(f"ServiceNow answered {status} without a result {where}")
    return body


def network_error(method: str, url: str, exc: Exception) -> SourceError:
    """The error for a failed request or body read (requests' or urllib3's exceptions).

    An instance that cannot be reached at all (unknown host, refused, connect timeout) fails at
    once: retrying would only delay the report. A connection lost mid-way, a read timeout or a
    truncated body is transient and retried.
    """
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceError(f"{method} {url}: TLS verification failed")
    cause = exc.args[0].reason if exc.args and isinstance(exc.args[0], MaxRetryError) else None
    if isinstance(cause, ConnectTimeoutError):  # also refused and unresolved (subclasses)
        return SourceError(f"{method} {url}: cannot reach the instance: {_unreachable(cause)}")
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


def _is_json(response: requests.Response) -> bool:
    return "json" in response.headers.get("Content-Type", "").lower()


def _envelope(body: object) -> str:
    """`message: detail` from the error envelope, or ''."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return ""
    error = body["error"]
    message, detail = error.get("message") or "", error.get("detail") or ""
    return f"{message}: {detail}" if message and detail else str(message or detail)


def _answer(response: requests.Response) -> str:
    """'ServiceNow answered 401 User Not Authenticated: Required to provide Auth information'."""
    message = ""
    if _is_json(response):
        try:
            message = _envelope(orjson.loads(response.content))
        except orjson.JSONDecodeError:
            message = ""
    return f"ServiceNow answered {response.status_code} {message or response.reason or ''}".strip()


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
