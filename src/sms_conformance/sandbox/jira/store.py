"""The Jira sandbox's issues: the logical records as JSM issues in project ITSM (one per record,
links between them as issue links) and the remediation tasks clients write; time and ADF text
helpers shared by rendering and writes."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sms_conformance.model.records import Value
from sms_conformance.sandbox.jira.assets import Assets
from sms_conformance.sandbox.jira.site import (
    APPROVAL_REQUEST_TYPE,
    CANONICAL_LINKS,
    CUSTOM_BY_ID,
    CUSTOM_FIELDS,
    CUSTOM_IDS,
    FIRST_ISSUE_ID,
    ISSUE_TYPES,
    MISSING_PROJECT,
    PLACEMENTS,
    PROJECT_KEY,
    STATUS_OF_STATE,
    SYSTEM_FIELDS,
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
    assignee: str | None = None  # accountId (tasks only)
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
    """Issues of the JSM site by id and key; `version` counts writes (search caches by it)."""

    def __init__(self, view: LogicalView, time_zone: str = "UTC",
                 hidden_fields: Iterable[str] = (), absent_fields: Iterable[str] = ()) -> None:
        self.view = view
        # hidden: listed by GET /field, never returned on issues (field configuration hides
        # it); absent: not on this site at all. Both given as custom field names or field ids.
        self.absent = frozenset(_field_ids(absent_fields))
        self.unseen = self.absent | frozenset(_field_ids(hidden_fields))
        self.time_zone = time_zone
        self.user_zone = ZoneInfo(time_zone)
        self.lock = threading.RLock()
        self.version = 0  # bumps on every write: search results are cached per version
        self.cloud_id = ""  # GET /_edge/tenant_info; JiraSandbox derives it from the data set
        self.assets = Assets(view)  # the CIs as Assets objects (JiraSandbox sets exposure)
        self.issues: dict[int, Issue] = {}
        self.by_key: dict[str, Issue] = {}
        self.options = Options()
        for custom in CUSTOM_FIELDS:
            for text in custom.options:
                self.options.id(custom.name, text)
        self._link_seq = 10000
        self._comment_seq = 10000
        self._build()

    # -- building -------------------------------------------------------------------------
    def _build(self) -> None:
        order = {"incident": 0, "problem": 1, "change": 2, "request": 3}
        # Requests after the other records, so those keep the ids and keys they had before
        # service requests came (tasks and histories written then still name them).
        records = sorted(self.view.all_records(),
                         key=lambda r: (r.process == "request", r.opened_at, order[r.process],
                                        r.number))
        by_record: dict[tuple[str, str], Issue] = {}
        for i, record in enumerate(records):
            values = record.values
            state = values.get("state")
            status = STATUS_OF_STATE[record.process].get(state if isinstance(state, str) else "",
                                                         "Open")
            updated = values.get("updated_at")
            kind = (APPROVAL_REQUEST_TYPE if values.get("approval_required") is True
                    else TYPE_OF_PROCESS[record.process])
            issue = Issue(FIRST_ISSUE_ID + i, f"{PROJECT_KEY}-{i + 1}",
                          kind, status, ZONES[i % len(ZONES)],
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
                self.link(link_type, issue, direction, target)

    def _add(self, issue: Issue) -> None:
        self.issues[issue.id] = issue
        self.by_key[issue.key] = issue

    def link(self, link_type: str, issue: Issue, direction: str, other: Issue | Stub) -> None:
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


def _field_ids(names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        field_id = CUSTOM_IDS.get(name, name)
        if field_id not in CUSTOM_BY_ID and field_id not in SYSTEM_FIELDS:
            raise ValueError(f"no field {name!r} on the sandbox's site")
        out.append(field_id)
    return out


__all__ = ["ApiError", "Issue", "JiraStore", "Stub", "adf",
           "error", "flatten", "is_adf", "jira_time"]
