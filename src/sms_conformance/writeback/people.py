"""Tasks owned by a person, where the platform's tasks can be (Jira: the task's assignee).

A task port that assigns people says which of a record's owners comes first (`owner_first`:
group or assignee). With `group`, a record without a valid assignment group gives its task to
the record's assignee, before the process owner group and the fallback owner; with `assignee`,
the assignee comes before the record's group. Where the tasks hold no group (Jira without a
group field), every task goes to its record's assignee and a group owner is none. A fallback
owner that is a person takes the tasks left without any owner; a task a person holds is never
handed to a group. The assignees are noted as the scan reads the records (only those a task may
go to), so no request is made for them. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sms_conformance.connectors.base import TaskDraft, TaskRef
from sms_conformance.model.records import Record, Ref
from sms_conformance.writeback.guard import is_person, is_reference
from sms_conformance.writeback.owner import Fallback
from sms_conformance.writeback.plan import Plan

GROUP_FIELD, PERSON_FIELD = "assignment_group", "assignee"


@dataclass
class People:
    """The assignees of the scanned records a task may go to: record id -> (person id, name)."""

    first: str = "group"  # group | assignee
    holds_groups: bool = True  # False: the tasks have no group field to hold one
    of: dict[str, tuple[str, str]] = field(default_factory=dict)

    def note(self, record: Record) -> None:
        person = record.fields.get(PERSON_FIELD)
        if not isinstance(person, Ref) or not is_person(person.id):
            return
        group = record.fields.get(GROUP_FIELD)
        if (self.first == "group" and self.holds_groups and isinstance(group, Ref)
                and is_reference(group.id)):
            return  # the record's group owns its tasks
        self.of[record.id] = (person.id, person.name or person.id)

    def names(self) -> dict[str, str]:
        return dict(self.of.values())


def assign_people(plan: Plan, people: People, fallback: Fallback) -> None:
    """Each new or updated task whose record's assignee comes first goes to that person; a task
    left without an owner goes to the fallback owner when it is a person."""
    plan.create = [replace(c, draft=_owned(c.draft, people, fallback)) for c in plan.create]
    plan.update = [replace(u, draft=_kept(u.task, _owned(u.draft, people, fallback)))
                   for u in plan.update]


def _kept(task: TaskRef, draft: TaskDraft) -> TaskDraft:
    """A task a person holds stays theirs: an update (as of a run that did not read its record,
    an incremental one) never hands it to a group."""
    if task.owner_kind == "person" and draft.owner_kind == "group":
        return replace(draft, owner_id=task.owner, owner_kind="person")
    return draft


def _owned(draft: TaskDraft, people: People, fallback: Fallback) -> TaskDraft:
    person = people.of.get(draft.parent_id) if draft.parent_id else None
    if person is not None:
        return replace(draft, owner_id=person[0], owner_kind="person")
    if not people.holds_groups and draft.owner_kind == "group":
        draft = replace(draft, owner_id="")  # nowhere to write it: not counted as owned
    if not draft.owner_id and fallback.kind == "person" and fallback.group_id:
        return replace(draft, owner_id=fallback.group_id, owner_kind="person")
    return draft
