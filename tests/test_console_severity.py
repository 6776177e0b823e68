"""Console: the most severe findings come first, and totals by severity head the report."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from sms_conformance.cli.report import print_report
from sms_conformance.reports.console import CONSOLE_FINDINGS
from sms_conformance.store.history import History
from tests.conftest import finding_rows_of, rule_lines_of

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
# rule, clause, severity, failures: many medium ones sorting first by clause, few critical last
RULES = [("incident.links.problem_exists", "4.4", "medium", 40),
         ("incident.logging.category", "8.6.1", "low", 5),
         ("change.approval.before_implementation", "8.5.1", "critical", 3),
         ("change.emergency.reviewed", "8.5.1", "high", 2)]


def stored_scan(tmp_path: Path) -> tuple[History, int]:
    history = History(tmp_path / "h.sqlite")
    scan_id = history.start_scan(platform="servicenow", instance="https://x.test", source="t",
                                 as_of=NOW, started=NOW, incremental=False)
    rows = []
    for rule_id, clause, severity, failed in RULES:
        for i in range(failed):
            number = f"REC{i:04d}"
            rows.append((f"{rule_id}-{i}", rule_id, clause, severity, "incident", "incident",
                         f"{i:032x}", number, "", f"{number} fails {rule_id}", "fail", "", "{}",
                         "", ""))
    history.add_findings(scan_id, finding_rows_of(rows), NOW)
    history.save_counts(scan_id, rule_lines_of([(rule_id, clause, "incident", severity, rule_id, 100,
                                   100 - failed, failed, 0, 0, 0)
                                  for rule_id, clause, severity, failed in RULES]))
    history.finish_scan(scan_id, finished=NOW, complete=True, notices=[], error=None)
    return history, scan_id


def test_the_first_findings_shown_are_the_most_severe(tmp_path: Path) -> None:
    history, scan_id = stored_scan(tmp_path)
    out = tmp_path / "report.txt"
    print_report(history, scan_id, "table", out)
    lines = [line for line in out.read_text().splitlines() if line.startswith("  FAIL")]
    severities = [line.split()[1] for line in lines]
    assert len(lines) == CONSOLE_FINDINGS
    assert severities[:5] == ["critical"] * 3 + ["high"] * 2
    assert severities[5:] == ["medium"] * (CONSOLE_FINDINGS - 5)  # low ones come after


def test_totals_by_severity_head_the_report(tmp_path: Path) -> None:
    history, scan_id = stored_scan(tmp_path)
    out = tmp_path / "report.txt"
    print_report(history, scan_id, "table", out)
    text = out.read_text()
    match = re.search(r"Findings by severity: (\d+) critical, (\d+) high, (\d+) medium, "
                      r"(\d+) low, (\d+) info", text)
    assert match, text
    assert [int(n) for n in match.groups()] == [3, 2, 40, 5, 0]
    assert text.index("Findings by severity") < text.index("Clause ")
