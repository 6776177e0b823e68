"""Service requests (clause 8.6.2) on a ServiceNow instance: what doctor checks for them."""

from __future__ import annotations

from click.testing import CliRunner

from sms_conformance.cli import cli
from sms_conformance.sandbox.servicenow import Sandbox


def test_doctor_checks_read_access_to_sc_request() -> None:
    """fault: sc_request (the table requested items' requester is dot-walked through) forbidden
    (403) to the integration user; outcome: doctor fails that table with the fix (read access),
    which it reads fine otherwise; without request rules it is not checked."""
    env = {"SERVICENOW_USERNAME": "admin"}
    with Sandbox(records=60, seed=2) as box:
        env["SERVICENOW_PASSWORD"] = box.password
        args = ["doctor", "--source", "servicenow", "--instance", box.url]
        readable = CliRunner(env=env).invoke(cli, [*args, "--only", "request.*"])
        box.store.forbidden.add("sc_request")
        forbidden = CliRunner(env=env).invoke(cli, [*args, "--only", "request.*"])
        incidents = CliRunner(env=env).invoke(cli, [*args, "--only", "incident.*"])
    assert "ok    sc_request: readable" in readable.output, readable.output
    assert "FAIL  sc_request: no read access" in forbidden.output, forbidden.output
    assert "grant the integration user a role that reads sc_request" in forbidden.output
    assert "sc_request" not in incidents.output, incidents.output
