"""The write-back step of `scan` and `demo`: watch open tasks, then plan and apply."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click

from sms_conformance.connectors.base import Connector, TaskPort, TaskRef, WritesTasks
from sms_conformance.errors import ConfigError
from sms_conformance.fieldmap import FieldMap
from sms_conformance.history import FindingRow, History
from sms_conformance.rules.model import Rule
from sms_conformance.scan import ScanOptions, ScanOutcome
from sms_conformance.task_policy import (
    CLOSED_PREFIX,
    LIVE,
    UNPLACED,
    Phases,
    is_closed,
    record_fingerprint,
)
from sms_conformance.writeback import (
    Watched,
    apply_plan,
    check_cap,
    describe,
    existing_tasks,
    find_fingerprints,
    recheck_unseen,
    watch_open_tasks,
)
from sms_conformance.writeback_corrective import (
    CorrectiveKey,
    fingerprint_of,
    group_failures,
    plan_corrective,
)
from sms_conformance.writeback_plan import (
    PROCESSES,
    Close,
    Plan,
    Replace,
    WriteBackSettings,
    close_note,
    plan_write_back,
)
from sms_conformance.writeback_records import LiveRecord, plan_record_tasks


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
    watched: Watched = field(default_factory=Watched)

    @classmethod
    def prepare(cls, connector: Connector, rules: Sequence[Rule], settings: Mapping[str, Any],
                fieldmap: FieldMap, *, dry_run: bool, cap: int | None) -> WriteBack:
        if not isinstance(connector, WritesTasks):
            raise ConfigError("--write-back needs a live source (servicenow or sandbox), not files")
        config = WriteBackSettings.from_settings(settings)
        port = connector.task_port(settings)
        wb = cls(connector, port, fieldmap, config, rules, dry_run,
                 cap if cap is not None else config.max_new_tasks)
        wb.watched = watch_open_tasks(port, rules, connector.platform, connector.instance)
        return wb

    def watch(self, options: ScanOptions) -> None:
        """What the scan must tell write-back: the findings open tasks list, where records stand."""
        options.watch = self.watched.keys({r.id: r for r in self.rules})
        phases = Phases(self.config.policy, options.now)
        options.phase = phases.of
        options.cohort = phases.cohort

    def run(self, history: History, outcome: ScanOutcome, instance: str, now: datetime) -> Plan:
        failures = [f for f in history.findings(outcome.scan_id) if f.status == "fail"]
        by_id = {r.id: r for r in self.rules}
        fixed = set(outcome.conforming)
        notices: list[str] = []
        if outcome.complete:
            # Rules blinded by a field taken for hidden close nothing, even by a recheck.
            unseen = {k for k in self.watched.keys(by_id) - outcome.seen
                      if k[1] not in outcome.blinded}
            rechecked, notices = recheck_unseen(self.connector, unseen, by_id, self.fieldmap, now)
            fixed |= rechecked
        plan = self.plan(failures, fixed, outcome, by_id, instance, now)
        plan.notices.extend(notices)
        for line in describe(plan):
            click.echo(line, err=True)
        if self.dry_run:
            click.echo("dry run: nothing written", err=True)
            return plan
        check_cap(plan, self.cap)
        apply_plan(plan, self.port, history, instance, now,
                   progress=lambda msg: click.echo(f"  {msg}", err=True))
        return plan

    def plan(self, failures: Sequence[FindingRow], fixed: set[tuple[str, str]],
             outcome: ScanOutcome, rules: Mapping[str, Rule], instance: str,
             now: datetime) -> Plan:
        per_finding = {p for p in PROCESSES if self.config.policy_of(p).granularity == "finding"}
        legacy = self.watched.findings
        mine = [f for f in failures if f.process in per_finding]
        plan = plan_write_back(
            mine, existing_tasks(self.port, mine),
            [t for k in fixed if k in legacy and rules[k[1]].process.value in per_finding
             for t in legacy[k].tasks],
            rules, self.config, now, complete=outcome.complete,
            watched=[t for k, w in legacy.items() if k[1] in rules
                     and rules[k[1]].process.value in per_finding for t in w.tasks],
        )
        if outcome.complete:  # back to per-finding tasks: the record tasks they replace close
            plan.close.extend(Close(t, close_note(
                now, "replaced by one task per finding (write_back.policy granularity: finding)."))
                for (process, _), tasks in self.watched.records.items() if process in per_finding
                for t in tasks)
        grouped = GroupedFailures.split(
            [f for f in failures if f.process not in per_finding], outcome.phases)
        plan.extend(self.plan_records(grouped, fixed, outcome, rules, now, per_finding))
        existing = find_fingerprints(self.port, (
            (k.process, fingerprint_of(k, self.platform, instance)) for k in grouped.corrective))
        plan.extend(plan_corrective(
            grouped.corrective, existing,
            {fp: w for fp, w in self.watched.corrective.items() if w[0].process not in per_finding},
            outcome.cohorts, rules, self.config, self.platform, instance, now,
            complete=outcome.complete, blinded=outcome.blinded, list_url=self.port.list_url,
        ))
        if grouped.old:
            plan.notices.append(
                f"{grouped.old} failures on records closed before the lookback (or without a "
                "closing date) are reported, not tasked")
        if grouped.unplaced:
            plan.notices.append(
                f"{grouped.unplaced} failures on records whose state was not read are reported, "
                "not tasked: whether the record is live or closed cannot be told")
        return plan  # plan_write_back noted an incomplete scan

    @property
    def platform(self) -> str:
        return self.connector.platform

    def plan_records(self, grouped: GroupedFailures, fixed: set[tuple[str, str]],
                     outcome: ScanOutcome, rules: Mapping[str, Rule], now: datetime,
                     per_finding: set[str]) -> Plan:
        instance = self.connector.instance
        keys = {*grouped.live, *(k for k in self.watched.records if k[0] not in per_finding)}
        legacy: dict[tuple[str, str], list[tuple[str, TaskRef]]] = defaultdict(list)
        plan = Plan()
        for (record_id, rule_id), watched in self.watched.findings.items():
            if rule_id not in rules or rules[rule_id].process.value in per_finding:
                continue
            process = rules[rule_id].process.value
            closed = grouped.closed_failure(record_id, rule_id)
            if not outcome.complete and closed is not None:
                continue  # an incomplete scan closes nothing, tasks of earlier versions included
            if closed is None:
                keys.add((process, record_id))
                legacy[(process, record_id)].extend((rule_id, t) for t in watched.tasks)
            elif closed.period:  # its finding now counts toward a corrective action
                fp = fingerprint_of(closed, self.platform, instance)
                plan.replace.extend(Replace(t, fp, process, "the corrective action for this "
                                            "rule, group and period") for t in watched.tasks)
            else:
                plan.close.extend(Close(t, close_note(
                    now, "the record was closed before the lookback of corrective actions: "
                    "reported, no longer tasked.")) for t in watched.tasks)
        fingerprints = {k: record_fingerprint(self.platform, instance, *k) for k in keys}
        existing = find_fingerprints(self.port, ((k[0], fingerprints[k]) for k in grouped.live))
        records = [LiveRecord(
            process=k[0], record_id=k[1], fingerprint=fingerprints[k],
            failures=grouped.live.get(k, ()), open_tasks=self.watched.records.get(k, ()),
            history=existing.get(fingerprints[k], ()), legacy=legacy.get(k, ()),
            closed=is_closed(outcome.phases.get(k[1], LIVE)),
        ) for k in sorted(keys)]
        plan.extend(plan_record_tasks(records, fixed, rules, self.config, now,
                                      complete=outcome.complete))
        return plan


@dataclass
class GroupedFailures:
    """A run's failures by where their record stands (task_policy.Phases)."""

    live: dict[tuple[str, str], list[FindingRow]] = field(default_factory=dict)
    corrective: dict[CorrectiveKey, list[FindingRow]] = field(default_factory=dict)
    closed: dict[tuple[str, str], CorrectiveKey] = field(default_factory=dict)  # (record, rule)
    old: int = 0
    unplaced: int = 0

    @classmethod
    def split(cls, failures: Sequence[FindingRow], phases: Mapping[str, str]) -> GroupedFailures:
        grouped = cls()
        recent: list[tuple[FindingRow, str]] = []
        for finding in failures:
            phase = phases.get(finding.sys_id, LIVE)
            if phase == LIVE:
                grouped.live.setdefault((finding.process, finding.sys_id), []).append(finding)
                continue
            if phase == UNPLACED:
                grouped.unplaced += 1
                continue
            period = phase[len(CLOSED_PREFIX):] if phase.startswith(CLOSED_PREFIX) else ""
            grouped.closed[(finding.sys_id, finding.rule_id)] = CorrectiveKey(
                finding.process, finding.rule_id, finding.owner_id, period)
            if period:
                recent.append((finding, period))
            else:
                grouped.old += 1
        grouped.corrective = group_failures(recent)
        return grouped

    def closed_failure(self, record_id: str, rule_id: str) -> CorrectiveKey | None:
        """The corrective key of a failure on a closed record (period "" when too old)."""
        return self.closed.get((record_id, rule_id))
