"""Plans write-back: which remediation tasks to create, update and close. Pure, no I/O.

The plan speaks no platform: it emits TaskDrafts (title, body, priority, due, owner, parent)
and closing notes, which each connector renders into its own fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from sms_conformance.connectors.base import TaskDraft, TaskRef
from sms_conformance.model.rows import FindingRow, TaskSubject
from sms_conformance.rules.model import Rule
from sms_conformance.support.validation import write_back_part
from sms_conformance.writeback.guard import (
    DESCRIPTION_CAP,
    MESSAGE_CAP,
    OBSERVED_CAP,
    SHORT_CAP,
    check_owner_groups,
    check_policy,
    clip,
    is_reference,
    neutralise,
)
from sms_conformance.writeback.text import DEFAULT_DISPUTE_TEXT, dispute_lines, target_lines

ProcessName = Annotated[str, Field(pattern=r"^(incident|problem|change|request)$")]
PROCESSES = ("incident", "problem", "change", "request")
SeverityName = Annotated[str, Field(pattern=r"^(critical|high|medium|low|info)$")]
MAX_NEW_TASKS = 100_000
BODY_CUT = "\n[cut to the field's length]"

StateName = Annotated[str, Field(pattern=r"^[a-z_]+$", max_length=40)]

class Policy(BaseModel):
    """How one process's failures become tasks (see task_policy.py)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    # record: one task per live record, corrective actions for closed ones; finding: one task
    # per failing (record, rule), as earlier versions did.
    granularity: Literal["record", "finding"] = "record"
    # Canonical states in which a record is no longer live (config/README.md lists them).
    closed_states: Annotated[tuple[StateName, ...], Strict(False)] = ("closed", "canceled")
    period: Literal["month", "quarter"] = "month"
    # Closed records closed longer ago than this are reported, never tasked.
    lookback_days: int = Field(default=90, ge=0, le=3650)


class WriteBackSettings(BaseModel):
    """The platform-free part of `write_back` in settings.yaml: the policy, the cap, and what
    each severity means for a task. Where tasks go is the connector's part of the block."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_new_tasks: int = Field(200, ge=0, le=MAX_NEW_TASKS)
    # Owner group (a platform id) for tasks on records that have none (or no valid one).
    owner_groups: dict[ProcessName, Annotated[str, Field(max_length=64)]] = {}
    # Owner of tasks whose record has no group and whose process has no owner_groups entry: a
    # group sys_id or name (see fallback_owner.py); "" leaves them unassigned.
    fallback_owner: str = Field("", max_length=100)
    # Closing paragraph of every task: how to dispute a finding or request a waiver.
    dispute_text: str = Field(DEFAULT_DISPUTE_TEXT, max_length=1000)
    priority: dict[SeverityName, Annotated[int, Field(ge=1, le=5)]]
    due_days: dict[SeverityName, Annotated[int, Field(ge=0, le=3650)]]
    policy: dict[ProcessName, Policy] = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WriteBackSettings:
        """Settings from load_settings are already valid; this guards hand-built ones. Keys of
        the block that belong to a connector are left to it."""
        config = write_back_part(cls, settings.get("write_back", {}))
        check_owner_groups(config.owner_groups)
        check_policy(config.policy)
        return config

    def policy_of(self, process: str) -> Policy:
        return self.policy.get(process, Policy())

    def priority_of(self, severity: str) -> int:
        return self.priority.get(severity, 3)

    def due(self, severity: str, now: datetime) -> datetime:
        return now + timedelta(days=self.due_days.get(severity, 14))


@dataclass(frozen=True)
class Create:
    draft: TaskDraft
    subject: TaskSubject

    @property
    def fingerprint(self) -> str:
        return self.draft.fingerprint


@dataclass(frozen=True)
class Update:
    """An open task brought in line with its draft; `note` (if any) says what changed."""

    task: TaskRef
    subject: TaskSubject
    draft: TaskDraft
    note: str = ""

    def changed(self) -> list[str]:
        """Which of what the plan keeps in line differ: title, body, priority."""
        return [name for name, mine, theirs in (
            ("title", self.draft.title, self.task.title), ("body", self.draft.body, self.task.body),
            ("priority", self.draft.priority, self.task.priority)) if mine != theirs]


@dataclass(frozen=True)
class Rekey:
    """An open task named by a release before instance identity (its fingerprint held the
    instance URL): given today's fingerprint before anything else is written."""

    task: TaskRef
    fingerprint: str


@dataclass(frozen=True)
class Replace:
    """A per-(record, rule) task of an earlier version, closed once naming the task that holds
    `fingerprint` now (created by the same run, so its number is known only then)."""

    task: TaskRef
    fingerprint: str
    process: str
    what: str = "which lists every finding on this record"


@dataclass(frozen=True)
class Close:
    task: TaskRef
    note: str


@dataclass(frozen=True)
class Disputed:
    """A task its owner closed as disputed (TaskRef.disputed), left closed: the record fails
    only rules it listed (`rule_ids`, failing now)."""

    task: TaskRef
    subject: TaskSubject
    rule_ids: tuple[str, ...]


@dataclass
class Plan:
    create: list[Create] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    close: list[Close] = field(default_factory=list)
    heal: list[Close] = field(default_factory=list)  # open duplicates of one finding's task
    rekey: list[Rekey] = field(default_factory=list)
    replace: list[Replace] = field(default_factory=list)
    # open tasks left as they are, recorded in the history store for `tasks list`
    known: list[tuple[TaskRef, TaskSubject]] = field(default_factory=list)
    disputed: list[Disputed] = field(default_factory=list)  # left closed, nothing written
    notices: list[str] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        for name in ("create", "update", "close", "heal", "rekey", "replace", "known",
                     "disputed", "notices"):
            getattr(self, name).extend(getattr(other, name))


def subject_of(finding: FindingRow, rule: Rule) -> TaskSubject:
    return TaskSubject("finding", finding.owner, rule.id, rule.clause, finding.number)


def seniority(task: TaskRef) -> tuple[str, int, str, str]:
    """Oldest first: created on, then number (ITASK0010002 before ITASK0010010)."""
    return task.created, len(task.number), task.number, task.id


def in_line(task: TaskRef, draft: TaskDraft) -> bool:
    """The task reads back as the draft would write it (a person may reassign it: the owner is
    not compared)."""
    return (task.title, task.body, task.priority) == (draft.title, draft.body, draft.priority)


def duplicates(tasks: Iterable[TaskRef]) -> tuple[dict[str, TaskRef], list[tuple[TaskRef, TaskRef]]]:
    """The task kept per fingerprint (the oldest open one) and (duplicate, kept) pairs.

    Every run that sees the same open tasks keeps the same one, so two hosts healing at once
    never close each other's keeper.
    """
    groups: dict[str, dict[tuple[str, str], TaskRef]] = {}
    for task in tasks:
        if task.open and task.fingerprint:
            groups.setdefault(task.fingerprint, {})[(task.where, task.id)] = task
    kept: dict[str, TaskRef] = {}
    extra: list[tuple[TaskRef, TaskRef]] = []
    for fp, group in groups.items():
        oldest, *rest = sorted(group.values(), key=seniority)
        kept[fp] = oldest
        extra.extend((task, oldest) for task in rest)
    return kept, extra


def task_draft(
    finding: FindingRow, rule: Rule, config: WriteBackSettings, now: datetime,
    previous: TaskRef | None = None,
) -> TaskDraft:
    """What a process owner reads: which record, which clause, what is wrong, how to fix it.

    Record values are untrusted: ids must look like ids, text is capped and HTML-escaped.
    """
    number = clip(finding.number, 40)
    observed = "\n".join(f"  {k}: {clip(v, OBSERVED_CAP) if v else '(empty)'}"
                         for k, v in finding.observed.items())
    parent, owner, notes = references(finding, config)
    link = clip(finding.url, 300) if parent else "(no link, see below)"
    lines = [
        f"Rule {rule.id} (ISO/IEC 20000-1 clause {rule.clause}): {rule.title}",
        "",
        f"Finding: {clip(finding.message, MESSAGE_CAP)}",
        *target_lines(rule, finding.observed, now),
        *(["Observed:", observed] if observed else []),
        "",
        f"How to fix: {rule.remediation}",
        "",
        f"Record: {number} {link}",
        f"First detected: {finding.first_seen[:10]}. This task closes itself once a scan finds "
        "the record conforms.",
        *notes,
    ]
    if previous is not None:
        lines.append(f"This finding came back after task {clip(previous.number, 40)} was closed.")
    lines += dispute_lines(config.dispute_text)
    return TaskDraft(
        fingerprint=finding.fingerprint, process=finding.process, kind="finding",
        title=neutralise(f"[ISO 20000-1 {rule.clause}] {number}: {rule.title}", SHORT_CAP),
        body=neutralise("\n".join(lines), DESCRIPTION_CAP, BODY_CUT),
        priority=config.priority_of(finding.severity), due=config.due(finding.severity, now),
        owner_id=owner, parent_id=parent,
    )


def references(finding: FindingRow, config: WriteBackSettings) -> tuple[str, str, list[str]]:
    """(parent id, owner id, notes): ids copied from the record only where they look like ids;
    a note for each that does not."""
    notes: list[str] = []
    parent = finding.record_id if is_reference(finding.record_id) else ""
    if not parent:
        notes.append("Note: the record's id is not a valid reference, so this task was left "
                     "unlinked from it: find the record by its number.")
    fallback = config.owner_groups.get(finding.process, "")
    owner = finding.owner_id if is_reference(finding.owner_id) else ""
    if finding.owner_id and not owner:
        notes.append("Note: the record's assignment group is not a valid reference, so this task "
                     + ("went to the process owner group." if fallback else "is unassigned."))
    return parent, owner or fallback, notes


def close_note(now: datetime, why: str) -> str:
    return f"Closed by sms-conformance on {now:%Y-%m-%d %H:%M} UTC: {why}"


def duplicate_close(task: TaskRef, kept: TaskRef, now: datetime, what: str = "finding") -> Close:
    """Closes `task` as a duplicate of `kept` (two runs created a task for one {what})."""
    return Close(task, close_note(now, neutralise(
        f"duplicate of {clip(kept.number, 40)}, which stays open for the same {what}.", 200)))


def plan_write_back(
    failures: Iterable[FindingRow],
    existing: Mapping[str, list[TaskRef]],
    conforming: Iterable[TaskRef],
    rules: Mapping[str, Rule],
    config: WriteBackSettings,
    now: datetime,
    *,
    complete: bool,
    watched: Iterable[TaskRef] = (),
) -> Plan:
    """Create a task per failure without an open one, update changed ones, close conforming ones,
    and heal duplicates: where several open tasks carry one fingerprint, keep the oldest.

    `conforming` are open tasks whose record now passes their rule; `watched` every open task of
    this tool seen before the scan. A finding whose latest task its owner closed as disputed
    gets no new one (plan.disputed). An incomplete scan closes nothing but duplicates: a record it
    did not read is not known to conform, while a duplicate is one whatever the record holds.
    """
    conforming = list(conforming)
    kept, extra = duplicates([*(t for ts in existing.values() for t in ts), *conforming, *watched])
    plan = Plan(heal=[duplicate_close(task, keeper, now) for task, keeper in extra])
    healed = {(c.task.where, c.task.id) for c in plan.heal}
    failing: set[str] = set()
    for finding in failures:
        failing.add(finding.fingerprint)
        tasks = existing.get(finding.fingerprint, [])
        open_task = kept.get(finding.fingerprint)
        # The task closed before this one: older than the open task (its healed duplicates are
        # younger), or the latest closed one for a new task.
        closed = [t for t in tasks if not t.open
                  and (open_task is None or seniority(t) < seniority(open_task))]
        previous = max(closed, key=seniority, default=None)
        rule = rules[finding.rule_id]
        if open_task is None and previous is not None and previous.disputed:
            plan.disputed.append(Disputed(previous, subject_of(finding, rule), (rule.id,)))
            continue
        draft = task_draft(finding, rule, config, now, previous)
        if open_task is None:
            plan.create.append(Create(draft, subject_of(finding, rule)))
        elif not in_line(open_task, draft):
            plan.update.append(Update(open_task, subject_of(finding, rule), draft))
        else:
            plan.known.append((open_task, subject_of(finding, rule)))
    if not complete:
        plan.notices.append("the scan is incomplete: no task is closed")
        return plan
    for task in conforming:
        if task.fingerprint not in failing and (task.where, task.id) not in healed:
            plan.close.append(Close(task, close_note(now, "the record now conforms.")))
    return plan
