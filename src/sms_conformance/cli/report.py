"""Prints a stored scan in the chosen format and picks the exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sms_conformance.cli import EXIT_FINDINGS, EXIT_OK, EXIT_SOURCE
from sms_conformance.errors import ConfigError
from sms_conformance.history import History
from sms_conformance.reports.console import render_findings, render_summary, render_unavailable
from sms_conformance.reports.json_report import write_json
from sms_conformance.reports.summary import rule_lines
from sms_conformance.rules.model import Severity
from sms_conformance.scan import ScanOutcome

CONSOLE_FINDINGS = 25


def print_report(history: History, scan_id: int, fmt: str, output: Path | None) -> None:
    scan = history.scan(scan_id)
    assert scan is not None
    lines = rule_lines(history.counts(scan_id))
    if fmt == "json":
        if output is None:
            write_json(sys.stdout.buffer, scan, lines, history.findings(scan_id),
                       history.unavailable(scan_id))
            sys.stdout.flush()
            return
        try:
            with output.open("wb") as handle:
                count = write_json(handle, scan, lines, history.findings(scan_id),
                                   history.unavailable(scan_id))
        except OSError as exc:
            raise ConfigError(f"{output}: cannot write: {exc.strerror}") from None
        click.echo(f"wrote {count} findings to {output}", err=True)
        return
    total = sum(x.failed + x.errors + x.waived for x in lines)
    shown = history.findings(scan_id, CONSOLE_FINDINGS, statuses=("fail", "error", "waived"),
                             by_severity=True)
    text = [*render_summary(scan, lines), *render_unavailable(history.unavailable(scan_id)),
            *render_findings(shown, total, CONSOLE_FINDINGS, complete=bool(scan["complete"]))]
    if output:
        try:
            output.write_text("\n".join(text) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{output}: cannot write: {exc.strerror}") from None
    else:
        click.echo("\n".join(text))


def report_incomplete(outcome: ScanOutcome) -> None:
    """An incomplete scan says why on stderr, whatever --format and --output say."""
    if not outcome.complete:
        click.secho(f"error: scan incomplete: {outcome.error or 'reason unknown'}",
                    err=True, fg="red")


def exit_code(history: History, outcome: ScanOutcome, fail_on: str | None) -> int:
    if not outcome.complete:
        return EXIT_SOURCE
    if fail_on is None:
        return EXIT_OK
    threshold = Severity(fail_on).rank
    for line in rule_lines(history.counts(outcome.scan_id)):
        if (line.failed or line.errors) and Severity(line.severity).rank >= threshold:
            return EXIT_FINDINGS
    return EXIT_OK
