"""Findings, counts and metrics of a base commit against this checkout, case by case.

    python bench/compare_outputs.py [--base COMMIT] [--records 1000] [--seeds 7,11]
                                    [--sandbox-from head|base] [--only PART]

Checks the base commit out into a throwaway git worktree under /tmp (removed afterwards) and
runs `sms-conformance scan --full --format json` and `report metrics --format json` with each
tree's own code (`PYTHONPATH=TREE/src`, the same interpreter) on the same inputs:

- the ServiceNow and the Jira sandbox (`sandbox serve`, 127.0.0.1) at each seed, each served
  once from this checkout's code (`--sandbox-from base`: the base's) and scanned by both trees;
- every directory of real exports in tests/realdata read as a file source as it is, and the
  derived cases the realdata tests scan (the event log's final states with its field map, the
  Jira exports with their sites' maps), taken from this checkout's tests.

Per case it prints "identical" or the differences: findings by rule + record + status (and,
for findings on both sides, the fields that differ), counts per rule, the rest of the summary,
process metrics, exit code and the scan's notices. Ignored as legitimately different: scan ids,
start and finish times, the tool version and digests, this run's temporary paths. Exit 1 when
any case differs, 2 when a case could not be run. The base default is `git merge-base HEAD
main`. HEAD means this checkout's working tree (uncommitted edits included; a note says so).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REALDATA = ROOT / "tests" / "realdata"
AS_OF = "2026-11-01T00:00:00Z"
JIRA_EMAIL = "admin@example.com"
SHOWN = 12  # differences listed per part; the rest are counted
# Keys of the report's scan block that differ from run to run by nature.
SCAN_VOLATILE = {"id", "started_at", "finished_at"}

sys.path[:0] = [str(HERE), str(ROOT)]
from run import free_port  # noqa: E402 - bench/ is not a package
from tests.realdata.test_event_log import UCI_MAP, final_states  # noqa: E402
from tests.realdata.test_jira_realdata import CSV_MAP, PAGE_MAP  # noqa: E402


@dataclass(frozen=True)
class Case:
    """One scan, run alike by both trees: `args` after `scan`, the environment it adds."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    exit: int
    report: dict[str, Any] | None
    metrics: dict[str, Any] | None
    stderr: str


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@contextmanager
def base_tree(commit: str, tmp: Path) -> Iterator[Path]:
    """The commit checked out in a detached worktree, removed (and pruned) afterwards."""
    path = tmp / "base"
    git("worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path
    finally:
        git("worktree", "remove", "--force", str(path))


def tree_env(tree: Path, home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The tree's code first on the path, no credentials, history or config of the caller."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SERVICENOW_", "JIRA_", "SMS_CONFORMANCE_", "SMS_SANDBOX_"))}
    env.update({"PYTHONPATH": str(tree / "src"), "XDG_STATE_HOME": str(home / "state"),
                "XDG_CONFIG_HOME": str(home / "config"), "NO_COLOR": "1", **extra})
    return env


@contextmanager
def served(platform: str, tree: Path, records: int, seed: int, home: Path) -> Iterator[Case]:
    """`sandbox serve` of `tree` on a free loopback port, as a case both trees scan."""
    port, password = free_port(), secrets.token_hex(8)
    cmd = [sys.executable, "-m", "sms_conformance", "sandbox", "serve", "--platform", platform,
           "--port", str(port), "--records", str(records), "--seed", str(seed),
           "--as-of", AS_OF[:10], "--password", password]
    proc = subprocess.Popen(cmd, env=tree_env(tree, home, {}), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    if platform == "jira":
        probe, auth = f"{url}/rest/api/3/myself", (JIRA_EMAIL, password)
        case = Case(f"jira sandbox, seed {seed}", ("--source", "jira", "--site", url),
                    {"JIRA_EMAIL": JIRA_EMAIL, "JIRA_API_TOKEN": password,
                     "JIRA_DEPLOYMENT": "cloud"})
    else:
        probe, auth = f"{url}/api/now/table/sys_user_group?sysparm_limit=1", ("admin", password)
        case = Case(f"servicenow sandbox, seed {seed}", ("--source", "servicenow", "--instance", url),
                    {"SERVICENOW_USERNAME": "admin", "SERVICENOW_PASSWORD": password})
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                requests.get(probe, auth=auth, timeout=5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    print(f"{platform} sandbox did not start: {err[-1000:]}", file=sys.stderr)
                    raise SystemExit(2) from None
                time.sleep(0.2)
        yield case
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def realdata_cases(work: Path) -> Iterator[Case]:
    """Every export directory as it is, then the derived cases the realdata tests scan."""
    for directory in sorted(p for p in REALDATA.iterdir() if p.is_dir() and p.name != "__pycache__"):
        yield Case(f"realdata {directory.name}", ("--source", f"file:{directory}"))
    log = final_states(work / "uci-final-states")
    yield Case("realdata uci_event_log final states, its field map",
               ("--source", f"file:{log}", "--config", str(config(work / "uci-config",
                                                                   "fieldmap.yaml", UCI_MAP))))
    for name, fieldmap in (("jira_csv_insureco", CSV_MAP), ("jira_cloud_demistodev", PAGE_MAP)):
        directory = config(work / f"{name}-config", "jira_fieldmap.yaml", yaml.safe_dump(fieldmap))
        yield Case(f"realdata {name}, its site's field map",
                   ("--source", f"file:{REALDATA / name}", "--platform", "jira",
                    "--config", str(directory)))


def config(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def run_case(tree: Path, case: Case, out: Path) -> Outcome:
    """`scan` then `report metrics` with `tree`'s code, in an empty working directory."""
    out.mkdir(parents=True)
    env = tree_env(tree, out, case.env)
    history, report = out / "history.sqlite", out / "report.json"
    scan = subprocess.run(
        [sys.executable, "-m", "sms_conformance", "scan", *case.args, "--full", "--format", "json",
         "--output", str(report), "--history", str(history), "--as-of", AS_OF, "--quiet"],
        cwd=out, env=env, capture_output=True, text=True)
    metrics = None
    if history.exists():
        shown = subprocess.run(
            [sys.executable, "-m", "sms_conformance", "report", "metrics", "--format", "json",
             "--history", str(history)], cwd=out, env=env, capture_output=True, text=True)
        if shown.returncode == 0:
            metrics = json.loads(shown.stdout)
    loaded = json.loads(report.read_text()) if report.exists() else None
    return Outcome(scan.returncode, loaded, metrics, scan.stderr)


def unpathed(value: Any, paths: dict[str, str]) -> Any:
    """`value` with this run's temporary paths replaced by placeholders, recursively."""
    if isinstance(value, str):
        for path, placeholder in paths.items():
            value = value.replace(path, placeholder)
        return value
    if isinstance(value, dict):
        return {k: unpathed(v, paths) for k, v in value.items()}
    if isinstance(value, list):
        return [unpathed(v, paths) for v in value]
    return value


def deep_diff(old: Any, new: Any, where: str = "") -> Iterator[str]:
    """'path: old -> new' for each leaf that differs (lists compared item by item)."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            here = f"{where}.{key}" if where else str(key)
            if key not in new:
                yield f"{here}: only at base ({json.dumps(old[key])[:120]})"
            elif key not in old:
                yield f"{here}: only at head ({json.dumps(new[key])[:120]})"
            else:
                yield from deep_diff(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from deep_diff(a, b, f"{where}[{i}]")
    elif old != new:
        yield f"{where}: {json.dumps(old)[:200]} -> {json.dumps(new)[:200]}"


def finding_key(finding: dict[str, Any]) -> tuple[str, str, str]:
    return (finding["rule_id"], finding.get("record_id") or finding.get("number") or "",
            finding["status"])


def by_key(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def compare(base: Outcome, head: Outcome) -> dict[str, list[str]]:
    """The differences of one case, by part; empty when the outputs are the same."""
    parts: dict[str, list[str]] = {}
    if base.exit != head.exit:
        parts["exit code"] = [f"{base.exit} -> {head.exit}"]
    if (base.report is None) != (head.report is None):
        parts["report"] = [f"written at {'head' if base.report is None else 'base'} only"]
    if base.report is not None and head.report is not None:
        parts.update(compare_reports(base.report, head.report))
    if base.report is None and head.report is None and base.stderr != head.stderr:
        parts["error output"] = [f"{base.stderr.strip()[-300:]!r} -> {head.stderr.strip()[-300:]!r}"]
    parts["metrics"] = list(deep_diff(stored_metrics(base), stored_metrics(head)))
    return {part: lines for part, lines in parts.items() if lines}


def stored_metrics(outcome: Outcome) -> dict[str, Any]:
    """`report metrics` without its head (the scan's id) and the moment it was asked."""
    shown = outcome.metrics or {}
    tasks = {k: v for k, v in (shown.get("corrective_actions") or {}).items() if k != "at"}
    return {"metrics": shown.get("metrics"), "corrective_actions": tasks}


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {}
    old_scan = {k: v for k, v in old["scan"].items() if k not in SCAN_VOLATILE}
    new_scan = {k: v for k, v in new["scan"].items() if k not in SCAN_VOLATILE}
    parts["scan"] = list(deep_diff(old_scan, new_scan))
    old_findings = {finding_key(f): f for f in old["findings"]}
    new_findings = {finding_key(f): f for f in new["findings"]}
    lines = [f"only at base: {' '.join(k)}" for k in sorted(old_findings.keys() - new_findings.keys())]
    lines += [f"only at head: {' '.join(k)}" for k in sorted(new_findings.keys() - old_findings.keys())]
    parts["findings (rule record status)"] = lines
    parts["finding details"] = [
        f"{' '.join(key)}: {line}" for key in sorted(old_findings.keys() & new_findings.keys())
        for line in deep_diff(old_findings[key], new_findings[key])]
    old_rules = by_key(old["summary"]["rules"], "rule_id")
    new_rules = by_key(new["summary"]["rules"], "rule_id")
    parts["counts per rule"] = list(deep_diff(old_rules, new_rules))
    parts["summary"] = list(deep_diff(keyed_summary(old["summary"]), keyed_summary(new["summary"])))
    return parts


def keyed_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary beside the rules, its lists keyed by what they are of (clause, process)."""
    keyed: dict[str, Any] = {}
    for part, value in summary.items():
        if part == "rules":
            continue
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            keyed[part] = {" ".join(str(v.get(k)) for k in ("clause", "process", "field") if k in v)
                           or str(i): v for i, v in enumerate(value)}
        else:
            keyed[part] = value
    return keyed


def describe(outcome: Outcome) -> str:
    if outcome.report is None:
        return f"exit {outcome.exit}, no report"
    rules = outcome.report["summary"]["rules"]
    return (f"exit {outcome.exit}, {len(outcome.report['findings'])} findings, {len(rules)} rules, "
            f"{sum(r['evaluated'] for r in rules)} results")


def run_both(case: Case, trees: dict[str, Path], work: Path, number: int) -> tuple[bool, str]:
    outcomes: dict[str, Outcome] = {}
    paths: dict[str, str] = {}
    for side, tree in trees.items():
        out = work / f"case{number}" / side
        outcomes[side] = run_case(tree, case, out)
        paths.update({str(out): "<out>", str(tree): "<tree>"})
    base, head = (Outcome(o.exit, unpathed(o.report, paths), unpathed(o.metrics, paths),
                          unpathed(o.stderr, paths)) for o in outcomes.values())
    parts = compare(base, head)
    if not parts:
        return True, f"{case.name}: identical ({describe(head)})"
    lines = [f"{case.name}: DIFFERENT (base {describe(base)}; head {describe(head)})"]
    for part, found in parts.items():
        lines.append(f"  {part}: {len(found)}")
        lines += [f"    {line}" for line in found[:SHOWN]]
        if len(found) > SHOWN:
            lines.append(f"    ... and {len(found) - SHOWN} more")
    return False, "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="commit to compare with (default: git merge-base HEAD main)")
    parser.add_argument("--records", type=int, default=1000, help="sandbox incidents")
    parser.add_argument("--seeds", default="7,11", help="sandbox seeds, comma separated")
    parser.add_argument("--sandbox-from", choices=("head", "base"), default="head",
                        help="whose sandbox code serves the data both scan")
    parser.add_argument("--only", choices=("servicenow", "jira", "realdata"),
                        help="one part of the cases")
    args = parser.parse_args()
    base = args.base or git("merge-base", "HEAD", "main")
    base_name = git("rev-parse", "--short", base)
    dirty = git("status", "--porcelain", "--untracked-files=no")
    print(f"base {base_name} against HEAD {git('rev-parse', '--short', 'HEAD')}"
          f"{' (with uncommitted edits)' if dirty else ''}; sandboxes from {args.sandbox_from}, "
          f"{args.records} incidents, seeds {args.seeds}", flush=True)
    started = time.perf_counter()
    same = True
    with tempfile.TemporaryDirectory(prefix="compare-outputs-") as tmp_name:
        tmp = Path(tmp_name)
        with base_tree(base, tmp) as base_path:
            trees = {"base": base_path, "head": ROOT}
            number = 0

            def report(case: Case) -> None:
                nonlocal number, same
                number += 1
                identical, text = run_both(case, trees, tmp, number)
                same &= identical
                print(text, flush=True)

            for platform in ("servicenow", "jira"):
                if args.only not in (None, platform):
                    continue
                for seed in (int(s) for s in args.seeds.split(",")):
                    with served(platform, trees[args.sandbox_from], args.records, seed,
                                tmp / f"serve-{platform}-{seed}") as case:
                        report(case)
            if args.only in (None, "realdata"):
                for case in realdata_cases(tmp / "inputs"):
                    report(case)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'identical' if same else 'DIFFERENCES'}: {number} cases in "
          f"{time.perf_counter() - started:.0f} s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
