"""`sms-conformance tasks list`: remediation work by owner and age, live from the platform."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from sms_conformance.app.config import ConfigDir, default_history_path
from sms_conformance.app.profiles import ConnectionProfile
from sms_conformance.cli.sources import open_source, source_platform
from sms_conformance.connectors.capabilities import writes_tasks
from sms_conformance.connectors.registry import platform_entry
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.identity import normal_url, resolve_identity
from sms_conformance.model.schema import Process
from sms_conformance.store.history import History, iso
from sms_conformance.support.terminal import write_lines
from sms_conformance.writeback.apply import KINDS
from sms_conformance.writeback.task_list import (
    STATES,
    Filters,
    TaskRow,
    live_row,
    live_tasks,
    render_table,
    stored_row,
)


def render_tasks(history: History, now: datetime, per_owner: int | None = None) -> list[str]:
    """Open tasks as the history store last recorded them, by owner (the demo's closing list)."""
    return render_table([stored_row(r) for r in history.tasks("open")], now, per_owner=per_owner)


def stored_rows(history: History, state: str) -> list[dict[str, Any]]:
    states = ("open", "closed") if state == "all" else (state,)
    return [row for s in states for row in history.tasks(s)]


def group_names(history: History) -> dict[str, str]:
    """Owner id -> name: assignment groups as the latest scan read them, and the people scans
    named (Jira tasks may be assigned to the record's assignee)."""
    scan = history.scan()
    if scan is None:
        return {}
    people = {i: n for (kind, i), n in history.names(scan["instance"] or "").items()
              if kind == "user"}
    return {**people, **{f.owner_id: f.owner for f in history.findings(scan["id"])
                         if f.owner_id and f.owner != f.owner_id}}


def read_live(history: History, config: ConfigDir, source: str, instance: str | None,
              profile: ConnectionProfile | None, state: str) -> tuple[list[TaskRow], str, int]:
    """Rows in their live state, the instance, and how many tasks the history store has as open
    that are closed in the platform."""
    platform = source_platform(source, profile)
    with open_source(source, instance=instance, fieldmap=config.fieldmap(platform), records=1,
                     seed=0, profile=profile) as conn:
        writer = writes_tasks(conn)
        if writer is None:
            raise ConfigError(f"tasks list reads a live platform: {give_site(platform)}")
        port = writer.task_port(config.settings())
        processes = [p.value for p in Process]
        process_of: dict[str, str] = {}  # where -> a process (Jira: one project for all)
        for process in processes:
            process_of.setdefault(port.where(process), process)
        # Tasks recorded as open are looked up whatever --state says: one closed in the
        # platform since the last run is closed, not open.
        identity = resolve_identity(conn, config.settings())  # or a URL of earlier releases
        ours = {identity.key, *identity.urls}
        mine = [r for r in stored_rows(history, "open" if state == "open" else "all")
                if normal_url(r["instance"] or "") in ours or r["instance"] == identity.key]
        stored = {(r["tbl"], r["task_id"]): r for r in mine}
        known: dict[str, list[str]] = {}
        for row in mine:
            if row["tbl"] in process_of:
                known.setdefault(process_of[row["tbl"]], []).append(row["fingerprint"])
        tasks = live_tasks(port, processes, known)
        groups = group_names(history)
        rows = [live_row(t, stored.get((t.where, t.id)), groups) for t in tasks]
        gone = sum(1 for t in tasks if not t.open
                   and (stored.get((t.where, t.id)) or {}).get("state") == "open")
        return rows, conn.instance, gone


@click.group()
def tasks() -> None:
    """Remediation tasks written back to the platform."""


@tasks.command("list")
@click.option("--owner", metavar="GROUP", help="Only this owner group (name or id; 'none' "
              "for tasks without one).")
@click.option("--rule", metavar="ID", help="Only tasks about this rule (id or glob).")
@click.option("--overdue", is_flag=True, help="Only open tasks past their due date (live only).")
@click.option("--kind", type=click.Choice(list(KINDS)), help="Only record tasks, corrective "
              "actions or per-finding tasks.")
@click.option("--state", type=click.Choice(STATES), default="open", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--source", type=click.Choice(["servicenow", "jira"]), default="servicenow",
              show_default=True, help="The platform the tasks were written to.")
@click.option("--instance", "--site", "instance", metavar="URL", help="Read the tasks' live "
              "state from this instance or Jira site (default: the profile's, or "
              "SERVICENOW_INSTANCE / JIRA_SITE).")
@click.option("--profile", metavar="NAME", help="Profile in config/profiles.yaml.")
@click.option("--stored", is_flag=True, help="Only the history store, not the platform (tasks "
              "closed there since the last run show as open).")
@click.option("--config", "config_dir", type=click.Path(path_type=Path),
              help="Organisation config directory (default: ./config if present).")
@click.option("--history", "history_path", type=click.Path(path_type=Path),
              help="History store (default $SMS_CONFORMANCE_HISTORY or ~/.local/state).")
def list_tasks(owner: str | None, rule: str | None, overdue: bool, kind: str | None, state: str,
               fmt: str, source: str, instance: str | None, profile: str | None, stored: bool,
               config_dir: Path | None, history_path: Path | None) -> None:
    """Remediation tasks by owner with their age in days: live from the platform when one is
    given (--instance or --site, --profile, or SERVICENOW_INSTANCE / JIRA_SITE), else as the
    history store has them."""
    now = datetime.now(timezone.utc)
    filters = Filters(owner, rule, overdue, kind, state)
    config = ConfigDir.find(config_dir)
    connection = config.profile(profile)
    platform = source_platform(source, connection)
    live = not stored and bool(instance or connection
                               or os.environ.get(platform_entry(platform).site_env))
    if overdue and not live:
        raise ConfigError(f"--overdue needs the tasks' live state: {give_site(platform)} "
                          "(the history store keeps no due dates)")
    history = History(history_path or default_history_path())
    if live:
        rows, where, gone = read_live(history, config, source, instance, connection, state)
    else:
        rows, where, gone = [stored_row(r) for r in stored_rows(history, state)], "", 0
    rows = [r for r in rows if filters.keep(r, now)]
    if fmt == "json":
        click.echo(json.dumps(document(rows, filters, where, now), indent=2))
    else:
        write_lines(render_table(rows, now, state), sys.stdout)
    if not live:
        click.echo(f"note: as the history store last recorded them; {give_site(platform)} for "
                   "their live state", err=True)
    elif gone and state == "open":
        click.echo(f"note: {gone} tasks the history store has as open are closed in the "
                   "platform (--state closed lists them)", err=True)


def give_site(platform: str) -> str:
    """How to name where the platform's tasks live: "give --site, --profile or JIRA_SITE"."""
    entry = platform_entry(platform)
    return f"give --{entry.site_noun}, --profile or {entry.site_env}"


def document(rows: Iterable[TaskRow], filters: Filters, instance: str,
             now: datetime) -> Mapping[str, Any]:
    return {"source": "platform" if instance else "history store", "instance": instance or None,
            "as_of": iso(now), "filters": filters.as_json(),
            "tasks": [r.as_json(now) for r in rows]}
