"""Fixtures for the connector tests: field map, loopback fakes, client factory, vcr config."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.servicenow.auth import Auth, BasicAuth
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.connectors.servicenow.connector import ServiceNowConnector
from sms_conformance.connectors.servicenow.fieldmap import FieldMap, load_field_map
from tests.connectors.snow_fakes import PASSWORD, FakeInstance, StubServer

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes" / "servicenow"
_SECRET_FIELDS = ("access_token", "refresh_token", "client_secret", "password")
_HOST = re.compile(r"https?://[^/\s>]+")


@pytest.fixture(scope="session")
def fieldmap() -> FieldMap:
    return load_field_map()


class FakeTime:
    """Sleeping advances a fake monotonic clock instead of waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def sleeps(fake_time: FakeTime) -> list[float]:
    return fake_time.sleeps


@pytest.fixture
def make_client(fake_time: FakeTime) -> Callable[..., TableClient]:
    def make(url: str, auth: Auth | None = None, **kwargs: Any) -> TableClient:
        kwargs.setdefault("policy", RetryPolicy(budget=30, initial=0.001, maximum=0.01))
        if "sleep" not in kwargs:
            kwargs |= {"sleep": fake_time.sleep, "clock": fake_time.clock}
        kwargs.setdefault("timeout", 5)
        return TableClient(url, auth or BasicAuth("admin", SecretStr(PASSWORD)), **kwargs)

    return make


@pytest.fixture
def fake() -> Iterator[tuple[FakeInstance, StubServer]]:
    instance = FakeInstance()
    with StubServer(instance) as server:
        yield instance, server


@pytest.fixture
def connector(
    fake: tuple[FakeInstance, StubServer], make_client: Callable[..., TableClient],
    fieldmap: FieldMap,
) -> ServiceNowConnector:
    _, server = fake
    return ServiceNowConnector(server.url, make_client(server.url), fieldmap, page_size=10)


# -- vcrpy / pytest-recording ----------------------------------------------------------------


def _scrub_body(body: Any) -> Any:
    if not body:
        return body
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    for name in _SECRET_FIELDS:
        text = re.sub(rf'("{name}"\s*:\s*")[^"]*(")', r"\1**scrubbed**\2", text)
        text = re.sub(rf"(\b{name}=)[^&\s]*", r"\1**scrubbed**", text)
    text = _HOST.sub("https://instance.invalid", text)
    return text.encode() if isinstance(body, bytes) else text


def _scrub_request(request: Any) -> Any:
    request.body = _scrub_body(request.body)
    # The instance host is not recorded (cassettes match on method, path and query).
    request.uri = _HOST.sub("https://instance.invalid", request.uri)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("set-cookie", "cookie", "authorization"):
            del headers[name]
        elif name.lower() in ("link", "location"):
            headers[name] = [_HOST.sub("https://instance.invalid", v) for v in headers[name]]
    body = response.get("body", {})
    if body.get("string"):
        body["string"] = _scrub_body(body["string"])
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    # Replays by default (pytest-recording's --record-mode=none); re-record with
    # --record-mode=rewrite. The sandbox's port changes on every run: match on method, path and
    # query only, so the host and port of the recording do not matter.
    return {
        "match_on": ["method", "path", "query"],
        "filter_headers": ["authorization", "cookie", "set-cookie"],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)
