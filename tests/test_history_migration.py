"""A history store written by an earlier version opens, is renamed to the platform-neutral
columns (findings.record_id, tasks.task_id), gains the provenance columns, and keeps its data."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.connectors.base import TaskRef
from sms_conformance.model.rows import TaskSubject
from sms_conformance.reports.model import load_report
from sms_conformance.store.history import SCHEMA, History

NOW = datetime(2026, 11, 20, 2, tzinfo=timezone.utc)

# The schema as 0.1 (up to the report 1.1 format) wrote it, verbatim.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
  id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, platform TEXT,
  instance TEXT, source TEXT, as_of TEXT, complete INTEGER NOT NULL DEFAULT 0,
  incremental INTEGER NOT NULL DEFAULT 0, notices TEXT NOT NULL DEFAULT '[]', error TEXT
);
CREATE TABLE IF NOT EXISTS rule_counts (
  scan_id INTEGER NOT NULL, rule_id TEXT NOT NULL, clause TEXT, process TEXT, severity TEXT,
  title TEXT, evaluated INTEGER, passed INTEGER, failed INTEGER, errors INTEGER, waived INTEGER,
  unknown INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scan_id, rule_id)
);
CREATE TABLE IF NOT EXISTS field_presence (
  scan_id INTEGER NOT NULL, process TEXT NOT NULL, field TEXT NOT NULL,
  PRIMARY KEY (scan_id, process, field)
);
CREATE TABLE IF NOT EXISTS unavailable (
  scan_id INTEGER NOT NULL, process TEXT NOT NULL, field TEXT NOT NULL, reason TEXT,
  records INTEGER, rules TEXT, PRIMARY KEY (scan_id, process, field)
);
CREATE TABLE IF NOT EXISTS findings (
  scan_id INTEGER NOT NULL, fingerprint TEXT NOT NULL, rule_id TEXT, clause TEXT,
  severity TEXT, process TEXT, tbl TEXT, sys_id TEXT, number TEXT, url TEXT, message TEXT,
  status TEXT, detail TEXT, observed TEXT, owner TEXT, owner_id TEXT,
  PRIMARY KEY (scan_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS finding_seen (
  fingerprint TEXT PRIMARY KEY, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watermarks (
  instance TEXT NOT NULL, tbl TEXT NOT NULL, updated_since TEXT NOT NULL,
  PRIMARY KEY (instance, tbl)
);
CREATE TABLE IF NOT EXISTS tasks (
  fingerprint TEXT NOT NULL, tbl TEXT NOT NULL, sys_id TEXT NOT NULL, number TEXT,
  state TEXT NOT NULL, owner TEXT, rule_id TEXT, clause TEXT, record_number TEXT,
  instance TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, closed_at TEXT,
  kind TEXT NOT NULL DEFAULT 'finding',
  PRIMARY KEY (tbl, sys_id)
);
CREATE INDEX IF NOT EXISTS tasks_fingerprint ON tasks (fingerprint);
"""

RECORD = "9d385017c611228701d22104cc95c371"
TASK = "46d44a23a9fe19810012d100cca80666"


def old_store(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO scans (started_at, finished_at, platform, instance, source, as_of,"
                   " complete) VALUES ('2026-11-20T02:00:00Z', '2026-11-20T02:04:00Z', 'servicenow',"
                   " 'https://acme.test', 'servicenow', '2026-11-20T02:00:00Z', 1)")
        db.execute("INSERT INTO rule_counts VALUES (1, 'incident.closure.validated', '8.6.1', "
                   "'incident', 'high', 'Closure validated', 10, 9, 1, 0, 0, 0)")
        db.execute("INSERT INTO findings VALUES (1, ?, 'incident.closure.validated', '8.6.1', "
                   "'high', 'incident', 'incident', ?, 'INC0010042', 'https://acme.test/x', 'm', "
                   "'fail', '', '{}', 'Service Desk', '')", ("f" * 40, RECORD))
        db.execute("INSERT INTO finding_seen VALUES (?, '2026-11-20T02:00:00Z', '2026-11-20T02:00:00Z')",
                   ("f" * 40,))
        db.execute("INSERT INTO tasks (fingerprint, tbl, sys_id, number, state, owner, rule_id, "
                   "clause, record_number, instance, created_at, updated_at) VALUES (?, "
                   "'incident_task', ?, 'ITASK1', 'open', 'Service Desk', 'incident.closure.validated',"
                   " '8.6.1', 'INC0010042', 'https://acme.test', '2026-11-20T02:00:00Z',"
                   " '2026-11-20T02:00:00Z')", ("f" * 40, TASK))
    db.close()
    return path


def columns(path: Path) -> dict[str, list[str]]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found = {t: sorted(r[1] for r in db.execute(f"PRAGMA table_info('{t}')")) for t in tables}
    db.close()
    return found


def test_an_old_store_is_renamed_and_keeps_its_findings_and_tasks(tmp_path: Path) -> None:
    path = old_store(tmp_path / "old.sqlite")
    history = History(path)
    (finding,) = history.findings(1)
    assert (finding.record_id, finding.number, finding.first_seen) == (
        RECORD, "INC0010042", "2026-11-20T02:00:00Z")
    (task,) = history.tasks("open")
    assert task["task_id"] == TASK and "sys_id" not in task
    ref = TaskRef("f" * 40, "incident_task", TASK, "ITASK1", True)
    history.close_task(ref, NOW)
    assert history.tasks("open") == [] and history.tasks("closed")[0]["task_id"] == TASK
    # the renamed key still identifies the task: recording it again reopens it, adds no row
    history.record_task(ref, TaskSubject("finding", "Service Desk", "incident.closure.validated",
                                         "8.6.1", "INC0010042"), "https://acme.test", NOW)
    assert [t["task_id"] for t in history.tasks("open")] == [TASK] and history.tasks("closed") == []
    report = load_report(history, 1)
    assert report.provenance.rules_digest == "" and dict(report.provenance.filters) == {}
    history.close()
    with sqlite3.connect(tmp_path / "fresh.sqlite") as db:
        db.executescript(SCHEMA)
    db.close()
    assert columns(path) == columns(tmp_path / "fresh.sqlite")


def test_an_old_store_renders_as_report_2_0(tmp_path: Path) -> None:
    path = old_store(tmp_path / "old.sqlite")
    result = CliRunner().invoke(cli, ["report", "show", "--history", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["schema_version"] == "2.0"
    assert report["findings"][0]["record_id"] == RECORD
    assert report["reproducibility"] == {"tool_version": None, "filters": {}, "rules_digest": None,
                                         "config_digest": None}


def test_a_renamed_store_opens_again(tmp_path: Path) -> None:
    path = old_store(tmp_path / "old.sqlite")
    History(path).close()
    before = columns(path)
    history = History(path)
    assert [f.record_id for f in history.findings(1)] == [RECORD]
    history.close()
    assert columns(path) == before
