"""Serving a sandbox from a daemon thread on loopback: the part every platform's sandbox shares."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, TypeVar

from sms_conformance.sandbox.stats import Stats


class CountedServer(ThreadingHTTPServer):
    """A sandbox's HTTP server: it counts what it served in `stats`."""

    stats: Stats


class LoopbackHandler(BaseHTTPRequestHandler):
    """What every sandbox's request handler shares: keep-alive HTTP/1.1, no Nagle delay on
    loopback, and no log lines (requests are counted in the server's stats)."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


Server = TypeVar("Server", bound=CountedServer)
Self = TypeVar("Self", bound="Served")  # type: ignore[type-arg]


class Served(Generic[Server]):
    """start/stop and `with` for a sandbox whose `make_server` binds `host`:`port` (0: free)."""

    thread_name = "sms-sandbox"

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.server: Server | None = None
        self._thread: threading.Thread | None = None

    def make_server(self) -> Server:
        raise NotImplementedError

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("sandbox not started")
        return f"http://{self.host}:{self.server.server_port}"

    @property
    def stats(self) -> Stats:
        if self.server is None:
            raise RuntimeError("sandbox not started")
        return self.server.stats

    def start(self) -> str:
        """Bind, serve in a background thread, return the base URL."""
        if self.server is None:
            self.server = self.make_server()
            self._thread = threading.Thread(target=self.server.serve_forever,
                                            kwargs={"poll_interval": 0.1},
                                            name=self.thread_name, daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self: Self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
