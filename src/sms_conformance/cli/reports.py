"""`sms-conformance report show`: render a stored scan in any format."""

from __future__ import annotations

from pathlib import Path

import click

from sms_conformance.app.config import default_history_path
from sms_conformance.cli.report_options import instance_option, pick_scan
from sms_conformance.model.errors import ConfigError
from sms_conformance.reports.model import load_report
from sms_conformance.reports.render import FORMATS, render
from sms_conformance.store.history import History


@click.command("show")
@click.option("--scan", "scan", default="latest", show_default=True, metavar="ID|latest",
              help="Which stored scan.")
@instance_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Write the report here (default: stdout).")
@click.option("--history", "history_path", type=click.Path(path_type=Path),
              help="History store (default $SMS_CONFORMANCE_HISTORY or ~/.local/state).")
def show(scan: str, instance: str | None, fmt: str, output: Path | None, history_path: Path | None) -> None:
    """Render a stored scan (the latest by default) as table, json, csv, junit, oscal or sarif."""
    path = history_path or default_history_path()
    if not path.is_file():  # reading must not create an empty store
        raise ConfigError(f"{path}: no history store here: run `sms-conformance scan` first "
                          "(or pass --history PATH)")
    history = History.for_reading(path)
    try:
        loaded = load_report(history, int(pick_scan(history, scan, instance)["id"]))
        render(loaded, fmt, output)
    finally:
        history.close()
    if output is not None:
        click.echo(f"wrote the {fmt} report of scan {loaded.scan.id} to {output}", err=True)
