"""Running under cron: --quiet, --log-format json, progress on terminals only, history prune."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.cli.logs import REDACTED, redact
from sms_conformance.cli.progress import ProgressLine, describe, progress_printer
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow.export import export

AS_OF = "2026-11-01"


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exports")
    export(generate(records=150, seed=3), path)
    return path


def scan(exports: Path, history: Path, *extra: str) -> Any:
    return invoke("scan", "--source", f"file:{exports}", "--as-of", AS_OF, "--history",
                  str(history), *extra)


# --quiet ------------------------------------------------------------------------------------

def test_quiet_clean_run_prints_nothing_at_all(exports: Path, tmp_path: Path) -> None:
    result = invoke("scan", "--source", "sandbox", "--records", "100", "--as-of", AS_OF,
                    "--history", str(tmp_path / "h.sqlite"), "--quiet")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""


def test_quiet_json_log_of_a_clean_run_is_its_two_events(exports: Path, tmp_path: Path) -> None:
    """--quiet silences the human text only: a JSON log still has the run's start and end."""
    result = invoke("--log-format", "json", "scan", "--source", f"file:{exports}", "--as-of",
                    AS_OF, "--history", str(tmp_path / "h.sqlite"), "--quiet")
    assert result.exit_code == 0
    assert result.stdout == ""
    started, finished = json_lines(result.stderr)
    assert (started["event"], finished["event"]) == ("scan.started", "scan.finished")
    assert finished["fields"]["exit_code"] == 0 and finished["fields"]["complete"] is True
    assert finished["fields"]["duration_s"] >= 0


def test_quiet_with_findings_at_fail_on_prints_one_summary_line(exports: Path,
                                                                tmp_path: Path) -> None:
    result = scan(exports, tmp_path / "h.sqlite", "--quiet", "--fail-on", "high")
    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("scan 1 of file:") and line.endswith("at or above high: exit 1")
    assert " critical" in line or " high" in line


def test_quiet_write_back_prints_nothing_when_clean_and_one_line_on_findings(
        sandbox: Any, tmp_path: Path) -> None:
    args = ["scan", "--source", "servicenow", "--instance", sandbox.url, "--history",
            str(tmp_path / "h.sqlite"), "--write-back", "--max-new-tasks", "5000", "--quiet"]
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    assert first.output == ""
    again = invoke(*args, "--fail-on", "low")
    assert again.exit_code == 1
    [line] = again.stderr.splitlines()
    assert line.endswith("at or above low: exit 1") and again.stdout == ""


def test_quiet_still_writes_the_report_to_output(exports: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = scan(exports, tmp_path / "h.sqlite", "--quiet", "--format", "json", "--output",
                  str(out))
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(out.read_text())["findings"]


# --log-format json --------------------------------------------------------------------------

def json_lines(text: str) -> list[dict[str, Any]]:
    objects = [json.loads(line) for line in text.splitlines()]
    for obj in objects:
        assert set(obj) == {"ts", "level", "event", "fields"}, obj
        assert obj["ts"].endswith("Z")
    return objects


def test_json_log_makes_every_stderr_line_an_event(exports: Path, tmp_path: Path) -> None:
    result = invoke("--log-format", "json", "scan", "--source", "sandbox", "--records", "100",
                    "--as-of", AS_OF, "--history", str(tmp_path / "h.sqlite"), "--format",
                    "json", "--output", str(tmp_path / "r.json"), "--fail-on", "critical")
    events = json_lines(result.stderr)
    names = [e["event"] for e in events]
    assert names.index("scan.started") < names.index("scan.finished")
    [finished] = [e for e in events if e["event"] == "scan.finished"]
    assert finished["fields"]["exit_code"] == result.exit_code
    assert finished["fields"]["records"]["incident"] == 100
    assert any(e["event"] == "message" and "sandbox:" in e["fields"]["message"] for e in events)


def test_json_log_error_is_one_json_line_exit_2(tmp_path: Path) -> None:
    """bad input: --log-format json with a history store that does not exist; outcome: one JSON
    error line, exit 2"""
    result = invoke("--log-format", "json", "sample", "--history", str(tmp_path / "x.sqlite"),
                    "--size", "3", "--seed", "1")
    assert result.exit_code == 2
    [event] = json_lines(result.stderr)
    assert (event["level"], event["event"]) == ("error", "error")
    assert "no history store there" in event["fields"]["message"]


def test_json_log_never_shows_the_password(sandbox: Any, tmp_path: Path) -> None:
    """The sandbox fixture puts the password in SERVICENOW_PASSWORD; -v logs every request."""
    result = invoke("-v", "--log-format", "json", "scan", "--source", "servicenow",
                    "--instance", sandbox.url, "--history", str(tmp_path / "h.sqlite"),
                    "--format", "json", "--output", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    assert len(json_lines(result.stderr)) > 5
    assert sandbox.password not in result.output


def test_redaction_of_secret_fields_and_text() -> None:
    assert redact({"password": "hunter2", "user": "svc"}) == {"password": REDACTED, "user": "svc"}
    assert redact({"nested": {"client_secret": "s"}})["nested"]["client_secret"] == REDACTED
    assert "hunter2" not in redact("login failed: password=hunter2 user=svc")


# progress -----------------------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_a_bar_with_rate_and_eta_on_a_terminal() -> None:
    stream, now = Terminal(), [0.0]
    line = ProgressLine(stream, clock=lambda: now[0], width=120)
    line("incident", 500, 10_000)
    now[0] = 2.0
    line("incident", 1500, 10_000)  # 1,000 records in 2 s
    drawn = stream.getvalue()
    assert "scanning incident" in drawn and "━" in drawn, "a bar"
    assert "1,500/10,000 records, 500/s, ETA 0:00:17" in drawn
    before = len(stream.getvalue())
    line.clear()
    erased = stream.getvalue()[before:]
    assert "\x1b[?25h" in erased and erased.endswith("\x1b[2K"), "erased, the cursor shown again"


def test_no_progress_where_stderr_is_not_a_terminal_or_quiet() -> None:
    assert progress_printer(io.StringIO()) is None
    assert progress_printer(Terminal(), quiet=True) is None
    assert progress_printer(Terminal()) is not None
    assert describe("change", 10, None, 0.0) == "scanning change: 10 records"


# history prune ------------------------------------------------------------------------------

def backdate(history: Path, days: int, *scan_ids: int) -> None:
    with sqlite3.connect(history) as db:
        db.executemany("UPDATE scans SET started_at=datetime('now', ?) || 'Z' WHERE id=?",
                       [(f"-{days} days", i) for i in scan_ids])
        db.execute("UPDATE scans SET started_at=replace(started_at, ' ', 'T')")


def rows(history: Path, table: str, scan_id: int) -> int:
    with sqlite3.connect(history) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table} WHERE scan_id=?",
                              (scan_id,)).fetchone()[0])


def test_prune_removes_old_scans_with_their_rows_and_keeps_the_rest(
        exports: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    for _ in range(3):
        assert scan(exports, history).exit_code == 0
    backdate(history, 200, 1, 2)
    with sqlite3.connect(history) as db:
        db.execute("INSERT INTO watermarks VALUES ('i', 'incident', '2026-01-01T00:00:00Z')")
        db.executemany(
            "INSERT INTO tasks (fingerprint, tbl, task_id, state, created_at, updated_at, "
            "closed_at) VALUES (?, 'incident_task', ?, ?, '2020-01-01T00:00:00Z', "
            "'2020-01-01T00:00:00Z', ?)",
            [("f1", "open1", "open", None), ("f2", "closed1", "closed", "2020-02-01T00:00:00Z")])
    assert rows(history, "findings", 1) and rows(history, "scanned", 1)
    with sqlite3.connect(history) as db:
        watermarks = db.execute("SELECT * FROM watermarks ORDER BY 1, 2").fetchall()

    dry = invoke("history", "prune", "--keep", "90d", "--dry-run", "--history", str(history))
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.startswith("would remove 2 scans (ids 1..2) started before ")
    assert rows(history, "findings", 1), "a dry run removes nothing"

    done = invoke("history", "prune", "--keep", "90d", "--history", str(history))
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("removed 2 scans (ids 1..2)")
    assert "after VACUUM" in done.stdout
    for table in ("findings", "scanned", "rule_counts", "field_presence"):
        assert rows(history, table, 1) == rows(history, table, 2) == 0, table
    assert rows(history, "findings", 3) and rows(history, "scanned", 3)
    with sqlite3.connect(history) as db:
        assert [r[0] for r in db.execute("SELECT id FROM scans")] == [3]
        assert db.execute("SELECT * FROM watermarks ORDER BY 1, 2").fetchall() == watermarks
        assert [r[0] for r in db.execute("SELECT task_id FROM tasks")] == ["open1"]


def test_prune_never_removes_the_latest_complete_scan(exports: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    for _ in range(2):
        assert scan(exports, history).exit_code == 0
    backdate(history, 400, 1, 2)
    result = invoke("history", "prune", "--keep", "12w", "--history", str(history))
    assert result.exit_code == 0, result.output
    assert "removed 1 scans (ids 1..1)" in result.stdout
    assert "kept the latest complete scan of each instance: 2" in result.stdout
    assert rows(history, "findings", 2)


@pytest.mark.parametrize("keep", ["90", "0d", "3m", "-5d", "lots"])
def test_prune_bad_keep_is_one_line_exit_2(exports: Path, tmp_path: Path, keep: str) -> None:
    """bad input: history prune --keep that is not a number of days or weeks; outcome: one
    error line, exit 2, nothing removed"""
    history = tmp_path / "h.sqlite"
    assert scan(exports, history).exit_code == 0
    result = invoke("history", "prune", "--keep", keep, "--history", str(history))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: --keep {keep!r}: expected a number of days or weeks above 0, such as 90d or 12w"]
    assert rows(history, "findings", 1)


def test_prune_without_a_history_store_is_one_line_exit_2(tmp_path: Path) -> None:
    """bad input: history prune of a store that does not exist; outcome: one error line, exit 2,
    no store created"""
    missing = tmp_path / "none.sqlite"
    result = invoke("history", "prune", "--keep", "90d", "--history", str(missing))
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "no history store there" in result.stderr
    assert not missing.exists()


def test_sample_latest_is_the_last_complete_full_scan(exports: Path, tmp_path: Path) -> None:
    """An incremental scan holds only the records that changed: `--scan latest` skips it."""
    history = tmp_path / "h.sqlite"
    assert scan(exports, history).exit_code == 0
    assert scan(exports, history, "--since", "30d").exit_code == 0
    result = invoke("sample", "--history", str(history), "--size", "3", "--seed", "1",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scan"]["id"] == 1
