"""The columnar evaluator against the engine, record by record, on generated rows.

    python bench/columnar_differential.py [--incidents 3000] [--seed 1] [--clean]

The sandbox's data has no unknown values and no evaluation errors, so equal per-rule counts on
it say nothing about those paths. Here rows are drawn from pools that hold what real exports
hold: fields not returned (unknown), choice text the field map does not know, dates that do not
parse, text in int and bool fields, empty and blank text, links to records that do not exist or
whose state is unknown. Every (record, rule) status of bench/columnar_rules.py must equal
engine.evaluate_one's on the same row (as fieldmap.to_canonical reads it); the differences are
printed, and the exit status is 1 if there are any.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from datetime import timedelta
from typing import Any

import polars as pl
from columnar import Evaluator, Timer
from columnar_rules import STATUSES, Converter
from contenders import NOW

from sms_conformance.connectors.servicenow.fieldmap import FieldSpec
from sms_conformance.engine.evaluate import evaluate_one
from sms_conformance.model.records import Process, Record, Ref, is_absent
from sms_conformance.rules.checks import Context

MISSING = 0.03  # chance that a field is not returned at all
PREFIX = {Process.INCIDENT: "inc", Process.PROBLEM: "prb", Process.CHANGE: "chg"}


def _dates(rng: random.Random) -> list[str]:
    start = NOW - timedelta(days=45)
    moments = [start + timedelta(minutes=rng.randrange(45 * 24 * 60)) for _ in range(40)]
    near = [start + timedelta(days=40, hours=h) for h in (0, 1, 5, 9, 30, 80, 130)]
    return [m.strftime("%Y-%m-%d %H:%M:%S") for m in moments + near]


def pool(spec: FieldSpec, kind: str, rng: random.Random, sizes: dict[str, int],
         clean: bool) -> list[str]:
    """Text a Table API row may hold for this field, odd values included (`clean`: none that
    reads as unknown, so that the evaluator's variant for pages without unknowns runs)."""
    odd = not clean
    if spec.type == "ref":
        if kind in ("problem", "change"):  # existing records, and some that do not exist
            prefix = PREFIX[Process(kind)]
            return ["", "", *(f"{prefix}-{i}" for i in range(sizes[kind] + 20))]
        return ["", "id-1", "id-2", "id-3"]
    if spec.is_choice:
        stored = [s for values in spec.choices.values()
                  for s in ([values] if isinstance(values, str) else values)]
        labels = list(spec.labels)
        return ["", *([" ", "bogus"] if odd or not spec.choices else []), *stored, *stored,
                *labels[:2], *(x.upper() for x in labels[:1])]
    if spec.type == "int":
        return ["", "0", "1", "2", "3", "4", "5", "-1", "7", "x7"]
    if spec.type == "bool":
        return ["", "true", "false", "TRUE", "maybe"]
    if spec.type == "datetime":
        return ["", *(["not a date", "2026-13-01 00:00:00"] if odd else []), *_dates(rng)]
    return ["", " ", "fixed", "Done.", "short", "Restore confirmed by the user",
            "Monitoring green for 30 minutes", "A description long enough"]


def rows_of(process: Process, fields: list[str], pools: dict[str, list[str]], count: int,
            rng: random.Random, missing: float) -> list[dict[str, str]]:
    rows = []
    for i in range(count):
        row = {"sys_id": f"{PREFIX[process]}-{i}", "number": f"{PREFIX[process].upper()}{i:07d}"}
        for name in fields:
            if name in row:
                continue
            if rng.random() >= missing:
                row[name] = rng.choice(pools[name])
        rows.append(row)
    return rows


class Links:
    """The engine's LinkView over the generated rows."""

    def __init__(self, targets: dict[str, dict[str, Record]],
                 referrers: Counter[tuple[str, str, str]]) -> None:
        self.targets, self.counts = targets, referrers

    def get(self, ref: Ref) -> Record | None:
        return self.targets.get(ref.kind, {}).get(ref.id)

    def referrers(self, process: Process, field: str, record_id: str) -> int:
        return self.counts[(Process(process).value, field, record_id)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clean", action="store_true", help="no value that reads as unknown")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    evaluator = Evaluator(Timer())
    sizes = {"incident": args.incidents, "problem": args.incidents // 3,
             "change": args.incidents // 3}
    rows: dict[Process, list[dict[str, str]]] = {}
    records: dict[Process, list[Record]] = {}
    for plan in evaluator.plans:
        pmap = evaluator.fieldmap.for_process(plan.process)
        specs = {spec.field: (spec, pmap.kind_of(name)) for name, spec in pmap.fields.items()}
        pools = {f: pool(*specs[f], rng, sizes, args.clean)
                 for f in plan.converter.platform_fields if f in specs}
        rows[plan.process] = rows_of(plan.process, sorted(pools), pools,
                                     sizes[plan.process.value], rng, 0 if args.clean else MISSING)
        wanted = frozenset(plan.converter.types)
        records[plan.process] = [
            Record("servicenow", "generated", plan.process.value, plan.table, row["sys_id"],
                   row["number"], "", pmap.to_canonical(row, wanted), row)
            for row in rows[plan.process]]
    # The engine's view: linked records as the scan keeps them (the fields `where` reads),
    # referrer counts from the incidents.
    kinds, kept = evaluator.index_needs()
    targets = {}
    indexes = {}
    for kind in kinds:
        process = Process(kind)
        pmap = evaluator.fieldmap.for_process(process)
        targets[kind] = {
            row["sys_id"]: Record("servicenow", "generated", "", kind, row["sys_id"], "", "",
                                  {k: v for k, v in pmap.to_canonical(row, kept).items()
                                   if v is not None})
            for row in rows[process]}
        converter = Converter.build(process, pmap, kept & set(pmap.fields))
        indexes[kind] = (converter.columns(frame_of(rows[process], converter.platform_fields)),
                         converter)
    referrers: Counter[tuple[str, str, str]] = Counter()
    for plan in evaluator.plans:
        for rule in plan.rules:
            for need in rule.referenced:
                for record in records[need.process]:
                    ref = record.get(need.field)
                    if isinstance(ref, Ref) and not is_absent(ref):
                        referrers[(need.process.value, need.field, ref.id)] += 1
    ctx = Context(NOW, Links(targets, referrers))
    evaluator.link(indexes)
    differ: Counter[tuple[str, str, str]] = Counter()
    examples: dict[tuple[str, str, str], str] = {}
    total = Counter()
    for plan in evaluator.plans:
        frame = plan.converter.columns(frame_of(rows[plan.process], plan.converter.platform_fields))
        evaluator.tally(plan.process, frame)
        evaluator.tallied(plan.process)
    for plan in evaluator.plans:
        frame = plan.converter.columns(frame_of(rows[plan.process], plan.converter.platform_fields))
        statuses = evaluator.statuses(plan, frame)
        for rule in plan.rules:
            ours = [STATUSES[code] for code in statuses[rule.rule.id].to_list()]
            for record, mine, row in zip(records[plan.process], ours, rows[plan.process],
                                         strict=True):
                theirs = evaluate_one(rule.rule, record, ctx).status.value
                mine = "not_applicable" if mine == "out" else mine
                total[theirs] += 1
                if mine != theirs:
                    key = (rule.rule.id, theirs, mine)
                    differ[key] += 1
                    examples.setdefault(key, repr({f: row.get(f, "<not returned>") for f in
                                                   plan.converter.platform_fields}))
    print(f"{sum(total.values())} (record, rule) results compared: {dict(total)}")
    for (rule_id, theirs, mine), n in sorted(differ.items()):
        print(f"differs: {rule_id}: engine {theirs}, columnar {mine}: {n} records, e.g. "
              f"{examples[(rule_id, theirs, mine)]}")
    print(f"{sum(differ.values())} differences")
    sys.exit(1 if differ else 0)


def frame_of(rows: list[dict[str, Any]], fields: list[str]) -> pl.DataFrame:
    return pl.from_dicts(rows, schema=dict.fromkeys(fields, pl.String))


if __name__ == "__main__":
    main()
