"""A write-back plan for the people who steer it: counts by kind, destination, rule and owner, the
tasks without an owner by process, a loud warning when the cap would stop the real run, and the
whole plan as one JSON document (docs/write-back-plan.md). Pure, no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sms_conformance.connectors.base import TaskDraft, TaskRef
from sms_conformance.model.rows import TaskSubject
from sms_conformance.store.history import iso
from sms_conformance.writeback.apply import kinds_text
from sms_conformance.writeback.owner import Fallback
from sms_conformance.writeback.plan import Plan, WriteBackSettings
from sms_conformance.writeback.task_list import first_line

PLAN_FORMAT = "sms-conformance write-back plan 1"
UNASSIGNED = "(unassigned)"
DISPUTED_SHOWN = 10  # disputed tasks named on the terminal; the plan JSON lists every one


@dataclass(frozen=True)
class PlanContext:
    """What the scan knows beyond the plan: names of groups, numbers of records, what each open
    task was about, the records behind each new corrective action."""

    config: WriteBackSettings
    fallback: Fallback
    groups: Mapping[str, str] = field(default_factory=dict)  # group (or person) id -> name
    numbers: Mapping[str, str] = field(default_factory=dict)  # record id -> number
    finding_rules: Mapping[tuple[str, str], str] = field(default_factory=dict)  # task -> rule
    records_of: Mapping[str, Sequence[str]] = field(default_factory=dict)  # fingerprint -> numbers
    wheres: Mapping[str, str] = field(default_factory=dict)  # process -> where its tasks go

    def process_of(self, where: str) -> str:
        return next((p for p, w in self.wheres.items() if w == where), "")

    def owner(self, group_id: str, fallback_name: str = "") -> str:
        if not group_id:
            return UNASSIGNED
        if group_id == self.fallback.group_id and group_id not in self.groups:
            return self.fallback.name or group_id
        return self.groups.get(group_id) or fallback_name or group_id

    def record(self, record_id: str) -> str:
        return self.numbers.get(record_id) or (f"(record id {record_id})" if record_id else "")


@dataclass(frozen=True)
class PlannedTask:
    """One task the plan creates, updates, closes, heals (a duplicate) or replaces."""

    action: str  # create | update | close | heal | replace; disputed (left closed)
    kind: str  # record | corrective | finding
    process: str
    table: str
    task_number: str  # "" for a task not created yet
    fingerprint: str
    subject: str  # the task's short description
    owner: str  # group (or person) name, its id when the name is unknown, or "(unassigned)"
    owner_id: str
    rule_ids: tuple[str, ...]
    records: tuple[str, ...]  # record numbers ("(record id ...)" where the number is unknown)
    priority: str = ""
    due: str = ""
    note: str = ""  # why a task is closed


def name_owners(plan: Plan, ctx: PlanContext) -> None:
    """Each task's subject names the owner the task is written to (the record's group, the
    process owner group or the fallback owner), so the history store, and the task lists, demo
    summary and evidence pack read from it, count a task under the owner that holds it."""
    def named(subject: TaskSubject, owner_id: str) -> TaskSubject:
        name = ctx.owner(owner_id, subject.owner)
        return replace(subject, owner="" if name == UNASSIGNED else name)

    plan.create = [replace(c, subject=named(c.subject, c.draft.owner_id)) for c in plan.create]
    plan.update = [replace(u, subject=named(u.subject, u.task.owner or u.draft.owner_id))
                   for u in plan.update]
    plan.known = [(task, named(subject, task.owner)) for task, subject in plan.known]


def planned_tasks(plan: Plan, ctx: PlanContext) -> list[PlannedTask]:
    """Every action of the plan, in the order it is applied."""
    out = [_created(c.draft, c.subject, ctx) for c in plan.create]
    out += [_existing("update", u.task, ctx, u.subject, u.draft) for u in plan.update]
    out += [_existing("close", k.task, ctx, note=k.note) for k in plan.close]
    out += [_existing("heal", h.task, ctx, note=h.note) for h in plan.heal]
    out += [_existing("replace", r.task, ctx, note=r.what) for r in plan.replace]
    return out


DISPUTED_NOTE = "closed by its owner as disputed; the record fails no rule it did not list"


def disputed_tasks(plan: Plan, ctx: PlanContext) -> list[PlannedTask]:
    """The tasks left closed as disputed (nothing is written to them): `rule_ids` the rules
    failing now, every one listed by the disputed task."""
    return [_existing("disputed", d.task, ctx, d.subject, note=DISPUTED_NOTE)
            for d in plan.disputed]


def _created(draft: TaskDraft, subject: TaskSubject, ctx: PlanContext) -> PlannedTask:
    group = draft.owner_id
    records = (tuple(ctx.records_of.get(draft.fingerprint, ())) if subject.kind == "corrective"
               else (subject.label,))
    return PlannedTask(
        "create", subject.kind, draft.process, ctx.wheres.get(draft.process, draft.process), "",
        draft.fingerprint, draft.title, ctx.owner(group, subject.owner), group,
        tuple(subject.rule_id.split(", ")), records, str(draft.priority),
        draft.due.strftime("%Y-%m-%d %H:%M:%S"))


def _existing(action: str, task: TaskRef, ctx: PlanContext, subject: TaskSubject | None = None,
              draft: TaskDraft | None = None, note: str = "") -> PlannedTask:
    kind, rules = _about(task, ctx)
    if subject is not None:
        kind, rules = subject.kind, tuple(subject.rule_id.split(", "))
    group = task.owner
    return PlannedTask(
        action, kind, ctx.process_of(task.where), task.where, task.number, task.fingerprint,
        draft.title if draft is not None else task.title,
        ctx.owner(group, subject.owner if subject is not None else ""), group, rules,
        (ctx.record(task.parent),) if task.parent else (),
        str(draft.priority) if draft is not None else "", note=note)


def _about(task: TaskRef, ctx: PlanContext) -> tuple[str, tuple[str, ...]]:
    """(kind, rule ids) of an open task, from its first line or the scan's watch list."""
    kind, rules, _ = first_line(task)
    rule = ctx.finding_rules.get((task.where, task.id))
    return kind, rules or ((rule,) if rule else ())


@dataclass(frozen=True)
class NewCounts:
    """The new tasks, counted the ways people steer them."""

    by_kind: dict[str, int]
    by_table: dict[str, int]
    by_rule: dict[str, int]  # a record task counts once for each rule it lists
    by_owner: dict[str, int]
    unassigned_by_process: dict[str, int]

    @classmethod
    def of(cls, tasks: Iterable[PlannedTask]) -> NewCounts:
        new = [t for t in tasks if t.action == "create"]
        return cls(
            _ranked(Counter(t.kind for t in new)),
            _ranked(Counter(t.table for t in new)),
            _ranked(Counter(r for t in new for r in t.rule_ids)),
            _ranked(Counter(t.owner for t in new)),
            _ranked(Counter(t.process for t in new if not t.owner_id)),
        )

    @property
    def unassigned(self) -> int:
        return sum(self.unassigned_by_process.values())


def _ranked(counts: Counter[str]) -> dict[str, int]:
    """Largest first, then by name: the same plan always reads the same."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _inline(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items())


def describe_plan(plan: Plan, tasks: Sequence[PlannedTask], fallback: Fallback) -> list[str]:
    """The plan as counts, for the terminal: every task is counted, none is sampled."""
    counts = NewCounts.of(tasks)
    lines = [f"write-back plan: create {len(plan.create)}, update {len(plan.update)}, "
             f"close {len(plan.close)}, heal {len(plan.heal)} duplicates"
             + (f", replace {len(plan.replace)} per-finding tasks" if plan.replace else "")
             + (f", re-key {len(plan.rekey)} tasks of an earlier release" if plan.rekey else "")]
    if plan.create:
        lines.append(f"  new: {kinds_text(counts.by_kind)}")
        kinds_of: dict[str, Counter[str]] = {}
        for t in tasks:
            if t.action == "create":
                kinds_of.setdefault(t.owner, Counter())[t.kind] += 1
        lines += [f"    {owner}: {kinds_text(kinds)}" for owner, kinds
                  in sorted(kinds_of.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))]
    if plan.create:
        lines.append(f"  new by destination: {_inline(counts.by_table)}")
        lines.append("  new by rule (a record task counts once for each rule it lists):")
        lines += [f"    {rule}: {n}" for rule, n in counts.by_rule.items()]
        lines.append(f"  new without an owner: {counts.unassigned}"
                     + (f" ({_inline(counts.unassigned_by_process)})" if counts.unassigned else "")
                     + f"; tasks without an owner are {fallback.describe()}")
    for action in ("update", "close", "heal", "replace"):
        owners = _ranked(Counter(t.owner for t in tasks if t.action == action))
        if owners:
            lines.append(f"  {action} by owner: {_inline(owners)}")
    if plan.disputed:
        shown = [f"{d.task.number} ({d.subject.label})" for d in plan.disputed[:DISPUTED_SHOWN]]
        more = len(plan.disputed) - len(shown)
        lines.append(f"  disputed, left closed: {len(plan.disputed)} task(s) their owner closed "
                     "as disputed, whose record fails no rule they did not list: "
                     + ", ".join(shown) + (f" and {more} more" if more > 0 else ""))
    lines += [f"  notice: {n}" for n in plan.notices]
    return lines


def cap_warning(new: int, cap: int) -> str:
    """"" when the real run may go ahead, else what stops it and how to let it through."""
    if new <= cap:
        return ""
    return (f"warning: the real run would stop here (exit 6): it would create {new} new tasks, "
            f"more than the cap of {cap}, and write nothing. If the plan is right, rerun with "
            f"--max-new-tasks {new} or set write_back.max_new_tasks: {new} in "
            f"config/settings.yaml; or, for a first night, with --rollout: the {cap} most "
            "severe now, the rest on later runs.")


def plan_document(plan: Plan, tasks: Sequence[PlannedTask], *, instance: str, as_of: datetime,
                  dry_run: bool, cap: int, fallback: Fallback,
                  disputed: Sequence[PlannedTask] = ()) -> dict[str, Any]:
    """The whole plan, as written by --plan PATH (docs/write-back-plan.md); `disputed`: the
    tasks left closed as disputed (disputed_tasks)."""
    counts = NewCounts.of(tasks)
    return {
        "format": PLAN_FORMAT,
        "instance": instance,
        "as_of": iso(as_of),
        "dry_run": dry_run,
        "totals": {"create": len(plan.create), "update": len(plan.update),
                   "close": len(plan.close), "heal": len(plan.heal),
                   "replace": len(plan.replace), "disputed": len(disputed)},
        "cap": {"max_new_tasks": cap, "new_tasks": len(plan.create),
                "stops_run": len(plan.create) > cap},
        "fallback_owner": {"setting": fallback.setting, "group_id": fallback.group_id,
                           "name": fallback.name, "kind": fallback.kind,
                           "tasks_without_owner": fallback.describe()},
        "new": {**asdict(counts), "unassigned": counts.unassigned},
        "notices": list(plan.notices),
        "tasks": [_entry(t) for t in tasks],
        "disputed": [_entry(t) for t in disputed],
    }


def _entry(task: PlannedTask) -> dict[str, Any]:
    return {**asdict(task), "rule_ids": list(task.rule_ids), "records": list(task.records)}
