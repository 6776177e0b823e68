"""An export is evaluated as of when it was taken, unless --as-of says otherwise."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from sms_conformance.cli import cli

HERE = Path(__file__).parent


def scan(directory: Path, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{directory}", "--history", str(tmp_path / "h.sqlite"),
        "--format", "json", "--output", str(out), *extra])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())["scan"]


def test_a_2023_export_is_aged_as_of_its_newest_update(tmp_path: Path) -> None:
    """The dev144612 capture's newest sys_updated_on is 2023-07-23 05:11:53: the scan is
    evaluated then, says so in a notice, and records it; --as-of now asks for today."""
    scanned = scan(HERE / "pdi_dev144612", tmp_path)
    assert scanned["as_of"] == "2023-07-23T05:11:53Z"
    assert any(n.startswith("evaluated as of 2023-07-23 05:11:53 UTC, the newest "
                            "sys_updated_on in incident.json") for n in scanned["notices"])
    today = scan(HERE / "pdi_dev144612", tmp_path, "--as-of", "now")
    assert today["as_of"][:10] == f"{datetime.now(timezone.utc):%Y-%m-%d}"
    assert not any(n.startswith("evaluated as of") for n in today["notices"])


def test_an_export_without_update_times_is_aged_as_of_the_file(tmp_path: Path) -> None:
    """The list CSV export carries no sys_updated_on: the file's own time is the moment."""
    directory = tmp_path / "export"
    directory.mkdir()
    target = directory / "incident.csv"
    shutil.copy(HERE / "list_export_csv_priyaroy" / "incident.csv", target)
    taken = datetime(2021, 5, 1, 12, 0, tzinfo=timezone.utc).timestamp()
    os.utime(target, (taken, taken))
    scanned = scan(directory, tmp_path)
    assert scanned["as_of"] == "2021-05-01T12:00:00Z"
    assert any("the time of incident.csv" in n for n in scanned["notices"])
