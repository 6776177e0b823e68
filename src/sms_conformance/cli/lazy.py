"""A click group whose commands are imported when one runs: a run loads only its own command's
modules, and no command module imports the group it sits in. `--help` lists the commands from
the summaries the group is given, so listing them imports none (tests/test_cli_start.py holds
each summary to its command's help)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple, cast

import click


class Lazy(NamedTuple):
    """A command by "module:attribute", and the first paragraph of its help."""

    path: str
    summary: str


class LazyGroup(click.Group):
    """Commands named by "module:attribute", imported on first use."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, name = self.lazy[cmd_name].path.partition(":")
            self.add_command(cast(click.Command, getattr(importlib.import_module(module), name)),
                             cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists them, a command not yet imported shown by its summary."""
        stand_ins = {name: click.Command(name, help=entry.summary)
                     for name, entry in self.lazy.items() if name not in self.commands}
        listed = [(name, stand_ins.get(name) or self.get_command(ctx, name))
                  for name in self.list_commands(ctx)]
        shown = [(name, command) for name, command in listed
                 if command is not None and not command.hidden]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section("Commands"):
                formatter.write_dl([(name, command.get_short_help_str(limit))
                                    for name, command in shown])
