"""`sms-conformance demo`: sandbox + scan + write-back + report, in one command."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from sms_conformance.cli.report import print_report
from sms_conformance.cli.sources import open_source
from sms_conformance.cli.tasks import render_tasks
from sms_conformance.cli.writeback import WriteBack
from sms_conformance.config import ConfigDir
from sms_conformance.history import History
from sms_conformance.process_metrics import MetricSettings
from sms_conformance.provenance import Provenance, config_digest, rules_digest
from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR as ANCHOR
from sms_conformance.scan import Scanner, ScanOptions
from sms_conformance.waivers import Waivers


@click.command()
@click.option("--records", type=click.IntRange(1), default=2000, show_default=True,
              help="Incidents to seed the sandbox with (problems and changes scale along).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.pass_context
def demo(ctx: click.Context, records: int, seed: int) -> None:
    """Start a seeded sandbox, scan it over HTTP, write remediation tasks back, report."""
    config = ConfigDir(None)
    fieldmap, rules = config.fieldmap(), config.rules()
    with tempfile.TemporaryDirectory() as tmp, open_source(
        "sandbox", instance=None, fieldmap=fieldmap, records=records, seed=seed
    ) as connector:
        history = History(Path(tmp) / "history.sqlite")
        click.echo(f"scanning with {len(rules)} built-in rules as of {ANCHOR:%Y-%m-%d} ...", err=True)
        # The sandbox is thrown away after the demo: no cap on the tasks it may receive.
        write_back = WriteBack.prepare(connector, rules, config.settings(), fieldmap,
                                       dry_run=False, cap=1_000_000)
        options = ScanOptions(now=ANCHOR, waivers=Waivers([], ANCHOR.date()), source="sandbox",
                              metrics=MetricSettings.from_settings(config.settings()))
        write_back.watch(options)
        outcome = Scanner(connector, rules, history).run(options, fieldmap.where)
        history.save_provenance(outcome.scan_id, Provenance(
            filters={"as_of": ANCHOR.isoformat(), "records": records, "seed": seed},
            rules_digest=rules_digest(rules),
            config_digest=config_digest(config.settings(), fieldmap, options.waivers)))
        print_report(history, outcome.scan_id, "table", None)
        click.echo("")
        write_back.run(history, outcome, connector.instance, ANCHOR)
        click.echo("\n" + "\n".join(render_tasks(history, ANCHOR, per_owner=2)))
        history.close()
    ctx.exit(0 if outcome.complete else 3)
