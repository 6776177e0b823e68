"""doctor.diagnose: reachability, auth, table access, unknown and empty fields, clock skew."""

from __future__ import annotations

from datetime import datetime, timezone

from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.doctor import Finding, diagnose
from tests.connectors.snow_fakes import FakeInstance, Req, Resp, StubServer, envelope

Fake = tuple[FakeInstance, StubServer]
SERVER_TIME = datetime(2024, 4, 16, 17, 16, 31, tzinfo=timezone.utc)  # the fake's Date header


def test_healthy_instance(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, _ = fake
    instance.add("incident", state="7", close_notes="ok")
    findings = diagnose(connector, {"incident": ["state", "close_notes"]},
                        now=lambda: SERVER_TIME)
    assert findings == [
        Finding("ok", f"reached {connector.instance} and authenticated"),
        Finding("ok", "clock skew +0 s"),
        Finding("ok", "incident: readable (1 sampled rows)"),
    ]


def test_unknown_empty_fields_and_skew(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, server = fake
    for i in range(3):
        instance.add("incident", state="7", close_notes="", u_typo_free=f"x{i}")
    findings = diagnose(
        connector, {"incident": ["state", "close_notes", "u_vendor_reference"]},
        now=lambda: SERVER_TIME.replace(minute=20),
    )
    levels = [(f.level, f.message.split(":")[0]) for f in findings]
    assert ("warn", "local clock is +240 s off the instance's") in levels
    unknown = next(f for f in findings if "unknown field" in f.message)
    assert unknown.level == "fail" and "u_vendor_reference" in unknown.message
    empty = next(f for f in findings if "empty on all" in f.message)
    assert empty.level == "warn" and "close_notes" in empty.message
    sample = next(r.query for r in server.requests if r.query.get("sysparm_limit") == "100")
    assert sample["sysparm_fields"] == "close_notes,state,sys_id,u_vendor_reference"
    probe = server.requests[-1].query  # no record has close_notes: not taken for hidden
    assert probe["sysparm_query"] == "close_notesISNOTEMPTY"


def test_table_without_read_access(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, _ = fake
    instance.add("incident", state="1")

    def deny(req: Req) -> Resp | None:
        return envelope(403, "Insufficient rights to query records") if "change" in req.path \
            else None

    instance.before = deny
    findings = diagnose(connector, {"incident": ["state"], "change_request": ["state"],
                                    "problem": ["state"]}, now=lambda: SERVER_TIME)
    by_table = {f.message.split(":")[0]: f for f in findings[2:]}
    assert by_table["change_request"].level == "fail"
    assert "no read access" in by_table["change_request"].message
    assert by_table["problem"].level == "warn"  # no rows


def test_auth_failure_stops_diagnosis(connector: ServiceNowConnector, fake: Fake) -> None:
    instance, _ = fake
    instance.before = lambda req: envelope(401, "User Not Authenticated", "Required")
    [finding] = diagnose(connector, {"incident": ["state"]})
    assert finding.level == "fail" and "authentication refused" in finding.message
