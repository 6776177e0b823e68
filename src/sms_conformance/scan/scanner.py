"""One scan: connector -> engine -> history store. No HTTP here, no rule logic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache, partial
from typing import Any, Protocol

from sms_conformance.connectors.base import Connector, FetchRequest, Scope
from sms_conformance.engine.availability import Gap, Presence, Unavailable, hidden_fields
from sms_conformance.engine.evaluate import PAGE, RuleSet, Verdict
from sms_conformance.engine.links import LinkResolver
from sms_conformance.engine.results import RuleResult
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.counts import Counts, RuleLine
from sms_conformance.model.errors import SourceError
from sms_conformance.model.findings import Status
from sms_conformance.model.records import Process, Record, Ref
from sms_conformance.model.rows import FindingRow
from sms_conformance.rules.checks import Context, UnknownValue
from sms_conformance.rules.fields import linked_conditions, rule_fields
from sms_conformance.rules.loader import render_message
from sms_conformance.rules.model import Rule
from sms_conformance.scan.metrics import METRIC_FIELDS, MetricSettings, ProcessMetrics
from sms_conformance.scan.names import NameBook, named_services
from sms_conformance.store.history import History
from sms_conformance.support.printable import printable
from sms_conformance.support.readahead import ReadAhead
from sms_conformance.support.strict_yaml import load_shipped

BATCH = 500
MAX_WAITING = 2000  # records held back waiting for a batch of look-ups
# Unknown results are counted in full and summed up per field (see availability.py); only
# this many per rule are stored, so a column missing from a large export stays cheap.
UNKNOWN_EXAMPLES = 50
OWNER_FIELD = "assignment_group"
NAMED_LINKS = ("configuration_item", "service")  # shown by name in findings where known
# Read for the per-scan list of scanned records (strata of `sample`), whether rules read them
# or not; not watched for fields gone blank unless a rule reads them.
STRATA_FIELDS = frozenset({"priority", "service"})
# A record updated while a scan runs may sit behind the keyset cursor: the next
# incremental scan starts this much before this scan started.
WATERMARK_OVERLAP = timedelta(minutes=10)

Progress = Callable[[str, int, int | None], None]


@dataclass
class ScanOutcome:
    scan_id: int
    complete: bool
    counts: dict[str, Counts]
    records: dict[str, int] = field(default_factory=dict)
    lookups: int = 0  # distinct linked records resolved and ids whose referrers were counted
    started: datetime | None = None
    tables: list[str] = field(default_factory=list)  # tables read completely
    notices: list[str] = field(default_factory=list)
    error: str | None = None
    unavailable: Unavailable = field(default_factory=Unavailable)
    blinded: set[str] = field(default_factory=set)  # rules that read a field taken for hidden

    @property
    def failed_start(self) -> bool:
        """The source failed before it gave a single record (login refused, unreachable):
        the run holds no evidence, only its error."""
        return not self.complete and not any(self.records.values())


class RecordObserver(Protocol):
    """Told of each record the scan evaluated, with what every rule of its process said (a
    result, or Verdict.PASSED / OUT_OF_SCOPE): write-back's ScanWatch is one."""

    def evaluated(self, record: Record,
                  verdicts: Sequence[tuple[Rule, RuleResult | Verdict]]) -> None:
        ...


@dataclass
class ScanOptions:
    now: datetime
    waivers: Waivers
    since: datetime | None = None
    incremental: bool = False  # read only what changed since the watermark of the last scan
    source: str = ""
    fields: frozenset[str] = frozenset()  # read beside the rules' (write-back: assignees)
    progress: Progress | None = None
    observer: RecordObserver | None = None  # told of each evaluated record (write-back)
    metrics: MetricSettings | None = None  # targets of the process metrics; None: shipped ones
    # A whole read of a table returning fewer than this share of the records of the last
    # complete scan in the same scope is taken as a failed answer (source.min_record_share).
    min_record_share: float = 0.5


def _finding_row(result: RuleResult, links: LinkResolver) -> FindingRow:
    rule, record = result.rule, result.record
    group = record.get(OWNER_FIELD)
    owner_id = group.id if isinstance(group, Ref) else ""
    try:
        owner_record = links.get(group) if isinstance(group, Ref) and owner_id else None
    except UnknownValue:  # the group table was not read: show the id
        owner_record = None
    owner = str(owner_record.raw.get("name", "")) if owner_record is not None else ""
    if not owner and isinstance(group, Ref):  # the name the source gave beside the id (Jira)
        owner = group.name
    shown = _named_links(rule, record, links)
    if result.status in (Status.UNKNOWN, Status.ERROR):  # never the failure sentence
        message = f"{record.number}: {rule.title}: could not be evaluated ({result.detail})"
    else:
        message = render_message(rule, {**record.fields, **shown, "number": record.number})
    # Record text is stored without escape sequences or control characters: every report and
    # task that shows it, on a terminal or not, gets clean text (printable).
    return FindingRow(
        fingerprint=result.fingerprint, rule_id=rule.id, clause=rule.clause,
        severity=rule.severity.value, process=record.process, table=record.table,
        record_id=record.id, number=printable(record.number), url=record.url,
        message=printable(message), status=result.status.value, detail=printable(result.detail),
        observed={k: shown.get(k, v) for k, v in result.observed.items()},
        owner=printable(owner or owner_id), owner_id=owner_id,
    )


def _followed(rule: Rule) -> tuple[str, ...]:
    """The fields of NAMED_LINKS whose linked records the rule reads."""
    followed = {c.field for c in linked_conditions(rule.check)}
    return tuple(name for name in NAMED_LINKS if name in followed)


def _named_links(rule: Rule, record: Record, links: LinkResolver) -> dict[str, str]:
    """The CI and service a record names, as "name (id)" in the findings of the rules that
    follow them (the 8.2.6 rules, which read the CIs and their names), so those findings never
    show them by id alone; other rules' findings show them as before."""
    shown: dict[str, str] = {}
    for name in _followed(rule):
        ref = record.fields.get(name)
        if isinstance(ref, Ref) and ref.id:
            found = ref.name or links.name_of(ref.kind, ref.id)
            if found:
                shown[name] = printable(f"{found} ({ref.id})")
    return shown


def _scanned_row(record: Record) -> tuple[Any, ...]:
    """(process, id, number, priority, service id, updated epoch): what `sample` draws from."""
    priority, service, updated = (record.fields.get(n) for n in ("priority", "service", "updated_at"))
    return (
        record.process, record.id, record.number,
        priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
        service.id if isinstance(service, Ref) and service.id else None,
        int(updated.timestamp()) if isinstance(updated, datetime) else None,
    )


class Scanner:
    """Runs rules over every process they cover and stores what it finds."""

    def __init__(self, connector: Connector, rules: Sequence[Rule], history: History, *,
                 local_join: bool = True, watermarks: str = "", identity: str = "") -> None:
        self.connector = connector
        # What the history store keys this instance by (identity.Identity.key): watermarks,
        # the hidden-field baseline, the scan row. The URL when the caller has no identity.
        self.identity = identity or connector.instance
        self.rules = list(rules)
        self.history = history
        self.local_join = local_join  # off: every link is looked up (the behaviour it replaced)
        # Whose incremental starting points these are: runs that write back keep their own
        # ("write-back"), so an ad hoc incremental report in between cannot make the next
        # write-back run skip what changed before it.
        self.watermarks = watermarks

    def _mark(self, table: str) -> str:
        return f"{table}@{self.watermarks}" if self.watermarks else table

    def advance_watermarks(self, outcome: ScanOutcome) -> None:
        """Next incremental scans start here. Call only once everything the scan found has been
        acted on (a complete scan with all rules, write-back applied if asked for)."""
        if not outcome.complete or outcome.started is None:
            return
        for table in outcome.tables:
            self.history.set_watermark(
                self.identity, self._mark(table), outcome.started - WATERMARK_OVERLAP
            )

    def processes(self) -> list[Process]:
        return [p for p in Process if any(r.process == p for r in self.rules)]

    def _since(self, process: Process, table: str, options: ScanOptions) -> datetime | None:
        if options.since is not None:
            return options.since
        if not options.incremental:
            return None
        return self.history.watermark(self.identity, self._mark(table))

    def run(self, options: ScanOptions, tables: Callable[[Process], str]) -> ScanOutcome:
        started = datetime.now(timezone.utc)
        scan_id = self.history.start_scan(
            platform=self.connector.platform, instance=self.connector.instance,
            source=options.source, as_of=options.now, started=started,
            incremental=options.incremental or options.since is not None,
            instance_id=self.identity,
        )
        outcome = ScanOutcome(scan_id, True, {r.id: Counts() for r in self.rules},
                              started=started)
        # One resolver for the whole scan: look-ups fill whole batches across tables.
        links = LinkResolver(self.connector, self.rules, extra_refs=(OWNER_FIELD,),
                             local=self.local_join)
        metrics = ProcessMetrics(options.metrics or shipped_metrics(), options.now)
        names = NameBook(self.history.names(self.connector.instance), links.name_of,
                         links.read_without)
        sink = _Sink(self.history, outcome, options, links, self.rules, metrics, names)
        presence = sink.presence
        waiting: list[Record] = []
        readers: dict[Process, tuple[str, FetchRequest, ReadAhead[Record]]] = {}
        try:
            start = None
            for process in self.processes():
                table = tables(process)
                request = self._request(process, table, options)
                reader = ReadAhead(self.connector.fetch(request), start=start)
                readers[process] = (table, request, reader)
                start = partial(_half_read, reader, process, self.connector)
            for index, (table, request, reader) in enumerate(readers.values()):  # in turn
                waiting = self._scan_process(request, reader, outcome, sink, waiting)
                outcome.tables.append(table)
                if index < len(readers) - 1:  # named while the later tables' pages come
                    names.look_up_soon(self.connector)
            links.flush(everything=True)
        except SourceError as exc:
            outcome.complete = False
            outcome.error = printable(str(exc))
        except BaseException as exc:  # a config error met mid-scan, an interrupt: said, not left open
            names.drop()
            self._stopped(scan_id, exc)
            raise
        else:
            unread = self._not_read(outcome, list(readers))
            self._check_shrink(outcome, [request for _, request, _ in readers.values()
                                         if request.process not in unread],
                               options.min_record_share)
            stranded = sink.evaluate_ready(waiting)
            sink.evaluate_page()
            if stranded:  # a defect, never silent: their findings would vanish from the store
                outcome.complete = False
                outcome.error = (
                    f"{len(stranded)} record(s) were read but never evaluated (still waiting for "
                    f"look-ups at the end of the scan): "
                    f"{', '.join(r.number or r.id for r in stranded[:5])}"
                    f"{' ...' if len(stranded) > 5 else ''}")
        finally:
            for *_, reader in readers.values():
                reader.close()
            self.connector.end_reads()
        if not outcome.complete:  # an incomplete scan names nothing: the names started soon end
            names.drop()
        sink.write()
        outcome.lookups = links.lookups
        named = names.look_up(self.connector) if outcome.complete else ""
        self.history.save_names(self.connector.instance, names.learned)
        outcome.notices = [printable(n) for n in (*self.connector.notices,
                                                  *options.waivers.notices(),
                                                  *([named] if named else []))]
        previous = self.history.nonempty_fields(self.identity, before=scan_id)
        hidden = self._blind_hidden(outcome, presence, previous)
        # A field taken for hidden stays the baseline: the next run blinds it again until the
        # field is read non-empty (a lasting ACL must not pass unnoticed on the second run).
        # So does one this scan did not read (--only, or no record): nothing says it went blank.
        nonempty = presence.nonempty()
        for name, fields in hidden.items():
            nonempty.setdefault(name, set()).update(fields)
        for name, fields in previous.items():
            if name in nonempty:
                read = presence.tracked[name] if outcome.records.get(name) else frozenset()
                nonempty[name].update(fields - read)
        self.history.save_presence(scan_id, nonempty)
        self.history.save_unavailable(scan_id, outcome.unavailable.sorted())
        measured = metrics.result()
        named_services(measured, names)
        self.history.save_metrics(scan_id, measured)
        self.history.save_counts(scan_id, (
            RuleLine(rule_id=r.id, clause=r.clause, process=r.process.value,
                     severity=r.severity.value, title=r.title, **outcome.counts[r.id].numbers())
            for r in self.rules))
        self.history.finish_scan(
            scan_id, finished=datetime.now(timezone.utc), complete=outcome.complete,
            notices=outcome.notices, error=outcome.error, failed_start=outcome.failed_start,
        )
        self.history.verify()
        return outcome

    def _not_read(self, outcome: ScanOutcome, processes: Sequence[Process]) -> set[Process]:
        """Processes the source did not read at all (its table forbidden or not exported, a
        work type the site lacks): their rules are unknown for the run (blinded: no task is
        written or closed on them), said with the reason; their tables move no watermark."""
        unread = {p: reason for p in processes if (reason := self.connector.not_read(p))}
        for process, reason in unread.items():
            rules = {r.id for r in self.rules if r.process == process}
            outcome.blinded |= rules
            outcome.unavailable.add(Gap(process.value, "*", f"not read: {reason}", 0, rules))
        outcome.tables = [t for p, t in zip(processes, outcome.tables, strict=True)
                          if p not in unread]
        return set(unread)

    def _check_shrink(self, outcome: ScanOutcome, requests: Sequence[FetchRequest],
                      share: float) -> None:
        """A search that answers nothing is not "no records": a whole read of a table that
        returns far fewer records than the last complete scan in the same scope makes the scan
        incomplete (nothing closed, no watermark moved), saying so."""
        for request in requests:
            if request.since is not None:  # a window reads what changed: no baseline
                continue
            process = request.process.value
            read = outcome.records.get(process, 0)
            scope = _scope_digest(request)
            self.history.save_read(outcome.scan_id, process, scope, read)
            last = self.history.last_read(self.identity, process, scope, outcome.scan_id)
            if last is None:
                continue
            scan_id, before = last
            if read < share * before and before - read >= min(5, before):
                outcome.complete = False
                outcome.error = (
                    f"{process}: {read} records read, far fewer than the {before} of the last "
                    f"complete scan in the same scope (scan {scan_id}): taken as an incomplete "
                    "answer, so nothing is closed and no watermark moved. If they were really "
                    "removed, run once with source.min_record_share: 0 in settings.")
                return

    def _stopped(self, scan_id: int, exc: BaseException) -> None:
        """The scan row of a scan stopped by anything but a source error says so, finished and
        incomplete, instead of staying open with no counts for `report show latest` to show."""
        with suppress(Exception):  # the store may be what failed: the original error is the news
            self.history.finish_scan(
                scan_id, finished=datetime.now(timezone.utc), complete=False,
                notices=list(self.connector.notices),
                error=f"stopped: {str(exc) or type(exc).__name__}")

    def _blind_hidden(self, outcome: ScanOutcome, presence: Presence,
                      previous: dict[str, set[str]]) -> dict[str, set[str]]:
        """A field non-empty in the last complete scan (`previous`) and empty on every record
        now is taken for hidden (a read ACL answers ""): every rule reading it becomes unknown
        this run, so no task is created or closed on what could not be read."""
        hidden = hidden_fields(previous, presence, outcome.records)
        for process, names in sorted(hidden.items()):
            rules = [r for r in self.rules if r.process.value == process and rule_fields(r) & names]
            blinded = {r.id for r in rules}
            outcome.blinded |= blinded
            for name in sorted(names):
                reason = ("empty on every record read, though non-empty in the last complete "
                          "scan: taken for hidden; check the read ACLs of this field for the "
                          "integration user")
                readers = {r.id for r in rules if name in rule_fields(r)}
                outcome.unavailable.add(Gap(process, name, reason, outcome.records[process], readers))
                outcome.notices.append(
                    f"{process}.{name} is {reason}. No task is created or closed for "
                    f"{', '.join(sorted(readers))}.")
            for rule in rules:
                outcome.counts[rule.id].blind()
            self.history.mark_unknown(outcome.scan_id, blinded, "a field this rule reads was taken "
                                      f"for hidden: {', '.join(sorted(names))} (see notices)")
        return hidden

    def _rule_fields(self, process: Process) -> frozenset[str]:
        # updated_at: a link missing from an index pass is looked up when its record changed
        # after the pass began (the target may be newer than the pass).
        return frozenset(set().union(*(rule_fields(r) for r in self.rules if r.process == process))
                         | {OWNER_FIELD, "updated_at"})

    def _request(self, process: Process, table: str, options: ScanOptions) -> FetchRequest:
        scopes = process_scopes(self.rules, process)
        # Fields only the process metrics and the sample's strata read: no rule is blinded by them.
        fields = (self._rule_fields(process) | METRIC_FIELDS.get(process.value, frozenset())
                  | STRATA_FIELDS | options.fields)
        return FetchRequest(process, scopes, fields, self._since(process, table, options))

    def _scan_process(
        self, request: FetchRequest, records: ReadAhead[Record], outcome: ScanOutcome,
        sink: _Sink, waiting: list[Record],
    ) -> list[Record]:
        """Evaluates one table's records; returns the records still waiting for look-ups."""
        process = request.process
        # Fields only the process metrics read are not tracked: no rule is blinded by them.
        sink.presence.start(process.value, self._rule_fields(process))
        metrics = sink.metrics
        metrics.start(process.value, _population(request))
        links = sink.links
        total = self.connector.expected_total
        # Read whole: the referrers of other tables' records can be counted from these pages.
        whole = self.local_join and not request.scopes and request.since is None
        seen = 0
        try:
            for record in records:
                seen += 1
                metrics.observe(record)
                if seen == 1:
                    links.expect(process.value, total(process))
                if whole:
                    links.tally(record)
                if links.register(record):
                    waiting.append(record)
                else:
                    sink.add(record)
                if links.has_full_batch() or len(waiting) >= MAX_WAITING:
                    sink.evaluate_page()  # on the links as they are before the batch
                    # Partial batches only when too many records wait (a table with few distinct
                    # references, such as assignment groups): memory stays bounded.
                    links.flush(everything=len(waiting) >= MAX_WAITING)
                    waiting = sink.evaluate_ready(waiting)
                if sink.options.progress is not None and seen % BATCH == 0:
                    sink.options.progress(process.value, seen, total(process))
        except SourceError as exc:
            sink.evaluate_page()  # what was read before the failure is evaluated, as it came
            raise SourceError(f"{process.value}: {exc}") from exc
        finally:
            outcome.records[process.value] = seen
        sink.evaluate_page()
        if whole:
            links.tallied_all(process.value)
        return waiting


def process_scopes(rules: Sequence[Rule], process: Process) -> tuple[Scope, ...]:
    """The scopes a scan's fetch of `process` asks for: its rules', none (every record) when
    one of them has none."""
    scopes = tuple(r.scope for r in rules if r.process == process)
    return () if any(not s for s in scopes) else scopes


def fetch_scopes(rules: Sequence[Rule]) -> dict[Process, tuple[Scope, ...]]:
    """The scopes of each process a scan of `rules` fetches (for the connector's start-up)."""
    return {p: process_scopes(rules, p) for p in Process if any(r.process == p for r in rules)}


def _scope_digest(request: FetchRequest) -> str:
    """What a whole read of a table covers, as a short digest of the rules' scopes."""
    text = json.dumps(sorted(json.dumps({k: sorted(map(str, v)) for k, v in s.items()},
                                        sort_keys=True) for s in request.scopes))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _population(request: FetchRequest) -> str:
    """What the records read of a table cover, as the process metrics say it."""
    if request.since is not None:
        return f"records updated since {request.since:%Y-%m-%d %H:%M} UTC, not the whole table"
    if request.scopes:
        return "records in the rules' scopes, not the whole table"
    return "all records"


@lru_cache(maxsize=1)
def shipped_metrics() -> MetricSettings:
    """Metric targets of the shipped settings, for scans not given the organisation's."""
    return MetricSettings.from_settings(load_shipped("defaults/settings.yaml").data)


def _half_read(reader: ReadAhead[Record], process: Process, connector: Connector) -> bool:
    """The next table's pages may come once half of this one's has come (a failing read stops
    the scan before the next table is asked for anything)."""
    total = connector.expected_total(process)
    return reader.produced.is_set() or (total is not None and reader.count >= total / 2)


class _Sink:
    """Evaluates records and writes findings to the history store in chunks."""

    def __init__(self, history: History, outcome: ScanOutcome, options: ScanOptions,
                 links: LinkResolver, rules: Sequence[Rule], metrics: ProcessMetrics,
                 names: NameBook) -> None:
        self.history, self.outcome, self.options = history, outcome, options
        self.metrics, self.names = metrics, names
        self.links, self.ctx = links, Context(options.now, links)
        self.rule_set = RuleSet(rules)
        self.rows: list[FindingRow] = []
        self.scanned: list[tuple[Any, ...]] = []
        self.presence = Presence()
        self.page: list[Record] = []  # ready records not yet evaluated

    def add(self, record: Record) -> None:
        """A record ready to evaluate: evaluated with the page it joins (records of one
        process, in the order they came)."""
        if self.page and self.page[0].process != record.process:
            self.evaluate_page()
        self.page.append(record)
        if len(self.page) >= PAGE:
            self.evaluate_page()

    def evaluate_page(self) -> None:
        """Every rule of the page's process over the page, through the engine's RuleSet (the one
        evaluator), counted; results that are not a pass stored in record order; the observer
        told what each rule said of each record; the history written once per page when enough
        has gathered. Called before anything that changes what the links answer (a batch of
        look-ups) and at the end of each table."""
        records, self.page = self.page, []
        if not records:
            return
        for record in records:
            self.scanned.append(_scanned_row(record))
            self.names.note(record)
            self.presence.observe(record)
        judged = self.rule_set.evaluate(records, self.ctx, self.options.waivers)
        counts = self.outcome.counts
        for line in judged.lines:
            rule_counts = counts[line.rule.id]
            rule_counts.evaluated += line.evaluated
            rule_counts.passed += line.passed
        for results in judged.by_record():
            for result in results:
                self._store(result, counts[result.rule.id])
        observer = self.options.observer
        for row, record in enumerate(records):
            if observer is not None:
                observer.evaluated(record, judged.verdicts(row))
            self.links.done(record)
        if len(self.rows) >= BATCH or len(self.scanned) >= 10 * BATCH:
            self.write()

    def _store(self, result: RuleResult, counts: Counts) -> None:
        counts.add(result.status)
        if result.status is Status.UNKNOWN:
            self.outcome.unavailable.note(result)
            if counts.unknown > UNKNOWN_EXAMPLES:  # counted in full, kept as examples only
                return
        self.rows.append(_finding_row(result, self.links))

    def evaluate_ready(self, waiting: list[Record]) -> list[Record]:
        still = []
        for record in waiting:
            if self.links.ready(record):
                self.add(record)
            else:
                still.append(record)
        return still

    def write(self) -> None:
        self.history.add_findings(self.outcome.scan_id, self.rows, self.options.now)
        self.history.add_scanned(self.outcome.scan_id, self.scanned)
        self.history.commit()
        self.rows, self.scanned = [], []
