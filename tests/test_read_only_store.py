"""Issue 25 (smaller): `report show` reads a store it may not write (a read-only mount, another
user's file)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.store.history import History
from tests.test_safe_files import run


def _as_another_user() -> list[str]:
    """The command prefix that runs without write access to the store: as nobody when root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root without setpriv: a read-only file cannot be shown to root")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_report_show_reads_a_store_it_cannot_write(tmp_path: Path) -> None:
    """fault: the history store and its directory are read-only to the user of `report show`
    (no -shm file can be made beside a WAL store); outcome: the report is shown, exit 0, and
    the file is left as it was."""
    export(generate(20, 3), tmp_path / "export")
    store = tmp_path / "store"
    store.mkdir()
    history = store / "h.sqlite"
    code, output = run("scan", "--source", f"file:{tmp_path / 'export'}", "--history",
                       str(history))
    assert code in (0, 1), output
    History(history).close()
    for leftover in store.glob("h.sqlite-*"):
        leftover.unlink()
    before = history.read_bytes()
    for path in store.iterdir():
        path.chmod(0o444)
    store.chmod(0o555)
    for parent in (tmp_path, *tmp_path.parents):  # nobody must reach it
        if parent.stat().st_mode & 0o005 != 0o005:
            parent.chmod(parent.stat().st_mode | 0o005)
    try:
        shown = subprocess.run(
            [*_as_another_user(), sys.executable, "-m", "sms_conformance", "report", "show",
             "--history", str(history), "--format", "json"],
            capture_output=True, text=True, timeout=120, check=False)
    finally:
        store.chmod(0o755)
    assert shown.returncode == 0, shown.stderr
    assert '"schema": "sms-conformance/report"' in shown.stdout
    assert history.read_bytes() == before
