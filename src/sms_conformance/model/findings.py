"""What a finding is: the status of one rule on one record, and the fingerprints that name a
finding, a record's task and a corrective action on the platform."""

from __future__ import annotations

import hashlib
from enum import Enum


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    UNKNOWN = "unknown"  # a value the check needs was not provided: never a task either way
    WAIVED = "waived"
    NOT_APPLICABLE = "not_applicable"


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


def record_fingerprint(platform: str, process: str, record_id: str,
                       legacy_instance: str | None = None) -> str:
    """Names the one task of a live record: (platform, process, record). With
    `legacy_instance`: the name releases before instance identity gave it, URL included."""
    return _digest("record", platform, *_legacy(legacy_instance), process, record_id)


def corrective_fingerprint(platform: str, process: str, rule_id: str, group: str, period: str,
                           legacy_instance: str | None = None) -> str:
    """Names a corrective action: (platform, process, rule, owner group, period); with
    `legacy_instance` as record_fingerprint."""
    return _digest("corrective", platform, *_legacy(legacy_instance), process, rule_id, group,
                   period)


def _legacy(instance: str | None) -> tuple[str, ...]:
    return () if instance is None else (instance.rstrip("/").lower(),)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
