"""Deadline: a request's limit for what urllib3 reads itself (TLS handshake, status line, headers).

requests reads them inside `session.request`, where only the per-operation socket timeout
applies: a server sending one header byte every `timeout - 1` seconds would hold the request, and
the run, forever. The connections that `WatchedAdapter` mounts tell the request's `Deadline` which
socket they are using (through a context variable: a request and its connection run in one
thread); one shared timer thread shuts that socket down when the deadline passes, which wakes a
blocked recv (close() alone may not).

A connection stops being watched as soon as its headers are read, before its pool can hand it to
another request. The deadline holds its own duplicate of the socket's descriptor, closed then: it
can only ever shut down the connection of its own request, even one urllib3 has closed meanwhile
(whose descriptor number may already serve another socket).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import socket
import threading
import time
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager, ProxyManager
from urllib3.connection import HTTPConnection
from urllib3.response import HTTPResponse

if TYPE_CHECKING:
    from urllib3._base_connection import BaseHTTPConnection, BaseHTTPSConnection


class Deadline:
    """One request's deadline, `seconds` from now: past it, the socket it watches is shut down.

    Used as a context manager around the request, in the thread that sends it.
    """

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False  # it passed before the request ended
        self.ended = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None  # a duplicate of the watched socket's descriptor
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        self._token = _current.set(self)
        _timer.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)
        with self._lock:
            self.ended = True
            self._forget()
        _timer.drop_ended()

    def watch(self, sock: socket.socket) -> None:
        """Watch `sock` (in place of any socket watched before); shut it at once if expired."""
        with self._lock:
            if self.ended:
                return
            self._forget()
            try:
                self._sock = socket.fromfd(sock.fileno(), sock.family, sock.type)
            except OSError:
                return  # closed already: nothing left to wake
            if self.expired:
                self._shut()

    def release(self) -> None:
        """Stop watching: the headers are read, or the connection failed."""
        with self._lock:
            self._forget()

    def expire(self) -> None:
        """The deadline has passed (called by the timer thread)."""
        with self._lock:
            if self.ended:
                return
            self.expired = True
            self._shut()

    def _shut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):  # not connected any more: nothing to wake
                self._sock.shutdown(socket.SHUT_RDWR)

    def _forget(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class _Timer:
    """One daemon thread that expires deadlines when they pass; started on first use."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # breaks ties, so that deadlines are never compared
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._changed:
            heapq.heappush(self._due, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="request-deadlines",
                                                daemon=True)
                self._thread.start()
            elif self._due[0][2] is deadline:
                self._changed.notify()

    def drop_ended(self) -> None:
        """Forget ended deadlines at the front: requests mostly end in the order they started,
        so the heap holds about the requests in flight, not every one of the last minutes."""
        with self._changed:
            while self._due and self._due[0][2].ended:
                heapq.heappop(self._due)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                while self._due and self._due[0][0] <= now:
                    heapq.heappop(self._due)[2].expire()
                self._changed.wait(self._due[0][0] - now if self._due else None)


_timer = _Timer()
_current: ContextVar[Deadline | None] = ContextVar("request_deadline", default=None)


def _watch(sock: object) -> None:
    deadline = _current.get()
    if deadline is not None and isinstance(sock, socket.socket):  # not a test recorder's stub
        deadline.watch(sock)


def _release() -> None:
    deadline = _current.get()
    if deadline is not None:
        deadline.release()


class _Watching(HTTPConnection):
    """Reports its socket to the current request's Deadline until the response headers are in."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # a new connection: its TLS handshake is watched too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a reused connection (or a new one, now wrapped in TLS)
        super().request(*args, **kwargs)

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
        try:
            return super().getresponse()
        finally:
            _release()  # before the pool may hand this connection to another request


@functools.cache
def _watched(connection_class: type[Any]) -> type[Any]:
    """`connection_class` with _Watching in front."""
    if issubclass(connection_class, _Watching):
        return connection_class
    return type(f"Watched{connection_class.__name__}", (_Watching, connection_class), {})


# The pools take the watched kind of the connection class urllib3 has when they connect, not a
# fixed one: a recorder that swaps urllib3's classes (vcrpy, for the cassette tests) still works.
class _WatchedHTTPPool(HTTPConnectionPool):
    def _new_conn(self) -> BaseHTTPConnection:
        self.ConnectionCls = _watched(HTTPConnectionPool.ConnectionCls)
        return super()._new_conn()


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _new_conn(self) -> BaseHTTPSConnection:
        self.ConnectionCls = _watched(HTTPSConnectionPool.ConnectionCls)
        return super()._new_conn()


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections a Deadline can cut while their headers are read."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if isinstance(manager, ProxyManager):  # a SOCKS manager keeps its own pools
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager
