"""The one use case of `scan` and `demo`: with the instance's identity held, read its records,
evaluate them, store the findings and their provenance, report, and write back. The commands
gather their options and call `run_scan`; what differs between them is what they pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any, cast

from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.capabilities import Reads, priority_lookup_of
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.identity import Identity, Told, resolve_identity
from sms_conformance.model.schema import PlatformMap
from sms_conformance.rules.matrices import Lookup, as_table, uses_lookup
from sms_conformance.rules.matrices import apply as apply_matrix
from sms_conformance.rules.model import Rule
from sms_conformance.scan.scanner import Scanner, ScanOptions, ScanOutcome, fetch_scopes
from sms_conformance.store.history import History
from sms_conformance.store.lock import writer_lock
from sms_conformance.store.provenance import Provenance, config_digest, rules_digest
from sms_conformance.writeback.run import WriteBack


class StartReads:
    """The reads a scan makes before its first page, side by side: at most as many at once as
    the source takes (`reads_at_once`: one after another for one stream), in the order given.
    Each answer, or the error its read raised, goes to the step that asks for it by name, at
    the point that step always read it; a read nobody asks for is waited for at the end."""

    def __init__(self, conn: Reads, reads: Mapping[str, Callable[[], object]]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, min(len(reads), conn.reads_at_once())),
                                        thread_name_prefix="start-read")
        self._answers: dict[str, Future[object]] = {
            name: self._pool.submit(read) for name, read in reads.items()}

    def __contains__(self, name: str) -> bool:
        return name in self._answers

    def answer(self, name: str) -> object:
        """What the read `name` returned (waiting for it); its own error raised."""
        return self._answers[name].result()

    def identity(self) -> Told | None:
        return cast("Told | None", self.answer(IDENTITY))

    def priority_lookup(self) -> Lookup:
        return cast(Lookup, self.answer(PRIORITY_LOOKUP))

    def close(self) -> None:
        """Reads not started yet are dropped, those in flight waited for (an earlier step
        failed, and its error is the news)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


IDENTITY, PRIORITY_LOOKUP, START_UP = "identity", "priority lookup", "start-up"


@contextmanager
def start_reads(conn: Reads, rules: Sequence[Rule]) -> Iterator[StartReads]:
    """The start reads of a scan of `rules` begun: the instance's identity (held_identity
    takes it), its priority lookup when a rule follows it (run_scan's priority_matrix), and
    the connector's own start-up (run_scan waits for it before the first page). A read of
    another step joins by name here and is taken with `answer(name)`."""
    reads: dict[str, Callable[[], object]] = {IDENTITY: conn.identify}
    reader = priority_lookup_of(conn)
    if reader is not None and uses_lookup(rules):
        reads[PRIORITY_LOOKUP] = reader.priority_lookup
    reads[START_UP] = partial(conn.start_up, fetch_scopes(rules))
    starting = StartReads(conn, reads)
    try:
        yield starting
    finally:
        starting.close()


@dataclass
class ScanRun:
    """What one run reads and how: the source (opened), its identity (held), the rules and the
    settings, the options of the scan, and the options that chose what was read (stored as
    provenance)."""

    connector: Reads
    identity: Identity
    rules: list[Rule]
    settings: Mapping[str, Any]
    fieldmap: PlatformMap
    options: ScanOptions
    filters: Mapping[str, Any] = field(default_factory=dict)
    # Write-back, prepared for the rules as the run chose them (their matrix decided)
    write_back: Callable[[Sequence[Rule]], WriteBack] | None = None
    watermarks: str = ""  # the watermarks the scan reads from and moves ("write-back" or "")
    starting: StartReads | None = None  # the start reads begun (start_reads); None: read here


@dataclass
class ScanDone:
    scanner: Scanner
    outcome: ScanOutcome
    write_back: WriteBack | None


def run_scan(run: ScanRun, history: History,
             report: Callable[[ScanOutcome], None]) -> ScanDone:
    """Scans, stores provenance, then (unless the source failed before giving a record)
    reports and writes back. Tasks are dated by the clock, whatever the scan's moment."""
    run.rules = priority_matrix(run.connector, run.rules, run.settings, run.starting)
    if run.starting is not None:  # done before anything else reads: the source's limit holds
        run.starting.answer(START_UP)
    write_back = run.write_back(run.rules) if run.write_back is not None else None
    if write_back is not None:
        write_back.watch(run.options)
    scanner = Scanner(run.connector, run.rules, history, identity=run.identity.key,
                      watermarks=run.watermarks)
    outcome = scanner.run(run.options, run.fieldmap.where)
    history.save_provenance(outcome.scan_id, Provenance(
        filters=dict(run.filters), rules_digest=rules_digest(run.rules),
        config_digest=config_digest(run.settings, run.fieldmap, run.options.waivers)))
    if outcome.failed_start:  # the error alone: no report of zeros, no write-back
        return ScanDone(scanner, outcome, write_back)
    report(outcome)
    if write_back is not None:
        write_back.run(history, outcome, run.identity.key, datetime.now(timezone.utc))
    return ScanDone(scanner, outcome, write_back)


def priority_matrix(conn: Reads, rules: list[Rule], settings: Mapping[str, Any],
                    starting: StartReads | None = None) -> list[Rule]:
    """The rules with their priority matrix chosen for this scan: the instance's own lookup
    where the source has one and it can be read (once: `starting`'s when begun there), else
    the configured matrix, else the default; a notice says which."""
    reader = priority_lookup_of(conn)
    lookup = None
    if starting is not None and PRIORITY_LOOKUP in starting:
        lookup = starting.priority_lookup()
    elif reader is not None and uses_lookup(rules):
        lookup = reader.priority_lookup()
    rules, notice = apply_matrix(rules, settings, as_table(load_settings()["priority_matrix"]),
                                 lookup)
    if notice:
        conn.notices.append(notice)
    return rules


def export_moment(conn: Reads, options: ScanOptions, as_of: str | None,
                  waivers_at: Callable[[datetime], Waivers],
                  since_at: Callable[[datetime], datetime | None]) -> str | None:
    """Without --as-of, an export directory is evaluated as of when it was taken (an old export
    aged against today fails every open record), said in a notice. Returns how the moment was
    found, None when it stays the given one or today."""
    found = conn.export_moment() if as_of is None else None
    if found is None:
        return None
    now, how = found
    options.now = now
    options.waivers = waivers_at(now)
    options.since = since_at(now)
    conn.notices.append(
        f"evaluated as of {now:%Y-%m-%d %H:%M:%S} UTC, {how}: ages and waivers are the "
        "export's; --as-of now evaluates as of today")
    return f"{now:%Y-%m-%dT%H:%M:%SZ} ({how})"


@contextmanager
def held_identity(history: History, conn: Reads, settings: Mapping[str, Any],
                  wait_seconds: float,
                  waiting: Callable[[str], None] = lambda _: None,
                  starting: StartReads | None = None) -> Iterator[Identity]:
    """The instance's identity (`starting`'s answer when begun there), its one-writer lock
    held (per identity and history store, from before the scan to the last write: every scan
    writes findings and may move watermarks), and history kept under its URLs by earlier
    releases claimed for it."""
    identity = resolve_identity(conn, settings,
                                starting.identity if starting is not None else conn.identify)
    if identity.notice:
        conn.notices.append(identity.notice)
    with writer_lock(history.path, identity.key, wait_seconds, waiting=waiting):
        history.claim(identity.key, identity.urls, identity.stand_ins)
        yield identity
