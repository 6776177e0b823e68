"""Jira answers -> JSON bodies or typed errors.

Error bodies come in several shapes: the standard `{"errorMessages": [..], "errors": {..}}`,
Cloud's 401 `{"message": .., "status-code": 401}`, a plain-text 401 (a password used instead of
an API token), Data Center's HTML 401 page (with `X-Seraph-LoginReason`) and HTML 429 pages.
Only status and headers are relied on; the body only adds words to the message.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import requests

from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.http.retry import RetryableError, parse_retry_after
from sms_conformance.model.errors import SourceError
from sms_conformance.support.printable import one_line

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# A Retry-After of 0 (seen on Data Center) or a few milliseconds still waits this long.
MIN_RETRY_AFTER = 1.0
JSON_DEPTH = 1024  # orjson's nesting limit
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


class JiraRequestError(SourceError):
    """A request Jira refused as malformed (400) or could not apply (409, 413, 422)."""

    def __init__(self, message: str, status: int, detail: str) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


def decode(method: str, url: str, response: requests.Response) -> Any:
    """The JSON body of an answer ({} for an empty 2xx), None for a 404; else a typed error."""
    status = response.status_code
    where = f"({method} {url})"
    if status in RETRY_STATUS:
        after = parse_retry_after(response.headers.get("Retry-After"))
        wait = None if after is None else max(after, MIN_RETRY_AFTER)
        raise RetryableError(f"{said(status, message(response))} {where}", wait, status)
    if status in (401, 403):
        reason = response.headers.get("X-Seraph-LoginReason", "")
        text = message(response) + (f" (X-Seraph-LoginReason: {reason})" if reason else "")
        raise HTTPAuthError(f"{said(status, text)} {where}", status)
    if status == 404:
        return None
    if status == 410:
        raise SourceError(f"Jira answered 410 Gone {where}: the endpoint was removed (the legacy "
                          "search on Jira Cloud): use the enhanced search (do not set legacy)")
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        raise SourceError(f"Jira redirected to {location} {where}: behind SSO, or the wrong "
                          "site URL?")
    if status >= 400:
        detail = message(response)
        raise JiraRequestError(f"{said(status, detail)} {where}", status, detail)
    if not response.content:
        return {}
    if "json" not in response.headers.get("Content-Type", "").lower():
        raise SourceError(f"Jira answered with {response.headers.get('Content-Type')!r}, not "
                          f"JSON {where}: is the site URL a Jira site?")
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):  # complete, but deeper than any parser here takes
            raise SourceError(f"Jira answered with JSON nested deeper than {JSON_DEPTH} levels "
                              f"{where} (rich text of an issue?): not read, not retried") from None
        raise RetryableError(f"truncated or undecodable JSON body {where}") from None
    if failed := _error_envelope(body):
        raise SourceError(f"Jira answered {status} with an error in the body: {failed} {where}; "
                          "the answer is not used")
    return body


def _error_envelope(body: object) -> str:
    """The words of a 2xx body that reports a failure (`errorMessages`, `errors`,
    `warningMessages`, or a `status-code` of 400 or more): such a page is not an answer,
    whatever else it holds (an empty `issues` list is not "no issues")."""
    if not isinstance(body, dict):
        return ""
    status = body.get("status-code")
    failed = any(body.get(k) for k in ("errorMessages", "warningMessages")) or (
        isinstance(body.get("errors"), dict) and bool(body["errors"])) or (
        isinstance(status, int) and status >= 400)
    return (_json_message(body) or "an error envelope") if failed else ""


def said(status: int, text: str) -> str:
    return f"Jira answered {status}" + (f": {text}" if text else "")


def message(response: requests.Response) -> str:
    """The words of an error body, whatever its shape; the reason phrase when it has none."""
    content_type = response.headers.get("Content-Type", "").lower()
    text = ""
    if "json" in content_type:
        try:
            text = _json_message(orjson.loads(response.content))
        except orjson.JSONDecodeError:
            text = ""
    elif "html" in content_type:
        title = re.search(r"<title>(.*?)</title>", response.text, re.S | re.I)
        text = "an HTML page" + (f" ({_clean(title.group(1))})" if title else "")
    elif response.content:
        text = _clean(response.text)
    # An error message is printed, logged and stored: escape sequences never get that far.
    return one_line(text or response.reason or "").strip()


def _json_message(body: object) -> str:
    if not isinstance(body, dict):
        return ""
    parts = [str(m) for m in body.get("errorMessages") or [] if m]
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts += [f"{k}: {v}" for k, v in errors.items()]
    parts += [str(m) for m in body.get("warningMessages") or [] if m]
    if isinstance(body.get("message"), str):
        parts.append(body["message"])
    return "; ".join(parts)


def _clean(text: str) -> str:
    """One line of at most 300 characters, markup removed."""
    return _SPACE.sub(" ", _TAGS.sub(" ", text)).strip()[:300]
