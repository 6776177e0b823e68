"""In-memory tables: filtered, ordered, paged reads with cached matches; writes; rendering.

Reads cache the matching row positions per (query without a keyset ``sys_id>X`` condition,
ordering) and table version, so offset paging is a slice and keyset paging
(``sys_id>LAST^ORDERBYsys_id``) a bisect. Every write bumps the table version.

ACL simulation: ``acl_hidden_rate`` hides a deterministic share of rows *after* the page limit
is applied (pages come back short, later pages still hold rows; X-Total-Count still counts
them; GET by sys_id answers 404). ``hidden_fields`` ("table.field") read back as "".
"""

from __future__ import annotations

import threading
import uuid
import zlib
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sms_conformance.sandbox.dataset import Dataset
from sms_conformance.sandbox.schema import (
    DL_U_PRIORITY,
    JOURNAL_FIELDS,
    SCHEMAS,
    SYS_PROPERTIES,
    Row,
    TableSchema,
    db_object_rows,
    priority_rows,
    property_rows,
)
from sms_conformance.sandbox.servicenow.query import (
    Condition,
    Query,
    compile_query,
    extract_keyset,
    parse,
)

DEFAULT_LIMIT = 10000
_CACHE_SIZE = 32
READ_ONLY = frozenset({"sys_id", "sys_created_on", "sys_created_by", "sys_updated_on",
                       "sys_updated_by", "sys_mod_count", "sys_class_name"})

Getter = Callable[[Row], str]


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _coerce(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return _coerce(value.get("value", ""))
    if isinstance(value, (list, tuple)):
        return ",".join(_coerce(v) for v in value)
    return str(value)


@dataclass
class Page:
    """One page of a list read."""

    rows: list[Row]  # after ACL filtering
    total: int  # rows matching the query (before paging and ACL)
    fetched: int  # rows in the page before ACL filtering


class Table:
    """One table: rows sorted by sys_id, a parallel sys_id list, a version and a match cache."""

    def __init__(self, schema: TableSchema, rows: list[Row]) -> None:
        self.schema = schema
        self.name = schema.name
        self.rows = rows
        self.ids: list[str] = [r[0] for r in rows]
        self.version = 0
        self.lock = threading.RLock()
        self._cache: OrderedDict[tuple[Any, ...], Sequence[int]] = OrderedDict()
        self.journal: dict[str, list[dict[str, str]]] = {}
        self._indexes: dict[str, dict[str, list[int]]] = {}
        num = schema.index.get("number")
        self.next_number = schema.number_start + len(rows)
        if num is not None and rows:
            prefix = schema.number_prefix or ""
            highest = max((r[num] for r in rows if r[num].startswith(prefix)), default="")
            digits = highest[len(prefix):]
            if digits.isdigit():
                self.next_number = max(self.next_number, int(digits) + 1)

    def find(self, sys_id: str) -> Row | None:
        i = bisect_left(self.ids, sys_id)
        if i < len(self.ids) and self.ids[i] == sys_id:
            return self.rows[i]
        return None

    def cached(self, key: tuple[Any, ...], compute: Callable[[], Sequence[int]]
               ) -> Sequence[int]:
        full = (key, self.version)
        hit = self._cache.get(full)
        if hit is not None:
            self._cache.move_to_end(full)
            return hit
        value = compute()
        self._cache[full] = value
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return value

    def bump(self) -> None:
        self.version += 1
        self._cache.clear()
        self._indexes.clear()

    def index(self, name: str, get: Callable[[Row], str]) -> dict[str, list[int]]:
        """Positions by value of one field, built on first use, dropped on any write."""
        found = self._indexes.get(name)
        if found is None:
            found = {}
            for i, row in enumerate(self.rows):
                found.setdefault(get(row), []).append(i)
            self._indexes[name] = found
        return found


class Store:
    """All sandbox tables, with reads, writes and Table API rendering."""

    def __init__(self, dataset: Dataset, acl_hidden_rate: float = 0.0,
                 hidden_fields: Iterable[str] = (), acl_seed: int = 0) -> None:
        self.dataset = dataset
        self.tables: dict[str, Table] = {
            name: Table(SCHEMAS[name], rows) for name, rows in dataset.tables.items()
        }
        self.tables.setdefault("sys_db_object", Table(SCHEMAS["sys_db_object"], db_object_rows()))
        for name, schema in SCHEMAS.items():
            self.tables.setdefault(name, Table(schema, []))
        # Readable, as to an admin; `identity_withheld()` makes it read as to a user without the
        # role (rows withheld by ACL: an empty list).
        self.tables["sys_properties"] = Table(SYS_PROPERTIES, property_rows(dataset.instance_key))
        self.tables["dl_u_priority"] = Table(DL_U_PRIORITY, priority_rows())
        self.forbidden: set[str] = set()  # tables read as to a user without the role: 403
        self.acl_hidden_rate = acl_hidden_rate
        self.acl_salt = f"{acl_seed}:".encode()
        self.hidden_fields: dict[str, frozenset[str]] = {}
        for item in hidden_fields:
            table, _, fld = item.partition(".")
            if fld:
                self.hidden_fields[table] = self.hidden_fields.get(table, frozenset()) | {fld}

    def identity_withheld(self) -> None:
        self.tables["sys_properties"] = Table(SYS_PROPERTIES, [])

    def set_priority_lookup(self, matrix: dict[tuple[str, str], str]) -> None:
        """The instance's own priority lookup (dl_u_priority): {} reads as rows withheld."""
        self.tables["dl_u_priority"] = Table(DL_U_PRIORITY, priority_rows(matrix))

    # -- lookups --------------------------------------------------------------------------
    def table(self, name: str) -> Table | None:
        return self.tables.get(name)

    def is_hidden(self, row: Row) -> bool:
        rate = self.acl_hidden_rate
        if rate <= 0:
            return False
        return zlib.crc32(self.acl_salt + row[0].encode()) < rate * 4294967296.0

    def getter_for(self, table: str) -> Callable[[str], Getter | None]:
        """Field name -> getter, with dot-walking through references (``assignment_group.name``)."""
        schema = self.tables[table].schema

        def factory(name: str) -> Getter | None:
            if "." not in name:
                return schema.getter(name)
            head, _, tail = name.partition(".")
            base = schema.getter(head)
            target = self.tables.get(schema.refs.get(head, ""))
            if base is None or target is None:
                return None
            inner = self.getter_for(target.name)(tail)
            if inner is None:
                return None
            find, read = target.find, inner

            def walk(row: Row) -> str:
                ref = find(base(row))
                return read(ref) if ref is not None else ""

            return walk

        return factory

    def display_of(self, table: str, sys_id: str) -> str:
        """Display value of a referenced record (its name / number), or the id itself."""
        target = self.tables.get(table)
        if target is None:
            return sys_id
        row = target.find(sys_id)
        if row is None:
            return sys_id if sys_id == "global" else ""
        return target.schema.get(row, target.schema.display_field)

    # -- reads ----------------------------------------------------------------------------
    def select(self, table: str, query: str | None = None, limit: int = DEFAULT_LIMIT,
               offset: int = 0, filters: Sequence[tuple[str, str]] = ()) -> Page:
        """Rows of one page. ``filters`` are plain ``field=value`` params (ANDed)."""
        tab = self.tables[table]
        q = parse(query)
        if filters:
            extra = [[Condition(f, "=", self._filter_value(tab.schema, f, v))]
                     for f, v in filters]
            q.groups = [g + extra for g in q.groups] if q.groups else [extra]
        rest, keyset = extract_keyset(q)
        offset = max(0, offset)
        limit = max(0, limit)
        with tab.lock:
            positions = tab.cached(rest.key(), lambda: self._match(tab, rest))
            start = 0
            if keyset is not None:
                positions, start = self._after(tab, positions, rest, keyset)
            total = len(positions) - start
            lo = start + offset
            page = [tab.rows[i] for i in positions[lo:lo + limit]]
        fetched = len(page)
        if self.acl_hidden_rate > 0:
            page = [r for r in page if not self.is_hidden(r)]
        return Page(rows=page, total=total, fetched=fetched)

    @staticmethod
    def _filter_value(schema: TableSchema, name: str, value: str) -> str:
        """Plain filter params accept choice labels too (``state=Closed``)."""
        labels = schema.choices.get(name)
        if labels and value not in labels:
            for stored, label in labels.items():
                if label.lower() == value.lower():
                    return stored
        return value

    def _match(self, tab: Table, query: Query) -> Sequence[int]:
        rows = tab.rows
        positions: Sequence[int]
        indexed = self._indexed(tab, query)
        if indexed is not None:
            positions = indexed
        else:
            pred = compile_query(query, self.getter_for(tab.name))
            positions = range(len(rows)) if pred is None else [
                i for i, row in enumerate(rows) if pred(row)
            ]
        order = [(f, d) for f, d in query.order if self.getter_for(tab.name)(f) is not None]
        if order and order != [("sys_id", False)]:
            ordered = list(positions)
            for name, desc in reversed(order):
                get = self.getter_for(tab.name)(name)
                assert get is not None
                ordered.sort(key=lambda i, get=get: get(rows[i]), reverse=desc)  # type: ignore[misc]
            positions = ordered
        return positions

    def _indexed(self, tab: Table, query: Query) -> list[int] | None:
        """`field=v` or `fieldINa,b` alone: answered from a value index, as a database would
        (reference look-ups by the scanner would otherwise scan the whole table each time)."""
        if len(query.groups) != 1 or len(query.groups[0]) != 1 or len(query.groups[0][0]) != 1:
            return None
        cond = query.groups[0][0][0]
        if cond.op not in ("=", "IN") or "." in cond.field:
            return None
        get = tab.schema.getter(cond.field)
        if get is None:
            return None
        index = tab.index(cond.field, get)
        values = cond.value.split(",") if cond.op == "IN" else [cond.value]
        return sorted({i for v in values for i in index.get(v, ())})

    def _after(self, tab: Table, positions: Sequence[int], query: Query,
               keyset: Condition) -> tuple[Sequence[int], int]:
        """Apply ``sys_id>X``: a bisect when rows come in sys_id order, a filter otherwise."""
        ids = tab.ids
        order = [o for o in query.order if self.getter_for(tab.name)(o[0]) is not None]
        if not order or order[0] == ("sys_id", False):
            search = bisect_right if keyset.op == ">" else bisect_left
            return positions, search(positions, keyset.value, key=lambda i: ids[i])
        value = keyset.value
        if keyset.op == ">":
            return [i for i in positions if ids[i] > value], 0
        return [i for i in positions if ids[i] >= value], 0

    def get(self, table: str, sys_id: str) -> Row | None:
        """One row by sys_id; None if missing or hidden by the ACL simulation."""
        tab = self.tables[table]
        with tab.lock:
            row = tab.find(sys_id)
        if row is None or self.is_hidden(row):
            return None
        return row

    # -- writes ---------------------------------------------------------------------------
    def insert(self, table: str, values: Mapping[str, Any], user: str = "admin") -> Row:
        tab = self.tables[table]
        schema = tab.schema
        row = schema.new_row()
        now = now_utc()
        for name, value in schema.insert_defaults.items():
            schema.set(row, name, value)
        sys_id = _coerce(values.get("sys_id")) or uuid.uuid4().hex
        schema.set(row, "sys_id", sys_id)
        for name in ("sys_created_on", "opened_at", "sys_updated_on"):
            if name in schema.index:
                schema.set(row, name, now)
        for name in ("sys_created_by", "sys_updated_by"):
            if name in schema.index:
                schema.set(row, name, user)
        if "opened_by" in schema.index:
            admin = self.tables["sys_user"].ids
            schema.set(row, "opened_by", "6816f79cc0a8016401c5a33be04be441"
                       if "6816f79cc0a8016401c5a33be04be441" in admin else "")
        with tab.lock:
            if tab.find(sys_id) is not None:
                raise ValueError(f"Duplicate sys_id {sys_id}")
            if schema.number_prefix and not _coerce(values.get("number")):
                schema.set(row, "number", f"{schema.number_prefix}{tab.next_number:07d}")
                tab.next_number += 1
            self._assign(tab, row, values, user, now, creating=True)
            i = bisect_left(tab.ids, sys_id)
            tab.ids.insert(i, sys_id)
            tab.rows.insert(i, row)
            tab.bump()
        return row

    def update(self, table: str, sys_id: str, values: Mapping[str, Any],
               user: str = "admin") -> Row | None:
        tab = self.tables[table]
        with tab.lock:
            row = tab.find(sys_id)
            if row is None or self.is_hidden(row):
                return None
            now = now_utc()
            self._assign(tab, row, values, user, now, creating=False)
            schema = tab.schema
            if "sys_updated_on" in schema.field_set:
                schema.set(row, "sys_updated_on", now)
                schema.set(row, "sys_updated_by", user)
            count = schema.get(row, "sys_mod_count")
            schema.set(row, "sys_mod_count", str(int(count) + 1 if count.isdigit() else 1))
            tab.bump()
        return row

    def delete(self, table: str, sys_id: str) -> bool:
        tab = self.tables[table]
        with tab.lock:
            i = bisect_left(tab.ids, sys_id)
            if i >= len(tab.ids) or tab.ids[i] != sys_id or self.is_hidden(tab.rows[i]):
                return False
            del tab.ids[i]
            del tab.rows[i]
            tab.journal.pop(sys_id, None)
            tab.bump()
        return True

    def _assign(self, tab: Table, row: Row, values: Mapping[str, Any], user: str, now: str,
                creating: bool) -> None:
        schema = tab.schema
        for name, raw in values.items():
            value = _coerce(raw)
            if name in JOURNAL_FIELDS:
                if value:
                    tab.journal.setdefault(row[0], []).append({
                        "element": name, "value": value, "sys_created_on": now,
                        "sys_created_by": user,
                    })
                continue
            if name in READ_ONLY or name not in schema.field_set:
                continue  # unknown or system fields are ignored, as the real API does
            if name == "number" and not creating and not value:
                continue
            schema.set(row, name, value)

    def journal(self, table: str, sys_id: str) -> list[dict[str, str]]:
        """Journal entries (work_notes, comments) written to one record, oldest first."""
        tab = self.tables[table]
        with tab.lock:
            return list(tab.journal.get(sys_id, []))

    # -- rendering ------------------------------------------------------------------------
    def render(self, table: str, rows: Sequence[Row], base_url: str, display: str = "false",
               fields: Sequence[str] | None = None, exclude_reference_link: bool = False
               ) -> list[dict[str, Any]]:
        """Rows as the Table API returns them (``sysparm_display_value`` false/true/all)."""
        schema = self.tables[table].schema
        hidden = self.hidden_fields.get(table, frozenset())
        prefixes = {f: f"{base_url}/api/now/table/{t}/" for f, t in schema.refs.items()}
        if display == "false" and fields is None:
            return self._render_plain(schema, rows, prefixes, hidden, exclude_reference_link)
        names = list(schema.fields) if fields is None else list(fields)
        getters: list[tuple[str, Getter]] = []
        factory = self.getter_for(table)
        for name in names:
            get = factory(name)
            if get is not None:
                getters.append((name, get))
        out: list[dict[str, Any]] = []
        for row in rows:
            rec: dict[str, Any] = {}
            for name, get in getters:
                value = "" if name in hidden else get(row)
                rec[name] = self._shape(schema, name, value, display, prefixes,
                                        exclude_reference_link)
            out.append(rec)
        return out

    def _render_plain(self, schema: TableSchema, rows: Sequence[Row], prefixes: dict[str, str],
                      hidden: frozenset[str], exclude: bool) -> list[dict[str, Any]]:
        cols = schema.columns
        refs = {} if exclude else prefixes
        consts: dict[str, Any] = {
            name: {"link": refs[name] + value, "value": value} if name in refs and value else value
            for name, value in schema.constants.items()
        }
        col_refs = [(schema.index[f], f, p) for f, p in refs.items() if f in schema.index]
        bulk = schema.bulk
        bulk_names = bulk[0] if bulk else ()
        computed = [(k, f) for k, f in schema.computed.items() if k not in bulk_names]
        out: list[dict[str, Any]] = []
        append = out.append
        for row in rows:
            rec: dict[str, Any] = dict(zip(cols, row, strict=False))
            rec.update(consts)
            for name, fn in computed:
                rec[name] = fn(row)
            if bulk:
                rec.update(zip(bulk_names, bulk[1](row), strict=True))
            for idx, name, prefix in col_refs:
                value = row[idx]
                if value:
                    rec[name] = {"link": prefix + value, "value": value}
            extra = row[-1]
            if extra:
                for name, value in extra.items():
                    rec[name] = ({"link": refs[name] + value, "value": value}
                                 if name in refs and value else value)
            for name in hidden:
                if name in rec:
                    rec[name] = ""
            append(rec)
        return out

    def _shape(self, schema: TableSchema, name: str, value: str, display: str,
               prefixes: dict[str, str], exclude: bool) -> Any:
        ref_table = schema.refs.get(name)
        if display == "false":
            if ref_table and value and not exclude:
                return {"link": prefixes[name] + value, "value": value}
            return value
        if ref_table:
            shown = self.display_of(ref_table, value) if value else ""
            if display == "true":
                if not value:
                    return ""
                return shown if exclude else {"display_value": shown,
                                              "link": prefixes[name] + value}
            out = {"display_value": shown, "value": value}
            if value and not exclude:
                out["link"] = prefixes[name] + value
            return out
        labels = schema.choices.get(name)
        shown = labels.get(value, value) if labels else value
        if display == "true":
            return shown
        return {"display_value": shown, "value": value}
