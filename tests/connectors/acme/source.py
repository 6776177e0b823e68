"""Acme's one source: two incidents, one prioritised against the matrix."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, ClassVar

from sms_conformance.connectors.base import ConnectorDefaults, FetchRequest
from sms_conformance.connectors.capabilities import Reads
from sms_conformance.connectors.registry import SourceOptions
from sms_conformance.model.records import Record, Ref
from sms_conformance.model.schema import PlatformMap, Process

OPENED = datetime(2026, 10, 1, tzinfo=timezone.utc)
ROWS = [("ACME-1", {"impact": 1, "urgency": 1, "priority": 1}),
        ("ACME-2", {"impact": 3, "urgency": 3, "priority": 1})]  # the matrix says 5


class AcmeConnector(ConnectorDefaults):
    platform, instance = "acme", "acme:test"
    capabilities: ClassVar[frozenset[type]] = frozenset({Reads})

    def __init__(self) -> None:
        self.notices: list[str] = []

    def fetch(self, request: FetchRequest) -> Iterator[Record]:
        if request.process is not Process.INCIDENT:
            return
        for key, fields in ROWS:
            values: dict[str, Any] = {"state": "new", "opened_at": OPENED, "updated_at": OPENED,
                                      "short_description": "printer on fire", **fields}
            yield Record(platform=self.platform, instance=self.instance, process="incident",
                         table="acme/incident", id=key, number=key, url=f"acme:{key}",
                         fields=values)

    def resolve(self, refs: Iterable[Ref], fields: Set[str] | None = None) -> dict[Ref, Record]:
        return {}

    def count_referrers(self, process: Process, field: str, ids: Iterable[str]) -> dict[str, int]:
        return dict.fromkeys(ids, 0)


@contextmanager
def open_acme(options: SourceOptions, platform_map: PlatformMap) -> Iterator[Reads]:
    yield AcmeConnector()
