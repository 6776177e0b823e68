"""The command line starts without loading its commands: `--help` lists them from the summaries
the lazy groups hold, and each summary says what its command's own help says."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from sms_conformance.cli import cli
from sms_conformance.cli.lazy import LazyGroup
from sms_conformance.cli.report_group import report

LISTED = "import sys; from sms_conformance.cli import cli; cli({args!r}, standalone_mode=False); " \
         "print(sorted(m for m in sys.modules if m.startswith('sms_conformance.cli.')))"


def _modules_loaded(args: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", LISTED.format(args=args)], check=True,
                         capture_output=True, text=True).stdout
    return eval(out.strip().splitlines()[-1])  # noqa: S307 - our own printed list of names


@pytest.mark.parametrize("group", [cli, report], ids=["root", "report"])
def test_each_summary_is_its_commands_short_help(group: LazyGroup) -> None:
    ctx = click.Context(group)
    for name, entry in group.lazy.items():
        command = group.get_command(ctx, name)
        assert command is not None
        assert click.Command(name, help=entry.summary).get_short_help_str(1000) == \
            command.get_short_help_str(1000), name


def test_root_help_lists_every_command_and_imports_none() -> None:
    loaded = _modules_loaded(["--help"])
    assert [m for m in loaded if m.rsplit(".", 1)[-1] in
            {"scan", "rules", "demo", "doctor", "sandbox", "tasks", "report_group", "history",
             "sample", "trace"}] == []


def test_report_help_imports_only_its_group() -> None:
    loaded = _modules_loaded(["report", "--help"])
    assert "sms_conformance.cli.report_group" in loaded
    assert not {"sms_conformance.cli.reports", "sms_conformance.cli.trend",
                "sms_conformance.cli.evidence"} & set(loaded)


def test_root_help_shows_the_summaries() -> None:
    out = subprocess.run([sys.executable, "-m", "sms_conformance", "--help"], check=True,
                         capture_output=True, text=True).stdout
    for name in cli.lazy:
        assert f"  {name} " in out
    assert "Scan incidents, problems, changes and service requests" in out


def test_a_format_loads_when_it_renders() -> None:
    """The renderer registry names formats by import path: importing it loads none of them."""
    code = ("import sys; import sms_conformance.reports.render; "
            "print(sorted(m for m in sys.modules if m.startswith('sms_conformance.reports.')))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    loaded = set(eval(out.strip().splitlines()[-1]))  # noqa: S307 - our own printed list
    assert not {"sms_conformance.reports.junit", "sms_conformance.reports.oscal",
                "sms_conformance.reports.sarif", "sms_conformance.reports.csv_format",
                "sms_conformance.reports.console"} & loaded
