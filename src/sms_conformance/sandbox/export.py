"""Write a dataset as Table API exports: one ``{"result": [...]}`` file per process table.

Each record is rendered exactly as a ``sysparm_display_value=false`` GET renders it (references
as ``{"link", "value"}`` under ``base_url``), streamed in chunks so 1,000,000 incidents never
become one giant string. ``planted.json`` maps record number -> planted rule ids.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from sms_conformance.sandbox.dataset import Dataset
from sms_conformance.sandbox.store import Store

EXPORT_TABLES = ("incident", "problem", "change_request")
DEFAULT_BASE_URL = "https://sandbox.service-now.com"
_CHUNK = 2000


def export(dataset: Dataset, out_dir: str | Path, base_url: str = DEFAULT_BASE_URL,
           tables: tuple[str, ...] = EXPORT_TABLES) -> dict[str, Path]:
    """Write DIR/<table>.json for each table plus DIR/planted.json; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    store = Store(dataset)
    written: dict[str, Path] = {}
    for table in tables:
        rows = store.tables[table].rows
        path = out / f"{table}.json"
        with path.open("wb") as fh:
            fh.write(b'{"result":[')
            for start in range(0, len(rows), _CHUNK):
                records = store.render(table, rows[start:start + _CHUNK], base_url)
                if start:
                    fh.write(b",")
                fh.write(b",".join(orjson.dumps(r) for r in records))
            fh.write(b"]}")
        written[table] = path
    planted = out / "planted.json"
    planted.write_bytes(orjson.dumps(dataset.planted, option=orjson.OPT_SORT_KEYS
                                     | orjson.OPT_INDENT_2))
    written["planted"] = planted
    return written
