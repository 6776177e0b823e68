"""An organisation's config/: rule overrides by id, disabled rules, settings, waivers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow.export import export


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    directory = tmp_path_factory.mktemp("exports")
    dataset = generate(records=400, seed=12)
    export(dataset, directory)
    return directory, dataset.planted


def scan(exports_dir: Path, config: Path, tmp_path: Path) -> dict:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{exports_dir}", "--config", str(config), "--as-of", "2026-11-01",
        "--format", "json", "--output", str(out), "--history", str(tmp_path / "h.sqlite"),
    ])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def numbers(report: dict, rule_id: str, status: str = "fail") -> set[str]:
    return {f["number"] for f in report["findings"]
            if f["rule_id"] == rule_id and f["status"] == status}


def test_disabled_rules_and_settings_come_from_config(exports, tmp_path: Path) -> None:
    directory, _ = exports
    config = tmp_path / "config"
    config.mkdir()
    baseline = scan(directory, config, tmp_path)
    (config / "settings.yaml").write_text(
        "disabled_rules: [incident.reopen.*]\nrestore_targets: {1: 1h, 2: 1h, 3: 1h, 4: 1h, 5: 1h}\n"
    )
    tuned = scan(directory, config, tmp_path)
    rules = {r["rule_id"] for r in tuned["summary"]["rules"]}
    assert "incident.reopen.none" not in rules and "incident.closure.validated" in rules
    assert numbers(tuned, "incident.restore.within_target") > numbers(
        baseline, "incident.restore.within_target")


def test_config_rule_replaces_the_built_in_one_with_the_same_id(exports, tmp_path: Path) -> None:
    directory, _ = exports
    config = tmp_path / "config"
    (config / "rules").mkdir(parents=True)
    (config / "rules" / "incident.logging.category.yaml").write_text("""\
id: incident.logging.category
title: Incidents carry a category other than inquiry
clause: "8.6.1"
process: incident
severity: low
scope: {state: [new, in_progress, on_hold, resolved, closed]}
check:
  - field: category
    not_in: [inquiry]
message: "{number} is categorised as {category}"
remediation: Pick the category of the affected service.
examples:
  pass: [{state: new, category: network}]
  fail: [{state: new, category: inquiry}]
""")
    report = scan(directory, config, tmp_path)
    [line] = [r for r in report["summary"]["rules"] if r["rule_id"] == "incident.logging.category"]
    assert line["title"] == "Incidents carry a category other than inquiry"
    assert line["failed"] > 0  # the seeded data has incidents categorised as inquiry


def test_waivers_report_waived_and_expired_ones_are_findings_again(exports, tmp_path: Path) -> None:
    directory, planted = exports
    failing = sorted(n for n, rules in planted.items() if "incident.closure.validated" in rules)
    live, expired = failing[0], failing[1]
    config = tmp_path / "config"
    config.mkdir()
    (config / "waivers.yaml").write_text(f"""\
waivers:
  - rule: incident.closure.validated
    record: {live}
    reason: Closure confirmed by phone, recorded in the major incident report
    approver: J. Doe, incident process owner
    expires: 2027-03-31
  - rule: incident.closure.validated
    record: {expired}
    reason: Legacy ticket
    approver: J. Doe, incident process owner
    expires: 2026-10-01
""")
    report = scan(directory, config, tmp_path)
    assert numbers(report, "incident.closure.validated", "waived") == {live}
    assert expired in numbers(report, "incident.closure.validated", "fail")
    assert any("expired 2026-10-01" in n for n in report["scan"]["notices"])
    # Stale at load: a notice naming the file and the line of its expiry, not a refusal.
    assert any(n.endswith("waiver for incident.closure.validated expired 2026-10-01: it waives "
                          "nothing; renew or remove it") and "waivers.yaml:11:" in n
               for n in report["scan"]["notices"])
