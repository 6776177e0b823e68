"""Benchmarks against the sandbox on loopback; prints figures (and Markdown with --markdown).

    python bench/run.py [--records 200000] [--big 1000000] [--skip-big] [--markdown FILE]
    python bench/run.py --latency 300 [--records 20000] [--skip-pysnow] [--markdown FILE]

--latency MS adds MS to every request of the sandbox (its `--faults latency=`), as a real
instance's page time, and measures the scan against the one-stream floors only.

Every contender reads the same data from the same sandbox process, each contender in its own
process (so peak RSS is its own). Ratios are what to quote: absolute times vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

HERE = Path(__file__).parent
PAGE, BATCH = 1000, 100


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def sandbox(records: int, faults: str | None = None):
    port, password = free_port(), secrets.token_hex(8)
    cmd = [sys.executable, "-m", "sms_conformance", "sandbox", "serve", "--port", str(port),
           "--records", str(records), "--seed", "7", "--password", password]
    if faults:
        cmd += ["--faults", faults]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while True:
            try:
                requests.get(f"{url}/api/now/table/sys_user_group?sysparm_limit=1",
                             auth=("admin", password), timeout=5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("sandbox did not start") from None
                time.sleep(0.2)
        print(f"sandbox with {records} incidents ready in {time.perf_counter() - started:.1f}s",
              file=sys.stderr)
        yield url, password
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def contender(kind: str, url: str, password: str, *extra: str) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "contenders.py"), kind, url, password, *extra],
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    print(f"  {kind:<18} {result['wall']:8.2f}s  rss {result['maxrss_kib'] / 1024:7.1f} MiB  "
          f"records {result['records']:>8}  requests {result['requests']:>6}", file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-pysnow", action="store_true")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--latency", type=int, help="ms added to every request; floors and scans only")
    args = parser.parse_args()
    if args.latency is not None:
        write(latency_rows(args.records, args.latency, args.skip_pysnow), args.markdown)
        return
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, sandbox(args.records) as (url, password):
        floor = contender("floor", url, password)
        history = str(Path(tmp) / "h.sqlite")
        ours = contender("scan", url, password, history)
        rescan = contender("scan", url, password, history)
        floor2 = contender("floor", url, password)
        best_floor = min(floor["wall"], floor2["wall"])
        rows.append(("scan wall time / floor (requests + orjson, same pages)",
                     f"{ours['wall'] / best_floor:.2f}x", "<= 1.5x"))
        if not args.skip_pysnow:
            stock = contender("pysnow", url, password)
            rows.append(("pysnow stock (stream=True, offset pages) / our scan",
                         f"{stock['wall'] / ours['wall']:.1f}x", ">= 5x"))
            rows.append(("pysnow stock / floor (fetch and decode only, no rules)",
                         f"{stock['wall'] / best_floor:.1f}x", "(for reading the above)"))
        bound = math.ceil(ours["records"] / PAGE) + math.ceil(ours["lookups"] / BATCH) + 3
        rows.append(("HTTP requests of the scan",
                     f"{ours['requests']} ({ours['records']} records, {ours['lookups']} look-ups)",
                     f"<= {bound} = ceil(records/{PAGE}) + ceil(look-ups/{BATCH}) + 3"))
        rows.append(("requests of a rescan with nothing changed", f"{rescan['requests']} for 3 tables",
                     "<= 2 per table"))
        small_rss = ours["maxrss_kib"]
    if not args.skip_big:
        with tempfile.TemporaryDirectory() as tmp, sandbox(args.big) as (url, password):
            big = contender("scan", url, password, str(Path(tmp) / "h.sqlite"))
        rows.append((f"peak RSS of the scan, {args.big:,} / {args.records:,} incidents",
                     f"{big['maxrss_kib'] / small_rss:.2f} ({big['maxrss_kib'] // 1024} / "
                     f"{small_rss // 1024} MiB)", "<= 1.25"))
    with sandbox(2000, faults="latency=20ms") as (url, password):
        seq = contender("tasks-sequential", url, password)
        conc = contender("tasks-concurrent", url, password)
    rows.append(("1,000 task creations, 20 ms latency: sequential / concurrent",
                 f"{seq['wall'] / conc['wall']:.1f}x", ">= 4x"))
    write(rows, args.markdown)


def latency_rows(records: int, latency: int, skip_pysnow: bool) -> list[tuple[str, str, str]]:
    """The scan against the one-stream floor reading the tables whole (task_sla too), at `latency`."""
    faults = f"latency={latency}ms" if latency else None
    with tempfile.TemporaryDirectory() as tmp, sandbox(records, faults) as (url, password):
        runs = {kind: contender(kind, url, password, *([str(Path(tmp) / f"{kind}.sqlite")]
                                                        if kind.startswith("scan") else []))
                for kind in ("floor-whole", "floor", "scan", "scan-one-stream", "scan-lookups",
                             *(() if skip_pysnow else ("pysnow",)))}
    base = runs["floor-whole"]
    names = {
        "floor-whole": "floor: plain requests + orjson, the tables whole (task_sla too), page after page",
        "floor": "floor on the scan's scoped pages",
        "scan": "scan (local join, source.streams 4)",
        "scan-one-stream": "scan, one stream (local join)",
        "scan-lookups": "scan, one stream, links looked up (before this change)",
        "pysnow": "pysnow stock read (stream=True, offset pages, scoped)",
    }
    rows = []
    for kind, run in runs.items():
        target = ""
        if kind == "scan" and latency:
            target = f"<= 0.5x, <= {base['requests'] + 10} requests (acceptance at 300 ms)"
        elif kind == "scan":
            target = f"<= 1.5x the scoped floor ({run['wall'] / runs['floor']['wall']:.2f}x)"
        rows.append((f"{names[kind]} ({latency} ms)",
                     f"{run['wall']:.2f} s = {run['wall'] / base['wall']:.2f}x, "
                     f"{run['requests']} requests, {run['maxrss_kib'] // 1024} MiB", target))
    return rows


def write(rows: list[tuple[str, str, str]], markdown: Path | None) -> None:
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<28}  target {target}")
    if markdown:
        lines = ["| measure | result | target |", "|---|---|---|"]
        lines += [f"| {n} | {v} | {t} |" for n, v, t in rows]
        markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
