"""Fixtures for the Jira connector tests: a fake site on loopback with a few ITSM issues, the
test field map, a connector with fake time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sms_conformance.connectors.http.retry import RetryPolicy
from sms_conformance.connectors.jira.adf import document
from sms_conformance.connectors.jira.auth import CloudAuth, JiraAuth, TokenAuth
from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.jira.connector import JiraConnector
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap, load_jira_field_map
from tests.connectors.conftest import FakeTime
from tests.connectors.jira.fake import CF, EMAIL, PAT, TOKEN, FakeJira, stamp
from tests.connectors.snow_fakes import StubServer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jira"
SAMPLES = Path("/work/shared/reference/jira/samples")
FIELDMAP = FIXTURES / "jira_fieldmap.yaml"


@pytest.fixture(scope="session")
def jira_map() -> JiraFieldMap:
    return load_jira_field_map(FIELDMAP)


def populate(site: FakeJira) -> dict[str, dict[str, Any]]:
    """Two problems, two changes, six incidents, linked as interfaces.md C says."""
    p1 = site.add("10002", "Under investigation", **{CF["Root cause"]: None})
    p2 = site.add("10002", "Closed", resolution={"name": "Done"},
                  **{CF["Root cause"]: document("disk full"), CF["Known error"]: {"value": "Yes"}})
    c1 = site.add("10003", "Closed", **{CF["Change type"]: {"value": "Normal"},
                                          CF["Change risk"]: {"value": "Low"}})
    c2 = site.add("10003", "Implementing", **{CF["Change type"]: {"value": "Emergency"}})
    opened = datetime(2026, 9, 30, 22, 15, 30, 250000, tzinfo=timezone.utc)
    incidents = [
        site.add("10001", "Closed", summary="mail down",
                 description=document("Users cannot send mail.\n\nSince 9:00."),
                 resolutiondate=stamp(opened, "-0800"), resolution={"name": "Done"},
                 priority={"name": "High"},
                 **{CF["Impact"]: {"value": "Extensive / Widespread"},
                    CF["Urgency"]: {"value": "Critical"},
                    CF["Assignment group"]: {"name": "Service desk", "groupId": "g-1"},
                    CF["Affected services"]: [{"id": "svc-7", "name": "Mail"}],
                    CF["Resolution notes"]: document("restarted"),
                    CF["Closed date"]: stamp(opened, "+0100")}),
        site.add("10001", "Work in progress", **{CF["Impact"]: {"value": "Minor / Localized"}}),
        site.add("10001", "Pending", **{CF["Impact"]: {"value": "Significant / Large"}}),
        site.add("10001", "Open", priority={"name": "Lowest"}),
        site.add("10001", "Completed", **{CF["Impact"]: {"value": "Galactic"}}),
        site.add("10001", "Awaiting triage"),
    ]
    site.link("Problem/Incident", p1, incidents[0])
    site.link("Problem/Incident", p1, incidents[1])
    site.link("Fixes", c1, incidents[0])
    site.link("Causes", c2, incidents[2])
    site.link("Fixes", c1, p2)
    return {"p1": p1, "p2": p2, "c1": c1, "c2": c2,
            **{f"i{n}": issue for n, issue in enumerate(incidents, 1)}}


@pytest.fixture
def site() -> Iterator[tuple[FakeJira, StubServer, dict[str, dict[str, Any]]]]:
    fake = FakeJira()
    issues = populate(fake)
    with StubServer(fake.handle) as server:
        yield fake, server, issues


@pytest.fixture
def dc_site() -> Iterator[tuple[FakeJira, StubServer, dict[str, dict[str, Any]]]]:
    fake = FakeJira(deployment="datacenter")
    issues = populate(fake)
    with StubServer(fake.handle) as server:
        yield fake, server, issues


@pytest.fixture
def make_jira(fake_time: FakeTime, jira_map: JiraFieldMap) -> Callable[..., JiraConnector]:
    def make(url: str, auth: JiraAuth | None = None, fieldmap: JiraFieldMap | None = None,
             client_kw: dict[str, Any] | None = None, **kwargs: Any) -> JiraConnector:
        options: dict[str, Any] = {
            "policy": RetryPolicy(budget=30, initial=0.001, maximum=0.01),
            "sleep": fake_time.sleep, "clock": fake_time.clock, "timeout": 5,
            **(client_kw or {}),
        }
        client = JiraClient(url, auth or CloudAuth(EMAIL, SecretStr(TOKEN)), **options)
        return JiraConnector(url, client, fieldmap or jira_map, **kwargs)

    return make


@pytest.fixture
def dc_auth() -> JiraAuth:
    return TokenAuth(SecretStr(PAT))
