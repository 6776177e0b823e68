"""What the process metrics cost a scan, per million records: CPU time of `observe` and the
memory the collector holds at the end.

    python bench/metrics_cost.py [--records 1000000]

Records are the sandbox's own (generated, mapped as a scan maps them), observed in a loop;
building them is not timed. Figures vary with the machine: compare them with the scan's own
CPU per record (BENCHMARKS.md, about 75 µs).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from itertools import islice

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.servicenow.file import FileConnector
from sms_conformance.model.records import Process
from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR, generate
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.scan.metrics import METRIC_FIELDS, MetricSettings, ProcessMetrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=20_000, help="distinct records, reused")
    args = parser.parse_args()
    import tempfile
    from pathlib import Path

    config = ConfigDir(None)
    with tempfile.TemporaryDirectory() as tmp:
        export(generate(records=args.pool, seed=7), Path(tmp))
        connector = FileConnector(Path(tmp), config.fieldmap())
        pool = []
        for process in Process:
            request = FetchRequest(process, (), METRIC_FIELDS[process.value], None)
            pool.extend(connector.fetch(request))
    settings = MetricSettings.from_settings(config.settings())

    def observe_all() -> tuple[ProcessMetrics, float]:
        metrics = ProcessMetrics(settings, DEFAULT_ANCHOR)
        rounds = -(-args.records // len(pool))
        stream = islice((r for _ in range(rounds) for r in pool), args.records)
        started = time.process_time()
        for record in stream:
            metrics.observe(record)
        metrics.result()
        return metrics, time.process_time() - started

    _, seconds = observe_all()  # timed without tracing
    tracemalloc.start()
    observe_all()  # memory: what the collector allocates and keeps at its peak
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per_million = seconds * 1_000_000 / args.records
    print(f"{args.records:,} records observed ({len(pool):,} distinct, reused): "
          f"{seconds:.2f} s CPU, {per_million:.2f} s per million records "
          f"({per_million:.2f} µs a record); peak traced memory {peak / 2**20:.2f} MiB")

if __name__ == "__main__":
    main()
