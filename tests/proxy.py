"""A forwarding HTTP proxy on 127.0.0.1 for tests: another address of an upstream server, as a
reverse proxy or API gateway in front of an instance is (optionally under a path prefix).

    with Proxy(sandbox.url, prefix="/gateway/itsm") as proxy:
        scan(proxy.url, ...)   # http://127.0.0.1:PORT/gateway/itsm
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import urlsplit

# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own, never forwarded; the length is
# recomputed for the body as forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "content-length"})


class Proxy:
    """Forwards every request under `prefix` to `upstream` (the prefix taken off), headers and
    body as sent, Host set to the upstream's and a Via header added; answers the upstream's
    status, headers and body. A path outside the prefix is a 404 from the proxy itself.
    `forwarded` counts the requests it passed on."""

    def __init__(self, upstream: str, prefix: str = "") -> None:
        parts = urlsplit(upstream)
        assert parts.scheme == "http" and parts.hostname, upstream
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_path = parts.path.rstrip("/")
        self.prefix = prefix.rstrip("/")
        self.forwarded = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="test-proxy",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.prefix}"

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet in tests
                pass

            def _forward(self) -> None:
                path = self.path
                if proxy.prefix:
                    if not (path == proxy.prefix or path.startswith(proxy.prefix + "/")
                            or path.startswith(proxy.prefix + "?")):
                        self._answer(404, [("Content-Type", "text/plain")], b"no route\n")
                        return
                    path = path[len(proxy.prefix):] or "/"
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
                headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
                headers["Via"] = "1.1 test-proxy"
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port,
                                                      timeout=60)
                try:
                    upstream.request(self.command, proxy.upstream_path + path, body=body,
                                     headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    kept = [(k, v) for k, v in answer.getheaders()
                            if k.lower() not in HOP_BY_HOP]
                finally:
                    upstream.close()
                with proxy._lock:
                    proxy.forwarded += 1
                self._answer(answer.status, kept, data)

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response_only(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        return Handler
