"""The Jira sandbox's issues: the logical records as JSM issues in project ITSM, remediation
tasks written by clients, JQL evaluation and the JSON shapes of the reference's captures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sms_conformance.records import Value
from sms_conformance.sandbox.jira import jql
from sms_conformance.sandbox.jira.site import (
    ADMIN_ACCOUNT_ID,
    ADMIN_EMAIL,
    ADMIN_NAME,
    CANONICAL_LINKS,
    CATEGORIES,
    CUSTOM_BY_ID,
    CUSTOM_FIELDS,
    CUSTOM_IDS,
    FIRST_ISSUE_ID,
    ISSUE_TYPES,
    MISSING_PROJECT,
    PLACEMENTS,
    PRIORITIES,
    PROJECT_ID,
    PROJECT_KEY,
    PROJECT_NAME,
    RESOLUTIONS,
    STATUS_OF_STATE,
    STATUSES,
    TASK_TYPES,
    TYPE_OF_PROCESS,
    IssueType,
    Placement,
)
from sms_conformance.sandbox.logical import LogicalRecord, LogicalView

# Each issue shows its times in one of these offsets (a mix, none UTC), as users' zones differ.
ZONES = (timezone(timedelta(hours=-8)), timezone(timedelta(hours=1)),
         timezone(timedelta(hours=5, minutes=30)))
LINK_TARGET = {"problem": "problem", "fixed_by_change": "change", "caused_by_change": "change",
               "parent": "incident"}
TYPES_BY_ID = {t.id: t for t in ISSUE_TYPES}
# process -> issue field id -> (canonical field, placement)
PLACED_BY_ID = {process: {place.field_id: (canonical, place) for canonical, place in fields.items()}
                for process, fields in PLACEMENTS.items()}
NOT_FOUND = "Issue does not exist or you do not have permission to see it."


class ApiError(Exception):
    """An answer other than success: HTTP status and the JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status, self.body = status, body


def error(status: int, *messages: str, **errors: str) -> ApiError:
    return ApiError(status, {"errorMessages": list(messages), "errors": errors})


@dataclass(frozen=True)
class Stub:
    """A link target outside what the user can see (a planted dangling link)."""

    id: int
    key: str
    type: IssueType


@dataclass(eq=False)
class Issue:
    id: int
    key: str
    type: IssueType
    status: str
    zone: timezone
    created: datetime
    updated: datetime
    record: LogicalRecord | None = None
    # (link id, link type name, "inward" | "outward" key of the entry, other issue)
    links: list[tuple[str, str, str, Issue | Stub]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    # tasks only: what clients wrote
    summary: str = ""
    description: Any = None  # ADF document (v3) or wiki text (v2), as written
    priority: int | None = None
    parent: Issue | None = None
    duedate: str | None = None
    resolution: str | None = None
    resolved: datetime | None = None
    group: str | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    subtasks: list[Issue] = field(default_factory=list)

    @property
    def is_task(self) -> bool:
        return self.type.id in TASK_TYPES

    @property
    def process(self) -> str:
        return self.type.process


def jira_time(value: datetime, zone: timezone) -> str:
    """'2025-02-17T09:05:31.290-0800': milliseconds and a colon-less offset."""
    local = value.astimezone(zone)
    return (local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"
            + local.strftime("%z"))


def adf(text: str | None) -> dict[str, Any] | None:
    """Plain text as an ADF document: one paragraph per line."""
    if text is None:
        return None
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
        for line in text.split("\n")]}


def flatten(doc: Any) -> str | None:
    """ADF -> plain text (block nodes on their own lines); a string stays as it is."""
    if doc is None or isinstance(doc, str):
        return doc
    lines: list[str] = []

    def walk(node: Any, out: list[str]) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(str(node.get("text", "")))
            elif node.get("type") == "hardBreak":
                out.append("\n")
            for child in node.get("content", []) or []:
                walk(child, out)

    for block in doc.get("content", []) if isinstance(doc, dict) else []:
        parts: list[str] = []
        walk(block, parts)
        lines.append("".join(parts))
    return "\n".join(lines)


def is_adf(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("type") == "doc"
            and isinstance(value.get("content"), list))


class Options:
    """Ids of select options, stable per (field, text)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], str] = {}

    def id(self, field_name: str, text: str) -> str:
        key = (field_name, text)
        found = self.ids.get(key)
        if found is None:
            found = self.ids[key] = str(10200 + len(self.ids))
        return found


class JiraStore:
    """Issues of the JSM site, their JSON, JQL search and the writes a connector makes."""

    def __init__(self, view: LogicalView, time_zone: str = "UTC") -> None:
        self.view = view
        self.time_zone = time_zone
        self.user_zone = ZoneInfo(time_zone)
        self.lock = threading.RLock()
        self.version = 0  # bumps on every write: search results are cached per version
        self.issues: dict[int, Issue] = {}
        self.by_key: dict[str, Issue] = {}
        self.options = Options()
        for custom in CUSTOM_FIELDS:
            for text in custom.options:
                self.options.id(custom.name, text)
        self._link_seq = 10000
        self._comment_seq = 10000
        self._cache: dict[str, tuple[int, list[Issue]]] = {}
        self._build()

    # -- building -------------------------------------------------------------------------
    def _build(self) -> None:
        order = {"incident": 0, "problem": 1, "change": 2}
        records = sorted(self.view.all_records(),
                         key=lambda r: (r.opened_at, order[r.process], r.number))
        by_record: dict[tuple[str, str], Issue] = {}
        for i, record in enumerate(records):
            values = record.values
            state = values.get("state")
            status = STATUS_OF_STATE[record.process].get(state if isinstance(state, str) else "",
                                                         "Open")
            updated = values.get("updated_at")
            issue = Issue(FIRST_ISSUE_ID + i, f"{PROJECT_KEY}-{i + 1}",
                          TYPE_OF_PROCESS[record.process], status, ZONES[i % len(ZONES)],
                          record.opened_at,
                          updated if isinstance(updated, datetime) else record.opened_at,
                          record=record)
            self._add(issue)
            by_record[(record.process, record.id)] = issue
        for name in sorted({v for r in records for v in [r.values.get("subcategory")]
                            if isinstance(v, str)}):
            self.options.id("Subcategory", name)
        missing: dict[tuple[str, str], Stub] = {}
        for issue in list(self.issues.values()):
            assert issue.record is not None
            for name, target_id in sorted(issue.record.links.items()):
                link_type, direction = CANONICAL_LINKS[name]
                process = LINK_TARGET[name]
                target: Issue | Stub | None = by_record.get((process, target_id))
                if target is None:
                    target = missing.get((process, target_id))
                    if target is None:
                        n = len(missing) + 1
                        target = missing[(process, target_id)] = Stub(
                            900000 + n, f"{MISSING_PROJECT}-{n}", TYPE_OF_PROCESS[process])
                self._link(link_type, issue, direction, target)

    def _add(self, issue: Issue) -> None:
        self.issues[issue.id] = issue
        self.by_key[issue.key] = issue

    def _link(self, link_type: str, issue: Issue, direction: str, other: Issue | Stub) -> None:
        """`issue` gets an entry with `other` under `direction`Issue; `other` the mirror."""
        self._link_seq += 1
        link_id = str(self._link_seq)
        issue.links.append((link_id, link_type, direction, other))
        if isinstance(other, Issue):
            mirror = "outward" if direction == "inward" else "inward"
            other.links.append((link_id, link_type, mirror, issue))

    # -- lookups --------------------------------------------------------------------------
    def find(self, id_or_key: str) -> Issue | None:
        text = id_or_key.strip()
        if text.isdigit():
            return self.issues.get(int(text))
        return self.by_key.get(text.upper())

    def get(self, id_or_key: str) -> Issue:
        issue = self.find(id_or_key)
        if issue is None:
            raise error(404, NOT_FOUND)
        return issue

    def next_id(self) -> int:
        return max(self.issues) + 1 if self.issues else FIRST_ISSUE_ID

    def next_comment_id(self) -> str:
        self._comment_seq += 1
        return str(self._comment_seq)

    # -- search ---------------------------------------------------------------------------
    def search(self, text: str, bounded: bool) -> list[Issue]:
        """The issues a JQL query selects, in its order (cached until the next write)."""
        with self.lock:
            cached = self._cache.get(text)
            if cached is not None and cached[0] == self.version:
                if bounded and not _has_where(text):
                    raise _unbounded()
                return cached[1]
            query = jql.parse(text)
            if bounded and query.where is None:
                raise _unbounded()
            match = self._predicate(query.where) if query.where is not None else None
            found = [i for i in self.issues.values() if match is None or match(i)]
            found.sort(key=lambda i: i.id)
            for name, ascending in reversed(query.order):
                found.sort(key=self._sort_key(name), reverse=not ascending)
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[text] = (self.version, found)
            return found

    def _sort_key(self, name: str) -> Callable[[Issue], Any]:
        folded = name.casefold()
        keys: dict[str, Callable[[Issue], Any]] = {
            "updated": lambda i: i.updated, "updateddate": lambda i: i.updated,
            "created": lambda i: i.created, "createddate": lambda i: i.created,
            "key": lambda i: i.id, "issuekey": lambda i: i.id, "id": lambda i: i.id,
        }
        if folded in keys:
            return keys[folded]
        if folded in _FIELDS or _custom_of(name) is not None:
            raise error(400, f"Field '{name}' does not support sorting.")
        raise error(400, f"Field '{name}' does not exist or you do not have permission to "
                         "view it.")

    def _predicate(self, node: jql.Node) -> Callable[[Issue], bool]:
        if isinstance(node, jql.BoolOp):
            parts = [self._predicate(p) for p in node.parts]
            if node.op == "and":
                return lambda i: all(p(i) for p in parts)
            return lambda i: any(p(i) for p in parts)
        if isinstance(node, jql.Not):
            inner = self._predicate(node.part)
            return lambda i: not inner(i)
        return self._clause(node)

    def _clause(self, clause: jql.Clause) -> Callable[[Issue], bool]:
        name = clause.field.casefold()
        kind, read = _FIELDS.get(name, (None, None))
        custom = _custom_of(clause.field) if kind is None else None
        if custom is not None:
            kind, read = _custom_reader(custom, self)
        if kind is None or read is None:
            raise error(400, f"Field '{clause.field}' does not exist or you do not have "
                             "permission to view it.")
        op = clause.op
        if op in ("is", "is not"):
            empty = op == "is"
            return lambda i: (_empty(read(i))) == empty
        allowed = {"set": ("=", "!=", "in", "not in"), "key": ("=", "!=", "in", "not in"),
                   "date": ("=", "!=", "<", ">", "<=", ">=", "in", "not in"),
                   "number": ("=", "!=", "<", ">", "<=", ">=", "in", "not in")}[kind]
        if op not in allowed or (clause.is_list and op not in ("in", "not in")):
            raise error(400, f"The operator '{op.upper() if op[0].isalpha() else op}' is not "
                             f"supported by the '{clause.field}' field.")
        if kind == "date":
            return self._date_clause(clause, read)
        if kind == "number":
            wanted_n = [_number(v, clause.field) for v in clause.values]
            return _compare(op, wanted_n, read)
        wanted = [self._resolve(name, clause.field, v) for v in clause.values]
        wanted_set = frozenset(w for group in wanted for w in group)
        negate = op in ("!=", "not in")

        def match(issue: Issue) -> bool:
            value = read(issue)
            if isinstance(value, (list, tuple, frozenset, set)):
                hit = any(v in wanted_set for v in value)
            else:
                hit = value in wanted_set
            # a negated clause does not select issues where the field is empty (as Jira)
            return (not hit and not _empty(value)) if negate else hit

        return match

    def _resolve(self, name: str, shown: str, value: jql.Value) -> frozenset[str]:
        """The stored forms (casefolded) a JQL value stands for; Jira's 400 for unknown ones."""
        text = value.text.strip().casefold()

        def unknown() -> ApiError:
            return error(400, f"The value '{value.text}' does not exist for the field "
                              f"'{shown}'.")

        if name == "project":
            if text in (PROJECT_KEY.casefold(), PROJECT_ID, PROJECT_NAME.casefold()):
                return frozenset({PROJECT_KEY.casefold()})
            raise unknown()
        if name in ("issuetype", "type"):
            hits = {t.id for t in ISSUE_TYPES if text in (t.id, t.name.casefold())}
            if not hits:
                raise unknown()
            return frozenset(hits)
        if name == "status":
            hits = {s.name.casefold() for s in STATUSES.values()
                    if text in (s.id, s.name.casefold())}
            if not hits:
                raise unknown()
            return frozenset(hits)
        if name == "statuscategory":
            hits = {c.key for c in CATEGORIES.values()
                    if text in (str(c.id), c.key, c.name.casefold())}
            if not hits:
                raise unknown()
            return frozenset(hits)
        if name == "priority":
            hits = {n.casefold() for pid, n in PRIORITIES.values() if text in (pid, n.casefold())}
            if not hits:
                raise unknown()
            return frozenset(hits)
        if name == "resolution":
            if text == "unresolved" and not value.quoted:
                return frozenset({""})
            hits = {n.casefold() for n, rid in RESOLUTIONS.items() if text in (rid, n.casefold())}
            if not hits:
                raise unknown()
            return frozenset(hits)
        if name in ("key", "issuekey", "parent"):
            if text.isdigit():
                issue = self.issues.get(int(text))
                return frozenset({issue.key.casefold()} if issue else set())
            prefix, _, number = text.partition("-")
            if not (prefix and number.isdigit()):
                raise error(400, f"The issue key '{value.text}' for field '{shown}' is invalid.")
            if text.upper() not in self.by_key:
                raise error(400, f"An issue with key '{value.text.upper()}' does not exist for "
                                 f"field '{shown}'.")
            return frozenset({text})
        if name == "id":
            return frozenset({text})
        return frozenset({text})

    def _date_clause(self, clause: jql.Clause,
                     read: Callable[[Issue], Any]) -> Callable[[Issue], bool]:
        bounds = [self._date(v, clause.field) for v in clause.values]
        op = clause.op
        if op in ("in", "not in"):
            minutes = {b.replace(second=0, microsecond=0) for b in bounds}

            def within(issue: Issue) -> bool:
                value = read(issue)
                if value is None:
                    return False
                hit = value.replace(second=0, microsecond=0) in minutes
                return hit if op == "in" else not hit

            return within
        bound = bounds[0]
        checks: dict[str, Callable[[datetime], bool]] = {
            ">=": lambda v: v >= bound, ">": lambda v: v > bound,
            "<=": lambda v: v <= bound, "<": lambda v: v < bound,
            "=": lambda v: v.replace(second=0, microsecond=0) == bound,
            "!=": lambda v: v.replace(second=0, microsecond=0) != bound,
        }
        check = checks[op]
        return lambda i: (value := read(i)) is not None and check(value)

    def _date(self, value: jql.Value, shown: str) -> datetime:
        """A JQL date literal in the user's time zone (or relative to now), as UTC."""
        text = value.text.strip()
        for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
            try:
                local = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return local.replace(tzinfo=self.user_zone).astimezone(timezone.utc)
        units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
        body = text[1:] if text[:1] in "+-" else text
        if body[:-1].isdigit() and body[-1:].lower() in units:
            seconds = int(body[:-1]) * units[body[-1].lower()] * (-1 if text[0] == "-" else 1)
            return datetime.now(timezone.utc) + timedelta(seconds=seconds)
        raise error(400, f"Date value '{value.text}' for field '{shown}' is invalid. Valid "
                         "formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', "
                         "'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")

    # -- reading values (shared by JQL and rendering) -------------------------------------
    def value(self, issue: Issue, canonical: str) -> Value:
        record = issue.record
        return record.values.get(canonical) if record is not None else None

    def placement(self, issue: Issue, field_id: str) -> tuple[str, Placement] | None:
        """The canonical field an issue field carries, with its placement (None: not on it)."""
        if issue.record is None:
            return None
        return PLACED_BY_ID[issue.process].get(field_id)

    def touch(self) -> None:
        """A write happened: cached search results are stale."""
        self.version += 1


def _has_where(text: str) -> bool:
    return jql.parse(text).where is not None


def _unbounded() -> ApiError:
    return error(400, "Unbounded JQL queries are not allowed here. Please add a search "
                      "restriction to your query.")


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, (list, tuple, frozenset, set))
                                            and not value)


def _number(value: jql.Value, shown: str) -> float:
    try:
        return float(value.text)
    except ValueError:
        raise error(400, f"The value '{value.text}' does not exist for the field "
                         f"'{shown}'.") from None


def _compare(op: str, wanted: list[float], read: Callable[[Issue], Any]
             ) -> Callable[[Issue], bool]:
    checks: dict[str, Callable[[float], bool]] = {
        "=": lambda v: v == wanted[0], "!=": lambda v: v != wanted[0],
        "<": lambda v: v < wanted[0], ">": lambda v: v > wanted[0],
        "<=": lambda v: v <= wanted[0], ">=": lambda v: v >= wanted[0],
        "in": lambda v: v in wanted, "not in": lambda v: v not in wanted,
    }
    check = checks[op]
    return lambda i: (value := read(i)) is not None and check(float(value))


def _status_name(issue: Issue) -> str:
    return issue.status.casefold()


def _issue_resolution(issue: Issue) -> str:
    if issue.record is None:
        return (issue.resolution or "").casefold()
    place = PLACEMENTS[issue.process]["resolution_code"]
    code = issue.record.values.get("resolution_code")
    if code is None:
        return ""
    return (place.texts or {}).get(code, str(code)).casefold()


def _issue_priority(issue: Issue) -> str | None:
    level = issue.priority if issue.record is None else issue.record.values.get("priority")
    if not isinstance(level, int) or level not in PRIORITIES:
        return None
    return PRIORITIES[level][1].casefold()


def _person(issue: Issue, canonical: str) -> str | None:
    if issue.record is None:
        return ADMIN_ACCOUNT_ID.casefold() if canonical == "reporter" else None
    if canonical == "reporter" and "reporter" not in PLACEMENTS[issue.process]:
        return ADMIN_ACCOUNT_ID.casefold()
    value = issue.record.values.get(canonical)
    return value.casefold() if isinstance(value, str) and value else None


def _resolved(issue: Issue) -> datetime | None:
    if issue.record is None:
        return issue.resolved
    value = issue.record.values.get("resolved_at") or (
        issue.record.values.get("closed_at") if issue.process == "change"
        and issue.record.values.get("resolution_code") else None)
    return value if isinstance(value, datetime) else None


_FIELDS: dict[str, tuple[str, Callable[[Issue], Any]]] = {
    "project": ("set", lambda i: PROJECT_KEY.casefold()),
    "issuetype": ("set", lambda i: i.type.id),
    "type": ("set", lambda i: i.type.id),
    "status": ("set", _status_name),
    "statuscategory": ("set", lambda i: STATUSES[i.status].category),
    "priority": ("set", _issue_priority),
    "resolution": ("set", _issue_resolution),
    "labels": ("set", lambda i: [label.casefold() for label in i.labels]),
    "key": ("key", lambda i: i.key.casefold()),
    "issuekey": ("key", lambda i: i.key.casefold()),
    "parent": ("key", lambda i: i.parent.key.casefold() if i.parent else None),
    "id": ("number", lambda i: i.id),
    "assignee": ("set", lambda i: _person(i, "assignee")),
    "reporter": ("set", lambda i: _person(i, "reporter")),
    "updated": ("date", lambda i: i.updated),
    "updateddate": ("date", lambda i: i.updated),
    "created": ("date", lambda i: i.created),
    "createddate": ("date", lambda i: i.created),
    "resolutiondate": ("date", _resolved),
    "resolved": ("date", _resolved),
}


def _custom_of(name: str) -> str | None:
    """The custom field id a JQL field name stands for: cf[10100] or the field's name."""
    folded = name.strip().casefold()
    if folded.startswith("cf[") and folded.endswith("]"):
        field_id = f"customfield_{folded[3:-1]}"
        return field_id if field_id in CUSTOM_BY_ID else None
    for custom_name, field_id in CUSTOM_IDS.items():
        if custom_name.casefold() == folded:
            return field_id
    return None


def _custom_reader(field_id: str, store: JiraStore) -> tuple[str, Callable[[Issue], Any]]:
    custom = CUSTOM_BY_ID[field_id]

    def canonical(issue: Issue) -> tuple[Value, Placement] | None:
        found = store.placement(issue, field_id)
        if found is None:
            return None
        return store.value(issue, found[0]), found[1]

    if custom.kind == "datetime":
        def read_date(issue: Issue) -> datetime | None:
            got = canonical(issue)
            return got[0] if got and isinstance(got[0], datetime) else None
        return "date", read_date
    if custom.kind == "number":
        def read_number(issue: Issue) -> Any:
            got = canonical(issue)
            return got[0] if got and isinstance(got[0], int) else None
        return "number", read_number

    def read_text(issue: Issue) -> Any:
        if custom.kind == "group" and issue.record is None:
            return store.view.groups.get(issue.group or "", "").casefold() or None
        got = canonical(issue)
        if got is None or got[0] is None:
            return None
        value, place = got
        if custom.kind == "group":
            return store.view.groups.get(str(value), "").casefold() or None
        if custom.kind == "services":
            return [store.view.services.get(str(value), "").casefold()]
        if custom.kind == "cis":
            return [store.view.configuration_items.get(str(value), "").casefold()]
        text = (place.texts or {}).get(value, str(value))
        return text.casefold()

    return "set", read_text


__all__ = ["ADMIN_EMAIL", "ADMIN_NAME", "ApiError", "Issue", "JiraStore", "Stub", "adf",
           "error", "flatten", "is_adf", "jira_time"]
