"""Issue 25, point 1 on ServiceNow: a task search that answers nothing is not "no tasks"."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.connectors.servicenow.tasks import TaskTables
from sms_conformance.history import History
from sms_conformance.sandbox import Sandbox
from tests.test_writeback_e2e import tasks


def scan(box: Sandbox, history: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
        "--as-of", "2026-11-01", "--full", "--write-back", "--max-new-tasks", "5000"])
    return result.exit_code, result.output


def test_an_empty_task_search_after_a_healthy_run_creates_nothing_on_servicenow(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """fault: after a healthy write-back, the query for this tool's open tasks returns no row
    (ServiceNow sandbox); outcome: re-read by sys_id they are open: 0 tasks created, exit 3
    with the reason."""
    history = tmp_path / "h.sqlite"
    code, output = scan(sandbox, history)
    assert code == 0, output
    made = len(tasks(sandbox))
    assert made and len(History(history).tasks("open")) == made
    monkeypatch.setattr(TaskTables, "open", lambda self, table: [])
    code, output = scan(sandbox, history)
    assert code == 3, output
    assert "search did not answer fully" in output
    assert len(tasks(sandbox)) == made
