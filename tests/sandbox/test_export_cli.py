"""Exports and the `sandbox` CLI group."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import requests
from click.testing import CliRunner

from sms_conformance.cli.sandbox import sandbox_group
from sms_conformance.sandbox.dataset import generate
from sms_conformance.sandbox.servicenow import Sandbox
from sms_conformance.sandbox.servicenow.export import export


def test_export_matches_api_rendering(tmp_path: Path) -> None:
    data = generate(120, 3)
    paths = export(data, tmp_path, base_url="https://x.service-now.com")
    assert set(paths) == {"incident", "problem", "change_request", "sc_req_item", "sc_request",
                          "sc_cat_item", "task_sla", "cmdb_ci", "planted"}
    incidents = json.loads((tmp_path / "incident.json").read_text())["result"]
    assert len(incidents) == 120
    with Sandbox(dataset=data, password="pw") as sb:
        api = requests.get(f"{sb.url}/api/now/table/incident", auth=("admin", "pw"),
                           headers={"Host": "x.service-now.com"}).json()["result"]
    normalise = json.dumps(api).replace("http://x.service-now.com", "https://x.service-now.com")
    assert json.loads(normalise) == incidents
    assert json.loads((tmp_path / "planted.json").read_text()) == data.planted
    problems = json.loads((tmp_path / "problem.json").read_text())["result"]
    assert len(problems) == 18 and problems[0]["number"].startswith("PRB")
    items = json.loads((tmp_path / "sc_req_item.json").read_text())["result"]
    assert len(items) == 36 and items[0]["number"].startswith("RITM")  # 30 % of the records
    assert set(items[0]["request"]) == {"link", "value"}  # its request, by reference


def test_cli_export(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    result = CliRunner().invoke(sandbox_group, ["export", "--records", "200", "--seed", "5",
                                                "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "incident:" in result.output
    assert len(json.loads((out / "change_request.json").read_text())["result"]) == 50


def test_cli_rejects_bad_fault_spec() -> None:
    result = CliRunner().invoke(sandbox_group, ["serve", "--faults", "teapot:1"])
    assert result.exit_code == 2
    assert "bad fault" in result.output


def test_cli_serve_prints_credentials_and_serves() -> None:
    env = {**os.environ, "SMS_SANDBOX_PASSWORD": "from-env"}
    code = "from sms_conformance.cli.sandbox import sandbox_group; sandbox_group()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", "0", "--records", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        lines: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            key, _, value = line.partition(":")
            lines[key.strip()] = value.strip()
            if key == "password":
                break
        assert lines["user"] == "admin" and lines["password"] == "from-env"
        resp = requests.get(f"{lines['url']}/api/now/table/incident", auth=("admin", "from-env"),
                            params={"sysparm_limit": 1}, timeout=10)
        assert resp.status_code == 200 and resp.headers["X-Total-Count"] == "40"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_export_writes_the_list_views_csv_with_display_values(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    result = CliRunner().invoke(sandbox_group, [
        "export", "--records", "60", "--seed", "5", "--out", str(out), "--format", "csv",
        "--display-values", "true", "--date-format", "dd/MM/yyyy HH:mm", "--time-zone",
        "Asia/Tokyo"])
    assert result.exit_code == 0, result.output
    with (out / "incident.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 60
    assert {r["state"] for r in rows} <= {"New", "In Progress", "On Hold", "Resolved", "Closed",
                                          "Canceled"}
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", r["opened_at"]) for r in rows)
    assert not (out / "incident.json").exists()


def test_cli_export_refuses_a_shape_it_does_not_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(sandbox_group, [
        "export", "--out", str(tmp_path), "--format", "list-json", "--display-values", "all"])
    assert result.exit_code == 2
    assert "stored values only" in result.output
