"""`sms-conformance doctor`: can this instance serve a scan? Prints what to fix."""

from __future__ import annotations

from pathlib import Path

import click

from sms_conformance.cli import EXIT_CONFIG, EXIT_SOURCE
from sms_conformance.cli.options import config_options, source_options
from sms_conformance.cli.sources import open_source
from sms_conformance.config import ConfigDir
from sms_conformance.connectors.base import Connector
from sms_conformance.coverage import coverage
from sms_conformance.errors import ConfigError
from sms_conformance.records import Process
from sms_conformance.rules.fields import rule_fields
from sms_conformance.rules.model import Rule

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@click.command()
@source_options
@config_options
@click.pass_context
def doctor(ctx: click.Context, source: str, instance: str | None, profile: str | None,
           records: int, seed: int,
           config_dir: Path | None, rules_path: Path | None, only: tuple[str, ...]) -> None:
    """Check reachability, auth, table and field readability, clock skew, and that every
    write-back table extends task."""
    from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
    from sms_conformance.connectors.servicenow.doctor import diagnose, task_tables
    from sms_conformance.connectors.servicenow.writeback import ServiceNowTaskSettings

    config = ConfigDir.find(config_dir)
    rules, fieldmap = config.rules(rules_path, only), config.fieldmap()
    for rule in config.rules(rules_path, only, include_off=True):
        if rule.off_reason:
            click.echo(f"{MARKS['warn']}  rule {rule.id} is {rule.off_reason}")
    if source.startswith("file:"):
        with open_source(source, instance=instance, fieldmap=fieldmap, records=records, seed=seed,
                         profile=None) as conn:
            failed = _file_doctor(conn, rules)
        ctx.exit(EXIT_CONFIG if failed else 0)
    needed: dict[str, set[str]] = {}
    for process in Process:
        chosen = [r for r in rules if r.process == process]
        if chosen:
            pmap = fieldmap.for_process(process)
            fields = set().union(*(rule_fields(r) for r in chosen))
            needed[pmap.table] = set(pmap.platform_fields(fields))
    with open_source(source, instance=instance, fieldmap=fieldmap, records=records, seed=seed,
                     profile=config.profile(profile)) as conn:
        if not isinstance(conn, ServiceNowConnector):
            raise ConfigError("doctor checks a live instance or file: exports")
        findings = diagnose(conn, needed)
        if findings[0].level == "ok":  # reached and authenticated
            targets = ServiceNowTaskSettings.from_settings(config.settings()).targets.values()
            findings += task_tables(conn, [t.table for t in targets])
    for finding in findings:
        click.echo(f"{MARKS[finding.level]}  {finding.message}")
        if finding.fix:
            click.echo(f"      fix: {finding.fix}")
    ctx.exit(EXIT_SOURCE if any(f.level == "fail" for f in findings) else 0)


def _file_doctor(conn: Connector, rules: list[Rule]) -> bool:
    """Prints what an export directory provides; True when no table of the rules is there."""
    tables = coverage(conn, rules)
    for notice in conn.notices:
        click.echo(f"{MARKS['warn']}  {notice}: its rules have no evidence, links into it are unknown")
    for cov in tables:
        if not cov.records:
            continue
        click.echo(f"{MARKS['ok']}  {cov.process}: {cov.records} records")
        for name, reason in sorted(cov.not_provided.items()):
            click.echo(f"{MARKS['warn']}  {cov.process}.{name}: {reason}; results unknown for "
                       f"{', '.join(sorted(cov.blinded[name]))}")
        for name in sorted(cov.always_empty):
            click.echo(f"{MARKS['warn']}  {cov.process}.{name}: empty on every record (unused, "
                       f"or blanked by the export); rules reading it: "
                       f"{', '.join(sorted(cov.blinded[name]))}")
    return not any(cov.records for cov in tables)
