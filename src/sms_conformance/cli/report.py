"""Prints a stored scan in the chosen format and picks the exit code."""

from __future__ import annotations

from pathlib import Path

import click

from sms_conformance.cli.exits import EXIT_FINDINGS, EXIT_OK, EXIT_SOURCE
from sms_conformance.model.counts import rule_lines
from sms_conformance.reports.model import load_report
from sms_conformance.reports.render import render
from sms_conformance.rules.model import Severity
from sms_conformance.scan.scanner import ScanOutcome
from sms_conformance.store.history import History


def print_report(history: History, scan_id: int, fmt: str, output: Path | None) -> None:
    render(load_report(history, scan_id), fmt, output)
    if output is not None:
        click.echo(f"wrote the {fmt} report of scan {scan_id} to {output}", err=True)


def report_incomplete(outcome: ScanOutcome) -> None:
    """An incomplete scan says why on stderr, whatever --format and --output say."""
    if outcome.failed_start:
        click.secho(f"error: no record read: {outcome.error or 'reason unknown'}", err=True,
                    fg="red")
    elif not outcome.complete:
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
