"""JiraClient: HTTP to a Jira site with auth, retries, bounds and error mapping; no paging.

The same bounds as the ServiceNow client (source: settings): `request_timeout` for a whole
answer, body included; `scan_timeout` for everything the run asks of the site; `max_body` per
body; retries of 429 (Retry-After, a minimum wait when it is 0 or absent), 5xx, lost connections
and truncated bodies within `policy.budget`. A site that cannot be reached is not retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type
from urllib3.exceptions import HTTPError

from sms_conformance import __version__
from sms_conformance.connectors.jira.auth import JiraAuth
from sms_conformance.connectors.jira.responses import decode
from sms_conformance.connectors.servicenow.responses import HTTPAuthError, network_error
from sms_conformance.connectors.servicenow.retry import (
    AmbiguousWriteError,
    NotSentError,
    RetryableError,
    RetryPolicy,
)
from sms_conformance.errors import ConfigError, SourceError
from sms_conformance.limits import MIB

log = logging.getLogger(__name__)

USER_AGENT = f"sms-conformance/{__version__}"
CONNECT_TIMEOUT = 10.0
# A POST answered with these was not processed: sending it again cannot duplicate an issue.
_SAFE_WRITE_RETRY = frozenset({429, 503})
_CHUNK = 256 * 1024


def site_url(url: str) -> str:
    """Validated site URL without trailing slash; credentials in it are refused."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Jira site must be a URL such as https://acme.atlassian.net, got {url!r}")
    if parts.username or parts.password:
        raise ConfigError("put Jira credentials in the environment, not in the site URL")
    if parts.query or parts.fragment:
        raise ConfigError(f"Jira site URL must not carry a query or fragment: {url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


class JiraClient:
    """One site's REST API over a requests.Session; thread-safe."""

    def __init__(
        self,
        site: str,
        auth: JiraAuth,
        *,
        timeout: float = 60.0,
        request_timeout: float = 120.0,
        scan_timeout: float | None = None,
        max_body: int = 64 * MIB,
        policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base = site_url(site)
        self.auth = auth
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.scan_timeout = scan_timeout
        self.max_body = max_body
        self.policy = policy or RetryPolicy()
        self.verify = verify
        self._sleep = sleep
        self._clock = clock
        self.deadline = clock() + scan_timeout if scan_timeout is not None else float("inf")
        self._count = 0
        self._lock = threading.Lock()
        self._paused_until = 0.0  # a 429's Retry-After holds every thread of this client
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=16, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    def __repr__(self) -> str:
        return f"JiraClient({self.base!r}, auth={self.auth!r})"

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._count

    def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """GET a JSON body; None for a 404."""
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any, *, write: bool = False) -> Any:
        """POST JSON; `write`: it creates something, so an unknown outcome is not resent."""
        return self.call("POST", path, body=body, write=write)

    def put(self, path: str, body: Any) -> Any:
        """PUT JSON (idempotent: retried like a read)."""
        return self.call("PUT", path, body=body)

    def upload(self, path: str, name: str, content: bytes) -> Any:
        """POST one file as multipart form data (attachments); never resent blindly."""
        return self.call("POST", path, files={"file": (name, content)}, write=True)

    def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
             body: Any = None, write: bool = False,
             files: Mapping[str, tuple[str, bytes]] | None = None) -> Any:
        """One logical call with retries; None means 404."""
        url = self.base + path
        out_of_time = False

        def stop(state: RetryCallState) -> bool:
            nonlocal out_of_time
            if self.policy.stop(state):
                return True
            out_of_time = self._clock() + (state.upcoming_sleep or 0.0) >= self.deadline
            return out_of_time

        def attempt() -> Any:
            try:
                return decode(method, url, self._send(method, url, params, body, files))
            except HTTPAuthError as exc:
                raise self._refused(exc) from None
            except RetryableError as exc:
                if exc.status == 429 and exc.retry_after:
                    with self._lock:
                        until = self._clock() + exc.retry_after
                        self._paused_until = max(self._paused_until, until)
                unsent = isinstance(exc, NotSentError) or exc.status in _SAFE_WRITE_RETRY
                if write and not unsent:
                    raise AmbiguousWriteError(str(exc)) from None
                raise

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError), wait=self.policy.wait, stop=stop,
            sleep=self._sleep,
            before_sleep=lambda state: log.info(
                "%s; retrying in %.1f s",
                state.outcome.exception() if state.outcome else method, state.upcoming_sleep),
        )
        try:
            return retrying(attempt)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            if out_of_time:
                raise SourceError(f"{last}; no time left to retry within the run's limit of "
                                  f"{self.scan_timeout:g} s (source.scan_timeout)") from None
            raise SourceError(
                f"{method} {url}: gave up after {exc.last_attempt.attempt_number} attempts "
                f"(retry budget {self.policy.budget:.0f} s): {last}") from None

    def _refused(self, exc: HTTPAuthError) -> HTTPAuthError:
        who = f"{self.auth.principal} at {self.base}"
        if exc.status == 401:
            return HTTPAuthError(f"authentication failed for {who}: {exc}; {self.auth.fix}", 401)
        return HTTPAuthError(f"access denied to {who}: {exc}", exc.status)

    # -- transport ----------------------------------------------------------------------------

    def _overdue(self, method: str, url: str) -> SourceError:
        if self._clock() >= self.deadline:
            return SourceError(f"{method} {url}: the run took longer than its limit of "
                               f"{self.scan_timeout:g} s (source.scan_timeout); stopped")
        return SourceError(f"{method} {url}: no complete answer within "
                           f"{self.request_timeout:g} s (source.request_timeout)")

    def _send(self, method: str, url: str, params: Mapping[str, str] | None, body: Any,
              files: Mapping[str, tuple[str, bytes]] | None = None) -> requests.Response:
        now = self._clock()
        if now >= self.deadline:
            raise self._overdue(method, url)
        pause = min(self._paused_until, self.deadline) - now
        if pause > 0:
            self._sleep(pause)
            if self._clock() >= self.deadline:
                raise self._overdue(method, url)
        headers = self.auth.headers()
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        if files is not None:
            headers["X-Atlassian-Token"] = "no-check"  # Jira's XSRF check on uploads
        with self._lock:
            self._count += 1
        started = self._clock()
        until = min(started + self.request_timeout, self.deadline)
        wait = max(until - started, 0.001)
        try:
            response = self.session.request(
                method, url, params=params, data=data, files=files, headers=headers,
                timeout=(min(CONNECT_TIMEOUT, wait), min(self.timeout, wait)),
                verify=self.verify, allow_redirects=False, stream=True,
            )
        except requests.exceptions.RequestException as exc:
            raise self._failed(method, url, exc, until) from None
        try:
            response._content = self._read(method, url, response, until)
        except (requests.exceptions.RequestException, HTTPError) as exc:
            raise self._failed(method, url, exc, until) from None
        finally:
            response.close()
        return response

    def _read(self, method: str, url: str, response: requests.Response, until: float) -> bytes:
        """The whole body as it arrives, within the deadline and the size cap."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise self._too_large(method, url)
        raw = response.raw
        raw.decode_content = True
        chunks: list[bytes] = []
        size = 0
        while True:
            if self._clock() >= until:
                raise self._overdue(method, url)
            chunk: bytes = raw.read1(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large(method, url)
            chunks.append(chunk)

    def _too_large(self, method: str, url: str) -> SourceError:
        return SourceError(f"{method} {url}: response larger than {self.max_body / MIB:g} MiB "
                           "(source.max_response_mb): lower the page size or raise the limit")

    def _failed(self, method: str, url: str, exc: Exception, until: float) -> SourceError:
        return self._overdue(method, url) if self._clock() >= until else network_error(
            method, url, exc)
