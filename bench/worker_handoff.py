"""What handing pages to a worker process would cost, against evaluating them here (issue 26
point 4: evaluate pages in a worker process beside the reader).

    python bench/worker_handoff.py URL PASSWORD [--pages 5]

Reads the first incident pages of a running sandbox through the ServiceNow connector (the
records the scan evaluates), then per page of 1,000 records, best of 5 each:

- the engine's evaluation of every incident rule here (RuleSet.evaluate);
- what the reader would spend on a worker instead: pickling the page's records out, and
  unpickling the page's results that come back (the store, the metrics and write-back stay with
  the reader); the worker's own unpickling and pickling run on the other core;
- the page's rows as the Table API sent them (plain dicts), pickled: what the reader would spend
  handing a worker the rows instead, were the worker to turn rows into records too.

A worker pays off only where what the reader spends on it is well below what it no longer
evaluates. Prints microseconds a record.
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.evaluate import RuleSet
from sms_conformance.engine.links import LinkResolver
from sms_conformance.model.records import Process, Record
from sms_conformance.rules.checks import Context
from sms_conformance.rules.fields import rule_fields

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def best(run: Callable[[], Any], times: int = 5) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        spent.append(time.perf_counter() - started)
    return min(spent)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("password")
    parser.add_argument("--pages", type=int, default=5)
    args = parser.parse_args()
    config = ConfigDir(None)
    fieldmap, rules = config.fieldmap(), config.rules()
    connector = sandbox_connector(args.url, args.password, fieldmap)
    incident = [r for r in rules if r.process == Process.INCIDENT]
    fields = sorted(set().union(*(rule_fields(r) for r in incident)))
    request = FetchRequest(Process.INCIDENT, (), frozenset(fields) | {"assignment_group"}, None)
    records: list[Record] = []
    for record in connector.fetch(request):
        records.append(record)
        if len(records) >= args.pages * 1000:
            break
    links = LinkResolver(connector, rules, extra_refs=("assignment_group",))
    links.expect("incident", connector.expected_total(Process.INCIDENT))
    ctx, rule_set = Context(NOW, links), RuleSet(rules)
    pages = [records[i:i + 1000] for i in range(0, len(records), 1000)]
    per_record = 1e6 / len(records)
    engine = sum(best(lambda p=p: rule_set.evaluate(p, ctx)) for p in pages)
    out = [pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL) for p in pages]
    back = [pickle.dumps(rule_set.evaluate(p, ctx), protocol=pickle.HIGHEST_PROTOCOL)
            for p in pages]
    rows = [[dict(r.raw) for r in p] for p in pages]
    costs = {
        "evaluated here (RuleSet.evaluate)": engine,
        "the reader pickling the records out": sum(
            best(lambda p=p: pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL)) for p in pages),
        "the worker unpickling them": sum(best(lambda b=b: pickle.loads(b)) for b in out),
        "the reader unpickling the results back": sum(
            best(lambda b=b: pickle.loads(b)) for b in back),
        "the reader pickling raw rows out instead": sum(
            best(lambda p=p: pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL)) for p in rows),
    }
    print(f"{len(records)} incidents, {len(incident)} rules; results "
          f"{sum(map(len, back)) / len(records):.0f} bytes a record pickled")
    for name, spent in costs.items():
        print(f"{name + ':':<44} {spent * per_record:6.2f} us a record")


if __name__ == "__main__":
    main()
