"""The real CLI against hostile Table API servers on 127.0.0.1: every scan ends, loudly.

Each server misbehaves in one way; the scan must end with exit 3 within a bound, print its
reason on stderr whatever --format and --output say, and never claim "No findings.".
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest

USER, PASSWORD = "svc_conformance", "not-the-password"
# Small limits so that a hostile server is given up on in seconds, not minutes.
SETTINGS = """\
source:
  request_timeout: 2s
  scan_timeout: 20s
  retry_budget: 3s
  max_response_mb: 1
  max_pages: 200
"""

Behaviour = Callable[[BaseHTTPRequestHandler, dict[str, str]], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: object,
         headers: dict[str, str] | None = None) -> None:
    data = orjson.dumps(body)
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json;charset=UTF-8")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


def row(n: int) -> dict[str, str]:
    return {"sys_id": f"{n:032x}", "number": f"INC{n:07d}", "state": "1"}


def endless_pages(count: str | None, size: int | None = None) -> Behaviour:
    """New rows on every request (a full page, or `size` rows), with `count` as X-Total-Count."""
    serial = itertools.count(1)
    lock = threading.Lock()

    def behave(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        limit = size or int(query.get("sysparm_limit", "1000"))
        with lock:
            rows = [row(next(serial)) for _ in range(limit)]
        send(handler, 200, {"result": rows}, {"X-Total-Count": count} if count else {})

    return behave


def huge_count(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    send(handler, 200, {"result": []}, {"X-Total-Count": str(10**15)})


def repeated_page(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    send(handler, 200, {"result": [row(1), row(2)]}, {"X-Total-Count": "5000"})


def error_envelope(with_result: bool) -> Behaviour:
    def behave(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        body: dict[str, object] = {
            "error": {"message": "Transaction cancelled", "detail": "maximum execution time exceeded"},
            "status": "failure",
        }
        if with_result:
            body["result"] = []
        send(handler, 200, body)

    return behave


def trickle(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    """Headers at once, then one byte of a long body every 0.2 s (never a read timeout)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    handler.wfile.flush()
    for byte in itertools.cycle(b'{"result": [ '):
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.2)


def oversized(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    """A valid-looking page of 3 MiB, streamed without Content-Length."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(b'{"result": [')
    chunk = b",".join(orjson.dumps(row(n) | {"description": "x" * 900}) for n in range(1024))
    for _ in range(3):
        handler.wfile.write(chunk + b",")
    handler.wfile.write(orjson.dumps(row(0)) + b"]}")
    handler.close_connection = True


def wrong_password(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    send(handler, 401, {"error": {"message": "User Not Authenticated",
                                  "detail": "Required to provide Auth information"},
                        "status": "failure"}, {"WWW-Authenticate": 'Basic realm="Service-now"'})


def not_found_page(handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
    """A web server that is not the Table API (wrong URL, a proxy): 404 with an HTML page."""
    page = b"<html><body><h1>404 Not Found</h1></body></html>"
    handler.send_response(404)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(page)))
    handler.end_headers()
    handler.wfile.write(page)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client giving up mid-answer is the point of these servers


class Hostile:
    """A Table API server on 127.0.0.1 answering every GET with one behaviour."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests = 0
        self.tables: list[str] = []  # the table of each request, in order


@contextmanager
def hostile(behave: Behaviour) -> Iterator[Hostile]:
    """Runs a hostile server in a thread while the block runs."""
    served = Hostile("")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            query = dict(parse_qsl(urlsplit(self.path).query))
            with lock:
                served.requests += 1
                served.tables.append(urlsplit(self.path).path.rsplit("/", 1)[-1])
            try:
                behave(self, query)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scan(tmp_path: Path, instance: str, *extra: str, bound: float,
         settings: str = SETTINGS) -> tuple[int, str, str, float]:
    """Runs `sms-conformance scan` in a child process; (exit code, stdout, stderr, seconds)."""
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "settings.yaml").write_text(settings)
    env = {**os.environ, "SERVICENOW_USERNAME": USER, "SERVICENOW_PASSWORD": PASSWORD}
    for name in ("SERVICENOW_CLIENT_ID", "SERVICENOW_CLIENT_SECRET", "SERVICENOW_INSTANCE"):
        env.pop(name, None)
    command = [sys.executable, "-m", "sms_conformance", "scan", "--source", "servicenow",
               "--instance", instance, "--history", str(tmp_path / "h.sqlite"), "--full",
               "--config", str(config), *extra]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=bound + 30)
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def assert_incomplete(result: tuple[int, str, str, float], reason: str, bound: float) -> None:
    code, out, err, seconds = result
    assert code == 3, (out, err)
    assert reason in err, err
    assert "No findings." not in out
    assert seconds < bound, f"took {seconds:.1f} s"


def test_endless_full_pages_beyond_the_count(tmp_path: Path) -> None:
    """fault: full pages of new rows past X-Total-Count; outcome: exit 3, "more rows than" on stderr"""
    with hostile(endless_pages("1500")) as server:
        result = scan(tmp_path, server.url, bound=20)
    assert_incomplete(result, "more rows than its X-Total-Count of 1500", 20)


def test_endless_full_pages_without_a_count(tmp_path: Path) -> None:
    """fault: full pages of new rows, no X-Total-Count; outcome: exit 3, the missing count on stderr"""
    with hostile(endless_pages(None)) as server:
        result = scan(tmp_path, server.url, "--format", "json", "--output", str(tmp_path / "f.json"),
                      bound=20)
    assert_incomplete(result, "no X-Total-Count", 20)


def test_huge_total_count(tmp_path: Path) -> None:
    """fault: X-Total-Count of 10^15, empty pages; outcome: exit 3 at once, the implausible count on stderr"""
    with hostile(huge_count) as server:
        result = scan(tmp_path, server.url, bound=20)
    assert_incomplete(result, "X-Total-Count of 1000000000000000", 20)


def test_short_pages_past_the_page_bound(tmp_path: Path) -> None:
    """fault: one new row a page forever under a plausible count; outcome: exit 3 past the page bound"""
    with hostile(endless_pages("20000", size=1)) as server:
        result = scan(tmp_path, server.url, bound=30)
    assert_incomplete(result, "pages of 1000 for an X-Total-Count of 20000", 30)
    # The bound derived from the count (22,000 rows with the margin, 2 pages per 1,000 rows
    # and 10 spare) ended it, long before source.max_pages (200); one more asked the instance's
    # identity (sys_properties), one its priority lookup (dl_u_priority). The SLA records'
    # table read, begun beside the first page, is bounded the same way (pages of 5,000: 20).
    read = [t for t in server.tables if t != "task_sla"]
    assert len(read) == 56 and read.count("incident") == 54, read
    assert server.tables.count("task_sla") <= 20


def test_repeated_page(tmp_path: Path) -> None:
    """fault: the same page whatever the cursor; outcome: exit 3, "the same page twice" on stderr"""
    with hostile(repeated_page) as server:
        result = scan(tmp_path, server.url, bound=20)
    assert_incomplete(result, "the same page twice", 20)


@pytest.mark.parametrize("with_result", [True, False], ids=["empty-result", "no-result"])
def test_error_envelope_with_200(tmp_path: Path, with_result: bool) -> None:
    """fault: HTTP 200 with an error envelope; outcome: exit 3, its message on stderr"""
    with hostile(error_envelope(with_result)) as server:
        result = scan(tmp_path, server.url, "--format", "json", bound=20)
    assert_incomplete(result, "Transaction cancelled: maximum execution time exceeded", 20)


def test_trickling_body(tmp_path: Path) -> None:
    """fault: a body trickling a byte every 0.2 s; outcome: exit 3 after request_timeout, named on stderr"""
    with hostile(trickle) as server:
        result = scan(tmp_path, server.url, bound=15)
    assert_incomplete(result, "no complete answer within 2 s", 15)


def test_oversized_body(tmp_path: Path) -> None:
    """fault: a 3 MiB page against a 1 MiB cap; outcome: exit 3, "larger than 1 MiB" on stderr"""
    with hostile(oversized) as server:
        result = scan(tmp_path, server.url, "--output", str(tmp_path / "report.txt"), bound=20)
    assert_incomplete(result, "larger than 1 MiB", 20)


def test_wrong_password(tmp_path: Path) -> None:
    """fault: 401 for the configured user; outcome: exit 3, the user and instance named on stderr"""
    with hostile(wrong_password) as server:
        result = scan(tmp_path, server.url, bound=20)
    assert_incomplete(result, f"authentication failed for user {USER} at {server.url}", 20)
    assert PASSWORD not in result[1] + result[2]


def test_scan_deadline(tmp_path: Path) -> None:
    """fault: endless pages under a 2 s scan_timeout; outcome: exit 3 within seconds, scan_timeout named"""
    settings = SETTINGS.replace("scan_timeout: 20s", "scan_timeout: 2s").replace(
        "max_pages: 200", "max_pages: 1000000")
    # short pages under a huge count: only the run's deadline can end this one
    with hostile(endless_pages("100000000", size=10)) as server:
        result = scan(tmp_path, server.url, bound=20, settings=settings)
    assert_incomplete(result, "scan_timeout", 20)


def test_connection_refused_fails_fast(tmp_path: Path) -> None:
    """fault: nothing listens on the port; outcome: exit 3 at once, connection refused on stderr"""
    result = scan(tmp_path, f"http://127.0.0.1:{closed_port()}", "--format", "json",
                  "--output", str(tmp_path / "f.json"), bound=30, settings="")
    assert_incomplete(result, "connection refused", 30)


def test_unknown_host_fails_fast(tmp_path: Path) -> None:
    """fault: the host name does not resolve; outcome: exit 3 at once, host not found on stderr"""
    result = scan(tmp_path, "http://nonexistent.invalid", bound=30, settings="")
    assert_incomplete(result, "host not found", 30)


def test_html_404_is_not_an_empty_table(tmp_path: Path) -> None:
    """fault: 404 with an HTML page on every table (not the Table API: wrong URL, a proxy);
    outcome: exit 3, the page named on stderr, never "No findings." on empty tables"""
    with hostile(not_found_page) as server:
        result = scan(tmp_path, server.url, bound=20)
    assert_incomplete(result, "answered 404 with an HTML page", 20)
