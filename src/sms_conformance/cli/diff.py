"""`sms-conformance report diff`: findings new, fixed and still open between two scans."""

from __future__ import annotations

import io
from pathlib import Path

import click

from sms_conformance.cli.report_options import history_option, instance_option, open_history
from sms_conformance.model.errors import ConfigError
from sms_conformance.reports.diff import diff_scans, previous_scan, write
from sms_conformance.reports.render import check_writable
from sms_conformance.store.choice import choose_scan
from sms_conformance.store.history import instance_key


@click.command("diff")
@click.option("--from", "from_spec", metavar="ID",
              help="The earlier scan (default: the complete scan of the same instance before "
                   "--to).")
@click.option("--to", "to_spec", default="latest", show_default=True, metavar="ID|latest",
              help="The later scan.")
@instance_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="Write it here (default: stdout).")
@history_option
def diff(from_spec: str | None, to_spec: str, instance: str | None, fmt: str,
         output: Path | None, history_path: Path | None) -> None:
    """Findings new, fixed, still open (and not rechecked) between two stored scans, per rule
    and per owner."""
    check_writable(output)
    history = open_history(history_path)
    try:
        later = choose_scan(history, to_spec, instance)
        if from_spec is None:
            earlier = previous_scan(history.scans(), later)
            if earlier is None:
                raise ConfigError(f"scan {later['id']} is the first scan of {later['instance']} "
                                  "in this history store: nothing to compare it with")
        else:
            earlier = choose_scan(history, from_spec)
        if earlier["id"] == later["id"]:
            raise ConfigError(f"--from and --to are both scan {later['id']}")
        if instance_key(earlier) != instance_key(later):
            raise ConfigError(f"scan {earlier['id']} is of {earlier['instance']}, scan "
                              f"{later['id']} of {later['instance']}: compare scans of one "
                              "instance")
        buffer = io.StringIO()
        write(diff_scans(history, earlier, later), fmt, buffer)
    finally:
        history.close()
    if output is None:
        click.echo(buffer.getvalue(), nl=False)
        return
    try:
        output.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"{output}: cannot write: {exc.strerror}") from None
    click.echo(f"wrote the {fmt} diff of scans {earlier['id']} and {later['id']} to {output}",
               err=True)
