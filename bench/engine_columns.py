"""What a column library would cost the engine, against its pure-Python page kernels.

    python bench/engine_columns.py URL PASSWORD [--pages 5]

Reads the first incident pages of a running sandbox through the ServiceNow connector (the
records the scan evaluates), then per page of 1,000 records: the engine's evaluation of every
incident rule (RuleSet.evaluate, best of 5), against the least a column library needs before it
evaluates anything: the columns of the fields those rules read taken from the records, made
plain (references as ids, unknown values as null beside a mask) and built as numpy, pyarrow
and polars arrays (best of 5). And each library's import time (best of 5 processes, less
`python -c pass`). Libraries not installed are skipped. Prints one line per contender.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from incident_pages import best, from_command_line

from sms_conformance.model.records import Record, Ref, Unknown


def import_time(module: str) -> float:
    def start(code: str) -> float:
        return best(lambda: subprocess.run([sys.executable, "-c", code], check=True))
    return start(f"import {module}") - start("pass")


def plain_columns(page: list[Record], fields: list[str]) -> list[tuple[list[Any], list[bool]]]:
    """Each field's values as a column library takes them: plain values and an unknown mask."""
    columns = []
    for name in fields:
        values = [r.fields.get(name) for r in page]
        unknown = [v.__class__ is Unknown for v in values]
        columns.append(([None if u else v.id if isinstance(v, Ref) else v
                         for v, u in zip(values, unknown, strict=True)], unknown))
    return columns


def main() -> None:
    read = from_command_line()
    pages, fields, per_record = read.pages, read.fields, read.per_record
    incident, records = read.rules, read.records
    engine = read.evaluated()
    print(f"{len(records)} incidents, {len(incident)} rules reading {len(fields)} fields")
    print(f"engine, pure-Python kernels, all incident rules: {engine * per_record:6.2f} us a record")
    shared = sum(best(lambda p=p: plain_columns(p, fields)) for p in pages)
    print(f"columns taken from the records and made plain (any library): "
          f"{shared * per_record:6.2f} us a record")
    builders: dict[str, Callable[[list[Any]], Any]] = {}
    if importlib.util.find_spec("numpy"):
        import numpy as np
        builders["numpy"] = lambda values: np.array(values, dtype=object)
    if importlib.util.find_spec("pyarrow"):
        import pyarrow as pa
        builders["pyarrow"] = lambda values: pa.array(values, from_pandas=False)
    if importlib.util.find_spec("polars"):
        import polars as pl
        builders["polars"] = lambda values: pl.Series(values, strict=False)
    columns = [plain_columns(p, fields) for p in pages]
    for name, build in builders.items():
        def arrays(page_columns: list[tuple[list[Any], list[bool]]],
                   build: Callable[[list[Any]], Any] = build) -> None:
            for values, unknown in page_columns:
                build(values)
                build(unknown)
        try:
            spent = sum(best(lambda c=c: arrays(c)) for c in columns)
        except Exception as exc:  # a library refusing mixed Python values says so
            print(f"{name}: cannot build the columns: {type(exc).__name__}: {exc}")
            continue
        print(f"{name}: + building its arrays {spent * per_record:6.2f} us a record "
              f"(before evaluating anything); import {import_time(name) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
