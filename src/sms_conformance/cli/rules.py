"""`sms-conformance rules ...`: list, show, validate, test and document rules."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import orjson

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli.exits import EXIT_CONFIG, EXIT_FINDINGS
from sms_conformance.engine.selftest import missing_examples, run_examples
from sms_conformance.model.errors import ConfigError, RuleError
from sms_conformance.rules.docgen import render_reference
from sms_conformance.rules.loader import builtin_pack_dir, load_rule, rule_files
from sms_conformance.rules.model import Rule
from sms_conformance.support.safe_files import write_text

config_option = click.option("--config", "config_dir", type=click.Path(path_type=Path),
                             help="Organisation config directory (default: ./config if present).")


def _rules(config_dir: Path | None, path: Path | None) -> list[Rule]:
    """Every rule, those off for an unmapped field included (they say why)."""
    return ConfigDir.find(config_dir).rules(path, include_off=True)


@click.group()
def rules() -> None:
    """List, show, validate and test conformance rules."""


@rules.command("list")
@config_option
@click.option("--rules", "path", type=click.Path(path_type=Path), help="Extra rules.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def list_rules(config_dir: Path | None, path: Path | None, fmt: str) -> None:
    """Every rule: id, clause, process, severity, title; rules that are off say why."""
    listed = sorted(_rules(config_dir, path), key=lambda r: r.id)
    if fmt == "json":
        rows = [{"id": r.id, "clause": r.clause, "process": r.process.value,
                 "severity": r.severity.value, "title": r.title, "active": not r.off_reason,
                 "off_reason": r.off_reason or None} for r in listed]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    width = max(len(r.id) for r in listed)
    click.echo(f"{'id':<{width}}  {'clause':<6}  {'process':<8}  {'severity':<8}  title")
    for r in listed:
        click.echo(f"{r.id:<{width}}  {r.clause:<6}  {r.process.value:<8}  "
                   f"{r.severity.value:<8}  {r.title}")
        if r.off_reason:
            click.echo(f"{'':<{width}}  OFF: {r.off_reason}")
    off = sum(1 for r in listed if r.off_reason)
    click.echo(f"\n{len(listed) - off} rules active" + (f", {off} off (see OFF)" if off else ""))


@rules.command("show")
@click.argument("rule_id")
@config_option
def show(rule_id: str, config_dir: Path | None) -> None:
    """One rule's file, as written (its `{setting: ...}` values come from settings.yaml)."""
    found = [r for r in _rules(config_dir, None) if rule_id in (r.id, *r.aliases)]
    if not found:
        raise ConfigError(f"no rule {rule_id!r} (see `sms-conformance rules list`)")
    click.echo(found[0].source.read_text(encoding="utf-8") if found[0].source else found[0].id)


@rules.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@config_option
@click.pass_context
def validate(ctx: click.Context, path: Path | None, config_dir: Path | None) -> None:
    """Load every rule file under PATH (default: built-in pack) and report every problem."""
    config = ConfigDir.find(config_dir)
    fieldmap, settings = config.fieldmap(), config.settings()
    target = path or builtin_pack_dir()
    problems, count = [], 0
    for file in rule_files(target):
        try:
            load_rule(file, fieldmap, settings)
            count += 1
        except RuleError as exc:
            problems.append(str(exc))
    for problem in problems:
        click.secho(f"error: {problem}", err=True, fg="red")
    click.echo(f"{count} rules valid, {len(problems)} with errors in {target}")
    ctx.exit(EXIT_CONFIG if problems else 0)


@rules.command("test")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@config_option
@click.pass_context
def test(ctx: click.Context, path: Path | None, config_dir: Path | None) -> None:
    """Run every rule's pass and fail examples, as of 2026-11-01 (PATH: your own rules)."""
    config = ConfigDir.find(config_dir)
    fieldmap, settings = config.fieldmap(), config.settings()
    if path is not None:
        chosen = [load_rule(f, fieldmap, settings) for f in rule_files(path)]
    else:
        chosen = config.rules()
    failures = missing_examples(chosen)
    ran = 0
    def reload(rule: Rule, given: Mapping[str, Any]) -> Rule:
        if rule.source is None:
            raise ConfigError(f"{rule.id}: an example's settings need the rule's file")
        return load_rule(rule.source, fieldmap, {**settings, **given})

    for outcome in run_examples(chosen, reload):
        ran += 1
        if not outcome.ok:
            got = outcome.got.value if outcome.got else "invalid example"
            failures.append(f"{outcome.name}: expected {outcome.want.value}, got {got} {outcome.detail}")
    for failure in failures:
        click.secho(f"FAIL {failure}", fg="red")
    click.echo(f"{ran - len(failures)} passed, {len(failures)} failed ({len(chosen)} rules)")
    ctx.exit(EXIT_FINDINGS if failures else 0)


@rules.command("docs")
@click.option("--output", type=click.Path(path_type=Path), default=Path("docs/rules.md"),
              show_default=True)
@config_option
def docs(output: Path, config_dir: Path | None) -> None:
    """Regenerate the rule reference from the rules themselves."""
    write_text(output, render_reference(_rules(config_dir, None)))
    click.echo(f"wrote {output}")
