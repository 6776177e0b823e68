"""Results of evaluating one rule on one record, and the fingerprint that names a finding."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum

from sms_conformance.model.records import Record
from sms_conformance.rules.model import Rule


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    UNKNOWN = "unknown"  # a value the check needs was not provided: never a task either way
    WAIVED = "waived"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: Rule
    record: Record
    status: Status
    detail: str = ""
    observed: dict[str, str] = field(default_factory=dict)
    unknown: tuple[tuple[str, str], ...] = ()  # (field, reason) the source did not provide

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.record.platform, self.record.process, self.record.id, self.rule.id)


def fingerprint(platform: str, process: str, record_id: str, rule_id: str) -> str:
    """Stable id of a (platform, process, record, rule) finding: 40 hex chars. No instance URL:
    a task lives inside its instance, whatever URL reaches it."""
    key = "\x1f".join((platform, process, record_id, rule_id))
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def legacy_fingerprint(platform: str, instance: str, process: str, record_id: str,
                       rule_id: str) -> str:
    """The fingerprint of releases before instance identity, with the instance URL in it: the
    first run after an upgrade finds their tasks and history by it and re-keys them."""
    key = "\x1f".join((platform, instance.rstrip("/").lower(), process, record_id, rule_id))
    return hashlib.sha256(key.encode()).hexdigest()[:40]
