"""Bounded waits on writes, on both platforms: a site throttling the run from its 9th task
create on, with a Retry-After far beyond `source.max_retry_after`, ends the run within the
write budget, and the rest of the plan is written by the next run, nothing twice."""

from __future__ import annotations

import time
from pathlib import Path

import yaml
from click.testing import CliRunner

from sms_conformance.cli import EXIT_SOURCE, cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.servicenow import Sandbox
from tests.test_jira_e2e import ENV, PASSWORD
from tests.test_jira_e2e import tasks as jira_tasks
from tests.test_writeback_e2e import planned
from tests.test_writeback_e2e import scan as sn_scan
from tests.test_writeback_e2e import tasks as sn_tasks

THROTTLE = "throttle-create=9,retry-after=999999"
# The write budget: retries end within it; the run must end well before the 4-hour scan limit.
BUDGET = 20.0


def limits(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text(yaml.safe_dump({"source": {
        "retry_budget": f"{BUDGET:g}s", "scan_timeout": "10m", "max_retry_after": "1m"}}))
    return config


def test_servicenow_throttled_create_leaves_the_rest_for_the_next_run(
        sandbox: Sandbox, tmp_path: Path) -> None:
    """fault: ServiceNow answers 429 Retry-After 999999 from the 9th task create on; outcome:
    the run ends within the write budget, exit 3 saying what is left for the next run; the next
    run creates the rest, none twice."""
    config, history = limits(tmp_path), tmp_path / "h.sqlite"
    wanted = planned(sandbox, history)
    assert wanted > 8
    sandbox.faults = THROTTLE
    started = time.monotonic()
    code, out = sn_scan(sandbox, history, "--full", "--config", str(config))
    assert time.monotonic() - started < BUDGET, out
    assert code == EXIT_SOURCE, out
    assert "write-back stopped:" in out and "Left for the next run:" in out
    assert "more than the 60 s this run waits (source.max_retry_after)" in out
    sandbox.faults = None
    assert 8 <= len(sn_tasks(sandbox)) < wanted
    code, out = sn_scan(sandbox, history, "--full", "--config", str(config))
    assert code == 0, out
    made = sn_tasks(sandbox)
    assert len(made) == wanted
    assert len({t["correlation_id"] for t in made}) == wanted


def test_jira_throttled_create_leaves_the_rest_for_the_next_run(tmp_path: Path) -> None:
    """fault: Jira answers 429 Retry-After 999999 from the 9th issue create on; outcome: the
    run ends within the write budget, exit 3 saying what is left for the next run; the next run
    creates the rest, none twice."""
    config, history = limits(tmp_path), tmp_path / "h.sqlite"
    with JiraSandbox(records=300, seed=4, password=PASSWORD) as box:
        def scan(*extra: str) -> tuple[int, str]:
            result = CliRunner(env=ENV).invoke(cli, [
                "scan", "--source", "jira", "--site", box.url, "--history", str(history),
                "--as-of", "2026-11-01", "--full", "--config", str(config),
                "--max-new-tasks", "5000", *extra])
            return result.exit_code, result.output

        code, out = scan("--dry-run")
        assert code == 0, out
        box.faults = THROTTLE
        started = time.monotonic()
        code, out = scan("--write-back")
        assert time.monotonic() - started < BUDGET, out
        assert code == EXIT_SOURCE, out
        assert "write-back stopped:" in out and "Left for the next run:" in out
        assert "more than the 60 s this run waits (source.max_retry_after)" in out
        box.faults = None
        first = len(jira_tasks(box))
        assert first >= 8
        code, out = scan("--write-back")
        assert code == 0, out
        again = jira_tasks(box)
        assert len(again) > first
        labels = [next(lb for lb in t.labels if lb.startswith("smsc-fp-")) for t in again]
        assert len(set(labels)) == len(labels)
