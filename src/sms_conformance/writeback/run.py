"""The write-back step of a run (`scan`, `demo`): read the open tasks, watch the scan, then plan,
print and apply. What it says goes through `say` (the CLI prints it)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sms_conformance.connectors.base import Connector, TaskPort, TaskRef
from sms_conformance.connectors.capabilities import Reads, writes_tasks
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.findings import record_fingerprint
from sms_conformance.model.records import Process
from sms_conformance.model.rows import FindingRow
from sms_conformance.model.schema import SCHEMA, PlatformMap
from sms_conformance.rules.fields import rule_fields
from sms_conformance.rules.model import Rule
from sms_conformance.scan.names import group_names
from sms_conformance.scan.scanner import ScanOptions, ScanOutcome
from sms_conformance.store.history import History
from sms_conformance.support.safe_files import write_text
from sms_conformance.writeback.apply import (
    Watched,
    apply_plan,
    check_cap,
    check_task_search,
    drop_held,
    existing_tasks,
    find_fingerprints,
    recheck_unseen,
    roll_out,
    watch_open_tasks,
)
from sms_conformance.writeback.corrective import (
    CorrectiveKey,
    fingerprint_of,
    group_failures,
    plan_corrective,
)
from sms_conformance.writeback.guard import is_reference
from sms_conformance.writeback.owner import Fallback, resolve_fallback, with_fallback
from sms_conformance.writeback.people import GROUP_FIELD, PERSON_FIELD, People, assign_people
from sms_conformance.writeback.plan import (
    PROCESSES,
    Close,
    Plan,
    Replace,
    WriteBackSettings,
    close_note,
    plan_write_back,
)
from sms_conformance.writeback.plan_report import (
    PlanContext,
    cap_warning,
    describe_plan,
    disputed_tasks,
    name_owners,
    plan_document,
    planned_tasks,
)
from sms_conformance.writeback.policy import CLOSED_PREFIX, LIVE, UNPLACED, Phases, is_closed
from sms_conformance.writeback.records import LiveRecord, plan_record_tasks
from sms_conformance.writeback.text import show_linked
from sms_conformance.writeback.watch import ScanWatch

# What write-back says: (text, "info" | "warn" | "alarm"); the CLI prints it.
Say = Callable[[str, str], None]


@dataclass
class WriteBack:
    """Write-back for one run: created before the scan (to watch open tasks), applied after."""

    connector: Connector
    port: TaskPort
    config: WriteBackSettings
    rules: Sequence[Rule]
    dry_run: bool
    cap: int
    watched: Watched = field(default_factory=Watched)
    plan_path: Path | None = None  # --plan: the whole plan as JSON
    numbers: dict[str, str] = field(default_factory=dict)  # record id -> number, as scanned
    records_of: dict[str, list[str]] = field(default_factory=dict)  # corrective fp -> numbers
    window: bool = False  # the scan reads only records updated since a moment (--since, --incremental)
    rollout: bool = False  # --rollout: above the cap, create the `cap` most severe, not nothing
    left: int = 0  # new tasks --rollout left for later runs
    as_of: datetime | None = None  # the moment the scan evaluated records at (its --as-of)
    people: People | None = None  # a port that assigns people: the records' assignees
    say: Say = field(default=lambda text, level: None)  # (text, "info" | "warn" | "alarm")
    scan: ScanWatch | None = None  # what the scan told, record by record

    @classmethod
    def prepare(cls, connector: Reads, rules: Sequence[Rule], settings: Mapping[str, Any],
                fieldmap: PlatformMap, *, dry_run: bool, cap: int | None,
                plan_path: Path | None = None, rollout: bool = False,
                legacy_urls: Sequence[str] = (), say: Say | None = None) -> WriteBack:
        """`legacy_urls`: the instance's URL and aliases (Identity.urls): open tasks an earlier
        release named with one of them in the fingerprint are found and re-keyed."""
        writer = writes_tasks(connector)
        if writer is None:
            raise ConfigError("--write-back needs a live source (servicenow or sandbox), not files")
        config = WriteBackSettings.from_settings(settings)
        port = writer.task_port(settings)
        wb = cls(connector, port, config, rules, dry_run,
                 cap if cap is not None else config.max_new_tasks, plan_path=plan_path,
                 rollout=rollout)
        if say is not None:
            wb.say = say
        wb.watched = watch_open_tasks(port, rules, connector.platform, legacy_urls)
        first = getattr(port, "owner_first", None)  # Jira: write_back.jira.owner_first
        if first in ("group", "assignee"):
            wb.people = People(first, bool(getattr(port, "owner_field", True)))
        return wb

    def watch(self, options: ScanOptions) -> ScanWatch:
        """What the scan must tell write-back (the findings open tasks list, where records
        stand): an observer of the scan, set in `options`."""
        self.as_of = options.now
        self.window = options.since is not None or options.incremental
        if self.people is not None:
            options.fields = options.fields | {GROUP_FIELD, PERSON_FIELD}
        self.scan = ScanWatch(self.watched.keys({r.id: r for r in self.rules}),
                              Phases(self.config.policy, options.now),
                              frozenset(linked_processes(self.rules)), self.numbers, self.people)
        options.observer = self.scan
        return self.scan

    def run(self, history: History, outcome: ScanOutcome, instance: str, now: datetime) -> Plan:
        """Plans and applies the tasks. `now` is the clock: due dates, close notes and the times
        the history store records; records are rechecked as of the scan's moment. `instance`:
        the identity key the history store keeps tasks under."""
        searched = check_task_search(self.port, history, self.watched, instance, now)
        failures, groups = self.failures(history, outcome.scan_id)
        lookup = getattr(self.port, "find_owner", None)  # Jira: people and groups by id
        fallback = resolve_fallback(self.config.fallback_owner, groups, self.connector.platform,
                                    lookup)
        groups = {**group_names(self.connector, (
            i for i in (*self.config.owner_groups.values(),
                        fallback.group_id if fallback.kind == "group" else "")
            if is_reference(i) and i not in groups), lookup), **groups}
        if fallback.group_id and not fallback.name and fallback.group_id in groups:
            fallback = replace(fallback, name=groups[fallback.group_id])
        if fallback.kind == "group" and fallback.group_id and self.people is not None \
                and not self.people.holds_groups:
            fallback = Fallback(fallback.setting, notice=(
                f"write_back.fallback_owner {fallback.setting!r} is a group, but the tasks have "
                "no group field (write_back.jira.owner_field): tasks without an assignee stay "
                "unassigned; give a person's accountId"))
        self.config = with_fallback(self.config, fallback)
        by_id = {r.id: r for r in self.rules}
        scan = self.observed(now)
        # Rules blinded by a field taken for hidden close nothing.
        fixed = {k for k in scan.conforming if k[1] not in outcome.blinded}
        notices: list[str] = []
        if outcome.complete:
            # Rules blinded by a field taken for hidden close nothing, even by a recheck.
            unseen = {k for k in self.watched.keys(by_id) - scan.seen
                      if k[1] not in outcome.blinded}
            rechecked, notices = recheck_unseen(self.connector, unseen, by_id, self.as_of or now)
            fixed |= rechecked
        plan = self.plan(failures, fixed, outcome, by_id, now)
        plan.rekey = list(self.watched.rekey)
        plan.notices.extend([*searched, *notices])
        drop_held(plan, self.watched.held)
        if self.rollout:
            self.left = roll_out(plan, self.cap)
        if fallback.notice:
            plan.notices.append(fallback.notice)
        if self.people is not None:
            assign_people(plan, self.people, fallback)
            groups = {**self.people.names(), **groups}
        context = PlanContext(
            self.config, fallback, groups, self.numbers,
            {(t.where, t.id): w.rule_id for w in self.watched.findings.values() for t in w.tasks},
            self.records_of, {p.value: self.port.where(p.value) for p in Process})
        name_owners(plan, context)
        tasks = planned_tasks(plan, context)
        for line in describe_plan(plan, tasks, fallback):
            self.say(line, "info")
        if self.plan_path is not None:
            self.write_plan(self.plan_path, plan_document(
                plan, tasks, instance=self.connector.instance, as_of=self.as_of or now, dry_run=self.dry_run,
                cap=self.cap,
                fallback=fallback, disputed=disputed_tasks(plan, context)))
        if self.dry_run:
            self.say("dry run: nothing written", "info")
            if warning := cap_warning(len(plan.create), self.cap):
                self.say(warning, "alarm")
            return plan
        check_cap(plan, self.cap)
        left = apply_plan(plan, self.port, history, instance, now,
                          progress=lambda msg: self.say(f"  {msg}", "info"))
        for note in left:  # changed by a person: reported, not a failure of the run
            self.say(f"warning: {note}", "warn")
        return plan

    def write_plan(self, path: Path, document: Mapping[str, Any]) -> None:
        write_text(path, json.dumps(document, indent=2) + "\n", what="the plan")
        self.say(f"wrote the plan ({len(document['tasks'])} tasks) to {path}", "info")

    def failures(self, history: History, scan_id: int) -> tuple[list[FindingRow], dict[str, str]]:
        """The scan's failures, linked records shown by number; and the names of the assignment
        groups the scan read (sys_id -> name)."""
        refs = {p.value: {n for n, spec in fields.items() if spec.type == "ref"}
                for p, fields in SCHEMA.items()}
        failures: list[FindingRow] = []
        groups: dict[str, str] = {}
        for finding in history.findings(scan_id):
            self.numbers.setdefault(finding.record_id, finding.number)
            if finding.owner_id and finding.owner != finding.owner_id:
                groups[finding.owner_id] = finding.owner
            if finding.status == "fail":
                failures.append(finding)
        return [show_linked(f, refs.get(f.process, set()), self.numbers) for f in failures], groups

    def plan(self, failures: Sequence[FindingRow], fixed: set[tuple[str, str]],
             outcome: ScanOutcome, rules: Mapping[str, Rule],
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
            [f for f in failures if f.process not in per_finding], self.observed(now).placed)
        self.records_of = {fingerprint_of(k, self.platform): [f.number for f in fs]
                           for k, fs in grouped.corrective.items()}
        plan.extend(self.plan_records(grouped, fixed, outcome, rules, now, per_finding))
        existing = find_fingerprints(self.port, (
            (k.process, fingerprint_of(k, self.platform)) for k in grouped.corrective))
        plan.extend(plan_corrective(
            grouped.corrective, existing,
            {fp: w for fp, w in self.watched.corrective.items() if w[0].process not in per_finding},
            # A period's cohort counts the records read: only a scan of whole tables has all of
            # a group's records, so only it may find a later period passing.
            self.observed(now).cohorts, rules, self.config, self.platform, now,
            complete=outcome.complete and not self.window, blinded=outcome.blinded,
            list_url=self.port.list_url,
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

    def observed(self, now: datetime) -> ScanWatch:
        """What the scan told (nothing, for a run that did not watch it)."""
        if self.scan is None:
            self.scan = ScanWatch(frozenset(), Phases(self.config.policy, now), frozenset(),
                                  self.numbers)
        return self.scan

    @property
    def platform(self) -> str:
        return self.connector.platform

    def plan_records(self, grouped: GroupedFailures, fixed: set[tuple[str, str]],
                     outcome: ScanOutcome, rules: Mapping[str, Rule], now: datetime,
                     per_finding: set[str]) -> Plan:
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
                fp = fingerprint_of(closed, self.platform)
                plan.replace.extend(Replace(t, fp, process, "the corrective action for this "
                                            "rule, group and period") for t in watched.tasks)
            else:
                plan.close.extend(Close(t, close_note(
                    now, "the record was closed before the lookback of corrective actions: "
                    "reported, no longer tasked.")) for t in watched.tasks)
        fingerprints = {k: record_fingerprint(self.platform, *k) for k in keys}
        existing = find_fingerprints(self.port, ((k[0], fingerprints[k]) for k in grouped.live))
        records = [LiveRecord(
            process=k[0], record_id=k[1], fingerprint=fingerprints[k],
            failures=grouped.live.get(k, ()), open_tasks=self.watched.records.get(k, ()),
            history=existing.get(fingerprints[k], ()), legacy=legacy.get(k, ()),
            closed=is_closed(self.observed(now).placed.get(k[1], LIVE)),
        ) for k in sorted(keys)]
        plan.extend(plan_record_tasks(records, fixed, rules, self.config, now,
                                      complete=outcome.complete, blinded=outcome.blinded))
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
            phase = phases.get(finding.record_id, LIVE)
            if phase == LIVE:
                grouped.live.setdefault((finding.process, finding.record_id), []).append(finding)
                continue
            if phase == UNPLACED:
                grouped.unplaced += 1
                continue
            period = phase[len(CLOSED_PREFIX):] if phase.startswith(CLOSED_PREFIX) else ""
            grouped.closed[(finding.record_id, finding.rule_id)] = CorrectiveKey(
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


def linked_processes(rules: Sequence[Rule]) -> set[str]:
    """Processes whose records the rules' reference fields point to (problems and changes,
    with the built-in rules): only their numbers are kept during the scan."""
    linked: set[str] = set()
    for rule in rules:
        schema = SCHEMA[rule.process]
        for name in rule_fields(rule):
            target = schema[name].target if name in schema else None
            if target in {p.value for p in Process}:
                linked.add(target)
    return linked
