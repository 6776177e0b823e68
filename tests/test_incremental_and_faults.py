"""Incremental scans by watermark, and scans through injected faults."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sms_conformance.app.config import ConfigDir
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.waivers import Waivers
from sms_conformance.model.errors import ConfigError
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History
from tests.conftest import FROZEN_NOW


def run(box: Sandbox, history: History, *, incremental: bool = False):
    config = ConfigDir(None)
    fieldmap = config.fieldmap()
    connector = sandbox_connector(box.url, box.password, fieldmap)
    scanner = Scanner(connector, config.rules(), history)
    outcome = scanner.run(
        ScanOptions(now=FROZEN_NOW, waivers=Waivers([], FROZEN_NOW.date()), incremental=incremental),
        lambda p: fieldmap.for_process(p).table,
    )
    scanner.advance_watermarks(outcome)
    findings = {(f.rule_id, f.number, f.status) for f in history.findings(outcome.scan_id)}
    return outcome, findings, connector.request_count


def test_rescan_reads_only_what_changed_since_the_last_scan(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    with Sandbox(records=300, seed=6) as box:
        first, _, _ = run(box, history, incremental=True)
        assert first.records["incident"] == 300
        nothing, _, requests_made = run(box, history, incremental=True)
        assert nothing.records == {"incident": 0, "problem": 0, "change": 0, "request": 0}
        assert requests_made <= 2 * 4
        incident = requests.get(f"{box.url}/api/now/table/incident", auth=("admin", box.password),
                                params={"sysparm_limit": "1"}, timeout=30).json()["result"][0]
        requests.patch(f"{box.url}/api/now/table/incident/{incident['sys_id']}",
                       auth=("admin", box.password), json={"category": "network"},
                       timeout=30).raise_for_status()
        changed, _, _ = run(box, history, incremental=True)
        assert changed.records["incident"] == 1
        again, _, _ = run(box, history)
        assert again.records["incident"] == 300


def test_scan_through_429s_and_503s_finds_the_same_as_a_clean_scan(tmp_path: Path) -> None:
    with Sandbox(records=300, seed=9) as box:
        clean, clean_findings, clean_requests = run(box, History(tmp_path / "a.sqlite"))
        box.faults = "429:0.33,503:0.33,retry-after=0,seed=5"
        faulty, faulty_findings, faulty_requests = run(box, History(tmp_path / "b.sqlite"))
    assert clean.complete and faulty.complete
    assert faulty_findings == clean_findings and clean_findings
    assert faulty_requests > clean_requests  # the faults were really injected, and retried


def test_a_scan_stopped_by_a_config_error_is_closed_as_incomplete_naming_it(tmp_path: Path) -> None:
    """fault: a configuration error surfaces in the middle of a scan (after records were read);
    outcome: the error propagates, and the scan row is finished, incomplete, with that error"""
    config = ConfigDir(None)
    fieldmap = config.fieldmap()
    history = History(tmp_path / "h.sqlite")
    with Sandbox(records=50, seed=3) as box:
        connector = sandbox_connector(box.url, box.password, fieldmap)
        fetch = connector.fetch

        def failing(request):  # the second table read hits the error
            if request.process.value != "incident":
                raise ConfigError("problem.fields.state: no such column on this instance")
            yield from fetch(request)

        connector.fetch = failing  # type: ignore[method-assign]
        with pytest.raises(ConfigError, match="no such column"):
            Scanner(connector, config.rules(), history).run(
                ScanOptions(now=FROZEN_NOW, waivers=Waivers([], FROZEN_NOW.date())),
                lambda p: fieldmap.for_process(p).table)
    scan = history.scan()
    assert scan is not None and scan["finished_at"] and not scan["complete"]
    assert scan["error"] == "stopped: problem.fields.state: no such column on this instance"
