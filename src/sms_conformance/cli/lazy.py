"""A click group whose commands are imported when one runs (or `--help` lists them): a run
loads only its own command's modules, and no command module imports the group it sits in."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, cast

import click


class LazyGroup(click.Group):
    """Commands named by "module:attribute", imported on first use."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, _, name = self.lazy[cmd_name].partition(":")
            self.add_command(cast(click.Command, getattr(importlib.import_module(module), name)),
                             cmd_name)
        return super().get_command(ctx, cmd_name)

