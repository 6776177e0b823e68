"""Writes: POST/PATCH/PUT/DELETE on task tables and incidents, journals, errors."""

from __future__ import annotations

import requests

from sms_conformance.sandbox.servicenow import Sandbox
from tests.sandbox.conftest import PASSWORD


def session() -> requests.Session:
    s = requests.Session()
    s.auth = ("admin", PASSWORD)
    return s


def test_post_task_201_location_numbering_and_journal(fresh_sandbox: Sandbox) -> None:
    sb, s = fresh_sandbox, session()
    incident = s.get(f"{sb.url}/api/now/table/incident",
                     params={"sysparm_limit": 1}).json()["result"][0]
    body = {"short_description": "Fix ISO finding", "incident": incident["sys_id"],
            "correlation_id": "sms:abc123", "correlation_display": "sms-conformance",
            "work_notes": "Created by sms-conformance", "u_unknown": "ignored"}
    resp = s.post(f"{sb.url}/api/now/table/incident_task", json=body)
    assert resp.status_code == 201
    rec = resp.json()["result"]
    assert resp.headers["Location"] == f"{sb.url}/api/now/table/incident_task/{rec['sys_id']}"
    assert rec["number"] == "ITASK0010001"
    assert rec["state"] == "1" and rec["active"] == "true"
    assert rec["incident"] == {"link": f"{sb.url}/api/now/table/incident/{incident['sys_id']}",
                               "value": incident["sys_id"]}
    assert rec["work_notes"] == ""
    assert "u_unknown" not in rec
    assert rec["correlation_id"] == "sms:abc123"
    second = s.post(f"{sb.url}/api/now/table/incident_task",
                    json={"short_description": "another"}).json()["result"]
    assert second["number"] == "ITASK0010002"
    for table, prefix in (("problem_task", "PTASK0010001"), ("change_task", "CTASK0010001")):
        assert s.post(f"{sb.url}/api/now/table/{table}",
                      json={"short_description": "x"}).json()["result"]["number"] == prefix
    journal = s.get(f"{sb.url}/sandbox/journal/incident_task/{rec['sys_id']}").json()["result"]
    assert [(j["element"], j["value"]) for j in journal] == [
        ("work_notes", "Created by sms-conformance")]
    found = s.get(f"{sb.url}/api/now/table/incident_task",
                  params={"sysparm_query": "correlation_id=sms:abc123"}).json()["result"]
    assert [r["sys_id"] for r in found] == [rec["sys_id"]]


def test_patch_put_return_whole_record_delete_204(fresh_sandbox: Sandbox) -> None:
    sb, s = fresh_sandbox, session()
    rec = s.post(f"{sb.url}/api/now/table/change_task",
                 json={"short_description": "plan"}).json()["result"]
    url = f"{sb.url}/api/now/table/change_task/{rec['sys_id']}"
    patched = s.patch(url, json={"state": "3", "close_notes": "done", "work_notes": "n1"})
    assert patched.status_code == 200
    body = patched.json()["result"]
    assert set(body) == set(rec)
    assert body["state"] == "3" and body["active"] == "false" and body["close_notes"] == "done"
    assert body["sys_mod_count"] == "1"
    put = s.put(url, json={"short_description": "plan v2"}).json()["result"]
    assert put["short_description"] == "plan v2" and put["close_notes"] == "done"
    assert s.get(f"{sb.url}/sandbox/journal/change_task/{rec['sys_id']}").json()["result"][0][
        "value"] == "n1"
    deleted = s.delete(url)
    assert deleted.status_code == 204 and deleted.content == b""
    assert s.get(url).status_code == 404
    assert s.delete(url).status_code == 404
    assert s.patch(url, json={"state": "1"}).status_code == 404


def test_users_can_mutate_incidents(fresh_sandbox: Sandbox) -> None:
    sb, s = fresh_sandbox, session()
    row = s.get(f"{sb.url}/api/now/table/incident",
                params={"sysparm_query": "state=2", "sysparm_limit": 1}).json()["result"][0]
    url = f"{sb.url}/api/now/table/incident/{row['sys_id']}"
    out = s.patch(url, json={"state": 6, "close_code": "Solution provided",
                             "close_notes": "User confirmed", "major_incident_state":
                             "accepted"}).json()["result"]
    assert out["state"] == "6" and out["incident_state"] == "6" and out["active"] == "false"
    assert out["major_incident_state"] == "accepted"
    assert out["sys_updated_on"] > row["sys_updated_on"]
    assert s.get(f"{sb.url}/api/now/table/incident",
                 params={"sysparm_query": f"sys_id={row['sys_id']}^state=6"}).json()[
        "result"][0]["number"] == row["number"]
    created = s.post(f"{sb.url}/api/now/table/incident",
                     json={"short_description": "Printer on fire",
                           "caller_id": row["caller_id"]["value"]}).json()["result"]
    assert created["number"].startswith("INC") and created["number"] > row["number"][:3]
    assert created["state"] == "1" and created["caller_id"]["value"] == row["caller_id"]["value"]
    total = int(s.get(f"{sb.url}/api/now/table/incident",
                      params={"sysparm_limit": 1}).headers["X-Total-Count"])
    assert total == 301


def test_bad_bodies_are_400(fresh_sandbox: Sandbox) -> None:
    sb, s = fresh_sandbox, session()
    for data in (b"{not json", b"[1, 2]", b'"text"'):
        resp = s.post(f"{sb.url}/api/now/table/incident_task", data=data,
                      headers={"Content-Type": "application/json"})
        assert resp.status_code == 400
        assert resp.json()["status"] == "failure"
        assert resp.json()["error"]["message"] == "Exception while reading request"


def test_post_to_unknown_table_is_404_as_captured(fresh_sandbox: Sandbox) -> None:
    resp = session().post(f"{fresh_sandbox.url}/api/now/table/u_test_table",
                          json={"u_name": "scissors"})
    assert resp.status_code == 404
    assert resp.json() == {"error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval"},
        "status": "failure"}


def test_no_response_body_header(fresh_sandbox: Sandbox) -> None:
    resp = session().post(f"{fresh_sandbox.url}/api/now/table/incident_task",
                          json={"short_description": "quiet"},
                          headers={"X-no-response-body": "true"})
    assert resp.status_code == 201 and resp.content == b"" and "Location" in resp.headers


def test_body_shorter_than_content_length_is_a_dropped_connection(fresh_sandbox: Sandbox) -> None:
    """A client killed mid-POST must not leave an empty task behind (the kill-9 test's flake)."""
    import base64
    import socket
    from urllib.parse import urlsplit

    sb = fresh_sandbox
    url = urlsplit(sb.url)
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    full = b'{"short_description": "cut short"}'
    head = (f"POST /api/now/table/incident_task HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Basic {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(full)}\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + full[:10])
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""  # no answer: the server dropped the request
    rows = session().get(f"{sb.url}/api/now/table/incident_task").json()["result"]
    assert rows == []
