"""Text pieces that make a remediation task readable to its owner. Pure, no I/O.

The target a finding breaches ("P2 target 8 h (opened to resolved), took 31 h"), derived from the
rule's `within` / `older_than` condition and the values observed on the record; linked records
shown by number rather than by record id; and how to dispute a finding or ask for a waiver.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from sms_conformance.model.rows import FindingRow
from sms_conformance.rules import model as m
from sms_conformance.rules.fields import walk

DEFAULT_DISPUTE_TEXT = (
    "Disagree with a finding? To dispute it or request a waiver, write to the GRC contact "
    "(name them in write_back.dispute_text in config/settings.yaml) with the rule id, the record "
    "number and the reason. An approved waiver goes into config/waivers.yaml with its approver "
    "and expiry; later scans then report the finding as waived and this task no longer asks "
    "for it."
)
_ID = re.compile(r"\b[0-9a-f]{32}\b")


def duration(span: timedelta) -> str:
    """"45 min", "8 h", "31 h", "2.5 h", "5 d", "163 d": hours up to three days, then days."""
    seconds = span.total_seconds()
    if seconds < 3600:
        return f"{max(0, round(seconds / 60))} min"
    if seconds < 72 * 3600:
        return f"{_number(seconds / 3600)} h"
    return f"{_number(seconds / 86400)} d"


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _label(field: str) -> str:
    return field.removesuffix("_at").replace("_", " ")


def _target(targets: Mapping[Any, timedelta], key: str | None) -> timedelta | None:
    """The target for an observed key: rule targets are keyed by canonical values (ints for
    priorities) while observed values are text."""
    for candidate in (key, int(key) if key and key.lstrip("-").isdigit() else None):
        if candidate is not None and candidate in targets:
            return targets[candidate]
    return targets.get(None)


def target_text(rule: m.Rule, observed: Mapping[str, str], now: datetime) -> str:
    """The target the record breaches and by how much, or "" when the rule has no duration
    target or the observed values do not show the breach."""
    for condition in (c for top in rule.check for c in walk(top)):
        if isinstance(condition, m.Within):
            start, end = _moment(observed.get(condition.start)), _moment(observed.get(condition.end))
            key = observed.get(condition.by) if condition.by else None
            target = _target(condition.targets, key)
            if start is None or end is None or target is None or end - start <= target:
                continue
            who = ("P" if condition.by == "priority" else f"{_label(condition.by)} ") + str(key) \
                if condition.by else ""
            span = f"from {_label(condition.start)} to {_label(condition.end)}"
            return f"{who} target {duration(target)} {span}, took {duration(end - start)}".strip()
        if isinstance(condition, m.OlderThan):
            since = _moment(observed.get(condition.field))
            if since is None or now - since <= condition.age:
                continue
            # The day the limit passed, not today's age: the text (and the task) stays the same
            # from run to run.
            return (f"at most {duration(condition.age)} since {_label(condition.field)}, "
                    f"exceeded on {since + condition.age:%Y-%m-%d}")
    return ""


def target_lines(rule: m.Rule, observed: Mapping[str, str], now: datetime,
                 indent: str = "") -> list[str]:
    """["Target breached: ..."] for a task's description, or nothing."""
    text = target_text(rule, observed, now)
    return [f"{indent}Target breached: {text}"] if text else []


def show_linked(finding: FindingRow, ref_fields: Container[str],
                numbers: Mapping[str, str]) -> FindingRow:
    """The finding with its linked records shown by number: observed reference values (record
    ids) become the number of the record where the scan read it, else "(record id ...)"; ids in
    the message become numbers where known."""
    observed = {
        name: (numbers.get(value) or f"(record id {value})") if value and name in ref_fields
        else value
        for name, value in finding.observed.items()
    }
    message = _ID.sub(lambda hit: numbers.get(hit.group(0), hit.group(0)), finding.message)
    if observed == finding.observed and message == finding.message:
        return finding
    return replace(finding, observed=observed, message=message)


def dispute_lines(text: str) -> list[str]:
    """The closing paragraph of every task: how to dispute a finding or ask for a waiver."""
    return ["", text.strip()] if text.strip() else []
