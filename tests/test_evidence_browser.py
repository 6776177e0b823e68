"""The evidence pack of stored sandbox scans, rendered in headless Chromium (Debian package
`chromium`): it renders, has its SVG charts and clauses 8.6.1 and 8.5.1 with rates, and logs
no console message at all (its one script sorts tables: any message is a blocked load, a CSP
violation or an error).

Chromium is required: these tests FAIL when /usr/bin/chromium is missing (.ci/run installs it).
SMS_SKIP_BROWSER=1 skips them on a machine without it. SMS_UPDATE_SCREENSHOT=1 also writes the
screenshot to docs/evidence-pack.png.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli import cli
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.waivers import Waivers
from sms_conformance.sandbox.dataset import DEFAULT_ANCHOR
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.scan.metrics import MetricSettings
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History
from sms_conformance.writeback.run import WriteBack

CHROMIUM = os.environ.get("SMS_CHROMIUM", "/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync",
         "--enable-logging=stderr", "--v=0")
CONSOLE = re.compile(r"CONSOLE[(:]")  # how Chromium logs a page's console messages
SCREENSHOT = Path(__file__).parent.parent / "docs" / "evidence-pack.png"
WINDOW = (1280, 2200)

pytestmark = pytest.mark.skipif(os.environ.get("SMS_SKIP_BROWSER") == "1",
                                reason="SMS_SKIP_BROWSER=1: browser tests skipped")


def chromium(url: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (or set "
                    "SMS_SKIP_BROWSER=1 to skip the browser tests)")
    profile = tmp / "chromium-profile"
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True, text=True, timeout=180, check=False,
    )


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def test_console_detector_sees_a_blocked_load_and_a_console_error(tmp_path: Path) -> None:
    """The control for the check below: this Chromium logs what a broken page does."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        '<img src="http://127.0.0.1:9/x.png"><script>console.error("broken")</script>'
        "</body></html>")
    run = chromium(page.as_uri(), tmp_path, "--dump-dom")
    messages = console_messages(run.stderr)
    assert any("broken" in m for m in messages), run.stderr
    assert any("Content Security Policy" in m for m in messages), run.stderr


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Four weekly full scans of one sandbox (write-back after the last), then an incremental
    one: a history store as a scheduled deployment leaves it."""
    path = tmp_path_factory.mktemp("stored") / "history.sqlite"
    config = ConfigDir(None)
    fieldmap, rules, settings = config.fieldmap(), config.rules(), config.settings()
    history = History(path)
    with Sandbox(records=300, seed=8) as box:
        connector = sandbox_connector(box.url, box.password, fieldmap)
        scanner = Scanner(connector, rules, history)
        for week in range(4):
            now = DEFAULT_ANCHOR + timedelta(weeks=week)
            options = ScanOptions(now=now, waivers=Waivers([], now.date()), source="sandbox",
                                  metrics=MetricSettings.from_settings(settings))
            write_back = None
            if week == 3:
                write_back = WriteBack.prepare(connector, rules, settings, fieldmap,
                                               dry_run=False, cap=1_000_000)
                write_back.watch(options)
            outcome = scanner.run(options, lambda p: fieldmap.for_process(p).table)
            assert outcome.complete, outcome.error
            if write_back is not None:
                write_back.run(history, outcome, connector.instance, now)
        now = DEFAULT_ANCHOR + timedelta(weeks=3, days=1)
        scanner.run(ScanOptions(now=now, waivers=Waivers([], now.date()), source="sandbox",
                                since=DEFAULT_ANCHOR - timedelta(days=5)),
                    lambda p: fieldmap.for_process(p).table)
    history.close()
    yield path


def test_evidence_pack_renders_in_headless_chromium(stored: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    result = CliRunner().invoke(cli, ["report", "evidence", "--scan", "4", "--history",
                                      str(stored), "--output", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "index.html").as_uri()

    run = chromium(page, tmp_path, "--dump-dom")
    assert run.returncode == 0, run.stderr
    dom = run.stdout
    assert "conformance evidence: scan 4" in dom, "the page did not render"
    assert dom.count("<svg") >= 5  # a trend per clause and the metric charts
    assert "<polyline" in dom, "the trend line of the four weekly scans"
    for clause in ("8.6.1", "8.5.1"):
        section = dom[dom.index(f'id="clause-{clause}"'):]
        section = section[:section.index("</table>")]
        assert "<svg" in section, f"clause {clause} has its trend chart"
        assert re.search(r"\d+\.\d\d% \([\d,]+ of [\d,]+\)", section), f"{clause} shows rates"
    assert "Time to restore by priority" in dom and "Corrective actions" in dom
    assert dom.index("<h2>Summary</h2>") < dom.index("<h2>Scope</h2>"), "the summary first"
    assert "Most severe open findings" in dom
    assert "Reopen rate over the complete full scans" in dom  # a metric's trend
    assert console_messages(run.stderr) == [], "the pack logs nothing to the console"

    shot = tmp_path / "evidence-pack.png"
    run = chromium(page, tmp_path, f"--screenshot={shot}",
                   f"--window-size={WINDOW[0]},{WINDOW[1]}", "--hide-scrollbars")
    assert run.returncode == 0, run.stderr
    assert console_messages(run.stderr) == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == WINDOW
    if os.environ.get("SMS_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)


def test_incremental_scan_pack_says_its_counts_are_not_population_rates(
        stored: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    result = CliRunner().invoke(cli, ["report", "evidence", "--history", str(stored), "--output",
                                      str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "index.html").read_text()
    assert "conformance evidence: scan 5" in html
    assert "Incremental scan:" in html and "not population rates" in html
    assert "Not drawn: 1 scan whose counts do not cover the whole population" in html
