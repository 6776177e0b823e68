"""Build a JiraConnector from the environment: the site, and credentials that only ever come
from environment variables (Cloud: JIRA_EMAIL + JIRA_API_TOKEN; Data Center: JIRA_PAT)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import cast, get_args

from pydantic import SecretStr

from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.jira.auth import CloudAuth, JiraAuth, TokenAuth
from sms_conformance.connectors.jira.client import JiraClient, site_url
from sms_conformance.connectors.jira.connector import PAGE_SIZE, Deployment, JiraConnector
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap
from sms_conformance.errors import ConfigError
from sms_conformance.limits import Limits

SITE_ENV = "JIRA_SITE"
DEPLOYMENT_ENV = "JIRA_DEPLOYMENT"  # auto (default) | cloud | datacenter


def auth_from_env(env: Mapping[str, str]) -> tuple[JiraAuth, Deployment]:
    """Cloud basic auth or a Data Center bearer token, and what it implies of the site."""
    email, token, pat = (env.get(k) or None for k in ("JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_PAT"))
    if pat and (email or token):
        raise ConfigError("Jira credentials: set either JIRA_EMAIL and JIRA_API_TOKEN (Cloud) "
                          "or JIRA_PAT (Data Center), not both")
    if pat:
        return TokenAuth(SecretStr(pat)), "datacenter"
    if email and token:
        return CloudAuth(email, SecretStr(token)), "auto"
    if email or token:
        missing = "JIRA_API_TOKEN" if email else "JIRA_EMAIL"
        raise ConfigError(f"Jira credentials incomplete: set {missing} too")
    raise ConfigError("Jira credentials missing: set JIRA_EMAIL and JIRA_API_TOKEN (Cloud) or "
                      "JIRA_PAT (Data Center)")


def connector_from_env(
    site: str | None,
    fieldmap: JiraFieldMap,
    env: Mapping[str, str] = os.environ,
    limits: Limits | None = None,
    *,
    verify: bool | str = True,
    page_size: int = PAGE_SIZE,
) -> JiraConnector:
    """The connector for `site` (else $JIRA_SITE); no request is made until it is used, and
    its scan_timeout starts now."""
    limits = limits or Limits()
    where = site or env.get(SITE_ENV)
    if not where:
        raise ConfigError(f"no Jira site: pass --site URL or set {SITE_ENV} "
                          "(e.g. https://acme.atlassian.net)")
    url = site_url(where)
    auth, implied = auth_from_env(env)
    deployment = env.get(DEPLOYMENT_ENV) or implied
    if deployment not in get_args(Deployment):
        raise ConfigError(f"{DEPLOYMENT_ENV} must be auto, cloud or datacenter, got {deployment!r}")
    deployment = cast(Deployment, deployment)
    client = JiraClient(
        url, auth, request_timeout=limits.request_timeout, scan_timeout=limits.scan_timeout,
        max_body=limits.max_response_bytes, policy=RetryPolicy(budget=limits.retry_budget),
        verify=verify,
    )
    return JiraConnector(url, client, fieldmap, deployment=deployment, page_size=page_size,
                         max_pages=limits.max_pages, streams=limits.streams)
