"""`report show` refuses clearly: no store, an empty one, an unknown scan, an output it cannot
write; a file it writes is whole or not there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import pytest

from sms_conformance.model.errors import ConfigError
from sms_conformance.reports.model import ScanReport, load_report
from sms_conformance.reports.render import RENDERERS, Renderer, render
from sms_conformance.store.history import History
from sms_conformance.support import safe_files
from tests.reports.conftest import show


def assert_one_error_line(result, *parts: str) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    assert all(p in lines[0] for p in parts), lines[0]
    return lines[0]


def test_no_history_store(tmp_path: Path) -> None:
    """bad input: report show on a history path where no store exists; outcome: exit 2, none created."""
    path = tmp_path / "nowhere" / "history.sqlite"
    assert_one_error_line(show(path), str(path), "no history store", "scan")
    assert not path.parent.exists()


def test_empty_history_store(tmp_path: Path) -> None:
    """bad input: a history store holding no scan; outcome: exit 2 saying to scan first."""
    path = tmp_path / "history.sqlite"
    History(path).close()
    assert_one_error_line(show(path), "holds no scan yet", "sms-conformance scan")


@pytest.mark.parametrize("scan", ["99", "abc", "0"])
def test_unknown_scan_id(stored: Path, scan: str) -> None:
    """bad input: --scan naming no stored scan; outcome: exit 2 naming it."""
    line = assert_one_error_line(show(stored, "--scan", scan, "--format", "json"), f"--scan {scan}")
    if scan == "99":
        assert "no such scan" in line and "scans 1 to 1" in line


def test_unwritable_output(stored: Path, tmp_path: Path) -> None:
    """bad input: --output in a directory that does not exist; outcome: exit 2, nothing written."""
    target = tmp_path / "missing" / "report.csv"
    assert_one_error_line(show(stored, "--format", "csv", "--output", str(target)), str(target),
                          "cannot write")
    assert not target.parent.exists()


def test_output_that_is_a_directory(stored: Path, tmp_path: Path) -> None:
    """bad input: --output naming a directory; outcome: exit 2, no temporary file left beside it."""
    assert_one_error_line(show(stored, "--format", "junit", "--output", str(tmp_path)), "cannot write")
    assert list(tmp_path.iterdir()) == []


def half_then_full(report: ScanReport, out: IO[str]) -> None:
    """A format that fails with a full disk halfway through."""
    out.write('{"schema": ')
    raise OSError(28, os.strerror(28))


def test_a_file_is_replaced_whole_or_not_at_all(stored: Path, tmp_path: Path, monkeypatch) -> None:
    """fault: the disk fills halfway through writing a report; outcome: exit 2, the previous file
    unchanged, no temporary file left."""
    target = tmp_path / "report.json"
    target.write_text("the previous report\n")
    monkeypatch.setitem(RENDERERS, "json", Renderer("json", "", f"{__name__}:half_then_full"))
    assert_one_error_line(show(stored, "--format", "json", "--output", str(target)), "No space left")
    assert target.read_text() == "the previous report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_written_file_has_the_usual_permissions(stored: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    history = History(stored)
    try:
        render(load_report(history, "latest"), "csv", target)
    finally:
        history.close()
    assert target.stat().st_mode & 0o777 == 0o666 & ~safe_files._umask()
    assert target.read_text(encoding="utf-8").startswith("scan_id,fingerprint,")


def test_load_report_names_the_store(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    history = History(path)
    try:
        with pytest.raises(ConfigError, match=str(path)):
            load_report(history)
    finally:
        history.close()


def test_scan_refuses_an_unwritable_output_before_reading(tmp_path: Path) -> None:
    """bad input: scan --output into a directory that does not exist; outcome: exit 2 before any
    record is read, no history store created."""
    from tests.reports.conftest import run

    history = tmp_path / "state" / "history.sqlite"
    target = tmp_path / "missing" / "report.sarif"
    result = run("scan", "--source", "sandbox", "--records", "20", "--history", str(history),
                 "--format", "sarif", "--output", str(target))
    assert_one_error_line(result, str(target), "cannot write")
    assert not history.parent.exists() and not target.parent.exists()
