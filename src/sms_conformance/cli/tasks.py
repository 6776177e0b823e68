"""`sms-conformance tasks list`: open remediation work by owner and age."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import click

from sms_conformance.config import default_history_path
from sms_conformance.history import History, parse_iso
from sms_conformance.writeback import KINDS, kinds_text


def render_tasks(history: History, now: datetime, per_owner: int | None = None) -> list[str]:
    """Open tasks grouped by owner, largest queue first, split by kind (record tasks,
    corrective actions); `per_owner` caps the lines each."""
    rows = history.tasks("open")
    if not rows:
        return ["No open remediation tasks."]
    by_owner: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_owner[row["owner"] or "(unassigned)"].append(row)
    out = [f"{len(rows)} open remediation tasks ({split(rows)}), by owner:"]
    for owner, items in sorted(by_owner.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append(f"\n{owner} ({len(items)}: {split(items)})")
        for row in sorted(items, key=lambda r: (list(KINDS).index(r["kind"]), r["created_at"]))[:per_owner]:
            age = (now - parse_iso(row["created_at"])).days
            out.append(f"  {row['number']:<14} {age:>4}d  {row['clause']:<6} {row['record_number']:<12}"
                       f" {row['rule_id']}")
        if per_owner is not None and len(items) > per_owner:
            out.append(f"  ... and {len(items) - per_owner} more")
    return out


def split(rows: list[dict[str, str]]) -> str:
    return kinds_text(Counter(row["kind"] for row in rows))


@click.group()
def tasks() -> None:
    """Remediation tasks written back to the platform."""


@tasks.command("list")
@click.option("--history", "history_path", type=click.Path(path_type=Path),
              help="History store (default $SMS_CONFORMANCE_HISTORY or ~/.local/state).")
def list_tasks(history_path: Path | None) -> None:
    """Open remediation tasks by owner, with their age in days."""
    history = History(history_path or default_history_path())
    click.echo("\n".join(render_tasks(history, datetime.now(timezone.utc))))
