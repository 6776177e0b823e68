"""The history store (SQLite): scans, per-rule counts, findings, watermarks, tasks."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sms_conformance.connectors.base import TaskRef
from sms_conformance.model.counts import NAMES as COUNT_NAMES
from sms_conformance.model.counts import RuleLine
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.findings import fingerprint, legacy_fingerprint, record_fingerprint
from sms_conformance.model.rows import FindingRow, TaskSubject
from sms_conformance.store.provenance import Provenance

SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
  id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, platform TEXT,
  instance TEXT, source TEXT, as_of TEXT, complete INTEGER NOT NULL DEFAULT 0,
  incremental INTEGER NOT NULL DEFAULT 0, notices TEXT NOT NULL DEFAULT '[]', error TEXT,
  tool_version TEXT, filters TEXT NOT NULL DEFAULT '{}', rules_digest TEXT, config_digest TEXT,
  failed_start INTEGER NOT NULL DEFAULT 0, instance_id TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rule_counts (
  scan_id INTEGER NOT NULL, rule_id TEXT NOT NULL, clause TEXT, process TEXT, severity TEXT,
  title TEXT, evaluated INTEGER, passed INTEGER, failed INTEGER, errors INTEGER, waived INTEGER,
  unknown INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (scan_id, rule_id)
);
CREATE TABLE IF NOT EXISTS field_presence (
  scan_id INTEGER NOT NULL, process TEXT NOT NULL, field TEXT NOT NULL,
  PRIMARY KEY (scan_id, process, field)
);
CREATE TABLE IF NOT EXISTS unavailable (
  scan_id INTEGER NOT NULL, process TEXT NOT NULL, field TEXT NOT NULL, reason TEXT,
  records INTEGER, rules TEXT, PRIMARY KEY (scan_id, process, field)
);
CREATE TABLE IF NOT EXISTS findings (
  scan_id INTEGER NOT NULL, fingerprint TEXT NOT NULL, rule_id TEXT, clause TEXT,
  severity TEXT, process TEXT, tbl TEXT, record_id TEXT, number TEXT, url TEXT, message TEXT,
  status TEXT, detail TEXT, observed TEXT, owner TEXT, owner_id TEXT,
  PRIMARY KEY (scan_id, fingerprint)
);
CREATE TABLE IF NOT EXISTS finding_seen (
  fingerprint TEXT PRIMARY KEY, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS watermarks (
  instance TEXT NOT NULL, tbl TEXT NOT NULL, updated_since TEXT NOT NULL,
  PRIMARY KEY (instance, tbl)
);
CREATE TABLE IF NOT EXISTS tasks (
  fingerprint TEXT NOT NULL, tbl TEXT NOT NULL, task_id TEXT NOT NULL, number TEXT,
  state TEXT NOT NULL, owner TEXT, rule_id TEXT, clause TEXT, record_number TEXT,
  instance TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, closed_at TEXT,
  kind TEXT NOT NULL DEFAULT 'finding',
  PRIMARY KEY (tbl, task_id)
);
CREATE INDEX IF NOT EXISTS tasks_fingerprint ON tasks (fingerprint);
CREATE TABLE IF NOT EXISTS process_metrics (
  scan_id INTEGER NOT NULL, process TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (scan_id, process)
);
CREATE TABLE IF NOT EXISTS names (
  instance TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
  PRIMARY KEY (instance, kind, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS table_reads (
  scan_id INTEGER NOT NULL, process TEXT NOT NULL, scope TEXT NOT NULL, records INTEGER NOT NULL,
  PRIMARY KEY (scan_id, process)
);
CREATE TABLE IF NOT EXISTS scanned (
  scan_id INTEGER NOT NULL, seq INTEGER NOT NULL, process TEXT NOT NULL, record_id TEXT NOT NULL,
  number TEXT, priority INTEGER, service TEXT, updated INTEGER,
  PRIMARY KEY (scan_id, seq)
) WITHOUT ROWID;
"""

FINDING_COLUMNS = (
    "fingerprint", "rule_id", "clause", "severity", "process", "tbl", "record_id", "number",
    "url", "message", "status", "detail", "observed", "owner", "owner_id",
)


def _pack_id(value: str | None) -> str | bytes | None:
    """A sys_id (32 lowercase hex digits) as its 16 bytes; any other id as it is."""
    if value is None or len(value) != 32:
        return value
    try:
        packed = bytes.fromhex(value)
    except ValueError:
        return value
    return packed if packed.hex() == value else value


def _unpack_id(value: str | bytes | None) -> str | None:
    return value.hex() if isinstance(value, bytes) else value


def instance_key(scan: Mapping[str, Any]) -> str:
    """What a stored scan's instance is known by: its identity, or (a scan of a release before
    identities, not claimed since) its URL. Trends, metrics and task status group by it."""
    return str(scan.get("instance_id") or scan.get("instance") or "")


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


# Columns added since 0.1, with their definitions: stores written earlier get them on opening.
_ADDED = {("rule_counts", "unknown"): "INTEGER NOT NULL DEFAULT 0",
          ("tasks", "kind"): "TEXT NOT NULL DEFAULT 'finding'",
          ("scans", "tool_version"): "TEXT",
          ("scans", "filters"): "TEXT NOT NULL DEFAULT '{}'",
          ("scans", "rules_digest"): "TEXT",
          ("scans", "config_digest"): "TEXT",
          # 1: the run read no record (login refused, instance unreachable): no evidence
          ("scans", "failed_start"): "INTEGER NOT NULL DEFAULT 0",
          ("scans", "instance_id"): "TEXT"}

# Columns renamed since 0.1 (old name -> new name): platform-neutral names for record and task ids.
_RENAMED = {("findings", "sys_id"): "record_id", ("tasks", "sys_id"): "task_id"}


def _migrate(db: sqlite3.Connection) -> None:
    for (table, old), new in _RENAMED.items():
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if old in columns and new not in columns:
            db.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
            db.commit()
    for (table, column), definition in _ADDED.items():
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            db.commit()
    done = db.execute("SELECT value FROM meta WHERE key='fingerprints'").fetchone()
    if done is None:
        _rename_fingerprints(db)
        db.execute("INSERT INTO meta VALUES ('fingerprints', 'identity')")
        db.commit()


def _rename_fingerprints(db: sqlite3.Connection) -> None:
    """Once per store: findings (and their first-seen dates) and record tasks named by releases
    before instance identity, with the instance URL in the fingerprint, take today's names. The
    URL is the one each scan stored, so every old name is recomputed exactly, and checked."""
    findings: dict[str, str] = {}
    records: dict[str, str] = {}
    rows = db.execute("SELECT DISTINCT f.fingerprint, s.platform, s.instance, f.process, "
                      "f.record_id, f.rule_id FROM findings f JOIN scans s ON s.id = f.scan_id")
    for old, platform, instance, process, record_id, rule_id in rows:
        platform, instance, record_id = platform or "", instance or "", record_id or ""
        if old == legacy_fingerprint(platform, instance, process, record_id, rule_id):
            findings[old] = fingerprint(platform, process, record_id, rule_id)
            records[record_fingerprint(platform, process, record_id, instance)] = (
                record_fingerprint(platform, process, record_id))
    db.executemany("UPDATE OR IGNORE findings SET fingerprint=? WHERE fingerprint=?",
                   [(new, old) for old, new in findings.items()])
    db.executemany(
        "INSERT INTO finding_seen SELECT ?, first_seen, last_seen FROM finding_seen "
        "WHERE fingerprint=? ON CONFLICT(fingerprint) DO UPDATE SET "
        "first_seen=min(first_seen, excluded.first_seen), last_seen=max(last_seen, excluded.last_seen)",
        [(new, old) for old, new in findings.items()])
    db.executemany("DELETE FROM finding_seen WHERE fingerprint=?", [(old,) for old in findings])
    db.executemany("UPDATE tasks SET fingerprint=? WHERE fingerprint=?",
                   [(new, old) for old, new in {**findings, **records}.items()])


class _Connection(sqlite3.Connection):
    """A connection whose errors (a damaged file, a read-only one) become one line naming the
    store and what to do about it, whenever SQLite meets them."""

    def __init__(self, database: str | Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.path = Path(database)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        with self.guard():
            return self.cursor(_Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        with self.guard():
            return super().executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        with self.guard():
            return super().executescript(script)

    def commit(self) -> None:
        with self.guard():
            super().commit()

    @contextmanager
    def guard(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None


class _Cursor(sqlite3.Cursor):
    """Rows read lazily can meet a damaged page too."""

    connection: _Connection

    def __next__(self) -> Any:
        with self.connection.guard():
            return super().__next__()

    def fetchone(self) -> Any:
        with self.connection.guard():
            return super().fetchone()

    def fetchall(self) -> list[Any]:
        with self.connection.guard():
            return super().fetchall()


def store_error(path: Path, exc: Exception) -> ConfigError:
    """What went wrong with the history store at `path`, and what the user can do."""
    text = str(exc)
    if isinstance(exc, PermissionError) or "readonly" in text or "unable to open" in text:
        todo = "make the file and its directory writable by this user, or pass --history PATH"
    elif "locked" in text:
        todo = "another run is using it: try again once it has finished"
    elif isinstance(exc, sqlite3.DatabaseError):
        todo = _MOVE_ASIDE
    else:
        todo = "pass --history PATH to use another store"
    return ConfigError(f"{path}: history store: {text}: {todo}")


_MOVE_ASIDE = ("it is not a history store this version can use: move it aside (the next scan "
               "starts a new one) or pass --history PATH")


def _columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {t: {row[1] for row in db.execute(f"PRAGMA table_info('{t}')")} for t in tables}


def _open(path: Path, db: _Connection, read_only: bool = False) -> None:
    """Checks by reading first, so a file that is not ours is left as it was; then prepares it
    (unless `read_only`: reports read a store as it is, also one on a read-only mount)."""
    have = _columns(db)  # a file that is not SQLite, or is damaged, fails here
    with closing(sqlite3.connect(":memory:")) as blank:
        blank.executescript(SCHEMA)
        want = _columns(blank)
    for table, column in _ADDED:  # _migrate adds them to older stores
        want[table].discard(column)
    for (table, old), new in _RENAMED.items():  # and renames these
        if table in have and old in have[table]:
            want[table] = want[table] - {new} | {old}
    for table, columns in want.items():
        if table in have and not columns <= have[table]:
            missing = ", ".join(sorted(columns - have[table]))
            raise ConfigError(f"{path}: history store: table {table} lacks {missing}: {_MOVE_ASIDE}")
    if read_only:
        return
    # WAL: a scan commits every few hundred findings without waiting on a full fsync
    # each time; a crash loses at most the last commits, never the file.
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    _migrate(db)
    # A read-only file (or one on a read-only mount) fails here rather than halfway through a
    # scan: BEGIN alone succeeds on it, a write statement does not (this one changes no row).
    db.execute("BEGIN IMMEDIATE")
    db.execute("DELETE FROM watermarks WHERE 0")
    db.rollback()


def _read_only(path: Path) -> _Connection:
    """A connection that cannot write. A store in WAL mode needs its -shm file to be read; where
    that cannot be made (a read-only mount, another user's directory), the file is read as
    immutable: what it holds at this moment, no run being able to write to it from here."""
    uri = path.resolve().as_uri()
    failure: ConfigError | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(f"{uri}?{query}", uri=True, timeout=30, check_same_thread=False,
                             factory=_Connection)
        db.path = path  # errors name the file, not the URI
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except ConfigError as exc:  # the guard's form of sqlite3.Error
            db.close()
            failure = failure or exc
    assert failure is not None
    raise failure


class History:
    """One SQLite file; every write of a scan goes through here."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: for reports, which read a store without writing to it (it may sit on a
        read-only mount, or belong to another user)."""
        try:
            if read_only:
                db = _read_only(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(path, timeout=30, check_same_thread=False,
                                     factory=_Connection)
        except (OSError, sqlite3.Error) as exc:
            raise store_error(path, exc) from None
        db.path = path  # errors name the file, not the URI
        try:
            _open(path, db, read_only)
        except ConfigError:
            db.close()
            raise
        self.db = db
        self.path = path
        self._scanned_seq: dict[int, int] = {}  # scan id -> next sequence number of `scanned`

    @classmethod
    def for_reading(cls, path: Path) -> History:
        """The store for a report: opened as a scan opens it (an older store is migrated), or
        read-only where it cannot be written (a read-only mount, another user's file)."""
        try:
            return cls(path)
        except ConfigError as exc:
            try:
                return cls(path, read_only=True)
            except ConfigError:
                raise exc from None

    def close(self) -> None:
        self.db.close()

    # scans -------------------------------------------------------------------------------
    def start_scan(self, *, platform: str, instance: str, source: str, as_of: datetime,
                   started: datetime, incremental: bool, instance_id: str | None = None) -> int:
        """`instance`: the URL the scan went through; `instance_id`: the instance's identity
        (identity.Identity.key), what later scans of it find it by."""
        cur = self.db.execute(
            "INSERT INTO scans (started_at, platform, instance, source, as_of, incremental,"
            " instance_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (iso(started), platform, instance, source, iso(as_of), int(incremental),
             instance_id or instance),
        )
        self.db.commit()
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_scan(self, scan_id: int, *, finished: datetime, complete: bool,
                    notices: list[str], error: str | None, failed_start: bool = False) -> None:
        self.db.execute(
            "UPDATE scans SET finished_at=?, complete=?, notices=?, error=?, failed_start=? "
            "WHERE id=?",
            (iso(finished), int(complete), json.dumps(notices), error, int(failed_start),
             scan_id),
        )
        self.db.commit()

    def record_failed_start(self, *, platform: str, instance: str, source: str, as_of: datetime,
                            error: str) -> int:
        """A run refused before it read anything (a preflight, the task tables): stored as a
        failed start, with its error and no counts."""
        now = datetime.now(timezone.utc)
        scan_id = self.start_scan(platform=platform, instance=instance, source=source,
                                  as_of=as_of, started=now, incremental=False)
        self.finish_scan(scan_id, finished=now, complete=False, notices=[], error=error,
                         failed_start=True)
        return scan_id

    def verify(self) -> None:
        """Writes the scan's pages from the write-ahead log into the file itself, which fails
        (ConfigError naming the store) when the file was truncated or replaced under a running
        scan: commits into the log alone would have looked fine, and the scan exited 0."""
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def save_provenance(self, scan_id: int, provenance: Provenance) -> None:
        """What produced the scan (tool version, filters, rule pack and config digests), so
        that a report rendered from it later says so too."""
        self.db.execute(
            "UPDATE scans SET tool_version=?, filters=?, rules_digest=?, config_digest=? WHERE id=?",
            (provenance.tool_version, json.dumps(provenance.filters, sort_keys=True),
             provenance.rules_digest, provenance.config_digest, scan_id),
        )
        self.db.commit()

    def scan(self, scan_id: int | None = None) -> dict[str, Any] | None:
        query = "SELECT * FROM scans " + ("WHERE id=?" if scan_id is not None else "ORDER BY id DESC LIMIT 1")
        cur = self.db.execute(query, (scan_id,) if scan_id is not None else ())
        row = cur.fetchone()
        if row is None:
            return None
        data = dict(zip([c[0] for c in cur.description], row, strict=False))
        data["notices"] = json.loads(data["notices"])
        data["filters"] = json.loads(data["filters"] or "{}")
        return data

    def scan_ids(self) -> list[int]:
        return [row[0] for row in self.db.execute("SELECT id FROM scans ORDER BY id")]

    def scans(self, since: datetime | None = None, *,
              failed_starts: bool = True) -> list[dict[str, Any]]:
        """Every scan of records as of `since` or later (all when None), oldest first; without
        the runs that read nothing when `failed_starts` is False."""
        cur = self.db.execute("SELECT id FROM scans WHERE as_of >= ?"
                              + ("" if failed_starts else " AND failed_start=0") + " ORDER BY id",
                              (iso(since) if since else "",))
        return [scan for (scan_id,) in cur.fetchall() if (scan := self.scan(scan_id))]

    def totals(self, scan_id: int) -> dict[str, int]:
        """The scan's results summed over its rules: evaluated, passed, failed, errors,
        waived, unknown."""
        names = ("evaluated", "passed", "failed", "errors", "waived", "unknown")
        row = self.db.execute(
            f"SELECT {', '.join(f'COALESCE(SUM({n}), 0)' for n in names)} FROM rule_counts "
            "WHERE scan_id=?", (scan_id,)).fetchone()
        return dict(zip(names, (int(v) for v in row), strict=True))

    # results -----------------------------------------------------------------------------
    def add_findings(self, scan_id: int, rows: Iterable[FindingRow], seen_at: datetime) -> None:
        rows = list(rows)
        when = iso(seen_at)
        self.db.executemany(
            f"INSERT OR REPLACE INTO findings (scan_id, {', '.join(FINDING_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' * len(FINDING_COLUMNS))})",
            [(scan_id, r.fingerprint, r.rule_id, r.clause, r.severity, r.process, r.table,
              r.record_id, r.number, r.url, r.message, r.status, r.detail, json.dumps(r.observed),
              r.owner, r.owner_id) for r in rows],
        )
        self.db.executemany(
            "INSERT INTO finding_seen VALUES (?, ?, ?) "
            "ON CONFLICT(fingerprint) DO UPDATE SET last_seen=excluded.last_seen",
            [(r.fingerprint, when, when) for r in rows],
        )

    def add_scanned(self, scan_id: int, rows: Iterable[tuple[Any, ...]]) -> None:
        """Records a scan evaluated: (process, record id, number, priority, service id, updated
        as epoch seconds), so that records that passed can be sampled too. Ids of 32 hex
        digits (sys_ids) are kept as 16 bytes: about 70 bytes a record in all. Keyed by the
        order of evaluation, so rows are appended, never inserted into the middle of the tree."""
        rows = list(rows)
        first = self._scanned_seq.get(scan_id, 0)
        self._scanned_seq[scan_id] = first + len(rows)
        self.db.executemany(
            "INSERT INTO scanned VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(scan_id, first + n, p, _pack_id(i), num, prio, _pack_id(svc), upd)
             for n, (p, i, num, prio, svc, upd) in enumerate(rows)])

    def scanned(self, scan_id: int) -> Iterator[tuple[Any, ...]]:
        """(process, record id, number, priority, service, updated) of a scan's records."""
        for p, i, n, prio, svc, upd in self.db.execute(
                "SELECT process, record_id, number, priority, service, updated FROM scanned "
                "WHERE scan_id=?", (scan_id,)):
            yield p, _unpack_id(i), n, prio, _unpack_id(svc), upd

    def has_scanned(self, scan_id: int) -> bool:
        """Whether the scan stored the records it evaluated (`sample` draws from them)."""
        return self.db.execute("SELECT 1 FROM scanned WHERE scan_id=? LIMIT 1",
                               (scan_id,)).fetchone() is not None

    def commit(self) -> None:
        self.db.commit()

    def save_counts(self, scan_id: int, lines: Iterable[RuleLine]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO rule_counts (scan_id, rule_id, clause, process, severity, "
            "title, evaluated, passed, failed, errors, waived, unknown) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(scan_id, x.rule_id, x.clause, x.process, x.severity, x.title,
              *(getattr(x, name) for name in COUNT_NAMES)) for x in lines],
        )
        self.db.commit()

    def mark_unknown(self, scan_id: int, rule_ids: Iterable[str], detail: str) -> None:
        """Findings of rules that read a field taken for hidden: unknown, not fail."""
        self.db.executemany(
            "UPDATE findings SET status='unknown', detail=?, observed='{}' "
            "WHERE scan_id=? AND rule_id=?",
            [(detail, scan_id, rule_id) for rule_id in rule_ids],
        )
        self.db.commit()

    def names(self, instance: str) -> dict[tuple[str, str], str]:
        """(kind, id) -> display name of the groups, people, services and CIs of an instance
        that scans have named (names.py)."""
        cur = self.db.execute("SELECT kind, id, name FROM names WHERE instance=?", (instance,))
        return {(kind, record_id): name for kind, record_id, name in cur}

    def save_names(self, instance: str, names: Mapping[tuple[str, str], str]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO names VALUES (?, ?, ?, ?)",
                            [(instance, k, i, n) for (k, i), n in sorted(names.items())])
        self.db.commit()

    def save_metrics(self, scan_id: int, metrics: dict[str, dict[str, Any]]) -> None:
        """Process metrics of a scan (process_metrics.py), one JSON document per process."""
        self.db.executemany(
            "INSERT OR REPLACE INTO process_metrics VALUES (?, ?, ?)",
            [(scan_id, process, json.dumps(data)) for process, data in metrics.items()],
        )
        self.db.commit()

    def save_read(self, scan_id: int, process: str, scope: str, records: int) -> None:
        """How many records a whole read of `process` in `scope` (a digest) returned."""
        self.db.execute("INSERT OR REPLACE INTO table_reads VALUES (?, ?, ?, ?)",
                        (scan_id, process, scope, records))
        self.db.commit()

    def last_read(self, identity: str, process: str, scope: str,
                  before: int) -> tuple[int, int] | None:
        """(scan id, records) of the last complete scan of the instance `identity` before
        `before` that read `process` whole in the same scope."""
        row = self.db.execute(
            "SELECT s.id, r.records FROM table_reads r JOIN scans s ON s.id = r.scan_id"
            " WHERE s.instance_id = ? AND s.complete = 1 AND r.process = ? AND r.scope = ?"
            " AND s.id < ? ORDER BY s.id DESC LIMIT 1", (identity, process, scope, before),
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def metrics(self, scan_id: int) -> dict[str, dict[str, Any]]:
        cur = self.db.execute(
            "SELECT process, data FROM process_metrics WHERE scan_id=? ORDER BY process", (scan_id,))
        return {process: json.loads(data) for process, data in cur}

    # what the source provided -----------------------------------------------------------
    def save_presence(self, scan_id: int, nonempty: dict[str, set[str]]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO field_presence VALUES (?, ?, ?)",
            [(scan_id, p, f) for p, names in nonempty.items() for f in sorted(names)],
        )
        self.db.commit()

    def nonempty_fields(self, instance: str, before: int) -> dict[str, set[str]]:
        """Per process, the fields non-empty in the last complete scan of `instance` that read
        the process (scans before `before`)."""
        found: dict[str, set[str]] = {}
        rows = self.db.execute(
            "SELECT p.process, p.field FROM field_presence p WHERE p.scan_id = ("
            " SELECT MAX(s.id) FROM scans s JOIN field_presence q ON q.scan_id = s.id"
            " WHERE s.instance_id=? AND s.complete=1 AND s.id<? AND q.process=p.process)",
            (instance, before),
        )
        for process, name in rows:
            found.setdefault(process, set()).add(name)
        return found

    def save_unavailable(self, scan_id: int, gaps: Iterable[Any]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO unavailable VALUES (?, ?, ?, ?, ?, ?)",
            [(scan_id, g.process, g.field, g.reason, g.records, json.dumps(sorted(g.rules)))
             for g in gaps],
        )
        self.db.commit()

    def unavailable(self, scan_id: int) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT process, field, reason, records, rules FROM unavailable WHERE scan_id=? "
            "ORDER BY process, field", (scan_id,),
        )
        return [{"process": p, "field": f, "reason": r, "records": n, "rules": json.loads(rules)}
                for p, f, r, n, rules in cur]

    def counts(self, scan_id: int) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT * FROM rule_counts WHERE scan_id=? ORDER BY clause, rule_id", (scan_id,)
        )
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=False)) for row in cur]

    def findings(self, scan_id: int, limit: int | None = None,
                 statuses: tuple[str, ...] | None = None,
                 by_severity: bool = False) -> Iterator[FindingRow]:
        """By clause, rule and number; `by_severity`: most severe first, failures before errors
        and waived ones (the console shows the first few)."""
        only = f" AND f.status IN ({', '.join('?' * len(statuses))})" if statuses else ""
        first = ("CASE f.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 "
                 "WHEN 'low' THEN 3 ELSE 4 END, CASE f.status WHEN 'fail' THEN 0 WHEN 'error' "
                 "THEN 1 ELSE 2 END, " if by_severity else "")
        cur = self.db.execute(
            f"SELECT {', '.join('f.' + c for c in FINDING_COLUMNS)}, s.first_seen "
            f"FROM findings f LEFT JOIN finding_seen s USING (fingerprint) WHERE f.scan_id=?{only} "
            f"ORDER BY {first}f.clause, f.rule_id, f.number"
            + (f" LIMIT {int(limit)}" if limit else ""),
            (scan_id, *(statuses or ())),
        )
        for row in cur:
            values = list(row)
            values[12] = json.loads(values[12] or "{}")
            yield FindingRow(*values)

    # tasks -------------------------------------------------------------------------------
    def record_task(self, task: TaskRef, subject: TaskSubject, instance: str,
                    now: datetime) -> None:
        self.db.execute(
            "INSERT INTO tasks (fingerprint, tbl, task_id, number, state, owner, rule_id, clause,"
            " record_number, instance, created_at, updated_at, kind)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(tbl, task_id) DO UPDATE SET updated_at=excluded.updated_at,"
            " owner=excluded.owner, rule_id=excluded.rule_id, state='open',"
            " fingerprint=excluded.fingerprint, instance=excluded.instance",
            (task.fingerprint, task.where, task.id, task.number, "open", subject.owner,
             subject.rule_id, subject.clause, subject.label, instance, iso(now), iso(now),
             subject.kind),
        )
        self.db.commit()

    def close_task(self, task: TaskRef, now: datetime) -> None:
        self.db.execute(
            "UPDATE tasks SET state='closed', closed_at=?, updated_at=? WHERE tbl=? AND task_id=?",
            (iso(now), iso(now), task.where, task.id),
        )
        self.db.commit()

    def forget_open_tasks(self, instance: str, now: datetime) -> int:
        """Marks the open tasks of `instance` closed: for a sandbox started afresh, which holds
        none of them. Returns how many."""
        cur = self.db.execute(
            "UPDATE tasks SET state='closed', closed_at=?, updated_at=? WHERE state='open' "
            "AND instance=?", (iso(now), iso(now), instance))
        self.db.commit()
        return cur.rowcount

    def tasks(self, state: str = "open") -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT * FROM tasks WHERE state=? ORDER BY owner, created_at", (state,)
        )
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=False)) for row in cur]

    # watermarks --------------------------------------------------------------------------
    def watermark(self, instance: str, table: str) -> datetime | None:
        row = self.db.execute(
            "SELECT updated_since FROM watermarks WHERE instance=? AND tbl=?", (instance, table)
        ).fetchone()
        return parse_iso(row[0]) if row else None

    def claim(self, identity: str, urls: Sequence[str], stand_ins: Sequence[str] = ()) -> None:
        """History kept under a URL of `urls` (before identities) or a stand-in key (while the
        platform did not say) becomes `identity`'s: its scans (hidden-field baselines, trends),
        watermarks and tasks. A watermark the identity has already wins over the URL's."""
        if not urls:
            return
        marks = ", ".join("?" * len(urls))
        by_url = f"lower(rtrim(instance, '/')) IN ({marks})"
        others = [k for k in stand_ins if k != identity]
        self.db.execute(f"UPDATE scans SET instance_id=? WHERE (instance_id IS NULL OR "
                        f"instance_id=instance) AND {by_url}", (identity, *urls))
        if others:
            keys = ", ".join("?" * len(others))
            self.db.execute(f"UPDATE scans SET instance_id=? WHERE instance_id IN ({keys})",
                            (identity, *others))
            self.db.execute(f"UPDATE OR IGNORE watermarks SET instance=? WHERE instance IN "
                            f"({keys})", (identity, *others))
            self.db.execute(f"DELETE FROM watermarks WHERE instance IN ({keys})", tuple(others))
            self.db.execute(f"UPDATE tasks SET instance=? WHERE instance IN ({keys})",
                            (identity, *others))
        self.db.execute(f"UPDATE OR IGNORE watermarks SET instance=? WHERE {by_url}",
                        (identity, *urls))
        self.db.execute(f"DELETE FROM watermarks WHERE {by_url}", tuple(urls))
        self.db.execute(f"UPDATE tasks SET instance=? WHERE {by_url}", (identity, *urls))
        self.db.commit()

    def set_watermark(self, instance: str, table: str, since: datetime) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO watermarks VALUES (?, ?, ?)", (instance, table, iso(since))
        )
        self.db.commit()
