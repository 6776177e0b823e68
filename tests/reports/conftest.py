"""One stored scan of an export with gaps (a column left out, a table not exported), so that
the formats meet failures, unknown results and rules with no evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow.export import export


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="session")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history store holding that scan (scan 1); treat it as read-only."""
    base = tmp_path_factory.mktemp("stored")
    exports = base / "exports"
    export(generate(300, 5), exports)
    path = exports / "incident.json"
    body = json.loads(path.read_text())
    body["result"] = [{k: v for k, v in r.items() if k != "close_notes"} for r in body["result"]]
    path.write_text(json.dumps(body))
    (exports / "problem.json").unlink()
    history = base / "history.sqlite"
    result = run("scan", "--source", f"file:{exports}", "--as-of", "2026-11-01",
                 "--history", str(history), "--format", "json", "--output", str(base / "scan.json"))
    assert result.exit_code == 0, result.output
    return history


@pytest.fixture(scope="session")
def report_json(stored: Path) -> dict:
    """The JSON report of the stored scan, as the scan command wrote it."""
    return json.loads((stored.parent / "scan.json").read_text())


def show(history: Path, *args: str) -> Result:
    return run("report", "show", "--history", str(history), *args)
