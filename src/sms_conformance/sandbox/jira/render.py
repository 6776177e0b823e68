"""Issue JSON as Jira Cloud writes it: v3 with ADF text, v2 with wiki strings (reference §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sms_conformance.sandbox.jira.site import (
    ADMIN_ACCOUNT_ID,
    ADMIN_EMAIL,
    ADMIN_NAME,
    CATEGORIES,
    CUSTOM_BY_ID,
    CUSTOM_IDS,
    LINK_TYPES,
    NAVIGABLE_EXCLUDED,
    PRIORITIES,
    PROJECT_ID,
    PROJECT_KEY,
    PROJECT_NAME,
    RESOLUTIONS,
    STATUSES,
    SYSTEM_FIELDS,
    IssueType,
    Placement,
    Status,
)
from sms_conformance.sandbox.jira.sla import sla_value
from sms_conformance.sandbox.jira.store import (
    PLACED_BY_ID,
    Issue,
    JiraStore,
    Stub,
    adf,
    flatten,
    jira_time,
)

ALL_FIELDS = tuple(f for f in SYSTEM_FIELDS if f != "issuekey") + tuple(CUSTOM_BY_ID)
ASSIGNMENT_GROUP = CUSTOM_IDS["Assignment group"]  # the one custom field tasks carry
EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


def select_fields(requested: list[str] | None) -> list[str] | None:
    """Field ids to return for a `fields` parameter (None: only the issue id)."""
    if requested is None:
        return None
    chosen: list[str] = []
    removed: set[str] = set()
    for raw in requested:
        name = raw.strip()
        if name in ("*all", "*navigable"):
            chosen.extend(f for f in ALL_FIELDS
                          if name == "*all" or f not in NAVIGABLE_EXCLUDED)
        elif name.startswith("-"):
            removed.add(name[1:])
        elif name in SYSTEM_FIELDS or name in CUSTOM_BY_ID:
            chosen.append(name)
    return [f for f in dict.fromkeys(chosen) if f not in removed]


class Renderer:
    """JSON of issues and site objects for one request (base URL, API version)."""

    def __init__(self, store: JiraStore, base: str, version: int) -> None:
        self.store, self.base, self.version = store, base, version
        self.api = f"{base}/rest/api/{version}"

    # -- site objects ---------------------------------------------------------------------
    def status(self, status: Status) -> dict[str, Any]:
        cat = CATEGORIES[status.category]
        return {"self": f"{self.api}/status/{status.id}", "description": "",
                "iconUrl": f"{self.base}/images/icons/statuses/generic.png",
                "name": status.name, "id": status.id, "statusCategory": self.category(cat.key)}

    def category(self, key: str) -> dict[str, Any]:
        cat = CATEGORIES[key]
        return {"self": f"{self.api}/statuscategory/{cat.id}", "id": cat.id, "key": cat.key,
                "colorName": cat.color, "name": cat.name}

    def issue_type(self, kind: IssueType) -> dict[str, Any]:
        return {"self": f"{self.api}/issuetype/{kind.id}", "id": kind.id, "description": "",
                "iconUrl": f"{self.base}/rest/api/2/universal_avatar/view/type/issuetype/"
                           f"avatar/{kind.id}?size=medium",
                "name": kind.name, "subtask": kind.subtask, "avatarId": int(kind.id),
                "hierarchyLevel": -1 if kind.subtask else 0}

    def project(self) -> dict[str, Any]:
        return {"self": f"{self.api}/project/{PROJECT_ID}", "id": PROJECT_ID,
                "key": PROJECT_KEY, "name": PROJECT_NAME, "projectTypeKey": "service_desk",
                "simplified": False, "avatarUrls": {
                    "48x48": f"{self.base}/rest/api/3/universal_avatar/view/type/project/"
                             "avatar/10400"}}

    def priority(self, level: Any) -> dict[str, Any] | None:
        if not isinstance(level, int) or level not in PRIORITIES:
            return None
        pid, name = PRIORITIES[level]
        return {"self": f"{self.api}/priority/{pid}",
                "iconUrl": f"{self.base}/images/icons/priorities/{name.lower()}.svg",
                "name": name, "id": pid}

    def resolution(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        rid = RESOLUTIONS.get(name, "10000")
        return {"self": f"{self.api}/resolution/{rid}", "id": rid, "description": "",
                "name": name}

    def user(self, account_id: str | None) -> dict[str, Any] | None:
        if not account_id:
            return None
        person = self.store.view.users.get(account_id)
        name = person.name if person else ADMIN_NAME
        email = person.email if person else ADMIN_EMAIL
        out: dict[str, Any] = {
            "self": f"{self.api}/user?accountId={account_id}", "accountId": account_id,
            "emailAddress": email, "avatarUrls": {}, "displayName": name, "active": True,
            "timeZone": self.store.time_zone, "accountType": "atlassian"}
        if self.version == 2:  # Data Center identifies users by name / key
            login = person.login if person else "admin"
            out.update(name=login, key=login)
        return out

    def text(self, value: Any) -> Any:
        """Long text: ADF on v3, a wiki string on v2."""
        if value is None:
            return None
        if self.version == 2:
            return flatten(value)
        return value if isinstance(value, dict) else adf(str(value))

    def link_type(self, name: str) -> dict[str, Any]:
        t = LINK_TYPES[name]
        return {"id": t.id, "name": t.name, "inward": t.inward, "outward": t.outward,
                "self": f"{self.api}/issueLinkType/{t.id}"}

    def stub(self, other: Issue | Stub) -> dict[str, Any]:
        if isinstance(other, Stub):
            return {"id": str(other.id), "key": other.key,
                    "self": f"{self.api}/issue/{other.id}",
                    "fields": {"summary": "", "status": self.status(STATUSES["Closed"]),
                               "priority": None, "issuetype": self.issue_type(other.type)}}
        return {"id": str(other.id), "key": other.key, "self": f"{self.api}/issue/{other.id}",
                "fields": {"summary": self.field(other, "summary"),
                           "status": self.status(STATUSES[other.status]),
                           "priority": self.field(other, "priority"),
                           "issuetype": self.issue_type(other.type)}}

    # -- issues ---------------------------------------------------------------------------
    def issue(self, issue: Issue, fields: list[str] | None,
              expand: frozenset[str] = frozenset()) -> dict[str, Any]:
        if fields is None:
            return {"id": str(issue.id)}
        out: dict[str, Any] = {"expand": EXPAND, "id": str(issue.id),
                               "self": f"{self.api}/issue/{issue.id}", "key": issue.key}
        shown: dict[str, Any] = {}
        record = issue.record
        placed = PLACED_BY_ID[issue.process] if record is not None else {}
        values = record.values if record is not None else {}
        unseen = self.store.unseen
        for field_id in fields:
            if field_id in unseen:
                continue
            found = placed.get(field_id)
            if found is not None:
                shown[field_id] = self._placed(issue, found[1], values.get(found[0]))
            elif field_id not in CUSTOM_BY_ID:
                shown[field_id] = self._system(issue, field_id)
            elif record is None and field_id == ASSIGNMENT_GROUP:
                shown[field_id] = self._group(issue.group)
            # other custom fields are not in this issue type's field context: left out
        out["fields"] = shown
        if "names" in expand:
            out["names"] = {f: _field_name(f) for f in shown}
        if "schema" in expand:
            out["schema"] = {f: _field_schema(f) for f in shown}
        return out

    def field(self, issue: Issue, field_id: str) -> Any:
        """One field of an issue (None where the issue type has no such field)."""
        found = self.store.placement(issue, field_id)
        if found is not None and issue.record is not None:
            return self._placed(issue, found[1], issue.record.values.get(found[0]))
        if field_id in CUSTOM_BY_ID:
            return self._group(issue.group) if field_id == ASSIGNMENT_GROUP else None
        return self._system(issue, field_id)

    def _placed(self, issue: Issue, place: Placement, value: Any) -> Any:
        kind = place.kind
        if kind == "sla":  # worked out from the issue's SLA records, as JSM does
            return sla_value(issue, place.target)
        if value is None or value == "":
            return "" if kind == "text" else None
        if kind == "datetime":
            return jira_time(value, issue.zone) if isinstance(value, datetime) else None
        if kind == "date":  # a day without a zone: the sandbox's due dates are UTC midnights
            return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else None
        if kind == "adf":
            return self.text(str(value))
        if kind in ("text", "string"):
            return str(value)
        if kind == "user":
            return self.user(str(value))
        if kind == "group":
            return self._group(str(value))
        if kind == "services":
            return [{"id": str(value), "name": self.store.view.services.get(str(value), "")}]
        if kind == "cis":
            return [self.store.assets.field_value(str(value))]
        if kind == "number":
            return float(value)
        if kind == "request_type":
            return self._request_type(issue, str(value))
        if kind == "approvals":
            decision = (place.texts or {}).get(value)
            return [{"id": str(issue.id), "name": "Approve the request",
                     "finalDecision": decision, "canAnswerApproval": False,
                     "approvers": []}] if decision else None
        if kind == "priority":
            return self.priority(value)
        if kind == "resolution":
            return self.resolution((place.texts or {}).get(value, str(value)))
        text = (place.texts or {}).get(value, str(value))
        option_id = self.store.options.id(place.target, text)
        return {"self": f"{self.api}/customFieldOption/{option_id}", "value": text,
                "id": option_id}

    def _request_type(self, issue: Issue, item_id: str) -> dict[str, Any]:
        """JSM Cloud's Request Type value: the portal request type and the current status."""
        names = sorted(self.store.view.catalog_items)
        type_id = str(names.index(item_id) + 1) if item_id in names else "0"
        status = STATUSES[issue.status]
        return {"_links": {"jiraRest": f"{self.api}/issue/{issue.id}",
                           "web": f"{self.base}/servicedesk/customer/portal/1/{issue.key}"},
                "requestType": {"id": type_id, "name": self.store.view.catalog_items.get(
                    item_id, ""), "serviceDeskId": "1", "portalId": "1"},
                "currentStatus": {"status": status.name,
                                  "statusCategory": status.category.upper()}}

    def _group(self, group_id: str | None) -> dict[str, Any] | None:
        if not group_id:
            return None
        return {"name": self.store.view.groups.get(group_id, ""), "groupId": group_id,
                "self": f"{self.api}/group?groupId={group_id}"}

    def _system(self, issue: Issue, field_id: str) -> Any:
        if field_id == "summary":
            return issue.summary
        if field_id == "description":
            return self.text(issue.description)
        if field_id == "status":
            return self.status(STATUSES[issue.status])
        if field_id == "statusCategory":
            return self.category(STATUSES[issue.status].category)
        if field_id == "priority":
            return self.priority(issue.priority)
        if field_id == "reporter":
            return self.user(ADMIN_ACCOUNT_ID)
        if field_id == "assignee":  # a task's, as written
            return self.user(issue.assignee) if issue.assignee else None
        if field_id == "created":
            return jira_time(issue.created, issue.zone)
        if field_id == "updated":
            return jira_time(issue.updated, issue.zone)
        if field_id == "resolutiondate":
            resolved = _resolved_at(issue)
            return jira_time(resolved, issue.zone) if resolved else None
        if field_id == "resolution":
            return self.resolution(issue.resolution)
        if field_id == "issuetype":
            return self.issue_type(issue.type)
        if field_id == "project":
            return self.project()
        if field_id == "labels":
            return list(issue.labels)
        if field_id == "issuelinks":
            return [{"id": link_id, "self": f"{self.api}/issueLink/{link_id}",
                     "type": self.link_type(type_name), f"{direction}Issue": self.stub(other)}
                    for link_id, type_name, direction, other in issue.links]
        if field_id == "parent":
            return self.stub(issue.parent) if issue.parent is not None else None
        if field_id == "subtasks":
            return [self.stub(child) for child in issue.subtasks]
        if field_id == "duedate":
            return issue.duedate
        if field_id == "comment":
            comments = [self.comment(issue, c) for c in issue.comments]
            return {"comments": comments, "self": f"{self.api}/issue/{issue.id}/comment",
                    "maxResults": len(comments), "total": len(comments), "startAt": 0}
        return None

    def comment(self, issue: Issue, stored: dict[str, Any]) -> dict[str, Any]:
        author = self.user(ADMIN_ACCOUNT_ID)
        return {"self": f"{self.api}/issue/{issue.id}/comment/{stored['id']}",
                "id": stored["id"], "author": author, "body": self.text(stored["body"]),
                "updateAuthor": author, "created": stored["created"],
                "updated": stored["created"], "jsdPublic": False}


def _resolved_at(issue: Issue) -> datetime | None:
    if issue.record is None:
        return issue.resolved
    values = issue.record.values
    value = values.get("resolved_at")
    if value is None and issue.process == "change" and values.get("resolution_code"):
        value = values.get("closed_at")
    if issue.process == "request":
        value = values.get("closed_at")
    return value if isinstance(value, datetime) else None


def _field_name(field_id: str) -> str:
    if field_id in CUSTOM_BY_ID:
        return CUSTOM_BY_ID[field_id].name
    return SYSTEM_FIELDS[field_id][0]


def _field_schema(field_id: str) -> dict[str, Any]:
    if field_id in CUSTOM_BY_ID:
        return CUSTOM_BY_ID[field_id].schema(field_id)
    return SYSTEM_FIELDS[field_id][1]


def field_list(absent: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """GET /rest/api/3/field: system fields, then the custom fields (reference §4), less those
    the site does not have."""
    out: list[dict[str, Any]] = []
    for field_id, (name, schema) in SYSTEM_FIELDS.items():
        if field_id in absent:
            continue
        clause = ["issuekey", "key", "id"] if field_id == "issuekey" else [field_id]
        entry: dict[str, Any] = {"id": field_id, "key": field_id, "name": name, "custom": False,
                                 "orderable": True, "navigable": True, "searchable": True,
                                 "clauseNames": clause}
        if schema:
            entry["schema"] = schema
        out.append(entry)
    for field_id, custom in CUSTOM_BY_ID.items():
        if field_id in absent:
            continue
        number = field_id.rsplit("_", 1)[1]
        out.append({"id": field_id, "key": field_id, "name": custom.name,
                    "untranslatedName": custom.name, "custom": True, "orderable": True,
                    "navigable": True, "searchable": True,
                    "clauseNames": [f"cf[{number}]", custom.name],
                    "schema": custom.schema(field_id)})
    return out
