"""The write-back step of `scan` and `demo`: watch open tasks, then plan and apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import click

from sms_conformance.connectors.base import Connector, TaskPort
from sms_conformance.errors import ConfigError
from sms_conformance.fieldmap import FieldMap
from sms_conformance.history import History
from sms_conformance.rules.model import Rule
from sms_conformance.scan import ScanOutcome
from sms_conformance.writeback import (
    WatchedTask,
    apply_plan,
    check_cap,
    describe,
    existing_tasks,
    recheck_unseen,
    watch_open_tasks,
)
from sms_conformance.writeback_guard import check_scanned_tables
from sms_conformance.writeback_plan import Plan, WriteBackSettings, plan_write_back


@dataclass
class WriteBack:
    """Write-back for one run: created before the scan (to watch open tasks), applied after."""

    connector: Connector
    port: TaskPort
    fieldmap: FieldMap
    config: WriteBackSettings
    rules: Sequence[Rule]
    dry_run: bool
    cap: int
    watched: dict[tuple[str, str], WatchedTask] = field(default_factory=dict)

    @classmethod
    def prepare(cls, connector: Connector, rules: Sequence[Rule], settings: Mapping[str, Any],
                fieldmap: FieldMap, *, dry_run: bool, cap: int | None) -> WriteBack:
        if not hasattr(connector, "find_tasks"):
            raise ConfigError("--write-back needs a live source (servicenow or sandbox), not files")
        config = WriteBackSettings.from_settings(settings)
        check_scanned_tables(config.target_fields(),
                             {p.value: m.table for p, m in fieldmap.processes.items()})
        refuse_non_task_tables(connector, config)
        configure = getattr(connector, "configure_tasks", None)
        if configure is not None:
            configure({t.table: t.parent_field for t in config.targets.values()})
        port = cast(TaskPort, connector)
        wb = cls(connector, port, fieldmap, config, rules, dry_run,
                 cap if cap is not None else config.max_new_tasks)
        wb.watched = watch_open_tasks(port, rules, config, connector.platform, connector.instance)
        return wb

    def run(self, history: History, outcome: ScanOutcome, instance: str, now: datetime) -> Plan:
        failures = [f for f in history.findings(outcome.scan_id) if f.status == "fail"]
        by_id = {r.id: r for r in self.rules}
        conforming_keys = set(outcome.conforming)
        notices: list[str] = []
        if outcome.complete:
            # Rules blinded by a field taken for hidden close nothing, even by a recheck.
            unseen = {k for k in set(self.watched) - outcome.seen if k[1] not in outcome.blinded}
            rechecked, notices = recheck_unseen(self.connector, unseen, by_id, self.fieldmap, now)
            conforming_keys |= rechecked
        conforming = [t for k in conforming_keys if k in self.watched for t in self.watched[k].tasks]
        existing = existing_tasks(self.port, failures, self.config)
        plan = plan_write_back(
            failures, existing, conforming, by_id, self.config, now, complete=outcome.complete,
            watched=[t for w in self.watched.values() for t in w.tasks],
        )
        plan.notices.extend(notices)
        if not self.dry_run:  # tasks made by an earlier run that did not live to record them
            for finding in failures:
                for task in existing.get(finding.fingerprint, []):
                    if task.open:
                        history.record_task(task, finding, by_id[finding.rule_id], instance, now)
        for line in describe(plan):
            click.echo(line, err=True)
        if self.dry_run:
            click.echo("dry run: nothing written", err=True)
            return plan
        check_cap(plan, self.cap)
        apply_plan(plan, self.port, history, by_id, self.config, instance, now,
                   progress=lambda msg: click.echo(f"  {msg}", err=True))
        return plan


def refuse_non_task_tables(connector: Connector, config: WriteBackSettings) -> None:
    """A declared custom target must extend task where the instance lets us check (doctor says
    the same); the built-in ones do by definition."""
    from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
    from sms_conformance.connectors.servicenow.doctor import task_tables

    custom = {t.table for t in config.targets.values()} & set(config.custom_task_tables)
    if custom and isinstance(connector, ServiceNowConnector):
        for finding in task_tables(connector, custom):
            if finding.level == "fail":
                raise ConfigError(f"{finding.message}: {finding.fix}")
            if finding.level == "warn":
                click.echo(f"warning: {finding.message}", err=True)
