"""The sandbox HTTP server: a ServiceNow-compatible Table API on 127.0.0.1.

Endpoints: ``/api/now/[v1/|v2/]table/{table}[/{sys_id}]`` (GET, POST, PUT, PATCH, DELETE),
``POST /oauth_token.do`` (password, client_credentials and refresh_token grants) and the
non-ServiceNow helpers ``GET /sandbox/stats`` (``DELETE`` resets), ``GET /sandbox/planted``,
``GET /sandbox/journal/{table}/{sys_id}`` (all need auth), and the Attachment API's
``POST /api/now/attachment/file``, ``GET /api/now/attachment`` and
``GET /api/now/attachment/{sys_id}/file`` (faulted as table ``sys_attachment``). Shapes,
headers and error envelopes follow the real captures in shared/reference/servicenow/samples
(the Attachment API's follow its documentation: no capture of it there).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from sms_conformance.sandbox.faults import (
    HIBERNATING_PAGE,
    RATE_LIMIT_BODY,
    SERVER_ERRORS,
    FaultSpec,
    echo_401,
)
from sms_conformance.sandbox.served import CountedServer, LoopbackHandler
from sms_conformance.sandbox.servicenow.attachments import Attachments
from sms_conformance.sandbox.servicenow.store import DEFAULT_LIMIT, Store
from sms_conformance.sandbox.stats import Stats

JSON_TYPE = "application/json;charset=UTF-8"
TABLE_PATH = re.compile(r"^/api/now/(?:(v1|v2)/)?table/([^/]+)(?:/([^/]+))?/?$")
ATTACHMENT_PATH = re.compile(r"^/api/now/(?:v1/)?attachment(?:/(file|[0-9a-f]{32}/file))?/?$")
ATTACHMENT_TABLE = "sys_attachment"
BASE_HEADERS = (
    ("Server-Timing", "sem_wait;dur=0, sesh_wait;dur=0"),
    ("X-Content-Type-Options", "nosniff"),
    ("Pragma", "no-store,no-cache"),
    ("Cache-Control", "no-cache,no-store,must-revalidate,max-age=-1"),
    ("Expires", "0"),
)
UNAUTHENTICATED = {"error": {"message": "User Not Authenticated",
                             "detail": "Required to provide Auth information"},
                   "status": "failure"}
NOT_FOUND = {"error": {"message": "No Record found",
                       "detail": "Record doesn't exist or ACL restricts the record retrieval"},
             "status": "failure"}


def error_body(message: str, detail: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "detail": detail}, "status": "failure"}


@dataclass
class AuthConfig:
    user: str
    password: str
    client_id: str
    client_secret: str
    token_ttl: int = 1799
    refresh_ttl: int = 8_640_000


class SandboxServer(CountedServer):
    """ThreadingHTTPServer holding the store, auth, faults and stats."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], store: Store, auth: AuthConfig,
                 faults: FaultSpec | None = None, planted: dict[str, list[str]] | None = None
                 ) -> None:
        super().__init__(address, Handler)
        self.store = store
        self.auth = auth
        self.faults = faults or FaultSpec()
        self.planted = planted if planted is not None else store.dataset.planted
        self.stats = Stats()
        self.attachments = Attachments()
        self._tokens: dict[str, float] = {}
        self._refresh: dict[str, float] = {}
        self._token_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request (killed, timed out) is normal here, not an error.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)

    # -- tokens ---------------------------------------------------------------------------
    def issue_token(self, with_refresh: bool, ttl: int | None = None) -> dict[str, Any]:
        ttl = self.auth.token_ttl if ttl is None else ttl
        access = secrets.token_urlsafe(64)
        out: dict[str, Any] = {"scope": "useraccount", "token_type": "Bearer", "expires_in": ttl}
        with self._token_lock:
            self._tokens[access] = time.time() + ttl
            if with_refresh:
                refresh = secrets.token_urlsafe(64)
                self._refresh[refresh] = time.time() + self.auth.refresh_ttl
                out["refresh_token"] = refresh
        out["access_token"] = access
        return out

    def token_valid(self, token: str) -> bool:
        with self._token_lock:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > time.time()

    def refresh_valid(self, token: str) -> bool:
        with self._token_lock:
            expiry = self._refresh.get(token)
        return expiry is not None and expiry > time.time()

    def expire_tokens(self) -> None:
        """Make every issued access token expire now (tests)."""
        with self._token_lock:
            for token in self._tokens:
                self._tokens[token] = 0.0


class Handler(LoopbackHandler):
    server: SandboxServer

    def version_string(self) -> str:
        return "ServiceNow"

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- plumbing -------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        self._started = time.perf_counter()
        self._table = ""
        self._fault: str | None = None
        self._rows = 0
        self._logged_in = False
        body = self._read_body()
        if body is None:  # the client went away mid-body: a dropped connection, not a request
            self.close_connection = True
            return
        override = self.headers.get("X-HTTP-Method-Override")
        if override and method == "POST":
            method = override.upper()
        self._method = method
        url = urlsplit(self.path)
        self._url = url
        try:
            if url.path == "/oauth_token.do":
                self._oauth(method, body)
                return
            if not self._authenticated():
                if self.server.faults.echo_401 is not None:
                    headers, page, kind = echo_401(self.headers.get("Authorization", ""),
                                                   *self.server.faults.echo_401)
                    self._send(401, page, headers, kind)
                    return
                self._send_json(401, UNAUTHENTICATED,
                                [("WWW-Authenticate", 'Basic realm="Service-now"')])
                return
            self._logged_in = True
            if url.path.startswith("/sandbox/"):
                self._sandbox(method, url.path)
                return
            attachment = ATTACHMENT_PATH.match(url.path)
            if attachment is not None:
                self._table = ATTACHMENT_TABLE
                fault = self.server.faults.pick(ATTACHMENT_TABLE)
                if fault is not None:
                    self._fault = fault
                    if self._inject(fault):
                        return
                self._attachment_api(method, attachment.group(1), body)
                return
            match = TABLE_PATH.match(url.path)
            if match is None:
                self._send_json(400, error_body(
                    "Requested URI does not represent any resource", None))
                return
            version, table, sys_id = match.groups()
            self._table = table
            faults = self.server.faults
            if faults.latency:
                time.sleep(faults.latency)
            fault = "429" if faults.throttled(method == "POST" and not sys_id) else faults.pick(table)
            if fault is not None:
                self._fault = fault
                if self._inject(fault):
                    return
            self._table_api(method, version, table, sys_id, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - answer like the instance, keep serving
            self._send_json(500, error_body("Internal Server Error", str(exc)))

    def _read_body(self) -> bytes | None:
        """The request body, or None when fewer bytes arrive than Content-Length announced."""
        length = self.headers.get("Content-Length")
        if not (length and length.isdigit() and int(length) > 0):
            return b""
        try:
            body = self.rfile.read(int(length))
        except (ConnectionError, TimeoutError):
            return None
        return body if len(body) == int(length) else None

    def _authenticated(self) -> bool:
        header = self.headers.get("Authorization", "")
        auth = self.server.auth
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return hmac.compare_digest(user, auth.user) and hmac.compare_digest(
                password, auth.password)
        if header.startswith("Bearer "):
            return self.server.token_valid(header[7:].strip())
        return False

    def _base_url(self) -> str:
        host = self.headers.get("Host")
        if not host:
            addr = self.server.server_address[0]
            name = addr.decode() if isinstance(addr, bytes) else addr
            host = f"{name}:{self.server.server_port}"
        return f"http://{host}"

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
              content_type: str | None = JSON_TYPE) -> None:
        truncated = self._fault == "truncate" and status == 200 and body
        if truncated:
            body = body[: len(body) // 2]
            self.close_connection = True
        self.send_response(status)
        for name, value in BASE_HEADERS:
            self.send_header(name, value)
        if self._logged_in:
            self.send_header("X-Is-Logged-In", "true")
        self.send_header("X-Transaction-ID", secrets.token_hex(6))
        for name, value in headers or ():
            self.send_header(name, value)
        if content_type and status != 204:
            self.send_header("Content-Type", content_type)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        if truncated:
            self.send_header("Connection", "close")
        self._record(status, len(body))  # before the client can see the answer
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any,
                   headers: list[tuple[str, str]] | None = None) -> None:
        self._send(status, orjson.dumps(payload), headers)

    def _record(self, status: int, nbytes: int) -> None:
        self.server.stats.record(self._method, self._table or self._url.path, status, nbytes,
                                 self._rows, time.perf_counter() - self._started,
                                 self._url.path, self._fault)

    # -- faults ---------------------------------------------------------------------------
    def _inject(self, fault: str) -> bool:
        """Answer with the fault; False when the fault applies to the normal answer."""
        if fault == "429":
            retry = self.server.faults.retry_after
            self._send_json(429, RATE_LIMIT_BODY, [
                ("Retry-After", str(retry)), ("X-RateLimit-Limit", "100"),
                ("X-RateLimit-Reset", str(int(time.time()) + retry))])
        elif fault in SERVER_ERRORS:
            message, detail = SERVER_ERRORS[fault]
            self._send_json(int(fault), error_body(message, detail))
        elif fault == "html":
            self._send(200, HIBERNATING_PAGE.encode(), content_type="text/html;charset=UTF-8")
        elif fault == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._record(0, 0)
        elif fault == "truncate":
            return False
        return True

    # -- OAuth ----------------------------------------------------------------------------
    def _oauth(self, method: str, body: bytes) -> None:
        self._table = "oauth_token.do"
        if method != "POST":
            self._send_json(405, error_body("Method not Supported", None))
            return
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        auth = self.server.auth
        denied = {"error_description": "access_denied", "error": "server_error"}
        client_ok = hmac.compare_digest(form.get("client_id", ""), auth.client_id) and \
            hmac.compare_digest(form.get("client_secret", ""), auth.client_secret)
        grant = form.get("grant_type", "")
        if grant not in ("password", "client_credentials", "refresh_token"):
            self._send_json(400, {"error_description": f"Unsupported grant type {grant!r}",
                                  "error": "unsupported_grant_type"})
            return
        if not client_ok:
            self._send_json(401, denied)
            return
        if grant == "password":
            if not (hmac.compare_digest(form.get("username", ""), auth.user)
                    and hmac.compare_digest(form.get("password", ""), auth.password)):
                self._send_json(401, denied)
                return
            self._send_json(200, self.server.issue_token(with_refresh=True))
        elif grant == "client_credentials":
            self._send_json(200, self.server.issue_token(with_refresh=False))
        else:
            if not self.server.refresh_valid(form.get("refresh_token", "")):
                self._send_json(401, denied)
                return
            self._send_json(200, self.server.issue_token(with_refresh=True))

    # -- sandbox helpers ------------------------------------------------------------------
    def _sandbox(self, method: str, path: str) -> None:
        self._table = "sandbox"
        parts = [p for p in path.split("/") if p]
        if parts == ["sandbox", "stats"] and method == "GET":
            self._send_json(200, self.server.stats.snapshot())
        elif parts == ["sandbox", "stats"] and method == "DELETE":
            self.server.stats.reset()
            self._send(204, b"")
        elif parts == ["sandbox", "planted"] and method == "GET":
            self._send_json(200, {"result": self.server.planted})
        elif len(parts) == 4 and parts[1] == "journal" and method == "GET":
            if self.server.store.table(parts[2]) is None:
                self._send_json(400, error_body(f"Invalid table {parts[2]}",
                                                f"Table {parts[2]} does not exist"))
                return
            self._send_json(200, {"result": self.server.store.journal(parts[2], parts[3])})
        else:
            self._send_json(400, error_body("Requested URI does not represent any resource",
                                            None))

    # -- Attachment API -------------------------------------------------------------------
    def _attachment_api(self, method: str, rest: str | None, body: bytes) -> None:
        params = dict(parse_qsl(self._url.query, keep_blank_values=True))
        store, attachments = self.server.store, self.server.attachments
        base = self._base_url()
        if method == "POST" and rest == "file":
            table, record = params.get("table_name", ""), params.get("table_sys_id", "")
            name = params.get("file_name", "")
            if not (table and record and name):
                self._send_json(400, error_body(
                    "Missing parameters", "table_name, table_sys_id and file_name are required"))
            elif store.table(table) is None or store.get(table, record) is None:
                self._send_json(404, NOT_FOUND)
            else:
                item = attachments.add(table, record, name,
                                       self.headers.get("Content-Type", "application/octet-stream"),
                                       body)
                self._send_json(201, {"result": item.meta(base)},
                                [("Location", f"{base}/api/now/attachment/{item.sys_id}")])
        elif method == "GET" and rest is None:
            found = attachments.query(params.get("sysparm_query", ""))
            self._rows = len(found)
            self._send_json(200, {"result": [a.meta(base) for a in found]})
        elif method == "GET" and rest is not None and rest != "file":
            stored = attachments.get(rest.split("/")[0])
            if stored is None:
                self._send_json(404, NOT_FOUND)
            else:
                self._send(200, stored.content, content_type=stored.content_type)
        else:
            self._send_json(405, error_body("Method not Supported",
                                            f"{method} method not supported for API"))

    # -- Table API ------------------------------------------------------------------------
    def _table_api(self, method: str, version: str | None, table: str, sys_id: str | None,
                   body: bytes) -> None:
        store = self.server.store
        if store.table(table) is None:
            if method == "POST":  # as captured from a real instance (connector log, 2022)
                self._send_json(404, NOT_FOUND)
            else:
                self._send_json(400, error_body(f"Invalid table {table}",
                                                f"Table {table} does not exist"))
            return
        if table in store.forbidden:  # a user without the table's role
            self._send_json(403, error_body("User Not Authorized",
                                            f"Not authorized to read {table}"))
            return
        params = parse_qsl(self._url.query, keep_blank_values=True)
        opts = {k: v for k, v in params if k.startswith("sysparm_")}
        display = opts.get("sysparm_display_value", "false").lower()
        if display not in ("true", "false", "all"):
            display = "false"
        fields = None
        if opts.get("sysparm_fields"):
            fields = [f.strip() for f in opts["sysparm_fields"].split(",") if f.strip()]
        exclude = opts.get("sysparm_exclude_reference_link", "false").lower() == "true"
        base = self._base_url()

        def one(row: list[Any]) -> dict[str, Any]:
            return store.render(table, [row], base, display, fields, exclude)[0]

        if method == "GET" and sys_id is None:
            self._list(table, version, params, opts, display, fields, exclude, base)
        elif method == "GET":
            row = store.get(table, sys_id or "")
            if row is None:
                self._send_json(404, NOT_FOUND)
                return
            self._rows = 1
            self._send_json(200, {"result": one(row)})
        elif method == "POST" and sys_id is None:
            values = self._json_object(body)
            if values is None:
                return
            try:
                row = store.insert(table, values)
            except ValueError as exc:
                self._send_json(403, error_body("Operation Failed", str(exc)))
                return
            location = [("Location", f"{base}/api/now/table/{table}/{row[0]}")]
            if self.headers.get("X-no-response-body", "").lower() == "true":
                self._send(201, b"", location)
            else:
                self._send_json(201, {"result": one(row)}, location)
        elif method in ("PUT", "PATCH") and sys_id is not None:
            values = self._json_object(body)
            if values is None:
                return
            updated = store.update(table, sys_id, values)
            if updated is None:
                self._send_json(404, NOT_FOUND)
            elif self.headers.get("X-no-response-body", "").lower() == "true":
                self._send(200, b"")
            else:
                self._send_json(200, {"result": one(updated)})
        elif method == "DELETE" and sys_id is not None:
            if store.delete(table, sys_id):
                self._send(204, b"")
            else:
                self._send_json(404, NOT_FOUND)
        else:
            self._send_json(405, error_body("Method not Supported",
                                            f"{method} method not supported for API"))

    def _json_object(self, body: bytes) -> dict[str, Any] | None:
        try:
            value = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            self._send_json(400, error_body("Exception while reading request",
                                            "The payload is not valid JSON."))
            return None
        return value

    def _list(self, table: str, version: str | None, params: list[tuple[str, str]],
              opts: dict[str, str], display: str, fields: list[str] | None, exclude: bool,
              base: str) -> None:
        store = self.server.store
        limit = _int(opts.get("sysparm_limit"), DEFAULT_LIMIT)
        offset = max(0, _int(opts.get("sysparm_offset"), 0))
        filters = [(k, v) for k, v in params if not k.startswith("sysparm_")]
        page = store.select(table, opts.get("sysparm_query"), limit, offset, filters)
        if version == "v1" and page.total == 0:
            self._send_json(404, NOT_FOUND)
            return
        self._rows = len(page.rows)
        body = orjson.dumps({"result": store.render(table, page.rows, base, display, fields,
                                                    exclude)})
        headers: list[tuple[str, str]] = []
        no_count = opts.get("sysparm_no_count", "false").lower() == "true"
        if not no_count:
            headers.append(("X-Total-Count", str(page.total)))
        if opts.get("sysparm_suppress_pagination_header", "false").lower() != "true":
            total = None if no_count else page.total
            link = link_header(base, self._url.path, self._url.query, limit, offset, total,
                               page.fetched)
            if link:
                headers.append(("Link", link))
        self._send(200, body, headers)


def _int(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        return default


def link_header(base: str, path: str, raw_query: str, limit: int, offset: int,
                total: int | None, fetched: int) -> str:
    """The Link header as the real instance writes it (README §5), or "" for one page.

    ``first`` always, ``prev`` = offset - limit when offset >= limit - 1 (so limit 1 at offset 0
    yields prev -1, as captured), ``next`` while offset + limit < total, ``last`` =
    floor((total - 1) / limit) * limit. Without a count (sysparm_no_count) ``next`` follows a
    full page and ``last`` is left out.
    """
    if limit <= 0:
        return ""
    if total is not None and total <= limit:
        return ""
    if total is None and fetched < limit and offset == 0:
        return ""
    parts = [p for p in raw_query.split("&") if p]
    at = next((i for i, p in enumerate(parts) if p.startswith("sysparm_offset=")), None)

    def url(off: int) -> str:
        items = list(parts)
        if at is None:
            items.append(f"sysparm_offset={off}")
        else:
            items[at] = f"sysparm_offset={off}"
        return f"<{base}{path}?{'&'.join(items)}>"

    links = [url(0) + ';rel="first"']
    if offset >= limit - 1:
        links.append(url(offset - limit) + ';rel="prev"')
    has_next = offset + limit < total if total is not None else fetched >= limit
    if has_next:
        links.append(url(offset + limit) + ';rel="next"')
    if total is not None:
        links.append(url(((total - 1) // limit) * limit) + ';rel="last"')
    return ",".join(links)
