"""`sms-conformance report ...`: stored scans rendered again (trends, the evidence pack)."""

from __future__ import annotations

import click

from sms_conformance.cli.lazy import LazyGroup


@click.group("report", cls=LazyGroup, lazy={
    "show": "sms_conformance.cli.reports:show", "trend": "sms_conformance.cli.trend:trend",
    "metrics": "sms_conformance.cli.metrics:metrics",
    "evidence": "sms_conformance.cli.evidence:evidence", "diff": "sms_conformance.cli.diff:diff"})
def report() -> None:
    """Render stored scans: any format, rate trends, metrics, the evidence pack, diffs."""
