"""Issue 25 (smaller): a history store truncated under a running scan is noticed."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sms_conformance.model.errors import ConfigError
from sms_conformance.store.history import History


def test_a_store_truncated_under_a_scan_fails_its_check(tmp_path: Path) -> None:
    """fault: the store's file is truncated while a scan writes to it; its commits go to the
    write-ahead log alone and succeed; outcome: the end-of-scan check (verify) fails naming
    the store, so the scan cannot exit 0."""
    path = tmp_path / "h.sqlite"
    history = History(path)
    history.set_watermark("https://x.example", "incident",
                          datetime(2026, 11, 1, tzinfo=timezone.utc))
    history.db.executemany("INSERT INTO finding_seen VALUES (?, ?, ?)",
                           [(f"fp{i}", "2026-11-01", "2026-11-01") for i in range(5000)])
    history.db.commit()
    history.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    os.truncate(path, 8192)
    history.db.execute("INSERT INTO finding_seen VALUES ('late', 'x', 'x')")
    history.db.commit()  # succeeds: written to the log only
    with pytest.raises(ConfigError, match=f"{path}: history store: .*malformed"):
        history.verify()


def test_a_sound_store_passes_its_check(tmp_path: Path) -> None:
    """bad input: none a store in use, nothing done to it; outcome: verify passes on a store in use."""
    history = History(tmp_path / "h.sqlite")
    history.db.execute("INSERT INTO finding_seen VALUES ('a', 'x', 'x')")
    history.db.commit()
    history.verify()  # raises ConfigError on a damaged store
    assert history.db.execute("SELECT count(*) FROM finding_seen").fetchone() == (1,)
