"""connector_from_env and profiles: instance names, auth choice, secrets only from the env."""

from __future__ import annotations

import pytest

from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.servicenow.auth import BasicAuth, OAuth
from sms_conformance.connectors.servicenow.fieldmap import FieldMap
from sms_conformance.connectors.servicenow.settings import connector_from_env, instance_url
from sms_conformance.model.errors import ConfigError
from sms_conformance.support.limits import Limits


def test_bare_instance_name_and_url() -> None:
    assert instance_url("dev12345") == "https://dev12345.service-now.com"
    assert instance_url("https://acme.service-now.com/") == "https://acme.service-now.com"
    with pytest.raises(ConfigError):
        instance_url("not a name")


def test_basic_auth_from_env(fieldmap: FieldMap) -> None:
    env = {"SERVICENOW_INSTANCE": "dev1", "SERVICENOW_USERNAME": "svc",
           "SERVICENOW_PASSWORD": "pw"}
    connector = connector_from_env(None, fieldmap, env=env)
    assert connector.instance == "https://dev1.service-now.com"
    auth = connector.client.auth
    assert isinstance(auth, BasicAuth) and auth.username == "svc"
    assert "pw" not in repr(connector.client)


def test_explicit_instance_wins(fieldmap: FieldMap) -> None:
    env = {"SERVICENOW_INSTANCE": "dev1", "SERVICENOW_USERNAME": "u", "SERVICENOW_PASSWORD": "p"}
    connector = connector_from_env("http://127.0.0.1:8080", fieldmap, env=env)
    assert connector.instance == "http://127.0.0.1:8080"


def test_oauth_password_and_client_credentials(fieldmap: FieldMap) -> None:
    env = {"SERVICENOW_CLIENT_ID": "cid", "SERVICENOW_CLIENT_SECRET": "cs"}
    cc = connector_from_env("dev1", fieldmap, env=env).client.auth
    assert isinstance(cc, OAuth) and cc.grant == "client_credentials"
    assert cc.token_url == "https://dev1.service-now.com/oauth_token.do"
    env |= {"SERVICENOW_USERNAME": "svc", "SERVICENOW_PASSWORD": "pw"}
    pw = connector_from_env("dev1", fieldmap, env=env).client.auth
    assert isinstance(pw, OAuth) and pw.grant == "password" and pw.username == "svc"


def test_missing_credentials_name_the_variables(fieldmap: FieldMap) -> None:
    with pytest.raises(ConfigError, match="SERVICENOW_USERNAME and SERVICENOW_PASSWORD"):
        connector_from_env("dev1", fieldmap, env={"SERVICENOW_USERNAME": "svc"})
    with pytest.raises(ConfigError, match="SERVICENOW_INSTANCE"):
        connector_from_env(None, fieldmap, env={})
    with pytest.raises(ConfigError, match="SERVICENOW_CLIENT_SECRET"):
        connector_from_env("dev1", fieldmap, env={"SERVICENOW_CLIENT_ID": "cid"})


def test_profile_names_environment_variables(fieldmap: FieldMap) -> None:
    profile = {"instance": "https://prod.example.com", "auth": "basic",
               "username_env": "PROD_USER", "password_env": "PROD_PASS"}
    env = {"PROD_USER": "svc", "PROD_PASS": "pw", "SERVICENOW_CLIENT_ID": "ignored"}
    connector = connector_from_env(None, fieldmap, profile=profile, env=env)
    assert connector.instance == "https://prod.example.com"
    assert isinstance(connector.client.auth, BasicAuth)
    with pytest.raises(ConfigError, match="PROD_USER and PROD_PASS"):
        connector_from_env(None, fieldmap, profile=profile, env={})


@pytest.mark.parametrize("key", ["password", "client_secret", "token", "Password"])
def test_profile_with_a_literal_secret_is_refused(fieldmap: FieldMap, key: str) -> None:
    profile = {"instance": "dev1", key: "hunter2"}
    with pytest.raises(ConfigError, match="secrets come from the environment") as caught:
        connector_from_env(None, fieldmap, profile=profile, env={})
    assert "hunter2" not in str(caught.value)


def test_profile_unknown_key_is_refused(fieldmap: FieldMap) -> None:
    with pytest.raises(ConfigError, match="usr_env"):
        connector_from_env(None, fieldmap, profile={"usr_env": "X"}, env={})


def test_source_limits_from_settings(fieldmap: FieldMap) -> None:
    limits = Limits.from_settings({"source": {"request_timeout": "30s", "scan_timeout": "2h",
                                              "retry_budget": 45, "max_response_mb": 8}})
    assert (limits.request_timeout, limits.scan_timeout, limits.retry_budget) == (30, 7200, 45)
    assert limits.max_response_bytes == 8 * 1024 * 1024 and limits.max_pages == 20_000
    env = {"SERVICENOW_USERNAME": "u", "SERVICENOW_PASSWORD": "p"}
    client = connector_from_env("dev1", fieldmap, env=env, limits=limits).client
    assert (client.request_timeout, client.scan_timeout, client.max_body) == (30, 7200, 8 * 2**20)
    assert client.policy.budget == 45


def test_shipped_source_limits_are_the_defaults() -> None:
    assert Limits.from_settings(load_settings()) == Limits()


@pytest.mark.parametrize(("source", "problem"), [
    ({"request_timeout": "soon"}, "request_timeout: .*not a duration"),
    ({"max_pages": 0}, "max_pages: .*greater than or equal to 1"),
    ({"max_pagez": 10}, "max_pagez: .*not permitted"),
], ids=["not-a-duration", "out-of-range", "unknown-key"])
def test_bad_source_limits_are_config_errors(source: dict[str, object], problem: str) -> None:
    """fault: a bad value in the source: settings; outcome: ConfigError (exit 2) naming it"""
    with pytest.raises(ConfigError, match=f"settings source: {problem}"):
        Limits.from_settings({"source": source})
