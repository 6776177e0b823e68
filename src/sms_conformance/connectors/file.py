"""Reads Table API exports from a directory: incident.json, problem.json, change_request.json."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Set
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from sms_conformance.connectors.base import FetchRequest, NotRead
from sms_conformance.errors import ConfigError
from sms_conformance.fieldmap import FieldMap
from sms_conformance.records import Process, Record, Ref, Value


def matches_scope(fields: Mapping[str, Value], scope: Mapping[str, tuple[Any, ...]]) -> bool:
    for name, allowed in scope.items():
        value = fields.get(name)
        if (value.id if isinstance(value, Ref) else value) not in allowed:
            return False
    return True


class FileConnector:
    """Air-gapped audits and tests: the same rows a ServiceNow list GET returns, from disk."""

    platform = "servicenow"

    def __init__(self, directory: Path, fieldmap: FieldMap) -> None:
        if not directory.is_dir():
            raise ConfigError(f"{directory}: no such directory (expected Table API exports)")
        self.directory = directory
        self.instance = f"file:{directory.resolve()}"
        self.fieldmap = fieldmap
        self.notices: list[str] = []
        self._rows: dict[str, list[dict[str, Any]]] = {}
        names = [f"{pmap.table}.json" for pmap in fieldmap.processes.values()]
        if not any((directory / name).exists() for name in names):
            raise ConfigError(f"{directory}: none of {', '.join(names)} (Table API exports) is there")

    def _table_rows(self, table: str) -> list[dict[str, Any]]:
        if table not in self._rows:
            path = self.directory / f"{table}.json"
            if not path.exists():
                self._rows[table] = []
                return []
            try:
                body = orjson.loads(path.read_bytes())
            except orjson.JSONDecodeError as exc:
                raise ConfigError(f"{path}: not valid JSON: {exc}") from None
            rows = body.get("result") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise ConfigError(f'{path}: expected {{"result": [...]}} as the Table API returns')
            self._rows[table] = rows
        return self._rows[table]

    def _record(self, process: Process, row: Mapping[str, Any], wanted: Set[str] | None) -> Record:
        pmap = self.fieldmap.for_process(process)
        sys_id = str(row.get("sys_id", ""))
        return Record(
            platform=self.platform, instance=self.instance, process=process.value,
            table=pmap.table, id=sys_id, number=str(row.get("number", "")),
            url=f"{self.instance}/{pmap.table}.json#{sys_id}",
            fields=pmap.to_canonical(row, wanted), raw=row,
        )

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        pmap = self.fieldmap.for_process(request.process)
        if not (self.directory / f"{pmap.table}.json").exists():
            self.notices.append(
                f"{pmap.table}.json not found in {self.directory}: {request.process.value} skipped"
            )
            return
        wanted = frozenset(request.fields | set().union(*request.scopes) | {"updated_at"})
        for row in self._table_rows(pmap.table):
            record = self._record(request.process, row, wanted)
            if request.since is not None:
                updated = record.fields.get("updated_at")
                if isinstance(updated, datetime) and updated < request.since:
                    continue
            if not request.scopes or any(matches_scope(record.fields, s) for s in request.scopes):
                yield record

    @cached_property
    def _by_id(self) -> dict[tuple[str, str], tuple[Process, dict[str, Any]]]:
        index = {}
        for process, pmap in self.fieldmap.processes.items():
            for row in self._table_rows(pmap.table):
                index[(pmap.table, str(row.get("sys_id", "")))] = (process, row)
        return index

    def _require_table(self, table: str) -> None:
        if self.fieldmap.process_of_table(table) is None:
            raise NotRead(table, "this source holds no such table")
        if not (self.directory / f"{table}.json").exists():
            raise NotRead(table, f"{table}.json was not exported to {self.directory}")

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> dict[Ref, Record]:
        found = {}
        for ref in refs:
            self._require_table(ref.table)
            hit = self._by_id.get((ref.table, ref.id))
            if hit is not None:
                found[ref] = self._record(hit[0], hit[1], None)
        return found

    @cached_property
    def _referrer_counts(self) -> dict[tuple[Process, str], dict[str, int]]:
        return {}

    def count_referrers(self, process: Process, field: str, ids: Iterable[str]) -> dict[str, int]:
        key = (Process(process), field)
        if key not in self._referrer_counts:
            pmap = self.fieldmap.for_process(process)
            self._require_table(pmap.table)
            spec = pmap.spec(field)
            rows = self._table_rows(pmap.table)
            if rows and not any(spec.field in row for row in rows):
                raise NotRead(pmap.table, f"column {spec.field} was not exported")
            counts: dict[str, int] = {}
            for row in rows:
                value = spec.to_canonical(row.get(spec.field))
                if isinstance(value, Ref):
                    counts[value.id] = counts.get(value.id, 0) + 1
            self._referrer_counts[key] = counts
        return {i: self._referrer_counts[key].get(i, 0) for i in ids}
