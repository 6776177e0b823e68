"""`sms-conformance scan`: read records, evaluate rules, store and report findings."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sms_conformance.app.config import ConfigDir, default_history_path, parse_as_of
from sms_conformance.app.run import ScanRun, export_moment, held_identity, run_scan, start_reads
from sms_conformance.cli.exits import EXIT_CODES_HELP, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK
from sms_conformance.cli.logs import event, json_log, quiet_stderr
from sms_conformance.cli.options import (
    config_options,
    parse_since,
    parse_wait,
    platform_option,
    source_options,
    warn_ignored,
)
from sms_conformance.cli.progress import ProgressLine, progress_printer
from sms_conformance.cli.report import exit_code, print_report, report_incomplete
from sms_conformance.cli.runsummary import scan_fields, summary_line
from sms_conformance.cli.say import say
from sms_conformance.cli.sources import open_source, source_platform
from sms_conformance.engine.waivers import Waivers, load_waivers
from sms_conformance.model.errors import ConfigError, ConformanceError, SourceError
from sms_conformance.reports.render import FORMATS, check_writable
from sms_conformance.rules.model import Rule, Severity
from sms_conformance.scan.metrics import MetricSettings
from sms_conformance.scan.scanner import ScanOptions, ScanOutcome
from sms_conformance.store.history import History
from sms_conformance.support.limits import Limits
from sms_conformance.writeback.run import WriteBack


@click.command(epilog=EXIT_CODES_HELP)
@source_options
@platform_option
@config_options
@click.option("--since", metavar="7d|DATE", help="Only records updated since then.")
@click.option("--incremental/--full", default=False, show_default=True,
              help="Read only records updated since the last complete scan (for cron), or all.")
@click.option("--as-of", "as_of", metavar="DATETIME", help="Evaluate ages and waivers as of this time.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Write the report here (default: stdout).")
@click.option("--fail-on", type=click.Choice([s.value for s in Severity]),
              help="Exit 1 when a finding has this severity or higher.")
@click.option("--write-back", is_flag=True, help="Create, update and close remediation tasks.")
@click.option("--dry-run", is_flag=True, help="With --write-back: print the plan, write nothing.")
@click.option("--max-new-tasks", type=click.IntRange(0),
              help="Stop write-back (exit 6, nothing written) above this many new tasks.")
@click.option("--rollout", is_flag=True,
              help="With --write-back, above the cap: create the most severe up to the cap, "
                   "report the rest (a first night).")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), metavar="PATH",
              help="With --write-back or --dry-run: write the whole plan here as JSON.")
@click.option("--wait", "wait", default="0", show_default=True, metavar="DURATION",
              help="Wait this long (30s, 10m) for another run on this instance and history "
                   "store to finish; 0: exit 4 at once.")
@click.option("--history", "history_path", type=click.Path(path_type=Path),
              help="History store (SQLite); default $SMS_CONFORMANCE_HISTORY or ~/.local/state.")
@click.option("--quiet", "-q", is_flag=True,
              help="For cron: no report (unless --output), no progress or notes; one summary "
                   "line, left out when the run is clean and stderr is not a terminal.")
@click.pass_context
def scan(ctx: click.Context, /, **params: Any) -> None:
    """Scan incidents, problems, changes and service requests against the conformance rules."""
    args = ScanArgs(**params)
    clock = time.monotonic()
    stderr = ctx.with_resource(quiet_stderr(args.quiet))  # restored when the command ends
    warn_ignored(ctx, args.source, args.profile)
    # Every run logs its start and its end (JSON log lines), whatever --quiet says.
    event("scan.started", source=args.profile or args.source, instance=args.instance,
          as_of=args.as_of, incremental=args.incremental, write_back=args.write_back,
          dry_run=args.dry_run)
    run = _Run(instance=args.instance or "")
    try:
        code, outcome, history = _scan(run, args)
    except ConformanceError as exc:
        event("scan.finished", scan_id=run.scan_id, instance=run.instance or None,
              complete=False, exit_code=exc.exit_code, failed_start=run.failed_start,
              error=str(exc), duration_s=round(time.monotonic() - clock, 3))
        raise
    except Exception as exc:  # a defect: the CLI prints it and exits EXIT_INTERNAL
        event("scan.finished", scan_id=run.scan_id, instance=run.instance or None,
              complete=False, exit_code=EXIT_INTERNAL,
              error=f"internal error: {type(exc).__name__}",
              duration_s=round(time.monotonic() - clock, 3))
        raise
    fail_on = args.fail_on
    event("scan.finished", instance=run.instance, **scan_fields(history, outcome, fail_on, code),
          duration_s=round(time.monotonic() - clock, 3))
    # --quiet: one line for findings at or above --fail-on (an incomplete scan has its error
    # line), and none at all for a clean run when nobody watches (cron). A JSON log has the
    # scan.finished line instead.
    if args.quiet and not json_log() and (
            code == EXIT_FINDINGS or (code == EXIT_OK and stderr.isatty())):
        click.echo(summary_line(history, outcome, fail_on, code, run.instance), file=stderr)
    ctx.exit(code)


@dataclass(frozen=True)
class ScanArgs:
    """The command line of `scan`, as click parses it."""

    source: str
    instance: str | None
    profile: str | None
    records: int
    seed: int
    platform: str | None
    config_dir: Path | None
    rules_path: Path | None
    only: tuple[str, ...]
    since: str | None
    incremental: bool
    as_of: str | None
    fmt: str
    output: Path | None
    fail_on: str | None
    write_back: bool
    dry_run: bool
    max_new_tasks: int | None
    rollout: bool
    plan_path: Path | None
    wait: str
    history_path: Path | None
    quiet: bool


@dataclass
class _Run:
    """What a run knows so far: what the scan.finished line of a failed run can say."""

    instance: str = ""
    scan_id: int | None = None
    failed_start: bool = False  # stored as a run that read nothing (refused before the scan)


def _scan(run: _Run, args: ScanArgs) -> tuple[int, ScanOutcome, History]:
    """The scan itself: (exit code, outcome, history store)."""
    if args.plan_path is not None and not (args.write_back or args.dry_run):
        raise ConfigError("--plan needs --write-back or --dry-run")
    if args.rollout and not (args.write_back or args.dry_run):
        raise ConfigError("--rollout needs --write-back or --dry-run")
    source, profile, only, rules_path = args.source, args.profile, args.only, args.rules_path
    config = ConfigDir.find(args.config_dir)
    connection = config.profile(profile)
    platform = source_platform(source, connection, args.platform)
    rules = config.rules(rules_path, only, platform=platform)
    now = parse_as_of(args.as_of)
    fieldmap = config.fieldmap(platform)
    wait_seconds = parse_wait(args.wait)
    every_rule = config.rules(rules_path, platform=platform, include_off=True)

    def waivers_at(moment: datetime) -> Waivers:
        return load_waivers(config.file("waivers.yaml"), moment, every_rule, fieldmap)

    options = ScanOptions(
        now=now, waivers=waivers_at(now),
        since=parse_since(args.since, now), source=profile or source,
        incremental=args.incremental and not source.startswith("file:"),
        progress=progress_printer(sys.stderr, args.quiet),
        metrics=MetricSettings.from_settings(config.settings()),
    )
    limits = Limits.from_settings(config.settings())
    options.min_record_share = limits.min_record_share
    check_writable(args.output)
    # After all config: a bad file writes nothing.
    history = History(args.history_path or default_history_path())
    writes = args.write_back or args.dry_run
    try:
        with open_source(source, instance=args.instance, fieldmap=fieldmap, records=args.records,
                         seed=args.seed, profile=connection, limits=limits, quiet=args.quiet,
                         as_of=now if args.as_of else None, platform=platform) as conn, start_reads(
            conn, rules) as starting, held_identity(
            history, conn, config.settings(), wait_seconds, waiting=say, starting=starting,
        ) as identity:
            run.instance = conn.instance
            moved = export_moment(conn, options, args.as_of, waivers_at,
                                  lambda moment: parse_since(args.since, moment))

            def write_back(chosen: Sequence[Rule]) -> WriteBack:
                return WriteBack.prepare(conn, chosen, config.settings(), fieldmap,
                                         dry_run=args.dry_run, cap=args.max_new_tasks,
                                         plan_path=args.plan_path, rollout=args.rollout,
                                         legacy_urls=identity.urls, say=say)

            def report(outcome: ScanOutcome) -> None:
                run.scan_id = outcome.scan_id
                if isinstance(options.progress, ProgressLine):
                    options.progress.clear()
                if not args.quiet or args.output is not None:
                    print_report(history, outcome.scan_id, args.fmt, args.output)
                report_incomplete(outcome)

            done = run_scan(ScanRun(
                conn, identity, rules, config.settings(), fieldmap, options,
                filters={"only": list(only), "rules": str(rules_path) if rules_path else None,
                         "since": args.since, "incremental": options.incremental,
                         "as_of": args.as_of if moved is None else f"export: {moved}"},
                write_back=write_back if writes else None,
                watermarks="write-back" if writes else "", starting=starting), history, report)
            outcome = done.outcome
            run.scan_id = outcome.scan_id
            if outcome.failed_start:
                report_incomplete(outcome)
                return exit_code(history, outcome, args.fail_on), outcome, history
            # Only a scan of every rule whose findings were acted on moves the watermark; one
            # that left new tasks to later runs (--rollout) keeps it, so the next run reads
            # them again.
            if not (only or rules_path or args.since or args.dry_run
                    or (done.write_back is not None and done.write_back.left)):
                done.scanner.advance_watermarks(outcome)
            return exit_code(history, outcome, args.fail_on), outcome, history
    except SourceError as exc:
        # Refused before the scan began (a preflight, reading the open tasks): a failed run
        # all the same, listed by `history scans`, never a point of a trend.
        if run.scan_id is None:
            run.scan_id = history.record_failed_start(
                platform=platform, instance=run.instance, source=options.source, as_of=now,
                error=str(exc))
            run.failed_start = True
        raise
