"""The renderer registry: every format renders a ScanReport through the same interface, to
stdout or to a file written whole or not at all. Formats are named by import path and imported
when one renders, so a run loads only the format it writes."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from sms_conformance.model.errors import ConfigError
from sms_conformance.reports.model import ScanReport
from sms_conformance.support.safe_files import temp_beside, write_whole


@dataclass(frozen=True)
class Renderer:
    """A format: its writer by "module:function", imported on first use."""

    name: str
    description: str
    path: str

    def write(self, report: ScanReport, out: IO[str]) -> None:
        module, _, name = self.path.partition(":")
        writer = cast(Callable[[ScanReport, IO[str]], None],
                      getattr(importlib.import_module(module), name))
        writer(report, out)


_HERE = "sms_conformance.reports"
RENDERERS = {r.name: r for r in (
    Renderer("table", "per-clause and per-rule summary, then the first findings",
             f"{_HERE}.console:write_table"),
    Renderer("json", "sms-conformance/report 2.0: summary, reproducibility, every finding",
             f"{_HERE}.json_format:write_json"),
    Renderer("csv", "one row per finding (RFC 4180)", f"{_HERE}.csv_format:write_csv"),
    Renderer("junit", "JUnit XML: a test case per rule, failed rules as failures",
             f"{_HERE}.junit:write_junit"),
    Renderer("oscal", "OSCAL 1.1.2 assessment results (JSON)", f"{_HERE}.oscal:write_oscal"),
    Renderer("sarif", "SARIF 2.1.0: a result per finding", f"{_HERE}.sarif:write_sarif"),
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
