"""Plans write-back: which remediation tasks to create, update and close. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sms_conformance.connectors.base import TaskRef
from sms_conformance.errors import ConfigError
from sms_conformance.history import FindingRow
from sms_conformance.rules.model import Rule

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


class WriteBackSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_new_tasks: int = Field(200, ge=0, le=MAX_NEW_TASKS)
    targets: dict[ProcessName, Target]
    owner_groups: dict[ProcessName, Annotated[str, Field(max_length=64)]] = {}
    priority: dict[SeverityName, Annotated[int, Field(ge=1, le=5)]]
    due_days: dict[SeverityName, Annotated[int, Field(ge=0, le=3650)]]
    states: dict[Identifier, TaskStates]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> WriteBackSettings:
        """Settings from load_settings are already valid; this guards hand-built ones."""
        try:
            return cls.model_validate(settings.get("write_back", {}))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(step) for step in ("write_back", *err["loc"]))
            raise ConfigError(f"settings {where}: {err['msg']}") from None

    def closed_state(self, table: str) -> str:
        return self.states[table].closed if table in self.states else "3"


@dataclass(frozen=True)
class Create:
    table: str
    finding: FindingRow
    fields: dict[str, str]


@dataclass(frozen=True)
class Update:
    task: TaskRef
    finding: FindingRow
    fields: dict[str, str]


@dataclass(frozen=True)
class Close:
    task: TaskRef
    fields: dict[str, str]


@dataclass
class Plan:
    create: list[Create] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    close: list[Close] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def task_fields(
    finding: FindingRow, rule: Rule, config: WriteBackSettings, now: datetime,
    previous: TaskRef | None = None,
) -> dict[str, str]:
    """What a process owner reads: which record, which clause, what is wrong, how to fix it."""
    target = config.targets[finding.process]
    observed = "\n".join(f"  {k}: {v or '(empty)'}" for k, v in finding.observed.items())
    lines = [
        f"Rule {rule.id} (ISO/IEC 20000-1 clause {rule.clause}): {rule.title}",
        "",
        f"Finding: {finding.message}",
        *(["Observed:", observed] if observed else []),
        "",
        f"How to fix: {rule.remediation}",
        "",
        f"Record: {finding.number} {finding.url}",
        f"First detected: {finding.first_seen[:10]}. This task closes itself once a scan finds "
        "the record conforms.",
    ]
    if previous is not None:
        lines.append(f"This finding came back after task {previous.number} was closed.")
    due = now + timedelta(days=config.due_days.get(finding.severity, 14))
    fields = {
        "short_description": f"[ISO 20000-1 {rule.clause}] {finding.number}: {rule.title}",
        "description": "\n".join(lines),
        "priority": str(config.priority.get(finding.severity, 3)),
        "due_date": due.strftime("%Y-%m-%d %H:%M:%S"),
        "correlation_id": finding.fingerprint,
        "correlation_display": CORRELATION_DISPLAY,
        target.parent_field: finding.sys_id,
    }
    group = finding.owner_id or config.owner_groups.get(finding.process, "")
    if group:
        fields["assignment_group"] = group
    return fields


def close_fields(task: TaskRef, config: WriteBackSettings, now: datetime, why: str) -> dict[str, str]:
    note = f"Closed by sms-conformance on {now:%Y-%m-%d %H:%M} UTC: {why}"
    return {"state": config.closed_state(task.table), "work_notes": note, "close_notes": note}


def plan_write_back(
    failures: Iterable[FindingRow],
    existing: Mapping[str, list[TaskRef]],
    conforming: Iterable[TaskRef],
    rules: Mapping[str, Rule],
    config: WriteBackSettings,
    now: datetime,
    *,
    complete: bool,
) -> Plan:
    """Create a task per failure without an open one, update changed ones, close conforming ones.

    `conforming` are open tasks whose record now passes their rule. An incomplete scan closes
    nothing: a record it did not read is not known to conform.
    """
    plan = Plan()
    failing: set[str] = set()
    for finding in failures:
        failing.add(finding.fingerprint)
        tasks = existing.get(finding.fingerprint, [])
        open_task = next((t for t in tasks if t.open), None)
        previous = max((t for t in tasks if not t.open), key=lambda t: t.number, default=None)
        wanted = task_fields(finding, rules[finding.rule_id], config, now, previous)
        if open_task is None:
            table = config.targets[finding.process].table
            plan.create.append(Create(table, finding, wanted))
            continue
        changed = {k: wanted[k] for k in COMPARED if k in wanted and open_task.fields.get(k) != wanted[k]}
        if changed:
            plan.update.append(Update(open_task, finding, changed))
    if not complete:
        plan.notices.append("the scan is incomplete: no task is closed")
        return plan
    for task in conforming:
        if task.fingerprint not in failing:
            plan.close.append(Close(task, close_fields(task, config, now, "the record now conforms.")))
    return plan
