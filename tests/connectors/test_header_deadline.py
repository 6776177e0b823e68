"""The request deadline covers what urllib3 reads itself: a status line and headers trickling in.

Both platform clients share HttpClient; each case runs against a loopback server and real time.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.jira.auth import TokenAuth
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.servicenow.auth import BasicAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.http import HttpClient
from sms_conformance.connectors.servicenow.watchdog import Deadline
from sms_conformance.errors import SourceError
from tests.connectors.snow_fakes import PASSWORD, Req, Resp, StubServer

BOUND = 6.0  # seconds: generous against request_timeout=2, and far short of "forever"
OK = Resp(200, {"result": [{"sys_id": "a"}]})


class TrickleServer:
    """To every request: a status line, then one byte of an endless header every 0.2 s."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stop = threading.Event()

    def __enter__(self) -> TrickleServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Trickle: ")
            for byte in itertools.repeat(b"a"):
                if self.stop.wait(0.2):
                    return
                try:
                    conn.sendall(byte)
                except OSError:
                    return  # the client gave up


def servicenow(url: str, **kwargs: Any) -> Callable[[], object]:
    client = TableClient(url, BasicAuth("admin", SecretStr(PASSWORD)), **kwargs)
    return lambda: client.list("incident", {})


def jira(url: str, **kwargs: Any) -> Callable[[], object]:
    client = JiraClient(url, TokenAuth(SecretStr("a-pat")), **kwargs)
    return lambda: client.get("/rest/api/2/serverInfo")


def error_within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """What `call` raised (None: it returned); fails if it is still running after `seconds`."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still waiting after {seconds:g} s"
    return raised[0] if raised else None


@pytest.mark.parametrize("make", [servicenow, jira], ids=["servicenow", "jira"])
def test_trickling_headers_end_at_the_request_timeout(make: Callable[..., Callable[[], object]]
                                                      ) -> None:
    """fault: response headers trickling a byte every 0.2 s (timeout 1 s); outcome: SourceError
    naming source.request_timeout within 6 s"""
    with TrickleServer() as server:
        started = time.monotonic()
        error = error_within(BOUND, make(server.url, timeout=1, request_timeout=2))
    assert isinstance(error, SourceError)
    assert "no complete answer within 2 s (source.request_timeout)" in str(error)
    assert time.monotonic() - started >= 2  # the deadline ended it, nothing earlier


def test_trickling_headers_end_at_the_run_deadline() -> None:
    """fault: response headers trickling in when the run's scan_timeout comes first; outcome:
    SourceError naming source.scan_timeout within 6 s"""
    with TrickleServer() as server:
        error = error_within(BOUND, servicenow(server.url, timeout=1, request_timeout=60,
                                               scan_timeout=2))
    assert isinstance(error, SourceError)
    assert "limit of 2 s (source.scan_timeout)" in str(error)


def connections(client: HttpClient, url: str) -> int:
    """Connections the client's pools for `url` have opened so far."""
    pools = client.session.get_adapter(url).poolmanager.pools
    # keys(): urllib3's pool container refuses plain iteration
    return sum(int(pools[key].num_connections) for key in pools.keys())  # noqa: SIM118


def test_requests_reuse_their_connection_and_leave_no_thread() -> None:
    with StubServer(lambda req: OK) as server:
        client = TableClient(server.url, BasicAuth("admin", SecretStr(PASSWORD)))
        client.list("incident", {})
        threads = set(threading.enumerate())
        for _ in range(50):
            assert client.list("incident", {}).rows == [{"sys_id": "a"}]
        assert set(threading.enumerate()) - threads == set()
        assert client.request_count == 51 and connections(client, server.url) == 1


def test_a_passed_deadline_never_cuts_a_later_request_on_the_same_connection() -> None:
    """Each answer takes 0.15 s against request_timeout=0.4: every deadline passes while a later
    request reads its headers on the same connection, and must leave it alone."""

    def slow(req: Req) -> Resp:
        time.sleep(0.15)
        return OK

    with StubServer(slow) as server:
        client = TableClient(server.url, BasicAuth("admin", SecretStr(PASSWORD)),
                             request_timeout=0.4)
        for _ in range(8):
            assert client.list("incident", {}).rows == [{"sys_id": "a"}]
        assert connections(client, server.url) == 1


@contextmanager
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(BOUND)
        theirs.settimeout(BOUND)
        yield ours, theirs


def test_an_expired_deadline_shuts_its_socket() -> None:
    with socket_pair() as (ours, theirs):
        deadline = Deadline(60)
        deadline.watch(ours)
        deadline.expire()
        assert ours.recv(1) == b"" and deadline.expired


def test_a_socket_watched_after_expiry_is_shut_at_once() -> None:
    with socket_pair() as (ours, theirs):
        deadline = Deadline(60)
        deadline.expire()
        deadline.watch(ours)
        assert ours.recv(1) == b""


@pytest.mark.parametrize("done", ["released", "ended"])
def test_a_deadline_leaves_a_socket_it_no_longer_watches(done: str) -> None:
    with socket_pair() as (ours, theirs):
        deadline = Deadline(60)
        deadline.watch(ours)
        if done == "released":
            deadline.release()
        else:
            with deadline:
                pass
        deadline.expire()
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x"
