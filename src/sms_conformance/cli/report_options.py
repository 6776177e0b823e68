"""What the `report` commands share: the history store option, `--instance`, the scan chosen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sms_conformance.app.config import default_history_path
from sms_conformance.model.errors import ConfigError
from sms_conformance.store.choice import choose_scan
from sms_conformance.store.history import History

history_option = click.option(
    "--history", "history_path", type=click.Path(path_type=Path),
    help="History store (SQLite); default $SMS_CONFORMANCE_HISTORY or ~/.local/state.")


def open_history(path: Path | None) -> History:
    """The history store, which must exist already: a report never starts an empty one."""
    path = path or default_history_path()
    if not path.exists():
        raise ConfigError(f"{path}: no history store here: run a scan first, or pass --history PATH")
    return History.for_reading(path)


instance_option = click.option(
    "--instance", metavar="URL",
    help="With --scan latest: the latest scan of this instance, by any URL it was reached "
         "through (needed when the history store holds scans of several).")


def pick_scan(history: History, spec: str, instance: str | None = None) -> dict[str, Any]:
    """`latest` (of `instance`, or of the one instance the store holds) or a scan id."""
    return choose_scan(history, spec, instance)
