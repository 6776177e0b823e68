"""A file-source scan of a directory of real exports, as its JSON report, and a rule's counts
in it: shared by the real-data tests of the newer rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sms_conformance.cli import cli


def scan(directory: Path, tmp: Path) -> dict[str, Any]:
    out = tmp / "report.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{directory}", "--history", str(tmp / "h.sqlite"),
        "--as-of", "2026-11-01", "--format", "json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def counts(report: dict[str, Any], rule_id: str) -> tuple[int, int, int, int]:
    """(evaluated, passed, failed, unknown) of one rule."""
    line = next(r for r in report["summary"]["rules"] if r["rule_id"] == rule_id)
    return line["evaluated"], line["passed"], line["failed"], line["unknown"]
