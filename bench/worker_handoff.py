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

import pickle

from incident_pages import best, from_command_line


def main() -> None:
    read = from_command_line()
    pages, rule_set, ctx, per_record = read.pages, read.rule_set, read.ctx, read.per_record
    records, incident = read.records, read.rules
    engine = read.evaluated()
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
