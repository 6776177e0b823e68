"""Record text is untrusted: every format stays well-formed and inert whatever a record holds."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sms_conformance.reports.csv_format import cell
from sms_conformance.reports.model import load_report
from sms_conformance.reports.render import FORMATS, RENDERERS
from sms_conformance.store.history import History
from tests.conftest import finding_rows_of, rule_lines_of

WHEN = datetime(2026, 11, 1, tzinfo=timezone.utc)
HOSTILE = '=HYPERLINK("http://x.test")\x01\x0b</failure><x a="\'">&amp; \U0001f600\x7f'


@dataclass
class Gap:
    process: str
    field: str
    reason: str
    records: int
    rules: list[str]


@pytest.fixture
def hostile_store(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite"
    history = History(path)
    scan = history.start_scan(platform="servicenow", instance="https://x.test", source="servicenow",
                              as_of=WHEN, started=WHEN, incremental=False)
    history.save_counts(scan, rule_lines_of([
        ("incident.a", "8.6.1", "incident", "high", "A <rule> & more", 3, 1, 1, 1, 0, 0),
        ("incident.b", "8.6.1", "incident", "low", "B", 2, 0, 0, 0, 0, 2),
    ]))
    history.add_findings(scan, finding_rows_of([
        ("f" * 40, "incident.a", "8.6.1", "high", "incident", "incident", "a" * 32, "INC1",
         "https://x.test/a?b=1&c=2", HOSTILE, "fail", "", json.dumps({"x": HOSTILE}), HOSTILE, "", ),
        ("e" * 40, "incident.a", "8.6.1", "high", "incident", "incident", "b" * 32, "-INC2",
         "", "could not evaluate", "error", HOSTILE, "{}", "", ""),
    ]), WHEN)
    history.save_unavailable(scan, [Gap("incident", "close_notes", HOSTILE, 2, ["incident.b"])])
    history.finish_scan(scan, finished=WHEN, complete=True, notices=[HOSTILE], error=None)
    history.close()
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_stays_well_formed(hostile_store: Path, fmt: str) -> None:
    """bad input: record text with control characters, markup, an emoji and a formula;
    outcome: every format parses, the markup is text, the formula is inert."""
    history = History(hostile_store)
    out = io.StringIO()
    try:
        RENDERERS[fmt].write(load_report(history), out)
    finally:
        history.close()
    text = out.getvalue()
    if fmt in ("json", "oscal", "sarif"):
        doc = json.loads(text)
        if fmt == "oscal":
            from trestle.oscal.assessment_results import AssessmentResults

            AssessmentResults.model_validate(doc["assessment-results"])
    elif fmt == "junit":
        root = ET.fromstring(text.encode())
        failure = root.find(".//testcase[@name='incident.a']/failure")
        assert failure is not None and "</failure>" in failure.text
        skipped = root.find(".//testcase[@name='incident.b']/skipped")
        assert skipped is not None and "close_notes" in skipped.get("message")
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == 3
        assert all(not c.startswith(("=", "+", "-", "@")) for row in rows for c in row)
        assert sorted(row[8] for row in rows[1:]) == ["'-INC2", "INC1"]


def test_cell_neutralises_formulas_only() -> None:
    assert cell("=1+1") == "'=1+1" and cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("INC0010042") == "INC0010042" and cell(None) == "" and cell(3) == "3"
