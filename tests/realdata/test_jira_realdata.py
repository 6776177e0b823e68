"""Real Jira data nobody here wrote (see SOURCES.md), read by the offline reader: a Jira Cloud
CSV export (Export > CSV (all fields), 2026) and a Jira Cloud search page of a site with
Service Management fields (2023). Findings worked out by hand from the rows must hold, and
what the export does not carry must be unknown."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pydantic import SecretStr

from sms_conformance.cli import cli
from sms_conformance.connectors.base import FetchRequest
from sms_conformance.connectors.jira import fieldmap as jira_fieldmap
from sms_conformance.connectors.jira.auth import TokenAuth
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap, load_jira_field_map
from sms_conformance.connectors.jira.file import JiraFileConnector
from sms_conformance.model.records import Process, Ref, Unknown
from tests.connectors.snow_fakes import Req, Resp, StubServer

HERE = Path(__file__).parent
CSV_EXPORT = HERE / "jira_csv_insureco"
SEARCH_PAGE = HERE / "jira_cloud_demistodev"
BUGS = ["DI-123", "DI-124", "DI-126", "DI-127"]  # the export's Bugs: incidents here
# The CSV site's own project and workflow (its Bugs taken as incidents), over the shipped map.
CSV_MAP = {"projects": ["DI"], "processes": {"incident": {
    "issue_types": ["Bug"], "states": {"To Do": "new", "In Progress": "in_progress"}}}}
# The search page's site: its JSM fields by the names it has (Team as the assignment group).
PAGE_MAP: dict[str, Any] = {"projects": ["COMPANYSA"], "processes": {"incident": {
    "issue_types": ["Task", "Story"],
    "states": {"Done": "resolved", "Backlog": "new", "Selected for Development": "new"},
    "fields": {
        "number": {"field": "key"}, "reporter": {"field": "reporter", "type": "ref"},
        "opened_at": {"field": "created", "type": "datetime"},
        "updated_at": {"field": "updated", "type": "datetime"},
        "short_description": {"field": "summary"}, "description": {"field": "description"},
        "category": {"name": "Category"}, "impact": {"name": "Impact"},
        "urgency": {"name": "Urgency"},
        "priority": {"field": "priority", "type": "int",
                     "values": {"Highest": 1, "High": 2, "Medium": 3, "Low": 4, "Lowest": 5}},
        "assignment_group": {"name": "Team", "type": "ref"},
        "assignee": {"field": "assignee", "type": "ref"},
        "service": {"name": "Affected services", "type": "ref"},
        "configuration_item": {"name": "Affected hardware", "type": "ref"},
        "resolved_at": {"field": "resolutiondate", "type": "datetime"},
        "resolution_code": {"field": "resolution"},
        "hold_reason": {"name": "Pending reason"},
        "problem": {"link": "Problem/Incident", "direction": "inward"},
    }}}}


def scan(directory: Path, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(cli, [
        "scan", "--source", f"file:{directory}", "--platform", "jira", *extra,
        "--history", str(tmp_path / "h.sqlite"), "--format", "json", "--output", str(out)])
    assert result.exit_code in (0, 1), result.output
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def rule(report: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in report["summary"]["rules"] if r["rule_id"] == rule_id)


def failing(report: dict[str, Any], rule_id: str) -> list[str]:
    return sorted(f["number"] for f in report["findings"]
                  if f["rule_id"] == rule_id and f["status"] == "fail")


@pytest.fixture(scope="module")
def csv_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = tmp_path_factory.mktemp("config")
    (config / "jira_fieldmap.yaml").write_text(yaml.safe_dump(CSV_MAP))
    return scan(CSV_EXPORT, tmp_path_factory.mktemp("csv"), "--config", str(config))


def test_the_real_csv_export_gives_hand_worked_findings(csv_report: dict[str, Any]) -> None:
    # Both "Custom field (Category)" columns are empty on every Bug.
    assert failing(csv_report, "incident.logging.category") == BUGS
    # Reporter Id holds Cloud account ids: every Bug has a reporter.
    assert rule(csv_report, "incident.logging.reporter")["failed"] == 0
    assert rule(csv_report, "incident.logging.reporter")["evaluated"] == 4


def test_fields_the_real_csv_export_lacks_are_unknown_never_failures(
        csv_report: dict[str, Any]) -> None:
    # No "Assignment group" column: DI-123, the one Bug in progress, is unknown.
    group = rule(csv_report, "incident.logging.assignment_group")
    assert (group["evaluated"], group["unknown"], group["failed"]) == (1, 1, 0)
    # Affected services empty, but no "Configuration item" column: service or CI is unknown.
    service = rule(csv_report, "incident.logging.service_or_ci")
    assert (service["unknown"], service["failed"]) == (4, 0)
    reopen = rule(csv_report, "incident.reopen.none")  # no "Reopen count" column
    assert (reopen["unknown"], reopen["failed"]) == (4, 0)


def test_the_real_csv_exports_values_read_as_jira_shows_them(tmp_path: Path) -> None:
    (tmp_path / "jira_fieldmap.yaml").write_text(yaml.safe_dump(CSV_MAP))
    conn = JiraFileConnector(CSV_EXPORT, load_jira_field_map(
        override=tmp_path / "jira_fieldmap.yaml"))
    records = {r.number: r for r in conn.fetch(FetchRequest(Process.INCIDENT, (), frozenset(
        {"opened_at", "assignee", "priority", "state", "category"})))}
    assert sorted(records) == BUGS  # the Story and the Epics are no incidents
    # "25/Feb/26 10:17 PM": Jira's default format; no zone in the file, none given: UTC.
    assert records["DI-127"].fields["opened_at"] == datetime(2026, 2, 25, 22, 17,
                                                             tzinfo=timezone.utc)
    assert any("carry no time zone: read as UTC" in n for n in conn.notices)
    assert records["DI-123"].fields["assignee"] == Ref(
        "user", "712020:dbd660ad-a6f9-46c6-ba6d-12d60b31a247")  # Assignee Id
    assert records["DI-127"].fields["assignee"] is None
    assert {r.fields["priority"] for r in records.values()} == {3}  # Medium
    assert records["DI-123"].fields["state"] == "in_progress"
    assert records["DI-127"].fields["category"] is None
    # Evaluated as of the export: its newest Updated.
    assert conn.export_moment() == (datetime(2026, 2, 25, 22, 17, tzinfo=timezone.utc),
                                    f"the newest updated in {CSV_EXPORT}")


@pytest.fixture
def page_map(monkeypatch: pytest.MonkeyPatch) -> JiraFieldMap:
    mapped = JiraFieldMap.model_validate(PAGE_MAP)
    monkeypatch.setattr(jira_fieldmap, "load_field_map", lambda override=None: mapped)
    return mapped


def test_a_real_jsm_sites_field_names_are_the_shipped_maps(page_map: JiraFieldMap) -> None:
    """The page's `names` (its site's GET field, as expand=names gives it) hold the JSM field
    names the shipped map looks for."""
    conn = JiraFileConnector(SEARCH_PAGE, page_map)
    shipped = {spec.name for pmap in load_jira_field_map().processes.values()
               for spec in pmap.fields.values() if spec.name}
    present = {"Impact", "Urgency", "Category", "Affected services", "Pending reason",
               "Root cause", "Workaround", "Change type", "Change risk", "Implementation plan",
               "Backout plan", "Test plan", "Planned start", "Planned end"}
    assert present <= shipped
    assert all(conn.export.catalog.problem(name) == "" for name in present)
    assert any("found by the names the pages carry" in n for n in conn.notices)


def test_the_real_search_page_gives_hand_worked_findings(page_map: JiraFieldMap,
                                                         tmp_path: Path) -> None:
    directory = tmp_path / "page"
    shutil.copytree(SEARCH_PAGE, directory)
    report = scan(directory, tmp_path)
    # Both issues are Done with no resolution, no resolution date, no Category, no Team.
    both = ["COMPANYSA-14", "COMPANYSA-28"]
    assert failing(report, "incident.resolution.code") == both
    assert failing(report, "incident.logging.category") == both
    assert failing(report, "incident.logging.assignment_group") == both
    # COMPANYSA-28's Problem/Incident link is outward (it causes COMPANYSA-31): no problem.
    conn = JiraFileConnector(directory, page_map)
    records = {r.number: r for r in conn.fetch(FetchRequest(Process.INCIDENT, (), frozenset(
        {"problem", "description", "priority", "assignee", "impact"})))}
    assert records["COMPANYSA-28"].fields["problem"] is None
    assert records["COMPANYSA-28"].fields["description"] in (None, "")  # ADF with no content
    assert records["COMPANYSA-14"].fields["description"] == "You better be created"
    assert records["COMPANYSA-28"].fields["priority"] == 1
    assert records["COMPANYSA-14"].fields["assignee"] == Ref("user", "60655c8870af500075ddb7e8")
    assert not isinstance(records["COMPANYSA-14"].fields["impact"], Unknown)  # null: empty


def test_the_live_connector_reads_the_real_page_as_the_offline_reader_does(
        page_map: JiraFieldMap) -> None:
    """The real page served as a Data Center site's legacy search answer (the site around it,
    who am I, the project's types and GET field from the page's `names`, is the glue): the
    live connector's records are the offline reader's, value for value."""
    page = json.loads((SEARCH_PAGE / "search.json").read_text())
    searched: list[Any] = []

    def site(req: Req) -> Resp:
        if req.path.startswith("/rest/api/3/"):
            return Resp(404, {"errorMessages": ["not found"]})
        route = req.path.removeprefix("/rest/api/2/")
        if route == "myself":
            return Resp(200, {"name": "admin", "key": "admin", "timeZone": "Asia/Jerusalem"})
        if route.startswith("project/"):
            return Resp(200, {"key": "COMPANYSA", "issueTypes": [{"name": "Task"},
                                                                 {"name": "Story"}]})
        if route == "field":
            return Resp(200, [{"id": k, "name": v} for k, v in page["names"].items()])
        if route == "status":
            return Resp(200, [{"name": n} for n in ("Done", "Backlog")])
        if route == "search":
            searched.append(req.json())
            return Resp(200, page)
        return Resp(404, {"errorMessages": ["not found"]})

    wanted = frozenset(page_map.processes[Process.INCIDENT].fields) | {"state"}
    with StubServer(site) as server:
        client = JiraClient(server.url, TokenAuth(SecretStr("dc-token")), timeout=5)
        live = {r.number: r.fields for r in JiraConnector(server.url, client, page_map).fetch(
            FetchRequest(Process.INCIDENT, (), wanted))}
    offline = {r.number: r.fields for r in JiraFileConnector(SEARCH_PAGE, page_map).fetch(
        FetchRequest(Process.INCIDENT, (), wanted))}
    assert searched and "COMPANYSA" in searched[0]["jql"]
    assert sorted(live) == ["COMPANYSA-14", "COMPANYSA-28"]
    assert live == offline
    assert live["COMPANYSA-28"]["resolution_code"] is None  # Done without a resolution
