"""Plans corrective actions: one task per (rule, owner group, period) of closed records.

A closed record is not edited: the task gives the group its count and rate for the period, the
worst examples, a link to the full list and the rule's why and remediation, and asks for the
cause to be addressed (ISO/IEC 20000-1 10.1). It closes when a later period of the group passes
the rule, or when the owner closes it; a closed one is never reopened for its period. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sms_conformance.connectors.base import TaskDraft, TaskRef
from sms_conformance.model.findings import corrective_fingerprint
from sms_conformance.model.rows import FindingRow, TaskSubject
from sms_conformance.rules.model import Rule
from sms_conformance.writeback.examples import full_list_csv, worst_first
from sms_conformance.writeback.guard import (
    DESCRIPTION_CAP,
    MESSAGE_CAP,
    SHORT_CAP,
    clip,
    is_reference,
    neutralise,
)
from sms_conformance.writeback.plan import (
    BODY_CUT,
    Close,
    Create,
    Plan,
    Update,
    WriteBackSettings,
    close_note,
    duplicate_close,
    duplicates,
    in_line,
)
from sms_conformance.writeback.policy import period_start
from sms_conformance.writeback.text import dispute_lines, target_text

# process, ids -> a link to the platform's list of exactly those records ("" when it has none)
ListUrl = Callable[[str, Sequence[str]], str]

KEY_LINE = "Corrective action: "
_KEY = re.compile(r"^Corrective action: ([a-z]+) ([a-z0-9_.]+) ([A-Za-z0-9][A-Za-z0-9_-]{0,63}|-) "
                  r"(\d{4}-(?:Q[1-4]|\d\d))$", re.MULTILINE)
EXAMPLES = 10
MAX_LIST_URL = 2000  # characters a list URL may take in browsers and mail clients


@dataclass(frozen=True)
class CorrectiveKey:
    process: str
    rule_id: str
    group: str  # owner group id, "" for records without one
    period: str


def corrective_key(task: TaskRef, platform: str, process: str,
                   legacy_urls: Iterable[str] = ()) -> CorrectiveKey | None:
    """The key written on a corrective action's first line, trusted only when it hashes to the
    task's fingerprint (a person may edit the description): today's, or one of releases before
    instance identity with a URL of `legacy_urls` in it."""
    match = _KEY.search(task.body)
    if match is None or match.group(1) != process:
        return None
    key = CorrectiveKey(process, match.group(2), "" if match.group(3) == "-" else match.group(3),
                        match.group(4))
    names = {fingerprint_of(key, platform), *(fingerprint_of(key, platform, url)
                                              for url in legacy_urls)}
    return key if task.fingerprint in names else None


def fingerprint_of(key: CorrectiveKey, platform: str, legacy_instance: str | None = None) -> str:
    return corrective_fingerprint(platform, key.process, key.rule_id, key.group, key.period,
                                  legacy_instance)


def group_failures(failures: Iterable[tuple[FindingRow, str]]) -> dict[CorrectiveKey, list[FindingRow]]:
    """(failure, period) pairs of records closed within the lookback, by corrective key."""
    grouped: dict[CorrectiveKey, list[FindingRow]] = {}
    for finding, period in failures:
        # A group that is not an id cannot be assigned: its records count as unassigned.
        group = finding.owner_id if is_reference(finding.owner_id) else ""
        key = CorrectiveKey(finding.process, finding.rule_id, group, period)
        grouped.setdefault(key, []).append(finding)
    return grouped


def plan_corrective(
    grouped: Mapping[CorrectiveKey, Sequence[FindingRow]],
    existing: Mapping[str, Sequence[TaskRef]],
    watched: Mapping[str, tuple[CorrectiveKey, Sequence[TaskRef]]],
    cohorts: Mapping[tuple[str, str, str], Sequence[int]],
    rules: Mapping[str, Rule], config: WriteBackSettings, platform: str,
    now: datetime, *, complete: bool, blinded: Iterable[str] = (),
    list_url: ListUrl = lambda _process, _ids: "",
) -> Plan:
    """`existing`: tasks (open or closed) by fingerprint for the keys in `grouped`; `watched`:
    the open corrective actions seen before the scan; `cohorts`: (rule, group, period) ->
    [evaluated, passed] over records closed within the lookback; `list_url`: the platform's
    link to a list of records."""
    plan = Plan()
    every = [t for ts in existing.values() for t in ts]
    every += [t for _, ts in watched.values() for t in ts]
    kept, extra = duplicates(every)
    plan.heal.extend(duplicate_close(t, keeper, now, "corrective action") for t, keeper in extra)
    for key, findings in sorted(grouped.items(), key=lambda kv: (kv[0].rule_id, kv[0].group, kv[0].period)):
        fp = fingerprint_of(key, platform)
        rule = rules[key.rule_id]
        tally = cohorts.get((key.rule_id, key.group, key.period))
        draft = corrective_draft(key, fp, findings, tally, rule, config, now, list_url)
        subject = TaskSubject("corrective", findings[0].owner, rule.id, rule.clause,
                              f"{key.period} ({len(findings)} record"
                              f"{'' if len(findings) == 1 else 's'})")
        task = kept.get(fp)
        if task is None:
            # Closed by its owner or by a later period: never reopened. A later period that
            # passes already shows the cause addressed: nothing to ask for.
            if not existing.get(fp) and passing_period(key, cohorts) is None:
                plan.create.append(Create(draft, subject))
            continue
        if not in_line(task, draft):
            plan.update.append(Update(task, subject, draft))
        else:
            plan.known.append((task, subject))
    if not complete:
        return plan
    blind = set(blinded)
    healed = {(c.task.where, c.task.id) for c in plan.heal}
    for key, tasks in watched.values():
        later = passing_period(key, cohorts) if key.rule_id not in blind else None
        for task in tasks:
            if later is not None and (task.where, task.id) not in healed:
                plan.close.append(Close(task, close_note(now, neutralise(
                    f"every record of this group closed in {later} passes the rule.", 300))))
    return plan


def passing_period(key: CorrectiveKey, cohorts: Mapping[tuple[str, str, str], Sequence[int]]) -> str | None:
    """A period after the key's in which the group's closed records all pass the rule."""
    for (rule_id, group, period), (evaluated, passed) in sorted(cohorts.items()):
        if (rule_id == key.rule_id and group == key.group and evaluated and passed == evaluated
                and period_start(period) > period_start(key.period)):
            return period
    return None


def corrective_draft(
    key: CorrectiveKey, fp: str, findings: Sequence[FindingRow], tally: Sequence[int] | None,
    rule: Rule, config: WriteBackSettings, now: datetime, list_url: ListUrl,
) -> TaskDraft:
    group_name = clip(findings[0].owner, 100) if key.group else "no assignment group"
    whose = f"of {group_name}" if key.group else "without an assignment group"
    count = len(findings)
    examples, ranking = worst_first(findings)
    examples = examples[:EXAMPLES]
    rate = (f" of {tally[0]} evaluated ({100 * count / tally[0]:.0f}%)"
            if tally and tally[0] else "")
    link, attachment = full_list(key, findings, list_url)
    lines = [
        f"{KEY_LINE}{key.process} {key.rule_id} {key.group or '-'} {key.period}",
        f"Rule {rule.id} (ISO/IEC 20000-1 clause {rule.clause}): {rule.title}",
        "",
        f"{count}{rate} {key.process} records {whose} closed in {key.period} fail this "
        "rule. They are closed and need no edit: please find and address the cause (a form, a "
        "workflow, a habit, a missing instruction) so that later records pass (ISO/IEC 20000-1 "
        "10.1).",
        *([f"Why it matters: {rule.why.strip()}"] if rule.why.strip() else []),
        f"How to fix: {rule.remediation.strip()}",
        "",
        f"Examples ({len(examples)} of {count}, worst first: {ranking}):",
        *(f"  {clip(f.number, 40)}: {clip(f.message, MESSAGE_CAP // 4)}"
          + (f" ({t})" if (t := target_text(rule, f.observed, now)) else "") for f in examples),
        "",
        f"Full list: {link}",
        "This task closes itself once the group's records closed in a later period pass the rule;"
        " closed, it is not reopened for this period.",
        *dispute_lines(config.dispute_text),
    ]
    owner = key.group if is_reference(key.group) else config.owner_groups.get(key.process, "")
    severity = rule.severity.value
    return TaskDraft(
        fingerprint=fp, process=key.process, kind="corrective",
        title=neutralise(
            f"[ISO 20000-1 {rule.clause}] Corrective action: {rule.title} ({group_name}, "
            f"{key.period})", SHORT_CAP),
        body=neutralise("\n".join(lines), DESCRIPTION_CAP, BODY_CUT),
        priority=config.priority_of(severity), due=config.due(severity, now), owner_id=owner,
        attachment=attachment,
    )


def full_list(key: CorrectiveKey, findings: Sequence[FindingRow],
              list_url: ListUrl) -> tuple[str, tuple[str, bytes] | None]:
    """The platform's list of exactly these records where its link fits in MAX_LIST_URL
    characters; else a CSV of them, attached to the task."""
    ids = [f.record_id for f in findings]
    url = list_url(key.process, ids) if all(is_reference(i) for i in ids) else ""
    if url and len(url) <= MAX_LIST_URL:
        return url, None
    name = f"{key.rule_id}_{key.group or 'no-group'}_{key.period}_{len(findings)}-records.csv"
    return f"attached as {name} ({len(findings)} records)", (name, full_list_csv(findings))
