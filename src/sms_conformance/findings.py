"""Results of evaluating one rule on one record, and the fingerprint that names a finding."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum

from sms_conformance.records import Record
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
        return fingerprint(
            self.record.platform, self.record.instance, self.record.process,
            self.record.id, self.rule.id,
        )


def fingerprint(platform: str, instance: str, process: str, record_id: str, rule_id: str) -> str:
    """Stable id of a (platform, instance, process, record, rule) finding: 40 hex chars."""
    key = "\x1f".join((platform, instance.rstrip("/").lower(), process, record_id, rule_id))
    return hashlib.sha256(key.encode()).hexdigest()[:40]
