"""Turn Table API answers and network failures into JSON bodies or typed errors."""

from __future__ import annotations

from typing import Any

import orjson
import requests

from sms_conformance.connectors.servicenow.retry import (
    NotSentError,
    RetryableError,
    parse_retry_after,
)
from sms_conformance.errors import AuthError, SourceError

Json = dict[str, Any]
# 500 is retried too, but only once (see TableClient).
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_NOT_SENT = frozenset({"connection refused", "host not found"})


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
        return None
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
    if "result" not in body:
        message = _envelope(body)
        raise SourceError(f"ServiceNow answered {status} {message or 'without a result'} "
                          f"{where}")
    return body


def network_error(method: str, url: str, exc: requests.exceptions.RequestException) -> SourceError:
    """The error for a failed request: retryable unless it cannot get better by retrying."""
    if isinstance(exc, requests.exceptions.SSLError):
        return SourceError(f"{method} {url}: TLS verification failed")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NotSentError(f"{method} {url}: connection timed out")
    if isinstance(exc, (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        requests.exceptions.ChunkedEncodingError,
        requests.exceptions.ContentDecodingError,
    )):
        reason = _reason(exc)
        kind = NotSentError if reason in _NOT_SENT else RetryableError
        return kind(f"{method} {url}: {reason}")
    return SourceError(f"{method} {url}: {type(exc).__name__}")


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
