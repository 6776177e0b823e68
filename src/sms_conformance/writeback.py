"""Applies write-back: finds this tool's tasks on the platform, plans, writes, records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sms_conformance.connectors.base import Connector, TaskPort, TaskRef
from sms_conformance.engine import evaluate_one
from sms_conformance.errors import ConfigError
from sms_conformance.fieldmap import FieldMap
from sms_conformance.findings import Status, fingerprint
from sms_conformance.history import FindingRow, History
from sms_conformance.links import LinkResolver
from sms_conformance.records import Ref
from sms_conformance.rules.checks import Context
from sms_conformance.rules.model import Rule
from sms_conformance.writeback_plan import Create, Plan, WriteBackSettings

CHUNK = 50


class TooManyNewTasks(ConfigError):
    """The per-run cap on new tasks would be exceeded: nothing was written."""


@dataclass(frozen=True)
class WatchedTask:
    task: TaskRef
    rule_id: str


def watch_open_tasks(
    port: TaskPort, rules: Sequence[Rule], config: WriteBackSettings, platform: str, instance: str,
) -> dict[tuple[str, str], WatchedTask]:
    """Open tasks of this tool keyed by (record id, rule id), recovered from their fingerprints."""
    watched: dict[tuple[str, str], WatchedTask] = {}
    for process, target in config.targets.items():
        candidates = [r for r in rules if r.process.value == process]
        for task in port.open_tasks(target.table):
            for rule in candidates:
                if fingerprint(platform, instance, process, task.parent, rule.id) == task.fingerprint:
                    watched[(task.parent, rule.id)] = WatchedTask(task, rule.id)
                    break
    return watched


def existing_tasks(
    port: TaskPort, failures: Sequence[FindingRow], config: WriteBackSettings
) -> dict[str, list[TaskRef]]:
    """Every task, open or closed, already carrying one of the failures' fingerprints."""
    by_table: dict[str, list[str]] = defaultdict(list)
    for finding in failures:
        by_table[config.targets[finding.process].table].append(finding.fingerprint)
    found: dict[str, list[TaskRef]] = defaultdict(list)
    for table, fingerprints in by_table.items():
        for task in port.find_tasks(table, fingerprints):
            found[task.fingerprint].append(task)
    return found


def recheck_unseen(
    connector: Connector, keys: Iterable[tuple[str, str]], rules: Mapping[str, Rule],
    fieldmap: FieldMap, now: datetime,
) -> tuple[set[tuple[str, str]], list[str]]:
    """Watched findings whose record the scan did not read, because it left every rule's
    server-side filter (a canceled change, say): read those records by id, evaluate again.

    Returns the (record id, rule id) keys that now conform, and notices for records that could
    not be read (their tasks stay open: deleted and ACL-hidden look the same from here).
    """
    refs = {
        key: Ref(fieldmap.for_process(rules[key[1]].process).table, key[0])
        for key in keys if key[1] in rules
    }
    if not refs:
        return set(), []
    found = connector.resolve(set(refs.values()))
    ctx = Context(now, LinkResolver(connector, list(rules.values())))
    conforming: set[tuple[str, str]] = set()
    notices: list[str] = []
    for key, ref in refs.items():
        record = found.get(ref)
        if record is None:
            notices.append(f"{ref.table} {ref.id} could not be read: its task stays open")
        elif evaluate_one(rules[key[1]], record, ctx).status in (Status.PASS, Status.NOT_APPLICABLE):
            conforming.add(key)
    return conforming, notices


def check_cap(plan: Plan, cap: int) -> None:
    if len(plan.create) > cap:
        raise TooManyNewTasks(
            f"write-back would create {len(plan.create)} new tasks, more than the cap of {cap}; "
            "nothing was written. Check the plan with --dry-run, then rerun with "
            f"--max-new-tasks {len(plan.create)} (or raise write_back.max_new_tasks in "
            "config/settings.yaml) if it is right."
        )


def apply_plan(
    plan: Plan, port: TaskPort, history: History, rules: dict[str, Rule], instance: str,
    now: datetime, progress: Callable[[str], None] | None = None,
) -> None:
    """Writes in small chunks, recording each task as it is made, so a crash loses nothing."""
    by_table: dict[str, list[Create]] = defaultdict(list)
    for item in plan.create:
        by_table[item.table].append(item)
    for table, items in by_table.items():
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            made = port.create_tasks(table, [c.fields for c in chunk])
            for item, task in zip(chunk, made, strict=False):
                history.record_task(task, item.finding, rules[item.finding.rule_id], instance, now)
            if progress is not None:
                progress(f"created {start + len(chunk)}/{len(items)} {table} tasks")
    for update in plan.update:
        task = port.update_task(update.task.table, update.task.id, update.fields)
        history.record_task(task, update.finding, rules[update.finding.rule_id], instance, now)
    for close in plan.close:
        port.update_task(close.task.table, close.task.id, close.fields)
        history.close_task(close.task, now)


def describe(plan: Plan, sample: int = 5) -> Iterable[str]:
    yield (f"write-back plan: create {len(plan.create)}, update {len(plan.update)}, "
           f"close {len(plan.close)}")
    for c in plan.create[:sample]:
        yield f"  create {c.table}: {c.fields['short_description']}"
    for u in plan.update[:sample]:
        yield f"  update {u.task.number}: {', '.join(sorted(u.fields))}"
    for k in plan.close[:sample]:
        yield f"  close  {k.task.number} ({k.task.table})"
    yield from (f"  notice: {n}" for n in plan.notices)
