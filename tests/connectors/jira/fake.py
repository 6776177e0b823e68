"""A small Jira site on loopback for the Jira connector's tests (the site model of
interfaces.md C): enough JQL, paging, bulk fetch, writes and error shapes for what the
connector sends. Not the jsm-sandbox (that is the product's sandbox); a test fake."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from tests.connectors.snow_fakes import Req, Resp

EMAIL, TOKEN, PAT = "admin@example.com", "jira-T0ken", "dc-pat-S3cret"
CUSTOM_NAMES = (
    "Impact", "Urgency", "Category", "Subcategory", "Assignment group", "Affected services",
    "Configuration item", "Resolution notes", "Root cause", "Workaround", "Fix notes",
    "Known error", "Reopen count", "Pending reason", "Major incident state", "Vendor reference",
    "Change type", "Change risk", "Approval", "Justification", "Implementation plan",
    "Backout plan", "Test plan", "Planned start", "Planned end", "Actual start", "Actual end",
    "Review date", "Closed date",
)
CF = {name: f"customfield_{10100 + i}" for i, name in enumerate(CUSTOM_NAMES)}
TYPES = {"10001": "[System] Incident", "10002": "[System] Problem", "10003": "[System] Change",
         "10004": "Task", "10005": "Sub-task", "10006": "[System] Post-incident review"}
LINK_TYPES = {"Problem/Incident": ("causes", "is caused by"), "Fixes": ("fixes", "is fixed by"),
              "Causes": ("causes", "is caused by"), "Relates": ("relates to", "relates to"),
              "Parent/Child": ("is parent of", "is child of")}
CATEGORY = {"new": ("2", "To Do"), "indeterminate": ("4", "In Progress"), "done": ("3", "Done")}
DONE_STATUSES = {"Completed", "Closed", "Canceled", "Done"}
SITE_STATUSES = ("Open", "Work in progress", "Pending", "Completed", "Closed", "Canceled",
                 "Under review", "Under investigation", "Fix in progress", "Planning",
                 "Peer review", "Awaiting CAB approval", "Awaiting implementation",
                 "Implementing", "Review", "To Do", "In Progress", "Done", "Awaiting triage")
OFFSETS = ("-0800", "+0100")


def stamp(moment: datetime, offset: str) -> str:
    sign = -1 if offset[0] == "-" else 1
    zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + offset


def status(name: str) -> dict[str, Any]:
    key = "done" if name in DONE_STATUSES else "new" if name in ("Open", "To Do", "Planning") \
        else "indeterminate"
    cat_id, cat_name = CATEGORY[key]
    return {"name": name, "id": str(abs(hash(name)) % 1000),
            "statusCategory": {"id": int(cat_id), "key": key, "name": cat_name}}


@dataclass
class FakeJira:
    """The site's state; `handle` answers one request."""

    deployment: str = "cloud"  # cloud | datacenter
    user_zone: str = "America/Los_Angeles"
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[tuple[str, Resp]] = field(default_factory=list)  # (path prefix, answer)
    max_page: int = 1000
    omit_is_last: bool = False
    bulkfetch: bool = True
    searches: list[str] = field(default_factory=list)
    next_id: int = 20000
    lock: threading.Lock = field(default_factory=threading.Lock)
    status_names: set[str] = field(default_factory=lambda: set(SITE_STATUSES))

    # -- building the site ----------------------------------------------------------------------

    def add(self, type_id: str, status_name: str, *, key_no: int | None = None,
            updated: datetime | None = None, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        issue_id = str(self.next_id)
        number = key_no if key_no is not None else self.next_id - 20000
        when = updated or datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)
        offset = OFFSETS[self.next_id % 2]
        body = {"id": issue_id, "key": f"ITSM-{number}", "self": f"/rest/api/3/issue/{issue_id}",
                "fields": {
                    "summary": f"issue {number}", "description": None,
                    "issuetype": {"id": type_id, "name": TYPES[type_id],
                                  "subtask": type_id == "10005"},
                    "project": {"id": "10000", "key": "ITSM", "name": "IT service management"},
                    "status": status(status_name), "priority": {"name": "Medium", "id": "3"},
                    "labels": [], "issuelinks": [], "created": stamp(when, offset),
                    "updated": stamp(when, offset), "resolution": None, "resolutiondate": None,
                    **{CF[n]: None for n in CUSTOM_NAMES}, **fields}}
        self.issues[issue_id] = body
        return body

    def link(self, type_name: str, inward: dict[str, Any], outward: dict[str, Any]) -> None:
        """`inward` <outward phrase> `outward` (the API's naming): e.g. Problem/Incident with
        the problem as inward makes "problem causes incident"."""
        link_id = str(len(self.issues) * 100 + len(inward["fields"]["issuelinks"]))
        names = LINK_TYPES[type_name]
        kind = {"id": "1", "name": type_name, "outward": names[0], "inward": names[1]}
        inward["fields"]["issuelinks"].append(
            {"id": link_id, "type": kind, "outwardIssue": _stub(outward)})
        outward["fields"]["issuelinks"].append(
            {"id": link_id, "type": kind, "inwardIssue": _stub(inward)})

    # -- answering ------------------------------------------------------------------------------

    def handle(self, req: Req) -> Resp:
        for index, (prefix, resp) in enumerate(self.faults):
            if req.path.startswith(prefix):
                del self.faults[index]
                return resp
        if not self._authenticated(req):
            if self.deployment == "datacenter":
                return Resp(401, b"<html><head><title>Unauthorized (401)</title></head></html>",
                            {"Content-Type": "text/html;charset=UTF-8",
                             "X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
            return Resp(401, {"message": "Client must be authenticated to access this resource.",
                              "status-code": 401})
        api = "2" if self.deployment == "datacenter" else "3"
        match = re.fullmatch(r"/rest/api/([23])/(.*)", req.path)
        if match is None or (match.group(1) == "3" and api == "2"):
            return _error(404, "Not found")
        route = match.group(2)
        with self.lock:
            return self._route(req, route, match.group(1))

    def _authenticated(self, req: Req) -> bool:
        header = req.headers.get("Authorization", "")
        if self.deployment == "datacenter":
            return header == f"Bearer {PAT}"
        expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
        return header == f"Basic {expected}"

    def _route(self, req: Req, route: str, api: str) -> Resp:
        if route == "myself":
            who = ({"name": "admin", "key": "JIRAUSER10000"} if api == "2"
                   else {"accountId": "5b10a2844c20165700ede21g", "emailAddress": EMAIL})
            return Resp(200, {**who, "displayName": "Admin", "timeZone": self.user_zone})
        if route == "field":
            return Resp(200, [{"id": cf, "name": name, "custom": True,
                               "clauseNames": [f"cf[{cf[12:]}]", name]}
                              for name, cf in CF.items()]
                        + [{"id": s, "name": s.title(), "custom": False}
                           for s in ("summary", "description", "status", "priority")])
        if route == "issueLinkType":
            return Resp(200, {"issueLinkTypes": [
                {"id": str(i), "name": n, "outward": o, "inward": w}
                for i, (n, (o, w)) in enumerate(LINK_TYPES.items())]})
        if route == "project/ITSM":
            return Resp(200, {"id": "10000", "key": "ITSM", "name": "IT service management",
                              "issueTypes": [{"id": i, "name": n} for i, n in TYPES.items()]})
        if route == "status":
            return Resp(200, [status(n) for n in sorted(self.status_names)])
        if route == "project/ITSM/statuses":
            return Resp(200, [{"id": i, "name": n, "statuses": [
                status(s) for s in (("To Do", "In Progress", "Done") if i in ("10004", "10005")
                                    else ("Open", "Closed"))]} for i, n in TYPES.items()])
        if route == "search/jql" and req.method == "POST":
            return self._enhanced(req.json())
        if route == "search" and req.method == "POST":
            if api == "3" and self.deployment == "cloud":
                return _error(410, "The requested API has been removed.")
            return self._legacy(req.json())
        if route == "issue/bulkfetch" and req.method == "POST" and self.bulkfetch:
            body = req.json()
            found = [self._project(self.issues[i], body.get("fields"))
                     for i in sorted(body["issueIdsOrKeys"], key=int) if i in self.issues]
            return Resp(200, {"issues": found, "issueErrors": []})
        if route == "issue" and req.method == "POST":
            return self._create(req.json()["fields"], api)
        if route == "issueLink" and req.method == "POST":
            body = req.json()
            inward = self.issues[body["inwardIssue"]["id"]]
            outward = self.issues[body["outwardIssue"]["id"]]
            self.link(body["type"]["name"], inward, outward)
            return Resp(201, b"")
        issue = re.fullmatch(r"issue/([0-9]+)(?:/(transitions|comment|attachments))?", route)
        if issue is not None:
            return self._issue(req, issue.group(1), issue.group(2))
        return _error(404, f"no route {req.method} {route}")

    def _issue(self, req: Req, issue_id: str, sub: str | None) -> Resp:
        found = self.issues.get(issue_id)
        if found is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        if sub is None and req.method == "GET":
            wanted = req.query.get("fields")
            return Resp(200, self._project(found, wanted.split(",") if wanted else None))
        if sub is None and req.method == "PUT":
            found["fields"].update(self._written(req.json()["fields"]))
            return Resp(204, b"")
        if sub == "comment":
            found.setdefault("comments", []).append(req.json()["body"])
            return Resp(201, {"id": "1", "body": req.json()["body"]})
        if sub == "attachments":
            found.setdefault("attachments", []).append(req.body)
            return Resp(200, [{"id": "1", "filename": "findings.csv"}])
        if sub == "transitions" and req.method == "GET":
            done = found["fields"]["status"]["statusCategory"]["key"] == "done"
            return Resp(200, {"transitions": [
                {"id": "11", "name": "Reopen", "to": status("To Do")} if done else
                {"id": "21", "name": "Start", "to": status("In Progress")},
                *([] if done else [{"id": "31", "name": "Done", "to": status("Done")}])]})
        if sub == "transitions":
            moves = {"31": "Done", "11": "To Do", "21": "In Progress"}
            found["fields"]["status"] = status(moves[req.json()["transition"]["id"]])
            return Resp(204, b"")
        return _error(405, "method not allowed")

    def _written(self, fields: dict[str, Any]) -> dict[str, Any]:
        out = dict(fields)
        if "priority" in out:
            out["priority"] = {"name": out["priority"]["name"], "id": "1"}
        return out

    def _create(self, fields: dict[str, Any], api: str) -> Resp:
        if fields.get("project", {}).get("key") != "ITSM":
            return Resp(400, {"errorMessages": [], "errors": {"project": "valid project is required"}})
        type_id = next(i for i, n in TYPES.items() if n == fields["issuetype"]["name"])
        created = self.add(type_id, "To Do")
        body = {k: v for k, v in self._written(fields).items() if k not in ("project", "issuetype")}
        if "parent" in body:
            body["parent"] = _stub(self.issues[body["parent"]["id"]])
        created["fields"].update(body)
        return Resp(201, {"id": created["id"], "key": created["key"],
                          "self": f"/rest/api/{api}/issue/{created['id']}"})

    def _project(self, issue: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        out = {k: v for k, v in issue.items() if k in ("id", "key", "self")}
        if fields:
            names = set(fields)
            out["fields"] = {k: v for k, v in issue["fields"].items()
                             if "*all" in names or k in names}
        if self.deployment == "datacenter" and "fields" in out:
            description = out["fields"].get("description")
            if isinstance(description, dict):
                out["fields"]["description"] = "wiki: " + str(description)
        return out

    def _matching(self, jql: str) -> list[dict[str, Any]] | Resp:
        self.searches.append(jql)
        try:
            test, order = parse(jql, self.user_zone)
            found = [i for i in self.issues.values() if test(i)]
        except JqlError as exc:
            return _error(400, f"Error in the JQL Query: {exc}")
        return sorted(found, key=lambda i: int(i["key"].split("-")[1]), reverse=order == "desc")

    def _enhanced(self, body: dict[str, Any]) -> Resp:
        found = self._matching(body["jql"])
        if isinstance(found, Resp):
            return found
        start = int(body.get("nextPageToken", "t0")[1:])
        size = min(int(body.get("maxResults", 50)), self.max_page)
        page = found[start:start + size]
        out: dict[str, Any] = {"issues": [self._project(i, body.get("fields")) for i in page]}
        if start + size < len(found):
            out["nextPageToken"] = f"t{start + size}"
            if not self.omit_is_last:
                out["isLast"] = False
        elif not self.omit_is_last:
            out["isLast"] = True
        return Resp(200, out)

    def _legacy(self, body: dict[str, Any]) -> Resp:
        found = self._matching(body["jql"])
        if isinstance(found, Resp):
            return found
        start, size = int(body.get("startAt", 0)), min(int(body.get("maxResults", 50)), self.max_page)
        page = found[start:start + size]
        return Resp(200, {"startAt": start, "maxResults": size, "total": len(found),
                          "issues": [self._project(i, body.get("fields")) for i in page]})


def _stub(issue: dict[str, Any]) -> dict[str, Any]:
    fields = issue["fields"]
    return {"id": issue["id"], "key": issue["key"], "fields": {
        k: fields[k] for k in ("summary", "status", "priority", "issuetype")}}


def _error(code: int, message: str) -> Resp:
    return Resp(code, {"errorMessages": [message], "errors": {}})


# -- enough JQL for what the connector sends ------------------------------------------------------


class JqlError(Exception):
    pass


_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op>!=|>=|<=|[=<>(),])|'
                    r'(?P<word>[A-Za-z0-9_\-\[\]./:]+))')
Test = Callable[[dict[str, Any]], bool]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise JqlError(f"unexpected character {text[pos]!r} (character {pos})")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = match.end()
    return out


def parse(text: str, zone: str) -> tuple[Test, str]:
    tokens = _tokens(text)
    order = "asc"
    for i, (kind, value) in enumerate(tokens):
        if kind == "word" and value.lower() == "order":
            rest = [v.lower() for _, v in tokens[i:]]
            order = "desc" if "desc" in rest else "asc"
            tokens = tokens[:i]
            break
    parser = _Parser(tokens, ZoneInfo(zone))
    test = parser.expr()
    if parser.pos != len(tokens):
        raise JqlError(f"unexpected {tokens[parser.pos][1]!r}")
    return test, order


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], zone: ZoneInfo) -> None:
        self.tokens, self.pos, self.zone = tokens, 0, zone

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def word(self, *words: str) -> bool:
        kind, value = self.peek()
        if kind == "word" and value.lower() in words:
            self.pos += 1
            return True
        return False

    def expr(self) -> Test:
        parts = [self.conj()]
        while self.word("or"):
            parts.append(self.conj())
        return lambda i: any(p(i) for p in parts)

    def conj(self) -> Test:
        parts = [self.term()]
        while self.word("and"):
            parts.append(self.term())
        return lambda i: all(p(i) for p in parts)

    def term(self) -> Test:
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expr()
            if self.take() != ("op", ")"):
                raise JqlError("expected )")
            return inner
        kind, name = self.take()
        if kind not in ("word", "str"):
            raise JqlError(f"expected a field, got {name!r}")
        get = _getter(name)
        if self.word("is"):
            negate = self.word("not")
            if not self.word("empty"):
                raise JqlError("expected EMPTY")
            return lambda i: (not get(i)) != negate
        if self.word("not"):
            if not self.word("in"):
                raise JqlError("expected IN")
            values = self.values()
            return lambda i: not any(_eq(v, w) for v in get(i) for w in values)
        if self.word("in"):
            values = self.values()
            return lambda i: any(_eq(v, w) for v in get(i) for w in values)
        kind, op = self.take()
        if kind != "op" or op not in ("=", "!=", ">=", "<=", ">", "<"):
            raise JqlError(f"expecting operator but got {op!r}")
        value = self.value()
        if op in ("=", "!="):
            return lambda i: any(_eq(v, value) for v in get(i)) != (op == "!=")
        bound = datetime.strptime(value, "%Y/%m/%d %H:%M").replace(tzinfo=self.zone)
        compare = {">=": lambda a: a >= bound, "<=": lambda a: a <= bound,
                   ">": lambda a: a > bound, "<": lambda a: a < bound}[op]
        return lambda i: any(compare(_when(v)) for v in get(i))

    def value(self) -> str:
        kind, value = self.take()
        if kind not in ("word", "str"):
            raise JqlError(f"expected a value, got {value!r}")
        if kind == "word" and value.lower() in ("or", "and", "not", "empty", "in", "is"):
            raise JqlError(f"'{value}' is a reserved JQL word")
        return value

    def values(self) -> list[str]:
        if self.take() != ("op", "("):
            raise JqlError("expected (")
        out = [self.value()]
        while self.peek() == ("op", ","):
            self.take()
            out.append(self.value())
        if self.take() != ("op", ")"):
            raise JqlError("expected )")
        return out


def _eq(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


def _when(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


def _getter(name: str) -> Callable[[dict[str, Any]], list[str]]:
    custom = re.fullmatch(r"cf\[([0-9]+)\]", name)
    field_id = f"customfield_{custom.group(1)}" if custom else name

    def get(issue: dict[str, Any]) -> list[str]:
        fields = issue["fields"]
        if field_id in ("id", "key"):
            return [issue[field_id]]
        if field_id == "project":
            return [fields["project"]["key"]]
        if field_id == "statusCategory":
            category = fields["status"]["statusCategory"]
            return [category["name"], category["key"]]
        if field_id not in fields:
            raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")
        value = fields[field_id]
        items = value if isinstance(value, list) else [] if value is None else [value]
        return [str(x.get("value") or x.get("name") or x.get("id")) if isinstance(x, dict)
                else str(x) for x in items]

    return get
