"""Echoed credentials never printed: a 401 repeating the credential it was sent, in an HTML
title, an `X-Seraph-LoginReason` header or a JSON message, as user:password, the password, the
base64 of the Basic pair or a bearer token; on both platforms, in every output a refused run
makes (console, the error line, doctor, JSON logs with -v, the history store's listing)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sms_conformance.cli import EXIT_SOURCE, cli
from sms_conformance.sandbox.jira import JiraSandbox
from sms_conformance.sandbox.servicenow import Sandbox

USER, WRONG = "admin@example.com", "Wr0ng-Secret-pass"
FORMS = {"pair": f"{USER}:{WRONG}", "password": WRONG,
         "base64": base64.b64encode(f"{USER}:{WRONG}".encode()).decode()}
PLACES = ("title", "header", "json")


@pytest.fixture(scope="module")
def sn() -> Iterator[Sandbox]:
    with Sandbox(records=20, seed=2) as box:
        yield box


@pytest.fixture(scope="module")
def jsm() -> Iterator[JiraSandbox]:
    with JiraSandbox(records=20, seed=2, password="right-token") as box:
        yield box


def outputs(env: dict[str, str], source: list[str], tmp_path: Path) -> str:
    """Everything a refused run prints: scan (plain, and JSON logs with -v), doctor, history."""
    history = str(tmp_path / "h.sqlite")
    runner = CliRunner(env=env)
    printed = []
    for args in (["scan", *source, "--history", history],
                 ["-v", "--log-format", "json", "scan", *source, "--history", history],
                 ["doctor", *source], ["history", "scans", "--history", history]):
        result = runner.invoke(cli, args)
        printed.append(result.output)
    assert "authentication failed" in printed[0]
    return "\n".join(printed)


def assert_hidden(printed: str, secret: str) -> None:
    assert secret not in printed
    assert WRONG not in printed


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("form", list(FORMS))
def test_servicenow_401_echoing_the_credential(sn: Sandbox, tmp_path: Path, place: str,
                                               form: str) -> None:
    """fault: a ServiceNow 401 repeating the credential it was sent (per place and form);
    outcome: exit 3, the credential in no output."""
    sn.faults = f"echo-401={place}:{form}"
    env = {"SERVICENOW_USERNAME": USER, "SERVICENOW_PASSWORD": WRONG}
    result = CliRunner(env=env).invoke(cli, ["scan", "--source", "servicenow", "--instance",
                                             sn.url, "--history", str(tmp_path / "x.sqlite")])
    assert result.exit_code == EXIT_SOURCE, result.output
    assert_hidden(outputs(env, ["--source", "servicenow", "--instance", sn.url], tmp_path),
                  FORMS[form])


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("form", [*FORMS, "bearer"])
def test_jira_401_echoing_the_credential(jsm: JiraSandbox, tmp_path: Path, place: str,
                                         form: str) -> None:
    """fault: a Jira 401 repeating the credential it was sent (Cloud basic; Data Center
    bearer token), per place and form; outcome: exit 3, the credential in no output."""
    jsm.faults = f"echo-401={place}:{form}"
    env = ({"JIRA_PAT": WRONG, "JIRA_EMAIL": "", "JIRA_API_TOKEN": ""} if form == "bearer"
           else {"JIRA_EMAIL": USER, "JIRA_API_TOKEN": WRONG, "JIRA_PAT": ""})
    result = CliRunner(env=env).invoke(cli, ["scan", "--source", "jira", "--site", jsm.url,
                                             "--history", str(tmp_path / "x.sqlite")])
    assert result.exit_code == EXIT_SOURCE, result.output
    secret = WRONG if form == "bearer" else FORMS[form]
    assert_hidden(outputs(env, ["--source", "jira", "--site", jsm.url], tmp_path), secret)
