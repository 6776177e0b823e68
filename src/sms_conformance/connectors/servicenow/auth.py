"""Credentials for the Table API: basic auth, or OAuth 2.0 tokens from /oauth_token.do.

Secrets are pydantic SecretStr and never appear in a repr, a log line or an exception.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal, Protocol

import orjson
import requests
from pydantic import SecretStr

from sms_conformance.connectors.http.retry import NotSentError, RetryableError
from sms_conformance.model.errors import AuthError, SourceError
from sms_conformance.support.redaction import register

# (method, url, form data) -> response; the client's raw, counted, un-retried sender.
Send = Callable[[str, str, Mapping[str, str]], requests.Response]

TRANSIENT = frozenset({429, 500, 502, 503, 504})


class Auth(Protocol):
    @property
    def principal(self) -> str:
        """Who authenticates, for error messages: `user NAME` or `OAuth client ID`."""
        ...

    def headers(self, send: Send) -> dict[str, str]:
        """Headers that authenticate the next request (may fetch or refresh a token)."""
        ...

    def invalidate(self) -> bool:
        """After a 401: drop cached credentials; True if trying again once may help."""
        ...


class BasicAuth:
    def __init__(self, username: str, password: SecretStr) -> None:
        self.username = username
        self.password = password
        register(password.get_secret_value(), username)

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password=SecretStr('**********'))"

    @property
    def principal(self) -> str:
        return f"user {self.username}"

    def headers(self, send: Send) -> dict[str, str]:
        pair = f"{self.username}:{self.password.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    def invalidate(self) -> bool:
        return False


Grant = Literal["password", "client_credentials"]


class OAuth:
    """Bearer tokens, obtained with the password or client_credentials grant.

    A token is renewed shortly before it expires (refresh_token grant when the server gave one,
    else a new grant) and once after a 401.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        grant: Grant = "password",
        username: str | None = None,
        password: SecretStr | None = None,
        scope: str | None = None,
        margin: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if grant == "password" and (not username or password is None):
            raise ValueError("the password grant needs a username and a password")
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.grant = grant
        self.username = username
        self.password = password
        self.scope = scope
        self.margin = margin
        self.clock = clock
        self.token_requests = 0
        self._access: SecretStr | None = None
        self._refresh: SecretStr | None = None
        self._renew_at = 0.0
        register(client_secret.get_secret_value(), client_id)
        if password is not None:
            register(password.get_secret_value(), username)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"OAuth(token_url={self.token_url!r}, grant={self.grant!r}, "
            f"client_id={self.client_id!r}, username={self.username!r})"
        )

    @property
    def principal(self) -> str:
        client = f"OAuth client {self.client_id}"
        return f"user {self.username} ({client})" if self.username else client

    def headers(self, send: Send) -> dict[str, str]:
        with self._lock:
            if self._access is None or self.clock() >= self._renew_at:
                self._renew(send)
            assert self._access is not None
            return {"Authorization": f"Bearer {self._access.get_secret_value()}"}

    def invalidate(self) -> bool:
        with self._lock:
            self._access = None
        return True

    def _renew(self, send: Send) -> None:
        if self._refresh is not None:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh.get_secret_value()}
            try:
                self._store(self._request(send, form))
                return
            except AuthError:
                self._refresh = None  # expired or revoked: fall back to a new grant
        form = {"grant_type": self.grant}
        if self.grant == "password":
            assert self.username is not None and self.password is not None
            form |= {"username": self.username, "password": self.password.get_secret_value()}
        if self.scope:
            form["scope"] = self.scope
        self._store(self._request(send, form))

    def _request(self, send: Send, form: dict[str, str]) -> dict[str, object]:
        form = {
            **form,
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
        }
        self.token_requests += 1
        try:
            response = send("POST", self.token_url, form)
        except RetryableError as exc:
            raise NotSentError(str(exc)) from None
        status = response.status_code
        body = _json(response)
        what = f"OAuth {form['grant_type']} grant at {self.token_url}"
        if status in TRANSIENT:
            raise NotSentError(f"{what}: HTTP {status}")
        if status != 200 or body is None or "access_token" not in body:
            reason = ""
            if body is not None:
                reason = str(body.get("error_description") or body.get("error") or "")
            text = f"{what} was refused: HTTP {status}" + (f" {reason}" if reason else "")
            if status in (400, 401, 403):
                raise AuthError(text)
            raise SourceError(text)
        return body

    def _store(self, body: Mapping[str, object]) -> None:
        self._access = SecretStr(str(body["access_token"]))
        register(self._access.get_secret_value())
        if body.get("refresh_token"):
            self._refresh = SecretStr(str(body["refresh_token"]))
            register(self._refresh.get_secret_value())
        try:
            lifetime = float(str(body.get("expires_in", 1800)))
        except ValueError:
            lifetime = 1800.0
        self._renew_at = self.clock() + lifetime - min(self.margin, lifetime * 0.1)


def _json(response: requests.Response) -> dict[str, object] | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None
