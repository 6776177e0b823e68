"""What a directory of Jira exports holds, whatever its shape (saved REST search pages or the
CSV export): the issues in the REST shape, the site's field list, the files read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sms_conformance.connectors.jira.fieldmap import FieldCatalog

Json = dict[str, Any]


@dataclass
class JiraExport:
    directory: Path
    shape: Literal["rest", "csv"]
    issues: list[Json]  # each once
    catalog: FieldCatalog
    files: tuple[Path, ...]
    notices: list[str] = field(default_factory=list)
    dates: str = ""  # how dates without a zone were read (a CSV export), for doctor
