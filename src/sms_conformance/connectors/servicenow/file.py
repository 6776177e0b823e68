"""Reads ServiceNow exports from a directory: incident, problem, change_request and sc_req_item,
as .json or .csv (the file source, `--source file:DIR`), with task_sla, and sc_request for the
requested items' requester, beside them; and, when exported, the configuration items and
services records name (cmdb_ci, cmdb_ci_service: the clause 8.2.6 rules look them up by sys_id;
not exported, those rules are unknown, saying which file is missing).

What an export did not carry is unknown, never a failure: a column left out, a value the field
map cannot read (an unlisted label, a date in another format), a reference given by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from sms_conformance.connectors.base import ConnectorDefaults, FetchRequest, NotRead, matches_scope
from sms_conformance.connectors.capabilities import LooksUpPriority, Reads
from sms_conformance.connectors.servicenow.exports import (
    SAMPLE,
    Export,
    examples,
    export_path,
    read_export,
    read_referenced,
    read_rows,
    text,
)
from sms_conformance.connectors.servicenow.fieldmap import (
    FieldMap,
    FieldSpec,
    ProcessMap,
    SlaSource,
)
from sms_conformance.connectors.servicenow.priority_lookup import (
    COLUMNS,
    PRIORITY_LOOKUP,
    exported_lookup,
)
from sms_conformance.connectors.servicenow.slas import summed_up, with_unknown
from sms_conformance.model.errors import ConfigError
from sms_conformance.model.records import (
    LIFECYCLE_STATES,
    NamedRef,
    Process,
    Record,
    Ref,
    Unknown,
)
from sms_conformance.model.schema import process_of_kind
from sms_conformance.model.slas import reads_slas
from sms_conformance.rules.matrices import Lookup

# More than this share of records without a readable lifecycle state: the export cannot be
# scanned (every scope depends on the state), rather than pass almost everything unseen.
MAX_UNREADABLE_STATES = 0.5


class FileConnector(ConnectorDefaults):
    """Air-gapped audits and tests: the rows a ServiceNow export holds, from disk."""

    platform = "servicenow"
    capabilities: ClassVar[frozenset[type]] = frozenset({Reads, LooksUpPriority})

    def __init__(self, directory: Path, fieldmap: FieldMap) -> None:
        if not directory.is_dir():
            raise ConfigError(f"{directory}: no such directory (expected exports)")
        self.directory = directory
        self.instance = f"file:{directory.resolve()}"
        self.fieldmap = fieldmap
        self.notices: list[str] = []
        self._exports: dict[str, Export | None] = {}
        self._sla_rows: dict[Path, list[dict[str, Any]]] = {}
        self._referenced: dict[str, Export | None] = {}
        self._referenced_ids: dict[str, dict[str, dict[str, Any]]] = {}  # kind -> sys_id -> row
        tables = [pmap.table for pmap in fieldmap.processes.values()]
        if not any(export_path(directory, table) for table in tables):
            names = ", ".join(f"{table}.json" for table in tables)
            raise ConfigError(f"{directory}: none of {names} (or .csv) is there")

    def _export(self, table: str) -> Export | None:
        if table not in self._exports:
            path = export_path(self.directory, table)
            process = self.fieldmap.process_of_table(table)
            if path is None or process is None:
                self._exports[table] = None
            else:
                pmap = self.fieldmap.for_process(process)
                export = read_export(path, pmap, self.fieldmap.missing_values,
                                     self.fieldmap.encoding)
                if export.notice:
                    self.notices.append(export.notice)
                self._walk(pmap, export)
                self._exports[table] = export
        return self._exports[table]

    def _walk(self, pmap: ProcessMap, export: Export) -> None:
        """Dot-walked fields the export left out (a Table API export of sc_req_item holds its
        `request`, not request.requested_for), read from the export of the table walked through
        where it is beside it (sc_request.json), as the instance walks them: by the sys_id, or
        in display values the number or name, the reference holds. An empty reference walks to
        an empty value; one to a row the export does not hold stays not returned (unknown)."""
        for walked, (head, table, tail) in pmap.walked().items():
            path = export_path(self.directory, table)
            if (path is None or any(walked in row for row in export.rows)
                    or not any(head in row for row in export.rows)):
                continue
            key = "sys_id" if export.ids else "number"
            index: dict[str, dict[str, Any]] = {}
            for row in read_rows(path, key, self.fieldmap.missing_values, self.fieldmap.encoding):
                for name in ("sys_id", "number", "name"):
                    index.setdefault(text(row.get(name)), row)
            index.pop("", None)
            for row in export.rows:
                ref = text(row.get(head))
                target = index.get(ref) if ref else {tail: ""}
                if target is not None and tail in target:
                    row[walked] = target[tail]

    def _record(self, process: Process, export: Export, row: Mapping[str, Any],
                wanted: Set[str] | None) -> Record:
        pmap = self.fieldmap.for_process(process)
        number = text(row.get("number"))
        record_id = text(row.get("sys_id")) if export.ids else number
        return Record(
            platform=self.platform, instance=self.instance, process=process.value,
            table=pmap.table, id=record_id, number=number,
            url=f"{self.instance}/{export.path.name}#{record_id}",
            fields=pmap.to_canonical(row, wanted, export.display), raw=row,
        )

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        pmap = self.fieldmap.for_process(request.process)
        records = self._records(request)
        if pmap.slas is None or not reads_slas(request.fields):
            return records
        return self._with_slas(records, pmap.slas)

    def _records(self, request: FetchRequest) -> Iterator[Record]:
        pmap = self.fieldmap.for_process(request.process)
        export = self._export(pmap.table)
        if export is None:
            self.notices.append(f"{pmap.table}.json not found in {self.directory} (nor "
                                f"{pmap.table}.csv): {request.process.value} skipped")
            return
        self._check_states(request.process, export)
        if not export.ids:
            self.notices.append(f"{export.path.name} carries no sys_id: its records are known by "
                                "number, and links to them cannot be followed (unknown)")
        wanted = frozenset(request.fields | set().union(*request.scopes) | {"updated_at"})
        audit = _Audit(request.process.value, export, pmap.fields, wanted - {"state"})
        for row in export.rows:
            record = self._record(request.process, export, row, wanted)
            audit.observe(record, row)
            if request.since is not None:
                updated = record.fields.get("updated_at")
                if isinstance(updated, datetime) and updated < request.since:
                    continue
            if not request.scopes or any(matches_scope(record.fields, s) for s in request.scopes):
                yield record
        self.notices.extend(audit.notices())

    def _with_slas(self, records: Iterator[Record], source: SlaSource) -> Iterator[Record]:
        """The records with the SLA fields of the task_sla export beside them; unknown, saying
        so, where the SLA records were not exported."""
        path = export_path(self.directory, source.table)
        if path is None:
            reason = (f"{source.table}.json was not exported to {self.directory} (nor "
                      f"{source.table}.csv): export it beside the records to check service "
                      "levels")
            if reason not in self.notices:
                self.notices.append(f"{reason}; the SLA rules are unknown")
            yield from with_unknown(records, source, reason)
            return
        if path not in self._sla_rows:
            self._sla_rows[path] = read_rows(path, source.task, self.fieldmap.missing_values,
                                             self.fieldmap.encoding)
        yield from summed_up(records, self._sla_rows[path], source)

    def priority_lookup(self) -> Lookup:
        """The instance's priority lookup as exported beside the records (dl_u_priority.json
        or .csv), the one its incident form applied; not exported, the configured matrix
        decides, and the notice says how to check against the instance's own."""
        path = export_path(self.directory, PRIORITY_LOOKUP)
        if path is None:
            return Lookup(None, f"{PRIORITY_LOOKUP}.json was not exported to {self.directory} "
                          f"(nor .csv): export it beside the records to check incident "
                          "priorities against the instance's own lookup")
        rows = read_rows(path, COLUMNS[0], self.fieldmap.missing_values, self.fieldmap.encoding)
        return exported_lookup(rows, path.name)

    def export_moment(self) -> tuple[datetime, str] | None:
        """When the exports were taken, and how that is known: the newest update time of their
        records, else the newest file's own time (None: no export is there). Ages are measured
        from it unless the user asks for another moment."""
        newest: tuple[datetime, str] | None = None
        paths = []
        for pmap in self.fieldmap.processes.values():
            export = self._export(pmap.table)
            if export is None:
                continue
            paths.append(export.path)
            spec = pmap.fields.get("updated_at")
            if spec is None:
                continue
            read = pmap.canonical_reader(frozenset({"updated_at"}), export.display)
            for row in export.rows:
                value = read(row)["updated_at"]
                if isinstance(value, datetime) and (newest is None or value > newest[0]):
                    newest = (value, f"the newest {spec.field} in {export.path.name}")
        if newest is not None or not paths:
            return newest
        path = max(paths, key=lambda p: p.stat().st_mtime)
        return (datetime.fromtimestamp(path.stat().st_mtime, timezone.utc),
                f"the time of {path.name} (its records carry no update time)")

    def not_read(self, process: Process) -> str | None:
        """Why the records of `process` were not read (its table was not exported), else None:
        counts of its records (referrers) are then unknown, not zero."""
        pmap = self.fieldmap.processes.get(process)
        if pmap is None:
            return "this source holds no such table"
        if self._export(pmap.table) is None:
            return f"{pmap.table}.json was not exported to {self.directory}"
        return None

    def _check_states(self, process: Process, export: Export) -> None:
        """Records whose state maps to no lifecycle state: a notice naming them, or, when they
        are most records, an error (exit 2) instead of a scan that sees almost nothing."""
        pmap = self.fieldmap.for_process(process)
        spec = pmap.fields.get("state")
        if spec is None or not export.rows:
            return
        states = LIFECYCLE_STATES[process]
        wanted = frozenset({"state"})
        unread = [row for row in export.rows
                  if pmap.to_canonical(row, wanted, export.display)["state"] not in states]
        if not unread:
            return
        values = [text(row.get(spec.field)) for row in unread if spec.field in row]
        shown = [v for v in values if v.strip()]
        parts = [f"e.g. {examples(shown)}"] if shown else []
        if len(values) > len(shown):
            parts.append(f"{len(values) - len(shown)} empty")
        if len(values) < len(unread):
            parts.append(f"{len(unread) - len(values)} without a {spec.field} column")
        where = (f"{export.path}: the {spec.field} of {len(unread)} of {len(export.rows)} "
                 f"{process.value} records maps to no {process.value} state ({'; '.join(parts)})")
        if len(unread) > MAX_UNREADABLE_STATES * len(export.rows):
            column = _state_column(export, spec) if len(values) < len(unread) else None
            if column is not None:  # the states are there, under another name
                raise ConfigError(
                    f"{where}; the {column} column holds {process.value} states (e.g. "
                    f"{examples(text(row.get(column)) for row in export.rows)}): map it with "
                    f"{process.value}: {{fields: {{state: {{field: {column}}}}}}} in "
                    "config/fieldmap.yaml (its labels stay the default's)")
            raise ConfigError(f"{where}; most records cannot be scoped: map the values under "
                              f"{process.value}.fields.state.labels in config/fieldmap.yaml, or "
                              f"export the {spec.field} column")
        self.notices.append(f"{where}: rules scoped by state cannot place them (unknown, or out "
                            "of scope when empty); map the values under state.labels in "
                            "config/fieldmap.yaml")

    @cached_property
    def _by_id(self) -> dict[tuple[str, str], tuple[Process, Export, dict[str, Any]]]:
        index = {}
        for process, pmap in self.fieldmap.processes.items():
            export = self._export(pmap.table)
            if export is not None and export.ids:
                for row in export.rows:
                    index[(process.value, text(row.get("sys_id")))] = (process, export, row)
        return index

    def _require_kind(self, kind: str) -> Export:
        """The export holding records of a canonical kind (only processes are exported)."""
        process = process_of_kind(kind)
        if process is None or process not in self.fieldmap.processes:
            raise NotRead(kind, "this source holds no such table")
        return self._require_table(self.fieldmap.for_process(process).table)

    def _require_table(self, table: str) -> Export:
        if self.fieldmap.process_of_table(table) is None:
            raise NotRead(table, "this source holds no such table")
        export = self._export(table)
        if export is None:
            raise NotRead(table, f"{table}.json was not exported to {self.directory}")
        if not export.ids:
            raise NotRead(table, f"{export.path.name} carries no sys_id: its records cannot be "
                          "looked up by reference")
        return export

    def _referenced_export(self, kind: str) -> tuple[ProcessMap, Export]:
        """The export of a referenced kind's table (cmdb_ci), or NotRead saying what is
        missing: the file, or the sys_ids references are looked up by."""
        kmap = self.fieldmap.referenced[kind]
        if kind not in self._referenced:
            path = export_path(self.directory, kmap.table)
            export = None if path is None else read_referenced(
                path, kmap, self.fieldmap.missing_values, self.fieldmap.encoding)
            if export is not None and export.notice:
                self.notices.append(export.notice)
            self._referenced[kind] = export
        found = self._referenced[kind]
        if found is None:
            raise NotRead(kind, f"{kmap.table}.json was not exported to {self.directory} (nor "
                          f"{kmap.table}.csv): export it beside the records to check the "
                          f"{kind.replace('_', ' ')}s they name")
        if not found.ids:
            raise NotRead(kind, f"{found.path.name} carries no sys_id on every row: the "
                          "records' references cannot be looked up in it")
        return kmap, found

    def _resolve_referenced(self, kind: str, refs: list[Ref],
                            fields: Set[str] | None) -> dict[Ref, Record]:
        kmap, export = self._referenced_export(kind)
        index = self._referenced_ids.get(kind)
        if index is None:
            index = self._referenced_ids[kind] = {text(r.get("sys_id")): r for r in export.rows}
        wanted = frozenset(kmap.fields if fields is None else set(fields) & kmap.fields.keys())
        convert = kmap.canonical_reader(wanted, export.display)
        found: dict[Ref, Record] = {}
        for ref in refs:
            row = index.get(ref.id)
            if row is not None:
                name = text(row.get("name"))  # a display-value export's cell may be a pair
                found[ref] = Record(
                    platform=self.platform, instance=self.instance, process="",
                    table=kmap.table, id=ref.id, number=name,
                    url=f"{self.instance}/{export.path.name}#{ref.id}", fields=convert(row),
                    raw={**row, "name": name})
        return found

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> dict[Ref, Record]:
        found = {}
        wanted = list(refs)
        for kind in sorted({ref.kind for ref in wanted} & self.fieldmap.referenced.keys()):
            found.update(self._resolve_referenced(kind, [r for r in wanted if r.kind == kind],
                                                  fields))
        for ref in wanted:
            if ref.kind in self.fieldmap.referenced:
                continue
            self._require_kind(ref.kind)
            hit = self._by_id.get((ref.kind, ref.id))
            if hit is not None:
                found[ref] = self._record(hit[0], hit[1], hit[2], None)
        return found

    @cached_property
    def _referrer_counts(self) -> dict[tuple[Process, str], dict[str, int]]:
        return {}

    def count_referrers(self, process: Process, field: str, ids: Iterable[str]) -> dict[str, int]:
        key = (Process(process), field)
        if key not in self._referrer_counts:
            pmap = self.fieldmap.for_process(process)
            export = self._require_table(pmap.table)
            spec = pmap.spec(field)
            if spec.table:
                self._require_kind(pmap.kind_of(field))  # the ids counted are its sys_ids
            rows = export.rows
            if rows and not any(spec.field in row for row in rows):
                raise NotRead(pmap.table, f"column {spec.field} was not exported")
            counts: dict[str, int] = {}
            wanted = frozenset({field})
            for row in rows:
                value = pmap.to_canonical(row, wanted, export.display)[field]
                if isinstance(value, NamedRef):
                    raise NotRead(pmap.table, f"column {spec.field} holds display values "
                                  f"(e.g. {value.id!r}), not sys_ids")
                if isinstance(value, Ref):
                    counts[value.id] = counts.get(value.id, 0) + 1
            self._referrer_counts[key] = counts
        return {i: self._referrer_counts[key].get(i, 0) for i in ids}


def _state_column(export: Export, spec: FieldSpec) -> str | None:
    """The column of an export whose values are mostly the state field's stored values or
    labels (the state exported under another name, such as incident_state), if one is."""
    rows = export.rows[:SAMPLE]
    columns = [c for c in (rows[0] if rows else {}) if c != spec.field]
    counts = {c: sum(1 for row in rows if spec.shows(text(row.get(c)))) for c in columns}
    best = max(counts, key=lambda c: counts[c], default=None)
    return best if best is not None and counts[best] > len(rows) / 2 else None


class _Audit:
    """What of the fields the rules read the field map could not read (an unlisted label, a
    date in another format) and which references came as names: one notice per field."""

    def __init__(self, process: str, export: Export, specs: Mapping[str, Any],
                 wanted: Set[str]) -> None:
        self.process, self.export = process, export
        self.fields = {name: spec.field for name, spec in specs.items()
                       if name in wanted and (spec.is_choice or spec.type in
                                                             ("datetime", "ref"))}
        self.unread: dict[str, list[str]] = {}
        self.named: dict[str, str] = {}  # reference field -> an example name

    def observe(self, record: Record, row: Mapping[str, Any]) -> None:
        values = record.fields
        for name, field in self.fields.items():
            kind = values.get(name).__class__
            if kind is Unknown and field in row:  # present, but not readable
                self.unread.setdefault(name, []).append(text(row.get(field)))
            elif kind is NamedRef and name not in self.named:
                self.named[name] = values[name].id  # type: ignore[union-attr]

    def notices(self) -> list[str]:
        file, total = self.export.path.name, len(self.export.rows)
        lines = [
            f"{file}: {self.process}.{name} ({self.fields[name]}) of {len(values)} of {total} "
            f"records could not be read (e.g. {examples(values)}): results that need it are "
            "unknown; add the labels, or the date_format, to config/fieldmap.yaml"
            for name, values in sorted(self.unread.items())]
        if self.named:
            names = ", ".join(f"{n} (e.g. {v!r})" for n, v in sorted(self.named.items()))
            lines.append(
                f"{file} gives references as display values: {names}. Links through them are "
                "unknown, and a reference to a record that no longer exists cannot be told from "
                "an empty one: export stored values (sys_ids) to check links")
        return lines
