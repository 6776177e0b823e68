"""Turn Table API answers into JSON bodies or typed errors (network failures: http/errors.py)."""

from __future__ import annotations

from typing import Any

import orjson
import requests

from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.http.retry import RetryableError, parse_retry_after
from sms_conformance.model.errors import SourceError

Json = dict[str, Any]
# 500 is retried too, but only once (see TableClient).
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


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
