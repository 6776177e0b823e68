"""`sms-conformance trace NUMBER`: one record's chain, read live, with each record's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sms_conformance.app.config import ConfigDir, parse_as_of
from sms_conformance.cli.options import config_options, source_options, warn_ignored
from sms_conformance.cli.sources import open_source, source_platform
from sms_conformance.engine.waivers import load_waivers
from sms_conformance.scan.trace import Node, Tracer, result_message
from sms_conformance.support.limits import Limits


@click.command()
@click.argument("number")
@source_options
@config_options
@click.option("--as-of", "as_of", metavar="DATETIME", help="Evaluate ages and waivers as of this time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.pass_context
def trace(ctx: click.Context, number: str, source: str, instance: str | None,
          profile: str | None, records: int, seed: int, config_dir: Path | None,
          rules_path: Path | None, only: tuple[str, ...], as_of: str | None, fmt: str) -> None:
    """Follow a record's links (incident -> problem -> change -> configuration item, and a
    problem's incidents), reading them live, with every record's rule results. NUMBER is a
    ServiceNow number (INC0010001) or a Jira issue key (ITSM-42)."""
    warn_ignored(ctx, source, profile)
    config = ConfigDir.find(config_dir)
    connection = config.profile(profile)
    platform = source_platform(source, connection)
    rules = config.rules(rules_path, only, platform=platform)
    now = parse_as_of(as_of)
    fieldmap = config.fieldmap(platform)
    waivers = load_waivers(config.file("waivers.yaml"), now,
                           config.rules(rules_path, include_off=True, platform=platform), fieldmap)
    with open_source(source, instance=instance, fieldmap=fieldmap, records=records, seed=seed,
                     profile=connection, quiet=fmt == "json",
                     limits=Limits.from_settings(config.settings()),
                     as_of=now if as_of else None) as conn:
        root = Tracer(conn, fieldmap, rules, now, waivers).trace(number)
    if fmt == "json":
        click.echo(json.dumps(_json(root), indent=2))
    else:
        click.echo("\n".join(_table(root)))


def _json(node: Node) -> dict[str, Any]:
    return {
        "kind": node.kind, "relation": node.relation, "number": node.number, "id": node.id,
        "url": node.url, "state": node.state, "note": node.note, "name": node.name,
        "results": [{"rule_id": r.rule.id, "clause": r.rule.clause,
                     "severity": r.rule.severity.value, "status": r.status.value,
                     "message": result_message(r), "detail": r.detail, "observed": r.observed}
                    for r in node.results],
        "not_applicable": node.not_applicable,
        "linked": [_json(child) for child in node.children],
    }


def _table(root: Node) -> list[str]:
    out: list[str] = []
    for depth, node in root.walk():
        pad = "  " * depth
        shown = node.number or node.id or "?"
        head = f"{pad}{node.kind} {shown}" + (f" {node.name}" if node.name else "")
        if depth:
            head += f"  ({node.relation})"
        if node.state:
            head += f"  state {node.state}"
        if node.note:
            head += f"  -- {node.note}"
        out.append(head)
        if node.url:
            out.append(f"{pad}  {node.url}")
        for result in node.results:
            line = f"{pad}  {result.status.value:<8} {result.rule.clause:<6} {result.rule.id}: "
            line += result_message(result)
            if result.detail and result.status.value != "pass":
                line += f" [{result.detail}]"
            out.append(line)
        if node.not_applicable:
            out.append(f"{pad}  ({node.not_applicable} rules not applicable)")
    return out
