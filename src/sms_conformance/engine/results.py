"""The result of evaluating one rule on one record."""

from __future__ import annotations

from dataclasses import dataclass, field

from sms_conformance.model.findings import Status, fingerprint
from sms_conformance.model.records import Record
from sms_conformance.rules.model import Rule


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
