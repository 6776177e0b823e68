"""TableClient against a loopback stub: retries, budgets, error mapping, secrets kept out."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from sms_conformance import __version__
from sms_conformance.connectors.http.retry import (
    AmbiguousWriteError,
    RetryPolicy,
    ThrottledError,
    parse_retry_after,
)
from sms_conformance.connectors.servicenow.client import TableClient
from sms_conformance.model.errors import AuthError, ConfigError, SourceError
from sms_conformance.support.limits import MIB
from tests.connectors.conftest import FakeTime
from tests.connectors.snow_fakes import PASSWORD, Resp, StubServer, envelope, scripted

OK = Resp(200, {"result": [{"sys_id": "a"}]}, {"X-Total-Count": "1"})
Make = Callable[..., TableClient]


def test_sends_json_headers_and_basic_auth(make_client: Make) -> None:
    with StubServer(scripted(OK)) as server:
        page = make_client(server.url).list("incident", {"sysparm_limit": "1"})
    assert page.rows == [{"sys_id": "a"}] and page.total == 1
    headers = server.requests[0].headers
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"sms-conformance/{__version__}"
    assert headers["Authorization"].startswith("Basic ")
    assert server.requests[0].path == "/api/now/table/incident"


def test_429_honours_retry_after(make_client: Make, sleeps: list[float]) -> None:
    limited = envelope(429, "Rate limit exceeded", "Rate limit of 100 requests per hour")
    limited.headers["Retry-After"] = "3"
    with StubServer(scripted(limited, OK)) as server:
        client = make_client(server.url)
        assert client.list("incident", {}).rows == [{"sys_id": "a"}]
    assert sleeps == [3.0]
    assert client.request_count == 2


def test_503_and_502_and_504_are_retried_with_backoff(
    make_client: Make, sleeps: list[float]
) -> None:
    html = Resp(503, b"<html>down</html>", {"Content-Type": "text/html"})
    with StubServer(scripted(html, envelope(502, "Bad Gateway"), Resp(504), OK)) as server:
        client = make_client(server.url)
        assert client.list("incident", {}).rows
    assert client.request_count == 4 and len(sleeps) == 3
    assert all(0 < s <= 0.01 for s in sleeps)


def test_400_is_not_retried(make_client: Make) -> None:
    bad = envelope(400, "Invalid table sys_nonexistent", "Table sys_nonexistent does not exist")
    with StubServer(scripted(bad, OK)) as server:
        client = make_client(server.url)
        with pytest.raises(SourceError) as caught:
            client.list("sys_nonexistent", {})
    assert not isinstance(caught.value, AuthError)
    assert "ServiceNow answered 400 Invalid table sys_nonexistent" in str(caught.value)
    assert client.request_count == 1


def test_budget_exhausted_is_a_source_error(make_client: Make, sleeps: list[float]) -> None:
    """fault: every answer is 503; outcome: retried until the next wait would pass the retry
    budget (1.5 s, counted on the clock the waits advance, here a fake one: the count does not
    depend on the machine's speed), then a SourceError naming the attempts and the 503."""
    with StubServer(scripted(Resp(503))) as server:
        client = make_client(server.url, policy=RetryPolicy(budget=1.5, initial=0.05,
                                                            maximum=0.05))
        with pytest.raises(SourceError, match=r"gave up after \d+ attempts.*503"):
            client.list("incident", {})
    assert client.request_count == len(sleeps) + 1  # one attempt more than waits
    assert sum(sleeps) <= 1.5  # no wait ends past the budget ...
    assert all(0.025 <= s <= 0.05 for s in sleeps)  # ... and each is 50-100 % of 0.05 s,
    assert sum(sleeps) > 1.5 - 0.05  # so it stopped only when the next one would have passed it
    assert 31 <= client.request_count <= 61


def test_retry_after_beyond_budget_gives_up_at_once(
    make_client: Make, sleeps: list[float]
) -> None:
    limited = envelope(429, "Rate limit exceeded")
    limited.headers["Retry-After"] = "3600"
    with StubServer(scripted(limited)) as server:
        client = make_client(server.url, policy=RetryPolicy(budget=60, max_retry_after=7200))
        with pytest.raises(SourceError, match="gave up after 1 attempts"):
            client.list("incident", {})
    assert sleeps == []


def test_retry_after_beyond_the_cap_sends_nothing_until_it_is_over(
    make_client: Make, sleeps: list[float]
) -> None:
    """fault: 429 with a Retry-After of an hour, the cap a minute; outcome: no wait, that call
    and every later one refused at once (ThrottledError), nothing more sent."""
    limited = envelope(429, "Rate limit exceeded")
    limited.headers["Retry-After"] = "3600"
    with StubServer(scripted(limited, OK)) as server:
        client = make_client(server.url, policy=RetryPolicy(budget=600, max_retry_after=60))
        for _ in range(2):
            with pytest.raises(ThrottledError, match="more than the 60 s this run waits"):
                client.list("incident", {})
        assert client.request_count == 1
    assert sleeps == []


def test_500_is_retried_once_only(make_client: Make) -> None:
    quota = envelope(500, "Transaction cancelled: maximum execution time exceeded")
    with StubServer(scripted(quota, OK)) as server:
        assert make_client(server.url).list("incident", {}).rows
    with StubServer(scripted(quota)) as server:
        client = make_client(server.url)
        with pytest.raises(SourceError, match="twice: a transaction quota"):
            client.list("incident", {})
    assert client.request_count == 2


def test_reset_and_truncated_bodies_are_retried(make_client: Make) -> None:
    big = Resp(200, {"result": [{"sys_id": str(i)} for i in range(200)]})
    truncated = Resp(200, {"result": [{"sys_id": "x" * 50} for _ in range(50)]},
                     action="truncate")
    with StubServer(scripted(Resp(action="reset"), truncated, big)) as server:
        client = make_client(server.url)
        assert len(client.list("incident", {}).rows) == 200
    assert client.request_count == 3


def test_undecodable_json_is_retried(make_client: Make) -> None:
    broken = Resp(200, b'{"result": [{"sys_id": "a"', {"Content-Type": "application/json"})
    with StubServer(scripted(broken, OK)) as server:
        client = make_client(server.url)
        assert client.list("incident", {}).rows
    assert client.request_count == 2


def test_html_page_on_200_is_a_clear_source_error(make_client: Make) -> None:
    page = Resp(200, b'<html><div class="instance-hibernating-page"><h1>Your instance is '
                b"hibernating</h1></div></html>", {"Content-Type": "text/html; charset=UTF-8"})
    with StubServer(scripted(page)) as server:
        client = make_client(server.url)
        with pytest.raises(SourceError, match=r"HTML page \(hibernating or behind SSO\?\)"):
            client.list("incident", {})
    assert client.request_count == 1


def test_redirect_is_not_followed(make_client: Make) -> None:
    redirect = Resp(302, b"", {"Location": "https://sso.example.com/login"})
    with StubServer(scripted(redirect)) as server:
        with pytest.raises(SourceError, match="redirected to https://sso.example.com/login"):
            make_client(server.url).list("incident", {})
        assert len(server.requests) == 1


def test_401_is_an_auth_error_with_status_and_message(make_client: Make) -> None:
    denied = envelope(401, "User Not Authenticated", "Required to provide Auth information")
    with StubServer(scripted(denied)) as server:
        client = make_client(server.url)
        with pytest.raises(AuthError) as caught:
            client.list("incident", {})
    message = str(caught.value)
    assert message.startswith(
        f"authentication failed for user admin at {server.url}: "
        "ServiceNow answered 401 User Not Authenticated: Required to provide Auth information"
    )
    assert PASSWORD not in message and PASSWORD not in repr(client)
    assert client.request_count == 1  # basic auth: nothing to refresh


def test_403_is_an_auth_error(make_client: Make) -> None:
    denied = envelope(403, "Insufficient rights to query records")
    with StubServer(scripted(denied)) as server, pytest.raises(AuthError, match="403 Insuff"):
        make_client(server.url).list("incident", {})


def test_404_is_an_empty_list_or_none(make_client: Make) -> None:
    missing = envelope(404, "No Record found", "Record doesn't exist or ACL restricts")
    with StubServer(scripted(missing)) as server:
        client = make_client(server.url)
        assert client.list("incident", {}).rows == []
        assert client.get("incident", "abc") is None


def test_network_error_names_url_not_credentials(make_client: Make) -> None:
    with StubServer(scripted(OK)) as server:
        url = server.url
    client = make_client(url, policy=RetryPolicy(budget=0.05, initial=0.01, maximum=0.01),
                         sleep=lambda s: None)
    with pytest.raises(SourceError) as caught:
        client.list("incident", {})
    assert f"GET {url}/api/now/table/incident" in str(caught.value)
    assert "connection refused" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_credentials_in_url_are_refused(make_client: Make) -> None:
    with pytest.raises(ConfigError, match="not in the URL"):
        make_client("https://admin:pw@dev1.service-now.com")


def test_post_with_unknown_outcome_is_not_resent(make_client: Make) -> None:
    with StubServer(scripted(Resp(502), Resp(201, {"result": {"sys_id": "t"}}))) as server:
        client = make_client(server.url)
        with pytest.raises(AmbiguousWriteError):
            client.create("incident_task", {"short_description": "x"})
    assert client.request_count == 1


def test_post_rejected_with_429_is_resent(make_client: Make, sleeps: list[float]) -> None:
    limited = envelope(429, "Rate limit exceeded")
    limited.headers["Retry-After"] = "0"
    with StubServer(scripted(limited, Resp(201, {"result": {"sys_id": "t"}}))) as server:
        client = make_client(server.url)
        assert client.create("incident_task", {"short_description": "x"}) == {"sys_id": "t"}
    assert server.requests[1].json() == {"short_description": "x"}
    assert server.requests[1].headers["Content-Type"] == "application/json"
    assert sleeps == [0.0]


def test_error_object_in_a_200_body_is_a_source_error(make_client: Make) -> None:
    body = Resp(200, {"error": {"message": "Boom", "detail": "bad"}, "status": "failure"})
    with StubServer(scripted(body)) as server, pytest.raises(SourceError, match="Boom: bad"):
        make_client(server.url).list("incident", {})


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_429_pauses_the_whole_client(make_client: Make, fake_time: object) -> None:
    limited = envelope(429, "Rate limit exceeded")
    limited.headers["Retry-After"] = "5"
    slept: list[float] = []

    def short_sleep(seconds: float) -> None:  # another thread's view: only 1 s has passed
        slept.append(seconds)
        fake_time.now += 1  # type: ignore[attr-defined]

    with StubServer(scripted(limited, OK)) as server:
        client = make_client(server.url, sleep=short_sleep, clock=fake_time.clock)  # type: ignore
        client.list("incident", {})
    assert slept == [5.0, 4.0]


def test_retries_are_logged_without_credentials(
    make_client: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="sms_conformance")
    with StubServer(scripted(Resp(503), Resp(action="reset"), OK)) as server:
        make_client(server.url).list("incident", {"sysparm_query": "active=true"})
    assert "503" in caplog.text and "connection" in caplog.text
    assert PASSWORD not in caplog.text and "Basic " not in caplog.text


def test_client_refuses_writes_to_source_tables(make_client: Make) -> None:
    with StubServer(scripted(OK)) as server:
        client = make_client(server.url)
        for table in ("incident", "problem", "change_request"):
            with pytest.raises(ConfigError, match="source table"):
                client.create(table, {"short_description": "x"})
            with pytest.raises(ConfigError, match="source table"):
                client.update(table, "a" * 32, {"state": "7"})
    assert server.requests == []


# -- bounds: what ends a request that would otherwise never end ---------------------------------


def test_error_envelope_next_to_an_empty_result_is_a_source_error(make_client: Make) -> None:
    """fault: HTTP 200 with an error envelope and an empty result; outcome: SourceError, not retried"""
    body = Resp(200, {"error": {"message": "Boom", "detail": None}, "status": "failure",
                      "result": []})
    with StubServer(scripted(body, OK)) as server:
        client = make_client(server.url)
        with pytest.raises(SourceError, match="answered 200 with an error: Boom"):
            client.list("incident", {})
    assert client.request_count == 1


def test_unreachable_instance_is_not_retried(make_client: Make, sleeps: list[float]) -> None:
    """fault: nothing listens at the instance's address; outcome: SourceError after one request"""
    with StubServer(scripted(OK)) as server:
        url = server.url
    client = make_client(url)
    with pytest.raises(SourceError, match="cannot reach the server: connection refused"):
        client.list("incident", {})
    assert client.request_count == 1 and sleeps == []


def test_read_timeout_is_retried(make_client: Make) -> None:
    """fault: an answer slower than the read timeout, once; outcome: retried, the next answer used"""
    answers = iter([0.5, 0.0])

    def slow_then_quick(req: object) -> Resp:
        time.sleep(next(answers, 0.0))
        return OK

    with StubServer(slow_then_quick) as server:
        client = make_client(server.url, timeout=0.1)
        assert client.list("incident", {}).rows == [{"sys_id": "a"}]
    assert client.request_count == 2


def test_declared_oversized_body_is_refused_unread(make_client: Make) -> None:
    """fault: Content-Length above the body cap; outcome: SourceError naming the cap, not retried"""
    big = Resp(200, {"result": [{"sys_id": "a", "description": "x" * 2 * MIB}]})
    with StubServer(scripted(big)) as server:
        client = make_client(server.url, max_body=MIB)
        with pytest.raises(SourceError, match=r"larger than 1 MiB \(source.max_response_mb\)"):
            client.list("incident", {})
    assert client.request_count == 1


def test_more_rows_than_the_limit_is_a_source_error(make_client: Make) -> None:
    """fault: more rows than sysparm_limit asked for; outcome: SourceError"""
    two = Resp(200, {"result": [{"sys_id": "a"}, {"sys_id": "b"}]})
    with StubServer(scripted(two)) as server, pytest.raises(SourceError, match="2 rows for"):
        make_client(server.url).list("incident", {"sysparm_limit": "1"})


def test_no_request_starts_after_the_run_deadline(make_client: Make, fake_time: FakeTime) -> None:
    """fault: the run's scan_timeout has passed; outcome: SourceError naming it, nothing sent"""
    with StubServer(scripted(OK)) as server:
        client = make_client(server.url, scan_timeout=60)
        fake_time.now += 61
        with pytest.raises(SourceError, match=r"limit of 60 s \(source.scan_timeout\)"):
            client.list("incident", {})
    assert server.requests == []


def test_no_retry_waits_past_the_run_deadline(make_client: Make, fake_time: FakeTime) -> None:
    """fault: Retry-After longer than the run has left; outcome: gives up at once, naming scan_timeout"""
    limited = envelope(429, "Rate limit exceeded")
    limited.headers["Retry-After"] = "20"
    with StubServer(scripted(limited, OK)) as server:
        client = make_client(server.url, scan_timeout=10)
        with pytest.raises(SourceError, match=r"429 .*; no time left to retry .*\(source.scan_timeout\)"):
            client.list("incident", {})
    assert client.request_count == 1 and fake_time.sleeps == []
