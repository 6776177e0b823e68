"""The command line: click commands, each a thin layer over the application (exit codes in
cli/exits.py). Commands load when they run (cli/lazy.py)."""

from __future__ import annotations

import click

from sms_conformance import __version__
from sms_conformance.cli.exits import (
    EXIT_CAP,
    EXIT_CODES_HELP,
    EXIT_CONFIG,
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_SOURCE,
    Cli,
)
from sms_conformance.cli.lazy import Lazy, LazyGroup
from sms_conformance.cli.logs import setup

__all__ = ["EXIT_CAP", "EXIT_CONFIG", "EXIT_FINDINGS", "EXIT_INTERNAL", "EXIT_LOCKED", "EXIT_OK",
           "EXIT_SOURCE", "cli", "main"]


class Root(LazyGroup, Cli):
    """The root group: commands loaded when used, errors made one line and an exit code."""


@click.group(cls=Root, epilog=EXIT_CODES_HELP, lazy={
    name: Lazy(f"sms_conformance.cli.{module}", summary) for name, module, summary in (
        ("scan", "scan:scan", "Scan incidents, problems, changes and service requests against "
         "the conformance rules."),
        ("rules", "rules:rules", "List, show, validate and test conformance rules."),
        ("demo", "demo:demo", "Start a seeded sandbox dated up to today, scan it over HTTP, write "
                              "remediation tasks back, report; the scans stay in the history "
                              "store for `report` and `history`."),
        ("doctor", "doctor:doctor", "Check reachability, auth, that every record type and field "
                                    "the rules read is readable, clock skew, and where write-back "
                                    "would write (ServiceNow: every task table extends task; Jira: "
                                    "the task project, issue type and link type); for export "
                                    "files, which fields the rules read they provide."),
        ("sandbox", "sandbox:sandbox_group", "A local ServiceNow-compatible Table API seeded with "
                                             "linked, partly nonconforming records."),
        ("tasks", "tasks:tasks", "Remediation tasks written back to the platform."),
        ("report", "report_group:report", "Render stored scans: any format, rate trends, metrics, "
                                          "the evidence pack, diffs."),
        ("history", "history:history_group", "The history store of scans, findings and tasks."),
        ("sample", "sample:sample", "Draw a stratified random sample of the records a stored scan "
                                    "evaluated, with their results, the way an auditor samples "
                                    "tickets (proportional allocation, at least one per stratum "
                                    "where the size allows; see sampling.py)."),
        ("trace", "trace:trace", "Follow a record's links (incident -> problem -> change -> "
                                 "configuration item, and a problem's incidents), reading them "
                                 "live, with every record's rule results."))})
@click.version_option(__version__, prog_name="sms-conformance")
@click.option("-v", "--verbose", is_flag=True, help="Log HTTP requests and show tracebacks.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True,
              help="json: every stderr line is a JSON object (ts, level, event, fields).")
def cli(verbose: bool, log_format: str) -> None:
    """ISO/IEC 20000-1 conformance monitor for ITSM records: ServiceNow (live instance or Table
    API exports) and Jira Service Management."""
    setup(log_format, verbose)


def main() -> None:
    cli()
