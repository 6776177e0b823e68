"""`sms-conformance report ...`: stored scans rendered again (trends, the evidence pack)."""

from __future__ import annotations

import click

from sms_conformance.cli.lazy import Lazy, LazyGroup


@click.group("report", cls=LazyGroup, lazy={
    name: Lazy(f"sms_conformance.cli.{module}", summary) for name, module, summary in (
        ("show", "reports:show", "Render a stored scan (the latest by default) as table, json, "
                                 "csv, junit, oscal or sarif."),
        ("trend", "trend:trend", "Failure rates per scan (failed of decided), by clause, rule or "
                                 "process."),
        ("metrics", "metrics:metrics", "Process metrics of a stored scan and the corrective-action "
                                       "status."),
        ("evidence", "evidence:evidence", "Write the evidence pack of a stored scan: one "
                                          "self-contained HTML file."),
        ("diff", "diff:diff", "Findings new, fixed, still open (and not rechecked) between two "
                              "stored scans, per rule and per owner."))})
def report() -> None:
    """Render stored scans: any format, rate trends, metrics, the evidence pack, diffs."""
