"""Fault injection for the sandbox, from a spec string.

Syntax: comma-separated items, each either a fault ``KIND:RATE[@TABLE]`` or an option
``NAME=VALUE``::

    429:0.1@incident,503:0.02,reset:0.01,latency=20ms,retry-after=2,seed=3

KIND: ``429`` (Retry-After header + the documented rate-limit envelope), ``500``, ``502``,
``503``, ``504`` (JSON error envelope), ``reset`` (connection closed without a response),
``truncate`` (200 with half of the JSON body), ``html`` (200 with the hibernating-instance HTML
page, ``Content-Type: text/html``); the Jira sandbox also takes ``errors`` (200 with
``errorMessages`` and no issues), ``bad400`` (a 400 naming nothing of the request),
``stale-token`` (a 400 "invalid or expired" on a search page with a token), ``flood`` (a page
of more issues than ``maxResults``), ``stall`` (an empty page with a fresh token), ``repeat``
(the previous page again, with a fresh token), ``fresh`` (pages after the first of made-up
issues numbered past every key, without end) and ``total50`` / ``total1`` / ``total0`` /
``total-1`` (the legacy search's ``total`` reported as that number). RATE is a probability in
[0, 1]; TABLE limits the fault to one table (the Jira sandbox: a REST resource, ``search``).
Options: ``latency=20ms`` (also ``0.5s`` or plain milliseconds; added to every Table API
request), ``retry-after=N`` (seconds, default 1), ``seed=N`` (default 0), ``throttle-create=N``
(the Nth record or issue create, and every request after it, answered 429 with the
``retry-after``: a site throttling the run from its Nth task create on), ``echo-401=PLACE:FORM``
(a refused login's 401 repeats the credential it was sent: PLACE ``title`` (an HTML page's
title), ``header`` (``X-Seraph-LoginReason``) or ``json`` (the error message); FORM ``pair``
(user:password), ``password``, ``base64`` (the Basic header's) or ``bearer`` (the token)).

Decisions are deterministic given the seed: one draw from ``random.Random(seed)`` per Table API
request, in arrival order. Auth endpoints and ``/sandbox/*`` are never faulted.
"""

from __future__ import annotations

import base64
import binascii
import random
import threading
from dataclasses import dataclass, field

import orjson

from sms_conformance.support.durations import DurationError, parse_duration

# The Jira sandbox's own: a hostile or broken site's search answers (sandbox/jira/server.py).
JIRA_KINDS = ("errors", "bad400", "stale-token", "flood", "stall", "repeat", "fresh",
              "total50", "total1", "total0", "total-1")

KINDS = ("429", "500", "502", "503", "504", "reset", "truncate", "html", *JIRA_KINDS)


@dataclass(frozen=True)
class FaultRule:
    kind: str
    rate: float
    table: str | None = None


@dataclass
class FaultSpec:
    """Parsed fault spec; ``pick(table)`` draws the fault (or None) for one request."""

    rules: list[FaultRule] = field(default_factory=list)
    latency: float = 0.0  # seconds
    retry_after: int = 1
    seed: int = 0
    throttle_create: int = 0  # 0: never
    echo_401: tuple[str, str] | None = None  # (place, form)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._creates = 0

    def throttled(self, create: bool) -> bool:
        """Whether this request is answered 429 (``throttle-create``); `create`: it creates a
        record or an issue."""
        if not self.throttle_create:
            return False
        with self._lock:
            if create and self._creates < self.throttle_create:
                self._creates += 1
            return self._creates >= self.throttle_create

    @classmethod
    def parse(cls, spec: str | None, seed: int | None = None) -> FaultSpec:
        rules: list[FaultRule] = []
        latency, retry_after, spec_seed, throttle_create = 0.0, 1, 0, 0
        echo: tuple[str, str] | None = None
        for raw in (spec or "").split(","):
            item = raw.strip()
            if not item:
                continue
            if "=" in item:
                name, _, value = item.partition("=")
                name = name.strip().lower()
                value = value.strip()
                if name == "latency":
                    latency = _duration(value)
                elif name in ("retry-after", "retry_after"):
                    retry_after = _int(value, name)
                elif name == "seed":
                    spec_seed = _int(value, name)
                elif name in ("throttle-create", "throttle_create"):
                    throttle_create = _int(value, name)
                elif name in ("echo-401", "echo_401"):
                    place, _, form = value.partition(":")
                    if place not in ECHO_PLACES or form not in ECHO_FORMS:
                        raise ValueError(f"echo-401 expects PLACE:FORM with PLACE in "
                                         f"{', '.join(ECHO_PLACES)} and FORM in "
                                         f"{', '.join(ECHO_FORMS)}, got {value!r}")
                    echo = (place, form)
                else:
                    raise ValueError(f"unknown fault option {name!r} in {item!r}")
                continue
            kind, sep, rest = item.partition(":")
            kind = kind.strip().lower()
            if kind not in KINDS or not sep:
                raise ValueError(
                    f"bad fault {item!r}: expected KIND:RATE[@TABLE] with KIND in "
                    f"{', '.join(KINDS)}")
            rate_text, _, table = rest.partition("@")
            try:
                rate = float(rate_text)
            except ValueError:
                raise ValueError(f"bad rate in fault {item!r}") from None
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"rate must be between 0 and 1 in fault {item!r}")
            rules.append(FaultRule(kind, rate, table.strip() or None))
        return cls(rules=rules, latency=latency, retry_after=retry_after,
                   seed=spec_seed if seed is None else seed, throttle_create=throttle_create,
                   echo_401=echo)

    def pick(self, table: str | None) -> str | None:
        """The fault for this request, or None. One random draw per call."""
        if not self.rules:
            return None
        with self._lock:
            x = self._rng.random()
        for rule in self.rules:
            if rule.table is not None and rule.table != table:
                continue
            if x < rule.rate:
                return rule.kind
            x -= rule.rate
        return None

    def __str__(self) -> str:
        parts = [f"{r.kind}:{r.rate:g}" + (f"@{r.table}" if r.table else "") for r in self.rules]
        if self.latency:
            parts.append(f"latency={self.latency * 1000:g}ms")
        if self.retry_after != 1:
            parts.append(f"retry-after={self.retry_after}")
        if self.seed:
            parts.append(f"seed={self.seed}")
        if self.throttle_create:
            parts.append(f"throttle-create={self.throttle_create}")
        if self.echo_401:
            parts.append(f"echo-401={':'.join(self.echo_401)}")
        return ",".join(parts)


ECHO_PLACES = ("title", "header", "json")
ECHO_FORMS = ("pair", "password", "base64", "bearer")


def echoed(authorization: str, form: str) -> str:
    """What of the Authorization header a site echoes in `form`."""
    blob = authorization.partition(" ")[2].strip()
    if form in ("base64", "bearer"):
        return blob
    try:
        pair = base64.b64decode(blob).decode()
    except (binascii.Error, UnicodeDecodeError):
        return blob
    return pair if form == "pair" else pair.partition(":")[2]


def echo_401(authorization: str, place: str, form: str
             ) -> tuple[list[tuple[str, str]], bytes, str]:
    """(headers, body, content type) of a 401 repeating the credential it was sent."""
    text = echoed(authorization, form)
    if place == "title":
        page = (f"<html><head><title>Unauthorized ({text})</title></head>"
                "<body>Login failed</body></html>")
        return [], page.encode(), "text/html;charset=UTF-8"
    headers = ([("X-Seraph-LoginReason", f"AUTHENTICATED_FAILED {text}")]
               if place == "header" else [])
    said = f"Login failed for {text}" if place == "json" else "Login failed"
    body = {"error": {"message": "User Not Authenticated", "detail": said}, "status": "failure",
            "errorMessages": [said], "message": said}
    return headers, orjson.dumps(body), "application/json;charset=UTF-8"


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} expects an integer, got {value!r}") from None


def _duration(value: str) -> float:
    """A latency in seconds: `20ms`, `0.5s`, or a bare number of milliseconds."""
    try:
        return parse_duration(value.lower(), bare="ms").total_seconds()
    except DurationError:
        raise ValueError(f"bad latency {value!r}: use e.g. 20ms or 0.5s") from None


RATE_LIMIT_BODY = {
    "error": {"message": "Rate limit exceeded",
              "detail": "Rate limit of 100 requests per hour for Table API exceeded"},
    "status": "failure",
}
SERVER_ERRORS = {
    "500": ("Internal Server Error", "An unexpected error occurred on the instance"),
    "502": ("Bad Gateway", "The instance did not answer the proxy"),
    "503": ("Service Unavailable", "The instance is temporarily unavailable"),
    "504": ("Gateway Timeout", "The instance did not answer in time"),
}

HIBERNATING_PAGE = """<!DOCTYPE html>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Instance Hibernating page</title>
        <style>
            .instance-hibernating-page {
                max-width: 600px;
                margin: auto;
                padding: 10px;
            }
        </style>
    </head>
    <body>
        <div class="instance-hibernating-page">
            <h1>Your instance is hibernating</h1>
            <img class="resting-image" src="https://sndevstore.blob.core.windows.net/images/Hibernating-page_Resting-Image-Asset.svg" alt="texture_image" width="500" height="300">
            <p class="information">Sign in to the site to wake your instance</p>
            <button onclick="location.href='https://developer.servicenow.com/dev.do#!/home?wu=true';" class ="button-text">Sign in</button>
        </div>
    </body>
</html>
"""  # noqa: E501  (fragments of the real page, see shared/reference samples)
