"""`sms-conformance doctor`: can this instance serve a scan? Prints what to fix."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli.exits import EXIT_CONFIG, EXIT_SOURCE
from sms_conformance.cli.options import config_options, platform_option, source_options
from sms_conformance.cli.sources import open_source, source_platform
from sms_conformance.connectors.base import Connector
from sms_conformance.connectors.capabilities import Finding, doctor_of
from sms_conformance.engine.coverage import coverage
from sms_conformance.model.errors import ConformanceError
from sms_conformance.model.identity import resolve_identity
from sms_conformance.rules.model import Rule
from sms_conformance.support.printable import printable

MARKS = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@click.command()
@source_options
@platform_option
@config_options
@click.pass_context
def doctor(ctx: click.Context, source: str, instance: str | None, profile: str | None,
           records: int, seed: int, platform: str | None,
           config_dir: Path | None, rules_path: Path | None, only: tuple[str, ...]) -> None:
    """Check reachability, auth, that every record type and field the rules read is readable,
    clock skew, and where write-back would write (ServiceNow: every task table extends task;
    Jira: the task project, issue type and link type); for export files, which fields the rules
    read they provide."""
    config = ConfigDir.find(config_dir)
    connection = config.profile(profile)
    platform = source_platform(source, connection, platform)
    rules = config.rules(rules_path, only, platform=platform)
    for rule in config.rules(rules_path, only, include_off=True, platform=platform):
        if rule.off_reason:
            click.echo(f"{MARKS['warn']}  rule {rule.id} is {rule.off_reason}")
    with open_source(source, instance=instance, fieldmap=config.fieldmap(platform),
                     records=records, seed=seed, profile=connection,
                     preflight=False, platform=platform) as conn:
        doctor = doctor_of(conn)
        if doctor is None:  # a source that only reads (exports): what it provides
            ctx.exit(EXIT_CONFIG if _coverage_doctor(conn, rules) else 0)
        findings = doctor.doctor(rules, config.settings())
        if not any(f.level == "fail" for f in findings):
            findings.append(identity_finding(conn, config.settings()))
    for finding in findings:
        # Messages quote the site (its error answers, field and project names): no escapes.
        click.echo(f"{MARKS[finding.level]}  {printable(finding.message)}")
        if finding.fix:
            click.echo(f"      fix: {printable(finding.fix)}")
    ctx.exit(EXIT_SOURCE if any(f.level == "fail" for f in findings) else 0)


def identity_finding(conn: Connector, settings: Mapping[str, Any]) -> Finding:
    """Which instance this is, as history and the lock key it; a warning when only the URL."""
    try:
        identity = resolve_identity(conn, settings)
    except ConformanceError as exc:
        return Finding("fail", f"instance identity: {exc}")
    if identity.notice:
        return Finding("warn", identity.describe(), "set instance_id: in config/settings.yaml "
                       "(or give the integration user read access to sys_properties "
                       "instance_id), and list other URLs of the instance under aliases:")
    return Finding("ok", identity.describe())


def _coverage_doctor(conn: Connector, rules: list[Rule]) -> bool:
    """Prints what a read-only source (an export directory) provides; True when no table of
    the rules is there."""
    tables = coverage(conn, rules)
    for notice in conn.notices:
        click.echo(f"{MARKS['warn']}  {notice}: its rules have no evidence, links into it "
                   "and counts of its records (referrers) are unknown")
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
