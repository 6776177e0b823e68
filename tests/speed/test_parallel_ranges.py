"""Parallel key ranges find exactly what one stream finds, also while records change."""

from __future__ import annotations

import itertools
import random
import threading
from pathlib import Path
from typing import Any

import requests

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.parallel import Gate
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.connectors.servicenow.streams import range_pages, split_after
from sms_conformance.engine.waivers import Waivers
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History
from tests.conftest import FROZEN_NOW

Findings = dict[tuple[str, str], tuple[str, str]]


def scan(box: Sandbox, history: History, streams: int,
         connector: Any = None) -> tuple[Any, Findings, int]:
    config = ConfigDir(None)
    fieldmap = config.fieldmap()
    connector = connector or sandbox_connector(box.url, box.password, fieldmap)
    connector.streams = connector.gate.limit = streams
    outcome = Scanner(connector, config.rules(), history).run(
        ScanOptions(now=FROZEN_NOW, waivers=Waivers([], FROZEN_NOW.date())),
        lambda p: fieldmap.for_process(p).table)
    assert outcome.complete, outcome.error
    findings = {(f.rule_id, f.number): (f.status, f.detail)
                for f in history.findings(outcome.scan_id)}
    return outcome, findings, len(connector.scans["incident"])


def test_parallel_and_one_stream_scans_find_the_same(tmp_path: Path) -> None:
    with Sandbox(records=5000, seed=3) as box:
        one, one_found, one_streams = scan(box, History(tmp_path / "a.sqlite"), 1)
        many, many_found, many_streams = scan(box, History(tmp_path / "b.sqlite"), 4)
    assert (one_streams, many_streams) == (1, 4)  # the incidents were really read as 4 ranges
    assert many.records == one.records
    assert {r: vars(c) for r, c in many.counts.items()} == {r: vars(c) for r, c in one.counts.items()}
    assert many_found == one_found and one_found


def test_parallel_scan_while_records_are_updated_and_created(tmp_path: Path) -> None:
    """Every record is read once; a record nobody touched has the findings of a one-stream scan;
    a touched one those of before or after the change."""
    auth_ = None
    with Sandbox(records=5000, seed=3, faults="latency=15ms") as box:
        auth_ = ("admin", box.password)
        _, before, _ = scan(box, History(tmp_path / "before.sqlite"), 1)
        table = f"{box.url}/api/now/table/incident"
        ids = [r["sys_id"] for r in requests.get(table, auth=auth_, timeout=30, params={
            "sysparm_fields": "sys_id", "sysparm_limit": "5000"}).json()["result"]]
        touched: set[str] = set()
        done = threading.Event()

        def write() -> None:
            session = requests.Session()
            session.auth = auth_
            for n, sys_id in enumerate(ids[::97]):
                if done.is_set():
                    return
                # the incident loses its assignment group: a finding of its own appears
                number = session.patch(f"{table}/{sys_id}", json={"assignment_group": ""},
                                       timeout=30).json()["result"]["number"]
                made = session.post(table, json={"short_description": f"new {n}"},
                                    timeout=30).json()["result"]["number"]
                touched.update((number, made))

        writer = threading.Thread(target=write)
        writer.start()
        during, found, streams = scan(box, History(tmp_path / "during.sqlite"), 4)
        done.set()
        writer.join()
        _, after, _ = scan(box, History(tmp_path / "after.sqlite"), 1)
    assert streams == 4 and touched  # writes landed while the ranges were read
    assert during.records["incident"] >= 5000  # none lost (new ones may or may not be read)
    for key, value in found.items():
        if key[1] in touched:
            assert value in (before.get(key), after.get(key)), key
        else:
            assert before.get(key) == value == after.get(key), key
    untouched = {k for k in before if k[1] not in touched}
    assert untouched <= set(found)


def test_429_and_503_lower_the_streams_and_change_no_finding(tmp_path: Path) -> None:
    """429 and 503 answers during a parallel scan: fewer streams, the same findings."""
    with Sandbox(records=5000, seed=3) as box:
        _, clean, _ = scan(box, History(tmp_path / "a.sqlite"), 4)
        box.faults = "429:0.15,503:0.1,retry-after=0,seed=4"
        connector = sandbox_connector(box.url, box.password, ConfigDir(None).fieldmap())
        _, pushed_back, _ = scan(box, History(tmp_path / "b.sqlite"), 4, connector)
    assert 1 <= connector.gate.limit < 4
    assert pushed_back == clean


def test_split_only_where_keys_are_spread_as_counted() -> None:
    uniform = format(16**32 // 20, "032x")  # 1,000 rows of 20,000 in the first twentieth
    bounds = split_after(uniform, 1000, 20_000, 1000, 4)
    assert len(bounds) == 3 and bounds == sorted(bounds) and bounds[0] > uniform
    assert split_after("00000000000000000000000000000bb9", 1000, 20_000, 1000, 4) == []
    assert split_after("not-hex", 1000, 20_000, 1000, 4) == []
    assert split_after(uniform, 1000, 1500, 1000, 4) == []  # the rest fits one page


def test_ranges_are_sized_in_pages_with_room_for_the_spread_of_uniform_keys() -> None:
    """4,000 rows left in 4 equal ranges of a page each would spill into a second page about
    half the time (7 or 8 pages in all); sized in pages, they take 5 (one range of two)."""
    assert range_pages(4000, 1000, 4) == [2, 1, 1, 1]
    assert range_pages(2000, 1000, 4) == [1, 1, 1]  # 3 short pages, not 2 full ones
    assert range_pages(19_000, 1000, 4) == [5, 5, 5, 5]  # 4,750 a range: room to spare
    assert range_pages(19_000, 1000, 1) == [20]
    first = format(16**32 // 5, "032x")  # 1,000 rows of 5,000 in the first fifth
    bounds = split_after(first, 1000, 5000, 1000, 4)
    widths = [int(b, 16) - int(a, 16) for a, b in zip([first, *bounds], bounds, strict=False)]
    assert len(bounds) == 3 and abs(widths[0] - 2 * widths[1]) <= 1  # 2 pages, then 1 each
    rng = random.Random(3)
    keys = sorted(int(first, 16) + rng.randrange(16**32 - int(first, 16)) for _ in range(4000))
    edges = [int(first, 16), *(int(b, 16) for b in bounds), 16**32]
    held = [sum(1 for k in keys if lo < k <= hi) for lo, hi in itertools.pairwise(edges)]
    assert [-(-n // 1000) for n in held] == [2, 1, 1, 1], held


def test_the_gate_loses_a_slot_per_push_back_and_never_regains_it() -> None:
    gate = Gate(4)
    for _ in range(5):
        gate.lower()
    assert gate.limit == 1


def test_the_gate_holds_reads_to_its_limit() -> None:
    import time

    from sms_conformance.connectors.servicenow.streams import GatedClient

    active, most, lock = [0], [0], threading.Lock()

    class Slow:
        def list(self, table: str, params: Any) -> Any:
            with lock:
                active[0] += 1
                most[0] = max(most[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1

    gated = GatedClient(Slow(), Gate(3))
    threads = [threading.Thread(target=gated.list, args=("incident", {})) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 3


def test_each_range_asks_for_its_pages_and_no_more(tmp_path: Path) -> None:
    """The first range, narrowed after its first page, ends on the page holding every row its
    count says are left, as the other ranges do: no closing empty page, no probe past it."""
    with Sandbox(records=4500, seed=3) as box:
        config = ConfigDir(None)
        connector = sandbox_connector(box.url, box.password, config.fieldmap())
        outcome, _, streams = scan(box, History(tmp_path / "h.sqlite"), 4, connector)
    ranges = connector.scans["incident"]
    assert streams == 4 and sum(r.rows for r in ranges) == outcome.records["incident"]
    page = connector.page_size
    assert [r.pages for r in ranges] == [-(-r.rows // page) for r in ranges], [
        (r.pages, r.rows) for r in ranges]
