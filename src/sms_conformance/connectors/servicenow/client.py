"""TableClient: HTTP to the Table API with auth, retries, and error mapping; no paging logic."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryError, Retrying, retry_if_exception_type

from sms_conformance import __version__
from sms_conformance.connectors.servicenow.auth import Auth
from sms_conformance.connectors.servicenow.responses import Json, decode, network_error
from sms_conformance.connectors.servicenow.retry import (
    AmbiguousWriteError,
    NotSentError,
    QuotaError,
    RetryableError,
    RetryPolicy,
)
from sms_conformance.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

API = "/api/now/table"
USER_AGENT = f"sms-conformance/{__version__}"
# A POST rejected with these was not processed, so sending it again cannot duplicate a record.
_SAFE_WRITE_RETRY = frozenset({429, 503})
# Source records are read, never written, whoever holds the client.
PROTECTED_TABLES = frozenset({"incident", "problem", "change_request", "task"})


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


class TableClient:
    """One instance's Table API over a requests.Session; thread-safe for concurrent writes.

    Retries 429 (honouring Retry-After), 502/503/504, connection failures and truncated or
    undecodable bodies with backoff inside `policy.budget`. A 500 is retried once only: on
    ServiceNow it usually means a transaction quota cancelled the query, which a repeat of the
    same request will hit again.
    """

    def __init__(
        self,
        instance_url: str,
        auth: Auth,
        *,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = base_url(instance_url)
        self.auth = auth
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.verify = verify
        self._sleep = sleep
        self._clock = clock
        self._count = 0
        self._count_lock = threading.Lock()
        # A 429's Retry-After pauses every thread of this client, not only the one that got it.
        self._paused_until = 0.0
        self.protected = set(PROTECTED_TABLES)
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    def __repr__(self) -> str:
        return f"TableClient({self.base!r}, auth={self.auth!r})"

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries and token requests included)."""
        return self._count

    # -- Table API --------------------------------------------------------------------------

    def list(self, table: str, params: Mapping[str, str]) -> Page:
        """GET a list; a 404 (v1's answer to an empty result) is an empty page."""
        response, body = self._call("GET", self._path(table), params=params)
        if body is None:
            return Page([], 0, response.headers)
        rows = body.get("result")
        if not isinstance(rows, list):
            raise SourceError(f"GET {self._path(table)}: expected a list in 'result'")
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
        write: bool = False,
    ) -> tuple[requests.Response, Json | None]:
        """One logical call with retries; body None means 404."""
        url = self.base + path
        quota_cancels = 0

        def attempt() -> tuple[requests.Response, Json | None]:
            nonlocal quota_cancels
            try:
                response = self._authorized(method, url, params, json)
                return response, decode(method, url, response)
            except RetryableError as exc:
                if exc.status == 429 and exc.retry_after:
                    with self._count_lock:
                        until = self._clock() + exc.retry_after
                        self._paused_until = max(self._paused_until, until)
                if exc.status == 500:
                    quota_cancels += 1
                    if quota_cancels > 1:
                        raise QuotaError(
                            f"{exc}, twice: a transaction quota may be cancelling the query "
                            "(try a smaller page size)"
                        ) from None
                unsent = isinstance(exc, NotSentError) or exc.status in _SAFE_WRITE_RETRY
                if write and not unsent:
                    raise AmbiguousWriteError(str(exc)) from None
                raise

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            wait=self.policy.wait,
            stop=self.policy.stop,
            sleep=self._sleep,
            before_sleep=lambda state: log.info(
                "%s; retrying in %.1f s",
                state.outcome.exception() if state.outcome else method, state.upcoming_sleep,
            ),
        )
        try:
            return retrying(attempt)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            state = exc.last_attempt
            raise SourceError(
                f"{method} {url}: gave up after {state.attempt_number} attempts "
                f"(retry budget {self.policy.budget:.0f} s): {last}"
            ) from None

    def _authorized(
        self, method: str, url: str, params: Mapping[str, str] | None, json: Json | None
    ) -> requests.Response:
        response = self._send(method, url, params=params, json=json, auth=True)
        if response.status_code == 401 and self.auth.invalidate():
            response = self._send(method, url, params=params, json=json, auth=True)
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
        auth: bool,
    ) -> requests.Response:
        pause = self._paused_until - self._clock()
        if pause > 0:
            self._sleep(pause)
        headers = self.auth.headers(self.send_form) if auth else {}
        body: bytes | None = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        with self._count_lock:
            self._count += 1
        try:
            return self.session.request(
                method, url, params=params, data=body if body is not None else data,
                headers=headers, timeout=self.timeout, verify=self.verify,
                allow_redirects=False,
            )
        except requests.exceptions.RequestException as exc:
            raise network_error(method, url, exc) from None
