"""`sms-conformance report ...`: stored scans rendered again (trends, the evidence pack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sms_conformance.config import default_history_path
from sms_conformance.errors import ConfigError
from sms_conformance.history import History


@click.group("report")
def report() -> None:
    """Render stored scans: any format, rate trends, metrics, the evidence pack."""


history_option = click.option(
    "--history", "history_path", type=click.Path(path_type=Path),
    help="History store (SQLite); default $SMS_CONFORMANCE_HISTORY or ~/.local/state.")


def open_history(path: Path | None) -> History:
    """The history store, which must exist already: a report never starts an empty one."""
    path = path or default_history_path()
    if not path.exists():
        raise ConfigError(f"{path}: no history store here: run a scan first, or pass --history PATH")
    return History(path)


def pick_scan(history: History, spec: str) -> dict[str, Any]:
    """`latest` or a scan id."""
    if spec != "latest" and not (spec.isdigit() and int(spec) > 0):
        raise ConfigError(f"--scan {spec!r}: expected a scan id or 'latest'")
    scan = history.scan(None if spec == "latest" else int(spec))
    if scan is None:
        raise ConfigError(f"{history.path}: no scan {spec} in this history store")
    return scan


def _register() -> None:
    from sms_conformance.cli.evidence import evidence
    from sms_conformance.cli.metrics import metrics
    from sms_conformance.cli.reports import show
    from sms_conformance.cli.trend import trend

    for command in (show, trend, metrics, evidence):
        report.add_command(command)


_register()
