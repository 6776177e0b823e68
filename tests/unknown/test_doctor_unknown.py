"""doctor names what the source does not provide: hidden fields, columns not exported."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export


def test_doctor_names_a_field_hidden_by_an_acl(monkeypatch) -> None:
    """fault: a read ACL hides incident.close_notes; outcome: doctor fails naming the field."""
    with Sandbox(records=100, seed=3, hidden_fields=("incident.close_notes",)) as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        result = CliRunner().invoke(cli, ["doctor", "--source", "servicenow", "--instance", box.url])
    assert result.exit_code == 3, result.output
    line = next(x for x in result.output.splitlines() if "hidden from the integration user" in x)
    assert line.startswith("FAIL") and "close_notes" in line


def test_doctor_on_an_export_lists_missing_columns_and_tables(tmp_path: Path) -> None:
    export(generate(60, 2), tmp_path)
    path = tmp_path / "incident.json"
    body = json.loads(path.read_text())
    body["result"] = [{k: v for k, v in r.items() if k != "close_notes"} for r in body["result"]]
    path.write_text(json.dumps(body))
    (tmp_path / "problem.json").unlink()
    result = CliRunner().invoke(cli, ["doctor", "--source", f"file:{tmp_path}"])
    assert result.exit_code == 0, result.output
    assert "problem.json not found" in result.output
    line = next(x for x in result.output.splitlines() if "incident.resolution_notes" in x)
    assert "close_notes was not returned" in line and "incident.closure.validated" in line
