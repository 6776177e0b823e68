"""The `sms-conformance scan` process as a user runs it, start to exit, against the floor.

    python bench/cli_process.py [--records 20000] [--latency 300] [--busy] [--runs 1]
    python bench/cli_process.py --start-only

Starts `sandbox serve` (with `--faults latency=MS` when MS > 0), runs the one-stream floor
reading every table the scan reads whole (bench/contenders.py floor-whole: the process tables
and task_sla), then `sms-conformance scan --full --format json --output FILE` against the
sandbox as its own process: wall time from start to exit (report and history written), its user
and system CPU, peak RSS. --busy keeps one core spinning in another process while the
contenders run. --start-only times the start of the command line alone (no sandbox). Ratios
are what to quote: absolute times vary with the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from run import contender, sandbox

HERE = Path(__file__).parent
CLI = str(Path(sys.executable).with_name("sms-conformance"))


def timed(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall seconds from start to exit, the child's user and system CPU seconds, peak RSS."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:3]} exited {proc.returncode}: {err[-2000:]}")
    return {"wall": wall, "user": usage.ru_utime, "sys": usage.ru_stime,
            "maxrss_mib": usage.ru_maxrss / 1024, "exit": proc.returncode}


def served_requests(url: str, password: str) -> int:
    """Requests the sandbox has served so far (this one included)."""
    return int(requests.get(f"{url}/sandbox/stats", auth=("admin", password), timeout=30).json()["total"])


def spin() -> None:
    while True:
        pass


def start_times(runs: int) -> None:
    """The command line's start: best of `runs` for each command, beside Python's own."""
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click, requests, pydantic'":
            [sys.executable, "-c", "import click, requests, pydantic"],
        "python -c 'import sms_conformance.cli'": [sys.executable, "-c", "import sms_conformance.cli"],
        "sms-conformance --help": [CLI, "--help"],
        "sms-conformance scan --help": [CLI, "scan", "--help"],
    }
    base = None
    for name, cmd in cases.items():
        best = min((timed(cmd) for _ in range(runs)), key=lambda r: r["wall"])
        if "import click" in name:
            base = best["wall"]
        ratio = f"  {best['wall'] / base:.2f}x the click+requests+pydantic import" if base else ""
        print(f"{name:<48} {best['wall'] * 1000:6.0f} ms wall  {best['user'] * 1000:6.0f} ms user"
              f"{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--busy", action="store_true", help="one core kept busy meanwhile")
    parser.add_argument("--runs", type=int, default=1, help="scan runs (each --full)")
    parser.add_argument("--start-only", action="store_true")
    args = parser.parse_args()
    if args.start_only:
        start_times(max(args.runs, 5))
        return
    print(f"load average before: {os.getloadavg()}")
    faults = f"latency={args.latency}ms" if args.latency else None
    with tempfile.TemporaryDirectory() as tmp, sandbox(args.records, faults) as (url, password):
        busy = multiprocessing.Process(target=spin, daemon=True) if args.busy else None
        if busy:
            busy.start()
        try:
            floor = contender("floor-whole", url, password)
            env = {**os.environ, "SERVICENOW_INSTANCE": url, "SERVICENOW_USERNAME": "admin",
                   "SERVICENOW_PASSWORD": password}
            scans = []
            for run in range(args.runs):
                cmd = [CLI, "scan", "--full", "--format", "json",
                       "--output", str(Path(tmp) / f"report{run}.json"),
                       "--history", str(Path(tmp) / f"h{run}.sqlite"),
                       "--as-of", "2026-11-01T00:00:00Z", "--quiet"]
                before = served_requests(url, password)
                scans.append({**timed(cmd, env),
                              "requests": served_requests(url, password) - before - 1})
        finally:
            if busy:
                busy.terminate()
                busy.join()
    print(f"load average after: {os.getloadavg()}")
    label = f"{args.records:,} incidents, {args.latency} ms, {'one core busy' if busy else 'quiet'}"
    print(f"{label}: floor (the tables the scan reads whole) {floor['wall']:.2f} s, "
          f"{floor['requests']} requests")
    for result in scans:
        print(f"  scan process {result['wall']:.2f} s = {result['wall'] / floor['wall']:.2f}x the "
              f"floor; user {result['user']:.2f} s, sys {result['sys']:.2f} s, "
              f"peak RSS {result['maxrss_mib']:.0f} MiB, {result['requests']} requests, "
              f"exit {result['exit']}")


if __name__ == "__main__":
    main()
