"""The configuration-item rules (8.2.6) on real records (see SOURCES.md): the 67 demo incidents
captured from one developer instance beside the server CIs captured from another, whose demo
sys_ids agree. The server capture stands as the cmdb_ci export; it holds servers only, so only
the incidents naming no CI or a server are kept, and the expected findings are worked out here
from the files themselves, not from the tool. A CMDB export without sys_ids (a real list export)
cannot answer a lookup: the CI rules are unknown on it, with the reason, never a failure."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.realdata._reports import counts, scan

HERE = Path(__file__).parent
INCIDENTS = HERE / "pdi_dev197215" / "incident.json"
SERVERS = HERE / "pdi_dev215226" / "cmdb_ci_server.json"
CMDB_LIST = HERE / "list_export_csv_yvain13" / "cmdb_ci.csv"
OPEN = {"1", "2", "3"}  # New, In Progress, On Hold: the scope of not_retired and support_group
RETIRED = {"install_status": "7", "operational_status": "6"}


def rows(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["result"]  # type: ignore[no-any-return]


def ci_of(incident: dict[str, Any]) -> str:
    value = incident["cmdb_ci"]
    return str(value["value"] if isinstance(value, dict) else value)


def failed(report: dict[str, Any], rule_id: str) -> set[str]:
    return {f["number"] for f in report["findings"]
            if f["rule_id"] == rule_id and f["status"] == "fail"}


@pytest.fixture(scope="module")
def servers() -> dict[str, dict[str, Any]]:
    return {r["sys_id"]: r for r in rows(SERVERS)}


@pytest.fixture(scope="module")
def kept(servers: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The real incidents that name no CI or one of the exported servers, unchanged."""
    return [r for r in rows(INCIDENTS) if not r["cmdb_ci"] or ci_of(r) in servers]


@pytest.fixture(scope="module")
def with_servers(tmp_path_factory: pytest.TempPathFactory,
                 kept: list[dict[str, Any]]) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("ci")
    export = tmp / "export"
    export.mkdir()
    (export / "incident.json").write_text(json.dumps({"result": kept}), encoding="utf-8")
    shutil.copy(SERVERS, export / "cmdb_ci.json")
    return scan(export, tmp)


def test_every_named_server_is_found(with_servers: dict[str, Any],
                                     kept: list[dict[str, Any]]) -> None:
    naming = [r for r in kept if r["cmdb_ci"]]
    assert len(kept) == 46 and len(naming) == 5
    assert counts(with_servers, "incident.ci.exists") == (len(kept), len(kept), 0, 0)


def test_open_incidents_on_a_server_without_a_support_group_fail(
        with_servers: dict[str, Any], kept: list[dict[str, Any]],
        servers: dict[str, dict[str, Any]]) -> None:
    open_ = [r for r in kept if r["state"] in OPEN]
    lacking = {r["number"] for r in open_ if r["cmdb_ci"] and not servers[ci_of(r)]["support_group"]}
    assert lacking == {"INC0000002", "INC0000039"}  # on hold and new; the other three are closed
    assert counts(with_servers, "incident.ci.support_group") == (
        len(open_), len(open_) - len(lacking), len(lacking), 0)
    assert failed(with_servers, "incident.ci.support_group") == lacking


def test_no_open_incident_is_on_a_retired_server(
        with_servers: dict[str, Any], kept: list[dict[str, Any]],
        servers: dict[str, dict[str, Any]]) -> None:
    open_ = [r for r in kept if r["state"] in OPEN]
    on_retired = [r for r in open_ if r["cmdb_ci"] and any(
        servers[ci_of(r)][field] == code for field, code in RETIRED.items())]
    assert on_retired == []
    assert counts(with_servers, "incident.ci.not_retired") == (len(open_), len(open_), 0, 0)


def test_a_cmdb_list_export_without_sys_ids_leaves_the_ci_rules_unknown(
        tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    shutil.copy(INCIDENTS, export / "incident.json")
    shutil.copy(CMDB_LIST, export / "cmdb_ci.csv")
    report = scan(export, tmp_path)
    incidents = rows(INCIDENTS)
    naming = [r for r in incidents if r["cmdb_ci"]]
    open_naming = [r for r in naming if r["state"] in OPEN]
    assert counts(report, "incident.ci.exists") == (
        len(incidents), len(incidents) - len(naming), 0, len(naming))
    for rule in ("incident.ci.not_retired", "incident.ci.support_group"):
        open_ = [r for r in incidents if r["state"] in OPEN]
        assert counts(report, rule) == (
            len(open_), len(open_) - len(open_naming), 0, len(open_naming))
    gap = next(g for g in report["summary"]["unavailable"] if g["field"] == "configuration_item")
    assert "cmdb_ci.csv carries no sys_id" in gap["reason"]
    assert not [f for f in report["findings"] if ".ci." in f["rule_id"] and f["status"] == "fail"]
