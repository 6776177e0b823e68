"""One benchmark contender per process, so each has its own peak RSS.

    python bench/contenders.py KIND URL PASSWORD [HISTORY]

KIND: floor | floor-whole | scan | scan-one-stream | scan-lookups | pysnow | tasks-sequential |
tasks-concurrent. Prints one JSON line: wall seconds, peak RSS (KiB), records read, requests sent
by this client. floor-whole reads the process tables unfiltered; both floors read task_sla whole
(as a full scan does); scan-one-stream is the scan with source.streams 1; scan-lookups is the
scan with one stream and every link looked up (sys_idIN batches: the scan before the local
join).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson
import requests

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.servicenow.paging import BASE_PARAMS
from sms_conformance.connectors.servicenow.query import EVERYTHING, compile_scopes, page_query
from sms_conformance.connectors.servicenow.sla_table import SLA_PAGE
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.records import Process
from sms_conformance.model.slas import reads_slas
from sms_conformance.rules.fields import rule_fields
from sms_conformance.scan.scanner import OWNER_FIELD, Scanner, ScanOptions
from sms_conformance.store.history import History

PAGE = 1000
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def pages_to_read(whole: bool = False):
    """(table, filter, fields) per process, exactly as the scan asks for them (whole: every
    record of the table, no scope filter), then the SLA records a full scan reads by table
    (task_sla, every row), with the fields it asks of them."""
    config = ConfigDir(None)
    fieldmap, rules = config.fieldmap(), config.rules()
    slas: dict[str, list[str]] = {}
    for process in Process:
        chosen = [r for r in rules if r.process == process]
        pmap = fieldmap.for_process(process)
        fields = set().union(*(rule_fields(r) for r in chosen)) | {OWNER_FIELD}
        scopes = () if any(not r.scope for r in chosen) else tuple(r.scope for r in chosen)
        filter_ = EVERYTHING if whole else compile_scopes(scopes, pmap)
        yield pmap.table, filter_, sorted({*pmap.platform_fields(fields), "sys_id"})
        if pmap.slas is not None and reads_slas(fields):
            slas[pmap.slas.table] = pmap.slas.summary_fields()
    for table, fields in slas.items():
        yield table, EVERYTHING, fields


def page_of(table: str) -> int:
    """The page size the scan asks of `table`: the floor asks the same, so that neither gains
    from pages the other does not ask for."""
    return SLA_PAGE if table == "task_sla" else PAGE


def floor(url: str, password: str, whole: bool = False) -> dict:
    """Plain requests + orjson: the same keyset pages, one after another, decoded, nothing
    else."""
    session = requests.Session()
    session.auth = ("admin", password)
    session.headers["Accept"] = "application/json"
    records = sent = 0
    for table, filter_, fields in pages_to_read(whole):
        after = None
        while True:
            params = {**BASE_PARAMS, "sysparm_query": page_query(filter_, after=after),
                      "sysparm_fields": ",".join(fields), "sysparm_limit": str(page_of(table))}
            rows = orjson.loads(session.get(f"{url}/api/now/table/{table}", params=params).content)["result"]
            sent += 1
            if not rows:
                break
            records += len(rows)
            after = rows[-1]["sys_id"]
    return {"records": records, "requests": sent}


def pysnow_stock(url: str, password: str) -> dict:
    """pysnow's own way: resource.get(..., stream=True), page by page with offsets."""
    import pysnow

    client = pysnow.Client(host=url.split("://", 1)[1], user="admin", password=password, use_ssl=False)
    records = sent = 0
    for table, filter_, fields in pages_to_read():
        res = client.resource(api_path=f"/table/{table}")
        offset = 0
        while True:
            query = page_query(filter_)
            response = res.get(query=query, fields=fields, limit=PAGE, offset=offset, stream=True)
            sent += 1
            count = sum(1 for _ in response.all())
            records += count
            if count < PAGE:
                break
            offset += PAGE
    return {"records": records, "requests": sent}


def scan(url: str, password: str, history: str, streams: int | None = None,
         local_join: bool = True) -> dict:
    config = ConfigDir(None)
    fieldmap = config.fieldmap()
    connector = sandbox_connector(url, password, fieldmap)
    if streams is not None:
        connector.streams = connector.gate.limit = streams
    store = History(Path(history))
    scanner = Scanner(connector, config.rules(), store, local_join=local_join)
    outcome = scanner.run(
        ScanOptions(now=NOW, waivers=Waivers([], NOW.date()), incremental=True),
        lambda p: fieldmap.for_process(p).table,
    )
    scanner.advance_watermarks(outcome)
    return {"records": sum(outcome.records.values()), "requests": connector.request_count,
            "lookups": outcome.lookups, "complete": outcome.complete}


def tasks(url: str, password: str, concurrent: bool) -> dict:
    connector = sandbox_connector(url, password, ConfigDir(None).fieldmap())
    rows = [{"short_description": f"bench task {i}", "correlation_id": f"bench-{concurrent}-{i}",
             "correlation_display": "sms-conformance", "incident": ""} for i in range(1000)]
    if concurrent:
        made = connector.create_tasks("incident_task", rows)
    else:
        made = [connector.create_task("incident_task", row) for row in rows]
    return {"records": len(made), "requests": connector.request_count}


def main() -> None:
    kind, url, password = sys.argv[1:4]
    started, cpu_started = time.perf_counter(), time.process_time()
    if kind in ("floor", "floor-whole"):
        result = floor(url, password, whole=kind == "floor-whole")
    elif kind == "pysnow":
        result = pysnow_stock(url, password)
    elif kind == "scan":
        result = scan(url, password, sys.argv[4])
    elif kind == "scan-one-stream":
        result = scan(url, password, sys.argv[4], streams=1)
    elif kind == "scan-lookups":
        result = scan(url, password, sys.argv[4], streams=1, local_join=False)
    elif kind.startswith("tasks-"):
        result = tasks(url, password, concurrent=kind == "tasks-concurrent")
    else:
        raise SystemExit(f"unknown contender {kind}")
    result["wall"] = time.perf_counter() - started
    result["cpu_work"] = time.process_time() - cpu_started  # after imports, all threads
    result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


if __name__ == "__main__":
    main()
