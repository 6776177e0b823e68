"""`sms-conformance history prune`: keep the history store to a bounded size."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from sms_conformance.app.config import default_history_path
from sms_conformance.model.errors import ConfigError
from sms_conformance.store.history import History
from sms_conformance.store.listing import render_scans, scan_list
from sms_conformance.store.prune import parse_keep, prune

HISTORY_OPTION = click.option(
    "--history", "history_path", type=click.Path(path_type=Path),
    help="History store (SQLite); default $SMS_CONFORMANCE_HISTORY or ~/.local/state.")


def existing_history(path: Path | None) -> History:
    """The history store at `path` (or the default one), which must exist: commands that only
    read it never create an empty one."""
    path = path or default_history_path()
    if not path.is_file():
        raise ConfigError(f"{path}: no history store there: run a scan first, or pass --history "
                          "PATH")
    return History(path)


@click.group("history")
def history_group() -> None:
    """The history store of scans, findings and tasks."""


@history_group.command("scans")
@click.option("--instance", metavar="URL",
              help="Only the scans of this instance (through any of its URLs).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@HISTORY_OPTION
def scans_command(instance: str | None, fmt: str, history_path: Path | None) -> None:
    """List the stored scans, oldest first: id, instance, when, complete or why not, counts."""
    history = existing_history(history_path)
    try:
        listed = scan_list(history, instance)
    finally:
        history.close()
    if fmt == "json":
        click.echo(json.dumps({"scans": listed}, indent=2))
    else:
        click.echo("\n".join(render_scans(listed, instance)))


@history_group.command("prune")
@click.option("--keep", required=True, metavar="90d|12w",
              help="Remove scans started longer ago than this.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@HISTORY_OPTION
def prune_command(keep: str, dry_run: bool, history_path: Path | None) -> None:
    """Remove old scans with their counts, findings and records; never the latest complete scan
    of an instance, watermarks or open tasks. VACUUMs the store afterwards."""
    window = parse_keep(keep)
    history = existing_history(history_path)
    try:
        removed = prune(history, window, datetime.now(timezone.utc), dry_run)
    finally:
        history.close()
    click.echo("\n".join(removed.lines(dry_run)))
