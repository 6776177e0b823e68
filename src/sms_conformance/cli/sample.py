"""`sms-conformance sample`: a reproducible stratified sample of a stored scan's records."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sms_conformance.cli.history import HISTORY_OPTION, existing_history
from sms_conformance.cli.report_options import instance_option
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.rows import FindingRow
from sms_conformance.store.choice import choose_scan
from sms_conformance.store.history import History
from sms_conformance.store.sampling import Scanned, draw, parse_by

# A record's verdict from its stored results, worst first; none stored: it passed every rule
# that applied (unknown results past 50 per rule are counted, not stored: see scan.py).
VERDICTS = ("fail", "error", "unknown", "waived")


def pick_scan(history: History, scan: str, instance: str | None = None) -> dict[str, Any]:
    """`latest`: the latest complete, full scan (of `instance`) that stored its scanned records
    (an incremental one holds only the records that changed)."""
    return choose_scan(history, scan, instance, what="complete full scan with its scanned records",
                       usable=lambda s: bool(s["complete"]) and not s["incremental"]
                       and history.has_scanned(s["id"]))


@click.command()
@click.option("--size", type=int, required=True, help="Records to draw (at least 1).")
@click.option("--by", "by_text", default="priority", show_default=True,
              metavar="priority[,service][,process]", help="Strata: the fields to group by.")
@click.option("--seed", type=int, default=None,
              help="The same seed draws the same records (default: a random one, printed so "
                   "the draw can be repeated).")
@click.option("--scan", "scan_ref", default="latest", show_default=True, metavar="ID|latest",
              help="The stored scan; latest: the last complete, full (not incremental) one.")
@instance_option
@click.option("--process", type=click.Choice(["incident", "problem", "change", "request"]),
              help="Only records of this process (default: all scanned).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@HISTORY_OPTION
def sample(size: int, by_text: str, seed: int | None, scan_ref: str, instance: str | None,
           process: str | None, fmt: str, history_path: Path | None) -> None:
    """Draw a stratified random sample of the records a stored scan evaluated, with their
    results, the way an auditor samples tickets (proportional allocation, at least one per
    stratum where the size allows; see sampling.py)."""
    if size < 1:
        raise ConfigError(f"--size {size}: draw at least 1 record")
    if seed is None:
        seed = secrets.randbelow(1_000_000)
        click.echo(f"seed {seed} drawn at random: --seed {seed} draws this sample again",
                   err=True)
    by = parse_by(by_text)
    history = existing_history(history_path)
    scan = pick_scan(history, scan_ref, instance)
    population = [Scanned(*row) for row in history.scanned(scan["id"])
                  if process is None or row[0] == process]
    if not population:
        raise ConfigError(f"scan {scan['id']} stored no scanned records"
                          + (f" of process {process}" if process else ""))
    drawn, strata = draw(population, by, size, seed)
    wanted = {r.record_id for r in drawn}
    results: dict[str, list[FindingRow]] = {}
    for finding in history.findings(scan["id"]):
        if finding.record_id in wanted:
            results.setdefault(finding.record_id, []).append(finding)
    names = history.names(scan["instance"] or "")
    report = _report(scan, by, size, seed, len(population), strata, drawn, results,
                     lambda service: names.get(("service", service or ""), "") or service)
    click.echo(json.dumps(report, indent=2) if fmt == "json" else "\n".join(_table(report)))


def _verdict(findings: list[FindingRow]) -> str:
    statuses = {f.status for f in findings}
    return next((v for v in VERDICTS if v in statuses), "pass")


def _report(scan: dict[str, Any], by: tuple[str, ...], size: int, seed: int, population: int,
            strata: dict[tuple[str, ...], tuple[int, int]], drawn: list[Scanned],
            results: dict[str, list[FindingRow]],
            service_name: Callable[[str | None], str | None]) -> dict[str, Any]:
    """The sample; services are shown by name (the scan's instance's names), ids beside."""
    def key_of(key: tuple[str, ...]) -> dict[str, Any]:
        shown: dict[str, Any] = dict(zip(by, key, strict=True))
        if "service" in shown:
            shown["service_id"], shown["service"] = shown["service"], service_name(shown["service"])
        return shown

    return {
        "scan": {k: scan[k] for k in ("id", "instance", "started_at", "as_of", "complete")},
        "method": "stratified random, proportional allocation (largest remainder), at least one "
                  "per non-empty stratum when the size allows (else one per value of the first "
                  "--by field first, then the largest strata); seeded per stratum",
        "by": list(by), "seed": seed, "size": size, "population": population,
        "strata": [{"key": key_of(key), "population": n, "drawn": d}
                   for key, (n, d) in strata.items()],
        # Strata with records and none drawn: only when --size is below the number of strata.
        "left_out": [{"key": key_of(key), "population": n}
                     for key, (n, d) in strata.items() if n and not d],
        "records": [{
            "process": r.process, "record_id": r.record_id, "number": r.number,
            "priority": r.priority, "service": service_name(r.service), "service_id": r.service,
            "updated": r.updated_at,
            "result": _verdict(results.get(r.record_id, [])),
            "findings": [{"rule_id": f.rule_id, "clause": f.clause, "severity": f.severity,
                          "status": f.status, "message": f.message, "url": f.url}
                         for f in results.get(r.record_id, [])],
        } for r in drawn],
    }


def _table(report: dict[str, Any]) -> list[str]:
    scan, by = report["scan"], report["by"]
    state = "complete" if scan["complete"] else "INCOMPLETE"
    out = [f"Sample of {len(report['records'])} of {report['population']:,} records scanned in "
           f"scan {scan['id']} ({scan['started_at']}, {state}), by {', '.join(by)}, "
           f"seed {report['seed']}", "", f"{' / '.join(by):<40} {'population':>10} {'drawn':>6}"]
    left_out = report["left_out"]
    if left_out:
        strata = len(report["strata"])
        out[1:1] = ["", f"note: --size {report['size']} is smaller than the {strata} strata: "
                    f"{len(left_out)} strata have no record in this sample (marked 'left out'; "
                    f"--size {strata} draws from every one). Each {by[0]} with records is "
                    "drawn from first, as far as the size allows."]
    for stratum in report["strata"]:
        label = " / ".join(stratum["key"][name] or "(none)" for name in by)
        mark = "  left out" if stratum["population"] and not stratum["drawn"] else ""
        out.append(f"{label:<40} {stratum['population']:>10,} {stratum['drawn']:>6}{mark}")
    out += ["", f"{'number':<12} {'process':<9} {'prio':>4} {'service':<32} {'updated':<20} result"]
    for r in report["records"]:
        out.append(f"{r['number']:<12} {r['process']:<9} {r['priority'] or '':>4} "
                   f"{r['service'] or '':<32} {r['updated']:<20} {r['result']}")
        for f in r["findings"]:
            out.append(f"    {f['status']:<8} {f['clause']:<6} {f['rule_id']}: {f['message']}")
    return out
