"""What clients may write on the Jira sandbox: remediation tasks (Task / Sub-task in ITSM),
their labels, links, transitions and comments. Scanned incident, problem and change issues are
never modified: an edit of one is refused with 403, so write-back confinement is testable."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sms_conformance.sandbox.jira.site import (
    CUSTOM_IDS,
    FIRST_ISSUE_ID,
    LINK_TYPES,
    PRIORITY_BY_NAME,
    PROJECT_ID,
    PROJECT_KEY,
    STATUS_OF_STATE,
    TASK_TRANSITIONS,
    TASK_TYPES,
    IssueType,
    Transition,
)
from sms_conformance.sandbox.jira.store import (
    TYPES_BY_ID,
    ZONES,
    ApiError,
    Issue,
    JiraStore,
    error,
    is_adf,
    jira_time,
)

FORBIDDEN_EDIT = "You do not have permission to edit issues in this project."
SETTABLE = frozenset({"project", "issuetype", "summary", "description", "priority", "labels",
                      "parent", "duedate", "assignee", CUSTOM_IDS["Assignment group"]})
ASSIGNMENT_GROUP = CUSTOM_IDS["Assignment group"]


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _fields(body: Any) -> dict[str, Any]:
    fields = body.get("fields") if isinstance(body, dict) else None
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise error(400, "Can not deserialize instance of java.util.LinkedHashMap out of "
                         "START_ARRAY token")
    return fields


def _issue_type(value: Any) -> IssueType:
    if isinstance(value, dict):
        wanted = str(value.get("id") or value.get("name") or "").casefold()
        for kind in TYPES_BY_ID.values():
            if wanted in (kind.id, kind.name.casefold()):
                return kind
    raise error(400, issuetype="Specify a valid issue type")


def create_issue(store: JiraStore, body: Any, version: int) -> Issue:
    """POST /issue: a Task or Sub-task in ITSM (other projects: 400; process types: 403)."""
    fields = _fields(body)
    project = fields.get("project")
    wanted = ""
    if isinstance(project, dict):
        wanted = str(project.get("key") or project.get("id") or "")
    if wanted.upper() not in (PROJECT_KEY, PROJECT_ID):
        raise ApiError(400, {"errorMessages": [f"The value '{wanted}' does not exist for the "
                                               "field 'project'."], "warningMessages": []})
    kind = _issue_type(fields.get("issuetype"))
    if kind.id not in TASK_TYPES:
        raise error(403, "You do not have permission to create issues of this type in this "
                         "project.")
    unknown = {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or "
                     "unknown." for name in fields if name not in SETTABLE}
    if unknown:
        raise error(400, **unknown)
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise error(400, summary="You must specify a summary of the issue.")
    parent = None
    if kind.subtask:
        ref = fields.get("parent")
        key = str(ref.get("key") or ref.get("id") or "") if isinstance(ref, dict) else ""
        parent = store.find(key) if key else None
        if parent is None:
            raise error(400, parent="Could not find issue by id or key.")
        if parent.is_task:
            raise error(400, parent="Sub-task issues cannot be parents of sub-tasks.")
    with store.lock:
        now = _now()
        issue_id = store.next_id()
        issue = Issue(issue_id, f"{PROJECT_KEY}-{issue_id - FIRST_ISSUE_ID + 1}", kind,
                      STATUS_OF_STATE["task"]["new"], ZONES[issue_id % len(ZONES)], now, now,
                      summary=summary, parent=parent)
        _apply(store, issue, fields, version)
        store.issues[issue.id] = issue
        store.by_key[issue.key] = issue
        if parent is not None:
            parent.subtasks.append(issue)
        store.touch()
    return issue


def _apply(store: JiraStore, issue: Issue, fields: dict[str, Any], version: int) -> None:
    if "summary" in fields:
        summary = fields["summary"]
        if not isinstance(summary, str) or not summary.strip():
            raise error(400, summary="You must specify a summary of the issue.")
        if len(summary) > 255:
            raise error(400, summary="Summary must be less than 255 characters.")
        issue.summary = summary
    if "description" in fields:
        text = fields["description"]
        if text is not None and not (is_adf(text) if version == 3 else isinstance(text, str)):
            raise error(400, description="Operation value must be an Atlassian Document (see "
                        "the Atlassian Document Format)" if version == 3
                        else "Operation value must be a string")
        issue.description = text
    if "priority" in fields:
        issue.priority = _priority(fields["priority"])
    if "labels" in fields:
        labels = fields["labels"]
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise error(400, labels="Operation value must be a list of strings")
        for label in labels:
            _check_label(label)
        issue.labels = list(dict.fromkeys(labels))
    if "duedate" in fields:
        issue.duedate = fields["duedate"]
    if ASSIGNMENT_GROUP in fields:
        value = fields[ASSIGNMENT_GROUP]
        group_id = None
        if isinstance(value, dict):
            group_id = value.get("groupId") or next(
                (gid for gid, name in store.view.groups.items() if name == value.get("name")),
                None)
            if group_id not in store.view.groups:
                raise error(400, **{ASSIGNMENT_GROUP: "Group does not exist."})
        issue.group = group_id
    if "assignee" in fields:
        issue.assignee = _assignee(store, fields["assignee"])


def _assignee(store: JiraStore, value: Any) -> str | None:
    """A user by accountId (v3) or login name (v2, as Data Center takes it); None unassigns."""
    if value is None:
        return None
    if isinstance(value, dict):
        wanted = str(value.get("accountId") or "")
        login = str(value.get("name") or "")
        for person in store.view.users.values():
            if wanted == person.id or (login and login == person.login):
                return person.id
        raise error(400, assignee=f"User '{wanted or login}' does not exist.")
    raise error(400, assignee="Operation value must be a user object")


def _priority(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, dict):
        wanted = str(value.get("id") or value.get("name") or "").casefold()
        for pid, name in PRIORITY_BY_NAME.values():
            if wanted in (pid, name.casefold()):
                return int(pid)
    raise error(400, priority="Specify the Priority (id or name) in the correct format")


def _check_label(label: str) -> None:
    if not label or any(ch.isspace() for ch in label):
        raise error(400, labels=f"The label '{label}' contains spaces which is invalid.")
    if len(label) > 255:
        raise error(400, labels="The label must not exceed 255 characters.")


def editable(store: JiraStore, key: str) -> Issue:
    issue = store.get(key)
    if not issue.is_task:
        raise error(403, FORBIDDEN_EDIT)
    return issue


def edit_issue(store: JiraStore, key: str, body: Any, version: int) -> None:
    """PUT /issue/{key}: fields and label / comment updates, on tasks only."""
    issue = editable(store, key)
    fields = _fields(body)
    unknown = {name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or "
                     "unknown." for name in fields if name not in SETTABLE - {"project",
                                                                                 "issuetype"}}
    if unknown:
        raise error(400, **unknown)
    update = body.get("update") if isinstance(body, dict) else None
    with store.lock:
        _apply(store, issue, fields, version)
        for op in (update or {}).get("labels", []) if isinstance(update, dict) else []:
            if isinstance(op, dict) and isinstance(op.get("add"), str):
                _check_label(op["add"])
                if op["add"] not in issue.labels:
                    issue.labels.append(op["add"])
            elif isinstance(op, dict) and isinstance(op.get("remove"), str):
                issue.labels = [x for x in issue.labels if x != op["remove"]]
        _comments_from_update(store, issue, update, version)
        issue.updated = _now()
        store.touch()


def _comments_from_update(store: JiraStore, issue: Issue, update: Any, version: int) -> None:
    if not isinstance(update, dict):
        return
    for op in update.get("comment", []) or []:
        if isinstance(op, dict) and isinstance(op.get("add"), dict):
            add_comment(store, issue, op["add"], version)


def add_comment(store: JiraStore, issue: Issue, body: Any, version: int) -> dict[str, Any]:
    text = body.get("body") if isinstance(body, dict) else None
    if not (is_adf(text) if version == 3 else isinstance(text, str) and text):
        raise error(400, comment="Comment body can not be empty!")
    stored = {"id": store.next_comment_id(), "body": text,
              "created": jira_time(_now(), issue.zone)}
    issue.comments.append(stored)
    return stored


def comment(store: JiraStore, key: str, body: Any, version: int) -> tuple[Issue,
                                                                         dict[str, Any]]:
    issue = editable(store, key)
    with store.lock:
        stored = add_comment(store, issue, body, version)
        issue.updated = _now()
        store.touch()
    return issue, stored


def transitions(store: JiraStore, key: str) -> tuple[Issue, list[Transition]]:
    issue = store.get(key)
    if not issue.is_task:
        return issue, []
    return issue, [t for t in TASK_TRANSITIONS if t.to != issue.status]


def transition(store: JiraStore, key: str, body: Any, version: int) -> None:
    """POST /issue/{key}/transitions -> 204; to Done sets the resolution."""
    issue = editable(store, key)
    wanted = body.get("transition") if isinstance(body, dict) else None
    tid = str(wanted.get("id", "")) if isinstance(wanted, dict) else ""
    _, available = transitions(store, key)
    chosen = next((t for t in available if t.id == tid), None)
    if chosen is None:
        raise error(400, f"Transition id '{tid}' is not valid for this issue.")
    with store.lock:
        issue.status = chosen.to
        done = chosen.to == STATUS_OF_STATE["task"]["done"]
        resolution = None
        fields = _fields(body)
        if isinstance(fields.get("resolution"), dict):
            resolution = fields["resolution"].get("name")
        issue.resolution = (resolution or "Done") if done else None
        issue.resolved = _now() if done else None
        _comments_from_update(store, issue, body.get("update"), version)
        issue.updated = _now()
        store.touch()


def link(store: JiraStore, body: Any) -> None:
    """POST /issueLink -> 201; at least one side must be a task (records stay untouched);
    posting an existing link again changes nothing."""
    if not isinstance(body, dict):
        raise error(400, "Issue link type is required")
    kind = body.get("type")
    name = str(kind.get("name") or "") if isinstance(kind, dict) else ""
    if isinstance(kind, dict) and not name and kind.get("id"):
        name = next((t.name for t in LINK_TYPES.values() if t.id == str(kind["id"])), "")
    if name not in LINK_TYPES:
        raise error(404, f"No issue link type with name '{name}' found.")

    def side(key: str) -> Issue:
        ref = body.get(key)
        text = str(ref.get("key") or ref.get("id") or "") if isinstance(ref, dict) else ""
        return store.get(text)

    inward, outward = side("inwardIssue"), side("outwardIssue")
    if not (inward.is_task or outward.is_task):
        raise error(403, "You do not have permission to link issues in this project.")
    with store.lock:
        # "inwardIssue" is the subject of the outward phrase: it holds an outward entry
        if any(t == name and d == "outward" and o is outward for _, t, d, o in inward.links):
            return
        store.link(name, outward, "inward", inward)
        now = _now()
        for issue in (inward, outward):
            if issue.is_task:
                issue.updated = now
        store.touch()
