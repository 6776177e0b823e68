"""`sms-conformance report evidence`: the evidence pack of a stored scan, DIR/index.html."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli.options import parse_since
from sms_conformance.cli.report_options import (
    history_option,
    instance_option,
    open_history,
    pick_scan,
)
from sms_conformance.engine.waivers import load_waivers
from sms_conformance.model.errors import ConfigError
from sms_conformance.reports.evidence_data import FINDINGS_PER_RULE, load_evidence
from sms_conformance.reports.evidence_html import render
from sms_conformance.store.history import parse_iso
from sms_conformance.support.safe_files import write_text


@click.command("evidence")
@click.option("--scan", "scan_spec", default="latest", show_default=True, metavar="ID|latest")
@instance_option
@click.option("--clause", metavar="C", help="Only this clause, e.g. 8.6.1.")
@click.option("--output", type=click.Path(path_type=Path), required=True, metavar="DIR",
              help="Directory to write index.html to (created if missing).")
@click.option("--since", default="90d", show_default=True, metavar="90d|DATE",
              help="Trend window, back from the scan's as-of moment.")
@click.option("--findings-per-rule", type=click.IntRange(1, 10000), default=FINDINGS_PER_RULE,
              show_default=True, help="Findings listed per rule (the csv format has all).")
@click.option("--config", "config_dir", type=click.Path(path_type=Path),
              help="Organisation config directory (waivers, due days; default ./config).")
@history_option
def evidence(scan_spec: str, instance: str | None, clause: str | None, output: Path, since: str,
             findings_per_rule: int, config_dir: Path | None, history_path: Path | None) -> None:
    """Write the evidence pack of a stored scan: one self-contained HTML file."""
    config = ConfigDir.find(config_dir)
    now = datetime.now(timezone.utc)
    history = open_history(history_path)
    try:
        scan = pick_scan(history, scan_spec, instance)
        ev = load_evidence(
            history, scan, clause=clause,
            waivers=load_waivers(config.file("waivers.yaml"), now).waivers,
            due_days=config.settings()["write_back"]["due_days"],
            since=parse_since(since, parse_iso(scan["as_of"])), now=now, cap=findings_per_rule)
    finally:
        history.close()
    if clause and not ev.lines:
        raise ConfigError(f"--clause {clause}: no rule of this clause in scan {scan['id']}")
    page = output / "index.html"
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{output}: cannot write: {exc.strerror}") from None
    write_text(page, render(ev))
    click.echo(f"wrote {page} (scan {scan['id']}, {len(ev.lines)} rules)", err=True)
