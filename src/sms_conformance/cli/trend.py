"""`sms-conformance report trend`: failure rates with denominators, scan by scan."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from sms_conformance.cli.options import parse_since
from sms_conformance.cli.report_options import history_option, open_history
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import Process
from sms_conformance.reports import trend as trends
from sms_conformance.reports.trend import TrendQuery, render_trend


@click.command("trend")
@click.option("--clause", metavar="C", help="One clause, e.g. 8.6.1 (default: every clause).")
@click.option("--rule", metavar="ID", help="One rule.")
@click.option("--process", type=click.Choice([p.value for p in Process]), help="One process.")
@click.option("--since", default="90d", show_default=True, metavar="90d|DATE",
              help="Scans started since then.")
@click.option("--instance", metavar="URL", help="Scans of this instance, through any of its URLs "
              "(default: the latest scan's).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@history_option
def trend(clause: str | None, rule: str | None, process: str | None, since: str,
          instance: str | None, fmt: str, history_path: Path | None) -> None:
    """Failure rates per scan (failed of decided), by clause, rule or process."""
    if sum(x is not None for x in (clause, rule, process)) > 1:
        raise ConfigError("give at most one of --clause, --rule and --process")
    query = TrendQuery(parse_since(since, datetime.now(timezone.utc)), clause, rule, process,
                       instance)
    history = open_history(history_path)
    try:
        found, series = trends.trend(history, query)
    finally:
        history.close()
    if fmt == "json":
        click.echo(json.dumps({
            "instance": found, "since": query.since.isoformat() if query.since else None,
            "series": [s.as_dict() for s in series],
        }, indent=2))
    else:
        click.echo("\n".join(render_trend(found, series, query.since)))
