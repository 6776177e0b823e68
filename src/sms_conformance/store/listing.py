"""`history scans`: the stored scans, what each covered and how it ended."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sms_conformance.store.choice import of_instance
from sms_conformance.store.history import History, instance_key


def state_of(scan: dict[str, Any]) -> str:
    """complete, incomplete (read part of the records) or failed start (read none)."""
    if scan.get("failed_start"):
        return "failed start"
    return "complete" if scan["complete"] else "incomplete"


def scan_list(history: History, instance: str | None = None) -> list[dict[str, Any]]:
    """Every scan (of `instance` when given, through whatever URL), oldest first, with its
    totals."""
    listed = []
    scans = history.scans()
    for scan in of_instance(scans, instance) if instance else scans:
        totals = history.totals(scan["id"])
        listed.append({
            "id": scan["id"], "instance": scan["instance"], "instance_id": instance_key(scan),
            "source": scan["source"],
            "started_at": scan["started_at"], "finished_at": scan["finished_at"],
            "as_of": scan["as_of"], "state": state_of(scan), "complete": bool(scan["complete"]),
            "incremental": bool(scan["incremental"]), "error": scan["error"],
            "evaluated": totals["evaluated"], "failed": totals["failed"],
            "errors": totals["errors"], "unknown": totals["unknown"], "waived": totals["waived"],
        })
    return listed


def render_scans(listed: Sequence[dict[str, Any]], instance: str | None = None) -> list[str]:
    if not listed:
        return ["No scans" + (f" of {instance}" if instance else "") + " in this history store."]
    out = [f"{'id':>5}  {'started (UTC)':<16}  {'as of':<16}  {'state':<12}  {'kind':<11}  "
           f"{'evaluated':>9}  {'failed':>7}  {'unknown':>7}  instance"]
    for s in listed:
        kind = "incremental" if s["incremental"] else "full"
        out.append(f"{s['id']:>5}  {_minute(s['started_at']):<16}  {_minute(s['as_of']):<16}  "
                   f"{s['state']:<12}  {kind:<11}  {s['evaluated']:>9,}  {s['failed']:>7,}  "
                   f"{s['unknown']:>7,}  {s['instance'] or '(none)'}")
        if s["error"]:
            out.append(f"{'':>7}{s['error']}")
    return out


def _minute(stamp: str | None) -> str:
    return (stamp or "")[:16].replace("T", " ")
