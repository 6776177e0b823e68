"""`history prune`: drop scans older than a cut-off, with every row that belongs to them.

Kept whatever their age: the latest complete scan of each instance (the baseline for fields
gone blank and for reports), the watermarks and the open tasks. A scan's rows are found by
their `scan_id` column in every table that has one, so tables added later are pruned too.
Closed tasks closed before the cut-off and first-seen dates of findings not seen since it and
held by no kept scan go as well. The file is vacuumed afterwards, so it shrinks on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sms_conformance.model.errors import ConfigError
from sms_conformance.store.history import History, iso
from sms_conformance.support.durations import DurationError, parse_duration


def parse_keep(text: str) -> timedelta:
    """`90d`, `12w` -> the age beyond which scans go."""
    try:
        keep = parse_duration(text) if text.strip()[-1:] in ("d", "w") else timedelta(0)
    except DurationError:
        keep = timedelta(0)
    if keep < timedelta(days=1):
        raise ConfigError(f"--keep {text!r}: expected a number of days or weeks above 0, "
                          "such as 90d or 12w")
    return keep


@dataclass
class Pruned:
    """What a prune removed (or would remove)."""

    cutoff: str
    scans: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows
    kept_latest: list[int] = field(default_factory=list)
    bytes_before: int = 0
    bytes_after: int = 0

    def lines(self, dry_run: bool) -> list[str]:
        verb = "would remove" if dry_run else "removed"
        if not self.scans and not any(self.rows.values()):
            return [f"nothing older than {self.cutoff} to remove"]
        span = f"{len(self.scans)} scans" + (
            f" (ids {self.scans[0]}..{self.scans[-1]})" if self.scans else "")
        parts = ", ".join(f"{n:,} {table}" for table, n in sorted(self.rows.items()) if n)
        out = [f"{verb} {span} started before {self.cutoff}: {parts or 'no rows'}"]
        if self.kept_latest:
            out.append("kept the latest complete scan of each instance: "
                       + ", ".join(str(i) for i in self.kept_latest))
        if not dry_run:
            out.append(f"store {_mb(self.bytes_before)} -> {_mb(self.bytes_after)} after VACUUM")
        return out


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def prune(history: History, keep: timedelta, now: datetime, dry_run: bool) -> Pruned:
    db = history.db
    cutoff = iso(now - keep)
    result = Pruned(cutoff, bytes_before=_size(history.path))
    latest = [row[0] for row in db.execute(
        "SELECT MAX(id) FROM scans WHERE complete=1 GROUP BY instance ORDER BY 1")]
    old = [row[0] for row in db.execute(
        "SELECT id FROM scans WHERE started_at < ? ORDER BY id", (cutoff,))]
    result.scans = [i for i in old if i not in latest]
    result.kept_latest = [i for i in old if i in latest]
    tables = [row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND name <> 'scans' ORDER BY name")]
    owned = [t for t in tables
             if "scan_id" in {c[1] for c in db.execute(f"PRAGMA table_info('{t}')")}]
    db.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
    db.execute("DELETE FROM doomed")
    db.executemany("INSERT INTO doomed VALUES (?)", [(i,) for i in result.scans])
    statements = {t: f"FROM '{t}' WHERE scan_id IN (SELECT id FROM doomed)" for t in owned}
    statements["scans"] = "FROM scans WHERE id IN (SELECT id FROM doomed)"
    statements["tasks"] = "FROM tasks WHERE state='closed' AND closed_at < ?"
    # First-seen dates go last: only those of findings no kept scan holds.
    seen = ("FROM finding_seen WHERE last_seen < ? AND fingerprint NOT IN "
            "(SELECT fingerprint FROM findings WHERE scan_id NOT IN (SELECT id FROM doomed))")
    statements["finding_seen"] = seen
    for table, where in statements.items():
        params = (cutoff,) if table in ("tasks", "finding_seen") else ()
        if dry_run:
            result.rows[table] = db.execute(f"SELECT COUNT(*) {where}", params).fetchone()[0]
        else:
            result.rows[table] = db.execute(f"DELETE {where}", params).rowcount
    if dry_run:
        db.rollback()
        return result
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    try:
        db.execute("VACUUM")
    except ConfigError as exc:  # another reader holds the file: the rows are gone all the same
        raise ConfigError(f"pruned, but could not VACUUM: {exc}") from None
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    result.bytes_after = _size(history.path)
    return result
