"""JiraTasks: remediation tasks as Jira issues (interfaces.md B's TaskPort).

A task is a Task in the configured project (or a Sub-task of the record), linked to the record
with "Relates", labelled `sms-conformance`, `smsc-p-<process>` and `smsc-fp-<fingerprint>`: one
JQL query finds the tasks of many fingerprints. An owner disputes a task with the label
`sms-disputed` (TaskRef.disputed; the tool never removes a label). Only issues that carry this
tool's labels in the configured project and of its task types are ever edited: a record never
is. It is closed through a transition whose target status is in the done category, then
commented.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from sms_conformance.connectors.base import DISPUTE_MARKER, TaskDraft, TaskNotWritten, TaskRef
from sms_conformance.connectors.http.retry import AmbiguousWriteError
from sms_conformance.connectors.jira import adf, jql
from sms_conformance.connectors.jira.owners import account_id, find_owner
from sms_conformance.connectors.jira.responses import JiraRequestError
from sms_conformance.connectors.jira.search import SearchStats
from sms_conformance.connectors.jira.site import Site, batched
from sms_conformance.connectors.jira.values import parse_timestamp, ref_id, text_of
from sms_conformance.model.errors import ConfigError, SourceError

TOOL_LABEL = "sms-conformance"
FINGERPRINT = re.compile(r"^[0-9a-f]{40}$")
PRIORITY_NAMES = {1: "Highest", 2: "High", 3: "Medium", 4: "Low", 5: "Lowest"}
LABELS_PER_QUERY = 50
CLOSE_ATTEMPTS = 2  # tries of a failing transition (each re-reads the status before the next)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TASK_FIELDS = ("summary", "description", "priority", "labels", "status", "created", "issuelinks",
               "parent", "issuetype", "project", "duedate", "assignee")
Json = dict[str, Any]


def fingerprint_label(fingerprint: str) -> str:
    if not FINGERPRINT.fullmatch(fingerprint):
        raise ConfigError(f"invalid fingerprint {fingerprint!r}: expected 40 hex digits")
    return f"smsc-fp-{fingerprint}"


def process_label(process: str) -> str:
    if process not in ("incident", "problem", "change", "request"):
        raise ConfigError(f"invalid process {process!r}")
    return f"smsc-p-{process}"


class JiraTasks:
    """Find, create, update and close this tool's tasks in one project."""

    def __init__(
        self,
        connector: Site,
        *,
        project: str = "ITSM",
        task_type: str = "Task",
        subtask_type: str = "Sub-task",
        as_subtask: bool = False,
        link_type: str = "Relates",
        done_transition: str | None = None,  # a transition name; else any to a done status
        owner_field: str | None = None,  # a group picker field id for draft.owner_id
        owner_first: str = "group",  # group | assignee: which of a record's owners a task takes
        priorities: Mapping[int, str] | None = None,
        max_workers: int = 4,
    ) -> None:
        self.connector = connector
        self.client = connector.client
        self.project = jql.project_key(project)
        self.task_type, self.subtask_type = task_type, subtask_type
        self.as_subtask = as_subtask
        self.link_type = link_type
        self.done_transition = done_transition
        self.owner_field = owner_field
        self.owner_first = owner_first
        self.priorities = dict(priorities or PRIORITY_NAMES)
        self.max_workers = max_workers
        # Search lags behind writes: what this run created is found here until it shows there.
        self.created: dict[str, TaskRef] = {}
        self._lock = threading.Lock()

    @property
    def api(self) -> str:
        self.connector.who()
        return self.connector.api

    def where(self, process: str) -> str:
        """Every process's tasks go to the one project."""
        process_label(process)
        return self.project

    def list_url(self, process: str, ids: Sequence[str]) -> str:
        """The site's issue search listing exactly these records ("" unless all are issue ids)."""
        if not ids or not all(re.fullmatch(r"[0-9]+", i) for i in ids):
            return ""
        query = quote(f"id in ({', '.join(ids)}) ORDER BY key ASC", safe="")
        return f"{self.connector.instance}/issues/?jql={query}"

    def find_owner(self, setting: str) -> tuple[str, str, str] | None:
        """(person | group, id, name) of the person or group `setting` names on the site (the
        fallback owner); a group only where tasks have a group field to hold it."""
        found = find_owner(self.client, self.api, setting)
        if found is None or (found.kind == "group" and not self.owner_field):
            return None
        return found.kind, found.id, found.name

    # -- finding ------------------------------------------------------------------------------

    def find_tasks(self, process: str, fingerprints: Iterable[str]) -> list[TaskRef]:
        """Every task, open or closed, carrying one of `fingerprints` (duplicates included)."""
        wanted = sorted({fingerprint_label(f) for f in fingerprints if f})
        found: dict[str, TaskRef] = {}
        for chunk in batched(wanted, LABELS_PER_QUERY):
            query = jql.all_of([self._ours(), jql.one_of("labels", chunk)])
            for task in self._search(query):
                if fingerprint_label(task.fingerprint) in chunk:  # never trust the filter
                    found[task.id] = task
        with self._lock:
            for task in self.created.values():
                if fingerprint_label(task.fingerprint) in wanted:
                    found.setdefault(task.id, task)
        return sorted(found.values(), key=lambda t: (t.created, t.number))

    def open_tasks(self, process: str) -> list[TaskRef]:
        """Every open task this tool created for `process`."""
        query = jql.all_of([self._ours(), f"labels = {jql.quote(process_label(process))}",
                            "statusCategory != Done"])
        return [t for t in self._search(query) if t.open]

    def read_task(self, task: TaskRef) -> TaskRef | None:
        """The issue read by id (GET, no search); None when deleted; `marked` False when a
        person took this tool's labels off it, changed its fingerprint label or moved it."""
        if not re.fullmatch(r"[0-9]+", task.id):
            return None
        issue = self.client.get(f"/rest/api/{self.api}/issue/{task.id}",
                                {"fields": ",".join(TASK_FIELDS)})
        fields = issue.get("fields") if isinstance(issue, dict) else None
        if not isinstance(issue, dict) or not isinstance(fields, dict):
            return None
        found = self._task(issue)
        here = _dict(fields.get("project")).get("key") == self.project
        if found is not None and found.fingerprint == task.fingerprint and here:
            return found
        category = _dict(_dict(fields.get("status")).get("statusCategory")).get("key")
        return replace(task, number=str(issue.get("key") or task.number),
                       open=category != "done", marked=False)

    def _ours(self) -> str:
        return f"project = {self.project} AND labels = {jql.quote(TOOL_LABEL)}"

    def _search(self, query: str) -> Iterator[TaskRef]:
        for issue in self.connector.search(f"{query} ORDER BY key ASC", TASK_FIELDS,
                                           SearchStats()):
            task = self._task(issue)
            if task is not None:
                yield task

    # -- writing ------------------------------------------------------------------------------

    def create_tasks(self, drafts: Sequence[TaskDraft]) -> list[TaskRef]:
        """Create concurrently, results in input order; SourceError if any failed (the others
        were created: a rerun finds them by fingerprint)."""
        def one(draft: TaskDraft) -> TaskRef | SourceError:
            try:
                return self.create_task(draft)
            except SourceError as exc:
                return exc

        self.connector.who()  # once, before the threads

        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            results = list(pool.map(one, drafts))
        failed = [r for r in results if isinstance(r, SourceError)]
        if failed:
            raise SourceError(f"{self.project}: {len(failed)} of {len(drafts)} tasks could not "
                              f"be created (the others were): {failed[0]}")
        return [r for r in results if isinstance(r, TaskRef)]

    def create_task(self, draft: TaskDraft) -> TaskRef:
        fields = self._fields(draft)
        if draft.owner_kind == "person" and draft.owner_id:
            # Set once: a person may hand the task on; updates leave the assignee alone.
            who = "accountId" if self.api == "3" else "name"
            fields["assignee"] = {who: account_id(draft.owner_id)}
        fields.update({
            "project": {"key": self.project},
            "issuetype": {"name": self.task_type},
            "labels": [TOOL_LABEL, process_label(draft.process),
                       fingerprint_label(draft.fingerprint)],
        })
        subtask = self.as_subtask and bool(draft.parent_id)
        if subtask:
            fields["issuetype"] = {"name": self.subtask_type}
            fields["parent"] = {"id": jql.issue_id(draft.parent_id)}
        task_id = self._post_issue(draft, fields)
        if draft.parent_id and not subtask:
            # Naming is inverted: the inwardIssue is the subject of the outward phrase, so
            # this reads "<task> relates to <record>". Posting a link again is harmless.
            self.client.post(f"/rest/api/{self.api}/issueLink", {
                "type": {"name": self.link_type},
                "inwardIssue": {"id": task_id},
                "outwardIssue": {"id": jql.issue_id(draft.parent_id)},
            })
        if draft.attachment is not None:
            name, content = draft.attachment
            self.client.upload(f"/rest/api/{self.api}/issue/{task_id}/attachments", name, content)
        task = self._read(task_id)
        with self._lock:
            self.created[draft.fingerprint] = task
        return task

    def _post_issue(self, draft: TaskDraft, fields: Json) -> str:
        """The new issue's id. When the answer to a create is lost, the task is looked up by
        fingerprint before the create is sent again (the plan creates only fingerprints it
        did not find, so one found now is the one this call created)."""
        path = f"/rest/api/{self.api}/issue"
        try:
            created = self.client.post(path, {"fields": fields}, write=True)
        except AmbiguousWriteError:
            existing = self.find_tasks(draft.process, [draft.fingerprint])
            if existing:
                return existing[0].id
            created = self.client.post(path, {"fields": fields}, write=True)
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise SourceError(f"POST {path}: no issue id in the answer")
        return str(created["id"])

    def update_task(self, task: TaskRef, draft: TaskDraft, note: str) -> TaskRef:
        """Title, body, priority and due date become the draft's; `note` added as a comment."""
        self._confined(task)  # a done task is updated too: a person may reopen it
        self.client.put(f"/rest/api/{self.api}/issue/{task.id}", {"fields": self._fields(draft)})
        self._comment(task.id, note)
        return self._read(task.id)

    def rekey_task(self, task: TaskRef, fingerprint: str) -> TaskRef:
        """The fingerprint label swapped for today's; the other labels kept."""
        self._confined(task)
        issue = self.client.get(f"/rest/api/{self.api}/issue/{task.id}", {"fields": "labels"})
        labels = [label for label in _list(_dict(_dict(issue).get("fields")).get("labels"))
                  if label != fingerprint_label(task.fingerprint)]
        self.client.put(f"/rest/api/{self.api}/issue/{task.id}",
                        {"fields": {"labels": [*labels, fingerprint_label(fingerprint)]}})
        return self._read(task.id)

    def close_task(self, task: TaskRef, note: str) -> None:
        """The transition to a done status, then `note` as a comment once it went through (one
        comment per close, however often a failing close is tried). A task already done
        (closed by a person, or by another run at the same time) is closed: nothing is written.
        A transition refused (400) or failing (5xx) raises TaskNotWritten after at most
        CLOSE_ATTEMPTS tries, never a long retry: the rest of the plan goes on."""
        if self._confined(task):
            return
        path = f"/rest/api/{self.api}/issue/{task.id}/transitions"
        chosen = _done_transition(self.client.get(path), self.done_transition)
        if chosen is None:
            raise TaskNotWritten(f"{task.number}: no transition to a done status is available "
                                 f"(workflow of {self.task_type}); close it by hand")
        for attempt in range(1, CLOSE_ATTEMPTS + 1):
            try:
                self.client.post(path, {"transition": {"id": chosen}}, write=True)
                break
            except (AmbiguousWriteError, JiraRequestError) as exc:
                if self._is_done(task.id):  # it went through, or another run closed it
                    return
                if isinstance(exc, JiraRequestError) or attempt == CLOSE_ATTEMPTS:
                    raise TaskNotWritten(f"{task.number}: the transition to done did not go "
                                         f"through ({exc}); left open, tried again next run"
                                         ) from None
        self._comment(task.id, note)

    def _is_done(self, issue_id: str) -> bool:
        issue = self.client.get(f"/rest/api/{self.api}/issue/{issue_id}", {"fields": "status"})
        fields = _dict(_dict(issue).get("fields"))
        return _dict(_dict(fields.get("status")).get("statusCategory")).get("key") == "done"

    def _fields(self, draft: TaskDraft) -> Json:
        fingerprint_label(draft.fingerprint)
        fields: Json = {
            "summary": draft.title,
            "description": self._text(draft.body),
            "priority": {"name": self.priorities.get(draft.priority, "Medium")},
            "duedate": draft.due.astimezone(timezone.utc).strftime("%Y-%m-%d"),
        }
        if self.owner_field and draft.owner_kind == "group":
            fields[self.owner_field] = {"groupId": draft.owner_id} if draft.owner_id else None
        return fields

    def _text(self, text: str) -> Any:
        """Rich text as the API version takes it: ADF paragraphs (v3), plain text (v2)."""
        return adf.document(text) if self.api == "3" else text

    def _comment(self, issue_id: str, note: str) -> None:
        if note:
            self.client.post(f"/rest/api/{self.api}/issue/{issue_id}/comment",
                             {"body": self._text(note)})

    def _confined(self, task: TaskRef) -> bool:
        """Refuse to edit an issue that is not a task of this tool, whatever the caller says;
        True when the task is done already. A task a person moved, retyped or relabelled is
        reported (TaskNotWritten) and left alone."""
        if not re.fullmatch(r"[0-9]+", task.id):
            raise ConfigError(f"refusing to edit {task.number or task.id!r}: not an issue id")
        issue = self.client.get(f"/rest/api/{self.api}/issue/{task.id}",
                                {"fields": "labels,project,issuetype,status"})
        fields = issue.get("fields") if isinstance(issue, dict) else None
        if not isinstance(fields, dict):
            raise TaskNotWritten(f"{task.number}: the task no longer exists (404)")
        labels = _list(fields.get("labels"))
        project = _dict(fields.get("project"))
        kind = text_of(fields.get("issuetype")) or ""
        key = _dict(issue).get("key", task.id)
        labelled = TOOL_LABEL in labels and fingerprint_label(task.fingerprint) in labels
        typed = kind.casefold() in {self.task_type.casefold(), self.subtask_type.casefold()}
        if not (labelled or typed):  # a record, another tool's issue: never ours
            raise ConfigError(f"refusing to edit {key}: not a remediation task of this tool "
                              f"in {self.project}")
        if project.get("key") != self.project:
            raise TaskNotWritten(f"{key} was moved out of {self.project}: left alone",
                                 left_alone=True)
        if not typed:
            raise TaskNotWritten(f"{key} is now a {kind or 'different'} issue, not a "
                                 f"{self.task_type}: left alone (retyped by a person?)",
                                 left_alone=True)
        if not labelled:
            raise TaskNotWritten(f"{key} no longer carries the labels {TOOL_LABEL} and "
                                 f"{fingerprint_label(task.fingerprint)}: left alone",
                                 left_alone=True)
        category = _dict(_dict(fields.get("status")).get("statusCategory"))
        return category.get("key") == "done"

    def _read(self, issue_id: str) -> TaskRef:
        issue = self.client.get(f"/rest/api/{self.api}/issue/{issue_id}",
                                {"fields": ",".join(TASK_FIELDS)})
        task = self._task(issue) if isinstance(issue, dict) else None
        if task is None:
            raise SourceError(f"task {issue_id} could not be read back after writing it")
        return task

    def _task(self, issue: Json) -> TaskRef | None:
        """A task read back; None for an issue without this tool's fingerprint label."""
        fields = issue.get("fields")
        if not isinstance(fields, dict):
            return None
        labels = [x for x in _list(fields.get("labels")) if isinstance(x, str)]
        prints = [x[len("smsc-fp-"):] for x in labels if x.startswith("smsc-fp-")]
        if TOOL_LABEL not in labels or len(prints) != 1 or not FINGERPRINT.fullmatch(prints[0]):
            return None
        category = _dict(fields.get("status")).get("statusCategory")
        done = isinstance(category, dict) and category.get("key") == "done"
        by_name = {name.casefold(): number for number, name in self.priorities.items()}
        created = fields.get("created")
        moment = parse_timestamp(created) if isinstance(created, str) else None
        due = fields.get("duedate")
        group = (ref_id(fields.get(self.owner_field)) if self.owner_field else None) or ""
        person = ref_id(fields.get("assignee")) or ""
        return TaskRef(
            fingerprint=prints[0], where=self.project, id=str(issue.get("id", "")),
            number=str(issue.get("key", "")), open=not done, parent=self._parent(fields),
            title=text_of(fields.get("summary")) or "",
            body=_body(fields.get("description")),
            priority=by_name.get((text_of(fields.get("priority")) or "").casefold(), 0),
            created=moment.strftime("%Y-%m-%d %H:%M:%S") if isinstance(moment, datetime) else "",
            owner=group or person, owner_kind="group" if group or not person else "person",
            due=f"{due} 00:00:00" if isinstance(due, str) and _DATE.fullmatch(due) else "",
            disputed=DISPUTE_MARKER in {label.casefold() for label in labels},
        )

    def _parent(self, fields: Json) -> str:
        parent = fields.get("parent")
        if isinstance(parent, dict) and parent.get("id"):
            return str(parent["id"])
        for link in fields.get("issuelinks") or []:
            kind = link.get("type") if isinstance(link, dict) else None
            if isinstance(kind, dict) and str(kind.get("name", "")).casefold() == \
                    self.link_type.casefold():
                other = link.get("outwardIssue") or link.get("inwardIssue")
                if isinstance(other, dict) and other.get("id"):
                    return str(other["id"])
        return ""


def _done_transition(body: Any, name: str | None) -> str | None:
    """The id of the transition named `name`, else of the first one to a done status."""
    transitions = body.get("transitions") if isinstance(body, dict) else None
    for item in transitions if isinstance(transitions, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        category = _dict(item.get("to")).get("statusCategory")
        if name is not None:
            if str(item.get("name", "")).casefold() == name.casefold():
                return item["id"]  # type: ignore[no-any-return]
        elif isinstance(category, dict) and category.get("key") == "done":
            return item["id"]  # type: ignore[no-any-return]
    return None


def _body(raw: Any) -> str:
    """A task's description as text; "" when a user made it unreadable (too deep, too large)."""
    try:
        return text_of(raw) or ""
    except adf.AdfError:
        return ""


def _dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
