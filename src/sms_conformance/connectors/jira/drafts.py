"""The platform-free write-back seam (interfaces.md B) as the Jira port implements it.

Mirrors the core's TaskDraft / TaskRef, which the "intents" branch adds to connectors/base.py;
once merged, import them from there and delete this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class TaskDraft:
    fingerprint: str  # 40 hex chars
    process: str  # incident | problem | change
    kind: str  # record | corrective | finding
    title: str  # one line, already capped and neutralised
    body: str  # plain text, lines joined by "\n"
    priority: int  # 1 (highest) .. 5
    due: datetime  # aware, UTC
    owner_id: str = ""  # platform id of the owner group, "" = none
    parent_id: str = ""  # platform id of the record it is about, "" for corrective
    attachment: tuple[str, bytes] | None = None  # (file name, content)


@dataclass(frozen=True)
class TaskRef:
    fingerprint: str
    where: str  # Jira: the project key
    id: str
    number: str  # the issue key
    open: bool
    parent: str = ""  # the record's issue id
    title: str = ""
    body: str = ""
    priority: int = 0
    created: str = ""  # "YYYY-MM-DD hh:mm:ss" UTC: orders duplicates
    owner: str = ""
