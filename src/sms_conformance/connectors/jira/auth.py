"""Jira credentials: Cloud's e-mail + API token (basic auth), Data Center's personal access
token (bearer). Secrets are SecretStr: never in a repr, a log line or an error message."""

from __future__ import annotations

import base64
from typing import Protocol

from pydantic import SecretStr

from sms_conformance.support.redaction import register


class JiraAuth(Protocol):
    @property
    def principal(self) -> str:
        """Who authenticates, for error messages."""
        ...

    @property
    def fix(self) -> str:
        """What to check after a 401."""
        ...

    def headers(self) -> dict[str, str]: ...


class CloudAuth:
    """Jira Cloud: `Authorization: Basic base64(email:api_token)`."""

    fix = ("check JIRA_EMAIL and JIRA_API_TOKEN (an API token, not the account password; "
           "tokens expire: create a new one at id.atlassian.com -> Security -> API tokens)")

    def __init__(self, email: str, token: SecretStr) -> None:
        self.email = email
        self.token = token
        register(token.get_secret_value(), email)

    def __repr__(self) -> str:
        return f"CloudAuth(email={self.email!r}, token=SecretStr('**********'))"

    @property
    def principal(self) -> str:
        return f"user {self.email}"

    def headers(self) -> dict[str, str]:
        pair = f"{self.email}:{self.token.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


class TokenAuth:
    """Jira Data Center: `Authorization: Bearer <personal access token>`."""

    principal = "the personal access token in JIRA_PAT"
    fix = "check JIRA_PAT (a personal access token of the Data Center site; it may have expired)"

    def __init__(self, token: SecretStr) -> None:
        self.token = token
        register(token.get_secret_value())

    def __repr__(self) -> str:
        return "TokenAuth(token=SecretStr('**********'))"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
