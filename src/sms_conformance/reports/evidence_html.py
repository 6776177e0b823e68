"""The evidence pack: one self-contained HTML file (inline CSS and SVG, nothing fetched at view
time), laid out as an audit report: a summary first, then clauses and rules, process metrics,
corrective actions, findings by severity, waivers and the scan's provenance. Every value from a
record or the store is escaped: record text is untrusted. The Content-Security-Policy forbids
remote loads and every script but the few lines that sort a table by a clicked column, allowed
by their sha256 digest."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping, Set
from html import escape
from typing import Any
from urllib.parse import urlsplit

from sms_conformance import __version__
from sms_conformance.model.rows import FindingRow
from sms_conformance.reports.evidence_data import Evidence
from sms_conformance.reports.metrics_text import gaps_text, share_text
from sms_conformance.reports.summary import CLAUSE_TITLES, by_clause
from sms_conformance.reports.svg_chart import LinePoint, bar_chart, line_chart, percent
from sms_conformance.reports.trend import Series, rate_text
from sms_conformance.scan.metrics import age_text

# Click a column heading to sort its table (numbers as numbers), again to reverse: offline.
SORT_SCRIPT = (
    "document.querySelectorAll('table.sortable th').forEach(function(th){"
    "th.addEventListener('click',function(){var t=th.closest('table'),b=t.tBodies[0],"
    "i=Array.prototype.indexOf.call(th.parentNode.children,th),up=th.dataset.dir!=='up';"
    "var key=function(r){var c=r.children[i],v=c?c.textContent.trim():'',"
    "n=parseFloat(v.replace(/,/g,''));return c&&c.className==='n'&&!isNaN(n)?n:v.toLowerCase()};"
    "Array.from(b.rows).sort(function(x,y){var a=key(x),z=key(y);"
    "return (a<z?-1:a>z?1:0)*(up?1:-1)}).forEach(function(r){b.appendChild(r)});"
    "th.dataset.dir=up?'up':'down'})});")
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
       f"script-src 'sha256-{_SCRIPT_HASH}'")
CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#0f172a;margin:0;background:#f8fafc}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid
#cbd5e1;padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 12px}
th,td{border:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f5f9;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#64748b}.banner{padding:8px 12px;border-radius:4px;margin:10px 0;
background:#fef3c7;border:1px solid #f59e0b}.ok{background:#dcfce7;border-color:#22c55e}
.sev-critical,.sev-high{color:#b91c1c;font-weight:600}.sev-medium{color:#b45309}
.chart{background:#fff;border:1px solid #e2e8f0;display:block;margin:6px 0;max-width:100%}
table.sortable th{cursor:pointer}table.sortable th:hover{background:#e2e8f0}
.summary{background:#fff;border:1px solid #cbd5e1;border-radius:6px;padding:4px 16px 12px}
.verdict{font-size:16px;font-weight:600}
code{background:#e2e8f0;padding:1px 4px;border-radius:3px}dl{display:grid;
grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:600}dd{margin:0}
"""


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def safe_url(url: str) -> str | None:
    """A link only to http(s): a record's url is data, never `javascript:`."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], numeric: Set[int] = frozenset(),
           sortable: bool = True) -> str:
    """Cells are HTML already (callers escape values); a click on a heading sorts by it."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    kind = ' class="sortable"' if sortable else ""
    return f"<table{kind}><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render(ev: Evidence) -> str:
    scan = ev.scan
    title = f"ISO/IEC 20000-1 conformance evidence: scan {scan['id']}"
    parts = [
        f"<h1>{e(title)}</h1>",
        f'<p class="muted">{e(scan["instance"])}, records as of {e(_moment(scan["as_of"]))}; generated '
        f"{ev.generated_at:%Y-%m-%d %H:%M} UTC by sms-conformance {e(__version__)}</p>",
        _banner(scan),
        _summary(ev),
        _scope(ev),
        _clauses(ev),
        _metrics(ev),
        _tasks(ev),
        _findings(ev),
        _waivers(ev),
        _gaps_and_notices(ev),
        _metadata(ev),
    ]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>"
            + "\n".join(parts) + f"</main><script>{SORT_SCRIPT}</script></body></html>\n")


def _banner(scan: Mapping[str, Any]) -> str:
    if not scan["complete"]:
        return (f'<p class="banner"><b>Incomplete scan:</b> {e(scan["error"] or "reason unknown")}.'
                " Its counts cover only the records read before it stopped.</p>")
    if scan["incremental"]:
        return ('<p class="banner"><b>Incremental scan:</b> its counts cover only the records '
                "changed since the previous scan, not the whole population: its rates are not "
                "population rates.</p>")
    return '<p class="banner ok">Complete scan of every record the rules cover.</p>'


def plural(n: int, one: str, many: str | None = None) -> str:
    """`1 record`, `2 records`, `1,204 scans`."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


SUMMARY_FINDINGS = 8  # most severe open findings in the summary


def _summary(ev: Evidence) -> str:
    """The first screen an auditor reads: scope, overall and per-clause rates, the most severe
    open findings, corrective actions overdue."""
    lines = [x for x in ev.lines if x.in_scope]
    failed = sum(x.failed for x in ev.lines)
    decided = sum(x.decided for x in ev.lines)
    records = sum(int(m.get("records", 0)) for m in ev.metrics.values())
    clause = f"clause {ev.clause}" if ev.clause else "every clause"
    scope = (f"{plural(records, 'record')} of {e(ev.scan['instance'])} read as of "
             f"{e(_moment(ev.scan['as_of']))}; {plural(len(ev.lines), 'rule')} of {e(clause)} "
             f"evaluated, {len(lines):,} with records in scope.")
    verdict = ("No nonconformity found." if decided and not failed else
               f"{plural(failed, 'nonconformity', 'nonconformities')}: "
               f"{e(rate_text(failed, decided))} of the decided results failed.")
    clauses = [[e(c), e(CLAUSE_TITLES.get(c, "")),
                e(rate_text(sum(x.failed for x in g), sum(x.decided for x in g)))]
               for c, g in by_clause(ev.lines).items()]
    worst = sorted((f for rows in ev.findings.values() for f in rows if f.status == "fail"),
                   key=lambda f: (-_rank(f.severity), f.rule_id, f.number))[:SUMMARY_FINDINGS]
    shown = (_table(["Severity", "Record", "Rule", "Finding", "Owner"], (
        [f'<span class="sev-{e(f.severity)}">{e(f.severity)}</span>', e(f.number),
         f'<a href="#rule-{e(f.rule_id)}">{e(f.rule_id)}</a>', e(f.message), e(f.owner or "-")]
        for f in worst)) if worst else "<p>No open finding.</p>")
    total = ev.tasks.total
    overdue = (f"{plural(total.overdue, 'corrective action')} overdue of "
               f"{total.open:,} open, {total.closed:,} closed; by owner under Corrective actions."
               if total.open or total.closed else "No remediation task recorded yet.")
    if total.overdue:
        late = [o for o in ev.tasks.owners if o.overdue][:3]
        overdue += " Most overdue: " + ", ".join(f"{e(o.owner)} ({o.overdue:,})" for o in late) + "."
    return ('<section class="summary"><h2>Summary</h2>'
            f"<p><b>Scope:</b> {scope}</p>"
            f'<p class="verdict">{verdict}</p>'
            + _table(["Clause", "Title", "Failure rate"], clauses)
            + f"<p><b>Most severe open findings</b> (of {plural(failed, 'finding')}):</p>{shown}"
            + f"<p><b>Corrective actions:</b> {overdue}</p></section>")


def _rank(severity: str) -> int:
    return {"critical": 4, "high": 3, "medium": 2, "low": 1}.get(severity, 0)


def _moment(stamp: str) -> str:
    """`2026-12-07T08:19:55Z` -> `2026-12-07 08:19 UTC`."""
    return f"{stamp[:16].replace('T', ' ')} UTC" if len(stamp) >= 16 else stamp


def _scope(ev: Evidence) -> str:
    processes = "".join(
        f"<li>{e(p)}: {m.get('records', 0):,} records read ({e(m.get('population', ''))})</li>"
        for p, m in sorted(ev.metrics.items()))
    rules = len(ev.lines)
    in_scope = sum(1 for x in ev.lines if x.in_scope)
    clause = (f"clause {e(ev.clause)} only" if ev.clause else "all clauses")
    return (
        "<h2>Scope</h2><dl>"
        f"<dt>Instance</dt><dd>{e(ev.scan['instance'])} ({e(ev.scan['platform'])}, source "
        f"{e(ev.scan['source'])})</dd>"
        f"<dt>Processes</dt><dd><ul>{processes or '<li>none recorded</li>'}</ul></dd>"
        f"<dt>Filter</dt><dd>{clause}</dd>"
        f"<dt>Rules</dt><dd>{rules} rules evaluated, {in_scope} with records in scope</dd>"
        "</dl>")


def _clauses(ev: Evidence) -> str:
    out = ["<h2>Clauses and rules</h2>",
           '<p class="muted">Failure rate = failed of decided (evaluated minus unknown). A rule '
           "with no record in scope or none decided shows no evidence, never 100%.</p>"]
    rows = []
    groups = by_clause(ev.lines)
    for clause, lines in groups.items():
        evaluated = sum(x.evaluated for x in lines)
        unknown = sum(x.unknown for x in lines)
        failed = sum(x.failed for x in lines)
        rows.append([f'<a href="#clause-{e(clause)}">{e(clause)}</a>',
                     e(CLAUSE_TITLES.get(clause, "")), str(len(lines)), _n(evaluated),
                     _n(unknown), _n(failed), e(rate_text(failed, evaluated - unknown))])
    out.append(_table(["Clause", "Title", "Rules", "Evaluated", "Unknown", "Failed",
                       "Failure rate"], rows, {2, 3, 4, 5}))
    trends = {s.key: s for s in ev.trends}
    for clause, lines in groups.items():
        out.append(f'<h3 id="clause-{e(clause)}">{e(clause)} '
                   f"{e(CLAUSE_TITLES.get(clause, ''))}</h3>")
        if clause in trends:
            out.append(_trend(trends[clause], ev))
        out.append(_table(
            ["Rule", "Severity", "Title", "Evaluated", "Unknown", "Failed", "Errors", "Waived",
             "Failure rate"],
            ([f'<a href="#rule-{e(x.rule_id)}">{e(x.rule_id)}</a>',
              f'<span class="sev-{e(x.severity)}">{e(x.severity)}</span>', e(x.title),
              _n(x.evaluated), _n(x.unknown), _n(x.failed), _n(x.errors), _n(x.waived),
              e(rate_text(x.failed, x.decided)) if x.in_scope else "no records in scope"]
             for x in lines), {3, 4, 5, 6, 7}))
    return "\n".join(out)


def _trend(series: Series, ev: Evidence) -> str:
    drawn = [p for p in series.points if p.population and p.failure_rate is not None]
    left_out = [p for p in series.points if not p.population]
    labels = point_labels([p.as_of for p in drawn])
    points = [LinePoint(label, p.failure_rate or 0.0,
                        f"scan {p.scan_id} as of {_moment(p.as_of)}: "
                        f"{rate_text(p.failed, p.decided)}")
              for p, label in zip(drawn, labels, strict=True)]
    window = f"since {ev.since:%Y-%m-%d}" if ev.since else "all scans"
    chart = line_chart(points, f"Failure rate of clause {series.key}, {window}",
                       top=max([p.value for p in points] + [0.05]) * 1.15)
    note = (f"{plural(len(drawn), 'complete full scan')} {window}, one point each."
            + (f" Not drawn: {plural(len(left_out), 'scan')} whose counts do not cover the whole "
               "population "
               f"(scans {', '.join(str(p.scan_id) for p in left_out[:10])}"
               f"{', ...' if len(left_out) > 10 else ''}: incremental, incomplete or fewer rules)."
               if left_out else ""))
    return chart + f'<p class="muted">{e(note)}</p>'


# process metrics ------------------------------------------------------------------------
def _metrics(ev: Evidence) -> str:
    if not ev.metrics:
        return ("<h2>Process metrics</h2><p>No process metrics were stored for this scan (scans "
                "by versions before 0.2 did not compute them).</p>")
    out = ["<h2>Process metrics</h2>",
           '<p class="muted">Computed from the records read, not from the findings. '
           "<i>unknown</i>: the source did not provide the value; <i>empty</i>: the record has "
           "none. Neither is counted as zero, as a success or as a miss. Quantiles are exact "
           "(nearest rank over every duration).</p>"]
    for process, render_one in (("incident", _incident), ("problem", _problem),
                                ("change", _change)):
        if process in ev.metrics:
            try:
                out.append(render_one(ev.metrics[process], ev))
            except (KeyError, TypeError):  # stored by another version of the tool
                out.append(f"<p>The {process} metrics of this scan are in a form this version "
                           "does not read.</p>")
    return "\n".join(out)


def _metric_trend(ev: Evidence, process: str, value: Callable[[Mapping[str, Any]], float | None],
                  title: str) -> str:
    """A metric over the complete full scans of the window (scans without it are left out)."""
    points = []
    labels = dict(zip((a for a, _ in ev.metric_history),
                      point_labels([a for a, _ in ev.metric_history]), strict=True))
    for as_of, stored in ev.metric_history:
        try:
            found = value(stored[process]) if process in stored else None
        except (KeyError, TypeError, ZeroDivisionError):
            found = None
        if found is not None:
            points.append(LinePoint(labels[as_of], found))
    if len(points) < 2:
        return ""
    top = min(1.0, max(p.value for p in points) * 1.15) or 1.0
    return f'<p class="muted">{e(title)}</p>' + line_chart(points, title, top=top)


def _within(m: Mapping[str, Any]) -> float | None:
    lines = [x for x in m["time_to_restore"].values() if x["target_seconds"] is not None]
    measured = sum(x["time_to_restore_seconds"]["count"] for x in lines)
    return sum(x["within_target"] for x in lines) / measured if measured else None


def _incident(m: Mapping[str, Any], ev: Evidence) -> str:
    rows, bars = [], []
    for priority, line in m["time_to_restore"].items():
        ttr = line["time_to_restore_seconds"]
        rows.append([f"P{e(priority)}", e(age_text(line["target_seconds"])), _n(ttr["count"]),
                     e(age_text(ttr["median"])), e(age_text(ttr["p90"])),
                     share_text(line["within_target"], ttr["count"]),
                     e(f"{gaps_text(line)}, {line['resolved_before_opened']} resolved before opened")])
        if line["within_target_share"] is not None:
            bars.append((f"P{priority} within {age_text(line['target_seconds'])}",
                         line["within_target_share"]))
    reopen, backlog, volume = m["reopen"], m["backlog"], m["volume_by_service"]
    services = volume["services"][:10]
    more = len(volume["services"]) - len(services)
    return "\n".join([
        f"<h3>Incidents (8.6.1): {m['records']:,} read</h3>",
        "<p><b>Time to restore by priority</b> (opened to resolved, resolved and closed "
        "incidents; targets from the restore_targets setting)</p>",
        _table(["Priority", "Target", "Measured", "Median", "p90", "Within target",
                "Not measured"], rows, {2, 3, 4}),
        bar_chart(bars, "Share restored within target, by priority", fmt=percent, top=1.0),
        _metric_trend(ev, "incident", _within, "Share restored within target, all priorities, "
                      "over the complete full scans"),
        f"<p class=\"muted\">Priority not known on {gaps_text(m['time_to_restore_priority_gaps'])} "
        "resolved incidents.</p>",
        f"<p><b>Reopen rate:</b> {share_text(reopen['reopened'], reopen['base'])} of the incidents "
        f"resolved at least once ({gaps_text(reopen)} reopen counts).</p>",
        _metric_trend(ev, "incident", lambda x: x["reopen"]["rate"],
                      "Reopen rate over the complete full scans"),
        f"<p><b>Backlog:</b> {backlog['age_seconds']['count']:,} open incidents, median age "
        f"{e(age_text(backlog['age_seconds']['median']))}, p90 "
        f"{e(age_text(backlog['age_seconds']['p90']))}; "
        f"{backlog.get('over_limit', 0):,} older than {e(age_text(backlog.get('limit_seconds')))} "
        f"({gaps_text(backlog)} opening dates).</p>",
        bar_chart([(b["label"], b["count"]) for b in backlog["buckets"]],
                  "Open incidents by age"),
        "<p><b>Volume by service</b> (incidents read"
        + (f"; {more} more services not shown" if more > 0 else "")
        + f"; {gaps_text(volume)} services)</p>",
        bar_chart([(s["service"], s["count"]) for s in services], "Incidents by service"),
        _service_levels(m.get("service_levels")),
    ])


def _service_levels(levels: Mapping[str, Any] | None) -> str:
    """SLA breaches per service and priority (8.3.3), each with its denominator."""
    if levels is None:
        return ("<p class=\"muted\">SLA breaches (8.3.3): not read in this scan (no SLA rule "
                "ran).</p>")
    rate = levels["breach_rate"]
    rows = [[e(x["service"]), f"P{e(x['priority'])}", _n(x["with_sla"]), _n(x["breached"]),
             share_text(x["breached"], x["with_sla"])] for x in levels["by_service_priority"]]
    return "\n".join([
        f"<p><b>SLA breaches (8.3.3):</b> {share_text(rate['breached'], rate['with_sla'])} of "
        f"the incidents carrying an SLA record breached one; {levels['without_sla']:,} carry "
        f"none ({gaps_text(levels)}: SLA records not readable).</p>",
        _table(["Service", "Priority", "With an SLA", "Breached", "Breach rate"], rows,
               {2, 3}),
    ])


def _problem(m: Mapping[str, Any], ev: Evidence) -> str:
    ages, known = m["open_age"], m["known_errors"]
    return "\n".join([
        f"<h3>Problems (8.6.3): {m['records']:,} read</h3>",
        f"<p><b>Open problems:</b> {ages['age_seconds']['count']:,}, median age "
        f"{e(age_text(ages['age_seconds']['median']))}, p90 "
        f"{e(age_text(ages['age_seconds']['p90']))} ({gaps_text(ages)} opening dates).</p>",
        bar_chart([(b["label"], b["count"]) for b in ages["buckets"]], "Open problems by age"),
        f"<p><b>Known errors without a workaround:</b> "
        f"{share_text(known['without_workaround'], known['count'])} of the known errors "
        f"({known['open']:,} of them open; known-error flag {gaps_text(known)}; workaround unknown "
        f"on {known['workaround_unknown']:,}).</p>",
    ])


def _change(m: Mapping[str, Any], ev: Evidence) -> str:
    success, emergency = m["success"], m["emergency"]
    codes = ", ".join(f"{e(k)} {v:,}" for k, v in success["by_code"].items()) or "none"
    return "\n".join([
        f"<h3>Changes (8.5.1): {m['records']:,} read</h3>",
        f"<p><b>Success rate:</b> {share_text(success['successful'], success['closed_with_code'])} "
        f"of the closed changes with a close code (by code: {codes}; close code "
        f"{gaps_text(success)}).</p>",
        _metric_trend(ev, "change", lambda x: x["success"]["rate"],
                      "Change success rate over the complete full scans"),
        f"<p><b>Emergency changes:</b> {share_text(emergency['emergency'], emergency['typed'])} of "
        f"the changes with a type ({gaps_text(emergency)} types).</p>",
        f'<p class="muted">Records read: {e(m.get("population", ""))}.</p>',
    ])


# corrective actions, findings, waivers --------------------------------------------------
def _tasks(ev: Evidence) -> str:
    status = ev.tasks
    total = status.total
    head = ("<h2>Corrective actions</h2>"
            f'<p class="muted">Remediation tasks write-back created on this instance, as the history '
            f"store recorded them at {status.at:%Y-%m-%d %H:%M} UTC (a task closed in the platform "
            "shows as open until the next write-back run reads it). Due: created plus "
            "write_back.due_days of its most severe rule.</p>")
    if not status.owners:
        return head + "<p>No remediation task recorded.</p>"
    rows = [[e(o.owner), _n(o.open), _n(o.overdue), _n(o.closed), _n(o.oldest_open_days)]
            for o in status.owners]
    rows.append(["<b>all owners</b>", _n(total.open), _n(total.overdue), _n(total.closed), ""])
    unknown = (f"<p class=\"muted\">{status.due_unknown:,} open tasks have no known due date "
               "(their rules are not in this scan) and are not counted overdue.</p>"
               if status.due_unknown else "")
    return head + _table(["Owner", "Open", "Overdue", "Closed", "Oldest open (days)"], rows,
                         {1, 2, 3, 4}) + unknown


def _findings(ev: Evidence) -> str:
    out = ["<h2>Findings</h2>",
           f'<p class="muted">Failed, error and waived results, most severe rules first; at '
           f"most {ev.cap} per rule here. "
           f"All of them: <code>sms-conformance report show --scan {e(ev.scan['id'])} --format "
           "csv</code>.</p>"]
    for line in sorted(ev.lines, key=lambda x: (-_rank(x.severity), x.rule_id)):
        count = ev.listed(line)
        if not count:
            continue
        shown = ev.findings.get(line.rule_id, [])
        out.append(f'<h3 id="rule-{e(line.rule_id)}">{e(line.rule_id)} '
                   f'<span class="sev-{e(line.severity)}">{e(line.severity)}</span> '
                   f"({count:,})</h3>")
        out.append(_table(["Record", "Status", "Finding", "Owner", "First seen"],
                          (_finding_row(f) for f in shown)))
        if count > len(shown):
            out.append(f"<p>... and {count - len(shown):,} more (csv format for all).</p>")
    return "\n".join(out)


def point_labels(moments: list[str]) -> list[str]:
    """x-axis labels of one point per scan: dates, with the time where a date repeats."""
    days = [m[:10] for m in moments]
    return [m[:16].replace("T", " ") if days.count(m[:10]) > 1 else m[:10] for m in moments]


def _finding_row(f: FindingRow) -> list[str]:
    url = safe_url(f.url)
    record = (f'<a href="{e(url)}" rel="noopener noreferrer">{e(f.number)}</a>' if url
              else e(f.number))
    detail = f"<br><span class=\"muted\">{e(f.detail)}</span>" if f.detail else ""
    return [record, e(f.status), e(f.message) + detail, e(f.owner or "-"), e(f.first_seen or "")]


def _waivers(ev: Evidence) -> str:
    head = ("<h2>Waivers</h2>"
            '<p class="muted">Approved exceptions in config/waivers.yaml that concern these '
            "rules, as of this rendering; a waived finding above names the waiver applied when "
            "it was scanned.</p>")
    if not ev.waivers:
        return head + "<p>No waiver concerns these rules.</p>"
    as_of = str(ev.scan["as_of"])[:10]
    rows = [[e(w.rule), e(w.record or w.scope), e(w.reason), e(w.approver), e(w.expires),
             "expired" if w.expires.isoformat() < as_of else "active"]
            for w in ev.waivers]
    return head + _table(["Rule", "Record or scope", "Reason", "Approver", "Expires",
                          f"At {e(as_of)}"], rows)


def _gaps_and_notices(ev: Evidence) -> str:
    out = ["<h2>What the source did not provide</h2>"]
    if ev.unavailable:
        out.append(_table(["Field", "Reason", "Results unknown", "Rules blinded"], (
            [e(f"{g['process']}.{g['field']}"), e(g["reason"]), _n(g["records"]),
             e(", ".join(g["rules"]))] for g in ev.unavailable), {2}))
    else:
        out.append("<p>Every field the rules read was provided.</p>")
    notices = ev.scan.get("notices") or []
    if notices:
        out.append("<h3>Notices</h3><ul>" + "".join(f"<li>{e(n)}</li>" for n in notices)
                   + "</ul>")
    return "\n".join(out)


def filters_text(filters: Mapping[str, Any]) -> str:
    """The filters a scan ran with, in words: `every rule, all records, evaluated as of the
    scan's start`."""
    words = []
    only = filters.get("only") or []
    words.append(f"rules matching {', '.join(only)}" if only else "every rule")
    if filters.get("rules"):
        words.append(f"with the extra rules of {filters['rules']}")
    if filters.get("since"):
        words.append(f"records updated since {filters['since']}")
    elif filters.get("incremental"):
        words.append("records changed since the previous scan (incremental)")
    else:
        words.append("all records")
    words.append(f"evaluated as of {filters['as_of']}" if filters.get("as_of")
                 else "evaluated as of the scan's start")
    words.extend(f"sandbox {key} {filters[key]}" for key in ("records", "seed")  # a sandbox's
                 if filters.get(key) is not None)
    return ", ".join(words)


_FIELDS = {
    "id": "Scan", "started_at": "Started", "finished_at": "Finished", "platform": "Platform",
    "instance": "Instance", "source": "Source", "as_of": "Records evaluated as of",
    "complete": "Complete", "incremental": "Incremental", "error": "Error",
    "tool_version": "Tool version", "filters": "Filters",
    "rules_digest": "Rule pack (sha256 of the active rules)",
    "config_digest": "Configuration (sha256 of settings, field map and waivers)",
    "failed_start": "Read no record",
}


def _plain(key: str, value: Any) -> str:
    if key in ("complete", "incremental", "failed_start"):
        return "yes" if value else "no"
    if key == "filters" and isinstance(value, Mapping):
        return filters_text(value)
    if key in ("started_at", "finished_at", "as_of") and isinstance(value, str):
        return _moment(value)
    return "-" if value is None else str(value)


def _metadata(ev: Evidence) -> str:
    scan = ev.scan
    rows = [[e(_FIELDS.get(k, k)), e(_plain(k, v))] for k, v in scan.items()
            if k != "notices" and not (k == "failed_start" and not v)]
    command = (f"sms-conformance scan --source {scan['source'] or 'servicenow'} --as-of "
               f"{scan['as_of']}" + (" --incremental" if scan["incremental"] else "")
               + " --format json --output scan.json")
    rules = ", ".join(x.rule_id for x in ev.lines)
    return ("<h2>Scan metadata</h2>"
            + _table(["Field", "Value"], rows, sortable=False)
            + f"<p>Rules evaluated ({plural(len(ev.lines), 'rule')}): {e(rules)}.</p>"
            + f"<p>To reproduce with the same rule pack and configuration: <code>{e(command)}"
            f"</code>; this page again: <code>sms-conformance report evidence --scan "
            f"{e(scan['id'])}{' --clause ' + e(ev.clause) if ev.clause else ''} --output DIR"
            "</code>.</p>")
