"""What the Jira connector's companions (the task port, the doctor) read a site through, as a
protocol the connector meets: they import this, never the connector, which imports them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from sms_conformance.connectors.jira.client import JiraClient
from sms_conformance.connectors.jira.fieldmap import JiraFieldMap, ProcessBinding
from sms_conformance.connectors.jira.search import SearchStats
from sms_conformance.model.records import Process

Json = dict[str, Any]


class Site(Protocol):
    """A Jira site as the connector reads it."""

    instance: str
    api: str  # "3" on Cloud, "2" on Data Center
    client: JiraClient
    fieldmap: JiraFieldMap

    def who(self) -> Json:
        """GET myself (once): the credentials proved."""
        ...

    def bindings(self) -> dict[Process, ProcessBinding]:
        ...

    def binding(self, process: Process | str) -> ProcessBinding:
        ...

    def missing_types(self, binding: ProcessBinding) -> str | None:
        ...

    def query(self, binding: ProcessBinding, scopes: Sequence[Mapping[str, tuple[Any, ...]]],
              since: datetime | None, keys: str = "") -> str | None:
        ...

    def search(self, query: str, fields: Sequence[str], stats: SearchStats,
               ranged: Callable[[str], str] | None = None) -> Iterator[Json]:
        ...


def batched(items: Sequence[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
