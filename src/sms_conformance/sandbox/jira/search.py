"""JQL search over the Jira sandbox's issues: which issues a query selects and in what order,
with the 400s real sites give for unknown fields, values and operators (reference §1.4, §6).
Results are cached per query until the next write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sms_conformance.model.records import Value
from sms_conformance.sandbox.jira import jql
from sms_conformance.sandbox.jira.site import (
    ADMIN_ACCOUNT_ID,
    CATEGORIES,
    CUSTOM_BY_ID,
    CUSTOM_IDS,
    ISSUE_TYPES,
    PLACEMENTS,
    PRIORITIES,
    PROJECT_ID,
    PROJECT_KEY,
    PROJECT_NAME,
    RESOLUTIONS,
    STATUSES,
    Placement,
)
from sms_conformance.sandbox.jira.store import ApiError, Issue, JiraStore, error


class Search:
    """Evaluates JQL against a store (results cached per query and store version)."""

    def __init__(self, store: JiraStore) -> None:
        self.store = store
        self.issues = store.issues
        self.by_key = store.by_key
        self.user_zone = store.user_zone
        # query -> (store version, where clause given, issues in order)
        self._cache: dict[str, tuple[int, bool, list[Issue]]] = {}

    def __call__(self, text: str, bounded: bool) -> list[Issue]:
        """The issues a JQL query selects, in its order (cached until the next write).
        `bounded`: refuse a query without a restriction, as enhanced search does."""
        store = self.store
        with store.lock:
            cached = self._cache.get(text)
            if cached is None or cached[0] != store.version:
                query = jql.parse(text)
                match = self._predicate(query.where) if query.where is not None else None
                found = [i for i in store.issues.values() if match is None or match(i)]
                found.sort(key=lambda i: i.id)
                for name, ascending in reversed(query.order):
                    found.sort(key=self._sort_key(name), reverse=not ascending)
                if len(self._cache) > 64:
                    self._cache.clear()
                cached = self._cache[text] = (store.version, query.where is not None, found)
        if bounded and not cached[1]:
            raise _unbounded()
        return cached[2]

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
        if name in ("key", "issuekey", "id") and clause.op in ("<", "<=", ">", ">="):
            return self._key_range(clause)
        kind, read = _FIELDS.get(name, (None, None))
        custom = _custom_of(clause.field) if kind is None else None
        if custom in self.store.unseen:
            custom = None
        if custom is not None:
            kind, read = _custom_reader(custom, self.store)
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

    def _key_range(self, clause: jql.Clause) -> Callable[[Issue], bool]:
        """`issuekey` (alias `key`, `id`) compared with <, <=, >, >=: an id compares ids, a key
        the issue numbers of its project (issues of other projects never match). A key no
        issue has matches nothing: Cloud's enhanced search answers 0 issues, not a 400."""
        text = clause.values[0].text.strip().upper()
        checks: dict[str, Callable[[int, int], bool]] = {
            "<": lambda v, b: v < b, "<=": lambda v, b: v <= b,
            ">": lambda v, b: v > b, ">=": lambda v, b: v >= b}
        check = checks[clause.op]
        if text.isdigit():
            bound_id = int(text)
            return lambda i: check(i.id, bound_id)
        prefix, _, number = text.partition("-")
        if not (prefix and number.isdigit()):
            raise error(400, f"The issue key '{clause.values[0].text}' for field "
                             f"'{clause.field}' is invalid.")
        if text not in self.by_key:
            return lambda i: False
        bound = int(number)
        return lambda i: (i.key.partition("-")[0] == prefix
                          and check(int(i.key.partition("-")[2]), bound))

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
    if canonical == "reporter" and issue.process == "request":
        canonical = "requester"  # a request's reporter is who it is for
    elif canonical == "reporter" and "reporter" not in PLACEMENTS[issue.process]:
        return ADMIN_ACCOUNT_ID.casefold()
    value = issue.record.values.get(canonical)
    return value.casefold() if isinstance(value, str) and value else None


def _resolved(issue: Issue) -> datetime | None:
    if issue.record is None:
        return issue.resolved
    value = issue.record.values.get("resolved_at") or (
        issue.record.values.get("closed_at") if issue.process == "request" or
        issue.process == "change" and issue.record.values.get("resolution_code") else None)
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
