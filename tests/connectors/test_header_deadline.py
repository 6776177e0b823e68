"""The request deadline covers what urllib3 reads itself: a status line and headers trickling in.

Both platform clients share HttpClient; each case runs against a loopback server and real time.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from pydantic import SecretStr

from sms_conformance.connectors.http.transport import HttpClient
from sms_conformance.connectors.http.watchdog import Deadline
from sms_conformance.connectors.jira.auth import TokenAuth
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.servicenow.auth import BasicAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.model.errors import SourceError
from tests.connectors.snow_fakes import PASSWORD, Req, Resp, StubServer

BOUND = 6.0  # seconds: generous against request_timeout=2, and far short of "forever"
OK = Resp(200, {"result": [{"sys_id": "a"}]})


Serve = Callable[[socket.socket], None]


class TrickleServer:
    """Accepts connections on 127.0.0.1 and serves each with `serve` in a thread."""

    def __init__(self, serve: Serve, scheme: str = "http") -> None:
        self.serve = serve
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.url = f"{scheme}://127.0.0.1:{self.listener.getsockname()[1]}"

    def __enter__(self) -> TrickleServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        STOP.set()
        self.listener.close()

    def _accept(self) -> None:
        while not STOP.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # OSError: the client gave up
            self.serve(conn)


STOP = threading.Event()


@pytest.fixture(autouse=True)
def _stop_servers() -> Iterator[None]:
    STOP.clear()
    yield
    STOP.set()


def trickle(conn: socket.socket, head: bytes) -> None:
    """`head`, then one byte every 0.2 s until the test ends."""
    conn.sendall(head)
    while not STOP.wait(0.2):
        conn.sendall(b"a")


def trickling_headers(conn: socket.socket) -> None:
    """To a request: a status line, then one byte of an endless header every 0.2 s."""
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(65536)
        if not chunk:
            return
        request += chunk
    trickle(conn, b"HTTP/1.1 200 OK\r\nX-Trickle: ")


def over_tls(context: ssl.SSLContext, serve: Serve) -> Serve:
    def tls(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as wrapped:
            serve(wrapped)

    return tls


def trickling_handshake(conn: socket.socket) -> None:
    """A TLS record header announcing 16 KiB of handshake, then its bytes one every 0.2 s."""
    trickle(conn, b"\x16\x03\x03\x40\x00")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


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


def assert_overdue(error: BaseException | None, started: float) -> None:
    assert isinstance(error, SourceError)
    assert "no complete answer within 2 s (source.request_timeout)" in str(error)
    assert time.monotonic() - started >= 2  # the deadline ended it, nothing earlier


@pytest.mark.parametrize("make", [servicenow, jira], ids=["servicenow", "jira"])
def test_trickling_headers_end_at_the_request_timeout(make: Callable[..., Callable[[], object]]
                                                      ) -> None:
    """fault: response headers trickling a byte every 0.2 s (timeout 1 s); outcome: SourceError
    naming source.request_timeout within 6 s"""
    with TrickleServer(trickling_headers) as server:
        started = time.monotonic()
        assert_overdue(error_within(BOUND, make(server.url, timeout=1, request_timeout=2)), started)


def test_trickling_headers_over_tls_end_at_the_request_timeout(ca: trustme.CA,
                                                               tmp_path: Path) -> None:
    """fault: response headers trickling in over TLS; outcome: SourceError naming
    source.request_timeout within 6 s"""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    with TrickleServer(over_tls(context, trickling_headers), "https") as server:
        started = time.monotonic()
        call = servicenow(server.url, timeout=1, request_timeout=2, verify=str(tmp_path / "ca.pem"))
        assert_overdue(error_within(BOUND, call), started)


def test_a_trickling_tls_handshake_ends_at_the_request_timeout() -> None:
    """fault: a TLS handshake trickling a byte every 0.2 s; outcome: SourceError naming
    source.request_timeout within 6 s"""
    # CPython already bounds a whole handshake by the connect timeout (min(10 s, time left)).
    with TrickleServer(trickling_handshake, "https") as server:
        started = time.monotonic()
        assert_overdue(error_within(BOUND, servicenow(server.url, timeout=1, request_timeout=2)),
                       started)


def test_trickling_headers_end_at_the_run_deadline() -> None:
    """fault: response headers trickling in when the run's scan_timeout comes first; outcome:
    SourceError naming source.scan_timeout within 6 s"""
    with TrickleServer(trickling_headers) as server:
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


@contextlib.contextmanager
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
