"""One writer: a lock per (instance, history store) on one host, healing of duplicates across hosts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from sms_conformance.cli import EXIT_LOCKED
from sms_conformance.model.errors import LockHeld
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.store.lock import holder_path, lock_path, writer_lock
from tests.test_writeback_e2e import TASK_TABLES, get, parent, record_task, tasks

CLOSED = ("3", "157")


@pytest.fixture
def box(monkeypatch):
    with Sandbox(records=300, seed=8, faults="latency=30ms") as sandbox:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", sandbox.password)
        yield sandbox


def command(box: Sandbox, history: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sms_conformance", "scan", "--source", "servicenow",
            "--instance", box.url, "--history", str(history), "--full", "--as-of", "2026-11-01",
            "--write-back", "--max-new-tasks", "5000", *extra]


def start(cmd: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def open_per_finding(box: Sandbox) -> Counter[str]:
    return Counter(t["correlation_id"] for t in tasks(box) if t["state"] not in CLOSED)


def wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_overlapping_runs_on_one_host_exit_4_or_wait_their_turn(box, tmp_path: Path) -> None:
    """fault: a second write-back run while one holds the lock; outcome: exit 4 naming the holder, or waits"""
    history = tmp_path / "h.sqlite"
    box.faults = "latency=1s"  # the first run crawls until the other two have had their turn
    first = start(command(box, history))
    holder = holder_path(lock_path(history, box.identity))
    wait_for(holder.exists, "the first run to take the lock")

    second = subprocess.run(command(box, history), capture_output=True, text=True, timeout=120)
    assert second.returncode == EXIT_LOCKED, second.stderr
    assert f"another run holds the write-back lock for {box.identity} (pid {first.pid} " in second.stderr
    assert "Traceback" not in second.stderr

    third = start(command(box, history, "--wait", "5m"))
    assert third.stderr is not None
    waiting = third.stderr.readline()
    assert f"waiting up to 300 s for the write-back lock (pid {first.pid} " in waiting
    assert first.poll() is None  # the third run is waiting on a live holder
    box.faults = "latency=30ms"

    _, first_err = first.communicate(timeout=300)
    _, third_err = third.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert third.returncode == 0, third_err
    assert "write-back plan: create 0, update 0, close 0, heal 0 duplicates" in third_err
    per_finding = open_per_finding(box)
    assert per_finding and max(per_finding.values()) == 1
    assert not holder.exists()  # the last holder took its note away


def test_two_hosts_at_once_leave_one_open_task_per_finding(box, tmp_path: Path) -> None:
    """fault: two hosts (two history stores) write back at once; outcome: one open task per finding"""
    runs = [start(command(box, tmp_path / f"host{i}.sqlite")) for i in (1, 2)]
    errors = [run.communicate(timeout=300)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], errors
    per_finding = open_per_finding(box)
    assert per_finding and max(per_finding.values()) == 1, errors
    duplicates = [t for t in tasks(box) if "duplicate of" in t["close_notes"]]
    assert len(duplicates) + len(per_finding) == len(tasks(box))  # nothing else was closed
    print(f"two hosts: {len(per_finding)} findings, {len(duplicates)} duplicates healed")

    again = subprocess.run(command(box, tmp_path / "host1.sqlite"), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "write-back plan: create 0, update 0, close 0, heal 0 duplicates" in again.stderr
    assert open_per_finding(box) == per_finding


def duplicate(box: Sandbox, task: dict) -> dict:
    """POST a copy of `task` as a concurrent run on another host would have created it."""
    table = next(t for t in TASK_TABLES if t in task["sys_class_name"])
    copy = {k: (v["value"] if isinstance(v, dict) else v) for k, v in task.items()
            if k in ("short_description", "description", "correlation_id", "correlation_display",
                     "assignment_group", "priority", "incident", "problem", "change_request")}
    response = requests.post(f"{box.url}/api/now/table/{table}", auth=box.auth, json=copy,
                             timeout=30)
    response.raise_for_status()
    return response.json()["result"]


def test_run_heals_duplicates_it_did_not_create(box, tmp_path: Path) -> None:
    """fault: open duplicates left by other hosts; outcome: dry run counts them, next run closes them"""
    box.faults = None
    history = tmp_path / "h.sqlite"
    assert subprocess.run(command(box, history), capture_output=True, timeout=300).returncode == 0
    originals = get(box, "incident_task")[:3]
    copies = [duplicate(box, t) for t in originals]

    dry = subprocess.run(command(box, history, "--dry-run"), capture_output=True, text=True,
                         timeout=300)
    assert "create 0, update 0, close 0, heal 3 duplicates" in dry.stderr, dry.stderr
    assert max(open_per_finding(box).values()) == 2  # the dry run wrote nothing

    run = subprocess.run(command(box, history), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert max(open_per_finding(box).values()) == 1
    by_id = {t["sys_id"]: t for t in tasks(box)}
    for original, copy in zip(originals, copies, strict=True):
        assert by_id[original["sys_id"]]["state"] not in CLOSED
        assert by_id[copy["sys_id"]]["state"] in CLOSED
        assert f"duplicate of {original['number']}" in by_id[copy["sys_id"]]["close_notes"]


def test_fixed_record_closes_its_duplicates_too(box, tmp_path: Path) -> None:
    """fault: a record with two open tasks is fixed; outcome: both tasks close, none stays open"""
    box.faults = None
    history = tmp_path / "h.sqlite"
    assert subprocess.run(command(box, history), capture_output=True, timeout=300).returncode == 0
    target = record_task(box, "incident.logging.category")
    copy = duplicate(box, target)
    requests.patch(f"{box.url}/api/now/table/incident/{parent(target, 'incident')}",
                   auth=box.auth, json={"category": "network"}, timeout=30).raise_for_status()
    run = subprocess.run(command(box, history), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    states = {t["sys_id"]: t["state"] for t in tasks(box)}
    assert states[target["sys_id"]] in CLOSED and states[copy["sys_id"]] in CLOSED


@contextmanager
def held_elsewhere(history: Path, instance: str) -> Iterator[subprocess.Popen[str]]:
    """The write-back lock of `instance`, held by another process until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from sms_conformance.store.lock import writer_lock\n"
         f"with writer_lock(Path({str(history)!r}), {instance!r}, 0):\n"
         "    print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield holder
    finally:
        holder.communicate("", timeout=30)


def test_wait_gives_up_after_its_duration_naming_the_holder(tmp_path: Path) -> None:
    """fault: the lock is held longer than --wait; outcome: exit 4 after waiting, naming the pid"""
    history = tmp_path / "h.sqlite"
    with held_elsewhere(history, "https://x.test") as holder:
        notes: list[str] = []
        started = time.monotonic()
        with pytest.raises(LockHeld, match=f"pid {holder.pid} on host "), \
                writer_lock(history, "https://x.test", 0.6, notes.append):
            pass
        assert time.monotonic() - started >= 0.6
        assert notes and f"pid {holder.pid}" in notes[0]
        with writer_lock(history, "https://other.test", 0):  # another instance: its own lock
            pass
    with writer_lock(history, "https://x.test", 0):  # released with its process
        pass


def test_one_instance_spelled_differently_shares_one_lock(tmp_path: Path) -> None:
    """fault: two cron entries name one instance differently (case, default port, trailing
    slash); outcome: the second is refused the lock instead of writing the same tasks"""
    history = tmp_path / "h.sqlite"
    with held_elsewhere(history, "https://x.test"):
        for spelling in ("https://X.test", "https://x.test/", "HTTPS://x.test:443",
                         "https://x.test//"):
            with pytest.raises(LockHeld), writer_lock(history, spelling, 0):
                pass
        for other in ("https://x.test:8443", "http://x.test", "https://x.test/sub",
                      "https://y.test"):  # another port, scheme, path or host: its own lock
            with writer_lock(history, other, 0):
                pass
