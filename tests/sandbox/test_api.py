"""The HTTP Table API against the real captures in samples/ (copied from shared/reference)."""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from sms_conformance.sandbox.servicenow import Sandbox
from tests.sandbox.conftest import PASSWORD, SAMPLES, read_headers

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
LINK_PART = re.compile(r'^<(?P<url>[^>]+)>;rel="(?P<rel>first|prev|next|last)"$')


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def value_kind(value: Any) -> str:
    if isinstance(value, str):
        return "str"
    assert isinstance(value, dict) and set(value) == {"link", "value"}, value
    assert all(isinstance(v, str) for v in value.values())
    return "ref"


def parse_link(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(","):
        m = LINK_PART.match(part)
        assert m, part
        out[m["rel"]] = m["url"]
    return out


def test_incident_row_has_the_captured_value_types(sandbox: Sandbox,
                                                   http: requests.Session) -> None:
    real = sample("incident_list_pdi_2024.json")["result"]
    ours = http.get(f"{sandbox.url}/api/now/table/incident",
                    params={"sysparm_limit": 50}).json()["result"]
    real_kinds = {k: value_kind(v) for row in real for k, v in row.items() if v != ""}
    for row in ours:
        for key, value in row.items():
            kind = value_kind(value)
            if key in real_kinds and value != "":
                assert kind == real_kinds[key], (key, value)
    ref_keys = {k for k, kind in real_kinds.items() if kind == "ref"}
    assert ref_keys <= set(ours[0]), ref_keys - set(ours[0])
    missing = set(real[0]) - set(ours[0])
    assert not missing, f"captured incident fields we do not serve: {sorted(missing)}"


def test_datetime_format_matches_capture(sandbox: Sandbox, http: requests.Session) -> None:
    real = sample("incident_list_pdi_2024.json")["result"][0]
    assert DATETIME.match(real["sys_created_on"])
    row = http.get(f"{sandbox.url}/api/now/table/incident",
                   params={"sysparm_limit": 1, "sysparm_query": "state=7"}).json()["result"][0]
    for key in ("opened_at", "sys_created_on", "sys_updated_on", "resolved_at", "closed_at"):
        assert DATETIME.match(row[key]), (key, row[key])
    assert re.match(r"^1970-01-\d\d \d\d:\d\d:\d\d$", row["calendar_duration"])
    assert row["incident_state"] == row["state"] == "7"
    assert row["active"] == "false"


def test_list_headers_like_capture_single_page(sandbox: Sandbox, http: requests.Session) -> None:
    real = read_headers("incident_list_pdi_2024.headers.txt")
    resp = http.get(f"{sandbox.url}/api/now/table/sys_user_group",
                    params={"sysparm_limit": 500})
    assert resp.status_code == 200
    assert "link" not in {k.lower() for k in resp.headers}
    assert resp.headers["X-Total-Count"] == "15"
    for name in ("content-type", "server", "x-is-logged-in", "cache-control", "pragma",
                 "expires", "x-content-type-options"):
        assert resp.headers[name] == real[name], name
    assert re.match(r"^[0-9a-f]{12}$", resp.headers["X-Transaction-ID"])


def test_link_header_format_limit_one(sandbox: Sandbox, http: requests.Session) -> None:
    real = read_headers("sys_user_limit1_link_header_pdi_2024.headers.txt")["link"]
    resp = http.get(f"{sandbox.url}/api/now/table/sys_user?sysparm_limit=1")
    ours = resp.headers["Link"]
    host = "dev197215.service-now.com"
    expected = real.replace(f"https://{host}", sandbox.url).replace(
        "sysparm_offset=625", "sysparm_offset=199")
    assert ours == expected
    assert resp.headers["X-Total-Count"] == "200"


def test_link_header_first_and_last_page(sandbox: Sandbox, http: requests.Session) -> None:
    first = read_headers("sys_user_page1_of2_pdi_2024_HEADERS_ONLY.headers.txt")["link"]
    second = read_headers("sys_user_page2_of2_pdi_2024_HEADERS_ONLY.headers.txt")["link"]
    base = "https://dev197215.service-now.com"
    # 626 users, limit 500 there; 2000 incidents, limit 1500 here: same page structure.
    r1 = http.get(f"{sandbox.url}/api/now/table/incident?sysparm_limit=1500",
                  params={"sysparm_fields": "number"})
    r2 = http.get(f"{sandbox.url}/api/now/table/incident?sysparm_limit=1500"
                  "&sysparm_offset=1500", params={"sysparm_fields": "number"})

    def normalise(link: str, url: str, table: str, limit: str) -> str:
        return (link.replace(url, "BASE").replace(f"/{table}?", "/T?")
                .replace(f"sysparm_limit={limit}", "L").replace(f"sysparm_offset={limit}", "O"))

    real1 = normalise(first, base, "sys_user", "500")
    real2 = normalise(second, base, "sys_user", "500")
    ours1 = normalise(r1.headers["Link"].replace("&sysparm_fields=number", ""), sandbox.url,
                      "incident", "1500")
    ours2 = normalise(r2.headers["Link"].replace("&sysparm_fields=number", ""), sandbox.url,
                      "incident", "1500")
    assert ours1 == real1
    assert ours2 == real2
    assert set(parse_link(r2.headers["Link"])) == {"first", "prev", "last"}
    assert len(r2.json()["result"]) == 500


def test_link_keeps_params_and_replaces_offset(sandbox: Sandbox, http: requests.Session) -> None:
    resp = http.get(f"{sandbox.url}/api/now/table/incident?sysparm_offset=20&sysparm_limit=10"
                    "&sysparm_query=state%3D7&sysparm_fields=number")
    links = parse_link(resp.headers["Link"])
    assert links["next"] == (f"{sandbox.url}/api/now/table/incident?sysparm_offset=30"
                             "&sysparm_limit=10&sysparm_query=state%3D7&sysparm_fields=number")
    assert "sysparm_offset=10&" in links["prev"]
    total = int(resp.headers["X-Total-Count"])
    assert links["last"].startswith(
        f"{sandbox.url}/api/now/table/incident?sysparm_offset={(total - 1) // 10 * 10}&")


def test_suppress_pagination_header_and_no_count(sandbox: Sandbox,
                                                 http: requests.Session) -> None:
    url = f"{sandbox.url}/api/now/table/incident"
    resp = http.get(url, params={"sysparm_limit": 5, "sysparm_suppress_pagination_header":
                                 "true"})
    assert "Link" not in resp.headers and resp.headers["X-Total-Count"] == "2000"
    resp = http.get(url, params={"sysparm_limit": 5, "sysparm_no_count": "true"})
    assert "X-Total-Count" not in resp.headers
    assert len(resp.json()["result"]) == 5


def test_401_equals_capture(sandbox: Sandbox) -> None:
    real_body = sample("error_401_pdi_2024.json")
    real = read_headers("error_401_pdi_2024.headers.txt")
    for auth in (None, ("admin", "wrong"), ("someone", PASSWORD)):
        resp = requests.get(f"{sandbox.url}/api/now/table/sys_user?sysparm_limit=1", auth=auth)
        assert resp.status_code == 401
        assert resp.json() == real_body
        assert resp.headers["WWW-Authenticate"] == real["www-authenticate"]
        assert resp.headers["Content-Type"] == real["content-type"]
        assert "X-Is-Logged-In" not in resp.headers
    resp = requests.get(f"{sandbox.url}/api/now/table/incident",
                        headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401


def test_empty_result_like_capture(sandbox: Sandbox, http: requests.Session) -> None:
    real = sample("empty_result_pdi_2024.json")
    real_headers = read_headers("empty_result_pdi_2024.headers.txt")
    resp = http.get(f"{sandbox.url}/api/now/table/incident",
                    params={"sysparm_limit": 500, "number": "INC9999999",
                            "sysparm_fields": "number,state"})
    assert resp.status_code == 200
    assert resp.json() == real
    assert resp.headers["X-Total-Count"] == real_headers["x-total-count"] == "0"
    assert "Link" not in resp.headers
    v2 = http.get(f"{sandbox.url}/api/now/v2/table/incident", params={"number": "INC9999999"})
    assert v2.status_code == 200 and v2.json() == real
    v1 = http.get(f"{sandbox.url}/api/now/v1/table/incident", params={"number": "INC9999999"})
    assert v1.status_code == 404
    assert v1.json()["error"]["message"] == "No Record found"


def test_versioned_paths_serve_the_same(sandbox: Sandbox, http: requests.Session) -> None:
    urls = [f"{sandbox.url}/api/now/{v}table/incident" for v in ("", "v1/", "v2/")]
    bodies = [http.get(u, params={"sysparm_limit": 3, "sysparm_fields": "number"}).json()
              for u in urls]
    assert bodies[0] == bodies[1] == bodies[2]


def test_get_by_sys_id_and_404(sandbox: Sandbox, http: requests.Session) -> None:
    row = http.get(f"{sandbox.url}/api/now/table/problem",
                   params={"sysparm_limit": 1}).json()["result"][0]
    one = http.get(f"{sandbox.url}/api/now/table/problem/{row['sys_id']}")
    assert one.status_code == 200 and one.json() == {"result": row}
    missing = http.get(f"{sandbox.url}/api/now/table/problem/{'0' * 32}")
    assert missing.status_code == 404
    assert missing.json() == {"error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval"},
        "status": "failure"}


def test_unknown_table_and_bad_uri(sandbox: Sandbox, http: requests.Session) -> None:
    resp = http.get(f"{sandbox.url}/api/now/table/sys_nonexistent")
    assert resp.status_code == 400
    assert resp.json() == {"error": {"message": "Invalid table sys_nonexistent",
                                     "detail": "Table sys_nonexistent does not exist"},
                           "status": "failure"}
    resp = http.get(f"{sandbox.url}/api/now/nothing/here")
    assert resp.status_code == 400 and resp.json()["status"] == "failure"


def test_sysparm_fields_ignores_unknown(sandbox: Sandbox, http: requests.Session) -> None:
    rows = http.get(f"{sandbox.url}/api/now/table/incident",
                    params={"sysparm_limit": 3,
                            "sysparm_fields": "number,bogus_field,caller_id"}).json()["result"]
    assert all(set(r) == {"number", "caller_id"} for r in rows)


def test_display_value_modes(sandbox: Sandbox, http: requests.Session) -> None:
    url = f"{sandbox.url}/api/now/table/incident"
    params = {"sysparm_limit": 1, "sysparm_query": "state=7^assignment_groupISNOTEMPTY",
              "sysparm_fields": "number,state,priority,impact,assignment_group,opened_at"}
    raw = http.get(url, params=params).json()["result"][0]
    shown = http.get(url, params={**params, "sysparm_display_value": "true"}).json()["result"][0]
    both = http.get(url, params={**params, "sysparm_display_value": "all"}).json()["result"][0]
    group = raw["assignment_group"]["value"]
    name = http.get(f"{sandbox.url}/api/now/table/sys_user_group/{group}").json()["result"]["name"]
    assert shown["state"] == "Closed"
    assert shown["priority"] in ("1 - Critical", "2 - High", "3 - Moderate", "4 - Low",
                                 "5 - Planning")
    assert shown["impact"] in ("1 - High", "2 - Medium", "3 - Low")
    assert shown["assignment_group"] == {"display_value": name,
                                         "link": raw["assignment_group"]["link"]}
    assert shown["opened_at"] == raw["opened_at"]
    assert both["state"] == {"display_value": "Closed", "value": "7"}
    assert both["assignment_group"] == {"display_value": name, "value": group,
                                        "link": raw["assignment_group"]["link"]}
    assert both["number"] == {"display_value": raw["number"], "value": raw["number"]}


def test_exclude_reference_link(sandbox: Sandbox, http: requests.Session) -> None:
    url = f"{sandbox.url}/api/now/table/incident"
    params = {"sysparm_limit": 5, "sysparm_exclude_reference_link": "true"}
    rows = http.get(url, params=params).json()["result"]
    for row in rows:
        assert all(isinstance(v, str) for v in row.values())
    full = http.get(url, params={"sysparm_limit": 5}).json()["result"]
    assert rows[0]["caller_id"] == full[0]["caller_id"]["value"]
    shown = http.get(url, params={**params, "sysparm_display_value": "true",
                                  "sysparm_fields": "caller_id"}).json()["result"][0]
    assert isinstance(shown["caller_id"], str) and " " in shown["caller_id"]


def test_link_host_follows_host_header(sandbox: Sandbox, http: requests.Session) -> None:
    resp = http.get(f"{sandbox.url}/api/now/table/incident", params={"sysparm_limit": 1},
                    headers={"Host": "example.service-now.com"})
    row = resp.json()["result"][0]
    assert row["caller_id"]["link"].startswith(
        "http://example.service-now.com/api/now/table/sys_user/")
    assert resp.headers["Link"].startswith("<http://example.service-now.com/api/now/table/")


def test_sandbox_stats_and_planted_need_auth(sandbox: Sandbox, http: requests.Session) -> None:
    assert requests.get(f"{sandbox.url}/sandbox/stats").status_code == 401
    before = sandbox.stats.count("GET", "cmdb_ci")
    http.get(f"{sandbox.url}/api/now/table/cmdb_ci", params={"sysparm_limit": 1})
    assert sandbox.stats.count("GET", "cmdb_ci") == before + 1
    stats = http.get(f"{sandbox.url}/sandbox/stats").json()
    assert stats["by_method_table"]["GET cmdb_ci"] == before + 1
    planted = http.get(f"{sandbox.url}/sandbox/planted").json()["result"]
    assert planted == sandbox.planted and len(planted) > 400
