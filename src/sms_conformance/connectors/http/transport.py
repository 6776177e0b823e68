"""HttpClient: the transport the platform clients share; error bodies and messages stay theirs.

A requests.Session with its own connection pool and no urllib3 retries; retries within
`policy.budget`, a 429's Retry-After pausing every thread of the client (at most
`policy.max_retry_after`: a site asking for a longer pause gets no request until it is over,
each one refused at once with ThrottledError, so no thread waits it out); and a count of the
requests sent.

Bounds: `timeout` between two bytes; `request_timeout` for the whole exchange, TLS handshake,
status line, headers and body included (a Deadline from watchdog.py shuts the socket down if the
headers are still arriving then; the body is read here, the deadline checked between reads); so
every request ends within `request_timeout` plus one `timeout`. `max_body` bytes per body and
`max_objects` JSON objects in it (counted as opening braces before decoding: decoding costs
about 300 bytes an object, so a body of tiny objects would take 16 times its size), and
`scan_timeout` for everything the client does: past it, no request starts and none is waited for.

Platform-free: each platform's client subclasses it and decodes its own answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import ClassVar, TypeVar

import requests
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type
from urllib3.exceptions import HTTPError

from sms_conformance import __version__
from sms_conformance.connectors.http.errors import network_error
from sms_conformance.connectors.http.retry import (
    AmbiguousWriteError,
    NotSentError,
    RetryableError,
    RetryPolicy,
    ThrottledError,
)
from sms_conformance.connectors.http.watchdog import Deadline, WatchedAdapter
from sms_conformance.model.errors import SourceError
from sms_conformance.support.limits import MAX_OBJECTS, MIB
from sms_conformance.support.redaction import scrub

USER_AGENT = f"sms-conformance/{__version__}"
CONNECT_TIMEOUT = 10.0
# A POST answered with these was not processed: sending it again cannot duplicate a record.
SAFE_WRITE_RETRY = frozenset({429, 503})
_CHUNK = 256 * 1024

T = TypeVar("T")


class HttpClient:
    """Bounded, retried HTTP to one base URL; thread-safe. Subclasses send and decode."""

    _log: ClassVar[logging.Logger]  # the subclass's module logger: retries are logged there

    def __init__(
        self,
        base: str,
        *,
        timeout: float,
        request_timeout: float,
        scan_timeout: float | None,
        max_body: int,
        policy: RetryPolicy | None,
        session: requests.Session | None,
        verify: bool | str,
        pool_size: int,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_objects: int = MAX_OBJECTS,
    ) -> None:
        self.base = base
        self.max_objects = max_objects
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
        # A 429's Retry-After pauses every thread of this client, not only the one that got it.
        self._paused_until = 0.0
        # Told of every 429 and 503: parallel reads lower their concurrency (connectors.parallel).
        self.on_throttled: Callable[[], None] | None = None
        # A Retry-After longer than the policy waits: until then, no request is sent at all.
        self._throttled_until = 0.0
        self._throttled_by = ""
        self.session = session or requests.Session()
        adapter = WatchedAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries (and a platform's token requests) included."""
        return self._count

    # -- retries ------------------------------------------------------------------------------

    def _retried(self, method: str, url: str, attempt: Callable[[], T]) -> T:
        """`attempt` until it returns, retrying RetryableError within the budget and deadline."""
        out_of_time = False
        started = self._clock()

        def stop(state: RetryCallState) -> bool:
            """No retry past the retry budget, nor one whose wait would end past the deadline."""
            nonlocal out_of_time
            if self.policy.stop(state, self._clock() - started):
                return True
            out_of_time = self._clock() + (state.upcoming_sleep or 0.0) >= self.deadline
            return out_of_time

        retrying = Retrying(
            retry=retry_if_exception_type(RetryableError),
            wait=self.policy.wait,
            stop=stop,
            sleep=self._sleep,
            before_sleep=lambda state: self._log.info(
                "%s; retrying in %.1f s",
                scrub(str(state.outcome.exception()) if state.outcome else method),
                state.upcoming_sleep,
            ),
        )
        try:
            return retrying(attempt)
        except SourceError as exc:  # what the site said may echo the credentials
            exc.args = tuple(scrub(a) if isinstance(a, str) else a for a in exc.args)
            raise
        except RetryError as exc:
            last = exc.last_attempt.exception()
            if out_of_time:
                raise SourceError(scrub(
                    f"{last}; no time left to retry within the run's limit of "
                    f"{self.scan_timeout:g} s (source.scan_timeout)"
                )) from None
            raise SourceError(scrub(
                f"{method} {url}: gave up after {exc.last_attempt.attempt_number} attempts "
                f"(retry budget {self.policy.budget:.0f} s): {last}"
            )) from None

    def _before_retry(self, exc: RetryableError, *, write: bool) -> None:
        """Called while `exc` is handled, before it is raised again for a retry: a 429's
        Retry-After holds every thread; one longer than the policy waits ends the call at once
        (and refuses every later one until it is over); a write the site may have processed is
        not resent."""
        if exc.status in (429, 503) and self.on_throttled is not None:
            self.on_throttled()
        if exc.retry_after and exc.retry_after > self.policy.max_retry_after:
            with self._lock:
                until = self._clock() + exc.retry_after
                if until > self._throttled_until:
                    self._throttled_until, self._throttled_by = until, scrub(str(exc))
            raise self._throttled() from None
        if exc.status == 429 and exc.retry_after:
            with self._lock:
                until = self._clock() + exc.retry_after
                self._paused_until = max(self._paused_until, until)
        unsent = isinstance(exc, NotSentError) or exc.status in SAFE_WRITE_RETRY
        if write and not unsent:
            raise AmbiguousWriteError(str(exc)) from None

    # -- one request --------------------------------------------------------------------------

    def _wait_turn(self, method: str, url: str) -> None:
        """Refuse to start past the deadline or while the site throttles beyond what the policy
        waits; wait out a (shorter) Retry-After pause first."""
        now = self._clock()
        if now >= self.deadline:
            raise self._overdue(method, url)
        if now < self._throttled_until:
            raise self._throttled()
        pause = min(self._paused_until, self.deadline) - now
        if pause > 0:
            self._sleep(pause)
            if self._clock() >= self.deadline:
                raise self._overdue(method, url)

    def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        *,
        params: Mapping[str, str] | None = None,
        data: bytes | Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes]] | None = None,
    ) -> requests.Response:
        """Send one request, counted, and read its whole body within the bounds."""
        with self._lock:
            self._count += 1
        started = self._clock()
        until = min(started + self.request_timeout, self.deadline)
        # requests' timeouts apply per socket operation: until `until`, the Deadline watches what
        # urllib3 reads itself (up to the headers); the body's reads are checked against it here.
        wait = max(until - started, 0.001)
        with Deadline(wait) as deadline:
            try:
                response = self.session.request(
                    method, url, params=params, data=data, files=files, headers=headers,
                    timeout=(min(CONNECT_TIMEOUT, wait), min(self.timeout, wait)),
                    verify=self.verify, allow_redirects=False, stream=True,
                )
            except requests.exceptions.RequestException as exc:
                raise self._failed(method, url, exc, until, deadline.expired) from None
        try:
            if deadline.expired:  # headers cut off by the deadline can parse as a whole answer
                raise self._overdue(method, url)
            response._content = self._read(method, url, response, until)
        except (requests.exceptions.RequestException, HTTPError) as exc:
            raise self._failed(method, url, exc, until) from None
        finally:
            response.close()  # the connection goes back to the pool only if read to its end
        return response

    def _read(self, method: str, url: str, response: requests.Response, until: float) -> bytes:
        """The whole body, read as it arrives, within the deadline and the size cap."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise self._too_large(method, url)
        raw = response.raw
        raw.decode_content = True  # gzip etc. undone as read, so the cap bounds memory
        chunks: list[bytes] = []
        size = objects = 0
        while True:
            if self._clock() >= until:
                raise self._overdue(method, url)
            # read1: whatever has arrived (a read(n) would wait for n bytes, however slowly sent)
            chunk: bytes = raw.read1(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large(method, url)
            objects += chunk.count(b"{")  # a brace in a string counts too: an upper bound
            if objects > self.max_objects:
                raise SourceError(
                    f"{method} {url}: response of more than {self.max_objects:,} JSON objects "
                    "(source.max_response_objects): not decoded; lower the page size or raise "
                    "the limit")
            chunks.append(chunk)

    # -- errors -------------------------------------------------------------------------------

    def _overdue(self, method: str, url: str) -> SourceError:
        if self._clock() >= self.deadline:
            return SourceError(
                f"{method} {url}: the run took longer than its limit of "
                f"{self.scan_timeout:g} s (source.scan_timeout); stopped"
            )
        return SourceError(
            f"{method} {url}: no complete answer within {self.request_timeout:g} s "
            "(source.request_timeout)"
        )

    def _throttled(self) -> ThrottledError:
        wait = self._throttled_until - self._clock()
        return ThrottledError(
            f"{self._throttled_by}: the site asks to wait {max(wait, 0):.0f} s before the next "
            f"request, more than the {self.policy.max_retry_after:g} s this run waits "
            "(source.max_retry_after)")

    def _too_large(self, method: str, url: str) -> SourceError:
        return SourceError(
            f"{method} {url}: response larger than {self.max_body / MIB:g} MiB "
            "(source.max_response_mb): lower the page size or raise the limit"
        )

    def _failed(
        self, method: str, url: str, exc: Exception, until: float, expired: bool = False
    ) -> SourceError:
        """The overdue error if the deadline passed (`expired`: its Deadline cut the exchange)."""
        if expired or self._clock() >= until:
            return self._overdue(method, url)
        return network_error(method, url, exc)
