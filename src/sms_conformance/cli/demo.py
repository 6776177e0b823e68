"""`sms-conformance demo`: sandbox + scan + write-back + report, in one command.

The history store stays (`.demo/history.sqlite` by default) and the sandbox says which instance
it is from its seed and size (its instance_id property), whatever port it listens on: the same
seed and `--records` are the same instance run after run, so every demo adds a point to its
trend; another size is another instance (its trend starts afresh, not a shrunken scan).
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import click

from sms_conformance.app.config import ConfigDir
from sms_conformance.app.run import ScanRun, run_scan
from sms_conformance.cli.report import print_report
from sms_conformance.cli.say import say
from sms_conformance.cli.sources import open_source
from sms_conformance.cli.tasks import render_tasks
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.identity import resolve_identity
from sms_conformance.rules.model import Rule
from sms_conformance.scan.metrics import MetricSettings
from sms_conformance.scan.scanner import ScanOptions, ScanOutcome
from sms_conformance.store.history import History, instance_key
from sms_conformance.writeback.run import WriteBack

DEMO_HISTORY = Path(".demo") / "history.sqlite"


@click.command()
@click.option("--records", type=click.IntRange(1), default=2000, show_default=True,
              help="Incidents to seed the sandbox with (problems and changes scale along).")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--history", "history_path", type=click.Path(path_type=Path), default=DEMO_HISTORY,
              show_default=True, help="History store the demo keeps its scans and tasks in.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Loopback port of the sandbox (0: a free one; any port is the same "
                   "instance for the same seed and --records).")
@click.pass_context
def demo(ctx: click.Context, records: int, seed: int, history_path: Path, port: int) -> None:
    """Start a seeded sandbox dated up to today, scan it over HTTP, write remediation tasks
    back, report; the scans stay in the history store for `report` and `history`."""
    config = ConfigDir(None)
    fieldmap, rules = config.fieldmap(), config.rules()
    now = datetime.now(timezone.utc)
    history = History(history_path)
    try:
        with open_source("sandbox", instance=None, fieldmap=fieldmap, records=records, seed=seed,
                         port=port) as connector:
            click.echo(f"scanning with {len(rules)} built-in rules as of {now:%Y-%m-%d %H:%M} "
                       "UTC ...", err=True)
            identity = resolve_identity(connector, config.settings())  # the seed and size's
            # A new sandbox holds none of the tasks an earlier demo wrote to the last one.
            history.forget_open_tasks(identity.key, now)

            def write_back(chosen: Sequence[Rule]) -> WriteBack:
                # The sandbox is thrown away after the demo: no cap on the tasks it may receive.
                return WriteBack.prepare(connector, chosen, config.settings(), fieldmap,
                                         dry_run=False, cap=1_000_000,
                                         legacy_urls=identity.urls, say=say)

            def report(outcome: ScanOutcome) -> None:
                print_report(history, outcome.scan_id, "table", None)
                click.echo("")

            options = ScanOptions(now=now, waivers=Waivers([], now.date()), source="sandbox",
                                  metrics=MetricSettings.from_settings(config.settings()))
            outcome = run_scan(ScanRun(connector, identity, rules, config.settings(), fieldmap,
                                       options, filters={"records": records, "seed": seed},
                                       write_back=write_back), history, report).outcome
            click.echo("\n" + "\n".join(render_tasks(history, now, per_owner=2)))
            scans = sum(1 for s in history.scans() if instance_key(s) == identity.key)
    finally:
        history.close()
    click.echo("\n".join(closing_lines(history_path, scans)))
    ctx.exit(0 if outcome.complete else 3)


def closing_lines(history_path: Path, scans: int) -> list[str]:
    """Where the demo left its scans and the commands that read them, ready to paste."""
    program = _program()
    store = shlex.quote(str(history_path))
    return [
        "",
        f"The history store {history_path} holds {scans} scan{'' if scans == 1 else 's'} of this "
        "sandbox;",
        "run the demo again for another point of its trend. Next:",
        f"  {program} report evidence --history {store} --output .demo/evidence",
        f"  {program} report trend --history {store}",
        f"  {program} history scans --history {store}",
    ]


def _program() -> str:
    """How to call this program again from here: the venv's script when run from it."""
    script = Path(sys.argv[0])
    if script.name == "sms-conformance" and script.exists():
        try:
            return shlex.quote(os.path.relpath(script.absolute()))
        except ValueError:  # another drive (Windows)
            return shlex.quote(str(script))
    return "sms-conformance"
