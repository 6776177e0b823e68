"""The registry of connectors: a platform is an entry naming its package; the core, the rules
and the commands need nothing else of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.connectors import registry
from sms_conformance.connectors.registry import PlatformEntry, SourceEntry


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> None:
    """Acme (tests/connectors/acme), registered as a new platform would be: two entries."""
    monkeypatch.setitem(registry.PLATFORMS, "acme", PlatformEntry(
        "acme", "Acme Desk", "tests.connectors.acme", "acme_fieldmap.yaml"))
    monkeypatch.setitem(registry.SOURCES, "acme", SourceEntry(
        "acme", "acme", "tests.connectors.acme.source:open_acme"))


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_a_third_platform_runs_the_built_in_pack_unchanged(acme: None, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, out = run("scan", "--source", "acme", "--format", "json", "--output", str(report),
                    "--history", str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01")
    assert code == 0, out
    rules = {r["rule_id"]: r for r in json.loads(report.read_text())["summary"]["rules"]}
    matrix = rules["incident.priority.matrix"]
    assert (matrix["evaluated"], matrix["failed"]) == (2, 1)
    assert [f["number"] for f in json.loads(report.read_text())["findings"]
            if f["rule_id"] == "incident.priority.matrix"] == ["ACME-2"]
    # Rules reading a field Acme does not fill are off on Acme, not failed.
    assert "incident.logging.category" not in rules
    assert not [r for r in rules if not r.startswith("incident.")]


def test_rules_off_on_a_platform_say_why_in_its_words(acme: None) -> None:
    code, out = run("doctor", "--source", "acme")
    assert code == 0, out
    assert "rule incident.logging.category is off: Acme has no category" in out
    assert "incident: 2 records" in out  # no Doctor declared: what the source provides


def test_write_back_needs_a_source_that_declares_it(acme: None, tmp_path: Path) -> None:
    """bad input: --write-back on a source that only reads; outcome: exit 2, nothing written."""
    code, out = run("scan", "--source", "acme", "--write-back", "--history",
                    str(tmp_path / "h.sqlite"))
    assert code == 2
    assert "error: --write-back needs a live source" in out


def test_a_platform_whose_package_is_missing_is_a_config_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """bad input: --source of a registered platform whose package is not installed; outcome:
    exit 2 with one line naming the missing module."""
    monkeypatch.setitem(registry.PLATFORMS, "ghost", PlatformEntry(
        "ghost", "Ghost ITSM", "sms_conformance.connectors.ghost", "ghost_fieldmap.yaml"))
    monkeypatch.setitem(registry.SOURCES, "ghost", SourceEntry(
        "ghost", "ghost", "sms_conformance.connectors.ghost.source:open_site"))
    code, out = run("scan", "--source", "ghost", "--history", str(tmp_path / "h.sqlite"))
    assert code == 2
    assert out.strip() == ("error: the Ghost ITSM connector is not available in this "
                           "installation (no module sms_conformance.connectors.ghost)")


def test_unknown_sources_are_refused_with_the_sources_of_each_platform() -> None:
    code, out = run("scan", "--source", "sandbox:x")
    assert code == 2
    assert ("or file:DIR (ServiceNow); jira or file:DIR (Jira Service Management)" in out)
