"""Page-wise column evaluation of the rule pack (polars) against the sandbox: what it would gain.

    python bench/columnar.py run URL PASSWORD [--decode dicts|read_json]   one contender, JSON line
    python bench/columnar.py check URL PASSWORD HISTORY    per-rule counts against the real scan
    python bench/columnar.py [--records 20000] [--repeat 2] [--markdown FILE]   the comparison

`run` reads the scan's pages (bench/contenders.py `pages_to_read`, keyset paging as `floor()`),
after projected passes over the tables links point at (as the scan's local join does), and per
page decodes it into a DataFrame, converts it to canonical columns and evaluates every rule
(bench/columnar_rules.py), counting per rule and turning failing rows into tuples. The whole
comparison runs the floor, this, and the scan with one stream, each in its own process.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import requests
from columnar_rules import (
    STATUSES,
    CompiledRule,
    Compiler,
    Converter,
    Unsupported,
    compile_rule,
    flagged,
    reference_kind,
    where_outcome,
)
from contenders import NOW, PAGE, pages_to_read
from run import sandbox

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.servicenow.paging import BASE_PARAMS
from sms_conformance.connectors.servicenow.query import EVERYTHING, page_query
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.records import Process
from sms_conformance.rules.fields import condition_fields, linked_conditions, rule_fields
from sms_conformance.scan.scanner import OWNER_FIELD, Scanner, ScanOptions
from sms_conformance.store.history import History

HERE = Path(__file__).parent
PROJECTED_PAGE = 10_000  # the scan's local join pages (connector.py PROJECTED_PAGE)
GROUP_TABLE = "sys_user_group"


@dataclass
class Timer:
    """Wall and CPU (all threads) per phase."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def phase(self, name: str) -> _Phase:
        return _Phase(self, name)


class _Phase:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        t = self.timer
        t.wall[self.name] = t.wall.get(self.name, 0.0) + time.perf_counter() - self.wall
        t.cpu[self.name] = t.cpu.get(self.name, 0.0) + time.process_time() - self.cpu


class Reader:
    """Keyset pages of one table, as bench/contenders.py `floor()` reads them, decoded."""

    def __init__(self, url: str, password: str, decode: str, timer: Timer) -> None:
        self.session = requests.Session()
        self.session.auth = ("admin", password)
        self.session.headers["Accept"] = "application/json"
        self.url, self.decode, self.timer = url, decode, timer
        self.requests = 0

    def pages(self, table: str, filter_: Any, fields: list[str], size: int = PAGE
              ) -> Iterator[pl.DataFrame]:
        schema = dict.fromkeys(fields, pl.String)
        after = None
        while True:
            params = {**BASE_PARAMS, "sysparm_query": page_query(filter_, after=after),
                      "sysparm_fields": ",".join(fields), "sysparm_limit": str(size)}
            with self.timer.phase("request"):
                content = self.session.get(f"{self.url}/api/now/table/{table}",
                                           params=params).content
            self.requests += 1
            with self.timer.phase("decode"):
                frame = self._frame(content, schema)
            if frame.height == 0:
                return
            yield frame
            after = frame["sys_id"][-1]

    def _frame(self, content: bytes, schema: dict[str, Any]) -> pl.DataFrame:
        if self.decode == "dicts":
            return pl.from_dicts(orjson.loads(content)["result"], schema=schema)
        wrapped = pl.read_json(io.BytesIO(content),
                               schema={"result": pl.List(pl.Struct(schema))})
        return wrapped.select(pl.col("result").explode()).unnest("result").drop_nulls("sys_id")


@dataclass
class ProcessPlan:
    """One process's pages and rules. `rules` are compiled for any page (every field may be
    unknown or of the wrong type); `variants` are compiled per set of fields that are so on a
    page, most pages having none: a smaller expression is cheaper on every page."""

    process: Process
    table: str
    filter: Any
    fields: list[str]
    converter: Converter
    rules: list[CompiledRule]
    variants: dict[tuple[frozenset[str], frozenset[str]], list[CompiledRule]] = field(
        default_factory=dict)

    @cached_property
    def observed_of(self) -> dict[str, tuple[str, ...]]:
        return {r.rule.id: r.observed for r in self.rules}

    @cached_property
    def observed(self) -> list[str]:
        """Fields any rule shows for a failure, the owner group aside."""
        return sorted({n for r in self.rules for n in r.observed} - {OWNER_FIELD})

    def rules_for(self, frame: pl.DataFrame) -> list[CompiledRule]:
        key = flagged(frame)
        found = self.variants.get(key)
        if found is None:
            found = self.variants[key] = [
                compile_rule(r.rule, self.converter.types, NOW, *key) for r in self.rules]
        return found


class Evaluator:
    """Every rule of the pack, page by page; counts per rule; failing rows as tuples."""

    def __init__(self, timer: Timer) -> None:
        self.timer = timer
        config = ConfigDir(None)
        self.fieldmap, all_rules = config.fieldmap(), config.rules()
        self.skipped: dict[str, str] = {}
        self.plans: list[ProcessPlan] = []
        pages = {table: (filter_, fields) for table, filter_, fields in pages_to_read()}
        for process in Process:
            pmap = self.fieldmap.for_process(process)
            rules = [r for r in all_rules if r.process == process]
            filter_, fields = pages[pmap.table]
            wanted = set().union(*(rule_fields(r) for r in rules)) | {OWNER_FIELD}
            converter = Converter.build(process, pmap, wanted)
            compiled = []
            anything = frozenset(converter.types)
            for rule in rules:
                try:
                    compiled.append(compile_rule(rule, converter.types, NOW, anything, anything))
                except Unsupported as exc:
                    self.skipped[rule.id] = str(exc)
            self.plans.append(ProcessPlan(process, pmap.table, filter_, fields, converter, compiled))
        self.counts: dict[str, dict[str, int]] = {
            r.rule.id: dict.fromkeys(("evaluated", *STATUSES[:-1]), 0)
            for p in self.plans for r in p.rules}
        self.findings: list[tuple[Any, ...]] = []
        self.records = 0
        self.links: dict[str, pl.DataFrame] = {}  # rule id:i -> (id, outcome)
        self.referrers: dict[tuple[str, str], list[pl.DataFrame]] = {}  # (process, field)
        self.referrer_counts: dict[tuple[str, str], pl.DataFrame] = {}
        self.groups = pl.DataFrame(schema={OWNER_FIELD: pl.String, "owner": pl.String})

    # the local join ---------------------------------------------------------------------
    def index_needs(self) -> tuple[list[str], frozenset[str]]:
        """The kinds links point at, and the fields their `where` conditions read."""
        kept = frozenset(n for p in self.plans for r in p.rules for c in r.linked
                         for w in c.where for n in _read_fields_of(w))
        kinds = sorted({reference_kind(p.process, c.field) for p in self.plans for r in p.rules
                        for c in r.linked})
        return kinds, kept

    def index(self, reader: Reader) -> None:
        """Projected passes over the kinds links point at, then the group names."""
        kinds, kept = self.index_needs()
        indexes: dict[str, tuple[pl.DataFrame, Converter]] = {}
        for kind in kinds:
            process = Process(kind)
            pmap = self.fieldmap.for_process(process)
            converter = Converter.build(process, pmap, kept & set(pmap.fields))
            frames = []
            for page in reader.pages(pmap.table, EVERYTHING, converter.platform_fields,
                                     PROJECTED_PAGE):
                with self.timer.phase("convert"):
                    frames.append(converter.columns(page))
            indexes[kind] = (pl.concat(frames), converter)
        with self.timer.phase("evaluate"):
            self.link(indexes)
        groups = reader.pages(GROUP_TABLE, EVERYTHING, ["name", "sys_id"], PROJECTED_PAGE)
        self.groups = pl.concat(list(groups)).rename({"sys_id": OWNER_FIELD, "name": "owner"})

    def link(self, indexes: dict[str, tuple[pl.DataFrame, Converter]]) -> None:
        """Per linked condition, (id, outcome of its `where` on that record) to join pages on."""
        for plan in self.plans:
            for rule in plan.rules:
                for i, c in enumerate(rule.linked):
                    frame, converter = indexes[reference_kind(plan.process, c.field)]
                    compiler = Compiler(converter.types, NOW, "", *flagged(frame))
                    self.links[f"{rule.rule.id}:{i}"] = frame.select(
                        pl.col("sys_id").alias(c.field),
                        where_outcome(compiler, c.where).alias(f"link:{rule.rule.id}:{i}"))

    # pages ------------------------------------------------------------------------------
    def run(self, reader: Reader, batch: int = 1) -> None:
        """Evaluates every `batch` pages at once (1: page by page)."""
        self.index(reader)
        for plan in self.plans:
            held: list[pl.DataFrame] = []
            for page in reader.pages(plan.table, plan.filter, plan.fields):
                self.records += page.height
                with self.timer.phase("convert"):
                    held.append(plan.converter.columns(page))
                if len(held) == batch:
                    with self.timer.phase("evaluate"):
                        self.evaluate(plan, pl.concat(held))
                    held = []
            with self.timer.phase("evaluate"):
                if held:
                    self.evaluate(plan, pl.concat(held))
                self.tallied(plan.process)

    def evaluate(self, plan: ProcessPlan, frame: pl.DataFrame) -> None:
        """Counts per rule, and the failing rows as tuples."""
        self.tally(plan.process, frame)
        rules = plan.rules_for(frame)
        frame = self.joined(rules, frame)
        long = (frame.select(*(r.status for r in rules)).with_row_index("row")
                .unpivot(index="row", variable_name="rule", value_name="status"))
        for rule_id, status, n in long.group_by("rule", "status").len().rows():
            if STATUSES[status] != "out":
                self.counts[rule_id][STATUSES[status]] += n
                self.counts[rule_id]["evaluated"] += n
        failing = long.filter(pl.col("status").is_in([STATUSES.index("fail"),
                                                      STATUSES.index("error")]))
        if failing.height:
            self.findings += self.failing(plan, failing, frame)

    def statuses(self, plan: ProcessPlan, frame: pl.DataFrame) -> pl.DataFrame:
        """sys_id and one status column per rule (the differential check reads these)."""
        rules = plan.rules_for(frame)
        return self.joined(rules, frame).select(pl.col("sys_id"), *(r.status for r in rules))

    def joined(self, rules: list[CompiledRule], frame: pl.DataFrame) -> pl.DataFrame:
        """The page with the link outcomes and referrer counts its rules read."""
        for rule in rules:
            for i, c in enumerate(rule.linked):
                frame = frame.join(self.links[f"{rule.rule.id}:{i}"], on=c.field, how="left",
                                   nulls_equal=False, maintain_order="left")
            for i, r in enumerate(rule.referenced):
                counts = self.referrer_counts[(r.process.value, r.field)].rename(
                    {"n": f"refs:{rule.rule.id}:{i}"})
                frame = frame.join(counts, on="sys_id", how="left", maintain_order="left")
                frame = frame.with_columns(pl.col(f"refs:{rule.rule.id}:{i}").fill_null(0))
        return frame

    def failing(self, plan: ProcessPlan, failing: pl.DataFrame, frame: pl.DataFrame
                ) -> list[tuple[Any, ...]]:
        """Failing (and error) rows as a findings writer's tuples: rule, record id, number,
        status, observed values (JSON), owner group id and name."""
        shown = [OWNER_FIELD, *plan.observed]
        rows = failing.join(
            frame.select(pl.col("sys_id", "number", *shown).cast(pl.String)).with_row_index("row"),
            on="row", how="left").join(self.groups, on=OWNER_FIELD, how="left").rows()
        at = {name: i for i, name in enumerate(("row", "rule", "status", "sys_id", "number",
                                                 *shown, "owner"))}
        observed = plan.observed_of
        return [(rule, row[3], row[4], STATUSES[row[2]],
                 orjson.dumps({n: row[at[n]] or "" for n in observed[rule]}).decode(),
                 row[5], row[-1])
                for row in rows for rule in (row[1],)]

    def tally(self, process: Process, frame: pl.DataFrame) -> None:
        """Referrer counts from the referring table's pages (read whole, as the scan counts)."""
        for plan in self.plans:
            for rule in plan.rules:
                for r in rule.referenced:
                    if r.process == process:
                        self.referrers.setdefault((r.process.value, r.field), []).append(
                            frame.select(pl.col(r.field).alias("sys_id")).drop_nulls()
                            .group_by("sys_id").len("n"))

    def tallied(self, process: Process) -> None:
        for key, parts in self.referrers.items():
            if key[0] == process.value and key not in self.referrer_counts:
                self.referrer_counts[key] = pl.concat(parts).group_by("sys_id").agg(
                    pl.col("n").sum().cast(pl.Int64))


def _read_fields_of(condition: Any) -> set[str]:
    if linked_conditions((condition,)):
        raise Unsupported("a linked condition inside `where`")
    return condition_fields(condition)


def run(url: str, password: str, decode: str, batch: int = 1) -> dict[str, Any]:
    timer = Timer()
    reader = Reader(url, password, decode, timer)
    with timer.phase("setup"):
        evaluator = Evaluator(timer)
    evaluator.run(reader, batch)
    return {"records": evaluator.records, "requests": reader.requests,
            "findings": len(evaluator.findings), "skipped": evaluator.skipped,
            "phases_wall": timer.wall, "phases_cpu": timer.cpu, "counts": evaluator.counts}


def check(url: str, password: str, history: str, batch: int = 1) -> dict[str, Any]:
    """The columnar counts against the real scan's (run as contenders.py `scan` with one
    stream), per rule: evaluated, pass, fail, error, unknown."""
    ours = run(url, password, "dicts", batch)
    config = ConfigDir(None)
    fieldmap = config.fieldmap()
    connector = sandbox_connector(url, password, fieldmap)
    connector.streams = connector.gate.limit = 1
    scanner = Scanner(connector, config.rules(), History(Path(history)))
    outcome = scanner.run(ScanOptions(now=NOW, waivers=Waivers([], NOW.date()), incremental=True),
                          lambda p: fieldmap.for_process(p).table)
    differ = {}
    for rule_id, c in outcome.counts.items():
        theirs = {"evaluated": c.evaluated, "pass": c.passed, "fail": c.failed, "error": c.errors,
                  "unknown": c.unknown}
        if rule_id in ours["skipped"]:
            continue
        mine = {k: ours["counts"][rule_id][k] for k in theirs}
        if mine != theirs:
            differ[rule_id] = {"columnar": mine, "scan": theirs}
    return {"rules": len(outcome.counts), "covered": len(outcome.counts) - len(ours["skipped"]),
            "skipped": ours["skipped"], "differ": differ,
            "counts": ours["counts"]}


# ------------------------------------------------------------------------------ comparison


def contender(argv: list[str]) -> dict[str, Any]:
    """One contender in its own process: its JSON line, with the CPU it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, *argv], check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


CONTENDERS = {
    "floor (requests + orjson, same pages)": ("contenders.py", "floor"),
    "columnar page-wise (orjson + from_dicts)": ("columnar.py", "run", "--decode", "dicts"),
    "columnar page-wise (read_json)": ("columnar.py", "run", "--decode", "read_json"),
    "columnar, 10 pages at once (read_json)": ("columnar.py", "run", "--decode", "read_json",
                                               "--batch", "10"),
    "scan, one stream": ("contenders.py", "scan-one-stream"),
}


def compare(records: int, repeat: int, markdown: Path | None) -> None:
    """Each contender `repeat` times, in turns, each run in its own process; the best wall
    and the best CPU of each (the machine is shared: the least disturbed run). CPU is the
    whole process's (user + system, all threads); "after imports" leaves out the interpreter's
    start and the imports, which every run pays once whatever its size."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    with tempfile.TemporaryDirectory() as tmp, sandbox(records) as (url, password):
        checked = contender([str(HERE / "columnar.py"), "check", url, password,
                             str(Path(tmp) / "check.sqlite")])
        for turn in range(repeat):
            for name, (script, kind, *extra) in CONTENDERS.items():
                history = [str(Path(tmp) / f"scan{turn}.sqlite")] if kind.startswith("scan") else []
                runs[name].append(contender([str(HERE / script), kind, url, password, *history,
                                             *extra]))
    best = {name: {"wall": min(r["wall"] for r in rs), "cpu": min(r["cpu"] for r in rs),
                   "work": min(r["cpu_work"] for r in rs),
                   "rss": max(r["maxrss_kib"] for r in rs),
                   "phases": min(rs, key=lambda r: r["cpu"]).get("phases_cpu")}
            for name, rs in runs.items()}
    floor = best[next(iter(CONTENDERS))]
    n = runs[next(iter(CONTENDERS))][0]["records"]
    lines = [f"{records:,} incidents (seed 7), {n:,} records read; best of {repeat} runs each; "
             f"rules covered {checked['covered']} of {checked['rules']}, per-rule counts "
             f"differing from the scan's: {len(checked['differ'])}", "",
             "| contender | wall s | wall / floor | CPU s | CPU after imports s | its / floor's | "
             "its us/record | peak RSS MiB | of which setup / decode / convert / evaluate s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, b in best.items():
        phases = b["phases"]
        split = " / ".join(f"{phases.get(p, 0):.2f}" for p in
                           ("setup", "decode", "convert", "evaluate")) if phases else ""
        lines.append(f"| {name} | {b['wall']:.2f} | {b['wall'] / floor['wall']:.2f}x | "
                     f"{b['cpu']:.2f} | {b['work']:.2f} | {b['work'] / floor['work']:.2f}x | "
                     f"{b['work'] / n * 1e6:.0f} | {b['rss'] / 1024:.0f} | {split} |")
    lines += [f"\nnot covered: {rule_id}: {reason}" for rule_id, reason in checked["skipped"].items()]
    lines += [f"\ndiffers: {rule_id}: {pair}" for rule_id, pair in checked["differ"].items()]
    text = "\n".join(lines)
    print(text)
    if markdown:
        markdown.write_text(text + "\n")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("run", "check"):
        kind, url, password = sys.argv[1:4]
        started, cpu_started = time.perf_counter(), time.process_time()
        if kind == "run":
            parser = argparse.ArgumentParser()
            parser.add_argument("--decode", choices=("dicts", "read_json"), default="dicts")
            parser.add_argument("--batch", type=int, default=1, help="pages evaluated at once")
            options = parser.parse_args(sys.argv[4:])
            result = run(url, password, options.decode, options.batch)
            result.pop("counts")
        else:
            result = check(url, password, sys.argv[4])
        result["wall"] = time.perf_counter() - started
        result["cpu_work"] = time.process_time() - cpu_started  # after imports, all threads
        result["maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    compare(args.records, args.repeat, args.markdown)


if __name__ == "__main__":
    main()
