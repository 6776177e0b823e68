"""Loopback HTTP fakes for the ServiceNow connector tests: a scripted stub and a tiny Table API."""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

PASSWORD = "s3cret-Pa55"


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Resp:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None  # "reset": drop the connection; "truncate": cut the body

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        self.headers.setdefault("Content-Type", "application/json;charset=UTF-8")
        return orjson.dumps(self.body)


def envelope(status: int, message: str, detail: str | None = None) -> Resp:
    return Resp(status, {"error": {"message": message, "detail": detail}, "status": "failure"})


Handler = Callable[[Req], Resp]


class _StubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client leaving mid-answer (a timeout, a retry test) is the fault under test, not
        # an error to print over the test run's output.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class StubServer:
    """Answers every request with `handler(req)` and records the requests."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Req] = []
        self._lock = threading.Lock()
        stub = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes: without this, Nagle + delayed ACK
                # add 40 ms to every request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Req(
                    self.command, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                    dict(self.headers.items()), self.rfile.read(length),
                )
                with stub._lock:
                    stub.requests.append(req)
                resp = stub.handler(req)
                if resp.action == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                data = resp.payload()
                self.send_response_only(resp.status)
                if "Date" not in resp.headers:
                    self.send_header("Date", self.date_time_string())
                for key, value in resp.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if resp.action == "truncate":
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        self.server = _StubHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def scripted(*responses: Resp) -> Handler:
    """Answer with `responses` in order, then repeat the last one."""
    queue = list(responses)

    def handler(req: Req) -> Resp:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


# -- a tiny Table API: enough encoded query for what the connector sends ------------------------

_COND = re.compile(r"([a-z0-9_.]+)(ISEMPTY|ISNOTEMPTY|IN|>=|<=|!=|=|>|<)(.*)", re.S)


def _match(row: dict[str, Any], cond: str) -> bool:
    m = _COND.fullmatch(cond)
    if m is None:
        return True  # like ServiceNow: invalid parts are dropped
    name, op, value = m.groups()
    raw = row.get(name, "")
    actual = raw.get("value", "") if isinstance(raw, dict) else str(raw)
    return {
        "ISEMPTY": lambda: actual == "",
        "ISNOTEMPTY": lambda: actual != "",
        "IN": lambda: actual in value.split(","),
        "=": lambda: actual == value,
        "!=": lambda: actual != value,
        ">": lambda: actual > value,
        ">=": lambda: actual >= value,
        "<": lambda: actual < value,
        "<=": lambda: actual <= value,
    }[op]()


def evaluate(query: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parts = query.split("^")
    order = [p[7:] for p in parts if p.startswith("ORDERBY")]
    query = "^".join(p for p in parts if not p.startswith("ORDERBY"))
    groups: list[list[list[str]]] = []
    for group in query.split("^NQ") if query else [""]:
        conds: list[list[str]] = []
        for token in group.split("^") if group else []:
            if token.startswith("OR") and conds:
                conds[-1].append(token[2:])
            else:
                conds.append([token])
        groups.append(conds)
    hits = [
        row for row in rows
        if any(all(any(_match(row, c) for c in alts) for alts in conds) for conds in groups)
    ]
    for name in reversed(order):
        hits.sort(key=lambda r, n=name: str(r.get(n, "")))
    return hits


class FakeInstance:
    """Table API semantics the connector relies on: limit before ACLs, keyset, 201 on POST."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.hidden: set[str] = set()
        self.before: Callable[[Req], Resp | None] | None = None
        self.total_counts_hidden = True  # X-Total-Count counts ACL-hidden rows too
        self._seq = 0

    def add(self, table: str, **fields: Any) -> dict[str, Any]:
        self._seq += 1
        row = {"sys_id": fields.pop("sys_id", f"{self._seq:032x}"), **fields}
        row.setdefault("number", f"{table[:3].upper()}{self._seq:07d}")
        self.tables.setdefault(table, {})[row["sys_id"]] = row
        return row

    def __call__(self, req: Req) -> Resp:
        if self.before is not None and (early := self.before(req)) is not None:
            return early
        m = re.fullmatch(r"/api/now/table/([a-z0-9_]+)(?:/([A-Za-z0-9_-]+))?", req.path)
        if m is None:
            return envelope(400, "Requested URI does not represent any resource")
        table, sys_id = m.groups()
        rows = self.tables.setdefault(table, {})
        if req.method == "GET" and sys_id is None:
            return self._list(req, list(rows.values()))
        if req.method == "POST" and sys_id is None:
            row = self.add(table, **req.json())
            return Resp(201, {"result": row}, {"Location": f"/api/now/table/{table}/{row['sys_id']}"})
        row = rows.get(sys_id or "")
        if row is None or row["sys_id"] in self.hidden:
            return envelope(404, "No Record found", "Record doesn't exist or ACL restricts the "
                            "record retrieval")
        if req.method == "GET":
            return Resp(200, {"result": row})
        if req.method in ("PATCH", "PUT"):
            row.update(req.json())
            return Resp(200, {"result": row})
        return Resp(405, b"")

    def _list(self, req: Req, rows: list[dict[str, Any]]) -> Resp:
        hits = evaluate(req.query.get("sysparm_query", ""), rows)
        offset = int(req.query.get("sysparm_offset", "0"))
        limit = int(req.query.get("sysparm_limit", "10000"))
        window = hits[offset: offset + limit]
        visible = [r for r in window if r["sys_id"] not in self.hidden]
        fields = req.query.get("sysparm_fields")
        if fields:
            names = fields.split(",")
            visible = [{k: r[k] for k in names if k in r} for r in visible]
        headers = {"Date": "Tue, 16 Apr 2024 17:16:31 GMT"}
        if req.query.get("sysparm_no_count") != "true":
            counted = hits if self.total_counts_hidden else [
                r for r in hits if r["sys_id"] not in self.hidden
            ]
            headers["X-Total-Count"] = str(len(counted))
        return Resp(200, {"result": visible}, headers)


@contextmanager
def serve(handler: Handler) -> Iterator[StubServer]:
    with StubServer(handler) as server:
        yield server
