"""The renderer registry: every format renders a ScanReport through the same interface, to
stdout or to a file written whole or not at all."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sms_conformance.model.errors import ConfigError
from sms_conformance.reports.console import write_table
from sms_conformance.reports.csv_format import write_csv
from sms_conformance.reports.json_format import write_json
from sms_conformance.reports.junit import write_junit
from sms_conformance.reports.model import ScanReport
from sms_conformance.reports.oscal import write_oscal
from sms_conformance.reports.sarif import write_sarif
from sms_conformance.support.safe_files import temp_beside, write_whole


@dataclass(frozen=True)
class Renderer:
    name: str
    description: str
    write: Callable[[ScanReport, IO[str]], None]


RENDERERS = {r.name: r for r in (
    Renderer("table", "per-clause and per-rule summary, then the first findings", write_table),
    Renderer("json", "sms-conformance/report 2.0: summary, reproducibility, every finding", write_json),
    Renderer("csv", "one row per finding (RFC 4180)", write_csv),
    Renderer("junit", "JUnit XML: a test case per rule, failed rules as failures", write_junit),
    Renderer("oscal", "OSCAL 1.1.2 assessment results (JSON)", write_oscal),
    Renderer("sarif", "SARIF 2.1.0: a result per finding", write_sarif),
)}
FORMATS = tuple(RENDERERS)


def render(report: ScanReport, fmt: str, output: Path | None) -> None:
    """Writes the report in `fmt` to `output`, or to stdout. A file is written whole or not at
    all, never through a symbolic link (safe_files)."""
    renderer = RENDERERS[fmt]
    if output is None:
        renderer.write(report, sys.stdout)
        sys.stdout.flush()
        return
    write_whole(output, lambda out: renderer.write(report, out))


def check_writable(output: Path | None) -> None:
    """Fails now, before a long scan, if the report could not be written to `output` then."""
    if output is None:
        return
    if output.is_dir():
        raise ConfigError(f"{output}: cannot write: Is a directory")
    handle, temp = temp_beside(output)
    os.close(handle)
    os.unlink(temp)
