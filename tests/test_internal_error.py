"""Issue 25, point 6: a defect exits with its own code, never 1 (which cron reads as findings)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import EXIT_INTERNAL, cli
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.scan.scanner import Scanner


def _crash(*_: object, **__: object) -> None:
    raise RecursionError("maximum recursion depth exceeded \x1b]0;pwned\x07")


def test_an_uncaught_exception_exits_with_the_internal_error_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """fault: an exception the tool does not expect (RecursionError) in the middle of a scan;
    outcome: exit EXIT_INTERNAL (5), one line naming the error, no traceback, no escapes."""
    export(generate(5, 1), tmp_path / "export")
    monkeypatch.setattr(Scanner, "run", _crash)
    result = CliRunner().invoke(cli, ["scan", "--source", f"file:{tmp_path / 'export'}",
                                      "--history", str(tmp_path / "h.sqlite")])
    assert result.exit_code == EXIT_INTERNAL == 5
    assert "internal error: RecursionError: maximum recursion depth exceeded" in result.output
    assert "Traceback" not in result.output and "\x1b" not in result.output
    assert "-v" in result.output  # how to get the traceback
