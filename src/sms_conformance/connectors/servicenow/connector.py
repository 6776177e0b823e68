"""ServiceNowConnector: the Connector protocol over the Table API."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import chain
from typing import Any, ClassVar

from sms_conformance.connectors.base import (
    ConnectorDefaults,
    FetchRequest,
    NotRead,
    Partial,
    Scope,
    TableRows,
    referrers_withheld,
    withheld_reason,
)
from sms_conformance.connectors.capabilities import (
    Doctor,
    Finding,
    LooksUpPriority,
    Reads,
    WritesTasks,
)
from sms_conformance.connectors.http.denied import not_read_on_403
from sms_conformance.connectors.http.errors import HTTPAuthError
from sms_conformance.connectors.parallel import Gate, interleaved
from sms_conformance.connectors.servicenow.client import Page, TableClient
from sms_conformance.connectors.servicenow.doctor import check, task_tables
from sms_conformance.connectors.servicenow.fieldmap import FieldMap, ProcessMap, SlaSource
from sms_conformance.connectors.servicenow.paging import (
    MAX_PAGES,
    KeysetScan,
    PageSource,
    ScanStats,
    text,
)
from sms_conformance.connectors.servicenow.priority_lookup import PRIORITY_LOOKUP
from sms_conformance.connectors.servicenow.query import (
    EVERYTHING,
    check_field,
    compile_scopes,
    condition,
)
from sms_conformance.connectors.servicenow.responses import Json
from sms_conformance.connectors.servicenow.sla_table import SlaTable
from sms_conformance.connectors.servicenow.slas import SharedSlaTable, SlaReader
from sms_conformance.connectors.servicenow.streams import GatedClient, split_after
from sms_conformance.connectors.servicenow.tasks import (
    DEFAULT_TASK_TABLES,
    SOURCE_TABLES,
    SnTask,
    TaskTables,
    batched,
)
from sms_conformance.connectors.servicenow.writeback import (
    ServiceNowTaskPort,
    ServiceNowTaskSettings,
    check_scanned_tables,
    refuse_non_task_tables,
)
from sms_conformance.model.errors import SourceError
from sms_conformance.model.identity import Told
from sms_conformance.model.records import Process, Record, Ref, Value
from sms_conformance.model.schema import process_of_kind
from sms_conformance.model.slas import reads_slas
from sms_conformance.rules.matrices import Lookup, lookup_table
from sms_conformance.rules.model import Rule

_ID = re.compile(r"[A-Za-z0-9_-]+")
# Fields asked of tables outside the field map (cmdb_ci, sys_user ...); unknown ones are ignored.
BARE_FIELDS = ("sys_id", "number", "name")
# ServiceNow's data lookup table behind incident priority (impact x urgency).
# Rows per page of a projected pass (sys_id and a few fields): the Table API's usual maximum.
PROJECTED_PAGE = 10_000
# What every scan is for: an integration user who may not read one of these tables is set up
# wrong, and the scan stops (exit 3) rather than report without it. A later process's table
# (sc_req_item) forbidden leaves that process not read, as Jira leaves a work type the site
# lacks: its rules have no evidence, the others are scanned.
CORE_PROCESSES = frozenset({Process.INCIDENT, Process.PROBLEM, Process.CHANGE})


class ServiceNowConnector(ConnectorDefaults):
    platform = "servicenow"
    capabilities: ClassVar[frozenset[type]] = frozenset(
        {Reads, WritesTasks, Doctor, LooksUpPriority})

    def __init__(
        self,
        instance_url: str,
        client: TableClient,
        fieldmap: FieldMap,
        *,
        page_size: int = 1000,
        ref_batch: int = 100,
        write_tables: frozenset[str] = DEFAULT_TASK_TABLES,
        task_parents: Mapping[str, str] | None = None,
        max_pages: int = MAX_PAGES,
        streams: int = 1,
    ) -> None:
        self.instance = instance_url.rstrip("/")
        self.client = client
        self.fieldmap = fieldmap
        self.page_size = page_size
        self.max_pages = max_pages
        self.ref_batch = ref_batch
        source_tables = SOURCE_TABLES | {pmap.table for pmap in fieldmap.processes.values()}
        client.protected |= source_tables
        self.notices: list[str] = []
        self.tasks_protected = source_tables
        self.tasks = TaskTables(
            client, write_tables, batch=ref_batch, page_size=page_size,
            protected=source_tables, parents=task_parents,
        )
        self.scans: dict[str, list[ScanStats]] = {}
        self._unread: dict[Process, str] = {}  # process -> why its table was not read
        # Parallel key ranges per table read; the gate is lowered on 429/503 for the whole run.
        self.streams = streams
        self.gate = Gate(streams)
        client.on_throttled = self.gate.lower
        self._shared_slas: dict[SlaSource, SharedSlaTable] = {}  # planned by start_up

    def configure_tasks(self, parents: Mapping[str, str],
                        closed_states: Mapping[str, str] | None = None) -> None:
        """Write-back targets from settings: task table -> field naming the source record."""
        self.tasks = TaskTables(
            self.client, frozenset(parents), batch=self.ref_batch, page_size=self.page_size,
            protected=self.tasks_protected, parents=parents, closed_states=closed_states,
        )

    def task_port(self, settings: Mapping[str, Any]) -> ServiceNowTaskPort:
        """Write-back to the task tables `write_back.targets` names, checked first: allowed
        tables, parent fields that reference the scanned tables, custom tables that extend task."""
        config = ServiceNowTaskSettings.from_settings(settings)
        scanned = {p.value: m.table for p, m in self.fieldmap.processes.items()}
        check_scanned_tables(config.target_fields(), scanned)
        custom = {t.table for t in config.targets.values()} & set(config.custom_task_tables)
        if custom:
            self.notices.extend(refuse_non_task_tables(
                custom, lambda tables: task_tables(self, tables)))
        self.configure_tasks({t.table: t.parent_field for t in config.targets.values()},
                             {table: s.closed for table, s in config.states.items()})
        return ServiceNowTaskPort(self.tasks, config, self.instance, scanned)

    def __repr__(self) -> str:
        return f"ServiceNowConnector({self.instance!r})"

    def reads_at_once(self) -> int:
        return self.gate.limit

    def identify(self) -> Told:
        """The instance's own id: the system properties instance_id, else instance_name. A user
        without read access to sys_properties sees a 403 (no role for the table) or no rows
        (withheld by ACL): said in the answer, never raised."""
        try:
            page = self.client.list("sys_properties", {
                "sysparm_query": "nameINinstance_id,instance_name", "sysparm_fields": "name,value",
                "sysparm_limit": "10"})
        except HTTPAuthError as exc:  # a refused login is the scan's to report, as ever
            return Told(None, f"sys_properties may not be read: {exc}")
        values = {row.get("name"): row.get("value") for row in page.rows}
        return Told.first({f"its {n} property": values.get(n) for n in ("instance_id", "instance_name")},
                          "sys_properties instance_id and instance_name were not returned: "
                          "withheld from this user")

    def priority_lookup(self) -> Lookup:
        """The instance's priority lookup (dl_u_priority: impact x urgency -> priority), the
        one its incident form applies. A user who may not read it (403, or rows withheld by
        ACL) is told in the answer; the scan falls back to the configured matrix."""
        try:
            page = self.client.list(PRIORITY_LOOKUP, {
                "sysparm_fields": "impact,urgency,priority", "sysparm_limit": "1000",
                "sysparm_exclude_reference_link": "true"})
        except HTTPAuthError as exc:  # a refused login is the scan's to report, as ever
            return Lookup(None, f"{PRIORITY_LOOKUP} may not be read: {exc}")
        return lookup_table(page.rows, PRIORITY_LOOKUP)

    @property
    def pages(self) -> PageSource:
        """Where reads go: with parallel streams, through the gate that holds every read of
        the run (ranges, projected passes, look-ups) to `streams` requests at once."""
        return GatedClient(self.client, self.gate) if self.streams > 1 else self.client

    # -- reading ----------------------------------------------------------------------------

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        """Records in scope. With `streams` > 1 the first page decides: what it leaves is split
        into key ranges read at once (records then come in no particular order, each once)."""
        process = Process(request.process)
        pmap = self.fieldmap.for_process(process)
        filter_ = compile_scopes(request.scopes, pmap)
        since_field = pmap.fields["updated_at"].field if "updated_at" in pmap.fields else None
        convert = pmap.canonical_reader(request.fields)
        source = self.pages
        stats: list[ScanStats] = []  # one per stream, each with every guard of a scan
        self.scans[process.value] = stats

        def scan(start: str | None = None, below: str | None = None) -> KeysetScan:
            stats.append(ScanStats())
            return KeysetScan(
                source, check_field(pmap.table), filter_,
                pmap.platform_fields(set(request.fields)), self.page_size,
                since=request.since, since_field=since_field or "sys_updated_on",
                stats=stats[-1], max_pages=self.max_pages, start=start, below=below,
            )

        slas = self._sla_reader(pmap, request)

        def records(keyset: KeysetScan, rows: Iterator[Json]) -> Iterator[Record]:
            read = converted(keyset, rows)
            return read if slas is None else slas.attach(read)

        def converted(keyset: KeysetScan, rows: Iterator[Json], previous: str = "",
                      number: int = 0) -> Iterator[Record]:
            for row in rows:
                previous = _checked_id(pmap.table, number, row, previous)
                start, below = keyset.start, keyset.below
                if (start is not None and previous < start) or (below and previous >= below):
                    raise SourceError(f"{pmap.table}: row {number} of the scan has sys_id "
                                      f"{previous}, outside the key range asked for "
                                      f"[{start or ''}, {below or ''}); stopping")
                number += 1
                yield self._record(process, pmap, row, convert)

        first = scan()
        rows = first.rows()
        try:
            try:
                row = next(rows, None)
            except HTTPAuthError as exc:
                if exc.status != 403 or process in CORE_PROCESSES:
                    raise
                self._skip(process, pmap.table, exc)
                return
            if slas is not None:
                slas.expect(first.stats.total)
            if row is None:
                return
            bounds: list[str] = []
            if self.streams > 1 and first.after is not None and first.stats.total is not None:
                bounds = split_after(first.after, first.stats.rows, first.stats.total,
                                     self.page_size, self.gate.limit)
            if not bounds:
                yield from records(first, chain((row,), rows))
                return
            first.below = bounds[0]  # the first stream reads on up to the first bound
            first.recount = True  # its first count covered every range
            others = [scan(a, b) for a, b in zip(bounds, [*bounds[1:], None], strict=True)]
            yield from interleaved([
                partial(records, first, chain((row,), rows)),
                *(partial(records, other, other.rows()) for other in others),
            ])
        finally:
            if slas is not None:
                slas.close()
            for one in stats:
                self.notices.extend(one.notices)

    def _skip(self, process: Process, table: str, exc: HTTPAuthError) -> None:
        """The process's table answered its first page with 403: not read, saying so."""
        reason = (f"{table} may not be read ({exc}): grant the integration user a role that "
                  f"reads {table}")
        self._unread[process] = reason
        self.notices.append(f"{reason}; {process.value} skipped (its rules have no evidence, "
                            "no task is written or closed for them)")

    def not_read(self, process: Process) -> str | None:
        """Why the records of `process` were not read (its table forbidden), else None."""
        return self._unread.get(Process(process))

    def start_up(self, scopes: Mapping[Process, tuple[Scope, ...]]) -> None:
        """Plans the SLA reads of the scan: on a full scan, the task classes with one SLA
        source (incidents and requested items read task_sla) share one table read of it."""
        self.end_reads()
        classes: dict[SlaSource, list[str]] = {}
        for process in scopes:
            pmap = self.fieldmap.processes.get(Process(process))
            if pmap is not None and pmap.slas is not None:
                classes.setdefault(pmap.slas, []).append(pmap.table)
        self._shared_slas = {
            source: SharedSlaTable(partial(SlaTable, self.pages, source, tables,
                                           streams=self.streams, max_pages=self.max_pages))
            for source, tables in classes.items() if len(tables) > 1}

    def end_reads(self) -> None:
        """The scan's reads are over: the shared SLA reads end (what they noticed is kept)."""
        shared, self._shared_slas = self._shared_slas, {}
        for one in shared.values():
            self.notices.extend(one.close())

    def _sla_reader(self, pmap: ProcessMap, request: FetchRequest) -> SlaReader | None:
        """The reader of the SLA records of a fetch's records, when the rules read them; on a
        full scan its table read begins beside the first page (shared with the scan's other
        task classes, when start_up planned one)."""
        if pmap.slas is None or not reads_slas(request.fields):
            return None
        whole = request.since is None
        return SlaReader(self.pages, pmap.slas, pmap.table, batch=self.ref_batch,
                         page_size=self.page_size, max_pages=self.max_pages,
                         streams=self.streams, notices=self.notices, whole=whole,
                         shared=self._shared_slas.get(pmap.slas) if whole else None)

    def expected_total(self, process: Process | str) -> int | None:
        """The first page's X-Total-Count of the last fetch (before ACLs: an upper bound)."""
        stats = self.scans.get(Process(process).value)
        return stats[0].total if stats else None

    def withheld(self, process: Process | str) -> int:
        """Records the last fetch of `process` counted but did not return (read ACLs?); 0 when
        the count does not show any, as when the instance counts after ACLs."""
        return _withheld(self.scans.get(Process(process).value, []))

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> Partial[Ref, Record]:
        """Existing records among `refs`, looked up in the table the field map names for their
        kind; those of a batch whose count shows withheld records are unknown (`withheld`).
        No cache here: the scan's LinkResolver keeps what the rules need of them, so memory
        does not grow with every linked record."""
        todo: dict[str, set[str]] = {}
        for ref in refs:
            if ref.kind and _ID.fullmatch(ref.id):
                todo.setdefault(ref.kind, set()).add(ref.id)
        found: Partial[Ref, Record] = Partial()
        for kind in sorted(todo):  # sorted: the same refs always make the same requests
            table = self._table_of(kind)
            with not_read_on_403(table, "no read access"):
                loaded = self._load(kind, table, sorted(todo[kind]), fields)
            found.update(loaded)
            found.withheld.update(loaded.withheld)
        return found

    def _table_of(self, kind: str) -> str:
        table = self.fieldmap.table_of(kind)
        if table is None:
            raise NotRead(kind, "the ServiceNow field map names no table for it")
        return table

    def read_table(
        self, kind: str, fields: Set[str], max_requests: int
    ) -> TableRows | None:
        """Every record of a canonical `kind` (in its table) with only the canonical `fields`,
        in one projected keyset pass of large pages; None (after the first page) when the pass
        would take more than `max_requests` requests. NotRead when the table cannot be read.
        Its `withheld`: rows X-Total-Count counted beyond those read (hidden by read ACLs?)."""
        table = self._table_of(kind)
        process = process_of_kind(kind)
        pmap = self.fieldmap.for_kind(kind)
        canonical = frozenset(f for f in fields if pmap is not None and f in pmap.fields)
        platform = _platform_fields(pmap, canonical, process)
        scan = KeysetScan(self.pages, check_field(table), EVERYTHING, platform, PROJECTED_PAGE,
                          max_pages=self.max_pages)
        rows = scan.rows()
        with not_read_on_403(table, "no read access"):
            first = next(rows, None)
        total = scan.stats.total or 0
        if math.ceil(total / PROJECTED_PAGE) + 1 > max_requests:
            return None
        every = chain(() if first is None else (first,), rows)
        withheld = partial(_withheld, [scan.stats])
        if process is None or pmap is None:
            convert = pmap.canonical_reader(canonical) if pmap is not None else None
            return TableRows((self._bare(table, row, convert) for row in every), withheld)
        convert = pmap.canonical_reader(canonical)
        return TableRows((self._record(process, pmap, row, convert) for row in every), withheld)

    def count_referrers(
        self, process: Process | str, field: str, ids: Iterable[str]
    ) -> Partial[str, int]:
        pmap = self.fieldmap.for_process(process)
        platform_field = pmap.spec(field).field
        counts: Partial[str, int] = Partial()
        counts.update(dict.fromkeys(ids, 0))
        wanted = [i for i in counts if _ID.fullmatch(i)]
        with not_read_on_403(pmap.table, "no read access"):
            for chunk in batched(wanted, self.ref_batch):
                scan = KeysetScan(
                    self.pages, pmap.table, ((condition(platform_field, chunk),),),
                    [platform_field], self.page_size, max_pages=self.max_pages,
                )
                for row in scan.rows():
                    value = text(row.get(platform_field))
                    if value in counts:
                        counts[value] += 1
                if withheld := _withheld([scan.stats]):  # any of the chunk's may be short
                    counts.withheld.update(dict.fromkeys(
                        chunk, referrers_withheld(pmap.table, withheld)))
        return counts

    def _load(self, kind: str, table: str, ids: Sequence[str],
              wanted: Set[str] | None) -> Partial[Ref, Record]:
        process = process_of_kind(kind)
        pmap = self.fieldmap.for_kind(kind)
        # None: every field of a process's records; of a referenced kind's, its name only
        everything = pmap.fields if pmap is not None and process is not None else ()
        canonical = frozenset(everything if wanted is None else wanted) if pmap else frozenset()
        fields = _platform_fields(pmap, canonical, process)
        convert = pmap.canonical_reader(canonical) if pmap is not None else None
        found: Partial[Ref, Record] = Partial()
        source = self.pages

        def read(chunk: list[str]) -> Page:
            # The query matches at most len(chunk) rows, so one page holds them all. Counted: a
            # count above the rows returned means some of the chunk exist but were withheld.
            return source.list(check_field(table), {
                "sysparm_query": condition("sys_id", chunk),
                "sysparm_fields": ",".join(fields),
                "sysparm_limit": str(len(chunk)),
                "sysparm_exclude_reference_link": "true",
                "sysparm_display_value": "false",
            })

        chunks = list(batched(ids, self.ref_batch))
        for chunk, page in zip(chunks, self._each(read, chunks), strict=True):
            for row in page.rows:
                ref = Ref(kind, text(row.get("sys_id")))
                if process is not None and pmap is not None and convert is not None:
                    found[ref] = self._record(process, pmap, row, convert)
                else:
                    found[ref] = self._bare(table, row, convert)
            withheld = (page.total or 0) - len(page.rows)
            if withheld > 0:
                for record_id in chunk:
                    if (ref := Ref(kind, record_id)) not in found:
                        found.withheld[ref] = withheld_reason(kind, record_id, withheld)
        return found

    def _each(self, read: Callable[[list[str]], Page],
              chunks: Sequence[list[str]]) -> Iterator[Page]:
        """The pages of `chunks` in their order; with parallel streams read side by side (the
        gate holds them to `streams` at once), so a run's look-ups wait one page time, not one
        per batch."""
        if self.streams <= 1 or len(chunks) <= 1:
            return map(read, chunks)
        with ThreadPoolExecutor(max_workers=min(self.streams, len(chunks))) as pool:
            return iter(list(pool.map(read, chunks)))

    def _record(
        self, process: Process, pmap: ProcessMap, row: Json,
        convert: Callable[[Json], dict[str, Value]],
    ) -> Record:
        """One row as a Record; `convert` is the process map's `canonical_reader`."""
        sys_id = text(row.get("sys_id"))
        if not sys_id:
            raise SourceError(f"{pmap.table}: a row came back without sys_id")
        return Record(
            platform=self.platform,
            instance=self.instance,
            process=process.value,
            table=pmap.table,
            id=sys_id,
            number=text(row.get("number")),
            url=self.url(pmap.table, sys_id),
            fields=convert(row),
            raw=row,
        )

    def _bare(self, table: str, row: Json,
              convert: Callable[[Json], dict[str, Value]] | None = None) -> Record:
        """A record of no process (a group, a CI): its name, and the canonical fields of its
        kind that `convert` reads (a referenced kind's map: a CI's status, support group)."""
        sys_id = text(row.get("sys_id"))
        return Record(
            platform=self.platform,
            instance=self.instance,
            process="",
            table=table,
            id=sys_id,
            number=text(row.get("number")) or text(row.get("name")),
            url=self.url(table, sys_id),
            fields=convert(row) if convert is not None else {},
            raw=row,
        )

    def url(self, table: str, sys_id: str) -> str:
        return f"{self.instance}/nav_to.do?uri={table}.do?sys_id={sys_id}"

    # -- doctor -----------------------------------------------------------------------------

    def doctor(self, rules: Sequence[Rule], settings: Mapping[str, Any]) -> list[Finding]:
        return check(self, rules, settings)

    def check_task_targets(self, targets: Iterable[str]) -> list[Finding]:
        return task_tables(self, targets)

    # -- write-back -------------------------------------------------------------------------

    def find_tasks(self, table: str, fingerprints: Iterable[str]) -> list[SnTask]:
        """Every task, open or closed, carrying one of `fingerprints` (batched lookups)."""
        return self.tasks.find(table, fingerprints)

    def open_tasks(self, table: str) -> list[SnTask]:
        """Every open task this tool created in `table` (marked in correlation_display)."""
        return self.tasks.open(table)

    def create_task(self, table: str, fields: Mapping[str, str]) -> SnTask:
        return self.tasks.create(table, fields)

    def update_task(self, table: str, sys_id: str, fields: Mapping[str, str]) -> SnTask:
        return self.tasks.update(table, sys_id, fields)

    def close_task(self, table: str, sys_id: str, note: str) -> SnTask:
        return self.tasks.close(table, sys_id, note)

    def create_tasks(
        self, table: str, rows: Sequence[Mapping[str, str]], max_workers: int = 8
    ) -> list[SnTask]:
        """Create concurrently, results in input order; SourceError if any creation failed."""
        return self.tasks.create_all(table, rows, max_workers)

    def create_tasks_concurrently(
        self, table: str, items: Sequence[Mapping[str, str]], max_workers: int = 8
    ) -> list[SnTask | SourceError]:
        """Create concurrently, results in input order, a failed creation as its SourceError."""
        return self.tasks.create_many(table, items, max_workers)

    @property
    def request_count(self) -> int:
        return self.client.request_count


def _platform_fields(pmap: ProcessMap | None, canonical: frozenset[str],
                     process: Process | None) -> list[str]:
    """The fields to ask of a table for the canonical ones: a record of no process always
    with its name (display names), beside what its kind's map reads."""
    if pmap is None:
        return list(BARE_FIELDS)
    platform = pmap.platform_fields(canonical)
    if process is not None:
        return platform
    return [*BARE_FIELDS, *sorted(set(platform) - set(BARE_FIELDS))]


def _withheld(stats: Sequence[ScanStats]) -> int:
    """Rows the first page's X-Total-Count counted beyond those every stream read (the first
    stream's count covers the whole query; records created meanwhile may make it negative)."""
    if not stats or stats[0].total is None:
        return 0
    return max(0, stats[0].total - sum(one.rows for one in stats))


def _checked_id(table: str, index: int, row: object, previous: str) -> str:
    """The sys_id of a well-formed row, above the previous one (rows come in sys_id order): a
    malformed or repeated row stops the scan (exit 3) rather than count a record twice."""
    if not isinstance(row, dict):
        raise SourceError(f"{table}: row {index} of the scan is "
                          f"{'null' if row is None else type(row).__name__}, not a record")
    sys_id, number = text(row.get("sys_id")), text(row.get("number"))
    if not sys_id or not number:
        raise SourceError(f"{table}: row {index} of the scan has no "
                          f"{'sys_id' if not sys_id else 'number'}")
    if sys_id <= previous:
        where = f"{table}: row {index} of the scan"
        raise SourceError(f"{where} repeats sys_id {sys_id}" if sys_id == previous else
                          f"{where}: sys_id {sys_id} after {previous}, not in sys_id order")
    return sys_id
