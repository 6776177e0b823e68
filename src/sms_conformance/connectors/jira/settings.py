"""Build a JiraConnector from the environment, or a profile naming environment variables: the
site, and credentials that only ever come from environment variables (Cloud: JIRA_EMAIL +
JIRA_API_TOKEN; Data Center: JIRA_PAT; a profile may name other variables)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, cast, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.jira.auth import CloudAuth, JiraAuth, TokenAuth
from sms_conformance.connectors.jira.client import JiraClient, site_url
from sms_conformance.connectors.jira.connector import PAGE_SIZE, Deployment, JiraConnector
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap
from sms_conformance.model.errors import ConfigError
from sms_conformance.support.limits import Limits
from sms_conformance.support.validation import refuse_secrets

SITE_ENV = "JIRA_SITE"
DEPLOYMENT_ENV = "JIRA_DEPLOYMENT"  # auto (default) | cloud | datacenter

EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]


class JiraProfile(BaseModel):
    """A Jira connection profile (profiles.yaml, `source: jira`): the site, and the names of
    the environment variables holding the credentials."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    site: Annotated[str, Field(max_length=200)] | None = None
    deployment: Deployment | None = None
    site_env: EnvName = SITE_ENV
    email_env: EnvName = "JIRA_EMAIL"
    api_token_env: EnvName = "JIRA_API_TOKEN"
    pat_env: EnvName = "JIRA_PAT"

    @model_validator(mode="before")
    @classmethod
    def _no_secrets(cls, data: Any) -> Any:
        return refuse_secrets(data)


def load_profile(data: Mapping[str, Any] | None) -> JiraProfile:
    try:
        return JiraProfile.model_validate(dict(data or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        problem = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"Jira profile: {where + ': ' if where else ''}{problem}") from None


def auth_from_env(env: Mapping[str, str], profile: JiraProfile | None = None
                  ) -> tuple[JiraAuth, Deployment]:
    """Cloud basic auth or a Data Center bearer token, and what it implies of the site."""
    names = profile or JiraProfile()
    email_env, token_env, pat_env = names.email_env, names.api_token_env, names.pat_env
    email, token, pat = (env.get(k) or None for k in (email_env, token_env, pat_env))
    if pat and (email or token):
        raise ConfigError(f"Jira credentials: set either {email_env} and {token_env} (Cloud) "
                          f"or {pat_env} (Data Center), not both")
    if pat:
        return TokenAuth(SecretStr(pat)), "datacenter"
    if email and token:
        return CloudAuth(email, SecretStr(token)), "auto"
    if email or token:
        missing = token_env if email else email_env
        raise ConfigError(f"Jira credentials incomplete: set {missing} too")
    raise ConfigError(f"Jira credentials missing: set {email_env} and {token_env} (Cloud) or "
                      f"{pat_env} (Data Center)")


def connector_from_env(
    site: str | None,
    fieldmap: JiraFieldMap,
    env: Mapping[str, str] = os.environ,
    limits: Limits | None = None,
    *,
    profile: Mapping[str, Any] | None = None,
    verify: bool | str = True,
    page_size: int = PAGE_SIZE,
) -> JiraConnector:
    """The connector for `site` (else the profile's, else $JIRA_SITE); no request is made until
    it is used, and its scan_timeout starts now."""
    limits = limits or Limits()
    settings = load_profile(profile)
    where = site or settings.site or env.get(settings.site_env)
    if not where:
        raise ConfigError(f"no Jira site: pass --site URL or set {settings.site_env} "
                          "(e.g. https://acme.atlassian.net)")
    url = site_url(where)
    auth, implied = auth_from_env(env, settings)
    deployment = settings.deployment or env.get(DEPLOYMENT_ENV) or implied
    if deployment not in get_args(Deployment):
        raise ConfigError(f"{DEPLOYMENT_ENV} must be auto, cloud or datacenter, got {deployment!r}")
    deployment = cast(Deployment, deployment)
    client = JiraClient(
        url, auth, request_timeout=limits.request_timeout, scan_timeout=limits.scan_timeout,
        max_body=limits.max_response_bytes,
        policy=RetryPolicy(budget=limits.retry_budget, max_retry_after=limits.max_retry_after),
        verify=verify, max_objects=limits.max_response_objects,
    )
    return JiraConnector(url, client, fieldmap, deployment=deployment, page_size=page_size,
                         max_pages=limits.max_pages, streams=limits.streams)
