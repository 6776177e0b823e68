"""Write a dataset as the exports people make: one file per process table.

- `json` (default): Table API JSON, ``{"result": [...]}``, each record exactly as a GET renders
  it with ``sysparm_display_value`` false (stored values, references as ``{"link", "value"}``
  under ``base_url``), true (labels, references as ``{"display_value", "link"}``, dates in the
  user's format and zone) or all (``{"display_value", "value"}`` pairs);
- `list-json`: the list view's JSON export (JSONv2), ``{"records": [...]}``, stored values with
  references as bare sys_ids;
- `csv`: the list view's CSV export, a header row of field names, stored or display values.

Raw Table API JSON is streamed in chunks, so 1,000,000 incidents never become one giant string.
``planted.json`` maps record number -> planted rule ids.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

import orjson

from sms_conformance.model.dates import parse_datetime, render, zone
from sms_conformance.sandbox.dataset import Dataset
from sms_conformance.sandbox.schema import SCHEMAS
from sms_conformance.sandbox.servicenow.store import Store

EXPORT_TABLES = ("incident", "problem", "change_request", "sc_req_item", "sc_request",
                 "sc_cat_item", "task_sla", "cmdb_ci")
DEFAULT_BASE_URL = "https://sandbox.service-now.com"
FORMATS = ("json", "list-json", "csv")
DISPLAY_VALUES = ("false", "true", "all")
DEFAULT_DATE_FORMAT = "yyyy-MM-dd HH:mm:ss"  # ServiceNow's system date and time format
_CHUNK = 2000
_STORED_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def check_shape(fmt: str, display: str) -> None:
    """ValueError for a combination the sandbox does not export."""
    if fmt not in FORMATS or display not in DISPLAY_VALUES:
        raise ValueError(f"format one of {FORMATS}, display values one of {DISPLAY_VALUES}")
    if fmt == "list-json" and display != "false":
        raise ValueError("the list view's JSON export is written with stored values only")
    if fmt == "csv" and display == "all":
        raise ValueError("a CSV export holds either stored or display values, not both")


def export(dataset: Dataset, out_dir: str | Path, base_url: str = DEFAULT_BASE_URL,
           tables: tuple[str, ...] = EXPORT_TABLES, *, fmt: str = "json",
           display: str = "false", date_format: str = DEFAULT_DATE_FORMAT,
           time_zone: str | None = None, reference_links: bool = True,
           columns: Mapping[str, Sequence[str]] | None = None) -> dict[str, Path]:
    """Write DIR/<table>.json or .csv for each table plus DIR/planted.json; return the paths.
    `columns`: per table, the fields a CSV export holds (default: every field)."""
    check_shape(fmt, display)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = Store(dataset)
    written: dict[str, Path] = {}
    for table in tables:
        path = out / f"{table}.{'csv' if fmt == 'csv' else 'json'}"
        if fmt == "json" and display == "false" and reference_links:
            _stream_raw(store, table, base_url, path)
        else:
            records = _records(store, table, base_url, display, date_format, time_zone,
                               links=reference_links and fmt == "json")
            if fmt == "csv":
                names = list((columns or {}).get(table, SCHEMAS[table].fields))
                _write_csv(path, names, records)
            else:
                key = "result" if fmt == "json" else "records"
                path.write_bytes(orjson.dumps({key: records}))
        written[table] = path
    planted = out / "planted.json"
    planted.write_bytes(orjson.dumps(dataset.planted, option=orjson.OPT_SORT_KEYS
                                     | orjson.OPT_INDENT_2))
    written["planted"] = planted
    return written


def _stream_raw(store: Store, table: str, base_url: str, path: Path) -> None:
    rows = store.tables[table].rows
    with path.open("wb") as fh:
        fh.write(b'{"result":[')
        for start in range(0, len(rows), _CHUNK):
            records = store.render(table, rows[start:start + _CHUNK], base_url)
            if start:
                fh.write(b",")
            fh.write(b",".join(orjson.dumps(r) for r in records))
        fh.write(b"]}")


def _records(store: Store, table: str, base_url: str, display: str, date_format: str,
             time_zone: str | None, links: bool) -> list[dict[str, Any]]:
    records = store.render(table, store.tables[table].rows, base_url, display,
                           exclude_reference_link=not links)
    if display != "false":
        where = zone(time_zone)
        for record in records:
            for name, value in record.items():
                if type(value) is dict:
                    value["display_value"] = _shown(value["display_value"], date_format, where)
                else:
                    record[name] = _shown(value, date_format, where)
    return records


def _shown(value: Any, date_format: str, where: tzinfo) -> Any:
    """A stored UTC timestamp as the exporting user sees it; anything else unchanged."""
    if isinstance(value, str) and _STORED_DATE.fullmatch(value):
        moment = parse_datetime(value)
        if isinstance(moment, datetime):
            return render(moment, date_format, where)
    return value


def _write_csv(path: Path, names: list[str], records: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for record in records:
            writer.writerow([record.get(name, "") for name in names])
