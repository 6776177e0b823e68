"""Fixtures: one shared sandbox (2000 incidents, seed 7) and helpers to talk to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sms_conformance.sandbox.servicenow import Sandbox

SAMPLES = Path(__file__).parent / "samples"
PASSWORD = "sandbox-test-password"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """Read-only use: tests that write use `fresh_sandbox`."""
    with Sandbox(records=2000, seed=7, password=PASSWORD) as sb:
        yield sb


@pytest.fixture()
def fresh_sandbox() -> Iterator[Sandbox]:
    with Sandbox(records=300, seed=11, password=PASSWORD) as sb:
        yield sb


@pytest.fixture()
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.auth = (sandbox.user, PASSWORD)
        session.headers["Accept"] = "application/json"
        yield session


def read_headers(name: str) -> dict[str, str]:
    """Response headers of a captured sample, lower-cased names (repeated ones dropped)."""
    out: dict[str, str] = {}
    for line in (SAMPLES / name).read_text().splitlines()[2:]:
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out
