"""Build a ServiceNowConnector from the environment or a profile naming environment variables.

Secrets only ever come from the environment: a profile holding one is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.servicenow.auth import Auth, BasicAuth, OAuth
from sms_conformance.connectors.servicenow.client import TableClient, base_url
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.fieldmap import FieldMap
from sms_conformance.connectors.servicenow.tasks import DEFAULT_TASK_TABLES
from sms_conformance.model.errors import ConfigError
from sms_conformance.support.limits import Limits
from sms_conformance.support.validation import refuse_secrets

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]


class Profile(BaseModel):
    """A ServiceNow connection profile: the instance, and the names of environment variables."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    instance: Annotated[str, Field(max_length=200)] | None = None
    auth: Literal["basic", "oauth"] | None = None
    username_env: EnvName = "SERVICENOW_USERNAME"
    password_env: EnvName = "SERVICENOW_PASSWORD"
    client_id_env: EnvName = "SERVICENOW_CLIENT_ID"
    client_secret_env: EnvName = "SERVICENOW_CLIENT_SECRET"
    instance_env: EnvName = "SERVICENOW_INSTANCE"
    scope: Annotated[str, Field(max_length=200)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        return refuse_secrets(data)


def load_profile(data: Mapping[str, Any] | None) -> Profile:
    try:
        return Profile.model_validate(dict(data or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        problem = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"ServiceNow profile: {where + ': ' if where else ''}{problem}") from None


def instance_url(value: str) -> str:
    """A URL as given, or a bare instance name -> https://NAME.service-now.com."""
    value = value.strip()
    if "://" in value:
        return base_url(value)
    if _NAME.fullmatch(value):
        return f"https://{value}.service-now.com"
    raise ConfigError(f"ServiceNow instance must be a URL or an instance name, got {value!r}")


def auth_from_env(url: str, profile: Profile, env: Mapping[str, str]) -> Auth:
    username = env.get(profile.username_env) or None
    password = env.get(profile.password_env) or None
    client_id = env.get(profile.client_id_env) or None
    client_secret = env.get(profile.client_secret_env) or None
    kind = profile.auth or ("oauth" if client_id else "basic")
    if kind == "basic":
        if not (username and password):
            raise ConfigError(
                f"ServiceNow credentials missing: set {profile.username_env} and "
                f"{profile.password_env} (or {profile.client_id_env} and "
                f"{profile.client_secret_env} for OAuth)"
            )
        return BasicAuth(username, SecretStr(password))
    if not (client_id and client_secret):
        raise ConfigError(
            f"ServiceNow OAuth needs {profile.client_id_env} and {profile.client_secret_env}"
        )
    if username and not password:
        raise ConfigError(f"ServiceNow OAuth password grant needs {profile.password_env}")
    return OAuth(
        token_url=f"{url}/oauth_token.do",
        client_id=client_id,
        client_secret=SecretStr(client_secret),
        grant="password" if username else "client_credentials",
        username=username,
        password=SecretStr(password) if password else None,
        scope=profile.scope,
    )


def connector_from_env(
    instance: str | None,
    fieldmap: FieldMap,
    *,
    profile: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    verify: bool | str = True,
    page_size: int = 1000,
    ref_batch: int = 100,
    write_tables: frozenset[str] | None = None,
) -> ServiceNowConnector:
    """The connector for `instance` (else the profile's, else $SERVICENOW_INSTANCE); its
    scan_timeout starts now."""
    env = os.environ if env is None else env
    limits = limits or Limits()
    settings = load_profile(profile)
    where = instance or settings.instance or env.get(settings.instance_env)
    if not where:
        raise ConfigError(
            f"no ServiceNow instance: pass one or set {settings.instance_env} "
            "(a URL or an instance name)"
        )
    url = instance_url(where)
    client = TableClient(
        url, auth_from_env(url, settings, env), request_timeout=limits.request_timeout,
        scan_timeout=limits.scan_timeout, max_body=limits.max_response_bytes,
        policy=RetryPolicy(budget=limits.retry_budget, max_retry_after=limits.max_retry_after),
        verify=verify, max_objects=limits.max_response_objects,
    )
    return ServiceNowConnector(
        url, client, fieldmap, page_size=page_size, ref_batch=ref_batch,
        write_tables=DEFAULT_TASK_TABLES if write_tables is None else write_tables,
        max_pages=limits.max_pages, streams=limits.streams,
    )
