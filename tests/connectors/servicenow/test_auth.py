"""OAuth grants, refresh before expiry, one retry after a 401; secrets never shown."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.servicenow.auth import BasicAuth, OAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.model.errors import AuthError
from tests.connectors.snow_fakes import Req, Resp, StubServer, envelope

Make = Callable[..., TableClient]
SECRET = "client-s3cret"


class TokenServer:
    """Issues numbered tokens; the API accepts only the newest one."""

    def __init__(self, expires_in: int = 1800, refresh: bool = True) -> None:
        self.expires_in = expires_in
        self.refresh = refresh
        self.grants: list[dict[str, str]] = []
        self.valid: str | None = None
        self.counter = itertools.count(1)

    def __call__(self, req: Req) -> Resp:
        if req.path == "/oauth_token.do":
            form = req.form()
            self.grants.append(form)
            if form.get("client_secret") != SECRET:
                return Resp(401, {"error_description": "access_denied", "error": "server_error"})
            n = next(self.counter)
            self.valid = f"token-{n}"
            body = {"access_token": self.valid, "token_type": "Bearer", "scope": "useraccount",
                    "expires_in": self.expires_in}
            if self.refresh:
                body["refresh_token"] = f"refresh-{n}"
            return Resp(200, body)
        if req.headers.get("Authorization") != f"Bearer {self.valid}":
            return envelope(401, "User Not Authenticated", "Required to provide Auth information")
        return Resp(200, {"result": []})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def oauth(url: str, clock: Clock, grant: str = "password", secret: str = SECRET) -> OAuth:
    return OAuth(
        f"{url}/oauth_token.do", "client-1", SecretStr(secret), grant,  # type: ignore[arg-type]
        username="svc" if grant == "password" else None,
        password=SecretStr("user-pw") if grant == "password" else None, clock=clock,
    )


def test_password_grant_then_token_reused(make_client: Make) -> None:
    tokens, clock = TokenServer(), Clock()
    with StubServer(tokens) as server:
        client = make_client(server.url, oauth(server.url, clock))
        client.list("incident", {})
        client.list("incident", {})
    assert tokens.grants == [{
        "grant_type": "password", "username": "svc", "password": "user-pw",
        "client_id": "client-1", "client_secret": SECRET,
    }]
    api = [r for r in server.requests if r.path.startswith("/api/")]
    assert [r.headers["Authorization"] for r in api] == ["Bearer token-1"] * 2
    assert server.requests[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert client.request_count == 3


def test_client_credentials_grant(make_client: Make) -> None:
    tokens, clock = TokenServer(refresh=False), Clock()
    with StubServer(tokens) as server:
        make_client(server.url, oauth(server.url, clock, "client_credentials")).list("x", {})
    assert tokens.grants == [
        {"grant_type": "client_credentials", "client_id": "client-1", "client_secret": SECRET}
    ]


def test_refresh_before_expiry_uses_refresh_token(make_client: Make) -> None:
    tokens, clock = TokenServer(expires_in=1800), Clock()
    with StubServer(tokens) as server:
        client = make_client(server.url, oauth(server.url, clock))
        client.list("incident", {})
        clock.now += 1700  # 100 s left: still used
        client.list("incident", {})
        clock.now += 60  # 40 s left, inside the 60 s margin: renewed before it expires
        client.list("incident", {})
    assert [g["grant_type"] for g in tokens.grants] == ["password", "refresh_token"]
    assert tokens.grants[1]["refresh_token"] == "refresh-1"
    api = [r.headers["Authorization"] for r in server.requests if r.path.startswith("/api/")]
    assert api == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


def test_without_refresh_token_a_new_grant_is_made(make_client: Make) -> None:
    tokens, clock = TokenServer(expires_in=100, refresh=False), Clock()
    with StubServer(tokens) as server:
        client = make_client(server.url, oauth(server.url, clock, "client_credentials"))
        client.list("incident", {})
        clock.now += 95
        client.list("incident", {})
    assert [g["grant_type"] for g in tokens.grants] == ["client_credentials"] * 2


def test_401_refetches_the_token_once(make_client: Make) -> None:
    tokens, clock = TokenServer(), Clock()
    with StubServer(tokens) as server:
        client = make_client(server.url, oauth(server.url, clock))
        client.list("incident", {})
        tokens.valid = "revoked-by-admin"
        client.list("incident", {})  # 401 -> token renewed -> retried with the new token
    assert [g["grant_type"] for g in tokens.grants] == ["password", "refresh_token"]
    assert client.request_count == 5


def test_persistent_401_is_an_auth_error(make_client: Make) -> None:
    def handler(req: Req) -> Resp:
        if req.path == "/oauth_token.do":
            return Resp(200, {"access_token": "t", "expires_in": 1800})
        return envelope(401, "User Not Authenticated", "Required to provide Auth information")

    with StubServer(handler) as server:
        client = make_client(server.url, oauth(server.url, Clock()))
        with pytest.raises(AuthError, match="401 User Not Authenticated"):
            client.list("incident", {})
    assert client.request_count == 4  # token, 401, token, 401


def test_refused_grant_is_an_auth_error_without_secrets(make_client: Make) -> None:
    with StubServer(TokenServer()) as server:
        client = make_client(server.url, oauth(server.url, Clock(), secret="wrong-secret"))
        with pytest.raises(AuthError) as caught:
            client.list("incident", {})
    text = str(caught.value)
    assert "OAuth password grant" in text and "401 access_denied" in text
    assert "wrong-secret" not in text and "user-pw" not in text


def test_reprs_hide_secrets() -> None:
    basic = BasicAuth("admin", SecretStr("pw-basic"))
    token = oauth("https://x.service-now.com", Clock())
    assert "pw-basic" not in repr(basic)
    assert SECRET not in repr(token) and "user-pw" not in repr(token)


def test_token_outage_during_a_write_is_retried_not_ambiguous(make_client: Make) -> None:
    tokens = TokenServer()
    outages = [Resp(503)]

    def handler(req: Req) -> Resp:
        if req.path == "/oauth_token.do" and outages:
            return outages.pop()
        if req.method == "POST" and req.path.startswith("/api/"):
            return Resp(201, {"result": {"sys_id": "t1"}})
        return tokens(req)

    with StubServer(handler) as server:
        client = make_client(server.url, oauth(server.url, Clock()))
        assert client.create("incident_task", {"short_description": "x"}) == {"sys_id": "t1"}
    assert [r.path for r in server.requests] == [
        "/oauth_token.do", "/oauth_token.do", "/api/now/table/incident_task"
    ]
