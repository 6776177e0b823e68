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
from sms_conformance.cli.lazy import LazyGroup
from sms_conformance.cli.logs import setup

__all__ = ["EXIT_CAP", "EXIT_CONFIG", "EXIT_FINDINGS", "EXIT_INTERNAL", "EXIT_LOCKED", "EXIT_OK",
           "EXIT_SOURCE", "cli", "main"]


class Root(LazyGroup, Cli):
    """The root group: commands loaded when used, errors made one line and an exit code."""


@click.group(cls=Root, epilog=EXIT_CODES_HELP, lazy={
    name: f"sms_conformance.cli.{module}" for name, module in (
        ("scan", "scan:scan"), ("rules", "rules:rules"), ("demo", "demo:demo"),
        ("doctor", "doctor:doctor"), ("sandbox", "sandbox:sandbox_group"),
        ("tasks", "tasks:tasks"), ("report", "report_group:report"),
        ("history", "history:history_group"), ("sample", "sample:sample"),
        ("trace", "trace:trace"))})
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
