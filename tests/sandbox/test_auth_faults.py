"""OAuth grants and expiry, fault injection, ACL simulation."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from sms_conformance.sandbox.faults import FaultRule, FaultSpec
from sms_conformance.sandbox.servicenow import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox
from tests.sandbox.conftest import PASSWORD, SAMPLES


def token(sb: Sandbox, **form: str) -> requests.Response:
    data = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, **form}
    return requests.post(f"{sb.url}/oauth_token.do", data=data)


def bearer(sb: Sandbox, access: str) -> requests.Response:
    return requests.get(f"{sb.url}/api/now/table/incident", params={"sysparm_limit": 1},
                        headers={"Authorization": f"Bearer {access}"})


def test_password_grant_shape_and_use(sandbox: Sandbox) -> None:
    resp = token(sandbox, grant_type="password", username="admin", password=PASSWORD)
    assert resp.status_code == 200
    body = resp.json()
    real = json.loads((SAMPLES / "oauth_token_response_docs.json").read_text())
    assert list(body) == list(real)
    assert body["token_type"] == "Bearer" and body["scope"] == "useraccount"
    assert body["expires_in"] == 1799
    assert len(body["access_token"]) == len(real["access_token"])
    assert bearer(sandbox, body["access_token"]).status_code == 200
    refreshed = token(sandbox, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200
    assert bearer(sandbox, refreshed.json()["access_token"]).status_code == 200


def test_client_credentials_grant_has_no_refresh_token(sandbox: Sandbox) -> None:
    body = token(sandbox, grant_type="client_credentials").json()
    assert "refresh_token" not in body
    assert bearer(sandbox, body["access_token"]).status_code == 200


def test_bad_grants(sandbox: Sandbox) -> None:
    assert token(sandbox, grant_type="password", username="admin",
                 password="wrong").status_code == 401
    bad_client = requests.post(f"{sandbox.url}/oauth_token.do", data={
        "grant_type": "client_credentials", "client_id": "x", "client_secret": "y"})
    assert bad_client.status_code == 401
    assert token(sandbox, grant_type="refresh_token", refresh_token="nope").status_code == 401
    assert token(sandbox, grant_type="implicit").status_code == 400


def test_expired_token_is_401() -> None:
    with Sandbox(records=20, seed=1, password=PASSWORD, token_ttl=1) as sb:
        access = token(sb, grant_type="client_credentials").json()["access_token"]
        assert bearer(sb, access).status_code == 200
        time.sleep(1.2)
        expired = bearer(sb, access)
        assert expired.status_code == 401
        assert expired.json()["error"]["message"] == "User Not Authenticated"
        fresh = token(sb, grant_type="client_credentials").json()["access_token"]
        assert sb.server is not None
        sb.server.expire_tokens()
        assert bearer(sb, fresh).status_code == 401


def test_fault_spec_parse_and_errors() -> None:
    spec = FaultSpec.parse("429:0.1@incident,503:0.02,reset:0.01,latency=20ms,retry-after=3,"
                           "seed=9")
    assert spec.rules == [FaultRule("429", 0.1, "incident"), FaultRule("503", 0.02),
                          FaultRule("reset", 0.01)]
    assert spec.latency == pytest.approx(0.02) and spec.retry_after == 3 and spec.seed == 9
    assert FaultSpec.parse("latency=0.5s").latency == 0.5
    for bad in ("418:0.1", "500", "500:2", "latency=fast", "colour=blue"):
        with pytest.raises(ValueError):
            FaultSpec.parse(bad)


def test_fault_decisions_are_deterministic() -> None:
    a, b = FaultSpec.parse("500:0.3,503:0.2,seed=4"), FaultSpec.parse("500:0.3,503:0.2,seed=4")
    seq_a = [a.pick("incident") for _ in range(200)]
    assert seq_a == [b.pick("incident") for _ in range(200)]
    assert 40 < seq_a.count("500") < 80 and 20 < seq_a.count("503") < 60
    only = FaultSpec.parse("500:1@problem")
    assert only.pick("incident") is None and only.pick("problem") == "500"


@pytest.fixture()
def faulty() -> Iterator[Sandbox]:
    with Sandbox(records=50, seed=2, password=PASSWORD) as sb:
        yield sb


def get(sb: Sandbox) -> requests.Response:
    return requests.get(f"{sb.url}/api/now/table/incident", auth=("admin", PASSWORD),
                        params={"sysparm_limit": 5})


def test_fault_429(faulty: Sandbox) -> None:
    faulty.faults = "429:1,retry-after=7"
    resp = get(faulty)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp.json() == json.loads((SAMPLES / "error_429_rate_limit_docs.json").read_text())
    assert faulty.stats.faults["429"] == 1


@pytest.mark.parametrize("code", ["500", "502", "503", "504"])
def test_fault_5xx(faulty: Sandbox, code: str) -> None:
    faulty.faults = f"{code}:1"
    resp = get(faulty)
    assert resp.status_code == int(code)
    assert resp.json()["status"] == "failure" and resp.json()["error"]["message"]


def test_fault_reset(faulty: Sandbox) -> None:
    faulty.faults = "reset:1"
    with pytest.raises(requests.exceptions.ConnectionError):
        get(faulty)
    faulty.faults = None
    assert get(faulty).status_code == 200


def test_fault_truncate(faulty: Sandbox) -> None:
    faulty.faults = "truncate:1"
    resp = get(faulty)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json;charset=UTF-8"
    with pytest.raises(ValueError):
        resp.json()
    assert resp.text.startswith('{"result":[')


def test_fault_html_hibernating(faulty: Sandbox) -> None:
    faulty.faults = "html:1"
    resp = get(faulty)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "Your instance is hibernating" in resp.text
    assert "instance-hibernating-page" in resp.text


def test_latency_and_exempt_endpoints(faulty: Sandbox) -> None:
    faulty.faults = "500:1,latency=150ms"
    started = time.perf_counter()
    assert get(faulty).status_code == 500
    assert time.perf_counter() - started >= 0.15
    started = time.perf_counter()
    assert token(faulty, grant_type="client_credentials").status_code == 200
    stats = requests.get(f"{faulty.url}/sandbox/stats", auth=("admin", PASSWORD))
    assert stats.status_code == 200
    assert time.perf_counter() - started < 0.15


def test_fault_only_on_table(faulty: Sandbox) -> None:
    faulty.faults = "503:1@problem"
    assert get(faulty).status_code == 200
    assert requests.get(f"{faulty.url}/api/now/table/problem",
                        auth=("admin", PASSWORD)).status_code == 503


def test_keep_alive_survives_requests() -> None:
    with Sandbox(records=30, seed=3, password=PASSWORD) as sb:
        port = sb.url.rsplit(":", 1)[1]
        with socket.create_connection(("127.0.0.1", int(port))) as sock:
            basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
            request = ("GET /api/now/table/sys_user_group?sysparm_limit=1 HTTP/1.1\r\n"
                       f"Host: 127.0.0.1:{port}\r\nAuthorization: Basic {basic}\r\n\r\n"
                       ).encode()
            for _ in range(2):
                sock.sendall(request)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += sock.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(rest) < length:
                    rest += sock.recv(65536)
                assert head.startswith(b"HTTP/1.1 200")
                assert json.loads(rest[:length])["result"]


def test_acl_hidden_rows_make_short_pages() -> None:
    with Sandbox(records=400, seed=4, password=PASSWORD, acl_hidden_rate=0.3) as sb:
        s = requests.Session()
        s.auth = ("admin", PASSWORD)
        seen: list[str] = []
        short_pages = 0
        offset = 0
        while True:
            resp = s.get(f"{sb.url}/api/now/table/incident",
                         params={"sysparm_limit": 50, "sysparm_offset": offset,
                                 "sysparm_fields": "sys_id"})
            assert resp.headers["X-Total-Count"] == "400"
            rows = resp.json()["result"]
            seen += [r["sys_id"] for r in rows]
            if len(rows) < 50:
                short_pages += 1
            offset += 50
            if offset >= 400:
                break
        assert short_pages >= 6
        assert 0.2 * 400 < 400 - len(seen) < 0.4 * 400
        assert len(set(seen)) == len(seen)
        hidden = next(r[0] for r in sb.store.tables["incident"].rows
                      if sb.store.is_hidden(r))
        assert s.get(f"{sb.url}/api/now/table/incident/{hidden}").status_code == 404


def test_hidden_fields_read_back_empty() -> None:
    with Sandbox(records=50, seed=4, password=PASSWORD,
                 hidden_fields=("incident.caller_id", "incident.close_notes")) as sb:
        rows = requests.get(f"{sb.url}/api/now/table/incident", auth=("admin", PASSWORD),
                            params={"sysparm_query": "state=7"}).json()["result"]
        assert rows and all(r["caller_id"] == "" and r["close_notes"] == "" for r in rows)
        assert all(r["short_description"] for r in rows)
        one = requests.get(f"{sb.url}/api/now/table/incident", auth=("admin", PASSWORD),
                           params={"sysparm_fields": "caller_id,number",
                                   "sysparm_limit": 1}).json()["result"][0]
        assert one["caller_id"] == "" and one["number"]
