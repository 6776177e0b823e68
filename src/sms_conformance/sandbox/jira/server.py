"""The Jira sandbox HTTP server: the Cloud REST API v3 (and v2 / Data Center shapes) endpoints of
the reference's sandbox checklist (reference README §8), on 127.0.0.1.

Auth: basic `admin@example.com` + the API token (the sandbox password), or `Bearer <token>` as
a Data Center personal access token. Also GET /rest/servicedeskapi/request/{key}/sla.
Helpers (auth needed): GET /sandbox/stats, GET /sandbox/planted (issue key -> planted rules).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import re
import socket
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from sms_conformance.sandbox.faults import FaultSpec, echo_401
from sms_conformance.sandbox.jira import writes
from sms_conformance.sandbox.jira.assets import AQL_PATH, WORKSPACE_PATH
from sms_conformance.sandbox.jira.hostile import Hostile
from sms_conformance.sandbox.jira.jql import JqlError
from sms_conformance.sandbox.jira.render import Renderer, field_list, select_fields
from sms_conformance.sandbox.jira.search import Search
from sms_conformance.sandbox.jira.site import (
    ADMIN_ACCOUNT_ID,
    ADMIN_EMAIL,
    ISSUE_TYPES,
    LINK_TYPES,
    PROJECT_KEY,
    STATUSES,
)
from sms_conformance.sandbox.jira.sla import sla_page
from sms_conformance.sandbox.jira.store import ApiError, Issue, JiraStore, error
from sms_conformance.sandbox.served import CountedServer, LoopbackHandler
from sms_conformance.sandbox.stats import Stats

JSON_TYPE = "application/json;charset=UTF-8"
API = re.compile(r"^/rest/api/(2|3)/(.+?)/?$")
SLA_PATH = re.compile(r"^/rest/servicedeskapi/request/([^/]+)/sla/?$")
UNAUTHENTICATED = {"message": "Client must be authenticated to access this resource.",
                   "status-code": 401}
GONE = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
        "A full migration guideline is available at "
        "https://developer.atlassian.com/changelog/#CHANGE-2046")
RATE_LIMIT_HTML = ("<!doctype html><html lang=\"en\"><head><title>HTTP Status 429 – Too Many "
                   "Requests</title></head><body><h1>HTTP Status 429 – Too Many Requests</h1>"
                   "</body></html>")
LOGIN_HTML = ("<!DOCTYPE html><html><head><title>Log in with Atlassian account</title></head>"
              "<body><div id=\"root\"></div></body></html>")
MAX_RESULTS_DEFAULT = 50
# The enhanced search refuses maxResults outside 1 to 5000 (400, jenkinsci/jira-plugin#646);
# the legacy search takes 0 (a count) and caps the rest at LEGACY_MAX, echoing it.
ENHANCED_MAX = 5000
LEGACY_MAX = 1000  # DC's jira.search.views.default.max
BULK_MAX = 100


@dataclass
class JiraAuth:
    email: str
    token: str


class JiraServer(CountedServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], store: JiraStore, auth: JiraAuth,
                 faults: FaultSpec | None = None, hostile: Hostile | None = None) -> None:
        super().__init__(address, JiraHandler)
        self.store = store
        self.search = Search(store)
        self.auth = auth
        self.faults = faults or FaultSpec()
        self.hostile = hostile or Hostile()
        self.stats = Stats()
        self.rate_limited = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # clients that go away mid-request are normal here


def page_cap(fields: list[str] | None) -> int:
    """Issues per page at most: the API returns fewer when more fields are asked for; the exact
    rule is not published, this is the sandbox's (reference §1.1): 5000 for id/key only, 1000
    for up to 20 named fields, 100 for more or for *all / *navigable. The 1000 is the sandbox's
    own choice: Cloud's legacy search was seen answering 100 a page for four named fields
    (shridhar-tl/jira-assistant#15), so a site may cap lower; paging never relies on it."""
    if fields is not None and any(f.startswith("*") for f in fields):
        return 100
    if fields is None or set(fields) <= {"id", "key"}:
        return ENHANCED_MAX
    return 1000 if len(fields) <= 20 else 100


class JiraHandler(LoopbackHandler):
    server: JiraServer

    def version_string(self) -> str:
        return "AtlassianEdge"

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -- plumbing -------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        self._started = time.perf_counter()
        self._method, self._resource, self._rows = method, "", 0
        self._fault: str | None = None
        url = urlsplit(self.path)
        self._path = url.path
        self._query = parse_qs(url.query, keep_blank_values=True)
        body = self._read_body()
        try:
            if url.path == "/_edge/tenant_info" and method == "GET":  # public, as on a site
                self._resource = "tenant_info"
                self._send_json(200, {"cloudId": self.server.store.cloud_id})
                return
            if not self._authenticated():
                if self.server.faults.echo_401 is not None:
                    headers, page, kind = echo_401(self.headers.get("Authorization", ""),
                                                   *self.server.faults.echo_401)
                    self._send(401, page, headers, kind)
                    return
                self._send_json(401, UNAUTHENTICATED, [
                    ("WWW-Authenticate", 'OAuth realm="https%3A%2F%2Fsandbox.atlassian.net"')])
                return
            if url.path.startswith("/sandbox/"):
                self._sandbox(url.path)
                return
            if url.path == WORKSPACE_PATH or AQL_PATH.match(url.path):
                self._assets(method, url.path, body)
                return
            sla = SLA_PATH.match(url.path)
            if sla is not None and method == "GET":
                self._resource = "servicedeskapi"
                issue = self.server.store.get(sla.group(1))
                self._send_json(200, sla_page(issue, self._base(),
                                              _count(self._param("start", "0"), "start"),
                                              _count(self._param("limit", "50"), "limit")))
                return
            match = API.match(url.path)
            if match is None:
                self._send(404, b"", content_type=None)
                return
            version, rest = int(match.group(1)), match.group(2)
            self._resource = rest.split("/", 1)[0]
            faults = self.server.faults
            if faults.latency:
                time.sleep(faults.latency)
            creates = method == "POST" and rest.rstrip("/") == "issue"
            fault = "429" if faults.throttled(creates) else faults.pick(self._resource)
            if fault is not None and self._inject(fault):
                return
            self._route(method, version, rest, body)
        except ApiError as exc:
            self._send_json(exc.status, exc.body)
        except JqlError as exc:
            self._send_json(400, {"errorMessages": [str(exc)], "errors": {}})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - answer like the site, keep serving
            self._send_json(500, {"errorMessages": [f"Internal server error: {exc}"],
                                  "errors": {}})

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if not (length and length.isdigit()):
            return b""
        return self.rfile.read(int(length))

    def _authenticated(self) -> bool:
        header = self.headers.get("Authorization", "")
        auth = self.server.auth
        if header.startswith("Basic "):
            try:
                user, _, token = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return False
            return hmac.compare_digest(user, auth.email) and hmac.compare_digest(token,
                                                                                 auth.token)
        if header.startswith("Bearer "):
            return hmac.compare_digest(header[7:].strip(), auth.token)
        return False

    def _base(self) -> str:
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"
        return f"http://{host}"

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
              content_type: str | None = JSON_TYPE) -> None:
        if self._fault == "truncate" and status == 200 and body:
            body = body[: len(body) // 2]
            self.close_connection = True
        self.send_response(status)
        self.send_header("X-Arequestid", f"{time.time_ns():x}")
        for name, value in headers or ():
            self.send_header(name, value)
        if content_type and status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.server.stats.record(self._method, self._resource or self._path, status, len(body),
                                 self._rows, time.perf_counter() - self._started, self._path,
                                 self._fault)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, status: int, payload: Any,
                   headers: list[tuple[str, str]] | None = None) -> None:
        if status >= 400:
            payload = self.server.hostile.error(payload)
        self._send(status, orjson.dumps(payload), headers)

    def _json(self, body: bytes) -> Any:
        try:
            return orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise error(400, "Unexpected character: was expecting a JSON value.") from None

    def _param(self, name: str, default: str | None = None) -> str | None:
        values = self._query.get(name)
        return values[0] if values else default

    # -- faults ---------------------------------------------------------------------------
    def _inject(self, fault: str) -> bool:
        self._fault = fault
        retry = str(self.server.faults.retry_after)
        if fault == "429":
            self.server.rate_limited += 1
            reset = (datetime.now(timezone.utc) + timedelta(seconds=int(retry)))
            headers = [("Retry-After", retry), ("X-RateLimit-Limit", "100"),
                       ("X-RateLimit-Remaining", "0"),
                       ("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%MZ")),
                       ("RateLimit-Reason", "jira-burst-based")]
            if self.server.rate_limited % 2 == 0:  # real 429 bodies are sometimes HTML
                self._send(429, RATE_LIMIT_HTML.encode(), headers, "text/html;charset=UTF-8")
            else:
                self._send_json(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                                headers)
        elif fault in ("500", "502", "503", "504"):
            headers = [("Retry-After", retry)] if fault == "503" else []
            self._send_json(int(fault), {"errorMessages": ["Internal server error"],
                                         "errors": {}}, headers)
        elif fault == "html":
            self._send(200, LOGIN_HTML.encode(), content_type="text/html;charset=UTF-8")
        elif fault == "reset":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        elif fault == "errors":  # a broken site or proxy: an error, but a 200
            body: dict[str, Any] = {"errorMessages": ["Something went wrong. Please try again."],
                                    "errors": {}}
            self._send_json(200, {**body, "issues": []} if self._resource == "search" else body)
        elif fault == "bad400":
            self._send_json(400, {"errorMessages": ["Request rejected."], "errors": {}})
        else:
            return False  # truncate and the search faults: applied to the normal answer
        return True

    # -- helpers --------------------------------------------------------------------------
    def _assets(self, method: str, path: str, body: bytes) -> None:
        """The Assets resources (sandbox.jira.assets); faults as for any resource "assets"."""
        self._resource = "assets"
        fault = self.server.faults.pick("assets")
        if fault is not None and self._inject(fault):
            return
        assets = self.server.store.assets
        match = AQL_PATH.match(path)
        if match is None and method == "GET":
            self._send_json(*assets.workspaces())
        elif match is not None and method == "POST":
            self._send_json(*assets.aql(match.group(1), self._json(body),
                                        _count(self._param("startAt", "0"), "startAt"),
                                        min(_count(self._param("maxResults", "50"),
                                                   "maxResults"), 50)))
        else:
            self._not_allowed()

    def _sandbox(self, path: str) -> None:
        self._resource = "sandbox"
        if path == "/sandbox/stats":
            self._send_json(200, self.server.stats.snapshot())
        elif path == "/sandbox/planted":
            self._send_json(200, planted_keys(self.server.store))
        else:
            self._send(404, b"", content_type=None)

    # -- routes ---------------------------------------------------------------------------
    def _route(self, method: str, version: int, rest: str, body: bytes) -> None:
        store, render = self.server.store, Renderer(self.server.store, self._base(), version)
        parts = rest.split("/")
        if rest == "search/jql" and method in ("GET", "POST"):
            self._search_jql(render, method, body)
        elif rest == "search" and method in ("GET", "POST"):
            if version == 3:
                self._send_json(410, {"errorMessages": [GONE], "errors": {}})
            else:
                self._legacy_search(render, method, body)
        elif rest == "search/approximate-count" and method == "POST":
            request = self._json(body)
            found = self.server.search(str(request.get("jql") or ""), bounded=True)
            self._send_json(200, {"count": len(found)})
        elif rest == "issue/bulkfetch" and method == "POST":
            self._bulkfetch(render, body)
        elif rest == "issue" and method == "POST":
            issue = writes.create_issue(store, self._json(body), version)
            self._send_json(201, {"id": str(issue.id), "key": issue.key,
                                  "self": f"{render.api}/issue/{issue.id}"})
        elif parts[0] == "issue" and len(parts) == 2 and method == "GET":
            issue = store.get(parts[1])
            fields = self._param("fields")
            chosen = select_fields(fields.split(",") if fields else ["*all"])
            expand = frozenset((self._param("expand") or "").split(","))
            self._rows = 1
            self._send_json(200, render.issue(issue, chosen, expand))
        elif parts[0] == "issue" and len(parts) == 2 and method == "PUT":
            writes.edit_issue(store, parts[1], self._json(body), version)
            self._send(204, b"")
        elif parts[0] == "issue" and len(parts) == 3 and parts[2] == "transitions":
            if method == "GET":
                issue, available = writes.transitions(store, parts[1])
                self._send_json(200, {"expand": "transitions", "transitions": [
                    {"id": t.id, "name": t.name, "to": render.status(STATUSES[t.to]),
                     "hasScreen": False, "isGlobal": True, "isInitial": False,
                     "isAvailable": True, "isConditional": False, "isLooped": False}
                    for t in available]})
            elif method == "POST":
                refused = self.server.hostile.transition()
                if refused is not None:
                    writes.editable(store, parts[1])  # a 404 stays a 404
                    self._send_json(*refused)
                    return
                writes.transition(store, parts[1], self._json(body), version)
                self._send(204, b"")
            else:
                self._not_allowed()
        elif parts[0] == "issue" and len(parts) == 3 and parts[2] == "comment":
            if method != "POST":
                self._not_allowed()
                return
            issue, stored = writes.comment(store, parts[1], self._json(body), version)
            self._send_json(201, render.comment(issue, stored))
        elif rest == "issueLink" and method == "POST":
            writes.link(store, self._json(body))
            self._send(201, b"", content_type=None)
        elif rest == "field" and method == "GET":
            self._send_json(200, field_list(self.server.store.absent))
        elif rest == "issueLinkType" and method == "GET":
            self._send_json(200, {"issueLinkTypes": [render.link_type(n) for n in LINK_TYPES]})
        elif rest == "status" and method == "GET":  # every status of the site's workflows
            self._send_json(200, [render.status(st) for st in STATUSES.values()])
        elif rest == "myself" and method == "GET":
            me = render.user(ADMIN_ACCOUNT_ID) or {}
            self._send_json(200, {**me, "emailAddress": ADMIN_EMAIL, "locale": "en_US"})
        elif rest == "user" and method == "GET":
            self._user(render, store)
        elif rest == "group/bulk" and method == "GET":
            names = self._params("groupName")
            ids = self._params("groupId")
            groups = [{"name": name, "groupId": gid} for gid, name in store.view.groups.items()
                      if name in names or gid in ids]
            self._send_json(200, {"maxResults": 50, "startAt": 0, "total": len(groups),
                                  "isLast": True, "values": groups})
        elif parts[0] == "project" and len(parts) == 2 and method == "GET":
            if parts[1].upper() not in (PROJECT_KEY, "10000"):
                raise error(404, "No project could be found with key '" + parts[1] + "'.")
            self._send_json(200, {**render.project(), "issueTypes": [
                render.issue_type(t) for t in ISSUE_TYPES]})
        else:
            self._send_json(404, {"errorMessages": [f"null for uri: {self._base()}{self._path}"],
                                  "errors": {}})

    def _user(self, render: Renderer, store: JiraStore) -> None:
        """GET /user by accountId (Cloud) or username (Data Center); 404 for no such user."""
        wanted = self._param("accountId") or ""
        login = self._param("username") or ""
        person = next((p for p in store.view.users.values()
                       if p.id == wanted or (login and p.login == login)), None)
        if person is None:
            self._send_json(404, {"errorMessages": [
                "Specified user does not exist or you do not have required permissions"],
                "errors": {}})
        else:
            self._send_json(200, render.user(person.id))

    def _params(self, name: str) -> list[str]:
        return list(self._query.get(name, []))

    def _not_allowed(self) -> None:
        self._send_json(405, {"errorMessages": ["Method Not Allowed"], "errors": {}})

    def _search_jql(self, render: Renderer, method: str, body: bytes) -> None:
        if method == "POST":
            request = self._json(body)
            text = str(request.get("jql") or "")
            token = request.get("nextPageToken")
            max_results = request.get("maxResults", MAX_RESULTS_DEFAULT)
            raw_fields = request.get("fields")
            expand = str(request.get("expand") or "")
        else:
            text = self._param("jql", "") or ""
            token = self._param("nextPageToken")
            max_results = self._param("maxResults", str(MAX_RESULTS_DEFAULT))
            given = self._param("fields")
            raw_fields = given.split(",") if given else None
            expand = self._param("expand", "") or ""
        fields = select_fields(list(raw_fields) if isinstance(raw_fields, list) else None)
        if not 1 <= _count(max_results, "maxResults") <= ENHANCED_MAX:  # Cloud's own words
            raise error(400, "The max results parameter has to be between 1 and 5,000.")
        limit = min(_count(max_results, "maxResults"), page_cap(
            [str(f) for f in raw_fields] if isinstance(raw_fields, list) else None))
        found = self.server.search(text, bounded=True)
        fault = self._fault
        if fault == "stale-token" and token not in (None, ""):
            raise error(400, "The provided next page token is invalid or expired.")
        start = _token_offset(token, text)
        if fault == "flood":
            limit = 2 * _count(max_results, "maxResults") + 1
        page = [] if fault == "stall" else found[start:start + limit]
        self._rows = len(page)
        out: dict[str, Any] = {"issues": [render.issue(i, fields, frozenset(expand.split(",")))
                                          for i in page]}
        endless = fault in ("stall", "repeat") or (fault == "fresh" and bool(token))
        if endless and fault == "fresh":  # issues no one created, numbered past every key
            for n, issue in enumerate(out["issues"]):
                number = 9_000_000 + self.server.stats.total * 1000 + n
                issue.update(id=str(number), key=f"{PROJECT_KEY}-{number}")
        end = start if endless else start + len(page)
        if end < len(found) or endless:
            out["nextPageToken"] = _token(end, text, fresh=fault is not None)
        out["isLast"] = "nextPageToken" not in out
        self._send(200, self.server.hostile.search(text, out))

    def _legacy_search(self, render: Renderer, method: str, body: bytes) -> None:
        if method == "POST":
            request = self._json(body)
            text = str(request.get("jql") or "")
            start_at, max_results = request.get("startAt", 0), request.get("maxResults", 50)
            raw = request.get("fields")
            fields = select_fields(list(raw) if isinstance(raw, list) else ["*navigable"])
        else:
            text = self._param("jql", "") or ""
            start_at = self._param("startAt", "0")
            max_results = self._param("maxResults", "50")
            given = self._param("fields")
            fields = select_fields(given.split(",") if given else ["*navigable"])
        start = _count(start_at, "startAt")
        limit = min(_count(max_results, "maxResults"), LEGACY_MAX)
        found = self.server.search(text, bounded=False)
        page = found[start:start + limit]
        self._rows = len(page)
        fault = self._fault or ""
        total = int(fault[5:]) if fault.startswith("total") else len(found)
        self._send(200, self.server.hostile.search(text, {
            "expand": "schema,names", "startAt": start, "maxResults": limit,
            "total": total, "issues": [render.issue(i, fields) for i in page]}))

    def _bulkfetch(self, render: Renderer, body: bytes) -> None:
        request = self._json(body)
        wanted = request.get("issueIdsOrKeys")
        if not isinstance(wanted, list) or not wanted:
            raise error(400, "issueIdsOrKeys must not be empty.")
        if len(wanted) > BULK_MAX:
            raise error(400, f"You can request at most {BULK_MAX} issues at a time.")
        raw = request.get("fields")
        fields = select_fields(list(raw) if isinstance(raw, list) and raw else ["*navigable"])
        found: dict[int, Issue] = {}
        for item in wanted:
            issue = self.server.store.find(str(item))
            if issue is not None:
                found[issue.id] = issue
        issues = [render.issue(found[i], fields) for i in sorted(found)]
        self._rows = len(issues)
        self._send_json(200, {"issues": issues, "issueErrors": []})


def _count(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise error(400, f"The value '{value}' is invalid for {name}.") from None
    if number < 0:
        raise error(400, f"The value '{value}' is invalid for {name}.")
    return number


def _token(offset: int, jql_text: str, fresh: bool = False) -> str:
    """An opaque page token: the next offset, bound to the query it came from (`fresh`: never
    the same twice, as a hostile site's tokens for one page)."""
    digest = f"{zlib.crc32(jql_text.encode()):08x}"
    nonce = f":{time.time_ns():x}" if fresh else ""
    return base64.urlsafe_b64encode(f"{offset}:{digest}{nonce}".encode()).decode().rstrip("=")


def _token_offset(token: Any, jql_text: str) -> int:
    if token in (None, ""):
        return 0
    try:
        text = base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)).decode()
        offset, _, digest = text.partition(":")
        if digest.split(":")[0] == f"{zlib.crc32(jql_text.encode()):08x}" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise error(400, "The provided next page token is invalid or expired.")


def planted_keys(store: JiraStore) -> dict[str, list[str]]:
    """Issue key -> planted rule ids (the Jira face of Dataset.planted)."""
    key_of = {(i.record.process, i.record.id): i.key for i in store.issues.values()
              if i.record is not None}
    out: dict[str, list[str]] = {}
    for rule, keys in store.view.planted.items():
        for key in keys:
            out.setdefault(key_of[key], []).append(rule)
    return {k: sorted(v) for k, v in sorted(out.items())}
