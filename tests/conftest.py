"""Shared fixtures: the field map, settings, a frozen clock, built records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from sms_conformance.app.settings import load_settings
from sms_conformance.connectors.servicenow.fieldmap import FieldMap, load_field_map
from sms_conformance.model.counts import NAMES, RuleLine
from sms_conformance.model.records import Process, Record
from sms_conformance.model.rows import FindingRow
from sms_conformance.support.redaction import forget

FROZEN_NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _no_credentials_from_earlier_tests() -> Iterator[None]:
    """Credentials are registered process-wide (redaction); a test sees only its own."""
    forget()
    yield
    forget()


@pytest.fixture(scope="session")
def fieldmap() -> FieldMap:
    return load_field_map()


@pytest.fixture(scope="session")
def settings() -> dict[str, Any]:
    return load_settings()


@pytest.fixture(scope="session")
def rules(fieldmap: FieldMap, settings: dict[str, Any]) -> dict[str, Any]:
    """The built-in pack by id (write-back tests)."""
    from sms_conformance.rules.loader import builtin_pack_dir, load_rules

    return {r.id: r for r in load_rules([builtin_pack_dir()], fieldmap, settings)}


@pytest.fixture(scope="session")
def config(settings: dict[str, Any]) -> Any:
    """The shipped write-back settings (write-back tests)."""
    from sms_conformance.writeback.plan import WriteBackSettings

    return WriteBackSettings.from_settings(settings)


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A small sandbox (200 incidents, seed 4) with its credentials in the environment, for the
    write-back tests; tests/sandbox/ has its own shared, read-only one."""
    from sms_conformance.sandbox.servicenow import Sandbox

    with Sandbox(records=200, seed=4) as box:
        monkeypatch.setenv("SERVICENOW_USERNAME", "admin")
        monkeypatch.setenv("SERVICENOW_PASSWORD", box.password)
        yield box


def make_record(process: str, number: str = "INC0000001", record_id: str = "r1",
                **fields: Any) -> Record:
    table = {"incident": "incident", "problem": "problem", "change": "change_request",
             "request": "sc_req_item"}[process]
    return Record(
        platform="servicenow", instance="https://example.test", process=Process(process).value,
        table=table, id=record_id, number=number, url=f"https://example.test/{record_id}",
        fields=fields,
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--reliability-report", metavar="PATH",
                     help="Write the fault and bad-input cases with their outcome (RELIABILITY.md).")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("--reliability-report")
    if path:
        from pathlib import Path

        from tests.reliability import Recorder

        config.pluginmanager.register(Recorder(Path(path)), "reliability-recorder")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--reliability-report"):  # the doc is being written: do not check it
        items[:] = [i for i in items if "test_reliability_doc" not in i.nodeid]


@pytest.fixture(scope="session")
def sn_port(settings: dict[str, Any]) -> Any:
    """The ServiceNow rendering of drafts, from the shipped settings (no instance behind it)."""
    from sms_conformance.connectors.servicenow.tasks import TaskTables
    from sms_conformance.connectors.servicenow.writeback import (
        ServiceNowTaskPort,
        ServiceNowTaskSettings,
    )

    tables = {"incident": "incident", "problem": "problem", "change": "change_request"}
    return ServiceNowTaskPort(TaskTables(None),  # type: ignore[arg-type]
                              ServiceNowTaskSettings.from_settings(settings), "https://x.test",
                              tables)


def rule_lines_of(rows: Any) -> list[RuleLine]:
    """Stored counts written as (rule id, clause, process, severity, title, evaluated, passed,
    failed, errors, waived, unknown) rows, for tests that fill a history store by hand."""
    return [RuleLine(rule_id=r[0], clause=r[1], process=r[2], severity=r[3], title=r[4],
                     **dict(zip(NAMES, r[5:], strict=True))) for r in rows]


def finding_rows_of(rows: Any) -> list[FindingRow]:
    """Findings written as the store's columns (fingerprint, rule id, clause, severity, process,
    table, record id, number, url, message, status, detail, observed JSON, owner, owner id)."""
    return [FindingRow(*r[:12], json.loads(r[12] or "{}"), *r[13:15]) for r in rows]
