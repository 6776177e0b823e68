"""The JSM sandbox benchmark (issue 10): requests and wall time against a plain requests floor.

    python bench/jira.py [--records 50000] [--latency MS] [--markdown FILE]
    python bench/jira.py --records 20000 --page-study   # two narrower searches or one?

Starts `sandbox serve --platform jira` with N incidents (about 1.4 N issues in all) in its own
process, then runs each contender in its own process (so peak RSS is its own):

- floor: plain requests + orjson, POST /rest/api/3/search/jql with nextPageToken, one page
  after another, over exactly the searches a scan sends (JQL, fields, page size; the process
  searches and the local join's passes, each whole: recorded from a scan made beforehand);
- read: the Jira connector's fetch of the three processes, nothing else;
- scan: the core scanner over the connector with the built-in pack (every rule, links,
  findings into a history store in a temporary directory), as `scan` runs it.

--latency MS adds MS to every REST request of the sandbox (its `--faults latency=`). Ratios are
what to quote: absolute times vary with the machine.

    python bench/jira.py --contender KIND URL TOKEN [HISTORY]   # one contender (internal)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import orjson
import requests

from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.fieldmap import load_jira_field_map
from sms_conformance.connectors.jira.settings import connector_from_env
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.records import Process
from sms_conformance.rules.loader import builtin_pack_dir, load_rules
from sms_conformance.rules.model import Rule
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History

sys.path.insert(0, str(Path(__file__).parent))
from run import free_port  # noqa: E402 - bench/ is not a package

EMAIL = "admin@example.com"
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
SEARCH = "/rest/api/3/search/jql"


@contextmanager
def jira_sandbox(records: int, faults: str | None = None) -> Iterator[tuple[str, str]]:
    port, token = free_port(), secrets.token_hex(8)
    cmd = [sys.executable, "-m", "sms_conformance", "sandbox", "serve", "--platform", "jira",
           "--port", str(port), "--records", str(records), "--seed", "7", "--password", token]
    if faults:
        cmd += ["--faults", faults]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while True:
            try:
                requests.get(f"{url}/rest/api/3/myself", auth=(EMAIL, token), timeout=5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("jira sandbox did not start") from None
                time.sleep(0.2)
        print(f"jira sandbox with {records} incidents ready in "
              f"{time.perf_counter() - started:.1f}s", file=sys.stderr)
        yield url, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# -- contenders (each in its own process) -----------------------------------------------------

def rules() -> list[Rule]:
    return load_rules([builtin_pack_dir()], load_jira_field_map(), load_settings())


def connector(url: str, token: str) -> JiraConnector:
    env = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": token, "JIRA_DEPLOYMENT": "cloud"}
    return connector_from_env(url, load_jira_field_map(), env)


def scanner(url: str, token: str, history: Path) -> Scanner:
    return Scanner(connector(url, token), rules(), History(history))


def options() -> ScanOptions:
    return ScanOptions(now=NOW, waivers=Waivers([], NOW.date()), incremental=True)


def where(process: Process) -> str:
    """The watermark key of a process (one project, one work type per process here)."""
    return f"ITSM/{process.value}"


class Recorder:
    """The searches a connector sends, each once as a whole (not its key ranges, pages after
    the first or the one-issue probe of the highest key)."""

    def __init__(self, reads: object) -> None:
        self.reads = reads
        self.plan: list[dict[str, object]] = []

    def post(self, path: str, body: dict[str, object], *, write: bool = False) -> object:
        search = {k: body.get(k) for k in ("jql", "fields", "maxResults")}
        if (path == SEARCH and "nextPageToken" not in body and "issuekey" not in str(body["jql"])
                and int(str(body.get("maxResults"))) > 1 and search not in self.plan):
            self.plan.append(search)
        return self.reads.post(path, body, write=write)  # type: ignore[attr-defined]


def searches(url: str, token: str) -> list[dict[str, object]]:
    """The searches a scan sends: their JQL, fields and page size, recorded from a scan made
    beforehand (untimed): the process searches and the local join's passes, each whole."""
    with tempfile.TemporaryDirectory() as tmp:
        scan = scanner(url, token, Path(tmp) / "h.sqlite")
        conn = scan.connector
        assert isinstance(conn, JiraConnector)
        recorder = Recorder(conn.reads)
        conn.reads = recorder
        outcome = scan.run(options(), where)
        if not outcome.complete:
            raise SystemExit(f"scan incomplete: {outcome.error}")
        return recorder.plan


def floor(url: str, token: str, plan: list[dict[str, object]]) -> dict[str, int]:
    """Plain requests + orjson: the same search pages, one after another, decoded, nothing
    else."""
    session = requests.Session()
    session.auth = (EMAIL, token)
    session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
    issues = sent = 0
    for search in plan:
        body = dict(search)
        while True:
            page = orjson.loads(session.post(url + SEARCH, data=orjson.dumps(body)).content)
            sent += 1
            issues += len(page["issues"])
            if page.get("isLast") is True or not page.get("nextPageToken"):
                break
            body["nextPageToken"] = page["nextPageToken"]
    return {"records": issues, "requests": sent}


def narrower(url: str, token: str, plan: list[dict[str, object]]) -> list[tuple[str, int, int]]:
    """Per search of more than 20 fields: its pages whole, and as two searches of half the
    fields each (issues joined by id): whether the field count's lower page size costs more
    than a second search."""
    out = []
    for search in plan:
        fields = list(search["fields"])  # type: ignore[call-overload]
        if len(fields) <= 20:
            continue
        half = len(fields) // 2
        whole = floor(url, token, [search])["requests"]
        split = floor(url, token, [{**search, "fields": fields[:half]},
                                   {**search, "fields": fields[half:]}])["requests"]
        out.append((f"{str(search['jql'])[:60]}... ({len(fields)} fields)", whole, split))
    return out


def read(url: str, token: str, history: Path) -> dict[str, int]:
    """The connector's fetch of the three processes, one after another, as the scan asks."""
    scan = scanner(url, token, history)
    records = sum(1 for p in scan.processes() for _ in scan.connector.fetch(
        scan._request(p, where(p), options())))
    return {"records": records, "requests": scan.connector.request_count}


def full_scan(url: str, token: str, history: Path) -> dict[str, int]:
    scan = scanner(url, token, history)
    outcome = scan.run(options(), where)
    if not outcome.complete:
        raise SystemExit(f"scan incomplete: {outcome.error}")
    scan.advance_watermarks(outcome)
    failed = sum(c.failed for c in outcome.counts.values())
    return {"records": sum(outcome.records.values()), "requests": scan.connector.request_count,
            "lookups": outcome.lookups, "failed": failed}


def contender(kind: str, url: str, token: str, extra: str) -> dict[str, float]:
    started = time.perf_counter()
    if kind == "plan":  # its own process, so the contenders' peak RSS is not the plan's
        return {"plan": searches(url, token)}  # type: ignore[dict-item]
    if kind == "floor":
        result = floor(url, token, json.loads(extra))
    elif kind == "read":
        result = read(url, token, Path(extra))
    elif kind == "scan":
        result = full_scan(url, token, Path(extra))
    else:
        raise SystemExit(f"unknown contender {kind}")
    return {**result, "wall": time.perf_counter() - started,
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


# -- driver -----------------------------------------------------------------------------------

def run(kind: str, url: str, token: str, extra: str) -> dict[str, float]:
    """One contender in a process of its own; besides its own figures, the process's time
    from start to exit (interpreter and imports included, as a user waits for it) and the CPU
    it used (user, system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--contender", kind, url, token, extra],
                         check=True, capture_output=True, text=True).stdout
    process = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result.update(process=process, user=after.ru_utime - before.ru_utime,
                  system=after.ru_stime - before.ru_stime)
    print(f"  {kind:<6} {result['wall']:8.2f}s  (process {process:.2f}s, user CPU "
          f"{result['user']:.2f}s, system {result['system']:.2f}s)  rss "
          f"{result['maxrss_kib'] / 1024:7.1f} MiB  records {result['records']:>8}  requests "
          f"{result['requests']:>6}", file=sys.stderr)
    return result


def subprocess_plan(url: str, token: str) -> list[dict[str, object]]:
    out = subprocess.run([sys.executable, __file__, "--contender", "plan", url, token, ""],
                         check=True, capture_output=True, text=True).stdout
    plan: list[dict[str, object]] = json.loads(out.strip().splitlines()[-1])["plan"]
    return plan


def measure(records: int, latency: int) -> list[tuple[str, str, str]]:
    faults = f"latency={latency}ms" if latency else None
    with tempfile.TemporaryDirectory() as tmp, jira_sandbox(records, faults) as (url, token):
        plan = json.dumps(subprocess_plan(url, token))
        runs = {"floor": run("floor", url, token, plan),
                "read": run("read", url, token, str(Path(tmp) / "read.sqlite")),
                "scan": run("scan", url, token, str(Path(tmp) / "scan.sqlite"))}
    base = runs["floor"]
    names = {
        "floor": "floor: requests + orjson, the connector's search pages one after another",
        "read": "connector read of the three processes (fetch only)",
        "scan": "scan: built-in pack, links, findings, history",
    }
    rows = []
    for kind, result in runs.items():
        detail = f"{result['records']:,} issues"
        if kind == "scan":
            detail += f", {result['lookups']:,} look-ups, {result['failed']:,} failed"
        rows.append((f"{names[kind]} ({latency} ms)",
                     f"{result['wall']:.2f} s = {result['wall'] / base['wall']:.2f}x",
                     f"{result['requests']} requests = {result['requests'] / base['requests']:.2f}x, "
                     f"{result['maxrss_kib'] // 1024} MiB, process {result['process']:.2f} s, user "
                     f"CPU {result['user']:.2f} s, {detail}"))
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--contender":
        print(json.dumps(contender(*sys.argv[2:6])))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--latency", type=int, default=0, help="ms added to every request")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--page-study", action="store_true",
                        help="only: pages of each search over 20 fields, whole and as two")
    args = parser.parse_args()
    if args.page_study:
        with jira_sandbox(args.records) as (url, token):
            for name, whole, split in narrower(url, token, searches(url, token)):
                print(f"{name}: {whole} requests whole, {split} as two narrower searches")
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows = measure(args.records, args.latency)
    print(f"load average at end: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    width = max(len(r[0]) for r in rows)
    for name, wall, rest in rows:
        print(f"{name:<{width}}  {wall:<18}  {rest}")
    if args.markdown:
        lines = ["| contender | wall time / floor | requests / floor, peak RSS |", "|---|---|---|"]
        lines += [f"| {n} | {w} | {r} |" for n, w, r in rows]
        args.markdown.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
