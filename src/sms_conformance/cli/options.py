"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from sms_conformance.model.errors import ConfigError
from sms_conformance.support.durations import DurationError, parse_duration

F = TypeVar("F", bound=Callable[..., Any])


def _apply(func: F, options: list[Callable[[F], F]]) -> F:
    """Apply click options so that --help lists them in the order given."""
    for option in reversed(options):
        func = option(func)
    return func


def config_options(func: F) -> F:
    return _apply(func, [
        click.option("--only", multiple=True, metavar="GLOB",
                     help="Only rules whose id (or alias) matches, e.g. 'incident.*'."),
        click.option("--rules", "rules_path", type=click.Path(path_type=Path),
                     help="Extra rule file or directory; its ids replace built-in ones."),
        click.option("--config", "config_dir", type=click.Path(path_type=Path),
                     help="Organisation config directory (default: ./config if present)."),
    ])


def source_options(func: F) -> F:
    return _apply(func, [
        click.option("--source", default="servicenow", show_default=True,
                     metavar="servicenow|sandbox|file:DIR|jira",
                     help="Where records come from (connectors/registry.py)."),
        click.option("--instance", "--site", "instance", metavar="URL",
                     help="ServiceNow instance URL (default: profile's, or SERVICENOW_INSTANCE); "
                          "--site: the Jira site URL with --source jira (default: profile's, "
                          "or JIRA_SITE)."),
        click.option("--profile", metavar="NAME",
                     help="Profile in config/profiles.yaml; it connects to the source it names "
                          "(source:, default servicenow)."),
        click.option("--records", type=click.IntRange(1), default=2000, show_default=True,
                     help="Sandbox only: number of incidents to seed."),
        click.option("--seed", type=int, default=7, show_default=True,
                     help="Sandbox only: random seed of the seeded data."),
    ])


def warn_ignored(ctx: click.Context, source: str, profile: str | None = None) -> None:
    """Options given on the command line that the source does not use: said, not dropped."""
    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)

    # A profile names its own source (servicenow, jira ...): say the profile, not a guess.
    where = f"--profile {profile}" if profile else f"--source {source}"
    ignored = [] if where == "--source sandbox" else [f"--{n}" for n in ("records", "seed")
                                                      if given(n)]
    if ignored:
        click.echo(f"warning: {' and '.join(ignored)} seed the sandbox only (--source sandbox): "
                   f"ignored for {where}", err=True)
    if source.startswith("file:") and not profile and given("instance"):
        click.echo("warning: --instance is ignored for a file source: its records name the "
                   "instance they were exported from", err=True)
    if source.startswith("file:") and not profile and ctx.params.get("incremental"):
        click.echo("warning: --incremental is ignored for a file source: exports are read whole",
                   err=True)


def platform_option(func: F) -> F:
    return click.option(
        "--platform", type=click.Choice(("servicenow", "jira")), default=None,
        help="With --source file:DIR: whose exports DIR holds (default: told from the files; "
             "field.json or a CSV with an 'Issue key' column is Jira).")(func)


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """`7d`, `12h`, `2w` (a duration back from now), or an ISO date/datetime."""
    if not text:
        return None
    if text.strip()[-1:] in ("h", "d", "w"):
        try:
            return now - parse_duration(text)
        except DurationError:
            raise ConfigError(f"--since {text!r}: at most 10 years, e.g. 7d or 12h (or give a "
                              "date)") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--since {text!r}: expected e.g. 7d, 12h or an ISO date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_wait(text: str) -> float:
    """`0`, `90`, `30s`, `10m`, `2h` -> seconds."""
    try:
        return parse_duration(text).total_seconds()
    except DurationError:
        raise ConfigError(f"--wait {text!r}: expected seconds or a duration such as 30s, 10m, "
                          "1h") from None
