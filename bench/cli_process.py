"""The `sms-conformance scan` process as a user runs it, start to exit, against the floor.

    python bench/cli_process.py [--platform servicenow|jira] [--records 20000] [--latency 300]
                                [--busy] [--runs 1]
    python bench/cli_process.py --start-only

Starts `sandbox serve` (with `--faults latency=MS` when MS > 0), runs the one-stream floor,
then `sms-conformance scan --full --format json --output FILE` against the sandbox as its own
process: wall time from start to exit (report and history written), its user and system CPU,
peak RSS, and the requests the sandbox served it, per method and table or resource. The floor:
on ServiceNow every table the scan reads whole (bench/contenders.py floor-whole: the process
tables and task_sla); on Jira (`sandbox serve --platform jira`, `scan --source jira` with
JIRA_SITE, JIRA_EMAIL, JIRA_API_TOKEN) the searches a scan sends, each paged whole in one chain
(bench/jira.py floor: the process searches and the local join's passes, every field they ask).
--busy keeps one core spinning in another process while the contenders run. --start-only times
the start of the command line alone (no sandbox). Ratios are what to quote: absolute times vary
with the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import jira
import requests
from run import contender, sandbox

HERE = Path(__file__).parent
CLI = str(Path(sys.executable).with_name("sms-conformance"))


@dataclass(frozen=True)
class Platform:
    """How the bench serves, floors and points the CLI at one platform's sandbox."""

    serve: Callable[[int, str | None], AbstractContextManager[tuple[str, str]]]
    user: str  # the sandbox's user, for its /sandbox/stats
    floor: Callable[[str, str], dict]
    env: Callable[[str, str], dict[str, str]]
    source: list[str]  # the scan's arguments naming the source


def jira_floor(url: str, token: str) -> dict:
    """bench/jira.py's floor over the searches a scan sends (recorded beforehand, untimed)."""
    return jira.run("floor", url, token, json.dumps(jira.subprocess_plan(url, token)))


PLATFORMS = {
    "servicenow": Platform(
        serve=sandbox, user="admin",
        floor=lambda url, password: contender("floor-whole", url, password),
        env=lambda url, password: {"SERVICENOW_INSTANCE": url, "SERVICENOW_USERNAME": "admin",
                                   "SERVICENOW_PASSWORD": password},
        source=[]),
    "jira": Platform(
        serve=jira.jira_sandbox, user=jira.EMAIL, floor=jira_floor,
        env=lambda url, token: {"JIRA_SITE": url, "JIRA_EMAIL": jira.EMAIL,
                                "JIRA_API_TOKEN": token, "JIRA_DEPLOYMENT": "cloud"},
        source=["--source", "jira"]),
}


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


def served(url: str, auth: tuple[str, str]) -> Counter[str]:
    """Requests the sandbox has served so far (this one not counted), per method and table."""
    stats = requests.get(f"{url}/sandbox/stats", auth=auth, timeout=30).json()
    return Counter(stats["by_method_table"])


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


def breakdown(requests_by: Counter[str]) -> str:
    """"GET incident 30, GET task_sla 26, ...": most first."""
    return ", ".join(f"{key} {n}" for key, n in requests_by.most_common())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="servicenow")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--latency", type=int, default=300)
    parser.add_argument("--busy", action="store_true", help="one core kept busy meanwhile")
    parser.add_argument("--runs", type=int, default=1, help="scan runs (each --full)")
    parser.add_argument("--start-only", action="store_true")
    args = parser.parse_args()
    if args.start_only:
        start_times(max(args.runs, 5))
        return
    platform = PLATFORMS[args.platform]
    print(f"load average before: {os.getloadavg()}")
    faults = f"latency={args.latency}ms" if args.latency else None
    with tempfile.TemporaryDirectory() as tmp, platform.serve(args.records, faults) as (url, secret):
        auth = (platform.user, secret)
        busy = multiprocessing.Process(target=spin, daemon=True) if args.busy else None
        if busy:
            busy.start()
        try:
            floor = platform.floor(url, secret)
            env = {**os.environ, **platform.env(url, secret)}
            scans = []
            for run in range(args.runs):
                cmd = [CLI, "scan", *platform.source, "--full", "--format", "json",
                       "--output", str(Path(tmp) / f"report{run}.json"),
                       "--history", str(Path(tmp) / f"h{run}.sqlite"),
                       "--as-of", "2026-11-01T00:00:00Z", "--quiet"]
                before = served(url, auth)
                result = timed(cmd, env)
                sent = +(served(url, auth) - before)
                for key in [k for k in sent if "sandbox" in k]:  # the bench's own stats reads
                    del sent[key]
                scans.append({**result, "requests": sum(sent.values()), "by": sent})
        finally:
            if busy:
                busy.terminate()
                busy.join()
    print(f"load average after: {os.getloadavg()}")
    label = (f"{args.platform}, {args.records:,} incidents, {args.latency} ms, "
             f"{'one core busy' if busy else 'quiet'}")
    print(f"{label}: floor {floor['wall']:.2f} s, {floor['requests']} requests")
    for result in scans:
        print(f"  scan process {result['wall']:.2f} s = {result['wall'] / floor['wall']:.2f}x the "
              f"floor; user {result['user']:.2f} s, sys {result['sys']:.2f} s, "
              f"peak RSS {result['maxrss_mib']:.0f} MiB, {result['requests']} requests, "
              f"exit {result['exit']}")
        print(f"    requests: {breakdown(result['by'])}")


if __name__ == "__main__":
    main()
