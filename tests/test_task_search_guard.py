"""Issue 25, point 1 on ServiceNow: a task search that answers nothing is not "no tasks"."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.connectors.servicenow.tasks import TaskTables
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.store.history import History
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


@pytest.mark.parametrize("field", ["correlation_display", "correlation_id"])
def test_a_task_whose_marker_a_person_edited_is_left_alone_not_duplicated(
    field: str, sandbox: Sandbox, tmp_path: Path,
) -> None:
    """fault: a person cleared the correlation display of an open task (or changed its
    correlation id, the fingerprint; `field`) while its record still fails; outcome: read
    again by sys_id, it is reported as left alone and kept open in the history store; no
    second task is created for its finding (exit 0)."""
    history = tmp_path / "h.sqlite"
    code, output = scan(sandbox, history)
    assert code == 0, output
    made = len(tasks(sandbox))
    target = next(t for t in tasks(sandbox) if t["active"] == "true")
    table = next(r["tbl"] for r in History(history).tasks("open")
                 if r["task_id"] == target["sys_id"])
    sandbox.store.update(table, target["sys_id"], {field: "x" if field == "correlation_display"
                                                   else "0" * 40})
    code, output = scan(sandbox, history)
    assert code == 0, output
    assert len(tasks(sandbox)) == made  # no duplicate
    assert f"task {target['number']} no longer carries this tool's marker" in output
    assert target["number"] in {t["number"] for t in History(history).tasks("open")}


def _plain_scan(box: Sandbox, history: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [
        "scan", "--source", "servicenow", "--instance", box.url, "--history", str(history),
        "--as-of", "2026-11-01", "--full", *extra])
    return result.exit_code, result.output


def test_far_fewer_records_than_the_last_complete_scan_is_an_incomplete_scan(
    sandbox: Sandbox, tmp_path: Path,
) -> None:
    """fault: the instance answers with 40 of the 200 incidents the last complete scan read in
    the same scope (an error read as "no more records"); outcome: exit 3 saying so, the
    watermark not moved, no task closed; with source.min_record_share: 0 the smaller table is
    accepted once and becomes the baseline."""
    history = tmp_path / "h.sqlite"
    code, output = _plain_scan(sandbox, history, "--write-back", "--max-new-tasks", "5000")
    assert code == 0, output
    store = History(history)
    mark = store.watermark(sandbox.url, "incident@write-back")
    closed_before = len(store.tasks("closed"))
    incidents = sandbox.store.tables["incident"]
    for sys_id in list(incidents.ids)[40:]:
        sandbox.store.delete("incident", sys_id)
    code, output = _plain_scan(sandbox, history, "--write-back", "--max-new-tasks", "5000")
    assert code == 3, output
    assert "incident: 40 records read, far fewer than the 200 of the last complete scan" in output
    store = History(history)
    assert store.watermark(sandbox.url, "incident@write-back") == mark
    assert len(store.tasks("closed")) == closed_before  # nothing closed
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text("source:\n  min_record_share: 0\n")
    code, output = _plain_scan(sandbox, history, "--config", str(config))
    assert code == 0, output
    code, output = _plain_scan(sandbox, history)
    assert code == 0, output  # 40 is the baseline now
