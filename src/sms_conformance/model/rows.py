"""The rows the scan writes and the reports and write-back read: one finding, and what a task
is about. Typed, so no part counts positions in a tuple."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FindingRow:
    """One stored finding, as reports read it."""

    fingerprint: str
    rule_id: str
    clause: str
    severity: str
    process: str
    table: str
    record_id: str  # the record's id on its platform (a ServiceNow sys_id, a Jira issue id)
    number: str
    url: str
    message: str
    status: str
    detail: str
    observed: dict[str, str]
    owner: str
    owner_id: str
    first_seen: str = ""  # when the store first saw the finding (read back only)


@dataclass(frozen=True)
class TaskSubject:
    """What a task is about, as `tasks list` shows it."""

    kind: str  # finding (one rule on one record), record (a live record), corrective
    owner: str
    rule_id: str  # the rule, or the rules of a record task joined by ", "
    clause: str
    label: str  # the record number, or "<group> <period>" for a corrective action
