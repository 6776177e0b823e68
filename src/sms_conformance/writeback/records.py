"""Plans the one task of each live record: every rule it fails, kept in line as it changes.

A rule stays listed until a complete scan finds the record passes it (or leaves its scope): a
finding that turned unknown is not known to be fixed. The task closes when nothing is left, or
when the record is closed (its failures then count toward corrective actions). A task closed
by a person is recreated when findings remain (saying so); one its owner closed as disputed
(TaskRef.disputed) is left closed, and recreated only once the record fails a rule it did not
list. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sms_conformance.connectors.base import TaskDraft, TaskRef
from sms_conformance.model.rows import FindingRow, TaskSubject
from sms_conformance.rules.model import Rule
from sms_conformance.writeback.guard import (
    DESCRIPTION_CAP,
    MESSAGE_CAP,
    OBSERVED_CAP,
    SHORT_CAP,
    clip,
    neutralise,
)
from sms_conformance.writeback.plan import (
    BODY_CUT,
    Close,
    Create,
    Disputed,
    Plan,
    Replace,
    Update,
    WriteBackSettings,
    close_note,
    duplicate_close,
    duplicates,
    in_line,
    references,
    seniority,
)
from sms_conformance.writeback.text import dispute_lines, target_lines

RULES_LINE = "Rules: "
_RULES = re.compile(r"^Rules: (.*)$", re.MULTILINE)
_SECTION = re.compile(r"^Rule (\S+) \(clause [^,]*, (\w+)\): ")
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def listed_rules(task: TaskRef, rules: Mapping[str, Rule]) -> tuple[str, ...]:
    """The rules a record task lists (its first line) that are loaded now."""
    return tuple(r for r in _listed_ids(task, rules) if r in rules)


def _listed_ids(task: TaskRef, rules: Mapping[str, Rule]) -> tuple[str, ...]:
    """Every rule a record task lists, loaded now or not; a renamed rule by its current id."""
    match = _RULES.search(task.body)
    if match is None:
        return ()
    renamed = {old: rule.id for rule in rules.values() for old in rule.aliases}
    return tuple(dict.fromkeys(renamed.get(r, r) for r in match.group(1).split(", ")))


@dataclass(frozen=True)
class LiveRecord:
    """What one run knows of a record with a task, or with failures that want one."""

    process: str
    record_id: str
    fingerprint: str
    failures: Sequence[FindingRow] = ()
    open_tasks: Sequence[TaskRef] = ()  # record tasks, duplicates included
    history: Sequence[TaskRef] = ()  # every task with this fingerprint, open or closed
    legacy: Sequence[tuple[str, TaskRef]] = ()  # (rule, open per-finding task of earlier versions)
    closed: bool = False  # the record is known to be closed now


def plan_record_tasks(
    records: Iterable[LiveRecord], fixed: Container[tuple[str, str]],
    rules: Mapping[str, Rule], config: WriteBackSettings, now: datetime, *, complete: bool,
    blinded: Container[str] = frozenset(),
) -> Plan:
    """`fixed` holds the (record id, rule id) a complete scan found passing or out of scope;
    `blinded` the rules that read a field taken for hidden this run (their results unknown)."""
    plan = Plan()
    for record in records:
        _plan_one(plan, record, fixed, rules, config, now, complete, blinded)
    return plan


def _plan_one(plan: Plan, record: LiveRecord, fixed: Container[tuple[str, str]],
              rules: Mapping[str, Rule], config: WriteBackSettings, now: datetime,
              complete: bool, blinded: Container[str]) -> None:
    kept, extra = duplicates([*record.open_tasks, *record.history])
    plan.heal.extend(duplicate_close(t, keeper, now, "record") for t, keeper in extra)
    task = kept.get(record.fingerprint)
    # Every rule the task lists: one this run did not load (--only, disabled_rules) was not
    # evaluated, so it is not known fixed and stays listed.
    listed = (_listed_ids(task, rules) if task is not None
              else tuple(sorted({rule for rule, _ in record.legacy if rule in rules})))
    failing = {f.rule_id: f for f in record.failures}
    known_fixed = {r for r in listed if complete and (record.record_id, r) in fixed}
    still = [r for r in listed if r not in failing and r not in known_fixed]
    wanted_rules = sorted({*failing, *still})
    if record.closed or not wanted_rules:
        if task is not None and complete:
            why = ("the record is closed: its remaining findings count toward the corrective "
                   "actions of its group." if record.closed and wanted_rules
                   else "the record now conforms to every rule it was listed for.")
            plan.close.append(Close(task, close_note(now, why)))
        for rule_id, legacy in record.legacy:
            if complete and (record.closed or (record.record_id, rule_id) in fixed):
                plan.close.append(Close(legacy, close_note(
                    now, "the record is closed or now conforms to this rule.")))
        return
    if not record.failures:  # only findings not re-evaluated: leave the task as it is
        return
    if task is None and record.legacy and not complete:
        return  # its per-finding tasks are replaced after a complete scan, not beside them
    previous = max((t for t in record.history if not t.open
                    and (task is None or seniority(t) < seniority(task))),
                   key=seniority, default=None)
    subject = TaskSubject("record", record.failures[0].owner, ", ".join(wanted_rules),
                          rules[record.failures[0].rule_id].clause, record.failures[0].number)
    disputed = (_listed_ids(previous, rules) if previous is not None and previous.disputed
                else ())
    if task is None and previous is not None and previous.disputed and not record.legacy \
            and set(wanted_rules) <= set(disputed):
        # Its owner closed it as disputed and nothing new fails: left closed, reported.
        plan.disputed.append(Disputed(previous, subject, tuple(wanted_rules)))
        return
    # A blinded rule keeps its last known result, as the task says it: no write follows from it.
    last_known = {r: section for r in still if r in blinded and task is not None
                  and (section := rule_section(task.body, r)) is not None}
    draft = record_task_draft(record.fingerprint, record.failures, still, rules, config, now,
                              previous, last_known, disputed)
    if task is None:
        plan.create.append(Create(draft, subject))
    else:
        added = sorted(set(wanted_rules) - set(listed))
        gone = sorted(set(listed) - set(wanted_rules))
        note = ""
        if added or gone:
            note = neutralise(
                f"sms-conformance on {now:%Y-%m-%d %H:%M} UTC: "
                + "; ".join([*(["new findings: " + ", ".join(added)] if added else []),
                             *(["fixed: " + ", ".join(gone)] if gone else [])]) + ".", 1000)
        if note or not in_line(task, draft):
            plan.update.append(Update(task, subject, draft, note))
        else:
            plan.known.append((task, subject))
    plan.replace.extend(Replace(t, record.fingerprint, record.process) for _, t in record.legacy)


def rule_section(body: str, rule_id: str) -> KnownResult | None:
    """The lines a record task's text gives `rule_id` (from its "Rule <id> (clause ..., <severity>)"
    line to the next blank one), with that severity; None when the text has no such section."""
    lines = body.split("\n")
    for start, line in enumerate(lines):
        match = _SECTION.match(line)
        if match and match.group(1) == rule_id and match.group(2) in SEVERITY_ORDER:
            end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
            return KnownResult(match.group(2), tuple(lines[start:end]))
    return None


@dataclass(frozen=True)
class KnownResult:
    """A rule's section of a record task as last written: kept while the rule is blinded."""

    severity: str
    lines: tuple[str, ...]


def record_task_draft(
    fingerprint: str, failures: Sequence[FindingRow], still: Sequence[str], rules: Mapping[str, Rule],
    config: WriteBackSettings, now: datetime, previous: TaskRef | None = None,
    last_known: Mapping[str, KnownResult] | None = None, disputed: Sequence[str] = (),
) -> TaskDraft:
    """One record, every rule it fails: what was observed and how to fix each. `last_known`:
    sections of rules not evaluated now, kept as the task last gave them (severity included);
    `disputed`: the rules `previous` listed when its owner closed it as disputed."""
    kept = last_known or {}
    first = failures[0]
    number = clip(first.number, 40)
    parent, owner, notes = references(first, config)
    link = clip(first.url, 300) if parent else "(no link, see below)"
    ordered = sorted(failures, key=lambda f: (SEVERITY_ORDER.index(f.severity), f.rule_id))
    all_rules = sorted({*(f.rule_id for f in failures), *still})
    lines = [
        RULES_LINE + ", ".join(all_rules),
        f"Record: {number} {link}",
        f"{number} fails {len(all_rules)} ISO/IEC 20000-1 conformance "
        f"rule{'s' if len(all_rules) != 1 else ''}. Fix each below: this task is updated as "
        "findings are fixed and closes itself once a scan finds none left.",
    ]
    sections: list[tuple[int, str, Sequence[str]]] = [
        (SEVERITY_ORDER.index(known.severity), rule_id, known.lines)
        for rule_id, known in kept.items()]
    for finding in ordered:
        rule = rules[finding.rule_id]
        observed = [f"    {k}: {clip(v, OBSERVED_CAP) if v else '(empty)'}"
                    for k, v in finding.observed.items()]
        sections.append((SEVERITY_ORDER.index(finding.severity), rule.id, [
            f"Rule {rule.id} (clause {rule.clause}, {finding.severity}): {rule.title}",
            f"  Finding: {clip(finding.message, MESSAGE_CAP)}",
            *target_lines(rule, finding.observed, now, "  "),
            *(["  Observed:", *observed] if observed else []),
            f"  How to fix: {rule.remediation}"]))
    for _, _, section in sorted(sections, key=lambda s: s[:2]):
        lines += ["", *section]
    for rule_id in (r for r in still if r not in kept):
        lines += ["", f"Rule {rule_id}: not evaluated by the last scan (a value was unknown or "
                  "the record was not read); it stays listed until a scan finds it fixed."]
    lines += dispute_lines(config.dispute_text)
    lines += ["", *notes]
    if previous is not None and previous.disputed:
        new = ", ".join(r for r in all_rules if r not in disputed)
        lines.append(f"Task {clip(previous.number, 40)} was closed as disputed "
                     f"({', '.join(disputed) or 'no rule listed'})"
                     + (f"; this task lists the record's findings again because it now also "
                        f"fails {new}." if new else "."))
    elif previous is not None:
        lines.append(f"Findings came back after task {clip(previous.number, 40)} was closed.")
    worst = min((ordered[0].severity, *(k.severity for k in kept.values())),
                key=SEVERITY_ORDER.index)
    clauses = ", ".join(sorted({*(rules[f.rule_id].clause for f in failures),
                                *(rules[r].clause for r in kept if r in rules)}))
    count = len(all_rules)
    return TaskDraft(
        fingerprint=fingerprint, process=first.process, kind="record",
        title=neutralise(
            f"[ISO 20000-1 {clauses}] {number}: {count} nonconformit{'ies' if count != 1 else 'y'}"
            " to fix", SHORT_CAP),
        body=neutralise("\n".join(lines).rstrip(), DESCRIPTION_CAP, BODY_CUT),
        priority=config.priority_of(worst), due=config.due(worst, now),
        owner_id=owner, parent_id=parent,
    )
