"""Plans write-back: which remediation tasks to create, update and close. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from sms_conformance.connectors.base import TaskRef
from sms_conformance.errors import ConfigError
from sms_conformance.history import FindingRow, TaskSubject
from sms_conformance.rules.model import Rule
from sms_conformance.task_text import DEFAULT_DISPUTE_TEXT, dispute_lines, target_lines
from sms_conformance.writeback_guard import (
    DESCRIPTION_CAP,
    MESSAGE_CAP,
    OBSERVED_CAP,
    SHORT_CAP,
    check_owner_groups,
    check_policy,
    check_targets,
    clip,
    is_reference,
    neutralise,
)

CORRELATION_DISPLAY = "sms-conformance"
# Fields kept in line with the finding; a person may reassign a task, so the group is not one.
COMPARED = ("short_description", "description", "priority")


ProcessName = Annotated[str, Field(pattern=r"^(incident|problem|change)$")]
SeverityName = Annotated[str, Field(pattern=r"^(critical|high|medium|low|info)$")]
# Table and field names go into API paths and queries: platform identifiers only.
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$", max_length=80)]
MAX_NEW_TASKS = 100_000


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    table: Identifier
    parent_field: Identifier


class TaskStates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    closed: str = Field(min_length=1, max_length=40)


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
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_new_tasks: int = Field(200, ge=0, le=MAX_NEW_TASKS)
    targets: dict[ProcessName, Target]
    # Tables besides incident_task, problem_task and change_task that targets may name; each
    # must extend task (`sms-conformance doctor` checks).
    custom_task_tables: Annotated[tuple[Identifier, ...], Strict(False)] = ()  # YAML gives a list
    owner_groups: dict[ProcessName, Annotated[str, Field(max_length=64)]] = {}
    # Owner of tasks whose record has no group and whose process has no owner_groups entry: a
    # group sys_id or name (see fallback_owner.py); "" leaves them unassigned.
    fallback_owner: str = Field("", max_length=100)
    # Closing paragraph of every task: how to dispute a finding or request a waiver.
    dispute_text: str = Field(DEFAULT_DISPUTE_TEXT, max_length=1000)
    priority: dict[SeverityName, Annotated[int, Field(ge=1, le=5)]]
    due_days: dict[SeverityName, Annotated[int, Field(ge=0, le=3650)]]
    states: dict[Identifier, TaskStates]
    policy: dict[ProcessName, Policy] = {}

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WriteBackSettings:
        """Settings from load_settings are already valid; this guards hand-built ones."""
        try:
            config = cls.model_validate(settings.get("write_back", {}))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(step) for step in ("write_back", *err["loc"]))
            raise ConfigError(f"settings {where}: {err['msg']}") from None
        check_targets(config.target_fields(), config.custom_task_tables)
        check_owner_groups(config.owner_groups)
        check_policy(config.policy)
        return config

    def policy_of(self, process: str) -> Policy:
        return self.policy.get(process, Policy())

    def target_fields(self) -> dict[str, tuple[str, str]]:
        """process -> (task table, field naming the record)."""
        return {p: (t.table, t.parent_field) for p, t in self.targets.items()}

    def closed_state(self, table: str) -> str:
        return self.states[table].closed if table in self.states else "3"


@dataclass(frozen=True)
class Create:
    table: str
    fingerprint: str
    subject: TaskSubject
    fields: dict[str, str]


@dataclass(frozen=True)
class Update:
    task: TaskRef
    subject: TaskSubject
    fields: dict[str, str]


@dataclass(frozen=True)
class Replace:
    """A per-(record, rule) task of an earlier version, closed once naming the task that holds
    `fingerprint` now (created by the same run, so its number is known only then)."""

    task: TaskRef
    fingerprint: str
    what: str = "which lists every finding on this record"


@dataclass(frozen=True)
class Close:
    task: TaskRef
    fields: dict[str, str]


@dataclass
class Plan:
    create: list[Create] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    close: list[Close] = field(default_factory=list)
    heal: list[Close] = field(default_factory=list)  # open duplicates of one finding's task
    replace: list[Replace] = field(default_factory=list)
    # open tasks left as they are, recorded in the history store for `tasks list`
    known: list[tuple[TaskRef, TaskSubject]] = field(default_factory=list)

    def extend(self, other: Plan) -> None:
        for name in ("create", "update", "close", "heal", "replace", "known", "notices"):
            getattr(self, name).extend(getattr(other, name))
    notices: list[str] = field(default_factory=list)


def subject_of(finding: FindingRow, rule: Rule) -> TaskSubject:
    return TaskSubject("finding", finding.owner, rule.id, rule.clause, finding.number)


def seniority(task: TaskRef) -> tuple[str, int, str, str]:
    """Oldest first: created on, then number (ITASK0010002 before ITASK0010010)."""
    return task.created, len(task.number), task.number, task.id


def duplicates(tasks: Iterable[TaskRef]) -> tuple[dict[str, TaskRef], list[tuple[TaskRef, TaskRef]]]:
    """The task kept per fingerprint (the oldest open one) and (duplicate, kept) pairs.

    Every run that sees the same open tasks keeps the same one, so two hosts healing at once
    never close each other's keeper.
    """
    groups: dict[str, dict[tuple[str, str], TaskRef]] = {}
    for task in tasks:
        if task.open and task.fingerprint:
            groups.setdefault(task.fingerprint, {})[(task.table, task.id)] = task
    kept: dict[str, TaskRef] = {}
    extra: list[tuple[TaskRef, TaskRef]] = []
    for fp, group in groups.items():
        oldest, *rest = sorted(group.values(), key=seniority)
        kept[fp] = oldest
        extra.extend((task, oldest) for task in rest)
    return kept, extra


def task_fields(
    finding: FindingRow, rule: Rule, config: WriteBackSettings, now: datetime,
    previous: TaskRef | None = None,
) -> dict[str, str]:
    """What a process owner reads: which record, which clause, what is wrong, how to fix it.

    Record values are untrusted: references must be sys_ids, text is capped and HTML-escaped.
    """
    target = config.targets[finding.process]
    number = clip(finding.number, 40)
    observed = "\n".join(f"  {k}: {clip(v, OBSERVED_CAP) if v else '(empty)'}"
                         for k, v in finding.observed.items())
    refs, notes = references(finding, target.parent_field, config)
    link = clip(finding.url, 300) if target.parent_field in refs else "(no link, see below)"
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
    due = now + timedelta(days=config.due_days.get(finding.severity, 14))
    return {
        "short_description": neutralise(f"[ISO 20000-1 {rule.clause}] {number}: {rule.title}",
                                        SHORT_CAP),
        "description": neutralise("\n".join(lines), DESCRIPTION_CAP,
                                  "\n[cut to the field's length]"),
        "priority": str(config.priority.get(finding.severity, 3)),
        "due_date": due.strftime("%Y-%m-%d %H:%M:%S"),
        "correlation_id": finding.fingerprint,
        "correlation_display": CORRELATION_DISPLAY,
        **refs,
    }


def references(
    finding: FindingRow, parent_field: str, config: WriteBackSettings
) -> tuple[dict[str, str], list[str]]:
    """Reference fields copied from the record, only where they hold a sys_id; notes otherwise."""
    refs: dict[str, str] = {}
    notes: list[str] = []
    if is_reference(finding.record_id):
        refs[parent_field] = finding.record_id
    else:
        notes.append(f"Note: the record's sys_id is not a valid reference, so {parent_field} "
                     "was left empty: find the record by its number.")
    fallback = config.owner_groups.get(finding.process, "")
    if is_reference(finding.owner_id):
        refs["assignment_group"] = finding.owner_id
    elif finding.owner_id:
        notes.append("Note: the record's assignment group is not a valid reference, so this task "
                     + ("went to the process owner group." if fallback else "is unassigned."))
    if "assignment_group" not in refs and fallback:
        refs["assignment_group"] = fallback
    return refs, notes


def close_fields(task: TaskRef, config: WriteBackSettings, now: datetime, why: str) -> dict[str, str]:
    note = f"Closed by sms-conformance on {now:%Y-%m-%d %H:%M} UTC: {why}"
    return {"state": config.closed_state(task.table), "work_notes": note, "close_notes": note}


def duplicate_fields(kept: TaskRef, config: WriteBackSettings, now: datetime,
                     task: TaskRef) -> dict[str, str]:
    """Closes `task` as a duplicate of `kept` (two runs created a task for one finding)."""
    return close_fields(task, config, now, neutralise(
        f"duplicate of {clip(kept.number, 40)}, which stays open for the same finding.", 200))


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
    this tool seen before the scan. An incomplete scan closes nothing but duplicates: a record it
    did not read is not known to conform, while a duplicate is one whatever the record holds.
    """
    conforming = list(conforming)
    kept, extra = duplicates([*(t for ts in existing.values() for t in ts), *conforming, *watched])
    plan = Plan(heal=[Close(task, duplicate_fields(keeper, config, now, task))
                      for task, keeper in extra])
    healed = {(c.task.table, c.task.id) for c in plan.heal}
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
        wanted = task_fields(finding, rule, config, now, previous)
        if open_task is None:
            table = config.targets[finding.process].table
            plan.create.append(Create(table, finding.fingerprint, subject_of(finding, rule), wanted))
            continue
        changed = {k: wanted[k] for k in COMPARED if k in wanted and open_task.fields.get(k) != wanted[k]}
        if changed:
            plan.update.append(Update(open_task, subject_of(finding, rule), changed))
        else:
            plan.known.append((open_task, subject_of(finding, rule)))
    if not complete:
        plan.notices.append("the scan is incomplete: no task is closed")
        return plan
    for task in conforming:
        if task.fingerprint not in failing and (task.table, task.id) not in healed:
            plan.close.append(Close(task, close_fields(task, config, now, "the record now conforms.")))
    return plan
