"""`sms-conformance sandbox`: serve or export the local ServiceNow-compatible instance."""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime

import click

from sms_conformance.app.config import parse_as_of
from sms_conformance.sandbox.dataset import day_anchor, generate
from sms_conformance.sandbox.faults import FaultSpec
from sms_conformance.sandbox.jira import JiraSandbox, serve_jira_forever
from sms_conformance.sandbox.jira.export import CSV_DATE_FORMAT, JIRA_FORMATS, export_jira
from sms_conformance.sandbox.servicenow import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from sms_conformance.sandbox.servicenow import serve_forever as _serve_forever
from sms_conformance.sandbox.servicenow.export import (
    DEFAULT_DATE_FORMAT,
    DISPLAY_VALUES,
    FORMATS,
    check_shape,
    export,
)

PASSWORD_ENV = "SMS_SANDBOX_PASSWORD"


@click.group("sandbox")
def sandbox_group() -> None:
    """A local ServiceNow-compatible Table API seeded with linked, partly nonconforming records."""


def _fault_spec(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value:
        try:
            FaultSpec.parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@sandbox_group.command("serve")
@click.option("--platform", type=click.Choice(("servicenow", "jira")), default="servicenow",
              show_default=True, help="jira: a Jira Service Management site (project ITSM, "
              "user admin@example.com, the password as API token) with the same records.")
@click.option("--port", default=8080, show_default=True, help="Port on 127.0.0.1 (0 = free).")
@click.option("--records", default=2000, show_default=True,
              help="Incidents (problems 15 %, changes 25 % of this).")
@click.option("--seed", default=7, show_default=True)
@click.option("--as-of", "as_of", metavar="DATE", help="Date the records back from this day "
              "(default: today, so a scan of them today needs no --as-of).")
@click.option("--password", default=None,
              help=f"Password of user admin (default: ${PASSWORD_ENV}, else generated).")
@click.option("--faults", default=None, callback=_fault_spec, metavar="SPEC",
              help="e.g. '429:0.1@incident,503:0.02,reset:0.01,latency=20ms,retry-after=2'.")
@click.option("--defect-rate", default=0.2, show_default=True, type=click.FloatRange(0, 1))
@click.option("--acl-hidden-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of rows hidden by the simulated row ACL (short pages).")
@click.option("--hidden-fields", default="", metavar="LIST",
              help="Comma list of table.field read back as '' (field ACL).")
@click.option("--client-id", default=DEFAULT_CLIENT_ID, show_default=True)
@click.option("--client-secret", default=DEFAULT_CLIENT_SECRET, show_default=True)
@click.option("--cache-dir", default=None, envvar="SMS_SANDBOX_CACHE_DIR",
              type=click.Path(file_okay=False),
              help="Keep generated datasets here; restarts with the same options load them.")
def serve(platform: str, port: int, records: int, seed: int, as_of: str | None,
          password: str | None, faults: str | None,
          defect_rate: float, acl_hidden_rate: float, hidden_fields: str, client_id: str,
          client_secret: str, cache_dir: str | None) -> None:
    """Serve the sandbox until Ctrl-C."""
    password = password or os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(16)
    started = time.perf_counter()
    click.echo(f"generating {records} incidents (seed {seed}) ...", err=True)
    anchor = day_anchor(parse_as_of(as_of) if as_of else None)
    click.echo(f"records dated up to {anchor:%Y-%m-%d}", err=True)
    if platform == "jira":
        if acl_hidden_rate or hidden_fields:
            raise click.UsageError("--acl-hidden-rate and --hidden-fields apply to the "
                                   "ServiceNow sandbox only")
        _serve_jira(port, records, seed, password, faults, defect_rate, started, anchor)
        return

    def ready(sandbox: Sandbox) -> None:
        click.echo(f"sandbox ready in {time.perf_counter() - started:.1f}s")
        click.echo(f"url:      {sandbox.url}")
        click.echo(f"user:     {sandbox.user}")
        click.echo(f"password: {sandbox.password}")
        click.echo(f"oauth:    POST {sandbox.url}/oauth_token.do "
                   f"(client_id {client_id})")
        if faults:
            click.echo(f"faults:   {faults}")
        click.echo("Ctrl-C to stop.")

    fields = tuple(f.strip() for f in hidden_fields.split(",") if f.strip())
    _serve_forever(anchor=anchor, port=port, records=records, seed=seed, password=password,
                   faults=faults, defect_rate=defect_rate, acl_hidden_rate=acl_hidden_rate,
                   hidden_fields=fields, client_id=client_id, client_secret=client_secret,
                   cache_dir=cache_dir, on_ready=ready)
    click.echo("stopped.", err=True)


def _serve_jira(port: int, records: int, seed: int, password: str, faults: str | None,
                defect_rate: float, started: float, anchor: datetime) -> None:
    def ready(sandbox: JiraSandbox) -> None:
        click.echo(f"jira sandbox ready in {time.perf_counter() - started:.1f}s")
        click.echo(f"url:      {sandbox.url}")
        click.echo(f"user:     {sandbox.user}")
        click.echo(f"token:    {sandbox.password}")
        click.echo("project:  ITSM")
        if faults:
            click.echo(f"faults:   {faults}")
        click.echo("Ctrl-C to stop.")

    serve_jira_forever(port=port, records=records, seed=seed, password=password, faults=faults,
                       defect_rate=defect_rate, on_ready=ready, anchor=anchor)
    click.echo("stopped.", err=True)


@sandbox_group.command("export")
@click.option("--platform", type=click.Choice(("servicenow", "jira")), default="servicenow",
              show_default=True, help="jira: the JSM site's issues as saved REST search pages "
              "with field.json (--format json, --api 3|2) or Jira's CSV export (--format csv).")
@click.option("--api", type=click.Choice(("3", "2")), default="3", show_default=True,
              help="Jira search pages: 3 (enhanced search, ADF) or 2 (legacy search, wiki text).")
@click.option("--records", default=2000, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--defect-rate", default=0.2, show_default=True, type=click.FloatRange(0, 1))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for incident, problem and change_request exports, and "
                   "planted.json.")
@click.option("--base-url", default="https://sandbox.service-now.com", show_default=True,
              help="Instance URL used in reference links.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True,
              help="json: Table API; list-json: the list view's JSON export; csv: its CSV export.")
@click.option("--display-values", type=click.Choice(DISPLAY_VALUES), default="false",
              show_default=True, help="As sysparm_display_value: stored values, labels, or both.")
@click.option("--date-format", default=DEFAULT_DATE_FORMAT, show_default=True,
              help="How display values show dates (the exporting user's format).")
@click.option("--time-zone", default="UTC", show_default=True,
              help="The exporting user's time zone for display values (IANA name).")
def export_cmd(platform: str, api: str, records: int, seed: int, defect_rate: float,
               out_dir: str, base_url: str, fmt: str, display_values: str, date_format: str,
               time_zone: str) -> None:
    """Write the dataset as exports: Table API JSON, or the list view's JSON or CSV (Jira:
    search pages or the CSV export)."""
    if platform == "jira":
        if fmt not in JIRA_FORMATS or display_values != "false":
            raise click.UsageError("--platform jira: --format json (search pages) or csv, "
                                   "without --display-values")
        written = export_jira(generate(records, seed, defect_rate=defect_rate), out_dir,
                              fmt=fmt, api=int(api), time_zone=time_zone,
                              date_format=CSV_DATE_FORMAT if date_format == DEFAULT_DATE_FORMAT
                              else date_format)
        for name, path in written.items():
            click.echo(f"{name}: {path}")
        return
    try:
        check_shape(fmt, display_values)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    dataset = generate(records, seed, defect_rate=defect_rate)
    for name, path in export(dataset, out_dir, base_url=base_url, fmt=fmt,
                             display=display_values, date_format=date_format,
                             time_zone=time_zone).items():
        click.echo(f"{name}: {path}")
