"""Bad input gets one clear line and exit code 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sms_conformance.cli import cli

GOOD_HEAD = """\
id: incident.custom.check
title: A custom check
clause: "8.6.1"
process: incident
severity: low
message: "{number} is wrong"
remediation: Fix it.
examples:
  pass: [{state: new, category: network}]
  fail: [{state: new}]
scope: {state: [new]}
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def write(tmp_path: Path, body: str, name: str = "incident.custom.check.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_unknown_check_names_file_line_rule(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + "check:\n  - field: category\n    matchs: x\n")
    code, out = run("rules", "validate", str(path))
    assert code == 2
    assert f"{path}:14: incident.custom.check: unknown check 'matchs'" in out


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + "check:\n  - field: category\n    present: [true\n")
    code, out = run("rules", "validate", str(path))
    assert code == 2
    assert f"{path}:" in out and "malformed YAML" in out


def test_scan_with_bad_rules_exits_2_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + "check:\n  - field: colour\n    present: true\n")
    code, out = run("scan", "--source", f"file:{tmp_path}", "--rules", str(path),
                    "--history", str(tmp_path / "h.sqlite"))
    assert code == 2
    assert "unknown field 'colour' for incident" in out


def test_missing_export_directory_exits_2(tmp_path: Path) -> None:
    code, out = run("scan", "--source", f"file:{tmp_path / 'nope'}",
                    "--history", str(tmp_path / "h.sqlite"))
    assert code == 2
    assert "no such directory" in out


def test_unknown_source_exits_2(tmp_path: Path) -> None:
    code, out = run("scan", "--source", "ftp", "--history", str(tmp_path / "h.sqlite"))
    assert code == 2
    assert "use servicenow, sandbox or file:DIR" in out


def test_rules_test_runs_an_organisations_examples(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + "check:\n  - field: category\n    present: true\n")
    code, out = run("rules", "test", str(path))
    assert code == 0, out
    assert "2 passed, 0 failed (1 rules)" in out
    broken = write(tmp_path, GOOD_HEAD.replace("fail: [{state: new}]", "fail: [{state: new, category: x}]")
                   + "check:\n  - field: category\n    present: true\n")
    code, out = run("rules", "test", str(broken))
    assert code == 1
    assert "incident.custom.check:fail[0]: expected fail, got pass" in out


def test_export_directory_without_any_export_exits_2(tmp_path: Path) -> None:
    (tmp_path / "incidents.json").write_text('{"result": []}')  # misnamed
    code, out = run("scan", "--source", f"file:{tmp_path}", "--history", str(tmp_path / "h.sqlite"))
    assert code == 2
    assert "none of incident.json, problem.json, change_request.json" in out
