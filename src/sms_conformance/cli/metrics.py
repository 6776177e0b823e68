"""`sms-conformance report metrics`: the process metrics a scan stored."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli.report_options import (
    history_option,
    instance_option,
    open_history,
    pick_scan,
)
from sms_conformance.model.counts import rule_lines
from sms_conformance.reports.corrective_status import task_status
from sms_conformance.reports.metrics_text import render_metrics
from sms_conformance.store.history import instance_key


@click.command("metrics")
@click.option("--scan", "scan_spec", default="latest", show_default=True, metavar="ID|latest")
@instance_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--config", "config_dir", type=click.Path(path_type=Path),
              help="Organisation config directory (due days; default ./config).")
@history_option
def metrics(scan_spec: str, instance: str | None, fmt: str, config_dir: Path | None,
            history_path: Path | None) -> None:
    """Process metrics of a stored scan and the corrective-action status."""
    due_days = ConfigDir.find(config_dir).settings()["write_back"]["due_days"]
    history = open_history(history_path)
    try:
        scan = pick_scan(history, scan_spec, instance)
        stored = history.metrics(scan["id"])
        severities = {x.rule_id: x.severity for x in rule_lines(history.counts(scan["id"]))}
        tasks = task_status(history, instance_key(scan), datetime.now(timezone.utc), severities,
                            due_days)
    finally:
        history.close()
    if fmt == "json":
        head = {"id": scan["id"], "instance": scan["instance"], "as_of": scan["as_of"],
                "complete": bool(scan["complete"]), "incremental": bool(scan["incremental"])}
        click.echo(json.dumps({"scan": head,
                               "metrics": stored, "corrective_actions": tasks.as_dict()},
                              indent=2))
        return
    click.echo(f"Process metrics of scan {scan['id']} ({scan['instance']}, as of {scan['as_of']})")
    click.echo("\n".join(render_metrics(stored, tasks)))
