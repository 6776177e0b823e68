"""End to end: the sandbox over real HTTP, file exports, and the CLI."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.app.config import ConfigDir
from sms_conformance.cli import cli
from sms_conformance.connectors.servicenow.file import FileConnector
from sms_conformance.connectors.servicenow.source import sandbox_connector
from sms_conformance.engine.waivers import Waivers
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export
from sms_conformance.scan.scanner import Scanner, ScanOptions
from sms_conformance.store.history import History
from tests.conftest import FROZEN_NOW

VENDOR_CONFIG = Path(__file__).parent / "fixtures" / "vendor_config"


def scan_findings(connector, tmp_path: Path, name: str,
                  config: ConfigDir | None = None) -> set[tuple[str, str, str]]:
    config = config or ConfigDir(None)
    fieldmap = config.fieldmap()
    history = History(tmp_path / f"{name}.sqlite")
    outcome = Scanner(connector, config.rules(), history).run(
        ScanOptions(now=FROZEN_NOW, waivers=Waivers([], FROZEN_NOW.date())),
        lambda p: fieldmap.for_process(p).table,
    )
    assert outcome.complete, outcome.error
    return {(f.rule_id, f.number, f.status) for f in history.findings(outcome.scan_id)}


def test_sandbox_over_http_and_file_export_give_the_same_findings(tmp_path: Path) -> None:
    fieldmap = ConfigDir(None).fieldmap()
    with Sandbox(records=400, seed=5) as sandbox:
        over_http = scan_findings(
            sandbox_connector(sandbox.url, sandbox.password, fieldmap), tmp_path, "http"
        )
    export(generate(records=400, seed=5), tmp_path / "export")
    from_files = scan_findings(FileConnector(tmp_path / "export", fieldmap), tmp_path, "file")
    assert over_http, "the sandbox plants nonconformities: a scan must find some"
    assert over_http == from_files


def test_export_scan_finds_every_planted_kind_and_flags_no_clean_record(tmp_path: Path) -> None:
    dataset = generate(records=1200, seed=11)
    export(dataset, tmp_path)
    config = ConfigDir(VENDOR_CONFIG)  # the sandbox has the custom vendor reference field
    found = scan_findings(FileConnector(tmp_path, config.fieldmap()), tmp_path, "truth", config)
    assert {status for _, _, status in found} == {"fail"}, "no check may error on realistic data"
    flagged: dict[str, set[str]] = defaultdict(set)
    for rule_id, number, _ in found:
        flagged[number].add(rule_id)
    planted = {number: set(rules) for number, rules in dataset.planted.items() if rules}
    assert flagged == planted
    kinds = {rule for rules in planted.values() for rule in rules}
    assert len(kinds) == len(config.rules()), "every rule has a planted nonconformity"


def test_rule_reading_an_unmapped_field_is_off_until_mapped(tmp_path: Path) -> None:
    assert "incident.vendor.reference" not in {r.id for r in ConfigDir(None).rules()}
    assert "incident.vendor.reference" in {r.id for r in ConfigDir(VENDOR_CONFIG).rules()}
    listed = CliRunner().invoke(cli, ["rules", "list"])
    assert "OFF: off until vendor_reference is mapped" in listed.output


def test_sandbox_scan_finds_standard_changes_without_plans_and_problems_without_owner(
        tmp_path: Path) -> None:
    dataset = generate(records=400, seed=5)
    with Sandbox(records=400, seed=5) as sandbox:
        found = scan_findings(
            sandbox_connector(sandbox.url, sandbox.password, ConfigDir(None).fieldmap()),
            tmp_path, "http",
        )
    standard = {dataset.record("change_request", row)["number"]
                for row in dataset.tables["change_request"]
                if dataset.record("change_request", row)["type"] == "standard"}
    planted = {(rule, number) for number, rules in dataset.planted.items() for rule in rules}
    plan_gaps = {(rule, number) for rule, number in planted
                 if number in standard and rule.startswith("change.plan.")}
    unowned = {(rule, number) for rule, number in planted
               if rule == "problem.ownership.assignment_group"}
    assert plan_gaps and unowned
    flagged = {(rule, number) for rule, number, _ in found}
    assert plan_gaps | unowned <= flagged


def test_demo_prints_a_per_rule_summary_of_a_real_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # its history store (.demo/) there, not in the checkout
    result = CliRunner().invoke(cli, ["demo", "--records", "300"])
    assert result.exit_code == 0, result.output
    assert "Clause 8.6.1 Incident management" in result.output
    assert "incident.closure.validated" in result.output
    assert "Findings (" in result.output


def test_scan_json_report_has_the_documented_shape(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", "sandbox", "--records", "300", "--format", "json", "--output", str(out),
        "--history", str(tmp_path / "h.sqlite"), "--as-of", "2026-11-01",
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert (report["schema"], report["schema_version"]) == ("sms-conformance/report", "2.0")
    assert report["scan"]["complete"] is True
    assert report["findings"], "seeded data has findings"
    required = {"rule_id", "clause", "severity", "process", "table", "record_id", "number", "message",
                "status", "url", "owner", "first_seen", "fingerprint", "observed"}
    assert all(required <= set(f) for f in report["findings"])
    rules = {r["rule_id"]: r for r in report["summary"]["rules"]}
    assert all(r["evaluated"] == r["passed"] + r["failed"] + r["unknown"] + r["errors"]
               + r["waived"] for r in rules.values())
    assert report["summary"]["unavailable"] == []  # the sandbox returns every field asked for
    made = report["reproducibility"]
    assert made["filters"]["as_of"] == "2026-11-01" and made["filters"]["incremental"] is False
    assert len(made["rules_digest"]) == len(made["config_digest"]) == 64


def test_fail_on_sets_exit_code_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [
        "scan", "--source", "sandbox", "--records", "300", "--fail-on", "high",
        "--history", str(tmp_path / "h.sqlite"), "--only", "incident.*",
    ])
    assert result.exit_code == 1, result.output


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_wrong_password_exits_3_with_the_http_status(tmp_path: Path, monkeypatch, verbose) -> None:
    with Sandbox(records=50, seed=1) as sandbox:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", "not-the-password")
        result = CliRunner().invoke(cli, [
            *verbose, "scan", "--source", "servicenow", "--instance", sandbox.url,
            "--history", str(tmp_path / "h.sqlite"),
        ])
    assert result.exit_code == 3, result.output
    assert "401" in result.output
    assert "not-the-password" not in result.output


@pytest.mark.parametrize("missing", ["problem.json", "change_request.json"])
def test_missing_export_file_skips_that_process_with_a_notice(tmp_path: Path, missing: str) -> None:
    export(generate(records=200, seed=2), tmp_path)
    (tmp_path / missing).unlink()
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{tmp_path}", "--history", str(tmp_path / "h.sqlite"),
    ])
    assert result.exit_code == 0, result.output
    assert f"notice: {missing} not found" in result.output
