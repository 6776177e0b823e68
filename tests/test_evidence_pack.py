"""`report evidence`: one self-contained HTML file; record text escaped, findings capped per
rule, waivers with approver and expiry, corrective-action status by owner."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.app.settings import load_settings
from sms_conformance.cli import cli
from sms_conformance.connectors.base import TaskRef
from sms_conformance.model.rows import TaskSubject
from sms_conformance.scan.metrics import MetricSettings, ProcessMetrics
from sms_conformance.store.history import History
from tests.conftest import finding_rows_of, make_record, rule_lines_of

NOW = datetime.now(timezone.utc).replace(microsecond=0)
INSTANCE = "https://acme.example.test"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
WAIVERS = """\
waivers:
  - rule: incident.logging.category
    record: INC0000001
    reason: Migrated from the legacy tool without categories
    approver: Jane Auditor
    expires: 2027-03-31
  - rule: change.*
    scope: {type: standard}
    reason: Template-driven
    approver: CAB chair
    expires: 2020-01-01
"""


def finding(n: int, rule: str, clause: str, *, message: str = "", url: str = "",
            status: str = "fail", owner: str = "Service Desk") -> tuple[object, ...]:
    number = f"INC{n:07d}"
    return (f"{n:040d}"[-40:] + rule[:0], rule, clause, "high", "incident", "incident",
            f"{n:032x}", number, url or f"{INSTANCE}/incident.do?sys_id={n:032x}",
            message or f"{number} fails {rule}", status, "", json.dumps({}), owner, "")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "h.sqlite"
    history = History(path)
    scan_id = history.start_scan(platform="servicenow", instance=INSTANCE, source="servicenow",
                                 as_of=NOW, started=NOW, incremental=False)
    history.save_counts(scan_id, rule_lines_of([
        ("incident.logging.category", "8.6.1", "incident", "high", "Incidents are categorised",
         200, 160, 40, 0, 0, 0),
        ("incident.resolution.notes", "8.6.1", "incident", "low", "Resolution notes", 120, 118,
         1, 0, 1, 0),
        ("change.risk.assessed", "8.5.1", "change", "high", "Changes record a risk", 50, 45, 5,
         0, 0, 0),
    ]))
    rows = [finding(n, "incident.logging.category", "8.6.1") for n in range(2, 41)]
    rows.append(finding(1, "incident.logging.category", "8.6.1", message=HOSTILE,
                        url="javascript:alert(1)", owner=HOSTILE))
    rows.append(finding(900, "incident.resolution.notes", "8.6.1", status="waived"))
    rows.append(finding(901, "incident.resolution.notes", "8.6.1"))
    history.add_findings(scan_id, finding_rows_of(rows), NOW)
    metrics = ProcessMetrics(MetricSettings.from_settings(load_settings()), NOW)
    metrics.start("incident", "all records")
    metrics.observe(make_record("incident", state="closed", priority=2, opened_at=NOW,
                                resolved_at=NOW + timedelta(hours=3), reopen_count=0))
    history.save_metrics(scan_id, metrics.result())
    history.finish_scan(scan_id, finished=NOW, complete=True, notices=[HOSTILE], error=None)

    def task(n: int, owner: str, rule: str, days_old: int, closed: bool = False) -> None:
        ref = TaskRef(f"{n:040d}", "incident_task", f"t{n}", f"TASK{n:07d}", True)
        history.record_task(ref, TaskSubject("record", owner, rule, "8.6.1", "INC1"), INSTANCE,
                            NOW - timedelta(days=days_old))
        if closed:
            history.close_task(ref, NOW - timedelta(days=1))

    task(1, "Service Desk", "incident.logging.category", 10)  # high: due in 5 days, overdue
    task(2, "Service Desk", "incident.resolution.notes", 10)  # low: due in 30 days
    task(3, "Network", "incident.logging.category", 2)
    task(4, "Network", "incident.logging.category", 20, closed=True)
    task(5, "Elsewhere", "incident.logging.category", 20)  # another instance: not shown
    history.db.execute("UPDATE tasks SET instance='https://other.test' WHERE task_id='t5'")
    history.db.commit()
    history.close()
    return path


def render(store: Path, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "waivers.yaml").write_text(WAIVERS)
    out = tmp_path / "pack"
    result = CliRunner().invoke(cli, ["report", "evidence", "--history", str(store), "--config",
                                      str(config), "--output", str(out), *args])
    page = out / "index.html"
    return result.exit_code, result.output, page.read_text() if page.exists() else ""


def without_sort_script(html: str) -> str:
    from sms_conformance.reports.evidence_html import SORT_SCRIPT

    assert html.count(f"<script>{SORT_SCRIPT}</script>") == 1
    return html.replace(f"<script>{SORT_SCRIPT}</script>", "")


def test_record_text_is_escaped_and_only_http_links_are_made(store: Path, tmp_path: Path) -> None:
    code, _, html = render(store, tmp_path)
    assert code == 0
    html = without_sort_script(html)
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html  # shown, as text
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith(("#", "https://")) for h in hrefs)
    assert "javascript:" not in " ".join(hrefs)
    assert '<a href="https://acme.example.test/incident.do?sys_id=' in html


def test_self_contained_no_remote_resource_and_only_the_sort_script(store: Path,
                                                                   tmp_path: Path) -> None:
    """The one script (sorting a table by a clicked column) runs by its digest; no other can."""
    import base64
    import hashlib

    from sms_conformance.reports.evidence_html import SORT_SCRIPT

    _, _, html = render(store, tmp_path)
    digest = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert f"script-src 'sha256-{digest}'" in html and "script-src 'unsafe-inline'" not in html
    html = without_sort_script(html)
    assert not re.search(r"<(script|link|iframe|object|embed)\b", html, re.I)
    assert not re.search(r'\ssrc="', html)  # no external (or any) resource to fetch
    assert "<svg" in html


def test_findings_capped_per_rule_with_the_rest_counted(store: Path, tmp_path: Path) -> None:
    _, _, html = render(store, tmp_path, "--findings-per-rule", "5")
    section = html[html.index('id="rule-incident.logging.category"'):]
    section = section[:section.index("<h3", 10)]
    assert section.count("<tr>") == 1 + 5  # header and five findings
    assert "... and 35 more (csv format for all)" in section
    assert "--format csv" in html


def test_rates_with_denominators_waivers_and_corrective_actions(store: Path,
                                                                 tmp_path: Path) -> None:
    _, _, html = render(store, tmp_path)
    assert "20.00% (40 of 200)" in html  # the rule
    assert "12.81% (41 of 320)" in html  # clause 8.6.1: 40 + 1 failed of 200 + 120 decided
    assert "Jane Auditor" in html and "2027-03-31" in html
    assert "CAB chair" in html and "expired" in html
    rows = re.findall(r"<tr><td>([^<]*)</td><td class=\"n\">(\d+)</td><td class=\"n\">(\d+)"
                      r"</td><td class=\"n\">(\d+)</td>", html)
    owners = {name: (int(a), int(b), int(c)) for name, a, b, c in rows}
    assert owners["Service Desk"] == (2, 1, 0)  # open, overdue, closed
    assert owners["Network"] == (1, 0, 1)
    assert "Elsewhere" not in owners


def test_clause_filter_keeps_only_that_clause(store: Path, tmp_path: Path) -> None:
    code, _, html = render(store, tmp_path, "--clause", "8.5.1")
    assert code == 0
    assert "change.risk.assessed" in html and "incident.logging.category" not in html
    assert "Jane Auditor" not in html  # the waiver of an incident rule does not concern it
    code, output, _ = render(store, tmp_path, "--clause", "9.9")
    assert code == 2 and "no rule of this clause" in output


def test_unknown_scan_is_one_error_line(store: Path, tmp_path: Path) -> None:
    code, output, _ = render(store, tmp_path, "--scan", "77")
    assert code == 2 and output.strip() == (
        f"error: --scan 77: no such scan in {store} (it holds scans 1 to 1)")
    for spec in ("first", "0"):
        code, output, _ = render(store, tmp_path, "--scan", spec)
        assert code == 2 and "expected a scan id or 'latest'" in output
    code, output, _ = render(store, tmp_path, "--scan", "first")
    assert code == 2 and "expected a scan id or 'latest'" in output


def test_report_metrics_table_and_json(store: Path) -> None:
    runner = CliRunner()
    table = runner.invoke(cli, ["report", "metrics", "--history", str(store)])
    assert table.exit_code == 0, table.output
    assert "incident: 1 records read (all records)" in table.output
    assert "time to restore P2: median 3.0h" in table.output
    assert "within 8.0h: 100.0% (1 of 1)" in table.output
    assert "corrective actions at" in table.output and "3 open (1 overdue), 1 closed" in table.output
    data = json.loads(runner.invoke(cli, ["report", "metrics", "--history", str(store),
                                          "--format", "json"]).output)
    assert data["scan"]["complete"] is True
    assert data["metrics"]["incident"]["reopen"] == {"reopened": 0, "base": 1, "rate": 0.0,
                                                     "unknown": 0, "missing": 0}
    assert data["corrective_actions"]["total"]["open"] == 3


def test_svg_charts_escape_labels_and_say_when_there_is_nothing_to_draw() -> None:
    from sms_conformance.reports.svg_chart import LinePoint, bar_chart, line_chart

    bars = bar_chart([(HOSTILE, 3.0), ("ok", 1.0)], "services <b>")
    assert "<script" not in bars and "<img" not in bars and "services &lt;b&gt;" in bars
    assert bars.count("<rect") == 2
    empty = line_chart([], "rate")
    assert "no complete full scan in the window" in empty and "<polyline" not in empty
    two = line_chart([LinePoint("2026-11-01", 0.1), LinePoint("2026-11-08", 0.2)], "rate")
    assert "<polyline" in two and two.count("<circle") == 2 and "20.0%" in two


def test_the_pack_opens_with_a_summary_and_lists_findings_by_severity(store: Path,
                                                                      tmp_path: Path) -> None:
    _, _, html = render(store, tmp_path)
    summary = html[html.index("<h2>Summary</h2>"):html.index("<h2>Scope</h2>")]
    assert html.index("<h2>Summary</h2>") < html.index("<h2>Clauses and rules</h2>")
    assert "<b>Scope:</b>" in summary and "of the decided results failed" in summary
    assert "Most severe open findings" in summary and "<b>Corrective actions:</b>" in summary
    assert "overdue" in summary
    findings = html[html.index("<h2>Findings</h2>"):html.index("<h2>Waivers</h2>")]
    order = re.findall(r'<h3 id="rule-[^"]+"[^>]*>[^<]*<span class="sev-(\w+)"', findings)
    ranks = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    assert order and [ranks[x] for x in order] == sorted(ranks[x] for x in order)
    metadata = html[html.index("<h2>Scan metadata</h2>"):]
    assert "{&#x27;" not in metadata and "{'" not in metadata, "filters in words, not a dict"
    assert "Rule pack (sha256 of the active rules)" in metadata
    assert "table class=\"sortable\"" in html


def test_plurals_and_trend_labels_of_scans_on_one_day() -> None:
    from sms_conformance.reports.evidence_html import filters_text, plural, point_labels

    assert (plural(1, "record"), plural(2, "record")) == ("1 record", "2 records")
    assert plural(1, "nonconformity", "nonconformities") == "1 nonconformity"
    assert point_labels(["2026-12-07T08:19:55Z", "2026-12-07T09:01:00Z", "2026-12-08T08:00:00Z"]
                        ) == ["2026-12-07 08:19", "2026-12-07 09:01", "2026-12-08"]
    assert filters_text({"only": [], "since": None, "incremental": False, "as_of": None}) == (
        "every rule, all records, evaluated as of the scan's start")
    assert filters_text({"only": ["incident.*"], "incremental": True, "as_of": "2026-11-01"}) == (
        "rules matching incident.*, records changed since the previous scan (incremental), "
        "evaluated as of 2026-11-01")
