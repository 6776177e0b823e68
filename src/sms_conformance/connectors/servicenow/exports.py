"""Export files as people make them, one per table: `<table>.json` or `<table>.csv`.

Shapes, told apart per file:
- Table API JSON, `{"result": [...]}`: stored values (`sysparm_display_value=false`), display
  values (`=true`: labels, references as `{"display_value", "link"}` or bare names, dates as the
  exporting user sees them) or both (`=all`: `{"display_value", "value"}`, the value is read);
- the list view's JSON export (JSONv2), `{"records": [...]}`: stored values, references as
  sys_ids;
- the list view's CSV export: a header row of field names; display values unless the instance
  sets glide.export.csv.raw.value (docs: "Default values for column headers and column values").
Whether a file holds display values is told from its choice fields (labels or stored values).

Every row must be a record with a number, and a sys_id when the file carries sys_ids; a sys_id
(or, without them, a number) appears once. Anything else stops the scan with the file and row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from sms_conformance.connectors.servicenow.fieldmap import ProcessMap
from sms_conformance.model.errors import ConfigError

SAMPLE = 500  # rows looked at to tell stored values from display values


@dataclass(frozen=True)
class Export:
    path: Path
    rows: list[dict[str, Any]]
    display: bool  # holds display values: labels, reference names, dates in the user's format
    ids: bool  # rows carry sys_ids (otherwise records are identified by number)
    notice: str | None = None  # how the file was read, when the user should know (its encoding)


def export_path(directory: Path, table: str) -> Path | None:
    """`<table>.json` or `<table>.csv`; both at once is ambiguous."""
    found = [p for p in (directory / f"{table}.json", directory / f"{table}.csv") if p.exists()]
    if len(found) > 1:
        raise ConfigError(f"{directory}: both {table}.json and {table}.csv are there; keep one")
    return found[0] if found else None


def read_export(path: Path, pmap: ProcessMap, missing: Collection[str] = (),
                encoding: str | None = None) -> Export:
    """`missing`: cells meaning "no value" (read as ""); `encoding`: the file's text encoding,
    detected when None."""
    content, notice = decode(path, encoding)
    if path.suffix == ".csv":
        rows, where, display_default = _csv_rows(path, content), _csv_line, True
    else:
        key, rows = _json_rows(path, content)
        where = lambda i: f"{key}[{i}]"  # noqa: E731
        display_default = False
    if missing:
        _blank(rows, frozenset(missing))
    ids = _check_identity(path, rows, where)
    return Export(path, rows, _displayed(rows, pmap, display_default), ids, notice)


def read_referenced(path: Path, kmap: ProcessMap, missing: Collection[str] = (),
                    encoding: str | None = None) -> Export:
    """An export of records that process records reference (cmdb_ci, cmdb_ci_service): no
    number is asked of its rows; `ids` says whether every row carries the sys_id a reference
    is looked up by (a list export without the sys_id column cannot be joined)."""
    content, notice = decode(path, encoding)
    if path.suffix == ".csv":
        rows, display_default = _csv_rows(path, content, None), True
    else:
        rows, display_default = _json_rows(path, content)[1], False
    if missing:
        _blank(rows, frozenset(missing))
    ids = bool(rows) and all(text(row.get("sys_id")).strip() for row in rows)
    return Export(path, rows, _displayed(rows, kmap, display_default), ids, notice)


def read_rows(path: Path, key: str, missing: Collection[str] = (),
              encoding: str | None = None) -> list[dict[str, Any]]:
    """The rows of an export of a table outside the field map's processes (task_sla), each
    known by its `key` column."""
    content, _ = decode(path, encoding)
    rows = (_csv_rows(path, content, key) if path.suffix == ".csv"
            else _json_rows(path, content)[1])
    if missing:
        _blank(rows, frozenset(missing))
    return rows


def decode(path: Path, encoding: str | None) -> tuple[str, str | None]:
    """The text of a file, and a notice when its encoding was not UTF-8 but guessed: the one
    given, else UTF-8 (BOM or not) or UTF-16 by its BOM, else Windows-1252 where UTF-8 fails
    and every byte is one of cp1252's. Refused with the first bad byte's offset and line."""
    data = path.read_bytes()
    if encoding is None:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        else:
            try:
                return data.decode("utf-8-sig"), None
            except UnicodeDecodeError as exc:
                bad = exc
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise _undecodable(path, data, bad, "UTF-8") from None
            return text, (f"{path.name} is not UTF-8 ({_position(data, bad.start)}): read as "
                          "Windows-1252 (cp1252), Excel's default; set encoding: in "
                          "config/fieldmap.yaml if it is another")
    try:
        return data.decode("utf-8-sig" if codecs.lookup(encoding).name == "utf-8"
                           else encoding), None
    except UnicodeDecodeError as exc:
        raise _undecodable(path, data, exc, encoding) from None


def _position(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"byte {offset:,} of the file, line {line:,}"


def _undecodable(path: Path, data: bytes, exc: UnicodeDecodeError, encoding: str) -> ConfigError:
    return ConfigError(
        f"{path}: not {encoding} text ({exc.reason} at {_position(data, exc.start)}, "
        f"{data[exc.start:exc.start + 1]!r}); set the file's encoding as encoding: (e.g. cp1252, "
        "utf-16) in config/fieldmap.yaml, or save it as UTF-8")


def _blank(rows: list[dict[str, Any]], missing: frozenset[str]) -> None:
    """Cells holding a missing-value marker become empty, as an empty cell reads."""
    for row in rows:
        for key, cell in row.items():
            value = cell.get("value", cell.get("display_value")) if type(cell) is dict else cell
            if type(value) is str and value.strip() in missing:
                row[key] = ""


def text(cell: Any) -> str:
    """A cell as text: the stored value of a `{"display_value", "value"}` pair, else the shown
    one; null reads as ""."""
    if type(cell) is dict:
        cell = cell.get("value", cell.get("display_value"))
    return "" if cell is None else str(cell)


def _json_rows(path: Path, content: str) -> tuple[str, list[dict[str, Any]]]:
    """The rows and the key holding them: `result` (Table API) or `records` (list view)."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    for key in ("result", "records"):
        rows = body.get(key) if isinstance(body, dict) else None
        if isinstance(rows, list):
            for index, row in enumerate(rows):
                if not isinstance(row, dict):
                    kind = "null" if row is None else type(row).__name__
                    raise ConfigError(f"{path}: {key}[{index}] is {kind}, not a record")
            return key, rows
    raise ConfigError(f'{path}: expected {{"result": [...]}} (Table API) or {{"records": [...]}} '
                      "(list view JSON export)")


def _csv_line(i: int) -> str:
    return f"line {i + 2}"  # the header is line 1; a quoted line break shifts this


def _csv_rows(path: Path, content: str, key: str | None = "number") -> list[dict[str, Any]]:
    """The rows of a CSV export whose header names `key` (the column every row is known by;
    None: no column is required)."""
    try:
        with io.StringIO(content, newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header:
                raise ConfigError(f"{path}: empty; expected a header row of field names")
            repeated = sorted({name for name in header if header.count(name) > 1})
            if repeated:
                raise ConfigError(f"{path}: column {repeated[0]!r} appears twice in the header")
            if key is not None and key not in header:
                raise ConfigError(f"{path}: no {key!r} column; export with field names as "
                                  "column headers (not labels)")
            rows: list[dict[str, Any]] = []
            for row in reader:
                if None in row or None in row.values():
                    raise ConfigError(f"{path}: line {reader.line_num} has "
                                      f"{'more' if None in row else 'fewer'} values than the "
                                      "header has columns")
                rows.append(row)
            return rows
    except csv.Error as exc:
        raise ConfigError(f"{path}: not a readable CSV file: {exc}") from None


def _check_identity(path: Path, rows: list[dict[str, Any]], where: Callable[[int], str]) -> bool:
    """Every row has a number, and a sys_id if the file carries them; ids are unique. Returns
    whether the file carries sys_ids."""
    ids = any(text(row.get("sys_id")) for row in rows)
    key = "sys_id" if ids else "number"
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        for name in ("number", "sys_id") if ids else ("number",):
            if not text(row.get(name)).strip():
                raise ConfigError(f"{path}: {where(index)} has no {name}")
        value = text(row.get(key))
        if value in first:
            raise ConfigError(f"{path}: {where(index)} repeats {key} {value} of "
                              f"{where(first[value])}")
        first[value] = index
    return ids


def _displayed(rows: list[dict[str, Any]], pmap: ProcessMap, default: bool) -> bool:
    """Whether the rows show labels rather than stored values in their choice fields."""
    specs = [s for s in pmap.fields.values() if s.is_choice or s.type == "ref"]
    shown = stored = 0
    for row in rows[:SAMPLE]:
        for spec in specs:
            cell = row.get(spec.field)
            if type(cell) is dict:
                if "value" in cell:  # display_value=all: the stored value is there
                    stored += 1
                else:
                    shown += 1
            elif cell and spec.is_choice and isinstance(cell, str):
                kind = spec.shows(cell)
                stored += kind == "stored"
                shown += kind == "label"
    return default if shown == stored == 0 else shown > stored


def examples(values: Iterable[str], most: int = 3) -> str:
    """A few distinct values, quoted, for a message."""
    distinct = list(dict.fromkeys(values))
    listed = ", ".join(repr(v) for v in distinct[:most])
    return listed + (f" and {len(distinct) - most} more" if len(distinct) > most else "")
