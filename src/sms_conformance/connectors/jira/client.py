"""JiraClient: HTTP to a Jira site with auth, retries, bounds and error mapping; no paging.

The same bounds as the ServiceNow client (source: settings): `request_timeout` for a whole
answer, headers and body included; `scan_timeout` for everything the run asks of the site;
`max_body` per body; retries of 429 (Retry-After, a minimum wait when it is 0 or absent), 5xx,
lost connections and truncated bodies within `policy.budget`. A site that cannot be reached is
not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.http.retry import RetryableError, RetryPolicy
from sms_conformance.connectors.http.transport import HttpClient
from sms_conformance.connectors.jira.auth import JiraAuth
from sms_conformance.connectors.jira.responses import decode
from sms_conformance.model.errors import ConfigError
from sms_conformance.support.limits import MAX_OBJECTS, MIB

log = logging.getLogger(__name__)


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


class JiraClient(HttpClient):
    """One site's REST API over a requests.Session; thread-safe."""

    _log = log

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
        max_objects: int = MAX_OBJECTS,
    ) -> None:
        super().__init__(
            site_url(site), timeout=timeout, request_timeout=request_timeout,
            scan_timeout=scan_timeout, max_body=max_body, policy=policy, session=session,
            verify=verify, pool_size=16, sleep=sleep, clock=clock,
            max_objects=max_objects,
        )
        self.auth = auth

    def __repr__(self) -> str:
        return f"JiraClient({self.base!r}, auth={self.auth!r})"

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

        def attempt() -> Any:
            try:
                return decode(method, url, self._send(method, url, params, body, files))
            except HTTPAuthError as exc:
                raise self._refused(exc) from None
            except RetryableError as exc:
                self._before_retry(exc, write=write)
                raise

        return self._retried(method, url, attempt)

    def _refused(self, exc: HTTPAuthError) -> HTTPAuthError:
        who = f"{self.auth.principal} at {self.base}"
        if exc.status == 401:
            return HTTPAuthError(f"authentication failed for {who}: {exc}; {self.auth.fix}", 401)
        return HTTPAuthError(f"access denied to {who}: {exc}", exc.status)

    # -- transport ----------------------------------------------------------------------------

    def _send(self, method: str, url: str, params: Mapping[str, str] | None, body: Any,
              files: Mapping[str, tuple[str, bytes]] | None = None) -> requests.Response:
        self._wait_turn(method, url)
        headers = self.auth.headers()
        data = None
        if body is not None:
            data = orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        if files is not None:
            headers["X-Atlassian-Token"] = "no-check"  # Jira's XSRF check on uploads
        return self._exchange(method, url, headers, params=params, data=data, files=files)
