"""What the application says, printed on stderr: warnings in yellow, alarms in bold."""

from __future__ import annotations

import click


def say(text: str, level: str = "info") -> None:
    """`level`: info, warn or alarm."""
    if level == "info":
        click.echo(text, err=True)
    else:
        click.secho(text, err=True, fg="yellow", bold=level == "alarm")
