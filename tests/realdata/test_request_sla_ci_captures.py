"""The real records kept for service requests, service levels and configuration items (see
SOURCES.md): what each file holds, checked against the numbers worked out by hand from it, so a
rule's expected findings on them rest on a known shape."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SERVERS = HERE / "pdi_dev215226" / "cmdb_ci_server.json"
INCIDENTS = HERE / "pdi_dev197215" / "incident.json"
SERVICE = HERE / "pdi_dev94947" / "cmdb_ci_service_business.json"
JSM = HERE / "jsm_cloud_seculayer" / "sla_fields.json"
ITEMS = HERE / "list_export_csv_hyoungjunna" / "sc_req_item.csv"
CMDB = HERE / "list_export_csv_yvain13" / "cmdb_ci.csv"
DIGESTS = {  # as listed in SOURCES.md
    SERVERS: "46e6e29b657b5443b383ad46bf81db3001b5deec535a8b98895d4a9114b7a101",
    INCIDENTS: "525705b9627897455fe6237b839afe9399829fbc0a3ca5013a18aff6d033fffb",
    SERVICE: "dffbe2bee1a572dd851ef9bfef56ad53e2fee3c8a81ac7df1452502f97543219",
    JSM: "ab2cdf56dd0a88522131e342f6bff5a71650facf7890713dc7981cc17854ad09",
    ITEMS: "0907f3c425fcd9335ab6500ceb043e93ef2aee7a88c7bbcfd2b0a173e8d54254",
    CMDB: "847e766e22dbe741a64a94604b8c3e4979c84b7cb37bfe35f94b027a61f4d6cb",
}
FIRST_RESPONSE, RESOLUTION, DEFAULT_RESOLUTION = (
    "customfield_12152", "customfield_12151", "customfield_11038")
REQUEST_TYPE = "customfield_10203"


def rows(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["result"]  # type: ignore[no-any-return]


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def ref(value: Any) -> str:
    return value["value"] if isinstance(value, dict) else str(value)


def test_the_files_are_the_ones_sources_lists() -> None:
    for path, digest in DIGESTS.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, path.name


def test_the_server_export_is_forty_installed_cis_without_a_support_group() -> None:
    servers = rows(SERVERS)
    assert len(servers) == 40  # X-Total-Count 40, one page
    assert {r["install_status"] for r in servers} == {"1"}  # Installed: none retired
    assert {r["operational_status"] for r in servers} == {"1"}
    assert {r["support_group"] for r in servers} == {""}  # every one lacks a support group
    assert {r["sys_class_name"] for r in servers} == {
        "cmdb_ci_server", "cmdb_ci_win_server", "cmdb_ci_unix_server", "cmdb_ci_linux_server",
        "cmdb_ci_aix_server"}
    assert sum(1 for r in servers if r["managed_by"]) == 40


def test_five_demo_incidents_reference_servers_of_the_export() -> None:
    """The demo records keep their sys_ids on every developer instance, so the 2024 incident
    capture of one instance meets the server export of another: 26 incidents name a CI, 5 of
    them one of the 40 servers (the rest name CIs of other classes, not in the export)."""
    servers = {r["sys_id"]: r["name"] for r in rows(SERVERS)}
    incidents = rows(INCIDENTS)
    named = {r["number"]: (ref(r["cmdb_ci"]), r["state"]) for r in incidents if r["cmdb_ci"]}
    assert len(incidents) == 67 and len(named) == 26
    found = {n: (servers[ci], state) for n, (ci, state) in named.items() if ci in servers}
    assert found == {
        "INC0000001": ("MailServerUS", "7"), "INC0000002": ("FileServerFloor2", "3"),
        "INC0000005": ("ApplicationServerPeopleSoft", "7"),
        "INC0000036": ("DatabaseServer2", "7"), "INC0000039": ("MailServerUS", "1")}
    services = [r["number"] for r in incidents if r["business_service"]]
    assert services == ["INC0000060"]  # the one incident naming a service (cmdb_ci_service)


def test_the_business_service_export_is_one_service_without_a_support_group() -> None:
    (service,) = rows(SERVICE)
    assert (service["number"], service["name"], service["sys_class_name"]) == (
        "BSN0001001", "Service1", "cmdb_ci_service_business")
    assert (service["install_status"], service["operational_status"]) == ("1", "1")
    assert service["service_status"] == "requirements" and service["support_group"] == ""
    assert ref(service["managed_by_group"]) == "019ad92ec7230010393d265c95c260dd"


def test_the_jsm_capture_holds_two_service_requests_and_their_sla_cycles() -> None:
    doc = json.loads(JSM.read_text(encoding="utf-8"))
    issues = {i["key"]: i for i in doc["issues"]}
    assert list(issues) == ["TACEA-4540", "TACEA-4539", "TACEA-4537", "TACEA-4536", "TACEA-4532"]
    kinds = {key: (i["issuetype"], i["values"][REQUEST_TYPE]["requestType"]["issueTypeId"],
                   i["values"][REQUEST_TYPE]["currentStatus"]["statusCategory"])
             for key, i in issues.items()}
    assert kinds == {
        "TACEA-4540": ("개선", "10110", "INDETERMINATE"),
        "TACEA-4539": ("서비스 요청", "10105", "DONE"),
        "TACEA-4537": ("인시던트", "10104", "INDETERMINATE"),
        "TACEA-4536": ("서비스 요청", "10105", "DONE"),
        "TACEA-4532": ("인시던트", "10104", "INDETERMINATE")}
    for key, issue in issues.items():
        values = issue["values"]
        assert values[DEFAULT_RESOLUTION] is None, key  # the default SLA field, unused here
        for field in (FIRST_RESPONSE, RESOLUTION):
            sla = values[field]
            assert sla["slaDisplayFormat"] == "NEW_SLA_FORMAT"
            cycles = sla["completedCycles"] + ([sla["ongoingCycle"]] if "ongoingCycle" in sla
                                               else [])
            assert len(cycles) == 1, (key, field)
            for cycle in cycles:
                assert cycle["breached"] is False
                goal, spent = cycle["goalDuration"]["millis"], cycle["elapsedTime"]["millis"]
                assert goal - spent == cycle["remainingTime"]["millis"]
    # Resolution: the two closed service requests completed (goal 40 h), the open ones ongoing.
    resolution = {key: (bool(i["values"][RESOLUTION]["completedCycles"]),
                        (i["values"][RESOLUTION]["completedCycles"]
                         or [i["values"][RESOLUTION].get("ongoingCycle")])[0]["goalDuration"]
                        ["millis"] // 3_600_000)
                  for key, i in issues.items()}
    assert resolution == {"TACEA-4540": (False, 120), "TACEA-4539": (True, 40),
                          "TACEA-4537": (False, 160), "TACEA-4536": (True, 40),
                          "TACEA-4532": (False, 160)}
    names = {f["id"]: f["name"] for f in doc["fields"]}
    assert names["customfield_12051"] == "SLA 지연 사유"  # the site's own breach-reason field


def test_the_requested_items_are_closed_approved_and_never_assigned() -> None:
    """43 requested items of a production instance (people redacted): all closed complete and
    approved, each with a catalogue item and a requester, none with an assignment group or an
    assignee; 25 closed after their due date (the export's due_date: opened + 14 h on all)."""
    items = csv_rows(ITEMS)
    assert len(items) == 43
    assert {(r["state"], r["stage"], r["approval"]) for r in items} == {
        ("Closed Complete", "Completed", "Approved")}
    assert all(r["cat_item"] for r in items) and len({r["cat_item"] for r in items}) == 14
    assert {r["request.requested_for"] for r in items} == {"<redacted>"}
    assert {r["assignment_group"] for r in items} == {""} == {r["assigned_to"] for r in items}
    stamp = "%Y-%m-%d %H:%M"  # no seconds, hours without a leading zero ("2026-06-12 1:53")
    late = [r["number"] for r in items
            if datetime.strptime(r["closed_at"], stamp) > datetime.strptime(r["due_date"], stamp)]
    assert len(late) == 25 and late[:3] == ["RITM0083874", "RITM0083864", "RITM0083839"]
    # Ten closed without a closed_by: the SAP bot's and the M365/Teams automations.
    assert sum(1 for r in items if not r["closed_by"]) == 10


def test_the_cmdb_export_names_cis_by_display_values_without_a_support_group() -> None:
    cis = csv_rows(CMDB)
    assert len(cis) == 2784
    assert "sys_id" not in cis[0] and "support_group" not in cis[0]  # names, not sys_ids
    assert {r["assignment_group"] for r in cis} == {""}
    services = [r for r in cis if r["class"] == "Service"]
    assert len(services) == 41
    assert [r["name"] for r in services if r["operational_status"] != "Operational"] == [
        "Sales Force Automation"]  # Non-Operational
    statuses = {r["install_status"] for r in cis}
    assert statuses == {"Installed", "In Stock", ""}  # no Retired CI in the demo data
    servers = {r["name"] for r in rows(SERVERS)}
    assert servers <= {r["name"] for r in cis}  # the 40 servers of the other capture, by name
