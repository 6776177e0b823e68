"""TableClient: HTTP to the Table API with auth, retries, and error mapping; no paging logic."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
import requests

from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.http.retry import QuotaError, RetryableError, RetryPolicy
from sms_conformance.connectors.http.transport import HttpClient
from sms_conformance.connectors.servicenow.auth import Auth
from sms_conformance.connectors.servicenow.responses import Json, decode
from sms_conformance.model.errors import ConfigError, SourceError
from sms_conformance.support.limits import MAX_OBJECTS, MIB

log = logging.getLogger(__name__)

API = "/api/now/table"
ATTACHMENT_API = "/api/now/attachment"
# Source records are read, never written, whoever holds the client.
PROTECTED_TABLES = frozenset({"incident", "problem", "change_request", "sc_req_item",
                              "sc_request", "task"})


@dataclass(frozen=True)
class Page:
    rows: list[Json]
    total: int | None
    headers: Mapping[str, str]


def base_url(url: str) -> str:
    """Validated instance URL without trailing slash; credentials in it are refused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ServiceNow instance URL must be http(s)://host, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError("put ServiceNow credentials in the environment, not in the URL")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


class TableClient(HttpClient):
    """One instance's Table API over a requests.Session; thread-safe for concurrent writes.

    Retries 429 (honouring Retry-After), 502/503/504, connections lost mid-way, read timeouts
    and truncated or undecodable bodies with backoff inside `policy.budget`. A 500 is retried
    once only: on ServiceNow it usually means a transaction quota cancelled the query, which a
    repeat of the same request will hit again. An instance that cannot be reached is not retried.

    Bounds: `timeout` between two bytes, `request_timeout` for a whole answer (headers and body
    included), `max_body` bytes per body, and `scan_timeout` for everything this client does: past
    it, no request starts and none is waited for.
    """

    _log = log

    def __init__(
        self,
        instance_url: str,
        auth: Auth,
        *,
        timeout: float = 60.0,
        request_timeout: float = 120.0,
        scan_timeout: float | None = None,
        max_body: int = 64 * MIB,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_objects: int = MAX_OBJECTS,
    ) -> None:
        super().__init__(
            base_url(instance_url), timeout=timeout, request_timeout=request_timeout,
            scan_timeout=scan_timeout, max_body=max_body, policy=policy, session=session,
            verify=verify, pool_size=pool_size, sleep=sleep, clock=clock,
            max_objects=max_objects,
        )
        self.auth = auth
        self.protected = set(PROTECTED_TABLES)

    def __repr__(self) -> str:
        return f"TableClient({self.base!r}, auth={self.auth!r})"

    # -- Table API --------------------------------------------------------------------------

    def list(self, table: str, params: Mapping[str, str]) -> Page:
        """GET a list; a 404 (v1's answer to an empty result) is an empty page."""
        response, body = self._call("GET", self._path(table), params=params)
        if body is None:
            return Page([], 0, response.headers)
        rows = body.get("result")
        if not isinstance(rows, list):
            raise SourceError(f"GET {self._path(table)}: expected a list in 'result'")
        limit = params.get("sysparm_limit", "")
        if limit.isdigit() and len(rows) > int(limit):
            raise SourceError(
                f"GET {self._path(table)}: {len(rows)} rows for sysparm_limit={limit}"
            )
        total = response.headers.get("X-Total-Count")
        return Page(rows, int(total) if total and total.isdigit() else None, response.headers)

    def get(self, table: str, sys_id: str, params: Mapping[str, str] | None = None) -> Json | None:
        """GET one record; None if it does not exist or an ACL hides it (404)."""
        _, body = self._call("GET", self._path(table, sys_id), params=params)
        return None if body is None else self._record(body, table)

    def create(self, table: str, fields: Mapping[str, str]) -> Json:
        """POST one record (201). Raises AmbiguousWriteError when the outcome is unknown."""
        self._writable(table)
        _, body = self._call("POST", self._path(table), json=dict(fields), write=True)
        if body is None:
            raise SourceError(f"POST {self._path(table)}: table not found (404)")
        return self._record(body, table)

    def update(self, table: str, sys_id: str, fields: Mapping[str, str]) -> Json:
        """PATCH one record (idempotent, so retried like a read)."""
        self._writable(table)
        _, body = self._call("PATCH", self._path(table, sys_id), json=dict(fields))
        if body is None:
            raise SourceError(f"PATCH {self._path(table, sys_id)}: record not found (404)")
        return self._record(body, table)

    # -- Attachment API ---------------------------------------------------------------------

    def attachments(self, table: str, sys_id: str) -> tuple[Json, ...]:
        """Metadata (sys_id, file_name, size_bytes) of the files attached to one record."""
        query = f"table_name={table}^table_sys_id={sys_id}"
        _, body = self._call("GET", ATTACHMENT_API, params={
            "sysparm_query": query, "sysparm_fields": "sys_id,file_name,size_bytes",
            "sysparm_limit": "1000"})
        rows = [] if body is None else body.get("result")
        if not isinstance(rows, list):
            raise SourceError(f"GET {ATTACHMENT_API}: expected a list in 'result'")
        return tuple(row for row in rows if isinstance(row, dict))

    def attach(self, table: str, sys_id: str, file_name: str, content: bytes,
               content_type: str) -> Json:
        """POST one file to a record (201 with its metadata). Raises AmbiguousWriteError when
        the outcome is unknown."""
        self._writable(table)
        path = f"{ATTACHMENT_API}/file"
        _, body = self._call("POST", path, params={
            "table_name": table, "table_sys_id": sys_id, "file_name": file_name},
            content=(content, content_type), write=True)
        if body is None:
            raise SourceError(f"POST {path}: record {table} {sys_id} not found (404)")
        return self._record(body, "attachment")

    # -- transport --------------------------------------------------------------------------

    def _writable(self, table: str) -> None:
        if table in self.protected:
            raise ConfigError(f"refusing to write to source table {table!r}")

    def _path(self, table: str, sys_id: str | None = None) -> str:
        return f"{API}/{table}" + (f"/{sys_id}" if sys_id else "")

    def _record(self, body: Json, table: str) -> Json:
        record = body.get("result")
        if not isinstance(record, dict):
            raise SourceError(f"{table}: expected a record in 'result'")
        return record

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Json | None = None,
        content: tuple[bytes, str] | None = None,
        write: bool = False,
    ) -> tuple[requests.Response, Json | None]:
        """One logical call with retries; body None means 404."""
        url = self.base + path
        quota_cancels = 0

        def attempt() -> tuple[requests.Response, Json | None]:
            nonlocal quota_cancels
            try:
                response = self._authorized(method, url, params, json, content)
                return response, decode(method, url, response)
            except HTTPAuthError as exc:
                raise self._refused(exc) from None
            except RetryableError as exc:
                if exc.status == 500:
                    quota_cancels += 1
                    if quota_cancels > 1:
                        raise QuotaError(
                            f"{exc}, twice: a transaction quota may be cancelling the query "
                            "(try a smaller page size)"
                        ) from None
                self._before_retry(exc, write=write)
                raise

        return self._retried(method, url, attempt)

    def _refused(self, exc: HTTPAuthError) -> HTTPAuthError:
        """The instance's 401 or 403, naming who was refused where."""
        who = f"{self.auth.principal} at {self.base}"
        if exc.status == 401:
            return HTTPAuthError(f"authentication failed for {who}: {exc}", exc.status)
        return HTTPAuthError(f"access denied to {who}: {exc}", exc.status)

    def _authorized(
        self, method: str, url: str, params: Mapping[str, str] | None, json: Json | None,
        content: tuple[bytes, str] | None = None,
    ) -> requests.Response:
        response = self._send(method, url, params=params, json=json, content=content, auth=True)
        if response.status_code == 401 and self.auth.invalidate():
            response = self._send(method, url, params=params, json=json, content=content,
                                  auth=True)
        return response

    def send_form(self, method: str, url: str, data: Mapping[str, str]) -> requests.Response:
        """Unauthenticated form POST (token endpoint), counted, not retried."""
        return self._send(method, url, data=data, auth=False)

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Json | None = None,
        data: Mapping[str, str] | None = None,
        content: tuple[bytes, str] | None = None,
        auth: bool,
    ) -> requests.Response:
        self._wait_turn(method, url)
        headers = self.auth.headers(self.send_form) if auth else {}
        body: bytes | None = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        elif content is not None:
            body, headers["Content-Type"] = content
        return self._exchange(method, url, headers, params=params,
                              data=body if body is not None else data)
